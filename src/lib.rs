//! Hookgate: a self-hosted, single-binary webhook gateway.
//!
//! An application publishes events over HTTP; Hookgate makes each one durable before it
//! answers, fans it out to the endpoints that subscribe to it, signs every request, and delivers
//! it with retries, per-endpoint limits and a full delivery log.
//!
//! # Layout
//!
//! Data flows config → api → store → dispatch → delivery, but the import rules are not "only
//! from modules before it": each module has a short list of what it must *not* name, checked
//! against the source by `tests/module_rules.rs` (one narrow, named exception there).
//!
//! - [`config`]: YAML → a validated [`config::Config`] (typed durations, sizes, CIDRs), `${VAR}`
//!   interpolation, diagnostics with file:line:column, field path and a typed code, `diff` for
//!   reloads, and the file watcher. Uses [`signing`] (secret and scheme types) and [`guard`]
//!   (the static URL check). Must not import `api`, `store`, `dispatch`, `delivery`, `plugins`,
//!   nor `axum`, `reqwest`, `wasmtime`, `redb`.
//! - [`api`]: the axum router, built from one route table where every route carries its access
//!   rule: publish, reads, endpoint management (runtime endpoints, rotation, recover), minted
//!   API keys and the bootstrap token, audit log, stats, metrics and the generated OpenAPI
//!   document; problem+json errors with stable codes. Validates, decides fan-out, hands events
//!   to the store; reads `config`, `store`, `dispatch` (registry, wake-ups) and `plugins`
//!   (status). Must not import `delivery`, `reqwest`, `wasmtime`, `redb`.
//! - [`store`]: the [`store::Store`] trait and [`store::RedbStore`], the embedded default with a
//!   group-commit writer thread. Owns the due index the scheduler reads. Must not import `api`,
//!   `dispatch`, `delivery`, `plugins`, `axum`, `reqwest`, `wasmtime`.
//! - [`dispatch`]: fan-out, the live endpoint registry, and the scheduler that starts due
//!   deliveries within global, per-endpoint and rate limits; workers record each outcome. Uses
//!   `store`, `delivery`, `plugins`, `config`. Must not import `api` or `axum`.
//! - [`signing`]: pure sign/verify for the `standard`, `stripe` and `github` schemes (also used
//!   by `hookgate verify`). Imports nothing of ours and does no I/O (no `tokio`, `std::fs`,
//!   `std::net`).
//! - [`delivery`]: one attempt — headers, signature, the SSRF-guarded POST (`delivery/net.rs`
//!   holds the only outbound HTTP client), classification, retry arithmetic. Uses `config`,
//!   `signing`, `guard`. Must not import `api`, `dispatch`, `store`, `plugins`, `axum`, `redb`,
//!   and spawns no tasks.
//! - [`plugins`]: the WebAssembly host — engine, component cache, limits, epoch ticker, host
//!   imports (their kv and http handles are injected), chain runner. Uses `guard` and `store`
//!   types. Must not import `api`, `dispatch`, `delivery`, `axum`.
//!
//! [`guard`] is the SSRF policy shared across the flow: config applies its static URL check at
//! load, delivery applies it (plus DNS vetting) on every attempt. It imports nothing of ours.
//! [`metrics`] is the other leaf: process counters and histograms anyone may record into,
//! rendered for `/metrics`; it imports nothing of ours either. [`builtin_plugins`] (the shipped
//! plugins' bytes, built from `plugins/` by `build.rs`) and [`wasm_toolchain`] (installing the
//! wasm target before a plugin build; also compiled into `build.rs`) are leaves too.
//!
//! [`server`] is the API's accept loop around hyper: header and idle timeouts, a connection
//! cap that sheds the longest-idle connection, graceful drain, and the open-file limit raised
//! at start. It serves any axum `Router` and imports only [`metrics`]; must not import `api`,
//! `store`, `dispatch`, `delivery`, `plugins`, `reqwest`, `wasmtime`, `redb`.
//!
//! [`app`] wires them together and owns shutdown and reload: the only module that may import
//! everything. It spawns every background task on one tracker, under one root cancellation
//! token with a child per part, and closes the store explicitly at the end. [`cli`] holds the
//! command-line types and the API client; it must not import `store`, `dispatch` or `plugins`
//! (`serve` calls [`app::run`]) — except `cli/plugin.rs`, whose offline `plugin check|test`
//! calls into `plugins` until they move behind `app`. `main.rs` only parses the command line,
//! binds the listener (`app::bind`) and calls them.

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
pub mod server;
pub mod signing;
pub mod store;
pub mod wasm_toolchain;

/// Tenant of events and endpoints that name none: single-tenant users never mention tenants.
pub const DEFAULT_TENANT: &str = "default";
