//! The headers of one attempt: fixed ones, the endpoint's templated ones, then the signature.
//!
//! Built fresh for every attempt because the signature covers a fresh timestamp; the body is
//! never rebuilt.

use crate::config::{EndpointConfig, TemplateVars};
use crate::signing::{self, Secret, SignatureSpec};

/// `User-Agent` sent with every attempt whose endpoint headers and plugin output set none.
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
///
/// Exactly one `user-agent` is sent: a custom one (endpoint header or plugin output; the last
/// if a plugin gave several) replaces [`USER_AGENT`], because receivers that allow-list senders
/// by User-Agent read one value, and two would be joined or rejected depending on the server.
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
    let is_ua = |k: &str| k.eq_ignore_ascii_case("user-agent");
    let agent = custom
        .iter()
        .rev()
        .find(|(k, _)| is_ua(k))
        .map_or(USER_AGENT, |(_, v)| v.as_str());
    h.push(("user-agent".to_string(), agent.to_string()));
    h.extend(
        custom
            .iter()
            .filter(|(k, _)| !is_ua(k))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> AttemptIds<'static> {
        AttemptIds {
            event_id: "evt_1",
            event_type: "a.b",
            tenant: "default",
            delivery_id: "del_1",
        }
    }

    fn agents(custom: &[(&str, &str)]) -> Vec<String> {
        let custom: Vec<(String, String)> = custom
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let secrets = [Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")];
        build(
            &custom,
            &SignatureSpec::default(),
            &secrets,
            ids(),
            1,
            b"{}",
        )
        .into_iter()
        .filter(|(k, _)| k == "user-agent")
        .map(|(_, v)| v)
        .collect()
    }

    #[test]
    fn one_user_agent_default_or_custom() {
        assert_eq!(agents(&[("x-team", "a")]), [USER_AGENT]);
        assert_eq!(agents(&[("User-Agent", "Acme/2")]), ["Acme/2"]);
        assert_eq!(
            agents(&[("user-agent", "Acme/1"), ("USER-AGENT", "Acme/2")]),
            ["Acme/2"]
        );
    }
}
