//! `hookgate:plugin/log`, plus forwarding of captured stdout/stderr: tracing events tagged with
//! the plugin name, rate-limited per plugin so a chatty or hostile plugin cannot flood the log.
//!
//! The limit is a fixed one-second window of `LINES_PER_SECOND` lines shared by all of a
//! plugin's calls; excess lines are dropped and counted, and the count is logged once when the
//! next window opens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::super::bindings::hookgate::plugin::log::{Host, Level};
use super::HostState;

/// Lines per second per plugin that reach the log.
pub const LINES_PER_SECOND: u32 = 100;
/// Longer messages are cut (on a char boundary) to this many bytes.
const MAX_MESSAGE_BYTES: usize = 4096;

/// Per-plugin rate limiter for log lines.
#[derive(Default)]
pub(in super::super) struct LogLimiter {
    window: Mutex<Option<Window>>,
    /// Lines dropped over the plugin's lifetime (tests, metrics).
    pub(in super::super) dropped_total: AtomicU64,
}

struct Window {
    start: Instant,
    count: u32,
    dropped: u64,
}

impl LogLimiter {
    /// Whether one more line may be logged now; reports the previous window's drops.
    fn allow(&self, plugin: &str) -> bool {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-update of two counters.
        let mut guard = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let w = guard.get_or_insert(Window {
            start: now,
            count: 0,
            dropped: 0,
        });
        if now.duration_since(w.start) >= Duration::from_secs(1) {
            if w.dropped > 0 {
                tracing::warn!(
                    plugin,
                    dropped = w.dropped,
                    "plugin log lines dropped by rate limit"
                );
            }
            *w = Window {
                start: now,
                count: 0,
                dropped: 0,
            };
        }
        if w.count < LINES_PER_SECOND {
            w.count += 1;
            true
        } else {
            w.dropped += 1;
            self.dropped_total.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

fn truncate(message: &str) -> &str {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut end = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// Emits one plugin line if the plugin's rate limit allows it.
pub(in super::super) fn emit(state: &HostState, level: Level, source: &str, message: &str) {
    let policy = &state.policy;
    if !policy.log.allow(&policy.name) {
        return;
    }
    let plugin = &*policy.name;
    let delivery_id = state.delivery_id.as_str();
    let message = truncate(message);
    match level {
        Level::Trace => tracing::trace!(plugin, delivery_id, source, "{message}"),
        Level::Debug => tracing::debug!(plugin, delivery_id, source, "{message}"),
        Level::Info => tracing::info!(plugin, delivery_id, source, "{message}"),
        Level::Warn => tracing::warn!(plugin, delivery_id, source, "{message}"),
        Level::Error => tracing::error!(plugin, delivery_id, source, "{message}"),
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        super::count(&self.policy.calls.log);
        emit(self, level, "log", &message);
    }
}
