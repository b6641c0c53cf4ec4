//! Tests for valid configs: full parse, defaults, interpolation, the example
//! file, `load`, `diff`, and that secrets stay out of `Debug`.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::signing::{Scheme, Secret, SignatureSpec};

fn env(name: &str) -> Option<String> {
    match name {
        "PUBLISH_KEY" => Some("pk-live-123".into()),
        "BILLING_SECRET" => Some("whsec_billing".into()),
        "HOST" => Some("hooks.example.com".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn ok(yaml: &str) -> Config {
    match parse(yaml, "hookgate.yaml", Path::new("/etc/hookgate"), &env) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

const FULL: &str = r#"
listen: 0.0.0.0:9090
data_dir: /var/lib/hookgate
server:
  header_read_timeout: 2s
  idle_timeout: 90s
  max_connections: 500
auth:
  api_keys:
    - name: publisher
      key: ${PUBLISH_KEY}
      scopes: [events:publish, events:read]
      tenant: acme
    - name: ops
      key_sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
      scopes: [admin]
delivery:
  timeout: 3s
  retry_schedule: [500ms, 1m, 1d]
  jitter: 0
  auto_disable_after: 0
  max_in_flight: 8
  response_body_limit: 4KiB
  fail_fast_4xx: true
  retry_after_cap: 5m
  shutdown_grace: 0s
network:
  allow_http: true
  allow_private: [127.0.0.0/8, "::1/128", 10.1.2.3]
plugins:
  redact: { path: plugins/redact.wasm, memory: 512KiB, timeout: 2s, allow: { kv: true, http: [api.example.com] } }
  bare:
    path: /opt/bare.wasm
endpoints:
  - id: billing
    tenant: acme
    url: http://billing.example.com/hooks
    events: [invoice.*, "*", customer.created]
    secret: ${BILLING_SECRET}
    signature: { scheme: stripe, header: X-Sig, prefix: "v1=" }
    headers: { X-Team: billing, X-Event-Id: "{{event.id}}" }
    plugins:
      - { use: redact, config: { paths: [/data/card], depth: 2 }, on_error: skip }
      - use: bare
        on_error: drop
    rate: 600/m
    max_in_flight: 16
    ordering: fifo
    enabled: false
"#;

#[test]
fn full_config_parses_to_expected_values() {
    let c = ok(FULL);
    assert_eq!(
        c.listen,
        "0.0.0.0:9090".parse().unwrap_or_else(|e| panic!("{e}"))
    );
    assert_eq!(c.data_dir, Path::new("/var/lib/hookgate"));
    let server = ServerConfig {
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(90),
        max_connections: Some(500),
    };
    assert_eq!(c.server, server);
    assert_eq!(c.server.max_connections_for(1024), 500, "configured wins");

    let keys = &c.auth.api_keys;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].name, "publisher");
    let want: [u8; 32] = sha2::Sha256::digest(b"pk-live-123").into();
    assert_eq!(keys[0].key_sha256, want);
    assert_eq!(keys[0].scopes, [Scope::EventsPublish, Scope::EventsRead]);
    assert_eq!(keys[0].tenant.as_deref(), Some("acme"));
    assert_eq!(
        hex::encode(keys[1].key_sha256),
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    assert_eq!(keys[1].scopes, [Scope::Admin]);
    assert_eq!(keys[1].tenant, None);

    let d = &c.delivery;
    assert_eq!(d.timeout, Duration::from_secs(3));
    let schedule = [
        Duration::from_millis(500),
        Duration::from_secs(60),
        Duration::from_secs(86400),
    ];
    assert_eq!(d.retry_schedule, schedule);
    assert_eq!(
        (d.jitter, d.auto_disable_after, d.max_in_flight),
        (0.0, 0, 8)
    );
    assert_eq!((d.response_body_limit, d.fail_fast_4xx), (4096, true));
    assert_eq!(
        (d.retry_after_cap, d.shutdown_grace),
        (Duration::from_secs(300), Duration::ZERO)
    );

    assert!(c.network.allow_http);
    let nets: Vec<String> = c
        .network
        .allow_private
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(nets, ["127.0.0.0/8", "::1/128", "10.1.2.3/32"]);

    let redact = &c.plugins["redact"];
    assert_eq!(
        redact.source,
        PluginSource::File("/etc/hookgate/plugins/redact.wasm".into())
    );
    assert_eq!(
        (redact.memory, redact.timeout),
        (512 * 1024, Duration::from_secs(2))
    );
    assert_eq!(
        redact.allow,
        PluginAllow {
            kv: true,
            http: vec!["api.example.com".into()]
        }
    );
    let bare = &c.plugins["bare"];
    assert_eq!(bare.source, PluginSource::File("/opt/bare.wasm".into()));
    assert_eq!(
        (bare.memory, bare.timeout),
        (32 << 20, Duration::from_millis(100))
    );
    assert_eq!(bare.allow, PluginAllow::default());

    let ep = &c.endpoints[0];
    assert_eq!((ep.id.as_str(), ep.tenant.as_str()), ("billing", "acme"));
    assert_eq!(ep.url.as_str(), "http://billing.example.com/hooks");
    let events = [
        EventPattern::Prefix("invoice.".into()),
        EventPattern::All,
        EventPattern::Exact("customer.created".into()),
    ];
    assert_eq!(ep.events, events);
    assert_eq!(ep.secret, Some(Secret::new("whsec_billing")));
    let sig = SignatureSpec {
        scheme: Scheme::Stripe,
        header: Some("X-Sig".into()),
        prefix: Some("v1=".into()),
    };
    assert_eq!(ep.signature, sig);
    let headers: Vec<(&str, &str, bool)> = ep
        .headers
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str(), t.is_static()))
        .collect();
    assert_eq!(
        headers,
        [
            ("X-Team", "billing", true),
            ("X-Event-Id", "{{event.id}}", false)
        ]
    );
    assert_eq!(ep.plugins.len(), 2);
    assert_eq!(ep.plugins[0].name, "redact");
    assert_eq!(
        ep.plugins[0].config,
        serde_json::json!({"paths": ["/data/card"], "depth": 2})
    );
    assert_eq!(ep.plugins[0].on_error, OnError::Skip);
    assert_eq!(ep.plugins[1].config, serde_json::Value::Null);
    assert_eq!(ep.plugins[1].on_error, OnError::Drop);
    assert_eq!(ep.rate, Some(Rate { per_second: 10.0 }));
    assert_eq!(
        (ep.max_in_flight, ep.ordering, ep.enabled),
        (Some(16), Ordering::Fifo, false)
    );
}

#[test]
fn defaults() {
    assert_eq!(ok(""), Config::embedded_default());
    assert_eq!(ok("# just a comment\n"), Config::embedded_default());
    assert_eq!(
        ok("auth:\ndelivery: {}\nnetwork: ~\nplugins: {}\nendpoints: []\n"),
        Config::embedded_default()
    );
    let c = Config::embedded_default();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, Path::new("./hookgate-data"));
    let s = &c.server;
    assert_eq!(
        (s.header_read_timeout, s.idle_timeout, s.max_connections),
        (Duration::from_secs(10), Duration::from_secs(60), None)
    );
    // Derived cap: half the open-file limit, at least 1, at most 10,000.
    let caps: Vec<usize> = [1024, 4096, 1 << 20, 1, 0]
        .map(|n| s.max_connections_for(n))
        .into();
    assert_eq!(caps, [512, 2048, 10_000, 1, 1]);
    let d = &c.delivery;
    let hours = |h: u64| Duration::from_secs(h * 3600);
    let schedule = [
        Duration::from_secs(5),
        Duration::from_secs(300),
        Duration::from_secs(1800),
        hours(2),
        hours(5),
        hours(10),
        hours(10),
    ];
    assert_eq!(d.retry_schedule, schedule);
    assert_eq!(
        (d.timeout, d.jitter, d.auto_disable_after),
        (Duration::from_secs(10), 0.2, 20)
    );
    assert_eq!(
        (d.max_in_flight, d.response_body_limit, d.fail_fast_4xx),
        (1024, 2000, false)
    );
    assert_eq!(
        (d.retry_after_cap, d.shutdown_grace),
        (hours(1), Duration::from_secs(10))
    );
    assert_eq!(
        c.network,
        NetworkConfig {
            allow_http: false,
            allow_private: vec![]
        }
    );

    let c = ok("endpoints:\n  - id: a\n    url: https://a.example/x\n");
    let ep = &c.endpoints[0];
    assert_eq!(ep.tenant, "default");
    assert!(ep.events.is_empty() && ep.headers.is_empty() && ep.plugins.is_empty());
    assert_eq!(
        (ep.secret.clone(), ep.signature.clone()),
        (None, SignatureSpec::default())
    );
    assert_eq!(
        (ep.rate, ep.max_in_flight, ep.ordering, ep.enabled),
        (None, None, Ordering::None, true)
    );
    let c = ok("plugins:\n  p: { path: p.wasm }\nendpoints:\n  - { id: a, url: 'https://a.example/', plugins: [{ use: p }] }\n");
    assert_eq!(c.endpoints[0].plugins[0].on_error, OnError::Retry);
}

#[test]
fn interpolation_set_default_and_escape() {
    let c = ok(concat!(
        "endpoints:\n",
        "  - id: ${EP_ID:-fallback-id}\n",
        "    tenant: ${EMPTY:-acme}\n",
        "    url: https://${HOST}/in\n",
        "    secret: ${NO_SECRET:-}\n",
        "    headers: { X-Price: \"$$5 and $${HOST}\", X-Lit: 'a $ b' }\n",
    ));
    let ep = &c.endpoints[0];
    assert_eq!(
        (ep.id.as_str(), ep.tenant.as_str()),
        ("fallback-id", "acme")
    );
    assert_eq!(ep.url.as_str(), "https://hooks.example.com/in");
    assert_eq!(ep.secret, None, "interpolated to empty means absent");
    assert_eq!(ep.headers[0].1.as_str(), "$5 and ${HOST}");
    assert_eq!(ep.headers[1].1.as_str(), "a $ b");
}

#[test]
fn example_file_parses() {
    let text = include_str!("../../examples/hookgate.yaml");
    let c = ok(text);
    assert_eq!(c.auth.api_keys.len(), 2);
    assert_eq!(c.endpoints.len(), 2);
    assert_eq!(c.plugins.len(), 1);
    assert_eq!(c.plugins["redact"].source, PluginSource::Builtin);
    // Every documented default in the example equals the built-in default.
    assert_eq!(c.delivery, DeliveryConfig::default());
    assert_eq!(c.network, NetworkConfig::default());
    assert_eq!(c.server, ServerConfig::default());
    assert_eq!(
        (c.listen, c.data_dir.clone()),
        (
            Config::embedded_default().listen,
            Config::embedded_default().data_dir
        )
    );
    assert_eq!(c.endpoints[0].rate, Some(Rate { per_second: 50.0 }));
    assert_eq!(c.endpoints[1].tenant, "default");
    let billing = c.delivery.policy(c.endpoints[0].delivery.as_deref());
    assert_eq!(
        (billing.attempts(), billing.timeout),
        (4, Duration::from_secs(5))
    );
    assert_eq!(billing.jitter, c.delivery.jitter, "left out, so inherited");
    assert_eq!(c.endpoints[1].delivery, None);
}

#[test]
fn load_and_check_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("hookgate.yaml");
    let yaml = "plugins:\n  p: { path: wasm/p.wasm }\nendpoints:\n  - { id: a, url: 'https://a.example/' }\n";
    std::fs::write(&path, yaml).unwrap_or_else(|e| panic!("{e}"));
    let c = load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.plugins["p"].source,
        PluginSource::File(dir.path().join("wasm/p.wasm"))
    );

    std::fs::write(
        &path,
        "listen: nowhere\nendpoints:\n  - id: a\n    url: https://a.example/\n    rate: fast\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let file = path.display();
    let want = format!(
        "{file}:1:9: listen: expected a socket address like 127.0.0.1:8080, got \"nowhere\"\n\
         {file}:5:11: endpoints[0].rate: expected N/s, N/m or N/h, got \"fast\""
    );
    assert_eq!(load(&path).map_err(|e| e.to_string()).err(), Some(want));

    let missing = dir.path().join("nope.yaml");
    assert!(matches!(load(&missing), Err(ConfigError::Io { .. })));
    let err = load(&missing).map_err(|e| e.to_string()).err();
    assert!(err.is_some_and(|e| e.starts_with(&missing.display().to_string())));
}

#[test]
fn diff_reports_added_changed_removed_and_restart() {
    let old = ok(concat!(
        "listen: 127.0.0.1:8080\n",
        "endpoints:\n",
        "  - { id: keep, url: 'https://a.example/' }\n",
        "  - { id: edit, url: 'https://b.example/' }\n",
        "  - { id: gone, url: 'https://c.example/' }\n",
    ));
    let new = ok(concat!(
        "listen: 127.0.0.1:9000\n",
        "data_dir: /srv/hg\n",
        "delivery: { jitter: 0.5 }\n",
        "server: { idle_timeout: 5m }\n",
        "endpoints:\n",
        "  - { id: fresh, url: 'https://d.example/' }\n",
        "  - { id: edit, url: 'https://b.example/', headers: { X-A: b } }\n",
        "  - { id: keep, url: 'https://a.example/' }\n",
    ));
    let d = diff(&old, &new);
    assert_eq!(d.added, ["fresh"]);
    assert_eq!(d.changed, ["edit"]);
    assert_eq!(d.removed, ["gone"]);
    assert_eq!(d.restart_required, ["listen", "data_dir", "server"]);
    assert!(!d.is_empty());
    assert!(diff(&old, &old).is_empty());
    let disabled = ok("endpoints:\n  - { id: keep, url: 'https://a.example/', enabled: false }\n");
    let enabled = ok("endpoints:\n  - { id: keep, url: 'https://a.example/' }\n");
    assert_eq!(diff(&enabled, &disabled).changed, ["keep"]);
}

#[test]
fn debug_output_hides_secrets() {
    let c = ok(FULL);
    let text = format!("{c:?}");
    assert!(!text.contains("pk-live-123"), "plaintext key leaked");
    assert!(!text.contains("whsec_billing"), "endpoint secret leaked");
    assert!(!text.contains("9f86d081"), "key hash shown");
    assert!(!text.contains("159, 134, 208"), "key hash bytes shown");
    assert!(text.contains("publisher"));
}

#[test]
fn scope_spellings_round_trip() {
    for scope in Scope::ALL {
        assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
    }
    assert_eq!(Scope::EndpointsManage.as_str(), "endpoints:manage");
    assert!("events:write".parse::<Scope>().is_err());
}

use sha2::Digest as _;

#[test]
fn storage_defaults_to_redb_and_reads_postgres() {
    assert_eq!(ok("listen: 127.0.0.1:1\n").storage, StorageConfig::Redb);
    let remote = ok(concat!(
        "storage:\n",
        "  backend: postgres\n",
        "  url: postgres://hookgate:${BILLING_SECRET}@db.internal:5432/hookgate\n",
        "  pool_size: 8\n",
        "  ca_file: ca.pem\n",
        "  lease: 10s\n",
    ));
    let StorageConfig::Postgres(pg) = &remote.storage else {
        panic!("{:?}", remote.storage);
    };
    assert_eq!(
        pg.url.expose(),
        "postgres://hookgate:whsec_billing@db.internal:5432/hookgate"
    );
    assert_eq!((pg.pool_size, pg.lease), (8, Duration::from_secs(10)));
    assert_eq!(
        pg.tls,
        PgTlsMode::VerifyFull,
        "a remote host gets checked TLS"
    );
    assert_eq!(
        pg.ca_file.as_deref(),
        Some(Path::new("/etc/hookgate/ca.pem"))
    );
    assert!(
        !format!("{remote:?}").contains("whsec_billing"),
        "the password stays out of Debug"
    );
    let local = ok("storage:\n  backend: postgres\n  url: host=/run/postgresql dbname=hg\n");
    let StorageConfig::Postgres(pg) = &local.storage else {
        panic!("{:?}", local.storage);
    };
    assert_eq!(pg.tls, PgTlsMode::Disable, "a unix socket needs no TLS");
}

#[test]
fn retention_defaults_and_overrides() {
    let d = ok("listen: 127.0.0.1:1\n");
    assert_eq!(d.retention, RetentionConfig::default());
    assert_eq!(d.min_free, Config::DEFAULT_MIN_FREE);
    let c = ok(concat!(
        "retention:\n  succeeded: 12h\n  dead: forever\n  audit: 0\n",
        "storage:\n  min_free: 1GiB\n",
        "endpoints:\n",
        "  - id: a\n    url: https://a.example/\n    retention:\n      succeeded: 90d\n",
        "  - id: b\n    url: https://b.example/\n",
    ));
    let hours = |h: u64| Keep::For(std::time::Duration::from_secs(h * 3600));
    assert_eq!(c.retention.succeeded, hours(12));
    assert_eq!(
        (c.retention.dead, c.retention.audit),
        (Keep::Forever, Keep::Forever)
    );
    assert_eq!(
        c.retention.filtered,
        hours(7 * 24),
        "unset keys keep their default"
    );
    assert_eq!(c.min_free, 1 << 30);
    let own = c.endpoints[0].retention.as_deref();
    assert_eq!(c.retention.keep(own, FinishedAs::Succeeded), hours(90 * 24));
    assert_eq!(
        c.retention.keep(own, FinishedAs::Dead),
        Keep::Forever,
        "inherited"
    );
    assert_eq!(c.endpoints[1].retention, None);
}
