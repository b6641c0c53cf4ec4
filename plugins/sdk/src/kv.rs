//! The plugin's persistent key-value store (namespaced per plugin, with a size quota).
//!
//! Only granted with `allow: { kv: true }`; otherwise every call returns the host's error,
//! which plugins should pass on as their own `Err` so the endpoint's `on_error` policy applies.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Result<Option<Vec<u8>>, String> {
    crate::host::kv_get(key)
}

/// The value stored under `key`, parsed as JSON into `T`.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, String> {
    match get(key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("kv value for {key:?} is not valid JSON: {e}")),
    }
}

/// Stores `value` under `key`.
pub fn set(key: &str, value: &[u8]) -> Result<(), String> {
    crate::host::kv_set(key, value)
}

/// Stores `value` serialized as JSON under `key`.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(value).map_err(|e| format!("cannot serialize {key:?}: {e}"))?;
    set(key, &bytes)
}

/// Removes `key` (removing a missing key is not an error).
pub fn delete(key: &str) -> Result<(), String> {
    crate::host::kv_delete(key)
}
