//! `drafting`: N editors write one collaborative document at once, each sending a small text
//! insert every `--interval-ms`, as y-protocols sync updates (encoding v1), for `--duration`
//! seconds. Each editor is a real yrs `Doc` that applies everything it receives.
//!
//! Targets (`--target`): convene's document endpoint `/doc/{convention}/{document}` (the run
//! creates a convention, one rapporteur per editor and the document with `create_document`
//! from a facilitator), or, for comparison, a reference server on `--target-url`: the
//! y-websocket server (`ywss`, `@y/websocket-server`: the document is the URL's path) or
//! Hocuspocus (`hocuspocus`: every message, both ways, is prefixed by the document's name as
//! a lib0 var-string, and the client authenticates first with an auth message).
//!
//! Each insert is `#E<editor>.<k>.<µs>;`: the editor, its insert's number, and the time it
//! was sent in µs since the start of the run on this process's monotonic clock (all editors
//! live in this process). Strings travel verbatim inside v1 updates, so a receiver reads
//! the markers of an update from its bytes: delivery latency is the time an editor read the
//! update minus that send time. A marker of the editor's own insert (the reference servers
//! send every update back to its sender) is an echo, not a delivery.
//!
//! Measured: deliveries per second (inserts of others received by editors), delivery latency
//! (p50, p99...), and with `--server-pid` the server's CPU time per delivery (utime + stime
//! from /proc over the editing phase, the drain included) and its RSS.
//!
//! Checked: every editor still connected received every insert of every other editor exactly
//! once, and (with every editor applying, the default) all their texts are the same and hold
//! every insert sent.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{Command, Role};
use reqwest::Url;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{watch, Semaphore};

pub use super::yclient::Target;
use super::yclient::{marker, markers, Frame, Got, YClient};
use super::{close_all, Ctx, ScenarioResult};
use crate::conn::Participant;
use crate::metrics::{self, Latency};
use crate::organizer::{person, unique_id};
use crate::report::{Outcome, Series};

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Editors writing the document (one connection and one yrs Doc each).
    #[arg(long, default_value_t = 50)]
    pub editors: usize,
    /// Each editor sends one insert this often, ms.
    #[arg(long, default_value_t = 200)]
    pub interval_ms: u64,
    /// Seconds of editing.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Which server speaks the document protocol.
    #[arg(long, value_enum, default_value_t = Target::Convene)]
    pub target: Target,
    /// The reference server's WebSocket base URL (ws://127.0.0.1:PORT), for ywss and
    /// hocuspocus (loopback only).
    #[arg(long)]
    pub target_url: Option<String>,
    /// Seconds to wait, once the last insert is sent, for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Only the first K editors apply what they receive to their Doc (the others read the
    /// markers and count): lightens the load tester when it, not the server, is the limit.
    /// Default: every editor applies.
    #[arg(long)]
    pub applying: Option<usize>,
}

/// Root `Y.Text` the editors write.
const TEXT: &str = "drafting";
const CONTROL: Duration = Duration::from_secs(30);

fn now_us() -> u64 {
    metrics::since_start(Instant::now()).as_micros() as u64
}

/// Counters every editor updates, read by the run's loop.
struct Live {
    /// Inserts of others received, per editor.
    received: Vec<AtomicU64>,
    /// Inserts sent, per editor.
    sent: Vec<AtomicU64>,
    /// Editors whose connection is still open.
    open: Vec<std::sync::atomic::AtomicBool>,
    last_delivery_us: AtomicU64,
    synced: AtomicUsize,
}

/// What an editor returns at the end.
struct EditorOut {
    samples: Vec<(u64, u32)>,
    deliveries: u64,
    echoes: u64,
    duplicates: u64,
    foreign: u64,
    acks: u64,
    frames: u64,
    denied: Vec<String>,
    errors: Vec<String>,
    closed: Option<Option<u16>>,
    applying: bool,
    text_hash: u64,
    text_len: usize,
    markers_in_text: usize,
    missing_sample: Option<(usize, u64)>,
}

struct Editor {
    idx: usize,
    n: usize,
    per_sender: u64,
    applying: bool,
    y: YClient,
    got: Vec<u64>,
    words: usize,
    out: EditorOut,
    live: Arc<Live>,
}

impl Editor {
    /// Open the connection and sync: our step 1, the server's step 2 (and answer its step 1).
    async fn connect(
        idx: usize,
        n: usize,
        per_sender: u64,
        args: &Args,
        url: &str,
        hp_doc: &str,
        live: Arc<Live>,
    ) -> Result<Editor> {
        let mut y = YClient::open(url, args.target, hp_doc, TEXT)
            .await
            .with_context(|| format!("editor {idx}"))?;
        y.sync(CONTROL)
            .await
            .with_context(|| format!("editor {idx}"))?;
        let words = (per_sender as usize).div_ceil(64);
        let applying = args.applying.is_none_or(|k| idx < k);
        let e = Editor {
            idx,
            n,
            per_sender,
            applying,
            y,
            got: vec![0; n * words],
            words,
            out: EditorOut {
                samples: Vec::new(),
                deliveries: 0,
                echoes: 0,
                duplicates: 0,
                foreign: 0,
                acks: 0,
                frames: 0,
                denied: Vec::new(),
                errors: Vec::new(),
                closed: None,
                applying,
                text_hash: 0,
                text_len: 0,
                markers_in_text: 0,
                missing_sample: None,
            },
            live,
        };
        e.live.synced.fetch_add(1, Ordering::Relaxed);
        Ok(e)
    }

    /// One frame from the server.
    async fn handle(&mut self, frame: &[u8]) -> Result<()> {
        match self.y.handle(frame).await? {
            Got::Synced(u) => self.apply(u, false),
            Got::Update(u) => self.apply(u, true),
            Got::Nothing => {}
        }
        Ok(())
    }

    /// An update from the server: count its markers, apply it.
    fn apply(&mut self, u: &[u8], count: bool) {
        let at = now_us();
        let ms = markers(u);
        let mut only_own = !ms.is_empty();
        for (e, k, us) in ms {
            if e == self.idx {
                self.out.echoes += 1;
                continue;
            }
            only_own = false;
            if e >= self.n || k >= self.per_sender {
                self.out.foreign += 1;
                continue;
            }
            let w = e * self.words + (k / 64) as usize;
            let bit = 1u64 << (k % 64);
            if self.got[w] & bit != 0 {
                self.out.duplicates += 1;
                continue;
            }
            self.got[w] |= bit;
            if count {
                self.out.deliveries += 1;
                self.out
                    .samples
                    .push((at, at.saturating_sub(us).min(u32::MAX as u64) as u32));
                self.live.received[self.idx].fetch_add(1, Ordering::Relaxed);
                self.live.last_delivery_us.fetch_max(at, Ordering::Relaxed);
            }
        }
        // Our own changes (an echo) are in the Doc already.
        if only_own || !self.applying {
            return;
        }
        self.y.apply(u);
    }

    /// Insert number `k` at the end of the text, and send it as a sync update.
    async fn insert(&mut self, k: u64) -> Result<()> {
        let m = marker(self.idx, k, now_us());
        self.y.push(&m).await?;
        self.live.sent[self.idx].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn run(
        mut self,
        t0: tokio::time::Instant,
        interval: Duration,
        count: u64,
        mut stop: watch::Receiver<bool>,
    ) -> EditorOut {
        // Editors are spread evenly over the interval.
        let offset = interval.mul_f64(self.idx as f64 / self.n as f64);
        let mut k = 0u64;
        let closed = loop {
            let next = (k < count).then(|| t0 + offset + interval * k as u32);
            tokio::select! {
                biased;
                _ = stop.changed() => break None,
                f = self.y.next() => match f {
                    Frame::Binary(data) => {
                        if let Err(e) = self.handle(&data).await {
                            self.out.errors.push(format!("{e:#}"));
                        }
                    }
                    Frame::Closed(code) => break Some(code),
                    Frame::Other => {}
                },
                _ = tokio::time::sleep_until(next.unwrap_or(t0)), if next.is_some() => {
                    if let Err(e) = self.insert(k).await {
                        self.out.errors.push(format!("{e:#}"));
                        break Some(None);
                    }
                    k += 1;
                }
            }
        };
        self.out.closed = closed;
        self.live.open[self.idx].store(closed.is_none(), Ordering::Relaxed);
        self.out.frames = self.y.frames;
        self.out.acks = self.y.acks;
        self.out.denied = std::mem::take(&mut self.y.denied);
        self.out.errors.append(&mut self.y.errors);
        // The text, to check that everyone converged.
        let s = self.y.text();
        let mut h = DefaultHasher::new();
        s.hash(&mut h);
        self.out.text_hash = h.finish();
        self.out.text_len = s.len();
        self.out.markers_in_text = markers(s.as_bytes()).len();
        // One missing insert, for the report.
        'find: for e in 0..self.n {
            if e == self.idx {
                continue;
            }
            let sent = self.live.sent[e].load(Ordering::Relaxed);
            for k in 0..sent.min(self.per_sender) {
                if self.got[e * self.words + (k / 64) as usize] & (1 << (k % 64)) == 0 {
                    self.out.missing_sample = Some((e, k));
                    break 'find;
                }
            }
        }
        if closed.is_none() {
            self.y.close().await;
        }
        self.out
    }
}

fn check_loopback_ws(url: &str) -> Result<Url> {
    let u = Url::parse(url).with_context(|| format!("--target-url {url}"))?;
    if !matches!(u.scheme(), "ws" | "wss") {
        bail!("--target-url must be ws:// or wss://, not {url}");
    }
    if !u.host_str().is_some_and(crate::is_loopback_host) {
        bail!("refusing {url}: convene-loadtest only targets the loopback");
    }
    Ok(u)
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.editors < 2 || args.interval_ms == 0 || args.duration <= 0.0 {
        bail!("--editors must be at least 2, --interval-ms and --duration positive");
    }
    let n = args.editors;
    let interval = Duration::from_millis(args.interval_ms);
    let count = ((args.duration * 1000.0) / args.interval_ms as f64)
        .round()
        .max(1.0) as u64;
    let mut out = Outcome::new(json!({
        "editors": n,
        "interval_ms": args.interval_ms,
        "duration": args.duration,
        "target": args.target,
        "target_url": args.target_url,
        "drain": args.drain,
        "applying": args.applying.unwrap_or(n).min(n),
        "inserts_per_editor": count,
    }));

    // 1. Where the editors connect.
    let t = Instant::now();
    let run_id = unique_id("drafting");
    let mut facilitator: Option<Participant> = None;
    let urls: Vec<String>;
    let hp_doc = run_id.clone();
    match args.target {
        Target::Convene => {
            if args.target_url.is_some() {
                bail!("--target-url is for the reference servers; convene is --url");
            }
            let mut roster = vec![person("Animatrice (load test)".into(), Role::Facilitator)];
            roster.extend((0..n).map(|i| person(format!("Rapporteur {i}"), Role::Rapporteur)));
            let setup = ctx
                .organizer
                .setup(&run_id, "Load test: drafting", &roster)
                .await
                .context("setting the convention up")?;
            let mut fac = Participant::open(
                &ctx.ws_url,
                &setup.token(0)?,
                0,
                None,
                &ctx.shared,
                ctx.within(CONTROL),
            )
            .await
            .context("facilitator")?;
            let r = fac
                .request(
                    Command::CreateDocument {
                        name: "opinion".into(),
                        title: "Avis (test de charge)".into(),
                    },
                    ctx.within(CONTROL),
                )
                .await?;
            r.result
                .map_err(|(c, m)| anyhow!("create_document refused: {} {m}", c.as_str()))?;
            facilitator = Some(fac);
            let base = ctx
                .ws_url
                .strip_suffix("/ws")
                .ok_or_else(|| anyhow!("unexpected WebSocket URL {}", ctx.ws_url))?;
            urls = (0..n)
                .map(|i| {
                    Ok(format!(
                        "{base}/doc/{run_id}/opinion?token={}",
                        setup.token(i + 1)?
                    ))
                })
                .collect::<Result<_>>()?;
            out.convention = Some(run_id.clone());
        }
        Target::Ywss | Target::Hocuspocus => {
            let Some(u) = &args.target_url else {
                bail!("--target-url ws://127.0.0.1:PORT is needed for --target ywss or hocuspocus");
            };
            let u = check_loopback_ws(u)?;
            let base = u.as_str().trim_end_matches('/');
            let url = match args.target {
                Target::Ywss => format!("{base}/{run_id}"),
                _ => format!("{base}/"),
            };
            urls = vec![url; n];
            out.notes
                .push(format!("document {run_id} on the reference server {base}"));
        }
    }
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());

    // 2. The editors connect and sync.
    let t = Instant::now();
    let live = Arc::new(Live {
        received: (0..n).map(|_| AtomicU64::new(0)).collect(),
        sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
        open: (0..n)
            .map(|_| std::sync::atomic::AtomicBool::new(true))
            .collect(),
        last_delivery_us: AtomicU64::new(0),
        synced: AtomicUsize::new(0),
    });
    let sem = Arc::new(Semaphore::new(ctx.connect_concurrency.max(1)));
    let bar = ctx.bar(n as u64, "editors");
    let mut connecting = Vec::with_capacity(n);
    for (i, url) in urls.iter().enumerate() {
        let sem = sem.clone();
        let url = url.clone();
        let args = args.clone();
        let live = live.clone();
        let hp_doc = hp_doc.clone();
        let bar = bar.clone();
        let shared = ctx.shared.clone();
        connecting.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.ok()?;
            shared.counters.attempted.fetch_add(1, Ordering::Relaxed);
            let e = Editor::connect(i, n, count, &args, &url, &hp_doc, live).await;
            bar.inc(1);
            match e {
                Ok(e) => {
                    shared.counters.opened();
                    Some(e)
                }
                Err(err) => {
                    shared.counters.failed.fetch_add(1, Ordering::Relaxed);
                    shared.errors.add("editor_connect_failed");
                    eprintln!("drafting: {err:#}");
                    None
                }
            }
        }));
    }
    let mut editors = Vec::with_capacity(n);
    for c in connecting {
        editors.push(c.await.ok().flatten());
    }
    bar.finish_and_clear();
    let connected = editors.iter().filter(|e| e.is_some()).count();
    out.phases
        .insert("connect".into(), t.elapsed().as_secs_f64());
    out.check("editors", n);
    out.check("editors_synced", connected);
    if connected < n {
        out.failures.push(format!(
            "{} editors could not connect and sync",
            n - connected
        ));
    }
    if connected < 2 || ctx.timed_out() {
        out.timed_out = ctx.timed_out();
        return Ok(out);
    }

    // 3. Editing: every editor inserts every interval, from t0 on.
    let scraped = if args.target == Target::Convene {
        ctx.scrape().await
    } else {
        None
    };
    let cpu_before = ctx.server_pid.as_deref().and_then(crate::procstat::read);
    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = tokio::time::Instant::now() + Duration::from_millis(100);
    let t0_std = t0.into_std();
    let mut tasks = Vec::with_capacity(connected);
    for e in editors.into_iter().flatten() {
        tasks.push(tokio::spawn(e.run(t0, interval, count, stop_rx.clone())));
    }
    let sending_end = t0 + interval * count as u32 + interval;
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    let bar = ctx.bar(count * connected as u64, "inserts");
    let sent_total = |live: &Live| {
        live.sent
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let received_total = |live: &Live| {
        live.received
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .sum::<u64>()
    };
    while tokio::time::Instant::now() < sending_end.min(deadline) {
        bar.set_position(sent_total(&live));
        bar.set_message(format!("{} deliveries", received_total(&live)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bar.finish_and_clear();

    // 4. The last deliveries: every open editor has every insert of every other.
    let drain_end =
        (tokio::time::Instant::now() + Duration::from_secs_f64(args.drain.max(0.0))).min(deadline);
    loop {
        let sent: Vec<u64> = live
            .sent
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect();
        let all: u64 = sent.iter().sum();
        let done = (0..n).all(|i| {
            !live.open[i].load(Ordering::Relaxed)
                || live.received[i].load(Ordering::Relaxed) >= all - sent[i]
                || live.sent[i].load(Ordering::Relaxed) == 0
        });
        if done || tokio::time::Instant::now() >= drain_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu_after = ctx.server_pid.as_deref().and_then(crate::procstat::read);
    if args.target == Target::Convene {
        ctx.scrape_delta("editing", scraped, &mut out).await;
    }
    ctx.end_of_measurement(&mut out);
    let _ = stop_tx.send(true);
    let mut outs = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(o) = t.await {
            outs.push(o);
        }
    }

    // 5. Figures and checks.
    let mut delivery = Latency::new();
    let start = metrics::start();
    let mut deliveries = 0u64;
    let (mut echoes, mut duplicates, mut foreign, mut acks, mut frames) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut errors = 0usize;
    let mut denied = 0usize;
    let mut closed = 0usize;
    for o in &outs {
        for &(at, lat) in &o.samples {
            delivery.record(
                Duration::from_micros(lat as u64),
                start + Duration::from_micros(at),
            );
        }
        deliveries += o.deliveries;
        echoes += o.echoes;
        duplicates += o.duplicates;
        foreign += o.foreign;
        acks += o.acks;
        frames += o.frames;
        denied += o.denied.len();
        if let Some(c) = o.closed {
            closed += 1;
            ctx.shared.errors.add(match c {
                Some(code) => format!("close_{code}"),
                None => "disconnected".to_string(),
            });
        }
        if !o.errors.is_empty() {
            errors += o.errors.len();
            eprintln!(
                "drafting: editor errors: {:?}",
                &o.errors[..o.errors.len().min(3)]
            );
        }
    }
    for _ in 0..denied {
        ctx.shared.errors.add("permission_denied");
    }
    for _ in 0..errors {
        ctx.shared.errors.add("editor_error");
    }
    let sent: Vec<u64> = live
        .sent
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    let sent_all: u64 = sent.iter().sum();
    // Every open editor should have every insert of the others.
    let mut expected_open = 0u64;
    let mut received_open = 0u64;
    for (i, &mine) in sent.iter().enumerate() {
        if live.open[i].load(Ordering::Relaxed) && mine > 0 {
            expected_open += sent_all - mine;
            received_open += live.received[i].load(Ordering::Relaxed);
        }
    }
    let missing = expected_open.saturating_sub(received_open);
    // Convergence, among the editors that apply and are still open.
    let applying: Vec<&EditorOut> = outs
        .iter()
        .filter(|o| o.applying && o.closed.is_none())
        .collect();
    let mut hashes: Vec<u64> = applying.iter().map(|o| o.text_hash).collect();
    hashes.sort_unstable();
    hashes.dedup();
    let markers_min = applying
        .iter()
        .map(|o| o.markers_in_text)
        .min()
        .unwrap_or(0);
    let markers_max = applying
        .iter()
        .map(|o| o.markers_in_text)
        .max()
        .unwrap_or(0);
    let converged = applying
        .iter()
        .filter(|o| Some(o.text_hash) == applying.first().map(|f| f.text_hash))
        .count();
    out.check("inserts_sent", sent_all);
    out.check("deliveries", deliveries);
    out.check("deliveries_expected_open", expected_open);
    out.check("missing_on_open_connections", missing);
    out.check("duplicates", duplicates);
    out.check("echoes", echoes);
    out.check("foreign_markers", foreign);
    out.check("sync_status_acks", acks);
    out.check("frames_received", frames);
    out.check("editors_closed", closed);
    out.check("editors_applying_open", applying.len());
    out.check("distinct_texts", hashes.len());
    out.check("editors_converged", converged);
    out.check("markers_in_text_min", markers_min);
    out.check("markers_in_text_max", markers_max);
    out.check(
        "text_len_max",
        applying.iter().map(|o| o.text_len).max().unwrap_or(0),
    );
    if let Some(o) = outs
        .iter()
        .find(|o| o.missing_sample.is_some() && o.closed.is_none())
    {
        out.check("a_missing_insert", o.missing_sample);
    }
    if missing > 0 {
        out.failures.push(format!(
            "{missing} inserts never reached editors that are still connected"
        ));
    }
    if duplicates > 0 {
        out.failures
            .push(format!("{duplicates} inserts delivered twice"));
    }
    if hashes.len() > 1 {
        out.failures.push(format!(
            "the editors did not converge: {} different texts among {}",
            hashes.len(),
            applying.len()
        ));
    }
    if args.applying.is_none() && !applying.is_empty() && markers_min as u64 != sent_all {
        out.failures.push(format!(
            "the editors' texts hold {markers_min}..{markers_max} inserts, {sent_all} were sent"
        ));
    }
    if closed > 0 {
        out.failures.push(format!(
            "{closed} editors' connections closed during the run"
        ));
    }
    if denied > 0 {
        out.failures
            .push(format!("{denied} permission-denied messages"));
    }

    let last_us = live.last_delivery_us.load(Ordering::Relaxed);
    let t0_us = metrics::since_start(t0_std).as_micros() as u64;
    let span_s = last_us.saturating_sub(t0_us) as f64 / 1e6;
    if span_s > 0.0 {
        out.rates
            .insert("deliveries_per_s".into(), deliveries as f64 / span_s);
        out.rates
            .insert("inserts_per_s".into(), sent_all as f64 / span_s);
    }
    out.phases.insert("editing".into(), span_s);
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let cpu = a.cpu_s - b.cpu_s;
        let wall = match (a.at, b.at) {
            (Some(x), Some(y)) => x.duration_since(y).as_secs_f64(),
            _ => 0.0,
        };
        out.rates.insert("server_cpu_s".into(), cpu);
        if wall > 0.0 {
            out.rates
                .insert("server_cpu_pct".into(), cpu * 100.0 / wall);
        }
        if deliveries > 0 {
            out.rates.insert(
                "server_cpu_us_per_delivery".into(),
                cpu * 1e6 / deliveries as f64,
            );
        }
        out.rates
            .insert("server_rss_mib".into(), a.rss_kib as f64 / 1024.0);
    }
    out.timeline_from = metrics::since_start(t0_std).saturating_sub(Duration::from_millis(50));
    out.timeline_width = Duration::from_secs_f64((span_s / 200.0).max(0.05));
    out.throughput_series = Some("delivery".into());
    out.throughput_what = "inserts delivered to editors".into();
    out.series.push(Series {
        name: "delivery".into(),
        what: "insert sent -> update read by another editor".into(),
        latency: delivery,
    });
    out.timed_out = ctx.timed_out();
    if let Some(f) = facilitator {
        close_all(vec![f], Duration::from_secs(5)).await;
    }
    Ok(out)
}
