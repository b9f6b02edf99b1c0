//! Timed expert rotations ("speed dating"): citizen groups rotate between experts' rooms at
//! fixed intervals, never meeting the same expert twice, no expert receiving two groups at
//! once. The schedule is built here, purely, and re-planned when an expert drops out.

use std::collections::BTreeSet;

mod apply;
mod decide;
mod schedule;

pub(super) use apply::apply;
pub(super) use decide::{decide, due};
pub use schedule::{deal, default_rounds, replan, schedule};

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

/// The rotation's questions are questions from the floor like a hearing's: the same list,
/// budgets, order and answering (`domain::questions`).
pub use crate::domain::questions::Question;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    pub plan: RotationPlan,
    pub phase: Phase,
    /// Experts marked absent, by index.
    pub absent: BTreeSet<usize>,
    /// The questions asked in the experts' rooms, with their answers, in order of asking.
    pub questions: crate::domain::questions::Questions,
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
