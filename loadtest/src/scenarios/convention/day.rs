//! The day under way: every participant's connection, what they sent and what came back,
//! and the helpers the phases share (send at a participant's pace, wait for replies, wait
//! for deliveries, count what is missing).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use convene_protocol::{Command, Event};
use tokio::sync::oneshot;

use super::inbox::{lock, Inbox, Inboxes};
use super::roster::Cast;
use super::Timing;
use crate::conn::{wait_reply, Participant, Reply};
use crate::metrics::Latency;
use crate::report::Outcome;
use crate::scenarios::Ctx;

/// How long a control step (a reply, an event the day needs) may take before the day gives
/// up: far above anything seen, well below the run's time limit.
pub const CONTROL: Duration = Duration::from_secs(30);
/// How long to wait for the last deliveries of a phase before counting what is missing.
pub const DRAIN: Duration = Duration::from_secs(10);
/// The least time between two messages of one connection: the server allows 20 per second
/// (bursts of 40); people never come near it, and neither does the day.
const PACE: Duration = Duration::from_millis(60);

/// A request in flight.
pub struct Pending {
    conn: usize,
    kind: String,
    rx: oneshot::Receiver<Reply>,
}

pub struct Day<'a> {
    pub ctx: &'a Ctx,
    pub t: Timing,
    pub cast: Cast,
    /// Participant id of each connection.
    pub ids: Arc<Vec<String>>,
    pub by_id: HashMap<String, usize>,
    /// Invitation token of each connection (the document endpoint needs them).
    pub tokens: Vec<String>,
    pub convention: String,
    pub ps: Vec<Participant>,
    last_send: Vec<Option<tokio::time::Instant>>,
    pub inboxes: Inboxes,
    /// Acknowledged commands: connection, the ok's seq, when the command was sent.
    pub acks: Vec<(usize, u64, Instant)>,
    pub ack_all: Latency,
    pub ack_by: BTreeMap<String, Latency>,
    /// Refused or unanswered commands, by "command: code".
    pub refused: BTreeMap<String, u64>,
    /// The phases: name and first seq.
    pub phases: Vec<(String, u64)>,
    max_ok: u64,
    pub out: Outcome,
    /// Document updates delivered (inserts of others read by editors and readers).
    pub doc_update: Latency,
    /// The run sheet's sequences, prepared before the plenary.
    pub sheet: super::runsheet::Prepared,
}

/// A command's `type`, as on the wire.
fn command_type(c: &Command) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(String::from))
        .unwrap_or_else(|| "command".into())
}

impl<'a> Day<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &'a Ctx,
        t: Timing,
        cast: Cast,
        ids: Arc<Vec<String>>,
        tokens: Vec<String>,
        convention: String,
        ps: Vec<Participant>,
        inboxes: Inboxes,
        out: Outcome,
    ) -> Day<'a> {
        let by_id = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let n = ps.len();
        Day {
            ctx,
            t,
            cast,
            ids,
            by_id,
            tokens,
            convention,
            ps,
            last_send: vec![None; n],
            inboxes,
            acks: Vec::new(),
            ack_all: Latency::new(),
            ack_by: BTreeMap::new(),
            refused: BTreeMap::new(),
            phases: Vec::new(),
            max_ok: 0,
            out,
            doc_update: Latency::new(),
            sheet: Default::default(),
        }
    }

    pub fn fac(&self) -> usize {
        self.cast.facilitators[0]
    }

    /// The second facilitator (the first if there is only one).
    pub fn fac2(&self) -> usize {
        *self
            .cast
            .facilitators
            .get(1)
            .unwrap_or(&self.cast.facilitators[0])
    }

    pub fn everyone(&self) -> Vec<usize> {
        (0..self.ps.len()).collect()
    }

    /// Facilitators and guarantors: they see every room.
    pub fn staff(&self) -> Vec<usize> {
        let mut s = self.cast.facilitators.clone();
        s.extend(&self.cast.guarantors);
        s
    }

    pub fn conn_of(&self, id: &str) -> Result<usize> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| anyhow!("unknown participant {id}"))
    }

    /// A phase starts: its events are those from here on.
    pub fn start_phase(&mut self, name: &str) -> u64 {
        let seen = lock(&self.inboxes)[self.fac()].last_seq();
        let first = self.max_ok.max(seen) + 1;
        self.phases.push((name.to_string(), first));
        first
    }

    pub fn check(&mut self, key: &str, value: impl serde::Serialize) {
        self.out.check(key, value);
    }

    pub fn fail(&mut self, msg: String) {
        self.out.failures.push(msg);
    }

    /// Send a command from connection `i`, at the connection's pace; the reply comes later
    /// ([`Day::settle`]).
    pub async fn send(&mut self, i: usize, command: Command) -> Result<Pending> {
        let kind = command_type(&command);
        if let Some(last) = self.last_send[i] {
            tokio::time::sleep_until(last + PACE).await;
        }
        self.last_send[i] = Some(tokio::time::Instant::now());
        let rx = self.ps[i].send(command).await?;
        Ok(Pending { conn: i, kind, rx })
    }

    /// Wait for the replies; the seq of each `ok`, `None` for a refusal (or no reply), which
    /// is also a failure of the run.
    pub async fn settle(&mut self, pending: Vec<Pending>) -> Vec<Option<u64>> {
        let mut out = Vec::with_capacity(pending.len());
        for p in pending {
            let within = self.ctx.within(CONTROL);
            let r = wait_reply(p.rx, within, &self.ctx.shared.errors).await;
            match r {
                Ok(Reply {
                    result: Ok(seq),
                    sent,
                    at,
                }) => {
                    let l = at.saturating_duration_since(sent);
                    self.ack_all.record(l, at);
                    self.ack_by.entry(p.kind).or_default().record(l, at);
                    self.acks.push((p.conn, seq, sent));
                    self.max_ok = self.max_ok.max(seq);
                    out.push(Some(seq));
                }
                Ok(Reply {
                    result: Err((code, message)),
                    ..
                }) => {
                    let key = format!("{}: {}", p.kind, code.as_str());
                    if !self.refused.contains_key(&key) {
                        eprintln!(
                            "convention: {} refused for {}: {} {message}",
                            p.kind,
                            self.ids[p.conn],
                            code.as_str()
                        );
                    }
                    *self.refused.entry(key).or_default() += 1;
                    out.push(None);
                }
                Err(e) => {
                    *self.refused.entry(format!("{}: {e}", p.kind)).or_default() += 1;
                    out.push(None);
                }
            }
        }
        out
    }

    /// A command that the day needs to go on: its `ok`'s seq, or an error.
    pub async fn cmd(&mut self, i: usize, command: Command) -> Result<u64> {
        let kind = command_type(&command);
        let p = self.send(i, command).await?;
        self.settle(vec![p])
            .await
            .pop()
            .flatten()
            .ok_or_else(|| anyhow!("{kind} from {} was refused", self.ids[i]))
    }

    /// A command the day can go on without (a refusal is recorded, and fails the run): the
    /// `ok`'s seq, if it came.
    pub async fn try_cmd(&mut self, i: usize, command: Command) -> Result<Option<u64>> {
        let p = self.send(i, command).await?;
        Ok(self.settle(vec![p]).await.pop().flatten())
    }

    /// Send these commands spread evenly over `window` (as people do, not all in the same
    /// millisecond), then wait for every reply.
    pub async fn spread(
        &mut self,
        sends: Vec<(usize, Command)>,
        window: Duration,
    ) -> Result<Vec<Option<u64>>> {
        let n = sends.len().max(1) as u32;
        let t0 = tokio::time::Instant::now();
        let mut pending = Vec::with_capacity(sends.len());
        for (k, (i, c)) in sends.into_iter().enumerate() {
            tokio::time::sleep_until(t0 + window * k as u32 / n).await;
            pending.push(self.send(i, c).await?);
        }
        Ok(self.settle(pending).await)
    }

    /// Wait (at most `within`, and never past the run's deadline) until `f` holds of the
    /// inboxes; whether it does.
    pub async fn wait_until(&self, within: Duration, f: impl Fn(&[Inbox]) -> bool) -> bool {
        let end = tokio::time::Instant::now() + self.ctx.within(within);
        loop {
            if f(&lock(&self.inboxes)) {
                return true;
            }
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The event with this seq in connection `i`'s inbox (it may still be on its way).
    pub async fn event(&self, i: usize, seq: u64) -> Result<Event> {
        if !self.wait_until(CONTROL, |ib| ib[i].has(seq)).await {
            bail!("{} never received event {seq}", self.ids[i]);
        }
        let ib = lock(&self.inboxes);
        Ok(ib[i].get(seq).map(|g| g.event.clone()).expect("waited for"))
    }

    /// The first event after `after` in connection `i`'s inbox that `f` picks: its seq and
    /// the event (waiting at most `within`).
    pub async fn find(
        &self,
        i: usize,
        after: u64,
        within: Duration,
        what: &str,
        f: impl Fn(&super::inbox::Got) -> bool,
    ) -> Result<(u64, Event, convene_protocol::Actor)> {
        let pick = |ib: &[Inbox]| {
            ib[i]
                .since(after + 1)
                .iter()
                .find(|g| f(g))
                .map(|g| (g.seq, g.event.clone(), g.by.clone()))
        };
        if !self.wait_until(within, |ib| pick(ib).is_some()).await {
            bail!("{} never received {what}", self.ids[i]);
        }
        Ok(pick(&lock(&self.inboxes)).expect("waited for"))
    }

    /// The seqs of the events connection `i` received from `from` on, that `f` keeps.
    pub fn seqs(&self, i: usize, from: u64, f: impl Fn(&Event) -> bool) -> Vec<u64> {
        lock(&self.inboxes)[i]
            .since(from)
            .iter()
            .filter(|g| f(&g.event))
            .map(|g| g.seq)
            .collect()
    }

    /// How many of `seqs` each of `conns` lacks, in all.
    pub fn missing(&self, conns: &[usize], seqs: &[u64]) -> u64 {
        let ib = lock(&self.inboxes);
        conns
            .iter()
            .map(|&c| seqs.iter().filter(|&&s| !ib[c].has(s)).count() as u64)
            .sum()
    }

    /// Wait until each of `conns` has every one of `seqs` (at most [`DRAIN`]); then how many
    /// are missing.
    pub async fn drain(&self, conns: &[usize], seqs: &[u64]) -> u64 {
        self.wait_until(DRAIN, |ib| {
            conns.iter().all(|&c| seqs.iter().all(|&s| ib[c].has(s)))
        })
        .await;
        self.missing(conns, seqs)
    }

    /// Record a check that must be 0: a failure otherwise.
    pub fn zero(&mut self, key: &str, n: u64, what: &str) {
        self.check(key, n);
        if n > 0 {
            self.fail(format!("{n} {what}"));
        }
    }
}
