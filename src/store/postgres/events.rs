//! [`EventLog`] on PostgreSQL: an event and its fan-out in one transaction.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::rows::{self, EVENT_COLS};
use super::{cluster, pg, PgStore};
use crate::store::*;

#[async_trait]
impl EventLog for PgStore {
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<Vec<Ingested>, StoreError> {
        let r = async {
            let mut c = self.client().await?;
            let txn = c.transaction().await.map_err(pg)?;
            let mut out = Vec::with_capacity(events.len());
            for new in events {
                out.push(ingest_one(&txn, new).await?);
            }
            let due = out.iter().flat_map(|i| match i {
                Ingested::Created(e) => &e.deliveries[..],
                Ingested::Duplicate(_) => &[],
            });
            let notice = cluster::due_notice(due.map(|d| d.endpoint_id.as_str()));
            if notice != Notice::Due(Vec::new()) {
                cluster::notify(&txn, &notice).await?;
            }
            txn.commit().await.map_err(pg)?;
            Ok(out)
        };
        self.watch(r.await)
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
            .query(
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
            .query(
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
async fn ingest_one(c: &impl GenericClient, new: NewEvent) -> Result<Ingested, StoreError> {
    let e = &new.event;
    let inserted = c
        .execute(
            "INSERT INTO events (id, type, tenant, timestamp_ms, body, fanout) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[
                &e.id,
                &e.event_type,
                &e.tenant,
                &(e.timestamp_ms as i64),
                &e.body,
                &(e.fanout as i32),
            ],
        )
        .await
        .map_err(pg)?;
    if inserted == 0 {
        let event = read_event(c, &e.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                table: "events",
                detail: format!("{} conflicted but cannot be read", e.id),
            })?;
        let rows = c
            .query(
                "SELECT id, endpoint_id FROM deliveries WHERE event_id = $1 ORDER BY id",
                &[&e.id],
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
        return Ok(Ingested::Duplicate(NewEvent { event, deliveries }));
    }
    let ids: Vec<&str> = new.deliveries.iter().map(|d| d.id.as_str()).collect();
    let eps: Vec<&str> = new
        .deliveries
        .iter()
        .map(|d| d.endpoint_id.as_str())
        .collect();
    // The same record `outcome::new_delivery` describes: pending, due at the event's time.
    c.execute(
        "INSERT INTO deliveries (id, event_id, endpoint_id, tenant, status, attempts, \
         created_ms, updated_ms, next_attempt_ms, due_key_ms, retry_base) \
         SELECT d, $3, ep, $4, 'pending', 0, $5, $5, $5, $5, 0 \
         FROM unnest($1::text[], $2::text[]) AS u(d, ep)",
        &[&ids, &eps, &e.id, &e.tenant, &(e.timestamp_ms as i64)],
    )
    .await
    .map_err(pg)?;
    Ok(Ingested::Created(new))
}

async fn read_event(c: &impl GenericClient, id: &str) -> Result<Option<EventRecord>, StoreError> {
    let sql = format!("SELECT {EVENT_COLS} FROM events e WHERE e.id = $1");
    let row = c.query_opt(&sql, &[&id]).await.map_err(pg)?;
    Ok(row.map(|r| rows::event(&r, 0)))
}
