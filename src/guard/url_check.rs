//! Static (DNS-free) URL checks: scheme, credentials, IP-literal hosts and
//! reserved names.

use std::net::{IpAddr, Ipv4Addr};

use url::{Host, Url};

use super::{check_ip, Blocked, Policy};

/// Statically vet a delivery URL: scheme (`https`, or `http` only with
/// `allow_http`), no userinfo, a host, and — when the host is an IP literal —
/// the address itself via [`check_ip`]. Reserved names are judged before any
/// lookup (see [`check_host_name`]): `localhost`, `*.localhost` (RFC 6761) and
/// `localhost.localdomain` as loopback, cloud metadata names as
/// `169.254.169.254`, and `*.internal`, `*.local`, `home.arpa` as internal.
///
/// **Run this before every request and every redirect hop.** reqwest (via
/// hyper-util) never calls the DNS resolver for IP-literal hosts, so
/// [`super::GuardedResolver`] alone does not see `http://127.0.0.1/`.
///
/// IP literals are caught in every spelling because the `url` crate
/// normalizes http(s) hosts per WHATWG before we see them: decimal
/// (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`), short (`127.1`),
/// `0`, percent-encoded and full-width digits all become a
/// [`Host::Ipv4`], and bracketed IPv6 becomes a [`Host::Ipv6`]. IPv6 zone ids
/// (`[fe80::1%25eth0]`) are rejected by `Url::parse` itself, so such a URL can
/// never be constructed, stored or requested; link-local `fe80::/10` is
/// blocked here regardless.
///
/// Returns `()` on success; the host is available from [`Url::host_str`].
pub fn check_url(url: &Url, policy: &Policy) -> Result<(), Blocked> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        other => return Err(Blocked::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Blocked::Userinfo);
    }
    let verdict = match url.host() {
        None => Err(Blocked::NoHost),
        Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), policy),
        Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), policy),
        Some(Host::Domain(name)) => check_host_name(name, policy),
    };
    if let Err(blocked) = &verdict {
        tracing::debug!(url = %url, code = blocked.code(), reason = %blocked, "delivery URL refused");
    }
    verdict
}

/// Cloud metadata services' host names (GCP, Azure/OpenStack short name, AWS), judged as the
/// metadata address they resolve to inside those clouds.
const METADATA_NAMES: [&str; 4] = [
    "metadata.google.internal",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Suffixes of names that only mean something inside a private network: the ICANN private-use
/// TLD `.internal` (2024), mDNS `.local` (RFC 6762), and `home.arpa` (RFC 8375).
const INTERNAL_SUFFIXES: [(&str, &str); 3] = [
    ("internal", "internal-name *.internal (private-use TLD)"),
    ("local", "internal-name *.local (multicast DNS, RFC 6762)"),
    (
        "home.arpa",
        "internal-name home.arpa (home networks, RFC 8375)",
    ),
];

/// Judge a host *name* before any lookup: empty names have no host, IP
/// literals (possible when called from the resolver path with a raw string)
/// go through [`check_ip`], RFC 6761 `localhost` names (and the common
/// `localhost.localdomain`) are judged as `127.0.0.1` because resolvers answer
/// them with loopback, and cloud metadata names as `169.254.169.254`; so each
/// passes only where `allow_private` opens that address.
///
/// Internal suffixes ([`INTERNAL_SUFFIXES`]) name no fixed address: they are
/// refused while `allow_private` is empty (the default, where no answer could
/// pass the DNS vetting anyway, so refusing at registration only reports it
/// early). An operator who allows any private network may register them; the
/// per-attempt vetting then admits only answers inside the listed networks.
pub(super) fn check_host_name(name: &str, policy: &Policy) -> Result<(), Blocked> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(Blocked::NoHost);
    }
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(trimmed);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return check_ip(ip, policy);
    }
    let lower = trimmed.to_ascii_lowercase();
    let implied = |ip: Ipv4Addr, what: String| {
        check_ip(IpAddr::V4(ip), policy).map_err(|blocked| match blocked {
            Blocked::Address { addr, rule } => Blocked::Address {
                addr,
                rule: format!("{what}: {rule}"),
            },
            other => other,
        })
    };
    if lower == "localhost" || lower.ends_with(".localhost") {
        return implied(
            Ipv4Addr::LOCALHOST,
            format!("localhost-name {lower} (RFC 6761)"),
        );
    }
    if lower == "localhost.localdomain" {
        return implied(Ipv4Addr::LOCALHOST, format!("localhost-name {lower}"));
    }
    if METADATA_NAMES.contains(&lower.as_str()) {
        return implied(
            Ipv4Addr::new(169, 254, 169, 254),
            format!("metadata-name {lower} (cloud metadata)"),
        );
    }
    let internal = INTERNAL_SUFFIXES.iter().find(|(suffix, _)| {
        lower == *suffix
            || lower
                .strip_suffix(suffix)
                .is_some_and(|head| head.ends_with('.'))
    });
    if let Some((_, rule)) = internal {
        if policy.allow_private.is_empty() {
            return Err(Blocked::Name {
                name: lower,
                rule: (*rule).to_string(),
            });
        }
    }
    Ok(())
}
