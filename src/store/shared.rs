//! What every backend encodes the same way: the JSON of the cold records, the contexts that
//! bind a sealed value to its row, and the stats bucket width.

use serde::{de::DeserializeOwned, Serialize};

use super::StoreError;

/// Width of one stats bucket.
pub const HOUR_MS: u64 = 3_600_000;

/// The AAD binding a sealed managed endpoint to its row.
pub fn managed_context(endpoint_id: &str) -> String {
    format!("managed_endpoints/{endpoint_id}")
}

/// The AAD binding a sealed secret to its row.
pub fn secret_context(endpoint_id: &str) -> String {
    format!("endpoint_secrets/{endpoint_id}")
}

/// Encodes a record.
pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Serializing our own plain records cannot fail (no maps with non-string keys, no I/O).
    serde_json::to_vec(v).unwrap_or_default()
}

/// Decodes a record, naming the table on failure.
pub fn decode<T: DeserializeOwned>(table: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        detail: e.to_string(),
    })
}

/// A payload row that does not fit its delivery record or event (see `BodyEdit`).
pub fn corrupt_payload(delivery_id: &str) -> StoreError {
    StoreError::Corrupt {
        table: "payloads",
        detail: format!("payload of {delivery_id} does not fit its event body"),
    }
}
