//! The state of one convention: a fold of its log. `apply` never fails and never reads a
//! clock: every outcome was decided before the event was written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::polls::{Poll, PollStatus};
use super::{
    Actor, CloseReason, Event, Millis, ParticipantId, QueueOrder, Record, Role, RoomId, PLENARY,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: ParticipantId,
    pub name: String,
    /// Sorted, without duplicates.
    pub roles: Vec<Role>,
    pub attributes: BTreeMap<String, String>,
}

impl Person {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
    /// Facilitators and guarantors see every room; others see the room they are in.
    pub fn sees_everything(&self) -> bool {
        self.has(Role::Facilitator) || self.has(Role::Guarantor)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatLine {
    pub seq: u64,
    pub at: Millis,
    pub from: ParticipantId,
    pub text: String,
    /// Hidden by a facilitator: shown marked to staff, to nobody else.
    pub hidden: Option<super::Hidden>,
}

/// An announcement (`broadcast_sent`), kept so that whoever was away when it was sent still
/// finds it in their next snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub seq: u64,
    pub at: Millis,
    pub by: Actor,
    pub text: String,
}

/// Announcements a convention keeps: the latest ones.
pub const RECENT_NOTICES: usize = 10;

/// Chat lines each room keeps in the state: the latest ones (what a snapshot can carry). The
/// whole history stays in the log, where exports read it; the state, which every snapshot,
/// checkpoint and stored state copies, stays the same size however long people talk.
pub const RECENT_CHAT_LINES: usize = 50;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Floor {
    pub participant: ParticipantId,
    pub since: Millis,
    pub ends_at: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomState {
    pub id: RoomId,
    pub name: String,
    pub chat: Vec<ChatLine>,
    /// Raised hands in order of raising, with the time each was raised.
    pub queue: Vec<(ParticipantId, Millis)>,
    pub order: QueueOrder,
    pub limit_ms: Option<u64>,
    pub floor: Option<Floor>,
}

impl RoomState {
    fn new(id: &str, name: &str) -> Self {
        RoomState {
            id: id.to_string(),
            name: name.to_string(),
            chat: Vec::new(),
            queue: Vec::new(),
            order: QueueOrder::Raised,
            limit_ms: None,
            floor: None,
        }
    }
    fn lower(&mut self, who: &str) {
        self.queue.retain(|(p, _)| p != who);
    }
}

/// The name the domain gives a room; `Room` is the short form used by callers.
pub type Room = RoomState;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breakout {
    pub ends_at: Millis,
    pub warn_at: Millis,
    pub warned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub id: u64,
    pub at: Millis,
    pub participant: ParticipantId,
    pub room: RoomId,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Convention {
    pub name: String,
    /// The sequence number of the last event applied; 0 before the first.
    pub seq: u64,
    /// The roster, shared between copies of the state until one of them adds someone: in
    /// cluster mode the state is copied before every batch, and the roster rarely changes.
    pub people: Arc<BTreeMap<ParticipantId, Person>>,
    /// Active invitation per participant: the SHA-256 of the token, never the token.
    pub invites: Arc<BTreeMap<ParticipantId, String>>,
    /// Participants whose invitation was revoked and none issued since: what tells the
    /// organizers a revoked invitation from one never made.
    pub revoked_invites: Arc<BTreeSet<ParticipantId>>,
    /// The plenary first, then breakout rooms in order of creation.
    pub rooms: Vec<RoomState>,
    /// Where each participant is; absent means the plenary.
    pub location: Arc<BTreeMap<ParticipantId, RoomId>>,
    /// Breakout room of each assigned participant.
    pub assignment: Arc<BTreeMap<ParticipantId, RoomId>>,
    pub breakout: Option<Breakout>,
    /// Cumulative floor time of each participant, in ms, over every room.
    pub floor_time: Arc<BTreeMap<ParticipantId, u64>>,
    /// Pending calls for a facilitator, by id (the seq of the call).
    pub calls: BTreeMap<u64, Call>,
    /// Rooms created so far, to number new ones.
    pub rooms_made: u32,
    /// Every poll, drafts included, by id.
    pub polls: BTreeMap<String, Poll>,
    /// Polls drafted so far, to number new ones.
    pub polls_made: u32,
    /// The expert rotation, planned, running or over.
    pub rotation: Option<super::Rotation>,
    /// Collaborative documents, by name.
    pub documents: BTreeMap<String, super::documents::Document>,
    /// Writing groups: name -> members.
    pub writing_groups: BTreeMap<String, BTreeSet<ParticipantId>>,
    /// The latest announcements, oldest first (at most `RECENT_NOTICES`).
    pub notices: Vec<Notice>,
    /// The run sheet of the day.
    pub runsheet: super::RunSheet,
    /// Hearings, planned, open or closed, by id.
    pub hearings: BTreeMap<String, super::hearings::Hearing>,
    // Moderation (`moderation.rs`).
    /// Open reports of chat messages, by id (the seq of the report).
    pub reports: BTreeMap<u64, super::Report>,
    /// Participants whose chat is muted, until a deadline.
    pub muted: BTreeMap<ParticipantId, super::Mute>,
    /// Participants removed from the live convention, until readmitted.
    pub removed: BTreeMap<ParticipantId, super::Removal>,
    /// Public audience (§24): the public link, the livestream, the published opinion.
    pub public: super::public::PublicState,
}

impl Default for Convention {
    fn default() -> Self {
        Convention {
            name: String::new(),
            seq: 0,
            people: Default::default(),
            invites: Default::default(),
            revoked_invites: Default::default(),
            rooms: vec![RoomState::new(PLENARY, "Plénière")],
            location: Default::default(),
            assignment: Default::default(),
            breakout: None,
            floor_time: Default::default(),
            calls: BTreeMap::new(),
            rooms_made: 0,
            polls: BTreeMap::new(),
            polls_made: 0,
            rotation: None,
            documents: BTreeMap::new(),
            writing_groups: BTreeMap::new(),
            notices: Vec::new(),
            runsheet: Default::default(),
            hearings: BTreeMap::new(),
            reports: BTreeMap::new(),
            muted: BTreeMap::new(),
            removed: BTreeMap::new(),
            public: Default::default(),
        }
    }
}

impl Convention {
    /// Fold a whole log.
    pub fn from_log<'a>(records: impl IntoIterator<Item = &'a Record>) -> Self {
        let mut c = Convention::default();
        for r in records {
            c.apply(r);
        }
        c
    }

    pub fn exists(&self) -> bool {
        self.seq > 0
    }

    pub fn room(&self, id: &str) -> Option<&RoomState> {
        self.rooms.iter().find(|r| r.id == id)
    }

    fn room_mut(&mut self, id: &str) -> Option<&mut RoomState> {
        self.rooms.iter_mut().find(|r| r.id == id)
    }

    /// The room a participant is in.
    pub fn location_of(&self, who: &str) -> &str {
        self.location
            .get(who)
            .map(String::as_str)
            .unwrap_or(PLENARY)
    }

    /// The participants currently in a room.
    pub fn members_of<'a>(&'a self, room: &'a str) -> impl Iterator<Item = &'a Person> + 'a {
        self.people
            .values()
            .filter(move |p| self.location_of(&p.id) == room)
    }

    /// The queue of a room in the order the room has chosen.
    pub fn queue_in_order(&self, room: &RoomState) -> Vec<ParticipantId> {
        let mut q: Vec<(usize, &(ParticipantId, Millis))> = room.queue.iter().enumerate().collect();
        if room.order == QueueOrder::LeastSpoken {
            // Stable: equal floor times keep the order of raising.
            q.sort_by_key(|(i, (p, _))| (self.floor_time.get(p).copied().unwrap_or(0), *i));
        }
        q.into_iter().map(|(_, (p, _))| p.clone()).collect()
    }

    /// The earliest deadline still to fire, if any: the server sleeps until then and ticks.
    pub fn next_deadline(&self) -> Option<Millis> {
        let floors = self.rooms.iter().filter_map(|r| r.floor.as_ref()?.ends_at);
        let breakout = self.breakout.as_ref().map(|b| {
            if b.warned {
                b.ends_at
            } else {
                b.warn_at.min(b.ends_at)
            }
        });
        let polls = self
            .polls
            .values()
            .filter(|p| p.status == PollStatus::Open && p.stalled().is_none())
            .filter_map(|p| p.ends_at);
        let rotation = self.rotation.as_ref().and_then(|r| r.deadline());
        floors
            .chain(breakout)
            .chain(polls)
            .chain(rotation)
            .chain(self.next_unmute())
            .min()
    }

    pub(super) fn move_to(&mut self, who: &str, room: &str) {
        // Moderation: someone removed from the live convention is placed in no room (a
        // rotation's next round included) until readmitted.
        if room != PLENARY && self.removed.contains_key(who) {
            return;
        }
        let from = self.location_of(who).to_string();
        if let Some(r) = self.room_mut(&from) {
            r.lower(who);
        }
        if room == PLENARY {
            Arc::make_mut(&mut self.location).remove(who);
        } else {
            Arc::make_mut(&mut self.location).insert(who.to_string(), room.to_string());
        }
    }

    /// Apply one event of the log. Events were validated by `decide`; an event that does not
    /// fit (which a correct log never holds) changes nothing rather than panic.
    pub fn apply(&mut self, record: &Record) {
        if let Event::SecretBallotCast { poll, ballot } = &record.event {
            // From the ballot box: it has no place in the log, so it moves no seq.
            if let Some(p) = self.polls.get_mut(poll) {
                // Kept sorted: their order says nothing of when, or by whom, they were cast.
                let at = p.secret.binary_search(ballot).unwrap_or_else(|i| i);
                p.secret.insert(at, ballot.clone());
            }
            return;
        }
        self.seq = record.seq;
        let at = record.at;
        match &record.event {
            Event::ConventionCreated { name } => self.name = name.clone(),
            Event::ParticipantAdded { person } => {
                Arc::make_mut(&mut self.people).insert(person.id.clone(), person.clone());
            }
            Event::InviteIssued {
                participant,
                token_hash,
            } => {
                Arc::make_mut(&mut self.invites).insert(participant.clone(), token_hash.clone());
                if self.revoked_invites.contains(participant) {
                    Arc::make_mut(&mut self.revoked_invites).remove(participant);
                }
            }
            Event::InviteRevoked { participant } => {
                Arc::make_mut(&mut self.invites).remove(participant);
                Arc::make_mut(&mut self.revoked_invites).insert(participant.clone());
            }
            Event::RoomsCreated { rooms } => {
                for (id, name) in rooms {
                    self.rooms.push(RoomState::new(id, name));
                    self.rooms_made += 1;
                }
            }
            Event::RoomsCleared => {
                self.rooms.truncate(1);
                Arc::make_mut(&mut self.assignment).clear();
                Arc::make_mut(&mut self.location).clear();
            }
            Event::RoomsAssigned { assignments, .. } => {
                Arc::make_mut(&mut self.assignment).clear();
                for (p, r) in assignments {
                    Arc::make_mut(&mut self.assignment).insert(p.clone(), r.clone());
                }
            }
            Event::BreakoutsOpened { ends_at, warn_at } => {
                self.breakout = Some(Breakout {
                    ends_at: *ends_at,
                    warn_at: *warn_at,
                    warned: false,
                });
                let moves: Vec<(String, String)> = self
                    .assignment
                    .iter()
                    .map(|(p, r)| (p.clone(), r.clone()))
                    .collect();
                for (p, r) in moves {
                    if self.location_of(&p) != r {
                        self.move_to(&p, &r);
                    }
                }
            }
            Event::BreakoutsWarned => {
                if let Some(b) = &mut self.breakout {
                    b.warned = true;
                }
            }
            Event::BreakoutsExtended { ends_at, warn_at } => {
                if let Some(b) = &mut self.breakout {
                    b.ends_at = *ends_at;
                    b.warn_at = *warn_at;
                    b.warned = *warn_at <= at;
                }
            }
            Event::BreakoutsClosed {
                reason: CloseReason::Timer | CloseReason::Facilitator,
            } => {
                self.breakout = None;
                Arc::make_mut(&mut self.location).clear();
                // The announcements made so far had their moment (most were about the
                // breakout rooms): whoever arrives later is not told them as news.
                self.notices.clear();
                for r in self.rooms.iter_mut().skip(1) {
                    r.queue.clear();
                    r.floor = None;
                }
            }
            Event::ParticipantMoved { participant, room } => self.move_to(participant, room),
            Event::BroadcastSent { text } => {
                self.notices.push(Notice {
                    seq: record.seq,
                    at,
                    by: record.actor.clone(),
                    text: text.clone(),
                });
                let over = self.notices.len().saturating_sub(RECENT_NOTICES);
                self.notices.drain(..over);
            }
            Event::ChatPosted { room, text } => {
                let from = match &record.actor {
                    Actor::Participant(p) => p.clone(),
                    Actor::Organizer | Actor::Timer | Actor::Public => return,
                };
                if let Some(r) = self.room_mut(room) {
                    r.chat.push(ChatLine {
                        seq: record.seq,
                        at,
                        from,
                        text: text.clone(),
                        hidden: None,
                    });
                    // Drained in halves: amortized O(1) per line, never more than twice kept.
                    if r.chat.len() >= 2 * RECENT_CHAT_LINES {
                        let over = r.chat.len() - RECENT_CHAT_LINES;
                        r.chat.drain(..over);
                    }
                }
            }
            Event::HandRaised { room, participant } => {
                if let Some(r) = self.room_mut(room) {
                    if !r.queue.iter().any(|(p, _)| p == participant) {
                        r.queue.push((participant.clone(), at));
                    }
                }
            }
            Event::HandLowered { room, participant } => {
                if let Some(r) = self.room_mut(room) {
                    r.lower(participant);
                }
            }
            Event::FloorGiven {
                room,
                participant,
                ends_at,
            } => {
                if let Some(r) = self.room_mut(room) {
                    r.lower(participant);
                    r.floor = Some(Floor {
                        participant: participant.clone(),
                        since: at,
                        ends_at: *ends_at,
                    });
                }
            }
            Event::FloorEnded {
                room,
                participant,
                spoken_ms,
                ..
            } => {
                if let Some(r) = self.room_mut(room) {
                    if r.floor
                        .as_ref()
                        .is_some_and(|f| &f.participant == participant)
                    {
                        r.floor = None;
                    }
                }
                *Arc::make_mut(&mut self.floor_time)
                    .entry(participant.clone())
                    .or_insert(0) += spoken_ms;
            }
            Event::QueueOrderSet { room, order } => {
                if let Some(r) = self.room_mut(room) {
                    r.order = *order;
                }
            }
            Event::FloorLimitSet {
                room,
                participant,
                ends_at,
            } => {
                if let Some(f) = self
                    .room_mut(room)
                    .and_then(|r| r.floor.as_mut())
                    .filter(|f| &f.participant == participant)
                {
                    f.ends_at = *ends_at;
                }
            }
            Event::SpeakingLimitSet { room, limit_ms } => {
                if let Some(r) = self.room_mut(room) {
                    r.limit_ms = *limit_ms;
                }
            }
            Event::FacilitatorCalled { room, message } => {
                if let Actor::Participant(p) = &record.actor {
                    let call = Call {
                        id: record.seq,
                        at,
                        participant: p.clone(),
                        room: room.clone(),
                        message: message.clone(),
                    };
                    self.calls.insert(record.seq, call);
                }
            }
            Event::CallResolved { call } => {
                self.calls.remove(call);
            }
            Event::DocumentCreated { .. }
            | Event::WritingGroupSet { .. }
            | Event::DocumentOpened { .. }
            | Event::DocumentClosed { .. }
            | Event::VersionNamed { .. } => super::documents::apply(self, &record.event, at),
            // Run sheet.
            Event::SequenceAdded { .. }
            | Event::SequenceEdited { .. }
            | Event::SequenceDeleted { .. }
            | Event::SequenceMoved { .. }
            | Event::SequenceStarted { .. }
            | Event::SequenceExtended { .. }
            | Event::SequenceEnded { .. }
            | Event::SequenceSkipped { .. } => super::runsheet::apply(self, &record.event, at),
            Event::RotationPlanned { .. }
            | Event::RotationRoundStarted { .. }
            | Event::RotationWarned
            | Event::RotationTransition { .. }
            | Event::RotationPaused { .. }
            | Event::RotationResumed
            | Event::RotationExtended { .. }
            | Event::RotationEnded { .. }
            | Event::ExpertAbsent { .. }
            | Event::GroupJoined { .. }
            | Event::QuestionAsked { .. }
            | Event::QuestionAnswered { .. } => {
                let from = match &record.actor {
                    Actor::Participant(p) => Some(p.as_str()),
                    Actor::Organizer | Actor::Timer | Actor::Public => None,
                };
                super::rotation::apply(self, &record.event, at, record.seq, from);
            }
            // Hearings: questions from the floor.
            Event::HearingCreated { .. }
            | Event::HearingOpened { .. }
            | Event::HearingClosed { .. }
            | Event::HearingQuestionAsked { .. }
            | Event::HearingQuestionSupported { .. }
            | Event::HearingSupportWithdrawn { .. }
            | Event::HearingQuestionApproved { .. }
            | Event::HearingQuestionsMerged { .. }
            | Event::HearingQuestionHidden { .. }
            | Event::HearingQuestionAnswering { .. }
            | Event::HearingQuestionAnswered { .. } => {
                let from = match &record.actor {
                    Actor::Participant(p) => Some(p.as_str()),
                    Actor::Organizer | Actor::Timer | Actor::Public => None,
                };
                super::hearings::apply(self, &record.event, at, record.seq, from);
            }
            // Moderation.
            Event::ChatHidden { .. }
            | Event::ChatUnhidden { .. }
            | Event::ChatReported { .. }
            | Event::ReportDismissed { .. }
            | Event::ParticipantMuted { .. }
            | Event::ParticipantUnmuted { .. }
            | Event::ParticipantRemoved { .. }
            | Event::ParticipantReadmitted { .. } => {
                let by = match &record.actor {
                    Actor::Participant(p) => Some(p.as_str()),
                    Actor::Organizer | Actor::Timer | Actor::Public => None,
                };
                super::moderation::apply(self, &record.event, at, record.seq, by);
            }
            // Public audience (§24).
            Event::PublicLinkCreated { .. }
            | Event::PublicLinkRevoked
            | Event::LivestreamSet { .. }
            | Event::DocumentPublished { .. }
            | Event::PublicPollOpened { .. }
            | Event::PublicBallotCast { .. }
            | Event::PublicPollClosed { .. } => super::public::apply(self, &record.event, at),
            Event::PollDrafted { poll, spec } => {
                self.polls
                    .insert(poll.clone(), Poll::new(poll.clone(), spec.clone()));
                self.polls_made += 1;
            }
            Event::PollEdited { poll, spec } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.spec = spec.clone();
                }
            }
            Event::PollDeleted { poll } => {
                self.polls.remove(poll);
            }
            Event::PollOpened {
                poll,
                spec,
                ends_at,
            } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.spec = spec.clone();
                    p.status = PollStatus::Open;
                    p.opened_at = Some(at);
                    p.ends_at = *ends_at;
                }
            }
            Event::BallotCast { poll, ballot } => {
                if let (Some(p), Actor::Participant(who)) =
                    (self.polls.get_mut(poll), &record.actor)
                {
                    Arc::make_mut(&mut p.named).insert(who.clone(), ballot.clone());
                }
            }
            Event::VoterMarked { poll } => {
                if let (Some(p), Actor::Participant(who)) =
                    (self.polls.get_mut(poll), &record.actor)
                {
                    Arc::make_mut(&mut p.voted).insert(who.clone());
                }
            }
            Event::SecretBallotCast { .. } => {} // handled above
            Event::PollClosed {
                poll,
                tally,
                turnout,
                ..
            } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.status = PollStatus::Closed;
                    p.ends_at = None;
                    p.final_tally = Some(tally.clone());
                    p.closed_turnout = *turnout;
                }
            }
            Event::PollRevealed { poll } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.revealed = true;
                }
            }
            Event::PollPublished { poll, .. } => {
                if let Some(p) = self.polls.get_mut(poll) {
                    p.status = PollStatus::Published;
                }
            }
        }
    }

    /// Polls in the order they were drafted (q2 before q10).
    pub fn polls_in_order(&self) -> impl Iterator<Item = &Poll> {
        let mut polls: Vec<&Poll> = self.polls.values().collect();
        polls.sort_by_key(|p| (p.id.len(), p.id.clone()));
        polls.into_iter()
    }

    /// The participants of the roster who hold a role.
    pub fn with_role(&self, role: Role) -> BTreeSet<ParticipantId> {
        self.people
            .values()
            .filter(|p| p.has(role))
            .map(|p| p.id.clone())
            .collect()
    }
}
