//! What each participant may see: the snapshot of their view, and who receives each event.

use std::collections::BTreeSet;

use convene_protocol as p;

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
        | QueueOrderSet { room, .. }
        | SpeakingLimitSet { room, .. } => Audience::Room(room.clone()),
        FacilitatorCalled { .. } => Audience::Staff(match &record.actor {
            d::Actor::Participant(p) => Some(p.clone()),
            _ => None,
        }),
        CallResolved { call } => {
            Audience::Staff(state.calls.get(call).map(|c| c.participant.clone()))
        }
        InviteIssued { .. } | InviteRevoked { .. } => Audience::Nobody,
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

impl Audience {
    /// Whether a viewer in `room` sees it.
    pub fn admits(&self, viewer: &Person, room: &str) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Room(r) => viewer.sees_everything() || r == room,
            Audience::Staff(who) => {
                viewer.sees_everything() || who.as_deref() == Some(viewer.id.as_str())
            }
            Audience::Nobody => false,
        }
    }
}

/// An event as sent: `ParticipantAdded` carries attributes only for those who may see them,
/// so it is encoded in two forms.
pub fn needs_private_form(record: &d::Record) -> bool {
    matches!(record.event, d::Event::ParticipantAdded { .. })
}

pub fn public_form(record: &d::Record) -> p::Record {
    let mut r = wire::record_out(record);
    if let p::Event::ParticipantAdded { person } = &mut r.event {
        person.attributes.clear();
    }
    r
}

/// Online guarantors observing each room.
fn observers(state: &Convention, present: &BTreeSet<String>, room: &str) -> u32 {
    state
        .members_of(room)
        .filter(|p| p.has(Role::Guarantor) && present.contains(&p.id))
        .count() as u32
}

/// Everything `viewer` may see, as of `state.seq`.
pub fn snapshot(
    id: &str,
    state: &Convention,
    viewer: &Person,
    present: &BTreeSet<String>,
) -> p::Snapshot {
    let all = viewer.sees_everything();
    let here = state.location_of(&viewer.id);
    let participants = state
        .people
        .values()
        .map(|person| p::ParticipantView {
            person: wire::person_out(person, all),
            room: state.location_of(&person.id).to_string(),
            online: present.contains(&person.id),
            assigned: state.assignment.get(&person.id).cloned(),
        })
        .collect();
    let rooms = state
        .rooms
        .iter()
        .map(|r| p::RoomView {
            id: r.id.clone(),
            name: r.name.clone(),
            observers: observers(state, present, &r.id),
            inside: (all || r.id == here).then(|| inside(state, r)),
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
        rooms,
        breakouts: state.breakout.as_ref().map(|b| p::BreakoutView {
            ends_at: b.ends_at,
            warn_at: b.warn_at,
            warned: b.warned,
        }),
        floor_time,
        calls,
    }
}

fn inside(state: &Convention, r: &d::RoomState) -> p::RoomInside {
    let skip = r.chat.len().saturating_sub(p::SNAPSHOT_CHAT_LINES);
    p::RoomInside {
        chat: r.chat[skip..]
            .iter()
            .map(|c| p::ChatLine {
                seq: c.seq,
                at: c.at,
                from: c.from.clone(),
                text: c.text.clone(),
            })
            .collect(),
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
