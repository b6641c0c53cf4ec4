//! Table-driven corpus: every blocked range (one address inside each, v4
//! and v6), neighbours and public addresses that must pass, every IP-literal
//! spelling the `url` crate normalizes, reserved names, scheme and userinfo.

use std::net::IpAddr;

use url::Url;

use super::*;

/// `check_ip` under the default policy.
const IP_CASES: &[(&str, Expect)] = &[
    // IPv4 blocked ranges, one address inside each.
    ("0.0.0.1", Expect::Rule("this-network 0.0.0.0/8")),
    ("10.1.2.3", Expect::Rule(PRIVATE10)),
    (
        "100.64.0.1",
        Expect::Rule("shared-address-space 100.64.0.0/10 (carrier-grade NAT)"),
    ),
    ("127.0.0.1", Expect::Rule(LOOPBACK)),
    ("127.255.255.254", Expect::Rule(LOOPBACK)),
    ("169.254.169.254", Expect::Rule(METADATA)),
    ("172.16.5.4", Expect::Rule("private 172.16.0.0/12")),
    ("172.31.255.255", Expect::Rule("private 172.16.0.0/12")),
    (
        "192.0.0.8",
        Expect::Rule("ietf-protocol-assignments 192.0.0.0/24"),
    ),
    (
        "192.0.2.1",
        Expect::Rule("documentation 192.0.2.0/24 (TEST-NET-1)"),
    ),
    (
        "192.88.99.1",
        Expect::Rule("6to4-relay-anycast 192.88.99.0/24"),
    ),
    ("192.168.1.1", Expect::Rule("private 192.168.0.0/16")),
    ("198.19.0.1", Expect::Rule("benchmarking 198.18.0.0/15")),
    (
        "198.51.100.7",
        Expect::Rule("documentation 198.51.100.0/24 (TEST-NET-2)"),
    ),
    (
        "203.0.113.9",
        Expect::Rule("documentation 203.0.113.0/24 (TEST-NET-3)"),
    ),
    ("239.255.255.250", Expect::Rule("multicast 224.0.0.0/4")),
    ("240.0.0.1", Expect::Rule("reserved 240.0.0.0/4")),
    (
        "255.255.255.255",
        Expect::Rule("broadcast 255.255.255.255/32"),
    ),
    // IPv4 neighbours of blocked ranges (no false positives).
    ("172.32.0.1", Expect::Pass),
    ("100.128.0.1", Expect::Pass),
    ("198.20.0.1", Expect::Pass),
    ("11.0.0.1", Expect::Pass),
    ("223.255.255.254", Expect::Pass),
    // Public addresses.
    ("93.184.216.34", Expect::Pass),
    ("1.1.1.1", Expect::Pass),
    ("8.8.8.8", Expect::Pass),
    ("2606:4700:4700::1111", Expect::Pass),
    ("2a00:1450:4001:81c::200e", Expect::Pass),
    // IPv6 blocked ranges.
    ("::", Expect::Rule("unspecified ::/128")),
    ("::1", Expect::Rule("loopback ::1/128")),
    ("100::1", Expect::Rule("discard-only 100::/64")),
    ("2001:db8::1", Expect::Rule("documentation 2001:db8::/32")),
    ("3fff::1", Expect::Rule("documentation 3fff::/20")),
    ("2001:2::1", Expect::Rule("benchmarking 2001:2::/48")),
    ("fc00::1", Expect::Rule("unique-local fc00::/7")),
    ("fd12:3456::1", Expect::Rule("unique-local fc00::/7")),
    ("fe80::1", Expect::Rule("link-local fe80::/10")),
    ("fec0::1", Expect::Rule("site-local fec0::/10 (deprecated)")),
    ("ff02::1", Expect::Rule("multicast ff00::/8")),
    (
        "64:ff9b:1::a00:1",
        Expect::Rule("nat64-local-use 64:ff9b:1::/48"),
    ),
    (
        "4000::1",
        Expect::Rule("not-global-unicast outside 2000::/3"),
    ),
    (
        "::ffff:0:7f00:1",
        Expect::Rule("not-global-unicast outside 2000::/3"),
    ),
    // Embedded IPv4 forms, judged by the IPv4 inside.
    ("::ffff:127.0.0.1", Expect::Rule(MAPPED_LO)),
    (
        "::ffff:169.254.169.254",
        Expect::Rule("ipv4-mapped ::ffff:0:0/96 embedding 169.254.169.254 (link-local)"),
    ),
    (
        "::127.0.0.1",
        Expect::Rule("ipv4-compatible ::/96 embedding 127.0.0.1 (loopback)"),
    ),
    (
        "::10.0.0.1",
        Expect::Rule("ipv4-compatible ::/96 embedding 10.0.0.1 (private)"),
    ),
    (
        "64:ff9b::a9fe:a9fe",
        Expect::Rule("nat64 64:ff9b::/96 embedding 169.254.169.254 (link-local)"),
    ),
    (
        "64:ff9b::7f00:1",
        Expect::Rule("nat64 64:ff9b::/96 embedding 127.0.0.1 (loopback)"),
    ),
    (
        "2002:7f00:1::",
        Expect::Rule("6to4 2002::/16 embedding 127.0.0.1 (loopback)"),
    ),
    (
        "2002:c0a8:101::1",
        Expect::Rule("6to4 2002::/16 embedding 192.168.1.1 (private)"),
    ),
    // Teredo: client 10.0.0.1 is stored inverted as f5ff:fffe.
    (
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",
        Expect::Rule("teredo 2001::/32 embedding 10.0.0.1 (private)"),
    ),
    (
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        Expect::Rule("teredo 2001::/32 embedding 127.0.0.1 (loopback)"),
    ),
    // Embedded forms of public IPv4s pass (allowed as the IPv4 would be).
    ("::ffff:8.8.8.8", Expect::Pass),
    ("64:ff9b::808:808", Expect::Pass),
    ("2002:5db8:d822::1", Expect::Pass),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Expect::Pass),
];

#[derive(Debug, Clone, Copy)]
enum P {
    /// `Policy::default()`: https only.
    Https,
    /// `allow_http: true`.
    Http,
}

fn policy(p: P) -> Policy {
    Policy {
        allow_http: matches!(p, P::Http),
        ..Policy::default()
    }
}

fn err(b: Blocked) -> Expect {
    Expect::Err(b)
}

/// `check_url` cases: literal spellings, names, scheme and userinfo.
fn url_cases() -> Vec<(&'static str, P, Expect)> {
    let lo_name = |h: &str| format!("localhost-name {h} (RFC 6761): {LOOPBACK}");
    vec![
        (
            "http://localhost/",
            P::Http,
            Expect::Rule(leak(lo_name("localhost"))),
        ),
        (
            "https://foo.localhost/",
            P::Https,
            Expect::Rule(leak(lo_name("foo.localhost"))),
        ),
        (
            "https://A.B.LOCALHOST./",
            P::Https,
            Expect::Rule(leak(lo_name("a.b.localhost"))),
        ),
        ("http://0/", P::Http, Expect::Rule("this-network 0.0.0.0/8")),
        ("http://2130706433/", P::Http, Expect::Rule(LOOPBACK)),
        ("http://0177.0.0.1/", P::Http, Expect::Rule(LOOPBACK)),
        ("http://0x7f.0.0.1/", P::Http, Expect::Rule(LOOPBACK)),
        ("http://0x7f.1/", P::Http, Expect::Rule(LOOPBACK)),
        ("http://127.1/", P::Http, Expect::Rule(LOOPBACK)),
        ("http://127.0.0.1./", P::Http, Expect::Rule(LOOPBACK)),
        ("http://%31%32%37.0.0.1/", P::Http, Expect::Rule(LOOPBACK)),
        (
            "http://\u{ff11}\u{ff12}\u{ff17}.0.0.1/",
            P::Http,
            Expect::Rule(LOOPBACK),
        ),
        (
            "http://2852039166/latest/meta-data/",
            P::Http,
            Expect::Rule(METADATA),
        ),
        (
            "http://0xa9.0xfe.0xa9.0xfe/",
            P::Http,
            Expect::Rule(METADATA),
        ),
        ("https://10.0.0.1:8443/", P::Https, Expect::Rule(PRIVATE10)),
        (
            "http://[::1]:8080/",
            P::Http,
            Expect::Rule("loopback ::1/128"),
        ),
        (
            "http://[::ffff:127.0.0.1]/",
            P::Http,
            Expect::Rule(MAPPED_LO),
        ),
        ("http://[::ffff:7f00:1]/", P::Http, Expect::Rule(MAPPED_LO)),
        (
            "http://[64:ff9b::a9fe:a9fe]/",
            P::Http,
            Expect::Rule("nat64 64:ff9b::/96 embedding 169.254.169.254 (link-local)"),
        ),
        (
            "http://[2002:7f00:1::]/",
            P::Http,
            Expect::Rule("6to4 2002::/16 embedding 127.0.0.1 (loopback)"),
        ),
        (
            "https://[2001:0:4136:e378:8000:63bf:3f57:fefe]/",
            P::Https,
            Expect::Rule("teredo 2001::/32 embedding 192.168.1.1 (private)"),
        ),
        (
            "https://[fe80::1]/",
            P::Https,
            Expect::Rule("link-local fe80::/10"),
        ),
        (
            "https://public@127.0.0.1/",
            P::Https,
            err(Blocked::Userinfo),
        ),
        (
            "https://user:pw@example.com/",
            P::Https,
            err(Blocked::Userinfo),
        ),
        ("https://:pw@example.com/", P::Https, err(Blocked::Userinfo)),
        (
            "http://example.com/",
            P::Https,
            err(Blocked::Scheme("http".into())),
        ),
        (
            "ftp://example.com/",
            P::Http,
            err(Blocked::Scheme("ftp".into())),
        ),
        (
            "file:///etc/passwd",
            P::Http,
            err(Blocked::Scheme("file".into())),
        ),
        (
            "gopher://127.0.0.1:6379/_INFO",
            P::Http,
            err(Blocked::Scheme("gopher".into())),
        ),
        // Well-known internal names, refused before any lookup.
        (
            "http://localhost.localdomain/",
            P::Http,
            Expect::Rule(leak(format!(
                "localhost-name localhost.localdomain: {LOOPBACK}"
            ))),
        ),
        (
            "http://metadata.google.internal/computeMetadata/v1/",
            P::Http,
            Expect::Rule(leak(format!(
                "metadata-name metadata.google.internal (cloud metadata): {METADATA}"
            ))),
        ),
        (
            "http://metadata/",
            P::Http,
            Expect::Rule(leak(format!(
                "metadata-name metadata (cloud metadata): {METADATA}"
            ))),
        ),
        (
            "http://instance-data/latest/",
            P::Http,
            Expect::Rule(leak(format!(
                "metadata-name instance-data (cloud metadata): {METADATA}"
            ))),
        ),
        (
            "https://Billing.Corp.Internal./",
            P::Https,
            Expect::Rule(INTERNAL),
        ),
        ("https://internal/", P::Https, Expect::Rule(INTERNAL)),
        (
            "https://printer.local/",
            P::Https,
            Expect::Rule("internal-name *.local (multicast DNS, RFC 6762)"),
        ),
        (
            "https://nas.home.arpa/",
            P::Https,
            Expect::Rule("internal-name home.arpa (home networks, RFC 8375)"),
        ),
        (
            "https://home.arpa/",
            P::Https,
            Expect::Rule("internal-name home.arpa (home networks, RFC 8375)"),
        ),
        // Look-alikes of internal names are ordinary public names.
        ("https://internal.example.com/", P::Https, Expect::Pass),
        ("https://metadata.example.com/", P::Https, Expect::Pass),
        ("https://mylocal/", P::Https, Expect::Pass),
        ("https://notinternal/", P::Https, Expect::Pass),
        ("https://example.com/hook", P::Https, Expect::Pass),
        ("http://example.com/hook", P::Http, Expect::Pass),
        ("https://localhost.example.com/", P::Https, Expect::Pass),
        ("https://93.184.216.34:8443/x", P::Https, Expect::Pass),
        ("https://[2606:4700:4700::1111]/", P::Https, Expect::Pass),
        ("https://[2002:5db8:d822::1]/", P::Https, Expect::Pass),
    ]
}

const INTERNAL: &str = "internal-name *.internal (private-use TLD)";

/// `allow_private` semantics for names: metadata and localhost names open only with the
/// address they denote; internal suffixes open with any allowed network (the attempt-time DNS
/// vetting then admits only answers inside it).
#[test]
fn allow_private_opens_internal_names_by_what_they_denote() {
    let with = |cidrs: &[&str]| Policy {
        allow_http: true,
        allow_private: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
    };
    let check = |raw: &str, p: &Policy| check_url(&Url::parse(raw).unwrap(), p);
    let lan = with(&["10.0.0.0/8"]);
    assert_eq!(check("https://billing.corp.internal/", &lan), Ok(()));
    assert_eq!(check("https://printer.local/", &lan), Ok(()));
    assert!(check("http://metadata.google.internal/", &lan).is_err());
    assert!(check("http://localhost.localdomain/", &lan).is_err());
    let meta = with(&["169.254.169.254/32"]);
    assert_eq!(check("http://metadata.google.internal/", &meta), Ok(()));
    let lo = with(&["127.0.0.0/8"]);
    assert_eq!(check("http://localhost.localdomain/", &lo), Ok(()));
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

#[test]
fn corpus() {
    let mut failures = Vec::new();
    for (ip, expect) in IP_CASES {
        let addr: IpAddr = ip.parse().unwrap();
        if let Err(e) = judge(check_ip(addr, &Policy::default()), expect) {
            failures.push(format!("check_ip({ip}): {e}"));
        }
    }
    let urls = url_cases();
    for (raw, p, expect) in &urls {
        let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw} must parse: {e}"));
        let got = check_url(&url, &policy(*p));
        if let Err(b) = &got {
            assert_eq!(b.code(), "ssrf_blocked", "{raw}");
        }
        if let Err(e) = judge(got, expect) {
            failures.push(format!("check_url({raw}) [{p:?}]: {e}"));
        }
    }
    let total = IP_CASES.len() + urls.len();
    eprintln!(
        "guard corpus: {} check_ip + {} check_url = {total} cases",
        IP_CASES.len(),
        urls.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 40);
}
