//! Reads and validates the `endpoints:` list: ids (unique), tenants, URLs
//! against the network policy, event patterns, secret, signature, headers
//! (names, reserved names, templates), plugin references, rate, concurrency,
//! ordering, `enabled` and the endpoint's own `delivery:` policy (read in `policy.rs`).
//!
//! Owns: the endpoint key list and cross-field endpoint checks. Imports
//! nothing from api/store/dispatch/delivery/plugins; uses `crate::signing`
//! for the secret and signature types.

use std::collections::HashMap;
use std::str::FromStr;

use crate::signing::{Secret, SignatureSpec};

use super::build::{member, report_at_member};
use super::de::from_node;
use super::pattern::EventPattern;
use super::reader::{Ctx, Obj};
use super::spans::ConfigSpans;
use super::template::HeaderTemplate;
use super::types::{EndpointConfig, NetworkConfig, OnError, Ordering, PluginRef, Rate};
use super::validate::{
    check_header_name, check_header_value, check_id, check_url, is_token, signature_headers,
};
use super::values::{parse_bool, parse_positive};
use super::yaml::{index_path, Node};

const ENDPOINT: &[&str] = &[
    "id",
    "tenant",
    "url",
    "events",
    "secret",
    "signature",
    "headers",
    "plugins",
    "rate",
    "max_in_flight",
    "ordering",
    "enabled",
    "delivery",
    "retention",
];
const PLUGIN_REF: &[&str] = &["use", "config", "on_error"];

/// Tenant of endpoints that don't name one.
const DEFAULT_TENANT: &str = "default";

/// Reads every endpoint; invalid ones are reported and left out.
pub(crate) fn endpoints(
    node: &Node,
    network: &NetworkConfig,
    plugins: &[String],
    ctx: &mut Ctx,
) -> Vec<EndpointConfig> {
    let mut out = Vec::new();
    let Some(items) = ctx.list(node, "endpoints") else {
        return out;
    };
    let mut ids: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let path = index_path("endpoints", i);
        let Some(ep) = endpoint(item, &path, network, plugins, ctx) else {
            continue;
        };
        let line = member(item, "id").map_or(item.pos.line, |n| n.pos.line);
        if let Some(first) = ids.get(&ep.id) {
            let msg = format!("duplicate endpoint id `{}` (first at line {first})", ep.id);
            report_at_member(ctx, item, &path, "id", msg);
            continue;
        }
        ids.insert(ep.id.clone(), line);
        out.push(ep);
    }
    out
}

pub(crate) fn endpoint(
    node: &Node,
    path: &str,
    network: &NetworkConfig,
    plugins: &[String],
    ctx: &mut Ctx,
) -> Option<EndpointConfig> {
    let obj = ctx.object(node, path, ENDPOINT)?;
    let id = ctx
        .required(&obj, "id")
        .and_then(|n| ctx.value(n, &obj.path_of("id"), check_id));
    let tenant = ctx.field(&obj, "tenant", check_id);
    let url = (ctx.required(&obj, "url")).and_then(|n| {
        let path = obj.path_of("url");
        let url = ctx.value(n, &path, |s| check_url(s, network.allow_http))?;
        // The static SSRF check (scheme, userinfo, IP literals in any spelling, localhost,
        // metadata and internal names). Other names are resolved and vetted on every attempt
        // instead: DNS at load time would make reloads slow and prove nothing later.
        let policy = crate::guard::Policy {
            allow_http: network.allow_http,
            allow_private: network.allow_private.clone(),
        };
        match crate::guard::check_url(&url, &policy) {
            Ok(()) => Some(url),
            Err(b) => {
                // The code is typed for callers; the `[code]` suffix is for people reading
                // `config check` output.
                use crate::guard::Blocked;
                let code = match b {
                    Blocked::NoHost | Blocked::Resolve { .. } | Blocked::NoAddresses { .. } => None,
                    _ => Some(super::DiagnosticCode::SsrfBlocked),
                };
                let message = format!("{b} [{}]", b.code());
                match code {
                    Some(c) => ctx.error_coded(n.pos, &path, c, message),
                    None => ctx.error(n.pos, &path, message),
                }
                None
            }
        }
    });
    let events = events(&obj, ctx);
    let secret = ctx.field(&obj, "secret", |s| {
        if s.is_empty() {
            return Err(
                "secret must not be empty (leave it out to have one generated)".to_string(),
            );
        }
        Ok(Secret::new(s))
    });
    let signature = signature(&obj, ctx);
    let headers = headers(&obj, &signature, ctx);
    let plugin_refs = plugin_refs(&obj, plugins, ctx);
    let rate = ctx.field(&obj, "rate", Rate::from_str);
    let max_in_flight = ctx.field(&obj, "max_in_flight", parse_positive);
    let ordering = ctx
        .field(&obj, "ordering", Ordering::from_str)
        .unwrap_or_default();
    let enabled = ctx.field(&obj, "enabled", parse_bool).unwrap_or(true);
    let delivery = super::policy::endpoint_delivery(&obj, ctx);
    let retention = super::retention::endpoint_retention(&obj, ctx);
    Some(EndpointConfig {
        id: id?,
        tenant: tenant.unwrap_or_else(|| DEFAULT_TENANT.to_string()),
        url: url?,
        events,
        secret,
        signature,
        headers,
        plugins: plugin_refs,
        rate,
        max_in_flight,
        ordering,
        enabled,
        retention: retention.map(Box::new),
        delivery: delivery.map(Box::new),
    })
}

fn events(obj: &Obj, ctx: &mut Ctx) -> Vec<EventPattern> {
    let path = obj.path_of("events");
    let Some(items) = obj.get("events").and_then(|n| ctx.list(n, &path)) else {
        return Vec::new();
    };
    (items.iter().enumerate())
        .filter_map(|(i, item)| ctx.value(item, &index_path(&path, i), EventPattern::from_str))
        .collect()
}

fn signature(obj: &Obj, ctx: &mut Ctx) -> SignatureSpec {
    let Some(node) = obj.get("signature") else {
        return SignatureSpec::default();
    };
    let path = obj.path_of("signature");
    let Some(spec) = from_node::<SignatureSpec>(node, &path, ctx) else {
        return SignatureSpec::default();
    };
    if let Some(header) = &spec.header {
        if !is_token(header) {
            let msg = format!("invalid header name {header:?}: must be an HTTP token");
            report_at_member(ctx, node, &path, "header", msg);
        }
    }
    spec
}

fn headers(obj: &Obj, signature: &SignatureSpec, ctx: &mut Ctx) -> Vec<(String, HeaderTemplate)> {
    let mut out: Vec<(String, HeaderTemplate)> = Vec::new();
    let Some(map) = obj
        .get("headers")
        .and_then(|n| ctx.map(n, &obj.path_of("headers")))
    else {
        return out;
    };
    let reserved = signature_headers(signature);
    for e in map.entries() {
        let path = map.path_of(&e.key);
        if let Err(msg) = check_header_name(&e.key, &reserved) {
            ctx.error(e.key_pos, &path, msg);
            continue;
        }
        if out
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(&e.key))
        {
            let msg = format!(
                "header `{}` is set twice (names are case-insensitive)",
                e.key
            );
            ctx.error(e.key_pos, &path, msg);
            continue;
        }
        let template = ctx.value(&e.value, &path, |s| {
            check_header_value(s)?;
            HeaderTemplate::from_str(s)
        });
        if let Some(t) = template {
            out.push((e.key.clone(), t));
        }
    }
    out
}

fn plugin_refs(obj: &Obj, plugins: &[String], ctx: &mut Ctx) -> Vec<PluginRef> {
    let path = obj.path_of("plugins");
    let Some(items) = obj.get("plugins").and_then(|n| ctx.list(n, &path)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = index_path(&path, i);
        let Some(r) = ctx.object(item, &item_path, PLUGIN_REF) else {
            continue;
        };
        let name = ctx.required(&r, "use").and_then(|n| {
            ctx.value(n, &r.path_of("use"), |s| {
                if plugins.iter().any(|p| p == s) {
                    Ok(s.to_string())
                } else {
                    Err(format!(
                        "unknown plugin `{s}` (declare it under the top-level `plugins:`, or use a built-in: {})",
                        crate::builtin_plugins::names().collect::<Vec<_>>().join(", ")
                    ))
                }
            })
        });
        let config = match r.get("config") {
            Some(n) => from_node::<serde_json::Value>(n, &r.path_of("config"), ctx),
            None => Some(serde_json::Value::Null),
        };
        let on_error = ctx
            .field(&r, "on_error", OnError::from_str)
            .unwrap_or_default();
        if let (Some(name), Some(config)) = (name, config) {
            let spans =
                ConfigSpans::new(ctx.file(), &r.path_of("config"), item.pos, r.get("config"));
            out.push(PluginRef {
                name,
                config,
                on_error,
                spans,
            });
        }
    }
    out
}
