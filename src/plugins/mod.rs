//! WebAssembly plugins: the host side of `wit/plugin.wit` (`hookgate:plugin@0.1.0`).
//!
//! Owns the wasmtime engine, the compiled-code cache, one `InstancePre` per loaded plugin,
//! per-plugin limits, the epoch ticker, the host imports and the chain runner. Callers see one
//! operation: `PluginHost::run_chain(chain, input) -> ChainOutcome`; plus `load`/`reload`/
//! `reload_if_changed`/`status` for configuration and operators.
//!
//! Must not import `axum`, `api`, `dispatch` or `delivery`: kv storage and outbound HTTP are
//! injected as `KvBackend` and `HttpFetcher` trait objects (`HostOptions`), so this module can be
//! tested alone and the SSRF guard stays in `delivery/net.rs`.
//!
//! Layout:
//! - `engine.rs`: wasmtime `Config` (component model, epochs, pooling + keep-resident) and the
//!   epoch ticker thread (holds a weak engine handle; ends with the engine).
//! - `bindings.rs`: the single `bindgen!` for the world.
//! - `cache.rs`: compiled code on disk, keyed by content digest and engine compatibility hash.
//! - `limits.rs`: memory cap (`ResourceLimiter`), default deadline, output and header rules.
//! - `host/`: one file per import (`log`, `config`, `kv`, `http`) plus `wasi` (empty WASI p2
//!   context, captured stdout/stderr). Each import checks the plugin's grant first.
//! - `call.rs`: one call on a fresh instance (or a reused one); error classification.
//! - `warm.rs`: opt-in instance reuse (`reuse: N`): a plugin's idle instances, bounded.
//! - `runtime.rs`: `PluginHost`, loading, the registry (swapped atomically), status.
//! - `chain.rs`: `run_chain` and the `on_error` policies.
//! - `watch.rs`: `reload`, `reload_if_changed` (driven by the gateway's file watcher).
//!
//! Invariants: every call gets a fresh instance (no state survives a delivery) unless the
//! operator opted the plugin into `reuse`, which is then dropped after any failure; a plugin only
//! reaches kv/http when granted; a failed reload never takes the last good version out of
//! service; guest code never blocks a tokio worker for more than one epoch tick.

#![deny(missing_docs)]

mod bindings;
mod cache;
mod call;
mod chain;
mod engine;
mod error;
mod host;
mod limits;
pub mod offline;
mod runtime;
mod validate;
mod warm;
mod watch;

pub use self::cache::CacheOutcome;
pub use self::chain::{ChainEntry, ChainOutcome, EndpointInfo, EventInfo, Input, OnError};
pub use self::engine::{EPOCH_TICK, MAX_CONCURRENT_INSTANCES, MAX_PLUGIN_MEMORY};
pub use self::error::PluginError;
pub use self::host::http::{MAX_HTTP_TIMEOUT, MAX_RESPONSE_BYTES};
pub use self::host::kv::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
pub use self::host::log::LINES_PER_SECOND;
pub use self::host::{Grants, HttpFetcher, HttpMethod, HttpRequest, HttpResponse, KvBackend};
pub use self::limits::{
    PluginLimits, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT,
    MAX_OUTPUT_HEADERS,
};
pub use self::runtime::{HostOptions, LoadedPlugin, PluginHost, PluginStatus, Source};
pub use self::validate::ConfigProblem;
pub use self::watch::ReloadOutcome;
