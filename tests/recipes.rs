//! "Switching from X is a copy": every file under `examples/` passes `hookgate config check`,
//! and each recipe in `examples/recipes/` runs end to end against a receiver written the way that
//! sender's documentation tells its users to (`tests/recipes/receivers.py`): signature scheme and
//! header, extra headers, body shape, test event, retry schedule and `of` count, auto-disable
//! threshold, permanent 4xx where it applies, the delivery log's fields, the regex filter.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use util::*;

const SECRET: &str = "mobieus-secret-f3a9";
/// Standard Webhooks secrets are `whsec_` + base64 of the key bytes.
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Environment every example needs (`${VAR}` without a default), with test values.
const EXAMPLE_ENV: &[(&str, &str)] = &[
    ("BILLING_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("PUBLISH_KEY", "hg_example_publish_key_0000000000000000"),
    (
        "ADMIN_KEY_SHA256",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ),
    ("MOBIEUS_WEBHOOK_SECRET", SECRET),
    (
        "MOBIUS_PAGER_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    (
        "MOBIUS_WAREHOUSE_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ),
    ("MOBARO_WEBHOOK_SECRET", SECRET),
    ("MATHUB_WEBHOOK_SECRET", SECRET),
];

fn examples(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_passes_config_check() {
    let files = [examples("examples"), examples("examples/recipes")].concat();
    assert!(files.len() >= 6, "{files:?}");
    for file in files {
        let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["config", "check"])
            .arg(&file)
            .envs(EXAMPLE_ENV.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", file.display());
    }
}

/// A running recipe: the gateway on loopback with a temp data dir, plain http to the receiver.
struct Recipe {
    _gw: Gateway,
    api: Api,
    recv: Receiver,
    _dir: TestDir,
}

/// Starts `examples/recipes/<name>.yaml` with `urls` (env var → receiver path) pointing at a
/// loopback receiver. Only the machine-specific lines change; each must be there as written.
async fn start(name: &str, urls: &[(&str, &str)]) -> Recipe {
    let recv = Receiver::start().await;
    let dir = TestDir::new();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/recipes/{name}.yaml"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    let data_dir = format!("data_dir: \"{}/data\"", dir.path().display());
    for (from, to) in [
        ("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0"),
        ("data_dir: ./hookgate-data", data_dir.as_str()),
        ("allow_http: false", "allow_http: true"),
        ("allow_private: []", "allow_private: [127.0.0.0/8]"),
    ] {
        assert!(text.contains(from), "{name}: expected `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    cmd.envs(EXAMPLE_ENV.iter().copied());
    for (var, at) in urls {
        cmd.env(var, format!("{}{at}", recv.base));
    }
    let gw = Gateway::start_with(cmd, &path);
    let api = Api::new(&gw);
    Recipe {
        _gw: gw,
        api,
        recv,
        _dir: dir,
    }
}

/// What the sender's documented receiver says of one request: `ok` or the failed check.
fn documented_receiver(sender: &str, secret: &str, got: &Received) -> String {
    let headers: serde_json::Map<String, Value> = (got.headers.iter())
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let input = json!({
        "sender": sender, "secret": secret, "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&got.body),
    });
    python("recipes/receivers.py", &input).1
}

/// Every request received on `path` passes the sender's documented receiver.
fn all_verify(r: &Recipe, sender: &str, path: &str) {
    let secret = if sender == "mobius" { WHSEC } else { SECRET };
    let got = r.recv.got_on(path);
    assert!(!got.is_empty(), "nothing received on {path}");
    for g in &got {
        assert_eq!(documented_receiver(sender, secret, g), "ok", "{g:?}");
    }
}

async fn endpoint(api: &Api, id: &str) -> Value {
    api.get(&format!("/v1/endpoints/{id}")).await.1
}

/// Publishes `n` events of `ty` and waits until the receiver has seen `n` more requests on
/// `path` (each event's first attempt).
async fn publish_and_see(r: &Recipe, ty: &str, path: &str, n: usize) -> Vec<String> {
    let before = r.recv.count(path);
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(r.api.publish_one(ty, json!({"i": i})).await);
    }
    let seen = eventually(Duration::from_secs(20), || r.recv.count(path) >= before + n).await;
    assert!(
        seen,
        "{} of {n} requests on {path}",
        r.recv.count(path) - before
    );
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobieuscore_receivers_verify_and_the_log_reads_like_mobieus() {
    let r = start("mobieuscore", &[("MOBIEUS_RECEIVER_URL", "/mobieus")]).await;
    let data = json!({"post_id": 9182, "title": "Welcome", "author": {"id": 42}});
    let id = r.api.publish_one("post.created", data.clone()).await;
    assert_eq!(
        r.api.wait_status(&id, &["succeeded"]).await["status"],
        "succeeded"
    );
    let (s, _) = r.api.post("/v1/endpoints/mobieus/test", &json!({})).await;
    assert_eq!(s, 202);
    assert!(eventually(Duration::from_secs(10), || r.recv.count("/mobieus") == 2).await);
    all_verify(&r, "mobieuscore", "/mobieus");
    let got = r.recv.got_on("/mobieus");
    assert_eq!(got[0].json()["data"], data);
    assert_eq!(got[1].json()["type"], "webhook.test");
    assert_eq!(
        got.iter()
            .map(|g| g.headers.iter().filter(|(k, _)| k == "user-agent").count())
            .collect::<Vec<_>>(),
        [1, 1],
        "exactly one User-Agent"
    );

    // A failing receiver: attempt 1 of 7, the next one a minute later (±20% jitter), and the
    // delivery row shows status, latency, the response's first bytes and the next attempt.
    r.recv.default_reply("/mobieus", Reply::status(503));
    let failed = r.api.publish_one("post.created", json!({"n": 1})).await;
    let d2 = wait_attempts(&r.api, &failed, 1).await;
    let a = &d2["attempt_log"][0];
    assert_eq!(
        (&a["n"], &a["of"], &a["status_code"]),
        (&json!(1), &json!(7), &json!(503)),
        "{d2}"
    );
    assert!(
        a["latency_ms"].is_u64() && a["response_body"].is_string(),
        "{a}"
    );
    let started = time::OffsetDateTime::parse(
        a["started_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let next = time::OffsetDateTime::parse(
        a["next_attempt_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let gap = (next - started).whole_seconds();
    assert!(
        (47..=73).contains(&gap),
        "next attempt {gap}s after the first: {d2}"
    );
}

/// Polls a delivery until its log has `n` attempts (or 20 s pass); returns it.
async fn wait_attempts(api: &Api, id: &str, n: usize) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, d) = api.get(&format!("/v1/deliveries/{id}")).await;
        let have = d["attempt_log"].as_array().map_or(0, Vec::len);
        if have >= n || std::time::Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobieuscore_disables_after_twenty_consecutive_failures() {
    let r = start("mobieuscore", &[("MOBIEUS_RECEIVER_URL", "/mobieus")]).await;
    r.recv.default_reply("/mobieus", Reply::status(500));
    publish_and_see(&r, "post.created", "/mobieus", 19).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = endpoint(&r.api, "mobieus").await;
    assert_eq!(
        (&e["status"], &e["consecutive_failures"]),
        (&json!("active"), &json!(19)),
        "{e}"
    );
    publish_and_see(&r, "post.created", "/mobieus", 1).await;
    let e = wait_endpoint_status(&r.api, "mobieus", "disabled").await;
    assert_eq!(e["status"], "disabled", "{e}");
}

async fn wait_endpoint_status(api: &Api, id: &str, want: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = endpoint(api, id).await;
        if e["status"] == want || std::time::Instant::now() > deadline {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobius_wildcards_signatures_and_permanent_4xx() {
    let r = start(
        "mobius",
        &[
            ("MOBIUS_PAGER_URL", "/pager"),
            ("MOBIUS_WAREHOUSE_URL", "/warehouse"),
        ],
    )
    .await;
    let (_, v) = r
        .api
        .post(
            "/v1/events",
            &json!({"type": "run.failed", "data": {"run": 1}}),
        )
        .await;
    assert_eq!(
        v["deliveries"].as_array().unwrap().len(),
        2,
        "pager and warehouse: {v}"
    );
    let (_, v) = r
        .api
        .post(
            "/v1/events",
            &json!({"type": "run.completed", "data": {"run": 2}}),
        )
        .await;
    assert_eq!(
        v["deliveries"].as_array().unwrap().len(),
        1,
        "warehouse only: {v}"
    );
    assert!(eventually(Duration::from_secs(10), || r.recv.count("/warehouse") == 2).await);
    all_verify(&r, "mobius", "/pager");
    all_verify(&r, "mobius", "/warehouse");

    // 400 is permanent: dead after one attempt. 429 is retried, 5 s later, of 11.
    r.recv.default_reply("/pager", Reply::status(400));
    let (_, v) = r
        .api
        .post("/v1/events", &json!({"type": "run.failed", "data": {}}))
        .await;
    let pager = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == "pager")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = r.api.wait_status(&pager, &["dead"]).await;
    assert_eq!(
        (&d["status"], &d["attempts"]),
        (&json!("dead"), &json!(1)),
        "{d}"
    );
    r.recv.default_reply("/warehouse", Reply::status(429));
    let id = r.api.publish_one("run.started", json!({})).await;
    let d = wait_attempts(&r.api, &id, 1).await;
    assert_eq!(
        (&d["status"], &d["attempt_log"][0]["of"]),
        (&json!("pending"), &json!(11)),
        "{d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobaro_filters_by_regex_and_sends_the_lightweight_payload() {
    let r = start("mobaro", &[("MOBARO_RECEIVER_URL", "/users")]).await;
    let by_id = r
        .api
        .publish_one("users.updated", json!({"id": "17b5a981-c3df", "name": "x"}))
        .await;
    let by_name = r
        .api
        .publish_one("users.created", json!({"id": "a1", "name": "Ride Ops"}))
        .await;
    let neither = r
        .api
        .publish_one("users.deleted", json!({"id": "a2", "name": "Other"}))
        .await;
    for id in [&by_id, &by_name] {
        assert_eq!(
            r.api.wait_status(id, &["succeeded"]).await["status"],
            "succeeded"
        );
    }
    assert_eq!(
        r.api.wait_status(&neither, &["filtered"]).await["status"],
        "filtered"
    );
    all_verify(&r, "mobaro", "/users");
    let got = r.recv.got_on("/users");
    assert_eq!(got.len(), 2);
    assert_eq!(
        (
            &got[0].json()["resource"],
            &got[0].json()["event"],
            &got[0].json()["objectId"]
        ),
        (&json!("Users"), &json!("Updated"), &json!("17b5a981-c3df"))
    );
    assert_eq!(got[0].header("x-api-gateway-key"), Some("replace-me"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mathub_headers_body_test_event_and_disable_after_ten() {
    let r = start("mathub", &[("MATHUB_RECEIVER_URL", "/webhook")]).await;
    let id = r
        .api
        .publish_one(
            "mention",
            json!({"postId": "p1", "body": "Hey @math-prover"}),
        )
        .await;
    assert_eq!(
        r.api.wait_status(&id, &["succeeded"]).await["status"],
        "succeeded"
    );
    let (s, _) = r
        .api
        .post("/v1/endpoints/math-prover/test", &json!({}))
        .await;
    assert_eq!(s, 202);
    assert!(eventually(Duration::from_secs(10), || r.recv.count("/webhook") == 2).await);
    all_verify(&r, "mathub", "/webhook");
    assert_eq!(r.recv.got_on("/webhook")[0].json()["data"]["postId"], "p1");

    // The delivery history: the last 50, newest first.
    let (_, list) = r
        .api
        .get("/v1/endpoints/math-prover/deliveries?limit=50")
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2, "{list}");

    r.recv.default_reply("/webhook", Reply::status(500));
    publish_and_see(&r, "mention", "/webhook", 9).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(endpoint(&r.api, "math-prover").await["status"], "active");
    publish_and_see(&r, "mention", "/webhook", 1).await;
    let e = wait_endpoint_status(&r.api, "math-prover", "disabled").await;
    assert_eq!(e["status"], "disabled", "{e}");
    // Re-enabling resets the counter.
    let (s, _) = r
        .api
        .post("/v1/endpoints/math-prover/enable", &json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        endpoint(&r.api, "math-prover").await["consecutive_failures"],
        0
    );
}
