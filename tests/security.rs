//! Outbound security through the real binary: the SSRF guard at config load and on every
//! attempt, secrets sealed at rest, and no secret or API key in the logs.

mod util;

use std::net::ToSocketAddrs;
use std::time::Duration;

use serde_json::json;
use util::*;

const ADMIN_KEY: &str = "hg_admin_key_for_security_test_1234";
const CONFIGURED_SECRET: &str = "configured_secret_value_abcdef";

/// A host name (not `localhost` or `localhost.localdomain`, which the static check blocks by
/// name) that the system resolver maps to loopback, so only the attempt-time DNS vetting can
/// stop it.
fn loopback_name() -> String {
    let candidates = ["vm", "runsc", "ip6-localhost"];
    let mut names: Vec<String> = candidates.iter().map(|s| s.to_string()).collect();
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        names.push(h.trim().to_string());
    }
    names
        .into_iter()
        .find(|n| {
            (n.as_str(), 80)
                .to_socket_addrs()
                .map(|mut a| a.any(|a| a.ip().is_loopback()))
                .unwrap_or(false)
        })
        .expect("this machine has no non-`localhost` name resolving to loopback (checked /etc/hosts names and the hostname)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_the_database_file_or_the_logs() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config(&format!(
        r#"auth:
  api_keys:
    - {{ name: admin, key: "{ADMIN_KEY}", scopes: [admin] }}
endpoints:
  - id: generated
    url: "{{{{RECV}}}}/gen"
  - id: configured
    url: "{{{{RECV}}}}/conf"
    secret: "{CONFIGURED_SECRET}"
"#
    ));
    let cfg = t.write_config(&yaml, &recv.base);
    let mut gw = Gateway::start(&cfg);
    let api = Api::new(&gw).with_key(ADMIN_KEY);
    for i in 0..5 {
        assert_eq!(
            api.post("/v1/events", &json!({"type": "s.x", "data": {"i": i}}))
                .await
                .0,
            202
        );
    }
    assert!(eventually(Duration::from_secs(10), || recv.got().len() == 10).await);
    let (s, v) = api.get("/v1/endpoints/generated/secret").await;
    assert_eq!(s, 200);
    let generated = v["secrets"][0].as_str().unwrap().to_string();
    assert!(generated.starts_with("whsec_") && generated.len() > 40);
    assert!(gw.terminate().success());

    // The database file holds no secret in clear.
    let db = std::fs::read(t.path().join("data/hookgate.redb")).unwrap();
    let contains = |needle: &str| db.windows(needle.len()).any(|w| w == needle.as_bytes());
    for secret in [
        generated.as_str(),
        &generated["whsec_".len()..],
        CONFIGURED_SECRET,
        ADMIN_KEY,
    ] {
        assert!(
            !contains(secret),
            "a secret is in the database file in clear"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.path().join("data/master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // After a restart the sealed secret opens again: the same secret keeps signing.
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw).with_key(ADMIN_KEY);
    let (_, v) = api.get("/v1/endpoints/generated/secret").await;
    assert_eq!(v["secrets"][0].as_str(), Some(generated.as_str()));

    // No log line of either run contains a secret or the API key.
    let logs = gw.logs();
    for secret in [generated.as_str(), CONFIGURED_SECRET, ADMIN_KEY] {
        assert!(!logs.contains(secret), "a secret appears in the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_to_a_name_resolving_to_loopback_are_blocked_and_retried() {
    let recv = Receiver::start().await;
    let port = recv.base.rsplit(':').next().unwrap().to_string();
    let name = loopback_name();
    let t = TestDir::new();
    // allow_private is empty: the static check passes (a name, not an address), the resolver
    // must refuse at attempt time.
    let yaml = base_config(&format!(
        "endpoints:\n  - id: sneaky\n    url: \"http://{name}:{port}/sneaky\"\n"
    ))
    .replace("  allow_private: [127.0.0.0/8]\n", "");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let (s, v) = api
        .post("/v1/events", &json!({"type": "s.x", "data": {}}))
        .await;
    assert_eq!(s, 202);
    let del = v["deliveries"][0]["id"].as_str().unwrap().to_string();
    let mut attempt = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, d) = api.get(&format!("/v1/deliveries/{del}")).await;
        if d["attempts"].as_u64().unwrap_or(0) >= 2 {
            attempt = d;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let err = attempt["attempt_log"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        err.contains("blocked") && err.contains("loopback"),
        "attempt error: {attempt}"
    );
    assert!(
        attempt["attempt_log"][0]["next_attempt_at"].is_string(),
        "blocked attempts follow the retry schedule"
    );
    assert_eq!(
        recv.count("/sneaky"),
        0,
        "the receiver must never be reached"
    );
}

#[test]
fn config_check_refuses_private_addresses_naming_the_rule() {
    let t = TestDir::new();
    let yaml = "network:\n  allow_http: true\nendpoints:\n  - id: meta\n    url: http://169.254.169.254/latest/meta-data/\n";
    let cfg = t.write_config(yaml, "");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("hookgate.yaml:5:10: endpoints[0].url"),
        "{msg}"
    );
    assert!(
        msg.contains("169.254.0.0/16") && msg.contains("ssrf_blocked"),
        "{msg}"
    );
}

/// Well-known internal names are refused when an endpoint is registered, by `config check` and
/// by the endpoint API alike, with `ssrf_blocked` and the rule — not only at the first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_names_are_refused_at_registration() {
    let urls = [
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            "metadata-name",
        ),
        ("http://metadata/", "metadata-name"),
        ("http://instance-data/latest/", "metadata-name"),
        ("http://localhost.localdomain/", "localhost-name"),
        ("http://billing.corp.internal/", "internal-name *.internal"),
        ("http://printer.local/", "internal-name *.local"),
        ("http://nas.home.arpa/", "internal-name home.arpa"),
    ];
    let t = TestDir::new();
    for (url, rule) in urls {
        let yaml =
            format!("network:\n  allow_http: true\nendpoints:\n  - id: inner\n    url: {url}\n");
        let cfg = t.write_config(&yaml, "");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["config", "check"])
            .arg(&cfg)
            .output()
            .unwrap();
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} passed config check");
        assert!(
            msg.contains("endpoints[0].url") && msg.contains(rule) && msg.contains("ssrf_blocked"),
            "{url}: {msg}"
        );
    }

    let gw = Gateway::start(&t.write_config(
        &base_config("").replace("  allow_private: [127.0.0.0/8]\n", ""),
        "",
    ));
    let api = Api::new(&gw);
    for (url, rule) in urls {
        let (s, v) = api
            .post("/v1/endpoints", &json!({"id": "inner", "url": url}))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("ssrf_blocked")),
            "{url}: {v}"
        );
        assert!(v["detail"].as_str().unwrap().contains(rule), "{url}: {v}");
    }
    let (_, list) = api.get("/v1/endpoints").await;
    assert_eq!(list["data"], json!([]), "nothing was registered");
}
