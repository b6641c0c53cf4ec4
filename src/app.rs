//! Wiring: the only module that sees every other one.
//!
//! [`run`] opens the store, builds the endpoint registry, starts the scheduler and the HTTP
//! server, applies config reloads, and shuts down in order when asked: stop accepting HTTP →
//! stop scheduling → let attempts in flight finish until `delivery.shutdown_grace` → close the
//! store. Every acknowledged write is already durable, so a crash at any point loses nothing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiInner, ApiState};
use crate::config::{self, Config};
use crate::delivery::Client;
use crate::dispatch::plugin_lane::PluginLanes;
use crate::dispatch::{plugin_io, DueSignal, LiveEndpoint, Registry, Scheduler, Shared};
use crate::server::{self, open_files};
use crate::signing::Secret;
use crate::store::{MasterKey, RedbStore, Store};

/// Quiet time after the last file event before a reload (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(250);
/// How often plugin files are checked for changes (a stat per plugin; content is hashed only
/// when size or mtime moved).
const PLUGIN_POLL: Duration = Duration::from_secs(1);

/// Where the config comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The embedded default (no file: nothing to reload).
    Embedded,
    /// A YAML file, watched and reloaded.
    File(PathBuf),
}

/// Runs the gateway until `shutdown` resolves. The bound address (the config may say port 0)
/// is logged as `hookgate listening addr=…`, which is how tests and `hookgate bench` find it.
/// A config whose plugin configs the plugins themselves refuse does not start.
pub async fn run(
    source: ConfigSource,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let cfg = match &source {
        ConfigSource::Embedded => {
            tracing::info!(
                "no --config given: running the embedded default (API on 127.0.0.1:8080, data in ./hookgate-data, no endpoints). \
                 Add endpoints with a config file: see examples/hookgate.yaml, then run `hookgate serve --config FILE`"
            );
            Config::embedded_default()
        }
        ConfigSource::File(p) => config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let open_files = raise_open_files_limit();
    let key = MasterKey::from_env_or_file(&cfg.data_dir)?;
    let store: Arc<dyn Store> = Arc::new(
        RedbStore::open(&cfg.data_dir, key)
            .with_context(|| format!("opening the store in {}", cfg.data_dir.display()))?,
    );
    let registry = Arc::new(Registry::new());
    for (id, st) in store.endpoint_states().await? {
        registry.set_state(&id, st);
    }
    registry.set_config(config_endpoints(&cfg, store.as_ref()).await?);
    registry.set_managed(managed_endpoints(&cfg, store.as_ref()).await?);
    let signal = Arc::new(DueSignal::new());
    let client = Arc::new(ArcSwap::from_pointee(Client::new(&cfg.network)?));
    // Always a host: any endpoint, including one created later through the API, may use a
    // built-in plugin. An unused host costs an engine and a parked ticker thread.
    let host = plugin_io::host(store.clone(), client.clone(), &cfg.data_dir)
        .map_err(|e| anyhow::anyhow!("plugin host: {e}"))?;
    plugin_io::sync(&host, None, &cfg).await;
    let problems = plugin_io::check_plugin_configs(&host, &cfg.endpoints).await;
    if !problems.is_empty() {
        anyhow::bail!(
            "{}",
            config::ConfigError::Invalid {
                diagnostics: problems
            }
        );
    }
    let plugins = Some(Arc::new(host));
    let shared = Arc::new(Shared {
        store: store.clone(),
        registry: registry.clone(),
        signal: signal.clone(),
        client,
        plugins: plugins.clone(),
        plugin_lanes: plugins.clone().map(|h| PluginLanes::start(h, 0)),
        settings: ArcSwap::from_pointee(cfg.delivery.clone()),
    });
    let listen = cfg.listen;
    let limits = connection_limits(&cfg, open_files);
    let max_in_flight = cfg.delivery.max_in_flight;
    let shutdown_grace = cfg.delivery.shutdown_grace;
    let keyless = cfg.auth.api_keys.is_empty() && store.api_keys().await?.is_empty();
    let bootstrap = if keyless {
        let (b, token) = api::bootstrap::Bootstrap::begin(&cfg.data_dir).with_context(|| {
            format!("writing the bootstrap token in {}", cfg.data_dir.display())
        })?;
        let file = cfg.data_dir.join(api::bootstrap::TOKEN_FILE);
        // The one line that ever shows the token (the file holds it too, mode 0600).
        tracing::warn!(
            %token,
            file = %file.display(),
            "no API key exists yet (bootstrap mode): mint the first one on this host with \
             `hookgate keys create --name admin --scope admin --data-dir {}` (the CLI reads the \
             token file when the gateway is on loopback; add --url if it is not on \
             127.0.0.1:8080), or send `Authorization: Bearer <token>` to POST /v1/keys from \
             loopback. The token works only until a key exists, never through a proxy, and is \
             not shown again; requests without a key are refused",
            cfg.data_dir.display()
        );
        b
    } else {
        api::bootstrap::remove_stale(&cfg.data_dir);
        api::bootstrap::Bootstrap::off()
    };
    let current = Arc::new(ArcSwap::from_pointee(cfg));
    let api_state = ApiState(Arc::new(ApiInner {
        store: store.clone(),
        registry: registry.clone(),
        signal: signal.clone(),
        auth: ArcSwap::from_pointee(current.load().auth.clone()),
        minted: ArcSwap::from_pointee(Vec::new()),
        bootstrap,
        limiters: Default::default(),
        config: current.clone(),
        plugins: plugins.clone(),
        ready: false.into(),
        manage_lock: tokio::sync::Mutex::new(()),
    }));
    api::keys::reload_minted(&api_state).await?;

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;

    let sched_token = CancellationToken::new();
    let scheduler = Scheduler::new(shared.clone(), max_in_flight);
    let sched_task = tokio::spawn(scheduler.run(sched_token.clone(), shutdown_grace));

    let reload_token = CancellationToken::new();
    let reload_task = match &source {
        ConfigSource::File(path) => Some(tokio::spawn(reload_loop(
            path.clone(),
            current.clone(),
            shared.clone(),
            api_state.clone(),
            reload_token.clone(),
        ))),
        ConfigSource::Embedded => None,
    };

    let poll_task = shared.plugins.clone().map(|host| {
        let t = reload_token.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = t.cancelled() => break,
                    _ = tokio::time::sleep(PLUGIN_POLL) => {}
                }
                for (name, outcome) in host.reload_if_changed().await {
                    match outcome {
                        crate::plugins::ReloadOutcome::Reloaded { sha256 } => {
                            tracing::info!(plugin = %name, %sha256, "plugin file changed: new version in service")
                        }
                        crate::plugins::ReloadOutcome::Failed(e) => {
                            tracing::error!(plugin = %name, error = %e, "plugin file changed but does not load; the last good version stays")
                        }
                        crate::plugins::ReloadOutcome::Unchanged => {}
                    }
                }
            }
        })
    });

    let http_token = CancellationToken::new();
    let server = server::serve(
        listener,
        api::router(api_state.clone()),
        limits,
        http_token.clone(),
    );
    api_state.ready.store(true, Ordering::Relaxed);
    tracing::info!(
        %addr,
        version = env!("CARGO_PKG_VERSION"),
        open_files_limit = open_files,
        max_connections = limits.max_connections,
        "hookgate listening"
    );

    let stopper = {
        let http_token = http_token.clone();
        let api_state = api_state.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: no new requests");
            api_state.ready.store(false, Ordering::Relaxed);
            http_token.cancel();
        })
    };
    server.await;
    stopper.abort();
    reload_token.cancel();
    if let Some(t) = reload_task {
        let _ = t.await;
    }
    if let Some(t) = poll_task {
        let _ = t.await;
    }
    tracing::info!("shutting down: no new attempts");
    sched_token.cancel();
    let _ = sched_task.await;
    drop(api_state);
    drop(shared);
    drop(store);
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft open-file limit to the hard one (each client connection, delivery socket
/// and database file is a descriptor) and returns the limit in force. A failure is logged and
/// the old limit kept.
fn raise_open_files_limit() -> u64 {
    match open_files::raise_to_hard() {
        Ok(o) => {
            if let Some(from) = o.raised_from {
                tracing::debug!(from, to = o.limit, "raised the open-file limit");
            }
            o.limit
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit; keeping it");
            open_files::soft_limit().unwrap_or(u64::MAX)
        }
    }
}

/// Descriptors counted for everything but connections and delivery sockets: the database,
/// the listener, the runtime, the config watcher, plugin files, logs.
const FD_RESERVE: u64 = 64;

/// The accept loop's limits under an open-file limit of `open_files`; warns when connections
/// plus delivery sockets could exceed it.
fn connection_limits(cfg: &Config, open_files: u64) -> server::Limits {
    let limits = server::Limits {
        header_read_timeout: cfg.server.header_read_timeout,
        idle_timeout: cfg.server.idle_timeout,
        max_connections: cfg.server.max_connections_for(open_files),
        drain_grace: cfg.delivery.shutdown_grace,
    };
    let wanted = (limits.max_connections as u64)
        .saturating_add(cfg.delivery.max_in_flight as u64)
        .saturating_add(FD_RESERVE);
    if wanted > open_files {
        tracing::warn!(
            open_files_limit = open_files,
            max_connections = limits.max_connections,
            delivery_max_in_flight = cfg.delivery.max_in_flight,
            "the open-file limit is below what connections, delivery sockets and the database \
             may use at once; raise the hard limit (ulimit -Hn, systemd LimitNOFILE=) or lower \
             server.max_connections or delivery.max_in_flight"
        );
    }
    limits
}

/// `hookgate config check FILE`: the file's own rules, then every plugin loaded (a missing or
/// broken `.wasm` is an error) and asked about each chain entry's config, as `serve` would.
/// `FILE: ok (…)`, or every problem, one per line.
pub async fn check_config_file(path: &Path) -> Result<String, String> {
    let cfg = config::load(path).map_err(|e| e.to_string())?;
    let host = crate::plugins::offline::host()?;
    let mut problems: Vec<String> = Vec::new();
    for (name, p) in &cfg.plugins {
        if let Err(e) = plugin_io::load(&host, name, p).await {
            problems.push(format!("{}: plugins.{name}: {e}", path.display()));
        }
    }
    let diags = plugin_io::check_plugin_configs(&host, &cfg.endpoints).await;
    problems.extend(diags.iter().map(ToString::to_string));
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    Ok(format!(
        "{}: ok ({} endpoints, {} api keys, {} plugins)",
        path.display(),
        cfg.endpoints.len(),
        cfg.auth.api_keys.len(),
        cfg.plugins.len()
    ))
}

/// The config-defined endpoints with their secrets (configured, or generated and stored).
async fn config_endpoints(cfg: &Config, store: &dyn Store) -> anyhow::Result<Vec<LiveEndpoint>> {
    let mut list = Vec::with_capacity(cfg.endpoints.len());
    for e in &cfg.endpoints {
        let secret = match &e.secret {
            Some(s) => s.clone(),
            None => Secret::new(
                store
                    .generated_secret(&e.id, &|| Secret::generate().expose().to_string())
                    .await?,
            ),
        };
        list.push(LiveEndpoint::from_config(e.clone(), secret));
    }
    Ok(list)
}

/// The API-defined endpoints, checked against the rules of `cfg`. One that no longer passes
/// (say `network.allow_http` was turned off) is left out and logged; its deliveries wait.
async fn managed_endpoints(cfg: &Config, store: &dyn Store) -> anyhow::Result<Vec<LiveEndpoint>> {
    let names: Vec<String> = cfg.plugins.keys().cloned().collect();
    let mut list = Vec::new();
    for rec in store.managed_endpoints().await? {
        match LiveEndpoint::from_managed(&rec, &cfg.network, &names) {
            Ok(e) => list.push(e),
            Err(diags) => {
                let why: Vec<String> = diags
                    .iter()
                    .map(|d| format!("{}: {}", d.path, d.message))
                    .collect();
                tracing::error!(endpoint_id = %rec.id, problems = %why.join("; "), "API-defined endpoint no longer valid under the current config; not delivering to it");
            }
        }
    }
    Ok(list)
}

/// Applies reload requests (file changes and SIGHUP) until cancelled.
async fn reload_loop(
    path: PathBuf,
    current: Arc<ArcSwap<Config>>,
    shared: Arc<Shared>,
    api_state: ApiState,
    token: CancellationToken,
) {
    let (tx, mut rx) = mpsc::channel::<()>(4);
    let _watcher = match config::Watcher::spawn(path.clone(), RELOAD_DEBOUNCE, tx.clone()) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
            None
        }
    };
    let mut hup = hup_stream();
    loop {
        tokio::select! {
            _ = token.cancelled() => break,
            Some(()) = rx.recv() => {}
            Some(()) = hup.recv() => tracing::info!("SIGHUP: reloading config"),
        }
        apply_reload(&path, &current, &shared, &api_state).await;
    }
}

fn hup_stream() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(4);
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut s) = signal(SignalKind::hangup()) else {
            return;
        };
        while s.recv().await.is_some() {
            if tx.send(()).await.is_err() {
                break;
            }
        }
    });
    #[cfg(not(unix))]
    drop(tx);
    rx
}

/// Loads, validates and applies a new config. An invalid file changes nothing.
async fn apply_reload(
    path: &Path,
    current: &ArcSwap<Config>,
    shared: &Shared,
    api_state: &ApiState,
) {
    let mut new = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("config rejected, the last good config keeps running:\n{e}");
            return;
        }
    };
    let old = current.load_full();
    let diff = config::diff(&old, &new);
    if !diff.restart_required.is_empty() {
        tracing::warn!(fields = ?diff.restart_required, "these settings change only on restart; keeping the running values");
        new.listen = old.listen;
        new.data_dir = old.data_dir.clone();
        new.server = old.server;
    }
    let snap = match config_endpoints(&new, shared.store.as_ref()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "config reload failed; the last good config keeps running");
            return;
        }
    };
    if new.network != old.network {
        match Client::new(&new.network) {
            Ok(c) => shared.client.store(Arc::new(c)),
            Err(e) => {
                tracing::error!(error = %e, "config reload failed; the last good config keeps running");
                return;
            }
        }
    }
    if new.delivery.max_in_flight != old.delivery.max_in_flight {
        tracing::warn!("delivery.max_in_flight changes only on restart");
    }
    if let Some(host) = &shared.plugins {
        plugin_io::sync(host, Some(&old), &new).await;
        let problems = plugin_io::check_plugin_configs(host, &new.endpoints).await;
        if !problems.is_empty() {
            // Put the plugins of the running config back, as if the reload never started.
            plugin_io::sync(host, Some(&new), &old).await;
            let e = config::ConfigError::Invalid {
                diagnostics: problems,
            };
            tracing::error!("config rejected, the last good config keeps running:\n{e}");
            return;
        }
    }
    shared.registry.set_config(snap);
    if new.network != old.network || new.plugins.keys().ne(old.plugins.keys()) {
        match managed_endpoints(&new, shared.store.as_ref()).await {
            Ok(m) => shared.registry.set_managed(m),
            Err(e) => tracing::error!(error = %e, "cannot reload API-defined endpoints"),
        }
    }
    shared.settings.store(Arc::new(new.delivery.clone()));
    api_state.auth.store(Arc::new(new.auth.clone()));
    api::end_bootstrap_if_keyed(api_state);
    for id in &diff.removed {
        match shared.store.cancel_endpoint(id).await {
            Ok(n) => {
                tracing::info!(endpoint_id = %id, cancelled = n, "endpoint removed; pending deliveries cancelled")
            }
            Err(e) => {
                tracing::error!(endpoint_id = %id, error = %e, "cannot cancel deliveries of removed endpoint")
            }
        }
    }
    for id in diff.added.iter().chain(&diff.changed) {
        shared.signal.mark(id, 0);
    }
    tracing::info!(
        added = diff.added.len(),
        changed = diff.changed.len(),
        removed = diff.removed.len(),
        "config reloaded"
    );
    current.store(Arc::new(new));
}
