//! Hearings with questions from the floor, in the domain: creating, opening and closing;
//! asking, supporting and withdrawing; moderating (approve, merge, hide, answering,
//! answered); the order by support; and every refusal, each leaving the state untouched.

mod common;

use common::*;
use convene::domain::hearings::{HearingStatus, MAX_HIDE_REASON_CHARS};
use convene::domain::questions::{Status, MAX_QUESTIONS_PER_PERSON, MAX_QUESTION_CHARS};
use convene::domain::{Code, Command, Convention, Event, PLENARY};

/// A convention with 2 facilitators, a guarantor, a rapporteur, 2 experts, 6 citizens; one
/// breakout room `r1`.
fn setup() -> (Sim, Ids) {
    let (mut sim, ids) = convention(Roster {
        facilitators: 2,
        guarantors: 1,
        rapporteurs: 1,
        experts: 2,
        citizens: 6,
        communes: 2,
    });
    sim.ok(
        ids.facilitator(),
        Command::CreateRooms {
            count: Some(1),
            names: vec![],
        },
    );
    (sim, ids)
}

fn create(sim: &mut Sim, fac: &str, speaker: &str, room: &str, moderated: bool) -> String {
    let events = sim.ok(
        fac,
        Command::CreateHearing {
            title: "Audition : les mobilités de nuit".into(),
            speaker: speaker.into(),
            room: room.into(),
            anonymous: false,
            moderated,
        },
    );
    match &events[..] {
        [Event::HearingCreated { hearing, .. }] => hearing.clone(),
        other => panic!("create_hearing gave {other:?}"),
    }
}

fn ask(sim: &mut Sim, who: &str, hearing: &str, text: &str) -> u64 {
    sim.ok(
        who,
        Command::AskHearingQuestion {
            hearing: hearing.into(),
            text: text.into(),
        },
    );
    sim.state.seq
}

fn support(hearing: &str, question: u64) -> Command {
    Command::SupportQuestion {
        hearing: hearing.into(),
        question,
    }
}

/// The ids the room sees, in order.
fn ranked(sim: &Sim, hearing: &str) -> Vec<u64> {
    sim.state.hearings[hearing]
        .questions
        .ranked()
        .iter()
        .map(|q| q.id)
        .collect()
}

/// A refused command leaves the state as it was, and gives this code.
fn refused(sim: &mut Sim, who: &str, command: Command, code: Code) {
    let before: Convention = sim.state.clone();
    let shown = format!("{command:?}");
    assert_eq!(sim.by(who, command), Err(code), "{who}: {shown}");
    assert_eq!(sim.state, before, "{shown} changed the state");
}

#[test]
fn a_hearing_is_created_opened_and_closed_and_one_is_open_per_room() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h1 = create(&mut sim, &fac, &ids.experts[0], PLENARY, false);
    let h2 = create(&mut sim, &fac, &ids.experts[1], PLENARY, false);
    let h3 = create(&mut sim, &fac, &ids.experts[1], "r1", false);
    assert_eq!((h1.as_str(), h2.as_str(), h3.as_str()), ("h1", "h2", "h3"));
    assert_eq!(sim.state.hearings[&h1].status, HearingStatus::Planned);
    sim.ok(
        &fac,
        Command::OpenHearing {
            hearing: h1.clone(),
        },
    );
    // One open per room: h2 waits; h3, in another room, opens.
    refused(
        &mut sim,
        &fac,
        Command::OpenHearing {
            hearing: h2.clone(),
        },
        Code::Conflict,
    );
    sim.ok(
        &fac,
        Command::OpenHearing {
            hearing: h3.clone(),
        },
    );
    refused(
        &mut sim,
        &fac,
        Command::OpenHearing {
            hearing: h1.clone(),
        },
        Code::Conflict,
    );
    sim.ok(
        &fac,
        Command::CloseHearing {
            hearing: h1.clone(),
        },
    );
    sim.ok(
        &fac,
        Command::OpenHearing {
            hearing: h2.clone(),
        },
    );
    assert_eq!(sim.state.hearings[&h1].status, HearingStatus::Closed);
    // A closed hearing does not reopen, and takes no more questions or moderation.
    refused(
        &mut sim,
        &fac,
        Command::OpenHearing {
            hearing: h1.clone(),
        },
        Code::Conflict,
    );
    refused(
        &mut sim,
        &fac,
        Command::CloseHearing {
            hearing: h1.clone(),
        },
        Code::Conflict,
    );
    let citizen = ids.citizen(0).to_string();
    refused(
        &mut sim,
        &citizen,
        Command::AskHearingQuestion {
            hearing: h1.clone(),
            text: "Encore une ?".into(),
        },
        Code::Conflict,
    );
    // Rooms with an open hearing are not cleared away under it.
    refused(&mut sim, &fac, Command::ClearRooms, Code::Conflict);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn bad_hearings_are_refused() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let create = |speaker: &str, room: &str, title: &str| Command::CreateHearing {
        title: title.into(),
        speaker: speaker.into(),
        room: room.into(),
        anonymous: true,
        moderated: false,
    };
    let cases: Vec<(&str, Command, Code)> = vec![
        // A speaker who is not an expert (a guest is added by an organizer as an expert).
        (
            &fac,
            create(ids.citizen(0), PLENARY, "Audition"),
            Code::Invalid,
        ),
        (&fac, create("nobody", PLENARY, "Audition"), Code::NotFound),
        (
            &fac,
            create(&ids.experts[0], "r99", "Audition"),
            Code::NotFound,
        ),
        (&fac, create(&ids.experts[0], PLENARY, "  "), Code::Invalid),
        (
            &fac,
            create(&ids.experts[0], PLENARY, &"t".repeat(1200)),
            Code::Invalid,
        ),
        // Only facilitators plan hearings; a guarantor never acts.
        (
            ids.citizen(0),
            create(&ids.experts[0], PLENARY, "A"),
            Code::Forbidden,
        ),
        (
            ids.guarantor(),
            create(&ids.experts[0], PLENARY, "A"),
            Code::Forbidden,
        ),
        (
            &ids.experts[0],
            create(&ids.experts[0], PLENARY, "A"),
            Code::Forbidden,
        ),
        (
            &fac,
            Command::OpenHearing {
                hearing: "h9".into(),
            },
            Code::NotFound,
        ),
    ];
    for (who, command, code) in cases {
        refused(&mut sim, who, command, code);
    }
}

#[test]
fn questions_are_ordered_by_support_then_age_and_supports_count_once() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h = create(&mut sim, &fac, &ids.experts[0], PLENARY, false);
    sim.ok(&fac, Command::OpenHearing { hearing: h.clone() });
    let c: Vec<String> = ids.citizens.clone();
    let q1 = ask(&mut sim, &c[0], &h, "Combien coûte un bus de nuit ?");
    let q2 = ask(&mut sim, &c[1], &h, "Qui conduit les bus la nuit ?");
    let q3 = ask(&mut sim, &c[2], &h, "  Et la sécurité à bord ?  ");
    assert_eq!(
        sim.state.hearings[&h].questions.get(q3).unwrap().text,
        "Et la sécurité à bord ?"
    );
    // No support yet: oldest first.
    assert_eq!(ranked(&sim, &h), vec![q1, q2, q3]);
    sim.ok(&c[3], support(&h, q3));
    sim.ok(&c[4], support(&h, q3));
    sim.ok(&c[3], support(&h, q2));
    assert_eq!(ranked(&sim, &h), vec![q3, q2, q1]);
    // Twice, or one's own: refused.
    refused(&mut sim, &c[3], support(&h, q3), Code::Conflict);
    refused(&mut sim, &c[2], support(&h, q3), Code::Invalid);
    refused(&mut sim, &c[2], support(&h, 999), Code::NotFound);
    // Withdrawn: q2 and q3 tie at one; the older, q2, first.
    sim.ok(
        &c[4],
        Command::WithdrawSupport {
            hearing: h.clone(),
            question: q3,
        },
    );
    assert_eq!(ranked(&sim, &h), vec![q2, q3, q1]);
    refused(
        &mut sim,
        &c[4],
        Command::WithdrawSupport {
            hearing: h.clone(),
            question: q3,
        },
        Code::Conflict,
    );
    // Merge q2 into q3: q2's author and its supporter (c3, who supports q3 too) count once.
    sim.ok(
        &fac,
        Command::MergeQuestion {
            hearing: h.clone(),
            question: q2,
            into: q3,
        },
    );
    let qs = &sim.state.hearings[&h].questions;
    assert_eq!(qs.get(q2).unwrap().status, Status::Merged { into: q3 });
    assert_eq!(
        qs.get(q3)
            .unwrap()
            .supporters
            .iter()
            .cloned()
            .collect::<Vec<_>>(),
        {
            let mut v = vec![c[1].clone(), c[3].clone()];
            v.sort();
            v
        }
    );
    assert_eq!(ranked(&sim, &h), vec![q3, q1]);
    // Supporting a merged question, merging into itself or a merged one: refused.
    refused(&mut sim, &c[5], support(&h, q2), Code::Conflict);
    let merge = |question, into| Command::MergeQuestion {
        hearing: h.clone(),
        question,
        into,
    };
    refused(&mut sim, &fac, merge(q1, q1), Code::Invalid);
    refused(&mut sim, &fac, merge(q1, q2), Code::Conflict);
    refused(&mut sim, &fac, merge(q1, 999), Code::NotFound);
    // Hide q1 with a reason: gone for the room, no support.
    let hide = |question, reason: &str| Command::HideQuestion {
        hearing: h.clone(),
        question,
        reason: reason.into(),
    };
    refused(&mut sim, &fac, hide(q1, ""), Code::Invalid);
    refused(
        &mut sim,
        &fac,
        hide(q1, &"r".repeat(10 * MAX_HIDE_REASON_CHARS)),
        Code::Invalid,
    );
    sim.ok(&fac, hide(q1, "Hors sujet"));
    assert_eq!(ranked(&sim, &h), vec![q3]);
    refused(&mut sim, &c[5], support(&h, q1), Code::Conflict);
    refused(&mut sim, ids.citizen(1), hide(q3, "non"), Code::Forbidden);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn one_question_is_answered_at_a_time() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h = create(&mut sim, &fac, &ids.experts[0], PLENARY, false);
    sim.ok(&fac, Command::OpenHearing { hearing: h.clone() });
    let q1 = ask(&mut sim, ids.citizen(0), &h, "Première question ?");
    let q2 = ask(&mut sim, &ids.rapporteurs[0], &h, "Deuxième question ?");
    let q3 = ask(&mut sim, &fac, &h, "Troisième question ?");
    let answering = |question| Command::MarkAnswering {
        hearing: h.clone(),
        question,
    };
    let answered = |question| Command::MarkAnswered {
        hearing: h.clone(),
        question,
    };
    sim.ok(&fac, answering(q2));
    refused(&mut sim, &fac, answering(q1), Code::Conflict);
    refused(&mut sim, &fac, answering(q2), Code::Conflict);
    // The speaker does not moderate: facilitators do.
    refused(&mut sim, &ids.experts[0], answered(q2), Code::Forbidden);
    sim.ok(&fac, answered(q2));
    refused(&mut sim, &fac, answered(q2), Code::Conflict);
    sim.ok(&fac, answering(q1));
    // Closing the hearing ends the answer under way.
    sim.ok(&fac, Command::CloseHearing { hearing: h.clone() });
    let qs = &sim.state.hearings[&h].questions;
    assert_eq!(qs.get(q1).unwrap().status, Status::Answered);
    assert_eq!(qs.get(q3).unwrap().status, Status::Open);
    refused(&mut sim, &fac, answered(q3), Code::Conflict);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_moderated_hearing_shows_questions_once_approved() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h = create(&mut sim, &fac, &ids.experts[0], PLENARY, true);
    sim.ok(&fac, Command::OpenHearing { hearing: h.clone() });
    let q = ask(&mut sim, ids.citizen(0), &h, "Une question ?");
    assert_eq!(
        sim.state.hearings[&h].questions.get(q).unwrap().status,
        Status::Pending
    );
    assert!(ranked(&sim, &h).is_empty());
    // Nobody supports, and nobody answers, what the room has not seen.
    refused(&mut sim, ids.citizen(1), support(&h, q), Code::Conflict);
    refused(
        &mut sim,
        &fac,
        Command::MarkAnswering {
            hearing: h.clone(),
            question: q,
        },
        Code::Conflict,
    );
    let approve = Command::ApproveQuestion {
        hearing: h.clone(),
        question: q,
    };
    refused(&mut sim, ids.citizen(1), approve.clone(), Code::Forbidden);
    sim.ok(&fac, approve.clone());
    refused(&mut sim, &fac, approve, Code::Conflict);
    assert_eq!(ranked(&sim, &h), vec![q]);
    sim.ok(ids.citizen(1), support(&h, q));
    // A question the room sees is not merged into one it cannot see (yet); two pending ones
    // may be.
    let pending = ask(&mut sim, ids.citizen(2), &h, "Une question en attente ?");
    let merge = |question, into| Command::MergeQuestion {
        hearing: h.clone(),
        question,
        into,
    };
    refused(&mut sim, &fac, merge(q, pending), Code::Conflict);
    let other = ask(&mut sim, ids.citizen(3), &h, "La même en attente ?");
    sim.ok(&fac, merge(other, pending));
    sim.ok(&fac, merge(pending, q));
    // Control characters (but line breaks) are refused: six bytes each once encoded.
    refused(
        &mut sim,
        ids.citizen(4),
        Command::AskHearingQuestion {
            hearing: h.clone(),
            text: "Une\u{1}question".into(),
        },
        Code::Invalid,
    );
    ask(&mut sim, ids.citizen(4), &h, "Sur deux\nlignes ?");
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn who_may_ask_and_where_and_how_much() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h = create(&mut sim, &fac, &ids.experts[0], "r1", false);
    let asking = |text: &str| Command::AskHearingQuestion {
        hearing: h.clone(),
        text: text.into(),
    };
    let c0 = ids.citizen(0).to_string();
    // Not open yet.
    refused(&mut sim, &c0, asking("Trop tôt ?"), Code::Conflict);
    sim.ok(&fac, Command::OpenHearing { hearing: h.clone() });
    // Not in the room: refused; once there, accepted.
    refused(&mut sim, &c0, asking("D'ici ?"), Code::Conflict);
    for who in [&c0, &ids.experts[0], &ids.experts[1]] {
        sim.ok(
            &fac,
            Command::MoveParticipant {
                participant: who.to_string(),
                room: "r1".into(),
            },
        );
    }
    sim.ok(ids.guarantor(), Command::Visit { room: "r1".into() });
    // Guarantors observe (refused by role), experts are heard: neither asks.
    refused(
        &mut sim,
        ids.guarantor(),
        asking("Garant ?"),
        Code::Forbidden,
    );
    refused(
        &mut sim,
        &ids.experts[1],
        asking("Expert ?"),
        Code::Forbidden,
    );
    // Ten times the budget, empty, then exactly the budget.
    refused(
        &mut sim,
        &c0,
        asking(&"é".repeat(10 * MAX_QUESTION_CHARS)),
        Code::Invalid,
    );
    refused(&mut sim, &c0, asking(" \n "), Code::Invalid);
    let first = ask(&mut sim, &c0, &h, &"é".repeat(MAX_QUESTION_CHARS));
    // The per-person cap counts hidden questions too.
    sim.ok(
        &fac,
        Command::HideQuestion {
            hearing: h.clone(),
            question: first,
            reason: "Doublon".into(),
        },
    );
    for i in 1..MAX_QUESTIONS_PER_PERSON {
        ask(&mut sim, &c0, &h, &format!("Question {i} ?"));
    }
    refused(&mut sim, &c0, asking("Une de trop ?"), Code::Conflict);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn merging_across_hearings_is_refused() {
    let (mut sim, ids) = setup();
    let fac = ids.facilitator().to_string();
    let h1 = create(&mut sim, &fac, &ids.experts[0], PLENARY, false);
    let h2 = create(&mut sim, &fac, &ids.experts[1], "r1", false);
    sim.ok(
        &fac,
        Command::OpenHearing {
            hearing: h1.clone(),
        },
    );
    sim.ok(
        &fac,
        Command::OpenHearing {
            hearing: h2.clone(),
        },
    );
    let a = ask(&mut sim, ids.citizen(0), &h1, "Dans la plénière ?");
    sim.ok(
        &fac,
        Command::MoveParticipant {
            participant: ids.citizen(1).into(),
            room: "r1".into(),
        },
    );
    let b = ask(&mut sim, ids.citizen(1), &h2, "Dans la salle ?");
    refused(
        &mut sim,
        &fac,
        Command::MergeQuestion {
            hearing: h1.clone(),
            question: a,
            into: b,
        },
        Code::Invalid,
    );
    // A question of h1 named under h2: not found there.
    refused(&mut sim, ids.citizen(1), support(&h2, a), Code::NotFound);
}

#[test]
fn the_rotation_shares_the_question_budget() {
    let (mut sim, ids) = convention(Roster {
        facilitators: 1,
        experts: 1,
        citizens: 2,
        communes: 1,
        ..Roster::default()
    });
    let fac = ids.facilitator().to_string();
    sim.ok(
        &fac,
        Command::PlanRotation {
            experts: ids.experts.clone(),
            grouping: convene::domain::AssignMethod::Random,
            groups: None,
            group_count: Some(1),
            group_size: None,
            participants: Some(ids.citizens.clone()),
            only_present: false,
            round_ms: 600_000,
            transition_ms: 0,
            warning_ms: 60_000,
            rounds: None,
            break_room: false,
        },
    );
    sim.ok(&fac, Command::StartRotation);
    let c0 = ids.citizen(0).to_string();
    let asking = |text: String| Command::AskQuestion { text };
    refused(
        &mut sim,
        &c0,
        asking("x".repeat(10 * MAX_QUESTION_CHARS)),
        Code::Invalid,
    );
    for i in 0..MAX_QUESTIONS_PER_PERSON {
        sim.ok(&c0, asking(format!("Question {i} ?")));
    }
    refused(
        &mut sim,
        &c0,
        asking("Une de trop ?".into()),
        Code::Conflict,
    );
    let rot = sim.state.rotation.as_ref().unwrap();
    assert_eq!(rot.questions.len(), MAX_QUESTIONS_PER_PERSON);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_list_holds_a_bounded_amount_of_text_and_few_hearings_are_open_at_once() {
    use convene::domain::hearings::MAX_OPEN_HEARINGS;
    use convene::domain::questions::MAX_LIST_BYTES;
    let (mut sim, ids) = convention(Roster {
        facilitators: 1,
        experts: 1,
        citizens: 8,
        communes: 1,
        ..Roster::default()
    });
    let fac = ids.facilitator().to_string();
    sim.ok(
        &fac,
        Command::CreateRooms {
            count: Some(MAX_OPEN_HEARINGS as u32),
            names: vec![],
        },
    );
    let h = create(&mut sim, &fac, &ids.experts[0], PLENARY, false);
    sim.ok(&fac, Command::OpenHearing { hearing: h.clone() });
    // Full-length questions from everyone, until the list's text budget.
    let text = "q".repeat(MAX_QUESTION_CHARS);
    let fit = MAX_LIST_BYTES / MAX_QUESTION_CHARS;
    let mut asked = 0;
    'outer: for c in ids.citizens.clone() {
        for _ in 0..MAX_QUESTIONS_PER_PERSON {
            if asked == fit {
                break 'outer;
            }
            ask(&mut sim, &c, &h, &text);
            asked += 1;
        }
    }
    let last = ids.citizens.last().unwrap().clone();
    refused(
        &mut sim,
        &last,
        Command::AskHearingQuestion {
            hearing: h.clone(),
            text: text.clone(),
        },
        Code::Conflict,
    );
    // Hearings open at once: the plenary's and the rooms' up to the cap.
    let rooms = sim.breakout_rooms();
    for room in &rooms[..MAX_OPEN_HEARINGS - 1] {
        let other = create(&mut sim, &fac, &ids.experts[0], room, false);
        sim.ok(&fac, Command::OpenHearing { hearing: other });
    }
    let one_more = create(
        &mut sim,
        &fac,
        &ids.experts[0],
        &rooms[MAX_OPEN_HEARINGS - 1],
        false,
    );
    refused(
        &mut sim,
        &fac,
        Command::OpenHearing { hearing: one_more },
        Code::Conflict,
    );
}

/// A log written before questions were shared with hearings (the same `question_asked` and
/// `question_answered` JSON, but more than today's per-person budget, which did not exist)
/// replays whole: the log is the truth, budgets judge only new commands.
#[test]
fn an_old_rotation_log_with_questions_replays_into_the_shared_list() {
    let (mut sim, ids) = convention(Roster {
        facilitators: 1,
        experts: 1,
        citizens: 2,
        communes: 1,
        ..Roster::default()
    });
    let fac = ids.facilitator().to_string();
    sim.ok(
        &fac,
        Command::PlanRotation {
            experts: ids.experts.clone(),
            grouping: convene::domain::AssignMethod::Random,
            groups: None,
            group_count: Some(1),
            group_size: None,
            participants: Some(ids.citizens.clone()),
            only_present: false,
            round_ms: 600_000,
            transition_ms: 0,
            warning_ms: 60_000,
            rounds: None,
            break_room: false,
        },
    );
    sim.ok(&fac, Command::StartRotation);
    let room = sim.state.rotation.as_ref().unwrap().plan.rooms[0].clone();
    let c0 = ids.citizen(0);
    // The old server's records, as JSON lines of the log.
    let mut records: Vec<convene_protocol::Record> =
        sim.log.iter().map(convene::wire::record_out).collect();
    let first = sim.state.seq + 1;
    let old = MAX_QUESTIONS_PER_PERSON + 5;
    for i in 0..old {
        let json = format!(
            r#"{{"seq":{},"at":{},"by":{{"kind":"participant","id":"{c0}"}},"event":{{"type":"question_asked","room":"{room}","text":"Question {i} ?"}}}}"#,
            first + i as u64,
            T0 + i as u64
        );
        records.push(serde_json::from_str(&json).expect("an old record parses"));
    }
    let expert = &ids.experts[0];
    let json = format!(
        r#"{{"seq":{},"at":{T0},"by":{{"kind":"participant","id":"{expert}"}},"event":{{"type":"question_answered","question":{first},"text":"Oui."}}}}"#,
        first + old as u64
    );
    records.push(serde_json::from_str(&json).unwrap());
    let log: Vec<convene::domain::Record> =
        records.into_iter().map(convene::wire::record_in).collect();
    let state = Convention::from_log(&log);
    let rot = state.rotation.as_ref().unwrap();
    assert_eq!(rot.questions.len(), old, "every old question is kept");
    assert_eq!(rot.questions[0].answer.as_deref(), Some("Oui."));
    assert_eq!(rot.questions[0].status, Status::Answered);
    // The rotation's view keeps its documented shape and order (order of asking).
    let view = convene::wire::rotation_view(rot);
    assert_eq!(
        view.questions.iter().map(|q| q.id).collect::<Vec<_>>(),
        (first..first + old as u64).collect::<Vec<_>>()
    );
    // New questions meet today's budget; answers still come.
    sim.state = state;
    sim.log = log;
    refused(
        &mut sim,
        c0,
        Command::AskQuestion {
            text: "Encore ?".into(),
        },
        Code::Conflict,
    );
    sim.ok(
        expert,
        Command::AnswerQuestion {
            question: first + 1,
            text: "Non.".into(),
        },
    );
}
