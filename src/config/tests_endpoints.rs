//! Table tests for invalid endpoints: ids, tenants, URLs, event patterns,
//! headers, signature, plugin references, rate and limits. Each case lists
//! the exact line, column and path of every expected diagnostic.

use super::tests_invalid::check;

const EP: &str = "endpoints:\n  - id: a\n    url: https://a.example/\n";

#[test]
fn endpoint_ids_tenants_urls() {
    check(
        "bad id",
        "endpoints:\n  - id: \"bad id\"\n    url: https://a.example/\n",
        &[(2, 9, "endpoints[0].id", "invalid id \"bad id\"")],
    );
    check(
        "duplicate id",
        "endpoints:\n  - id: a\n    url: https://a.example/\n  - id: a\n    url: https://b.example/\n",
        &[(4, 9, "endpoints[1].id", "duplicate endpoint id `a` (first at line 2)")],
    );
    check(
        "bad tenant",
        "endpoints:\n  - id: a\n    tenant: acme corp\n    url: https://a.example/\n",
        &[(3, 13, "endpoints[0].tenant", "invalid id")],
    );
    check(
        "ftp url",
        "endpoints:\n  - id: a\n    url: ftp://a.example/\n",
        &[(3, 10, "endpoints[0].url", "must be https or http")],
    );
    check(
        "http url",
        "endpoints:\n  - id: a\n    url: http://a.example/\n",
        &[(
            3,
            10,
            "endpoints[0].url",
            "http:// needs network.allow_http: true",
        )],
    );
    check(
        "no host",
        "endpoints:\n  - id: a\n    url: 'https://'\n",
        &[(3, 10, "endpoints[0].url", "invalid URL")],
    );
    check(
        "missing url",
        "endpoints:\n  - id: a\n",
        &[(2, 5, "endpoints[0].url", "missing required key `url`")],
    );
    check(
        "empty url",
        "endpoints:\n  - id: a\n    url: ${NO_URL:-}\n",
        &[(3, 10, "endpoints[0].url", "`url` must not be empty")],
    );
    check(
        "not a list",
        "endpoints: {a: 1}\n",
        &[(1, 12, "endpoints", "expected a list")],
    );
}

#[test]
fn event_patterns() {
    let yaml = format!("{EP}    events: [ok.*, \"a*b\", \"*.x\", \"\", a.b]\n");
    check(
        "patterns",
        &yaml,
        &[
            (
                4,
                20,
                "endpoints[0].events[1]",
                "invalid event pattern \"a*b\"",
            ),
            (
                4,
                27,
                "endpoints[0].events[2]",
                "invalid event pattern \"*.x\"",
            ),
            (
                4,
                34,
                "endpoints[0].events[3]",
                "invalid event pattern \"\"",
            ),
        ],
    );
}

#[test]
fn headers() {
    let yaml = format!(
        "{EP}    signature: {{ scheme: github }}\n    headers:\n{}",
        concat!(
            "      X Y: 1\n",
            "      Host: h\n",
            "      Proxy-Authorization: p\n",
            "      Webhook-Id: w\n",
            "      X-Hub-Signature-256: s\n",
            "      X-Ok: \"a\\r\\nb\"\n",
            "      X-T: \"{{event.body}}\"\n",
            "      X-Team: a\n",
            "      x-team: b\n",
            "      Content-Type: text/plain\n",
        )
    );
    check(
        "headers",
        &yaml,
        &[
            (6, 7, "endpoints[0].headers.X Y", "must be an HTTP token"),
            (7, 7, "endpoints[0].headers.Host", "reserved"),
            (8, 7, "endpoints[0].headers.Proxy-Authorization", "reserved"),
            (9, 7, "endpoints[0].headers.Webhook-Id", "reserved"),
            (
                10,
                7,
                "endpoints[0].headers.X-Hub-Signature-256",
                "signature header",
            ),
            (
                11,
                13,
                "endpoints[0].headers.X-Ok",
                "must not contain CR, LF",
            ),
            (
                12,
                12,
                "endpoints[0].headers.X-T",
                "unknown template variable `event.body`",
            ),
            (14, 7, "endpoints[0].headers.x-team", "set twice"),
            (15, 7, "endpoints[0].headers.Content-Type", "reserved"),
        ],
    );
    let yaml = format!(
        "{EP}    signature: {{ scheme: standard, header: X-Sig }}\n    headers: {{ x-sig: v }}\n"
    );
    check(
        "configured sig header",
        &yaml,
        &[(5, 16, "endpoints[0].headers.x-sig", "signature header")],
    );
    let yaml = format!("{EP}    signature: {{ scheme: standard, header: \"X Sig\" }}\n");
    check(
        "bad sig header",
        &yaml,
        &[(4, 44, "endpoints[0].signature.header", "HTTP token")],
    );
    let yaml = format!("{EP}    signature: {{ scheme: rot13 }}\n");
    check(
        "bad scheme",
        &yaml,
        &[(
            4,
            26,
            "endpoints[0].signature.scheme",
            "unknown variant `rot13`",
        )],
    );
}

#[test]
fn plugin_refs_and_definitions() {
    let yaml = concat!(
        "plugins:\n",
        "  redact: { path: r.wasm }\n",
        "  \"bad name\": { path: x.wasm }\n",
        "  p2:\n",
        "    memory: 32MB\n",
        "    timeout: 0s\n",
        "    reuse: 0\n",
        "endpoints:\n",
        "  - id: a\n",
        "    url: https://a.example/\n",
        "    plugins:\n",
        "      - use: redcat\n",
        "      - { use: redact, on_error: explode }\n",
        "      - config: {}\n",
        "      - use: p2\n",
    );
    check(
        "plugins",
        yaml,
        &[
            (3, 3, "plugins.bad name", "plugin name: invalid id"),
            (5, 5, "plugins.p2.path", "missing required key `path`"),
            (5, 13, "plugins.p2.memory", "expected a size"),
            (6, 14, "plugins.p2.timeout", "must be greater than 0"),
            (7, 12, "plugins.p2.reuse", "must be at least 1"),
            (
                12,
                14,
                "endpoints[0].plugins[0].use",
                "unknown plugin `redcat`",
            ),
            (
                13,
                34,
                "endpoints[0].plugins[1].on_error",
                "expected retry, skip or drop",
            ),
            (
                14,
                9,
                "endpoints[0].plugins[2].use",
                "missing required key `use`",
            ),
        ],
    );
}

#[test]
fn endpoint_urls_pass_the_static_ssrf_check_at_load() {
    let net = "network:\n  allow_http: true\n";
    let cases = [
        (
            "loopback literal",
            "http://127.0.0.1:9/x",
            "loopback 127.0.0.0/8",
        ),
        (
            "decimal loopback",
            "http://2130706433/",
            "loopback 127.0.0.0/8",
        ),
        (
            "metadata",
            "http://169.254.169.254/latest/",
            "169.254.0.0/16",
        ),
        ("private", "https://10.1.2.3/", "10.0.0.0/8"),
        ("mapped v6", "https://[::ffff:127.0.0.1]/", "127.0.0.1"),
        ("localhost name", "https://localhost/", "localhost"),
        ("userinfo", "https://public@example.com/", "credentials"),
    ];
    for (name, url, rule) in cases {
        let yaml = format!("{net}endpoints:\n  - id: a\n    url: \"{url}\"\n");
        check(name, &yaml, &[(5, 10, "endpoints[0].url", rule)]);
        check(
            name,
            &yaml,
            &[(5, 10, "endpoints[0].url", "[ssrf_blocked]")],
        );
    }
    let long = format!("https://a.example/{}", "x".repeat(2048));
    check(
        "too long",
        &format!("endpoints:\n  - id: a\n    url: \"{long}\"\n"),
        &[(3, 10, "endpoints[0].url", "at most 2048")],
    );
}

#[test]
fn allow_private_opens_exactly_its_networks() {
    let ok = |yaml: &str| {
        super::parse(yaml, "t.yaml", std::path::Path::new("."), &|_| None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let net = "network:\n  allow_http: true\n  allow_private: [127.0.0.0/8]\n";
    assert_eq!(
        ok(&format!(
            "{net}endpoints:\n  - id: a\n    url: http://127.0.0.1:9/x\n"
        )),
        Ok(())
    );
    let err = ok(&format!(
        "{net}endpoints:\n  - id: a\n    url: http://10.0.0.1/x\n"
    ))
    .unwrap_err();
    assert!(err.contains("10.0.0.0/8"), "{err}");
}
