//! One delivery attempt: headers and signature, the guarded POST, and what the answer means.
//!
//! Pure pieces ([`retry`], [`classify`], [`headers`]) are separate from the one piece that does
//! I/O ([`net`]). This module spawns no tasks and keeps no state between attempts: the
//! dispatcher decides when to call it and records what it returns.
//!
//! Must not import `axum`, `api`, `redb`, `store` or `dispatch`.

pub mod classify;
pub mod headers;
pub mod net;
pub mod retry;
pub mod transition;

pub use classify::{classify, Verdict};
pub use net::{Client, Response};
