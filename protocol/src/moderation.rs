//! Live moderation as participants see it (PROTOCOL.md §21): hidden chat messages, reports,
//! mutes and removals.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest reason a facilitator gives for hiding, muting or removing, in characters.
pub const MAX_MODERATION_REASON_CHARS: usize = 500;
/// Longest reason of a report, in characters.
pub const MAX_REPORT_REASON_CHARS: usize = 200;
/// Most reports one participant may have open at once (one per message).
pub const MAX_OPEN_REPORTS_PER_REPORTER: usize = 10;

/// How a hidden chat line is marked for facilitators and guarantors (nobody else receives a
/// hidden line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HiddenMark {
    /// The facilitator who hid it.
    pub by: String,
    pub at: u64,
    pub reason: String,
}

/// An open report of a chat message: facilitators and guarantors see all, a reporter their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportView {
    /// The seq of the `chat_reported` event.
    pub id: u64,
    pub at: u64,
    /// The reporter.
    pub by: String,
    pub room: String,
    /// The seq of the reported `chat_posted`.
    pub message: u64,
    pub reason: String,
}

/// A muted participant: facilitators and guarantors see all, a muted participant their own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MuteView {
    pub participant: String,
    /// When the mute ends by itself (ms since the epoch).
    pub until: u64,
    pub at: u64,
    pub by: String,
    pub reason: String,
}

/// A participant removed from the live convention, until readmitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RemovalView {
    pub participant: String,
    pub at: u64,
    pub by: String,
    /// Empty but for facilitators and guarantors.
    pub reason: String,
}

/// One line of the chat export (`GET /api/conventions/{id}/chat`): every chat line of the
/// log, in order, hidden ones included and marked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatExportLine {
    /// The seq of the `chat_posted` event.
    pub seq: u64,
    pub at: u64,
    pub room: String,
    pub from: String,
    /// The author's name on the roster.
    pub name: String,
    pub text: String,
    /// Hidden by a facilitator: by whom, when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<HiddenMark>,
}
