//! Write [Hookgate](https://github.com/) webhook plugins in a few lines of Rust.
//!
//! A plugin is a WebAssembly component (`wasm32-wasip2`) implementing the
//! `hookgate:plugin/plugin` world (`wit/plugin.wit` in the Hookgate repository). Hookgate calls
//! it once per delivery, before the first attempt; the plugin answers [`Decision::deliver`]
//! (possibly changed body and headers), [`Decision::drop`] (the delivery becomes `filtered`) or
//! an `Err` (the endpoint's `on_error` policy decides).
//!
//! This crate hides the generated bindings behind plain Rust: implement [`Plugin`], call
//! [`export_plugin!`], and use [`config`], [`log`], [`kv`] and [`http`] for the host imports.
//! [`Plugin::check_config`] lets the gateway refuse a bad config when it loads one, with the
//! field's `file:line:column`, instead of failing deliveries later.
//!
//! # Example
//!
//! ```
//! use hookgate_plugin_sdk::{check_as, config, Decision, Delivery, Plugin, Problem, Value};
//! use serde::Deserialize;
//!
//! /// Drops test-mode events unless the endpoint's config says otherwise.
//! struct SkipTestEvents;
//!
//! #[derive(Deserialize, Default)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     keep_test_events: bool,
//! }
//!
//! impl Plugin for SkipTestEvents {
//!     fn handle(delivery: Delivery) -> Result<Decision, String> {
//!         let cfg: Config = config()?;
//!         let body = delivery.json()?;
//!         if body.pointer("/data/livemode") == Some(&false.into()) && !cfg.keep_test_events {
//!             hookgate_plugin_sdk::info!("dropping test event {}", delivery.event().id);
//!             return Ok(Decision::drop("test-mode event"));
//!         }
//!         Ok(delivery.deliver_unchanged())
//!     }
//!
//!     // The same typed parse as `config()` above, so what the gateway reports at load is what
//!     // a delivery would have failed with.
//!     fn check_config(config: &Value) -> Vec<Problem> {
//!         check_as::<Config>(config)
//!     }
//! }
//!
//! hookgate_plugin_sdk::export_plugin!(SkipTestEvents);
//!
//! // Off wasm, the host imports are served by an in-process mock, so plugins unit-test with a
//! // plain `cargo test`.
//! # #[cfg(not(target_arch = "wasm32"))]
//! # {
//! use hookgate_plugin_sdk::{json, testing};
//! testing::reset();
//! let d = testing::delivery("invoice.paid", &json!({"livemode": false}));
//! assert!(SkipTestEvents::handle(d).unwrap().is_drop());
//! assert_eq!(
//!     testing::check_config::<SkipTestEvents>(json!({"keep_test_events": "yes"})),
//!     [Problem::new("/keep_test_events", r#"invalid type: string "yes", expected a boolean"#)]
//! );
//! # }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component Hookgate loads.
#![deny(missing_docs)]

mod delivery;
mod host;
mod plugin_config;
mod problem;

pub mod headers;
pub mod http;
pub mod json;
pub mod json_edit;
pub mod kv;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use delivery::{Decision, Delivery};
pub use plugin_config::{check_as, config, config_text, config_with, parse_config};
pub use problem::Problem;
pub use serde_json::{self, json, Value};

/// Types from the WIT package, re-exported so plugins never name the generated modules.
pub use bindings::hookgate::plugin::types::{Endpoint, Event, Header};

/// Bindings generated from `wit/plugin.wit`. Public only so [`export_plugin!`] can reach them
/// from the plugin's crate; plugins should use the wrappers instead.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "hookgate:plugin/plugin",
        additional_derives: [PartialEq, Eq],
        pub_export_macro: true,
        export_macro_name: "__export_hookgate_world",
        default_bindings_module: "hookgate_plugin_sdk::bindings",
    });
}

/// What a plugin implements: one call per delivery, and a check of its config at load.
///
/// There is no `self`: Hookgate may instantiate the component fresh for every delivery, so
/// state kept in memory between calls is not reliable. Persist with [`kv`] instead.
pub trait Plugin {
    /// Decide what to send for one delivery. An `Err` follows the endpoint's `on_error` policy
    /// (retry, skip or drop), so return it for transient or configuration problems.
    fn handle(delivery: Delivery) -> Result<Decision, String>;

    /// Every problem in a chain entry's `config` (`null` when absent), found when the gateway
    /// loads a configuration (serve, hot reload, the endpoint API, `hookgate config check`):
    /// each one refuses the configuration with its `file:line:column` instead of failing
    /// deliveries later.
    ///
    /// Cover every configuration error `handle` can return, so a config this accepts never
    /// fails a delivery. The simplest way is one function that both call: `handle` through
    /// [`config_with`] (or [`config`] for a plain typed parse) and this through [`parse_config`]
    /// or [`check_as`]. It must not use [`kv`] or [`http`]: the host does not grant them here.
    ///
    /// The default accepts everything (plugins written before the check existed keep
    /// compiling, and their configs are checked at the first delivery as before).
    fn check_config(_config: &Value) -> Vec<Problem> {
        Vec::new()
    }
}

/// Makes a type implementing [`Plugin`] the component's `handler` and `validate` exports.
///
/// Use it exactly once per plugin crate, at the crate root. On non-wasm targets it expands to
/// nothing, so the same crate builds and unit-tests natively.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct HookgateExport;
            impl $crate::bindings::exports::hookgate::plugin::handler::Guest for HookgateExport {
                fn handle(
                    input: $crate::bindings::hookgate::plugin::types::Delivery,
                ) -> ::core::result::Result<
                    $crate::bindings::hookgate::plugin::types::Decision,
                    ::std::string::String,
                > {
                    $crate::__handle::<$plugin>(input)
                }
            }
            impl $crate::bindings::exports::hookgate::plugin::validate::Guest for HookgateExport {
                fn check_config(config: ::std::string::String) -> ::std::vec::Vec<$crate::Problem> {
                    $crate::__check_config::<$plugin>(&config)
                }
            }
            $crate::bindings::__export_hookgate_world!(HookgateExport);
        };
    };
}

/// Glue between the generated export and [`Plugin::handle`]; used by [`export_plugin!`].
#[doc(hidden)]
pub fn __handle<P: Plugin>(
    input: bindings::hookgate::plugin::types::Delivery,
) -> Result<bindings::hookgate::plugin::types::Decision, String> {
    P::handle(Delivery::from(input)).map(Into::into)
}

/// Glue between the generated export and [`Plugin::check_config`]; used by [`export_plugin!`]
/// and `testing::check_config`. The host sends JSON; text that is not is one problem with the
/// whole config rather than a trap.
#[doc(hidden)]
pub fn __check_config<P: Plugin>(config: &str) -> Vec<Problem> {
    match plugin_config::parse_text(config) {
        Ok(value) => P::check_config(&value),
        Err(message) => vec![Problem::new("", message)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Unchecked;
    impl Plugin for Unchecked {
        fn handle(delivery: Delivery) -> Result<Decision, String> {
            Ok(delivery.deliver_unchanged())
        }
    }

    #[test]
    fn the_default_check_accepts_any_config() {
        let config = json!({"anything": [1, "two"]});
        assert_eq!(testing::check_config::<Unchecked>(config), []);
    }

    #[test]
    fn config_text_that_is_not_json_is_one_problem_with_the_whole_config() {
        let problems = testing::check_config_text::<Unchecked>("{");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].pointer, "");
        assert!(problems[0].message.starts_with("plugin config is not JSON"));
    }

    #[test]
    fn the_check_sees_the_same_config_through_the_host() {
        struct Echo;
        impl Plugin for Echo {
            fn handle(delivery: Delivery) -> Result<Decision, String> {
                Ok(delivery.deliver_unchanged())
            }
            fn check_config(config: &Value) -> Vec<Problem> {
                vec![Problem::new("", format!("{config} / {}", config_text()))]
            }
        }
        let problems = testing::check_config::<Echo>(json!({"a": 1}));
        assert_eq!(problems[0].message, r#"{"a":1} / {"a":1}"#);
    }
}
