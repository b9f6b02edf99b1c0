//! Breakout rooms: creating and clearing them, assigning people (random, balanced, by
//! hand), opening and closing breakouts, moving and visiting.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{
    assignments_of, citizen, convention, person, pid, room_sizes, small, spread, Ids, Roster, Sim,
    NOBODY,
};
use convene::domain::{AssignMethod, Code, Command, Event, ParticipantId, Role, PLENARY};

fn create(count: Option<u32>, names: &[&str]) -> Command {
    Command::CreateRooms {
        count,
        names: names.iter().map(|n| n.to_string()).collect(),
    }
}

fn assign(method: AssignMethod) -> Command {
    Command::AssignRooms {
        method,
        participants: None,
        only_present: false,
    }
}

fn balanced(attribute: &str) -> AssignMethod {
    AssignMethod::Balanced(attribute.to_string())
}

fn open() -> Command {
    Command::OpenBreakouts {
        duration_ms: 20 * 60 * 1000,
        warning_ms: 2 * 60 * 1000,
    }
}

fn salles(range: std::ops::RangeInclusive<u32>) -> Vec<(String, String)> {
    range
        .map(|i| (format!("r{i}"), format!("Salle {i}")))
        .collect()
}

fn rooms_of(sim: &Sim) -> Vec<(String, String)> {
    sim.state
        .rooms
        .iter()
        .skip(1)
        .map(|r| (r.id.clone(), r.name.clone()))
        .collect()
}

/// The small convention with `rooms` breakout rooms.
fn with_rooms(rooms: u32) -> (Sim, Ids) {
    let (mut sim, ids) = small();
    sim.ok(ids.facilitator(), create(Some(rooms), &[]));
    (sim, ids)
}

#[test]
fn create_rooms() {
    struct Case {
        name: &'static str,
        before: Vec<Command>,
        command: Command,
        expect: Result<Vec<(String, String)>, Code>,
    }
    let named = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(i, n)| (i.to_string(), n.to_string()))
            .collect()
    };
    let long = "x".repeat(120);
    let cases = vec![
        Case {
            name: "by count",
            before: vec![],
            command: create(Some(3), &[]),
            expect: Ok(salles(1..=3)),
        },
        Case {
            name: "by names, trimmed",
            before: vec![],
            command: create(None, &["Bleue", "  Verte "]),
            expect: Ok(named(&[("r1", "Bleue"), ("r2", "Verte")])),
        },
        Case {
            name: "a second count continues the numbering",
            before: vec![create(Some(2), &[])],
            command: create(Some(2), &[]),
            expect: Ok(salles(1..=4)),
        },
        Case {
            name: "names after a count",
            before: vec![create(Some(1), &[])],
            command: create(None, &["Jardin"]),
            expect: Ok(named(&[("r1", "Salle 1"), ("r2", "Jardin")])),
        },
        Case {
            name: "ids are not reused after clearing",
            before: vec![create(Some(2), &[]), Command::ClearRooms],
            command: create(Some(1), &[]),
            expect: Ok(salles(3..=3)),
        },
        Case {
            name: "a name of 120 characters",
            before: vec![],
            command: create(None, &[&long]),
            expect: Ok(vec![("r1".to_string(), long.clone())]),
        },
        Case {
            name: "200 rooms, the most",
            before: vec![],
            command: create(Some(200), &[]),
            expect: Ok(salles(1..=200)),
        },
        Case {
            name: "count and names together",
            before: vec![],
            command: create(Some(2), &["Bleue"]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "count zero",
            before: vec![],
            command: create(Some(0), &[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "neither count nor names",
            before: vec![],
            command: create(None, &[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a blank name",
            before: vec![],
            command: create(None, &["Bleue", "   "]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a name of 121 characters",
            before: vec![],
            command: create(None, &[&"x".repeat(121)]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "201 rooms",
            before: vec![],
            command: create(Some(201), &[]),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "199 rooms, then 2 more",
            before: vec![create(Some(199), &[])],
            command: create(Some(2), &[]),
            expect: Err(Code::Invalid),
        },
    ];
    for case in cases {
        let (mut sim, ids) = small();
        for c in case.before {
            sim.ok(ids.facilitator(), c);
        }
        let before = sim.state.clone();
        let got = sim.by(ids.facilitator(), case.command);
        match (&case.expect, got) {
            (Ok(rooms), Ok(_)) => assert_eq!(&rooms_of(&sim), rooms, "{}", case.name),
            (Err(code), Err(got)) => {
                assert_eq!(*code, got, "{}", case.name);
                assert_eq!(
                    sim.state, before,
                    "{}: a refusal changes nothing",
                    case.name
                );
            }
            (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
        }
        assert_eq!(
            sim.state.rooms[0].id, PLENARY,
            "{}: the plenary stays first",
            case.name
        );
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn clear_rooms() {
    struct Case {
        name: &'static str,
        before: Vec<Command>,
        expect: Result<(), Code>,
    }
    let cases = vec![
        Case {
            name: "no rooms yet",
            before: vec![],
            expect: Ok(()),
        },
        Case {
            name: "rooms and their assignment",
            before: vec![create(Some(3), &[]), assign(AssignMethod::Random)],
            expect: Ok(()),
        },
        Case {
            name: "after breakouts closed",
            before: vec![
                create(Some(3), &[]),
                assign(AssignMethod::Random),
                open(),
                Command::CloseBreakouts,
            ],
            expect: Ok(()),
        },
        Case {
            name: "while breakouts are open",
            before: vec![create(Some(3), &[]), assign(AssignMethod::Random), open()],
            expect: Err(Code::Conflict),
        },
    ];
    for case in cases {
        let (mut sim, ids) = small();
        for c in case.before {
            sim.ok(ids.facilitator(), c);
        }
        let before = sim.state.clone();
        match (case.expect, sim.by(ids.facilitator(), Command::ClearRooms)) {
            (Ok(()), Ok(events)) => {
                assert_eq!(events, vec![Event::RoomsCleared], "{}", case.name);
                assert_eq!(
                    sim.state.rooms.len(),
                    1,
                    "{}: only the plenary is left",
                    case.name
                );
                assert_eq!(sim.state.rooms[0].id, PLENARY, "{}", case.name);
                assert!(
                    sim.state.assignment.is_empty(),
                    "{}: assignment cleared",
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
    }
}

/// Checks every automatic assignment must pass: each candidate exactly once, only breakout
/// rooms, sizes within one of each other, and the state holding exactly the event's pairs.
fn check_assignment(
    name: &str,
    sim: &Sim,
    assignments: &[(ParticipantId, String)],
    expected: &BTreeSet<ParticipantId>,
) {
    let rooms = sim.breakout_rooms();
    let assigned: Vec<&ParticipantId> = assignments.iter().map(|(p, _)| p).collect();
    let unique: BTreeSet<ParticipantId> = assigned.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        unique.len(),
        assigned.len(),
        "{name}: someone is assigned twice"
    );
    assert_eq!(&unique, expected, "{name}: who is assigned");
    for (p, r) in assignments {
        assert!(
            rooms.contains(r),
            "{name}: {p} assigned to {r}, not a breakout room"
        );
    }
    let sizes = room_sizes(assignments);
    assert!(
        spread(sizes.values(), rooms.len()) <= 1,
        "{name}: room sizes {sizes:?}"
    );
    let held: BTreeMap<ParticipantId, String> = assignments.iter().cloned().collect();
    assert_eq!(
        *sim.state.assignment, held,
        "{name}: the state holds the event's assignment"
    );
}

#[test]
fn random_assignment() {
    // (citizens, rooms)
    let cases: [(usize, u32); 7] = [(12, 4), (13, 4), (80, 10), (150, 7), (3, 5), (1, 1), (2, 2)];
    for (citizens, rooms) in cases {
        let name = format!("{citizens} citizens in {rooms} rooms");
        let run = |seed: u64| {
            let (mut sim, ids) = convention(Roster {
                facilitators: 2,
                guarantors: 1,
                citizens,
                communes: 3,
                ..Roster::default()
            });
            sim.seed = seed;
            sim.ok(ids.facilitator(), create(Some(rooms), &[]));
            let events = sim.ok(ids.facilitator(), assign(AssignMethod::Random));
            assert!(
                matches!(&events[..], [Event::RoomsAssigned { method, .. }] if method == "random"),
                "{name}: {events:?}"
            );
            (sim, ids, assignments_of(&events))
        };
        let (sim, ids, first) = run(1);
        let expected: BTreeSet<ParticipantId> = ids.citizens.iter().cloned().collect();
        check_assignment(&name, &sim, &first, &expected);
        assert_eq!(sim.replayed(), sim.state, "{name}: replay");
        let (_, _, again) = run(1);
        assert_eq!(first, again, "{name}: the same seed gives the same draw");
        if citizens >= 12 {
            let (_, _, other) = run(2);
            assert_ne!(first, other, "{name}: another seed gives another draw");
        }
    }
}

#[test]
fn balanced_assignment_balances_every_value() {
    struct Case {
        name: String,
        people: Vec<convene::domain::NewPerson>,
        rooms: u32,
        attribute: &'static str,
    }
    let even = |citizens: usize, communes: usize, rooms: u32, attribute: &'static str| Case {
        name: format!("{citizens} citizens, {communes} communes, {rooms} rooms, on {attribute}"),
        people: common::citizens(citizens, communes),
        rooms,
        attribute,
    };
    // Half from Nantes, a quarter from Rezé, the rest spread, and a few without a commune.
    let skewed: Vec<_> = (0..41)
        .map(|i| {
            let c = match i % 8 {
                0..=3 => "Nantes".to_string(),
                4 | 5 => "Rezé".to_string(),
                6 => common::commune(i % 5),
                _ => String::new(),
            };
            citizen(
                &format!("C{i}"),
                &c,
                common::AGE_BANDS[i % 3],
                common::GENDERS[i % 2],
            )
        })
        .collect();
    let cases = vec![
        even(12, 3, 4, "commune"),
        even(24, 6, 5, "commune"),
        even(80, 24, 10, "commune"),
        even(150, 24, 12, "commune"),
        even(7, 2, 3, "commune"),
        even(3, 3, 5, "commune"),
        even(80, 24, 10, "age"),
        even(80, 24, 7, "gender"),
        even(50, 24, 6, "nobody has this attribute"),
        Case {
            name: "skewed communes, some missing".into(),
            people: skewed,
            rooms: 6,
            attribute: "commune",
        },
    ];
    for case in cases {
        for seed in [1, 2, 3] {
            let name = format!("{} (seed {seed})", case.name);
            let mut sim = Sim::created("Balanced");
            let facilitator = sim
                .add(vec![person("Anim", &[Role::Facilitator], &[])])
                .remove(0);
            sim.add(vec![person(
                "Garant",
                &[Role::Guarantor],
                &[("commune", "Nantes")],
            )]);
            let citizens: BTreeSet<ParticipantId> =
                sim.add(case.people.clone()).into_iter().collect();
            sim.seed = seed;
            sim.ok(&facilitator, create(Some(case.rooms), &[]));
            let events = sim.ok(&facilitator, assign(balanced(case.attribute)));
            let a = assignments_of(&events);
            check_assignment(&name, &sim, &a, &citizens);
            let want = format!("balanced:{}", case.attribute);
            assert!(
                matches!(&events[..], [Event::RoomsAssigned { method, .. }] if *method == want),
                "{name}: {events:?}"
            );
            // For every value, how many of each room's people hold it.
            let mut per_value: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
            for (p, r) in &a {
                let v = sim.state.people[p]
                    .attributes
                    .get(case.attribute)
                    .cloned()
                    .unwrap_or_default();
                *per_value
                    .entry(v)
                    .or_default()
                    .entry(r.clone())
                    .or_insert(0) += 1;
            }
            for (value, counts) in &per_value {
                assert!(
                    spread(counts.values(), case.rooms as usize) <= 1,
                    "{name}: value {value:?} spread {counts:?}"
                );
            }
        }
    }
}

#[test]
fn assignment_candidates() {
    struct Case {
        name: &'static str,
        participants: Option<Vec<&'static str>>,
        only_present: bool,
        present: Vec<&'static str>,
        method: AssignMethod,
        expect: Result<Vec<&'static str>, Code>,
    }
    // In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens.
    let all_citizens: Vec<&str> = vec![
        pid(4),
        pid(5),
        pid(6),
        pid(7),
        pid(8),
        pid(9),
        pid(10),
        pid(11),
        pid(12),
        pid(13),
        pid(14),
        pid(15),
    ];
    let cases = vec![
        Case {
            name: "everyone: citizens only, present or not",
            participants: None,
            only_present: false,
            present: vec![pid(4)],
            method: AssignMethod::Random,
            expect: Ok(all_citizens.clone()),
        },
        Case {
            name: "only present citizens",
            participants: None,
            only_present: true,
            present: vec![pid(1), pid(3), pid(4), pid(6), pid(8), pid(15)],
            method: AssignMethod::Random,
            expect: Ok(vec![pid(4), pid(6), pid(8), pid(15)]),
        },
        Case {
            name: "only present citizens, balanced",
            participants: None,
            only_present: true,
            present: vec![pid(5), pid(7), pid(9), pid(10), pid(11)],
            method: balanced("commune"),
            expect: Ok(vec![pid(5), pid(7), pid(9), pid(10), pid(11)]),
        },
        Case {
            name: "only present, nobody present",
            participants: None,
            only_present: true,
            present: vec![],
            method: AssignMethod::Random,
            expect: Err(Code::Conflict),
        },
        Case {
            name: "only present, only staff present",
            participants: None,
            only_present: true,
            present: vec![pid(1), pid(2), pid(3)],
            method: AssignMethod::Random,
            expect: Err(Code::Conflict),
        },
        Case {
            name: "a list, with a facilitator and a duplicate",
            participants: Some(vec![pid(2), pid(4), pid(5), pid(5)]),
            only_present: false,
            present: vec![],
            method: AssignMethod::Random,
            expect: Ok(vec![pid(2), pid(4), pid(5)]),
        },
        Case {
            name: "a list with an unknown participant",
            participants: Some(vec![pid(4), NOBODY]),
            only_present: false,
            present: vec![],
            method: AssignMethod::Random,
            expect: Err(Code::NotFound),
        },
        Case {
            name: "a list with a guarantor",
            participants: Some(vec![pid(4), pid(3)]),
            only_present: false,
            present: vec![],
            method: balanced("commune"),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "an empty list",
            participants: Some(vec![]),
            only_present: false,
            present: vec![],
            method: AssignMethod::Random,
            expect: Err(Code::Conflict),
        },
    ];
    for case in cases {
        let (mut sim, ids) = with_rooms(4);
        sim.present = case.present.iter().map(|p| p.to_string()).collect();
        let before = sim.state.clone();
        let command = Command::AssignRooms {
            method: case.method,
            participants: case
                .participants
                .map(|v| v.iter().map(|p| p.to_string()).collect()),
            only_present: case.only_present,
        };
        match (case.expect, sim.by(ids.facilitator(), command)) {
            (Ok(who), Ok(events)) => {
                let expected = who.iter().map(|p| p.to_string()).collect();
                check_assignment(case.name, &sim, &assignments_of(&events), &expected);
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
    }
}

#[test]
fn assignment_needs_closed_rooms_that_exist() {
    struct Case {
        name: &'static str,
        before: Vec<Command>,
        method: AssignMethod,
        expect: Code,
    }
    let cases = vec![
        Case {
            name: "no rooms, random",
            before: vec![],
            method: AssignMethod::Random,
            expect: Code::Conflict,
        },
        Case {
            name: "no rooms, balanced",
            before: vec![],
            method: balanced("commune"),
            expect: Code::Conflict,
        },
        Case {
            name: "no rooms, manual",
            before: vec![],
            method: AssignMethod::Manual(vec![(pid(4).into(), "r1".into())]),
            expect: Code::Conflict,
        },
        Case {
            name: "rooms cleared",
            before: vec![create(Some(2), &[]), Command::ClearRooms],
            method: AssignMethod::Random,
            expect: Code::Conflict,
        },
        Case {
            name: "breakouts open",
            before: vec![create(Some(2), &[]), assign(AssignMethod::Random), open()],
            method: AssignMethod::Random,
            expect: Code::Conflict,
        },
    ];
    for case in cases {
        let (mut sim, ids) = small();
        for c in case.before {
            sim.ok(ids.facilitator(), c);
        }
        let before = sim.state.clone();
        let got = sim.by(ids.facilitator(), assign(case.method));
        assert_eq!(got, Err(case.expect), "{}", case.name);
        assert_eq!(
            sim.state, before,
            "{}: a refusal changes nothing",
            case.name
        );
    }
}

#[test]
fn manual_assignment() {
    struct Case {
        name: &'static str,
        pairs: Vec<(&'static str, &'static str)>,
        expect: Result<(), Code>,
    }
    // In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens.
    let cases = vec![
        Case {
            name: "citizens and a facilitator",
            pairs: vec![
                (pid(4), "r1"),
                (pid(5), "r2"),
                (pid(6), "r1"),
                (pid(2), "r3"),
            ],
            expect: Ok(()),
        },
        Case {
            name: "nobody",
            pairs: vec![],
            expect: Ok(()),
        },
        Case {
            name: "an unknown room",
            pairs: vec![(pid(4), "r1"), (pid(5), "r9")],
            expect: Err(Code::NotFound),
        },
        Case {
            name: "the plenary is no breakout room",
            pairs: vec![(pid(4), PLENARY)],
            expect: Err(Code::NotFound),
        },
        Case {
            name: "an unknown participant",
            pairs: vec![(NOBODY, "r1")],
            expect: Err(Code::NotFound),
        },
        Case {
            name: "a guarantor",
            pairs: vec![(pid(4), "r1"), (pid(3), "r2")],
            expect: Err(Code::Invalid),
        },
        Case {
            name: "someone twice",
            pairs: vec![(pid(4), "r1"), (pid(4), "r2")],
            expect: Err(Code::Invalid),
        },
        Case {
            name: "someone twice in one room",
            pairs: vec![(pid(4), "r1"), (pid(4), "r1")],
            expect: Err(Code::Invalid),
        },
    ];
    for case in cases {
        let (mut sim, ids) = with_rooms(3);
        // A previous assignment: a new one replaces it entirely.
        sim.ok(ids.facilitator(), assign(AssignMethod::Random));
        let before = sim.state.clone();
        let pairs: Vec<(String, String)> = case
            .pairs
            .iter()
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect();
        match (
            case.expect,
            sim.by(
                ids.facilitator(),
                assign(AssignMethod::Manual(pairs.clone())),
            ),
        ) {
            (Ok(()), Ok(events)) => {
                assert_eq!(
                    events,
                    vec![Event::RoomsAssigned {
                        method: "manual".into(),
                        assignments: pairs.clone()
                    }],
                    "{}",
                    case.name
                );
                assert_eq!(
                    *sim.state.assignment,
                    pairs.into_iter().collect::<BTreeMap<_, _>>(),
                    "{}",
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
    }
}

#[test]
fn open_and_close_breakouts_move_everyone() {
    let methods = [
        ("random", AssignMethod::Random),
        ("balanced", balanced("commune")),
        (
            "manual",
            AssignMethod::Manual(vec![
                (pid(4).into(), "r2".into()),
                (pid(2).into(), "r1".into()),
            ]),
        ),
    ];
    for (name, method) in methods {
        let (mut sim, ids) = with_rooms(3);
        // Hands raised in the plenary are lowered by the move.
        sim.ok(pid(4), Command::RaiseHand { room: None });
        sim.ok(pid(15), Command::RaiseHand { room: None });
        let events = sim.ok(ids.facilitator(), assign(method));
        let assignment: BTreeMap<ParticipantId, String> =
            assignments_of(&events).into_iter().collect();
        sim.at(1_000);
        let events = sim.ok(ids.facilitator(), open());
        assert_eq!(
            events,
            vec![Event::BreakoutsOpened {
                ends_at: common::T0 + 1_000 + 1_200_000,
                warn_at: common::T0 + 1_000 + 1_080_000
            }],
            "{name}"
        );
        for p in sim.state.people.keys() {
            let want = assignment.get(p).map(String::as_str).unwrap_or(PLENARY);
            assert_eq!(sim.location(p), want, "{name}: {p} after opening");
        }
        for room in sim.breakout_rooms() {
            let members: BTreeSet<&str> =
                sim.state.members_of(&room).map(|p| p.id.as_str()).collect();
            let want: BTreeSet<&str> = assignment
                .iter()
                .filter(|(_, r)| **r == room)
                .map(|(p, _)| p.as_str())
                .collect();
            assert_eq!(members, want, "{name}: members of {room}");
        }
        let plenary_queue: Vec<String> = [pid(4), pid(15)]
            .iter()
            .filter(|p| !assignment.contains_key(**p))
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            sim.queue(PLENARY),
            plenary_queue,
            "{name}: hands of those who left are lowered"
        );

        // Life in the rooms, and a visitor, before closing.
        let someone = assignment.keys().next().expect("someone assigned").clone();
        sim.ok(&someone, Command::RaiseHand { room: None });
        sim.ok(ids.guarantor(), Command::Visit { room: "r1".into() });
        sim.ok(&ids.facilitators[0], Command::Visit { room: "r2".into() });
        assert!(sim.state.breakout.is_some(), "{name}");

        sim.at(60_000);
        assert_eq!(
            sim.ok(ids.facilitator(), Command::CloseBreakouts),
            vec![Event::BreakoutsClosed {
                reason: convene::domain::CloseReason::Facilitator
            }],
            "{name}"
        );
        assert!(sim.state.breakout.is_none(), "{name}");
        for p in sim.state.people.keys() {
            assert_eq!(sim.location(p), PLENARY, "{name}: {p} after closing");
        }
        for room in sim.breakout_rooms() {
            let r = sim.state.room(&room).expect("room");
            assert!(
                r.queue.is_empty() && r.floor.is_none(),
                "{name}: {room} is quiet"
            );
        }
        assert_eq!(
            *sim.state.assignment, assignment,
            "{name}: the assignment is kept"
        );
        // And they can open again with the same assignment.
        sim.ok(ids.facilitator(), open());
        for (p, r) in &assignment {
            assert_eq!(sim.location(p), r, "{name}: {p} after reopening");
        }
        assert_eq!(sim.replayed(), sim.state, "{name}: replay");
    }
}

#[test]
fn open_and_close_refusals() {
    struct Case {
        name: &'static str,
        before: Vec<Command>,
        command: Command,
        expect: Code,
    }
    let ready = || vec![create(Some(2), &[]), assign(AssignMethod::Random)];
    let opened = || {
        let mut v = ready();
        v.push(open());
        v
    };
    let open_for = |duration_ms, warning_ms| Command::OpenBreakouts {
        duration_ms,
        warning_ms,
    };
    let cases = vec![
        Case {
            name: "open without rooms",
            before: vec![],
            command: open(),
            expect: Code::Conflict,
        },
        Case {
            name: "open without an assignment",
            before: vec![create(Some(2), &[])],
            command: open(),
            expect: Code::Conflict,
        },
        Case {
            name: "open with an empty manual assignment",
            before: vec![create(Some(2), &[]), assign(AssignMethod::Manual(vec![]))],
            command: open(),
            expect: Code::Conflict,
        },
        Case {
            name: "open twice",
            before: opened(),
            command: open(),
            expect: Code::Conflict,
        },
        Case {
            name: "duration zero",
            before: ready(),
            command: open_for(0, 0),
            expect: Code::Invalid,
        },
        Case {
            name: "duration over 12 hours",
            before: ready(),
            command: open_for(12 * 3600 * 1000 + 1, 0),
            expect: Code::Invalid,
        },
        Case {
            name: "close when not open",
            before: ready(),
            command: Command::CloseBreakouts,
            expect: Code::Conflict,
        },
        Case {
            name: "close twice",
            before: {
                let mut v = opened();
                v.push(Command::CloseBreakouts);
                v
            },
            command: Command::CloseBreakouts,
            expect: Code::Conflict,
        },
    ];
    for case in cases {
        let (mut sim, ids) = small();
        for c in case.before {
            sim.ok(ids.facilitator(), c);
        }
        let before = sim.state.clone();
        assert_eq!(
            sim.by(ids.facilitator(), case.command),
            Err(case.expect),
            "{}",
            case.name
        );
        assert_eq!(
            sim.state, before,
            "{}: a refusal changes nothing",
            case.name
        );
    }
    // The bounds themselves are accepted.
    for (duration, warning) in [(1, 0), (12 * 3600 * 1000, 0), (60_000, 120_000)] {
        let (mut sim, ids) = with_rooms(2);
        sim.ok(ids.facilitator(), assign(AssignMethod::Random));
        sim.ok(ids.facilitator(), open_for(duration, warning));
    }
}

#[test]
fn move_participant() {
    struct Case {
        name: &'static str,
        breakouts_open: bool,
        by: &'static str,
        participant: &'static str,
        room: &'static str,
        expect: Result<(), Code>,
    }
    // In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens. Manual assignment
    // below: p4 -> r1, p5 -> r2.
    let case = |name, breakouts_open, participant, room, expect| Case {
        name,
        breakouts_open,
        by: pid(1),
        participant,
        room,
        expect,
    };
    let cases = vec![
        case(
            "plenary to a room, breakouts closed",
            false,
            pid(4),
            "r2",
            Ok(()),
        ),
        case("room to room", true, pid(4), "r2", Ok(())),
        case("room to the plenary", true, pid(4), PLENARY, Ok(())),
        case(
            "an unassigned citizen into a room",
            true,
            pid(6),
            "r1",
            Ok(()),
        ),
        case("a facilitator", true, pid(2), "r1", Ok(())),
        case("oneself", true, pid(1), "r2", Ok(())),
        case(
            "an unknown participant",
            true,
            NOBODY,
            "r1",
            Err(Code::NotFound),
        ),
        case("an unknown room", true, pid(4), "r9", Err(Code::NotFound)),
        case(
            "to the room one is in",
            true,
            pid(4),
            "r1",
            Err(Code::Conflict),
        ),
        case(
            "to the plenary from the plenary",
            false,
            pid(4),
            PLENARY,
            Err(Code::Conflict),
        ),
        case("a guarantor", false, pid(3), "r1", Err(Code::Invalid)),
        case(
            "a guarantor, breakouts open",
            true,
            pid(3),
            PLENARY,
            Err(Code::Invalid),
        ),
        Case {
            by: pid(6),
            ..case("by a citizen", true, pid(4), "r2", Err(Code::Forbidden))
        },
        Case {
            by: pid(3),
            ..case("by a guarantor", true, pid(4), "r2", Err(Code::Forbidden))
        },
    ];
    for case in cases {
        let (mut sim, ids) = with_rooms(2);
        sim.ok(
            ids.facilitator(),
            assign(AssignMethod::Manual(vec![
                (pid(4).into(), "r1".into()),
                (pid(5).into(), "r2".into()),
            ])),
        );
        if case.breakouts_open {
            sim.ok(ids.facilitator(), open());
        }
        // A raised hand goes down with the move.
        sim.ok(pid(4), Command::RaiseHand { room: None });
        let from = sim.location(case.participant).to_string();
        let before = sim.state.clone();
        let command = Command::MoveParticipant {
            participant: case.participant.into(),
            room: case.room.into(),
        };
        match (case.expect, sim.by(case.by, command)) {
            (Ok(()), Ok(events)) => {
                assert_eq!(
                    events,
                    vec![Event::ParticipantMoved {
                        participant: case.participant.into(),
                        room: case.room.into()
                    }],
                    "{}",
                    case.name
                );
                assert_eq!(sim.location(case.participant), case.room, "{}", case.name);
                assert!(
                    !sim.queue(&from).contains(&case.participant.to_string()),
                    "{}: hand lowered",
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
        assert_eq!(sim.replayed(), sim.state, "{}: replay", case.name);
    }
}

#[test]
fn visit() {
    struct Case {
        name: &'static str,
        by: &'static str,
        /// Rooms visited first, in order.
        path: Vec<&'static str>,
        room: &'static str,
        expect: Result<(), Code>,
    }
    // In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens.
    let cases = vec![
        Case {
            name: "facilitator into a room",
            by: pid(1),
            path: vec![],
            room: "r1",
            expect: Ok(()),
        },
        Case {
            name: "guarantor into a room",
            by: pid(3),
            path: vec![],
            room: "r2",
            expect: Ok(()),
        },
        Case {
            name: "guarantor from room to room",
            by: pid(3),
            path: vec!["r1"],
            room: "r2",
            expect: Ok(()),
        },
        Case {
            name: "guarantor back to the plenary",
            by: pid(3),
            path: vec!["r1"],
            room: PLENARY,
            expect: Ok(()),
        },
        Case {
            name: "facilitator back to the plenary",
            by: pid(2),
            path: vec!["r2"],
            room: PLENARY,
            expect: Ok(()),
        },
        Case {
            name: "the room one is in",
            by: pid(3),
            path: vec!["r1"],
            room: "r1",
            expect: Err(Code::Conflict),
        },
        Case {
            name: "the plenary from the plenary",
            by: pid(3),
            path: vec![],
            room: PLENARY,
            expect: Err(Code::Conflict),
        },
        Case {
            name: "an unknown room",
            by: pid(1),
            path: vec![],
            room: "r7",
            expect: Err(Code::NotFound),
        },
        Case {
            name: "a citizen",
            by: pid(4),
            path: vec![],
            room: "r2",
            expect: Err(Code::Forbidden),
        },
        Case {
            name: "an unknown participant",
            by: NOBODY,
            path: vec![],
            room: "r2",
            expect: Err(Code::Forbidden),
        },
    ];
    for case in cases {
        let (mut sim, ids) = with_rooms(2);
        sim.ok(ids.facilitator(), assign(AssignMethod::Random));
        sim.ok(ids.facilitator(), open());
        for room in &case.path {
            sim.ok(
                case.by,
                Command::Visit {
                    room: room.to_string(),
                },
            );
        }
        let before = sim.state.clone();
        match (
            case.expect,
            sim.by(
                case.by,
                Command::Visit {
                    room: case.room.into(),
                },
            ),
        ) {
            (Ok(()), Ok(events)) => {
                assert_eq!(
                    events,
                    vec![Event::ParticipantMoved {
                        participant: case.by.into(),
                        room: case.room.into()
                    }],
                    "{}",
                    case.name
                );
                assert_eq!(sim.location(case.by), case.room, "{}", case.name);
                // A guarantor who visits still cannot be moved by anyone else.
                if case.by == pid(3) {
                    let there = Command::MoveParticipant {
                        participant: pid(3).into(),
                        room: "r1".into(),
                    };
                    assert_eq!(
                        sim.by(pid(1), there),
                        Err(Code::Invalid),
                        "{}: guarantor moved",
                        case.name
                    );
                }
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
    }
}

/// Rooms can be cleared while the breakouts are closed, but a facilitator may have moved
/// someone into a breakout room by hand (or visited one). Nobody may be left in a room that
/// no longer exists: either clearing is refused, or they are back in the plenary.
#[test]
fn clearing_rooms_strands_nobody() {
    let (mut sim, ids) = with_rooms(2);
    sim.ok(
        ids.facilitator(),
        Command::MoveParticipant {
            participant: pid(4).into(),
            room: "r1".into(),
        },
    );
    sim.ok(pid(2), Command::Visit { room: "r2".into() });
    if sim.by(ids.facilitator(), Command::ClearRooms).is_ok() {
        // Panics today in decide, on `expect("locations name rooms")`.
        let _ = sim.by(pid(4), Command::RaiseHand { room: None });
        for p in sim.state.people.keys() {
            let at = sim.location(p);
            assert!(
                sim.state.room(at).is_some(),
                "{p} is in {at}, which no longer exists"
            );
        }
    }
}

#[test]
fn closing_breakouts_ends_the_recall_of_announcements() {
    let (mut sim, ids) = with_rooms(2);
    sim.ok(ids.facilitator(), assign(AssignMethod::Random));
    let broadcast = |text: &str| Command::Broadcast { text: text.into() };
    sim.ok(
        ids.facilitator(),
        broadcast("Les sous-groupes ouvrent dans deux minutes."),
    );
    sim.ok(ids.facilitator(), open());
    sim.ok(ids.facilitator(), broadcast("Il reste cinq minutes."));
    let texts =
        |sim: &Sim| -> Vec<String> { sim.state.notices.iter().map(|n| n.text.clone()).collect() };
    assert_eq!(texts(&sim).len(), 2, "recalled while the rooms are open");
    sim.at(60_000);
    sim.ok(ids.facilitator(), Command::CloseBreakouts);
    assert_eq!(texts(&sim), Vec::<String>::new(), "their moment has passed");
    // What is announced after the recall is recalled again.
    sim.ok(ids.facilitator(), broadcast("Vote dans cinq minutes."));
    assert_eq!(texts(&sim), vec!["Vote dans cinq minutes.".to_string()]);
    // The timer's close too.
    sim.ok(ids.facilitator(), open());
    sim.ok(ids.facilitator(), broadcast("Dernière minute."));
    sim.at(21 * 60_000);
    let events = sim.tick();
    assert!(
        events.contains(&Event::BreakoutsClosed {
            reason: convene::domain::CloseReason::Timer
        }),
        "{events:?}"
    );
    assert_eq!(texts(&sim), Vec::<String>::new());
    assert_eq!(sim.replayed(), sim.state, "replay");
}
