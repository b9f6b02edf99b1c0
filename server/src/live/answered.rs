//! The requests a convention's task has answered: for each participant, the latest
//! `RETRY_WINDOW` request ids with the seq of their last event, so that a retry (the same id,
//! after a lost reply or a reconnect) is answered from the log instead of run twice. Bounded:
//! a participant who sends requests all day keeps at most the window, oldest forgotten first.

use std::collections::{HashMap, VecDeque};

use convene_protocol::RETRY_WINDOW;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Recent {
    /// Ids, oldest first.
    order: VecDeque<String>,
    seq: HashMap<String, u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Answered {
    by: HashMap<String, Recent>,
}

impl Answered {
    /// `participant`'s request `id` produced an event at `seq` (a request with several events
    /// is noted at each: the last one wins).
    pub fn insert(&mut self, participant: &str, id: &str, seq: u64) {
        let recent = self.by.entry(participant.to_string()).or_default();
        if let Some(s) = recent.seq.get_mut(id) {
            *s = seq;
            return;
        }
        recent.order.push_back(id.to_string());
        recent.seq.insert(id.to_string(), seq);
        while recent.order.len() > RETRY_WINDOW {
            if let Some(old) = recent.order.pop_front() {
                recent.seq.remove(&old);
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
}
