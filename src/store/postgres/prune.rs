//! Retention on PostgreSQL: a pruning step is one transaction that takes expired rows with
//! `FOR UPDATE SKIP LOCKED`, so nodes pruning at once split the work instead of queueing on
//! each other, and a delivery being recorded or requeued right then is left for the next step.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::rows::{self, DELIVERY_COLS};
use super::sql::Cached;
use super::{pg, PgStore};
use crate::config::FinishedAs;
use crate::store::*;

#[async_trait]
impl Retention for PgStore {
    fn set_retention(&self, rules: std::sync::Arc<dyn RetentionRules>) {
        self.rules.set(rules);
    }

    async fn prune(&self, now: Millis, limit: usize) -> Result<Pruned, StoreError> {
        let rules = self.rules.get();
        let mut c = self.client().await?;
        let result = async {
            let txn = c.transaction().await.map_err(pg)?;
            // Lost in a crash, a pruning step is simply taken again: its commit need not wait
            // for the WAL flush.
            txn.batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .map_err(pg)?;
            let out = step(&txn, now, limit, &*rules).await?;
            txn.commit().await.map_err(pg)?;
            Ok(out)
        }
        .await;
        self.watch(result)
    }

    async fn restamp(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<String>, StoreError> {
        let rules = self.rules.get();
        let c = self.client().await?;
        let sql = format!(
            "SELECT {DELIVERY_COLS} FROM deliveries d WHERE d.id > $1 AND d.status <> 'pending' \
             ORDER BY d.id LIMIT $2"
        );
        let found = c
            .rows(&sql, &[&cursor.unwrap_or(""), &(limit as i64)])
            .await
            .map_err(pg);
        let found = self.watch(found)?;
        let mut ids = Vec::new();
        let mut stamps = Vec::new();
        let mut next = None;
        for row in &found {
            let d = rows::delivery(row, 0)?;
            let stamp = RulesSlot::expiry(&*rules, &d.endpoint_id, d.status, d.updated_ms);
            if stamp != d.expires_ms {
                ids.push(d.id.clone());
                stamps.push(stamp.map(|t| t as i64));
            }
            next = Some(d.id);
        }
        if !ids.is_empty() {
            let done = c
                .run(
                    "UPDATE deliveries d SET expires_ms = u.expires_ms \
                     FROM unnest($1::text[], $2::bigint[]) AS u(id, expires_ms) \
                     WHERE d.id = u.id AND d.status <> 'pending'",
                    &[&ids, &stamps],
                )
                .await
                .map_err(pg);
            self.watch(done)?;
        }
        Ok(next.filter(|_| found.len() == limit))
    }

    async fn pruner_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let c = self.client().await?;
        let row = c
            .maybe_row("SELECT value FROM settings WHERE name = $1", &[&name])
            .await
            .map_err(pg);
        Ok(self.watch(row)?.map(|r| r.get(0)))
    }

    async fn set_pruner_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        let done = c
            .run(
                "INSERT INTO settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&name, &value],
            )
            .await
            .map_err(pg);
        self.watch(done).map(|_| ())
    }

    async fn usage(&self) -> Result<StoreUsage, StoreError> {
        let c = self.client().await?;
        let size = c
            .row("SELECT pg_database_size(current_database())", &[])
            .await
            .map_err(pg);
        let bytes: i64 = self.watch(size)?.get(0);
        let mut rows = Vec::new();
        for table in ["events", "deliveries", "attempts", "payloads", "audit"] {
            // The planner's estimate: exact counts would scan the tables.
            let est = c
                .row(
                    "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = $1::text::regclass",
                    &[&table],
                )
                .await
                .map_err(pg);
            let n: i64 = self.watch(est)?.get(0);
            rows.push((table, n as u64));
        }
        Ok(StoreUsage {
            bytes: bytes as u64,
            rows,
        })
    }
}

/// One pruning step inside a transaction.
async fn step(
    c: &impl GenericClient,
    now: Millis,
    limit: usize,
    rules: &dyn RetentionRules,
) -> Result<Pruned, StoreError> {
    let mut out = Pruned::default();
    let now_i = now as i64;
    let gone = c
        .rows(
            "WITH victims AS ( \
                 SELECT id FROM deliveries WHERE expires_ms <= $1 AND status <> 'pending' \
                 ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED) \
             DELETE FROM deliveries d USING victims v WHERE d.id = v.id \
             RETURNING d.id, d.event_id",
            &[&now_i, &(limit as i64)],
        )
        .await
        .map_err(pg)?;
    out.deliveries = gone.len() as u64;
    out.more = gone.len() == limit;
    if !gone.is_empty() {
        let ids: Vec<&str> = gone.iter().map(|r| r.get(0)).collect();
        let mut events: Vec<&str> = gone.iter().map(|r| r.get(1)).collect();
        events.sort_unstable();
        events.dedup();
        out.attempts = c
            .run("DELETE FROM attempts WHERE delivery_id = ANY($1)", &[&ids])
            .await
            .map_err(pg)?;
        c.run("DELETE FROM payloads WHERE delivery_id = ANY($1)", &[&ids])
            .await
            .map_err(pg)?;
        out.events = c
            .run(
                "DELETE FROM events e WHERE e.id = ANY($1) \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)",
                &[&events],
            )
            .await
            .map_err(pg)?;
    }
    if let Some(cut) = rules.keep("", FinishedAs::Succeeded).cut(now) {
        let cut = cut as i64;
        let unrouted = c
            .run(
                "DELETE FROM events WHERE id IN (SELECT id FROM events \
                 WHERE fanout = 0 AND timestamp_ms <= $1 ORDER BY timestamp_ms LIMIT $2 \
                 FOR UPDATE SKIP LOCKED)",
                &[&cut, &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        out.events += unrouted;
        out.more |= unrouted == limit as u64;
    }
    if let Some(cut) = rules.keep_audit().cut(now) {
        let before = AuditEntry::first_id_at(cut);
        out.audit = c
            .run(
                "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE id < $1 \
                 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&before, &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        out.more |= out.audit == limit as u64;
    }
    let oldest = c
        .maybe_row(
            "SELECT expires_ms FROM deliveries WHERE expires_ms <= $1 \
             ORDER BY expires_ms LIMIT 1",
            &[&now_i],
        )
        .await
        .map_err(pg)?;
    out.behind_since_ms = oldest.map(|r| r.get::<_, i64>(0) as Millis);
    Ok(out)
}
