//! `hookgate:plugin/kv`: a persistent key-value store namespaced per plugin.
//!
//! Granted by `allow: { kv: true }`; without the grant every call returns an error and the
//! backend is never touched. The namespace is the plugin's name, so plugins cannot read each
//! other's data. Quota: the host enforces a per-entry limit (key ≤ 256 bytes, non-empty; value
//! ≤ 64 KiB); a total per-namespace quota is the backend's job (it knows the stored sizes) and
//! it reports it as an `Err` from `set`, which the guest receives verbatim.
//!
//! The backend is synchronous (redb in the gateway: a write may fsync), so calls run on tokio's
//! blocking pool instead of the worker that drives the guest.

use std::sync::Arc;

use super::super::bindings::hookgate::plugin::kv::Host;
use super::HostState;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 << 10;

/// Storage behind the kv import, injected by the gateway (redb) or tests (a map).
pub trait KvBackend: Send + Sync {
    /// Value of `key` in namespace `ns`, if any.
    fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores `value`; may refuse with a quota message.
    fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes `key`; deleting a missing key is not an error.
    fn delete(&self, ns: &str, key: &str) -> Result<(), String>;
}

impl HostState {
    /// Grant and key checks shared by all three functions.
    fn kv_check(&self, key: &str) -> Result<(), String> {
        if !self.policy.kv {
            return Err("kv: not granted to this plugin (allow: { kv: true })".into());
        }
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(format!("kv: key must be 1..={MAX_KEY_BYTES} bytes"));
        }
        Ok(())
    }

    /// Runs a backend call on the blocking pool with the plugin's namespace. Returns a future
    /// that does not borrow `self` (the store data is not `Sync`).
    fn kv_run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn KvBackend, &str) -> Result<R, String> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<R, String>> + Send + 'static {
        let backend = Arc::clone(&self.services.kv);
        let ns = Arc::clone(&self.policy.name);
        async move {
            tokio::task::spawn_blocking(move || f(&*backend, &ns))
                .await
                .map_err(|e| format!("kv: backend task failed: {e}"))?
        }
    }
}

impl Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, String> {
        self.kv_check(&key)?;
        self.kv_run(move |b, ns| b.get(ns, &key)).await
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.kv_check(&key)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!(
                "kv: value of {} bytes exceeds the {MAX_VALUE_BYTES}-byte limit",
                value.len()
            ));
        }
        self.kv_run(move |b, ns| b.set(ns, &key, &value)).await
    }

    async fn delete(&mut self, key: String) -> Result<(), String> {
        self.kv_check(&key)?;
        self.kv_run(move |b, ns| b.delete(ns, &key)).await
    }
}
