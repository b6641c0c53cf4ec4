//! Hookgate: a self-hosted, single-binary webhook gateway.
//!
//! An application publishes events over HTTP; Hookgate makes each one durable before it
//! answers, fans it out to the endpoints that subscribe to it, signs every request, and delivers
//! it with retries, per-endpoint limits and a full delivery log.
//!
//! # Layout
//!
//! Data flows one way, and each module imports only from modules before it in this list:
//!
//! - [`config`]: YAML → a validated [`config::Config`] (typed durations, sizes, CIDRs), `${VAR}`
//!   interpolation, diagnostics with file:line:column and field path, `diff` for reloads, and
//!   the file watcher.
//! - [`api`]: the axum router, built from one route table where every route carries its access
//!   rule: publish, reads, endpoint management (runtime endpoints, rotation, recover), minted
//!   API keys, audit log, stats, metrics and the generated OpenAPI document; problem+json errors
//!   with stable codes. Validates, decides fan-out, hands events to the store.
//! - [`store`]: the [`store::Store`] trait and [`store::RedbStore`], the embedded default with a
//!   group-commit writer thread. Owns the due index the scheduler reads.
//! - [`dispatch`]: fan-out, the live endpoint registry, and the scheduler that starts due
//!   deliveries within global, per-endpoint and rate limits; workers record each outcome.
//! - [`signing`]: pure sign/verify for the `standard`, `stripe` and `github` schemes (also used
//!   by `hookgate verify`).
//! - [`delivery`]: one attempt — headers, signature, the SSRF-guarded POST (the only outbound
//!   HTTP client), classification, retry arithmetic.
//!
//! [`guard`] is the SSRF policy shared across the flow: config applies its static URL check at
//! load, delivery applies it (plus DNS vetting) on every attempt. It imports nothing of ours.
//! [`metrics`] is the other leaf: process counters and histograms anyone may record into,
//! rendered for `/metrics`. [`builtin_plugins`] (the shipped plugins' bytes, built from
//! `plugins/` by `build.rs`) and [`wasm_toolchain`] (installing the wasm target before a plugin
//! build; also compiled into `build.rs`) are leaves too.
//!
//! [`app`] wires them together and owns shutdown and reload; [`cli`] holds the command-line
//! types and the API client. `main.rs` only parses the command line and calls them.

pub mod api;
pub mod app;
pub mod builtin_plugins;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod dispatch;
pub mod guard;
pub mod metrics;
pub mod plugins;
pub mod signing;
pub mod store;
pub mod wasm_toolchain;

/// Tenant of events and endpoints that name none: single-tenant users never mention tenants.
pub const DEFAULT_TENANT: &str = "default";
