//! Retention: which rule the store applies when a delivery finishes, and what one pruning
//! step removed. The store carries rules out, it does not own them: the gateway installs
//! [`RetentionRules`] (the live `retention:` block and every endpoint's own), and each backend
//! stamps a finishing delivery with the moment it may go ([`DeliveryRecord::expires_ms`]) in
//! the same transaction that finishes it, so pruning is a walk over what has expired, oldest
//! first, that never looks at anything still kept.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{DeliveryStatus, Millis};
use crate::config::{FinishedAs, Keep, RetentionConfig};

/// The rules a store applies, asked at the moment something finishes.
pub trait RetentionRules: Send + Sync {
    /// How long a delivery of `endpoint_id` that finished as `how` is kept.
    fn keep(&self, endpoint_id: &str, how: FinishedAs) -> Keep;
    /// How long the audit log keeps an entry.
    fn keep_audit(&self) -> Keep;
}

/// The global block alone (no endpoint overrides): what a store applies until the gateway
/// installs its live rules, and what tests use.
impl RetentionRules for RetentionConfig {
    fn keep(&self, _endpoint_id: &str, how: FinishedAs) -> Keep {
        RetentionConfig::keep(self, None, how)
    }

    fn keep_audit(&self) -> Keep {
        self.audit
    }
}

/// How a delivery in `status` finished; `None` while it is pending.
pub fn finished_as(status: DeliveryStatus) -> Option<FinishedAs> {
    Some(match status {
        DeliveryStatus::Pending => return None,
        DeliveryStatus::Succeeded => FinishedAs::Succeeded,
        DeliveryStatus::Dead => FinishedAs::Dead,
        DeliveryStatus::Filtered => FinishedAs::Filtered,
        DeliveryStatus::Cancelled => FinishedAs::Cancelled,
    })
}

/// A backend's current rules, swapped in whole by the gateway.
pub struct RulesSlot(ArcSwap<Arc<dyn RetentionRules>>);

impl Default for RulesSlot {
    fn default() -> Self {
        RulesSlot(ArcSwap::from_pointee(Arc::new(RetentionConfig::default())))
    }
}

impl RulesSlot {
    /// Replaces the rules.
    pub fn set(&self, rules: Arc<dyn RetentionRules>) {
        self.0.store(Arc::new(rules));
    }

    /// The rules now (one load per batch, not per row).
    pub fn get(&self) -> Arc<dyn RetentionRules> {
        Arc::clone(&self.0.load())
    }

    /// When a delivery of `endpoint_id` finishing as `status` at `now` expires.
    pub fn expiry(
        rules: &dyn RetentionRules,
        endpoint_id: &str,
        status: DeliveryStatus,
        now: Millis,
    ) -> Option<Millis> {
        finished_as(status).and_then(|how| rules.keep(endpoint_id, how).until(now))
    }
}

/// What one [`super::Retention::prune`] step removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Finished deliveries removed.
    pub deliveries: u64,
    /// Their attempts.
    pub attempts: u64,
    /// Events removed: their last delivery went, or none was ever made and their time came.
    pub events: u64,
    /// Audit entries removed.
    pub audit: u64,
    /// Whether the step stopped at its limit with more already expired: call again soon.
    pub more: bool,
    /// The expiry of the oldest thing still waiting to be removed, if its time has come: how
    /// far the pruner is behind.
    pub behind_since_ms: Option<Millis>,
}

impl Pruned {
    /// Adds another step's counts.
    pub fn add(&mut self, o: &Pruned) {
        self.deliveries += o.deliveries;
        self.attempts += o.attempts;
        self.events += o.events;
        self.audit += o.audit;
    }
}

/// How big the store is, for `/v1/stats`, `/metrics` and sizing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreUsage {
    /// Bytes the store takes: the redb file, or the PostgreSQL database.
    pub bytes: u64,
    /// Rows by kind (`events`, `deliveries`, `attempts`, `payloads`, `audit`); PostgreSQL's are
    /// the planner's estimates, so reading them never scans a table.
    pub rows: Vec<(&'static str, u64)>,
}
