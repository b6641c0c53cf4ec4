//! The wasmtime `Engine`: configuration (one comment per knob) and the epoch ticker thread.
//!
//! Only this file knows wasmtime's `Config`. Every setting here changes compiled code or the
//! instance allocator, so it is also part of the compiled-code cache key
//! (`Engine::precompile_compatibility_hash`, see `cache.rs`).

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

/// Builds the engine used for every plugin and starts its epoch ticker.
pub(super) fn build() -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    // One component instance per in-flight call.
    pool.total_component_instances(MAX_CONCURRENT_INSTANCES);
    // A wasm32-wasip2 Rust component has one main module plus a few small shim modules
    // (adapter glue, `fixup`), each a core instance.
    pool.total_core_instances(MAX_CONCURRENT_INSTANCES * 8);
    pool.max_core_instances_per_component(16);
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
    let engine = Engine::new(&config)?;
    spawn_ticker(engine.weak())?;
    Ok(engine)
}

/// Increments the epoch every `EPOCH_TICK` until the engine is dropped. Holding only a weak
/// handle is what lets the thread end: a strong one would keep the engine alive forever.
/// Without a ticker deadlines never fire, so failing to start it fails engine creation.
fn spawn_ticker(engine: wasmtime::EngineWeak) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("hookgate-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })?;
    Ok(())
}
