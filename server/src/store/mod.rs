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
    /// The ballot box: every secret ballot, in no meaningful order.
    pub ballots: Vec<Event>,
}

/// One append: records at `expected + 1 ..`, and their audit entries.
#[derive(Debug)]
pub struct Append {
    pub convention: String,
    pub expected: u64,
    pub records: Vec<Record>,
    pub audit: Vec<AuditEntry>,
    /// Secret ballots for the ballot box (`SecretBallotCast` events): stored with no seq,
    /// no time, no voter, under random keys, so their order on disk tells nothing.
    pub ballots: Vec<Event>,
    /// Checkpoint the write-ahead log after this append (a secret poll closed).
    pub checkpoint: bool,
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

    /// The ballot box of a convention.
    pub async fn ballots(&self, convention: &str) -> Result<Vec<Event>, StoreError> {
        match self {
            Store::Sqlite(s) => Ok(s.load(convention, true).await?.ballots),
            Store::Redis(s) => s.ballots(convention).await,
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

    /// Wait until everything submitted so far is written, then stop accepting work.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Redis(s) => s.close().await,
        }
    }
}
