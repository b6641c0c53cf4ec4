//! Reloads: the config file (watched, and on SIGHUP) and plugin files (polled), each a task
//! with `run(self, token)` that `app` spawns on its tracker.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiState};
use crate::config::{self, Config};
use crate::delivery::Client;
use crate::dispatch::{plugin_io, Shared};
use crate::plugins::{PluginHost, ReloadOutcome};

use super::{config_endpoints, managed_endpoints};

/// Quiet time after the last file event before a reload (editors write in several steps).
const RELOAD_DEBOUNCE: Duration = Duration::from_millis(250);
/// How often plugin files are checked for changes (a stat per plugin; content is hashed only
/// when size or mtime moved).
const PLUGIN_POLL: Duration = Duration::from_secs(1);

/// Applies config reload requests, from file changes and SIGHUP, until cancelled.
pub(super) struct ConfigReloader {
    path: PathBuf,
    current: Arc<ArcSwap<Config>>,
    shared: Arc<Shared>,
    api_state: ApiState,
    /// File events, debounced by the watcher; `_watcher` (dropped with the reloader, which
    /// stops its thread) sends them.
    events: mpsc::Receiver<()>,
    _watcher: Option<config::Watcher>,
    hup: Hup,
}

impl ConfigReloader {
    /// Watches `path` and SIGHUP from now on: created before the gateway says it listens, so a
    /// signal or an edit right after start is not missed (SIGHUP unhandled would end the
    /// process).
    pub fn new(
        path: PathBuf,
        current: Arc<ArcSwap<Config>>,
        shared: Arc<Shared>,
        api_state: ApiState,
    ) -> Self {
        let (tx, events) = mpsc::channel::<()>(4);
        let watcher = match config::Watcher::spawn(path.clone(), RELOAD_DEBOUNCE, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
                None
            }
        };
        ConfigReloader {
            path,
            current,
            shared,
            api_state,
            events,
            _watcher: watcher,
            hup: Hup::new(),
        }
    }

    /// Reloads on each request until `token` is cancelled (a reload under way finishes).
    pub async fn run(mut self, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                Some(()) = self.events.recv() => {}
                () = self.hup.recv() => tracing::info!("SIGHUP: reloading config"),
            }
            apply_reload(&self.path, &self.current, &self.shared, &self.api_state).await;
        }
    }
}

/// SIGHUP, received in the reload task itself (no forwarding task). Never fires where there is
/// no SIGHUP or it cannot be watched.
struct Hup {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hup {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = match signal(SignalKind::hangup()) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot watch SIGHUP; reload by saving the file");
                    None
                }
            };
            Hup { signal }
        }
        #[cfg(not(unix))]
        Hup {}
    }

    /// The next SIGHUP.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            if s.recv().await.is_some() {
                return;
            }
            self.signal = None;
        }
        std::future::pending().await
    }
}

/// Checks plugin files for changes every [`PLUGIN_POLL`] and swaps in new versions (a broken
/// one is logged and the last good version stays).
pub(super) struct PluginPoller {
    /// The host whose file plugins are checked.
    pub host: Arc<PluginHost>,
}

impl PluginPoller {
    /// Polls until `token` is cancelled.
    pub async fn run(self, token: CancellationToken) {
        loop {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = tokio::time::sleep(PLUGIN_POLL) => {}
            }
            for (name, outcome) in self.host.reload_if_changed().await {
                match outcome {
                    ReloadOutcome::Reloaded { sha256 } => {
                        tracing::info!(plugin = %name, %sha256, "plugin file changed: new version in service")
                    }
                    ReloadOutcome::Failed(e) => {
                        tracing::error!(plugin = %name, error = %e, "plugin file changed but does not load; the last good version stays")
                    }
                    ReloadOutcome::Unchanged => {}
                }
            }
        }
    }
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
        new.storage = old.storage.clone();
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
    shared.retention.store(Arc::new(new.retention));
    shared.headroom.set_min_free(new.min_free);
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
