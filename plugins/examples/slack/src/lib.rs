//! `slack`: turns the delivery into a Slack incoming-webhook message `{"text": …}`.
//!
//! ```json
//! {"text": "Invoice {{/data/invoice}} paid: {{/data/amount}}"}
//! ```
//!
//! Each `{{/pointer}}` is replaced by the value at that pointer in the body (strings without
//! quotes, other values as JSON, missing ones as nothing). Without `text` the message is
//! `` `<event type>` event <event id> ``. Substituted values are escaped for Slack (`&`, `<`,
//! `>`) so event data cannot ping `<!channel>` or forge links; set `"escape": false` to opt out.

use hookgate_plugin_sdk::json::{placeholders, render, to_text, validate_pointer};
use hookgate_plugin_sdk::{json, parse_config, Decision, Delivery, Event, Plugin, Problem, Value};
use serde::Deserialize;

/// The plugin's config.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlackConfig {
    /// Message template with `{{/pointer}}` placeholders.
    pub text: Option<String>,
    /// Escape substituted values for Slack's mrkdwn (default true).
    pub escape: bool,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            text: None,
            escape: true,
        }
    }
}

impl SlackConfig {
    /// Parses and checks `config`: what both the load-time check and each delivery run, so
    /// they agree on every config.
    pub fn load(config: &Value) -> Result<Self, Vec<Problem>> {
        let cfg: SlackConfig = parse_config(config).map_err(|p| vec![p])?;
        match cfg.problem() {
            None => Ok(cfg),
            Some(p) => Err(vec![p]),
        }
    }

    /// The first placeholder in `text` that is not a valid pointer, so typos fail loudly.
    /// Braces that hold no pointer (`{{name}}`) are Slack's own text and stay as they are.
    pub fn problem(&self) -> Option<Problem> {
        let text = self.text.as_deref()?;
        let message = placeholders(text)
            .iter()
            .find_map(|p| validate_pointer(p).err())?;
        Some(Problem::new("/text", message))
    }

    /// The message text. `body` is only parsed when the template has placeholders, so the
    /// default message works for non-JSON bodies too.
    pub fn message(
        &self,
        event: &Event,
        body: impl FnOnce() -> Result<Value, String>,
    ) -> Result<String, String> {
        let esc = |s: String| if self.escape { escape(&s) } else { s };
        let Some(template) = &self.text else {
            return Ok(format!(
                "`{}` event {}",
                esc(event.event_type.clone()),
                esc(event.id.clone())
            ));
        };
        if placeholders(template).is_empty() {
            return Ok(template.clone());
        }
        let doc = body()?;
        Ok(render(template, |p| {
            doc.pointer(p).map(|v| esc(to_text(v)))
        }))
    }
}

/// Slack's three control characters in message text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The plugin type exported to Hookgate.
pub struct Slack;

impl Plugin for Slack {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg = hookgate_plugin_sdk::config_with(SlackConfig::load)
            .map_err(|e| format!("slack: {e}"))?;
        let text = cfg
            .message(delivery.event(), || delivery.json())
            .map_err(|e| format!("slack: {e}"))?;
        let (_, headers) = delivery.into_body_and_headers();
        Ok(Decision::deliver_json(&json!({ "text": text }), headers))
    }

    fn check_config(config: &Value) -> Vec<Problem> {
        SlackConfig::load(config).err().unwrap_or_default()
    }
}

hookgate_plugin_sdk::export_plugin!(Slack);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::testing;

    fn event() -> Event {
        testing::delivery("invoice.paid", &json!({}))
            .event()
            .clone()
    }

    fn cfg(text: &str) -> SlackConfig {
        SlackConfig {
            text: Some(text.to_owned()),
            escape: true,
        }
    }

    #[test]
    fn template_substitutes_and_escapes() {
        let body = json!({"data": {"invoice": "in_<1>", "amount": 12.5}});
        let c = cfg("Invoice {{/data/invoice}} paid: {{/data/amount}} {{/data/none}}!");
        assert_eq!(
            c.message(&event(), || Ok(body.clone())).unwrap(),
            "Invoice in_&lt;1&gt; paid: 12.5 !"
        );
        let raw = SlackConfig {
            escape: false,
            ..cfg("{{/data/invoice}}")
        };
        assert_eq!(raw.message(&event(), || Ok(body)).unwrap(), "in_<1>");
    }

    #[test]
    fn default_text_needs_no_json() {
        let c = SlackConfig::default();
        let text = c.message(&event(), || Err("never parsed".into())).unwrap();
        assert_eq!(text, "`invoice.paid` event evt_test");
        assert_eq!(
            cfg("static").message(&event(), || Err("x".into())).unwrap(),
            "static"
        );
    }

    fn problems(config: Value) -> Vec<Problem> {
        testing::check_config::<Slack>(config)
    }

    #[test]
    fn a_good_config_passes_the_check() {
        assert_eq!(
            problems(json!({"text": "{{/data/id}} {{not a pointer}}"})),
            []
        );
        assert_eq!(problems(Value::Null), []);
    }

    #[test]
    fn a_bad_placeholder_points_at_the_text() {
        assert_eq!(
            problems(json!({"text": "ok {{/a}} bad {{/a~x}}"})),
            [Problem::new(
                "/text",
                r#"JSON pointer "/a~x" has a '~' not followed by 0 or 1"#
            )]
        );
    }

    #[test]
    fn a_wrong_type_points_at_the_field() {
        let p = problems(json!({"escape": "no"}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pointer, "/escape");
        assert!(p[0].message.contains("expected a boolean"), "{}", p[0]);
    }

    #[test]
    fn an_unknown_field_points_at_itself() {
        let p = problems(json!({"txt": "hi"}));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].pointer, "/txt");
        assert!(
            p[0].message.contains("expected `text` or `escape`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn through_the_host_api() {
        testing::reset();
        testing::set_config(&json!({"text": "Invoice {{/data/invoice}} paid: {{/data/amount}}"}));
        let d = testing::delivery("invoice.paid", &json!({"invoice": "in_1", "amount": 99}));
        let out = Slack::handle(d).unwrap();
        assert_eq!(
            out.json().unwrap(),
            json!({"text": "Invoice in_1 paid: 99"})
        );
    }
}
