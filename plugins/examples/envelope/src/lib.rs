//! `envelope`: rewraps the body for receivers that expect a standard or a minimal shape.
//!
//! * `{"format": "cloudevents", "source": "hookgate"}`: CloudEvents 1.0 structured mode
//!   (`specversion`, `id`, `source`, `type`, `time`, `datacontenttype`, `data`, and `subject`
//!   with `subject_pointer`), sent with `content-type: application/cloudevents+json`.
//! * `{"format": "lightweight", "resource_pointer": "/data/resource", "id_pointer": "/data/id"}`:
//!   `{resource, event, objectId, timestamp}`, for receivers that fetch the object themselves.
//! * `{"format": "template", "body": {"event": "{{event.type}}", "data": "{{/data}}"}}`: any
//!   other shape, from a JSON template (see [`template`]).
//!
//! Ids, type and time come from the event record rather than the body, so the mapping works
//! even when an earlier plugin in the chain reshaped the body.

pub mod mapping;
pub mod template;

use hookgate_plugin_sdk::{headers, Decision, Delivery, Plugin, Problem, Value};
use mapping::EnvelopeConfig;

/// The plugin type exported to Hookgate.
pub struct Envelope;

impl Plugin for Envelope {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg = hookgate_plugin_sdk::config_with(EnvelopeConfig::load)
            .map_err(|e| format!("envelope: {e}"))?;
        let body = delivery.json().map_err(|e| format!("envelope: {e}"))?;
        let out = cfg.wrap(&delivery, body);
        let (_, mut hdrs) = delivery.into_body_and_headers();
        if let Some(content_type) = cfg.content_type() {
            headers::set(&mut hdrs, "content-type", content_type);
        }
        Ok(Decision::deliver_json(&out, hdrs))
    }

    fn check_config(config: &Value) -> Vec<Problem> {
        EnvelopeConfig::load(config).err().unwrap_or_default()
    }
}

hookgate_plugin_sdk::export_plugin!(Envelope);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::{json, testing};

    #[test]
    fn cloudevents_through_the_host_api() {
        testing::reset();
        testing::set_config(&json!({"format": "cloudevents", "source": "https://shop.example"}));
        let d = testing::delivery("invoice.paid", &json!({"amount": 5}));
        let out = Envelope::handle(d).unwrap();
        assert_eq!(out.json().unwrap()["source"], "https://shop.example");
        assert_eq!(
            headers::get(out.headers(), "Content-Type"),
            Some("application/cloudevents+json")
        );
    }

    #[test]
    fn a_template_through_the_host_api() {
        testing::reset();
        testing::set_config(&json!({"format": "template",
            "body": {"event": "{{event.type}}", "timestamp": "{{event.timestamp}}", "data": "{{/data}}"}}));
        let d = testing::delivery("invoice.paid", &json!({"amount": 5}));
        let out = Envelope::handle(d).unwrap();
        assert_eq!(
            out.json().unwrap(),
            json!({"event": "invoice.paid", "timestamp": "2024-01-02T03:04:05Z", "data": {"amount": 5}})
        );
        assert_eq!(headers::get(out.headers(), "Content-Type"), None);
    }

    #[test]
    fn a_delivery_without_a_format_fails_with_the_problem_the_check_reports() {
        testing::reset();
        let d = testing::delivery("invoice.paid", &json!({}));
        assert_eq!(
            Envelope::handle(d).unwrap_err(),
            "envelope: invalid plugin config: /format: missing field `format`"
        );
        assert_eq!(
            testing::check_config::<Envelope>(Value::Null),
            [Problem::new("/format", "missing field `format`")]
        );
    }
}
