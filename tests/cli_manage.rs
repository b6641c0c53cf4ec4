//! The client CLI against the real gateway: each management verb reaches the API, prints a
//! table (or `--json`), and exits non-zero with the server's problem code on errors.

mod util;

use std::process::{Command, Output};

use serde_json::Value;
use util::*;

const ADMIN: &str = "hg_admin_key_for_cli_tests";

fn cli(gw: &Gateway, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(args)
        .env("HOOKGATE_URL", format!("http://{}", gw.addr))
        .env("HOOKGATE_API_KEY", ADMIN)
        .output()
        .expect("run hookgate")
}

fn ok(gw: &Gateway, args: &[&str]) -> String {
    let out = cli(gw, args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_verbs_round_trip_through_the_api() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let cfg = dir.write_config(
        &base_config(&format!(
            "auth:\n  api_keys:\n    - name: root\n      key: {ADMIN}\n      scopes: [admin]\n"
        )),
        &recv.base,
    );
    let gw = Gateway::start(&cfg);
    let url = format!("{}/c", recv.base);

    let created = ok(
        &gw,
        &[
            "endpoints",
            "create",
            "--id",
            "c1",
            "--url",
            &url,
            "--events",
            "a.*,b.x",
            "--header",
            "X-Team=core",
        ],
    );
    assert!(
        created.contains("whsec_"),
        "the secret is shown once: {created}"
    );
    let table = ok(&gw, &["endpoints", "list"]);
    assert!(table.contains("c1") && table.contains(&url), "{table}");
    let json: Value =
        serde_json::from_str(&ok(&gw, &["endpoints", "get", "c1", "--json"])).unwrap();
    assert_eq!(json["events"], serde_json::json!(["a.*", "b.x"]));
    assert_eq!(json["headers"], serde_json::json!(["X-Team"]));

    // A refused change exits non-zero with the server's code and changes nothing.
    let out = cli(
        &gw,
        &[
            "endpoints",
            "update",
            "c1",
            "--url",
            "http://169.254.169.254/x",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ssrf_blocked"), "{err}");
    let json: Value =
        serde_json::from_str(&ok(&gw, &["endpoints", "get", "c1", "--json"])).unwrap();
    assert_eq!(json["url"], url.as_str());

    ok(&gw, &["endpoints", "update", "c1", "--events", "a.*"]);
    let rotated = ok(&gw, &["endpoints", "rotate-secret", "c1", "--grace", "1h"]);
    assert!(rotated.contains("whsec_"), "{rotated}");
    let sent = ok(&gw, &["endpoints", "test", "c1"]);
    assert!(sent.contains("del_"), "{sent}");
    assert!(eventually(std::time::Duration::from_secs(10), || recv.count("/c") == 1).await);
    let listed = ok(&gw, &["deliveries", "list", "--endpoint", "c1"]);
    assert!(listed.contains("del_"), "{listed}");

    let key = ok(
        &gw,
        &[
            "keys",
            "create",
            "--name",
            "reader",
            "--scope",
            "events:read",
            "--tenant",
            "acme",
        ],
    );
    assert!(key.contains("hg_"), "{key}");
    let keys = ok(&gw, &["keys", "list"]);
    assert!(keys.contains("reader") && keys.contains("root"), "{keys}");
    let audit = ok(&gw, &["audit"]);
    for action in ["endpoint.create", "endpoint.rotate_secret", "key.create"] {
        assert!(audit.contains(action), "{audit}");
    }
    let stats = ok(&gw, &["stats"]);
    assert!(stats.contains("c1"), "{stats}");
    ok(&gw, &["endpoints", "delete", "c1"]);
    let out = cli(&gw, &["endpoints", "get", "c1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_found"));

    let bash = ok(&gw, &["completions", "bash"]);
    assert!(bash.contains("endpoints") && bash.contains("rotate-secret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_policy_flags_reach_the_endpoint() {
    let dir = TestDir::new();
    let recv = Receiver::start().await;
    let keys = format!(
        "auth:\n  api_keys:\n    - name: root\n      key: {ADMIN}\n      scopes: [admin]\n"
    );
    let gw = Gateway::start(&dir.write_config(&base_config(&keys), &recv.base));
    let url = format!("{}/p", recv.base);
    let get = |gw: &Gateway| -> Value {
        serde_json::from_str(&ok(gw, &["endpoints", "get", "p1", "--json"])).unwrap()
    };

    #[rustfmt::skip]
    ok(&gw, &["endpoints", "create", "--id", "p1", "--url", &url, "--timeout", "5s",
        "--retry-schedule", "1m,5m,1h", "--jitter", "0.1", "--auto-disable-after", "10",
        "--fail-fast-4xx", "--retry-after-cap", "1h"]);
    let policy = serde_json::json!({"timeout": "5s", "retry_schedule": ["1m", "5m", "1h"],
        "jitter": 0.1, "auto_disable_after": 10, "fail_fast_4xx": true, "retry_after_cap": "1h"});
    assert_eq!(get(&gw)["delivery"], policy);

    ok(
        &gw,
        &[
            "endpoints",
            "update",
            "p1",
            "--timeout",
            "2s",
            "--fail-fast-4xx=false",
        ],
    );
    let d = &get(&gw)["delivery"];
    assert_eq!(
        (d["timeout"].as_str(), d["fail_fast_4xx"].as_bool()),
        (Some("2s"), Some(false))
    );
    assert_eq!(
        d["retry_schedule"], policy["retry_schedule"],
        "untouched fields stay"
    );
    let shown = ok(&gw, &["endpoints", "get", "p1"]);
    assert!(shown.contains("timeout 2s"), "{shown}");

    // A bad value exits 2 before sending; a gateway-wide key is the server's 422.
    let out = cli(&gw, &["endpoints", "update", "p1", "--jitter", "2"]);
    assert_eq!(out.status.code(), Some(2));
    let from = dir.path().join("policy.json");
    std::fs::write(&from, r#"{"delivery": {"shutdown_grace": "1s"}}"#).unwrap();
    let out = cli(
        &gw,
        &[
            "endpoints",
            "update",
            "p1",
            "--from",
            from.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("delivery.shutdown_grace") && err.contains("invalid_endpoint"),
        "{err}"
    );
    assert_eq!(
        get(&gw)["delivery"]["timeout"],
        "2s",
        "a refused update changes nothing"
    );
}
