//! The data directory is private to the server's user: created 0700, every file in it 0600.
//! It holds the log, the ballot box, the organizer token and the demo secret (which yields
//! every demo token): nobody else on the machine may read any of it.
//!
//! `convene serve` also sets its umask to 077 at start (main.rs), so that whatever SQLite
//! creates later (the WAL, the shared-memory file, states.sqlite3) is 0600 as well; the
//! directory's own mode protects them even where the umask was not set (`run` embedded).

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
