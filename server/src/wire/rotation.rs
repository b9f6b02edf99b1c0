//! Rotation types between the domain and the wire.

use convene_protocol as p;

use crate::domain::{self as d, rotation as r};

pub fn schedule_out(s: &r::Schedule) -> Vec<Vec<Option<u32>>> {
    s.iter()
        .map(|round| round.iter().map(|e| e.map(|e| e as u32)).collect())
        .collect()
}

pub fn schedule_in(s: Vec<Vec<Option<u32>>>) -> r::Schedule {
    s.into_iter()
        .map(|round| round.into_iter().map(|e| e.map(|e| e as usize)).collect())
        .collect()
}

pub fn plan_out(plan: &r::RotationPlan) -> p::RotationPlan {
    p::RotationPlan {
        experts: plan.experts.clone(),
        rooms: plan.rooms.clone(),
        groups: plan.groups.clone(),
        schedule: schedule_out(&plan.schedule),
        round_ms: plan.round_ms,
        transition_ms: plan.transition_ms,
        warning_ms: plan.warning_ms,
        rest_room: plan.rest_room.clone(),
    }
}

pub fn plan_in(plan: p::RotationPlan) -> r::RotationPlan {
    r::RotationPlan {
        experts: plan.experts,
        rooms: plan.rooms,
        groups: plan.groups,
        schedule: schedule_in(plan.schedule),
        round_ms: plan.round_ms,
        transition_ms: plan.transition_ms,
        warning_ms: plan.warning_ms,
        rest_room: plan.rest_room,
    }
}

pub fn phase_out(phase: &r::Phase) -> p::RotationPhase {
    match phase {
        r::Phase::Planned => p::RotationPhase::Planned,
        r::Phase::Round {
            round,
            ends_at,
            warn_at,
            warned,
        } => p::RotationPhase::Round {
            round: *round as u32,
            ends_at: *ends_at,
            warn_at: *warn_at,
            warned: *warned,
        },
        r::Phase::Transition { next, starts_at } => p::RotationPhase::Transition {
            next: *next as u32,
            starts_at: *starts_at,
        },
        r::Phase::Paused {
            frozen,
            remaining_ms,
        } => p::RotationPhase::Paused {
            frozen: Box::new(phase_out(frozen)),
            remaining_ms: *remaining_ms,
        },
        r::Phase::Finished { stopped } => p::RotationPhase::Finished { stopped: *stopped },
    }
}

pub fn view(rot: &r::Rotation) -> p::RotationView {
    p::RotationView {
        plan: plan_out(&rot.plan),
        phase: phase_out(&rot.phase),
        absent: rot
            .absent
            .iter()
            .filter_map(|e| rot.plan.experts.get(*e).cloned())
            .collect(),
        // In order of asking: the shared ranking, as nobody supports a rotation's questions.
        questions: rot
            .questions
            .ranked_all()
            .into_iter()
            .map(|q| p::Question {
                id: q.id,
                room: q.room.clone(),
                from: q.from.clone(),
                at: q.at,
                text: q.text.clone(),
                answer: q.answer.clone(),
            })
            .collect(),
    }
}

/// A rotation event (the caller dispatches only those here).
pub fn event_out(e: &d::Event) -> p::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        D::RotationPlanned { plan } => P::RotationPlanned {
            plan: plan_out(plan),
        },
        D::RotationRoundStarted {
            round,
            ends_at,
            warn_at,
        } => P::RotationRoundStarted {
            round: *round as u32,
            ends_at: *ends_at,
            warn_at: *warn_at,
        },
        D::RotationWarned => P::RotationWarned,
        D::RotationTransition { next, starts_at } => P::RotationTransition {
            next: *next as u32,
            starts_at: *starts_at,
        },
        D::RotationPaused { remaining_ms } => P::RotationPaused {
            remaining_ms: *remaining_ms,
        },
        D::RotationResumed => P::RotationResumed,
        D::RotationExtended { ends_at, warn_at } => P::RotationExtended {
            ends_at: *ends_at,
            warn_at: *warn_at,
        },
        D::RotationEnded { stopped } => P::RotationEnded { stopped: *stopped },
        D::ExpertAbsent { expert, schedule } => P::ExpertAbsent {
            expert: *expert as u32,
            schedule: schedule_out(schedule),
        },
        D::GroupJoined { participant, group } => P::GroupJoined {
            participant: participant.clone(),
            group: *group as u32,
        },
        D::QuestionAsked { room, text } => P::QuestionAsked {
            room: room.clone(),
            text: text.clone(),
        },
        D::QuestionAnswered { question, text } => P::QuestionAnswered {
            question: *question,
            text: text.clone(),
        },
        other => unreachable!("not a rotation event: {other:?}"),
    }
}

/// A rotation event (the caller dispatches only those here).
pub fn event_in(e: p::Event) -> d::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        P::RotationPlanned { plan } => D::RotationPlanned {
            plan: plan_in(plan),
        },
        P::RotationRoundStarted {
            round,
            ends_at,
            warn_at,
        } => D::RotationRoundStarted {
            round: round as usize,
            ends_at,
            warn_at,
        },
        P::RotationWarned => D::RotationWarned,
        P::RotationTransition { next, starts_at } => D::RotationTransition {
            next: next as usize,
            starts_at,
        },
        P::RotationPaused { remaining_ms } => D::RotationPaused { remaining_ms },
        P::RotationResumed => D::RotationResumed,
        P::RotationExtended { ends_at, warn_at } => D::RotationExtended { ends_at, warn_at },
        P::RotationEnded { stopped } => D::RotationEnded { stopped },
        P::ExpertAbsent { expert, schedule } => D::ExpertAbsent {
            expert: expert as usize,
            schedule: schedule_in(schedule),
        },
        P::GroupJoined { participant, group } => D::GroupJoined {
            participant,
            group: group as usize,
        },
        P::QuestionAsked { room, text } => D::QuestionAsked { room, text },
        P::QuestionAnswered { question, text } => D::QuestionAnswered { question, text },
        other => unreachable!("not a rotation event: {other:?}"),
    }
}

/// A rotation command (the caller dispatches only those here).
pub fn command_in(c: p::Command) -> d::Command {
    use d::Command as D;
    use p::Command as P;
    match c {
        P::PlanRotation {
            experts,
            grouping,
            group_count,
            group_size,
            participants,
            only_present,
            round_ms,
            transition_ms,
            warning_ms,
            rounds,
            break_room,
        } => {
            let (grouping, groups) = match grouping {
                p::Grouping::Random => (d::AssignMethod::Random, None),
                p::Grouping::Balanced { attribute } => (d::AssignMethod::Balanced(attribute), None),
                p::Grouping::Manual { groups } => (d::AssignMethod::Random, Some(groups)),
            };
            D::PlanRotation {
                experts,
                grouping,
                groups,
                group_count,
                group_size,
                participants,
                only_present,
                round_ms,
                transition_ms,
                warning_ms,
                rounds,
                break_room,
            }
        }
        P::StartRotation => D::StartRotation,
        P::PauseRotation => D::PauseRotation,
        P::ResumeRotation => D::ResumeRotation,
        P::ExtendRound { by_ms } => D::ExtendRound { by_ms },
        P::SkipRound => D::SkipRound,
        P::StopRotation => D::StopRotation,
        P::MarkExpertAbsent { expert } => D::MarkExpertAbsent { expert },
        P::AddToGroup { participant, group } => D::AddToGroup { participant, group },
        P::AskQuestion { text } => D::AskQuestion { text },
        P::AnswerQuestion { question, text } => D::AnswerQuestion { question, text },
        other => unreachable!("not a rotation command: {other:?}"),
    }
}
