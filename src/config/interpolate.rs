//! `${VAR}` environment interpolation, applied to scalar values after parsing
//! so that line/column positions always refer to the original text.
//!
//! Syntax: `${VAR}` (an unset variable is an error naming it),
//! `${VAR:-default}` (default when unset or empty; the default is literal
//! text), `$$` for a literal `$`; any other `$` is literal. Mapping keys are
//! never interpolated. Imports nothing from api/store/dispatch/delivery/plugins.

use super::reader::Ctx;
use super::yaml::{index_path, key_path, Kind, Node};

/// Looks up an environment variable (injectable for tests).
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Interpolates every scalar value under `node`. Failures are reported at the
/// scalar and mark it `failed` so later stages don't report it again.
pub(crate) fn expand_tree(node: &mut Node, path: &str, env: Env, ctx: &mut Ctx) {
    match &mut node.kind {
        Kind::Scalar(s) => match expand(&s.text, env) {
            Ok(None) => {}
            Ok(Some(text)) => {
                s.text = text;
                s.interpolated = true;
            }
            Err(messages) => {
                for m in messages {
                    ctx.error(node.pos, path, m);
                }
                s.failed = true;
            }
        },
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_tree(item, &index_path(path, i), env, ctx);
            }
        }
        Kind::Map(entries) => {
            for e in entries {
                let child = key_path(path, &e.key);
                expand_tree(&mut e.value, &child, env, ctx);
            }
        }
    }
}

/// Expands one string: `Ok(None)` when it contains no `$` at all, `Ok(Some)`
/// with the result otherwise, or every problem found.
pub(crate) fn expand(s: &str, env: Env) -> Result<Option<String>, Vec<String>> {
    if !s.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut errors = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(close) = body_and_tail.find('}') else {
                errors.push("unterminated `${` (write `$$` for a literal `$`)".to_string());
                break;
            };
            let body = &body_and_tail[..close];
            rest = &body_and_tail[close + 1..];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if !is_var_name(name) {
                errors.push(format!(
                    "invalid environment variable name {name:?} in `${{{body}}}`"
                ));
                continue;
            }
            match (env(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => errors.push(format!("environment variable `{name}` is not set")),
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.com".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<Option<String>, Vec<String>> {
        expand(s, &env)
    }

    #[test]
    fn expands() {
        assert_eq!(run("plain"), Ok(None));
        assert_eq!(
            run("https://${HOST}/x"),
            Ok(Some("https://example.com/x".into()))
        );
        assert_eq!(run("${MISSING:-fallback}"), Ok(Some("fallback".into())));
        assert_eq!(run("${EMPTY:-fallback}"), Ok(Some("fallback".into())));
        assert_eq!(run("${HOST:-fallback}"), Ok(Some("example.com".into())));
        assert_eq!(run("${MISSING:-}"), Ok(Some(String::new())));
        assert_eq!(run("${EMPTY}"), Ok(Some(String::new())));
        assert_eq!(
            run("cost $$5 and $$${HOST}"),
            Ok(Some("cost $5 and $example.com".into()))
        );
        assert_eq!(run("a $ b $x"), Ok(Some("a $ b $x".into())));
        assert_eq!(run("$"), Ok(Some("$".into())));
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            run("${NOPE}"),
            Err(vec!["environment variable `NOPE` is not set".to_string()])
        );
        assert_eq!(run("${A}-${B}").map_err(|e| e.len()), Err(2));
        assert!(run("${HOST").is_err_and(|e| e[0].starts_with("unterminated")));
        assert!(run("${1X}").is_err_and(|e| e[0].contains("invalid environment variable name")));
        assert!(run("${}").is_err());
    }
}
