//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, written by one
//! thread. Appends that arrive together are committed in one transaction (group commit: one
//! fsync for many commands, each still acknowledged only once durable), each in a savepoint
//! of its own so that one conflict does not fail the others.
//!
//! Secret ballots: each group commit inserts its ballots in a random order, under random keys;
//! when a secret poll closes, its ballots are sealed (moved, in the close's transaction, into
//! one sorted list), the rest of the box is rewritten under fresh keys in a random order (the
//! table cleared: `secure_delete` zeroes every page it frees), and the write-ahead log is
//! truncated, so that no page, free page or frame keeps the order the ballots were cast in.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use convene_protocol::{AuditEntry, Record};
use rand::seq::SliceRandom;
use rand::RngCore;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use super::{
    poll_of, seal_list, Append, BallotBox, BoxRow, DocAppend, DocLoaded, Loaded, StoreError,
    StoredVersion,
};

/// Most appends folded into one transaction.
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer thread; callers wait (back-pressure) beyond it.
const QUEUE: usize = 8192;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Job {
    Append(Append, Reply<()>),
    DocAppend(DocAppend, Reply<u64>),
    DocLoad(String, String, Reply<DocLoaded>),
    DocCompact {
        convention: String,
        doc: String,
        upto: u64,
        snapshot: Vec<u8>,
        reply: Reply<()>,
    },
    VersionSave {
        convention: String,
        doc: String,
        version: StoredVersion,
        reply: Reply<()>,
    },
    Versions(String, String, Reply<Vec<StoredVersion>>),
    Version(String, String, u32, Reply<Option<StoredVersion>>),
    /// The whole log, or (with `true`) the latest stored state and the log after it.
    Load(String, bool, Reply<Loaded>),
    RecordsAfter(String, u64, Reply<Vec<Record>>),
    Ballots(String, Reply<BallotBox>),
    Seal(String, Vec<String>, Reply<()>),
    SaveState {
        convention: String,
        seq: u64,
        data: Vec<u8>,
        reply: Reply<()>,
    },
    Conventions(Reply<Vec<String>>),
    Audit(String, Reply<Vec<AuditEntry>>),
    /// Try a small write: can the store write again?
    Probe(Reply<()>),
    /// Every row of a convention out of every database of the data directory, each file
    /// rewritten (`erase::erase_files`), with the connections this thread holds and the
    /// attendance store's, so that nothing of the process writes meanwhile.
    Erase {
        convention: String,
        attendance: Option<Arc<Mutex<Connection>>>,
        reply: oneshot::Sender<Result<Vec<crate::erase::Deleted>, crate::erase::DeleteError>>,
    },
    Close(oneshot::Sender<()>),
}

/// Why the last write failed, while the store cannot write (cleared by the next success).
type WriteError = Arc<Mutex<Option<String>>>;

#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    /// The data directory (its files are erased from, `Job::Erase`).
    dir: std::path::PathBuf,
    write_error: WriteError,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("convene.sqlite3");
        let conn = Connection::open(&path).map_err(unavailable)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             PRAGMA busy_timeout=5000;
             PRAGMA secure_delete=ON;
             CREATE TABLE IF NOT EXISTS events (
                 convention TEXT NOT NULL,
                 seq INTEGER NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (convention, seq)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS ballot_box (
                 convention TEXT NOT NULL,
                 id BLOB NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (convention, id)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS sealed_ballots (
                 convention TEXT NOT NULL,
                 poll TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (convention, poll)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS doc_updates (
                 convention TEXT NOT NULL,
                 doc TEXT NOT NULL,
                 n INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 PRIMARY KEY (convention, doc, n)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS doc_snapshots (
                 convention TEXT NOT NULL,
                 doc TEXT NOT NULL,
                 upto INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 PRIMARY KEY (convention, doc)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS doc_versions (
                 convention TEXT NOT NULL,
                 doc TEXT NOT NULL,
                 version INTEGER NOT NULL,
                 label TEXT NOT NULL,
                 at INTEGER NOT NULL,
                 data BLOB NOT NULL,
                 PRIMARY KEY (convention, doc, version)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS audit (
                 convention TEXT NOT NULL,
                 n INTEGER NOT NULL,
                 hash TEXT NOT NULL,
                 body TEXT NOT NULL,
                 PRIMARY KEY (convention, n)
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS probe (
                 k INTEGER PRIMARY KEY,
                 at INTEGER NOT NULL
             );
             PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .map_err(unavailable)?;
        // The checkpoint that ends the batch folds and truncates a write-ahead log a crash left
        // behind: its frames may hold the order of a poll closed just before.
        let states = open_states(dir)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let write_error = WriteError::default();
        let flag = write_error.clone();
        let at = dir.to_path_buf();
        thread::Builder::new()
            .name("convene-sqlite".into())
            .spawn(move || writer(conn, states, rx, flag, at))
            .map_err(unavailable)?;
        Ok(SqliteStore {
            jobs: tx,
            dir: dir.to_path_buf(),
            write_error,
        })
    }

    /// Ok while the store writes; while it cannot (a full disk), a small write is tried and
    /// the reason of the failure returned.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let failing = self
            .write_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if !failing {
            return Ok(());
        }
        self.ask(Job::Probe).await
    }

    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(job(tx))
            .await
            .map_err(|_| unavailable("the store is closed"))?;
        rx.await.map_err(|_| unavailable("the store stopped"))?
    }

    pub async fn append(&self, append: Append) -> Result<(), StoreError> {
        self.ask(|r| Job::Append(append, r)).await
    }

    pub async fn load(&self, convention: &str, with_state: bool) -> Result<Loaded, StoreError> {
        self.ask(|r| Job::Load(convention.to_string(), with_state, r))
            .await
    }

    pub async fn records_after(
        &self,
        convention: &str,
        after: u64,
    ) -> Result<Vec<Record>, StoreError> {
        self.ask(|r| Job::RecordsAfter(convention.to_string(), after, r))
            .await
    }

    pub async fn save_state(
        &self,
        convention: &str,
        seq: u64,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.ask(|reply| Job::SaveState {
            convention: convention.into(),
            seq,
            data,
            reply,
        })
        .await
    }

    pub async fn conventions(&self) -> Result<Vec<String>, StoreError> {
        self.ask(Job::Conventions).await
    }

    pub async fn ballots(&self, convention: &str) -> Result<BallotBox, StoreError> {
        self.ask(|r| Job::Ballots(convention.to_string(), r)).await
    }

    pub async fn seal(&self, convention: &str, polls: Vec<String>) -> Result<(), StoreError> {
        self.ask(|r| Job::Seal(convention.to_string(), polls, r))
            .await
    }

    pub async fn audit(&self, convention: &str) -> Result<Vec<AuditEntry>, StoreError> {
        self.ask(|r| Job::Audit(convention.to_string(), r)).await
    }

    pub async fn doc_append(&self, append: DocAppend) -> Result<u64, StoreError> {
        self.ask(|r| Job::DocAppend(append, r)).await
    }

    pub async fn doc_load(&self, convention: &str, doc: &str) -> Result<DocLoaded, StoreError> {
        self.ask(|r| Job::DocLoad(convention.to_string(), doc.to_string(), r))
            .await
    }

    pub async fn doc_compact(
        &self,
        convention: &str,
        doc: &str,
        upto: u64,
        snapshot: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.ask(|reply| Job::DocCompact {
            convention: convention.into(),
            doc: doc.into(),
            upto,
            snapshot,
            reply,
        })
        .await
    }

    pub async fn version_save(
        &self,
        convention: &str,
        doc: &str,
        version: StoredVersion,
    ) -> Result<(), StoreError> {
        self.ask(|reply| Job::VersionSave {
            convention: convention.into(),
            doc: doc.into(),
            version,
            reply,
        })
        .await
    }

    pub async fn versions(
        &self,
        convention: &str,
        doc: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        self.ask(|r| Job::Versions(convention.to_string(), doc.to_string(), r))
            .await
    }

    /// One named version, alone (a version keeps a whole document: never read them all to
    /// serve one).
    pub async fn version(
        &self,
        convention: &str,
        doc: &str,
        version: u32,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.ask(|r| Job::Version(convention.to_string(), doc.to_string(), version, r))
            .await
    }

    /// Erase `convention` from every database of the data directory, in the writer thread:
    /// the appends queued before it are committed first, the ones after it wait.
    pub async fn erase(
        &self,
        convention: &str,
        attendance: Option<Arc<Mutex<Connection>>>,
    ) -> Result<Vec<crate::erase::Deleted>, crate::erase::DeleteError> {
        let (reply, rx) = oneshot::channel();
        let gone = || crate::erase::DeleteError::Store(unavailable("the store is closed"));
        self.jobs
            .send(Job::Erase {
                convention: convention.to_string(),
                attendance,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// The stored states' file. They live in a file of their own: they are derived data (losing
/// one costs a longer replay, so no fsync per write), and their pages never sit beside the
/// ballot box's in a file or its write-ahead log. A file that is not a usable database is set
/// aside (renamed `states.sqlite3.damaged-<unix time>`) and a new one started: it never
/// blocks the start.
fn open_states(dir: &Path) -> Result<Connection, StoreError> {
    let path = dir.join("states.sqlite3");
    let open = || -> rusqlite::Result<Connection> {
        let c = Connection::open(&path)?;
        c.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA secure_delete=ON;
             CREATE TABLE IF NOT EXISTS states (
                 convention TEXT NOT NULL PRIMARY KEY,
                 seq INTEGER NOT NULL,
                 data BLOB NOT NULL
             ) WITHOUT ROWID;",
        )?;
        c.query_row("SELECT COUNT(*) FROM states", [], |r| r.get::<_, i64>(0))?;
        Ok(c)
    };
    match open() {
        Ok(c) => Ok(c),
        Err(e) => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            tracing::warn!(error = %e, file = %path.display(), "stored states unreadable: set aside, starting a new file");
            for suffix in ["", "-wal", "-shm"] {
                let from = dir.join(format!("states.sqlite3{suffix}"));
                if from.exists() {
                    let to = dir.join(format!("states.sqlite3{suffix}.damaged-{stamp}"));
                    std::fs::rename(&from, &to).map_err(|e| {
                        unavailable(format!("cannot set aside {}: {e}", from.display()))
                    })?;
                }
            }
            open().map_err(unavailable)
        }
    }
}

fn writer(
    mut conn: Connection,
    mut states: Connection,
    mut jobs: mpsc::Receiver<Job>,
    write_error: WriteError,
    dir: std::path::PathBuf,
) {
    let mut appends: Vec<Write> = Vec::new();
    while let Some(first) = jobs.blocking_recv() {
        let mut next = Some(first);
        let mut close = None;
        // Take whatever else is already waiting: that is the group of this commit.
        while let Some(job) = next.take() {
            match job {
                Job::Append(a, r) => appends.push(Write::Log(a, r)),
                Job::DocAppend(a, r) => appends.push(Write::Doc(a, r)),
                Job::DocLoad(c, d, r) => {
                    let _ = r.send(doc_load(&conn, &c, &d));
                }
                Job::DocCompact {
                    convention,
                    doc,
                    upto,
                    snapshot,
                    reply,
                } => {
                    let _ = reply.send(doc_compact(&mut conn, &convention, &doc, upto, &snapshot));
                }
                Job::VersionSave {
                    convention,
                    doc,
                    version,
                    reply,
                } => {
                    let _ = reply.send(version_save(&conn, &convention, &doc, &version));
                }
                Job::Versions(c, d, r) => {
                    let _ = r.send(versions(&conn, &c, &d));
                }
                Job::Version(c, d, n, r) => {
                    let _ = r.send(one_version(&conn, &c, &d, n));
                }
                Job::Load(c, with_state, r) => {
                    let _ = r.send(load(&conn, with_state.then_some(&states), &c));
                }
                Job::RecordsAfter(c, after, r) => {
                    let _ = r.send(records_from(&conn, &c, after, false));
                }
                Job::Ballots(c, r) => {
                    let _ = r.send(ballot_box(&conn, &c));
                }
                Job::Seal(c, polls, r) => {
                    let _ = r.send(seal_alone(&conn, &c, &polls));
                }
                Job::SaveState {
                    convention,
                    seq,
                    data,
                    reply,
                } => {
                    let _ = reply.send(save_state(&states, &convention, seq, &data));
                }
                Job::Conventions(r) => {
                    let _ = r.send(conventions(&conn));
                }
                Job::Audit(c, r) => {
                    let _ = r.send(audit(&conn, &c));
                }
                Job::Probe(r) => {
                    let result = probe(&conn);
                    note_write(&write_error, &result);
                    let _ = r.send(result);
                }
                Job::Erase {
                    convention,
                    attendance,
                    reply,
                } => {
                    // What was queued before it is committed first: nothing of the
                    // convention comes after the erase.
                    if !appends.is_empty() {
                        let result = commit(&conn, &mut appends);
                        note_write(&write_error, &result);
                    }
                    let mut guard = attendance
                        .as_ref()
                        .map(|a| a.lock().unwrap_or_else(|e| e.into_inner()));
                    let mut own: Vec<(&str, &mut Connection)> = vec![
                        ("convene.sqlite3", &mut conn),
                        ("states.sqlite3", &mut states),
                    ];
                    if let Some(g) = guard.as_deref_mut() {
                        own.push(("attendance.sqlite3", g));
                    }
                    let result = crate::erase::erase_files(&dir, &convention, &mut own);
                    drop(own);
                    drop(guard);
                    let _ = reply.send(result);
                }
                Job::Close(r) => close = Some(r),
            }
            if appends.len() < MAX_BATCH && close.is_none() {
                next = jobs.try_recv().ok();
            }
        }
        if !appends.is_empty() {
            let result = commit(&conn, &mut appends);
            note_write(&write_error, &result);
        }
        if let Some(done) = close {
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            let _ = done.send(());
            return;
        }
    }
}

/// Run a statement without parameters from the connection's statement cache: the transaction
/// control of every group commit is parsed once, not at each commit.
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// One durable write waiting for the group commit.
enum Write {
    Log(Append, Reply<()>),
    Doc(DocAppend, Reply<u64>),
}

/// Keep the reason of a failed write (for health) until a write succeeds.
fn note_write(flag: &WriteError, result: &Result<(), StoreError>) {
    let mut f = flag.lock().unwrap_or_else(|e| e.into_inner());
    match result {
        Ok(()) => {
            if f.take().is_some() {
                tracing::info!("the store writes again");
            }
        }
        Err(e) => *f = Some(e.to_string()),
    }
}

/// A small durable write: whether the store can write now.
fn probe(conn: &Connection) -> Result<(), StoreError> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    conn.execute(
        "INSERT INTO probe (k, at) VALUES (1, ?1) ON CONFLICT (k) DO UPDATE SET at = excluded.at",
        [at],
    )
    .map(drop)
    .map_err(|e| unavailable(format!("the store cannot write: {e}")))
}

/// Write a group of appends in one transaction, each in its own savepoint, and answer each
/// once the transaction is committed (durable) or failed. The transaction's own failure is
/// returned (for health).
fn commit(conn: &Connection, appends: &mut Vec<Write>) -> Result<(), StoreError> {
    enum Outcome {
        Log(Result<(), StoreError>),
        Doc(Result<u64, StoreError>),
    }
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(appends.len());
    let mut sealed = false;
    let result = (|| -> Result<(), rusqlite::Error> {
        run(conn, "BEGIN IMMEDIATE")?;
        for w in appends.iter() {
            run(conn, "SAVEPOINT one")?;
            let (ok, outcome) = match w {
                Write::Log(a, _) => {
                    let o = append_one(conn, a);
                    (o.is_ok(), Outcome::Log(o))
                }
                Write::Doc(a, _) => {
                    let o = doc_append_one(conn, a);
                    (o.is_ok(), Outcome::Doc(o))
                }
            };
            if !ok {
                // This append only.
                run(conn, "ROLLBACK TO one")?;
            }
            run(conn, "RELEASE one")?;
            outcomes.push(outcome);
        }
        let held: Vec<&Append> = appends
            .iter()
            .zip(&outcomes)
            .filter_map(|(w, o)| match (w, o) {
                (Write::Log(a, _), Outcome::Log(Ok(()))) => Some(a),
                _ => None,
            })
            .collect();
        // The group's ballots in a random order: cells filling a page, and pages splitting,
        // follow the order of insertion, which is then not the order of the voter marks.
        let mut ballots = Vec::new();
        for a in &held {
            for b in &a.ballots {
                let body = serde_json::to_string(b)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                ballots.push((a.convention.as_str(), body));
            }
        }
        ballots.shuffle(&mut rand::thread_rng());
        for (convention, body) in &ballots {
            insert_ballot(conn, convention, body)?;
        }
        // After this group's ballots, so that a vote and the close in one group are sealed
        // together.
        for a in &held {
            for poll in &a.seal {
                seal_poll(conn, &a.convention, poll)?;
                sealed = true;
            }
        }
        if sealed {
            rewrite_box(conn)?;
        }
        run(conn, "COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = run(conn, "ROLLBACK");
    }
    if sealed && result.is_ok() {
        truncate_wal(conn);
    }
    let written = result
        .as_ref()
        .map(|_| ())
        .map_err(|e| unavailable(format!("the store cannot write: {e}")));
    match result {
        Ok(()) => {
            for (w, o) in appends.drain(..).zip(outcomes) {
                match (w, o) {
                    (Write::Log(_, r), Outcome::Log(o)) => {
                        let _ = r.send(o);
                    }
                    (Write::Doc(_, r), Outcome::Doc(o)) => {
                        let _ = r.send(o);
                    }
                    (Write::Log(_, r), Outcome::Doc(_)) => {
                        let _ = r.send(Err(unavailable("internal mismatch")));
                    }
                    (Write::Doc(_, r), Outcome::Log(_)) => {
                        let _ = r.send(Err(unavailable("internal mismatch")));
                    }
                }
            }
        }
        Err(e) => {
            for w in appends.drain(..) {
                match w {
                    Write::Log(_, r) => {
                        let _ = r.send(Err(unavailable(&e)));
                    }
                    Write::Doc(_, r) => {
                        let _ = r.send(Err(unavailable(&e)));
                    }
                }
            }
        }
    }
    written
}

/// Fold the write-ahead log into the database and truncate it: its frames are page images in
/// the order of the commits.
fn truncate_wal(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "write-ahead log not truncated after sealing ballots");
    }
}

/// A stored body's bytes, whatever its type (a planted row may be anything).
fn bytes_of(value: ValueRef<'_>) -> Vec<u8> {
    match value {
        ValueRef::Text(b) | ValueRef::Blob(b) => b.to_vec(),
        ValueRef::Integer(i) => i.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    }
}

/// One loose ballot, under a random key: its place among the rows says nothing.
fn insert_ballot(
    conn: &Connection,
    convention: &dyn rusqlite::ToSql,
    body: &dyn rusqlite::ToSql,
) -> rusqlite::Result<()> {
    let mut key = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut key);
    conn.prepare_cached("INSERT INTO ballot_box (convention, id, body) VALUES (?1, ?2, ?3)")?
        .execute(params![convention, &key[..], body])
        .map(drop)
}

/// Move the loose ballots of `poll` into its sealed list (one row, sorted), within the
/// caller's transaction. Rows that are no ballot of it stay where they are.
fn seal_poll(conn: &Connection, convention: &str, poll: &str) -> rusqlite::Result<()> {
    let rows: Vec<(Value, Vec<u8>)> = conn
        .prepare_cached("SELECT id, body FROM ballot_box WHERE convention = ?1")?
        .query_map([convention], |r| Ok((r.get(0)?, bytes_of(r.get_ref(1)?))))?
        .collect::<Result<_, _>>()?;
    let mut bodies = Vec::new();
    let mut delete =
        conn.prepare_cached("DELETE FROM ballot_box WHERE convention = ?1 AND id = ?2")?;
    for (id, body) in rows {
        if poll_of(&body).as_deref() == Some(poll) {
            delete.execute(params![convention, id])?;
            // A ballot of the poll parses: it is valid UTF-8.
            bodies.push(String::from_utf8_lossy(&body).into_owned());
        }
    }
    if bodies.is_empty() {
        return Ok(());
    }
    let before: Option<Vec<u8>> = conn
        .prepare_cached("SELECT body FROM sealed_ballots WHERE convention = ?1 AND poll = ?2")?
        .query_row([convention, poll], |r| Ok(bytes_of(r.get_ref(0)?)))
        .optional()?;
    // Sealed twice (ballots planted after a close): one list still, re-sorted. A list that
    // does not parse is kept as it is, beside, for whoever investigates.
    if let Some(before) = before {
        match serde_json::from_slice::<Vec<serde_json::Value>>(&before) {
            Ok(items) => bodies.extend(items.iter().map(|v| v.to_string())),
            Err(_) => {
                conn.prepare_cached(
                    "UPDATE sealed_ballots SET poll = ?3 WHERE convention = ?1 AND poll = ?2",
                )?
                .execute(params![
                    convention,
                    poll,
                    format!("{poll} (unreadable)")
                ])?;
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO sealed_ballots (convention, poll, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (convention, poll) DO UPDATE SET body = excluded.body",
    )?
    .execute(params![convention, poll, seal_list(bodies)])
    .map(drop)
}

/// Rewrite the loose ballots of every convention under fresh random keys, in a random order,
/// within the caller's transaction. Clearing the table frees its pages (zeroed: secure_delete)
/// and empties its root page: no freed cell, no copy of a cell left in a page's unused space by
/// a split, no page allocated in the order of the splits, keeps a trace of the order of casting.
fn rewrite_box(conn: &Connection) -> rusqlite::Result<()> {
    // Values as stored, of whatever type: a planted row is kept as it is, as evidence.
    let mut rows: Vec<(Value, Value)> = conn
        .prepare_cached("SELECT convention, body FROM ballot_box")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    run(conn, "DELETE FROM ballot_box")?;
    rows.shuffle(&mut rand::thread_rng());
    for (convention, body) in &rows {
        insert_ballot(conn, convention, body)?;
    }
    Ok(())
}

/// Seal closed polls' loose ballots in a transaction of their own (see `Store::seal`).
fn seal_alone(conn: &Connection, convention: &str, polls: &[String]) -> Result<(), StoreError> {
    let result = (|| -> rusqlite::Result<()> {
        run(conn, "BEGIN IMMEDIATE")?;
        for poll in polls {
            seal_poll(conn, convention, poll)?;
        }
        rewrite_box(conn)?;
        run(conn, "COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = run(conn, "ROLLBACK");
    }
    result.map_err(unavailable)?;
    truncate_wal(conn);
    Ok(())
}

/// A convention's ballot box, and the log's last seq (one job of the writer thread: atomic).
fn ballot_box(conn: &Connection, convention: &str) -> Result<BallotBox, StoreError> {
    let seq: u64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE convention = ?1")
        .and_then(|mut s| s.query_row([convention], |r| r.get(0)))
        .map_err(unavailable)?;
    let mut rows = Vec::new();
    let mut stmt = conn
        .prepare_cached("SELECT body FROM ballot_box WHERE convention = ?1")
        .map_err(unavailable)?;
    let loose = stmt
        .query_map([convention], |r| Ok(bytes_of(r.get_ref(0)?)))
        .map_err(unavailable)?;
    for body in loose {
        rows.push(BoxRow::loose(&body.map_err(unavailable)?));
    }
    let mut stmt = conn
        .prepare_cached("SELECT poll, body FROM sealed_ballots WHERE convention = ?1")
        .map_err(unavailable)?;
    let sealed = stmt
        .query_map([convention], |r| {
            Ok((bytes_of(r.get_ref(0)?), bytes_of(r.get_ref(1)?)))
        })
        .map_err(unavailable)?;
    for row in sealed {
        let (poll, body) = row.map_err(unavailable)?;
        BoxRow::sealed(&String::from_utf8_lossy(&poll), &body, &mut rows);
    }
    Ok(BallotBox { rows, seq })
}

fn append_one(tx: &Connection, a: &Append) -> Result<(), StoreError> {
    let found: u64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events WHERE convention = ?1")
        .and_then(|mut s| s.query_row([&a.convention], |r| r.get(0)))
        .map_err(unavailable)?;
    if found != a.expected {
        return Err(StoreError::Conflict {
            convention: a.convention.clone(),
            expected: a.expected,
            found,
        });
    }
    let mut ins = tx
        .prepare_cached("INSERT INTO events (convention, seq, body) VALUES (?1, ?2, ?3)")
        .map_err(unavailable)?;
    for r in &a.records {
        let body = serde_json::to_string(r).map_err(unavailable)?;
        ins.execute(params![a.convention, r.seq, body])
            .map_err(unavailable)?;
    }
    let mut ins = tx
        .prepare_cached("INSERT INTO audit (convention, n, hash, body) VALUES (?1, ?2, ?3, ?4)")
        .map_err(unavailable)?;
    for e in &a.audit {
        let body = serde_json::to_string(e).map_err(unavailable)?;
        ins.execute(params![a.convention, e.n, e.hash, body])
            .map_err(unavailable)?;
    }
    Ok(())
}

/// The records after `after`, checked gapless. With `anchored`, the record `after` itself
/// must exist (a stored state at `after` belongs to this log), and is not returned.
fn records_from(
    conn: &Connection,
    convention: &str,
    after: u64,
    anchored: bool,
) -> Result<Vec<Record>, StoreError> {
    let from = if anchored { after } else { after + 1 };
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, body FROM events WHERE convention = ?1 AND seq >= ?2 ORDER BY seq",
        )
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![convention, from], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(unavailable)?;
    let mut records = Vec::new();
    let mut expected = from;
    for row in rows {
        let (seq, body) = row.map_err(unavailable)?;
        if seq != expected {
            return Err(StoreError::Corrupt(format!(
                "{convention}: seq {seq} out of order"
            )));
        }
        expected += 1;
        if anchored && seq == after {
            continue;
        }
        let record: Record = serde_json::from_str(&body)
            .map_err(|e| StoreError::Corrupt(format!("{convention} seq {seq}: {e}")))?;
        if record.seq != seq {
            return Err(StoreError::Corrupt(format!(
                "{convention}: seq {seq} out of order"
            )));
        }
        records.push(record);
    }
    if anchored && expected == from {
        return Err(StoreError::Corrupt(format!(
            "{convention}: a state at seq {after} but no such record"
        )));
    }
    Ok(records)
}

/// The log of a convention; with `states`, its latest stored state and the log after it.
fn load(
    conn: &Connection,
    states: Option<&Connection>,
    convention: &str,
) -> Result<Loaded, StoreError> {
    // A stored state is derived data: one that cannot be read is a longer replay, not a
    // convention that cannot be loaded.
    let state: Option<(u64, Vec<u8>)> = states.and_then(|states| {
        states
            .query_row(
                "SELECT seq, data FROM states WHERE convention = ?1",
                [convention],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, convention, "stored state unreadable; replaying the log");
                None
            })
    });
    let (records, state) = match state {
        Some((seq, data)) => match records_from(conn, convention, seq, true) {
            Ok(records) => (records, Some((seq, data))),
            // A state that does not fit the log is not used: the log is the truth.
            Err(StoreError::Corrupt(_)) => (records_from(conn, convention, 0, false)?, None),
            Err(e) => return Err(e),
        },
        None => (records_from(conn, convention, 0, false)?, None),
    };
    let audit_head = conn
        .query_row(
            "SELECT n, hash FROM audit WHERE convention = ?1 ORDER BY n DESC LIMIT 1",
            [convention],
            |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()
        .map_err(unavailable)?;
    let ballots = ballot_box(conn, convention)?;
    Ok(Loaded {
        ballots,
        records,
        audit_head,
        state,
    })
}

/// Keep `data` as the convention's state at `seq`, unless a later one is kept already.
fn save_state(
    conn: &Connection,
    convention: &str,
    seq: u64,
    data: &[u8],
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO states (convention, seq, data) VALUES (?1, ?2, ?3)
         ON CONFLICT (convention) DO UPDATE SET seq = excluded.seq, data = excluded.data
         WHERE excluded.seq > states.seq",
    )
    .and_then(|mut stmt| stmt.execute(params![convention, seq, data]))
    .map(|_| ())
    .map_err(unavailable)
}

fn conventions(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT convention FROM events WHERE seq = 1 ORDER BY convention")
        .map_err(unavailable)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

fn audit(conn: &Connection, convention: &str) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT body FROM audit WHERE convention = ?1 ORDER BY n")
        .map_err(unavailable)?;
    let rows = stmt
        .query_map([convention], |r| r.get::<_, String>(0))
        .map_err(unavailable)?;
    let mut out = Vec::new();
    for row in rows {
        let body = row.map_err(unavailable)?;
        out.push(serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    Ok(out)
}

/// The next update number continues after both the updates and the snapshot (which replaced
/// the updates up to its `upto`).
fn doc_append_one(tx: &Connection, a: &DocAppend) -> Result<u64, StoreError> {
    let last: u64 = tx
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(n) FROM doc_updates WHERE convention = ?1 AND doc = ?2), 0),
                        COALESCE((SELECT upto FROM doc_snapshots WHERE convention = ?1 AND doc = ?2), 0))",
        )
        .and_then(|mut s| s.query_row(params![a.convention, a.doc], |r| r.get(0)))
        .map_err(unavailable)?;
    let mut ins = tx
        .prepare_cached(
            "INSERT INTO doc_updates (convention, doc, n, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(unavailable)?;
    let mut n = last;
    for u in &a.updates {
        n += 1;
        ins.execute(params![a.convention, a.doc, n, u])
            .map_err(unavailable)?;
    }
    Ok(n)
}

fn doc_load(conn: &Connection, convention: &str, doc: &str) -> Result<DocLoaded, StoreError> {
    let snapshot = conn
        .query_row(
            "SELECT upto, data FROM doc_snapshots WHERE convention = ?1 AND doc = ?2",
            params![convention, doc],
            |r| Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()
        .map_err(unavailable)?;
    let upto = snapshot.as_ref().map_or(0, |(u, _)| *u);
    let mut stmt = conn
        .prepare_cached("SELECT n, data FROM doc_updates WHERE convention = ?1 AND doc = ?2 AND n > ?3 ORDER BY n")
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![convention, doc, upto], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(unavailable)?;
    let updates = rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)?;
    Ok(DocLoaded { snapshot, updates })
}

/// Replace the updates up to `upto` with a snapshot, atomically.
fn doc_compact(
    conn: &mut Connection,
    convention: &str,
    doc: &str,
    upto: u64,
    snapshot: &[u8],
) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(unavailable)?;
    tx.execute(
        "INSERT INTO doc_snapshots (convention, doc, upto, data) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (convention, doc) DO UPDATE SET upto = excluded.upto, data = excluded.data",
        params![convention, doc, upto, snapshot],
    )
    .map_err(unavailable)?;
    tx.execute(
        "DELETE FROM doc_updates WHERE convention = ?1 AND doc = ?2 AND n <= ?3",
        params![convention, doc, upto],
    )
    .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}

fn version_save(
    conn: &Connection,
    convention: &str,
    doc: &str,
    v: &StoredVersion,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO doc_versions (convention, doc, version, label, at, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![convention, doc, v.version, v.label, v.at, v.data],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn versions(
    conn: &Connection,
    convention: &str,
    doc: &str,
) -> Result<Vec<StoredVersion>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT version, label, at, data FROM doc_versions WHERE convention = ?1 AND doc = ?2 ORDER BY version")
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![convention, doc], |r| {
            Ok(StoredVersion {
                version: r.get(0)?,
                label: r.get(1)?,
                at: r.get(2)?,
                data: r.get(3)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
}

fn one_version(
    conn: &Connection,
    convention: &str,
    doc: &str,
    version: u32,
) -> Result<Option<StoredVersion>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT label, at, data FROM doc_versions WHERE convention = ?1 AND doc = ?2 AND version = ?3")
        .map_err(unavailable)?;
    stmt.query_row(params![convention, doc, version], |r| {
        Ok(StoredVersion {
            version,
            label: r.get(0)?,
            at: r.get(1)?,
            data: r.get(2)?,
        })
    })
    .optional()
    .map_err(unavailable)
}
