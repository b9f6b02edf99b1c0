//! The HTTP accept loop, instead of `axum::serve`, for what a hostile client must not do to
//! the process: hold connections forever, or take every file descriptor.
//!
//! - hyper's HTTP/1.1 with a header-read timeout: a request head must arrive whole within it
//!   (a slowloris is cut), and a keep-alive connection waiting for its next request is closed
//!   after it too (hyper starts the same timer while it waits);
//! - a write that makes no progress for as long (a client that asks and never reads) fails,
//!   and the connection goes with what it held (hyper has no write timeout of its own);
//! - at most `max_connections` connections at once (upgraded WebSockets included: the slot
//!   lives as long as the socket); past it, a small reserve serves only health, metrics and
//!   the organizer API, one request per connection, with a short header timeout; when the
//!   reserve is full too, its oldest connection is closed to make room (silent attackers
//!   are the oldest: a health check sends its request the moment it connects, so it is
//!   served long before the reserve turns over);
//! - public viewers hold at most their share of those slots (`HttpLimits::public_viewers`,
//!   enforced at `watch` in `gateway/public.rs`), so that members always find one;
//! - a failed accept (out of descriptors after all) pauses the loop a moment instead of
//!   spinning.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// Largest request head (request line and headers) read, in bytes.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Header timeout of a connection served from the reserve.
pub const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Descriptors the process keeps for itself (store files, Redis, logs) beside connections.
const OWN_FDS: usize = 64;
/// Connection slots public viewers always leave to everyone else (`HttpLimits::public_viewers`),
/// when the slots allow it: a national convention's 200 members each with their `/ws` and
/// four document sockets (`MAX_CONNECTIONS_PER_TOKEN` per document) hold 1,000.
pub const MEMBER_SLOTS: usize = 1024;

/// The connection budget: see the module's documentation and ARCHITECTURE.md, "Limits".
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub reserve: usize,
}

impl HttpLimits {
    /// The budget for a process allowed `fds` open files: a reserve of a sixteenth of them
    /// (32 to 512) for health and organizers, and the rest, less the process's own, for
    /// everyone. `max_connections`, when given, caps the latter.
    pub fn for_fds(fds: usize, header_timeout: Duration, max_connections: Option<usize>) -> Self {
        let reserve = (fds / 16).clamp(32, 512);
        let room = fds.saturating_sub(reserve + OWN_FDS).max(16);
        HttpLimits {
            header_timeout,
            max_connections: max_connections.map_or(room, |m| m.min(room)).max(1),
            reserve,
        }
    }

    /// The public viewers this node holds at once: `configured` (`--max-public-viewers`),
    /// lowered so that viewers never take more than their share of `max_connections`.
    /// Everyone else keeps a quarter of the slots, and at least `MEMBER_SLOTS` of them (half,
    /// on a server with fewer than twice that): members' `/ws` and `/doc` sockets, HTTP
    /// requests and page loads, and connections that have not said `hello` or `watch` yet
    /// (which hold a slot for up to 10 s, whoever they are). So the share of viewers is a half
    /// of 2,048 slots or fewer, three quarters of 4,096 or more, and leaves 1,024 in between.
    pub fn public_viewers(&self, configured: usize) -> usize {
        let slots = self.max_connections;
        let others = slots.div_ceil(4).max(slots.div_ceil(2).min(MEMBER_SLOTS));
        configured.min(slots.saturating_sub(others))
    }
}

/// Raise the soft limit of open files to the hard one, and return it: the budget is computed
/// from what the process may really open.
pub fn raise_fd_limit() -> usize {
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        usize::try_from(lim.rlim_cur).unwrap_or(usize::MAX)
    }
}

/// Whether a request may be served from the reserve: health, metrics, and the organizer API
/// (which checks its token as always).
fn reserved_route(path: &str) -> bool {
    path == "/healthz" || path == "/metrics" || path.starts_with("/api/")
}

async fn reserve_only(req: Request, next: Next) -> Response {
    if reserved_route(req.uri().path()) {
        next.run(req).await
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close"), (header::RETRY_AFTER, "5")],
            "the server is at its connection limit; try again in a moment",
        )
            .into_response()
    }
}

/// A TCP stream that holds its connection slot (and counts in the gauge) until it is
/// dropped: after an upgrade, that is when the WebSocket ends.
struct Held {
    tcp: TcpStream,
    /// An ordinary slot; none for a reserve connection (the reserve counts its own).
    _slot: Option<OwnedSemaphorePermit>,
    metrics: Arc<Metrics>,
    /// A write that makes no progress for this long fails (the peer stopped reading: its
    /// response, or its WebSocket frames, would stay in memory for as long as it likes).
    stall: Duration,
    /// Since when writes wait, as the deadline they have.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Held {
    fn new(
        tcp: TcpStream,
        slot: Option<OwnedSemaphorePermit>,
        metrics: Arc<Metrics>,
        stall: Duration,
    ) -> Self {
        Held {
            tcp,
            _slot: slot,
            metrics,
            stall,
            stalled: None,
        }
    }

    /// What a write came to: progress clears the deadline; waiting starts it, and fails
    /// once it has passed.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let stall = self.stall;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match std::future::Future::poll(deadline.as_mut(), cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer takes nothing of what is written to it",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.metrics.http_connections.dec();
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.watch(cx, r)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }
    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.tcp).poll_flush(cx);
        self.watch(cx, r)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// The reserve's connections, oldest first, each with the token that closes it.
#[derive(Default)]
struct Reserve {
    conns: std::sync::Mutex<VecDeque<(u64, CancellationToken)>>,
}

impl Reserve {
    /// Room for one more, closing the oldest if need be; the new one's token.
    fn admit(&self, id: u64, cap: usize, metrics: &Metrics) -> CancellationToken {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        while conns.len() >= cap.max(1) {
            if let Some((_, oldest)) = conns.pop_front() {
                oldest.cancel();
                metrics.http_refused.inc();
            }
        }
        let token = CancellationToken::new();
        conns.push_back((id, token.clone()));
        token
    }

    fn leave(&self, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = conns.iter().position(|(c, _)| *c == id) {
            conns.remove(i);
        }
    }
}

/// Errors of `accept` that concern only the connection being accepted.
fn connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Serve `router` on `listener` until `shutdown`; connections in flight finish (tracked by
/// `tracker`, which the caller waits for).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Reserve::default());
    let mut next_id = 0u64;
    let everyone = TowerToHyperService::new(router.clone());
    let reserved = TowerToHyperService::new(router.layer(middleware::from_fn(reserve_only)));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            a = listener.accept() => a,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) if connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (or memory): retrying at once would spin.
                warn!(error = %e, "accept failed; pausing");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Small frames (acknowledgments, events) go out at once rather than wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let slot = slots.clone().try_acquire_owned().ok();
        let from_reserve = slot.is_none();
        metrics.http_connections.inc();
        let stall = if from_reserve {
            RESERVE_HEADER_TIMEOUT
        } else {
            limits.header_timeout
        };
        let io = TokioIo::new(Held::new(tcp, slot, metrics.clone(), stall));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .max_buf_size(MAX_HEAD_BYTES);
        let shutdown = shutdown.clone();
        if from_reserve {
            metrics.http_reserve.inc();
            next_id += 1;
            let id = next_id;
            let evicted = reserve.admit(id, limits.reserve, &metrics);
            let reserve = reserve.clone();
            builder
                .keep_alive(false)
                .header_read_timeout(RESERVE_HEADER_TIMEOUT);
            let conn = builder.serve_connection(io, reserved.clone());
            tracker.spawn(async move {
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => if let Err(e) = r { debug!(error = %e, "reserve connection ended") },
                    _ = evicted.cancelled() => {}
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
                reserve.leave(id);
            });
        } else {
            builder.header_read_timeout(limits.header_timeout);
            let conn = builder
                .serve_connection(io, everyone.clone())
                .with_upgrades();
            tracker.spawn(async move {
                tokio::pin!(conn);
                tokio::select! {
                    r = conn.as_mut() => if let Err(e) = r { debug!(error = %e, "connection ended") },
                    _ = shutdown.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        let _ = conn.await;
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_a_reserve_and_the_process_own_descriptors() {
        let t = Duration::from_secs(10);
        let l = HttpLimits::for_fds(1024, t, None);
        assert_eq!((l.reserve, l.max_connections), (64, 1024 - 64 - OWN_FDS));
        let l = HttpLimits::for_fds(20_000, t, None);
        assert_eq!(l.reserve, 512);
        assert_eq!(l.max_connections, 20_000 - 512 - OWN_FDS);
        assert_eq!(
            HttpLimits::for_fds(20_000, t, Some(100)).max_connections,
            100
        );
        // A tiny limit still serves someone.
        assert!(HttpLimits::for_fds(50, t, None).max_connections >= 16);
        assert!(reserved_route("/healthz") && reserved_route("/api/conventions"));
        assert!(!reserved_route("/ws") && !reserved_route("/"));
    }

    #[test]
    fn public_viewers_leave_members_a_share_of_the_slots() {
        let t = Duration::from_secs(10);
        let viewers = |fds, max_connections, flag| {
            let l = HttpLimits::for_fds(fds, t, max_connections);
            (l.max_connections, l.public_viewers(flag))
        };
        // `ulimit -n 1024`: 896 slots, half for viewers (members keep 448: 200 members with
        // their `/ws` and one document each).
        assert_eq!(viewers(1024, None, 20_000), (896, 448));
        // 20,000 open files: 19,424 slots, three quarters for viewers.
        assert_eq!(viewers(20_000, None, 20_000), (19_424, 14_568));
        // Between, members keep `MEMBER_SLOTS`.
        assert_eq!(
            viewers(1_000_000, Some(3_000), 20_000),
            (3_000, 3_000 - MEMBER_SLOTS)
        );
        assert_eq!(viewers(1_000_000, Some(4_096), 20_000), (4_096, 3_072));
        // Systemd's `LimitNOFILE=65536` (deploy/convene.service): the flag holds.
        assert_eq!(viewers(65_536, None, 20_000), (64_960, 20_000));
        // A lower flag always holds.
        assert_eq!(viewers(1024, None, 3), (896, 3));
        assert_eq!(viewers(20_000, Some(60), 20_000), (60, 30));
        // Whatever the slots, members keep at least a quarter, and viewers never exceed the
        // flag nor the slots.
        for slots in (1..5_000).chain([19_424, 64_960, 1_000_000]) {
            let l = HttpLimits::for_fds(usize::MAX / 2, t, Some(slots));
            assert_eq!(l.max_connections, slots);
            let v = l.public_viewers(usize::MAX);
            assert!(slots - v >= slots / 4, "{slots} slots, {v} viewers");
            assert!(
                slots - v >= slots.div_ceil(2).min(MEMBER_SLOTS),
                "{slots}: {v}"
            );
            assert!(l.public_viewers(7) <= 7);
        }
    }
}
