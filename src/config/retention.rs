//! Reads retention: the global `retention:` block and an endpoint's own `retention:` key, with
//! the same parsers and messages, and shows an endpoint's overrides back in the file's
//! spelling (for the API).
//!
//! Owns: which keys an endpoint may override (not `audit`: the log is the gateway's) and the
//! `forever`/`0` spelling. Imports nothing from api/store/dispatch/delivery/plugins.

use serde_json::{json, Map, Value};

use super::policy::duration_text;
use super::reader::{Ctx, Obj};
use super::types::{Keep, RetentionConfig, RetentionOverride};
use super::values::parse_duration;
use super::yaml::Node;

/// The keys of the global `retention:` block.
pub(crate) const GLOBAL: &[&str] = &["succeeded", "dead", "filtered", "cancelled", "audit"];
/// The keys an endpoint's `retention:` may set.
pub(crate) const OVERRIDABLE: &[&str] = &["succeeded", "dead", "filtered", "cancelled"];

/// `forever` or `0` (keep), else a duration such as `7d` or `12h`.
pub(crate) fn parse_keep(s: &str) -> Result<Keep, String> {
    match s.trim() {
        "forever" | "0" => Ok(Keep::Forever),
        t => match parse_duration(t) {
            Ok(d) if d.is_zero() => Ok(Keep::Forever),
            Ok(d) => Ok(Keep::For(d)),
            Err(_) => Err(format!(
                "expected a duration like 12h, 7d or 30d, or forever, got {s:?}"
            )),
        },
    }
}

/// The global block.
pub(crate) fn global(node: &Node, ctx: &mut Ctx) -> RetentionConfig {
    let mut r = RetentionConfig::default();
    let Some(obj) = ctx.object(node, "retention", GLOBAL) else {
        return r;
    };
    let o = read(&obj, ctx);
    r.succeeded = o.succeeded.unwrap_or(r.succeeded);
    r.dead = o.dead.unwrap_or(r.dead);
    r.filtered = o.filtered.unwrap_or(r.filtered);
    r.cancelled = o.cancelled.unwrap_or(r.cancelled);
    ctx.set(&mut r.audit, &obj, "audit", parse_keep);
    r
}

fn read(obj: &Obj, ctx: &mut Ctx) -> RetentionOverride {
    RetentionOverride {
        succeeded: ctx.field(obj, "succeeded", parse_keep),
        dead: ctx.field(obj, "dead", parse_keep),
        filtered: ctx.field(obj, "filtered", parse_keep),
        cancelled: ctx.field(obj, "cancelled", parse_keep),
    }
}

/// An endpoint's `retention:` key (`endpoint` is the endpoint's mapping). `None` when absent or
/// empty; `audit` and unknown keys are reported.
pub(crate) fn endpoint_retention(endpoint: &Obj, ctx: &mut Ctx) -> Option<RetentionOverride> {
    let node = endpoint.get("retention")?;
    let path = endpoint.path_of("retention");
    let obj = ctx.map(node, &path)?;
    for e in obj.entries() {
        if e.key == "audit" {
            let msg = "`audit` applies to the whole gateway's audit log and cannot be set per \
                       endpoint (set it in the top-level `retention:` block)";
            ctx.error(e.key_pos, &obj.path_of(&e.key), msg);
        } else if !OVERRIDABLE.contains(&e.key.as_str()) {
            ctx.unknown_key(e, &path, OVERRIDABLE);
        }
    }
    Some(read(&obj, ctx)).filter(|o| *o != RetentionOverride::default())
}

/// A rule in the file's spelling: `"7d"`, `"forever"`.
pub fn keep_text(k: Keep) -> String {
    match k {
        Keep::Forever => "forever".to_string(),
        Keep::For(d) => duration_text(d),
    }
}

/// The overrides in the file's spelling, only the set fields: what `GET /v1/endpoints/{id}`
/// shows, and what a create or PATCH accepts back.
pub fn retention_json(o: &RetentionOverride) -> Value {
    let mut m = Map::new();
    for (k, v) in [
        ("succeeded", o.succeeded),
        ("dead", o.dead),
        ("filtered", o.filtered),
        ("cancelled", o.cancelled),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), json!(keep_text(v)));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn forever_zero_and_durations() {
        assert_eq!(parse_keep("forever"), Ok(Keep::Forever));
        assert_eq!(parse_keep("0"), Ok(Keep::Forever));
        assert_eq!(parse_keep("0s"), Ok(Keep::Forever));
        assert_eq!(
            parse_keep("7d"),
            Ok(Keep::For(Duration::from_secs(7 * 86_400)))
        );
        assert!(parse_keep("week").unwrap_err().contains("forever"));
        assert!(parse_keep("-1d").is_err());
    }

    #[test]
    fn texts_read_back() {
        for s in ["forever", "7d", "12h", "90s", "1500ms"] {
            assert_eq!(keep_text(parse_keep(s).unwrap()), s);
        }
    }
}
