//! Table tests for invalid configs (sections other than endpoints; see
//! `tests_endpoints.rs`): each case lists the exact line, column and path of
//! every expected diagnostic plus a fragment of its message.

use std::path::Path;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "HOST" => Some("hooks.example.com".into()),
        "RATE" => Some("fast".into()),
        "LONG" => Some("a-much-longer-value-than-the-placeholder".into()),
        _ => None,
    }
}

pub(super) fn diags(yaml: &str) -> Vec<Diagnostic> {
    match parse(yaml, "hookgate.yaml", Path::new("/etc/hookgate"), &env) {
        Err(ConfigError::Invalid { diagnostics }) => diagnostics,
        Err(e) => panic!("expected diagnostics, got {e}"),
        Ok(c) => panic!("expected diagnostics, got a valid config: {c:?}"),
    }
}

/// (line, column, path, message fragment)
pub(super) type Want = (usize, usize, &'static str, &'static str);

pub(super) fn check(name: &str, yaml: &str, want: &[Want]) {
    let got = diags(yaml);
    let shown: Vec<String> = got.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        got.len(),
        want.len(),
        "{name}: wrong number of diagnostics:\n{}",
        shown.join("\n")
    );
    for (d, (line, column, path, fragment)) in got.iter().zip(want) {
        let ok = d.line == *line
            && d.column == *column
            && d.path == *path
            && d.message.contains(fragment);
        assert!(
            ok,
            "{name}: expected {line}:{column}: {path}: ..{fragment}.., got\n{}",
            shown.join("\n")
        );
        assert_eq!(d.file, "hookgate.yaml");
    }
}

#[test]
fn rates_limits_and_enums() {
    let yaml = concat!(
        "endpoints:\n",
        "  - id: a\n",
        "    url: https://a.example/\n",
        "    rate: fast\n",
        "    max_in_flight: 0\n",
        "    ordering: random\n",
        "    enabled: yes\n",
        "  - id: b\n",
        "    url: https://b.example/\n",
        "    rate: 0/s\n",
    );
    check(
        "endpoint values",
        yaml,
        &[
            (
                4,
                11,
                "endpoints[0].rate",
                "expected N/s, N/m or N/h, got \"fast\"",
            ),
            (5, 20, "endpoints[0].max_in_flight", "must be at least 1"),
            (6, 15, "endpoints[0].ordering", "expected none or fifo"),
            (
                7,
                14,
                "endpoints[0].enabled",
                "expected true or false, got \"yes\"",
            ),
            (10, 11, "endpoints[1].rate", "rate must be greater than 0"),
        ],
    );
    let yaml = concat!(
        "delivery:\n",
        "  timeout: 10\n",
        "  retry_schedule: []\n",
        "  jitter: 1.5\n",
        "  max_in_flight: 0\n",
        "  auto_disable_after: -1\n",
        "  retry_after_cap: forever\n",
        "  response_body_limit: lots\n",
        "network:\n",
        "  allow_http: maybe\n",
        "  allow_private: [10.0.0.0/33]\n",
        "listen: localhost:8080\n",
    );
    check(
        "delivery and network",
        yaml,
        &[
            (2, 12, "delivery.timeout", "expected a duration like 500ms"),
            (3, 19, "delivery.retry_schedule", "at least one delay"),
            (4, 11, "delivery.jitter", "between 0 and 1"),
            (5, 18, "delivery.max_in_flight", "at least 1"),
            (
                6,
                23,
                "delivery.auto_disable_after",
                "non-negative whole number",
            ),
            (7, 20, "delivery.retry_after_cap", "expected a duration"),
            (8, 24, "delivery.response_body_limit", "expected a size"),
            (10, 15, "network.allow_http", "expected true or false"),
            (11, 19, "network.allow_private[0]", "expected a CIDR"),
            (12, 9, "listen", "expected a socket address"),
        ],
    );
    check(
        "bad schedule item",
        "delivery:\n  retry_schedule: [5s, 5x]\n",
        &[(2, 24, "delivery.retry_schedule[1]", "expected a duration")],
    );
}

#[test]
fn api_keys() {
    let yaml = concat!(
        "auth:\n",
        "  api_keys:\n",
        "    - name: a\n",
        "      key: k1\n",
        "      key_sha256: abcd\n",
        "      scopes: [admin]\n",
        "    - name: b\n",
        "      scopes: [admin]\n",
        "    - name: c\n",
        "      key_sha256: xyz\n",
        "      scopes: []\n",
        "    - name: d\n",
        "      key: k4\n",
        "      scopes: [events:publish, events:write]\n",
        "    - name: e\n",
        "      key: k5\n",
        "      scopes: [admin]\n",
        "      tenant: a/b\n",
        "    - name: f\n",
        "      key: k6\n",
        "      scopes: [admin]\n",
        "    - name: f\n",
        "      key: k7\n",
        "      scopes: [admin]\n",
        "    - name: g\n",
        "      key: k6\n",
        "      scopes: admin\n",
    );
    check(
        "api keys",
        yaml,
        &[
            (
                5,
                19,
                "auth.api_keys[0].key_sha256",
                "set only one of `key` or `key_sha256`",
            ),
            (
                7,
                7,
                "auth.api_keys[1].key",
                "missing `key` or `key_sha256`",
            ),
            (10, 19, "auth.api_keys[2].key_sha256", "64 hex characters"),
            (11, 15, "auth.api_keys[2].scopes", "at least one scope"),
            (
                14,
                32,
                "auth.api_keys[3].scopes[1]",
                "unknown scope \"events:write\"",
            ),
            (18, 15, "auth.api_keys[4].tenant", "invalid id"),
            (
                22,
                13,
                "auth.api_keys[6].name",
                "duplicate api key name `f` (first at line 19)",
            ),
            (27, 15, "auth.api_keys[7].scopes", "expected a list"),
        ],
    );
    let yaml = "auth:\n  api_keys:\n    - { name: f, key: k6, scopes: [admin] }\n    - { name: g, key: k6, scopes: [admin] }\n";
    check(
        "same key twice",
        yaml,
        &[(4, 23, "auth.api_keys[1].key", "same key as api key `f`")],
    );
}

#[test]
fn server_limits() {
    let yaml = concat!(
        "server:\n",
        "  header_read_timeout: 0s\n",
        "  idle_timeout: soon\n",
        "  max_connections: 0\n",
        "  max_conns: 5\n",
    );
    check(
        "server section",
        yaml,
        &[
            (
                2,
                24,
                "server.header_read_timeout",
                "must be greater than 0",
            ),
            (3, 17, "server.idle_timeout", "expected a duration like 500ms"),
            (4, 20, "server.max_connections", "must be at least 1"),
            (
                5,
                3,
                "server.max_conns",
                "unknown key `max_conns` (expected one of: header_read_timeout, idle_timeout, max_connections)",
            ),
        ],
    );
    check(
        "server is a mapping",
        "server: fast\n",
        &[(1, 9, "server", "expected a mapping")],
    );
}

#[test]
fn unknown_keys_top_level_and_nested() {
    let yaml = concat!(
        "listen: 127.0.0.1:8080\n",
        "bogus: 1\n",
        "delivery:\n",
        "  timeout: 5s\n",
        "  retries: 3\n",
        "plugins:\n",
        "  p:\n",
        "    path: p.wasm\n",
        "    allow: { kv: true, net: true }\n",
        "endpoints:\n",
        "  - id: a\n",
        "    url: https://a.example/\n",
        "    secrt: x\n",
        "    signature: { scheme: standard, algo: sha1 }\n",
    );
    check(
        "unknown keys",
        yaml,
        &[
            (
                2,
                1,
                "bogus",
                "unknown key `bogus` (expected one of: listen, data_dir,",
            ),
            (5, 3, "delivery.retries", "unknown key `retries`"),
            (
                9,
                24,
                "plugins.p.allow.net",
                "unknown key `net` (expected one of: kv, http)",
            ),
            (13, 5, "endpoints[0].secrt", "unknown key `secrt`"),
            (
                14,
                36,
                "endpoints[0].signature.algo",
                "unknown field `algo`",
            ),
        ],
    );
}

#[test]
fn interpolation_errors_keep_positions() {
    let yaml = concat!(
        "listen: ${LISTEN}\n",
        "endpoints:\n",
        "  - id: ${LONG}\n",
        "    url: https://${HOST}/x\n",
        "    secret: ${NOPE_SECRET}\n",
        "    rate: ${RATE}\n",
        "    tenant: ${BAD\n",
        "    headers: { X-A: \"${1X}\" }\n",
        "    max_in_flight: ${UNSET:-0}\n",
    );
    check(
        "interpolation",
        yaml,
        &[
            (1, 9, "listen", "environment variable `LISTEN` is not set"),
            (
                5,
                13,
                "endpoints[0].secret",
                "environment variable `NOPE_SECRET` is not set",
            ),
            (
                6,
                11,
                "endpoints[0].rate",
                "expected N/s, N/m or N/h, got \"fast\"",
            ),
            (7, 13, "endpoints[0].tenant", "unterminated `${`"),
            (
                8,
                21,
                "endpoints[0].headers.X-A",
                "invalid environment variable name",
            ),
            (9, 20, "endpoints[0].max_in_flight", "must be at least 1"),
        ],
    );
}

#[test]
fn several_errors_are_reported_at_once_in_order() {
    let yaml = "endpoints:\n  - id: a\n    url: http://a.example/\n    rate: fast\nlisten: nope\nbogus: 1\n";
    let got = diags(yaml);
    let text = ConfigError::Invalid { diagnostics: got }.to_string();
    let want = [
        "hookgate.yaml:3:10: endpoints[0].url: http:// needs network.allow_http: true",
        "hookgate.yaml:4:11: endpoints[0].rate: expected N/s, N/m or N/h, got \"fast\"",
        "hookgate.yaml:5:9: listen: expected a socket address like 127.0.0.1:8080, got \"nope\"",
        "hookgate.yaml:6:1: bogus: unknown key `bogus` (expected one of: listen, data_dir, storage, server, auth, delivery, retention, network, plugins, endpoints)",
    ];
    assert_eq!(text, want.join("\n"));
}

#[test]
fn yaml_syntax_and_shape_errors() {
    let got = diags("listen: [1\nbogus: 2\n");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].line, got[0].path.as_str()), (2, ""));
    assert!(
        got[0].message.starts_with("YAML syntax error"),
        "{}",
        got[0]
    );
    assert!(!got[0].to_string().contains(": :"), "{}", got[0]);
    check(
        "root is a list",
        "- a\n- b\n",
        &[(1, 1, "", "expected a mapping")],
    );
    check(
        "section is a list",
        "delivery: [1]\n",
        &[(1, 11, "delivery", "expected a mapping")],
    );
    check(
        "dup key",
        "listen: 1.2.3.4:1\nlisten: 1.2.3.4:2\n",
        &[(2, 1, "listen", "duplicate key `listen`")],
    );
    check(
        "list for scalar",
        "listen: [a]\n",
        &[(1, 9, "listen", "expected a single value")],
    );
}

#[test]
fn storage_settings() {
    check(
        "postgres without its url",
        "storage:\n  backend: postgres\n  pool_size: 0\n",
        &[
            (2, 3, "storage.url", "missing required key `url`"),
            (3, 14, "storage.pool_size", "must be at least 1"),
        ],
    );
    check(
        "unknown backend",
        "storage:\n  backend: mysql\n",
        &[(2, 12, "storage.backend", "expected redb or postgres")],
    );
    check(
        "postgres values",
        concat!(
            "storage:\n",
            "  backend: postgres\n",
            "  url: mysql://db/x\n",
            "  tls: prefer\n",
            "  lease: 100ms\n",
        ),
        &[
            (3, 8, "storage.url", "expected a postgres:// URL"),
            (4, 8, "storage.tls", "expected disable or verify-full"),
            (5, 10, "storage.lease", "at least 1s"),
        ],
    );
    check(
        "postgres keys with redb",
        "storage:\n  backend: redb\n  url: postgres://db/x\n",
        &[(3, 3, "storage.url", "only used with `backend: postgres`")],
    );
}

#[test]
fn retention_settings() {
    let keep = "expected a duration like 12h, 7d or 30d, or forever";
    check(
        "global rules",
        "retention:\n  succeeded: week\n  audit: -1d\n  pending: 1d\nstorage:\n  min_free: lots\n",
        &[
            (2, 14, "retention.succeeded", keep),
            (3, 10, "retention.audit", keep),
            (4, 3, "retention.pending", "unknown key `pending`"),
            (6, 13, "storage.min_free", "expected a size"),
        ],
    );
    check(
        "an endpoint's own",
        concat!(
            "endpoints:\n",
            "  - id: a\n",
            "    url: https://a.example/\n",
            "    retention:\n",
            "      dead: 3x\n",
            "      audit: 1d\n",
        ),
        &[
            (5, 13, "endpoints[0].retention.dead", keep),
            (
                6,
                7,
                "endpoints[0].retention.audit",
                "cannot be set per endpoint",
            ),
        ],
    );
}
