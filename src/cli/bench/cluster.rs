//! `cluster`: what sharing one PostgreSQL costs. The same closed-loop publish load (one
//! endpoint) runs against one redb gateway, then against 1, 2 … N gateway nodes on a fresh
//! database of a throw-away PostgreSQL ([`super::postgres`]), the load spread evenly over the
//! nodes. Each row: deliveries/s, publish and publish→receive p50/p99, and CPU per delivery of
//! the gateways plus the database server. On one machine the nodes share its cores, so
//! throughput cannot grow with nodes; what the rows show is whether coordination costs grow
//! with the cluster (CPU per delivery at N nodes against 1).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde_json::{json, Value};

use super::gateway::{GatewayProc, Setup, BENCH_KEY};
use super::postgres::TempPostgres;
use super::{load, now_ns, percentiles, receiver, Progress};

/// Runs redb once, then PostgreSQL with each of `node_counts` nodes.
pub async fn run(
    node_counts: &[usize],
    size: usize,
    concurrency: usize,
    dur: Duration,
    p: &Progress,
) -> anyhow::Result<Vec<Value>> {
    p.set("starting PostgreSQL".into());
    let pg = TempPostgres::start()?;
    let mut rows = vec![measure(None, 1, size, concurrency, dur, p).await?];
    for (i, &n) in node_counts.iter().enumerate() {
        let url = pg.database(&format!("bench_{i}"))?;
        rows.push(measure(Some((&pg, &url)), n, size, concurrency, dur, p).await?);
    }
    Ok(rows)
}

/// One row: `nodes` gateways on redb (`pg` none; one node only) or on the database `pg` names.
async fn measure(
    pg: Option<(&TempPostgres, &str)>,
    nodes: usize,
    size: usize,
    concurrency: usize,
    dur: Duration,
    p: &Progress,
) -> anyhow::Result<Value> {
    let backend = if pg.is_some() { "postgres" } else { "redb" };
    p.set(format!("{backend}, {nodes} node(s)"));
    let recv = Arc::new(receiver::Received::default());
    let recv_url = receiver::start(recv.clone()).await?;
    let setup = Setup {
        endpoints: 1,
        storage: pg.map_or(String::new(), |(_, url)| {
            format!("storage:\n  backend: postgres\n  url: \"{url}\"\n  pool_size: 16\n")
        }),
        ..Setup::default()
    };
    let gws = (0..nodes)
        .map(|_| GatewayProc::start(&setup, &recv_url))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cpu = |gws: &[GatewayProc]| -> (f64, f64) {
        let gw: f64 = gws.iter().map(GatewayProc::cpu_seconds).sum();
        (gw, pg.map_or(0.0, |(s, _)| s.cpu_seconds()))
    };
    if let Some((s, _)) = pg {
        s.take_statement_stats(); // start counting here
    }
    let before = cpu(&gws);
    let start_ns = now_ns();
    let per_node = (concurrency / nodes).max(1);
    let loads = gws
        .iter()
        .map(|gw| load::run(gw.url(), Some(BENCH_KEY), size, per_node, None, dur, None));
    let results = futures_util::future::join_all(loads).await;
    let ok: u64 = results.iter().map(|r| r.ok).sum();
    let errors: u64 = results.iter().map(|r| r.errors).sum();
    let elapsed = results.iter().map(|r| r.elapsed).max().unwrap_or_default();
    let mut publish: Vec<u32> = results.into_iter().flat_map(|r| r.latencies_us).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    while recv.count.load(Ordering::Relaxed) < ok && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = cpu(&gws);
    if let Some(stats) = pg.and_then(|(s, _)| s.take_statement_stats()) {
        println!("\n{backend} × {nodes}: where the database's time went\n{stats}");
    }
    let got = recv.count.load(Ordering::Relaxed);
    if got < ok {
        return Err(anyhow!(
            "{backend} × {nodes}: {got} of {ok} delivered in time"
        ));
    }
    let secs = recv
        .last_ns
        .load(Ordering::Relaxed)
        .saturating_sub(start_ns) as f64
        / 1e9;
    let mut e2e = std::mem::take(&mut *recv.latencies_us.lock().map_err(|_| anyhow!("lock"))?);
    let [pub50, pub99, _] = percentiles(&mut publish);
    let [e50, e99, _] = percentiles(&mut e2e);
    let per = |s: f64| s * 1e6 / got.max(1) as f64;
    let (gw_cpu, pg_cpu) = (after.0 - before.0, after.1 - before.1);
    Ok(json!({
        "scenario": "cluster",
        "backend": backend,
        "nodes": nodes,
        "requests_ok": ok,
        "requests_failed": errors,
        "requests_per_s": ok as f64 / elapsed.as_secs_f64().max(1e-9),
        "deliveries": got,
        "deliveries_per_s": got as f64 / secs.max(1e-9),
        "publish_p50_ms": pub50,
        "publish_p99_ms": pub99,
        "e2e_p50_ms": e50,
        "e2e_p99_ms": e99,
        "cpu_us_per_delivery": per(gw_cpu + pg_cpu),
        "gateway_cpu_us_per_delivery": per(gw_cpu),
        "postgres_cpu_us_per_delivery": per(pg_cpu),
    }))
}

/// The rows as a table, with PostgreSQL's single node against redb and each node count's CPU
/// per delivery against one node's.
pub fn print(rows: &[Value]) {
    println!(
        "\n{:<9} {:>5} {:>12} {:>7} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>7}",
        "backend",
        "nodes",
        "deliveries/s",
        "× redb",
        "pub p50",
        "pub p99",
        "e2e p50",
        "e2e p99",
        "CPU µs/d",
        "gateway",
        "pg",
        "× 1 node"
    );
    let rate = |r: &Value| r["deliveries_per_s"].as_f64().unwrap_or(f64::NAN);
    let cpu = |r: &Value| r["cpu_us_per_delivery"].as_f64().unwrap_or(f64::NAN);
    let redb = rows.iter().find(|r| r["backend"] == "redb");
    let one = rows
        .iter()
        .find(|r| r["backend"] == "postgres" && r["nodes"] == 1);
    for r in rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<9} {:>5} {:>12.0} {:>7.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.1} {:>8.1} {:>8.1} {:>7.2}",
            r["backend"].as_str().unwrap_or(""),
            r["nodes"].as_u64().unwrap_or(0),
            rate(r),
            redb.map_or(f64::NAN, |b| rate(r) / rate(b)),
            f("publish_p50_ms"),
            f("publish_p99_ms"),
            f("e2e_p50_ms"),
            f("e2e_p99_ms"),
            cpu(r),
            f("gateway_cpu_us_per_delivery"),
            f("postgres_cpu_us_per_delivery"),
            match (r["backend"] == "postgres", one) {
                (true, Some(o)) => cpu(r) / cpu(o),
                _ => f64::NAN,
            },
        );
    }
}
