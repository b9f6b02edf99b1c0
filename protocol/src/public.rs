//! Public audience (PROTOCOL.md §24): what anyone holding a convention's public link may
//! watch on `/public/ws`, and the organizer's bodies of `/api/conventions/{id}/public-link`.
//! A viewer is never on the roster: it sends `watch`, then only `ping`, and receives the
//! whole `public_view` (one frame shared by every viewer) each time it changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{PollKind, Tally};

/// The largest frame a viewer may send (a `watch` or a `ping`); larger closes with 1009.
pub const MAX_PUBLIC_FRAME_BYTES: usize = 1024;
/// Announcements a public view carries: the latest ones.
pub const PUBLIC_ANNOUNCEMENTS: usize = 10;
/// Published poll results a public view carries: the latest ones.
pub const PUBLIC_RESULTS: usize = 10;
/// How often, at most, a change of the viewer count is sent (ms).
pub const PUBLIC_COUNT_EVERY_MS: u64 = 1000;
/// Public polls: options of one poll.
pub const MAX_PUBLIC_OPTIONS: usize = 10;
/// Public polls a convention may hold (open and closed).
pub const MAX_PUBLIC_POLLS: usize = 100;
/// Ballots one public poll takes; past it, `full`.
pub const MAX_PUBLIC_BALLOTS: u64 = 100_000;
/// Closed public polls whose results a public view carries: the latest ones.
pub const PUBLIC_POLL_RESULTS: usize = 10;
/// A public poll's id as a viewer may send it (`pp1`...`pp100`); a longer one is refused
/// `not_found` at once, echoed cut to this length.
pub const MAX_PUBLIC_POLL_ID_CHARS: usize = 16;
/// A browser's id (`public_vote`'s `browser`): this many characters of `A-Z a-z 0-9 - _`.
pub const PUBLIC_BROWSER_CHARS: std::ops::RangeInclusive<usize> = 16..=64;
/// What a viewer may send after its `watch` (`ping`, `public_vote`): this many a second...
pub const PUBLIC_MESSAGES_PER_SEC: f64 = 1.0;
/// ...with bursts of this many; past it the connection is closed with 4008.
pub const PUBLIC_MESSAGE_BURST: f64 = 5.0;

/// Close codes of `/public/ws` (besides 1001, 1009, 4000, 4003 and 4009 of `/ws`).
pub mod public_close {
    /// The public link is unknown, malformed or no longer active (at `watch`).
    pub const UNKNOWN_LINK: u16 = 4020;
    /// The organizer revoked (or replaced) the public link while it was watched.
    pub const LINK_REVOKED: u16 = 4021;
    /// The node holds as many viewers as it allows (`--max-public-viewers`, lowered to the
    /// viewers' share of its connection slots): try later.
    pub const FULL: u16 = 4022;
    /// A viewer sent something else than a `ping` or a `public_vote` after its `watch`.
    pub const READ_ONLY: u16 = 4023;
}

/// Messages from a public viewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum PublicClientMessage {
    /// The first message: the protocol version and the public link's token.
    Watch { protocol: u32, link: String },
    /// Is the connection alive? Answered by a `pong`.
    Ping,
    /// An answer to the open public poll: `choice` is the option's index; `browser` the
    /// browser's own random id (16 to 64 characters of `A-Z a-z 0-9 - _`), one ballot per
    /// browser and poll. Answered by `public_voted` once durable, or `public_vote_refused`.
    PublicVote {
        poll: String,
        choice: u32,
        browser: String,
    },
}

/// Messages to a public viewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PublicServerMessage {
    /// Everything the public sees, whole, each time it changes (and first after `watch`).
    /// `server_time`: when this view was built (shared by every viewer).
    PublicView {
        server_time: u64,
        view: Box<PublicView>,
    },
    /// How many watch now (over every node), when only that changed: at most once a
    /// second (`PUBLIC_COUNT_EVERY_MS`), a few bytes instead of the whole view.
    PublicCount { viewers: u64 },
    /// The server's clock now: once right after the first view, and in answer to `ping`.
    Pong { server_time: u64 },
    /// This viewer's `public_vote` is recorded (durably).
    PublicVoted { poll: String, choice: u32 },
    /// This viewer's `public_vote` is not recorded, and why.
    PublicVoteRefused {
        poll: String,
        reason: PublicVoteRefusal,
        message: String,
    },
}

/// Why a `public_vote` was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PublicVoteRefusal {
    /// This browser has answered this poll already.
    AlreadyVoted,
    /// The poll is no longer open.
    Closed,
    /// No such poll.
    NotFound,
    /// The choice is out of range, or the browser id malformed.
    Invalid,
    /// The poll holds `MAX_PUBLIC_BALLOTS` ballots.
    Full,
    /// The server cannot record it now: try again.
    Unavailable,
}

/// What the public sees of the plenary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicView {
    /// The convention's name.
    pub convention: String,
    /// Who has the floor in the plenary, if anyone.
    pub floor: Option<PublicFloor>,
    /// Participants are away in breakout rooms or an expert rotation until then (no room
    /// details); `null` when the plenary is in session.
    pub away: Option<PublicAway>,
    /// The latest announcements (`broadcast`), oldest first.
    pub announcements: Vec<PublicAnnouncement>,
    /// The latest published results of the convention's (plenary) polls, oldest first.
    pub results: Vec<PublicResult>,
    /// The published opinion, fetched as HTML at `url`.
    pub opinion: Option<PublicOpinion>,
    /// The open public poll (indicative, one answer per browser), if any: no count while
    /// it is open.
    #[serde(default)]
    pub poll: Option<PublicPollShown>,
    /// The latest closed public polls with their tallies, oldest first.
    #[serde(default)]
    pub poll_results: Vec<PublicPollResult>,
    pub livestream: Option<String>,
    /// Viewers watching when the view was built (over every node of a cluster); later
    /// changes come as `public_count`.
    pub viewers: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicFloor {
    /// The speaker's name (never an id).
    pub name: String,
    pub since: u64,
    /// When the speaking time runs out, if limited.
    pub ends_at: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AwayKind {
    Breakouts,
    Rotation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicAway {
    pub kind: AwayKind,
    /// When the breakouts (or the rotation's current phase) end; `null` when paused.
    pub until: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicAnnouncement {
    pub at: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicResult {
    pub poll: String,
    pub question: String,
    #[serde(flatten)]
    pub kind: PollKind,
    pub tally: Tally,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicOpinion {
    pub title: String,
    pub version: u32,
    pub label: String,
    /// `GET` it (no token: the path carries the public link) for the version as HTML.
    pub url: String,
}

/// The open public poll, as the public sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicPollShown {
    pub poll: String,
    pub question: String,
    pub options: Vec<String>,
    pub opened_at: u64,
}

/// A public poll's tally: answers in all, and per option.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicTally {
    pub ballots: u64,
    pub counts: Vec<u64>,
}

/// A closed public poll's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicPollResult {
    pub poll: String,
    pub question: String,
    pub options: Vec<String>,
    pub tally: PublicTally,
    pub closed_at: u64,
}

/// `GET /api/conventions/{id}/public-polls`: every public poll, oldest first, with its live
/// tally (staff only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicPolls {
    pub polls: Vec<PublicPollStatus>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicPollStatus {
    pub poll: String,
    pub question: String,
    pub options: Vec<String>,
    pub open: bool,
    pub opened_at: u64,
    pub closed_at: Option<u64>,
    pub tally: PublicTally,
}

/// `POST /api/conventions/{id}/public-link` (body optional).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatePublicLink {
    /// The video livestream's URL (http or https, at most 500 characters).
    #[serde(default)]
    pub livestream: Option<String>,
}

/// `PUT /api/conventions/{id}/public-link`: the livestream of the active link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetLivestream {
    #[serde(default)]
    pub livestream: Option<String>,
}

/// A fresh public link. The token is shown once: only its hash is stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicLink {
    pub url: String,
    pub token: String,
    /// ms since the epoch.
    pub created_at: u64,
}

/// `GET /api/conventions/{id}/public-link`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublicLinkStatus {
    pub active: bool,
    pub livestream: Option<String>,
    /// The published document and version, if any.
    pub published: Option<PublishedVersion>,
    /// Viewers watching now.
    pub viewers: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublishedVersion {
    pub document: String,
    pub version: u32,
}

/// The stored form of the public state (`ConventionState::public`, since format 5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicStored {
    pub link: Option<String>,
    pub livestream: Option<String>,
    pub published: Option<PublishedVersion>,
    /// Public polls (absent from states saved before they existed: none then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polls: Vec<PublicPollStored>,
}

/// A public poll as stored: its tally and the hashes of the browsers that answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicPollStored {
    pub poll: String,
    pub question: String,
    pub options: Vec<String>,
    pub opened_at: u64,
    pub closed_at: Option<u64>,
    pub counts: Vec<u64>,
    pub browsers: Vec<String>,
}
