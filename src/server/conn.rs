//! One client connection: hyper's HTTP/1 state machine driven under our timeouts.
//!
//! The task polls hyper's connection future itself (not inside `select!`), so after every
//! step it can read the connection's [`Activity`] (updated from inside that step: the socket
//! read, the handler call, the end of the response body) and re-arm the one deadline that
//! applies. It reports busy/idle changes to the connection table, which is what lets the
//! accept loop shed the connection idle the longest.
//!
//! Closing never cuts a response: a connection that has never had a request is dropped (there
//! is nothing to flush); any other goes through hyper's graceful shutdown, which finishes the
//! request in flight, flushes and closes. Only the end of the drain grace drops a busy one.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::activity::{Activity, Timeout, Timeouts};
use super::table::ConnId;
use super::{lock, Shared};

/// What a connection task needs from the accept loop.
pub(super) struct ConnCtx {
    /// Its key in the connection table.
    pub id: ConnId,
    /// When it was accepted (the table has it idle since then).
    pub accepted: Instant,
    /// The connection table and the accept loop's wake-up.
    pub shared: Arc<Shared>,
    /// Close as soon as nothing is in flight: cancelled to shed this connection, or (as a
    /// child of `draining`) for every connection at shutdown.
    pub close: CancellationToken,
    /// Cancelled at shutdown; tells a shutdown close from a shed one.
    pub draining: CancellationToken,
    /// Close now, request in flight or not: the drain grace is over.
    pub force: CancellationToken,
    /// The header and idle timeouts.
    pub timeouts: Timeouts,
}

/// Why a connection ended.
#[derive(Debug)]
enum Ending {
    /// The client closed it, or hyper did (an error, `Connection: close`).
    Finished(hyper::Result<()>),
    /// We closed it: a timeout.
    Timeout(Timeout),
    /// We closed it: shed at the cap, or shutdown.
    Asked,
    /// We dropped it with a request in flight: the drain grace was over.
    Forced,
}

/// Serves one accepted connection until it ends.
pub(super) async fn serve(stream: TcpStream, peer: SocketAddr, router: Router, ctx: ConnCtx) {
    let _leave = Leave {
        id: ctx.id,
        shared: ctx.shared.clone(),
    };
    crate::metrics::global().http_connections_open.inc();
    let activity = Arc::new(Mutex::new(Activity::new(ctx.accepted)));
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let per_request = activity.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(router.clone(), peer, per_request.clone(), req)
    });
    // hyper's own header timeout (1.12) starts as soon as a connection goes idle, so it would
    // also cut kept-alive connections at the header value: off, `drive` applies both.
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, svc);
    let ending = drive(pin!(conn), &activity, &ctx).await;
    note(&ending, &ctx, peer);
}

/// One request: the peer address for `ConnectInfo`, and the response body wrapped so the
/// connection counts as busy until it is sent.
async fn handle(
    router: Router,
    peer: SocketAddr,
    activity: Arc<Mutex<Activity>>,
    req: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    let busy = InFlight::begin(activity);
    let mut req = req.map(Body::new);
    req.extensions_mut().insert(ConnectInfo(peer));
    let resp = router.oneshot(req).await?;
    Ok(resp.map(|inner| Tracked { inner, _busy: busy }))
}

/// Polls the connection and enforces the deadline that its activity calls for.
async fn drive<C>(
    mut conn: Pin<&mut http1::Connection<TokioIo<Watched>, C>>,
    activity: &Mutex<Activity>,
    ctx: &ConnCtx,
) -> Ending
where
    C: hyper::service::HttpService<Incoming, ResBody = Tracked>,
    C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut timer = pin!(tokio::time::sleep_until(ctx.accepted.into()));
    let mut armed: Option<Instant> = None;
    let mut close = pin!(ctx.close.cancelled());
    let mut force = pin!(ctx.force.cancelled());
    let mut reported = Some(ctx.accepted);
    // Why we asked hyper to close, and how long it may take to flush once idle.
    let mut closing: Option<Ending> = None;
    let mut flush_by: Option<Instant> = None;
    std::future::poll_fn(|cx| {
        if force.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ending::Forced);
        }
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            return Poll::Ready(closing.take().unwrap_or(Ending::Finished(r)));
        }
        let a = lock(activity).clone();
        let idle = a.idle_since();
        if idle != reported {
            reported = idle;
            ctx.report(idle);
        }
        let deadline = match &closing {
            None => {
                let asked = close.as_mut().poll(cx).is_ready();
                let due = a.deadline(&ctx.timeouts);
                let timed_out = due.filter(|_| !asked).and_then(|(at, why)| {
                    arm(&mut timer, &mut armed, at);
                    timer.as_mut().poll(cx).is_ready().then_some(why)
                });
                let why = match (asked, timed_out) {
                    (true, _) => Ending::Asked,
                    (false, Some(t)) => Ending::Timeout(t),
                    (false, None) => return Poll::Pending,
                };
                if a.untouched() {
                    return Poll::Ready(why);
                }
                conn.as_mut().graceful_shutdown();
                closing = Some(why);
                // hyper acts on it at its next poll.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Some(_) if idle.is_some() => {
                *flush_by.get_or_insert_with(|| Instant::now() + ctx.timeouts.header)
            }
            Some(_) => return Poll::Pending,
        };
        // Closing and idle: hyper is flushing to a client that may not read; bound it.
        arm(&mut timer, &mut armed, deadline);
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(closing.take().unwrap_or(Ending::Asked)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Points the timer at `at` unless it already is.
fn arm(timer: &mut Pin<&mut tokio::time::Sleep>, armed: &mut Option<Instant>, at: Instant) {
    if *armed != Some(at) {
        timer.as_mut().reset(at.into());
        *armed = Some(at);
    }
}

/// Logs (at debug: a flood of these is what the limits are for) and counts how it ended.
fn note(ending: &Ending, ctx: &ConnCtx, peer: SocketAddr) {
    let reason = match ending {
        Ending::Finished(Ok(())) => return,
        Ending::Finished(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection error");
            return;
        }
        Ending::Timeout(Timeout::Header) => "header_timeout",
        Ending::Timeout(Timeout::Idle) => "idle_timeout",
        Ending::Asked if ctx.draining.is_cancelled() => "shutdown",
        Ending::Asked => "shed",
        Ending::Forced => "forced",
    };
    tracing::debug!(%peer, reason, "closed connection");
    crate::metrics::global().connection_closed(reason);
}

impl ConnCtx {
    /// Tells the table the connection went busy (`None`) or idle, and wakes the accept loop
    /// when that made room.
    fn report(&self, idle_since: Option<Instant>) {
        if lock(&self.shared.table).set_idle_since(self.id, idle_since) {
            self.shared.room.notify_one();
        }
    }
}

/// Takes the connection out of the table when its task ends, however it ends.
struct Leave {
    id: ConnId,
    shared: Arc<Shared>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        crate::metrics::global().http_connections_open.dec();
        if lock(&self.shared.table).remove(self.id) {
            self.shared.room.notify_one();
        }
    }
}

/// Marks a request in flight from its header to the end of its response body.
struct InFlight(Arc<Mutex<Activity>>);

impl InFlight {
    fn begin(activity: Arc<Mutex<Activity>>) -> Self {
        lock(&activity).begin();
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0).end(Instant::now());
    }
}

/// A response body that keeps its request in flight until hyper is done with it.
pub(super) struct Tracked {
    inner: Body,
    _busy: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting when bytes arrive (the first byte of a next request starts its header
/// clock).
pub(super) struct Watched {
    inner: TcpStream,
    activity: Arc<Mutex<Activity>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            lock(&this.activity).saw_bytes(Instant::now());
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
