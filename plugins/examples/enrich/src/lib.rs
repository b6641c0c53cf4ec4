//! `enrich`: adds a record from the plugin's kv store to the body, and a header from it.
//!
//! ```json
//! {"lookup": "/data/customer_id", "prefix": "customer:", "field": "customer",
//!  "header": "X-Customer-Tier", "header_pointer": "/tier"}
//! ```
//!
//! Reads kv key `prefix + <value at lookup>`, parses it as JSON and puts it at
//! `/data/<field>`; with `header`, sets that header to the value at `header_pointer` in the
//! record. Nothing to look up or no record → the delivery goes out unchanged (logged at
//! debug), since enrichment is best-effort; a kv error (e.g. no `allow: { kv: true }`) or a
//! corrupt record is an `Err`, so the endpoint's `on_error` policy decides.

use hookgate_plugin_sdk::json::{escape_token, set, to_text, validate_pointer};
use hookgate_plugin_sdk::{
    headers, kv, parse_config, serde_json, Decision, Delivery, Header, Plugin, Problem, Value,
};
use serde::Deserialize;

/// The plugin's config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Pointer into the body to the lookup value (a string or number).
    pub lookup: String,
    /// Prepended to the lookup value to form the kv key.
    #[serde(default)]
    pub prefix: String,
    /// Key under `/data` that receives the record.
    pub field: String,
    /// Header to set from the record (needs `header_pointer`).
    #[serde(default)]
    pub header: Option<String>,
    /// Pointer into the record for the header value.
    #[serde(default)]
    pub header_pointer: Option<String>,
}

/// What [`EnrichConfig::apply`] did, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The body has no usable value at `lookup`.
    NoLookupValue,
    /// The store has no record under this key.
    NoRecord(String),
    /// The record was added; `header_note` says why the header was not set, if it was not.
    Enriched {
        /// The kv key used.
        key: String,
        /// Why the header was skipped (record lacks the pointer, or the value has a control
        /// character such as CR/LF).
        header_note: Option<String>,
    },
}

impl EnrichConfig {
    /// Parses and checks `config`: what both the load-time check and each delivery run, so
    /// they agree on every config.
    pub fn load(config: &Value) -> Result<Self, Vec<Problem>> {
        let cfg: EnrichConfig = parse_config(config).map_err(|p| vec![p])?;
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }

    /// Checks the pointers, that `field` names a key, and that `header` is a name the host
    /// lets plugins send and comes with `header_pointer` (each is useless alone).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |pointer: &str, result: Result<(), String>| {
            if let Err(message) = result {
                problems.push(Problem::new(pointer, message));
            }
        };
        check("/lookup", validate_pointer(&self.lookup));
        if self.field.is_empty() {
            check("/field", Err("`field` must not be empty".to_owned()));
        }
        match (&self.header, &self.header_pointer) {
            (Some(name), Some(p)) => {
                check("/header", headers::check_name(name));
                check("/header_pointer", validate_pointer(p));
            }
            (Some(_), None) => check(
                "/header_pointer",
                Err("`header` needs `header_pointer` (where in the record its value is)".into()),
            ),
            (None, Some(_)) => check(
                "/header",
                Err("`header_pointer` needs `header` (the header to set)".into()),
            ),
            (None, None) => {}
        }
        problems
    }

    /// Enriches `body` and `hdrs` using `lookup` to read the store.
    pub fn apply(
        &self,
        body: &mut Value,
        hdrs: &mut Vec<Header>,
        lookup: impl FnOnce(&str) -> Result<Option<Vec<u8>>, String>,
    ) -> Result<Outcome, String> {
        let id = match body.pointer(&self.lookup) {
            Some(v @ (Value::String(_) | Value::Number(_))) => to_text(v),
            Some(Value::Null) | None => return Ok(Outcome::NoLookupValue),
            Some(other) => {
                return Err(format!(
                    "value at {} must be a string or number, got {other}",
                    self.lookup
                ))
            }
        };
        let key = format!("{}{id}", self.prefix);
        let Some(raw) = lookup(&key).map_err(|e| format!("kv: {e}"))? else {
            return Ok(Outcome::NoRecord(key));
        };
        let record: Value = serde_json::from_slice(&raw)
            .map_err(|e| format!("kv value under {key:?} is not JSON: {e}"))?;
        let header_note = self.set_header(&record, hdrs);
        set(
            body,
            &format!("/data/{}", escape_token(&self.field)),
            record,
        )?;
        Ok(Outcome::Enriched { key, header_note })
    }

    fn set_header(&self, record: &Value, hdrs: &mut Vec<Header>) -> Option<String> {
        let (name, pointer) = (self.header.as_deref()?, self.header_pointer.as_deref()?);
        let Some(value) = record.pointer(pointer).map(to_text) else {
            return Some(format!("record has nothing at {pointer}; {name} not set"));
        };
        // The host refuses the whole output for a control character in any header value.
        if headers::check_value(&value).is_err() {
            return Some(format!(
                "value for {name} contains a control character; not set"
            ));
        }
        headers::set(hdrs, name, value);
        None
    }
}

/// The plugin type exported to Hookgate.
pub struct Enrich;

impl Plugin for Enrich {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg = hookgate_plugin_sdk::config_with(EnrichConfig::load)
            .map_err(|e| format!("enrich: {e}"))?;
        let mut body = delivery.json().map_err(|e| format!("enrich: {e}"))?;
        let mut hdrs = delivery.headers().to_vec();
        match cfg
            .apply(&mut body, &mut hdrs, kv::get)
            .map_err(|e| format!("enrich: {e}"))?
        {
            Outcome::NoLookupValue => {
                hookgate_plugin_sdk::debug!("enrich: nothing at {}; unchanged", cfg.lookup);
                Ok(delivery.deliver_unchanged())
            }
            Outcome::NoRecord(key) => {
                hookgate_plugin_sdk::debug!("enrich: no kv record {key:?}; unchanged");
                Ok(delivery.deliver_unchanged())
            }
            Outcome::Enriched { header_note, .. } => {
                if let Some(note) = header_note {
                    hookgate_plugin_sdk::warn!("enrich: {note}");
                }
                Ok(Decision::deliver_json(&body, hdrs))
            }
        }
    }

    fn check_config(config: &Value) -> Vec<Problem> {
        EnrichConfig::load(config).err().unwrap_or_default()
    }
}

hookgate_plugin_sdk::export_plugin!(Enrich);

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
