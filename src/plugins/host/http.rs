//! `hookgate:plugin/http`: outbound requests to allow-listed origins only.
//!
//! The request URL's origin (scheme, host, port, compared exactly after normalisation) must be
//! in the plugin's `allow.http` list, or the call fails with `http: origin … not in allow list`
//! without the fetcher being called. Allowed requests go to the injected `HttpFetcher`, which in
//! the gateway applies the SSRF guard (private addresses stay blocked even for allowed names).
//! The host bounds every request by the call's remaining deadline and `MAX_HTTP_TIMEOUT`.

use std::time::{Duration, Instant};

use super::super::bindings::hookgate::plugin::http::{Host, Method, Request, Response};
use super::super::bindings::Header;
use super::HostState;

/// Upper bound on one outbound request, whatever the plugin's deadline.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body handed to a guest.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// HTTP method a plugin may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// GET
    Get,
    /// POST
    Post,
}

/// An allowed outbound request, as the fetcher receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: HttpMethod,
    /// Absolute `http`/`https` URL whose origin is allow-listed.
    pub url: String,
    /// Headers (names are tokens, values free of CR/LF/NUL).
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
    /// Time left for this request; the host also stops waiting after it.
    pub timeout: Duration,
}

/// What the fetcher got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body (the host refuses bodies over `MAX_RESPONSE_BYTES`).
    pub body: Vec<u8>,
}

/// Performs outbound requests for plugins; the gateway's implementation uses its guarded client.
#[async_trait::async_trait]
pub trait HttpFetcher: Send + Sync {
    /// Sends `request`; `Err` is a message for the guest.
    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, String>;
}

/// `scheme://host:port`, the unit of the allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in super::super) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    /// Origin of an absolute http(s) URL without credentials.
    fn of(url: &url::Url) -> Result<Origin, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not http or https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URL must not contain credentials".into());
        }
        let host = url.host_str().ok_or("URL has no host")?;
        let port = url.port_or_known_default().ok_or("URL has no port")?;
        Ok(Origin {
            scheme: url.scheme().to_string(),
            host: host.to_string(),
            port,
        })
    }

    /// Parses an `allow.http` entry; it must be a bare origin (no path, query or fragment).
    pub(in super::super) fn parse_allow_entry(entry: &str) -> Result<Origin, String> {
        let url = url::Url::parse(entry).map_err(|e| format!("allow.http entry {entry:?}: {e}"))?;
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "allow.http entry {entry:?} must be an origin like https://api.example.com"
            ));
        }
        Origin::of(&url).map_err(|e| format!("allow.http entry {entry:?}: {e}"))
    }
}

fn pairs(headers: Vec<Header>) -> Vec<(String, String)> {
    headers.into_iter().map(|h| (h.name, h.value)).collect()
}

impl HostState {
    /// Grant, origin and header checks; returns the request for the fetcher.
    fn http_prepare(&self, req: Request) -> Result<HttpRequest, String> {
        super::count(&self.policy.calls.http);
        if self.policy.http_origins.is_empty() {
            return Err("http: not granted to this plugin (allow: { http: [...] })".into());
        }
        let url = url::Url::parse(&req.url).map_err(|e| format!("http: bad URL: {e}"))?;
        let origin = Origin::of(&url).map_err(|e| format!("http: {e}"))?;
        if !self.policy.http_origins.contains(&origin) {
            return Err(format!("http: origin {origin} not in allow list"));
        }
        for h in &req.headers {
            let token = !h.name.is_empty()
                && h.name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !token || h.value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(format!("http: invalid request header {:?}", h.name));
            }
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err("http: call deadline reached".into());
        }
        Ok(HttpRequest {
            method: match req.method {
                Method::Get => HttpMethod::Get,
                Method::Post => HttpMethod::Post,
            },
            url: url.to_string(),
            headers: pairs(req.headers),
            body: req.body,
            timeout: remaining.min(MAX_HTTP_TIMEOUT),
        })
    }
}

impl Host for HostState {
    async fn send(&mut self, req: Request) -> Result<Response, String> {
        let request = self.http_prepare(req)?;
        let timeout = request.timeout;
        let fetcher = std::sync::Arc::clone(&self.services.http);
        let resp = tokio::time::timeout(timeout, fetcher.fetch(request))
            .await
            .map_err(|_| format!("http: timed out after {} ms", timeout.as_millis()))??;
        if resp.body.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "http: response body of {} bytes exceeds {MAX_RESPONSE_BYTES}",
                resp.body.len()
            ));
        }
        Ok(Response {
            status: resp.status,
            headers: resp
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
            body: resp.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn allow_entries_normalise_and_reject_paths() {
        let a = Origin::parse_allow_entry("https://API.example.com").unwrap();
        assert_eq!(a.to_string(), "https://api.example.com:443");
        let b = Origin::parse_allow_entry("https://api.example.com:443/").unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            Origin::parse_allow_entry("http://api.example.com").unwrap()
        );
        assert_ne!(
            a,
            Origin::parse_allow_entry("https://api.example.com:8443").unwrap()
        );
        for bad in [
            "https://x.com/path",
            "ftp://x.com",
            "https://u:p@x.com",
            "x.com",
            "https://x.com?q",
        ] {
            assert!(Origin::parse_allow_entry(bad).is_err(), "{bad}");
        }
    }
}
