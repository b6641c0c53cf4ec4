//! Static (DNS-free) URL checks: scheme, credentials, IP-literal hosts and
//! reserved names.

use std::net::{IpAddr, Ipv4Addr};

use url::{Host, Url};

use super::{check_ip, Blocked, Policy};

/// Statically vet a delivery URL: scheme (`https`, or `http` only with
/// `allow_http`), no userinfo, a host, and — when the host is an IP literal —
/// the address itself via [`check_ip`]. Reserved names (`localhost`,
/// `*.localhost`, RFC 6761) are judged as the loopback address they denote.
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

/// Judge a host *name* before any lookup: empty names have no host, IP
/// literals (possible when called from the resolver path with a raw string)
/// go through [`check_ip`], and RFC 6761 `localhost` names are judged as
/// `127.0.0.1` because resolvers must answer them with loopback.
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
    if lower == "localhost" || lower.ends_with(".localhost") {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        return check_ip(loopback, policy).map_err(|blocked| match blocked {
            Blocked::Address { addr, rule } => Blocked::Address {
                addr,
                rule: format!("localhost-name {lower} (RFC 6761): {rule}"),
            },
            other => other,
        });
    }
    Ok(())
}
