//! The audit trail: an append-only, hash-chained record of every organizer and facilitator
//! action and every consequential state change. Each entry carries the hash of the previous
//! one, so an export can be checked link by link (`convene audit verify FILE`), and against a
//! head a guarantor noted down (`--head N:HASH`): a chain rewritten from any entry on and
//! re-hashed verifies link by link, but no longer holds the noted entry's hash.

use std::io::BufRead;

use convene_protocol::{AuditEntry, Event, Record};
use sha2::{Digest, Sha256};

use crate::domain::{self as d, Convention, Role};

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether an event belongs in the audit trail: whatever organizers, facilitators and timers
/// did, and who got the floor for how long. Citizens' chat and hands are not audited.
pub fn audited(state: &Convention, record: &d::Record) -> bool {
    match &record.event {
        d::Event::FloorGiven { .. }
        | d::Event::FloorEnded { .. }
        | d::Event::FloorLimitSet { .. } => true,
        // The moderation log: every moderation event, reports by anyone included, with who,
        // what, whom, when and why.
        d::Event::ChatHidden { .. }
        | d::Event::ChatUnhidden { .. }
        | d::Event::ChatReported { .. }
        | d::Event::ReportDismissed { .. }
        | d::Event::ParticipantMuted { .. }
        | d::Event::ParticipantUnmuted { .. }
        | d::Event::ParticipantRemoved { .. }
        | d::Event::ParticipantReadmitted { .. } => true,
        // Ballots are never audited: the close carries the tally.
        d::Event::ChatPosted { .. }
        | d::Event::HandRaised { .. }
        | d::Event::HandLowered { .. }
        | d::Event::BallotCast { .. }
        | d::Event::VoterMarked { .. }
        | d::Event::SecretBallotCast { .. }
        | d::Event::PublicBallotCast { .. } => false,
        _ => match &record.actor {
            d::Actor::Organizer | d::Actor::Timer => true,
            d::Actor::Public => false,
            d::Actor::Participant(id) => state
                .people
                .get(id)
                .is_some_and(|p| p.has(Role::Facilitator)),
        },
    }
}

/// The event as the trail shows it: secrets removed.
fn redacted(event: &Event) -> serde_json::Value {
    let mut v = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("token_hash");
    }
    v
}

/// SHA-256 (hex) of `prev` followed by the entry's canonical JSON without its `hash`:
/// serde_json sorts object keys and writes no whitespace.
pub fn hash_of(entry: &AuditEntry) -> String {
    let mut v = serde_json::to_value(entry).unwrap_or(serde_json::Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("hash");
    }
    let mut h = Sha256::new();
    h.update(entry.prev.as_bytes());
    h.update(v.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// The next entry of a trail whose last entry is number `n - 1` with hash `prev`.
pub fn entry(n: u64, prev: &str, record: &Record) -> AuditEntry {
    let mut e = AuditEntry {
        n,
        seq: record.seq,
        at: record.at,
        by: record.by.clone(),
        event: redacted(&record.event),
        prev: prev.to_string(),
        hash: String::new(),
    };
    e.hash = hash_of(&e);
    e
}

/// The head of a trail as a guarantor notes it: entry `n` and its hash, whole (64 hex digits)
/// or its first 16 digits at least (64 bits: no one can make a rewritten chain end on them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub n: u64,
    /// Lowercase hex, 16 to 64 digits.
    pub hash: String,
}

/// The least of a hash a noted head may give.
pub const MIN_HEAD_DIGITS: usize = 16;

impl std::str::FromStr for Head {
    type Err = String;

    /// `N:HASH`, e.g. `42:3f9a0c…` (the guarantor's view shows both).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (n, hash) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: a head is N:HASH (entry number, colon, its hash)"))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?}: the entry number is a whole number from 1"))?;
        let hash = hash.trim().to_ascii_lowercase();
        if n == 0 {
            return Err("entries are numbered from 1".into());
        }
        if !(MIN_HEAD_DIGITS..=64).contains(&hash.len())
            || !hash.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(format!(
                "{hash:?}: the hash is {MIN_HEAD_DIGITS} to 64 hexadecimal digits"
            ));
        }
        Ok(Head { n, hash })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("line {line}: not an audit entry: {reason}")]
    Unreadable { line: usize, reason: String },
    #[error("line {line} (entry {n}): expected entry number {expected}")]
    Numbering { line: usize, n: u64, expected: u64 },
    #[error("line {line} (entry {n}): its prev does not match the hash of the entry before: the chain is broken here")]
    BrokenLink { line: usize, n: u64 },
    #[error("line {line} (entry {n}): its hash does not match its content: the entry was altered")]
    Altered { line: usize, n: u64 },
    #[error("entry {n}, the head you noted, is missing: the export ends at entry {last} (the trail was cut, or rewritten)")]
    HeadMissing { n: u64, last: u64 },
    #[error("entry {n} has the hash {found}, not {noted} as you noted: the trail was rewritten at or before entry {n}")]
    HeadMismatch {
        n: u64,
        noted: String,
        found: String,
    },
}

/// Check an exported trail (JSON lines). Returns the number of entries, or the first broken
/// link. Entries must start at 1 (a whole export).
pub fn verify(input: impl BufRead) -> Result<u64, VerifyError> {
    verify_with_head(input, None)
}

/// [`verify`], and with `head`: the export must still hold entry `head.n` with that hash.
/// Link by link, a chain rewritten from some entry on and re-hashed verifies; the head a
/// guarantor noted before the rewriting does not survive it.
pub fn verify_with_head(input: impl BufRead, head: Option<&Head>) -> Result<u64, VerifyError> {
    let mut found: Option<String> = None;
    let mut prev = GENESIS.to_string();
    let mut expected = 1u64;
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| VerifyError::Unreadable {
            line: line_no,
            reason: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let e: AuditEntry = serde_json::from_str(&line).map_err(|err| VerifyError::Unreadable {
            line: line_no,
            reason: err.to_string(),
        })?;
        if e.n != expected {
            return Err(VerifyError::Numbering {
                line: line_no,
                n: e.n,
                expected,
            });
        }
        if e.prev != prev {
            return Err(VerifyError::BrokenLink {
                line: line_no,
                n: e.n,
            });
        }
        if hash_of(&e) != e.hash {
            return Err(VerifyError::Altered {
                line: line_no,
                n: e.n,
            });
        }
        if head.is_some_and(|h| h.n == e.n) {
            found = Some(e.hash.clone());
        }
        prev = e.hash;
        expected += 1;
    }
    let last = expected - 1;
    if let Some(h) = head {
        let Some(found) = found else {
            return Err(VerifyError::HeadMissing { n: h.n, last });
        };
        if !found.starts_with(&h.hash) {
            return Err(VerifyError::HeadMismatch {
                n: h.n,
                noted: h.hash.clone(),
                found,
            });
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::Actor;

    fn trail(len: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=len)
            .map(|n| {
                let r = Record {
                    seq: n * 2,
                    at: 1_700_000_000_000 + n,
                    by: Actor::Organizer,
                    request: None,
                    event: Event::BroadcastSent {
                        text: format!("message {n}"),
                    },
                };
                let e = entry(n, &prev, &r);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn text(entries: &[AuditEntry]) -> String {
        entries
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect()
    }

    #[test]
    fn a_whole_trail_verifies() {
        assert_eq!(verify(text(&trail(5)).as_bytes()), Ok(5));
    }

    #[test]
    fn an_altered_entry_is_pointed_at() {
        let mut t = trail(5);
        t[2].event = serde_json::json!({"type": "broadcast_sent", "text": "autre chose"});
        assert_eq!(
            verify(text(&t).as_bytes()),
            Err(VerifyError::Altered { line: 3, n: 3 })
        );
    }

    #[test]
    fn a_removed_entry_is_pointed_at() {
        let mut t = trail(5);
        t.remove(1);
        assert_eq!(
            verify(text(&t).as_bytes()),
            Err(VerifyError::Numbering {
                line: 2,
                n: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link() {
        let mut t = trail(5);
        t[1].event = serde_json::json!({"type": "broadcast_sent", "text": "forgé"});
        t[1].hash = hash_of(&t[1]);
        assert_eq!(
            verify(text(&t).as_bytes()),
            Err(VerifyError::BrokenLink { line: 3, n: 3 })
        );
    }

    #[test]
    fn a_rewritten_tail_verifies_alone_but_not_against_the_noted_head() {
        let t = trail(5);
        let head = Head {
            n: 5,
            hash: t[4].hash.clone(),
        };
        let mut forged = t.clone();
        forged[2].event = serde_json::json!({"type": "broadcast_sent", "text": "forgé"});
        for i in 2..5 {
            forged[i].prev = forged[i - 1].hash.clone();
            forged[i].hash = hash_of(&forged[i]);
        }
        assert_eq!(verify(text(&forged).as_bytes()), Ok(5));
        assert_eq!(verify_with_head(text(&t).as_bytes(), Some(&head)), Ok(5));
        assert!(matches!(
            verify_with_head(text(&forged).as_bytes(), Some(&head)),
            Err(VerifyError::HeadMismatch { n: 5, .. })
        ));
        // An earlier head, before the rewriting, still holds; one after it does not.
        let early = Head {
            n: 2,
            hash: t[1].hash[..16].to_string(),
        };
        assert_eq!(
            verify_with_head(text(&forged).as_bytes(), Some(&early)),
            Ok(5)
        );
        assert_eq!(
            verify_with_head(text(&t[..3]).as_bytes(), Some(&head)),
            Err(VerifyError::HeadMissing { n: 5, last: 3 })
        );
    }

    #[test]
    fn heads_are_read_as_n_colon_hash() {
        let h: Head = format!("42:{}", "AB".repeat(8)).parse().unwrap();
        assert_eq!(
            h,
            Head {
                n: 42,
                hash: "ab".repeat(8)
            }
        );
        for bad in [
            "42",
            "0:abababababababab",
            "x:abababababababab",
            "4:abc",
            "4:zzzzzzzzzzzzzzzz",
        ] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }

    #[test]
    fn token_hashes_never_reach_the_trail() {
        let r = Record {
            seq: 1,
            at: 1,
            by: Actor::Organizer,
            request: None,
            event: Event::InviteIssued {
                participant: "p1".into(),
                token_hash: "secret".into(),
            },
        };
        let e = entry(1, GENESIS, &r);
        assert!(!serde_json::to_string(&e).unwrap().contains("secret"));
    }
}
