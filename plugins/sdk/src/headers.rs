//! Case-insensitive helpers for header lists (HTTP header names are case-insensitive, and the
//! host keeps the list as plugins leave it), and the host's rules for what a plugin may send
//! ([`check_name`], [`check_value`]), so configured headers are checked at load.

use crate::Header;

impl Header {
    /// A header from a name and a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The value of the first header named `name`.
pub fn get<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// Sets `name` to `value`, replacing every existing header of that name, so a plugin never
/// sends two conflicting values.
pub fn set(headers: &mut Vec<Header>, name: &str, value: impl Into<String>) {
    remove(headers, name);
    headers.push(Header::new(name, value));
}

/// Removes every header named `name`.
pub fn remove(headers: &mut Vec<Header>, name: &str) {
    headers.retain(|h| !h.name.eq_ignore_ascii_case(name));
}

/// Headers the gateway owns, lower-case, as the host refuses them in plugin output (hop-by-hop,
/// framing and routing headers, and the Standard Webhooks signature headers); every `Proxy-*`
/// name is refused too. Kept equal to the gateway's list, so a plugin can refuse a configured
/// name at load instead of failing each delivery.
pub const RESERVED: [&str; 11] = [
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

/// Whether the host accepts `name` in a plugin's output: an RFC 9110 token that is not
/// [`RESERVED`] or `Proxy-*`. The error is the host's wording. An endpoint may also configure
/// its own signature header name, which the plugin cannot see; the host refuses that one too.
pub fn check_name(name: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("name {name:?} is not an HTTP token"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Err(format!("{name} is reserved and cannot be set by plugins"));
    }
    Ok(())
}

/// Whether the host accepts `value`: no CR, LF, NUL or other control character (tab is
/// allowed), so no header can be split or injected.
pub fn check_value(value: &str) -> Result<(), String> {
    if value
        .chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}')
    {
        return Err("value contains CR, LF, NUL or another control character".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_case_insensitively() {
        let mut h = vec![Header::new("Content-Type", "a"), Header::new("X-A", "1")];
        set(&mut h, "content-type", "b");
        assert_eq!(get(&h, "CONTENT-TYPE"), Some("b"));
        assert_eq!(h.len(), 2);
        remove(&mut h, "x-a");
        assert_eq!(h, vec![Header::new("content-type", "b")]);
    }

    #[test]
    fn names_the_host_refuses_are_refused() {
        assert_eq!(check_name("X-Team"), Ok(()));
        assert_eq!(
            check_name("bad name"),
            Err(r#"name "bad name" is not an HTTP token"#.to_owned())
        );
        assert!(check_name("").is_err());
        for reserved in [
            "Host",
            "CONTENT-LENGTH",
            "webhook-signature",
            "Proxy-Authorization",
        ] {
            let e = check_name(reserved).unwrap_err();
            assert_eq!(
                e,
                format!("{reserved} is reserved and cannot be set by plugins")
            );
        }
    }

    #[test]
    fn values_with_control_characters_are_refused() {
        assert_eq!(check_value("gold\tplus"), Ok(()));
        for bad in ["a\r\nb", "a\nb", "a\0b", "a\u{7f}"] {
            assert!(check_value(bad).is_err(), "{bad:?}");
        }
    }
}
