//! `idle`: open `--connections` participant connections (hello, welcome), keep them idle for
//! `--duration` seconds, and report how many were held and the server's memory: its RSS
//! (VmRSS, with `--server-pid`) before the run, once the conventions exist (before any
//! connection), while the connections are held, and after they closed; the RSS per held
//! connection is (held − set up) / held.
//!
//! The participants are citizens of conventions of `--per-convention` people (a welcome
//! carries the whole roster, and everyone hears everyone come online: one convention of
//! 19,000 would measure that, not idle connections).
//!
//! Past the open-files limit of one process, `--processes P` re-spawns this binary as P
//! workers (`idle --worker-of P --worker-index i --tokens-file F`), each opening its share.
//! A worker prints `READY <opened> <welcomes> <failed>` once its connections are open, holds
//! them until a line (or the end of) its standard input, prints `DONE <json>`, and closes them
//! at the end of its standard input: the coordinator ends every worker's input only once it has
//! every `DONE`, so that no worker counts the presence frames of another one's departures. Client
//! sockets are bound to 127.0.0.2, 127.0.0.3... (`--source-addresses`) before connecting,
//! so that the loopback's ephemeral ports (about 28,000 per source address) suffice.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{ClientMessage, Role};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{Ctx, ScenarioResult};
use crate::conn::message_type;
use crate::organizer::{person, unique_id};
use crate::report::Outcome;

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Seconds to hold them idle once all are open.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Participants per convention.
    #[arg(long, default_value_t = 200)]
    pub per_convention: usize,
    /// Worker processes opening the connections (each has its own open-files limit).
    #[arg(long, default_value_t = 1)]
    pub processes: usize,
    /// Client source addresses: 127.0.0.2 up to 127.0.0.(1 + this).
    #[arg(long, default_value_t = 8)]
    pub source_addresses: u8,
    /// Internal: this process is worker `--worker-index` of N.
    #[arg(long, hide = true)]
    pub worker_of: Option<usize>,
    #[arg(long, hide = true)]
    pub worker_index: Option<usize>,
    /// Internal: the tokens this worker connects with, one per line (`<index> <token>`).
    #[arg(long, hide = true)]
    pub tokens_file: Option<PathBuf>,
}

/// What a worker reports when done.
#[derive(Debug, Default, Serialize, Deserialize, Clone)]
struct WorkerDone {
    opened: u64,
    welcomes: u64,
    failed: u64,
    held: u64,
    frames: u64,
    presence: u64,
    errors: std::collections::BTreeMap<String, u64>,
}

struct Held {
    sink: SplitSink<WebSocketStream<TcpStream>, Message>,
    open: Arc<AtomicBool>,
}

#[derive(Default)]
struct Tally {
    frames: AtomicU64,
    presence: AtomicU64,
}

fn ws_config() -> WebSocketConfig {
    // Many connections in one process: small buffers.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
}

/// The server's address, from the WebSocket URL.
async fn server_addr(ws_url: &str) -> Result<SocketAddr> {
    let u = Url::parse(ws_url)?;
    let host = u
        .host_str()
        .ok_or_else(|| anyhow!("no host in {ws_url}"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = u.port_or_known_default().unwrap_or(80);
    let found = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .find(|a| a.is_ipv4());
    found.ok_or_else(|| anyhow!("{host} has no IPv4 loopback address"))
}

/// Connect from `src` (port chosen by the kernel), say hello, read up to the welcome.
async fn open_one(
    ws_url: &str,
    server: SocketAddr,
    src: Ipv4Addr,
    token: &str,
) -> Result<WebSocketStream<TcpStream>> {
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(src), 0))
        .with_context(|| format!("bind {src}"))?;
    let stream = socket.connect(server).await.context("connect")?;
    stream.set_nodelay(true)?;
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(ws_url, stream, Some(ws_config()))
            .await
            .context("websocket handshake")?;
    let hello = serde_json::to_string(&ClientMessage::Hello {
        protocol: crate::conn::protocol(),
        token: token.to_string(),
        last_seq: None,
    })?;
    ws.send(Message::text(hello)).await.context("hello")?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match message_type(&t) {
                Some("welcome") => return Ok(ws),
                Some("error") => bail!("hello refused: {t}"),
                _ => continue,
            },
            Some(Ok(Message::Close(f))) => {
                bail!("closed before welcome: {:?}", f.map(|f| u16::from(f.code)))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(anyhow!(e).context("before welcome")),
            None => bail!("connection ended before welcome"),
        }
    }
}

/// Open every `(index, token)`; the connections held, each with a reader that keeps reading.
async fn open_all(
    ctx: &Ctx,
    args: &Args,
    tokens: Vec<(usize, String)>,
    tally: Arc<Tally>,
) -> Result<Vec<Held>> {
    let server = server_addr(&ctx.ws_url).await?;
    let sem = Arc::new(Semaphore::new(ctx.connect_concurrency.max(1)));
    let bar = ctx.bar(tokens.len() as u64, "connections");
    let sources = args.source_addresses.max(1) as usize;
    let mut tasks = Vec::with_capacity(tokens.len());
    let started = tokio::time::Instant::now();
    for (k, (i, token)) in tokens.into_iter().enumerate() {
        let sem = sem.clone();
        let ws_url = ctx.ws_url.clone();
        let shared = ctx.shared.clone();
        let bar = bar.clone();
        let tally = tally.clone();
        let src = Ipv4Addr::new(127, 0, 0, 2 + (i % sources) as u8);
        let within = ctx.within(Duration::from_secs(60));
        let not_before = ctx
            .connect_rate
            .filter(|r| *r > 0.0)
            .map(|r| started + Duration::from_secs_f64(k as f64 / r));
        tasks.push(tokio::spawn(async move {
            if let Some(t) = not_before {
                tokio::time::sleep_until(t).await;
            }
            let _p = sem.acquire_owned().await.ok()?;
            shared.counters.attempted.fetch_add(1, Ordering::Relaxed);
            let r = tokio::time::timeout(within, open_one(&ws_url, server, src, &token)).await;
            bar.inc(1);
            let ws = match r {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    let msg = format!("{e:#}");
                    let code = if msg.contains("bind") {
                        "bind_failed"
                    } else if msg.contains("connect") {
                        "connect_failed"
                    } else {
                        "welcome_failed"
                    };
                    shared.errors.add(code);
                    return None;
                }
                Err(_) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    shared.errors.add("connect_timeout");
                    return None;
                }
            };
            shared.counters.opened();
            let (sink, mut stream) = ws.split();
            let open = Arc::new(AtomicBool::new(true));
            let o = open.clone();
            let errors = shared.errors.clone();
            let counters = shared.counters.clone();
            tokio::spawn(async move {
                let code = loop {
                    match stream.next().await {
                        Some(Ok(Message::Text(t))) => {
                            tally.frames.fetch_add(1, Ordering::Relaxed);
                            if matches!(message_type(&t), Some("presence" | "presence_batch")) {
                                tally.presence.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Ok(Message::Close(f))) => break Some(f.map(|f| u16::from(f.code))),
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break Some(None),
                    }
                };
                // Closed by us (the open flag went first) or by the server.
                if o.swap(false, Ordering::Relaxed) {
                    errors.add(match code.flatten() {
                        Some(c) => format!("close_{c}"),
                        None => "disconnected".to_string(),
                    });
                }
                counters.closed();
            });
            Some(Held { sink, open })
        }));
    }
    let mut held = Vec::new();
    for t in tasks {
        if let Some(h) = t.await.ok().flatten() {
            held.push(h);
        }
    }
    bar.finish_and_clear();
    Ok(held)
}

async fn close_held(held: Vec<Held>) {
    let mut set = tokio::task::JoinSet::new();
    for mut h in held {
        h.open.store(false, Ordering::Relaxed);
        set.spawn(async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                h.sink.send(Message::Close(Some(CloseFrame {
                    code: CloseCode::Normal,
                    reason: "load test done".into(),
                }))),
            )
            .await;
        });
        while set.len() >= 512 {
            set.join_next().await;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        while set.join_next().await.is_some() {}
    })
    .await;
}

fn held_count(held: &[Held]) -> u64 {
    held.iter()
        .filter(|h| h.open.load(Ordering::Relaxed))
        .count() as u64
}

/// Worker mode: open this share, say READY, hold until told, say DONE.
async fn worker(ctx: &Ctx, args: &Args) -> ScenarioResult {
    let file = args
        .tokens_file
        .as_ref()
        .ok_or_else(|| anyhow!("--worker-of needs --tokens-file"))?;
    let text = std::fs::read_to_string(file).with_context(|| format!("{}", file.display()))?;
    let tokens: Vec<(usize, String)> = text
        .lines()
        .filter_map(|l| {
            let (i, t) = l.split_once(' ')?;
            Some((i.parse().ok()?, t.to_string()))
        })
        .collect();
    let tally = Arc::new(Tally::default());
    let held = open_all(ctx, args, tokens, tally.clone()).await?;
    let c = &ctx.shared.counters;
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(
            format!(
                "READY {} {} {}\n",
                c.opened.load(Ordering::Relaxed),
                held.len(),
                c.failed.load(Ordering::Relaxed)
            )
            .as_bytes(),
        )
        .await?;
    stdout.flush().await?;
    // Hold until the coordinator says so (a line, or the end of stdin), or the deadline.
    let mut line = String::new();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let _ = tokio::time::timeout(ctx.left(), stdin.read_line(&mut line)).await;
    let done = WorkerDone {
        opened: c.opened.load(Ordering::Relaxed),
        welcomes: held.len() as u64,
        failed: c.failed.load(Ordering::Relaxed),
        held: held_count(&held),
        frames: tally.frames.load(Ordering::Relaxed),
        presence: tally.presence.load(Ordering::Relaxed),
        errors: ctx.shared.errors.snapshot(),
    };
    stdout
        .write_all(format!("DONE {}\n", serde_json::to_string(&done)?).as_bytes())
        .await?;
    stdout.flush().await?;
    // Held until every worker has counted: the end of stdin (or a minute).
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), stdin.read_to_end(&mut rest)).await;
    close_held(held).await;
    let mut out = Outcome::new(json!(args));
    out.check("worker_done", &done);
    Ok(out)
}

struct Spawned {
    child: tokio::process::Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stdin: Option<tokio::process::ChildStdin>,
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.worker_of.is_some() {
        return worker(ctx, args).await;
    }
    if args.connections == 0 || args.per_convention == 0 || args.processes == 0 {
        bail!("--connections, --per-convention and --processes must be at least 1");
    }
    let n = args.connections;
    let mut out = Outcome::new(json!({
        "connections": n,
        "duration": args.duration,
        "per_convention": args.per_convention,
        "processes": args.processes,
        "source_addresses": args.source_addresses,
    }));
    let rss = || ctx.server_pid.as_deref().and_then(crate::procstat::read);
    let r_start = rss();

    // 1. Conventions of `per_convention` citizens each.
    let t = Instant::now();
    let mut tokens: Vec<(usize, String)> = Vec::with_capacity(n);
    let mut conventions = Vec::new();
    let mut i = 0;
    while i < n {
        let size = args.per_convention.min(n - i);
        let roster: Vec<_> = (0..size)
            .map(|j| person(format!("Citoyenne {}", i + j), Role::Citizen))
            .collect();
        let id = unique_id("idle");
        let setup = ctx
            .organizer
            .setup(&id, "Load test: idle", &roster)
            .await
            .with_context(|| format!("setting convention {} up", conventions.len()))?;
        for j in 0..size {
            tokens.push((i + j, setup.token(j)?));
        }
        conventions.push(id);
        i += size;
        if ctx.timed_out() {
            out.timed_out = true;
            return Ok(out);
        }
    }
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());
    out.check("conventions", conventions.len());
    out.convention = conventions.first().cloned();
    let r_setup = rss();

    // 2. Open everything, here or in workers.
    let t = Instant::now();
    let tally = Arc::new(Tally::default());
    let mut held: Vec<Held> = Vec::new();
    let mut workers: Vec<Spawned> = Vec::new();
    let dir = std::env::temp_dir().join(format!("convene-loadtest-idle-{}", std::process::id()));
    let mut ready_total = (0u64, 0u64, 0u64);
    if args.processes == 1 {
        held = open_all(ctx, args, tokens, tally.clone()).await?;
    } else {
        std::fs::create_dir_all(&dir)?;
        let p = args.processes;
        let exe = std::env::current_exe().context("this binary")?;
        let base = ctx
            .ws_url
            .strip_suffix("/ws")
            .ok_or_else(|| anyhow!("unexpected WebSocket URL {}", ctx.ws_url))?
            .replacen("ws", "http", 1);
        let left = ctx.left().as_secs().max(1);
        for w in 0..p {
            let share: Vec<&(usize, String)> = tokens.iter().skip(w).step_by(p).collect();
            let file = dir.join(format!("tokens-{w}.txt"));
            let text: String = share.iter().map(|(i, t)| format!("{i} {t}\n")).collect();
            std::fs::write(&file, text)?;
            let mut cmd = tokio::process::Command::new(&exe);
            cmd.arg("--url")
                .arg(&base)
                .arg("--timeout")
                .arg(left.to_string())
                .arg("--connect-concurrency")
                .arg(ctx.connect_concurrency.to_string())
                .arg("--quiet")
                .arg("--protocol")
                .arg(crate::conn::protocol().to_string())
                // Workers never call the organizer API; the flag is required all the same.
                .env("CONVENE_ORGANIZER_TOKEN", "unused-by-idle-workers")
                .arg("idle")
                .arg("--connections")
                .arg(share.len().to_string())
                .arg("--source-addresses")
                .arg(args.source_addresses.to_string())
                .arg("--worker-of")
                .arg(p.to_string())
                .arg("--worker-index")
                .arg(w.to_string())
                .arg("--tokens-file")
                .arg(&file)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true);
            if let Some(r) = ctx.connect_rate {
                cmd.arg("--connect-rate").arg((r / p as f64).to_string());
            }
            let mut child = cmd.spawn().context("spawning a worker")?;
            let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
            let stdin = child.stdin.take();
            workers.push(Spawned {
                child,
                lines: BufReader::new(stdout).lines(),
                stdin,
            });
        }
        for (w, s) in workers.iter_mut().enumerate() {
            let ready = tokio::time::timeout(ctx.left(), async {
                while let Some(l) = s.lines.next_line().await? {
                    if let Some(rest) = l.strip_prefix("READY ") {
                        let v: Vec<u64> = rest.split(' ').filter_map(|x| x.parse().ok()).collect();
                        return Ok::<_, anyhow::Error>(v);
                    }
                }
                bail!("worker {w} ended before READY")
            })
            .await
            .map_err(|_| anyhow!("worker {w}: no READY before the deadline"))??;
            ready_total.0 += ready.first().copied().unwrap_or(0);
            ready_total.1 += ready.get(1).copied().unwrap_or(0);
            ready_total.2 += ready.get(2).copied().unwrap_or(0);
        }
    }
    let connect_s = t.elapsed().as_secs_f64();
    out.phases.insert("connect".into(), connect_s);
    let welcomes = if args.processes == 1 {
        held.len() as u64
    } else {
        ready_total.1
    };
    if connect_s > 0.0 {
        out.rates
            .insert("connections_per_s".into(), welcomes as f64 / connect_s);
    }

    // 3. Idle.
    let idle_for = ctx.within(Duration::from_secs_f64(args.duration.max(0.0)));
    tokio::time::sleep(idle_for).await;
    out.phases.insert("idle".into(), idle_for.as_secs_f64());
    let r_held = rss();
    ctx.end_of_measurement(&mut out);

    // 4. Close; collect the workers' counts.
    let mut done = WorkerDone::default();
    if args.processes == 1 {
        done.opened = ctx.shared.counters.opened.load(Ordering::Relaxed);
        done.welcomes = held.len() as u64;
        done.failed = ctx.shared.counters.failed.load(Ordering::Relaxed);
        done.held = held_count(&held);
        done.frames = tally.frames.load(Ordering::Relaxed);
        done.presence = tally.presence.load(Ordering::Relaxed);
        close_held(held).await;
    } else {
        // Every worker counts (STOP, DONE) before any closes (the end of its stdin, below).
        for s in workers.iter_mut() {
            if let Some(stdin) = s.stdin.as_mut() {
                let _ = stdin.write_all(b"STOP\n").await;
                let _ = stdin.flush().await;
            }
        }
        for (w, s) in workers.iter_mut().enumerate() {
            let d = tokio::time::timeout(Duration::from_secs(60), async {
                while let Some(l) = s.lines.next_line().await? {
                    if let Some(rest) = l.strip_prefix("DONE ") {
                        return Ok::<_, anyhow::Error>(serde_json::from_str::<WorkerDone>(rest)?);
                    }
                }
                bail!("worker {w} ended before DONE")
            })
            .await;
            match d {
                Ok(Ok(d)) => {
                    done.opened += d.opened;
                    done.welcomes += d.welcomes;
                    done.failed += d.failed;
                    done.held += d.held;
                    done.frames += d.frames;
                    done.presence += d.presence;
                    for (k, v) in d.errors {
                        for _ in 0..v {
                            ctx.shared.errors.add(k.clone());
                        }
                    }
                }
                Ok(Err(e)) => out.failures.push(format!("{e:#}")),
                Err(_) => out
                    .failures
                    .push(format!("worker {w}: no DONE within 60 s")),
            }
        }
        // Every worker has counted: now they may close (the end of their stdin).
        for s in workers.iter_mut() {
            drop(s.stdin.take());
        }
        for s in workers.iter_mut() {
            // Let it close its connections and print its own report (ignored).
            while let Ok(Ok(Some(_))) =
                tokio::time::timeout(Duration::from_secs(30), s.lines.next_line()).await
            {
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), s.child.wait()).await;
        }
        let _ = std::fs::remove_dir_all(&dir);
        out.held_at_end = Some(done.held);
    }
    // The server frees what the connections held.
    tokio::time::sleep(ctx.within(Duration::from_secs(2))).await;
    let r_after = rss();

    out.check("connections_requested", n);
    out.check("opened", done.opened);
    out.check("welcomes", done.welcomes);
    out.check("failed", done.failed);
    out.check("held_at_end", done.held);
    out.check("frames_after_welcome", done.frames);
    out.check("presence_frames", done.presence);
    if done.welcomes < n as u64 {
        out.failures.push(format!(
            "{} of {n} connections got their welcome",
            done.welcomes
        ));
    }
    if done.held < done.welcomes {
        out.failures.push(format!(
            "{} connections closed while idle",
            done.welcomes - done.held
        ));
    }
    let kib = |r: Option<crate::procstat::Reading>| r.map(|r| r.rss_kib);
    out.check("server_rss_kib_start", kib(r_start));
    out.check("server_rss_kib_setup", kib(r_setup));
    out.check("server_rss_kib_held", kib(r_held));
    out.check("server_rss_kib_after", kib(r_after));
    out.check("server_fds_held", r_held.and_then(|r| r.fds));
    if let (Some(s), Some(h)) = (r_setup, r_held) {
        if done.held > 0 {
            let per = (h.rss_kib as f64 - s.rss_kib as f64) / done.held as f64;
            out.rates
                .insert("server_rss_kib_per_connection".into(), per);
            out.check(
                "server_rss_kib_per_connection",
                (per * 100.0).round() / 100.0,
            );
        }
    }
    out.timed_out = ctx.timed_out();
    Ok(out)
}
