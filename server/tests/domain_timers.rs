//! Deadlines kept in the state: breakouts with a warning and an end, extensions, speaking
//! limits, what a tick fires (once), `next_deadline`, and replay of the log.

mod common;

use common::{pid, small, Sim, NOBODY, T0};
use convene::domain::{
    AssignMethod, CloseReason, Code, Command, Convention, Event, FloorEndReason, Millis, PLENARY,
};

// In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens, everyone in the plenary.

/// An absolute time, `offset` ms after T0.
fn t(offset: Millis) -> Millis {
    T0 + offset
}

fn open(duration_ms: u64, warning_ms: u64) -> Command {
    Command::OpenBreakouts {
        duration_ms,
        warning_ms,
    }
}

fn extend(by_ms: u64) -> Command {
    Command::ExtendBreakouts { by_ms }
}

fn limit(room: Option<&str>, limit_ms: Option<u64>) -> Command {
    Command::SetSpeakingLimit {
        room: room.map(String::from),
        limit_ms,
    }
}

fn give(room: Option<&str>, participant: &str) -> Command {
    Command::GiveFloor {
        room: room.map(String::from),
        participant: Some(participant.into()),
        limit_ms: None,
    }
}

fn opened(ends_at: Millis, warn_at: Millis) -> Event {
    Event::BreakoutsOpened {
        ends_at: t(ends_at),
        warn_at: t(warn_at),
    }
}

fn extended(ends_at: Millis, warn_at: Millis) -> Event {
    Event::BreakoutsExtended {
        ends_at: t(ends_at),
        warn_at: t(warn_at),
    }
}

fn closed(reason: CloseReason) -> Event {
    Event::BreakoutsClosed { reason }
}

fn given(room: &str, participant: &str, ends_at: Option<Millis>) -> Event {
    Event::FloorGiven {
        room: room.into(),
        participant: participant.into(),
        ends_at: ends_at.map(t),
    }
}

fn ended(room: &str, participant: &str, spoken_ms: u64, reason: FloorEndReason) -> Event {
    Event::FloorEnded {
        room: room.into(),
        participant: participant.into(),
        spoken_ms,
        reason,
    }
}

/// What happens at one moment of a timeline.
enum Act {
    /// The server's timer ticks.
    Tick,
    /// A participant sends a command.
    By(&'static str, Command),
}

struct Step {
    /// Offset from T0.
    at: Millis,
    act: Act,
    expect: Result<Vec<Event>, Code>,
    /// `next_deadline()` afterwards, as an offset from T0.
    deadline: Option<Millis>,
}

fn tick(at: Millis, events: Vec<Event>, deadline: Option<Millis>) -> Step {
    Step {
        at,
        act: Act::Tick,
        expect: Ok(events),
        deadline,
    }
}

fn by(
    at: Millis,
    who: &'static str,
    command: Command,
    expect: Result<Vec<Event>, Code>,
    deadline: Option<Millis>,
) -> Step {
    Step {
        at,
        act: Act::By(who, command),
        expect,
        deadline,
    }
}

struct Timeline {
    name: &'static str,
    steps: Vec<Step>,
}

/// The small convention with two breakout rooms and p6, p7 assigned to r1, everyone else
/// to r2; breakouts closed.
fn ready() -> Sim {
    let (mut sim, ids) = small();
    sim.ok(
        pid(1),
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    let pairs = ids
        .citizens
        .iter()
        .map(|p| {
            (
                p.clone(),
                if p == pid(6) || p == pid(7) {
                    "r1"
                } else {
                    "r2"
                }
                .to_string(),
            )
        })
        .collect();
    sim.ok(
        pid(1),
        Command::AssignRooms {
            method: AssignMethod::Manual(pairs),
            participants: None,
            only_present: false,
        },
    );
    sim
}

fn run(timeline: Timeline) {
    let mut sim = ready();
    let assignment = sim.state.assignment.clone();
    assert_eq!(
        sim.state.next_deadline(),
        None,
        "{}: no deadline at first",
        timeline.name
    );
    for (i, step) in timeline.steps.into_iter().enumerate() {
        let name = format!("{}: step {i} at +{} ms", timeline.name, step.at);
        assert!(t(step.at) >= sim.now, "{name}: time goes forward");
        sim.now = t(step.at);
        let before = sim.state.clone();
        let got = match step.act {
            Act::Tick => sim.exec(&convene::domain::Actor::Timer, &Command::Tick),
            Act::By(who, command) => sim.by(who, command),
        };
        assert_eq!(got, step.expect, "{name}");
        if got.is_err() {
            assert_eq!(sim.state, before, "{name}: a refusal changes nothing");
        }
        assert_eq!(
            sim.state.next_deadline(),
            step.deadline.map(t),
            "{name}: next deadline"
        );
        let events = got.unwrap_or_default();
        if events
            .iter()
            .any(|e| matches!(e, Event::BreakoutsClosed { .. }))
        {
            assert!(
                sim.state.location.is_empty(),
                "{name}: everyone is back in the plenary"
            );
            assert!(sim.state.breakout.is_none(), "{name}");
        }
        if events
            .iter()
            .any(|e| matches!(e, Event::BreakoutsOpened { .. }))
        {
            for (p, r) in assignment.iter() {
                assert_eq!(sim.location(p), r, "{name}: {p} is in their room");
            }
        }
        assert_eq!(
            sim.replayed(),
            sim.state,
            "{name}: the folded log equals the live state"
        );
    }
}

#[test]
fn breakout_timers() {
    use CloseReason::{Facilitator, Timer};
    let w = Event::BreakoutsWarned;
    let timelines = vec![
        Timeline {
            name: "warn once, then close",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                tick(1_000, vec![], Some(540_000)),
                tick(539_999, vec![], Some(540_000)),
                tick(540_000, vec![w.clone()], Some(600_000)),
                tick(540_000, vec![], Some(600_000)),
                tick(570_000, vec![], Some(600_000)),
                tick(599_999, vec![], Some(600_000)),
                tick(600_000, vec![closed(Timer)], None),
                tick(600_000, vec![], None),
                by(
                    600_001,
                    pid(1),
                    Command::CloseBreakouts,
                    Err(Code::Conflict),
                    None,
                ),
                tick(900_000, vec![], None),
            ],
        },
        Timeline {
            name: "extend before the warning",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                by(
                    100_000,
                    pid(2),
                    extend(120_000),
                    Ok(vec![extended(720_000, 660_000)]),
                    Some(660_000),
                ),
                tick(540_000, vec![], Some(660_000)),
                tick(600_000, vec![], Some(660_000)),
                tick(660_000, vec![w.clone()], Some(720_000)),
                tick(720_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "extend after the warning: warned again",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                tick(540_000, vec![w.clone()], Some(600_000)),
                by(
                    550_000,
                    pid(1),
                    extend(300_000),
                    Ok(vec![extended(900_000, 840_000)]),
                    Some(840_000),
                ),
                tick(600_000, vec![], Some(840_000)),
                tick(840_000, vec![w.clone()], Some(900_000)),
                tick(840_001, vec![], Some(900_000)),
                tick(900_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "extend a little within the warning: no second warning",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                tick(540_000, vec![w.clone()], Some(600_000)),
                by(
                    570_000,
                    pid(1),
                    extend(10_000),
                    Ok(vec![extended(610_000, 570_000)]),
                    Some(610_000),
                ),
                tick(570_000, vec![], Some(610_000)),
                tick(600_000, vec![], Some(610_000)),
                tick(610_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "extend twice before the warning",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                by(
                    10_000,
                    pid(1),
                    extend(60_000),
                    Ok(vec![extended(660_000, 600_000)]),
                    Some(600_000),
                ),
                by(
                    20_000,
                    pid(1),
                    extend(60_000),
                    Ok(vec![extended(720_000, 660_000)]),
                    Some(660_000),
                ),
                tick(660_000, vec![w.clone()], Some(720_000)),
                tick(720_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "a warning longer than the breakout warns at once",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(60_000, 120_000),
                    Ok(vec![opened(60_000, 0)]),
                    Some(0),
                ),
                tick(0, vec![w.clone()], Some(60_000)),
                tick(0, vec![], Some(60_000)),
                tick(60_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "no warning",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(60_000, 0),
                    Ok(vec![opened(60_000, 60_000)]),
                    Some(60_000),
                ),
                tick(59_999, vec![], Some(60_000)),
                tick(60_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "the server was down through the warning and the end",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                tick(3_600_000, vec![closed(Timer)], None),
                tick(3_600_000, vec![], None),
            ],
        },
        Timeline {
            name: "closed by hand before the timer",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                by(
                    100_000,
                    pid(2),
                    Command::CloseBreakouts,
                    Ok(vec![closed(Facilitator)]),
                    None,
                ),
                tick(540_000, vec![], None),
                tick(600_000, vec![], None),
                by(700_000, pid(1), extend(60_000), Err(Code::Conflict), None),
            ],
        },
        Timeline {
            name: "open again after the timer closed",
            steps: vec![
                by(
                    0,
                    pid(1),
                    open(60_000, 10_000),
                    Ok(vec![opened(60_000, 50_000)]),
                    Some(50_000),
                ),
                tick(60_000, vec![closed(Timer)], None),
                by(
                    70_000,
                    pid(1),
                    open(60_000, 10_000),
                    Ok(vec![opened(130_000, 120_000)]),
                    Some(120_000),
                ),
                tick(120_000, vec![w.clone()], Some(130_000)),
                tick(130_000, vec![closed(Timer)], None),
            ],
        },
        Timeline {
            name: "refused extensions",
            steps: vec![
                by(0, pid(1), extend(60_000), Err(Code::Conflict), None),
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                by(1, pid(1), extend(0), Err(Code::Invalid), Some(540_000)),
                by(
                    2,
                    pid(1),
                    extend(12 * 3600 * 1000 + 1),
                    Err(Code::Invalid),
                    Some(540_000),
                ),
                by(
                    3,
                    pid(4),
                    extend(60_000),
                    Err(Code::Forbidden),
                    Some(540_000),
                ),
                by(
                    4,
                    pid(3),
                    extend(60_000),
                    Err(Code::Forbidden),
                    Some(540_000),
                ),
                by(
                    5,
                    pid(1),
                    extend(12 * 3600 * 1000),
                    Ok(vec![extended(43_800_000, 43_740_000)]),
                    Some(43_740_000),
                ),
            ],
        },
    ];
    for timeline in timelines {
        run(timeline);
    }
}

#[test]
fn speaking_limits() {
    use FloorEndReason::{Moved, Taken, Timer, Yielded};
    let set = |room: &str, ms| Event::SpeakingLimitSet {
        room: room.into(),
        limit_ms: ms,
    };
    let timelines = vec![
        Timeline {
            name: "the floor ends at the limit",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(60_000)),
                    Ok(vec![set(PLENARY, Some(60_000))]),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), Some(61_000))]),
                    Some(61_000),
                ),
                tick(30_000, vec![], Some(61_000)),
                tick(60_999, vec![], Some(61_000)),
                tick(61_000, vec![ended(PLENARY, pid(4), 60_000, Timer)], None),
                tick(61_000, vec![], None),
                tick(120_000, vec![], None),
            ],
        },
        Timeline {
            name: "the server was down: only the limit counts",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(60_000)),
                    Ok(vec![set(PLENARY, Some(60_000))]),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), Some(61_000))]),
                    Some(61_000),
                ),
                tick(3_601_000, vec![ended(PLENARY, pid(4), 60_000, Timer)], None),
                tick(3_601_000, vec![], None),
            ],
        },
        Timeline {
            name: "yielded before the limit",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(60_000)),
                    Ok(vec![set(PLENARY, Some(60_000))]),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), Some(61_000))]),
                    Some(61_000),
                ),
                by(
                    31_000,
                    pid(4),
                    Command::YieldFloor,
                    Ok(vec![ended(PLENARY, pid(4), 30_000, Yielded)]),
                    None,
                ),
                tick(61_000, vec![], None),
            ],
        },
        Timeline {
            name: "taken by the next speaker, whose limit starts then",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(60_000)),
                    Ok(vec![set(PLENARY, Some(60_000))]),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), Some(61_000))]),
                    Some(61_000),
                ),
                by(
                    11_000,
                    pid(1),
                    give(None, pid(5)),
                    Ok(vec![
                        ended(PLENARY, pid(4), 10_000, Taken),
                        given(PLENARY, pid(5), Some(71_000)),
                    ]),
                    Some(71_000),
                ),
                tick(61_000, vec![], Some(71_000)),
                tick(71_000, vec![ended(PLENARY, pid(5), 60_000, Timer)], None),
            ],
        },
        Timeline {
            name: "no limit, no deadline",
            steps: vec![
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), None)]),
                    None,
                ),
                tick(3_600_000, vec![], None),
                by(
                    3_601_000,
                    pid(4),
                    Command::YieldFloor,
                    Ok(vec![ended(PLENARY, pid(4), 3_600_000, Yielded)]),
                    None,
                ),
            ],
        },
        Timeline {
            name: "a limit set during a turn applies from the next",
            steps: vec![
                by(
                    1_000,
                    pid(1),
                    give(None, pid(4)),
                    Ok(vec![given(PLENARY, pid(4), None)]),
                    None,
                ),
                by(
                    2_000,
                    pid(1),
                    limit(None, Some(30_000)),
                    Ok(vec![set(PLENARY, Some(30_000))]),
                    None,
                ),
                tick(40_000, vec![], None),
                by(
                    50_000,
                    pid(1),
                    give(None, pid(5)),
                    Ok(vec![
                        ended(PLENARY, pid(4), 49_000, Taken),
                        given(PLENARY, pid(5), Some(80_000)),
                    ]),
                    Some(80_000),
                ),
                by(
                    60_000,
                    pid(1),
                    limit(None, None),
                    Ok(vec![set(PLENARY, None)]),
                    Some(80_000),
                ),
                tick(80_000, vec![ended(PLENARY, pid(5), 30_000, Timer)], None),
            ],
        },
        Timeline {
            name: "refused limits",
            steps: vec![
                by(0, pid(1), limit(None, Some(0)), Err(Code::Invalid), None),
                by(
                    0,
                    pid(1),
                    limit(None, Some(12 * 3600 * 1000 + 1)),
                    Err(Code::Invalid),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    limit(Some("r9"), Some(1_000)),
                    Err(Code::NotFound),
                    None,
                ),
                by(
                    0,
                    pid(4),
                    limit(None, Some(1_000)),
                    Err(Code::Forbidden),
                    None,
                ),
                by(
                    0,
                    pid(3),
                    limit(None, Some(1_000)),
                    Err(Code::Forbidden),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    limit(Some("r2"), Some(12 * 3600 * 1000)),
                    Ok(vec![set("r2", Some(12 * 3600 * 1000))]),
                    None,
                ),
            ],
        },
        Timeline {
            name: "limits per room, the earliest deadline first",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(60_000)),
                    Ok(vec![set(PLENARY, Some(60_000))]),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    limit(Some("r1"), Some(30_000)),
                    Ok(vec![set("r1", Some(30_000))]),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                by(
                    1_000,
                    pid(1),
                    give(Some("r1"), pid(6)),
                    Ok(vec![given("r1", pid(6), Some(31_000))]),
                    Some(31_000),
                ),
                by(
                    2_000,
                    pid(1),
                    give(None, pid(2)),
                    Ok(vec![given(PLENARY, pid(2), Some(62_000))]),
                    Some(31_000),
                ),
                tick(
                    31_000,
                    vec![ended("r1", pid(6), 30_000, Timer)],
                    Some(62_000),
                ),
                by(
                    40_000,
                    pid(1),
                    give(Some("r1"), pid(7)),
                    Ok(vec![given("r1", pid(7), Some(70_000))]),
                    Some(62_000),
                ),
                tick(
                    80_000,
                    vec![
                        ended(PLENARY, pid(2), 60_000, Timer),
                        ended("r1", pid(7), 30_000, Timer),
                    ],
                    Some(540_000),
                ),
                tick(540_000, vec![Event::BreakoutsWarned], Some(600_000)),
                tick(600_000, vec![closed(CloseReason::Timer)], None),
            ],
        },
        Timeline {
            name: "a breakout floor due just as the breakouts close",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(Some("r1"), Some(30_000)),
                    Ok(vec![set("r1", Some(30_000))]),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    open(600_000, 60_000),
                    Ok(vec![opened(600_000, 540_000)]),
                    Some(540_000),
                ),
                tick(540_000, vec![Event::BreakoutsWarned], Some(600_000)),
                by(
                    570_000,
                    pid(1),
                    give(Some("r1"), pid(6)),
                    Ok(vec![given("r1", pid(6), Some(600_000))]),
                    Some(600_000),
                ),
                tick(
                    600_000,
                    vec![
                        ended("r1", pid(6), 30_000, Moved),
                        closed(CloseReason::Timer),
                    ],
                    None,
                ),
            ],
        },
        Timeline {
            name: "the plenary's floor goes on when the breakouts close",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(900_000)),
                    Ok(vec![set(PLENARY, Some(900_000))]),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    open(600_000, 0),
                    Ok(vec![opened(600_000, 600_000)]),
                    Some(600_000),
                ),
                by(
                    1_000,
                    pid(1),
                    give(None, pid(2)),
                    Ok(vec![given(PLENARY, pid(2), Some(901_000))]),
                    Some(600_000),
                ),
                tick(600_000, vec![closed(CloseReason::Timer)], Some(901_000)),
                tick(901_000, vec![ended(PLENARY, pid(2), 900_000, Timer)], None),
            ],
        },
    ];
    for timeline in timelines {
        run(timeline);
    }
}

#[test]
fn tick_is_for_the_timer_only() {
    let mut sim = ready();
    sim.ok(pid(1), open(1_000, 0));
    sim.now = t(5_000);
    for who in [pid(1), pid(3), pid(4), NOBODY] {
        assert_eq!(sim.by(who, Command::Tick), Err(Code::Forbidden), "{who}");
    }
    assert_eq!(
        sim.exec(&convene::domain::Actor::Organizer, &Command::Tick),
        Err(Code::Forbidden)
    );
    assert!(sim.state.breakout.is_some());
    assert_eq!(sim.tick(), vec![closed(CloseReason::Timer)]);
    // A tick on a convention that does not exist finds nothing.
    let mut empty = Sim::default();
    assert_eq!(
        empty.exec(&convene::domain::Actor::Timer, &Command::Tick),
        Err(Code::NotFound)
    );
}

/// A busy day, with every kind of event: the state folded from the log equals the live state
/// after every record, and a restarted server (a fresh fold) carries on identically.
#[test]
fn replay_gives_the_same_state() {
    let script: Vec<(Millis, Option<&str>, Command)> = vec![
        (
            0,
            None,
            Command::IssueInvites {
                invites: vec![(pid(4).into(), "aa".into()), (pid(5).into(), "bb".into())],
            },
        ),
        (
            0,
            None,
            Command::RevokeInvite {
                participant: pid(5).into(),
            },
        ),
        (
            1_000,
            Some(pid(1)),
            Command::Broadcast {
                text: "Bienvenue !".into(),
            },
        ),
        (
            2_000,
            Some(pid(4)),
            Command::SendChat {
                room: None,
                text: "Bonjour".into(),
            },
        ),
        (3_000, Some(pid(4)), Command::RaiseHand { room: None }),
        (3_500, Some(pid(5)), Command::RaiseHand { room: None }),
        (
            4_000,
            Some(pid(1)),
            Command::SetQueueOrder {
                room: None,
                order: convene::domain::QueueOrder::LeastSpoken,
            },
        ),
        (5_000, Some(pid(1)), limit(None, Some(45_000))),
        (
            6_000,
            Some(pid(1)),
            Command::GiveFloor {
                room: None,
                participant: None,
                limit_ms: None,
            },
        ),
        (
            7_000,
            Some(pid(6)),
            Command::CallFacilitator {
                message: "Je n'entends rien".into(),
            },
        ),
        (60_000, None, Command::Tick),
        (61_000, Some(pid(1)), open(600_000, 60_000)),
        (62_000, Some(pid(3)), Command::Visit { room: "r1".into() }),
        (
            63_000,
            Some(pid(6)),
            Command::SendChat {
                room: None,
                text: "Dans la salle 1".into(),
            },
        ),
        (64_000, Some(pid(1)), give(Some("r1"), pid(7))),
        (
            70_000,
            Some(pid(1)),
            Command::MoveParticipant {
                participant: pid(8).into(),
                room: "r1".into(),
            },
        ),
        (80_000, Some(pid(7)), Command::YieldFloor),
        (90_000, Some(pid(1)), extend(120_000)),
        (700_000, None, Command::Tick),
        (790_000, None, Command::Tick),
        (
            800_000,
            Some(pid(2)),
            Command::SendChat {
                room: None,
                text: "De retour".into(),
            },
        ),
    ];
    let mut sim = ready();
    for (i, (at, who, command)) in script.into_iter().enumerate() {
        sim.now = t(at);
        let shown = format!("{command:?}");
        match (who, command) {
            (None, Command::Tick) => {
                sim.tick();
            }
            (None, command) => {
                sim.org(command);
            }
            (Some(who), command) => {
                sim.ok(who, command);
            }
        }
        assert_eq!(sim.replayed(), sim.state, "step {i}: {shown}");
        if i == 9 {
            let call = *sim.state.calls.keys().next().expect("a pending call");
            sim.ok(pid(2), Command::ResolveCall { call });
        }
    }
    // Every prefix of the log folds to a state with that prefix's seq.
    for n in 0..=sim.log.len() {
        let folded = Convention::from_log(&sim.log[..n]);
        assert_eq!(folded.seq, n as u64, "prefix {n}");
    }
    // A restart: fold the log, carry on with the folded state and the same commands.
    let mut restarted = sim.clone();
    restarted.state = sim.replayed();
    for s in [&mut sim, &mut restarted] {
        s.now = t(900_000);
        s.ok(pid(1), open(300_000, 30_000));
        s.now = t(1_200_000);
        s.tick();
    }
    assert_eq!(sim.state, restarted.state);
    assert_eq!(sim.log, restarted.log);
    let chat: usize = sim.state.rooms.iter().map(|r| r.chat.len()).sum();
    assert_eq!(chat, 3, "every chat line is kept");
}

/// A speaking limit in a breakout room runs out while the server is down, and the
/// breakout's end passes too. Decide's own rule ("a speaking limit that ran out while the
/// server was down counts only up to its end") should hold there as well.
#[test]
fn late_close_counts_a_breakout_floor_only_up_to_its_limit() {
    let mut sim = ready();
    sim.ok(pid(1), limit(Some("r1"), Some(60_000)));
    sim.ok(pid(1), open(600_000, 60_000));
    sim.now = t(1_000);
    sim.ok(pid(1), give(Some("r1"), pid(6)));
    sim.now = t(3_600_000);
    let events = sim.tick();
    let spoken: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::FloorEnded {
                participant,
                spoken_ms,
                ..
            } if participant == pid(6) => Some(*spoken_ms),
            _ => None,
        })
        .collect();
    assert_eq!(spoken, vec![60_000], "{events:?}");
    assert_eq!(sim.floor_time(pid(6)), 60_000);
}

/// A facilitator extends breakouts whose end passed before the timer fired (a late timer,
/// or a restart), by less than the delay; then extends again.
#[test]
fn extending_an_overdue_breakout_twice_does_not_panic() {
    let mut sim = ready();
    sim.ok(pid(1), open(600_000, 60_000));
    sim.now = t(700_000);
    sim.ok(pid(1), extend(1_000));
    let again = sim.by(pid(1), extend(1_000));
    assert!(again.is_ok() || again == Err(Code::Conflict), "{again:?}");
}

/// The limit of one turn: chosen when giving the floor (`give_floor` with `limit_ms`), and
/// changed while it runs (`set_floor_limit`, from the turn's start); the room's limit stays.
#[test]
fn a_turns_own_limit() {
    use FloorEndReason::{Taken, Timer};
    let give_for = |participant: &str, limit_ms: Option<Option<u64>>| Command::GiveFloor {
        room: None,
        participant: Some(participant.into()),
        limit_ms,
    };
    let floor_limit = |limit_ms: Option<u64>| Command::SetFloorLimit {
        room: None,
        limit_ms,
    };
    let now_ends = |participant: &str, ends_at: Option<Millis>| Event::FloorLimitSet {
        room: PLENARY.into(),
        participant: participant.into(),
        ends_at: ends_at.map(t),
    };
    let set = |ms| Event::SpeakingLimitSet {
        room: PLENARY.into(),
        limit_ms: ms,
    };
    let timelines = vec![
        Timeline {
            name: "chosen when giving the floor, over the room's",
            steps: vec![
                by(
                    0,
                    pid(1),
                    limit(None, Some(180_000)),
                    Ok(vec![set(Some(180_000))]),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give_for(pid(4), Some(Some(60_000))),
                    Ok(vec![given(PLENARY, pid(4), Some(61_000))]),
                    Some(61_000),
                ),
                tick(61_000, vec![ended(PLENARY, pid(4), 60_000, Timer)], None),
                // The next turn without a choice takes the room's limit again.
                by(
                    62_000,
                    pid(1),
                    give_for(pid(5), None),
                    Ok(vec![given(PLENARY, pid(5), Some(242_000))]),
                    Some(242_000),
                ),
                // No limit for this one, whatever the room's.
                by(
                    70_000,
                    pid(1),
                    give_for(pid(6), Some(None)),
                    Ok(vec![
                        ended(PLENARY, pid(5), 8_000, Taken),
                        given(PLENARY, pid(6), None),
                    ]),
                    None,
                ),
                tick(3_600_000, vec![], None),
            ],
        },
        Timeline {
            name: "changed while the turn runs, from its start",
            steps: vec![
                by(
                    1_000,
                    pid(1),
                    give_for(pid(4), Some(Some(120_000))),
                    Ok(vec![given(PLENARY, pid(4), Some(121_000))]),
                    Some(121_000),
                ),
                // Two more minutes: four from the start.
                by(
                    100_000,
                    pid(1),
                    floor_limit(Some(240_000)),
                    Ok(vec![now_ends(pid(4), Some(241_000))]),
                    Some(241_000),
                ),
                tick(121_000, vec![], Some(241_000)),
                // No limit after all, then one already passed: the turn ends now, counted
                // up to now.
                by(
                    200_000,
                    pid(1),
                    floor_limit(None),
                    Ok(vec![now_ends(pid(4), None)]),
                    None,
                ),
                tick(300_000, vec![], None),
                by(
                    400_000,
                    pid(1),
                    floor_limit(Some(60_000)),
                    Ok(vec![now_ends(pid(4), Some(400_000))]),
                    Some(400_000),
                ),
                tick(400_000, vec![ended(PLENARY, pid(4), 399_000, Timer)], None),
            ],
        },
        Timeline {
            name: "refused",
            steps: vec![
                // Nobody has the floor.
                by(
                    0,
                    pid(1),
                    floor_limit(Some(60_000)),
                    Err(Code::Conflict),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    give_for(pid(4), Some(Some(0))),
                    Err(Code::Invalid),
                    None,
                ),
                by(
                    0,
                    pid(1),
                    give_for(pid(4), Some(Some(12 * 3600 * 1000 + 1))),
                    Err(Code::Invalid),
                    None,
                ),
                by(
                    1_000,
                    pid(1),
                    give_for(pid(4), None),
                    Ok(vec![given(PLENARY, pid(4), None)]),
                    None,
                ),
                by(
                    2_000,
                    pid(1),
                    floor_limit(Some(0)),
                    Err(Code::Invalid),
                    None,
                ),
                by(
                    2_000,
                    pid(4),
                    floor_limit(Some(60_000)),
                    Err(Code::Forbidden),
                    None,
                ),
                by(
                    2_000,
                    pid(3),
                    floor_limit(Some(60_000)),
                    Err(Code::Forbidden),
                    None,
                ),
                by(
                    2_000,
                    pid(1),
                    Command::SetFloorLimit {
                        room: Some("r9".into()),
                        limit_ms: Some(60_000),
                    },
                    Err(Code::NotFound),
                    None,
                ),
            ],
        },
    ];
    for timeline in timelines {
        run(timeline);
    }
}
