//! Assigning participants to breakout rooms: at random, or balanced on a roster attribute.
//! Both are deterministic for a given seed, so tests can check them and the log records the
//! outcome, never the seed.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};

use super::{ParticipantId, Person, RoomId};

/// Shuffle the people and deal them over the rooms like cards: sizes differ by one at most.
pub fn assign_random(
    people: &[&Person],
    rooms: &[RoomId],
    seed: u64,
) -> Vec<(ParticipantId, RoomId)> {
    if rooms.is_empty() {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ids: Vec<&ParticipantId> = people.iter().map(|p| &p.id).collect();
    ids.shuffle(&mut rng);
    ids.into_iter()
        .enumerate()
        .map(|(i, p)| (p.clone(), rooms[i % rooms.len()].clone()))
        .collect()
}

/// Group people by the value of `attribute` (a missing value is a group of its own), largest
/// group first, shuffle inside each group, then deal everyone over the rooms in one
/// continuous round: every room's size differs by one at most, and so does every room's count
/// of each value.
pub fn assign_balanced(
    people: &[&Person],
    rooms: &[RoomId],
    attribute: &str,
    seed: u64,
) -> Vec<(ParticipantId, RoomId)> {
    if rooms.is_empty() {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut groups: BTreeMap<&str, Vec<&ParticipantId>> = BTreeMap::new();
    for p in people {
        let value = p
            .attributes
            .get(attribute)
            .map(String::as_str)
            .unwrap_or("");
        groups.entry(value).or_default().push(&p.id);
    }
    let mut groups: Vec<Vec<&ParticipantId>> = groups.into_values().collect();
    // Largest first (stable on the value's order for equal sizes).
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let mut out = Vec::with_capacity(people.len());
    let mut next = 0usize;
    for mut group in groups {
        group.shuffle(&mut rng);
        for p in group {
            out.push((p.clone(), rooms[next % rooms.len()].clone()));
            next += 1;
        }
    }
    out
}
