//! Applying rotation events to the convention's state.

use std::collections::BTreeSet;

use super::*;
use crate::domain::{questions, Convention, Event, PLENARY};

/// Put everyone the rotation places in their room for `round`.
fn place(state: &mut Convention, round: usize) {
    let Some(rot) = state.rotation.as_ref() else {
        return;
    };
    let moves: Vec<(ParticipantId, RoomId)> = rot
        .plan
        .experts
        .iter()
        .chain(rot.plan.groups.iter().flatten())
        .filter_map(|p| Some((p.clone(), rot.room_in_round(p, round)?)))
        .collect();
    for (p, room) in moves {
        if state.location_of(&p) != room && state.room(&room).is_some() {
            state.move_to(&p, &room);
        }
    }
}

/// Apply a rotation event.
pub(in crate::domain) fn apply(
    state: &mut Convention,
    event: &Event,
    at: Millis,
    seq: u64,
    from: Option<&str>,
) {
    match event {
        Event::RotationPlanned { plan } => {
            state.rotation = Some(Rotation {
                plan: plan.clone(),
                phase: Phase::Planned,
                absent: BTreeSet::new(),
                questions: Default::default(),
            });
        }
        Event::RotationRoundStarted {
            round,
            ends_at,
            warn_at,
        } => {
            if let Some(rot) = state.rotation.as_mut() {
                rot.phase = Phase::Round {
                    round: *round,
                    ends_at: *ends_at,
                    warn_at: *warn_at,
                    warned: false,
                };
            }
            place(state, *round);
        }
        Event::RotationWarned => {
            if let Some(Phase::Round { warned, .. }) = state.rotation.as_mut().map(|r| &mut r.phase)
            {
                *warned = true;
            }
        }
        Event::RotationTransition { next, starts_at } => {
            if let Some(rot) = state.rotation.as_mut() {
                rot.phase = Phase::Transition {
                    next: *next,
                    starts_at: *starts_at,
                };
            }
            place(state, *next);
        }
        Event::RotationPaused { remaining_ms } => {
            if let Some(rot) = state.rotation.as_mut() {
                let frozen = Box::new(rot.phase.clone());
                rot.phase = Phase::Paused {
                    frozen,
                    remaining_ms: *remaining_ms,
                };
            }
        }
        Event::RotationResumed => {
            if let Some(rot) = state.rotation.as_mut() {
                if let Phase::Paused {
                    frozen,
                    remaining_ms,
                } = rot.phase.clone()
                {
                    let deadline = at + remaining_ms;
                    rot.phase = match *frozen {
                        Phase::Round {
                            round,
                            ends_at,
                            warn_at,
                            warned,
                        } => {
                            // The time left until the end, and the warning's distance to it.
                            let warning = ends_at.saturating_sub(warn_at);
                            let ends_at = deadline;
                            let warn_at = ends_at.saturating_sub(warning).max(at.min(ends_at));
                            Phase::Round {
                                round,
                                ends_at,
                                warn_at,
                                warned,
                            }
                        }
                        Phase::Transition { next, .. } => Phase::Transition {
                            next,
                            starts_at: deadline,
                        },
                        other => other,
                    };
                }
            }
        }
        Event::RotationExtended { ends_at, warn_at } => {
            if let Some(Phase::Round {
                ends_at: e,
                warn_at: w,
                warned,
                ..
            }) = state.rotation.as_mut().map(|r| &mut r.phase)
            {
                *e = *ends_at;
                *w = *warn_at;
                *warned = *warn_at <= at;
            }
        }
        Event::RotationEnded { stopped } => {
            if let Some(rot) = state.rotation.as_mut() {
                // A finished rotation stays for its export; it no longer places anyone.
                rot.phase = Phase::Finished { stopped: *stopped };
                let placed: Vec<ParticipantId> = rot
                    .plan
                    .experts
                    .iter()
                    .chain(rot.plan.groups.iter().flatten())
                    .cloned()
                    .collect();
                for p in placed {
                    if state.location_of(&p) != PLENARY {
                        state.move_to(&p, PLENARY);
                    }
                }
            }
        }
        Event::ExpertAbsent { expert, schedule } => {
            let round = state.rotation.as_ref().and_then(Rotation::placed_round);
            if let Some(rot) = state.rotation.as_mut() {
                rot.absent.insert(*expert);
                rot.plan.schedule = schedule.clone();
            }
            if let Some(r) = round {
                place(state, r);
            }
        }
        Event::GroupJoined { participant, group } => {
            let round = state.rotation.as_ref().and_then(Rotation::placed_round);
            if let Some(g) = state
                .rotation
                .as_mut()
                .and_then(|r| r.plan.groups.get_mut(*group))
            {
                g.push(participant.clone());
            }
            if let Some(r) = round {
                place(state, r);
            }
        }
        Event::QuestionAsked { room, text } => {
            if let (Some(rot), Some(from)) = (state.rotation.as_mut(), from) {
                rot.questions
                    .ask(seq, room, from, at, text, questions::Status::Open);
            }
        }
        Event::QuestionAnswered { question, text } => {
            if let Some(rot) = state.rotation.as_mut() {
                rot.questions.write_answer(*question, text);
            }
        }
        _ => {}
    }
}
