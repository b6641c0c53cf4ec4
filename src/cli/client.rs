//! The HTTP side of the client commands: one small reqwest client for the gateway's own API.
//!
//! Why its own client: the CLI must not depend on the server's modules, and the delivery client
//! (SSRF-guarded, for receivers) is the wrong tool for talking to our own API. Errors from the
//! server are problem+json; [`Api::call`] turns them into `"{status}: {detail} ({code})"` so every
//! command reports them alike and `main` exits 1. A connection failure names the URL it tried.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::Value;
use url::Url;

use super::ApiArgs;

/// Query parameters; `None` values are left out, so optional flags map straight onto them.
pub type Query<'a> = &'a [(&'a str, Option<String>)];

/// A connection to one gateway's API with one key.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
    key: Option<String>,
}

impl Api {
    /// Checks the base URL once, up front, so a typo is reported as such and not as a
    /// confusing connection error on the first request.
    pub fn new(args: &ApiArgs) -> anyhow::Result<Self> {
        let base = Url::parse(&args.url)
            .with_context(|| format!("--url / HOOKGATE_URL {:?} is not a URL", args.url))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!(
                "--url / HOOKGATE_URL {:?} must be an http:// or https:// URL",
                args.url
            );
        }
        // no_proxy: the gateway is usually local or internal, and a proxy picked up from the
        // environment would see the Bearer key. Timeouts keep a hung gateway from hanging scripts.
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()?;
        let key = match &args.key {
            Some(k) => Some(k.clone()),
            None => bootstrap_token(&base, &args.data_dir),
        };
        Ok(Api { http, base, key })
    }

    /// The full URL for path segments under the base (each segment percent-encoded, so an id
    /// can never change the route) plus the query parameters that are set. A base with a path
    /// prefix (`https://ops.example/hookgate/`) keeps it.
    pub fn url(&self, path: &[&str], query: Query<'_>) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        let set: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect();
        if !set.is_empty() {
            url.query_pairs_mut().extend_pairs(set);
        }
        url
    }

    /// Sends one request and returns the JSON answer (a non-JSON answer becomes a string,
    /// an empty one null). A non-2xx answer is an error carrying the problem's detail and code.
    pub async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: Query<'_>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = self.url(path, query);
        let mut req = self.http.request(method, url.clone());
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            // Always application/json, PATCH included: the API checks the media type strictly.
            req = req.json(b);
        }
        let resp = req.send().await.with_context(|| {
            format!("cannot reach the gateway at {url} (is it running? set --url or HOOKGATE_URL)")
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .with_context(|| format!("reading the answer from {url}"))?;
        let v = parse_answer(&text);
        if !status.is_success() {
            bail!("{}", problem_message(status, &v));
        }
        Ok(v)
    }

    /// `GET` with query parameters.
    pub async fn get(&self, path: &[&str], query: Query<'_>) -> anyhow::Result<Value> {
        self.call(Method::GET, path, query, None).await
    }

    /// `POST` with a JSON body. Actions without fields send `{}`, which a handler that reads
    /// an optional body accepts and one that reads none ignores.
    pub async fn post(&self, path: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    /// `PATCH` with a JSON merge patch (sent as application/json, see [`Api::call`]).
    pub async fn patch(&self, path: &[&str], body: &Value) -> anyhow::Result<Value> {
        self.call(Method::PATCH, path, &[], Some(body)).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &[&str]) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, &[], None).await
    }
}

/// The one-time bootstrap token of a gateway on this host, for a client command given no key:
/// only when `base` is a loopback address (a token is never sent to another machine) and
/// `<data_dir>/bootstrap.token` exists (the gateway removes it once a key exists). Says on
/// stderr that it is used, so nobody wonders where the access came from.
fn bootstrap_token(base: &Url, data_dir: &Path) -> Option<String> {
    let loopback = match base.host()? {
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
    };
    if !loopback {
        return None;
    }
    let file = data_dir.join("bootstrap.token");
    let token = std::fs::read_to_string(&file).ok()?.trim().to_string();
    if token.is_empty() {
        return None;
    }
    eprintln!(
        "no --key or HOOKGATE_API_KEY: using the bootstrap token in {} (valid until the first key exists)",
        file.display()
    );
    Some(token)
}

fn parse_answer(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// `404 Not Found: no endpoint "x" (not_found)`. Falls back to the problem's title, or the
/// first bytes of a non-JSON answer (a proxy's HTML page), so the message is never empty.
fn problem_message(status: reqwest::StatusCode, v: &Value) -> String {
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let detail = match (text("detail"), text("title"), v) {
        (Some(d), _, _) => d.to_string(),
        (None, Some(t), _) => t.to_string(),
        (None, None, Value::String(s)) => super::table::trunc(s.trim(), 200),
        _ => String::new(),
    };
    let code = text("code").unwrap_or("error");
    format!("{status}: {detail} ({code})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(url: &str) -> Api {
        Api::new(&ApiArgs {
            url: url.into(),
            key: None,
            data_dir: "./no-such-data-dir".into(),
            json: false,
        })
        .unwrap()
    }

    #[test]
    fn url_joins_encoded_segments_and_only_set_query_params() {
        let a = api("http://127.0.0.1:8080");
        let u = a.url(
            &["v1", "endpoints", "a b/c", "deliveries"],
            &[
                ("status", None),
                ("limit", Some("5".into())),
                ("cursor", Some("x&y".into())),
            ],
        );
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:8080/v1/endpoints/a%20b%2Fc/deliveries?limit=5&cursor=x%26y"
        );
    }

    #[test]
    fn url_keeps_a_base_path_prefix() {
        let a = api("https://ops.example/hookgate/");
        assert_eq!(
            a.url(&["v1", "stats"], &[]).as_str(),
            "https://ops.example/hookgate/v1/stats"
        );
    }

    #[test]
    fn bad_base_urls_are_rejected_up_front() {
        for bad in ["localhost:8080", "ftp://x", "not a url"] {
            let err = Api::new(&ApiArgs {
                url: bad.into(),
                key: None,
                data_dir: "./no-such-data-dir".into(),
                json: false,
            })
            .unwrap_err();
            assert!(err.to_string().contains("HOOKGATE_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_bootstrap_token_is_read_for_loopback_gateways_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bootstrap.token"), "hgboot_abc\n").unwrap();
        let token = |url: &str| bootstrap_token(&Url::parse(url).unwrap(), dir.path());
        assert_eq!(
            token("http://127.0.0.1:8080").as_deref(),
            Some("hgboot_abc")
        );
        assert_eq!(token("http://[::1]:8080").as_deref(), Some("hgboot_abc"));
        assert_eq!(
            token("http://localhost:8080").as_deref(),
            Some("hgboot_abc")
        );
        assert_eq!(token("https://gw.example"), None);
        assert_eq!(token("http://10.0.0.5:8080"), None);
        let missing = tempfile::tempdir().unwrap();
        assert_eq!(
            bootstrap_token(
                &Url::parse("http://127.0.0.1:8080").unwrap(),
                missing.path()
            ),
            None
        );
    }

    #[test]
    fn problem_messages_carry_detail_and_code() {
        let s = reqwest::StatusCode::CONFLICT;
        let v = json!({"title": "Conflict", "detail": "defined in the config file", "code": "managed_by_config"});
        assert_eq!(
            problem_message(s, &v),
            "409 Conflict: defined in the config file (managed_by_config)"
        );
        let html = parse_answer("<html>bad gateway</html>");
        assert_eq!(
            problem_message(reqwest::StatusCode::BAD_GATEWAY, &html),
            "502 Bad Gateway: <html>bad gateway</html> (error)"
        );
        assert_eq!(parse_answer(""), Value::Null);
    }
}
