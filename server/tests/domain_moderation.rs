//! Live moderation: hiding chat messages, reports, mutes with their timer, removal and
//! readmission, and every bad input refused whole (PROTOCOL.md §21).

mod common;

use common::{convention, pid, small, Roster, Sim, NOBODY};
use convene::domain::moderation::{
    MAX_MODERATION_REASON_CHARS, MAX_OPEN_REPORTS_PER_REPORTER, MAX_REPORT_REASON_CHARS,
};
use convene::domain::{AssignMethod, Code, Command, Event, FloorEndReason, PLENARY};

// In `small()`: p1, p2 facilitators, p3 guarantor, p4..p15 citizens, everyone in the plenary.

fn chat(sim: &mut Sim, who: &str, text: &str) -> u64 {
    sim.ok(
        who,
        Command::SendChat {
            room: None,
            text: text.into(),
        },
    );
    sim.state.seq
}

fn hide(message: u64, reason: &str) -> Command {
    Command::HideChat {
        message,
        reason: reason.into(),
    }
}

fn report(message: u64, reason: &str) -> Command {
    Command::ReportChat {
        message,
        reason: reason.into(),
    }
}

fn mute(who: &str, ms: u64) -> Command {
    Command::Mute {
        participant: who.into(),
        duration_ms: ms,
        reason: "Propos répétés hors sujet".into(),
    }
}

fn remove(who: &str) -> Command {
    Command::RemoveParticipant {
        participant: who.into(),
        reason: "Insultes".into(),
    }
}

/// Refused with `code`, and the state (and so the log) untouched.
fn refused(sim: &mut Sim, who: &str, command: Command, code: Code) {
    let before = sim.state.clone();
    let shown = format!("{command:?}");
    assert_eq!(sim.by(who, command), Err(code), "{who}: {shown}");
    assert_eq!(sim.state, before, "{shown}: a refusal changes nothing");
}

#[test]
fn a_hidden_message_is_marked_and_settles_its_reports() {
    let (mut sim, _) = small();
    let m = chat(&mut sim, pid(4), "Un message injurieux");
    let other = chat(&mut sim, pid(5), "Un autre message");
    sim.ok(pid(6), report(m, "Insulte"));
    sim.ok(pid(7), report(m, ""));
    sim.ok(pid(6), report(other, ""));
    assert_eq!(sim.state.reports.len(), 3);

    let events = sim.ok(pid(1), hide(m, "  Propos injurieux  "));
    assert_eq!(
        events,
        vec![Event::ChatHidden {
            room: PLENARY.into(),
            message: m,
            reason: "Propos injurieux".into(),
        }]
    );
    let (_, line) = sim.state.chat_line(m).expect("still kept");
    let hidden = line.hidden.as_ref().expect("marked hidden");
    assert_eq!(
        (hidden.by.as_str(), hidden.reason.as_str()),
        (pid(1), "Propos injurieux")
    );
    assert_eq!(line.text, "Un message injurieux", "staff still read it");
    // Its two reports are settled; the other message's stays open.
    let open: Vec<u64> = sim.state.reports.values().map(|r| r.message).collect();
    assert_eq!(open, vec![other]);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn hiding_refuses_bad_input_whole() {
    let (mut sim, _) = small();
    let m = chat(&mut sim, pid(4), "Bonjour");
    refused(&mut sim, pid(1), hide(m + 100, "Raison"), Code::NotFound);
    refused(&mut sim, pid(1), hide(m, "   "), Code::Invalid);
    let long = "é".repeat(MAX_MODERATION_REASON_CHARS + 1);
    refused(&mut sim, pid(1), hide(m, &long), Code::Invalid);
    // Ten times the budget: the same typed refusal.
    let huge = "x".repeat(10 * MAX_MODERATION_REASON_CHARS);
    refused(&mut sim, pid(1), hide(m, &huge), Code::Invalid);
    let exact = "é".repeat(MAX_MODERATION_REASON_CHARS);
    sim.ok(pid(1), hide(m, &exact));
    refused(&mut sim, pid(2), hide(m, "Encore"), Code::Conflict);
    // Staff are not moderated: a facilitator's message is not hidden (but may be reported).
    let staff = chat(&mut sim, pid(2), "Message de l'animation");
    refused(&mut sim, pid(1), hide(staff, "Raison"), Code::Forbidden);
    sim.ok(pid(4), report(staff, "Je conteste"));
    // Roles: a guarantor and a citizen never hide.
    let n = chat(&mut sim, pid(5), "Salut");
    refused(&mut sim, pid(3), hide(n, "Raison"), Code::Forbidden);
    refused(&mut sim, pid(4), hide(n, "Raison"), Code::Forbidden);
}

#[test]
fn a_hidden_message_is_shown_again_and_can_be_hidden_again() {
    let (mut sim, _) = small();
    let m = chat(&mut sim, pid(4), "Un message caché par erreur");
    sim.ok(pid(1), hide(m, "Clic malheureux"));
    let events = sim.ok(pid(2), Command::UnhideChat { message: m });
    assert_eq!(
        events,
        vec![Event::ChatUnhidden {
            room: PLENARY.into(),
            message: m,
        }]
    );
    let (_, line) = sim.state.chat_line(m).expect("still kept");
    assert_eq!(line.hidden, None);
    assert_eq!(line.text, "Un message caché par erreur");
    // Shown: it may be reported, and hidden again.
    sim.ok(pid(5), report(m, "Finalement injurieux"));
    sim.ok(pid(1), hide(m, "Propos injurieux"));
    assert!(sim.state.chat_line(m).expect("kept").1.hidden.is_some());
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn showing_again_refuses_bad_input_whole() {
    let (mut sim, _) = small();
    let m = chat(&mut sim, pid(4), "Bonjour");
    let unhide = |message| Command::UnhideChat { message };
    // Not hidden, not kept, far off.
    refused(&mut sim, pid(1), unhide(m), Code::Conflict);
    refused(&mut sim, pid(1), unhide(m + 100), Code::NotFound);
    refused(&mut sim, pid(1), unhide(u64::MAX), Code::NotFound);
    sim.ok(pid(1), hide(m, "Raison"));
    // Roles: a guarantor and a citizen never moderate.
    refused(&mut sim, pid(3), unhide(m), Code::Forbidden);
    refused(&mut sim, pid(4), unhide(m), Code::Forbidden);
    sim.ok(pid(1), unhide(m));
    refused(&mut sim, pid(2), unhide(m), Code::Conflict);
}

#[test]
fn reports_have_a_budget() {
    let (mut sim, _) = small();
    let m = chat(&mut sim, pid(4), "Bonjour");
    refused(&mut sim, pid(4), report(m, ""), Code::Invalid); // one's own message
    refused(&mut sim, pid(3), report(m, ""), Code::Forbidden); // guarantors never act
    refused(&mut sim, pid(5), report(m + 50, ""), Code::NotFound);
    let long = "x".repeat(10 * MAX_REPORT_REASON_CHARS);
    refused(&mut sim, pid(5), report(m, &long), Code::Invalid);
    sim.ok(pid(5), report(m, &"x".repeat(MAX_REPORT_REASON_CHARS)));
    refused(&mut sim, pid(5), report(m, "encore"), Code::Conflict); // one per message
                                                                    // A cap of open reports per reporter.
    for i in 1..MAX_OPEN_REPORTS_PER_REPORTER {
        let n = chat(&mut sim, pid(6), &format!("Message {i}"));
        sim.ok(pid(5), report(n, ""));
    }
    let over = chat(&mut sim, pid(6), "Un de trop");
    refused(&mut sim, pid(5), report(over, ""), Code::Conflict);
    // Others still report it; a dismissal frees a place.
    sim.ok(pid(7), report(over, ""));
    let first = *sim.state.reports.keys().next().expect("a report");
    sim.ok(pid(1), Command::DismissReport { report: first });
    refused(
        &mut sim,
        pid(1),
        Command::DismissReport { report: first },
        Code::NotFound,
    );
    sim.ok(pid(5), report(over, ""));
    // A hidden message is not reported any more.
    sim.ok(pid(1), hide(over, "Spam"));
    let m2 = chat(&mut sim, pid(6), "Encore un");
    sim.ok(pid(1), hide(m2, "Spam"));
    refused(&mut sim, pid(8), report(m2, ""), Code::Conflict);
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_message_of_another_room_is_not_reported_by_those_outside() {
    let (mut sim, _) = small();
    sim.ok(
        pid(1),
        Command::CreateRooms {
            count: Some(1),
            names: vec![],
        },
    );
    sim.ok(
        pid(1),
        Command::MoveParticipant {
            participant: pid(4).into(),
            room: "r1".into(),
        },
    );
    let m = chat(&mut sim, pid(4), "Dans la salle 1");
    refused(&mut sim, pid(5), report(m, ""), Code::NotFound);
    // Staff see every room.
    sim.ok(pid(1), report(m, ""));
}

#[test]
fn a_mute_ends_by_itself_or_early() {
    let (mut sim, _) = small();
    sim.ok(pid(1), mute(pid(4), 60_000));
    assert_eq!(sim.state.next_deadline(), Some(sim.now + 60_000));
    sim.at(10_000);
    assert_eq!(
        sim.by(
            pid(4),
            Command::SendChat {
                room: None,
                text: "Bonjour".into()
            }
        ),
        Err(Code::Muted)
    );
    // Everything else still works.
    sim.ok(pid(4), Command::RaiseHand { room: None });
    sim.ok(
        pid(4),
        Command::CallFacilitator {
            message: "Pourquoi ?".into(),
        },
    );
    // The timer: nothing before the deadline, the unmute at it, once.
    sim.at(59_999);
    assert!(sim.tick().is_empty());
    sim.at(60_000);
    assert_eq!(
        sim.tick(),
        vec![Event::ParticipantUnmuted {
            participant: pid(4).into(),
            early: false,
        }]
    );
    assert!(sim.tick().is_empty());
    sim.ok(
        pid(4),
        Command::SendChat {
            room: None,
            text: "Me revoilà".into(),
        },
    );
    // Early, by a facilitator; a second unmute is a conflict.
    sim.ok(pid(1), mute(pid(5), 3_600_000));
    sim.ok(
        pid(2),
        Command::Unmute {
            participant: pid(5).into(),
        },
    );
    refused(
        &mut sim,
        pid(2),
        Command::Unmute {
            participant: pid(5).into(),
        },
        Code::Conflict,
    );
    assert_eq!(sim.replayed(), sim.state);
}

#[test]
fn a_mute_that_passed_while_the_server_was_down_ends_at_once_after_replay() {
    let (mut sim, _) = small();
    sim.ok(pid(1), mute(pid(4), 60_000));
    let mut restarted = Sim {
        state: sim.replayed(),
        ..sim.clone()
    };
    restarted.at(3_600_000);
    assert_eq!(restarted.state.next_deadline(), Some(common::T0 + 60_000));
    assert_eq!(restarted.tick().len(), 1);
    restarted.ok(
        pid(4),
        Command::SendChat {
            room: None,
            text: "Enfin".into(),
        },
    );
}

#[test]
fn staff_and_the_unknown_are_not_moderated() {
    let (mut sim, _) = small();
    for (target, code) in [
        (pid(2), Code::Forbidden), // a facilitator
        (pid(3), Code::Forbidden), // a guarantor
        (NOBODY, Code::NotFound),
    ] {
        refused(&mut sim, pid(1), mute(target, 60_000), code);
        refused(&mut sim, pid(1), remove(target), code);
        refused(
            &mut sim,
            pid(1),
            Command::Unmute {
                participant: target.into(),
            },
            code,
        );
    }
    refused(&mut sim, pid(1), mute(pid(4), 0), Code::Invalid);
    refused(
        &mut sim,
        pid(1),
        mute(pid(4), 13 * 3_600_000),
        Code::Invalid,
    );
    let huge = "x".repeat(10 * MAX_MODERATION_REASON_CHARS);
    refused(
        &mut sim,
        pid(1),
        Command::Mute {
            participant: pid(4).into(),
            duration_ms: 1000,
            reason: huge.clone(),
        },
        Code::Invalid,
    );
    refused(
        &mut sim,
        pid(1),
        Command::RemoveParticipant {
            participant: pid(4).into(),
            reason: huge,
        },
        Code::Invalid,
    );
    refused(
        &mut sim,
        pid(1),
        Command::RemoveParticipant {
            participant: pid(4).into(),
            reason: " ".into(),
        },
        Code::Invalid,
    );
    refused(&mut sim, pid(3), remove(pid(4)), Code::Forbidden);
    refused(&mut sim, pid(3), mute(pid(4), 1000), Code::Forbidden);
    refused(&mut sim, pid(5), remove(pid(4)), Code::Forbidden);
}

#[test]
fn a_removed_participant_leaves_every_room_hand_and_floor() {
    let (mut sim, _) = small();
    sim.ok(
        pid(1),
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    sim.ok(
        pid(1),
        Command::AssignRooms {
            method: AssignMethod::Manual(vec![
                (pid(4).into(), "r1".into()),
                (pid(5).into(), "r1".into()),
            ]),
            participants: None,
            only_present: false,
        },
    );
    sim.ok(
        pid(1),
        Command::OpenBreakouts {
            duration_ms: 3_600_000,
            warning_ms: 60_000,
        },
    );
    assert_eq!(sim.location(pid(4)), "r1");
    sim.ok(pid(4), Command::RaiseHand { room: None });
    sim.ok(
        pid(1),
        Command::GiveFloor {
            room: Some("r1".into()),
            participant: Some(pid(4).into()),
            limit_ms: None,
        },
    );
    sim.ok(pid(5), Command::RaiseHand { room: None });
    sim.at(30_000);
    // The speaker: their floor ends (counted), then they are out.
    let events = sim.ok(pid(1), remove(pid(4)));
    assert_eq!(
        events,
        vec![
            Event::FloorEnded {
                room: "r1".into(),
                participant: pid(4).into(),
                spoken_ms: 30_000,
                reason: FloorEndReason::Taken,
            },
            Event::ParticipantRemoved {
                participant: pid(4).into(),
                reason: "Insultes".into(),
            },
        ]
    );
    assert_eq!(sim.location(pid(4)), PLENARY, "out of the breakout room");
    assert!(!sim.state.assignment.contains_key(pid(4)));
    assert_eq!(sim.speaker("r1"), None);
    // A raised hand comes down first.
    let events = sim.ok(pid(1), remove(pid(5)));
    assert_eq!(
        events[0],
        Event::HandLowered {
            room: "r1".into(),
            participant: pid(5).into(),
        }
    );
    assert!(sim.queue("r1").is_empty());
    refused(&mut sim, pid(1), remove(pid(5)), Code::Conflict);
    // Removed: nothing more until readmitted, not even a chat line or a hand.
    refused(
        &mut sim,
        pid(4),
        Command::SendChat {
            room: None,
            text: "Je reviens".into(),
        },
        Code::Forbidden,
    );
    refused(
        &mut sim,
        pid(4),
        Command::RaiseHand { room: None },
        Code::Forbidden,
    );
    refused(&mut sim, pid(1), mute(pid(4), 1000), Code::Conflict);
    // Closing the breakouts, assigning and moving do not bring them back to a room.
    sim.ok(pid(1), Command::CloseBreakouts);
    assert_eq!(sim.location(pid(4)), PLENARY);
    let events = sim.ok(
        pid(1),
        Command::AssignRooms {
            method: AssignMethod::Random,
            participants: None,
            only_present: false,
        },
    );
    let Event::RoomsAssigned { assignments, .. } = &events[0] else {
        panic!("{events:?}");
    };
    assert!(
        assignments.iter().all(|(p, _)| p != pid(4) && p != pid(5)),
        "{assignments:?}"
    );
    refused(
        &mut sim,
        pid(1),
        Command::MoveParticipant {
            participant: pid(4).into(),
            room: "r2".into(),
        },
        Code::Conflict,
    );
    refused(
        &mut sim,
        pid(1),
        Command::AssignRooms {
            method: AssignMethod::Manual(vec![(pid(5).into(), "r2".into())]),
            participants: None,
            only_present: false,
        },
        Code::Conflict,
    );
    sim.ok(
        pid(1),
        Command::Readmit {
            participant: pid(4).into(),
        },
    );
    refused(
        &mut sim,
        pid(1),
        Command::Readmit {
            participant: pid(4).into(),
        },
        Code::Conflict,
    );
    refused(
        &mut sim,
        pid(1),
        Command::Readmit {
            participant: NOBODY.into(),
        },
        Code::NotFound,
    );
    sim.ok(
        pid(4),
        Command::SendChat {
            room: None,
            text: "Merci".into(),
        },
    );
    assert!(sim.state.is_removed(pid(5)));
    assert_eq!(sim.replayed(), sim.state);
}

/// Removed during an expert rotation: the next rounds pass them by (they stay out of every
/// room) until they are readmitted, and then the next round places them with their group.
#[test]
fn a_rotation_does_not_place_a_removed_participant() {
    let (mut sim, ids) = convention(Roster {
        facilitators: 1,
        guarantors: 1,
        experts: 3,
        citizens: 6,
        communes: 2,
        ..Roster::default()
    });
    let f = ids.facilitator().to_string();
    sim.ok(
        &f,
        Command::PlanRotation {
            experts: ids.experts.clone(),
            grouping: AssignMethod::Random,
            groups: None,
            group_count: None,
            group_size: None,
            participants: Some(ids.citizens.clone()),
            only_present: false,
            round_ms: 10_000,
            transition_ms: 0,
            warning_ms: 1_000,
            rounds: None,
            break_room: false,
        },
    );
    sim.ok(&f, Command::StartRotation);
    let who = ids.citizen(0).to_string();
    assert_ne!(sim.location(&who), PLENARY, "placed by the first round");
    sim.ok(&f, remove(&who));
    assert_eq!(sim.location(&who), PLENARY);
    // The next round: everyone else moves, the removed citizen stays out.
    sim.at(10_000);
    sim.tick();
    assert_eq!(sim.location(&who), PLENARY, "a round does not place them");
    assert_ne!(sim.location(ids.citizen(1)), PLENARY);
    assert_eq!(sim.replayed(), sim.state);
    // A facilitator cannot give them the floor either.
    refused(
        &mut sim,
        &f,
        Command::GiveFloor {
            room: Some(PLENARY.into()),
            participant: Some(who.clone()),
            limit_ms: None,
        },
        Code::Conflict,
    );
    sim.ok(
        &f,
        Command::Readmit {
            participant: who.clone(),
        },
    );
    // Readmitted: the next round takes them to their group's room.
    sim.at(20_000);
    sim.tick();
    assert!(
        sim.state.rotation.as_ref().is_some_and(|r| r.running()),
        "three experts: a third round"
    );
    assert_ne!(sim.location(&who), PLENARY, "placed again once readmitted");
}
