//! An expert rotation end to end: 6 experts and 30 citizens in 6 groups run 3 short rounds.
//! Every client observes its moves along its planned path, at the times the server's own
//! timestamps say (within a tolerance measured against those timestamps), and the rotation
//! survives a `kill -9` in the middle of a round with its schedule and remaining time.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, ensure, Result};
use convene_tests::proto::{
    Command, Event, Grouping, Role, RotationPhase, RotationPlan, ServerMessage, PLENARY_ID,
};
use convene_tests::{person, tempdir, Client, Server};
use tokio::task::JoinHandle;

const EXPERTS: usize = 6;
const CITIZENS: usize = 30;
const ROUND_MS: u64 = 2000;
const TRANSITION_MS: u64 = 400;
/// How late a timer may fire, by the server's own clock, and still count as on time.
const TOLERANCE_MS: u64 = 1500;

/// Everything one connection received, until the rotation ended or the connection closed.
struct Seen {
    name: String,
    /// The rooms this participant was told it is in (welcome and snapshots), in order.
    rooms: Vec<String>,
    /// For each snapshot after a move: its `server_time` and the `at` of the rotation event
    /// that moved the participant.
    moves: Vec<(u64, u64)>,
    events: Vec<convene_tests::proto::Record>,
}

fn collect(mut c: Client) -> JoinHandle<Seen> {
    tokio::spawn(async move {
        let me = c.id();
        let mut seen = Seen {
            name: c.name.clone(),
            rooms: vec![c.room()],
            moves: vec![],
            events: vec![],
        };
        let mut last_rotation_at = None;
        loop {
            let m = match c
                .wait_for_within(std::time::Duration::from_secs(30), |_| true)
                .await
            {
                Ok(m) => m,
                Err(_) => break,
            };
            match m {
                ServerMessage::Event { record } => {
                    if matches!(
                        record.event,
                        Event::RotationTransition { .. }
                            | Event::RotationRoundStarted { .. }
                            | Event::RotationEnded { .. }
                    ) {
                        last_rotation_at = Some(record.at);
                    }
                    let ended = matches!(record.event, Event::RotationEnded { .. });
                    seen.events.push(record);
                    if ended && c.room() == PLENARY_ID {
                        break;
                    }
                }
                ServerMessage::Snapshot {
                    server_time,
                    snapshot,
                } => {
                    let room = snapshot
                        .participants
                        .iter()
                        .find(|p| p.person.id == me)
                        .map(|p| p.room.clone())
                        .unwrap_or_default();
                    seen.rooms.push(room.clone());
                    if let Some(at) = last_rotation_at {
                        seen.moves.push((server_time, at));
                    }
                    if room == PLENARY_ID
                        && seen
                            .events
                            .iter()
                            .any(|r| matches!(r.event, Event::RotationEnded { .. }))
                    {
                        break;
                    }
                }
                _ => {}
            }
        }
        seen
    })
}

fn collapse(rooms: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rooms {
        if out.last() != Some(r) {
            out.push(r.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_experts_thirty_citizens_three_rounds_through_a_kill_9() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let communes = ["Rezé", "Orvault", "Vertou", "Nantes", "Bouaye"];
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    for e in 0..EXPERTS {
        roster.push(person(&format!("Experte {e}"), &[Role::Expert], &[]));
    }
    for i in 0..CITIZENS {
        roster.push(person(
            &format!("Citoyen {i:02}"),
            &[Role::Citizen],
            &[("commune", communes[i % 5])],
        ));
    }
    let invites = server.http().convention("rotation", &roster).await?;
    let join_all = |url: String| {
        let invites = invites.clone();
        async move {
            let mut clients = Vec::new();
            for i in &invites {
                clients.push(Client::join(&url, &i.name, &i.token).await?);
            }
            anyhow::Ok(clients)
        }
    };
    let mut clients = join_all(server.ws_url()).await?;
    let fac = &mut clients[0];
    let experts: Vec<String> = invites
        .iter()
        .filter(|i| i.roles.contains(&Role::Expert))
        .map(|i| i.participant.clone())
        .collect();

    // Bad set-ups first: typed errors.
    let bad = [
        (
            Command::PlanRotation {
                experts: vec![],
                grouping: Grouping::Random,
                group_count: None,
                group_size: None,
                participants: None,
                only_present: true,
                round_ms: 1000,
                transition_ms: 0,
                warning_ms: 0,
                rounds: None,
                break_room: false,
            },
            "no experts",
        ),
        (
            Command::PlanRotation {
                experts: experts.clone(),
                grouping: Grouping::Random,
                group_count: None,
                group_size: None,
                participants: None,
                only_present: true,
                round_ms: 0,
                transition_ms: 0,
                warning_ms: 0,
                rounds: None,
                break_room: false,
            },
            "zero round",
        ),
        (
            Command::PlanRotation {
                experts: vec![experts[0].clone(), experts[0].clone()],
                grouping: Grouping::Random,
                group_count: None,
                group_size: None,
                participants: None,
                only_present: true,
                round_ms: 1000,
                transition_ms: 0,
                warning_ms: 0,
                rounds: None,
                break_room: false,
            },
            "an expert twice",
        ),
        (
            Command::PlanRotation {
                experts: experts.clone(),
                grouping: Grouping::Random,
                group_count: None,
                group_size: None,
                participants: Some(vec![]),
                only_present: true,
                round_ms: 1000,
                transition_ms: 0,
                warning_ms: 0,
                rounds: None,
                break_room: false,
            },
            "no citizens",
        ),
    ];
    for (cmd, what) in bad {
        let r = fac.request(cmd).await?;
        ensure!(
            matches!(r, Err((convene_tests::proto::ErrorCode::Invalid, _))),
            "{what}: {r:?}"
        );
    }

    let seq = fac
        .ok(Command::PlanRotation {
            experts: experts.clone(),
            grouping: Grouping::Balanced {
                attribute: "commune".into(),
            },
            group_count: Some(6),
            group_size: None,
            participants: None,
            only_present: true,
            round_ms: ROUND_MS,
            transition_ms: TRANSITION_MS,
            warning_ms: 500,
            rounds: Some(3),
            break_room: false,
        })
        .await?;
    let Event::RotationPlanned { plan } = fac.wait_seq(seq).await?.event else {
        bail!("no plan")
    };
    check_plan(&plan)?;
    // A second rotation while this one runs is refused (after it starts).
    fac.ok(Command::StartRotation).await?;
    let again = fac.request(Command::StartRotation).await?;
    ensure!(again.is_err(), "started twice: {again:?}");

    // Everyone's expected path: the rooms of rounds 0, 1, 2, then the plenary.
    let room_in_round = |who: &str, round: usize| -> String {
        if let Some(e) = plan.experts.iter().position(|x| x == who) {
            return plan.rooms[e].clone();
        }
        let g = plan
            .groups
            .iter()
            .position(|g| g.iter().any(|p| p == who))
            .expect("grouped");
        match plan.schedule[round][g] {
            Some(e) => plan.rooms[e as usize].clone(),
            None => plan.rest_room.clone(),
        }
    };

    // Collect until the middle of round 1, then kill -9.
    let ids: Vec<String> = clients.iter().map(|c| c.id()).collect();
    let handles: Vec<JoinHandle<Seen>> = clients.into_iter().map(collect).collect();
    let mut probe = Client::join(&server.ws_url(), "probe", &invites[0].token).await?;
    let started = probe.wait_for(|m| matches!(m, ServerMessage::Event { record } if matches!(record.event, Event::RotationRoundStarted { round: 1, .. }))).await?;
    let ServerMessage::Event { record: started } = started else {
        unreachable!()
    };
    let Event::RotationRoundStarted { ends_at, .. } = started.event else {
        unreachable!()
    };
    tokio::time::sleep(std::time::Duration::from_millis(ROUND_MS / 3)).await;
    server.kill9_and_restart().await?;
    let mut before: Vec<Seen> = Vec::new();
    for h in handles {
        before.push(h.await?);
    }
    // Back: the same round, the same deadline, the same schedule.
    let clients = join_all(server.ws_url()).await?;
    let snap = clients[0].snapshot.as_ref().unwrap();
    let rot = snap.rotation.as_ref().expect("the rotation is back");
    ensure!(rot.plan == plan, "the same schedule after the restart");
    match &rot.phase {
        RotationPhase::Round {
            round: 1,
            ends_at: e,
            ..
        } => ensure!(*e == ends_at, "round 1 keeps its deadline"),
        other => bail!("after the restart: {other:?}"),
    }
    for c in &clients[1..] {
        ensure!(
            c.room() == room_in_round(&c.id(), 1),
            "{} is back in its round-1 room",
            c.name
        );
    }
    let handles: Vec<JoinHandle<Seen>> = clients.into_iter().map(collect).collect();
    let mut after: Vec<Seen> = Vec::new();
    for h in handles {
        after.push(h.await?);
    }

    // Every participant went along its path.
    for (i, id) in ids.iter().enumerate().skip(1) {
        let mut rooms = before[i].rooms.clone();
        rooms.extend(after[i].rooms.iter().cloned());
        let expected = collapse(&[
            PLENARY_ID.to_string(),
            room_in_round(id, 0),
            room_in_round(id, 1),
            room_in_round(id, 2),
            PLENARY_ID.to_string(),
        ]);
        ensure!(
            collapse(&rooms) == expected,
            "{}: went {:?}, planned {:?}",
            before[i].name,
            collapse(&rooms),
            expected
        );
        ensure!(
            !before[i].moves.is_empty() && !after[i].moves.is_empty(),
            "{}: moves seen before and after the restart",
            before[i].name
        );
        // Each move reached it with the server's own clock close to the event that caused it.
        for (server_time, at) in before[i].moves.iter().chain(after[i].moves.iter()) {
            ensure!(
                server_time >= at && server_time - at <= TOLERANCE_MS,
                "{}: moved at {at}, told at {server_time}",
                before[i].name
            );
        }
    }
    // The timers fired on time, by the server's clock: each phase begins at or just after the
    // deadline of the one before.
    let fac_events: Vec<&convene_tests::proto::Record> = before[0]
        .events
        .iter()
        .chain(after[0].events.iter())
        .collect();
    let mut deadline: Option<u64> = None;
    let mut phases = 0;
    for r in &fac_events {
        let next = match &r.event {
            Event::RotationRoundStarted { ends_at, .. } => Some(*ends_at),
            Event::RotationTransition { starts_at, .. } => Some(*starts_at),
            Event::RotationEnded { .. } => None,
            _ => continue,
        };
        if let (Some(d), convene_tests::proto::Actor::Timer) = (deadline, &r.by) {
            ensure!(
                r.at >= d && r.at - d <= TOLERANCE_MS,
                "a timer fired at {} for a deadline at {d}",
                r.at
            );
        }
        phases += 1;
        deadline = next;
    }
    ensure!(
        phases >= 5,
        "round 0, transition, round 1, transition, round 2 (and the end): saw {phases}"
    );
    ensure!(
        fac_events
            .iter()
            .any(|r| matches!(r.event, Event::RotationEnded { stopped: false })),
        "the rotation ended by itself"
    );
    Ok(())
}

/// No group meets an expert twice, no expert sees two groups at once, groups of 5.
fn check_plan(plan: &RotationPlan) -> Result<()> {
    ensure!(
        plan.groups.len() == 6 && plan.groups.iter().all(|g| g.len() == 5),
        "6 groups of 5: {:?}",
        plan.groups
    );
    ensure!(plan.schedule.len() == 3, "3 rounds");
    let mut met: HashMap<usize, BTreeSet<u32>> = HashMap::new();
    for round in &plan.schedule {
        let busy: Vec<u32> = round.iter().flatten().copied().collect();
        ensure!(
            busy.len() == busy.iter().collect::<BTreeSet<_>>().len(),
            "an expert with two groups: {round:?}"
        );
        ensure!(
            busy.len() == 6,
            "every expert busy every round (6 groups, 6 experts): {round:?}"
        );
        for (g, e) in round.iter().enumerate() {
            if let Some(e) = e {
                ensure!(
                    met.entry(g).or_default().insert(*e),
                    "group {g} meets expert {e} twice"
                );
            }
        }
    }
    Ok(())
}
