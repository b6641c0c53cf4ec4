//! `hookgate bench`: runs the gateway as a separate process with a temporary data dir, a fast
//! loopback receiver and a load generator, and reports throughput and latency beside a baseline
//! measured in the same run (the machines are shared and noisy: ratios travel, absolutes don't).
//!
//! Scenarios: `baseline` (load generator straight to the receiver: the ceiling), `ingest`
//! (publish only, no endpoint), `e2e` (publish → deliver to one endpoint, saturated),
//! `fanout` (e2e to `--endpoints` endpoints), `latency` (e2e at a fixed `--rate`).

mod load;
mod receiver;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Args;
use serde_json::{json, Value};

/// `hookgate bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenarios to run, in order.
    #[arg(default_values_t = ["baseline".to_string(), "ingest".into(), "e2e".into(), "fanout".into(), "latency".into()])]
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
    /// Also write the results as JSON here.
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

struct GatewayProc {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl GatewayProc {
    fn start(endpoints: usize, recv_url: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let section = if endpoints == 0 {
            "endpoints: []\n".to_string()
        } else {
            (0..endpoints).fold("endpoints:\n".to_string(), |mut y, i| {
                y.push_str(&format!("  - id: ep{i}\n    url: \"{recv_url}\"\n    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"));
                y
            })
        };
        let yaml = format!(
            "listen: 127.0.0.1:0\ndata_dir: \"{}\"\nnetwork:\n  allow_http: true\n  allow_private: [127.0.0.0/8]\n{section}",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("bench.yaml");
        std::fs::write(&cfg, yaml)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", "--log", "hookgate::app=info,warn", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the gateway process")?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(a) = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(a.to_string());
                    }
                } else if line.contains("ERROR") {
                    eprintln!("gateway: {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| anyhow!("the gateway did not start"))?;
        Ok(Self {
            child,
            addr,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("http://{}/v1/events", self.addr)
    }

    /// Peak RSS (MiB) and current RSS (MiB), from /proc.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    /// User + system CPU seconds (assumes the usual 100 Hz clock tick).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let after = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(11) + t(12)) / 100.0
    }
}

impl Drop for GatewayProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the benchmark.
pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    let dur = Duration::from_secs_f64(a.seconds);
    let mut rows: Vec<Value> = Vec::new();
    let mut baseline_rps = None;
    println!(
        "hookgate bench: {} B events, {} in flight, {:.0} s per scenario, {} cores",
        a.size,
        a.concurrency,
        a.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for sc in &a.scenarios {
        eprintln!("running {sc} …");
        let recv = Arc::new(receiver::Received::default());
        let recv_url = receiver::start(recv.clone()).await?;
        let row = match sc.as_str() {
            "baseline" => {
                let r = load::run(recv_url, a.size, a.concurrency, None, dur, None).await;
                let rps = r.ok as f64 / r.elapsed.as_secs_f64();
                baseline_rps = Some(rps);
                summary(sc, rps, r, None, None, None)
            }
            "ingest" => {
                let gw = GatewayProc::start(0, &recv_url)?;
                let idle = gw.rss_mib().1;
                let r = load::run(gw.url(), a.size, a.concurrency, None, dur, None).await;
                let rps = r.ok as f64 / r.elapsed.as_secs_f64();
                summary(sc, rps, r, None, Some(&gw), Some(idle))
            }
            "e2e" | "fanout" | "latency" => {
                let n = if sc == "fanout" { a.endpoints } else { 1 };
                let gw = GatewayProc::start(n, &recv_url)?;
                let idle = gw.rss_mib().1;
                let rate = (sc == "latency").then_some(a.rate);
                let start_ns = now_ns();
                let r = load::run(gw.url(), a.size, a.concurrency, None, dur, rate).await;
                let expected = r.ok * n as u64;
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
                let dps = got as f64 / secs.max(1e-9);
                let mut lat =
                    std::mem::take(&mut *recv.latencies_us.lock().map_err(|_| anyhow!("lock"))?);
                let [p50, p99, p999] = percentiles(&mut lat);
                let e2e = json!({
                    "deliveries": got, "expected": expected,
                    "deliveries_per_s": dps,
                    "p50_ms": p50, "p99_ms": p99, "p999_ms": p999,
                });
                let rps = r.ok as f64 / r.elapsed.as_secs_f64();
                summary(sc, rps, r, Some(e2e), Some(&gw), Some(idle))
            }
            other => {
                return Err(anyhow!(
                    "unknown scenario {other:?} (baseline, ingest, e2e, fanout, latency)"
                ))
            }
        };
        rows.push(row);
    }
    print_table(&rows, baseline_rps);
    if let Some(p) = &a.out {
        write_json(p, &rows, &a)?;
    }
    Ok(())
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
    println!(
        "\n{:<10} {:>10} {:>7} {:>8} {:>8} {:>8} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}",
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
        let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
        let rps = r["requests_per_s"].as_f64().unwrap_or(0.0);
        let ratio = baseline.map_or("-".into(), |b| format!("{:.2}", rps / b));
        let e = &r["e2e"];
        println!(
            "{:<10} {:>10.0} {:>7} {:>8} {:>8} {:>8} {:>11} {:>9} {:>9} {:>9} {:>7} {:>7}",
            r["scenario"].as_str().unwrap_or(""),
            rps,
            ratio,
            f(&r["request_p50_ms"]),
            f(&r["request_p99_ms"]),
            f(&r["request_p999_ms"]),
            e["deliveries_per_s"]
                .as_f64()
                .map_or("-".into(), |x| format!("{x:.0}")),
            f(&e["p50_ms"]),
            f(&e["p99_ms"]),
            f(&e["p999_ms"]),
            f(&r["gateway_peak_rss_mib"]),
            f(&r["gateway_cpu_s"]),
        );
    }
}

fn write_json(p: &Path, rows: &[Value], a: &BenchArgs) -> anyhow::Result<()> {
    let doc = json!({
        "size": a.size, "concurrency": a.concurrency, "seconds": a.seconds, "rate": a.rate,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "results": rows,
    });
    std::fs::write(p, serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}
