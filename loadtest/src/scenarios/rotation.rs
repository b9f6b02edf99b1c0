//! `rotation`: E experts and C citizens are connected; a facilitator plans an expert rotation
//! (random groups, one per expert unless `--groups`, short rounds, no transition, no warning)
//! and starts it. Measured at each timer-fired boundary, from the server's timestamp of the
//! event that moves people (`at` of `rotation_round_started` for round 1; of
//! `rotation_ended` at the end of the last round) to each mover's notification, the
//! `snapshot` of their new room:
//!
//! - `server`: the snapshot's `server_time` (when the server built it) minus `at`;
//! - `client`: the snapshot's local receipt, converted to the server's clock with the offset
//!   estimated from the welcome (`server_time` minus the local receipt time; this offset
//!   includes the welcome's own delivery time, so it errs toward early), minus `at`;
//! - `client_raw`: the local receipt on this machine's wall clock minus `at` (the server runs
//!   on the same machine: the same clock).
//!
//! Also the timer's own lateness: `at` minus the deadline it fired for (`ends_at`).
//!
//! Checked: at the start, everyone the rotation places got exactly one snapshot, in the right
//! room; at the round boundary, exactly the citizens whose room changes got exactly one
//! snapshot, in the right room (experts stay in their rooms); at the end, everyone got
//! exactly one, in the plenary.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use convene_protocol::{
    Actor, ClientMessage, Command, Event, Grouping, Role, RotationPlan, ServerMessage,
};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{close_all, Ctx, ScenarioResult};
use crate::conn::{message_type, Participant, Received, Subscription};
use crate::metrics::Latency;
use crate::organizer::{person, unique_id};
use crate::report::{Outcome, Series};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Args {
    /// Experts (one room each).
    #[arg(long, default_value_t = 40)]
    pub experts: usize,
    /// Citizens, put in groups at random.
    #[arg(long, default_value_t = 200)]
    pub citizens: usize,
    /// Groups (default: one per expert).
    #[arg(long)]
    pub groups: Option<u32>,
    /// Length of a round, ms.
    #[arg(long, default_value_t = 3000)]
    pub round_ms: u64,
    /// Rounds (the boundary measured is the end of round 0; at least 1).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// Time to change rooms between rounds, ms (0: the next round starts at once).
    #[arg(long, default_value_t = 0)]
    pub transition_ms: u64,
    /// Warning before each round's end, ms.
    #[arg(long, default_value_t = 0)]
    pub warning_ms: u64,
}

const CONTROL: Duration = Duration::from_secs(30);

fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// A snapshot received: where it puts the participant, and when.
#[derive(Clone, Debug)]
struct Move {
    seq: u64,
    room: Option<String>,
    server_time: u64,
    /// Local wall clock at receipt, ms.
    local_ms: f64,
}

#[derive(Default)]
struct Seen {
    /// Snapshots as received (local receipt time, text): parsed once the measurement is
    /// over, so that parsing 200 snapshots of 35 KB does not delay the receipt of the others.
    raw: Vec<(f64, tokio_tungstenite::tungstenite::Utf8Bytes)>,
    /// Closed by the server (the close code), or dropped.
    closed: Option<Option<u16>>,
    errors: Vec<String>,
}

/// A participant's connection: hello, the welcome (its clock offset), then every snapshot.
struct Person {
    id: String,
    /// Server clock minus local clock at the welcome, ms.
    offset_ms: f64,
    seen: Arc<Mutex<Seen>>,
    sink: SplitSink<Ws, Message>,
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Person {
    /// The snapshots received, parsed: where each puts this participant.
    fn moves(&self) -> Vec<Move> {
        let mut seen = lock(&self.seen);
        let raw = std::mem::take(&mut seen.raw);
        let mut moves = Vec::with_capacity(raw.len());
        for (local_ms, t) in raw {
            match serde_json::from_str::<ServerMessage>(&t) {
                Ok(ServerMessage::Snapshot {
                    server_time,
                    snapshot,
                }) => {
                    let room = snapshot
                        .participants
                        .iter()
                        .find(|p| p.person.id == self.id)
                        .map(|p| p.room.clone());
                    moves.push(Move {
                        seq: snapshot.seq,
                        room,
                        server_time,
                        local_ms,
                    });
                }
                // Version 2: the room, not the world.
                Ok(ServerMessage::RoomView {
                    server_time,
                    seq,
                    room,
                    ..
                }) => moves.push(Move {
                    seq,
                    room: Some(room),
                    server_time,
                    local_ms,
                }),
                Ok(_) => {}
                Err(e) => seen.errors.push(format!("snapshot: {e}")),
            }
        }
        moves
    }

    async fn open(ws_url: &str, token: &str) -> Result<Person> {
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url, Some(ws_config()), true)
                .await
                .context("websocket connect")?;
        let hello = serde_json::to_string(&ClientMessage::Hello {
            protocol: crate::conn::protocol(),
            token: token.to_string(),
            last_seq: None,
        })?;
        ws.send(Message::text(hello)).await.context("hello")?;
        let (id, offset_ms) = loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let local = wall_ms();
                    if message_type(&t) != Some("welcome") {
                        continue;
                    }
                    match serde_json::from_str::<ServerMessage>(&t)? {
                        ServerMessage::Welcome {
                            you, server_time, ..
                        } => break (you.id, server_time as f64 - local),
                        _ => bail!("not a welcome"),
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    bail!("closed before welcome: {:?}", f.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow!(e).context("before welcome")),
                None => bail!("connection ended before welcome"),
            }
        };
        let (sink, mut stream) = ws.split();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        tokio::spawn(async move {
            let closed = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if !matches!(message_type(&t), Some("snapshot" | "room_view")) {
                            continue;
                        }
                        let local_ms = wall_ms();
                        lock(&s).raw.push((local_ms, t));
                    }
                    Some(Ok(Message::Close(f))) => break Some(f.map(|f| u16::from(f.code))),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break Some(None),
                }
            };
            lock(&s).closed = Some(closed.flatten());
        });
        Ok(Person {
            id,
            offset_ms,
            seen,
            sink,
        })
    }

    async fn close(mut self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.sink.send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "load test done".into(),
            }))),
        )
        .await;
    }
}

/// The facilitator's events: wait for the first that `f` accepts.
async fn wait_event(
    rx: &mut mpsc::UnboundedReceiver<Received>,
    within: Duration,
    what: &str,
    f: impl Fn(&Event) -> bool,
) -> Result<(u64, u64, Actor, Event)> {
    let wait = async {
        while let Some(r) = rx.recv().await {
            if let ServerMessage::Event { record } = r.msg {
                if f(&record.event) {
                    return Some((record.seq, record.at, record.by, record.event));
                }
            }
        }
        None
    };
    tokio::time::timeout(within, wait)
        .await
        .map_err(|_| anyhow!("no {what} within {within:?}"))?
        .ok_or_else(|| anyhow!("the facilitator's connection closed before {what}"))
}

/// Where the plan puts `id` in `round` (`None`: past the last round, the plenary).
fn room_of(plan: &RotationPlan, id: &str, round: Option<usize>) -> String {
    let Some(r) = round else {
        return "plenary".to_string();
    };
    if let Some(i) = plan.experts.iter().position(|e| e == id) {
        return plan.rooms[i].clone();
    }
    if let Some(g) = plan.groups.iter().position(|g| g.iter().any(|p| p == id)) {
        return match plan
            .schedule
            .get(r)
            .and_then(|s| s.get(g))
            .copied()
            .flatten()
        {
            Some(e) => plan.rooms[e as usize].clone(),
            None => plan.rest_room.clone(),
        };
    }
    "plenary".to_string()
}

/// One boundary's figures.
struct Boundary {
    server: Latency,
    client: Latency,
    client_raw: Latency,
    movers_expected: usize,
    moved_right: usize,
    wrong_room: usize,
    extra: usize,
    missing: usize,
    unexpected: usize,
    last_client_ms: f64,
    last_server_ms: f64,
}

/// The moves between the event at `from_seq` and the next boundary (`to_seq`), checked
/// against the rooms before and after.
#[allow(clippy::too_many_arguments)]
fn boundary(
    people: &[(String, f64, Vec<Move>)],
    plan: &RotationPlan,
    before: Option<usize>,
    after: Option<usize>,
    from_seq: u64,
    to_seq: u64,
    at: u64,
    anchor: Instant,
) -> Boundary {
    let mut b = Boundary {
        server: Latency::new(),
        client: Latency::new(),
        client_raw: Latency::new(),
        movers_expected: 0,
        moved_right: 0,
        wrong_room: 0,
        extra: 0,
        missing: 0,
        unexpected: 0,
        last_client_ms: 0.0,
        last_server_ms: 0.0,
    };
    let anchor_wall = wall_ms();
    for (id, offset, moves) in people {
        let to = room_of(plan, id, after);
        let from = room_of(plan, id, before);
        let placed = plan.experts.contains(id) || plan.groups.iter().any(|g| g.contains(id));
        let must_move = placed && from != to;
        let mine: Vec<&Move> = moves
            .iter()
            .filter(|m| m.seq >= from_seq && m.seq < to_seq)
            .collect();
        if must_move {
            b.movers_expected += 1;
        }
        match (must_move, mine.len()) {
            (true, 0) => b.missing += 1,
            (false, 0) => {}
            (false, _) => b.unexpected += mine.len(),
            (true, k) => {
                b.extra += k - 1;
                let m = mine[0];
                if m.room.as_deref() == Some(to.as_str()) {
                    b.moved_right += 1;
                } else {
                    b.wrong_room += 1;
                }
                // Latencies are recorded as ending at a common instant (the timeline of this
                // scenario is not the point: the boundary is).
                let d = |ms: f64| Duration::from_secs_f64((ms.max(0.0)) / 1000.0);
                let server = m.server_time as f64 - at as f64;
                let client = m.local_ms + offset - at as f64;
                let raw = m.local_ms - at as f64;
                let end = anchor
                    .checked_sub(Duration::from_secs_f64(
                        ((anchor_wall - m.local_ms) / 1000.0).max(0.0),
                    ))
                    .unwrap_or(anchor);
                b.server.record(d(server), end);
                b.client.record(d(client), end);
                b.client_raw.record(d(raw), end);
                b.last_client_ms = b.last_client_ms.max(client);
                b.last_server_ms = b.last_server_ms.max(server);
            }
        }
    }
    b
}

pub async fn run(ctx: &Ctx, args: &Args) -> ScenarioResult {
    if args.experts == 0 || args.citizens == 0 || args.rounds == 0 || args.round_ms == 0 {
        bail!("--experts, --citizens, --rounds and --round-ms must be at least 1");
    }
    let mut out = Outcome::new(json!(args));
    let (e, c) = (args.experts, args.citizens);

    // 1. The convention: a facilitator, E experts, C citizens.
    let t = Instant::now();
    let mut roster = vec![person("Animatrice (load test)".into(), Role::Facilitator)];
    roster.extend((0..e).map(|i| person(format!("Experte {i}"), Role::Expert)));
    roster.extend((0..c).map(|i| person(format!("Citoyen {i}"), Role::Citizen)));
    let id = unique_id("rotation");
    let setup = ctx
        .organizer
        .setup(&id, "Load test: rotation", &roster)
        .await
        .context("setting the convention up")?;
    out.convention = Some(id);
    out.phases.insert("setup".into(), t.elapsed().as_secs_f64());

    // 2. Everyone connects.
    let t = Instant::now();
    let (ftx, mut frx) = mpsc::unbounded_channel();
    let mut fac = Participant::open(
        &ctx.ws_url,
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
    let sem = Arc::new(Semaphore::new(ctx.connect_concurrency.max(1)));
    let bar = ctx.bar((e + c) as u64, "participants");
    let mut tasks = Vec::with_capacity(e + c);
    for i in 1..=e + c {
        let token = setup.token(i)?;
        let sem = sem.clone();
        let ws_url = ctx.ws_url.clone();
        let shared = ctx.shared.clone();
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire_owned().await.ok()?;
            shared
                .counters
                .attempted
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = tokio::time::timeout(CONTROL, Person::open(&ws_url, &token)).await;
            bar.inc(1);
            match p {
                Ok(Ok(p)) => {
                    shared.counters.opened();
                    Some(p)
                }
                Ok(Err(err)) => {
                    eprintln!("rotation: {err:#}");
                    shared.errors.add("connect_failed");
                    None
                }
                Err(_) => {
                    shared.errors.add("connect_timeout");
                    None
                }
            }
        }));
    }
    let mut people = Vec::with_capacity(e + c);
    for t in tasks {
        if let Some(p) = t.await.ok().flatten() {
            people.push(p);
        }
    }
    bar.finish_and_clear();
    out.phases
        .insert("connect".into(), t.elapsed().as_secs_f64());
    out.check("participants", e + c);
    out.check("participants_connected", people.len());
    if people.len() < e + c {
        bail!("{} participants could not connect", e + c - people.len());
    }
    let offsets: Vec<f64> = people.iter().map(|p| p.offset_ms).collect();
    let mean_offset = offsets.iter().sum::<f64>() / offsets.len() as f64;
    out.check(
        "clock_offset_ms_mean",
        (mean_offset * 1000.0).round() / 1000.0,
    );
    out.check(
        "clock_offset_ms_range",
        [
            offsets.iter().cloned().fold(f64::MAX, f64::min),
            offsets.iter().cloned().fold(f64::MIN, f64::max),
        ],
    );

    // 3. Plan and start.
    let experts: Vec<String> = setup.ids[1..=e].to_vec();
    let r = fac
        .request(
            Command::PlanRotation {
                experts: experts.clone(),
                grouping: Grouping::Random,
                group_count: Some(args.groups.unwrap_or(e as u32)),
                group_size: None,
                participants: None,
                only_present: true,
                round_ms: args.round_ms,
                transition_ms: args.transition_ms,
                warning_ms: args.warning_ms,
                rounds: Some(args.rounds),
                break_room: false,
            },
            ctx.within(CONTROL),
        )
        .await?;
    r.result
        .map_err(|(c, m)| anyhow!("plan_rotation refused: {} {m}", c.as_str()))?;
    let (_, _, _, planned) = wait_event(&mut frx, ctx.within(CONTROL), "rotation_planned", |e| {
        matches!(e, Event::RotationPlanned { .. })
    })
    .await?;
    let Event::RotationPlanned { plan } = planned else {
        unreachable!()
    };
    out.check("groups", plan.groups.len());
    out.check(
        "citizens_in_groups",
        plan.groups.iter().map(Vec::len).sum::<usize>(),
    );
    let scraped = ctx.scrape().await;
    let r = fac
        .request(Command::StartRotation, ctx.within(CONTROL))
        .await?;
    r.result
        .map_err(|(c, m)| anyhow!("start_rotation refused: {} {m}", c.as_str()))?;
    let (s0, at0, _, ev0) = wait_event(&mut frx, ctx.within(CONTROL), "round 0", |e| {
        matches!(e, Event::RotationRoundStarted { round: 0, .. })
    })
    .await?;
    let Event::RotationRoundStarted { ends_at: ends0, .. } = ev0 else {
        unreachable!()
    };

    // 4. The timer-fired boundaries: round 1 (if any), and the end.
    let rounds_total = args.rounds as usize;
    let wait = ctx.within(Duration::from_millis(
        args.round_ms * args.rounds as u64 + args.transition_ms * args.rounds as u64 + 30_000,
    ));
    let mut r1: Option<(u64, u64, Actor, u64)> = None;
    if rounds_total > 1 {
        let want_transition = args.transition_ms > 0;
        let (seq, at, by, ev) = wait_event(&mut frx, wait, "the end of round 0", |e| {
            if want_transition {
                matches!(e, Event::RotationTransition { next: 1, .. })
            } else {
                matches!(e, Event::RotationRoundStarted { round: 1, .. })
            }
        })
        .await?;
        let _ = ev;
        r1 = Some((seq, at, by, ends0));
    }
    let (s_end, at_end, by_end, _) = wait_event(&mut frx, wait, "rotation_ended", |e| {
        matches!(e, Event::RotationEnded { .. })
    })
    .await?;
    // The last snapshots may still be on their way.
    tokio::time::sleep(ctx.within(Duration::from_millis(1500))).await;
    ctx.scrape_delta("rotation", scraped, &mut out).await;
    ctx.end_of_measurement(&mut out);

    // 5. Figures and checks.
    let seen: Vec<(String, f64, Vec<Move>)> = people
        .iter()
        .map(|p| (p.id.clone(), p.offset_ms, p.moves()))
        .collect();
    let closed = people
        .iter()
        .filter(|p| lock(&p.seen).closed.is_some())
        .count();
    let errors: usize = people.iter().map(|p| lock(&p.seen).errors.len()).sum();
    out.check("participants_closed", closed);
    out.check("snapshot_parse_errors", errors);
    if closed > 0 {
        out.failures
            .push(format!("{closed} participants' connections closed"));
    }
    let anchor = Instant::now();
    let first_boundary = r1.as_ref().map(|x| x.0).unwrap_or(s_end);
    let start = boundary(&seen, &plan, None, Some(0), s0, first_boundary, at0, anchor);
    let report = |name: &str, b: &Boundary, out: &mut Outcome| {
        out.check(&format!("{name}_movers_expected"), b.movers_expected);
        out.check(&format!("{name}_moved_right"), b.moved_right);
        out.check(&format!("{name}_wrong_room"), b.wrong_room);
        out.check(&format!("{name}_extra_snapshots"), b.extra);
        out.check(&format!("{name}_missing"), b.missing);
        out.check(&format!("{name}_unexpected_snapshots"), b.unexpected);
        if b.moved_right != b.movers_expected || b.extra > 0 || b.unexpected > 0 {
            out.failures.push(format!(
                "{name}: {} of {} movers moved once to the right room ({} wrong room, {} missing, {} extra, {} unexpected)",
                b.moved_right, b.movers_expected, b.wrong_room, b.missing, b.extra, b.unexpected
            ));
        }
    };
    report("start", &start, &mut out);
    if let Some((s1, at1, by1, ends)) = r1 {
        let b = boundary(&seen, &plan, Some(0), Some(1), s1, s_end, at1, anchor);
        report("round1", &b, &mut out);
        out.check("round1_by_timer", by1 == Actor::Timer);
        out.check("round1_timer_late_ms", at1 as i64 - ends as i64);
        out.check(
            "round1_last_notification_client_ms",
            (b.last_client_ms * 1000.0).round() / 1000.0,
        );
        out.check(
            "round1_last_notification_server_ms",
            (b.last_server_ms * 1000.0).round() / 1000.0,
        );
        out.rates
            .insert("round1_last_notification_ms".into(), b.last_client_ms);
        out.series.push(Series {
            name: "round1_client".into(),
            what: "rotation_round_started(1).at -> snapshot received (server clock via welcome offset)".into(),
            latency: b.client,
        });
        out.series.push(Series {
            name: "round1_client_raw".into(),
            what: "rotation_round_started(1).at -> snapshot received (local wall clock)".into(),
            latency: b.client_raw,
        });
        out.series.push(Series {
            name: "round1_server".into(),
            what: "rotation_round_started(1).at -> the snapshot's server_time".into(),
            latency: b.server,
        });
        if by1 != Actor::Timer {
            out.failures
                .push("round 1 was not started by the timer".to_string());
        }
    }
    let last_round = rounds_total.checked_sub(1);
    let b = boundary(
        &seen,
        &plan,
        last_round,
        None,
        s_end,
        u64::MAX,
        at_end,
        anchor,
    );
    report("end", &b, &mut out);
    out.check("end_by_timer", by_end == Actor::Timer);
    out.check(
        "end_last_notification_client_ms",
        (b.last_client_ms * 1000.0).round() / 1000.0,
    );
    out.rates
        .insert("end_last_notification_ms".into(), b.last_client_ms);
    out.series.push(Series {
        name: "end_client".into(),
        what: "rotation_ended.at -> snapshot received (server clock via welcome offset)".into(),
        latency: b.client,
    });
    out.series.push(Series {
        name: "end_server".into(),
        what: "rotation_ended.at -> the snapshot's server_time".into(),
        latency: b.server,
    });
    out.series.push(Series {
        name: "start_client".into(),
        what: "rotation_round_started(0).at (start_rotation) -> snapshot received".into(),
        latency: start.client,
    });
    out.timeline_from = Duration::ZERO;
    out.timeline_width = Duration::from_millis(100);
    out.timed_out = ctx.timed_out();

    let mut closing = tokio::task::JoinSet::new();
    for p in people {
        closing.spawn(p.close());
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while closing.join_next().await.is_some() {}
    })
    .await;
    close_all(vec![fac], Duration::from_secs(5)).await;
    Ok(out)
}
