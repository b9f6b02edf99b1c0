//! The audit trail: an append-only, hash-chained record of every organizer and facilitator
//! action and every consequential state change. Each entry carries the hash of the previous
//! one, so an export can be checked link by link (`convene audit verify FILE`).

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
        // Ballots are never audited: the close carries the tally.
        d::Event::ChatPosted { .. }
        | d::Event::HandRaised { .. }
        | d::Event::HandLowered { .. }
        | d::Event::BallotCast { .. }
        | d::Event::VoterMarked { .. }
        | d::Event::SecretBallotCast { .. } => false,
        _ => match &record.actor {
            d::Actor::Organizer | d::Actor::Timer => true,
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
}

/// Check an exported trail (JSON lines). Returns the number of entries, or the first broken
/// link. Entries must start at 1 (a whole export).
pub fn verify(input: impl BufRead) -> Result<u64, VerifyError> {
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
        prev = e.hash;
        expected += 1;
    }
    Ok(expected - 1)
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
