//! What a delivery sends: the stored output of its endpoint's plugin chain, or — before the
//! first attempt — the result of running the chain now, or the plain envelope when the endpoint
//! has no plugins.
//!
//! The chain runs once per delivery; its output is stored with the first outcome, so every retry
//! sends identical bytes and the delivery log can say which plugin versions produced them.

use std::sync::Arc;

use bytes::Bytes;

use super::registry::LiveEndpoint;
use super::Shared;
use crate::config::{EndpointConfig, OnError as ConfigOnError};
use crate::delivery::headers::{self, AttemptIds};
use crate::plugins::{ChainEntry, ChainOutcome, EndpointInfo, EventInfo, Input, OnError};
use crate::store::{rfc3339, DueDelivery, PluginVersion, StoredPayload};

/// The decision for one attempt.
pub enum Prepared {
    /// Send this.
    Send {
        /// Body.
        body: Bytes,
        /// Custom headers (signature headers are added per attempt).
        custom: Vec<(String, String)>,
        /// A chain output to store with this attempt's outcome (first attempt only).
        new_payload: Option<StoredPayload>,
    },
    /// A plugin dropped the delivery.
    Filtered {
        /// `plugin <name>: <reason>`.
        reason: String,
    },
    /// The chain failed under `on_error: retry` (or the host could not run it).
    Failed {
        /// What went wrong, naming the plugin.
        error: String,
    },
}

fn on_error(p: ConfigOnError) -> OnError {
    match p {
        ConfigOnError::Retry => OnError::Retry,
        ConfigOnError::Skip => OnError::Skip,
        ConfigOnError::Drop => OnError::Drop,
    }
}

/// An endpoint's `plugins:` list in the form the plugin host runs. Endpoints without plugins
/// share one empty chain (no allocation per endpoint).
pub fn chain_entries(config: &EndpointConfig) -> Arc<[ChainEntry]> {
    static EMPTY: std::sync::OnceLock<Arc<[ChainEntry]>> = std::sync::OnceLock::new();
    if config.plugins.is_empty() {
        return EMPTY.get_or_init(|| Arc::from(Vec::new())).clone();
    }
    config
        .plugins
        .iter()
        .map(|p| ChainEntry {
            plugin: p.name.clone(),
            config_json: p.config.to_string(),
            on_error: on_error(p.on_error),
        })
        .collect()
}

/// Decides what the attempt sends.
pub async fn prepare(
    shared: &Shared,
    live: &LiveEndpoint,
    item: &DueDelivery,
    ids: AttemptIds<'_>,
) -> Prepared {
    if let Some(p) = &item.payload {
        return Prepared::Send {
            body: Bytes::from(p.body.clone()),
            custom: p.meta.headers.clone(),
            new_payload: None,
        };
    }
    let custom = headers::custom(&live.config, ids);
    if live.config.plugins.is_empty() {
        return Prepared::Send {
            body: Bytes::from(item.event.body.clone()),
            custom,
            new_payload: None,
        };
    }
    let Some(lanes) = &shared.plugin_lanes else {
        return Prepared::Failed {
            error: "plugins are not available in this gateway".into(),
        };
    };
    let input = Input {
        delivery_id: item.delivery.id.clone(),
        event: EventInfo {
            id: item.event.id.clone(),
            event_type: item.event.event_type.clone(),
            tenant: item.event.tenant.clone(),
            timestamp: rfc3339(item.event.timestamp_ms),
        },
        endpoint: EndpointInfo {
            id: live.config.id.clone(),
            url: live.config.url.to_string(),
        },
        body: item.event.body.as_bytes().to_vec(),
        headers: custom,
    };
    let Some(outcome) = lanes.run(Arc::clone(&live.chain), input).await else {
        return Prepared::Failed {
            error: "plugin host is shutting down".into(),
        };
    };
    match outcome {
        ChainOutcome::Deliver {
            body,
            headers,
            applied,
        } => {
            let plugins = applied
                .into_iter()
                .map(|(name, sha256)| PluginVersion { name, sha256 })
                .collect();
            Prepared::Send {
                body: Bytes::from(body.clone()),
                custom: headers.clone(),
                new_payload: Some(StoredPayload::new(
                    item.event.body.as_bytes(),
                    body,
                    headers,
                    plugins,
                )),
            }
        }
        ChainOutcome::Filtered { plugin, reason } => Prepared::Filtered {
            reason: format!("plugin {plugin}: {reason}"),
        },
        ChainOutcome::Failed { error, .. } => Prepared::Failed {
            error: error.to_string(),
        },
    }
}
