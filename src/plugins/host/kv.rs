//! `hookgate:plugin/kv`: a persistent key-value store namespaced per plugin.
//!
//! Granted by `allow: { kv: true }`; without the grant every call returns an error and the
//! backend is never touched. The namespace is the plugin's name, so plugins cannot read each
//! other's data. Quota: the host enforces a per-entry limit (key ≤ 256 bytes, non-empty; value
//! ≤ 64 KiB); a total per-namespace quota is the backend's job (it knows the stored sizes) and
//! it reports it as an `Err` from `set`, which the guest receives verbatim.
//!
//! The backend is async (the gateway's store: a write joins the next group commit), so a call
//! waits on the worker that drives the guest without holding a thread.

use std::sync::Arc;

use super::super::bindings::hookgate::plugin::kv::Host;
use super::HostState;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;

/// Storage behind the kv import, injected by the gateway (its store) or tests (a map).
#[async_trait::async_trait]
pub trait KvBackend: Send + Sync {
    /// Value of `key` in namespace `ns`, if any.
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores `value`; may refuse with a quota message.
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes `key`; deleting a missing key is not an error.
    async fn delete(&self, ns: &str, key: &str) -> Result<(), String>;
}

impl HostState {
    /// Grant and key checks shared by all three functions.
    fn kv_check(&self, key: &str) -> Result<(), String> {
        super::count(&self.policy.calls.kv);
        if !self.policy.kv {
            return Err("kv: not granted to this plugin (allow: { kv: true })".into());
        }
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(format!("kv: key must be 1..={MAX_KEY_BYTES} bytes"));
        }
        Ok(())
    }

    /// The backend and this plugin's namespace, owned, so a call's future does not borrow
    /// `self` across the wait.
    fn kv_parts(&self) -> (Arc<dyn KvBackend>, Arc<str>) {
        (Arc::clone(&self.services.kv), Arc::clone(&self.policy.name))
    }
}

impl Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        self.kv_check(&key)?;
        let (backend, ns) = self.kv_parts();
        backend.get(&ns, &key).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.kv_check(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "kv: value of {} bytes exceeds the {MAX_VALUE_BYTES}-byte limit",
                value.len()
            ));
        }
        let (backend, ns) = self.kv_parts();
        backend.set(&ns, &key, &value).await
    }

    async fn delete(&mut self, key: String) -> Result<(), String> {
        self.kv_check(&key)?;
        let (backend, ns) = self.kv_parts();
        backend.delete(&ns, &key).await
    }
}
