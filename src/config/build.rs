//! Turns the interpolated YAML tree into a [`Config`]: the top level and the
//! `server`, `auth`, `delivery`, `network` and `plugins` sections (endpoints live in
//! `endpoint.rs`).
//!
//! Owns: the list of allowed keys per section and the defaults-then-override
//! reading. Every problem is reported and reading goes on, so one load shows
//! all mistakes. Imports nothing from api/store/dispatch/delivery/plugins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::builtin_plugins;
use crate::signing::Secret;

use super::endpoint;
use super::policy;
use super::reader::{Ctx, Obj};
use super::types::{
    ApiKeyConfig, AuthConfig, Config, DeliveryConfig, NetworkConfig, PgTlsMode, PluginAllow,
    PluginConfig, PluginSource, PostgresConfig, Scope, ServerConfig, StorageConfig,
};
use super::validate::check_id;
use super::values::{
    parse_bool, parse_duration, parse_net, parse_positive, parse_size, parse_size_usize,
    parse_socket_addr,
};
use super::yaml::{index_path, Node};

const TOP: &[&str] = &[
    "listen",
    "data_dir",
    "storage",
    "server",
    "auth",
    "delivery",
    "retention",
    "network",
    "plugins",
    "endpoints",
];
const SERVER: &[&str] = &["header_read_timeout", "idle_timeout", "max_connections"];
const AUTH: &[&str] = &["api_keys"];
const API_KEY: &[&str] = &["name", "key", "key_sha256", "scopes", "tenant", "rate"];
/// The global `delivery:` keys, in the order the unknown-key message lists them.
const DELIVERY: &[&str] = &[
    "timeout",
    "retry_schedule",
    "jitter",
    "auto_disable_after",
    "max_in_flight",
    "response_body_limit",
    "fail_fast_4xx",
    "retry_after_cap",
    "shutdown_grace",
];
const NETWORK: &[&str] = &["allow_http", "allow_private"];
const STORAGE: &[&str] = &[
    "backend",
    "url",
    "pool_size",
    "tls",
    "ca_file",
    "lease",
    "min_free",
];
const PLUGIN: &[&str] = &["path", "memory", "timeout", "allow", "reuse"];
const PLUGIN_ALLOW: &[&str] = &["kv", "http"];

/// Reads the whole file. The result is only used when `ctx` has no diagnostics.
pub(crate) fn build(root: &Node, base_dir: &Path, ctx: &mut Ctx) -> Config {
    let mut cfg = Config::embedded_default();
    let Some(top) = ctx.object(root, "", TOP) else {
        return cfg;
    };
    ctx.set(&mut cfg.listen, &top, "listen", parse_socket_addr);
    ctx.set(&mut cfg.data_dir, &top, "data_dir", non_empty_path);
    if let Some(node) = top.get("storage") {
        cfg.storage = storage(node, base_dir, &mut cfg.min_free, ctx);
    }
    if let Some(node) = top.get("server") {
        cfg.server = server(node, ctx);
    }
    if let Some(node) = top.get("auth") {
        cfg.auth = auth(node, ctx);
    }
    if let Some(node) = top.get("delivery") {
        cfg.delivery = delivery(node, ctx);
    }
    if let Some(node) = top.get("retention") {
        cfg.retention = super::retention::global(node, ctx);
    }
    if let Some(node) = top.get("network") {
        cfg.network = network(node, ctx);
    }
    // Endpoints may only `use` declared or built-in plugins; a plugin whose own settings
    // are wrong still counts as declared so the error isn't repeated.
    let mut declared = Vec::new();
    if let Some(node) = top.get("plugins") {
        (cfg.plugins, declared) = plugins(node, base_dir, ctx);
    }
    declared.extend(builtin_plugins::names().map(String::from));
    if let Some(node) = top.get("endpoints") {
        cfg.endpoints = endpoint::endpoints(node, &cfg.network, &declared, ctx);
    }
    add_used_builtins(&mut cfg);
    cfg
}

/// Built-ins that endpoints `use` without a top-level entry run with the default limits and
/// no grants; listing them in `cfg.plugins` lets every consumer treat all plugins alike.
fn add_used_builtins(cfg: &mut Config) {
    for r in cfg.endpoints.iter().flat_map(|e| &e.plugins) {
        if builtin_plugins::is_builtin(&r.name) && !cfg.plugins.contains_key(&r.name) {
            cfg.plugins
                .insert(r.name.clone(), PluginConfig::builtin_default());
        }
    }
}

fn non_empty_path(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        return Err("path must not be empty".to_string());
    }
    Ok(PathBuf::from(s))
}

/// A duration that must be longer than zero (timeouts).
pub(crate) fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        Duration::ZERO => Err("must be greater than 0".to_string()),
        d => Ok(d),
    }
}

fn server(node: &Node, ctx: &mut Ctx) -> ServerConfig {
    let mut s = ServerConfig::default();
    let Some(obj) = ctx.object(node, "server", SERVER) else {
        return s;
    };
    ctx.set(
        &mut s.header_read_timeout,
        &obj,
        "header_read_timeout",
        positive_duration,
    );
    ctx.set(&mut s.idle_timeout, &obj, "idle_timeout", positive_duration);
    ctx.set(&mut s.max_connections, &obj, "max_connections", |v| {
        parse_positive(v).map(Some)
    });
    s
}

fn auth(node: &Node, ctx: &mut Ctx) -> AuthConfig {
    let mut out = AuthConfig::default();
    let Some(obj) = ctx.object(node, "auth", AUTH) else {
        return out;
    };
    let Some(list) = obj
        .get("api_keys")
        .and_then(|n| ctx.list(n, "auth.api_keys"))
    else {
        return out;
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut hashes: HashMap<[u8; 32], String> = HashMap::new();
    for (i, item) in list.iter().enumerate() {
        let path = index_path("auth.api_keys", i);
        let Some(key) = api_key(item, &path, ctx) else {
            continue;
        };
        if let Some(line) = names.get(&key.name) {
            let msg = format!(
                "duplicate api key name `{}` (first at line {line})",
                key.name
            );
            report_at_member(ctx, item, &path, "name", msg);
            continue;
        }
        if let Some(other) = hashes.get(&key.key_sha256) {
            let msg = format!("same key as api key `{other}`");
            let member = if member(item, "key").is_some() {
                "key"
            } else {
                "key_sha256"
            };
            report_at_member(ctx, item, &path, member, msg);
            continue;
        }
        let line = member(item, "name").map_or(item.pos.line, |n| n.pos.line);
        names.insert(key.name.clone(), line);
        hashes.insert(key.key_sha256, key.name.clone());
        out.api_keys.push(key);
    }
    out
}

fn api_key(node: &Node, path: &str, ctx: &mut Ctx) -> Option<ApiKeyConfig> {
    let obj = ctx.object(node, path, API_KEY)?;
    let name = ctx
        .required(&obj, "name")
        .and_then(|n| ctx.value(n, &obj.path_of("name"), key_name));
    let hash = key_hash(&obj, ctx);
    let scopes = scopes(&obj, ctx);
    let tenant = ctx.field(&obj, "tenant", check_id);
    let rate = ctx.field(&obj, "rate", super::types::Rate::from_str);
    Some(ApiKeyConfig {
        name: name?,
        key_sha256: hash?,
        scopes: scopes?,
        tenant,
        rate,
    })
}

fn key_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err("api key name must be non-empty text without control characters".to_string());
    }
    Ok(s.to_string())
}

/// Exactly one of `key` (hashed here; the plaintext is dropped) or `key_sha256`.
fn key_hash(obj: &Obj, ctx: &mut Ctx) -> Option<[u8; 32]> {
    match (obj.get("key"), obj.get("key_sha256")) {
        (Some(key), None) => ctx.value(key, &obj.path_of("key"), |s| {
            if s.is_empty() {
                return Err("key must not be empty".to_string());
            }
            Ok(Sha256::digest(s.as_bytes()).into())
        }),
        (None, Some(hash)) => ctx.value(hash, &obj.path_of("key_sha256"), |s| {
            let mut out = [0u8; 32];
            match hex::decode_to_slice(s.trim(), &mut out) {
                Ok(()) => Ok(out),
                Err(_) => {
                    Err("key_sha256 must be 64 hex characters (a SHA-256 digest)".to_string())
                }
            }
        }),
        (Some(_), Some(hash)) => {
            let msg = "set only one of `key` or `key_sha256`";
            ctx.error(hash.pos, &obj.path_of("key_sha256"), msg);
            None
        }
        (None, None) => {
            let msg = "missing `key` or `key_sha256` (exactly one is required)";
            ctx.error(obj.node.pos, &obj.path_of("key"), msg);
            None
        }
    }
}

fn scopes(obj: &Obj, ctx: &mut Ctx) -> Option<Vec<Scope>> {
    let node = ctx.required(obj, "scopes")?;
    let path = obj.path_of("scopes");
    let items = ctx.list(node, &path)?;
    if items.is_empty() {
        ctx.error(node.pos, &path, "scopes must list at least one scope");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match ctx.value(item, &index_path(&path, i), Scope::from_str) {
            Some(scope) if !out.contains(&scope) => out.push(scope),
            Some(_) => {}
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn delivery(node: &Node, ctx: &mut Ctx) -> DeliveryConfig {
    let mut d = DeliveryConfig::default();
    let Some(obj) = ctx.object(node, "delivery", DELIVERY) else {
        return d;
    };
    policy::apply(&mut d, policy::read(&obj, ctx));
    ctx.set(&mut d.max_in_flight, &obj, "max_in_flight", parse_positive);
    ctx.set(
        &mut d.response_body_limit,
        &obj,
        "response_body_limit",
        parse_size_usize,
    );
    ctx.set(
        &mut d.shutdown_grace,
        &obj,
        "shutdown_grace",
        parse_duration,
    );
    d
}

fn network(node: &Node, ctx: &mut Ctx) -> NetworkConfig {
    let mut n = NetworkConfig::default();
    let Some(obj) = ctx.object(node, "network", NETWORK) else {
        return n;
    };
    ctx.set(&mut n.allow_http, &obj, "allow_http", parse_bool);
    let path = obj.path_of("allow_private");
    if let Some(items) = obj.get("allow_private").and_then(|v| ctx.list(v, &path)) {
        n.allow_private = (items.iter().enumerate())
            .filter_map(|(i, item)| ctx.value(item, &index_path(&path, i), parse_net))
            .collect();
    }
    n
}

fn storage(node: &Node, base_dir: &Path, min_free: &mut u64, ctx: &mut Ctx) -> StorageConfig {
    let Some(obj) = ctx.object(node, "storage", STORAGE) else {
        return StorageConfig::Redb;
    };
    ctx.set(min_free, &obj, "min_free", parse_size);
    let backend = ctx.field(&obj, "backend", |s| match s {
        "redb" | "postgres" => Ok(s.to_string()),
        _ => Err(format!("unknown backend {s:?}: expected redb or postgres")),
    });
    if backend.as_deref() != Some("postgres") {
        for key in ["url", "pool_size", "tls", "ca_file", "lease"] {
            if let Some(e) = obj.entry(key).filter(|_| backend.is_some()) {
                ctx.error(
                    e.key_pos,
                    &obj.path_of(key),
                    "only used with `backend: postgres`",
                );
            }
        }
        return StorageConfig::Redb;
    }
    let url = ctx
        .required(&obj, "url")
        .and_then(|n| ctx.value(n, &obj.path_of("url"), postgres_url));
    let mut pg = PostgresConfig {
        tls: url.as_deref().map_or(PgTlsMode::VerifyFull, default_tls),
        url: Secret::new(url.unwrap_or_default()),
        pool_size: 16,
        ca_file: None,
        lease: Duration::from_secs(30),
    };
    ctx.set(&mut pg.pool_size, &obj, "pool_size", parse_positive);
    ctx.set(&mut pg.tls, &obj, "tls", |s| match s {
        "disable" => Ok(PgTlsMode::Disable),
        "verify-full" => Ok(PgTlsMode::VerifyFull),
        _ => Err(format!(
            "unknown tls mode {s:?}: expected disable or verify-full"
        )),
    });
    pg.ca_file = ctx.field(&obj, "ca_file", |s| {
        non_empty_path(s).map(|p| base_dir.join(p))
    });
    ctx.set(&mut pg.lease, &obj, "lease", |s| {
        match positive_duration(s)? {
            d if d < Duration::from_secs(1) => Err("must be at least 1s".to_string()),
            d => Ok(d),
        }
    });
    StorageConfig::Postgres(pg)
}

/// A `postgres://` URL or a libpq `key=value` string; checked for shape only (the server
/// checks the rest when the node connects).
fn postgres_url(s: &str) -> Result<String, String> {
    let url_form = s.starts_with("postgres://") || s.starts_with("postgresql://");
    if url_form || s.contains('=') {
        Ok(s.to_string())
    } else {
        Err("expected a postgres:// URL or a key=value connection string".to_string())
    }
}

/// No TLS for a unix socket or a loopback host (nothing to protect on the wire there);
/// checked TLS for anything else.
fn default_tls(url: &str) -> PgTlsMode {
    let host = match url::Url::parse(url) {
        Ok(u) => u.host_str().unwrap_or("").to_string(),
        Err(_) => (url.split_whitespace())
            .find_map(|kv| kv.strip_prefix("host="))
            .unwrap_or("")
            .to_string(),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.is_empty()
        || host.starts_with('/')
        || host.starts_with("%2F")
        || host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if local {
        PgTlsMode::Disable
    } else {
        PgTlsMode::VerifyFull
    }
}

/// Returns the valid plugins and the names of all declared ones.
fn plugins(
    node: &Node,
    base_dir: &Path,
    ctx: &mut Ctx,
) -> (BTreeMap<String, PluginConfig>, Vec<String>) {
    let mut out = BTreeMap::new();
    let Some(obj) = ctx.map(node, "plugins") else {
        return (out, Vec::new());
    };
    let declared = obj.entries().iter().map(|e| e.key.clone()).collect();
    for e in obj.entries() {
        let path = obj.path_of(&e.key);
        if let Err(msg) = check_id(&e.key) {
            ctx.error(e.key_pos, &path, format!("plugin name: {msg}"));
            continue;
        }
        if let Some(plugin) = plugin(&e.key, &e.value, &path, base_dir, ctx) {
            out.insert(e.key.clone(), plugin);
        }
    }
    (out, declared)
}

/// One `plugins:` entry. `path` may be left out for a built-in name (the entry then only sets
/// limits and grants for the built-in); given, it replaces the built-in with that file.
fn plugin(
    name: &str,
    node: &Node,
    path: &str,
    base_dir: &Path,
    ctx: &mut Ctx,
) -> Option<PluginConfig> {
    let obj = ctx.object(node, path, PLUGIN)?;
    let file = if obj.get("path").is_none() && builtin_plugins::is_builtin(name) {
        Some(None)
    } else {
        ctx.required(&obj, "path")
            .and_then(|n| ctx.value(n, &obj.path_of("path"), non_empty_path))
            .map(Some)
    };
    let mut memory = PluginConfig::DEFAULT_MEMORY;
    ctx.set(&mut memory, &obj, "memory", |s| match parse_size(s)? {
        0 => Err("memory must be greater than 0".to_string()),
        n => Ok(n),
    });
    let mut timeout = PluginConfig::DEFAULT_TIMEOUT;
    ctx.set(&mut timeout, &obj, "timeout", positive_duration);
    let mut reuse = 1;
    ctx.set(&mut reuse, &obj, "reuse", |s| match parse_positive(s)? {
        n if n > PluginConfig::MAX_REUSE as usize => Err(format!(
            "must be at most {} calls per instance",
            PluginConfig::MAX_REUSE
        )),
        n => Ok(n as u32),
    });
    let mut allow = PluginAllow::default();
    if let Some(a) = obj
        .get("allow")
        .and_then(|n| ctx.object(n, &obj.path_of("allow"), PLUGIN_ALLOW))
    {
        ctx.set(&mut allow.kv, &a, "kv", parse_bool);
        let path = a.path_of("http");
        if let Some(items) = a.get("http").and_then(|n| ctx.list(n, &path)) {
            allow.http = (items.iter().enumerate())
                .filter_map(|(i, item)| ctx.value(item, &index_path(&path, i), http_host))
                .collect();
        }
    }
    Some(PluginConfig {
        source: match file? {
            Some(file) => PluginSource::File(base_dir.join(file)),
            None => PluginSource::Builtin,
        },
        memory,
        timeout,
        allow,
        reuse,
    })
}

fn http_host(s: &str) -> Result<String, String> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("expected a host name, got {s:?}"));
    }
    Ok(s.to_string())
}

/// The node of mapping member `key`, if `node` is a mapping that has it.
pub(crate) fn member<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.kind {
        super::yaml::Kind::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
        _ => None,
    }
}

/// Reports at member `key`'s value when present, else at the mapping.
pub(crate) fn report_at_member(ctx: &mut Ctx, node: &Node, path: &str, key: &str, msg: String) {
    let pos = member(node, key).map_or(node.pos, |n| n.pos);
    ctx.error(pos, &super::yaml::key_path(path, key), msg);
}
