//! Where plugin chains run: a few long-lived lane tasks, each running the chains handed to it
//! back to back, instead of each delivery's own task running its chain.
//!
//! Why: a fresh-instance call touches the same engine code, instance metadata and pool slots
//! every time. Run from 64 scattered delivery tasks, each call starts with caches full of HTTP,
//! redb and tokio state and costs about twice what it costs back to back (per-call benchmark
//! with an 8 MiB cache sweep between calls: 23 → 39 µs for a JSON transform at 1 KiB). A lane
//! drains whatever chains are queued one after another while the caches are warm. Waking from
//! idle, it first yields once, so the other deliveries the same scheduler scan started queue
//! their chains too, and the batch is as long as the burst (under perf, the lane's CPU per
//! delivery fell by about a third with this).
//!
//! A lane does not serialise waiting: up to `RUNNING_PER_LANE` chains are polled together
//! (`FuturesUnordered`), so one waiting on its `http` import or yielding at an epoch tick lets
//! the next one run; the rest wait their turn, not half-run in memory. Once a busy
//! stretch has lasted an epoch tick, the lane yields to the runtime after the next chain ends,
//! so a stream of short chains does not hold a worker thread from ingest and deliveries. The
//! lane count follows the machine (half the cores, at least one), so plugins never take every
//! core.
//!
//! The host has a fixed instance pool; a chain first takes a slot (waiting for one rather than
//! failing), so a lane never holds more chains than the pool can instantiate.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::plugins::{
    ChainEntry, ChainOutcome, Input, PluginHost, EPOCH_TICK, MAX_CONCURRENT_INSTANCES,
};

/// Chains running or queued at once: below the host's instance pool, so a chain waits for a
/// slot rather than failing to instantiate.
const SLOTS: usize = (MAX_CONCURRENT_INSTANCES / 2) as usize;

/// One chain to run and where its outcome goes.
struct Job {
    chain: Arc<[ChainEntry]>,
    input: Input,
    reply: oneshot::Sender<ChainOutcome>,
}

/// Handles to the lane tasks; dropping them, or cancelling the lanes' token, ends the lanes
/// (after their running chains).
pub struct PluginLanes {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
    next: AtomicUsize,
    slots: Semaphore,
}

impl PluginLanes {
    /// Starts `count` lanes (0 picks half the available cores, at least one) on `tasks`, so
    /// whoever owns the tracker can wait for them. They stop taking chains once `token` is
    /// cancelled: at shutdown a delivery's sender may outlive the scheduler (an attempt left
    /// running past the grace), so dropping the handles alone would not end them.
    pub fn start(
        host: Arc<PluginHost>,
        count: usize,
        tasks: &TaskTracker,
        token: CancellationToken,
    ) -> PluginLanes {
        let count = if count == 0 {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        } else {
            count
        };
        let lanes = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tasks.spawn(lane(Arc::clone(&host), rx, token.clone()));
                tx
            })
            .collect();
        PluginLanes {
            lanes,
            next: AtomicUsize::new(0),
            slots: Semaphore::new(SLOTS),
        }
    }

    /// How many lanes run chains.
    pub fn count(&self) -> usize {
        self.lanes.len()
    }

    /// Runs `chain` over `input` on the next lane, once a pool slot is free; `None` if the lanes
    /// are gone (the runtime is shutting down).
    pub async fn run(&self, chain: Arc<[ChainEntry]>, input: Input) -> Option<ChainOutcome> {
        let _slot = self.slots.acquire().await.ok()?;
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.lanes.len();
        let (reply, outcome) = oneshot::channel();
        self.lanes[i]
            .send(Job {
                chain,
                input,
                reply,
            })
            .ok()?;
        outcome.await.ok()
    }
}

/// Chains one lane runs at once; more wait in its queue. A fresh-instance call that outlasts an
/// epoch tick yields, and the lane then polls the next chain: without a bound every queued chain
/// was instantiated and half-run together. With the Python example (2.5 ms a call alone) and
/// 64 deliveries in flight that put ~128 Python instances in memory at once: 23–63
/// deliveries/s at 1.4–1.5 GiB RSS, every call's pages cold. Bounded at 8 (2 measured the
/// same): 322–332/s at 410 MiB, and JS 1,743 → 2,168–2,322/s (`hookgate bench e2e plugin-js
/// plugin-py --seconds 5`). A few at a time still lets a chain waiting on its `http` import
/// overlap with the others.
const RUNNING_PER_LANE: usize = 8;

/// One lane: takes jobs as they come, runs up to [`RUNNING_PER_LANE`] of them at once, until
/// the senders are gone (or `token` is cancelled) and nothing is left running. Jobs still
/// queued then are dropped: their callers get `None`.
async fn lane(
    host: Arc<PluginHost>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    token: CancellationToken,
) {
    let mut running = FuturesUnordered::new();
    let mut queued = VecDeque::new();
    let mut open = true;
    let mut since_yield = Instant::now();
    loop {
        while running.len() < RUNNING_PER_LANE {
            let Some(job) = queued.pop_front() else { break };
            running.push(run_job(Arc::clone(&host), job));
        }
        tokio::select! {
            // Finish what runs before taking more: keeps the batch warm and bounded.
            biased;
            Some(()) = running.next(), if !running.is_empty() => {
                // A long batch would hold this runtime worker: give other tasks (ingest,
                // deliveries) a turn at least once per epoch tick, as a lone guest would.
                if since_yield.elapsed() >= EPOCH_TICK {
                    tokio::task::yield_now().await;
                    since_yield = Instant::now();
                }
            }
            _ = token.cancelled(), if open => open = false,
            job = jobs.recv(), if open => match job {
                Some(job) => {
                    if running.is_empty() && queued.is_empty() {
                        // Idle until now: a busy stretch starts here. Deliveries come in
                        // bursts (one scheduler scan starts many), so first let the tasks
                        // already woken queue their chains too: they then run back to back.
                        tokio::task::yield_now().await;
                        since_yield = Instant::now();
                    }
                    queued.push_back(job);
                    queued.extend(std::iter::from_fn(|| jobs.try_recv().ok()));
                }
                None => open = false,
            },
            else => break,
        }
    }
}

/// Runs one job's chain and hands its outcome back.
async fn run_job(host: Arc<PluginHost>, job: Job) {
    let outcome = host.run_chain(&job.chain, job.input).await;
    // The delivery task may have gone (shutdown): nothing to tell it.
    let _ = job.reply.send(outcome);
}
