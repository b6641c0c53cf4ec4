//! A node's side of a cluster: the store's notices of other nodes' changes, applied here as
//! this node's own API calls apply them (the registry, the minted keys, the scheduler's marks).
//! A store only this process writes sends none, and this task is not started.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::managed_endpoints;
use crate::api::{self, ApiState};
use crate::config::Config;
use crate::dispatch::{LiveEndpoint, Shared};
use crate::store::{now_ms, Notice, StoreError};

/// Applies notices until `token` is cancelled or the store stops sending them.
pub async fn follow(
    mut notices: UnboundedReceiver<Notice>,
    shared: Arc<Shared>,
    api: ApiState,
    config: Arc<ArcSwap<Config>>,
    token: CancellationToken,
) {
    loop {
        let notice = tokio::select! {
            _ = token.cancelled() => return,
            n = notices.recv() => match n {
                Some(n) => n,
                None => return,
            },
        };
        if let Err(e) = apply(&notice, &shared, &api, &config).await {
            tracing::warn!(?notice, error = %e, "cannot apply another node's change yet; the next rescan or notice catches up");
        }
    }
}

async fn apply(
    notice: &Notice,
    shared: &Shared,
    api: &ApiState,
    config: &ArcSwap<Config>,
) -> anyhow::Result<()> {
    let store = shared.store.as_ref();
    match notice {
        Notice::Due(endpoints) => {
            let now = now_ms();
            for ep in endpoints {
                shared.signal.mark(ep, now);
            }
        }
        Notice::DueAnywhere => {
            for (ep, due) in store.pending_endpoints().await? {
                shared.signal.mark(&ep, due);
            }
        }
        Notice::Endpoint(id) => {
            let cfg = config.load();
            match store.managed_endpoint(id).await? {
                Some(rec) => {
                    let names: Vec<String> = cfg.plugins.keys().cloned().collect();
                    match LiveEndpoint::from_managed(&rec, &cfg.network, &names) {
                        Ok(live) => shared.registry.upsert_managed(live),
                        Err(_) => {
                            tracing::error!(endpoint_id = %id, "endpoint changed by another node is not valid under this node's config; not delivering to it");
                            shared.registry.remove_managed(id);
                        }
                    }
                    shared.signal.mark(id, now_ms());
                }
                None => shared.registry.remove_managed(id),
            }
        }
        Notice::State(id) => {
            reload_states(shared, Some(id)).await?;
            shared.signal.mark(id, now_ms());
        }
        Notice::Keys => reload_keys(api).await?,
        Notice::Everything => {
            let cfg = config.load_full();
            shared
                .registry
                .set_managed(managed_endpoints(&cfg, store).await?);
            reload_states(shared, None).await?;
            reload_keys(api).await?;
        }
    }
    Ok(())
}

/// The stored state of `only` (or of every endpoint) into the registry.
async fn reload_states(shared: &Shared, only: Option<&str>) -> Result<(), StoreError> {
    for (id, st) in shared.store.endpoint_states().await? {
        if only.is_none_or(|o| o == id) {
            shared.registry.set_state(&id, st);
        }
    }
    Ok(())
}

async fn reload_keys(api: &ApiState) -> Result<(), StoreError> {
    api::keys::reload_minted(api).await?;
    api::end_bootstrap_if_keyed(api);
    Ok(())
}
