//! Wire types of the Convene protocol: JSON text frames over the WebSocket `/ws`, and the
//! JSON bodies of the organizer HTTP API. PROTOCOL.md documents them; `schema.json` is
//! generated from them (`cargo run -p convene-protocol --bin convene-schema`), and CI checks
//! the committed file against the code.

pub mod api;

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
/// How many chat lines of each room a snapshot carries (the most recent ones).
pub const SNAPSHOT_CHAT_LINES: usize = 200;

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

/// What a poll asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PollKind {
    /// One option.
    Single { options: Vec<String> },
    /// Between `min` and `max` options.
    Multiple {
        options: Vec<String>,
        min: u32,
        max: u32,
    },
    /// A value from `min` to `max` (e.g. 1 to 5, 0 to 10), with labels at the ends.
    Scale {
        min: i32,
        max: i32,
        #[serde(default)]
        min_label: String,
        #[serde(default)]
        max_label: String,
    },
    /// Order every option; results show Borda scores and the instant-runoff winner with its rounds.
    Ranking { options: Vec<String> },
    /// A short free text of at most `max_chars` characters.
    Text { max_chars: u32 },
    /// For / against / for with reservations / abstain, on a proposal.
    Position,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    For,
    Against,
    ForWithReservations,
    Abstain,
}

/// A poll as a facilitator prepares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollSpec {
    pub question: String,
    #[serde(flatten)]
    pub kind: PollKind,
    /// Secret: no ballot is ever linked to its voter, and a ballot, once cast, is final.
    /// Named (default): voters may change their ballot until the close.
    #[serde(default)]
    pub secret: bool,
    /// Participants see the tally while voting; otherwise once revealed or published.
    #[serde(default)]
    pub live_results: bool,
    /// Roles that vote (default: citizens). Guarantors never vote.
    #[serde(default)]
    pub voters: Vec<Role>,
    /// Ballots needed for the result to count; shown against participation.
    #[serde(default)]
    pub quorum: Option<u32>,
    /// Closes by itself this long after opening.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// A poll of one room (only its members vote); absent for the whole convention.
    #[serde(default)]
    pub room: Option<String>,
}

/// A ballot; option numbers are indexes into the poll's `options`, from 0.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Ballot {
    Single {
        choice: u32,
    },
    Multiple {
        choices: Vec<u32>,
    },
    Scale {
        value: i32,
    },
    /// Most preferred first.
    Ranking {
        order: Vec<u32>,
    },
    Text {
        text: String,
    },
    Position {
        stance: Stance,
    },
}

/// One round of an instant-runoff count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IrvRound {
    /// First-preference votes of each option, by option index; `null` for an option
    /// eliminated in an earlier round.
    pub counts: Vec<Option<u64>>,
    /// The option eliminated at the end of the round; none in the last round.
    pub eliminated: Option<u32>,
}

/// A poll's result: counts, never who voted what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tally {
    pub ballots: u64,
    /// How many ballots chose each option (single, multiple), each stance (position, in the
    /// order for, against, for_with_reservations, abstain) or each value from `min` (scale).
    #[serde(default)]
    pub counts: Vec<u64>,
    /// Ranking: each option's Borda score (n-1 points for a first place, 0 for a last).
    #[serde(default)]
    pub borda: Vec<u64>,
    /// Ranking: the instant-runoff rounds.
    #[serde(default)]
    pub rounds: Vec<IrvRound>,
    /// Ranking: the instant-runoff winner.
    #[serde(default)]
    pub winner: Option<u32>,
    /// Free text: the answers, sorted alphabetically.
    #[serde(default)]
    pub texts: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    Draft,
    Open,
    Closed,
    Published,
}

/// Who has voted, in numbers (facilitators and guarantors).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Participation {
    pub voted: u64,
    /// Participants who may vote in it.
    pub eligible: u64,
    /// Of those, how many are online (and in the poll's room, for a room poll).
    pub eligible_present: u64,
    pub quorum: Option<u32>,
}

/// A poll as a participant may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PollView {
    pub id: String,
    pub spec: PollSpec,
    pub status: PollStatus,
    pub opened_at: Option<u64>,
    pub ends_at: Option<u64>,
    pub revealed: bool,
    /// Whether you may vote in it.
    pub eligible: bool,
    pub you_voted: bool,
    /// Your current ballot (named polls only: a secret ballot is never shown again).
    pub your_ballot: Option<Ballot>,
    /// Facilitators and guarantors only.
    pub participation: Option<Participation>,
    /// Present when you may see the results.
    pub tally: Option<Tally>,
}

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

/// A collaborative document as a participant sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DocumentView {
    pub name: String,
    pub title: String,
    /// Writing groups whose citizens may write it.
    pub groups: Vec<String>,
    /// Whether you may write it (otherwise you read it).
    pub can_write: bool,
    pub versions: Vec<VersionInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub label: String,
    pub at: u64,
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
    /// `tally` is present only for those who may see the results.
    PollClosed {
        poll: String,
        reason: CloseReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tally: Option<Tally>,
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
    },
    RaiseHand,
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
}

/// Messages from the client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ClientMessage {
    /// The first message of every connection.
    Hello { protocol: u32, token: String },
    /// A command; `id` is chosen by the client and echoed in the one reply.
    Request { id: String, command: Command },
}

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
    pub participants: Vec<ParticipantView>,
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
}

impl ClientMessage {
    /// Every `type` a client message may have: a frame with another type is answered with
    /// `unknown_type` rather than `bad_message`.
    pub const TYPES: &'static [&'static str] = &["hello", "request"];
}

impl Command {
    /// Every command `type`.
    pub const TYPES: &'static [&'static str] = &[
        "send_chat",
        "raise_hand",
        "lower_hand",
        "yield_floor",
        "call_facilitator",
        "visit",
        "create_rooms",
        "clear_rooms",
        "assign_rooms",
        "open_breakouts",
        "extend_breakouts",
        "close_breakouts",
        "broadcast",
        "move_participant",
        "resolve_call",
        "give_floor",
        "end_floor",
        "set_queue_order",
        "set_speaking_limit",
        "draft_poll",
        "edit_poll",
        "delete_poll",
        "open_poll",
        "close_poll",
        "reveal_results",
        "publish_results",
        "vote",
        "plan_rotation",
        "start_rotation",
        "pause_rotation",
        "resume_rotation",
        "extend_round",
        "skip_round",
        "stop_rotation",
        "mark_expert_absent",
        "add_to_group",
        "ask_question",
        "answer_question",
        "create_document",
        "set_writing_group",
        "open_document",
        "close_document",
        "name_version",
    ];
}

/// Why a frame could not be read as a client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub code: ErrorCode,
    pub message: String,
    /// The request id, when the frame had one: the error reply echoes it.
    pub id: Option<String>,
}

/// Parse one text frame. Distinguishes malformed JSON (`bad_message`), an unknown message or
/// command type (`unknown_type`) and a known type with the wrong shape (`bad_message`).
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ParseError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ParseError {
        code: ErrorCode::BadMessage,
        message: format!("not valid JSON: {e}"),
        id: None,
    })?;
    let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
    let fail = |code, message: String| ParseError {
        code,
        message,
        id: id.clone(),
    };
    let ty = value
        .get("type")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| fail(ErrorCode::BadMessage, "no \"type\" string".into()))?;
    let ty = ty.as_str();
    if !ClientMessage::TYPES.contains(&ty) {
        return Err(fail(
            ErrorCode::UnknownType,
            format!("unknown message type {ty:?}"),
        ));
    }
    if ty == "request" {
        let cty = value.pointer("/command/type").and_then(|v| v.as_str());
        match cty {
            Some(c) if !Command::TYPES.contains(&c) => {
                return Err(fail(
                    ErrorCode::UnknownType,
                    format!("unknown command type {c:?}"),
                ))
            }
            None => {
                return Err(fail(
                    ErrorCode::BadMessage,
                    "a request needs a command with a \"type\"".into(),
                ))
            }
            Some(_) => {}
        }
    }
    serde_json::from_value(value)
        .map_err(|e| fail(ErrorCode::BadMessage, format!("malformed {ty}: {e}")))
}

/// The JSON Schema of every wire type, as committed in `protocol/schema.json`.
pub fn schema() -> serde_json::Value {
    let settings = schemars::gen::SchemaSettings::draft07();
    let mut gen = settings.into_generator();
    let mut defs = serde_json::Map::new();
    macro_rules! add {
        ($($t:ty),*) => {$(
            let s = gen.subschema_for::<$t>();
            let _ = s;
        )*};
    }
    add!(
        ClientMessage,
        ServerMessage,
        Command,
        Event,
        Record,
        AuditEntry
    );
    add!(
        api::CreateConvention,
        api::ConventionSummary,
        api::RosterEntry,
        api::RosterAdded,
        api::IssueInvites,
        api::Invite,
        api::InviteStatus,
        api::ErrorBody,
        api::PollResults,
        api::NamedBallot
    );
    for (name, s) in gen.definitions() {
        defs.insert(name.clone(), serde_json::to_value(s).unwrap_or_default());
    }
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "Convene protocol",
        "description": format!("Wire types of the Convene protocol, version {PROTOCOL_VERSION}. See PROTOCOL.md."),
        "definitions": defs,
    })
}
