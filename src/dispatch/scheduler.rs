//! The scheduler: decides which due deliveries start now, within every limit.
//!
//! It keeps, per endpoint, the time it next needs looking at (a min-heap with lazy deletion) and
//! the ids in flight. When an endpoint's time comes it asks the store for that endpoint's due
//! deliveries — as many as the endpoint's in-flight cap, the global permits and its rate bucket
//! allow — and starts one task per delivery. Because the due index is ordered per endpoint, a
//! dead endpoint with a million pending deliveries costs one seek, and it can only ever hold its
//! own in-flight cap of the global permits: it never delays another endpoint.
//!
//! It sleeps until the earliest armed time, a [`DueSignal`] mark, or a finished attempt.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::rate::TokenBucket;
use super::worker::{self, Completion};
use super::Shared;
use crate::store::{now_ms, Millis};

/// Most deliveries taken from one endpoint per scan, so one busy endpoint yields to the next.
const SCAN_BATCH: usize = 256;
/// Retry delay after a store read failed.
const READ_FAILURE_BACKOFF_MS: Millis = 1_000;

#[derive(Debug, Default)]
struct EndpointSched {
    in_flight: HashSet<String>,
    /// Request slots (`LiveEndpoint::in_flight_cap` of them, with that cap): an attempt holds
    /// one from its request to the answer. Replaced when the cap changes on reload; attempts
    /// still holding the old one finish with it.
    requests: Option<(usize, Arc<Semaphore>)>,
    /// Set when the endpoint had due work but no free slot: the next completion re-arms it.
    waiting_for_slot: bool,
    bucket: Option<TokenBucket>,
}

/// The scheduler task. Build with [`Scheduler::new`], run with [`Scheduler::run`].
pub struct Scheduler {
    shared: Arc<Shared>,
    permits: Arc<Semaphore>,
    heap: BinaryHeap<Reverse<(Millis, u64, String)>>,
    armed: HashMap<String, (Millis, u64)>,
    seq: u64,
    endpoints: HashMap<String, EndpointSched>,
    tracker: TaskTracker,
    done_tx: mpsc::UnboundedSender<Completion>,
    done_rx: mpsc::UnboundedReceiver<Completion>,
}

impl Scheduler {
    /// A scheduler allowing `max_in_flight` attempts at once across all endpoints.
    pub fn new(shared: Arc<Shared>, max_in_flight: usize) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            shared,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            heap: BinaryHeap::new(),
            armed: HashMap::new(),
            seq: 0,
            endpoints: HashMap::new(),
            tracker: TaskTracker::new(),
            done_tx,
            done_rx,
        }
    }

    /// Runs until `token` is cancelled, then lets attempts in flight finish for up to `grace`.
    /// Attempts still running after that are abandoned: their deliveries are still pending in
    /// the store and run again after the restart.
    pub async fn run(mut self, token: CancellationToken, grace: Duration) {
        self.recover().await;
        loop {
            for (ep, due) in self.shared.signal.take() {
                self.arm(&ep, due);
            }
            while let Ok(c) = self.done_rx.try_recv() {
                self.complete(c);
            }
            self.schedule().await;
            let next = self.heap.peek().map(|Reverse((t, _, _))| *t);
            let sleep = match next {
                Some(t) => Duration::from_millis(t.saturating_sub(now_ms())),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = token.cancelled() => break,
                _ = self.shared.signal.notified() => {}
                Some(c) = self.done_rx.recv() => self.complete(c),
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        self.tracker.close();
        let in_flight = self.tracker.len();
        if in_flight > 0 {
            tracing::info!(
                in_flight,
                grace_ms = grace.as_millis() as u64,
                "waiting for attempts in flight"
            );
            if tokio::time::timeout(grace, self.tracker.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    still_running = self.tracker.len(),
                    "shutdown grace over; unfinished attempts stay pending and run after restart"
                );
            }
        }
    }

    /// Start-up: arm every endpoint with pending work; cancel work of endpoints that were
    /// removed from the config while the gateway was down.
    async fn recover(&mut self) {
        let pending = match self.shared.store.pending_endpoints().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read pending deliveries at start-up");
                return;
            }
        };
        for (ep, due) in pending {
            if self.shared.registry.get(&ep).is_some() {
                self.arm(&ep, due);
            } else {
                match self.shared.store.cancel_endpoint(&ep).await {
                    Ok(n) => {
                        tracing::info!(endpoint_id = %ep, cancelled = n, "endpoint no longer configured; pending deliveries cancelled")
                    }
                    Err(e) => {
                        tracing::error!(endpoint_id = %ep, error = %e, "cannot cancel deliveries of removed endpoint")
                    }
                }
            }
        }
    }

    fn arm(&mut self, ep: &str, due: Millis) {
        if let Some((t, _)) = self.armed.get(ep) {
            if *t <= due {
                return;
            }
        }
        self.seq += 1;
        self.armed.insert(ep.to_string(), (due, self.seq));
        self.heap.push(Reverse((due, self.seq, ep.to_string())));
    }

    fn complete(&mut self, c: Completion) {
        let now = now_ms();
        if let Some(st) = c.endpoint_state {
            if st.disabled && !self.shared.registry.state(&c.endpoint_id).disabled {
                tracing::warn!(
                    endpoint_id = %c.endpoint_id,
                    reason = st.disabled_reason.as_deref().unwrap_or(""),
                    "endpoint disabled"
                );
            }
            self.shared.registry.set_state(&c.endpoint_id, st);
        }
        let mut rearm = c.next_due_ms;
        let cap = self
            .shared
            .registry
            .get(&c.endpoint_id)
            .map_or(1, |l| l.start_cap());
        if let Some(s) = self.endpoints.get_mut(&c.endpoint_id) {
            s.in_flight.remove(&c.delivery_id);
            // A saturated endpoint is looked at again once an eighth of its slots are free, so
            // one store scan starts several deliveries instead of one scan per completion.
            let free = cap.saturating_sub(s.in_flight.len());
            if s.waiting_for_slot && free >= (cap / 8).max(1) {
                s.waiting_for_slot = false;
                rearm = Some(now);
            }
        }
        if let Some(t) = rearm {
            self.arm(&c.endpoint_id, t);
        }
    }

    async fn schedule(&mut self) {
        let now = now_ms();
        while self
            .heap
            .peek()
            .is_some_and(|Reverse((due, _, _))| *due <= now)
        {
            let Some(Reverse((due, seq, ep))) = self.heap.pop() else {
                break;
            };
            if self.armed.get(&ep) != Some(&(due, seq)) {
                continue; // superseded by an earlier arm
            }
            self.armed.remove(&ep);
            if !self.start_endpoint(&ep, now).await {
                break; // out of global permits: a completion wakes us
            }
        }
    }

    /// Starts what it can for one endpoint. Returns false when global permits ran out.
    async fn start_endpoint(&mut self, ep: &str, now: Millis) -> bool {
        let Some(live) = self.shared.registry.get(ep) else {
            // Removed. The reload cancelled what was pending then; this catches deliveries a
            // publish racing with the reload created afterwards.
            if let Err(e) = self.shared.store.cancel_endpoint(ep).await {
                tracing::error!(endpoint_id = %ep, error = %e, "cannot cancel deliveries of removed endpoint");
            }
            self.endpoints.remove(ep);
            return true;
        };
        if !self.shared.registry.is_active(&live) {
            return true; // disabled: re-armed when enabled
        }
        let global = self.permits.available_permits();
        if global == 0 {
            self.arm(ep, now);
            return false;
        }
        let sched = self.endpoints.entry(ep.to_string()).or_default();
        let free = live.start_cap().saturating_sub(sched.in_flight.len());
        if free == 0 {
            sched.waiting_for_slot = true;
            return true;
        }
        let mut limit = free.min(global).min(SCAN_BATCH);
        if let Some(rate) = live.config.rate {
            let bucket = sched
                .bucket
                .get_or_insert_with(|| TokenBucket::new(rate.per_second, now));
            if !bucket.is_rate(rate.per_second) {
                *bucket = TokenBucket::new(rate.per_second, now);
            }
            let tokens = bucket.available(now);
            if tokens == 0 {
                let at = bucket.next_token_ms(now);
                self.arm(ep, at);
                return true;
            }
            limit = limit.min(tokens);
        }
        let scan = match self
            .shared
            .store
            .due(ep, now, &sched.in_flight, limit)
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(endpoint_id = %ep, error = %e, "cannot read due deliveries");
                self.arm(ep, now + READ_FAILURE_BACKOFF_MS);
                return true;
            }
        };
        let mut next = scan.next_due_ms;
        let mut head_wait = None;
        let mut stale: Option<Millis> = None;
        let mut started = 0usize;
        let cap = live.in_flight_cap();
        let requests = match &sched.requests {
            Some((c, slots)) if *c == cap => Arc::clone(slots),
            _ => {
                let slots = Arc::new(Semaphore::new(cap));
                sched.requests = Some((cap, Arc::clone(&slots)));
                slots
            }
        };
        for item in scan.items {
            // The due key is a lower bound (FIFO keeps the creation time as key): the record's
            // own next-attempt time decides.
            if let Some(t) = item.delivery.next_attempt_ms.filter(|t| *t > now) {
                if live.is_fifo() {
                    head_wait = Some(t); // nothing behind a waiting head may go
                    break;
                }
                stale = Some(stale.map_or(t, |s| s.min(t)));
                continue;
            }
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                next = Some(now);
                break;
            };
            sched.in_flight.insert(item.delivery.id.clone());
            started += 1;
            spawn(
                &self.tracker,
                &self.shared,
                &self.done_tx,
                live.clone(),
                Arc::clone(&requests),
                item,
                permit,
            );
        }
        if let Some(b) = sched.bucket.as_mut() {
            b.take(started);
        }
        if let Some(t) = head_wait {
            next = Some(t);
        } else if let Some(t) = stale {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        if started == 0 {
            // Never come back within this pass to a slice that yielded nothing: that would spin.
            next = next.map(|t| t.max(now + 1));
        }
        if let Some(t) = next {
            self.arm(ep, t);
        }
        true
    }
}

/// Starts one attempt task; it holds its global permit until the outcome is recorded, and one
/// of the endpoint's `requests` slots while its request is out.
fn spawn(
    tracker: &TaskTracker,
    shared: &Arc<Shared>,
    done: &mpsc::UnboundedSender<Completion>,
    live: Arc<super::registry::LiveEndpoint>,
    requests: Arc<Semaphore>,
    item: crate::store::DueDelivery,
    permit: OwnedSemaphorePermit,
) {
    let shared = shared.clone();
    let done = done.clone();
    tracker.spawn(async move {
        let c = worker::attempt(shared, live, &requests, item).await;
        drop(permit);
        let _ = done.send(c);
    });
}
