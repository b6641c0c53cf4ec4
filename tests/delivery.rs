//! End-to-end delivery through the real binary: fan-out, signatures (checked by an independent
//! Python verifier and by `hookgate verify`), failure handling, isolation of slow endpoints.

mod util;

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use util::*;

const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn python_verifies(
    r: &Received,
    scheme: &str,
    secret: &str,
    header: Option<&str>,
    prefix: Option<&str>,
) -> bool {
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let input = json!({
        "scheme": scheme, "secret": secret, "headers": headers,
        "body_b64": base64::engine::general_purpose::STANDARD.encode(&r.body),
        "header": header, "prefix": prefix,
    });
    python("verify_webhook.py", &input).0
}

fn cli_verifies(r: &Received, scheme: &str, secret: &str, dir: &std::path::Path) -> bool {
    let body = dir.join("body.bin");
    std::fs::write(&body, &r.body).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookgate"));
    cmd.args(["verify", "--scheme", scheme, "--secret", secret, "--body"])
        .arg(&body);
    for (k, v) in &r.headers {
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    cmd.output().unwrap().status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_exactly_the_matching_endpoints_signed() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let cfg = t.write_config(
        &base_config(&format!(
            r#"endpoints:
  - id: all
    url: "{{{{RECV}}}}/all"
    secret: "{STD_SECRET}"
  - id: invoices
    url: "{{{{RECV}}}}/invoice"
    events: [invoice.*]
    secret: stripe_secret_1
    signature: {{ scheme: stripe }}
  - id: posts
    url: "{{{{RECV}}}}/post"
    events: [post.created]
    secret: gh_secret
    signature: {{ scheme: github }}
    headers: {{ X-Team: billing, X-Event-Id: "{{{{event.id}}}}" }}
  - id: mathub
    url: "{{{{RECV}}}}/mathub"
    events: [post.created]
    secret: mathub_secret
    signature: {{ scheme: github, header: X-Mathub-Signature, prefix: "" }}
  - id: acme-all
    tenant: acme
    url: "{{{{RECV}}}}/acme"
    events: ["*"]
    secret: "{STD_SECRET}"
"#
        )),
        &recv.base,
    );
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let mut ids = Vec::new();
    for (ty, tenant) in [
        ("invoice.paid", None),
        ("post.created", None),
        ("run.done", None),
        ("invoice.paid", Some("acme")),
    ] {
        let mut body = json!({"type": ty, "data": {"n": 1, "text": "héllo"}});
        if let Some(t) = tenant {
            body["tenant"] = json!(t);
        }
        let (status, v) = api.post("/v1/events", &body).await;
        assert_eq!(status, 202, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    assert!(
        eventually(Duration::from_secs(10), || recv.got().len() >= 7).await,
        "got {:?}",
        recv.got().len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recv.count("/all"), 3);
    assert_eq!(recv.count("/invoice"), 1);
    assert_eq!(recv.count("/post"), 1);
    assert_eq!(recv.count("/mathub"), 1);
    assert_eq!(recv.count("/acme"), 1);
    assert_eq!(recv.got().len(), 7, "nothing else was delivered");

    let all_types: Vec<String> = recv
        .got_on("/all")
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_string())
        .collect();
    assert!(all_types.contains(&"run.done".to_string()));
    assert_eq!(recv.got_on("/acme")[0].json()["id"], json!(ids[3]));
    assert_eq!(recv.got_on("/invoice")[0].json()["id"], json!(ids[0]));

    for r in recv.got() {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("Hookgate/"));
        let body = r.json();
        assert_eq!(body["data"], json!({"n": 1, "text": "héllo"}));
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "envelope is id,type,timestamp,data: {body}");
    }
    for r in recv
        .got_on("/all")
        .iter()
        .chain(recv.got_on("/acme").iter())
    {
        assert_eq!(r.header("webhook-id"), r.json()["id"].as_str());
        assert!(python_verifies(r, "standard", STD_SECRET, None, None));
        assert!(!python_verifies(
            r,
            "standard",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            None
        ));
        assert!(cli_verifies(r, "standard", STD_SECRET, t.path()));
        assert!(!cli_verifies(
            r,
            "standard",
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            t.path()
        ));
    }
    let inv = &recv.got_on("/invoice")[0];
    assert!(inv.header("webhook-signature").unwrap().starts_with("t="));
    assert!(python_verifies(
        inv,
        "stripe",
        "stripe_secret_1",
        None,
        None
    ));
    assert!(!python_verifies(inv, "stripe", "other", None, None));
    assert!(cli_verifies(inv, "stripe", "stripe_secret_1", t.path()));
    let post = &recv.got_on("/post")[0];
    assert!(python_verifies(post, "github", "gh_secret", None, None));
    assert_eq!(post.header("x-team"), Some("billing"));
    assert_eq!(post.header("x-event-id"), Some(ids[1].as_str()));
    let mh = &recv.got_on("/mathub")[0];
    assert!(python_verifies(
        mh,
        "github",
        "mathub_secret",
        Some("x-mathub-signature"),
        Some("")
    ));
    assert!(mh.header("x-hub-signature-256").is_none());

    // The delivery log shows the exact headers and body sent.
    let (_, ev) = api.get(&format!("/v1/events/{}", ids[1])).await;
    let del = ev["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["endpoint_id"] == "posts")
        .unwrap();
    let (_, d) = api
        .get(&format!("/v1/deliveries/{}", del["id"].as_str().unwrap()))
        .await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["body"].as_str().unwrap().as_bytes(), post.body.as_slice());
    let sent = &d["attempt_log"][0]["request"]["headers"];
    let sig = sent
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "x-hub-signature-256")
        .unwrap();
    assert_eq!(sig[1].as_str(), post.header("x-hub-signature-256"));
    assert_eq!(d["attempt_log"][0]["status_code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receivers_get_the_documented_behaviour() {
    let recv = Receiver::start().await;
    let (reset_base, reset_hits) = reset_server().await;
    recv.script("/flaky", vec![Reply::status(500), Reply::status(503)]);
    // A receiver bouncing us to the cloud metadata service: never followed.
    recv.default_reply(
        "/redirect",
        Reply::status(302).header("location", "http://169.254.169.254/latest/meta-data/"),
    );
    recv.default_reply("/gone", Reply::status(410));
    recv.script(
        "/limited",
        vec![Reply::status(429).header("retry-after", "1")],
    );
    recv.script("/slow", vec![Reply::sleep(Duration::from_secs(3))]);
    let t = TestDir::new();
    let mk =
        |id: &str, url: String| format!("  - id: {id}\n    url: \"{url}\"\n    events: [{id}.*]\n");
    let yaml = base_config(&format!(
        "endpoints:\n{}{}{}{}{}{}",
        mk("flaky", "{{RECV}}/flaky".into()),
        mk("redirect", "{{RECV}}/redirect".into()),
        mk("gone", "{{RECV}}/gone".into()),
        mk("limited", "{{RECV}}/limited".into()),
        mk("slow", "{{RECV}}/slow".into()),
        mk("reset", format!("{reset_base}/reset")),
    ));
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let mut del = std::collections::HashMap::new();
    for ep in ["flaky", "redirect", "gone", "limited", "slow", "reset"] {
        let (s, v) = api
            .post(
                "/v1/events",
                &json!({"type": format!("{ep}.x"), "data": {"ep": ep}}),
            )
            .await;
        assert_eq!(s, 202);
        assert_eq!(v["deliveries"].as_array().unwrap().len(), 1, "{ep}: {v}");
        del.insert(ep, v["deliveries"][0]["id"].as_str().unwrap().to_string());
    }
    let status_of = |d: Value| d["status"].as_str().unwrap_or("").to_string();
    let wait_final = |ep: &'static str| {
        let api = &api;
        let id = del[ep].clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                let (_, d) = api.get(&format!("/v1/deliveries/{id}")).await;
                let st = d["status"].as_str().unwrap_or("").to_string();
                if st != "pending" || std::time::Instant::now() > deadline {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // 500, 503, then 200: three attempts, same id and byte-identical body.
    let d = wait_final("flaky").await;
    assert_eq!(status_of(d.clone()), "succeeded");
    assert_eq!(d["attempts"], 3);
    let got = recv.got_on("/flaky");
    assert_eq!(got.len(), 3);
    assert!(got
        .iter()
        .all(|r| r.body == got[0].body && r.header("webhook-id") == got[0].header("webhook-id")));
    assert_eq!(d["attempt_log"][0]["status_code"], 500);
    assert!(d["attempt_log"][0]["next_attempt_at"].is_string());

    // 3xx is a failure, never followed; after the schedule (1 + 3 retries) it is dead.
    let d = wait_final("redirect").await;
    assert_eq!(status_of(d.clone()), "dead");
    assert_eq!(d["attempts"], 4);
    // Had it been followed, the guard would have refused 169.254.169.254 and the attempt would
    // carry that error and no status: it records the 302 itself.
    assert_eq!(d["attempt_log"][0]["status_code"], 302, "{d}");
    assert!(d["attempt_log"][0]["error"].is_null(), "{d}");

    // 410 disables the endpoint at once; new events no longer fan out to it.
    let d = wait_final("gone").await;
    assert_eq!(status_of(d.clone()), "dead");
    assert_eq!(d["attempts"], 1);
    let (_, ep) = api.get("/v1/endpoints/gone").await;
    assert_eq!(ep["status"], "disabled", "{ep}");
    let (_, v) = api
        .post("/v1/events", &json!({"type": "gone.x", "data": {}}))
        .await;
    assert_eq!(v["deliveries"].as_array().unwrap().len(), 0);

    // 429 with Retry-After: 1 waits at least a second though the schedule says 100 ms.
    let d = wait_final("limited").await;
    assert_eq!(status_of(d.clone()), "succeeded");
    let got = recv.got_on("/limited");
    assert_eq!(got.len(), 2);
    assert!(got[1].at.duration_since(got[0].at) >= Duration::from_millis(950));

    // A receiver slower than the 1 s timeout: attempt 1 times out, attempt 2 succeeds.
    let d = wait_final("slow").await;
    assert_eq!(status_of(d.clone()), "succeeded");
    assert!(
        d["attempt_log"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{d}"
    );

    // Connection reset every time: errors recorded, dead after the schedule.
    let d = wait_final("reset").await;
    assert_eq!(status_of(d.clone()), "dead");
    assert_eq!(*reset_hits.lock().unwrap(), 4);
    assert!(d["attempt_log"][0]["status_code"].is_null());
    assert!(d["attempt_log"][0]["error"].as_str().unwrap().len() > 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_delay_a_healthy_one() {
    let recv = Receiver::start().await;
    recv.default_reply("/slow", Reply::sleep(Duration::from_secs(5)));
    let t = TestDir::new();
    let yaml = base_config(
        r#"endpoints:
  - id: slow
    url: "{{RECV}}/slow"
    max_in_flight: 4
  - id: fast
    url: "{{RECV}}/fast"
"#,
    )
    .replace("timeout: 1s", "timeout: 4s");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let s = api.publish_numbered("x.y", 100).await;
    assert_eq!(s, 202);
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/fast") == 100).await,
        "fast got {}",
        recv.count("/fast")
    );
    // All 100 reached the healthy endpoint while the slow one still holds its first 4.
    assert!(recv.count("/slow") <= 4, "slow got {}", recv.count("/slow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ids_are_acknowledged_once_and_delivered_once() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config("endpoints:\n  - id: a\n    url: \"{{RECV}}/a\"\n");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let (s1, v1) = api
        .post(
            "/v1/events",
            &json!({"type": "a.b", "id": "order-42", "data": {"v": 1}}),
        )
        .await;
    let (s2, v2) = api
        .post(
            "/v1/events",
            &json!({"type": "a.b", "id": "order-42", "data": {"v": 2}}),
        )
        .await;
    assert_eq!((s1, s2), (202, 200));
    assert_eq!(v1, v2, "the second answer is the original");
    assert!(eventually(Duration::from_secs(5), || recv.count("/a") == 1).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(recv.count("/a"), 1);
    assert_eq!(recv.got_on("/a")[0].json()["data"], json!({"v": 1}));
}

/// The `User-Agent` values a request carried, one per header line the receiver saw.
fn user_agents(r: &Received) -> Vec<&str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_user_agent_replaces_the_default_one() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config(
        "endpoints:\n  - id: custom\n    url: \"{{RECV}}/custom\"\n    headers: { User-Agent: \"Acme-Hooks/2.1\" }\n  - id: plain\n    url: \"{{RECV}}/plain\"\n",
    );
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let (s, v) = Api::new(&gw)
        .post("/v1/events", &json!({"type": "ua.x", "data": {}}))
        .await;
    assert_eq!(s, 202, "{v}");
    assert!(eventually(Duration::from_secs(10), || recv.got().len() == 2).await);
    assert_eq!(user_agents(&recv.got_on("/custom")[0]), ["Acme-Hooks/2.1"]);
    let plain = recv.got_on("/plain");
    assert_eq!(user_agents(&plain[0]).len(), 1);
    assert!(user_agents(&plain[0])[0].starts_with("Hookgate/"));
}
