//! The store's role traits: one per consumer's need, so a backend implements each as its own
//! piece and a caller names the role it uses. [`Store`] is all of them together.

use async_trait::async_trait;

use super::*;

/// Events and their fan-out: what publish writes and the event listings read.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Makes events and their fan-out durable, atomically for the whole slice. Events whose id is
    /// already stored are returned as [`Ingested::Duplicate`] and not stored again.
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Ingested>, StoreError>;

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

    /// Events, newest first.
    async fn events(
        &self,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<EventRecord>, StoreError>;
}

/// The pending deliveries: what is due, and the moves an attempt or an operator makes on them.
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Claims due deliveries (due key `<= now_ms`) of each endpoint in `wants`, one [`DueScan`]
    /// per want in the same order. Batched because a gateway with many endpoints has a little
    /// due work on each: one round trip per endpoint would cost more than the deliveries it
    /// finds. Cost depends on the limits asked, never on backlogs.
    ///
    /// A claim is this process's right to attempt the delivery. In a store one process owns
    /// it is implicit (the scheduler's in-flight set); a store shared by several nodes gives
    /// each claimed delivery a lease that the store renews while the claim is held and a
    /// fencing token ([`DueDelivery::claim`]), and holds every want's `cap`, `fifo` and `rate`
    /// for the whole cluster.
    async fn claim(
        &self,
        now_ms: Millis,
        wants: &[DueWant<'_>],
    ) -> Result<Vec<DueScan>, StoreError>;

    /// Gives up claims that will not be attempted (the scheduler could not start them), so
    /// another node need not wait for their leases to run out.
    async fn release(&self, _claims: &[(String, Claim)]) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every endpoint id that has pending deliveries, with its earliest due key (start-up).
    async fn pending_endpoints(&self) -> Result<Vec<(String, Millis)>, StoreError>;

    /// Records finished attempts and moves their deliveries on, durably.
    async fn record(&self, outcomes: Vec<AttemptOutcome>) -> Result<Vec<Recorded>, StoreError>;

    /// Cancels every pending delivery of an endpoint (it was removed). Returns how many.
    async fn cancel_endpoint(&self, endpoint_id: &str) -> Result<u64, StoreError>;

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
}

/// Deliveries as the log shows them: each with its attempts and the bytes sent.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
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
}

/// Endpoints' persistent side: runtime state, generated secrets and the endpoints created through the API.
#[async_trait]
pub trait EndpointStore: Send + Sync {
    /// Persistent state of every endpoint that has any.
    async fn endpoint_states(&self) -> Result<Vec<(String, EndpointState)>, StoreError>;

    /// Overwrites an endpoint's state (enable/disable by an operator).
    async fn put_endpoint_state(&self, id: &str, state: EndpointState) -> Result<(), StoreError>;

    /// The secret generated for an endpoint whose config gives none, creating it on first use.
    async fn generated_secret(
        &self,
        endpoint_id: &str,
        generate: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String, StoreError>;

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

    /// Creates a managed endpoint and appends `audit`, in one transaction, unless one with its
    /// id exists (then nothing is written and the answer is false). The store decides, not a
    /// lock in one process, so two nodes creating the same id cannot both succeed.
    async fn create_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        audit: AuditEntry,
    ) -> Result<bool, StoreError>;

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
}

/// Minted API keys and the audit log of every change made through the API.
#[async_trait]
pub trait AdminStore: Send + Sync {
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
}

/// Numbers for `/v1/stats` and `/metrics`.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Delivery counters per endpoint summed over the hours starting at or after `since_ms`.
    async fn counters(&self, since_ms: Millis) -> Result<Vec<(String, Counters)>, StoreError>;

    /// How many deliveries are pending (the due index's length, O(1)).
    async fn pending_count(&self) -> Result<u64, StoreError>;

    /// Pending deliveries per endpoint, looking at no more than `scan_cap` per endpoint.
    async fn pending_summary(&self, scan_cap: usize) -> Result<Vec<PendingSummary>, StoreError>;
}

/// The plugins' `kv` import: a namespace per plugin, within [`KV_QUOTA_BYTES`].
#[async_trait]
pub trait PluginKv: Send + Sync {
    /// A plugin's key-value entry (namespace = plugin name).
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets a plugin's key-value entry within the namespace quota.
    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError>;

    /// Deletes a plugin's key-value entry (absent is fine).
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<(), StoreError>;
}

/// Retention: what finishes is stamped with when it may go, and pruned in small steps.
#[async_trait]
pub trait Retention: Send + Sync {
    /// Installs the rules applied from now on to deliveries as they finish (and to the audit
    /// log as it is pruned).
    fn set_retention(&self, rules: std::sync::Arc<dyn RetentionRules>);

    /// Removes, in one short transaction, up to `limit` finished deliveries whose expiry is at
    /// or before `now` (with their attempts and chain output, and their event once it has no
    /// delivery left), events no endpoint subscribed to whose time came, and audit entries
    /// older than the audit rule. Never a pending delivery, nor the event one needs. Safe to
    /// run from several nodes at once and to stop at any point: each step commits whole.
    async fn prune(&self, now: Millis, limit: usize) -> Result<Pruned, StoreError>;

    /// Re-stamps, with the rules installed now, up to `limit` finished deliveries after
    /// `cursor` (a delivery id) in id order, so a changed rule reaches what finished before the
    /// change (and rows written before retention existed get a stamp). Returns the cursor to
    /// continue from, `None` once the walk is done.
    async fn restamp(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<String>, StoreError>;

    /// A small persistent value of the pruner's own (the rules' fingerprint, the walk's
    /// cursor), so a restart continues where it was.
    async fn pruner_setting(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets [`Retention::pruner_setting`].
    async fn set_pruner_setting(&self, name: &str, value: &str) -> Result<(), StoreError>;

    /// How big the store is.
    async fn usage(&self) -> Result<StoreUsage, StoreError>;
}

/// The whole storage seam: every role, plus the store's life. The dispatcher and the API hold an
/// `Arc<dyn Store>`, so a networked backend (PostgreSQL…) is added without touching them.
#[async_trait]
pub trait Store:
    EventLog
    + DeliveryQueue
    + DeliveryLog
    + EndpointStore
    + AdminStore
    + StatsStore
    + PluginKv
    + Retention
    + 'static
{
    /// Whether the store can commit now. False from a failed commit (disk full, I/O error)
    /// until the store has recovered by itself; `/readyz` answers 503 meanwhile, so a load
    /// balancer sends publishes to a node that can accept them. Cheap: no I/O.
    fn is_writable(&self) -> bool;

    /// Whether other gateway processes use this store too. A node of a cluster does not know
    /// every endpoint the others serve (one just created through another node's API, one in
    /// another node's config file), so it must not cancel deliveries of an endpoint it does
    /// not know, as a lone gateway does for one removed from its config.
    fn is_shared(&self) -> bool {
        false
    }

    /// Notices of other nodes' changes, for a store several nodes share; `None` for a store
    /// only this process writes (it already knows every change). Taken once, by the app.
    fn notices(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Notice>> {
        None
    }

    /// How often the scheduler should look at every endpoint with pending work even without a
    /// notice: in a shared store, work can become claimable without anyone telling this node
    /// (a node died, and its leases ran out). `None` when every change is seen in-process.
    fn rescan_every(&self) -> Option<std::time::Duration> {
        None
    }

    /// Commits what is queued and stops the writer, at the end of shutdown once nothing writes
    /// any more. Explicit so the store closes when `app` says, not when the last `Arc` happens to
    /// drop (a task abandoned after the shutdown grace may still hold one). Writes after it fail
    /// with [`StoreError::Closed`]; a second call returns at once.
    async fn close(&self);
}
