//! The cost of the domain's hot path: decide a command against a convention of 200
//! citizens and apply its events, as the convention's task does for every command; and the
//! fold of a log on restart. Run: `cargo bench -p convene --bench decide_apply -- --quick`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{convention, options, poll_spec, step, Ids, Roster, Sim};
use convene::domain::{
    Actor, AssignMethod, Ballot, Command, Context, Convention, Millis, PollKind, QueueOrder, Record,
};
use criterion::{criterion_group, criterion_main, Criterion};

const CITIZENS: usize = 200;
const ROOMS: u32 = 20;

/// A convention of 200 citizens from the 24 communes, 2 facilitators, 2 guarantors, with
/// 20 breakout rooms and a few hands up in the plenary.
fn convention_of_200() -> (Sim, Ids) {
    let (mut sim, ids) = convention(Roster {
        facilitators: 2,
        guarantors: 2,
        citizens: CITIZENS,
        communes: 24,
        ..Roster::default()
    });
    sim.ok(
        ids.facilitator(),
        Command::CreateRooms {
            count: Some(ROOMS),
            names: vec![],
        },
    );
    for c in ids.citizens.iter().skip(100).take(10) {
        sim.ok(c, Command::RaiseHand { room: None });
    }
    (sim, ids)
}

fn balanced() -> Command {
    Command::AssignRooms {
        method: AssignMethod::Balanced("commune".into()),
        participants: None,
        only_present: false,
    }
}

/// Decide and apply one command, as the convention's task does once the append is durable.
fn run(state: &mut Convention, actor: &Actor, command: &Command, ctx: &Context) -> usize {
    match step(state, actor, command, ctx) {
        Ok(records) => records.len(),
        Err(code) => panic!("{command:?} refused: {code:?}"),
    }
}

fn decide_apply(c: &mut Criterion) {
    let (sim, ids) = convention_of_200();
    let citizen = Actor::Participant(ids.citizen(0).to_string());
    let facilitator = Actor::Participant(ids.facilitator().to_string());
    let ctx = Context {
        now: common::T0 + 60_000,
        seed: 42,
        present: &sim.present,
    };
    let mut group = c.benchmark_group("decide_apply");

    // Chat lines pile up in the room; clear them between chunks, off the clock, so that
    // memory stays flat however many iterations criterion asks for.
    let chat = Command::SendChat {
        room: None,
        text: "Je rejoins ce qui vient d'être dit sur les mobilités.".into(),
    };
    group.bench_function("send_chat", |b| {
        b.iter_custom(|iters| {
            let mut state = sim.state.clone();
            let mut spent = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(1024);
                let start = Instant::now();
                for _ in 0..chunk {
                    black_box(run(&mut state, &citizen, &chat, &ctx));
                }
                spent += start.elapsed();
                left -= chunk;
                state.rooms[0].chat.clear();
            }
            spent
        })
    });

    group.bench_function("raise_lower_hand", |b| {
        let mut state = sim.state.clone();
        b.iter(|| {
            run(
                &mut state,
                &citizen,
                &Command::RaiseHand { room: None },
                &ctx,
            );
            run(&mut state, &citizen, &Command::LowerHand, &ctx)
        })
    });

    group.bench_function("assign_balanced_200_in_20_rooms", |b| {
        let mut state = sim.state.clone();
        let command = balanced();
        b.iter(|| run(&mut state, &facilitator, &command, &ctx))
    });

    group.bench_function("open_close_breakouts", |b| {
        let mut state = sim.state.clone();
        run(&mut state, &facilitator, &balanced(), &ctx);
        let open = Command::OpenBreakouts {
            duration_ms: 20 * 60 * 1000,
            warning_ms: 60_000,
        };
        b.iter(|| {
            run(&mut state, &facilitator, &open, &ctx);
            run(&mut state, &facilitator, &Command::CloseBreakouts, &ctx)
        })
    });
    group.finish();
}

/// A log of `n` records from a plausible day: mostly chat, hands, turns with a speaking
/// limit, some moves, and now and then breakouts with their timer.
fn day_log(n: usize) -> Vec<Record> {
    let (mut sim, ids) = convention_of_200();
    let f = ids.facilitator().to_string();
    sim.ok(
        &f,
        Command::SetQueueOrder {
            room: None,
            order: QueueOrder::LeastSpoken,
        },
    );
    sim.ok(
        &f,
        Command::SetSpeakingLimit {
            room: None,
            limit_ms: Some(90_000),
        },
    );
    sim.ok(&f, balanced());
    let mut i: usize = 0;
    let mut now: Millis = sim.now;
    while sim.log.len() < n {
        i += 1;
        now += 1_000;
        sim.now = now;
        let c = ids.citizen(i * 7 % CITIZENS).to_string();
        match i % 50 {
            // A breakout of ten seconds every 500 steps, closed by its timer.
            0 if i.is_multiple_of(500) => {
                sim.ok(
                    &f,
                    Command::OpenBreakouts {
                        duration_ms: 10_000,
                        warning_ms: 2_000,
                    },
                );
            }
            8 | 12 => {
                sim.tick();
            }
            20 => {
                let _ = sim.by(
                    &f,
                    Command::GiveFloor {
                        room: None,
                        participant: None,
                        limit_ms: None,
                    },
                );
            }
            30 => {
                sim.tick();
            }
            40 => {
                let _ = sim.by(
                    &f,
                    Command::MoveParticipant {
                        participant: c,
                        room: "r3".into(),
                    },
                );
            }
            k if k % 3 == 0 => {
                let _ = sim.by(&c, Command::RaiseHand { room: None });
            }
            _ => {
                sim.ok(
                    &c,
                    Command::SendChat {
                        room: None,
                        text: format!("Message {i}"),
                    },
                );
            }
        }
    }
    sim.log.truncate(n);
    sim.log
}

fn fold(c: &mut Criterion) {
    let log = day_log(10_000);
    let mut group = c.benchmark_group("fold");
    group.sample_size(20);
    group.bench_function("from_log_10000_records", |b| {
        b.iter(|| Convention::from_log(black_box(&log)))
    });
    // What cluster mode pays before every batch: the convention's task copies its state, to
    // undo the batch if another node appended first (`Actor::checkpoint`).
    let state = Convention::from_log(&log);
    group.bench_function("clone_state_after_10000_records", |b| {
        b.iter(|| black_box(&state).clone())
    });
    // The answered requests beside it: 200 participants with 50 request ids each. Copied
    // before each batch until 2026-12-07, now journaled: a batch of one request begun,
    // inserted and rolled back.
    let mut answered = convene::live::Answered::default();
    for p in 0..200 {
        for r in 0..50 {
            answered.insert(&format!("p{p}"), &format!("p{p}-{r}"), (p * 50 + r) as u64);
        }
    }
    group.bench_function("clone_answered_200x50", |b| {
        b.iter(|| black_box(&answered).clone())
    });
    group.bench_function("journal_answered_200x50_one_request", |b| {
        b.iter(|| {
            answered.begin();
            answered.insert("p7", "p7-new", 99_999);
            answered.rollback();
        })
    });
    // The same copy for a national-size convention: 5,000 citizens, each placed in one of 20
    // rooms, who all voted in a named and in a secret poll.
    let large = large_state(5_000);
    group.bench_function("clone_state_5000_people_two_polls_of_5000", |b| {
        b.iter(|| black_box(&large).clone())
    });
    group.finish();
}

/// `citizens` citizens in 20 rooms (balanced by commune), all of whom voted in a named poll
/// and in a secret poll, both still open.
fn large_state(citizens: usize) -> Convention {
    let (mut sim, ids) = convention(Roster {
        facilitators: 2,
        guarantors: 2,
        citizens,
        communes: 24,
        ..Roster::default()
    });
    let f = ids.facilitator().to_string();
    sim.ok(
        &f,
        Command::CreateRooms {
            count: Some(ROOMS),
            names: vec![],
        },
    );
    sim.ok(&f, balanced());
    for secret in [false, true] {
        let mut spec = poll_spec(
            "Quelle priorité pour la métropole ?",
            PollKind::Single {
                options: options(&["Mobilité", "Logement", "Climat"]),
            },
        );
        spec.secret = secret;
        let poll = sim.open_poll(&f, spec);
        for (i, c) in ids.citizens.iter().enumerate() {
            let ballot = Ballot::Single((i % 3) as u32);
            sim.ok(
                c,
                Command::Vote {
                    poll: poll.clone(),
                    ballot,
                },
            );
        }
    }
    sim.state
}

criterion_group!(benches, decide_apply, fold);
criterion_main!(benches);
