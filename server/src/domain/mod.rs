//! The pure heart of Convene: a convention's state, the commands people send and the events
//! they produce. No I/O, no clock (time is an argument), no randomness of its own (a seed is
//! an argument), no serde: the edges translate.

mod assign;
// Attendance (issue #17): presence intervals merged, split by day, summed up.
pub mod attendance;
mod convention;
mod decide;
pub mod documents;
pub mod hearings;
pub mod moderation;
pub mod polls;
// Public audience (§24).
pub mod public;
pub mod questions;
mod roles;
pub mod rotation;
// Run sheet.
pub mod runsheet;

pub use assign::{assign_balanced, assign_random};
pub use convention::{
    Breakout, Call, ChatLine, Convention, Floor, Notice, Person, Room, RoomState,
};
pub use decide::{decide, Context};
pub use moderation::{Hidden, Mute, Removal, Report};
pub use polls::{
    may_vote, turnout, Ballot, Poll, PollId, PollKind, PollSpec, PollStatus, Stance, Tally, Turnout,
};
pub use roles::{allowed, Permission};
pub use rotation::{Phase, Rotation, RotationPlan};
pub use runsheet::{RunSheet, Sequence, SequenceId, SequenceSpec, SequenceStatus};

use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch. The domain never reads a clock: callers pass `now`.
pub type Millis = u64;
pub type ParticipantId = String;
pub type RoomId = String;

/// The id of the room every convention has and everyone returns to.
pub const PLENARY: &str = "plenary";
/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Longest broadcast or help-call message, in characters.
pub const MAX_NOTICE_CHARS: usize = 1000;
/// Longest name of a person, room or convention, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Most help calls one person may have pending at once: every call goes whole into the
/// staff's snapshots until a facilitator resolves it.
pub const MAX_PENDING_CALLS: usize = 5;
/// Most breakout rooms a convention may have at once.
pub const MAX_ROOMS: usize = 200;
/// Most people one roster import may add (one request: one command, one append).
pub const MAX_ROSTER_ROWS: usize = 10_000;
/// Most people a convention may hold: every snapshot lists them, every fold carries them.
pub const MAX_PEOPLE: usize = 20_000;
/// Longest breakout or speaking duration a facilitator may set: 12 hours.
pub const MAX_DURATION_MS: u64 = 12 * 3600 * 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Citizen,
    Facilitator,
    Rapporteur,
    Guarantor,
    Expert,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Citizen,
        Role::Facilitator,
        Role::Rapporteur,
        Role::Guarantor,
        Role::Expert,
    ];
}

/// Who caused an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An organizer, through the HTTP API.
    Organizer,
    /// A participant, through their connection.
    Participant(ParticipantId),
    /// A deadline that the server fired.
    Timer,
    /// Someone of the public audience, through the public link.
    Public,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOrder {
    /// First raised, first heard.
    Raised,
    /// Those who have spoken least so far first; ties by order of raising.
    LeastSpoken,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssignMethod {
    Random,
    /// Spread every value of this roster attribute evenly over the rooms.
    Balanced(String),
    /// Explicit participant -> room pairs.
    Manual(Vec<(ParticipantId, RoomId)>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    Timer,
    Facilitator,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloorEndReason {
    /// The speaker gave the floor back.
    Yielded,
    /// A facilitator took it back (or gave it to someone else).
    Taken,
    /// The speaking-time limit ran out.
    Timer,
    /// The speaker left the room.
    Moved,
}

/// A new person on the roster, before the domain gives them an id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPerson {
    pub name: String,
    pub roles: Vec<Role>,
    pub attributes: BTreeMap<String, String>,
}

/// Everything a convention's log may hold. Events carry every outcome (random draws, times),
/// so that folding them needs neither a clock nor a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    ConventionCreated {
        name: String,
    },
    ParticipantAdded {
        person: Person,
    },
    InviteIssued {
        participant: ParticipantId,
        token_hash: String,
    },
    InviteRevoked {
        participant: ParticipantId,
    },
    RoomsCreated {
        rooms: Vec<(RoomId, String)>,
    },
    RoomsCleared,
    RoomsAssigned {
        method: String,
        assignments: Vec<(ParticipantId, RoomId)>,
    },
    BreakoutsOpened {
        ends_at: Millis,
        warn_at: Millis,
    },
    BreakoutsWarned,
    BreakoutsExtended {
        ends_at: Millis,
        warn_at: Millis,
    },
    BreakoutsClosed {
        reason: CloseReason,
    },
    ParticipantMoved {
        participant: ParticipantId,
        room: RoomId,
    },
    BroadcastSent {
        text: String,
    },
    ChatPosted {
        room: RoomId,
        text: String,
    },
    HandRaised {
        room: RoomId,
        participant: ParticipantId,
    },
    HandLowered {
        room: RoomId,
        participant: ParticipantId,
    },
    FloorGiven {
        room: RoomId,
        participant: ParticipantId,
        ends_at: Option<Millis>,
    },
    FloorEnded {
        room: RoomId,
        participant: ParticipantId,
        spoken_ms: u64,
        reason: FloorEndReason,
    },
    QueueOrderSet {
        room: RoomId,
        order: QueueOrder,
    },
    SpeakingLimitSet {
        room: RoomId,
        limit_ms: Option<u64>,
    },
    /// The turn under way in `room` now ends at `ends_at` (`None`: no limit).
    FloorLimitSet {
        room: RoomId,
        participant: ParticipantId,
        ends_at: Option<Millis>,
    },
    FacilitatorCalled {
        room: RoomId,
        message: String,
    },
    CallResolved {
        call: u64,
    },
    PollDrafted {
        poll: PollId,
        spec: PollSpec,
    },
    PollEdited {
        poll: PollId,
        spec: PollSpec,
    },
    PollDeleted {
        poll: PollId,
    },
    /// Carries the spec: participants never saw the draft.
    PollOpened {
        poll: PollId,
        spec: PollSpec,
        ends_at: Option<Millis>,
    },
    /// A named poll's ballot; the voter is the record's actor. Replaces their earlier one.
    BallotCast {
        poll: PollId,
        ballot: Ballot,
    },
    /// A secret poll: the record's actor has voted. Nothing else.
    VoterMarked {
        poll: PollId,
    },
    /// A secret poll's ballot. Never in the log: it goes to the ballot box, which keeps no
    /// voter, no time and no order, in the same atomic write as the `VoterMarked`.
    SecretBallotCast {
        poll: PollId,
        ballot: Ballot,
    },
    PollClosed {
        poll: PollId,
        reason: CloseReason,
        tally: Tally,
        /// Who could vote, and how many of them were online, at the close (`None` in logs
        /// written before it was kept).
        turnout: Option<Turnout>,
    },
    PollRevealed {
        poll: PollId,
    },
    PollPublished {
        poll: PollId,
        tally: Tally,
    },
    RotationPlanned {
        plan: rotation::RotationPlan,
    },
    /// Round `round` starts; everyone goes to its rooms (if not there already).
    RotationRoundStarted {
        round: usize,
        ends_at: Millis,
        warn_at: Millis,
    },
    RotationWarned,
    /// The round ended; everyone goes to the rooms of round `next`, which starts at `starts_at`.
    RotationTransition {
        next: usize,
        starts_at: Millis,
    },
    RotationPaused {
        remaining_ms: u64,
    },
    /// The frozen phase goes on, its deadline `remaining_ms` after this event.
    RotationResumed,
    RotationExtended {
        ends_at: Millis,
        warn_at: Millis,
    },
    /// Everyone placed by the rotation returns to the plenary.
    RotationEnded {
        stopped: bool,
    },
    /// The expert is out; the schedule from the current round on is re-planned.
    ExpertAbsent {
        expert: usize,
        schedule: rotation::Schedule,
    },
    GroupJoined {
        participant: ParticipantId,
        group: usize,
    },
    QuestionAsked {
        room: RoomId,
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
        members: Vec<ParticipantId>,
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
    // Run sheet.
    SequenceAdded {
        sequence: SequenceId,
        spec: SequenceSpec,
        /// Placed before this sequence; `None`: at the end.
        before: Option<SequenceId>,
    },
    SequenceEdited {
        sequence: SequenceId,
        spec: SequenceSpec,
    },
    SequenceDeleted {
        sequence: SequenceId,
    },
    SequenceMoved {
        sequence: SequenceId,
        before: Option<SequenceId>,
    },
    /// Started at the record's time; planned to end at `ends_at`. The events of its actions
    /// follow in the same append.
    SequenceStarted {
        sequence: SequenceId,
        ends_at: Millis,
    },
    SequenceExtended {
        sequence: SequenceId,
        by_ms: u64,
        ends_at: Millis,
    },
    SequenceEnded {
        sequence: SequenceId,
        early: bool,
    },
    SequenceSkipped {
        sequence: SequenceId,
    },
    // Hearings: questions from the floor.
    HearingCreated {
        hearing: String,
        title: String,
        speaker: ParticipantId,
        room: RoomId,
        anonymous: bool,
        moderated: bool,
    },
    HearingOpened {
        hearing: String,
    },
    HearingClosed {
        hearing: String,
    },
    /// The record's actor asks; the question's id is the record's seq.
    HearingQuestionAsked {
        hearing: String,
        text: String,
    },
    /// The record's actor supports the question.
    HearingQuestionSupported {
        hearing: String,
        question: u64,
    },
    /// The record's actor withdraws their support.
    HearingSupportWithdrawn {
        hearing: String,
        question: u64,
    },
    HearingQuestionApproved {
        hearing: String,
        question: u64,
    },
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
    // Moderation (`moderation.rs`).
    /// The chat message whose `chat_posted` has seq `message` is hidden.
    ChatHidden {
        room: RoomId,
        message: u64,
        reason: String,
    },
    /// The hidden message whose `chat_posted` has seq `message` is shown again.
    ChatUnhidden {
        room: RoomId,
        message: u64,
    },
    /// The record's actor reports a message to the facilitators; the report's id is the seq.
    ChatReported {
        room: RoomId,
        message: u64,
        reason: String,
    },
    ReportDismissed {
        report: u64,
    },
    ParticipantMuted {
        participant: ParticipantId,
        until: Millis,
        reason: String,
    },
    /// `early`: a facilitator lifted it; otherwise its time ran out.
    ParticipantUnmuted {
        participant: ParticipantId,
        early: bool,
    },
    ParticipantRemoved {
        participant: ParticipantId,
        reason: String,
    },
    ParticipantReadmitted {
        participant: ParticipantId,
    },
    // Public audience (§24).
    /// A public link was made (replacing any earlier one); its token is stored hashed.
    PublicLinkCreated {
        token_hash: String,
        livestream: Option<String>,
    },
    PublicLinkRevoked,
    LivestreamSet {
        livestream: Option<String>,
    },
    /// This named version of the document is what the public page shows.
    DocumentPublished {
        document: String,
        version: u32,
    },
    /// A poll for the public audience is open (indicative, one ballot per browser).
    PublicPollOpened {
        poll: String,
        question: String,
        options: Vec<String>,
    },
    /// A browser's answer: `browser` is the hash of its id (`public::browser_hash`).
    PublicBallotCast {
        poll: String,
        choice: u32,
        browser: String,
    },
    PublicPollClosed {
        poll: String,
        counts: Vec<u64>,
    },
}

/// An event as the log holds it: its place, its time and who caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub at: Millis,
    pub actor: Actor,
    pub event: Event,
    /// The participant's request id, kept so that a retried request is not run twice.
    pub request: Option<String>,
}

/// Everything that can be asked of a convention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    // Organizer.
    CreateConvention {
        name: String,
    },
    AddParticipants {
        people: Vec<NewPerson>,
    },
    IssueInvites {
        invites: Vec<(ParticipantId, String)>,
    },
    RevokeInvite {
        participant: ParticipantId,
    },
    // Facilitators: rooms.
    CreateRooms {
        count: Option<u32>,
        names: Vec<String>,
    },
    ClearRooms,
    AssignRooms {
        method: AssignMethod,
        participants: Option<Vec<ParticipantId>>,
        only_present: bool,
    },
    OpenBreakouts {
        duration_ms: u64,
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
        participant: ParticipantId,
        room: RoomId,
    },
    Visit {
        room: RoomId,
    },
    ResolveCall {
        call: u64,
    },
    // Facilitators: the floor.
    GiveFloor {
        room: Option<RoomId>,
        participant: Option<ParticipantId>,
        /// This turn's limit: `None`, the room's; `Some(None)`, none; `Some(Some(ms))`.
        limit_ms: Option<Option<u64>>,
    },
    EndFloor {
        room: Option<RoomId>,
    },
    SetQueueOrder {
        room: Option<RoomId>,
        order: QueueOrder,
    },
    SetSpeakingLimit {
        room: Option<RoomId>,
        limit_ms: Option<u64>,
    },
    /// The limit of the turn under way, from its start (`None`: no limit).
    SetFloorLimit {
        room: Option<RoomId>,
        limit_ms: Option<u64>,
    },
    // Everyone who may speak.
    SendChat {
        text: String,
        /// Where the sender believed they were; `None`: wherever they are.
        room: Option<RoomId>,
    },
    RaiseHand {
        /// Where the sender believed they were; `None`: wherever they are.
        room: Option<RoomId>,
    },
    LowerHand,
    YieldFloor,
    CallFacilitator {
        message: String,
    },
    // Polls.
    DraftPoll {
        spec: PollSpec,
    },
    EditPoll {
        poll: PollId,
        spec: PollSpec,
    },
    DeletePoll {
        poll: PollId,
    },
    OpenPoll {
        poll: PollId,
    },
    ClosePoll {
        poll: PollId,
    },
    RevealResults {
        poll: PollId,
    },
    PublishResults {
        poll: PollId,
    },
    Vote {
        poll: PollId,
        ballot: Ballot,
    },
    // Expert rotations.
    PlanRotation {
        experts: Vec<ParticipantId>,
        grouping: AssignMethod,
        /// Manual grouping: the groups themselves (then `grouping` is ignored).
        groups: Option<Vec<Vec<ParticipantId>>>,
        group_count: Option<u32>,
        group_size: Option<u32>,
        participants: Option<Vec<ParticipantId>>,
        only_present: bool,
        round_ms: u64,
        transition_ms: u64,
        warning_ms: u64,
        rounds: Option<u32>,
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
    MarkExpertAbsent {
        expert: ParticipantId,
    },
    AddToGroup {
        participant: ParticipantId,
        group: Option<u32>,
    },
    AskQuestion {
        text: String,
    },
    AnswerQuestion {
        question: u64,
        text: String,
    },
    // Collaborative documents.
    CreateDocument {
        name: String,
        title: String,
    },
    SetWritingGroup {
        group: String,
        members: Vec<ParticipantId>,
    },
    OpenDocument {
        document: String,
        group: String,
    },
    CloseDocument {
        document: String,
        group: String,
    },
    NameVersion {
        document: String,
        label: String,
    },
    // Run sheet.
    AddSequence {
        spec: SequenceSpec,
        before: Option<SequenceId>,
    },
    EditSequence {
        sequence: SequenceId,
        spec: SequenceSpec,
    },
    DeleteSequence {
        sequence: SequenceId,
    },
    MoveSequence {
        sequence: SequenceId,
        before: Option<SequenceId>,
    },
    /// Perform the sequence's prepared actions, all or none. `end_running`: end the
    /// sequence under way first (else one running is a conflict).
    StartSequence {
        sequence: SequenceId,
        end_running: bool,
    },
    ExtendSequence {
        by_ms: u64,
    },
    EndSequence,
    SkipSequence {
        sequence: SequenceId,
    },
    // Hearings: questions from the floor.
    CreateHearing {
        title: String,
        speaker: ParticipantId,
        room: RoomId,
        anonymous: bool,
        moderated: bool,
    },
    OpenHearing {
        hearing: String,
    },
    CloseHearing {
        hearing: String,
    },
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
    // Moderation (`moderation.rs`).
    HideChat {
        message: u64,
        reason: String,
    },
    UnhideChat {
        message: u64,
    },
    ReportChat {
        message: u64,
        reason: String,
    },
    DismissReport {
        report: u64,
    },
    Mute {
        participant: ParticipantId,
        duration_ms: u64,
        reason: String,
    },
    Unmute {
        participant: ParticipantId,
    },
    RemoveParticipant {
        participant: ParticipantId,
        reason: String,
    },
    Readmit {
        participant: ParticipantId,
    },
    // Public audience (§24).
    CreatePublicLink {
        token_hash: String,
        livestream: Option<String>,
    },
    RevokePublicLink,
    SetLivestream {
        livestream: Option<String>,
    },
    PublishDocument {
        document: String,
        version: u32,
    },
    OpenPublicPoll {
        question: String,
        options: Vec<String>,
    },
    ClosePublicPoll {
        poll: String,
    },
    /// A public viewer's answer; `browser` is already the hash of the browser's id.
    CastPublicBallot {
        poll: String,
        choice: u32,
        browser: String,
    },
    /// Fire every deadline that is due. Sent by the server's timer; a no-op when nothing is due.
    Tick,
}

/// Why a command was refused. Codes are stable: clients match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The actor's roles do not allow this command.
    Forbidden,
    /// An argument is out of range or malformed.
    Invalid,
    /// A participant, room or call that does not exist.
    NotFound,
    /// The command does not fit the current state (e.g. breakouts already open).
    Conflict,
    /// The secret poll's ballot box was altered outside the server (`Poll::tampered`).
    Tampered,
    /// The sender's chat is muted by a facilitator (the message says until when).
    Muted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: Code,
    pub message: String,
    /// A refused roster import: its wrong entries, each as data (up to `MAX_ROSTER_ERRORS`),
    /// so that an interface can say them in its own language. Empty for every other refusal.
    pub roster: Vec<RosterProblem>,
    /// How many entries of that import were wrong (`roster` holds the first ones).
    pub roster_wrong: usize,
}

impl Rejection {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            roster: Vec::new(),
            roster_wrong: 0,
        }
    }
}

/// What is wrong with one entry of a roster import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RosterFault {
    NameEmpty,
    NameTooLong,
    NoRole,
    GuarantorAlone,
    AttributeNameEmpty,
    AttributeNameTooLong,
    AttributeTooLong,
}

/// One wrong entry of a roster import: its place in the import (from 1), what is wrong, and
/// the name and attribute concerned when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterProblem {
    pub entry: usize,
    pub fault: RosterFault,
    pub name: Option<String>,
    pub attribute: Option<String>,
}
