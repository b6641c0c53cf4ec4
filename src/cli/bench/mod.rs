//! `hookgate bench`: runs the gateway as a separate process with a temporary data dir, a fast
//! loopback receiver and a load generator, and reports throughput and latency beside a baseline
//! measured in the same run (the machines are shared and noisy: ratios travel, absolutes don't).
//!
//! Scenarios: `baseline` (load generator straight to the receiver: the ceiling), `ingest`
//! (publish only, no endpoint), `e2e` (publish → deliver to one endpoint, saturated),
//! `fanout` (e2e to `--endpoints` endpoints), `latency` (e2e at a fixed `--rate`), `backlog`
//! (`--backlog` pending deliveries drain after a restart), `faults` (10% 500s, 1% timeouts);
//! and, only when named, `endpoints` (the same deliveries with 1 … 100,000 endpoints),
//! `cluster` (redb against 1 … N nodes sharing a PostgreSQL), `e2e-pruned` and
//! `latency-pruned` (the same with every delivery expiring a second after it finishes, so the
//! pruner runs at the rate deliveries finish) and `sizing` (store bytes per delivery and per
//! attempt).

mod cluster;
mod endpoints;
mod gateway;
mod load;
mod plugins;
pub mod postgres;
mod receiver;
mod retention;
mod scenarios;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;
use serde_json::{json, Value};

use gateway::{GatewayProc, Setup};

/// Every scenario run by default, in order.
pub const SCENARIOS: &[&str] = &[
    "baseline", "ingest", "e2e", "fanout", "latency", "plugin", "backlog", "faults",
];
/// Scenarios run only when named: `endpoints` creates up to 100,000 endpoints and takes
/// minutes; `cluster` starts a PostgreSQL and several gateways; the retention pair compares
/// with `e2e` and `latency` when run beside them; `sizing` fills two stores; the JS and Python
/// plugin scenarios need their examples built first (`hookgate plugin build DIR`).
pub const NAMED_ONLY: &[&str] = &[
    "plugin-js",
    "plugin-py",
    "plugin-py-reuse",
    "endpoints",
    "cluster",
    "e2e-pruned",
    "latency-pruned",
    "sizing",
];

/// `hookgate bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenarios to run, in order (default: all).
    pub scenarios: Vec<String>,
    /// Event body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub size: usize,
    /// Requests in flight from the load generator.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Seconds of load per scenario.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Offered rate of the `latency` scenario, events per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Endpoints of the `fanout` scenario.
    #[arg(long, default_value_t = 10)]
    pub endpoints: usize,
    /// Endpoint counts of the `endpoints` scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,1000,10000,100000")]
    pub endpoint_counts: Vec<usize>,
    /// Node counts of the `cluster` scenario.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub node_counts: Vec<usize>,
    /// Deliveries per run of the `endpoints` scenario (each count, each fan-out), and events
    /// per store of the `sizing` scenario.
    #[arg(long, default_value_t = 50_000)]
    pub deliveries: usize,
    /// Pending deliveries built up by the `backlog` scenario.
    #[arg(long, default_value_t = 1_000_000)]
    pub backlog: usize,
    /// Transform plugin of the `plugin` scenario (run with `{"remove": ["/data/seq"]}`: the
    /// example `redact`, which checks the body is JSON and cuts one field out of its text).
    #[arg(
        long,
        default_value = "plugins/target/wasm32-wasip2/release/redact.wasm"
    )]
    pub plugin: std::path::PathBuf,
    /// JS plugin of the `plugin-js` scenario (the example `field-filter`, built with
    /// `hookgate plugin build`).
    #[arg(
        long,
        default_value = "plugins/js/examples/field-filter/target/field_filter.wasm"
    )]
    pub plugin_js: std::path::PathBuf,
    /// Python plugin of the `plugin-py` scenario (the example `scrub`).
    #[arg(
        long,
        default_value = "plugins/python/examples/scrub/target/scrub.wasm"
    )]
    pub plugin_py: std::path::PathBuf,
    /// Run the scenario list this many times, one round after another, and summarise the
    /// medians. Pairs measured a minute apart on a shared machine differ by ±15%; the median of
    /// interleaved rounds is what a ratio such as plugin/e2e should be judged on. From 5 rounds
    /// the plugin/e2e median comes with its 95% interval (bootstrap).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Also write the results as JSON here (every round's rows, each with its `round`).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Nanoseconds since the Unix epoch (publish→receive latency crosses processes).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// p50, p99 and p999 of latencies in µs, as milliseconds (sorts `v` once).
fn percentiles(v: &mut [u32]) -> [f64; 3] {
    v.sort_unstable();
    [0.50, 0.99, 0.999].map(|p| {
        v.get(((v.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    })
}

/// A one-line progress display on stderr (hidden when stderr is not a terminal).
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    fn new(scenario: &str) -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {prefix}: {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_prefix(scenario.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(bar)
    }

    /// Replaces the message.
    pub fn set(&self, msg: String) {
        self.0.set_message(msg);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// Runs the benchmark.
pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    let dur = Duration::from_secs_f64(a.seconds);
    let scenarios: Vec<String> = if a.scenarios.is_empty() {
        SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        a.scenarios.clone()
    };
    let scenarios: Vec<String> = scenarios
        .into_iter()
        .filter(|s| s != "plugin" || a.plugin.exists() || a.scenarios.iter().any(|x| x == "plugin"))
        .collect();
    let known = |s: &str| SCENARIOS.contains(&s) || NAMED_ONLY.contains(&s);
    if let Some(bad) = scenarios.iter().find(|s| !known(s)) {
        return Err(anyhow!(
            "unknown scenario {bad:?}; one of {}, {}",
            SCENARIOS.join(", "),
            NAMED_ONLY.join(", ")
        ));
    }
    let mut all_rows: Vec<Value> = Vec::new();
    println!(
        "hookgate bench: {} B events, {} in flight, {:.0} s per scenario, {} cores",
        a.size,
        a.concurrency,
        a.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for round in 1..=a.repeat {
        if a.repeat > 1 {
            println!("\nround {round} of {}", a.repeat);
        }
        let rows = run_round(&scenarios, &a, dur).await?;
        all_rows.extend(rows.into_iter().map(|mut r| {
            r["round"] = json!(round);
            r
        }));
    }
    if a.repeat > 1 {
        print_medians(&scenarios, &all_rows, &a);
    }
    if let Some(p) = &a.out {
        write_json(p, &all_rows, &a)?;
    }
    Ok(())
}

/// Runs every scenario once and prints the round's table.
async fn run_round(
    scenarios: &[String],
    a: &BenchArgs,
    dur: Duration,
) -> anyhow::Result<Vec<Value>> {
    let mut rows: Vec<Value> = Vec::new();
    let mut baseline_rps = None;
    for sc in scenarios {
        let p = Progress::new(sc);
        p.set(format!("{:.0} s of load", a.seconds));
        let row = match sc.as_str() {
            "backlog" => scenarios::backlog(a.backlog, a.size, &p).await?,
            "faults" => scenarios::faults(a.size, a.concurrency, dur, &p).await?,
            "sizing" => {
                let r = retention::sizing(a.deliveries, a.size, &p).await?;
                drop(p);
                retention::print_sizing(&r);
                rows.push(r);
                continue;
            }
            "endpoints" => {
                let r = endpoints::run(&a.endpoint_counts, a.deliveries, a.size, &p).await?;
                endpoints::print(&r);
                rows.extend(r);
                continue;
            }
            "cluster" => {
                let r = cluster::run(&a.node_counts, a.size, a.concurrency, dur, &p).await?;
                drop(p);
                cluster::print(&r);
                rows.extend(r);
                continue;
            }
            _ => {
                let row = load_scenario(sc, a, dur).await?;
                if sc == "baseline" {
                    baseline_rps = row["requests_per_s"].as_f64();
                }
                row
            }
        };
        drop(p);
        rows.push(row);
    }
    let table: Vec<Value> = rows
        .iter()
        .filter(|r| {
            !["endpoints", "cluster", "sizing"].contains(&r["scenario"].as_str().unwrap_or(""))
        })
        .cloned()
        .collect();
    if !table.is_empty() {
        print_table(&table, baseline_rps);
    }
    Ok(rows)
}

/// Deliveries (or, without any, requests) per second of one row.
fn rate_of(row: &Value) -> Option<f64> {
    row["e2e"]["deliveries_per_s"]
        .as_f64()
        .or_else(|| row["requests_per_s"].as_f64())
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A 95% interval for the median of `v`, by percentile bootstrap: 2,000 resamples with a fixed
/// seed, so one set of rounds always prints the same interval. `None` below five values, where
/// the interval would say nothing.
///
/// Why: on a shared 2-core machine identical runs differ by ±15%, more than the distance
/// between a ratio such as 0.85 and its 0.8 target. A median over many interleaved rounds with
/// its interval says whether the target holds; one pair of runs cannot.
fn median_interval(v: &[f64]) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    if v.len() < 5 {
        return None;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x686f_6f6b_6761_7465);
    let mut medians: Vec<f64> = (0..2000)
        .map(|_| {
            median(
                (0..v.len())
                    .map(|_| v[rng.random_range(0..v.len())])
                    .collect(),
            )
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    Some((medians[50], medians[1949]))
}

/// Half the range of `v` as a share of its median (±): how far identical runs stray. `None`
/// below three values.
fn relative_spread(v: &[f64]) -> Option<f64> {
    if v.len() < 3 {
        return None;
    }
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
    Some((hi - lo) / 2.0 / median(v.to_vec()))
}

/// After several rounds: each scenario's median rate, and the plugin/e2e ratio of every round
/// (the throughput target) with its median, that median's 95% interval, and how many
/// rounds fell below the target.
fn print_medians(scenarios: &[String], rows: &[Value], a: &BenchArgs) {
    println!(
        "\nmedians over {} rounds",
        rows.iter()
            .filter_map(|r| r["round"].as_u64())
            .max()
            .unwrap_or(0)
    );
    let rates = |sc: &str| -> Vec<(u64, f64)> {
        rows.iter()
            .filter(|r| r["scenario"] == sc)
            .filter_map(|r| Some((r["round"].as_u64()?, rate_of(r)?)))
            .collect()
    };
    for sc in scenarios {
        let v: Vec<f64> = rates(sc).into_iter().map(|(_, x)| x).collect();
        println!(
            "{sc:<14} {:>10.0} /s  (min {:.0}, max {:.0})",
            median(v.clone()),
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max)
        );
    }
    retention::print_pair_medians(rows);
    plugins::print_ratios(rows, a);
}

/// baseline, ingest, e2e, fanout, latency: load for `dur`, then wait for every delivery.
async fn load_scenario(sc: &str, a: &BenchArgs, dur: Duration) -> anyhow::Result<Value> {
    let recv = Arc::new(receiver::Received::default());
    let recv_url = receiver::start(recv.clone()).await?;
    if sc == "baseline" {
        let r = load::run(recv_url, None, a.size, a.concurrency, None, dur, None).await;
        let rps = r.ok as f64 / r.elapsed.as_secs_f64();
        return Ok(summary(sc, rps, r, None, None, None));
    }
    let base = sc.strip_suffix(retention::PRUNED_SUFFIX);
    let pruned = base.is_some();
    let base = base.unwrap_or(sc);
    let endpoints = match base {
        "ingest" => 0,
        "fanout" => a.endpoints,
        _ => 1,
    };
    let mut setup = if plugins::is_plugin_scenario(sc) {
        plugins::setup(sc, a, endpoints)?
    } else {
        Setup {
            endpoints,
            ..Setup::default()
        }
    };
    if pruned {
        setup.retention = retention::SHORT_RETENTION.into();
    }
    let gw = GatewayProc::start(&setup, &recv_url)?;
    let idle = gw.rss_mib().1;
    let rate = (base == "latency").then_some(a.rate);
    let start_ns = now_ns();
    let r = load::run(
        gw.url(),
        Some(gateway::BENCH_KEY),
        a.size,
        a.concurrency,
        None,
        dur,
        rate,
    )
    .await;
    let rps = r.ok as f64 / r.elapsed.as_secs_f64();
    if endpoints == 0 {
        return Ok(summary(sc, rps, r, None, Some(&gw), Some(idle)));
    }
    // How far the pruner got while the load ran: what had been delivered by then against
    // what had been pruned (each kept 1 s, so ~1 s of deliveries is not yet due).
    let delivered_in_load = recv.count.load(Ordering::Relaxed);
    let at_end_of_load = retention::storage(&gw).await?;
    let expected = r.ok * endpoints as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    while recv.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = recv.count.load(Ordering::Relaxed);
    let secs = (recv
        .last_ns
        .load(Ordering::Relaxed)
        .saturating_sub(start_ns)) as f64
        / 1e9;
    let mut lat = std::mem::take(&mut *recv.latencies_us.lock().map_err(|_| anyhow!("lock"))?);
    let [p50, p99, p999] = percentiles(&mut lat);
    let e2e = json!({
        "deliveries": got, "expected": expected,
        "deliveries_per_s": got as f64 / secs.max(1e-9),
        "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
    });
    let mut row = summary(sc, rps, r, Some(e2e), Some(&gw), Some(idle));
    row["store"] = json!({
        "delivered_in_load": delivered_in_load,
        "pruned_in_load": retention::pruned_deliveries(&at_end_of_load),
        "prune_behind_s": at_end_of_load["prune_behind_seconds"],
        "bytes_at_end_of_load": at_end_of_load["bytes"],
    });
    Ok(row)
}

fn summary(
    name: &str,
    rps: f64,
    mut r: load::LoadResult,
    e2e: Option<Value>,
    gw: Option<&GatewayProc>,
    idle_rss: Option<f64>,
) -> Value {
    let [p50, p99, p999] = percentiles(&mut r.latencies_us);
    json!({
        "scenario": name,
        "requests_ok": r.ok, "requests_failed": r.errors,
        "requests_per_s": rps,
        "request_p50_ms": p50,
        "request_p99_ms": p99,
        "request_p999_ms": p999,
        "e2e": e2e,
        "gateway_peak_rss_mib": gw.map(|g| g.rss_mib().0),
        "gateway_idle_rss_mib": idle_rss,
        "gateway_cpu_s": gw.map(GatewayProc::cpu_seconds),
    })
}

fn print_table(rows: &[Value], baseline: Option<f64>) {
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let n = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.0}"));
    println!(
        "\n{:<14} {:>10} {:>7} {:>8} {:>8} {:>8} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}",
        "scenario",
        "req/s",
        "×base",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "deliv/s",
        "e2e p50",
        "e2e p99",
        "e2e p999",
        "RSS MiB",
        "CPU s"
    );
    for r in rows {
        let rps = r["requests_per_s"].as_f64();
        let ratio = match (rps, baseline) {
            (Some(x), Some(b)) => format!("{:.2}", x / b),
            _ => "-".into(),
        };
        let e = &r["e2e"];
        let deliv = if r["scenario"] == "faults" {
            n(&r["healthy_deliveries_per_s"])
        } else if r["scenario"] == "backlog" {
            n(&r["drain_per_s"])
        } else {
            n(&e["deliveries_per_s"])
        };
        println!(
            "{:<14} {:>10} {:>7} {:>8} {:>8} {:>8} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}",
            r["scenario"].as_str().unwrap_or(""),
            n(&r["requests_per_s"]),
            ratio,
            f(&r["request_p50_ms"]),
            f(&r["request_p99_ms"]),
            f(&r["request_p999_ms"]),
            deliv,
            f(&e["p50_ms"]),
            f(&e["p99_ms"]),
            f(&e["p999_ms"]),
            f(&r["gateway_peak_rss_mib"]),
            f(&r["gateway_cpu_s"]),
        );
    }
    retention::print_store(rows);
    for r in rows {
        if r["scenario"] == "backlog" {
            println!(
                "backlog: {} pending filled at {} events/s; restart with the backlog {:.3} s; drained at {} deliveries/s{}",
                r["backlog"],
                n(&r["fill_events_per_s"]),
                r["restart_s"].as_f64().unwrap_or(0.0),
                n(&r["drain_per_s"]),
                if r["drained"] == true { "" } else { " (NOT fully drained)" }
            );
        }
        if r["scenario"] == "faults" {
            println!(
                "faults: healthy deliveries {} /s while 10% 500s and 1% timeouts; every event delivered in the end: {}",
                n(&r["healthy_deliveries_per_s"]),
                r["all_delivered"]
            );
        }
    }
}

fn write_json(p: &Path, rows: &[Value], a: &BenchArgs) -> anyhow::Result<()> {
    let doc = json!({
        "size": a.size, "concurrency": a.concurrency, "seconds": a.seconds, "rate": a.rate,
        "backlog": a.backlog,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "results": rows,
    });
    std::fs::write(p, serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_interval_brackets_the_median_and_narrows_with_more_rounds() {
        assert_eq!(median_interval(&[0.9, 0.8, 0.85, 0.7]), None);
        assert_eq!(median_interval(&[0.85; 7]), Some((0.85, 0.85)));

        let few = [0.72, 0.95, 0.81, 0.88, 0.79, 0.91, 0.84];
        let (lo, hi) = median_interval(&few).unwrap();
        assert!(lo <= median(few.to_vec()) && median(few.to_vec()) <= hi);
        assert!(lo >= 0.72 && hi <= 0.95, "{lo} {hi}");

        let many: Vec<f64> = few.iter().cycle().take(few.len() * 8).copied().collect();
        let (mlo, mhi) = median_interval(&many).unwrap();
        assert!(mhi - mlo < hi - lo, "{mlo}–{mhi} vs {lo}–{hi}");
        assert_eq!(
            median_interval(&many),
            Some((mlo, mhi)),
            "same rounds, same interval"
        );
    }

    #[test]
    fn the_spread_of_identical_runs_is_half_their_range_over_the_median() {
        assert_eq!(relative_spread(&[9000.0, 8000.0]), None);
        assert_eq!(relative_spread(&[8000.0, 8000.0, 8000.0]), Some(0.0));
        let s = relative_spread(&[7000.0, 10000.0, 8000.0, 9000.0, 8500.0]).unwrap();
        assert!((s - 1500.0 / 8500.0).abs() < 1e-12, "{s}");
    }
}
