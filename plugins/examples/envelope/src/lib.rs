//! `envelope`: rewraps the body for receivers that expect a standard or a minimal shape.
//!
//! * `{"format": "cloudevents", "source": "hookgate"}`: CloudEvents 1.0 structured mode
//!   (`specversion`, `id`, `source`, `type`, `time`, `datacontenttype`, `data`, and `subject`
//!   with `subject_pointer`), sent with `content-type: application/cloudevents+json`.
//! * `{"format": "lightweight", "resource_pointer": "/data/resource", "id_pointer": "/data/id"}`:
//!   `{resource, event, objectId, timestamp}`, for receivers that fetch the object themselves.
//!
//! Ids, type and time come from the event record rather than the body, so the mapping works
//! even when an earlier plugin in the chain reshaped the body.

pub mod mapping;

use hookgate_plugin_sdk::{headers, Decision, Delivery, Plugin};
use mapping::EnvelopeConfig;

/// The plugin type exported to Hookgate.
pub struct Envelope;

impl Plugin for Envelope {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: EnvelopeConfig =
            hookgate_plugin_sdk::config().map_err(|e| format!("envelope: {e}"))?;
        cfg.validate().map_err(|e| format!("envelope: {e}"))?;
        let body = delivery.json().map_err(|e| format!("envelope: {e}"))?;
        let out = cfg.wrap(delivery.event(), body);
        let (_, mut hdrs) = delivery.into_body_and_headers();
        if let Some(content_type) = cfg.content_type() {
            headers::set(&mut hdrs, "content-type", content_type);
        }
        Ok(Decision::deliver_json(&out, hdrs))
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
    fn format_is_required() {
        testing::reset();
        let d = testing::delivery("invoice.paid", &json!({}));
        let e = Envelope::handle(d).unwrap_err();
        assert!(
            e.starts_with("envelope: plugin config is required: missing field `format`"),
            "{e}"
        );
    }
}
