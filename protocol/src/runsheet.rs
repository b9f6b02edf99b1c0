//! Run-sheet types ("déroulé"): the sequences of a convention day, what each does when
//! started, and where each stands (PROTOCOL.md §20).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Grouping;

/// Most sequences a run sheet may hold (started, done and skipped ones included).
pub const MAX_SEQUENCES: usize = 100;
/// Longest title of a sequence, in characters.
pub const MAX_SEQUENCE_TITLE_CHARS: usize = 120;
/// Most polls one sequence may open.
pub const MAX_SEQUENCE_POLLS: usize = 20;

fn one_minute() -> u64 {
    60_000
}

/// Which breakout rooms a `breakouts` sequence uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum SequenceRooms {
    /// New rooms made at the start, the breakout rooms of before cleared first: `count`
    /// rooms named "Salle N", or one per name.
    New {
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        names: Vec<String>,
    },
    /// Rooms that exist already, by id.
    Existing { rooms: Vec<String> },
}

/// What a sequence does when it starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SequenceAction {
    /// Everyone back to the plenary: open breakout rooms closed, a running rotation stopped.
    Plenary,
    /// Rooms, an assignment (`method`: random, balanced on an attribute, or manual `groups`,
    /// the i-th group to the i-th room), and the rooms opened for `duration_ms`.
    Breakouts {
        rooms: SequenceRooms,
        grouping: Grouping,
        duration_ms: u64,
        #[serde(default = "one_minute")]
        warning_ms: u64,
    },
    /// Open these prepared poll drafts.
    Polls { polls: Vec<String> },
    /// Start the planned expert rotation.
    Rotation,
    /// Open this prepared hearing (created with `create_hearing`, not yet opened: §22).
    Hearing { hearing: String },
    /// Nothing opens: a countdown.
    Break,
}

/// A sequence as facilitators prepare it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SequenceSpec {
    pub title: String,
    /// ms since the epoch.
    pub planned_start: u64,
    pub planned_ms: u64,
    pub action: SequenceAction,
}

/// Where a sequence stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum SequenceStatus {
    Planned,
    /// Under way; `ends_at` is its planned end (informational).
    Running {
        started_at: u64,
        ends_at: u64,
    },
    Done {
        started_at: u64,
        ended_at: u64,
        /// Ended before its planned end.
        early: bool,
    },
    Skipped {
        at: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SequenceExtension {
    pub at: u64,
    pub by_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SequenceView {
    pub id: String,
    pub spec: SequenceSpec,
    pub status: SequenceStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<SequenceExtension>,
}

/// The run sheet in a snapshot: every sequence in the order of the day (everyone sees the
/// programme); "now" is the running one, "next" the first planned one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunSheetView {
    pub sequences: Vec<SequenceView>,
    /// Facilitators and guarantors: the actual start of the sequence under way (else of the
    /// last started one) less its planned start, in ms. Positive: behind the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ms: Option<i64>,
}

impl RunSheetView {
    /// No sequence: the snapshot leaves the run sheet out.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }
}

/// The run sheet as stored beside the log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSheetState {
    pub sequences: Vec<SequenceView>,
    pub made: u32,
}

/// One sequence of the day as planned and as run (`GET /api/conventions/{id}/runsheet`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SequenceReport {
    pub id: String,
    pub title: String,
    /// `plenary`, `breakouts`, `polls`, `rotation`, `hearing` or `break`.
    pub kind: String,
    pub planned_start: u64,
    pub planned_ms: u64,
    /// `planned`, `running`, `done` or `skipped`.
    pub status: String,
    pub started_at: Option<u64>,
    pub ended_at: Option<u64>,
    pub ended_early: bool,
    pub skipped_at: Option<u64>,
    /// Every extension, in order.
    pub extensions: Vec<SequenceExtension>,
    /// `started_at - planned_start`, in ms (positive: late).
    pub start_drift_ms: Option<i64>,
    /// `ended_at - started_at`, in ms.
    pub actual_ms: Option<u64>,
}
