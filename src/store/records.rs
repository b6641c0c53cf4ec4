//! The durable records: what an event, a delivery and an attempt look like at rest and in the API.
//!
//! How a backend encodes them at rest is its own business (the redb store: a versioned binary
//! row for the hot records, see `redb_store::codec`); the serde derives give the JSON form that
//! stores written before that format hold, and that tests and tools print.

use super::EndpointEffect;
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
    /// How many deliveries the fan-out made. The deliveries themselves are listed by
    /// `Store::event_deliveries`, not carried here: an attempt reads its event, and that read
    /// must not grow with the number of endpoints the event went to.
    #[serde(default)]
    pub fanout: u32,
}

/// An event with its fan-out, as ingest stores it and the publish API answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event (its `fanout` is the length of `deliveries`).
    pub event: EventRecord,
    /// The deliveries, one per endpoint, in endpoint-id order.
    pub deliveries: Vec<DeliveryRef>,
}

impl NewEvent {
    /// Pairs an event with its fan-out, setting the event's count from it.
    pub fn new(mut event: EventRecord, deliveries: Vec<DeliveryRef>) -> Self {
        event.fanout = deliveries.len() as u32;
        NewEvent { event, deliveries }
    }
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
    /// The lowercase name, as in the API and a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Filtered => "filtered",
            Self::Cancelled => "cancelled",
        }
    }

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
    /// When retention lets the store remove this finished delivery (with its attempts and
    /// chain output); `None` while pending, or when its rule keeps it forever.
    #[serde(default)]
    pub expires_ms: Option<Millis>,
}

/// The part of a plugin chain's output kept on the delivery record (the body, which can be
/// large, is stored beside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PayloadMeta {
    /// Custom headers after the chain (signature headers are added per attempt).
    pub headers: Vec<(String, String)>,
    /// Which plugins produced it, by name and content hash (the delivery log shows them).
    pub plugins: Vec<PluginVersion>,
    /// Set when the stored bytes are only the part of the body that differs from the event's
    /// body (see [`BodyEdit`]); absent when the whole body is stored (and on older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<BodyEdit>,
    /// The stored bytes themselves, when they are short UTF-8 (at most [`INLINE_MAX`] bytes):
    /// then they live in the delivery record and there is no payload row. Why: the record is
    /// rewritten after the first attempt anyway, while a row is one more B-tree insert (and
    /// dirty page) per delivery; with edits most chain outputs are a few bytes (a redaction's
    /// nothing, an enrichment's new field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
}

/// Longest stored part kept inline in the delivery record (see [`PayloadMeta::inline`]).
pub const INLINE_MAX: usize = 256;

/// How a chain output relates to its event's body: the first `prefix` and last `suffix` bytes
/// are the event's, only the middle is stored.
///
/// Why: most chains edit a body rather than replace it (a filter passes it on unchanged, a
/// redaction removes a field, an enrichment adds one), and the event body is already stored.
/// Keeping just the changed span makes the payload row tens of bytes instead of the whole body,
/// which is what the store writer spends its time on; a reshaping chain shares nothing with its
/// input and is stored whole, as before.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BodyEdit {
    /// Bytes taken from the start of the event body.
    pub prefix: usize,
    /// Bytes taken from the end of the event body.
    pub suffix: usize,
}

/// Below this many shared bytes an edit is not worth the indirection: the body is stored whole.
const MIN_EDIT_SAVING: usize = 64;

impl BodyEdit {
    /// The edit that turns `base` into `body` by replacing one middle span, if it saves enough.
    pub fn between(base: &[u8], body: &[u8]) -> Option<BodyEdit> {
        let prefix = base.iter().zip(body).take_while(|(a, b)| a == b).count();
        let room = base.len().min(body.len()) - prefix;
        let suffix = base
            .iter()
            .rev()
            .zip(body.iter().rev())
            .take(room)
            .take_while(|(a, b)| a == b)
            .count();
        (prefix + suffix >= MIN_EDIT_SAVING).then_some(BodyEdit { prefix, suffix })
    }

    /// The stored part of `body`.
    pub fn middle<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        &body[self.prefix..body.len() - self.suffix]
    }

    /// The whole body again, from the event body and the stored middle; `None` if they do not
    /// fit together (a corrupt record).
    pub fn apply(&self, base: &[u8], middle: &[u8]) -> Option<Vec<u8>> {
        if self.prefix.checked_add(self.suffix)? > base.len() {
            return None;
        }
        let mut out = Vec::with_capacity(self.prefix + middle.len() + self.suffix);
        out.extend_from_slice(&base[..self.prefix]);
        out.extend_from_slice(middle);
        out.extend_from_slice(&base[base.len() - self.suffix..]);
        Some(out)
    }
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
    /// The whole body (however it is stored).
    pub body: Vec<u8>,
    /// Headers, plugin versions and how the body is stored.
    pub meta: PayloadMeta,
}

impl StoredPayload {
    /// A chain output for the event whose body is `event_body`: stored as an edit of it when
    /// that saves space.
    pub fn new(
        event_body: &[u8],
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        plugins: Vec<PluginVersion>,
    ) -> StoredPayload {
        let edit = BodyEdit::between(event_body, &body);
        let mut p = StoredPayload {
            body,
            meta: PayloadMeta {
                headers,
                plugins,
                edit,
                inline: None,
            },
        };
        let stored = p.stored_bytes();
        if stored.len() <= INLINE_MAX {
            p.meta.inline = std::str::from_utf8(stored).ok().map(str::to_owned);
        }
        p
    }

    /// The part of the body that is stored: in the record when inline, else in a payload row.
    pub fn stored_bytes(&self) -> &[u8] {
        match &self.meta.edit {
            Some(e) => e.middle(&self.body),
            None => &self.body,
        }
    }

    /// Whether the stored bytes need a payload row (they are not inline in the record).
    pub fn needs_row(&self) -> bool {
        self.meta.inline.is_none()
    }

    /// Rebuilds a payload from its stored bytes (`meta.inline`, or the payload row when there
    /// is none); `event_body` is the event's body.
    pub fn from_row(meta: &PayloadMeta, event_body: &[u8], stored: &[u8]) -> Option<StoredPayload> {
        let body = match &meta.edit {
            Some(e) => e.apply(event_body, stored)?,
            None => stored.to_vec(),
        };
        Some(StoredPayload {
            body,
            meta: meta.clone(),
        })
    }
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

impl EndpointState {
    /// The failure-streak rule, in one place for every backend: each applies it inside the
    /// transaction that records the attempt, so the streak counts every attempt exactly once.
    pub fn apply(&mut self, effect: EndpointEffect) {
        match effect {
            EndpointEffect::Success => self.consecutive_failures = 0,
            EndpointEffect::Failure { auto_disable_after } => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if auto_disable_after > 0
                    && self.consecutive_failures >= auto_disable_after
                    && !self.disabled
                {
                    self.disabled = true;
                    self.disabled_reason = Some(format!(
                        "{} consecutive failed attempts",
                        self.consecutive_failures
                    ));
                }
            }
            EndpointEffect::Gone => {
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.disabled = true;
                self.disabled_reason = Some("receiver answered 410 Gone".into());
            }
            EndpointEffect::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_edit_round_trips_and_keeps_only_the_change() {
        let note = "n".repeat(200);
        let base = format!(r#"{{"data":{{"card":"4242","email":"a@b.c","note":"{note}"}}}}"#);
        let redacted = format!(r#"{{"data":{{"email":"***","note":"{note}"}}}}"#);
        let enriched =
            format!(r#"{{"data":{{"card":"4242","email":"a@b.c","note":"{note}","x":1}}}}"#);
        let a = "a".repeat(100);
        let cases: Vec<(&[u8], Vec<u8>, Option<usize>)> = vec![
            // (base, body, expected stored length, None = stored whole)
            (base.as_bytes(), base.clone().into_bytes(), Some(0)),
            (base.as_bytes(), redacted.clone().into_bytes(), Some(11)),
            (base.as_bytes(), enriched.clone().into_bytes(), Some(6)),
            // Repeated bytes: prefix and suffix must not overlap.
            (a.as_bytes(), "a".repeat(103).into_bytes(), Some(3)),
            (a.as_bytes(), "a".repeat(97).into_bytes(), Some(0)),
            (base.as_bytes(), b"{\"text\":\"reshaped\"}".to_vec(), None),
            (b"{\"short\":1}", b"{\"short\":2}".to_vec(), None),
            (b"", b"anything".to_vec(), None),
        ];
        for (i, (base, body, stored)) in cases.into_iter().enumerate() {
            let p = StoredPayload::new(base, body.clone(), vec![], vec![]);
            assert_eq!(
                p.meta.edit.map(|_| p.stored_bytes().len()),
                stored,
                "case {i}"
            );
            let back = StoredPayload::from_row(&p.meta, base, p.stored_bytes()).unwrap();
            assert_eq!(back.body, body, "case {i}");
        }
        // Short UTF-8 stored parts live in the delivery record; long or binary ones need a row.
        let long = "r".repeat(INLINE_MAX + 1).into_bytes();
        for (body, inline) in [
            (base.clone().into_bytes(), Some("")),
            (
                b"{\"text\":\"reshaped\"}".to_vec(),
                Some("{\"text\":\"reshaped\"}"),
            ),
            (long.clone(), None),
            (vec![0xff, 0xfe], None),
        ] {
            let p = StoredPayload::new(base.as_bytes(), body.clone(), vec![], vec![]);
            assert_eq!(p.meta.inline.as_deref(), inline);
            assert_eq!(p.needs_row(), inline.is_none());
            if let Some(text) = inline {
                let back = StoredPayload::from_row(&p.meta, base.as_bytes(), text.as_bytes());
                assert_eq!(back.unwrap().body, body);
            }
        }
        // An edit that does not fit the event it is applied to is refused, not mis-applied.
        let p = StoredPayload::new(base.as_bytes(), redacted.into_bytes(), vec![], vec![]);
        assert!(StoredPayload::from_row(&p.meta, b"{}", p.stored_bytes()).is_none());
        // Records written before edits existed store the whole body and read back unchanged.
        let old: PayloadMeta = serde_json::from_str(r#"{"headers":[],"plugins":[]}"#).unwrap();
        assert_eq!((old.edit, old.inline.as_deref()), (None, None));
        assert_eq!(
            StoredPayload::from_row(&old, b"", b"whole").unwrap().body,
            b"whole"
        );
    }

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

    #[test]
    fn failure_streak_disables_at_threshold_and_success_resets() {
        let mut st = EndpointState::default();
        let f = EndpointEffect::Failure {
            auto_disable_after: 3,
        };
        st.apply(f);
        st.apply(f);
        assert!(!st.disabled);
        st.apply(EndpointEffect::Success);
        assert_eq!(st.consecutive_failures, 0);
        for _ in 0..3 {
            st.apply(f);
        }
        assert!(st.disabled);
        assert_eq!(st.consecutive_failures, 3);
    }

    #[test]
    fn zero_threshold_never_disables_but_gone_does() {
        let mut st = EndpointState::default();
        for _ in 0..100 {
            st.apply(EndpointEffect::Failure {
                auto_disable_after: 0,
            });
        }
        assert!(!st.disabled);
        st.apply(EndpointEffect::Gone);
        assert!(st.disabled);
    }
}
