//! The rotation's scheduler: the initial circular schedule, and re-planning by maximum
//! bipartite matching when experts drop out.

use std::collections::BTreeSet;

use super::Schedule;
use crate::domain::{ParticipantId, RoomId};

/// Rounds needed for every group to meet every expert: one per expert when groups are no
/// more than experts, one per group otherwise (some groups rest in each round).
pub fn default_rounds(groups: usize, experts: usize) -> usize {
    groups.max(experts)
}

/// The initial schedule. Groups and experts sit on a circle of `n = max(groups, experts)`
/// seats, experts spread evenly over it; in round `r` group `g` is at seat `(g + r) mod n`
/// and meets the expert there, if any. Every seat differs from round to round for `r < n`,
/// so no group meets an expert twice and no expert sees two groups at once; every round
/// fills min(groups, experts) meetings, the most possible; and with experts spread evenly,
/// groups' counts of meetings differ by one at most.
pub fn schedule(groups: usize, experts: usize, rounds: usize) -> Schedule {
    let n = groups.max(experts);
    if n == 0 {
        return vec![Vec::new(); rounds];
    }
    // The seat of expert e: spread over n seats.
    let mut seat_expert: Vec<Option<usize>> = vec![None; n];
    for e in 0..experts {
        seat_expert[e * n / experts] = Some(e);
    }
    (0..rounds)
        .map(|r| {
            (0..groups)
                .map(|g| {
                    if r < n {
                        seat_expert[(g + r) % n]
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect()
}

/// Re-plan rounds `from..` after a change (an expert absent): each round is a maximum
/// matching between groups and the present experts they have not met yet (counting the
/// meetings of rounds before `from` only), groups with fewer meetings first. No repeats, no
/// double booking, and as many meetings in each round as the graph allows.
pub fn replan(
    schedule: &Schedule,
    from: usize,
    experts: usize,
    absent: &BTreeSet<usize>,
) -> Schedule {
    let groups = schedule.first().map_or(0, Vec::len);
    let mut met: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); groups];
    let mut out: Schedule = Vec::with_capacity(schedule.len());
    for (r, round) in schedule.iter().enumerate() {
        if r < from {
            for (g, e) in round.iter().enumerate() {
                if let Some(e) = e {
                    met[g].insert(*e);
                }
            }
            out.push(round.clone());
            continue;
        }
        // Fewest meetings first; stable on the group index.
        let mut order: Vec<usize> = (0..groups).collect();
        order.sort_by_key(|g| (met[*g].len(), *g));
        let mut expert_of: Vec<Option<usize>> = vec![None; groups];
        let mut group_of: Vec<Option<usize>> = vec![None; experts];
        for g in order {
            let mut seen = vec![false; experts];
            augment(g, &met, absent, &mut expert_of, &mut group_of, &mut seen);
        }
        for (g, e) in expert_of.iter().enumerate() {
            if let Some(e) = e {
                met[g].insert(*e);
            }
        }
        out.push(expert_of);
    }
    out
}

/// Kuhn's augmenting path from group `g`.
fn augment(
    g: usize,
    met: &[BTreeSet<usize>],
    absent: &BTreeSet<usize>,
    expert_of: &mut [Option<usize>],
    group_of: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for e in 0..group_of.len() {
        if seen[e] || absent.contains(&e) || met[g].contains(&e) {
            continue;
        }
        seen[e] = true;
        let free = match group_of[e] {
            None => true,
            Some(other) => augment(other, met, absent, expert_of, group_of, seen),
        };
        if free {
            expert_of[g] = Some(e);
            group_of[e] = Some(g);
            return true;
        }
    }
    false
}

/// Split people into `count` groups by dealing them in order (callers shuffle or balance
/// first): sizes differ by one at most.
pub fn deal(people: &[(ParticipantId, RoomId)], count: usize) -> Vec<Vec<ParticipantId>> {
    let mut groups = vec![Vec::new(); count];
    for (p, slot) in people {
        // `slot` is the index given by the assignment functions, as a room-like id "g{n}".
        let i: usize = slot.trim_start_matches('g').parse().unwrap_or(0);
        if let Some(g) = groups.get_mut(i) {
            g.push(p.clone());
        }
    }
    groups
}
