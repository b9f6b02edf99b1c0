//! Attendance: who was connected (past `hello`) when, kept OUT of the convention's log. The
//! log is immutable and kept for ever (it is the audit trail); attendance is personal data
//! with a retention period (`--attendance-retention-days`), so it has a store of its own that
//! can be purged: SQLite `attendance.sqlite3` in the data directory, or the Redis hash
//! `cv:{id}:attendance` in cluster mode.
//!
//! Each convention's task keeps a [`Tracker`]: the stretch of presence of each person
//! connected to this node (several connections of one person at once are one stretch) and the
//! stretches ended since the last write. It writes them every `--attendance-flush-secs`
//! (default 30 s), when its task stops (shutdown, an idle replica let go) and when too many
//! ended stretches wait; an open stretch is written with its end at the time of writing, so a
//! `kill -9` loses at most the last flush period of each. Each stretch has a random id, so
//! nodes never overwrite each other; a person on two nodes at once has two stretches, merged
//! at read time (`domain::attendance::merge`), so they count once.

mod tracker;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use rusqlite::{params, Connection};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::domain::attendance::DAY_MS;
use crate::store::{Store, StoreError};

pub use tracker::{Mark, Tracker, MAX_STRETCHES_PER_DAY, MAX_WAITING};

/// One stretch of presence as stored: its random id (unique across nodes), the person, when it
/// began and when it ended (or was last written down, while still open).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stretch {
    pub id: String,
    pub person: String,
    pub start: u64,
    pub end: u64,
}

/// The settings of `convene serve`.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// How often each convention's task writes its stretches down.
    pub flush_every: Duration,
    /// Stretches that ended longer ago than this many days are deleted.
    pub retention_days: u32,
}

#[derive(Clone)]
enum Backend {
    /// `attendance.sqlite3`, one connection used from blocking tasks.
    Sqlite(Arc<Mutex<Connection>>),
    Redis(redis::aio::ConnectionManager),
}

/// The attendance store of this process.
#[derive(Clone)]
pub struct Attendance {
    backend: Backend,
    pub settings: Settings,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("attendance: {e}"))
}

fn redis_key(convention: &str) -> String {
    format!("cv:{{{convention}}}:attendance")
}

impl Attendance {
    /// The attendance store beside `store`: in the data directory `dir` (SQLite), or in the
    /// same Redis.
    pub fn open(store: &Store, dir: &Path, settings: Settings) -> Result<Self, StoreError> {
        let backend = match store {
            Store::Redis(r) => Backend::Redis(r.manager()),
            Store::Sqlite(_) => {
                let conn = Connection::open(dir.join("attendance.sqlite3")).map_err(unavailable)?;
                conn.execute_batch(
                    "PRAGMA journal_mode=WAL;
                     PRAGMA synchronous=FULL;
                     PRAGMA busy_timeout=5000;
                     PRAGMA secure_delete=ON;
                     CREATE TABLE IF NOT EXISTS attendance (
                         convention TEXT NOT NULL,
                         id TEXT NOT NULL,
                         person TEXT NOT NULL,
                         start_ms INTEGER NOT NULL,
                         end_ms INTEGER NOT NULL,
                         PRIMARY KEY (convention, id)
                     ) WITHOUT ROWID;
                     CREATE INDEX IF NOT EXISTS attendance_end ON attendance (end_ms);",
                )
                .map_err(unavailable)?;
                Backend::Sqlite(Arc::new(Mutex::new(conn)))
            }
        };
        Ok(Attendance { backend, settings })
    }

    /// The SQLite connection of `attendance.sqlite3` (embedded mode): lent to the erase of a
    /// deleted convention (`erase::erase_files`), so that no write of it comes in between.
    pub fn sqlite(&self) -> Option<Arc<Mutex<Connection>>> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c.clone()),
            Backend::Redis(_) => None,
        }
    }

    /// Write stretches down (a stretch written again keeps its latest end).
    pub async fn write(&self, convention: &str, stretches: Vec<Stretch>) -> Result<(), StoreError> {
        if stretches.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Sqlite(conn) => {
                let conn = conn.clone();
                let convention = convention.to_string();
                blocking(move || {
                    let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let tx = c.transaction()?;
                    {
                        let mut put = tx.prepare_cached(
                            "INSERT INTO attendance (convention, id, person, start_ms, end_ms)
                             VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (convention, id) DO UPDATE
                             SET end_ms = max(end_ms, excluded.end_ms)",
                        )?;
                        for s in &stretches {
                            put.execute(params![
                                convention,
                                s.id,
                                s.person,
                                s.start as i64,
                                s.end as i64
                            ])?;
                        }
                    }
                    tx.commit()
                })
                .await
            }
            Backend::Redis(con) => {
                let mut con = con.clone();
                let items: Vec<(String, String)> = stretches
                    .iter()
                    .map(|s| {
                        let value = serde_json::json!([s.person, s.start, s.end]).to_string();
                        (s.id.clone(), value)
                    })
                    .collect();
                con.hset_multiple::<_, _, _, ()>(redis_key(convention), &items)
                    .await
                    .map_err(unavailable)
            }
        }
    }

    /// Every stretch stored for a convention.
    pub async fn read(&self, convention: &str) -> Result<Vec<Stretch>, StoreError> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                let conn = conn.clone();
                let convention = convention.to_string();
                blocking(move || {
                    let c = conn.lock().unwrap_or_else(|e| e.into_inner());
                    let mut q = c.prepare_cached(
                        "SELECT id, person, start_ms, end_ms FROM attendance WHERE convention = ?1",
                    )?;
                    let rows = q.query_map([&convention], |r| {
                        Ok(Stretch {
                            id: r.get(0)?,
                            person: r.get(1)?,
                            start: r.get::<_, i64>(2)?.max(0) as u64,
                            end: r.get::<_, i64>(3)?.max(0) as u64,
                        })
                    })?;
                    rows.collect()
                })
                .await
            }
            Backend::Redis(con) => {
                let mut con = con.clone();
                let all: Vec<(String, String)> = con
                    .hgetall(redis_key(convention))
                    .await
                    .map_err(unavailable)?;
                Ok(all
                    .into_iter()
                    .filter_map(|(id, v)| {
                        // A value that is not ours is skipped, not fatal.
                        let (person, start, end): (String, u64, u64) =
                            serde_json::from_str(&v).ok()?;
                        Some(Stretch {
                            id,
                            person,
                            start,
                            end,
                        })
                    })
                    .collect())
            }
        }
    }

    /// Delete the stretches that ended more than the retention period before `now`; returns
    /// how many. `conventions` lists the conventions to look at (Redis keeps one hash each).
    pub async fn purge(&self, now: u64, conventions: Vec<String>) -> Result<u64, StoreError> {
        let cutoff = now.saturating_sub(u64::from(self.settings.retention_days) * DAY_MS);
        match &self.backend {
            Backend::Sqlite(conn) => {
                let conn = conn.clone();
                blocking(move || {
                    let c = conn.lock().unwrap_or_else(|e| e.into_inner());
                    c.execute("DELETE FROM attendance WHERE end_ms < ?1", [cutoff as i64])
                        .map(|n| n as u64)
                })
                .await
            }
            Backend::Redis(con) => {
                let mut n = 0;
                for id in conventions {
                    let old: Vec<String> = self
                        .read(&id)
                        .await?
                        .into_iter()
                        .filter(|s| s.end < cutoff)
                        .map(|s| s.id)
                        .collect();
                    if old.is_empty() {
                        continue;
                    }
                    let mut con = con.clone();
                    for chunk in old.chunks(1000) {
                        let _: () = con.hdel(redis_key(&id), chunk).await.map_err(unavailable)?;
                    }
                    n += old.len() as u64;
                }
                Ok(n)
            }
        }
    }

    /// Purge now, then once a day until `cancel`.
    pub async fn start_purging(
        &self,
        store: Store,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) {
        self.purge_once(&store).await;
        let me = self.clone();
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(DAY_MS)) => me.purge_once(&store).await,
                }
            }
        });
    }

    async fn purge_once(&self, store: &Store) {
        let conventions = match store {
            Store::Redis(_) => store.conventions().await.unwrap_or_default(),
            Store::Sqlite(_) => Vec::new(),
        };
        match self.purge(now_ms(), conventions).await {
            Ok(n) => info!(
                deleted = n,
                retention_days = self.settings.retention_days,
                "attendance purged"
            ),
            Err(e) => warn!(error = %e, "attendance purge failed"),
        }
    }
}

/// The wall clock, in ms since the epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Run SQLite work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(unavailable)?
        .map_err(unavailable)
}
