//! Rows to records and back. Millisecond times are `bigint`, counts `integer`, a status its
//! lowercase name, a chain's output metadata JSON text.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::pg;
use super::sql::Cached;
use crate::store::shared::*;
use crate::store::*;

/// The delivery columns, in the order [`delivery`] reads them.
pub const DELIVERY_COLS: &str = "d.id, d.event_id, d.endpoint_id, d.tenant, d.status, d.attempts, \
     d.created_ms, d.updated_ms, d.next_attempt_ms, d.due_key_ms, d.last_status_code, \
     d.last_error, d.payload, d.retry_base, d.expires_ms";
/// How many columns [`DELIVERY_COLS`] has.
pub const DELIVERY_WIDTH: usize = 15;
/// The event columns, in the order [`event`] reads them.
pub const EVENT_COLS: &str = "e.id, e.type, e.tenant, e.timestamp_ms, e.body, e.fanout";

fn corrupt(table: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.to_string(),
    }
}

/// The delivery in `row`'s columns from `at` on.
pub fn delivery(row: &Row, at: usize) -> Result<DeliveryRecord, StoreError> {
    let status: &str = row.get(at + 4);
    let payload: Option<&str> = row.get(at + 12);
    Ok(DeliveryRecord {
        id: row.get(at),
        event_id: row.get(at + 1),
        endpoint_id: row.get(at + 2),
        tenant: row.get(at + 3),
        status: DeliveryStatus::parse(status).ok_or_else(|| corrupt("deliveries", status))?,
        attempts: row.get::<_, i32>(at + 5) as u32,
        created_ms: row.get::<_, i64>(at + 6) as Millis,
        updated_ms: row.get::<_, i64>(at + 7) as Millis,
        next_attempt_ms: row.get::<_, Option<i64>>(at + 8).map(|t| t as Millis),
        due_key_ms: row.get::<_, i64>(at + 9) as Millis,
        last_status_code: row.get::<_, Option<i32>>(at + 10).map(|c| c as u16),
        last_error: row.get(at + 11),
        payload: payload
            .map(|p| decode("deliveries", p.as_bytes()))
            .transpose()?,
        retry_base: row.get::<_, i32>(at + 13) as u32,
        expires_ms: row.get::<_, Option<i64>>(at + 14).map(|t| t as Millis),
    })
}

/// The event in `row`'s columns from `at` on.
pub fn event(row: &Row, at: usize) -> EventRecord {
    EventRecord {
        id: row.get(at),
        event_type: row.get(at + 1),
        tenant: row.get(at + 2),
        timestamp_ms: row.get::<_, i64>(at + 3) as Millis,
        body: row.get(at + 4),
        fanout: row.get::<_, i32>(at + 5) as u32,
    }
}

/// Rewrites a delivery's row with `d`.
pub async fn put_delivery(c: &impl GenericClient, d: &DeliveryRecord) -> Result<(), StoreError> {
    let payload = d
        .payload
        .as_ref()
        .map(|p| String::from_utf8(encode(p)).unwrap_or_default());
    c.run(
        "UPDATE deliveries SET status = $2, attempts = $3, updated_ms = $4, \
         next_attempt_ms = $5, due_key_ms = $6, last_status_code = $7, last_error = $8, \
         payload = $9, retry_base = $10, expires_ms = $11, lease_token = NULL, \
         lease_until_ms = NULL, lease_node = NULL WHERE id = $1",
        &[
            &d.id,
            &d.status.as_str(),
            &(d.attempts as i32),
            &(d.updated_ms as i64),
            &d.next_attempt_ms.map(|t| t as i64),
            &(d.due_key_ms as i64),
            &d.last_status_code.map(i32::from),
            &d.last_error,
            &payload,
            &(d.retry_base as i32),
            &d.expires_ms.map(|t| t as i64),
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// A delivery with its row locked until the transaction ends.
pub async fn lock_delivery(
    c: &impl GenericClient,
    id: &str,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.id = $1 FOR UPDATE");
    let row = c.maybe_row(&sql, &[&id]).await.map_err(pg)?;
    row.map(|r| delivery(&r, 0)).transpose()
}

/// JSON text of a cold record.
pub fn json<T: serde::Serialize>(v: &T) -> String {
    String::from_utf8(encode(v)).unwrap_or_default()
}

/// A cold record from its JSON text.
pub fn from_json<T: serde::de::DeserializeOwned>(
    table: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    decode(table, text.as_bytes())
}
