//! Retention on redb: one pruning step, the re-stamping walk, and the store's size.
//!
//! A step reads the [`EXPIRY`] index from its start up to now, so its cost is what it removes,
//! never what is kept. Each entry is checked against its row before anything goes: an entry
//! whose delivery is pending again (an operator requeued it) or carries another expiry (the
//! walk re-stamped it) is stale and only the entry is dropped. A step is one transaction, so
//! a crash leaves either all of it or none of it.

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, WriteTransaction};

use super::codec;
use super::tables::*;
use crate::store::*;

/// One pruning step inside `txn` (see `Retention::prune`).
pub fn prune(
    txn: &WriteTransaction,
    now: Millis,
    limit: usize,
    rules: &dyn RetentionRules,
) -> Result<Pruned, StoreError> {
    let mut out = Pruned::default();
    let mut exp = txn.open_table(EXPIRY).map_err(storage)?;
    let mut due: Vec<(u64, String, u8)> = Vec::new();
    for entry in exp.range((0u64, "")..=(now, ID_MAX)).map_err(storage)? {
        let (k, v) = entry.map_err(storage)?;
        if due.len() == limit {
            out.more = true;
            break;
        }
        let (t, id) = k.value();
        due.push((t, id.to_string(), v.value()));
    }
    let mut rows = Rows::open(txn)?;
    for (t, id, kind) in &due {
        exp.remove((*t, id.as_str())).map_err(storage)?;
        if *kind == EXPIRES_EVENT {
            out.events += rows.event_if_unused(id)? as u64;
        } else {
            rows.delivery(id, *t, &mut out)?;
        }
    }
    if let Some(first) = exp.first().map_err(storage)? {
        let (t, _) = first.0.value();
        out.behind_since_ms = (t <= now).then_some(t);
    }
    drop(exp);
    out.audit = prune_audit(txn, now, limit, rules)?;
    out.more |= out.audit == limit as u64;
    Ok(out)
}

/// The tables a pruned delivery is removed from.
struct Rows<'t> {
    deliveries: redb::Table<'t, &'static str, &'static [u8]>,
    attempts: redb::Table<'t, (&'static str, u32), &'static [u8]>,
    payloads: redb::Table<'t, &'static str, &'static [u8]>,
    by_endpoint: redb::Table<'t, (&'static str, &'static str), ()>,
    by_event: redb::Table<'t, (&'static str, &'static str), &'static str>,
    events: redb::Table<'t, &'static str, &'static [u8]>,
    by_time: redb::Table<'t, (u64, &'static str), ()>,
}

impl<'t> Rows<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Rows {
            deliveries: txn.open_table(DELIVERIES).map_err(storage)?,
            attempts: txn.open_table(ATTEMPTS).map_err(storage)?,
            payloads: txn.open_table(PAYLOADS).map_err(storage)?,
            by_endpoint: txn.open_table(BY_ENDPOINT).map_err(storage)?,
            by_event: txn.open_table(BY_EVENT).map_err(storage)?,
            events: txn.open_table(EVENTS).map_err(storage)?,
            by_time: txn.open_table(EVENTS_BY_TIME).map_err(storage)?,
        })
    }

    /// Removes delivery `id` whose expiry entry said `t`, unless the entry is stale.
    fn delivery(&mut self, id: &str, t: Millis, out: &mut Pruned) -> Result<(), StoreError> {
        let d = match self.deliveries.get(id).map_err(storage)? {
            Some(v) => codec::decode_delivery(v.value())?,
            None => return Ok(()),
        };
        if d.status == DeliveryStatus::Pending || d.expires_ms != Some(t) {
            return Ok(());
        }
        self.deliveries.remove(id).map_err(storage)?;
        let mut attempts = Vec::new();
        for entry in self
            .attempts
            .range((id, 0)..=(id, u32::MAX))
            .map_err(storage)?
        {
            attempts.push(entry.map_err(storage)?.0.value().1);
        }
        for n in &attempts {
            self.attempts.remove((id, *n)).map_err(storage)?;
        }
        out.attempts += attempts.len() as u64;
        self.payloads.remove(id).map_err(storage)?;
        self.by_endpoint
            .remove((d.endpoint_id.as_str(), id))
            .map_err(storage)?;
        self.by_event
            .remove((d.event_id.as_str(), id))
            .map_err(storage)?;
        out.deliveries += 1;
        out.events += self.event_if_unused(&d.event_id)? as u64;
        Ok(())
    }

    /// Removes event `id` once none of its deliveries is left. True when it went.
    fn event_if_unused(&mut self, id: &str) -> Result<bool, StoreError> {
        let first = self
            .by_event
            .range((id, "")..=(id, ID_MAX))
            .map_err(storage)?
            .next();
        if first.is_some() {
            return Ok(false);
        }
        let Some(v) = self.events.get(id).map_err(storage)? else {
            return Ok(false);
        };
        let (event, inline) = codec::decode_event(v.value())?;
        drop(v);
        // A store from before the fan-out index lists the deliveries in the event row.
        for d in &inline {
            if self
                .deliveries
                .get(d.id.as_str())
                .map_err(storage)?
                .is_some()
            {
                return Ok(false);
            }
        }
        self.events.remove(id).map_err(storage)?;
        self.by_time
            .remove((event.timestamp_ms, id))
            .map_err(storage)?;
        Ok(true)
    }
}

/// Removes up to `limit` audit entries older than the audit rule (keys are `aud_` + ULID, so
/// key order is time order and the cut is one key).
fn prune_audit(
    txn: &WriteTransaction,
    now: Millis,
    limit: usize,
    rules: &dyn RetentionRules,
) -> Result<u64, StoreError> {
    let Some(cut) = rules.keep_audit().cut(now) else {
        return Ok(0);
    };
    let before = AuditEntry::first_id_at(cut);
    let mut t = txn.open_table(AUDIT).map_err(storage)?;
    let mut keys = Vec::new();
    for entry in t.range(..before.as_str()).map_err(storage)? {
        if keys.len() == limit {
            break;
        }
        keys.push(entry.map_err(storage)?.0.value().to_string());
    }
    for k in &keys {
        t.remove(k.as_str()).map_err(storage)?;
    }
    Ok(keys.len() as u64)
}

/// Re-stamps up to `limit` deliveries after `cursor` with `rules` (see `Retention::restamp`).
pub fn restamp(
    txn: &WriteTransaction,
    cursor: Option<&str>,
    limit: usize,
    rules: &dyn RetentionRules,
) -> Result<Option<String>, StoreError> {
    let mut del_t = txn.open_table(DELIVERIES).map_err(storage)?;
    let mut exp = txn.open_table(EXPIRY).map_err(storage)?;
    let mut batch = Vec::new();
    let mut next = None;
    let range = match cursor {
        Some(c) => del_t.range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded)),
        None => del_t.range::<&str>(..),
    }
    .map_err(storage)?;
    for entry in range {
        let (k, v) = entry.map_err(storage)?;
        if batch.len() == limit {
            next = batch.last().map(|d: &DeliveryRecord| d.id.clone());
            break;
        }
        let _ = k;
        batch.push(codec::decode_delivery(v.value())?);
    }
    for mut d in batch {
        let stamp = RulesSlot::expiry(rules, &d.endpoint_id, d.status, d.updated_ms);
        if stamp == d.expires_ms {
            continue;
        }
        if let Some(t) = d.expires_ms {
            exp.remove((t, d.id.as_str())).map_err(storage)?;
        }
        if let Some(t) = stamp {
            exp.insert((t, d.id.as_str()), EXPIRES_DELIVERY)
                .map_err(storage)?;
        }
        d.expires_ms = stamp;
        del_t
            .insert(d.id.as_str(), codec::encode_delivery(&d).as_slice())
            .map_err(storage)?;
    }
    Ok(next)
}

/// The file's size and the rows of the big tables (redb keeps each table's length).
pub fn usage(db: &redb::Database, path: &std::path::Path) -> Result<StoreUsage, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    fn len<K: redb::Key + 'static, V: redb::Value + 'static>(
        txn: &redb::ReadTransaction,
        t: redb::TableDefinition<K, V>,
    ) -> Result<u64, StoreError> {
        txn.open_table(t).map_err(storage)?.len().map_err(storage)
    }
    let rows = vec![
        ("events", len(&txn, EVENTS)?),
        ("deliveries", len(&txn, DELIVERIES)?),
        ("attempts", len(&txn, ATTEMPTS)?),
        ("payloads", len(&txn, PAYLOADS)?),
        ("audit", len(&txn, AUDIT)?),
    ];
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(StoreUsage { bytes, rows })
}

/// A pruner setting (`META`).
pub fn setting(db: &redb::Database, name: &str) -> Result<Option<String>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let t = txn.open_table(META).map_err(storage)?;
    let v = t.get(name).map_err(storage)?.map(|v| v.value().to_string());
    Ok(v)
}

/// Sets a pruner setting inside `txn`.
pub fn set_setting(txn: &WriteTransaction, name: &str, value: &str) -> Result<(), StoreError> {
    let mut t = txn.open_table(META).map_err(storage)?;
    t.insert(name, value).map_err(storage)?;
    Ok(())
}
