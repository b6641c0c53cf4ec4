//! The one `bindgen!` for the `hookgate:plugin@0.1.1` world (`wit/plugin.wit`, the contract).
//!
//! The host does not use the generated world type (`Plugin`/`PluginPre`): it requires every
//! export, and components built against 0.1.0 have no `validate`. It loads `handler` (always)
//! and `validate` (when present) by their own indices instead; export lookups are
//! semver-aware, so `handler@0.1.1` finds a 0.1.0 component's `handler@0.1.0`.
//!
//! `path` is resolved against `CARGO_MANIFEST_DIR`, so this file works unchanged in any crate
//! with the WIT at `wit/`. The export is async (called with `call_async` so epoch deadlines can
//! yield, see `call.rs`); `kv` and `http` imports are async because their backends do I/O;
//! `log` and `config` are plain synchronous functions.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "wit",
    imports: {
        "hookgate:plugin/kv": async,
        "hookgate:plugin/http": async,
    },
    exports: { default: async },
});

pub(super) use self::exports::hookgate::plugin::handler::GuestIndices as HandlerIndices;
pub(super) use self::exports::hookgate::plugin::validate::{
    GuestIndices as ValidateIndices, Problem,
};
pub(super) use self::hookgate::plugin::types::{Decision, Delivery, Endpoint, Event, Header};

/// Interface names the host links, used to explain a component's unknown imports.
pub(super) const WORLD_IMPORTS: [&str; 5] = [
    "hookgate:plugin/types@0.1.1",
    "hookgate:plugin/log@0.1.1",
    "hookgate:plugin/config@0.1.1",
    "hookgate:plugin/kv@0.1.1",
    "hookgate:plugin/http@0.1.1",
];

/// The export every plugin must have.
pub(super) const HANDLER_EXPORT: &str = "hookgate:plugin/handler@0.1.1";
