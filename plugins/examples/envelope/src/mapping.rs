//! The body mappings, as plain functions so they test natively.

use crate::template::Template;
use hookgate_plugin_sdk::json::{to_text, validate_pointer};
use hookgate_plugin_sdk::{json, parse_config, Delivery, Event, Problem, Value};
use serde::Deserialize;

/// The plugin's config, selected by `format`.
#[derive(Debug)]
pub enum EnvelopeConfig {
    /// CloudEvents 1.0, structured content mode.
    Cloudevents(CloudEvents),
    /// `{resource, event, objectId, timestamp}`.
    Lightweight(Lightweight),
    /// A JSON template of the body (see [`crate::template`]).
    Template(Template),
}

/// Only the `format` of a config, read first so that the rest can be parsed as the format's
/// own struct: serde loses track of where it is inside `#[serde(tag)]` enums, and problems
/// must point at the exact field.
#[derive(Deserialize)]
#[serde(expecting = "an object with a `format`")]
struct Tag {
    format: Format,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Format {
    Cloudevents,
    Lightweight,
    Template,
}

/// `format: cloudevents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudEvents {
    /// The `source` attribute (a URI reference identifying the producer).
    #[serde(default = "default_source")]
    pub source: String,
    /// Where `data` is in the body. When nothing is there (e.g. a body reshaped earlier in
    /// the chain) the whole body becomes `data`.
    #[serde(default = "default_data_pointer")]
    pub data_pointer: String,
    /// Optional pointer whose value becomes the `subject` attribute.
    #[serde(default)]
    pub subject_pointer: Option<String>,
}

/// `format: lightweight`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lightweight {
    /// Pointer to the resource name; default: the first segment of the event type,
    /// Pascal-cased (`users.updated` → `Users`).
    #[serde(default)]
    pub resource_pointer: Option<String>,
    /// Pointer to the object id (`null` when absent).
    #[serde(default = "default_id_pointer")]
    pub id_pointer: String,
}

/// `format: template`, before its `body` is compiled.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFormat {
    /// The output body, with `{{…}}` placeholders in its strings.
    body: Value,
}

fn default_source() -> String {
    "hookgate".to_owned()
}

fn default_data_pointer() -> String {
    "/data".to_owned()
}

fn default_id_pointer() -> String {
    "/data/id".to_owned()
}

impl EnvelopeConfig {
    /// Parses and checks `config`: what both the load-time check and each delivery run, so
    /// they agree on every config. The format is read first, then the other fields as that
    /// format's struct, so unknown and mistyped fields point at themselves.
    pub fn load(config: &Value) -> Result<Self, Vec<Problem>> {
        let one = |p: Problem| vec![p];
        let Tag { format } = parse_config(config).map_err(one)?;
        let mut rest = config.as_object().cloned().unwrap_or_default();
        rest.remove("format");
        let rest = Value::Object(rest);
        let cfg = match format {
            Format::Cloudevents => Self::Cloudevents(parse_config(&rest).map_err(one)?),
            Format::Lightweight => Self::Lightweight(parse_config(&rest).map_err(one)?),
            Format::Template => {
                let TemplateFormat { body } = parse_config(&rest).map_err(one)?;
                Self::Template(Template::compile(&body).map_err(under_body)?)
            }
        };
        let problems = cfg.problems();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }

    /// Checks the pointers and the CloudEvents `source` (which must be non-empty). A template
    /// is checked as it compiles, in [`EnvelopeConfig::load`].
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut pointer = |at: &str, p: Option<&String>| {
            if let Some(Err(message)) = p.map(|p| validate_pointer(p)) {
                problems.push(Problem::new(at, message));
            }
        };
        match self {
            EnvelopeConfig::Cloudevents(ce) => {
                pointer("/data_pointer", Some(&ce.data_pointer));
                pointer("/subject_pointer", ce.subject_pointer.as_ref());
                if ce.source.is_empty() {
                    let message = "`source` must not be empty (a URI reference such as `hookgate`)";
                    problems.push(Problem::new("/source", message));
                }
            }
            EnvelopeConfig::Lightweight(lw) => {
                pointer("/resource_pointer", lw.resource_pointer.as_ref());
                pointer("/id_pointer", Some(&lw.id_pointer));
            }
            EnvelopeConfig::Template(_) => {}
        }
        problems
    }

    /// The content type the new body needs, if it differs from plain JSON.
    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            EnvelopeConfig::Cloudevents(_) => Some("application/cloudevents+json"),
            EnvelopeConfig::Lightweight(_) | EnvelopeConfig::Template(_) => None,
        }
    }

    /// Maps the `body` of `delivery` to the new body.
    pub fn wrap(&self, delivery: &Delivery, body: Value) -> Value {
        match self {
            EnvelopeConfig::Cloudevents(ce) => ce.wrap(delivery.event(), body),
            EnvelopeConfig::Lightweight(lw) => lw.wrap(delivery.event(), &body),
            EnvelopeConfig::Template(t) => t.render(delivery, &body),
        }
    }
}

/// Template problems point into the template; the config has it under `/body`.
fn under_body(problems: Vec<Problem>) -> Vec<Problem> {
    problems
        .into_iter()
        .map(|p| Problem::new(format!("/body{}", p.pointer), p.message))
        .collect()
}

impl CloudEvents {
    fn wrap(&self, event: &Event, mut body: Value) -> Value {
        let subject = self
            .subject_pointer
            .as_deref()
            .and_then(|p| body.pointer(p))
            .map(to_text);
        let data = match body.pointer_mut(&self.data_pointer) {
            Some(v) => v.take(),
            None => body,
        };
        let mut ce = json!({
            "specversion": "1.0",
            "id": event.id,
            "source": self.source,
            "type": event.event_type,
            "time": event.timestamp,
            "datacontenttype": "application/json",
            "data": data,
        });
        if let Some(subject) = subject {
            ce["subject"] = Value::String(subject);
        }
        ce
    }
}

impl Lightweight {
    fn wrap(&self, event: &Event, body: &Value) -> Value {
        let first = event.event_type.split('.').next().unwrap_or_default();
        let last = event.event_type.rsplit('.').next().unwrap_or_default();
        let resource = self
            .resource_pointer
            .as_deref()
            .and_then(|p| body.pointer(p))
            .map(to_text)
            .unwrap_or_else(|| pascal_case(first));
        json!({
            "resource": resource,
            "event": pascal_case(last),
            "objectId": body.pointer(&self.id_pointer).cloned().unwrap_or(Value::Null),
            "timestamp": event.timestamp,
        })
    }
}

/// `updated` → `Updated`, `payment_failed` → `PaymentFailed`, `sub-item` → `SubItem`.
pub fn pascal_case(s: &str) -> String {
    s.split(['_', '-', ' '])
        .flat_map(|word| {
            let mut chars = word.chars();
            let head = chars.next().into_iter().flat_map(char::to_uppercase);
            head.chain(chars)
        })
        .collect()
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
