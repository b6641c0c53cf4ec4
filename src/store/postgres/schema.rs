//! The schema, as numbered migrations embedded in the binary.
//!
//! Applied at start inside one transaction holding an advisory lock, so N nodes starting
//! together apply each migration once and the others wait, then find nothing to do. A node
//! refuses a database whose schema is newer than it knows (a newer binary migrated it): running
//! old code on a new schema could write rows the new code misreads.
//!
//! Ids are `COLLATE "C"`: listings page by id, and byte order is the order redb keeps, whatever
//! the database's default collation.

use deadpool_postgres::Client;

use super::pg;
use crate::store::StoreError;

/// Key of the advisory lock migrations run under ("hookgate" in ASCII).
const MIGRATION_LOCK: i64 = 0x686f_6f6b_6761_7465;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE events (
    id text COLLATE "C" PRIMARY KEY,
    type text NOT NULL,
    tenant text NOT NULL,
    timestamp_ms bigint NOT NULL,
    body text NOT NULL,
    fanout integer NOT NULL
);
CREATE INDEX events_by_time ON events (timestamp_ms, id);
CREATE TABLE deliveries (
    id text COLLATE "C" PRIMARY KEY,
    event_id text COLLATE "C" NOT NULL,
    endpoint_id text COLLATE "C" NOT NULL,
    tenant text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL,
    created_ms bigint NOT NULL,
    updated_ms bigint NOT NULL,
    next_attempt_ms bigint,
    due_key_ms bigint NOT NULL,
    last_status_code integer,
    last_error text,
    payload text,
    retry_base integer NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (endpoint_id, due_key_ms, id) WHERE status = 'pending';
CREATE INDEX deliveries_by_event ON deliveries (event_id, id);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, id);
CREATE TABLE attempts (
    delivery_id text COLLATE "C" NOT NULL,
    n integer NOT NULL,
    record text NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
CREATE TABLE payloads (delivery_id text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE endpoint_state (endpoint_id text COLLATE "C" PRIMARY KEY, state text NOT NULL);
CREATE TABLE endpoint_secrets (endpoint_id text COLLATE "C" PRIMARY KEY, sealed bytea NOT NULL);
CREATE TABLE plugin_kv (
    ns text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (ns, key)
);
CREATE TABLE plugin_kv_usage (ns text COLLATE "C" PRIMARY KEY, bytes bigint NOT NULL);
CREATE TABLE managed_endpoints (id text COLLATE "C" PRIMARY KEY, sealed bytea NOT NULL);
CREATE TABLE api_keys (id text COLLATE "C" PRIMARY KEY, record text NOT NULL);
CREATE TABLE audit (id text COLLATE "C" PRIMARY KEY, record text NOT NULL);
CREATE TABLE counters (
    endpoint_id text COLLATE "C" NOT NULL,
    hour bigint NOT NULL,
    attempts_ok bigint NOT NULL,
    attempts_failed bigint NOT NULL,
    delivered bigint NOT NULL,
    dead bigint NOT NULL,
    PRIMARY KEY (endpoint_id, hour)
);
"#];

/// The schema version this binary writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the database to [`VERSION`], or refuses one that is newer.
pub async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let txn = client.transaction().await.map_err(pg)?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    txn.batch_execute("CREATE TABLE IF NOT EXISTS hookgate_schema (version integer NOT NULL)")
        .await
        .map_err(pg)?;
    let found: i32 = txn
        .query_one("SELECT coalesce(max(version), 0) FROM hookgate_schema", &[])
        .await
        .map_err(pg)?
        .get(0);
    if found > VERSION {
        return Err(StoreError::Storage(
            format!(
                "the database schema is version {found}, newer than this hookgate knows \
                 ({VERSION}): run the newer hookgate, or restore a backup taken before it \
                 migrated"
            )
            .into(),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        txn.batch_execute(sql).await.map_err(pg)?;
        let v = i as i32 + 1;
        txn.execute("INSERT INTO hookgate_schema (version) VALUES ($1)", &[&v])
            .await
            .map_err(pg)?;
        tracing::info!(version = v, "store schema migrated");
    }
    txn.commit().await.map_err(pg)
}
