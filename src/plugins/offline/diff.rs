//! The body diff `plugin test` prints: changed JSON named by pointer, or both bodies.

use serde_json::Value;

/// A JSON-pointer diff when both bodies are JSON, otherwise both bodies.
pub(super) fn diff(before: &[u8], after: &[u8]) -> String {
    match (
        serde_json::from_slice::<Value>(before),
        serde_json::from_slice::<Value>(after),
    ) {
        (Ok(a), Ok(b)) => {
            let mut lines = Vec::new();
            walk("", &a, &b, &mut lines);
            if lines.is_empty() {
                "  (unchanged)\n".into()
            } else {
                lines.into_iter().map(|l| format!("  {l}\n")).collect()
            }
        }
        _ => format!(
            "  before: {}\n  after:  {}\n",
            String::from_utf8_lossy(before),
            String::from_utf8_lossy(after)
        ),
    }
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
                match y.get(k) {
                    Some(vb) => walk(&p, va, vb, out),
                    None => out.push(format!("- {p}")),
                }
            }
            for (k, vb) in y.iter().filter(|(k, _)| !x.contains_key(*k)) {
                out.push(format!(
                    "+ {path}/{} = {vb}",
                    k.replace('~', "~0").replace('/', "~1")
                ));
            }
        }
        _ if a == b => {}
        _ => out.push(format!(
            "~ {}: {a} → {b}",
            if path.is_empty() { "/" } else { path }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_change_by_pointer() {
        let d = diff(
            br#"{"data":{"card":"4242","email":"a@b","keep":1}}"#,
            br#"{"data":{"email":"***","keep":1,"tier":"gold"}}"#,
        );
        assert!(d.contains("- /data/card"), "{d}");
        assert!(d.contains("~ /data/email: \"a@b\" → \"***\""), "{d}");
        assert!(d.contains("+ /data/tier = \"gold\""), "{d}");
        assert!(!d.contains("keep"), "{d}");
        assert_eq!(diff(b"{}", b"{}"), "  (unchanged)\n");
        assert!(diff(b"x", b"y").contains("before: x"));
    }
}
