//! DNS side of the guard: one lookup per connection, every answer vetted, and
//! only vetted addresses handed to reqwest.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::url_check::check_host_name;
use super::{check_ip, check_url, Blocked, Policy};

/// Resolver seam: turns a host name into socket addresses.
///
/// Exists so tests can inject answers — including answers that change
/// between lookups, which is exactly what a DNS-rebinding attacker does —
/// and so production can swap in another resolver without touching the
/// policy code.
pub trait Lookup: Send + Sync + 'static {
    /// Resolve `host` (a name, not a URL) to addresses carrying `port`.
    fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + '_>>;
}

/// The operating system's resolver (`getaddrinfo` via
/// [`tokio::net::lookup_host`]); the production [`Lookup`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: &str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + '_>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), port)).await?;
            Ok(addrs.collect())
        })
    }
}

/// Resolve `host` **once**, vet **every** answer with [`check_ip`], and return
/// the vetted addresses.
///
/// Rejecting the whole answer when any single address is blocked (rather
/// than filtering) is deliberate: a name that mixes public and private
/// answers is either misconfigured or an attack, and filtering would let the
/// attacker keep probing. The caller must connect only to the returned
/// addresses; resolving again would reopen the rebinding window.
/// Reserved names (`localhost`, `*.localhost`) are refused before any lookup.
pub async fn resolve_vetted(
    lookup: &dyn Lookup,
    host: &str,
    port: u16,
    policy: &Policy,
) -> Result<Vec<SocketAddr>, Blocked> {
    check_host_name(host, policy)?;
    let addrs = lookup.lookup(host, port).await.map_err(|e| {
        tracing::warn!(host, error = %e, "outbound DNS lookup failed");
        Blocked::Resolve {
            host: host.to_owned(),
            reason: e.to_string(),
        }
    })?;
    if addrs.is_empty() {
        return Err(Blocked::NoAddresses {
            host: host.to_owned(),
        });
    }
    for addr in &addrs {
        if let Err(blocked) = check_ip(addr.ip(), policy) {
            tracing::warn!(host, addr = %addr.ip(), reason = %blocked, "outbound address blocked");
            return Err(blocked);
        }
    }
    tracing::debug!(host, count = addrs.len(), "outbound addresses vetted");
    Ok(addrs)
}

/// A [`reqwest::dns::Resolve`] that applies the [`Policy`] to every answer,
/// so reqwest connects only to addresses this module vetted — with no second
/// lookup between vetting and connecting (defeats DNS rebinding).
///
/// Install with `ClientBuilder::dns_resolver(Arc::new(GuardedResolver::new(..)))`.
/// It is **not sufficient on its own**:
///
/// * reqwest does not call any resolver for IP-literal hosts, so
///   [`check_url`] must run before every request, and on every redirect hop
///   (use [`guarded_redirects`] or disable redirects);
/// * with a proxy configured (including the `HTTP(S)_PROXY` environment
///   variables reqwest reads by default), the resolver sees only the proxy's
///   name and the proxy resolves the target — build the client with
///   `.no_proxy()`.
///
/// A refusal surfaces as a `reqwest::Error` whose source chain contains the
/// [`Blocked`] (boxed as the resolver's error); recover it with
/// [`super::find_blocked`].
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    policy: Arc<Policy>,
}

impl GuardedResolver {
    /// Wrap `lookup` (normally [`SystemLookup`]) with `policy`. The policy is
    /// fixed for the resolver's (and so the client's) lifetime; rebuild the
    /// client when the configuration changes.
    pub fn new(lookup: Arc<dyn Lookup>, policy: Policy) -> Self {
        Self {
            lookup,
            policy: Arc::new(policy),
        }
    }
}

impl std::fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = Arc::clone(&self.lookup);
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest substitutes the URL's port (or the scheme default).
            match resolve_vetted(lookup.as_ref(), &host, 0, &policy).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                Err(blocked) => Err(Box::new(blocked) as Box<dyn std::error::Error + Send + Sync>),
            }
        })
    }
}

/// A reqwest redirect policy that runs [`check_url`] on every hop and stops
/// after `max_hops` redirects.
///
/// Needed because a public receiver can answer `302 Location:
/// http://169.254.169.254/`, and reqwest follows redirects internally without
/// consulting the resolver for IP literals. A refused hop fails the request
/// with the [`Blocked`] in its source chain (see [`super::find_blocked`]).
pub fn guarded_redirects(policy: Policy, max_hops: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_hops {
            return attempt.error("too many redirects");
        }
        match check_url(attempt.url(), &policy) {
            Ok(()) => attempt.follow(),
            Err(blocked) => attempt.error(blocked),
        }
    })
}
