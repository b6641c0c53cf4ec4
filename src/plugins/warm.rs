//! Opt-in instance reuse: `plugins.NAME.reuse: N` lets one instance serve up to N calls.
//!
//! Why: a fresh instance per call is the default and stays so, because it is the isolation
//! guarantee (no state survives a delivery). For Rust guests it costs ~10 µs and for QuickJS
//! ~0.1 ms, but a componentize-py component spends ~0.6 ms instantiating (14 core instances,
//! thousands of `ref.func` table entries) and its first pass through any code path is several
//! times slower than the next (BENCHMARKS.md, issue 16): reuse buys Python plugins a factor of
//! several per call. The trade-off, stated in the README: with `reuse` above 1, module-level
//! state — Python globals, JS module variables, a Rust `static` — written by one delivery is
//! seen by the next deliveries of that plugin, whatever their endpoint or tenant. Memory stays
//! capped (the heap persists, so a leak hits the cap and that instance is dropped).
//!
//! What is reset per call: the chain entry's config, the delivery id, the deadline, the
//! memory-cap flag, captured stdout/stderr (forwarded after each call). An instance is dropped,
//! never reused, after any failure (trap, deadline, memory cap, guest error) and after N calls.
//!
//! Idle instances hold instance-pool slots, so they are bounded: a few per plugin and a share
//! of the pool in total, leaving the rest for fresh-instance calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use wasmtime::Store;

pub(super) use super::bindings::exports::hookgate::plugin::handler::Guest as Handler;
use super::engine::MAX_CONCURRENT_INSTANCES;
use super::host::HostState;

/// Idle instances kept per plugin: enough for the calls two cores run at once, with slack.
const MAX_IDLE_PER_PLUGIN: usize = 4;

/// Idle instances kept across all plugins: a quarter of the pool, so reuse never starves
/// fresh-instance calls of slots.
const MAX_IDLE_TOTAL: usize = MAX_CONCURRENT_INSTANCES as usize / 4;

/// Idle instances across every plugin of the process.
static IDLE_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// An instance between calls: its store (memory, globals), its `handle` export, and the calls
/// it has served.
pub(super) struct Warm {
    pub(super) store: Store<HostState>,
    pub(super) handler: Handler,
    pub(super) calls: u32,
}

/// One plugin version's idle instances. Dropped with the version (a hot reload), which frees
/// their pool slots.
#[derive(Default)]
pub(super) struct WarmPool {
    idle: Mutex<Vec<Warm>>,
}

impl WarmPool {
    /// An idle instance, most recently used first (its pages are the likeliest to be hot).
    pub(super) fn take(&self) -> Option<Warm> {
        let warm = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
        IDLE_TOTAL.fetch_sub(1, Ordering::AcqRel);
        Some(warm)
    }

    /// Keeps `warm` for a later call, or hands it back when the per-plugin or process bound
    /// is reached (the caller drops it, which returns its slot to the pool).
    pub(super) fn put(&self, warm: Warm) -> Result<(), Warm> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= MAX_IDLE_PER_PLUGIN {
            return Err(warm);
        }
        if IDLE_TOTAL.fetch_add(1, Ordering::AcqRel) >= MAX_IDLE_TOTAL {
            IDLE_TOTAL.fetch_sub(1, Ordering::AcqRel);
            return Err(warm);
        }
        idle.push(warm);
        Ok(())
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(|e| e.into_inner());
        IDLE_TOTAL.fetch_sub(idle.len(), Ordering::AcqRel);
    }
}

impl std::fmt::Debug for WarmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |v| v.len());
        f.debug_struct("WarmPool").field("idle", &idle).finish()
    }
}
