//! The headers of one attempt: fixed ones, the endpoint's templated ones, then the signature.
//!
//! Built fresh for every attempt because the signature covers a fresh timestamp; the body is
//! never rebuilt.

use crate::config::{EndpointConfig, TemplateVars};
use crate::signing::{self, Secret, SignatureSpec};

/// `User-Agent` sent with every attempt.
pub const USER_AGENT: &str = concat!("Hookgate/", env!("CARGO_PKG_VERSION"));

/// Who and what an attempt is about, for templates and the signature.
#[derive(Debug, Clone, Copy)]
pub struct AttemptIds<'a> {
    /// Event id: the message id receivers dedupe on (`webhook-id`).
    pub event_id: &'a str,
    /// Event type.
    pub event_type: &'a str,
    /// Tenant.
    pub tenant: &'a str,
    /// Delivery id.
    pub delivery_id: &'a str,
}

/// The endpoint's custom headers with templates rendered (what a plugin chain gets as input).
pub fn custom(endpoint: &EndpointConfig, ids: AttemptIds<'_>) -> Vec<(String, String)> {
    let vars = TemplateVars {
        event_id: ids.event_id,
        event_type: ids.event_type,
        tenant: ids.tenant,
        delivery_id: ids.delivery_id,
    };
    endpoint
        .headers
        .iter()
        .map(|(name, tpl)| (name.to_ascii_lowercase(), tpl.render(&vars)))
        .collect()
}

/// Every header for one attempt, in send order, names lower-case: `content-type` (unless the
/// custom headers set one, as a CloudEvents plugin does), `user-agent`, the custom headers, then
/// the signature over `body`.
pub fn build(
    custom: &[(String, String)],
    signature: &SignatureSpec,
    secrets: &[Secret],
    ids: AttemptIds<'_>,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut h = Vec::with_capacity(4 + custom.len());
    if !custom
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        h.push(("content-type".to_string(), "application/json".to_string()));
    }
    h.push(("user-agent".to_string(), USER_AGENT.to_string()));
    h.extend(
        custom
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    h.extend(signing::sign(
        signature,
        secrets,
        ids.event_id,
        timestamp,
        body,
    ));
    h
}
