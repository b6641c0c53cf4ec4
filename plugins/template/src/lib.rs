//! A Hookgate plugin. Build: `cargo build --release --target wasm32-wasip2`; the component is
//! `target/wasm32-wasip2/release/<name>.wasm` (dashes in the crate name become underscores).
//! Test natively with `cargo test`, or against the real runtime with `hookgate plugin test`.

use hookgate_plugin_sdk::{
    config_with, headers, parse_config, Decision, Delivery, Plugin, Problem, Value,
};
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

impl Config {
    /// Parses and checks the config. `handle` and `check_config` both call it, so the gateway
    /// refuses at load exactly the configs that would fail a delivery. Each problem points at
    /// the offending value (`/header/0` is the header's name).
    fn load(config: &Value) -> Result<Config, Vec<Problem>> {
        let cfg: Config = parse_config(config).map_err(|p| vec![p])?;
        let mut problems = Vec::new();
        if let Some((name, value)) = &cfg.header {
            // The host refuses such a header in the output, failing every delivery.
            if let Err(message) = headers::check_name(name) {
                problems.push(Problem::new("/header/0", message));
            }
            if let Err(message) = headers::check_value(value) {
                problems.push(Problem::new("/header/1", message));
            }
        }
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(problems)
        }
    }
}

/// The plugin.
pub struct MyPlugin;

impl Plugin for MyPlugin {
    fn handle(delivery: Delivery) -> Result<Decision, String> {
        let cfg = config_with(Config::load)?;
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

    /// Optional: the gateway calls it when it loads a configuration and refuses the config
    /// with `file:line:column` for each problem. Without it every config is accepted at load
    /// and a mistake shows up as an error on the first delivery instead.
    fn check_config(config: &Value) -> Vec<Problem> {
        Config::load(config).err().unwrap_or_default()
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

    #[test]
    fn a_good_config_passes_the_check() {
        let config = json!({"skip_types": ["invoice.paid"], "header": ["X-Team", "billing"]});
        assert_eq!(testing::check_config::<MyPlugin>(config), []);
    }

    #[test]
    fn a_typo_is_refused_at_load_where_it_is() {
        let problems = testing::check_config::<MyPlugin>(json!({"skip_type": []}));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "/skip_type");
    }

    #[test]
    fn a_header_the_host_would_refuse_is_refused_at_load() {
        let problems = testing::check_config::<MyPlugin>(json!({"header": ["X Team", "v"]}));
        assert_eq!(
            problems,
            [Problem::new(
                "/header/0",
                r#"name "X Team" is not an HTTP token"#
            )]
        );
    }
}
