//! After records are durable (or read from another node): who hears of them. Fan-out by
//! audience, fresh snapshots for those who changed room, poll tallies, presence, and the
//! documents that follow the log's decisions.

use super::*;

impl Actor {
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

    /// Send the participation and tally of these polls: staff get both; others the tally of
    /// polls they see whose results are public (only when `public` changed).
    pub(super) fn poll_tallies(&mut self, polls: &BTreeSet<String>, public: bool) {
        for id in polls {
            let Some(poll) = self.state.polls.get(id) else {
                continue;
            };
            if poll.status == d::PollStatus::Draft {
                continue;
            }
            let tally = wire::tally_out(&poll.tally());
            let staff = encode(&ServerMessage::PollTally {
                poll: id.clone(),
                participation: Some(view::participation(&self.state, poll, &self.present)),
                tally: Some(tally.clone()),
            });
            let others = (public && poll.results_public()).then(|| {
                encode(&ServerMessage::PollTally {
                    poll: id.clone(),
                    participation: None,
                    tally: Some(tally),
                })
            });
            let targets: Vec<(u64, Frame)> = self
                .conns
                .iter()
                .filter_map(|(cid, c)| {
                    let person = self.state.people.get(&c.participant)?;
                    if person.sees_everything() {
                        Some((*cid, staff.clone()))
                    } else if view::sees_poll(&self.state, poll, person) {
                        others.clone().map(|f| (*cid, f))
                    } else {
                        None
                    }
                })
                .collect();
            for (cid, frame) in targets {
                self.send(cid, &frame);
            }
        }
    }

    /// Another node's set of online participants: merge, and tell who came and went.
    pub(super) fn remote_presence(&mut self, node: String, present: BTreeSet<String>) {
        if present.is_empty() {
            self.remote.remove(&node);
        } else {
            self.remote.insert(node, present);
        }
        let merged: BTreeSet<String> = self
            .online
            .keys()
            .cloned()
            .chain(self.remote.values().flatten().cloned())
            .collect();
        let came: Vec<String> = merged.difference(&self.present).cloned().collect();
        let went: Vec<String> = self.present.difference(&merged).cloned().collect();
        self.present = merged;
        for p in came {
            self.presence(&p, true);
        }
        for p in went {
            self.presence(&p, false);
        }
    }

    pub(super) fn presence(&mut self, participant: &str, online: bool) {
        let frame = encode(&ServerMessage::Presence {
            participant: participant.to_string(),
            online,
        });
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.send(id, &frame);
        }
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
        self.poll_tallies(&open, false);
    }

    /// After records are durable (ours) or read (another node's): tell everyone concerned.
    pub(super) async fn publish(
        &mut self,
        records: &[(d::Record, Audience)],
        audit: &[p::AuditEntry],
        rooms_before: &HashMap<u64, String>,
    ) {
        let _ = self.seq_tx.send(self.state.seq);
        self.fan_out(records, audit, rooms_before);
        let polls: BTreeSet<String> = records
            .iter()
            .filter_map(|(r, _)| poll_of(&r.event))
            .collect();
        self.poll_tallies(&polls, true);
        self.follow_documents(records).await;
        // People moved: who may vote in a room's poll, and who is there, changed.
        let moved = rooms_before.iter().any(|(id, r)| {
            self.conns
                .get(id)
                .is_some_and(|c| self.state.location_of(&c.participant) != r)
        });
        if moved {
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
            self.poll_tallies(&open, false);
        }
    }

    /// Send each durable event to those who may see it; a connection whose room changed then
    /// gets a fresh snapshot; facilitators and guarantors get the audit entries.
    pub(super) fn fan_out(
        &mut self,
        records: &[(d::Record, Audience)],
        audit_entries: &[p::AuditEntry],
        rooms_before: &HashMap<u64, String>,
    ) {
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
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            let Some(c) = self.conns.get(&id) else {
                continue;
            };
            let Some(person) = self.state.people.get(&c.participant) else {
                continue;
            };
            let all = person.sees_everything();
            let room_now = self.state.location_of(&person.id).to_string();
            let room_before = rooms_before
                .get(&id)
                .cloned()
                .unwrap_or_else(|| room_now.clone());
            // The events, judged by the room the viewer was in when they happened; then, if
            // the viewer changed room, a fresh snapshot of the new view.
            let mut out: Vec<Frame> = Vec::new();
            for ((_, audience), (public, private)) in records.iter().zip(&frames) {
                if audience.admits(person, &room_before) {
                    out.push(if all {
                        private.as_ref().unwrap_or(public).clone()
                    } else {
                        public.clone()
                    });
                }
            }
            if room_before != room_now {
                out.push(encode(&ServerMessage::Snapshot {
                    server_time: now_ms(),
                    snapshot: view::snapshot(&self.id, &self.state, person, &self.present),
                }));
            }
            if all {
                out.extend(audit_frames.iter().cloned());
            }
            for f in &out {
                self.send(id, f);
            }
        }
        // An invitation revoked or replaced closes the connections made with the old token.
        let stale: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| self.state.invites.get(&c.participant) != Some(&c.token_hash))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(c) = self.conns.get(&id) {
                let _ = c.close.try_send((close::REVOKED, "invitation revoked"));
            }
            self.leave(id);
        }
    }
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
