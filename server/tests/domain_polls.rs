//! Polls: every kind of ballot counted or refused, specs checked, Borda and instant-runoff
//! against hand-counted examples, the life of a poll (draft, edit, open, close, reveal,
//! publish), its timer, who may vote, named and secret ballots, and the tally fixed at the
//! close.

mod common;

use std::collections::BTreeSet;

use common::{convention, log_proper, options, poll_spec, Ids, Roster, Sim, T0};
use convene::domain::polls::{self, MAX_OPTIONS, MAX_QUESTION_CHARS, MAX_TEXT_CHARS};
use convene::domain::{
    Actor, Ballot, CloseReason, Code, Command, Convention, Event, Millis, PollKind, PollSpec,
    PollStatus, Record, Role, Stance, Tally, MAX_DURATION_MS, PLENARY,
};

// ---------------------------------------------------------------------------------------
// Glue.

/// 1 facilitator, 1 guarantor, 2 rapporteurs, 1 expert, 16 citizens, all in the plenary.
fn ready() -> (Sim, Ids) {
    convention(Roster {
        facilitators: 1,
        guarantors: 1,
        rapporteurs: 2,
        experts: 1,
        citizens: 16,
        communes: 3,
    })
}

fn single(labels: &[&str]) -> PollKind {
    PollKind::Single {
        options: options(labels),
    }
}

fn multiple(labels: &[&str], min: u32, max: u32) -> PollKind {
    PollKind::Multiple {
        options: options(labels),
        min,
        max,
    }
}

fn scale(min: i32, max: i32, min_label: &str, max_label: &str) -> PollKind {
    PollKind::Scale {
        min,
        max,
        min_label: min_label.into(),
        max_label: max_label.into(),
    }
}

fn ranking(labels: &[&str]) -> PollKind {
    PollKind::Ranking {
        options: options(labels),
    }
}

fn text(max_chars: u32) -> PollKind {
    PollKind::Text { max_chars }
}

fn vote(poll: &str, ballot: Ballot) -> Command {
    Command::Vote {
        poll: poll.into(),
        ballot,
    }
}

fn close(poll: &str) -> Command {
    Command::ClosePoll { poll: poll.into() }
}

/// A spec built from the default one (`poll_spec`: named, hidden results, citizens).
fn spec(kind: PollKind, edit: impl FnOnce(&mut PollSpec)) -> PollSpec {
    let mut s = poll_spec("Quelle priorité pour la métropole ?", kind);
    edit(&mut s);
    s
}

fn named_or_secret(secret: bool) -> &'static str {
    if secret {
        "secret"
    } else {
        "named"
    }
}

/// An absolute time, `offset` ms after T0.
fn t(offset: Millis) -> Millis {
    T0 + offset
}

// ---------------------------------------------------------------------------------------
// Ballots of every kind.

#[test]
fn valid_ballots_are_counted() {
    struct Case {
        name: &'static str,
        kind: PollKind,
        /// Citizen `i` casts ballot `i`.
        ballots: Vec<Ballot>,
        counts: Vec<u64>,
        texts: Vec<&'static str>,
    }
    use Ballot::{Multiple, Position, Scale, Single, Text};
    let three = || single(&["Tram", "Vélo", "Bus"]);
    let cases = vec![
        Case {
            name: "single",
            kind: three(),
            ballots: vec![Single(0), Single(2), Single(2), Single(1), Single(2)],
            counts: vec![1, 1, 3],
            texts: vec![],
        },
        Case {
            name: "single, an option nobody chose",
            kind: three(),
            ballots: vec![Single(0), Single(0)],
            counts: vec![2, 0, 0],
            texts: vec![],
        },
        Case {
            name: "single, no ballot yet",
            kind: three(),
            ballots: vec![],
            counts: vec![0, 0, 0],
            texts: vec![],
        },
        Case {
            name: "multiple, 1 to 2 of 4, any order",
            kind: multiple(&["A", "B", "C", "D"], 1, 2),
            ballots: vec![
                Multiple(vec![0]),
                Multiple(vec![1, 3]),
                Multiple(vec![3, 1]),
                Multiple(vec![2, 0]),
            ],
            // A: 1st and 4th; B: 2nd and 3rd; C: 4th; D: 2nd and 3rd.
            counts: vec![2, 2, 1, 2],
            texts: vec![],
        },
        Case {
            name: "multiple, 0 to 1: choosing none is a ballot",
            kind: multiple(&["A", "B", "C"], 0, 1),
            ballots: vec![Multiple(vec![]), Multiple(vec![2])],
            counts: vec![0, 0, 1],
            texts: vec![],
        },
        Case {
            name: "multiple, all 3 of 3",
            kind: multiple(&["A", "B", "C"], 3, 3),
            ballots: vec![Multiple(vec![2, 0, 1])],
            counts: vec![1, 1, 1],
            texts: vec![],
        },
        Case {
            name: "scale 1 to 5 with labels, the ends included",
            kind: scale(1, 5, "Pas du tout", "Tout à fait"),
            ballots: vec![Scale(1), Scale(5), Scale(3), Scale(3)],
            counts: vec![1, 0, 2, 0, 1],
            texts: vec![],
        },
        Case {
            name: "scale -2 to 2",
            kind: scale(-2, 2, "", ""),
            ballots: vec![Scale(-2), Scale(0), Scale(2), Scale(0)],
            counts: vec![1, 0, 2, 0, 1],
            texts: vec![],
        },
        Case {
            name: "position, counted in the order for, against, reservations, abstain",
            kind: PollKind::Position,
            ballots: vec![
                Position(Stance::For),
                Position(Stance::Against),
                Position(Stance::For),
                Position(Stance::Abstain),
                Position(Stance::ForWithReservations),
                Position(Stance::For),
            ],
            counts: vec![3, 1, 1, 1],
            texts: vec![],
        },
        Case {
            name: "text: trimmed, sorted",
            kind: text(10),
            ballots: vec![
                Text(" bus ".into()),
                Text("vélo".into()),
                Text("auto".into()),
            ],
            counts: vec![],
            texts: vec!["auto", "bus", "vélo"],
        },
        Case {
            name: "text: exactly max_chars characters, not bytes",
            kind: text(10),
            ballots: vec![Text("é".repeat(10)), Text("  x  ".into())],
            counts: vec![],
            texts: vec!["x", "éééééééééé"],
        },
        Case {
            name: "text: the same answer twice is kept twice",
            kind: text(20),
            ballots: vec![Text("Oui".into()), Text("Oui".into())],
            counts: vec![],
            texts: vec!["Oui", "Oui"],
        },
        Case {
            name: "ranking: no counts, Borda and rounds instead",
            kind: ranking(&["A", "B", "C"]),
            ballots: vec![
                Ballot::Ranking(vec![0, 1, 2]),
                Ballot::Ranking(vec![2, 1, 0]),
            ],
            counts: vec![],
            texts: vec![],
        },
    ];
    for case in &cases {
        for secret in [false, true] {
            let label = format!("{} ({})", case.name, named_or_secret(secret));
            let (mut sim, ids) = ready();
            let f = ids.facilitator().to_string();
            let poll = sim.open_poll(
                &f,
                spec(case.kind.clone(), |s| {
                    s.secret = secret;
                    s.live_results = true;
                }),
            );
            for (i, b) in case.ballots.iter().enumerate() {
                sim.ok(ids.citizen(i), vote(&poll, b.clone()));
            }
            let tally = sim.poll(&poll).tally();
            assert_eq!(tally.ballots, case.ballots.len() as u64, "{label}: ballots");
            assert_eq!(tally.counts, case.counts, "{label}: counts");
            assert_eq!(tally.texts, case.texts, "{label}: texts");
            assert_eq!(sim.poll(&poll).ballot_count(), tally.ballots, "{label}");
            let turnout = polls::turnout(&sim.state, sim.poll(&poll), &sim.present);
            let events = sim.ok(&f, close(&poll));
            assert_eq!(
                events,
                vec![Event::PollClosed {
                    poll: poll.clone(),
                    reason: CloseReason::Facilitator,
                    tally: tally.clone(),
                    turnout: Some(turnout),
                }],
                "{label}: the close carries the tally"
            );
            assert_eq!(sim.replayed(), sim.state, "{label}: replay");
        }
    }
}

#[test]
fn ballots_are_normalised() {
    struct Case {
        name: &'static str,
        kind: PollKind,
        ballot: Ballot,
        kept: Ballot,
    }
    let cases = vec![
        Case {
            name: "multiple choices sorted",
            kind: multiple(&["A", "B", "C", "D"], 1, 3),
            ballot: Ballot::Multiple(vec![3, 0, 2]),
            kept: Ballot::Multiple(vec![0, 2, 3]),
        },
        Case {
            name: "text trimmed",
            kind: text(40),
            ballot: Ballot::Text("\n  Plus de pistes cyclables  \t".into()),
            kept: Ballot::Text("Plus de pistes cyclables".into()),
        },
        Case {
            name: "ranking kept in its order",
            kind: ranking(&["A", "B", "C"]),
            ballot: Ballot::Ranking(vec![2, 0, 1]),
            kept: Ballot::Ranking(vec![2, 0, 1]),
        },
        Case {
            name: "single as is",
            kind: single(&["A", "B"]),
            ballot: Ballot::Single(1),
            kept: Ballot::Single(1),
        },
    ];
    for case in cases {
        for secret in [false, true] {
            let label = format!("{} ({})", case.name, named_or_secret(secret));
            let (mut sim, ids) = ready();
            let f = ids.facilitator().to_string();
            let poll = sim.open_poll(&f, spec(case.kind.clone(), |s| s.secret = secret));
            let c = ids.citizen(0).to_string();
            let events = sim.ok(&c, vote(&poll, case.ballot.clone()));
            let cast: Vec<&Ballot> = events
                .iter()
                .filter_map(|e| match e {
                    Event::BallotCast { ballot, .. } | Event::SecretBallotCast { ballot, .. } => {
                        Some(ballot)
                    }
                    _ => None,
                })
                .collect();
            assert_eq!(cast, vec![&case.kept], "{label}: the event");
            let p = sim.poll(&poll);
            let stored: Vec<&Ballot> = p.named.values().chain(p.secret.iter()).collect();
            assert_eq!(stored, vec![&case.kept], "{label}: the state");
        }
    }
}

#[test]
fn invalid_ballots_are_refused() {
    use Ballot::{Multiple, Position, Ranking, Scale, Single, Text};
    /// A kind's name, the kind, a valid ballot, then the invalid ones, by name.
    type PerKind = (&'static str, PollKind, Ballot, Vec<(&'static str, Ballot)>);
    let kinds: Vec<PerKind> = vec![
        (
            "single of 3",
            single(&["A", "B", "C"]),
            Single(1),
            vec![
                ("option out of range", Single(3)),
                ("option far out of range", Single(u32::MAX)),
                ("wrong kind: multiple", Multiple(vec![0])),
                ("wrong kind: scale", Scale(1)),
                ("wrong kind: position", Position(Stance::For)),
            ],
        ),
        (
            "multiple, 2 to 3 of 4",
            multiple(&["A", "B", "C", "D"], 2, 3),
            Multiple(vec![0, 3]),
            vec![
                ("too few", Multiple(vec![1])),
                ("none", Multiple(vec![])),
                ("too many", Multiple(vec![0, 1, 2, 3])),
                ("a duplicate", Multiple(vec![1, 1])),
                ("a duplicate among others", Multiple(vec![0, 1, 1])),
                ("option out of range", Multiple(vec![0, 4])),
                ("wrong kind: single", Single(0)),
                ("wrong kind: ranking", Ranking(vec![0, 1, 2, 3])),
            ],
        ),
        (
            "scale 1 to 5",
            scale(1, 5, "Non", "Oui"),
            Scale(4),
            vec![
                ("below", Scale(0)),
                ("above", Scale(6)),
                ("negative", Scale(-1)),
                ("far below", Scale(i32::MIN)),
                ("far above", Scale(i32::MAX)),
                ("wrong kind: single", Single(1)),
            ],
        ),
        (
            "ranking of 3",
            ranking(&["A", "B", "C"]),
            Ranking(vec![2, 1, 0]),
            vec![
                ("an option missing", Ranking(vec![0, 1])),
                ("empty", Ranking(vec![])),
                ("a duplicate", Ranking(vec![0, 0, 1])),
                ("a duplicate, too long", Ranking(vec![0, 1, 2, 2])),
                ("out of range", Ranking(vec![0, 1, 3])),
                ("wrong kind: single", Single(0)),
                ("wrong kind: multiple", Multiple(vec![0, 1, 2])),
            ],
        ),
        (
            "text of 10 characters at most",
            text(10),
            Text("Oui".into()),
            vec![
                ("empty", Text("".into())),
                ("blank", Text(" \n\t ".into())),
                ("11 characters", Text("abcdefghijk".into())),
                ("11 characters, multibyte", Text("é".repeat(11))),
                ("wrong kind: single", Single(0)),
            ],
        ),
        (
            "position",
            PollKind::Position,
            Position(Stance::Against),
            vec![
                ("wrong kind: single", Single(0)),
                ("wrong kind: scale", Scale(0)),
                ("wrong kind: text", Text("pour".into())),
            ],
        ),
    ];
    for (kind_name, kind, valid, bad) in &kinds {
        for secret in [false, true] {
            let (mut sim, ids) = ready();
            let f = ids.facilitator().to_string();
            let poll = sim.open_poll(
                &f,
                spec(kind.clone(), |s| {
                    s.secret = secret;
                    s.live_results = true;
                }),
            );
            let (c0, c1) = (ids.citizen(0).to_string(), ids.citizen(1).to_string());
            sim.ok(&c0, vote(&poll, valid.clone()));
            let opened = sim.clone();
            let tally = sim.poll(&poll).tally();
            for (name, ballot) in bad {
                let label = format!("{kind_name} ({}): {name}", named_or_secret(secret));
                let mut sim = opened.clone();
                assert_eq!(
                    sim.by(&c1, vote(&poll, ballot.clone())),
                    Err(Code::Invalid),
                    "{label}: a first ballot"
                );
                assert_eq!(sim.state, opened.state, "{label}: nothing changes");
                let again = sim.by(&c0, vote(&poll, ballot.clone()));
                if secret {
                    assert!(again.is_err(), "{label}: instead of a cast ballot");
                } else {
                    assert_eq!(again, Err(Code::Invalid), "{label}: instead of a ballot");
                }
                assert_eq!(sim.state, opened.state, "{label}: nothing changes");
                assert_eq!(sim.poll(&poll).tally(), tally, "{label}: the tally");
                // The refused ballot marked nobody: a valid one is still welcome.
                sim.ok(&c1, vote(&poll, valid.clone()));
                assert_eq!(sim.poll(&poll).tally().ballots, 2, "{label}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Specs.

#[test]
fn specs_are_checked() {
    struct Case {
        name: &'static str,
        spec: PollSpec,
        /// The spec as drafted (cleaned), or the code of the refusal.
        expect: Result<PollSpec, Code>,
    }
    let yes_no = || single(&["Oui", "Non"]);
    let ok = |s: &PollSpec| Ok(s.clone());
    let base = spec(yes_no(), |_| {});
    let long = |n: usize| "x".repeat(n);
    let fifty: Vec<String> = (1..=MAX_OPTIONS).map(|i| format!("Option {i}")).collect();
    let fifty_one: Vec<String> = (1..=MAX_OPTIONS + 1)
        .map(|i| format!("Option {i}"))
        .collect();
    let cases = vec![
        // Questions.
        Case {
            name: "the usual",
            spec: base.clone(),
            expect: ok(&base),
        },
        Case {
            name: "question trimmed",
            spec: spec(yes_no(), |s| s.question = "  Oui ou non ?  ".into()),
            expect: ok(&spec(yes_no(), |s| s.question = "Oui ou non ?".into())),
        },
        Case {
            name: "empty question",
            spec: spec(yes_no(), |s| s.question = "".into()),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "blank question",
            spec: spec(yes_no(), |s| s.question = " \n ".into()),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "question of the longest length",
            spec: spec(yes_no(), |s| s.question = "é".repeat(MAX_QUESTION_CHARS)),
            expect: ok(&spec(yes_no(), |s| {
                s.question = "é".repeat(MAX_QUESTION_CHARS)
            })),
        },
        Case {
            name: "question too long",
            spec: spec(yes_no(), |s| s.question = long(MAX_QUESTION_CHARS + 1)),
            expect: Err(Code::Invalid),
        },
        // Options.
        Case {
            name: "options trimmed",
            spec: spec(single(&[" Oui", "Non "]), |_| {}),
            expect: ok(&base),
        },
        Case {
            name: "single with 1 option",
            spec: spec(single(&["Oui"]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "single with no option",
            spec: spec(single(&[]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "multiple with 1 option",
            spec: spec(multiple(&["Oui"], 1, 1), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "ranking with 1 option",
            spec: spec(ranking(&["Oui"]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "duplicate options",
            spec: spec(single(&["Oui", "Non", "Oui"]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "duplicate options once trimmed",
            spec: spec(ranking(&["Oui", " Oui "]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a blank option",
            spec: spec(single(&["Oui", "  "]), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "an option too long",
            spec: spec(
                PollKind::Single {
                    options: vec!["Oui".into(), long(201)],
                },
                |_| {},
            ),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "the most options",
            spec: spec(
                PollKind::Single {
                    options: fifty.clone(),
                },
                |_| {},
            ),
            expect: ok(&spec(PollKind::Single { options: fifty }, |_| {})),
        },
        Case {
            name: "too many options",
            spec: spec(PollKind::Single { options: fifty_one }, |_| {}),
            expect: Err(Code::Invalid),
        },
        // Multiple choice bounds.
        Case {
            name: "multiple 0 to 1",
            spec: spec(multiple(&["A", "B"], 0, 1), |_| {}),
            expect: ok(&spec(multiple(&["A", "B"], 0, 1), |_| {})),
        },
        Case {
            name: "multiple, all of them",
            spec: spec(multiple(&["A", "B", "C"], 3, 3), |_| {}),
            expect: ok(&spec(multiple(&["A", "B", "C"], 3, 3), |_| {})),
        },
        Case {
            name: "multiple, min above max",
            spec: spec(multiple(&["A", "B", "C"], 3, 2), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "multiple, max 0",
            spec: spec(multiple(&["A", "B", "C"], 0, 0), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "multiple, max above the options",
            spec: spec(multiple(&["A", "B", "C"], 1, 4), |_| {}),
            expect: Err(Code::Invalid),
        },
        // Scales.
        Case {
            name: "scale, labels trimmed",
            spec: spec(scale(0, 10, " Pas du tout ", " Tout à fait "), |_| {}),
            expect: ok(&spec(scale(0, 10, "Pas du tout", "Tout à fait"), |_| {})),
        },
        Case {
            name: "scale of 101 values",
            spec: spec(scale(0, 100, "", ""), |_| {}),
            expect: ok(&spec(scale(0, 100, "", ""), |_| {})),
        },
        Case {
            name: "scale of 102 values",
            spec: spec(scale(0, 101, "", ""), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "scale of one value",
            spec: spec(scale(3, 3, "", ""), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "scale upside down",
            spec: spec(scale(5, 1, "", ""), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "scale label too long",
            spec: spec(scale(1, 5, "", &long(201)), |_| {}),
            expect: Err(Code::Invalid),
        },
        // Free text.
        Case {
            name: "text of 1 character",
            spec: spec(text(1), |_| {}),
            expect: ok(&spec(text(1), |_| {})),
        },
        Case {
            name: "text of the longest length",
            spec: spec(text(MAX_TEXT_CHARS), |_| {}),
            expect: ok(&spec(text(MAX_TEXT_CHARS), |_| {})),
        },
        Case {
            name: "text of 0 characters",
            spec: spec(text(0), |_| {}),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "text too long",
            spec: spec(text(MAX_TEXT_CHARS + 1), |_| {}),
            expect: Err(Code::Invalid),
        },
        // Voters.
        Case {
            name: "no voters named: citizens",
            spec: spec(yes_no(), |s| s.voters = vec![]),
            expect: ok(&spec(yes_no(), |s| s.voters = vec![Role::Citizen])),
        },
        Case {
            name: "voters sorted, without duplicates",
            spec: spec(yes_no(), |s| {
                s.voters = vec![Role::Expert, Role::Citizen, Role::Expert]
            }),
            expect: ok(&spec(yes_no(), |s| {
                s.voters = vec![Role::Citizen, Role::Expert]
            })),
        },
        Case {
            name: "a guarantor among the voters",
            spec: spec(yes_no(), |s| {
                s.voters = vec![Role::Citizen, Role::Guarantor]
            }),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "guarantors as the voters",
            spec: spec(yes_no(), |s| s.voters = vec![Role::Guarantor]),
            expect: Err(Code::Invalid),
        },
        // Durations and rooms.
        Case {
            name: "a duration of 2 minutes",
            spec: spec(yes_no(), |s| s.duration_ms = Some(120_000)),
            expect: ok(&spec(yes_no(), |s| s.duration_ms = Some(120_000))),
        },
        Case {
            name: "a duration of 12 hours",
            spec: spec(yes_no(), |s| s.duration_ms = Some(MAX_DURATION_MS)),
            expect: ok(&spec(yes_no(), |s| s.duration_ms = Some(MAX_DURATION_MS))),
        },
        Case {
            name: "a zero duration",
            spec: spec(yes_no(), |s| s.duration_ms = Some(0)),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a duration over 12 hours",
            spec: spec(yes_no(), |s| s.duration_ms = Some(MAX_DURATION_MS + 1)),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "a room that does not exist",
            spec: spec(yes_no(), |s| s.room = Some("nowhere".into())),
            expect: Err(Code::NotFound),
        },
        Case {
            name: "the plenary",
            spec: spec(yes_no(), |s| s.room = Some(PLENARY.into())),
            expect: ok(&spec(yes_no(), |s| s.room = Some(PLENARY.into()))),
        },
        Case {
            name: "a quorum of 1",
            spec: spec(yes_no(), |s| s.quorum = Some(1)),
            expect: ok(&spec(yes_no(), |s| s.quorum = Some(1))),
        },
        Case {
            name: "a quorum of 0",
            spec: spec(yes_no(), |s| s.quorum = Some(0)),
            expect: Err(Code::Invalid),
        },
        Case {
            name: "secret, live, with a quorum",
            spec: spec(PollKind::Position, |s| {
                s.secret = true;
                s.live_results = true;
                s.quorum = Some(40);
            }),
            expect: ok(&spec(PollKind::Position, |s| {
                s.secret = true;
                s.live_results = true;
                s.quorum = Some(40);
            })),
        },
    ];
    let (staged, ids) = ready();
    let f = ids.facilitator().to_string();
    for case in cases {
        // Drafted, and as the edit of a draft.
        for edit in [false, true] {
            let label = format!("{} ({})", case.name, if edit { "edit" } else { "draft" });
            let mut sim = staged.clone();
            let (command, draft) = if edit {
                let draft = sim.draft_poll(&f, spec(PollKind::Position, |_| {}));
                (
                    Command::EditPoll {
                        poll: draft.clone(),
                        spec: case.spec.clone(),
                    },
                    Some(draft),
                )
            } else {
                (
                    Command::DraftPoll {
                        spec: case.spec.clone(),
                    },
                    None,
                )
            };
            let before = sim.state.clone();
            match (&case.expect, sim.by(&f, command)) {
                (Ok(want), Ok(events)) => {
                    let [Event::PollDrafted { poll, spec } | Event::PollEdited { poll, spec }] =
                        &events[..]
                    else {
                        panic!("{label}: {events:?}")
                    };
                    assert_eq!(spec, want, "{label}: the event");
                    assert_eq!(&sim.poll(poll).spec, want, "{label}: the state");
                    assert_eq!(sim.poll(poll).status, PollStatus::Draft, "{label}");
                    if let Some(draft) = &draft {
                        assert_eq!(poll, draft, "{label}: the same poll");
                    }
                }
                (Err(code), Err(got)) => {
                    assert_eq!(*code, got, "{label}");
                    assert_eq!(sim.state, before, "{label}: a refusal changes nothing");
                }
                (expect, got) => panic!("{label}: expected {expect:?}, got {got:?}"),
            }
        }
    }
}

/// `check_spec` computes the width of a scale as `max - min + 1` in `i32`: bounds far
/// apart (both are i32 on the wire) overflow.
#[test]
fn a_scale_with_extreme_bounds_is_refused() {
    for (min, max) in [
        (i32::MIN, i32::MAX),
        (i32::MIN, 0),
        (-2_000_000_000, 2_000_000_000),
    ] {
        let got = std::panic::catch_unwind(|| {
            polls::check_spec(&spec(scale(min, max, "", ""), |_| {})).map(|_| ())
        });
        assert!(
            matches!(got, Ok(Err(_))),
            "a scale from {min} to {max}: expected a refusal, got {}",
            match got {
                Ok(Ok(())) => "an accepted spec".to_string(),
                Ok(Err(m)) => m,
                Err(_) => "a panic".to_string(),
            }
        );
    }
}

// ---------------------------------------------------------------------------------------
// Ranking: Borda and instant-runoff.

/// Instant-runoff, as polls.rs has it: each round counts every ballot for its most preferred
/// option still in; more than half of the ballots wins; otherwise the option with the fewest
/// votes is eliminated. Ties: the later option is eliminated first, the earlier one wins.
/// Borda: with n options, n-1 points for a first place, ..., 0 for the last.
#[test]
fn ranking_methods_against_hand_counts() {
    type Round = (Vec<(u32, u64)>, Option<u32>);
    struct Case {
        name: &'static str,
        options: &'static [&'static str],
        /// How many ballots rank the options in this order.
        ballots: Vec<(usize, Vec<u32>)>,
        borda: Vec<u64>,
        /// Each round: the counts of the options still in, and the one eliminated.
        rounds: Vec<Round>,
        winner: Option<u32>,
    }
    let cases = vec![
        Case {
            // A=0, B=1, C=2; Borda 2/1/0 points.
            //   4 × A C B    3 × B C A    2 × C B A      (9 ballots, a majority is 5)
            // Round 1: A 4, B 3, C 2: no majority, C goes. Its 2 ballots go to B.
            // Round 2: A 4, B 5: B wins.
            // Borda: A = 4×2 = 8; B = 3×2 + 2×1 = 8; C = 4×1 + 3×1 + 2×2 = 11.
            // The compromise C wins Borda, and is the first eliminated by instant-runoff.
            name: "Borda and instant-runoff disagree",
            options: &["A", "B", "C"],
            ballots: vec![(4, vec![0, 2, 1]), (3, vec![1, 2, 0]), (2, vec![2, 1, 0])],
            borda: vec![8, 8, 11],
            rounds: vec![
                (vec![(0, 4), (1, 3), (2, 2)], Some(2)),
                (vec![(0, 4), (1, 5)], None),
            ],
            winner: Some(1),
        },
        Case {
            // A..E = 0..4; Borda 4/3/2/1/0 points; 15 ballots, a majority is 8.
            //   5 × A B C D E   4 × B C A D E   3 × C B A E D   2 × D C B A E   1 × E A B C D
            // Round 1: A 5, B 4, C 3, D 2, E 1: E goes; its ballot goes to A.
            // Round 2: A 6, B 4, C 3, D 2: D goes; its 2 ballots go to C.
            // Round 3: A 6, B 4, C 5: B goes; its 4 ballots go to C.
            // Round 4: A 6, C 9: C wins.
            // Borda: A = 20 + 8 + 6 + 2 + 3 = 39   B = 15 + 16 + 9 + 4 + 2 = 46
            //        C = 10 + 12 + 12 + 6 + 1 = 41  D = 5 + 4 + 0 + 8 + 0 = 17
            //        E = 0 + 0 + 3 + 0 + 4 = 7      (sum 150 = 15 ballots × 10 points)
            name: "four rounds of elimination",
            options: &["A", "B", "C", "D", "E"],
            ballots: vec![
                (5, vec![0, 1, 2, 3, 4]),
                (4, vec![1, 2, 0, 3, 4]),
                (3, vec![2, 1, 0, 4, 3]),
                (2, vec![3, 2, 1, 0, 4]),
                (1, vec![4, 0, 1, 2, 3]),
            ],
            borda: vec![39, 46, 41, 17, 7],
            rounds: vec![
                (vec![(0, 5), (1, 4), (2, 3), (3, 2), (4, 1)], Some(4)),
                (vec![(0, 6), (1, 4), (2, 3), (3, 2)], Some(3)),
                (vec![(0, 6), (1, 4), (2, 5)], Some(1)),
                (vec![(0, 6), (2, 9)], None),
            ],
            winner: Some(2),
        },
        Case {
            // A..D = 0..3; Borda 3/2/1/0.   3 × A B C D   3 × B A C D   (6 ballots, majority 4)
            // Round 1: A 3, B 3, C 0, D 0: C and D tie at 0, the later one (D) goes.
            // Round 2: A 3, B 3, C 0: C goes.
            // Round 3: A 3, B 3: a tie, the later one (B) goes.
            // Round 4: A 6: A wins.
            // Borda: A = 9 + 6 = 15, B = 6 + 9 = 15, C = 3 + 3 = 6, D = 0.
            name: "ties: the later option is eliminated first, the earlier wins",
            options: &["A", "B", "C", "D"],
            ballots: vec![(3, vec![0, 1, 2, 3]), (3, vec![1, 0, 2, 3])],
            borda: vec![15, 15, 6, 0],
            rounds: vec![
                (vec![(0, 3), (1, 3), (2, 0), (3, 0)], Some(3)),
                (vec![(0, 3), (1, 3), (2, 0)], Some(2)),
                (vec![(0, 3), (1, 3)], Some(1)),
                (vec![(0, 6)], None),
            ],
            winner: Some(0),
        },
        Case {
            // 1 × B A    1 × A B: round 1 A 1, B 1 (half each, no majority): B, the later,
            // goes; round 2: A 2 wins, although B was ranked first on the first ballot.
            name: "a tie of two, whatever the order of the ballots",
            options: &["A", "B"],
            ballots: vec![(1, vec![1, 0]), (1, vec![0, 1])],
            borda: vec![1, 1],
            rounds: vec![(vec![(0, 1), (1, 1)], Some(1)), (vec![(0, 2)], None)],
            winner: Some(0),
        },
        Case {
            // 3 × C A B   2 × A B C: C has 3 of 5 at once.
            // Borda: A = 3×1 + 2×2 = 7, B = 0 + 2×1 = 2, C = 3×2 + 0 = 6.
            name: "a majority in the first round",
            options: &["A", "B", "C"],
            ballots: vec![(3, vec![2, 0, 1]), (2, vec![0, 1, 2])],
            borda: vec![7, 2, 6],
            rounds: vec![(vec![(0, 2), (1, 0), (2, 3)], None)],
            winner: Some(2),
        },
        Case {
            name: "no ballot: no round, no winner",
            options: &["A", "B", "C"],
            ballots: vec![],
            borda: vec![0, 0, 0],
            rounds: vec![],
            winner: None,
        },
    ];
    for case in &cases {
        let kind = ranking(case.options);
        let ballots: Vec<Ballot> = case
            .ballots
            .iter()
            .flat_map(|(n, order)| std::iter::repeat_n(Ballot::Ranking(order.clone()), *n))
            .collect();
        let rounds: Vec<polls::IrvRound> = case
            .rounds
            .iter()
            .map(|(counts, eliminated)| polls::IrvRound {
                counts: counts.iter().copied().collect(),
                eliminated: *eliminated,
            })
            .collect();
        let tally = polls::tally(&kind, ballots.iter());
        assert_eq!(tally.ballots, ballots.len() as u64, "{}", case.name);
        assert_eq!(tally.borda, case.borda, "{}: Borda", case.name);
        assert_eq!(tally.rounds, rounds, "{}: rounds", case.name);
        assert_eq!(tally.winner, case.winner, "{}: winner", case.name);
        // The same through the domain, named and secret: ballots cast, then the close.
        for secret in [false, true] {
            let label = format!("{} ({})", case.name, named_or_secret(secret));
            let (mut sim, ids) = ready();
            let f = ids.facilitator().to_string();
            let poll = sim.open_poll(&f, spec(kind.clone(), |s| s.secret = secret));
            for (i, b) in ballots.iter().enumerate() {
                sim.ok(ids.citizen(i), vote(&poll, b.clone()));
            }
            let turnout = polls::turnout(&sim.state, sim.poll(&poll), &sim.present);
            let events = sim.ok(&f, close(&poll));
            assert_eq!(
                events,
                vec![Event::PollClosed {
                    poll: poll.clone(),
                    reason: CloseReason::Facilitator,
                    tally: tally.clone(),
                    turnout: Some(turnout),
                }],
                "{label}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// The life of a poll.

#[derive(Clone, Copy, Debug)]
enum By {
    Facilitator,
    Citizen(usize),
}

#[derive(Clone, Debug)]
enum Act {
    Draft(PollSpec),
    Edit(PollSpec),
    Delete,
    Open,
    Close,
    Reveal,
    Publish,
    Vote(Ballot),
    /// The same acts, on a poll that does not exist.
    Unknown(Box<Act>),
}

#[derive(Clone, Copy, Debug)]
enum After {
    /// The poll's status and whether participants may see its results.
    Is(PollStatus, bool),
    Gone,
}

struct Step {
    by: By,
    act: Act,
    expect: Result<(), Code>,
    after: After,
}

fn s(by: By, act: Act, expect: Result<(), Code>, after: After) -> Step {
    Step {
        by,
        act,
        expect,
        after,
    }
}

fn command(act: &Act, poll: &str) -> Command {
    let poll = poll.to_string();
    match act {
        Act::Draft(spec) => Command::DraftPoll { spec: spec.clone() },
        Act::Edit(spec) => Command::EditPoll {
            poll,
            spec: spec.clone(),
        },
        Act::Delete => Command::DeletePoll { poll },
        Act::Open => Command::OpenPoll { poll },
        Act::Close => Command::ClosePoll { poll },
        Act::Reveal => Command::RevealResults { poll },
        Act::Publish => Command::PublishResults { poll },
        Act::Vote(ballot) => Command::Vote {
            poll,
            ballot: ballot.clone(),
        },
        Act::Unknown(act) => command(act, "q-that-does-not-exist"),
    }
}

/// Play steps on one poll (the last drafted), checking each outcome and the poll after it.
fn play(name: &str, steps: Vec<Step>) {
    let (mut sim, ids) = ready();
    let mut poll: Option<String> = None;
    for (i, step) in steps.into_iter().enumerate() {
        let label = format!("{name}: step {} ({:?} by {:?})", i + 1, step.act, step.by);
        let who = match step.by {
            By::Facilitator => ids.facilitator().to_string(),
            By::Citizen(i) => ids.citizen(i).to_string(),
        };
        let id = poll.clone().unwrap_or_default();
        let before = sim.state.clone();
        match (step.expect, sim.by(&who, command(&step.act, &id))) {
            (Ok(()), Ok(events)) => {
                if let Some(Event::PollDrafted { poll: p, .. }) = events.first() {
                    poll = Some(p.clone());
                }
            }
            (Err(code), Err(got)) => {
                assert_eq!(code, got, "{label}");
                assert_eq!(sim.state, before, "{label}: a refusal changes nothing");
            }
            (expect, got) => panic!("{label}: expected {expect:?}, got {got:?}"),
        }
        let id = poll.clone().expect("the first step drafts the poll");
        match step.after {
            After::Is(status, public) => {
                let p = sim.poll(&id);
                assert_eq!(p.status, status, "{label}: status");
                assert_eq!(p.results_public(), public, "{label}: results public");
            }
            After::Gone => assert!(!sim.state.polls.contains_key(&id), "{label}: gone"),
        }
    }
    assert_eq!(sim.replayed(), sim.state, "{name}: replay");
}

#[test]
fn lifecycle() {
    use After::{Gone, Is};
    use By::{Citizen, Facilitator as F};
    use PollStatus::{Closed, Draft, Open, Published};
    let conflict = Err(Code::Conflict);
    let not_found = Err(Code::NotFound);
    let yes_no = spec(single(&["Oui", "Non"]), |_| {});
    let three = spec(single(&["Oui", "Non", "Ne sait pas"]), |_| {});
    let live = spec(single(&["Oui", "Non"]), |s| s.live_results = true);
    let third = || Act::Vote(Ballot::Single(2));
    let unknown = |a: Act| Act::Unknown(Box::new(a));
    let scripts: Vec<(&str, Vec<Step>)> = vec![
        (
            "hidden results: draft, edit, open, vote, close, reveal, publish",
            vec![
                s(F, Act::Draft(yes_no.clone()), Ok(()), Is(Draft, false)),
                // A third option: the vote below proves the edit was kept.
                s(F, Act::Edit(three.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Edit(three.clone()), Ok(()), Is(Draft, false)),
                // Voters do not see drafts: to them, it does not exist yet.
                s(Citizen(0), third(), not_found, Is(Draft, false)),
                s(F, Act::Reveal, conflict, Is(Draft, false)),
                s(F, Act::Publish, conflict, Is(Draft, false)),
                s(F, Act::Close, conflict, Is(Draft, false)),
                s(F, Act::Open, Ok(()), Is(Open, false)),
                s(F, Act::Open, conflict, Is(Open, false)),
                s(F, Act::Edit(yes_no.clone()), conflict, Is(Open, false)),
                s(F, Act::Delete, conflict, Is(Open, false)),
                s(Citizen(0), third(), Ok(()), Is(Open, false)),
                s(Citizen(1), third(), Ok(()), Is(Open, false)),
                s(F, Act::Publish, conflict, Is(Open, false)),
                s(F, Act::Close, Ok(()), Is(Closed, false)),
                s(F, Act::Close, conflict, Is(Closed, false)),
                s(Citizen(2), third(), conflict, Is(Closed, false)),
                s(Citizen(0), third(), conflict, Is(Closed, false)),
                s(F, Act::Edit(yes_no.clone()), conflict, Is(Closed, false)),
                s(F, Act::Delete, conflict, Is(Closed, false)),
                s(F, Act::Open, conflict, Is(Closed, false)),
                s(F, Act::Reveal, Ok(()), Is(Closed, true)),
                s(F, Act::Reveal, conflict, Is(Closed, true)),
                s(F, Act::Publish, Ok(()), Is(Published, true)),
                s(F, Act::Publish, conflict, Is(Published, true)),
                s(F, Act::Reveal, conflict, Is(Published, true)),
                s(F, Act::Close, conflict, Is(Published, true)),
                s(Citizen(3), third(), conflict, Is(Published, true)),
                s(F, Act::Delete, conflict, Is(Published, true)),
            ],
        ),
        (
            "hidden results, revealed while open",
            vec![
                s(F, Act::Draft(yes_no.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Open, Ok(()), Is(Open, false)),
                s(
                    Citizen(0),
                    Act::Vote(Ballot::Single(0)),
                    Ok(()),
                    Is(Open, false),
                ),
                s(F, Act::Reveal, Ok(()), Is(Open, true)),
                s(F, Act::Reveal, conflict, Is(Open, true)),
                s(
                    Citizen(1),
                    Act::Vote(Ballot::Single(1)),
                    Ok(()),
                    Is(Open, true),
                ),
                s(F, Act::Close, Ok(()), Is(Closed, true)),
                s(F, Act::Publish, Ok(()), Is(Published, true)),
            ],
        ),
        (
            "hidden results, published without a reveal",
            vec![
                s(F, Act::Draft(yes_no.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Open, Ok(()), Is(Open, false)),
                s(F, Act::Close, Ok(()), Is(Closed, false)),
                s(F, Act::Publish, Ok(()), Is(Published, true)),
            ],
        ),
        (
            "live results",
            vec![
                s(F, Act::Draft(live.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Reveal, conflict, Is(Draft, false)),
                s(F, Act::Open, Ok(()), Is(Open, true)),
                s(F, Act::Reveal, conflict, Is(Open, true)),
                s(
                    Citizen(0),
                    Act::Vote(Ballot::Single(1)),
                    Ok(()),
                    Is(Open, true),
                ),
                s(F, Act::Close, Ok(()), Is(Closed, true)),
                s(F, Act::Reveal, conflict, Is(Closed, true)),
                s(F, Act::Publish, Ok(()), Is(Published, true)),
            ],
        ),
        (
            "a draft deleted",
            vec![
                s(F, Act::Draft(yes_no.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Delete, Ok(()), Gone),
                s(F, Act::Delete, not_found, Gone),
                s(F, Act::Edit(three.clone()), not_found, Gone),
                s(F, Act::Open, not_found, Gone),
                s(F, Act::Close, not_found, Gone),
                s(F, Act::Reveal, not_found, Gone),
                s(F, Act::Publish, not_found, Gone),
                s(Citizen(0), Act::Vote(Ballot::Single(0)), not_found, Gone),
            ],
        ),
        (
            "a poll that does not exist",
            vec![
                s(F, Act::Draft(yes_no.clone()), Ok(()), Is(Draft, false)),
                s(F, Act::Open, Ok(()), Is(Open, false)),
                s(
                    Citizen(0),
                    unknown(Act::Vote(Ballot::Single(0))),
                    not_found,
                    Is(Open, false),
                ),
                s(
                    F,
                    unknown(Act::Edit(three.clone())),
                    not_found,
                    Is(Open, false),
                ),
                s(F, unknown(Act::Delete), not_found, Is(Open, false)),
                s(F, unknown(Act::Open), not_found, Is(Open, false)),
                s(F, unknown(Act::Close), not_found, Is(Open, false)),
                s(F, unknown(Act::Reveal), not_found, Is(Open, false)),
                s(F, unknown(Act::Publish), not_found, Is(Open, false)),
            ],
        ),
    ];
    for (name, steps) in scripts {
        play(name, steps);
    }
}

#[test]
fn poll_ids_are_not_reused() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let first = sim.draft_poll(&f, spec(PollKind::Position, |_| {}));
    sim.ok(
        &f,
        Command::DeletePoll {
            poll: first.clone(),
        },
    );
    let second = sim.draft_poll(&f, spec(PollKind::Position, |_| {}));
    let third = sim.draft_poll(&f, spec(PollKind::Position, |_| {}));
    let all: BTreeSet<&String> = [&first, &second, &third].into_iter().collect();
    assert_eq!(all.len(), 3, "{first}, {second}, {third}");
    assert_eq!(sim.state.polls.len(), 2);
}

/// Publishing carries the tally fixed at the close, whatever happens to the poll after it.
#[test]
fn published_results_are_the_closing_tally() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let poll = sim.open_poll(&f, spec(single(&["A", "B"]), |_| {}));
    sim.ok(ids.citizen(0), vote(&poll, Ballot::Single(1)));
    let closed = sim.ok(&f, close(&poll));
    let [Event::PollClosed { tally, .. }] = &closed[..] else {
        panic!("{closed:?}")
    };
    let published = sim.ok(&f, Command::PublishResults { poll: poll.clone() });
    assert_eq!(
        published,
        vec![Event::PollPublished {
            poll: poll.clone(),
            tally: tally.clone(),
        }]
    );
    assert_eq!(&sim.poll(&poll).tally(), tally);
}

/// A secret poll whose ballot box did not match its marks when taken up (the actor sets
/// `tampered`, none of its ballots counted): while open it takes no vote, cannot be closed or
/// revealed, and its timer neither fires nor is waited for; once closed, its logged result
/// stands and may be published.
#[test]
fn a_tampered_secret_poll_is_stalled_while_open() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let secret = |s: &mut PollSpec| {
        s.secret = true;
        s.duration_ms = Some(60_000);
    };
    sim.at(0);
    let stalled = sim.open_poll(&f, spec(single(&["A", "B"]), secret));
    let other = sim.open_poll(&f, spec(single(&["A", "B"]), secret));
    for poll in [&stalled, &other] {
        sim.ok(ids.citizen(0), vote(poll, Ballot::Single(1)));
    }
    let closed = sim.ok(&f, close(&other));
    let tampered = polls::Tampered {
        ballots: 2,
        voters: 1,
    };
    for poll in [&stalled, &other] {
        let p = sim.state.polls.get_mut(poll).expect("the poll");
        p.secret.clear();
        p.tampered = Some(tampered);
    }
    assert_eq!(
        sim.by(ids.citizen(1), vote(&stalled, Ballot::Single(0))),
        Err(Code::Tampered)
    );
    assert_eq!(sim.by(&f, close(&stalled)), Err(Code::Tampered));
    assert_eq!(
        sim.by(
            &f,
            Command::RevealResults {
                poll: stalled.clone()
            }
        ),
        Err(Code::Tampered)
    );
    assert_eq!(sim.state.next_deadline(), None, "no deadline to wait for");
    sim.at(61_000);
    assert_eq!(
        sim.tick(),
        vec![],
        "its timer does not close it on a false count"
    );
    assert_eq!(sim.poll(&stalled).status, PollStatus::Open);
    let [Event::PollClosed { tally, .. }] = &closed[..] else {
        panic!("{closed:?}")
    };
    let published = sim.ok(
        &f,
        Command::PublishResults {
            poll: other.clone(),
        },
    );
    assert_eq!(
        published,
        vec![Event::PollPublished {
            poll: other.clone(),
            tally: tally.clone(),
        }],
        "a closed poll keeps its logged result"
    );
}

// ---------------------------------------------------------------------------------------
// Timers.

#[test]
fn a_poll_with_a_duration_closes_on_the_tick_at_its_end() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let c = ids.citizen(0).to_string();
    sim.at(0);
    let poll = sim.draft_poll(
        &f,
        spec(single(&["A", "B"]), |s| s.duration_ms = Some(60_000)),
    );
    assert_eq!(sim.state.next_deadline(), None, "a draft has no deadline");
    sim.at(1_000);
    let opened = sim.ok(&f, Command::OpenPoll { poll: poll.clone() });
    let [Event::PollOpened { ends_at, .. }] = &opened[..] else {
        panic!("{opened:?}")
    };
    assert_eq!(*ends_at, Some(t(61_000)), "ends_at counts from the opening");
    assert_eq!(sim.poll(&poll).ends_at, Some(t(61_000)));
    assert_eq!(sim.state.next_deadline(), Some(t(61_000)));
    sim.at(30_000);
    sim.ok(&c, vote(&poll, Ballot::Single(1)));
    assert_eq!(sim.tick(), vec![], "nothing due at +30 s");
    sim.at(60_999);
    sim.ok(ids.citizen(1), vote(&poll, Ballot::Single(0)));
    assert_eq!(sim.tick(), vec![], "nothing due 1 ms before the end");
    assert_eq!(sim.poll(&poll).status, PollStatus::Open);
    assert_eq!(sim.state.next_deadline(), Some(t(61_000)));
    sim.at(61_000);
    let tally = sim.poll(&poll).tally();
    assert_eq!(tally.counts, vec![1, 1]);
    // Three citizens and the facilitator online: the close logs the 16 citizens who could
    // vote, 3 of them online.
    sim.present = [
        ids.citizen(0),
        ids.citizen(5),
        ids.citizen(9),
        ids.facilitator(),
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(
        sim.tick(),
        vec![Event::PollClosed {
            poll: poll.clone(),
            reason: CloseReason::Timer,
            tally: tally.clone(),
            turnout: Some(polls::Turnout {
                eligible: 16,
                eligible_present: 3,
            }),
        }],
        "the tick at ends_at closes it"
    );
    sim.present.clear();
    assert_eq!(
        sim.poll(&poll).closed_turnout,
        Some(polls::Turnout {
            eligible: 16,
            eligible_present: 3,
        }),
        "the turnout stays as it was at the close"
    );
    assert_eq!(sim.poll(&poll).status, PollStatus::Closed);
    assert_eq!(sim.poll(&poll).tally(), tally);
    assert_eq!(sim.state.next_deadline(), None);
    sim.at(61_001);
    assert_eq!(sim.tick(), vec![], "a timer fires once");
    assert_eq!(
        sim.by(&c, vote(&poll, Ballot::Single(0))),
        Err(Code::Conflict)
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn poll_deadlines() {
    struct Case {
        name: &'static str,
        /// Polls drafted at T0, by duration; `open` says whether each is opened at T0.
        polls: Vec<(Option<u64>, bool)>,
        /// Closed by a facilitator at +1 s, by index.
        closed: Vec<usize>,
        /// `next_deadline()` afterwards, from T0.
        deadline: Option<Millis>,
        /// A tick at this offset closes these polls (by index), with reason Timer.
        tick_at: Millis,
        closes: Vec<usize>,
    }
    let cases = vec![
        Case {
            name: "an open poll without a duration",
            polls: vec![(None, true)],
            closed: vec![],
            deadline: None,
            tick_at: MAX_DURATION_MS,
            closes: vec![],
        },
        Case {
            name: "a draft with a duration",
            polls: vec![(Some(60_000), false)],
            closed: vec![],
            deadline: None,
            tick_at: 60_000,
            closes: vec![],
        },
        Case {
            name: "two polls: the earlier end first",
            polls: vec![(Some(90_000), true), (Some(60_000), true)],
            closed: vec![],
            deadline: Some(60_000),
            tick_at: 60_000,
            closes: vec![1],
        },
        Case {
            name: "a late tick closes both",
            polls: vec![(Some(90_000), true), (Some(60_000), true)],
            closed: vec![],
            deadline: Some(60_000),
            tick_at: 120_000,
            closes: vec![0, 1],
        },
        Case {
            name: "closed by hand before its end",
            polls: vec![(Some(60_000), true)],
            closed: vec![0],
            deadline: None,
            tick_at: 60_000,
            closes: vec![],
        },
    ];
    for case in cases {
        let (mut sim, ids) = ready();
        let f = ids.facilitator().to_string();
        sim.at(0);
        let polls: Vec<String> = case
            .polls
            .iter()
            .map(|(duration, open)| {
                let s = spec(PollKind::Position, |s| s.duration_ms = *duration);
                if *open {
                    sim.open_poll(&f, s)
                } else {
                    sim.draft_poll(&f, s)
                }
            })
            .collect();
        sim.at(1_000);
        for i in &case.closed {
            sim.ok(&f, close(&polls[*i]));
        }
        assert_eq!(
            sim.state.next_deadline(),
            case.deadline.map(t),
            "{}: next deadline",
            case.name
        );
        sim.at(case.tick_at);
        let closed: Vec<String> = sim
            .tick()
            .into_iter()
            .map(|e| match e {
                Event::PollClosed {
                    poll,
                    reason: CloseReason::Timer,
                    ..
                } => poll,
                other => panic!("{}: {other:?}", case.name),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let want: Vec<String> = case
            .closes
            .iter()
            .map(|i| polls[*i].clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(closed, want, "{}: closed by the tick", case.name);
    }
}

/// The deadline is part of the poll: once `ends_at` has passed, the ballot box is closed
/// whether or not the server's timer has fired yet (the live actor's select is biased to
/// its inbox, so a burst of last-second votes delays the tick).
#[test]
fn a_vote_after_the_end_is_refused_even_before_the_tick() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    sim.at(0);
    let poll = sim.open_poll(
        &f,
        spec(single(&["A", "B"]), |s| s.duration_ms = Some(60_000)),
    );
    sim.ok(ids.citizen(0), vote(&poll, Ballot::Single(0)));
    for (offset, who) in [(60_000, 1), (60_500, 2)] {
        sim.at(offset);
        assert_eq!(
            sim.by(ids.citizen(who), vote(&poll, Ballot::Single(1))),
            Err(Code::Conflict),
            "a vote at +{offset} ms, the poll ending at +60000 ms"
        );
    }
    let closed = sim.tick();
    let [Event::PollClosed { tally, .. }] = &closed[..] else {
        panic!("{closed:?}")
    };
    assert_eq!(
        tally.counts,
        vec![1, 0],
        "only the ballot cast before the end"
    );
}

// ---------------------------------------------------------------------------------------
// Who may vote.

#[test]
fn eligibility() {
    #[derive(Clone, Copy, Debug)]
    enum Voter {
        /// In the plenary.
        Citizen,
        /// Moved to the first breakout room.
        CitizenInA,
        /// Moved to the second breakout room.
        CitizenInB,
        /// Visiting the first breakout room.
        Facilitator,
        Rapporteur,
        Expert,
        /// Visiting the first breakout room.
        Guarantor,
    }
    #[derive(Clone, Copy)]
    enum Room {
        Everywhere,
        A,
        Plenary,
    }
    struct Case {
        name: &'static str,
        voters: Vec<Role>,
        room: Room,
        voter: Voter,
        expect: Result<(), Code>,
    }
    use Role::{Citizen, Expert, Facilitator, Rapporteur};
    let all = || vec![Citizen, Facilitator, Rapporteur, Expert];
    let case = |name, voters, room, voter, expect| Case {
        name,
        voters,
        room,
        voter,
        expect,
    };
    let forbidden = Err(Code::Forbidden);
    let cases = vec![
        case(
            "citizens' poll, a guarantor",
            vec![Citizen],
            Room::Everywhere,
            Voter::Guarantor,
            forbidden,
        ),
        case(
            "everyone's poll, a guarantor",
            all(),
            Room::Everywhere,
            Voter::Guarantor,
            forbidden,
        ),
        case(
            "citizens' poll, a citizen",
            vec![Citizen],
            Room::Everywhere,
            Voter::Citizen,
            Ok(()),
        ),
        case(
            "citizens' poll, a citizen in a breakout room",
            vec![Citizen],
            Room::Everywhere,
            Voter::CitizenInB,
            Ok(()),
        ),
        case(
            "citizens' poll, a rapporteur",
            vec![Citizen],
            Room::Everywhere,
            Voter::Rapporteur,
            forbidden,
        ),
        case(
            "citizens' poll, an expert",
            vec![Citizen],
            Room::Everywhere,
            Voter::Expert,
            forbidden,
        ),
        case(
            "citizens' poll, a facilitator",
            vec![Citizen],
            Room::Everywhere,
            Voter::Facilitator,
            forbidden,
        ),
        case(
            "rapporteurs' poll, a citizen",
            vec![Rapporteur],
            Room::Everywhere,
            Voter::Citizen,
            forbidden,
        ),
        case(
            "rapporteurs' poll, a rapporteur",
            vec![Rapporteur],
            Room::Everywhere,
            Voter::Rapporteur,
            Ok(()),
        ),
        case(
            "everyone's poll, an expert",
            all(),
            Room::Everywhere,
            Voter::Expert,
            Ok(()),
        ),
        case(
            "everyone's poll, a facilitator",
            all(),
            Room::Everywhere,
            Voter::Facilitator,
            Ok(()),
        ),
        case(
            "room A's poll, a citizen in A",
            vec![Citizen],
            Room::A,
            Voter::CitizenInA,
            Ok(()),
        ),
        case(
            "room A's poll, a citizen in the plenary",
            vec![Citizen],
            Room::A,
            Voter::Citizen,
            forbidden,
        ),
        case(
            "room A's poll, a citizen in B",
            vec![Citizen],
            Room::A,
            Voter::CitizenInB,
            forbidden,
        ),
        case(
            "room A's poll, a facilitator visiting A",
            all(),
            Room::A,
            Voter::Facilitator,
            Ok(()),
        ),
        case(
            "room A's poll, a rapporteur in the plenary",
            all(),
            Room::A,
            Voter::Rapporteur,
            forbidden,
        ),
        case(
            "room A's poll, a guarantor visiting A",
            all(),
            Room::A,
            Voter::Guarantor,
            forbidden,
        ),
        case(
            "the plenary's poll, a citizen there",
            vec![Citizen],
            Room::Plenary,
            Voter::Citizen,
            Ok(()),
        ),
        case(
            "the plenary's poll, a citizen in A",
            vec![Citizen],
            Room::Plenary,
            Voter::CitizenInA,
            forbidden,
        ),
    ];
    let (mut staged, ids) = ready();
    let f = ids.facilitator().to_string();
    staged.ok(
        &f,
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    let rooms = staged.breakout_rooms();
    for (who, room) in [(ids.citizen(1), &rooms[0]), (ids.citizen(2), &rooms[1])] {
        staged.ok(
            &f,
            Command::MoveParticipant {
                participant: who.into(),
                room: room.clone(),
            },
        );
    }
    staged.ok(
        &f,
        Command::Visit {
            room: rooms[0].clone(),
        },
    );
    staged.ok(
        ids.guarantor(),
        Command::Visit {
            room: rooms[0].clone(),
        },
    );
    for case in cases {
        let mut sim = staged.clone();
        let room = match case.room {
            Room::Everywhere => None,
            Room::A => Some(rooms[0].clone()),
            Room::Plenary => Some(PLENARY.to_string()),
        };
        let poll = sim.open_poll(
            &f,
            spec(PollKind::Position, |s| {
                s.voters = case.voters.clone();
                s.room = room;
            }),
        );
        let who = match case.voter {
            Voter::Citizen => ids.citizen(0),
            Voter::CitizenInA => ids.citizen(1),
            Voter::CitizenInB => ids.citizen(2),
            Voter::Facilitator => ids.facilitator(),
            Voter::Rapporteur => &ids.rapporteurs[0],
            Voter::Expert => &ids.experts[0],
            Voter::Guarantor => ids.guarantor(),
        };
        let before = sim.state.clone();
        let got = sim
            .by(who, vote(&poll, Ballot::Position(Stance::For)))
            .map(|_| ());
        assert_eq!(got, case.expect, "{} ({:?})", case.name, case.voter);
        if got.is_err() {
            assert_eq!(
                sim.state, before,
                "{}: a refusal changes nothing",
                case.name
            );
        } else {
            assert!(sim.poll(&poll).has_voted(who), "{}", case.name);
        }
    }
}

#[test]
fn a_room_poll_needs_its_room() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let nowhere = spec(PollKind::Position, |s| s.room = Some("nowhere".into()));
    assert_eq!(
        sim.by(
            &f,
            Command::DraftPoll {
                spec: nowhere.clone()
            }
        ),
        Err(Code::NotFound),
        "drafted for a room that does not exist"
    );
    sim.ok(
        &f,
        Command::CreateRooms {
            count: Some(1),
            names: vec![],
        },
    );
    let room = sim.breakout_rooms()[0].clone();
    let poll = sim.draft_poll(
        &f,
        spec(PollKind::Position, |s| s.room = Some(room.clone())),
    );
    assert_eq!(
        sim.by(
            &f,
            Command::EditPoll {
                poll: poll.clone(),
                spec: nowhere,
            }
        ),
        Err(Code::NotFound),
        "edited for a room that does not exist"
    );
    sim.ok(&f, Command::ClearRooms);
    let before = sim.state.clone();
    assert_eq!(
        sim.by(&f, Command::OpenPoll { poll: poll.clone() }),
        Err(Code::NotFound),
        "opened after its room was cleared"
    );
    assert_eq!(sim.state, before);
    assert_eq!(sim.poll(&poll).status, PollStatus::Draft);
}

// ---------------------------------------------------------------------------------------
// Named and secret ballots.

#[test]
fn a_named_ballot_changes_until_the_close() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let (a, b) = (ids.citizen(0).to_string(), ids.citizen(1).to_string());
    let poll = sim.open_poll(&f, spec(single(&["A", "B", "C"]), |_| {}));
    // (voter, ballot, the tally's counts and ballots afterwards)
    let script = [
        (&a, 0, vec![1, 0, 0], 1),
        (&a, 1, vec![0, 1, 0], 1),
        (&b, 0, vec![1, 1, 0], 2),
        (&a, 2, vec![1, 0, 1], 2),
        (&a, 2, vec![1, 0, 1], 2),
    ];
    for (who, choice, counts, ballots) in script {
        let events = sim.ok(who, vote(&poll, Ballot::Single(choice)));
        assert_eq!(
            events,
            vec![Event::BallotCast {
                poll: poll.clone(),
                ballot: Ballot::Single(choice),
            }]
        );
        let tally = sim.poll(&poll).tally();
        assert_eq!(tally.counts, counts, "after {who} chose {choice}");
        assert_eq!(tally.ballots, ballots, "one ballot per voter");
    }
    assert_eq!(sim.poll(&poll).named.get(&a), Some(&Ballot::Single(2)));
    assert_eq!(sim.poll(&poll).tally().ballots, 2);
    // The voter is the record's actor.
    let by_a = sim
        .log
        .iter()
        .filter(|r| matches!(r.event, Event::BallotCast { .. }))
        .filter(|r| r.actor == Actor::Participant(a.clone()))
        .count();
    assert_eq!(by_a, 4);
    let closed = sim.ok(&f, close(&poll));
    let [Event::PollClosed { tally, .. }] = &closed[..] else {
        panic!("{closed:?}")
    };
    assert_eq!(tally.counts, vec![1, 0, 1]);
    assert_eq!(
        sim.by(&a, vote(&poll, Ballot::Single(0))),
        Err(Code::Conflict)
    );
    assert_eq!(&sim.poll(&poll).tally(), tally);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_secret_ballot_is_final_and_unlinked() {
    let (mut sim, ids) = ready();
    let f = ids.facilitator().to_string();
    let (a, b) = (ids.citizen(0).to_string(), ids.citizen(1).to_string());
    let poll = sim.open_poll(
        &f,
        spec(single(&["A", "B", "C"]), |s| {
            s.secret = true;
            s.live_results = true;
        }),
    );
    let events = sim.ok(&a, vote(&poll, Ballot::Single(1)));
    // Both patterns name every field: the first has no ballot, the second no voter.
    let [Event::VoterMarked { poll: marked }, Event::SecretBallotCast {
        poll: boxed,
        ballot,
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!((marked, boxed, ballot), (&poll, &poll, &Ballot::Single(1)));

    // A second ballot, valid or not, changes nothing.
    let before = sim.state.clone();
    assert_eq!(
        sim.by(&a, vote(&poll, Ballot::Single(0))),
        Err(Code::Conflict)
    );
    assert_eq!(
        sim.by(&a, vote(&poll, Ballot::Single(1))),
        Err(Code::Conflict)
    );
    assert!(sim.by(&a, vote(&poll, Ballot::Single(9))).is_err());
    assert_eq!(sim.state, before);
    assert_eq!(
        sim.poll(&poll).tally().counts,
        vec![0, 1, 0],
        "the first ballot stays"
    );

    sim.ok(&b, vote(&poll, Ballot::Single(2)));
    let p = sim.poll(&poll);
    assert!(p.named.is_empty(), "no ballot is kept by voter");
    assert_eq!(*p.voted, BTreeSet::from([a.clone(), b.clone()]));
    assert_eq!(p.tally().counts, vec![0, 1, 1]);
    assert_eq!(p.tally().ballots, 2);

    // The log proper: who voted, not what. The ballots live only in the box.
    let log = log_proper(&sim.log);
    assert!(
        log.iter().all(|r| !matches!(
            r.event,
            Event::SecretBallotCast { .. } | Event::BallotCast { .. }
        )),
        "no ballot in the log"
    );
    let marks: Vec<&Record> = log
        .iter()
        .filter(|r| matches!(r.event, Event::VoterMarked { .. }))
        .collect();
    assert_eq!(marks.len(), 2);
    let folded = Convention::from_log(&log);
    let q = &folded.polls[&poll];
    assert_eq!(
        *q.voted,
        BTreeSet::from([a.clone(), b.clone()]),
        "who voted"
    );
    assert!(q.secret.is_empty(), "the log holds no ballot");
    assert!(q.named.is_empty());
    assert_eq!(q.tally().ballots, 0);
    assert_eq!(folded.seq, sim.state.seq, "the ballots moved no seq");
    // With the box, the fold is the live state.
    assert_eq!(sim.replayed(), sim.state);

    // Closing fixes the box's tally into the log.
    let closed = sim.ok(&f, close(&poll));
    let [Event::PollClosed { tally, .. }] = &closed[..] else {
        panic!("{closed:?}")
    };
    assert_eq!(tally.counts, vec![0, 1, 1]);
    let folded = Convention::from_log(&log_proper(&sim.log));
    assert_eq!(
        &folded.polls[&poll].tally(),
        tally,
        "the log alone gives the result"
    );
}

/// The ballot box keeps no order of casting, or the i-th ballot in it would be the i-th
/// `VoterMarked` of the log: the same ballots cast in any order give the same box.
#[test]
fn the_ballot_box_keeps_no_order() {
    let cast = |order: &[(usize, u32)]| {
        let (mut sim, ids) = ready();
        let f = ids.facilitator().to_string();
        let poll = sim.open_poll(&f, spec(single(&["A", "B", "C"]), |s| s.secret = true));
        for (who, choice) in order {
            sim.ok(ids.citizen(*who), vote(&poll, Ballot::Single(*choice)));
        }
        sim.poll(&poll).clone()
    };
    // The same voters, the same ballots, cast in two orders.
    let one = cast(&[(0, 2), (1, 0), (2, 1)]);
    let other = cast(&[(2, 1), (0, 2), (1, 0)]);
    assert_eq!(one.tally(), other.tally());
    assert_eq!(
        one.secret, other.secret,
        "the box tells the order of casting"
    );
}

#[test]
fn the_tally_is_fixed_at_the_close() {
    for secret in [false, true] {
        let label = named_or_secret(secret);
        let (mut sim, ids) = ready();
        let f = ids.facilitator().to_string();
        let poll = sim.open_poll(
            &f,
            spec(scale(1, 3, "", ""), |s| {
                s.secret = secret;
                s.duration_ms = Some(60_000);
            }),
        );
        for (i, v) in [1, 3, 3].into_iter().enumerate() {
            sim.ok(ids.citizen(i), vote(&poll, Ballot::Scale(v)));
        }
        let live = sim.poll(&poll).tally();
        let closed_turnout = Some(polls::turnout(&sim.state, sim.poll(&poll), &sim.present));
        let closed = sim.ok(&f, close(&poll));
        let want = Tally {
            ballots: 3,
            counts: vec![1, 0, 2],
            borda: vec![],
            rounds: vec![],
            winner: None,
            texts: vec![],
        };
        assert_eq!(live, want, "{label}");
        assert_eq!(
            closed,
            vec![Event::PollClosed {
                poll: poll.clone(),
                reason: CloseReason::Facilitator,
                tally: want.clone(),
                turnout: closed_turnout,
            }],
            "{label}"
        );
        assert_eq!(sim.poll(&poll).final_tally, Some(want.clone()), "{label}");
        // Refused ballots, a tick at the old end: the tally stays.
        assert_eq!(
            sim.by(ids.citizen(5), vote(&poll, Ballot::Scale(2))),
            Err(Code::Conflict),
            "{label}"
        );
        sim.at(120_000);
        assert_eq!(sim.tick(), vec![], "{label}: no second close");
        // Even a stray ballot in a log (which decide never writes) does not change it.
        let stray = Record {
            seq: sim.state.seq + 1,
            at: sim.now,
            actor: Actor::Participant(ids.citizen(6).to_string()),
            event: if secret {
                Event::SecretBallotCast {
                    poll: poll.clone(),
                    ballot: Ballot::Scale(2),
                }
            } else {
                Event::BallotCast {
                    poll: poll.clone(),
                    ballot: Ballot::Scale(2),
                }
            },
            request: None,
        };
        sim.state.apply(&stray);
        assert_eq!(
            sim.poll(&poll).tally(),
            want,
            "{label}: after a stray ballot"
        );
        sim.ok(&f, Command::PublishResults { poll: poll.clone() });
        assert_eq!(sim.poll(&poll).tally(), want, "{label}: published");
    }
}
