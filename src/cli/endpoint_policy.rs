//! The `endpoints create|update` flags of an endpoint's own delivery policy (`--timeout`,
//! `--retry-schedule`, …) and how `endpoints get` shows it.
//!
//! Kept apart from `endpoints.rs` so the policy's six flags and their translation into the
//! body's `delivery` object sit in one place. Values are checked for syntax here (a bad one
//! exits 2 before anything is sent); the server applies the config file's full rules.

use clap::Args;
use serde_json::{json, Map, Value};

use super::input::parse_duration_text;

/// Overrides of the global `delivery:` block for one endpoint; every flag is optional, and
/// only the given ones are sent (an update leaves the others as they are).
#[derive(Debug, Default, Args)]
pub struct DeliveryFlags {
    /// Timeout of one attempt to this endpoint, e.g. 5s.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<String>,
    /// Delays between this endpoint's attempts, e.g. 1m,5m,1h (then the delivery is dead).
    #[arg(long, value_delimiter = ',', value_name = "DELAYS", value_parser = parse_duration_text)]
    pub retry_schedule: Vec<String>,
    /// Random spread of each retry delay, 0 to 1.
    #[arg(long, value_parser = parse_jitter)]
    pub jitter: Option<f64>,
    /// Disable the endpoint after this many consecutive failed attempts (0 = never).
    #[arg(long, value_name = "N")]
    pub auto_disable_after: Option<u32>,
    /// Treat 4xx (other than 408/410/429) as final at once; `--fail-fast-4xx=false` retries them.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub fail_fast_4xx: Option<bool>,
    /// Upper bound on a receiver's Retry-After, e.g. 1h.
    #[arg(long, value_parser = parse_duration_text)]
    pub retry_after_cap: Option<String>,
}

impl DeliveryFlags {
    /// Lays the given flags over `body["delivery"]` (the `--from` object's, if any), so a
    /// flag changes one field of the policy and keeps the rest of what `--from` said.
    pub fn apply(&self, body: &mut Map<String, Value>) {
        let given = self.given();
        if given.is_empty() {
            return;
        }
        let slot = body.entry("delivery").or_insert_with(|| json!({}));
        if !slot.is_object() {
            *slot = json!({});
        }
        if let Value::Object(d) = slot {
            d.extend(given);
        }
    }

    fn given(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(t) = &self.timeout {
            m.insert("timeout".into(), json!(t));
        }
        if !self.retry_schedule.is_empty() {
            m.insert("retry_schedule".into(), json!(self.retry_schedule));
        }
        if let Some(j) = self.jitter {
            m.insert("jitter".into(), json!(j));
        }
        if let Some(n) = self.auto_disable_after {
            m.insert("auto_disable_after".into(), json!(n));
        }
        if let Some(b) = self.fail_fast_4xx {
            m.insert("fail_fast_4xx".into(), json!(b));
        }
        if let Some(c) = &self.retry_after_cap {
            m.insert("retry_after_cap".into(), json!(c));
        }
        m
    }
}

fn parse_timeout(s: &str) -> Result<String, String> {
    match crate::config::parse_duration(s)? {
        std::time::Duration::ZERO => Err("must be greater than 0".into()),
        _ => Ok(s.trim().to_string()),
    }
}

fn parse_jitter(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(j) if (0.0..=1.0).contains(&j) => Ok(j),
        _ => Err(format!("expected a number between 0 and 1, got {s:?}")),
    }
}

/// The `delivery` line of `endpoints get`: the overrides as `key value` pairs, or a note that
/// the endpoint follows the gateway's `delivery:` block.
pub fn summary(v: &Value) -> String {
    let Some(d) = v.get("delivery").and_then(Value::as_object) else {
        return "the gateway's delivery: block".into();
    };
    let parts: Vec<String> = d
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k} {s}"),
            Value::Array(items) => {
                let items: Vec<String> = items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect();
                format!("{k} {}", items.join(","))
            }
            other => format!("{k} {other}"),
        })
        .collect();
    format!("{} (the rest from the gateway's)", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::endpoints::{create_body, update_body, EndpointsCommand};
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn endpoints(args: &[&str]) -> Result<EndpointsCommand, clap::Error> {
        let argv = ["hookgate", "endpoints"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Endpoints(c) => Ok(c),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn every_policy_flag_lands_in_the_delivery_object() {
        let argv = [
            "create",
            "--url",
            "https://r.example/h",
            "--timeout",
            "5s",
            "--retry-schedule",
            "1m,5m,1h",
            "--jitter",
            "0.1",
            "--auto-disable-after",
            "10",
            "--fail-fast-4xx",
            "--retry-after-cap",
            "1h",
        ];
        let Ok(EndpointsCommand::Create(c)) = endpoints(&argv) else {
            panic!("not create")
        };
        assert_eq!(
            create_body(&c, None).unwrap(),
            json!({"url": "https://r.example/h", "delivery": {
                "timeout": "5s", "retry_schedule": ["1m", "5m", "1h"], "jitter": 0.1,
                "auto_disable_after": 10, "fail_fast_4xx": true, "retry_after_cap": "1h"}})
        );
    }

    #[test]
    fn an_update_sends_only_the_given_policy_fields_over_from() {
        let Ok(EndpointsCommand::Update(u)) =
            endpoints(&["update", "ep", "--fail-fast-4xx=false", "--jitter", "0"])
        else {
            panic!("not update")
        };
        let from = json!({"delivery": {"timeout": "2s", "jitter": 0.5}});
        assert_eq!(
            update_body(&u.fields, from.as_object().cloned()).unwrap(),
            json!({"delivery": {"timeout": "2s", "jitter": 0.0, "fail_fast_4xx": false}})
        );
    }

    #[test]
    fn bad_policy_values_are_usage_errors() {
        for bad in [
            ["--timeout", "0s"],
            ["--timeout", "soon"],
            ["--retry-schedule", "1m,later"],
            ["--jitter", "1.5"],
            ["--auto-disable-after", "-1"],
            ["--retry-after-cap", "1 hour"],
        ] {
            let argv = ["create", "--url", "https://r", bad[0], bad[1]];
            assert!(endpoints(&argv).is_err(), "{bad:?}");
        }
        assert!(endpoints(&["create", "--url", "https://r", "--fail-fast-4xx=maybe"]).is_err());
    }

    #[test]
    fn a_summary_names_each_override() {
        let v = json!({"delivery": {"retry_schedule": ["1m", "5m"], "timeout": "5s", "fail_fast_4xx": true}});
        assert_eq!(
            summary(&v),
            "fail_fast_4xx true, retry_schedule 1m,5m, timeout 5s (the rest from the gateway's)"
        );
        assert_eq!(
            summary(&json!({"delivery": null})),
            "the gateway's delivery: block"
        );
    }
}
