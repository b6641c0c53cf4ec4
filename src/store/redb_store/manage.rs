//! The management plane's reads and writes: managed endpoints, API keys, the audit log,
//! requeues, event listings and stats.
//!
//! These are rare operator actions, so they open their own write transaction on a blocking
//! thread instead of joining the group-commit queue; redb runs write transactions one at a
//! time, so they interleave safely with the writer thread's batches. Each one writes its audit
//! entry in the same transaction as the change it records.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, WriteTransaction};

use super::codec;
use super::handle::DbHandle;
use super::tables::*;
use super::writer::cancel;
use super::LIST_SCAN_CAP;
use crate::store::*;

/// Runs `f` in its own durable write transaction on a blocking thread. A failure that waiting
/// cures marks `handle` broken (see [`DbHandle::watch`]).
pub async fn write<T, F>(handle: &Arc<DbHandle>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
{
    write_with(handle, Durability::Immediate, f).await
}

/// As [`write`], but the commit is not flushed: it becomes durable with the next durable
/// commit (the writer's group commits come many times a second under load). For work that
/// may be lost in a crash and simply done again, such as pruning: it then costs no fsync of
/// its own, and holds the single writer for less time.
pub async fn write_lazily<T, F>(handle: &Arc<DbHandle>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
{
    write_with(handle, Durability::None, f).await
}

async fn write_with<T, F>(
    handle: &Arc<DbHandle>,
    durability: Durability,
    f: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
{
    let handle = handle.clone();
    tokio::task::spawn_blocking(move || {
        let result = (|| {
            let mut txn = handle.get()?.begin_write().map_err(storage)?;
            txn.set_durability(durability).map_err(storage)?;
            let out = f(&txn)?;
            txn.commit().map_err(storage)?;
            Ok(out)
        })();
        handle.watch(result)
    })
    .await
    .map_err(internal)?
}

/// Appends an audit entry inside `txn`.
pub fn audit(txn: &WriteTransaction, entry: &AuditEntry) -> Result<(), StoreError> {
    txn.open_table(AUDIT)
        .map_err(storage)?
        .insert(entry.id.as_str(), encode(entry).as_slice())
        .map_err(storage)?;
    Ok(())
}

/// Requeues one delivery inside `txn`: pending, due now, retry schedule restarted. The due
/// index entry moves with it (a pending delivery has exactly one).
pub fn requeue_one(
    txn: &WriteTransaction,
    id: &str,
    now: Millis,
) -> Result<Option<DeliveryRecord>, StoreError> {
    let mut del_t = txn.open_table(DELIVERIES).map_err(storage)?;
    let mut due_t = txn.open_table(DUE).map_err(storage)?;
    let bytes = match del_t.get(id).map_err(storage)? {
        Some(v) => v.value().to_vec(),
        None => return Ok(None),
    };
    let mut d = codec::decode_delivery(&bytes)?;
    if let Some(t) = d.expires_ms {
        txn.open_table(EXPIRY)
            .map_err(storage)?
            .remove((t, id))
            .map_err(storage)?;
    }
    if let Some(old) = requeue(&mut d, now) {
        due_t
            .remove((d.endpoint_id.as_str(), old, id))
            .map_err(storage)?;
    }
    due_t
        .insert((d.endpoint_id.as_str(), now, id), ())
        .map_err(storage)?;
    del_t
        .insert(id, codec::encode_delivery(&d).as_slice())
        .map_err(storage)?;
    Ok(Some(d))
}

/// Dead deliveries of an endpoint created at or after `since_ms`, requeued inside `txn`.
pub fn recover(
    txn: &WriteTransaction,
    ep: &str,
    since_ms: Millis,
    now: Millis,
) -> Result<u64, StoreError> {
    // Delivery ids are `del_` + ULID: the endpoint index is in creation order, so the scan
    // starts at the first id that could have been created at `since_ms`.
    let from = format!("del_{}", ulid::Ulid::from_parts(since_ms, 0));
    let mut dead = Vec::new();
    {
        let by_ep = txn.open_table(BY_ENDPOINT).map_err(storage)?;
        let del_t = txn.open_table(DELIVERIES).map_err(storage)?;
        for entry in by_ep
            .range((ep, from.as_str())..=(ep, ID_MAX))
            .map_err(storage)?
        {
            let (k, _) = entry.map_err(storage)?;
            let id = k.value().1.to_string();
            if let Some(v) = del_t.get(id.as_str()).map_err(storage)? {
                let d = codec::decode_delivery(v.value())?;
                if d.status == DeliveryStatus::Dead && d.created_ms >= since_ms {
                    dead.push(id);
                }
            }
        }
    }
    for id in &dead {
        requeue_one(txn, id, now)?;
    }
    Ok(dead.len() as u64)
}

/// Seals and stores a managed endpoint inside `txn`.
pub fn put_managed(
    txn: &WriteTransaction,
    key: &MasterKey,
    ep: &ManagedEndpoint,
) -> Result<(), StoreError> {
    let sealed = key.seal(&encode(ep), &managed_context(&ep.id));
    txn.open_table(MANAGED)
        .map_err(storage)?
        .insert(ep.id.as_str(), sealed.as_slice())
        .map_err(storage)?;
    Ok(())
}

/// Deletes a managed endpoint inside `txn`, cancelling its pending deliveries.
pub fn delete_managed(
    txn: &WriteTransaction,
    id: &str,
    rules: &dyn RetentionRules,
) -> Result<Option<u64>, StoreError> {
    let existed = txn
        .open_table(MANAGED)
        .map_err(storage)?
        .remove(id)
        .map_err(storage)?
        .is_some();
    if !existed {
        return Ok(None);
    }
    txn.open_table(ENDPOINT_STATE)
        .map_err(storage)?
        .remove(id)
        .map_err(storage)?;
    cancel(txn, id, rules).map(Some)
}

/// Managed endpoints after `cursor` in id order, at most `limit`, opened.
pub fn read_managed(
    db: &Database,
    key: &MasterKey,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<ManagedEndpoint>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(MANAGED).map_err(storage)?;
    let from = match cursor {
        Some(c) => Bound::Excluded(c),
        None => Bound::Unbounded,
    };
    let mut items = Vec::new();
    let mut next_cursor = None;
    for entry in t.range::<&str>((from, Bound::Unbounded)).map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        if items.len() == limit {
            next_cursor = items.last().map(|e: &ManagedEndpoint| e.id.clone());
            break;
        }
        let plain = key.open(v.value(), &managed_context(k.value()))?;
        items.push(decode("managed_endpoints", &plain)?);
    }
    Ok(Page { items, next_cursor })
}

/// One managed endpoint, opened.
pub fn read_managed_one(
    db: &Database,
    key: &MasterKey,
    id: &str,
) -> Result<Option<ManagedEndpoint>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(MANAGED).map_err(storage)?;
    let Some(v) = t.get(id).map_err(storage)? else {
        return Ok(None);
    };
    let plain = key.open(v.value(), &managed_context(id))?;
    decode("managed_endpoints", &plain).map(Some)
}

/// Every minted key.
pub fn read_keys(db: &Database) -> Result<Vec<ApiKeyRecord>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(API_KEYS).map_err(storage)?;
    let mut out = Vec::new();
    for entry in t.iter().map_err(storage)? {
        let (_, v) = entry.map_err(storage)?;
        out.push(decode("api_keys", v.value())?);
    }
    Ok(out)
}

/// A newest-first page of the audit log. The cursor is the last id returned.
pub fn read_audit(
    db: &Database,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<AuditEntry>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(AUDIT).map_err(storage)?;
    let range = match cursor {
        Some(c) => t.range(..c).map_err(storage)?,
        None => t.range::<&str>(..).map_err(storage)?,
    };
    let mut items = Vec::new();
    let mut next_cursor = None;
    for entry in range.rev() {
        let (k, v) = entry.map_err(storage)?;
        if items.len() == limit {
            next_cursor = items.last().map(|e: &AuditEntry| e.id.clone());
            break;
        }
        let _ = k;
        items.push(decode("audit", v.value())?);
    }
    Ok(Page { items, next_cursor })
}

/// A newest-first page of events. The cursor is `<ms>.<id>` of the last event returned.
pub fn read_events(
    db: &Database,
    filter: &EventFilter,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<EventRecord>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let by_time = txn.open_table(EVENTS_BY_TIME).map_err(storage)?;
    let ev_t = txn.open_table(EVENTS).map_err(storage)?;
    let bound = cursor.and_then(|c| {
        let (ms, id) = c.split_once('.')?;
        Some((ms.parse::<u64>().ok()?, id.to_string()))
    });
    let range = match &bound {
        Some((ms, id)) => by_time.range(..(*ms, id.as_str())).map_err(storage)?,
        None => by_time.range::<(u64, &str)>(..).map_err(storage)?,
    };
    let mut items: Vec<EventRecord> = Vec::new();
    let mut next_cursor = None;
    let mut last: Option<String> = None;
    // A filter that matches little must not walk the whole index in one request: after
    // LIST_SCAN_CAP rows the page ends early, with a cursor to go on from.
    for (scanned, entry) in range.rev().enumerate() {
        let (k, _) = entry.map_err(storage)?;
        if items.len() == limit || scanned >= LIST_SCAN_CAP {
            next_cursor = last;
            break;
        }
        let (ms, id) = k.value();
        last = Some(format!("{ms}.{id}"));
        let Some(v) = ev_t.get(id).map_err(storage)? else {
            continue;
        };
        let (e, _) = codec::decode_event(v.value())?;
        let keep = filter
            .event_type
            .as_ref()
            .is_none_or(|t| *t == e.event_type)
            && filter.tenant.as_ref().is_none_or(|t| *t == e.tenant);
        if keep {
            items.push(e);
        }
    }
    Ok(Page { items, next_cursor })
}

/// Counters per endpoint since `since_ms` (whole hours).
pub fn read_counters(
    db: &Database,
    since_ms: Millis,
) -> Result<Vec<(String, Counters)>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(COUNTERS).map_err(storage)?;
    let from = since_ms / HOUR_MS;
    let mut sums: HashMap<String, Counters> = HashMap::new();
    for entry in t.iter().map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        let (ep, hour) = k.value();
        if hour >= from {
            let c: Counters = decode("counters", v.value())?;
            sums.entry(ep.to_string()).or_default().add(&c);
        }
    }
    let mut out: Vec<_> = sums.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Pending work per endpoint from the due index. The creation time of a delivery is in its id
/// (a ULID), so no record has to be read.
pub fn read_pending(db: &Database, scan_cap: usize) -> Result<Vec<PendingSummary>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let due = txn.open_table(DUE).map_err(storage)?;
    let mut out: Vec<PendingSummary> = Vec::new();
    let mut from = String::new();
    loop {
        let mut iter = due.range((from.as_str(), 0u64, "")..).map_err(storage)?;
        let Some(first) = iter.next() else { break };
        let (k, _) = first.map_err(storage)?;
        let ep = k.value().0.to_string();
        let mut s = PendingSummary {
            endpoint_id: ep.clone(),
            ..Default::default()
        };
        let note = |id: &str, s: &mut PendingSummary| {
            s.count += 1;
            let created = id
                .strip_prefix("del_")
                .and_then(|u| ulid::Ulid::from_string(u).ok())
                .map(|u| u.timestamp_ms());
            if let Some(c) = created {
                s.oldest_created_ms = Some(s.oldest_created_ms.map_or(c, |o| o.min(c)));
            }
        };
        note(k.value().2, &mut s);
        for entry in iter {
            let (k, _) = entry.map_err(storage)?;
            let (e, _, id) = k.value();
            if e != ep {
                break;
            }
            if s.count as usize >= scan_cap {
                s.truncated = true;
                break;
            }
            note(id, &mut s);
        }
        out.push(s);
        // Next endpoint: the first key after every key of this one.
        from = format!("{ep}\u{0}");
    }
    Ok(out)
}

/// An event's deliveries after `cursor`, from its fan-out index or, for an event stored
/// before that index existed, from the list its record carries.
pub fn read_event_deliveries(
    txn: &redb::ReadTransaction,
    event_id: &str,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Page<DeliveryRef>, StoreError> {
    let after = cursor.unwrap_or_default();
    let by_event = txn.open_table(BY_EVENT).map_err(storage)?;
    let mut items = Vec::new();
    for entry in by_event
        .range((event_id, after)..=(event_id, ID_MAX))
        .map_err(storage)?
    {
        let (k, v) = entry.map_err(storage)?;
        let id = k.value().1;
        if id == after {
            continue;
        }
        items.push(DeliveryRef {
            id: id.to_owned(),
            endpoint_id: v.value().to_owned(),
        });
        if items.len() > limit {
            break;
        }
    }
    if items.is_empty() {
        items = legacy_fanout(txn, event_id, after)?;
    }
    let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
    items.truncate(limit);
    Ok(Page { items, next_cursor })
}

/// The fan-out a JSON event row carries inline, in delivery-id order, after `after`.
fn legacy_fanout(
    txn: &redb::ReadTransaction,
    event_id: &str,
    after: &str,
) -> Result<Vec<DeliveryRef>, StoreError> {
    let events = txn.open_table(EVENTS).map_err(storage)?;
    let Some(row) = events.get(event_id).map_err(storage)? else {
        return Ok(Vec::new());
    };
    let mut list = codec::decode_event(row.value())?.1;
    list.retain(|d| d.id.as_str() > after);
    list.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(list)
}
