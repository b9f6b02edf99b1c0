//! Protocol version 2 (PROTOCOL.md section 25): what a v2 viewer sees of people. The roster
//! as a resource (encoded once per version and audience), the presence view (who of their
//! view is where and online, every room's counts), and the room view sent on a move. Who sees
//! which event stays `view.rs`'s business: v2 changes only these parts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use convene_protocol as p;

use crate::domain::{self as d, Convention, Person, Role};
use crate::live::{encode, Frame};
use crate::wire;

/// The roster's version: the roster only grows (`participant_added` with a new id), so its
/// size names it.
pub fn roster_version(state: &Convention) -> u64 {
    state.people.len() as u64
}

pub fn roster_info(state: &Convention) -> p::RosterInfo {
    p::RosterInfo {
        version: roster_version(state),
        count: state.people.len() as u64,
    }
}

/// The roster, encoded once per version for each audience: facilitators and guarantors
/// (with attributes), and everyone else.
pub struct RosterFrames {
    pub version: u64,
    pub staff: Frame,
    pub others: Frame,
}

impl RosterFrames {
    pub fn build(state: &Convention) -> Self {
        let msg = |staff: bool| {
            encode(&p::ServerMessage::Roster {
                version: roster_version(state),
                count: state.people.len() as u64,
                people: state
                    .people
                    .values()
                    .map(|person| wire::person_out(person, staff))
                    .collect(),
            })
        };
        RosterFrames {
            version: roster_version(state),
            staff: msg(true),
            others: msg(false),
        }
    }

    pub fn for_viewer(&self, viewer: &Person) -> &Frame {
        if viewer.sees_everything() {
            &self.staff
        } else {
            &self.others
        }
    }
}

/// Whether a person appears in every v2 viewer's presence: those who run and observe the
/// room (facilitators, guarantors) and the experts heard in it.
fn notable(person: &Person) -> bool {
    person.sees_everything() || person.has(Role::Expert)
}

/// Where everyone is and how many are online per room: built in one pass over the roster when
/// people move or the roster changes, and kept up to date (online counts) as people come and
/// go, so that a join costs the joiner's view, not a walk over the roster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceCounts {
    members: HashMap<String, Vec<String>>,
    notable: Vec<String>,
    counts: Vec<p::RoomCount>,
}

impl PresenceCounts {
    pub fn build(state: &Convention, present: &BTreeSet<String>) -> Self {
        let mut members: HashMap<String, Vec<String>> = HashMap::new();
        let mut notables = Vec::new();
        for person in state.people.values() {
            members
                .entry(state.location_of(&person.id).to_string())
                .or_default()
                .push(person.id.clone());
            if notable(person) {
                notables.push(person.id.clone());
            }
        }
        let counts = state
            .rooms
            .iter()
            .map(|r| {
                let inside = members.get(&r.id).map(Vec::as_slice).unwrap_or_default();
                p::RoomCount {
                    room: r.id.clone(),
                    members: inside.len() as u32,
                    online: inside.iter().filter(|m| present.contains(*m)).count() as u32,
                }
            })
            .collect();
        PresenceCounts {
            members,
            notable: notables,
            counts,
        }
    }

    /// The people every v2 viewer sees (facilitators, guarantors, experts).
    pub fn notable<'a>(&'a self, state: &'a Convention) -> impl Iterator<Item = &'a Person> {
        self.notable.iter().filter_map(|id| state.people.get(id))
    }

    /// `who` came online or went offline (where they are did not change).
    pub fn online_changed(&mut self, state: &Convention, who: &str, online: bool) {
        let room = state.location_of(who);
        if let Some(c) = self.counts.iter_mut().find(|c| c.room == room) {
            c.online = if online {
                c.online + 1
            } else {
                c.online.saturating_sub(1)
            };
        }
    }
}

/// The presence of one moment, for all viewers of it (a tick, a join, a move).
pub struct PresenceIndex<'a> {
    state: &'a Convention,
    present: &'a BTreeSet<String>,
    c: &'a PresenceCounts,
}

impl<'a> PresenceIndex<'a> {
    pub fn new(
        state: &'a Convention,
        present: &'a BTreeSet<String>,
        counts: &'a PresenceCounts,
    ) -> Self {
        PresenceIndex {
            state,
            present,
            c: counts,
        }
    }

    fn state_of(&self, person: &Person) -> p::PersonState {
        p::PersonState {
            participant: person.id.clone(),
            room: self.state.location_of(&person.id).to_string(),
            online: self.present.contains(&person.id),
            assigned: self.state.assignment.get(&person.id).cloned(),
        }
    }

    /// The people `viewer` sees, by id: everyone for facilitators and guarantors; for
    /// others themselves, the notable people, and their room's members unless it is large.
    pub fn people(&self, viewer: &Person) -> BTreeMap<String, p::PersonState> {
        if viewer.sees_everything() {
            return self
                .state
                .people
                .values()
                .map(|person| (person.id.clone(), self.state_of(person)))
                .collect();
        }
        let mut out = BTreeMap::new();
        let here = self.state.location_of(&viewer.id);
        let members = self
            .c
            .members
            .get(here)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // A large room's members are not listed: not even walked (a join into a plenary of
        // thousands costs the joiner's view, not the room).
        let members = if members.len() <= p::LARGE_ROOM {
            members
        } else {
            &[]
        };
        let listed = members.iter().chain(&self.c.notable);
        for m in listed.filter_map(|id| self.state.people.get(id)) {
            out.insert(m.id.clone(), self.state_of(m));
        }
        out.insert(viewer.id.clone(), self.state_of(viewer));
        out
    }

    pub fn counts(&self) -> &[p::RoomCount] {
        &self.c.counts
    }

    pub fn view(&self, viewer: &Person) -> p::PresenceView {
        p::PresenceView {
            people: self.people(viewer).into_values().collect(),
            rooms: self.c.counts.clone(),
        }
    }
}

/// Who changed (came, went) since the last presence tick; `all` when where people are, the
/// roster, the rooms or the assignments changed (anyone may have).
#[derive(Default)]
pub struct Changed {
    all: bool,
    people: BTreeSet<String>,
}

impl Changed {
    pub fn person(&mut self, id: &str) {
        if !self.all {
            self.people.insert(id.to_string());
        }
    }

    pub fn everyone(&mut self) {
        self.all = true;
        self.people.clear();
    }
}

/// What a v2 connection was last sent of presence: its next batch is the difference.
#[derive(Default)]
pub struct SentPresence {
    pub people: BTreeMap<String, p::PersonState>,
    pub rooms: Vec<p::RoomCount>,
}

impl SentPresence {
    pub fn from_view(view: &p::PresenceView) -> Self {
        SentPresence {
            people: view
                .people
                .iter()
                .map(|s| (s.participant.clone(), s.clone()))
                .collect(),
            rooms: view.rooms.clone(),
        }
    }

    /// The batch that brings this connection to `index`'s view for `viewer` (none when
    /// nothing it sees changed), remembered as sent. `changed`: who changed since the last
    /// tick; a viewer who sees everyone is compared on those only, unless anyone may have.
    pub fn advance(
        &mut self,
        index: &PresenceIndex,
        viewer: &Person,
        changed: &Changed,
    ) -> Option<p::ServerMessage> {
        let (people, gone) = if viewer.sees_everything() && !changed.all {
            self.advance_some(index, &changed.people)
        } else {
            self.advance_all(index, viewer)
        };
        // The counts go whole when any changed: a handful of rooms, and rooms created or
        // cleared need no rule of their own.
        let rooms = if self.rooms.as_slice() != index.counts() {
            index.counts().to_vec()
        } else {
            Vec::new()
        };
        self.rooms = index.counts().to_vec();
        (!people.is_empty() || !gone.is_empty() || !rooms.is_empty()).then_some(
            p::ServerMessage::PresenceBatch {
                people,
                gone,
                rooms,
            },
        )
    }

    /// The whole view compared with what was sent.
    fn advance_all(
        &mut self,
        index: &PresenceIndex,
        viewer: &Person,
    ) -> (Vec<p::PersonState>, Vec<String>) {
        let now = index.people(viewer);
        let people: Vec<p::PersonState> = now
            .iter()
            .filter(|(id, s)| self.people.get(*id) != Some(s))
            .map(|(_, s)| s.clone())
            .collect();
        let gone: Vec<String> = self
            .people
            .keys()
            .filter(|id| !now.contains_key(*id))
            .cloned()
            .collect();
        self.people = now;
        (people, gone)
    }

    /// Everyone's view where only `changed` people may differ: nobody leaves it (the roster
    /// only grows), those who changed are compared. Debug builds (the tests) check the result
    /// against the whole comparison.
    fn advance_some(
        &mut self,
        index: &PresenceIndex,
        changed: &BTreeSet<String>,
    ) -> (Vec<p::PersonState>, Vec<String>) {
        let mut people = Vec::new();
        for person in changed.iter().filter_map(|id| index.state.people.get(id)) {
            let now = index.state_of(person);
            if self.people.get(&person.id) != Some(&now) {
                self.people.insert(person.id.clone(), now.clone());
                people.push(now);
            }
        }
        debug_assert_eq!(
            self.people,
            index
                .state
                .people
                .values()
                .map(|person| (person.id.clone(), index.state_of(person)))
                .collect::<BTreeMap<_, _>>(),
            "an everyone view's presence drifted from the changes it was told"
        );
        (people, Vec::new())
    }
}

/// A version 2 snapshot: the v1 snapshot without the roster, with the roster's version and
/// the viewer's presence view.
pub fn snapshot(
    id: &str,
    state: &Convention,
    viewer: &Person,
    present: &BTreeSet<String>,
    audit_head: &(u64, String),
    index: &PresenceIndex,
) -> p::Snapshot {
    let mut snap = super::view::snapshot_v(id, state, viewer, present, audit_head, Some(index.c));
    snap.roster = Some(roster_info(state));
    snap.presence = Some(index.view(viewer));
    snap
}

/// The `room_view` a v2 viewer gets when their room changed: the new room's inside, their
/// polls and hearings as they see them now, and their presence view.
pub fn room_view(
    state: &Convention,
    viewer: &Person,
    present: &BTreeSet<String>,
    index: &PresenceIndex,
    server_time: u64,
) -> p::ServerMessage {
    let here = state.location_of(&viewer.id);
    let inside = state
        .rooms
        .iter()
        .find(|r| r.id == here)
        .map(|r| super::view::inside(state, r, viewer.sees_everything()))
        .unwrap_or_else(|| p::RoomInside {
            chat: Vec::new(),
            queue: Vec::new(),
            queue_in_order: Vec::new(),
            order: p::QueueOrder::Raised,
            limit_ms: None,
            floor: None,
        });
    p::ServerMessage::RoomView {
        server_time,
        seq: state.seq,
        room: here.to_string(),
        inside,
        polls: state
            .polls_in_order()
            .filter(|p| super::view::sees_poll(state, p, viewer))
            .map(|p| super::view::poll_view(state, p, viewer, present))
            .collect(),
        hearings: state
            .hearings_in_order()
            .map(|h| super::view::hearing_view(state, h, viewer))
            .collect(),
        presence: index.view(viewer),
    }
}

/// Whether records may change what v2 viewers see of people beyond the rooms they moved
/// between (those are found by comparing locations): the roster, assignments, rooms.
pub fn touches_presence(records: &[(d::Record, super::view::Audience)]) -> bool {
    records.iter().any(|(r, _)| {
        matches!(
            r.event,
            d::Event::ParticipantAdded { .. }
                | d::Event::RoomsCreated { .. }
                | d::Event::RoomsCleared
                | d::Event::RoomsAssigned { .. }
        )
    })
}
