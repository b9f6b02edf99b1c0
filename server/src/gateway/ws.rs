//! The participant's WebSocket `/ws`: hello, then requests in and frames out. Bad input
//! earns a typed error or a documented close code; it never reaches the convention.

use std::collections::VecDeque;
use std::time::Duration;

use super::socket::{self, CloseFrame, Message, Socket, Upgrade};
use axum::extract::State;
use axum::response::Response;
use convene_protocol::{self as p, close, ClientMessage, ErrorCode, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::oneshot;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, Instrument};

use super::outbox::{self, Next, OutboxReceiver, Weigh};
use super::AppState;
use crate::live::{ConnLink, Frame, JoinError};
use crate::wire;

/// Frames waiting to be written to one connection, and their bytes (see `outbox`: frames over
/// a quarter of this, large welcomes or snapshots, have as much again of their own, which one
/// may pass alone); a reader slower than this is closed with 4009 and resyncs.
pub const OUTBOUND_QUEUE: usize = 1024;
pub const OUTBOUND_BYTES: usize = 1024 * 1024;
/// How long the close frame may take to leave. A reader that stopped reading stalls the
/// socket: the close frame would wait forever behind what fills its buffers. Also how long
/// the reader reads on after the close, waiting for the peer's answer (`finish`).
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Reading on after a close (`finish`): twice what a client within its rate limit (burst,
/// `CLOSE_TIMEOUT` at the sustained rate, the messages over the limit it is forgiven) can
/// send meanwhile, in frames of the largest size: 480 frames, 7.5 MiB.
const READ_ON: socket::ReadOn = {
    let frames = socket::ReadOn::frames_within(
        p::MESSAGE_BURST as f64,
        p::MESSAGES_PER_SEC as f64,
        p::OVER_LIMIT_FORGIVEN as usize,
        CLOSE_TIMEOUT,
    );
    socket::ReadOn {
        frames,
        bytes: frames * p::MAX_FRAME_BYTES,
    }
};
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// tungstenite reads into a buffer of 128 KiB by default; most connections are idle, and a
/// participant's messages are small (a longer one still arrives whole).
pub const READ_BUFFER: usize = 2 * 1024;
/// Most bytes a writer takes off its queue for one write.
const WRITE_BATCH: usize = 64 * 1024;
/// Frames queued together are written at once past this many bytes: with frames of at most
/// `socket::FRAGMENT`, the write buffer each connection keeps stays within 4 KiB.
pub const WRITE_BUFFER: usize = 2 * 1024;

pub async fn upgrade(ws: Upgrade, State(app): State<AppState>) -> Response {
    let config = socket::config(READ_BUFFER, WRITE_BUFFER, p::MAX_FRAME_BYTES);
    ws.on_upgrade(config, move |socket| {
        let tracker = app.tracker.clone();
        tracker.track_future(connection(socket, app))
    })
}

/// A connection's writer: the frames queued for it (those not written at once by their
/// sender, see `outbox`), a ping when asked, and the close when asked, after what was
/// already queued. Shared by `/ws` and the document endpoint. It waits on its queue alone:
/// one wake-up per batch, nothing else polled.
pub(crate) async fn write_frames<F, S>(sink: S, mut out_rx: OutboxReceiver<F>)
where
    F: Weigh,
    S: futures_util::Sink<Message, Error = tungstenite::Error> + Send + 'static,
{
    out_rx.attach(sink);
    let mut batch: VecDeque<Message> = VecDeque::new();
    let closing = loop {
        let mut frames = 0;
        let mut bytes = match out_rx.next().await {
            Next::Close(c) => break c,
            next => add(&out_rx, next, &mut batch, &mut frames),
        };
        // What is already queued in one write: one system call per wake-up, not one per
        // frame; up to `WRITE_BATCH` bytes, the rest stays in the queue, counted by its
        // budget (a reader that does not read holds the queue's budget and one batch).
        while bytes < WRITE_BATCH {
            let Some(next) = out_rx.try_next() else { break };
            bytes += add(&out_rx, next, &mut batch, &mut frames);
        }
        if !out_rx.write(&mut batch, frames).await {
            break None;
        }
    };
    if let Some((code, reason)) = closing {
        // What was queued before the close goes out first (a reply, or the reason as an auth
        // message); a slow consumer's queue is full and its socket stalled: not for it.
        if code != close::SLOW_CONSUMER {
            let mut frames = 0;
            while let Some(f) = out_rx.try_recv() {
                add(&out_rx, Next::Frame(f), &mut batch, &mut frames);
            }
            let flush = out_rx.write(&mut batch, frames);
            let _ = tokio::time::timeout(Duration::from_secs(1), flush).await;
        }
        batch.clear();
        batch.push_back(Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, out_rx.write(&mut batch, 0)).await;
    }
    out_rx.detach();
}

/// Add what the queue gave to the batch to write: a frame (in fragments when it is long,
/// see `socket::frames`), a ping, or nothing (a flush: the write flushes anyway). The bytes
/// added.
fn add<F: Weigh>(
    out_rx: &OutboxReceiver<F>,
    next: Next<F>,
    batch: &mut VecDeque<Message>,
    frames: &mut usize,
) -> usize {
    let m = match next {
        Next::Frame(f) => {
            *frames += 1;
            out_rx.message(f)
        }
        Next::Ping => Message::Ping(Default::default()),
        Next::Flush | Next::Close(_) => return 0,
    };
    let bytes = m.len();
    if socket::is_long(&m) {
        batch.extend(socket::frames(m));
    } else {
        batch.push_back(m);
    }
    bytes
}

/// Start a connection's writer (`write_frames`) on its own task: its handle, and a token
/// cancelled when it ends (the reader then stops too).
pub(crate) fn spawn_writer<F, S>(
    sink: S,
    out_rx: OutboxReceiver<F>,
) -> (tokio::task::JoinHandle<()>, CancellationToken)
where
    F: Weigh + Send + Sync + 'static,
    S: futures_util::Sink<Message, Error = tungstenite::Error> + Send + 'static,
{
    let done = CancellationToken::new();
    let writer_done = done.clone();
    let writer = tokio::spawn(async move {
        write_frames(sink, out_rx).await;
        writer_done.cancel();
    });
    (writer, done)
}

/// What a connection's reader watches besides its socket, the same for `/ws` and the
/// document endpoint: the server's shutdown, the idle timeout and the pings that keep a
/// quiet connection alive (the writer sends them, asked through the queue).
pub(crate) struct Watch {
    shutdown: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    ping: tokio::time::Interval,
    idle: Duration,
    heard: Instant,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Watch {
    pub(crate) fn new(shutdown: &CancellationToken, idle: Duration) -> Self {
        let every = idle / 3;
        Watch {
            shutdown: Box::pin(shutdown.clone().cancelled_owned()),
            ping: tokio::time::interval_at(Instant::now() + every, every),
            idle,
            heard: Instant::now(),
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    /// Something came from the peer: the idle clock starts again (the timer itself is moved
    /// only when it fires, not at every message).
    pub(crate) fn heard(&mut self) {
        self.heard = Instant::now();
    }

    /// Wait for the shutdown or the idle timeout, asking `out` for a ping now and then; then
    /// close the connection for it (1001).
    pub(crate) async fn until<F: Weigh>(&mut self, out: &super::outbox::Outbox<F>) {
        loop {
            tokio::select! {
                _ = self.shutdown.as_mut() => {
                    out.close(close::GOING_AWAY, "server shutting down");
                    return;
                }
                _ = self.ping.tick() => out.ping(),
                _ = self.deadline.as_mut() => {
                    let due = self.heard + self.idle;
                    if Instant::now() >= due {
                        // Silent past the idle timeout, pings unanswered: a half-open TCP
                        // connection (a phone that lost its network) or a stalled client.
                        out.close(close::GOING_AWAY, "idle for too long");
                        return;
                    }
                    self.deadline.as_mut().reset(due);
                }
            }
        }
    }
}

/// The end of a connection, the same for `/ws` and the document endpoint. The peer closed:
/// answer its Close, and the writer goes. Otherwise: close (1000, unless a close was already
/// asked), after what is queued, then read on until the peer answers, at most
/// `CLOSE_TIMEOUT`, a second when the server is shutting down, and at most the endpoint's
/// `budget` (see `socket::answer_close`: a
/// socket dropped with unread bytes is reset, and a peer that kept sending, a slow consumer
/// say, would lose its close).
pub(crate) async fn finish<F, S, E>(
    stream: &mut S,
    out: super::outbox::Outbox<F>,
    writer: tokio::task::JoinHandle<()>,
    peer_closed: bool,
    shutting_down: bool,
    budget: socket::ReadOn,
) where
    F: Weigh,
    S: futures_util::Stream<Item = Result<Message, E>> + Unpin,
{
    if peer_closed {
        drop(out);
        socket::answer_close(stream, Duration::from_secs(1), budget).await;
        writer.abort();
        let _ = writer.await;
    } else {
        out.close(1000, "bye");
        drop(out);
        let _ = writer.await;
        let within = if shutting_down {
            Duration::from_secs(1)
        } else {
            CLOSE_TIMEOUT
        };
        socket::answer_close(stream, within, budget).await;
    }
}

/// A read failed: close with the code it calls for (`socket::close_for`), if the peer can
/// still hear it; whether a close was asked (the frame broke a rule).
pub(crate) fn close_after<F: Weigh>(
    e: &tungstenite::Error,
    out: &super::outbox::Outbox<F>,
    too_large: (u16, &'static str),
) -> bool {
    let Some((code, reason)) = socket::close_for(e, too_large) else {
        return false;
    };
    out.close(code, reason);
    true
}

/// The rate budget of a connection (PROTOCOL.md §16), and the messages over it it is still
/// forgiven. Forgiven by a budget, not by a count of refusals in a row that any accepted
/// message would reset: a client sending just above the rate would otherwise be answered
/// (and its frames parsed) for ever, a token refilled every 50 ms keeping it open.
struct RateLimit {
    bucket: socket::TokenBucket,
    forgiven: socket::TokenBucket,
}

enum Verdict {
    Within,
    Over,
    Close,
}

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            bucket: socket::TokenBucket::new(
                f64::from(p::MESSAGES_PER_SEC),
                f64::from(p::MESSAGE_BURST),
            ),
            // The one that finds none left closes: the 100th over the limit, at once.
            forgiven: socket::TokenBucket::new(
                f64::from(p::OVER_LIMIT_PER_SEC),
                f64::from(p::OVER_LIMIT_FORGIVEN - 1),
            ),
        }
    }
    fn take(&mut self) -> Verdict {
        if self.bucket.take() {
            Verdict::Within
        } else if self.forgiven.take() {
            Verdict::Over
        } else {
            Verdict::Close
        }
    }
}

fn error(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Frame {
    crate::live::encode(&ServerMessage::Error {
        id,
        code,
        message: message.into(),
    })
}

/// The answer to an application-level `ping` (PROTOCOL.md, "Heartbeat"): a page cannot see
/// WebSocket pings, so this is how it knows its connection is alive; it carries the clock.
fn pong() -> Frame {
    let server_time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    crate::live::encode(&ServerMessage::Pong { server_time })
}

async fn close_now(socket: &mut Socket, code: u16, reason: &'static str, before: Option<Frame>) {
    if let Some(f) = before {
        let _ = socket.send(Message::Text(f)).await;
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })))
        .await;
}

/// The token's hash as stored, and the convention it names (`{convention}.{secret}`).
pub fn parse_token(token: &str) -> Option<(&str, String)> {
    let (convention, secret) = token.split_once('.')?;
    if convention.is_empty() || secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    Some((convention, super::hash_token(token)))
}

async fn connection(mut socket: Socket, app: AppState) {
    let conn = app.hub.next_conn_id();
    let span = info_span!(
        "connection",
        conn,
        participant = tracing::field::Empty,
        convention = tracing::field::Empty
    );
    async move {
        // 1. The hello.
        let hello = match timeout(HELLO_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => p::parse_client_message(&t),
            _ => {
                app.hub.metrics().reject(ErrorCode::BadMessage);
                return close_now(&mut socket, close::HELLO_EXPECTED, "hello expected", None).await;
            }
        };
        let (version, token, last_seq) = match hello {
            Ok(ClientMessage::Hello {
                protocol,
                token,
                last_seq,
            }) => (protocol, token, last_seq),
            Ok(
                m @ (ClientMessage::Request { .. }
                | ClientMessage::Ping
                | ClientMessage::GetRoster { .. }),
            ) => {
                let id = match m {
                    ClientMessage::Request { id, .. } => Some(id),
                    _ => None,
                };
                let e = error(id, ErrorCode::BadMessage, "say hello first");
                return close_now(
                    &mut socket,
                    close::HELLO_EXPECTED,
                    "hello expected",
                    Some(e),
                )
                .await;
            }
            Err(e) => {
                app.hub.metrics().reject(e.code);
                let f = error(e.id, e.code, e.message);
                return close_now(
                    &mut socket,
                    close::HELLO_EXPECTED,
                    "hello expected",
                    Some(f),
                )
                .await;
            }
        };
        if !p::SUPPORTED_PROTOCOLS.contains(&version) {
            app.hub.metrics().reject(ErrorCode::UnsupportedVersion);
            let f = error(
                None,
                ErrorCode::UnsupportedVersion,
                format!(
                    "this server speaks protocols {} and {}",
                    p::PROTOCOL_VERSION,
                    p::PROTOCOL_V2
                ),
            );
            return close_now(
                &mut socket,
                close::UNSUPPORTED_VERSION,
                "unsupported protocol version",
                Some(f),
            )
            .await;
        }
        let Some((convention, hash)) = parse_token(&token) else {
            app.hub.metrics().reject(ErrorCode::Unauthorized);
            let f = error(None, ErrorCode::Unauthorized, "malformed invitation token");
            return close_now(
                &mut socket,
                close::UNKNOWN_TOKEN,
                "unknown invitation",
                Some(f),
            )
            .await;
        };
        tracing::Span::current().record("convention", convention);
        let Some(mut handle) = app.hub.find(convention).await else {
            app.hub.metrics().reject(ErrorCode::Unauthorized);
            let f = error(None, ErrorCode::Unauthorized, "unknown invitation");
            return close_now(
                &mut socket,
                close::UNKNOWN_TOKEN,
                "unknown invitation",
                Some(f),
            )
            .await;
        };
        let (out_tx, out_rx) =
            outbox::channel::<Frame>(OUTBOUND_QUEUE, OUTBOUND_BYTES, Message::Text);
        let (attached_tx, mut attached) = oneshot::channel();
        let link = ConnLink {
            id: conn,
            out: out_tx.clone(),
            attached: attached_tx,
            protocol: version,
        };
        // A replica that just went idle (cluster mode) answers Gone: ask again, it restarts.
        let mut joined = handle.join(hash.clone(), link, last_seq).await;
        if joined.as_ref().err() == Some(&JoinError::Gone) && !app.cancel.is_cancelled() {
            if let Some(h) = app.hub.find(convention).await {
                handle = h;
                let (attached_tx, again) = oneshot::channel();
                attached = again;
                let link = ConnLink {
                    id: conn,
                    out: out_tx.clone(),
                    attached: attached_tx,
                    protocol: version,
                };
                joined = handle.join(hash, link, last_seq).await;
            }
        }
        match joined {
            Ok(joined) => {
                tracing::Span::current().record("participant", joined.participant.as_str());
            }
            Err(e) => {
                let (code, reason, error_code) = match e {
                    JoinError::Revoked => (
                        close::REVOKED,
                        "invitation revoked",
                        ErrorCode::Unauthorized,
                    ),
                    JoinError::Removed => (
                        close::REMOVED,
                        "removed from the convention",
                        ErrorCode::Forbidden,
                    ),
                    JoinError::Unknown => (
                        close::UNKNOWN_TOKEN,
                        "unknown invitation",
                        ErrorCode::Unauthorized,
                    ),
                    // The task stopped because the convention is being deleted.
                    JoinError::Gone if app.hub.is_deleting(convention) => (
                        close::DELETED,
                        "the convention was deleted",
                        ErrorCode::NotFound,
                    ),
                    JoinError::Gone => (
                        close::GOING_AWAY,
                        "server shutting down",
                        ErrorCode::Unavailable,
                    ),
                    JoinError::TooOften => (
                        close::RATE_LIMITED,
                        "connected too often",
                        ErrorCode::RateLimited,
                    ),
                    JoinError::Unavailable(_) => (
                        close::TRY_AGAIN_LATER,
                        "convention unavailable: try again later",
                        ErrorCode::Unavailable,
                    ),
                    JoinError::Damaged(_) => (
                        close::DAMAGED,
                        "convention damaged: an operator must repair it",
                        ErrorCode::Unavailable,
                    ),
                    JoinError::Deleted => (
                        close::DELETED,
                        "the convention was deleted",
                        ErrorCode::NotFound,
                    ),
                };
                app.hub.metrics().reject(error_code);
                let f = error(None, error_code, e.to_string());
                return close_now(&mut socket, code, reason, Some(f)).await;
            }
        }
        debug!("joined");

        // 2. The writer: frames from the convention's task, pings, the close.
        let (sink, mut stream) = socket.split();
        let (writer, done) = spawn_writer(sink, out_rx);

        // 3. The reader, which also watches the shutdown and the idle timeout.
        let mut watch = Watch::new(&app.cancel, app.limits.ws_idle);
        let mut limit = RateLimit::new();
        let mut peer_closed = false;
        loop {
            let next = tokio::select! {
                _ = done.cancelled() => break,
                // The convention's task let this connection go without closing it: it failed
                // and is being restarted. Come back in a moment (the new task is fresh).
                _ = &mut attached => {
                    out_tx.close(close::TRY_AGAIN_LATER, "the convention restarted: reconnect");
                    break;
                }
                _ = watch.until(&out_tx) => break,
                n = stream.next() => n,
            };
            watch.heard();
            let msg = match next {
                None => break,
                Some(Err(e)) => {
                    if close_after(&e, &out_tx, (close::TOO_LARGE, "frame too large")) {
                        app.hub.metrics().reject(ErrorCode::BadMessage);
                    }
                    break;
                }
                Some(Ok(m)) => m,
            };
            let text = match msg {
                Message::Text(t) => t,
                Message::Binary(_) => {
                    app.hub.metrics().reject(ErrorCode::BadMessage);
                    let _ = out_tx.try_send(error(
                        None,
                        ErrorCode::BadMessage,
                        "binary frames are not spoken here",
                    ));
                    out_tx.close(close::BINARY, "text frames only");
                    break;
                }
                Message::Close(_) => {
                    peer_closed = true;
                    break;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            let verdict = limit.take();
            if !matches!(verdict, Verdict::Within) {
                app.hub.metrics().reject(ErrorCode::RateLimited);
                if matches!(verdict, Verdict::Close) {
                    // Let the replies to what was accepted go out before the close.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    out_tx.close(close::RATE_LIMITED, "rate limit exceeded");
                    break;
                }
                // The frame's id, even when the rest of it would not parse.
                let id = match p::parse_client_message(&text) {
                    Ok(ClientMessage::Request { id, .. }) => Some(id),
                    Ok(
                        ClientMessage::Hello { .. }
                        | ClientMessage::Ping
                        | ClientMessage::GetRoster { .. },
                    ) => None,
                    Err(e) => e.id,
                };
                let _ = out_tx.try_send(error(
                    id,
                    ErrorCode::RateLimited,
                    "too many messages: this one was not executed",
                ));
                continue;
            }
            match p::parse_client_message(&text) {
                Ok(ClientMessage::Request { id, command }) => {
                    if handle
                        .request(conn, id.clone(), wire::command_in(command))
                        .await
                        .is_err()
                    {
                        let _ = out_tx.try_send(error(
                            Some(id),
                            ErrorCode::Unavailable,
                            "the convention is shutting down",
                        ));
                        break;
                    }
                }
                // The heartbeat, counted by the rate limit like every frame.
                Ok(ClientMessage::Ping) => {
                    let _ = out_tx.try_send(pong());
                }
                // Protocol version 2 (section 25): the roster, by version.
                Ok(ClientMessage::GetRoster { version }) => {
                    if handle.get_roster(conn, version).await.is_err() {
                        break;
                    }
                }
                Ok(ClientMessage::Hello { .. }) => {
                    app.hub.metrics().reject(ErrorCode::BadMessage);
                    let _ = out_tx.try_send(error(
                        None,
                        ErrorCode::BadMessage,
                        "hello was already said",
                    ));
                }
                Err(e) => {
                    app.hub.metrics().reject(e.code);
                    let _ = out_tx.try_send(error(e.id, e.code, e.message));
                }
            }
        }
        handle.leave(conn).await;
        finish(
            &mut stream,
            out_tx,
            writer,
            peer_closed,
            app.cancel.is_cancelled(),
            READ_ON,
        )
        .await;
        debug!("left");
    }
    .instrument(span)
    .await
}
