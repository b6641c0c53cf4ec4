//! The only place Hookgate makes outbound HTTP requests.
//!
//! One pooled `reqwest::Client` for every endpoint: keep-alive connections are reused across
//! deliveries, redirects are never followed (a 3xx is a failed attempt, so a receiver cannot
//! bounce us to an internal address), proxy environment variables are ignored, and the SSRF
//! guard judges every URL before each request and every address the resolver returns, so the
//! connection goes only to vetted addresses.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::retry::parse_retry_after;
use crate::config::NetworkConfig;
use crate::guard::{self, GuardedResolver, Policy, SystemLookup};

/// What came back from one request. Failures are values: they are recorded, not propagated.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// HTTP status, if the receiver answered.
    pub status: Option<u16>,
    /// Time from send to end of the (bounded) body read.
    pub latency: Duration,
    /// First bytes of the body (at most the limit asked for).
    pub body: Vec<u8>,
    /// Parsed `Retry-After`, if present and valid.
    pub retry_after: Option<Duration>,
    /// Why no usable answer came (timeout, refused, reset, blocked address…).
    pub error: Option<String>,
    /// Response headers (plugins' `http` import returns them to the guest).
    pub headers: Vec<(String, String)>,
}

/// Methods outbound requests use: webhooks POST, plugins GET or POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET (no body).
    Get,
    /// POST.
    Post,
}

/// The outbound HTTP client with the SSRF guard built in.
pub struct Client {
    http: reqwest::Client,
    policy: Policy,
}

/// Building the client failed (TLS backend could not initialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot build HTTP client: {0}")]
pub struct ClientError(String);

fn policy_of(n: &NetworkConfig) -> Policy {
    Policy {
        allow_http: n.allow_http,
        allow_private: n.allow_private.clone(),
    }
}

impl Client {
    /// A client applying `network`'s policy. A reload that changes `network` builds a new one
    /// (and so a new connection pool): rare, and it keeps the policy immutable per client.
    pub fn new(network: &NetworkConfig) -> Result<Self, ClientError> {
        let policy = policy_of(network);
        let resolver = GuardedResolver::new(Arc::new(SystemLookup), policy.clone());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(256)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(Self { http, policy })
    }

    /// POSTs `body` with `headers`, bounded by `timeout` overall and `body_limit` bytes read.
    pub async fn post(
        &self,
        url: &url::Url,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
        body_limit: usize,
    ) -> Response {
        self.send(Method::Post, url, headers, Some(body), timeout, body_limit)
            .await
    }

    /// Sends one request through the guard, bounded by `timeout` overall and `body_limit`
    /// bytes read.
    pub async fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(String, String)],
        body: Option<Bytes>,
        timeout: Duration,
        body_limit: usize,
    ) -> Response {
        let started = Instant::now();
        // reqwest skips the resolver for IP-literal hosts, so the URL itself is judged here,
        // before every request (not only at registration).
        if let Err(b) = guard::check_url(url, &self.policy) {
            return Response {
                error: Some(b.to_string()),
                ..Response::default()
            };
        }
        let map = match header_map(headers) {
            Ok(m) => m,
            Err(e) => {
                return Response {
                    error: Some(e),
                    ..Response::default()
                }
            }
        };
        let mut req = match method {
            Method::Get => self.http.get(url.clone()),
            Method::Post => self.http.post(url.clone()),
        }
        .headers(map);
        if let Some(b) = body {
            req = req.body(b);
        }
        let res = tokio::time::timeout(timeout, async {
            let mut resp = req.send().await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let mut buf = Vec::new();
            while buf.len() < body_limit {
                match resp.chunk().await? {
                    Some(c) => buf.extend_from_slice(&c),
                    None => break,
                }
            }
            buf.truncate(body_limit);
            Ok::<_, reqwest::Error>((status, retry_after, headers, buf))
        })
        .await;
        let latency = started.elapsed();
        match res {
            Ok(Ok((status, retry_after, headers, buf))) => Response {
                status: Some(status),
                latency,
                body: buf,
                retry_after,
                error: None,
                headers,
            },
            Ok(Err(e)) => Response {
                latency,
                error: Some(describe(&e)),
                ..Response::default()
            },
            Err(_) => Response {
                latency,
                error: Some(format!("timed out after {} ms", timeout.as_millis())),
                ..Response::default()
            },
        }
    }
}

fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("invalid header name {k:?}"))?;
        let value =
            HeaderValue::from_str(v).map_err(|_| format!("invalid value for header {k}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// A one-line reason naming the cause (a blocked address is reported as the guard said it).
fn describe(e: &reqwest::Error) -> String {
    if let Some(b) = guard::find_blocked(e) {
        return b.to_string();
    }
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "request error"
    };
    let mut msg = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}
