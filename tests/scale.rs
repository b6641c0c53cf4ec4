//! Scale: a gateway with many endpoints delivers to each of them without memory per endpoint
//! beyond its small, fixed state. (Speed at scale is measured by `hookgate bench endpoints`,
//! never here.)

mod util;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use util::*;

/// Endpoints in the test: enough that a per-endpoint buffer of a few KiB shows.
const ENDPOINTS: usize = 20_000;
/// The gateway's peak RSS may not pass this. Measured 2026-12-02 on the debug build: 167 MiB
/// peak (endpoints, 1,024 attempts in flight with their connections, the 20,000-delivery
/// publish answer). A regression to per-endpoint buffers of 4 KiB (80 MiB here) or a task or
/// connection per endpoint goes past it.
const RSS_BOUND_MIB: f64 = 240.0;

fn config(n: usize) -> String {
    let mut yaml = String::from("endpoints:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - id: ep{i}\n    url: \"{{{{RECV}}}}/ep{i}\"\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n    events: [own.e{i}, all.hands]\n"
        ));
    }
    base_config(&yaml)
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_endpoints_each_get_their_delivery_in_bounded_memory() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let gw = Gateway::start(&t.write_config(&config(ENDPOINTS), &recv.base));
    let api = Api::new(&gw);
    let (status, body) = api
        .post(
            "/v1/events",
            &json!({"type": "all.hands", "data": {"n": 1}}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"].as_array().map(Vec::len), Some(ENDPOINTS));
    let delivered = eventually(Duration::from_secs(300), || recv.total() >= ENDPOINTS).await;
    let paths: HashSet<String> = recv.got().into_iter().map(|r| r.path).collect();
    assert!(delivered, "{} of {ENDPOINTS} delivered", paths.len());
    assert_eq!(
        paths.len(),
        ENDPOINTS,
        "every endpoint got exactly its own delivery"
    );
    // An event for one endpoint still goes to that one only.
    let (status, body) = api
        .post("/v1/events", &json!({"type": "own.e12345", "data": {}}))
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"][0]["endpoint_id"], "ep12345");
    assert!(eventually(Duration::from_secs(30), || recv.count("/ep12345") == 2).await);
    let rss = peak_rss_mib(gw.child.id());
    assert!(
        rss < RSS_BOUND_MIB,
        "gateway peak RSS {rss:.1} MiB with {ENDPOINTS} endpoints (bound {RSS_BOUND_MIB} MiB)"
    );
    eprintln!("peak RSS with {ENDPOINTS} endpoints after delivering to all: {rss:.1} MiB");
}
