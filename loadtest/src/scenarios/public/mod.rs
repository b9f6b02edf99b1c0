//! `public`: N public viewers watch a convention's plenary (PROTOCOL.md §24) while M members
//! are connected; a facilitator gives the floor, then sends B announcements `--interval-ms`
//! apart. Measured: the delivery latency to viewers (p50/p99, and per announcement), the
//! servers' memory per viewer, and the CPU of the load tester (this process and its worker
//! processes) beside the servers', for the connection phase and the broadcast phase apart.
//!
//! The viewers are held by `--procs` worker processes (this binary run again as
//! `convene-loadtest __public-worker`, each limited to 20,000 open files), so that the tester
//! is not the bottleneck: one thread each, a viewer is a task of a few KiB that looks at a
//! frame without parsing it (`scan`). Each announcement's text carries the wall-clock time it
//! was sent (µs since the epoch; every process runs on this machine): a viewer's latency is
//! the time it read the first `public_view` holding it minus that. Every viewer is connected,
//! and the counts have settled (`--settle-ms`), before the floor is given; the floor's latency
//! is measured from the server's own timestamp of the turn (`floor.since`, ms).
//!
//! Checked: every viewer still connected received every acknowledged announcement and the
//! floor.
//!
//! With `--answer F` (a fraction of the viewers), the facilitator then opens a public poll
//! (§24): each answering viewer, on seeing it, sends one `public_vote` (its own browser id) at
//! a moment spread over `--answer-over` seconds, and measures the time to its
//! `public_voted` (acknowledged once durable). Checked: every answer acknowledged, and the
//! poll's tally (`GET /public-polls` after the close) holds exactly the acknowledged ones.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use convene_protocol::{Command, Role};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{close_all, Ctx, ScenarioResult, ToOpen};
use crate::conn::wait_reply;
use crate::metrics::Latency;
use crate::organizer::{person, unique_id};
use crate::procstat::Reading;
use crate::report::{Outcome, Series};

// The viewers' side: the worker processes.
mod worker;
pub use worker::worker_main;

/// The first argument that makes this binary a worker of this scenario.
pub const WORKER: &str = "__public-worker";
/// Viewers one worker process holds at most (each process may open 20,000 files).
const PER_PROC: usize = 15_000;
/// Announcements a run may send (a viewer keeps the ones it got in a `u64`).
const MAX_BROADCASTS: usize = 64;

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Public viewers (one WebSocket each).
    #[arg(long, default_value_t = 2000)]
    pub viewers: usize,
    /// Members connected meanwhile (one facilitator, the rest citizens).
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Announcements sent (after the floor is given), at most 64.
    #[arg(long, default_value_t = 5)]
    pub broadcasts: usize,
    /// Milliseconds between the floor and the first announcement, and between two
    /// announcements.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Milliseconds to wait once every viewer is connected, before the floor: the counts
    /// settle (once a second per node) and the viewers are idle when the broadcasts start.
    #[arg(long, default_value_t = 3000)]
    pub settle_ms: u64,
    /// Worker processes holding the viewers (default: one per 15,000 viewers).
    #[arg(long)]
    pub procs: Option<usize>,
    /// Seconds to wait, after the last announcement, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Fraction of the viewers that answer a public poll opened after the announcements
    /// (0: no poll).
    #[arg(long, default_value_t = 0.0)]
    pub answer: f64,
    /// Seconds over which the answers are spread (each viewer picks its moment at random).
    #[arg(long, default_value_t = 10.0)]
    pub answer_over: f64,
    /// Process ids of the nodes, comma-separated, in the order of `--url`: each node's
    /// memory per viewer and its CPU per phase (default: `--server-pid`, the first node).
    #[arg(long)]
    pub node_pids: Option<String>,
}

/// What a worker prints last: its measurements.
#[derive(Serialize, Deserialize, Default)]
struct WorkerReport {
    opened: usize,
    /// Viewers opened on each node (the index of its URL).
    opened_per_node: Vec<usize>,
    failed: usize,
    /// Viewers closed by the server before the end, and those of them that had not got
    /// everything yet.
    closed: usize,
    closed_incomplete: usize,
    /// Per node n and announcement k (at `n * broadcasts + k`): the latencies (µs) of the
    /// viewers of that node that got it.
    delivery_us: Vec<Vec<u64>>,
    floor_us: Vec<u64>,
    /// Viewers that got every announcement and the floor.
    complete: usize,
    frames: u64,
    bytes: u64,
    /// Frames looked into (views before the viewer had everything).
    scanned: u64,
    /// Public poll: viewers that were to answer and saw the poll, answers acknowledged
    /// (`public_voted`) with their latencies (µs), answers refused (and why, the first few).
    answering: usize,
    answered: usize,
    answer_us: Vec<u64>,
    refused: usize,
    refusals: Vec<String>,
    /// CPU and memory of the worker once its viewers were connected, and at the end.
    cpu_ready_s: f64,
    rss_ready_kib: u64,
    cpu_s: f64,
    rss_kib: u64,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `PUB <k> t=<µs since the epoch>` → (k, µs).
fn parse_text(text: &str) -> Option<(usize, u64)> {
    let mut it = text.split_whitespace();
    if it.next()? != "PUB" {
        return None;
    }
    let k = it.next()?.parse().ok()?;
    let us = it.next()?.strip_prefix("t=")?.parse().ok()?;
    Some((k, us))
}

/// The `/public/ws` URL of a `/ws` URL.
fn public_ws(ws: &str) -> String {
    format!("{}/public/ws", ws.trim_end_matches("/ws"))
}

/// A node's process read at the three moments of a run.
struct Node {
    pid: String,
    before: Option<Reading>,
    ready: Option<Reading>,
    end: Option<Reading>,
}

fn cpu_between(a: &Option<Reading>, b: &Option<Reading>) -> Option<f64> {
    Some(b.as_ref()?.cpu_s - a.as_ref()?.cpu_s)
}

/// Min, p50, p99 and max of latencies in µs, as ms (rounded to 0.1).
fn quantiles_ms(us: &mut [u64]) -> [f64; 4] {
    if us.is_empty() {
        return [0.0; 4];
    }
    us.sort_unstable();
    let at = |q: f64| {
        let i = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        (us[i] as f64 / 100.0).round() / 10.0
    };
    [at(0.0), at(0.5), at(0.99), at(1.0)]
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.viewers == 0 || args.members == 0 {
        bail!("--viewers and --members must be positive");
    }
    if args.broadcasts > MAX_BROADCASTS {
        bail!("--broadcasts: at most {MAX_BROADCASTS}");
    }
    if !(0.0..=1.0).contains(&args.answer) || args.answer_over.is_nan() || args.answer_over < 0.0 {
        bail!("--answer is a fraction from 0 to 1, --answer-over a number of seconds");
    }
    let procs = args
        .procs
        .unwrap_or(args.viewers.div_ceil(PER_PROC))
        .clamp(1, args.viewers);
    let mut out = Outcome::new(json!({
        "viewers": args.viewers,
        "members": args.members,
        "broadcasts": args.broadcasts,
        "interval_ms": args.interval_ms,
        "settle_ms": args.settle_ms,
        "procs": procs,
        "answer": args.answer,
        "answer_over": args.answer_over,
    }));
    let pids: Vec<String> = match &args.node_pids {
        Some(list) => list
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        None => ctx.server_pid.iter().cloned().collect(),
    };

    // 1. The convention and its public link.
    let t = Instant::now();
    let mut roster = vec![person("Animatrice (load test)".into(), Role::Facilitator)];
    roster.extend((1..args.members).map(|i| person(format!("Citoyen {i}"), Role::Citizen)));
    let id = unique_id("public");
    let setup = ctx
        .organizer
        .setup(&id, "Load test: public plenary", &roster)
        .await
        .context("setting the convention up")?;
    let link: convene_protocol::PublicLink = ctx
        .organizer
        .post(&format!("/api/conventions/{id}/public-link"), &json!({}))
        .await
        .context("making the public link")?;
    out.convention = Some(id);
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());

    // 2. The members.
    let members: Vec<ToOpen> = (0..args.members)
        .map(|i| {
            Ok(ToOpen {
                conn: i,
                token: setup.token(i)?,
                sub: None,
            })
        })
        .collect::<Result<_>>()?;
    let members = ctx.connect_many(members, "members").await;
    if members.iter().any(Option::is_none) {
        bail!("a member could not connect");
    }
    let mut members: Vec<_> = members.into_iter().flatten().collect();

    // 3. The viewers, in worker processes.
    let mut nodes: Vec<Node> = pids
        .into_iter()
        .map(|pid| Node {
            before: crate::procstat::read(&pid),
            pid,
            ready: None,
            end: None,
        })
        .collect();
    let self_before = crate::procstat::read("self");
    let t = Instant::now();
    let scraped = ctx.scrape().await;
    let urls: Vec<String> = ctx.nodes.ws.iter().map(|w| public_ws(w)).collect();
    let exe = std::env::current_exe().context("this binary's path")?;
    let mut workers = Vec::with_capacity(procs);
    for w in 0..procs {
        let share = args.viewers / procs + usize::from(w < args.viewers % procs);
        let mut child = tokio::process::Command::new(&exe)
            .arg(WORKER)
            .env("CONVENE_LT_PUBLIC_URLS", urls.join(","))
            .env("CONVENE_LT_PUBLIC_LINK", &link.token)
            .env("CONVENE_LT_PUBLIC_VIEWERS", share.to_string())
            .env("CONVENE_LT_PUBLIC_OFFSET", w.to_string())
            .env("CONVENE_LT_PUBLIC_EXPECT", args.broadcasts.to_string())
            .env(
                "CONVENE_LT_PUBLIC_CONCURRENCY",
                (ctx.connect_concurrency / procs).max(8).to_string(),
            )
            .env(
                "CONVENE_LT_PUBLIC_SECONDS",
                ctx.left().as_secs().to_string(),
            )
            .env("CONVENE_LT_PUBLIC_DRAIN", args.drain.to_string())
            .env("CONVENE_LT_PUBLIC_ANSWER", args.answer.to_string())
            .env(
                "CONVENE_LT_PUBLIC_ANSWER_OVER",
                args.answer_over.to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker process")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        workers.push((child, BufReader::new(stdout).lines()));
    }
    let mut opened = 0usize;
    for (_, lines) in workers.iter_mut() {
        let line = tokio::time::timeout(ctx.within(Duration::from_secs(600)), lines.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten())
            .unwrap_or_default();
        opened += line
            .strip_prefix("ready ")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
    }
    let connect_s = t.elapsed().as_secs_f64();
    out.phases.insert("connect_viewers".into(), connect_s);
    ctx.scrape_delta("connect", scraped, &mut out).await;
    out.check("viewers", args.viewers);
    out.check("viewers_connected", opened);
    // Idle viewers: the counts settle (and the servers' memory with them) before the floor.
    tokio::time::sleep(ctx.within(Duration::from_millis(args.settle_ms))).await;
    for n in nodes.iter_mut() {
        n.ready = crate::procstat::read(&n.pid);
    }
    let self_ready = crate::procstat::read("self");
    out.phases
        .insert("settle".into(), t.elapsed().as_secs_f64() - connect_s);

    // 4. The floor, then the announcements.
    let t = Instant::now();
    let scraped = ctx.scrape().await;
    let mut ack = Latency::new();
    if members.len() > 1 {
        let speaker_id = setup.ids[1].clone();
        let rx = members[1].send(Command::RaiseHand { room: None }).await?;
        wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors).await?;
        let rx = members[0]
            .send(Command::GiveFloor {
                room: None,
                participant: Some(speaker_id),
                limit_ms: Some(Some(300_000)),
            })
            .await?;
        wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors).await?;
    }
    let mut acked = 0usize;
    for k in 0..args.broadcasts {
        tokio::time::sleep(ctx.within(Duration::from_millis(args.interval_ms))).await;
        let text = format!("PUB {k} t={}", now_us());
        let rx = members[0].send(Command::Broadcast { text }).await?;
        if let Ok(r) = wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors).await
        {
            if r.result.is_ok() {
                acked += 1;
                ack.record(r.latency(), r.at);
            }
        }
    }
    out.check("broadcasts_acknowledged", acked);

    // 4b. The public poll: opened, answered over `--answer-over` seconds by the workers'
    // viewers, closed once the workers have reported.
    let poll_opened = if args.answer > 0.0 {
        let rx = members[0]
            .send(Command::OpenPublicPoll {
                question: "Load test: public poll".into(),
                options: vec!["A".into(), "B".into(), "C".into()],
            })
            .await?;
        let r = wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors).await?;
        if let Err(e) = &r.result {
            bail!("the public poll could not be opened: {e:?}");
        }
        tokio::time::sleep(ctx.within(Duration::from_secs_f64(args.answer_over + 1.0))).await;
        true
    } else {
        false
    };

    // 5. The workers' reports (they stop once every viewer has everything, or at the drain).
    let drain = ctx.within(Duration::from_secs_f64(args.drain.max(0.0)));
    let mut total = WorkerReport {
        opened_per_node: vec![0; urls.len()],
        delivery_us: vec![Vec::new(); args.broadcasts * urls.len()],
        ..Default::default()
    };
    let mut delivery = Latency::new();
    let mut floor = Latency::new();
    for (child, lines) in workers.iter_mut() {
        // Closing stdin says: the last announcement is sent; finish within the drain.
        drop(child.stdin.take());
        let report = tokio::time::timeout(drain + Duration::from_secs(5), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(r) = serde_json::from_str::<WorkerReport>(&line) {
                    return Some(r);
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(r) = report else {
            out.failures.push("a worker process gave no report".into());
            continue;
        };
        let now = Instant::now();
        for (i, us) in r.delivery_us.iter().enumerate() {
            for us in us {
                delivery.record(Duration::from_micros(*us), now);
            }
            if let Some(all) = total.delivery_us.get_mut(i) {
                all.extend_from_slice(us);
            }
        }
        for us in &r.floor_us {
            floor.record(Duration::from_micros(*us), now);
        }
        for (i, n) in r.opened_per_node.iter().enumerate() {
            if let Some(all) = total.opened_per_node.get_mut(i) {
                *all += n;
            }
        }
        total.opened += r.opened;
        total.failed += r.failed;
        total.closed += r.closed;
        total.closed_incomplete += r.closed_incomplete;
        total.complete += r.complete;
        total.frames += r.frames;
        total.bytes += r.bytes;
        total.scanned += r.scanned;
        total.answering += r.answering;
        total.answered += r.answered;
        total.refused += r.refused;
        total.answer_us.extend_from_slice(&r.answer_us);
        if total.refusals.len() < 5 {
            total.refusals.extend(r.refusals.into_iter().take(5));
        }
        total.cpu_ready_s += r.cpu_ready_s;
        total.cpu_s += r.cpu_s;
        total.rss_ready_kib += r.rss_ready_kib;
        total.rss_kib += r.rss_kib;
    }
    for (mut child, _) in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    }
    for n in nodes.iter_mut() {
        n.end = crate::procstat::read(&n.pid);
    }
    let self_end = crate::procstat::read("self");
    out.phases
        .insert("broadcasting".into(), t.elapsed().as_secs_f64());
    ctx.scrape_delta("broadcasting", scraped, &mut out).await;
    ctx.end_of_measurement(&mut out);

    out.check("viewers_failed", total.failed);
    out.check("viewers_closed_by_server", total.closed);
    out.check("viewers_closed_incomplete", total.closed_incomplete);
    out.check("viewers_complete", total.complete);
    out.check("viewers_per_node", &total.opened_per_node);
    out.check("deliveries", delivery.summary().count);
    out.check("deliveries_expected", (acked * total.opened) as u64);
    // Per announcement (every node), and per node and announcement: where the time goes.
    let per_k: Vec<f64> = (0..args.broadcasts)
        .map(|k| {
            let mut all: Vec<u64> = total
                .delivery_us
                .iter()
                .skip(k)
                .step_by(args.broadcasts.max(1))
                .flatten()
                .copied()
                .collect();
            quantiles_ms(&mut all)[2]
        })
        .collect();
    out.check("delivery_p99_ms_per_broadcast", per_k);
    out.check(
        "delivery_ms_per_node_broadcast_min_p50_p99_max",
        total
            .delivery_us
            .chunks(args.broadcasts.max(1))
            .map(|node| {
                node.iter()
                    .map(|us| quantiles_ms(&mut us.clone()))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>(),
    );
    if poll_opened {
        let rx = members[0]
            .send(Command::ClosePublicPoll { poll: "pp1".into() })
            .await?;
        let closed = wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors)
            .await
            .is_ok_and(|r| r.result.is_ok());
        let polls: convene_protocol::PublicPolls = ctx
            .organizer
            .get_json(&format!(
                "/api/conventions/{}/public-polls",
                out.convention.clone().unwrap_or_default()
            ))
            .await
            .context("reading the public polls")?;
        let ballots = polls.polls.first().map_or(0, |p| p.tally.ballots);
        out.check("answers_expected", total.answering);
        out.check("answers_acknowledged", total.answered);
        out.check("answers_refused", total.refused);
        out.check("public_poll_closed", closed);
        out.check("public_poll_ballots", ballots);
        if !total.refusals.is_empty() {
            out.check("answers_refused_first", &total.refusals);
        }
        if total.answered != total.answering {
            out.failures.push(format!(
                "{} of {} answers acknowledged",
                total.answered, total.answering
            ));
        }
        if ballots != total.answered as u64 {
            out.failures.push(format!(
                "the tally holds {ballots} answers, {} were acknowledged",
                total.answered
            ));
        }
        let mut answer = Latency::new();
        let now = Instant::now();
        for us in &total.answer_us {
            answer.record(Duration::from_micros(*us), now);
        }
        if args.answer_over > 0.0 {
            out.rates.insert(
                "answers_per_s".into(),
                total.answered as f64 / args.answer_over,
            );
        }
        out.series.push(Series {
            name: "public_answer_ack".into(),
            what: "public_vote sent -> its public_voted (durable)".into(),
            latency: answer,
        });
    }
    out.check("viewer_frames", total.frames);
    out.check("viewer_frames_scanned", total.scanned);
    out.check("viewer_bytes", total.bytes);

    // CPU by phase: connecting the viewers (and settling), then the floor and broadcasts.
    let self_connect = cpu_between(&self_before, &self_ready);
    let self_broadcast = cpu_between(&self_ready, &self_end);
    let workers_connect = total.cpu_ready_s;
    let workers_broadcast = total.cpu_s - total.cpu_ready_s;
    let mut node_rows = Vec::new();
    let mut per_viewer_max: Option<f64> = None;
    for (i, n) in nodes.iter().enumerate() {
        let held = total.opened_per_node.get(i).copied().unwrap_or(0);
        let per = match (&n.before, &n.ready) {
            (Some(b), Some(h)) if held > 0 => {
                Some(h.rss_kib.saturating_sub(b.rss_kib) as f64 * 1024.0 / held as f64)
            }
            _ => None,
        };
        if let Some(p) = per {
            per_viewer_max = Some(per_viewer_max.map_or(p, |m: f64| m.max(p)));
        }
        node_rows.push(json!({
            "pid": n.pid,
            "viewers": held,
            "rss_before_kib": n.before.map(|r| r.rss_kib),
            "rss_held_kib": n.ready.map(|r| r.rss_kib),
            "bytes_per_viewer": per,
            "cpu_connect_s": cpu_between(&n.before, &n.ready),
            "cpu_broadcast_s": cpu_between(&n.ready, &n.end),
        }));
    }
    if let Some(p) = per_viewer_max {
        out.rates.insert("server_bytes_per_viewer".into(), p);
    }
    let servers_connect: f64 = nodes
        .iter()
        .filter_map(|n| cpu_between(&n.before, &n.ready))
        .sum();
    let servers_broadcast: f64 = nodes
        .iter()
        .filter_map(|n| cpu_between(&n.ready, &n.end))
        .sum();
    out.check("nodes", node_rows);
    out.check(
        "cpu_s",
        json!({
            "connect": {
                "servers": servers_connect,
                "workers": workers_connect,
                "tester_main": self_connect,
            },
            "broadcast": {
                "servers": servers_broadcast,
                "workers": workers_broadcast,
                "tester_main": self_broadcast,
            },
        }),
    );
    out.check("workers_cpu_s", total.cpu_s);
    out.check("workers_rss_kib", total.rss_kib);
    out.check("workers_rss_ready_kib", total.rss_ready_kib);
    out.notes.push(format!(
        "CPU, connecting {opened} viewers: servers {servers_connect:.2} s ({} node(s) read), tester {:.2} s ({procs} worker(s) {workers_connect:.2} + main {:.2}); \
         floor and {acked} broadcasts: servers {servers_broadcast:.2} s, tester {:.2} s (workers {workers_broadcast:.2} + main {:.2})",
        nodes.len(),
        workers_connect + self_connect.unwrap_or(0.0),
        self_connect.unwrap_or(0.0),
        workers_broadcast + self_broadcast.unwrap_or(0.0),
        self_broadcast.unwrap_or(0.0),
    ));
    if opened > 0 {
        out.notes.push(format!(
            "the tester's workers hold {:.1} KiB per viewer",
            total.rss_ready_kib as f64 / opened as f64
        ));
    }
    let missing = total.opened.saturating_sub(total.complete);
    if missing > total.closed_incomplete {
        out.failures.push(format!(
            "{} viewers still connected missed an announcement or the floor",
            missing - total.closed_incomplete
        ));
    }
    out.series.push(Series {
        name: "public_delivery".into(),
        what: "announcement sent -> public_view holding it read by a viewer".into(),
        latency: delivery,
    });
    out.series.push(Series {
        name: "public_floor".into(),
        what: "floor given (server's timestamp) -> public_view with the speaker read by a viewer"
            .into(),
        latency: floor,
    });
    out.series.push(Series {
        name: "broadcast_ack".into(),
        what: "broadcast sent -> its ok".into(),
        latency: ack,
    });
    out.timed_out = ctx.timed_out();
    close_all(std::mem::take(&mut members), Duration::from_secs(5)).await;
    Ok(out)
}
