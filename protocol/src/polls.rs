//! Poll types: what a poll asks, ballots, tallies, and how a participant sees a poll.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Role;

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

/// Who has voted, in numbers (facilitators and guarantors). Absent for a draft. For a closed
/// or published poll, `eligible` and `eligible_present` are those at the close (the close's
/// `turnout`), not those of now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Participation {
    pub voted: u64,
    /// Participants who may vote in it.
    pub eligible: u64,
    /// Of those, how many are online (and in the poll's room, for a room poll).
    pub eligible_present: u64,
    pub quorum: Option<u32>,
}

/// Who could vote in a poll, and how many of them were online (and in the poll's room, for a
/// room poll), at its close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Turnout {
    pub eligible: u64,
    pub eligible_present: u64,
}

/// A secret poll's ballot box that did not match its voters when the server took it up: it was
/// altered outside the server. None of its ballots is counted; an open poll takes no vote and
/// cannot be closed (error `tampered`); a closed poll keeps the result its close logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TamperedBox {
    /// Valid ballots found in the box for the poll.
    pub ballots: u64,
    /// Voters the log marks as having voted.
    pub voters: u64,
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
    /// Facilitators and guarantors only: present when the poll's ballot box was tampered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tampered: Option<TamperedBox>,
}
