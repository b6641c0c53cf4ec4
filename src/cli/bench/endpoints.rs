//! `endpoints`: does a delivery cost the same with 1 endpoint or 100,000?
//!
//! For each endpoint count N it starts a fresh gateway, creates N endpoints through the API (as
//! a SaaS product does, one per customer hook; each subscribes to its own event type and to
//! `bench.all`), restarts it and measures its RSS with them idle, then publishes with the batch API
//! and waits until the receiver has every delivery, twice: fan-out 1 (events round-robin over
//! the endpoints' own types) and fan-out to all (`bench.all`). Each run delivers the same
//! number of deliveries, so the rows compare per-delivery cost directly.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::gateway::{GatewayProc, Setup, BENCH_ADMIN_KEY, BENCH_KEY};
use super::scenarios::{FILL_BATCH, FILL_CONCURRENCY};
use super::{load, now_ns, receiver, Progress};

/// Endpoint creations in flight.
const CREATE_CONCURRENCY: usize = 16;
/// How long one run may take to deliver everything.
const DRAIN_LIMIT: Duration = Duration::from_secs(1800);

/// How events address endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fanout {
    /// Each event goes to one endpoint.
    One,
    /// Each event goes to every endpoint.
    All,
}

impl Fanout {
    fn name(self) -> &'static str {
        match self {
            Fanout::One => "1",
            Fanout::All => "all",
        }
    }
}

/// Runs the scenario for every count in `counts`; one row per (count, fan-out).
pub async fn run(
    counts: &[usize],
    deliveries: usize,
    size: usize,
    p: &Progress,
) -> anyhow::Result<Vec<Value>> {
    let mut rows = Vec::new();
    for &n in counts {
        let recv = Arc::new(receiver::Received::default());
        let url = receiver::start(recv.clone()).await?;
        let gw = GatewayProc::start(&Setup::default(), &url)?;
        let created = Instant::now();
        create_endpoints(&gw, &url, n, p).await?;
        let create_s = created.elapsed().as_secs_f64();
        // Restarted, so the idle figure is what N endpoints cost a gateway, not what the
        // allocator kept from creating them.
        p.set(format!("restarting with {n} endpoints"));
        let gw = gw.restart(&Setup::default(), &url)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle_rss = gw.rss_mib().1;
        for fanout in [Fanout::One, Fanout::All] {
            let mut row = deliver(&gw, &recv, n, fanout, deliveries, size, p).await?;
            row["endpoints"] = json!(n);
            row["create_per_s"] = json!(n as f64 / create_s);
            row["restart_s"] = json!(gw.startup.as_secs_f64());
            row["idle_rss_mib"] = json!(idle_rss);
            rows.push(row);
        }
    }
    Ok(rows)
}

async fn create_endpoints(
    gw: &GatewayProc,
    recv_url: &str,
    n: usize,
    p: &Progress,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{}/v1/endpoints", gw.base());
    let make = |i: usize| {
        let body = json!({
            "id": format!("ep{i}"),
            "url": format!("{recv_url}/ep{i}"),
            "events": [format!("bench.e{i}"), "bench.all"],
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        });
        client.post(&url).bearer_auth(BENCH_ADMIN_KEY).json(&body)
    };
    let progress = |i: usize| {
        if i % 1000 == 0 {
            p.set(format!("creating endpoints: {i} / {n}"));
        }
    };
    load::send_all(
        n,
        CREATE_CONCURRENCY,
        "creating an endpoint",
        make,
        progress,
    )
    .await
}

/// Publishes until `total` deliveries are due and waits for the receiver to have them all.
async fn deliver(
    gw: &GatewayProc,
    recv: &receiver::Received,
    n: usize,
    fanout: Fanout,
    total: usize,
    size: usize,
    p: &Progress,
) -> anyhow::Result<Value> {
    let (events, per_event) = match fanout {
        Fanout::One => (total, 1),
        Fanout::All => (total.div_ceil(n), n),
    };
    let expect = (events * per_event) as u64;
    let before = recv.ok.load(Ordering::Relaxed);
    let cpu_before = gw.cpu_seconds();
    let started = now_ns();
    publish(gw, events, size, fanout, n, p).await?;
    let end = Instant::now() + DRAIN_LIMIT;
    loop {
        let got = recv.ok.load(Ordering::Relaxed) - before;
        p.set(format!(
            "{n} endpoints, fan-out {}: {got} / {expect}",
            fanout.name()
        ));
        if got >= expect || Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = recv.ok.load(Ordering::Relaxed) - before;
    let secs = recv.last_ns.load(Ordering::Relaxed).saturating_sub(started) as f64 / 1e9;
    let cpu = gw.cpu_seconds() - cpu_before;
    Ok(json!({
        "scenario": "endpoints",
        "fanout": fanout.name(),
        "events": events,
        "deliveries": got,
        "complete": got >= expect,
        "deliveries_per_s": got as f64 / secs.max(1e-9),
        "cpu_us_per_delivery": cpu * 1e6 / (got.max(1) as f64),
        "gateway_peak_rss_mib": gw.rss_mib().0,
    }))
}

async fn publish(
    gw: &GatewayProc,
    events: usize,
    size: usize,
    fanout: Fanout,
    n: usize,
    p: &Progress,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let batch_url = format!("{}/batch", gw.url());
    let make = |b: usize| {
        let from = b * FILL_BATCH;
        let batch: Vec<Value> = (from..events.min(from + FILL_BATCH))
            .map(|i| {
                let mut e: Value =
                    serde_json::from_slice(&load::body(size, i as u64)).unwrap_or(Value::Null);
                e["type"] = json!(match fanout {
                    Fanout::One => format!("bench.e{}", i % n),
                    Fanout::All => "bench.all".to_string(),
                });
                e
            })
            .collect();
        client
            .post(&batch_url)
            .bearer_auth(BENCH_KEY)
            .json(&json!({ "events": batch }))
    };
    let progress = |b: usize| p.set(format!("publishing: {} / {events} events", b * FILL_BATCH));
    let batches = events.div_ceil(FILL_BATCH);
    load::send_all(batches, FILL_CONCURRENCY, "a publish batch", make, progress).await
}

/// Prints the scenario's table: one line per (endpoints, fan-out), with each row's CPU per
/// delivery and rate against the one-endpoint row of the same fan-out.
pub fn print(rows: &[Value]) {
    println!(
        "\n{:>9} {:>7} {:>13} {:>9} {:>14} {:>8} {:>11} {:>11} {:>10}",
        "endpoints",
        "fan-out",
        "deliveries/s",
        "× N=1",
        "CPU µs/deliv.",
        "× N=1",
        "idle RSS",
        "peak RSS",
        "create/s"
    );
    let first = |fanout: &Value| rows.iter().find(|r| r["fanout"] == *fanout);
    for r in rows {
        let base = first(&r["fanout"]);
        let ratio = |k: &str| {
            let b = base.and_then(|b| b[k].as_f64()).unwrap_or(f64::NAN);
            r[k].as_f64().unwrap_or(f64::NAN) / b
        };
        println!(
            "{:>9} {:>7} {:>13.0} {:>9.2} {:>14.1} {:>8.2} {:>7.1} MiB {:>7.1} MiB {:>10.0}{}",
            r["endpoints"].as_u64().unwrap_or(0),
            r["fanout"].as_str().unwrap_or(""),
            r["deliveries_per_s"].as_f64().unwrap_or(0.0),
            ratio("deliveries_per_s"),
            r["cpu_us_per_delivery"].as_f64().unwrap_or(0.0),
            ratio("cpu_us_per_delivery"),
            r["idle_rss_mib"].as_f64().unwrap_or(0.0),
            r["gateway_peak_rss_mib"].as_f64().unwrap_or(0.0),
            r["create_per_s"].as_f64().unwrap_or(0.0),
            if r["complete"] == true {
                ""
            } else {
                "  (incomplete)"
            },
        );
    }
}
