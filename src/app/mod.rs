//! Wiring: the only module that sees every other one.
//!
//! `main` loads the config ([`load`]) and binds the API listener ([`bind`]); [`run`] takes
//! both, opens the store, builds the endpoint registry and the plugin host, starts the
//! background tasks (scheduler, config reloader, plugin poller, plugin lanes) on one tracker
//! and serves the API until told to stop. Then, in order (see [`lifecycle`]): stop accepting
//! HTTP and let requests in flight finish → stop scheduling → let attempts in flight finish
//! until `delivery.shutdown_grace` → stop what is left → close the store, explicitly. Every
//! acknowledged write is already durable, so a crash at any point loses nothing.

mod cluster;
mod lifecycle;
mod limits;
mod pruner;
mod reload;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;
use tokio::net::TcpListener;

use crate::api::{self, ApiInner, ApiState};
use crate::config::{self, Config};
use crate::delivery::Client;
use crate::dispatch::plugin_lane::PluginLanes;
use crate::dispatch::{plugin_io, DueSignal, LiveEndpoint, Registry, Scheduler, Shared};
use crate::server;
use crate::signing::Secret;
use crate::store::{MasterKey, PgOptions, PgStore, PgTls, RedbStore, Store};

use lifecycle::Lifecycle;
use reload::{ConfigReloader, PluginPoller};

/// Where the config comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The embedded default (no file: nothing to reload).
    Embedded,
    /// A YAML file, watched and reloaded.
    File(PathBuf),
}

/// A validated config and where it came from (a file is watched and reloaded).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it came from.
    pub source: ConfigSource,
    /// The config to start with.
    pub config: Config,
}

/// Loads the config `source` names. Every problem in the file is in the error.
pub fn load(source: ConfigSource) -> anyhow::Result<Loaded> {
    let config = match &source {
        ConfigSource::Embedded => {
            tracing::info!(
                "no --config given: running the embedded default (API on 127.0.0.1:8080, data in ./hookgate-data, no endpoints). \
                 Add endpoints with a config file: see examples/hookgate.yaml, then run `hookgate serve --config FILE`"
            );
            Config::embedded_default()
        }
        ConfigSource::File(p) => config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    Ok(Loaded { source, config })
}

/// Binds the API listener (the config's `listen`). Apart from [`run`] so that a caller can
/// bind its own (tests, embedders: port 0), and so a taken port fails before the store opens.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Runs the gateway on `listener` until `shutdown` resolves, then shuts down in order. The
/// bound address is logged as `hookgate listening addr=…`, which is how tests and `hookgate
/// bench` find it. A config whose plugin configs the plugins themselves refuse does not start.
pub async fn run(
    loaded: Loaded,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let open_files = limits::raise_open_files_limit();
    let store = open_store(&loaded).await?;
    let life = Lifecycle::new();
    let served = serve(loaded, listener, shutdown, open_files, store.clone(), &life).await;
    life.finish().await;
    store.close().await;
    drop(store);
    tracing::info!("stopped");
    served
}

/// Opens the configured backend. Every node of a cluster must be given the same master key
/// (`HOOKGATE_MASTER_KEY`): each opens the secrets the others sealed.
async fn open_store(loaded: &Loaded) -> anyhow::Result<Arc<dyn Store>> {
    let cfg = &loaded.config;
    let key = MasterKey::from_env_or_file(&cfg.data_dir)?;
    match &cfg.storage {
        config::StorageConfig::Redb => {
            let store = RedbStore::open(&cfg.data_dir, key)
                .with_context(|| format!("opening the store in {}", cfg.data_dir.display()))?;
            Ok(Arc::new(store))
        }
        config::StorageConfig::Postgres(pg) => {
            let mut opts = PgOptions::new(pg.url.expose());
            opts.pool_size = pg.pool_size;
            opts.lease = pg.lease;
            opts.tls = match pg.tls {
                config::PgTlsMode::Disable => PgTls::Disable,
                config::PgTlsMode::VerifyFull => PgTls::VerifyFull {
                    ca_file: pg.ca_file.clone(),
                },
            };
            if let Ok(name) = std::env::var(NODE_NAME_ENV) {
                opts.node = name;
            }
            opts.config_hash = config_hash(&loaded.source);
            let store = PgStore::open(&opts, key)
                .await
                .context("opening the PostgreSQL store (storage.url)")?;
            tracing::info!(node = %opts.node, config_hash = %opts.config_hash, "joined the cluster on PostgreSQL");
            Ok(Arc::new(store))
        }
    }
}

/// Names this node in the cluster (leases, the `nodes` table, logs); a random name otherwise.
pub const NODE_NAME_ENV: &str = "HOOKGATE_NODE_NAME";

/// A digest of the config file's bytes, which nodes compare to notice differing files.
fn config_hash(source: &ConfigSource) -> String {
    use sha2::{Digest, Sha256};
    match source {
        ConfigSource::Embedded => "embedded".into(),
        ConfigSource::File(p) => match std::fs::read(p) {
            Ok(bytes) => hex::encode(&Sha256::digest(&bytes)[..8]),
            Err(_) => "unreadable".into(),
        },
    }
}

/// Everything from building the parts to the scheduler's stop; the caller finishes the rest
/// (and, when this fails half-way, stops what it started).
async fn serve(
    loaded: Loaded,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    open_files: u64,
    store: Arc<dyn Store>,
    life: &Lifecycle,
) -> anyhow::Result<()> {
    let Loaded {
        source,
        config: cfg,
    } = loaded;
    let shared = build_shared(&cfg, store, life).await?;
    let limits = limits::connection_limits(&cfg, open_files);
    let (max_in_flight, grace) = (cfg.delivery.max_in_flight, cfg.delivery.shutdown_grace);
    let current = Arc::new(ArcSwap::from_pointee(cfg));
    let api_state = build_api(&current, &shared).await?;
    let addr = listener.local_addr()?;

    let housekeeping = start_housekeeping(&shared, life);
    let scheduler = Scheduler::new(shared.clone(), max_in_flight);
    let scheduling = life.spawn("scheduler", scheduler.run(life.scheduler.clone(), grace));
    let reloading = match source {
        ConfigSource::File(path) => {
            let r = ConfigReloader::new(path, current.clone(), shared.clone(), api_state.clone());
            Some(life.spawn("config_reload", r.run(life.reload.clone())))
        }
        ConfigSource::Embedded => None,
    };
    let following = shared.store.notices().map(|notices| {
        let follow = cluster::follow(
            notices,
            shared.clone(),
            api_state.clone(),
            current.clone(),
            life.reload.clone(),
        );
        life.spawn("cluster_notices", follow)
    });
    let polling = shared.plugins.clone().map(|host| {
        let poller = PluginPoller { host };
        life.spawn("plugin_poll", poller.run(life.plugin_poll.clone()))
    });
    life.stop_http_on(shutdown, api_state.clone());

    let router = api::router(api_state.clone());
    api_state.ready.store(true, Ordering::Relaxed);
    tracing::info!(
        %addr,
        version = env!("CARGO_PKG_VERSION"),
        open_files_limit = open_files,
        max_connections = limits.max_connections,
        "hookgate listening"
    );
    server::serve(listener, router, limits, life.http.clone()).await;

    life.reload.cancel();
    life.plugin_poll.cancel();
    for task in reloading.into_iter().chain(polling).chain(following) {
        let _ = task.await;
    }
    tracing::info!("shutting down: no new attempts");
    life.scheduler.cancel();
    let _ = scheduling.await;
    life.housekeeping.cancel();
    for task in housekeeping {
        let _ = task.await;
    }
    Ok(())
}

/// Installs the live retention rules in the store and starts the pruner and the samplers of
/// free space and store size.
fn start_housekeeping(shared: &Arc<Shared>, life: &Lifecycle) -> Vec<tokio::task::JoinHandle<()>> {
    let rules = Arc::new(pruner::LiveRetention {
        registry: shared.registry.clone(),
        global: shared.retention.clone(),
    });
    shared.store.set_retention(rules.clone());
    let p = pruner::Pruner {
        store: shared.store.clone(),
        rules,
    };
    shared.headroom.sample();
    let sampling = pruner::sample(
        shared.headroom.clone(),
        shared.store.clone(),
        life.housekeeping.clone(),
    );
    vec![
        life.spawn("pruner", p.run(life.housekeeping.clone())),
        life.spawn("disk_sampler", sampling),
    ]
}

/// The embedded store's file in data dir `dir` (for `hookgate store compact`).
pub fn store_file(dir: &Path) -> std::path::PathBuf {
    crate::store::RedbStore::file_in(dir)
}

/// Compacts the embedded store in `dir` offline (see [`crate::store::RedbStore::compact`]).
pub fn compact_store(dir: &Path) -> anyhow::Result<u32> {
    Ok(crate::store::RedbStore::compact(dir)?)
}

/// What watches the data dir's free space: the redb file's filesystem; nothing for a shared
/// PostgreSQL, whose disk is the database's.
fn headroom(cfg: &Config) -> crate::store::Headroom {
    match cfg.storage {
        config::StorageConfig::Redb => {
            crate::store::Headroom::new(Some(&cfg.data_dir), cfg.min_free)
        }
        config::StorageConfig::Postgres(_) => crate::store::Headroom::new(None, 0),
    }
}

/// The registry (stored states, config and API-defined endpoints), the outbound client, the
/// plugin host and its lanes: what the scheduler and its workers share.
async fn build_shared(
    cfg: &Config,
    store: Arc<dyn Store>,
    life: &Lifecycle,
) -> anyhow::Result<Arc<Shared>> {
    let registry = Arc::new(Registry::new());
    for (id, st) in store.endpoint_states().await? {
        registry.set_state(&id, st);
    }
    registry.set_config(config_endpoints(cfg, store.as_ref()).await?);
    registry.set_managed(managed_endpoints(cfg, store.as_ref()).await?);
    let client = Arc::new(ArcSwap::from_pointee(Client::new(&cfg.network)?));
    // Always a host: any endpoint, including one created later through the API, may use a
    // built-in plugin. An unused host costs an engine and a parked ticker thread.
    let host = plugin_io::host(store.clone(), client.clone(), &cfg.data_dir)
        .map_err(|e| anyhow::anyhow!("plugin host: {e}"))?;
    plugin_io::sync(&host, None, cfg).await;
    let problems = plugin_io::check_plugin_configs(&host, &cfg.endpoints).await;
    if !problems.is_empty() {
        anyhow::bail!(
            "{}",
            config::ConfigError::Invalid {
                diagnostics: problems
            }
        );
    }
    let host = Arc::new(host);
    let lanes = PluginLanes::start(host.clone(), 0, &life.tasks, life.lanes.clone());
    Ok(Arc::new(Shared {
        store,
        registry,
        signal: Arc::new(DueSignal::new()),
        client,
        plugins: Some(host),
        plugin_lanes: Some(lanes),
        settings: ArcSwap::from_pointee(cfg.delivery.clone()),
        retention: Arc::new(ArcSwap::from_pointee(cfg.retention)),
        headroom: Arc::new(headroom(cfg)),
    }))
}

/// The API's state over `shared`, with bootstrap mode when no key exists yet.
async fn build_api(current: &Arc<ArcSwap<Config>>, shared: &Shared) -> anyhow::Result<ApiState> {
    let cfg = current.load_full();
    let keyless = cfg.auth.api_keys.is_empty() && shared.store.api_keys().await?.is_empty();
    let api_state = ApiState(Arc::new(ApiInner {
        store: shared.store.clone(),
        registry: shared.registry.clone(),
        signal: shared.signal.clone(),
        auth: ArcSwap::from_pointee(cfg.auth.clone()),
        minted: ArcSwap::from_pointee(Vec::new()),
        bootstrap: bootstrap(&cfg, keyless)?,
        limiters: Default::default(),
        config: current.clone(),
        plugins: shared.plugins.clone(),
        headroom: shared.headroom.clone(),
        ready: false.into(),
        manage_lock: tokio::sync::Mutex::new(()),
    }));
    api::keys::reload_minted(&api_state).await?;
    Ok(api_state)
}

/// Bootstrap mode while no key exists (prints the one-time token once), else off.
fn bootstrap(cfg: &Config, keyless: bool) -> anyhow::Result<api::bootstrap::Bootstrap> {
    if !keyless {
        api::bootstrap::remove_stale(&cfg.data_dir);
        return Ok(api::bootstrap::Bootstrap::off());
    }
    let (b, token) = api::bootstrap::Bootstrap::begin(&cfg.data_dir)
        .with_context(|| format!("writing the bootstrap token in {}", cfg.data_dir.display()))?;
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
    Ok(b)
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

/// API-defined endpoints read and parsed per page at start-up and reload.
const MANAGED_PAGE: usize = 1_000;

/// The API-defined endpoints, checked against the rules of `cfg`. One that no longer passes
/// (say `network.allow_http` was turned off) is left out and logged; its deliveries wait.
async fn managed_endpoints(cfg: &Config, store: &dyn Store) -> anyhow::Result<Vec<LiveEndpoint>> {
    let names: Vec<String> = cfg.plugins.keys().cloned().collect();
    let mut list = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .managed_endpoints(cursor.as_deref(), MANAGED_PAGE)
            .await?;
        for rec in &page.items {
            match LiveEndpoint::from_managed(rec, &cfg.network, &names) {
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
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(list),
        }
    }
}
