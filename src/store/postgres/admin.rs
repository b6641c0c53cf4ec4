//! [`EndpointStore`], [`AdminStore`], [`StatsStore`] and [`PluginKv`] on PostgreSQL. Secrets and
//! managed endpoints are sealed with the master key exactly as in redb, so a database dump
//! holds no secret in clear; every change made through the API writes its audit entry in the
//! same transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::cluster::notify;
use super::rows::{from_json, json};
use super::sql::Cached;
use super::{pg, PgStore};
use crate::store::shared::*;
use crate::store::*;

/// Appends an audit entry inside the caller's transaction.
pub async fn audit(c: &impl GenericClient, entry: &AuditEntry) -> Result<(), StoreError> {
    c.run(
        "INSERT INTO audit (id, record) VALUES ($1, $2)",
        &[&entry.id, &json(entry)],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Adds this hour's counts per endpoint, as rows appended to `counter_deltas`: the counts of
/// one busy endpoint would otherwise be one row that every record of every node locks until its
/// commit, which made records queue behind each other's fsyncs (measured: the whole cluster at
/// ~1,000 records/s). [`fold_counters`] adds the deltas into `counters` later; readers sum
/// both, so a count is visible from its commit on and never lost.
pub async fn add_counters(
    c: &impl GenericClient,
    hour: u64,
    counts: HashMap<String, Counters>,
) -> Result<(), StoreError> {
    for (ep, n) in counts {
        c.run(
            "INSERT INTO counter_deltas (endpoint_id, hour, attempts_ok, attempts_failed, \
             delivered, dead) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &ep,
                &(hour as i64),
                &(n.attempts_ok as i64),
                &(n.attempts_failed as i64),
                &(n.delivered as i64),
                &(n.dead as i64),
            ],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

/// Moves up to `limit` delta rows into `counters`, in one statement (so a crash moves all or
/// none); rows another node is moving are passed over. Returns how many moved.
pub async fn fold_counters(c: &impl GenericClient, limit: i64) -> Result<u64, StoreError> {
    c.run(
        "WITH moved AS (DELETE FROM counter_deltas WHERE id IN (SELECT id FROM counter_deltas \
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING endpoint_id, hour, attempts_ok, attempts_failed, delivered, dead) \
         INSERT INTO counters (endpoint_id, hour, attempts_ok, attempts_failed, delivered, dead) \
         SELECT endpoint_id, hour, sum(attempts_ok), sum(attempts_failed), sum(delivered), \
         sum(dead) FROM moved GROUP BY endpoint_id, hour \
         ON CONFLICT (endpoint_id, hour) DO UPDATE \
         SET attempts_ok = counters.attempts_ok + EXCLUDED.attempts_ok, \
         attempts_failed = counters.attempts_failed + EXCLUDED.attempts_failed, \
         delivered = counters.delivered + EXCLUDED.delivered, \
         dead = counters.dead + EXCLUDED.dead",
        &[&limit],
    )
    .await
    .map_err(pg)
}

/// Applies attempts' effects, in order, to their endpoint's state, the row locked so every
/// node's failures count toward one streak. Returns the state when it changed.
pub async fn apply_effects(
    c: &impl GenericClient,
    endpoint_id: &str,
    effects: &[EndpointEffect],
) -> Result<Option<EndpointState>, StoreError> {
    let apply = |mut st: EndpointState| {
        for e in effects {
            st.apply(*e);
        }
        st
    };
    // The common case, successes on a healthy endpoint, changes nothing: seen without a row
    // lock, so the records of one busy endpoint do not queue behind each other on every node.
    let seen = c
        .maybe_row(
            "SELECT state FROM endpoint_state WHERE endpoint_id = $1",
            &[&endpoint_id],
        )
        .await
        .map_err(pg)?;
    let seen: EndpointState = match &seen {
        Some(row) => from_json("endpoint_state", row.get(0))?,
        None => EndpointState::default(),
    };
    if apply(seen.clone()) == seen {
        return Ok(None);
    }
    c.run(
        "INSERT INTO endpoint_state (endpoint_id, state) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&endpoint_id, &json(&EndpointState::default())],
    )
    .await
    .map_err(pg)?;
    let row = c
        .row(
            "SELECT state FROM endpoint_state WHERE endpoint_id = $1 FOR UPDATE",
            &[&endpoint_id],
        )
        .await
        .map_err(pg)?;
    let before: EndpointState = from_json("endpoint_state", row.get(0))?;
    let st = apply(before.clone());
    if st == before {
        return Ok(None);
    }
    put_state(c, endpoint_id, &st).await?;
    if st.disabled != before.disabled {
        // Every node stops (or starts) delivering to it, not only the one whose attempt
        // tipped the streak.
        notify(c, &Notice::State(endpoint_id.to_string())).await?;
    }
    Ok(Some(st))
}

async fn put_state(
    c: &impl GenericClient,
    endpoint_id: &str,
    st: &EndpointState,
) -> Result<(), StoreError> {
    c.run(
        "INSERT INTO endpoint_state (endpoint_id, state) VALUES ($1, $2) \
         ON CONFLICT (endpoint_id) DO UPDATE SET state = EXCLUDED.state",
        &[&endpoint_id, &json(st)],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

impl PgStore {
    fn open_managed(&self, id: &str, sealed: &[u8]) -> Result<ManagedEndpoint, StoreError> {
        let plain = self.key.open(sealed, &managed_context(id))?;
        decode("managed_endpoints", &plain)
    }

    fn seal_managed(&self, ep: &ManagedEndpoint) -> Vec<u8> {
        self.key.seal(&encode(ep), &managed_context(&ep.id))
    }
}

#[async_trait]
impl EndpointStore for PgStore {
    async fn endpoint_states(&self) -> Result<Vec<(String, EndpointState)>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT endpoint_id, state FROM endpoint_state ORDER BY endpoint_id",
                &[],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| Ok((r.get(0), from_json("endpoint_state", r.get(1))?)))
            .collect()
    }

    async fn put_endpoint_state(&self, id: &str, state: EndpointState) -> Result<(), StoreError> {
        let r = async {
            let mut c = self.client().await?;
            let txn = c.transaction().await.map_err(pg)?;
            put_state(&txn, id, &state).await?;
            notify(&txn, &Notice::State(id.to_string())).await?;
            txn.commit().await.map_err(pg)
        };
        self.watch(r.await)
    }

    async fn generated_secret(
        &self,
        endpoint_id: &str,
        generate: &(dyn Fn() -> String + Send + Sync),
    ) -> Result<String, StoreError> {
        let ctx = secret_context(endpoint_id);
        let c = self.client().await?;
        let select = "SELECT sealed FROM endpoint_secrets WHERE endpoint_id = $1";
        let sealed: Vec<u8> = match c.maybe_row(select, &[&endpoint_id]).await.map_err(pg)? {
            Some(r) => r.get(0),
            None => {
                // Two nodes may both generate one: the first insert wins, both read it back.
                let candidate = self.key.seal(generate().as_bytes(), &ctx);
                c.run(
                    "INSERT INTO endpoint_secrets (endpoint_id, sealed) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                    &[&endpoint_id, &candidate],
                )
                .await
                .map_err(pg)?;
                c.row(select, &[&endpoint_id]).await.map_err(pg)?.get(0)
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
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT id, sealed FROM managed_endpoints WHERE id > $1 ORDER BY id LIMIT $2",
                &[&cursor.unwrap_or(""), &(limit as i64 + 1)],
            )
            .await
            .map_err(pg)?;
        let mut items = rows
            .iter()
            .take(limit)
            .map(|r| self.open_managed(r.get(0), r.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = (rows.len() > limit)
            .then(|| items.last().map(|e| e.id.clone()))
            .flatten();
        items.truncate(limit);
        Ok(Page { items, next_cursor })
    }

    async fn managed_endpoint(&self, id: &str) -> Result<Option<ManagedEndpoint>, StoreError> {
        let c = self.client().await?;
        let row = c
            .maybe_row("SELECT sealed FROM managed_endpoints WHERE id = $1", &[&id])
            .await
            .map_err(pg)?;
        row.map(|r| self.open_managed(id, r.get(0))).transpose()
    }

    async fn create_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        entry: AuditEntry,
    ) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let created = txn
            .run(
                "INSERT INTO managed_endpoints (id, sealed) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                &[&endpoint.id, &self.seal_managed(&endpoint)],
            )
            .await
            .map_err(pg)?;
        if created == 0 {
            return Ok(false);
        }
        audit(&txn, &entry).await?;
        notify(&txn, &Notice::Endpoint(endpoint.id.clone())).await?;
        txn.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn save_managed_endpoint(
        &self,
        endpoint: ManagedEndpoint,
        entry: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        txn.run(
            "INSERT INTO managed_endpoints (id, sealed) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET sealed = EXCLUDED.sealed",
            &[&endpoint.id, &self.seal_managed(&endpoint)],
        )
        .await
        .map_err(pg)?;
        audit(&txn, &entry).await?;
        notify(&txn, &Notice::Endpoint(endpoint.id.clone())).await?;
        txn.commit().await.map_err(pg)
    }

    async fn delete_managed_endpoint(
        &self,
        id: &str,
        entry: AuditEntry,
    ) -> Result<Option<u64>, StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let existed = txn
            .run("DELETE FROM managed_endpoints WHERE id = $1", &[&id])
            .await
            .map_err(pg)?;
        if existed == 0 {
            return Ok(None);
        }
        txn.run("DELETE FROM endpoint_state WHERE endpoint_id = $1", &[&id])
            .await
            .map_err(pg)?;
        let cancelled = super::queue::cancel_pending(&txn, id, &*self.rules.get()).await?;
        audit(&txn, &entry).await?;
        notify(&txn, &Notice::Endpoint(id.to_string())).await?;
        txn.commit().await.map_err(pg)?;
        Ok(Some(cancelled))
    }
}

#[async_trait]
impl AdminStore for PgStore {
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows("SELECT record FROM api_keys ORDER BY id", &[])
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| from_json("api_keys", r.get(0)))
            .collect()
    }

    async fn save_api_key(&self, key: ApiKeyRecord, entry: AuditEntry) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        txn.run(
            "INSERT INTO api_keys (id, record) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &[&key.id, &json(&key)],
        )
        .await
        .map_err(pg)?;
        audit(&txn, &entry).await?;
        notify(&txn, &Notice::Keys).await?;
        txn.commit().await.map_err(pg)
    }

    async fn delete_api_key(&self, id: &str, entry: AuditEntry) -> Result<bool, StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let n = txn
            .run("DELETE FROM api_keys WHERE id = $1", &[&id])
            .await
            .map_err(pg)?;
        if n == 0 {
            return Ok(false);
        }
        audit(&txn, &entry).await?;
        notify(&txn, &Notice::Keys).await?;
        txn.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let c = self.client().await?;
        self.watch(audit(&c, &entry).await)
    }

    async fn audit_log(
        &self,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT record FROM audit WHERE ($1::text IS NULL OR id < $1) \
                 ORDER BY id DESC LIMIT $2",
                &[&cursor, &(limit as i64 + 1)],
            )
            .await
            .map_err(pg)?;
        let mut items = rows
            .iter()
            .map(|r| from_json("audit", r.get(0)))
            .collect::<Result<Vec<AuditEntry>, _>>()?;
        let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
        items.truncate(limit);
        Ok(Page { items, next_cursor })
    }
}

#[async_trait]
impl StatsStore for PgStore {
    async fn counters(&self, since_ms: Millis) -> Result<Vec<(String, Counters)>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT endpoint_id, sum(attempts_ok)::bigint, sum(attempts_failed)::bigint, \
                 sum(delivered)::bigint, sum(dead)::bigint FROM (\
                 SELECT * FROM counters WHERE hour >= $1 UNION ALL \
                 SELECT endpoint_id, hour, attempts_ok, attempts_failed, delivered, dead \
                 FROM counter_deltas WHERE hour >= $1) c \
                 GROUP BY endpoint_id ORDER BY endpoint_id",
                &[&((since_ms / HOUR_MS) as i64)],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| {
                let n = |i| r.get::<_, i64>(i) as u64;
                let c = Counters {
                    attempts_ok: n(1),
                    attempts_failed: n(2),
                    delivered: n(3),
                    dead: n(4),
                };
                (r.get(0), c)
            })
            .collect())
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let row = c
            .row(
                "SELECT count(*) FROM deliveries WHERE status = 'pending'",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn pending_summary(&self, scan_cap: usize) -> Result<Vec<PendingSummary>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .rows(
                "SELECT endpoint_id, count(*), min(created_ms) FROM deliveries \
                 WHERE status = 'pending' GROUP BY endpoint_id ORDER BY endpoint_id",
                &[],
            )
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| {
                let count = r.get::<_, i64>(1) as u64;
                PendingSummary {
                    endpoint_id: r.get(0),
                    count: count.min(scan_cap as u64),
                    oldest_created_ms: r.get::<_, Option<i64>>(2).map(|t| t as Millis),
                    truncated: count > scan_cap as u64,
                }
            })
            .collect())
    }
}

#[async_trait]
impl PluginKv for PgStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let c = self.client().await?;
        let row = c
            .maybe_row(
                "SELECT value FROM plugin_kv WHERE ns = $1 AND key = $2",
                &[&ns, &key],
            )
            .await
            .map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), KvError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        // The usage row, locked: writers to one namespace take turns, so the quota holds
        // across nodes.
        txn.run(
            "INSERT INTO plugin_kv_usage (ns, bytes) VALUES ($1, 0) ON CONFLICT DO NOTHING",
            &[&ns],
        )
        .await
        .map_err(pg)?;
        let used = txn
            .row(
                "SELECT bytes FROM plugin_kv_usage WHERE ns = $1 FOR UPDATE",
                &[&ns],
            )
            .await
            .map_err(pg)?
            .get::<_, i64>(0) as u64;
        let old = txn
            .maybe_row(
                "SELECT octet_length(key) + octet_length(value) FROM plugin_kv \
                 WHERE ns = $1 AND key = $2",
                &[&ns, &key],
            )
            .await
            .map_err(pg)?
            .map_or(0, |r| r.get::<_, i32>(0) as u64);
        let would = used - old.min(used) + (key.len() + value.len()) as u64;
        if would > KV_QUOTA_BYTES {
            return Err(KvError::Quota {
                ns: ns.to_string(),
                would,
                quota: KV_QUOTA_BYTES,
            });
        }
        txn.run(
            "INSERT INTO plugin_kv (ns, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value",
            &[&ns, &key, &value],
        )
        .await
        .map_err(pg)?;
        txn.run(
            "UPDATE plugin_kv_usage SET bytes = $2 WHERE ns = $1",
            &[&ns, &(would as i64)],
        )
        .await
        .map_err(pg)?;
        txn.commit().await.map_err(pg)?;
        Ok(())
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let txn = c.transaction().await.map_err(pg)?;
        let removed = txn
            .maybe_row(
                "DELETE FROM plugin_kv WHERE ns = $1 AND key = $2 \
                 RETURNING octet_length(key) + octet_length(value)",
                &[&ns, &key],
            )
            .await
            .map_err(pg)?;
        if let Some(r) = removed {
            let n = r.get::<_, i32>(0) as i64;
            txn.run(
                "UPDATE plugin_kv_usage SET bytes = greatest(bytes - $2, 0) WHERE ns = $1",
                &[&ns, &n],
            )
            .await
            .map_err(pg)?;
        }
        txn.commit().await.map_err(pg)
    }
}
