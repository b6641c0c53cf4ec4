//! Offline tools for plugin authors: `hookgate plugin check` (will the gateway load this file,
//! which version, what does it import, what does it cost to compile and instantiate?) and
//! `hookgate plugin test` (run it on an event and show the decision, the headers, a body diff,
//! its log lines and where the time went). No gateway, no store: `kv` is an in-memory map
//! (optionally preloaded), `http` is refused. Both use the gateway's own engine and linker
//! (`PluginHost`), so what they accept is what the gateway loads.

mod capture;
mod check;
mod diff;
mod test;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{HostOptions, HttpFetcher, HttpRequest, HttpResponse, KvBackend, PluginHost};

pub use self::check::check;
pub use self::test::{test, TestInput};

#[derive(Default)]
pub(super) struct MemKv(Mutex<HashMap<(String, String), Vec<u8>>>);

#[async_trait::async_trait]
impl KvBackend for MemKv {
    async fn get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        let m = self.0.lock().map_err(|_| "poisoned")?;
        Ok(m.get(&(ns.to_string(), key.to_string())).cloned())
    }
    async fn set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), String> {
        let mut m = self.0.lock().map_err(|_| "poisoned")?;
        m.insert((ns.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }
    async fn delete(&self, ns: &str, key: &str) -> Result<(), String> {
        let mut m = self.0.lock().map_err(|_| "poisoned")?;
        m.remove(&(ns.to_string(), key.to_string()));
        Ok(())
    }
}

struct NoHttp;

#[async_trait::async_trait]
impl HttpFetcher for NoHttp {
    async fn fetch(&self, r: HttpRequest) -> Result<HttpResponse, String> {
        Err(format!(
            "http is not available in `plugin test` (wanted {})",
            r.url
        ))
    }
}

/// A host with no gateway behind it: in-memory `kv`, `http` refused, no compiled-code cache.
pub fn host() -> Result<PluginHost, String> {
    host_with_kv(Arc::new(MemKv::default()))
}

pub(super) fn host_with_kv(kv: Arc<MemKv>) -> Result<PluginHost, String> {
    PluginHost::new(HostOptions {
        cache_dir: None,
        kv,
        http: Arc::new(NoHttp),
    })
    .map_err(|e| e.to_string())
}

/// `a, b, c`, or `none`: how the reports print a list that may be empty.
fn list_or_none<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let items: Vec<String> = items.map(|i| i.to_string()).collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
