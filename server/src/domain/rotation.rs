//! Timed expert rotations ("speed dating"): citizen groups rotate between experts' rooms at
//! fixed intervals, never meeting the same expert twice, no expert receiving two groups at
//! once. The schedule is built here, purely, and re-planned when an expert drops out.

use std::collections::BTreeSet;

use super::{Millis, ParticipantId, RoomId};

/// Most rounds a rotation may have.
pub const MAX_ROUNDS: u32 = 100;

/// The schedule: for each round, for each group, the index of the expert it meets (or
/// `None`: the group rests that round).
pub type Schedule = Vec<Vec<Option<usize>>>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationPlan {
    pub experts: Vec<ParticipantId>,
    /// The room of each expert, in the order of `experts`.
    pub rooms: Vec<RoomId>,
    pub groups: Vec<Vec<ParticipantId>>,
    pub schedule: Schedule,
    pub round_ms: u64,
    pub transition_ms: u64,
    pub warning_ms: u64,
    /// Where resting groups wait: the plenary or a break room.
    pub rest_room: RoomId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Planned, shown to everyone, not started.
    Planned,
    /// Round `round` runs until `ends_at`; everyone is warned at `warn_at`.
    Round {
        round: usize,
        ends_at: Millis,
        warn_at: Millis,
        warned: bool,
    },
    /// Everyone is already in the rooms of round `next`, which starts at `starts_at`.
    Transition { next: usize, starts_at: Millis },
    /// Frozen: `remaining_ms` of the frozen phase are left.
    Paused {
        frozen: Box<Phase>,
        remaining_ms: u64,
    },
    /// Over (all rounds done, or stopped): kept for the record and the export.
    Finished { stopped: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u64,
    pub room: RoomId,
    pub from: ParticipantId,
    pub at: Millis,
    pub text: String,
    pub answer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub plan: RotationPlan,
    pub phase: Phase,
    /// Experts marked absent, by index.
    pub absent: BTreeSet<usize>,
    /// The questions asked in the experts' rooms, with their answers.
    pub questions: Vec<Question>,
}

impl Rotation {
    /// The group a participant belongs to.
    pub fn group_of(&self, who: &str) -> Option<usize> {
        self.plan
            .groups
            .iter()
            .position(|g| g.iter().any(|p| p == who))
    }

    /// The round whose rooms people are in now (the next one during a transition).
    pub fn placed_round(&self) -> Option<usize> {
        match &self.phase {
            Phase::Planned | Phase::Finished { .. } => None,
            Phase::Round { round, .. } => Some(*round),
            Phase::Transition { next, .. } => Some(*next),
            Phase::Paused { frozen, .. } => match frozen.as_ref() {
                Phase::Round { round, .. } => Some(*round),
                Phase::Transition { next, .. } => Some(*next),
                Phase::Planned | Phase::Paused { .. } | Phase::Finished { .. } => None,
            },
        }
    }

    /// Where a participant should be in round `round`: their group's expert's room, the rest
    /// room, or (experts) their own room. `None` for those the rotation does not place.
    pub fn room_in_round(&self, who: &str, round: usize) -> Option<RoomId> {
        if let Some(e) = self.plan.experts.iter().position(|x| x == who) {
            return Some(self.plan.rooms[e].clone());
        }
        let g = self.group_of(who)?;
        let expert = self.plan.schedule.get(round)?.get(g).copied().flatten();
        Some(match expert {
            Some(e) => self.plan.rooms[e].clone(),
            None => self.plan.rest_room.clone(),
        })
    }

    /// The next deadline of the running phase.
    pub fn deadline(&self) -> Option<Millis> {
        match &self.phase {
            Phase::Round {
                ends_at,
                warn_at,
                warned,
                ..
            } => Some(if *warned {
                *ends_at
            } else {
                (*warn_at).min(*ends_at)
            }),
            Phase::Transition { starts_at, .. } => Some(*starts_at),
            Phase::Planned | Phase::Paused { .. } | Phase::Finished { .. } => None,
        }
    }

    /// Whether it is under way (started, not finished).
    pub fn running(&self) -> bool {
        matches!(
            self.phase,
            Phase::Round { .. } | Phase::Transition { .. } | Phase::Paused { .. }
        )
    }
}

/// Rounds needed for every group to meet every expert: one per expert when groups are no
/// more than experts, one per group otherwise (some groups rest in each round).
pub fn default_rounds(groups: usize, experts: usize) -> usize {
    groups.max(experts)
}

/// The initial schedule. Groups and experts sit on a circle of `n = max(groups, experts)`
/// seats, experts spread evenly over it; in round `r` group `g` is at seat `(g + r) mod n`
/// and meets the expert there, if any. Every seat differs from round to round for `r < n`,
/// so no group meets an expert twice and no expert sees two groups at once; every round
/// fills min(groups, experts) meetings, the most possible; and with experts spread evenly,
/// groups' counts of meetings differ by one at most.
pub fn schedule(groups: usize, experts: usize, rounds: usize) -> Schedule {
    let n = groups.max(experts);
    if n == 0 {
        return vec![Vec::new(); rounds];
    }
    // The seat of expert e: spread over n seats.
    let mut seat_expert: Vec<Option<usize>> = vec![None; n];
    for e in 0..experts {
        seat_expert[e * n / experts] = Some(e);
    }
    (0..rounds)
        .map(|r| {
            (0..groups)
                .map(|g| {
                    if r < n {
                        seat_expert[(g + r) % n]
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect()
}

/// Re-plan rounds `from..` after a change (an expert absent): each round is a maximum
/// matching between groups and the present experts they have not met yet (counting the
/// meetings of rounds before `from` only), groups with fewer meetings first. No repeats, no
/// double booking, and as many meetings in each round as the graph allows.
pub fn replan(
    schedule: &Schedule,
    from: usize,
    experts: usize,
    absent: &BTreeSet<usize>,
) -> Schedule {
    let groups = schedule.first().map_or(0, Vec::len);
    let mut met: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); groups];
    let mut out: Schedule = Vec::with_capacity(schedule.len());
    for (r, round) in schedule.iter().enumerate() {
        if r < from {
            for (g, e) in round.iter().enumerate() {
                if let Some(e) = e {
                    met[g].insert(*e);
                }
            }
            out.push(round.clone());
            continue;
        }
        // Fewest meetings first; stable on the group index.
        let mut order: Vec<usize> = (0..groups).collect();
        order.sort_by_key(|g| (met[*g].len(), *g));
        let mut expert_of: Vec<Option<usize>> = vec![None; groups];
        let mut group_of: Vec<Option<usize>> = vec![None; experts];
        for g in order {
            let mut seen = vec![false; experts];
            augment(g, &met, absent, &mut expert_of, &mut group_of, &mut seen);
        }
        for (g, e) in expert_of.iter().enumerate() {
            if let Some(e) = e {
                met[g].insert(*e);
            }
        }
        out.push(expert_of);
    }
    out
}

/// Kuhn's augmenting path from group `g`.
fn augment(
    g: usize,
    met: &[BTreeSet<usize>],
    absent: &BTreeSet<usize>,
    expert_of: &mut [Option<usize>],
    group_of: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for e in 0..group_of.len() {
        if seen[e] || absent.contains(&e) || met[g].contains(&e) {
            continue;
        }
        seen[e] = true;
        let free = match group_of[e] {
            None => true,
            Some(other) => augment(other, met, absent, expert_of, group_of, seen),
        };
        if free {
            expert_of[g] = Some(e);
            group_of[e] = Some(g);
            return true;
        }
    }
    false
}

/// Split people into `count` groups by dealing them in order (callers shuffle or balance
/// first): sizes differ by one at most.
pub fn deal(people: &[(ParticipantId, RoomId)], count: usize) -> Vec<Vec<ParticipantId>> {
    let mut groups = vec![Vec::new(); count];
    for (p, slot) in people {
        // `slot` is the index given by the assignment functions, as a room-like id "g{n}".
        let i: usize = slot.trim_start_matches('g').parse().unwrap_or(0);
        if let Some(g) = groups.get_mut(i) {
            g.push(p.clone());
        }
    }
    groups
}

// --- Deciding and applying rotation commands.

use super::{
    assign_balanced, assign_random, AssignMethod, Code, Command, Context, Convention, Event,
    Person, Rejection, Role, MAX_DURATION_MS, MAX_NOTICE_CHARS, PLENARY,
};

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
    super::decide::end_floors_of_movers(state, |who| rot.room_in_round(who, round), now, out);
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
        super::decide::end_floors_of_movers(state, |_| Some(PLENARY.to_string()), now, out);
        out.push(Event::RotationEnded { stopped: false });
    } else if rot.plan.transition_ms > 0 {
        super::decide::end_floors_of_movers(state, |who| rot.room_in_round(who, next), now, out);
        out.push(Event::RotationTransition {
            next,
            starts_at: at + rot.plan.transition_ms,
        });
    } else {
        begin(state, rot, next, at, now, out);
    }
}

/// Deadlines of the rotation that are due at `now` (one step; the next tick takes the next).
pub(super) fn due(state: &Convention, now: Millis) -> Vec<Event> {
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
pub(super) fn decide(
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
            if state.rooms.len() - 1 + experts.len() + usize::from(*break_room) > super::MAX_ROOMS {
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
            super::decide::end_floors_of_movers(
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
                super::decide::end_floors_of_movers(
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
                super::decide::end_floors_of_movers(
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
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_NOTICE_CHARS {
                return reject(
                    Code::Invalid,
                    format!("a question is 1 to {MAX_NOTICE_CHARS} characters"),
                );
            }
            Ok(vec![Event::QuestionAsked {
                room: room.to_string(),
                text: text.to_string(),
            }])
        }
        Command::AnswerQuestion { question, text } => {
            let p = me.expect("admitted participants only");
            let rot = state
                .rotation
                .as_ref()
                .ok_or_else(|| Rejection::new(Code::Conflict, "no rotation is planned"))?;
            let Some(q) = rot.questions.iter().find(|q| q.id == *question) else {
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
            let text = text.trim();
            if text.is_empty() || text.chars().count() > MAX_NOTICE_CHARS {
                return reject(
                    Code::Invalid,
                    format!("an answer is 1 to {MAX_NOTICE_CHARS} characters"),
                );
            }
            Ok(vec![Event::QuestionAnswered {
                question: *question,
                text: text.to_string(),
            }])
        }
        _ => reject(Code::Invalid, "not a rotation command"),
    }
}

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
pub(super) fn apply(
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
                questions: Vec::new(),
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
                rot.questions.push(Question {
                    id: seq,
                    room: room.clone(),
                    from: from.to_string(),
                    at,
                    text: text.clone(),
                    answer: None,
                });
            }
        }
        Event::QuestionAnswered { question, text } => {
            if let Some(q) = state
                .rotation
                .as_mut()
                .and_then(|r| r.questions.iter_mut().find(|q| q.id == *question))
            {
                q.answer = Some(text.clone());
            }
        }
        _ => {}
    }
}
