//! The address rules of SPEC §7 and [`check_ip`], the single function that
//! decides whether one IP address may be connected to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::Blocked;

/// Operator-configured exceptions to the outbound rules.
///
/// Defaults are the safe ones: https only, no private ranges. It holds no
/// `Arc`s so it can be cloned into a [`super::GuardedResolver`] cheaply and
/// compared in tests.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Permit plain `http://` URLs (`network.allow_http`); off by default so
    /// payloads and signatures are not sent in clear text.
    pub allow_http: bool,
    /// CIDRs that are exempt from the blocked ranges (`network.allow_private`),
    /// e.g. an on-prem receiver in `10.20.0.0/16`. An address inside any of
    /// these passes; for IPv6 forms that embed an IPv4, the embedded IPv4 is
    /// checked against this list too.
    pub allow_private: Vec<IpNet>,
}

impl Policy {
    fn exempts(&self, ip: IpAddr) -> bool {
        self.allow_private.iter().any(|net| net.contains(&ip))
    }
}

/// One named blocked range. `rule` strings are `"<name> <cidr>"` plus an
/// optional `" (<note>)"`, e.g. `link-local 169.254.0.0/16 (cloud metadata)`.
struct Rule<N> {
    name: &'static str,
    net: N,
    note: Option<&'static str>,
    /// Spelling of `net` when std's `Display` differs from the RFC form
    /// (std prints `::ffff:0.0.0.0/96`); checked against `net` in tests.
    spelled: Option<&'static str>,
}

impl<N: std::fmt::Display> Rule<N> {
    fn cidr(&self) -> String {
        self.spelled
            .map_or_else(|| self.net.to_string(), str::to_owned)
    }

    fn describe(&self) -> String {
        match self.note {
            Some(note) => format!("{} {} ({note})", self.name, self.cidr()),
            None => format!("{} {}", self.name, self.cidr()),
        }
    }
}

const fn v4(name: &'static str, a: [u8; 4], len: u8, note: Option<&'static str>) -> Rule<Ipv4Net> {
    let net = Ipv4Net::new_assert(Ipv4Addr::new(a[0], a[1], a[2], a[3]), len);
    Rule {
        name,
        net,
        note,
        spelled: None,
    }
}

const fn v6(name: &'static str, s: [u16; 8], len: u8, note: Option<&'static str>) -> Rule<Ipv6Net> {
    let ip = Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
    Rule {
        name,
        net: Ipv6Net::new_assert(ip, len),
        note,
        spelled: None,
    }
}

const fn spelled(rule: Rule<Ipv6Net>, text: &'static str) -> Rule<Ipv6Net> {
    Rule {
        spelled: Some(text),
        ..rule
    }
}

/// Blocked IPv4 ranges, first match wins (so `broadcast` is named before the
/// `reserved` block that contains it).
const V4_RULES: &[Rule<Ipv4Net>] = &[
    v4("this-network", [0, 0, 0, 0], 8, None),
    v4("private", [10, 0, 0, 0], 8, None),
    v4(
        "shared-address-space",
        [100, 64, 0, 0],
        10,
        Some("carrier-grade NAT"),
    ),
    v4("loopback", [127, 0, 0, 0], 8, None),
    v4("link-local", [169, 254, 0, 0], 16, Some("cloud metadata")),
    v4("private", [172, 16, 0, 0], 12, None),
    v4("ietf-protocol-assignments", [192, 0, 0, 0], 24, None),
    v4("documentation", [192, 0, 2, 0], 24, Some("TEST-NET-1")),
    v4("6to4-relay-anycast", [192, 88, 99, 0], 24, None),
    v4("private", [192, 168, 0, 0], 16, None),
    v4("benchmarking", [198, 18, 0, 0], 15, None),
    v4("documentation", [198, 51, 100, 0], 24, Some("TEST-NET-2")),
    v4("documentation", [203, 0, 113, 0], 24, Some("TEST-NET-3")),
    v4("multicast", [224, 0, 0, 0], 4, None),
    v4("broadcast", [255, 255, 255, 255], 32, None),
    v4("reserved", [240, 0, 0, 0], 4, None),
];

/// IPv6 ranges blocked outright (they embed no IPv4 worth judging).
/// Checked before the embedded forms, so `::` and `::1` are not read as
/// IPv4-compatible `0.0.0.0` / `0.0.0.1`.
const V6_RULES: &[Rule<Ipv6Net>] = &[
    v6("unspecified", [0, 0, 0, 0, 0, 0, 0, 0], 128, None),
    v6("loopback", [0, 0, 0, 0, 0, 0, 0, 1], 128, None),
    v6("discard-only", [0x100, 0, 0, 0, 0, 0, 0, 0], 64, None),
    v6("documentation", [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, None),
    v6("documentation", [0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, None),
    v6("benchmarking", [0x2001, 2, 0, 0, 0, 0, 0, 0], 48, None),
    // RFC 8215 local-use NAT64: the operator picks the prefix length (/48
    // to /96), so where the IPv4 sits is unknowable; it is never global.
    v6(
        "nat64-local-use",
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        None,
    ),
    v6("unique-local", [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, None),
    v6("link-local", [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, None),
    v6(
        "site-local",
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        Some("deprecated"),
    ),
    v6("multicast", [0xff00, 0, 0, 0, 0, 0, 0, 0], 8, None),
];

/// How an IPv6 form carries an IPv4 address.
#[derive(Clone, Copy)]
enum Embedding {
    /// The last 32 bits are the IPv4 (mapped, compatible, NAT64 /96).
    Low32,
    /// Bits 16..48 are the IPv4 (6to4, RFC 3056).
    SixToFour,
    /// The last 32 bits, inverted, are the client IPv4 (Teredo, RFC 4380).
    TeredoClient,
}

impl Embedding {
    fn extract(self, ip: Ipv6Addr) -> Ipv4Addr {
        let o = ip.octets();
        match self {
            Embedding::Low32 => Ipv4Addr::new(o[12], o[13], o[14], o[15]),
            Embedding::SixToFour => Ipv4Addr::new(o[2], o[3], o[4], o[5]),
            Embedding::TeredoClient => Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]),
        }
    }
}

/// IPv6 forms judged by the IPv4 they embed. Ordered most specific first
/// (`::ffff:0:0/96` before the `::/96` that does not contain it anyway, but
/// kept explicit).
const EMBEDDED: &[(Rule<Ipv6Net>, Embedding)] = &[
    (
        spelled(
            v6("ipv4-mapped", [0, 0, 0, 0, 0, 0xffff, 0, 0], 96, None),
            "::ffff:0:0/96",
        ),
        Embedding::Low32,
    ),
    (
        v6("ipv4-compatible", [0, 0, 0, 0, 0, 0, 0, 0], 96, None),
        Embedding::Low32,
    ),
    (
        v6("nat64", [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, None),
        Embedding::Low32,
    ),
    (
        v6("6to4", [0x2002, 0, 0, 0, 0, 0, 0, 0], 16, None),
        Embedding::SixToFour,
    ),
    (
        v6("teredo", [0x2001, 0, 0, 0, 0, 0, 0, 0], 32, None),
        Embedding::TeredoClient,
    ),
];

/// Everything outside 2000::/3 is not global unicast (IANA has allocated
/// no other unicast space), so it is blocked after the named rules above.
const GLOBAL_UNICAST: Rule<Ipv6Net> =
    v6("not-global-unicast", [0x2000, 0, 0, 0, 0, 0, 0, 0], 3, None);

/// Decide whether `ip` may be connected to under `policy`.
///
/// This is the one predicate every outbound address goes through, whether it
/// came from a URL literal ([`super::check_url`]) or from DNS
/// ([`super::resolve_vetted`], [`super::GuardedResolver`]). An address passes
/// if it is inside an `allow_private` CIDR, or if no blocked range matches.
/// IPv6 forms that embed an IPv4 (mapped, compatible, NAT64, 6to4, Teredo)
/// are judged exactly as the embedded IPv4 would be, because that is where
/// the packets can end up.
pub fn check_ip(ip: IpAddr, policy: &Policy) -> Result<(), Blocked> {
    if policy.exempts(ip) {
        return Ok(());
    }
    let rule = match ip {
        IpAddr::V4(v4) => v4_rule(v4, policy).map(Rule::describe),
        IpAddr::V6(v6) => v6_rule(v6, policy),
    };
    match rule {
        None => Ok(()),
        Some(rule) => Err(Blocked::Address { addr: ip, rule }),
    }
}

/// The IPv4 rule that blocks `ip`, unless it is allow-listed.
fn v4_rule(ip: Ipv4Addr, policy: &Policy) -> Option<&'static Rule<Ipv4Net>> {
    if policy.exempts(IpAddr::V4(ip)) {
        return None;
    }
    V4_RULES.iter().find(|r| r.net.contains(&ip))
}

/// The description of the rule that blocks `ip` (not allow-listed itself).
fn v6_rule(ip: Ipv6Addr, policy: &Policy) -> Option<String> {
    if let Some(rule) = V6_RULES.iter().find(|r| r.net.contains(&ip)) {
        return Some(rule.describe());
    }
    if let Some((form, how)) = EMBEDDED.iter().find(|(r, _)| r.net.contains(&ip)) {
        let inner = how.extract(ip);
        // Blocked iff the embedded IPv4 is; otherwise allowed exactly as the
        // IPv4 would be (no fall-through to the 2000::/3 rule).
        return v4_rule(inner, policy)
            .map(|r| format!("{} embedding {inner} ({})", form.describe(), r.name));
    }
    if !GLOBAL_UNICAST.net.contains(&ip) {
        return Some(format!(
            "{} outside {}",
            GLOBAL_UNICAST.name,
            GLOBAL_UNICAST.cidr()
        ));
    }
    None
}

#[cfg(test)]
mod spelling_tests {
    use super::*;

    /// Rule text is part of the contract (logs, delivery records), so the
    /// printed CIDR must denote exactly the net that is matched.
    #[test]
    fn printed_cidrs_match_their_nets() {
        let embedded = EMBEDDED.iter().map(|(r, _)| r);
        let v6_rules = V6_RULES.iter().chain(embedded).chain([&GLOBAL_UNICAST]);
        for rule in v6_rules {
            assert_eq!(
                rule.cidr().parse::<Ipv6Net>(),
                Ok(rule.net),
                "{}",
                rule.name
            );
            assert_eq!(
                rule.net,
                rule.net.trunc(),
                "{} has host bits set",
                rule.name
            );
        }
        for rule in V4_RULES {
            assert_eq!(
                rule.cidr().parse::<Ipv4Net>(),
                Ok(rule.net),
                "{}",
                rule.name
            );
            assert_eq!(
                rule.net,
                rule.net.trunc(),
                "{} has host bits set",
                rule.name
            );
        }
    }
}
