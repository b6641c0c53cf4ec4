//! Per-endpoint delivery policy on a real gateway: each endpoint is retried on its own
//! schedule, counts "attempt n of m" from it, is disabled at its own threshold and fails fast
//! on 4xx only when it says so; the endpoint API creates, patches and shows the policy.

mod util;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::*;

/// Endpoint `id` posting to `{{RECV}}/{id}`, for events `{id}.*`, with `policy` (a YAML flow
/// mapping) as its own `delivery:`.
fn endpoint(id: &str, policy: &str) -> String {
    format!(
        "  - id: {id}\n    url: \"{{{{RECV}}}}/{id}\"\n    events: [{id}.*]\n    delivery: {policy}\n"
    )
}

async fn start(endpoints: &[String], recv: &Receiver, dir: &TestDir) -> (Gateway, Api) {
    let yaml = base_config(&format!("endpoints:\n{}", endpoints.concat()));
    let gw = Gateway::start(&dir.write_config(&yaml, &recv.base));
    let api = Api::new(&gw);
    (gw, api)
}

/// Publishes one `{ep}.x` event and returns its one delivery id.
async fn publish(api: &Api, ep: &str) -> String {
    let (s, v) = api
        .post(
            "/v1/events",
            &json!({"type": format!("{ep}.x"), "data": {}}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    v["deliveries"][0]["id"]
        .as_str()
        .expect("one delivery")
        .to_string()
}

/// The delivery once it is no longer pending (or after 15 s, whatever it is then).
async fn settled(api: &Api, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, d) = api.get(&format!("/v1/deliveries/{id}")).await;
        if d["status"] != "pending" || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(n, of)` of every attempt in the log.
fn counts(d: &Value) -> Vec<(u64, u64)> {
    let log = d["attempt_log"].as_array().expect("attempt_log");
    log.iter()
        .map(|a| (a["n"].as_u64().unwrap(), a["of"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_endpoint_follows_its_own_schedule_and_threshold() {
    let recv = Receiver::start().await;
    recv.default_reply("/short", Reply::status(500));
    recv.default_reply("/long", Reply::status(500));
    let dir = TestDir::new();
    let eps = [
        endpoint(
            "short",
            "{ retry_schedule: [200ms], auto_disable_after: 2 }",
        ),
        endpoint(
            "long",
            "{ retry_schedule: [50ms, 50ms, 50ms], auto_disable_after: 5 }",
        ),
    ];
    let (_gw, api) = start(&eps, &recv, &dir).await;
    let (short, long) = (publish(&api, "short").await, publish(&api, "long").await);

    let d = settled(&api, &short).await;
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(counts(&d), [(1, 2), (2, 2)]);
    let got = recv.got_on("/short");
    assert!(got[1].at.duration_since(got[0].at) >= Duration::from_millis(190));
    let d = settled(&api, &long).await;
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(counts(&d), [(1, 4), (2, 4), (3, 4), (4, 4)]);

    let (_, ep) = api.get("/v1/endpoints/short").await;
    assert_eq!(
        (ep["status"].as_str(), ep["consecutive_failures"].as_u64()),
        (Some("disabled"), Some(2)),
        "{ep}"
    );
    let (_, ep) = api.get("/v1/endpoints/long").await;
    assert_eq!(
        (ep["status"].as_str(), ep["consecutive_failures"].as_u64()),
        (Some("active"), Some(4)),
        "below its threshold of 5: {ep}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_fast_on_4xx_is_per_endpoint() {
    let recv = Receiver::start().await;
    recv.default_reply("/strict", Reply::status(400));
    recv.default_reply("/lenient", Reply::status(400));
    let dir = TestDir::new();
    let eps = [
        endpoint("strict", "{ fail_fast_4xx: true }"),
        endpoint("lenient", "{ timeout: 2s }"),
    ];
    let (_gw, api) = start(&eps, &recv, &dir).await;
    let (strict, lenient) = (
        publish(&api, "strict").await,
        publish(&api, "lenient").await,
    );

    let d = settled(&api, &strict).await;
    assert_eq!(
        (d["status"].as_str(), counts(&d)),
        (Some("dead"), vec![(1, 4)])
    );
    // The global block's schedule (three retries) and fail_fast_4xx: false.
    let d = settled(&api, &lenient).await;
    assert_eq!(d["status"], "dead", "{d}");
    assert_eq!(counts(&d).len(), 4, "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_api_creates_patches_and_shows_the_policy() {
    let recv = Receiver::start().await;
    recv.default_reply("/api", Reply::status(503));
    let dir = TestDir::new();
    let (_gw, api) = start(&[], &recv, &dir).await;
    let policy = json!({"retry_schedule": ["100ms"], "timeout": "2s"});
    let (s, v) = api
        .post(
            "/v1/endpoints",
            &json!({"id": "api", "url": format!("{}/api", recv.base), "delivery": policy}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["delivery"], policy);

    let patch = json!({"delivery": {"timeout": "5s", "fail_fast_4xx": true}});
    let (s, v) = api.send("PATCH", "/v1/endpoints/api", Some(&patch)).await;
    assert_eq!(s, 200, "{v}");
    let merged = json!({"retry_schedule": ["100ms"], "timeout": "5s", "fail_fast_4xx": true});
    assert_eq!(v["delivery"], merged);

    let bad = json!({"delivery": {"retry_schedule": ["1m", "later"]}});
    let (s, v) = api.send("PATCH", "/v1/endpoints/api", Some(&bad)).await;
    assert_eq!(
        (s, v["code"].as_str()),
        (422, Some("invalid_endpoint")),
        "{v}"
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("delivery.retry_schedule[1]: expected a duration"),
        "{v}"
    );
    let (_, v) = api.get("/v1/endpoints/api").await;
    assert_eq!(v["delivery"], merged, "a refused patch changes nothing");

    // A delivery counts "of" from the endpoint's own schedule: one retry, so two attempts.
    let (s, v) = api.post("/v1/endpoints/api/test", &json!({})).await;
    assert_eq!(s, 202, "{v}");
    let d = settled(&api, v["delivery_id"].as_str().unwrap()).await;
    assert_eq!(counts(&d), [(1, 2), (2, 2)], "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_wide_keys_are_refused_under_an_endpoint_by_the_api() {
    let recv = Receiver::start().await;
    let dir = TestDir::new();
    let (_gw, api) = start(&[], &recv, &dir).await;
    let body = json!({"id": "x", "url": format!("{}/x", recv.base),
        "delivery": {"max_in_flight": 4}});
    let (s, v) = api.post("/v1/endpoints", &body).await;
    assert_eq!(s, 422, "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("delivery.max_in_flight: `max_in_flight` applies to the whole gateway"),
        "{v}"
    );
    assert_eq!(api.get("/v1/endpoints/x").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_global_block_reaches_the_fields_an_endpoint_does_not_set() {
    let recv = Receiver::start().await;
    recv.default_reply("/inherit", Reply::status(500));
    recv.default_reply("/own", Reply::status(500));
    let dir = TestDir::new();
    let eps = [
        endpoint("inherit", "{ timeout: 2s }"),
        endpoint("own", "{ retry_schedule: [50ms] }"),
    ];
    let (gw, api) = start(&eps, &recv, &dir).await;
    let yaml = base_config(&format!("endpoints:\n{}", eps.concat())).replace(
        "retry_schedule: [100ms, 200ms, 300ms]",
        "retry_schedule: [50ms, 50ms]",
    );
    dir.write_config_at(&gw.config, &yaml, &recv.base);
    assert!(gw.wait_log("config reloaded", Duration::from_secs(10)));

    let d = settled(&api, &publish(&api, "inherit").await).await;
    assert_eq!(
        counts(&d),
        [(1, 3), (2, 3), (3, 3)],
        "the new global schedule"
    );
    let d = settled(&api, &publish(&api, "own").await).await;
    assert_eq!(counts(&d), [(1, 2), (2, 2)], "its own schedule");
}
