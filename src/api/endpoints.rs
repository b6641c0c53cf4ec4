//! Reading endpoints (`GET /v1/endpoints[/{id}]`, `…/secret`) and pausing or resuming them
//! (`…/enable`, `…/disable`). These work on config-defined and API-defined endpoints alike;
//! creating and changing definitions is in [`super::endpoint_admin`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::body::Params;
use super::error::ApiError;
use super::paging::{self, list_json};
use super::ApiState;
use crate::config::{override_json, EventPattern, OnError};
use crate::dispatch::{LiveEndpoint, Origin};
use crate::store::{rfc3339, AuditEntry, EndpointState};

fn pattern(p: &EventPattern) -> String {
    match p {
        EventPattern::All => "*".into(),
        EventPattern::Prefix(s) => format!("{s}*"),
        EventPattern::Exact(s) => s.clone(),
    }
}

/// An endpoint as the API shows it. Header values are left out: they often carry credentials
/// for the receiver.
pub fn endpoint_json(state: &ApiState, e: &LiveEndpoint) -> Value {
    let c = &e.config;
    let st = state.registry.state(&c.id);
    let (managed_by, description, created, updated) = match &e.origin {
        Origin::Config => ("config", None, None, None),
        Origin::Api {
            description,
            created_ms,
            updated_ms,
        } => (
            "api",
            description.clone(),
            Some(rfc3339(*created_ms)),
            Some(rfc3339(*updated_ms)),
        ),
    };
    json!({
        "id": c.id,
        "tenant": c.tenant,
        "url": c.url.as_str(),
        "events": c.events.iter().map(pattern).collect::<Vec<_>>(),
        "signature": c.signature,
        "headers": c.headers.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        "plugins": c.plugins.iter().map(|p| json!({
            "use": p.name,
            "config": p.config,
            "on_error": match p.on_error { OnError::Retry => "retry", OnError::Skip => "skip", OnError::Drop => "drop" },
        })).collect::<Vec<_>>(),
        "rate": c.rate.map(|r| format!("{}/s", r.per_second)),
        "max_in_flight": e.in_flight_cap(),
        "ordering": if e.is_fifo() { "fifo" } else { "none" },
        "enabled": c.enabled,
        // Only what the endpoint overrides, in the file's spelling (a create or PATCH takes it
        // back as is); every other field follows the global `delivery:` block.
        "delivery": c.delivery.as_deref().map(override_json),
        // Likewise: only the endpoint's own rules; the rest follow the global `retention:`.
        "retention": c.retention.as_deref().map(crate::config::retention_json),
        "status": if state.registry.is_active(e) { "active" } else { "disabled" },
        "disabled_reason": st.disabled_reason,
        "consecutive_failures": st.consecutive_failures,
        "managed_by": managed_by,
        "description": description,
        "created_at": created,
        "updated_at": updated,
    })
}

/// The endpoint `id` if the caller may see it; 404 otherwise (also for other tenants' ids).
pub fn find(state: &ApiState, caller: &Caller, id: &str) -> Result<Arc<LiveEndpoint>, ApiError> {
    state
        .registry
        .get(id)
        .filter(|e| caller.sees(&e.config.tenant))
        .ok_or_else(|| ApiError::not_found("endpoint", id))
}

/// Query of the endpoint listing.
#[derive(Debug, Deserialize)]
pub struct EndpointsQuery {
    /// Only this tenant's endpoints.
    tenant: Option<String>,
    /// Items per page.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// `GET /v1/endpoints?tenant=&limit=&cursor=`, by id; the cursor is the last id returned.
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(q): Params<EndpointsQuery>,
) -> Result<Json<Value>, ApiError> {
    let snap = state.registry.snapshot();
    let limit = paging::limit(q.limit);
    let tenant = match (&caller.tenant, &q.tenant) {
        (Some(own), Some(t)) if own != t => return Ok(list_json(Vec::new(), None)),
        (Some(own), _) => Some(own.as_str()),
        (None, t) => t.as_deref(),
    };
    let mut items: Vec<_> = snap
        .after(tenant, q.cursor.as_deref())
        .take(limit + 1)
        .collect();
    let next_cursor = (items.len() > limit).then(|| items[limit - 1].config.id.clone());
    items.truncate(limit);
    Ok(list_json(
        items.iter().map(|e| endpoint_json(&state, e)).collect(),
        next_cursor,
    ))
}

/// `GET /v1/endpoints/{id}`
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = find(&state, &caller, &id)?;
    Ok(Json(endpoint_json(&state, &e)))
}

/// `GET /v1/endpoints/{id}/secret`: the signing secrets in use (oldest first, with their
/// expiry during a rotation), so an operator can hand them to the receiver.
pub async fn secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let e = find(&state, &caller, &id)?;
    let secrets: Vec<&str> = e.secrets.iter().map(|s| s.expose()).collect();
    let expires: Vec<Option<String>> = (0..e.secrets.len())
        .map(|i| e.expiry(i).map(rfc3339))
        .collect();
    tracing::info!(endpoint_id = %id, by = %caller.name, "endpoint secrets read");
    Ok(Json(
        json!({ "id": e.config.id, "secrets": secrets, "expires_at": expires }),
    ))
}

async fn set_enabled(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    enable: bool,
) -> Result<Json<Value>, ApiError> {
    let e = find(state, caller, id)?;
    if enable && !e.config.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "managed_by_config",
            format!("endpoint {id} is defined with enabled: false; change the definition"),
        ));
    }
    let before = state.registry.state(id);
    let st = if enable {
        EndpointState::default()
    } else {
        EndpointState {
            consecutive_failures: before.consecutive_failures,
            disabled: true,
            disabled_reason: Some(format!("disabled by {}", caller.name)),
        }
    };
    state.store.put_endpoint_state(id, st.clone()).await?;
    state.registry.set_state(id, st.clone());
    let action = if enable {
        "endpoint.enable"
    } else {
        "endpoint.disable"
    };
    let audit = AuditEntry::new(&caller.name, action, id, Some(&e.config.tenant)).with(
        Some(json!({"disabled": before.disabled, "consecutive_failures": before.consecutive_failures})),
        Some(json!({"disabled": st.disabled, "consecutive_failures": st.consecutive_failures})),
    );
    state.store.append_audit(audit).await?;
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
