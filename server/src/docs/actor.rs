//! The task that owns one live document: its `yrs::Doc`, awareness and connections. Updates
//! arriving together (a busy document's turns are paced to gather them) are checked, applied,
//! appended in one durable write, and only then relayed, merged into one update frame for
//! every connection that sent none of them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info_span, warn, Instrument};
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, Update};

use super::frames::{decode, decode_update, encode, is_step1, merged};
use super::{close, DocConn, DocMsg, MAX_DOCUMENT_BYTES};
use crate::metrics::Metrics;
use crate::store::redis::RedisStore;
use crate::store::{DocAppend, Store, StoredVersion};

/// Updates between two snapshots: loading a document replays at most this many.
const COMPACT_EVERY: usize = 500;
/// A document nobody has open stays loaded this long.
const LINGER: Duration = Duration::from_secs(30);
/// Messages handled per turn: the updates among them share one durable write.
const MAX_BATCH: usize = 256;
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
    out: mpsc::Sender<Bytes>,
    close: mpsc::Sender<(u16, &'static str)>,
    /// Awareness client ids this connection announced: removed when it closes.
    clients: HashSet<ClientID>,
}

pub struct DocActor {
    convention: String,
    name: String,
    store: Store,
    metrics: Arc<Metrics>,
    awareness: Awareness,
    conns: HashMap<u64, Conn>,
    /// Number of the last stored update.
    last: u64,
    since_snapshot: usize,
    /// Encoded size at the last snapshot plus the updates since: what the size limit counts.
    size: usize,
    healthy: bool,
    /// yrs panicked while applying an update: reload the stored document.
    broken: bool,
    /// Connections found gone (or too slow) while sending: removed by `reap`.
    dead: Vec<u64>,
    /// Cluster mode: numbers of the updates this node stored (the follower reads them back),
    /// and the last number seen, for the follower.
    own: BTreeSet<u64>,
    last_tx: watch::Sender<u64>,
    /// When the next turn may start (see `PACE_PER_CONNECTION`).
    next_turn: tokio::time::Instant,
}

impl DocActor {
    pub fn new(convention: String, name: String, store: Store, metrics: Arc<Metrics>) -> Self {
        DocActor {
            convention,
            name,
            store,
            metrics,
            awareness: Awareness::new(Doc::new()),
            conns: HashMap::new(),
            last: 0,
            since_snapshot: 0,
            size: 0,
            healthy: false,
            broken: false,
            dead: Vec::new(),
            own: BTreeSet::new(),
            last_tx: watch::channel(0).0,
            next_turn: tokio::time::Instant::now(),
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

    fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    /// Rebuild the document from its snapshot and the updates after it.
    async fn load(&mut self) -> Result<(), String> {
        let loaded = self
            .store
            .doc_load(&self.convention, &self.name)
            .await
            .map_err(|e| e.to_string())?;
        let doc = Doc::new();
        let mut size = 0;
        {
            let mut txn = doc.transact_mut();
            let parts = loaded
                .snapshot
                .iter()
                .map(|(_, d)| d)
                .chain(loaded.updates.iter().map(|(_, d)| d));
            for data in parts {
                size += data.len();
                let update = Update::decode_v1(data)
                    .map_err(|e| format!("stored update does not decode: {e}"))?;
                txn.apply_update(update)
                    .map_err(|e| format!("stored update does not apply: {e}"))?;
            }
        }
        self.last = loaded
            .updates
            .last()
            .map(|(n, _)| *n)
            .or(loaded.snapshot.as_ref().map(|(n, _)| *n))
            .unwrap_or(0);
        self.since_snapshot = loaded.updates.len();
        self.size = size;
        self.awareness = Awareness::new(doc);
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
            if let Store::Redis(redis) = &self.store {
                let _ = self.last_tx.send(self.last);
                follow(
                    redis.clone(),
                    self.convention.clone(),
                    self.name.clone(),
                    self.last_tx.subscribe(),
                    me,
                    helpers.clone(),
                );
            }
            loop {
                let idle = self.conns.is_empty();
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
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
            self.compact().await;
            for (_, c) in self.conns.drain() {
                let _ = c
                    .close
                    .try_send((convene_protocol::close::GOING_AWAY, "server shutting down"));
            }
        }
        .instrument(span)
        .await
    }

    async fn handle(&mut self, msgs: Vec<DocMsg>) {
        // Updates accepted in this turn: (connection, update bytes, frame to relay).
        let mut pending: Vec<(u64, Vec<u8>, Bytes)> = Vec::new();
        for msg in msgs {
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
                    }
                }
                other => {
                    self.flush(&mut pending).await;
                    match other {
                        DocMsg::Join(c) => self.join(c),
                        DocMsg::Leave { conn } => self.leave(conn),
                        DocMsg::Writers(writers) => {
                            let sv = self.doc().transact().state_vector();
                            let step1 = encode(&Message::Sync(SyncMessage::SyncStep1(sv)));
                            let mut now_writers = Vec::new();
                            for (id, c) in self.conns.iter_mut() {
                                let writable = writers.contains(&c.participant);
                                if writable && !c.writable {
                                    now_writers.push(*id);
                                }
                                c.writable = writable;
                            }
                            // What they typed while read-only was refused: ask for it again.
                            for id in now_writers {
                                self.send(id, &step1);
                            }
                        }
                        DocMsg::Revoke(participant) => {
                            let gone: Vec<u64> = self
                                .conns
                                .iter()
                                .filter(|(_, c)| c.participant == participant)
                                .map(|(id, _)| *id)
                                .collect();
                            for id in gone {
                                self.kick(id, close::REVOKED, "invitation revoked");
                            }
                        }
                        DocMsg::Capture {
                            version,
                            label,
                            at,
                            reply,
                        } => {
                            let data = self
                                .doc()
                                .transact()
                                .encode_state_as_update_v1(&StateVector::default());
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
                        DocMsg::Read(f) => f(self.doc()),
                        DocMsg::Remote(updates) => self.remote(updates),
                        DocMsg::Frame { .. } => unreachable!("handled above"),
                    }
                }
            }
        }
        self.flush(&mut pending).await;
    }

    fn join(&mut self, c: DocConn) {
        if !self.healthy {
            let _ = c
                .close
                .try_send((convene_protocol::close::INTERNAL, "document unavailable"));
            return;
        }
        // Our sync step 1, then (in its own frame) the awareness states.
        let sv = self.doc().transact().state_vector();
        let _ = c
            .out
            .try_send(encode(&Message::Sync(SyncMessage::SyncStep1(sv))));
        if let Ok(update) = self.awareness.update() {
            if !update.clients.is_empty() {
                let _ = c.out.try_send(encode(&Message::Awareness(update)));
            }
        }
        if !c.writable {
            let _ = c
                .out
                .try_send(encode(&Message::Auth(Some("read-only".into()))));
        }
        self.metrics.doc_connections.inc();
        self.conns.insert(
            c.id,
            Conn {
                participant: c.participant,
                writable: c.writable,
                out: c.out,
                close: c.close,
                clients: HashSet::new(),
            },
        );
    }

    fn leave(&mut self, id: u64) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        self.metrics.doc_connections.dec();
        if c.clients.is_empty() {
            return;
        }
        // Their cursors and names go: remove the states and tell the others.
        for client in &c.clients {
            self.awareness.remove_state(*client);
        }
        if let Ok(update) = self
            .awareness
            .update_with_clients(c.clients.iter().copied())
        {
            let frame = encode(&Message::Awareness(update));
            self.broadcast(None, &frame);
        }
    }

    fn kick(&mut self, id: u64, code: u16, reason: &'static str) {
        if let Some(c) = self.conns.get(&id) {
            let _ = c.close.try_send((code, reason));
        }
        self.leave(id);
    }

    fn send(&mut self, id: u64, frame: &Bytes) {
        let Some(c) = self.conns.get(&id) else { return };
        match c.out.try_send(frame.clone()) {
            Ok(()) => {
                self.metrics.doc_deliveries.inc();
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.metrics.slow_consumers.inc();
                let _ = c.close.try_send((
                    convene_protocol::close::SLOW_CONSUMER,
                    "too slow: reconnect to resync",
                ));
                self.dead.push(id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.dead.push(id),
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

    /// One y-protocols message from a connection.
    fn frame(&mut self, id: u64, data: Bytes, pending: &mut Vec<(u64, Vec<u8>, Bytes)>) {
        let Some(writable) = self.conns.get(&id).map(|c| c.writable) else {
            return;
        };
        let Some(msg) = decode(&data) else {
            return self.kick(id, close::MALFORMED, "not a y-protocols message");
        };
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                let update = self.doc().transact().encode_state_as_update_v1(&sv);
                self.send(id, &encode(&Message::Sync(SyncMessage::SyncStep2(update))));
            }
            Message::Sync(SyncMessage::SyncStep2(update))
            | Message::Sync(SyncMessage::Update(update)) => {
                // An empty update (a new client's step 2) changes nothing.
                if update.len() <= 2 {
                    return;
                }
                if !writable {
                    self.send(id, &encode(&Message::Auth(Some("read-only".into()))));
                    return;
                }
                if self.size + update.len() > MAX_DOCUMENT_BYTES {
                    self.send(
                        id,
                        &encode(&Message::Auth(Some("document too large".into()))),
                    );
                    return self.kick(id, close::TOO_LARGE, "document too large");
                }
                let Some(decoded) = decode_update(&update) else {
                    return self.kick(id, close::MALFORMED, "update does not decode");
                };
                let doc = self.doc().clone();
                let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    doc.transact_mut().apply_update(decoded).is_ok()
                }));
                match applied {
                    Ok(true) => {}
                    Ok(false) => return self.kick(id, close::MALFORMED, "update does not apply"),
                    Err(_) => {
                        // A panic inside yrs may leave the document half-changed: the
                        // stored one is the truth.
                        self.broken = true;
                        return self.kick(id, close::MALFORMED, "update does not apply");
                    }
                }
                // Relay as an update; a client's own update frame goes out as it came.
                let is_update_frame = data.first() == Some(&0) && data.get(1) == Some(&2);
                let relay = if is_update_frame {
                    data
                } else {
                    encode(&Message::Sync(SyncMessage::Update(update.clone())))
                };
                self.size += update.len();
                pending.push((id, update, relay));
            }
            Message::Awareness(update) => self.awareness_update(id, update, data),
            Message::AwarenessQuery => {
                if let Ok(update) = self.awareness.update() {
                    self.send(id, &encode(&Message::Awareness(update)));
                }
            }
            Message::Auth(_) | Message::Custom(..) => {}
        }
    }

    fn awareness_update(&mut self, id: u64, update: AwarenessUpdate, frame: Bytes) {
        // Stock clients parse every state as JSON: one that is not would break them all.
        if update
            .clients
            .values()
            .any(|e| serde_json::from_str::<serde::de::IgnoredAny>(&e.json).is_err())
        {
            return self.kick(id, close::MALFORMED, "awareness state is not JSON");
        }
        let clients: Vec<ClientID> = update.clients.keys().copied().collect();
        if self.awareness.apply_update(update).is_err() {
            return self.kick(id, close::MALFORMED, "awareness update does not apply");
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.clients.extend(clients);
        }
        // To everyone, the sender too (as the reference y-websocket server does): a lone
        // editor then hears from the server and its provider keeps the connection.
        self.broadcast(None, &frame);
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
                if self.store.is_shared() {
                    self.own.extend(first..=last);
                }
                self.last = self.last.max(last);
                let _ = self.last_tx.send(self.last);
                self.since_snapshot += batch.len();
                self.metrics.doc_updates.inc_by(batch.len() as u64);
                self.relay(&batch);
                if self.since_snapshot >= COMPACT_EVERY {
                    self.compact().await;
                }
            }
            Err(e) => {
                warn!(error = %e, "document updates could not be stored; reloading");
                if let Err(e) = self.load().await {
                    warn!(error = %e, "document reload failed");
                    self.healthy = false;
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

    /// Updates another node stored: apply them and relay them to every connection here.
    fn remote(&mut self, updates: Vec<(u64, Vec<u8>)>) {
        for (n, update) in updates {
            self.last = self.last.max(n);
            if self.own.remove(&n) {
                continue; // ours, already applied and relayed
            }
            let Ok(decoded) = Update::decode_v1(&update) else {
                continue;
            };
            if self.doc().transact_mut().apply_update(decoded).is_err() {
                continue;
            }
            self.size += update.len();
            self.since_snapshot += 1;
            let frame = encode(&Message::Sync(SyncMessage::Update(update)));
            self.broadcast(None, &frame);
        }
        let _ = self.last_tx.send(self.last);
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
        // Shared store: other nodes' updates may not all have reached us yet. Apply every
        // stored update first (applying one twice changes nothing), and snapshot up to them.
        if self.store.is_shared() {
            match self.store.doc_load(&self.convention, &self.name).await {
                Ok(stored) => {
                    let mut txn = self.awareness.doc().transact_mut();
                    for (n, u) in &stored.updates {
                        if let Ok(decoded) = Update::decode_v1(u) {
                            let _ = txn.apply_update(decoded);
                        }
                        self.last = self.last.max(*n);
                    }
                }
                Err(e) => return warn!(error = %e, "document compaction skipped"),
            }
        }
        let snapshot = self
            .doc()
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let len = snapshot.len();
        match self
            .store
            .doc_compact(&self.convention, &self.name, self.last, snapshot)
            .await
        {
            Ok(()) => {
                self.since_snapshot = 0;
                self.size = len;
            }
            Err(e) => warn!(error = %e, "document compaction failed"),
        }
    }
}

/// Cluster mode: read the updates other nodes store, after the last one seen here.
fn follow(
    store: RedisStore,
    convention: String,
    name: String,
    mut after: watch::Receiver<u64>,
    inbox: mpsc::WeakSender<DocMsg>,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let mut con = None;
        loop {
            if con.is_none() {
                match store.dedicated().await {
                    Ok(c) => con = Some(c),
                    Err(_) => {
                        tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
                    }
                }
            }
            let Some(c) = con.as_mut() else { continue };
            let from = *after.borrow_and_update();
            let read = tokio::select! {
                _ = cancel.cancelled() => return,
                r = RedisStore::wait_doc_updates(c, &convention, &name, from, Duration::from_secs(5)) => r,
            };
            match read {
                Ok(updates) if !updates.is_empty() => {
                    let Some(tx) = inbox.upgrade() else { return };
                    if tx.send(DocMsg::Remote(updates)).await.is_err() {
                        return;
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(1), after.changed()).await;
                }
                Ok(_) => {
                    if inbox.upgrade().is_none() {
                        return;
                    }
                }
                Err(_) => {
                    con = None;
                    tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
                }
            }
        }
    });
}
