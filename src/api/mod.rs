//! The HTTP API (SPEC §3): one axum router, handlers grouped by resource.
//!
//! Handlers validate, authorise, then call the store or the dispatch registry; they never make
//! outbound requests and never touch redb. Errors are [`ApiError`] → problem+json. Every route
//! is declared once, in [`routes::table`], with its access rule.
//!
//! Must not import `reqwest`, `wasmtime`, `redb` or `delivery`.

pub mod audit;
pub mod auth;
pub mod body;
pub mod bootstrap;
pub mod deliveries;
pub mod endpoint_admin;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod keys;
pub mod openapi;
pub mod ops;
pub mod paging;
pub mod plugins;
pub mod routes;

use std::ops::Deref;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::http::StatusCode;
use axum::Router;

pub use error::ApiError;

use crate::config::{AuthConfig, Config};
use crate::dispatch::{DueSignal, Registry};
use crate::store::Store;

/// What handlers share.
pub struct ApiInner {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Live endpoints (fan-out, listings, management).
    pub registry: Arc<Registry>,
    /// Wakes the scheduler after ingest and requeues.
    pub signal: Arc<DueSignal>,
    /// API keys from the config file; swapped on reload.
    pub auth: ArcSwap<AuthConfig>,
    /// Keys minted through the API; swapped after each create or revoke.
    pub minted: ArcSwap<Vec<auth::MintedKey>>,
    /// The one-time bootstrap token while no key exists (see [`bootstrap`]).
    pub bootstrap: bootstrap::Bootstrap,
    /// Per-key rate limiters.
    pub limiters: auth::Limiters,
    /// The running config (network policy and plugin names validate new endpoints; delivery
    /// settings give "attempt n of m"). Shared with the reload loop.
    pub config: Arc<ArcSwap<Config>>,
    /// The plugin host, for `GET /v1/plugins`.
    pub plugins: Option<Arc<crate::plugins::PluginHost>>,
    /// The data dir's free space against `storage.min_free`: publishes are refused below it.
    pub headroom: Arc<crate::store::Headroom>,
    /// False until start-up finished and after shutdown began (`/readyz`).
    pub ready: AtomicBool,
    /// Serialises management writes that read, check, then write (create vs create of one id).
    pub manage_lock: tokio::sync::Mutex<()>,
}

/// Cheap-to-clone handle on [`ApiInner`].
#[derive(Clone)]
pub struct ApiState(pub Arc<ApiInner>);

impl Deref for ApiState {
    type Target = ApiInner;
    fn deref(&self) -> &ApiInner {
        &self.0
    }
}

/// The full router, built from [`routes::table`]. Serve with
/// `into_make_service_with_connect_info::<SocketAddr>()` so the bootstrap rule (loopback peers
/// only) can see the peer.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for (rule, handler) in routes::table() {
        let guarded = handler.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), rule.access),
            auth::authorize,
        ));
        router = router.route(rule.path, guarded);
    }
    router
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

/// Ends bootstrap mode if any key exists now (config or minted). Called after every change to
/// either set: start, mint, revoke, config reload.
pub fn end_bootstrap_if_keyed(state: &ApiState) {
    if !state.auth.load().api_keys.is_empty() || !state.minted.load().is_empty() {
        state.bootstrap.end();
    }
}
