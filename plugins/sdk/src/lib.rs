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
//!
//! # Example
//!
//! ```
//! use hookgate_plugin_sdk::{config, Decision, Delivery, Plugin};
//! use serde::Deserialize;
//!
//! /// Drops test-mode events unless the endpoint's config says otherwise.
//! struct SkipTestEvents;
//!
//! #[derive(Deserialize, Default)]
//! #[serde(default)]
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
//! }
//!
//! hookgate_plugin_sdk::export_plugin!(SkipTestEvents);
//!
//! // Off wasm, the host imports are served by an in-process mock, so plugins unit-test with a
//! // plain `cargo test`.
//! # #[cfg(not(target_arch = "wasm32"))]
//! # {
//! use hookgate_plugin_sdk::testing;
//! testing::reset();
//! let d = testing::delivery("invoice.paid", &serde_json::json!({"livemode": false}));
//! assert!(SkipTestEvents::handle(d).unwrap().is_drop());
//! # }
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component Hookgate loads.
#![deny(missing_docs)]

mod delivery;
mod host;
mod plugin_config;

pub mod headers;
pub mod http;
pub mod json;
pub mod json_edit;
pub mod kv;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use delivery::{Decision, Delivery};
pub use plugin_config::{config, config_text};
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

/// What a plugin implements: one call per delivery.
///
/// There is no `self`: Hookgate may instantiate the component fresh for every delivery, so
/// state kept in memory between calls is not reliable. Persist with [`kv`] instead.
pub trait Plugin {
    /// Decide what to send for one delivery. An `Err` follows the endpoint's `on_error` policy
    /// (retry, skip or drop), so return it for transient or configuration problems.
    fn handle(delivery: Delivery) -> Result<Decision, String>;
}

/// Makes a type implementing [`Plugin`] the component's `handler` export.
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
