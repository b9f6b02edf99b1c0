//! A batch of commands: decided against the state, appended durably (again, after catching
//! up, when another node appended first), then applied, fanned out and answered.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_protocol::{self as p, ServerMessage};
use tracing::warn;

#[cfg(debug_assertions)]
use super::TEST_PANIC_TRIGGER;
use super::{encode, now_ms, Actor, Outcome, Pending, ReplyTo};
use crate::audit;
use crate::domain::{self as d, Convention};
use crate::live::view::{self, Audience};
use crate::live::CommandError;
use crate::store::{Append, Store, StoreError};
use crate::wire;

/// Tries of one batch when other nodes keep appending first (each try catches up first, so a
/// burst from every node settles; 8 was seen to run out under a 150-ballot burst on 3 nodes).
const MAX_ATTEMPTS: usize = 32;

/// What a batch may have to undo in cluster mode (the answered requests are not copied: their journal,
/// begun with the checkpoint, is rolled back).
struct Checkpoint {
    state: Convention,
    audit_head: (u64, String),
    by_hash: Arc<HashMap<String, String>>,
    revoked: Arc<HashSet<String>>,
}

/// A batch once decided.
#[derive(Default)]
struct Decided {
    records: Vec<(d::Record, Audience)>,
    audit: Vec<p::AuditEntry>,
    boxed: Vec<p::Event>,
    outcomes: Vec<Outcome>,
}

/// A batch none of which was made durable: what succeeded is answered `unavailable`, why.
fn unavailable(outcomes: Vec<Outcome>, why: &str) -> Vec<Outcome> {
    outcomes
        .into_iter()
        .map(|o| o.and(Err(CommandError::Unavailable(why.to_string()))))
        .collect()
}

impl Actor {
    /// What a batch may have to undo when another node appended first.
    fn checkpoint(&mut self) -> Checkpoint {
        self.requests.begin();
        Checkpoint {
            state: self.state.clone(),
            audit_head: self.audit_head.clone(),
            by_hash: self.by_hash.clone(),
            revoked: self.revoked.clone(),
        }
    }

    fn restore(&mut self, c: Checkpoint) {
        self.state = c.state;
        self.audit_head = c.audit_head;
        self.by_hash = c.by_hash;
        self.revoked = c.revoked;
        self.requests.rollback();
    }

    /// Decide a batch against the state, applying it speculatively. Returns the records, the
    /// audit entries and secret ballots they carry, and each command's outcome, in order.
    fn decide_batch(&mut self, batch: &[Pending]) -> Decided {
        let before = self.state.seq;
        let now = now_ms();
        let mut d = Decided::default();
        let refused = !self.healthy || (!self.state.exists() && before > 0);
        for pend in batch {
            if refused {
                d.outcomes.push(Err(CommandError::Unavailable(
                    "the convention's log could not be loaded".into(),
                )));
                continue;
            }
            if let Some(seq) = self.done_before(pend) {
                let at = d.records.len();
                d.outcomes.push(Ok((seq, at, at)));
                continue;
            }
            let request = match &pend.reply {
                ReplyTo::Conn { id, .. } => Some(id.clone()),
                ReplyTo::Http(_) | ReplyTo::Nobody => None,
            };
            // Debug builds only: the end-to-end test of the hub's supervision needs a task
            // that fails on demand (tests/tests/hardening.rs).
            #[cfg(debug_assertions)]
            if matches!(&pend.command, d::Command::SendChat { text, .. } if text == TEST_PANIC_TRIGGER)
            {
                panic!("a convention task failing on purpose (debug build, test trigger)");
            }
            let ctx = d::Context {
                now,
                seed: rand::random(),
                present: &self.present,
            };
            match d::decide(&self.state, &pend.actor, &pend.command, &ctx) {
                Ok(events) => {
                    let from = d.records.len();
                    for event in events {
                        if let d::Event::SecretBallotCast { .. } = &event {
                            // To the ballot box: no seq, no time, no voter, no audit.
                            let record = d::Record {
                                seq: 0,
                                at: 0,
                                actor: d::Actor::Timer,
                                event,
                                request: None,
                            };
                            self.state.apply(&record);
                            d.boxed.push(wire::event_out(&record.event));
                            continue;
                        }
                        let record = d::Record {
                            seq: self.state.seq + 1,
                            at: now,
                            actor: pend.actor.clone(),
                            event,
                            request: request.clone(),
                        };
                        self.take(record, &mut d.records, &mut d.audit);
                    }
                    d.outcomes.push(Ok((self.state.seq, from, d.records.len())));
                }
                Err(rejection) => d.outcomes.push(Err(CommandError::Rejected(rejection))),
            }
        }
        d
    }

    /// Apply one record of the log (decided here or read from the store): its audience, its
    /// audit entry, the token and request indexes, the state.
    pub(super) fn take(
        &mut self,
        record: d::Record,
        records: &mut Vec<(d::Record, Audience)>,
        audit: &mut Vec<p::AuditEntry>,
    ) {
        let audience = view::audience(&self.state, &record);
        if audit::audited(&self.state, &record) {
            let entry = audit::entry(
                self.audit_head.0 + 1,
                &self.audit_head.1,
                &wire::record_out(&record),
            );
            self.audit_head = (entry.n, entry.hash.clone());
            audit.push(entry);
        }
        self.track_invites(&record.event);
        self.track_request(&record);
        self.state.apply(&record);
        records.push((record, audience));
    }

    pub(super) async fn run_batch(&mut self, mut batch: Vec<Pending>) {
        self.metrics.commands.inc_by(batch.len() as u64);
        for attempt in 1..=MAX_ATTEMPTS {
            let before = self.state.seq;
            let rooms_before = self.state.location.clone();
            // Only a shared store can refuse an append because someone else wrote first.
            let checkpoint = self.store.is_shared().then(|| self.checkpoint());
            let mut d = self.decide_batch(&batch);
            if d.records.is_empty() {
                // A refusal decided on a replica a moment behind the log would be wrong (a
                // vote for a poll another node has just opened), and with nothing to append
                // no conflict tells us so: look at the log before refusing.
                let refused = d
                    .outcomes
                    .iter()
                    .any(|o| matches!(o, Err(CommandError::Rejected(_))));
                if let Some(c) = checkpoint.filter(|_| refused && attempt < MAX_ATTEMPTS) {
                    match self.store.records_after(&self.id, before).await {
                        Ok(newer) if !newer.is_empty() => {
                            self.restore(c);
                            self.apply_remote(newer).await;
                            continue;
                        }
                        Ok(_) => {}
                        Err(e) => warn!(error = %e, "could not check the log before refusing"),
                    }
                }
                return self.reply_all(batch, d.outcomes, &[]);
            }
            // The box unread (see `ballots_retry`): it is read again first; if it still cannot
            // be, a secret poll's close waits (its logged result would lack ballots cast on
            // other nodes).
            if self.ballots_retry.is_some() && self.closes_secret_poll(&d.records) {
                if let Some(c) = checkpoint {
                    self.restore(c);
                }
                self.apply_remote(Vec::new()).await;
                if self.ballots_retry.is_none() && attempt < MAX_ATTEMPTS {
                    continue;
                }
                let why = "the ballot box cannot be read: a secret poll closes once it is";
                return self.reply_all(batch, unavailable(d.outcomes, why), &[]);
            }
            let started = Instant::now();
            let append = Append {
                convention: self.id.clone(),
                expected: before,
                records: d.records.iter().map(|(r, _)| wire::record_out(r)).collect(),
                audit: d.audit.clone(),
                ballots: std::mem::take(&mut d.boxed),
                // A secret poll that closes has its ballots sealed in the same write: no trace
                // of the order they were cast in stays in the store.
                seal: d
                    .records
                    .iter()
                    .filter_map(|(r, _)| match &r.event {
                        d::Event::PollClosed { poll, .. } => self
                            .state
                            .polls
                            .get(poll)
                            .filter(|p| p.spec.secret)
                            .map(|p| p.id.clone()),
                        _ => None,
                    })
                    .collect(),
            };
            let result = self.store.append(append).await;
            self.metrics
                .append_seconds
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(()) => {
                    self.metrics.events.inc_by(d.records.len() as u64);
                    self.publish(&d.records, &d.audit, &rooms_before).await;
                    self.tell_follower(&d.records);
                    return self.reply_all(batch, d.outcomes, &d.records);
                }
                Err(StoreError::Conflict { .. })
                    if attempt < MAX_ATTEMPTS && checkpoint.is_some() =>
                {
                    // Another node appended first: undo, catch up, decide again. After the
                    // first loss in a row, a few ms at random first: nodes that keep racing
                    // (many commands on every node at once) fall out of step, instead of one
                    // losing every race until it gives up.
                    self.metrics.append_conflicts.inc();
                    if let Some(c) = checkpoint {
                        self.restore(c);
                    }
                    if attempt > 1 {
                        let ms = rand::random::<u64>() % (attempt.min(10) as u64 + 1);
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                    }
                    self.catch_up().await;
                }
                Err(e @ StoreError::AuditConflict { .. })
                    if attempt < MAX_ATTEMPTS && checkpoint.is_some() =>
                {
                    // The log was ours to extend but our audit head is not the trail's:
                    // nothing was written. Take the trail's head if the log still ends
                    // where this replica does (read at once), then decide again (if the log
                    // moved on, the next try catches up first).
                    warn!(error = %e, "audit head out of step with the trail");
                    self.metrics.append_conflicts.inc();
                    if let Some(c) = checkpoint {
                        self.restore(c);
                    }
                    if let Store::Redis(redis) = &self.store {
                        match redis.audit_head(&self.id).await {
                            Ok((seq, head)) if seq == self.state.seq => {
                                self.audit_head = head.unwrap_or((0, audit::GENESIS.to_string()));
                            }
                            Ok(_) => {}
                            Err(e) => warn!(error = %e, "audit trail not read"),
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "append failed; state reloaded from the store");
                    // Nothing of this batch is durable: forget it, reply "unavailable".
                    match checkpoint {
                        Some(c) => self.restore(c),
                        None => {
                            self.try_load().await;
                        }
                    }
                    let outcomes = unavailable(d.outcomes, &e.to_string());
                    return self.reply_all(std::mem::take(&mut batch), outcomes, &d.records);
                }
            }
        }
    }

    /// Whether these records close a secret poll.
    fn closes_secret_poll(&self, records: &[(d::Record, Audience)]) -> bool {
        records.iter().any(|(r, _)| {
            matches!(&r.event, d::Event::PollClosed { poll, .. }
                if self.state.polls.get(poll).is_some_and(|p| p.spec.secret))
        })
    }

    pub(super) fn reply_all(
        &mut self,
        batch: Vec<Pending>,
        outcomes: Vec<Outcome>,
        records: &[(d::Record, Audience)],
    ) {
        for (pend, outcome) in batch.into_iter().zip(outcomes) {
            self.reply(pend.reply, outcome, records);
        }
    }

    pub(super) fn reply(
        &mut self,
        to: ReplyTo,
        outcome: Outcome,
        records: &[(d::Record, Audience)],
    ) {
        if let Err(e) = &outcome {
            self.metrics.reject(e.code());
        }
        match to {
            ReplyTo::Http(tx) => {
                let _ = tx.send(outcome.map(|(_, from, to)| {
                    records[from..to].iter().map(|(r, _)| r.clone()).collect()
                }));
            }
            ReplyTo::Conn { conn, id } => {
                let msg = match outcome {
                    Ok((seq, _, _)) => ServerMessage::Ok { id, seq },
                    Err(e) => ServerMessage::Error {
                        id: Some(id),
                        code: e.code(),
                        message: e.to_string(),
                    },
                };
                self.send(conn, &encode(&msg));
            }
            ReplyTo::Nobody => {}
        }
    }
}
