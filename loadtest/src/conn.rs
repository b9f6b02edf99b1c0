//! One participant's WebSocket connection: hello, welcome, then a reader task that reads the
//! socket continuously (a slow reader would be closed by the server with 4009), matches
//! replies to requests by id, and hands the messages a scenario wants to its channel.
//!
//! Every frame is classified by its `type` without parsing it (`presence` frames are only
//! counted: with N participants joining, each connection receives N of them); only replies
//! and the types a scenario subscribed to are parsed. The `seq` of events and snapshots is
//! read from their first bytes too: an event at or below a seq the connection already had is
//! a duplicate (`duplicate_event`).
//!
//! With several nodes (`--url A,B,C`), connections start round-robin over them, and one that
//! loses its node (reset, end of stream, or a close that invites a reconnect: 1001, 1011,
//! 4009...) reconnects to the next node of the list from the reader task, says `hello` with
//! the seq it had (`last_seq`), checks that the welcome is not behind it (`welcome_behind`),
//! and sends its requests still without a reply again with the same ids (the server answers a
//! retry from its log, so none runs twice). Each resume is kept as (seq before, welcome's
//! seq): what happened in between is in the new snapshot, not in events, and a scenario that
//! checks deliveries counts it so instead of as a gap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{ClientMessage, Command, ErrorCode, Person, ServerMessage};
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

/// How long a connection that lost its node keeps trying the others.
const RECONNECT_WITHIN: Duration = Duration::from_secs(30);
/// One attempt on one node: connect, hello, welcome.
const RECONNECT_ATTEMPT: Duration = Duration::from_secs(5);

/// The nodes of a run (`--url`, one or more): their WebSocket URLs, and what each took.
pub struct Nodes {
    /// `ws://host/ws` of each node, in the order given.
    pub ws: Vec<String>,
    /// Connections that started on each node (round-robin, or the next one if it refused).
    pub opened: Vec<AtomicU64>,
    /// Reconnections that landed on each node.
    pub reconnected_to: Vec<AtomicU64>,
    /// Connections lost while on each node (its death, a reset, a close inviting a reconnect).
    pub lost: Vec<AtomicU64>,
}

impl Nodes {
    pub fn new(ws: Vec<String>) -> Nodes {
        let zeros = || ws.iter().map(|_| AtomicU64::new(0)).collect();
        Nodes {
            opened: zeros(),
            reconnected_to: zeros(),
            lost: zeros(),
            ws,
        }
    }

    /// The node connection `conn` starts on: round-robin over the list.
    pub fn home(&self, conn: usize) -> usize {
        conn % self.ws.len().max(1)
    }

    /// Several nodes: a connection that loses its node goes to another.
    pub fn failover(&self) -> bool {
        self.ws.len() > 1
    }
}

/// A close after which the protocol says to reconnect (PROTOCOL.md, close codes); `None`
/// is a reset or an end of stream without a close frame (a node killed).
fn resumable(close: Option<u16>) -> bool {
    match close {
        None => true,
        Some(code) => matches!(code, 1001 | 1006 | 1011 | 1012 | 1013 | 4009),
    }
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

/// A request without its reply yet: sent again, with the same id, after a reconnection.
struct InFlight {
    sent: Instant,
    tx: oneshot::Sender<Reply>,
    text: String,
}

struct State {
    pending: Mutex<HashMap<String, InFlight>>,
    /// The socket's sending half: replaced by the reader when it reconnects elsewhere.
    sink: tokio::sync::Mutex<SplitSink<Ws, Message>>,
    open: AtomicBool,
    /// We are closing: the close that follows is not an error.
    closing: AtomicBool,
    /// The node the connection is on now (index in `Nodes::ws`).
    node: AtomicUsize,
    /// Each reconnection: (the seq the connection had, the new welcome's seq).
    resumes: Mutex<Vec<(u64, u64)>>,
}

pub struct Participant {
    /// Index of the connection in the run (also the prefix of its request ids).
    pub conn: usize,
    /// Who the welcome says this is.
    pub you: Person,
    state: Arc<State>,
    next: u64,
    shared: Shared,
    failover: bool,
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
struct SnapshotLite {
    seq: u64,
}

/// The protocol version every connection of this run speaks (`--protocol`, default 2).
static PROTOCOL: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(convene_protocol::PROTOCOL_V2);

pub fn set_protocol(version: u32) {
    PROTOCOL.store(version, Ordering::Relaxed);
}

/// The protocol version of this run's hellos.
pub fn protocol() -> u32 {
    PROTOCOL.load(Ordering::Relaxed)
}

/// The `seq` of a version 2 `room_view` message (after `server_time`, as serde writes it).
pub fn room_view_seq(text: &str) -> Option<u64> {
    let rest = text.strip_prefix("{\"type\":\"room_view\",\"server_time\":")?;
    let at = rest.find(",\"seq\":")?;
    leading_number(&rest[at + ",\"seq\":".len()..])
}

/// The `type` of a server message, read from its first bytes (serde writes the tag first).
pub fn message_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("{\"type\":\"")?;
    rest.split('"').next()
}

fn leading_number(text: &str) -> Option<u64> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The `seq` of an `event` message, read from its first bytes (the record's first field).
pub fn event_seq(text: &str) -> Option<u64> {
    leading_number(text.strip_prefix("{\"type\":\"event\",\"seq\":")?)
}

/// The `seq` of a `snapshot` (or `welcome`) message's snapshot, found without parsing: inside
/// a JSON string a quote is escaped, so `{"seq":` right after `"snapshot":` is the object's.
pub fn snapshot_seq(text: &str) -> Option<u64> {
    const KEY: &str = "\"snapshot\":{\"seq\":";
    let at = text.find(KEY)?;
    leading_number(&text[at + KEY.len()..])
}

pub(crate) fn ws_config() -> WebSocketConfig {
    // Thousands of connections in one process: small buffers, as the server does.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

/// A connection just welcomed: the socket, who it is, the welcome's size and seq.
type Welcomed = (Ws, Person, usize, u64);

fn count_welcome(shared: &Shared, len: usize) {
    let len = len as u64;
    shared
        .counters
        .welcome_bytes
        .fetch_add(len, Ordering::Relaxed);
    shared
        .counters
        .welcome_max
        .fetch_max(len, Ordering::Relaxed);
}

impl Participant {
    /// Connect to this one server, say hello with `token`, and wait (at most `within`) for
    /// the welcome. It does not fail over.
    pub async fn open(
        ws_url: &str,
        token: &str,
        conn: usize,
        sub: Option<Subscription>,
        shared: &Shared,
        within: Duration,
    ) -> Result<Participant> {
        let one = Arc::new(Nodes::new(vec![ws_url.to_string()]));
        Self::connect(&one, token, conn, sub, shared, within).await
    }

    /// Connect to the connection's node (round-robin over `nodes`; the next one if it
    /// refuses), say hello with `token`, and wait (at most `within`) for the welcome. With
    /// several nodes, the connection fails over to the next one when it loses its node.
    pub async fn connect(
        nodes: &Arc<Nodes>,
        token: &str,
        conn: usize,
        sub: Option<Subscription>,
        shared: &Shared,
        within: Duration,
    ) -> Result<Participant> {
        shared.counters.attempted.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + within;
        let home = nodes.home(conn);
        let mut failure = None;
        let mut welcomed = None;
        for k in 0..nodes.ws.len() {
            let node = (home + k) % nodes.ws.len();
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, Self::handshake(&nodes.ws[node], token, None)).await {
                Ok(Ok(x)) => {
                    welcomed = Some((node, x));
                    break;
                }
                Ok(Err(e)) => failure = Some(("connect_failed", e)),
                Err(_) => {
                    failure = Some(("connect_timeout", anyhow!("no welcome within {within:?}")));
                    break;
                }
            }
        }
        let Some((node, (ws, you, welcome_len, seq))) = welcomed else {
            let (code, e) = failure.unwrap_or(("connect_failed", anyhow!("no node")));
            shared.counters.failed.fetch_add(1, Ordering::Relaxed);
            shared.errors.add(code);
            return Err(e);
        };
        shared.counters.opened();
        nodes.opened[node].fetch_add(1, Ordering::Relaxed);
        count_welcome(shared, welcome_len);
        let (sink, stream) = ws.split();
        let state = Arc::new(State {
            pending: Mutex::new(HashMap::new()),
            sink: tokio::sync::Mutex::new(sink),
            open: AtomicBool::new(true),
            closing: AtomicBool::new(false),
            node: AtomicUsize::new(node),
            resumes: Mutex::new(Vec::new()),
        });
        let reader = Reader {
            conn,
            token: token.to_string(),
            nodes: nodes.clone(),
            state: state.clone(),
            sub,
            shared: shared.clone(),
            pos: seq,
            seen: seq,
        };
        tokio::spawn(reader.run(stream));
        Ok(Participant {
            conn,
            you,
            state,
            next: 0,
            shared: shared.clone(),
            failover: nodes.failover(),
        })
    }

    async fn handshake(ws_url: &str, token: &str, last_seq: Option<u64>) -> Result<Welcomed> {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url, Some(ws_config()), true)
                .await
                .context("websocket connect")?;
        let hello = serde_json::to_string(&ClientMessage::Hello {
            protocol: protocol(),
            token: token.to_string(),
            last_seq,
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
                        ("welcome", Some(you), Some(s)) => return Ok((ws, you, t.len(), s.seq)),
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

    /// Each reconnection to another node: (the seq this connection had, the new welcome's
    /// seq). Events in between are in that welcome's snapshot, not received one by one.
    pub fn resumes(&self) -> Vec<(u64, u64)> {
        self.state
            .resumes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Send a request; the reply comes on the returned channel (dropped if the connection
    /// closes first). Ids are `c<conn>-<n>`: unique for the participant in this convention,
    /// which exists only for this run. With several nodes, a request that cannot be sent
    /// because the node is gone waits for the reconnection and goes then, with its id.
    pub async fn send(&mut self, command: Command) -> Result<oneshot::Receiver<Reply>> {
        self.next += 1;
        let id = format!("c{}-{}", self.conn, self.next);
        let text = serde_json::to_string(&ClientMessage::Request {
            id: id.clone(),
            command,
        })?;
        let (tx, rx) = oneshot::channel();
        // The sink's lock orders this with the reader's reconnection: either the request is
        // in `pending` before the reader sends them all again, or it goes on the new socket.
        let mut sink = self.state.sink.lock().await;
        if !self.is_open() {
            self.shared.errors.add("send_failed");
            bail!("the connection is closed");
        }
        let sent = Instant::now();
        self.state
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id.clone(),
                InFlight {
                    sent,
                    tx,
                    text: text.clone(),
                },
            );
        if let Err(e) = sink.send(Message::text(text)).await {
            if self.failover {
                return Ok(rx);
            }
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
    pub async fn close(self) {
        self.state.closing.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            self.state
                .sink
                .lock()
                .await
                .send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "load test done".into(),
                })))
                .await
        })
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

/// The reader task of one connection: reads every frame, and (several nodes) reconnects
/// elsewhere when the node goes.
struct Reader {
    conn: usize,
    token: String,
    nodes: Arc<Nodes>,
    state: Arc<State>,
    sub: Option<Subscription>,
    shared: Shared,
    /// The seq of the connection's state: its last welcome, snapshot or event.
    pos: u64,
    /// The highest seq it ever had: an event at or below it was received before.
    seen: u64,
}

impl Reader {
    async fn run(mut self, mut stream: SplitStream<Ws>) {
        let (shared, state) = (self.shared.clone(), self.state.clone());
        loop {
            let close = self.read(&mut stream).await;
            if state.closing.load(Ordering::Relaxed) {
                break;
            }
            let reconnect = self.nodes.failover() && resumable(close);
            if !reconnect {
                match close {
                    Some(code) => shared.errors.add(format!("close_{code}")),
                    None => shared.errors.add("disconnected"),
                }
                break;
            }
            let node = state.node.load(Ordering::Relaxed);
            self.nodes.lost[node].fetch_add(1, Ordering::Relaxed);
            match self.reconnect().await {
                Some(s) => stream = s,
                None => {
                    if !state.closing.load(Ordering::Relaxed) {
                        shared.errors.add("reconnect_failed");
                    }
                    break;
                }
            }
        }
        // Under the sink's lock: a request being sent now sees the connection closed.
        let _sink = state.sink.lock().await;
        state.open.store(false, Ordering::Relaxed);
        shared.counters.closed();
        // Requests in flight get no reply: dropping their senders tells the waiters.
        state
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Read until the socket ends; its close code, if a close frame came.
    async fn read(&mut self, stream: &mut SplitStream<Ws>) -> Option<u16> {
        let counters = self.shared.counters.clone();
        loop {
            // The end of the stream without a close frame: `None`.
            let m = stream.next().await?;
            let at = Instant::now();
            let text = match m {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            };
            counters.frames.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(text.len() as u64, Ordering::Relaxed);
            let ty = message_type(&text);
            match ty {
                // Version 2 coalesces presence: one batch counts as one presence frame.
                Some("presence") | Some("presence_batch") => {
                    counters.presence.fetch_add(1, Ordering::Relaxed);
                }
                Some("ok") | Some("error") | None => self.reply(&text, at),
                Some(t) => {
                    match t {
                        "event" => {
                            if let Some(seq) = event_seq(&text) {
                                if seq <= self.seen {
                                    self.shared.errors.add("duplicate_event");
                                }
                                self.pos = seq;
                                self.seen = self.seen.max(seq);
                            }
                        }
                        "snapshot" | "room_view" => {
                            if let Some(seq) = snapshot_seq(&text).or_else(|| room_view_seq(&text))
                            {
                                if seq < self.seen {
                                    self.shared.errors.add("snapshot_behind");
                                }
                                self.pos = seq;
                                self.seen = self.seen.max(seq);
                            }
                        }
                        _ => {}
                    }
                    let wanted = self.sub.as_ref().is_some_and(|s| s.types.contains(&t));
                    if wanted {
                        match serde_json::from_str::<ServerMessage>(&text) {
                            Ok(m) => deliver(&self.sub, self.conn, at, m),
                            Err(_) => self.shared.errors.add("unparsable_message"),
                        }
                    }
                }
            }
        }
    }

    /// An `ok` or an `error` (or a frame without a type): to the request waiting for it.
    fn reply(&self, text: &str, at: Instant) {
        let shared = &self.shared;
        let msg = match serde_json::from_str::<ServerMessage>(text) {
            Ok(m) => m,
            Err(_) => {
                shared.errors.add("unparsable_message");
                return;
            }
        };
        let (id, result) = match msg {
            ServerMessage::Ok { id, seq } => (Some(id), Ok(seq)),
            ServerMessage::Error { id, code, message } => {
                shared.errors.add(code.as_str());
                (id, Err((code, message)))
            }
            other => {
                deliver(&self.sub, self.conn, at, other);
                return;
            }
        };
        let Some(id) = id else { return };
        let pending = self
            .state
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match pending {
            Some(p) => {
                let _ = p.tx.send(Reply {
                    sent: p.sent,
                    at,
                    result,
                });
            }
            None => shared.errors.add("unexpected_reply"),
        }
    }

    /// The node is gone: try the next ones in turn (a round, then again after a backoff),
    /// resume from `pos`, and send the requests without a reply again.
    async fn reconnect(&mut self) -> Option<SplitStream<Ws>> {
        let n = self.nodes.ws.len();
        let mut node = self.state.node.load(Ordering::Relaxed);
        let give_up = Instant::now() + RECONNECT_WITHIN;
        let mut attempt = 0u32;
        while Instant::now() < give_up && !self.state.closing.load(Ordering::Relaxed) {
            node = (node + 1) % n;
            attempt += 1;
            // Every node tried once: back off before the next round (100 ms, 200 ms... 2 s,
            // with jitter), so that a cluster coming back is not flooded.
            if attempt as usize > n {
                let round = (attempt as usize - 1) / n;
                let base = Duration::from_millis(100 << round.min(5)).min(Duration::from_secs(2));
                let jitter = rand::random::<f64>() * 0.5 + 0.5;
                tokio::time::sleep(base.mul_f64(jitter)).await;
            }
            let handshake =
                Participant::handshake(&self.nodes.ws[node], &self.token, Some(self.pos));
            let Ok(Ok((ws, _, len, seq))) =
                tokio::time::timeout(RECONNECT_ATTEMPT, handshake).await
            else {
                continue;
            };
            let (mut sink, stream) = ws.split();
            if self.state.closing.load(Ordering::Relaxed) {
                let _ = sink.send(Message::Close(None)).await;
                return None;
            }
            if seq < self.seen {
                self.shared.errors.add("welcome_behind");
            }
            self.state
                .resumes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((self.pos, seq));
            self.pos = seq;
            self.seen = self.seen.max(seq);
            self.state.node.store(node, Ordering::Relaxed);
            self.shared
                .counters
                .reconnections
                .fetch_add(1, Ordering::Relaxed);
            self.nodes.reconnected_to[node].fetch_add(1, Ordering::Relaxed);
            count_welcome(&self.shared, len);
            let mut guard = self.state.sink.lock().await;
            *guard = sink;
            // The requests the lost node left without a reply: same ids, in the order sent.
            let mut again: Vec<(Instant, String)> = self
                .state
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .map(|p| (p.sent, p.text.clone()))
                .collect();
            again.sort_by_key(|(sent, _)| *sent);
            self.shared
                .counters
                .resent
                .fetch_add(again.len() as u64, Ordering::Relaxed);
            for (_, text) in again {
                // If this fails, the reader sees the socket end and moves on again.
                if guard.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
            return Some(stream);
        }
        None
    }
}

fn deliver(sub: &Option<Subscription>, conn: usize, at: Instant, msg: ServerMessage) {
    if let Some(s) = sub {
        let _ = s.tx.send(Received { conn, at, msg });
    }
}
