//! The HTTP API (SPEC §3): one axum router, handlers grouped by resource.
//!
//! Handlers validate, authorise, then call the store or the dispatch registry; they never make
//! outbound requests and never touch redb. Errors are [`ApiError`] → problem+json.
//!
//! Must not import `reqwest`, `wasmtime`, `redb` or `delivery`.

pub mod auth;
pub mod deliveries;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod plugins;

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

pub use error::ApiError;

use crate::config::{AuthConfig, DeliveryConfig};
use crate::dispatch::{DueSignal, Registry};
use crate::store::Store;

/// What handlers share.
pub struct ApiInner {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Live endpoints (fan-out, listings).
    pub registry: Arc<Registry>,
    /// Wakes the scheduler after ingest.
    pub signal: Arc<DueSignal>,
    /// API keys; swapped on reload.
    pub auth: ArcSwap<AuthConfig>,
    /// Delivery settings, for "attempt n of m".
    pub settings: ArcSwap<DeliveryConfig>,
    /// The plugin host, for `GET /v1/plugins`.
    pub plugins: Option<Arc<crate::plugins::PluginHost>>,
    /// False until start-up finished and after shutdown began (`/readyz`).
    pub ready: AtomicBool,
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

/// The full router. Serve with `into_make_service_with_connect_info::<SocketAddr>()` so the
/// loopback-only rule can see the peer.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route(
            "/v1/events",
            post(events::publish).layer(DefaultBodyLimit::max(events::MAX_EVENT_BYTES + 4096)),
        )
        .route(
            "/v1/events/batch",
            post(events::publish_batch).layer(DefaultBodyLimit::max(events::MAX_BATCH_BYTES)),
        )
        .route("/v1/events/{id}", get(events::get_event))
        .route("/v1/deliveries/{id}", get(deliveries::get_delivery))
        .route("/v1/endpoints", get(endpoints::list))
        .route("/v1/endpoints/{id}", get(endpoints::get))
        .route("/v1/endpoints/{id}/secret", get(endpoints::secret))
        .route("/v1/endpoints/{id}/enable", post(endpoints::enable))
        .route("/v1/endpoints/{id}/disable", post(endpoints::disable))
        .route(
            "/v1/endpoints/{id}/deliveries",
            get(deliveries::list_for_endpoint),
        )
        .route("/v1/plugins", get(plugins::list))
        .route(
            "/v1/plugins/{name}/kv/{key}",
            put(plugins::kv_put)
                .get(plugins::kv_get)
                .delete(plugins::kv_delete),
        )
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting or stopping"})),
        )
    }
}
