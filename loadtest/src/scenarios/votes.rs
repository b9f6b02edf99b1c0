//! `votes`: N citizens cast one ballot each, all at once (or spread evenly over `--over`
//! seconds), in a secret single-choice poll with live results, while a guarantor (the
//! "plenary listener") watches every `poll_tally`.
//!
//! Measured:
//! - `ack`: each ballot's `vote` request, from the moment it is handed to the socket to its
//!   `ok` (command-to-acknowledgment latency);
//! - `ballots_per_s`: ballots acknowledged over the burst, from the first send to the last ok;
//! - `ballot_to_tally`: from each ballot's send to the first `poll_tally` received by the
//!   guarantor that counts it. The server counts ballots in the order of the log, and the
//!   `ok` of a ballot carries the `seq` of its `voter_marked` event: sorting the acknowledged
//!   ballots by that seq gives the order in which the server counted them, so the k-th of
//!   them is counted by the first `poll_tally` whose `participation.voted` is at least k
//!   (only this scenario's voters vote in its poll). This is "the k-th acknowledged ballot",
//!   with the acknowledgments ordered by the server's log rather than by the arrival of the
//!   replies on different sockets (which may interleave differently).
//!
//! At the end the facilitator closes the poll: the final tally's ballots must equal the number
//! of ballots acknowledged, and its counts the choices of the acknowledged voters.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{Ballot, Command, Event, PollKind, PollSpec, Role, ServerMessage, Tally};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::{close_all, Ctx, ScenarioResult, ToOpen};
use crate::conn::{wait_reply, Participant, Received, Reply, Subscription};
use crate::metrics::{self, Latency};
use crate::organizer::{person, unique_id};
use crate::procstat;
use crate::report::{Outcome, Series};

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Citizens who vote (one connection each).
    #[arg(long, default_value_t = 1000)]
    pub voters: usize,
    /// Options of the single-choice poll; voter i chooses option i mod this.
    #[arg(long, default_value_t = 3)]
    pub options: usize,
    /// Spread the ballots over this many seconds: voter i casts at i × over / voters after
    /// the poll opens ("10,000 ballots cast within 10 seconds"). 0: all at once (a burst).
    #[arg(long, default_value_t = 0.0)]
    pub over: f64,
}

const CONTROL: Duration = Duration::from_secs(30);

/// Wait on the facilitator's channel for the event with this seq.
pub async fn event_with_seq(
    rx: &mut mpsc::UnboundedReceiver<Received>,
    seq: u64,
    within: Duration,
) -> Result<Event> {
    let wait = async {
        while let Some(r) = rx.recv().await {
            if let ServerMessage::Event { record } = r.msg {
                if record.seq == seq {
                    return Some(record.event);
                }
            }
        }
        None
    };
    tokio::time::timeout(within, wait)
        .await
        .map_err(|_| anyhow!("no event {seq} within {within:?}"))?
        .ok_or_else(|| anyhow!("connection closed before event {seq}"))
}

/// A request that must succeed: its seq.
async fn must(p: &mut Participant, command: Command, within: Duration) -> Result<u64> {
    let what = format!("{command:?}");
    let r = p.request(command, within).await?;
    r.result
        .map_err(|(code, m)| anyhow!("{what} refused: {} {m}", code.as_str()))
}

struct Tallied {
    at: Instant,
    voted: u64,
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.voters == 0 || args.options == 0 {
        bail!("--voters and --options must be at least 1");
    }
    if !(args.over.is_finite() && args.over >= 0.0) {
        bail!("--over must be a number of seconds, 0 or more");
    }
    let mut out = Outcome::new(json!(args));
    let n = args.voters;

    // 1. The convention: a facilitator, a guarantor, N citizens.
    let t = Instant::now();
    let mut roster = vec![
        person("Animatrice (load test)".into(), Role::Facilitator),
        person("Garant (load test)".into(), Role::Guarantor),
    ];
    roster.extend((0..n).map(|i| person(format!("Votant {i}"), Role::Citizen)));
    let id = unique_id("votes");
    let setup = ctx
        .organizer
        .setup(&id, "Load test: votes", &roster)
        .await
        .context("setting the convention up")?;
    out.convention = Some(id);
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());

    // 2. Connections: the facilitator and the listener first, then the voters.
    let t = Instant::now();
    let scraped = ctx.scrape().await;
    let cpu_before = ctx.server_pid.as_deref().and_then(procstat::thread_cpu_ns);
    let (ftx, mut frx) = mpsc::unbounded_channel();
    let mut fac = Participant::connect(
        &ctx.nodes,
        &setup.token(0)?,
        0,
        Some(Subscription {
            types: &["event"],
            tx: ftx,
        }),
        &ctx.shared,
        ctx.within(CONTROL),
    )
    .await
    .context("facilitator")?;
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    let listener = Participant::connect(
        &ctx.nodes,
        &setup.token(1)?,
        1,
        Some(Subscription {
            types: &["poll_tally"],
            tx: ltx,
        }),
        &ctx.shared,
        ctx.within(CONTROL),
    )
    .await
    .context("listener")?;
    if !fac.you.roles.contains(&Role::Facilitator) || !listener.you.roles.contains(&Role::Guarantor)
    {
        bail!("the welcomes do not name the roster's facilitator and guarantor");
    }
    let mut to_open = Vec::with_capacity(n);
    for i in 0..n {
        to_open.push(ToOpen {
            conn: i + 2,
            token: setup.token(i + 2)?,
            sub: None,
        });
    }
    let mut voters = ctx.connect_many(to_open, "voters").await;
    let connected = voters.iter().filter(|v| v.is_some()).count();
    // A voter the server closed meanwhile (4009, a slow consumer while everyone joined)
    // reconnects once, as PROTOCOL.md tells clients to: the new welcome resyncs it.
    let mut again = Vec::new();
    for (i, v) in voters.iter_mut().enumerate() {
        if v.as_ref().is_some_and(|p| !p.is_open()) {
            *v = None;
            again.push(i);
        }
    }
    out.check("voters_reconnected", again.len());
    if !again.is_empty() {
        let mut to_open = Vec::with_capacity(again.len());
        for &i in &again {
            to_open.push(ToOpen {
                conn: n + 2 + i,
                token: setup.token(i + 2)?,
                sub: None,
            });
        }
        let back = ctx.connect_many(to_open, "reconnects").await;
        for (i, p) in again.into_iter().zip(back) {
            voters[i] = p;
        }
    }
    let connect_s = t.elapsed().as_secs_f64();
    out.phases.insert("connect".into(), connect_s);
    if connect_s > 0.0 {
        out.rates.insert(
            "connections_per_s".into(),
            (connected + 2) as f64 / connect_s,
        );
    }
    // The server's CPU for the joins, with the presence ticks that follow the last welcome
    // (250 ms each, PROTOCOL.md §25): read after two of them.
    tokio::time::sleep(Duration::from_millis(600)).await;
    if let (Some(b), Some(a)) = (
        cpu_before,
        ctx.server_pid.as_deref().and_then(procstat::thread_cpu_ns),
    ) {
        let ms = a.saturating_sub(b) as f64 / 1e6;
        out.rates.insert("server_cpu_ms_joins".into(), ms);
        out.rates.insert(
            "server_cpu_us_per_join".into(),
            ms * 1000.0 / (connected + 2).max(1) as f64,
        );
    }
    ctx.scrape_delta("connect", scraped, &mut out).await;
    out.check("voters", n);
    out.check("voters_connected", connected);
    out.check(
        "voters_connected_at_burst",
        voters.iter().filter(|v| v.is_some()).count(),
    );
    if ctx.timed_out() {
        out.timed_out = true;
        return Ok(out);
    }

    // 3. The poll: drafted (its id is in the poll_drafted event whose seq is the ok's), opened.
    let spec = PollSpec {
        question: "Quelle priorité pour la métropole ? (test de charge)".into(),
        kind: PollKind::Single {
            options: (0..args.options)
                .map(|i| format!("Option {}", i + 1))
                .collect(),
        },
        secret: true,
        live_results: true,
        voters: vec![],
        quorum: None,
        duration_ms: None,
        room: None,
    };
    let seq = must(&mut fac, Command::DraftPoll { spec }, ctx.within(CONTROL)).await?;
    let Event::PollDrafted { poll, .. } =
        event_with_seq(&mut frx, seq, ctx.within(CONTROL)).await?
    else {
        bail!("event {seq} is not poll_drafted");
    };
    must(
        &mut fac,
        Command::OpenPoll { poll: poll.clone() },
        ctx.within(CONTROL),
    )
    .await?;
    // Tallies sent before the burst (the opening) are not ballots.
    while lrx.try_recv().is_ok() {}

    // 4. The burst: every voter's task waits for the signal (the start), then sends its vote
    // at once, or at its own moment of the `--over` window, measured from the start.
    let (go_tx, go_rx) = watch::channel(None::<tokio::time::Instant>);
    let ready = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(connected);
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    for (i, v) in voters.into_iter().enumerate() {
        let Some(mut p) = v else { continue };
        let mut go = go_rx.clone();
        let ready = ready.clone();
        let done = done.clone();
        let poll = poll.clone();
        let errors = ctx.shared.errors.clone();
        let choice = (i % args.options) as u32;
        let offset = Duration::from_secs_f64(args.over * i as f64 / n as f64);
        tasks.push(tokio::spawn(async move {
            ready.fetch_add(1, Ordering::Relaxed);
            let start = go.wait_for(Option::is_some).await.ok().and_then(|g| *g);
            if let Some(start) = start {
                tokio::time::sleep_until(start + offset).await;
            }
            let sent = p
                .send(Command::Vote {
                    poll,
                    ballot: Ballot::Single { choice },
                })
                .await;
            let reply = match sent {
                Ok(rx) => {
                    let within = deadline.saturating_duration_since(tokio::time::Instant::now());
                    wait_reply(rx, within, &errors).await.ok()
                }
                Err(_) => None,
            };
            done.fetch_add(1, Ordering::Relaxed);
            (p, choice, reply)
        }));
    }
    while ready.load(Ordering::Relaxed) < tasks.len() && !ctx.timed_out() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let scraped = ctx.scrape().await;
    let bar = ctx.bar(tasks.len() as u64, "ballots");
    let _ = go_tx.send(Some(tokio::time::Instant::now()));
    let total = tasks.len();
    let ticker = {
        let bar = bar.clone();
        let done = done.clone();
        tokio::spawn(async move {
            loop {
                let d = done.load(Ordering::Relaxed);
                bar.set_position(d as u64);
                if d >= total {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut results: Vec<(Participant, u32, Option<Reply>)> = Vec::with_capacity(total);
    for t in tasks {
        if let Ok(r) = t.await {
            results.push(r);
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    ctx.scrape_delta("burst", scraped, &mut out).await;

    // 5. Acknowledgments.
    let mut ack = Latency::new();
    let mut acked: Vec<(u64, Instant, Instant, u32)> = Vec::new(); // (seq, sent, at, choice)
    let mut refused = 0u64;
    let mut unanswered = 0u64;
    let mut first_send: Option<Instant> = None;
    let mut last_send: Option<Instant> = None;
    for (_, choice, reply) in &results {
        match reply {
            Some(r) => {
                first_send = Some(first_send.map_or(r.sent, |f: Instant| f.min(r.sent)));
                last_send = Some(last_send.map_or(r.sent, |f: Instant| f.max(r.sent)));
                match r.result {
                    Ok(seq) => {
                        ack.record(r.latency(), r.at);
                        acked.push((seq, r.sent, r.at, *choice));
                    }
                    Err(_) => refused += 1,
                }
            }
            None => unanswered += 1,
        }
    }
    let last_ok = acked.iter().map(|a| a.2).max();
    if let (Some(f), Some(l)) = (first_send, last_ok) {
        let span = l.duration_since(f).as_secs_f64();
        out.phases.insert("burst".into(), span);
        if span > 0.0 {
            out.rates
                .insert("ballots_per_s".into(), acked.len() as f64 / span);
        }
    }
    if let (Some(f), Some(l)) = (first_send, last_send) {
        out.check(
            "send_spread_ms",
            (l.duration_since(f).as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        );
    }
    out.check("acknowledged", acked.len());
    out.check("refused", refused);
    out.check("unanswered", unanswered);

    // 6. Close the poll; the final tally must count exactly the acknowledged ballots.
    let mut final_tally: Option<Tally> = None;
    if !ctx.timed_out() {
        match must(
            &mut fac,
            Command::ClosePoll { poll: poll.clone() },
            ctx.within(CONTROL),
        )
        .await
        {
            Ok(seq) => match event_with_seq(&mut frx, seq, ctx.within(CONTROL)).await {
                Ok(Event::PollClosed { tally, .. }) => final_tally = tally,
                Ok(other) => out
                    .failures
                    .push(format!("event {seq} is not poll_closed: {other:?}")),
                Err(e) => out.failures.push(format!("closing the poll: {e:#}")),
            },
            Err(e) => out.failures.push(format!("closing the poll: {e:#}")),
        }
    }
    let acked_n = acked.len() as u64;
    match &final_tally {
        Some(t) => {
            out.check("final_tally_ballots", t.ballots);
            out.check("final_tally_counts", &t.counts);
            let mut expected = vec![0u64; args.options];
            for a in &acked {
                expected[a.3 as usize] += 1;
            }
            out.check("expected_counts", &expected);
            if t.ballots != acked_n {
                out.failures.push(format!(
                    "the final tally counts {} ballots, {acked_n} were acknowledged ({unanswered} unanswered)",
                    t.ballots
                ));
            } else if t.counts != expected {
                out.failures.push(format!(
                    "the final tally's counts {:?} are not the acknowledged choices {expected:?}",
                    t.counts
                ));
            }
        }
        None => {
            out.check("final_tally_ballots", serde_json::Value::Null);
            if !ctx.timed_out() {
                out.failures
                    .push("no final tally in the poll_closed event".to_string());
            }
        }
    }

    // 7. Ballot to tally, from the listener's tallies (in the order it read them).
    let mut tallies: Vec<Tallied> = Vec::new();
    let gather = |tallies: &mut Vec<Tallied>, lrx: &mut mpsc::UnboundedReceiver<Received>| {
        while let Ok(r) = lrx.try_recv() {
            if let ServerMessage::PollTally {
                poll: p,
                participation,
                tally,
            } = r.msg
            {
                if p == poll {
                    let voted = participation
                        .map(|x| x.voted)
                        .or(tally.map(|t| t.ballots))
                        .unwrap_or(0);
                    tallies.push(Tallied { at: r.at, voted });
                }
            }
        }
    };
    // The tally that counts the last ballots may still be on its way to the listener.
    let wait_until = Instant::now() + ctx.within(Duration::from_secs(5));
    loop {
        gather(&mut tallies, &mut lrx);
        let top = tallies.iter().map(|t| t.voted).max().unwrap_or(0);
        if top >= acked_n || Instant::now() >= wait_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acked.sort_by_key(|a| a.0);
    let mut to_tally = Latency::new();
    let mut without_tally = 0u64;
    let mut j = 0;
    for (k, a) in acked.iter().enumerate() {
        let k = k as u64 + 1;
        while j < tallies.len() && tallies[j].voted < k {
            j += 1;
        }
        match tallies.get(j) {
            Some(t) => to_tally.record(t.at.saturating_duration_since(a.1), t.at),
            None => without_tally += 1,
        }
    }
    let listener_last = tallies.last().map(|t| t.voted).unwrap_or(0);
    out.check("tallies_received_by_listener", tallies.len());
    out.check("listener_last_voted", listener_last);
    out.check("ballots_without_tally", without_tally);
    if without_tally > 0 && !ctx.timed_out() {
        out.failures.push(format!(
            "{without_tally} acknowledged ballots never appeared in a tally the listener received"
        ));
    }

    out.timeline_from = first_send
        .map(metrics::since_start)
        .unwrap_or_default()
        .saturating_sub(Duration::from_millis(10));
    let span = last_ok
        .zip(first_send)
        .map(|(l, f)| l.duration_since(f))
        .unwrap_or(Duration::from_secs(1));
    out.timeline_width = (span / 100).max(Duration::from_millis(5));
    out.throughput_series = Some("ack".into());
    out.throughput_what = "ballots acknowledged".into();
    out.series.push(Series {
        name: "ack".into(),
        what: "vote sent -> its ok".into(),
        latency: ack,
    });
    out.series.push(Series {
        name: "ballot_to_tally".into(),
        what: "vote sent -> first poll_tally at the listener counting it".into(),
        latency: to_tally,
    });
    out.timed_out = out.timed_out || ctx.timed_out();

    ctx.end_of_measurement(&mut out);
    let mut all: Vec<Participant> = results.into_iter().map(|r| r.0).collect();
    all.push(fac);
    all.push(listener);
    close_all(all, Duration::from_secs(5)).await;
    Ok(out)
}
