//! A full disk is an outage the gateway recovers from by itself: publishes are refused with 503
//! `store_unavailable` and `Retry-After` and `/readyz` is false while nothing can be committed,
//! and once space is back the store reopens and service resumes without a restart, with every
//! acknowledged event delivered.
//!
//! The data dir is a small tmpfs the test mounts (CI runs as root, as this machine does); a
//! filler file takes the free space so the disk fills within a few hundred publishes.

mod util;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use util::*;

/// A tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs as the data dir and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            dir: dir.to_owned(),
        }
    }

    /// Bytes still free on the filesystem.
    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.dir)
            .output()
            .expect("run df");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazy: the gateway may still hold the file while the test unwinds.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Publishes `body`: the status, the problem's `code` (empty on success) and `Retry-After`;
/// `None` when the request failed outright.
async fn send_event(
    gw: &Gateway,
    http: &reqwest::Client,
    body: &serde_json::Value,
) -> Option<(u16, String, Option<String>)> {
    let req = http.post(gw.url("/v1/events")).json(body);
    let r = gw.authed(req).send().await.ok()?;
    let status = r.status().as_u16();
    let retry = (r.headers().get("retry-after")).map(|v| v.to_str().unwrap().to_string());
    let answer: serde_json::Value = r.json().await.unwrap_or_default();
    let code = answer["code"].as_str().unwrap_or("").to_string();
    Some((status, code, retry))
}

/// Publishes `id` with a body of about 8 KiB; the status and `Retry-After`, or 0 when the
/// request failed outright.
async fn publish(gw: &Gateway, http: &reqwest::Client, id: &str) -> (u16, Option<String>) {
    let body = json!({"type": "disk.test", "id": id, "data": {"pad": "x".repeat(8 * 1024)}});
    let Some((status, code, retry)) = send_event(gw, http, &body).await else {
        return (0, None);
    };
    if status != 202 && status != 200 {
        assert_eq!(code, "store_unavailable", "publish {id} answered {status}");
    }
    (status, retry)
}

async fn readyz(gw: &Gateway, http: &reqwest::Client) -> u16 {
    let r = http.get(gw.url("/readyz")).send().await.unwrap();
    r.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_publishes_then_service_resumes_by_itself() {
    let recv = Receiver::start().await;
    let t = TestDir::new();
    let disk = SmallDisk::mount(&t.path().join("data"), "24m");
    // No reserve: this is what happens when the disk does fill (the reserve's own test is
    // below).
    let cfg = t.write_config(
        &base_config("storage:\n  min_free: 0\nendpoints:\n  - id: d\n    url: \"{{RECV}}/d\"\n"),
        &recv.base,
    );
    let gw = Gateway::start(&cfg);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(readyz(&gw, &http).await, 200);

    // Leave about 1 MiB free, so the database fills it quickly.
    let filler = disk.dir.join("filler");
    let keep = 1024 * 1024;
    std::fs::write(&filler, vec![7u8; (disk.free() - keep) as usize]).unwrap();

    let mut acked = HashSet::new();
    let mut refused = None;
    for i in 0..5_000 {
        let id = format!("evt_full_{i}");
        match publish(&gw, &http, &id).await {
            (200 | 202, _) => {
                acked.insert(id);
            }
            (503, retry) => {
                refused = Some(retry);
                break;
            }
            (s, _) => panic!("publish {id} answered {s}"),
        }
    }
    let retry_after = refused.expect("the disk never filled: 5,000 publishes were accepted");
    assert_eq!(
        retry_after.as_deref(),
        Some("1"),
        "a refused publish says when to retry"
    );
    assert!(
        !acked.is_empty(),
        "some publishes went through before the disk filled"
    );
    assert_eq!(
        readyz(&gw, &http).await,
        503,
        "not ready while the disk is full"
    );
    let metrics = gw
        .authed(http.get(gw.url("/metrics")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        metrics.status(),
        200,
        "metrics still answer while the store is down"
    );
    let text = metrics.text().await.unwrap();
    assert!(text.contains("hookgate_store_writable 0"), "{text}");
    // Still full: publishes keep being refused, and answered rather than left hanging.
    let (status, _) = publish(&gw, &http, "evt_while_full").await;
    assert_eq!(status, 503, "refused while the disk is still full");

    std::fs::remove_file(&filler).unwrap();
    let mut resumed = false;
    for attempt in 0..200 {
        if readyz(&gw, &http).await == 200 {
            let id = format!("evt_after_{attempt}");
            if let (200 | 202, _) = publish(&gw, &http, &id).await {
                acked.insert(id);
                resumed = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        resumed,
        "service did not resume after space came back; logs:\n{}",
        gw.logs()
    );
    assert!(
        gw.wait_log("store reopened", Duration::from_secs(1)),
        "the store says it reopened"
    );

    let ids = |recv: &Receiver| -> HashSet<String> {
        recv.got_on("/d")
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = eventually(Duration::from_secs(60), || acked.is_subset(&ids(&recv))).await;
    let missing: Vec<_> = acked.difference(&ids(&recv)).cloned().collect();
    assert!(
        all,
        "{} acknowledged events never arrived: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    // Attempts made while the disk was full are recorded once it is back: every delivery
    // ends succeeded, none is left pending.
    let api = Api::new(&gw);
    for id in &acked {
        let (s, v) = api.get(&format!("/v1/events/{id}")).await;
        assert_eq!(s, 200, "{id}: {v}");
        let delivery = v["deliveries"][0]["id"].as_str().unwrap().to_string();
        let d = api.wait_status(&delivery, &["succeeded"]).await;
        assert_eq!(d["status"], "succeeded", "{id}: {d}");
    }
    let got = recv.got_on("/d").len();
    println!(
        "disk full: {} acknowledged, {} received ({} repeats)",
        acked.len(),
        got,
        got - acked.len()
    );
}

/// Publishes a small event of type `ty`: the status, the problem's code and `Retry-After`.
async fn try_publish(
    gw: &Gateway,
    http: &reqwest::Client,
    ty: &str,
) -> (u16, String, Option<String>) {
    let body = json!({"type": ty, "data": {"n": 1}});
    send_event(gw, http, &body).await.expect("publish")
}

/// With `storage.min_free` set, publishes are refused (503 `store_full`, `Retry-After`) before
/// the disk is full, while a pending delivery's attempts keep being recorded; /readyz and
/// /metrics say why, and publishing resumes by itself once space is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_reserve_publishes_wait_while_attempts_are_still_recorded() {
    let recv = Receiver::start().await;
    recv.default_reply("/flaky", Reply::status(500));
    let t = TestDir::new();
    let disk = SmallDisk::mount(&t.path().join("data"), "64m");
    let yaml = base_config(
        r#"storage:
  min_free: 32MiB
endpoints:
  - id: flaky
    url: "{{RECV}}/flaky"
    events: ["flaky.*"]
    delivery:
      retry_schedule: [200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms]
  - id: ok
    url: "{{RECV}}/ok"
    events: ["ok.*"]
"#,
    );
    let cfg = t.write_config(&yaml, &recv.base);
    let gw = Gateway::start(&cfg);
    let api = Api::new(&gw);
    let http = reqwest::Client::new();
    assert_eq!(try_publish(&gw, &http, "ok.x").await.0, 202);
    let flaky = api.publish_one("flaky.x", json!({})).await;

    // Take the free space below the reserve without filling the disk.
    let filler = disk.dir.join("filler");
    std::fs::write(&filler, vec![7u8; 40 * 1024 * 1024]).unwrap();
    let mut refused = None;
    for _ in 0..100 {
        let (s, code, retry) = try_publish(&gw, &http, "ok.x").await;
        if s == 503 {
            refused = Some((code, retry));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, retry) = refused.expect("publishes were still accepted below the reserve");
    assert_eq!(code, "store_full");
    assert_eq!(retry.as_deref(), Some("5"));
    let r = http.get(gw.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.text().await.unwrap().contains("store full"));
    let m = gw
        .authed(http.get(gw.url("/metrics")))
        .send()
        .await
        .unwrap();
    assert!(m.text().await.unwrap().contains("hookgate_store_full 1"));
    assert!(
        gw.logs().contains("below storage.min_free"),
        "the log says why"
    );

    // Attempts go on being recorded meanwhile.
    let attempts = |d: &serde_json::Value| d["attempts"].as_u64().unwrap_or(0);
    let (_, before) = api.get(&format!("/v1/deliveries/{flaky}")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = api.get(&format!("/v1/deliveries/{flaky}")).await;
    assert!(
        attempts(&after) > attempts(&before),
        "attempts were not recorded while publishes were refused: {} then {}",
        attempts(&before),
        attempts(&after)
    );

    std::fs::remove_file(&filler).unwrap();
    let mut resumed = false;
    for _ in 0..100 {
        if try_publish(&gw, &http, "ok.x").await.0 == 202 {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resumed, "publishing did not resume once space was back");
    assert!(gw.logs().contains("accepting publishes again"));
}
