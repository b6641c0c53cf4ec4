//! The gateway's shutdown tree: one root token whose children stop each part in turn, and the
//! tracker that owns every background task.
//!
//! Order (run by [`super::run`]): the shutdown signal cancels `http` (the accept loop drains)
//! → `reload` and `plugin_poll` (no config changes mid-shutdown) → `scheduler` (no new
//! attempts; those in flight get `delivery.shutdown_grace`) → the root, which reaches the
//! plugin lanes and anything else still running → wait for the tracker → close the store.
//! Cancelling the root alone stops everything at once, which is what an early return does.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::api::ApiState;

/// How long the tasks left at the end (plugin lanes finishing the chains of attempts past the
/// grace) may take before the store closes without them.
const TASKS_STOP: Duration = Duration::from_secs(2);

/// The tokens, children of one root, and the tracker.
pub(super) struct Lifecycle {
    root: CancellationToken,
    /// The API's accept loop: stop accepting, drain.
    pub http: CancellationToken,
    /// The config reloader.
    pub reload: CancellationToken,
    /// The plugin file poller.
    pub plugin_poll: CancellationToken,
    /// The scheduler: no new attempts, then the grace for those in flight.
    pub scheduler: CancellationToken,
    /// The pruner and the disk samplers; cancelled once the scheduler has stopped.
    pub housekeeping: CancellationToken,
    /// The plugin lanes; cancelled with the root, after the scheduler has stopped.
    pub lanes: CancellationToken,
    /// Owns every background task, so shutdown can wait for them.
    pub tasks: TaskTracker,
}

impl Lifecycle {
    pub fn new() -> Self {
        let root = CancellationToken::new();
        Lifecycle {
            http: root.child_token(),
            reload: root.child_token(),
            plugin_poll: root.child_token(),
            scheduler: root.child_token(),
            lanes: root.child_token(),
            housekeeping: root.child_token(),
            root,
            tasks: TaskTracker::new(),
        }
    }

    /// Spawns a long-lived task on the tracker, in a span named after it.
    pub fn spawn<F>(&self, name: &'static str, task: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks
            .spawn(task.instrument(tracing::info_span!("task", name)))
    }

    /// Starts the task that turns `shutdown` into the first step: `/readyz` goes false and the
    /// accept loop stops taking connections. It ends with the root too.
    pub fn stop_http_on(&self, shutdown: impl Future<Output = ()> + Send + 'static, api: ApiState) {
        let (root, http) = (self.root.clone(), self.http.clone());
        self.spawn("shutdown_signal", async move {
            tokio::select! {
                () = shutdown => {}
                _ = root.cancelled() => return,
            }
            tracing::info!("shutting down: no new requests");
            api.ready.store(false, Ordering::Relaxed);
            http.cancel();
        });
    }

    /// The last step before the store closes: cancels whatever still runs and waits for every
    /// task, up to [`TASKS_STOP`].
    pub async fn finish(&self) {
        self.root.cancel();
        self.tasks.close();
        if tokio::time::timeout(TASKS_STOP, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                still_running = self.tasks.len(),
                "background tasks still running at exit; closing the store without them"
            );
        }
    }
}
