//! Defining endpoints at run time: create, change (JSON merge patch), delete, rotate the
//! signing secret, send a test event, recover dead deliveries.
//!
//! API-defined endpoints are stored (sealed, with their secrets) beside the config-defined
//! ones, which stay read-only here (`409 managed_by_config`): the file is their source of truth
//! and a reload would undo any change. A definition is validated by the config file's own rules
//! ([`crate::config::parse_endpoint`]), so the SSRF guard and header rules cannot be bypassed
//! through the API. Every change is written together with its audit entry.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::body::{JsonBody, OptionalJsonBody};
use super::endpoints::{endpoint_json, find};
use super::error::ApiError;
use super::events::test_event;
use super::ApiState;
use crate::config::{is_valid_id, parse_duration, Diagnostic, DiagnosticCode};
use crate::dispatch::{plugin_io, LiveEndpoint};
use crate::signing::Secret;
use crate::store::{now_ms, rfc3339, AuditEntry, Ingested, ManagedEndpoint, Millis, SigningSecret};

/// Grace period of a rotation when the request names none.
const DEFAULT_GRACE_MS: Millis = 24 * 3_600_000;
/// Longest grace period accepted.
const MAX_GRACE_MS: Millis = 30 * 24 * 3_600_000;
/// Fields of a create request that are not part of the stored definition.
const OUTSIDE_SPEC: &[&str] = &["id", "tenant", "secret", "description"];

fn managed_by_config(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "managed_by_config",
        format!("endpoint {id} is defined in the config file; change it there"),
    )
}

fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
}

/// 409 `endpoint_exists`.
fn exists(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "endpoint_exists",
        format!("an endpoint with id {id} already exists"),
    )
}

/// Diagnostics → 422, `ssrf_blocked` when the URL is what the guard refused.
fn invalid(diags: Vec<Diagnostic>) -> ApiError {
    let code = if diags
        .iter()
        .any(|d| d.code == Some(DiagnosticCode::SsrfBlocked))
    {
        "ssrf_blocked"
    } else {
        "invalid_endpoint"
    };
    let detail = diags
        .iter()
        .map(|d| {
            if d.path.is_empty() {
                d.message.clone()
            } else {
                format!("{}: {}", d.path, d.message)
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    unprocessable(code, detail)
}

fn object(v: Value) -> Result<Map<String, Value>, ApiError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        )),
    }
}

fn opt_string(m: &Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(unprocessable(
            "invalid_endpoint",
            format!("{key}: expected a string"),
        )),
    }
}

/// Checks a definition against the rules in force (the config file's, then each chain
/// plugin's own check of its config) and builds its live form.
async fn validate(state: &ApiState, rec: &ManagedEndpoint) -> Result<LiveEndpoint, ApiError> {
    let live = {
        let cfg = state.config.load();
        let names: Vec<String> = cfg.plugins.keys().cloned().collect();
        LiveEndpoint::from_managed(rec, &cfg.network, &names).map_err(invalid)?
    };
    if let Some(host) = &state.plugins {
        let problems = plugin_io::check_plugin_configs(host, [&live.config]).await;
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
    }
    Ok(live)
}

/// The stored record of an API-defined endpoint the caller may see.
async fn record(state: &ApiState, caller: &Caller, id: &str) -> Result<ManagedEndpoint, ApiError> {
    let live = find(state, caller, id)?;
    if live.is_config() {
        return Err(managed_by_config(id));
    }
    state
        .store
        .managed_endpoint(id)
        .await?
        .ok_or_else(|| ApiError::not_found("endpoint", id))
}

/// The audit image of an endpoint: its definition, never its secrets.
fn image(rec: &ManagedEndpoint) -> Value {
    json!({
        "tenant": rec.tenant,
        "spec": rec.spec,
        "description": rec.description,
        "secrets": rec.secrets.len(),
    })
}

/// `POST /v1/endpoints`: the secret is in the answer, once.
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut m = object(body)?;
    let id = match opt_string(&m, "id")? {
        Some(id) if !is_valid_id(&id) => {
            return Err(unprocessable(
                "invalid_endpoint",
                format!("id: {id:?} must match [A-Za-z0-9_.:-]{{1,128}}"),
            ))
        }
        Some(id) => id,
        None => format!("ep_{}", ulid::Ulid::new()),
    };
    let tenant = caller.publish_tenant(opt_string(&m, "tenant")?.as_deref())?;
    if !is_valid_id(&tenant) {
        return Err(unprocessable(
            "invalid_endpoint",
            format!("tenant: {tenant:?} must match [A-Za-z0-9_.:-]{{1,128}}"),
        ));
    }
    let secret = match opt_string(&m, "secret")? {
        Some(s) if s.is_empty() => {
            return Err(unprocessable(
                "invalid_endpoint",
                "secret: must not be empty (leave it out to have one generated)",
            ))
        }
        Some(s) => s,
        None => Secret::generate().expose().to_string(),
    };
    let description = opt_string(&m, "description")?;
    for k in OUTSIDE_SPEC {
        m.remove(*k);
    }
    let now = now_ms();
    let rec = ManagedEndpoint {
        id: id.clone(),
        tenant: tenant.clone(),
        spec: Value::Object(m),
        secrets: vec![SigningSecret {
            secret: secret.clone(),
            expires_ms: None,
        }],
        description,
        created_ms: now,
        updated_ms: now,
    };
    let live = validate(&state, &rec).await?;
    let _guard = state.manage_lock.lock().await;
    if state.registry.get(&id).is_some() {
        return Err(exists(&id));
    }
    let audit = AuditEntry::new(&caller.name, "endpoint.create", &id, Some(&tenant))
        .with(None, Some(image(&rec)));
    if !state.store.create_managed_endpoint(rec, audit).await? {
        // Created meanwhile by another node sharing the store.
        return Err(exists(&id));
    }
    state.registry.upsert_managed(live);
    tracing::info!(endpoint_id = %id, tenant = %tenant, by = %caller.name, "endpoint created");
    let live = find(&state, &caller, &id)?;
    let mut v = endpoint_json(&state, &live);
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)))
}

/// RFC 7396 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// `PATCH /v1/endpoints/{id}`: a JSON merge patch of the definition (`null` removes a field).
/// `id` and `tenant` cannot change; the secret changes only by rotation.
pub async fn update(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let mut patch = object(body)?;
    for k in ["id", "tenant", "secret"] {
        if patch.contains_key(k) {
            return Err(unprocessable(
                "immutable_field",
                format!("{k}: cannot be changed (secrets change with rotate-secret)"),
            ));
        }
    }
    let _guard = state.manage_lock.lock().await;
    let mut rec = record(&state, &caller, &id).await?;
    let before = image(&rec);
    if let Some(d) = patch.remove("description") {
        rec.description = d.as_str().map(str::to_string);
    }
    merge(&mut rec.spec, &Value::Object(patch));
    rec.updated_ms = now_ms();
    let live = validate(&state, &rec).await?;
    let audit = AuditEntry::new(&caller.name, "endpoint.update", &id, Some(&rec.tenant))
        .with(Some(before), Some(image(&rec)));
    state.store.save_managed_endpoint(rec, audit).await?;
    state.registry.upsert_managed(live);
    // Pending deliveries use the new definition from their next attempt.
    state.signal.mark(&id, 0);
    tracing::info!(endpoint_id = %id, by = %caller.name, "endpoint updated");
    let live = find(&state, &caller, &id)?;
    Ok(Json(endpoint_json(&state, &live)))
}

/// `DELETE /v1/endpoints/{id}`: its pending deliveries become `cancelled`; the log stays.
pub async fn remove(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let _guard = state.manage_lock.lock().await;
    let rec = record(&state, &caller, &id).await?;
    let audit = AuditEntry::new(&caller.name, "endpoint.delete", &id, Some(&rec.tenant))
        .with(Some(image(&rec)), None);
    state.registry.remove_managed(&id);
    let cancelled = state
        .store
        .delete_managed_endpoint(&id, audit)
        .await?
        .unwrap_or(0);
    tracing::info!(endpoint_id = %id, by = %caller.name, cancelled, "endpoint deleted");
    Ok(Json(
        json!({"id": id, "deleted": true, "cancelled": cancelled}),
    ))
}

/// Body of a rotation.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous secret keeps signing (`24h` by default, `0s` to drop it now).
    #[serde(default)]
    grace: Option<String>,
}

/// `POST /v1/endpoints/{id}/rotate-secret {grace}`: a new secret, shown once. Until the grace
/// ends both sign (two `v1,` signatures; two `v1=` for the stripe scheme), so a receiver can
/// switch at any moment within it without rejecting a delivery.
pub async fn rotate_secret(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<RotateRequest>,
) -> Result<Json<Value>, ApiError> {
    let grace_ms = match &req.grace {
        None => DEFAULT_GRACE_MS,
        Some(g) => parse_duration(g)
            .map_err(|e| unprocessable("invalid_grace", format!("grace: {e}")))?
            .as_millis() as Millis,
    };
    if grace_ms > MAX_GRACE_MS {
        return Err(unprocessable("invalid_grace", "grace: at most 30 days"));
    }
    let _guard = state.manage_lock.lock().await;
    let mut rec = record(&state, &caller, &id).await?;
    let now = now_ms();
    let until = now + grace_ms;
    // Secrets already past their grace go; the current ones expire at the end of this grace.
    rec.secrets.retain(|s| s.expires_ms.is_none_or(|t| t > now));
    for s in &mut rec.secrets {
        s.expires_ms = Some(s.expires_ms.map_or(until, |t| t.min(until)));
    }
    if grace_ms == 0 {
        rec.secrets.clear();
    }
    let new = Secret::generate().expose().to_string();
    rec.secrets.push(SigningSecret {
        secret: new.clone(),
        expires_ms: None,
    });
    rec.updated_ms = now;
    let live = validate(&state, &rec).await?;
    let audit = AuditEntry::new(
        &caller.name,
        "endpoint.rotate_secret",
        &id,
        Some(&rec.tenant),
    )
    .with(
        None,
        Some(json!({"previous_expires_at": rfc3339(until), "secrets": rec.secrets.len()})),
    );
    state.store.save_managed_endpoint(rec, audit).await?;
    state.registry.upsert_managed(live);
    tracing::info!(endpoint_id = %id, by = %caller.name, grace_ms, "endpoint secret rotated");
    Ok(Json(json!({
        "id": id,
        "secret": new,
        "previous_expires_at": rfc3339(until),
    })))
}

/// Body of a test send.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    /// `data` of the test event (default `{}`).
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// `POST /v1/endpoints/{id}/test`: a `webhook.test` event to this endpoint only, through the
/// whole pipeline (plugins, signing, retries).
pub async fn test(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJsonBody(req): OptionalJsonBody<TestRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e = find(&state, &caller, &id)?;
    let data = req.data;
    let empty = RawValue::from_string("{}".into())
        .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let event = test_event(&id, &e.config.tenant, data.as_deref().unwrap_or(&empty));
    let delivery_id = event.deliveries[0].id.clone();
    let audit = AuditEntry::new(&caller.name, "endpoint.test", &id, Some(&e.config.tenant)).with(
        None,
        Some(json!({"event_id": event.event.id, "delivery_id": delivery_id})),
    );
    let results = state.store.ingest(vec![event]).await?;
    state.store.append_audit(audit).await?;
    state.signal.mark(&id, 0);
    let event_id = match results.first() {
        Some(Ingested::Created(e)) | Some(Ingested::Duplicate(e)) => e.event.id.clone(),
        None => return Err(ApiError::from(crate::store::StoreError::Closed)),
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"event_id": event_id, "delivery_id": delivery_id})),
    ))
}

/// Body of a recover.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    /// RFC 3339 time, or a duration back from now (`24h`).
    since: String,
}

/// Parses `since`: an RFC 3339 time or a duration ago.
fn since_ms(s: &str) -> Result<Millis, ApiError> {
    if let Ok(d) = parse_duration(s) {
        return Ok(now_ms().saturating_sub(d.as_millis() as Millis));
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000).max(0) as Millis)
        .map_err(|_| {
            unprocessable(
                "invalid_since",
                format!("since: {s:?} is neither an RFC 3339 time nor a duration like 24h"),
            )
        })
}

/// `POST /v1/endpoints/{id}/recover {since}`: dead deliveries created since then go out again,
/// each with a fresh retry schedule.
pub async fn recover(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    // Existence (and tenant) first: another tenant's id is a 404 whatever the body says.
    let e = find(&state, &caller, &id)?;
    let req: RecoverRequest =
        serde_json::from_value(body).map_err(|e| unprocessable("invalid_body", e.to_string()))?;
    let since = since_ms(&req.since)?;
    let audit = AuditEntry::new(
        &caller.name,
        "endpoint.recover",
        &id,
        Some(&e.config.tenant),
    );
    let n = state.store.recover(&id, since, audit).await?;
    if n > 0 {
        state.signal.mark(&id, 0);
    }
    tracing::info!(endpoint_id = %id, by = %caller.name, requeued = n, "dead deliveries requeued");
    Ok(Json(json!({"id": id, "requeued": n})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge(&mut t, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(t, json!({"a": "z", "c": {"d": "e"}}));
        let mut t = json!({"events": ["a"]});
        merge(&mut t, &json!({"events": ["b", "c"]}));
        assert_eq!(t, json!({"events": ["b", "c"]}));
    }

    #[test]
    fn since_takes_a_duration_or_a_time() {
        // The clock may tick during the call: bracket it instead of assuming one instant.
        let before = now_ms();
        let t = since_ms("1h").unwrap();
        let after = now_ms();
        assert!(
            before - 3_600_000 <= t && t <= after - 3_600_000,
            "{before} {t} {after}"
        );
        assert_eq!(since_ms("2026-01-01T00:00:00Z").unwrap(), 1_767_225_600_000);
        assert_eq!(since_ms("yesterday").unwrap_err().code, "invalid_since");
    }
}
