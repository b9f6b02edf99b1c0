//! Taking a convention up from the store (its latest stored state, then the log after it),
//! the secret ballot box checked against the voter marks, the indexes kept in step with the
//! records (invitation tokens, answered requests), and the state written back every
//! `state_every` events.

use std::collections::BTreeMap;

use tracing::error;

use super::*;
use crate::store::{BallotBox, BoxRow};

/// A ballot box that could not be read is read again this long after.
const BALLOTS_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// The valid ballots found in the box for one poll, and whether some were loose.
#[derive(Default)]
struct Found {
    ballots: Vec<d::Ballot>,
    loose: bool,
}

impl Actor {
    /// A ballot-box event as a ballot of an existing secret poll (of `sealed_in`, for a sealed
    /// list), or why it is not one.
    fn valid_ballot(
        &self,
        event: p::Event,
        sealed_in: Option<&str>,
    ) -> Result<(String, d::Ballot), String> {
        let d::Event::SecretBallotCast { poll, ballot } = wire::event_in(event) else {
            return Err("not a secret ballot".into());
        };
        if sealed_in.is_some_and(|s| s != poll) {
            return Err(format!(
                "a ballot of {poll} sealed with the ballots of another poll"
            ));
        }
        let Some(p) = self.state.polls.get(&poll) else {
            return Err(format!("a ballot of {poll}, a poll that does not exist"));
        };
        if !p.spec.secret || p.status == d::PollStatus::Draft {
            return Err(format!("a ballot of {poll}, which takes no secret ballot"));
        }
        // Stored as cast: checked, and normalised, by the same rule as a vote.
        match d::polls::check_ballot(&p.spec.kind, &ballot) {
            Ok(checked) if checked == ballot => Ok((poll, ballot)),
            Ok(_) => Err(format!("a ballot of {poll} not as the server writes one")),
            Err(e) => Err(format!("a ballot of {poll} that is not valid for it: {e}")),
        }
    }

    /// Fold the secret ballot box (ballots without a place in the log) into the state, checked
    /// against the voter marks. Rows are anonymous, so refusing means: a row that is not a
    /// valid ballot of an existing secret poll is not counted; a poll whose box does not match
    /// its marks (more ballots than voters, or fewer when the box was read with exactly the
    /// log folded, or a closed poll's ballots that do not give its logged result) was tampered
    /// with, and none of its ballots is counted (the planted one cannot be told apart). Every
    /// refused row is logged and counted in `convene_ballots_refused_total`; a tampered poll is
    /// marked, for its facilitators, guarantors and organizers to see (error `tampered`).
    /// Taking a convention up reports everything refused; a refresh (cluster mode) reports a
    /// poll newly found tampered with, and refuses the rest again without a word.
    /// Returns the closed polls whose ballots are still loose, to be sealed.
    pub(super) fn fold_ballots(&mut self, boxed: BallotBox, taking_up: bool) -> Vec<String> {
        let mut found: BTreeMap<String, Found> = BTreeMap::new();
        let mut refused = 0u64;
        for row in boxed.rows {
            let (events, sealed_in) = match row {
                BoxRow::Loose(event) => (vec![event], None),
                BoxRow::Sealed { poll, ballots } => (ballots, Some(poll)),
                BoxRow::Unreadable(why) => {
                    if taking_up {
                        refused += 1;
                        error!(reason = %why, "ballot box row refused");
                    }
                    continue;
                }
            };
            for event in events {
                match self.valid_ballot(event, sealed_in.as_deref()) {
                    Ok((poll, ballot)) => {
                        let f = found.entry(poll).or_default();
                        f.ballots.push(ballot);
                        f.loose |= sealed_in.is_none();
                    }
                    Err(why) if taking_up => {
                        refused += 1;
                        error!(reason = %why, "ballot box row refused");
                    }
                    Err(_) => {}
                }
            }
        }
        // With the box read at the seq the state is at (or before it), every honest ballot has
        // its mark folded; read ahead of the state, the box may hold ballots of marks to come.
        let exact = boxed.seq == self.state.seq;
        let behind = boxed.seq <= self.state.seq;
        let mut seal = Vec::new();
        for p in self.state.polls.values_mut().filter(|p| p.spec.secret) {
            let Found { mut ballots, loose } = found.remove(&p.id).unwrap_or_default();
            let (n, voters) = (ballots.len() as u64, p.voted.len() as u64);
            let tampered = match (&p.status, &p.final_tally) {
                (d::PollStatus::Closed | d::PollStatus::Published, Some(logged)) => {
                    n != voters || d::polls::tally(&p.spec.kind, ballots.iter()) != *logged
                }
                _ => (behind && n > voters) || (exact && n < voters),
            };
            let before = p.tampered.take();
            p.secret.clear();
            if tampered {
                let found = d::polls::Tampered { ballots: n, voters };
                p.tampered = Some(found);
                if taking_up || before != Some(found) {
                    refused += n;
                    error!(
                        poll = %p.id,
                        ballots = n,
                        voters,
                        "ballot box tampered with: none of its ballots is counted"
                    );
                }
                continue;
            }
            if loose && p.status != d::PollStatus::Open {
                seal.push(p.id.clone());
            }
            // Kept sorted: their order says nothing of when, or by whom, they were cast.
            ballots.sort_unstable();
            p.secret = ballots;
        }
        self.metrics.ballots_refused.inc_by(refused);
        seal
    }

    /// Secret ballots cast through other nodes (cluster mode): the box is the truth for every
    /// poll's count. It comes with the seq of the log when it was read; the records up to that
    /// seq are taken first (into `records` and `audit`, published with the rest), so that the
    /// box is checked against exactly the marks it goes with.
    pub(super) async fn refresh_ballots(
        &mut self,
        records: &mut Vec<(d::Record, Audience)>,
        audit: &mut Vec<p::AuditEntry>,
    ) {
        // Until read and folded: read again in a second (see `ballots_retry`).
        self.ballots_retry = Some(tokio::time::Instant::now() + BALLOTS_RETRY);
        let boxed = match self.store.ballots(&self.id).await {
            Ok(b) => b,
            Err(e) => return warn!(error = %e, "ballot box not read"),
        };
        if boxed.seq > self.state.seq {
            let newer = match self.store.records_after(&self.id, self.state.seq).await {
                Ok(newer) => newer,
                Err(e) => return warn!(error = %e, "ballot box not folded: the log is not read"),
            };
            let upto = newer.into_iter().filter(|r| r.seq <= boxed.seq).collect();
            if self.take_remote(upto, records, audit) || self.state.seq != boxed.seq {
                return warn!(seq = boxed.seq, "ballot box not folded: a gap in the log");
            }
        }
        let _ = self.fold_ballots(boxed, false);
        self.ballots_retry = None;
    }

    /// Take up the latest stored state and fold the log after it (or the whole log).
    pub(super) async fn load(&mut self) -> Result<(), StoreError> {
        let mut loaded = self.store.load_live(&self.id).await?;
        let stored = loaded.state.take().map(|(seq, data)| {
            let state = serde_json::from_slice::<p::StoredState>(&data)
                .ok()
                .and_then(wire::state_in)
                .filter(|s| s.convention.seq == seq);
            (seq, state)
        });
        let task = match stored {
            None => wire::TaskState::default(),
            Some((_, Some(task))) => task,
            Some((seq, None)) => {
                // Another format, or damaged: derived data, so replay the whole log.
                warn!(seq, "stored state not usable; replaying the whole log");
                loaded = self.store.load(&self.id).await?;
                wire::TaskState::default()
            }
        };
        self.state = task.convention;
        self.requests = task.requests;
        self.revoked = Arc::new(task.revoked);
        self.by_hash = Arc::new(
            self.state
                .invites
                .iter()
                .map(|(who, hash)| (hash.clone(), who.clone()))
                .collect(),
        );
        self.state_saved = self.state.seq;
        self.metrics
            .records_replayed
            .inc_by(loaded.records.len() as u64);
        for r in loaded.records {
            let r = wire::record_in(r);
            self.track_invites(&r.event);
            self.track_request(&r);
            self.state.apply(&r);
        }
        let seal = self.fold_ballots(loaded.ballots, true);
        self.ballots_retry = None;
        self.audit_head = loaded.audit_head.unwrap_or((0, audit::GENESIS.to_string()));
        if !seal.is_empty() {
            // Closed polls whose ballots are still loose (cast before polls were sealed at
            // their close, or imported): sealed now, as their close would have.
            if let Err(e) = self.store.seal(&self.id, seal).await {
                warn!(error = %e, "ballots of closed polls not sealed");
            }
        }
        Ok(())
    }

    /// Keep the token index in step with invitation events (before they are applied).
    pub(super) fn track_invites(&mut self, event: &d::Event) {
        match event {
            // Copied on write: a checkpoint shares them (cluster mode).
            d::Event::InviteIssued {
                participant,
                token_hash,
            } => {
                if let Some(old) = self.state.invites.get(participant) {
                    Arc::make_mut(&mut self.by_hash).remove(old);
                    Arc::make_mut(&mut self.revoked).insert(old.clone());
                }
                Arc::make_mut(&mut self.by_hash).insert(token_hash.clone(), participant.clone());
            }
            d::Event::InviteRevoked { participant } => {
                if let Some(old) = self.state.invites.get(participant) {
                    Arc::make_mut(&mut self.by_hash).remove(old);
                    Arc::make_mut(&mut self.revoked).insert(old.clone());
                }
            }
            _ => {}
        }
    }

    pub(super) fn track_request(&mut self, r: &d::Record) {
        if let (Some(id), d::Actor::Participant(p)) = (&r.request, &r.actor) {
            self.requests.insert(p, id, r.seq);
        }
    }

    /// The seq already produced by this request, if it is a retry.
    pub(super) fn done_before(&self, pend: &Pending) -> Option<u64> {
        match (&pend.reply, &pend.actor) {
            (ReplyTo::Conn { id, .. }, d::Actor::Participant(p)) => self.requests.get(p, id),
            _ => None,
        }
    }

    /// The write of the state, when `state_every` events have passed since the last one
    /// stored (with `stopping`, after any event). It is derived data: the caller runs it in
    /// the background, and a later state always wins in the store.
    pub(super) fn state_to_save(
        &mut self,
        stopping: bool,
    ) -> Option<impl std::future::Future<Output = ()>> {
        let behind = self.state.seq.saturating_sub(self.state_saved);
        if !self.healthy || behind == 0 || (!stopping && behind < self.replicas.state_every) {
            return None;
        }
        let stored = wire::state_out(&self.state, &self.requests, &self.revoked);
        let data = serde_json::to_vec(&stored).ok()?;
        self.state_saved = self.state.seq;
        let (store, id, seq) = (self.store.clone(), self.id.clone(), self.state.seq);
        let metrics = self.metrics.clone();
        Some(async move {
            match store.save_state(&id, seq, data).await {
                Ok(()) => {
                    metrics.states_stored.inc();
                }
                Err(e) => warn!(error = %e, seq, "state not stored"),
            }
        })
    }
}
