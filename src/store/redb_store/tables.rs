//! Table definitions (the JSON codec for the cold values is in `store::shared`; see `codec`
//! for the hot ones).
//!
//! Keys are typed tuples so redb orders them for us: the due index sorts by
//! (endpoint, due time, delivery id), which is what makes "next due delivery of this endpoint" a
//! single B-tree seek however large the backlog is.

use redb::{ReadableTable, TableDefinition};

pub use crate::store::shared::*;
use crate::store::{PayloadMeta, StoreError, StoredPayload};

/// `event id → EventRecord`.
pub const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("events");
/// `(event id, delivery id) → endpoint id`: an event's fan-out, kept out of its record so that
/// reading an event (every attempt does) costs the same for 1 delivery or 100,000.
pub const BY_EVENT: TableDefinition<(&str, &str), &str> = TableDefinition::new("by_event");
/// `delivery id → DeliveryRecord`.
pub const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
/// `(delivery id, attempt n) → AttemptRecord`.
pub const ATTEMPTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("attempts");
/// `(endpoint id, due ms, delivery id) → ()`: one entry per pending delivery.
pub const DUE: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("due");
/// `(endpoint id, delivery id) → ()`: every delivery of an endpoint, for listing.
pub const BY_ENDPOINT: TableDefinition<(&str, &str), ()> = TableDefinition::new("by_endpoint");
/// `delivery id → body` produced by the endpoint's plugin chain.
pub const PAYLOADS: TableDefinition<&str, &[u8]> = TableDefinition::new("payloads");
/// `(plugin namespace, key) → value`: the plugins' `kv` import.
pub const KV: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("plugin_kv");
/// `plugin namespace → bytes held` (keys + values), for the quota.
pub const KV_USAGE: TableDefinition<&str, u64> = TableDefinition::new("plugin_kv_usage");
/// `endpoint id → EndpointState`.
pub const ENDPOINT_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("endpoint_state");
/// `endpoint id → sealed secret` (see `store::seal`): never in clear in the file.
pub const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("endpoint_secrets");

/// `endpoint id → sealed ManagedEndpoint` (endpoints created through the API, with secrets).
pub const MANAGED: TableDefinition<&str, &[u8]> = TableDefinition::new("managed_endpoints");
/// `key id → ApiKeyRecord` (only the SHA-256 of each key).
pub const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");
/// `aud_ULID → AuditEntry`, so key order is time order.
pub const AUDIT: TableDefinition<&str, &[u8]> = TableDefinition::new("audit");
/// `(published ms, event id) → ()`: events by time, for newest-first listings (publisher-chosen
/// ids do not sort by time).
pub const EVENTS_BY_TIME: TableDefinition<(u64, &str), ()> = TableDefinition::new("events_by_time");
/// `(expires ms, id) → kind` ([`EXPIRES_DELIVERY`] or [`EXPIRES_EVENT`]): what retention
/// removes, oldest first, so pruning reads only what is due to go. A finished delivery has one
/// entry (its `expires_ms`) unless it is kept forever; an event has one only when no endpoint
/// subscribed to it (otherwise it goes with its last delivery).
pub const EXPIRY: TableDefinition<(u64, &str), u8> = TableDefinition::new("expiry");
/// An [`EXPIRY`] entry for a delivery.
pub const EXPIRES_DELIVERY: u8 = 0;
/// An [`EXPIRY`] entry for an event without deliveries.
pub const EXPIRES_EVENT: u8 = 1;
/// `name → value`: the pruner's own settings (see `Retention::pruner_setting`).
pub const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// `(endpoint id, hour since epoch) → Counters` for `/v1/stats`.
pub const COUNTERS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("counters");

/// An id sorting after every delivery id (they are ASCII alphanumerics and `_`).
pub const ID_MAX: &str = "\u{7f}";

/// Maps any redb error into the store's error, keeping it as the cause. I/O failures (and
/// the latched "previous I/O error" that follows one, and a database closed under a reader by a
/// reopen) are [`StoreError::Unavailable`]: they pass once the file is reopened.
pub fn storage(e: impl Into<redb::Error>) -> StoreError {
    match e.into() {
        redb::Error::Io(io) => StoreError::Unavailable(Box::new(io)),
        e @ (redb::Error::PreviousIo | redb::Error::DatabaseClosed) => {
            StoreError::Unavailable(Box::new(e))
        }
        e => StoreError::Storage(Box::new(e)),
    }
}

/// A failure outside redb (a thread that could not start, a blocking task that panicked).
pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Storage(Box::new(e))
}

/// A delivery's stored chain output, rebuilt: from its record when the bytes are inline, else
/// from its row in `payloads` (`None` when that row is missing, so the chain runs again).
pub fn load_payload(
    payloads: &impl ReadableTable<&'static str, &'static [u8]>,
    delivery_id: &str,
    meta: &PayloadMeta,
    event_body: &[u8],
) -> Result<Option<StoredPayload>, StoreError> {
    let rebuilt = match &meta.inline {
        Some(inline) => StoredPayload::from_row(meta, event_body, inline.as_bytes()),
        None => {
            let Some(row) = payloads.get(delivery_id).map_err(storage)? else {
                return Ok(None);
            };
            StoredPayload::from_row(meta, event_body, row.value())
        }
    };
    rebuilt
        .map(Some)
        .ok_or_else(|| corrupt_payload(delivery_id))
}
