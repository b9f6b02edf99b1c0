//! Expert-rotation types: how groups are formed, the plan and schedule, the phase, questions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How to form a rotation's citizen groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Grouping {
    Random,
    /// Spread each value of a roster attribute (e.g. `commune`) evenly over the groups.
    Balanced {
        attribute: String,
    },
    /// The groups, given by hand.
    Manual {
        groups: Vec<Vec<String>>,
    },
}

/// A rotation's plan, shown to everyone before it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RotationPlan {
    pub experts: Vec<String>,
    /// The room of each expert, in the order of `experts`.
    pub rooms: Vec<String>,
    pub groups: Vec<Vec<String>>,
    /// For each round, for each group: the index (in `experts`) of the expert it meets, or
    /// `null` when the group rests that round.
    pub schedule: Vec<Vec<Option<u32>>>,
    pub round_ms: u64,
    pub transition_ms: u64,
    pub warning_ms: u64,
    /// Where resting groups wait: `plenary` or a break room.
    pub rest_room: String,
}

/// Where a rotation stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RotationPhase {
    Planned,
    Round {
        round: u32,
        ends_at: u64,
        warn_at: u64,
        warned: bool,
    },
    /// Everyone is in the rooms of round `next`, which starts at `starts_at`.
    Transition {
        next: u32,
        starts_at: u64,
    },
    /// Countdowns frozen with `remaining_ms` left of the frozen phase.
    Paused {
        frozen: Box<RotationPhase>,
        remaining_ms: u64,
    },
    Finished {
        stopped: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Question {
    /// The seq of the `question_asked` event.
    pub id: u64,
    pub room: String,
    pub from: String,
    pub at: u64,
    pub text: String,
    pub answer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RotationView {
    pub plan: RotationPlan,
    pub phase: RotationPhase,
    /// Experts marked absent.
    pub absent: Vec<String>,
    /// Questions asked in the experts' rooms, with their answers.
    pub questions: Vec<Question>,
}
