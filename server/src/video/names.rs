//! Meeting names nobody can guess: an HMAC-SHA256, under a server secret, of the convention's
//! and the room's ids. Knowing a convention's ids (they are in every snapshot) gives no way
//! into its breakout rooms' video; only Convene, which checks where a person is, hands names
//! (with tokens) out.

use std::io::Write;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The file of the data directory that keeps the generated key.
pub const SECRET_FILE: &str = "video-secret";

/// Names the meetings of rooms.
#[derive(Clone)]
pub struct RoomNames {
    key: Vec<u8>,
}

impl std::fmt::Debug for RoomNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomNames { key: <secret> }")
    }
}

impl RoomNames {
    pub fn new(key: Vec<u8>) -> Self {
        RoomNames { key }
    }

    /// `cv` and 128 bits of HMAC in lowercase hex: a valid room name for Jitsi (which
    /// lowercases names) and LiveKit alike.
    pub fn name(&self, convention: &str, room: &str) -> String {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC accepts keys of any length");
        // Ids never hold a NUL: it separates them without ambiguity.
        mac.update(b"convene video meeting\0");
        mac.update(convention.as_bytes());
        mac.update(b"\0");
        mac.update(room.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("cv{}", hex::encode(&tag[..16]))
    }
}

/// The key of the meeting names: `--video-secret` when given; else, in cluster mode, derived
/// from the organizer token every node shares (so that every node names a room alike); else
/// the one kept in the data directory, generated at first start with mode 0600.
pub fn load_key(
    given: Option<&str>,
    cluster_token: Option<&str>,
    data: &Path,
) -> std::io::Result<Vec<u8>> {
    if let Some(s) = given.filter(|s| !s.is_empty()) {
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(t) = cluster_token {
        let mut h = Sha256::new();
        h.update(b"convene video meeting names\0");
        h.update(t.as_bytes());
        return Ok(h.finalize().to_vec());
    }
    let path = data.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    let secret = hex::encode(b);
    write_new_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

/// Write a file that only the server's user may read, created with that mode (never readable
/// by others, not even for a moment); an empty file left by a crash is replaced.
fn write_new_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    // A file that existed (empty) keeps its mode: make it private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_depend_on_key_convention_and_room_and_hide_them() {
        let a = RoomNames::new(b"one".to_vec());
        let b = RoomNames::new(b"two".to_vec());
        let n = a.name("demo", "r1");
        assert_eq!(n, a.name("demo", "r1"));
        assert_eq!(n.len(), 34);
        assert!(n
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert!(!n.contains("demo") && !n.contains("r1"));
        assert_ne!(n, b.name("demo", "r1"));
        assert_ne!(n, a.name("demo", "r2"));
        assert_ne!(n, a.name("demo2", "r1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(a.name("ab", "c"), a.name("a", "bc"));
    }
}
