//! Polls and votes: every kind a convention needs, named or secret. Tallies are computed
//! here, purely, from the ballots; ranking polls get Borda scores and an instant-runoff
//! count with its rounds.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    CloseReason, Code, Command, Convention, Event, Millis, ParticipantId, Person, Rejection, Role,
    RoomId,
};

pub type PollId = String;

/// Longest question, option or scale label, in characters.
pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_OPTION_CHARS: usize = 200;
/// Most options a poll may offer.
pub const MAX_OPTIONS: usize = 50;
/// Longest free-text answer a poll may allow.
pub const MAX_TEXT_CHARS: u32 = 2000;
/// Widest scale (e.g. 0 to 10 is 11 values).
pub const MAX_SCALE_VALUES: i32 = 101;
/// Most polls a convention holds (drafts, open and closed; a deleted draft no longer counts),
/// and most bytes of text (questions, options, scale labels) among them: every facilitator's
/// and guarantor's snapshot lists them all. A weekend's 60 polls, over ten weekends, fit
/// with room to spare; a hand-made client drafting in a loop does not.
pub const MAX_POLLS: usize = 1000;
pub const MAX_POLL_TEXT_BYTES: usize = 2 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollKind {
    Single {
        options: Vec<String>,
    },
    Multiple {
        options: Vec<String>,
        min: u32,
        max: u32,
    },
    Scale {
        min: i32,
        max: i32,
        min_label: String,
        max_label: String,
    },
    Ranking {
        options: Vec<String>,
    },
    Text {
        max_chars: u32,
    },
    /// For / against / for with reservations / abstain: how a convention adopts a proposal.
    Position,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stance {
    For,
    Against,
    ForWithReservations,
    Abstain,
}

impl Stance {
    pub const ALL: [Stance; 4] = [
        Stance::For,
        Stance::Against,
        Stance::ForWithReservations,
        Stance::Abstain,
    ];
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSpec {
    pub question: String,
    pub kind: PollKind,
    /// Secret: no ballot is ever linked to its voter; a ballot, once cast, is final.
    pub secret: bool,
    /// Participants see the tally while the poll is open; otherwise once revealed or published.
    pub live_results: bool,
    /// Who votes (never guarantors). Default: citizens.
    pub voters: Vec<Role>,
    /// Ballots needed for the result to count, shown against participation.
    pub quorum: Option<u32>,
    /// Closes by itself after this long, if set.
    pub duration_ms: Option<u64>,
    /// A poll of one room; `None` for the whole convention.
    pub room: Option<RoomId>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ballot {
    Single(u32),
    Multiple(Vec<u32>),
    Scale(i32),
    /// Option indexes, most preferred first; every option exactly once.
    Ranking(Vec<u32>),
    Text(String),
    Position(Stance),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollStatus {
    Draft,
    Open,
    Closed,
    Published,
}

/// One round of an instant-runoff count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrvRound {
    /// First-preference votes of each option still in the count (eliminated ones absent).
    pub counts: BTreeMap<u32, u64>,
    /// The option eliminated at the end of this round, if no majority.
    pub eliminated: Option<u32>,
}

/// The result of a poll. Counts only: never who voted what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    pub ballots: u64,
    /// Single, multiple, position (in `Stance::ALL` order), scale (one per value from min):
    /// how many ballots chose each.
    pub counts: Vec<u64>,
    /// Ranking: Borda score of each option (n-1 points for a first place, ..., 0 for last).
    pub borda: Vec<u64>,
    /// Ranking: the instant-runoff rounds and winner.
    pub rounds: Vec<IrvRound>,
    pub winner: Option<u32>,
    /// Free text: the answers, sorted (so their order tells nothing of who wrote them).
    pub texts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poll {
    pub id: PollId,
    pub spec: PollSpec,
    pub status: PollStatus,
    pub opened_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub revealed: bool,
    /// Named polls: each voter's current ballot.
    pub named: std::sync::Arc<BTreeMap<ParticipantId, Ballot>>,
    /// Secret polls: who has voted (nothing else is known of them)...
    pub voted: std::sync::Arc<BTreeSet<ParticipantId>>,
    /// ...and the ballots, with no voter, sorted (so in no order of casting).
    pub secret: Vec<Ballot>,
    /// The final tally, fixed at the close.
    pub final_tally: Option<Tally>,
    /// Who could vote and how many of them were online, fixed at the close (from the log;
    /// `None` for a poll closed before the log kept it).
    pub closed_turnout: Option<Turnout>,
    /// Secret polls: the ballot box did not match the voter marks when it was taken up (rows
    /// are anonymous: an extra one cannot be told from the others, so none is counted). Known
    /// from the box, never from the log: found again at every load.
    pub tampered: Option<Tampered>,
}

/// Who could vote in a poll, and how many of them were online.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Turnout {
    pub eligible: u64,
    pub eligible_present: u64,
}

/// Whether a person may vote in a poll where they are now (a room's poll: those in the room).
pub fn may_vote(state: &Convention, poll: &Poll, person: &Person) -> bool {
    poll.eligible(&person.roles)
        && poll
            .spec
            .room
            .as_deref()
            .is_none_or(|r| state.location_of(&person.id) == r)
}

/// A poll's turnout now: as it stands while the poll is open; what a close logs.
pub fn turnout(state: &Convention, poll: &Poll, present: &BTreeSet<ParticipantId>) -> Turnout {
    let mut t = Turnout {
        eligible: 0,
        eligible_present: 0,
    };
    for p in state.people.values().filter(|p| may_vote(state, poll, p)) {
        t.eligible += 1;
        t.eligible_present += u64::from(present.contains(&p.id));
    }
    t
}

/// What a tampered ballot box held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tampered {
    /// Valid ballots found for the poll (loose or sealed).
    pub ballots: u64,
    /// Voters marked as having voted in the log.
    pub voters: u64,
}

impl Tampered {
    pub fn rejection(&self) -> Rejection {
        Rejection::new(
            Code::Tampered,
            format!(
                "the ballot box of this secret poll was tampered with: it holds {} ballots for \
                 {} voters; none of them is counted, and the vote cannot go on nor be closed \
                 on this count: run it again",
                self.ballots, self.voters
            ),
        )
    }
}

impl Poll {
    pub fn new(id: PollId, spec: PollSpec) -> Self {
        Poll {
            id,
            spec,
            status: PollStatus::Draft,
            opened_at: None,
            ends_at: None,
            revealed: false,
            named: Default::default(),
            voted: Default::default(),
            secret: Vec::new(),
            final_tally: None,
            closed_turnout: None,
            tampered: None,
        }
    }

    /// An open poll whose box was refused: it takes no ballot, and neither its timer nor a
    /// facilitator closes it on a count that cannot be trusted.
    pub fn stalled(&self) -> Option<&Tampered> {
        self.tampered
            .as_ref()
            .filter(|_| self.status == PollStatus::Open)
    }

    pub fn has_voted(&self, who: &str) -> bool {
        self.voted.contains(who) || self.named.contains_key(who)
    }

    pub fn ballot_count(&self) -> u64 {
        (self.named.len() + self.secret.len()) as u64
    }

    /// Whether a participant with these roles may vote in it (wherever they are).
    pub fn eligible(&self, roles: &[Role]) -> bool {
        !roles.contains(&Role::Guarantor) && roles.iter().any(|r| self.spec.voters.contains(r))
    }

    /// Whether participants (not staff) may see the tally now.
    pub fn results_public(&self) -> bool {
        match self.status {
            PollStatus::Draft => false,
            PollStatus::Open | PollStatus::Closed => self.spec.live_results || self.revealed,
            PollStatus::Published => true,
        }
    }

    pub fn tally(&self) -> Tally {
        if let Some(t) = &self.final_tally {
            return t.clone();
        }
        tally(
            &self.spec.kind,
            self.named.values().chain(self.secret.iter()),
        )
    }
}

fn option_count(kind: &PollKind) -> usize {
    match kind {
        PollKind::Single { options }
        | PollKind::Multiple { options, .. }
        | PollKind::Ranking { options } => options.len(),
        PollKind::Scale { min, max, .. } => {
            (i64::from(*max) - i64::from(*min) + 1).clamp(0, MAX_SCALE_VALUES as i64) as usize
        }
        PollKind::Position => Stance::ALL.len(),
        PollKind::Text { .. } => 0,
    }
}

/// Count ballots. Ballots were validated against the kind when cast.
pub fn tally<'a>(kind: &PollKind, ballots: impl Iterator<Item = &'a Ballot>) -> Tally {
    let n = option_count(kind);
    let mut t = Tally {
        ballots: 0,
        counts: vec![
            0;
            if matches!(kind, PollKind::Ranking { .. }) {
                0
            } else {
                n
            }
        ],
        borda: Vec::new(),
        rounds: Vec::new(),
        winner: None,
        texts: Vec::new(),
    };
    let mut rankings: Vec<&Vec<u32>> = Vec::new();
    for b in ballots {
        t.ballots += 1;
        match (kind, b) {
            (PollKind::Single { .. }, Ballot::Single(i)) => bump(&mut t.counts, *i as usize),
            (PollKind::Multiple { .. }, Ballot::Multiple(is)) => {
                for i in is {
                    bump(&mut t.counts, *i as usize);
                }
            }
            (PollKind::Scale { min, .. }, Ballot::Scale(v)) => {
                bump(&mut t.counts, (v - min) as usize)
            }
            (PollKind::Position, Ballot::Position(s)) => bump(
                &mut t.counts,
                Stance::ALL.iter().position(|x| x == s).unwrap_or(0),
            ),
            (PollKind::Text { .. }, Ballot::Text(s)) => t.texts.push(s.clone()),
            (PollKind::Ranking { .. }, Ballot::Ranking(order)) => rankings.push(order),
            _ => t.ballots -= 1, // a ballot of another kind: never cast, never counted
        }
    }
    t.texts.sort();
    if let PollKind::Ranking { .. } = kind {
        t.borda = vec![0; n];
        for order in &rankings {
            for (place, option) in order.iter().enumerate() {
                if let Some(score) = t.borda.get_mut(*option as usize) {
                    *score += (n - 1 - place) as u64;
                }
            }
        }
        let (rounds, winner) = instant_runoff(n, &rankings);
        t.rounds = rounds;
        t.winner = winner;
    }
    t
}

fn bump(counts: &mut [u64], i: usize) {
    if let Some(c) = counts.get_mut(i) {
        *c += 1;
    }
}

/// Instant-runoff: each round counts every ballot for its most preferred option still in;
/// an option with more than half of the ballots counted wins; otherwise the option with the
/// fewest votes is eliminated. Ties are broken by the options' order, deterministically: the
/// later option is eliminated first, the earlier one wins.
pub fn instant_runoff(n: usize, rankings: &[&Vec<u32>]) -> (Vec<IrvRound>, Option<u32>) {
    let mut remaining: BTreeSet<u32> = (0..n as u32).collect();
    let mut rounds = Vec::new();
    if rankings.is_empty() || n == 0 {
        return (rounds, None);
    }
    loop {
        let mut counts: BTreeMap<u32, u64> = remaining.iter().map(|o| (*o, 0)).collect();
        let mut counted = 0u64;
        for order in rankings {
            if let Some(top) = order.iter().find(|o| remaining.contains(o)) {
                *counts.entry(*top).or_default() += 1;
                counted += 1;
            }
        }
        let (best, best_votes) = counts
            .iter()
            .max_by_key(|(o, v)| (**v, std::cmp::Reverse(**o)))
            .map(|(o, v)| (*o, *v))
            .unwrap_or((0, 0));
        if best_votes * 2 > counted || remaining.len() == 1 {
            rounds.push(IrvRound {
                counts,
                eliminated: None,
            });
            return (rounds, Some(best));
        }
        // The fewest votes goes; among equals, the highest index.
        let (loser, _) = counts
            .iter()
            .min_by_key(|(o, v)| (**v, std::cmp::Reverse(**o)))
            .map(|(o, v)| (*o, *v))
            .unwrap_or((0, 0));
        remaining.remove(&loser);
        rounds.push(IrvRound {
            counts,
            eliminated: Some(loser),
        });
    }
}

/// A poll's question (a convention's poll or a public poll), trimmed.
pub fn check_question(question: &str) -> Result<String, String> {
    let question = question.trim();
    if question.is_empty() {
        return Err("the question is empty".into());
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(format!(
            "the question is longer than {MAX_QUESTION_CHARS} characters"
        ));
    }
    if super::decide::has_control(question) {
        return Err(
            "the question may not hold control characters (but line breaks and tabs)".into(),
        );
    }
    Ok(question.to_string())
}

/// A poll's options, trimmed in place: none empty or longer than `MAX_OPTION_CHARS`, from
/// `min` to `max` of them. (What makes two of them the same is the caller's.)
pub fn check_options(options: &mut [String], min: usize, max: usize) -> Result<(), String> {
    for o in options.iter_mut() {
        *o = o.trim().to_string();
        if o.is_empty() {
            return Err("an option is empty".into());
        }
        if o.chars().count() > MAX_OPTION_CHARS {
            return Err(format!(
                "an option is longer than {MAX_OPTION_CHARS} characters"
            ));
        }
        if super::decide::has_control(o) {
            return Err(
                "an option may not hold control characters (but line breaks and tabs)".into(),
            );
        }
    }
    if options.len() < min {
        return Err(format!("at least {min} options"));
    }
    if options.len() > max {
        return Err(format!("at most {max} options"));
    }
    Ok(())
}

/// Check a spec; returns it cleaned (trimmed texts, default voters).
pub fn check_spec(spec: &PollSpec) -> Result<PollSpec, String> {
    let mut s = spec.clone();
    s.question = check_question(&s.question)?;
    if s.voters.is_empty() {
        s.voters = vec![Role::Citizen];
    }
    if s.voters.contains(&Role::Guarantor) {
        return Err("guarantors never vote".into());
    }
    s.voters.sort();
    s.voters.dedup();
    if s.quorum == Some(0) {
        return Err("a quorum is at least one ballot".into());
    }
    if let Some(d) = s.duration_ms {
        if d == 0 || d > super::MAX_DURATION_MS {
            return Err("the duration must be between 1 ms and 12 hours".into());
        }
    }
    let check_options = |options: &mut Vec<String>, min_n: usize| {
        check_options(options, min_n, MAX_OPTIONS)?;
        let distinct: BTreeSet<&String> = options.iter().collect();
        if distinct.len() != options.len() {
            return Err("two options are the same".to_string());
        }
        Ok(())
    };
    match &mut s.kind {
        PollKind::Single { options } | PollKind::Ranking { options } => check_options(options, 2)?,
        PollKind::Multiple { options, min, max } => {
            check_options(options, 2)?;
            if *min > *max || *max == 0 || *max as usize > options.len() {
                return Err(
                    "multiple choice needs 0 <= min <= max <= number of options, and max >= 1"
                        .into(),
                );
            }
        }
        PollKind::Scale {
            min,
            max,
            min_label,
            max_label,
        } => {
            if *min >= *max || i64::from(*max) - i64::from(*min) + 1 > i64::from(MAX_SCALE_VALUES) {
                return Err(format!(
                    "a scale runs from min to a greater max, at most {MAX_SCALE_VALUES} values"
                ));
            }
            *min_label = min_label.trim().to_string();
            *max_label = max_label.trim().to_string();
            if min_label.chars().count() > MAX_OPTION_CHARS
                || max_label.chars().count() > MAX_OPTION_CHARS
            {
                return Err("a scale label is too long".into());
            }
        }
        PollKind::Text { max_chars } => {
            if *max_chars == 0 || *max_chars > MAX_TEXT_CHARS {
                return Err(format!(
                    "a free-text answer is 1 to {MAX_TEXT_CHARS} characters long"
                ));
            }
        }
        PollKind::Position => {}
    }
    Ok(s)
}

/// Check a ballot against the poll's kind; returns it normalised (sorted choices, trimmed text).
pub fn check_ballot(kind: &PollKind, ballot: &Ballot) -> Result<Ballot, String> {
    let n = option_count(kind) as u32;
    match (kind, ballot) {
        (PollKind::Single { .. }, Ballot::Single(i)) => {
            if *i >= n {
                return Err(format!("there is no option {i}"));
            }
            Ok(ballot.clone())
        }
        (PollKind::Multiple { min, max, .. }, Ballot::Multiple(is)) => {
            let set: BTreeSet<u32> = is.iter().copied().collect();
            if set.len() != is.len() {
                return Err("an option is chosen twice".into());
            }
            if let Some(i) = set.iter().find(|i| **i >= n) {
                return Err(format!("there is no option {i}"));
            }
            if (set.len() as u32) < *min {
                return Err(format!("choose at least {min}"));
            }
            if (set.len() as u32) > *max {
                return Err(format!("choose at most {max}"));
            }
            Ok(Ballot::Multiple(set.into_iter().collect()))
        }
        (PollKind::Scale { min, max, .. }, Ballot::Scale(v)) => {
            if v < min || v > max {
                return Err(format!("the value must be between {min} and {max}"));
            }
            Ok(ballot.clone())
        }
        (PollKind::Ranking { .. }, Ballot::Ranking(order)) => {
            let set: BTreeSet<u32> = order.iter().copied().collect();
            if order.len() != n as usize || set.len() != order.len() || set.iter().any(|i| *i >= n)
            {
                return Err(format!("rank every one of the {n} options exactly once"));
            }
            Ok(ballot.clone())
        }
        (PollKind::Text { max_chars }, Ballot::Text(t)) => {
            let t = t.trim();
            if t.is_empty() {
                return Err("the answer is empty".into());
            }
            if t.chars().count() > *max_chars as usize {
                return Err(format!("the answer is longer than {max_chars} characters"));
            }
            if super::decide::has_control(t) {
                return Err(
                    "the answer may not hold control characters (but line breaks and tabs)".into(),
                );
            }
            Ok(Ballot::Text(t.to_string()))
        }
        (PollKind::Position, Ballot::Position(_)) => Ok(ballot.clone()),
        _ => Err("this ballot is not of the poll's kind".into()),
    }
}

fn reject<T>(code: Code, message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(code, message))
}

/// Decide a poll command (the actor's permission was checked by the caller).
pub(super) fn decide(
    state: &Convention,
    me: Option<&Person>,
    command: &Command,
    now: Millis,
    present: &BTreeSet<ParticipantId>,
) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::DraftPoll { spec } => {
            let spec = poll_spec(state, spec)?;
            if state.polls.len() >= MAX_POLLS {
                return reject(
                    Code::Conflict,
                    format!("a convention holds at most {MAX_POLLS} polls: delete a draft"),
                );
            }
            room_for_text(state, None, &spec)?;
            Ok(vec![Event::PollDrafted {
                poll: format!("q{}", state.polls_made + 1),
                spec,
            }])
        }
        Command::EditPoll { poll, spec } => {
            draft(state, poll)?;
            let spec = poll_spec(state, spec)?;
            room_for_text(state, Some(poll), &spec)?;
            Ok(vec![Event::PollEdited {
                poll: poll.clone(),
                spec,
            }])
        }
        Command::DeletePoll { poll } => {
            draft(state, poll)?;
            Ok(vec![Event::PollDeleted { poll: poll.clone() }])
        }
        Command::OpenPoll { poll } => {
            let p = draft(state, poll)?;
            // The room may have been cleared since the draft.
            let spec = poll_spec(state, &p.spec)?;
            let ends_at = spec.duration_ms.map(|d| now + d);
            Ok(vec![Event::PollOpened {
                poll: poll.clone(),
                spec,
                ends_at,
            }])
        }
        Command::ClosePoll { poll } => {
            let p = poll_of(state, poll)?;
            if p.status != PollStatus::Open {
                return reject(Code::Conflict, "this poll is not open");
            }
            if let Some(t) = p.stalled() {
                return Err(t.rejection());
            }
            Ok(vec![Event::PollClosed {
                poll: poll.clone(),
                reason: CloseReason::Facilitator,
                tally: p.tally(),
                turnout: Some(turnout(state, p, present)),
            }])
        }
        Command::RevealResults { poll } => {
            let p = poll_of(state, poll)?;
            if p.status == PollStatus::Draft {
                return reject(Code::Conflict, "this poll has not been opened");
            }
            if p.results_public() {
                return reject(Code::Conflict, "the results are already visible");
            }
            if let Some(t) = p.stalled() {
                return Err(t.rejection());
            }
            Ok(vec![Event::PollRevealed { poll: poll.clone() }])
        }
        Command::PublishResults { poll } => {
            let p = poll_of(state, poll)?;
            match p.status {
                PollStatus::Closed => Ok(vec![Event::PollPublished {
                    poll: poll.clone(),
                    tally: p.tally(),
                }]),
                PollStatus::Published => {
                    reject(Code::Conflict, "the results are already published")
                }
                PollStatus::Draft | PollStatus::Open => {
                    reject(Code::Conflict, "close the poll first")
                }
            }
        }
        Command::Vote { poll, ballot } => {
            let voter = me.expect("admitted participants only");
            let p = poll_of(state, poll)?;
            if p.status == PollStatus::Draft {
                return reject(Code::NotFound, format!("no poll {poll}"));
            }
            // Past its end the poll is over, even if the timer has not closed it yet.
            if p.status != PollStatus::Open || p.ends_at.is_some_and(|e| e <= now) {
                return reject(Code::Conflict, "this poll is not open");
            }
            if !p.eligible(&voter.roles) {
                return reject(Code::Forbidden, "this poll is not open to your role");
            }
            if let Some(t) = p.stalled() {
                return Err(t.rejection());
            }
            if let Some(room) = &p.spec.room {
                if state.location_of(&voter.id) != room.as_str() {
                    return reject(Code::Forbidden, "this poll is for another room");
                }
            }
            let ballot =
                check_ballot(&p.spec.kind, ballot).map_err(|m| Rejection::new(Code::Invalid, m))?;
            if p.spec.secret {
                if p.voted.contains(&voter.id) {
                    return reject(
                        Code::Conflict,
                        "you have already voted: a secret ballot is final",
                    );
                }
                Ok(vec![
                    Event::VoterMarked { poll: poll.clone() },
                    Event::SecretBallotCast {
                        poll: poll.clone(),
                        ballot,
                    },
                ])
            } else {
                Ok(vec![Event::BallotCast {
                    poll: poll.clone(),
                    ballot,
                }])
            }
        }
        _ => reject(Code::Invalid, "not a poll command"),
    }
}

/// Polls whose time is up at `now`: their closing events.
pub(super) fn due(
    state: &Convention,
    now: Millis,
    present: &BTreeSet<ParticipantId>,
) -> Vec<Event> {
    state
        .polls
        .values()
        .filter(|p| p.status == PollStatus::Open && p.ends_at.is_some_and(|e| e <= now))
        .filter(|p| p.stalled().is_none())
        .map(|p| Event::PollClosed {
            poll: p.id.clone(),
            reason: CloseReason::Timer,
            tally: p.tally(),
            turnout: Some(turnout(state, p, present)),
        })
        .collect()
}

fn poll_of<'s>(state: &'s Convention, poll: &str) -> Result<&'s Poll, Rejection> {
    state
        .polls
        .get(poll)
        .ok_or_else(|| Rejection::new(Code::NotFound, format!("no poll {poll}")))
}

fn draft<'s>(state: &'s Convention, poll: &str) -> Result<&'s Poll, Rejection> {
    let p = poll_of(state, poll)?;
    if p.status != PollStatus::Draft {
        return reject(
            Code::Conflict,
            "this poll has been opened: it can no longer change",
        );
    }
    Ok(p)
}

/// Bytes of text a poll carries into every snapshot that lists it.
fn text_bytes(spec: &PollSpec) -> usize {
    let kind = match &spec.kind {
        PollKind::Single { options }
        | PollKind::Ranking { options }
        | PollKind::Multiple { options, .. } => options.iter().map(String::len).sum(),
        PollKind::Scale {
            min_label,
            max_label,
            ..
        } => min_label.len() + max_label.len(),
        PollKind::Text { .. } | PollKind::Position => 0,
    };
    spec.question.len() + kind
}

/// `MAX_POLL_TEXT_BYTES`: the polls' text with `spec` instead of `replacing`'s (a new draft:
/// none).
fn room_for_text(
    state: &Convention,
    replacing: Option<&str>,
    spec: &PollSpec,
) -> Result<(), Rejection> {
    let others: usize = state
        .polls
        .values()
        .filter(|p| Some(p.id.as_str()) != replacing)
        .map(|p| text_bytes(&p.spec))
        .sum();
    if others + text_bytes(spec) > MAX_POLL_TEXT_BYTES {
        return reject(
            Code::Conflict,
            format!(
                "a convention's polls hold at most {} MiB of text: delete a draft",
                MAX_POLL_TEXT_BYTES >> 20
            ),
        );
    }
    Ok(())
}

fn poll_spec(state: &Convention, spec: &PollSpec) -> Result<PollSpec, Rejection> {
    let spec = check_spec(spec).map_err(|m| Rejection::new(Code::Invalid, m))?;
    if let Some(room) = &spec.room {
        if state.room(room).is_none() {
            return reject(Code::NotFound, format!("no room {room}"));
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A participant's poll texts refuse control characters (six bytes each once encoded), as
    /// every text of the domain does; line breaks and tabs pass.
    #[test]
    fn poll_texts_refuse_control_characters() {
        let kind = PollKind::Text { max_chars: 2000 };
        let bad = Ballot::Text("\u{1}".repeat(500));
        assert!(check_ballot(&kind, &bad)
            .unwrap_err()
            .contains("control characters"));
        let good = Ballot::Text("oui\n\tsans doute".into());
        assert_eq!(check_ballot(&kind, &good), Ok(good.clone()));
        assert!(check_question("Pourquoi\u{7}").is_err());
        assert!(check_question("Pourquoi ?\nDites-le.").is_ok());
        let mut options = vec!["a".to_string(), "b\u{1b}".to_string()];
        assert!(check_options(&mut options, 2, 50).is_err());
    }
}
