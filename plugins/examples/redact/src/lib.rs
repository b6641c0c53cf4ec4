//! `redact`: removes or masks fields of the JSON body before it leaves the gateway.
//!
//! ```json
//! {"remove": ["/data/card"], "mask": ["/data/email"], "mask_with": "***"}
//! ```
//!
//! Pointers that do not resolve are skipped, because optional fields are the common case and
//! a missing secret is already redacted. `mask_with` may be any JSON value (default `"***"`);
//! masking keeps the key so receivers that expect it keep working.
//!
//! The body is edited as text (`json_edit`): every byte outside the redacted fields is sent as
//! the publisher wrote it — key order, spacing, number formatting. Only a body with a
//! duplicate key on a redacted path is parsed into a tree and re-serialized, so every copy of
//! that key is redacted whichever one the receiver would read.

use hookgate_plugin_sdk::json::{remove, validate_pointer};
use hookgate_plugin_sdk::json_edit::{self, EditError};
use hookgate_plugin_sdk::{parse_config, Decision, Delivery, Plugin, Problem, Value};
use serde::Deserialize;

/// The plugin's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Pointers whose values are removed (object keys deleted, array elements spliced out).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Pointers whose values are replaced by `mask_with`.
    #[serde(default)]
    pub mask: Vec<String>,
    /// The replacement for masked values.
    #[serde(default = "default_mask")]
    pub mask_with: Value,
}

fn default_mask() -> Value {
    Value::String("***".to_owned())
}

impl RedactConfig {
    /// Parses and checks `config`: what both the load-time check and each delivery run, so
    /// they agree on every config.
    pub fn load(config: &Value) -> Result<Self, Vec<Problem>> {
        let cfg: RedactConfig = parse_config(config).map_err(|p| vec![p])?;
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }

    /// Rejects configs that would silently redact nothing: no pointers, a malformed pointer,
    /// or the empty pointer (the whole body). Each problem points at the offending entry.
    pub fn problems(&self) -> Vec<Problem> {
        if self.remove.is_empty() && self.mask.is_empty() {
            let message = "config needs at least one pointer in `remove` or `mask`";
            return vec![Problem::new("", message)];
        }
        let remove = self
            .remove
            .iter()
            .enumerate()
            .map(|(i, p)| ("remove", i, p));
        let mask = self.mask.iter().enumerate().map(|(i, p)| ("mask", i, p));
        remove
            .chain(mask)
            .filter_map(|(list, i, p)| {
                pointer_problem(p).map(|message| Problem::new(format!("/{list}/{i}"), message))
            })
            .collect()
    }

    /// Applies removals then masks to `body`; returns how many fields were changed.
    pub fn apply(&self, body: &mut Value) -> usize {
        let removed = self
            .remove
            .iter()
            .filter(|p| remove(body, p).is_some())
            .count();
        let mut masked = 0;
        for p in &self.mask {
            if let Some(v) = body.pointer_mut(p) {
                *v = self.mask_with.clone();
                masked += 1;
            }
        }
        removed + masked
    }

    /// Applies removals then masks to JSON `text` in place, touching only the redacted spans;
    /// returns how many fields were changed. `text` must be JSON ([`json_edit::check`]).
    pub fn apply_text(&self, text: &mut String) -> Result<usize, EditError> {
        let mut changed = 0;
        for p in &self.remove {
            changed += usize::from(json_edit::remove(text, p)?);
        }
        if !self.mask.is_empty() {
            // Serializing a `Value` cannot fail (its keys are strings).
            let mask = self.mask_with.to_string();
            for p in &self.mask {
                changed += usize::from(json_edit::replace(text, p, &mask)?);
            }
        }
        Ok(changed)
    }
}

/// Why `pointer` cannot name a field to redact, if it cannot.
fn pointer_problem(pointer: &str) -> Option<String> {
    if pointer.is_empty() {
        return Some("the empty pointer would redact the whole body".to_owned());
    }
    validate_pointer(pointer).err()
}

/// The plugin type exported to Hookgate.
pub struct Redact;

impl Plugin for Redact {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg = hookgate_plugin_sdk::config_with(RedactConfig::load)
            .map_err(|e| format!("redact: {e}"))?;
        let text = json_edit::check(delivery.body()).map_err(|e| format!("redact: {e}"))?;
        let mut edited = text.to_owned();
        match cfg.apply_text(&mut edited) {
            // Nothing matched: the original bytes go out as they came.
            Ok(0) => Ok(delivery.deliver_unchanged()),
            Ok(_) => {
                let (_, headers) = delivery.into_body_and_headers();
                Ok(Decision::deliver(edited, headers))
            }
            Err(EditError::DuplicateKey(_)) => {
                let mut body = delivery.json().map_err(|e| format!("redact: {e}"))?;
                cfg.apply(&mut body);
                let (_, headers) = delivery.into_body_and_headers();
                Ok(Decision::deliver_json(&body, headers))
            }
            Err(e) => Err(format!("redact: {e}")),
        }
    }

    fn check_config(config: &Value) -> Vec<Problem> {
        RedactConfig::load(config).err().unwrap_or_default()
    }
}

hookgate_plugin_sdk::export_plugin!(Redact);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::{json, testing};

    fn cfg(v: Value) -> RedactConfig {
        RedactConfig::load(&v).unwrap()
    }

    #[test]
    fn removes_and_masks_ignoring_missing() {
        let c = cfg(
            json!({"remove": ["/data/card", "/data/nope", "/data/items/0"],
                           "mask": ["/data/email", "/data/missing/deep"]}),
        );
        let mut body = json!({"data": {"card": "4242", "email": "a@b.c", "items": [1, 2], "k": 1}});
        assert_eq!(c.apply(&mut body), 3);
        assert_eq!(
            body,
            json!({"data": {"email": "***", "items": [2], "k": 1}})
        );
    }

    #[test]
    fn custom_mask_value() {
        let c = cfg(json!({"mask": ["/data/ssn"], "mask_with": null}));
        let mut body = json!({"data": {"ssn": {"a": 1}}});
        c.apply(&mut body);
        assert_eq!(body, json!({"data": {"ssn": null}}));
    }

    fn handle_text(config: Value, body: &str) -> Result<String, String> {
        testing::reset();
        testing::set_config(&config);
        let d = testing::delivery("t", &json!({}));
        let d = testing::delivery_with_body(d.event().clone(), body.into(), vec![]);
        let out = Redact::handle(d)?;
        Ok(String::from_utf8(out.body().unwrap().to_vec()).unwrap())
    }

    #[test]
    fn only_the_redacted_bytes_change() {
        let body = r#"{"z": 1, "data": {"card": "4242",  "email": "a@b.c", "amount": 1.50}}"#;
        let out = handle_text(
            json!({"remove": ["/data/card"], "mask": ["/data/email"]}),
            body,
        );
        assert_eq!(
            out.unwrap(),
            r#"{"z": 1, "data": {"email": "***", "amount": 1.50}}"#
        );
        // Nothing to redact: the body is passed on byte for byte.
        let out = handle_text(json!({"remove": ["/data/nope"]}), body);
        assert_eq!(out.unwrap(), body);
    }

    #[test]
    fn every_copy_of_a_duplicated_key_is_redacted() {
        let body = r#"{"data": {"card": "1111", "card": "2222", "k": 1}}"#;
        let out = handle_text(json!({"remove": ["/data/card"]}), body).unwrap();
        assert!(!out.contains("1111") && !out.contains("2222"), "{out}");
        assert_eq!(
            hookgate_plugin_sdk::serde_json::from_str::<Value>(&out).unwrap(),
            json!({"data": {"k": 1}})
        );
    }

    #[test]
    fn a_body_that_is_not_json_is_an_error() {
        for body in [r#"{"data": "#, "not json", r#"{"a":1} trailing"#] {
            let e = handle_text(json!({"remove": ["/a"]}), body).unwrap_err();
            assert!(
                e.starts_with("redact: body is not valid JSON"),
                "{body}: {e}"
            );
        }
    }

    fn problems(config: Value) -> Vec<Problem> {
        testing::check_config::<Redact>(config)
    }

    #[test]
    fn a_good_config_passes_the_check() {
        let config = json!({"remove": ["/data/card"], "mask": ["/data/email"], "mask_with": 0});
        assert_eq!(problems(config), []);
    }

    #[test]
    fn a_config_without_pointers_is_refused_as_a_whole() {
        assert_eq!(
            problems(json!({})),
            [Problem::new(
                "",
                "config needs at least one pointer in `remove` or `mask`"
            )]
        );
        assert_eq!(problems(Value::Null).len(), 1);
    }

    #[test]
    fn the_empty_pointer_is_refused_where_it_is() {
        assert_eq!(
            problems(json!({"remove": ["/a", ""]})),
            [Problem::new(
                "/remove/1",
                "the empty pointer would redact the whole body"
            )]
        );
    }

    #[test]
    fn a_malformed_pointer_is_refused_where_it_is() {
        assert_eq!(
            problems(json!({"remove": ["/a"], "mask": ["data/x"]})),
            [Problem::new(
                "/mask/0",
                r#"JSON pointer "data/x" must start with '/'"#
            )]
        );
    }

    #[test]
    fn an_unknown_field_is_refused_where_it_is() {
        let p = problems(json!({"paths": ["/data/card"]}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pointer, "/paths");
        assert!(
            p[0].message.starts_with(
                "unknown field `paths`, expected one of `remove`, `mask`, `mask_with`"
            ),
            "{}",
            p[0]
        );
    }

    #[test]
    fn a_pointer_of_the_wrong_type_is_refused_where_it_is() {
        let p = problems(json!({"remove": ["/a", 5]}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pointer, "/remove/1");
        assert!(p[0].message.contains("expected a string"), "{}", p[0]);
    }

    #[test]
    fn through_the_host_api() {
        testing::reset();
        testing::set_config(&json!({"remove": ["/data/card"]}));
        let d = testing::delivery("payment.created", &json!({"card": "4242", "amount": 5}));
        let out = Redact::handle(d).unwrap().json().unwrap();
        assert_eq!(out["data"], json!({"amount": 5}));
    }

    #[test]
    fn a_delivery_fails_with_the_problem_the_check_reports() {
        testing::reset();
        testing::set_config(&json!({"remove": ["/data/card"], "mask": ["x"]}));
        let d = testing::delivery("payment.created", &json!({}));
        assert_eq!(
            Redact::handle(d).unwrap_err(),
            r#"redact: invalid plugin config: /mask/0: JSON pointer "x" must start with '/'"#
        );
    }
}
