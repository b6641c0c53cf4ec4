//! `redact`: removes or masks fields of the JSON body before it leaves the gateway.
//!
//! ```json
//! {"remove": ["/data/card"], "mask": ["/data/email"], "mask_with": "***"}
//! ```
//!
//! Pointers that do not resolve are skipped, because optional fields are the common case and
//! a missing secret is already redacted. `mask_with` may be any JSON value (default `"***"`);
//! masking keeps the key so receivers that expect it keep working.

use hookgate_plugin_sdk::json::{remove, validate_pointer};
use hookgate_plugin_sdk::{Decision, Delivery, Plugin, Value};
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
    /// Rejects configs that would silently redact nothing: no pointers, a malformed pointer,
    /// or the empty pointer (the whole body).
    pub fn validate(&self) -> Result<(), String> {
        if self.remove.is_empty() && self.mask.is_empty() {
            return Err("config needs at least one pointer in `remove` or `mask`".to_owned());
        }
        for p in self.remove.iter().chain(&self.mask) {
            if p.is_empty() {
                return Err("the empty pointer would redact the whole body".to_owned());
            }
            validate_pointer(p)?;
        }
        Ok(())
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
}

/// The plugin type exported to Hookgate.
pub struct Redact;

impl Plugin for Redact {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: RedactConfig =
            hookgate_plugin_sdk::config().map_err(|e| format!("redact: {e}"))?;
        cfg.validate().map_err(|e| format!("redact: {e}"))?;
        let mut body = delivery.json().map_err(|e| format!("redact: {e}"))?;
        let changed = cfg.apply(&mut body);
        if changed == 0 {
            // Nothing matched: keep the original bytes (and key order/formatting) intact.
            return Ok(delivery.deliver_unchanged());
        }
        let (_, headers) = delivery.into_body_and_headers();
        Ok(Decision::deliver_json(&body, headers))
    }
}

hookgate_plugin_sdk::export_plugin!(Redact);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::{json, testing};

    fn cfg(v: Value) -> RedactConfig {
        let c: RedactConfig = serde::Deserialize::deserialize(v).unwrap();
        c.validate().unwrap();
        c
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

    #[test]
    fn invalid_configs() {
        let bad = |v: Value| {
            let c: RedactConfig = serde::Deserialize::deserialize(v).unwrap();
            c.validate().unwrap_err()
        };
        assert!(bad(json!({})).contains("at least one pointer"));
        assert!(bad(json!({"remove": [""]})).contains("whole body"));
        assert!(bad(json!({"mask": ["data/x"]})).contains("must start with '/'"));
    }

    #[test]
    fn through_the_host_api() {
        testing::reset();
        testing::set_config(&json!({"remove": ["/data/card"]}));
        let d = testing::delivery("payment.created", &json!({"card": "4242", "amount": 5}));
        let out = Redact::handle(d).unwrap().json().unwrap();
        assert_eq!(out["data"], json!({"amount": 5}));
        testing::set_config(&json!({"remove": ["/data/card"], "typo": 1}));
        let d = testing::delivery("payment.created", &json!({}));
        assert!(Redact::handle(d)
            .unwrap_err()
            .starts_with("redact: invalid plugin config: unknown field `typo`"));
    }
}
