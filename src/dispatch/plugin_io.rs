//! The plugin host's two doors to the outside, wired to the gateway's own pieces: `kv` to the
//! store (namespaced, with the store's quota) and `http` to the one guarded outbound client
//! (so allow-listed origins still cannot reach private addresses). Also loads the configured
//! plugins into the host and keeps them in step with config reloads.

use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::config::{Config, Diagnostic, EndpointConfig, PluginConfig, PluginSource};
use crate::delivery::net::Method;
use crate::delivery::Client;
use crate::plugins::{
    Grants, HostOptions, HttpFetcher, HttpMethod, HttpRequest, HttpResponse, KvBackend,
    LoadedPlugin, PluginError, PluginHost, PluginLimits, Source, MAX_RESPONSE_BYTES,
};
use crate::store::Store;

/// `kv` backed by the store.
pub struct StoreKv(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl KvBackend for StoreKv {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.kv_get(ns, key).await.map_err(|e| e.to_string())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.0
            .kv_set(ns, key, value)
            .await
            .map_err(|e| e.to_string())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), String> {
        self.0.kv_delete(ns, key).await.map_err(|e| e.to_string())
    }
}

/// `http` through the guarded client.
pub struct GuardedFetch(pub Arc<ArcSwap<Client>>);

#[async_trait::async_trait]
impl HttpFetcher for GuardedFetch {
    async fn fetch(&self, r: HttpRequest) -> Result<HttpResponse, String> {
        let url = url::Url::parse(&r.url).map_err(|e| format!("invalid URL: {e}"))?;
        let method = match r.method {
            HttpMethod::Get => Method::Get,
            HttpMethod::Post => Method::Post,
        };
        let client = self.0.load_full();
        let resp = client
            .send(
                method,
                &url,
                &r.headers,
                r.body.map(Bytes::from),
                r.timeout,
                MAX_RESPONSE_BYTES,
            )
            .await;
        match (resp.status, resp.error) {
            (Some(status), _) => Ok(HttpResponse {
                status,
                headers: resp.headers,
                body: resp.body,
            }),
            (None, e) => Err(e.unwrap_or_else(|| "request failed".into())),
        }
    }
}

/// A plugin host whose compiled-code cache lives under `data_dir/plugin-cache`.
pub fn host(
    store: Arc<dyn Store>,
    client: Arc<ArcSwap<Client>>,
    data_dir: &std::path::Path,
) -> Result<PluginHost, crate::plugins::PluginError> {
    PluginHost::new(HostOptions {
        cache_dir: Some(data_dir.join("plugin-cache")),
        kv: Arc::new(StoreKv(store)),
        http: Arc::new(GuardedFetch(client)),
    })
}

fn limits(p: &PluginConfig) -> PluginLimits {
    PluginLimits {
        memory_bytes: usize::try_from(p.memory).unwrap_or(usize::MAX),
        timeout: p.timeout,
        reuse: p.reuse,
        ..PluginLimits::default()
    }
}

fn grants(p: &PluginConfig) -> Grants {
    Grants {
        kv: p.allow.kv,
        http_origins: p.allow.http.clone(),
    }
}

/// Loads every plugin of `new` that is not loaded with the same settings in `old`, and unloads
/// the ones `new` no longer names. A plugin that fails to load is reported (logs and
/// `GET /v1/plugins`); endpoints using it follow their `on_error` policy.
pub async fn sync(host: &PluginHost, old: Option<&Config>, new: &Config) {
    if let Some(old) = old {
        for name in old.plugins.keys().filter(|n| !new.plugins.contains_key(*n)) {
            host.unload(name);
            tracing::info!(plugin = %name, "plugin unloaded");
        }
    }
    for (name, p) in &new.plugins {
        if old.and_then(|o| o.plugins.get(name)) == Some(p) && host.get(name).is_some() {
            continue;
        }
        match load(host, name, p).await {
            Ok(l) => {
                tracing::info!(plugin = %name, sha256 = %l.sha256, cache = ?l.cache, "plugin loaded")
            }
            Err(e) => tracing::error!(plugin = %name, error = %e, "plugin failed to load"),
        }
    }
}

/// Loads one configured plugin (its file, or the built-in of that name) into `host`.
pub async fn load(
    host: &PluginHost,
    name: &str,
    p: &PluginConfig,
) -> Result<Arc<LoadedPlugin>, PluginError> {
    let source = match (&p.source, crate::builtin_plugins::find(name)) {
        (PluginSource::File(path), _) => Source::File(path.clone()),
        (PluginSource::Builtin, Some(b)) => Source::Builtin(b.name),
        (PluginSource::Builtin, None) => {
            return Err(PluginError::NotLoaded {
                plugin: name.to_string(),
            })
        }
    };
    host.load_source(name, source, limits(p), grants(p)).await
}

/// Every problem the plugins of `endpoints` find in their chain entries' configs, positioned
/// at the offending value (`file:line:column: endpoints[2].plugins[0].config.format: …`).
/// A plugin that is not loaded is skipped (its load failure is reported on its own); one whose
/// check fails (trap, deadline) is a problem, since the config cannot be judged.
pub async fn check_plugin_configs<'a>(
    host: &PluginHost,
    endpoints: impl IntoIterator<Item = &'a EndpointConfig>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in endpoints.into_iter().flat_map(|e| &e.plugins) {
        match host.check_config(&r.name, &r.config).await {
            Ok(problems) => {
                out.extend((problems.iter()).map(|p| r.spans.diagnostic(&p.pointer, &p.message)))
            }
            Err(PluginError::NotLoaded { .. }) => {}
            Err(e) => out.push(
                r.spans
                    .diagnostic("", &format!("cannot check this config: {e}")),
            ),
        }
    }
    out
}
