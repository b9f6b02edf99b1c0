//! Expert rotations' schedules under random sizes: `schedule` over 1 to 30 groups, 1 to 40
//! experts and 1 to 45 rounds never repeats a meeting, never double-books an expert, fills
//! every round as far as possible, reaches the maximum total of meetings and treats groups
//! fairly; `replan` after random absences keeps the past, drops the absent experts, keeps
//! both rules and makes every re-planned round a maximum matching (checked against a
//! brute-force matching written here).

use std::collections::BTreeSet;

use convene::domain::rotation::{replan, schedule, Schedule};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Checks shared by `schedule` and `replan`.

/// The experts each group met in the rounds `..until`.
fn met_before(s: &Schedule, groups: usize, until: usize) -> Vec<BTreeSet<usize>> {
    let mut met = vec![BTreeSet::new(); groups];
    for round in s.iter().take(until) {
        for (g, e) in round.iter().enumerate() {
            if let Some(e) = e {
                met[g].insert(*e);
            }
        }
    }
    met
}

/// Shape, no repeated meeting, no double booking, expert indices in range.
fn check_rules(s: &Schedule, groups: usize, experts: usize, rounds: usize) -> Result<(), String> {
    if s.len() != rounds {
        return Err(format!("{} rounds, wanted {rounds}", s.len()));
    }
    let mut met: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); groups];
    for (r, round) in s.iter().enumerate() {
        if round.len() != groups {
            return Err(format!(
                "round {r} has {} groups, wanted {groups}",
                round.len()
            ));
        }
        let mut busy = BTreeSet::new();
        for (g, e) in round.iter().enumerate() {
            let Some(e) = *e else { continue };
            if e >= experts {
                return Err(format!(
                    "round {r}: group {g} meets expert {e} of {experts}"
                ));
            }
            if !busy.insert(e) {
                return Err(format!("round {r}: expert {e} has two groups: {round:?}"));
            }
            if !met[g].insert(e) {
                return Err(format!("round {r}: group {g} meets expert {e} again"));
            }
        }
    }
    Ok(())
}

fn meetings(round: &[Option<usize>]) -> usize {
    round.iter().flatten().count()
}

/// The properties of the initial schedule.
fn check_schedule(groups: usize, experts: usize, rounds: usize) -> Result<(), String> {
    let s = schedule(groups, experts, rounds);
    check_rules(&s, groups, experts, rounds)?;
    let n = groups.max(experts);
    let per_round = groups.min(experts);
    for (r, round) in s.iter().enumerate() {
        let want = if r < n { per_round } else { 0 };
        if meetings(round) != want {
            return Err(format!(
                "round {r} has {} meetings, wanted {want}: {round:?}",
                meetings(round)
            ));
        }
    }
    let total: usize = s.iter().map(|r| meetings(r)).sum();
    let most = (rounds * per_round)
        .min(groups * rounds.min(experts))
        .min(experts * rounds.min(groups));
    if total != most {
        return Err(format!(
            "{total} meetings in all, the most possible is {most}"
        ));
    }
    let counts: Vec<usize> = (0..groups)
        .map(|g| s.iter().filter(|round| round[g].is_some()).count())
        .collect();
    let cap = rounds.min(experts);
    if let Some(c) = counts.iter().find(|c| **c > cap) {
        return Err(format!(
            "a group has {c} meetings, more than {cap}: {counts:?}"
        ));
    }
    if groups <= experts && counts.iter().any(|c| *c != cap) {
        return Err(format!(
            "groups <= experts: every group meets {cap} experts, got {counts:?}"
        ));
    }
    let (lo, hi) = (counts.iter().min(), counts.iter().max());
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if hi - lo > 1 {
            return Err(format!("unfair: counts of meetings {counts:?}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A brute-force maximum bipartite matching, independent of the server's Kuhn: the best over
// every subset of experts, by dynamic programming on (group, experts used).

fn brute_max_matching(
    groups: usize,
    experts: usize,
    allowed: &dyn Fn(usize, usize) -> bool,
) -> usize {
    assert!(experts <= 16, "brute force is for small sizes");
    let full = 1usize << experts;
    // best[mask] after processing groups 0..g: the most meetings using exactly the experts in
    // `mask` or fewer; computed group by group.
    let mut best: Vec<Option<usize>> = vec![None; full];
    best[0] = Some(0);
    for g in 0..groups {
        let mut next = best.clone(); // group g rests
        for (mask, b) in best.iter().enumerate() {
            let Some(b) = *b else { continue };
            for e in 0..experts {
                if mask & (1 << e) == 0 && allowed(g, e) {
                    let m = mask | (1 << e);
                    if next[m].is_none_or(|x| x < b + 1) {
                        next[m] = Some(b + 1);
                    }
                }
            }
        }
        best = next;
    }
    best.into_iter().flatten().max().unwrap_or(0)
}

/// The properties of a re-planned schedule.
fn check_replan(
    before: &Schedule,
    after: &Schedule,
    from: usize,
    groups: usize,
    experts: usize,
    absent: &BTreeSet<usize>,
) -> Result<(), String> {
    check_rules(after, groups, experts, before.len())?;
    for r in 0..from.min(before.len()) {
        if after[r] != before[r] {
            return Err(format!(
                "round {r} < from {from} changed: {:?} -> {:?}",
                before[r], after[r]
            ));
        }
    }
    for (r, round) in after.iter().enumerate().skip(from) {
        if let Some((g, e)) = round
            .iter()
            .enumerate()
            .find_map(|(g, e)| e.filter(|e| absent.contains(e)).map(|e| (g, e)))
        {
            return Err(format!("round {r}: group {g} meets absent expert {e}"));
        }
        let met = met_before(after, groups, r);
        let busy: BTreeSet<usize> = round.iter().flatten().copied().collect();
        let can_meet = |g: usize, e: usize| !absent.contains(&e) && !met[g].contains(&e);
        // No augmenting path of length 1: a resting group and a free, present expert it has
        // not met would make one more meeting.
        for (g, e) in round.iter().enumerate() {
            if e.is_some() {
                continue;
            }
            if let Some(free) = (0..experts).find(|x| !busy.contains(x) && can_meet(g, *x)) {
                return Err(format!(
                    "round {r}: group {g} rests while expert {free} is free, present and new to it: {round:?}"
                ));
            }
        }
        if experts <= 12 {
            let most = brute_max_matching(groups, experts, &can_meet);
            if meetings(round) != most {
                return Err(format!(
                    "round {r}: {} meetings, a maximum matching has {most}: {round:?}",
                    meetings(round)
                ));
            }
        }
    }
    Ok(())
}

/// A random subset of `0..experts`, never all of them.
fn absent_set(experts: usize, picks: &[bool]) -> BTreeSet<usize> {
    let mut absent: BTreeSet<usize> = (0..experts).filter(|e| picks[*e]).collect();
    if absent.len() == experts {
        // Keep one present: the first of the picks' own choosing.
        let keep = picks.len() % experts;
        absent.remove(&keep);
    }
    absent
}

// ---------------------------------------------------------------------------------------
// The properties.

/// Sizes with the rounds drawn so that the interesting region (rounds around max(G, E)) is
/// hit often.
fn sizes() -> impl Strategy<Value = (usize, usize, usize)> {
    (1usize..=30, 1usize..=40, 1usize..=45)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_schedule_is_fair_full_and_never_repeats((groups, experts, rounds) in sizes()) {
        if let Err(e) = check_schedule(groups, experts, rounds) {
            prop_assert!(false, "schedule({groups}, {experts}, {rounds}): {e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn a_replan_keeps_the_past_and_matches_every_round_maximally(
        (groups, experts, rounds) in sizes(),
        picks in prop::collection::vec(any::<bool>(), 40),
        from_pick in 0usize..=46,
    ) {
        let from = from_pick.min(rounds);
        let before = schedule(groups, experts, rounds);
        let absent = absent_set(experts, &picks);
        let after = replan(&before, from, experts, &absent);
        if let Err(e) = check_replan(&before, &after, from, groups, experts, &absent) {
            prop_assert!(false,
                "replan(schedule({groups}, {experts}, {rounds}), from {from}, absent {absent:?}): {e}\n{after:?}");
        }
    }

    /// Experts drop out one after another, as in a real day: each replan starts from the
    /// schedule the previous one produced, at a later round, with more experts absent.
    #[test]
    fn chained_replans_keep_every_rule(
        (groups, experts, rounds) in (1usize..=12, 2usize..=12, 1usize..=16),
        steps in prop::collection::vec((0usize..12, 0usize..=16), 1..4),
    ) {
        let mut s = schedule(groups, experts, rounds);
        let mut absent = BTreeSet::new();
        let mut from = 0;
        for (who, later) in steps {
            let who = who % experts;
            if absent.len() + 1 >= experts && !absent.contains(&who) {
                break; // never all absent
            }
            absent.insert(who);
            from = (from + later).min(rounds);
            let next = replan(&s, from, experts, &absent);
            if let Err(e) = check_replan(&s, &next, from, groups, experts, &absent) {
                prop_assert!(false,
                    "chained replan, from {from}, absent {absent:?}: {e}\nbefore {s:?}\nafter {next:?}");
            }
            s = next;
        }
    }
}

/// The brute force itself, on graphs whose maximum matching is known.
#[test]
fn the_brute_force_matching_is_right_on_known_graphs() {
    // Complete bipartite: min of the sides.
    assert_eq!(brute_max_matching(3, 5, &|_, _| true), 3);
    assert_eq!(brute_max_matching(7, 4, &|_, _| true), 4);
    // Nothing allowed.
    assert_eq!(brute_max_matching(4, 4, &|_, _| false), 0);
    // Everyone wants expert 0 only.
    assert_eq!(brute_max_matching(5, 3, &|_, e| e == 0), 1);
    // A greedy trap: group 0 may meet 0 or 1, group 1 only 0: the maximum is 2.
    assert_eq!(brute_max_matching(2, 2, &|g, e| g == 0 || e == 0), 2);
    // A diagonal.
    assert_eq!(brute_max_matching(6, 6, &|g, e| g == e), 6);
}

/// The checks have teeth: broken schedules are caught.
#[test]
fn the_checks_catch_broken_schedules() {
    let none: BTreeSet<usize> = BTreeSet::new();
    // A repeat.
    assert!(check_rules(&vec![vec![Some(0)], vec![Some(0)]], 1, 2, 2).is_err());
    // A double booking.
    assert!(check_rules(&vec![vec![Some(1), Some(1)]], 2, 2, 1).is_err());
    // A past round changed.
    let before = schedule(2, 2, 2);
    let mut after = before.clone();
    after[0].swap(0, 1);
    after[1].swap(0, 1);
    assert!(check_replan(&before, &after, 1, 2, 2, &none).is_err());
    // A group resting while a free expert it has not met is there.
    let before = vec![vec![Some(0), None], vec![None, None]];
    let after = vec![vec![Some(0), None], vec![Some(1), None]];
    assert!(check_replan(&before, &after, 1, 2, 2, &none).is_err());
    // An absent expert scheduled.
    let absent: BTreeSet<usize> = [1].into();
    let after = vec![vec![Some(0), None], vec![Some(1), Some(0)]];
    assert!(check_replan(&before, &after, 1, 2, 2, &absent).is_err());
    // Maximal but not maximum: group 0 takes the only expert group 1 could meet.
    // Group 0 may meet 0 or 1 (has met neither), group 1 has met 1: the maximum is 2.
    let before = vec![vec![None, Some(1)], vec![None, None]];
    let after = vec![vec![None, Some(1)], vec![Some(0), None]];
    assert!(check_replan(&before, &after, 1, 2, 2, &none).is_err());
}

/// Every size in a smaller box, exhaustively (the random test covers the full box).
#[test]
fn every_small_schedule_is_fair_full_and_never_repeats() {
    for groups in 1..=12 {
        for experts in 1..=12 {
            for rounds in 1..=15 {
                if let Err(e) = check_schedule(groups, experts, rounds) {
                    panic!("schedule({groups}, {experts}, {rounds}): {e}");
                }
            }
        }
    }
}

/// A few schedules spelled out, to show what the properties mean.
#[test]
fn small_schedules_spelled_out() {
    // 3 groups, 3 experts: a Latin square.
    assert_eq!(
        schedule(3, 3, 3),
        vec![
            vec![Some(0), Some(1), Some(2)],
            vec![Some(1), Some(2), Some(0)],
            vec![Some(2), Some(0), Some(1)],
        ]
    );
    // More rounds than needed: the extra ones are rests.
    assert_eq!(
        schedule(1, 2, 3),
        vec![vec![Some(0)], vec![Some(1)], vec![None]]
    );
    // 4 groups, 2 experts: each round 2 meetings, each group rests twice over 4 rounds.
    let s = schedule(4, 2, 4);
    assert!(s.iter().all(|r| meetings(r) == 2), "{s:?}");
    for g in 0..4 {
        assert_eq!(s.iter().filter(|r| r[g].is_some()).count(), 2, "{s:?}");
    }
}

/// An absent expert's meetings move to later rounds when the graph allows it.
#[test]
fn a_replan_spelled_out() {
    // 2 groups, 3 experts, 3 rounds; expert 1 absent from round 1 on.
    let s = schedule(2, 3, 3);
    let absent: BTreeSet<usize> = [1].into();
    let r = replan(&s, 1, 3, &absent);
    assert_eq!(r[0], s[0]);
    check_replan(&s, &r, 1, 2, 3, &absent).unwrap();
    // Each group can still meet the one present expert it has not met.
    let met = met_before(&r, 2, 3);
    for (g, m) in met.iter().enumerate() {
        assert!(
            m.contains(&0) && m.contains(&2),
            "group {g} met {m:?} in {r:?}"
        );
    }
}
