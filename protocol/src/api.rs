//! JSON bodies of the organizer HTTP API (`/api/...`), guarded by the organizer token, and of
//! the public `/nodes`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Ballot, ErrorCode, HearingStatus, Participation, PollSpec, PollStatus, Role, Tally};

/// `POST /api/conventions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreateConvention {
    /// Lowercase letters, digits and dashes, 1 to 40 characters; generated if absent.
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConventionSummary {
    pub id: String,
    pub name: String,
    pub seq: u64,
    pub participants: usize,
    pub online: usize,
    /// Its hearings, in order of creation: what the exports of each are asked by.
    #[serde(default)]
    pub hearings: Vec<HearingSummary>,
    /// Its documents (the opinion and the others), by name.
    #[serde(default)]
    pub documents: Vec<DocumentSummary>,
}

/// A hearing, as the organizers list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HearingSummary {
    pub id: String,
    pub title: String,
    pub status: HearingStatus,
}

/// A document, as the organizers list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentSummary {
    pub name: String,
    pub title: String,
    /// Its named versions (numbered from 1).
    pub versions: u32,
}

/// What `DELETE /api/conventions/{id}` erased: the rows of the convention in each database
/// file of the data directory (as `convene delete` prints them), and their sum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConventionDeleted {
    pub id: String,
    pub files: Vec<DeletedRows>,
    pub rows: u64,
}

/// The rows of a deleted convention one database file held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeletedRows {
    pub file: String,
    pub rows: u64,
}

/// One person in a roster import. In CSV: a header with `name`, `roles` (separated by `;`
/// or `|`), and any other column as an attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RosterEntry {
    pub name: String,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RosterAdded {
    /// The ids given to the new participants, in the order of the import.
    pub added: Vec<String>,
}

/// `POST /api/conventions/{id}/invites`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssueInvites {
    /// Whom to invite; default: everyone without an active invitation. Issuing again
    /// replaces a person's previous token.
    #[serde(default)]
    pub participants: Option<Vec<String>>,
}

/// A fresh invitation. The token is shown once: only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Invite {
    pub convention: String,
    pub participant: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub token: String,
    pub url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InviteStatus {
    pub participant: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// `state == active`.
    pub active: bool,
    pub state: InviteState,
}

/// Where a person's invitation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    /// Their link works.
    Active,
    /// Their last invitation was revoked, and none issued since.
    Revoked,
    /// None was ever issued.
    None,
}

/// The body of every HTTP error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// A refused roster import: its wrong entries as data, up to 20 (the message says them in
    /// English), so that an interface can say them in its own language. Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<RosterProblem>,
    /// With `problems`: how many entries were wrong in all (more than 20: only the first 20
    /// are listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrong_entries: Option<u64>,
}

/// One wrong entry of a refused roster import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RosterProblem {
    /// The entry's place in the import, from 1.
    pub entry: u64,
    /// A CSV roster: the line of the file the entry starts on (the header is line 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub problem: RosterProblemKind,
    /// The entry's name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `attribute_too_long`: the attribute (the CSV column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// `unknown_role`: the role as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// What is wrong with a roster entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RosterProblemKind {
    /// The name is empty (or only spaces).
    NameEmpty,
    /// The name is longer than 120 characters.
    NameTooLong,
    /// No role.
    NoRole,
    /// A guarantor with another role: a guarantor holds no other role.
    GuarantorAlone,
    /// An attribute's name (a CSV column's header) is empty.
    AttributeNameEmpty,
    /// An attribute's name is longer than 120 characters.
    AttributeNameTooLong,
    /// An attribute's value is longer than 120 characters.
    AttributeTooLong,
    /// A CSV role that is none of the known ones (code `bad_message`).
    UnknownRole,
}

/// A poll's results, as exported (`GET /api/conventions/{id}/polls[/{poll}/results]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PollResults {
    pub id: String,
    pub spec: PollSpec,
    pub status: PollStatus,
    pub opened_at: Option<u64>,
    pub ends_at: Option<u64>,
    pub participation: Participation,
    pub tally: Tally,
    /// For each entry of `tally.counts`: its share of the ballots, in percent.
    pub percentages: Vec<f64>,
    /// Whether the quorum (if any) was reached.
    pub quorum_reached: Option<bool>,
    /// Present when the poll's ballot box was tampered with: an open poll's `tally` then counts
    /// nothing; a closed poll's is the one its close logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tampered: Option<crate::TamperedBox>,
}

/// One voter's final ballot in a named poll (never for a secret poll).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NamedBallot {
    pub participant: String,
    pub name: String,
    pub ballot: Ballot,
}

/// `GET /nodes` (public): the base URLs of the cluster's nodes a client may reconnect to
/// (`convene serve --nodes`); empty when only this origin serves.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Nodes {
    pub nodes: Vec<String>,
}

/// The video service a server embeds (`convene serve --video`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VideoProvider {
    /// No embedded video (the default).
    Off,
    /// A self-hosted Jitsi Meet with JWT authentication, through its IFrame API.
    Jitsi,
    /// A LiveKit server, joined with the `livekit-client` SDK.
    Livekit,
    /// A link made from a template (any other service), opened in a new tab.
    Link,
}

/// `GET /api/conventions/{id}/video`, with a participant's invitation token as
/// `Authorization: Bearer`: the video meeting of the room the caller is in now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VideoMeeting {
    pub provider: VideoProvider,
    /// The convention's room the meeting belongs to: where the caller is now.
    pub room: String,
    /// The meeting's name at the video service: derived from a server secret, never the
    /// room's id. Absent when the provider is `off`.
    #[serde(default)]
    pub meeting: Option<String>,
    /// `jitsi`: the Jitsi Meet deployment's base URL (its IFrame API is
    /// `{url}/external_api.js`); `livekit`: the LiveKit server's WebSocket URL; `link`: the
    /// meeting's link.
    #[serde(default)]
    pub url: Option<String>,
    /// `jitsi`, `livekit`: the access token (a JWT) of this person for this meeting only.
    #[serde(default)]
    pub token: Option<String>,
    /// When `token` expires, in ms since the epoch: ask again before joining after it.
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// Join with the microphone off (the plenary, and observers).
    #[serde(default)]
    pub start_muted: bool,
    /// A guarantor: joins with camera and microphone off (LiveKit: may not publish, and is
    /// not listed to the others).
    #[serde(default)]
    pub observer: bool,
    /// `livekit` with the floor controlling the microphone, in the plenary: whether this
    /// person may publish audio now (holds the floor, or facilitates). The server changes
    /// the permission at the video service when the floor moves.
    #[serde(default)]
    pub may_speak: Option<bool>,
}
