//! Operations: `/healthz`, `/readyz`, `/v1/stats`, `/metrics`, `/openapi.json`.

use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::paging::{self, PageQuery};
use super::ApiState;
use crate::store::{now_ms, Counters};

/// Window of `/v1/stats`.
const STATS_WINDOW_MS: u64 = 24 * 3_600_000;
/// Pending deliveries looked at per endpoint for the oldest-pending age; past it the figures
/// are lower bounds (`approximate: true`).
const PENDING_SCAN_CAP: usize = 100_000;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 once serving, 503 while starting or shutting down, and while the store
/// cannot commit (a full disk: publishes would only be refused), so a load balancer sends
/// traffic elsewhere until the store has recovered by itself.
pub async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let unready = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": status})),
        )
    };
    if !state.ready.load(Ordering::Relaxed) {
        unready("starting or stopping")
    } else if !state.store.is_writable() {
        unready("store unavailable")
    } else if state.headroom.is_low() {
        unready("store full: free disk space is below storage.min_free")
    } else {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    }
}

/// `GET /openapi.json`
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let m = crate::metrics::global();
    m.store_writable.set(state.store.is_writable() as i64);
    // While the store is down the scrape still answers, with the last known depth: an outage
    // is exactly when the other numbers matter.
    if let Ok(depth) = state.store.pending_count().await {
        m.queue_depth.set(depth as i64);
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
        .into_response())
}

fn counters_json(c: &Counters) -> Value {
    json!({
        "attempts": {"succeeded": c.attempts_ok, "failed": c.attempts_failed},
        "deliveries": {"succeeded": c.delivered, "dead": c.dead},
        "success_rate": c.success_rate(),
    })
}

/// `GET /v1/stats`: the last 24 hours per endpoint and in total — attempt success rate,
/// deliveries succeeded and dead, pending count and oldest pending age, disabled endpoints.
/// A tenant-bound key sees its tenant's endpoints only. The totals cover every endpoint; the
/// per-endpoint rows come a page at a time (`limit`, default and largest 1,000, and `cursor`),
/// so a gateway with fewer endpoints answers whole as before, and one with 100,000 does not
/// build a 25 MB answer.
pub async fn stats(
    State(state): State<ApiState>,
    caller: Caller,
    Query(q): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let now = now_ms();
    let limit = paging::limit_or_largest(q.limit);
    let snap = state.registry.snapshot();
    let counters: std::collections::HashMap<String, Counters> = state
        .store
        .counters(now.saturating_sub(STATS_WINDOW_MS))
        .await?
        .into_iter()
        .collect();
    let pending: std::collections::HashMap<String, crate::store::PendingSummary> = state
        .store
        .pending_summary(PENDING_SCAN_CAP)
        .await?
        .into_iter()
        .map(|p| (p.endpoint_id.clone(), p))
        .collect();
    let mut total = Counters::default();
    let mut total_pending = 0u64;
    let mut oldest: Option<u64> = None;
    let mut approximate = false;
    let mut disabled = Vec::new();
    let mut per = Vec::new();
    let mut count = 0usize;
    let mut next_cursor = None;
    for e in snap.after(caller.tenant.as_deref(), None) {
        count += 1;
        let id = &e.config.id;
        let c = counters.get(id).copied().unwrap_or_default();
        total.add(&c);
        let p = pending.get(id).cloned().unwrap_or_default();
        total_pending += p.count;
        approximate |= p.truncated;
        if let Some(o) = p.oldest_created_ms {
            oldest = Some(oldest.map_or(o, |x| x.min(o)));
        }
        let active = state.registry.is_active(e);
        if !active {
            disabled.push(id.clone());
        }
        if q.cursor.as_deref().is_some_and(|c| id.as_str() <= c) {
            continue;
        }
        if per.len() == limit {
            if next_cursor.is_none() {
                next_cursor = per.last().map(|v: &Value| v["id"].clone());
            }
            continue;
        }
        let mut v = counters_json(&c);
        v["id"] = json!(id);
        v["tenant"] = json!(e.config.tenant);
        v["status"] = json!(if active { "active" } else { "disabled" });
        v["pending"] = json!(p.count);
        v["oldest_pending_age_seconds"] =
            json!(p.oldest_created_ms.map(|o| now.saturating_sub(o) / 1000));
        per.push(v);
    }
    let mut v = counters_json(&total);
    v["window"] = json!("24h");
    v["pending"] = json!(total_pending);
    v["oldest_pending_age_seconds"] = json!(oldest.map(|o| now.saturating_sub(o) / 1000));
    v["approximate"] = json!(approximate);
    v["disabled_endpoints"] = json!(disabled);
    v["endpoint_count"] = json!(count);
    v["endpoints"] = json!(per);
    v["next_cursor"] = json!(next_cursor);
    if caller.tenant.is_none() {
        v["storage"] = storage_json(&state).await?;
    }
    Ok(Json(v))
}

/// The store's size, free space and the pruner's progress: gateway-wide, so only for callers
/// not bound to a tenant.
async fn storage_json(state: &ApiState) -> Result<Value, ApiError> {
    let u = state.store.usage().await?;
    let m = crate::metrics::global();
    let rows: serde_json::Map<String, Value> = (u.rows.iter())
        .map(|(k, n)| (k.to_string(), json!(n)))
        .collect();
    let pruned: serde_json::Map<String, Value> = ["deliveries", "attempts", "events", "audit"]
        .into_iter()
        .map(|kind| {
            let n = m.pruned.get_or_create(&crate::metrics::Kind { kind }).get();
            (kind.to_string(), json!(n))
        })
        .collect();
    Ok(json!({
        "bytes": u.bytes,
        "free_bytes": state.headroom.free(),
        "min_free_bytes": state.headroom.min_free(),
        "full": state.headroom.is_low(),
        "rows": rows,
        "pruned_since_start": pruned,
        "prune_behind_seconds": m.prune_behind_seconds.get(),
    }))
}
