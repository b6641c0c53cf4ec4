//! One plugin call: a fresh `Store` and instance from the plugin's `InstancePre`, the memory
//! cap and deadline installed, `handle` called, failures classified into `PluginError`.
//!
//! Why async wasmtime on the caller's task rather than `spawn_blocking`: a fresh-instance call
//! costs ~30 µs, and a hop to the blocking pool and back adds thread wake-ups of the same order
//! plus unbounded thread growth under load. Instead the guest runs on a fiber (stacks come from
//! the pool) and the epoch callback fires every tick (`engine::EPOCH_TICK`, 1 ms): before the
//! deadline it yields to tokio (`UpdateDeadline::Yield`), so a busy guest holds a worker thread
//! for at most one tick at a time; at or after the wall-clock deadline it traps with
//! `DeadlineExceeded`. Host imports that wait (http) are bounded by the same deadline, and an
//! outer `tokio::time::timeout` is the last line of defence.
//!
//! A fresh instance per call means no state leaks between deliveries (statics start over);
//! with the pooling allocator and keep-resident memory it is cheap. A plugin configured with
//! `reuse: N` trades that for speed (`warm.rs`): `call_reusing` takes an idle instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Decision, Delivery, Problem};
use super::error::PluginError;
use super::host::{wasi, HostState, Services};
use super::limits::{check_output, MemoryLimiter};
use super::runtime::LoadedPlugin;
use super::warm::{Handler, Warm};

/// Extra time past the deadline before the outer timeout gives up on a call stuck in the host.
const HOST_SLACK: Duration = Duration::from_millis(50);

/// Marker error returned by the epoch callback once the wall-clock deadline has passed.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// A fresh `Store` for one call of `plugin`: memory cap, wall-clock deadline (epoch callback),
/// empty WASI context and captured stdio.
fn fresh_store(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
    delivery_id: &str,
) -> Store<HostState> {
    let policy = Arc::clone(&plugin.policy);
    let deadline = Instant::now() + policy.limits.timeout;
    let stdio = wasi::Stdio::default();
    let state = HostState {
        policy: Arc::clone(&policy),
        config_json: config_json.to_string(),
        delivery_id: delivery_id.to_string(),
        deadline,
        services: services.clone(),
        limiter: MemoryLimiter::new(Arc::clone(&policy.name), policy.limits.memory_bytes),
        wasi: wasi::context(&stdio),
        table: ResourceTable::new(),
        stdio,
    };
    let mut store = Store::new(plugin.pre.engine(), state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    // The deadline is read from the store's data, not captured: a reused instance
    // (`warm.rs`) gets a new one per call.
    store.epoch_deadline_callback(|ctx| {
        if Instant::now() >= ctx.data().deadline {
            Err(wasmtime::Error::new(DeadlineExceeded))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store
}

/// Readies a reused instance's store for the next call: what [`fresh_store`] sets per call.
fn rearm(store: &mut Store<HostState>, services: &Services, config_json: &str, delivery_id: &str) {
    let state = store.data_mut();
    state.config_json.clear();
    state.config_json.push_str(config_json);
    state.delivery_id.clear();
    state.delivery_id.push_str(delivery_id);
    state.deadline = Instant::now() + state.policy.limits.timeout;
    state.services = services.clone();
    state.limiter.hit = false;
    store.set_epoch_deadline(1);
}

/// Turns the outcome of a guarded call into the guest's answer or the precise `PluginError`,
/// forwarding the guest's stdout/stderr to the log either way.
fn settle<R>(
    result: Result<Result<R, Failure>, tokio::time::error::Elapsed>,
    plugin: &LoadedPlugin,
    store: &Store<HostState>,
) -> Result<R, PluginError> {
    wasi::forward(store.data());
    let timeout = plugin.policy.limits.timeout;
    match result {
        Err(_elapsed) => Err(PluginError::Deadline {
            plugin: plugin.policy.name.to_string(),
            ms: timeout.as_millis() as u64,
        }),
        Ok(Err(failure)) => Err(classify(failure, &plugin.policy.name, store, timeout)),
        Ok(Ok(returned)) => Ok(returned),
    }
}

/// Where one call's time went: what `plugin test --repeat` reports, so an author can tell the
/// cost of a fresh instance from the cost of their own code.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CallTiming {
    /// Creating the instance (copy-on-write memory image, start functions).
    pub(super) instantiate: Duration,
    /// The guest's `handle`, host imports included.
    pub(super) handle: Duration,
    /// Dropping the store: the pool resets the instance's memory for the next call.
    pub(super) teardown: Duration,
}

/// Calls `plugin`'s `handle` once on a fresh instance; a `deliver` output is validated.
pub(super) async fn call(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
    delivery: &Delivery,
) -> Result<Decision, PluginError> {
    call_timed(plugin, services, config_json, delivery).await.0
}

/// [`call`], also saying where the time went.
pub(super) async fn call_timed(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
    delivery: &Delivery,
) -> (Result<Decision, PluginError>, CallTiming) {
    if plugin.limits.reuse > 1 {
        return call_reusing(plugin, services, config_json, delivery).await;
    }
    let mut timing = CallTiming::default();
    let mut store = fresh_store(plugin, services, config_json, &delivery.id);
    let run = async {
        let handler = instantiate(plugin, &mut store, &mut timing).await?;
        let started = Instant::now();
        let returned = (handler.call_handle(&mut store, delivery).await).map_err(Failure::Call);
        timing.handle = started.elapsed();
        returned
    };
    let result = tokio::time::timeout(plugin.policy.limits.timeout + HOST_SLACK, run).await;
    let settled = settle(result, plugin, &store);
    timing.teardown = teardown(store);
    (judge(plugin, settled), timing)
}

/// A new instance of `plugin` in `store` and its `handle` export, timed into `timing`.
async fn instantiate(
    plugin: &LoadedPlugin,
    store: &mut Store<HostState>,
    timing: &mut CallTiming,
) -> Result<Handler, Failure> {
    let started = Instant::now();
    let instance =
        (plugin.pre.instantiate_async(&mut *store).await).map_err(Failure::Instantiate)?;
    let handler = (plugin.handler.load(&mut *store, &instance)).map_err(Failure::Instantiate)?;
    timing.instantiate = started.elapsed();
    Ok(handler)
}

/// Drops `store` (the pool resets the instance's memory) and says how long that took.
fn teardown(store: Store<HostState>) -> Duration {
    let started = Instant::now();
    drop(store);
    started.elapsed()
}

/// [`call_timed`] for a plugin with `reuse` above 1: an idle instance of `plugin` when there
/// is one (no instantiation, no teardown), else a new one; kept for the next call after a
/// clean answer, dropped after any failure or its `reuse`-th call (`warm.rs`).
async fn call_reusing(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
    delivery: &Delivery,
) -> (Result<Decision, PluginError>, CallTiming) {
    let mut timing = CallTiming::default();
    let (mut store, warm_handler, calls) = match plugin.warm.take() {
        Some(mut warm) => {
            rearm(&mut warm.store, services, config_json, &delivery.id);
            (warm.store, Some(warm.handler), warm.calls)
        }
        None => (
            fresh_store(plugin, services, config_json, &delivery.id),
            None,
            0,
        ),
    };
    let run = async {
        let handler = match warm_handler {
            Some(handler) => handler,
            None => instantiate(plugin, &mut store, &mut timing).await?,
        };
        let started = Instant::now();
        let returned = handler.call_handle(&mut store, delivery).await;
        timing.handle = started.elapsed();
        returned.map(|r| (r, handler)).map_err(Failure::Call)
    };
    let result = tokio::time::timeout(plugin.policy.limits.timeout + HOST_SLACK, run).await;
    let settled = settle(result, plugin, &store);
    let (returned, handler) = match settled {
        Ok((returned, handler)) => (Ok(returned), Some(handler)),
        Err(e) => (Err(e), None),
    };
    let judged = judge(plugin, returned);
    // Kept for the next call if it answered cleanly, has calls left and the pool has room.
    let not_kept = match handler {
        Some(handler) if judged.is_ok() && calls + 1 < plugin.limits.reuse => {
            let warm = Warm {
                store,
                handler,
                calls: calls + 1,
            };
            plugin.warm.put(warm).err().map(|refused| refused.store)
        }
        _ => Some(store),
    };
    if let Some(store) = not_kept {
        timing.teardown = teardown(store);
    }
    (judged, timing)
}

/// The guest's answer as the chain sees it: its own `err`, or a `deliver` output checked
/// against the output rules.
fn judge(
    plugin: &LoadedPlugin,
    returned: Result<Result<Decision, String>, PluginError>,
) -> Result<Decision, PluginError> {
    let name = &*plugin.policy.name;
    match returned? {
        Err(message) => Err(PluginError::Guest {
            plugin: name.to_string(),
            message,
        }),
        Ok(Decision::Deliver(out)) => {
            check_output(
                name,
                &out.body,
                &out.headers,
                plugin.policy.limits.max_output_bytes,
            )?;
            Ok(Decision::Deliver(out))
        }
        Ok(decision @ Decision::Drop(_)) => Ok(decision),
    }
}

/// Creates one instance and drops it, calling nothing: how `plugin check` proves the component
/// fits the instance pool and its memory cap, which linking alone cannot tell.
pub(super) async fn instantiate_only(
    plugin: &LoadedPlugin,
    services: &Services,
) -> Result<Duration, PluginError> {
    let mut store = fresh_store(plugin, services, "null", "plugin-check");
    let run = async {
        let started = Instant::now();
        (plugin.pre.instantiate_async(&mut store).await).map_err(Failure::Instantiate)?;
        Ok(started.elapsed())
    };
    let result = tokio::time::timeout(plugin.policy.limits.timeout + HOST_SLACK, run).await;
    settle(result, plugin, &store)
}

/// Asks `plugin` (its `validate` export, WIT 0.1.1) what is wrong with a chain entry's config,
/// on a fresh instance under the same limits as a call. A plugin built against 0.1.0 has no
/// check: its configs are accepted here and judged at the first delivery, as before.
pub(super) async fn check_config(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
) -> Result<Vec<Problem>, PluginError> {
    let Some(validate) = &plugin.validate else {
        return Ok(Vec::new());
    };
    let mut store = fresh_store(plugin, services, config_json, "config-check");
    let run = async {
        let instance =
            (plugin.pre.instantiate_async(&mut store).await).map_err(Failure::Instantiate)?;
        let check = (validate.load(&mut store, &instance)).map_err(Failure::Instantiate)?;
        (check.call_check_config(&mut store, config_json).await).map_err(Failure::Call)
    };
    let result = tokio::time::timeout(plugin.policy.limits.timeout + HOST_SLACK, run).await;
    settle(result, plugin, &store)
}

/// Where a wasmtime error came from.
enum Failure {
    Instantiate(wasmtime::Error),
    Call(wasmtime::Error),
}

/// Turns a wasmtime error into the precise `PluginError`.
fn classify(
    failure: Failure,
    plugin: &str,
    store: &Store<HostState>,
    timeout: Duration,
) -> PluginError {
    let plugin = plugin.to_string();
    let err = match failure {
        Failure::Instantiate(e) | Failure::Call(e)
            if e.downcast_ref::<DeadlineExceeded>().is_some() =>
        {
            return PluginError::Deadline {
                plugin,
                ms: timeout.as_millis() as u64,
            }
        }
        Failure::Instantiate(e) | Failure::Call(e) if store.data().limiter.hit => {
            let _ = e;
            return PluginError::Memory {
                plugin,
                limit_mib: (store.data().policy.limits.memory_bytes >> 20) as u64,
            };
        }
        Failure::Instantiate(e) if e.downcast_ref::<wasmtime::Trap>().is_none() => {
            // Not the guest's fault: pool exhausted, a start function missing an import…
            return PluginError::Host {
                plugin,
                message: format!("instantiation failed: {e:#}"),
            };
        }
        Failure::Instantiate(e) | Failure::Call(e) => e,
    };
    let message = match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{err:#}"),
    };
    PluginError::Trap { plugin, message }
}
