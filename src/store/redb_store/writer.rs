//! The single writer thread: group commit.
//!
//! redb allows one write transaction at a time and a durable commit costs an fsync (~0.2 ms
//! here), so committing each request alone caps the gateway near 4,000 writes/s. Every write
//! therefore goes through this thread: it takes the first queued operation, drains whatever else
//! queued meanwhile (up to [`MAX_OPS_PER_COMMIT`]), applies them all in one transaction, commits
//! once, then answers each caller. Under load the batch grows by itself; idle, latency is one
//! commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redb::{Durability, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::codec;
use super::handle::DbHandle;
use super::tables::*;
use crate::store::*;

/// Upper bound on operations folded into one commit, so one commit stays a few milliseconds.
pub const MAX_OPS_PER_COMMIT: usize = 512;
/// First pause between attempts to reopen a broken database; it doubles up to
/// [`REOPEN_PAUSE_MAX`], so a disk that stays full costs a few opens a second, not a busy loop.
const REOPEN_PAUSE_MIN: Duration = Duration::from_millis(50);
/// Longest pause between reopen attempts: how long service may lag behind freed space.
const REOPEN_PAUSE_MAX: Duration = Duration::from_millis(800);

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One write, with the channel its caller waits on.
pub enum WriteOp {
    /// Store events and their deliveries.
    Ingest(Vec<NewEvent>, Reply<Vec<Ingested>>),
    /// Record attempt outcomes.
    Record(Vec<AttemptOutcome>, Reply<Vec<Recorded>>),
    /// Cancel an endpoint's pending deliveries.
    Cancel(String, Reply<u64>),
    /// Overwrite an endpoint's state.
    PutState(String, EndpointState, Reply<()>),
    /// Store an endpoint's sealed secret unless one exists; answers the stored sealed bytes.
    Secret(String, Vec<u8>, Reply<Vec<u8>>),
    /// Set a plugin kv entry within the quota.
    KvSet(
        String,
        String,
        Vec<u8>,
        oneshot::Sender<Result<(), KvError>>,
    ),
    /// Delete a plugin kv entry.
    KvDelete(String, String, Reply<()>),
    /// A write outside this thread found the database broken: start reopening it.
    Reopen,
    /// Commit what is queued, then stop, releasing the database so it can close cleanly.
    Shutdown,
}

/// Why a whole batch failed, copied into every caller's error.
struct Failure {
    transient: bool,
    message: String,
}

impl Failure {
    fn of(e: &StoreError) -> Self {
        Failure {
            transient: e.is_transient(),
            message: e.to_string(),
        }
    }

    fn error(&self) -> StoreError {
        let cause = self.message.clone().into();
        if self.transient {
            StoreError::Unavailable(cause)
        } else {
            StoreError::Storage(cause)
        }
    }

    fn reply<T>(&self) -> Result<T, StoreError> {
        Err(self.error())
    }
}

/// A computed answer, held until the commit succeeds.
enum Answer {
    Ingest(Reply<Vec<Ingested>>, Vec<Ingested>),
    Record(Reply<Vec<Recorded>>, Vec<Recorded>),
    Cancel(Reply<u64>, u64),
    PutState(Reply<()>),
    Secret(Reply<Vec<u8>>, Vec<u8>),
    KvSet(oneshot::Sender<Result<(), KvError>>, Result<(), KvError>),
    KvDelete(Reply<()>),
    Nothing,
}

impl Answer {
    fn send(self) {
        // A caller that went away (request cancelled) no longer needs its answer; the write
        // is durable either way.
        match self {
            Answer::Ingest(r, v) => drop(r.send(Ok(v))),
            Answer::Record(r, v) => drop(r.send(Ok(v))),
            Answer::Cancel(r, v) => drop(r.send(Ok(v))),
            Answer::PutState(r) => drop(r.send(Ok(()))),
            Answer::Secret(r, v) => drop(r.send(Ok(v))),
            Answer::KvSet(r, v) => drop(r.send(v)),
            Answer::KvDelete(r) => drop(r.send(Ok(()))),
            Answer::Nothing => {}
        }
    }

    fn fail(self, f: &Failure) {
        match self {
            Answer::Ingest(r, _) => drop(r.send(f.reply())),
            Answer::Record(r, _) => drop(r.send(f.reply())),
            Answer::Cancel(r, _) => drop(r.send(f.reply())),
            Answer::PutState(r) => drop(r.send(f.reply())),
            Answer::Secret(r, _) => drop(r.send(f.reply())),
            Answer::KvSet(r, _) => drop(r.send(Err(KvError::Store(f.error())))),
            Answer::KvDelete(r) => drop(r.send(f.reply())),
            Answer::Nothing => {}
        }
    }
}

/// Runs until every sender is dropped or [`WriteOp::Shutdown`]. Call on a dedicated OS thread:
/// it blocks.
pub fn run(db: Arc<DbHandle>, mut rx: mpsc::Receiver<WriteOp>) {
    let mut ops = Vec::with_capacity(MAX_OPS_PER_COMMIT);
    let mut stop = false;
    while let Some(first) = next_op(&db, &mut rx) {
        for op in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok())) {
            match op {
                WriteOp::Shutdown => stop = true,
                WriteOp::Reopen => {}
                op => ops.push(op),
            }
            if ops.len() >= MAX_OPS_PER_COMMIT {
                break;
            }
        }
        if !ops.is_empty() {
            commit_batch(&db, ops.drain(..));
        }
        if stop {
            break;
        }
    }
    db.close();
    tracing::debug!("store writer stopped");
}

/// The next operation. While the database is broken it does not just wait: it reopens the
/// file between arrivals, pausing longer after each failed try, so service comes back by
/// itself once the cause (a full disk) is gone, even with no write arriving to notice.
fn next_op(db: &DbHandle, rx: &mut mpsc::Receiver<WriteOp>) -> Option<WriteOp> {
    let mut pause = REOPEN_PAUSE_MIN;
    while db.is_broken() {
        match db.reopen() {
            Ok(()) => break,
            Err(e) => tracing::debug!(error = %e, "store still cannot be reopened"),
        }
        let deadline = std::time::Instant::now() + pause;
        // Arrivals meanwhile are answered at once (they fail fast: the handle is broken).
        while std::time::Instant::now() < deadline {
            match rx.try_recv() {
                Ok(op) => return Some(op),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
            }
        }
        pause = (pause * 2).min(REOPEN_PAUSE_MAX);
    }
    rx.blocking_recv()
}

fn commit_batch(handle: &DbHandle, ops: impl Iterator<Item = WriteOp>) {
    let ops: Vec<WriteOp> = ops.collect();
    let txn = match begin(handle) {
        Ok(t) => t,
        Err(e) => return fail_all(ops, &Failure::of(&e)),
    };
    let rules = handle.rules.get();
    let mut answers = Vec::with_capacity(ops.len());
    let mut failure: Option<Failure> = None;
    for op in ops {
        if let Some(f) = &failure {
            fail_op(op, f);
            continue;
        }
        match apply(&txn, op, &*rules) {
            Ok(a) => answers.push(a),
            Err((a, e)) => {
                let f = Failure::of(&e);
                a.fail(&f);
                failure = Some(f);
            }
        }
    }
    if let Some(f) = failure {
        tracing::error!(error = %f.message, "store write failed; batch rolled back");
        let _ = txn.abort();
        // An I/O failure inside the batch poisons the file as a failed commit does.
        let _ = handle.watch::<()>(Err(f.error()));
        answers.into_iter().for_each(|a| a.fail(&f));
        return;
    }
    match handle.watch(txn.commit().map_err(storage)) {
        Ok(()) => answers.into_iter().for_each(Answer::send),
        Err(e) => {
            let f = Failure::of(&e);
            tracing::error!(error = %f.message, "store commit failed");
            answers.into_iter().for_each(|a| a.fail(&f));
        }
    }
}

/// A durable write transaction on the current database.
fn begin(handle: &DbHandle) -> Result<WriteTransaction, StoreError> {
    let result = (|| {
        let mut txn = handle.get()?.begin_write().map_err(storage)?;
        // Immediate is the default; said explicitly because every ack depends on it.
        txn.set_durability(Durability::Immediate).map_err(storage)?;
        Ok(txn)
    })();
    handle.watch(result)
}

fn fail_all(ops: Vec<WriteOp>, f: &Failure) {
    tracing::debug!(error = %f.message, ops = ops.len(), "cannot begin write transaction");
    ops.into_iter().for_each(|op| fail_op(op, f));
}

fn fail_op(op: WriteOp, f: &Failure) {
    match op {
        WriteOp::Ingest(_, r) => drop(r.send(f.reply())),
        WriteOp::Record(_, r) => drop(r.send(f.reply())),
        WriteOp::Cancel(_, r) => drop(r.send(f.reply())),
        WriteOp::PutState(_, _, r) => drop(r.send(f.reply())),
        WriteOp::Secret(_, _, r) => drop(r.send(f.reply())),
        WriteOp::KvSet(_, _, _, r) => drop(r.send(Err(KvError::Store(f.error())))),
        WriteOp::KvDelete(_, _, r) => drop(r.send(f.reply())),
        WriteOp::Reopen | WriteOp::Shutdown => {}
    }
}

/// Applies one op. On error, hands back an answer to fail plus the error.
fn apply(
    txn: &WriteTransaction,
    op: WriteOp,
    rules: &dyn RetentionRules,
) -> Result<Answer, (Answer, StoreError)> {
    match op {
        WriteOp::Ingest(events, r) => match ingest(txn, events, rules) {
            Ok(v) => Ok(Answer::Ingest(r, v)),
            Err(e) => Err((Answer::Ingest(r, vec![]), e)),
        },
        WriteOp::Record(outcomes, r) => match record(txn, outcomes, rules) {
            Ok(v) => Ok(Answer::Record(r, v)),
            Err(e) => Err((Answer::Record(r, vec![]), e)),
        },
        WriteOp::Cancel(ep, r) => match cancel(txn, &ep, rules) {
            Ok(n) => Ok(Answer::Cancel(r, n)),
            Err(e) => Err((Answer::Cancel(r, 0), e)),
        },
        WriteOp::PutState(ep, st, r) => {
            let res = txn
                .open_table(ENDPOINT_STATE)
                .map_err(storage)
                .and_then(|mut t| {
                    t.insert(ep.as_str(), encode(&st).as_slice())
                        .map(|_| ())
                        .map_err(storage)
                });
            match res {
                Ok(()) => Ok(Answer::PutState(r)),
                Err(e) => Err((Answer::PutState(r), e)),
            }
        }
        WriteOp::KvSet(ns, key, value, r) => match kv_set(txn, &ns, &key, &value) {
            Ok(res) => Ok(Answer::KvSet(r, res)),
            Err(e) => Err((Answer::KvSet(r, Ok(())), e)),
        },
        WriteOp::KvDelete(ns, key, r) => match kv_delete(txn, &ns, &key) {
            Ok(()) => Ok(Answer::KvDelete(r)),
            Err(e) => Err((Answer::KvDelete(r), e)),
        },
        // `run` takes them out of every batch; nothing to write or answer.
        WriteOp::Reopen | WriteOp::Shutdown => Ok(Answer::Nothing),
        WriteOp::Secret(ep, candidate, r) => match secret(txn, &ep, candidate) {
            Ok(s) => Ok(Answer::Secret(r, s)),
            Err(e) => Err((Answer::Secret(r, Vec::new()), e)),
        },
    }
}

fn ingest(
    txn: &WriteTransaction,
    events: Vec<NewEvent>,
    rules: &dyn RetentionRules,
) -> Result<Vec<Ingested>, StoreError> {
    let mut t = IngestTables::open(txn)?;
    let mut out = Vec::with_capacity(events.len());
    for new in events {
        let id = new.event.id.as_str();
        if let Some(existing) = t.events.get(id).map_err(storage)? {
            let (event, inline) = codec::decode_event(existing.value())?;
            drop(existing);
            let deliveries = if inline.is_empty() {
                fanout_of(&t.by_event, id)?
            } else {
                inline
            };
            out.push(Ingested::Duplicate(NewEvent { event, deliveries }));
            continue;
        }
        t.put(&new)?;
        if new.deliveries.is_empty() {
            // No endpoint subscribed: nothing will take it with it, so it gets its own expiry.
            let keep = rules.keep("", crate::config::FinishedAs::Succeeded);
            if let Some(at) = keep.until(new.event.timestamp_ms) {
                let mut exp = txn.open_table(EXPIRY).map_err(storage)?;
                exp.insert((at, id), EXPIRES_EVENT).map_err(storage)?;
            }
        }
        out.push(Ingested::Created(new));
    }
    Ok(out)
}

/// The tables ingest writes, opened once per batch.
struct IngestTables<'t> {
    events: redb::Table<'t, &'static str, &'static [u8]>,
    by_event: redb::Table<'t, (&'static str, &'static str), &'static str>,
    deliveries: redb::Table<'t, &'static str, &'static [u8]>,
    due: redb::Table<'t, (&'static str, u64, &'static str), ()>,
    by_endpoint: redb::Table<'t, (&'static str, &'static str), ()>,
    by_time: redb::Table<'t, (u64, &'static str), ()>,
}

impl<'t> IngestTables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(IngestTables {
            events: txn.open_table(EVENTS).map_err(storage)?,
            by_event: txn.open_table(BY_EVENT).map_err(storage)?,
            deliveries: txn.open_table(DELIVERIES).map_err(storage)?,
            due: txn.open_table(DUE).map_err(storage)?,
            by_endpoint: txn.open_table(BY_ENDPOINT).map_err(storage)?,
            by_time: txn.open_table(EVENTS_BY_TIME).map_err(storage)?,
        })
    }

    /// Writes one new event with its deliveries, each due at once.
    fn put(&mut self, new: &NewEvent) -> Result<(), StoreError> {
        let e = &new.event;
        let id = e.id.as_str();
        self.events
            .insert(id, codec::encode_event(e).as_slice())
            .map_err(storage)?;
        self.by_time
            .insert((e.timestamp_ms, id), ())
            .map_err(storage)?;
        for d in &new.deliveries {
            let rec = new_delivery(e, d);
            let (did, ep) = (d.id.as_str(), d.endpoint_id.as_str());
            self.deliveries
                .insert(did, codec::encode_delivery(&rec).as_slice())
                .map_err(storage)?;
            self.by_event.insert((id, did), ep).map_err(storage)?;
            self.due
                .insert((ep, e.timestamp_ms, did), ())
                .map_err(storage)?;
            self.by_endpoint.insert((ep, did), ()).map_err(storage)?;
        }
        Ok(())
    }
}

/// Every delivery of an event, from its fan-out index.
fn fanout_of(
    by_event: &impl ReadableTable<(&'static str, &'static str), &'static str>,
    event_id: &str,
) -> Result<Vec<DeliveryRef>, StoreError> {
    let mut out = Vec::new();
    for entry in by_event
        .range((event_id, "")..=(event_id, ID_MAX))
        .map_err(storage)?
    {
        let (k, v) = entry.map_err(storage)?;
        out.push(DeliveryRef {
            id: k.value().1.to_owned(),
            endpoint_id: v.value().to_owned(),
        });
    }
    Ok(out)
}

fn record(
    txn: &WriteTransaction,
    outcomes: Vec<AttemptOutcome>,
    rules: &dyn RetentionRules,
) -> Result<Vec<Recorded>, StoreError> {
    let mut exp_t = txn.open_table(EXPIRY).map_err(storage)?;
    let mut del_t = txn.open_table(DELIVERIES).map_err(storage)?;
    let mut att_t = txn.open_table(ATTEMPTS).map_err(storage)?;
    let mut due_t = txn.open_table(DUE).map_err(storage)?;
    let mut st_t = txn.open_table(ENDPOINT_STATE).map_err(storage)?;
    let mut pay_t = txn.open_table(PAYLOADS).map_err(storage)?;
    let mut out = Vec::with_capacity(outcomes.len());
    let now = now_ms();
    let mut counts: HashMap<String, Counters> = HashMap::new();
    for o in outcomes {
        let id = o.delivery.id.as_str();
        let mut d: DeliveryRecord = match del_t.get(id).map_err(storage)? {
            Some(v) => codec::decode_delivery(v.value())?,
            None => {
                out.push(Recorded::default());
                continue;
            }
        };
        let applied = apply_outcome(&mut d, &o, now, rules);
        if let Some(t) = applied.expires_ms {
            exp_t.insert((t, id), EXPIRES_DELIVERY).map_err(storage)?;
        }
        if let Some(a) = &o.attempt {
            att_t
                .insert((id, a.n), codec::encode_attempt(a).as_slice())
                .map_err(storage)?;
        }
        if let (true, Some(p)) = (applied.payload_row, &o.payload) {
            pay_t.insert(id, p.stored_bytes()).map_err(storage)?;
        }
        let ep = d.endpoint_id.as_str();
        if let Some(t) = applied.unqueue_ms {
            due_t.remove((ep, t, id)).map_err(storage)?;
        }
        if let Some(t) = applied.queue_ms {
            due_t.insert((ep, t, id), ()).map_err(storage)?;
        }
        del_t
            .insert(id, codec::encode_delivery(&d).as_slice())
            .map_err(storage)?;
        if let Some(add) = &applied.counts {
            // A batch is mostly one endpoint's outcomes: allocate its key once, not per row.
            if !counts.contains_key(ep) {
                counts.insert(ep.to_string(), Counters::default());
            }
            counts.get_mut(ep).expect("inserted above").add(add);
        }
        let endpoint_state = if applied.effect == EndpointEffect::None {
            None
        } else {
            let mut st: EndpointState = match st_t.get(ep).map_err(storage)? {
                Some(v) => decode("endpoint_state", v.value())?,
                None => EndpointState::default(),
            };
            let before = st.clone();
            st.apply(applied.effect);
            if st != before {
                st_t.insert(ep, encode(&st).as_slice()).map_err(storage)?;
                Some(st)
            } else {
                None
            }
        };
        out.push(Recorded {
            status: Some(d.status),
            endpoint_state,
            stale: false,
        });
    }
    if !counts.is_empty() {
        let mut c_t = txn.open_table(COUNTERS).map_err(storage)?;
        let hour = now / HOUR_MS;
        for (ep, add) in counts {
            let mut c: Counters = match c_t.get((ep.as_str(), hour)).map_err(storage)? {
                Some(v) => decode("counters", v.value())?,
                None => Counters::default(),
            };
            c.add(&add);
            c_t.insert((ep.as_str(), hour), encode(&c).as_slice())
                .map_err(storage)?;
        }
    }
    Ok(out)
}

pub(super) fn cancel(
    txn: &WriteTransaction,
    ep: &str,
    rules: &dyn RetentionRules,
) -> Result<u64, StoreError> {
    let mut exp_t = txn.open_table(EXPIRY).map_err(storage)?;
    let mut del_t = txn.open_table(DELIVERIES).map_err(storage)?;
    let mut due_t = txn.open_table(DUE).map_err(storage)?;
    let mut keys = Vec::new();
    for entry in due_t.range((ep, 0u64, "")..).map_err(storage)? {
        let (k, _) = entry.map_err(storage)?;
        let (e, t, id) = k.value();
        if e != ep {
            break;
        }
        keys.push((t, id.to_string()));
    }
    let now = now_ms();
    for (t, id) in &keys {
        due_t.remove((ep, *t, id.as_str())).map_err(storage)?;
        let rec = del_t
            .get(id.as_str())
            .map_err(storage)?
            .map(|v| v.value().to_vec());
        if let Some(bytes) = rec {
            let mut d = codec::decode_delivery(&bytes)?;
            if let Some(t) = crate::store::outcome::cancel(&mut d, now, rules) {
                exp_t
                    .insert((t, id.as_str()), EXPIRES_DELIVERY)
                    .map_err(storage)?;
            }
            del_t
                .insert(id.as_str(), codec::encode_delivery(&d).as_slice())
                .map_err(storage)?;
        }
    }
    Ok(keys.len() as u64)
}

/// Sets a kv entry, keeping the namespace's byte count and refusing past the quota.
fn kv_set(
    txn: &WriteTransaction,
    ns: &str,
    key: &str,
    value: &[u8],
) -> Result<Result<(), KvError>, StoreError> {
    let mut kv = txn.open_table(KV).map_err(storage)?;
    let mut usage = txn.open_table(KV_USAGE).map_err(storage)?;
    let used = usage.get(ns).map_err(storage)?.map_or(0, |v| v.value());
    let old = kv
        .get((ns, key))
        .map_err(storage)?
        .map_or(0, |v| (key.len() + v.value().len()) as u64);
    let would = used - old.min(used) + (key.len() + value.len()) as u64;
    if would > KV_QUOTA_BYTES {
        return Ok(Err(KvError::Quota {
            ns: ns.to_string(),
            would,
            quota: KV_QUOTA_BYTES,
        }));
    }
    kv.insert((ns, key), value).map_err(storage)?;
    usage.insert(ns, would).map_err(storage)?;
    Ok(Ok(()))
}

fn kv_delete(txn: &WriteTransaction, ns: &str, key: &str) -> Result<(), StoreError> {
    let mut kv = txn.open_table(KV).map_err(storage)?;
    let mut usage = txn.open_table(KV_USAGE).map_err(storage)?;
    let removed = kv
        .remove((ns, key))
        .map_err(storage)?
        .map_or(0, |v| (key.len() + v.value().len()) as u64);
    if removed > 0 {
        let used = usage.get(ns).map_err(storage)?.map_or(0, |v| v.value());
        usage
            .insert(ns, used.saturating_sub(removed))
            .map_err(storage)?;
    }
    Ok(())
}

fn secret(txn: &WriteTransaction, ep: &str, sealed: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let mut t = txn.open_table(SECRETS).map_err(storage)?;
    if let Some(v) = t.get(ep).map_err(storage)? {
        return Ok(v.value().to_vec());
    }
    t.insert(ep, sealed.as_slice()).map_err(storage)?;
    Ok(sealed)
}
