//! Durable state: events, deliveries, attempts, the due index and per-endpoint state.
//!
//! Owns the storage seam — role traits in [`roles`] ([`EventLog`], [`DeliveryQueue`],
//! [`DeliveryLog`], [`EndpointStore`], [`AdminStore`], [`StatsStore`], [`PluginKv`]), together
//! [`Store`] — and [`RedbStore`], the embedded default. Callers see typed records and whole
//! operations ("ingest these events with their fan-out", "record these attempt outcomes");
//! tables, keys and transactions stay inside. Policy stays outside the backends: the
//! dispatcher says where a retry waits ([`QueuePlace`]) and what an attempt does to its
//! endpoint ([`EndpointEffect`], applied by [`EndpointState::apply`] inside the backend's
//! transaction), so a second backend carries them out rather than re-implementing them.
//!
//! Invariants the rest of the gateway relies on:
//! - When [`Store::ingest`] returns, the events and all their deliveries are durable (fsync'd).
//! - A pending delivery always has exactly one entry in the due index; a finished one has none.
//!   The dispatcher finds work only through [`DeliveryQueue::claim`], so nothing pending is ever forgotten,
//!   even after a crash between an attempt and its record.
//!
//! Must not import `axum`, `reqwest` or `wasmtime`.

pub mod headroom;
mod manage_records;
pub mod outcome;
pub mod postgres;
mod records;
mod redb_store;
pub mod retention;
pub mod roles;
mod seal;
pub mod shared;

pub use headroom::Headroom;
pub use manage_records::*;
pub use outcome::{apply_outcome, new_delivery, requeue, Applied};
pub use postgres::{PgOptions, PgStore, PgTls};
pub use records::*;
pub use redb_store::RedbStore;
pub use retention::{finished_as, Pruned, RetentionRules, RulesSlot, StoreUsage};
pub use roles::*;
pub use seal::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};

/// A backend's own error, kept whole as the cause of a [`StoreError`] so logs show the chain
/// and callers never need the backend's types.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// Errors at the store boundary. None of them is acknowledged to anyone: a publish that gets
/// one was not accepted, an outcome that gets one was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// Path (or address) of the database.
        path: String,
        /// What the backend said.
        source: BackendError,
    },
    /// The store cannot read or commit right now (disk full, an I/O failure, the server gone).
    /// Nothing was changed; the store recovers by itself (redb: it reopens the file), so the
    /// caller retries later: the API answers 503 `store_unavailable` with `Retry-After`, an
    /// attempt's outcome is recorded again until it sticks.
    #[error("store unavailable: {0}")]
    Unavailable(BackendError),
    /// Any other backend failure (a bug or a misuse, not cured by waiting).
    #[error("storage error: {0}")]
    Storage(BackendError),
    /// A stored record could not be decoded (corruption or an incompatible downgrade).
    #[error("corrupt record in {table}: {detail}")]
    Corrupt {
        /// Table holding the record.
        table: &'static str,
        /// Decoder message.
        detail: String,
    },
    /// The writer thread is gone (shutdown already completed).
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Whether waiting can cure it: the store said it is unavailable for now.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Bytes a plugin's key-value namespace may hold (keys and values together).
pub const KV_QUOTA_BYTES: u64 = 8 * 1024 * 1024;

/// Why a key-value write was refused.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The namespace would exceed [`KV_QUOTA_BYTES`].
    #[error("kv quota exceeded: namespace {ns} would hold {would} bytes (quota {quota})")]
    Quota {
        /// Plugin namespace.
        ns: String,
        /// Size after the write.
        would: u64,
        /// The quota.
        quota: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What ingest did with one event.
#[derive(Debug, Clone)]
pub enum Ingested {
    /// Stored now, with its deliveries.
    Created(NewEvent),
    /// The id was known: nothing stored, here is the original with its deliveries.
    Duplicate(NewEvent),
}

/// A pending delivery that is due, with what an attempt needs.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// The delivery as stored.
    pub delivery: DeliveryRecord,
    /// The event it carries (body included).
    pub event: std::sync::Arc<EventRecord>,
    /// The plugin chain's stored output, once it has run: sent instead of the event body.
    pub payload: Option<std::sync::Arc<StoredPayload>>,
    /// The claim's fencing token: the outcome carries it back, and a backend shared by several
    /// nodes records it only while the claim is still this one (another node may have taken
    /// the delivery over after the lease ran out). [`NO_CLAIM`] for a store only one process
    /// uses.
    pub claim: Claim,
}

/// A claim's fencing token (see [`DueDelivery::claim`]).
pub type Claim = u64;

/// The token of a delivery claimed in a store no other process shares: nothing to fence.
pub const NO_CLAIM: Claim = 0;

/// One endpoint's part of a batched [`DeliveryQueue::claim`].
#[derive(Debug, Clone, Copy)]
pub struct DueWant<'a> {
    /// The endpoint.
    pub endpoint_id: &'a str,
    /// Most deliveries to return.
    pub limit: usize,
    /// The endpoint's in-flight cap for the whole cluster (1 for FIFO). A store shared by
    /// several nodes counts the claims every node holds against it; a single-process store
    /// leaves it to the scheduler, which already knows every delivery in flight.
    pub cap: usize,
    /// Strict publish order: only the head may be claimed, and only when nothing else of the
    /// endpoint is in flight anywhere.
    pub fifo: bool,
    /// The endpoint's rate (deliveries per second), for the whole cluster.
    pub rate: Option<f64>,
}

impl<'a> DueWant<'a> {
    /// A want with no cluster-wide limit beyond `limit`: an unordered endpoint without a rate.
    pub fn new(endpoint_id: &'a str, limit: usize) -> Self {
        DueWant {
            endpoint_id,
            limit,
            cap: usize::MAX,
            fifo: false,
            rate: None,
        }
    }
}

/// Result of scanning one endpoint's slice of the due index.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Due deliveries, oldest due first, at most the asked limit.
    pub items: Vec<DueDelivery>,
    /// Due-key time of the first entry not returned (claimed ones excluded), so the
    /// scheduler knows when to look at this endpoint again. `None`: nothing else pending.
    pub next_due_ms: Option<Millis>,
    /// The endpoint's cluster-wide cap is held by claims of other nodes: look again when one of
    /// ours finishes, or shortly (their completions do not wake this node).
    pub full: bool,
}

/// How an attempt changes its endpoint's persistent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEffect {
    /// A success: the failure streak resets.
    Success,
    /// A failure: the streak grows; at `auto_disable_after` (0 = never) the endpoint is disabled.
    Failure {
        /// Threshold from config.
        auto_disable_after: u32,
    },
    /// The receiver asked to stop (410 Gone): disable at once.
    Gone,
    /// Nothing to change (e.g. a cancelled delivery).
    None,
}

/// One finished attempt and the state it moves its delivery to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    /// The delivery, as it was when the attempt started.
    pub delivery: DeliveryRecord,
    /// The attempt to append (`None` when no request was made: a plugin filtered it).
    pub attempt: Option<AttemptRecord>,
    /// The plugin chain's output, stored with the first outcome so retries send the same bytes.
    pub payload: Option<StoredPayload>,
    /// New status (`Pending` with `next_attempt_ms` to retry).
    pub status: DeliveryStatus,
    /// When to try again, with `Pending`.
    pub next_attempt_ms: Option<Millis>,
    /// Where the delivery waits in its endpoint's queue if it stays pending: the dispatcher's
    /// ordering policy, which every backend only carries out.
    pub place: QueuePlace,
    /// What the attempt does to the endpoint's failure streak.
    pub endpoint_effect: EndpointEffect,
    /// Why, when no attempt was made (a plugin filtered the delivery).
    pub reason: Option<String>,
    /// The claim the attempt ran under ([`DueDelivery::claim`]).
    pub claim: Claim,
}

/// Where a delivery that stays pending waits in its endpoint's queue (ordered by due key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePlace {
    /// Keyed by its next attempt time: unordered endpoints let later events pass a retry.
    ByNextAttempt,
    /// Keeps its key: a FIFO endpoint's head stays the head while it retries, so nothing
    /// published after it is delivered first.
    Keep,
}

/// What recording an outcome changed beyond the delivery itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The delivery's status after recording (may differ from the asked one: a delivery that was
    /// cancelled while its attempt was in flight stays cancelled).
    pub status: Option<DeliveryStatus>,
    /// The endpoint's state after this outcome, when it changed.
    pub endpoint_state: Option<EndpointState>,
    /// The claim had expired and another node holds the delivery now: nothing was recorded,
    /// and the attempt was a duplicate the receiver may see twice (at-least-once).
    pub stale: bool,
}

/// What a store shared by several nodes tells each of them about the others' changes, so a
/// node acts within a second instead of at its next poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// New due work on these endpoints (a publish, a requeue on another node).
    Due(Vec<String>),
    /// Work may be due anywhere (too many endpoints to name, or notices were missed while the
    /// connection was down): look at every endpoint with pending deliveries.
    DueAnywhere,
    /// An API-defined endpoint was created, changed or deleted.
    Endpoint(String),
    /// An endpoint's state changed (enabled, disabled, auto-disabled).
    State(String),
    /// Minted API keys changed.
    Keys,
    /// Anything may have changed (notices were missed): reload it all.
    Everything,
}

/// A page of deliveries for one endpoint.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPage {
    /// Newest first.
    pub items: Vec<DeliveryRecord>,
    /// Pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}
