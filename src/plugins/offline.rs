//! Offline tools for plugin authors: `hookgate plugin check` (does this file implement our
//! world, which version, what does it import?) and `hookgate plugin test` (run it on an event
//! and show the decision, the headers, a body diff and the time). No gateway, no store: `kv` is
//! an in-memory map (optionally preloaded), `http` is refused.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;
use wasmtime::component::Component;
use wasmtime::Engine;

use super::{
    ChainEntry, ChainOutcome, EndpointInfo, EventInfo, Grants, HostOptions, HttpFetcher,
    HttpRequest, HttpResponse, Input, KvBackend, OnError, PluginHost, PluginLimits,
};

/// The world's own interfaces, as shown by `check`.
const CAPABILITIES: [&str; 4] = ["log", "config", "kv", "http"];

/// `hookgate plugin check FILE`: a report, or why the file is not a usable plugin.
pub fn check(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let engine = Engine::default();
    let component = Component::new(&engine, &bytes)
        .map_err(|e| format!("{}: not a WebAssembly component: {e:#}", path.display()))?;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
    let world = super::runtime::check_world(&engine, &component);
    let version = exports
        .iter()
        .find(|e| e.starts_with("hookgate:plugin/handler@"))
        .and_then(|e| e.split('@').nth(1))
        .unwrap_or("-");
    let uses: Vec<&str> = CAPABILITIES
        .iter()
        .copied()
        .filter(|c| {
            imports
                .iter()
                .any(|i| i.starts_with(&format!("hookgate:plugin/{c}@")))
        })
        .collect();
    let mut out = format!(
        "{}: {} bytes\nworld: {}\nversion: hookgate:plugin@{version}\nuses: {}\n",
        path.display(),
        bytes.len(),
        match &world {
            Ok(()) => "hookgate:plugin/plugin ✓".to_string(),
            Err(e) => format!("✗ {e}"),
        },
        if uses.is_empty() {
            "none".to_string()
        } else {
            uses.join(", ")
        },
    );
    if uses.contains(&"kv") || uses.contains(&"http") {
        out.push_str("grant in config: allow: { ");
        if uses.contains(&"kv") {
            out.push_str("kv: true ");
        }
        if uses.contains(&"http") {
            out.push_str("http: [\"https://origin\"] ");
        }
        out.push_str("}\n");
    }
    out.push_str("imports:\n");
    for i in &imports {
        out.push_str(&format!("  {i}\n"));
    }
    out.push_str("exports:\n");
    for e in &exports {
        out.push_str(&format!("  {e}\n"));
    }
    world.map(|()| out.clone()).map_err(|_| out)
}

#[derive(Default)]
struct MemKv(Mutex<HashMap<(String, String), Vec<u8>>>);

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

/// What `plugin test` runs on.
pub struct TestInput {
    /// The event, as published: `{type, data, id?, tenant?}`.
    pub event: Value,
    /// The chain entry's `config`.
    pub config: Value,
    /// Preloaded kv entries (values are stored as JSON text).
    pub kv: serde_json::Map<String, Value>,
}

/// A host with no gateway behind it: in-memory `kv`, `http` refused, no compiled-code cache.
pub fn host() -> Result<PluginHost, String> {
    host_with_kv(Arc::new(MemKv::default()))
}

fn host_with_kv(kv: Arc<MemKv>) -> Result<PluginHost, String> {
    PluginHost::new(HostOptions {
        cache_dir: None,
        kv,
        http: Arc::new(NoHttp),
    })
    .map_err(|e| e.to_string())
}

/// `hookgate plugin test FILE --event e.json [--config c.json] [--kv kv.json]`.
pub async fn test(path: &Path, input: TestInput) -> Result<String, String> {
    let kv = Arc::new(MemKv::default());
    for (k, v) in &input.kv {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        kv.set("plugin", k, text.as_bytes()).await?;
    }
    let host = host_with_kv(kv)?;
    host.load(
        "plugin",
        path,
        PluginLimits::default(),
        Grants {
            kv: true,
            http_origins: Vec::new(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let ev = &input.event;
    let field = |k: &str, d: &str| ev.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let (id, ty, tenant) = (
        field("id", "evt_test"),
        field("type", "test.event"),
        field("tenant", "default"),
    );
    let stamp = crate::store::rfc3339(crate::store::now_ms());
    let data = serde_json::value::to_raw_value(ev.get("data").unwrap_or(&Value::Null))
        .map_err(|e| e.to_string())?;
    let body = crate::store::envelope(&id, &ty, &stamp, &data);
    let chain = [ChainEntry {
        plugin: "plugin".into(),
        config_json: input.config.to_string(),
        on_error: OnError::Retry,
    }];
    let run = |body: String| Input {
        delivery_id: "del_test".into(),
        event: EventInfo {
            id: id.clone(),
            event_type: ty.clone(),
            tenant: tenant.clone(),
            timestamp: stamp.clone(),
        },
        endpoint: EndpointInfo {
            id: "test".into(),
            url: "https://receiver.example/hook".into(),
        },
        body: body.into_bytes(),
        headers: Vec::new(),
    };
    // The first call warms the instance pool; the second is the one timed.
    let _ = host.run_chain(&chain, run(body.clone())).await;
    let started = Instant::now();
    let outcome = host.run_chain(&chain, run(body.clone())).await;
    let micros = started.elapsed().as_micros();
    let mut out = String::new();
    match outcome {
        ChainOutcome::Deliver {
            body: after,
            headers,
            ..
        } => {
            out.push_str(&format!("decision: deliver ({micros} µs)\n"));
            out.push_str("headers:\n");
            if headers.is_empty() {
                out.push_str("  (none)\n");
            }
            for (k, v) in headers {
                out.push_str(&format!("  {k}: {v}\n"));
            }
            out.push_str("body diff:\n");
            out.push_str(&diff(body.as_bytes(), &after));
            Ok(out)
        }
        ChainOutcome::Filtered { reason, .. } => {
            Ok(format!("decision: drop ({micros} µs)\nreason: {reason}\n"))
        }
        ChainOutcome::Failed { error, .. } => {
            Err(format!("decision: error ({micros} µs)\n{error}\n"))
        }
    }
}

/// A JSON-pointer diff when both bodies are JSON, otherwise both bodies.
fn diff(before: &[u8], after: &[u8]) -> String {
    match (
        serde_json::from_slice::<Value>(before),
        serde_json::from_slice::<Value>(after),
    ) {
        (Ok(a), Ok(b)) => {
            let mut lines = Vec::new();
            walk("", &a, &b, &mut lines);
            if lines.is_empty() {
                "  (unchanged)\n".into()
            } else {
                lines.into_iter().map(|l| format!("  {l}\n")).collect()
            }
        }
        _ => format!(
            "  before: {}\n  after:  {}\n",
            String::from_utf8_lossy(before),
            String::from_utf8_lossy(after)
        ),
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match y.get(k) {
                    Some(vb) => walk(&p, va, vb, out),
                    None => out.push(format!("- {p}")),
                }
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                out.push(format!(
                    "+ {path}/{} = {vb}",
                    k.replace('~', "~0").replace('/', "~1")
                ));
            }
        }
        _ if a == b => {}
        _ => out.push(format!(
            "~ {}: {a} → {b}",
            if path.is_empty() { "/" } else { path }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_change_by_pointer() {
        let d = diff(
            br#"{"data":{"card":"4242","email":"a@b","keep":1}}"#,
            br#"{"data":{"email":"***","keep":1,"tier":"gold"}}"#,
        );
        assert!(d.contains("- /data/card"), "{d}");
        assert!(d.contains("~ /data/email: \"a@b\" → \"***\""), "{d}");
        assert!(d.contains("+ /data/tier = \"gold\""), "{d}");
        assert!(!d.contains("keep"), "{d}");
        assert_eq!(diff(b"{}", b"{}"), "  (unchanged)\n");
        assert!(diff(b"x", b"y").contains("before: x"));
    }
}
