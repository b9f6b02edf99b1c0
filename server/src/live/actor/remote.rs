//! Cluster mode: what other nodes appended, taken in (from the follower, or read here when a
//! join or the follower's check needs it).

use super::*;

use crate::live::cluster::{FollowCheck, READ_IN_TASK};

impl Actor {
    /// Records another node appended: apply those after ours, in order, and fan them out.
    pub(super) async fn apply_remote(&mut self, incoming: Vec<p::Record>) {
        // Other nodes' records are durable: nothing of them is ever undone (and the journal of
        // a batch that went through ends here, not growing with the log while none is decided).
        self.requests.end();
        let rooms_before = self.state.location.clone();
        let mut records = Vec::new();
        let mut audit = Vec::new();
        let gap = self.take_remote(incoming, &mut records, &mut audit);
        if self.ballots_retry.is_some()
            || records
                .iter()
                .any(|(r, _)| matches!(r.event, d::Event::VoterMarked { .. }))
        {
            self.refresh_ballots(&mut records, &mut audit).await;
        }
        if !records.is_empty() {
            self.publish(&records, &audit, &rooms_before).await;
        }
        if gap {
            Box::pin(self.catch_up()).await;
        }
    }

    /// Take the records after ours, in order; whether one was missing before the rest.
    pub(super) fn take_remote(
        &mut self,
        incoming: Vec<p::Record>,
        records: &mut Vec<(d::Record, Audience)>,
        audit: &mut Vec<p::AuditEntry>,
    ) -> bool {
        for r in incoming {
            if r.seq <= self.state.seq {
                continue; // ours, or already seen
            }
            if r.seq != self.state.seq + 1 {
                return true;
            }
            self.take(wire::record_in(r), records, audit);
        }
        false
    }

    /// Cluster mode: if the log was ahead of this replica at the last check and nothing came
    /// in since, read it here (and say so: the follower should have brought it).
    pub(super) async fn check_followed(&mut self, at_check: &mut FollowCheck) {
        let Store::Redis(redis) = &self.store else {
            return;
        };
        let last = redis.log_last(&self.id);
        if at_check.behind(self.state.seq, last, "convention").await {
            self.catch_up().await;
        }
    }

    /// Cluster mode: `catch_up` for a client whose `last_seq` is ahead of this replica, with
    /// its read bounded (`READ_IN_TASK`): the task serves everyone else meanwhile. After a
    /// failure, the joins of the next `READ_IN_TASK` are refused without reading again (a
    /// store in trouble is not asked once per client retrying).
    pub(super) async fn catch_up_for_join(&mut self) -> bool {
        if self
            .catch_up_failed
            .is_some_and(|at| at.elapsed() < READ_IN_TASK)
        {
            return false;
        }
        let ok = self.catch_up_within(Some(READ_IN_TASK)).await;
        self.catch_up_failed = (!ok).then(Instant::now);
        ok
    }

    /// Read and apply what other nodes appended since our last record; whether the log could
    /// be read.
    pub(super) async fn catch_up(&mut self) -> bool {
        self.catch_up_within(None).await
    }

    /// `catch_up`, its read given up after `limit` (the apply is never cut short).
    pub(super) async fn catch_up_within(&mut self, limit: Option<Duration>) -> bool {
        let read = self.store.records_after(&self.id, self.state.seq);
        let read = match limit {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .unwrap_or_else(|_| Err(StoreError::Unavailable("not read in time".into()))),
            None => read.await,
        };
        match read {
            Ok(records) => {
                if !records.is_empty() {
                    Box::pin(self.apply_remote(records)).await;
                }
                true
            }
            Err(e) => {
                warn!(error = %e, "catching up failed");
                false
            }
        }
    }
}
