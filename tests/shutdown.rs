//! SIGTERM on the real binary: HTTP stops first, then scheduling; an attempt in flight
//! finishes within the grace and its outcome is in the store when it closes.

mod util;

use std::time::Duration;

use serde_json::json;
use util::*;

const PUB: &str = "hg_test_shutdown_publisher_0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_in_order_and_the_attempt_in_flight_is_recorded() {
    let recv = Receiver::start().await;
    recv.default_reply("/slow", Reply::sleep(Duration::from_millis(700)));
    let t = TestDir::new();
    let yaml = base_config(&format!(
        r#"auth:
  api_keys:
    - {{ name: publisher, key: "{PUB}", scopes: [events:publish, events:read] }}
endpoints:
  - id: slow
    url: "{{{{RECV}}}}/slow"
"#
    ));
    let cfg = t.write_config(&yaml, &recv.base);
    let mut gw = Gateway::start(&cfg);
    let id = Api::new(&gw)
        .with_key(PUB)
        .publish_one("t.a", json!({}))
        .await;
    assert!(eventually(Duration::from_secs(10), || recv.count("/slow") == 1).await);

    // The receiver is still holding the request back: the attempt is in flight.
    assert!(gw.terminate().success(), "{}", gw.logs());
    let logs = gw.logs();
    let at = |needle: &str| {
        let line = logs.lines().position(|l| l.contains(needle));
        line.unwrap_or_else(|| panic!("no {needle:?} in:\n{logs}"))
    };
    let order = [
        at("shutting down: no new requests"),
        at("shutting down: no new attempts"),
        at("waiting for attempts in flight"),
        at("hookgate::app: stopped"),
    ];
    assert!(order.is_sorted(), "{order:?}:\n{logs}");
    assert!(!logs.contains("shutdown grace over"), "{logs}");

    // After a restart the delivery is done and not tried again.
    let gw = Gateway::start(&cfg);
    let (_, d) = Api::new(&gw)
        .with_key(PUB)
        .get(&format!("/v1/deliveries/{id}"))
        .await;
    assert_eq!(d["status"], "succeeded", "{d}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recv.count("/slow"), 1);
}
