//! Durable state: events, deliveries, attempts, the due index and per-endpoint state.
//!
//! Owns the [`Store`] trait (the seam for a future networked backend) and [`RedbStore`], the
//! embedded default. Callers see typed records and whole operations ("ingest these events with
//! their fan-out", "record these attempt outcomes"); tables, keys and transactions stay inside.
//!
//! Invariants the rest of the gateway relies on:
//! - When [`Store::ingest`] returns, the events and all their deliveries are durable (fsync'd).
//! - A pending delivery always has exactly one entry in the due index; a finished one has none.
//!   The dispatcher finds work only through [`Store::due`], so nothing pending is ever forgotten,
//!   even after a crash between an attempt and its record.
//!
//! Must not import `axum`, `reqwest` or `wasmtime`.

mod manage_records;
mod records;
mod redb_store;
mod seal;

pub use manage_records::*;
pub use records::*;
pub use redb_store::RedbStore;
pub use seal::{MasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE};

use async_trait::async_trait;

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
}

/// One endpoint's part of a batched [`Store::due`] scan.
#[derive(Debug, Clone, Copy)]
pub struct DueWant<'a> {
    /// The endpoint.
    pub endpoint_id: &'a str,
    /// Ids to pass over (in flight now).
    pub skip: &'a std::collections::HashSet<String>,
    /// Most deliveries to return.
    pub limit: usize,
}

/// Result of scanning one endpoint's slice of the due index.
#[derive(Debug, Default)]
pub struct DueScan {
    /// Due deliveries, oldest due first, at most the asked limit.
    pub items: Vec<DueDelivery>,
    /// Due-key time of the first entry not returned (skipped in-flight ones excluded), so the
    /// scheduler knows when to look at this endpoint again. `None`: nothing else pending.
    pub next_due_ms: Option<Millis>,
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
    /// Whether the endpoint is FIFO (its due key keeps the creation time).
    pub fifo: bool,
    /// What the attempt does to the endpoint's failure streak.
    pub endpoint_effect: EndpointEffect,
    /// Why, when no attempt was made (a plugin filtered the delivery).
    pub reason: Option<String>,
}

/// What recording an outcome changed beyond the delivery itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The delivery's status after recording (may differ from the asked one: a delivery that was
    /// cancelled while its attempt was in flight stays cancelled).
    pub status: Option<DeliveryStatus>,
    /// The endpoint's state after this outcome, when it changed.
    pub endpoint_state: Option<EndpointState>,
}

/// A page of deliveries for one endpoint.
#[derive(Debug, Clone, Default)]
pub struct DeliveryPage {
    /// Newest first.
    pub items: Vec<DeliveryRecord>,
    /// Pass back as `cursor` for the next page.
    pub next_cursor: Option<String>,
}

/// The storage seam. The dispatcher and the API talk only to this trait, so a networked backend
/// (PostgreSQL, FoundationDB…) can be added without touching them.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Makes events and their fan-out durable, atomically for the whole slice. Events whose id is
    /// already stored are returned as [`Ingested::Duplicate`] and not stored again.
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Ingested>, StoreError>;

    /// Due deliveries with due key `<= now_ms` of each endpoint in `wants`, one [`DueScan`] per
    /// want in the same order, all read from one snapshot. Batched because a gateway with many
    /// endpoints has a little due work on each: one read per endpoint would cost more than the
    /// deliveries it finds. Cost depends on the limits and skip sets asked, never on backlogs.
    async fn due(&self, now_ms: Millis, wants: &[DueWant<'_>]) -> Result<Vec<DueScan>, StoreError>;
    /// Every endpoint id that has pending deliveries, with its earliest due key (start-up).
    async fn pending_endpoints(&self) -> Result<Vec<(String, Millis)>, StoreError>;

    /// Records finished attempts and moves their deliveries on, durably.
    async fn record(&self, outcomes: Vec<AttemptOutcome>) -> Result<Vec<Recorded>, StoreError>;

    /// Cancels every pending delivery of an endpoint (it was removed). Returns how many.
    async fn cancel_endpoint(&self, endpoint_id: &str) -> Result<u64, StoreError>;

    /// Reads an event.
    async fn event(&self, id: &str) -> Result<Option<EventRecord>, StoreError>;

    /// An event's deliveries in delivery-id order, from after `cursor` (a delivery id), at most
    /// `limit`. An event may fan out to every endpoint, so its list is paged, not carried.
    async fn event_deliveries(
        &self,
        event_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<DeliveryRef>, StoreError>;

    /// Reads a delivery and all its attempts, oldest first.
    async fn delivery(
        &self,
        id: &str,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError>;

    /// The body a plugin chain produced for `delivery` (already read by the caller, with its
    /// event's body, which a stored edit is applied to), if it has one.
    async fn payload_body(
        &self,
        delivery: &DeliveryRecord,
        event_body: &str,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Deliveries of an endpoint, newest first, optionally filtered by status.
    async fn endpoint_deliveries(
        &self,
        endpoint_id: &str,
        status: Option<DeliveryStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<DeliveryPage, StoreError>;

    /// Persistent state of every endpoint that has any.
    async fn endpoint_states(&self) -> Result<Vec<(String, EndpointState)>, StoreError>;

    /// Overwrites an endpoint's state (enable/disable by an operator).
    async fn put_endpoint_state(&self, id: &str, state: EndpointState) -> Result<(), StoreError>;

    /// A plugin's key-value entry (namespace = plugin name). Blocking: call from a blocking
    /// thread (plugin host calls run on one).
    fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets a plugin's key-value entry within the namespace quota. Blocking, as [`Store::kv_get`].
    fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError>;

    /// Deletes a plugin's key-value entry (absent is fine). Blocking, as [`Store::kv_get`].
    fn kv_delete(&self, ns: &str, key: &str) -> Result<(), StoreError>;

    /// Endpoints created through the API after `cursor` in id order, at most `limit`, secrets
    /// opened. Paged so a gateway with 100,000 of them never holds every decoded record at
    /// once: start-up parses a page, keeps the live endpoints and drops the records, and the
    /// allocator reuses their memory for the next page instead of leaving holes between the
    /// endpoints it keeps.
    async fn managed_endpoints(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ManagedEndpoint>, StoreError>;

    /// One endpoint created through the API, secrets opened.
    async fn managed_endpoint(&self, id: &str) -> Result<Option<ManagedEndpoint>, StoreError>;

    /// Creates or replaces a managed endpoint and appends `audit`, in one transaction.
    async fn save_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        audit: AuditEntry,
    ) -> Result<(), StoreError>;

    /// Deletes a managed endpoint, cancels its pending deliveries and appends `audit`, in one
    /// transaction. Returns how many deliveries were cancelled, `None` if it did not exist.
    async fn delete_managed_endpoint(
        &self,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<u64>, StoreError>;

    /// Every minted API key.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Stores a minted key and appends `audit`, in one transaction.
    async fn save_api_key(&self, key: ApiKeyRecord, audit: AuditEntry) -> Result<(), StoreError>;

    /// Deletes a minted key and appends `audit`; false if there was no such key.
    async fn delete_api_key(&self, id: &str, audit: AuditEntry) -> Result<bool, StoreError>;

    /// Appends to the audit log.
    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError>;

    /// The audit log, newest first.
    async fn audit_log(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// Makes a finished (or waiting) delivery pending and due now, restarting its retry schedule;
    /// appends `audit`. `None` if there is no such delivery.
    async fn requeue(
        &self,
        delivery_id: &str,
        audit: AuditEntry,
    ) -> Result<Option<DeliveryRecord>, StoreError>;

    /// Requeues every dead delivery of an endpoint created at or after `since_ms`; appends
    /// `audit` with the count. Returns how many.
    async fn recover(
        &self,
        endpoint_id: &str,
        since_ms: Millis,
        audit: AuditEntry,
    ) -> Result<u64, StoreError>;

    /// Events, newest first.
    async fn events(
        &self,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<EventRecord>, StoreError>;

    /// Delivery counters per endpoint summed over the hours starting at or after `since_ms`.
    async fn counters(&self, since_ms: Millis) -> Result<Vec<(String, Counters)>, StoreError>;

    /// How many deliveries are pending (the due index's length, O(1)).
    async fn pending_count(&self) -> Result<u64, StoreError>;

    /// Pending deliveries per endpoint, looking at no more than `scan_cap` per endpoint.
    async fn pending_summary(&self, scan_cap: usize) -> Result<Vec<PendingSummary>, StoreError>;

    /// The secret generated for an endpoint whose config gives none, creating it on first use.
    async fn generated_secret(
        &self,
        endpoint_id: &str,
        generate: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String, StoreError>;

    /// Whether the store can commit now. False from a failed commit (disk full, I/O error)
    /// until the store has recovered by itself; `/readyz` answers 503 meanwhile, so a load
    /// balancer sends publishes to a node that can accept them. Cheap: no I/O.
    fn is_writable(&self) -> bool;

    /// Commits what is queued and stops the writer, at the end of shutdown once nothing writes
    /// any more. Explicit so the store closes when `app` says, not when the last `Arc` happens to
    /// drop (a task abandoned after the shutdown grace may still hold one). Writes after it fail
    /// with [`StoreError::Closed`]; a second call returns at once.
    async fn close(&self);
}
