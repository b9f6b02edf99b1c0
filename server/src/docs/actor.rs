//! The task that owns one live document: its `yrs::Doc`, awareness and connections. Updates
//! arriving together (a busy document's turns are paced to gather them) are checked, applied,
//! appended in one durable write, and only then relayed, merged into one update frame for
//! every connection that sent none of them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info_span, warn, Instrument};

use super::frames::{is_awareness_query, is_step1, merged};
use super::live::{Access, LiveDoc, Outcome};
use super::{close, DocConn, DocMsg, COMPACT_BYTES};
use crate::gateway::outbox::{Outbox, Refused};
use crate::gateway::socket::{Budgets, TokenBucket};
use crate::live::cluster::{follow_stream, FollowCheck, FOLLOW_BLOCK, FOLLOW_CHECK};
use crate::metrics::Metrics;
use crate::store::redis::RedisStore;
use crate::store::{DocAppend, Store, StoredVersion};

/// Updates between two snapshots: loading a document replays at most this many.
const COMPACT_EVERY: usize = 500;
/// A document nobody has open stays loaded this long.
const LINGER: Duration = Duration::from_secs(30);
/// Messages handled per turn: the updates among them share one durable write.
const MAX_BATCH: usize = 256;
/// Awareness relays of one connection: each update goes to every connection of the document
/// at once while its bucket has a token (bursts of 20, then 10 a second: a cursor that
/// follows typing or a drag). Past that its states are still kept, and go out coalesced, the
/// latest of each client once per `AWARENESS_TICK`, in one frame with every other deferred
/// state: a flood of updates costs the others a frame per tick, not one per update.
const AWARENESS_PER_SEC: f64 = 10.0;
const AWARENESS_BURST: f64 = 20.0;
const AWARENESS_TICK: Duration = Duration::from_millis(100);
/// Sync step 1 answers of one connection: four bytes (an empty state vector) ask for the
/// whole document. A stock provider sends one when it connects, and one at each
/// `resyncInterval` if it sets one: 10 at once, then one every 2 seconds; past that, no
/// answer (the client's next one will be).
const SYNCS_PER_SEC: f64 = 0.5;
const SYNC_BURST: f64 = 10.0;
/// What a participant may send to the document while they may not write, in bytes, all their
/// connections to it together (a reconnection does not refill it): a reader needs next to
/// nothing (its step 1, its awareness), and a stock editor left open goes on sending what its
/// user types, answered "read-only". Without it, a reader could have the server read and
/// decode frames of 2 MiB at the frame rate, for nothing. Past it, the connection is closed
/// 4429.
const READER_BYTES_PER_SEC: f64 = 64.0 * 1024.0;
const READER_BYTES_BURST: f64 = 4.0 * 1024.0 * 1024.0;
/// Connections of one participant to the document: each costs the server its sync step 1,
/// the awareness states held (up to 256 KiB), and fresh per-connection budgets (10 whole
/// documents asked at once). 40 at once (each of 4 places reconnecting ten times), then one a
/// second: a phone on a flaky network reconnects every few seconds at most. Past that, the
/// connection is closed 4429 before anything is sent.
pub const JOINS_PER_SEC: f64 = 1.0;
pub const JOIN_BURST: f64 = 40.0;
/// Under load, a turn starts no sooner than this long after the previous one for each
/// connection of the document, up to `MAX_PACE`: what arrives in between shares one durable
/// write and reaches each connection as one merged update (one wake-up, one system call)
/// instead of one of each per update. The more connections, the more a turn's fan-out costs
/// and the more updates a wait gathers; a small writing group keeps its latency, and a lone
/// update (a quiet document) is handled at once. docs/bench/drafting.md measures it.
const PACE_PER_CONNECTION: Duration = Duration::from_micros(100);
const MAX_PACE: Duration = Duration::from_millis(20);

struct Conn {
    participant: String,
    writable: bool,
    silent: bool,
    out: Outbox<Bytes>,
    /// Its awareness relays (`AWARENESS_PER_SEC`).
    aware: TokenBucket,
    /// Its sync step 1 answers (`SYNCS_PER_SEC`).
    syncs: TokenBucket,
}

pub struct DocActor {
    convention: String,
    name: String,
    store: Store,
    metrics: Arc<Metrics>,
    /// The document, its awareness and every budget on them.
    live: LiveDoc,
    conns: HashMap<u64, Conn>,
    /// Number of the last stored update.
    last: u64,
    /// Updates stored after the last snapshot, and their bytes (`COMPACT_EVERY`,
    /// `COMPACT_BYTES`).
    since_snapshot: usize,
    bytes_since_snapshot: usize,
    healthy: bool,
    /// yrs panicked while applying an update: reload the stored document.
    broken: bool,
    /// Connections found gone (or too slow) while sending: removed by `reap`.
    dead: Vec<u64>,
    /// Cluster mode: numbers of the updates this node stored (the follower reads them back).
    own: BTreeSet<u64>,
    /// Cluster mode: every stored update up to this number is applied here and relayed. The
    /// follower reads after it: never after `last`, which this node's own appends move past
    /// other nodes' updates it has not read yet.
    followed: u64,
    followed_tx: watch::Sender<u64>,
    /// When the next turn may start (see `PACE_PER_CONNECTION`).
    next_turn: tokio::time::Instant,
    /// Awareness clients whose latest state waits for the next coalesced relay, and when
    /// that may go (`AWARENESS_TICK` after the last).
    deferred: BTreeSet<yrs::ClientID>,
    next_awareness: tokio::time::Instant,
    /// Connections each participant opened lately (`JOINS_PER_SEC`): at most the roster.
    joins: Budgets<String>,
    /// The bytes each participant may still send while they may not write
    /// (`READER_BYTES_PER_SEC`): at most the roster.
    read_only: Budgets<String>,
    /// The convention is deleted (`DocMsg::Delete`): whom to answer once stopped.
    deleted: Option<tokio::sync::oneshot::Sender<()>>,
}

impl DocActor {
    pub fn new(convention: String, name: String, store: Store, metrics: Arc<Metrics>) -> Self {
        DocActor {
            convention,
            name,
            store,
            metrics,
            live: LiveDoc::empty(),
            conns: HashMap::new(),
            last: 0,
            since_snapshot: 0,
            bytes_since_snapshot: 0,
            healthy: false,
            broken: false,
            dead: Vec::new(),
            own: BTreeSet::new(),
            followed: 0,
            followed_tx: watch::channel(0).0,
            next_turn: tokio::time::Instant::now(),
            deferred: BTreeSet::new(),
            next_awareness: tokio::time::Instant::now(),
            joins: Budgets::new(JOINS_PER_SEC, JOIN_BURST, 4096),
            read_only: Budgets::new(READER_BYTES_PER_SEC, READER_BYTES_BURST, 4096),
            deleted: None,
        }
    }

    pub fn convention(&self) -> &str {
        &self.convention
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn pace(&self) -> Duration {
        (PACE_PER_CONNECTION * self.conns.len() as u32).min(MAX_PACE)
    }

    /// Rebuild the document from its snapshot and the updates after it.
    async fn load(&mut self) -> Result<(), String> {
        let loaded = self
            .store
            .doc_load(&self.convention, &self.name)
            .await
            .map_err(|e| e.to_string())?;
        let parts = loaded
            .snapshot
            .iter()
            .map(|(_, d)| d.as_slice())
            .chain(loaded.updates.iter().map(|(_, d)| d.as_slice()));
        self.live = LiveDoc::load(parts)?;
        // A reload (after a failed write) keeps the connections that stay.
        for (id, c) in &self.conns {
            self.live.register(*id, &c.participant);
        }
        self.last = loaded
            .updates
            .last()
            .map(|(n, _)| *n)
            .or(loaded.snapshot.as_ref().map(|(n, _)| *n))
            .unwrap_or(0);
        self.since_snapshot = loaded.updates.len();
        self.bytes_since_snapshot = loaded.updates.iter().map(|(_, u)| u.len()).sum();
        self.followed = self.last;
        self.own.clear();
        self.followed_tx.send_replace(self.followed);
        Ok(())
    }

    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<DocMsg>,
        me: mpsc::WeakSender<DocMsg>,
        cancel: CancellationToken,
    ) {
        let span = info_span!("document", convention = %self.convention, name = %self.name);
        async move {
            match self.load().await {
                Ok(()) => self.healthy = true,
                Err(e) => warn!(error = %e, "document could not be loaded"),
            }
            let helpers = cancel.child_token();
            let _helpers_stop = helpers.clone().drop_guard(); // a panic stops them too
            if let Store::Redis(redis) = &self.store {
                follow(
                    redis.clone(),
                    self.convention.clone(),
                    self.name.clone(),
                    self.followed_tx.subscribe(),
                    me,
                    helpers.clone(),
                );
            }
            let mut follow_check = tokio::time::interval(FOLLOW_CHECK);
            follow_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut at_check = FollowCheck::new(self.followed);
            loop {
                let idle = self.conns.is_empty();
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    _ = follow_check.tick(), if self.store.is_shared() && !idle => {
                        self.check_followed(&mut at_check).await;
                    }
                    _ = tokio::time::sleep_until(self.next_awareness), if !self.deferred.is_empty() => {
                        self.relay_deferred();
                        self.reap();
                    }
                    msg = inbox.recv() => {
                        let Some(first) = msg else { break };
                        if tokio::time::Instant::now() < self.next_turn {
                            tokio::select! {
                                biased;
                                _ = cancel.cancelled() => {}
                                _ = tokio::time::sleep_until(self.next_turn) => {}
                            }
                        }
                        self.next_turn = tokio::time::Instant::now() + self.pace();
                        self.handle(crate::live::with_waiting(first, &mut inbox, MAX_BATCH)).await;
                        self.reap();
                        if self.deleted.is_some() {
                            break;
                        }
                    }
                    _ = tokio::time::sleep(LINGER), if idle => {
                        inbox.close();
                        // Serve what was sent before the close, then go.
                        let mut rest = Vec::new();
                        while let Ok(m) = inbox.try_recv() {
                            rest.push(m);
                        }
                        let reopened = rest.iter().any(|m| matches!(m, DocMsg::Join(_)));
                        self.handle(rest).await;
                        if !reopened {
                            break;
                        }
                    }
                }
            }
            helpers.cancel();
            if let Some(done) = self.deleted.take() {
                // Deleted: what it accepted is stored (the turn flushed it), nothing more is
                // written (no compaction), what waits is dropped.
                inbox.close();
                while let Ok(msg) = inbox.try_recv() {
                    if let DocMsg::Join(c) = msg {
                        c.out.close(close::DELETED, "the convention was deleted");
                    }
                }
                for (_, c) in self.conns.drain() {
                    c.out.close(close::DELETED, "the convention was deleted");
                }
                let _ = done.send(());
                return;
            }
            self.compact().await;
            for (_, c) in self.conns.drain() {
                c.out
                    .close(convene_protocol::close::GOING_AWAY, "server shutting down");
            }
        }
        .instrument(span)
        .await
    }

    async fn handle(&mut self, msgs: Vec<DocMsg>) {
        // Updates accepted in this turn: (connection, update bytes, frame to relay).
        let mut pending: Vec<(u64, Vec<u8>, Bytes)> = Vec::new();
        for msg in msgs {
            if self.deleted.is_some() {
                // After the deletion: nothing more is stored; a join is told at once.
                if let DocMsg::Join(c) = msg {
                    c.out.close(close::DELETED, "the convention was deleted");
                }
                continue;
            }
            match msg {
                DocMsg::Frame { conn, data } => {
                    // A step 2 must hold only stored updates: store this turn's first.
                    if is_step1(&data) && !pending.is_empty() {
                        self.flush(&mut pending).await;
                    }
                    self.frame(conn, data, &mut pending);
                    if self.broken {
                        self.flush(&mut pending).await;
                        self.recover().await;
                    } else if self.bytes_since_snapshot < COMPACT_BYTES
                        && self.bytes_since_snapshot + pending_bytes(&pending) >= COMPACT_BYTES
                    {
                        // Store (and compact) now: a turn of 256 large frames must not pile
                        // up in the store before its compaction. (Not again while a failed
                        // compaction leaves the store past it: the turn's end tries again.)
                        self.flush(&mut pending).await;
                    }
                }
                other => {
                    self.flush(&mut pending).await;
                    match other {
                        DocMsg::Join(c) => self.join(c),
                        DocMsg::Leave { conn } => self.leave(conn),
                        DocMsg::Writers(writers) => {
                            let step1 = self.live.step1();
                            let mut now_writers = Vec::new();
                            for (id, c) in self.conns.iter_mut() {
                                let writable = writers.contains(&c.participant);
                                if writable && !c.writable {
                                    now_writers.push(*id);
                                }
                                c.writable = writable;
                            }
                            // What they typed while read-only was refused: ask for it again.
                            if self.live.read_only() {
                                now_writers.clear();
                            }
                            for id in now_writers {
                                self.send(id, &step1);
                            }
                        }
                        DocMsg::Revoke(participant) => {
                            self.kick_participant(
                                &participant,
                                close::REVOKED,
                                "invitation revoked",
                            );
                        }
                        DocMsg::Remove(participant) => {
                            self.kick_participant(
                                &participant,
                                close::REMOVED,
                                "removed from the convention",
                            );
                        }
                        DocMsg::Capture {
                            version,
                            label,
                            at,
                            reply,
                        } => {
                            let data = self.live.full_state().to_vec();
                            let v = StoredVersion {
                                version,
                                label,
                                at,
                                data,
                            };
                            let _ = reply.send(
                                self.store
                                    .version_save(&self.convention, &self.name, v)
                                    .await,
                            );
                        }
                        DocMsg::Read(f) => f(self.live.doc()),
                        DocMsg::Current(reply) => {
                            let _ = reply.send(self.live.current());
                        }
                        DocMsg::Remote(updates) => self.remote(updates).await,
                        DocMsg::Delete(done) => self.deleted = Some(done),
                        DocMsg::Frame { .. } => unreachable!("handled above"),
                    }
                }
            }
        }
        self.flush(&mut pending).await;
    }

    fn join(&mut self, c: DocConn) {
        if !self.healthy {
            c.out
                .close(convene_protocol::close::INTERNAL, "document unavailable");
            return;
        }
        // Before anything is sent: reconnecting in a loop must not cost the document each time.
        if !self.joins.take(c.participant.clone()) {
            c.out
                .close(close::RATE_LIMITED, "reconnected too often: wait a second");
            return;
        }
        // Our sync step 1, then (in their own frames) the awareness states and why the
        // connection may not write, if so. A fresh queue has room for them.
        for frame in self.live.join(c.id, &c.participant, c.writable) {
            let _ = c.out.try_send(frame);
        }
        self.metrics.doc_connections.inc();
        let participant = c.participant.clone();
        self.conns.insert(
            c.id,
            Conn {
                participant: c.participant,
                writable: c.writable,
                silent: c.silent,
                out: c.out,
                aware: TokenBucket::new(AWARENESS_PER_SEC, AWARENESS_BURST),
                syncs: TokenBucket::new(SYNCS_PER_SEC, SYNC_BURST),
            },
        );
        // One invitation, a few places at once (as on /ws): past the limit, the oldest
        // connection goes (connection ids grow with time).
        let mut mine: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, k)| k.participant == participant)
            .map(|(id, _)| *id)
            .collect();
        if mine.len() > convene_protocol::MAX_CONNECTIONS_PER_TOKEN {
            mine.sort_unstable();
            let over = mine.len() - convene_protocol::MAX_CONNECTIONS_PER_TOKEN;
            for id in &mine[..over] {
                self.metrics.token_evictions.inc();
                self.kick(
                    *id,
                    close::TOO_MANY_CONNECTIONS,
                    "this invitation has this document open in too many places",
                );
            }
        }
    }

    fn leave(&mut self, id: u64) {
        if self.conns.remove(&id).is_none() {
            return;
        }
        self.metrics.doc_connections.dec();
        // Their cursors and names go: tell the others.
        if let Some(frame) = self.live.leave(id) {
            self.broadcast(None, &frame);
        }
    }

    /// Close every connection of `participant` to this document.
    fn kick_participant(&mut self, participant: &str, code: u16, reason: &'static str) {
        let gone: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.participant == participant)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.kick(id, code, reason);
        }
    }

    fn kick(&mut self, id: u64, code: u16, reason: &'static str) {
        if let Some(c) = self.conns.get(&id) {
            c.out.close(code, reason);
        }
        self.leave(id);
    }

    fn send(&mut self, id: u64, frame: &Bytes) {
        let Some(c) = self.conns.get(&id) else { return };
        match c.out.try_send(frame.clone()) {
            Ok(()) => {
                self.metrics.doc_deliveries.inc();
            }
            Err(Refused::Full) => {
                self.metrics.slow_consumers.inc();
                c.out.close(
                    convene_protocol::close::SLOW_CONSUMER,
                    "too slow: reconnect to resync",
                );
                self.dead.push(id);
            }
            Err(Refused::Closed) => self.dead.push(id),
        }
    }

    /// Remove the connections found gone while sending, iteratively (a departure's
    /// awareness removal may find more).
    fn reap(&mut self) {
        while let Some(id) = self.dead.pop() {
            self.leave(id);
        }
    }

    fn broadcast(&mut self, except: Option<u64>, frame: &Bytes) {
        let ids: Vec<u64> = self
            .conns
            .keys()
            .copied()
            .filter(|id| Some(*id) != except)
            .collect();
        for id in ids {
            self.send(id, frame);
        }
    }

    /// The latest states of the deferred awareness clients, in one frame to everyone.
    fn relay_deferred(&mut self) {
        let clients = std::mem::take(&mut self.deferred);
        self.next_awareness = tokio::time::Instant::now() + AWARENESS_TICK;
        if let Some(frame) = self.live.awareness_of(clients) {
            self.broadcast(None, &frame);
        }
    }

    /// One y-protocols message from a connection: `LiveDoc` decides, this sends.
    fn frame(&mut self, id: u64, data: Bytes, pending: &mut Vec<(u64, Vec<u8>, Bytes)>) {
        let Some(access) = self.conns.get(&id).map(|c| Access {
            writable: c.writable,
            silent: c.silent,
        }) else {
            return;
        };
        if !access.writable
            && !self.conns.get(&id).is_some_and(|c| {
                self.read_only
                    .take_n(c.participant.clone(), data.len() as f64)
            })
        {
            return self.kick(id, close::RATE_LIMITED, "a reader sends too much");
        }
        // A query awareness (one byte) is answered with every state held: it takes from the
        // connection's awareness budget, and past it gets no answer (stock providers do not
        // send it; their states come at joining and with every change).
        if is_awareness_query(&data) && !self.conns.get_mut(&id).is_some_and(|c| c.aware.take()) {
            return;
        }
        if is_step1(&data) && !self.conns.get_mut(&id).is_some_and(|c| c.syncs.take()) {
            return;
        }
        match self.live.frame(id, access, data) {
            Outcome::Nothing => {}
            Outcome::Reply(frame) => self.send(id, &frame),
            Outcome::Update { update, relay } => pending.push((id, update, relay)),
            Outcome::Awareness { frame, clients } => {
                // To everyone, the sender too (as the reference y-websocket server does): a
                // lone editor then hears from the server and its provider keeps the
                // connection. Now within the sender's budget, else with the next tick's.
                let now = self.conns.get_mut(&id).is_some_and(|c| c.aware.take());
                if now {
                    for c in &clients {
                        self.deferred.remove(c);
                    }
                    self.broadcast(None, &frame);
                } else {
                    self.deferred.extend(clients);
                }
            }
            Outcome::Close {
                code,
                reason,
                before,
            } => {
                if let Some(frame) = before {
                    self.send(id, &frame);
                }
                self.kick(id, code, reason);
            }
            Outcome::Broken => {
                // A panic inside yrs may leave the document half-changed: the stored one is
                // the truth.
                self.broken = true;
                self.kick(id, close::MALFORMED, "update does not apply");
            }
        }
    }

    /// Make this turn's updates durable, then relay them. If the store fails, the document
    /// goes back to what is stored and the senders are closed: they resync and send again.
    async fn flush(&mut self, pending: &mut Vec<(u64, Vec<u8>, Bytes)>) {
        if pending.is_empty() {
            return;
        }
        let batch = std::mem::take(pending);
        let append = DocAppend {
            convention: self.convention.clone(),
            doc: self.name.clone(),
            updates: batch.iter().map(|(_, u, _)| u.clone()).collect(),
        };
        match self.store.doc_append(append).await {
            Ok(last) => {
                let first = last + 1 - batch.len() as u64;
                if self.store.is_shared() && first <= self.followed {
                    // The store numbered after less than this node has read: it lost updates
                    // (a Redis restarted empty). Load what it holds; every connection
                    // resyncs and sends back what the store lacks.
                    warn!(
                        first,
                        followed = self.followed,
                        "document numbers went back"
                    );
                    return self.recover().await;
                }
                if self.store.is_shared() {
                    self.own.extend(first..=last);
                }
                self.last = self.last.max(last);
                self.since_snapshot += batch.len();
                self.bytes_since_snapshot += pending_bytes(&batch);
                self.metrics.doc_updates.inc_by(batch.len() as u64);
                self.relay(&batch);
                if self.since_snapshot >= COMPACT_EVERY
                    || self.bytes_since_snapshot >= COMPACT_BYTES
                {
                    self.compact().await;
                }
            }
            Err(e) => {
                warn!(error = %e, "document updates could not be stored; reloading");
                // The connections that stay had the document as relayed so far; the reload
                // may hold more (other nodes' updates not read yet): they get the difference.
                let relayed = self.live.state_vector();
                match self.load().await {
                    Ok(()) => {
                        let frame = self.live.update_since(&relayed);
                        self.broadcast(None, &frame);
                    }
                    Err(e) => {
                        warn!(error = %e, "document reload failed");
                        self.healthy = false;
                    }
                }
                let senders: BTreeSet<u64> = batch.iter().map(|(id, _, _)| *id).collect();
                for id in senders {
                    self.kick(
                        id,
                        convene_protocol::close::INTERNAL,
                        "not stored: reconnect and resend",
                    );
                }
            }
        }
    }

    /// Relay a turn's stored updates, never to their sender: a connection that sent none of
    /// them gets them merged into one update frame (Yjs's `mergeUpdates`: one frame to write
    /// and one update for the client to apply); a sender, the others' frames as they came.
    fn relay(&mut self, batch: &[(u64, Vec<u8>, Bytes)]) {
        let origins: BTreeSet<u64> = batch.iter().map(|(o, ..)| *o).collect();
        let for_listeners = match merged(batch) {
            Some(frame) => vec![frame],
            None => batch.iter().map(|(_, _, f)| f.clone()).collect(),
        };
        let listeners: Vec<u64> = self
            .conns
            .keys()
            .copied()
            .filter(|id| !origins.contains(id))
            .collect();
        for id in listeners {
            for frame in &for_listeners {
                self.send(id, frame);
            }
        }
        for o in origins {
            for (_, _, frame) in batch.iter().filter(|(origin, ..)| *origin != o) {
                self.send(o, frame);
            }
        }
    }

    /// Updates the follower read, in stored order: apply and relay to every connection here
    /// those another node stored. Numbers are gapless: a gap means a compaction trimmed
    /// updates this node had not read, and the stored document fills it.
    async fn remote(&mut self, updates: Vec<(u64, Vec<u8>)>) {
        for (n, update) in updates {
            if n > self.followed + 1 && !self.catch_up().await {
                break; // the follower reads again after `followed`
            }
            if n <= self.followed {
                continue;
            }
            self.take_in(n, &update);
        }
        self.followed_tx.send_replace(self.followed);
    }

    /// Cluster mode: if the store was ahead at the last check and nothing came in since, read
    /// what is missing here (and say so: the follower should have brought it).
    async fn check_followed(&mut self, at_check: &mut FollowCheck) {
        let Store::Redis(redis) = &self.store else {
            return;
        };
        let last = redis.doc_last(&self.convention, &self.name);
        if at_check.behind(self.followed, last, "document").await {
            self.catch_up().await;
        }
    }

    /// Stored update `n`, the one after `followed`: applied and relayed unless it is ours.
    fn take_in(&mut self, n: u64, update: &[u8]) {
        self.followed = n;
        self.last = self.last.max(n);
        if self.own.remove(&n) {
            return; // ours, already applied, relayed and counted
        }
        // Stored, whether or not it changes anything here.
        self.bytes_since_snapshot += update.len();
        if let Some(frame) = self.live.absorb(update) {
            self.since_snapshot += 1;
            self.broadcast(None, &frame);
        }
    }

    /// Cluster mode: apply and relay everything stored beyond `followed` (the store reads
    /// the snapshot and the updates after it at once). A snapshot beyond `followed` is
    /// applied and its difference relayed (the whole document would be one large frame per
    /// connection). False if the store could not be read, or does not follow on (it lost
    /// updates): the follower's next read tries again.
    async fn catch_up(&mut self) -> bool {
        let stored = match self.store.doc_load(&self.convention, &self.name).await {
            Ok(stored) => stored,
            Err(e) => {
                warn!(error = %e, "document updates from other nodes not read");
                return false;
            }
        };
        let stored_bytes = stored.updates.iter().map(|(_, u)| u.len()).sum::<usize>();
        let stored_size = stored.snapshot.as_ref().map_or(0, |(_, d)| d.len()) + stored_bytes;
        let stored_updates = stored.updates.len();
        let mut took_snapshot = false;
        if let Some((upto, data)) = stored.snapshot.filter(|(upto, _)| *upto > self.followed) {
            let relayed = self.live.state_vector();
            if self.live.absorb(&data).is_some() {
                let frame = self.live.update_since(&relayed);
                self.broadcast(None, &frame);
            }
            self.followed = upto;
            self.last = self.last.max(upto);
            self.own = self.own.split_off(&(upto + 1));
            took_snapshot = true;
        }
        let mut whole = true;
        for (n, update) in stored.updates {
            if n > self.followed + 1 {
                warn!(
                    followed = self.followed,
                    next = n,
                    "stored document updates do not follow on"
                );
                whole = false;
                break;
            }
            if n > self.followed {
                self.take_in(n, &update);
            }
        }
        if took_snapshot {
            // As `load` counts: the snapshot and the updates after it.
            self.live.stored(stored_size);
            self.since_snapshot = stored_updates;
            self.bytes_since_snapshot = stored_bytes;
        }
        self.followed_tx.send_replace(self.followed);
        whole
    }

    /// Go back to the stored document after yrs panicked; connections resync.
    async fn recover(&mut self) {
        self.broken = false;
        if let Err(e) = self.load().await {
            warn!(error = %e, "document reload failed");
            self.healthy = false;
        }
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.kick(
                id,
                convene_protocol::close::INTERNAL,
                "document reloaded: reconnect",
            );
        }
    }

    /// Replace the stored updates by one snapshot.
    async fn compact(&mut self) {
        if self.since_snapshot == 0 || !self.healthy {
            return;
        }
        // Shared store: other nodes' updates may not all have reached us yet. Take in (and
        // relay) every stored update first, and snapshot up to them: the compaction trims
        // them, and a follower here reading after them would never see them.
        if self.store.is_shared() && !self.catch_up().await {
            return warn!("document compaction skipped");
        }
        if self.since_snapshot == 0 {
            return; // another node's snapshot, just taken in, holds everything
        }
        let snapshot = self.live.full_state().to_vec();
        let len = snapshot.len();
        match self
            .store
            .doc_compact(&self.convention, &self.name, self.last, snapshot)
            .await
        {
            Ok(()) => {
                self.since_snapshot = 0;
                self.bytes_since_snapshot = 0;
                self.live.compacted(len);
            }
            Err(e) => warn!(error = %e, "document compaction failed"),
        }
    }
}

/// The bytes of a turn's updates.
fn pending_bytes(batch: &[(u64, Vec<u8>, Bytes)]) -> usize {
    batch.iter().map(|(_, u, _)| u.len()).sum()
}

/// Cluster mode: read the updates other nodes store, after the last one seen here.
fn follow(
    store: RedisStore,
    convention: String,
    name: String,
    after: watch::Receiver<u64>,
    inbox: mpsc::WeakSender<DocMsg>,
    cancel: CancellationToken,
) {
    follow_stream(
        store,
        after,
        inbox,
        cancel,
        move |mut con, from| {
            let (convention, name) = (convention.clone(), name.clone());
            async move {
                RedisStore::wait_doc_updates(&mut con, &convention, &name, from, FOLLOW_BLOCK).await
            }
        },
        |(n, _)| *n,
        DocMsg::Remote,
    );
}
