//! The live endpoint set: config-defined endpoints with their resolved secrets and runtime state.
//!
//! Readers (every publish, every attempt) take a lock-free snapshot through `ArcSwap`; a reload
//! swaps the whole snapshot at once, so a request never sees half of an old and half of a new
//! config. Runtime state (failure streak, auto-disable) changes far more often than config and is
//! kept beside it under its own lock.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use crate::config::EndpointConfig;
use crate::signing::Secret;
use crate::store::EndpointState;

/// Per-endpoint cap on attempts in flight when the config sets none: enough for a fast receiver
/// to take thousands of deliveries a second, small enough that one dead receiver holds only a
/// fraction of the global permits.
pub const DEFAULT_ENDPOINT_IN_FLIGHT: usize = 64;

/// One endpoint as the dispatcher uses it.
#[derive(Debug)]
pub struct LiveEndpoint {
    /// As configured.
    pub config: EndpointConfig,
    /// Signing secrets, oldest first (the configured one, or the generated and stored one).
    pub secrets: Vec<Secret>,
}

impl LiveEndpoint {
    /// How many attempts may be in flight to this endpoint (1 for FIFO: strict order).
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

    /// Whether deliveries must go out one at a time in publish order.
    pub fn is_fifo(&self) -> bool {
        self.config.ordering == crate::config::Ordering::Fifo
    }
}

/// An immutable view of all endpoints, indexed the two ways the hot paths need.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// By endpoint id.
    pub by_id: HashMap<String, Arc<LiveEndpoint>>,
    /// By tenant, each list sorted by id (deterministic fan-out order).
    pub by_tenant: HashMap<String, Vec<Arc<LiveEndpoint>>>,
}

impl Snapshot {
    /// Indexes a list of endpoints.
    pub fn new(endpoints: Vec<LiveEndpoint>) -> Self {
        let mut s = Snapshot::default();
        for e in endpoints {
            let e = Arc::new(e);
            s.by_tenant
                .entry(e.config.tenant.clone())
                .or_default()
                .push(e.clone());
            s.by_id.insert(e.config.id.clone(), e);
        }
        for list in s.by_tenant.values_mut() {
            list.sort_by(|a, b| a.config.id.cmp(&b.config.id));
        }
        s
    }
}

/// The shared registry.
#[derive(Debug, Default)]
pub struct Registry {
    snapshot: ArcSwap<Snapshot>,
    states: RwLock<HashMap<String, EndpointState>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces every endpoint at once (start-up and reload).
    pub fn replace(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// One endpoint, if it exists.
    pub fn get(&self, id: &str) -> Option<Arc<LiveEndpoint>> {
        self.snapshot.load().by_id.get(id).cloned()
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
