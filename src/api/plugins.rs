//! `GET /v1/plugins` (what is loaded, which version, the last reload error) and operator access
//! to a plugin's key-value namespace, e.g. to load the lookup table an enrichment plugin reads.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::auth::Caller;
use super::error::ApiError;
use super::ApiState;
use crate::builtin_plugins::{self, BuiltinPlugin};
use crate::plugins::PluginStatus;
use crate::store::AuditEntry;
use crate::store::{rfc3339, KvError};

/// `GET /v1/plugins`: every configured plugin, then every built-in no endpoint uses yet
/// (`status: available`; it loads on first use). Sorted by name.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let statuses = (state.plugins.as_ref()).map_or_else(Vec::new, |h| h.status());
    let mut items: Vec<(String, Value)> = statuses
        .into_iter()
        .map(|s| (s.name.clone(), loaded_json(s)))
        .collect();
    for b in &builtin_plugins::ALL {
        if !items.iter().any(|(name, _)| name == b.name) {
            items.push((b.name.to_string(), available_json(b)));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let data: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    Ok(Json(json!({ "data": data })))
}

fn loaded_json(s: PluginStatus) -> Value {
    json!({
        "name": s.name,
        "source": if s.source.path().is_some() { "file" } else { "builtin" },
        "path": s.source.path().map(|p| p.display().to_string()),
        "sha256": s.sha256,
        "loaded_at": s.loaded_at.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| rfc3339(d.as_millis() as u64)),
        "status": if s.sha256.is_none() { "failed" } else if s.last_error.is_some() { "stale" } else { "ok" },
        "last_error": s.last_error,
    })
}

fn available_json(b: &BuiltinPlugin) -> Value {
    json!({
        "name": b.name,
        "source": "builtin",
        "path": null,
        "sha256": b.sha256(),
        "loaded_at": null,
        "status": "available",
        "last_error": null,
    })
}

fn known(state: &ApiState, name: &str) -> Result<(), ApiError> {
    match &state.plugins {
        Some(h) if h.status().iter().any(|s| s.name == name) => Ok(()),
        _ if builtin_plugins::is_builtin(name) => Ok(()),
        _ => Err(ApiError::not_found("plugin", name)),
    }
}

/// `GET /v1/plugins/{name}/kv/{key}`: the raw value.
pub async fn kv_get(
    State(state): State<ApiState>,
    Path((name, key)): Path<(String, String)>,
) -> Result<Bytes, ApiError> {
    known(&state, &name)?;
    state
        .store
        .kv_get(&name, &key)
        .await?
        .map(Bytes::from)
        .ok_or_else(|| ApiError::not_found("kv key", &key))
}

/// `PUT /v1/plugins/{name}/kv/{key}` with the raw value as body.
pub async fn kv_put(
    State(state): State<ApiState>,
    caller: Caller,
    Path((name, key)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    known(&state, &name)?;
    if key.is_empty()
        || key.len() > crate::plugins::MAX_KEY_BYTES
        || body.len() > crate::plugins::MAX_VALUE_BYTES
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "kv_too_large",
            format!(
                "keys are 1..={} bytes and values at most {} bytes",
                crate::plugins::MAX_KEY_BYTES,
                crate::plugins::MAX_VALUE_BYTES
            ),
        ));
    }
    let target = format!("{name}/{key}");
    let size = body.len();
    match state.store.kv_set(&name, &key, &body).await {
        Ok(()) => {
            // The value itself stays out of the log: lookup tables can hold anything.
            let audit = AuditEntry::new(&caller.name, "plugin_kv.put", &target, None)
                .with(None, Some(serde_json::json!({"bytes": size})));
            state.store.append_audit(audit).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(KvError::Quota { .. }) => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "kv_quota_exceeded",
            "the plugin's key-value namespace is full",
        )),
        Err(KvError::Store(e)) => Err(e.into()),
    }
}

/// `DELETE /v1/plugins/{name}/kv/{key}`
pub async fn kv_delete(
    State(state): State<ApiState>,
    caller: Caller,
    Path((name, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    known(&state, &name)?;
    let target = format!("{name}/{key}");
    state.store.kv_delete(&name, &key).await?;
    let audit = AuditEntry::new(&caller.name, "plugin_kv.delete", &target, None);
    state.store.append_audit(audit).await?;
    Ok(StatusCode::NO_CONTENT)
}
