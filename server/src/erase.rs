//! `convene delete`: a convention removed from the store for good, while no server uses it;
//! and the same erase run by a live server (`erase_files`, `DELETE /api/conventions/{id}`).
//! A convention's log holds personal data (names, chat, who voted, attendance): once its
//! exports are kept, an organizer deletes it, and the other conventions stay as they are.
//!
//! Embedded: every row of the convention in every table of every database of the data
//! directory (each table with a `convention` column: the log, the ballot box, the documents,
//! the audit trail, the stored states, attendance), then each database rewritten (`VACUUM`)
//! and its write-ahead log truncated, so that no page, free page or frame keeps any of it.
//! `secure_delete` alone is not enough: it zeroes the deleted cells and the freed pages, but a
//! page rebuilt when the b-tree rebalanced keeps, in its unused middle, bytes of cells that
//! moved to a sibling earlier. With conventions' rows interleaved (12 conventions and the one
//! deleted, 60,000 rows inserted at random), 3 of 4,592 copies of a marker were still in the
//! file after the delete and the checkpoint, none after `VACUUM`. The price: a running server
//! holds every other convention's appends while the file is rewritten (1.8 s for 200 MB on
//! this machine).
//!
//! The data directory's lock keeps a server from using it meanwhile; a running server erases
//! with the same loop from its store's writer thread, with the connections it holds
//! (`live::Hub::delete`). Cluster mode: every key of the convention in Redis, once no node of
//! the cluster runs (the list of nodes, `convene:nodes`).

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::datadir::{self, LockError};
use crate::store::redis::RedisStore;
use crate::store::StoreError;

/// What was deleted from one database file.
#[derive(Debug, Clone, PartialEq)]
pub struct Deleted {
    pub file: String,
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error("no convention {0}: nothing deleted")]
    Unknown(String),
    #[error("--confirm must repeat the convention's id ({0}): nothing deleted")]
    NotConfirmed(String),
    #[error(
        "nodes of the cluster are running ({}): stop every node first, nothing deleted",
        .0.iter().map(|(b, a)| format!("{a}, convene {b}")).collect::<Vec<_>>().join("; ")
    )]
    NodesRunning(Vec<(String, String)>),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{}: {error}", path.display())]
    Sqlite {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `--confirm` must name the convention: a deletion cannot be undone.
pub fn confirmed(convention: &str, confirm: &str) -> Result<(), DeleteError> {
    if convention == confirm {
        Ok(())
    } else {
        Err(DeleteError::NotConfirmed(convention.to_string()))
    }
}

/// The tables of a database that have a `convention` column.
fn convention_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for name in names {
        let columns: Vec<String> = conn
            .prepare(&format!(
                "PRAGMA table_info(\"{}\")",
                name.replace('"', "\"\"")
            ))?
            .query_map([], |r| r.get(1))?
            .collect::<Result<_, _>>()?;
        if columns.iter().any(|c| c == "convention") {
            out.push(name);
        }
    }
    Ok(out)
}

/// Delete `convention` from the embedded store in `dir`, which no server may be using.
pub fn delete_sqlite(dir: &Path, convention: &str) -> Result<Vec<Deleted>, DeleteError> {
    let _lock = datadir::lock(dir)?;
    let log = dir.join("convene.sqlite3");
    if !log.exists() {
        return Err(DeleteError::Unknown(convention.to_string()));
    }
    let known: i64 = Connection::open(&log)
        .and_then(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM events WHERE convention = ?1",
                [convention],
                |r| r.get(0),
            )
        })
        .map_err(sql(&log))?;
    if known == 0 {
        return Err(DeleteError::Unknown(convention.to_string()));
    }
    erase_files(dir, convention, &mut [])
}

fn sql(path: &Path) -> impl FnOnce(rusqlite::Error) -> DeleteError {
    let path = path.to_path_buf();
    move |error| DeleteError::Sqlite { path, error }
}

/// Every row of `convention` out of every database (`*.sqlite3`) of `dir`, each file then
/// rewritten and its write-ahead log truncated. The one loop of both deletions: `convene
/// delete` (no server, a connection of its own per file) and the running server's (`DELETE
/// /api/conventions/{id}`, from the store's writer thread), which lends the connections it
/// holds open (`own`: by file name) so that no other connection of the process writes the
/// file meanwhile; the other files get a connection of their own, with a busy timeout.
pub fn erase_files(
    dir: &Path,
    convention: &str,
    own: &mut [(&str, &mut Connection)],
) -> Result<Vec<Deleted>, DeleteError> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(|error| DeleteError::Io {
            path: dir.to_path_buf(),
            error,
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sqlite3"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let path = dir.join(&file);
        let rows = match own.iter_mut().find(|(name, _)| *name == file) {
            Some((_, conn)) => erase_one(conn, convention),
            None => Connection::open(&path).and_then(|mut c| erase_one(&mut c, convention)),
        }
        .map_err(sql(&path))?;
        out.push(Deleted { file, rows });
    }
    Ok(out)
}

/// `convention`'s rows out of one database, then every page written afresh.
fn erase_one(conn: &mut Connection, convention: &str) -> rusqlite::Result<u64> {
    // Freed content is overwritten, then every page written afresh.
    conn.execute_batch("PRAGMA secure_delete=ON; PRAGMA busy_timeout=5000;")?;
    let tables = convention_tables(conn)?;
    let tx = conn.transaction()?;
    let mut rows = 0u64;
    for table in &tables {
        rows += tx.execute(
            &format!(
                "DELETE FROM \"{}\" WHERE convention = ?1",
                table.replace('"', "\"\"")
            ),
            [convention],
        )? as u64;
    }
    tx.commit()?;
    conn.execute_batch("VACUUM;")?;
    // A reader elsewhere would keep the log's frames (busy = 1): say so rather than leave them.
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("the write-ahead log is in use: not truncated".into()),
        ));
    }
    Ok(rows)
}

/// Delete `convention` from Redis, once no node of the cluster runs.
pub async fn delete_redis(store: &RedisStore, convention: &str) -> Result<(), DeleteError> {
    let running = store.live_nodes().await?;
    if !running.is_empty() {
        return Err(DeleteError::NodesRunning(running));
    }
    if !store.conventions().await?.iter().any(|c| c == convention) {
        return Err(DeleteError::Unknown(convention.to_string()));
    }
    store.delete(convention).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lent connection (the live server's) and a fresh one (another file) both erase their
    /// file, and the lent one serves on afterwards, as the writer thread's does.
    #[test]
    fn erase_files_uses_the_lent_connection_and_opens_the_others() {
        let dir = std::env::temp_dir().join(format!(
            "convene-erase-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let setup = |name: &str| {
            let c = Connection::open(dir.join(name)).unwrap();
            c.execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE t (convention TEXT NOT NULL, body TEXT NOT NULL);
                 INSERT INTO t VALUES ('gone', 'MarqueA'), ('gone', 'MarqueB'), ('kept', 'K');",
            )
            .unwrap();
            c
        };
        let mut lent = setup("a.sqlite3");
        drop(setup("b.sqlite3"));
        std::fs::write(dir.join("notes.txt"), "not a database").unwrap();
        let out = erase_files(&dir, "gone", &mut [("a.sqlite3", &mut lent)]).unwrap();
        assert_eq!(
            out,
            vec![
                Deleted {
                    file: "a.sqlite3".into(),
                    rows: 2
                },
                Deleted {
                    file: "b.sqlite3".into(),
                    rows: 2
                },
            ]
        );
        let kept: i64 = lent
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 1);
        for name in ["a.sqlite3", "b.sqlite3", "a.sqlite3-wal", "b.sqlite3-wal"] {
            let bytes = std::fs::read(dir.join(name)).unwrap_or_default();
            assert!(
                !bytes.windows(7).any(|w| w == b"MarqueA"),
                "{name} keeps a deleted row"
            );
        }
        drop(lent);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
