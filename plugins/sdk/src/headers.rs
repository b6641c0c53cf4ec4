//! Case-insensitive helpers for header lists (HTTP header names are case-insensitive, and the
//! host keeps the list as plugins leave it).

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
}
