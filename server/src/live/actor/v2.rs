//! Protocol version 2 (PROTOCOL.md section 25) in the convention's task: the roster served
//! by version, presence coalesced per tick, room views for those who move.

use super::*;
use crate::live::view2::{PresenceCounts, PresenceIndex, RosterFrames};

impl Actor {
    /// `get_roster`: the roster's shared bytes for the viewer's audience, or `not_modified`.
    pub(super) fn get_roster(&mut self, conn: u64, version: Option<u64>) {
        let Some(person) = self
            .conns
            .get(&conn)
            .and_then(|c| self.state.people.get(&c.participant))
        else {
            return;
        };
        let current = crate::live::view2::roster_version(&self.state);
        // Its own version, or one this connection was sent already (a client that does not
        // name it has it all the same): a few bytes, not the roster again.
        let sent = self.conns.get(&conn).and_then(|c| c.roster_sent);
        if version == Some(current) || sent == Some(current) {
            let frame = encode(&ServerMessage::NotModified {
                resource: "roster".into(),
                version: current,
            });
            return self.send(conn, &frame);
        }
        if self.roster.as_ref().is_none_or(|r| r.version != current) {
            self.roster = Some(RosterFrames::build(&self.state));
        }
        let frame = self.roster.as_ref().map(|r| r.for_viewer(person).clone());
        if let Some(frame) = frame {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.roster_sent = Some(current);
            }
            self.send(conn, &frame);
        }
    }

    /// Where people are (or the roster, or the rooms) changed: the counts are built again
    /// when next needed.
    pub(super) fn locations_changed(&mut self) {
        self.presence_counts = None;
        self.presence_delta.everyone();
        self.presence_changed();
    }

    /// `who` came online or went offline: the cached counts follow (call after `present`
    /// changed).
    pub(super) fn online_changed(&mut self, who: &str, online: bool) {
        if let Some(c) = self.presence_counts.as_mut() {
            c.online_changed(&self.state, who, online);
        }
    }

    /// The counts of now, built if they were dropped. Debug builds (the tests) check the
    /// cached counts against a fresh pass.
    pub(super) fn ensure_counts(&mut self) {
        match &self.presence_counts {
            Some(c) => debug_assert_eq!(
                c,
                &PresenceCounts::build(&self.state, &self.present),
                "the cached presence counts drifted"
            ),
            None => self.presence_counts = Some(PresenceCounts::build(&self.state, &self.present)),
        }
    }

    /// Something v2 viewers see of people changed: it goes out at the next tick.
    pub(super) fn presence_changed(&mut self) {
        if self.conns.len() > self.v1_conns {
            self.presence_dirty = true;
        }
    }

    /// The presence tick: each v2 connection gets one `presence_batch` with what changed in
    /// its view since it was last told (nothing if nothing did).
    pub(super) fn flush_presence(&mut self) {
        self.presence_dirty = false;
        self.ensure_counts();
        let Some(counts) = self.presence_counts.as_ref() else {
            return;
        };
        let index = PresenceIndex::new(&self.state, &self.present, counts);
        let mut out: Vec<(u64, Frame)> = Vec::new();
        // Neighbours in the map often get the same batch (counts only): encoded once.
        let mut last: Option<(ServerMessage, Frame)> = None;
        for (id, c) in self.conns.iter_mut() {
            let (Some(sent), Some(person)) =
                (c.sent.as_mut(), self.state.people.get(&c.participant))
            else {
                continue;
            };
            let Some(batch) = sent.advance(&index, person, &self.presence_delta) else {
                continue;
            };
            let frame = match &last {
                Some((m, f)) if *m == batch => f.clone(),
                _ => {
                    let f = encode(&batch);
                    last = Some((batch, f.clone()));
                    f
                }
            };
            out.push((*id, frame));
        }
        self.presence_delta = Default::default();
        for (id, frame) in out {
            self.send(id, &frame);
        }
    }
}

impl Actor {
    /// Tallies coalesced per poll (section 25, both versions): these polls' tallies go out
    /// at the next tally tick; `public`: to those who see public results too.
    pub(super) fn tallies_later(&mut self, polls: &BTreeSet<String>, public: bool) {
        for id in polls {
            *self.tallies_due.entry(id.clone()).or_insert(false) |= public;
        }
    }

    /// The tally tick: each changed poll's tally and participation, as they are now, to its
    /// receivers, or in a large audience to this tick's slice of them (a round of slices
    /// starts again whenever the tally changes, so everyone gets its last state).
    pub(super) fn flush_tallies(&mut self) {
        let tick = self.tally_ticks;
        self.tally_ticks += 1;
        let mut rounds = std::mem::take(&mut self.tally_rounds);
        for (id, public) in std::mem::take(&mut self.tallies_due) {
            let r = rounds.entry(id).or_default();
            r.public |= public;
            r.slots = None;
        }
        rounds.retain(|id, round| {
            self.poll_tally(id, round.public, Some((tick, round)));
            round.left > 0
        });
        self.tally_rounds = rounds;
    }
}

/// The `room_view` messages of one moment, one per distinct viewer, with the presence view
/// each carries (what its connection then has).
pub(super) struct RoomViews<'a> {
    state: &'a Convention,
    present: &'a BTreeSet<String>,
    server_time: u64,
    /// The task's counts of now (after the moves), or built here when the first v2 mover
    /// needs them.
    given: Option<&'a PresenceCounts>,
    counts: Option<PresenceCounts>,
    built: HashMap<String, (Frame, p::PresenceView)>,
}

impl<'a> RoomViews<'a> {
    pub fn new(
        state: &'a Convention,
        present: &'a BTreeSet<String>,
        counts: Option<&'a PresenceCounts>,
        server_time: u64,
    ) -> Self {
        RoomViews {
            state,
            present,
            server_time,
            given: counts,
            counts: None,
            built: HashMap::new(),
        }
    }

    /// The frame for `viewer` (built once per participant: several connections share it).
    pub fn frame(&mut self, viewer: &d::Person) -> (Frame, p::PresenceView) {
        if let Some(b) = self.built.get(&viewer.id) {
            return b.clone();
        }
        let (state, present) = (self.state, self.present);
        let counts = match self.given {
            Some(c) => c,
            None => self
                .counts
                .get_or_insert_with(|| PresenceCounts::build(state, present)),
        };
        let index = PresenceIndex::new(state, present, counts);
        let msg = crate::live::view2::room_view(state, viewer, present, &index, self.server_time);
        let view = match &msg {
            ServerMessage::RoomView { presence, .. } => presence.clone(),
            _ => p::PresenceView::default(),
        };
        let built = (encode(&msg), view);
        self.built.insert(viewer.id.clone(), built.clone());
        built
    }
}
