//! The participant's WebSocket `/ws`: hello, then requests in and frames out. Bad input
//! earns a typed error or a documented close code; it never reaches the convention.

use std::time::Duration;

use super::socket::{self, CloseFrame, Message, Socket, Upgrade};
use axum::extract::State;
use axum::response::Response;
use convene_protocol::{self as p, close, ClientMessage, ErrorCode, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info_span, Instrument};

use super::outbox::{self, OutboxReceiver, Weigh};
use super::AppState;
use crate::live::{ConnLink, Frame, JoinError};
use crate::wire;

/// Frames waiting to be written to one connection, and their bytes (see `outbox`: frames over
/// a quarter of this, large welcomes or snapshots, have as much again of their own, which one
/// may pass alone); a reader slower than this is closed with 4009 and resyncs.
pub const OUTBOUND_QUEUE: usize = 1024;
pub const OUTBOUND_BYTES: usize = 1024 * 1024;
/// How long the close frame may take to leave. A reader that stopped reading stalls the
/// socket: the close frame would wait forever behind what fills its buffers.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Sustained messages per second a connection may send, and its burst.
const RATE_PER_SEC: f64 = 20.0;
const BURST: f64 = 40.0;
/// Consecutive messages over the limit before the connection is closed.
const MAX_OVER_LIMIT: u32 = 100;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// tungstenite reads into a buffer of 128 KiB by default; most connections are idle, and a
/// participant's messages are small (a longer one still arrives whole).
pub const READ_BUFFER: usize = 2 * 1024;
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

/// A connection's writer: the frames queued by its task, a ping now and then, and the close when
/// asked (or at shutdown), after what was already queued. Shared by `/ws` and the document
/// endpoint; `frame` makes a WebSocket message of a queued item.
pub(crate) async fn write_frames<F: Weigh>(
    mut sink: futures_util::stream::SplitSink<Socket, Message>,
    mut out_rx: OutboxReceiver<F>,
    mut close_rx: mpsc::Receiver<(u16, &'static str)>,
    shutdown: CancellationToken,
    frame: fn(F) -> Message,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    // Waiting for the shutdown on a token of this connection's own, created once: a fresh
    // `cancelled()` of the server's token at every wake-up took that one token's lock twice
    // (to register the waiter and to remove it), shared by every connection's writer, for
    // every frame written.
    let shutdown = shutdown.child_token();
    let cancelled = shutdown.cancelled();
    tokio::pin!(cancelled);
    let closing: Option<(u16, &'static str)> = loop {
        tokio::select! {
            biased;
            c = close_rx.recv() => break c,
            _ = &mut cancelled => break Some((close::GOING_AWAY, "server shutting down")),
            f = out_rx.recv() => match f {
                // Everything already queued in one write: one system call per wake-up, not
                // one per frame.
                Some(f) => {
                    let mut ok = feed(&mut sink, frame(f)).await;
                    while ok {
                        match out_rx.try_recv() {
                            Ok(f) => ok = feed(&mut sink, frame(f)).await,
                            Err(_) => break,
                        }
                    }
                    if !ok || sink.flush().await.is_err() {
                        break None;
                    }
                }
                None => break None,
            },
            _ = ping.tick() => if sink.send(Message::Ping(Default::default())).await.is_err() { break None },
        }
    };
    if let Some((code, reason)) = closing {
        // What was queued before the close goes out first (a reply, or the reason as an auth
        // message); a slow consumer's queue is full and its socket stalled: not for it.
        if code != close::SLOW_CONSUMER {
            let flush = async {
                while let Ok(f) = out_rx.try_recv() {
                    if !feed(&mut sink, frame(f)).await || sink.flush().await.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), flush).await;
        }
        let close = sink.send(Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })));
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
    }
}

/// Queue a message for the socket, in fragments when it is long (see `socket::frames`);
/// whether the socket took it.
async fn feed(sink: &mut futures_util::stream::SplitSink<Socket, Message>, m: Message) -> bool {
    for part in socket::frames(m) {
        if sink.feed(part).await.is_err() {
            return false;
        }
    }
    true
}

/// A token bucket: 10 lines do not deserve a crate.
struct RateLimit {
    tokens: f64,
    last: Instant,
    over: u32,
}

impl RateLimit {
    fn new() -> Self {
        RateLimit {
            tokens: BURST,
            last: Instant::now(),
            over: 0,
        }
    }
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SEC).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.over = 0;
            true
        } else {
            self.over += 1;
            false
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
        let (out_tx, out_rx) = outbox::channel::<Frame>(OUTBOUND_QUEUE, OUTBOUND_BYTES);
        let (close_tx, close_rx) = mpsc::channel::<(u16, &'static str)>(1);
        let (attached_tx, mut attached) = oneshot::channel();
        let link = ConnLink {
            id: conn,
            out: out_tx.clone(),
            close: close_tx.clone(),
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
                    close: close_tx.clone(),
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
                    JoinError::Revoked => (close::REVOKED, "invitation revoked", ErrorCode::Unauthorized),
                    JoinError::Removed => (close::REMOVED, "removed from the convention", ErrorCode::Forbidden),
                    JoinError::Unknown => (close::UNKNOWN_TOKEN, "unknown invitation", ErrorCode::Unauthorized),
                    JoinError::Gone => (close::GOING_AWAY, "server shutting down", ErrorCode::Unavailable),
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
                };
                app.hub.metrics().reject(error_code);
                let f = error(None, error_code, e.to_string());
                return close_now(&mut socket, code, reason, Some(f)).await;
            }
        }
        debug!("joined");

        // 2. The writer: frames from the convention's task, closes, pings, shutdown.
        let (sink, mut stream) = socket.split();
        let done = CancellationToken::new();
        let shutdown = app.cancel.clone();
        let writer_done = done.clone();
        let idle = app.limits.ws_idle;
        let writer = tokio::spawn(async move {
            write_frames(sink, out_rx, close_rx, shutdown, Message::Text, idle / 3).await;
            writer_done.cancel();
        });

        // 3. The reader.
        let mut limit = RateLimit::new();
        let mut peer_closed = false;
        loop {
            let next = tokio::select! {
                _ = done.cancelled() => break,
                // The convention's task let this connection go without closing it: it failed
                // and is being restarted. Come back in a moment (the new task is fresh).
                _ = &mut attached => {
                    let _ = close_tx.try_send((close::TRY_AGAIN_LATER, "the convention restarted: reconnect"));
                    break;
                }
                n = timeout(idle, stream.next()) => n,
            };
            let msg = match next {
                Err(_) => {
                    // Silent past the idle timeout, pings unanswered: a half-open TCP
                    // connection (a phone that lost its network) or a stalled client.
                    let _ = close_tx.try_send((close::GOING_AWAY, "idle for too long"));
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    if let Some(c) =
                        socket::close_for(&e, (close::TOO_LARGE, "frame too large"))
                    {
                        app.hub.metrics().reject(ErrorCode::BadMessage);
                        let _ = close_tx.try_send(c);
                    }
                    break;
                }
                Ok(Some(Ok(m))) => m,
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
                    let _ = close_tx.try_send((close::BINARY, "text frames only"));
                    break;
                }
                Message::Close(_) => {
                    peer_closed = true;
                    break;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            if !limit.take() {
                app.hub.metrics().reject(ErrorCode::RateLimited);
                if limit.over >= MAX_OVER_LIMIT {
                    // Let the replies to what was accepted go out before the close.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let _ = close_tx.try_send((close::RATE_LIMITED, "rate limit exceeded"));
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
        drop(out_tx);
        if peer_closed {
            // The client closed: answer its Close (the reader does), then the writer goes.
            socket::answer_close(&mut stream).await;
            writer.abort();
        } else {
            let _ = close_tx.try_send((1000, "bye"));
        }
        let _ = writer.await;
        debug!("left");
    }
    .instrument(span)
    .await
}
