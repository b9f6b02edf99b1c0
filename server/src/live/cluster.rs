//! Cluster mode: several nodes share conventions through Redis. A node follows each live
//! convention's log with a blocking stream read, and publishes who is online on it so that
//! presence spans nodes. Ordering comes from Redis (the log's entry ids); nothing here
//! decides anything.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::RngCore;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Hub, Msg};
use crate::store::redis::RedisStore;
use crate::store::StoreError;
use crate::BUILD;

/// How long a node's presence lasts without being refreshed (a dead node's participants go
/// offline after this).
const PRESENCE_TTL_SECS: u64 = 30;
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a follower's read waits for other nodes' records or updates.
pub(crate) const FOLLOW_BLOCK: Duration = Duration::from_secs(5);
/// This often, a live convention or an open document checks that its follower keeps up with
/// the store (`FollowCheck`); a follower's read unanswered this long past its block is given
/// up, with its connection.
pub(crate) const FOLLOW_CHECK: Duration = Duration::from_secs(2);
/// The longest a read a task makes on its own (its follower's check, a convention's catch-up
/// before a welcome) may hold the task, which serves everyone else meanwhile.
pub(crate) const READ_IN_TASK: Duration = Duration::from_secs(1);

pub struct Cluster {
    pub node: String,
    pub store: RedisStore,
    /// The version of the next presence set this node publishes, over all its conventions
    /// (a convention's task run again on this node goes on from here; a restarted node has
    /// another id, whose versions start again).
    presence_version: Arc<AtomicU64>,
}

/// The channel of deletions (`Hub::delete` in cluster mode): a node asks every node to stop
/// its part of a convention, then says when it is gone.
const DELETIONS: &str = "convene:deletions";

/// Where a deletion stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum Phase {
    /// Say you are there (`RedisStore::ack`), nothing else: a deletion touches nothing until
    /// every live node has.
    Prepare,
    /// Stop the convention here: its task makes durable what it accepted and closes its
    /// connections, its documents store theirs; then say so (`RedisStore::ack`).
    /// Meanwhile nothing of it is served or started again here.
    Stop,
    /// Deleted, or given up: it may be served (or created) again.
    Done,
}

impl Phase {
    /// Its name in the store's keys.
    pub(super) fn step(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Stop => "stop",
            Phase::Done => "done",
        }
    }
}

/// A message of the deletions' channel.
#[derive(Serialize, Deserialize)]
struct Deletion {
    convention: String,
    /// One deletion's id: a node takes part in each attempt once, and acknowledges it by it.
    attempt: String,
    phase: Phase,
    node: String,
}

/// A node's online set for one convention, as published (the pub/sub message) and kept
/// (its key). Sets reach another node by two paths, the message and the heartbeat's read of
/// the key, which can cross: the receiver keeps the highest version per node and ignores
/// anything older.
#[derive(Serialize, Deserialize)]
struct PresenceSet {
    node: String,
    version: u64,
    present: BTreeSet<String>,
}

/// Another node's online set as this node last took it, and when.
struct Remote {
    version: u64,
    present: BTreeSet<String>,
    taken: tokio::time::Instant,
}

/// Every other node's online set for one convention.
#[derive(Default)]
pub(super) struct RemotePresence(HashMap<String, Remote>);

impl RemotePresence {
    /// Take a node's set unless an equal or newer version is already here; `None`: its key
    /// was found expired (the node is gone), forgotten, unless a set of it came in too
    /// recently for its key to have expired since (a read of the expired key that crossed
    /// the node's new message, as it comes back). A set is taken at most a heartbeat after
    /// its key was written, so a dead node is still forgotten at the first read after its
    /// key expired. Whether anything changed.
    pub(super) fn take(&mut self, node: String, set: Option<(u64, BTreeSet<String>)>) -> bool {
        self.take_at(node, set, tokio::time::Instant::now())
    }

    fn take_at(
        &mut self,
        node: String,
        set: Option<(u64, BTreeSet<String>)>,
        now: tokio::time::Instant,
    ) -> bool {
        match set {
            None => {
                let fresh = Duration::from_secs(PRESENCE_TTL_SECS) - HEARTBEAT;
                if self
                    .0
                    .get(&node)
                    .is_some_and(|r| now.saturating_duration_since(r.taken) < fresh)
                {
                    return false;
                }
                self.0.remove(&node).is_some()
            }
            Some((version, present)) => {
                if self.0.get(&node).is_some_and(|r| r.version >= version) {
                    return false;
                }
                let taken = now;
                self.0.insert(
                    node,
                    Remote {
                        version,
                        present,
                        taken,
                    },
                );
                true
            }
        }
    }

    /// Everyone online on another node.
    pub(super) fn online(&self) -> impl Iterator<Item = &String> {
        self.0.values().flat_map(|r| &r.present)
    }

    pub(super) fn contains(&self, participant: &str) -> bool {
        self.0.values().any(|r| r.present.contains(participant))
    }
}

fn presence_key(conv: &str, node: &str) -> String {
    format!("cv:{{{conv}}}:presence:{node}")
}
fn nodes_key(conv: &str) -> String {
    format!("cv:{{{conv}}}:nodes")
}
fn channel(conv: &str) -> String {
    format!("cv:{{{conv}}}:presence")
}

/// How long a node's entry in the cluster's list of nodes lasts without being renewed, and how
/// often a running node renews it.
const NODE_TTL: Duration = Duration::from_secs(30);
const NODE_RENEW: Duration = Duration::from_secs(10);

/// Another node of the cluster runs another build: this one does not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "this node runs convene {build}, but {}: stop every node, then start them all on the same \
     build (a node stopped with kill -9 is forgotten {} s after it stopped)",
    others.iter().map(|(b, a)| format!("the node at {a} runs {b}")).collect::<Vec<_>>().join(", "),
    NODE_TTL.as_secs()
)]
pub struct MixedBuilds {
    pub build: String,
    pub others: Vec<(String, String)>,
}

/// A node's id in the cluster (and a deletion's attempt): 48 random bits, in hex.
pub(super) fn new_node_id() -> String {
    let mut id = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut id);
    hex::encode(id)
}

/// Join the cluster's list of nodes, unless a live node runs another build (nodes of
/// different builds may not read each other's shared keys alike); then renew the entry while
/// the node runs, and take it out at a clean stop. `address`: where this node listens, to
/// name it to the others. Returns this node's id (its `Cluster`'s: a deletion waits for
/// every live node of the list by it).
pub async fn register(
    store: RedisStore,
    address: String,
    tracker: &tokio_util::task::TaskTracker,
    cancel: CancellationToken,
) -> Result<String, RegisterError> {
    let node = new_node_id();
    let id = node.clone();
    let others = store
        .register_node(&node, BUILD, &address, NODE_TTL, true)
        .await?;
    if !others.is_empty() {
        return Err(RegisterError::Mixed(MixedBuilds {
            build: BUILD.to_string(),
            others,
        }));
    }
    tracker.spawn(async move {
        let mut renew = tokio::time::interval(NODE_RENEW);
        renew.tick().await;
        let mut told = Vec::new();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = renew.tick() => {}
            }
            match store
                .register_node(&node, BUILD, &address, NODE_TTL, false)
                .await
            {
                Ok(others) if others != told => {
                    if !others.is_empty() {
                        tracing::error!(
                            build = BUILD,
                            others = ?others,
                            "the cluster mixes builds: another node runs another build"
                        );
                    }
                    told = others;
                }
                Ok(_) => {}
                Err(e) => debug!(error = %e, "node entry not renewed"),
            }
        }
        if let Err(e) = store.deregister_node(&node).await {
            debug!(error = %e, "node entry not removed");
        }
    });
    Ok(id)
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Mixed(#[from] MixedBuilds),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Cluster {
    /// `node`: this node's id in the cluster's list (`register`); a fresh one without.
    pub fn new(store: RedisStore, node: Option<String>) -> Self {
        Cluster {
            node: node.unwrap_or_else(new_node_id),
            store,
            presence_version: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Ask every node (this one too) to stop its part of a convention being deleted
    /// (`Deletion::Stop`), or tell them it is over (`Deletion::Done`: deleted, or given up).
    pub(super) async fn announce(
        &self,
        convention: &str,
        attempt: &str,
        phase: Phase,
    ) -> Result<(), StoreError> {
        let message = serde_json::to_string(&Deletion {
            convention: convention.to_string(),
            attempt: attempt.to_string(),
            phase,
            node: self.node.clone(),
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.store.publish(DELETIONS, &message).await
    }

    /// Follow a convention's log from `after` (kept current by the convention's task) and
    /// hand what other nodes append to the task.
    pub(super) fn follow(
        &self,
        conv: String,
        after: watch::Receiver<u64>,
        inbox: mpsc::WeakSender<Msg>,
        cancel: CancellationToken,
    ) {
        follow_stream(
            self.store.clone(),
            after,
            inbox,
            cancel,
            move |mut con, from| {
                let conv = conv.clone();
                async move { RedisStore::wait_records(&mut con, &conv, from, FOLLOW_BLOCK).await }
            },
            |r| r.seq,
            Msg::Remote,
        );
    }

    /// Publish who is online here (whenever it changes, and every heartbeat), and read the
    /// other nodes' sets every heartbeat (a dead node's set expires).
    pub(super) fn presence(
        &self,
        conv: String,
        mut local: watch::Receiver<BTreeSet<String>>,
        inbox: mpsc::WeakSender<Msg>,
        cancel: CancellationToken,
    ) {
        let store = self.store.clone();
        let node = self.node.clone();
        let versions = self.presence_version.clone();
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEARTBEAT);
            loop {
                let changed = tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = local.changed() => { if c.is_err() { return } true }
                    _ = beat.tick() => false,
                };
                let set = PresenceSet {
                    node: node.clone(),
                    version: versions.fetch_add(1, Ordering::Relaxed),
                    present: local.borrow_and_update().clone(),
                };
                if let Err(e) = publish(&store, &conv, &set, changed).await {
                    debug!(error = %e, "presence not published");
                }
                if !changed {
                    match read_all(&store, &conv, &node).await {
                        Ok(nodes) => {
                            let Some(tx) = inbox.upgrade() else { return };
                            for (node, set) in nodes {
                                let _ = tx.send(Msg::RemotePresence { node, set }).await;
                            }
                        }
                        Err(e) => debug!(error = %e, "presence not read"),
                    }
                }
            }
        });
    }

    /// Listen to every convention's presence channel and pass other nodes' changes on.
    pub(super) fn subscribe(&self, hub: Hub, cancel: CancellationToken) {
        let client = self.store.client().clone();
        let store = self.store.clone();
        let me = self.node.clone();
        tokio::spawn(async move {
            loop {
                let mut pubsub = match client.get_async_pubsub().await {
                    Ok(p) => p,
                    Err(e) => {
                        debug!(error = %e, "presence subscription failed; retrying");
                        tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
                    }
                };
                if pubsub.psubscribe("cv:*:presence").await.is_err()
                    || pubsub.subscribe(DELETIONS).await.is_err()
                {
                    tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
                }
                let mut messages = pubsub.on_message();
                loop {
                    let msg = tokio::select! {
                        _ = cancel.cancelled() => return,
                        m = messages.next() => m,
                    };
                    let Some(msg) = msg else { break };
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if msg.get_channel_name() == DELETIONS {
                        if let Ok(d) = serde_json::from_str::<Deletion>(&payload) {
                            // Its own request the deleting node has done itself.
                            if d.node != me {
                                deletion(&hub, &store, &me, d);
                            }
                        }
                        continue;
                    }
                    let Ok(set) = serde_json::from_str::<PresenceSet>(&payload) else {
                        continue;
                    };
                    let chan = msg.get_channel_name().to_string();
                    let Some(conv) = chan
                        .strip_prefix("cv:{")
                        .and_then(|r| r.strip_suffix("}:presence"))
                    else {
                        continue;
                    };
                    if set.node == me {
                        continue;
                    }
                    if let Some(handle) = hub.get(conv) {
                        handle
                            .remote_presence(set.node, Some((set.version, set.present)))
                            .await;
                    }
                }
                warn!("presence subscription lost; resubscribing");
            }
        });
    }
}

/// Another node deletes a convention: stop this node's part of it and say so, or forget the
/// deletion once it is over. In a task of its own: stopping waits for the convention's task,
/// and the subscription reads on meanwhile.
fn deletion(hub: &Hub, store: &RedisStore, me: &str, d: Deletion) {
    let hub = hub.clone();
    let store = store.clone();
    let me = me.to_string();
    tokio::spawn(async move {
        let done = match d.phase {
            Phase::Prepare => true,
            // Said only once stopped (a stop that failed is not: the deletion waits).
            Phase::Stop => hub.stop_for_peer(&d.convention, &d.attempt).await,
            Phase::Done => {
                hub.peer_deletion_over(&d.convention, &d.attempt);
                return;
            }
        };
        if done {
            if let Err(e) = store.ack(&d.attempt, d.phase.step(), &me).await {
                warn!(error = %e, convention = %d.convention, "a deletion's step not told");
            }
        }
    });
}

/// Cluster mode: read what other nodes append to a stream (a convention's log, a document's
/// updates) after `after`, the number the owning task has taken in (it keeps the watch
/// current), and hand it to that task with `wrap`; `number` is an item's number in the
/// stream. The task must take what it is handed in before the follower reads on (a second at
/// most: then it reads again after what the task has).
pub(crate) fn follow_stream<T, M, R, F>(
    store: RedisStore,
    mut after: watch::Receiver<u64>,
    inbox: mpsc::WeakSender<M>,
    cancel: CancellationToken,
    read: R,
    number: fn(&T) -> u64,
    wrap: fn(Vec<T>) -> M,
) where
    T: Send + 'static,
    M: Send + 'static,
    R: Fn(MultiplexedConnection, u64) -> F + Send + 'static,
    F: std::future::Future<Output = Result<Vec<T>, StoreError>> + Send,
{
    tokio::spawn(async move {
        let mut con = None;
        loop {
            if cancel.is_cancelled() {
                return;
            }
            if con.is_none() {
                match store.dedicated().await {
                    Ok(c) => con = Some(c),
                    Err(e) => {
                        debug!(error = %e, "follower cannot connect; retrying");
                        tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => continue }
                    }
                }
            }
            let Some(c) = con.clone() else { continue };
            let from = *after.borrow_and_update();
            // A read blocks at most `FOLLOW_BLOCK`; one that has not answered well after is
            // given up with its connection (a Redis, or something between, gone silent).
            let read = tokio::select! {
                _ = cancel.cancelled() => return,
                r = tokio::time::timeout(FOLLOW_BLOCK + FOLLOW_CHECK, read(c, from)) => {
                    r.unwrap_or_else(|_| Err(StoreError::Unavailable("follower read unanswered".into())))
                }
            };
            match read {
                Ok(items) if !items.is_empty() => {
                    let sent = items.last().map_or(from, number);
                    let Some(tx) = inbox.upgrade() else { return };
                    if tx.send(wrap(items)).await.is_err() {
                        return;
                    }
                    // Read on once the task took them in; if it could not (a gap it could
                    // not fill yet), a second later.
                    let took = after.wait_for(|n| *n >= sent);
                    if let Ok(Err(_)) = tokio::time::timeout(Duration::from_secs(1), took).await {
                        return; // the task is gone
                    }
                }
                Ok(_) => {
                    if inbox.upgrade().is_none() {
                        return;
                    }
                }
                Err(e) => {
                    debug!(error = %e, "follower read failed; reconnecting");
                    con = None;
                    tokio::select! { _ = cancel.cancelled() => return, _ = tokio::time::sleep(Duration::from_secs(1)) => {} }
                }
            }
        }
    });
}

/// A follower's safety net, checked every `FOLLOW_CHECK` by the task that owns a live
/// convention or an open document: what the task had taken in and what the store held at the
/// last check. Tests saw a document's follower read nothing, block after block, while the
/// store's counter was ahead: a compaction had trimmed every update after it (the compaction
/// now keeps its last one, `DOC_COMPACT`); whatever else keeps a follower behind, nothing
/// comes in while the store stays ahead.
pub(crate) struct FollowCheck {
    taken: u64,
    stored: u64,
}

impl FollowCheck {
    pub(crate) fn new(taken: u64) -> Self {
        FollowCheck {
            taken,
            stored: taken,
        }
    }

    /// With what the task has taken in and what the store holds now: if the store was ahead
    /// at the last check and nothing came in since, the store's number then.
    fn stalled(&mut self, taken: u64, stored: u64) -> Option<u64> {
        let before = std::mem::replace(self, FollowCheck { taken, stored });
        (before.taken == taken && before.stored > taken).then_some(before.stored)
    }

    /// The check itself: read the store's last number (`last`, given up after
    /// `READ_IN_TASK`) and say whether the task must read what is missing itself, saying so in
    /// its log (`what` follows: "convention", "document").
    pub(crate) async fn behind(
        &mut self,
        taken: u64,
        last: impl std::future::Future<Output = Result<u64, StoreError>>,
        what: &str,
    ) -> bool {
        let stored = match tokio::time::timeout(READ_IN_TASK, last).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                warn!(error = %e, "{what} follower's check: the store not read");
                return false;
            }
            Err(_) => {
                warn!("{what} follower's check: the store not read in time");
                return false;
            }
        };
        let Some(stored) = self.stalled(taken, stored) else {
            return false;
        };
        warn!(
            taken,
            stored, "{what} follower behind the store: catching up here"
        );
        true
    }
}

// Public audience (§24): viewer counts per node.

/// How long a node's viewer count lasts without being refreshed (a dead node's viewers
/// stop counting after this).
const VIEWERS_TTL_SECS: u64 = 5;

fn viewers_key(conv: &str, node: &str) -> String {
    format!("cv:{{{conv}}}:viewers:{node}")
}
fn viewer_nodes_key(conv: &str) -> String {
    format!("cv:{{{conv}}}:viewer-nodes")
}

impl Cluster {
    /// Public audience (§24): once a second while the convention is watched (a public link
    /// is active, or someone watches here or elsewhere), publish how many watch on this node
    /// and add up the other nodes' counts into the feed (`Feed::set_remote`).
    pub(super) fn public_viewers(
        &self,
        conv: String,
        feed: std::sync::Arc<super::public::Feed>,
        cancel: CancellationToken,
    ) {
        let store = self.store.clone();
        let node = self.node.clone();
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(Duration::from_millis(
                convene_protocol::PUBLIC_COUNT_EVERY_MS,
            ));
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = beat.tick() => {}
                }
                let local = feed.local();
                if local == 0 && feed.remote() == 0 && !feed.has_link() {
                    continue;
                }
                match count_viewers(&store, &conv, &node, local).await {
                    Ok(remote) => feed.set_remote(remote),
                    Err(e) => debug!(error = %e, "viewer count not exchanged"),
                }
            }
        });
    }
}

/// Publish this node's count; the sum of the other nodes' (expired ones forgotten).
async fn count_viewers(
    store: &RedisStore,
    conv: &str,
    me: &str,
    local: u64,
) -> redis::RedisResult<u64> {
    let mut con = store.manager();
    // Two round trips whatever the number of nodes: this node's count and the list of nodes,
    // then every other node's count at once.
    let (nodes,): (Vec<String>,) = redis::pipe()
        .set_ex(viewers_key(conv, me), local, VIEWERS_TTL_SECS)
        .ignore()
        .sadd(viewer_nodes_key(conv), me)
        .ignore()
        .smembers(viewer_nodes_key(conv))
        .query_async(&mut con)
        .await?;
    let others: Vec<String> = nodes.into_iter().filter(|n| n != me).collect();
    if others.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = others.iter().map(|n| viewers_key(conv, n)).collect();
    let counts: Vec<Option<u64>> = redis::cmd("MGET").arg(&keys).query_async(&mut con).await?;
    let mut sum = 0;
    for (n, count) in others.iter().zip(counts) {
        match count {
            Some(c) => sum += c,
            // Its count expired: the node is gone.
            None => {
                let _: () = con.srem(viewer_nodes_key(conv), n).await?;
            }
        }
    }
    Ok(sum)
}

/// This node's set: its key, and (`announce`) the message other nodes take it from at once.
async fn publish(
    store: &RedisStore,
    conv: &str,
    set: &PresenceSet,
    announce: bool,
) -> redis::RedisResult<()> {
    let mut con = store.manager();
    let json = serde_json::to_string(set).unwrap_or_default();
    let _: () = con
        .set_ex(presence_key(conv, &set.node), &json, PRESENCE_TTL_SECS)
        .await?;
    let _: () = con.sadd(nodes_key(conv), &set.node).await?;
    if announce {
        let _: () = con.publish(channel(conv), &json).await?;
    }
    Ok(())
}

/// A node's set with its version, as `RemotePresence::take` takes it.
type Versioned = Option<(u64, BTreeSet<String>)>;

/// Every other node's set; nodes whose set expired come back as `None` (and are forgotten).
async fn read_all(
    store: &RedisStore,
    conv: &str,
    me: &str,
) -> redis::RedisResult<Vec<(String, Versioned)>> {
    let mut con = store.manager();
    // Two round trips whatever the number of nodes, as `count_viewers`.
    let nodes: Vec<String> = con.smembers(nodes_key(conv)).await?;
    let others: Vec<String> = nodes.into_iter().filter(|n| n != me).collect();
    if others.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = others.iter().map(|n| presence_key(conv, n)).collect();
    let sets: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut con).await?;
    let mut out = Vec::new();
    for (n, json) in others.into_iter().zip(sets) {
        match json {
            Some(j) => {
                // Unreadable (another format): left as it was.
                if let Ok(set) = serde_json::from_str::<PresenceSet>(&j) {
                    out.push((n, Some((set.version, set.present))));
                }
            }
            None => {
                let _: () = con.srem(nodes_key(conv), &n).await?;
                out.push((n, None));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// Sets by version, whatever path brings them first; an expired key forgets a node only
    /// if its set is older than a key could live unrefreshed.
    #[test]
    fn remote_sets_go_by_version_and_expire_only_when_old() {
        let t0 = tokio::time::Instant::now();
        let mut r = RemotePresence::default();
        assert!(r.take_at("b".into(), Some((5, set(&["p1", "p2"]))), t0));
        // An older or equal set, crossing the newer one: ignored.
        assert!(!r.take_at("b".into(), Some((4, set(&["p1"]))), t0));
        assert!(!r.take_at("b".into(), Some((5, set(&[]))), t0));
        assert!(r.contains("p2"));
        // A read of the key found expired just as the node's new set came in: kept.
        assert!(!r.take_at("b".into(), None, t0 + Duration::from_secs(1)));
        assert!(r.contains("p2"));
        // The set was taken a heartbeat after its key was written at the latest: the key's
        // expiry is seen at least TTL - heartbeat after it was taken, and forgets the node.
        let later = t0 + Duration::from_secs(PRESENCE_TTL_SECS) - HEARTBEAT;
        assert!(r.take_at("b".into(), None, later));
        assert!(!r.contains("p2"));
        assert_eq!(r.online().count(), 0);
        // A node forgotten comes back with whatever version (a restarted node has a new id).
        assert!(r.take_at("b".into(), Some((1, set(&["p3"]))), later));
        assert!(r.contains("p3"));
    }
}
