//! JSON Pointer (RFC 6901) editing and `{{/pointer}}` templates.
//!
//! `serde_json` can read at a pointer (`Value::pointer`) but not insert or remove, and nearly
//! every reshaping plugin needs both, so they live here once, tested once.

use serde_json::{Map, Value};

/// Checks that `pointer` is a JSON Pointer: empty (the whole document) or starting with `/`,
/// with `~` only in the escapes `~0` and `~1`.
pub fn validate_pointer(pointer: &str) -> Result<(), String> {
    tokens(pointer).map(|_| ())
}

/// The unescaped reference tokens of `pointer`.
pub fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("JSON pointer {pointer:?} must start with '/'"));
    };
    rest.split('/').map(|t| unescape(t, pointer)).collect()
}

fn unescape(token: &str, pointer: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => {
                return Err(format!(
                    "JSON pointer {pointer:?} has a '~' not followed by 0 or 1"
                ))
            }
        }
    }
    Ok(out)
}

/// Escapes one key so it can be appended to a pointer (`a/b` → `a~1b`).
pub fn escape_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Sets the value at `pointer`, creating missing parent objects, so `/data/customer` works
/// even when the body has no `data` yet. In arrays, an index replaces and `-` (or the
/// length) appends. Setting the empty pointer replaces the whole document.
pub fn set(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    let tokens = tokens(pointer)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    let mut cur = doc;
    for (depth, token) in parents.iter().enumerate() {
        cur = match cur {
            Value::Object(map) => map
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => {
                let len = items.len();
                index(token, len)
                    .filter(|i| *i < len)
                    .and_then(|i| items.get_mut(i))
                    .ok_or_else(|| not_found(pointer, &tokens[..=depth]))?
            }
            _ => return Err(not_container(pointer, &tokens[..depth])),
        };
    }
    match cur {
        Value::Object(map) => {
            map.insert(last.clone(), value);
        }
        Value::Array(items) => match index(last, items.len()) {
            Some(i) if i < items.len() => items[i] = value,
            Some(_) => items.push(value),
            None => return Err(not_found(pointer, &tokens)),
        },
        _ => return Err(not_container(pointer, parents)),
    }
    Ok(())
}

/// An array index token: digits without a leading zero, or `-` (one past the end).
fn index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    let canonical = token == "0" || !token.starts_with('0');
    let i = token.parse::<usize>().ok().filter(|_| canonical)?;
    (i <= len).then_some(i)
}

fn path_of(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", escape_token(t)))
        .collect()
}

fn not_found(pointer: &str, at: &[String]) -> String {
    format!("cannot set {pointer}: no array element {}", path_of(at))
}

fn not_container(pointer: &str, at: &[String]) -> String {
    let at = path_of(at);
    let at = if at.is_empty() {
        "the document"
    } else {
        at.as_str()
    };
    format!("cannot set {pointer}: {at} is not an object or array")
}

/// Removes and returns the value at `pointer`; `None` if there is none (not an error, so
/// redaction of optional fields needs no pre-check). The empty pointer removes nothing.
pub fn remove(doc: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, last) = pointer.rsplit_once('/')?;
    let last = unescape(last, pointer).ok()?;
    match doc.pointer_mut(parent)? {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => {
            let i = index(&last, items.len()).filter(|i| *i < items.len())?;
            Some(items.remove(i))
        }
        _ => None,
    }
}

/// Text for a value inside a message: strings as they are (no quotes), anything else as JSON.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Renders `template`, replacing each `{{/pointer}}` (spaces inside the braces allowed) with
/// `lookup(pointer)`, or nothing when it returns `None`. Text that is not a placeholder,
/// including an unterminated `{{`, is copied as is.
pub fn render(template: &str, mut lookup: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = rest[start + 2..start + 2 + len].trim();
        if inner.is_empty() || inner.starts_with('/') {
            out.push_str(&lookup(inner).unwrap_or_default());
        } else {
            // Not a pointer (e.g. Slack's own braces): keep it verbatim.
            out.push_str(&rest[start..start + 4 + len]);
        }
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out
}

/// The pointers a template refers to, to validate them up front.
pub fn placeholders(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    render(template, |p| {
        found.push(p.to_owned());
        None
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_unescape_and_validate() {
        assert_eq!(tokens("/a~1b/c~0d").unwrap(), ["a/b", "c~d"]);
        assert!(tokens("").unwrap().is_empty());
        assert!(validate_pointer("a/b").is_err());
        assert!(validate_pointer("/a~2").is_err());
        assert_eq!(escape_token("a/b~"), "a~1b~0");
    }

    #[test]
    fn set_creates_parents_and_handles_arrays() {
        let mut v = json!({"data": {"items": [1, 2]}});
        set(&mut v, "/data/customer/tier", json!("gold")).unwrap();
        set(&mut v, "/data/items/0", json!(9)).unwrap();
        set(&mut v, "/data/items/-", json!(3)).unwrap();
        set(&mut v, "/data/items/3", json!(4)).unwrap();
        assert_eq!(
            v,
            json!({"data": {"customer": {"tier": "gold"}, "items": [9, 2, 3, 4]}})
        );
        assert!(set(&mut v, "/data/items/9", json!(0)).is_err());
        assert!(set(&mut v, "/data/items/01", json!(0)).is_err());
        let e = set(&mut v, "/data/customer/tier/x", json!(0)).unwrap_err();
        assert_eq!(
            e,
            "cannot set /data/customer/tier/x: /data/customer/tier is not an object or array"
        );
        set(&mut v, "", json!(1)).unwrap();
        assert_eq!(v, json!(1));
    }

    #[test]
    fn remove_ignores_missing() {
        let mut v = json!({"a": {"b/c": 1, "d": [1, 2, 3]}});
        assert_eq!(remove(&mut v, "/a/b~1c"), Some(json!(1)));
        assert_eq!(remove(&mut v, "/a/d/1"), Some(json!(2)));
        assert_eq!(remove(&mut v, "/a/d/7"), None);
        assert_eq!(remove(&mut v, "/x/y"), None);
        assert_eq!(remove(&mut v, ""), None);
        assert_eq!(v, json!({"a": {"d": [1, 3]}}));
    }

    #[test]
    fn render_substitutes_pointers() {
        let doc = json!({"data": {"invoice": "in_1", "amount": 12.5, "tags": ["a"]}});
        let get = |p: &str| doc.pointer(p).map(to_text);
        assert_eq!(
            render(
                "Invoice {{/data/invoice}} paid: {{ /data/amount }} {{/data/tags}}",
                get
            ),
            r#"Invoice in_1 paid: 12.5 ["a"]"#
        );
        assert_eq!(render("missing [{{/nope}}]", get), "missing []");
        assert_eq!(
            render("keep {{name}} and {{/data/invoice", get),
            "keep {{name}} and {{/data/invoice"
        );
        assert_eq!(placeholders("{{/a}} {{b}} {{/c~1d}}"), ["/a", "/c~1d"]);
    }
}
