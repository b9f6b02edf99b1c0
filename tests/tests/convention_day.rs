//! One facilitator, twelve citizens and one guarantor run a breakout session (balanced on
//! commune, timer expiry, automatic recall) and a speaking queue, every role violation is
//! refused; then the server is killed with SIGKILL, restarted, every client reconnects, and
//! nothing acknowledged is missing, no event is seen twice.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{self, AssignMethod, Command, ErrorCode, Event, Role, ServerMessage};
use convene_tests::{person, tempdir, Client, Server};

const COMMUNES: [&str; 4] = ["Rezé", "Orvault", "Saint-Herblain", "Bouguenais"];

struct Cast {
    fac: Client,
    gar: Client,
    citizens: Vec<Client>,
    tokens: HashMap<String, String>,
}

impl Cast {
    fn all(&mut self) -> impl Iterator<Item = &mut Client> {
        std::iter::once(&mut self.fac)
            .chain(std::iter::once(&mut self.gar))
            .chain(self.citizens.iter_mut())
    }
}

async fn join_all(server: &Server, tokens: &HashMap<String, String>) -> Result<Cast> {
    let url = server.ws_url();
    let fac = Client::join(&url, "fac", &tokens["Claire Animatrice"]).await?;
    let gar = Client::join(&url, "gar", &tokens["Hélène Garante"]).await?;
    let mut citizens = Vec::new();
    for i in 0..12 {
        let name = format!("Citoyen {i:02}");
        citizens.push(Client::join(&url, &name, &tokens[&name]).await?);
    }
    Ok(Cast {
        fac,
        gar,
        citizens,
        tokens: tokens.clone(),
    })
}

/// Every event a client saw has a greater seq than the one before, and than its snapshot.
fn check_no_duplicates(c: &Client, since: u64) -> Result<()> {
    let mut last = since;
    for r in &c.events {
        ensure!(
            r.seq > last,
            "{}: event seq {} after {} (duplicate or out of order)",
            c.name,
            r.seq,
            last
        );
        last = r.seq;
    }
    Ok(())
}

/// Wait until the recall reached a participant: a fresh snapshot (after the events) when
/// their room changes, the `breakouts_closed` event alone when they were in the plenary.
async fn recalled(c: &mut Client) -> Result<()> {
    if c.room() == proto::PLENARY_ID {
        c.wait_event("breakouts_closed").await?;
    } else {
        c.wait_for(|m| matches!(m, ServerMessage::Snapshot { snapshot, .. } if snapshot.breakouts.is_none())).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breakout_session_survives_kill_9() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..12 {
        roster.push(person(
            &format!("Citoyen {i:02}"),
            &[Role::Citizen],
            &[("commune", COMMUNES[i % 4])],
        ));
    }
    let invites = server.http().convention("nantes", &roster).await?;
    let tokens: HashMap<String, String> = invites
        .iter()
        .map(|i| (i.name.clone(), i.token.clone()))
        .collect();
    let mut cast = join_all(&server, &tokens).await?;

    // Everyone sees everyone online.
    for c in cast.all() {
        let online: usize = c
            .snapshot
            .as_ref()
            .unwrap()
            .participants
            .iter()
            .filter(|p| p.online)
            .count();
        ensure!(online >= 1, "{} sees nobody online", c.name);
    }

    eprintln!("step: breakouts");
    // --- Breakout rooms, balanced on commune.
    cast.fac
        .ok(Command::CreateRooms {
            count: Some(3),
            names: vec![],
        })
        .await?;
    cast.fac
        .ok(Command::AssignRooms {
            method: AssignMethod::Balanced {
                attribute: "commune".into(),
            },
            participants: None,
            only_present: true,
        })
        .await?;
    let assigned = cast.fac.wait_event("rooms_assigned").await?;
    let Event::RoomsAssigned { assignments, .. } = &assigned.event else {
        unreachable!()
    };
    ensure!(
        assignments.len() == 12,
        "12 citizens assigned, got {}",
        assignments.len()
    );
    let commune_of: HashMap<String, String> = cast
        .fac
        .snapshot
        .as_ref()
        .unwrap()
        .participants
        .iter()
        .map(|p| {
            (
                p.person.id.clone(),
                p.person
                    .attributes
                    .get("commune")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    let mut per_room: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for a in assignments {
        *per_room
            .entry(&a.room)
            .or_default()
            .entry(&commune_of[&a.participant])
            .or_default() += 1;
    }
    ensure!(per_room.len() == 3, "3 rooms used: {per_room:?}");
    for (room, communes) in &per_room {
        // 3 citizens per commune over 3 rooms: every room has one of each.
        ensure!(
            communes.len() == 4 && communes.values().all(|n| *n == 1),
            "room {room} unbalanced: {communes:?}"
        );
    }
    let room_of: HashMap<String, String> = assignments
        .iter()
        .map(|a| (a.participant.clone(), a.room.clone()))
        .collect();

    cast.fac
        .ok(Command::OpenBreakouts {
            duration_ms: 3000,
            warning_ms: 1500,
        })
        .await?;
    // Every citizen is told (with a fresh snapshot) that they are in their room.
    for c in &mut cast.citizens {
        c.wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
            .await?;
        ensure!(
            c.room() == room_of[&c.id()],
            "{} is in {} not {}",
            c.name,
            c.room(),
            room_of[&c.id()]
        );
        let snap = c.snapshot.as_ref().unwrap();
        ensure!(snap.breakouts.is_some(), "{} sees no countdown", c.name);
    }

    eprintln!("step: chat");
    // Chat inside the rooms: only the room (and staff) hear it.
    let mut acknowledged_chat: Vec<(u64, String, String)> = Vec::new(); // seq, room, text
    for c in cast.citizens.iter_mut().take(6) {
        let text = format!("Bonjour de {}", c.name);
        let seq = c
            .ok(Command::SendChat {
                room: None,
                text: text.clone(),
            })
            .await?;
        acknowledged_chat.push((seq, c.room(), text));
    }
    // The guarantor observes room r1, silently.
    cast.gar.ok(Command::Visit { room: "r1".into() }).await?;
    let gar_snapshot = cast
        .gar
        .wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
        .await?;
    let ServerMessage::Snapshot { snapshot, .. } = gar_snapshot else {
        unreachable!()
    };
    ensure!(
        snapshot
            .rooms
            .iter()
            .find(|r| r.id == "r1")
            .unwrap()
            .observers
            == 1,
        "r1 shows its observer"
    );

    eprintln!("step: warning");
    // Wait for the warning and the automatic recall.
    let warned = cast.citizens[0].wait_event("breakouts_warned").await?;
    let closed = cast.citizens[0].wait_event("breakouts_closed").await?;
    ensure!(
        matches!(
            closed.event,
            Event::BreakoutsClosed {
                reason: proto::CloseReason::Timer
            }
        ),
        "closed by the timer"
    );
    ensure!(
        closed.by == proto::Actor::Timer && warned.by == proto::Actor::Timer,
        "the timer fired both"
    );
    for c in cast.all() {
        recalled(c).await?;
        ensure!(
            c.room() == proto::PLENARY_ID,
            "{} not back in the plenary",
            c.name
        );
    }
    // Citizens saw only their own room's chat.
    for c in &cast.citizens {
        let mine = room_of[&c.id()].clone();
        for r in &c.events {
            if let Event::ChatPosted { room, .. } = &r.event {
                ensure!(*room == mine, "{} saw chat of room {room}", c.name);
            }
        }
    }

    eprintln!("step: queue");
    // --- Speaking queue in the plenary.
    for i in [3, 1, 2] {
        cast.citizens[i]
            .ok(Command::RaiseHand { room: None })
            .await?;
    }
    let first = cast.citizens[3].id();
    cast.fac
        .ok(Command::GiveFloor {
            room: None,
            participant: None,
            limit_ms: None,
        })
        .await?;
    let given = cast.citizens[0].wait_event("floor_given").await?;
    ensure!(
        matches!(&given.event, Event::FloorGiven { participant, .. } if *participant == first),
        "first raised gets the floor"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    cast.fac.ok(Command::EndFloor { room: None }).await?;
    let ended = cast.citizens[0].wait_event("floor_ended").await?;
    let Event::FloorEnded {
        spoken_ms, reason, ..
    } = ended.event
    else {
        unreachable!()
    };
    ensure!(
        reason == proto::FloorEndReason::Taken && spoken_ms >= 250,
        "floor taken back after {spoken_ms} ms"
    );
    // Least-spoken order: citizen 3 has spoken, so 1 then 2 remain in order of raising.
    cast.fac
        .ok(Command::SetQueueOrder {
            room: None,
            order: proto::QueueOrder::LeastSpoken,
        })
        .await?;
    cast.fac
        .ok(Command::SetSpeakingLimit {
            room: None,
            limit_ms: Some(800),
        })
        .await?;
    cast.fac
        .ok(Command::GiveFloor {
            room: None,
            participant: Some(cast.citizens[2].id()),
            limit_ms: None,
        })
        .await?;
    let speaker = cast.citizens[2].id();
    let ended = cast.citizens[2]
        .wait_for(|m| matches!(m, ServerMessage::Event { record } if matches!(&record.event, Event::FloorEnded { participant, .. } if *participant == speaker)))
        .await?;
    let ServerMessage::Event { record: ended } = ended else {
        unreachable!()
    };
    ensure!(
        matches!(ended.event, Event::FloorEnded { reason: proto::FloorEndReason::Timer, spoken_ms, .. } if (700..=900).contains(&spoken_ms)),
        "the speaking limit ends the turn: {ended:?}"
    );

    eprintln!("step: roles");
    // --- Every role violation is refused, and changes nothing.
    let citizen_forbidden = vec![
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
        Command::ClearRooms,
        Command::AssignRooms {
            method: AssignMethod::Random,
            participants: None,
            only_present: true,
        },
        Command::OpenBreakouts {
            duration_ms: 1000,
            warning_ms: 0,
        },
        Command::ExtendBreakouts { by_ms: 1000 },
        Command::CloseBreakouts,
        Command::Broadcast {
            text: "pirate".into(),
        },
        Command::MoveParticipant {
            participant: cast.citizens[1].id(),
            room: "r1".into(),
        },
        Command::ResolveCall { call: 1 },
        Command::GiveFloor {
            room: None,
            participant: None,
            limit_ms: None,
        },
        Command::EndFloor { room: None },
        Command::SetQueueOrder {
            room: None,
            order: proto::QueueOrder::Raised,
        },
        Command::SetSpeakingLimit {
            room: None,
            limit_ms: None,
        },
        Command::Visit { room: "r2".into() },
    ];
    let guarantor_forbidden = vec![
        Command::SendChat {
            room: None,
            text: "je ne devrais pas parler".into(),
        },
        Command::RaiseHand { room: None },
        Command::LowerHand,
        Command::YieldFloor,
        Command::CallFacilitator {
            message: "aide".into(),
        },
        Command::CreateRooms {
            count: Some(2),
            names: vec![],
        },
        Command::Broadcast {
            text: "pirate".into(),
        },
        Command::GiveFloor {
            room: None,
            participant: Some(cast.citizens[1].id()),
            limit_ms: None,
        },
        Command::OpenBreakouts {
            duration_ms: 1000,
            warning_ms: 0,
        },
        Command::CloseBreakouts,
        Command::MoveParticipant {
            participant: cast.citizens[1].id(),
            room: "r1".into(),
        },
        Command::SetSpeakingLimit {
            room: None,
            limit_ms: None,
        },
    ];
    let facilitator_forbidden = vec![Command::CallFacilitator {
        message: "x".into(),
    }];
    let seq_before = ended.seq; // the last event so far: the turn ended by the limit
    for cmd in citizen_forbidden {
        let r = cast.citizens[5].request(cmd.clone()).await?;
        ensure!(
            matches!(r, Err((ErrorCode::Forbidden, _))),
            "citizen {cmd:?}: {r:?}"
        );
    }
    for cmd in guarantor_forbidden {
        let r = cast.gar.request(cmd.clone()).await?;
        ensure!(
            matches!(r, Err((ErrorCode::Forbidden, _))),
            "guarantor {cmd:?}: {r:?}"
        );
    }
    for cmd in facilitator_forbidden {
        let r = cast.fac.request(cmd.clone()).await?;
        ensure!(
            matches!(r, Err((ErrorCode::Forbidden, _))),
            "facilitator {cmd:?}: {r:?}"
        );
    }
    // A citizen calls a facilitator: allowed, and only staff and the caller see it.
    let call_seq = cast.citizens[7]
        .ok(Command::CallFacilitator {
            message: "Mon micro ne marche pas".into(),
        })
        .await?;
    ensure!(
        call_seq == seq_before + 1,
        "the refused commands appended nothing (seq {call_seq} after {seq_before})"
    );
    cast.fac.wait_event("facilitator_called").await?;
    let plenary_chat = cast.citizens[4]
        .ok(Command::SendChat {
            room: None,
            text: "Merci à tous".into(),
        })
        .await?;
    acknowledged_chat.push((
        plenary_chat,
        proto::PLENARY_ID.into(),
        "Merci à tous".into(),
    ));
    cast.citizens[0]
        .wait_for(|m| matches!(m, ServerMessage::Event { record } if record.seq == plenary_chat))
        .await?;
    for c in &cast.citizens {
        let saw_call = c
            .events
            .iter()
            .any(|r| matches!(r.event, Event::FacilitatorCalled { .. }));
        ensure!(
            saw_call == (c.name == "Citoyen 07"),
            "{} saw the call: {saw_call}",
            c.name
        );
    }

    // Floor time before the crash, as facilitators see it.
    cast.fac
        .wait_for(|m| matches!(m, ServerMessage::Event { record } if record.seq == plenary_chat))
        .await?;
    let last_acked = plenary_chat;
    let mut before_crash: HashMap<String, u64> = HashMap::new();
    for c in cast.all() {
        c.drain(Duration::from_millis(200)).await;
        check_no_duplicates(c, 0)?;
        before_crash.insert(c.name.clone(), c.events.last().map(|r| r.seq).unwrap_or(0));
    }
    let floor_before: Vec<(String, u64)> = {
        // Ask for the view of a fresh facilitator connection: it carries floor times.
        let mut probe =
            Client::join(&server.ws_url(), "probe", &cast.tokens["Claire Animatrice"]).await?;
        let ft = probe.snapshot.take().unwrap().floor_time.unwrap();
        probe.close().await;
        ft.into_iter()
            .map(|f| (f.participant, f.spoken_ms))
            .collect()
    };
    ensure!(
        floor_before.iter().filter(|(_, ms)| *ms > 0).count() == 2,
        "two citizens have spoken: {floor_before:?}"
    );

    eprintln!("step: kill");
    // --- kill -9 in the middle of a running breakout, then restart.
    let seq = cast
        .fac
        .ok(Command::OpenBreakouts {
            duration_ms: 4000,
            warning_ms: 1000,
        })
        .await?;
    let opened = cast.fac.wait_seq(seq).await?;
    let Event::BreakoutsOpened { ends_at, .. } = opened.event else {
        unreachable!()
    };
    let opened_seq = opened.seq;
    server.kill9_and_restart().await?;
    drop(cast);
    let mut cast = join_all(&server, &tokens).await?;
    let start_seq: HashMap<String, u64> = cast
        .all()
        .map(|c| (c.name.clone(), c.snapshot.as_ref().unwrap().seq))
        .collect();
    for c in cast.all() {
        let snap = c.snapshot.as_ref().unwrap();
        ensure!(
            snap.seq >= opened_seq && snap.seq >= last_acked,
            "{}: snapshot at {} lost acknowledged events",
            c.name,
            snap.seq
        );
        let b = snap
            .breakouts
            .as_ref()
            .context("the breakout is still running after the restart")?;
        ensure!(b.ends_at == ends_at, "same deadline after restart");
    }
    // Every acknowledged chat line is there (the facilitator sees every room).
    let fac_snap = cast.fac.snapshot.clone().unwrap();
    let all_chat: BTreeSet<(u64, String, String)> = fac_snap
        .rooms
        .iter()
        .flat_map(|r| {
            r.inside.iter().flat_map(move |i| {
                i.chat
                    .iter()
                    .map(move |l| (l.seq, r.id.clone(), l.text.clone()))
            })
        })
        .collect();
    for line in &acknowledged_chat {
        ensure!(all_chat.contains(line), "acknowledged chat {line:?} lost");
    }
    let floor_after: Vec<(String, u64)> = fac_snap
        .floor_time
        .clone()
        .unwrap()
        .into_iter()
        .map(|f| (f.participant, f.spoken_ms))
        .collect();
    ensure!(floor_after == floor_before, "floor times kept");
    ensure!(fac_snap.calls.len() == 1, "the pending call is kept");
    // Assignments and rooms are back: each citizen is in its room.
    for c in &cast.citizens {
        ensure!(
            c.room() == room_of[&c.id()],
            "{} in {} after restart",
            c.name,
            c.room()
        );
    }

    eprintln!("step: timer after restart");
    // The running timer fires after the restart, at its deadline, once.
    let closed = cast.citizens[0].wait_event("breakouts_closed").await?;
    ensure!(
        closed.at >= ends_at,
        "closed at {} before its deadline {ends_at}",
        closed.at
    );
    for c in cast.all() {
        recalled(c).await?;
    }
    let after = cast.citizens[1]
        .ok(Command::SendChat {
            room: None,
            text: "On continue".into(),
        })
        .await?;
    for c in cast.all() {
        c.wait_for(|m| matches!(m, ServerMessage::Event { record } if record.seq == after))
            .await?;
        check_no_duplicates(c, start_seq[&c.name])?;
        let closes = c
            .events
            .iter()
            .filter(|r| matches!(r.event, Event::BreakoutsClosed { .. }))
            .count();
        ensure!(
            closes <= 1,
            "{}: the breakout closed {closes} times",
            c.name
        );
    }
    Ok(())
}
