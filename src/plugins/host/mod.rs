//! Host imports: one file per WIT interface, each checking the plugin's grant first.
//!
//! `HostState` is the data of one call's `Store`: which plugin is running (its policy), the chain
//! entry's config, the injected kv/http services, the memory limiter and an empty WASI context.
//! It lives exactly as long as the call's fresh instance, so nothing leaks between calls.

pub(super) mod config;
pub(super) mod http;
pub(super) mod kv;
pub(super) mod log;
pub(super) mod wasi;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::hookgate::plugin::types;
use super::error::PluginError;
use super::limits::{MemoryLimiter, PluginLimits};

pub use self::http::{HttpFetcher, HttpMethod, HttpRequest, HttpResponse};
pub use self::kv::KvBackend;

/// Capabilities granted to a plugin by the configuration (`allow: { kv, http }`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// May use the `kv` import (namespaced to the plugin's name).
    pub kv: bool,
    /// Origins (`scheme://host[:port]`) the `http` import may reach; empty means none.
    pub http_origins: Vec<String>,
}

/// Everything the imports need to know about the running plugin; shared by all its calls.
pub(super) struct PluginPolicy {
    /// Name from the configuration: log tag, kv namespace, error prefix.
    pub(super) name: Arc<str>,
    pub(super) limits: PluginLimits,
    pub(super) kv: bool,
    /// Parsed, normalised `Grants::http_origins`.
    pub(super) http_origins: Vec<http::Origin>,
    /// Shared across calls so the rate limit is per plugin, not per call.
    pub(super) log: log::LogLimiter,
    /// Which imports the plugin called, over its lifetime (what `plugin test` reports as the
    /// grants it needs: JS and Python components import every interface whether used or not).
    pub(super) calls: HostCalls,
}

/// Calls of each Hookgate import, counted whether or not the grant allowed them.
#[derive(Debug, Default)]
pub(super) struct HostCalls {
    pub(super) log: AtomicU64,
    pub(super) config: AtomicU64,
    pub(super) kv: AtomicU64,
    pub(super) http: AtomicU64,
}

impl HostCalls {
    /// `(import, calls)` for each import called at least once.
    pub(super) fn used(&self) -> Vec<(&'static str, u64)> {
        [
            ("log", &self.log),
            ("config", &self.config),
            ("kv", &self.kv),
            ("http", &self.http),
        ]
        .into_iter()
        .map(|(name, n)| (name, n.load(Ordering::Relaxed)))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Counts one call of an import.
pub(super) fn count(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl PluginPolicy {
    /// Validates the grants (origins must parse) and builds the policy.
    pub(super) fn new(
        name: &str,
        limits: PluginLimits,
        grants: &Grants,
    ) -> Result<Self, PluginError> {
        let http_origins = grants
            .http_origins
            .iter()
            .map(|o| http::Origin::parse_allow_entry(o).map_err(|e| PluginError::load(name, e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PluginPolicy {
            name: Arc::from(name),
            limits,
            kv: grants.kv,
            http_origins,
            log: log::LogLimiter::default(),
            calls: HostCalls::default(),
        })
    }
}

/// The injected services the kv and http imports call.
#[derive(Clone)]
pub(super) struct Services {
    pub(super) kv: Arc<dyn KvBackend>,
    pub(super) http: Arc<dyn HttpFetcher>,
}

/// Store data for one call.
pub(super) struct HostState {
    pub(super) policy: Arc<PluginPolicy>,
    /// This chain entry's `config` as JSON text.
    pub(super) config_json: String,
    /// For log fields only.
    pub(super) delivery_id: String,
    /// Wall-clock end of the call; host imports that wait (http) stop here too.
    pub(super) deadline: Instant,
    pub(super) services: Services,
    pub(super) limiter: MemoryLimiter,
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    /// stdout/stderr, captured and forwarded to the log after the call.
    pub(super) stdio: wasi::Stdio,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `types` has no functions; the generated trait still needs an impl.
impl types::Host for HostState {}
