//! The live endpoint set: config-defined endpoints with their resolved secrets and runtime state.
//!
//! Readers (every publish, every attempt) take a lock-free snapshot through `ArcSwap`; a reload
//! swaps the whole snapshot at once, so a request never sees half of an old and half of a new
//! config. Runtime state (failure streak, auto-disable) changes far more often than config and is
//! kept beside it under its own lock.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

use super::chain::chain_entries;
use super::snapshot::Keyed;
pub use super::snapshot::Snapshot;
use crate::config::{Diagnostic, EndpointConfig, NetworkConfig};
use crate::plugins::ChainEntry;
use crate::signing::Secret;
use crate::store::{EndpointState, ManagedEndpoint, Millis};

/// Per-endpoint cap on attempts in flight when the config sets none: enough for a fast receiver
/// to take thousands of deliveries a second, small enough that one dead receiver holds only a
/// fraction of the global permits.
pub const DEFAULT_ENDPOINT_IN_FLIGHT: usize = 64;

/// Where an endpoint is defined.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The config file (read-only through the API).
    Config,
    /// The management API (stored in the store).
    Api {
        /// Free text for operators.
        description: Option<String>,
        /// Creation time.
        created_ms: Millis,
        /// Last change.
        updated_ms: Millis,
    },
}

/// One endpoint as the dispatcher uses it.
#[derive(Debug)]
pub struct LiveEndpoint {
    /// As configured.
    pub config: EndpointConfig,
    /// Signing secrets, oldest first (the configured one, or the generated and stored one, or
    /// during a rotation the previous and the new one).
    pub secrets: Box<[Secret]>,
    /// When each of `secrets` stops signing, in the same order (`None` = never); empty when
    /// none expires, as outside a rotation, so most endpoints spend no allocation on it. Read
    /// it through [`LiveEndpoint::expiry`].
    secret_expiry: Box<[Option<Millis>]>,
    /// Config file or API.
    pub origin: Origin,
    /// The plugin chain as the plugin host runs it, built once per config load rather than for
    /// every delivery (empty without plugins).
    pub chain: Arc<[ChainEntry]>,
}

impl LiveEndpoint {
    /// A config-defined endpoint with its one secret.
    pub fn from_config(config: EndpointConfig, secret: Secret) -> Self {
        LiveEndpoint {
            chain: chain_entries(&config),
            config,
            secrets: Box::new([secret]),
            secret_expiry: Box::default(),
            origin: Origin::Config,
        }
    }

    /// An API-defined endpoint, validated by the config rules in force now.
    pub fn from_managed(
        rec: &ManagedEndpoint,
        network: &NetworkConfig,
        plugin_names: &[String],
    ) -> Result<Self, Vec<Diagnostic>> {
        let mut spec = rec.spec.clone();
        if let Some(o) = spec.as_object_mut() {
            o.insert("id".into(), rec.id.clone().into());
            o.insert("tenant".into(), rec.tenant.clone().into());
        }
        let config = crate::config::parse_endpoint(&spec, network, plugin_names)?;
        Ok(LiveEndpoint {
            chain: chain_entries(&config),
            config,
            secrets: rec
                .secrets
                .iter()
                .map(|s| Secret::new(s.secret.clone()))
                .collect(),
            secret_expiry: if rec.secrets.iter().all(|s| s.expires_ms.is_none()) {
                Box::default()
            } else {
                rec.secrets.iter().map(|s| s.expires_ms).collect()
            },
            origin: Origin::Api {
                description: rec.description.clone(),
                created_ms: rec.created_ms,
                updated_ms: rec.updated_ms,
            },
        })
    }

    /// The secrets that sign an attempt made at `now`: every one not yet expired, oldest first.
    /// Borrowed in the common case where none has an expiry.
    pub fn signing_secrets(&self, now: Millis) -> Cow<'_, [Secret]> {
        if self.secret_expiry.is_empty() {
            return Cow::Borrowed(&self.secrets);
        }
        Cow::Owned(
            self.secrets
                .iter()
                .zip(&self.secret_expiry)
                .filter(|(_, exp)| exp.is_none_or(|t| t > now))
                .map(|(s, _)| s.clone())
                .collect(),
        )
    }

    /// When `secrets[i]` stops signing; `None` = never.
    pub fn expiry(&self, i: usize) -> Option<Millis> {
        self.secret_expiry.get(i).copied().flatten()
    }

    /// Whether the config file owns this endpoint.
    pub fn is_config(&self) -> bool {
        self.origin == Origin::Config
    }

    /// How many requests may be in flight to this endpoint (1 for FIFO: strict order).
    pub fn in_flight_cap(&self) -> usize {
        if self.is_fifo() {
            1
        } else {
            self.config
                .max_in_flight
                .unwrap_or(DEFAULT_ENDPOINT_IN_FLIGHT)
                .max(1)
        }
    }

    /// How many deliveries the scheduler may start at once: the request cap, doubled for a
    /// non-FIFO endpoint with plugins. Such a delivery spends the first part of its life in its
    /// chain, before any request: counting that against the receiver's cap left the endpoint
    /// latency-bound below what the machine could deliver. The request cap itself still holds
    /// (the attempt takes a request slot after its chain, see `worker::attempt`).
    pub fn start_cap(&self) -> usize {
        let cap = self.in_flight_cap();
        if self.is_fifo() || self.config.plugins.is_empty() {
            cap
        } else {
            cap.saturating_mul(2)
        }
    }

    /// Whether deliveries must go out one at a time in publish order.
    pub fn is_fifo(&self) -> bool {
        self.config.ordering == crate::config::Ordering::Fifo
    }
}

/// The two sources of endpoints, kept apart so a config reload replaces only its own.
#[derive(Debug, Default)]
struct Sources {
    config: HashSet<Keyed>,
    managed: HashSet<Keyed>,
}

fn warn_clash(id: &str) {
    tracing::warn!(endpoint_id = %id, "the config file defines an endpoint with the id of an API-defined one; the config's wins");
}

/// The shared registry.
#[derive(Debug, Default)]
pub struct Registry {
    snapshot: ArcSwap<Snapshot>,
    sources: Mutex<Sources>,
    states: RwLock<HashMap<String, EndpointState>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the config-defined endpoints (start-up and reload); API-defined ones stay.
    pub fn set_config(&self, endpoints: Vec<LiveEndpoint>) {
        let mut src = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        src.config = endpoints.into_iter().map(|e| Keyed(Arc::new(e))).collect();
        self.rebuild(&src);
    }

    /// Replaces every API-defined endpoint (start-up and reload, when the rules may have moved).
    pub fn set_managed(&self, endpoints: Vec<LiveEndpoint>) {
        let mut src = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        src.managed = endpoints.into_iter().map(|e| Keyed(Arc::new(e))).collect();
        self.rebuild(&src);
    }

    /// Adds or replaces one API-defined endpoint: O(log n), the rest of the snapshot is shared.
    pub fn upsert_managed(&self, endpoint: LiveEndpoint) {
        let mut src = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let endpoint = Arc::new(endpoint);
        src.managed.replace(Keyed(endpoint.clone()));
        if src.config.contains(endpoint.config.id.as_str()) {
            warn_clash(&endpoint.config.id);
            return;
        }
        let mut snap = Snapshot::clone(&self.snapshot.load());
        snap.insert(endpoint);
        self.snapshot.store(Arc::new(snap));
    }

    /// Removes one API-defined endpoint.
    pub fn remove_managed(&self, id: &str) {
        let mut src = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        if !src.managed.remove(id) || src.config.contains(id) {
            return;
        }
        let mut snap = Snapshot::clone(&self.snapshot.load());
        snap.remove(id);
        self.snapshot.store(Arc::new(snap));
    }

    /// Builds and swaps in a whole snapshot. On an id clash the config file wins (the API
    /// refuses such ids, but a later config edit can introduce one).
    fn rebuild(&self, src: &Sources) {
        let managed = src.managed.iter().filter(|e| {
            let id = e.0.config.id.as_str();
            let clash = src.config.contains(id);
            if clash {
                warn_clash(id);
            }
            !clash
        });
        let all = src.config.iter().chain(managed).map(|k| k.0.clone());
        self.snapshot.store(Arc::new(Snapshot::new(all)));
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// One endpoint, if it exists.
    pub fn get(&self, id: &str) -> Option<Arc<LiveEndpoint>> {
        self.snapshot.load().get(id).cloned()
    }

    /// Runtime state of an endpoint (default: healthy).
    pub fn state(&self, id: &str) -> EndpointState {
        self.states
            .read()
            .map(|m| m.get(id).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Records a runtime state change.
    pub fn set_state(&self, id: &str, state: EndpointState) {
        if let Ok(mut m) = self.states.write() {
            m.insert(id.to_string(), state);
        }
    }

    /// Whether deliveries to this endpoint may be made and new events fan out to it: enabled in
    /// config and not disabled by the gateway.
    pub fn is_active(&self, e: &LiveEndpoint) -> bool {
        e.config.enabled
            && !self
                .states
                .read()
                .map(|m| m.get(&e.config.id).is_some_and(|s| s.disabled))
                .unwrap_or(false)
    }
}
