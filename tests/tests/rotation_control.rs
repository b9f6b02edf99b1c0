//! Controlling an expert rotation end to end, with the real server and real clients: 3
//! experts, 9 citizens in 3 groups, rounds of 3 s. A pause freezes round 0 past its end and
//! a resume gives back the time that was left (by the server's own timestamps); an
//! extension moves the end; an expert marked absent in round 1 sends their group to the
//! rest room and is never visited again; a latecomer is added to a group and lands in its
//! room; a citizen who reconnects lands straight back in their group's room; questions and
//! answers reach the organizer's export; a skip and a stop move everyone as they should.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use calamine::{open_workbook_from_rs, Data, Range, Reader, Xlsx};
use convene_tests::proto::{
    Actor, Command, ErrorCode, Event, Grouping, Record, Role, RotationPhase, RotationPlan,
    RotationView, ServerMessage, Snapshot, PLENARY_ID,
};
use convene_tests::{person, tempdir, Client, Server};

const ROUND_MS: u64 = 3000;
const TRANSITION_MS: u64 = 500;
const WARNING_MS: u64 = 1000;
/// How late a timer may fire, by the server's own clock, and still count as on time.
const TOLERANCE_MS: u64 = 1500;
const CONV: &str = "rotation-control";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sleep until the local clock (the server's too: same machine) passes `t`.
async fn sleep_until(t: u64) {
    let now = now_ms();
    if t > now {
        tokio::time::sleep(Duration::from_millis(t - now)).await;
    }
}

fn room_in(snapshot: &Snapshot, who: &str) -> String {
    snapshot
        .participants
        .iter()
        .find(|p| p.person.id == who)
        .map(|p| p.room.clone())
        .unwrap_or_default()
}

/// A fresh connection's view: everyone's room and the rotation, as of now.
async fn look(server: &Server, token: &str) -> Result<Snapshot> {
    let probe = Client::join(&server.ws_url(), "probe", token).await?;
    let snap = probe
        .snapshot
        .clone()
        .ok_or_else(|| anyhow!("no snapshot"))?;
    probe.close().await;
    Ok(snap)
}

/// Wait until `c` is told (by a snapshot after `seq`) that it is in `room`.
async fn lands_in(c: &mut Client, seq: u64, room: &str) -> Result<()> {
    let me = c.id();
    let room_s = room.to_string();
    c.wait_for(move |m| match m {
        ServerMessage::Snapshot { snapshot, .. } => {
            snapshot.seq >= seq && room_in(snapshot, &me) == room_s
        }
        _ => false,
    })
    .await
    .with_context(|| format!("{} never told it is in {room} after seq {seq}", c.name))?;
    ensure!(c.room() == room, "{}: room {} not {room}", c.name, c.room());
    Ok(())
}

/// The next rotation event the client receives that matches.
async fn next_rotation_event(
    c: &mut Client,
    within: Duration,
    f: impl Fn(&Event) -> bool,
) -> Result<Record> {
    match c
        .wait_for_within(
            within,
            |m| matches!(m, ServerMessage::Event { record } if f(&record.event)),
        )
        .await?
    {
        ServerMessage::Event { record } => Ok(record),
        _ => unreachable!(),
    }
}

fn room_in_round(plan: &RotationPlan, who: &str, round: usize) -> Result<String> {
    if let Some(e) = plan.experts.iter().position(|x| x == who) {
        return Ok(plan.rooms[e].clone());
    }
    let g = plan
        .groups
        .iter()
        .position(|g| g.iter().any(|p| p == who))
        .ok_or_else(|| anyhow!("{who} is in no group"))?;
    Ok(match plan.schedule[round][g] {
        Some(e) => plan.rooms[e as usize].clone(),
        None => plan.rest_room.clone(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_extend_absence_latecomer_reconnect_questions_skip_and_stop() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let communes = ["Rezé", "Orvault", "Vertou"];
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    for e in 0..3 {
        roster.push(person(&format!("Experte {e}"), &[Role::Expert], &[]));
    }
    for i in 0..10 {
        roster.push(person(
            &format!("Citoyen {i:02}"),
            &[Role::Citizen],
            &[("commune", communes[i % 3])],
        ));
    }
    let invites = server.http().convention(CONV, &roster).await?;
    let url = server.ws_url();
    let invite = |name: &str| invites.iter().find(|i| i.name == name).unwrap().clone();
    let fac_token = invite("Claire Animatrice").token;
    let mut fac = Client::join(&url, "fac", &fac_token).await?;
    let mut experts = Vec::new();
    for e in 0..3 {
        experts.push(
            Client::join(
                &url,
                &format!("Experte {e}"),
                &invite(&format!("Experte {e}")).token,
            )
            .await?,
        );
    }
    // Citizen 09 stays offline: a latecomer.
    let mut citizens = Vec::new();
    for i in 0..9 {
        let name = format!("Citoyen {i:02}");
        citizens.push(Client::join(&url, &name, &invite(&name).token).await?);
    }
    let late = invite("Citoyen 09");
    let expert_ids: Vec<String> = experts.iter().map(Client::id).collect();

    // Plan: only those online are grouped; resting groups wait in a break room.
    let seq = fac
        .ok(Command::PlanRotation {
            experts: expert_ids.clone(),
            grouping: Grouping::Balanced {
                attribute: "commune".into(),
            },
            group_count: Some(3),
            group_size: None,
            participants: None,
            only_present: true,
            round_ms: ROUND_MS,
            transition_ms: TRANSITION_MS,
            warning_ms: WARNING_MS,
            rounds: None,
            break_room: true,
        })
        .await?;
    let Event::RotationPlanned { plan } = fac.wait_seq(seq).await?.event else {
        bail!("no rotation_planned")
    };
    ensure!(
        plan.groups.len() == 3 && plan.groups.iter().all(|g| g.len() == 3),
        "3 groups of 3: {:?}",
        plan.groups
    );
    ensure!(plan.schedule.len() == 3, "3 rounds: {:?}", plan.schedule);
    ensure!(
        plan.groups.iter().flatten().all(|p| *p != late.participant),
        "the offline citizen is not grouped"
    );
    ensure!(plan.rest_room != PLENARY_ID, "a break room");

    // --- Round 0, paused, past its end, resumed.
    let seq = fac.ok(Command::StartRotation).await?;
    let started = fac.wait_seq(seq).await?;
    let Event::RotationRoundStarted {
        round: 0,
        ends_at: end0,
        ..
    } = started.event
    else {
        bail!("round 0 did not start: {started:?}")
    };
    for c in citizens.iter_mut().chain(experts.iter_mut()) {
        let want = room_in_round(&plan, &c.id(), 0)?;
        lands_in(c, seq, &want).await?;
    }
    let pause_seq = fac.ok(Command::PauseRotation).await?;
    let paused = fac.wait_seq(pause_seq).await?;
    let Event::RotationPaused { remaining_ms } = paused.event else {
        bail!("not paused: {paused:?}")
    };
    ensure!(paused.at < end0 - WARNING_MS, "paused before the warning");
    ensure!(
        remaining_ms == end0 - paused.at,
        "remaining {remaining_ms} ms to the end, paused at {} for an end at {end0}",
        paused.at
    );
    // Every client is told.
    for c in citizens.iter_mut().chain(experts.iter_mut()) {
        let r = c.wait_seq(pause_seq).await?;
        ensure!(
            matches!(r.event, Event::RotationPaused { .. }),
            "{}: {r:?}",
            c.name
        );
    }
    // Past the round's original end: still round 0, frozen.
    sleep_until(end0 + 800).await;
    fac.drain(Duration::from_millis(200)).await;
    ensure!(
        !fac.events.iter().any(|r| r.seq > pause_seq
            && matches!(
                r.event,
                Event::RotationTransition { .. }
                    | Event::RotationRoundStarted { .. }
                    | Event::RotationEnded { .. }
            )),
        "the round moved on while paused"
    );
    let snap = look(&server, &fac_token).await?;
    match &snap
        .rotation
        .as_ref()
        .context("rotation in the snapshot")?
        .phase
    {
        RotationPhase::Paused {
            frozen,
            remaining_ms: r,
        } => {
            ensure!(*r == remaining_ms);
            ensure!(
                matches!(**frozen, RotationPhase::Round { round: 0, ends_at, .. } if ends_at == end0),
                "frozen: {frozen:?}"
            );
        }
        other => bail!("not paused in a new client's snapshot: {other:?}"),
    }
    for c in &citizens {
        ensure!(
            room_in(&snap, &c.id()) == room_in_round(&plan, &c.id(), 0)?,
            "{} stays in its round-0 room while paused",
            c.name
        );
    }
    let resume_seq = fac.ok(Command::ResumeRotation).await?;
    let resumed = fac.wait_seq(resume_seq).await?;
    let new_end0 = resumed.at + (end0 - paused.at);
    let snap = look(&server, &fac_token).await?;
    match &snap.rotation.as_ref().context("rotation")?.phase {
        RotationPhase::Round {
            round: 0, ends_at, ..
        } => ensure!(
            *ends_at == new_end0,
            "after resuming, round 0 ends at {ends_at}, wanted {new_end0} (resumed at {}, {} ms were left)",
            resumed.at,
            end0 - paused.at
        ),
        other => bail!("after resuming: {other:?}"),
    }
    let ended0 = next_rotation_event(&mut fac, Duration::from_secs(15), |e| {
        matches!(e, Event::RotationTransition { next: 1, .. })
    })
    .await?;
    ensure!(ended0.by == Actor::Timer, "the timer ends the round");
    ensure!(
        ended0.at >= new_end0 && ended0.at - new_end0 <= TOLERANCE_MS,
        "round 0 ended at {}, due at {new_end0}",
        ended0.at
    );

    // --- Round 1: extended (twice, the second time to leave room for the rest).
    let r1 = next_rotation_event(&mut fac, Duration::from_secs(10), |e| {
        matches!(e, Event::RotationRoundStarted { round: 1, .. })
    })
    .await?;
    let Event::RotationRoundStarted { ends_at: end1, .. } = r1.event else {
        unreachable!()
    };
    let seq = fac.ok(Command::ExtendRound { by_ms: 2000 }).await?;
    match fac.wait_seq(seq).await?.event {
        Event::RotationExtended { ends_at, warn_at } => {
            ensure!(
                ends_at == end1 + 2000,
                "extended to {ends_at}, wanted {}",
                end1 + 2000
            );
            ensure!(warn_at == ends_at - WARNING_MS);
        }
        other => bail!("not extended: {other:?}"),
    }
    sleep_until(end1 + 600).await;
    fac.drain(Duration::from_millis(100)).await;
    ensure!(
        !fac.events.iter().any(|r| r.seq > seq
            && matches!(
                r.event,
                Event::RotationTransition { .. } | Event::RotationRoundStarted { .. }
            )),
        "round 1 ended at its original end despite the extension"
    );
    fac.ok(Command::ExtendRound { by_ms: 60_000 }).await?;

    // An expert of round 1 is marked absent: their group rests, in the break room.
    let g0 = 0;
    let x = plan.schedule[1][g0].context("3x3: nobody rests")? as usize;
    let absent_id = plan.experts[x].clone();
    let seq = fac
        .ok(Command::MarkExpertAbsent {
            expert: absent_id.clone(),
        })
        .await?;
    let Event::ExpertAbsent { expert, schedule } = fac.wait_seq(seq).await?.event else {
        bail!("no expert_absent")
    };
    ensure!(expert as usize == x);
    ensure!(schedule[0] == plan.schedule[0], "round 0 is kept");
    ensure!(
        schedule[1][g0].is_none(),
        "group {g0} rests now: {schedule:?}"
    );
    for (r, row) in schedule.iter().enumerate().skip(1) {
        ensure!(
            !row.contains(&Some(x as u32)),
            "round {r} still sends a group to the absent expert: {schedule:?}"
        );
    }
    let plan = RotationPlan {
        schedule: schedule.clone(),
        ..plan
    };
    for c in citizens.iter_mut() {
        if plan.groups[g0].contains(&c.id()) {
            lands_in(c, seq, &plan.rest_room).await?;
        }
    }

    // The latecomer comes online and is added to group 1: straight into its room.
    let mut latecomer = Client::join(&url, "latecomer", &late.token).await?;
    ensure!(latecomer.room() == PLENARY_ID);
    let seq = fac
        .ok(Command::AddToGroup {
            participant: late.participant.clone(),
            group: Some(1),
        })
        .await?;
    let target = room_in_round(
        &RotationPlan {
            groups: {
                let mut g = plan.groups.clone();
                g[1].push(late.participant.clone());
                g
            },
            ..plan.clone()
        },
        &late.participant,
        1,
    )?;
    lands_in(&mut latecomer, seq, &target).await?;
    let mut plan = plan;
    plan.groups[1].push(late.participant.clone());

    // Questions: asked in an expert's room, answered by that expert.
    let h = (1..3)
        .find(|h| plan.schedule[1][*h].is_some())
        .context("a group with an expert in round 1")?;
    let y = plan.schedule[1][h].unwrap() as usize;
    let asker_id = plan.groups[h][0].clone();
    let asker = citizens
        .iter_mut()
        .find(|c| c.id() == asker_id)
        .context("the asker is connected")?;
    let question = "Combien coûte une ligne de tram au kilomètre ?";
    let q = asker
        .ok(Command::AskQuestion {
            text: question.into(),
        })
        .await?;
    let resting = citizens
        .iter_mut()
        .find(|c| plan.groups[g0].contains(&c.id()))
        .context("a resting citizen")?;
    let r = resting
        .request(Command::AskQuestion {
            text: "Et depuis la pause ?".into(),
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Conflict, _))),
        "a question from the break room: {r:?}"
    );
    let other = (0..3).find(|e| *e != y).unwrap();
    let r = experts[other]
        .request(Command::AnswerQuestion {
            question: q,
            text: "Pas ma salle".into(),
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "another expert answers: {r:?}"
    );
    let answer = "Entre 20 et 30 millions d'euros, selon les ouvrages.";
    experts[y]
        .ok(Command::AnswerQuestion {
            question: q,
            text: answer.into(),
        })
        .await?;

    // A citizen of group 2 drops; the round is skipped meanwhile; back, they land in the
    // group's new room at once.
    let g2 = 2;
    let i = citizens
        .iter()
        .position(|c| plan.groups[g2].contains(&c.id()))
        .context("a citizen of group 2")?;
    let dropped = citizens.remove(i);
    let dropped_name = dropped.name.clone();
    let dropped_id = dropped.id();
    dropped.close().await;
    let seq = fac.ok(Command::SkipRound).await?;
    let skipped = fac.wait_seq(seq).await?;
    ensure!(
        matches!(skipped.event, Event::RotationTransition { next: 2, .. }),
        "skip from round 1: {skipped:?}"
    );
    let r2 = next_rotation_event(&mut fac, Duration::from_secs(10), |e| {
        matches!(e, Event::RotationRoundStarted { round: 2, .. })
    })
    .await?;
    ensure!(r2.by == Actor::Timer);
    fac.ok(Command::ExtendRound { by_ms: 60_000 }).await?;
    let back = Client::join(&url, &dropped_name, &invite(&dropped_name).token).await?;
    let want = room_in_round(&plan, &dropped_id, 2)?;
    ensure!(
        back.room() == want,
        "{dropped_name} reconnects into {}, its group is in {want}",
        back.room()
    );
    citizens.push(back);

    // Round 2: everyone where the new schedule says; nobody with the absent expert.
    let snap = look(&server, &fac_token).await?;
    for id in plan.groups.iter().flatten().chain(plan.experts.iter()) {
        ensure!(
            room_in(&snap, id) == room_in_round(&plan, id, 2)?,
            "{id} in {} in round 2, planned {}",
            room_in(&snap, id),
            room_in_round(&plan, id, 2)?
        );
    }
    let with_absent: Vec<&str> = snap
        .participants
        .iter()
        .filter(|p| p.room == plan.rooms[x] && p.person.id != absent_id)
        .map(|p| p.person.id.as_str())
        .collect();
    ensure!(
        with_absent.is_empty(),
        "sent to the absent expert: {with_absent:?}"
    );

    // The organizer's export: the question with its answer, the absence.
    let r = server
        .http()
        .get(&format!("/api/conventions/{CONV}/rotation"))
        .send()
        .await?;
    ensure!(r.status() == 200, "GET rotation: {}", r.status());
    let body: serde_json::Value = r.json().await?;
    let view: RotationView = serde_json::from_value(body["rotation"].clone())?;
    ensure!(
        view.absent == vec![absent_id.clone()],
        "absent: {:?}",
        view.absent
    );
    ensure!(
        view.plan.schedule == plan.schedule,
        "the re-planned schedule"
    );
    ensure!(view.questions.len() == 1, "questions: {:?}", view.questions);
    let got = &view.questions[0];
    ensure!(
        got.id == q
            && got.room == plan.rooms[y]
            && got.from == asker_id
            && got.text == question
            && got.answer.as_deref() == Some(answer),
        "question as exported: {got:?}"
    );
    let names: BTreeMap<String, String> = serde_json::from_value(body["names"].clone())?;
    ensure!(names
        .get(&asker_id)
        .is_some_and(|n| n.starts_with("Citoyen")));
    // The same export as a spreadsheet, read back with calamine, and as CSV: each group
    // member's room in every round as the plan says, each expert's absence and groups, the
    // question with its answer and its author's name.
    let room_name = |id: &str| -> String {
        if id == PLENARY_ID {
            "Plénière".into()
        } else {
            snap.rooms
                .iter()
                .find(|r| r.id == id)
                .map_or_else(|| format!("<no room {id}>"), |r| r.name.clone())
        }
    };
    let r = server
        .http()
        .get(&format!(
            "/api/conventions/{CONV}/rotation?format=xlsx&lang=fr"
        ))
        .send()
        .await?;
    ensure!(r.status() == 200, "GET rotation xlsx: {}", r.status());
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(r.bytes().await?.to_vec()))?;
    ensure!(
        book.sheet_names() == ["Parcours", "Expert·es", "Questions"],
        "sheets: {:?}",
        book.sheet_names()
    );
    let cell = |r: &Range<Data>, row: usize, col: usize| match r.get((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Float(x)) => x.to_string(),
        Some(Data::Int(n)) => n.to_string(),
        Some(Data::Bool(b)) => b.to_string(),
        other => format!("{other:?}"),
    };
    let rounds = plan.schedule.len();
    let paths = book.worksheet_range("Parcours")?;
    let header: Vec<String> = (0..3 + rounds).map(|c| cell(&paths, 0, c)).collect();
    ensure!(
        header[..4] == ["Identifiant", "Nom", "Groupe", "Tour 1"],
        "header: {header:?}"
    );
    let members: usize = plan.groups.iter().map(Vec::len).sum();
    ensure!(paths.height() == 1 + members, "{} rows", paths.height());
    for row in 1..=members {
        let who = cell(&paths, row, 0);
        for round in 0..rounds {
            let want = room_name(&room_in_round(&plan, &who, round)?);
            ensure!(
                cell(&paths, row, 3 + round) == want,
                "{who}, round {round}: {} in the sheet, {want} planned",
                cell(&paths, row, 3 + round)
            );
        }
    }
    let experts_sheet = book.worksheet_range("Expert·es")?;
    for (e, expert) in plan.experts.iter().enumerate() {
        ensure!(cell(&experts_sheet, 1 + e, 0) == *expert);
        ensure!(cell(&experts_sheet, 1 + e, 3) == (*expert == absent_id).to_string());
    }
    let questions = book.worksheet_range("Questions")?;
    ensure!(
        cell(&questions, 1, 4) == names[&asker_id]
            && cell(&questions, 1, 5) == question
            && cell(&questions, 1, 6) == answer,
        "the question's row: {:?}",
        questions.rows().nth(1)
    );
    let csv = server
        .http()
        .get(&format!("/api/conventions/{CONV}/rotation?format=csv"))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.starts_with("# Parcours,\nparticipant,name,group,round_1,"),
        "csv: {}",
        &csv[..csv.len().min(200)]
    );
    ensure!(csv.contains(&format!(
        "\n# Questions,\nid,asked_at,room,expert,author,question,answer\n{q},"
    )));

    // Without the organizer's token: no.
    let anon = reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{CONV}/rotation")))
        .send()
        .await?;
    ensure!(anon.status() == 401, "anonymous export: {}", anon.status());

    // --- Stop: everyone back in the plenary.
    let seq = fac.ok(Command::StopRotation).await?;
    let stopped = fac.wait_seq(seq).await?;
    ensure!(matches!(
        stopped.event,
        Event::RotationEnded { stopped: true }
    ));
    for c in citizens
        .iter_mut()
        .chain(experts.iter_mut())
        .chain(std::iter::once(&mut latecomer))
    {
        lands_in(c, seq, PLENARY_ID).await?;
    }
    let snap = look(&server, &fac_token).await?;
    for p in &snap.participants {
        ensure!(
            p.room == PLENARY_ID,
            "{} in {} after the stop",
            p.person.name,
            p.room
        );
    }
    ensure!(
        matches!(
            snap.rotation.as_ref().map(|r| &r.phase),
            Some(RotationPhase::Finished { stopped: true })
        ),
        "finished: {:?}",
        snap.rotation.map(|r| r.phase)
    );
    Ok(())
}
