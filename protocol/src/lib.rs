//! Wire types of the Convene protocol: JSON text frames over the WebSocket `/ws`, and the
//! JSON bodies of the organizer HTTP API. PROTOCOL.md documents them; `schema.json` is
//! generated from them (`cargo run -p convene-protocol --bin convene-schema`), and CI checks
//! the committed file against the code.

pub mod api;
// Attendance (issue #17).
mod attendance;
mod documents;
mod floor_time;
mod hearings;
mod moderation;
mod polls;
// Public audience (§24).
mod public;
mod rotation;
// Run sheet.
mod runsheet;

mod parse;
mod schema;
mod state;
// Protocol version 2 (section 25).
mod v2;
mod views;

// Attendance (issue #17).
pub use attendance::*;
pub use documents::*;
pub use floor_time::*;
pub use hearings::*;
pub use moderation::*;
pub use parse::{parse_client_message, ParseError, MAX_ERROR_MESSAGE_BYTES};
pub use polls::*;
// Public audience (§24).
pub use public::*;
pub use rotation::*;
pub use runsheet::*;
pub use schema::schema;
pub use state::*;
// Protocol version 2 (section 25).
pub use v2::*;
pub use views::*;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks. A `hello` with another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;
/// The largest text frame the server reads, in bytes. Larger frames close the connection
/// with [`close::TOO_LARGE`].
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// The id of the plenary room, which every convention has.
pub const PLENARY_ID: &str = "plenary";
/// How many chat lines of each room a snapshot carries (the most recent ones); the whole
/// history stays in the log and its exports.
pub const SNAPSHOT_CHAT_LINES: usize = 50;
/// At most this many bytes of chat text per room in a snapshot (the most recent lines that
/// fit, at least one).
pub const SNAPSHOT_CHAT_BYTES: usize = 16 * 1024;
/// The longest request id, in bytes. A longer one is refused with `invalid`.
pub const MAX_REQUEST_ID_BYTES: usize = 64;
/// How many of a participant's latest requests the server remembers to answer a retry
/// (same id) from the log instead of running it again. An older id is a new request.
pub const RETRY_WINDOW: usize = 256;
/// Connections one invitation may hold at once on one server (a phone and a laptop, with
/// room for a reconnect); a new one beyond it closes the oldest with
/// [`close::TOO_MANY_CONNECTIONS`].
pub const MAX_CONNECTIONS_PER_TOKEN: usize = 4;
/// Welcomes one invitation gets at once (each of its `MAX_CONNECTIONS_PER_TOKEN` places
/// reconnecting ten times), and then one every `WELCOME_EVERY_MS`: a welcome is a whole
/// snapshot (in version 1 the whole roster). A `hello` past them is refused with
/// `rate_limited` and [`close::RATE_LIMITED`], before any snapshot is built; per server.
pub const WELCOME_BURST: u32 = 40;
pub const WELCOME_EVERY_MS: u64 = 3_000;
/// HTTP requests one invitation makes to the routes a participant may call (document
/// exports, versions and diffs, the video meeting, the exports of staff), at once, and then
/// per second; per server. A request past them is answered 429 `rate_limited` before the
/// convention is asked anything. The organizer token has no such budget.
pub const HTTP_BURST: u32 = 60;
pub const HTTP_PER_SEC: u32 = 5;
/// Messages one connection may send on `/ws` (PROTOCOL.md §16): `MESSAGE_BURST` at once, then
/// `MESSAGES_PER_SEC` (an invitation holds at most `MAX_CONNECTIONS_PER_TOKEN`). A message
/// past them is not executed and is answered `rate_limited`.
pub const MESSAGES_PER_SEC: u32 = 20;
pub const MESSAGE_BURST: u32 = 40;
/// Messages past the limit one connection is answered `rate_limited` for: `OVER_LIMIT_FORGIVEN
/// - 1` at once, then `OVER_LIMIT_PER_SEC`; the next one (the 100th of a burst) closes it with
/// [`close::RATE_LIMITED`], unanswered.
pub const OVER_LIMIT_FORGIVEN: u32 = 100;
pub const OVER_LIMIT_PER_SEC: u32 = 1;
/// The chat one participant may post (facilitators aside), in bytes: a line costs its text's
/// UTF-8 bytes and `CHAT_LINE_COST` for the record around it; `CHAT_BYTES_BURST` at once, then
/// `CHAT_BYTES_PER_SEC`; per server. A line past it is refused with `rate_limited`.
pub const CHAT_LINE_COST: u32 = 200;
pub const CHAT_BYTES_BURST: u32 = 64 * 1024;
pub const CHAT_BYTES_PER_SEC: u32 = 4 * 1024;

/// WebSocket close codes the server uses.
pub mod close {
    /// The server is shutting down; reconnect later (standard "going away").
    pub const GOING_AWAY: u16 = 1001;
    /// A frame larger than [`super::MAX_FRAME_BYTES`] (standard "message too big").
    pub const TOO_LARGE: u16 = 1009;
    /// An internal error; reconnect.
    pub const INTERNAL: u16 = 1011;
    /// The first message was not a valid `hello`, or none came in time.
    pub const HELLO_EXPECTED: u16 = 4000;
    /// The invitation token is unknown or malformed.
    pub const UNKNOWN_TOKEN: u16 = 4001;
    /// The invitation was revoked (at hello, or while connected).
    pub const REVOKED: u16 = 4002;
    /// The client speaks a protocol version the server does not.
    pub const UNSUPPORTED_VERSION: u16 = 4003;
    /// The client kept sending faster than its rate limit after being told.
    pub const RATE_LIMITED: u16 = 4008;
    /// The client read too slowly and its outbound queue filled: reconnect to resync.
    pub const SLOW_CONSUMER: u16 = 4009;
    /// A binary frame: this endpoint speaks JSON text only.
    pub const BINARY: u16 = 4010;
    /// A frame that breaks RFC 6455 (unmasked, reserved bits, a bad opcode or length).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The convention is unavailable for now (its store cannot be written or read, or its
    /// task is being restarted): reconnect with backoff ("try again later").
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// This invitation is open in more places than allowed (`MAX_CONNECTIONS_PER_TOKEN`): the
    /// oldest connection is closed. Do not reconnect automatically.
    pub const TOO_MANY_CONNECTIONS: u16 = 4011;
    /// The convention's stored log is damaged: an operator must repair it. Do not reconnect
    /// automatically.
    pub const DAMAGED: u16 = 4012;
    /// A facilitator removed this participant from the live convention: every connection is
    /// closed, and a new `hello` is refused with this code until they are readmitted. Do not
    /// reconnect automatically.
    pub const REMOVED: u16 = 4013;
    /// The organizer deleted the convention (`DELETE /api/conventions/{id}`): every
    /// connection of it is closed (`/ws`, `/doc`, `/public/ws`), and its invitations and
    /// public link are unknown from then on. Do not reconnect: the convention is gone.
    pub const DELETED: u16 = 4014;
}

/// Roles a participant may hold. A guarantor holds no other role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Facilitator,
    Rapporteur,
    Guarantor,
    Expert,
}

/// Stable error codes, carried by `error` messages and HTTP error bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, or not a message of the expected shape.
    BadMessage,
    /// A message or command `type` the server does not know.
    UnknownType,
    /// The sender's roles do not allow the command.
    Forbidden,
    /// An argument is out of range or malformed.
    Invalid,
    /// A convention, participant, room or call that does not exist.
    NotFound,
    /// The command does not fit the current state.
    Conflict,
    /// Too many messages: this one was dropped, not executed.
    RateLimited,
    /// The invitation token is unknown, malformed or revoked.
    Unauthorized,
    /// The protocol version is not spoken by this server.
    UnsupportedVersion,
    /// The store could not make the command durable; nothing was applied. Retry.
    Unavailable,
    /// The secret poll's ballot box was altered outside the server (more ballots than voters,
    /// or a sealed box that does not give the logged result): none of its ballots is counted.
    Tampered,
    /// The sender's chat is muted by a facilitator; the message says for how long (the
    /// sender's snapshot and `participant_muted` event carry `until`).
    Muted,
    /// A bug on the server's side.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadMessage => "bad_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Tampered => "tampered",
            ErrorCode::Muted => "muted",
            ErrorCode::Internal => "internal",
        }
    }
}

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Actor {
    Organizer,
    Timer,
    Participant(String),
    /// Someone of the public audience, through the public link (a public poll's ballot).
    Public,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueOrder {
    /// First raised, first heard.
    Raised,
    /// Those who have spoken least so far first.
    LeastSpoken,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Timer,
    Facilitator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FloorEndReason {
    Yielded,
    Taken,
    Timer,
    Moved,
}

/// A person of the roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// Roster attributes (commune, age band, gender...). Sent only to facilitators and
    /// guarantors; empty for others.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// A participant -> room pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Assignment {
    pub participant: String,
    pub room: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RoomName {
    pub id: String,
    pub name: String,
}

/// Everything a convention's log holds. Stored as this JSON in the durable log, and sent to
/// the participants allowed to see it (see PROTOCOL.md, "Visibility").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    ConventionCreated {
        name: String,
    },
    ParticipantAdded {
        person: Person,
    },
    /// Never sent to participants; stored with the hash of the token, never the token.
    InviteIssued {
        participant: String,
        token_hash: String,
    },
    InviteRevoked {
        participant: String,
    },
    RoomsCreated {
        rooms: Vec<RoomName>,
    },
    RoomsCleared,
    RoomsAssigned {
        method: String,
        assignments: Vec<Assignment>,
    },
    BreakoutsOpened {
        ends_at: u64,
        warn_at: u64,
    },
    BreakoutsWarned,
    BreakoutsExtended {
        ends_at: u64,
        warn_at: u64,
    },
    BreakoutsClosed {
        reason: CloseReason,
    },
    ParticipantMoved {
        participant: String,
        room: String,
    },
    BroadcastSent {
        text: String,
    },
    ChatPosted {
        room: String,
        text: String,
    },
    HandRaised {
        room: String,
        participant: String,
    },
    HandLowered {
        room: String,
        participant: String,
    },
    FloorGiven {
        room: String,
        participant: String,
        ends_at: Option<u64>,
    },
    FloorEnded {
        room: String,
        participant: String,
        spoken_ms: u64,
        reason: FloorEndReason,
    },
    QueueOrderSet {
        room: String,
        order: QueueOrder,
    },
    SpeakingLimitSet {
        room: String,
        limit_ms: Option<u64>,
    },
    /// The turn of `participant` in `room` now ends at `ends_at` (`null`: no limit).
    FloorLimitSet {
        room: String,
        participant: String,
        ends_at: Option<u64>,
    },
    FacilitatorCalled {
        room: String,
        message: String,
    },
    CallResolved {
        call: u64,
    },
    /// Facilitators and guarantors only.
    PollDrafted {
        poll: String,
        spec: PollSpec,
    },
    /// Facilitators and guarantors only.
    PollEdited {
        poll: String,
        spec: PollSpec,
    },
    /// Facilitators and guarantors only.
    PollDeleted {
        poll: String,
    },
    PollOpened {
        poll: String,
        spec: PollSpec,
        ends_at: Option<u64>,
    },
    /// A named poll's ballot (the voter is `by`): to the voter, facilitators and guarantors.
    BallotCast {
        poll: String,
        ballot: Ballot,
    },
    /// A secret poll: `by` has voted. Sent to the voter only.
    VoterMarked {
        poll: String,
    },
    /// Never sent and never in the log: the ballot box keeps secret ballots with no voter,
    /// no time and no order.
    SecretBallotCast {
        poll: String,
        ballot: Ballot,
    },
    /// `tally` is present only for those who may see the results; `turnout` only for
    /// facilitators and guarantors (and in the log, absent from logs written before it was
    /// kept).
    PollClosed {
        poll: String,
        reason: CloseReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tally: Option<Tally>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        turnout: Option<Turnout>,
    },
    PollRevealed {
        poll: String,
    },
    PollPublished {
        poll: String,
        tally: Tally,
    },
    RotationPlanned {
        plan: RotationPlan,
    },
    /// Round `round` starts; everyone goes to its rooms.
    RotationRoundStarted {
        round: u32,
        ends_at: u64,
        warn_at: u64,
    },
    RotationWarned,
    /// The round ended; everyone goes to the rooms of round `next`, starting at `starts_at`.
    RotationTransition {
        next: u32,
        starts_at: u64,
    },
    RotationPaused {
        remaining_ms: u64,
    },
    /// The frozen phase goes on; its deadline is the pause's `remaining_ms` after this event.
    RotationResumed,
    RotationExtended {
        ends_at: u64,
        warn_at: u64,
    },
    /// Over: everyone the rotation placed returns to the plenary.
    RotationEnded {
        stopped: bool,
    },
    /// An expert (index in the plan's `experts`) is out: the schedule is replaced.
    ExpertAbsent {
        expert: u32,
        schedule: Vec<Vec<Option<u32>>>,
    },
    GroupJoined {
        participant: String,
        group: u32,
    },
    /// In an expert's room; the question's id is this event's seq.
    QuestionAsked {
        room: String,
        text: String,
    },
    QuestionAnswered {
        question: u64,
        text: String,
    },
    DocumentCreated {
        name: String,
        title: String,
    },
    WritingGroupSet {
        group: String,
        members: Vec<String>,
    },
    DocumentOpened {
        document: String,
        group: String,
    },
    DocumentClosed {
        document: String,
        group: String,
    },
    /// The document's content at this moment is kept as version `version`.
    VersionNamed {
        document: String,
        version: u32,
        label: String,
    },
    // Run sheet (§20). Everyone receives these.
    /// A sequence is added to the run sheet, before `before` (`null`: at the end).
    SequenceAdded {
        sequence: String,
        spec: SequenceSpec,
        before: Option<String>,
    },
    SequenceEdited {
        sequence: String,
        spec: SequenceSpec,
    },
    SequenceDeleted {
        sequence: String,
    },
    /// Moved before `before` (`null`: to the end).
    SequenceMoved {
        sequence: String,
        before: Option<String>,
    },
    /// Started at the record's `at`, planned to end at `ends_at`; the events of its actions
    /// follow with the next seqs, from the same append.
    SequenceStarted {
        sequence: String,
        ends_at: u64,
    },
    SequenceExtended {
        sequence: String,
        by_ms: u64,
        ends_at: u64,
    },
    /// `early`: before its planned end.
    SequenceEnded {
        sequence: String,
        early: bool,
    },
    SequenceSkipped {
        sequence: String,
    },
    // Hearings: questions from the floor (PROTOCOL.md section 22).
    /// A hearing is planned: `speaker` (an expert) will be heard in `room`.
    HearingCreated {
        hearing: String,
        title: String,
        speaker: String,
        room: String,
        anonymous: bool,
        moderated: bool,
    },
    HearingOpened {
        hearing: String,
    },
    HearingClosed {
        hearing: String,
    },
    /// `by` asks; the question's id is this event's seq. To the author, facilitators and
    /// guarantors only: the room sees questions as `hearing_question` messages.
    HearingQuestionAsked {
        hearing: String,
        text: String,
    },
    /// `by` supports the question. To the supporter, facilitators and guarantors only.
    HearingQuestionSupported {
        hearing: String,
        question: u64,
    },
    /// `by` withdraws their support. To the supporter, facilitators and guarantors only.
    HearingSupportWithdrawn {
        hearing: String,
        question: u64,
    },
    HearingQuestionApproved {
        hearing: String,
        question: u64,
    },
    /// `question` is a duplicate of `into`, which takes its author and supporters.
    HearingQuestionsMerged {
        hearing: String,
        question: u64,
        into: u64,
    },
    HearingQuestionHidden {
        hearing: String,
        question: u64,
        reason: String,
    },
    HearingQuestionAnswering {
        hearing: String,
        question: u64,
    },
    HearingQuestionAnswered {
        hearing: String,
        question: u64,
    },
    // Moderation (PROTOCOL.md §21).
    /// The message whose `chat_posted` has seq `message` is hidden. Sent to the room and to
    /// staff; `reason` only to facilitators and guarantors.
    ChatHidden {
        room: String,
        message: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A hidden message is shown again. Sent to the room and to staff; those who are not
    /// staff (who had lost the line) get it back in `line`, to put in its place by `seq`.
    ChatUnhidden {
        room: String,
        message: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<ChatLine>,
    },
    /// `by` reports a message to the facilitators; the report's id is this event's seq.
    /// Facilitators, guarantors and the reporter.
    ChatReported {
        room: String,
        message: u64,
        reason: String,
    },
    /// Facilitators, guarantors and the reporter.
    ReportDismissed {
        report: u64,
    },
    /// `participant` may not chat until `until`. Facilitators, guarantors and the participant.
    ParticipantMuted {
        participant: String,
        until: u64,
        reason: String,
    },
    /// `early`: a facilitator lifted the mute; otherwise its time ran out (`by` is the timer).
    ParticipantUnmuted {
        participant: String,
        early: bool,
    },
    /// `participant` is out of the live convention until readmitted: everyone hears of it
    /// (they leave their room), `reason` only facilitators and guarantors.
    ParticipantRemoved {
        participant: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    ParticipantReadmitted {
        participant: String,
    },
    // Public audience (§24). Never sent on `/ws`: organizers (HTTP) and the audit trail.
    /// A public link was made, replacing any earlier one; its token is stored hashed.
    PublicLinkCreated {
        token_hash: String,
        livestream: Option<String>,
    },
    /// The public link was revoked: its viewers are closed (4021).
    PublicLinkRevoked,
    LivestreamSet {
        livestream: Option<String>,
    },
    /// This named version of the document is what the public page shows.
    DocumentPublished {
        document: String,
        version: u32,
    },
    /// A poll for the public audience is open (§24, public polls): indicative, one ballot per
    /// browser. Audited.
    PublicPollOpened {
        poll: String,
        question: String,
        options: Vec<String>,
    },
    /// One browser's answer to a public poll: `browser` is a hash of the browser's own id,
    /// which says nothing of who holds it. Never audited.
    PublicBallotCast {
        poll: String,
        choice: u32,
        browser: String,
    },
    /// The public poll is closed with this tally (shown to the public). Audited.
    PublicPollClosed {
        poll: String,
        tally: PublicTally,
    },
}

/// An event with its place in the convention's log. `at` is in ms since the Unix epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    pub seq: u64,
    pub at: u64,
    pub by: Actor,
    pub event: Event,
    /// The id of the request that produced it, if a participant's. A request repeated with
    /// the same id (a retry after a lost reply) is answered `ok` again, never run twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// How to assign participants to breakout rooms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum AssignMethod {
    Random,
    /// Spread each value of a roster attribute (e.g. `commune`) evenly over the rooms.
    Balanced {
        attribute: String,
    },
    Manual {
        assignments: Vec<Assignment>,
    },
}

fn yes() -> bool {
    true
}

/// A field that may be omitted (`None`), `null` (`Some(None)`) or a value: serde reads an
/// omitted field with `default`, and a present one, `null` included, here.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
fn plenary() -> String {
    PLENARY_ID.to_string()
}
fn one_minute() -> u64 {
    60_000
}

/// Commands a participant sends inside a `request`. Each has an allow-list of roles
/// (PROTOCOL.md, "Commands").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Command {
    SendChat {
        text: String,
        /// The room the sender believed they were in when they wrote (a client that was
        /// offline may resend later): if they are elsewhere by now, the line is refused
        /// with `conflict` rather than posted where it was not meant to be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    RaiseHand {
        /// As for `send_chat`: the room the hand was raised in, refused with `conflict`
        /// if its sender has been moved since.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    LowerHand,
    YieldFloor,
    CallFacilitator {
        #[serde(default)]
        message: String,
    },
    /// Facilitators and guarantors: go to any room (guarantors observe, unseen as members).
    Visit {
        room: String,
    },
    /// Either `count` rooms named "Salle N", or one room per name.
    CreateRooms {
        #[serde(default)]
        count: Option<u32>,
        #[serde(default)]
        names: Vec<String>,
    },
    ClearRooms,
    AssignRooms {
        #[serde(flatten)]
        method: AssignMethod,
        /// Whom to assign; default: every citizen (only those online if `only_present`).
        #[serde(default)]
        participants: Option<Vec<String>>,
        #[serde(default = "yes")]
        only_present: bool,
    },
    OpenBreakouts {
        duration_ms: u64,
        /// How long before the end everyone is warned (default one minute).
        #[serde(default = "one_minute")]
        warning_ms: u64,
    },
    ExtendBreakouts {
        by_ms: u64,
    },
    CloseBreakouts,
    Broadcast {
        text: String,
    },
    MoveParticipant {
        participant: String,
        room: String,
    },
    ResolveCall {
        call: u64,
    },
    /// Give the floor to `participant`, or to the next in the room's queue order.
    GiveFloor {
        #[serde(default)]
        room: Option<String>,
        #[serde(default)]
        participant: Option<String>,
        /// This turn's speaking limit: omitted, the room's (`limit_ms` of the room);
        /// `null`, none; a number, that many ms.
        #[serde(
            default,
            deserialize_with = "present",
            skip_serializing_if = "Option::is_none"
        )]
        limit_ms: Option<Option<u64>>,
    },
    EndFloor {
        #[serde(default)]
        room: Option<String>,
    },
    SetQueueOrder {
        #[serde(default)]
        room: Option<String>,
        order: QueueOrder,
    },
    SetSpeakingLimit {
        #[serde(default)]
        room: Option<String>,
        limit_ms: Option<u64>,
    },
    /// Change the limit of the turn under way: `limit_ms` from the start of the turn (`null`:
    /// none). A limit already passed ends the turn at once.
    SetFloorLimit {
        #[serde(default)]
        room: Option<String>,
        limit_ms: Option<u64>,
    },
    /// Prepare a poll; its id (`q1`, `q2`...) is in the `poll_drafted` event.
    DraftPoll {
        spec: PollSpec,
    },
    /// Change a draft.
    EditPoll {
        poll: String,
        spec: PollSpec,
    },
    DeletePoll {
        poll: String,
    },
    OpenPoll {
        poll: String,
    },
    ClosePoll {
        poll: String,
    },
    /// Let participants see the tally before the close (or after it, before publishing).
    RevealResults {
        poll: String,
    },
    PublishResults {
        poll: String,
    },
    Vote {
        poll: String,
        ballot: Ballot,
    },
    /// Plan an expert rotation ("speed dating"): groups, schedule, rooms. Shown to everyone.
    PlanRotation {
        experts: Vec<String>,
        #[serde(flatten)]
        grouping: Grouping,
        /// How many groups (default: one per expert); or give `group_size`.
        #[serde(default)]
        group_count: Option<u32>,
        #[serde(default)]
        group_size: Option<u32>,
        /// Whom to put in groups; default: every citizen (online ones if `only_present`).
        #[serde(default)]
        participants: Option<Vec<String>>,
        #[serde(default = "yes")]
        only_present: bool,
        round_ms: u64,
        #[serde(default)]
        transition_ms: u64,
        #[serde(default = "one_minute")]
        warning_ms: u64,
        /// Default: as many as needed for every group to meet every expert.
        #[serde(default)]
        rounds: Option<u32>,
        /// Resting groups wait in a break room rather than the plenary.
        #[serde(default)]
        break_room: bool,
    },
    StartRotation,
    PauseRotation,
    ResumeRotation,
    ExtendRound {
        by_ms: u64,
    },
    SkipRound,
    StopRotation,
    /// The expert drops out: the rounds left are re-planned.
    MarkExpertAbsent {
        expert: String,
    },
    /// A latecomer joins a group (default: the smallest).
    AddToGroup {
        participant: String,
        #[serde(default)]
        group: Option<u32>,
    },
    /// In an expert's room.
    AskQuestion {
        text: String,
    },
    /// The room's expert, or a facilitator.
    AnswerQuestion {
        question: u64,
        text: String,
    },
    /// A new collaborative document (edit it over `/doc/{convention}/{name}`).
    CreateDocument {
        name: String,
        title: String,
    },
    /// Create or replace a writing group.
    SetWritingGroup {
        group: String,
        members: Vec<String>,
    },
    /// Let a writing group's citizens write in a document.
    OpenDocument {
        document: String,
        group: String,
    },
    CloseDocument {
        document: String,
        group: String,
    },
    /// Keep the document's current content as a named version.
    NameVersion {
        document: String,
        label: String,
    },
    // Run sheet (§20). Facilitators.
    /// Add a sequence to the run sheet, before `before` (default: at the end).
    AddSequence {
        spec: SequenceSpec,
        #[serde(default)]
        before: Option<String>,
    },
    /// Change a sequence that has not started.
    EditSequence {
        sequence: String,
        spec: SequenceSpec,
    },
    DeleteSequence {
        sequence: String,
    },
    /// Move a planned sequence before `before` (default: to the end).
    MoveSequence {
        sequence: String,
        #[serde(default)]
        before: Option<String>,
    },
    /// Perform the sequence's prepared actions, all or none. With `end_running`, the
    /// sequence under way is ended first; without it, one running is a `conflict`.
    StartSequence {
        sequence: String,
        #[serde(default)]
        end_running: bool,
    },
    /// Push the running sequence's planned end (and a breakouts sequence's open rooms).
    ExtendSequence {
        by_ms: u64,
    },
    /// End the running sequence (its actions' effects stay).
    EndSequence,
    /// Skip a planned sequence.
    SkipSequence {
        sequence: String,
    },
    // Hearings: questions from the floor (PROTOCOL.md section 22).
    /// Plan a hearing of `speaker` (an expert of the roster) in `room` (default the plenary).
    CreateHearing {
        title: String,
        speaker: String,
        #[serde(default = "plenary")]
        room: String,
        /// Nobody but facilitators and guarantors sees who asked what.
        #[serde(default)]
        anonymous: bool,
        /// Questions reach the room only once a facilitator approves them.
        #[serde(default)]
        moderated: bool,
    },
    OpenHearing {
        hearing: String,
    },
    CloseHearing {
        hearing: String,
    },
    /// In the hearing's room, while it is open.
    AskHearingQuestion {
        hearing: String,
        text: String,
    },
    SupportQuestion {
        hearing: String,
        question: u64,
    },
    WithdrawSupport {
        hearing: String,
        question: u64,
    },
    ApproveQuestion {
        hearing: String,
        question: u64,
    },
    /// `question` is a duplicate of `into`: merged, with its supports.
    MergeQuestion {
        hearing: String,
        question: u64,
        into: u64,
    },
    HideQuestion {
        hearing: String,
        question: u64,
        reason: String,
    },
    MarkAnswering {
        hearing: String,
        question: u64,
    },
    MarkAnswered {
        hearing: String,
        question: u64,
    },
    // Moderation (PROTOCOL.md §21).
    /// Facilitators: hide a chat message (`message`: the seq of its `chat_posted`).
    HideChat {
        message: u64,
        reason: String,
    },
    /// Facilitators: show a hidden message again (a hiding undone).
    UnhideChat {
        message: u64,
    },
    /// Everyone but guarantors: report a message of one's room to the facilitators.
    ReportChat {
        message: u64,
        #[serde(default)]
        reason: String,
    },
    /// Facilitators: close a report without hiding the message.
    DismissReport {
        report: u64,
    },
    /// Facilitators: mute a participant's chat for `duration_ms` (again: a new deadline).
    Mute {
        participant: String,
        duration_ms: u64,
        #[serde(default)]
        reason: String,
    },
    /// Facilitators: lift a mute early.
    Unmute {
        participant: String,
    },
    /// Facilitators: remove a participant from the live convention.
    RemoveParticipant {
        participant: String,
        reason: String,
    },
    /// Facilitators: let a removed participant come back.
    Readmit {
        participant: String,
    },
    // Public audience (§24). Facilitators.
    /// Show this named version of the document (the opinion) on the public page.
    PublishDocument {
        document: String,
        version: u32,
    },
    /// Open a poll for the public audience (one at a time; needs an active public link).
    OpenPublicPoll {
        question: String,
        options: Vec<String>,
    },
    /// Close the open public poll: its tally goes to the public page.
    ClosePublicPoll {
        poll: String,
    },
}

/// Messages from the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ClientMessage {
    /// The first message of every connection.
    Hello {
        protocol: u32,
        token: String,
        /// Reconnecting: the `seq` of the client's state (its last welcome, snapshot or event).
        /// The welcome is then at this seq or after it, also from another node of a cluster
        /// whose replica was a moment behind: no event seen before comes again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_seq: Option<u64>,
    },
    /// A command; `id` is chosen by the client and echoed in the one reply.
    Request { id: String, command: Command },
    /// Is the connection alive? Answered at once by a `pong` (PROTOCOL.md, "Heartbeat"):
    /// WebSocket pings are invisible to a web page, so a page that hears nothing for a while
    /// asks, and takes silence for a dead network.
    Ping,
    // Protocol version 2 (section 25).
    /// The roster, unless the client's cached `version` is current: answered by one `roster`
    /// or one `not_modified` message (in order with other answers; no id).
    GetRoster {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
    },
}

/// Messages from the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ServerMessage {
    /// The answer to `hello`: who you are, and everything you may see at `snapshot.seq`.
    Welcome {
        protocol: u32,
        you: Person,
        /// The server's clock, ms since the epoch, to run countdowns against.
        server_time: u64,
        snapshot: Snapshot,
    },
    /// Your view changed wholesale (you moved room): replace your state with this one.
    Snapshot {
        server_time: u64,
        snapshot: Snapshot,
    },
    /// One event of the log, in order of `seq`.
    Event {
        #[serde(flatten)]
        record: Record,
    },
    /// The one success reply to a request. `seq` is the last event it produced.
    Ok { id: String, seq: u64 },
    /// The one failure reply to a request (or to a frame that could not be read, `id` null).
    Error {
        id: Option<String>,
        code: ErrorCode,
        message: String,
    },
    /// Someone came online or went offline (not part of the log).
    Presence { participant: String, online: bool },
    /// A new audit entry (facilitators and guarantors).
    Audit { entry: AuditEntry },
    /// A poll's participation and tally changed (not part of the log). `participation` for
    /// facilitators and guarantors, `tally` for those who may see the results.
    PollTally {
        poll: String,
        participation: Option<Participation>,
        tally: Option<Tally>,
    },
    /// The answer to a `ping`, with the server's clock (ms since the epoch).
    Pong { server_time: u64 },
    /// A question of a hearing changed (asked, supported, approved, merged, hidden,
    /// answered): how this viewer sees it now (not part of the log). To those in the
    /// hearing's room and to facilitators and guarantors; a pending question only to the
    /// staff.
    HearingQuestion {
        hearing: String,
        question: HearingQuestion,
    },
    // Public audience (§24).
    /// How many public viewers watch now (facilitators and guarantors; not part of the
    /// log): after the welcome when a public link is active, then at most once a second.
    PublicViewers { count: u64 },
    // Protocol version 2 (section 25).
    /// The answer to `get_roster`: every person of the roster (attributes for facilitators
    /// and guarantors only) at `version`. The same bytes go to every viewer of an audience.
    Roster {
        version: u64,
        count: u64,
        people: Vec<Person>,
    },
    /// The answer to `get_roster` when the client's `version` is current.
    NotModified { resource: String, version: u64 },
    /// Version 2: the presence changes of the last tick (at most one per tick): `people`
    /// added to or changed in your view, `gone` left your view, `rooms` whose counts changed.
    PresenceBatch {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<PersonState>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        gone: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rooms: Vec<RoomCount>,
    },
    /// Version 2: you changed room (instead of a `snapshot`): `room` is where you are now,
    /// with its inside; replace your polls, hearings and presence with these. Other rooms'
    /// insides are dropped (except for facilitators and guarantors, who see every room).
    RoomView {
        server_time: u64,
        seq: u64,
        room: String,
        inside: RoomInside,
        polls: Vec<PollView>,
        hearings: Vec<HearingView>,
        presence: PresenceView,
    },
}
