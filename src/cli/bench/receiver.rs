//! The benchmark's receiver: answers 204 as fast as it can and notes when each event arrived,
//! measured against the publish time the load generator put in the event.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use super::now_ns;

/// Counts and publish→receive latencies (µs).
#[derive(Default)]
pub struct Received {
    /// Requests received.
    pub count: AtomicU64,
    /// Requests answered 2xx.
    pub ok: AtomicU64,
    /// How it answers.
    pub mode: Mode,
    /// Publish→receive latency of each, in microseconds.
    pub latencies_us: Mutex<Vec<u32>>,
    /// When the last request arrived (ns since epoch).
    pub last_ns: AtomicU64,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// 204 to everything.
    #[default]
    Healthy,
    /// Every 10th request gets a 500, every 100th stalls past any timeout.
    Faulty,
    /// 500 to everything (the sizing scenario's deliveries that use up their retries).
    Failing,
}

/// Starts the receiver on a loopback port; returns its URL.
pub async fn start(state: Arc<Received>) -> anyhow::Result<String> {
    let app = axum::Router::new().fallback(handle).with_state(state);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", l.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok(url)
}

/// How long a stalled request hangs: longer than the gateway's timeout in the faults scenario.
const STALL: std::time::Duration = std::time::Duration::from_secs(3);

async fn handle(State(st): State<Arc<Received>>, body: Bytes) -> StatusCode {
    let now = now_ns();
    let n = st.count.fetch_add(1, Ordering::Relaxed) + 1;
    match st.mode {
        Mode::Healthy => {}
        Mode::Faulty if n % 100 == 1 => {
            tokio::time::sleep(STALL).await;
            return StatusCode::NO_CONTENT; // too late: the gateway has timed out
        }
        Mode::Faulty if n % 10 == 0 => return StatusCode::INTERNAL_SERVER_ERROR,
        Mode::Faulty => {}
        Mode::Failing => return StatusCode::INTERNAL_SERVER_ERROR,
    }
    st.ok.fetch_add(1, Ordering::Relaxed);
    st.last_ns.fetch_max(now, Ordering::Relaxed);
    if let Some(sent) = sent_ns(&body) {
        let us = (now.saturating_sub(sent) / 1000).min(u32::MAX as u64) as u32;
        if let Ok(mut v) = st.latencies_us.lock() {
            v.push(us);
        }
    }
    StatusCode::NO_CONTENT
}

/// Finds `"sent_ns":<digits>` without parsing the whole body.
fn sent_ns(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"sent_ns\":";
    let pos = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let digits: Vec<u8> = body[pos..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}
