//! A protocol version 2 client model (PROTOCOL.md section 25): the whole view a v2 client
//! keeps, maintained message by message (the roster fetched by version, presence from
//! `presence_batch`, the room from `room_view`, every event as PROTOCOL.md describes it, and
//! the side messages `poll_tally`, `hearing_question` and `audit`), to be compared with a
//! fresh connection's welcome and roster. It follows the web client's reducer
//! (`web/src/reduce.js`, `v2.js`, `runsheet.js`, `hearings.js`), written again from the
//! protocol's types.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use crate::proto::{self, ClientMessage, Event, PersonState, RoomCount, ServerMessage};
use crate::Client;
use proto::{
    Actor, CallView, ChatLine, DocumentView, FloorTime, FloorView, HearingQuestion, HearingStatus,
    HearingView, HiddenMark, MuteView, NoticeLine, PollStatus, PollView, QuestionStatus,
    QueueEntry, QueueOrder, RemovalView, ReportView, Role, RoomInside, RotationPhase, RotationView,
    SequenceExtension, SequenceStatus, SequenceView, Snapshot, VersionInfo,
};

/// Announcements a snapshot recalls (PROTOCOL.md, `notices`).
const NOTICES: usize = 10;

/// What a v2 client knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub me: String,
    /// The `you` of the welcome.
    pub you: proto::Person,
    pub seq: u64,
    /// The roster by id, and its version (`None` until fetched).
    pub roster: BTreeMap<String, proto::Person>,
    pub roster_version: Option<u64>,
    /// The presence view: the people of the view, every room's counts.
    pub people: BTreeMap<String, PersonState>,
    pub counts: Vec<RoomCount>,
    /// Everything else of the snapshot (its `presence` and `roster` are kept above; `seq`
    /// above too).
    pub snap: Snapshot,
}

fn staff(roles: &[Role]) -> bool {
    roles.contains(&Role::Facilitator) || roles.contains(&Role::Guarantor)
}

fn by_of(a: &Actor) -> Option<String> {
    match a {
        Actor::Participant(id) => Some(id.clone()),
        _ => None,
    }
}

fn empty_inside() -> RoomInside {
    RoomInside {
        chat: Vec::new(),
        queue: Vec::new(),
        queue_in_order: Vec::new(),
        order: QueueOrder::Raised,
        limit_ms: None,
        floor: None,
    }
}

/// The order of questions the server gives: those the room sees first, most supported
/// first, ties older first.
fn sort_questions(list: &mut [HearingQuestion]) {
    let unseen = |q: &HearingQuestion| {
        !matches!(
            q.status,
            QuestionStatus::Open | QuestionStatus::Answering | QuestionStatus::Answered
        )
    };
    list.sort_by(|a, b| {
        unseen(a)
            .cmp(&unseen(b))
            .then(b.supports.cmp(&a.supports))
            .then(a.id.cmp(&b.id))
    });
}

impl View {
    /// Where this client is, as its presence view says.
    pub fn room(&self) -> Option<&str> {
        self.people.get(&self.me).map(|s| s.room.as_str())
    }

    /// The ids of the rooms, the plenary first.
    pub fn rooms(&self) -> Vec<String> {
        self.snap.rooms.iter().map(|r| r.id.clone()).collect()
    }

    fn here(&self) -> String {
        self.room().unwrap_or(proto::PLENARY_ID).to_string()
    }

    fn staff(&self) -> bool {
        staff(&self.you.roles)
    }

    /// The view a welcome gives.
    pub fn from_welcome(msg: &ServerMessage) -> Result<View> {
        let ServerMessage::Welcome { you, snapshot, .. } = msg else {
            bail!("not a welcome: {msg:?}")
        };
        let mut snap = snapshot.clone();
        let presence = snap.presence.take().context("a v2 welcome has presence")?;
        snap.roster
            .take()
            .context("a v2 welcome has the roster's version")?;
        Ok(View {
            me: you.id.clone(),
            you: you.clone(),
            seq: snap.seq,
            roster: BTreeMap::new(),
            roster_version: None,
            people: presence
                .people
                .into_iter()
                .map(|s| (s.participant.clone(), s))
                .collect(),
            counts: presence.rooms,
            snap,
        })
    }

    /// The inside of the client's own room, if it has it.
    pub fn inside(&self) -> Option<&RoomInside> {
        let here = self.here();
        self.snap
            .rooms
            .iter()
            .find(|r| r.id == here)
            .and_then(|r| r.inside.as_ref())
    }

    fn inside_of(&mut self, room: &str) -> Option<&mut RoomInside> {
        self.snap
            .rooms
            .iter_mut()
            .find(|r| r.id == room)
            .and_then(|r| r.inside.as_mut())
    }

    /// A room's `queue_in_order` from its queue and order. `least_spoken` needs the floor
    /// times, which only facilitators and guarantors have: others keep the server's last
    /// order, newcomers last (and the comparison leaves it out: see `comparable`).
    fn reorder(floor_time: &Option<Vec<FloorTime>>, inside: &mut RoomInside) {
        let queue: Vec<String> = inside.queue.iter().map(|q| q.participant.clone()).collect();
        if inside.order == QueueOrder::LeastSpoken {
            if let Some(ft) = floor_time {
                let spoken = |p: &String| {
                    ft.iter()
                        .find(|f| f.participant == *p)
                        .map_or(0, |f| f.spoken_ms)
                };
                let mut q = queue;
                q.sort_by_key(|p| spoken(p)); // stable: ties in order of raising
                inside.queue_in_order = q;
            } else {
                let mut kept: Vec<String> = inside
                    .queue_in_order
                    .iter()
                    .filter(|p| queue.contains(p))
                    .cloned()
                    .collect();
                for p in queue {
                    if !kept.contains(&p) {
                        kept.push(p);
                    }
                }
                inside.queue_in_order = kept;
            }
            return;
        }
        inside.queue_in_order = queue;
    }

    fn reorder_all(&mut self) {
        let ft = self.snap.floor_time.clone();
        for r in self.snap.rooms.iter_mut() {
            if let Some(inside) = r.inside.as_mut() {
                Self::reorder(&ft, inside);
            }
        }
    }

    /// Lower `who`'s hand in every room but `except`.
    fn lower_elsewhere(&mut self, who: &str, except: Option<&str>) {
        let ft = self.snap.floor_time.clone();
        for r in self.snap.rooms.iter_mut() {
            if Some(r.id.as_str()) == except {
                continue;
            }
            if let Some(inside) = r.inside.as_mut() {
                if inside.queue.iter().any(|q| q.participant == who) {
                    inside.queue.retain(|q| q.participant != who);
                    Self::reorder(&ft, inside);
                }
            }
        }
    }

    /// Leaving a room lowers one's hand (PROTOCOL.md `lower_hand`): a queue keeps only hands
    /// of people its room holds, as far as the presence view tells.
    fn drop_hands_of_the_gone(&mut self) {
        let ft = self.snap.floor_time.clone();
        let people = &self.people;
        for r in self.snap.rooms.iter_mut() {
            if let Some(inside) = r.inside.as_mut() {
                let before = inside.queue.len();
                inside
                    .queue
                    .retain(|q| people.get(&q.participant).is_none_or(|s| s.room == r.id));
                if inside.queue.len() != before {
                    Self::reorder(&ft, inside);
                }
            }
        }
    }

    /// Apply one message of the server.
    pub fn apply(&mut self, msg: &ServerMessage) {
        match msg {
            ServerMessage::Roster {
                version, people, ..
            } => {
                self.roster = people.iter().map(|p| (p.id.clone(), p.clone())).collect();
                self.roster_version = Some(*version);
                self.recompute_observers();
            }
            ServerMessage::PresenceBatch {
                people,
                gone,
                rooms,
            } => {
                for s in people {
                    self.people.insert(s.participant.clone(), s.clone());
                }
                for g in gone {
                    self.people.remove(g);
                }
                if !rooms.is_empty() {
                    self.counts = rooms.clone();
                }
                self.drop_hands_of_the_gone();
                self.recompute_observers();
            }
            ServerMessage::RoomView {
                seq,
                room,
                inside,
                polls,
                hearings,
                presence,
                ..
            } => {
                self.seq = self.seq.max(*seq);
                let staff = self.staff();
                for r in self.snap.rooms.iter_mut() {
                    if r.id == *room {
                        r.inside = Some(inside.clone());
                    } else if !staff {
                        r.inside = None;
                    }
                }
                self.snap.polls = polls.clone();
                self.snap.hearings = hearings.clone();
                self.people = presence
                    .people
                    .iter()
                    .map(|s| (s.participant.clone(), s.clone()))
                    .collect();
                self.counts = presence.rooms.clone();
                self.recompute_observers();
            }
            ServerMessage::Event { record } => {
                self.seq = record.seq;
                self.event(record);
                // Moved: the room view follows; meanwhile the room shows empty.
                let here = self.here();
                if let Some(r) = self.snap.rooms.iter_mut().find(|r| r.id == here) {
                    r.inside.get_or_insert_with(empty_inside);
                }
            }
            ServerMessage::PollTally {
                poll,
                participation,
                tally,
            } => {
                if let Some(p) = self.snap.polls.iter_mut().find(|p| p.id == *poll) {
                    p.participation = participation.clone();
                    if tally.is_some() || p.tally.is_none() {
                        p.tally = tally.clone();
                    }
                }
            }
            ServerMessage::HearingQuestion { hearing, question } => {
                self.hearing_question(hearing, question)
            }
            ServerMessage::Audit { entry } => {
                self.snap.audit_head = Some(proto::AuditHead {
                    n: entry.n,
                    hash: entry.hash.clone(),
                });
            }
            _ => {}
        }
    }

    fn hearing_question(&mut self, hearing: &str, q: &HearingQuestion) {
        let staff = self.staff();
        let Some(h) = self.snap.hearings.iter_mut().find(|h| h.id == hearing) else {
            return;
        };
        if q.status == QuestionStatus::Merged {
            // Its author and supporters now support the other (each once).
            let mine = h.yours.contains(&q.id) || h.supported.contains(&q.id);
            h.supported.retain(|x| *x != q.id);
            if let Some(into) = q.merged_into {
                if mine && !h.yours.contains(&into) && !h.supported.contains(&into) {
                    h.supported.push(into);
                }
            }
        }
        let Some(list) = h.questions.as_mut() else {
            return;
        };
        let gone = matches!(q.status, QuestionStatus::Hidden | QuestionStatus::Merged);
        let at = list.iter().position(|x| x.id == q.id);
        match at {
            Some(i) if gone && !staff => {
                list.remove(i);
            }
            _ if gone && !staff => {}
            Some(i) => list[i] = q.clone(),
            None => list.push(q.clone()),
        }
        sort_questions(list);
    }

    fn eligible(&self, spec: &proto::PollSpec) -> bool {
        let roles = &self.you.roles;
        if roles.contains(&Role::Guarantor) || !roles.iter().any(|r| spec.voters.contains(r)) {
            return false;
        }
        spec.room.as_ref().is_none_or(|r| *r == self.here())
    }

    fn can_write(&self, doc: &DocumentView) -> bool {
        let roles = &self.you.roles;
        if roles.contains(&Role::Guarantor) {
            return false;
        }
        if roles.contains(&Role::Facilitator) || roles.contains(&Role::Rapporteur) {
            return true;
        }
        roles.contains(&Role::Citizen)
            && doc.groups.iter().any(|g| {
                self.snap
                    .writing_groups
                    .get(g)
                    .is_some_and(|m| m.contains(&self.me))
            })
    }

    fn rewrite(&mut self) {
        let can: Vec<bool> = self
            .snap
            .documents
            .iter()
            .map(|d| self.can_write(d))
            .collect();
        for (d, c) in self.snap.documents.iter_mut().zip(can) {
            d.can_write = c;
        }
    }

    fn poll(&mut self, id: &str) -> Option<&mut PollView> {
        self.snap.polls.iter_mut().find(|p| p.id == id)
    }

    fn sequence(&mut self, id: &str) -> Option<&mut SequenceView> {
        self.snap.runsheet.sequences.iter_mut().find(|s| s.id == id)
    }

    fn insert_sequence(&mut self, s: SequenceView, before: &Option<String>) {
        let seqs = &mut self.snap.runsheet.sequences;
        match before
            .as_ref()
            .and_then(|b| seqs.iter().position(|x| x.id == *b))
        {
            Some(i) => seqs.insert(i, s),
            None => seqs.push(s),
        }
    }

    fn hearing(&mut self, id: &str) -> Option<&mut HearingView> {
        self.snap.hearings.iter_mut().find(|h| h.id == id)
    }

    fn event(&mut self, record: &proto::Record) {
        let (seq, at, e) = (record.seq, record.at, &record.event);
        let by = by_of(&record.by);
        let by_me = by.as_deref() == Some(self.me.as_str());
        let staff = self.staff();
        match e {
            Event::ConventionCreated { name } => self.snap.convention.name = name.clone(),
            Event::ParticipantAdded { person } => {
                if self.roster_version.is_some() && !self.roster.contains_key(&person.id) {
                    self.roster.insert(person.id.clone(), person.clone());
                    self.roster_version = Some(self.roster.len() as u64);
                }
                // Floor times list everyone but guarantors, by id (PROTOCOL.md section 10).
                if let Some(ft) = self.snap.floor_time.as_mut() {
                    if !person.roles.contains(&Role::Guarantor) {
                        if let Err(i) =
                            ft.binary_search_by(|f| f.participant.as_str().cmp(&person.id))
                        {
                            ft.insert(
                                i,
                                FloorTime {
                                    participant: person.id.clone(),
                                    spoken_ms: 0,
                                },
                            );
                        }
                    }
                }
            }
            // Never sent on `/ws` (tokens, the ballot box, the public link: §24).
            Event::InviteIssued { .. }
            | Event::InviteRevoked { .. }
            | Event::SecretBallotCast { .. }
            | Event::PublicLinkCreated { .. }
            | Event::PublicLinkRevoked
            | Event::LivestreamSet { .. }
            | Event::DocumentPublished { .. }
            | Event::PublicPollOpened { .. }
            | Event::PublicBallotCast { .. }
            | Event::PublicPollClosed { .. } => {}
            Event::RoomsCreated { rooms } => {
                for r in rooms {
                    if !self.snap.rooms.iter().any(|x| x.id == r.id) {
                        self.snap.rooms.push(proto::RoomView {
                            id: r.id.clone(),
                            name: r.name.clone(),
                            observers: 0,
                            inside: staff.then(empty_inside),
                        });
                    }
                }
            }
            Event::RoomsCleared => self.snap.rooms.retain(|r| r.id == proto::PLENARY_ID),
            // Assignments and where people are: from presence only (section 25).
            Event::RoomsAssigned { .. } => {}
            Event::BreakoutsOpened { ends_at, warn_at } => {
                self.snap.breakouts = Some(proto::BreakoutView {
                    ends_at: *ends_at,
                    warn_at: *warn_at,
                    warned: false,
                });
            }
            Event::BreakoutsWarned => {
                if let Some(b) = self.snap.breakouts.as_mut() {
                    b.warned = true;
                }
            }
            Event::BreakoutsExtended { ends_at, warn_at } => {
                if let Some(b) = self.snap.breakouts.as_mut() {
                    b.ends_at = *ends_at;
                    b.warn_at = *warn_at;
                    b.warned = *warn_at <= at;
                }
            }
            Event::BreakoutsClosed { .. } => {
                self.snap.breakouts = None;
                for r in self.snap.rooms.iter_mut() {
                    if let Some(inside) = r.inside.as_mut().filter(|_| r.id != proto::PLENARY_ID) {
                        inside.queue.clear();
                        inside.queue_in_order.clear();
                        inside.floor = None;
                    }
                }
                // The server stops recalling the announcements made so far.
                self.snap.notices.clear();
            }
            // Leaving a room lowers one's hand.
            Event::ParticipantMoved { participant, room } => {
                self.lower_elsewhere(participant, Some(room))
            }
            Event::BroadcastSent { text } => {
                self.snap.notices.push(NoticeLine {
                    seq,
                    at,
                    by: record.by.clone(),
                    text: text.clone(),
                });
                keep_latest(&mut self.snap.notices, NOTICES);
            }
            Event::ChatPosted { room, text } => {
                if let Some(inside) = self.inside_of(room) {
                    inside.chat.push(ChatLine {
                        seq,
                        at,
                        from: by.clone().unwrap_or_default(),
                        text: text.clone(),
                        hidden: None,
                    });
                    keep_latest(&mut inside.chat, proto::SNAPSHOT_CHAT_LINES);
                }
            }
            Event::HandRaised { room, participant } => {
                let ft = self.snap.floor_time.clone();
                if let Some(inside) = self.inside_of(room) {
                    if !inside.queue.iter().any(|q| q.participant == *participant) {
                        inside.queue.push(QueueEntry {
                            participant: participant.clone(),
                            raised_at: at,
                        });
                        Self::reorder(&ft, inside);
                    }
                }
            }
            Event::HandLowered { room, participant } => {
                let ft = self.snap.floor_time.clone();
                if let Some(inside) = self.inside_of(room) {
                    inside.queue.retain(|q| q.participant != *participant);
                    Self::reorder(&ft, inside);
                }
            }
            Event::FloorGiven {
                room,
                participant,
                ends_at,
            } => {
                let ft = self.snap.floor_time.clone();
                if let Some(inside) = self.inside_of(room) {
                    inside.floor = Some(FloorView {
                        participant: participant.clone(),
                        since: at,
                        ends_at: *ends_at,
                    });
                    inside.queue.retain(|q| q.participant != *participant);
                    Self::reorder(&ft, inside);
                }
            }
            Event::FloorEnded {
                room,
                participant,
                spoken_ms,
                ..
            } => {
                if let Some(inside) = self.inside_of(room) {
                    if inside
                        .floor
                        .as_ref()
                        .is_some_and(|f| f.participant == *participant)
                    {
                        inside.floor = None;
                    }
                }
                if let Some(ft) = self.snap.floor_time.as_mut() {
                    match ft.binary_search_by(|f| f.participant.as_str().cmp(participant)) {
                        Ok(i) => ft[i].spoken_ms += spoken_ms,
                        Err(i) => ft.insert(
                            i,
                            FloorTime {
                                participant: participant.clone(),
                                spoken_ms: *spoken_ms,
                            },
                        ),
                    }
                    self.reorder_all();
                }
            }
            Event::QueueOrderSet { room, order } => {
                let ft = self.snap.floor_time.clone();
                if let Some(inside) = self.inside_of(room) {
                    inside.order = *order;
                    Self::reorder(&ft, inside);
                }
            }
            Event::SpeakingLimitSet { room, limit_ms } => {
                if let Some(inside) = self.inside_of(room) {
                    inside.limit_ms = *limit_ms;
                }
            }
            Event::FloorLimitSet {
                room,
                participant,
                ends_at,
            } => {
                if let Some(f) = self
                    .inside_of(room)
                    .and_then(|i| i.floor.as_mut())
                    .filter(|f| f.participant == *participant)
                {
                    f.ends_at = *ends_at;
                }
            }
            Event::FacilitatorCalled { room, message } => {
                if !self.snap.calls.iter().any(|c| c.id == seq) {
                    self.snap.calls.push(CallView {
                        id: seq,
                        at,
                        participant: by.clone().unwrap_or_default(),
                        room: room.clone(),
                        message: message.clone(),
                    });
                }
            }
            Event::CallResolved { call } => self.snap.calls.retain(|c| c.id != *call),
            Event::PollDrafted { poll, spec } => {
                if self.poll(poll).is_none() {
                    let eligible = self.eligible(spec);
                    self.snap.polls.push(PollView {
                        id: poll.clone(),
                        spec: spec.clone(),
                        status: PollStatus::Draft,
                        opened_at: None,
                        ends_at: None,
                        revealed: false,
                        eligible,
                        you_voted: false,
                        your_ballot: None,
                        participation: None,
                        tally: None,
                        tampered: None,
                    });
                }
            }
            Event::PollEdited { poll, spec } => {
                let eligible = self.eligible(spec);
                if let Some(p) = self.poll(poll) {
                    p.spec = spec.clone();
                    p.eligible = eligible;
                }
            }
            Event::PollDeleted { poll } => self.snap.polls.retain(|p| p.id != *poll),
            Event::PollOpened {
                poll,
                spec,
                ends_at,
            } => {
                let eligible = self.eligible(spec);
                if self.poll(poll).is_none() {
                    self.snap.polls.push(PollView {
                        id: poll.clone(),
                        spec: spec.clone(),
                        status: PollStatus::Open,
                        opened_at: None,
                        ends_at: None,
                        revealed: false,
                        eligible,
                        you_voted: false,
                        your_ballot: None,
                        participation: None,
                        tally: None,
                        tampered: None,
                    });
                }
                if let Some(p) = self.poll(poll) {
                    p.spec = spec.clone();
                    p.status = PollStatus::Open;
                    p.opened_at = Some(at);
                    p.ends_at = *ends_at;
                    p.eligible = eligible;
                }
            }
            Event::BallotCast { poll, ballot } => {
                if by_me {
                    if let Some(p) = self.poll(poll) {
                        p.you_voted = true;
                        p.your_ballot = Some(ballot.clone());
                    }
                }
            }
            Event::VoterMarked { poll } => {
                if by_me {
                    if let Some(p) = self.poll(poll) {
                        p.you_voted = true;
                    }
                }
            }
            Event::PollClosed {
                poll,
                tally,
                turnout,
                ..
            } => {
                if let Some(p) = self.poll(poll) {
                    p.status = PollStatus::Closed;
                    p.ends_at = None;
                    if tally.is_some() {
                        p.tally = tally.clone();
                    }
                    // Staff's close carries the turnout its participation keeps from now on.
                    if let (Some(t), Some(part)) = (turnout, p.participation.as_mut()) {
                        part.eligible = t.eligible;
                        part.eligible_present = t.eligible_present;
                    }
                }
            }
            Event::PollRevealed { poll } => {
                if let Some(p) = self.poll(poll) {
                    p.revealed = true;
                }
            }
            Event::PollPublished { poll, tally } => {
                if let Some(p) = self.poll(poll) {
                    p.status = PollStatus::Published;
                    p.tally = Some(tally.clone());
                }
            }
            // The rotation; where it puts people comes by presence.
            Event::RotationPlanned { plan } => {
                self.snap.rotation = Some(RotationView {
                    plan: plan.clone(),
                    phase: RotationPhase::Planned,
                    absent: Vec::new(),
                    questions: Vec::new(),
                });
            }
            Event::RotationRoundStarted {
                round,
                ends_at,
                warn_at,
            } => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    r.phase = RotationPhase::Round {
                        round: *round,
                        ends_at: *ends_at,
                        warn_at: *warn_at,
                        warned: false,
                    };
                }
            }
            Event::RotationWarned => {
                if let Some(RotationPhase::Round { warned, .. }) =
                    self.snap.rotation.as_mut().map(|r| &mut r.phase)
                {
                    *warned = true;
                }
            }
            Event::RotationTransition { next, starts_at } => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    r.phase = RotationPhase::Transition {
                        next: *next,
                        starts_at: *starts_at,
                    };
                }
            }
            Event::RotationPaused { remaining_ms } => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    let frozen = Box::new(r.phase.clone());
                    r.phase = RotationPhase::Paused {
                        frozen,
                        remaining_ms: *remaining_ms,
                    };
                }
            }
            Event::RotationResumed => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    if let RotationPhase::Paused {
                        frozen,
                        remaining_ms,
                    } = &r.phase
                    {
                        let deadline = at + remaining_ms;
                        r.phase = match frozen.as_ref() {
                            RotationPhase::Round {
                                round,
                                ends_at,
                                warn_at,
                                warned,
                            } => {
                                let warning = ends_at.saturating_sub(*warn_at);
                                RotationPhase::Round {
                                    round: *round,
                                    ends_at: deadline,
                                    warn_at: deadline.saturating_sub(warning).max(at),
                                    warned: *warned,
                                }
                            }
                            RotationPhase::Transition { next, .. } => RotationPhase::Transition {
                                next: *next,
                                starts_at: deadline,
                            },
                            other => other.clone(),
                        };
                    }
                }
            }
            Event::RotationExtended { ends_at, warn_at } => {
                if let Some(RotationPhase::Round {
                    ends_at: e,
                    warn_at: w,
                    warned,
                    ..
                }) = self.snap.rotation.as_mut().map(|r| &mut r.phase)
                {
                    *e = *ends_at;
                    *w = *warn_at;
                    *warned = *warn_at <= at;
                }
            }
            Event::RotationEnded { stopped } => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    r.phase = RotationPhase::Finished { stopped: *stopped };
                }
            }
            Event::ExpertAbsent { expert, schedule } => {
                if let Some(r) = self.snap.rotation.as_mut() {
                    if let Some(id) = r.plan.experts.get(*expert as usize).cloned() {
                        if !r.absent.contains(&id) {
                            r.absent.push(id);
                        }
                    }
                    r.plan.schedule = schedule.clone();
                }
            }
            Event::GroupJoined { participant, group } => {
                if let Some(g) = self
                    .snap
                    .rotation
                    .as_mut()
                    .and_then(|r| r.plan.groups.get_mut(*group as usize))
                {
                    g.push(participant.clone());
                }
            }
            Event::QuestionAsked { room, text } => {
                if let (Some(r), Some(from)) = (self.snap.rotation.as_mut(), by.clone()) {
                    r.questions.push(proto::Question {
                        id: seq,
                        room: room.clone(),
                        from,
                        at,
                        text: text.clone(),
                        answer: None,
                    });
                }
            }
            Event::QuestionAnswered { question, text } => {
                if let Some(q) = self
                    .snap
                    .rotation
                    .as_mut()
                    .and_then(|r| r.questions.iter_mut().find(|q| q.id == *question))
                {
                    q.answer = Some(text.clone());
                }
            }
            Event::DocumentCreated { name, title } => {
                if !self.snap.documents.iter().any(|d| d.name == *name) {
                    self.snap.documents.push(DocumentView {
                        name: name.clone(),
                        title: title.clone(),
                        groups: Vec::new(),
                        can_write: false,
                        versions: Vec::new(),
                    });
                    self.rewrite();
                }
            }
            Event::WritingGroupSet { group, members } => {
                self.snap
                    .writing_groups
                    .insert(group.clone(), members.clone());
                self.rewrite();
            }
            Event::DocumentOpened { document, group } => {
                if let Some(d) = self.snap.documents.iter_mut().find(|d| d.name == *document) {
                    if !d.groups.contains(group) {
                        d.groups.push(group.clone());
                    }
                }
                self.rewrite();
            }
            Event::DocumentClosed { document, group } => {
                if let Some(d) = self.snap.documents.iter_mut().find(|d| d.name == *document) {
                    d.groups.retain(|g| g != group);
                }
                self.rewrite();
            }
            Event::VersionNamed {
                document,
                version,
                label,
            } => {
                if let Some(d) = self.snap.documents.iter_mut().find(|d| d.name == *document) {
                    if !d.versions.iter().any(|v| v.version == *version) {
                        d.versions.push(VersionInfo {
                            version: *version,
                            label: label.clone(),
                            at,
                        });
                    }
                }
            }
            // The run sheet (§20).
            Event::SequenceAdded {
                sequence,
                spec,
                before,
            } => {
                let s = SequenceView {
                    id: sequence.clone(),
                    spec: spec.clone(),
                    status: SequenceStatus::Planned,
                    extensions: Vec::new(),
                };
                self.insert_sequence(s, before);
            }
            Event::SequenceEdited { sequence, spec } => {
                if let Some(s) = self.sequence(sequence) {
                    s.spec = spec.clone();
                }
            }
            Event::SequenceDeleted { sequence } => {
                self.snap.runsheet.sequences.retain(|s| s.id != *sequence)
            }
            Event::SequenceMoved { sequence, before } => {
                let seqs = &mut self.snap.runsheet.sequences;
                if let Some(i) = seqs.iter().position(|s| s.id == *sequence) {
                    let s = seqs.remove(i);
                    self.insert_sequence(s, before);
                }
            }
            Event::SequenceStarted { sequence, ends_at } => {
                if let Some(s) = self.sequence(sequence) {
                    s.status = SequenceStatus::Running {
                        started_at: at,
                        ends_at: *ends_at,
                    };
                }
                self.drift();
            }
            Event::SequenceExtended {
                sequence,
                by_ms,
                ends_at,
            } => {
                if let Some(s) = self.sequence(sequence) {
                    if let SequenceStatus::Running { ends_at: e, .. } = &mut s.status {
                        *e = *ends_at;
                    }
                    s.extensions.push(SequenceExtension { at, by_ms: *by_ms });
                }
            }
            Event::SequenceEnded { sequence, early } => {
                if let Some(s) = self.sequence(sequence) {
                    if let SequenceStatus::Running { started_at, .. } = s.status {
                        s.status = SequenceStatus::Done {
                            started_at,
                            ended_at: at,
                            early: *early,
                        };
                    }
                }
            }
            Event::SequenceSkipped { sequence } => {
                if let Some(s) = self.sequence(sequence) {
                    s.status = SequenceStatus::Skipped { at };
                }
            }
            // Hearings (§22): the questions themselves come as `hearing_question` messages.
            Event::HearingCreated {
                hearing,
                title,
                speaker,
                room,
                anonymous,
                moderated,
            } => {
                if self.hearing(hearing).is_none() {
                    self.snap.hearings.push(HearingView {
                        id: hearing.clone(),
                        title: title.clone(),
                        speaker: speaker.clone(),
                        room: room.clone(),
                        anonymous: *anonymous,
                        moderated: *moderated,
                        status: HearingStatus::Planned,
                        questions: None,
                        yours: Vec::new(),
                        supported: Vec::new(),
                    });
                }
            }
            Event::HearingOpened { hearing } => {
                let here = self.here();
                if let Some(h) = self.hearing(hearing) {
                    h.status = HearingStatus::Open;
                    h.questions = (staff || h.room == here).then(Vec::new);
                }
            }
            Event::HearingClosed { hearing } => {
                if let Some(h) = self.hearing(hearing) {
                    // `yours` and `supported` go with the questions (given only with them).
                    h.status = HearingStatus::Closed;
                    h.questions = None;
                    h.yours.clear();
                    h.supported.clear();
                }
            }
            Event::HearingQuestionAsked { hearing, text } => {
                let me = self.me.clone();
                if let (Some(h), true) = (self.hearing(hearing), by_me) {
                    if !h.yours.contains(&seq) {
                        h.yours.push(seq);
                    }
                    let (anonymous, moderated) = (h.anonymous, h.moderated);
                    if let Some(list) = h.questions.as_mut() {
                        if !list.iter().any(|q| q.id == seq) {
                            list.push(HearingQuestion {
                                id: seq,
                                at,
                                text: text.clone(),
                                from: (!anonymous || staff).then_some(me),
                                status: if moderated {
                                    QuestionStatus::Pending
                                } else {
                                    QuestionStatus::Open
                                },
                                supports: 0,
                                merged_into: None,
                                hidden_reason: None,
                            });
                            sort_questions(list);
                        }
                    }
                }
            }
            Event::HearingQuestionSupported { hearing, question } => {
                if let (Some(h), true) = (self.hearing(hearing), by_me) {
                    if !h.supported.contains(question) {
                        h.supported.push(*question);
                    }
                }
            }
            Event::HearingSupportWithdrawn { hearing, question } => {
                if let (Some(h), true) = (self.hearing(hearing), by_me) {
                    h.supported.retain(|q| q != question);
                }
            }
            // Their outcome comes as `hearing_question` messages.
            Event::HearingQuestionApproved { .. }
            | Event::HearingQuestionsMerged { .. }
            | Event::HearingQuestionHidden { .. }
            | Event::HearingQuestionAnswering { .. }
            | Event::HearingQuestionAnswered { .. } => {}
            // Moderation (§21).
            Event::ChatHidden {
                room,
                message,
                reason,
            } => {
                let by = by.clone().unwrap_or_default();
                if let Some(inside) = self.inside_of(room) {
                    if staff {
                        if let Some(line) = inside.chat.iter_mut().find(|l| l.seq == *message) {
                            line.hidden = Some(HiddenMark {
                                by,
                                at,
                                reason: reason.clone().unwrap_or_default(),
                            });
                        }
                    } else {
                        inside.chat.retain(|l| l.seq != *message);
                    }
                }
                self.snap.reports.retain(|r| r.message != *message);
            }
            Event::ChatUnhidden {
                room,
                message,
                line,
            } => {
                if let Some(inside) = self.inside_of(room) {
                    if let Some(kept) = inside.chat.iter_mut().find(|l| l.seq == *message) {
                        kept.hidden = None;
                    } else if let Some(line) = line {
                        // Back in its place; the latest lines kept, as a fresh welcome has
                        // them (a line older than all of them goes out again).
                        let at = inside.chat.partition_point(|l| l.seq < line.seq);
                        inside.chat.insert(at, line.clone());
                        keep_latest(&mut inside.chat, proto::SNAPSHOT_CHAT_LINES);
                    }
                }
            }
            Event::ChatReported {
                room,
                message,
                reason,
            } => {
                self.snap.reports.retain(|r| r.id != seq);
                self.snap.reports.push(ReportView {
                    id: seq,
                    at,
                    by: by.clone().unwrap_or_default(),
                    room: room.clone(),
                    message: *message,
                    reason: reason.clone(),
                });
            }
            Event::ReportDismissed { report } => self.snap.reports.retain(|r| r.id != *report),
            Event::ParticipantMuted {
                participant,
                until,
                reason,
            } => {
                // By participant, as the snapshot lists them.
                self.snap.mutes.retain(|m| m.participant != *participant);
                let i = self
                    .snap
                    .mutes
                    .partition_point(|m| m.participant < *participant);
                self.snap.mutes.insert(
                    i,
                    MuteView {
                        participant: participant.clone(),
                        until: *until,
                        at,
                        by: by.clone().unwrap_or_default(),
                        reason: reason.clone(),
                    },
                );
            }
            Event::ParticipantUnmuted { participant, .. } => {
                self.snap.mutes.retain(|m| m.participant != *participant)
            }
            Event::ParticipantRemoved {
                participant,
                reason,
            } => {
                self.lower_elsewhere(participant, None);
                for r in self.snap.rooms.iter_mut() {
                    if let Some(inside) = r.inside.as_mut() {
                        if inside
                            .floor
                            .as_ref()
                            .is_some_and(|f| f.participant == *participant)
                        {
                            inside.floor = None;
                        }
                    }
                }
                self.snap.removed.retain(|r| r.participant != *participant);
                let i = self
                    .snap
                    .removed
                    .partition_point(|r| r.participant < *participant);
                self.snap.removed.insert(
                    i,
                    RemovalView {
                        participant: participant.clone(),
                        at,
                        by: by.clone().unwrap_or_default(),
                        reason: reason.clone().unwrap_or_default(),
                    },
                );
            }
            Event::ParticipantReadmitted { participant } => {
                self.snap.removed.retain(|r| r.participant != *participant)
            }
        }
    }

    /// `observers`: the online guarantors the presence view (which names every guarantor)
    /// places in each room.
    fn recompute_observers(&mut self) {
        for r in self.snap.rooms.iter_mut() {
            r.observers = self
                .people
                .values()
                .filter(|s| s.online && s.room == r.id)
                .filter(|s| {
                    self.roster
                        .get(&s.participant)
                        .is_some_and(|p| p.roles.contains(&Role::Guarantor))
                })
                .count() as u32;
        }
    }

    /// The run sheet's drift (facilitators and guarantors): the actual start of the last
    /// started sequence less its planned start.
    fn drift(&mut self) {
        if !self.staff() {
            return;
        }
        let mut best: Option<(u64, u64)> = None;
        for s in &self.snap.runsheet.sequences {
            let started = match s.status {
                SequenceStatus::Running { started_at, .. }
                | SequenceStatus::Done { started_at, .. } => Some(started_at),
                _ => None,
            };
            if let Some(at) = started {
                if best.is_none_or(|(b, _)| at > b) {
                    best = Some((at, s.spec.planned_start));
                }
            }
        }
        self.snap.runsheet.drift_ms = best.map(|(at, planned)| at as i64 - planned as i64);
    }

    /// The view a fresh client compares. Left out, because a v2 client cannot maintain them
    /// or because a fresh welcome may differ without anything shown changing:
    /// - `seq`: a fresh welcome may be later when nothing it shows changed;
    /// - `queue_in_order` of a room in `least_spoken` order, for viewers without floor times
    ///   (all but facilitators and guarantors): the order comes from the floor times they do
    ///   not receive (PROTOCOL.md section 10, `queue_order_set`);
    /// - the snapshot's `participants` (empty in version 2) and its `presence` and `roster`,
    ///   which are compared as `people`, `counts` and the fetched `roster` instead.
    ///
    pub fn comparable(&self) -> View {
        let mut v = self.clone();
        v.seq = 0;
        v.snap.seq = 0;
        let staff = v.staff();
        for r in v.snap.rooms.iter_mut() {
            if let Some(inside) = r.inside.as_mut() {
                if !staff && inside.order == QueueOrder::LeastSpoken {
                    inside.queue_in_order.clear();
                }
            }
        }
        v
    }
}

/// The latest `n` of a list that keeps its latest items (a room's chat, the notices).
fn keep_latest<T>(items: &mut Vec<T>, n: usize) {
    if items.len() > n {
        items.drain(..items.len() - n);
    }
}

/// How many variants `Event` has: `event_kind` names them all (the match is exhaustive, so a
/// new event does not compile until it is named here), and the day of
/// `tests/tests/protocol_v2_views.rs` must exercise every one.
pub const EVENT_VARIANTS: usize = 81;

/// An event's kind, as its `type` says on the wire.
pub fn event_kind(e: &Event) -> &'static str {
    use Event::*;
    match e {
        ConventionCreated { .. } => "convention_created",
        ParticipantAdded { .. } => "participant_added",
        InviteIssued { .. } => "invite_issued",
        InviteRevoked { .. } => "invite_revoked",
        RoomsCreated { .. } => "rooms_created",
        RoomsCleared => "rooms_cleared",
        RoomsAssigned { .. } => "rooms_assigned",
        BreakoutsOpened { .. } => "breakouts_opened",
        BreakoutsWarned => "breakouts_warned",
        BreakoutsExtended { .. } => "breakouts_extended",
        BreakoutsClosed { .. } => "breakouts_closed",
        ParticipantMoved { .. } => "participant_moved",
        BroadcastSent { .. } => "broadcast_sent",
        ChatPosted { .. } => "chat_posted",
        HandRaised { .. } => "hand_raised",
        HandLowered { .. } => "hand_lowered",
        FloorGiven { .. } => "floor_given",
        FloorEnded { .. } => "floor_ended",
        QueueOrderSet { .. } => "queue_order_set",
        SpeakingLimitSet { .. } => "speaking_limit_set",
        FloorLimitSet { .. } => "floor_limit_set",
        FacilitatorCalled { .. } => "facilitator_called",
        CallResolved { .. } => "call_resolved",
        PollDrafted { .. } => "poll_drafted",
        PollEdited { .. } => "poll_edited",
        PollDeleted { .. } => "poll_deleted",
        PollOpened { .. } => "poll_opened",
        BallotCast { .. } => "ballot_cast",
        VoterMarked { .. } => "voter_marked",
        SecretBallotCast { .. } => "secret_ballot_cast",
        PollClosed { .. } => "poll_closed",
        PollRevealed { .. } => "poll_revealed",
        PollPublished { .. } => "poll_published",
        RotationPlanned { .. } => "rotation_planned",
        RotationRoundStarted { .. } => "rotation_round_started",
        RotationWarned => "rotation_warned",
        RotationTransition { .. } => "rotation_transition",
        RotationPaused { .. } => "rotation_paused",
        RotationResumed => "rotation_resumed",
        RotationExtended { .. } => "rotation_extended",
        RotationEnded { .. } => "rotation_ended",
        ExpertAbsent { .. } => "expert_absent",
        GroupJoined { .. } => "group_joined",
        QuestionAsked { .. } => "question_asked",
        QuestionAnswered { .. } => "question_answered",
        DocumentCreated { .. } => "document_created",
        WritingGroupSet { .. } => "writing_group_set",
        DocumentOpened { .. } => "document_opened",
        DocumentClosed { .. } => "document_closed",
        VersionNamed { .. } => "version_named",
        SequenceAdded { .. } => "sequence_added",
        SequenceEdited { .. } => "sequence_edited",
        SequenceDeleted { .. } => "sequence_deleted",
        SequenceMoved { .. } => "sequence_moved",
        SequenceStarted { .. } => "sequence_started",
        SequenceExtended { .. } => "sequence_extended",
        SequenceEnded { .. } => "sequence_ended",
        SequenceSkipped { .. } => "sequence_skipped",
        HearingCreated { .. } => "hearing_created",
        HearingOpened { .. } => "hearing_opened",
        HearingClosed { .. } => "hearing_closed",
        HearingQuestionAsked { .. } => "hearing_question_asked",
        HearingQuestionSupported { .. } => "hearing_question_supported",
        HearingSupportWithdrawn { .. } => "hearing_support_withdrawn",
        HearingQuestionApproved { .. } => "hearing_question_approved",
        HearingQuestionsMerged { .. } => "hearing_questions_merged",
        HearingQuestionHidden { .. } => "hearing_question_hidden",
        HearingQuestionAnswering { .. } => "hearing_question_answering",
        HearingQuestionAnswered { .. } => "hearing_question_answered",
        ChatHidden { .. } => "chat_hidden",
        ChatUnhidden { .. } => "chat_unhidden",
        ChatReported { .. } => "chat_reported",
        ReportDismissed { .. } => "report_dismissed",
        ParticipantMuted { .. } => "participant_muted",
        ParticipantUnmuted { .. } => "participant_unmuted",
        ParticipantRemoved { .. } => "participant_removed",
        ParticipantReadmitted { .. } => "participant_readmitted",
        PublicLinkCreated { .. } => "public_link_created",
        PublicLinkRevoked => "public_link_revoked",
        LivestreamSet { .. } => "livestream_set",
        DocumentPublished { .. } => "document_published",
        PublicPollOpened { .. } => "public_poll_opened",
        PublicBallotCast { .. } => "public_ballot_cast",
        PublicPollClosed { .. } => "public_poll_closed",
    }
}

/// A v2 connection and the view it maintains from every message it reads.
pub struct Follower {
    pub client: Client,
    pub view: View,
    /// How many `presence_batch` messages it got.
    pub batches: usize,
    /// How many `room_view` messages it got.
    pub room_views: usize,
    /// The kinds of the events it received.
    pub kinds: std::collections::BTreeSet<&'static str>,
}

impl Follower {
    /// Join with protocol 2 and fetch the roster.
    pub async fn join(ws_url: &str, name: &str, token: &str) -> Result<Follower> {
        let mut client = Client::join_with(ws_url, name, token, proto::PROTOCOL_V2, None).await?;
        let welcome = client.take_welcome().context("the welcome was recorded")?;
        let view = View::from_welcome(&welcome)?;
        let mut f = Follower {
            client,
            view,
            batches: 0,
            room_views: 0,
            kinds: Default::default(),
        };
        f.client
            .send(&ClientMessage::GetRoster { version: None })
            .await?;
        f.read_until(|m| matches!(m, ServerMessage::Roster { .. }))
            .await?;
        Ok(f)
    }

    /// Read and apply messages until one matches `f` (applied too).
    pub async fn read_until(&mut self, f: impl Fn(&ServerMessage) -> bool) -> Result<()> {
        loop {
            let m = self.client.next_message(crate::WAIT).await?;
            self.take(&m);
            if f(&m) {
                return Ok(());
            }
        }
    }

    fn take(&mut self, m: &ServerMessage) {
        match m {
            ServerMessage::PresenceBatch { .. } => self.batches += 1,
            ServerMessage::RoomView { .. } => self.room_views += 1,
            ServerMessage::Event { record } => {
                self.kinds.insert(event_kind(&record.event));
            }
            _ => {}
        }
        self.view.apply(m);
    }

    /// Read and apply everything that arrives within `d`.
    pub async fn settle(&mut self, d: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.client.next_message(left).await {
                Ok(m) => self.take(&m),
                Err(_) => return,
            }
        }
    }

    /// A request through this connection, applying what arrives meanwhile.
    pub async fn ok(&mut self, command: proto::Command) -> Result<u64> {
        let id = format!("{}-{}", self.client.name, crate::unique());
        self.client
            .send(&ClientMessage::Request {
                id: id.clone(),
                command: command.clone(),
            })
            .await?;
        loop {
            let m = self.client.next_message(crate::WAIT).await?;
            match &m {
                ServerMessage::Ok { id: i, seq } if *i == id => return Ok(*seq),
                ServerMessage::Error {
                    id: Some(i),
                    code,
                    message,
                } if *i == id => bail!("{command:?} refused: {code:?} {message}"),
                _ => self.take(&m),
            }
        }
    }
}

/// What a fresh v2 connection of `token` sees: its welcome and the roster.
pub async fn fresh(ws_url: &str, token: &str) -> Result<View> {
    let f = Follower::join(ws_url, "fresh", token).await?;
    let v = f.view.clone();
    f.client.close().await;
    Ok(v)
}
