//! Hot reload while events flow: add, change and remove endpoints by editing the file; a broken
//! edit is reported and changes nothing; no acknowledged event is lost.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use util::*;

fn config(endpoints: &str) -> String {
    base_config(&format!("endpoints:\n{endpoints}")).replace(
        "retry_schedule: [100ms, 200ms, 300ms]",
        "retry_schedule: [2s, 2s, 2s]",
    )
}

const A: &str = "  - id: a\n    url: \"{{RECV}}/a\"\n";
const A2: &str = "  - id: a\n    url: \"{{RECV}}/a\"\n    headers: { X-Version: \"2\" }\n";
const B: &str = "  - id: b\n    url: \"{{RECV}}/b\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_change_with_the_file_while_events_flow() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let cfg = t.write_config(&config(A), &recv.base);
    let gw = Gateway::start(&cfg);

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let publisher = {
        let (stop, acked, url) = (stop.clone(), acked.clone(), gw.url("/v1/events"));
        let token = gw
            .bootstrap_token()
            .expect("a keyless gateway has a bootstrap token");
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"type": "r.x", "data": {"i": i}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 202);
                let v: Value = r.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push(v["id"].as_str().unwrap().to_string());
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    assert!(eventually(Duration::from_secs(5), || recv.count("/a") > 5).await);

    // Add b.
    t.write_config_at(&cfg, &config(&format!("{A}{B}")), &recv.base);
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/b") > 5).await,
        "b never received: {}",
        gw.logs()
    );

    // Change a: the new header applies from the next attempt.
    t.write_config_at(&cfg, &config(&format!("{A2}{B}")), &recv.base);
    assert!(
        eventually(Duration::from_secs(10), || recv
            .got_on("/a")
            .iter()
            .any(|r| r.header("x-version") == Some("2")))
        .await,
        "changed header never applied"
    );

    // A broken edit: rejected with file, line and field; the last good config keeps running.
    let broken =
        config(&format!("{A2}{B}")).replace("  - id: b\n", "  - id: b\n    bogus_key: 1\n");
    t.write_config_at(&cfg, &broken, &recv.base);
    assert!(
        gw.wait_log("config rejected", Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    assert!(
        gw.logs().contains("bogus_key"),
        "the rejection names the field: {}",
        gw.logs()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(
        msg.contains("hookgate.yaml:") && msg.contains("bogus_key"),
        "{msg}"
    );
    let b_before = recv.count("/b");
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/b") > b_before + 5).await,
        "b stopped after a broken edit"
    );

    // Remove a while it is failing: its pending deliveries are cancelled.
    recv.default_reply("/a", Reply::status(500));
    let a_failing_since = recv.count("/a");
    assert!(
        eventually(Duration::from_secs(10), || recv.count("/a")
            > a_failing_since + 3)
        .await
    );
    t.write_config_at(&cfg, &config(B), &recv.base);
    assert!(
        gw.wait_log("endpoint removed", Duration::from_secs(10)),
        "{}",
        gw.logs()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    publisher.await.unwrap();

    // No acknowledged event lost: every delivery of every acked event ends succeeded, or
    // cancelled (a's, after its removal). None is dead, none stays pending.
    let api = Api::new(&gw);
    let acked = acked.lock().unwrap().clone();
    let mut cancelled = 0;
    for id in &acked {
        let (s, ev) = api.get(&format!("/v1/events/{id}")).await;
        assert_eq!(s, 200);
        for d in ev["deliveries"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap().to_string();
            let ok = eventually_async(&api, &id).await;
            match (d["endpoint_id"].as_str().unwrap(), ok.as_str()) {
                (_, "succeeded") => {}
                ("a", "cancelled") => cancelled += 1,
                (ep, st) => panic!("delivery {id} to {ep} ended {st}"),
            }
        }
    }
    assert!(
        cancelled > 0,
        "a had pending deliveries when it was removed"
    );
}

async fn eventually_async(api: &Api, delivery: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, d) = api.get(&format!("/v1/deliveries/{delivery}")).await;
        let st = d["status"].as_str().unwrap_or("").to_string();
        if st != "pending" || std::time::Instant::now() > deadline {
            return st;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
