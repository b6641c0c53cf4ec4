//! The scheduler: decides which due deliveries start now, within every limit.
//!
//! It keeps, per endpoint, the time it next needs looking at (a min-heap with lazy deletion) and
//! the ids in flight. When endpoints' times come it asks the store, in one read for up to
//! [`MAX_BATCH_ENDPOINTS`] of them, for their due deliveries — for each as many as its in-flight
//! cap, the global permits and its rate bucket allow ([`super::admission`]) — and starts one
//! task per delivery. Batching is what keeps a gateway with thousands of endpoints, each with a
//! little due work, from paying a store read per delivery. Because the due index is ordered per endpoint, a
//! dead endpoint with a million pending deliveries costs one seek, and it can only ever hold its
//! own in-flight cap of the global permits: it never delays another endpoint.
//!
//! It sleeps until the earliest armed time, a [`DueSignal`] mark, or a finished attempt.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::{next_look, sort_scan, Admit, EndpointSched};
use super::registry::LiveEndpoint;
use super::worker::{self, Completion};
use super::Shared;
use crate::store::{now_ms, DueScan, DueWant, Millis};

/// Most endpoints read in one batched due scan, so one read transaction stays short.
const MAX_BATCH_ENDPOINTS: usize = 512;
/// Retry delay after a store read failed.
const READ_FAILURE_BACKOFF_MS: Millis = 1_000;
/// When an endpoint's cluster-wide cap is held by other nodes and this one has nothing of it
/// in flight, how soon to look again.
const CLUSTER_FULL_RECHECK_MS: Millis = 50;

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
        let mut rescan = self.shared.store.rescan_every().map(|every| {
            let mut t = tokio::time::interval(every);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
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
                _ = tick(&mut rescan) => self.rescan().await,
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
                continue;
            }
            match self.cancel_unknown(&ep).await {
                Some(Ok(n)) => {
                    tracing::info!(endpoint_id = %ep, cancelled = n, "endpoint no longer configured; pending deliveries cancelled")
                }
                Some(Err(e)) => {
                    tracing::error!(endpoint_id = %ep, error = %e, "cannot cancel deliveries of removed endpoint")
                }
                None => {}
            }
        }
    }

    /// Cancels the pending deliveries of an endpoint this gateway does not know, when the store
    /// is its own; in a shared store another node may serve it ([`Store::is_shared`]), so
    /// nothing is cancelled (`None`). Deleting an endpoint through the API cancels its work in
    /// the same transaction either way.
    ///
    /// [`Store::is_shared`]: crate::store::Store::is_shared
    async fn cancel_unknown(&self, ep: &str) -> Option<Result<u64, crate::store::StoreError>> {
        if self.shared.store.is_shared() {
            tracing::debug!(endpoint_id = %ep, "pending deliveries of an endpoint this node does not know; left to the nodes that do");
            return None;
        }
        Some(self.shared.store.cancel_endpoint(ep).await)
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
            if s.finished(&c.delivery_id, cap) {
                rearm = Some(now_ms());
            }
            if s.is_idle() {
                self.endpoints.remove(&c.endpoint_id);
            }
        }
        if let Some(t) = rearm {
            self.arm(&c.endpoint_id, t);
        }
    }

    /// Starts what is due now, a batch of endpoints per store read, until nothing ready is
    /// left or the global permits ran out (a completion wakes the loop again).
    async fn schedule(&mut self) {
        let now = now_ms();
        loop {
            let (batch, out_of_permits) = self.take_ready(now).await;
            if !batch.is_empty() {
                self.scan_and_start(batch, now).await;
            }
            if out_of_permits || !self.has_ready(now) {
                break;
            }
        }
    }

    fn has_ready(&self, now: Millis) -> bool {
        self.heap.peek().is_some_and(|Reverse((t, _, _))| *t <= now)
    }

    /// Pops ready endpoints and admits each, at most [`MAX_BATCH_ENDPOINTS`] and never more
    /// scans than global permits. Returns what to scan, and whether the permits ran out.
    async fn take_ready(&mut self, now: Millis) -> (Vec<Wanted>, bool) {
        let mut global = self.permits.available_permits();
        let mut batch = Vec::new();
        while batch.len() < MAX_BATCH_ENDPOINTS && self.has_ready(now) {
            let Some(Reverse((due, seq, ep))) = self.heap.pop() else {
                break;
            };
            if self.armed.get(&ep) != Some(&(due, seq)) {
                continue; // superseded by an earlier arm
            }
            self.armed.remove(&ep);
            if global == 0 {
                self.arm(&ep, now);
                return (batch, true);
            }
            let Some(live) = self.shared.registry.get(&ep) else {
                self.forget_removed(&ep).await;
                continue;
            };
            if !self.shared.registry.is_active(&live) {
                continue; // disabled: re-armed when enabled
            }
            let sched = self.endpoints.entry(ep.clone()).or_default();
            match sched.admit(&live, now, global) {
                Admit::Scan(limit) => {
                    global -= limit;
                    batch.push(Wanted { ep, live, limit });
                }
                Admit::Full => {}
                Admit::RateLimited { until } => self.arm(&ep, until),
            }
        }
        (batch, false)
    }

    /// Removed. The reload cancelled what was pending then; this catches deliveries a publish
    /// racing with the reload created afterwards.
    async fn forget_removed(&mut self, ep: &str) {
        if let Some(Err(e)) = self.cancel_unknown(ep).await {
            tracing::error!(endpoint_id = %ep, error = %e, "cannot cancel deliveries of removed endpoint");
        }
        self.endpoints.remove(ep);
    }

    /// One store read for the whole batch, then each endpoint's due deliveries start.
    async fn scan_and_start(&mut self, batch: Vec<Wanted>, now: Millis) {
        let scans = {
            let wants: Vec<DueWant<'_>> = batch
                .iter()
                .map(|w| DueWant {
                    endpoint_id: &w.ep,
                    limit: w.limit,
                    cap: w.live.in_flight_cap(),
                    fifo: w.live.is_fifo(),
                    rate: w.live.config.rate.map(|r| r.per_second),
                })
                .collect();
            self.shared.store.claim(now, &wants).await
        };
        match scans {
            Ok(scans) => {
                for (w, scan) in batch.into_iter().zip(scans) {
                    self.start(w, scan, now);
                }
            }
            Err(e) => {
                tracing::error!(endpoints = batch.len(), error = %e, "cannot read due deliveries");
                for w in batch {
                    self.arm(&w.ep, now + READ_FAILURE_BACKOFF_MS);
                }
            }
        }
    }

    /// Starts the due deliveries of one endpoint's scan and arms its next look.
    fn start(&mut self, w: Wanted, scan: DueScan, now: Millis) {
        let sorted = sort_scan(scan.items, scan.next_due_ms, w.live.is_fifo(), now);
        let mut next = sorted.next;
        let sched = self.endpoints.entry(w.ep.clone()).or_default();
        if scan.full {
            // Other nodes hold the endpoint's cap: our next completion looks again, or, with
            // nothing of ours in flight, a short timer (their completions do not wake us).
            sched.wait_for_cluster_slot();
            if sched.in_flight.is_empty() {
                next = Some(now + CLUSTER_FULL_RECHECK_MS);
            }
        }
        let requests = sched.slots(w.live.in_flight_cap());
        let mut started = 0usize;
        let mut unstarted = Vec::new();
        for item in sorted.start {
            let Ok(permit) = self.permits.clone().try_acquire_owned() else {
                next = Some(now);
                unstarted.push((item.delivery.id, item.claim));
                continue;
            };
            sched.in_flight.insert(item.delivery.id.clone());
            started += 1;
            spawn(
                &self.tracker,
                &self.shared,
                &self.done_tx,
                w.live.clone(),
                Arc::clone(&requests),
                item,
                permit,
            );
        }
        sched.spend(started);
        if sched.is_idle() {
            self.endpoints.remove(&w.ep);
        }
        if !unstarted.is_empty() {
            self.release(unstarted);
        }
        if let Some(t) = next_look(next, started, now) {
            self.arm(&w.ep, t);
        }
    }

    /// Gives claims back that could not start, so no other node waits out their leases.
    fn release(&self, claims: Vec<(String, crate::store::Claim)>) {
        let store = self.shared.store.clone();
        self.tracker.spawn(async move {
            if let Err(e) = store.release(&claims).await {
                tracing::warn!(claims = claims.len(), error = %e, "cannot release unstarted claims; their leases run out instead");
            }
        });
    }

    /// Every endpoint with pending work is looked at again: in a cluster, work becomes
    /// claimable without a notice when another node dies and its leases run out.
    async fn rescan(&mut self) {
        match self.shared.store.pending_endpoints().await {
            Ok(pending) => {
                for (ep, due) in pending {
                    self.arm(&ep, due);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list endpoints with pending work"),
        }
    }
}

/// One endpoint admitted to a batched scan.
struct Wanted {
    ep: String,
    live: Arc<LiveEndpoint>,
    limit: usize,
}

/// Starts one attempt task; it holds its global permit until the outcome is recorded, and one
/// of the endpoint's `requests` slots while its request is out.
fn spawn(
    tracker: &TaskTracker,
    shared: &Arc<Shared>,
    done: &mpsc::UnboundedSender<Completion>,
    live: Arc<LiveEndpoint>,
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

/// The next tick of the rescan timer; never, without one.
async fn tick(t: &mut Option<tokio::time::Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
