//! Retention's background work: the live rules the store stamps finishing deliveries with,
//! the pruner that removes what has expired, and the samplers of disk headroom and store size.
//!
//! The pruner removes at most [`PRUNE_BATCH`] rows per step, each step its own short write
//! transaction between the gateway's own commits, and steps again at once while a backlog
//! remains: at saturation it keeps up with the rate deliveries finish (a step removes far more
//! than one commit's worth of outcomes), and idle it costs one index seek every 250 ms. A step
//! commits without an fsync of its own (lost in a crash, it is simply taken again). When the
//! rules change (a reload, an endpoint's own `retention:` through the API), it walks every
//! finished delivery once and re-stamps it, so a shorter rule also reaches what finished
//! before the change; the walk's cursor is stored, so a restart continues it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::config::{keep_text, FinishedAs, Keep, RetentionConfig};
use crate::dispatch::registry::Registry;
use crate::store::{now_ms, Headroom, RetentionRules, Store, StoreError};

/// Rows a pruning step removes at most (per kind).
pub const PRUNE_BATCH: usize = 128;
/// Deliveries a re-stamping step looks at.
const RESTAMP_BATCH: usize = 1_000;
/// Pause between steps when nothing has expired.
const IDLE: Duration = Duration::from_millis(250);
/// How often the rules' fingerprint is compared with the one the store was stamped under.
const RULES_CHECK: Duration = Duration::from_secs(10);
/// Pause after a store error.
const FAILURE_BACKOFF: Duration = Duration::from_secs(2);
/// How often free space and the store's size are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// Setting: the fingerprint of the rules every finished delivery is stamped under.
const STAMPED_UNDER: &str = "retention.stamped_under";
/// Setting: where the re-stamping walk is (absent: not walking).
const WALK_CURSOR: &str = "retention.walk_cursor";
/// A walk cursor meaning "from the first delivery".
const WALK_START: &str = "";
/// The walk cursor once the walk is over.
const WALK_DONE: &str = "done";

/// The gateway's rules: an endpoint's own `retention:` over the live global block.
pub struct LiveRetention {
    /// Live endpoints, whose configs carry their own rules.
    pub registry: Arc<Registry>,
    /// The global block, swapped by a reload.
    pub global: Arc<ArcSwap<RetentionConfig>>,
}

impl RetentionRules for LiveRetention {
    fn keep(&self, endpoint_id: &str, how: FinishedAs) -> Keep {
        let ep = self.registry.get(endpoint_id);
        let own = ep.as_ref().and_then(|e| e.config.retention.as_deref());
        self.global.load().keep(own, how)
    }

    fn keep_audit(&self) -> Keep {
        self.global.load().audit
    }
}

impl LiveRetention {
    /// A digest of every rule in force: the global block and each endpoint's own. Costs a pass
    /// over the endpoints, so it is taken every [`RULES_CHECK`], not per delivery.
    pub fn fingerprint(&self) -> String {
        let g = self.global.load();
        let mut text = String::new();
        for k in [g.succeeded, g.dead, g.filtered, g.cancelled, g.audit] {
            let _ = write!(text, "{},", keep_text(k));
        }
        for e in self.registry.snapshot().iter() {
            if let Some(o) = e.config.retention.as_deref() {
                let _ = write!(text, "\n{}:", e.config.id);
                for k in [o.succeeded, o.dead, o.filtered, o.cancelled] {
                    let _ = write!(text, "{},", k.map(keep_text).unwrap_or_default());
                }
            }
        }
        hex::encode(&Sha256::digest(text.as_bytes())[..8])
    }
}

/// The pruner task.
pub struct Pruner {
    /// Where to prune.
    pub store: Arc<dyn Store>,
    /// The rules in force (also installed in the store).
    pub rules: Arc<LiveRetention>,
}

impl Pruner {
    /// Runs until `token` is cancelled. A step in progress finishes (it is one transaction).
    pub async fn run(self, token: CancellationToken) {
        let mut next_check = tokio::time::Instant::now();
        loop {
            let pause = match self.step(&mut next_check).await {
                Ok(true) => Duration::ZERO,
                Ok(false) => IDLE,
                Err(e) => {
                    tracing::warn!(error = %e, "pruning step failed; trying again");
                    FAILURE_BACKOFF
                }
            };
            if pause.is_zero() {
                // Let the gateway's own commits in between steps.
                tokio::task::yield_now().await;
                if token.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = token.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One step: the rules check when due, then a re-stamping step while a walk is on, then a
    /// pruning step. True when there is more to do at once.
    async fn step(&self, next_check: &mut tokio::time::Instant) -> Result<bool, StoreError> {
        if tokio::time::Instant::now() >= *next_check {
            *next_check = tokio::time::Instant::now() + RULES_CHECK;
            self.check_rules().await?;
        }
        let mut more = false;
        let walk = self.store.pruner_setting(WALK_CURSOR).await?;
        if let Some(cursor) = walk.filter(|c| c != WALK_DONE) {
            let cursor = (cursor != WALK_START).then_some(cursor);
            match self.store.restamp(cursor.as_deref(), RESTAMP_BATCH).await? {
                Some(next) => {
                    self.store.set_pruner_setting(WALK_CURSOR, &next).await?;
                    more = true;
                }
                None => {
                    self.store
                        .set_pruner_setting(WALK_CURSOR, WALK_DONE)
                        .await?;
                    tracing::info!(
                        "retention: every finished delivery is stamped under the current rules"
                    );
                }
            }
        }
        let pruned = self.store.prune(now_ms(), PRUNE_BATCH).await?;
        record(&pruned);
        Ok(more || pruned.more)
    }

    /// Starts a walk when the rules differ from those the store was stamped under (including
    /// a store that has never been stamped: rows from before retention get their stamps).
    async fn check_rules(&self) -> Result<(), StoreError> {
        let now = self.rules.fingerprint();
        if self.store.pruner_setting(STAMPED_UNDER).await?.as_deref() == Some(now.as_str()) {
            return Ok(());
        }
        tracing::info!(
            rules = %now,
            "retention rules changed: re-stamping finished deliveries"
        );
        self.store
            .set_pruner_setting(WALK_CURSOR, WALK_START)
            .await?;
        self.store.set_pruner_setting(STAMPED_UNDER, &now).await
    }
}

fn record(p: &crate::store::Pruned) {
    let m = crate::metrics::global();
    for (kind, n) in [
        ("deliveries", p.deliveries),
        ("attempts", p.attempts),
        ("events", p.events),
        ("audit", p.audit),
    ] {
        if n > 0 {
            m.pruned
                .get_or_create(&crate::metrics::Kind { kind })
                .inc_by(n);
        }
    }
    let behind = p
        .behind_since_ms
        .map_or(0, |t| now_ms().saturating_sub(t) / 1000);
    m.prune_behind_seconds.set(behind as i64);
}

/// Samples free space every [`SAMPLE_EVERY`] (logging each crossing of the reserve) and the
/// store's size every few seconds, into the metrics, until `token` is cancelled.
pub async fn sample(headroom: Arc<Headroom>, store: Arc<dyn Store>, token: CancellationToken) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    let mut n: u64 = 0;
    let m = crate::metrics::global();
    loop {
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tick.tick() => {}
        }
        match headroom.sample() {
            Some(true) => tracing::error!(
                free_bytes = headroom.free().unwrap_or(0),
                min_free = headroom.min_free(),
                "free disk space below storage.min_free: publishes are refused (503 store_full) until space returns; attempts are still recorded"
            ),
            Some(false) => tracing::info!(
                free_bytes = headroom.free().unwrap_or(0),
                "free disk space back above storage.min_free: accepting publishes again"
            ),
            None => {}
        }
        if let Some(free) = headroom.free() {
            m.disk_free_bytes.set(free.min(i64::MAX as u64) as i64);
        }
        m.store_full.set(headroom.is_low() as i64);
        if n % 10 == 0 {
            if let Ok(u) = store.usage().await {
                m.store_bytes.set(u.bytes as i64);
                for (kind, rows) in u.rows {
                    m.store_rows
                        .get_or_create(&crate::metrics::Kind { kind })
                        .set(rows as i64);
                }
            }
        }
        n += 1;
    }
}
