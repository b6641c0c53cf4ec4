//! Who is calling: the `Caller` extractor and its scope and tenant checks.
//!
//! Keys are configured as SHA-256 digests; a presented key is hashed and compared against every
//! digest in constant time, so neither the match nor its position leaks through timing. With no
//! keys configured the API is open, but only to loopback peers.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::ApiState;
use crate::config::Scope;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Key name from config (`loopback` when no keys are configured).
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// The one tenant the key is bound to, if any.
    pub tenant: Option<String>,
}

impl Caller {
    /// Fails with 403 unless the caller holds `scope` (or `admin`).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self
            .scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
        {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("key {:?} lacks scope {}", self.name, scope.as_str()),
            ))
        }
    }

    /// Whether the caller may see objects of `tenant`. Callers that may not get 404, not 403, so
    /// another tenant's ids cannot be probed.
    pub fn sees(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == tenant)
    }

    /// The tenant a publish goes to: the requested one (default `default`), which a bound key
    /// may only set to its own tenant (an absent tenant means the key's).
    pub fn publish_tenant(&self, requested: Option<&str>) -> Result<String, ApiError> {
        match (&self.tenant, requested) {
            (Some(own), None) => Ok(own.clone()),
            (Some(own), Some(r)) if r == own => Ok(own.clone()),
            (Some(own), Some(r)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "tenant_forbidden",
                format!(
                    "key {:?} is bound to tenant {own:?} and cannot publish to {r:?}",
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

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let auth = state.auth.load();
        if auth.api_keys.is_empty() {
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            return match peer {
                Some(ip) if ip.is_loopback() => Ok(Caller {
                    name: "loopback".into(),
                    scopes: vec![Scope::Admin],
                    tenant: None,
                }),
                _ => Err(unauthorized(
                    "no API keys are configured: the API only answers loopback clients",
                )),
            };
        }
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("missing Authorization: Bearer <key>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("Authorization must be: Bearer <key>"))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for k in &auth.api_keys {
            if bool::from(k.key_sha256.ct_eq(&digest)) && found.is_none() {
                found = Some(k);
            }
        }
        let k = found.ok_or_else(|| unauthorized("unknown API key"))?;
        Ok(Caller {
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            tenant: k.tenant.clone(),
        })
    }
}
