//! The data directory is private to the server's user: created 0700, every file in it 0600.
//! It holds the log, the ballot box, the organizer token and the demo secret (which yields
//! every demo token): nobody else on the machine may read any of it.
//!
//! `convene serve` also sets its umask to 077 at start (main.rs), so that whatever SQLite
//! creates later (the WAL, the shared-memory file, states.sqlite3) is 0600 as well; the
//! directory's own mode protects them even where the umask was not set (`run` embedded).
//!
//! `backup` copies it whole while a server runs on it (`convene backup`).

use std::io::Write;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Create `dir` (0700) if absent. If it exists with modes looser than the server's own (an
/// earlier version, a hand-made directory), tighten it and everything in it: directories to
/// 0700 and files to 0600 at most, each with a warning naming the path and its former mode.
/// A path that cannot be tightened (owned by someone else) is warned about, not fatal: the
/// directory's own mode still keeps the rest out.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    tighten(dir)?;
    Ok(())
}

/// Take group and other bits away from `root` and everything under it, walked without
/// recursion (a deep tree cannot overflow the stack); symbolic links are neither followed
/// nor changed.
#[cfg(unix)]
fn tighten(root: &Path) -> std::io::Result<()> {
    let mut todo = vec![root.to_path_buf()];
    while let Some(path) = todo.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            let tight = mode & !0o077;
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(tight)) {
                Ok(()) => tracing::warn!(
                    path = %path.display(),
                    was = format!("{mode:o}"),
                    now = format!("{tight:o}"),
                    "data file was readable by others: tightened"
                ),
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    mode = format!("{mode:o}"),
                    error = %e,
                    "data file is readable by others and cannot be tightened"
                ),
            }
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                todo.push(entry?.path());
            }
        }
    }
    Ok(())
}

/// Write a secret file, created 0600 (never readable by others, not even for a moment). A
/// file already there keeps its inode but is tightened to 0600 before the secret is written.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.set_len(0)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The lock file: held (`flock`) by the one process that serves a data directory, and
/// naming it (its process id).
pub const LOCK_FILE: &str = "convene.lock";

/// The data directory's lock, held while it lives: one process at a time serves a data
/// directory (two would each keep their own state of the same conventions), or imports into
/// it while none serves it. The kernel releases it when the process ends, `kill -9` included.
#[derive(Debug)]
pub struct DataLock {
    _file: std::fs::File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another convene (process {pid}) is using the data directory {}: stop it first, or give \
         this one another --data",
        dir.display()
    )]
    Busy {
        dir: std::path::PathBuf,
        pid: String,
    },
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

/// Take the data directory's lock, or say which process holds it.
pub fn lock(dir: &Path) -> Result<DataLock, LockError> {
    use std::io::Read;
    let path = dir.join(LOCK_FILE);
    let io = |error| LockError::Io {
        path: path.clone(),
        error,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            return Err(LockError::Busy {
                dir: dir.to_path_buf(),
                pid: match pid.trim() {
                    "" => "unknown".into(),
                    p => p.to_string(),
                },
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.write_all(std::process::id().to_string().as_bytes())
        .map_err(io)?;
    Ok(DataLock { _file: file })
}

/// One file of a backup, as `backup` reports it once written.
#[derive(Debug, Clone, PartialEq)]
pub struct Copied {
    pub name: String,
    pub bytes: u64,
    /// A database, copied as one consistent snapshot (rather than byte for byte).
    pub database: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} is not a data directory of convene (no convene.sqlite3, no organizer-token)")]
    NotData(std::path::PathBuf),
    #[error("{0} exists and is not empty: a backup never writes over anything")]
    NotEmpty(std::path::PathBuf),
    #[error("{}: {error}", path.display())]
    Sqlite {
        path: std::path::PathBuf,
        error: rusqlite::Error,
    },
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
}

/// Copy the data directory `data` to `out`, while a server may be running on it and writing:
/// `convene backup`. `out` must not exist or be empty; it appears only once complete (the
/// files go to a sibling folder renamed at the end), private like the data directory.
///
/// Each SQLite database is copied with `VACUUM INTO`, one read transaction (a consistent
/// snapshot; SQLite's readers never block its writer) that writes a fresh file, so that the
/// copy keeps nothing the live file may hold beyond its rows: no write-ahead log, no free page,
/// no page image, and the rows of each table in the order of its keys. The ballot box's keys
/// are random: a backup taken while a secret poll is open keeps no order of the casting, which
/// a copy of the files would (ARCHITECTURE.md, "Secret ballots"). The stored states (derived
/// data) are copied before the log, so that none is ahead of the log it is a state of. Every
/// other file (the organizer token, the secrets) is copied as it is. `each` is called after
/// each file.
pub fn backup(
    data: &Path,
    out: &Path,
    mut each: impl FnMut(&Copied),
) -> Result<Vec<Copied>, BackupError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| BackupError::Io { path, error }
    };
    let sql = |path: &Path| {
        let path = path.to_path_buf();
        move |error| BackupError::Sqlite { path, error }
    };
    let mut databases = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(data).map_err(io(data))? {
        let entry = entry.map_err(io(data))?;
        let kind = entry.file_type().map_err(io(&entry.path()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !kind.is_file() || name == LOCK_FILE {
            continue;
        }
        if name.ends_with(".sqlite3") {
            databases.push(name);
        } else if !["-wal", "-shm", "-journal"]
            .iter()
            .any(|part| name.ends_with(&format!(".sqlite3{part}")))
        {
            files.push(name);
        }
    }
    if !databases.iter().any(|n| n == "convene.sqlite3")
        && !files.iter().any(|n| n == "organizer-token")
    {
        return Err(BackupError::NotData(data.to_path_buf()));
    }
    // The log last: a stored state copied after it could be ahead of it.
    databases.sort_by_key(|n| (n == "convene.sqlite3", n.clone()));
    files.sort();

    if let Ok(mut inside) = std::fs::read_dir(out) {
        if inside.next().is_some() {
            return Err(BackupError::NotEmpty(out.to_path_buf()));
        }
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let staging = parent.join(format!(
        ".{}.partial-{}",
        out.file_name()
            .map_or_else(|| "backup".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&staging);
    prepare(&staging).map_err(io(&staging))?;
    let result = (|| {
        let mut copied = Vec::new();
        for name in &files {
            let from = data.join(name);
            let bytes = std::fs::read(&from).map_err(io(&from))?;
            let to = staging.join(name);
            write_private(&to, &bytes).map_err(io(&to))?;
            copied.push(Copied {
                name: name.clone(),
                bytes: bytes.len() as u64,
                database: false,
            });
            each(copied.last().expect("just pushed"));
        }
        for name in &databases {
            let from = data.join(name);
            let to = staging.join(name);
            let conn = rusqlite::Connection::open_with_flags(
                &from,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sql(&from))?;
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .map_err(sql(&from))?;
            conn.execute("VACUUM INTO ?1", [to.to_string_lossy()])
                .map_err(sql(&from))?;
            drop(conn);
            #[cfg(unix)]
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .map_err(io(&to))?;
            // The copy is whole and readable before it counts.
            let check = rusqlite::Connection::open_with_flags(
                &to,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)))
            .map_err(sql(&to))?;
            if check != "ok" {
                return Err(BackupError::Io {
                    path: to,
                    error: std::io::Error::other(format!("copy fails its check: {check}")),
                });
            }
            std::fs::File::open(&to)
                .and_then(|f| f.sync_all())
                .map_err(io(&to))?;
            let bytes = std::fs::metadata(&to).map_err(io(&to))?.len();
            copied.push(Copied {
                name: name.clone(),
                bytes,
                database: true,
            });
            each(copied.last().expect("just pushed"));
        }
        std::fs::File::open(&staging)
            .and_then(|f| f.sync_all())
            .map_err(io(&staging))?;
        // An empty `out` is replaced (rename takes the place of an empty directory).
        std::fs::rename(&staging, out).map_err(io(out))?;
        std::fs::File::open(&parent)
            .and_then(|f| f.sync_all())
            .map_err(io(&parent))?;
        Ok(copied)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    result
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_secret_written_over_a_readable_file_ends_private() {
        let dir = std::env::temp_dir().join(format!("convene-datadir-{}", std::process::id()));
        prepare(&dir).unwrap();
        let path = dir.join("secret");
        std::fs::write(&path, "longer old content").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
