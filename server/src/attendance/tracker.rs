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
/// Stretches one person starts on this node in one UTC day. Past it, coming back reopens the
/// day's last stretch (the time away counts as present), so a client that connects and
/// disconnects in a loop adds no row and no session: the store, the reports and the
/// `sessions` organizers pay by stay bounded.
pub const MAX_STRETCHES_PER_DAY: u32 = 100;

const DAY_MS: u64 = 86_400_000;

/// The last stretch a person started on this node, and how many they started that day.
struct Last {
    day: u64,
    count: u32,
    id: String,
    start: u64,
}

#[derive(Default)]
pub struct Tracker {
    open: HashMap<String, (String, u64)>,
    /// One entry per person who came here (at most the roster).
    last: HashMap<String, Last>,
    ended: Vec<Stretch>,
    /// How many ended stretches were ever taken off the front of `ended` (written or
    /// dropped): a write in flight names what it carries by this count, so that stretches
    /// dropped meanwhile are not mistaken for written ones.
    front: u64,
    /// Ended stretches dropped because the store could not write (kept for the warning).
    pub dropped: u64,
}

/// What a write carries: the ended stretches up to this mark (see [`Tracker::written`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark(u64);

fn new_id() -> String {
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Tracker {
    /// `person`'s first connection on this node is past `hello`.
    pub fn arrived(&mut self, person: &str, now: u64) {
        if self.open.contains_key(person) {
            return;
        }
        let day = now / DAY_MS;
        let last = self.last.entry(person.to_string()).or_insert_with(|| Last {
            day,
            count: 0,
            id: String::new(),
            start: now,
        });
        if last.day != day {
            last.day = day;
            last.count = 0;
        }
        if last.count >= MAX_STRETCHES_PER_DAY {
            // Over the day's budget: the last stretch goes on (same id: its row is updated).
            self.open
                .insert(person.to_string(), (last.id.clone(), last.start));
            return;
        }
        last.count += 1;
        last.id = new_id();
        last.start = now;
        self.open.insert(person.to_string(), (last.id.clone(), now));
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
                self.front += n as u64;
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

    /// What to write now: the ended stretches, then the open ones ending `now`; and the mark
    /// of the ended ones (to forget once written: see [`Tracker::written`]).
    pub fn to_write(&self, now: u64) -> (Vec<Stretch>, Mark) {
        let mut out = self.ended.clone();
        out.extend(self.open.iter().map(|(person, (id, start))| Stretch {
            id: id.clone(),
            person: person.clone(),
            start: *start,
            end: now.max(*start),
        }));
        (out, Mark(self.front + self.ended.len() as u64))
    }

    /// The ended stretches up to `mark` were written (those ended since stay).
    pub fn written(&mut self, mark: Mark) {
        let n = mark
            .0
            .saturating_sub(self.front)
            .min(self.ended.len() as u64);
        self.ended.drain(..n as usize);
        self.front += n;
    }

    /// Ended stretches waiting to be written.
    pub fn waiting(&self) -> usize {
        self.ended.len()
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
        assert_eq!(ended, Mark(0));
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].start, w[0].end), (10, 30));
        t.left("a", 40);
        t.arrived("a", 50);
        let (w, ended) = t.to_write(60);
        assert_eq!(t.waiting(), 1);
        assert_eq!(w.len(), 2);
        assert_ne!(w[0].id, w[1].id);
        // Ended while the write was in flight: stays for the next one.
        t.left("a", 65);
        t.written(ended);
        assert_eq!(t.waiting(), 1);
        t.arrived("a", 66);
        t.written(t.to_write(66).1);
        let (w, _) = t.to_write(70);
        assert_eq!((w.len(), t.waiting()), (1, 0));
        t.all_left(80);
        t.written(t.to_write(80).1);
        assert!(t.is_idle());
    }

    #[test]
    fn a_person_starts_a_bounded_number_of_stretches_a_day() {
        let mut t = Tracker::default();
        let day = 20_000 * DAY_MS;
        // Ten times the day's budget of connect-disconnect loops.
        for i in 0..10 * MAX_STRETCHES_PER_DAY as u64 {
            t.arrived("a", day + 2 * i);
            t.left("a", day + 2 * i + 1);
        }
        let (w, _) = t.to_write(day + DAY_MS - 1);
        let ids: std::collections::BTreeSet<&str> = w.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), MAX_STRETCHES_PER_DAY as usize);
        // The last one ran on from its start to the last departure.
        let last = w
            .iter()
            .filter(|s| s.person == "a")
            .max_by_key(|s| s.end)
            .unwrap();
        assert_eq!(last.end, day + 20 * MAX_STRETCHES_PER_DAY as u64 - 1);
        assert_eq!(last.start, day + 2 * (MAX_STRETCHES_PER_DAY as u64 - 1));
        // A new day, a new budget; someone else has their own.
        t.arrived("a", day + DAY_MS);
        t.arrived("b", day + DAY_MS);
        let (w, _) = t.to_write(day + DAY_MS + 5);
        let ids: std::collections::BTreeSet<&str> = w.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), MAX_STRETCHES_PER_DAY as usize + 2);
    }

    #[test]
    fn ended_stretches_are_bounded() {
        let mut t = Tracker::default();
        for i in 0..(MAX_KEPT as u64 + 10) {
            t.arrived("a", i);
            t.left("a", i + 1);
        }
        assert!(t.is_full());
        assert_eq!(t.waiting(), MAX_KEPT);
        assert_eq!(t.dropped, 10);
        // A write in flight across a drop forgets only what it carried.
        let (_, mark) = t.to_write(0);
        t.arrived("b", 0);
        for i in 0..5 {
            t.arrived("c", i);
            t.left("c", i + 1);
        }
        t.written(mark);
        assert_eq!(t.waiting(), 5);
    }
}
