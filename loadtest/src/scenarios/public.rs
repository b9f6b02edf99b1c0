//! `public`: N public viewers watch a convention's plenary (PROTOCOL.md §24) while M members
//! are connected; a facilitator gives the floor, then sends B announcements. Measured: the
//! delivery latency to viewers (p50/p99), the server's memory per viewer, and the CPU of the
//! load tester (this process and its worker processes) beside the server's.
//!
//! The viewers are held by `--procs` worker processes (this binary run again as
//! `convene-loadtest __public-worker`, each limited to 20,000 open files), so that the tester
//! is not the bottleneck. Each announcement's text carries the wall-clock time it was sent
//! (µs since the epoch; every process runs on this machine): a viewer's latency is the time it
//! read the first `public_view` holding it minus that. The floor's latency is measured from
//! the server's own timestamp of the turn (`floor.since`, ms).
//!
//! Checked: every viewer still connected received every acknowledged announcement and the
//! floor.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use convene_protocol::{Command, PublicClientMessage, PublicServerMessage, Role};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use super::{close_all, Ctx, ScenarioResult, ToOpen};
use crate::conn::wait_reply;
use crate::metrics::Latency;
use crate::organizer::{person, unique_id};
use crate::report::{Outcome, Series};

/// The first argument that makes this binary a worker of this scenario.
pub const WORKER: &str = "__public-worker";
/// Viewers one worker process holds at most (each process may open 20,000 files).
const PER_PROC: usize = 15_000;

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Public viewers (one WebSocket each).
    #[arg(long, default_value_t = 2000)]
    pub viewers: usize,
    /// Members connected meanwhile (one facilitator, the rest citizens).
    #[arg(long, default_value_t = 20)]
    pub members: usize,
    /// Announcements sent (after the floor is given).
    #[arg(long, default_value_t = 5)]
    pub broadcasts: usize,
    /// Milliseconds between two announcements.
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    /// Worker processes holding the viewers (default: one per 15,000 viewers).
    #[arg(long)]
    pub procs: Option<usize>,
    /// Seconds to wait, after the last announcement, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
}

/// What a worker prints last: its measurements.
#[derive(Serialize, Deserialize, Default)]
struct WorkerReport {
    opened: usize,
    failed: usize,
    /// Viewers closed by the server before the end.
    closed: usize,
    /// Per announcement k: the latencies (µs) of the viewers that got it.
    delivery_us: Vec<u64>,
    floor_us: Vec<u64>,
    /// Viewers that got every announcement and the floor.
    complete: usize,
    frames: u64,
    bytes: u64,
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

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.viewers == 0 || args.members == 0 {
        bail!("--viewers and --members must be positive");
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
        "procs": procs,
    }));

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
    let rss_before = ctx.server_pid.as_deref().and_then(crate::procstat::read);
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
    // The server's memory per viewer: once the count has settled.
    tokio::time::sleep(ctx.within(Duration::from_millis(1500))).await;
    let rss_held = ctx.server_pid.as_deref().and_then(crate::procstat::read);
    if let (Some(b), Some(h)) = (&rss_before, &rss_held) {
        if opened > 0 {
            let per = (h.rss_kib.saturating_sub(b.rss_kib)) as f64 * 1024.0 / opened as f64;
            out.rates.insert("server_bytes_per_viewer".into(), per);
        }
    }

    // 4. The floor, then the announcements.
    let scraped = ctx.scrape().await;
    let mut ack = Latency::new();
    if members.len() > 1 {
        let speaker_id = setup.ids[1].clone();
        let rx = members[1].send(Command::RaiseHand).await?;
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
        let text = format!("PUB {k} t={}", now_us());
        let rx = members[0].send(Command::Broadcast { text }).await?;
        if let Ok(r) = wait_reply(rx, ctx.within(Duration::from_secs(10)), &ctx.shared.errors).await
        {
            if r.result.is_ok() {
                acked += 1;
                ack.record(r.latency(), r.at);
            }
        }
        tokio::time::sleep(ctx.within(Duration::from_millis(args.interval_ms))).await;
    }
    out.check("broadcasts_acknowledged", acked);

    // 5. The workers' reports (they stop once every viewer has everything, or at the drain).
    let drain = ctx.within(Duration::from_secs_f64(args.drain.max(0.0)));
    let mut total = WorkerReport::default();
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
        for us in &r.delivery_us {
            delivery.record(Duration::from_micros(*us), now);
        }
        for us in &r.floor_us {
            floor.record(Duration::from_micros(*us), now);
        }
        total.opened += r.opened;
        total.failed += r.failed;
        total.closed += r.closed;
        total.complete += r.complete;
        total.frames += r.frames;
        total.bytes += r.bytes;
        total.cpu_s += r.cpu_s;
        total.rss_kib += r.rss_kib;
    }
    for (mut child, _) in workers {
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    }
    ctx.scrape_delta("broadcasting", scraped, &mut out).await;
    ctx.end_of_measurement(&mut out);

    out.check("viewers_failed", total.failed);
    out.check("viewers_closed_by_server", total.closed);
    out.check("viewers_complete", total.complete);
    out.check("deliveries", delivery.summary().count);
    out.check("deliveries_expected", (acked * total.opened) as u64);
    out.check("viewer_frames", total.frames);
    out.check("viewer_bytes", total.bytes);
    out.check("workers_cpu_s", total.cpu_s);
    out.check("workers_rss_kib", total.rss_kib);
    out.notes.push(format!(
        "the load tester's own CPU: {:.2} s in {procs} worker process(es) holding the viewers, beside this process's (below)",
        total.cpu_s
    ));
    if total.complete < total.opened.saturating_sub(total.closed) {
        out.failures.push(format!(
            "{} viewers still connected missed an announcement or the floor",
            total.opened - total.closed - total.complete
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

/// A worker process: hold `CONVENE_LT_PUBLIC_VIEWERS` viewers, print `ready N`, measure, and
/// print a `WorkerReport` as one JSON line once every viewer has everything (or stdin closed
/// and the drain passed, or the time is up).
pub fn worker_main() -> i32 {
    let _ = crate::procstat::raise_nofile_limit();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("public worker: {e}");
            return 3;
        }
    };
    match rt.block_on(worker()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("public worker: {e:#}");
            3
        }
    }
}

struct Seen {
    got: HashSet<usize>,
    floor: bool,
}

async fn worker() -> Result<()> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} is not set"));
    let urls: Vec<String> = var("CONVENE_LT_PUBLIC_URLS")?
        .split(',')
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect();
    if urls.is_empty() {
        bail!("CONVENE_LT_PUBLIC_URLS names no node");
    }
    let link = var("CONVENE_LT_PUBLIC_LINK")?;
    let n: usize = var("CONVENE_LT_PUBLIC_VIEWERS")?.parse()?;
    let offset: usize = var("CONVENE_LT_PUBLIC_OFFSET")?.parse()?;
    let expect: usize = var("CONVENE_LT_PUBLIC_EXPECT")?.parse()?;
    let concurrency: usize = var("CONVENE_LT_PUBLIC_CONCURRENCY")?.parse()?;
    let seconds: u64 = var("CONVENE_LT_PUBLIC_SECONDS")?.parse()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let watch = serde_json::to_string(&PublicClientMessage::Watch { protocol: 1, link })?;

    // Connect, `concurrency` at a time, round-robin over the nodes.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Option<String>)>();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<bool>();
    for i in 0..n {
        let url = urls[(offset + i) % urls.len()].clone();
        let (tx, ready_tx, sem, watch) = (tx.clone(), ready_tx.clone(), sem.clone(), watch.clone());
        tokio::spawn(async move {
            let ws = {
                let _permit = sem.acquire().await.ok();
                match tokio::time::timeout(
                    Duration::from_secs(30),
                    tokio_tungstenite::connect_async(&url),
                )
                .await
                {
                    Ok(Ok((mut ws, _))) => {
                        if ws.send(Message::text(watch)).await.is_err() {
                            let _ = ready_tx.send(false);
                            return;
                        }
                        ws
                    }
                    _ => {
                        let _ = ready_tx.send(false);
                        return;
                    }
                }
            };
            let _ = ready_tx.send(true);
            let mut ws = ws;
            while let Some(m) = ws.next().await {
                match m {
                    Ok(Message::Text(t)) => {
                        if tx.send((i, Some(t.to_string()))).is_err() {
                            return;
                        }
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = tx.send((i, None));
        });
    }
    drop(tx);
    drop(ready_tx);
    let (mut opened, mut failed) = (0, 0);
    while opened + failed < n {
        match tokio::time::timeout_at(deadline, ready_rx.recv()).await {
            Ok(Some(true)) => opened += 1,
            Ok(Some(false)) => failed += 1,
            _ => break,
        }
    }
    println!("ready {opened}");

    let mut seen: Vec<Seen> = (0..n)
        .map(|_| Seen {
            got: HashSet::new(),
            floor: false,
        })
        .collect();
    let mut report = WorkerReport {
        opened,
        failed,
        ..Default::default()
    };
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut drain_end: Option<tokio::time::Instant> = None;
    loop {
        let complete = seen
            .iter()
            .filter(|s| s.floor && s.got.len() >= expect)
            .count();
        if complete + report.closed + failed >= n && !stdin_open {
            break;
        }
        let until = drain_end.map_or(deadline, |d| d.min(deadline));
        tokio::select! {
            line = stdin.next_line(), if stdin_open => {
                if !matches!(line, Ok(Some(_))) {
                    stdin_open = false;
                    drain_end = Some(tokio::time::Instant::now() + Duration::from_secs(10));
                }
            }
            m = rx.recv() => {
                let Some((i, text)) = m else { break };
                let Some(text) = text else {
                    report.closed += 1;
                    continue;
                };
                let at = now_us();
                report.frames += 1;
                report.bytes += text.len() as u64;
                // A view that only recounts the viewers (most of them while viewers arrive)
                // is not parsed whole when this viewer has everything already.
                if seen[i].floor && seen[i].got.len() >= expect {
                    continue;
                }
                let Ok(PublicServerMessage::PublicView { view, .. }) = serde_json::from_str(&text) else { continue };
                let s = &mut seen[i];
                if !s.floor {
                    if let Some(f) = &view.floor {
                        s.floor = true;
                        report.floor_us.push(at.saturating_sub(f.since * 1000));
                    }
                }
                for a in &view.announcements {
                    if let Some((k, sent)) = parse_text(&a.text) {
                        if s.got.insert(k) {
                            report.delivery_us.push(at.saturating_sub(sent));
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(until) => break,
        }
    }
    report.complete = seen
        .iter()
        .filter(|s| s.floor && s.got.len() >= expect)
        .count();
    if let Some(r) = crate::procstat::read("self") {
        report.cpu_s = r.cpu_s;
        report.rss_kib = r.rss_kib;
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_text, public_ws};

    #[test]
    fn announcement_texts_carry_their_index_and_send_time() {
        assert_eq!(
            parse_text("PUB 3 t=1796565600000000"),
            Some((3, 1796565600000000))
        );
        assert_eq!(parse_text("Bonjour"), None);
    }

    #[test]
    fn the_public_endpoint_is_beside_ws() {
        assert_eq!(
            public_ws("ws://127.0.0.1:8080/ws"),
            "ws://127.0.0.1:8080/public/ws"
        );
    }
}
