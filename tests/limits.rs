//! Per-endpoint delivery rules: strict FIFO ordering, the rate limit, and auto-disable after
//! consecutive failures (with re-enable through the API).

mod util;

use std::time::Duration;

use serde_json::json;
use util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifo_keeps_publish_order_through_retries() {
    let recv = Receiver::start().await;
    // The head fails twice: a FIFO endpoint must not deliver anything behind it meanwhile.
    recv.script("/fifo", vec![Reply::status(500), Reply::status(500)]);
    let t = TestDir::new();
    let yaml =
        base_config("endpoints:\n  - id: fifo\n    url: \"{{RECV}}/fifo\"\n    ordering: fifo\n");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let s = api.publish_numbered("o.x", 10).await;
    assert_eq!(s, 202);
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/fifo") == 12).await,
        "got {}",
        recv.count("/fifo")
    );
    let order: Vec<i64> = recv
        .got_on("/fifo")
        .iter()
        .map(|r| r.json()["data"]["i"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_spreads_deliveries() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let yaml = base_config("endpoints:\n  - id: r\n    url: \"{{RECV}}/r\"\n    rate: 10/s\n");
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    assert_eq!(api.publish_numbered("r.x", 25).await, 202);
    assert!(eventually(Duration::from_secs(10), || recv.count("/r") == 25).await);
    let got = recv.got_on("/r");
    // A full bucket of 10, then 15 more at 10/s: the last cannot come before ~1.5 s.
    let span = got[24].at.duration_since(got[0].at);
    assert!(
        span >= Duration::from_millis(1400),
        "25 deliveries at 10/s took only {span:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_failures_disable_and_enable_resets() {
    let recv = Receiver::start().await;
    recv.default_reply("/bad", Reply::status(500));
    let t = TestDir::new();
    let yaml = base_config("endpoints:\n  - id: bad\n    url: \"{{RECV}}/bad\"\n")
        .replace("auto_disable_after: 0", "auto_disable_after: 3")
        .replace(
            "retry_schedule: [100ms, 200ms, 300ms]",
            "retry_schedule: [50ms, 50ms, 50ms, 50ms, 50ms]",
        );
    let gw = Gateway::start(&t.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    let (_, v) = api
        .post("/v1/events", &json!({"type": "b.x", "data": {}}))
        .await;
    let del = v["deliveries"][0]["id"].as_str().unwrap().to_string();
    let mut disabled = false;
    for _ in 0..200 {
        let (_, ep) = api.get("/v1/endpoints/bad").await;
        if ep["status"] == "disabled" {
            assert_eq!(ep["consecutive_failures"], 3);
            assert!(ep["disabled_reason"]
                .as_str()
                .unwrap()
                .contains("3 consecutive"));
            disabled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(disabled, "endpoint was not auto-disabled");
    assert!(gw.wait_log("endpoint disabled", Duration::from_secs(5)));
    // Disabled: the pending delivery waits, no more attempts are made.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(recv.count("/bad"), 3);
    let (_, d) = api.get(&format!("/v1/deliveries/{del}")).await;
    assert_eq!(d["status"], "pending");

    // Re-enable: the streak resets and the delivery resumes (and now succeeds).
    recv.default_reply("/bad", Reply::status(200));
    let (s, ep) = api.post("/v1/endpoints/bad/enable", &json!({})).await;
    assert_eq!(s, 200, "{ep}");
    assert_eq!(ep["status"], "active");
    assert_eq!(ep["consecutive_failures"], 0);
    assert!(eventually(Duration::from_secs(5), || recv.count("/bad") == 4).await);
}
