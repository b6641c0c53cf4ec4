//! A Hookgate plugin. Build: `cargo build --release --target wasm32-wasip2`; the component is
//! `target/wasm32-wasip2/release/<name>.wasm` (dashes in the crate name become underscores).
//! Test natively with `cargo test`, or against the real runtime with `hookgate plugin test`.

use hookgate_plugin_sdk::{config, headers, Decision, Delivery, Plugin};
use serde::Deserialize;

/// This plugin's `config` from the endpoint's `plugins:` entry. Every field has a default,
/// so the plugin also runs without one; unknown fields are rejected to catch typos.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Event types to drop instead of delivering.
    skip_types: Vec<String>,
    /// Extra header to send, as `[name, value]`.
    header: Option<(String, String)>,
}

/// The plugin.
pub struct MyPlugin;

impl Plugin for MyPlugin {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg: Config = config()?;
        if cfg.skip_types.iter().any(|t| t == delivery.event_type()) {
            return Ok(Decision::drop(format!(
                "{} is in skip_types",
                delivery.event_type()
            )));
        }
        let mut body = delivery.json()?;
        if let Some(data) = body.get_mut("data").and_then(|d| d.as_object_mut()) {
            data.insert("seen_by_plugin".into(), true.into());
        }
        let (_, mut hdrs) = delivery.into_body_and_headers();
        if let Some((name, value)) = cfg.header {
            headers::set(&mut hdrs, &name, value);
        }
        Ok(Decision::deliver_json(&body, hdrs))
    }
}

hookgate_plugin_sdk::export_plugin!(MyPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use hookgate_plugin_sdk::{json, testing};

    #[test]
    fn marks_data_and_adds_header() {
        testing::reset();
        testing::set_config(&json!({"header": ["X-Team", "billing"]}));
        let out =
            MyPlugin::handle(testing::delivery("invoice.paid", &json!({"amount": 1}))).unwrap();
        assert_eq!(
            out.json().unwrap()["data"],
            json!({"amount": 1, "seen_by_plugin": true})
        );
        assert_eq!(headers::get(out.headers(), "x-team"), Some("billing"));
    }

    #[test]
    fn drops_skipped_types() {
        testing::reset();
        testing::set_config(&json!({"skip_types": ["invoice.paid"]}));
        let out = MyPlugin::handle(testing::delivery("invoice.paid", &json!({}))).unwrap();
        assert_eq!(out, Decision::drop("invoice.paid is in skip_types"));
    }
}
