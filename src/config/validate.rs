//! Validation rules that look at more than one scalar's syntax: endpoint URLs
//! against the network policy, header names against the reserved list and the
//! endpoint's signature headers, header values, ids.
//!
//! Owns: the reserved-header list. Each rule returns `Err(message)` and the
//! caller attaches the position. Imports nothing from
//! api/store/dispatch/delivery/plugins; it reads `crate::signing` types only.

use crate::signing::SignatureSpec;

use super::pattern::is_valid_id;

/// Headers reserved for endpoints on top of `guard::RESERVED_HEADERS`: the gateway sets this
/// itself (a plugin may still set `content-type`, e.g. for CloudEvents). `User-Agent` is not
/// reserved: an endpoint's own replaces the default `Hookgate/<version>` (issue 12).
const ENDPOINT_RESERVED: [&str; 1] = ["content-type"];

/// An id of an endpoint/tenant/plugin/key (see [`is_valid_id`]).
pub(crate) fn check_id(s: &str) -> Result<String, String> {
    if is_valid_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid id {s:?}: use 1-128 characters from A-Z a-z 0-9 _ . : -"
        ))
    }
}

/// Parses an endpoint URL: http(s) with a host; http only when allowed.
/// Longest endpoint URL accepted: beyond this, receivers and proxies start truncating.
pub(crate) const MAX_URL_LEN: usize = 2048;

pub(crate) fn check_url(s: &str, allow_http: bool) -> Result<url::Url, String> {
    if s.len() > MAX_URL_LEN {
        return Err(format!("URL is {} bytes; at most {MAX_URL_LEN}", s.len()));
    }
    let url = url::Url::parse(s.trim()).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("http:// needs network.allow_http: true".to_string()),
        other => return Err(format!("URL scheme must be https or http, got {other:?}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("URL {s:?} has no host"));
    }
    Ok(url)
}

/// The signature header names of an endpoint, lower-cased: the configured
/// `signature.header`, or the scheme's default header (as the signing module defines it).
pub(crate) fn signature_headers(spec: &SignatureSpec) -> Vec<String> {
    vec![spec.signature_header()]
}

/// A header name must be an HTTP token and not reserved.
pub(crate) fn check_header_name(name: &str, signature_headers: &[String]) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!(
            "invalid header name {name:?}: must be an HTTP token"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if crate::guard::is_reserved_header(&lower) || ENDPOINT_RESERVED.contains(&lower.as_str()) {
        return Err(format!(
            "header `{name}` is reserved and cannot be set per endpoint"
        ));
    }
    if signature_headers.contains(&lower) {
        return Err(format!(
            "header `{name}` is this endpoint's signature header and cannot be set"
        ));
    }
    Ok(())
}

/// A header value may not contain CR, LF or other control characters (tab is fine).
pub(crate) fn check_header_value(value: &str) -> Result<(), String> {
    if !crate::guard::is_safe_header_value(value) {
        return Err("header value must not contain CR, LF or other control characters".to_string());
    }
    Ok(())
}

/// RFC 9110 `token`: what a header name (or signature header override) must be.
pub(crate) use crate::guard::is_token;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Scheme;

    #[test]
    fn urls() {
        assert!(check_url("https://a.example/x", false).is_ok());
        assert_eq!(
            check_url("http://a.example/x", false).err().as_deref(),
            Some("http:// needs network.allow_http: true")
        );
        assert!(check_url("http://a.example/x", true).is_ok());
        assert!(check_url("ftp://a.example/x", true).is_err());
        assert!(check_url("not a url", true).is_err());
        assert!(check_url("unix:/run/sock", true).is_err());
    }

    #[test]
    fn header_names() {
        let sig = signature_headers(&SignatureSpec::default());
        assert!(check_header_name("X-Team", &sig).is_ok());
        assert!(check_header_name("User-Agent", &sig).is_ok());
        for bad in [
            "Host",
            "content-length",
            "Proxy-Authorization",
            "TE",
            "Webhook-Id",
            "X Y",
            "",
            "X:Y",
        ] {
            assert!(check_header_name(bad, &sig).is_err(), "{bad:?}");
        }
        let github = SignatureSpec {
            scheme: Scheme::Github,
            ..SignatureSpec::default()
        };
        assert!(check_header_name("X-Hub-Signature-256", &signature_headers(&github)).is_err());
        let custom = SignatureSpec {
            header: Some("X-Sig".into()),
            ..SignatureSpec::default()
        };
        assert!(check_header_name("x-sig", &signature_headers(&custom)).is_err());
        assert!(check_header_value("a\tb").is_ok());
        assert!(check_header_value("a\r\nb").is_err());
        assert!(check_header_value("a\nb").is_err());
    }
}
