//! `plenary`: N listeners (citizens) receive the broadcasts that one or more facilitators send
//! at a given rate for a given duration.
//!
//! Each broadcast's text carries the time it was sent, in µs since the start of the run on the
//! load tester's monotonic clock (every connection lives in this one process): a listener's
//! delivery latency is the time it read the `broadcast_sent` event minus that. The server
//! limits each connection to 20 messages/s (bursts of 40), so the broadcasts are spread over
//! `ceil(rate / 20)` facilitators unless `--facilitators` says otherwise.
//!
//! Checked: every listener still connected received every acknowledged broadcast, once, in
//! order of seq. With several nodes, a listener that lost its node and resumed on another
//! (`conn.rs`) learned the broadcasts acknowledged between its last seq and its new welcome's
//! from that welcome's snapshot, not as events: those are counted as `covered_by_resume`, not
//! as missing; any other missing broadcast is a gap.
//!
//! Server CPU per delivery: the server's CPU time (`/proc/PID/stat` of `--server-pid`) from
//! just before the first broadcast to the last delivery (or the end of the drain), divided by
//! the deliveries to listeners; the load tester's own likewise.
//!
//! `--target floor`: the same workload against `broadcast-floor` (loadtest/src/bin), the bare
//! axum broadcast server, at `--url`'s host and port (docs/bench/fanout.md). Nothing to set
//! up: the N listeners and F senders connect to one path, and each sender sends, at the same
//! times as the facilitators would, the very frame a convene listener reads for a broadcast
//! (a `broadcast_sent` event with a record like convene's: same fields, same byte length,
//! give or take a digit), which the floor relays to every connection of the path, the
//! senders included; a sender's own frame coming back is its acknowledgment. The listeners
//! read and parse those frames as they read convene's. The floor keeps no order between
//! senders: the seq order is not checked there.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use convene_protocol::{Command, Event, Role, ServerMessage};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::{close_all, Ctx, ScenarioResult, ToOpen};
use crate::conn::{wait_reply, Participant, Received, Reply, Subscription};
use crate::metrics::{self, Counters, Latency};
use crate::organizer::{person, unique_id};
use crate::procstat::{self, Reading};
use crate::report::{Outcome, Series};

// `--target floor`: the bare axum broadcast server.
mod floor;
#[cfg(test)]
use floor::floor_frame;
use floor::run_floor;

/// The server's sustained limit per connection (PROTOCOL.md, "Rate limit").
const PER_CONNECTION_RATE: f64 = 20.0;

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Citizens listening (one connection each).
    #[arg(long, default_value_t = 1000)]
    pub listeners: usize,
    /// Broadcasts per second, all facilitators together.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds of broadcasting.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Facilitators sending broadcasts (default: ceil(rate / 20), the server's limit).
    #[arg(long)]
    pub facilitators: Option<usize>,
    /// Seconds to wait, once the last broadcast is acknowledged, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// The server: convene (`--url`), or the bare axum broadcast server `broadcast-floor`
    /// listening at `--url`'s host and port, to compare (no convention, no token used).
    #[arg(long, value_enum, default_value_t = Target::Convene)]
    pub target: Target,
}

/// Which server the plenary runs against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Convene,
    /// `broadcast-floor`: relays every text frame to every connection of its path.
    Floor,
}

#[derive(Default)]
struct ListenerState {
    got: HashSet<u32>,
    last_seq: u64,
}

struct Agg {
    listeners: Vec<ListenerState>,
    delivery: Latency,
    deliveries: u64,
    duplicates: u64,
    out_of_order: u64,
    foreign: u64,
    last_delivery: Option<Instant>,
    /// Bytes of the `broadcast_sent` frames the first listener read (re-encoded: the same
    /// bytes as on the wire), and how many.
    frame_bytes: u64,
    frames_measured: u64,
}

/// How many of these seqs fall in a resume's window (after the seq the connection had, up to
/// its new welcome's): the welcome's snapshot holds them, no event brings them.
fn covered(seqs: &[u64], resumes: &[(u64, u64)]) -> usize {
    if resumes.is_empty() {
        return 0;
    }
    seqs.iter()
        .filter(|&&s| {
            resumes
                .iter()
                .any(|&(had, welcome)| s > had && s <= welcome)
        })
        .count()
}

/// `LT <k> t=<µs>` → (k, µs).
fn parse_text(text: &str) -> Option<(u32, u64)> {
    let mut it = text.split_whitespace();
    if it.next()? != "LT" {
        return None;
    }
    let k = it.next()?.parse().ok()?;
    let us = it.next()?.strip_prefix("t=")?.parse().ok()?;
    Some((k, us))
}

async fn aggregate(
    mut rx: mpsc::UnboundedReceiver<Received>,
    n: usize,
    base: usize,
    delivered: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
    check_order: bool,
) -> Agg {
    let mut agg = Agg {
        listeners: (0..n).map(|_| ListenerState::default()).collect(),
        delivery: Latency::new(),
        deliveries: 0,
        duplicates: 0,
        out_of_order: 0,
        foreign: 0,
        last_delivery: None,
        frame_bytes: 0,
        frames_measured: 0,
    };
    let handle = |agg: &mut Agg, r: Received| {
        let first = r.conn == base;
        if first {
            if let ServerMessage::Event { record } = &r.msg {
                if matches!(record.event, Event::BroadcastSent { .. }) {
                    agg.frame_bytes += serde_json::to_string(&r.msg).map_or(0, |t| t.len()) as u64;
                    agg.frames_measured += 1;
                }
            }
        }
        let ServerMessage::Event { record } = r.msg else {
            return;
        };
        let Some(l) = r
            .conn
            .checked_sub(base)
            .and_then(|i| agg.listeners.get_mut(i))
        else {
            return;
        };
        if check_order && record.seq <= l.last_seq {
            agg.out_of_order += 1;
        }
        l.last_seq = l.last_seq.max(record.seq);
        let Event::BroadcastSent { text } = record.event else {
            return;
        };
        let Some((k, us)) = parse_text(&text) else {
            agg.foreign += 1;
            return;
        };
        if !l.got.insert(k) {
            agg.duplicates += 1;
            return;
        }
        let received = metrics::since_start(r.at);
        let latency = received.saturating_sub(Duration::from_micros(us));
        agg.delivery.record(latency, r.at);
        agg.deliveries += 1;
        agg.last_delivery = Some(r.at);
        delivered.fetch_add(1, Ordering::Relaxed);
    };
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(r) => handle(&mut agg, r),
                None => break,
            },
            _ = stop.changed() => {
                while let Ok(r) = rx.try_recv() {
                    handle(&mut agg, r);
                }
                break;
            }
        }
    }
    agg
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.listeners == 0 || args.rate <= 0.0 || args.duration <= 0.0 {
        bail!("--listeners, --rate and --duration must be positive");
    }
    let f = args
        .facilitators
        .unwrap_or((args.rate / PER_CONNECTION_RATE).ceil() as usize)
        .max(1);
    let n = args.listeners;
    let total = (args.rate * args.duration).round().max(1.0) as usize;
    let mut out = Outcome::new(json!({
        "listeners": n,
        "rate": args.rate,
        "duration": args.duration,
        "facilitators": f,
        "drain": args.drain,
        "broadcasts_planned": total,
        "target": args.target,
    }));
    match args.target {
        Target::Convene => {
            if args.rate / f as f64 > PER_CONNECTION_RATE {
                out.notes.push(format!(
                    "{:.1} broadcasts/s per facilitator is over the server's limit of 20/s: expect rate_limited",
                    args.rate / f as f64
                ));
            }
            run_convene(ctx, args, f, total, out).await
        }
        Target::Floor => run_floor(ctx, args, f, total, out).await,
    }
}

/// What the listeners' connections must tell the end of a run, whichever the server.
trait Listening {
    fn open(&self) -> bool;
    /// Each resume on another node: (the seq the connection had, the new welcome's).
    fn resumed(&self) -> Vec<(u64, u64)>;
}

impl Listening for Participant {
    fn open(&self) -> bool {
        self.is_open()
    }
    fn resumed(&self) -> Vec<(u64, u64)> {
        self.resumes()
    }
}

/// What the senders' tasks came back with.
#[derive(Default)]
struct Sent {
    ack: Latency,
    acked: Vec<u32>,
    /// Each acknowledged broadcast's seq, to tell a resume's window from a gap.
    acked_seq: HashMap<u32, u64>,
    refused: u64,
    unanswered: u64,
    first_send: Option<Instant>,
    last_send: Option<Instant>,
}

impl Sent {
    fn acknowledged(&mut self, k: u32, seq: u64, sent: Instant, at: Instant) {
        self.first_send = Some(self.first_send.map_or(sent, |x| x.min(sent)));
        self.last_send = Some(self.last_send.map_or(sent, |x| x.max(sent)));
        self.ack.record(at.saturating_duration_since(sent), at);
        self.acked.push(k);
        self.acked_seq.insert(k, seq);
    }
}

/// The server's and the load tester's CPU at the start of the broadcasting.
struct CpuStart {
    server: Option<Reading>,
    me: Option<Reading>,
}

impl CpuStart {
    fn now(ctx: &Ctx) -> Self {
        CpuStart {
            server: ctx.server_pid.as_deref().and_then(procstat::read),
            me: procstat::read("self"),
        }
    }

    /// CPU used since, per delivery and in percent of one core, into the rates.
    fn end(self, ctx: &Ctx, deliveries: u64, out: &mut Outcome) {
        let used = |b: Option<Reading>, a: Option<Reading>| -> Option<(f64, f64)> {
            let (b, a) = (b?, a?);
            let wall = a.at?.duration_since(b.at?).as_secs_f64();
            Some((a.cpu_s - b.cpu_s, wall))
        };
        let server = ctx.server_pid.as_deref().and_then(procstat::read);
        for (who, b, a) in [
            ("server", self.server, server),
            ("loadtest", self.me, procstat::read("self")),
        ] {
            let Some((cpu, wall)) = used(b, a) else {
                continue;
            };
            out.rates.insert(format!("{who}_cpu_s"), cpu);
            if wall > 0.0 {
                out.rates
                    .insert(format!("{who}_cpu_pct"), cpu * 100.0 / wall);
            }
            if deliveries > 0 {
                out.rates.insert(
                    format!("{who}_cpu_us_per_delivery"),
                    cpu * 1e6 / deliveries as f64,
                );
            }
        }
    }
}

/// A progress bar of the broadcasts sent and the deliveries, updated until aborted.
fn ticker(
    ctx: &Ctx,
    total: usize,
    sent_count: &Arc<AtomicU64>,
    delivered: &Arc<AtomicU64>,
) -> (indicatif::ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ctx.bar(total as u64, "broadcasts");
    let handle = {
        let bar = bar.clone();
        let sent_count = sent_count.clone();
        let delivered = delivered.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(sent_count.load(Ordering::Relaxed));
                bar.set_message(format!("{} deliveries", delivered.load(Ordering::Relaxed)));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    (bar, handle)
}

async fn run_convene(
    ctx: &Ctx,
    args: &Args,
    f: usize,
    total: usize,
    mut out: Outcome,
) -> ScenarioResult {
    let n = args.listeners;
    // 1. The convention: F facilitators, N citizens.
    let t = Instant::now();
    let mut roster: Vec<_> = (0..f)
        .map(|j| person(format!("Animateur {j} (load test)"), Role::Facilitator))
        .collect();
    roster.extend((0..n).map(|i| person(format!("Auditrice {i}"), Role::Citizen)));
    let id = unique_id("plenary");
    let setup = ctx
        .organizer
        .setup(&id, "Load test: plenary", &roster)
        .await
        .context("setting the convention up")?;
    out.convention = Some(id);
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());

    // 2. Connections: the listeners, then the facilitators.
    let t = Instant::now();
    let scraped = ctx.scrape().await;
    let (tx, rx) = mpsc::unbounded_channel();
    let delivered = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let agg = tokio::spawn(aggregate(rx, n, f, delivered.clone(), stop_rx, true));
    let mut to_open = Vec::with_capacity(n);
    for i in 0..n {
        to_open.push(ToOpen {
            conn: f + i,
            token: setup.token(f + i)?,
            sub: Some(Subscription {
                types: &["event"],
                tx: tx.clone(),
            }),
        });
    }
    drop(tx);
    let listeners = ctx.connect_many(to_open, "listeners").await;
    let mut facs = Vec::with_capacity(f);
    for j in 0..f {
        facs.push(ToOpen {
            conn: j,
            token: setup.token(j)?,
            sub: None,
        });
    }
    let facs = ctx.connect_many(facs, "facilitators").await;
    let connected = listeners.iter().filter(|l| l.is_some()).count();
    let connect_s = t.elapsed().as_secs_f64();
    out.phases.insert("connect".into(), connect_s);
    if connect_s > 0.0 {
        out.rates.insert(
            "connections_per_s".into(),
            (connected + f) as f64 / connect_s,
        );
    }
    ctx.scrape_delta("connect", scraped, &mut out).await;
    out.check("listeners", n);
    out.check("listeners_connected", connected);
    if facs.iter().any(|p| p.is_none()) {
        bail!("a facilitator could not connect");
    }
    if ctx.timed_out() {
        out.timed_out = true;
        return Ok(out);
    }

    // 3. Broadcasts: broadcast k goes at t0 + k / rate from facilitator k mod F.
    let scraped = ctx.scrape().await;
    let cpu = CpuStart::now(ctx);
    let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    let sent_count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(f);
    for (j, p) in facs.into_iter().enumerate() {
        let Some(mut p) = p else { continue };
        let rate = args.rate;
        let sent_count = sent_count.clone();
        let errors = ctx.shared.errors.clone();
        tasks.push(tokio::spawn(async move {
            let mut pending = Vec::new();
            let mut k = j;
            while k < total {
                let at = t0 + Duration::from_secs_f64(k as f64 / rate);
                if at >= deadline {
                    break;
                }
                tokio::time::sleep_until(at).await;
                let us = metrics::since_start(Instant::now()).as_micros();
                let text = format!("LT {k} t={us}");
                match p.send(Command::Broadcast { text }).await {
                    Ok(rx) => pending.push((k as u32, rx)),
                    Err(_) => break,
                }
                sent_count.fetch_add(1, Ordering::Relaxed);
                k += f;
            }
            let mut replies: Vec<(u32, Option<Reply>)> = Vec::with_capacity(pending.len());
            for (k, rx) in pending {
                let within = deadline.saturating_duration_since(tokio::time::Instant::now());
                replies.push((k, wait_reply(rx, within, &errors).await.ok()));
            }
            (p, replies)
        }));
    }
    let (bar, ticker) = ticker(ctx, total, &sent_count, &delivered);
    let mut fac_ps = Vec::new();
    let mut sent = Sent::default();
    for t in tasks {
        let Ok((p, replies)) = t.await else { continue };
        fac_ps.push(p);
        for (k, r) in replies {
            match r {
                Some(r) => match r.result {
                    Ok(seq) => sent.acknowledged(k, seq, r.sent, r.at),
                    Err(_) => {
                        sent.first_send =
                            Some(sent.first_send.map_or(r.sent, |x: Instant| x.min(r.sent)));
                        sent.last_send =
                            Some(sent.last_send.map_or(r.sent, |x: Instant| x.max(r.sent)));
                        sent.refused += 1;
                    }
                },
                None => sent.unanswered += 1,
            }
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
    end.finish(ctx, args, scraped, &mut out).await?;

    let mut all: Vec<Participant> = listeners.into_iter().flatten().collect();
    all.extend(fac_ps);
    close_all(all, Duration::from_secs(5)).await;
    Ok(out)
}

/// The end of a run, whichever the server: the last deliveries, then the checks and figures.
struct End<'a, L> {
    listeners: &'a [Option<L>],
    connected: usize,
    sent: Sent,
    sent_count: Arc<AtomicU64>,
    delivered: Arc<AtomicU64>,
    stop_tx: watch::Sender<bool>,
    agg: tokio::task::JoinHandle<Agg>,
    cpu: CpuStart,
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl<L: Listening> End<'_, L> {
    async fn finish(
        self,
        ctx: &Ctx,
        args: &Args,
        scraped: Option<crate::server_metrics::Scrape>,
        out: &mut Outcome,
    ) -> anyhow::Result<()> {
        let End {
            listeners,
            connected,
            sent,
            sent_count,
            delivered,
            stop_tx,
            agg,
            cpu,
            bar,
            ticker,
        } = self;
        let Sent {
            ack,
            acked,
            acked_seq,
            refused,
            unanswered,
            first_send,
            last_send,
        } = sent;
        // 4. The last deliveries: wait until every listener still connected has every
        // acknowledged broadcast (but those its resumes covered), or the drain time is over.
        let seqs: Vec<u64> = acked_seq.values().copied().collect();
        let target = || -> u64 {
            listeners
                .iter()
                .flatten()
                .filter(|p| p.open())
                .map(|p| (seqs.len() - covered(&seqs, &p.resumed())) as u64)
                .sum()
        };
        let drain_end = Instant::now() + ctx.within(Duration::from_secs_f64(args.drain.max(0.0)));
        while delivered.load(Ordering::Relaxed) < target() && Instant::now() < drain_end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let deliveries_now = delivered.load(Ordering::Relaxed);
        cpu.end(ctx, deliveries_now, out);
        ticker.abort();
        bar.finish_and_clear();
        if scraped.is_some() {
            ctx.scrape_delta("broadcasting", scraped, out).await;
        }
        ctx.end_of_measurement(out);
        let _ = stop_tx.send(true);
        let agg = agg.await.context("aggregator")?;

        // 5. Checks and figures.
        let acked_set: HashSet<u32> = acked.iter().copied().collect();
        let mut complete = 0u64;
        let mut missing_open = 0u64;
        let mut missing_closed = 0u64;
        let mut covered_by_resume = 0u64;
        let mut resumed = 0u64;
        for (i, l) in listeners.iter().enumerate() {
            let Some(p) = l else { continue };
            let resumes = p.resumed();
            resumed += u64::from(!resumes.is_empty());
            let mut missing = 0u64;
            for k in acked_set
                .iter()
                .filter(|k| !agg.listeners[i].got.contains(k))
            {
                let seq = acked_seq.get(k).copied().unwrap_or(0);
                if covered(&[seq], &resumes) == 1 {
                    covered_by_resume += 1;
                } else {
                    missing += 1;
                }
            }
            if missing == 0 {
                complete += 1;
            } else if p.open() {
                missing_open += missing;
            } else {
                missing_closed += missing;
            }
        }
        out.check("broadcasts_sent", Counters::get(&sent_count));
        out.check("broadcasts_acknowledged", acked.len());
        out.check("broadcasts_refused", refused);
        out.check("broadcasts_unanswered", unanswered);
        out.check("deliveries", agg.deliveries);
        out.check(
            "deliveries_expected",
            acked.len() as u64 * connected as u64 - covered_by_resume,
        );
        out.check("listeners_resumed_elsewhere", resumed);
        out.check("covered_by_resume", covered_by_resume);
        out.check("listeners_complete", complete);
        out.check("missing_on_open_connections", missing_open);
        out.check("missing_on_closed_connections", missing_closed);
        out.check("duplicates", agg.duplicates);
        out.check("out_of_order", agg.out_of_order);
        out.check("foreign_broadcasts", agg.foreign);
        if agg.frames_measured > 0 {
            out.rates.insert(
                "broadcast_frame_bytes".into(),
                agg.frame_bytes as f64 / agg.frames_measured as f64,
            );
        }
        if missing_open > 0 {
            out.failures.push(format!(
                "{missing_open} acknowledged broadcasts never reached listeners that are still connected"
            ));
        }
        if agg.duplicates > 0 {
            out.failures
                .push(format!("{} broadcasts delivered twice", agg.duplicates));
        }
        if agg.out_of_order > 0 {
            out.failures
                .push(format!("{} events out of seq order", agg.out_of_order));
        }
        if let (Some(f0), Some(l)) = (first_send, last_send) {
            let span = l.duration_since(f0).as_secs_f64();
            out.phases.insert("broadcasting".into(), span);
            if span > 0.0 && acked.len() > 1 {
                out.rates
                    .insert("broadcasts_per_s".into(), (acked.len() - 1) as f64 / span);
            }
        }
        if let (Some(f0), Some(l)) = (first_send, agg.last_delivery) {
            let span = l.duration_since(f0).as_secs_f64();
            if span > 0.0 {
                out.rates
                    .insert("deliveries_per_s".into(), agg.deliveries as f64 / span);
            }
        }
        out.timeline_from = first_send
            .map(metrics::since_start)
            .unwrap_or_default()
            .saturating_sub(Duration::from_millis(50));
        let span = agg
            .last_delivery
            .zip(first_send)
            .map(|(l, f0)| l.saturating_duration_since(f0))
            .unwrap_or(Duration::from_secs(1));
        out.timeline_width = (span / 200).max(Duration::from_millis(50));
        out.throughput_series = Some("delivery".into());
        out.throughput_what = "deliveries to listeners".into();
        out.series.push(Series {
            name: "delivery".into(),
            what: "broadcast sent -> broadcast_sent read by a listener".into(),
            latency: agg.delivery,
        });
        out.series.push(Series {
            name: "broadcast_ack".into(),
            what: match args.target {
                Target::Convene => "broadcast sent -> its ok".into(),
                Target::Floor => "broadcast sent -> the sender's own frame back".into(),
            },
            latency: ack,
        });
        out.timed_out = ctx.timed_out();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{covered, floor_frame, parse_text};
    use convene_protocol::{Actor, Event, ServerMessage};

    #[test]
    fn a_resume_covers_what_came_between_the_last_seq_and_the_welcome() {
        assert_eq!(covered(&[5, 10, 11, 12, 20], &[(10, 12)]), 2);
        assert_eq!(covered(&[5, 10], &[]), 0);
        assert_eq!(covered(&[5, 30], &[(1, 5), (29, 31)]), 2);
    }

    #[test]
    fn broadcast_texts_carry_their_index_and_send_time() {
        assert_eq!(parse_text("LT 17 t=123456"), Some((17, 123456)));
        assert_eq!(parse_text("Bonjour à toutes et à tous"), None);
        assert_eq!(parse_text("LT x t=1"), None);
    }

    #[test]
    fn the_floor_sends_the_event_a_convene_listener_reads() {
        let frame = floor_frame(17, 2043, 0, 18);
        let msg: ServerMessage = serde_json::from_str(&frame).expect("a server message");
        // Encoded as convene encodes its messages (`serde_json::to_string`): the same bytes.
        assert_eq!(
            serde_json::to_string(&msg).ok().as_deref(),
            Some(frame.as_str())
        );
        let ServerMessage::Event { record } = msg else {
            panic!("not an event: {frame}");
        };
        assert_eq!(record.seq, 2043);
        assert_eq!(record.by, Actor::Participant("p00001".into()));
        assert_eq!(record.request.as_deref(), Some("c0-18"));
        let Event::BroadcastSent { text } = record.event else {
            panic!("not a broadcast: {frame}");
        };
        assert_eq!(parse_text(&text).map(|(k, _)| k), Some(17));
    }
}
