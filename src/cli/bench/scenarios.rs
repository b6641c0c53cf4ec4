//! The scenarios that need more than "load for N seconds": a backlog that drains after a
//! restart, and a receiver that fails some of the time.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{json, Value};

use super::gateway::{GatewayProc, Setup};
use super::{load, now_ns, percentiles, receiver, Progress};

/// Events per batch request while filling a gateway (a backlog, the `endpoints` runs).
pub const FILL_BATCH: usize = 1000;
/// Batch requests in flight while filling.
pub const FILL_CONCURRENCY: usize = 4;

/// Waits until `f` holds (or `limit` passes), updating the progress line.
pub(super) async fn wait_for(
    limit: Duration,
    p: &Progress,
    mut f: impl FnMut() -> (bool, String),
) -> bool {
    let end = Instant::now() + limit;
    loop {
        let (done, msg) = f();
        p.set(msg);
        if done {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes `n` events of `size` bytes with the batch API, [`FILL_BATCH`] to a request.
pub async fn publish_batches(
    gw: &GatewayProc,
    n: usize,
    size: usize,
    what: &str,
    p: &Progress,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let batch_url = format!("{}/batch", gw.url());
    let make = |b: usize| {
        let count = FILL_BATCH.min(n - b * FILL_BATCH);
        let events: Vec<Value> = (0..count)
            .map(|i| {
                serde_json::from_slice(&load::body(size, (b * FILL_BATCH + i) as u64))
                    .unwrap_or(Value::Null)
            })
            .collect();
        client
            .post(&batch_url)
            .bearer_auth(super::gateway::BENCH_KEY)
            .json(&json!({ "events": events }))
    };
    let progress = |b: usize| p.set(format!("{what}: {} / {n}", b * FILL_BATCH));
    let batches = n.div_ceil(FILL_BATCH);
    load::send_all(batches, FILL_CONCURRENCY, what, make, progress).await
}

/// `backlog`: `n` deliveries pile up behind a `rate: 1/h` limit (the receiver is effectively
/// down for this endpoint), the gateway restarts without the limit, and the backlog drains.
pub async fn backlog(n: usize, size: usize, p: &Progress) -> anyhow::Result<Value> {
    let recv = Arc::new(receiver::Received::default());
    let url = receiver::start(recv.clone()).await?;
    let held = Setup {
        endpoints: 1,
        endpoint_extra: "    rate: 1/h\n".into(),
        ..Setup::default()
    };
    let gw = GatewayProc::start(&held, &url)?;
    let fill_started = Instant::now();
    publish_batches(&gw, n, size, "filling backlog", p).await?;
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let free = Setup {
        endpoints: 1,
        ..Setup::default()
    };
    let drain_started = now_ns();
    let gw = gw.restart(&free, &url)?;
    let restart = gw.startup;
    let drained = wait_for(Duration::from_secs(1800), p, || {
        let got = recv.ok.load(Ordering::Relaxed);
        (got >= n as u64, format!("draining: {got} / {n}"))
    })
    .await;
    let got = recv.ok.load(Ordering::Relaxed);
    let secs = recv
        .last_ns
        .load(Ordering::Relaxed)
        .saturating_sub(drain_started) as f64
        / 1e9;
    Ok(json!({
        "scenario": "backlog",
        "backlog": n,
        "fill_events_per_s": n as f64 / fill_secs,
        "restart_s": restart.as_secs_f64(),
        "drained": drained,
        "deliveries": got,
        "drain_per_s": got as f64 / secs.max(1e-9),
        "gateway_peak_rss_mib": gw.rss_mib().0,
        "gateway_cpu_s": gw.cpu_seconds(),
    }))
}

/// `faults`: 10% of answers are 500 and 1% stall past the 1 s timeout. Do healthy deliveries
/// keep flowing at the e2e rate, and does every event arrive in the end?
pub async fn faults(
    size: usize,
    concurrency: usize,
    dur: Duration,
    p: &Progress,
) -> anyhow::Result<Value> {
    let recv = Arc::new(receiver::Received {
        mode: receiver::Mode::Faulty,
        ..Default::default()
    });
    let url = receiver::start(recv.clone()).await?;
    let setup = Setup {
        endpoints: 1,
        delivery: "delivery:\n  timeout: 1s\n  retry_schedule: [1s, 1s, 2s, 4s, 8s]\n  auto_disable_after: 0\n".into(),
        ..Setup::default()
    };
    let gw = GatewayProc::start(&setup, &url)?;
    let start_ns = now_ns();
    p.set("faults: publishing".into());
    let r = load::run(
        gw.url(),
        Some(super::gateway::BENCH_KEY),
        size,
        concurrency,
        None,
        dur,
        None,
    )
    .await;
    let ok_during = recv.ok.load(Ordering::Relaxed);
    let load_secs = (now_ns() - start_ns) as f64 / 1e9;
    let all = wait_for(Duration::from_secs(120), p, || {
        let got = recv.ok.load(Ordering::Relaxed);
        (
            got >= r.ok,
            format!("faults: waiting for retries {got} / {}", r.ok),
        )
    })
    .await;
    let mut lat = std::mem::take(&mut *recv.latencies_us.lock().map_err(|_| anyhow!("lock"))?);
    let [p50, p99, p999] = percentiles(&mut lat);
    Ok(json!({
        "scenario": "faults",
        "requests_ok": r.ok, "requests_failed": r.errors,
        "requests_per_s": r.ok as f64 / r.elapsed.as_secs_f64(),
        "healthy_deliveries_per_s": ok_during as f64 / load_secs,
        "all_delivered": all,
        "receiver_requests": recv.count.load(Ordering::Relaxed),
        "e2e": {"deliveries": recv.ok.load(Ordering::Relaxed), "expected": r.ok,
                "p50_ms": p50, "p99_ms": p99, "p999_ms": p999},
        "gateway_peak_rss_mib": gw.rss_mib().0,
        "gateway_cpu_s": gw.cpu_seconds(),
    }))
}
