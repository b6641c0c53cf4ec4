//! Event-type patterns (`*`, `invoice.*`, `invoice.paid`) and the id/event
//! type syntax rules shared by the config file and the API.
//!
//! Owns: [`EventPattern`], [`matches_any`], [`is_valid_event_type`],
//! [`is_valid_id`]. Imports nothing from api/store/dispatch/delivery/plugins.

use std::fmt;
use std::str::FromStr;

/// Which event types an endpoint subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventPattern {
    /// `*`: every event type.
    All,
    /// `run.*`, stored as `"run."`: every type that starts with `run.` and
    /// has at least one more character (so not `run` itself, nor `runs.x`).
    Prefix(String),
    /// An exact event type.
    Exact(String),
}

impl EventPattern {
    /// Whether `event_type` is selected by this pattern.
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            EventPattern::All => true,
            EventPattern::Prefix(prefix) => {
                event_type.len() > prefix.len() && event_type.starts_with(prefix.as_str())
            }
            EventPattern::Exact(exact) => event_type == exact,
        }
    }
}

impl FromStr for EventPattern {
    type Err = String;

    /// Accepts `*`, an exact event type, or an event type followed by `.*`.
    /// `*` anywhere else (`a*b`, `*.x`, `a*`) and the empty string are rejected.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            return Ok(EventPattern::All);
        }
        let err = || {
            format!("invalid event pattern {s:?}: expected `*`, an event type like `invoice.paid`, or a prefix like `invoice.*`")
        };
        if let Some(stem) = s.strip_suffix(".*") {
            if is_valid_event_type(stem) {
                return Ok(EventPattern::Prefix(format!("{stem}.")));
            }
            return Err(err());
        }
        if is_valid_event_type(s) {
            Ok(EventPattern::Exact(s.to_string()))
        } else {
            Err(err())
        }
    }
}

impl fmt::Display for EventPattern {
    /// The spelling accepted by [`EventPattern::from_str`], so patterns round-trip.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventPattern::All => f.write_str("*"),
            EventPattern::Prefix(prefix) => write!(f, "{prefix}*"),
            EventPattern::Exact(exact) => f.write_str(exact),
        }
    }
}

/// Whether any pattern selects `event_type`; an empty list selects everything
/// (an endpoint without `events:` gets all events).
pub fn matches_any(patterns: &[EventPattern], event_type: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(event_type))
}

/// Event types are `[A-Za-z0-9_.-]{1,128}`: safe in URLs, headers and logs.
pub fn is_valid_event_type(s: &str) -> bool {
    valid_chars(s, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    })
}

/// Ids of endpoints, tenants and events are `[A-Za-z0-9_.:-]{1,128}`: safe in
/// URLs, header values and database keys.
pub fn is_valid_id(s: &str) -> bool {
    valid_chars(s, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
    })
}

fn valid_chars(s: &str, ok: impl Fn(char) -> bool) -> bool {
    (1..=128).contains(&s.len()) && s.chars().all(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> EventPattern {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parsing() {
        assert_eq!(pat("*"), EventPattern::All);
        assert_eq!(pat("run.*"), EventPattern::Prefix("run.".into()));
        assert_eq!(pat("a.b.*"), EventPattern::Prefix("a.b.".into()));
        assert_eq!(pat("a.b"), EventPattern::Exact("a.b".into()));
        for bad in [
            "",
            "a*b",
            "*.x",
            "a*",
            ".*",
            "a.*.b",
            "a b",
            "**",
            "a.**",
            &"x".repeat(129),
        ] {
            assert!(
                bad.parse::<EventPattern>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        for s in ["*", "run.*", "a.b"] {
            assert_eq!(pat(s).to_string(), s);
        }
    }

    #[test]
    fn matching() {
        let prefix = pat("a.*");
        assert!(prefix.matches("a.b"));
        assert!(prefix.matches("a.b.c"));
        assert!(!prefix.matches("a"));
        assert!(!prefix.matches("a."));
        assert!(!prefix.matches("ab.c"));
        assert!(!prefix.matches("b.a.c"));
        assert!(pat("*").matches("anything.at.all"));
        assert!(pat("a.b").matches("a.b"));
        assert!(!pat("a.b").matches("a.b.c"));
        assert!(!pat("a.b").matches("a.bc"));
        assert!(matches_any(&[], "x"));
        assert!(matches_any(&[pat("x"), pat("y.*")], "y.z"));
        assert!(!matches_any(&[pat("x"), pat("y.*")], "z"));
    }

    #[test]
    fn ids() {
        assert!(is_valid_id("billing"));
        assert!(is_valid_id("acme:prod_1.v-2"));
        assert!(is_valid_id(&"a".repeat(128)));
        assert!(!is_valid_id(&"a".repeat(129)));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("a/b"));
        assert!(!is_valid_id("é"));
        assert!(is_valid_event_type("invoice.paid"));
        assert!(!is_valid_event_type("invoice:paid"));
    }
}
