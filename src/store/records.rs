//! The durable records: what an event, a delivery and an attempt look like at rest and in the API.
//!
//! Records are serialized as JSON inside redb values. JSON costs a few microseconds per record but
//! stays readable with any tool and tolerates added fields (`#[serde(default)]`), which matters more
//! for a store that must open after every upgrade than the bytes saved by a binary format.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch: the one clock unit stored anywhere.
pub type Millis = u64;

/// The wall clock in [`Millis`].
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Formats [`Millis`] as RFC 3339 UTC with millisecond precision (what the API and bodies show).
pub fn rfc3339(ms: Millis) -> String {
    let t = time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms as i64);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

/// A ULID strictly greater than every one this process made before, even within one
/// millisecond (plain `Ulid::new` is random there). FIFO delivery order and newest-first listings
/// rely on ids sorting in creation order.
pub(crate) fn monotonic_ulid() -> ulid::Ulid {
    static GEN: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut guard = GEN.lock().unwrap_or_else(|e| e.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random one regardless.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// A new delivery id: `del_` + ULID, so ids sort by creation time (the endpoint index relies on it).
pub fn new_delivery_id() -> String {
    format!("del_{}", monotonic_ulid())
}

/// A new event id for publishers that did not bring their own: `evt_` + ULID.
pub fn new_event_id() -> String {
    format!("evt_{}", monotonic_ulid())
}

/// The envelope receivers get by default (SPEC §4), key order fixed: id, type, timestamp, data.
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: &'a str,
    data: &'a serde_json::value::RawValue,
}

/// Builds the default body of an event. One function, so `hookgate plugin test` feeds a plugin
/// exactly what the gateway would.
pub fn envelope(
    id: &str,
    event_type: &str,
    timestamp: &str,
    data: &serde_json::value::RawValue,
) -> String {
    // Serializing strings and already-valid raw JSON cannot fail.
    serde_json::to_string(&Envelope {
        id,
        event_type,
        timestamp,
        data,
    })
    .unwrap_or_default()
}

/// One published event, as accepted. The `body` is the exact envelope sent to receivers, built once
/// at ingest so every delivery and every retry sends identical bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventRecord {
    /// Publisher-given idempotency key or generated `evt_…`.
    pub id: String,
    /// Event type, e.g. `invoice.paid`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Owner of the event.
    pub tenant: String,
    /// When the gateway accepted it.
    pub timestamp_ms: Millis,
    /// The envelope `{"id","type","timestamp","data"}` as sent.
    pub body: String,
    /// The fan-out decided at ingest.
    pub deliveries: Vec<DeliveryRef>,
}

/// A pointer from an event to one of its deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryRef {
    /// Delivery id.
    pub id: String,
    /// Endpoint the delivery goes to.
    pub endpoint_id: String,
}

/// Lifecycle of a delivery (SPEC §1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for its first).
    Pending,
    /// A receiver answered 2xx.
    Succeeded,
    /// The retry schedule ran out, or the receiver refused it for good.
    Dead,
    /// A plugin dropped it.
    Filtered,
    /// Its endpoint was removed.
    Cancelled,
}

impl DeliveryStatus {
    /// Parses the query-string form (`?status=pending`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "succeeded" => Self::Succeeded,
            "dead" => Self::Dead,
            "filtered" => Self::Filtered,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// One event to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryRecord {
    /// `del_…`, also what receivers see as the delivery id.
    pub id: String,
    /// The event delivered.
    pub event_id: String,
    /// The endpoint delivered to.
    pub endpoint_id: String,
    /// Tenant of the event (and so of the endpoint).
    pub tenant: String,
    /// Current state.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the fan-out created it.
    pub created_ms: Millis,
    /// Last state change.
    pub updated_ms: Millis,
    /// When the next attempt is due, while pending.
    pub next_attempt_ms: Option<Millis>,
    /// The time part of this delivery's key in the due index. Kept so the key can be found and
    /// removed without a scan; for FIFO endpoints it stays the creation time so order is kept.
    pub due_key_ms: Millis,
    /// HTTP status of the last attempt, if it got one.
    #[serde(default)]
    pub last_status_code: Option<u16>,
    /// Error of the last attempt, if any (for `filtered`, the plugin's reason).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Set once the endpoint's plugin chain ran: what it produced is sent on every attempt.
    #[serde(default)]
    pub payload: Option<PayloadMeta>,
    /// Attempts made before the last manual retry or recover: the retry schedule restarts from
    /// there, so a requeued delivery gets the whole schedule again.
    #[serde(default)]
    pub retry_base: u32,
}

/// The part of a plugin chain's output kept on the delivery record (the body, which can be
/// large, is stored beside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayloadMeta {
    /// Custom headers after the chain (signature headers are added per attempt).
    pub headers: Vec<(String, String)>,
    /// Which plugins produced it, by name and content hash (the delivery log shows them).
    pub plugins: Vec<PluginVersion>,
}

/// A plugin, as it was when it ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginVersion {
    /// Name in the config.
    pub name: String,
    /// SHA-256 of the `.wasm` file, hex.
    pub sha256: String,
}

/// A chain's complete output: what every attempt of the delivery sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayload {
    /// The body.
    pub body: Vec<u8>,
    /// Headers and plugin versions.
    pub meta: PayloadMeta,
}

/// One HTTP try, kept forever with the exact request sent (SPEC §1 "Attempt").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttemptRecord {
    /// 1-based attempt number.
    pub n: u32,
    /// When the request started.
    pub started_ms: Millis,
    /// Receiver status, if it answered.
    pub status_code: Option<u16>,
    /// Wall time of the request.
    pub latency_ms: u64,
    /// First bytes of the response body (`delivery.response_body_limit`).
    pub response_body: String,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// When the next attempt is due, if there is one.
    pub next_attempt_ms: Option<Millis>,
    /// URL the request went to.
    pub url: String,
    /// Every header sent, signature included (the secret is never stored here).
    pub request_headers: Vec<(String, String)>,
}

/// Per-endpoint state that survives restarts: failure streak and disablement.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointState {
    /// Consecutive failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Set when the gateway disabled the endpoint (410, or the failure streak).
    pub disabled: bool,
    /// Why it was disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_in_creation_order_within_a_millisecond() {
        let ids: Vec<String> = (0..1000).map(|_| new_delivery_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn timestamps_format_as_rfc3339_millis() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_614_265_330_123), "2021-02-25T15:02:10.123Z");
    }
}
