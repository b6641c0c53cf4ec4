//! At-rest encoding of the hot records: events, deliveries and attempts.
//!
//! Every attempt reads a delivery and its event and writes the delivery and an attempt back, so
//! their encoding is on the hot path. They are stored as one version byte followed by a
//! [postcard] row (varints, length-prefixed strings, fields in declaration order): a third of
//! JSON's size, decoded without building maps or escaping strings, and borrowing its strings
//! from redb's page until the record is made owned.
//!
//! Compatibility rules:
//! - Rows written before this format are JSON, which always starts with `{`; they are read
//!   as before (see [`legacy`]), so a store opens after the upgrade without a migration.
//! - A postcard row is not self-describing: a field added, removed or reordered changes the
//!   format. Such a change gets a new version byte and a decoder for the old one beside it.
//!
//! Other tables (endpoint state, counters, keys, audit) change rarely and stay JSON.

use serde::{Deserialize, Serialize};

use crate::store::*;

/// First byte of a version-1 row.
const V1: u8 = 1;
/// First byte of a version-2 delivery: a version-1 body followed by its expiry (retention).
const V2: u8 = 2;
/// First byte of every JSON row (an object).
const JSON: u8 = b'{';

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.to_string(),
    }
}

fn encode_v1(row: &impl Serialize) -> Vec<u8> {
    let mut out = vec![V1];
    // Serializing plain structs of strings and integers into a Vec cannot fail.
    postcard::to_io(row, &mut out).expect("postcard into a Vec");
    out
}

/// Splits a row into its version and body, naming `table` when it has neither form.
fn version<'a>(table: &'static str, bytes: &'a [u8]) -> Result<(u8, &'a [u8]), StoreError> {
    match bytes.first() {
        Some(&V1) => Ok((V1, &bytes[1..])),
        Some(&V2) => Ok((V2, &bytes[1..])),
        Some(&JSON) => Ok((JSON, bytes)),
        Some(b) => Err(corrupt(table, format!("unknown row version {b}"))),
        None => Err(corrupt(table, "empty row")),
    }
}

fn from_postcard<'a, T: Deserialize<'a>>(
    table: &'static str,
    body: &'a [u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(body).map_err(|e| corrupt(table, e))
}

/// An event as stored: everything but its fan-out, which has its own index (`BY_EVENT`), so
/// reading an event costs the size of its body, never the number of its deliveries.
#[derive(Serialize, Deserialize)]
struct EventRow<'a> {
    id: &'a str,
    event_type: &'a str,
    tenant: &'a str,
    timestamp_ms: u64,
    body: &'a str,
    fanout: u32,
}

/// Encodes an event (its fan-out goes to `BY_EVENT`).
pub fn encode_event(e: &EventRecord) -> Vec<u8> {
    encode_v1(&EventRow {
        id: &e.id,
        event_type: &e.event_type,
        tenant: &e.tenant,
        timestamp_ms: e.timestamp_ms,
        body: &e.body,
        fanout: e.fanout,
    })
}

/// Decodes an event; a JSON row also yields the fan-out it carried inline (newer rows have
/// theirs in `BY_EVENT` and yield none).
pub fn decode_event(bytes: &[u8]) -> Result<(EventRecord, Vec<DeliveryRef>), StoreError> {
    let (v, body) = version("events", bytes)?;
    if v == JSON {
        return legacy::event(body);
    }
    let r: EventRow = from_postcard("events", body)?;
    let event = EventRecord {
        id: r.id.to_owned(),
        event_type: r.event_type.to_owned(),
        tenant: r.tenant.to_owned(),
        timestamp_ms: r.timestamp_ms,
        body: r.body.to_owned(),
        fanout: r.fanout,
    };
    Ok((event, Vec::new()))
}

#[derive(Serialize, Deserialize)]
struct PayloadRow<'a> {
    #[serde(borrow)]
    headers: Vec<(&'a str, &'a str)>,
    #[serde(borrow)]
    plugins: Vec<(&'a str, &'a str)>,
    edit: Option<(u64, u64)>,
    inline: Option<&'a str>,
}

impl<'a> PayloadRow<'a> {
    fn of(p: &'a PayloadMeta) -> Self {
        PayloadRow {
            headers: p
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            plugins: p
                .plugins
                .iter()
                .map(|v| (v.name.as_str(), v.sha256.as_str()))
                .collect(),
            edit: p.edit.map(|e| (e.prefix as u64, e.suffix as u64)),
            inline: p.inline.as_deref(),
        }
    }

    fn owned(&self) -> PayloadMeta {
        PayloadMeta {
            headers: owned_pairs(&self.headers),
            plugins: self
                .plugins
                .iter()
                .map(|(name, sha256)| PluginVersion {
                    name: (*name).to_owned(),
                    sha256: (*sha256).to_owned(),
                })
                .collect(),
            edit: self.edit.map(|(prefix, suffix)| BodyEdit {
                prefix: prefix as usize,
                suffix: suffix as usize,
            }),
            inline: self.inline.map(str::to_owned),
        }
    }
}

fn owned_pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn status_byte(s: DeliveryStatus) -> u8 {
    match s {
        DeliveryStatus::Pending => 0,
        DeliveryStatus::Succeeded => 1,
        DeliveryStatus::Dead => 2,
        DeliveryStatus::Filtered => 3,
        DeliveryStatus::Cancelled => 4,
    }
}

fn status_of(b: u8) -> Result<DeliveryStatus, StoreError> {
    Ok(match b {
        0 => DeliveryStatus::Pending,
        1 => DeliveryStatus::Succeeded,
        2 => DeliveryStatus::Dead,
        3 => DeliveryStatus::Filtered,
        4 => DeliveryStatus::Cancelled,
        _ => return Err(corrupt("deliveries", format!("unknown status {b}"))),
    })
}

#[derive(Serialize, Deserialize)]
struct DeliveryRow<'a> {
    id: &'a str,
    event_id: &'a str,
    endpoint_id: &'a str,
    tenant: &'a str,
    status: u8,
    attempts: u32,
    created_ms: u64,
    updated_ms: u64,
    next_attempt_ms: Option<u64>,
    due_key_ms: u64,
    last_status_code: Option<u16>,
    last_error: Option<&'a str>,
    #[serde(borrow)]
    payload: Option<PayloadRow<'a>>,
    retry_base: u32,
}

/// Encodes a delivery.
pub fn encode_delivery(d: &DeliveryRecord) -> Vec<u8> {
    let mut out = encode_v1(&DeliveryRow {
        id: &d.id,
        event_id: &d.event_id,
        endpoint_id: &d.endpoint_id,
        tenant: &d.tenant,
        status: status_byte(d.status),
        attempts: d.attempts,
        created_ms: d.created_ms,
        updated_ms: d.updated_ms,
        next_attempt_ms: d.next_attempt_ms,
        due_key_ms: d.due_key_ms,
        last_status_code: d.last_status_code,
        last_error: d.last_error.as_deref(),
        payload: d.payload.as_ref().map(PayloadRow::of),
        retry_base: d.retry_base,
    });
    out[0] = V2;
    postcard::to_io(&d.expires_ms, &mut out).expect("postcard into a Vec");
    out
}

/// Decodes a delivery, either format.
pub fn decode_delivery(bytes: &[u8]) -> Result<DeliveryRecord, StoreError> {
    let (v, body) = version("deliveries", bytes)?;
    if v == JSON {
        return legacy::json("deliveries", body);
    }
    let (r, rest): (DeliveryRow, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt("deliveries", e))?;
    let expires_ms = match v {
        V2 => from_postcard("deliveries", rest)?,
        _ => None,
    };
    Ok(DeliveryRecord {
        id: r.id.to_owned(),
        event_id: r.event_id.to_owned(),
        endpoint_id: r.endpoint_id.to_owned(),
        tenant: r.tenant.to_owned(),
        status: status_of(r.status)?,
        attempts: r.attempts,
        created_ms: r.created_ms,
        updated_ms: r.updated_ms,
        next_attempt_ms: r.next_attempt_ms,
        due_key_ms: r.due_key_ms,
        last_status_code: r.last_status_code,
        last_error: r.last_error.map(str::to_owned),
        payload: r.payload.as_ref().map(PayloadRow::owned),
        retry_base: r.retry_base,
        expires_ms,
    })
}

#[derive(Serialize, Deserialize)]
struct AttemptRow<'a> {
    n: u32,
    started_ms: u64,
    status_code: Option<u16>,
    latency_ms: u64,
    response_body: &'a str,
    error: Option<&'a str>,
    next_attempt_ms: Option<u64>,
    url: &'a str,
    #[serde(borrow)]
    request_headers: Vec<(&'a str, &'a str)>,
}

/// Encodes an attempt.
pub fn encode_attempt(a: &AttemptRecord) -> Vec<u8> {
    encode_v1(&AttemptRow {
        n: a.n,
        started_ms: a.started_ms,
        status_code: a.status_code,
        latency_ms: a.latency_ms,
        response_body: &a.response_body,
        error: a.error.as_deref(),
        next_attempt_ms: a.next_attempt_ms,
        url: &a.url,
        request_headers: a
            .request_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    })
}

/// Decodes an attempt, either format.
pub fn decode_attempt(bytes: &[u8]) -> Result<AttemptRecord, StoreError> {
    let (v, body) = version("attempts", bytes)?;
    if v == JSON {
        return legacy::json("attempts", body);
    }
    let r: AttemptRow = from_postcard("attempts", body)?;
    Ok(AttemptRecord {
        n: r.n,
        started_ms: r.started_ms,
        status_code: r.status_code,
        latency_ms: r.latency_ms,
        response_body: r.response_body.to_owned(),
        error: r.error.map(str::to_owned),
        next_attempt_ms: r.next_attempt_ms,
        url: r.url.to_owned(),
        request_headers: owned_pairs(&r.request_headers),
    })
}

/// Reading the JSON rows of stores written before the binary format (2026-12).
pub mod legacy {
    use serde::Deserialize;

    use crate::store::*;

    /// A JSON row of a record whose serde form did not change.
    pub fn json<T: serde::de::DeserializeOwned>(
        table: &'static str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|e| super::corrupt(table, e))
    }

    /// An event as JSON rows held it: with its whole fan-out inline.
    #[derive(Deserialize)]
    struct EventJson {
        id: String,
        #[serde(rename = "type")]
        event_type: String,
        tenant: String,
        timestamp_ms: Millis,
        body: String,
        deliveries: Vec<DeliveryRef>,
    }

    /// Decodes a JSON event row with the fan-out it carries.
    pub fn event(bytes: &[u8]) -> Result<(EventRecord, Vec<DeliveryRef>), StoreError> {
        let e: EventJson = json("events", bytes)?;
        let record = EventRecord {
            id: e.id,
            event_type: e.event_type,
            tenant: e.tenant,
            timestamp_ms: e.timestamp_ms,
            body: e.body,
            fanout: e.deliveries.len() as u32,
        };
        Ok((record, e.deliveries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(payload: Option<PayloadMeta>) -> DeliveryRecord {
        DeliveryRecord {
            id: "del_1".into(),
            event_id: "evt_1".into(),
            endpoint_id: "ep".into(),
            tenant: "acme".into(),
            status: DeliveryStatus::Dead,
            attempts: 3,
            created_ms: 10,
            updated_ms: 20,
            next_attempt_ms: None,
            due_key_ms: 10,
            last_status_code: Some(500),
            last_error: Some("boom".into()),
            payload,
            retry_base: 1,
            expires_ms: Some(99),
        }
    }

    /// Deliveries written before retention (version 1) read with no expiry.
    #[test]
    fn version_one_deliveries_read_without_an_expiry() {
        let d = delivery(None);
        let mut v1 = encode_delivery(&d);
        v1[0] = V1;
        let tail = postcard::to_allocvec(&d.expires_ms).unwrap().len();
        v1.truncate(v1.len() - tail);
        let read = decode_delivery(&v1).unwrap();
        assert_eq!(read.expires_ms, None);
        assert_eq!(read.retry_base, d.retry_base);
    }

    #[test]
    fn deliveries_round_trip_with_and_without_a_payload() {
        let meta = PayloadMeta {
            headers: vec![("X-Tier".into(), "gold".into())],
            plugins: vec![PluginVersion {
                name: "redact".into(),
                sha256: "ab".repeat(32),
            }],
            edit: Some(BodyEdit {
                prefix: 7,
                suffix: 9,
            }),
            inline: Some("\"x\"".into()),
        };
        for d in [
            delivery(None),
            delivery(Some(meta)),
            delivery(Some(PayloadMeta::default())),
        ] {
            let bytes = encode_delivery(&d);
            assert_eq!(bytes[0], V2);
            assert_eq!(decode_delivery(&bytes).unwrap(), d);
        }
    }

    #[test]
    fn every_status_round_trips() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Dead,
            DeliveryStatus::Filtered,
            DeliveryStatus::Cancelled,
        ] {
            let d = DeliveryRecord {
                status: s,
                ..delivery(None)
            };
            assert_eq!(decode_delivery(&encode_delivery(&d)).unwrap().status, s);
        }
    }

    #[test]
    fn events_and_attempts_round_trip() {
        let e = EventRecord {
            id: "evt_1".into(),
            event_type: "invoice.paid".into(),
            tenant: "acme".into(),
            timestamp_ms: 5,
            body: r#"{"id":"evt_1","data":{"é":"\n"}}"#.into(),
            fanout: 10_000,
        };
        let (back, inline) = decode_event(&encode_event(&e)).unwrap();
        assert_eq!((back, inline.len()), (e, 0));
        let a = AttemptRecord {
            n: 2,
            started_ms: 7,
            status_code: None,
            latency_ms: 3,
            response_body: "nope".into(),
            error: Some("timed out".into()),
            next_attempt_ms: Some(99),
            url: "http://127.0.0.1:9/x".into(),
            request_headers: vec![("webhook-id".into(), "del_1".into())],
        };
        assert_eq!(decode_attempt(&encode_attempt(&a)).unwrap(), a);
    }

    /// Stores written before the binary format keep opening: their JSON rows read as before,
    /// events with the fan-out they carried inline.
    #[test]
    fn json_rows_of_older_stores_still_read() {
        let d = delivery(None);
        let json = serde_json::to_vec(&d).unwrap();
        assert_eq!(decode_delivery(&json).unwrap(), d);
        let event = br#"{"id":"evt_1","type":"t","tenant":"acme","timestamp_ms":5,"body":"{}",
            "deliveries":[{"id":"del_1","endpoint_id":"a"},{"id":"del_2","endpoint_id":"b"}]}"#;
        let (e, fanout) = decode_event(event).unwrap();
        assert_eq!(
            (e.fanout, fanout.len(), fanout[1].endpoint_id.as_str()),
            (2, 2, "b")
        );
        let attempt =
            br#"{"n":1,"started_ms":1,"status_code":200,"latency_ms":1,"response_body":"",
            "error":null,"next_attempt_ms":null,"url":"http://x/","request_headers":[]}"#;
        assert_eq!(decode_attempt(attempt).unwrap().status_code, Some(200));
    }

    #[test]
    fn damaged_rows_are_errors_naming_their_table() {
        for bytes in [&b""[..], &[9, 1, 2][..], &[V1, 0xff][..]] {
            match decode_delivery(bytes) {
                Err(StoreError::Corrupt { table, .. }) => assert_eq!(table, "deliveries"),
                other => panic!("expected a corrupt-row error, got {other:?}"),
            }
        }
        let mut row = encode_delivery(&delivery(None));
        row.truncate(row.len() - 3);
        assert!(decode_delivery(&row).is_err(), "a truncated row is refused");
    }
}
