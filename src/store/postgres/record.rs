//! Recording outcomes on PostgreSQL, a batch per transaction ([`super::batch`]): the outcomes
//! every worker of a node offered while the last transaction ran, written with one statement
//! per kind of row (`unnest` arrays). Per delivery that is a fraction of a statement instead of
//! eight round trips, and one commit's fsync serves the batch.

use std::collections::HashMap;
use std::sync::Arc;

use deadpool_postgres::{GenericClient, Pool};
use tokio::sync::mpsc;

use super::rows::{self, DELIVERY_COLS, DELIVERY_WIDTH};
use super::sql::Cached;
use super::{admin, pg};
use crate::store::shared::*;
use crate::store::*;

/// Most outcomes in one transaction.
const MAX_BATCH: usize = 512;

/// Outcomes waiting for the recorder, each offer with who to answer.
pub type Offer = super::batch::Offer<AttemptOutcome, Recorded>;

/// The recorder task: one batch transaction at a time until the store closes.
pub async fn run(pool: Pool, rules: Arc<RulesSlot>, rx: mpsc::Receiver<Offer>) {
    super::batch::run(rx, MAX_BATCH, |outcomes| {
        let pool = pool.clone();
        let rules = rules.get();
        async move { batch(&pool, &outcomes, &*rules).await }
    })
    .await
}

async fn batch(
    pool: &Pool,
    outcomes: &[AttemptOutcome],
    rules: &dyn RetentionRules,
) -> Result<Vec<Recorded>, StoreError> {
    let mut c = pool.get().await.map_err(super::pool_error)?;
    let txn = c.transaction().await.map_err(pg)?;
    let out = record_all(&txn, outcomes, now_ms(), rules).await?;
    txn.commit().await.map_err(pg)?;
    Ok(out)
}

/// The rows one batch writes, gathered before any is written.
#[derive(Default)]
struct Writes {
    deliveries: HashMap<String, DeliveryRecord>,
    attempts: HashMap<(String, u32), String>,
    payloads: HashMap<String, Vec<u8>>,
    effects: Vec<(String, EndpointEffect)>,
    counts: HashMap<String, Counters>,
}

async fn record_all(
    c: &impl GenericClient,
    outcomes: &[AttemptOutcome],
    now: Millis,
    rules: &dyn RetentionRules,
) -> Result<Vec<Recorded>, StoreError> {
    let mut ids: Vec<&str> = outcomes.iter().map(|o| o.delivery.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    // Locked in id order, so two nodes' batches never wait on each other in a cycle.
    let sql = format!(
        "SELECT {DELIVERY_COLS}, d.lease_token FROM deliveries d WHERE d.id = ANY($1) \
         ORDER BY d.id FOR UPDATE"
    );
    let mut stored: HashMap<String, (DeliveryRecord, Option<Claim>)> = HashMap::new();
    for row in c.rows(&sql, &[&ids]).await.map_err(pg)? {
        let lease: Option<i64> = row.get(DELIVERY_WIDTH);
        let d = rows::delivery(&row, 0)?;
        stored.insert(d.id.clone(), (d, lease.map(|t| t as Claim)));
    }
    let mut w = Writes::default();
    let mut out = Vec::with_capacity(outcomes.len());
    for o in outcomes {
        let Some((d, lease)) = stored.get_mut(&o.delivery.id) else {
            out.push(Recorded::default());
            continue;
        };
        if o.claim != NO_CLAIM && *lease != Some(o.claim) {
            // The lease ran out and another node claimed the delivery (or finished it).
            out.push(Recorded {
                status: Some(d.status),
                endpoint_state: None,
                stale: true,
            });
            continue;
        }
        *lease = None;
        let applied = apply_outcome(d, o, now, rules);
        if let Some(a) = &o.attempt {
            // Replaces: an outcome offered again after a commit whose answer was lost.
            w.attempts.insert((d.id.clone(), a.n), rows::json(a));
        }
        if let (true, Some(p)) = (applied.payload_row, &o.payload) {
            w.payloads.insert(d.id.clone(), p.stored_bytes().to_vec());
        }
        if let Some(add) = &applied.counts {
            w.counts.entry(d.endpoint_id.clone()).or_default().add(add);
        }
        if applied.effect != EndpointEffect::None {
            w.effects.push((d.endpoint_id.clone(), applied.effect));
        }
        w.deliveries.insert(d.id.clone(), d.clone());
        out.push(Recorded {
            status: Some(d.status),
            endpoint_state: None,
            stale: false,
        });
    }
    write_attempts(c, &w.attempts).await?;
    write_payloads(c, &w.payloads).await?;
    write_deliveries(c, w.deliveries.values()).await?;
    let states = write_effects(c, &w.effects).await?;
    admin::add_counters(c, now / HOUR_MS, w.counts).await?;
    for (o, rec) in outcomes.iter().zip(&mut out) {
        if !rec.stale && o.endpoint_effect != EndpointEffect::None {
            rec.endpoint_state = states.get(&o.delivery.endpoint_id).cloned();
        }
    }
    Ok(out)
}

async fn write_attempts(
    c: &impl GenericClient,
    attempts: &HashMap<(String, u32), String>,
) -> Result<(), StoreError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = attempts.keys().map(|(id, _)| id.as_str()).collect();
    let ns: Vec<i32> = attempts.keys().map(|(_, n)| *n as i32).collect();
    let records: Vec<&str> = attempts.values().map(String::as_str).collect();
    c.run(
        "INSERT INTO attempts (delivery_id, n, record) \
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[]) \
         ON CONFLICT (delivery_id, n) DO UPDATE SET record = EXCLUDED.record",
        &[&ids, &ns, &records],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

async fn write_payloads(
    c: &impl GenericClient,
    payloads: &HashMap<String, Vec<u8>>,
) -> Result<(), StoreError> {
    if payloads.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = payloads.keys().map(String::as_str).collect();
    let bodies: Vec<&[u8]> = payloads.values().map(Vec::as_slice).collect();
    c.run(
        "INSERT INTO payloads (delivery_id, body) \
         SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT DO NOTHING",
        &[&ids, &bodies],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Every moved delivery in one `UPDATE … FROM unnest`, its lease cleared.
async fn write_deliveries<'a>(
    c: &impl GenericClient,
    ds: impl Iterator<Item = &'a DeliveryRecord>,
) -> Result<(), StoreError> {
    let ds: Vec<&DeliveryRecord> = ds.collect();
    if ds.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = ds.iter().map(|d| d.id.as_str()).collect();
    let status: Vec<&str> = ds.iter().map(|d| d.status.as_str()).collect();
    let attempts: Vec<i32> = ds.iter().map(|d| d.attempts as i32).collect();
    let updated: Vec<i64> = ds.iter().map(|d| d.updated_ms as i64).collect();
    let next: Vec<Option<i64>> = ds
        .iter()
        .map(|d| d.next_attempt_ms.map(|t| t as i64))
        .collect();
    let due: Vec<i64> = ds.iter().map(|d| d.due_key_ms as i64).collect();
    let code: Vec<Option<i32>> = ds
        .iter()
        .map(|d| d.last_status_code.map(i32::from))
        .collect();
    let error: Vec<Option<&str>> = ds.iter().map(|d| d.last_error.as_deref()).collect();
    let payload: Vec<Option<String>> = ds
        .iter()
        .map(|d| d.payload.as_ref().map(rows::json))
        .collect();
    let base: Vec<i32> = ds.iter().map(|d| d.retry_base as i32).collect();
    let expires: Vec<Option<i64>> = ds.iter().map(|d| d.expires_ms.map(|t| t as i64)).collect();
    c.run(
        "UPDATE deliveries d SET status = u.status, attempts = u.attempts, \
         updated_ms = u.updated_ms, next_attempt_ms = u.next_attempt_ms, \
         due_key_ms = u.due_key_ms, last_status_code = u.last_status_code, \
         last_error = u.last_error, payload = u.payload, retry_base = u.retry_base, \
         expires_ms = u.expires_ms, lease_token = NULL, lease_until_ms = NULL, \
         lease_node = NULL \
         FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], \
         $6::bigint[], $7::int[], $8::text[], $9::text[], $10::int[], $11::bigint[]) \
         AS u(id, status, attempts, updated_ms, next_attempt_ms, due_key_ms, \
         last_status_code, last_error, payload, retry_base, expires_ms) WHERE d.id = u.id",
        &[
            &ids, &status, &attempts, &updated, &next, &due, &code, &error, &payload, &base,
            &expires,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Each endpoint's effects in order, the state read and written once per endpoint. Returns
/// the states that changed.
async fn write_effects(
    c: &impl GenericClient,
    effects: &[(String, EndpointEffect)],
) -> Result<HashMap<String, EndpointState>, StoreError> {
    let mut by_endpoint: Vec<(&str, Vec<EndpointEffect>)> = Vec::new();
    for (ep, e) in effects {
        match by_endpoint.iter_mut().find(|(x, _)| x == ep) {
            Some((_, list)) => list.push(*e),
            None => by_endpoint.push((ep, vec![*e])),
        }
    }
    // In id order, like the deliveries, so batches of two nodes lock states in one order.
    by_endpoint.sort_by(|a, b| a.0.cmp(b.0));
    let mut changed = HashMap::new();
    for (ep, list) in by_endpoint {
        if let Some(st) = admin::apply_effects(c, ep, &list).await? {
            changed.insert(ep.to_string(), st);
        }
    }
    Ok(changed)
}
