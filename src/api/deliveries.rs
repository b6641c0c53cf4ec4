//! The delivery log: `GET /v1/deliveries/{id}`, the listings per endpoint and per event, and the
//! manual retry.

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
use crate::store::{rfc3339, AttemptRecord, AuditEntry, DeliveryRecord, DeliveryStatus};

/// The delivery `id` with its attempts if the caller may see it; 404 otherwise (also for other
/// tenants' ids).
async fn find(
    state: &ApiState,
    caller: &Caller,
    id: &str,
) -> Result<(DeliveryRecord, Vec<AttemptRecord>), ApiError> {
    state
        .store
        .delivery(id)
        .await?
        .filter(|(d, _)| caller.sees(&d.tenant))
        .ok_or_else(|| ApiError::not_found("delivery", id))
}

/// A delivery as every listing shows it.
pub fn delivery_json(d: &DeliveryRecord) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "endpoint_id": d.endpoint_id,
        "tenant": d.tenant,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": rfc3339(d.created_ms),
        "updated_at": rfc3339(d.updated_ms),
        "next_attempt_at": d.next_attempt_ms.map(rfc3339),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        // When retention removes it (null while pending, or when kept forever).
        "expires_at": d.expires_ms.map(rfc3339),
    })
}

fn attempt_json(a: &AttemptRecord, of: usize) -> Value {
    json!({
        "n": a.n,
        "of": of,
        "started_at": rfc3339(a.started_ms),
        "status_code": a.status_code,
        "latency_ms": a.latency_ms,
        "response_body": a.response_body,
        "error": a.error,
        "next_attempt_at": a.next_attempt_ms.map(rfc3339),
        "request": {
            "url": a.url,
            "headers": a.request_headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        },
    })
}

/// The `m` of "attempt n of m": the endpoint's own schedule as it stands now (the global one
/// once the endpoint is gone), plus the attempts made before the last manual requeue.
fn attempts_allowed(state: &ApiState, d: &DeliveryRecord) -> usize {
    let global = state.config.load();
    let live = state.registry.get(&d.endpoint_id);
    let own = live.as_ref().and_then(|e| e.config.delivery.as_deref());
    global.delivery.policy(own).attempts() + d.retry_base as usize
}

/// `GET /v1/deliveries/{id}`: the delivery, the exact body sent, and every attempt with its
/// exact headers.
pub async fn get_delivery(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (d, attempts) = find(&state, &caller, &id).await?;
    let event = state.store.event(&d.event_id).await?;
    let max = attempts_allowed(&state, &d);
    let mut v = delivery_json(&d);
    v["event_type"] = json!(event.as_ref().map(|e| e.event_type.clone()));
    // What was (or will be) sent: the plugin chain's output when there is one.
    let event_body = event.map(|e| e.body);
    let body = match &d.payload {
        Some(_) => state
            .store
            .payload_body(&d, event_body.as_deref().unwrap_or_default())
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        None => event_body,
    };
    v["body"] = json!(body);
    v["plugins"] = json!(d.payload.as_ref().map(|p| &p.plugins));
    v["attempt_log"] = Value::Array(attempts.iter().map(|a| attempt_json(a, max)).collect());
    Ok(Json(v))
}

/// Query of the endpoint delivery listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/endpoints/{id}/deliveries?status=&limit=&cursor=`, newest first.
pub async fn list_for_endpoint(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let ep = super::endpoints::find(&state, &caller, &id)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!(
                    "status {s:?} must be one of pending, succeeded, dead, filtered, cancelled"
                ),
            )
        })?),
    };
    let limit = paging::limit(q.limit);
    let page = state
        .store
        .endpoint_deliveries(&ep.config.id, status, q.cursor.as_deref(), limit)
        .await?;
    Ok(list_json(
        page.items.iter().map(delivery_json).collect(),
        page.next_cursor,
    ))
}

/// `GET /v1/events/{id}/deliveries?limit=&cursor=`: the deliveries the event fanned out to,
/// by delivery id. The page size defaults to the largest (1,000), so an event with fewer
/// deliveries comes back whole, as it did before this listing was paged.
pub async fn list_for_event(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<paging::PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let ev = super::events::find(&state, &caller, &id).await?;
    let limit = paging::limit_or_largest(q.limit);
    let page = state
        .store
        .event_deliveries(&ev.id, q.cursor.as_deref(), limit)
        .await?;
    let mut data = Vec::with_capacity(page.items.len());
    for d in &page.items {
        if let Some((rec, _)) = state.store.delivery(&d.id).await? {
            data.push(delivery_json(&rec));
        }
    }
    Ok(list_json(data, page.next_cursor))
}

/// `POST /v1/deliveries/{id}/retry`: due now, whatever its state, with a fresh retry schedule.
/// The same delivery id and the same stored body go out again (receivers dedupe on the id).
pub async fn retry(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (d, _) = find(&state, &caller, &id).await?;
    if state.registry.get(&d.endpoint_id).is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoint_gone",
            format!(
                "endpoint {} no longer exists; nothing to send to",
                d.endpoint_id
            ),
        ));
    }
    let audit = AuditEntry::new(&caller.name, "delivery.retry", &id, Some(&d.tenant)).with(
        Some(json!({"status": d.status, "attempts": d.attempts})),
        None,
    );
    let d = state
        .store
        .requeue(&id, audit)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery", &id))?;
    state.signal.mark(&d.endpoint_id, 0);
    tracing::info!(delivery_id = %id, by = %caller.name, "delivery requeued by an operator");
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&d))))
}
