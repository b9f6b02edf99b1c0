//! The task that owns one convention: decides commands in batches, appends them durably,
//! then applies, fans out and replies; fires its deadlines; holds its connections.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_protocol::{self as p, close, ServerMessage};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::unconstrained;
use tokio_util::sync::CancellationToken;
use tracing::{info_span, warn, Instrument};

use super::cluster::Cluster;
use super::view::{self, Audience};
use super::{CommandError, ConnLink, Frame, JoinError, Joined, Msg};
use crate::audit;
use crate::docs::DocHub;
use crate::domain::{self as d, Convention};
use crate::gateway::socket::Budgets;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::wire;

mod batch;
mod hearings;
mod publish;
mod remote;
// Public audience (§24).
mod public;
mod stored;
// Protocol version 2 (PROTOCOL.md section 25).
mod v2;

/// Messages taken from the inbox at once: the commands among them share one append.
const MAX_BATCH: usize = 256;
/// A chat with this text makes the task panic, in debug builds only.
#[cfg(debug_assertions)]
const TEST_PANIC_TRIGGER: &str = "convene:test:panic-in-convention-task";
/// A convention that could not be loaded tries again, when asked for something, at most this
/// often.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

use super::encode;

struct Conn {
    participant: String,
    token_hash: String,
    out: crate::gateway::outbox::Outbox<Frame>,
    /// Dropped with the connection (or with the task, if it fails): see `ConnLink::attached`.
    _attached: oneshot::Sender<()>,
    /// Protocol version 2: what it was last sent of presence (`None`: a version 1
    /// connection, which gets one `presence` message per change).
    sent: Option<super::view2::SentPresence>,
    /// Its participant sees everything (facilitator, guarantor): roles do not change.
    staff: bool,
    /// The roster version it was sent whole (`get_roster`): asked again, `not_modified`.
    roster_sent: Option<u64>,
}

/// Give a frame to connection `id` (`c`): written at once or queued (`Actor::at_once`); a full
/// queue means a slow reader, closed and left to resync, a closed one is gone (both to
/// `dead`). Whether it was taken. A function of the fields it needs, so that a loop over the
/// connections can call it without looking each one up again.
fn offer(
    c: &Conn,
    id: u64,
    frame: Frame,
    at_once: bool,
    metrics: &Metrics,
    dead: &mut Vec<u64>,
) -> bool {
    let sent = if at_once {
        c.out.try_send(frame)
    } else {
        c.out.queue(frame)
    };
    match sent {
        Ok(()) => true,
        Err(crate::gateway::outbox::Refused::Full) => {
            c.out
                .close(close::SLOW_CONSUMER, "too slow: reconnect to resync");
            metrics.slow_consumers.inc();
            dead.push(id);
            false
        }
        Err(crate::gateway::outbox::Refused::Closed) => {
            dead.push(id);
            false
        }
    }
}

enum ReplyTo {
    Conn { conn: u64, id: String },
    Http(oneshot::Sender<Result<Vec<d::Record>, CommandError>>),
    Nobody,
}

/// Where each participant is (absent: the plenary): `Convention::location`, kept from before a
/// batch to tell who changed room.
type Rooms = BTreeMap<d::ParticipantId, d::RoomId>;

/// A decided command: the seq after it, and the range of the batch's records it produced.
type Outcome = Result<(u64, usize, usize), CommandError>;

struct Pending {
    actor: d::Actor,
    command: d::Command,
    reply: ReplyTo,
}

pub struct Actor {
    id: String,
    store: Store,
    metrics: Arc<Metrics>,
    /// Live documents follow the permissions and versions decided here.
    docs: DocHub,
    /// Cluster mode: this node, the last seq applied (for the log follower), who is online
    /// here (for the presence publisher) and on each other node.
    cluster: Option<Arc<Cluster>>,
    /// How long an unused replica is kept (cluster mode), how often the state is stored.
    replicas: super::Replicas,
    /// The seq of the last state stored (or loaded).
    state_saved: u64,
    seq_tx: watch::Sender<u64>,
    /// Version 1 connections among `conns` (presence is sent to them one by one).
    v1_conns: usize,
    local_tx: watch::Sender<BTreeSet<String>>,
    remote: super::cluster::RemotePresence,
    state: Convention,
    /// Number and hash of the last audit entry.
    audit_head: (u64, String),
    conns: HashMap<u64, Conn>,
    /// The connections of each participant online here: what is addressed to one participant
    /// goes straight to them, and fan-outs look at each participant once.
    online: HashMap<String, Vec<u64>>,
    present: BTreeSet<String>,
    /// Active token hash -> participant.
    by_hash: Arc<HashMap<String, String>>,
    /// Welcomes left to each participant who joined (`p::WELCOME_BURST`), and visits: each
    /// builds a whole snapshot, so a visit has the budget of a welcome, counted apart. Keyed
    /// by participant: at most the roster.
    welcomes: Budgets<String>,
    visits: Budgets<String>,
    /// The bytes of chat each participant may still post (`p::CHAT_BYTES_BURST`). Keyed by
    /// participant: at most the roster.
    chats: Budgets<String>,
    /// Hashes of tokens revoked or replaced, to say "revoked" rather than "unknown".
    revoked: Arc<HashSet<String>>,
    /// The seq of the last event of each participant's latest requests: a retried request is
    /// answered from here, never run twice.
    requests: super::Answered,
    /// Whether the log could be loaded; if not, the task refuses everything.
    healthy: bool,
    /// Why it could not, shared with health; when the last try was.
    faults: super::Faults,
    fault: Option<super::Fault>,
    last_load: Instant,
    /// Cluster mode: when a catch-up for a join last failed (`catch_up_for_join`).
    catch_up_failed: Option<Instant>,
    /// Cluster mode: the ballot box could not be read after another node's voter mark, so
    /// secret polls lack ballots cast there: read again at this time, and no secret poll
    /// closes here (its logged result would be wrong for good) until it is read.
    ballots_retry: Option<tokio::time::Instant>,
    /// Connections found gone (or too slow) while sending: removed by `reap`.
    dead: Vec<u64>,
    /// Frames may be written to their sockets at once (see `gateway::outbox`): while the task
    /// keeps up. When requests wait, it queues them instead, so that the connections' writers
    /// write them on every core and the task gets back to the requests.
    at_once: bool,
    /// Told of what this node appends (the video controller follows the floor).
    follower: Option<Arc<dyn super::Follower>>,
    /// Attendance (issue #17): who is connected here since when, and where it is written.
    attendance: crate::attendance::Attendance,
    presence_kept: crate::attendance::Tracker,
    /// A write of attendance runs in a task of its own (the store's lock and its daily purge
    /// must not hold up the convention): at most one at a time.
    attendance_writing: bool,
    /// This task's own inbox, for that task's answer.
    me: Option<mpsc::WeakSender<Msg>>,
    /// Public audience (§24): the feed of this convention's public viewers on this node.
    public: public::PublicSide,
    // Protocol version 2 (PROTOCOL.md section 25).
    /// The roster as encoded for its latest version asked for.
    roster: Option<super::view2::RosterFrames>,
    /// Something v2 connections see of people changed since the last presence tick.
    presence_dirty: bool,
    /// Where people are and how many are online per room (`None`: to build again).
    presence_counts: Option<super::view2::PresenceCounts>,
    /// What changed of people since the last presence tick, for the viewers who see
    /// everyone (their batch is these people, not a walk over the roster).
    presence_delta: super::view2::Changed,
    /// Polls whose live tally or participation changed since the last tally tick, and
    /// whether those who see public results are concerned (both protocol versions).
    tallies_due: BTreeMap<String, bool>,
    /// Live tallies going out in slices (a large audience, `p::tally_slots`), by poll.
    tally_rounds: HashMap<String, TallyRound>,
    /// Tally ticks so far: which slice of connections a tick serves.
    tally_ticks: u64,
    /// The organizer deletes the convention (`Msg::Delete`): whom to answer once stopped.
    deleted: Option<oneshot::Sender<Vec<String>>>,
    /// Stored states and the attendance write under way, in tasks of their own: a deletion
    /// waits for them, so that none lands after the erase.
    saves: Vec<tokio::task::JoinHandle<()>>,
    attendance_task: Option<tokio::task::JoinHandle<()>>,
}

/// A poll's live tally reaching its receivers slice by slice, one per tally tick.
#[derive(Clone, Copy, Default)]
pub(super) struct TallyRound {
    /// Those who see public results are concerned.
    public: bool,
    /// Slices of the round (`None`: the tally changed, a new round starts at the next tick).
    slots: Option<u64>,
    /// Slices still to serve in this round.
    left: u64,
}

/// What every convention's task of a process shares, from the hub.
#[derive(Clone)]
pub struct Shared {
    pub store: Store,
    pub attendance: crate::attendance::Attendance,
    pub metrics: Arc<Metrics>,
    pub docs: DocHub,
    pub cluster: Option<Arc<Cluster>>,
    pub replicas: super::Replicas,
    pub faults: super::Faults,
    pub follower: Option<Arc<dyn super::Follower>>,
    /// Public audience (§24).
    pub public: super::public::Public,
}

/// Snapshots built on one participant's demand, welcomes or visits (each counted apart):
/// `burst` at once, then one every `p::WELCOME_EVERY_MS`.
fn snapshot_budget(burst: u32) -> Budgets<String> {
    Budgets::new(
        1000.0 / p::WELCOME_EVERY_MS as f64,
        f64::from(burst),
        KEEP_BUDGETS,
    )
}

/// People whose budgets are kept before the full ones are forgotten (see `Budgets`).
const KEEP_BUDGETS: usize = 4096;

impl Actor {
    pub fn new(id: String, shared: Shared) -> Self {
        let Shared {
            store,
            attendance,
            metrics,
            docs,
            cluster,
            replicas,
            faults,
            follower,
            public,
        } = shared;
        let burst = replicas.welcome_burst;
        Actor {
            faults,
            fault: None,
            last_load: Instant::now(),
            catch_up_failed: None,
            ballots_retry: None,
            follower,
            replicas,
            state_saved: 0,
            cluster,
            seq_tx: watch::channel(0).0,
            local_tx: watch::channel(BTreeSet::new()).0,
            v1_conns: 0,
            remote: Default::default(),
            store,
            metrics,
            docs,
            state: Convention::default(),
            audit_head: (0, audit::GENESIS.to_string()),
            conns: HashMap::new(),
            online: HashMap::new(),
            present: BTreeSet::new(),
            by_hash: Default::default(),
            welcomes: snapshot_budget(burst),
            visits: snapshot_budget(burst),
            chats: Budgets::new(
                f64::from(p::CHAT_BYTES_PER_SEC),
                f64::from(p::CHAT_BYTES_BURST),
                KEEP_BUDGETS,
            ),
            revoked: Default::default(),
            requests: super::Answered::default(),
            healthy: false,
            dead: Vec::new(),
            at_once: true,
            attendance,
            presence_kept: crate::attendance::Tracker::default(),
            attendance_writing: false,
            me: None,
            public: public::PublicSide::new(public.feed(&id)),
            id,
            roster: None,
            presence_dirty: false,
            presence_counts: None,
            presence_delta: Default::default(),
            tallies_due: BTreeMap::new(),
            tally_rounds: HashMap::new(),
            tally_ticks: 0,
            deleted: None,
            saves: Vec::new(),
            attendance_task: None,
        }
    }

    /// Serve the convention until `cancel`, or until the inbox closes (or, in cluster mode,
    /// the replica goes idle). With `fault`, the task does not load the log and refuses
    /// everything (the hub gave up restarting it).
    pub async fn run(
        mut self,
        inbox: &mut mpsc::Receiver<Msg>,
        me: mpsc::WeakSender<Msg>,
        cancel: CancellationToken,
        fault: Option<super::Fault>,
    ) {
        let span = info_span!("convention", id = %self.id);
        self.me = Some(me.clone());
        async move {
            match fault {
                Some(f) => {
                    warn!(reason = %f.reason, "convention left refusing");
                    self.set_fault(Some(f));
                }
                None => self.try_load().await,
            }
            let helpers = cancel.child_token();
            // Stopped however this task ends, a panic too: the task run again after one
            // starts its own (these, alive, would follow for a task that is gone).
            let _helpers_stop = helpers.clone().drop_guard();
            if let Some(c) = &self.cluster {
                // `send` stores nothing while no receiver exists (there is none yet): the
                // follower would start from 0, read the whole log again, and wait a second
                // for a change that never comes before following.
                self.seq_tx.send_replace(self.state.seq);
                c.follow(self.id.clone(), self.seq_tx.subscribe(), me.clone(), helpers.clone());
                c.presence(self.id.clone(), self.local_tx.subscribe(), me, helpers.clone());
                // Public audience (§24): viewer counts over the nodes.
                c.public_viewers(self.id.clone(), self.public.feed.clone(), helpers.clone());
            }
            // Public audience (§24): the first view, then the count once a second.
            self.public_refresh(false);
            let mut public_tick = tokio::time::interval(Duration::from_millis(p::PUBLIC_COUNT_EVERY_MS));
            public_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut attendance_tick = tokio::time::interval(self.attendance.settings.flush_every);
            attendance_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Protocol version 2: presence goes out at most once per tick.
            let mut presence_tick =
                tokio::time::interval(Duration::from_millis(p::PRESENCE_TICK_MS));
            presence_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Cluster mode: the follower's safety net (`FollowCheck`).
            let mut follow_check = tokio::time::interval(super::cluster::FOLLOW_CHECK);
            follow_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut at_check = super::cluster::FollowCheck::new(self.state.seq);
            // Live tallies go out at most `TALLIES_PER_SECOND` times per poll.
            let mut tally_tick =
                tokio::time::interval(Duration::from_millis(1000 / p::TALLIES_PER_SECOND));
            tally_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Cluster mode: when the replica was last used here. What other nodes do (their
            // records, their presence every heartbeat) does not count: it would keep every
            // replica of a convention active anywhere.
            let mut used_at = tokio::time::Instant::now();
            loop {
                let deadline = self.state.next_deadline();
                let has_deadline = deadline.is_some();
                let unused = self.cluster.is_some()
                    && self.conns.is_empty()
                    && self.public.feed.local() == 0
                    && !has_deadline;
                if !unused {
                    used_at = tokio::time::Instant::now();
                }
                let mut sleep = Duration::from_millis(deadline.map_or(0, |t| t.saturating_sub(now_ms())));
                if let Some(retry) = self.ballots_retry {
                    // A due timer may close a secret poll, which waits for the box.
                    sleep = sleep.max(retry.saturating_duration_since(tokio::time::Instant::now()));
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => break,
                    _ = follow_check.tick(), if self.cluster.is_some() && self.healthy => {
                        self.check_followed(&mut at_check).await;
                    }
                    // Attendance (issue #17): written down every flush period.
                    _ = attendance_tick.tick(), if !self.presence_kept.is_idle() => {
                        self.start_attendance_write();
                    }
                    // Public audience (§24).
                    _ = public_tick.tick(), if self.public.watched(&self.state) => {
                        self.public_refresh(true);
                    }
                    // What fans out runs without tokio's cooperative budget, which would
                    // stop writing frames at once after 128 sockets (see `outbox`): one
                    // batch at a time, it yields between batches as before.
                    _ = tally_tick.tick(), if !self.tallies_due.is_empty() || !self.tally_rounds.is_empty() => {
                        self.at_once = inbox.is_empty();
                        unconstrained(async {
                            self.flush_tallies();
                            self.reap();
                        }).await;
                    }
                    _ = presence_tick.tick(), if self.presence_dirty => {
                        self.at_once = inbox.is_empty();
                        unconstrained(async {
                            self.flush_presence();
                            self.reap();
                        }).await;
                    }
                    msg = inbox.recv() => {
                        let Some(first) = msg else { break };
                        self.at_once = inbox.is_empty();
                        unconstrained(self.handle(crate::live::with_waiting(first, inbox, MAX_BATCH))).await;
                        self.reap();
                        if self.deleted.is_some() {
                            break;
                        }
                    }
                    _ = tokio::time::sleep(sleep), if has_deadline => {
                        let tick = Pending { actor: d::Actor::Timer, command: d::Command::Tick, reply: ReplyTo::Nobody };
                        self.at_once = inbox.is_empty();
                        unconstrained(self.run_batch(vec![tick])).await;
                        self.reap();
                    }
                    // Cluster mode: the ballot box, read again (see `ballots_retry`).
                    _ = tokio::time::sleep_until(self.ballots_retry.unwrap_or_else(tokio::time::Instant::now)), if self.ballots_retry.is_some() => {
                        self.apply_remote(Vec::new()).await;
                    }
                    // Cluster mode: a replica nobody here uses, with no timer to watch, goes;
                    // it is loaded again from the log when someone comes back.
                    _ = tokio::time::sleep_until(used_at + self.replicas.idle), if unused => {
                        inbox.close();
                        let rest: Vec<Msg> = std::iter::from_fn(|| inbox.try_recv().ok()).collect();
                        let wanted = rest.iter().any(|m| matches!(m, Msg::Join { .. } | Msg::Command { .. } | Msg::Query(_) | Msg::QueryAs { .. }));
                        self.handle(rest).await;
                        if !wanted || self.conns.is_empty() {
                            break;
                        }
                    }
                }
                if let Some(save) = self.state_to_save(false) {
                    self.saves.retain(|s| !s.is_finished());
                    self.saves.push(tokio::spawn(save));
                }
                // Public audience (§24): only if the log moved (cheap otherwise).
                self.public_refresh(false);
                if self.presence_kept.is_full() {
                    self.start_attendance_write();
                }
            }
            if let Some(reply) = self.deleted.take() {
                return self.stop_deleted(inbox, reply, helpers).await;
            }
            // Whoever takes the convention up next (a restart, another node) starts here.
            if let Some(save) = self.state_to_save(true) {
                save.await;
            }
            // Attendance (issue #17): everyone here leaves now; written before the task ends.
            self.presence_kept.all_left(now_ms());
            self.write_attendance().await;
            helpers.cancel();
            self.v1_conns = 0;
            for (_, c) in self.conns.drain() {
                c.out.close(close::GOING_AWAY, "server shutting down");
            }
        }
        .instrument(span)
        .await
    }

    /// Load the convention from the store; on failure, refuse everything and say why.
    async fn try_load(&mut self) {
        self.last_load = Instant::now();
        match self.load().await {
            Ok(()) => {
                self.healthy = true;
                self.set_fault(None);
                // Cluster mode: the follower reads on from what was loaded (after a failed
                // first load it would read the whole log again and again).
                self.seq_tx.send_replace(self.state.seq);
                // Protocol version 2: a state loaded again, counts built again.
                self.locations_changed();
            }
            Err(e) => {
                warn!(error = %e, "convention log could not be loaded");
                self.healthy = false;
                self.set_fault(Some(super::Fault {
                    damaged: matches!(e, StoreError::Corrupt(_)),
                    reason: e.to_string(),
                }));
            }
        }
    }

    fn set_fault(&mut self, fault: Option<super::Fault>) {
        if fault.is_some() {
            self.healthy = false;
        }
        self.faults.set(&self.id, fault.clone());
        self.fault = fault;
    }

    async fn handle(&mut self, msgs: Vec<Msg>) {
        // The store was away: try again now (it may be back), but not at every message (a
        // damaged log is read whole at every try).
        if !self.healthy
            && self
                .fault
                .as_ref()
                .is_none_or(|f| !f.reason.starts_with("its task failed"))
            && self.last_load.elapsed() >= RELOAD_EVERY
        {
            self.try_load().await;
        }
        let mut batch = Vec::new();
        for msg in msgs {
            if self.deleted.is_some() {
                self.refuse_deleted(msg);
                continue;
            }
            match msg {
                Msg::Command {
                    actor,
                    command,
                    reply,
                } => batch.push(Pending {
                    actor,
                    command,
                    reply: ReplyTo::Http(reply),
                }),
                Msg::Request { conn, id, command } => {
                    // A connection that left before its request was read gets no reply.
                    if let Some(c) = self.conns.get(&conn) {
                        let who = c.participant.clone();
                        let pend = Pending {
                            actor: d::Actor::Participant(who.clone()),
                            command,
                            reply: ReplyTo::Conn { conn, id },
                        };
                        // A visit builds the visitor a whole snapshot (version 1): before
                        // anything is decided, within its budget (a retry is answered as ever).
                        if matches!(pend.command, d::Command::Visit { .. })
                            && self.done_before(&pend).is_none()
                            && !self.visits.take(who.clone())
                        {
                            self.reply(
                                pend.reply,
                                Err(CommandError::TooOften(
                                    "you changed room too often: wait a few seconds",
                                )),
                                &[],
                            );
                            continue;
                        }
                        // A chat line within its author's budget in bytes (facilitators
                        // aside): what one person adds to the log and sends everyone.
                        if let d::Command::SendChat { text, .. } = &pend.command {
                            let cost = (text.len() as u64 + u64::from(p::CHAT_LINE_COST))
                                .min(u64::from(p::CHAT_BYTES_BURST));
                            let staff = self
                                .state
                                .people
                                .get(&who)
                                .is_some_and(|person| person.has(d::Role::Facilitator));
                            if !staff
                                && self.done_before(&pend).is_none()
                                && !self.chats.take_n(who, cost as f64)
                            {
                                self.reply(
                                    pend.reply,
                                    Err(CommandError::TooOften(
                                        "you posted too much chat at once: wait a few seconds",
                                    )),
                                    &[],
                                );
                                continue;
                            }
                        }
                        batch.push(pend);
                    }
                }
                other => {
                    if !batch.is_empty() {
                        self.run_batch(std::mem::take(&mut batch)).await;
                    }
                    match other {
                        Msg::Join {
                            token_hash,
                            link,
                            last_seq,
                            reply,
                        } => {
                            // A client coming from another node may have seen records our
                            // follower has not brought yet: read them first, so that its
                            // welcome is not behind what it saw (no event twice). If the log
                            // cannot be read, it is refused (retryable): a welcome behind its
                            // `last_seq` would replace its newer state with an older one. A
                            // log read that has no more than this is the truth (the client's
                            // `last_seq` is beyond it): welcomed at the log's end.
                            let refused = self.cluster.is_some()
                                && last_seq.is_some_and(|s| s > self.state.seq)
                                && !self.catch_up_for_join().await;
                            let joined = if refused {
                                Err(JoinError::Unavailable(format!(
                                    "this node could not read the convention up to seq {}",
                                    last_seq.unwrap_or_default()
                                )))
                            } else {
                                self.join(token_hash, link)
                            };
                            let _ = reply.send(joined);
                        }
                        Msg::Leave { conn } => self.leave(conn),
                        Msg::GetRoster { conn, version } => self.get_roster(conn, version),
                        Msg::Remote(records) => self.apply_remote(records).await,
                        Msg::RemotePresence { node, set } => self.remote_presence(node, set),
                        Msg::Query(q) => q(&self.state, &self.present),
                        Msg::QueryAs { token_hash, query } => {
                            let who = self
                                .by_hash
                                .get(&token_hash)
                                .and_then(|p| self.state.people.get(p));
                            query(&self.state, who)
                        }
                        Msg::Attendance(reply) => {
                            let _ = reply.send(self.presence_kept.to_write(now_ms()).0);
                        }
                        Msg::AttendanceWritten {
                            mark,
                            stretches,
                            ok,
                        } => {
                            self.attendance_writing = false;
                            self.attendance_done(mark, stretches, ok);
                        }
                        // The batch before it is durable and answered (above); what comes
                        // after it is refused.
                        Msg::Delete(reply) => self.deleted = Some(reply),
                        Msg::Command { .. } | Msg::Request { .. } => unreachable!("batched above"),
                    }
                }
            }
        }
        if !batch.is_empty() {
            self.run_batch(batch).await;
        }
    }

    fn join(&mut self, token_hash: String, link: ConnLink) -> Result<Joined, JoinError> {
        if !self.healthy {
            return Err(match &self.fault {
                Some(f) if f.damaged => JoinError::Damaged(f.reason.clone()),
                Some(f) => JoinError::Unavailable(f.reason.clone()),
                None => JoinError::Unavailable("the convention is loading".into()),
            });
        }
        if !self.state.exists() {
            return Err(JoinError::Unknown);
        }
        let Some(participant) = self.by_hash.get(&token_hash).cloned() else {
            return Err(if self.revoked.contains(&token_hash) {
                JoinError::Revoked
            } else {
                JoinError::Unknown
            });
        };
        if !self.state.people.contains_key(&participant) {
            return Err(JoinError::Unknown);
        }
        // Protocol version 2: the counts, before the joiner counts as online.
        if link.protocol == p::PROTOCOL_V2 {
            self.ensure_counts();
        }
        let person = self
            .state
            .people
            .get(&participant)
            .ok_or(JoinError::Unknown)?;
        if self.state.is_removed(&participant) {
            return Err(JoinError::Removed);
        }
        // Before any snapshot is built: a hello in a loop must not cost one each.
        if !self.welcomes.take(participant.clone()) {
            return Err(JoinError::TooOften);
        }
        let first = {
            let ids = self.online.entry(participant.clone()).or_default();
            ids.push(link.id);
            ids.len() == 1
        };
        let was_present = !self.present.insert(participant.clone());
        if !was_present {
            if let Some(c) = self.presence_counts.as_mut() {
                c.online_changed(&self.state, &participant, true);
            }
        }
        let staff = person.sees_everything();
        let mut sent = None;
        let counts = self.presence_counts.as_ref();
        let snapshot = if let Some(counts) = counts.filter(|_| link.protocol == p::PROTOCOL_V2) {
            let index = super::view2::PresenceIndex::new(&self.state, &self.present, counts);
            let snap = super::view2::snapshot(
                &self.id,
                &self.state,
                person,
                &self.present,
                &self.audit_head,
                &index,
            );
            sent = snap
                .presence
                .as_ref()
                .map(super::view2::SentPresence::from_view);
            snap
        } else {
            view::snapshot(
                &self.id,
                &self.state,
                person,
                &self.present,
                &self.audit_head,
            )
        };
        let welcome = ServerMessage::Welcome {
            protocol: link.protocol,
            you: wire::person_out(person, person.sees_everything()),
            server_time: now_ms(),
            snapshot,
        };
        // A fresh queue always has room for the welcome.
        let _ = link.out.try_send(encode(&welcome));
        self.metrics.deliveries.inc();
        if first {
            self.local_tx.send_modify(|s| {
                s.insert(participant.clone());
            });
            self.presence_kept.arrived(&participant, now_ms());
        }
        if !was_present {
            self.presence(&participant, true);
        }
        self.v1_conns += usize::from(sent.is_none());
        self.conns.insert(
            link.id,
            Conn {
                participant: participant.clone(),
                token_hash,
                out: link.out,
                _attached: link.attached,
                sent,
                staff,
                roster_sent: None,
            },
        );
        self.metrics.connections.inc();
        // Public audience (§24): the staff learn how many watch.
        if self
            .state
            .people
            .get(&participant)
            .is_some_and(|p| p.sees_everything())
        {
            self.public_count_to_staff(Some(link.id));
        }
        // One invitation, a few places at once: past the limit, the oldest goes (a phone's
        // connection that died without a word is the likeliest to be the oldest).
        let over: Vec<u64> = self.online.get(&participant).map_or_else(Vec::new, |ids| {
            let n = ids.len().saturating_sub(p::MAX_CONNECTIONS_PER_TOKEN);
            ids[..n].to_vec()
        });
        for id in over {
            if let Some(c) = self.conns.get(&id) {
                c.out.close(
                    close::TOO_MANY_CONNECTIONS,
                    "this invitation is open in too many places",
                );
            }
            self.metrics.token_evictions.inc();
            self.leave(id);
        }
        Ok(Joined { participant })
    }

    fn leave(&mut self, conn: u64) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        self.v1_conns -= usize::from(c.sent.is_none());
        self.metrics.connections.dec();
        let last = match self.online.get_mut(&c.participant) {
            Some(ids) => {
                ids.retain(|id| *id != conn);
                ids.is_empty()
            }
            None => false,
        };
        if last {
            self.presence_kept.left(&c.participant, now_ms());
            self.online.remove(&c.participant);
            self.local_tx.send_modify(|s| {
                s.remove(&c.participant);
            });
            // Still online through another node?
            if !self.remote.contains(&c.participant) {
                self.present.remove(&c.participant);
                self.online_changed(&c.participant, false);
                self.presence(&c.participant, false);
            }
        }
    }

    /// Attendance (issue #17): write down the ended stretches and the open ones (ending now);
    /// what fails to be written is kept (bounded) for the next try.
    /// Write attendance down (when the task ends: the last word, awaited).
    async fn write_attendance(&mut self) {
        let (stretches, mark) = self.presence_kept.to_write(now_ms());
        if stretches.is_empty() {
            return;
        }
        let n = stretches.len() as u64;
        let ok = match self.attendance.write(&self.id, stretches).await {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, waiting = self.presence_kept.waiting(), dropped = self.presence_kept.dropped, "attendance not written");
                false
            }
        };
        self.attendance_done(mark, n, ok);
    }

    /// A write of attendance ended: forget what it carried, or count the failure (what it
    /// carried stays for the next write).
    fn attendance_done(&mut self, mark: crate::attendance::Mark, stretches: u64, ok: bool) {
        if ok {
            self.presence_kept.written(mark);
            self.metrics.attendance_written.inc_by(stretches);
        } else {
            self.metrics.attendance_failures.inc();
        }
    }

    /// Write attendance down in a task of its own, which answers with `AttendanceWritten`;
    /// nothing if a write is already under way (the next tick carries what came since).
    fn start_attendance_write(&mut self) {
        if self.attendance_writing {
            return;
        }
        let Some(me) = self.me.as_ref().and_then(|m| m.upgrade()) else {
            return;
        };
        let (stretches, mark) = self.presence_kept.to_write(now_ms());
        if stretches.is_empty() {
            return;
        }
        self.attendance_writing = true;
        let n = stretches.len() as u64;
        let (store, id) = (self.attendance.clone(), self.id.clone());
        let (waiting, dropped) = (self.presence_kept.waiting(), self.presence_kept.dropped);
        self.attendance_task = Some(tokio::spawn(async move {
            let ok = match store.write(&id, stretches).await {
                Ok(()) => true,
                Err(e) => {
                    warn!(convention = %id, error = %e, waiting, dropped, "attendance not written");
                    false
                }
            };
            let _ = me
                .send(Msg::AttendanceWritten {
                    mark,
                    stretches: n,
                    ok,
                })
                .await;
        }));
    }

    /// A message that came after `Msg::Delete`: refused, typed, nothing decided.
    fn refuse_deleted(&mut self, msg: Msg) {
        match msg {
            Msg::Command { reply, .. } => {
                let _ = reply.send(Err(CommandError::Deleted));
            }
            Msg::Request { conn, id, .. } => {
                self.reply(ReplyTo::Conn { conn, id }, Err(CommandError::Deleted), &[]);
            }
            Msg::Join { reply, .. } => {
                let _ = reply.send(Err(JoinError::Deleted));
            }
            Msg::Delete(reply) => drop(reply),
            // Queries and attendance reports are dropped: their askers get `None`.
            Msg::Query(_)
            | Msg::QueryAs { .. }
            | Msg::Attendance(_)
            | Msg::Leave { .. }
            | Msg::GetRoster { .. }
            | Msg::Remote(_)
            | Msg::RemotePresence { .. }
            | Msg::AttendanceWritten { .. } => {}
        }
    }

    /// The end of a deleted convention's task: no handle reaches it any more (its inbox is
    /// closed, what waited in it refused), the writes it started are done (so none lands
    /// after the erase), and its connections are closed with 4014. Its state and attendance
    /// are not stored: they are about to be erased.
    async fn stop_deleted(
        mut self,
        inbox: &mut mpsc::Receiver<Msg>,
        reply: oneshot::Sender<Vec<String>>,
        helpers: CancellationToken,
    ) {
        inbox.close();
        while let Ok(msg) = inbox.try_recv() {
            self.refuse_deleted(msg);
        }
        helpers.cancel();
        for save in std::mem::take(&mut self.saves) {
            let _ = save.await;
        }
        if let Some(write) = self.attendance_task.take() {
            let _ = write.await;
        }
        self.v1_conns = 0;
        for (_, c) in self.conns.drain() {
            c.out.close(close::DELETED, "the convention was deleted");
            self.metrics.connections.dec();
        }
        let mut tokens: Vec<String> = self.by_hash.keys().cloned().collect();
        tokens.extend(self.revoked.iter().cloned());
        let _ = reply.send(tokens);
    }

    /// Queue a frame; a full queue means a slow reader: close it, it will resync.
    fn send(&mut self, conn: u64, frame: &Frame) {
        if self.queue(conn, frame.clone()) {
            self.metrics.deliveries.inc();
        }
    }

    /// `send` for the fan-out: the frame is given (not cloned again), and the caller counts
    /// the deliveries of a whole batch at once (one shared counter update per batch, not one
    /// per connection). Whether the frame was queued.
    fn queue(&mut self, conn: u64, frame: Frame) -> bool {
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        offer(c, conn, frame, self.at_once, &self.metrics, &mut self.dead)
    }

    /// Remove the connections found gone while sending. Iterative: a departure tells the
    /// others, which may find more gone (thousands at once after a network cut), without
    /// nesting calls.
    fn reap(&mut self) {
        while let Some(id) = self.dead.pop() {
            self.leave(id);
        }
    }
}
