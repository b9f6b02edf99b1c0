//! The attendance of one convention on this node, in memory between two writes: the open
//! stretch of each person connected here, and the stretches ended since the last write.
//!
//! Bounded: open stretches are at most the people connected here (a roster holds at most
//! `domain::MAX_PEOPLE`); ended stretches waiting are written as soon as they reach
//! [`MAX_WAITING`], and while the store cannot write, the oldest beyond [`MAX_KEPT`] are
//! dropped (with a warning), so a convention whose store is away never grows without bound.

use std::collections::HashMap;

use rand::RngCore;

use super::Stretch;

/// Ended stretches waiting that make the task write at once rather than at its next tick.
pub const MAX_WAITING: usize = 1024;
/// Ended stretches kept while the store cannot write; older ones are dropped.
pub const MAX_KEPT: usize = 16 * 1024;

#[derive(Default)]
pub struct Tracker {
    open: HashMap<String, (String, u64)>,
    ended: Vec<Stretch>,
    /// Ended stretches dropped because the store could not write (kept for the warning).
    pub dropped: u64,
}

fn new_id() -> String {
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Tracker {
    /// `person`'s first connection on this node is past `hello`.
    pub fn arrived(&mut self, person: &str, now: u64) {
        self.open
            .entry(person.to_string())
            .or_insert_with(|| (new_id(), now));
    }

    /// `person`'s last connection on this node is gone.
    pub fn left(&mut self, person: &str, now: u64) {
        if let Some((id, start)) = self.open.remove(person) {
            self.ended.push(Stretch {
                id,
                person: person.to_string(),
                start,
                end: now.max(start),
            });
            if self.ended.len() > MAX_KEPT {
                let n = self.ended.len() - MAX_KEPT;
                self.ended.drain(..n);
                self.dropped += n as u64;
            }
        }
    }

    /// Everyone leaves (the task stops).
    pub fn all_left(&mut self, now: u64) {
        let people: Vec<String> = self.open.keys().cloned().collect();
        for p in people {
            self.left(&p, now);
        }
    }

    /// What to write now: the ended stretches, then the open ones ending `now`; and how many
    /// of them are ended ones (to forget once written: see [`Tracker::written`]).
    pub fn to_write(&self, now: u64) -> (Vec<Stretch>, usize) {
        let mut out = self.ended.clone();
        out.extend(self.open.iter().map(|(person, (id, start))| Stretch {
            id: id.clone(),
            person: person.clone(),
            start: *start,
            end: now.max(*start),
        }));
        (out, self.ended.len())
    }

    /// The first `ended` ended stretches were written.
    pub fn written(&mut self, ended: usize) {
        self.ended.drain(..ended.min(self.ended.len()));
    }

    /// Nothing to write.
    pub fn is_idle(&self) -> bool {
        self.open.is_empty() && self.ended.is_empty()
    }

    /// Enough ended stretches wait to write them now.
    pub fn is_full(&self) -> bool {
        self.ended.len() >= MAX_WAITING
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stretch_per_presence_and_what_is_written_is_forgotten() {
        let mut t = Tracker::default();
        t.arrived("a", 10);
        t.arrived("a", 20); // already here: same stretch
        let (w, ended) = t.to_write(30);
        assert_eq!(ended, 0);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].start, w[0].end), (10, 30));
        t.left("a", 40);
        t.arrived("a", 50);
        let (w, ended) = t.to_write(60);
        assert_eq!(ended, 1);
        assert_eq!(w.len(), 2);
        assert_ne!(w[0].id, w[1].id);
        t.written(ended);
        let (w, ended) = t.to_write(70);
        assert_eq!((w.len(), ended), (1, 0));
        t.all_left(80);
        t.written(t.to_write(80).1);
        assert!(t.is_idle());
    }

    #[test]
    fn ended_stretches_are_bounded() {
        let mut t = Tracker::default();
        for i in 0..(MAX_KEPT as u64 + 10) {
            t.arrived("a", i);
            t.left("a", i + 1);
        }
        assert!(t.is_full());
        assert_eq!(t.to_write(0).1, MAX_KEPT);
        assert_eq!(t.dropped, 10);
    }
}
