//! The API's HTTP/1 server: our own accept loop around hyper, with the limits that keep the
//! gateway answering under many and hostile connections.
//!
//! Why not `axum::serve`: it has no header timeout and no connection cap. 1,100 clients that
//! send half a request header and stop hold a file descriptor each, forever; under a 1,024
//! open-file limit accept then fails with `EMFILE` and real publishes wait in the backlog until
//! they time out. Here:
//!
//! - a connection's first request header must arrive within `header_read_timeout` of accept,
//!   a later one within that of its first byte; a keep-alive connection with nothing in flight
//!   closes after `idle_timeout` ([`activity`]);
//! - at `max_connections` the connection idle the longest is shed to admit a new one, idle
//!   meaning no request in flight, including one still waiting for header bytes ([`table`]);
//!   with nothing idle, new connections wait in the listen backlog; a warning counts the sheds
//!   (one line per 10 s, [`tally`]);
//! - accept failing for want of descriptors sheds an idle connection and retries shortly;
//! - at shutdown: stop accepting, close idle connections, let requests in flight finish for up
//!   to `drain_grace`, then drop the rest.
//!
//! [`open_files`] raises the process's open-file limit at start. Handlers see the peer as
//! `ConnectInfo<SocketAddr>`, as with `axum::serve`.
//!
//! Serves any axum `Router`; imports nothing of ours but [`crate::metrics`] (a leaf). Must not
//! import `api`, `store`, `dispatch`, `delivery`, `plugins`, `reqwest`, `wasmtime`, `redb`.

mod activity;
mod conn;
pub mod open_files;
mod table;
mod tally;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use activity::Timeouts;
use table::ConnTable;
use tally::Tally;

/// At most one warning line per this long for each kind of overload; the line says how many.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// Wait after accept failed for want of resources (`EMFILE`…) before trying again: long enough
/// not to spin, short enough that the backlog hardly notices.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What the accept loop enforces; `app` builds it from `server:` and the open-file limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a complete request header (from accept, or from a later request's first
    /// byte).
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may sit with nothing in flight.
    pub idle_timeout: Duration,
    /// Connections held at once; at the cap the longest-idle one is shed.
    pub max_connections: usize,
    /// At shutdown, how long requests in flight may finish.
    pub drain_grace: Duration,
}

/// What the accept loop and the connection tasks share.
struct Shared {
    /// Open connections and the shedding policy. A std mutex: held for a map update, never
    /// across an await, and taken only on accept and on busy/idle changes.
    table: Mutex<ConnTable<CancellationToken>>,
    /// Wakes an accept loop waiting at the cap with nothing idle: a connection ended or went
    /// idle.
    room: Notify,
}

/// Locks a mutex whose holder cannot leave it half-updated (a poisoned lock is still
/// consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serves `router` on `listener` until `shutdown` is cancelled; then stops accepting, closes
/// idle connections, lets requests in flight finish for up to `limits.drain_grace`, drops the
/// rest, and returns.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let mut acceptor = Acceptor {
        router,
        limits,
        shared: Arc::new(Shared {
            table: Mutex::new(ConnTable::new(limits.max_connections)),
            room: Notify::new(),
        }),
        draining: CancellationToken::new(),
        force: CancellationToken::new(),
        conns: TaskTracker::new(),
        shed: Tally::new(WARN_EVERY),
        full: Tally::new(WARN_EVERY),
        failed: Tally::new(WARN_EVERY),
        last_error: None,
    };
    acceptor.run(&listener, &shutdown).await;
    drop(listener);
    acceptor.flush(Instant::now() + WARN_EVERY);
    acceptor.drain().await;
}

/// The accept loop's state.
struct Acceptor {
    router: Router,
    limits: Limits,
    shared: Arc<Shared>,
    /// Parent of every connection's close token: cancelled at shutdown.
    draining: CancellationToken,
    /// Drops every connection at once: the drain grace is over.
    force: CancellationToken,
    /// Owns the connection tasks, so shutdown can wait for them.
    conns: TaskTracker,
    /// Connections shed at the cap.
    shed: Tally,
    /// Times the cap was reached with every connection busy.
    full: Tally,
    /// Accepts that failed for want of resources, with the last error.
    failed: Tally,
    last_error: Option<io::Error>,
}

impl Acceptor {
    /// Accepts until `shutdown`.
    async fn run(&mut self, listener: &TcpListener, shutdown: &CancellationToken) {
        loop {
            let flush_at = [&self.shed, &self.full, &self.failed]
                .into_iter()
                .filter_map(Tally::flush_at)
                .min();
            let flush = async {
                match flush_at {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            let (at_cap, all_busy) = {
                let table = lock(&self.shared.table);
                (!table.has_room(), table.all_busy())
            };
            if all_busy {
                self.count_full();
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = flush => self.flush(Instant::now()),
                // At the cap with nothing idle, or shed connections still closing: leave new
                // connections in the backlog until a connection ends or goes idle.
                _ = self.shared.room.notified(), if at_cap => {}
                r = listener.accept(), if !at_cap => match r {
                    Ok((stream, peer)) => self.admit(stream, peer),
                    Err(e) => self.accept_failed(e, shutdown).await,
                },
            }
        }
    }

    /// Registers a new connection, sheds what the cap requires and starts its task.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        let now = Instant::now();
        let close = self.draining.child_token();
        let (id, shed) = lock(&self.shared.table).admit(now, close.clone());
        for victim in &shed {
            victim.cancel();
        }
        if !shed.is_empty() {
            if let Some(n) = self.shed.add(now, shed.len() as u64) {
                self.warn_shed(n);
            }
        }
        let ctx = conn::ConnCtx {
            id,
            accepted: now,
            shared: self.shared.clone(),
            close,
            draining: self.draining.clone(),
            force: self.force.clone(),
            timeouts: Timeouts {
                header: self.limits.header_read_timeout,
                idle: self.limits.idle_timeout,
            },
        };
        let span = tracing::debug_span!("http_connection", %peer);
        let task = conn::serve(stream, peer, self.router.clone(), ctx).instrument(span);
        self.conns.spawn(task);
    }

    /// A failed accept. Errors about one connection (reset before accept) are skipped; running
    /// out of descriptors or memory sheds the longest-idle connection and waits a little.
    async fn accept_failed(&mut self, e: io::Error, shutdown: &CancellationToken) {
        use io::ErrorKind::*;
        if matches!(
            e.kind(),
            ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
        ) {
            return;
        }
        if let Some(victim) = lock(&self.shared.table).shed_oldest_idle() {
            victim.cancel();
        }
        self.last_error = Some(e);
        if let Some(n) = self.failed.add(Instant::now(), 1) {
            self.warn_failed(n);
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(ACCEPT_RETRY) => {}
        }
    }

    fn count_full(&mut self) {
        if let Some(n) = self.full.add(Instant::now(), 1) {
            self.warn_full(n);
        }
    }

    /// Writes the counts held back whose line is due at `now`.
    fn flush(&mut self, now: Instant) {
        if let Some(n) = self.shed.flush(now) {
            self.warn_shed(n);
        }
        if let Some(n) = self.full.flush(now) {
            self.warn_full(n);
        }
        if let Some(n) = self.failed.flush(now) {
            self.warn_failed(n);
        }
    }

    fn warn_shed(&self, shed: u64) {
        tracing::warn!(
            shed,
            open = lock(&self.shared.table).len(),
            max_connections = self.limits.max_connections,
            "connection cap reached: closed the connections idle the longest to admit new ones \
             (count since the last such line; raise server.max_connections or the open-file \
             limit if these are real clients)"
        );
    }

    fn warn_full(&self, times: u64) {
        tracing::warn!(
            times,
            max_connections = self.limits.max_connections,
            "connection cap reached with every connection busy: new connections wait in the \
             listen backlog"
        );
    }

    fn warn_failed(&self, failures: u64) {
        let error = self.last_error.as_ref().map(ToString::to_string);
        tracing::warn!(
            failures,
            error = error.as_deref().unwrap_or("?"),
            "accepting a connection failed (out of file descriptors?): closed the longest-idle \
             connection; retrying"
        );
    }

    /// Closes idle connections, waits for the busy ones up to the grace, then drops them.
    async fn drain(self) {
        self.draining.cancel();
        self.conns.close();
        let grace = self.limits.drain_grace;
        if tokio::time::timeout(grace, self.conns.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                still_open = self.conns.len(),
                grace_ms = grace.as_millis() as u64,
                "API requests still running after the shutdown grace; closing their connections"
            );
            self.force.cancel();
            self.conns.wait().await;
        }
    }
}
