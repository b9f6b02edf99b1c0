//! The run sheet ("déroulé"), decided and applied synchronously: preparing a Nantes-like day
//! (add, edit, reorder, delete), running it (each start performs its prepared actions in one
//! decision: rooms, assignment and breakouts; polls; the rotation; the recall to the
//! plenary), and refusals that leave the state as it was: a missing poll, room or rotation at
//! preparation and at the start, an expert who is not there, a sequence already running,
//! editing a started one, the budgets sent ten times over, roles.

mod common;

use std::collections::BTreeSet;

use common::{convention, poll_spec, Ids, Roster, Sim, T0};
use convene::domain::runsheet::{
    Action, BreakoutRooms, Grouping, SequenceSpec, SequenceStatus, MAX_EXTENSIONS, MAX_SEQUENCES,
    MAX_SEQUENCE_POLLS, MAX_TITLE_CHARS,
};
use convene::domain::{
    decide, Actor, AssignMethod, Code, Command, Context, Event, Millis, PollKind, PollStatus,
    Rejection, PLENARY,
};

const MIN: u64 = 60_000;

fn t(offset: Millis) -> Millis {
    T0 + offset
}

fn spec(title: &str, start_min: u64, minutes: u64, action: Action) -> SequenceSpec {
    SequenceSpec {
        title: title.to_string(),
        planned_start: t(start_min * MIN),
        planned_ms: minutes * MIN,
        action,
    }
}

fn breakouts(rooms: BreakoutRooms, grouping: Grouping) -> Action {
    Action::Breakouts {
        rooms,
        grouping,
        duration_ms: 30 * MIN,
        warning_ms: MIN,
    }
}

fn new_rooms(count: u32) -> BreakoutRooms {
    BreakoutRooms::New {
        count: Some(count),
        names: Vec::new(),
    }
}

/// The full rejection (code and message) of a command, with the state left as it was.
fn refusal(sim: &Sim, who: &str, command: Command) -> Rejection {
    let ctx = Context {
        now: sim.now,
        seed: sim.seed,
        present: &sim.present,
    };
    let before = sim.state.clone();
    let r = decide(
        &sim.state,
        &Actor::Participant(who.to_string()),
        &command,
        &ctx,
    )
    .expect_err("refused");
    assert_eq!(sim.state, before);
    r
}

fn add(sim: &mut Sim, by: &str, spec: SequenceSpec) -> String {
    let events = sim.ok(by, Command::AddSequence { spec, before: None });
    match &events[..] {
        [Event::SequenceAdded { sequence, .. }] => sequence.clone(),
        other => panic!("{other:?}"),
    }
}

fn start(id: &str) -> Command {
    Command::StartSequence {
        sequence: id.to_string(),
        end_running: false,
    }
}

/// 2 facilitators, a guarantor, 3 experts, 12 citizens in 4 communes, everyone online.
fn day() -> (Sim, Ids) {
    let (mut sim, ids) = convention(Roster {
        facilitators: 1,
        guarantors: 1,
        experts: 3,
        citizens: 12,
        communes: 4,
        ..Default::default()
    });
    sim.present = sim.state.people.keys().cloned().collect();
    (sim, ids)
}

fn titles(sim: &Sim) -> Vec<String> {
    sim.state
        .runsheet
        .sequences
        .iter()
        .map(|s| s.spec.title.clone())
        .collect()
}

#[test]
fn a_nantes_day_is_prepared_then_run_by_starting_its_sequences() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let q1 = sim.draft_poll(
        &f,
        poll_spec(
            "Priorité n°1 ?",
            PollKind::Single {
                options: vec!["Transports".into(), "Logement".into()],
            },
        ),
    );
    let q2 = sim.draft_poll(
        &f,
        poll_spec("Avis sur la proposition 3 ?", PollKind::Position),
    );
    sim.ok(
        &f,
        Command::PlanRotation {
            experts: ids.experts.clone(),
            grouping: AssignMethod::Random,
            groups: None,
            group_count: None,
            group_size: None,
            participants: None,
            only_present: true,
            round_ms: 10 * MIN,
            transition_ms: 0,
            warning_ms: MIN,
            rounds: None,
            break_room: false,
        },
    );
    let welcome = add(
        &mut sim,
        &f,
        spec("Accueil en plénière", 0, 15, Action::Plenary),
    );
    let round = add(
        &mut sim,
        &f,
        spec(
            "Travail en sous-groupes",
            15,
            30,
            breakouts(new_rooms(3), Grouping::Balanced("commune".into())),
        ),
    );
    let restitution = add(&mut sim, &f, spec("Restitution", 45, 20, Action::Plenary));
    let votes = add(
        &mut sim,
        &f,
        spec("Votes", 95, 10, Action::Polls(vec![q1.clone(), q2.clone()])),
    );
    let pause = add(&mut sim, &f, spec("Pause", 65, 10, Action::Break));
    let experts = add(
        &mut sim,
        &f,
        spec("Rotation des expert·es", 75, 20, Action::Rotation),
    );
    // The break and the rotation were added last: move them before the votes.
    sim.ok(
        &f,
        Command::MoveSequence {
            sequence: pause.clone(),
            before: Some(votes.clone()),
        },
    );
    sim.ok(
        &f,
        Command::MoveSequence {
            sequence: experts.clone(),
            before: Some(votes.clone()),
        },
    );
    // An extra one, edited then deleted.
    let extra = add(&mut sim, &f, spec("Brouillon", 120, 5, Action::Break));
    sim.ok(
        &f,
        Command::EditSequence {
            sequence: extra.clone(),
            spec: spec("  Brouillon 2  ", 121, 5, Action::Break),
        },
    );
    assert_eq!(
        sim.state.runsheet.get(&extra).unwrap().spec.title,
        "Brouillon 2"
    );
    sim.ok(&f, Command::DeleteSequence { sequence: extra });
    assert_eq!(
        titles(&sim),
        [
            "Accueil en plénière",
            "Travail en sous-groupes",
            "Restitution",
            "Pause",
            "Rotation des expert·es",
            "Votes"
        ]
    );
    assert_eq!(sim.state.runsheet.next().unwrap().id, welcome);

    // 1. Welcome, two minutes late: nothing to close, the sequence runs.
    sim.at(2 * MIN);
    let events = sim.ok(&f, start(&welcome));
    assert_eq!(
        events,
        [Event::SequenceStarted {
            sequence: welcome.clone(),
            ends_at: t(17 * MIN)
        }]
    );
    assert_eq!(sim.state.runsheet.drift_ms(), Some(2 * MIN as i64));
    assert_eq!(sim.state.runsheet.running().unwrap().id, welcome);
    assert_eq!(sim.state.runsheet.next().unwrap().id, round);

    // 2. Starting the next while one runs is refused, by name; with end_running it goes.
    sim.at(16 * MIN);
    let r = refusal(&sim, &f, start(&round));
    assert_eq!(r.code, Code::Conflict);
    assert!(r.message.contains(&welcome), "{}", r.message);
    let events = sim.ok(
        &f,
        Command::StartSequence {
            sequence: round.clone(),
            end_running: true,
        },
    );
    assert_eq!(
        events[0],
        Event::SequenceEnded {
            sequence: welcome.clone(),
            early: true
        }
    );
    assert!(matches!(&events[1], Event::SequenceStarted { sequence, .. } if *sequence == round));
    let kinds: Vec<&str> = events[2..]
        .iter()
        .map(|e| match e {
            Event::RoomsCreated { .. } => "created",
            Event::RoomsAssigned { method, .. } => {
                assert_eq!(method, "balanced:commune");
                "assigned"
            }
            Event::BreakoutsOpened { ends_at, .. } => {
                assert_eq!(*ends_at, t(46 * MIN));
                "opened"
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["created", "assigned", "opened"]);
    // The rotation's three rooms stay; the citizens go to the three new ones.
    assert_eq!(sim.breakout_rooms().len(), 6);
    for c in &ids.citizens {
        assert_ne!(sim.location(c), PLENARY, "{c} went to a room");
    }
    let rooms: BTreeSet<&str> = ids.citizens.iter().map(|c| sim.location(c)).collect();
    let new: BTreeSet<String> = sim.breakout_rooms()[3..].iter().cloned().collect();
    assert_eq!(rooms.len(), 3);
    assert!(rooms.iter().all(|r| new.contains(*r)), "{rooms:?}");

    // 3. Extended by 5 minutes: the breakouts too.
    let events = sim.ok(&f, Command::ExtendSequence { by_ms: 5 * MIN });
    assert!(matches!(events[0], Event::SequenceExtended { by_ms, .. } if by_ms == 5 * MIN));
    assert!(
        matches!(events[1], Event::BreakoutsExtended { ends_at, .. } if ends_at == t(51 * MIN))
    );

    // 4. Restitution: everyone back.
    sim.at(50 * MIN);
    sim.ok(&f, Command::EndSequence);
    let events = sim.ok(&f, start(&restitution));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::BreakoutsClosed { .. })));
    for c in &ids.citizens {
        assert_eq!(sim.location(c), PLENARY);
    }
    assert!(sim.state.breakout.is_none());

    // 5. The break is skipped; the rotation starts.
    sim.ok(&f, Command::EndSequence);
    sim.ok(
        &f,
        Command::SkipSequence {
            sequence: pause.clone(),
        },
    );
    assert!(matches!(
        sim.state.runsheet.get(&pause).unwrap().status,
        SequenceStatus::Skipped { .. }
    ));
    sim.at(70 * MIN);
    let events = sim.ok(&f, start(&experts));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RotationRoundStarted { round: 0, .. })));
    assert!(sim.state.rotation.as_ref().unwrap().running());

    // 6. The votes, while the rotation runs: the polls open beside it.
    sim.at(95 * MIN);
    let events = sim.ok(
        &f,
        Command::StartSequence {
            sequence: votes.clone(),
            end_running: true,
        },
    );
    let opened: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::PollOpened { poll, .. } => Some(poll.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(opened, [q1.as_str(), q2.as_str()]);
    assert_eq!(sim.state.polls[&q1].status, PollStatus::Open);
    sim.ok(&f, Command::EndSequence);
    assert!(sim.state.runsheet.running().is_none());

    // 7. The closing plenary stops the rotation still under way: everyone back.
    let closing = add(&mut sim, &f, spec("Clôture", 110, 10, Action::Plenary));
    let events = sim.ok(&f, start(&closing));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::RotationEnded { stopped: true })));
    for p in ids.citizens.iter().chain(&ids.experts) {
        assert_eq!(sim.location(p), PLENARY, "{p}");
    }
    sim.ok(&f, Command::EndSequence);
    assert!(sim.state.runsheet.next().is_none());

    // The log folds back to the same state.
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_start_that_cannot_do_everything_does_nothing_and_names_the_action() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let single = || PollKind::Single {
        options: vec!["Oui".into(), "Non".into()],
    };
    let q1 = sim.draft_poll(&f, poll_spec("Première ?", single()));
    let q2 = sim.draft_poll(&f, poll_spec("Deuxième ?", single()));
    let votes = add(
        &mut sim,
        &f,
        spec("Votes", 0, 10, Action::Polls(vec![q1.clone(), q2.clone()])),
    );
    // Someone opened q2 by hand in the meantime: the second action cannot be done.
    sim.ok(&f, Command::OpenPoll { poll: q2.clone() });
    let r = refusal(&sim, &f, start(&votes));
    assert_eq!(r.code, Code::Conflict, "{}", r.message);
    assert!(r.message.contains(&format!("poll {q2}")), "{}", r.message);
    assert_eq!(sim.state.polls[&q1].status, PollStatus::Draft);
    assert_eq!(
        sim.state.runsheet.get(&votes).unwrap().status,
        SequenceStatus::Planned
    );

    // A deleted draft: refused at the start, naming the sequence and the poll.
    let q3 = sim.draft_poll(&f, poll_spec("Troisième ?", single()));
    let later = add(
        &mut sim,
        &f,
        spec(
            "Plus tard",
            10,
            10,
            Action::Polls(vec![q1.clone(), q3.clone()]),
        ),
    );
    sim.ok(&f, Command::DeletePoll { poll: q3.clone() });
    let r = refusal(&sim, &f, start(&later));
    assert_eq!(r.code, Code::NotFound);
    assert!(
        r.message.contains(&later) && r.message.contains(&q3),
        "{}",
        r.message
    );

    // Existing rooms that were cleared since.
    sim.ok(
        &f,
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    let rooms = sim.breakout_rooms();
    let groups = add(
        &mut sim,
        &f,
        spec(
            "Groupes",
            20,
            30,
            breakouts(
                BreakoutRooms::Existing(rooms.clone()),
                Grouping::Manual(vec![
                    vec![ids.citizen(0).into(), ids.citizen(1).into()],
                    vec![ids.citizen(2).into()],
                ]),
            ),
        ),
    );
    sim.ok(&f, Command::ClearRooms);
    let r = refusal(&sim, &f, start(&groups));
    assert_eq!(r.code, Code::NotFound);
    assert!(r.message.contains(&rooms[0]), "{}", r.message);

    // A rotation whose expert is not connected.
    sim.ok(
        &f,
        Command::PlanRotation {
            experts: ids.experts.clone(),
            grouping: AssignMethod::Random,
            groups: None,
            group_count: None,
            group_size: None,
            participants: None,
            only_present: true,
            round_ms: 10 * MIN,
            transition_ms: 0,
            warning_ms: MIN,
            rounds: None,
            break_room: false,
        },
    );
    let rotation = add(&mut sim, &f, spec("Rotation", 60, 30, Action::Rotation));
    sim.present.remove(&ids.experts[1]);
    let r = refusal(&sim, &f, start(&rotation));
    assert_eq!(r.code, Code::Conflict);
    assert!(
        r.message.contains("action 1") && r.message.contains(&ids.experts[1]),
        "{}",
        r.message
    );
    // Marked absent, the rotation goes on without them.
    sim.ok(
        &f,
        Command::MarkExpertAbsent {
            expert: ids.experts[1].clone(),
        },
    );
    sim.ok(&f, start(&rotation));
    // Breakouts cannot open while the rotation runs: a breakouts sequence with rooms of its
    // own is refused at its third action, its rooms not made, and nothing changes.
    let own = add(
        &mut sim,
        &f,
        spec(
            "Groupes 2",
            90,
            30,
            breakouts(new_rooms(2), Grouping::Random),
        ),
    );
    let r = refusal(
        &sim,
        &f,
        Command::StartSequence {
            sequence: own,
            end_running: true,
        },
    );
    assert_eq!(r.code, Code::Conflict);
    assert!(
        r.message.contains("action 3 (open the breakout rooms)"),
        "{}",
        r.message
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn manual_groups_go_to_the_rooms_the_sequence_creates() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let s = add(
        &mut sim,
        &f,
        spec(
            "Tables",
            0,
            20,
            breakouts(
                BreakoutRooms::New {
                    count: None,
                    names: vec!["Mobilités".into(), "Logement".into()],
                },
                Grouping::Manual(vec![
                    vec![ids.citizen(0).into(), ids.citizen(1).into()],
                    vec![ids.citizen(2).into()],
                ]),
            ),
        ),
    );
    sim.ok(&f, start(&s));
    let rooms = sim.breakout_rooms();
    assert_eq!(sim.location(ids.citizen(0)), rooms[0]);
    assert_eq!(sim.location(ids.citizen(1)), rooms[0]);
    assert_eq!(sim.location(ids.citizen(2)), rooms[1]);
    assert_eq!(sim.location(ids.citizen(3)), PLENARY);
}

#[test]
fn what_a_sequence_refers_to_is_checked_when_it_is_prepared() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let cases: Vec<(Action, Code)> = vec![
        (Action::Polls(vec!["q9".into()]), Code::NotFound),
        (Action::Polls(vec![]), Code::Invalid),
        (
            breakouts(BreakoutRooms::Existing(vec!["r7".into()]), Grouping::Random),
            Code::NotFound,
        ),
        (
            breakouts(
                BreakoutRooms::Existing(vec![PLENARY.into()]),
                Grouping::Random,
            ),
            Code::NotFound,
        ),
        (
            breakouts(new_rooms(1), Grouping::Manual(vec![vec!["p99999".into()]])),
            Code::NotFound,
        ),
        (
            breakouts(
                new_rooms(1),
                Grouping::Manual(vec![
                    vec![ids.citizen(0).into()],
                    vec![ids.citizen(1).into()],
                ]),
            ),
            Code::Invalid,
        ),
        (
            breakouts(
                new_rooms(2),
                Grouping::Manual(vec![vec![ids.guarantor().into()]]),
            ),
            Code::Invalid,
        ),
        (breakouts(new_rooms(0), Grouping::Random), Code::Invalid),
        (
            Action::Hearing {
                hearing: "h99".into(),
            },
            Code::NotFound,
        ),
    ];
    for (action, code) in cases {
        let shown = format!("{action:?}");
        let r = refusal(
            &sim,
            &f,
            Command::AddSequence {
                spec: spec("Séquence", 0, 10, action),
                before: None,
            },
        );
        assert_eq!(r.code, code, "{shown}: {}", r.message);
    }
    // Zero duration, or more than 12 hours.
    for ms in [0, 13 * 3600 * 1000] {
        let mut s = spec("Séquence", 0, 10, Action::Break);
        s.planned_ms = ms;
        assert_eq!(
            refusal(
                &sim,
                &f,
                Command::AddSequence {
                    spec: s,
                    before: None
                }
            )
            .code,
            Code::Invalid
        );
    }
    // Before a sequence that does not exist.
    assert_eq!(
        refusal(
            &sim,
            &f,
            Command::AddSequence {
                spec: spec("Séquence", 0, 10, Action::Break),
                before: Some("s42".into())
            }
        )
        .code,
        Code::NotFound
    );
    // A rotation sequence names no rotation: prepared before the rotation is planned, it is
    // refused at its start until one is.
    let rot = add(&mut sim, &f, spec("Rotation", 0, 30, Action::Rotation));
    let r = refusal(&sim, &f, start(&rot));
    assert_eq!(r.code, Code::NotFound);
    assert!(r.message.contains(&rot), "{}", r.message);
    sim.ok(&f, Command::DeleteSequence { sequence: rot });
    // A hearing sequence names a prepared hearing: unknown, it is refused at preparation;
    // prepared, starting the sequence opens the hearing in the same append.
    let r = refusal(
        &sim,
        &f,
        Command::AddSequence {
            spec: spec(
                "Audition",
                0,
                60,
                Action::Hearing {
                    hearing: "h9".into(),
                },
            ),
            before: None,
        },
    );
    assert_eq!(r.code, Code::NotFound);
    let created = sim.ok(
        &f,
        Command::CreateHearing {
            title: "Les bus de nuit".into(),
            speaker: ids.experts[0].clone(),
            room: PLENARY.into(),
            anonymous: false,
            moderated: false,
        },
    );
    let hearing = match created.as_slice() {
        [Event::HearingCreated { hearing, .. }] => hearing.clone(),
        other => panic!("create_hearing gave {other:?}"),
    };
    let h = add(
        &mut sim,
        &f,
        spec(
            "Audition",
            0,
            60,
            Action::Hearing {
                hearing: hearing.clone(),
            },
        ),
    );
    let events = sim.ok(&f, start(&h));
    assert!(
        matches!(events.as_slice(), [Event::SequenceStarted { .. }, Event::HearingOpened { hearing: opened }] if *opened == hearing),
        "{events:?}"
    );
    // Opened once: a second sequence for the same hearing is refused whole, by name.
    sim.ok(&f, Command::EndSequence);
    let again = add(&mut sim, &f, spec("Encore", 0, 10, Action::Break));
    sim.ok(&f, Command::DeleteSequence { sequence: again });
    let r = refusal(
        &sim,
        &f,
        Command::AddSequence {
            spec: spec(
                "Audition bis",
                0,
                60,
                Action::Hearing {
                    hearing: hearing.clone(),
                },
            ),
            before: None,
        },
    );
    assert_eq!(r.code, Code::Conflict);
    assert!(r.message.contains(&hearing), "{}", r.message);
    // The next plenary closes the hearing, in its start's append.
    let back = add(
        &mut sim,
        &f,
        spec("Retour en plénière", 0, 10, Action::Plenary),
    );
    let events = sim.ok(&f, start(&back));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::HearingClosed { hearing: h } if *h == hearing)),
        "{events:?}"
    );
}

#[test]
fn a_started_or_skipped_sequence_no_longer_changes() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let a = add(&mut sim, &f, spec("A", 0, 10, Action::Break));
    let b = add(&mut sim, &f, spec("B", 10, 10, Action::Break));
    sim.ok(&f, start(&a));
    sim.ok(
        &f,
        Command::SkipSequence {
            sequence: b.clone(),
        },
    );
    for id in [&a, &b] {
        for command in [
            Command::EditSequence {
                sequence: id.clone(),
                spec: spec("X", 0, 10, Action::Break),
            },
            Command::DeleteSequence {
                sequence: id.clone(),
            },
            Command::MoveSequence {
                sequence: id.clone(),
                before: None,
            },
            Command::SkipSequence {
                sequence: id.clone(),
            },
            Command::StartSequence {
                sequence: id.clone(),
                end_running: true,
            },
        ] {
            let shown = format!("{command:?}");
            assert_eq!(refusal(&sim, &f, command).code, Code::Conflict, "{shown}");
        }
    }
    assert_eq!(
        refusal(
            &sim,
            &f,
            Command::DeleteSequence {
                sequence: "s9".into()
            }
        )
        .code,
        Code::NotFound
    );
    sim.ok(&f, Command::EndSequence);
    assert!(matches!(
        sim.state.runsheet.get(&a).unwrap().status,
        SequenceStatus::Done { early: true, .. }
    ));
    for command in [Command::EndSequence, Command::ExtendSequence { by_ms: MIN }] {
        assert_eq!(refusal(&sim, &f, command).code, Code::Conflict);
    }
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn budgets_sent_ten_times_over_are_refused_whole() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    // Titles: the budget passes, ten times it does not.
    let long = "é".repeat(MAX_TITLE_CHARS);
    add(&mut sim, &f, spec(&long, 0, 10, Action::Break));
    for title in [
        "".to_string(),
        "   ".to_string(),
        "é".repeat(10 * MAX_TITLE_CHARS),
    ] {
        assert_eq!(
            refusal(
                &sim,
                &f,
                Command::AddSequence {
                    spec: spec(&title, 0, 10, Action::Break),
                    before: None
                }
            )
            .code,
            Code::Invalid
        );
    }
    // Polls per sequence: ten times the budget of (existing) drafts.
    let drafts: Vec<String> = (0..10 * MAX_SEQUENCE_POLLS)
        .map(|i| sim.draft_poll(&f, poll_spec(&format!("Q{i} ?"), PollKind::Position)))
        .collect();
    let r = refusal(
        &sim,
        &f,
        Command::AddSequence {
            spec: spec("Votes", 0, 10, Action::Polls(drafts.clone())),
            before: None,
        },
    );
    assert_eq!(r.code, Code::Invalid);
    add(
        &mut sim,
        &f,
        spec(
            "Votes",
            0,
            10,
            Action::Polls(drafts[..MAX_SEQUENCE_POLLS].to_vec()),
        ),
    );
    // Rooms: ten times the budget of new rooms.
    assert_eq!(
        refusal(
            &sim,
            &f,
            Command::AddSequence {
                spec: spec(
                    "Salles",
                    0,
                    10,
                    breakouts(new_rooms(2000), Grouping::Random)
                ),
                before: None
            }
        )
        .code,
        Code::Invalid
    );
    // Sequences per day: up to the budget, then refused.
    while sim.state.runsheet.sequences.len() < MAX_SEQUENCES {
        add(&mut sim, &f, spec("Encore", 0, 10, Action::Break));
    }
    for _ in 0..10 * MAX_SEQUENCES {
        let r = refusal(
            &sim,
            &f,
            Command::AddSequence {
                spec: spec("Une de trop", 0, 10, Action::Break),
                before: None,
            },
        );
        assert_eq!(r.code, Code::Invalid);
    }
    assert_eq!(sim.state.runsheet.sequences.len(), MAX_SEQUENCES);
    // Extensions of a running sequence: up to the budget, then ten times that refused whole.
    let running = sim.state.runsheet.sequences[0].id.clone();
    sim.ok(&f, start(&running));
    for _ in 0..MAX_EXTENSIONS {
        sim.ok(&f, Command::ExtendSequence { by_ms: 60_000 });
    }
    let ends_at = sim.state.runsheet.sequences[0].status.clone();
    for _ in 0..10 * MAX_EXTENSIONS {
        let r = refusal(&sim, &f, Command::ExtendSequence { by_ms: 60_000 });
        assert_eq!(r.code, Code::Conflict);
    }
    assert_eq!(sim.state.runsheet.sequences[0].status, ends_at);
    assert_eq!(
        sim.state.runsheet.sequences[0].extensions.len(),
        MAX_EXTENSIONS
    );
}

#[test]
fn only_facilitators_prepare_and_run_the_day() {
    let (mut sim, ids) = day();
    let f = ids.facilitator().to_string();
    let a = add(&mut sim, &f, spec("A", 0, 10, Action::Break));
    let others = [
        ids.guarantor().to_string(),
        ids.citizen(0).to_string(),
        ids.experts[0].clone(),
    ];
    for who in &others {
        for command in [
            Command::AddSequence {
                spec: spec("X", 0, 10, Action::Break),
                before: None,
            },
            start(&a),
            Command::SkipSequence {
                sequence: a.clone(),
            },
            Command::EndSequence,
        ] {
            assert_eq!(refusal(&sim, who, command).code, Code::Forbidden, "{who}");
        }
    }
    // The organizer does not run the day either.
    assert_eq!(
        sim.exec(&Actor::Organizer, &start(&a)),
        Err(Code::Forbidden)
    );
}
