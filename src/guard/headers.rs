//! Which headers may be set on an outbound request by anyone but the gateway itself: endpoint
//! config, plugin output, and (later) the management API all apply these rules, so one header
//! that is refused in one place is refused everywhere.

/// Hop-by-hop, framing and routing headers (the HTTP client owns them) and the Standard
/// Webhooks signature headers (added per attempt; nobody may forge or clobber them).
pub const RESERVED_HEADERS: [&str; 11] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// RFC 9110 `token`: what a header name must be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `name` (any case) is one of [`RESERVED_HEADERS`] or a `Proxy-*` header.
pub fn is_reserved_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-")
}

/// Whether a header value is safe to send: no CR, LF, NUL or other control characters (tab is
/// allowed), so no header can be injected or split.
pub fn is_safe_header_value(value: &str) -> bool {
    !value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_safety_rules() {
        assert!(is_token("X-Team") && is_token("a!#$%&'*+-.^_`|~z"));
        assert!(!is_token("") && !is_token("bad name") && !is_token("a:b"));
        for r in [
            "Host",
            "content-length",
            "Proxy-Authorization",
            "WEBHOOK-SIGNATURE",
            "TE",
        ] {
            assert!(is_reserved_header(r), "{r}");
        }
        assert!(!is_reserved_header("x-team") && !is_reserved_header("content-type"));
        assert!(is_safe_header_value("v w\tx"));
        for bad in ["a\r\nb", "a\nb", "a\0b", "a\u{7f}"] {
            assert!(!is_safe_header_value(bad), "{bad:?}");
        }
    }
}
