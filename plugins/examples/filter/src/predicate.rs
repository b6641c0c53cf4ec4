//! Predicate configuration and evaluation, as plain functions so they test natively.

use hookgate_plugin_sdk::json::validate_pointer;
use hookgate_plugin_sdk::{parse_config, Problem, Value};
use regex_lite::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer};
use std::cmp::Ordering;
use std::fmt;

/// The plugin's config: `all` must all hold; if `any` is non-empty, one of it must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Predicates that must all hold.
    #[serde(default)]
    pub all: Vec<Predicate>,
    /// Predicates of which at least one must hold (ignored when empty).
    #[serde(default)]
    pub any: Vec<Predicate>,
}

/// One test of the value at a JSON pointer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Predicate {
    /// Where in the body to look (RFC 6901; `""` is the whole body).
    pub pointer: String,
    /// What to test.
    pub op: Op,
    /// The operand; `Some(Null)` when the config says `"value": null`, `None` when absent.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
    /// The compiled `value` of a `regex` predicate, set by [`FilterConfig::load`] so each
    /// pattern compiles once per call however many times it is evaluated.
    #[serde(skip)]
    regex: Option<Regex>,
}

/// The most memory one compiled `regex` pattern may take. Real patterns are small
/// (`^inv_[0-9]+$` fits in 512 bytes, `[a-z0-9._%+-]{1,64}@[a-z0-9.-]{1,255}` in 32 KiB); the
/// cap refuses at load a counted repetition such as `(?:a{1000}){1000}` that would eat the
/// guest's memory. Search time grows with the compiled size times the text's length: the worst
/// pattern under this cap measured about 30 µs per character of text natively, so a short id
/// stays cheap while a pathological pattern on a long text runs into the plugin's deadline
/// (a plugin error for the endpoint's `on_error`) rather than stalling the gateway.
pub const REGEX_SIZE_LIMIT: usize = 64 * 1024;

/// Distinguishes `"value": null` (compare with null) from no `value` at all.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Comparison operators. Numbers compare numerically (`100` equals `100.0`), strings by
/// bytes (so RFC 3339 UTC timestamps order correctly); mixed types never compare. A missing
/// value fails every op except the negative ones (`ne`, `not_in`, `not_exists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (JSON equality, numbers numerically).
    Eq,
    /// Not equal.
    Ne,
    /// Greater than (numbers or strings).
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// The pointer resolves (even to `null`).
    Exists,
    /// The pointer does not resolve.
    NotExists,
    /// Substring of a string, element of an array, or key of an object.
    Contains,
    /// String prefix.
    StartsWith,
    /// String suffix.
    EndsWith,
    /// Glob on a string: `*` any run, `?` one character (cheaper than `regex`).
    Matches,
    /// Regular expression on a string, found anywhere in it (anchor with `^…$`), in the
    /// syntax of the `regex` crate without its Unicode classes: `regex-lite`, which keeps the
    /// guest small and matches in time linear in the text (no backtracking blow-up), with the
    /// compiled pattern capped at [`REGEX_SIZE_LIMIT`]. `\w`, `\d`, `\s` and `(?i)` are ASCII;
    /// `\p{…}` is refused at load. Non-strings never match (as with `starts_with`).
    Regex,
    /// The value equals one element of the operand array.
    In,
    /// The value equals no element of the operand array.
    NotIn,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Exists => "exists",
            Op::NotExists => "not_exists",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Matches => "matches",
            Op::Regex => "regex",
            Op::In => "in",
            Op::NotIn => "not_in",
        }
    }
}

impl FilterConfig {
    /// Parses, checks and compiles `config`: what both the load-time check and each delivery
    /// run, so a typo is refused at load instead of filtering wrong. An absent config (`null`)
    /// reads as `{}` and so fails with "needs at least one predicate".
    pub fn load(config: &Value) -> Result<Self, Vec<Problem>> {
        let mut cfg: FilterConfig = parse_config(config).map_err(|p| vec![p])?;
        if cfg.all.is_empty() && cfg.any.is_empty() {
            let message = "config needs at least one predicate in `all` or `any`";
            return Err(vec![Problem::new("", message)]);
        }
        let all = cfg.all.iter_mut().enumerate().map(|(i, p)| ("all", i, p));
        let any = cfg.any.iter_mut().enumerate().map(|(i, p)| ("any", i, p));
        let problems: Vec<Problem> = all
            .chain(any)
            .filter_map(|(list, i, p)| {
                let (field, message) = p.prepare().err()?;
                Some(Problem::new(format!("/{list}/{i}/{field}"), message))
            })
            .collect();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }

    /// `Ok` when the body passes, else a description of the failed predicate.
    pub fn check(&self, body: &Value) -> Result<(), String> {
        for (i, p) in self.all.iter().enumerate() {
            if !p.eval(body) {
                return Err(format!(
                    "all[{i}] ({p}) failed: {}",
                    actual(body, &p.pointer)
                ));
            }
        }
        if !self.any.is_empty() && !self.any.iter().any(|p| p.eval(body)) {
            let tried: Vec<String> = self.any.iter().map(|p| format!("({p})")).collect();
            return Err(format!("no `any` predicate matched: {}", tried.join(", ")));
        }
        Ok(())
    }
}

fn actual(body: &Value, pointer: &str) -> String {
    match body.pointer(pointer) {
        Some(v) => format!("actual {v}"),
        None => "missing".to_owned(),
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.pointer, self.op.name())?;
        match &self.value {
            Some(v) => write!(f, " {v}"),
            None => Ok(()),
        }
    }
}

impl Predicate {
    /// Checks the pointer and that the op has the operand it needs, and compiles a `regex`.
    /// The error names the field at fault (`pointer` or `value`) and what it should be.
    fn prepare(&mut self) -> Result<(), (&'static str, String)> {
        validate_pointer(&self.pointer).map_err(|e| ("pointer", e))?;
        self.check_operand().map_err(|e| ("value", e))?;
        if let (Op::Regex, Some(Value::String(pattern))) = (self.op, &self.value) {
            self.regex = Some(compile(pattern).map_err(|e| ("value", e))?);
        }
        Ok(())
    }

    fn check_operand(&self) -> Result<(), String> {
        let v = self.value.as_ref();
        let ok = match self.op {
            Op::Exists | Op::NotExists => v.is_none(),
            Op::Eq | Op::Ne | Op::Contains => v.is_some(),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                v.is_some_and(|v| v.is_number() || v.is_string())
            }
            Op::StartsWith | Op::EndsWith | Op::Matches | Op::Regex => {
                v.is_some_and(Value::is_string)
            }
            Op::In | Op::NotIn => v.is_some_and(Value::is_array),
        };
        if ok {
            return Ok(());
        }
        let want = match self.op {
            Op::Exists | Op::NotExists => "takes no `value`",
            Op::Eq | Op::Ne | Op::Contains => "needs a `value`",
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => "needs a number or string `value`",
            Op::StartsWith | Op::EndsWith | Op::Matches => "needs a string `value`",
            Op::Regex => "needs a string `value` (the pattern)",
            Op::In | Op::NotIn => "needs an array `value`",
        };
        Err(format!("op `{}` {want}", self.op.name()))
    }

    /// Whether the body satisfies this predicate.
    pub fn eval(&self, body: &Value) -> bool {
        let found = body.pointer(&self.pointer);
        let operand = self.value.as_ref().unwrap_or(&Value::Null);
        let Some(actual) = found else {
            return matches!(self.op, Op::Ne | Op::NotIn | Op::NotExists);
        };
        match self.op {
            Op::Exists => true,
            Op::NotExists => false,
            Op::Eq => json_eq(actual, operand),
            Op::Ne => !json_eq(actual, operand),
            Op::Gt => compare(actual, operand) == Some(Ordering::Greater),
            Op::Gte => matches!(
                compare(actual, operand),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Op::Lt => compare(actual, operand) == Some(Ordering::Less),
            Op::Lte => matches!(
                compare(actual, operand),
                Some(Ordering::Less | Ordering::Equal)
            ),
            Op::Contains => contains(actual, operand),
            Op::StartsWith => str_pair(actual, operand).is_some_and(|(a, b)| a.starts_with(b)),
            Op::EndsWith => str_pair(actual, operand).is_some_and(|(a, b)| a.ends_with(b)),
            Op::Matches => str_pair(actual, operand).is_some_and(|(a, p)| glob(p, a)),
            Op::Regex => self.regex_matches(actual),
            Op::In => in_array(actual, operand),
            Op::NotIn => !in_array(actual, operand),
        }
    }

    /// A predicate that did not come through [`FilterConfig::load`] has no compiled pattern
    /// and matches nothing, rather than compiling one per evaluation.
    fn regex_matches(&self, actual: &Value) -> bool {
        let (Some(re), Some(text)) = (&self.regex, actual.as_str()) else {
            return false;
        };
        re.is_match(text)
    }
}

/// Compiles a `regex` pattern within [`REGEX_SIZE_LIMIT`]. The error is the engine's message
/// (one line, e.g. "found open group without closing ')'"), with the limit added when it is
/// the limit that refused the pattern, since the engine does not say it.
fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let message = e.to_string();
            if message.contains("size limit") {
                format!("invalid regex: {message} of {REGEX_SIZE_LIMIT} bytes")
            } else {
                format!("invalid regex: {message}")
            }
        })
}

/// JSON equality where numbers compare by value, so `100` from one producer equals `100.0`.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn str_pair<'a>(a: &'a Value, b: &'a Value) -> Option<(&'a str, &'a str)> {
    Some((a.as_str()?, b.as_str()?))
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::String(h), Value::String(n)) => h.contains(n.as_str()),
        (Value::Array(items), n) => items.iter().any(|i| json_eq(i, n)),
        (Value::Object(map), Value::String(key)) => map.contains_key(key),
        _ => false,
    }
}

fn in_array(value: &Value, list: &Value) -> bool {
    list.as_array()
        .is_some_and(|items| items.iter().any(|i| json_eq(value, i)))
}

/// Glob match with `*` and `?`, backtracking only to the last `*`: O(len(p) * len(t)) worst
/// case, no regex engine in the guest.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
#[path = "predicate_tests.rs"]
mod tests;
