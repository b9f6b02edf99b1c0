//! Test glue for the end-to-end tests: start the real `convene` binary on an ephemeral port,
//! drive it with real WebSocket clients and real HTTP requests, kill it with SIGKILL.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use convene_protocol::api::{CreateConvention, Invite, RosterEntry};
use convene_protocol::{ClientMessage, Command, ErrorCode, Record, ServerMessage, Snapshot};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

pub use convene_protocol as proto;

pub mod marked;
pub mod red;

/// The `convene` binary: `CONVENE_BIN`, or the workspace's target directory.
pub fn convene_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CONVENE_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    for profile in ["debug", "release"] {
        let p = target.join(profile).join("convene");
        if p.exists() {
            return p;
        }
    }
    panic!("no convene binary: run `cargo build -p convene` first (scripts/test.sh does)")
}

/// `convene ARGS…` (a command other than `serve`), which may fail: whether it succeeded, and
/// what it wrote on stderr.
pub fn convene_try<I, S>(args: I) -> Result<(bool, String)>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = std::process::Command::new(convene_bin())
        .args(args)
        .output()
        .context("running convene")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `convene ARGS…` (a command other than `serve`), which must succeed: its output.
pub fn convene_cli<I, S>(args: I) -> Result<std::process::Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let out = std::process::Command::new(convene_bin())
        .args(&args)
        .output()
        .context("running convene")?;
    ensure!(
        out.status.success(),
        "convene {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

pub const ORGANIZER_TOKEN: &str = "test-organizer-token";

/// A running `convene serve` process.
pub struct Server {
    child: Child,
    pub addr: String,
    pub data: PathBuf,
    /// Everything the process printed on stdout, line by line.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub stderr_path: PathBuf,
    extra: Vec<String>,
    /// A command the server runs under (e.g. `prlimit --nofile=1024`), kept for restarts.
    wrapper: Vec<String>,
}

impl Server {
    /// Start a server on an ephemeral port with its data in `data`.
    pub async fn start(data: &Path) -> Result<Server> {
        Self::start_with(data, &[]).await
    }

    pub async fn start_with(data: &Path, extra: &[&str]) -> Result<Server> {
        Self::start_wrapped(data, extra, &[]).await
    }

    /// Start under a wrapper command that execs the server (same process id), such as
    /// `["prlimit", "--nofile=1024"]` to give it fewer file descriptors.
    pub async fn start_wrapped(data: &Path, extra: &[&str], wrapper: &[&str]) -> Result<Server> {
        let stderr_path = data.with_extension(format!("stderr-{}.log", std::process::id()));
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)?;
        let bin = convene_bin();
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Process::new(first);
                c.args(rest).arg(&bin);
                c
            }
            None => Process::new(&bin),
        };
        let mut child = cmd
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            .arg("--organizer-token")
            .arg(ORGANIZER_TOKEN)
            .args(extra)
            .env("CONVENE_LOG", "convene=debug,warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .kill_on_drop(true)
            .spawn()
            .context("spawning convene")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(addr) = line.strip_prefix("convene listening on http://") {
                    let _ = tx.send(addr.to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .context("convene did not start listening within 30 s")?
            .ok_or_else(|| {
                anyhow!(
                    "convene exited before listening; see {}",
                    stderr_path.display()
                )
            })?;
        Ok(Server {
            child,
            addr,
            data: data.to_path_buf(),
            stdout: lines,
            stderr_path,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            wrapper: wrapper.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// SIGKILL: no shutdown, no flush. What was acknowledged must survive this.
    pub async fn kill9(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// SIGKILL, then start again on the same data directory (a new port).
    pub async fn kill9_and_restart(&mut self) -> Result<()> {
        self.kill9().await?;
        self.restart().await
    }

    /// Start again on the same data directory, with the same flags (a new port). A server
    /// still running is stopped first (SIGTERM): one process serves a data directory.
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            self.terminate().await?;
        }
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let wrapper: Vec<&str> = self.wrapper.iter().map(String::as_str).collect();
        let data = self.data.clone();
        *self = Server::start_wrapped(&data, &extra, &wrapper).await?;
        Ok(())
    }

    /// SIGTERM, and wait for a clean exit.
    pub async fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let pid = self.child.id().ok_or_else(|| anyhow!("already exited"))?;
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        Ok(tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await??)
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A gauge or counter of the server's `/metrics`.
    pub async fn metric(&self, name: &str) -> Result<u64> {
        let text = reqwest::get(self.url("/metrics")).await?.text().await?;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .with_context(|| format!("no {name} in /metrics"))
    }

    /// Every record of a convention's log, read with `convene export` (the log is the
    /// truth: snapshots carry only the latest chat lines).
    pub fn log(&self, convention: &str) -> Result<Vec<Record>> {
        let out = std::process::Command::new(convene_bin())
            .args(["export", "--convention", convention, "--data"])
            .arg(&self.data)
            .output()?;
        ensure!(
            out.status.success(),
            "convene export: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut records = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            if v["kind"] == "record" {
                records.push(serde_json::from_value(v["record"].clone())?);
            }
        }
        Ok(records)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http(&self) -> Organizer {
        Organizer {
            base: self.url(""),
            http: reqwest::Client::new(),
        }
    }
}

/// The organizer HTTP API.
pub struct Organizer {
    pub base: String,
    pub http: reqwest::Client,
}

impl Organizer {
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(ORGANIZER_TOKEN)
    }
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(ORGANIZER_TOKEN)
    }
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(ORGANIZER_TOKEN)
    }

    /// Create a convention with a roster, and invite everyone.
    pub async fn convention(&self, id: &str, roster: &[RosterEntry]) -> Result<Vec<Invite>> {
        let r = self
            .post("/api/conventions")
            .json(&CreateConvention {
                id: Some(id.to_string()),
                name: format!("Convention {id}"),
            })
            .send()
            .await?;
        if r.status() != 201 {
            bail!("create: {} {}", r.status(), r.text().await?);
        }
        self.convention_roster(id, roster).await
    }

    /// Add a roster to the convention `id`, and invite everyone without an invitation.
    pub async fn convention_roster(&self, id: &str, roster: &[RosterEntry]) -> Result<Vec<Invite>> {
        let r = self
            .post(&format!("/api/conventions/{id}/roster"))
            .json(roster)
            .send()
            .await?;
        if r.status() != 201 {
            bail!("roster: {} {}", r.status(), r.text().await?);
        }
        let r = self
            .post(&format!("/api/conventions/{id}/invites"))
            .send()
            .await?;
        if r.status() != 201 {
            bail!("invites: {} {}", r.status(), r.text().await?);
        }
        Ok(r.json().await?)
    }
}

/// A Redis server of the test's own, on a Unix socket in `dir` (no port or database to share
/// with anyone), keeping nothing on disk unless `args` say so; stopped when dropped.
pub struct OwnRedis {
    child: std::process::Child,
    pub url: String,
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn own_redis(dir: &Path, args: &[&str]) -> Result<OwnRedis> {
    let socket = dir.join("redis.sock");
    let child = std::process::Command::new("redis-server")
        .args(["--port", "0", "--unixsocket"])
        .arg(&socket)
        .arg("--dir")
        .arg(dir)
        .args(["--save", ""])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .context("redis-server (scripts/test.sh installs it)")?;
    let redis = OwnRedis {
        child,
        url: format!("redis+unix://{}", socket.display()),
    };
    for _ in 0..100 {
        let up = redis::Client::open(redis.url.as_str())
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        if up.is_ok() {
            return Ok(redis);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("redis-server on {} did not start", socket.display())
}

/// A Redis database of its own for a test, emptied (the machine's Redis on 6379, or
/// `CONVENE_TEST_REDIS`). Each test file uses its own database numbers (taken: 4 video, 5 and 7
/// ballot_box_check, 1 public_cluster, 2 attendance, 6 and 10 failover, 8 stored_state, 9 and 13 ballot_order (9 also the web
/// failover test, which runs after; 13 also migration), 11, 12, 14 and 15 cluster). All are taken:
/// a new test starts a Redis of its own (`own_redis`).
pub fn fresh_redis(db: u8) -> Result<String> {
    let base =
        std::env::var("CONVENE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let url = format!("{base}/{db}");
    let out = std::process::Command::new("redis-cli")
        .args(["-u", &url, "FLUSHDB"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "redis-cli FLUSHDB on {url} failed: is Redis running? (scripts/test.sh starts it)"
    );
    Ok(url)
}

/// `n` cluster nodes on one Redis, each with its own data directory under `dir`.
pub async fn nodes(dir: &Path, redis: &str, n: usize) -> Result<Vec<Server>> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(Server::start_with(&dir.join(format!("node{i}")), &["--redis", redis]).await?);
    }
    Ok(out)
}

/// A poll open to everyone, with no quorum, no duration and no room.
pub fn poll_spec(
    question: &str,
    kind: proto::PollKind,
    secret: bool,
    live_results: bool,
) -> proto::PollSpec {
    proto::PollSpec {
        question: question.into(),
        kind,
        secret,
        live_results,
        voters: vec![],
        quorum: None,
        duration_ms: None,
        room: None,
    }
}

/// The invitation of `name` among `invites`.
pub fn invite_of<'a>(invites: &'a [Invite], name: &str) -> &'a Invite {
    invites
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("{name} was not invited"))
}

/// The invitation token of `name` among `invites`.
pub fn token_of(invites: &[Invite], name: &str) -> String {
    invite_of(invites, name).token.clone()
}

/// The chat lines a snapshot carries of a room whose chat is `lines` (seq order), as
/// PROTOCOL.md says: the latest `SNAPSHOT_CHAT_LINES` whose texts fit in
/// `SNAPSHOT_CHAT_BYTES`, and always the last one.
pub fn snapshot_chat_tail(lines: &[(u64, String)]) -> Vec<(u64, String)> {
    let mut bytes = 0;
    let mut tail = Vec::new();
    for line in lines.iter().rev().take(proto::SNAPSHOT_CHAT_LINES) {
        bytes += line.1.len();
        if bytes > proto::SNAPSHOT_CHAT_BYTES && !tail.is_empty() {
            break;
        }
        tail.push(line.clone());
    }
    tail.reverse();
    tail
}

pub fn person(name: &str, roles: &[proto::Role], attrs: &[(&str, &str)]) -> RosterEntry {
    RosterEntry {
        name: name.to_string(),
        roles: roles.to_vec(),
        attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

enum Incoming {
    Msg(Box<ServerMessage>),
    Unparsed(String),
    Closed(Option<(u16, String)>),
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// A participant's WebSocket connection, recording everything it receives.
pub struct Client {
    pub name: String,
    sink: Sink,
    rx: mpsc::UnboundedReceiver<Incoming>,
    /// Messages read but not yet consumed by `wait_for`.
    pub inbox: VecDeque<ServerMessage>,
    /// Every event received on this connection, in order.
    pub events: Vec<Record>,
    /// The last snapshot received (welcome or snapshot).
    pub snapshot: Option<Snapshot>,
    pub you: Option<proto::Person>,
    pub closed: Option<Option<(u16, String)>>,
    next_id: u64,
    /// Protocol version 2: the last welcome, whole.
    last_welcome: Option<ServerMessage>,
}

pub const WAIT: Duration = Duration::from_secs(10);

impl Client {
    /// Open a WebSocket without saying hello.
    pub async fn open(ws_url: &str, name: &str) -> Result<Client> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .context("websocket connect")?;
        let (sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(m) = stream.next().await {
                match m {
                    Ok(Message::Text(t)) => {
                        let msg = match serde_json::from_str::<ServerMessage>(&t) {
                            Ok(m) => Incoming::Msg(Box::new(m)),
                            Err(_) => Incoming::Unparsed(t.to_string()),
                        };
                        if tx.send(msg).is_err() {
                            return;
                        }
                    }
                    Ok(Message::Close(frame)) => {
                        let _ = tx.send(Incoming::Closed(
                            frame.map(|f| (u16::from(f.code), f.reason.to_string())),
                        ));
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = tx.send(Incoming::Closed(None));
                        return;
                    }
                }
            }
            let _ = tx.send(Incoming::Closed(None));
        });
        Ok(Client {
            name: name.to_string(),
            sink,
            rx,
            inbox: VecDeque::new(),
            events: Vec::new(),
            snapshot: None,
            you: None,
            closed: None,
            next_id: 0,
            last_welcome: None,
        })
    }

    /// Protocol version 2: the welcome just read (it stays in the inbox otherwise).
    pub fn take_welcome(&mut self) -> Option<ServerMessage> {
        let ServerMessage::Welcome { .. } = self.last_welcome.as_ref()? else {
            return None;
        };
        self.last_welcome.take()
    }

    /// The next message, read or still to come, in order.
    pub async fn next_message(&mut self, within: Duration) -> Result<ServerMessage> {
        if let Some(m) = self.inbox.pop_front() {
            return Ok(m);
        }
        self.read_one(within).await
    }

    /// Open, say hello with `token`, and wait for the welcome.
    pub async fn join(ws_url: &str, name: &str, token: &str) -> Result<Client> {
        Client::join_with(ws_url, name, token, proto::PROTOCOL_VERSION, None).await
    }

    /// Protocol version 2 (PROTOCOL.md section 25): join speaking `protocol`, reconnecting
    /// from `last_seq` if given.
    pub async fn join_with(
        ws_url: &str,
        name: &str,
        token: &str,
        protocol: u32,
        last_seq: Option<u64>,
    ) -> Result<Client> {
        let mut c = Client::open(ws_url, name).await?;
        c.send(&ClientMessage::Hello {
            protocol,
            token: token.to_string(),
            last_seq,
        })
        .await?;
        c.wait_for(|m| matches!(m, ServerMessage::Welcome { .. }))
            .await
            .with_context(|| format!("{name}: no welcome"))?;
        Ok(c)
    }

    pub async fn send(&mut self, msg: &ClientMessage) -> Result<()> {
        self.send_raw(&serde_json::to_string(msg)?).await
    }

    pub async fn send_raw(&mut self, text: &str) -> Result<()> {
        self.sink
            .send(Message::text(text.to_string()))
            .await
            .context("send")
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.sink.send(Message::binary(bytes)).await.context("send")
    }

    pub async fn close(mut self) {
        let _ = self
            .sink
            .send(Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                },
            )))
            .await;
    }

    /// Take note of a message: events are recorded, snapshots replace the view.
    fn record(&mut self, m: &ServerMessage) {
        match m {
            ServerMessage::Event { record } => self.events.push(record.clone()),
            ServerMessage::Welcome { snapshot, you, .. } => {
                self.snapshot = Some(snapshot.clone());
                self.you = Some(you.clone());
                self.last_welcome = Some(m.clone());
            }
            ServerMessage::Snapshot { snapshot, .. } => self.snapshot = Some(snapshot.clone()),
            _ => {}
        }
    }

    async fn read_one(&mut self, timeout: Duration) -> Result<ServerMessage> {
        if let Some(c) = &self.closed {
            bail!("{}: connection closed {:?}", self.name, c);
        }
        match tokio::time::timeout(timeout, self.rx.recv()).await {
            Err(_) => bail!("{}: nothing received within {:?}", self.name, timeout),
            Ok(None) => {
                self.closed = Some(None);
                bail!("{}: connection gone", self.name)
            }
            Ok(Some(Incoming::Closed(c))) => {
                self.closed = Some(c.clone());
                bail!("{}: connection closed {:?}", self.name, c)
            }
            Ok(Some(Incoming::Unparsed(t))) => {
                bail!("{}: unparsable server message {t}", self.name)
            }
            Ok(Some(Incoming::Msg(m))) => {
                self.record(&m);
                Ok(*m)
            }
        }
    }

    /// The first message (already read or still to come) that matches; others stay queued.
    pub async fn wait_for(&mut self, f: impl Fn(&ServerMessage) -> bool) -> Result<ServerMessage> {
        self.wait_for_within(WAIT, f).await
    }

    pub async fn wait_for_within(
        &mut self,
        within: Duration,
        f: impl Fn(&ServerMessage) -> bool,
    ) -> Result<ServerMessage> {
        if let Some(i) = self.inbox.iter().position(&f) {
            return Ok(self.inbox.remove(i).expect("position is valid"));
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.read_one(left).await?;
            if f(&m) {
                return Ok(m);
            }
            self.inbox.push_back(m);
        }
    }

    /// The first event of this type (by its `type` tag) still to be consumed.
    pub async fn wait_event(&mut self, ty: &str) -> Result<Record> {
        let ty = ty.to_string();
        match self.wait_for(move |m| matches!(m, ServerMessage::Event { record } if event_type(&record.event) == ty)).await? {
            ServerMessage::Event { record } => Ok(record),
            _ => unreachable!(),
        }
    }

    /// The event with this seq (it must be visible to this participant).
    pub async fn wait_seq(&mut self, seq: u64) -> Result<Record> {
        match self
            .wait_for(move |m| matches!(m, ServerMessage::Event { record } if record.seq == seq))
            .await?
        {
            ServerMessage::Event { record } => Ok(record),
            _ => unreachable!(),
        }
    }

    /// Send a command with a chosen id (to retry one) and wait for its one reply.
    pub async fn request_with_id(
        &mut self,
        id: &str,
        command: Command,
    ) -> Result<std::result::Result<u64, (ErrorCode, String)>> {
        self.send(&ClientMessage::Request {
            id: id.to_string(),
            command,
        })
        .await?;
        let id = id.to_string();
        let reply = self
            .wait_for(|m| match m {
                ServerMessage::Ok { id: i, .. } | ServerMessage::Error { id: Some(i), .. } => {
                    *i == id
                }
                _ => false,
            })
            .await
            .with_context(|| format!("{}: no reply to {id}", self.name))?;
        Ok(match reply {
            ServerMessage::Ok { seq, .. } => Ok(seq),
            ServerMessage::Error { code, message, .. } => Err((code, message)),
            _ => unreachable!(),
        })
    }

    /// Send a command and wait for its one reply: Ok(seq) or Err((code, message)).
    pub async fn request(
        &mut self,
        command: Command,
    ) -> Result<std::result::Result<u64, (ErrorCode, String)>> {
        self.next_id += 1;
        // Unique per participant for the convention's life (PROTOCOL.md): a repeated id is
        // taken for a retry.
        let id = format!("{}-{}-{}", self.name, unique(), self.next_id);
        self.request_with_id(&id, command).await
    }

    /// A command that must succeed.
    pub async fn ok(&mut self, command: Command) -> Result<u64> {
        let c = format!("{command:?}");
        self.request(command)
            .await?
            .map_err(|(code, m)| anyhow!("{}: {c} refused: {code:?} {m}", self.name))
    }

    /// Draft a poll and open it: the poll's id and the opening's seq.
    pub async fn draft_and_open(&mut self, spec: proto::PollSpec) -> Result<(String, u64)> {
        let seq = self.ok(Command::DraftPoll { spec }).await?;
        let proto::Event::PollDrafted { poll, .. } = self.wait_seq(seq).await?.event else {
            bail!("{}: event {seq} is not poll_drafted", self.name)
        };
        let opened = self.ok(Command::OpenPoll { poll: poll.clone() }).await?;
        Ok((poll, opened))
    }

    /// Wait for the close frame; returns its code.
    pub async fn wait_closed(&mut self, within: Duration) -> Result<Option<u16>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(c) = &self.closed {
                return Ok(c.as_ref().map(|(code, _)| *code));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.read_one(left).await {
                Ok(m) => self.inbox.push_back(m),
                Err(e) if self.closed.is_none() => return Err(e),
                Err(_) => {}
            }
        }
    }

    /// Read whatever arrives within `d` (into the inbox).
    pub async fn drain(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.read_one(left).await {
                Ok(m) => self.inbox.push_back(m),
                Err(_) => return,
            }
        }
    }

    /// The id of this participant.
    pub fn id(&self) -> String {
        self.you.as_ref().map(|p| p.id.clone()).unwrap_or_default()
    }

    /// This participant's room in the latest snapshot, updated by the moves seen since.
    pub fn room(&self) -> String {
        let snap = self.snapshot.as_ref().expect("joined");
        let me = self.id();
        let mut room = snap
            .participants
            .iter()
            .find(|p| p.person.id == me)
            .map(|p| p.room.clone())
            .unwrap_or_default();
        for r in self.events.iter().filter(|r| r.seq > snap.seq) {
            if let proto::Event::ParticipantMoved {
                participant,
                room: to,
            } = &r.event
            {
                if *participant == me {
                    room = to.clone();
                }
            }
        }
        room
    }
}

/// A number never handed out twice by this test process, nor (with the time) by another run.
pub fn unique() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{t:x}{n}")
}

/// The `type` tag of an event, as on the wire.
pub fn event_type(e: &proto::Event) -> String {
    serde_json::to_value(e)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Start Redis-free, server-only tests in a fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("convene-test-")
        .tempdir()
        .expect("temp dir")
}

impl Client {
    /// Send several text frames in one write (fed, then flushed once): the server reads them
    /// back to back, with no time passing in between.
    pub async fn send_raw_batch(&mut self, texts: &[String]) -> Result<()> {
        for t in texts {
            self.sink
                .feed(Message::text(t.clone()))
                .await
                .context("feed")?;
        }
        self.sink.flush().await.context("flush")
    }
}

pub mod ydoc;
// Public audience (§24).
pub mod public;
// Protocol version 2 (PROTOCOL.md section 25): a v2 client model.
pub mod v2;

/// `convene-loadtest`: `CONVENE_LOADTEST_BIN`, or next to the `convene` binary (the test
/// script builds every binary of the workspace first).
pub fn loadtest_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CONVENE_LOADTEST_BIN") {
        return PathBuf::from(p);
    }
    let p = convene_bin().with_file_name("convene-loadtest");
    assert!(
        p.exists(),
        "no {}: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        p.display()
    );
    p
}

/// A number of a load-tester report, by JSON pointer (panics with the pointer when missing:
/// the report's shape is part of what the smoke tests check).
pub fn report_num(report: &serde_json::Value, pointer: &str) -> u64 {
    report
        .pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in the report"))
}

/// Run a load-tester scenario against `server` with `--json` and `--plot` (and
/// `--server-pid` when `with_pid`): its report, and the process's exit code.
pub async fn run_loadtest(
    server: &Server,
    dir: &Path,
    args: &[&str],
    with_pid: bool,
) -> Result<(serde_json::Value, i32)> {
    let pid = match with_pid {
        true => Some(
            server
                .pid()
                .ok_or_else(|| anyhow!("the server has exited"))?,
        ),
        false => None,
    };
    run_loadtest_on(&[server.url("")], pid, dir, args).await
}

/// The same against several nodes (`--url A,B,C`; `server_pid` is one node's, if any).
pub async fn run_loadtest_on(
    urls: &[String],
    server_pid: Option<u32>,
    dir: &Path,
    args: &[&str],
) -> Result<(serde_json::Value, i32)> {
    let json = dir.join(format!("{}.json", args[0]));
    let plot = dir.join(format!("{}.svg", args[0]));
    let mut cmd = Process::new(loadtest_bin());
    cmd.arg("--url")
        .arg(urls.join(","))
        .arg("--organizer-token")
        .arg(ORGANIZER_TOKEN);
    cmd.args(["--timeout", "60", "--quiet"]);
    if let Some(pid) = server_pid {
        cmd.arg("--server-pid").arg(pid.to_string());
    }
    cmd.arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .args(args)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .context("convene-loadtest did not stop by itself")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).with_context(|| format!("no report: {stderr}"))?,
    )?;
    let svg = std::fs::read_to_string(&plot).context("no plot")?;
    anyhow::ensure!(svg.starts_with("<svg"), "the plot is not an SVG");
    Ok((report, out.status.code().unwrap_or(-1)))
}
