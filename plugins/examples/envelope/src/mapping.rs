//! The body mappings, as plain functions so they test natively.

use hookgate_plugin_sdk::json::{to_text, validate_pointer};
use hookgate_plugin_sdk::{json, Event, Value};
use serde::Deserialize;

/// The plugin's config, selected by `format`.
#[derive(Debug, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase", deny_unknown_fields)]
pub enum EnvelopeConfig {
    /// CloudEvents 1.0, structured content mode.
    Cloudevents {
        /// The `source` attribute (a URI reference identifying the producer).
        #[serde(default = "default_source")]
        source: String,
        /// Where `data` is in the body. When nothing is there (e.g. a body reshaped earlier in
        /// the chain) the whole body becomes `data`.
        #[serde(default = "default_data_pointer")]
        data_pointer: String,
        /// Optional pointer whose value becomes the `subject` attribute.
        #[serde(default)]
        subject_pointer: Option<String>,
    },
    /// `{resource, event, objectId, timestamp}`.
    Lightweight {
        /// Pointer to the resource name; default: the first segment of the event type,
        /// Pascal-cased (`users.updated` → `Users`).
        #[serde(default)]
        resource_pointer: Option<String>,
        /// Pointer to the object id (`null` when absent).
        #[serde(default = "default_id_pointer")]
        id_pointer: String,
    },
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
    /// Checks the pointers and the CloudEvents `source` (which must be non-empty).
    pub fn validate(&self) -> Result<(), String> {
        match self {
            EnvelopeConfig::Cloudevents {
                source,
                data_pointer,
                subject_pointer,
            } => {
                if source.is_empty() {
                    return Err("`source` must not be empty".to_owned());
                }
                validate_pointer(data_pointer)?;
                subject_pointer.as_deref().map_or(Ok(()), validate_pointer)
            }
            EnvelopeConfig::Lightweight {
                resource_pointer,
                id_pointer,
            } => {
                validate_pointer(id_pointer)?;
                resource_pointer.as_deref().map_or(Ok(()), validate_pointer)
            }
        }
    }

    /// The content type the new body needs, if it differs from plain JSON.
    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            EnvelopeConfig::Cloudevents { .. } => Some("application/cloudevents+json"),
            EnvelopeConfig::Lightweight { .. } => None,
        }
    }

    /// Maps `body` of `event` to the new body.
    pub fn wrap(&self, event: &Event, mut body: Value) -> Value {
        match self {
            EnvelopeConfig::Cloudevents {
                source,
                data_pointer,
                subject_pointer,
            } => {
                let subject = subject_pointer
                    .as_deref()
                    .and_then(|p| body.pointer(p))
                    .map(to_text);
                let data = match body.pointer_mut(data_pointer) {
                    Some(v) => v.take(),
                    None => body,
                };
                let mut ce = json!({
                    "specversion": "1.0",
                    "id": event.id,
                    "source": source,
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
            EnvelopeConfig::Lightweight {
                resource_pointer,
                id_pointer,
            } => {
                let first = event.event_type.split('.').next().unwrap_or_default();
                let last = event.event_type.rsplit('.').next().unwrap_or_default();
                let resource = resource_pointer
                    .as_deref()
                    .and_then(|p| body.pointer(p))
                    .map(to_text)
                    .unwrap_or_else(|| pascal_case(first));
                json!({
                    "resource": resource,
                    "event": pascal_case(last),
                    "objectId": body.pointer(id_pointer).cloned().unwrap_or(Value::Null),
                    "timestamp": event.timestamp,
                })
            }
        }
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
