//! `decide`: a command, against the current state, becomes events or a rejection.

use std::collections::{BTreeMap, BTreeSet};

use super::polls;
use super::{
    assign_balanced, assign_random, Actor, AssignMethod, CloseReason, Code, Command, Convention,
    Event, FloorEndReason, Millis, NewPerson, ParticipantId, Permission, Person, Rejection, Role,
    RoomId, RosterFault, RosterProblem, MAX_CHAT_CHARS, MAX_DURATION_MS, MAX_NAME_CHARS,
    MAX_NOTICE_CHARS, MAX_PENDING_CALLS, MAX_PEOPLE, MAX_ROOMS, MAX_ROSTER_ROWS, PLENARY,
};

/// What a decision may depend on besides the state: the time, a seed for random draws, and
/// who is connected right now. The caller reads the clock and the RNG; the domain does not.
pub struct Context<'a> {
    pub now: Millis,
    pub seed: u64,
    pub present: &'a BTreeSet<ParticipantId>,
}

type Decision = Result<Vec<Event>, Rejection>;

/// A refusal (shared by the domain's modules).
pub(super) fn reject<T>(code: Code, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

/// Whether `t` holds a control character but line breaks and tabs: each takes six bytes once
/// JSON-encoded (`\u0001`). Every text a participant gives is refused with one.
pub(super) fn has_control(t: &str) -> bool {
    t.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A text, trimmed, not empty, within `max` characters, without control characters but line
/// breaks and tabs (shared by the domain's modules). A control character takes six bytes once
/// JSON-encoded (`\u0001`): a chat line of them would weigh six times its budget in the log
/// and in every frame that carries it.
pub(super) fn check_text(text: &str, max: usize, what: &str) -> Result<String, Rejection> {
    let t = text.trim();
    if t.is_empty() {
        return reject(Code::Invalid, format!("{what} is empty"));
    }
    if t.chars().count() > max {
        return reject(
            Code::Invalid,
            format!("{what} is longer than {max} characters"),
        );
    }
    if has_control(t) {
        return reject(
            Code::Invalid,
            format!("{what} may not hold control characters (but line breaks and tabs)"),
        );
    }
    Ok(t.to_string())
}

/// Who an assignment by draw puts in rooms: citizens (not facilitators), online ones only if
/// asked, never someone removed from the live convention (no room until readmitted).
pub(super) fn assign_candidates<'s>(
    state: &'s Convention,
    only_present: bool,
    ctx: &Context,
) -> Vec<&'s Person> {
    state
        .people
        .values()
        .filter(|p| p.has(Role::Citizen) && !p.has(Role::Facilitator))
        .filter(|p| !only_present || ctx.present.contains(&p.id))
        .filter(|p| !state.is_removed(&p.id))
        .collect()
}

/// The rooms an assignment by draw fills: every breakout room but the expert rotation's (its
/// experts' rooms and its break room, kept for it even once it is over; a manual assignment
/// may still name them).
pub(super) fn draw_rooms(state: &Convention) -> Vec<RoomId> {
    let rotation: BTreeSet<&str> = state
        .rotation
        .iter()
        .flat_map(|r| r.plan.rooms.iter().chain([&r.plan.rest_room]))
        .map(String::as_str)
        .collect();
    state
        .rooms
        .iter()
        .skip(1)
        .map(|r| r.id.clone())
        .filter(|id| !rotation.contains(id.as_str()))
        .collect()
}

/// A duration of 1 ms to 12 hours (shared by the domain's modules).
pub(super) fn check_duration(ms: u64, what: &str) -> Result<(), Rejection> {
    if ms == 0 || ms > MAX_DURATION_MS {
        return reject(
            Code::Invalid,
            format!("{what} must be between 1 ms and 12 hours"),
        );
    }
    Ok(())
}

/// Decide a command. The actor's permission is checked first, then the command's arguments
/// against the state. On success the events, applied in order, bring the state to the
/// outcome; on failure nothing changes.
pub fn decide(state: &Convention, actor: &Actor, command: &Command, ctx: &Context) -> Decision {
    let me: Option<&Person> = authorize(state, actor, command)?;
    if !state.exists() && !matches!(command, Command::CreateConvention { .. }) {
        return reject(Code::NotFound, "no such convention");
    }
    let my_room = |room: &Option<RoomId>| -> Result<RoomId, Rejection> {
        let id = match (room, me) {
            (Some(r), _) => r.clone(),
            (None, Some(p)) => state.location_of(&p.id).to_string(),
            (None, None) => PLENARY.to_string(),
        };
        state
            .room(&id)
            .map(|r| r.id.clone())
            .ok_or_else(|| Rejection::new(Code::NotFound, format!("no room {id}")))
    };
    let now = ctx.now;
    match command {
        Command::CreateConvention { name } => {
            if state.exists() {
                return reject(Code::Conflict, "this convention already exists");
            }
            Ok(vec![Event::ConventionCreated {
                name: check_text(name, MAX_NAME_CHARS, "the name")?,
            }])
        }
        Command::AddParticipants { people } => add_participants(state, people),
        Command::IssueInvites { invites } => {
            let mut out = Vec::new();
            for (p, hash) in invites {
                if !state.people.contains_key(p) {
                    return reject(Code::NotFound, format!("no participant {p}"));
                }
                out.push(Event::InviteIssued {
                    participant: p.clone(),
                    token_hash: hash.clone(),
                });
            }
            Ok(out)
        }
        Command::RevokeInvite { participant } => {
            if !state.people.contains_key(participant) {
                return reject(Code::NotFound, format!("no participant {participant}"));
            }
            if !state.invites.contains_key(participant) {
                return reject(
                    Code::Conflict,
                    format!("{participant} has no active invitation"),
                );
            }
            Ok(vec![Event::InviteRevoked {
                participant: participant.clone(),
            }])
        }
        Command::CreateRooms { count, names } => {
            let wanted = count.map(|n| n as usize).unwrap_or(names.len());
            if state.rooms.len() - 1 + wanted > MAX_ROOMS {
                return reject(Code::Invalid, format!("at most {MAX_ROOMS} breakout rooms"));
            }
            let names: Vec<String> = match (count, names.is_empty()) {
                (Some(_), false) => {
                    return reject(Code::Invalid, "give a count or a list of names, not both")
                }
                (Some(0), true) | (None, true) => {
                    return reject(Code::Invalid, "create at least one room")
                }
                (Some(n), true) => (1..=*n)
                    .map(|i| format!("Salle {}", state.rooms_made + i))
                    .collect(),
                (None, false) => names
                    .iter()
                    .map(|n| check_text(n, MAX_NAME_CHARS, "a room name"))
                    .collect::<Result<_, _>>()?,
            };
            let rooms = names
                .into_iter()
                .enumerate()
                .map(|(i, name)| (format!("r{}", state.rooms_made as usize + i + 1), name))
                .collect();
            Ok(vec![Event::RoomsCreated { rooms }])
        }
        Command::ClearRooms => {
            if state.breakout.is_some() {
                return reject(Code::Conflict, "close the breakout rooms first");
            }
            if state.rotation.as_ref().is_some_and(|r| r.running()) {
                return reject(Code::Conflict, "an expert rotation is running");
            }
            if let Some(h) = state
                .rooms
                .iter()
                .skip(1)
                .find_map(|r| state.open_hearing_in(&r.id))
            {
                return reject(
                    Code::Conflict,
                    format!(
                        "hearing {} is open in room {}: close it first",
                        h.id, h.room
                    ),
                );
            }
            // Whoever is in a breakout room (moved or visiting) goes back to the plenary.
            let mut out = close_floors(state, now, now);
            out.push(Event::RoomsCleared);
            Ok(out)
        }
        Command::AssignRooms {
            method,
            participants,
            only_present,
        } => assign_rooms(state, method, participants.as_deref(), *only_present, ctx),
        Command::OpenBreakouts {
            duration_ms,
            warning_ms,
        } => {
            check_duration(*duration_ms, "the duration")?;
            if state.breakout.is_some() {
                return reject(Code::Conflict, "breakout rooms are already open");
            }
            if state.rotation.as_ref().is_some_and(|r| r.running()) {
                return reject(Code::Conflict, "an expert rotation is running");
            }
            if state.assignment.is_empty() {
                return reject(Code::Conflict, "assign participants to rooms first");
            }
            let mut out = Vec::new();
            // Whoever holds the floor somewhere and is about to move loses it first.
            for (p, room) in state.assignment.iter() {
                if state.location_of(p) != room.as_str() {
                    end_floor_of(state, p, FloorEndReason::Moved, now, &mut out);
                }
            }
            let ends_at = now + duration_ms;
            out.push(Event::BreakoutsOpened {
                ends_at,
                warn_at: ends_at.saturating_sub(*warning_ms).max(now),
            });
            Ok(out)
        }
        Command::ExtendBreakouts { by_ms } => {
            check_duration(*by_ms, "the extension")?;
            let Some(b) = &state.breakout else {
                return reject(Code::Conflict, "no breakout rooms are open");
            };
            let warning = b.ends_at.saturating_sub(b.warn_at);
            // Overdue (the timer has not fired yet): extend from now, not from the past.
            let ends_at = b.ends_at.max(now) + by_ms;
            Ok(vec![Event::BreakoutsExtended {
                ends_at,
                warn_at: ends_at.saturating_sub(warning).max(now),
            }])
        }
        Command::CloseBreakouts => {
            if state.breakout.is_none() {
                return reject(Code::Conflict, "no breakout rooms are open");
            }
            Ok(close_breakouts(state, CloseReason::Facilitator, now, now))
        }
        Command::Broadcast { text } => Ok(vec![Event::BroadcastSent {
            text: check_text(text, MAX_NOTICE_CHARS, "the message")?,
        }]),
        Command::MoveParticipant { participant, room } => {
            let Some(person) = state.people.get(participant) else {
                return reject(Code::NotFound, format!("no participant {participant}"));
            };
            if person.has(Role::Guarantor) {
                return reject(Code::Invalid, "guarantors choose the room they observe");
            }
            if state.is_removed(participant) {
                return reject(Code::Conflict, format!("{participant} is removed"));
            }
            move_to(state, participant, room, now)
        }
        Command::Visit { room } => {
            let Some(p) = me else {
                return reject(Code::Forbidden, "only participants visit rooms");
            };
            move_to(state, &p.id, room, now)
        }
        Command::ResolveCall { call } => {
            if !state.calls.contains_key(call) {
                return reject(Code::NotFound, format!("no pending call {call}"));
            }
            Ok(vec![Event::CallResolved { call: *call }])
        }
        Command::GiveFloor {
            room,
            participant,
            limit_ms,
        } => {
            if let Some(Some(l)) = limit_ms {
                check_duration(*l, "the speaking limit")?;
            }
            let room_id = my_room(room)?;
            let r = state.room(&room_id).expect("checked by my_room");
            let who = match participant {
                Some(p) => {
                    let Some(person) = state.people.get(p) else {
                        return reject(Code::NotFound, format!("no participant {p}"));
                    };
                    if person.has(Role::Guarantor) {
                        return reject(Code::Invalid, "guarantors never take the floor");
                    }
                    if state.location_of(p) != room_id {
                        return reject(Code::Conflict, format!("{p} is not in this room"));
                    }
                    if state.is_removed(p) {
                        return reject(Code::Conflict, format!("{p} is removed"));
                    }
                    p.clone()
                }
                None => match state.queue_in_order(r).into_iter().next() {
                    Some(p) => p,
                    None => return reject(Code::Conflict, "no hand is raised in this room"),
                },
            };
            let mut out = Vec::new();
            if let Some(f) = &r.floor {
                if f.participant == who {
                    return reject(Code::Conflict, format!("{who} already has the floor"));
                }
                out.push(floor_ended(&room_id, f, FloorEndReason::Taken, now));
            }
            // The turn's own limit if one was chosen, otherwise the room's.
            let limit = limit_ms.unwrap_or(r.limit_ms);
            out.push(Event::FloorGiven {
                room: room_id,
                participant: who,
                ends_at: limit.map(|l| now + l),
            });
            Ok(out)
        }
        Command::SetFloorLimit { room, limit_ms } => {
            if let Some(l) = limit_ms {
                check_duration(*l, "the speaking limit")?;
            }
            let room_id = my_room(room)?;
            let Some(f) = state.room(&room_id).and_then(|r| r.floor.as_ref()) else {
                return reject(Code::Conflict, "nobody has the floor in this room");
            };
            // From the start of the turn; a limit already passed ends it now (the timer
            // fires at once), never in the past.
            Ok(vec![Event::FloorLimitSet {
                room: room_id,
                participant: f.participant.clone(),
                ends_at: limit_ms.map(|l| (f.since + l).max(now)),
            }])
        }
        Command::EndFloor { room } => {
            let room_id = my_room(room)?;
            match &state.room(&room_id).and_then(|r| r.floor.as_ref()) {
                Some(f) => Ok(vec![floor_ended(&room_id, f, FloorEndReason::Taken, now)]),
                None => reject(Code::Conflict, "nobody has the floor in this room"),
            }
        }
        Command::SetQueueOrder { room, order } => Ok(vec![Event::QueueOrderSet {
            room: my_room(room)?,
            order: *order,
        }]),
        Command::SetSpeakingLimit { room, limit_ms } => {
            if let Some(l) = limit_ms {
                check_duration(*l, "the speaking limit")?;
            }
            Ok(vec![Event::SpeakingLimitSet {
                room: my_room(room)?,
                limit_ms: *limit_ms,
            }])
        }
        Command::SendChat { text, room } => {
            let p = me.expect("admitted participants only");
            still_in(state, &p.id, room.as_deref(), "your message was not posted")?;
            if let Some(until) = state.muted_until(&p.id, now) {
                let secs = (until - now).div_ceil(1000);
                return reject(
                    Code::Muted,
                    format!(
                        "your chat is muted by the facilitators for {secs} s more (until {until})"
                    ),
                );
            }
            Ok(vec![Event::ChatPosted {
                room: state.location_of(&p.id).to_string(),
                text: check_text(text, MAX_CHAT_CHARS, "the message")?,
            }])
        }
        Command::RaiseHand { room } => {
            let p = me.expect("admitted participants only");
            still_in(state, &p.id, room.as_deref(), "your hand was not raised")?;
            let room = state
                .room(state.location_of(&p.id))
                .expect("locations name rooms");
            if room.queue.iter().any(|(q, _)| q == &p.id) {
                return reject(Code::Conflict, "your hand is already raised");
            }
            if room.floor.as_ref().is_some_and(|f| f.participant == p.id) {
                return reject(Code::Conflict, "you have the floor");
            }
            Ok(vec![Event::HandRaised {
                room: room.id.clone(),
                participant: p.id.clone(),
            }])
        }
        Command::LowerHand => {
            let p = me.expect("admitted participants only");
            let room = state.location_of(&p.id);
            if !state
                .room(room)
                .is_some_and(|r| r.queue.iter().any(|(q, _)| q == &p.id))
            {
                return reject(Code::Conflict, "your hand is not raised");
            }
            Ok(vec![Event::HandLowered {
                room: room.to_string(),
                participant: p.id.clone(),
            }])
        }
        Command::YieldFloor => {
            let p = me.expect("admitted participants only");
            let mut out = Vec::new();
            end_floor_of(state, &p.id, FloorEndReason::Yielded, now, &mut out);
            if out.is_empty() {
                return reject(Code::Conflict, "you do not have the floor");
            }
            Ok(out)
        }
        Command::CallFacilitator { message } => {
            let p = me.expect("admitted participants only");
            let pending = state
                .calls
                .values()
                .filter(|c| c.participant == p.id)
                .count();
            if pending >= MAX_PENDING_CALLS {
                return reject(
                    Code::Conflict,
                    format!(
                        "you have {MAX_PENDING_CALLS} calls pending already: a facilitator will come"
                    ),
                );
            }
            let message = if message.trim().is_empty() {
                String::new()
            } else {
                check_text(message, MAX_NOTICE_CHARS, "the message")?
            };
            Ok(vec![Event::FacilitatorCalled {
                room: state.location_of(&p.id).to_string(),
                message,
            }])
        }
        Command::DraftPoll { .. }
        | Command::EditPoll { .. }
        | Command::DeletePoll { .. }
        | Command::OpenPoll { .. }
        | Command::ClosePoll { .. }
        | Command::RevealResults { .. }
        | Command::PublishResults { .. }
        | Command::Vote { .. } => polls::decide(state, me, command, now, ctx.present),
        Command::PlanRotation { .. }
        | Command::StartRotation
        | Command::PauseRotation
        | Command::ResumeRotation
        | Command::ExtendRound { .. }
        | Command::SkipRound
        | Command::StopRotation
        | Command::MarkExpertAbsent { .. }
        | Command::AddToGroup { .. }
        | Command::AskQuestion { .. }
        | Command::AnswerQuestion { .. } => super::rotation::decide(state, me, command, ctx),
        Command::CreateDocument { .. }
        | Command::SetWritingGroup { .. }
        | Command::OpenDocument { .. }
        | Command::CloseDocument { .. }
        | Command::NameVersion { .. } => super::documents::decide(state, command),
        // Run sheet.
        Command::AddSequence { .. }
        | Command::EditSequence { .. }
        | Command::DeleteSequence { .. }
        | Command::MoveSequence { .. }
        | Command::StartSequence { .. }
        | Command::ExtendSequence { .. }
        | Command::EndSequence
        | Command::SkipSequence { .. } => super::runsheet::decide(state, actor, command, ctx),
        // Hearings: questions from the floor.
        Command::CreateHearing { .. }
        | Command::OpenHearing { .. }
        | Command::CloseHearing { .. }
        | Command::AskHearingQuestion { .. }
        | Command::SupportQuestion { .. }
        | Command::WithdrawSupport { .. }
        | Command::ApproveQuestion { .. }
        | Command::MergeQuestion { .. }
        | Command::HideQuestion { .. }
        | Command::MarkAnswering { .. }
        | Command::MarkAnswered { .. } => super::hearings::decide(state, me, command),
        // Moderation.
        Command::HideChat { .. }
        | Command::UnhideChat { .. }
        | Command::ReportChat { .. }
        | Command::DismissReport { .. }
        | Command::Mute { .. }
        | Command::Unmute { .. }
        | Command::RemoveParticipant { .. }
        | Command::Readmit { .. } => {
            super::moderation::decide(state, me.expect("admitted participants only"), command, now)
        }
        // Public audience (§24).
        Command::CreatePublicLink { .. }
        | Command::RevokePublicLink
        | Command::SetLivestream { .. }
        | Command::PublishDocument { .. }
        | Command::OpenPublicPoll { .. }
        | Command::ClosePublicPoll { .. }
        | Command::CastPublicBallot { .. } => super::public::decide(state, command),
        Command::Tick => Ok(tick(state, now, ctx.present)),
    }
}

/// Check the actor against the command's allow-list; return the acting participant.
fn authorize<'s>(
    state: &'s Convention,
    actor: &Actor,
    command: &Command,
) -> Result<Option<&'s Person>, Rejection> {
    let permission = super::allowed(command);
    match (actor, permission) {
        (Actor::Organizer, Permission::Organizer)
        | (Actor::Timer, Permission::Timer)
        | (Actor::Public, Permission::Public) => Ok(None),
        (Actor::Participant(id), p @ Permission::Roles(_)) => match state.people.get(id) {
            // Removed from the live convention: nothing more until readmitted.
            Some(person) if state.is_removed(id) => reject(
                Code::Forbidden,
                format!("{} was removed from the convention", person.id),
            ),
            Some(person) if p.admits(&person.roles) => Ok(Some(person)),
            Some(_) => reject(Code::Forbidden, "your role does not allow this"),
            None => reject(Code::Forbidden, "unknown participant"),
        },
        _ => reject(Code::Forbidden, "not allowed"),
    }
}

fn add_participants(state: &Convention, people: &[NewPerson]) -> Decision {
    if people.is_empty() {
        return reject(Code::Invalid, "the roster is empty");
    }
    // The roster's budgets, checked before anything else: all or nothing.
    if people.len() > MAX_ROSTER_ROWS {
        return reject(
            Code::Invalid,
            format!(
                "at most {MAX_ROSTER_ROWS} people per import: this one has {}; split it",
                people.len()
            ),
        );
    }
    if state.people.len() + people.len() > MAX_PEOPLE {
        return reject(
            Code::Invalid,
            format!(
                "a convention holds at most {MAX_PEOPLE} people: it has {}, this import would add {}",
                state.people.len(),
                people.len()
            ),
        );
    }
    // Every entry is checked, and every wrong one is named at once (up to
    // `MAX_ROSTER_ERRORS`): a roster is fixed in one go, not a line per try.
    let mut out = Vec::with_capacity(people.len());
    let mut wrong = Vec::new();
    for (i, p) in people.iter().enumerate() {
        match new_person(p, i + 1, format!("p{:05}", state.people.len() + i + 1)) {
            Ok(person) => out.push(Event::ParticipantAdded { person }),
            Err(problem) => wrong.push(problem),
        }
    }
    let n = wrong.len();
    if n == 0 {
        return Ok(out);
    }
    wrong.truncate(MAX_ROSTER_ERRORS);
    let shown = wrong
        .iter()
        .map(roster_message)
        .collect::<Vec<_>>()
        .join("; ");
    let message = if n == 1 {
        shown
    } else {
        let more = if n > MAX_ROSTER_ERRORS {
            format!("; and {} more", n - MAX_ROSTER_ERRORS)
        } else {
            String::new()
        };
        format!("{n} entries of the roster are wrong, nothing imported: {shown}{more}")
    };
    Err(Rejection {
        roster: wrong,
        roster_wrong: n,
        ..Rejection::new(Code::Invalid, message)
    })
}

/// One wrong roster entry in words (the refusal's message; `problems` carries it as data).
fn roster_message(p: &RosterProblem) -> String {
    let line = p.entry;
    let name = p.name.as_deref().unwrap_or("");
    let attribute = p.attribute.as_deref().unwrap_or("");
    match p.fault {
        RosterFault::NameEmpty => format!("the name of entry {line} is empty"),
        RosterFault::NameTooLong => {
            format!("the name of entry {line} is longer than {MAX_NAME_CHARS} characters")
        }
        RosterFault::NoRole => format!("entry {line} ({name}) has no role"),
        RosterFault::GuarantorAlone => {
            format!("entry {line} ({name}): a guarantor holds no other role")
        }
        RosterFault::AttributeNameEmpty => format!("an attribute name of entry {line} is empty"),
        RosterFault::AttributeNameTooLong => {
            format!("an attribute name of entry {line} is longer than {MAX_NAME_CHARS} characters")
        }
        RosterFault::AttributeTooLong => {
            format!("attribute {attribute} of entry {line} is too long")
        }
    }
}

/// Most wrong roster entries named in one refusal.
const MAX_ROSTER_ERRORS: usize = 20;

/// One roster entry (`line`: its place in the import, from 1) checked and made a person.
fn new_person(p: &NewPerson, line: usize, id: ParticipantId) -> Result<Person, RosterProblem> {
    let problem = |fault, name: Option<&str>, attribute: Option<&str>| RosterProblem {
        entry: line,
        fault,
        name: name.map(str::to_string),
        attribute: attribute.map(str::to_string),
    };
    let name = p.name.trim();
    if name.is_empty() {
        return Err(problem(RosterFault::NameEmpty, None, None));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(problem(RosterFault::NameTooLong, None, None));
    }
    let name = name.to_string();
    let roles: Vec<Role> = p
        .roles
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if roles.is_empty() {
        return Err(problem(RosterFault::NoRole, Some(&name), None));
    }
    if roles.contains(&Role::Guarantor) && roles.len() > 1 {
        return Err(problem(RosterFault::GuarantorAlone, Some(&name), None));
    }
    let mut attributes = BTreeMap::new();
    for (k, v) in &p.attributes {
        let k = k.trim();
        if k.is_empty() {
            return Err(problem(RosterFault::AttributeNameEmpty, Some(&name), None));
        }
        if k.chars().count() > MAX_NAME_CHARS {
            return Err(problem(
                RosterFault::AttributeNameTooLong,
                Some(&name),
                None,
            ));
        }
        let k = k.to_string();
        let v = v.trim();
        if v.chars().count() > MAX_NAME_CHARS {
            return Err(problem(
                RosterFault::AttributeTooLong,
                Some(&name),
                Some(&k),
            ));
        }
        if !v.is_empty() {
            attributes.insert(k, v.to_string());
        }
    }
    Ok(Person {
        id,
        name,
        roles,
        attributes,
    })
}

fn assign_rooms(
    state: &Convention,
    method: &AssignMethod,
    participants: Option<&[ParticipantId]>,
    only_present: bool,
    ctx: &Context,
) -> Decision {
    if state.breakout.is_some() {
        return reject(
            Code::Conflict,
            "breakout rooms are open: move people one by one, or close first",
        );
    }
    let rooms: Vec<RoomId> = state.rooms.iter().skip(1).map(|r| r.id.clone()).collect();
    if rooms.is_empty() {
        return reject(Code::Conflict, "create breakout rooms first");
    }
    let (name, assignments) = if let AssignMethod::Manual(pairs) = method {
        let mut seen = BTreeSet::new();
        for (p, r) in pairs {
            match state.people.get(p) {
                None => return reject(Code::NotFound, format!("no participant {p}")),
                Some(person) if person.has(Role::Guarantor) => {
                    return reject(
                        Code::Invalid,
                        format!("{p} is a guarantor: guarantors are not assigned"),
                    )
                }
                Some(_) => {}
            }
            if !rooms.contains(r) {
                return reject(Code::NotFound, format!("no breakout room {r}"));
            }
            if !seen.insert(p) {
                return reject(Code::Invalid, format!("{p} is assigned twice"));
            }
            if state.is_removed(p) {
                return reject(Code::Conflict, format!("{p} is removed"));
            }
        }
        ("manual".to_string(), pairs.clone())
    } else {
        let candidates: Vec<&Person> = match participants {
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids.iter().collect::<BTreeSet<_>>() {
                    match state.people.get(id) {
                        None => return reject(Code::NotFound, format!("no participant {id}")),
                        Some(p) if p.has(Role::Guarantor) => {
                            return reject(
                                Code::Invalid,
                                format!("{id} is a guarantor: guarantors are not assigned"),
                            )
                        }
                        Some(p) if state.is_removed(&p.id) => {
                            return reject(Code::Conflict, format!("{id} is removed"))
                        }
                        Some(p) => out.push(p),
                    }
                }
                out
            }
            None => assign_candidates(state, only_present, ctx),
        };
        if candidates.is_empty() {
            return reject(Code::Conflict, "nobody to assign");
        }
        let rooms = draw_rooms(state);
        if rooms.is_empty() {
            return reject(
                Code::Conflict,
                "create breakout rooms first: the expert rotation's rooms are not filled by a draw",
            );
        }
        match method {
            AssignMethod::Random => (
                "random".to_string(),
                assign_random(&candidates, &rooms, ctx.seed),
            ),
            AssignMethod::Balanced(attr) => (
                format!("balanced:{attr}"),
                assign_balanced(&candidates, &rooms, attr, ctx.seed),
            ),
            AssignMethod::Manual(_) => unreachable!("handled above"),
        }
    };
    Ok(vec![Event::RoomsAssigned {
        method: name,
        assignments,
    }])
}

pub(super) fn floor_ended(
    room: &str,
    f: &super::Floor,
    reason: FloorEndReason,
    now: Millis,
) -> Event {
    // A speaking limit that ran out while the server was down counts only up to its end.
    let end = match (reason, f.ends_at) {
        (FloorEndReason::Timer, Some(e)) => e.min(now),
        _ => now,
    };
    Event::FloorEnded {
        room: room.to_string(),
        participant: f.participant.clone(),
        spoken_ms: end.saturating_sub(f.since),
        reason,
    }
}

fn end_floor_of(
    state: &Convention,
    who: &str,
    reason: FloorEndReason,
    now: Millis,
    out: &mut Vec<Event>,
) {
    for r in &state.rooms {
        if let Some(f) = r.floor.as_ref().filter(|f| f.participant == who) {
            out.push(floor_ended(&r.id, f, reason, now));
        }
    }
}

/// A chat line or a raised hand names the room its sender believed they were in: a client
/// that was offline resends it on reconnection, and meanwhile a facilitator (or the breakout
/// timer) may have moved them. Said in the new room, a line meant for a small group would
/// be read by everyone, so it is refused, and nothing done. `None` (older clients): wherever
/// they are.
fn still_in(
    state: &Convention,
    who: &str,
    room: Option<&str>,
    what: &str,
) -> Result<(), Rejection> {
    match room {
        Some(r) if r != state.location_of(who) => {
            reject(Code::Conflict, format!("you changed room: {what}"))
        }
        _ => Ok(()),
    }
}

fn move_to(state: &Convention, who: &str, room: &str, now: Millis) -> Decision {
    if state.room(room).is_none() {
        return reject(Code::NotFound, format!("no room {room}"));
    }
    if state.location_of(who) == room {
        return reject(Code::Conflict, format!("{who} is already in this room"));
    }
    let mut out = Vec::new();
    end_floor_of(state, who, FloorEndReason::Moved, now, &mut out);
    out.push(Event::ParticipantMoved {
        participant: who.to_string(),
        room: room.to_string(),
    });
    Ok(out)
}

/// End every floor held in a breakout room, counted up to `until` (the breakout's end when
/// its timer fires late) and never past the speaker's own limit.
fn close_floors(state: &Convention, until: Millis, now: Millis) -> Vec<Event> {
    let mut out = Vec::new();
    for r in state.rooms.iter().skip(1) {
        if let Some(f) = &r.floor {
            let end = f.ends_at.map_or(until, |e| e.min(until)).min(now);
            out.push(Event::FloorEnded {
                room: r.id.clone(),
                participant: f.participant.clone(),
                spoken_ms: end.saturating_sub(f.since),
                reason: if f.ends_at.is_some_and(|e| e < until) {
                    FloorEndReason::Timer
                } else {
                    FloorEndReason::Moved
                },
            });
        }
    }
    out
}

fn close_breakouts(
    state: &Convention,
    reason: CloseReason,
    until: Millis,
    now: Millis,
) -> Vec<Event> {
    let mut out = close_floors(state, until, now);
    out.push(Event::BreakoutsClosed { reason });
    out
}

/// Fire what is due at `now`; nothing if nothing is. Firing twice is harmless: the first
/// firing's events make the deadline disappear from the state.
fn tick(state: &Convention, now: Millis, present: &BTreeSet<ParticipantId>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut breakout_over = false;
    if let Some(b) = &state.breakout {
        if b.ends_at <= now {
            breakout_over = true;
        } else if !b.warned && b.warn_at <= now {
            out.push(Event::BreakoutsWarned);
        }
    }
    for r in &state.rooms {
        let in_breakout_room = r.id != PLENARY;
        if breakout_over && in_breakout_room {
            continue; // closing the rooms ends these floors
        }
        if let Some(f) = r
            .floor
            .as_ref()
            .filter(|f| f.ends_at.is_some_and(|e| e <= now))
        {
            out.push(floor_ended(&r.id, f, FloorEndReason::Timer, now));
        }
    }
    out.extend(polls::due(state, now, present));
    out.extend(super::rotation::due(state, now));
    out.extend(super::moderation::due(state, now));

    if breakout_over {
        let ends_at = state.breakout.as_ref().map_or(now, |b| b.ends_at);
        out.extend(close_breakouts(state, CloseReason::Timer, ends_at, now));
    }
    out
}

/// End the floor of everyone whom `target` sends to another room than theirs.
pub(in crate::domain) fn end_floors_of_movers(
    state: &Convention,
    target: impl Fn(&str) -> Option<RoomId>,
    now: Millis,
    out: &mut Vec<Event>,
) {
    for r in &state.rooms {
        if let Some(f) = &r.floor {
            if target(&f.participant).is_some_and(|to| to != r.id) {
                out.push(floor_ended(&r.id, f, FloorEndReason::Moved, now));
            }
        }
    }
}
