//! Taking a convention up from the store (its latest stored state, then the log after it),
//! the indexes kept in step with the records (invitation tokens, answered requests), and the
//! state written back every `state_every` events.

use super::*;

impl Actor {
    /// Fold the secret ballot box (events without a place in the log) into the state.
    pub(super) fn fold_ballots(&mut self, ballots: Vec<p::Event>) {
        for event in ballots {
            self.state.apply(&d::Record {
                seq: 0,
                at: 0,
                actor: d::Actor::Timer,
                event: wire::event_in(event),
                request: None,
            });
        }
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
        self.revoked = task.revoked;
        self.by_hash = self
            .state
            .invites
            .iter()
            .map(|(who, hash)| (hash.clone(), who.clone()))
            .collect();
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
        self.fold_ballots(loaded.ballots);
        self.audit_head = loaded.audit_head.unwrap_or((0, audit::GENESIS.to_string()));
        Ok(())
    }

    /// Keep the token index in step with invitation events (before they are applied).
    pub(super) fn track_invites(&mut self, event: &d::Event) {
        match event {
            d::Event::InviteIssued {
                participant,
                token_hash,
            } => {
                if let Some(old) = self.state.invites.get(participant) {
                    self.by_hash.remove(old);
                    self.revoked.insert(old.clone());
                }
                self.by_hash.insert(token_hash.clone(), participant.clone());
            }
            d::Event::InviteRevoked { participant } => {
                if let Some(old) = self.state.invites.get(participant) {
                    self.by_hash.remove(old);
                    self.revoked.insert(old.clone());
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
