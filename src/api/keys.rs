//! API keys minted at run time: `GET|POST /v1/keys`, `DELETE /v1/keys/{id}`.
//!
//! A key is 32 bytes from the OS CSPRNG, written `hg_` + base64url, shown once in the create
//! answer and never again: only its SHA-256 is stored, and lookups compare digests in constant
//! time ([`super::auth`]). Keys from the config file are listed too, read-only.

use std::str::FromStr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::auth::{Caller, MintedKey};
use super::body::JsonBody;
use super::error::ApiError;
use super::paging::list_json;
use super::ApiState;
use crate::config::{Rate, Scope};
use crate::store::{now_ms, rfc3339, ApiKeyRecord, AuditEntry, StoreError};

/// What every minted key starts with, so secret scanners and people recognise one.
pub const KEY_PREFIX: &str = "hg_";
/// Characters of the key kept for display (`hg_` + 6).
const SHOWN: usize = 9;

/// Body of `POST /v1/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Label.
    name: String,
    /// Scope names.
    scopes: Vec<String>,
    /// Bind the key to one tenant.
    #[serde(default)]
    tenant: Option<String>,
    /// Requests per second (`100/s`).
    #[serde(default)]
    rate: Option<String>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_key", detail)
}

/// A minted key record as the auth check uses it; `None` for a corrupt record.
fn to_minted(r: &ApiKeyRecord) -> Option<MintedKey> {
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(&r.sha256, &mut sha256).ok()?;
    Some(MintedKey {
        id: r.id.clone(),
        name: r.name.clone(),
        sha256,
        scopes: r
            .scopes
            .iter()
            .filter_map(|s| Scope::from_str(s).ok())
            .collect(),
        tenant: r.tenant.clone(),
        rate: r.rate.as_deref().and_then(|s| Rate::from_str(s).ok()),
    })
}

/// Reloads the minted keys from the store into the auth check (start-up, create, revoke).
pub async fn reload_minted(state: &ApiState) -> Result<(), StoreError> {
    let list: Vec<MintedKey> = state
        .store
        .api_keys()
        .await?
        .iter()
        .filter_map(to_minted)
        .collect();
    state.minted.store(std::sync::Arc::new(list));
    super::end_bootstrap_if_keyed(state);
    Ok(())
}

fn key_json(r: &ApiKeyRecord) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "prefix": r.prefix,
        "scopes": r.scopes,
        "tenant": r.tenant,
        "rate": r.rate,
        "created_at": rfc3339(r.created_ms),
        "created_by": r.created_by,
        "source": "api",
    })
}

/// `GET /v1/keys`: config keys and minted keys, never the keys themselves. A tenant-bound
/// admin sees its tenant's keys only.
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let mut data: Vec<Value> = Vec::new();
    for k in state.auth.load().api_keys.iter() {
        if !caller.sees_key_of(k.tenant.as_deref()) {
            continue;
        }
        data.push(json!({
            "id": format!("config:{}", k.name),
            "name": k.name,
            "prefix": null,
            "scopes": k.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
            "tenant": k.tenant,
            "rate": k.rate.map(|r| format!("{}/s", r.per_second)),
            "created_at": null,
            "created_by": null,
            "source": "config",
        }));
    }
    let mut minted = state.store.api_keys().await?;
    minted.sort_by(|a, b| a.id.cmp(&b.id));
    for k in &minted {
        if caller.sees_key_of(k.tenant.as_deref()) {
            data.push(key_json(k));
        }
    }
    Ok(list_json(data, None))
}

/// `POST /v1/keys`: the key is in the answer, once.
pub async fn create(
    State(state): State<ApiState>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateKey>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = req.name.trim().to_string();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        return Err(invalid("name: 1 to 128 characters, no control characters"));
    }
    if req.scopes.is_empty() {
        return Err(invalid("scopes: at least one scope"));
    }
    let mut scopes = Vec::new();
    for s in &req.scopes {
        scopes.push(Scope::from_str(s).map_err(|e| invalid(format!("scopes: {e}")))?);
    }
    let tenant = match (&caller.tenant, req.tenant) {
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(t)) if *own == t => Some(t),
        (Some(own), Some(t)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                format!(
                    "key {:?} is bound to tenant {own:?} and cannot mint keys for {t:?}",
                    caller.name
                ),
            ))
        }
        (None, t) => t,
    };
    if let Some(t) = &tenant {
        if !crate::config::is_valid_id(t) {
            return Err(invalid(format!(
                "tenant: {t:?} must match [A-Za-z0-9_.:-]{{1,128}}"
            )));
        }
    }
    if let Some(r) = &req.rate {
        Rate::from_str(r).map_err(|e| invalid(format!("rate: {e}")))?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let rec = ApiKeyRecord {
        id: format!("key_{}", ulid::Ulid::new()),
        name,
        prefix: key[..SHOWN].to_string(),
        sha256: hex::encode(Sha256::digest(key.as_bytes())),
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        tenant,
        rate: req.rate,
        created_ms: now_ms(),
        created_by: caller.name.clone(),
    };
    let mut image = key_json(&rec);
    image.as_object_mut().map(|o| o.remove("source"));
    let audit = AuditEntry::new(&caller.name, "key.create", &rec.id, rec.tenant.as_deref())
        .with(None, Some(image));
    state.store.save_api_key(rec.clone(), audit).await?;
    reload_minted(&state).await?;
    tracing::info!(key_id = %rec.id, name = %rec.name, by = %caller.name, "API key minted");
    let mut v = key_json(&rec);
    v["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(v)))
}

/// `DELETE /v1/keys/{id}`: the key stops working at once.
pub async fn revoke(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if id.starts_with("config:") {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "managed_by_config",
            format!("key {id} is defined in the config file; remove it there"),
        ));
    }
    let rec = state
        .store
        .api_keys()
        .await?
        .into_iter()
        .find(|k| k.id == id)
        .filter(|k| caller.sees_key_of(k.tenant.as_deref()))
        .ok_or_else(|| ApiError::not_found("key", &id))?;
    let audit = AuditEntry::new(&caller.name, "key.revoke", &id, rec.tenant.as_deref())
        .with(Some(key_json(&rec)), None);
    state.store.delete_api_key(&id, audit).await?;
    reload_minted(&state).await?;
    tracing::info!(key_id = %id, by = %caller.name, "API key revoked");
    Ok(Json(json!({"id": id, "revoked": true})))
}
