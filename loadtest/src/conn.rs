//! One participant's WebSocket connection: hello, welcome, then a reader task that reads the
//! socket continuously (a slow reader would be closed by the server with 4009), matches
//! replies to requests by id, and hands the messages a scenario wants to its channel.
//!
//! Every frame is classified by its `type` without parsing it (`presence` frames are only
//! counted: with N participants joining, each connection receives N of them); only replies
//! and the types a scenario subscribed to are parsed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{
    ClientMessage, Command, ErrorCode, Person, ServerMessage, PROTOCOL_VERSION,
};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::metrics::{Counters, Errors};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What every connection reports to.
#[derive(Clone)]
pub struct Shared {
    pub counters: Arc<Counters>,
    pub errors: Arc<Errors>,
}

/// The one reply to a request.
#[derive(Debug)]
pub struct Reply {
    /// When the request was handed to the socket.
    pub sent: Instant,
    /// When the reply was read.
    pub at: Instant,
    /// `Ok(seq)` or `Err((code, message))`.
    pub result: std::result::Result<u64, (ErrorCode, String)>,
}

impl Reply {
    pub fn latency(&self) -> Duration {
        self.at.saturating_duration_since(self.sent)
    }
}

/// A message a scenario subscribed to, with the instant it was read.
pub struct Received {
    pub conn: usize,
    pub at: Instant,
    pub msg: ServerMessage,
}

/// Which message types (`event`, `poll_tally`...) to parse and hand over, and where.
pub struct Subscription {
    pub types: &'static [&'static str],
    pub tx: mpsc::UnboundedSender<Received>,
}

struct State {
    pending: Mutex<HashMap<String, (Instant, oneshot::Sender<Reply>)>>,
    open: AtomicBool,
    /// We are closing: the close that follows is not an error.
    closing: AtomicBool,
}

pub struct Participant {
    /// Index of the connection in the run (also the prefix of its request ids).
    pub conn: usize,
    /// Who the welcome says this is.
    pub you: Person,
    sink: SplitSink<Ws, Message>,
    state: Arc<State>,
    next: u64,
    shared: Shared,
}

/// The welcome, read without building the whole snapshot (with N participants it holds N
/// people; every participant receives one).
#[derive(Deserialize)]
struct WelcomeLite {
    #[serde(rename = "type")]
    ty: String,
    you: Option<Person>,
    snapshot: Option<SnapshotLite>,
}

#[derive(Deserialize)]
struct SnapshotLite {}

/// The `type` of a server message, read from its first bytes (serde writes the tag first).
pub fn message_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("{\"type\":\"")?;
    rest.split('"').next()
}

fn ws_config() -> WebSocketConfig {
    // Thousands of connections in one process: small buffers, as the server does.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

impl Participant {
    /// Connect, say hello with `token`, and wait (at most `within`) for the welcome.
    pub async fn open(
        ws_url: &str,
        token: &str,
        conn: usize,
        sub: Option<Subscription>,
        shared: &Shared,
        within: Duration,
    ) -> Result<Participant> {
        shared.counters.attempted.fetch_add(1, Ordering::Relaxed);
        let r = tokio::time::timeout(within, Self::handshake(ws_url, token)).await;
        let (ws, you, welcome_len) = match r {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                shared.errors.add("connect_failed");
                return Err(e);
            }
            Err(_) => {
                shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                shared.errors.add("connect_timeout");
                bail!("no welcome within {within:?}");
            }
        };
        shared.counters.opened();
        let len = welcome_len as u64;
        shared
            .counters
            .welcome_bytes
            .fetch_add(len, Ordering::Relaxed);
        shared
            .counters
            .welcome_max
            .fetch_max(len, Ordering::Relaxed);
        let (sink, stream) = ws.split();
        let state = Arc::new(State {
            pending: Mutex::new(HashMap::new()),
            open: AtomicBool::new(true),
            closing: AtomicBool::new(false),
        });
        tokio::spawn(read_loop(conn, stream, state.clone(), sub, shared.clone()));
        Ok(Participant {
            conn,
            you,
            sink,
            state,
            next: 0,
            shared: shared.clone(),
        })
    }

    async fn handshake(ws_url: &str, token: &str) -> Result<(Ws, Person, usize)> {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url, Some(ws_config()), true)
                .await
                .context("websocket connect")?;
        let hello = serde_json::to_string(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            token: token.to_string(),
        })?;
        ws.send(Message::text(hello)).await.context("hello")?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let w: WelcomeLite = match serde_json::from_str(&t) {
                        Ok(w) => w,
                        Err(_) => continue,
                    };
                    match (w.ty.as_str(), w.you, w.snapshot) {
                        ("welcome", Some(you), Some(_)) => return Ok((ws, you, t.len())),
                        ("error", _, _) => bail!("hello refused: {t}"),
                        _ => continue,
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    bail!("closed before welcome: {:?}", f.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow!(e).context("before welcome")),
                None => bail!("connection ended before welcome"),
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.state.open.load(Ordering::Relaxed)
    }

    /// Send a request; the reply comes on the returned channel (dropped if the connection
    /// closes first). Ids are `c<conn>-<n>`: unique for the participant in this convention,
    /// which exists only for this run.
    pub async fn send(&mut self, command: Command) -> Result<oneshot::Receiver<Reply>> {
        self.next += 1;
        let id = format!("c{}-{}", self.conn, self.next);
        let text = serde_json::to_string(&ClientMessage::Request {
            id: id.clone(),
            command,
        })?;
        let (tx, rx) = oneshot::channel();
        let sent = Instant::now();
        self.state
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), (sent, tx));
        if let Err(e) = self.sink.send(Message::text(text)).await {
            self.state
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            self.shared.errors.add("send_failed");
            return Err(anyhow!(e).context("send"));
        }
        Ok(rx)
    }

    /// Send a request and wait (at most `within`) for its reply.
    pub async fn request(&mut self, command: Command, within: Duration) -> Result<Reply> {
        let rx = self.send(command).await?;
        wait_reply(rx, within, &self.shared.errors).await
    }

    /// Close the connection (a normal closure, not counted as an error).
    pub async fn close(mut self) {
        self.state.closing.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.sink.send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "load test done".into(),
            }))),
        )
        .await;
    }
}

/// Wait for a reply; count `no_reply` (connection gone) or `reply_timeout`.
pub async fn wait_reply(
    rx: oneshot::Receiver<Reply>,
    within: Duration,
    errors: &Errors,
) -> Result<Reply> {
    match tokio::time::timeout(within, rx).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(_)) => {
            errors.add("no_reply");
            bail!("connection closed before the reply")
        }
        Err(_) => {
            errors.add("reply_timeout");
            bail!("no reply within {within:?}")
        }
    }
}

async fn read_loop(
    conn: usize,
    mut stream: SplitStream<Ws>,
    state: Arc<State>,
    sub: Option<Subscription>,
    shared: Shared,
) {
    let counters = &shared.counters;
    let close_code: Option<Option<u16>> = loop {
        let Some(m) = stream.next().await else {
            break Some(None);
        };
        let at = Instant::now();
        let text = match m {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(f)) => break Some(f.map(|f| u16::from(f.code))),
            Ok(_) => continue,
            Err(_) => break Some(None),
        };
        counters.frames.fetch_add(1, Ordering::Relaxed);
        counters
            .bytes
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        let ty = message_type(&text);
        match ty {
            Some("presence") => {
                counters.presence.fetch_add(1, Ordering::Relaxed);
            }
            Some("ok") | Some("error") | None => {
                let msg = match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(m) => m,
                    Err(_) => {
                        shared.errors.add("unparsable_message");
                        continue;
                    }
                };
                let (id, result) = match msg {
                    ServerMessage::Ok { id, seq } => (Some(id), Ok(seq)),
                    ServerMessage::Error { id, code, message } => {
                        shared.errors.add(code.as_str());
                        (id, Err((code, message)))
                    }
                    other => {
                        deliver(&sub, conn, at, other);
                        continue;
                    }
                };
                let Some(id) = id else { continue };
                let pending = state
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
                match pending {
                    Some((sent, tx)) => {
                        let _ = tx.send(Reply { sent, at, result });
                    }
                    None => shared.errors.add("unexpected_reply"),
                }
            }
            Some(t) => {
                let wanted = sub.as_ref().is_some_and(|s| s.types.contains(&t));
                if wanted {
                    match serde_json::from_str::<ServerMessage>(&text) {
                        Ok(m) => deliver(&sub, conn, at, m),
                        Err(_) => shared.errors.add("unparsable_message"),
                    }
                }
            }
        }
    };
    state.open.store(false, Ordering::Relaxed);
    counters.closed();
    if !state.closing.load(Ordering::Relaxed) {
        match close_code {
            Some(Some(code)) => shared.errors.add(format!("close_{code}")),
            _ => shared.errors.add("disconnected"),
        }
    }
    // Requests in flight get no reply: dropping their senders tells the waiters.
    state
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
}

fn deliver(sub: &Option<Subscription>, conn: usize, at: Instant, msg: ServerMessage) {
    if let Some(s) = sub {
        let _ = s.tx.send(Received { conn, at, msg });
    }
}
