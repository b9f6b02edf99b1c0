//! After records are durable (or read from another node): who hears of them. Fan-out by
//! audience, fresh snapshots for those who changed room, poll tallies, presence, and the
//! documents that follow the log's decisions.

use super::*;

impl Actor {
    /// What this node appended, for the follower (the video controller), if any.
    pub(super) fn tell_follower(&self, records: &[(d::Record, Audience)]) {
        if let Some(f) = &self.follower {
            for (r, _) in records {
                f.appended(&self.id, &self.state, &r.event);
            }
        }
    }

    /// Live documents follow what was decided here: who may write, who was revoked, and
    /// named versions (kept before the request is answered).
    pub(super) async fn follow_documents(&mut self, records: &[(d::Record, Audience)]) {
        for (r, _) in records {
            match &r.event {
                d::Event::DocumentOpened { document, .. }
                | d::Event::DocumentClosed { document, .. } => {
                    self.docs
                        .set_writers(&self.id, document, self.state.writers_of(document))
                        .await;
                }
                d::Event::WritingGroupSet { .. } => {
                    for name in self.state.documents.keys() {
                        self.docs
                            .set_writers(&self.id, name, self.state.writers_of(name))
                            .await;
                    }
                }
                d::Event::InviteRevoked { participant }
                | d::Event::InviteIssued { participant, .. } => {
                    self.docs.revoke(&self.id, participant).await;
                }
                // Moderation: a removed participant's document connections close too.
                d::Event::ParticipantRemoved { participant, .. } => {
                    self.docs.remove(&self.id, participant).await;
                }
                d::Event::VersionNamed {
                    document,
                    version,
                    label,
                } => {
                    if let Err(e) = self
                        .docs
                        .capture(&self.id, document, *version, label.clone(), r.at)
                        .await
                    {
                        warn!(error = %e, %document, version, "named version not kept");
                    }
                }
                _ => {}
            }
        }
    }

    /// Send the participation and tally of these polls, now, to all: staff get both; others
    /// the tally of polls they see whose results are public (only when `public` changed).
    pub(super) fn poll_tallies(&mut self, polls: &BTreeSet<String>, public: bool) {
        for id in polls {
            self.poll_tally(id, public, None);
        }
    }

    /// `poll_tallies` of one poll; with a round (tally tick, slices): to the tick's slice of
    /// the receivers only (starting the round when it is new).
    pub(super) fn poll_tally(
        &mut self,
        id: &str,
        public: bool,
        round: Option<(u64, &mut super::TallyRound)>,
    ) {
        let Some(poll) = self
            .state
            .polls
            .get(id)
            .filter(|p| p.status != d::PollStatus::Draft)
        else {
            // Gone, or a draft again: no round to serve.
            if let Some((_, r)) = round {
                r.left = 0;
            }
            return;
        };
        let tally = wire::tally_out(&poll.tally());
        let staff = encode(&ServerMessage::PollTally {
            poll: id.to_string(),
            participation: Some(view::participation(&self.state, poll, &self.present)),
            tally: view::staff_sees_tally(poll).then(|| tally.clone()),
        });
        let others = (public && poll.results_public()).then(|| {
            encode(&ServerMessage::PollTally {
                poll: id.to_string(),
                participation: None,
                tally: Some(tally),
            })
        });
        // Each participant online is judged once, for all their connections.
        let mut targets: Vec<(u64, &Frame)> = Vec::new();
        for (who, conns) in &self.online {
            let Some(person) = self.state.people.get(who) else {
                continue;
            };
            let frame = if person.sees_everything() {
                &staff
            } else if let Some(f) = others
                .as_ref()
                .filter(|_| view::sees_poll(&self.state, poll, person))
            {
                f
            } else {
                continue;
            };
            targets.extend(conns.iter().map(|id| (*id, frame)));
        }
        if let Some((tick, r)) = round {
            let slots = match r.slots {
                Some(n) => n,
                None => {
                    let n = p::tally_slots(targets.len());
                    r.slots = Some(n);
                    r.left = n;
                    n
                }
            };
            targets.retain(|(cid, _)| cid % slots == tick % slots);
            r.left = r.left.saturating_sub(1);
        }
        for (cid, frame) in targets {
            self.send(cid, frame);
        }
    }

    /// Another node's set of online participants (`None`: its set expired): merge, unless an
    /// equal or newer set of that node is already here, and tell who came and went.
    pub(super) fn remote_presence(&mut self, node: String, set: Option<(u64, BTreeSet<String>)>) {
        if !self.remote.take(node, set) {
            return;
        }
        let merged: BTreeSet<String> = self
            .online
            .keys()
            .cloned()
            .chain(self.remote.online().cloned())
            .collect();
        let came: Vec<String> = merged.difference(&self.present).cloned().collect();
        let went: Vec<String> = self.present.difference(&merged).cloned().collect();
        self.present = merged;
        for p in came {
            self.online_changed(&p, true);
            self.presence(&p, true);
        }
        for p in went {
            self.online_changed(&p, false);
            self.presence(&p, false);
        }
    }

    pub(super) fn presence(&mut self, participant: &str, online: bool) {
        self.presence_delta.person(participant);
        // Version 1 connections hear of it now; version 2 ones at the next presence tick (a
        // convention of version 2 clients only does not walk its connections per arrival).
        if self.v1_conns > 0 {
            let frame = encode(&ServerMessage::Presence {
                participant: participant.to_string(),
                online,
            });
            let ids: Vec<u64> = self
                .conns
                .iter()
                .filter(|(_, c)| c.sent.is_none())
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.send(id, &frame);
            }
        }
        self.presence_changed();
        // Who is present counts in the participation of open polls.
        let who = self.state.people.get(participant);
        let open: BTreeSet<String> = self
            .state
            .polls
            .values()
            .filter(|p| {
                p.status == d::PollStatus::Open && who.is_some_and(|w| p.eligible(&w.roles))
            })
            .map(|p| p.id.clone())
            .collect();
        self.tallies_later(&open, false);
    }

    /// After records are durable (ours) or read (another node's): tell everyone concerned.
    /// `rooms_before` is where everyone was before these records.
    pub(super) async fn publish(
        &mut self,
        records: &[(d::Record, Audience)],
        audit: &[p::AuditEntry],
        rooms_before: &Rooms,
    ) {
        let _ = self.seq_tx.send(self.state.seq);
        let moved = moved(rooms_before, &self.state.location);
        // Protocol version 2: who is where changed (the counts are built again once, for the
        // movers' room views and the next presence tick).
        if !moved.is_empty() || super::super::view2::touches_presence(records) {
            self.locations_changed();
        }
        self.fan_out(records, audit, rooms_before, &moved);
        self.hearing_questions(records);
        let polls: BTreeSet<String> = records
            .iter()
            .filter_map(|(r, _)| poll_of(&r.event))
            .collect();
        // A poll's change of state (opened, closed, revealed...) sends its tally now, exact;
        // ballots only make it due at the next tally tick (at most `TALLIES_PER_SECOND`).
        let (now, later): (BTreeSet<String>, BTreeSet<String>) =
            polls.iter().cloned().partition(|id| {
                records.iter().any(|(r, _)| {
                    poll_of(&r.event).as_ref() == Some(id)
                        && !matches!(
                            r.event,
                            d::Event::BallotCast { .. } | d::Event::VoterMarked { .. }
                        )
                })
            });
        for id in &now {
            self.tallies_due.remove(id);
            self.tally_rounds.remove(id);
        }
        self.poll_tallies(&now, true);
        self.tallies_later(&later, true);
        self.follow_documents(records).await;
        // People moved: who may vote in a room's poll, and who is there, changed.
        if moved.iter().any(|p| self.online.contains_key(p)) {
            let open: BTreeSet<String> = self
                .state
                .polls
                .values()
                .filter(|p| {
                    p.status == d::PollStatus::Open
                        && p.spec.room.is_some()
                        && !polls.contains(&p.id)
                })
                .map(|p| p.id.clone())
                .collect();
            self.tallies_later(&open, false);
        }
    }

    /// Send each durable event to those who may see it; a connection whose room changed then
    /// gets a fresh snapshot; facilitators and guarantors get the audit entries.
    ///
    /// The cost is O(connections + records) per batch, not their product: a record for one
    /// participant (`Audience::Only`, e.g. each ballot's `voter_marked`) goes straight to
    /// that participant's connections, and only records with a wider audience are judged for
    /// every participant online. A batch with none of those (a burst of ballots) looks only
    /// at the voters it concerns.
    pub(super) fn fan_out(
        &mut self,
        records: &[(d::Record, Audience)],
        audit_entries: &[p::AuditEntry],
        rooms_before: &Rooms,
        moved: &BTreeSet<String>,
    ) {
        // Version 2 movers get their room with its presence: the counts of now, built once.
        if !moved.is_empty() && self.conns.len() > self.v1_conns {
            self.ensure_counts();
        }
        let frames: Vec<(Frame, Option<Frame>)> = records
            .iter()
            .map(|(r, _)| {
                let public = encode(&ServerMessage::Event {
                    record: view::public_form(r, &self.state),
                });
                let private = view::needs_private_form(r).then(|| {
                    encode(&ServerMessage::Event {
                        record: wire::record_out(r),
                    })
                });
                (public, private)
            })
            .collect();
        let audit_frames: Vec<Frame> = audit_entries
            .iter()
            .map(|e| encode(&ServerMessage::Audit { entry: e.clone() }))
            .collect();
        // Indexes of the records for one participant, by participant, and of the others.
        let mut only: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut wide: Vec<usize> = Vec::new();
        for (i, (_, audience)) in records.iter().enumerate() {
            match audience {
                Audience::Only(who) => only.entry(who.as_str()).or_default().push(i),
                Audience::Nobody => {}
                Audience::Everyone | Audience::Room(_) | Audience::Staff(_) => wide.push(i),
            }
        }
        // Nobody moved and every record is everyone's (a broadcast, an announcement): each
        // connection gets the same frames, the staff's with their private forms and the
        // audit entries; no participant is judged.
        let for_all = only.is_empty()
            && moved.is_empty()
            && records.iter().all(|(_, a)| matches!(a, Audience::Everyone));
        let mut out: Vec<(u64, Frame)> = Vec::new();
        let mut queued = 0u64;
        if for_all {
            let others: Vec<Frame> = frames.iter().map(|(public, _)| public.clone()).collect();
            let staff: Vec<Frame> = frames
                .iter()
                .map(|(public, private)| private.as_ref().unwrap_or(public).clone())
                .chain(audit_frames.iter().cloned())
                .collect();
            // Straight to each connection, in hand already.
            let (dead, metrics, at_once) = (&mut self.dead, &self.metrics, self.at_once);
            for (id, c) in &self.conns {
                let mine = if c.staff { &staff } else { &others };
                for f in mine {
                    queued += u64::from(super::offer(c, *id, f.clone(), at_once, metrics, dead));
                }
            }
        } else {
            // Who must be looked at: everyone online when a record (or an audit entry, for
            // staff) may concern them; otherwise only those addressed and those who moved.
            let everyone = !wide.is_empty() || !audit_frames.is_empty();
            let concerned: Vec<&str> = if everyone {
                self.online.keys().map(String::as_str).collect()
            } else {
                let mut who: BTreeSet<&str> = only.keys().copied().collect();
                who.extend(moved.iter().map(String::as_str));
                who.into_iter()
                    .filter(|p| self.online.contains_key(*p))
                    .collect()
            };
            let mut frames_of: Vec<Frame> = Vec::new();
            // Those who moved together mostly see the same thing: one snapshot per distinct view.
            let mut snapshots = view::Snapshots::new(
                &self.id,
                &self.state,
                &self.present,
                now_ms(),
                &self.audit_head,
            );
            // Protocol version 2: the room views of those who moved, and what their
            // connections now have of presence.
            let mut rooms = super::v2::RoomViews::new(
                &self.state,
                &self.present,
                self.presence_counts.as_ref(),
                now_ms(),
            );
            let mut reset: Vec<(u64, convene_protocol::PresenceView)> = Vec::new();
            // Those moved out of a room by an event that does not name them (`breakouts_opened`,
            // a rotation round...), by the room they left: leaving lowers their hand without an
            // event, so a v2 viewer of that room who does not see them gets the room again.
            let silent = silently_moved(records, rooms_before, moved);
            for who in concerned {
                let (Some(person), Some(conns)) =
                    (self.state.people.get(who), self.online.get(who))
                else {
                    continue;
                };
                let all = person.sees_everything();
                // The events, judged by the room the viewer was in when they happened, in the
                // order of the log; then, if the viewer changed room, a fresh snapshot.
                let room_before = room_in(rooms_before, who);
                let mine = only.get(who).map(Vec::as_slice).unwrap_or_default();
                frames_of.clear();
                let (mut w, mut m) = (0, 0);
                loop {
                    let i = match (wide.get(w), mine.get(m)) {
                        (Some(&a), Some(&b)) if b < a => {
                            m += 1;
                            b
                        }
                        (Some(&a), _) => {
                            w += 1;
                            if !records[a].1.admits(person, room_before) {
                                continue;
                            }
                            a
                        }
                        (None, Some(&b)) => {
                            m += 1;
                            b
                        }
                        (None, None) => break,
                    };
                    let (public, private) = &frames[i];
                    frames_of.push(if all {
                        private.as_ref().unwrap_or(public).clone()
                    } else {
                        public.clone()
                    });
                }
                if all {
                    frames_of.extend(audit_frames.iter().cloned());
                }
                for (n, id) in conns.iter().enumerate() {
                    // The last (mostly the only) connection takes the frames themselves: one
                    // reference count less to raise and drop per delivery.
                    if n + 1 == conns.len() {
                        out.extend(frames_of.drain(..).map(|f| (*id, f)));
                    } else {
                        out.extend(frames_of.iter().map(|f| (*id, f.clone())));
                    }
                    // A viewer who changed room then gets a fresh snapshot (version 1) or the
                    // new room (version 2); a v2 viewer whose room lost someone it did not see,
                    // silently, gets its room again (its queue may have lost a hand).
                    let sent = self.conns.get(id).and_then(|c| c.sent.as_ref());
                    let stale = !all
                        && !moved.contains(who)
                        && sent.is_some_and(|s| {
                            silent.get(room_before).is_some_and(|left| {
                                // More left than it sees: some it did not see.
                                left.len() > s.people.len()
                                    || left.iter().any(|m| !s.people.contains_key(*m))
                            })
                        });
                    if moved.contains(who) || stale {
                        let v2 = sent.is_some();
                        let frame = if v2 {
                            let (frame, view) = rooms.frame(person);
                            reset.push((*id, view));
                            frame
                        } else {
                            snapshots.frame(person)
                        };
                        out.push((*id, frame));
                    }
                }
            }
            drop(rooms);
            for (id, view) in reset {
                if let Some(c) = self.conns.get_mut(&id) {
                    c.sent = Some(super::super::view2::SentPresence::from_view(&view));
                }
            }
        }
        for (id, frame) in out {
            queued += u64::from(self.queue(id, frame));
        }
        if queued > 0 {
            self.metrics.deliveries.inc_by(queued);
        }
        // An invitation revoked or replaced closes the connections made with the old token.
        // Only invitation events change the tokens, so only their participants are checked.
        let mut stale: Vec<u64> = Vec::new();
        for (r, _) in records {
            let (d::Event::InviteIssued { participant, .. }
            | d::Event::InviteRevoked { participant }) = &r.event
            else {
                continue;
            };
            let token = self.state.invites.get(participant);
            stale.extend(
                self.online
                    .get(participant)
                    .into_iter()
                    .flatten()
                    .filter(|id| {
                        self.conns
                            .get(id)
                            .is_some_and(|c| token != Some(&c.token_hash))
                    }),
            );
        }
        stale.sort_unstable();
        stale.dedup();
        for id in stale {
            if let Some(c) = self.conns.get(&id) {
                c.out.close(close::REVOKED, "invitation revoked");
            }
            self.leave(id);
        }
        // Moderation: a participant removed (here or on another node: every replica reads the
        // event) loses every connection on this node, after the frames queued above.
        let removed: Vec<u64> = records
            .iter()
            .filter_map(|(r, _)| match &r.event {
                d::Event::ParticipantRemoved { participant, .. } => self.online.get(participant),
                _ => None,
            })
            .flatten()
            .copied()
            .collect();
        for id in removed {
            if let Some(c) = self.conns.get(&id) {
                c.out.close(close::REMOVED, "removed from the convention");
            }
            self.leave(id);
        }
    }
}

/// The room of a participant in a `location` map (absent: the plenary), as
/// `Convention::location_of` says.
fn room_in<'a>(rooms: &'a Rooms, who: &str) -> &'a str {
    rooms.get(who).map_or(d::PLENARY, String::as_str)
}

/// Who is in another room now than in `before`.
fn moved(before: &Rooms, now: &Rooms) -> BTreeSet<String> {
    if before == now {
        return BTreeSet::new();
    }
    before
        .keys()
        .chain(now.keys())
        .filter(|p| room_in(before, p) != room_in(now, p))
        .cloned()
        .collect()
}

/// Who changed room in these records without an event naming them (`participant_moved` and
/// `participant_removed` do), by the room they left.
fn silently_moved<'a>(
    records: &[(d::Record, Audience)],
    before: &'a Rooms,
    moved: &'a BTreeSet<String>,
) -> HashMap<&'a str, Vec<&'a str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    if moved.is_empty() {
        return out;
    }
    let named: BTreeSet<&str> = records
        .iter()
        .filter_map(|(r, _)| match &r.event {
            d::Event::ParticipantMoved { participant, .. }
            | d::Event::ParticipantRemoved { participant, .. } => Some(participant.as_str()),
            _ => None,
        })
        .collect();
    for who in moved.iter().filter(|p| !named.contains(p.as_str())) {
        out.entry(room_in(before, who)).or_default().push(who);
    }
    out
}

/// The poll an event is about, if any.
fn poll_of(event: &d::Event) -> Option<String> {
    use d::Event::*;
    match event {
        PollDrafted { poll, .. }
        | PollEdited { poll, .. }
        | PollOpened { poll, .. }
        | BallotCast { poll, .. }
        | VoterMarked { poll }
        | PollClosed { poll, .. }
        | PollRevealed { poll }
        | PollPublished { poll, .. } => Some(poll.clone()),
        _ => None,
    }
}
