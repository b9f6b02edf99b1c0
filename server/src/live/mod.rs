//! Live conventions: one task (actor) owns each convention's state and its connections;
//! everyone else talks to it through a `Handle` around a bounded channel. The `Hub` maps
//! convention ids to handles.

mod actor;
mod answered;
pub mod cluster;
// Public audience (§24).
pub mod public;
pub mod view;
// Protocol version 2 (PROTOCOL.md section 25).
pub mod view2;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::docs::DocHub;
use crate::domain::{self as d, Convention};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

pub use answered::Answered;

/// The bytes of one text frame, encoded once and shared by every connection it goes to.
pub type Frame = tungstenite::Utf8Bytes;

/// The first message and whatever else is already waiting, up to `max`: one turn of a task
/// (its commands or updates then share one durable write).
pub(crate) fn with_waiting<M>(first: M, inbox: &mut mpsc::Receiver<M>, max: usize) -> Vec<M> {
    let mut msgs = vec![first];
    while msgs.len() < max {
        match inbox.try_recv() {
            Ok(m) => msgs.push(m),
            Err(_) => break,
        }
    }
    msgs
}

/// A server message as the bytes of one text frame. Our own types always serialize; an empty
/// frame would only ever mean a bug.
pub fn encode(msg: &convene_protocol::ServerMessage) -> Frame {
    Frame::from(serde_json::to_string(msg).unwrap_or_default())
}

/// Messages waiting for one convention's task; senders wait beyond it.
const INBOX: usize = 4096;
/// A failed convention task is started again after this (doubling with each quick failure,
/// up to `MAX_RESTART_BACKOFF`).
const RESTART_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);
const MAX_RESTART_BACKOFF: std::time::Duration = std::time::Duration::from_secs(5);
/// A task that ran this long before failing starts a new count of quick failures.
const RESTART_RESET: std::time::Duration = std::time::Duration::from_secs(60);
/// Quick failures in a row after which the convention is left refusing (named in health).
const MAX_QUICK_FAILURES: u32 = 5;
/// Cluster mode: how long a deletion waits for every live node of the cluster's list to say
/// it is there, before anything is touched; past it, the deletion is given up.
const PEERS_PREPARE: std::time::Duration = std::time::Duration::from_secs(10);
/// Cluster mode: how long, at most, a deletion then waits for every node to stop its part (each
/// one's task makes durable what it accepted first: well under a second). A node that dies
/// meanwhile leaves the list within 30 s; past this, the keys are deleted anyway: everyone
/// has been told the convention is deleted.
const PEERS_STOP: std::time::Duration = std::time::Duration::from_secs(60);
/// Cluster mode: a node that was asked to stop a convention and never heard that its deletion
/// is over serves it again after this.
const PEER_DELETION_FORGOTTEN: std::time::Duration = std::time::Duration::from_secs(120);

/// Why a command was not carried out.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommandError {
    #[error("{}", .0.message)]
    Rejected(d::Rejection),
    /// The store could not make it durable; nothing was applied.
    #[error("the store is unavailable, retry: {0}")]
    Unavailable(String),
    /// The convention's task is gone (shutting down).
    #[error("the convention is shutting down")]
    Gone,
    /// A request past its sender's budget (a `visit`: `WELCOME_BURST`, `WELCOME_EVERY_MS`).
    #[error("{0}")]
    TooOften(&'static str),
    /// The organizer is deleting the convention (`Hub::delete`): nothing more is decided.
    #[error("the convention is being deleted")]
    Deleted,
}

impl CommandError {
    pub fn code(&self) -> convene_protocol::ErrorCode {
        match self {
            CommandError::Rejected(r) => crate::wire::code_out(r.code),
            CommandError::Unavailable(_) | CommandError::Gone => {
                convene_protocol::ErrorCode::Unavailable
            }
            CommandError::TooOften(_) => convene_protocol::ErrorCode::RateLimited,
            CommandError::Deleted => convene_protocol::ErrorCode::Conflict,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("unknown invitation")]
    Unknown,
    #[error("this invitation was revoked")]
    Revoked,
    /// A facilitator removed this participant from the live convention (moderation).
    #[error("you were removed from the convention by the facilitators")]
    Removed,
    #[error("the convention is shutting down")]
    Gone,
    /// The convention cannot be served for now (its store is away, its task restarting).
    #[error("the convention is unavailable for now: {0}")]
    Unavailable(String),
    /// The convention's stored log is damaged: it stays unavailable until repaired.
    #[error("the convention is unavailable: {0}")]
    Damaged(String),
    /// This invitation said hello too often (`WELCOME_BURST`, `WELCOME_EVERY_MS`).
    #[error("this invitation connected too often: wait a few seconds")]
    TooOften,
    /// The organizer deleted the convention (close 4014).
    #[error("the convention was deleted")]
    Deleted,
}

/// A connection as the convention's task sees it: where to queue its frames, and through
/// which to close it (slow consumer, revoked invitation: `Outbox::close` passes a full queue).
pub struct ConnLink {
    pub id: u64,
    pub out: crate::gateway::outbox::Outbox<Frame>,
    /// Dropped by the task when it lets the connection go, or when the task itself fails:
    /// the connection then learns it is no longer attached, and closes (1013).
    pub attached: oneshot::Sender<()>,
    /// The protocol version the connection speaks (its hello's), 1 or 2.
    pub protocol: u32,
}

/// Why a convention cannot be served: what `/healthz` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The stored log is damaged (a record that cannot be read): an operator must act.
    pub damaged: bool,
    pub reason: String,
}

/// The conventions of this process that cannot be served now, and why (shared with health).
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<std::collections::BTreeMap<String, Fault>>>);

impl Faults {
    pub fn set(&self, convention: &str, fault: Option<Fault>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match fault {
            Some(f) => {
                map.insert(convention.to_string(), f);
            }
            None => {
                map.remove(convention);
            }
        }
    }

    pub fn get(&self, convention: &str) -> Option<Fault> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(convention)
            .cloned()
    }

    pub fn all(&self) -> Vec<(String, Fault)> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// What a successful join tells the connection.
#[derive(Debug, Clone)]
pub struct Joined {
    pub participant: String,
}

type Query = Box<dyn FnOnce(&Convention, &BTreeSet<String>) + Send>;
type QueryAs = Box<dyn FnOnce(&Convention, Option<&d::Person>) + Send>;

enum Msg {
    Command {
        actor: d::Actor,
        command: d::Command,
        reply: oneshot::Sender<Result<Vec<d::Record>, CommandError>>,
    },
    Request {
        conn: u64,
        id: String,
        command: d::Command,
    },
    Join {
        token_hash: String,
        link: ConnLink,
        /// The seq of the client's state when it reconnects (its hello's `last_seq`).
        last_seq: Option<u64>,
        reply: oneshot::Sender<Result<Joined, JoinError>>,
    },
    Leave {
        conn: u64,
    },
    /// A query on behalf of an invitation token: the person it belongs to (now, not revoked),
    /// found in the task's index of token hashes.
    QueryAs {
        token_hash: String,
        query: QueryAs,
    },
    /// Protocol version 2: a connection asks for the roster (`get_roster`).
    GetRoster {
        conn: u64,
        version: Option<u64>,
    },
    /// Records another node appended (cluster mode).
    Remote(Vec<convene_protocol::Record>),
    /// Who is online on another node (cluster mode): its whole set for this convention, with
    /// the set's version (`None`: the node's set expired).
    RemotePresence {
        node: String,
        set: Option<(u64, BTreeSet<String>)>,
    },
    Query(Query),
    /// Attendance (issue #17): this node's stretches not yet written, open ones ending now.
    Attendance(oneshot::Sender<Vec<crate::attendance::Stretch>>),
    /// The organizer deletes the convention (`Hub::delete`): the task makes what it accepted
    /// durable, refuses what waits, closes its connections (4014) and ends, without storing
    /// its state or attendance; it answers with the hashes of every token it knew.
    Delete(oneshot::Sender<Vec<String>>),
    /// Attendance: a write handed to a task of its own is done.
    AttendanceWritten {
        mark: crate::attendance::Mark,
        stretches: u64,
        ok: bool,
    },
}

/// Told of each event this node appends, once it is durable (never of those read from other
/// nodes: in a cluster, exactly one node acts on each). It runs inside the convention's task
/// and must not wait: it hands its work to a task of its own (e.g. `video::floor::FloorMic`).
pub trait Follower: Send + Sync {
    fn appended(&self, convention: &str, state: &Convention, event: &d::Event);
}

/// The way to one live convention.
#[derive(Clone)]
pub struct Handle {
    tx: mpsc::Sender<Msg>,
}

impl Handle {
    /// Run a command as an organizer or the timer; returns the records it appended.
    pub async fn command(
        &self,
        actor: d::Actor,
        command: d::Command,
    ) -> Result<Vec<d::Record>, CommandError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Command {
                actor,
                command,
                reply,
            })
            .await
            .map_err(|_| CommandError::Gone)?;
        rx.await.map_err(|_| CommandError::Gone)?
    }

    /// A participant's request; its reply goes to the connection's queue.
    pub async fn request(
        &self,
        conn: u64,
        id: String,
        command: d::Command,
    ) -> Result<(), CommandError> {
        self.tx
            .send(Msg::Request { conn, id, command })
            .await
            .map_err(|_| CommandError::Gone)
    }

    /// Attach a connection. On success, its welcome is already queued on `link.out`, at
    /// `last_seq` or after it when the store has it (cluster mode catches up first).
    pub async fn join(
        &self,
        token_hash: String,
        link: ConnLink,
        last_seq: Option<u64>,
    ) -> Result<Joined, JoinError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Join {
                token_hash,
                link,
                last_seq,
                reply,
            })
            .await
            .map_err(|_| JoinError::Gone)?;
        rx.await.map_err(|_| JoinError::Gone)?
    }

    /// Protocol version 2: the roster for this connection, unless `version` is current.
    pub async fn get_roster(&self, conn: u64, version: Option<u64>) -> Result<(), CommandError> {
        self.tx
            .send(Msg::GetRoster { conn, version })
            .await
            .map_err(|_| CommandError::Gone)
    }

    pub async fn leave(&self, conn: u64) {
        let _ = self.tx.send(Msg::Leave { conn }).await;
    }

    /// Attendance (issue #17): this node's stretches of presence not yet written (open ones
    /// ending now), so that a report is up to date on the node that serves it.
    pub async fn attendance(&self) -> Option<Vec<crate::attendance::Stretch>> {
        self.ask(Msg::Attendance).await
    }

    /// Stop the task for a deletion (`Msg::Delete`); once it answers, nothing of the
    /// convention is written by it any more. The hashes of every token it knew.
    async fn delete(&self) -> Option<Vec<String>> {
        self.ask(Msg::Delete).await
    }

    /// Who is online on another node changed (cluster mode).
    pub async fn remote_presence(&self, node: String, set: Option<(u64, BTreeSet<String>)>) {
        let _ = self.tx.send(Msg::RemotePresence { node, set }).await;
    }

    /// Read the state inside the convention's task on behalf of the invitation whose token
    /// hashes to `token_hash`: `f` gets its person, or `None` for a token the convention does
    /// not know (made up, revoked, replaced). Looked up in the task's index of token hashes:
    /// a made-up token costs one lookup, whatever the roster's size.
    pub async fn query_as<T: Send + 'static>(
        &self,
        token_hash: String,
        f: impl FnOnce(&Convention, Option<&d::Person>) -> T + Send + 'static,
    ) -> Option<T> {
        self.ask(|reply| Msg::QueryAs {
            token_hash,
            query: Box::new(move |c, who| {
                let _ = reply.send(f(c, who));
            }),
        })
        .await
    }

    /// Read the state (and who is online) inside the convention's task.
    pub async fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Convention, &BTreeSet<String>) -> T + Send + 'static,
    ) -> Option<T> {
        self.ask(|reply| {
            Msg::Query(Box::new(move |c, p| {
                let _ = reply.send(f(c, p));
            }))
        })
        .await
    }

    /// Send the task the message `msg` makes around a reply channel, and wait for the reply;
    /// `None` when the task is gone.
    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Option<T> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(msg(reply)).await.ok()?;
        rx.await.ok()
    }
}

/// What `Hub::delete` erased: the rows of each database file, and the hashes of the tokens the
/// convention knew (the gateway forgets their request budgets).
#[derive(Debug)]
pub struct Erased {
    pub files: Vec<crate::erase::Deleted>,
    pub tokens: Vec<String>,
}

/// Why a convention was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteFailure {
    #[error("no such convention")]
    Unknown,
    #[error("the convention is already being deleted")]
    InProgress,
    /// Cluster mode: these live nodes did not answer within `PEERS_PREPARE`; nothing touched.
    #[error(
        "cluster mode: the nodes {} did not answer within {} s: nothing deleted, try again (a \
         node stopped with kill -9 leaves the list of nodes after 30 s)",
        .0.join(", "),
        PEERS_PREPARE.as_secs()
    )]
    NodesBusy(Vec<String>),
    /// Cluster mode: Redis could not be reached or written.
    #[error("cluster mode: the store: {0}")]
    Store(StoreError),
    #[error("the convention's task is gone (shutting down)")]
    Gone,
    /// The convention is gone from the server, but its rows could not all be erased: run
    /// the deletion again (or `convene delete` with the server stopped).
    #[error("erasing it from the data directory failed: {0}")]
    Erase(crate::erase::DeleteError),
}

/// Forget the handle of `id` if its task has ended (an idle replica, a deleted convention).
fn forget_ended(map: &mut HashMap<String, Handle>, id: &str) {
    if map.get(id).is_some_and(|h| h.tx.is_closed()) {
        map.remove(id);
    }
}

/// Every live convention of this process.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

/// Where a node keeps what its conventions produce: the log (and all that goes with it) and,
/// outside it, attendance (issue #17: personal data with a retention period).
pub struct Stores {
    pub log: Store,
    pub attendance: crate::attendance::Attendance,
    /// Cluster mode: this node's id in the cluster's list of nodes (`cluster::register`).
    pub node: Option<String>,
}

/// How a node keeps its conventions' replicas.
#[derive(Clone, Copy, Debug)]
pub struct Replicas {
    /// Cluster mode: how long a replica nobody here uses (and with no timer) is kept.
    pub idle: std::time::Duration,
    /// A convention's state is stored every this many events (and when its task stops).
    pub state_every: u64,
    /// Welcomes one invitation gets at once (`--welcome-burst`; `p::WELCOME_BURST`).
    pub welcome_burst: u32,
}

struct HubInner {
    /// In cluster mode: this node and its Redis.
    cluster: Option<Arc<cluster::Cluster>>,
    store: Store,
    /// Attendance (issue #17): where each convention's task writes who was here when.
    attendance: crate::attendance::Attendance,
    metrics: Arc<Metrics>,
    docs: DocHub,
    replicas: Replicas,
    follower: Option<Arc<dyn Follower>>,
    conventions: Mutex<HashMap<String, Handle>>,
    faults: Faults,
    tracker: TaskTracker,
    cancel: CancellationToken,
    next_conn: AtomicU64,
    /// Public audience (§24): the public feeds of this node.
    public: public::Public,
    /// Conventions being deleted (`Hub::delete`): refused, typed, until it is done.
    deleting: Mutex<std::collections::HashSet<String>>,
    /// Cluster mode: conventions another node is deleting, by id: the attempt, and this
    /// node's stop of it (one, however many times it is asked).
    peer_deletions: Mutex<HashMap<String, PeerDeletion>>,
}

/// Another node's deletion of a convention, as this node takes part in it.
struct PeerDeletion {
    attempt: String,
    /// Whether this node's part is stopped: set once, by the first ask.
    stopped: Arc<tokio::sync::OnceCell<bool>>,
}

impl Hub {
    /// Start a task for every convention in the store, so that their timers run even before
    /// anyone connects.
    pub async fn start(
        stores: Stores,
        metrics: Arc<Metrics>,
        docs: DocHub,
        replicas: Replicas,
        follower: Option<Arc<dyn Follower>>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<Hub, StoreError> {
        let Stores {
            log: store,
            attendance,
            node,
        } = stores;
        let ids = store.conventions().await?;
        let hub = Hub {
            inner: Arc::new(HubInner {
                cluster: match &store {
                    Store::Redis(r) => Some(Arc::new(cluster::Cluster::new(r.clone(), node))),
                    Store::Sqlite(_) => None,
                },
                store,
                attendance,
                metrics,
                docs,
                replicas,
                follower,
                conventions: Mutex::new(HashMap::new()),
                faults: Faults::default(),
                tracker,
                cancel,
                next_conn: AtomicU64::new(1),
                public: public::Public::default(),
                deleting: Mutex::new(Default::default()),
                peer_deletions: Mutex::new(HashMap::new()),
            }),
        };
        if let Some(c) = &hub.inner.cluster {
            c.subscribe(hub.clone(), hub.inner.cancel.clone());
        }
        for id in ids {
            let _ = hub.spawn(&id);
        }
        Ok(hub)
    }

    /// The convention's task, started unless it runs; none while the convention is being
    /// deleted (checked with the map held: a deletion's stop, which marks it first, then looks
    /// in the map, finds any task started before the mark).
    fn spawn(&self, id: &str) -> Option<Handle> {
        let mut map = self
            .inner
            .conventions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // A replica that went idle (cluster mode) is started again.
        forget_ended(&mut map, id);
        if !map.contains_key(id) && self.is_deleting(id) {
            return None;
        }
        let handle = map
            .entry(id.to_string())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(INBOX);
                let weak = tx.downgrade();
                self.inner.metrics.conventions.inc();
                let hub = self.clone();
                let key = id.to_string();
                self.inner
                    .tracker
                    .spawn(async move { hub.supervise(key, rx, weak).await });
                Handle { tx }
            })
            .clone();
        Some(handle)
    }

    /// Run a convention's task, and run it again if it fails: its inbox (and so every
    /// `Handle` to it) outlives a failure, the new task loads the convention from the store,
    /// and the connections of the failed one are told to come back (1013). A task that keeps
    /// failing right after it starts is left refusing everything, its fault named in health.
    async fn supervise(
        &self,
        id: String,
        mut inbox: mpsc::Receiver<Msg>,
        weak: mpsc::WeakSender<Msg>,
    ) {
        use futures_util::FutureExt;
        let cancel = self.inner.cancel.clone();
        let mut failures = 0u32;
        let mut preset: Option<Fault> = None;
        loop {
            let task = actor::Actor::new(
                id.clone(),
                actor::Shared {
                    store: self.inner.store.clone(),
                    attendance: self.inner.attendance.clone(),
                    metrics: self.inner.metrics.clone(),
                    docs: self.inner.docs.clone(),
                    cluster: self.inner.cluster.clone(),
                    replicas: self.inner.replicas,
                    faults: self.inner.faults.clone(),
                    follower: self.inner.follower.clone(),
                    public: self.inner.public.clone(),
                },
            );
            let started = std::time::Instant::now();
            let run = std::panic::AssertUnwindSafe(task.run(
                &mut inbox,
                weak.clone(),
                cancel.clone(),
                preset.take(),
            ))
            .catch_unwind()
            .await;
            let Err(panic) = run else { break };
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            self.inner.metrics.task_restarts.inc();
            tracing::error!(convention = %id, panic = %what, "convention task failed; restarting it");
            if cancel.is_cancelled() {
                break;
            }
            failures = if started.elapsed() > RESTART_RESET {
                1
            } else {
                failures + 1
            };
            if failures >= MAX_QUICK_FAILURES {
                preset = Some(Fault {
                    damaged: true,
                    reason: format!("its task failed {failures} times in a row: {what}"),
                });
            }
            let backoff = RESTART_BACKOFF * 2u32.pow(failures.min(6));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(backoff.min(MAX_RESTART_BACKOFF)) => {}
            }
        }
        self.inner.metrics.conventions.dec();
        self.inner.faults.set(&id, None);
        self.forget(&id);
    }

    /// A convention's task ended (an idle replica in cluster mode): drop its handle.
    fn forget(&self, id: &str) {
        let mut map = self
            .inner
            .conventions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.get(id).is_some_and(|h| h.tx.is_closed()) {
            map.remove(id);
        }
    }

    /// The handle of an existing convention.
    pub fn get(&self, id: &str) -> Option<Handle> {
        self.inner
            .conventions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .filter(|h| !h.tx.is_closed())
            .cloned()
    }

    /// The handle of a convention, started here if another node created it (cluster mode).
    pub async fn find(&self, id: &str) -> Option<Handle> {
        if let Some(h) = self.get(id) {
            return Some(h);
        }
        // Being deleted (here or by another node): `spawn` would start nothing; spare Redis
        // the lookup.
        if !self.inner.store.is_shared() || self.is_deleting(id) {
            return None;
        }
        let Store::Redis(redis) = &self.inner.store else {
            return None;
        };
        // One member asked for, never the list: anyone can name a convention (a made-up
        // invitation on /ws, /doc or HTTP), and each such request costs Redis this much.
        match redis.has_convention(id).await {
            Ok(known) => known.then(|| self.spawn(id)).flatten(),
            Err(e) => {
                tracing::warn!(error = %e, convention = id, "cannot look up a convention");
                None
            }
        }
    }

    /// Create a convention: its task, then its first event. An id deleted before is new again
    /// (nothing of the old one is left); one being deleted is refused until it is done.
    pub async fn create(&self, id: &str, name: String) -> Result<Handle, CommandError> {
        if self.is_deleting(id) {
            return Err(CommandError::Deleted);
        }
        self.inner.docs.revive(id);
        let handle = self.spawn(id).ok_or(CommandError::Deleted)?;
        if let Err(e) = handle
            .command(d::Actor::Organizer, d::Command::CreateConvention { name })
            .await
        {
            // A refused creation leaves nothing behind: the id stays free.
            let mut map = self
                .inner
                .conventions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !matches!(&e, CommandError::Rejected(r) if r.code == d::Code::Conflict) {
                map.remove(id);
            }
            return Err(e);
        }
        Ok(handle)
    }

    /// Whether the convention is being deleted now (by this node, or by another one that
    /// asked this one to stop it).
    pub fn is_deleting(&self, id: &str) -> bool {
        self.inner
            .deleting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
            || self
                .inner
                .peer_deletions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(id)
    }

    /// Delete a convention while the server runs. Its task makes what it accepted durable and
    /// stops, closing its connections (4014); its live documents store their accepted updates
    /// and stop (4410); its public viewers are closed (4014); every trace of it here goes.
    /// Then, embedded, its rows are erased from every database of the data directory by the
    /// store's own writer thread (`erase::erase_files`, as `convene delete` does); in cluster
    /// mode, every node does the same with its part of it (`cluster::Phase::Stop`), and once
    /// every live node has, its keys are deleted from Redis (`delete_shared`). Meanwhile the
    /// convention is refused (`is_deleting`), and so is a second deletion.
    pub async fn delete(&self, id: &str) -> Result<Erased, DeleteFailure> {
        if !self
            .inner
            .deleting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string())
        {
            return Err(DeleteFailure::InProgress);
        }
        // Unmarked however this ends (an error, the request dropped).
        struct Unmark<'a>(&'a Hub, &'a str);
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                self.0.deletion_over(self.1);
            }
        }
        let _unmark = Unmark(self, id);
        let sqlite = match &self.inner.store {
            Store::Sqlite(sqlite) => sqlite,
            Store::Redis(redis) => return self.delete_shared(redis, id).await,
        };
        match self.get(id) {
            Some(handle) => {
                // A convention that cannot be loaded (damaged) may be deleted too.
                let exists = handle.query(|c, _| c.exists()).await.unwrap_or(false);
                if !exists && self.inner.faults.get(id).is_none() {
                    return Err(DeleteFailure::Unknown);
                }
            }
            // No task, yet rows in the store: an erase that failed before, tried again.
            None => {
                let stored = self
                    .inner
                    .store
                    .conventions()
                    .await
                    .map_err(|e| DeleteFailure::Erase(e.into()))?;
                if !stored.iter().any(|c| c == id) {
                    return Err(DeleteFailure::Unknown);
                }
            }
        }
        // From here on the convention is gone from this process, whatever the erase says.
        let tokens = self.stop_here(id).await?;
        let files = sqlite
            .erase(id, self.inner.attendance.sqlite())
            .await
            .map_err(DeleteFailure::Erase)?;
        Ok(Erased { files, tokens })
    }

    /// Cluster mode, one attempt (a random id in every message and acknowledgement): every
    /// live node of the cluster's list says it is there, nothing touched until then (a node
    /// silent for `PEERS_PREPARE`, gone without leaving the list or cut from Redis, gives the
    /// deletion up: nothing deleted, try again); then every node stops its part (this one
    /// first), then the keys go. One deletion of an id at a time in the cluster.
    async fn delete_shared(
        &self,
        redis: &crate::store::redis::RedisStore,
        id: &str,
    ) -> Result<Erased, DeleteFailure> {
        if !redis
            .has_convention(id)
            .await
            .map_err(DeleteFailure::Store)?
        {
            return Err(DeleteFailure::Unknown);
        }
        let cluster = self.inner.cluster.clone().ok_or(DeleteFailure::Gone)?;
        let attempt = cluster::new_node_id();
        if !redis
            .lock_deletion(id, &attempt, PEER_DELETION_FORGOTTEN)
            .await
            .map_err(DeleteFailure::Store)?
        {
            return Err(DeleteFailure::InProgress);
        }
        let done = self.stop_everywhere(redis, &cluster, id, &attempt).await;
        // Deleted or given up, every node may serve (or create) the id again.
        let _ = cluster.announce(id, &attempt, cluster::Phase::Done).await;
        let _ = redis.unlock_deletion(id, &attempt).await;
        done
    }

    /// `delete_shared`'s work: every live node says it is there (nothing touched until then),
    /// then every one stops its part, then the keys go.
    async fn stop_everywhere(
        &self,
        redis: &crate::store::redis::RedisStore,
        cluster: &cluster::Cluster,
        id: &str,
        attempt: &str,
    ) -> Result<Erased, DeleteFailure> {
        let missing = self
            .all_nodes(
                redis,
                cluster,
                id,
                attempt,
                cluster::Phase::Prepare,
                PEERS_PREPARE,
            )
            .await?;
        if !missing.is_empty() {
            return Err(DeleteFailure::NodesBusy(missing));
        }
        cluster
            .announce(id, attempt, cluster::Phase::Stop)
            .await
            .map_err(DeleteFailure::Store)?;
        let tokens = self.stop_here(id).await?;
        // Everyone has been told the convention is deleted: it is, even if a node never says
        // it stopped (it left the list meanwhile, or is cut from Redis: named in the log).
        let missing = self
            .all_nodes(
                redis,
                cluster,
                id,
                attempt,
                cluster::Phase::Stop,
                PEERS_STOP,
            )
            .await?;
        if !missing.is_empty() {
            tracing::warn!(convention = id, nodes = ?missing, "deleted without these nodes saying they stopped it");
        }
        let keys = redis.delete(id).await.map_err(DeleteFailure::Store)?;
        Ok(Erased {
            files: vec![crate::erase::Deleted {
                file: "redis".into(),
                rows: keys,
            }],
            tokens,
        })
    }

    /// Announce `phase` of a deletion until every live node of the cluster's list has done it
    /// (this one included), or `within` has passed: the nodes that have not.
    async fn all_nodes(
        &self,
        redis: &crate::store::redis::RedisStore,
        cluster: &cluster::Cluster,
        id: &str,
        attempt: &str,
        phase: cluster::Phase,
        within: std::time::Duration,
    ) -> Result<Vec<String>, DeleteFailure> {
        let failed = DeleteFailure::Store;
        let step = phase.step();
        redis
            .ack(attempt, step, &cluster.node)
            .await
            .map_err(failed)?;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Pub/sub delivers to whoever listens now: said again, a node resubscribing hears
            // it (a node takes part once per attempt however often it hears it).
            cluster.announce(id, attempt, phase).await.map_err(failed)?;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let done: std::collections::HashSet<String> = redis
                .acks(attempt, step)
                .await
                .map_err(failed)?
                .into_iter()
                .collect();
            let missing: Vec<String> = redis
                .live_node_ids()
                .await
                .map_err(failed)?
                .into_iter()
                .filter(|n| !done.contains(n))
                .collect();
            if missing.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(missing);
            }
        }
    }

    /// This node's part of a deletion: the convention's task, if it runs here, makes durable
    /// what it accepted and stops (closing its connections, 4014); its live documents store
    /// their accepted updates and stop (4410); its public viewers are closed (4014); every
    /// trace of it in this process goes. The hashes of the tokens it knew.
    async fn stop_here(&self, id: &str) -> Result<Vec<String>, DeleteFailure> {
        let tokens = match self.get(id) {
            Some(handle) => handle.delete().await.ok_or(DeleteFailure::Gone)?,
            None => Vec::new(),
        };
        self.inner.docs.delete(id).await;
        self.inner.public.delete(id);
        forget_ended(
            &mut self
                .inner
                .conventions
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            id,
        );
        self.inner.faults.set(id, None);
        Ok(tokens)
    }

    /// Cluster mode: another node deletes the convention (`attempt`). Stop this node's part of
    /// it, once however many times it is asked, and serve nothing of it (nor start it again)
    /// until the deleting node says it is over (`peer_deletion_over`), or two minutes if that
    /// word is lost. Whether it is stopped.
    pub(crate) async fn stop_for_peer(&self, id: &str, attempt: &str) -> bool {
        let stopped = {
            let mut map = self
                .inner
                .peer_deletions
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let fresh = || PeerDeletion {
                attempt: attempt.to_string(),
                stopped: Arc::new(tokio::sync::OnceCell::new()),
            };
            let entry = map.entry(id.to_string()).or_insert_with(fresh);
            if entry.attempt != attempt {
                *entry = fresh();
            }
            entry.stopped.clone()
        };
        let mut first = false;
        let ok = *stopped
            .get_or_init(|| async {
                first = true;
                match self.stop_here(id).await {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(convention = id, error = %e, "a deletion's stop failed");
                        false
                    }
                }
            })
            .await;
        if first {
            let hub = self.clone();
            let (key, attempt) = (id.to_string(), attempt.to_string());
            let cancel = self.inner.cancel.clone();
            self.inner.tracker.spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(PEER_DELETION_FORGOTTEN) => hub.peer_deletion_over(&key, &attempt),
                    _ = cancel.cancelled() => {}
                }
            });
        }
        ok
    }

    /// Cluster mode: another node's deletion of `id` (`attempt`) is over, done or given up: it
    /// may be served, or created, again, and its documents start again (a convention created
    /// anew under the same id has documents of its own). Another attempt's word is ignored.
    pub(crate) fn peer_deletion_over(&self, id: &str, attempt: &str) {
        let mut map = self
            .inner
            .peer_deletions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map.get(id).is_some_and(|d| d.attempt == attempt) {
            map.remove(id);
            drop(map);
            self.inner.docs.revive(id);
        }
    }

    /// This node's deletion of `id` is over (done, or given up): it may be served, or created,
    /// again. In cluster mode its documents may start again too.
    fn deletion_over(&self, id: &str) {
        let was = self
            .inner
            .deleting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        if was && self.inner.store.is_shared() {
            self.inner.docs.revive(id);
        }
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .inner
            .conventions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Public audience (§24): the public feeds of this node.
    pub fn public(&self) -> &public::Public {
        &self.inner.public
    }

    pub fn next_conn_id(&self) -> u64 {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Attendance (issue #17): the store of who was here when.
    pub fn attendance(&self) -> &crate::attendance::Attendance {
        &self.inner.attendance
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn metrics_arc(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    /// The conventions that cannot be served now, and why.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }
}
