//! `GET /v1/endpoints[/{id}]`, enable/disable, and the generated-secret read for config-defined
//! endpoints. Creating and editing endpoints at run time is the management API's job.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::ApiState;
use crate::config::{EventPattern, Scope};
use crate::dispatch::LiveEndpoint;
use crate::store::EndpointState;

fn pattern(p: &EventPattern) -> String {
    match p {
        EventPattern::All => "*".into(),
        EventPattern::Prefix(s) => format!("{s}*"),
        EventPattern::Exact(s) => s.clone(),
    }
}

fn endpoint_json(state: &ApiState, e: &LiveEndpoint) -> Value {
    let c = &e.config;
    let st = state.registry.state(&c.id);
    json!({
        "id": c.id,
        "tenant": c.tenant,
        "url": c.url.as_str(),
        "events": c.events.iter().map(pattern).collect::<Vec<_>>(),
        "signature": c.signature,
        "headers": c.headers.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "rate_per_second": c.rate.map(|r| r.per_second),
        "max_in_flight": e.in_flight_cap(),
        "ordering": if e.is_fifo() { "fifo" } else { "none" },
        "enabled": c.enabled,
        "status": if state.registry.is_active(e) { "active" } else { "disabled" },
        "disabled_reason": st.disabled_reason,
        "consecutive_failures": st.consecutive_failures,
        "managed_by": "config",
    })
}

fn find(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<std::sync::Arc<LiveEndpoint>, ApiError> {
    state
        .registry
        .get(id)
        .filter(|e| caller.sees(&e.config.tenant))
        .ok_or_else(|| ApiError::not_found("endpoint", id))
}

/// `GET /v1/endpoints`
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::EndpointsRead)?;
    let snap = state.registry.snapshot();
    let mut items: Vec<_> = snap
        .by_id
        .values()
        .filter(|e| caller.sees(&e.config.tenant))
        .collect();
    items.sort_by(|a, b| a.config.id.cmp(&b.config.id));
    Ok(Json(json!({
        "data": items.iter().map(|e| endpoint_json(&state, e)).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

/// `GET /v1/endpoints/{id}`
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::EndpointsRead)?;
    let e = find(&state, &caller, &id)?;
    Ok(Json(endpoint_json(&state, &e)))
}

/// `GET /v1/endpoints/{id}/secret`: the signing secrets of a config-defined endpoint (the
/// generated one when the config gives none), so an operator can hand them to the receiver.
pub async fn secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::EndpointsManage)?;
    let e = find(&state, &caller, &id)?;
    let secrets: Vec<&str> = e.secrets.iter().map(|s| s.expose()).collect();
    Ok(Json(json!({ "id": e.config.id, "secrets": secrets })))
}

async fn set_enabled(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    enable: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Scope::EndpointsManage)?;
    let e = find(state, caller, id)?;
    if enable && !e.config.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "managed_by_config",
            format!("endpoint {id} is disabled in the config file (enabled: false); edit the file"),
        ));
    }
    let st = if enable {
        EndpointState::default()
    } else {
        EndpointState {
            consecutive_failures: state.registry.state(id).consecutive_failures,
            disabled: true,
            disabled_reason: Some(format!("disabled by {}", caller.name)),
        }
    };
    state.store.put_endpoint_state(id, st.clone()).await?;
    state.registry.set_state(id, st);
    if enable {
        state.signal.mark(id, 0);
    }
    tracing::info!(endpoint_id = %id, by = %caller.name, enabled = enable, "endpoint state changed");
    Ok(Json(endpoint_json(state, &e)))
}

/// `POST /v1/endpoints/{id}/enable`: resumes deliveries and resets the failure streak.
pub async fn enable(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &caller, &id, true).await
}

/// `POST /v1/endpoints/{id}/disable`: pauses deliveries (they stay pending).
pub async fn disable(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_enabled(&state, &caller, &id, false).await
}
