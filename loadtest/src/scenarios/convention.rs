//! `convention`: a whole day of a citizens' convention, compressed. Every participant is a
//! real WebSocket client of the protocol: facilitators, a guarantor, experts, citizens (some
//! of them rapporteurs), with a roster of communes, age bands and genders. The day, in
//! phases (one module each):
//!
//! 1. [`plenary`]: broadcasts, a chat line from everyone, a speaking queue with a time
//!    limit (floors yielded, ended by the timer, taken back);
//! 2. [`breakouts`]: rooms assigned balanced on the commune, opened with a timer, chat in
//!    the rooms, a help call, a broadcast, the warning and the automatic recall;
//! 3. [`experts`]: an expert rotation (groups balanced on the age band, rounds with a
//!    warning and a transition, a question and its answer in every meeting);
//! 4. [`polls`]: the six kinds of poll, secret and named, every citizen voting, the results
//!    published (one closed by its own timer);
//! 5. [`writing`]: rapporteurs and writing groups writing Yjs documents on
//!    `/doc/{convention}/{name}`, readers following.
//!
//! Durations are a real day's divided by `--speed` (180: a 30-minute breakout lasts 10 s),
//! unless given in seconds.
//!
//! Measured ([`measure`]): every event's delivery to every participant, from the command's
//! send (or the deadline the server's timer fired for) to its receipt, overall (`delivery`)
//! and per phase (`delivery.<phase>`); the same for the snapshots that move people (`moves`,
//! and `moves.server` up to when the server built them); every document insert's delivery
//! (`doc_update`); every command's acknowledgment, overall
//! (`ack`) and per command (`ack.<command>`); errors by code. Checked: each phase's
//! deliveries (see each module); any refused command, error or closed connection fails the
//! run.

mod breakouts;
mod day;
mod experts;
mod inbox;
mod measure;
mod plenary;
mod polls;
mod roster;
// Run sheet.
mod runsheet;
mod writing;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::{close_all, Ctx, ScenarioResult, ToOpen};
use crate::conn::Subscription;
use crate::organizer::unique_id;
use crate::report::{Outcome, Series};
use day::Day;
use inbox::{lock, Inbox};

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Citizens (Nantes: 80; national conventions: 150 to 200).
    #[arg(long, default_value_t = 80)]
    pub citizens: usize,
    /// Experts of the rotation, one room each (Nantes heard 20 to 40).
    #[arg(long, default_value_t = 8)]
    pub experts: usize,
    #[arg(long, default_value_t = 2)]
    pub facilitators: usize,
    /// Rapporteurs: the first citizens also hold this role.
    #[arg(long, default_value_t = 3)]
    pub rapporteurs: usize,
    #[arg(long, default_value_t = 1)]
    pub guarantors: usize,
    /// Breakout rooms (default: one per 8 citizens).
    #[arg(long)]
    pub groups: Option<usize>,
    /// Time compression: a real day's durations are divided by this.
    #[arg(long, default_value_t = 180.0)]
    pub speed: f64,
    /// Breakout rooms' duration, seconds (default: 30 minutes compressed).
    #[arg(long)]
    pub breakout_s: Option<f64>,
    /// A rotation round's duration, seconds (default: 15 minutes compressed).
    #[arg(long)]
    pub round_s: Option<f64>,
    /// Rounds of the rotation.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The speaking-time limit, seconds (default: 3 minutes compressed, at least 1 s).
    #[arg(long)]
    pub floor_s: Option<f64>,
    /// How long a vote stays open for the voters to vote, seconds (default: 5 minutes
    /// compressed).
    #[arg(long)]
    pub vote_s: Option<f64>,
    /// How long the documents are written, seconds (default: 20 minutes compressed).
    #[arg(long)]
    pub drafting_s: Option<f64>,
    /// People given the floor in the plenary.
    #[arg(long, default_value_t = 6)]
    pub speakers: usize,
    /// Writing groups (each with its own document, besides the rapporteurs' opinion).
    #[arg(long, default_value_t = 2)]
    pub writing_groups: usize,
    /// Citizens in each writing group.
    #[arg(long, default_value_t = 4)]
    pub writers: usize,
    /// Each writer inserts a line this often, ms.
    #[arg(long, default_value_t = 500)]
    pub insert_ms: u64,
    /// The communes of the roster, one a line (default: ../shared/data/ if found).
    #[arg(long)]
    pub communes: Option<PathBuf>,
    /// Seed of the roster's attributes.
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
}

/// The day's durations, compressed.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Timing {
    pub chat: Duration,
    pub floor: Duration,
    pub breakout: Duration,
    pub breakout_warning: Duration,
    pub round: Duration,
    pub round_warning: Duration,
    pub transition: Duration,
    pub vote: Duration,
    pub drafting: Duration,
    pub insert: Duration,
}

impl Timing {
    fn new(a: &Args) -> Result<Timing> {
        if a.speed.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            bail!("--speed must be positive");
        }
        let minutes = |m: f64| Duration::from_secs_f64(m * 60.0 / a.speed);
        let secs = |s: Option<f64>, real_minutes: f64, least: f64| -> Result<Duration> {
            let d = match s {
                Some(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
                Some(s) => bail!("a duration of {s} s"),
                None => minutes(real_minutes).max(Duration::from_secs_f64(least)),
            };
            Ok(d)
        };
        let breakout = secs(a.breakout_s, 30.0, 2.0)?;
        let round = secs(a.round_s, 15.0, 1.0)?;
        Ok(Timing {
            chat: minutes(5.0),
            // People need the time to react: at least 1 s of floor.
            floor: secs(a.floor_s, 3.0, 1.0)?,
            breakout,
            breakout_warning: (minutes(5.0)).min(breakout / 3),
            round,
            round_warning: minutes(2.0).min(round / 4),
            transition: minutes(2.0).min(round / 4),
            vote: secs(a.vote_s, 5.0, 0.5)?,
            drafting: secs(a.drafting_s, 20.0, 1.0)?,
            insert: Duration::from_millis(a.insert_ms.max(10)),
        })
    }
}

fn validate(a: &Args) -> Result<()> {
    if a.facilitators == 0 || a.experts == 0 || a.citizens < 2 {
        bail!("--facilitators and --experts must be at least 1, --citizens at least 2");
    }
    if a.rapporteurs == 0 || a.rapporteurs > a.citizens {
        bail!("--rapporteurs must be from 1 to --citizens");
    }
    if a.experts > 100 || a.groups.is_some_and(|g| g == 0 || g > 100) {
        bail!("--experts and --groups: at most 100 (the server allows 200 rooms in all)");
    }
    if a.writing_groups * a.writers > a.citizens - a.rapporteurs {
        bail!(
            "{} writing groups of {} need that many citizens who are not rapporteurs",
            a.writing_groups,
            a.writers
        );
    }
    if a.rounds == 0 || a.rounds > 100 {
        bail!("--rounds: 1 to 100");
    }
    Ok(())
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    validate(args)?;
    let t = Timing::new(args)?;
    let groups = args.groups.unwrap_or(args.citizens.div_ceil(8)).max(1);
    let secs = |d: Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
    let mut params = json!(args);
    params["groups"] = json!(groups);
    params["timing_s"] = json!({
        "chat": secs(t.chat), "floor": secs(t.floor), "breakout": secs(t.breakout),
        "breakout_warning": secs(t.breakout_warning), "round": secs(t.round),
        "round_warning": secs(t.round_warning), "transition": secs(t.transition),
        "vote": secs(t.vote), "drafting": secs(t.drafting), "insert": secs(t.insert),
    });
    let mut out = Outcome::new(params);

    // The convention and its roster.
    let t0 = Instant::now();
    let cast = roster::build(
        args.facilitators,
        args.guarantors,
        args.experts,
        args.citizens,
        args.rapporteurs,
        args.communes.as_deref(),
        args.seed,
    )?;
    out.notes.push(format!(
        "roster: {} communes, from {}",
        cast.communes, cast.communes_from
    ));
    let id = unique_id("convention");
    let setup = ctx
        .organizer
        .setup(&id, "Convention citoyenne (test de charge)", &cast.roster)
        .await
        .context("setting the convention up")?;
    out.convention = Some(id.clone());
    out.phases
        .insert("setup".into(), t0.elapsed().as_secs_f64());
    let n = cast.roster.len();
    let tokens: Vec<String> = (0..n).map(|i| setup.token(i)).collect::<Result<_>>()?;
    let ids = Arc::new(setup.ids.clone());

    // Everyone connects; every event, snapshot and tally is collected.
    let t0 = Instant::now();
    let scraped = ctx.scrape().await;
    let inboxes = Arc::new(Mutex::new((0..n).map(|_| Inbox::default()).collect()));
    let (tx, rx) = mpsc::unbounded_channel();
    let collector = tokio::spawn(inbox::collect(rx, inboxes.clone(), ids.clone()));
    let to_open = (0..n)
        .map(|i| ToOpen {
            conn: i,
            token: tokens[i].clone(),
            sub: Some(Subscription {
                types: &["event", "snapshot", "room_view", "poll_tally"],
                tx: tx.clone(),
            }),
        })
        .collect();
    drop(tx);
    let opened = ctx.connect_many(to_open, "participants").await;
    let connected = opened.iter().filter(|p| p.is_some()).count();
    out.phases
        .insert("connect".into(), t0.elapsed().as_secs_f64());
    out.check("participants", n);
    out.check("participants_connected", connected);
    if connected < n {
        let ps: Vec<_> = opened.into_iter().flatten().collect();
        close_all(ps, Duration::from_secs(5)).await;
        bail!("{} participants could not connect", n - connected);
    }
    let ps = opened.into_iter().flatten().collect();

    // The day.
    let clock = measure::Clock::now();
    let day_start = Instant::now();
    let mut day = Day::new(ctx, t, cast, ids, tokens, id, ps, inboxes.clone(), out);
    let bar = ctx.bar(6, "day");
    let result = async {
        bar.set_message("run sheet");
        day.prepare_runsheet(groups, args.rounds, args.speakers)
            .await?;
        bar.inc(1);
        bar.set_message("plenary");
        day.plenary(args.speakers).await?;
        bar.inc(1);
        bar.set_message("breakout rooms");
        day.breakouts(groups).await?;
        bar.inc(1);
        bar.set_message("expert rotation");
        day.rotation(args.rounds).await?;
        bar.inc(1);
        bar.set_message("polls");
        day.polls().await?;
        day.finish_runsheet().await?;
        bar.inc(1);
        bar.set_message("drafting");
        day.drafting(args.writing_groups, args.writers).await?;
        bar.inc(1);
        Ok::<(), anyhow::Error>(())
    }
    .await;
    bar.finish_and_clear();
    if let Err(e) = result {
        day.fail(format!("the day stopped: {e:#}"));
    }
    let day_s = day_start.elapsed().as_secs_f64();
    ctx.scrape_delta("day", scraped, &mut day.out).await;
    ctx.end_of_measurement(&mut day.out);
    let errors = ctx.shared.errors.snapshot();
    let closed = day.ps.iter().filter(|p| !p.is_open()).count();

    // Figures.
    let fac = day.fac();
    let Day {
        out: mut o,
        acks,
        ack_all,
        ack_by,
        refused,
        phases,
        doc_update,
        ps,
        ..
    } = day;
    close_all(ps, Duration::from_secs(5)).await;
    collector.abort();
    let ib = lock(&inboxes);
    let fac_events = &ib[fac].events;
    let deadlines = measure::deadlines(fac_events);
    let origins = measure::origins(&ib, &acks, &deadlines);
    let firsts: Vec<u64> = phases.iter().map(|p| p.1).collect();
    let m = measure::measure(&ib, fac_events, &origins, &firsts, &clock);
    let out_of_order: u64 = ib.iter().map(|i| i.out_of_order).sum();
    let late_max = deadlines.late.iter().map(|l| l.1).max().unwrap_or(0);
    o.phases.insert("day".into(), day_s);
    o.check(
        "events_received",
        ib.iter().map(|i| i.events.len()).sum::<usize>(),
    );
    o.check(
        "snapshots_received",
        ib.iter().map(|i| i.snaps.len()).sum::<usize>(),
    );
    o.check("events_without_origin", m.without_origin);
    o.check("snapshots_without_origin", m.snapshots_without_origin);
    o.check("timer_events", deadlines.late.len());
    o.check("timer_events_without_deadline", deadlines.unknown);
    o.check("timer_late_ms_max", late_max);
    o.check("out_of_order", out_of_order);
    o.check("commands_acknowledged", acks.len());
    o.check("commands_refused", &refused);
    o.check("connections_closed", closed);
    if out_of_order > 0 {
        o.failures
            .push(format!("{out_of_order} events out of seq order or twice"));
    }
    if !refused.is_empty() {
        o.failures.push(format!("commands refused: {refused:?}"));
    }
    if closed > 0 {
        o.failures
            .push(format!("{closed} participants' connections closed"));
    }
    if !errors.is_empty() {
        o.failures.push(format!("errors: {errors:?}"));
    }
    if let (Some(f), Some(l)) = (m.first, m.last) {
        let span = l.duration_since(f).as_secs_f64();
        if span > 0.0 {
            o.rates.insert(
                "deliveries_per_s".into(),
                m.delivery.summary().count as f64 / span,
            );
        }
    }
    let peak = m
        .delivery
        .timeline(Duration::ZERO, Duration::from_secs(1))
        .iter()
        .map(|b| b.per_s)
        .fold(0.0, f64::max);
    o.rates.insert("deliveries_per_s_peak_1s".into(), peak);
    let mut series = vec![
        Series {
            name: "delivery".into(),
            what:
                "command sent (or timer deadline) -> event or moving snapshot read by a participant"
                    .into(),
            latency: m.delivery,
        },
        Series {
            name: "moves".into(),
            what: "the moving event's command (or deadline) -> the mover's snapshot".into(),
            latency: m.moves,
        },
        Series {
            name: "moves.server".into(),
            what:
                "the moving event's command (or deadline) -> the snapshot built (its server_time)"
                    .into(),
            latency: m.moves_server,
        },
        Series {
            name: "doc_update".into(),
            what: "document insert sent -> read by another client of the document".into(),
            latency: doc_update,
        },
        Series {
            name: "ack".into(),
            what: "command sent -> its ok".into(),
            latency: ack_all,
        },
    ];
    for ((name, _), latency) in phases.iter().zip(m.by_phase) {
        series.push(Series {
            name: format!("delivery.{name}"),
            what: format!("delivery of the events of the {name} phase"),
            latency,
        });
    }
    for (kind, latency) in ack_by {
        series.push(Series {
            name: format!("ack.{kind}"),
            what: format!("{kind} sent -> its ok"),
            latency,
        });
    }
    o.series = series;
    o.throughput_series = Some("delivery".into());
    o.throughput_what = "event deliveries to participants".into();
    o.timeline_from = crate::metrics::since_start(day_start);
    o.timeline_width = Duration::from_secs_f64((day_s / 300.0).max(0.05));
    o.timed_out = ctx.timed_out();
    Ok(o)
}
