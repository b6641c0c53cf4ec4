//! Per-endpoint admission: how many deliveries one endpoint may start now.
//!
//! Pure bookkeeping with the time passed in, so every rule (request slots, rate bucket, FIFO
//! head, when to look again) is tested without a clock, a store or a task. The scheduler owns
//! one [`EndpointSched`] per endpoint that has work in flight or a rate bucket to keep; an
//! endpoint that went quiet costs nothing here (see [`EndpointSched::is_idle`]).

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::rate::TokenBucket;
use super::registry::LiveEndpoint;
use crate::store::{DueDelivery, Millis};

/// Most deliveries taken from one endpoint per scan, so one busy endpoint yields to the next.
pub const SCAN_BATCH: usize = 256;

/// What an endpoint may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Scan for at most this many due deliveries.
    Scan(usize),
    /// Every start slot is taken: the next completion looks again.
    Full,
    /// The rate bucket is empty until then.
    RateLimited {
        /// When the next token comes.
        until: Millis,
    },
}

/// The scheduler's state for one endpoint.
#[derive(Debug, Default)]
pub struct EndpointSched {
    /// Deliveries started and not yet recorded.
    pub in_flight: HashSet<String>,
    /// Request slots (`LiveEndpoint::in_flight_cap` of them, with that cap): an attempt holds
    /// one from its request to the answer. Replaced when the cap changes on reload; attempts
    /// still holding the old one finish with it.
    requests: Option<(usize, Arc<Semaphore>)>,
    /// Set when the endpoint had due work but no free slot: the next completion re-arms it.
    waiting_for_slot: bool,
    /// Set when the store said the cluster-wide cap is held (other nodes' claims count too):
    /// until enough of this node's attempts finish, new publishes do not send it to claim again
    /// (the claim would find the cap held); the completions do. Holds how many of this node's
    /// attempts were in flight then.
    cluster_full: Option<usize>,
    bucket: Option<TokenBucket>,
}

impl EndpointSched {
    /// How many deliveries `live` may start at `now`, with `global` permits left.
    pub fn admit(&mut self, live: &LiveEndpoint, now: Millis, global: usize) -> Admit {
        let free = live.start_cap().saturating_sub(self.in_flight.len());
        if self.cluster_full.is_some() && !self.in_flight.is_empty() {
            return Admit::Full;
        }
        if free == 0 {
            self.waiting_for_slot = true;
            return Admit::Full;
        }
        let mut limit = free.min(global).min(SCAN_BATCH);
        match live.config.rate {
            Some(rate) => {
                let bucket = self
                    .bucket
                    .get_or_insert_with(|| TokenBucket::new(rate.per_second, now));
                if !bucket.is_rate(rate.per_second) {
                    *bucket = TokenBucket::new(rate.per_second, now);
                }
                let tokens = bucket.available(now);
                if tokens == 0 {
                    return Admit::RateLimited {
                        until: bucket.next_token_ms(now),
                    };
                }
                limit = limit.min(tokens);
            }
            None => self.bucket = None,
        }
        Admit::Scan(limit)
    }

    /// The request slots for an endpoint whose cap is `cap` now.
    pub fn slots(&mut self, cap: usize) -> Arc<Semaphore> {
        match &self.requests {
            Some((c, slots)) if *c == cap => Arc::clone(slots),
            _ => {
                let slots = Arc::new(Semaphore::new(cap));
                self.requests = Some((cap, Arc::clone(&slots)));
                slots
            }
        }
    }

    /// The store found the endpoint's cluster-wide cap held: this node's completions look
    /// again (once an eighth of its cap is free), not its publishes.
    pub fn wait_for_cluster_slot(&mut self) {
        self.waiting_for_slot = true;
        self.cluster_full = Some(self.in_flight.len());
    }

    /// Counts `n` starts against the rate bucket.
    pub fn spend(&mut self, n: usize) {
        if let Some(b) = self.bucket.as_mut() {
            b.take(n);
        }
    }

    /// An attempt finished. Returns whether the endpoint should be looked at again now: it was
    /// waiting for a slot and an eighth of its `cap` slots are free, so one store scan starts
    /// several deliveries instead of one scan per completion.
    pub fn finished(&mut self, delivery_id: &str, cap: usize) -> bool {
        self.in_flight.remove(delivery_id);
        let held = self.in_flight.len();
        let free = match self.cluster_full {
            // A quarter of what this node held when the cluster's cap was full has finished.
            Some(at) => at.saturating_sub(held) * 4 >= at.max(1),
            None => cap.saturating_sub(held) >= (cap / 8).max(1),
        };
        if self.waiting_for_slot && (free || held == 0) {
            self.waiting_for_slot = false;
            self.cluster_full = None;
            return true;
        }
        false
    }

    /// Nothing in flight and no rate bucket to remember: the entry can go (it is rebuilt on
    /// the next scan), so memory follows the endpoints with work, not all endpoints ever seen.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty() && self.bucket.is_none() && !self.waiting_for_slot
    }
}

/// Which of a scan's items start now, and when the endpoint needs looking at again.
#[derive(Debug, Default)]
pub struct Sorted {
    /// Due now, in order.
    pub start: Vec<DueDelivery>,
    /// When to look again, if ever.
    pub next: Option<Millis>,
}

/// Sorts one endpoint's scan at `now`. The due key is a lower bound (FIFO keeps the creation
/// time as key), so each record's own next-attempt time decides: a non-FIFO endpoint passes a
/// delivery that is not due yet, a FIFO endpoint stops at it (nothing behind a waiting head may
/// go). `scan_next` is the first due key the scan did not return.
pub fn sort_scan(
    items: Vec<DueDelivery>,
    scan_next: Option<Millis>,
    fifo: bool,
    now: Millis,
) -> Sorted {
    let mut sorted = Sorted {
        next: scan_next,
        ..Sorted::default()
    };
    let mut later: Option<Millis> = None;
    for item in items {
        match item.delivery.next_attempt_ms.filter(|t| *t > now) {
            Some(t) if fifo => {
                later = Some(t);
                sorted.next = None;
                break;
            }
            Some(t) => later = Some(later.map_or(t, |l| l.min(t))),
            None => sorted.start.push(item),
        }
    }
    if let Some(t) = later {
        sorted.next = Some(sorted.next.map_or(t, |n| n.min(t)));
    }
    sorted
}

/// When to look at an endpoint again after a scan that started `started` deliveries: never
/// within the same pass when it yielded nothing (that would spin on a slice of not-yet-due
/// work).
pub fn next_look(next: Option<Millis>, started: usize, now: Millis) -> Option<Millis> {
    if started == 0 {
        next.map(|t| t.max(now + 1))
    } else {
        next
    }
}

#[cfg(test)]
mod tests;
