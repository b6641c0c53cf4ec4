//! [`DeliveryQueue`] and [`DeliveryLog`] on PostgreSQL. The due index is a partial index on
//! pending deliveries ordered as redb's (endpoint, due key, id), so "the next due deliveries of
//! these endpoints" is one statement however large the backlog is.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::rows::{self, DELIVERY_COLS, DELIVERY_WIDTH, EVENT_COLS};
use super::sql::Cached;
use super::{admin, cluster, pg, PgStore};
use crate::store::shared::*;
use crate::store::*;

#[async_trait]
impl DeliveryQueue for PgStore {
    async fn claim(
        &self,
        now_ms: Millis,
        wants: &[DueWant<'_>],
    ) -> Result<Vec<DueScan>, StoreError> {
        let mut scans: Vec<DueScan> = wants.iter().map(|_| DueScan::default()).collect();
        let c = self.client().await?;
        let claimed = self.watch(claim_rows(&c, &self.node, self.lease, now_ms, wants).await)?;
        let mut tokens: HashMap<String, (usize, Claim)> = HashMap::new();
        for row in &claimed {
            let i = row.get::<_, i32>(0) as usize - 1;
            match row.get::<_, Option<String>>(1) {
                Some(id) => {
                    tokens.insert(id, (i, row.get::<_, i64>(2) as Claim));
                }
                None => {
                    scans[i].next_due_ms = row.get::<_, Option<i64>>(3).map(|t| t as Millis);
                    scans[i].full = row.get(4);
                }
            }
        }
        if tokens.is_empty() {
            return Ok(scans);
        }
        let ids: Vec<&str> = tokens.keys().map(String::as_str).collect();
        let sql = format!(
            "SELECT {DELIVERY_COLS}, {EVENT_COLS}, p.body FROM deliveries d \
             JOIN events e ON e.id = d.event_id \
             LEFT JOIN payloads p ON p.delivery_id = d.id \
             WHERE d.id = ANY($1) ORDER BY d.due_key_ms, d.id"
        );
        let found = match self.watch(c.rows(&sql, &[&ids]).await.map_err(pg)) {
            Ok(found) => found,
            Err(e) => {
                // Claimed but not read: give the claims up now rather than have other nodes
                // wait their leases out.
                let claims: Vec<(String, Claim)> =
                    tokens.into_iter().map(|(id, (_, t))| (id, t)).collect();
                let _ = self.release(&claims).await;
                return Err(e);
            }
        };
        let mut events: HashMap<String, Arc<EventRecord>> = HashMap::new();
        for row in &found {
            let delivery = rows::delivery(row, 0)?;
            let (i, claim) = tokens[&delivery.id];
            let event = events
                .entry(delivery.event_id.clone())
                .or_insert_with(|| Arc::new(rows::event(row, DELIVERY_WIDTH)))
                .clone();
            let stored: Option<&[u8]> = row.get(DELIVERY_WIDTH + 6);
            let payload = chain_output(&delivery, &event.body, stored)?.map(Arc::new);
            tokens.remove(&delivery.id);
            scans[i].items.push(DueDelivery {
                delivery,
                event,
                payload,
                claim,
            });
        }
        // Renewed from here on: only what will be attempted, so a claim that is not (its row
        // could not be read whole) runs out instead of being held for ever.
        self.claims
            .hold((scans.iter().flat_map(|s| &s.items)).map(|d| (d.delivery.id.clone(), d.claim)));
        if !tokens.is_empty() {
            let unread: Vec<(String, Claim)> =
                tokens.into_iter().map(|(id, (_, t))| (id, t)).collect();
            let _ = self.release(&unread).await;
        }
        Ok(scans)
    }

    async fn release(&self, claims: &[(String, Claim)]) -> Result<(), StoreError> {
        let ids: Vec<&str> = claims.iter().map(|(id, _)| id.as_str()).collect();
        let tokens: Vec<i64> = claims.iter().map(|(_, t)| *t as i64).collect();
        for (id, t) in claims {
            self.claims.drop_claim(id, *t);
        }
        let c = self.client().await?;
        c.run(
            "UPDATE deliveries d SET lease_token = NULL, lease_until_ms = NULL, lease_node = NULL \
             FROM unnest($1::text[], $2::bigint[]) AS c(id, token) \
             WHERE d.id = c.id AND d.lease_token = c.token",
            &[&ids, &tokens],
        )
        .await
        .map_err(pg)?;
        Ok(())
    }

    async fn pending_endpoints(&self) -> Result<Vec<(String, Millis)>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT endpoint_id, min(due_key_ms) FROM deliveries WHERE status = 'pending' \
                 GROUP BY endpoint_id ORDER BY endpoint_id",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as Millis))
            .collect())
    }

    async fn record(&self, outcomes: Vec<AttemptOutcome>) -> Result<Vec<Recorded>, StoreError> {
        let claims: Vec<(String, Claim)> = (outcomes.iter())
            .filter(|o| o.claim != NO_CLAIM)
            .map(|o| (o.delivery.id.clone(), o.claim))
            .collect();
        let r = self.watch(super::batch::offer(&self.recorder, outcomes).await);
        match &r {
            Ok(_) => {
                for (id, claim) in &claims {
                    self.claims.drop_claim(id, *claim);
                }
            }
            // Refused for good: the worker attempts it again, so the claim must end here (as
            // in redb), or its lease would be renewed and nobody could claim it again. While
            // the store is unavailable the outcome is offered again, under the claim.
            Err(e) if !e.is_transient() => {
                let _ = self.release(&claims).await;
            }
            Err(_) => {}
        }
        r
    }

    async fn cancel_endpoint(&self, endpoint_id: &str) -> Result<u64, StoreError> {
        let c = self.client().await?;
        self.watch(cancel_pending(&c, endpoint_id, &*self.rules.get()).await)
    }

    async fn requeue(
        &self,
        delivery_id: &str,
        audit: AuditEntry,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let Some(mut d) = rows::lock_delivery(&txn, delivery_id).await? else {
            return Ok(None);
        };
        requeue(&mut d, now_ms());
        rows::put_delivery(&txn, &d).await?;
        admin::audit(&txn, &audit).await?;
        cluster::notify(&txn, &Notice::Due(vec![d.endpoint_id.clone()])).await?;
        txn.commit().await.map_err(pg)?;
        Ok(Some(d))
    }

    async fn recover(
        &self,
        endpoint_id: &str,
        since_ms: Millis,
        mut audit: AuditEntry,
    ) -> Result<u64, StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.endpoint_id = $1 \
             AND d.status = 'dead' AND d.created_ms >= $2 ORDER BY d.id FOR UPDATE"
        );
        let dead = txn
            .rows(&sql, &[&endpoint_id, &(since_ms as i64)])
            .await
            .map_err(pg)?;
        let now = now_ms();
        for row in &dead {
            let mut d = rows::delivery(row, 0)?;
            requeue(&mut d, now);
            rows::put_delivery(&txn, &d).await?;
        }
        let n = dead.len() as u64;
        audit.after = Some(serde_json::json!({ "since_ms": since_ms, "requeued": n }));
        admin::audit(&txn, &audit).await?;
        if n > 0 {
            cluster::notify(&txn, &Notice::Due(vec![endpoint_id.to_string()])).await?;
        }
        txn.commit().await.map_err(pg)?;
        Ok(n)
    }
}

/// Cancels every pending delivery of an endpoint; how many.
pub async fn cancel_pending(
    c: &impl GenericClient,
    endpoint_id: &str,
    rules: &dyn RetentionRules,
) -> Result<u64, StoreError> {
    let now = now_ms();
    let expires = RulesSlot::expiry(rules, endpoint_id, DeliveryStatus::Cancelled, now);
    c.run(
        "UPDATE deliveries SET status = 'cancelled', next_attempt_ms = NULL, \
         updated_ms = $2, expires_ms = $3 WHERE endpoint_id = $1 AND status = 'pending'",
        &[&endpoint_id, &(now as i64), &expires.map(|t| t as i64)],
    )
    .await
    .map_err(pg)
}

/// Runs `hookgate_claim` (see `schema`) for `wants`: the claimed ids with their tokens, and a
/// row per want saying when to look again.
async fn claim_rows(
    c: &impl GenericClient,
    node: &str,
    lease: std::time::Duration,
    now_ms: Millis,
    wants: &[DueWant<'_>],
) -> Result<Vec<Row>, StoreError> {
    let eps: Vec<&str> = wants.iter().map(|w| w.endpoint_id).collect();
    let clamp = |n: usize| n.min(i32::MAX as usize) as i32;
    let limits: Vec<i32> = wants.iter().map(|w| clamp(w.limit)).collect();
    let caps: Vec<i32> = wants.iter().map(|w| clamp(w.cap)).collect();
    let fifos: Vec<bool> = wants.iter().map(|w| w.fifo).collect();
    let rates: Vec<Option<f64>> = wants.iter().map(|w| w.rate).collect();
    c.rows(
        "SELECT o_want, o_id, o_token, o_next, o_full \
         FROM hookgate_claim($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &eps,
            &limits,
            &caps,
            &fifos,
            &rates,
            &(now_ms as i64),
            &(lease.as_millis() as i64),
            &node,
        ],
    )
    .await
    .map_err(pg)
}

/// A delivery's stored chain output, rebuilt from its record (inline) or its payload row
/// (`stored`); `None` when it has none or the row is missing, so the chain runs again.
fn chain_output(
    d: &DeliveryRecord,
    event_body: &str,
    stored: Option<&[u8]>,
) -> Result<Option<StoredPayload>, StoreError> {
    let Some(meta) = &d.payload else {
        return Ok(None);
    };
    let bytes = match (&meta.inline, stored) {
        (Some(inline), _) => inline.as_bytes(),
        (None, Some(row)) => row,
        (None, None) => return Ok(None),
    };
    StoredPayload::from_row(meta, event_body.as_bytes(), bytes)
        .map(Some)
        .ok_or_else(|| corrupt_payload(&d.id))
}

#[async_trait]
impl DeliveryLog for PgStore {
    async fn delivery(
        &self,
        id: &str,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let c = self.client().await?;
        let sql = format!("SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.id = $1");
        let Some(row) = c.maybe_row(&sql, &[&id]).await.map_err(pg)? else {
            return Ok(None);
        };
        let d = rows::delivery(&row, 0)?;
        let attempts = c
            .rows(
                "SELECT record FROM attempts WHERE delivery_id = $1 ORDER BY n",
                &[&id],
            )
            .await
            .map_err(pg)?
            .iter()
            .map(|r| rows::from_json("attempts", r.get(0)))
            .collect::<Result<_, _>>()?;
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
        let row: Option<Row> = if meta.inline.is_some() {
            None
        } else {
            let c = self.client().await?;
            c.maybe_row(
                "SELECT body FROM payloads WHERE delivery_id = $1",
                &[&delivery.id],
            )
            .await
            .map_err(pg)?
        };
        let stored: Option<&[u8]> = row.as_ref().map(|r| r.get(0));
        Ok(chain_output(delivery, event_body, stored)?.map(|p| p.body))
    }

    async fn endpoint_deliveries(
        &self,
        endpoint_id: &str,
        status: Option<DeliveryStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<DeliveryPage, StoreError> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.endpoint_id = $1 \
             AND ($2::text IS NULL OR d.id < $2) AND ($3::text IS NULL OR d.status = $3) \
             ORDER BY d.id DESC LIMIT $4"
        );
        let rows = c
            .rows(
                &sql,
                &[
                    &endpoint_id,
                    &cursor,
                    &status.map(DeliveryStatus::as_str),
                    &(limit as i64 + 1),
                ],
            )
            .await
            .map_err(pg)?;
        let mut items = rows
            .iter()
            .map(|r| rows::delivery(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        Ok(DeliveryPage { items, next_cursor })
    }
}
