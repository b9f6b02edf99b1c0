//! The durable log. Every convention is an ordered log of records, appended at the expected
//! next sequence number (optimistic concurrency), with the audit entries those records produce
//! in the same atomic write. SQLite is the embedded default; Redis comes with cluster mode.

pub mod redis;
mod sqlite;

use std::path::Path;

use convene_protocol::{AuditEntry, Event, Record};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone appended first: the log's last seq is not the one the caller decided against.
    #[error("append conflict on {convention}: expected last seq {expected}, found {found}")]
    Conflict {
        convention: String,
        expected: u64,
        found: u64,
    },
    /// The log was as expected but the audit trail was not: this node's audit head is not
    /// the trail's (it took the convention up while another node appended). Nothing was
    /// written; the node loads the convention again.
    #[error("audit trail conflict on {convention}: next entry {next}, trail ends at {head}")]
    AuditConflict {
        convention: String,
        next: u64,
        head: u64,
    },
    /// The store cannot be reached or written; nothing was written.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The stored data cannot be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A convention's log as loaded at start-up or on first use.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The latest stored state (its seq and `StoredState` JSON), when asked for and kept:
    /// `records` then start right after it.
    pub state: Option<(u64, Vec<u8>)>,
    pub records: Vec<Record>,
    /// The last audit entry's number and hash, to chain the next one to.
    pub audit_head: Option<(u64, String)>,
    /// The ballot box, read with the log: `records` reach at least its `seq`.
    pub ballots: BallotBox,
}

/// A convention's secret ballot box as stored, read back unchecked: it is checked against the
/// voter marks of the log by whoever folds it (`live::actor`), since rows are anonymous.
#[derive(Debug, Default)]
pub struct BallotBox {
    pub rows: Vec<BoxRow>,
    /// The log's last seq when the box was read, in the same atomic read: every honest ballot
    /// in the box has its `voter_marked` record at or before it.
    pub seq: u64,
}

/// One row of a ballot box.
#[derive(Debug, Clone)]
pub enum BoxRow {
    /// A ballot of a poll still open (a `SecretBallotCast` event, if nobody planted anything
    /// else), stored under a random key.
    Loose(Event),
    /// The ballots of a poll closed since, sealed together at its close: one sorted list.
    Sealed { poll: String, ballots: Vec<Event> },
    /// Something stored in the box that is not a ballot at all: what is wrong with it.
    Unreadable(String),
}

impl BallotBox {
    /// Every readable ballot, loose or sealed, unchecked (exports).
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.rows.iter().flat_map(|row| match row {
            BoxRow::Loose(e) => std::slice::from_ref(e),
            BoxRow::Sealed { ballots, .. } => ballots.as_slice(),
            BoxRow::Unreadable(_) => &[],
        })
    }
}

impl BoxRow {
    /// A loose row as stored (an event's JSON).
    fn loose(body: &[u8]) -> BoxRow {
        match serde_json::from_slice(body) {
            Ok(event) => BoxRow::Loose(event),
            Err(e) => BoxRow::Unreadable(format!("not a ballot: {e}")),
        }
    }

    /// A sealed list as stored (a JSON array of events), into `rows`: what is not an event
    /// becomes an unreadable row of its own, the rest stays sealed together.
    fn sealed(poll: &str, body: &[u8], rows: &mut Vec<BoxRow>) {
        let items: Vec<serde_json::Value> = match serde_json::from_slice(body) {
            Ok(items) => items,
            Err(e) => {
                rows.push(BoxRow::Unreadable(format!(
                    "the sealed ballots of {poll}: {e}"
                )));
                return;
            }
        };
        let mut ballots = Vec::with_capacity(items.len());
        for item in items {
            match serde_json::from_value(item) {
                Ok(event) => ballots.push(event),
                Err(e) => rows.push(BoxRow::Unreadable(format!(
                    "among the sealed ballots of {poll}, not a ballot: {e}"
                ))),
            }
        }
        rows.push(BoxRow::Sealed {
            poll: poll.to_string(),
            ballots,
        });
    }
}

/// The poll a stored loose ballot belongs to, if it is one.
fn poll_of(body: &[u8]) -> Option<String> {
    match serde_json::from_slice(body) {
        Ok(Event::SecretBallotCast { poll, .. }) => Some(poll),
        _ => None,
    }
}

/// One sealed list: the stored ballots (each an event's JSON) sorted, so that their order is a
/// function of what they say and of nothing else, as one JSON array.
fn seal_list(mut bodies: Vec<String>) -> String {
    bodies.sort_unstable();
    format!("[{}]", bodies.join(","))
}

/// One append: records at `expected + 1 ..`, and their audit entries.
#[derive(Debug)]
pub struct Append {
    pub convention: String,
    pub expected: u64,
    pub records: Vec<Record>,
    pub audit: Vec<AuditEntry>,
    /// Secret ballots for the ballot box (`SecretBallotCast` events): stored with no seq,
    /// no time, no voter, under random keys, in a random order within each group commit.
    pub ballots: Vec<Event>,
    /// The secret polls these records close: their ballots are sealed, in the same atomic
    /// write, into one sorted list, and no trace of the order they were cast in is kept.
    pub seal: Vec<String>,
}

/// Yjs updates of one document, appended in order; their numbers come back.
#[derive(Debug)]
pub struct DocAppend {
    pub convention: String,
    pub doc: String,
    pub updates: Vec<Vec<u8>>,
}

/// A document as stored: its last snapshot (which replaced the updates up to `upto`), then
/// the updates after it, in order.
#[derive(Debug, Default)]
pub struct DocLoaded {
    pub snapshot: Option<(u64, Vec<u8>)>,
    pub updates: Vec<(u64, Vec<u8>)>,
}

/// A named version: the whole document state as one Yjs update.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub version: u32,
    pub label: String,
    pub at: u64,
    pub data: Vec<u8>,
}

/// The store the server was started with.
#[derive(Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Redis(redis::RedisStore),
}

impl Store {
    /// Connect to Redis (cluster mode).
    pub async fn open_redis(url: &str) -> Result<Store, StoreError> {
        Ok(Store::Redis(redis::RedisStore::open(url).await?))
    }

    /// Whether other processes write to this store (then appends may conflict).
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Redis(_))
    }

    /// Whether the store answers and writes now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Redis(s) => s.ping().await,
        }
    }

    /// Open (or create) the embedded SQLite store in `dir`.
    pub fn open_sqlite(dir: &Path) -> Result<Store, StoreError> {
        Ok(Store::Sqlite(SqliteStore::open(dir)?))
    }

    /// Append atomically, and return once it is durable.
    pub async fn append(&self, append: Append) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.append(append).await,
            Store::Redis(s) => s.append(append).await,
        }
    }

    /// The whole log (for export and checks).
    pub async fn load(&self, convention: &str) -> Result<Loaded, StoreError> {
        match self {
            Store::Sqlite(s) => s.load(convention, false).await,
            Store::Redis(s) => s.load(convention, false).await,
        }
    }

    /// The latest stored state, if any, and the log after it: what a live convention folds.
    pub async fn load_live(&self, convention: &str) -> Result<Loaded, StoreError> {
        match self {
            Store::Sqlite(s) => s.load(convention, true).await,
            Store::Redis(s) => s.load(convention, true).await,
        }
    }

    /// Keep a convention's state at `seq` (derived data: a later state is never replaced by
    /// an earlier one, and losing it costs only a longer replay).
    pub async fn save_state(
        &self,
        convention: &str,
        seq: u64,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.save_state(convention, seq, data).await,
            Store::Redis(s) => s.save_state(convention, seq, data).await,
        }
    }

    /// The records after `after` (what other nodes appended since).
    pub async fn records_after(
        &self,
        convention: &str,
        after: u64,
    ) -> Result<Vec<Record>, StoreError> {
        match self {
            Store::Sqlite(s) => s.records_after(convention, after).await,
            Store::Redis(s) => s.records_after(convention, after).await,
        }
    }

    /// The ballot box of a convention, with the log's last seq read in the same atomic read.
    pub async fn ballots(&self, convention: &str) -> Result<BallotBox, StoreError> {
        match self {
            Store::Sqlite(s) => s.ballots(convention).await,
            Store::Redis(s) => s.ballots(convention).await,
        }
    }

    /// Seal the ballots of closed secret polls still loose in the box (written before polls
    /// were sealed at their close), as a close would have.
    pub async fn seal(&self, convention: &str, polls: Vec<String>) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.seal(convention, polls).await,
            Store::Redis(s) => s.seal(convention, &polls).await,
        }
    }

    /// The ids of every convention in the store.
    pub async fn conventions(&self) -> Result<Vec<String>, StoreError> {
        match self {
            Store::Sqlite(s) => s.conventions().await,
            Store::Redis(s) => s.conventions().await,
        }
    }

    /// The whole audit trail of a convention, in order.
    pub async fn audit(&self, convention: &str) -> Result<Vec<AuditEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.audit(convention).await,
            Store::Redis(s) => s.audit(convention).await,
        }
    }

    /// Append document updates durably (group commit with the logs); the last number given.
    pub async fn doc_append(&self, append: DocAppend) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.doc_append(append).await,
            Store::Redis(s) => s.doc_append(append).await,
        }
    }

    pub async fn doc_load(&self, convention: &str, doc: &str) -> Result<DocLoaded, StoreError> {
        match self {
            Store::Sqlite(s) => s.doc_load(convention, doc).await,
            Store::Redis(s) => s.doc_load(convention, doc).await,
        }
    }

    /// Replace the updates up to `upto` by a snapshot of the whole document.
    pub async fn doc_compact(
        &self,
        convention: &str,
        doc: &str,
        upto: u64,
        snapshot: Vec<u8>,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.doc_compact(convention, doc, upto, snapshot).await,
            Store::Redis(s) => s.doc_compact(convention, doc, upto, snapshot).await,
        }
    }

    pub async fn version_save(
        &self,
        convention: &str,
        doc: &str,
        version: StoredVersion,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.version_save(convention, doc, version).await,
            Store::Redis(s) => s.version_save(convention, doc, version).await,
        }
    }

    pub async fn versions(
        &self,
        convention: &str,
        doc: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        match self {
            Store::Sqlite(s) => s.versions(convention, doc).await,
            Store::Redis(s) => s.versions(convention, doc).await,
        }
    }

    /// One named version, alone.
    pub async fn version(
        &self,
        convention: &str,
        doc: &str,
        version: u32,
    ) -> Result<Option<StoredVersion>, StoreError> {
        match self {
            Store::Sqlite(s) => s.version(convention, doc, version).await,
            Store::Redis(s) => s.version(convention, doc, version).await,
        }
    }

    /// Wait until everything submitted so far is written, then stop accepting work.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Redis(s) => s.close().await,
        }
    }
}
