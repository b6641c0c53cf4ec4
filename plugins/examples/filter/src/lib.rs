//! `filter`: drops deliveries whose JSON body fails declarative predicates.
//!
//! ```json
//! {"all": [{"pointer": "/data/amount", "op": "gte", "value": 100}],
//!  "any": [{"pointer": "/type", "op": "eq", "value": "invoice.paid"},
//!          {"pointer": "/type", "op": "matches", "value": "invoice.*"}]}
//! ```
//!
//! Every `all` predicate must hold and, when `any` is non-empty, at least one of `any`.
//! Otherwise the delivery is dropped with `filter: <which predicate failed>`, which is what
//! operators see on the filtered delivery. Passing deliveries go on byte for byte unchanged.
//! Ops: `eq ne gt gte lt lte exists not_exists contains starts_with ends_with matches regex
//! in not_in` (see [`predicate::Op`]). For example, only objects whose id or name matches:
//!
//! ```json
//! {"any": [{"pointer": "/data/id", "op": "regex", "value": "^inv_[0-9]+$"},
//!          {"pointer": "/data/name", "op": "regex", "value": "(?i)^invoice"}]}
//! ```
//!
//! The config is checked when the gateway loads it: each problem points at the offending field
//! (`/all/1/op`, `/any/0/value` for a bad pattern).

pub mod predicate;

use hookgate_plugin_sdk::{Decision, Delivery, Plugin, Problem, Value};
use predicate::FilterConfig;

/// The plugin type exported to Hookgate.
pub struct Filter;

impl Plugin for Filter {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let filter = hookgate_plugin_sdk::config_with(FilterConfig::load)
            .map_err(|e| format!("filter: {e}"))?;
        let body = delivery.json().map_err(|e| format!("filter: {e}"))?;
        match filter.check(&body) {
            Ok(()) => Ok(delivery.deliver_unchanged()),
            Err(failed) => Ok(Decision::drop(format!("filter: {failed}"))),
        }
    }

    fn check_config(config: &Value) -> Vec<Problem> {
        FilterConfig::load(config).err().unwrap_or_default()
    }
}

hookgate_plugin_sdk::export_plugin!(Filter);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::{json, testing};

    #[test]
    fn passes_or_drops_through_the_host_api() {
        testing::reset();
        testing::set_config(
            &json!({"all": [{"pointer": "/data/amount", "op": "gte", "value": 100}]}),
        );
        let d = testing::delivery("invoice.paid", &json!({"amount": 150}));
        let body = d.body().to_vec();
        assert_eq!(Filter::handle(d).unwrap().body(), Some(&body[..]));

        let d = testing::delivery("invoice.paid", &json!({"amount": 50}));
        assert_eq!(
            Filter::handle(d).unwrap(),
            Decision::drop("filter: all[0] (/data/amount gte 100) failed: actual 50")
        );
    }

    #[test]
    fn bad_config_and_body_are_errors() {
        testing::reset();
        let d = || testing::delivery("x", &json!({}));
        assert_eq!(
            Filter::handle(d()).unwrap_err(),
            "filter: invalid plugin config: config needs at least one predicate in `all` or `any`"
        );
        testing::set_config(&json!({"all": [{"pointer": "/a", "op": "between"}]}));
        assert!(Filter::handle(d())
            .unwrap_err()
            .starts_with("filter: invalid plugin config: /all/0/op: unknown variant `between`"));
        testing::set_config(&json!({"all": [{"pointer": "/a", "op": "exists"}]}));
        let raw = testing::delivery_with_body(d().event().clone(), b"not json".to_vec(), vec![]);
        assert!(Filter::handle(raw)
            .unwrap_err()
            .starts_with("filter: body is not valid JSON"));
    }
}
