//! Outbound-address guard (SPEC §7): the **only** place in Hookgate where the
//! destination of an outbound webhook delivery is judged.
//!
//! Users register arbitrary URLs, so every delivery is a potential SSRF: a URL
//! may name a loopback, private, link-local (cloud metadata) or otherwise
//! non-global address, either directly (an IP literal in any of the spellings
//! the `url` crate normalizes) or through DNS (including DNS rebinding, where a
//! name answers differently on each lookup). This module owns the rules and
//! the two places they are enforced:
//!
//! * [`check_url`] — a static check of scheme, userinfo and, when the host is
//!   an IP literal, the address itself. It must run before **every** request
//!   and on every redirect hop, because reqwest never calls a DNS resolver for
//!   IP-literal hosts (see [`guarded_redirects`]).
//! * [`GuardedResolver`] — a [`reqwest::dns::Resolve`] implementation that
//!   resolves a name once, vets every answer with [`check_ip`], and hands
//!   reqwest exactly the vetted addresses, so the socket is connected only to
//!   an address that was judged (no second, unvetted lookup).
//!
//! Errors are a typed [`Blocked`]; callers recover it from any error chain with
//! [`find_blocked`] instead of matching on message strings.
//!
//! Nothing here refers to code outside this module, so it can be moved as a
//! unit.

mod headers;
mod policy;
mod resolver;
mod url_check;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

pub use self::headers::{is_reserved_header, is_safe_header_value, is_token, RESERVED_HEADERS};
pub use self::policy::{check_ip, Policy};
pub use self::resolver::{
    guarded_redirects, resolve_vetted, GuardedResolver, Lookup, SystemLookup,
};
pub use self::url_check::check_url;

/// Why an outbound destination was refused.
///
/// A typed error (rather than a string) so delivery code can record a stable
/// machine code ([`Blocked::code`]) and the offending address/rule, and so it
/// survives being boxed inside reqwest/hyper errors ([`find_blocked`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    /// The URL scheme is not `https` (or `http` when `network.allow_http`).
    #[error("scheme {0} is not allowed (https only unless network.allow_http)")]
    Scheme(String),
    /// The URL has no host to connect to.
    #[error("URL has no host")]
    NoHost,
    /// The URL carries a username or password; webhook URLs must not embed
    /// credentials (they would leak into logs and `Authorization` headers).
    #[error("URL must not contain credentials")]
    Userinfo,
    /// The destination address (literal, resolved, or implied by a reserved
    /// name such as `localhost`) falls in a blocked range; `rule` names it.
    #[error("{addr} is blocked: {rule}")]
    Address {
        /// The address that was judged (for embedded forms, the IPv6 address
        /// as given, not the embedded IPv4).
        addr: IpAddr,
        /// Human-readable rule, e.g. `loopback 127.0.0.0/8`.
        rule: String,
    },
    /// The host is a well-known internal name (`*.internal`, `*.local`, `home.arpa`) that
    /// names no fixed address; `rule` says which. Refused without a lookup unless
    /// `network.allow_private` lists any network (then the per-attempt DNS vetting decides).
    #[error("{name} is blocked: {rule}")]
    Name {
        /// The host name, lower-cased, without a trailing dot.
        name: String,
        /// Human-readable rule, e.g. `internal-name *.internal (private-use TLD)`.
        rule: String,
    },
    /// DNS resolution failed.
    #[error("{host} did not resolve: {reason}")]
    Resolve {
        /// The name that was looked up.
        host: String,
        /// The resolver's error message.
        reason: String,
    },
    /// DNS resolution succeeded but returned nothing to connect to.
    #[error("{host} resolved to no addresses")]
    NoAddresses {
        /// The name that was looked up.
        host: String,
    },
}

impl Blocked {
    /// Stable machine-readable code for delivery records, metrics and API
    /// responses; unlike the `Display` text it never changes wording.
    pub fn code(&self) -> &'static str {
        match self {
            Blocked::Scheme(_)
            | Blocked::Userinfo
            | Blocked::Address { .. }
            | Blocked::Name { .. } => "ssrf_blocked",
            Blocked::NoHost => "invalid_url",
            Blocked::Resolve { .. } | Blocked::NoAddresses { .. } => "dns_failed",
        }
    }
}

/// Upper bound on how deep [`find_blocked`] walks, so a pathological
/// (cyclic) `source()` implementation cannot hang a delivery worker.
const MAX_SOURCE_DEPTH: usize = 64;

/// Walk an error's `source()` chain and return the [`Blocked`] inside, if any.
///
/// reqwest wraps resolver and redirect-policy errors in several layers
/// (`reqwest::Error` → hyper-util connect error → our boxed `Blocked`), so
/// callers use this rather than matching on `to_string()`. `std::io::Error`
/// is special-cased because its `source()` skips the error it wraps.
pub fn find_blocked<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Blocked> {
    let mut current: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    for _ in 0..MAX_SOURCE_DEPTH {
        let e = current?;
        if let Some(blocked) = e.downcast_ref::<Blocked>() {
            return Some(blocked);
        }
        // `io::Error::source()` skips the error it wraps, so look inside.
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| find_blocked(inner));
        if wrapped.is_some() {
            return wrapped;
        }
        current = e.source();
    }
    None
}
