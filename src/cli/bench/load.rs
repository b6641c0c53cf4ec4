//! The load generator: POSTs JSON events, closed-loop (N workers as fast as they can) or
//! open-loop at a fixed rate, and records each request's latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::now_ns;

/// What a run produced.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed or got a non-2xx.
    pub errors: u64,
    /// Latency of each 2xx, µs.
    pub latencies_us: Vec<u32>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// An event body of about `size` bytes carrying its send time.
pub fn body(size: usize, seq: u64) -> Vec<u8> {
    let head = format!(
        "{{\"type\":\"bench.event\",\"data\":{{\"sent_ns\":{},\"seq\":{seq},\"pad\":\"",
        now_ns()
    );
    let pad = size.saturating_sub(head.len() + 4);
    let mut b = head.into_bytes();
    b.resize(b.len() + pad, b'x');
    b.extend_from_slice(b"\"}}");
    b
}

/// Sends `total` requests (or until `duration`), with `concurrency` in flight, optionally paced
/// to `rate` per second.
pub async fn run(
    url: String,
    key: Option<&str>,
    size: usize,
    concurrency: usize,
    total: Option<u64>,
    duration: Duration,
    rate: Option<f64>,
) -> LoadResult {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(k) = key.and_then(|k| format!("Bearer {k}").parse().ok()) {
        headers.insert(reqwest::header::AUTHORIZATION, k);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .no_proxy()
        .pool_max_idle_per_host(concurrency)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default();
    let start = Instant::now();
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u32>>();
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let mut seq = 0u64;
    let mut next = Instant::now();
    loop {
        if total.is_some_and(|t| seq >= t) || (total.is_none() && start.elapsed() >= duration) {
            break;
        }
        if let Some(iv) = interval {
            next += iv;
            tokio::time::sleep_until(next.into()).await;
        }
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let (client, url, tx) = (client.clone(), url.clone(), tx.clone());
        let b = body(size, seq);
        seq += 1;
        tokio::spawn(async move {
            let t = Instant::now();
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .body(b)
                .send()
                .await;
            let ok = matches!(&r, Ok(resp) if resp.status().is_success());
            let _ = tx.send(ok.then(|| t.elapsed().as_micros().min(u32::MAX as u128) as u32));
            drop(permit);
        });
    }
    drop(tx);
    let mut res = LoadResult::default();
    while let Some(r) = rx.recv().await {
        match r {
            Some(us) => {
                res.ok += 1;
                res.latencies_us.push(us);
            }
            None => res.errors += 1,
        }
    }
    res.elapsed = start.elapsed();
    res
}

/// Sends the requests `make(0..n)`, at most `concurrency` at once, and fails naming `what` if
/// any is refused (no answer, or not 2xx). `progress(i)` runs as request `i` is queued. The
/// scenarios that prepare a gateway (a backlog, endpoints, batches) all send this way.
pub async fn send_all(
    n: usize,
    concurrency: usize,
    what: &str,
    mut make: impl FnMut(usize) -> reqwest::RequestBuilder,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<()> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut refused = false;
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await?;
        let req = make(i);
        tasks.spawn(async move {
            let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
            drop(permit);
            ok
        });
        progress(i);
        while let Some(done) = tasks.try_join_next() {
            refused |= !done.unwrap_or(false);
        }
        if refused {
            break;
        }
    }
    while let Some(done) = tasks.join_next().await {
        refused |= !done.unwrap_or(false);
    }
    if refused {
        anyhow::bail!("{what} was refused");
    }
    Ok(())
}
