//! Edits of JSON *text*: find the bytes of the value at a JSON Pointer by scanning, then remove
//! or replace only that span.
//!
//! Why not parse into a [`Value`](serde_json::Value) and serialize it back: that rewrites the
//! whole body (keys re-sorted, spacing and number formatting changed), builds a tree of
//! allocations on every delivery, and makes the output share less with the input, so the
//! gateway stores and sends more. A redaction should change the redacted field and nothing else.
//!
//! The scanner never panics: text that is not JSON where the pointer leads gives
//! [`EditError::Malformed`]. It does not look at the parts of the document it skips, so a
//! caller that needs the whole body to be JSON checks it first with [`check`], which parses
//! without building anything.

use std::fmt;
use std::ops::Range;

use crate::json::tokens;

/// Why an edit could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditError {
    /// The text is not JSON at this byte offset.
    Malformed(usize),
    /// An object on the pointer's path has this key more than once. Readers disagree on which
    /// one counts (most keep the last), so there is no single span to edit: fall back to a
    /// parsed [`Value`](serde_json::Value), which keeps one.
    DuplicateKey(String),
    /// The pointer is not a JSON Pointer.
    Pointer(String),
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Malformed(at) => write!(f, "body is not valid JSON at byte {at}"),
            EditError::DuplicateKey(key) => write!(f, "body has the key {key:?} more than once"),
            EditError::Pointer(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for EditError {}

/// Where the value at a pointer sits in the text (byte ranges).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The value itself.
    pub value: Range<usize>,
    /// What to cut to remove it: in an object its key too, and one separating comma, so what
    /// is left is still JSON. For the whole document (the empty pointer) this is `value`.
    pub removal: Range<usize>,
}

/// Checks that `body` is exactly one JSON value, building nothing, and gives it back as text
/// for [`find`], [`remove`] and [`replace`]. The message matches
/// [`Delivery::json`](crate::Delivery::json)'s.
pub fn check(body: &[u8]) -> Result<&str, String> {
    let invalid = |e: &dyn fmt::Display| format!("body is not valid JSON: {e}");
    serde_json::from_slice::<serde::de::IgnoredAny>(body).map_err(|e| invalid(&e))?;
    // Valid JSON is valid UTF-8 (serde_json checks the bytes inside strings, and anything
    // outside a string that is not ASCII is a syntax error), so this cannot fail.
    std::str::from_utf8(body).map_err(|e| invalid(&e))
}

/// Finds the value at `pointer`. `Ok(None)` when the path does not exist: a missing key, an
/// index past the end, or a step into a string or number.
pub fn find(text: &str, pointer: &str) -> Result<Option<Found>, EditError> {
    let tokens = tokens(pointer).map_err(EditError::Pointer)?;
    let scan = Scan {
        text,
        b: text.as_bytes(),
    };
    let root = scan.ws(0);
    if tokens.is_empty() {
        let end = scan.value_end(root)?;
        return Ok(Some(Found {
            value: root..end,
            removal: root..end,
        }));
    }
    let mut at = root;
    let mut found = None;
    for token in &tokens {
        let step = match scan.byte(at)? {
            b'{' => scan.member(at, token)?,
            b'[' => scan.element(at, token)?,
            _ => None,
        };
        let Some(f) = step else { return Ok(None) };
        at = f.value.start;
        found = Some(f);
    }
    Ok(found)
}

/// Removes the value at `pointer` (with its key, in an object; the elements after it move up,
/// in an array). Returns whether there was one. The empty pointer removes nothing, as in
/// [`json::remove`](crate::json::remove).
pub fn remove(text: &mut String, pointer: &str) -> Result<bool, EditError> {
    if pointer.is_empty() {
        return Ok(false);
    }
    match find(text, pointer)? {
        Some(f) => {
            text.replace_range(f.removal, "");
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Replaces the value at `pointer` with `json`, which must be JSON text (e.g. from
/// `serde_json::to_string`). Returns whether there was a value to replace.
pub fn replace(text: &mut String, pointer: &str, json: &str) -> Result<bool, EditError> {
    match find(text, pointer)? {
        Some(f) => {
            text.replace_range(f.value, json);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A cursor-free scanner: every method takes the offset it starts at and returns where it ended.
struct Scan<'a> {
    text: &'a str,
    b: &'a [u8],
}

impl Scan<'_> {
    fn byte(&self, i: usize) -> Result<u8, EditError> {
        self.b.get(i).copied().ok_or(EditError::Malformed(i))
    }

    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    }

    /// `i` is at an opening quote; returns the offset after the closing one.
    fn string_end(&self, i: usize) -> Result<usize, EditError> {
        let mut j = i + 1;
        loop {
            // Strings are most of a body's bytes: jump to the next quote or backslash.
            let rest = self.b.get(j..).ok_or(EditError::Malformed(self.b.len()))?;
            let k = memchr::memchr2(b'"', b'\\', rest).ok_or(EditError::Malformed(self.b.len()))?;
            if rest[k] == b'"' {
                return Ok(j + k + 1);
            }
            j += k + 2;
        }
    }

    /// `i` is at the first byte of a value; returns the offset after its last byte.
    fn value_end(&self, i: usize) -> Result<usize, EditError> {
        match self.byte(i)? {
            b'"' => self.string_end(i),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut j = i;
                loop {
                    match self.byte(j)? {
                        b'"' => {
                            j = self.string_end(j)?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                return Ok(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
            }
            b'}' | b']' | b',' | b':' => Err(EditError::Malformed(i)),
            _ => {
                // A number or literal: up to the next delimiter.
                let mut j = i;
                while !matches!(
                    self.b.get(j),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    j += 1;
                }
                Ok(j)
            }
        }
    }

    /// After the value ending at `end`: the start of the next item, or `None` at `close`.
    fn next_item(&self, end: usize, close: u8) -> Result<Option<usize>, EditError> {
        let after = self.ws(end);
        match self.byte(after)? {
            b',' => Ok(Some(self.ws(after + 1))),
            c if c == close => Ok(None),
            _ => Err(EditError::Malformed(after)),
        }
    }

    /// The member `key` of the object opening at `open`. The whole object is scanned, so a
    /// duplicate key is caught rather than half-redacted.
    fn member(&self, open: usize, key: &str) -> Result<Option<Found>, EditError> {
        let mut i = self.ws(open + 1);
        if self.byte(i)? == b'}' {
            return Ok(None);
        }
        let mut prev_end = None;
        let mut found = None;
        loop {
            if self.byte(i)? != b'"' {
                return Err(EditError::Malformed(i));
            }
            let key_end = self.string_end(i)?;
            let matched = self.key_is(i..key_end, key)?;
            let colon = self.ws(key_end);
            if self.byte(colon)? != b':' {
                return Err(EditError::Malformed(colon));
            }
            let start = self.ws(colon + 1);
            let end = self.value_end(start)?;
            let next = self.next_item(end, b'}')?;
            if matched {
                if found.is_some() {
                    return Err(EditError::DuplicateKey(key.to_owned()));
                }
                found = Some(Found {
                    value: start..end,
                    removal: cut(i, end, prev_end, next),
                });
            }
            prev_end = Some(end);
            match next {
                Some(n) => i = n,
                None => return Ok(found),
            }
        }
    }

    /// Element `token` (a canonical index) of the array opening at `open`.
    fn element(&self, open: usize, token: &str) -> Result<Option<Found>, EditError> {
        let canonical = token == "0" || !token.starts_with('0');
        let Some(index) = token.parse::<usize>().ok().filter(|_| canonical) else {
            return Ok(None);
        };
        let mut i = self.ws(open + 1);
        if self.byte(i)? == b']' {
            return Ok(None);
        }
        let mut prev_end = None;
        for n in 0.. {
            let end = self.value_end(i)?;
            let next = self.next_item(end, b']')?;
            if n == index {
                return Ok(Some(Found {
                    value: i..end,
                    removal: cut(i, end, prev_end, next),
                }));
            }
            prev_end = Some(end);
            match next {
                Some(at) => i = at,
                None => break,
            }
        }
        Ok(None)
    }

    /// Whether the key string at `raw` (quotes included) decodes to `key`.
    fn key_is(&self, raw: Range<usize>, key: &str) -> Result<bool, EditError> {
        let inner = &self.text[raw.start + 1..raw.end - 1];
        if !inner.contains('\\') {
            return Ok(inner == key);
        }
        serde_json::from_str::<String>(&self.text[raw.clone()])
            .map(|k| k == key)
            .map_err(|_| EditError::Malformed(raw.start))
    }
}

/// The bytes to cut for an item spanning `start..end`: up to the next item when there is one,
/// else from the end of the previous one, else just the item.
fn cut(start: usize, end: usize, prev_end: Option<usize>, next: Option<usize>) -> Range<usize> {
    match (next, prev_end) {
        (Some(next), _) => start..next,
        (None, Some(prev)) => prev..end,
        (None, None) => start..end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// Every pointer into `v` (containers and leaves, the root excluded).
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    let p = format!("{at}/{}", crate::json::escape_token(k));
                    out.push(p.clone());
                    pointers(c, p, out);
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    let p = format!("{at}/{i}");
                    out.push(p.clone());
                    pointers(c, p, out);
                }
            }
            _ => {}
        }
    }

    const DOCS: &[&str] = &[
        r#"{"a":1,"b":{"c":[1,2,{"d":"x"}],"e":null},"f":"g"}"#,
        "{ \"a\" : 1 ,\n  \"b\" : { \"c\" : [ 1 , 2 , { \"d\" : \"x\\\"}]\" } ] , \"e\" : null } ,\r\n\t\"f\" : \"g\" }",
        r#"{"only":{"one":[true]},"a/b":{"m~n":-1.5e3},"esc\u0061ped":"v","":0}"#,
        r#"[[],{},[{}],"s",[1,[2,[3]]]]"#,
    ];

    #[test]
    fn removing_any_pointer_matches_the_tree_and_keeps_the_rest_of_the_text() {
        for doc in DOCS {
            let tree: Value = serde_json::from_str(doc).unwrap();
            let mut all = Vec::new();
            pointers(&tree, String::new(), &mut all);
            assert!(all.len() > 5, "{doc}");
            for p in &all {
                let mut text = doc.to_string();
                assert!(remove(&mut text, p).unwrap(), "{p} in {doc}");
                let mut expected = tree.clone();
                crate::json::remove(&mut expected, p).unwrap();
                let got: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{p} in {doc} left {text:?}: {e}"));
                assert_eq!(got, expected, "{p} in {doc}");
                // Only the removed bytes are gone.
                assert!(text.len() < doc.len(), "{p}");
            }
        }
    }

    #[test]
    fn replacing_any_pointer_matches_the_tree() {
        for doc in DOCS {
            let tree: Value = serde_json::from_str(doc).unwrap();
            let mut all = vec![String::new()];
            pointers(&tree, String::new(), &mut all);
            for p in &all {
                let mut text = doc.to_string();
                assert!(replace(&mut text, p, r#""***""#).unwrap(), "{p}");
                let mut expected = tree.clone();
                *expected.pointer_mut(p).unwrap() = json!("***");
                let got: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(got, expected, "{p} in {doc}");
            }
        }
    }

    #[test]
    fn edits_leave_every_other_byte_alone() {
        let mut text = "{\"z\": 1,  \"card\" : \"4242\", \"a\": 1.50}".to_string();
        assert!(remove(&mut text, "/card").unwrap());
        assert_eq!(text, "{\"z\": 1,  \"a\": 1.50}");
        assert!(replace(&mut text, "/a", "null").unwrap());
        assert_eq!(text, "{\"z\": 1,  \"a\": null}");
        let mut last = r#"{"a": [1, 2 ,3] }"#.to_string();
        assert!(remove(&mut last, "/a/2").unwrap());
        assert_eq!(last, r#"{"a": [1, 2] }"#);
    }

    #[test]
    fn missing_paths_are_not_errors() {
        let doc = r#"{"a":{"b":"s"},"l":[0]}"#;
        for p in [
            "/x", "/a/x", "/a/b/c", "/l/1", "/l/01", "/l/-", "/l/x", "/a/b/0",
        ] {
            assert_eq!(find(doc, p), Ok(None), "{p}");
        }
        let mut text = doc.to_string();
        assert_eq!(remove(&mut text, ""), Ok(false));
        assert_eq!(text, doc);
        assert!(matches!(find(doc, "a"), Err(EditError::Pointer(_))));
    }

    #[test]
    fn duplicate_keys_on_the_path_are_refused() {
        let doc = r#"{"data":{"card":"1","card":"2"},"x":{"y":1,"y":2}}"#;
        assert_eq!(
            find(doc, "/data/card"),
            Err(EditError::DuplicateKey("card".into()))
        );
        // Off the path, duplicates do not matter.
        assert!(find(doc, "/x").unwrap().is_some());
    }

    #[test]
    fn malformed_text_is_an_error_never_a_panic() {
        let doc = DOCS[1];
        for cut in 0..doc.len() {
            if !doc.is_char_boundary(cut) {
                continue;
            }
            let truncated = &doc[..cut];
            for p in ["/b/c/2/d", "/f", "/b/e", ""] {
                // Whatever it answers, it answers without panicking.
                let _ = find(truncated, p);
            }
        }
        assert!(matches!(
            find(r#"{"a" 1}"#, "/a"),
            Err(EditError::Malformed(5))
        ));
        assert_eq!(check(br#"{"a":1}"#), Ok(r#"{"a":1}"#));
        assert!(check(b"\"\xff\"").is_err());
        assert!(check(br#"{"a":1"#)
            .unwrap_err()
            .starts_with("body is not valid JSON"));
    }
}
