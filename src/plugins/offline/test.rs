//! `hookgate plugin test FILE --event e.json [--config c.json] [--kv kv.json]`: one call shown
//! in full (decision, headers, body diff, log lines, the imports it called), then `--repeat`
//! more calls timed, each on a fresh instance as in the gateway, with where the time went.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::instrument::WithSubscriber;

use super::super::bindings::{Decision, Delivery};
use super::super::call::{self, CallTiming};
use super::super::{EndpointInfo, EventInfo, Grants, Input, KvBackend, PluginLimits};
use super::capture::Captured;
use super::check::ms;
use super::diff::diff;
use super::MemKv;

/// What `plugin test` runs on.
pub struct TestInput {
    /// The event, as published: `{type, data, id?, tenant?}`.
    pub event: Value,
    /// The chain entry's `config`.
    pub config: Value,
    /// Preloaded kv entries (values are stored as JSON text).
    pub kv: serde_json::Map<String, Value>,
    /// Memory cap and deadline, as `plugins.NAME.memory` / `.timeout` would set them.
    pub limits: PluginLimits,
    /// Timed calls after the one shown.
    pub repeat: u32,
    /// Which of the plugin's log lines to show (EnvFilter syntax, the global `--log`).
    pub log: String,
}

/// The report; `Err` (with the same detail) when the plugin failed.
pub async fn test(path: &Path, input: TestInput) -> Result<String, String> {
    let kv = Arc::new(MemKv::default());
    for (k, v) in &input.kv {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        kv.set("plugin", k, text.as_bytes()).await?;
    }
    let host = super::host_with_kv(kv)?;
    let grants = Grants {
        kv: true,
        http_origins: Vec::new(),
    };
    let plugin = (host.load("plugin", path, input.limits, grants).await).map_err(|e| e.detail())?;
    let (body, delivery) = delivery_of(&input.event)?;
    let config = input.config.to_string();
    let services = &host.inner.services;
    let _running = host.inner.ticker.running();

    let captured = Captured::default();
    let subscriber = captured.subscriber(&input.log)?;
    let (outcome, first) = call::call_timed(&plugin, services, &config, &delivery)
        .with_subscriber(subscriber)
        .await;
    let called = plugin.policy.calls.used();
    let mut out = match &outcome {
        Ok(decision) => decided(decision, &body, first),
        Err(e) => format!("decision: error ({})\n{}\n", breakdown(first), e.detail()),
    };
    out.push_str(&captured.report());
    let called = called.iter().map(|(name, n)| format!("{name} ×{n}"));
    let _ = writeln!(out, "host calls: {}", super::list_or_none(called));
    if outcome.is_ok() && input.repeat > 0 {
        let mut timings = Vec::with_capacity(input.repeat as usize);
        for _ in 0..input.repeat {
            let (result, t) = call::call_timed(&plugin, services, &config, &delivery).await;
            result.map_err(|e| format!("{out}repeated call failed: {}\n", e.detail()))?;
            timings.push(t);
        }
        out.push_str(&summary(&timings));
    }
    if outcome.is_ok() {
        Ok(out)
    } else {
        Err(out)
    }
}

/// The sample event as the first plugin of a chain would receive it.
fn delivery_of(ev: &Value) -> Result<(Vec<u8>, Delivery), String> {
    let field = |k: &str, d: &str| ev.get(k).and_then(Value::as_str).unwrap_or(d).to_string();
    let stamp = crate::store::rfc3339(crate::store::now_ms());
    let data = serde_json::value::to_raw_value(ev.get("data").unwrap_or(&Value::Null))
        .map_err(|e| e.to_string())?;
    let (id, event_type) = (field("id", "evt_test"), field("type", "test.event"));
    let body = crate::store::envelope(&id, &event_type, &stamp, &data).into_bytes();
    let input = Input {
        delivery_id: "del_test".into(),
        event: EventInfo {
            id,
            event_type,
            tenant: field("tenant", "default"),
            timestamp: stamp,
        },
        endpoint: EndpointInfo {
            id: "test".into(),
            url: "https://receiver.example/hook".into(),
        },
        body: body.clone(),
        headers: Vec::new(),
    };
    Ok((body, Delivery::from(input)))
}

/// Decision, headers and body diff of the call shown.
fn decided(decision: &Decision, before: &[u8], t: CallTiming) -> String {
    match decision {
        Decision::Deliver(output) => {
            let mut out = format!("decision: deliver ({})\nheaders:\n", breakdown(t));
            if output.headers.is_empty() {
                out.push_str("  (none)\n");
            }
            for h in &output.headers {
                let _ = writeln!(out, "  {}: {}", h.name, h.value);
            }
            out.push_str("body diff:\n");
            out.push_str(&diff(before, &output.body));
            out
        }
        Decision::Drop(reason) => {
            format!("decision: drop ({})\nreason: {reason}\n", breakdown(t))
        }
    }
}

/// `0.41 ms: instantiate 0.12, handle 0.25, teardown 0.04`.
fn breakdown(t: CallTiming) -> String {
    let total = t.instantiate + t.handle + t.teardown;
    format!(
        "{} on a fresh instance: instantiate {}, handle {}, teardown {}",
        ms(total),
        ms(t.instantiate),
        ms(t.handle),
        ms(t.teardown)
    )
}

/// p50/p99 of the timed calls, in total and per stage.
fn summary(timings: &[CallTiming]) -> String {
    let stage = |timings: &[CallTiming], f: fn(&CallTiming) -> Duration| {
        let mut v: Vec<Duration> = timings.iter().map(f).collect();
        v.sort_unstable();
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        (at(0.5), at(0.99))
    };
    let (p50, p99) = stage(timings, |t| t.instantiate + t.handle + t.teardown);
    let (i50, i99) = stage(timings, |t| t.instantiate);
    let (h50, h99) = stage(timings, |t| t.handle);
    let (d50, d99) = stage(timings, |t| t.teardown);
    format!(
        "{} calls: p50 {}, p99 {}\n  instantiate p50 {}, p99 {}\n  handle      p50 {}, p99 {}\n  teardown    p50 {}, p99 {}\n",
        timings.len(),
        ms(p50),
        ms(p99),
        ms(i50),
        ms(i99),
        ms(h50),
        ms(h99),
        ms(d50),
        ms(d99)
    )
}
