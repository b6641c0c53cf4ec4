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
//! with the pooling allocator and keep-resident memory it is cheap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Decision, Delivery};
use super::error::PluginError;
use super::host::{wasi, HostState, Services};
use super::limits::{check_output, MemoryLimiter};
use super::runtime::LoadedPlugin;

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

/// Calls `plugin`'s `handle` once on a fresh instance; a `deliver` output is validated.
pub(super) async fn call(
    plugin: &LoadedPlugin,
    services: &Services,
    config_json: &str,
    delivery: &Delivery,
) -> Result<Decision, PluginError> {
    let policy = Arc::clone(&plugin.policy);
    let name = &*policy.name;
    let timeout = policy.limits.timeout;
    let deadline = Instant::now() + timeout;
    let stdio = wasi::Stdio::default();
    let state = HostState {
        policy: Arc::clone(&policy),
        config_json: config_json.to_string(),
        delivery_id: delivery.id.clone(),
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
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(DeadlineExceeded))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });

    let deadline_err = || PluginError::Deadline {
        plugin: name.to_string(),
        ms: timeout.as_millis() as u64,
    };
    let run = async {
        let instance = plugin
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(Failure::Instantiate)?;
        instance
            .hookgate_plugin_handler()
            .call_handle(&mut store, delivery)
            .await
            .map_err(Failure::Call)
    };
    let result = tokio::time::timeout(timeout + HOST_SLACK, run).await;
    wasi::forward(store.data());
    let returned = match result {
        Err(_elapsed) => return Err(deadline_err()),
        Ok(Err(failure)) => return Err(classify(failure, name, &store, timeout)),
        Ok(Ok(returned)) => returned,
    };
    match returned {
        Err(message) => Err(PluginError::Guest {
            plugin: name.to_string(),
            message,
        }),
        Ok(Decision::Deliver(out)) => {
            check_output(
                name,
                &out.body,
                &out.headers,
                policy.limits.max_output_bytes,
            )?;
            Ok(Decision::Deliver(out))
        }
        Ok(decision @ Decision::Drop(_)) => Ok(decision),
    }
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
