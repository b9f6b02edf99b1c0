//! Expert rotations ("speed dating"), decided and applied synchronously: planning (groups,
//! rounds, rooms, refusals), running (timeline of rounds, warnings and transitions, one step
//! per tick), pause and resume, extend, skip, stop, floors of people who move, experts marked
//! absent, latecomers added to a group, questions and answers. After every step the state
//! folded again from the log equals the live one, and `next_deadline` follows the phase.

// Tables of named timelines read best as tuples; rounds index several schedules at once.
#![allow(clippy::type_complexity, clippy::needless_range_loop)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{convention, Ids, Roster, Sim, NOBODY, T0};
use convene::domain::rotation::{Question, Schedule};
use convene::domain::{
    Actor, AssignMethod, Code, Command, Context, Event, FloorEndReason, Millis, ParticipantId,
    Phase, Rotation, RotationPlan, PLENARY,
};

// ---------------------------------------------------------------------------------------
// Glue.

/// An absolute time, `offset` ms after T0.
fn t(offset: Millis) -> Millis {
    T0 + offset
}

/// A rotation plan as a facilitator fills it in; `cmd()` makes the command.
#[derive(Clone, Debug)]
struct Plan {
    experts: Vec<ParticipantId>,
    grouping: AssignMethod,
    groups: Option<Vec<Vec<ParticipantId>>>,
    group_count: Option<u32>,
    group_size: Option<u32>,
    participants: Option<Vec<ParticipantId>>,
    only_present: bool,
    round_ms: u64,
    transition_ms: u64,
    warning_ms: u64,
    rounds: Option<u32>,
    break_room: bool,
}

impl Plan {
    /// Every citizen, groups at random (one per expert), rounds of 10 s with a warning 3 s
    /// before the end and transitions of 2 s.
    fn new(experts: &[ParticipantId]) -> Plan {
        Plan {
            experts: experts.to_vec(),
            grouping: AssignMethod::Random,
            groups: None,
            group_count: None,
            group_size: None,
            participants: None,
            only_present: false,
            round_ms: 10_000,
            transition_ms: 2_000,
            warning_ms: 3_000,
            rounds: None,
            break_room: false,
        }
    }
    fn cmd(&self) -> Command {
        Command::PlanRotation {
            experts: self.experts.clone(),
            grouping: self.grouping.clone(),
            groups: self.groups.clone(),
            group_count: self.group_count,
            group_size: self.group_size,
            participants: self.participants.clone(),
            only_present: self.only_present,
            round_ms: self.round_ms,
            transition_ms: self.transition_ms,
            warning_ms: self.warning_ms,
            rounds: self.rounds,
            break_room: self.break_room,
        }
    }
}

/// 2 facilitators, 1 guarantor, `experts` experts, `citizens` citizens from 3 communes.
fn roster(experts: usize, citizens: usize) -> (Sim, Ids) {
    convention(Roster {
        facilitators: 2,
        guarantors: 1,
        experts,
        citizens,
        communes: 3,
        ..Roster::default()
    })
}

fn rot(sim: &Sim) -> &Rotation {
    sim.state.rotation.as_ref().expect("a rotation was planned")
}

fn plan_of(events: &[Event]) -> RotationPlan {
    events
        .iter()
        .find_map(|e| match e {
            Event::RotationPlanned { plan } => Some(plan.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no RotationPlanned among {events:?}"))
}

/// The deadline the rotation's phase implies, computed here from the phase alone.
fn phase_deadline(phase: &Phase) -> Option<Millis> {
    match phase {
        Phase::Round {
            ends_at,
            warn_at,
            warned: false,
            ..
        } => Some((*warn_at).min(*ends_at)),
        Phase::Round { ends_at, .. } => Some(*ends_at),
        Phase::Transition { starts_at, .. } => Some(*starts_at),
        Phase::Planned | Phase::Paused { .. } | Phase::Finished { .. } => None,
    }
}

/// What must hold after every step: replay gives the live state; everyone the rotation
/// places is where the phase says; `next_deadline` is the phase's (no other deadline exists
/// in these tests unless breakouts are open or a speaking limit is set).
fn check(sim: &Sim) {
    assert_eq!(
        sim.replayed(),
        sim.state,
        "the log folded again differs from the live state"
    );
    let Some(rot) = sim.state.rotation.as_ref() else {
        return;
    };
    let placed: Vec<&ParticipantId> = rot
        .plan
        .experts
        .iter()
        .chain(rot.plan.groups.iter().flatten())
        .collect();
    match (&rot.phase, rot.placed_round()) {
        (_, Some(round)) => {
            for p in &placed {
                let want = rot.room_in_round(p, round).expect("placed");
                assert_eq!(
                    sim.location(p),
                    want,
                    "{p} in round {round} ({:?})",
                    rot.phase
                );
            }
        }
        (Phase::Finished { .. }, None) => {
            for p in &placed {
                assert_eq!(sim.location(p), PLENARY, "{p} after the rotation");
            }
        }
        _ => {}
    }
    let limits = sim
        .state
        .rooms
        .iter()
        .any(|r| r.floor.as_ref().is_some_and(|f| f.ends_at.is_some()));
    if sim.state.breakout.is_none() && !limits {
        assert_eq!(
            sim.state.next_deadline(),
            phase_deadline(&rot.phase),
            "next_deadline in {:?}",
            rot.phase
        );
    }
}

/// A command that must be accepted; checked afterwards.
fn ok(sim: &mut Sim, who: &str, command: Command) -> Vec<Event> {
    let events = sim.ok(who, command);
    check(sim);
    events
}

/// A command that must be refused with `code`, changing nothing.
fn refused(sim: &mut Sim, who: &str, command: Command, code: Code) {
    let before = sim.state.clone();
    let shown = format!("{command:?}");
    match sim.by(who, command) {
        Err(c) => assert_eq!(c, code, "{shown}"),
        Ok(events) => panic!("{shown} accepted, wanted {code:?}: {events:?}"),
    }
    assert_eq!(sim.state, before, "a refusal changed the state");
}

/// The timer ticks at `T0 + offset`; checked afterwards.
fn tick_at(sim: &mut Sim, offset: Millis) -> Vec<Event> {
    sim.at(offset);
    let events = sim.tick();
    check(sim);
    events
}

/// Plan with `plan` at the current time (must be accepted); the plan.
fn make_plan(sim: &mut Sim, ids: &Ids, plan: &Plan) -> RotationPlan {
    let events = ok(sim, ids.facilitator(), plan.cmd());
    plan_of(&events)
}

/// 3 experts and 9 citizens in 3 groups of 3, 3 rounds of 10 s (warning 3 s before the end,
/// transitions of 2 s), started at T0.
fn started_3x3(transition_ms: u64) -> (Sim, Ids, RotationPlan) {
    let (mut sim, ids) = roster(3, 9);
    let mut p = Plan::new(&ids.experts);
    p.transition_ms = transition_ms;
    let plan = make_plan(&mut sim, &ids, &p);
    let events = ok(&mut sim, ids.facilitator(), Command::StartRotation);
    assert_eq!(events, vec![round(0, 10_000, 7_000)]);
    (sim, ids, plan)
}

fn round(round: usize, ends_at: Millis, warn_at: Millis) -> Event {
    Event::RotationRoundStarted {
        round,
        ends_at: t(ends_at),
        warn_at: t(warn_at),
    }
}

fn transition(next: usize, starts_at: Millis) -> Event {
    Event::RotationTransition {
        next,
        starts_at: t(starts_at),
    }
}

fn paused(remaining_ms: u64) -> Event {
    Event::RotationPaused { remaining_ms }
}

fn extended(ends_at: Millis, warn_at: Millis) -> Event {
    Event::RotationExtended {
        ends_at: t(ends_at),
        warn_at: t(warn_at),
    }
}

fn phase_round(round: usize, ends_at: Millis, warn_at: Millis, warned: bool) -> Phase {
    Phase::Round {
        round,
        ends_at: t(ends_at),
        warn_at: t(warn_at),
        warned,
    }
}

fn moved(room: &str, participant: &str, spoken_ms: u64) -> Event {
    Event::FloorEnded {
        room: room.into(),
        participant: participant.into(),
        spoken_ms,
        reason: FloorEndReason::Moved,
    }
}

fn give(room: &str, participant: &str) -> Command {
    Command::GiveFloor {
        room: Some(room.into()),
        participant: Some(participant.into()),
        limit_ms: None,
    }
}

/// No group meets an expert twice and no expert has two groups in a round.
fn assert_rules(schedule: &Schedule) {
    let groups = schedule.first().map_or(0, Vec::len);
    let mut met: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); groups];
    for (r, row) in schedule.iter().enumerate() {
        let mut busy = BTreeSet::new();
        for (g, e) in row.iter().enumerate() {
            if let Some(e) = e {
                assert!(busy.insert(*e), "round {r}: expert {e} twice: {row:?}");
                assert!(met[g].insert(*e), "round {r}: group {g} meets {e} again");
            }
        }
    }
}

/// Timelines: at each offset, a tick or a facilitator's command, and the events expected.
enum Act {
    Tick,
    Fac(Command),
}

fn run(sim: &mut Sim, ids: &Ids, steps: Vec<(Millis, Act, Vec<Event>)>) {
    for (i, (at, act, want)) in steps.into_iter().enumerate() {
        sim.at(at);
        let got = match act {
            Act::Tick => tick_at(sim, at),
            Act::Fac(c) => ok(sim, ids.facilitator(), c),
        };
        assert_eq!(got, want, "step {i} at +{at} ms");
    }
}

// ---------------------------------------------------------------------------------------
// Planning.

#[test]
fn groups_are_balanced_on_commune_for_any_count() {
    // 4 experts, 26 citizens from 4 communes (7, 7, 6, 6).
    for count in [2u32, 3, 4, 5, 6, 7] {
        let (mut sim, ids) = convention(Roster {
            facilitators: 1,
            guarantors: 1,
            experts: 4,
            citizens: 26,
            communes: 4,
            ..Roster::default()
        });
        let mut p = Plan::new(&ids.experts);
        p.grouping = AssignMethod::Balanced("commune".into());
        p.group_count = Some(count);
        let plan = make_plan(&mut sim, &ids, &p);
        assert_eq!(plan.groups.len(), count as usize);
        // Everyone grouped, once; nobody else.
        let grouped: Vec<&ParticipantId> = plan.groups.iter().flatten().collect();
        let set: BTreeSet<&ParticipantId> = grouped.iter().copied().collect();
        assert_eq!(grouped.len(), set.len(), "someone in two groups");
        assert_eq!(set, ids.citizens.iter().collect(), "count {count}");
        let sizes: Vec<usize> = plan.groups.iter().map(Vec::len).collect();
        let spread = sizes.iter().max().unwrap() - sizes.iter().min().unwrap();
        assert!(spread <= 1, "count {count}: sizes {sizes:?}");
        // Each commune spread evenly.
        let mut per: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (g, group) in plan.groups.iter().enumerate() {
            for p in group {
                let c = sim.state.people[p].attributes["commune"].clone();
                per.entry(c).or_insert_with(|| vec![0; count as usize])[g] += 1;
            }
        }
        for (commune, counts) in per {
            let spread = counts.iter().max().unwrap() - counts.iter().min().unwrap();
            assert!(
                spread <= 1,
                "count {count}: {commune} over groups {counts:?}"
            );
        }
    }
}

#[test]
fn group_count_and_group_size() {
    // 9 citizens, 3 experts: (count, size) -> sorted sizes of the groups.
    let cases: [(Option<u32>, Option<u32>, &[usize]); 8] = [
        (None, None, &[3, 3, 3]), // one group per expert
        (Some(1), None, &[9]),
        (Some(2), None, &[4, 5]),
        (Some(4), None, &[2, 2, 2, 3]),
        (Some(20), None, &[1; 9]),   // never more groups than people
        (None, Some(4), &[3, 3, 3]), // ceil(9 / 4) = 3 groups
        (None, Some(2), &[1, 2, 2, 2, 2]),
        (None, Some(9), &[9]),
    ];
    for (count, size, want) in cases {
        let (mut sim, ids) = roster(3, 9);
        let mut p = Plan::new(&ids.experts);
        p.group_count = count;
        p.group_size = size;
        let plan = make_plan(&mut sim, &ids, &p);
        let mut sizes: Vec<usize> = plan.groups.iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, want, "count {count:?}, size {size:?}");
        assert_eq!(plan.schedule.len(), plan.groups.len().max(3));
        assert_rules(&plan.schedule);
    }
}

#[test]
fn manual_groups_are_kept_as_given() {
    let (mut sim, ids) = roster(2, 9);
    let c = &ids.citizens;
    let groups = vec![
        vec![c[0].clone(), c[4].clone()],
        vec![],
        vec![c[1].clone(), c[2].clone(), c[3].clone()],
        vec![c[8].clone()],
    ];
    let mut p = Plan::new(&ids.experts);
    p.groups = Some(groups.clone());
    let plan = make_plan(&mut sim, &ids, &p);
    // Empty groups are dropped; the others kept in order; the rest of the roster is left out.
    let want: Vec<Vec<ParticipantId>> = groups.into_iter().filter(|g| !g.is_empty()).collect();
    assert_eq!(plan.groups, want);
    assert_eq!(plan.schedule.len(), 3, "max(3 groups, 2 experts)");
    assert_rules(&plan.schedule);
}

#[test]
fn default_rounds_are_max_of_groups_and_experts() {
    // (experts, group count, rounds asked) -> rounds.
    let cases: [(usize, u32, Option<u32>, usize); 7] = [
        (3, 3, None, 3),
        (3, 2, None, 3),
        (3, 5, None, 5),
        (5, 3, None, 5),
        (2, 2, None, 2),
        (3, 3, Some(7), 7),
        (5, 3, Some(1), 1),
    ];
    for (experts, count, rounds, want) in cases {
        let (mut sim, ids) = roster(experts, 9);
        let mut p = Plan::new(&ids.experts);
        p.group_count = Some(count);
        p.rounds = rounds;
        let plan = make_plan(&mut sim, &ids, &p);
        assert_eq!(
            plan.schedule.len(),
            want,
            "{experts} experts, {count} groups, rounds {rounds:?}"
        );
        assert_rules(&plan.schedule);
        assert_eq!(rot(&sim).phase, Phase::Planned);
        assert!(!rot(&sim).running());
    }
}

#[test]
fn one_room_per_expert_and_a_break_room_when_asked() {
    for break_room in [false, true] {
        let (mut sim, ids) = roster(3, 9);
        // Rooms made before keep their numbers; the rotation's come after.
        ok(
            &mut sim,
            ids.facilitator(),
            Command::CreateRooms {
                count: Some(2),
                names: vec![],
            },
        );
        let mut p = Plan::new(&ids.experts);
        p.break_room = break_room;
        let events = ok(&mut sim, ids.facilitator(), p.cmd());
        let Some(Event::RoomsCreated { rooms }) = events.first() else {
            panic!("rooms first: {events:?}")
        };
        let plan = plan_of(&events);
        assert_eq!(rooms.len(), 3 + usize::from(break_room));
        let ids_made: Vec<&str> = rooms.iter().map(|(id, _)| id.as_str()).collect();
        let want: Vec<&str> = if break_room {
            vec!["r3", "r4", "r5", "r6"]
        } else {
            vec!["r3", "r4", "r5"]
        };
        assert_eq!(ids_made, want);
        for (i, e) in ids.experts.iter().enumerate() {
            assert_eq!(plan.rooms[i], rooms[i].0);
            let name = &sim.state.people[e].name;
            assert!(
                rooms[i].1.contains(name.as_str()),
                "room {:?} named after {name}",
                rooms[i]
            );
        }
        if break_room {
            assert_eq!(plan.rest_room, "r6");
            assert_eq!(rooms[3].1, "Pause");
        } else {
            assert_eq!(plan.rest_room, PLENARY);
        }
        for (id, _) in rooms {
            assert!(sim.state.room(id).is_some(), "room {id} exists");
        }
        // Planning moves nobody.
        for p in sim.state.people.keys() {
            assert_eq!(sim.location(p), PLENARY);
        }
    }
}

#[test]
fn bad_plans_are_refused() {
    type Edit = fn(&Ids, &mut Plan);
    let cases: Vec<(&str, Edit, Code)> = vec![
        ("no experts", |_, p| p.experts.clear(), Code::Invalid),
        (
            "no citizens (an empty list)",
            |_, p| p.participants = Some(vec![]),
            Code::Invalid,
        ),
        (
            "no citizens (only present ones, nobody online)",
            |_, p| p.only_present = true,
            Code::Invalid,
        ),
        (
            "no citizens (only empty manual groups)",
            |_, p| p.groups = Some(vec![vec![], vec![]]),
            Code::Invalid,
        ),
        (
            "a citizen listed as expert",
            |ids, p| p.experts.push(ids.citizens[0].clone()),
            Code::Invalid,
        ),
        (
            "a facilitator listed as expert",
            |ids, p| p.experts.push(ids.facilitators[0].clone()),
            Code::Invalid,
        ),
        (
            "an unknown expert",
            |_, p| p.experts.push(NOBODY.into()),
            Code::NotFound,
        ),
        (
            "an expert listed twice",
            |ids, p| p.experts.push(ids.experts[0].clone()),
            Code::Invalid,
        ),
        (
            "an expert also in a manual group",
            |ids, p| p.groups = Some(vec![vec![ids.citizens[0].clone(), ids.experts[1].clone()]]),
            Code::Invalid,
        ),
        (
            "an expert also among the participants",
            |ids, p| p.participants = Some(vec![ids.citizens[0].clone(), ids.experts[2].clone()]),
            Code::Invalid,
        ),
        (
            "a guarantor in a group",
            |ids, p| p.groups = Some(vec![vec![ids.guarantors[0].clone()]]),
            Code::Invalid,
        ),
        (
            "someone in two groups",
            |ids, p| {
                p.groups = Some(vec![
                    vec![ids.citizens[0].clone()],
                    vec![ids.citizens[0].clone()],
                ])
            },
            Code::Invalid,
        ),
        (
            "an unknown participant",
            |_, p| p.participants = Some(vec![NOBODY.into()]),
            Code::NotFound,
        ),
        ("a round of 0 ms", |_, p| p.round_ms = 0, Code::Invalid),
        (
            "a round over 12 hours",
            |_, p| p.round_ms = 12 * 3600 * 1000 + 1,
            Code::Invalid,
        ),
        (
            "a transition over 12 hours",
            |_, p| p.transition_ms = 12 * 3600 * 1000 + 1,
            Code::Invalid,
        ),
        (
            "both a group count and a group size",
            |_, p| {
                p.group_count = Some(3);
                p.group_size = Some(3);
            },
            Code::Invalid,
        ),
        (
            "a group count of 0",
            |_, p| p.group_count = Some(0),
            Code::Invalid,
        ),
        (
            "a group size of 0",
            |_, p| p.group_size = Some(0),
            Code::Invalid,
        ),
        ("0 rounds", |_, p| p.rounds = Some(0), Code::Invalid),
        ("101 rounds", |_, p| p.rounds = Some(101), Code::Invalid),
        (
            "manual pairs instead of groups",
            |_, p| p.grouping = AssignMethod::Manual(vec![]),
            Code::Invalid,
        ),
    ];
    for (what, edit, code) in cases {
        let (mut sim, ids) = roster(3, 9);
        let mut p = Plan::new(&ids.experts);
        edit(&ids, &mut p);
        let before = sim.state.clone();
        let got = sim.by(ids.facilitator(), p.cmd());
        assert_eq!(got.err(), Some(code), "{what}");
        assert_eq!(sim.state, before, "{what}: state changed");
    }
}

#[test]
fn only_facilitators_plan_and_run_a_rotation() {
    let (mut sim, ids) = roster(3, 9);
    let p = Plan::new(&ids.experts);
    for who in [ids.citizen(0), ids.guarantor(), ids.experts[0].as_str()] {
        refused(&mut sim, who, p.cmd(), Code::Forbidden);
    }
    make_plan(&mut sim, &ids, &p);
    for c in [
        Command::StartRotation,
        Command::PauseRotation,
        Command::SkipRound,
        Command::StopRotation,
        Command::ExtendRound { by_ms: 1000 },
        Command::MarkExpertAbsent {
            expert: ids.experts[0].clone(),
        },
        Command::AddToGroup {
            participant: ids.citizen(0).into(),
            group: None,
        },
    ] {
        for who in [ids.citizen(0), ids.guarantor(), ids.experts[0].as_str()] {
            refused(&mut sim, who, c.clone(), Code::Forbidden);
        }
    }
}

#[test]
fn conflicts_between_rotations_and_breakouts() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    let p = Plan::new(&ids.experts);
    // Nothing to start yet.
    refused(&mut sim, &fac, Command::StartRotation, Code::Conflict);
    make_plan(&mut sim, &ids, &p);
    // Breakouts open: the rotation does not start.
    ok(
        &mut sim,
        &fac,
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    ok(
        &mut sim,
        &fac,
        Command::AssignRooms {
            method: AssignMethod::Random,
            participants: None,
            only_present: false,
        },
    );
    ok(
        &mut sim,
        &fac,
        Command::OpenBreakouts {
            duration_ms: 60_000,
            warning_ms: 0,
        },
    );
    refused(&mut sim, &fac, Command::StartRotation, Code::Conflict);
    ok(&mut sim, &fac, Command::CloseBreakouts);
    ok(&mut sim, &fac, Command::StartRotation);
    // Running: no second plan, no second start, no breakouts, no clearing of rooms.
    refused(&mut sim, &fac, p.cmd(), Code::Conflict);
    refused(&mut sim, &fac, Command::StartRotation, Code::Conflict);
    refused(
        &mut sim,
        &fac,
        Command::OpenBreakouts {
            duration_ms: 60_000,
            warning_ms: 0,
        },
        Code::Conflict,
    );
    refused(&mut sim, &fac, Command::ClearRooms, Code::Conflict);
    // Paused is still running.
    ok(&mut sim, &fac, Command::PauseRotation);
    refused(&mut sim, &fac, p.cmd(), Code::Conflict);
    refused(
        &mut sim,
        &fac,
        Command::OpenBreakouts {
            duration_ms: 60_000,
            warning_ms: 0,
        },
        Code::Conflict,
    );
    // Over: a new rotation may be planned, and started once.
    ok(&mut sim, &fac, Command::StopRotation);
    refused(&mut sim, &fac, Command::StartRotation, Code::Conflict);
    make_plan(&mut sim, &ids, &p);
    ok(&mut sim, &fac, Command::StartRotation);
    check(&sim);
}

/// « Répartir » before, during or after a rotation: a draw fills the breakout rooms a
/// facilitator made, never the experts' rooms or the break room (found by using the console
/// with the demo's planned rotation); a manual assignment may still name them.
#[test]
fn a_draw_fills_the_breakout_rooms_not_the_rotations() {
    let (mut sim, ids) = roster(3, 12);
    let fac = ids.facilitator().to_string();
    let mut p = Plan::new(&ids.experts);
    p.break_room = true;
    let plan = make_plan(&mut sim, &ids, &p);
    let rotation_rooms: Vec<String> = plan
        .rooms
        .iter()
        .chain([&plan.rest_room])
        .cloned()
        .collect();
    assert_eq!(rotation_rooms.len(), 4);
    let draw = |method: AssignMethod| Command::AssignRooms {
        method,
        participants: None,
        only_present: false,
    };
    // Only the rotation's rooms: nothing to draw into, and the refusal says why.
    for method in [
        AssignMethod::Random,
        AssignMethod::Balanced("commune".into()),
    ] {
        let ctx = Context {
            now: sim.now,
            seed: sim.seed,
            present: &sim.present,
        };
        let actor = Actor::Participant(fac.clone());
        let err = convene::domain::decide(&sim.state, &actor, &draw(method), &ctx)
            .expect_err("no breakout room of the facilitator's");
        assert_eq!(err.code, Code::Conflict);
        assert!(err.message.contains("rotation"), "{}", err.message);
    }
    ok(
        &mut sim,
        &fac,
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
    );
    let made: Vec<String> = sim.state.rooms[5..].iter().map(|r| r.id.clone()).collect();
    assert_eq!(made, vec!["r5", "r6"]);
    for (when, method) in [
        ("planned", AssignMethod::Random),
        ("planned", AssignMethod::Balanced("commune".into())),
        ("over", AssignMethod::Random),
    ] {
        if when == "over" {
            ok(&mut sim, &fac, Command::StartRotation);
            ok(&mut sim, &fac, Command::StopRotation);
        }
        let events = ok(&mut sim, &fac, draw(method.clone()));
        let Some(Event::RoomsAssigned { assignments, .. }) = events.first() else {
            panic!("{events:?}")
        };
        assert_eq!(
            assignments.len(),
            12,
            "{when} {method:?}: every citizen placed"
        );
        for (who, room) in assignments {
            assert!(
                made.contains(room),
                "{when} {method:?}: {who} drawn into {room}, not one of {made:?}"
            );
        }
        for room in &made {
            assert!(
                assignments.iter().filter(|(_, r)| r == room).count() >= 5,
                "{when} {method:?}: {room} filled evenly: {assignments:?}"
            );
        }
    }
    // A facilitator may still put someone in an expert's room by name.
    let c = ids.citizen(0).to_string();
    ok(
        &mut sim,
        &fac,
        draw(AssignMethod::Manual(vec![(
            c.clone(),
            plan.rooms[0].clone(),
        )])),
    );
    assert_eq!(
        sim.state.assignment.get(&c),
        Some(&plan.rooms[0]),
        "a manual assignment names an expert's room"
    );
}

// ---------------------------------------------------------------------------------------
// Running.

#[test]
fn start_places_every_group_and_expert() {
    // 4 groups, 3 experts: one group rests each round, in the break room.
    let (mut sim, ids) = roster(3, 12);
    let mut p = Plan::new(&ids.experts);
    p.group_count = Some(4);
    p.break_room = true;
    let plan = make_plan(&mut sim, &ids, &p);
    assert_eq!(plan.schedule.len(), 4);
    ok(&mut sim, ids.facilitator(), Command::StartRotation);
    let mut rested = 0;
    for (g, group) in plan.groups.iter().enumerate() {
        let want = match plan.schedule[0][g] {
            Some(e) => plan.rooms[e].clone(),
            None => {
                rested += 1;
                plan.rest_room.clone()
            }
        };
        for p in group {
            assert_eq!(sim.location(p), want, "group {g}");
        }
    }
    assert_eq!(rested, 1, "one group rests in round 0");
    for (e, expert) in plan.experts.iter().enumerate() {
        assert_eq!(sim.location(expert), plan.rooms[e]);
    }
    // Those the rotation does not place stay where they are.
    for p in ids.facilitators.iter().chain(&ids.guarantors) {
        assert_eq!(sim.location(p), PLENARY);
    }
    // Each expert's room holds the expert and the group of the round, nobody else.
    for (e, room) in plan.rooms.iter().enumerate() {
        let inside: BTreeSet<&str> = sim.state.members_of(room).map(|p| p.id.as_str()).collect();
        let mut want: BTreeSet<&str> = [plan.experts[e].as_str()].into();
        if let Some(g) = plan.schedule[0].iter().position(|x| *x == Some(e)) {
            want.extend(plan.groups[g].iter().map(String::as_str));
        }
        assert_eq!(inside, want, "room {room}");
    }
}

#[test]
fn a_rotation_runs_its_rounds_with_warnings_and_transitions() {
    let (mut sim, ids, _) = started_3x3(2_000);
    use Act::Tick;
    run(
        &mut sim,
        &ids,
        vec![
            (1_000, Tick, vec![]),
            (6_999, Tick, vec![]),
            (7_000, Tick, vec![Event::RotationWarned]),
            (7_500, Tick, vec![]), // warned once
            (9_999, Tick, vec![]),
            (10_000, Tick, vec![transition(1, 12_000)]),
            (11_000, Tick, vec![]),
            (12_000, Tick, vec![round(1, 22_000, 19_000)]),
            (19_000, Tick, vec![Event::RotationWarned]),
            (22_000, Tick, vec![transition(2, 24_000)]),
            (24_000, Tick, vec![round(2, 34_000, 31_000)]),
            (31_000, Tick, vec![Event::RotationWarned]),
            (34_000, Tick, vec![Event::RotationEnded { stopped: false }]),
            (40_000, Tick, vec![]),
        ],
    );
    assert_eq!(rot(&sim).phase, Phase::Finished { stopped: false });
    assert_eq!(sim.state.next_deadline(), None);
    // Everyone met every expert once.
    let r = rot(&sim);
    for g in 0..3 {
        let met: BTreeSet<usize> = r.plan.schedule.iter().filter_map(|row| row[g]).collect();
        assert_eq!(met, [0, 1, 2].into(), "group {g}");
    }
}

#[test]
fn during_a_transition_people_are_already_in_the_next_rooms() {
    let (mut sim, ids, plan) = started_3x3(2_000);
    tick_at(&mut sim, 7_000);
    assert_eq!(tick_at(&mut sim, 10_000), vec![transition(1, 12_000)]);
    for (g, group) in plan.groups.iter().enumerate() {
        let e = plan.schedule[1][g].expect("3x3: nobody rests");
        for p in group {
            assert_eq!(sim.location(p), plan.rooms[e], "group {g} in transition");
        }
    }
    assert_eq!(
        rot(&sim).phase,
        Phase::Transition {
            next: 1,
            starts_at: t(12_000)
        }
    );
    assert_eq!(sim.state.next_deadline(), Some(t(12_000)));
    let _ = ids;
}

#[test]
fn without_a_transition_rounds_follow_each_other() {
    let (mut sim, ids, _) = started_3x3(0);
    use Act::Tick;
    run(
        &mut sim,
        &ids,
        vec![
            (7_000, Tick, vec![Event::RotationWarned]),
            (10_000, Tick, vec![round(1, 20_000, 17_000)]),
            // A late tick: the round's own end counts, the warning is skipped.
            (20_500, Tick, vec![round(2, 30_000, 27_000)]),
            (27_000, Tick, vec![Event::RotationWarned]),
            (30_000, Tick, vec![Event::RotationEnded { stopped: false }]),
        ],
    );
}

#[test]
fn a_late_timer_catches_up_one_step_per_tick_on_the_planned_times() {
    let (mut sim, ids, _) = started_3x3(2_000);
    use Act::Tick;
    run(
        &mut sim,
        &ids,
        vec![
            (50_000, Tick, vec![transition(1, 12_000)]),
            (50_000, Tick, vec![round(1, 22_000, 19_000)]),
            (50_000, Tick, vec![transition(2, 24_000)]),
            (50_000, Tick, vec![round(2, 34_000, 31_000)]),
            (50_000, Tick, vec![Event::RotationEnded { stopped: false }]),
            (50_000, Tick, vec![]),
        ],
    );
}

#[test]
fn pause_freezes_and_resume_restores_the_remaining_time() {
    use Act::{Fac, Tick};
    struct Case {
        name: &'static str,
        steps: Vec<(Millis, Act, Vec<Event>)>,
    }
    let cases = vec![
        Case {
            name: "paused before the warning",
            steps: vec![
                // The time left until the round's end, not until its warning.
                (2_000, Fac(Command::PauseRotation), vec![paused(8_000)]),
                (20_000, Tick, vec![]),
                (
                    30_000,
                    Fac(Command::ResumeRotation),
                    vec![Event::RotationResumed],
                ),
                (34_999, Tick, vec![]),
                (35_000, Tick, vec![Event::RotationWarned]),
                (37_999, Tick, vec![]),
                (38_000, Tick, vec![transition(1, 40_000)]),
            ],
        },
        Case {
            name: "paused after the warning",
            steps: vec![
                (7_000, Tick, vec![Event::RotationWarned]),
                (8_000, Fac(Command::PauseRotation), vec![paused(2_000)]),
                (15_000, Tick, vec![]),
                (
                    20_000,
                    Fac(Command::ResumeRotation),
                    vec![Event::RotationResumed],
                ),
                (21_999, Tick, vec![]),
                (22_000, Tick, vec![transition(1, 24_000)]),
            ],
        },
        Case {
            name: "paused during a transition",
            steps: vec![
                (7_000, Tick, vec![Event::RotationWarned]),
                (10_000, Tick, vec![transition(1, 12_000)]),
                (11_000, Fac(Command::PauseRotation), vec![paused(1_000)]),
                (13_000, Tick, vec![]),
                (
                    15_000,
                    Fac(Command::ResumeRotation),
                    vec![Event::RotationResumed],
                ),
                (15_999, Tick, vec![]),
                (16_000, Tick, vec![round(1, 26_000, 23_000)]),
            ],
        },
        Case {
            name: "paused twice",
            steps: vec![
                (1_000, Fac(Command::PauseRotation), vec![paused(9_000)]),
                (
                    5_000,
                    Fac(Command::ResumeRotation),
                    vec![Event::RotationResumed],
                ),
                (6_000, Fac(Command::PauseRotation), vec![paused(8_000)]),
                (
                    9_000,
                    Fac(Command::ResumeRotation),
                    vec![Event::RotationResumed],
                ),
                (14_000, Tick, vec![Event::RotationWarned]),
                (17_000, Tick, vec![transition(1, 19_000)]),
            ],
        },
    ];
    for case in cases {
        let (mut sim, ids, _) = started_3x3(2_000);
        let fac = ids.facilitator().to_string();
        for (i, (at, act, want)) in case.steps.into_iter().enumerate() {
            sim.at(at);
            let got = match act {
                Act::Tick => tick_at(&mut sim, at),
                Act::Fac(c) => {
                    let is_pause = c == Command::PauseRotation;
                    let got = ok(&mut sim, &fac, c);
                    if is_pause {
                        // Frozen: no deadline; no pause on a pause, no extend, no skip.
                        assert!(matches!(rot(&sim).phase, Phase::Paused { .. }));
                        assert_eq!(sim.state.next_deadline(), None, "{}", case.name);
                        refused(&mut sim, &fac, Command::PauseRotation, Code::Conflict);
                        refused(
                            &mut sim,
                            &fac,
                            Command::ExtendRound { by_ms: 1000 },
                            Code::Conflict,
                        );
                        refused(&mut sim, &fac, Command::SkipRound, Code::Conflict);
                    }
                    got
                }
            };
            assert_eq!(got, want, "{}: step {i} at +{at}", case.name);
        }
    }
}

#[test]
fn resume_gives_back_the_phase_with_shifted_deadlines() {
    let (mut sim, ids, _) = started_3x3(2_000);
    let fac = ids.facilitator().to_string();
    refused(&mut sim, &fac, Command::ResumeRotation, Code::Conflict);
    sim.at(2_000);
    ok(&mut sim, &fac, Command::PauseRotation);
    assert_eq!(
        rot(&sim).phase,
        Phase::Paused {
            frozen: Box::new(phase_round(0, 10_000, 7_000, false)),
            remaining_ms: 8_000
        }
    );
    sim.at(30_000);
    ok(&mut sim, &fac, Command::ResumeRotation);
    assert_eq!(rot(&sim).phase, phase_round(0, 38_000, 35_000, false));
    // People did not move while paused.
    check(&sim);
}

/// Paused after the warning was due but before the timer fired it (the tick comes late, e.g.
/// behind a burst of commands): 2.5 s of the round are left, and should be after resuming.
#[test]
fn a_pause_with_the_warning_overdue_keeps_the_time_left_in_the_round() {
    let (mut sim, ids, _) = started_3x3(2_000);
    let fac = ids.facilitator().to_string();
    sim.at(7_500); // warn_at 7000 passed, no tick yet; the round ends at 10000
    ok(&mut sim, &fac, Command::PauseRotation);
    sim.at(20_000);
    ok(&mut sim, &fac, Command::ResumeRotation);
    let Phase::Round { ends_at, .. } = rot(&sim).phase else {
        panic!("{:?}", rot(&sim).phase)
    };
    assert_eq!(ends_at, t(22_500), "2.5 s were left when paused");
}

#[test]
fn extend_moves_the_end_and_the_warning() {
    use Act::{Fac, Tick};
    let ext = |by_ms| Fac(Command::ExtendRound { by_ms });
    let cases: Vec<(&str, Vec<(Millis, Act, Vec<Event>)>)> = vec![
        (
            "before the warning",
            vec![
                (5_000, ext(4_000), vec![extended(14_000, 11_000)]),
                (7_000, Tick, vec![]),
                (10_000, Tick, vec![]),
                (11_000, Tick, vec![Event::RotationWarned]),
                (14_000, Tick, vec![transition(1, 16_000)]),
            ],
        ),
        (
            "after the warning: warned again",
            vec![
                (7_000, Tick, vec![Event::RotationWarned]),
                (8_000, ext(4_000), vec![extended(14_000, 11_000)]),
                (10_000, Tick, vec![]),
                (11_000, Tick, vec![Event::RotationWarned]),
                (14_000, Tick, vec![transition(1, 16_000)]),
            ],
        ),
        (
            "overdue (the timer has not fired): from now",
            vec![
                (12_000, ext(1_000), vec![extended(13_000, 12_000)]),
                (12_500, Tick, vec![]), // the warning counts as given
                (13_000, Tick, vec![transition(1, 15_000)]),
            ],
        ),
        (
            "twice",
            vec![
                (1_000, ext(1_000), vec![extended(11_000, 8_000)]),
                (2_000, ext(1_000), vec![extended(12_000, 9_000)]),
                (9_000, Tick, vec![Event::RotationWarned]),
                (12_000, Tick, vec![transition(1, 14_000)]),
                // The next round keeps its own length.
                (14_000, Tick, vec![round(1, 24_000, 21_000)]),
            ],
        ),
    ];
    for (name, steps) in cases {
        let (mut sim, ids, _) = started_3x3(2_000);
        for (i, (at, act, want)) in steps.into_iter().enumerate() {
            sim.at(at);
            let got = match act {
                Act::Tick => tick_at(&mut sim, at),
                Act::Fac(c) => ok(&mut sim, ids.facilitator(), c),
            };
            assert_eq!(got, want, "{name}: step {i} at +{at}");
        }
    }
}

#[test]
fn extend_is_refused_outside_a_round() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    let ext = Command::ExtendRound { by_ms: 1_000 };
    refused(&mut sim, &fac, ext.clone(), Code::Conflict); // nothing planned
    make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    refused(&mut sim, &fac, ext.clone(), Code::Conflict); // planned
    ok(&mut sim, &fac, Command::StartRotation);
    refused(
        &mut sim,
        &fac,
        Command::ExtendRound { by_ms: 0 },
        Code::Invalid,
    );
    refused(
        &mut sim,
        &fac,
        Command::ExtendRound {
            by_ms: 12 * 3600 * 1000 + 1,
        },
        Code::Invalid,
    );
    tick_at(&mut sim, 10_000); // transition
    refused(&mut sim, &fac, ext.clone(), Code::Conflict);
    ok(&mut sim, &fac, Command::StopRotation);
    refused(&mut sim, &fac, ext, Code::Conflict);
}

#[test]
fn skip_from_a_round_and_from_a_transition() {
    use Act::{Fac, Tick};
    let skip = || Fac(Command::SkipRound);
    let cases: Vec<(&str, u64, Vec<(Millis, Act, Vec<Event>)>)> = vec![
        (
            "from a round: to the transition",
            2_000,
            vec![
                (3_000, skip(), vec![transition(1, 5_000)]),
                (5_000, Tick, vec![round(1, 15_000, 12_000)]),
            ],
        ),
        (
            "from a transition: the next round now",
            2_000,
            vec![
                (10_000, Tick, vec![transition(1, 12_000)]),
                (10_500, skip(), vec![round(1, 20_500, 17_500)]),
                (12_000, Tick, vec![]),
            ],
        ),
        (
            "without transitions: the next round now",
            0,
            vec![(3_000, skip(), vec![round(1, 13_000, 10_000)])],
        ),
        (
            "every round: the end",
            2_000,
            vec![
                (1_000, skip(), vec![transition(1, 3_000)]),
                (1_100, skip(), vec![round(1, 11_100, 8_100)]),
                (1_200, skip(), vec![transition(2, 3_200)]),
                (1_300, skip(), vec![round(2, 11_300, 8_300)]),
                (1_400, skip(), vec![Event::RotationEnded { stopped: false }]),
            ],
        ),
    ];
    for (name, transition_ms, steps) in cases {
        let (mut sim, ids, _) = started_3x3(transition_ms);
        for (i, (at, act, want)) in steps.into_iter().enumerate() {
            sim.at(at);
            let got = match act {
                Act::Tick => tick_at(&mut sim, at),
                Act::Fac(c) => ok(&mut sim, ids.facilitator(), c),
            };
            assert_eq!(got, want, "{name}: step {i} at +{at}");
        }
    }
    // Nothing to skip once over.
    let (mut sim, ids, _) = started_3x3(0);
    ok(&mut sim, ids.facilitator(), Command::StopRotation);
    refused(
        &mut sim,
        ids.facilitator(),
        Command::SkipRound,
        Code::Conflict,
    );
}

#[test]
fn stop_sends_everyone_back_to_the_plenary_from_any_phase() {
    // (name, what happens before the stop)
    let cases: [(&str, fn(&mut Sim, &Ids)); 4] = [
        ("in a round", |_, _| {}),
        ("after the warning", |sim, _| {
            tick_at(sim, 7_000);
        }),
        ("in a transition", |sim, _| {
            tick_at(sim, 10_000);
        }),
        ("paused", |sim, ids| {
            sim.at(3_000);
            ok(sim, ids.facilitator(), Command::PauseRotation);
        }),
    ];
    for (name, before) in cases {
        let (mut sim, ids, plan) = started_3x3(2_000);
        before(&mut sim, &ids);
        sim.at(9_000);
        let events = ok(&mut sim, ids.facilitator(), Command::StopRotation);
        assert_eq!(
            events,
            vec![Event::RotationEnded { stopped: true }],
            "{name}"
        );
        assert_eq!(rot(&sim).phase, Phase::Finished { stopped: true }, "{name}");
        for p in plan.experts.iter().chain(plan.groups.iter().flatten()) {
            assert_eq!(sim.location(p), PLENARY, "{name}: {p}");
        }
        assert_eq!(sim.state.next_deadline(), None);
        assert_eq!(
            tick_at(&mut sim, 60_000),
            vec![],
            "{name}: no timer after a stop"
        );
        refused(
            &mut sim,
            ids.facilitator(),
            Command::StopRotation,
            Code::Conflict,
        );
        refused(
            &mut sim,
            ids.facilitator(),
            Command::PauseRotation,
            Code::Conflict,
        );
        refused(
            &mut sim,
            ids.facilitator(),
            Command::ResumeRotation,
            Code::Conflict,
        );
        // The plan and schedule stay for the record.
        assert_eq!(rot(&sim).plan, plan);
    }
}

#[test]
fn next_deadline_follows_the_phase() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    assert_eq!(sim.state.next_deadline(), None);
    make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    assert_eq!(sim.state.next_deadline(), None, "planned");
    ok(&mut sim, &fac, Command::StartRotation);
    assert_eq!(
        sim.state.next_deadline(),
        Some(t(7_000)),
        "round: the warning"
    );
    tick_at(&mut sim, 7_000);
    assert_eq!(
        sim.state.next_deadline(),
        Some(t(10_000)),
        "warned: the end"
    );
    tick_at(&mut sim, 10_000);
    assert_eq!(sim.state.next_deadline(), Some(t(12_000)), "transition");
    sim.at(11_000);
    ok(&mut sim, &fac, Command::PauseRotation);
    assert_eq!(sim.state.next_deadline(), None, "paused");
    sim.at(20_000);
    ok(&mut sim, &fac, Command::ResumeRotation);
    assert_eq!(sim.state.next_deadline(), Some(t(21_000)), "resumed");
    // With a warning longer than the round, the warning is at the start.
    let (mut sim, ids) = roster(3, 9);
    let mut p = Plan::new(&ids.experts);
    p.warning_ms = 60_000;
    make_plan(&mut sim, &ids, &p);
    let events = ok(&mut sim, ids.facilitator(), Command::StartRotation);
    assert_eq!(events, vec![round(0, 10_000, 0)]);
    assert_eq!(tick_at(&mut sim, 0), vec![Event::RotationWarned]);
    assert_eq!(sim.state.next_deadline(), Some(t(10_000)));
    // With no warning, the end only; no warning event at all.
    let (mut sim, ids) = roster(3, 9);
    let mut p = Plan::new(&ids.experts);
    p.warning_ms = 0;
    make_plan(&mut sim, &ids, &p);
    ok(&mut sim, ids.facilitator(), Command::StartRotation);
    assert_eq!(sim.state.next_deadline(), Some(t(10_000)));
    assert_eq!(tick_at(&mut sim, 10_000), vec![transition(1, 12_000)]);
}

// ---------------------------------------------------------------------------------------
// Floors of people who move.

/// The expert of round-0 room `e`, a member of the group in it, the room.
fn in_room(plan: &RotationPlan, e: usize) -> (String, String, String) {
    let g = plan.schedule[0]
        .iter()
        .position(|x| *x == Some(e))
        .expect("someone meets expert e in round 0");
    (
        plan.experts[e].clone(),
        plan.groups[g][0].clone(),
        plan.rooms[e].clone(),
    )
}

#[test]
fn a_citizen_speaking_when_the_round_ends_loses_the_floor() {
    let (mut sim, ids, plan) = started_3x3(2_000);
    let (_, citizen, room) = in_room(&plan, 0);
    sim.at(4_000);
    ok(&mut sim, ids.facilitator(), give(&room, &citizen));
    assert_eq!(sim.speaker(&room), Some(citizen.as_str()));
    tick_at(&mut sim, 7_000);
    let events = tick_at(&mut sim, 10_000);
    assert_eq!(
        events,
        vec![moved(&room, &citizen, 6_000), transition(1, 12_000)]
    );
    assert_eq!(sim.speaker(&room), None);
    assert_eq!(sim.floor_time(&citizen), 6_000);
}

#[test]
fn an_expert_speaking_in_their_room_keeps_the_floor_between_rounds() {
    let (mut sim, ids, plan) = started_3x3(2_000);
    let (expert, _, room) = in_room(&plan, 1);
    ok(&mut sim, ids.facilitator(), give(&room, &expert));
    assert_eq!(tick_at(&mut sim, 10_000), vec![transition(1, 12_000)]);
    assert_eq!(tick_at(&mut sim, 12_000), vec![round(1, 22_000, 19_000)]);
    assert_eq!(sim.speaker(&room), Some(expert.as_str()));
}

#[test]
fn skip_and_stop_end_the_floors_of_those_who_move() {
    // Skip from a round.
    let (mut sim, ids, plan) = started_3x3(2_000);
    let (expert, citizen, room) = in_room(&plan, 2);
    ok(&mut sim, ids.facilitator(), give(&room, &citizen));
    sim.at(1_500);
    assert_eq!(
        ok(&mut sim, ids.facilitator(), Command::SkipRound),
        vec![moved(&room, &citizen, 1_500), transition(1, 3_500)]
    );
    // Stop: the expert leaves their room too.
    sim.at(2_000);
    ok(&mut sim, ids.facilitator(), give(&room, &expert));
    sim.at(2_500);
    assert_eq!(
        ok(&mut sim, ids.facilitator(), Command::StopRotation),
        vec![
            moved(&room, &expert, 500),
            Event::RotationEnded { stopped: true }
        ]
    );
    assert_eq!(sim.speaker(&room), None);
}

#[test]
fn start_ends_the_floor_of_a_citizen_who_leaves_the_plenary() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    let citizen = ids.citizen(4).to_string();
    ok(&mut sim, &fac, give(PLENARY, &citizen));
    // A facilitator speaking in the plenary is not moved by the rotation and keeps the floor.
    sim.at(1_000);
    let events = ok(&mut sim, &fac, Command::StartRotation);
    assert_eq!(
        events,
        vec![moved(PLENARY, &citizen, 1_000), round(0, 11_000, 8_000)]
    );
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    ok(&mut sim, &fac, give(PLENARY, &fac));
    let events = ok(&mut sim, &fac, Command::StartRotation);
    assert_eq!(events, vec![round(0, 10_000, 7_000)]);
    assert_eq!(sim.speaker(PLENARY), Some(fac.as_str()));
}

#[test]
fn the_end_of_the_last_round_ends_the_floors_of_those_who_move() {
    for by_skip in [false, true] {
        let (mut sim, ids, plan) = started_3x3(0);
        tick_at(&mut sim, 10_000);
        tick_at(&mut sim, 20_000);
        // Round 2, the last: the expert of room 0 speaks.
        let expert = plan.experts[0].clone();
        let room = plan.rooms[0].clone();
        sim.at(25_000);
        ok(&mut sim, ids.facilitator(), give(&room, &expert));
        let events = if by_skip {
            sim.at(27_000);
            ok(&mut sim, ids.facilitator(), Command::SkipRound)
        } else {
            tick_at(&mut sim, 27_000);
            tick_at(&mut sim, 30_000)
        };
        assert_eq!(
            events,
            vec![
                moved(&room, &expert, if by_skip { 2_000 } else { 5_000 }),
                Event::RotationEnded { stopped: false }
            ],
            "by skip: {by_skip}"
        );
        assert_eq!(sim.location(&expert), PLENARY);
        assert_eq!(sim.speaker(&room), None, "by skip: {by_skip}");
    }
}

#[test]
fn marking_an_expert_absent_ends_the_floor_of_a_member_who_moves() {
    let (mut sim, ids, plan) = started_3x3(2_000);
    let (expert, citizen, room) = in_room(&plan, 1);
    sim.at(1_000);
    ok(&mut sim, ids.facilitator(), give(&room, &citizen));
    sim.at(3_000);
    let events = ok(
        &mut sim,
        ids.facilitator(),
        Command::MarkExpertAbsent { expert },
    );
    assert_eq!(sim.location(&citizen), PLENARY, "the group rests");
    assert_eq!(
        events.first(),
        Some(&moved(&room, &citizen, 2_000)),
        "{events:?}"
    );
    assert_eq!(sim.speaker(&room), None);
}

// ---------------------------------------------------------------------------------------
// Experts marked absent.

#[test]
fn an_expert_absent_mid_rotation_sends_their_group_to_rest_and_is_planned_out() {
    for (break_room, in_transition) in [(false, false), (true, false), (true, true)] {
        let (mut sim, ids) = roster(3, 9);
        let mut p = Plan::new(&ids.experts);
        p.break_room = break_room;
        let plan = make_plan(&mut sim, &ids, &p);
        ok(&mut sim, ids.facilitator(), Command::StartRotation);
        // The placed round: 0 in round 0, 1 in the transition to round 1.
        let current = if in_transition {
            tick_at(&mut sim, 10_000);
            1
        } else {
            0
        };
        let g = 0;
        let e = plan.schedule[current][g].expect("3x3: nobody rests");
        sim.at(11_000);
        let events = ok(
            &mut sim,
            ids.facilitator(),
            Command::MarkExpertAbsent {
                expert: plan.experts[e].clone(),
            },
        );
        let Some(Event::ExpertAbsent { expert, schedule }) = events.last() else {
            panic!("{events:?}")
        };
        assert_eq!(*expert, e);
        let r = rot(&sim);
        assert_eq!(&r.plan.schedule, schedule);
        assert_eq!(r.absent, [e].into());
        // The past is kept; the current round loses only this meeting.
        for past in 0..current {
            assert_eq!(schedule[past], plan.schedule[past]);
        }
        let mut now = plan.schedule[current].clone();
        now[g] = None;
        assert_eq!(schedule[current], now);
        // The group rests now, in the rest room.
        for p in &plan.groups[g] {
            assert_eq!(sim.location(p), plan.rest_room);
        }
        // The absent expert meets nobody from now on; no repeats; no double booking.
        for (i, row) in schedule.iter().enumerate().skip(current) {
            assert!(!row.contains(&Some(e)), "round {i}: {row:?}");
        }
        assert_rules(schedule);
        // Re-planned rounds still use the present experts as much as possible.
        assert_eq!(
            schedule.len(),
            plan.schedule.len(),
            "the number of rounds is kept"
        );
        // Later rounds: nobody goes to the absent expert's room.
        let mut at = 12_000;
        while rot(&sim).running() {
            at += 1_000;
            tick_at(&mut sim, at);
            if let Some(round) = rot(&sim).placed_round() {
                let inside: Vec<String> = sim
                    .state
                    .members_of(&plan.rooms[e])
                    .map(|p| p.id.clone())
                    .filter(|p| *p != plan.experts[e])
                    .collect();
                assert!(
                    inside.is_empty(),
                    "round {round}: {inside:?} with the absent expert"
                );
            }
        }
        // Over: no more absences.
        refused(
            &mut sim,
            ids.facilitator(),
            Command::MarkExpertAbsent {
                expert: plan.experts[(e + 1) % 3].clone(),
            },
            Code::Conflict,
        );
    }
}

#[test]
fn an_expert_absent_before_the_start_is_never_scheduled() {
    let (mut sim, ids) = roster(3, 9);
    let plan = make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    let fac = ids.facilitator().to_string();
    ok(
        &mut sim,
        &fac,
        Command::MarkExpertAbsent {
            expert: plan.experts[1].clone(),
        },
    );
    refused(
        &mut sim,
        &fac,
        Command::MarkExpertAbsent {
            expert: plan.experts[1].clone(),
        },
        Code::Conflict,
    );
    let s = rot(&sim).plan.schedule.clone();
    assert_eq!(s.len(), 3);
    assert_rules(&s);
    for row in &s {
        assert!(!row.contains(&Some(1)), "{s:?}");
        // Two experts present, three groups: two meetings each round.
        assert_eq!(row.iter().flatten().count(), 2, "{s:?}");
    }
    // Nobody moved yet.
    for p in plan.groups.iter().flatten() {
        assert_eq!(sim.location(p), PLENARY);
    }
    ok(&mut sim, &fac, Command::StartRotation);
    assert!(sim
        .state
        .members_of(&plan.rooms[1])
        .all(|p| p.id == plan.experts[1]));
}

#[test]
fn marking_absent_is_refused_when_it_makes_no_sense() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    let absent = |who: &str| Command::MarkExpertAbsent {
        expert: who.to_string(),
    };
    refused(&mut sim, &fac, absent(&ids.experts[0]), Code::Conflict); // nothing planned
    let mut p = Plan::new(&ids.experts[..2]);
    p.group_count = Some(2);
    make_plan(&mut sim, &ids, &p);
    refused(&mut sim, &fac, absent(&ids.experts[2]), Code::NotFound); // not in this rotation
    refused(&mut sim, &fac, absent(ids.citizen(0)), Code::NotFound);
    refused(&mut sim, &fac, absent(NOBODY), Code::NotFound);
    ok(&mut sim, &fac, Command::StartRotation);
    ok(&mut sim, &fac, Command::StopRotation);
    refused(&mut sim, &fac, absent(&ids.experts[0]), Code::Conflict); // over
}

// ---------------------------------------------------------------------------------------
// Latecomers.

/// 3 experts; 9 citizens online at planning time, a tenth offline: 3 groups of 3, the tenth
/// left out. With `participants`, only the first 8 are grouped (3, 3, 2).
fn with_latecomer(eight: bool) -> (Sim, Ids, RotationPlan, String) {
    let (mut sim, ids) = roster(3, 10);
    let late = ids.citizens[9].clone();
    let mut p = Plan::new(&ids.experts);
    if eight {
        p.participants = Some(ids.citizens[..8].to_vec());
    } else {
        sim.present = ids.citizens[..9].iter().cloned().collect();
        p.only_present = true;
    }
    let plan = make_plan(&mut sim, &ids, &p);
    assert!(plan.groups.iter().flatten().all(|p| *p != late));
    (sim, ids, plan, late)
}

#[test]
fn a_latecomer_joins_the_smallest_group_in_its_current_room() {
    let (mut sim, ids, plan, late) = with_latecomer(true);
    let smallest = (0..3).min_by_key(|g| (plan.groups[*g].len(), *g)).unwrap();
    assert_eq!(plan.groups[smallest].len(), 2);
    ok(&mut sim, ids.facilitator(), Command::StartRotation);
    sim.at(4_000);
    let events = ok(
        &mut sim,
        ids.facilitator(),
        Command::AddToGroup {
            participant: late.clone(),
            group: None,
        },
    );
    assert_eq!(
        events,
        vec![Event::GroupJoined {
            participant: late.clone(),
            group: smallest
        }]
    );
    let e = plan.schedule[0][smallest].unwrap();
    assert_eq!(sim.location(&late), plan.rooms[e]);
    assert_eq!(rot(&sim).group_of(&late), Some(smallest));
    // And follows the group from then on.
    tick_at(&mut sim, 10_000);
    let e = plan.schedule[1][smallest].unwrap();
    assert_eq!(sim.location(&late), plan.rooms[e]);
    // Equal sizes: the first of the smallest.
    let (mut sim, ids, _, late) = with_latecomer(false);
    let events = ok(
        &mut sim,
        ids.facilitator(),
        Command::AddToGroup {
            participant: late.clone(),
            group: None,
        },
    );
    assert_eq!(
        events,
        vec![Event::GroupJoined {
            participant: late.clone(),
            group: 0
        }]
    );
    assert_eq!(
        sim.location(&late),
        PLENARY,
        "not started: nobody moves yet"
    );
}

#[test]
fn a_latecomer_joins_a_given_group_in_any_phase() {
    // (phase set-up, group) -> the latecomer is where the group is.
    let setups: [(&str, fn(&mut Sim, &Ids)); 4] = [
        ("in round 0", |_, _| {}),
        ("after the warning", |sim, _| {
            tick_at(sim, 7_000);
        }),
        ("in a transition", |sim, _| {
            tick_at(sim, 10_000);
        }),
        ("paused in round 0", |sim, ids| {
            ok(sim, ids.facilitator(), Command::PauseRotation);
        }),
    ];
    for (name, setup) in setups {
        for group in 0..3u32 {
            let (mut sim, ids, plan, late) = with_latecomer(false);
            ok(&mut sim, ids.facilitator(), Command::StartRotation);
            setup(&mut sim, &ids);
            let events = ok(
                &mut sim,
                ids.facilitator(),
                Command::AddToGroup {
                    participant: late.clone(),
                    group: Some(group),
                },
            );
            assert_eq!(events.len(), 1, "{name}: {events:?}");
            let mate = &plan.groups[group as usize][0];
            assert_ne!(sim.location(mate), PLENARY);
            assert_eq!(
                sim.location(&late),
                sim.location(mate),
                "{name}, group {group}"
            );
        }
    }
}

#[test]
fn adding_to_a_group_is_refused_when_it_makes_no_sense() {
    let (mut sim, ids) = roster(3, 10);
    let fac = ids.facilitator().to_string();
    let add = |who: &str, group: Option<u32>| Command::AddToGroup {
        participant: who.to_string(),
        group,
    };
    let late = ids.citizens[9].clone();
    refused(&mut sim, &fac, add(&late, None), Code::Conflict); // nothing planned
    let mut p = Plan::new(&ids.experts);
    p.participants = Some(ids.citizens[..9].to_vec());
    make_plan(&mut sim, &ids, &p);
    refused(&mut sim, &fac, add(ids.citizen(0), None), Code::Conflict); // already grouped
    refused(&mut sim, &fac, add(&ids.experts[0], None), Code::Invalid);
    refused(&mut sim, &fac, add(ids.guarantor(), None), Code::Invalid);
    refused(&mut sim, &fac, add(NOBODY, None), Code::NotFound);
    refused(&mut sim, &fac, add(&late, Some(3)), Code::NotFound);
    ok(&mut sim, &fac, add(&late, Some(2)));
    refused(&mut sim, &fac, add(&late, Some(1)), Code::Conflict); // now grouped
}

// ---------------------------------------------------------------------------------------
// Questions.

#[test]
fn questions_are_asked_in_an_experts_room_while_running() {
    let (mut sim, ids) = roster(3, 9);
    let fac = ids.facilitator().to_string();
    let ask = |text: &str| Command::AskQuestion {
        text: text.to_string(),
    };
    let plan = make_plan(&mut sim, &ids, &Plan::new(&ids.experts));
    let (expert, citizen, room) = in_room(&plan, 0);
    refused(&mut sim, &citizen, ask("Trop tôt ?"), Code::Conflict); // planned, not running
    ok(&mut sim, &fac, Command::StartRotation);
    // (who, text) -> the event, or the code.
    let long_ok = "é".repeat(1000);
    let too_long = "é".repeat(1001);
    let cases: Vec<(&str, String, Result<String, Code>)> = vec![
        (
            &citizen,
            "Quelle part du fret passe par la Loire ?".into(),
            Ok("Quelle part du fret passe par la Loire ?".into()),
        ),
        (
            &citizen,
            "  Et le coût ?  ".into(),
            Ok("Et le coût ?".into()),
        ),
        (&citizen, String::new(), Err(Code::Invalid)),
        (&citizen, "   ".into(), Err(Code::Invalid)),
        (&citizen, long_ok.clone(), Ok(long_ok.clone())),
        (&citizen, too_long, Err(Code::Invalid)),
        // The expert may ask too (a speaker, in an expert's room).
        (
            &expert,
            "Des questions ?".into(),
            Ok("Des questions ?".into()),
        ),
        // A facilitator in the plenary: not an expert's room.
        (&fac, "Depuis la plénière".into(), Err(Code::Conflict)),
        (
            ids.guarantor(),
            "Un garant observe".into(),
            Err(Code::Forbidden),
        ),
    ];
    for (who, text, want) in cases {
        let shown = text.chars().take(30).collect::<String>();
        match want {
            Ok(kept) => {
                let seq = sim.state.seq + 1;
                let events = ok(&mut sim, who, ask(&text));
                assert_eq!(
                    events,
                    vec![Event::QuestionAsked {
                        room: room.clone(),
                        text: kept.clone()
                    }],
                    "{who}: {shown}"
                );
                let q = rot(&sim).questions.last().unwrap();
                assert_eq!(
                    *q,
                    Question {
                        id: seq,
                        room: room.clone(),
                        from: who.to_string(),
                        at: sim.now,
                        text: kept,
                        answer: None,
                        status: convene::domain::questions::Status::Open,
                        supporters: Default::default(),
                    }
                );
            }
            Err(code) => refused(&mut sim, who, ask(&text), code),
        }
    }
    // A facilitator visiting the room may ask.
    ok(&mut sim, &fac, Command::Visit { room: room.clone() });
    ok(&mut sim, &fac, ask("Une précision ?"));
    // In the rest room (here the plenary), no.
    let (mut sim, ids) = roster(3, 12);
    let mut p = Plan::new(&ids.experts);
    p.group_count = Some(4);
    let plan = make_plan(&mut sim, &ids, &p);
    ok(&mut sim, ids.facilitator(), Command::StartRotation);
    let resting = plan.schedule[0].iter().position(Option::is_none).unwrap();
    let c = plan.groups[resting][0].clone();
    assert_eq!(sim.location(&c), PLENARY);
    refused(&mut sim, &c, ask("En pause ?"), Code::Conflict);
    // After the end, no.
    ok(&mut sim, ids.facilitator(), Command::StopRotation);
    let c = plan.groups[0][0].clone();
    refused(&mut sim, &c, ask("Encore une ?"), Code::Conflict);
}

#[test]
fn questions_are_answered_by_the_rooms_expert_or_a_facilitator() {
    let (mut sim, ids, plan) = started_3x3(2_000);
    let (expert, citizen, room) = in_room(&plan, 0);
    let other_expert = plan.experts[1].clone();
    let fac = ids.facilitator().to_string();
    let events = ok(
        &mut sim,
        &citizen,
        Command::AskQuestion {
            text: "Combien de lignes de tram ?".into(),
        },
    );
    assert_eq!(events.len(), 1);
    let q = sim.state.seq;
    assert_eq!(rot(&sim).questions[0].room, room);
    let answer = |question: u64, text: &str| Command::AnswerQuestion {
        question,
        text: text.to_string(),
    };
    let long_ok = "a".repeat(1000);
    let too_long = "a".repeat(1001);
    let cases: Vec<(&str, Command, Result<String, Code>)> = vec![
        (
            &other_expert,
            answer(q, "Pas ma salle"),
            Err(Code::Forbidden),
        ),
        (&citizen, answer(q, "Moi je sais"), Err(Code::Forbidden)),
        (ids.guarantor(), answer(q, "Non"), Err(Code::Forbidden)),
        (
            &expert,
            answer(q + 100, "Quelle question ?"),
            Err(Code::NotFound),
        ),
        (&expert, answer(q, "   "), Err(Code::Invalid)),
        (&expert, answer(q, &too_long), Err(Code::Invalid)),
        (
            &expert,
            answer(q, " Trois, bientôt quatre. "),
            Ok("Trois, bientôt quatre.".into()),
        ),
        // A later answer replaces the earlier one; a facilitator may answer too.
        (
            &fac,
            answer(q, "Trois lignes et des busways."),
            Ok("Trois lignes et des busways.".into()),
        ),
        (&expert, answer(q, &long_ok), Ok(long_ok.clone())),
    ];
    for (who, command, want) in cases {
        match want {
            Ok(text) => {
                let events = ok(&mut sim, who, command);
                assert_eq!(
                    events,
                    vec![Event::QuestionAnswered {
                        question: q,
                        text: text.clone()
                    }]
                );
                assert_eq!(
                    rot(&sim).questions[0].answer.as_deref(),
                    Some(text.as_str())
                );
            }
            Err(code) => refused(&mut sim, who, command, code),
        }
    }
    // The expert answers even after moving on, and after the end (kept for the record).
    tick_at(&mut sim, 10_000);
    ok(&mut sim, &expert, answer(q, "Après coup."));
    ok(&mut sim, &fac, Command::StopRotation);
    ok(&mut sim, &expert, answer(q, "Pour le compte rendu."));
    assert_eq!(
        rot(&sim).questions[0].answer.as_deref(),
        Some("Pour le compte rendu.")
    );
    // No rotation at all: nothing to answer.
    let (mut sim, ids) = roster(3, 9);
    refused(
        &mut sim,
        &ids.experts[0].clone(),
        answer(1, "?"),
        Code::Conflict,
    );
}

// ---------------------------------------------------------------------------------------
// Replay through a whole day.

#[test]
fn replay_equals_the_live_state_after_every_step_of_a_busy_rotation() {
    // `ok`, `refused` and `tick_at` check replay, placements and next_deadline each step.
    let (mut sim, ids) = roster(3, 13);
    let fac = ids.facilitator().to_string();
    sim.present = ids.citizens[..12].iter().cloned().collect();
    let mut p = Plan::new(&ids.experts);
    p.only_present = true;
    p.group_count = Some(4);
    p.break_room = true;
    p.grouping = AssignMethod::Balanced("commune".into());
    let plan = make_plan(&mut sim, &ids, &p);
    sim.at(1_000);
    ok(&mut sim, &fac, Command::StartRotation);
    let (expert, citizen, room) = in_room(&plan, 0);
    ok(&mut sim, &fac, give(&room, &citizen));
    sim.at(2_000);
    let asked = ok(
        &mut sim,
        &citizen,
        Command::AskQuestion {
            text: "Et les vélos ?".into(),
        },
    );
    assert_eq!(asked.len(), 1);
    let q = sim.state.seq;
    ok(
        &mut sim,
        &expert,
        Command::AnswerQuestion {
            question: q,
            text: "Voies dédiées.".into(),
        },
    );
    sim.at(3_000);
    ok(&mut sim, &fac, Command::PauseRotation);
    sim.at(9_000);
    ok(&mut sim, &fac, Command::ResumeRotation);
    ok(&mut sim, &fac, Command::ExtendRound { by_ms: 5_000 });
    tick_at(&mut sim, 15_000);
    ok(
        &mut sim,
        &fac,
        Command::AddToGroup {
            participant: ids.citizens[12].clone(),
            group: None,
        },
    );
    tick_at(&mut sim, 22_000);
    tick_at(&mut sim, 24_000);
    ok(
        &mut sim,
        &fac,
        Command::MarkExpertAbsent {
            expert: plan.experts[2].clone(),
        },
    );
    ok(&mut sim, &fac, Command::SkipRound);
    ok(&mut sim, &fac, Command::SkipRound);
    ok(
        &mut sim,
        &citizen,
        Command::SendChat {
            room: None,
            text: "On a sauté deux tours ?".into(),
        },
    );
    let mut at = 30_000;
    while rot(&sim).running() {
        at += 1_000;
        tick_at(&mut sim, at);
    }
    assert!(matches!(
        rot(&sim).phase,
        Phase::Finished { stopped: false }
    ));
    // The record: questions kept with their answers; the absent expert noted.
    let r = rot(&sim);
    assert_eq!(r.questions.len(), 1);
    assert_eq!(r.questions[0].answer.as_deref(), Some("Voies dédiées."));
    assert_eq!(r.absent, [2].into());
    assert_eq!(sim.replayed(), sim.state);
}
