//! What retention costs and what storage takes: the `-pruned` variants of `e2e` and `latency`
//! (every finished delivery expires a second after it finishes, so the pruner works at the rate
//! deliveries finish), and `sizing` (bytes of store per delivery and per attempt).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use serde_json::{json, Value};

use super::gateway::{GatewayProc, Setup, BENCH_ADMIN_KEY};
use super::scenarios::{publish_batches, wait_for};
use super::{receiver, Progress};

/// The suffix that runs a load scenario with [`SHORT_RETENTION`].
pub const PRUNED_SUFFIX: &str = "-pruned";

/// Every outcome kept one second: the pruner removes deliveries about as fast as they finish.
pub const SHORT_RETENTION: &str =
    "retention: { succeeded: 1s, dead: 1s, filtered: 1s, cancelled: 1s }\n";

/// The store's `storage` object from `GET /v1/stats` (size, rows, pruned, how far behind).
pub async fn storage(gw: &GatewayProc) -> anyhow::Result<Value> {
    Ok(stats(gw).await?["storage"].take())
}

/// `GET /v1/stats`, gateway-wide.
async fn stats(gw: &GatewayProc) -> anyhow::Result<Value> {
    reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{}/v1/stats?limit=1", gw.base()))
        .bearer_auth(BENCH_ADMIN_KEY)
        .send()
        .await?
        .error_for_status()
        .context("GET /v1/stats")?
        .json()
        .await
        .context("GET /v1/stats")
}

/// Deliveries the pruner has removed since the gateway started.
pub fn pruned_deliveries(storage: &Value) -> u64 {
    storage["pruned_since_start"]["deliveries"]
        .as_u64()
        .unwrap_or(0)
}

/// Attempts per delivery in the failing half of `sizing`: the first and four retries.
const FAILING_ATTEMPTS: u64 = 5;

/// `sizing`: `n` events to one endpoint, twice, each on a fresh gateway with the default
/// retention (nothing is pruned): once to a receiver that answers 204 (one attempt each), once
/// to one that answers 500 until the retries are used up ([`FAILING_ATTEMPTS`] each). The store
/// size over `n` is the cost of a delivered event; the difference over the extra attempts is
/// the cost of an attempt.
pub async fn sizing(n: usize, size: usize, p: &Progress) -> anyhow::Result<Value> {
    let delivered = fill(n, size, receiver::Mode::Healthy, p).await?;
    let failed = fill(n, size, receiver::Mode::Failing, p).await?;
    let (b1, b5) = (bytes(&delivered)?, bytes(&failed)?);
    let per_delivery = b1 as f64 / n as f64;
    let per_attempt = b5.saturating_sub(b1) as f64 / (n as u64 * (FAILING_ATTEMPTS - 1)) as f64;
    Ok(json!({
        "scenario": "sizing",
        "events": n, "size": size,
        "bytes_one_attempt": b1, "bytes_five_attempts": b5,
        "bytes_per_delivery": per_delivery,
        "bytes_per_attempt": per_attempt,
        "rows_one_attempt": delivered["rows"], "rows_five_attempts": failed["rows"],
    }))
}

fn bytes(storage: &Value) -> anyhow::Result<u64> {
    storage["bytes"]
        .as_u64()
        .ok_or_else(|| anyhow!("/v1/stats has no storage.bytes"))
}

/// Publishes `n` events to a fresh gateway whose receiver answers as `mode` says, waits until
/// nothing is pending, and returns its `storage` object.
async fn fill(n: usize, size: usize, mode: receiver::Mode, p: &Progress) -> anyhow::Result<Value> {
    let recv = Arc::new(receiver::Received {
        mode,
        ..Default::default()
    });
    let url = receiver::start(recv.clone()).await?;
    let setup = Setup {
        endpoints: 1,
        delivery: "delivery:\n  retry_schedule: [10ms, 10ms, 10ms, 10ms]\n  jitter: 0\n  auto_disable_after: 0\n".into(),
        ..Setup::default()
    };
    let gw = GatewayProc::start(&setup, &url)?;
    publish_batches(&gw, n, size, "sizing: publishing", p).await?;
    let want = n as u64
        * match mode {
            receiver::Mode::Failing => FAILING_ATTEMPTS,
            _ => 1,
        };
    let done = wait_for(Duration::from_secs(600), p, || {
        let got = recv.count.load(Ordering::Relaxed);
        (got >= want, format!("sizing: {got} / {want} attempts"))
    })
    .await;
    if !done {
        return Err(anyhow!("sizing: the receiver did not get {want} attempts"));
    }
    // The last attempts' records commit just after their responses arrive.
    for _ in 0..100 {
        let mut s = stats(&gw).await?;
        if s["pending"] == 0 {
            return Ok(s["storage"].take());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(anyhow!(
        "sizing: deliveries still pending 10 s after the last attempt"
    ))
}

/// After a round's table: how far the pruner kept up in each `-pruned` row, and the store's
/// size at the end of the load beside the same scenario without pruning.
pub fn print_store(rows: &[Value]) {
    let mb = |v: &Value| v.as_f64().map_or("-".into(), |b| format!("{:.1}", b / 1e6));
    for r in rows {
        let Some(base) = r["scenario"]
            .as_str()
            .and_then(|s| s.strip_suffix(PRUNED_SUFFIX))
        else {
            continue;
        };
        let st = &r["store"];
        let plain = rows
            .iter()
            .find(|o| o["scenario"] == base && o["round"] == r["round"]);
        println!(
            "{}: by the end of the load {} of {} delivered were pruned ({} s behind); store {} MB (without pruning: {} MB)",
            r["scenario"].as_str().unwrap_or(""),
            st["pruned_in_load"],
            st["delivered_in_load"],
            st["prune_behind_s"],
            mb(&st["bytes_at_end_of_load"]),
            plain.map_or("-".into(), |o| mb(&o["store"]["bytes_at_end_of_load"])),
        );
    }
}

/// After several rounds, for `e2e` and `latency` run beside their `-pruned` variant: the
/// median of each round's deliveries ratio, and the medians of publish p99 and
/// publish→receive p99 of each.
pub fn print_pair_medians(rows: &[Value]) {
    for base in ["e2e", "latency"] {
        let pruned = format!("{base}{PRUNED_SUFFIX}");
        let of = |sc: &str, f: &dyn Fn(&Value) -> Option<f64>| -> Vec<(u64, f64)> {
            rows.iter()
                .filter(|r| r["scenario"] == sc)
                .filter_map(|r| Some((r["round"].as_u64()?, f(r)?)))
                .collect()
        };
        let deliveries = |r: &Value| r["e2e"]["deliveries_per_s"].as_f64();
        let (with, without) = (of(&pruned, &deliveries), of(base, &deliveries));
        let ratios: Vec<f64> = with
            .iter()
            .filter_map(|(round, w)| without.iter().find(|(r, _)| r == round).map(|(_, o)| w / o))
            .collect();
        if ratios.is_empty() {
            continue;
        }
        let med = |sc: &str, f: &dyn Fn(&Value) -> Option<f64>| {
            super::median(of(sc, f).into_iter().map(|(_, x)| x).collect())
        };
        let publish_p99 = |r: &Value| r["request_p99_ms"].as_f64();
        let e2e_p99 = |r: &Value| r["e2e"]["p99_ms"].as_f64();
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{pruned}/{base} deliveries: median {:.2}× (rounds: {}); publish p99 {:.2} vs {:.2} ms; publish→receive p99 {:.2} vs {:.2} ms",
            super::median(ratios.clone()),
            each.join(" "),
            med(&pruned, &publish_p99),
            med(base, &publish_p99),
            med(&pruned, &e2e_p99),
            med(base, &e2e_p99),
        );
    }
}

/// The `sizing` result.
pub fn print_sizing(r: &Value) {
    println!(
        "\nsizing: {} events of {} B, one endpoint: {:.0} B of store per delivered event (one attempt); {:.0} B per further attempt (500 answers, {} attempts each)",
        r["events"],
        r["size"],
        r["bytes_per_delivery"].as_f64().unwrap_or(0.0),
        r["bytes_per_attempt"].as_f64().unwrap_or(0.0),
        FAILING_ATTEMPTS
    );
}
