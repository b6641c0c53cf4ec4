//! [`EventLog`] on PostgreSQL: an event and its fan-out in one transaction.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::rows::{self, EVENT_COLS};
use super::sql::Cached;
use super::{cluster, pg, PgStore};
use crate::store::*;

#[async_trait]
impl EventLog for PgStore {
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Ingested>, StoreError> {
        self.watch(super::batch::offer(&self.ingester, events).await)
    }

    async fn event(&self, id: &str) -> Result<Option<EventRecord>, StoreError> {
        let c = self.client().await?;
        read_event(&c, id).await
    }

    async fn event_deliveries(
        &self,
        event_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<DeliveryRef>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT id, endpoint_id FROM deliveries WHERE event_id = $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
                &[&event_id, &cursor.unwrap_or(""), &(limit as i64 + 1)],
            )
            .await
            .map_err(pg)?;
        let mut items: Vec<DeliveryRef> = rows
            .iter()
            .map(|r| DeliveryRef {
                id: r.get(0),
                endpoint_id: r.get(1),
            })
            .collect();
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        Ok(Page { items, next_cursor })
    }

    async fn events(
        &self,
        filter: &EventFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<EventRecord>, StoreError> {
        let (ms, id) = match cursor.and_then(|c| c.split_once('.')) {
            Some((ms, id)) => (ms.parse::<i64>().ok(), id),
            None => (None, ""),
        };
        let c = self.client().await?;
        let sql = format!(
            "SELECT {EVENT_COLS} FROM events e \
             WHERE ($1::bigint IS NULL OR (e.timestamp_ms, e.id) < ($1, $2::text)) \
             AND ($3::text IS NULL OR e.type = $3) AND ($4::text IS NULL OR e.tenant = $4) \
             ORDER BY e.timestamp_ms DESC, e.id DESC LIMIT $5"
        );
        let rows = c
            .rows(
                &sql,
                &[
                    &ms,
                    &id,
                    &filter.event_type,
                    &filter.tenant,
                    &(limit as i64 + 1),
                ],
            )
            .await
            .map_err(pg)?;
        let mut items: Vec<EventRecord> = rows.iter().map(|r| rows::event(r, 0)).collect();
        let next_cursor = (items.len() > limit).then(|| {
            let last = &items[limit - 1];
            format!("{}.{}", last.timestamp_ms, last.id)
        });
        items.truncate(limit);
        Ok(Page { items, next_cursor })
    }
}

/// Stores one event with its deliveries, or answers the stored one if its id is taken (also
/// by a concurrent publish on another node: the insert waits for that one to commit).
/// Events waiting for the ingester, each offer with who to answer.
pub type Offer = super::batch::Offer<NewEvent, Ingested>;

/// Most events in one transaction.
const MAX_BATCH: usize = 1_024;

/// The ingester task: the events of every publish waiting, in one transaction each time
/// ([`super::batch`]), so concurrent publishes share a commit as with redb.
pub async fn run(pool: Pool, rx: mpsc::Receiver<Offer>) {
    let told = Arc::new(Mutex::new(Told::default()));
    super::batch::run(rx, MAX_BATCH, |events| {
        let (pool, told) = (pool.clone(), told.clone());
        async move {
            let mut c = pool.get().await.map_err(super::pool_error)?;
            let txn = c.transaction().await.map_err(pg)?;
            let out = ingest_all(&txn, events, &told).await?;
            txn.commit().await.map_err(pg)?;
            Ok(out)
        }
    })
    .await
}

/// How often at most this node tells the others of new work on one endpoint. This node's own
/// scheduler takes its publishes at once; the notice only lets idle nodes help. Telling every
/// node of every publish had each of N nodes claim per publish (measured: claims per delivery
/// grew with the node count); once per endpoint per interval keeps that cost flat.
const NOTICE_EVERY_MS: Millis = 100;

/// When this node last told the others of each endpoint's new work.
#[derive(Default)]
struct Told(HashMap<String, Millis>);

impl Told {
    /// The endpoints of `eps` not told of within [`NOTICE_EVERY_MS`], now marked told.
    fn due<'a>(&mut self, eps: impl Iterator<Item = &'a str>, now: Millis) -> Vec<&'a str> {
        if self.0.len() > 100_000 {
            self.0
                .retain(|_, at| now.saturating_sub(*at) < NOTICE_EVERY_MS);
        }
        eps.filter(|ep| match self.0.get_mut(*ep) {
            Some(at) if now.saturating_sub(*at) < NOTICE_EVERY_MS => false,
            Some(at) => {
                *at = now;
                true
            }
            None => {
                self.0.insert(ep.to_string(), now);
                true
            }
        })
        .collect()
    }
}

/// Stores `events` with their fan-out, three statements whatever their number: the events
/// (an id already stored is left alone and answered as a duplicate), their deliveries, and one
/// notice of the endpoints with new due work that the other nodes have not heard of lately.
async fn ingest_all(
    c: &impl GenericClient,
    events: Vec<NewEvent>,
    told: &Mutex<Told>,
) -> Result<Vec<Ingested>, StoreError> {
    let ev =
        |f: fn(&EventRecord) -> &str| -> Vec<&str> { events.iter().map(|n| f(&n.event)).collect() };
    let (ids, types, tenants, bodies) = (
        ev(|e| &e.id),
        ev(|e| &e.event_type),
        ev(|e| &e.tenant),
        ev(|e| &e.body),
    );
    let ts: Vec<i64> = events.iter().map(|n| n.event.timestamp_ms as i64).collect();
    let fanouts: Vec<i32> = events.iter().map(|n| n.event.fanout as i32).collect();
    let mut inserted: HashSet<String> = c
        .rows(
            "INSERT INTO events (id, type, tenant, timestamp_ms, body, fanout) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], \
             $5::text[], $6::int[]) ON CONFLICT (id) DO NOTHING RETURNING id",
            &[&ids, &types, &tenants, &ts, &bodies, &fanouts],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The first of two events with one id in a batch is the one stored; the second, like an
    // id stored before, is a duplicate.
    let created: Vec<bool> = events
        .iter()
        .map(|n| inserted.remove(&n.event.id))
        .collect();
    let (mut d_ids, mut d_events, mut d_eps, mut d_tenants, mut d_ts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in events
        .iter()
        .zip(&created)
        .filter(|(_, c)| **c)
        .map(|(n, _)| n)
    {
        for d in &n.deliveries {
            d_ids.push(d.id.as_str());
            d_events.push(n.event.id.as_str());
            d_eps.push(d.endpoint_id.as_str());
            d_tenants.push(n.event.tenant.as_str());
            d_ts.push(n.event.timestamp_ms as i64);
        }
    }
    // The same record `outcome::new_delivery` describes: pending, due at the event's time.
    if !d_ids.is_empty() {
        c.run(
            "INSERT INTO deliveries (id, event_id, endpoint_id, tenant, status, attempts, \
             created_ms, updated_ms, next_attempt_ms, due_key_ms, retry_base) \
             SELECT d, ev, ep, tn, 'pending', 0, ts, ts, ts, ts, 0 \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
             AS u(d, ev, ep, tn, ts)",
            &[&d_ids, &d_events, &d_eps, &d_tenants, &d_ts],
        )
        .await
        .map_err(pg)?;
        let fresh = told.lock().unwrap().due(d_eps.iter().copied(), now_ms());
        if !fresh.is_empty() {
            cluster::notify(c, &cluster::due_notice(fresh)).await?;
        }
    }
    let mut out = Vec::with_capacity(events.len());
    for (n, created) in events.into_iter().zip(created) {
        if created {
            out.push(Ingested::Created(n));
        } else {
            out.push(Ingested::Duplicate(stored(c, &n.event.id).await?));
        }
    }
    Ok(out)
}

/// An event already stored, with its fan-out (a publish that repeated its id).
async fn stored(c: &impl GenericClient, id: &str) -> Result<NewEvent, StoreError> {
    let event = read_event(c, id)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            table: "events",
            detail: format!("{id} conflicted but cannot be read"),
        })?;
    let rows = c
        .rows(
            "SELECT id, endpoint_id FROM deliveries WHERE event_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .map_err(pg)?;
    let deliveries = rows
        .iter()
        .map(|r| DeliveryRef {
            id: r.get(0),
            endpoint_id: r.get(1),
        })
        .collect();
    Ok(NewEvent { event, deliveries })
}

async fn read_event(c: &impl GenericClient, id: &str) -> Result<Option<EventRecord>, StoreError> {
    let sql = format!("SELECT {EVENT_COLS} FROM events e WHERE e.id = $1");
    let row = c.maybe_row(&sql, &[&id]).await.map_err(pg)?;
    Ok(row.map(|r| rows::event(&r, 0)))
}
