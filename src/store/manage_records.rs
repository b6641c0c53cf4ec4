//! Records of the management plane: endpoints created through the API, minted API keys, the
//! audit log, delivery counters for `/v1/stats`, and the pages listings return.
//!
//! Kept apart from the delivery records because they change rarely and are read by operators,
//! not by the hot path.

use serde::{Deserialize, Serialize};

use super::records::{monotonic_ulid, Millis};

/// One signing secret of an endpoint. `expires_ms` is set on the previous secret when a rotation
/// starts its grace period; expired ones are no longer used to sign.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SigningSecret {
    /// The secret as the receiver holds it (`whsec_…` for the standard scheme).
    pub secret: String,
    /// When it stops signing; `None` for the current secret.
    #[serde(default)]
    pub expires_ms: Option<Millis>,
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningSecret")
            .field("secret", &"<redacted>")
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

/// An endpoint registered through the API. The `spec` is the endpoint's definition as JSON in
/// the same vocabulary as a config file entry (minus the secret), so the config module validates
/// both the same way. The whole record is sealed at rest because it holds the secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManagedEndpoint {
    /// Endpoint id (unique across config-defined and managed endpoints).
    pub id: String,
    /// Tenant it belongs to.
    pub tenant: String,
    /// Definition: `url`, `events`, `signature`, `headers`, `plugins`, `rate`…
    pub spec: serde_json::Value,
    /// Signing secrets, oldest first; the last one is current.
    pub secrets: Vec<SigningSecret>,
    /// Free text for operators.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    pub created_ms: Millis,
    /// Last change.
    pub updated_ms: Millis,
}

/// A minted API key. Only the SHA-256 of the key is kept; `prefix` (the first characters of the
/// key) lets people tell keys apart in listings without revealing them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// `key_` + ULID.
    pub id: String,
    /// Human label.
    pub name: String,
    /// Displayable start of the key, e.g. `hg_7Hq2`.
    pub prefix: String,
    /// Lower-case hex SHA-256 of the whole key.
    pub sha256: String,
    /// Scope names (`events:publish`…).
    pub scopes: Vec<String>,
    /// The tenant the key is bound to, if any.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Per-key rate limit (`100/s`), if any.
    #[serde(default)]
    pub rate: Option<String>,
    /// When it was minted.
    pub created_ms: Millis,
    /// Who minted it.
    pub created_by: String,
}

/// One management action: who did what to which object, with the object before and after
/// (secrets and key material are never part of either).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    /// `aud_` + ULID (sorts by time).
    pub id: String,
    /// When.
    pub at_ms: Millis,
    /// The key name that acted.
    pub actor: String,
    /// What, e.g. `endpoint.create`, `key.revoke`, `delivery.retry`.
    pub action: String,
    /// The object acted on (an id).
    pub target: String,
    /// The object's tenant, when it has one.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The object before the action.
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    /// The object after the action.
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

impl AuditEntry {
    /// The smallest id an entry made at `ms` can have: every entry older than `ms` sorts
    /// before it (ids are `aud_` + ULID).
    pub fn first_id_at(ms: Millis) -> String {
        format!("aud_{}", ulid::Ulid::from_parts(ms, 0))
    }

    /// A new entry stamped now.
    pub fn new(actor: &str, action: &str, target: &str, tenant: Option<&str>) -> Self {
        AuditEntry {
            id: format!("aud_{}", monotonic_ulid()),
            at_ms: super::records::now_ms(),
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            tenant: tenant.map(str::to_string),
            before: None,
            after: None,
        }
    }

    /// Sets the before/after images.
    pub fn with(
        mut self,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Self {
        self.before = before;
        self.after = after;
        self
    }
}

/// A page of any listing, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` at the end.
    pub next_cursor: Option<String>,
}

/// Delivery outcomes of one endpoint in one hour, kept so `/v1/stats` answers from a few rows
/// instead of scanning the delivery log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Attempts answered 2xx.
    pub attempts_ok: u64,
    /// Attempts that failed (any reason).
    pub attempts_failed: u64,
    /// Deliveries that ended succeeded.
    pub delivered: u64,
    /// Deliveries that ended dead.
    pub dead: u64,
}

impl Counters {
    /// Adds another set of counts.
    pub fn add(&mut self, o: &Counters) {
        self.attempts_ok += o.attempts_ok;
        self.attempts_failed += o.attempts_failed;
        self.delivered += o.delivered;
        self.dead += o.dead;
    }

    /// Share of attempts that succeeded, `None` with no attempts.
    pub fn success_rate(&self) -> Option<f64> {
        let all = self.attempts_ok + self.attempts_failed;
        (all > 0).then(|| self.attempts_ok as f64 / all as f64)
    }
}

/// The pending work of one endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingSummary {
    /// Endpoint id.
    pub endpoint_id: String,
    /// Pending deliveries counted (at most the scan cap).
    pub count: u64,
    /// Creation time of the oldest pending delivery seen.
    pub oldest_created_ms: Option<Millis>,
    /// Whether the scan stopped at its cap (count and age are then lower bounds).
    pub truncated: bool,
}

/// What an event listing filters on.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Exact event type.
    pub event_type: Option<String>,
    /// Tenant.
    pub tenant: Option<String>,
}
