//! [`RedbStore`]: the embedded default store, one redb file under `data_dir`.
//!
//! Writes go to the group-commit thread in [`writer`]; reads open their own read transaction
//! (MVCC: they never wait for the writer) and run inline, because they are short B-tree lookups
//! served from redb's page cache.

pub mod codec;
mod due;
mod handle;
mod manage;
mod prune;
mod tables;
mod writer;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{ReadableDatabase, ReadableTable};
use tokio::sync::{mpsc, oneshot};

use handle::DbHandle;
use tables::*;
use writer::WriteOp;

use crate::store::*;

/// Depth of the writer queue; callers wait (backpressure) when it is full.
const WRITE_QUEUE: usize = 8192;
/// A status-filtered listing looks at no more than this many rows per page.
const LIST_SCAN_CAP: usize = 10_000;

/// The redb-backed [`Store`].
pub struct RedbStore {
    db: Arc<DbHandle>,
    tx: mpsc::Sender<WriteOp>,
    key: MasterKey,
    /// Joined by [`Store::close`] (or, failing that, on drop) so the database is released, and
    /// so closed cleanly: a file left open makes the next start run redb's repair, a full scan
    /// (2.2 s at a million deliveries).
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Deliveries claimed and not yet recorded or released: a claim is exclusive until then,
    /// as in a shared store. In memory, since only this process claims (after a crash nothing
    /// is claimed, and everything pending is due again).
    claimed: std::sync::Mutex<HashSet<String>>,
}

impl Drop for RedbStore {
    /// The fallback for a store that was never [`Store::close`]d.
    fn drop(&mut self) {
        // Every acknowledged write is already durable; this only lets redb mark the file clean.
        if self.tx.try_send(WriteOp::Shutdown).is_ok() {
            if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
                let _ = h.join();
            }
        }
    }
}

impl RedbStore {
    /// Opens (or creates) `dir/hookgate.redb`, creating the directory and every table, and starts
    /// the writer thread. A file left by a crash is recovered by redb on open. `key` seals
    /// secrets at rest.
    pub fn open(dir: &Path, key: MasterKey) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Storage(format!("cannot create data dir {}: {e}", dir.display()).into())
        })?;
        let path = Self::file_in(dir);
        let handle = DbHandle::open(&path)?;
        let db = handle.get()?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(EVENTS).map_err(storage)?;
        txn.open_table(DELIVERIES).map_err(storage)?;
        txn.open_table(BY_EVENT).map_err(storage)?;
        txn.open_table(ATTEMPTS).map_err(storage)?;
        txn.open_table(DUE).map_err(storage)?;
        txn.open_table(BY_ENDPOINT).map_err(storage)?;
        txn.open_table(ENDPOINT_STATE).map_err(storage)?;
        txn.open_table(SECRETS).map_err(storage)?;
        txn.open_table(PAYLOADS).map_err(storage)?;
        txn.open_table(KV).map_err(storage)?;
        txn.open_table(KV_USAGE).map_err(storage)?;
        txn.open_table(MANAGED).map_err(storage)?;
        txn.open_table(API_KEYS).map_err(storage)?;
        txn.open_table(AUDIT).map_err(storage)?;
        txn.open_table(EVENTS_BY_TIME).map_err(storage)?;
        txn.open_table(COUNTERS).map_err(storage)?;
        txn.open_table(EXPIRY).map_err(storage)?;
        txn.open_table(META).map_err(storage)?;
        txn.commit().map_err(storage)?;
        drop(db);
        let db = Arc::new(handle);
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let wdb = db.clone();
        let writer = std::thread::Builder::new()
            .name("hookgate-store-writer".into())
            .spawn(move || writer::run(wdb, rx))
            .map_err(internal)?;
        Ok(Self {
            db,
            tx,
            key,
            writer: std::sync::Mutex::new(Some(writer)),
            claimed: Default::default(),
        })
    }

    /// The database file in data dir `dir`.
    pub fn file_in(dir: &Path) -> std::path::PathBuf {
        dir.join("hookgate.redb")
    }

    /// Compacts the file in `dir` in place (offline: fails if a gateway has it open), until a
    /// pass frees nothing more. Returns the number of passes.
    pub fn compact(dir: &Path) -> Result<u32, StoreError> {
        let path = Self::file_in(dir);
        let mut db = redb::Database::open(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Storage(
                format!(
                    "{} is open in another process: stop the gateway first",
                    path.display()
                )
                .into(),
            ),
            e => StoreError::Open {
                path: path.display().to_string(),
                source: Box::new(e),
            },
        })?;
        let mut passes = 1;
        while db.compact().map_err(|e| StoreError::Storage(Box::new(e)))? {
            passes += 1;
        }
        Ok(passes)
    }

    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (rtx, rrx) = oneshot::channel();
        self.tx
            .send(make(rtx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rrx.await.map_err(|_| StoreError::Closed)?
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db.get()?.begin_read().map_err(storage)
    }

    /// A management write in its own transaction ([`manage::write`]); when it finds the file
    /// broken, the writer thread is woken to reopen it even if no other write is coming.
    async fn manage<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let result = manage::write(&self.db, f).await;
        self.reopen_if_broken();
        result
    }

    /// A failed write may have poisoned the file: the writer thread reopens it.
    fn reopen_if_broken(&self) {
        if self.db.is_broken() {
            let _ = self.tx.try_send(WriteOp::Reopen);
        }
    }
}

#[async_trait]
impl EventLog for RedbStore {
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Ingested>, StoreError> {
        // Refused at once while broken, rather than queued behind a file being reopened.
        self.db.get()?;
        self.send(|r| WriteOp::Ingest(events, r)).await
    }

    async fn event(&self, id: &str) -> Result<Option<EventRecord>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(EVENTS).map_err(storage)?;
        let v = t.get(id).map_err(storage)?;
        v.map(|v| codec::decode_event(v.value()).map(|(e, _)| e))
            .transpose()
    }

    async fn event_deliveries(
        &self,
        event_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<DeliveryRef>, StoreError> {
        let txn = self.read()?;
        manage::read_event_deliveries(&txn, event_id, cursor, limit)
    }

    async fn events(
        &self,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<EventRecord>, StoreError> {
        manage::read_events(&*self.db.get()?, filter, cursor, limit)
    }
}

#[async_trait]
impl DeliveryQueue for RedbStore {
    async fn claim(
        &self,
        now_ms: Millis,
        wants: &[DueWant<'_>],
    ) -> Result<Vec<DueScan>, StoreError> {
        // Locked before the snapshot is taken: a record that ends a claim commits, then drops
        // the claim under this lock, so a snapshot older than that commit still sees the claim
        // and cannot hand the delivery out twice.
        let mut claimed = self.claimed.lock().unwrap();
        let txn = self.read()?;
        let mut tables = due::DueTables::open(&txn)?;
        let scans: Vec<DueScan> = (wants.iter())
            .map(|w| tables.scan(w, &claimed, now_ms))
            .collect::<Result<_, _>>()?;
        for item in scans.iter().flat_map(|s| &s.items) {
            claimed.insert(item.delivery.id.clone());
        }
        Ok(scans)
    }

    async fn release(&self, claims: &[(String, Claim)]) -> Result<(), StoreError> {
        let mut claimed = self.claimed.lock().unwrap();
        for (id, _) in claims {
            claimed.remove(id);
        }
        Ok(())
    }

    async fn pending_endpoints(&self) -> Result<Vec<(String, Millis)>, StoreError> {
        let txn = self.read()?;
        let due_t = txn.open_table(DUE).map_err(storage)?;
        let mut out = Vec::new();
        let mut from = String::new();
        // Skip-scan: one seek per endpoint, not one step per pending delivery.
        loop {
            let mut it = due_t.range((from.as_str(), 0u64, "")..).map_err(storage)?;
            let Some(entry) = it.next() else { break };
            let (k, _) = entry.map_err(storage)?;
            let (ep, due, _) = k.value();
            out.push((ep.to_string(), due));
            from = format!("{ep}\0");
        }
        Ok(out)
    }

    async fn record(&self, outcomes: Vec<AttemptOutcome>) -> Result<Vec<Recorded>, StoreError> {
        let ids: Vec<String> = outcomes.iter().map(|o| o.delivery.id.clone()).collect();
        let r = self.send(|r| WriteOp::Record(outcomes, r)).await;
        // Recorded, or refused for good (the attempt will be made again): the claim is over.
        // While the store is unavailable the same outcome is offered again, under the claim.
        if !r.as_ref().is_err_and(StoreError::is_transient) {
            let mut claimed = self.claimed.lock().unwrap();
            for id in &ids {
                claimed.remove(id);
            }
        }
        r
    }

    async fn cancel_endpoint(&self, endpoint_id: &str) -> Result<u64, StoreError> {
        let ep = endpoint_id.to_string();
        self.send(|r| WriteOp::Cancel(ep, r)).await
    }

    async fn requeue(
        &self,
        delivery_id: &str,
        audit: AuditEntry,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let id = delivery_id.to_string();
        self.manage(move |txn| {
            let d = manage::requeue_one(txn, &id, now_ms())?;
            if d.is_some() {
                manage::audit(txn, &audit)?;
            }
            Ok(d)
        })
        .await
    }

    async fn recover(
        &self,
        endpoint_id: &str,
        since_ms: Millis,
        mut audit: AuditEntry,
    ) -> Result<u64, StoreError> {
        let ep = endpoint_id.to_string();
        self.manage(move |txn| {
            let n = manage::recover(txn, &ep, since_ms, now_ms())?;
            audit.after = Some(serde_json::json!({ "since_ms": since_ms, "requeued": n }));
            manage::audit(txn, &audit)?;
            Ok(n)
        })
        .await
    }
}

#[async_trait]
impl DeliveryLog for RedbStore {
    async fn delivery(
        &self,
        id: &str,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(DELIVERIES).map_err(storage)?;
        let Some(v) = t.get(id).map_err(storage)? else {
            return Ok(None);
        };
        let d = codec::decode_delivery(v.value())?;
        let at = txn.open_table(ATTEMPTS).map_err(storage)?;
        let mut attempts = Vec::new();
        for entry in at.range((id, 0u32)..=(id, u32::MAX)).map_err(storage)? {
            let (_, v) = entry.map_err(storage)?;
            attempts.push(codec::decode_attempt(v.value())?);
        }
        Ok(Some((d, attempts)))
    }

    async fn payload_body(
        &self,
        delivery: &DeliveryRecord,
        event_body: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(meta) = &delivery.payload else {
            return Ok(None);
        };
        let txn = self.read()?;
        let t = txn.open_table(PAYLOADS).map_err(storage)?;
        let p = load_payload(&t, &delivery.id, meta, event_body.as_bytes())?;
        Ok(p.map(|p| p.body))
    }

    async fn endpoint_deliveries(
        &self,
        endpoint_id: &str,
        status: Option<DeliveryStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<DeliveryPage, StoreError> {
        let txn = self.read()?;
        let idx = txn.open_table(BY_ENDPOINT).map_err(storage)?;
        let del_t = txn.open_table(DELIVERIES).map_err(storage)?;
        let upper = cursor.unwrap_or(ID_MAX);
        let mut page = DeliveryPage::default();
        let mut scanned = 0usize;
        for entry in idx
            .range((endpoint_id, "")..(endpoint_id, upper))
            .map_err(storage)?
            .rev()
        {
            let (k, _) = entry.map_err(storage)?;
            let (_, id) = k.value();
            scanned += 1;
            if page.items.len() >= limit || scanned > LIST_SCAN_CAP {
                page.next_cursor = page
                    .items
                    .last()
                    .map(|d| d.id.clone())
                    .or(Some(id.to_string()));
                break;
            }
            let Some(v) = del_t.get(id).map_err(storage)? else {
                continue;
            };
            let d = codec::decode_delivery(v.value())?;
            if status.is_none_or(|s| s == d.status) {
                page.items.push(d);
            }
        }
        Ok(page)
    }
}

#[async_trait]
impl EndpointStore for RedbStore {
    async fn endpoint_states(&self) -> Result<Vec<(String, EndpointState)>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(ENDPOINT_STATE).map_err(storage)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(storage)? {
            let (k, v) = entry.map_err(storage)?;
            out.push((k.value().to_string(), decode("endpoint_state", v.value())?));
        }
        Ok(out)
    }

    async fn put_endpoint_state(&self, id: &str, state: EndpointState) -> Result<(), StoreError> {
        let id = id.to_string();
        self.send(|r| WriteOp::PutState(id, state, r)).await
    }

    async fn generated_secret(
        &self,
        endpoint_id: &str,
        generate: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String, StoreError> {
        let ctx = secret_context(endpoint_id);
        let stored = {
            let txn = self.read()?;
            let t = txn.open_table(SECRETS).map_err(storage)?;
            let v = t.get(endpoint_id).map_err(storage)?;
            v.map(|v| v.value().to_vec())
        };
        let sealed = match stored {
            Some(s) => s,
            None => {
                let ep = endpoint_id.to_string();
                let candidate = self.key.seal(generate().as_bytes(), &ctx);
                self.send(|r| WriteOp::Secret(ep, candidate, r)).await?
            }
        };
        let plain = self.key.open(&sealed, &ctx)?;
        String::from_utf8(plain).map_err(|e| StoreError::Corrupt {
            table: "endpoint_secrets",
            detail: e.to_string(),
        })
    }

    async fn managed_endpoints(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<ManagedEndpoint>, StoreError> {
        manage::read_managed(&*self.db.get()?, &self.key, cursor, limit)
    }

    async fn managed_endpoint(&self, id: &str) -> Result<Option<ManagedEndpoint>, StoreError> {
        manage::read_managed_one(&*self.db.get()?, &self.key, id)
    }

    async fn create_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        audit: AuditEntry,
    ) -> Result<bool, StoreError> {
        let key = self.key.clone();
        self.manage(move |txn| {
            let taken = txn
                .open_table(MANAGED)
                .map_err(storage)?
                .get(endpoint.id.as_str())
                .map_err(storage)?
                .is_some();
            if taken {
                return Ok(false);
            }
            manage::put_managed(txn, &key, &endpoint)?;
            manage::audit(txn, &audit)?;
            Ok(true)
        })
        .await
    }

    async fn save_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let key = self.key.clone();
        self.manage(move |txn| {
            manage::put_managed(txn, &key, &endpoint)?;
            manage::audit(txn, &audit)
        })
        .await
    }

    async fn delete_managed_endpoint(
        &self,
        id: &str,
        audit: AuditEntry,
    ) -> Result<Option<u64>, StoreError> {
        let id = id.to_string();
        let rules = self.db.rules.get();
        self.manage(move |txn| {
            let n = manage::delete_managed(txn, &id, &*rules)?;
            if n.is_some() {
                manage::audit(txn, &audit)?;
            }
            Ok(n)
        })
        .await
    }
}

#[async_trait]
impl AdminStore for RedbStore {
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        manage::read_keys(&*self.db.get()?)
    }

    async fn save_api_key(&self, key: ApiKeyRecord, audit: AuditEntry) -> Result<(), StoreError> {
        self.manage(move |txn| {
            txn.open_table(API_KEYS)
                .map_err(storage)?
                .insert(key.id.as_str(), encode(&key).as_slice())
                .map_err(storage)?;
            manage::audit(txn, &audit)
        })
        .await
    }

    async fn delete_api_key(&self, id: &str, audit: AuditEntry) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.manage(move |txn| {
            let existed = txn
                .open_table(API_KEYS)
                .map_err(storage)?
                .remove(id.as_str())
                .map_err(storage)?
                .is_some();
            if existed {
                manage::audit(txn, &audit)?;
            }
            Ok(existed)
        })
        .await
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.manage(move |txn| manage::audit(txn, &entry)).await
    }

    async fn audit_log(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        manage::read_audit(&*self.db.get()?, cursor, limit)
    }
}

#[async_trait]
impl StatsStore for RedbStore {
    async fn counters(&self, since_ms: Millis) -> Result<Vec<(String, Counters)>, StoreError> {
        manage::read_counters(&*self.db.get()?, since_ms)
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.read()?;
        let t = txn.open_table(DUE).map_err(storage)?;
        t.len().map_err(storage)
    }

    async fn pending_summary(&self, scan_cap: usize) -> Result<Vec<PendingSummary>, StoreError> {
        manage::read_pending(&*self.db.get()?, scan_cap)
    }
}

#[async_trait]
impl PluginKv for RedbStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let t = txn.open_table(KV).map_err(storage)?;
        let v = t.get((ns, key)).map_err(storage)?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        let (rtx, rrx) = oneshot::channel();
        let op = WriteOp::KvSet(ns.into(), key.into(), value.to_vec(), rtx);
        self.tx.send(op).await.map_err(|_| StoreError::Closed)?;
        rrx.await.map_err(|_| StoreError::Closed)?
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        let (ns, key) = (ns.to_string(), key.to_string());
        self.send(|r| WriteOp::KvDelete(ns, key, r)).await
    }
}

#[async_trait]
impl Retention for RedbStore {
    fn set_retention(&self, rules: Arc<dyn RetentionRules>) {
        self.db.rules.set(rules);
    }

    async fn prune(&self, now: Millis, limit: usize) -> Result<Pruned, StoreError> {
        let rules = self.db.rules.get();
        // Lost in a crash, a pruning step is simply taken again: no fsync of its own.
        let result =
            manage::write_lazily(&self.db, move |txn| prune::prune(txn, now, limit, &*rules)).await;
        self.reopen_if_broken();
        result
    }

    async fn restamp(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<String>, StoreError> {
        let rules = self.db.rules.get();
        let cursor = cursor.map(str::to_string);
        self.manage(move |txn| prune::restamp(txn, cursor.as_deref(), limit, &*rules))
            .await
    }

    async fn pruner_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        prune::setting(&*self.db.get()?, name)
    }

    async fn set_pruner_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let (name, value) = (name.to_string(), value.to_string());
        self.manage(move |txn| prune::set_setting(txn, &name, &value))
            .await
    }

    async fn usage(&self) -> Result<StoreUsage, StoreError> {
        prune::usage(&*self.db.get()?, self.db.path())
    }
}

#[async_trait]
impl Store for RedbStore {
    fn is_writable(&self) -> bool {
        !self.db.is_broken()
    }

    async fn close(&self) {
        // Queued writes are ahead of `Shutdown` in the channel, so they commit first.
        if self.tx.send(WriteOp::Shutdown).await.is_err() {
            return; // already stopped
        }
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(h) = handle {
            // The join waits for the last commit's fsync: off the async workers.
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, RedbStore) {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::parse(&"ab".repeat(32), "test").unwrap();
        let s = RedbStore::open(dir.path(), key).unwrap();
        (dir, s)
    }

    /// Managed endpoints come back in id order a page at a time, each page ending with the
    /// cursor of the next and the last with none, secrets opened.
    #[tokio::test]
    async fn managed_endpoints_page_in_id_order() {
        let (_dir, s) = store();
        for id in ["c", "a", "e", "b", "d"] {
            let rec = ManagedEndpoint {
                id: id.into(),
                tenant: "acme".into(),
                spec: serde_json::json!({"url": "https://r.example.com/h"}),
                secrets: vec![SigningSecret {
                    secret: format!("whsec_{id}"),
                    expires_ms: None,
                }],
                description: None,
                created_ms: 1,
                updated_ms: 1,
            };
            let audit = AuditEntry::new("test", "endpoint.create", id, Some("acme"));
            s.save_managed_endpoint(rec, audit).await.unwrap();
        }
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = s.managed_endpoints(cursor.as_deref(), 2).await.unwrap();
            let ids: Vec<String> = page.items.iter().map(|e| e.id.clone()).collect();
            assert!(page
                .items
                .iter()
                .all(|e| e.secrets[0].secret == format!("whsec_{}", e.id)));
            pages.push(ids);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    }

    /// A chain output is kept inline in the delivery record or in a payload row depending on
    /// its size and bytes; either way `due` and `payload_body` give back exactly the bytes, also
    /// after a restart.
    #[tokio::test]
    async fn chain_outputs_read_back_whole_inline_or_in_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let key = || MasterKey::parse(&"ab".repeat(32), "test").unwrap();
        let note = "n".repeat(400);
        let body = format!(r#"{{"data":{{"card":"4242","note":"{note}"}}}}"#);
        let outputs: Vec<(Vec<u8>, bool)> = vec![
            // (chain output, expected in a row)
            (
                format!(r#"{{"data":{{"note":"{note}"}}}}"#).into_bytes(),
                false,
            ),
            (format!(r#"{{"text":"{note}"}}"#).into_bytes(), true),
            (b"{\"text\":\"short\"}".to_vec(), false),
            (vec![0xff; 10], true),
        ];
        let event = EventRecord {
            id: "evt_1".into(),
            event_type: "t".into(),
            tenant: "acme".into(),
            timestamp_ms: 1,
            body: body.clone(),
            fanout: 0,
        };
        let deliveries = (0..outputs.len())
            .map(|i| DeliveryRef {
                id: format!("del_{i}"),
                endpoint_id: "ep".into(),
            })
            .collect();
        let event = NewEvent::new(event, deliveries);
        let s = RedbStore::open(dir.path(), key()).unwrap();
        s.ingest(vec![event]).await.unwrap();
        for (i, (out, in_row)) in outputs.iter().enumerate() {
            let (delivery, _) = s.delivery(&format!("del_{i}")).await.unwrap().unwrap();
            let payload = StoredPayload::new(body.as_bytes(), out.clone(), vec![], vec![]);
            assert_eq!(payload.needs_row(), *in_row, "output {i}");
            let outcome = AttemptOutcome {
                delivery,
                attempt: None,
                payload: Some(payload),
                status: DeliveryStatus::Pending,
                next_attempt_ms: Some(1),
                place: QueuePlace::ByNextAttempt,
                endpoint_effect: EndpointEffect::None,
                reason: None,
                claim: NO_CLAIM,
            };
            s.record(vec![outcome]).await.unwrap();
        }
        check_outputs(&s, &body, &outputs).await;
        drop(s);
        let s = RedbStore::open(dir.path(), key()).unwrap();
        check_outputs(&s, &body, &outputs).await;
    }

    async fn check_outputs(s: &RedbStore, body: &str, outputs: &[(Vec<u8>, bool)]) {
        let want = DueWant::new("ep", 100);
        let scan = s.claim(10, &[want]).await.unwrap().remove(0);
        assert_eq!(scan.items.len(), outputs.len());
        for (item, (out, _)) in scan.items.iter().zip(outputs) {
            let id = &item.delivery.id;
            assert_eq!(&item.payload.as_ref().unwrap().body, out, "{id} from due");
            let stored = s.payload_body(&item.delivery, body).await.unwrap();
            assert_eq!(stored.as_ref(), Some(out), "{id} from payload_body");
        }
    }

    /// A store written before the binary rows (JSON rows, the fan-out inside the event) keeps
    /// working after the upgrade: its pending delivery is due, its event lists its fan-out,
    /// and recording the attempt rewrites the delivery in the new format.
    #[tokio::test]
    async fn a_store_of_json_rows_keeps_delivering() {
        let (_d, s) = store();
        let event = br#"{"id":"evt_old","type":"t","tenant":"acme","timestamp_ms":5,"body":"{}",
            "deliveries":[{"id":"del_b","endpoint_id":"ep"},{"id":"del_a","endpoint_id":"other"}]}"#;
        let delivery = br#"{"id":"del_b","event_id":"evt_old","endpoint_id":"ep","tenant":"acme",
            "status":"pending","attempts":0,"created_ms":5,"updated_ms":5,"next_attempt_ms":5,
            "due_key_ms":5}"#;
        {
            let txn = s.db.get().unwrap().begin_write().unwrap();
            txn.open_table(EVENTS)
                .unwrap()
                .insert("evt_old", &event[..])
                .unwrap();
            txn.open_table(DELIVERIES)
                .unwrap()
                .insert("del_b", &delivery[..])
                .unwrap();
            txn.open_table(DUE)
                .unwrap()
                .insert(("ep", 5u64, "del_b"), ())
                .unwrap();
            txn.commit().unwrap();
        }
        let want = DueWant::new("ep", 10);
        let scan = s.claim(10, &[want]).await.unwrap().remove(0);
        assert_eq!(scan.items.len(), 1);
        assert_eq!(scan.items[0].event.fanout, 2);
        let page = s.event_deliveries("evt_old", None, 1).await.unwrap();
        assert_eq!(
            page.items[0].id, "del_a",
            "legacy fan-out comes in delivery-id order"
        );
        let rest = s.event_deliveries("evt_old", page.next_cursor.as_deref(), 1);
        assert_eq!(rest.await.unwrap().items[0].id, "del_b");
        let outcome = AttemptOutcome {
            delivery: scan.items[0].delivery.clone(),
            attempt: None,
            payload: None,
            status: DeliveryStatus::Succeeded,
            next_attempt_ms: None,
            place: QueuePlace::ByNextAttempt,
            endpoint_effect: EndpointEffect::None,
            reason: None,
            claim: NO_CLAIM,
        };
        s.record(vec![outcome]).await.unwrap();
        let txn = s.db.get().unwrap().begin_read().unwrap();
        let row = txn
            .open_table(DELIVERIES)
            .unwrap()
            .get("del_b")
            .unwrap()
            .unwrap();
        assert_eq!(row.value()[0], 2, "rewritten as a current (version-2) row");
        let (d, _) = s.delivery("del_b").await.unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Succeeded);
    }

    #[tokio::test]
    async fn kv_is_namespaced_and_quota_counts_replacements_and_deletes() {
        let (_d, s) = store();
        s.kv_set("enrich", "customer:1", b"{\"tier\":\"gold\"}")
            .await
            .unwrap();
        assert_eq!(
            s.kv_get("enrich", "customer:1").await.unwrap().as_deref(),
            Some(&b"{\"tier\":\"gold\"}"[..])
        );
        assert_eq!(
            s.kv_get("other", "customer:1").await.unwrap(),
            None,
            "namespaces are separate"
        );

        let big = vec![0u8; (KV_QUOTA_BYTES / 2) as usize];
        s.kv_set("q", "a", &big).await.unwrap();
        // Replacing a value counts only the difference.
        s.kv_set("q", "a", &big).await.unwrap();
        match s.kv_set("q", "b", &big).await {
            Err(KvError::Quota { ns, .. }) => assert_eq!(ns, "q"),
            other => panic!("expected quota error, got {other:?}"),
        }
        assert_eq!(
            s.kv_get("q", "b").await.unwrap(),
            None,
            "a refused write stores nothing"
        );
        s.kv_delete("q", "a").await.unwrap();
        s.kv_set("q", "b", &big).await.unwrap();
        s.kv_delete("q", "missing").await.unwrap();
    }
}
