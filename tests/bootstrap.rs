//! First access to a gateway with no API key, through the real binary: only the one-time
//! bootstrap token gets in, never through a proxy, and only until a key exists.

mod util;

use std::time::Duration;

use serde_json::{json, Value};
use util::*;

/// A gateway configured without any key (the `auth:` of the embedded default).
fn keyless(t: &TestDir) -> Gateway {
    Gateway::start(&t.write_config(&base_config(""), ""))
}

fn token_of(gw: &Gateway) -> String {
    gw.bootstrap_token()
        .expect("a gateway without keys writes its bootstrap token")
}

fn admin_key_body() -> Value {
    json!({"name": "first", "scopes": ["admin"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_key_are_refused_with_how_to_authenticate() {
    let t = TestDir::new();
    let gw = keyless(&t);
    let token = token_of(&gw);
    let anon = Api::anonymous(&gw);
    for (method, path, body) in [
        ("POST", "/v1/keys", Some(admin_key_body())),
        ("GET", "/v1/keys", None),
        ("GET", "/v1/events", None),
        ("GET", "/v1/endpoints", None),
    ] {
        let (s, v) = anon.send(method, path, body.as_ref()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (401, Some("unauthorized")),
            "{method} {path}: {v}"
        );
        let detail = v["detail"].as_str().unwrap();
        assert!(
            detail.contains("bootstrap token") && detail.contains("Authorization: Bearer"),
            "{detail}"
        );
        assert!(
            !v.to_string().contains(&token),
            "the answer echoes the token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_proxy_headers_never_get_bootstrap_access() {
    let t = TestDir::new();
    let gw = keyless(&t);
    let token = token_of(&gw);
    let http = reqwest::Client::new();
    let proxied = [
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7;proto=https"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "hooks.example.com"),
        ("via", "1.1 proxy"),
    ];
    for (name, value) in proxied {
        for with_token in [false, true] {
            for (method, path) in [("POST", "/v1/keys"), ("GET", "/v1/keys")] {
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let mut req = http.request(m, gw.url(path)).header(name, value);
                if method == "POST" {
                    req = req.json(&admin_key_body());
                }
                if with_token {
                    req = req.bearer_auth(&token);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let v: Value = resp.json().await.unwrap();
                assert_eq!(
                    (status, v["code"].as_str()),
                    (401, Some("unauthorized")),
                    "{method} {path} with {name} (token: {with_token}): {v}"
                );
                assert!(!v.to_string().contains(&token));
            }
        }
    }
    // The same token without a proxy header is let in, and shows that nothing was minted.
    let (s, v) = Api::new(&gw).get("/v1/keys").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_works_until_the_first_key_is_minted_and_not_after() {
    let t = TestDir::new();
    let gw = keyless(&t);
    let token = token_of(&gw);
    let file = t.path().join("data/bootstrap.token");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the token file is the owner's only");
    }
    let boot = Api::new_at(&gw.url("")).with_key(&token);
    assert_eq!(boot.get("/v1/keys").await.0, 200);
    let (s, v) = boot.post("/v1/keys", &admin_key_body()).await;
    assert_eq!(s, 201, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    assert_eq!(v["created_by"], "bootstrap");

    // From the first key on, the token is refused everywhere and its file is gone.
    for (method, path, body) in [
        ("GET", "/v1/keys", None),
        ("POST", "/v1/keys", Some(admin_key_body())),
        ("GET", "/v1/events", None),
    ] {
        let (s, v) = boot.send(method, path, body.as_ref()).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (401, Some("unauthorized")),
            "{method} {path}"
        );
    }
    assert!(!file.exists(), "the token file outlived bootstrap mode");
    assert_eq!(Api::anonymous(&gw).get("/v1/keys").await.0, 401);
    let (s, v) = Api::new_at(&gw.url(""))
        .with_key(&key)
        .get("/v1/keys")
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["data"].as_array().unwrap().len(),
        1,
        "only the one key was minted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_added_to_the_config_end_bootstrap_on_reload() {
    const ROOT: &str = "hg_root_key_for_bootstrap_reload_test";
    let t = TestDir::new();
    let cfg = t.write_config(&base_config(""), "");
    let gw = Gateway::start(&cfg);
    let boot = Api::new_at(&gw.url("")).with_key(&token_of(&gw));
    assert_eq!(boot.get("/v1/endpoints").await.0, 200);

    let keyed = base_config(&format!(
        "auth:\n  api_keys:\n    - {{ name: root, key: \"{ROOT}\", scopes: [admin] }}\n"
    ));
    assert!(gw.wait_log("watching config file", Duration::from_secs(10)));
    t.write_config_at(&cfg, &keyed, "");
    assert!(
        gw.wait_log("config reloaded", Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    let (s, v) = boot.get("/v1/endpoints").await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    assert!(!t.path().join("data/bootstrap.token").exists());
    assert_eq!(
        Api::new_at(&gw.url(""))
            .with_key(ROOT)
            .get("/v1/endpoints")
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_started_with_config_keys_has_no_bootstrap() {
    const ROOT: &str = "hg_root_key_for_bootstrap_config_test";
    let t = TestDir::new();
    // A token file left over from an earlier keyless run must not be honoured or kept.
    std::fs::create_dir_all(t.path().join("data")).unwrap();
    std::fs::write(t.path().join("data/bootstrap.token"), "hgboot_stale").unwrap();
    let yaml = base_config(&format!(
        "auth:\n  api_keys:\n    - {{ name: root, key: \"{ROOT}\", scopes: [admin] }}\n"
    ));
    let gw = Gateway::start(&t.write_config(&yaml, ""));
    assert!(gw.bootstrap.is_none(), "no bootstrap line: {}", gw.logs());
    assert!(!t.path().join("data/bootstrap.token").exists());
    let (s, v) = Api::anonymous(&gw).get("/v1/keys").await;
    assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")));
    assert_eq!(
        v["detail"].as_str(),
        Some("missing Authorization: Bearer <key>")
    );
    let (s, _) = Api::new_at(&gw.url(""))
        .with_key("hgboot_stale")
        .get("/v1/keys")
        .await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_key_keeps_bootstrap_off_after_a_restart() {
    let t = TestDir::new();
    let cfg = t.write_config(&base_config(""), "");
    let mut gw = Gateway::start(&cfg);
    let (s, v) = Api::new(&gw).post("/v1/keys", &admin_key_body()).await;
    assert_eq!(s, 201, "{v}");
    let key = v["key"].as_str().unwrap().to_string();
    assert!(gw.terminate().success());

    let gw = Gateway::start(&cfg);
    assert!(gw.bootstrap.is_none(), "bootstrap came back: {}", gw.logs());
    assert!(!t.path().join("data/bootstrap.token").exists());
    assert_eq!(Api::anonymous(&gw).get("/v1/keys").await.0, 401);
    assert_eq!(
        Api::new_at(&gw.url(""))
            .with_key(&key)
            .get("/v1/keys")
            .await
            .0,
        200
    );
}

/// `hookgate keys create` on the gateway's host needs no `--key`: it finds the token in the
/// data dir, says so, and the key it mints ends bootstrap for the next command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_uses_the_token_file_of_a_loopback_gateway() {
    let t = TestDir::new();
    let gw = keyless(&t);
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(args)
            .env("HOOKGATE_URL", gw.url(""))
            .env("HOOKGATE_DATA_DIR", t.path().join("data"))
            .env_remove("HOOKGATE_API_KEY")
            .output()
            .unwrap()
    };
    let out = cli(&["keys", "create", "--name", "admin", "--scope", "admin"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("key: hg_"), "{stdout}");
    assert!(stderr.contains("bootstrap token"), "{stderr}");

    let out = cli(&["keys", "list"]);
    assert!(!out.status.success(), "the token outlived the first key");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(unauthorized)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
