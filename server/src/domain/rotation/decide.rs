//! Deciding rotation commands, and the deadlines a running rotation fires.

use std::collections::BTreeSet;

use crate::domain::{
    assign_balanced, assign_random, AssignMethod, Code, Command, Context, Convention, Event,
    Person, Rejection, Role, MAX_DURATION_MS, PLENARY,
};

use super::*;
use crate::domain::questions;

type Decision = Result<Vec<Event>, Rejection>;

fn reject<T>(code: Code, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

fn running(state: &Convention) -> Option<&Rotation> {
    state.rotation.as_ref().filter(|r| r.running())
}

fn active(state: &Convention) -> Result<&Rotation, Rejection> {
    running(state).ok_or_else(|| Rejection::new(Code::Conflict, "no rotation is running"))
}

fn duration(ms: u64, what: &str, zero_ok: bool) -> Result<(), Rejection> {
    if (ms == 0 && !zero_ok) || ms > MAX_DURATION_MS {
        return reject(
            Code::Invalid,
            format!(
                "{what} must be {} 12 hours",
                if zero_ok {
                    "at most"
                } else {
                    "between 1 ms and"
                }
            ),
        );
    }
    Ok(())
}

/// The events that start round `round` (or its transition) at `at`, ending floors of people
/// who are about to move.
fn begin(
    state: &Convention,
    rot: &Rotation,
    round: usize,
    at: Millis,
    now: Millis,
    out: &mut Vec<Event>,
) {
    crate::domain::decide::end_floors_of_movers(
        state,
        |who| rot.room_in_round(who, round),
        now,
        out,
    );
    let ends_at = at + rot.plan.round_ms;
    out.push(Event::RotationRoundStarted {
        round,
        ends_at,
        warn_at: ends_at.saturating_sub(rot.plan.warning_ms).max(at),
    });
}

/// What comes after round `round` ends at `at`: a transition, the next round, or the end.
fn after_round(
    state: &Convention,
    rot: &Rotation,
    round: usize,
    at: Millis,
    now: Millis,
    out: &mut Vec<Event>,
) {
    let next = round + 1;
    if next >= rot.plan.schedule.len() {
        crate::domain::decide::end_floors_of_movers(state, |_| Some(PLENARY.to_string()), now, out);
        out.push(Event::RotationEnded { stopped: false });
    } else if rot.plan.transition_ms > 0 {
        crate::domain::decide::end_floors_of_movers(
            state,
            |who| rot.room_in_round(who, next),
            now,
            out,
        );
        out.push(Event::RotationTransition {
            next,
            starts_at: at + rot.plan.transition_ms,
        });
    } else {
        begin(state, rot, next, at, now, out);
    }
}

/// Deadlines of the rotation that are due at `now` (one step; the next tick takes the next).
pub(in crate::domain) fn due(state: &Convention, now: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    let Some(rot) = running(state) else {
        return out;
    };
    match &rot.phase {
        Phase::Round {
            round,
            ends_at,
            warn_at,
            warned,
        } => {
            if *ends_at <= now {
                after_round(state, rot, *round, *ends_at, now, &mut out);
            } else if !warned && *warn_at <= now {
                out.push(Event::RotationWarned);
            }
        }
        Phase::Transition { next, starts_at } if *starts_at <= now => {
            begin(state, rot, *next, *starts_at, now, &mut out)
        }
        Phase::Transition { .. }
        | Phase::Planned
        | Phase::Paused { .. }
        | Phase::Finished { .. } => {}
    }
    out
}

fn form_groups(
    state: &Convention,
    experts: &[ParticipantId],
    command: &Command,
    ctx: &Context,
) -> Result<Vec<Vec<ParticipantId>>, Rejection> {
    let Command::PlanRotation {
        grouping,
        groups,
        group_count,
        group_size,
        participants,
        only_present,
        ..
    } = command
    else {
        return reject(Code::Invalid, "not a rotation plan");
    };
    let check_person = |id: &ParticipantId| -> Result<(), Rejection> {
        match state.people.get(id) {
            None => reject(Code::NotFound, format!("no participant {id}")),
            Some(p) if p.has(Role::Guarantor) => reject(
                Code::Invalid,
                format!("{id} is a guarantor: guarantors observe"),
            ),
            Some(_) if experts.contains(id) => reject(
                Code::Invalid,
                format!("{id} is an expert of this rotation: an expert cannot also be in a group"),
            ),
            Some(_) => Ok(()),
        }
    };
    if let Some(groups) = groups {
        let mut seen = BTreeSet::new();
        for g in groups {
            for p in g {
                check_person(p)?;
                if !seen.insert(p) {
                    return reject(Code::Invalid, format!("{p} is in two groups"));
                }
            }
        }
        let groups: Vec<Vec<ParticipantId>> =
            groups.iter().filter(|g| !g.is_empty()).cloned().collect();
        if groups.is_empty() {
            return reject(Code::Invalid, "a rotation needs citizens");
        }
        return Ok(groups);
    }
    let people: Vec<&Person> = match participants {
        Some(ids) => {
            let mut out = Vec::new();
            for id in ids.iter().collect::<BTreeSet<_>>() {
                check_person(id)?;
                out.push(&state.people[id]);
            }
            out
        }
        None => state
            .people
            .values()
            .filter(|p| {
                p.has(Role::Citizen) && !p.has(Role::Facilitator) && !experts.contains(&p.id)
            })
            .filter(|p| !only_present || ctx.present.contains(&p.id))
            .collect(),
    };
    if people.is_empty() {
        return reject(
            Code::Invalid,
            "a rotation needs citizens: nobody to put in groups",
        );
    }
    let count = match (group_count, group_size) {
        (Some(_), Some(_)) => {
            return reject(
                Code::Invalid,
                "give a group count or a group size, not both",
            )
        }
        (Some(0), None) | (None, Some(0)) => {
            return reject(Code::Invalid, "groups need at least one person")
        }
        (Some(n), None) => *n as usize,
        (None, Some(size)) => people.len().div_ceil(*size as usize),
        (None, None) => experts.len(),
    }
    .min(people.len());
    let slots: Vec<RoomId> = (0..count).map(|i| format!("g{i}")).collect();
    let dealt = match grouping {
        AssignMethod::Random => assign_random(&people, &slots, ctx.seed),
        AssignMethod::Balanced(attr) => assign_balanced(&people, &slots, attr, ctx.seed),
        AssignMethod::Manual(_) => {
            return reject(Code::Invalid, "manual groups are given as `groups`")
        }
    };
    Ok(deal(&dealt, count))
}

/// Decide a rotation command (the actor's permission was checked by the caller).
pub(in crate::domain) fn decide(
    state: &Convention,
    me: Option<&Person>,
    command: &Command,
    ctx: &Context,
) -> Decision {
    let now = ctx.now;
    match command {
        Command::PlanRotation {
            experts,
            round_ms,
            transition_ms,
            warning_ms,
            rounds,
            break_room,
            ..
        } => {
            if running(state).is_some() {
                return reject(
                    Code::Conflict,
                    "a rotation is already running: stop it first",
                );
            }
            duration(*round_ms, "a round", false)?;
            duration(*transition_ms, "the transition", true)?;
            duration(*warning_ms, "the warning", true)?;
            if experts.is_empty() {
                return reject(Code::Invalid, "a rotation needs experts");
            }
            let mut seen = BTreeSet::new();
            for e in experts {
                match state.people.get(e) {
                    None => return reject(Code::NotFound, format!("no participant {e}")),
                    Some(p) if !p.has(Role::Expert) => {
                        return reject(Code::Invalid, format!("{e} is not an expert"))
                    }
                    Some(_) => {}
                }
                if !seen.insert(e) {
                    return reject(
                        Code::Invalid,
                        format!("expert {e} is listed twice: an expert is in one room"),
                    );
                }
            }
            let groups = form_groups(state, experts, command, ctx)?;
            let rounds = match rounds {
                Some(0) => return reject(Code::Invalid, "at least one round"),
                Some(r) if *r > MAX_ROUNDS => {
                    return reject(Code::Invalid, format!("at most {MAX_ROUNDS} rounds"))
                }
                Some(r) => *r as usize,
                None => default_rounds(groups.len(), experts.len()),
            };
            if state.rooms.len() - 1 + experts.len() + usize::from(*break_room)
                > crate::domain::MAX_ROOMS
            {
                return reject(Code::Invalid, "too many rooms");
            }
            let first = state.rooms_made as usize + 1;
            let mut rooms: Vec<(RoomId, String)> = experts
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    (
                        format!("r{}", first + i),
                        format!("Expert·e : {}", state.people[e].name),
                    )
                })
                .collect();
            let rest_room = if *break_room {
                let id = format!("r{}", first + experts.len());
                rooms.push((id.clone(), "Pause".to_string()));
                id
            } else {
                PLENARY.to_string()
            };
            let plan = RotationPlan {
                experts: experts.clone(),
                rooms: rooms
                    .iter()
                    .take(experts.len())
                    .map(|(id, _)| id.clone())
                    .collect(),
                schedule: schedule(groups.len(), experts.len(), rounds),
                groups,
                round_ms: *round_ms,
                transition_ms: *transition_ms,
                warning_ms: *warning_ms,
                rest_room,
            };
            Ok(vec![
                Event::RoomsCreated { rooms },
                Event::RotationPlanned { plan },
            ])
        }
        Command::StartRotation => {
            let Some(rot) = state
                .rotation
                .as_ref()
                .filter(|r| r.phase == Phase::Planned)
            else {
                return reject(
                    Code::Conflict,
                    "plan a rotation first (a rotation runs once)",
                );
            };
            if state.breakout.is_some() {
                return reject(Code::Conflict, "breakout rooms are open: close them first");
            }
            let mut out = Vec::new();
            begin(state, rot, 0, now, now, &mut out);
            Ok(out)
        }
        Command::PauseRotation => {
            // The time left until the phase's end (not until a warning still to come).
            let end = match &active(state)?.phase {
                Phase::Round { ends_at, .. } => *ends_at,
                Phase::Transition { starts_at, .. } => *starts_at,
                Phase::Paused { .. } => {
                    return reject(Code::Conflict, "the rotation is already paused")
                }
                Phase::Planned | Phase::Finished { .. } => {
                    return reject(Code::Conflict, "no rotation is running")
                }
            };
            Ok(vec![Event::RotationPaused {
                remaining_ms: end.saturating_sub(now),
            }])
        }
        Command::ResumeRotation => match active(state)?.phase {
            Phase::Paused { .. } => Ok(vec![Event::RotationResumed]),
            _ => reject(Code::Conflict, "the rotation is not paused"),
        },
        Command::ExtendRound { by_ms } => {
            duration(*by_ms, "the extension", false)?;
            match &active(state)?.phase {
                Phase::Round {
                    ends_at, warn_at, ..
                } => {
                    let warning = ends_at.saturating_sub(*warn_at);
                    let ends_at = (*ends_at).max(now) + by_ms;
                    Ok(vec![Event::RotationExtended {
                        ends_at,
                        warn_at: ends_at.saturating_sub(warning).max(now),
                    }])
                }
                _ => reject(
                    Code::Conflict,
                    "no round is running (paused or between rounds)",
                ),
            }
        }
        Command::SkipRound => {
            let rot = active(state)?;
            let mut out = Vec::new();
            match &rot.phase {
                Phase::Round { round, .. } => after_round(state, rot, *round, now, now, &mut out),
                Phase::Transition { next, .. } => begin(state, rot, *next, now, now, &mut out),
                Phase::Paused { .. } => return reject(Code::Conflict, "resume the rotation first"),
                Phase::Planned | Phase::Finished { .. } => {
                    return reject(Code::Conflict, "no rotation is running")
                }
            }
            Ok(out)
        }
        Command::StopRotation => {
            active(state)?;
            let mut out = Vec::new();
            crate::domain::decide::end_floors_of_movers(
                state,
                |_| Some(PLENARY.to_string()),
                now,
                &mut out,
            );
            out.push(Event::RotationEnded { stopped: true });
            Ok(out)
        }
        Command::MarkExpertAbsent { expert } => {
            let rot = state
                .rotation
                .as_ref()
                .ok_or_else(|| Rejection::new(Code::Conflict, "no rotation is planned"))?;
            let Some(e) = rot.plan.experts.iter().position(|x| x == expert) else {
                return reject(
                    Code::NotFound,
                    format!("{expert} is not an expert of this rotation"),
                );
            };
            if rot.absent.contains(&e) {
                return reject(Code::Conflict, format!("{expert} is already marked absent"));
            }
            if matches!(rot.phase, Phase::Finished { .. }) {
                return reject(Code::Conflict, "the rotation is over");
            }
            let mut absent = rot.absent.clone();
            absent.insert(e);
            let schedule = match rot.placed_round() {
                // Under way: the group with this expert now rests; later rounds are re-planned.
                Some(current) => {
                    let mut s = replan(
                        &rot.plan.schedule,
                        current + 1,
                        rot.plan.experts.len(),
                        &absent,
                    );
                    for slot in s[current].iter_mut().filter(|slot| **slot == Some(e)) {
                        *slot = None;
                    }
                    s
                }
                None => replan(&rot.plan.schedule, 0, rot.plan.experts.len(), &absent),
            };
            // Whoever moves now (the expert's current group, to the rest room) ends their turn.
            let mut out = Vec::new();
            if let Some(current) = rot.placed_round() {
                let mut after = rot.clone();
                after.plan.schedule = schedule.clone();
                crate::domain::decide::end_floors_of_movers(
                    state,
                    |who| after.room_in_round(who, current),
                    now,
                    &mut out,
                );
            }
            out.push(Event::ExpertAbsent {
                expert: e,
                schedule,
            });
            Ok(out)
        }
        Command::AddToGroup { participant, group } => {
            let rot = state
                .rotation
                .as_ref()
                .ok_or_else(|| Rejection::new(Code::Conflict, "no rotation is planned"))?;
            match state.people.get(participant) {
                None => return reject(Code::NotFound, format!("no participant {participant}")),
                Some(p) if p.has(Role::Guarantor) => {
                    return reject(Code::Invalid, "guarantors observe")
                }
                Some(_) if rot.plan.experts.contains(participant) => {
                    return reject(Code::Invalid, "an expert stays in their room")
                }
                Some(_) => {}
            }
            if rot.group_of(participant).is_some() {
                return reject(
                    Code::Conflict,
                    format!("{participant} is already in a group"),
                );
            }
            let g = match group {
                Some(g) if (*g as usize) < rot.plan.groups.len() => *g as usize,
                Some(g) => return reject(Code::NotFound, format!("no group {g}")),
                // The smallest group (the first of equals).
                None => (0..rot.plan.groups.len())
                    .min_by_key(|g| (rot.plan.groups[*g].len(), *g))
                    .unwrap_or(0),
            };
            let mut out = Vec::new();
            if let Some(round) = rot.placed_round() {
                let target = match rot.plan.schedule[round].get(g).copied().flatten() {
                    Some(e) => rot.plan.rooms[e].clone(),
                    None => rot.plan.rest_room.clone(),
                };
                crate::domain::decide::end_floors_of_movers(
                    state,
                    |who| (who == participant).then(|| target.clone()),
                    now,
                    &mut out,
                );
            }
            out.push(Event::GroupJoined {
                participant: participant.clone(),
                group: g,
            });
            Ok(out)
        }
        Command::AskQuestion { text } => {
            let p = me.expect("admitted participants only");
            let rot = active(state)?;
            let room = state.location_of(&p.id);
            if !rot.plan.rooms.iter().any(|r| r == room) {
                return reject(Code::Conflict, "questions are asked in an expert's room");
            }
            let text = questions::check_text(text, "a question")?;
            rot.questions.check_ask(&p.id, room, &text)?;
            Ok(vec![Event::QuestionAsked {
                room: room.to_string(),
                text,
            }])
        }
        Command::AnswerQuestion { question, text } => {
            let p = me.expect("admitted participants only");
            let rot = state
                .rotation
                .as_ref()
                .ok_or_else(|| Rejection::new(Code::Conflict, "no rotation is planned"))?;
            let Some(q) = rot.questions.get(*question) else {
                return reject(Code::NotFound, format!("no question {question}"));
            };
            let is_room_expert = rot
                .plan
                .rooms
                .iter()
                .position(|r| *r == q.room)
                .is_some_and(|e| rot.plan.experts[e] == p.id);
            if !p.has(Role::Facilitator) && !is_room_expert {
                return reject(
                    Code::Forbidden,
                    "only the expert of this room (or a facilitator) answers",
                );
            }
            let text = questions::check_text(text, "an answer")?;
            Ok(vec![Event::QuestionAnswered {
                question: *question,
                text,
            }])
        }
        _ => reject(Code::Invalid, "not a rotation command"),
    }
}
