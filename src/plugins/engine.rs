//! The wasmtime `Engine`: configuration (one comment per knob) and the epoch ticker thread.
//!
//! Only this file knows wasmtime's `Config`. Every setting here changes compiled code or the
//! instance allocator, so it is also part of the compiled-code cache key
//! (`Engine::precompile_compatibility_hash`, see `cache.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the ticker bumps the engine's epoch. A running guest notices the deadline or yields
/// to the tokio scheduler at most this late; 1 ms keeps the 100 ms default deadline precise and
/// bounds how long a busy guest holds a runtime worker, for ~1,000 cheap wakeups per second.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Largest memory cap a plugin may be configured with: the pool's per-slot maximum. Per-plugin
/// caps (`PluginLimits::memory_bytes`, default 32 MiB) are enforced below this by the limiter.
pub const MAX_PLUGIN_MEMORY: usize = 256 << 20;

/// Instances that may exist at once (one per in-flight plugin call; a chain runs its plugins one
/// after another, so this is the number of deliveries running plugins concurrently). A call
/// beyond it fails with a host error rather than waiting.
pub const MAX_CONCURRENT_INSTANCES: u32 = 256;

/// Ticks without a plugin call in flight after which the ticker sleeps until the next call:
/// an idle gateway then wakes every few seconds instead of a thousand times a second.
const IDLE_TICKS_BEFORE_PARKING: u32 = 100;

/// How often a parked ticker checks whether its engine is gone.
const PARKED_CHECK: Duration = Duration::from_secs(5);

/// The epoch ticker's side of plugin calls: how many run, so the ticker can sleep while none
/// does and be woken when one starts.
#[derive(Debug)]
pub(super) struct Ticker {
    state: Arc<TickerState>,
    thread: Thread,
}

#[derive(Debug, Default)]
struct TickerState {
    in_flight: AtomicUsize,
    /// Epoch increments so far (read by tests).
    ticks: AtomicU64,
    parked: AtomicBool,
}

/// A call in flight; dropping it ends the call for the ticker.
pub(super) struct Running<'a>(&'a Ticker);

impl Ticker {
    /// Marks a call as running until the guard drops, waking the ticker if it sleeps. Under
    /// load the ticker is awake and `unpark` is one atomic swap, no system call.
    pub(super) fn running(&self) -> Running<'_> {
        if self.state.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
        Running(self)
    }

    /// Epoch increments so far.
    #[cfg(test)]
    pub(super) fn ticks(&self) -> u64 {
        self.state.ticks.load(Ordering::Acquire)
    }

    /// Whether the ticker sleeps because no call ran for a while.
    #[cfg(test)]
    pub(super) fn parked(&self) -> bool {
        self.state.parked.load(Ordering::Acquire)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Builds the engine used for every plugin and starts its epoch ticker.
pub(super) fn build() -> wasmtime::Result<(Engine, Ticker)> {
    let mut pool = PoolingAllocationConfig::new();
    // One component instance per in-flight call.
    pool.total_component_instances(MAX_CONCURRENT_INSTANCES);
    // A wasm32-wasip2 Rust component has one main module plus a few small shim modules
    // (adapter glue, `fixup`), each a core instance; a Python component (componentize-py) has
    // 14. These bounds only count instances (no memory is reserved per core instance), so they
    // leave room for every call to be a Python one and for Python native modules.
    pool.total_core_instances(MAX_CONCURRENT_INSTANCES * 16);
    pool.max_core_instances_per_component(32);
    // One linear memory per component (the guest's); shims own none.
    pool.total_memories(MAX_CONCURRENT_INSTANCES);
    pool.max_memories_per_component(2);
    // Indirect-call tables: the guest's plus the shims'.
    pool.total_tables(MAX_CONCURRENT_INSTANCES * 4);
    pool.max_tables_per_component(8);
    // Async calls run on fiber stacks; one per in-flight call.
    pool.total_stacks(MAX_CONCURRENT_INSTANCES);
    // Virtual reservation cap per memory slot; the limiter enforces the real per-plugin cap.
    pool.max_memory_size(MAX_PLUGIN_MEMORY);
    // Keep the first 4 MiB of a freed memory slot resident and just zero it on reuse instead of
    // `madvise`-ing it away: fresh-instance calls drop from ~56 µs (on-demand) / ~43 µs (pooling)
    // to ~28 µs (shared/TECH-NOTES.md). Costs up to 4 MiB RSS per warm slot.
    pool.linear_memory_keep_resident(4 << 20);
    // Reset only the pages a call actually dirtied (Linux ≥ 6.7 `PAGEMAP_SCAN`; `Auto` falls
    // back to resetting the low `keep_resident` bytes elsewhere). Instance teardown was the
    // largest single cost of a fresh-instance call without it.
    pool.pagemap_scan(Enabled::Auto);
    // Same trade for tables and fiber stacks, which are small.
    pool.table_keep_resident(64 << 10);
    pool.async_stack_keep_resident(64 << 10);

    let mut config = Config::new();
    // Plugins are components (WIT contract), not core modules.
    config.wasm_component_model(true);
    // Deadlines: the ticker bumps the epoch, each store sets a deadline in ticks (`call.rs`).
    // Cheaper than fuel (~20% vs ~30% per call, TECH-NOTES) and measured in wall-clock time.
    config.epoch_interruption(true);
    // Preallocated slots: no mmap/munmap per call, bounded total footprint.
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // Guest stack: 512 KiB is plenty for handlers; deep recursion traps as "stack overflow".
    config.max_wasm_stack(512 << 10);
    // Fiber stack for async calls must exceed the wasm stack plus host-call headroom.
    config.async_stack_size(1 << 20);
    // Copy-on-write initialisation of linear memory from the module image: faster instantiation.
    config.memory_init_cow(true);
    // Compile functions on several threads (compiles run on the blocking pool, see `runtime.rs`).
    config.parallel_compilation(true);
    // No component-model-async machinery in the store: plugins are plain synchronous exports
    // called with `call_async` (the fiber is only for epoch yields and async host imports).
    // With it on, `call_async` takes the concurrent path: a worker fiber parked in every store,
    // resumed once more on drop with a formatted "future dropped" error (a captured backtrace
    // when RUST_BACKTRACE is set). Off: 18 → 10.5 µs per 1 KiB identity call (5 µs of it the
    // backtrace), gateway CPU per delivered event with a plugin 240–300 → 180–205 µs.
    config.concurrency_support(false);
    lower_compile_priority();
    let engine = Engine::new(&config)?;
    let ticker = spawn_ticker(engine.weak())?;
    Ok((engine, ticker))
}

/// Nice value of the threads Cranelift compiles on.
const COMPILE_NICE: i32 = 10;

/// `parallel_compilation` runs Cranelift on rayon's global pool. Building that pool with
/// threads at nice [`COMPILE_NICE`] makes a compile (8–17 s for a Python component, on every
/// core) take only the CPU deliveries leave idle, so a hot reload or an API change that loads a
/// big plugin does not slow the traffic already flowing; an idle machine compiles as fast as
/// before. The pool is per process: the first host builds it, later ones find it built.
fn lower_compile_priority() {
    let _ = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("hookgate-compile-{i}"))
        .start_handler(|_| {
            // SAFETY: `setpriority(PRIO_PROCESS, 0, n)` only changes the nice value of the
            // calling thread (on Linux each thread has its own); a failure leaves it as it was.
            #[cfg(target_os = "linux")]
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, 0, COMPILE_NICE);
            }
        })
        .build_global();
}

/// Increments the epoch every `EPOCH_TICK` while plugin calls run, until the engine is
/// dropped. After [`IDLE_TICKS_BEFORE_PARKING`] ticks with no call it parks until
/// [`Ticker::running`] wakes it: a call that starts then gets its first tick within one
/// `EPOCH_TICK` as usual (its deadline is wall-clock time, checked at each tick).
///
/// Holding only a weak handle is what lets the thread end: a strong one would keep the engine
/// alive forever. Without a ticker deadlines never fire, so failing to start it fails engine
/// creation.
fn spawn_ticker(engine: wasmtime::EngineWeak) -> std::io::Result<Ticker> {
    let state = Arc::new(TickerState::default());
    let shared = Arc::clone(&state);
    let handle = std::thread::Builder::new()
        .name("hookgate-epoch".into())
        .spawn(move || {
            let mut idle = 0u32;
            loop {
                std::thread::sleep(EPOCH_TICK);
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
                shared.ticks.fetch_add(1, Ordering::AcqRel);
                if shared.in_flight.load(Ordering::Acquire) > 0 {
                    idle = 0;
                    continue;
                }
                idle += 1;
                if idle < IDLE_TICKS_BEFORE_PARKING {
                    continue;
                }
                idle = 0;
                shared.parked.store(true, Ordering::Release);
                // `unpark` before `park` leaves a token, so a call starting between the load
                // and the park is never missed.
                while shared.in_flight.load(Ordering::Acquire) == 0 {
                    std::thread::park_timeout(PARKED_CHECK);
                    if engine.upgrade().is_none() {
                        return;
                    }
                }
                shared.parked.store(false, Ordering::Release);
            }
        })?;
    Ok(Ticker {
        state,
        thread: handle.thread().clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Polls `f` every 10 ms for up to 10 s.
    fn eventually(mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn the_ticker_sleeps_while_no_call_runs_and_wakes_for_one() {
        let (_engine, ticker) = build().unwrap();
        assert!(eventually(|| ticker.parked()), "idle ticker never parked");
        let before = ticker.ticks();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(ticker.ticks(), before, "a parked ticker does not tick");

        // The call wakes the ticker at once, not at its next periodic check (`PARKED_CHECK`).
        let started = Instant::now();
        let running = ticker.running();
        assert!(
            eventually(|| ticker.ticks() > before + 5 && !ticker.parked()),
            "a running call wakes the ticker"
        );
        assert!(
            started.elapsed() < PARKED_CHECK / 5,
            "woken only by the periodic check: {:?}",
            started.elapsed()
        );
        // While a call runs, the ticker never parks, however long the call.
        std::thread::sleep(Duration::from_millis(300));
        assert!(!ticker.parked());
        drop(running);
        assert!(eventually(|| ticker.parked()), "parks again once idle");
    }
}
