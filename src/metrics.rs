//! Process metrics in Prometheus text format (`GET /metrics`).
//!
//! One global set, because metrics describe the process and the hot paths should not carry a
//! handle through every call. Recording is a few atomic adds; rendering happens per scrape.
//! A leaf module like `guard`: anyone may record, it imports nothing of ours.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of attempt and delivery counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `succeeded`, `failed`, `dead`, `filtered`, `cancelled`.
    pub outcome: &'static str,
}

/// Label of the connection-close counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseReason {
    /// `header_timeout`, `idle_timeout`, `shed`, `shutdown`, `forced`.
    pub reason: &'static str,
}

/// Label of the store's size and pruning series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    /// `events`, `deliveries`, `attempts`, `payloads`, `audit`.
    pub kind: &'static str,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    /// Events accepted (duplicates not counted).
    pub published: Counter,
    /// Attempts by result (`succeeded` or `failed`).
    pub attempts: Family<Outcome, Counter>,
    /// Deliveries that reached a final state, by state.
    pub deliveries: Family<Outcome, Counter>,
    /// Failed attempts that were scheduled to be tried again.
    pub retries: Counter,
    /// Attempts in flight now.
    pub in_flight: Gauge,
    /// Attempts whose claim had run out before their outcome was recorded (a cluster node
    /// took the delivery over): each is a duplicate request the receiver may have seen.
    pub stale_outcomes: Counter,
    /// Pending deliveries (set when scraped; the last known value while the store is down).
    pub queue_depth: Gauge,
    /// 1 while the store can commit, 0 from a failed commit until it has recovered.
    pub store_writable: Gauge,
    /// Seconds from request to response (or failure) of each attempt.
    pub attempt_seconds: Histogram,
    /// Seconds spent running an endpoint's plugin chain.
    pub plugin_seconds: Histogram,
    /// API client connections open now.
    pub http_connections_open: Gauge,
    /// API client connections the gateway closed, by why (client-side closes are not counted).
    pub http_connections_closed: Family<CloseReason, Counter>,
    /// Rows retention removed, by kind.
    pub pruned: Family<Kind, Counter>,
    /// Seconds since the oldest expired row still waiting to be pruned expired (0 when the
    /// pruner is keeping up).
    pub prune_behind_seconds: Gauge,
    /// Bytes the store takes (the redb file or the PostgreSQL database).
    pub store_bytes: Gauge,
    /// Rows in the store by kind (PostgreSQL: the planner's estimates).
    pub store_rows: Family<Kind, Gauge>,
    /// Free bytes on the data dir's filesystem (redb).
    pub disk_free_bytes: Gauge,
    /// 1 while free space is below `storage.min_free` and publishes are refused.
    pub store_full: Gauge,
}

/// Buckets from 1 ms to ~16 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15)
}

/// Buckets from 10 µs to ~160 ms, doubling.
fn plugin_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.000_01, 2.0, 15)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("hookgate");
        let m = Metrics {
            published: Counter::default(),
            attempts: Family::default(),
            deliveries: Family::default(),
            retries: Counter::default(),
            in_flight: Gauge::default(),
            stale_outcomes: Counter::default(),
            queue_depth: Gauge::default(),
            store_writable: Gauge::default(),
            attempt_seconds: Histogram::new(latency_buckets()),
            plugin_seconds: Histogram::new(plugin_buckets()),
            http_connections_open: Gauge::default(),
            http_connections_closed: Family::default(),
            pruned: Family::default(),
            prune_behind_seconds: Gauge::default(),
            store_bytes: Gauge::default(),
            store_rows: Family::default(),
            disk_free_bytes: Gauge::default(),
            store_full: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register("events_published", "Events accepted", m.published.clone());
        registry.register(
            "attempts",
            "Delivery attempts by outcome",
            m.attempts.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries that reached a final state, by state",
            m.deliveries.clone(),
        );
        registry.register(
            "retries",
            "Failed attempts scheduled again",
            m.retries.clone(),
        );
        registry.register(
            "attempts_in_flight",
            "Attempts in flight",
            m.in_flight.clone(),
        );
        registry.register(
            "stale_outcomes",
            "Attempts recorded too late: their claim had expired and another node took the delivery (duplicates)",
            m.stale_outcomes.clone(),
        );
        registry.register("queue_depth", "Pending deliveries", m.queue_depth.clone());
        registry.register(
            "store_writable",
            "1 while the store can commit, 0 while it is recovering (e.g. a full disk)",
            m.store_writable.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "Attempt latency",
            m.attempt_seconds.clone(),
        );
        registry.register(
            "plugin_duration_seconds",
            "Time in an endpoint's plugin chain",
            m.plugin_seconds.clone(),
        );
        registry.register(
            "http_connections_open",
            "API client connections open",
            m.http_connections_open.clone(),
        );
        registry.register(
            "http_connections_closed",
            "API client connections closed by the gateway, by reason",
            m.http_connections_closed.clone(),
        );
        registry.register(
            "pruned",
            "Rows removed by retention, by kind",
            m.pruned.clone(),
        );
        registry.register(
            "prune_behind_seconds",
            "Age of the oldest expired row not yet pruned (0 when keeping up)",
            m.prune_behind_seconds.clone(),
        );
        registry.register(
            "store_bytes",
            "Bytes the store takes",
            m.store_bytes.clone(),
        );
        registry.register(
            "store_rows",
            "Rows in the store, by kind",
            m.store_rows.clone(),
        );
        registry.register(
            "disk_free_bytes",
            "Free bytes on the data dir's filesystem",
            m.disk_free_bytes.clone(),
        );
        registry.register(
            "store_full",
            "1 while free space is below storage.min_free and publishes are refused",
            m.store_full.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Records a finished attempt: its latency, its result, and what became of the delivery
    /// (`final_state` when it left `pending`; `retried` when it goes again).
    pub fn attempt(&self, latency_s: f64, success: bool, retried: bool) {
        self.attempt_seconds.observe(latency_s);
        let outcome = if success { "succeeded" } else { "failed" };
        self.attempts.get_or_create(&Outcome { outcome }).inc();
        if retried {
            self.retries.inc();
        }
    }

    /// Records a delivery reaching a final state.
    pub fn finished(&self, state: &'static str) {
        self.deliveries
            .get_or_create(&Outcome { outcome: state })
            .inc();
    }

    /// Records a client connection the gateway closed (a timeout, shedding, shutdown).
    pub fn connection_closed(&self, reason: &'static str) {
        self.http_connections_closed
            .get_or_create(&CloseReason { reason })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_the_prefix() {
        let m = global();
        m.published.inc();
        m.attempt(0.004, true, false);
        m.finished("succeeded");
        let text = m.render();
        for name in [
            "hookgate_events_published_total",
            "hookgate_attempts_total{outcome=\"succeeded\"}",
            "hookgate_deliveries_total{outcome=\"succeeded\"}",
            "hookgate_retries_total",
            "hookgate_attempts_in_flight",
            "hookgate_queue_depth",
            "hookgate_store_writable",
            "hookgate_attempt_duration_seconds_bucket",
            "hookgate_plugin_duration_seconds_count",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
