//! Polls under random use: random polls of every kind, named or secret, with 1 to 30
//! voters, and random sequences of ballots, changes, retried requests, invalid ballots,
//! ballots by a guarantor, a close at a random point and ballots after it. The tally must
//! always be the count, by a reference counter written here, of each voter's last accepted
//! ballot (named) or first (secret).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{citizens, log_proper, person, poll_spec, Sim};
use convene::domain::{
    Actor, Ballot, CloseReason, Code, Command, Convention, Event, PollKind, PollSpec, Role, Stance,
    Tally,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Random polls and actions.

/// A poll's kind, as drawn.
#[derive(Clone, Debug)]
enum Shape {
    Single(u32),
    Multiple { n: u32, min: u32, max: u32 },
    Scale { min: i32, values: i32 },
    Ranking(u32),
    Text(u32),
    Position,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        (2u32..=6).prop_map(Shape::Single),
        (2u32..=6)
            .prop_flat_map(|n| (Just(n), 1..=n))
            .prop_flat_map(|(n, max)| (Just(n), 0..=max, Just(max)))
            .prop_map(|(n, min, max)| Shape::Multiple { n, min, max }),
        (-5i32..=5, 2i32..=11).prop_map(|(min, values)| Shape::Scale { min, values }),
        (2u32..=5).prop_map(Shape::Ranking),
        (1u32..=12).prop_map(Shape::Text),
        Just(Shape::Position),
    ]
}

fn kind_of(shape: &Shape) -> PollKind {
    let labels = |n: u32| -> Vec<String> { (0..n).map(|i| format!("Option {}", i + 1)).collect() };
    match *shape {
        Shape::Single(n) => PollKind::Single { options: labels(n) },
        Shape::Multiple { n, min, max } => PollKind::Multiple {
            options: labels(n),
            min,
            max,
        },
        Shape::Scale { min, values } => PollKind::Scale {
            min,
            max: min + values - 1,
            min_label: "Pas du tout".into(),
            max_label: "Tout à fait".into(),
        },
        Shape::Ranking(n) => PollKind::Ranking { options: labels(n) },
        Shape::Text(max_chars) => PollKind::Text { max_chars },
        Shape::Position => PollKind::Position,
    }
}

#[derive(Clone, Debug)]
enum Action {
    /// Voter `voter % voters` casts a valid ballot drawn from `seed`.
    Cast { voter: usize, seed: u64 },
    /// A voter who has a ballot accepted casts another one.
    Change { pick: usize, seed: u64 },
    /// A request sent again with the same request id (the `back`th last one).
    Retry { back: usize },
    /// An invalid ballot for the poll's kind.
    Invalid { voter: usize, seed: u64 },
    /// The guarantor tries to vote.
    Guarantor { seed: u64 },
    /// The facilitator closes the poll (a second close is refused).
    Close,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => (any::<usize>(), any::<u64>()).prop_map(|(voter, seed)| Action::Cast { voter, seed }),
        3 => (any::<usize>(), any::<u64>()).prop_map(|(pick, seed)| Action::Change { pick, seed }),
        2 => (0usize..4).prop_map(|back| Action::Retry { back }),
        2 => (any::<usize>(), any::<u64>()).prop_map(|(voter, seed)| Action::Invalid { voter, seed }),
        1 => any::<u64>().prop_map(|seed| Action::Guarantor { seed }),
        1 => Just(Action::Close),
    ]
}

/// SplitMix64: turns a drawn seed into as many numbers as a ballot needs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn shuffled(&mut self, n: u32) -> Vec<u32> {
        let mut v: Vec<u32> = (0..n).collect();
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
        v
    }
}

/// A valid ballot, not always in normal form (choices unsorted, text with spaces around).
fn valid_ballot(shape: &Shape, seed: u64) -> Ballot {
    let mut r = Rng(seed);
    match *shape {
        Shape::Single(n) => Ballot::Single(r.below(n as u64) as u32),
        Shape::Multiple { n, min, max } => {
            let k = min + r.below((max - min + 1) as u64) as u32;
            let mut chosen = r.shuffled(n);
            chosen.truncate(k as usize);
            Ballot::Multiple(chosen)
        }
        Shape::Scale { min, values } => Ballot::Scale(min + r.below(values as u64) as i32),
        Shape::Ranking(n) => Ballot::Ranking(r.shuffled(n)),
        Shape::Text(max_chars) => {
            const LETTERS: [char; 6] = ['a', 'b', 'é', 'z', 'ô', '1'];
            let len = 1 + r.below(max_chars.min(6) as u64) as usize;
            let word: String = (0..len)
                .map(|_| LETTERS[r.below(LETTERS.len() as u64) as usize])
                .collect();
            let pad = " ".repeat(r.below(3) as usize);
            Ballot::Text(format!("{pad}{word}{pad}"))
        }
        Shape::Position => Ballot::Position(Stance::ALL[r.below(4) as usize]),
    }
}

/// A ballot the poll must refuse as invalid.
fn invalid_ballot(shape: &Shape, seed: u64) -> Ballot {
    let mut r = Rng(seed);
    let wrong_kind = || match shape {
        Shape::Position => Ballot::Single(0),
        _ => Ballot::Position(Stance::For),
    };
    if r.below(4) == 0 {
        return wrong_kind();
    }
    match *shape {
        Shape::Single(n) => Ballot::Single(n + r.below(3) as u32),
        Shape::Multiple { n, min, max } => match r.below(4) {
            0 => {
                let x = r.below(n as u64) as u32;
                Ballot::Multiple(vec![x, x])
            }
            1 => Ballot::Multiple(vec![n + r.below(2) as u32]),
            2 if max < n => Ballot::Multiple(r.shuffled(n)[..max as usize + 1].to_vec()),
            3 if min > 0 => Ballot::Multiple(r.shuffled(n)[..min as usize - 1].to_vec()),
            _ => Ballot::Multiple(vec![0, n]),
        },
        Shape::Scale { min, values } => {
            if r.below(2) == 0 {
                Ballot::Scale(min - 1 - r.below(5) as i32)
            } else {
                Ballot::Scale(min + values + r.below(5) as i32)
            }
        }
        Shape::Ranking(n) => {
            let mut order = r.shuffled(n);
            match r.below(3) {
                0 => {
                    order.pop();
                }
                1 => order[0] = order[1],
                _ => order[0] = n,
            }
            Ballot::Ranking(order)
        }
        Shape::Text(max_chars) => match r.below(3) {
            0 => Ballot::Text(String::new()),
            1 => Ballot::Text("  \t ".into()),
            _ => Ballot::Text("é".repeat(max_chars as usize + 1)),
        },
        Shape::Position => wrong_kind(),
    }
}

// ---------------------------------------------------------------------------------------
// The reference counter.

/// What the tally must show, counted here from the ballots alone.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    ballots: u64,
    counts: Vec<u64>,
    texts: Vec<String>,
    borda: Vec<u64>,
    winner: Option<u32>,
}

fn reference<'a>(shape: &Shape, ballots: impl Iterator<Item = &'a Ballot>) -> Expected {
    let mut e = Expected {
        ballots: 0,
        counts: Vec::new(),
        texts: Vec::new(),
        borda: Vec::new(),
        winner: None,
    };
    let mut rankings: Vec<Vec<u32>> = Vec::new();
    match *shape {
        Shape::Single(n) | Shape::Multiple { n, .. } => e.counts = vec![0; n as usize],
        Shape::Scale { values, .. } => e.counts = vec![0; values as usize],
        Shape::Position => e.counts = vec![0; 4],
        Shape::Ranking(n) => e.borda = vec![0; n as usize],
        Shape::Text(_) => {}
    }
    for b in ballots {
        e.ballots += 1;
        match (shape, b) {
            (_, Ballot::Single(i)) => e.counts[*i as usize] += 1,
            (_, Ballot::Multiple(is)) => {
                for i in is {
                    e.counts[*i as usize] += 1;
                }
            }
            (Shape::Scale { min, .. }, Ballot::Scale(v)) => e.counts[(v - min) as usize] += 1,
            (_, Ballot::Position(s)) => {
                let i = match s {
                    Stance::For => 0,
                    Stance::Against => 1,
                    Stance::ForWithReservations => 2,
                    Stance::Abstain => 3,
                };
                e.counts[i] += 1;
            }
            (_, Ballot::Text(t)) => e.texts.push(t.trim().to_string()),
            (Shape::Ranking(n), Ballot::Ranking(order)) => {
                for (place, option) in order.iter().enumerate() {
                    e.borda[*option as usize] += (*n as usize - 1 - place) as u64;
                }
                rankings.push(order.clone());
            }
            (shape, ballot) => panic!("the test drew {ballot:?} for {shape:?}"),
        }
    }
    e.texts.sort();
    if let Shape::Ranking(n) = *shape {
        e.winner = runoff_winner(n, &rankings);
    }
    e
}

/// Instant-runoff, written again: a majority of the ballots wins; else the fewest votes
/// go, the later option first among equals; the last option standing wins.
fn runoff_winner(n: u32, rankings: &[Vec<u32>]) -> Option<u32> {
    if rankings.is_empty() {
        return None;
    }
    let mut standing: Vec<u32> = (0..n).collect();
    loop {
        let mut votes = vec![0usize; n as usize];
        for order in rankings {
            let top = order
                .iter()
                .find(|o| standing.contains(o))
                .expect("a full ranking");
            votes[*top as usize] += 1;
        }
        if let Some(w) = standing
            .iter()
            .find(|o| 2 * votes[**o as usize] > rankings.len())
        {
            return Some(*w);
        }
        if standing.len() == 1 {
            return Some(standing[0]);
        }
        // The fewest votes; scanning from the last option, the first minimum found goes.
        let loser = *standing
            .iter()
            .rev()
            .min_by_key(|o| votes[**o as usize])
            .expect("options remain");
        standing.retain(|o| *o != loser);
    }
}

fn seen(t: &Tally) -> Expected {
    Expected {
        ballots: t.ballots,
        counts: t.counts.clone(),
        texts: t.texts.clone(),
        borda: t.borda.clone(),
        winner: t.winner,
    }
}

// ---------------------------------------------------------------------------------------
// The run.

/// A retried request is answered from the log: the server keeps each request id's answer
/// and never decides it again.
struct Server {
    sim: Sim,
    answers: Vec<(Actor, Command, Result<Vec<Event>, Code>)>,
}

impl Server {
    fn request(&mut self, actor: Actor, command: Command) -> Result<Vec<Event>, Code> {
        let got = self.sim.exec(&actor, &command);
        self.answers.push((actor, command, got.clone()));
        got
    }
    /// The same request id again: its first answer, and nothing run.
    fn retry(&self, back: usize) -> Option<Result<Vec<Event>, Code>> {
        let n = self.answers.len();
        (n > 0).then(|| self.answers[n - 1 - back % n].2.clone())
    }
}

fn run(
    shape: Shape,
    secret: bool,
    voters: usize,
    mut actions: Vec<Action>,
    close_at: usize,
) -> Result<(), TestCaseError> {
    let at = close_at.min(actions.len());
    actions.insert(at, Action::Close);

    let mut sim = Sim::created("Propriétés");
    let staff = sim.add(vec![
        person("Animatrice", &[Role::Facilitator], &[]),
        person("Garant", &[Role::Guarantor], &[]),
    ]);
    let (f, g) = (staff[0].clone(), staff[1].clone());
    let people = sim.add(citizens(voters, 3));
    let spec = PollSpec {
        secret,
        live_results: true,
        ..poll_spec("Question tirée au sort ?", kind_of(&shape))
    };
    let poll = sim.open_poll(&f, spec);
    let mut server = Server {
        sim,
        answers: Vec::new(),
    };

    // The model: each voter's ballot that counts, and the closing tally.
    let mut counted: BTreeMap<usize, Ballot> = BTreeMap::new();
    let mut closed: Option<Tally> = None;
    let vote = |ballot: Ballot| Command::Vote {
        poll: poll.clone(),
        ballot,
    };

    for (step, act) in actions.iter().enumerate() {
        let before = server.sim.state.clone();
        let label = format!("step {step}: {act:?}");
        let refused = match act {
            Action::Cast { .. } | Action::Change { .. } => {
                let (voter, seed) = match *act {
                    Action::Cast { voter, seed } => (voter % voters, seed),
                    Action::Change { pick, seed } => {
                        if counted.is_empty() {
                            continue;
                        }
                        let keys: Vec<usize> = counted.keys().copied().collect();
                        (keys[pick % keys.len()], seed)
                    }
                    _ => unreachable!(),
                };
                let ballot = valid_ballot(&shape, seed);
                let got = server.request(
                    Actor::Participant(people[voter].clone()),
                    vote(ballot.clone()),
                );
                if closed.is_some() {
                    prop_assert_eq!(&got, &Err(Code::Conflict), "{}: after the close", label);
                    true
                } else if secret && counted.contains_key(&voter) {
                    prop_assert_eq!(&got, &Err(Code::Conflict), "{}: a second secret", label);
                    true
                } else {
                    prop_assert!(got.is_ok(), "{}: refused {:?}", label, got);
                    counted.insert(voter, ballot);
                    false
                }
            }
            Action::Retry { back } => {
                // Answered from the log: nothing is decided, nothing changes.
                let _ = server.retry(*back);
                true
            }
            Action::Invalid { voter, seed } => {
                let voter = voter % voters;
                let got = server.request(
                    Actor::Participant(people[voter].clone()),
                    vote(invalid_ballot(&shape, *seed)),
                );
                if closed.is_some() {
                    prop_assert_eq!(got, Err(Code::Conflict), "{}: after the close", label);
                } else if secret && counted.contains_key(&voter) {
                    // Refused either way: as invalid or as a second ballot.
                    prop_assert!(got.is_err(), "{}: {:?}", label, got);
                } else {
                    prop_assert_eq!(got, Err(Code::Invalid), "{}", label);
                }
                true
            }
            Action::Guarantor { seed } => {
                let got = server.request(
                    Actor::Participant(g.clone()),
                    vote(valid_ballot(&shape, *seed)),
                );
                prop_assert_eq!(got, Err(Code::Forbidden), "{}", label);
                true
            }
            Action::Close => {
                let got = server.request(
                    Actor::Participant(f.clone()),
                    Command::ClosePoll { poll: poll.clone() },
                );
                if closed.is_some() {
                    prop_assert_eq!(got, Err(Code::Conflict), "{}: closed twice", label);
                    true
                } else {
                    let events = got.map_err(|c| {
                        TestCaseError::fail(format!("{label}: close refused: {c:?}"))
                    })?;
                    let [Event::PollClosed {
                        poll: p,
                        reason: CloseReason::Facilitator,
                        tally,
                        turnout: Some(_),
                    }] = &events[..]
                    else {
                        return Err(TestCaseError::fail(format!("{label}: {events:?}")));
                    };
                    prop_assert_eq!(p, &poll);
                    prop_assert_eq!(
                        seen(tally),
                        reference(&shape, counted.values()),
                        "{}: the closing tally",
                        label
                    );
                    closed = Some(tally.clone());
                    false
                }
            }
        };
        if refused {
            prop_assert_eq!(&server.sim.state, &before, "{}: nothing changes", label);
        }
        // The tally is the reference count of the ballots that count.
        let p = server.sim.poll(&poll);
        let tally = p.tally();
        prop_assert_eq!(
            seen(&tally),
            reference(&shape, counted.values()),
            "{}: the tally",
            label
        );
        prop_assert_eq!(
            tally.ballots,
            counted.len() as u64,
            "{}: one per voter",
            label
        );
        prop_assert_eq!(p.ballot_count(), counted.len() as u64, "{}", label);
        if let Some(fixed) = &closed {
            prop_assert_eq!(&tally, fixed, "{}: fixed since the close", label);
        }
        for (i, who) in people.iter().enumerate() {
            prop_assert_eq!(
                p.has_voted(who),
                counted.contains_key(&i),
                "{}: {}",
                label,
                who
            );
        }
    }

    // The state is the fold of its log (with the ballot box); without the box, the log
    // tells who voted in a secret poll and nothing of how.
    let sim = &server.sim;
    prop_assert_eq!(&sim.replayed(), &sim.state);
    if secret {
        let folded = Convention::from_log(&log_proper(&sim.log));
        let q = &folded.polls[&poll];
        let voted: BTreeSet<String> = counted.keys().map(|i| people[*i].clone()).collect();
        prop_assert_eq!(&*q.voted, &voted);
        prop_assert!(q.secret.is_empty() && q.named.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Failures are shown, not written next to the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_tally_counts_the_ballots_that_count(
        shape in shape(),
        secret in any::<bool>(),
        voters in 1usize..=30,
        actions in prop::collection::vec(action(), 0..60),
        close_at in 0usize..70,
    ) {
        run(shape, secret, voters, actions, close_at)?;
    }
}

/// The generators themselves: valid ballots pass `check_ballot`, invalid ones do not.
#[test]
fn the_generators_draw_what_they_say() {
    let shapes = [
        Shape::Single(2),
        Shape::Single(6),
        Shape::Multiple {
            n: 2,
            min: 0,
            max: 1,
        },
        Shape::Multiple {
            n: 4,
            min: 2,
            max: 3,
        },
        Shape::Multiple {
            n: 3,
            min: 3,
            max: 3,
        },
        Shape::Scale { min: -5, values: 2 },
        Shape::Scale { min: 0, values: 11 },
        Shape::Ranking(2),
        Shape::Ranking(5),
        Shape::Text(1),
        Shape::Text(12),
        Shape::Position,
    ];
    for shape in &shapes {
        let kind = kind_of(shape);
        assert!(
            convene::domain::polls::check_spec(&poll_spec("?", kind.clone())).is_ok(),
            "{shape:?}"
        );
        for seed in 0..500u64 {
            let good = valid_ballot(shape, seed);
            let bad = invalid_ballot(shape, seed);
            assert!(
                convene::domain::polls::check_ballot(&kind, &good).is_ok(),
                "{shape:?}: {good:?}"
            );
            assert!(
                convene::domain::polls::check_ballot(&kind, &bad).is_err(),
                "{shape:?}: {bad:?}"
            );
        }
    }
}
