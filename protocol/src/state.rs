//! A convention's state at one sequence number, as stored beside its log (never sent to
//! clients). A node that takes up a convention loads the latest of these and folds only the
//! log's tail after it, instead of the whole log. It is derived data: the log stays the
//! truth, and a state that cannot be read (another format) is ignored for a full replay.
//!
//! It holds no secret ballot: secret polls keep who has voted, and their ballots stay in the
//! ballot box alone, read back beside the state as they are beside the log.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::*;

/// The version of this format; a stored state of another version is not used.
pub const STATE_FORMAT: u32 = 6;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    pub format: u32,
    pub convention: ConventionState,
    /// Requests already answered: (participant, request id, seq of its last event), each
    /// participant's latest `RETRY_WINDOW`, oldest first, so that a retry after the state is
    /// still answered from the log and never run twice.
    pub requests: Vec<(String, String, u64)>,
    /// Hashes of invitations revoked or replaced (to say "revoked", not "unknown").
    pub revoked: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConventionState {
    pub name: String,
    pub seq: u64,
    pub people: Vec<Person>,
    /// Participant -> SHA-256 of their active invitation.
    pub invites: BTreeMap<String, String>,
    /// Since format 6: participants whose invitation was revoked and none issued since.
    #[serde(default)]
    pub revoked_invites: Vec<String>,
    pub rooms: Vec<RoomState>,
    pub location: BTreeMap<String, String>,
    pub assignment: BTreeMap<String, String>,
    pub breakout: Option<BreakoutState>,
    pub floor_time: BTreeMap<String, u64>,
    pub calls: Vec<CallView>,
    pub rooms_made: u32,
    pub polls: Vec<PollState>,
    pub polls_made: u32,
    pub rotation: Option<RotationState>,
    pub documents: Vec<DocumentState>,
    pub writing_groups: BTreeMap<String, Vec<String>>,
    /// Since format 2.
    pub notices: Vec<NoticeLine>,
    /// Since format 4: the run sheet.
    #[serde(default)]
    pub runsheet: RunSheetState,
    /// Since format 4.
    #[serde(default)]
    pub hearings: Vec<HearingState>,
    /// Since format 4 (moderation; hidden chat lines are marked in `rooms`).
    #[serde(default)]
    pub reports: Vec<ReportView>,
    #[serde(default)]
    pub mutes: Vec<MuteView>,
    #[serde(default)]
    pub removed: Vec<RemovalView>,
    /// Since format 5: the public audience (§24).
    #[serde(default)]
    pub public: PublicStored,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    pub id: String,
    pub name: String,
    pub chat: Vec<ChatLine>,
    pub queue: Vec<QueueEntry>,
    pub order: QueueOrder,
    pub limit_ms: Option<u64>,
    pub floor: Option<FloorView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakoutState {
    pub ends_at: u64,
    pub warn_at: u64,
    pub warned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollState {
    pub id: String,
    pub spec: PollSpec,
    pub status: PollStatus,
    pub opened_at: Option<u64>,
    pub ends_at: Option<u64>,
    pub revealed: bool,
    /// Named polls: each voter's ballot.
    pub named: BTreeMap<String, Ballot>,
    /// Secret polls: who has voted, and nothing else.
    pub voted: Vec<String>,
    pub final_tally: Option<Tally>,
    /// Fixed at the close (absent from states stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_turnout: Option<crate::Turnout>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationState {
    pub plan: RotationPlan,
    pub phase: RotationPhase,
    /// Experts marked absent, by index in the plan.
    pub absent: Vec<u32>,
    pub questions: Vec<Question>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentState {
    pub name: String,
    pub title: String,
    pub groups: Vec<String>,
    pub versions: Vec<VersionState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionState {
    pub version: u32,
    pub label: String,
    pub at: u64,
}
