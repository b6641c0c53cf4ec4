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
const MIGRATIONS: &[&str] = &[
    r#"
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
    retry_base integer NOT NULL,
    lease_token bigint,
    lease_until_ms bigint,
    lease_node text
);
-- A queue's rows churn: every delivery is inserted, claimed and finished within seconds, and
-- each finished one leaves dead entries at the head of the due index that every claim walks
-- until vacuum removes them. Vacuum this table after a few thousand changes, not a fifth of it.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 20000,
    autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0.02);
CREATE INDEX deliveries_due ON deliveries (endpoint_id, due_key_ms, id) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (endpoint_id)
    WHERE status = 'pending' AND lease_token IS NOT NULL;
CREATE SEQUENCE claim_tokens;
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
CREATE TABLE counter_deltas (
    id bigserial PRIMARY KEY,
    endpoint_id text COLLATE "C" NOT NULL,
    hour bigint NOT NULL,
    attempts_ok bigint NOT NULL,
    attempts_failed bigint NOT NULL,
    delivered bigint NOT NULL,
    dead bigint NOT NULL
);
CREATE TABLE endpoint_rate (
    endpoint_id text COLLATE "C" PRIMARY KEY,
    tokens double precision NOT NULL,
    at_ms bigint NOT NULL
);
CREATE TABLE settings (name text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE nodes (
    id text COLLATE "C" PRIMARY KEY,
    config_hash text NOT NULL,
    started_ms bigint NOT NULL,
    seen_ms bigint NOT NULL
);

-- Claims due deliveries for a batch of endpoints (want i: eps[i], at most lims[i]) with a lease
-- of lease_ms and a fencing token each, holding every endpoint's cluster-wide in-flight cap
-- (caps[i]), strict order (fifos[i]: only the head, only when nothing of the endpoint is
-- claimed) and rate (rates[i] per second, a token bucket in endpoint_rate). One node claims
-- for an endpoint at a time (an advisory lock; a node that finds it taken is told to look again
-- in a few ms). Returns the claimed rows (o_id, o_token), then one row per want with o_id NULL:
-- when to look at the endpoint again (o_next) and whether other claims fill its cap (o_full).
CREATE FUNCTION hookgate_claim(eps text[], lims int[], caps int[], fifos bool[],
                               rates double precision[], now_ms bigint, lease_ms bigint,
                               node text)
RETURNS TABLE (o_want int, o_id text, o_token bigint, o_next bigint, o_full bool)
LANGUAGE plpgsql AS $fn$
DECLARE
    w int;
    ep text;
    room int;
    leased int;
    head_id text;
    head_at bigint;
    tok double precision;
    claimed int;
    -- Leases are stamped and judged by the database's clock, so nodes whose clocks drift apart
    -- never take each other's live claims (due times and rates are the nodes' own).
    lease_now bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
BEGIN
    FOR w IN 1 .. coalesce(array_length(eps, 1), 0) LOOP
        ep := eps[w];
        o_want := w; o_id := NULL; o_token := NULL; o_next := NULL; o_full := false;
        IF NOT pg_try_advisory_xact_lock(1751411043, hashtext(ep)) THEN
            o_next := now_ms + 5;
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT count(*) INTO leased FROM deliveries d
            WHERE d.endpoint_id = ep AND d.status = 'pending' AND d.lease_token IS NOT NULL
              AND d.lease_until_ms > lease_now;
        room := least(lims[w], caps[w] - leased);
        IF fifos[w] AND leased > 0 THEN
            room := 0;
        END IF;
        IF room <= 0 THEN
            o_full := true;
            RETURN NEXT;
            CONTINUE;
        END IF;
        IF rates[w] IS NOT NULL THEN
            INSERT INTO endpoint_rate VALUES (ep, greatest(rates[w], 1), now_ms)
                ON CONFLICT DO NOTHING;
            SELECT least(greatest(rates[w], 1),
                         r.tokens + greatest(now_ms - r.at_ms, 0) * rates[w] / 1000.0)
                INTO tok FROM endpoint_rate r WHERE r.endpoint_id = ep;
            IF tok < 1 THEN
                o_next := now_ms + ceil((1 - tok) * 1000 / rates[w])::bigint;
                RETURN NEXT;
                CONTINUE;
            END IF;
            room := least(room, floor(tok)::int);
        END IF;
        head_id := NULL;
        IF fifos[w] THEN
            -- Only the head may go, and only once it is due.
            SELECT d.id, greatest(d.due_key_ms, coalesce(d.next_attempt_ms, 0))
                INTO head_id, head_at FROM deliveries d
                WHERE d.endpoint_id = ep AND d.status = 'pending'
                ORDER BY d.due_key_ms, d.id LIMIT 1;
            IF head_id IS NULL OR head_at > now_ms THEN
                o_next := head_at;
                RETURN NEXT;
                CONTINUE;
            END IF;
        END IF;
        RETURN QUERY WITH picked AS (
            SELECT q.id FROM deliveries q
            WHERE q.endpoint_id = ep AND q.status = 'pending' AND q.due_key_ms <= now_ms
              AND coalesce(q.next_attempt_ms, 0) <= now_ms
              AND (q.lease_token IS NULL OR q.lease_until_ms <= lease_now)
              AND (head_id IS NULL OR q.id = head_id)
            ORDER BY q.due_key_ms, q.id LIMIT room FOR UPDATE SKIP LOCKED
        ), claimed_rows AS (
            UPDATE deliveries d SET lease_token = nextval('claim_tokens'),
                lease_until_ms = lease_now + lease_ms, lease_node = node
            FROM picked WHERE d.id = picked.id RETURNING d.id, d.lease_token
        ) SELECT w, c.id::text, c.lease_token, NULL::bigint, false FROM claimed_rows c;
        GET DIAGNOSTICS claimed = ROW_COUNT;
        -- When to look again: the first pending delivery nobody holds (for FIFO, the one behind
        -- the head just claimed: the scheduler then waits for the head's completion).
        SELECT greatest(d.due_key_ms, coalesce(d.next_attempt_ms, 0)) INTO o_next
            FROM deliveries d
            WHERE d.endpoint_id = ep AND d.status = 'pending'
              AND (d.lease_token IS NULL OR d.lease_until_ms <= lease_now)
            ORDER BY d.due_key_ms, d.id LIMIT 1;
        IF rates[w] IS NOT NULL THEN
            UPDATE endpoint_rate SET tokens = tok - claimed, at_ms = greatest(at_ms, now_ms)
                WHERE endpoint_id = ep;
        END IF;
        o_id := NULL; o_token := NULL; o_full := false;
        RETURN NEXT;
    END LOOP;
END
$fn$;
"#,
    r#"
-- Retention: a finished delivery carries when it may go, so pruning reads what is due and
-- nothing else; an event nobody subscribed to goes by its age.
ALTER TABLE deliveries ADD COLUMN expires_ms bigint;
CREATE INDEX deliveries_expiry ON deliveries (expires_ms) WHERE expires_ms IS NOT NULL;
CREATE INDEX events_unrouted ON events (timestamp_ms) WHERE fanout = 0;
"#,
];

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
