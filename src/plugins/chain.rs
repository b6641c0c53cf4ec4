//! The chain runner: the one call the rest of the gateway makes. Runs an endpoint's plugins in
//! order, each once on a fresh instance, feeding each `deliver` output to the next plugin, and
//! applies each entry's `on_error` policy.
//!
//! The outcome is a value, not an error: `Deliver` (send this), `Filtered` (a plugin dropped it,
//! or failed under `on_error: drop`), `Failed` (a plugin failed under `on_error: retry`).

use std::collections::HashMap;
use std::sync::Arc;

use super::bindings::{Decision, Delivery, Endpoint, Event, Header};
use super::call::call;
use super::error::PluginError;
use super::runtime::{LoadedPlugin, PluginHost};

/// What to do when a plugin fails (trap, deadline, limits, guest `err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Fail the attempt; the delivery is retried on its schedule (plugins run again then).
    Retry,
    /// Ignore this plugin: the next one gets this plugin's input unchanged.
    Skip,
    /// Filter the delivery, with the error as the reason.
    Drop,
}

/// One `plugins:` entry of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// Loaded plugin name (`use:`).
    pub plugin: String,
    /// The entry's `config:` as JSON text (`null` when absent); returned by the config import.
    pub config_json: String,
    /// Failure policy.
    pub on_error: OnError,
}

/// Event fields a plugin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInfo {
    /// Event id.
    pub id: String,
    /// Event type, e.g. `invoice.paid`.
    pub event_type: String,
    /// Tenant.
    pub tenant: String,
    /// Acceptance time, RFC 3339 UTC.
    pub timestamp: String,
}

/// Endpoint fields a plugin sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointInfo {
    /// Endpoint id.
    pub id: String,
    /// Target URL.
    pub url: String,
}

/// What the chain starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Delivery id (log field, and visible to plugins).
    pub delivery_id: String,
    /// The event.
    pub event: EventInfo,
    /// The endpoint.
    pub endpoint: EndpointInfo,
    /// Body about to be sent.
    pub body: Vec<u8>,
    /// Custom headers about to be sent.
    pub headers: Vec<(String, String)>,
}

/// Result of running a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainOutcome {
    /// Send this body and these headers.
    Deliver {
        /// Final body.
        body: Vec<u8>,
        /// Final custom headers (validated).
        headers: Vec<(String, String)>,
        /// Plugins whose output was used, in order, with the sha256 of the version that ran.
        applied: Vec<(String, String)>,
    },
    /// Do not send: the delivery becomes `filtered`.
    Filtered {
        /// The plugin that dropped it.
        plugin: String,
        /// Its reason (or its error, under `on_error: drop`).
        reason: String,
    },
    /// A plugin failed under `on_error: retry` (or the host could not run it).
    Failed {
        /// The failing plugin.
        plugin: String,
        /// What went wrong.
        error: PluginError,
        /// Whether a later attempt may succeed; always true today (retry policy or host
        /// trouble), kept so callers need not change if terminal failures are added.
        retry: bool,
    },
}

impl From<Input> for Delivery {
    /// The WIT record the first plugin of a chain receives.
    fn from(input: Input) -> Delivery {
        Delivery {
            id: input.delivery_id,
            event: Event {
                id: input.event.id,
                event_type: input.event.event_type,
                tenant: input.event.tenant,
                timestamp: input.event.timestamp,
            },
            endpoint: Endpoint {
                id: input.endpoint.id,
                url: input.endpoint.url,
            },
            body: input.body,
            headers: input
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
        }
    }
}

impl PluginHost {
    /// Runs `chain` over `input`. Uses one snapshot of the loaded plugins for the whole chain,
    /// so a concurrent reload never mixes versions within one delivery.
    pub async fn run_chain(&self, chain: &[ChainEntry], input: Input) -> ChainOutcome {
        let _running = self.inner.ticker.running();
        let plugins: Arc<HashMap<String, Arc<LoadedPlugin>>> = self.inner.plugins.load_full();
        let mut delivery = Delivery::from(input);
        let mut applied = Vec::with_capacity(chain.len());
        for entry in chain {
            let plugin = match plugins.get(&entry.plugin) {
                Some(p) => Ok(Arc::clone(p)),
                None => self.builtin_on_first_use(&entry.plugin).await,
            };
            let result = match plugin {
                Ok(p) => call(&p, &self.inner.services, &entry.config_json, &delivery)
                    .await
                    .map(|d| (d, p.sha256.clone())),
                Err(e) => Err(e),
            };
            match result {
                Ok((Decision::Deliver(out), sha256)) => {
                    delivery.body = out.body;
                    delivery.headers = out.headers;
                    applied.push((entry.plugin.clone(), sha256));
                }
                Ok((Decision::Drop(reason), _)) => {
                    return ChainOutcome::Filtered {
                        plugin: entry.plugin.clone(),
                        reason,
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        plugin = %entry.plugin, delivery_id = %delivery.id,
                        on_error = ?entry.on_error, error = %error, "plugin failed"
                    );
                    // The host failing to run a plugin is not the plugin's fault: never skip
                    // or drop because of it.
                    let host_trouble = matches!(error, PluginError::Host { .. });
                    match entry.on_error {
                        _ if host_trouble => {
                            return ChainOutcome::Failed {
                                plugin: entry.plugin.clone(),
                                error,
                                retry: true,
                            }
                        }
                        OnError::Retry => {
                            return ChainOutcome::Failed {
                                plugin: entry.plugin.clone(),
                                error,
                                retry: true,
                            }
                        }
                        OnError::Skip => {}
                        OnError::Drop => {
                            return ChainOutcome::Filtered {
                                plugin: entry.plugin.clone(),
                                reason: error.detail(),
                            }
                        }
                    }
                }
            }
        }
        ChainOutcome::Deliver {
            body: delivery.body,
            headers: delivery
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            applied,
        }
    }
}
