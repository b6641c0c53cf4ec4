//! Dispatch: from an accepted event to attempts in flight.
//!
//! - [`fanout`] decides which endpoints an event goes to (called by the publish API).
//! - [`registry`] holds the live endpoints, swapped whole on reload.
//! - [`signal`] wakes the scheduler when new work is due.
//! - [`scheduler`] starts due deliveries within the global, per-endpoint and rate limits,
//!   which [`admission`] applies to one endpoint.
//! - [`worker`] runs one attempt through [`crate::delivery`] and records it in the store.
//!
//! Must not import `axum` or `api`.

pub mod admission;
pub mod chain;
pub mod fanout;
pub mod plugin_io;
pub mod plugin_lane;
pub mod rate;
pub mod registry;
pub mod scheduler;
pub mod signal;
pub mod snapshot;
pub mod worker;

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::DeliveryConfig;
use crate::delivery::Client;
use crate::store::Store;

pub use registry::{LiveEndpoint, Origin, Registry, Snapshot};
pub use scheduler::Scheduler;
pub use signal::DueSignal;

/// What the scheduler, its workers and the reload path share. Settings and the HTTP client are
/// swapped whole on reload; an attempt takes a snapshot when it starts, so a change applies from
/// the next attempt.
pub struct Shared {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Live endpoints.
    pub registry: Arc<Registry>,
    /// Wake-ups.
    pub signal: Arc<DueSignal>,
    /// The guarded outbound client (shared with the plugins' `http` import).
    pub client: Arc<ArcSwap<Client>>,
    /// The plugin host, when the gateway runs plugins.
    pub plugins: Option<Arc<crate::plugins::PluginHost>>,
    /// Where chains run (see [`plugin_lane`]); present exactly when `plugins` is.
    pub plugin_lanes: Option<plugin_lane::PluginLanes>,
    /// The `delivery:` config section.
    pub settings: ArcSwap<DeliveryConfig>,
    /// The `retention:` config section, shared with the rules the store applies.
    pub retention: Arc<ArcSwap<crate::config::RetentionConfig>>,
    /// Free space of the data dir against `storage.min_free`.
    pub headroom: Arc<crate::store::Headroom>,
}
