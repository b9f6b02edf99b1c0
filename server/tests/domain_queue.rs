//! The speaking queue and the floor: raising and lowering hands, the order of the queue,
//! giving, taking back and yielding the floor, and the floor time everyone accumulates.

mod common;

use common::{pid, small, Sim, NOBODY};
use convene::domain::{AssignMethod, Code, Command, Event, FloorEndReason, QueueOrder, PLENARY};

// In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens, everyone in the plenary.

/// The small convention with two breakout rooms, closed.
fn with_rooms() -> Sim {
    let (mut sim, _) = small();
    sim.ok(
        pid(1),
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    sim
}

fn give(room: Option<&str>, participant: Option<&str>) -> Command {
    Command::GiveFloor {
        room: room.map(String::from),
        participant: participant.map(String::from),
        limit_ms: None,
    }
}

fn end(room: Option<&str>) -> Command {
    Command::EndFloor {
        room: room.map(String::from),
    }
}

fn move_to(participant: &str, room: &str) -> Command {
    Command::MoveParticipant {
        participant: participant.into(),
        room: room.into(),
    }
}

fn manual(pairs: &[(&str, &str)]) -> Command {
    Command::AssignRooms {
        method: AssignMethod::Manual(
            pairs
                .iter()
                .map(|(p, r)| (p.to_string(), r.to_string()))
                .collect(),
        ),
        participants: None,
        only_present: false,
    }
}

fn open() -> Command {
    Command::OpenBreakouts {
        duration_ms: 3_600_000,
        warning_ms: 60_000,
    }
}

#[test]
fn raise_and_lower_hands() {
    struct Case {
        name: &'static str,
        steps: Vec<(&'static str, Command, Result<(), Code>)>,
        /// The queue of each room afterwards, in order of raising.
        queues: Vec<(&'static str, Vec<&'static str>)>,
    }
    use Command::LowerHand as Lower;
    #[allow(non_upper_case_globals)]
    const Raise: Command = Command::RaiseHand { room: None };
    let raise_in = |room: &str| Command::RaiseHand {
        room: Some(room.to_string()),
    };
    let cases = vec![
        Case {
            name: "raise",
            steps: vec![(pid(4), Raise, Ok(()))],
            queues: vec![(PLENARY, vec![pid(4)])],
        },
        Case {
            name: "raise in the room one is in",
            steps: vec![(pid(4), raise_in(PLENARY), Ok(()))],
            queues: vec![(PLENARY, vec![pid(4)])],
        },
        Case {
            // A hand raised offline in a room one has since been moved out of.
            name: "raise in a room one has left",
            steps: vec![(pid(4), raise_in("salle-1"), Err(Code::Conflict))],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "in order of raising",
            steps: vec![
                (pid(5), Raise, Ok(())),
                (pid(4), Raise, Ok(())),
                (pid(6), Raise, Ok(())),
            ],
            queues: vec![(PLENARY, vec![pid(5), pid(4), pid(6)])],
        },
        Case {
            name: "double raise",
            steps: vec![
                (pid(4), Raise, Ok(())),
                (pid(5), Raise, Ok(())),
                (pid(4), Raise, Err(Code::Conflict)),
            ],
            queues: vec![(PLENARY, vec![pid(4), pid(5)])],
        },
        Case {
            name: "lower",
            steps: vec![
                (pid(4), Raise, Ok(())),
                (pid(5), Raise, Ok(())),
                (pid(4), Lower, Ok(())),
            ],
            queues: vec![(PLENARY, vec![pid(5)])],
        },
        Case {
            name: "lower when not raised",
            steps: vec![(pid(4), Lower, Err(Code::Conflict))],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "lower twice",
            steps: vec![
                (pid(4), Raise, Ok(())),
                (pid(4), Lower, Ok(())),
                (pid(4), Lower, Err(Code::Conflict)),
            ],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "raising again goes to the back",
            steps: vec![
                (pid(4), Raise, Ok(())),
                (pid(5), Raise, Ok(())),
                (pid(4), Lower, Ok(())),
                (pid(4), Raise, Ok(())),
            ],
            queues: vec![(PLENARY, vec![pid(5), pid(4)])],
        },
        Case {
            name: "the speaker cannot raise",
            steps: vec![
                (pid(1), give(None, Some(pid(4))), Ok(())),
                (pid(4), Raise, Err(Code::Conflict)),
            ],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "a facilitator may raise",
            steps: vec![(pid(2), Raise, Ok(()))],
            queues: vec![(PLENARY, vec![pid(2)])],
        },
        Case {
            name: "a guarantor may not",
            steps: vec![
                (pid(3), Raise, Err(Code::Forbidden)),
                (pid(3), Lower, Err(Code::Forbidden)),
            ],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "an unknown participant may not",
            steps: vec![(NOBODY, Raise, Err(Code::Forbidden))],
            queues: vec![(PLENARY, vec![])],
        },
        Case {
            name: "hands are per room",
            steps: vec![
                (pid(1), move_to(pid(6), "r1"), Ok(())),
                (pid(4), Raise, Ok(())),
                (pid(6), Raise, Ok(())),
                (pid(5), Raise, Ok(())),
            ],
            queues: vec![
                (PLENARY, vec![pid(4), pid(5)]),
                ("r1", vec![pid(6)]),
                ("r2", vec![]),
            ],
        },
        Case {
            name: "a move lowers the hand",
            steps: vec![
                (pid(4), Raise, Ok(())),
                (pid(5), Raise, Ok(())),
                (pid(1), move_to(pid(4), "r1"), Ok(())),
                (pid(4), Lower, Err(Code::Conflict)),
                (pid(4), Raise, Ok(())),
            ],
            queues: vec![(PLENARY, vec![pid(5)]), ("r1", vec![pid(4)])],
        },
    ];
    for case in cases {
        let mut sim = with_rooms();
        for (i, (who, command, expect)) in case.steps.into_iter().enumerate() {
            sim.now += 1_000;
            let before = sim.state.clone();
            let shown = format!("{command:?}");
            let got = sim.by(who, command.clone());
            match (&expect, &got) {
                (Ok(()), Ok(events)) => {
                    let room = sim.location(who).to_string();
                    let want = match command {
                        Command::RaiseHand { room: None } => vec![Event::HandRaised {
                            room,
                            participant: who.into(),
                        }],
                        Command::LowerHand => vec![Event::HandLowered {
                            room,
                            participant: who.into(),
                        }],
                        _ => events.clone(),
                    };
                    assert_eq!(events, &want, "{}: step {i}", case.name);
                }
                (Err(code), Err(got)) => {
                    assert_eq!(code, got, "{}: step {i}, {who} {shown}", case.name);
                    assert_eq!(
                        sim.state, before,
                        "{}: step {i}: a refusal changes nothing",
                        case.name
                    );
                }
                _ => panic!(
                    "{}: step {i}, {who} {shown}: expected {expect:?}, got {got:?}",
                    case.name
                ),
            }
        }
        for (room, queue) in case.queues {
            assert_eq!(sim.queue(room), queue, "{}: queue of {room}", case.name);
        }
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn queue_order() {
    struct Case {
        name: &'static str,
        /// Turns taken before anyone raises a hand: who, for how long.
        spoken: Vec<(&'static str, u64)>,
        raised: Vec<&'static str>,
        order: QueueOrder,
        expect: Vec<&'static str>,
    }
    let cases = vec![
        Case {
            name: "raised: first raised, first heard",
            spoken: vec![(pid(4), 30_000), (pid(5), 10_000)],
            raised: vec![pid(4), pid(5), pid(6), pid(7)],
            order: QueueOrder::Raised,
            expect: vec![pid(4), pid(5), pid(6), pid(7)],
        },
        Case {
            name: "least spoken first",
            spoken: vec![(pid(4), 30_000), (pid(5), 10_000)],
            raised: vec![pid(4), pid(5), pid(6), pid(7)],
            order: QueueOrder::LeastSpoken,
            expect: vec![pid(6), pid(7), pid(5), pid(4)],
        },
        Case {
            name: "least spoken, ties keep the order of raising",
            spoken: vec![(pid(4), 10_000), (pid(5), 10_000), (pid(6), 5_000)],
            raised: vec![pid(5), pid(4), pid(7), pid(6), pid(8)],
            order: QueueOrder::LeastSpoken,
            expect: vec![pid(7), pid(8), pid(6), pid(5), pid(4)],
        },
        Case {
            name: "least spoken adds up every turn",
            spoken: vec![(pid(4), 10_000), (pid(5), 15_000), (pid(4), 10_000)],
            raised: vec![pid(4), pid(5)],
            order: QueueOrder::LeastSpoken,
            expect: vec![pid(5), pid(4)],
        },
        Case {
            name: "least spoken, nobody has spoken yet",
            spoken: vec![],
            raised: vec![pid(6), pid(4), pid(5)],
            order: QueueOrder::LeastSpoken,
            expect: vec![pid(6), pid(4), pid(5)],
        },
        Case {
            name: "least spoken, one ms makes a difference",
            spoken: vec![(pid(4), 1), (pid(5), 2)],
            raised: vec![pid(5), pid(4), pid(6)],
            order: QueueOrder::LeastSpoken,
            expect: vec![pid(6), pid(4), pid(5)],
        },
    ];
    for case in cases {
        let mut sim = with_rooms();
        for (who, ms) in &case.spoken {
            sim.ok(pid(1), give(None, Some(who)));
            sim.now += ms;
            sim.ok(pid(1), end(None));
        }
        for who in &case.raised {
            sim.now += 1_000;
            sim.ok(who, Command::RaiseHand { room: None });
        }
        assert_eq!(
            sim.ok(
                pid(1),
                Command::SetQueueOrder {
                    room: None,
                    order: case.order
                }
            ),
            vec![Event::QueueOrderSet {
                room: PLENARY.into(),
                order: case.order
            }],
            "{}",
            case.name
        );
        assert_eq!(sim.queue(PLENARY), case.expect, "{}", case.name);
        // Giving the floor to the next, again and again, follows the same order.
        let mut heard = Vec::new();
        while sim.by(pid(1), give(None, None)).is_ok() {
            heard.push(sim.speaker(PLENARY).expect("someone speaks").to_string());
            sim.now += 5_000;
        }
        assert_eq!(heard, case.expect, "{}: heard in order", case.name);
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn queue_order_per_room() {
    let mut sim = with_rooms();
    sim.ok(pid(1), move_to(pid(4), "r1"));
    sim.ok(pid(1), move_to(pid(5), "r1"));
    sim.ok(pid(1), give(Some("r1"), Some(pid(4))));
    sim.now += 60_000;
    sim.ok(pid(1), end(Some("r1")));
    sim.ok(pid(4), Command::RaiseHand { room: None });
    sim.ok(pid(5), Command::RaiseHand { room: None });
    sim.ok(pid(6), Command::RaiseHand { room: None });
    sim.ok(pid(7), Command::RaiseHand { room: None });
    let cases = [
        (
            "r1 least spoken",
            Some("r1"),
            QueueOrder::LeastSpoken,
            Ok("r1"),
        ),
        (
            "plenary by name",
            Some(PLENARY),
            QueueOrder::LeastSpoken,
            Ok(PLENARY),
        ),
        (
            "the facilitator's own room",
            None,
            QueueOrder::Raised,
            Ok(PLENARY),
        ),
        (
            "an unknown room",
            Some("r9"),
            QueueOrder::Raised,
            Err(Code::NotFound),
        ),
    ];
    for (name, room, order, expect) in cases {
        let got = sim.by(
            pid(1),
            Command::SetQueueOrder {
                room: room.map(String::from),
                order,
            },
        );
        match expect {
            Ok(room) => {
                assert_eq!(
                    got,
                    Ok(vec![Event::QueueOrderSet {
                        room: room.into(),
                        order
                    }]),
                    "{name}"
                );
                assert_eq!(sim.state.room(room).expect("room").order, order, "{name}");
            }
            Err(code) => assert_eq!(got, Err(code), "{name}"),
        }
    }
    assert_eq!(
        sim.queue("r1"),
        vec![pid(5), pid(4)],
        "r1 stays least spoken"
    );
    assert_eq!(
        sim.queue(PLENARY),
        vec![pid(6), pid(7)],
        "plenary is back to raised"
    );
    assert_eq!(
        sim.by(
            pid(4),
            Command::SetQueueOrder {
                room: None,
                order: QueueOrder::Raised
            }
        ),
        Err(Code::Forbidden)
    );
}

#[test]
fn give_the_floor() {
    struct Case {
        name: &'static str,
        /// Holds the plenary's floor before the command.
        speaker: Option<&'static str>,
        /// Raise their hand, each in the room they are in (p6 is in r1).
        raised: Vec<&'static str>,
        by: &'static str,
        command: Command,
        /// The room and the new speaker.
        expect: Result<(&'static str, &'static str), Code>,
        /// The queue of the plenary afterwards.
        queue: Vec<&'static str>,
    }
    let case = |name, raised: Vec<&'static str>, command, expect, queue: Vec<&'static str>| Case {
        name,
        speaker: None,
        raised,
        by: pid(1),
        command,
        expect,
        queue,
    };
    let cases = vec![
        case(
            "next in the queue",
            vec![pid(4), pid(5)],
            give(None, None),
            Ok((PLENARY, pid(4))),
            vec![pid(5)],
        ),
        case(
            "named, hand raised",
            vec![pid(4), pid(5)],
            give(None, Some(pid(5))),
            Ok((PLENARY, pid(5))),
            vec![pid(4)],
        ),
        case(
            "named, hand not raised",
            vec![pid(4)],
            give(None, Some(pid(7))),
            Ok((PLENARY, pid(7))),
            vec![pid(4)],
        ),
        case(
            "named room and next",
            vec![pid(4), pid(6)],
            give(Some("r1"), None),
            Ok(("r1", pid(6))),
            vec![pid(4)],
        ),
        case(
            "named room and person",
            vec![],
            give(Some("r1"), Some(pid(6))),
            Ok(("r1", pid(6))),
            vec![],
        ),
        case(
            "the plenary by name",
            vec![pid(4)],
            give(Some(PLENARY), None),
            Ok((PLENARY, pid(4))),
            vec![],
        ),
        case(
            "a facilitator to themself",
            vec![pid(4)],
            give(None, Some(pid(1))),
            Ok((PLENARY, pid(1))),
            vec![pid(4)],
        ),
        case(
            "a facilitator to another",
            vec![],
            give(None, Some(pid(2))),
            Ok((PLENARY, pid(2))),
            vec![],
        ),
        Case {
            speaker: Some(pid(7)),
            ..case(
                "next, taking it from the speaker",
                vec![pid(4)],
                give(None, None),
                Ok((PLENARY, pid(4))),
                vec![],
            )
        },
        Case {
            speaker: Some(pid(7)),
            ..case(
                "named, taking it from the speaker",
                vec![],
                give(None, Some(pid(5))),
                Ok((PLENARY, pid(5))),
                vec![],
            )
        },
        case(
            "someone not in the room",
            vec![],
            give(None, Some(pid(6))),
            Err(Code::Conflict),
            vec![],
        ),
        case(
            "someone not in the named room",
            vec![pid(4)],
            give(Some("r1"), Some(pid(4))),
            Err(Code::Conflict),
            vec![pid(4)],
        ),
        case(
            "an empty queue",
            vec![],
            give(None, None),
            Err(Code::Conflict),
            vec![],
        ),
        case(
            "an empty queue in that room",
            vec![pid(4)],
            give(Some("r1"), None),
            Err(Code::Conflict),
            vec![pid(4)],
        ),
        case(
            "an empty room",
            vec![pid(4)],
            give(Some("r2"), None),
            Err(Code::Conflict),
            vec![pid(4)],
        ),
        Case {
            speaker: Some(pid(4)),
            ..case(
                "to the current speaker",
                vec![],
                give(None, Some(pid(4))),
                Err(Code::Conflict),
                vec![],
            )
        },
        case(
            "a guarantor",
            vec![],
            give(None, Some(pid(3))),
            Err(Code::Invalid),
            vec![],
        ),
        case(
            "an unknown participant",
            vec![],
            give(None, Some(NOBODY)),
            Err(Code::NotFound),
            vec![],
        ),
        case(
            "an unknown room",
            vec![pid(4)],
            give(Some("r9"), None),
            Err(Code::NotFound),
            vec![pid(4)],
        ),
        Case {
            by: pid(5),
            ..case(
                "by a citizen",
                vec![pid(4)],
                give(None, None),
                Err(Code::Forbidden),
                vec![pid(4)],
            )
        },
        Case {
            by: pid(3),
            ..case(
                "by a guarantor",
                vec![pid(4)],
                give(None, None),
                Err(Code::Forbidden),
                vec![pid(4)],
            )
        },
    ];
    for case in cases {
        let mut sim = with_rooms();
        sim.ok(pid(1), move_to(pid(6), "r1"));
        if let Some(s) = case.speaker {
            sim.ok(pid(1), give(None, Some(s)));
        }
        for who in &case.raised {
            sim.now += 1_000;
            sim.ok(who, Command::RaiseHand { room: None });
        }
        sim.now += 10_000;
        let before = sim.state.clone();
        match (case.expect, sim.by(case.by, case.command)) {
            (Ok((room, who)), Ok(events)) => {
                let given = Event::FloorGiven {
                    room: room.into(),
                    participant: who.into(),
                    ends_at: None,
                };
                let mut want = Vec::new();
                if let Some(s) = case.speaker {
                    let spoken_ms = sim.now - common::T0;
                    want.push(Event::FloorEnded {
                        room: PLENARY.into(),
                        participant: s.into(),
                        spoken_ms,
                        reason: FloorEndReason::Taken,
                    });
                }
                want.push(given);
                assert_eq!(events, want, "{}", case.name);
                assert_eq!(sim.speaker(room), Some(who), "{}", case.name);
                let floor = sim
                    .state
                    .room(room)
                    .and_then(|r| r.floor.clone())
                    .expect("floor");
                assert_eq!(floor.since, sim.now, "{}", case.name);
                assert!(
                    !sim.queue(room).contains(&who.to_string()),
                    "{}: the speaker left the queue",
                    case.name
                );
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
        assert_eq!(
            sim.queue(PLENARY),
            case.queue,
            "{}: plenary queue",
            case.name
        );
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn the_floor_ends() {
    struct Case {
        name: &'static str,
        /// Run first, at T0, and accepted.
        before: Vec<(&'static str, Command)>,
        /// Given the floor at T0 in this room.
        room: &'static str,
        speaker: &'static str,
        /// At T0 + 12 345 ms.
        by: &'static str,
        command: Command,
        /// `Ok(None)`: accepted, and the speaker keeps the floor.
        expect: Result<Option<FloorEndReason>, Code>,
    }
    use FloorEndReason::{Moved, Taken, Yielded};
    let plain = |name, by, command, expect| Case {
        name,
        before: vec![],
        room: PLENARY,
        speaker: pid(4),
        by,
        command,
        expect,
    };
    let in_r1 = |name, by, command, expect| Case {
        name,
        before: vec![(pid(1), move_to(pid(6), "r1"))],
        room: "r1",
        speaker: pid(6),
        by,
        command,
        expect,
    };
    let cases = vec![
        plain("taken back", pid(1), end(None), Ok(Some(Taken))),
        plain(
            "taken back, naming the room",
            pid(1),
            end(Some(PLENARY)),
            Ok(Some(Taken)),
        ),
        plain(
            "taken back by another facilitator",
            pid(2),
            end(None),
            Ok(Some(Taken)),
        ),
        in_r1(
            "taken back in a breakout room, from the plenary",
            pid(1),
            end(Some("r1")),
            Ok(Some(Taken)),
        ),
        plain("yielded", pid(4), Command::YieldFloor, Ok(Some(Yielded))),
        in_r1(
            "yielded in a breakout room",
            pid(6),
            Command::YieldFloor,
            Ok(Some(Yielded)),
        ),
        plain(
            "given to another",
            pid(1),
            give(None, Some(pid(5))),
            Ok(Some(Taken)),
        ),
        Case {
            before: vec![(pid(5), Command::RaiseHand { room: None })],
            ..plain(
                "given to the next",
                pid(1),
                give(None, None),
                Ok(Some(Taken)),
            )
        },
        plain(
            "the speaker is moved",
            pid(1),
            move_to(pid(4), "r1"),
            Ok(Some(Moved)),
        ),
        in_r1(
            "the speaker is moved to the plenary",
            pid(1),
            move_to(pid(6), PLENARY),
            Ok(Some(Moved)),
        ),
        Case {
            speaker: pid(2),
            ..plain(
                "a speaking facilitator visits a room",
                pid(2),
                Command::Visit { room: "r2".into() },
                Ok(Some(Moved)),
            )
        },
        Case {
            before: vec![(pid(1), manual(&[(pid(4), "r1"), (pid(5), "r2")]))],
            ..plain(
                "the speaker is sent to a breakout room",
                pid(1),
                open(),
                Ok(Some(Moved)),
            )
        },
        Case {
            before: vec![(pid(1), manual(&[(pid(6), "r1")])), (pid(1), open())],
            room: "r1",
            speaker: pid(6),
            ..plain(
                "the breakout closes under the speaker",
                pid(1),
                Command::CloseBreakouts,
                Ok(Some(Moved)),
            )
        },
        Case {
            before: vec![(pid(1), manual(&[(pid(5), "r1")]))],
            ..plain(
                "a speaker who is not assigned stays",
                pid(1),
                open(),
                Ok(None),
            )
        },
        Case {
            before: vec![
                (pid(1), move_to(pid(6), "r1")),
                (pid(1), manual(&[(pid(6), "r1")])),
            ],
            ..in_r1(
                "a speaker already in their room stays",
                pid(1),
                open(),
                Ok(None),
            )
        },
        plain(
            "someone else is moved",
            pid(1),
            move_to(pid(5), "r1"),
            Ok(None),
        ),
        plain(
            "someone else's hand",
            pid(5),
            Command::RaiseHand { room: None },
            Ok(None),
        ),
        plain(
            "yielded by someone else",
            pid(5),
            Command::YieldFloor,
            Err(Code::Conflict),
        ),
        plain(
            "taken back where nobody speaks",
            pid(1),
            end(Some("r2")),
            Err(Code::Conflict),
        ),
        plain(
            "taken back in an unknown room",
            pid(1),
            end(Some("r9")),
            Err(Code::NotFound),
        ),
        plain(
            "taken back by the speaker",
            pid(4),
            end(None),
            Err(Code::Forbidden),
        ),
        plain(
            "taken back by a guarantor",
            pid(3),
            end(None),
            Err(Code::Forbidden),
        ),
        plain(
            "yielded by a guarantor",
            pid(3),
            Command::YieldFloor,
            Err(Code::Forbidden),
        ),
    ];
    for case in cases {
        let mut sim = with_rooms();
        for (who, command) in case.before {
            sim.ok(who, command);
        }
        sim.ok(pid(1), give(Some(case.room), Some(case.speaker)));
        sim.now += 12_345;
        let before = sim.state.clone();
        match (case.expect, sim.by(case.by, case.command)) {
            (Ok(Some(reason)), Ok(events)) => {
                let ended = Event::FloorEnded {
                    room: case.room.into(),
                    participant: case.speaker.into(),
                    spoken_ms: 12_345,
                    reason,
                };
                let endings: Vec<&Event> = events
                    .iter()
                    .filter(|e| matches!(e, Event::FloorEnded { .. }))
                    .collect();
                assert_eq!(endings, vec![&ended], "{}", case.name);
                assert_eq!(events[0], ended, "{}: the floor ends first", case.name);
                assert_ne!(sim.speaker(case.room), Some(case.speaker), "{}", case.name);
                assert_eq!(sim.floor_time(case.speaker), 12_345, "{}", case.name);
            }
            (Ok(None), Ok(events)) => {
                assert!(
                    !events.iter().any(|e| matches!(e, Event::FloorEnded { .. })),
                    "{}: {events:?}",
                    case.name
                );
                assert_eq!(sim.speaker(case.room), Some(case.speaker), "{}", case.name);
                assert_eq!(sim.floor_time(case.speaker), 0, "{}", case.name);
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn floor_time_adds_up_across_rooms_and_sessions() {
    /// How a turn ends.
    #[derive(Clone, Copy, Debug)]
    enum End {
        Take,
        Yield,
        GiveOther,
        MoveAway,
        Limit,
        CloseBreakouts,
    }
    // p4 speaks in these rooms, for these durations, ended this way.
    let turns: [(&str, u64, End, FloorEndReason); 9] = [
        (PLENARY, 10_000, End::Take, FloorEndReason::Taken),
        ("r1", 20_000, End::Yield, FloorEndReason::Yielded),
        ("r2", 3_000, End::MoveAway, FloorEndReason::Moved),
        (PLENARY, 5_000, End::GiveOther, FloorEndReason::Taken),
        ("r1", 7_000, End::Limit, FloorEndReason::Timer),
        ("r2", 4_000, End::CloseBreakouts, FloorEndReason::Moved),
        (PLENARY, 1, End::Yield, FloorEndReason::Yielded),
        ("r1", 60_000, End::CloseBreakouts, FloorEndReason::Moved),
        (PLENARY, 90_000, End::Limit, FloorEndReason::Timer),
    ];
    let mut sim = with_rooms();
    let mut total = 0;
    for (i, (room, ms, how, reason)) in turns.into_iter().enumerate() {
        let name = format!("turn {i}: {ms} ms in {room}, {how:?}");
        sim.now += 1_000;
        if let End::CloseBreakouts = how {
            sim.ok(pid(1), manual(&[(pid(4), room), (pid(5), room)]));
            sim.ok(pid(1), open());
        } else if sim.location(pid(4)) != room {
            sim.ok(pid(1), move_to(pid(4), room));
        }
        if let End::Limit = how {
            sim.ok(
                pid(1),
                Command::SetSpeakingLimit {
                    room: Some(room.into()),
                    limit_ms: Some(ms),
                },
            );
        }
        sim.ok(pid(1), give(Some(room), Some(pid(4))));
        sim.now += ms;
        let events = match how {
            End::Take => sim.ok(pid(1), end(Some(room))),
            End::Yield => sim.ok(pid(4), Command::YieldFloor),
            End::GiveOther => {
                if sim.location(pid(5)) != room {
                    sim.ok(pid(1), move_to(pid(5), room));
                }
                sim.ok(pid(1), give(Some(room), Some(pid(5))))
            }
            End::MoveAway => sim.ok(pid(1), move_to(pid(4), PLENARY)),
            End::Limit => {
                // The server comes late: only the limit counts.
                sim.now += 2_500;
                sim.tick()
            }
            End::CloseBreakouts => sim.ok(pid(1), Command::CloseBreakouts),
        };
        let ended = Event::FloorEnded {
            room: room.into(),
            participant: pid(4).into(),
            spoken_ms: ms,
            reason,
        };
        assert!(events.contains(&ended), "{name}: {events:?}");
        total += ms;
        assert_eq!(
            sim.floor_time(pid(4)),
            total,
            "{name}: cumulative floor time"
        );
        if let End::Limit = how {
            sim.ok(
                pid(1),
                Command::SetSpeakingLimit {
                    room: Some(room.into()),
                    limit_ms: None,
                },
            );
        }
        if let End::GiveOther = how {
            sim.ok(pid(1), end(Some(room)));
        }
    }
    // The floor time of everyone is the sum of their FloorEnded events, and survives replay.
    let mut sums = std::collections::BTreeMap::new();
    for r in &sim.log {
        if let Event::FloorEnded {
            participant,
            spoken_ms,
            ..
        } = &r.event
        {
            *sums.entry(participant.clone()).or_insert(0) += spoken_ms;
        }
    }
    assert_eq!(*sim.state.floor_time, sums);
    assert_eq!(sim.replayed(), sim.state);
    assert_eq!(sim.replayed().floor_time[pid(4)], total);
}
