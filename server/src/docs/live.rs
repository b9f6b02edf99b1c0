//! One live document's content and awareness, and what to do with each frame a connection
//! sends: the synchronous heart of the document task (`actor.rs` does the waiting, storing
//! and sending). Every budget a document connection controls is checked here, in one place:
//! the document's size, its nesting depth (`nesting.rs`, before yrs sees an update), the
//! awareness states (size, ids per connection, per document), and a guarantor's silence.
//! The fuzz test (server/tests/doc_fuzz.rs) drives this same code.

use std::collections::HashMap;

use axum::body::Bytes;
use tracing::{debug, error, warn};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact};

use super::frames::{decode, decode_update, encode};
use super::nesting::{self, Invalid, Nesting};
use super::{close, MAX_DOCUMENT_BYTES};

/// The largest awareness state (JSON) of one client.
pub const MAX_AWARENESS_STATE_BYTES: usize = 4 * 1024;
/// Awareness client ids one connection may announce (a provider announces one; tabs that
/// share a connection a few).
pub const MAX_AWARENESS_CLIENTS_PER_CONNECTION: usize = 4;
/// Awareness states a document holds at most, and their bytes: beyond, new states are
/// dropped (neither kept nor relayed) until others leave.
pub const MAX_AWARENESS_STATES: usize = 512;
pub const MAX_AWARENESS_BYTES: usize = 256 * 1024;
/// Sync step 2 answers kept between changes (by the state vector they answer), and their
/// bytes: the latest one is always kept, whatever its size.
const ANSWERS_KEPT: usize = 4;
const ANSWERS_BYTES: usize = 4 * 1024 * 1024;

/// What a document takes in between two measures of its real encoded size: bytes of updates
/// applied, plus the length of the content they deleted (a deletion is a few bytes, and may
/// free megabytes). A measure encodes the whole document (16 MiB of text: about 80 ms of the
/// document's task, release build, on a loaded machine), and is taken only when the sum of
/// updates would pass the budget. Rationing it so bounds its cost whatever a writer sends: one
/// encoding of the document per 2 MiB taken in, so per MiB received at least (what is deleted
/// was written first), the order of a compaction's (`COMPACT_BYTES`: one per 4 MiB stored).
/// Measuring at every refusal would cost a 16 MiB encoding per frame of a writer inserting and
/// deleting a character in a full document. Between measures the sum rules: a document really
/// near its budget takes more only once 2 MiB were deleted or written since its last measure.
/// The measure is the cached answer to an empty state vector: a sync step 1 or a compaction
/// before the next change uses it again, and the content is not measured again before it
/// changes.
pub const MEASURE_EVERY: usize = MAX_DOCUMENT_BYTES / 8;
/// The most a document may hold, counted as the budget counts, for an update that only
/// deletes: those pass the budget (a full document can be trimmed), but a deletion that cuts
/// a run of text into pieces makes the document's encoding grow (each piece is an item of its
/// own, about 14 bytes per cut for 3.6 bytes of update), so deletions alone may not grow a
/// document without end. Trimming never comes near it.
pub const MAX_DOCUMENT_BYTES_DELETING: usize = 2 * MAX_DOCUMENT_BYTES;
/// What an update that only deletes counts against the budget, per range its delete set names
/// (when more than its bytes): a range may cut a run at both ends, two items more in the
/// encoding, about 14 bytes each. Counted by its bytes alone (3.6 bytes a cut), deleting every
/// other character of a full document would grow its encoding four times past the ceiling
/// unmeasured, and then nothing, not even a deletion, would fit again.
pub const DELETE_RANGE_COST: usize = 32;

/// What an update of `len` bytes counts against the budget: its bytes, or for one that only
/// deletes, what its cuts may add to the encoding if that is more (`DELETE_RANGE_COST`).
fn charge(scan: &nesting::Scan, len: usize) -> usize {
    if scan.only_deletes() {
        len.max(scan.delete_ranges().saturating_mul(DELETE_RANGE_COST))
    } else {
        len
    }
}

/// A number never handed out before in this process.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What a connection may do with the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    pub writable: bool,
    /// A guarantor: watches, never appears. Its awareness reaches nobody but itself.
    pub silent: bool,
}

/// What the document task does with one frame.
#[derive(Debug)]
pub enum Outcome {
    Nothing,
    /// To the sender only.
    Reply(Bytes),
    /// An update, applied: store it, then relay `relay` to the other connections.
    Update {
        update: Vec<u8>,
        relay: Bytes,
    },
    /// Awareness to relay to every connection, the sender's too (now, or coalesced later
    /// within the sender's relay budget: `clients` are the ids it changed).
    Awareness {
        frame: Bytes,
        clients: Vec<ClientID>,
    },
    /// Close the sender with this code, after `before` if any.
    Close {
        code: u16,
        reason: &'static str,
        before: Option<Bytes>,
    },
    /// yrs panicked applying an update: the document may be half-changed, reload it.
    Broken,
}

fn close(code: u16, reason: &'static str) -> Outcome {
    Outcome::Close {
        code,
        reason,
        before: None,
    }
}

fn auth(reason: &str) -> Bytes {
    encode(&Message::Auth(Some(reason.into())))
}

/// The auth message of a document stored too deep (before the nesting limit): nobody writes.
pub const TOO_DEEP_READ_ONLY: &str = "read-only: this document is nested too deep to be changed";

/// A sync step 2 answer kept for a state vector: the frame, and where its update begins.
struct Answer {
    state_vector: Vec<u8>,
    frame: Bytes,
    header: usize,
}

/// One live document.
pub struct LiveDoc {
    awareness: Awareness,
    nesting: Nesting,
    /// What the size limit counts: the document's encoded size when last measured (at a
    /// snapshot, or when the sum of updates would pass the limit), plus the bytes of every
    /// update applied since. After loading, the bytes of the stored parts.
    size: usize,
    /// `size` is the encoded size of the current content: nothing was applied since it was
    /// measured.
    measured: bool,
    /// Taken in since the last measure (`MEASURE_EVERY`).
    unmeasured: usize,
    /// Measures taken (for tests and metrics).
    measures: u64,
    /// Answers to sync step 1 since the last change: a thousand requests for the whole
    /// document share one encoding.
    answers: Vec<Answer>,
    /// This content's number, new at every change and unique in the process: what a
    /// rendering of the current content is kept under (`DocHub::rendered`).
    generation: u64,
    /// Awareness: the connection (and its participant) that announced each client id, the
    /// ids each connection announced, and the bytes of each state held.
    owners: HashMap<ClientID, u64>,
    claims: HashMap<u64, usize>,
    participants: HashMap<u64, String>,
    held: HashMap<ClientID, usize>,
    held_bytes: usize,
}

impl LiveDoc {
    /// A document from its stored parts (a snapshot, then the updates after it), each judged
    /// like an update from a client, but never refused: what an older server stored loads.
    /// A part nesting values too deep for yrs to decode is left out; the delete set of a
    /// part that would make yrs recurse through a structure deeper than the limit is left
    /// out (both logged); a document deeper than the limit is served read-only.
    pub fn load<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Result<LiveDoc, String> {
        let doc = Doc::new();
        let mut nesting = Nesting::loading();
        let mut size = 0;
        {
            let mut txn = doc.transact_mut();
            for (i, data) in parts.into_iter().enumerate() {
                size += data.len();
                let scan = match nesting::scan(data) {
                    Ok(s) => s,
                    Err(Invalid::TooDeep) => {
                        error!(part = i, "stored update nests values too deep: left out");
                        continue;
                    }
                    Err(Invalid::Malformed(why)) => {
                        if decode_update(data).is_some() {
                            error!(part = i, why, "stored update unreadable here: left out");
                            continue;
                        }
                        return Err(format!("stored update {i} does not decode: {why}"));
                    }
                };
                let judged = nesting.judge(&scan);
                let stripped;
                let data = if nesting.deletes_safe(&scan, &judged) {
                    data
                } else {
                    warn!(part = i, "stored deletes of a structure too deep: left out");
                    stripped = scan.without_deletes(data);
                    &stripped[..]
                };
                let update = decode_update(data)
                    .ok_or_else(|| format!("stored update {i} does not decode"))?;
                txn.apply_update(update)
                    .map_err(|e| format!("stored update {i} does not apply: {e}"))?;
                nesting.record(judged);
            }
        }
        nesting.loaded();
        if nesting.too_deep() {
            warn!(
                deepest = nesting.deepest(),
                "document stored deeper than the limit: read-only"
            );
        }
        Ok(LiveDoc {
            awareness: Awareness::new(doc),
            nesting,
            size,
            // The stored parts may hold many times the document (writes deleted since): the
            // first time their sum would pass the budget, the document is measured.
            measured: false,
            unmeasured: MEASURE_EVERY,
            ..LiveDoc::empty()
        })
    }

    /// An empty document.
    pub fn empty() -> LiveDoc {
        LiveDoc {
            awareness: Awareness::new(Doc::new()),
            nesting: Nesting::default(),
            size: 0,
            measured: true,
            unmeasured: 0,
            measures: 0,
            answers: Vec::new(),
            generation: next_generation(),
            owners: HashMap::new(),
            claims: HashMap::new(),
            participants: HashMap::new(),
            held: HashMap::new(),
            held_bytes: 0,
        }
    }

    pub fn doc(&self) -> &Doc {
        self.awareness.doc()
    }

    /// A connection of `participant` is open (its awareness ids may move to another of its
    /// connections).
    pub fn register(&mut self, conn: u64, participant: &str) {
        self.participants.insert(conn, participant.to_string());
    }

    /// The document holds structure deeper than the limit (stored before it existed): it is
    /// served, and nobody may change it.
    pub fn read_only(&self) -> bool {
        self.nesting.too_deep()
    }

    /// What the size limit counts now (see `size`).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Measures of the real encoded size taken so far.
    pub fn measures(&self) -> u64 {
        self.measures
    }

    /// A snapshot of `len` bytes, the current content's `full_state`, replaced the stored
    /// updates: a measure.
    pub fn compacted(&mut self, len: usize) {
        self.size = len;
        self.measured = true;
        self.unmeasured = 0;
    }

    /// The store holds `len` bytes of this document (another node's snapshot, and the updates
    /// after it, just taken in): what the limit counts until it is measured.
    pub fn stored(&mut self, len: usize) {
        self.size = len;
        self.measured = false;
    }

    /// Whether `len` more bytes keep the document within `limit`: judged on the sum (`size`),
    /// and, when that would pass, on the document's real encoded size, measured if it may be
    /// (`MEASURE_EVERY`). The update's bytes are what it may add to the encoding: the blocks it
    /// brings, at most as long as encoded there (or a few bytes per cut a deletion makes).
    fn fits(&mut self, len: usize, limit: usize) -> bool {
        if self.size + len <= limit {
            return true;
        }
        if !self.measured && self.unmeasured >= MEASURE_EVERY {
            self.measures += 1;
            let real = self.full_state().len();
            debug!(sum = self.size, real, "document measured");
            self.size = real;
            self.measured = true;
            self.unmeasured = 0;
        }
        self.size + len <= limit
    }

    /// An update of `len` bytes was applied, and it deleted `removed` of the content (`apply`).
    fn took_in(&mut self, len: usize, removed: usize) {
        self.size += len;
        self.measured = false;
        self.unmeasured = self.unmeasured.saturating_add(len).saturating_add(removed);
    }

    /// What the document holds now: where a later `update_since` starts.
    pub fn state_vector(&self) -> StateVector {
        self.doc().transact().state_vector()
    }

    /// One update frame of what the document gained since `sv` (and its deletions): what a
    /// connection that had it at `sv` lacks.
    pub fn update_since(&self, sv: &StateVector) -> Bytes {
        let update = self.doc().transact().encode_state_as_update_v1(sv);
        encode(&Message::Sync(SyncMessage::Update(update)))
    }

    /// Our sync step 1: what we have.
    pub fn step1(&self) -> Bytes {
        let sv = self.doc().transact().state_vector();
        encode(&Message::Sync(SyncMessage::SyncStep1(sv)))
    }

    /// The sync step 2 answering `sv`, encoded once per change of the document.
    fn step2(&mut self, sv: &StateVector) -> Bytes {
        self.answer(sv).frame.clone()
    }

    fn answer(&mut self, sv: &StateVector) -> &Answer {
        let key = sv.encode_v1();
        if let Some(i) = self.answers.iter().position(|a| a.state_vector == key) {
            return &self.answers[i];
        }
        let update = self.doc().transact().encode_state_as_update_v1(sv);
        let len = update.len();
        let frame = encode(&Message::Sync(SyncMessage::SyncStep2(update)));
        self.answers.push(Answer {
            state_vector: key,
            header: frame.len() - len,
            frame,
        });
        while self.answers.len() > ANSWERS_KEPT
            || (self.answers.len() > 1
                && self.answers.iter().map(|a| a.frame.len()).sum::<usize>() > ANSWERS_BYTES)
        {
            self.answers.remove(0);
        }
        &self.answers[self.answers.len() - 1]
    }

    /// The whole document as one update (a snapshot, a named version): the same bytes as
    /// the answer to an empty state vector.
    pub fn full_state(&mut self) -> Bytes {
        let a = self.answer(&StateVector::default());
        a.frame.slice(a.header..)
    }

    /// The document changed: answers computed before are stale.
    fn changed(&mut self) {
        self.answers.clear();
        self.generation = next_generation();
    }

    /// The current content's number (see `generation`) and its whole state, shared with the
    /// answers to sync step 1.
    pub fn current(&mut self) -> (u64, Bytes) {
        (self.generation, self.full_state())
    }

    /// A connection opened: the frames it gets first (our step 1; the awareness states, if
    /// any; why it may not write, if so).
    pub fn join(&mut self, conn: u64, participant: &str, writable: bool) -> Vec<Bytes> {
        self.register(conn, participant);
        let mut out = vec![self.step1()];
        if let Some(states) = self.awareness_held() {
            out.push(states);
        }
        if self.read_only() {
            out.push(auth(TOO_DEEP_READ_ONLY));
        } else if !writable {
            out.push(auth("read-only"));
        }
        out
    }

    /// Every awareness state held, in one frame (`None` if there is none).
    fn awareness_held(&self) -> Option<Bytes> {
        if self.held.is_empty() {
            return None;
        }
        let update = self
            .awareness
            .update_with_clients(self.held.keys().copied())
            .ok()?;
        Some(encode(&Message::Awareness(update)))
    }

    /// A connection closed: its awareness states go, and the frame telling the others.
    pub fn leave(&mut self, conn: u64) -> Option<Bytes> {
        self.participants.remove(&conn);
        self.claims.remove(&conn);
        let mine: Vec<ClientID> = self
            .owners
            .iter()
            .filter(|(_, c)| **c == conn)
            .map(|(id, _)| *id)
            .collect();
        if mine.is_empty() {
            return None;
        }
        for id in &mine {
            self.owners.remove(id);
            self.awareness.remove_state(*id);
            if let Some(len) = self.held.remove(id) {
                self.held_bytes -= len;
            }
        }
        let update = self.awareness.update_with_clients(mine).ok()?;
        Some(encode(&Message::Awareness(update)))
    }

    /// One frame from a connection.
    pub fn frame(&mut self, conn: u64, access: Access, data: Bytes) -> Outcome {
        let Some(msg) = decode(&data) else {
            return close(close::MALFORMED, "not a y-protocols message");
        };
        match msg {
            Message::Sync(SyncMessage::SyncStep1(sv)) => Outcome::Reply(self.step2(&sv)),
            Message::Sync(SyncMessage::SyncStep2(update))
            | Message::Sync(SyncMessage::Update(update)) => self.update(access, update, data),
            Message::Awareness(update) => self.awareness_update(conn, access, update, data),
            Message::AwarenessQuery => match self.awareness_held() {
                Some(states) => Outcome::Reply(states),
                None => Outcome::Nothing,
            },
            Message::Auth(_) | Message::Custom(..) => Outcome::Nothing,
        }
    }

    fn update(&mut self, access: Access, update: Vec<u8>, frame: Bytes) -> Outcome {
        // An empty update (a new client's step 2) changes nothing.
        if update.len() <= 2 {
            return Outcome::Nothing;
        }
        if self.read_only() {
            return Outcome::Reply(auth(TOO_DEEP_READ_ONLY));
        }
        if !access.writable {
            return Outcome::Reply(auth("read-only"));
        }
        // Read before the size limit is judged: whether the update only deletes decides which
        // limit applies. Reading costs no more than the frame's bytes (at most 2 MiB).
        let scan = match nesting::scan(&update) {
            Ok(s) => s,
            Err(Invalid::TooDeep) => return close(close::TOO_DEEP, "nested too deep"),
            Err(Invalid::Malformed(_)) => return close(close::MALFORMED, "update does not decode"),
        };
        let Some(decoded) = decode_update(&update) else {
            return close(close::MALFORMED, "update does not decode");
        };
        if !scan.agrees_with(&decoded) {
            warn!("an update read differently here and by yrs: refused");
            return close(close::MALFORMED, "update does not decode");
        }
        let judged = self.nesting.judge(&scan);
        if judged.too_deep() {
            return close(close::TOO_DEEP, "nested too deep");
        }
        // It names content this server does not hold (another node's, not caught up yet):
        // ask the client for what we lack; its sync step 2 brings that and this again.
        if judged.ahead() {
            debug!(
                blocks = judged.ahead_blocks(),
                deletes = judged.deletes_ahead,
                "an update ahead of this document: asking for what it lacks"
            );
            return Outcome::Reply(self.step1());
        }
        // An update that only deletes is taken whatever the budget (up to the ceiling of
        // deletions), so that a full document can be trimmed; one that adds must fit.
        let only_deletes = scan.only_deletes();
        let limit = if only_deletes {
            MAX_DOCUMENT_BYTES_DELETING
        } else {
            MAX_DOCUMENT_BYTES
        };
        let cost = charge(&scan, update.len());
        if !self.fits(cost, limit) {
            return Outcome::Close {
                code: close::TOO_LARGE,
                reason: "document too large",
                before: Some(auth("document too large")),
            };
        }
        let applied = apply(self.doc(), decoded);
        self.changed();
        let removed = match applied {
            Ok(Some(removed)) => removed,
            Ok(None) => return close(close::MALFORMED, "update does not apply"),
            Err(_) => return Outcome::Broken,
        };
        self.nesting.record(judged);
        self.took_in(cost, removed);
        // Relay as an update; a client's own update frame goes out as it came.
        let is_update_frame = frame.first() == Some(&0) && frame.get(1) == Some(&2);
        let relay = if is_update_frame {
            frame
        } else {
            encode(&Message::Sync(SyncMessage::Update(update.clone())))
        };
        Outcome::Update { update, relay }
    }

    /// An update another node stored (or the store holds beyond what this node applied):
    /// judged and applied like a stored part, never refused; its frame to relay, if it
    /// changed anything.
    pub fn absorb(&mut self, update: &[u8]) -> Option<Bytes> {
        let scan = match nesting::scan(update) {
            Ok(s) => s,
            Err(e) => {
                error!(error = %e, "an update from the store cannot be read here: left out");
                return None;
            }
        };
        let judged = self.nesting.judge(&scan);
        let stripped;
        let data = if self.nesting.deletes_safe(&scan, &judged) {
            update
        } else {
            warn!("stored deletes of a structure too deep: left out");
            stripped = scan.without_deletes(update);
            &stripped[..]
        };
        let decoded = decode_update(data)?;
        let applied = apply(self.doc(), decoded);
        self.changed();
        let Ok(Some(removed)) = applied else {
            return None;
        };
        self.nesting.record(judged);
        self.took_in(charge(&scan, update.len()), removed);
        Some(encode(&Message::Sync(SyncMessage::Update(data.to_vec()))))
    }

    fn awareness_update(
        &mut self,
        conn: u64,
        access: Access,
        update: AwarenessUpdate,
        frame: Bytes,
    ) -> Outcome {
        for e in update.clients.values() {
            if e.json.len() > MAX_AWARENESS_STATE_BYTES {
                return close(close::TOO_LARGE, "awareness state too large");
            }
            // Stock clients parse every state as JSON: one that is not would break them all.
            if serde_json::from_str::<serde::de::IgnoredAny>(&e.json).is_err() {
                return close(close::MALFORMED, "awareness state is not JSON");
            }
        }
        // A guarantor hears its own state back (a provider that hears nothing for 30 s
        // reconnects), and nobody else ever does.
        if access.silent {
            return Outcome::Reply(frame);
        }
        let total = update.clients.len();
        let mut accepted: HashMap<ClientID, AwarenessUpdateEntry> = HashMap::new();
        let mut claimed: Vec<ClientID> = Vec::new();
        let mut count = self.held.len();
        let mut bytes = self.held_bytes;
        for (id, entry) in update.clients {
            let mine = match self.owners.get(&id) {
                Some(c) if *c == conn => true,
                // Another connection of the same participant (a reconnect before the old one
                // was seen gone): the id moves to this one.
                Some(c)
                    if self.participants.contains_key(c)
                        && self.participants.get(c) == self.participants.get(&conn) =>
                {
                    true
                }
                // Another's: stock providers echo every state they receive; a hand-made
                // client may not overwrite it.
                Some(_) => false,
                None => false,
            };
            let is_null = entry.json.as_ref() == "null";
            // What yrs would do with it: a newer clock replaces the state, a removal at the
            // same clock removes it.
            let applies = match self.awareness.meta(id) {
                None => true,
                Some((clock, _)) => {
                    clock < entry.clock
                        || (clock == entry.clock && is_null && self.held.contains_key(&id))
                }
            };
            if !applies || (!mine && (is_null || self.owners.contains_key(&id))) {
                continue;
            }
            let old = self.held.get(&id).copied();
            let new_len = if is_null { 0 } else { entry.json.len() };
            let count_after = count - usize::from(old.is_some()) + usize::from(!is_null);
            let bytes_after = bytes - old.unwrap_or(0) + new_len;
            let grows = count_after > count || bytes_after > bytes;
            if grows && (count_after > MAX_AWARENESS_STATES || bytes_after > MAX_AWARENESS_BYTES) {
                continue;
            }
            count = count_after;
            bytes = bytes_after;
            if self.owners.get(&id) != Some(&conn) {
                claimed.push(id);
            }
            accepted.insert(id, entry);
        }
        let already = self.claims.get(&conn).copied().unwrap_or(0);
        if already + claimed.len() > MAX_AWARENESS_CLIENTS_PER_CONNECTION {
            return close(close::TOO_LARGE, "too many awareness clients");
        }
        if accepted.is_empty() {
            return Outcome::Nothing;
        }
        let entries: Vec<(ClientID, usize)> = accepted
            .iter()
            .map(|(id, e)| {
                (
                    *id,
                    if e.json.as_ref() == "null" {
                        0
                    } else {
                        e.json.len()
                    },
                )
            })
            .collect();
        let clients: Vec<ClientID> = entries.iter().map(|(id, _)| *id).collect();
        let relay = (accepted.len() < total).then(|| {
            encode(&Message::Awareness(AwarenessUpdate {
                clients: accepted.clone(),
            }))
        });
        if self
            .awareness
            .apply_update(AwarenessUpdate { clients: accepted })
            .is_err()
        {
            return close(close::MALFORMED, "awareness update does not apply");
        }
        for id in claimed {
            if let Some(previous) = self.owners.insert(id, conn) {
                if let Some(n) = self.claims.get_mut(&previous) {
                    *n = n.saturating_sub(1);
                }
            }
            *self.claims.entry(conn).or_default() += 1;
        }
        for (id, len) in entries {
            if let Some(old) = self.held.remove(&id) {
                self.held_bytes -= old;
            }
            if len > 0 {
                self.held.insert(id, len);
                self.held_bytes += len;
            }
        }
        Outcome::Awareness {
            frame: relay.unwrap_or(frame),
            clients,
        }
    }

    /// The current states of `clients` (removals as `null`), in one frame: what a coalesced
    /// relay sends. Ids this document never heard of are left out.
    pub fn awareness_of(&self, clients: impl IntoIterator<Item = ClientID>) -> Option<Bytes> {
        let known: Vec<ClientID> = clients
            .into_iter()
            .filter(|id| self.awareness.meta(*id).is_some())
            .collect();
        if known.is_empty() {
            return None;
        }
        let update = self.awareness.update_with_clients(known).ok()?;
        Some(encode(&Message::Awareness(update)))
    }

    /// Awareness states held, and their bytes (for tests and metrics).
    pub fn awareness_budget(&self) -> (usize, usize) {
        (self.held.len(), self.held_bytes)
    }

    /// The client ids whose awareness state is held.
    pub fn awareness_clients(&self) -> Vec<ClientID> {
        self.held.keys().copied().collect()
    }

    /// How many awareness client ids a connection announced.
    pub fn announced_by(&self, conn: u64) -> usize {
        self.owners.values().filter(|c| **c == conn).count()
    }

    /// Runs of the nesting index (a measure of its memory).
    pub fn nesting_runs(&self) -> usize {
        self.nesting.runs()
    }
}

/// Apply an update: `Ok(None)` if yrs refuses it, `Err` if yrs panicked (the document may be
/// half-changed). Else how much content the document held it deleted (in clocks: a character,
/// an element, a value each; every one of them was written with a byte at least), not counting
/// its own blocks that arrive deleted (a block of deleted content of any length takes a few
/// bytes): what a measure may find freed (`MEASURE_EVERY`).
fn apply(doc: &Doc, update: yrs::Update) -> std::thread::Result<Option<usize>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        txn.apply_update(update).ok()?;
        let removed = txn.delete_set().diff(txn.insert_set());
        Some(
            removed
                .iter()
                .flat_map(|(_, ranges)| ranges.into_iter())
                .map(|r| r.end.saturating_sub(r.start) as usize)
                .sum(),
        )
    }))
}

/// A document from stored parts, for a reader that only reads it (a named version, the
/// backup): judged like a live document's, never recursing through what an older server
/// stored too deep.
pub fn load_doc<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Result<Doc, String> {
    LiveDoc::load(parts).map(|live| live.doc().clone())
}

#[cfg(test)]
mod tests {
    use super::super::export::{export, Format};
    use super::super::nesting::tests::nested;
    use super::*;

    fn update_frame(update: Vec<u8>) -> Bytes {
        encode(&Message::Sync(SyncMessage::Update(update)))
    }

    const WRITER: Access = Access {
        writable: true,
        silent: false,
    };

    /// The delete of `len` items of `client` from `clock`, and nothing else.
    fn delete(client: u8, clock: u8, len: u8) -> Vec<u8> {
        vec![0, 1, client, 1, clock, len]
    }

    /// What a tokio worker has, halved: the walks must not need more.
    fn on_a_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(f)
            .expect("a thread")
            .join()
            .expect("no panic, no overflow");
    }

    #[test]
    fn a_document_stored_too_deep_loads_exports_and_drops() {
        on_a_small_stack(|| {
            let deep = nested(7, 10_000);
            let top_deleted = delete(7, 0, 1);
            let mut live = LiveDoc::load([deep.as_slice(), top_deleted.as_slice()]).expect("loads");
            assert!(live.read_only());
            let state = live.full_state();
            // The deep content is kept, and its top was not deleted (that delete was left out).
            assert!(
                state.len() >= deep.len(),
                "{} < {}",
                state.len(),
                deep.len()
            );
            for format in [Format::Markdown, Format::Html] {
                export(live.doc(), "Avis", format);
            }
            // Nobody writes it.
            let out = live.frame(1, WRITER, update_frame(nested(8, 1)));
            assert!(matches!(out, Outcome::Reply(_)), "{out:?}");
            // A named version of it loads and exports too; both drop.
            let version = load_doc([&state[..]]).expect("a version loads");
            export(&version, "Avis", Format::Html);
            drop(version);
            drop(live);
        });
    }

    #[test]
    fn a_deep_update_is_refused_and_one_at_the_limit_is_deleted() {
        on_a_small_stack(|| {
            let mut live = LiveDoc::empty();
            let out = live.frame(1, WRITER, update_frame(nested(7, 10_000)));
            assert!(
                matches!(
                    out,
                    Outcome::Close {
                        code: close::TOO_DEEP,
                        ..
                    }
                ),
                "{out:?}"
            );
            assert_eq!(live.doc().transact().state_vector().len(), 0);
            let out = live.frame(1, WRITER, update_frame(nested(9, 62)));
            assert!(matches!(out, Outcome::Update { .. }), "{out:?}");
            // yrs deletes the 62 levels recursively: within the limit, that is fine.
            let out = live.frame(1, WRITER, update_frame(delete(9, 0, 1)));
            assert!(matches!(out, Outcome::Update { .. }), "{out:?}");
            export(live.doc(), "Avis", Format::Markdown);
        });
    }

    #[test]
    fn the_answer_to_a_sync_step_1_is_encoded_once_per_change() {
        let mut live = LiveDoc::empty();
        let Outcome::Update { .. } = live.frame(1, WRITER, update_frame(nested(9, 3))) else {
            panic!("the update is taken");
        };
        let ask = encode(&Message::Sync(SyncMessage::SyncStep1(
            StateVector::default(),
        )));
        let answer = |live: &mut LiveDoc| match live.frame(2, WRITER, ask.clone()) {
            Outcome::Reply(b) => b,
            other => panic!("{other:?}"),
        };
        let a = answer(&mut live);
        let b = answer(&mut live);
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, shared");
        assert_eq!(
            live.full_state().as_ptr(),
            a.slice(a.len() - live.full_state().len()..).as_ptr()
        );
        let Outcome::Update { .. } = live.frame(1, WRITER, update_frame(nested(10, 2))) else {
            panic!("the update is taken");
        };
        let c = answer(&mut live);
        assert_ne!(a, c, "a change makes a new answer");
    }

    /// The nesting index's memory: five writers typing in turns, one keystroke per update,
    /// each in their own paragraphs, keep a few runs per paragraph, not one per keystroke.
    #[test]
    fn typing_keeps_the_nesting_index_small() {
        use yrs::types::xml::XmlFragment;
        use yrs::{GetString, Text, XmlElementPrelim, XmlTextPrelim};
        let mut live = LiveDoc::empty();
        let writers: Vec<Doc> = (0..5).map(|i| Doc::with_client_id(50 + i)).collect();
        let mut keystrokes = 0;
        for round in 0..20 {
            for (w, doc) in writers.iter().enumerate() {
                let root = doc.get_or_insert_xml_fragment("prosemirror");
                let before = doc.transact().state_vector();
                let text = {
                    let mut txn = doc.transact_mut();
                    let p = root.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
                    p.push_back(&mut txn, XmlTextPrelim::new(""))
                };
                let u = doc.transact().encode_state_as_update_v1(&before);
                assert!(matches!(
                    live.frame(1, WRITER, update_frame(u)),
                    Outcome::Update { .. }
                ));
                for k in 0..50 {
                    let before = doc.transact().state_vector();
                    text.push(
                        &mut doc.transact_mut(),
                        &format!("{}", (k + w + round) % 10),
                    );
                    let u = doc.transact().encode_state_as_update_v1(&before);
                    let out = live.frame(1, WRITER, update_frame(u));
                    assert!(matches!(out, Outcome::Update { .. }), "{out:?}");
                    keystrokes += 1;
                }
                assert_eq!(text.get_string(&doc.transact()).len(), 50);
            }
        }
        let paragraphs = 20 * writers.len();
        let runs = live.nesting_runs();
        eprintln!("{keystrokes} keystrokes in {paragraphs} paragraphs: {runs} runs");
        assert!(
            runs <= 3 * paragraphs,
            "{runs} runs for {paragraphs} paragraphs"
        );
    }

    /// One transaction of `doc`, as the update frame a provider sends for it (that
    /// transaction's changes only, as Yjs's `update` event gives them).
    fn edit(doc: &Doc, f: impl FnOnce(&mut yrs::TransactionMut)) -> Bytes {
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = got.clone();
        doc.observe_update_v1("edit", move |_, e| {
            *sink.lock().expect("not poisoned") = e.update.clone();
        })
        .expect("observed");
        f(&mut doc.transact_mut());
        doc.unobserve_update_v1("edit").expect("unobserved");
        let update = std::mem::take(&mut *got.lock().expect("not poisoned"));
        update_frame(update)
    }

    fn is_update(out: &Outcome) -> bool {
        matches!(out, Outcome::Update { .. })
    }

    fn is_too_large(out: &Outcome) -> bool {
        matches!(
            out,
            Outcome::Close {
                code: close::TOO_LARGE,
                ..
            }
        )
    }

    /// The churn of the security review: one writer inserts 1.9 MB and deletes it, again and
    /// again, far past the budget in bytes sent. The document holds nothing, and the budget
    /// judges the document: nothing is refused, and it is measured rarely.
    #[test]
    fn writing_and_deleting_in_turn_never_fills_the_budget() {
        use yrs::Text;
        let mut live = LiveDoc::empty();
        let writer = Doc::with_client_id(7);
        let text = writer.get_or_insert_text("scratch");
        let big = "x".repeat(1900 * 1024);
        let mut sent = 0;
        for round in 0..20 {
            let insert = edit(&writer, |txn| text.insert(txn, 0, &big));
            let delete = edit(&writer, |txn| {
                let len = text.len(txn);
                text.remove_range(txn, 0, len)
            });
            for frame in [insert, delete] {
                sent += frame.len();
                let out = live.frame(1, WRITER, frame);
                assert!(is_update(&out), "round {round}: {out:?}");
            }
        }
        assert!(sent > 2 * MAX_DOCUMENT_BYTES, "{sent} bytes sent");
        let measures = live.measures() as usize;
        eprintln!(
            "{sent} bytes sent, {measures} measures, size now {}",
            live.size()
        );
        assert!(measures >= 1, "the sum passed the budget without a measure");
        assert!(
            measures <= sent / MEASURE_EVERY,
            "{measures} measures for {sent} bytes"
        );
        // What the budget counts is the document (empty) and what came since its last measure.
        assert!(live.full_state().len() < 1024);
        assert!(live.size() < MAX_DOCUMENT_BYTES);
    }

    /// A document really full: an insert is refused, an update that only deletes is taken
    /// (even one larger than the room left: a reconnecting writer's sync step 2, its whole
    /// delete set), and once enough was deleted the document is measured again and an insert
    /// fits.
    #[test]
    fn a_full_document_takes_deletions_then_inserts_again() {
        use yrs::Text;
        let mut live = LiveDoc::empty();
        let writer = Doc::with_client_id(8);
        // Deletion history: 2,000 characters, every other one deleted, 1,000 ranges.
        let notes = writer.get_or_insert_text("notes");
        let frame = edit(&writer, |txn| notes.insert(txn, 0, &"ab".repeat(1000)));
        assert!(is_update(&live.frame(1, WRITER, frame)));
        let frame = edit(&writer, |txn| {
            for i in 0..1000 {
                notes.remove_range(txn, i, 1);
            }
        });
        assert!(is_update(&live.frame(1, WRITER, frame)));
        // Eight texts of 2 MiB less 64 KiB, in frames a client may send...
        let chunk = 2 * 1024 * 1024 - 64 * 1024;
        for i in 0..8 {
            let t = writer.get_or_insert_text(format!("t{i}").as_str());
            let frame = edit(&writer, |txn| t.insert(txn, 0, &"y".repeat(chunk)));
            assert!(is_update(&live.frame(1, WRITER, frame)), "text {i}");
        }
        // ... and a last one, to within 1 KiB of the budget.
        let room = MAX_DOCUMENT_BYTES - live.full_state().len();
        let pad = writer.get_or_insert_text("pad");
        let frame = edit(&writer, |txn| pad.insert(txn, 0, &"z".repeat(room - 1024)));
        assert!(is_update(&live.frame(1, WRITER, frame)));
        let real = live.full_state().len();
        assert!(
            (MAX_DOCUMENT_BYTES - 1100..MAX_DOCUMENT_BYTES - 1000).contains(&real),
            "{real}"
        );
        // What a reconnecting writer sends in its sync step 2: nothing new, and the whole
        // delete set, larger than the room left.
        let step2 = writer
            .transact()
            .encode_state_as_update_v1(&live.state_vector());
        assert!(step2.len() > 2048, "a step 2 of {} bytes", step2.len());

        // 32 KiB more, from another writer: refused, on the real size. (Not less: the sum
        // of updates may be below the real size here, by what the 1,000 cuts added.)
        let other = Doc::with_client_id(9);
        let refused = other.get_or_insert_text("refused");
        let more = edit(&other, |txn| refused.insert(txn, 0, &"w".repeat(32 * 1024)));
        assert!(is_too_large(&live.frame(2, WRITER, more.clone())));
        let measured = live.measures();
        assert!(measured >= 1);

        // The step 2, and the deletion of ten characters: taken.
        let out = live.frame(1, WRITER, update_frame(step2));
        assert!(is_update(&out), "{out:?}");
        let t0 = writer.get_or_insert_text("t0");
        let frame = edit(&writer, |txn| t0.remove_range(txn, 0, 10));
        assert!(is_update(&live.frame(1, WRITER, frame)));
        // Too little deleted to measure again: still refused, no new measure.
        assert!(is_too_large(&live.frame(2, WRITER, more.clone())));
        assert_eq!(live.measures(), measured);

        // Two texts deleted (4 MiB): measured again, and the insert fits.
        let t1 = writer.get_or_insert_text("t1");
        let frame = edit(&writer, |txn| {
            let len = t0.len(txn);
            t0.remove_range(txn, 0, len);
            let len = t1.len(txn);
            t1.remove_range(txn, 0, len);
        });
        assert!(is_update(&live.frame(1, WRITER, frame)));
        let out = live.frame(2, WRITER, more);
        assert!(is_update(&out), "{out:?}");
        assert_eq!(live.measures(), measured + 1);
        assert!(live.full_state().len() < MAX_DOCUMENT_BYTES - 3 * 1024 * 1024);
    }

    /// Deleting every other character counts what it may add to the encoding, not its bytes:
    /// the sum stays at or above the real size, so deletions cannot carry a document past the
    /// ceiling unmeasured (the review's case: 16 MiB of cuts would have grown it to ~72 MiB).
    #[test]
    fn cutting_text_into_pieces_is_counted_by_its_cuts() {
        use yrs::Text;
        let mut live = LiveDoc::empty();
        let writer = Doc::with_client_id(8);
        let notes = writer.get_or_insert_text("notes");
        let frame = edit(&writer, |txn| notes.insert(txn, 0, &"ab".repeat(5_000)));
        assert!(is_update(&live.frame(1, WRITER, frame)));
        let before = live.full_state().len();
        let frame = edit(&writer, |txn| {
            for i in 0..5_000 {
                notes.remove_range(txn, i, 1);
            }
        });
        let bytes = frame.len();
        assert!(is_update(&live.frame(1, WRITER, frame)));
        let grown = live.full_state().len() - before;
        assert!(
            grown > bytes,
            "the cuts grew the encoding by {grown}, the update is {bytes}"
        );
        assert!(
            live.size() >= live.full_state().len(),
            "the sum {} is below the real size {}",
            live.size(),
            live.full_state().len()
        );
    }

    /// Loaded past the budget (a document is never refused at loading): inserts are
    /// refused, deletions taken; past twice the budget, deletions are refused too (they may
    /// grow the encoding, cutting runs of text into pieces).
    #[test]
    fn deletions_pass_the_budget_up_to_twice_it() {
        use yrs::Text;
        let parts = |texts: usize| -> (Vec<Vec<u8>>, Doc) {
            let doc = Doc::with_client_id(11);
            let parts = (0..texts)
                .map(|i| {
                    let t = doc.get_or_insert_text(format!("t{i}").as_str());
                    let before = doc.transact().state_vector();
                    t.insert(&mut doc.transact_mut(), 0, &"v".repeat(2 * 1024 * 1024));
                    doc.transact().encode_state_as_update_v1(&before)
                })
                .collect();
            (parts, doc)
        };
        let insert = || {
            let other = Doc::with_client_id(12);
            let t = other.get_or_insert_text("more");
            edit(&other, |txn| t.insert(txn, 0, "un mot"))
        };
        // 18 MiB: over the budget, under twice it.
        let (stored, doc) = parts(9);
        let mut live = LiveDoc::load(stored.iter().map(Vec::as_slice)).expect("loads");
        assert!(is_too_large(&live.frame(1, WRITER, insert())));
        let t0 = doc.get_or_insert_text("t0");
        let trim = edit(&doc, |txn| t0.remove_range(txn, 0, 1000));
        let out = live.frame(1, WRITER, trim);
        assert!(is_update(&out), "{out:?}");
        // 34 MiB: past twice the budget.
        let (stored, doc) = parts(17);
        let mut live = LiveDoc::load(stored.iter().map(Vec::as_slice)).expect("loads");
        let t0 = doc.get_or_insert_text("t0");
        let trim = edit(&doc, |txn| t0.remove_range(txn, 0, 1000));
        assert!(is_too_large(&live.frame(1, WRITER, trim)));
    }

    #[test]
    fn a_silent_connection_hears_itself_and_changes_nothing() {
        let mut live = LiveDoc::empty();
        live.join(1, "garante", false);
        let mut clients = HashMap::new();
        clients.insert(
            ClientID::new(5),
            AwarenessUpdateEntry {
                clock: 1,
                json: r#"{"user":{"name":"Claire Animatrice"}}"#.into(),
            },
        );
        let frame = encode(&Message::Awareness(AwarenessUpdate { clients }));
        let silent = Access {
            writable: false,
            silent: true,
        };
        let out = live.frame(1, silent, frame.clone());
        assert!(matches!(&out, Outcome::Reply(b) if *b == frame), "{out:?}");
        assert_eq!(live.awareness_budget(), (0, 0));
        let reader = Access {
            writable: false,
            silent: false,
        };
        live.join(2, "citoyen", false);
        assert!(matches!(
            live.frame(2, reader, frame),
            Outcome::Awareness { .. }
        ));
        assert_eq!(live.awareness_budget().0, 1);
        assert!(live.leave(2).is_some());
        assert_eq!(live.awareness_budget(), (0, 0));
    }
}
