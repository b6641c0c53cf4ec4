//! Webhook signing and verification: the three signature schemes Hookgate
//! speaks (Standard Webhooks, Stripe-style, GitHub-style), the [`Secret`] type
//! that keeps signing keys out of logs, and secret generation for rotation.
//!
//! Everything here is a pure function of its arguments: no I/O, no clock, no
//! global state. The caller passes the time in, which keeps signing
//! deterministic and testable. The delivery path calls [`sign`]; the
//! `hookgate verify` CLI and the example receiver call [`verify`], so a
//! receiver checks signatures with exactly the code that made them.
//!
//! Every signature comparison is constant-time (`subtle`), and verification
//! accepts any one of several signatures so that secrets can be rotated
//! without downtime (see [`sign`]).

mod github;
mod mac;
mod secret;
mod standard;
mod stripe;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use secret::Secret;
pub use verify::VerifyError;

/// Signature scheme, as named in YAML config `signature: { scheme: standard|stripe|github }`.
/// Different receivers expect different formats; `standard` is the default
/// because it is an open spec with receiver libraries in many languages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Standard Webhooks 1.0: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`.
    #[default]
    Standard,
    /// Stripe-style: one header `t=<unix>,v1=<hex>`.
    Stripe,
    /// GitHub-style: `x-hub-signature-256: sha256=<hex>`, body only, no timestamp.
    Github,
}

impl Scheme {
    /// The config name, for messages and for the CLI's `--scheme`.
    fn name(self) -> &'static str {
        match self {
            Scheme::Standard => "standard",
            Scheme::Stripe => "stripe",
            Scheme::Github => "github",
        }
    }
}

/// Prints the config name (`standard`, `stripe`, `github`), so messages use
/// the same word the user wrote in YAML.
impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses the config name (case-insensitive), so the CLI's `--scheme` accepts
/// the same words as the YAML config.
impl FromStr for Scheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Scheme::Standard, Scheme::Stripe, Scheme::Github]
            .into_iter()
            .find(|scheme| s.trim().eq_ignore_ascii_case(scheme.name()))
            .ok_or_else(|| {
                format!("unknown signature scheme {s:?}: expected standard, stripe or github")
            })
    }
}

/// How one endpoint signs: scheme plus optional header-name and prefix
/// overrides, because some receivers expect a well-known scheme under a
/// different header name (e.g. `X-Mathub-Signature` with bare hex).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// Which scheme to sign with.
    pub scheme: Scheme,
    /// Signature header name; `None` (or blank) means the scheme's default.
    /// Output names are lower-cased. For `standard` only the signature header
    /// is renamed, never `webhook-id`/`webhook-timestamp`.
    #[serde(default)]
    pub header: Option<String>,
    /// Text before each signature (`standard`: `v1,`; `github`: `sha256=`,
    /// may be `""`). Ignored by `stripe`.
    #[serde(default)]
    pub prefix: Option<String>,
}

impl SignatureSpec {
    /// The lower-case name of the header that carries the signature for this
    /// spec, so callers (CLI hints, receivers, docs) need not repeat the
    /// per-scheme defaults.
    pub fn signature_header(&self) -> String {
        match self.header.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_ascii_lowercase(),
            _ => match self.scheme {
                Scheme::Standard => standard::DEFAULT_HEADER,
                Scheme::Stripe => stripe::DEFAULT_HEADER,
                Scheme::Github => github::DEFAULT_HEADER,
            }
            .to_string(),
        }
    }

    /// The prefix override, or the scheme's `default`.
    fn prefix_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.prefix.as_deref().unwrap_or(default)
    }
}

/// Sign one attempt. `secrets` = the active secrets, oldest first, newest last
/// (several during rotation). Returns the headers to add, as (lower-case name,
/// value) pairs, in a stable order.
///
/// Rotation: `standard` and `stripe` carry one signature per secret, so a
/// receiver holding either the old or the new secret accepts the request.
/// `github` has no multi-signature form, so only the newest secret signs.
/// With no secrets at all nothing is signed and no headers are returned.
/// `timestamp` is unix seconds, passed in so signing stays deterministic.
pub fn sign(
    spec: &SignatureSpec,
    secrets: &[Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    if secrets.is_empty() {
        return Vec::new();
    }
    match spec.scheme {
        Scheme::Standard => standard::sign(spec, secrets, msg_id, timestamp, body),
        Scheme::Stripe => stripe::sign(spec, secrets, timestamp, body),
        Scheme::Github => github::sign(spec, secrets, body),
    }
}

/// Verify a received request. `headers` = all request headers (names compared
/// case-insensitively; the first occurrence of a name is used). `now` =
/// current unix seconds; `tolerance_secs` = allowed |now - timestamp| (typ.
/// 300); github has no timestamp, so `now` and `tolerance_secs` are unused
/// for it. The error says what to fix, for CLI users and receiver logs.
pub fn verify(
    spec: &SignatureSpec,
    secret: &Secret,
    headers: &[(String, String)],
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    match spec.scheme {
        Scheme::Standard => standard::verify(spec, secret, headers, body, now, tolerance_secs),
        Scheme::Stripe => stripe::verify(spec, secret, headers, body, now, tolerance_secs),
        Scheme::Github => github::verify(spec, secret, headers, body),
    }
}
