//! What each participant may see: the snapshot of their view, and who receives each event.

use std::collections::BTreeSet;

use convene_protocol as p;

use crate::domain::hearings::{Hearing, HearingStatus};
use crate::domain::{self as d, Convention, Person, Role};
use crate::wire;

/// Who may receive an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// The room's members, plus facilitators and guarantors wherever they are.
    Room(String),
    /// Facilitators and guarantors, plus this participant.
    Staff(Option<String>),
    /// One participant only.
    Only(String),
    /// Organizers only (over HTTP): never sent on a connection.
    Nobody,
}

/// Who may receive `event`, judged against the state just before it is applied.
pub fn audience(state: &Convention, record: &d::Record) -> Audience {
    use d::Event::*;
    match &record.event {
        ChatPosted { room, .. }
        | HandRaised { room, .. }
        | HandLowered { room, .. }
        | FloorGiven { room, .. }
        | FloorEnded { room, .. }
        | FloorLimitSet { room, .. }
        | QueueOrderSet { room, .. }
        | SpeakingLimitSet { room, .. } => Audience::Room(room.clone()),
        FacilitatorCalled { .. } => Audience::Staff(match &record.actor {
            d::Actor::Participant(p) => Some(p.clone()),
            _ => None,
        }),
        CallResolved { call } => {
            Audience::Staff(state.calls.get(call).map(|c| c.participant.clone()))
        }
        InviteIssued { .. } | InviteRevoked { .. } | SecretBallotCast { .. } => Audience::Nobody,
        PollDrafted { .. } | PollEdited { .. } | PollDeleted { .. } => Audience::Staff(None),
        PollOpened { spec, .. } => scope(spec.room.as_deref()),
        PollClosed { poll, .. } | PollRevealed { poll } | PollPublished { poll, .. } => {
            scope(state.polls.get(poll).and_then(|p| p.spec.room.as_deref()))
        }
        BallotCast { .. } => Audience::Staff(actor_id(record)),
        DocumentCreated { .. }
        | WritingGroupSet { .. }
        | DocumentOpened { .. }
        | DocumentClosed { .. }
        | VersionNamed { .. } => Audience::Everyone,
        RotationPlanned { .. }
        | RotationRoundStarted { .. }
        | RotationWarned
        | RotationTransition { .. }
        | RotationPaused { .. }
        | RotationResumed
        | RotationExtended { .. }
        | RotationEnded { .. }
        | ExpertAbsent { .. }
        | GroupJoined { .. }
        | QuestionAsked { .. }
        | QuestionAnswered { .. } => Audience::Everyone,
        // Run sheet: the programme of the day is everyone's.
        SequenceAdded { .. }
        | SequenceEdited { .. }
        | SequenceDeleted { .. }
        | SequenceMoved { .. }
        | SequenceStarted { .. }
        | SequenceExtended { .. }
        | SequenceEnded { .. }
        | SequenceSkipped { .. } => Audience::Everyone,
        // Hearings: the plan is everyone's; a question's events go to the staff and whoever
        // acted (the author, the supporter); the room sees questions as `hearing_question`
        // messages (`hearing_question_views`), without authors in an anonymous hearing.
        HearingCreated { .. } | HearingOpened { .. } | HearingClosed { .. } => Audience::Everyone,
        HearingQuestionAsked { .. }
        | HearingQuestionSupported { .. }
        | HearingSupportWithdrawn { .. } => Audience::Staff(actor_id(record)),
        HearingQuestionApproved { .. }
        | HearingQuestionsMerged { .. }
        | HearingQuestionHidden { .. }
        | HearingQuestionAnswering { .. }
        | HearingQuestionAnswered { .. } => Audience::Staff(None),
        // Moderation: a hidden message leaves the room's view (its reason is staff's); reports
        // and mutes concern staff and the one reporting or muted; a removal, everyone.
        ChatHidden { room, .. } | ChatUnhidden { room, .. } => Audience::Room(room.clone()),
        ChatReported { .. } => Audience::Staff(actor_id(record)),
        ReportDismissed { report } => {
            Audience::Staff(state.reports.get(report).map(|r| r.by.clone()))
        }
        ParticipantMuted { participant, .. } | ParticipantUnmuted { participant, .. } => {
            Audience::Staff(Some(participant.clone()))
        }
        ParticipantRemoved { .. } | ParticipantReadmitted { .. } => Audience::Everyone,
        // Public audience (§24): for organizers (HTTP), the audit trail and the public page.
        PublicLinkCreated { .. }
        | PublicLinkRevoked
        | LivestreamSet { .. }
        | DocumentPublished { .. }
        | PublicPollOpened { .. }
        | PublicBallotCast { .. }
        | PublicPollClosed { .. } => Audience::Nobody,
        VoterMarked { .. } => match actor_id(record) {
            Some(p) => Audience::Only(p),
            None => Audience::Nobody,
        },
        ConventionCreated { .. }
        | ParticipantAdded { .. }
        | RoomsCreated { .. }
        | RoomsCleared
        | RoomsAssigned { .. }
        | BreakoutsOpened { .. }
        | BreakoutsWarned
        | BreakoutsExtended { .. }
        | BreakoutsClosed { .. }
        | ParticipantMoved { .. }
        | BroadcastSent { .. } => Audience::Everyone,
    }
}

fn actor_id(record: &d::Record) -> Option<String> {
    match &record.actor {
        d::Actor::Participant(p) => Some(p.clone()),
        d::Actor::Organizer | d::Actor::Timer | d::Actor::Public => None,
    }
}

/// A poll of one room is that room's business; a poll of the convention, everyone's.
fn scope(room: Option<&str>) -> Audience {
    match room {
        Some(r) => Audience::Room(r.to_string()),
        None => Audience::Everyone,
    }
}

impl Audience {
    /// Whether a viewer in `room` sees it.
    pub fn admits(&self, viewer: &Person, room: &str) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Room(r) => viewer.sees_everything() || r == room,
            Audience::Staff(who) => {
                viewer.sees_everything() || who.as_deref() == Some(viewer.id.as_str())
            }
            Audience::Only(who) => *who == viewer.id,
            Audience::Nobody => false,
        }
    }
}

/// An event as sent: `ParticipantAdded` carries attributes, `PollClosed` a tally, and a
/// run-sheet sequence with manual groups its groups, only for those who may see them, so
/// they are encoded in two forms.
pub fn needs_private_form(record: &d::Record) -> bool {
    match &record.event {
        d::Event::ParticipantAdded { .. }
        | d::Event::PollClosed { .. }
        | d::Event::ChatHidden { .. }
        | d::Event::ChatUnhidden { .. }
        | d::Event::ParticipantRemoved { .. } => true,
        // Run sheet: a manual grouping's groups are staff's.
        d::Event::SequenceAdded { spec, .. } | d::Event::SequenceEdited { spec, .. } => {
            wire::runsheet::has_groups(spec)
        }
        _ => false,
    }
}

/// The form for participants who are not staff, judged against the state after the batch the
/// event came in (later events of the same batch may have changed it again: what is taken
/// from the state must not depend on them).
pub fn public_form(record: &d::Record, state: &Convention) -> p::Record {
    let mut r = wire::record_out(record);
    match &mut r.event {
        p::Event::ParticipantAdded { person } => person.attributes.clear(),
        // Why a message was hidden, or someone removed, is for facilitators and guarantors.
        p::Event::ChatHidden { reason, .. } | p::Event::ParticipantRemoved { reason, .. } => {
            *reason = None
        }
        // Those who are not staff had lost the line: it comes back with the event, unmarked
        // (as this event leaves it: a `chat_hidden` later in the same batch, which may have
        // marked it again in the state, follows it and takes it away again, reason and all
        // for staff only).
        p::Event::ChatUnhidden { message, line, .. } => {
            *line = state.chat_line(*message).map(|(_, l)| p::ChatLine {
                hidden: None,
                ..chat_line_out(l)
            });
        }
        p::Event::PollClosed {
            poll,
            tally,
            turnout,
            ..
        } => {
            // Participation is staff's (section 11).
            *turnout = None;
            if !state
                .polls
                .get(poll.as_str())
                .is_some_and(|p| p.results_public())
            {
                *tally = None;
            }
        }
        // Run sheet.
        p::Event::SequenceAdded { spec, .. } | p::Event::SequenceEdited { spec, .. } => {
            wire::runsheet::without_groups(spec)
        }
        _ => {}
    }
    r
}

/// Participation in a poll, in numbers.
pub fn participation(
    state: &Convention,
    poll: &d::Poll,
    present: &BTreeSet<String>,
) -> p::Participation {
    // A closed poll's as it stood at its close (a log written before the close kept it: as
    // it stands now).
    let turnout = match poll.status {
        d::PollStatus::Closed | d::PollStatus::Published => poll.closed_turnout,
        _ => None,
    }
    .unwrap_or_else(|| d::turnout(state, poll, present));
    p::Participation {
        voted: poll.ballot_count(),
        eligible: turnout.eligible,
        eligible_present: turnout.eligible_present,
        quorum: poll.spec.quorum,
    }
}

/// Whether a viewer sees a poll at all.
pub fn sees_poll(state: &Convention, poll: &d::Poll, viewer: &Person) -> bool {
    // A room's poll is seen in the room only, as PROTOCOL.md section 11 says (its events go
    // to the room's members: someone outside it could not follow it).
    viewer.sees_everything()
        || (poll.status != d::PollStatus::Draft
            && poll
                .spec
                .room
                .as_deref()
                .is_none_or(|r| state.location_of(&viewer.id) == r))
}

/// Whether `viewer` sees a poll's tally now: staff as `staff_sees_tally` says, the others
/// once the results are public (live, revealed, published).
pub fn sees_tally(poll: &d::Poll, viewer: &Person) -> bool {
    if viewer.sees_everything() {
        staff_sees_tally(poll)
    } else {
        poll.status != d::PollStatus::Draft && poll.results_public()
    }
}

/// Whether facilitators and guarantors see a poll's tally now. A closed poll's is theirs, to
/// decide on publishing; but while a secret poll is open and its results are hidden, they
/// follow its participation only: a running count or a provisional winner would let the room
/// be steered (or, with few voters left, tell who voted what).
pub fn staff_sees_tally(poll: &d::Poll) -> bool {
    match poll.status {
        d::PollStatus::Draft => false,
        d::PollStatus::Open => poll.results_public() || !poll.spec.secret,
        d::PollStatus::Closed | d::PollStatus::Published => true,
    }
}

pub fn poll_view(
    state: &Convention,
    poll: &d::Poll,
    viewer: &Person,
    present: &BTreeSet<String>,
) -> p::PollView {
    let staff = viewer.sees_everything();
    p::PollView {
        id: poll.id.clone(),
        spec: wire::spec_out(&poll.spec),
        status: wire::poll_status_out(poll.status),
        opened_at: poll.opened_at,
        ends_at: poll.ends_at,
        revealed: poll.revealed,
        eligible: d::may_vote(state, poll, viewer),
        you_voted: poll.has_voted(&viewer.id),
        your_ballot: poll.named.get(&viewer.id).map(wire::ballot_out),
        // A draft has no participation yet (as no `poll_tally` follows drafts).
        participation: (staff && poll.status != d::PollStatus::Draft)
            .then(|| participation(state, poll, present)),
        // A draft has no tally yet (as `poll_drafted` carries none).
        tally: sees_tally(poll, viewer).then(|| wire::tally_out(&poll.tally())),
        tampered: poll
            .tampered
            .filter(|_| staff)
            .map(|t| wire::tampered_out(&t)),
    }
}

/// Online guarantors observing each room.
/// Online guarantors observing each room, counted in one pass over the roster (a snapshot
/// is built for every participant who moves: this must not cost rooms × people).
/// How many guarantors are present in each room, counted among `candidates` (everyone, or
/// a list that holds every guarantor).
fn observers<'a>(
    state: &'a Convention,
    present: &BTreeSet<String>,
    candidates: impl Iterator<Item = &'a Person>,
) -> std::collections::HashMap<&'a str, u32> {
    let mut counts = std::collections::HashMap::new();
    for p in candidates.filter(|p| p.has(Role::Guarantor) && present.contains(&p.id)) {
        *counts.entry(state.location_of(&p.id)).or_insert(0) += 1;
    }
    counts
}

/// Everything `viewer` may see, as of `state.seq`; `audit_head` is the number and hash of the
/// audit trail's last entry at that seq (staff see it).
pub fn snapshot(
    id: &str,
    state: &Convention,
    viewer: &Person,
    present: &BTreeSet<String>,
    audit_head: &(u64, String),
) -> p::Snapshot {
    snapshot_v(id, state, viewer, present, audit_head, None)
}

/// The snapshot, with the roster's `participants` (version 1) or without (version 2, which
/// adds its own parts: `view2::snapshot`).
pub fn snapshot_v(
    id: &str,
    state: &Convention,
    viewer: &Person,
    present: &BTreeSet<String>,
    audit_head: &(u64, String),
    v2: Option<&super::view2::PresenceCounts>,
) -> p::Snapshot {
    let all = viewer.sees_everything();
    let here = state.location_of(&viewer.id);
    let participants = if v2.is_none() {
        state
            .people
            .values()
            .map(|person| p::ParticipantView {
                person: wire::person_out(person, all),
                room: state.location_of(&person.id).to_string(),
                online: present.contains(&person.id),
                assigned: state.assignment.get(&person.id).cloned(),
            })
            .collect()
    } else {
        Vec::new()
    };
    // Version 2 counts the guarantors among the notable people it keeps: a citizen's welcome
    // does not walk the roster.
    let observing = match v2 {
        Some(counts) => observers(state, present, counts.notable(state)),
        None => observers(state, present, state.people.values()),
    };
    let rooms = state
        .rooms
        .iter()
        .map(|r| p::RoomView {
            id: r.id.clone(),
            name: r.name.clone(),
            observers: observing.get(r.id.as_str()).copied().unwrap_or(0),
            inside: (all || r.id == here).then(|| inside(state, r, all)),
        })
        .collect();
    let floor_time = all.then(|| {
        state
            .people
            .values()
            .filter(|p| !p.has(Role::Guarantor))
            .map(|p| p::FloorTime {
                participant: p.id.clone(),
                spoken_ms: state.floor_time.get(&p.id).copied().unwrap_or(0),
            })
            .collect()
    });
    let calls = state
        .calls
        .values()
        .filter(|c| all || c.participant == viewer.id)
        .map(|c| p::CallView {
            id: c.id,
            at: c.at,
            participant: c.participant.clone(),
            room: c.room.clone(),
            message: c.message.clone(),
        })
        .collect();
    p::Snapshot {
        seq: state.seq,
        convention: p::ConventionInfo {
            id: id.to_string(),
            name: state.name.clone(),
        },
        participants,
        // Protocol version 2: filled by `view2::snapshot`.
        roster: None,
        presence: None,
        rooms,
        breakouts: state.breakout.as_ref().map(|b| p::BreakoutView {
            ends_at: b.ends_at,
            warn_at: b.warn_at,
            warned: b.warned,
        }),
        floor_time,
        calls,
        rotation: state.rotation.as_ref().map(wire::rotation_view),
        documents: state
            .documents
            .values()
            .map(|d| p::DocumentView {
                name: d.name.clone(),
                title: d.title.clone(),
                groups: d.groups.iter().cloned().collect(),
                can_write: state.can_write(viewer, &d.name),
                versions: d
                    .versions
                    .iter()
                    .map(|(version, label, at)| p::VersionInfo {
                        version: *version,
                        label: label.clone(),
                        at: *at,
                    })
                    .collect(),
            })
            .collect(),
        writing_groups: state
            .writing_groups
            .iter()
            .map(|(g, m)| (g.clone(), m.iter().cloned().collect()))
            .collect(),
        notices: state.notices.iter().map(wire::notice_out).collect(),
        audit_head: (all && audit_head.0 > 0).then(|| p::AuditHead {
            n: audit_head.0,
            hash: audit_head.1.clone(),
        }),
        polls: state
            .polls_in_order()
            .filter(|p| sees_poll(state, p, viewer))
            .map(|p| poll_view(state, p, viewer, present))
            .collect(),
        runsheet: wire::runsheet::view(&state.runsheet, all),
        hearings: state
            .hearings_in_order()
            .map(|h| hearing_view(state, h, viewer))
            .collect(),
        // Moderation: staff see it all, others their own reports and mute.
        reports: state
            .reports
            .values()
            .filter(|r| all || r.by == viewer.id)
            .map(wire::report_out)
            .collect(),
        mutes: state
            .muted
            .iter()
            .filter(|(p, _)| all || **p == viewer.id)
            .map(|(p, m)| wire::mute_out(p, m))
            .collect(),
        // Everyone knows who is out (they left their room); only staff why.
        removed: state
            .removed
            .iter()
            .map(|(p, r)| {
                let mut v = wire::removal_out(p, r);
                if !all {
                    v.reason.clear();
                }
                v
            })
            .collect(),
    }
}

/// Whether `viewer` follows the questions of hearing `h`: it is open, and they are in its
/// room, or are its speaker (wherever they are: nothing moves an expert into a breakout room
/// by itself), or see everything.
pub fn follows_hearing(state: &Convention, h: &Hearing, viewer: &Person) -> bool {
    h.status == HearingStatus::Open
        && (viewer.sees_everything()
            || viewer.id == h.speaker
            || state.location_of(&viewer.id) == h.room)
}

/// A hearing as `viewer` sees it in a snapshot.
pub fn hearing_view(state: &Convention, h: &Hearing, viewer: &Person) -> p::HearingView {
    let staff = viewer.sees_everything();
    let follows = follows_hearing(state, h, viewer);
    let (yours, supported) = hearing_marks(state, h, viewer);
    p::HearingView {
        id: h.id.clone(),
        title: h.title.clone(),
        speaker: h.speaker.clone(),
        room: h.room.clone(),
        anonymous: h.anonymous,
        moderated: h.moderated,
        status: wire::hearings::hearing_status_out(h.status),
        questions: follows.then(|| {
            h.questions
                .ranked_all()
                .into_iter()
                .filter(|q| {
                    staff
                        || q.visible()
                        || (q.status == d::questions::Status::Pending && q.from == viewer.id)
                })
                .map(|q| wire::hearings::question_out(h, q, staff))
                .collect()
        }),
        yours,
        supported,
    }
}

/// The ids of `viewer`'s own questions in `h`, and of those they support, when they follow it.
fn hearing_marks(state: &Convention, h: &Hearing, viewer: &Person) -> (Vec<u64>, Vec<u64>) {
    if !follows_hearing(state, h, viewer) {
        return (Vec::new(), Vec::new());
    }
    let yours = h
        .questions
        .list
        .iter()
        .filter(|q| q.from == viewer.id)
        .map(|q| q.id)
        .collect();
    let supported = h
        .questions
        .list
        .iter()
        .filter(|q| q.supporters.contains(&viewer.id))
        .map(|q| q.id)
        .collect();
    (yours, supported)
}

/// The questions a batch of events changed, by hearing: each is sent again as a
/// `hearing_question` message to those who follow the hearing.
pub fn changed_questions(records: &[(d::Record, Audience)]) -> Vec<(String, u64)> {
    use d::Event::*;
    let mut out = Vec::new();
    for (r, _) in records {
        match &r.event {
            HearingQuestionAsked { hearing, .. } => out.push((hearing.clone(), r.seq)),
            HearingQuestionSupported { hearing, question }
            | HearingSupportWithdrawn { hearing, question }
            | HearingQuestionApproved { hearing, question }
            | HearingQuestionHidden {
                hearing, question, ..
            }
            | HearingQuestionAnswering { hearing, question }
            | HearingQuestionAnswered { hearing, question } => {
                out.push((hearing.clone(), *question))
            }
            HearingQuestionsMerged {
                hearing,
                question,
                into,
            } => {
                out.push((hearing.clone(), *question));
                out.push((hearing.clone(), *into));
            }
            _ => {}
        }
    }
    out.dedup();
    out
}

/// Where the chat lines a snapshot carries begin: the latest `SNAPSHOT_CHAT_LINES` that fit in
/// `SNAPSHOT_CHAT_BYTES` of text (at least the last line).
fn chat_start(chat: &[&d::ChatLine]) -> usize {
    let mut bytes = 0;
    let mut start = chat.len();
    for (i, line) in chat.iter().enumerate().rev().take(p::SNAPSHOT_CHAT_LINES) {
        bytes += line.text.len();
        if bytes > p::SNAPSHOT_CHAT_BYTES && start < chat.len() {
            break;
        }
        start = i;
    }
    start
}

fn chat_line_out(c: &d::ChatLine) -> p::ChatLine {
    p::ChatLine {
        seq: c.seq,
        at: c.at,
        from: c.from.clone(),
        text: c.text.clone(),
        hidden: c.hidden.as_ref().map(wire::hidden_out),
    }
}

pub fn inside(state: &Convention, r: &d::RoomState, all: bool) -> p::RoomInside {
    // A hidden line reaches facilitators and guarantors, marked; nobody else.
    let chat: Vec<&d::ChatLine> = r
        .chat
        .iter()
        .filter(|c| all || c.hidden.is_none())
        .collect();
    let skip = chat_start(&chat);
    p::RoomInside {
        chat: chat[skip..].iter().map(|c| chat_line_out(c)).collect(),
        queue: r
            .queue
            .iter()
            .map(|(p, at)| p::QueueEntry {
                participant: p.clone(),
                raised_at: *at,
            })
            .collect(),
        queue_in_order: state.queue_in_order(r),
        order: match r.order {
            d::QueueOrder::Raised => p::QueueOrder::Raised,
            d::QueueOrder::LeastSpoken => p::QueueOrder::LeastSpoken,
        },
        limit_ms: r.limit_ms,
        floor: r.floor.as_ref().map(|f| p::FloorView {
            participant: f.participant.clone(),
            since: f.since,
            ends_at: f.ends_at,
        }),
    }
}

/// What makes one viewer's snapshot differ from another's at the same moment. Two viewers
/// with the same key see exactly the same snapshot.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ViewKey {
    all: bool,
    here: String,
    roles: Vec<Role>,
    /// Set when the viewer sees calls of their own (others see none, staff see them all).
    caller: Option<String>,
    /// May they write each document, in order.
    writes: Vec<bool>,
    /// Each poll as they see it: seen at all, eligible, voted, their named ballot.
    polls: Vec<(bool, bool, bool, Option<d::Ballot>)>,
    /// Each hearing: their own questions and those they support (when they follow it).
    hearings: Vec<(Vec<u64>, Vec<u64>)>,
    /// Set when the viewer sees reports or a mute of their own (staff see them all).
    moderated: Option<String>,
}

fn view_key(state: &Convention, viewer: &Person) -> ViewKey {
    let all = viewer.sees_everything();
    let caller = (!all && state.calls.values().any(|c| c.participant == viewer.id))
        .then(|| viewer.id.clone());
    let moderated = (!all
        && (state.muted.contains_key(&viewer.id)
            || state.reports.values().any(|r| r.by == viewer.id)))
    .then(|| viewer.id.clone());
    ViewKey {
        all,
        here: state.location_of(&viewer.id).to_string(),
        roles: viewer.roles.clone(),
        caller,
        writes: state
            .documents
            .keys()
            .map(|d| state.can_write(viewer, d))
            .collect(),
        polls: state
            .polls_in_order()
            .map(|p| {
                (
                    sees_poll(state, p, viewer),
                    d::may_vote(state, p, viewer),
                    p.has_voted(&viewer.id),
                    p.named.get(&viewer.id).cloned(),
                )
            })
            .collect(),
        hearings: state
            .hearings_in_order()
            .map(|h| hearing_marks(state, h, viewer))
            .collect(),
        moderated,
    }
}

/// The snapshots of one moment for many viewers (everyone who changed room in a batch):
/// viewers who would see the same thing share one encoded frame, so that recalling two
/// hundred people to the plenary builds a handful of snapshots, not two hundred.
pub struct Snapshots<'a> {
    id: &'a str,
    state: &'a Convention,
    present: &'a BTreeSet<String>,
    server_time: u64,
    audit_head: &'a (u64, String),
    built: std::collections::BTreeMap<ViewKey, (crate::live::Frame, p::Snapshot)>,
}

impl<'a> Snapshots<'a> {
    pub fn new(
        id: &'a str,
        state: &'a Convention,
        present: &'a BTreeSet<String>,
        server_time: u64,
        audit_head: &'a (u64, String),
    ) -> Self {
        Snapshots {
            id,
            state,
            present,
            server_time,
            audit_head,
            built: Default::default(),
        }
    }

    /// The `snapshot` message for `viewer`.
    pub fn frame(&mut self, viewer: &Person) -> crate::live::Frame {
        let key = view_key(self.state, viewer);
        if let Some((frame, shared)) = self.built.get(&key) {
            // The tests run debug builds: there, every shared snapshot is checked against the
            // one built for this viewer alone.
            debug_assert_eq!(
                shared,
                &snapshot(self.id, self.state, viewer, self.present, self.audit_head),
                "a shared snapshot differs from {}'s own",
                viewer.id
            );
            return frame.clone();
        }
        let snap = snapshot(self.id, self.state, viewer, self.present, self.audit_head);
        let frame = crate::live::encode(&p::ServerMessage::Snapshot {
            server_time: self.server_time,
            snapshot: snap.clone(),
        });
        self.built.insert(key, (frame.clone(), snap));
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Hidden;

    /// A line shown again then hidden again in one batch: the `chat_unhidden` that reaches
    /// citizens carries the line without the second hiding's mark (who, when, why are staff's).
    #[test]
    fn a_line_shown_again_carries_no_later_mark() {
        let mut state = Convention::default();
        state.rooms[0].chat.push(d::ChatLine {
            seq: 7,
            at: 1_000,
            from: "p4".into(),
            text: "Un avis".into(),
            hidden: Some(Hidden {
                by: "p1".into(),
                at: 3_000,
                reason: "Propos injurieux".into(),
            }),
        });
        let record = d::Record {
            seq: 9,
            at: 2_000,
            actor: d::Actor::Participant("p2".into()),
            event: d::Event::ChatUnhidden {
                room: d::PLENARY.into(),
                message: 7,
            },
            request: None,
        };
        let out = public_form(&record, &state);
        let p::Event::ChatUnhidden {
            line: Some(line), ..
        } = out.event
        else {
            panic!("no line: {:?}", out.event);
        };
        assert_eq!((line.seq, line.text.as_str()), (7, "Un avis"));
        assert_eq!(line.hidden, None, "the later hiding's mark leaked");
    }
}
