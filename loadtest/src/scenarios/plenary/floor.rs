//! `--target floor`: the plenary's workload against `broadcast-floor`, the bare axum broadcast
//! server (docs/bench/fanout.md): the same connections, the same times, the very frame a
//! convene listener reads for a broadcast.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use convene_protocol::{Actor, Event, Record, ServerMessage};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{aggregate, parse_text, ticker, Args, CpuStart, End, Listening, Sent};
use crate::conn::{Received, Shared};
use crate::metrics;
use crate::organizer::unique_id;
use crate::report::Outcome;
use crate::scenarios::{Ctx, ScenarioResult};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connection to `broadcast-floor`: its sink; a task reads what comes.
struct FloorConn {
    sink: SplitSink<Ws, Message>,
    open: Arc<std::sync::atomic::AtomicBool>,
    closing: Arc<std::sync::atomic::AtomicBool>,
}

impl Listening for FloorConn {
    fn open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }
    fn resumed(&self) -> Vec<(u64, u64)> {
        Vec::new()
    }
}

impl FloorConn {
    /// Connect; every `event` frame read is parsed (as `conn.rs` does for convene's) and
    /// handed to `tx` with the time it was read.
    async fn open(
        url: &str,
        conn: usize,
        tx: mpsc::UnboundedSender<Received>,
        shared: &Shared,
        within: Duration,
    ) -> anyhow::Result<FloorConn> {
        use std::sync::atomic::AtomicBool;
        let counters = shared.counters.clone();
        counters.attempted.fetch_add(1, Ordering::Relaxed);
        let connecting =
            tokio_tungstenite::connect_async_with_config(url, Some(crate::conn::ws_config()), true);
        let ws = match tokio::time::timeout(within, connecting).await {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                shared.errors.add("connect_failed");
                bail!("connecting to {url}: {e}");
            }
            Err(_) => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                shared.errors.add("connect_timeout");
                bail!("connecting to {url}: timed out");
            }
        };
        counters.opened();
        let (sink, mut stream) = ws.split();
        let open = Arc::new(AtomicBool::new(true));
        let closing = Arc::new(AtomicBool::new(false));
        let (o, c, shared) = (open.clone(), closing.clone(), shared.clone());
        tokio::spawn(async move {
            let counters = &shared.counters;
            while let Some(m) = stream.next().await {
                let at = Instant::now();
                let text = match m {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                counters.frames.fetch_add(1, Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                if crate::conn::message_type(&text) != Some("event") {
                    continue;
                }
                match serde_json::from_str::<ServerMessage>(&text) {
                    Ok(msg) => {
                        let _ = tx.send(Received { conn, at, msg });
                    }
                    Err(_) => shared.errors.add("unparsable_message"),
                }
            }
            if !c.load(Ordering::Relaxed) {
                shared.errors.add("disconnected");
            }
            o.store(false, Ordering::Relaxed);
            counters.closed();
        });
        Ok(FloorConn {
            sink,
            open,
            closing,
        })
    }

    async fn close(mut self) {
        self.closing.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.sink.send(Message::Close(None)))
            .await;
    }
}

/// Open these connections (conn, where its events go) to the floor, `connect_concurrency`
/// at a time; `None` for those that failed.
async fn floor_connect_many(
    ctx: &Ctx,
    url: &str,
    list: Vec<(usize, mpsc::UnboundedSender<Received>)>,
    what: &str,
) -> Vec<Option<FloorConn>> {
    let bar = ctx.bar(list.len() as u64, what);
    let sem = Arc::new(tokio::sync::Semaphore::new(ctx.connect_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(list.len());
    for (conn, tx) in list {
        let (sem, shared, url, bar) = (
            sem.clone(),
            ctx.shared.clone(),
            url.to_string(),
            bar.clone(),
        );
        let within = ctx.within(Duration::from_secs(30));
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.ok()?;
            let c = FloorConn::open(&url, conn, tx, &shared, within).await.ok();
            bar.inc(1);
            c
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.ok().flatten());
    }
    bar.finish_and_clear();
    out
}

/// The frame convene's listeners read for broadcast `k` (`broadcast_sent`, its record as
/// convene writes it: seq, time, the facilitator who sent it, the request's id).
pub(super) fn floor_frame(k: usize, seq: u64, facilitator: usize, request: u64) -> String {
    let us = metrics::since_start(Instant::now()).as_micros();
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let msg = ServerMessage::Event {
        record: Record {
            seq,
            at,
            by: Actor::Participant(format!("p{:05}", facilitator + 1)),
            event: Event::BroadcastSent {
                text: format!("LT {k} t={us}"),
            },
            request: Some(format!("c{facilitator}-{request}")),
        },
    };
    serde_json::to_string(&msg).unwrap_or_default()
}

pub(super) async fn run_floor(
    ctx: &Ctx,
    args: &Args,
    f: usize,
    total: usize,
    mut out: Outcome,
) -> ScenarioResult {
    let n = args.listeners;
    let run_id = unique_id("fanout");
    let base = ctx
        .ws_url
        .strip_suffix("/ws")
        .ok_or_else(|| anyhow::anyhow!("unexpected WebSocket URL {}", ctx.ws_url))?;
    let url = format!("{base}/floor/{run_id}");
    out.notes.push(format!(
        "the bare broadcast server (broadcast-floor), path /floor/{run_id}"
    ));

    // 2. Connections: the listeners, then the senders.
    let t = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let agg = tokio::spawn(aggregate(rx, n, f, delivered.clone(), stop_rx, false));
    let list = (0..n).map(|i| (f + i, tx.clone())).collect();
    drop(tx);
    let listeners = floor_connect_many(ctx, &url, list, "listeners").await;
    let mut echoes = Vec::with_capacity(f);
    let mut list = Vec::with_capacity(f);
    for j in 0..f {
        let (etx, erx) = mpsc::unbounded_channel();
        list.push((j, etx));
        echoes.push(erx);
    }
    let senders = floor_connect_many(ctx, &url, list, "senders").await;
    let connected = listeners.iter().filter(|l| l.is_some()).count();
    let connect_s = t.elapsed().as_secs_f64();
    out.phases.insert("connect".into(), connect_s);
    if connect_s > 0.0 {
        out.rates.insert(
            "connections_per_s".into(),
            (connected + f) as f64 / connect_s,
        );
    }
    out.check("listeners", n);
    out.check("listeners_connected", connected);
    if senders.iter().any(|p| p.is_none()) {
        bail!("a sender could not connect");
    }
    if ctx.timed_out() {
        out.timed_out = true;
        return Ok(out);
    }

    // 3. Broadcasts: broadcast k goes at t0 + k / rate from sender k mod F; its seq follows
    // the setup's events, as in convene's log (the convention, then each person added and
    // invited).
    let cpu = CpuStart::now(ctx);
    let seq0 = 2 * (n + f) as u64 + 1;
    let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    let drain = Duration::from_secs_f64(args.drain.max(0.0));
    let sent_count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(f);
    for (j, (p, mut erx)) in senders.into_iter().zip(echoes).enumerate() {
        let Some(mut p) = p else { continue };
        let rate = args.rate;
        let sent_count = sent_count.clone();
        tasks.push(tokio::spawn(async move {
            let mut times: HashMap<u32, Instant> = HashMap::new();
            let mut k = j;
            let mut request = 0u64;
            while k < total {
                let at = t0 + Duration::from_secs_f64(k as f64 / rate);
                if at >= deadline {
                    break;
                }
                tokio::time::sleep_until(at).await;
                request += 1;
                let frame = floor_frame(k, seq0 + k as u64, j, request);
                let sent = Instant::now();
                if p.sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
                times.insert(k as u32, sent);
                sent_count.fetch_add(1, Ordering::Relaxed);
                k += f;
            }
            // Its own frames back: the acknowledgments.
            let mut acks: Vec<(u32, Instant, Instant)> = Vec::with_capacity(times.len());
            let until = tokio::time::Instant::now() + drain;
            while acks.len() < times.len() {
                let r = tokio::time::timeout_at(until.min(deadline), erx.recv()).await;
                let Ok(Some(r)) = r else { break };
                let ServerMessage::Event { record } = r.msg else {
                    continue;
                };
                let Event::BroadcastSent { text } = record.event else {
                    continue;
                };
                if let Some((k, _)) = parse_text(&text) {
                    if let Some(sent) = times.get(&k) {
                        acks.push((k, *sent, r.at));
                    }
                }
            }
            let unanswered = (times.len() - acks.len()) as u64;
            (p, acks, unanswered)
        }));
    }
    let (bar, ticker) = ticker(ctx, total, &sent_count, &delivered);
    let mut sender_ps = Vec::new();
    let mut sent = Sent::default();
    for t in tasks {
        let Ok((p, acks, unanswered)) = t.await else {
            continue;
        };
        sender_ps.push(p);
        sent.unanswered += unanswered;
        for (k, s, at) in acks {
            sent.acknowledged(k, seq0 + u64::from(k), s, at);
        }
    }
    let end = End {
        listeners: &listeners,
        connected,
        sent,
        sent_count,
        delivered,
        stop_tx,
        agg,
        cpu,
        bar,
        ticker,
    };
    end.finish(ctx, args, None, &mut out).await?;

    let closing = async {
        let mut set = tokio::task::JoinSet::new();
        for c in listeners.into_iter().flatten().chain(sender_ps) {
            set.spawn(c.close());
            while set.len() >= 256 {
                set.join_next().await;
            }
        }
        while set.join_next().await.is_some() {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
    Ok(out)
}
