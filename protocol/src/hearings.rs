//! Hearing types: a hearing as the snapshot shows it, and its questions from the floor.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HearingStatus {
    Planned,
    Open,
    Closed,
}

/// Where a question from the floor stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionStatus {
    /// Awaiting a facilitator's approval (moderated hearings): its author and the staff only.
    Pending,
    Open,
    /// The speaker is answering it now (at most one per hearing).
    Answering,
    Answered,
    /// Hidden by a facilitator: the staff see it with its reason; others see it go.
    Hidden,
    /// Merged into `merged_into`, which took its supports.
    Merged,
}

/// A question of a hearing, as one viewer may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HearingQuestion {
    /// The seq of its `hearing_question_asked` event.
    pub id: u64,
    pub at: u64,
    /// Empty for a hidden or merged question, except for facilitators and guarantors.
    pub text: String,
    /// The author: in a named hearing, for everyone; in an anonymous one, for facilitators
    /// and guarantors only (`null` for everyone else).
    pub from: Option<String>,
    pub status: QuestionStatus,
    /// How many people support it.
    pub supports: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<u64>,
    /// Why it was hidden: facilitators and guarantors only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_reason: Option<String>,
}

/// A hearing in the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HearingView {
    pub id: String,
    pub title: String,
    pub speaker: String,
    pub room: String,
    pub anonymous: bool,
    pub moderated: bool,
    pub status: HearingStatus,
    /// The questions, most supported first (ties: older first), for an open hearing, to
    /// those in its room and to facilitators and guarantors (who also get pending, hidden
    /// and merged ones, after the others); `null` otherwise. A participant's own pending
    /// questions are among them.
    pub questions: Option<Vec<HearingQuestion>>,
    /// The ids of the viewer's own questions in this hearing (when `questions` is given).
    #[serde(default)]
    pub yours: Vec<u64>,
    /// The ids of the questions the viewer supports (when `questions` is given).
    #[serde(default)]
    pub supported: Vec<u64>,
}

/// A hearing as stored beside the log (`StoredState`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HearingState {
    pub id: String,
    pub title: String,
    pub speaker: String,
    pub room: String,
    pub anonymous: bool,
    pub moderated: bool,
    pub status: HearingStatus,
    pub questions: Vec<StoredQuestion>,
}

/// A question from the floor as stored beside the log, in order of asking.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredQuestion {
    pub id: u64,
    pub room: String,
    pub from: String,
    pub at: u64,
    pub text: String,
    pub answer: Option<String>,
    pub status: QuestionStatus,
    pub merged_into: Option<u64>,
    pub hidden_reason: Option<String>,
    pub supporters: Vec<String>,
}
