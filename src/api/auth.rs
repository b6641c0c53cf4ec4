//! Who is calling, and may they: key lookup, scope and tenant rules, per-key rate limits.
//!
//! Every route is registered with an [`Access`] rule in [`super::routes`]; the [`authorize`]
//! middleware applies it before the handler runs and leaves the [`Caller`] in the request for
//! handlers that need the tenant. A presented key is hashed and compared against every known
//! digest (config keys and minted ones) in constant time, so neither the match nor its position
//! leaks through timing. A request without a key is always refused (401 `unauthorized`, with a
//! detail saying how to authenticate). While no key exists at all, the one-time bootstrap token
//! ([`super::bootstrap`]) is the only way in, from a loopback peer and never through a proxy.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::ApiState;
use crate::config::{Rate, Scope};
use crate::dispatch::rate::TokenBucket;
use crate::store::now_ms;

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, readiness, the OpenAPI document).
    Public,
    /// A key holding this scope (or `admin`); tenant-bound keys see only their tenant's objects.
    Scope(Scope),
    /// A key holding this scope and bound to no tenant: the answer spans every tenant.
    Global(Scope),
}

impl Access {
    /// The scope required, if any.
    pub fn scope(&self) -> Option<Scope> {
        match self {
            Access::Public => None,
            Access::Scope(s) | Access::Global(s) => Some(*s),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Key name (`bootstrap` for the bootstrap token).
    pub name: String,
    /// Minted key id, or `config:<name>` for config keys (for the audit log).
    pub key_id: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// The one tenant the key is bound to, if any.
    pub tenant: Option<String>,
}

/// A minted key as the auth check needs it (loaded from the store at start and after each
/// create or revoke).
#[derive(Debug, Clone)]
pub struct MintedKey {
    /// `key_…`.
    pub id: String,
    /// Label.
    pub name: String,
    /// SHA-256 of the key.
    pub sha256: [u8; 32],
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// Bound tenant.
    pub tenant: Option<String>,
    /// Rate limit.
    pub rate: Option<Rate>,
}

/// Per-key token buckets, created on a key's first request.
#[derive(Debug, Default)]
pub struct Limiters(Mutex<HashMap<String, TokenBucket>>);

impl Limiters {
    /// Takes one token for `key_id` at `rate`; on refusal, the seconds until the next token.
    fn check(&self, key_id: &str, rate: Rate) -> Result<(), u64> {
        let now = now_ms();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = map
            .entry(key_id.to_string())
            .or_insert_with(|| TokenBucket::new(rate.per_second, now));
        if !bucket.is_rate(rate.per_second) {
            *bucket = TokenBucket::new(rate.per_second, now);
        }
        if bucket.available(now) >= 1 {
            bucket.take(1);
            Ok(())
        } else {
            let wait_ms = bucket.next_token_ms(now).saturating_sub(now);
            Err(wait_ms.div_ceil(1000).max(1))
        }
    }
}

impl Caller {
    /// Whether the caller holds `scope` (or `admin`).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }

    /// Whether the caller may see objects of `tenant`. Callers that may not get 404, not 403, so
    /// another tenant's ids cannot be probed.
    pub fn sees(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
    }

    /// Whether the caller may see an API key bound to `key_tenant`: an unbound caller sees
    /// every key; a tenant-bound one only its own tenant's (an unbound key spans all tenants,
    /// so it is not its to see).
    pub fn sees_key_of(&self, key_tenant: Option<&str>) -> bool {
        match (self.tenant.as_deref(), key_tenant) {
            (None, _) => true,
            (Some(own), Some(t)) => own == t,
            (Some(_), None) => false,
        }
    }

    /// The tenant a new object goes to: the requested one (default `default`), which a bound key
    /// may only set to its own tenant (an absent tenant means the key's).
    pub fn publish_tenant(&self, requested: Option<&str>) -> Result<String, ApiError> {
        match (&self.tenant, requested) {
            (Some(own), None) => Ok(own.clone()),
            (Some(own), Some(r)) if r == own => Ok(own.clone()),
            (Some(own), Some(r)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                format!(
                    "key {:?} is bound to tenant {own:?} and cannot act on tenant {r:?}",
                    self.name
                ),
            )),
            (None, r) => Ok(r.unwrap_or(crate::DEFAULT_TENANT).to_string()),
        }
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
}

/// Name and key id of the caller who presented the bootstrap token (in the audit log).
pub const BOOTSTRAP_CALLER: &str = "bootstrap";

/// Finds the caller of a request, or says why not.
fn identify(parts: &Parts, state: &ApiState) -> Result<(Caller, Option<Rate>), ApiError> {
    let auth = state.auth.load();
    let minted = state.minted.load();
    // Re-checked per request rather than trusting `Bootstrap::end` alone: a key that exists
    // closes bootstrap even if the hook that ends it has not run yet.
    let bootstrap = state.bootstrap.is_active() && auth.api_keys.is_empty() && minted.is_empty();
    let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(unauthorized(if bootstrap {
            "no API key exists yet: send the one-time bootstrap token (printed in the gateway's \
             log at start and written to bootstrap.token in its data directory) as \
             Authorization: Bearer <token> from the gateway's host, and mint a key with \
             POST /v1/keys (hookgate keys create)"
        } else {
            "missing Authorization: Bearer <key>"
        }));
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("Authorization must be: Bearer <key>"))?;
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    // Look at every digest, config keys and minted ones alike, whatever matched first, so
    // timing depends neither on the match nor on its position.
    let known = (auth.api_keys.iter().map(Known::Config)).chain(minted.iter().map(Known::Minted));
    let mut found = None;
    for k in known {
        if bool::from(k.sha256().ct_eq(&digest)) && found.is_none() {
            found = Some(k);
        }
    }
    if let Some(k) = found {
        return Ok(k.caller());
    }
    if bootstrap && state.bootstrap.matches(&digest) {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if super::bootstrap::came_through_proxy(&parts.headers) {
            return Err(unauthorized(&format!(
                "the bootstrap token is refused on requests that came through a proxy \
                 ({}): mint the first key from the gateway's host",
                super::bootstrap::PROXY_HEADERS
            )));
        }
        if !peer.is_some_and(|ip| ip.is_loopback()) {
            return Err(unauthorized(
                "the bootstrap token is accepted from loopback clients only: mint the first key \
                 from the gateway's host",
            ));
        }
        return Ok((
            Caller {
                name: BOOTSTRAP_CALLER.into(),
                key_id: BOOTSTRAP_CALLER.into(),
                scopes: vec![Scope::Admin],
                tenant: None,
            },
            None,
        ));
    }
    Err(unauthorized("unknown API key"))
}

/// A key the gateway knows, from either source.
enum Known<'a> {
    Config(&'a crate::config::ApiKeyConfig),
    Minted(&'a MintedKey),
}

impl Known<'_> {
    fn sha256(&self) -> &[u8; 32] {
        match self {
            Known::Config(k) => &k.key_sha256,
            Known::Minted(k) => &k.sha256,
        }
    }

    /// The caller this key makes, with its rate limit.
    fn caller(self) -> (Caller, Option<Rate>) {
        match self {
            Known::Config(k) => (
                Caller {
                    name: k.name.clone(),
                    key_id: format!("config:{}", k.name),
                    scopes: k.scopes.clone(),
                    tenant: k.tenant.clone(),
                },
                k.rate,
            ),
            Known::Minted(k) => (
                Caller {
                    name: k.name.clone(),
                    key_id: k.id.clone(),
                    scopes: k.scopes.clone(),
                    tenant: k.tenant.clone(),
                },
                k.rate,
            ),
        }
    }
}

/// Applies a route's [`Access`] rule: 401 without a valid key, 429 past the key's rate, 403
/// without the scope (or with a tenant-bound key on a global route). On success the [`Caller`]
/// is left in the request's extensions.
pub async fn authorize(
    State((state, access)): State<(ApiState, Access)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(scope) = access.scope() else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let (caller, rate) = match identify(&parts, &state) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Some(rate) = rate {
        if let Err(wait) = state.limiters.check(&caller.key_id, rate) {
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("key {:?} is limited; retry in {wait} s", caller.name),
            )
            .into_response();
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, wait.into());
            return resp;
        }
    }
    if !caller.has(scope) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("key {:?} lacks scope {}", caller.name, scope.as_str()),
        )
        .into_response();
    }
    if matches!(access, Access::Global(_)) && caller.tenant.is_some() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "key {:?} is bound to a tenant; this route spans every tenant",
                caller.name
            ),
        )
        .into_response();
    }
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &ApiState) -> Result<Self, ApiError> {
        // Present on every route with a scope; a handler asking for it on a public route is a
        // wiring bug, reported rather than silently treated as anonymous.
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "route has no access rule",
            )
        })
    }
}
