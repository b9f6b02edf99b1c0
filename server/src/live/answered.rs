//! The requests a convention's task has answered: for each participant, the latest
//! `RETRY_WINDOW` request ids with the seq of their last event, so that a retry (the same id,
//! after a lost reply or a reconnect) is answered from the log instead of run twice. Bounded:
//! a participant who sends requests all day keeps at most the window, oldest forgotten first.
//!
//! In cluster mode a batch is applied before its append, and undone if another node appended
//! first. The index is not copied for that (a day's worth of ids, two strings each, copied
//! before every batch): `begin` starts a journal of what each insert changes, and `rollback`
//! undoes it, newest first.

use std::collections::{HashMap, VecDeque};

use convene_protocol::RETRY_WINDOW;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Recent {
    /// Ids, oldest first.
    order: VecDeque<String>,
    seq: HashMap<String, u64>,
}

#[derive(Debug, Default, Clone)]
pub struct Answered {
    by: HashMap<String, Recent>,
    /// Since `begin`: what each insert changed, in order.
    journal: Option<Vec<Change>>,
}

/// The same index, whatever the journal.
impl PartialEq for Answered {
    fn eq(&self, other: &Self) -> bool {
        self.by == other.by
    }
}

impl Eq for Answered {}

/// What one insert changed.
#[derive(Debug, Clone)]
enum Change {
    /// `id` was the participant's already, with `seq`.
    Updated {
        participant: String,
        id: String,
        seq: u64,
    },
    /// `id` was added at the back, pushing out `evicted` (oldest first) from the front; the
    /// participant had no entry before when `created`.
    Added {
        participant: String,
        id: String,
        evicted: Vec<(String, u64)>,
        created: bool,
    },
}

impl Answered {
    /// `participant`'s request `id` produced an event at `seq` (a request with several events
    /// is noted at each: the last one wins).
    pub fn insert(&mut self, participant: &str, id: &str, seq: u64) {
        let created = !self.by.contains_key(participant);
        let recent = self.by.entry(participant.to_string()).or_default();
        if let Some(s) = recent.seq.get_mut(id) {
            let before = std::mem::replace(s, seq);
            if let Some(j) = self.journal.as_mut() {
                j.push(Change::Updated {
                    participant: participant.to_string(),
                    id: id.to_string(),
                    seq: before,
                });
            }
            return;
        }
        recent.order.push_back(id.to_string());
        recent.seq.insert(id.to_string(), seq);
        let mut evicted = Vec::new();
        while recent.order.len() > RETRY_WINDOW {
            if let Some(old) = recent.order.pop_front() {
                let s = recent.seq.remove(&old).unwrap_or(0);
                evicted.push((old, s));
            }
        }
        if let Some(j) = self.journal.as_mut() {
            j.push(Change::Added {
                participant: participant.to_string(),
                id: id.to_string(),
                evicted,
                created,
            });
        }
    }

    /// From now on, note what each insert changes, until `rollback` (or `end`).
    pub fn begin(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Stop noting changes: what was inserted since `begin` stays.
    pub fn end(&mut self) {
        self.journal = None;
    }

    /// Undo every insert since `begin`, newest first, and stop noting.
    pub fn rollback(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        for change in journal.into_iter().rev() {
            match change {
                Change::Updated {
                    participant,
                    id,
                    seq,
                } => {
                    if let Some(s) = self
                        .by
                        .get_mut(&participant)
                        .and_then(|r| r.seq.get_mut(&id))
                    {
                        *s = seq;
                    }
                }
                Change::Added {
                    participant,
                    id,
                    evicted,
                    created,
                } => {
                    let Some(recent) = self.by.get_mut(&participant) else {
                        continue;
                    };
                    if recent.order.back() == Some(&id) {
                        recent.order.pop_back();
                    }
                    recent.seq.remove(&id);
                    for (old, s) in evicted.into_iter().rev() {
                        recent.seq.insert(old.clone(), s);
                        recent.order.push_front(old);
                    }
                    if created && recent.order.is_empty() {
                        self.by.remove(&participant);
                    }
                }
            }
        }
    }

    /// The seq of the last event of this request, if it is one of the participant's latest.
    pub fn get(&self, participant: &str, id: &str) -> Option<u64> {
        self.by.get(participant)?.seq.get(id).copied()
    }

    /// Every entry, participants in order and each one's ids oldest first: inserting them in
    /// this order gives the same index back.
    pub fn entries(&self) -> Vec<(String, String, u64)> {
        let mut who: Vec<&String> = self.by.keys().collect();
        who.sort();
        who.into_iter()
            .flat_map(|p| {
                let r = &self.by[p];
                r.order
                    .iter()
                    .map(move |id| (p.clone(), id.clone(), r.seq.get(id).copied().unwrap_or(0)))
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by.values().map(|r| r.order.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FromIterator<(String, String, u64)> for Answered {
    fn from_iter<I: IntoIterator<Item = (String, String, u64)>>(iter: I) -> Self {
        let mut a = Answered::default();
        for (who, id, seq) in iter {
            a.insert(&who, &id, seq);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_window_per_participant_and_comes_back_from_its_entries() {
        let mut a = Answered::default();
        for i in 0..RETRY_WINDOW + 10 {
            a.insert("p1", &format!("r{i}"), i as u64 + 1);
        }
        a.insert("p2", "x", 7);
        a.insert("p2", "x", 9); // a request with two events: the last one counts
        assert_eq!(a.len(), RETRY_WINDOW + 1);
        assert_eq!(a.get("p1", "r0"), None);
        assert_eq!(a.get("p1", "r9"), None);
        assert_eq!(a.get("p1", "r10"), Some(11));
        assert_eq!(
            a.get("p1", &format!("r{}", RETRY_WINDOW + 9)),
            Some(RETRY_WINDOW as u64 + 10)
        );
        assert_eq!(a.get("p2", "x"), Some(9));
        assert_eq!(a.get("p3", "x"), None);
        let back: Answered = a.entries().into_iter().collect();
        assert_eq!(back, a);
    }

    /// A rollback gives back exactly the index of `begin`, whatever the inserts since: new
    /// participants, ids updated, windows overflowing (ids pushed out), an id inserted twice.
    #[test]
    fn a_rollback_gives_back_the_index_of_begin() {
        let mut a = Answered::default();
        for i in 0..RETRY_WINDOW {
            a.insert("p1", &format!("r{i}"), i as u64 + 1);
        }
        a.insert("p2", "x", 3);
        let before = a.clone();
        let entries = a.entries();
        a.begin();
        for i in 0..RETRY_WINDOW + 20 {
            a.insert("p1", &format!("n{i}"), 1000 + i as u64);
        }
        a.insert("p1", "n3", 5000);
        a.insert("p2", "x", 9);
        a.insert("p2", "y", 10);
        a.insert("p3", "z", 11);
        a.insert("p3", "z", 12);
        assert_ne!(a, before);
        a.rollback();
        assert_eq!(a, before);
        assert_eq!(a.entries(), entries, "the same order of ids too");
        // Inserts after a rollback are no longer noted; `end` keeps what came since `begin`.
        a.insert("p4", "w", 13);
        a.rollback();
        assert_eq!(a.get("p4", "w"), Some(13));
        a.begin();
        a.insert("p5", "v", 14);
        a.end();
        a.rollback();
        assert_eq!(a.get("p5", "v"), Some(14));
    }
}
