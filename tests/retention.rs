//! Retention: finished deliveries and their events go once their time is up, pending ones stay
//! however old, the file stops growing once pruning is in steady state, and a crash in the
//! middle of pruning loses nothing and pruning carries on after the restart.

mod util;

use std::time::Duration;

use serde_json::{json, Value};
use util::*;

/// One endpoint that succeeds (`ok.*`) and one that fails with a retry an hour away, so its
/// delivery stays pending; everything finished is kept one second.
fn config() -> String {
    base_config(
        r#"retention:
  succeeded: 1s
  dead: 1s
  filtered: 1s
  cancelled: 1s
endpoints:
  - id: ok
    url: "{{RECV}}/ok"
    events: ["ok.*"]
  - id: stuck
    url: "{{RECV}}/stuck"
    events: ["stuck.*"]
    delivery:
      retry_schedule: [1h]
"#,
    )
}

/// Publishes `n` events of about 1 KiB to `ok` in batches of 500.
async fn publish_round(api: &Api, round: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for b in 0..n.div_ceil(500) {
        let events: Vec<Value> = (0..500.min(n - b * 500))
            .map(|i| {
                let id = format!("r{round}-{b}-{i}");
                ids.push(id.clone());
                json!({"type": "ok.x", "id": id, "data": {"pad": "x".repeat(1000)}})
            })
            .collect();
        let (s, v) = api
            .post("/v1/events/batch", &json!({ "events": events }))
            .await;
        assert!(s == 202 || s == 200, "{s} {v}");
    }
    ids
}

/// Rows of `kind` in the store, from `/v1/stats`.
async fn rows(api: &Api, kind: &str) -> u64 {
    let (s, v) = api.get("/v1/stats").await;
    assert_eq!(s, 200, "{v}");
    v["storage"]["rows"][kind]
        .as_u64()
        .expect("storage.rows in /v1/stats")
}

async fn wait_rows(api: &Api, kind: &str, want: u64) -> bool {
    for _ in 0..300 {
        if rows(api, kind).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn file_size(t: &TestDir) -> u64 {
    std::fs::metadata(t.path().join("data/hookgate.redb"))
        .unwrap()
        .len()
}

/// A delivery that is still pending, and the event it needs.
async fn a_pending_delivery(api: &Api, recv: &Receiver) -> (String, String) {
    let (s, v) = api
        .post("/v1/events", &json!({"type": "stuck.x", "data": {}}))
        .await;
    assert_eq!(s, 202, "{v}");
    let id = v["deliveries"][0]["id"].as_str().unwrap().to_string();
    let event = v["id"].as_str().unwrap().to_string();
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/stuck") >= 1).await,
        "the stuck delivery was never attempted"
    );
    (id, event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_rows_are_gone_pending_ones_stay_and_the_file_stops_growing() {
    let recv = Receiver::start().await;
    recv.default_reply("/stuck", Reply::status(500));
    let t = TestDir::new();
    let cfg = t.write_config(&config(), &recv.base);
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let (pending, pending_event) = a_pending_delivery(&api, &recv).await;

    let per_round = 2_000;
    let mut sizes = Vec::new();
    let mut first_round = None;
    for round in 0..5 {
        let ids = publish_round(&api, round, per_round).await;
        let want = (round + 1) * per_round;
        assert!(
            eventually(Duration::from_secs(60), || recv.count("/ok") >= want).await,
            "round {round}: {} of {want} delivered",
            recv.count("/ok")
        );
        // Everything finished goes; the one pending delivery and its event stay.
        assert!(
            wait_rows(&api, "deliveries", 1).await,
            "round {round} was not pruned"
        );
        assert!(wait_rows(&api, "events", 1).await);
        assert_eq!(
            rows(&api, "attempts").await,
            1,
            "only the pending one's attempt"
        );
        sizes.push(file_size(&t));
        first_round.get_or_insert(ids);
    }

    let first_event = &first_round.unwrap()[0];
    let (s, _) = api.get(&format!("/v1/events/{first_event}")).await;
    assert_eq!(s, 404, "a pruned event is gone");
    let (_, listing) = api.get("/v1/endpoints/ok/deliveries").await;
    assert_eq!(
        listing["data"].as_array().map(Vec::len),
        Some(0),
        "{listing}"
    );

    let (s, d) = api.get(&format!("/v1/deliveries/{pending}")).await;
    assert_eq!((s, d["status"].as_str()), (200, Some("pending")), "{d}");
    assert_eq!(d["expires_at"], Value::Null);
    let (s, _) = api.get(&format!("/v1/events/{pending_event}")).await;
    assert_eq!(s, 200, "the event a pending delivery needs stays");

    let (first, last) = (sizes[0], *sizes.last().unwrap());
    println!("file size after each round: {sizes:?}");
    assert!(
        (last as f64) <= 1.2 * first as f64,
        "the file kept growing: {sizes:?}"
    );
}

/// A finished delivery says when it goes, and after that it and its event answer 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_delivery_answers_404() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let cfg = t.write_config(&config(), &recv.base);
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let id = api.publish_one("ok.x", json!({})).await;
    let d = api.wait_status(&id, &["succeeded"]).await;
    assert!(
        d["expires_at"].is_string(),
        "a finished delivery says when it goes: {d}"
    );
    let event = d["event_id"].as_str().unwrap().to_string();
    let mut gone = false;
    for _ in 0..100 {
        if api.get(&format!("/v1/deliveries/{id}")).await.0 == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the delivery was not pruned");
    assert_eq!(api.get(&format!("/v1/events/{event}")).await.0, 404);
}

/// A metric's value from `/metrics` (0 when absent).
async fn metric(gw: &Gateway, name: &str) -> f64 {
    metric_with(gw, None, name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_pruning_loses_nothing_and_pruning_resumes() {
    let recv = Receiver::start().await;
    recv.default_reply("/stuck", Reply::status(500));
    let t = TestDir::new();
    // Kept a few seconds, so a large backlog expires at once after the publishes.
    let yaml = config().replace("succeeded: 1s", "succeeded: 4s");
    let cfg = t.write_config(&yaml, &recv.base);
    let mut gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let (pending, _) = a_pending_delivery(&api, &recv).await;
    let n = 12_000;
    publish_round(&api, 0, n).await;
    assert!(eventually(Duration::from_secs(90), || recv.count("/ok") >= n).await);

    let pruned = "hookgate_pruned_total{kind=\"deliveries\"}";
    let mut at_kill = 0;
    for _ in 0..600 {
        if metric(&gw, pruned).await > 0.0 {
            at_kill = rows(&api, "deliveries").await;
            gw.kill9();
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        at_kill > 1,
        "the kill did not land while pruning ({at_kill} rows left)"
    );
    println!("killed with {at_kill} of {} deliveries left", n + 1);

    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let (s, d) = api.get(&format!("/v1/deliveries/{pending}")).await;
    assert_eq!((s, d["status"].as_str()), (200, Some("pending")), "{d}");
    assert!(
        wait_rows(&api, "deliveries", 1).await,
        "pruning did not resume"
    );
    assert!(
        metric(&gw, pruned).await > 0.0,
        "the restarted gateway pruned"
    );
    assert_eq!(rows(&api, "events").await, 1);
}
