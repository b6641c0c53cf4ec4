//! At-least-once across crashes: publish continuously, `kill -9` the gateway mid-delivery several
//! times, restart; every acknowledged event id must reach the receiver.

mod util;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use util::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_kill_9() {
    let recv = Receiver::start().await;
    // A little receiver latency keeps deliveries in flight when the kill lands.
    recv.default_reply("/c", Reply::sleep(Duration::from_millis(3)));
    let t = TestDir::new();
    let yaml = base_config("endpoints:\n  - id: c\n    url: \"{{RECV}}/c\"\n");
    let cfg = t.write_config(&yaml, &recv.base);
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let kill_after = [
        Duration::from_millis(400),
        Duration::from_millis(650),
        Duration::from_millis(300),
    ];
    for (round, wait) in kill_after.iter().enumerate() {
        let mut gw = Gateway::start(&cfg);
        let acked_before = acked.lock().unwrap().len();
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for task in 0..4 {
            let base = gw.url("/v1/events");
            let token = gw
                .bootstrap_token()
                .expect("a keyless gateway has a bootstrap token");
            let (stop, acked) = (stop.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(2))
                    .build()
                    .unwrap();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("crash-{round}-{task}-{i}");
                    i += 1;
                    let r = http
                        .post(&base)
                        .bearer_auth(&token)
                        .json(&json!({"type": "c.x", "id": id, "data": {"i": i}}))
                        .send()
                        .await;
                    match r {
                        Ok(resp) if resp.status().is_success() => {
                            acked.lock().unwrap().insert(id);
                        }
                        Ok(resp) => panic!("unexpected {}", resp.status()),
                        Err(_) => break, // the gateway died: this request was never acknowledged
                    }
                }
            }));
        }
        tokio::time::sleep(*wait).await;
        // On a slow or loaded machine, give each round time to acknowledge its share (at least
        // 40 events, at most 10 s more) so the final count means something on any machine.
        let enough = || acked.lock().unwrap().len() >= acked_before + 40;
        eventually(Duration::from_secs(10), enough).await;
        gw.kill9();
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
    }
    let gw = Gateway::start(&cfg);
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "the test published too little to mean anything: {}",
        acked.len()
    );
    let all_arrived = eventually(Duration::from_secs(60), || {
        let got: HashSet<String> = recv
            .got_on("/c")
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect();
        acked.is_subset(&got)
    })
    .await;
    let got = recv.got_on("/c");
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *per_id
            .entry(r.json()["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !per_id.contains_key(*id))
        .collect();
    assert!(
        all_arrived && missing.is_empty(),
        "{} acknowledged events never arrived: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let duplicates = got.len() - per_id.len();
    println!(
        "crash test: {} acknowledged, {} received ({} unique), {} duplicates, 3 kill -9",
        acked.len(),
        got.len(),
        per_id.len(),
        duplicates
    );
    // Nothing half-written is visible: every acknowledged event reads back whole.
    let api = Api::new(&gw);
    for id in acked.iter().take(50) {
        let (s, v) = api.get(&format!("/v1/events/{id}")).await;
        assert_eq!(s, 200, "{id}");
        assert_eq!(v["deliveries"].as_array().unwrap().len(), 1, "{v}");
    }
}
