//! Hardening (issue #14): what a hostile participant, a full disk or a damaged file does to the
//! real `convene` process. Each test attacks with (at least) ten times the documented budget,
//! then shows that the server, and everyone else, is unharmed: other participants still chat,
//! health answers, nothing acknowledged is lost.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use convene_tests::proto::{self, close, ClientMessage, Command, ErrorCode, Role};
use convene_tests::red::goes_on;
use convene_tests::{person, tempdir, Client, Server, ORGANIZER_TOKEN};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const FAC: &str = "Claire Animatrice";

fn citizen(i: usize) -> String {
    format!("Citoyen {i:02}")
}

/// A convention with a facilitator and `n` citizens; returns the invitations.
async fn convention(server: &Server, id: &str, n: usize) -> Result<Vec<proto::api::Invite>> {
    let mut roster = vec![person(FAC, &[Role::Facilitator], &[])];
    for i in 0..n {
        roster.push(person(
            &citizen(i),
            &[Role::Citizen],
            &[("commune", "Rezé")],
        ));
    }
    server.http().convention(id, &roster).await
}

/// A convention with `n` citizens, its facilitator and first citizen joined, and the
/// document "avis" created: the invitations and the two clients.
async fn with_document(
    server: &Server,
    id: &str,
    n: usize,
) -> Result<(Vec<proto::api::Invite>, Client, Client)> {
    let invites = convention(server, id, n).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    Ok((invites, fac, c0))
}

fn token(invites: &[proto::api::Invite], name: &str) -> String {
    convene_tests::token_of(invites, name)
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))
}

/// A hand-made WebSocket client speaking raw frames: to send what a library would refuse to.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn upgrade(addr: &str, path: &str) -> Result<Raw> {
        let mut tcp = TcpStream::connect(addr).await?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut chunk)).await??;
            ensure!(n > 0, "closed during the upgrade");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        ensure!(head.starts_with("HTTP/1.1 101"), "not upgraded: {head}");
        buf.drain(..end);
        Ok(Raw { tcp, buf })
    }

    /// One frame: FIN set, `opcode`, masked as a client must (or not, to break the rules).
    async fn frame(&mut self, opcode: u8, payload: &[u8], masked: bool) -> Result<()> {
        self.tcp
            .write_all(&client_frame(opcode, payload, masked))
            .await?;
        Ok(())
    }

    async fn text(&mut self, text: &str) -> Result<()> {
        self.frame(0x1, text.as_bytes(), true).await
    }

    /// The next frame from the server: (opcode, payload); `None` when the TCP stream ends.
    async fn next(&mut self, within: Duration) -> Result<Option<(u8, Vec<u8>)>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some((op, payload, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                return Ok(Some((op, payload)));
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let n = tokio::time::timeout_at(deadline, self.tcp.read(&mut chunk))
                .await
                .context("no frame in time")??;
            if n == 0 {
                return Ok(None);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Read until the server's Close frame: its code, or `None` if the stream ended without.
    async fn close_code(&mut self, within: Duration) -> Result<Option<u16>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await? {
                None => return Ok(None),
                Some((0x8, payload)) if payload.len() >= 2 => {
                    return Ok(Some(u16::from_be_bytes([payload[0], payload[1]])))
                }
                Some((0x8, _)) => return Ok(Some(1005)),
                Some(_) => continue,
            }
        }
    }
}

/// A client frame's bytes: FIN set, `opcode`, masked as a client must (or not).
fn client_frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(mask_bit | n as u8),
        n if n < 65536 => {
            f.push(mask_bit | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(mask_bit | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x12u8, 0x34, 0x56, 0x78];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// A server frame (never masked): opcode, payload, bytes used.
fn parse_frame(b: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if b.len() < 2 {
        return None;
    }
    let op = b[0] & 0x0f;
    let (len, at) = match b[1] & 0x7f {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => (
            u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = b.get(at..at + len)?.to_vec();
    Some((op, payload, at + len))
}

fn hello(token: &str) -> String {
    serde_json::to_string(&ClientMessage::Hello {
        protocol: proto::PROTOCOL_VERSION,
        token: token.to_string(),
        last_seq: None,
    })
    .expect("hello serializes")
}

/// A raw connection past its hello (the welcome read).
async fn raw_joined(server: &Server, token: &str) -> Result<Raw> {
    let mut raw = Raw::upgrade(&server.addr, "/ws").await?;
    raw.text(&hello(token)).await?;
    let (op, _) = raw
        .next(Duration::from_secs(10))
        .await?
        .ok_or_else(|| anyhow!("closed before the welcome"))?;
    ensure!(
        op == 0x1 || op == 0x0,
        "the welcome is not text: opcode {op}"
    );
    Ok(raw)
}

// ---------------------------------------------------------------------------------------
// RFC 6455: the close handshake, protocol errors, invalid UTF-8.

/// After the client's Close: the code of the server's answering Close, within 5 s; an error if
/// the connection ends without one (what a browser reports as 1006).
async fn close_answer<S>(ws: &mut S, endpoint: &str) -> Result<Option<u16>>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(f)) => return Ok(f.map(|f| u16::from(f.code))),
                Ok(_) => continue,
                Err(e) => return Err(anyhow!("{endpoint} ended without a close frame: {e}")),
            }
        }
        Err(anyhow!("{endpoint} ended without a close frame"))
    })
    .await
    .with_context(|| format!("no close answer on {endpoint}"))?
}

#[tokio::test]
async fn a_clients_close_is_answered_and_bad_frames_get_their_rfc_codes() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (invites, mut fac, mut c0) = with_document(&server, "rfc", 4).await?;

    // A client's Close on /ws is answered with a Close carrying its code (not an abrupt end,
    // which a browser reports as 1006).
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
    ws.send(Message::text(hello(&token(&invites, &citizen(1)))))
        .await?;
    let _welcome = ws.next().await.context("no welcome")??;
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "au revoir".into(),
    })))
    .await?;
    let answer = close_answer(&mut ws, "/ws").await?;
    ensure!(
        answer == Some(1000),
        "/ws answered the close with {answer:?}"
    );

    // The same on the document endpoint.
    let url = format!(
        "ws://{}/doc/rfc/avis?token={}",
        server.addr,
        token(&invites, &citizen(2))
    );
    let (mut doc, _) = tokio_tungstenite::connect_async(url).await?;
    doc.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    })))
    .await?;
    let answer = close_answer(&mut doc, "/doc").await?;
    ensure!(
        answer == Some(1000),
        "/doc answered the close with {answer:?}"
    );

    // An unmasked client frame breaks RFC 6455: 1002, on both endpoints.
    let mut raw = raw_joined(&server, &token(&invites, &citizen(3))).await?;
    raw.frame(0x1, b"{\"type\":\"request\"}", false).await?;
    let code = raw.close_code(Duration::from_secs(5)).await?;
    ensure!(
        code == Some(close::PROTOCOL_ERROR),
        "an unmasked frame on /ws closed with {code:?}, not 1002"
    );
    let mut raw = Raw::upgrade(
        &server.addr,
        &format!("/doc/rfc/avis?token={}", token(&invites, &citizen(3))),
    )
    .await?;
    raw.frame(0x2, &[0, 0, 0], false).await?;
    let code = raw.close_code(Duration::from_secs(5)).await?;
    ensure!(
        code == Some(close::PROTOCOL_ERROR),
        "an unmasked frame on /doc closed with {code:?}, not 1002"
    );

    // A text frame that is not UTF-8: 1007.
    let mut raw = raw_joined(&server, &token(&invites, &citizen(3))).await?;
    raw.frame(0x1, &[0x7b, 0xff, 0xfe, 0x7d], true).await?;
    let code = raw.close_code(Duration::from_secs(5)).await?;
    ensure!(
        code == Some(close::INVALID_PAYLOAD),
        "invalid UTF-8 on /ws closed with {code:?}, not 1007"
    );

    // Everyone else goes on.
    goes_on(&mut fac, &mut c0, "la séance continue").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A silent WebSocket (a phone that lost its network: half-open TCP) does not live forever.

#[tokio::test]
async fn a_silent_websocket_is_closed_after_the_idle_timeout() -> Result<()> {
    let dir = tempdir();
    let server = Server::start_with(&dir.path().join("data"), &["--ws-idle-secs", "3"]).await?;
    let invites = convention(&server, "silence", 2).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    // Joined, then never reads nor writes again: no pong ever answers the server's pings.
    let silent = raw_joined(&server, &token(&invites, &citizen(1))).await?;
    ensure!(server.metric("convene_connections").await? == 3);
    let started = Instant::now();
    let closed_after = loop {
        // The reading clients answer pings (tungstenite replies to them as it reads).
        if server.metric("convene_connections").await? == 2 {
            break started.elapsed();
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the silent connection is still open after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("silent connection closed after {closed_after:?} (idle timeout 3 s)");
    drop(silent);
    // Those who answer pings stay, well past the idle timeout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    goes_on(&mut fac, &mut c0, "toujours là").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// One invitation, many connections.

#[tokio::test]
async fn one_invitation_holds_at_most_four_connections() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "jetons", 2).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    let t1 = token(&invites, &citizen(1));
    // Ten times the budget.
    let n = 10 * proto::MAX_CONNECTIONS_PER_TOKEN;
    let mut conns = Vec::new();
    for i in 0..n {
        conns.push(Client::join(&server.ws_url(), &format!("c1-{i}"), &t1).await?);
    }
    // The newest keep the invitation; each older one was closed with 4011.
    let seq = goes_on(&mut fac, &mut c0, "combien de connexions ?").await?;
    let keep = n - proto::MAX_CONNECTIONS_PER_TOKEN;
    for (i, c) in conns.iter_mut().enumerate() {
        if i < keep {
            let _ = c.wait_for_within(Duration::from_secs(3), |_| false).await;
            let code = c.closed.clone().flatten().map(|(code, _)| code);
            ensure!(
                code == Some(close::TOO_MANY_CONNECTIONS),
                "connection {i} of {n}: closed with {code:?}, expected 4011"
            );
        } else {
            c.wait_seq(seq)
                .await
                .with_context(|| format!("connection {i} of {n} should still be open"))?;
        }
    }
    ensure!(
        server.metric("convene_connections").await? == 2 + proto::MAX_CONNECTIONS_PER_TOKEN as u64
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Request ids and the retry window.

#[tokio::test]
async fn request_ids_have_a_maximum_length_and_the_retry_index_is_bounded() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "ids", 1).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    let chat = |t: &str| Command::SendChat {
        room: None,
        text: t.into(),
    };

    let longest = "x".repeat(proto::MAX_REQUEST_ID_BYTES);
    c0.request_with_id(&longest, chat("id au plus long"))
        .await?
        .map_err(|e| anyhow!("a {}-byte id was refused: {e:?}", longest.len()))?;
    // Ten times the budget: a typed error, and nothing done.
    let long = "y".repeat(10 * proto::MAX_REQUEST_ID_BYTES);
    c0.send(&ClientMessage::Request {
        id: long,
        command: chat("id trop long"),
    })
    .await?;
    let reply = c0
        .wait_for(|m| matches!(m, proto::ServerMessage::Error { .. }))
        .await?;
    let proto::ServerMessage::Error { id, code, message } = reply else {
        unreachable!()
    };
    ensure!(
        code == ErrorCode::Invalid,
        "a long id got {code:?}: {message}"
    );
    ensure!(id.is_none(), "the error echoed a too-long id");

    // A retry inside the window is answered from the log; the index keeps no more than the
    // window (an id older than it counts as a new request, as documented).
    let w = proto::RETRY_WINDOW;
    let mut seqs = Vec::new();
    for i in 0..w + 10 {
        // Paced under the rate limit (20 per second).
        if i % 18 == 17 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let id = format!("req-{i:04}");
        let seq = c0
            .request_with_id(&id, chat(&format!("ligne {i}")))
            .await?
            .map_err(|e| anyhow!("{id}: {e:?}"))?;
        seqs.push(seq);
    }
    let last = w + 9;
    let again = c0
        .request_with_id(&format!("req-{last:04}"), chat(&format!("ligne {last}")))
        .await?
        .map_err(|e| anyhow!("retry: {e:?}"))?;
    ensure!(
        again == seqs[last],
        "a retry inside the window ran again: seq {again}, first {}",
        seqs[last]
    );
    let oldest = c0
        .request_with_id("req-0000", chat("ligne 0"))
        .await?
        .map_err(|e| anyhow!("old id: {e:?}"))?;
    ensure!(
        oldest > seqs[last],
        "an id older than the window was answered from an unbounded index (seq {oldest})"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A chat flood within the limits: the welcome, the stored state and memory stay bounded.

#[tokio::test]
async fn a_chat_flood_within_limits_keeps_welcome_state_and_memory_bounded() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &["--state-every", "200"]).await?;
    let conv = "bavards";
    let senders = 8;
    // The senders are facilitators: a citizen's chat has a budget in bytes (PROTOCOL.md,
    // `send_chat`) that would refuse most of this flood; the bounds checked here are the
    // snapshot's and the stored state's, whoever chats. The last one to arrive is a citizen.
    let animateur = |s: usize| format!("Animateur {s}");
    let mut roster: Vec<_> = (0..senders)
        .map(|s| person(&animateur(s), &[Role::Facilitator], &[]))
        .collect();
    roster.push(person(&citizen(senders), &[Role::Citizen], &[]));
    let invites = server.http().convention(conv, &roster).await?;
    let pid = server.pid().context("pid")?;
    let rss_before = rss_kib(pid)?;
    let text = "é".repeat(1000) + &"a".repeat(1000); // 2000 characters, the longest chat
    let seconds = 12;
    let mut tasks = Vec::new();
    for s in 0..senders {
        let url = server.ws_url();
        let tok = token(&invites, &animateur(s));
        let text = text.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::join(&url, &format!("s{s}"), &tok).await?;
            let mut acked = 0u64;
            for sec in 0..seconds {
                let ids: Vec<String> = (0..19).map(|i| format!("s{s}-{sec}-{i}")).collect();
                let frames: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        serde_json::to_string(&ClientMessage::Request {
                            id: id.clone(),
                            command: Command::SendChat { room: None, text: text.clone() },
                        })
                        .expect("serializes")
                    })
                    .collect();
                c.send_raw_batch(&frames).await?;
                for id in &ids {
                    let id = id.clone();
                    let r = c
                        .wait_for(move |m| matches!(m, proto::ServerMessage::Ok { id: i, .. } if *i == id))
                        .await?;
                    if matches!(r, proto::ServerMessage::Ok { .. }) {
                        acked += 1;
                    }
                }
                // The other senders' chats are events this client must keep reading.
                c.inbox.clear();
                tokio::time::sleep(Duration::from_millis(1000)).await;
            }
            anyhow::Ok(acked)
        }));
    }
    let mut acked = 0;
    for t in tasks {
        acked += t.await??;
    }
    eprintln!("{acked} chats of 2000 characters acknowledged");
    ensure!(acked >= (senders * seconds * 19) as u64 * 9 / 10);

    // The welcome of someone arriving now carries the latest lines, not the whole day.
    let mut raw = Raw::upgrade(&server.addr, "/ws").await?;
    raw.text(&hello(&token(&invites, &citizen(senders))))
        .await?;
    let mut welcome = Vec::new();
    loop {
        let (op, payload) = raw
            .next(Duration::from_secs(10))
            .await?
            .context("closed before the welcome")?;
        welcome.extend_from_slice(&payload);
        let _ = op;
        if serde_json::from_slice::<serde_json::Value>(&welcome).is_ok() {
            break;
        }
    }
    let welcome_bytes = welcome.len();
    let rss_after = rss_kib(pid)?;
    let states: u64 = ["states.sqlite3", "states.sqlite3-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum();
    let state: i64 = rusqlite::Connection::open(data.join("states.sqlite3"))?.query_row(
        "SELECT length(data) FROM states WHERE convention = ?1",
        [conv],
        |r| r.get(0),
    )?;
    eprintln!(
        "welcome {welcome_bytes} bytes; latest stored state {state} bytes, state files {states} bytes; RSS {rss_before} -> {rss_after} KiB"
    );
    let line = text.len() + 200;
    ensure!(
        welcome_bytes <= proto::SNAPSHOT_CHAT_BYTES + line + 8 * 1024,
        "the welcome is {welcome_bytes} bytes: the chat history in snapshots is not bounded"
    );
    ensure!(
        state < 512 * 1024,
        "a stored state is {state} bytes: the state keeps the whole chat history"
    );
    // The files hold a few states and a write-ahead log of at most ~4 MiB (SQLite's
    // automatic checkpoint), not the history.
    ensure!(
        states < 8 * 1024 * 1024,
        "stored states take {states} bytes"
    );
    ensure!(
        rss_after.saturating_sub(rss_before) < 64 * 1024,
        "RSS grew by {} KiB",
        rss_after - rss_before
    );
    // The whole history stays in the log: every acknowledged chat is in the export.
    let out = std::process::Command::new(convene_tests::convene_bin())
        .args(["export", "--convention", conv, "--data"])
        .arg(&data)
        .output()?;
    ensure!(out.status.success(), "export failed: {:?}", out);
    let chats = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"chat_posted\""))
        .count() as u64;
    ensure!(
        chats == acked,
        "the log has {chats} chats, {acked} were acknowledged"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// HTTP connections that never end.

async fn get_within(url: &str, within: Duration) -> Result<reqwest::StatusCode> {
    let http = reqwest::Client::builder()
        .timeout(within)
        .pool_max_idle_per_host(0)
        .build()?;
    Ok(http
        .get(url)
        .bearer_auth(ORGANIZER_TOKEN)
        .send()
        .await?
        .status())
}

#[tokio::test]
async fn silent_http_connections_cannot_exhaust_the_server() -> Result<()> {
    let dir = tempdir();
    // 1024 descriptors: the attack below is ten times what this server may hold.
    let server = Server::start_wrapped(
        &dir.path().join("data"),
        &["--http-header-timeout-secs", "3"],
        &["prlimit", "--nofile=1024:1024"],
    )
    .await?;
    let invites = convention(&server, "assaut", 2).await?;
    let addr = server.addr.clone();

    // 10,240 connections that never send a byte, opened a thousand at a time.
    let mut held = Vec::new();
    let started = Instant::now();
    for _ in 0..10 {
        let batch = (0..1024).map(|_| {
            let addr = addr.clone();
            async move {
                tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        });
        held.extend(
            futures_util::future::join_all(batch)
                .await
                .into_iter()
                .flatten(),
        );
    }
    eprintln!(
        "{} of 10240 silent connections opened in {:?}",
        held.len(),
        started.elapsed()
    );
    let peak = server.metric("convene_http_connections").await?;

    // While they are held: health, metrics and the organizer API answer.
    for path in ["/healthz", "/metrics", "/api/conventions"] {
        let status = get_within(&server.url(path), Duration::from_secs(5))
            .await
            .with_context(|| format!("{path} did not answer under the attack"))?;
        ensure!(status == 200, "{path}: {status} under the attack");
    }

    // The silent ones are closed too, at the header timeout: the server's own count of open
    // connections falls back to the one asking. (Counted on the server: a client's end of
    // a connection the kernel dropped from a full accept queue never learns it is gone.)
    let silent_started = Instant::now();
    loop {
        let open = server.metric("convene_http_connections").await?;
        if open <= 1 {
            break;
        }
        ensure!(
            silent_started.elapsed() < Duration::from_secs(60),
            "{open} HTTP connections still open 60 s after the attack"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "server connections: {peak} held right after the attack (budget: 1024 descriptors); all closed within {:?} more; {} reserve connections closed for newer ones, {} served from the reserve",
        silent_started.elapsed(),
        server.metric("convene_http_refused_total").await?,
        server.metric("convene_http_reserve_total").await?,
    );
    drop(held);

    // A slowloris: a request head that trickles in, a byte at a time, is cut at the header
    // timeout however it trickles.
    let mut slow = TcpStream::connect(&addr).await?;
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
    let slow_started = Instant::now();
    let mut buf = [0u8; 4096];
    let slow_closed = loop {
        let _ = slow.write_all(b"X").await;
        if tokio::time::timeout(Duration::from_millis(300), slow.read(&mut buf))
            .await
            .is_ok()
        {
            break slow_started.elapsed();
        }
        ensure!(
            slow_started.elapsed() < Duration::from_secs(30),
            "a slowloris connection is still open after 30 s"
        );
    };
    // A keep-alive connection that asked once, then waits: closed at the same timeout.
    let mut idle = TcpStream::connect(&addr).await?;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let n = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut buf)).await??;
    ensure!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "the keep-alive connection's first request failed"
    );
    let idle_started = Instant::now();
    let idle_closed = loop {
        match tokio::time::timeout(Duration::from_secs(30), idle.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break idle_started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => anyhow::bail!("an idle keep-alive connection is still open after 30 s"),
        }
    };
    eprintln!("slowloris closed after {slow_closed:?}, idle keep-alive after {idle_closed:?} (header timeout 3 s)");

    // The server is whole: participants join and talk.
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    goes_on(&mut fac, &mut c0, "après l'assaut").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Faults that must not lose a convention.

/// A tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs> {
        std::fs::create_dir_all(at)?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()?;
        ensure!(
            out.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

/// Fill the file system of `path` until it refuses more.
fn fill(path: &Path) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let block = vec![0x5au8; 64 * 1024];
    loop {
        if f.write_all(&block).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    Ok(())
}

async fn health(server: &Server) -> Result<(u16, serde_json::Value)> {
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?
        .get(server.url("/healthz"))
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or_default()))
}

#[tokio::test]
async fn a_full_disk_degrades_the_convention_and_it_recovers_by_itself() -> Result<()> {
    if !is_root() {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return Ok(());
    }
    let dir = tempdir();
    let mnt = Tmpfs::mount(&dir.path().join("mnt"), "24m")?;
    // The data and the server's stderr both live on the small file system.
    let data = mnt.0.join("data");
    let mut server = Server::start(&data).await?;
    let invites = convention(&server, "plein", 3).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    let mut acked = Vec::new();
    acked.push((
        goes_on(&mut fac, &mut c0, "avant").await?,
        "avant".to_string(),
    ));

    fill(&mnt.0.join("filler"))?;
    // Write until the store refuses: what was refused must not be acknowledged.
    let long = "disque ".repeat(280);
    let mut refused = None;
    for i in 0..5000 {
        let text = format!("{i} {long}");
        match fac
            .request(Command::SendChat {
                room: None,
                text: text.clone(),
            })
            .await?
        {
            Ok(seq) => acked.push((seq, text)),
            Err((code, message)) => {
                ensure!(
                    code == ErrorCode::Unavailable,
                    "a write on a full disk was refused with {code:?}: {message}"
                );
                refused = Some(text);
                break;
            }
        }
    }
    let refused = refused.context("the disk never filled up")?;
    // The process is up; health says why it is degraded.
    let (status, body) = health(&server).await?;
    ensure!(
        status == 503,
        "health answers {status} while the store cannot write: {body}"
    );
    eprintln!("health while the disk is full: {body}");
    // A valid invitation is never "unknown": a new connection is welcomed, or told to come
    // back later.
    match Client::join(&server.ws_url(), "c1", &token(&invites, &citizen(1))).await {
        Ok(c) => c.close().await,
        Err(_) => {
            let mut raw = Raw::upgrade(&server.addr, "/ws").await?;
            raw.text(&hello(&token(&invites, &citizen(1)))).await?;
            let code = raw.close_code(Duration::from_secs(10)).await?;
            ensure!(
                code == Some(close::TRY_AGAIN_LATER),
                "hello with a valid invitation on a full disk: closed with {code:?}"
            );
        }
    }
    let r = server.http().get("/api/conventions/plein").send().await?;
    ensure!(
        r.status() != 404,
        "the organizer API lost the convention: {}",
        r.status()
    );

    // Space comes back: health and commands recover by themselves.
    std::fs::remove_file(mnt.0.join("filler"))?;
    let back = Instant::now();
    loop {
        let (status, _) = health(&server).await?;
        if status == 200 {
            break;
        }
        ensure!(
            back.elapsed() < Duration::from_secs(30),
            "health still degraded 30 s after space came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&invites, &citizen(0))).await?;
    acked.push((
        goes_on(&mut fac, &mut c0, "après").await?,
        "après".to_string(),
    ));

    // Nothing acknowledged is lost, and nothing refused was kept.
    server.kill9_and_restart().await?;
    let out = std::process::Command::new(convene_tests::convene_bin())
        .args(["export", "--convention", "plein", "--data"])
        .arg(&data)
        .output()?;
    ensure!(out.status.success(), "export: {out:?}");
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    for (seq, text) in &acked {
        ensure!(
            log.contains(&format!("\"seq\":{seq},")) && log.contains(text.as_str()),
            "acknowledged chat seq {seq} is not in the log"
        );
    }
    ensure!(
        !log.contains(refused.as_str()),
        "a chat refused as unavailable was stored"
    );
    Ok(())
}

#[tokio::test]
async fn a_damaged_log_record_names_its_convention_and_the_others_run() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    let a = convention(&server, "abimee", 1).await?;
    let b = convention(&server, "intacte", 1).await?;
    for (inv, label) in [(&a, "a"), (&b, "b")] {
        let mut fac = Client::join(&server.ws_url(), FAC, &token(inv, FAC)).await?;
        let mut c0 = Client::join(&server.ws_url(), "c0", &token(inv, &citizen(0))).await?;
        goes_on(&mut fac, &mut c0, &format!("bonjour {label}")).await?;
    }
    // A crash (no state stored at the stop): taking the convention up folds its whole log.
    server.kill9().await?;
    {
        let db = rusqlite::Connection::open(data.join("convene.sqlite3"))?;
        let n = db.execute(
            "UPDATE events SET body = '{\"seq\": 3, ceci n''est pas du JSON' WHERE convention = 'abimee' AND seq = 3",
            [],
        )?;
        ensure!(n == 1, "no record 3 to damage");
    }
    server.restart().await?;

    // The intact convention runs.
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&b, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&b, &citizen(0))).await?;
    goes_on(&mut fac, &mut c0, "toujours là").await?;

    // The damaged one says so: a documented close code, never "unknown invitation".
    let mut raw = Raw::upgrade(&server.addr, "/ws").await?;
    raw.text(&hello(&token(&a, &citizen(0)))).await?;
    let mut error = None;
    let code = loop {
        match raw.next(Duration::from_secs(10)).await? {
            None => break None,
            Some((0x8, p)) if p.len() >= 2 => break Some(u16::from_be_bytes([p[0], p[1]])),
            Some((0x1, p)) => error = Some(String::from_utf8_lossy(&p).to_string()),
            Some(_) => {}
        }
    };
    ensure!(
        code == Some(close::DAMAGED),
        "hello to a damaged convention closed with {code:?} ({error:?})"
    );
    ensure!(
        error.as_deref().is_some_and(|e| e.contains("unavailable")),
        "no typed error before the close: {error:?}"
    );
    // Health names it; the organizer API says what is wrong.
    let (status, body) = health(&server).await?;
    let text = body.to_string();
    ensure!(
        text.contains("abimee") && text.contains("seq 3"),
        "health ({status}) does not name the damaged convention: {text}"
    );
    let r = server.http().get("/api/conventions/abimee").send().await?;
    ensure!(r.status() == 503, "organizer API: {}", r.status());
    let body = r.text().await?;
    ensure!(body.contains("seq 3"), "organizer API: {body}");
    Ok(())
}

#[tokio::test]
async fn a_garbage_state_file_is_set_aside_and_rebuilt() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, &["--state-every", "2"]).await?;
    let inv = convention(&server, "etats", 1).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&inv, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&inv, &citizen(0))).await?;
    let mut said = Vec::new();
    for i in 0..5 {
        let text = format!("ligne {i}");
        goes_on(&mut fac, &mut c0, &text).await?;
        said.push(text);
    }
    server.terminate().await?;
    for f in ["states.sqlite3-wal", "states.sqlite3-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::write(
        data.join("states.sqlite3"),
        b"ceci n'est pas une base SQLite, juste des octets".repeat(200),
    )?;
    server.restart().await?;
    let c0 = Client::join(&server.ws_url(), "c0", &token(&inv, &citizen(0))).await?;
    let chat: Vec<String> = c0.snapshot.as_ref().context("welcome")?.rooms[0]
        .inside
        .as_ref()
        .context("inside")?
        .chat
        .iter()
        .map(|l| l.text.clone())
        .collect();
    for t in &said {
        ensure!(
            chat.contains(t),
            "{t:?} missing after the restart: {chat:?}"
        );
    }
    let set_aside: Vec<String> = std::fs::read_dir(&data)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("states.sqlite3.damaged-"))
        .collect();
    ensure!(
        set_aside.len() == 1,
        "the garbage file was not set aside: {set_aside:?}"
    );
    let db = rusqlite::Connection::open(data.join("states.sqlite3"))?;
    let _: i64 = db
        .query_row("SELECT COUNT(*) FROM states", [], |r| r.get(0))
        .context("states.sqlite3 was not rebuilt")?;
    Ok(())
}

/// Debug builds of the server panic on this chat text inside the convention's task: the only
/// way to show, from outside, that a task that fails is restarted (release builds do not
/// carry the trigger).
const PANIC_TRIGGER: &str = "convene:test:panic-in-convention-task";

#[tokio::test]
async fn a_convention_task_that_fails_is_restarted_and_loses_nothing() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let a = convention(&server, "fragile", 2).await?;
    let b = convention(&server, "voisine", 1).await?;
    let mut fac_b = Client::join(&server.ws_url(), FAC, &token(&b, FAC)).await?;
    let mut c0_b = Client::join(&server.ws_url(), "c0b", &token(&b, &citizen(0))).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&a, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&a, &citizen(0))).await?;
    let before = goes_on(&mut fac, &mut c0, "avant la panne").await?;

    c0.send(&ClientMessage::Request {
        id: "boom".into(),
        command: Command::SendChat {
            room: None,
            text: PANIC_TRIGGER.into(),
        },
    })
    .await?;
    // Its connections are told to come back (1013), not left hanging or sent away.
    let _ = c0.wait_for(|_| false).await;
    let code = c0.closed.clone().flatten().map(|(c, _)| c);
    ensure!(
        code == Some(close::TRY_AGAIN_LATER),
        "after the task failed, its connection closed with {code:?}"
    );
    // The neighbour never noticed.
    goes_on(&mut fac_b, &mut c0_b, "rien vu").await?;
    // The convention is back, with everything acknowledged.
    let mut c0 = Client::join(&server.ws_url(), "c0", &token(&a, &citizen(0))).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&a, FAC)).await?;
    let chat = c0.snapshot.as_ref().context("welcome")?.rooms[0]
        .inside
        .as_ref()
        .context("inside")?
        .chat
        .clone();
    ensure!(
        chat.iter().any(|l| l.seq == before),
        "the chat acknowledged before the failure is gone"
    );
    goes_on(&mut fac, &mut c0, "après la panne").await?;
    ensure!(server.metric("convene_task_restarts_total").await? == 1);
    Ok(())
}

#[tokio::test]
async fn one_invitation_holds_at_most_four_connections_to_a_document() -> Result<()> {
    use convene_tests::ydoc::{doc_url, YClient};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "doc-jetons", 2).await?;
    let mut fac = Client::join(&server.ws_url(), FAC, &token(&invites, FAC)).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let writer = YClient::synced(
        "fac",
        &doc_url(&server.addr, "doc-jetons", "avis", &token(&invites, FAC)),
    )
    .await?;
    let url = doc_url(
        &server.addr,
        "doc-jetons",
        "avis",
        &token(&invites, &citizen(0)),
    );
    // Ten times the budget, one after the other.
    let n = 10 * proto::MAX_CONNECTIONS_PER_TOKEN;
    let mut readers = Vec::new();
    for i in 0..n {
        readers.push(YClient::synced(&format!("r{i}"), &url).await?);
    }
    writer.push_paragraph("Proposition : des bus de nuit");
    let keep = n - proto::MAX_CONNECTIONS_PER_TOKEN;
    for (i, r) in readers.iter().enumerate() {
        if i < keep {
            let code = r.wait_closed().await?;
            ensure!(
                code == Some(convene::docs::close::TOO_MANY_CONNECTIONS),
                "document connection {i} of {n}: closed with {code:?}"
            );
        } else {
            r.wait_paragraph("Proposition : des bus de nuit")
                .await
                .with_context(|| format!("document connection {i} of {n} should still be open"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// After a close, the server reads on until the peer answers (ARCHITECTURE.md, limits: "Reading
// on after a close"), within a time and a byte budget: a peer that never answers is cut at the
// first it exceeds, on both endpoints, and the others go on.

/// The time budget: how long the server reads on after its close (`gateway/ws.rs`,
/// `CLOSE_TIMEOUT`).
const READ_ON: Duration = Duration::from_secs(5);
/// The largest byte budget (`docs/ws.rs`, `READ_ON`: four 2 MiB frames; `/ws` reads 7.5 MiB).
const READ_ON_BYTES: u64 = 8 * 1024 * 1024;

/// After the server's close: frames (within both endpoints' frame limits, so that only the
/// read-on budgets can end it), never the answering Close. A trickle (a 100-byte frame every
/// 100 ms, far below the byte budget) for ten times the time budget; or a flood of 8 KiB
/// frames for ten times the byte budget plus what the loopback's socket buffers can hold
/// (128 MiB). Stops when the server drops the socket: after how long, and the bytes sent.
async fn after_close(raw: Raw, opcode: u8, trickle: bool) -> Result<(Option<Duration>, u64)> {
    let Raw { tcp, .. } = raw;
    let (mut rd, mut wr) = tcp.into_split();
    let payload = vec![b'a'; if trickle { 100 } else { 8 * 1024 }];
    let frame = client_frame(opcode, &payload, true);
    let started = Instant::now();
    let end = started + 10 * READ_ON;
    let most = if trickle {
        u64::MAX
    } else {
        10 * READ_ON_BYTES + (48 << 20)
    };
    let mut sent = 0u64;
    // The server's end shows as a write error (reset) or as the end of the stream.
    let mut eof = [0u8; 4096];
    let reading = async {
        loop {
            match rd.read(&mut eof).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::pin!(reading);
    while sent < most {
        tokio::select! {
            _ = &mut reading => return Ok((Some(started.elapsed()), sent)),
            written = wr.write_all(&frame) => match written {
                Ok(()) => sent += frame.len() as u64,
                Err(_) => return Ok((Some(started.elapsed()), sent)),
            },
            // A server that stops reading without dropping the socket stalls the write here.
            _ = tokio::time::sleep_until(end.into()) => return Ok((None, sent)),
        }
        if trickle {
            tokio::select! {
                _ = &mut reading => return Ok((Some(started.elapsed()), sent)),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }
    Ok((None, sent))
}

#[tokio::test]
async fn a_peer_that_never_answers_the_servers_close_is_cut_at_the_read_on_budgets() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (invites, mut fac, mut c0) = with_document(&server, "deluge", 6).await?;
    let pid = server.pid().context("pid")?;
    let rss_before = rss_kib(pid)?;

    // /ws: a binary frame gets 4010; /doc: a text frame gets its "malformed" close.
    let closed_ws = |i: usize| {
        let t = token(&invites, &citizen(i));
        let server = &server;
        async move {
            let mut ws = raw_joined(server, &t).await?;
            ws.frame(0x2, b"\x00\x01", true).await?;
            let code = ws.close_code(Duration::from_secs(5)).await?;
            ensure!(code == Some(close::BINARY), "/ws closed with {code:?}");
            Ok::<_, anyhow::Error>(ws)
        }
    };
    let closed_doc = |i: usize| {
        let t = token(&invites, &citizen(i));
        let server = &server;
        async move {
            let mut doc =
                Raw::upgrade(&server.addr, &format!("/doc/deluge/avis?token={t}")).await?;
            doc.frame(0x1, b"bonjour", true).await?;
            let code = doc.close_code(Duration::from_secs(5)).await?;
            ensure!(
                code == Some(convene::docs::close::MALFORMED),
                "/doc closed with {code:?}"
            );
            Ok::<_, anyhow::Error>(doc)
        }
    };
    let (ws_trickle, ws_flood) = (closed_ws(1).await?, closed_ws(2).await?);
    let (doc_trickle, doc_flood) = (closed_doc(3).await?, closed_doc(4).await?);

    // All four at once, while the others chat.
    let attacks = tokio::spawn(async move {
        let (a, b, c, d) = tokio::join!(
            after_close(ws_trickle, 0x1, true),
            after_close(ws_flood, 0x1, false),
            after_close(doc_trickle, 0x2, true),
            after_close(doc_flood, 0x2, false),
        );
        Ok::<_, anyhow::Error>([a?, b?, c?, d?])
    });
    let mut chats = 0;
    while !attacks.is_finished() {
        goes_on(
            &mut fac,
            &mut c0,
            &format!("message {chats} pendant le déluge"),
        )
        .await?;
        chats += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let results = attacks.await??;
    let names = ["/ws trickle", "/ws flood", "/doc trickle", "/doc flood"];
    for (name, (cut, sent)) in names.iter().zip(&results) {
        eprintln!("{name}: cut after {cut:?}, {sent} bytes sent after the server's close");
    }
    eprintln!("{chats} chats went through meanwhile (budgets {READ_ON:?}, {READ_ON_BYTES} bytes)");
    for (name, (cut, sent)) in names.iter().zip(&results) {
        ensure!(
            cut.is_some(),
            "{name}: still open after {sent} bytes, ten times the read-on budgets"
        );
    }
    // The trickles were cut by time, with far less than the byte budget sent.
    for i in [0, 2] {
        ensure!(
            results[i].1 < 64 * 1024,
            "{}: {} bytes sent",
            names[i],
            results[i].1
        );
    }
    ensure!(chats > 0, "no chat went through during the attacks");
    goes_on(&mut fac, &mut c0, "après le déluge").await?;
    let rss_after = rss_kib(pid)?;
    ensure!(
        rss_after < rss_before + 64 * 1024,
        "server memory grew from {rss_before} KiB to {rss_after} KiB during the attacks"
    );
    ensure!(server.metric("convene_connections").await? == 2);
    Ok(())
}

/// After the server's close: `frames` frames of `size` bytes (`opcode`), then the answering
/// Close; whether the server then ended the connection cleanly (the end of the stream), not
/// with a reset (what a socket dropped with the peer's bytes unread gets).
async fn answer_after(raw: Raw, opcode: u8, frames: usize, size: usize) -> Result<bool> {
    let Raw { mut tcp, .. } = raw;
    let frame = client_frame(opcode, &vec![b'a'; size], true);
    for _ in 0..frames {
        tcp.write_all(&frame).await?;
    }
    tcp.write_all(&client_frame(0x8, &1000u16.to_be_bytes(), true))
        .await?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(15), tcp.read(&mut buf)).await {
            Err(_) => bail!("the connection neither ended nor was reset in 15 s"),
            Ok(Ok(0)) => return Ok(true),
            Ok(Ok(_)) => continue,
            Ok(Err(_)) => return Ok(false),
        }
    }
}

#[tokio::test]
async fn a_peer_within_its_limits_that_answers_the_servers_close_late_is_not_cut() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (invites, mut fac, mut c0) = with_document(&server, "retard", 4).await?;
    // /ws: a binary frame gets 4010; then 200 text frames of 15 KiB (3 MiB: the burst, the
    // sustained rate for the read-on time and the forgiven excess, in the largest frames)
    // before the answer.
    let mut ws = raw_joined(&server, &token(&invites, &citizen(1))).await?;
    ws.frame(0x2, b"\x00\x01", true).await?;
    ensure!(ws.close_code(Duration::from_secs(5)).await? == Some(close::BINARY));
    // /doc: a text frame gets "malformed"; then three binary frames of 1.5 MiB (a large sync
    // in flight) before the answer.
    let t = token(&invites, &citizen(2));
    let mut doc = Raw::upgrade(&server.addr, &format!("/doc/retard/avis?token={t}")).await?;
    doc.frame(0x1, b"bonjour", true).await?;
    ensure!(doc.close_code(Duration::from_secs(5)).await? == Some(convene::docs::close::MALFORMED));
    let (ws_clean, doc_clean) = tokio::join!(
        answer_after(ws, 0x1, 200, 15 * 1024),
        answer_after(doc, 0x2, 3, 1536 * 1024)
    );
    ensure!(ws_clean?, "/ws: reset before the close handshake ended");
    ensure!(doc_clean?, "/doc: reset before the close handshake ended");
    goes_on(&mut fac, &mut c0, "tout le monde est là").await?;
    Ok(())
}
