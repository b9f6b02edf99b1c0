//! What a participant sees: the snapshot of their view, its rooms, people, floor and calls,
//! and the audit entries.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::*;

/// A raised hand in a room's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct QueueEntry {
    pub participant: String,
    pub raised_at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FloorView {
    pub participant: String,
    pub since: u64,
    /// When the speaking-time limit runs out, if the room has one.
    pub ends_at: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatLine {
    /// The seq of the `chat_posted` event.
    pub seq: u64,
    pub at: u64,
    pub from: String,
    pub text: String,
    /// Hidden by a facilitator (only facilitators and guarantors receive hidden lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden: Option<HiddenMark>,
}

/// An announcement that a snapshot recalls (see `Snapshot::notices`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NoticeLine {
    /// The seq of the `broadcast_sent` event.
    pub seq: u64,
    pub at: u64,
    pub by: Actor,
    pub text: String,
}

/// A room, as a participant may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoomView {
    pub id: String,
    pub name: String,
    /// Online guarantors observing this room.
    pub observers: u32,
    /// Present only for rooms the viewer sees the inside of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside: Option<RoomInside>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoomInside {
    /// The most recent chat lines (at most `SNAPSHOT_CHAT_LINES`).
    pub chat: Vec<ChatLine>,
    /// Raised hands in order of raising.
    pub queue: Vec<QueueEntry>,
    /// Raised hands in the room's chosen order: who "next" gives the floor to.
    pub queue_in_order: Vec<String>,
    pub order: QueueOrder,
    pub limit_ms: Option<u64>,
    pub floor: Option<FloorView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ParticipantView {
    #[serde(flatten)]
    pub person: Person,
    pub room: String,
    pub online: bool,
    /// Assigned breakout room, if any.
    pub assigned: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BreakoutView {
    pub ends_at: u64,
    pub warn_at: u64,
    pub warned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CallView {
    pub id: u64,
    pub at: u64,
    pub participant: String,
    pub room: String,
    pub message: String,
}

/// Cumulative floor time of a participant (facilitators and guarantors only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FloorTime {
    pub participant: String,
    pub spoken_ms: u64,
}

/// Everything a participant may see, as of `seq`. Events with a greater seq follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    pub seq: u64,
    pub convention: ConventionInfo,
    /// Version 1: the whole roster, where each person is and who is online. Version 2 leaves
    /// it out (see `roster` and `presence`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<ParticipantView>,
    // Protocol version 2 (section 25).
    /// Version 2: the roster's version and size; fetch it with `get_roster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roster: Option<RosterInfo>,
    /// Version 2: where the people of your view are, who is online, and every room's counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<PresenceView>,
    /// The plenary first, then breakout rooms.
    pub rooms: Vec<RoomView>,
    pub breakouts: Option<BreakoutView>,
    /// Facilitators and guarantors only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor_time: Option<Vec<FloorTime>>,
    /// Pending calls: facilitators and guarantors see all, others their own.
    pub calls: Vec<CallView>,
    /// Polls you may see: facilitators and guarantors see drafts too; a room's poll is seen
    /// in that room.
    #[serde(default)]
    pub polls: Vec<PollView>,
    /// The expert rotation, if one was planned.
    #[serde(default)]
    pub rotation: Option<RotationView>,
    /// Collaborative documents.
    #[serde(default)]
    pub documents: Vec<DocumentView>,
    /// Writing groups: name and members.
    #[serde(default)]
    pub writing_groups: BTreeMap<String, Vec<String>>,
    /// The latest announcements (`broadcast_sent`, at most 10), oldest first: what was
    /// announced while you were away. Left out when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<NoticeLine>,
    /// Facilitators and guarantors: the audit trail's last entry at `seq`, its number and
    /// hash, for a guarantor to note down and check a later export against (`convene audit
    /// verify FILE --head N:HASH`). Later entries arrive as `audit` messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditHead>,
    /// Run sheet: the sequences of the day ("now" and "next"), and for staff the drift.
    /// Left out while the run sheet is empty.
    #[serde(default, skip_serializing_if = "RunSheetView::is_empty")]
    pub runsheet: RunSheetView,
    /// Hearings (section 22), in order of creation. Left out when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hearings: Vec<HearingView>,
    /// Open reports of chat messages: facilitators and guarantors see all, others their own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<ReportView>,
    /// Muted participants: facilitators and guarantors see all, others their own mute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mutes: Vec<MuteView>,
    /// Participants removed from the live convention; `reason` is empty but for facilitators
    /// and guarantors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<RemovalView>,
}

/// The last entry of the audit trail: its number (`n`) and its `hash`. The hash covers the
/// whole chain before it: an export rewritten from any earlier entry on no longer has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditHead {
    pub n: u64,
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConventionInfo {
    pub id: String,
    pub name: String,
}

/// One entry of the audit trail. `hash` is the SHA-256 (hex) of the previous entry's hash
/// followed by this entry's canonical JSON without `hash`; the first entry's `prev` is 64 zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    /// Position in the trail, from 1.
    pub n: u64,
    /// The seq of the event it records.
    pub seq: u64,
    pub at: u64,
    pub by: Actor,
    /// The event (with secrets such as token hashes removed).
    pub event: serde_json::Value,
    pub prev: String,
    pub hash: String,
}
