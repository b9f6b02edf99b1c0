//! PROTOCOL.md, exact (issue #16): behaviours a client written from the document alone must
//! get right, checked against the real server with real WebSocket clients. Each test names the
//! section it backs: several connections per invitation and presence per person (§2, §7);
//! who `floor_time` lists, and the `least_spoken` order citizens get only from snapshots (§2,
//! §10 `participant_added`, `queue_order_set`); `rooms_created` with an inside for staff only
//! (§10); offline assigned people moved at `breakouts_opened` (§10); rotation deadlines that
//! chain on the schedule, with no `rotation_transition` when `transition_ms` is 0 (§12); a
//! citizen's invitation on the audit export, never its token, and a cut export that `verify`
//! accepts unless a head was noted (§18).

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{
    Actor, AssignMethod, Assignment, Command, Event, Grouping, QueueOrder, Record, Role,
    RoomInside, ServerMessage, Snapshot, PLENARY_ID,
};
use convene_tests::{person, tempdir, Client, Server, WAIT};

/// Presence messages about `who` this client has read and not consumed.
fn presence_of(c: &Client, who: &str) -> Vec<bool> {
    c.inbox
        .iter()
        .filter_map(|m| match m {
            ServerMessage::Presence {
                participant,
                online,
            } if participant == who => Some(*online),
            _ => None,
        })
        .collect()
}

/// A point in every connection's stream: the facilitator broadcasts, and each client reads
/// up to that event. What the server sent a client before it is then in its inbox.
async fn sync(fac: &mut Client, others: &mut [&mut Client], what: &str) -> Result<()> {
    let seq = fac
        .ok(Command::Broadcast {
            text: format!("repère : {what}"),
        })
        .await?;
    fac.wait_seq(seq).await?;
    for c in others.iter_mut() {
        c.wait_seq(seq)
            .await
            .with_context(|| format!("{}: {what}", c.name))?;
    }
    Ok(())
}

fn snap(c: &Client) -> Result<&Snapshot> {
    c.snapshot.as_ref().context("no snapshot")
}

fn person_in<'a>(s: &'a Snapshot, who: &str) -> Result<&'a convene_tests::proto::ParticipantView> {
    s.participants
        .iter()
        .find(|p| p.person.id == who)
        .with_context(|| format!("{who} is not in the snapshot"))
}

/// §2 and §7: at most 4 connections per invitation, the oldest closed with 4011; presence is
/// the person's: only the first connection and the last one to close send `presence`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_connections_per_invitation_and_presence_per_person() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("connexions", &roster).await?;
    let (fac_token, token) = (invites[0].token.clone(), invites[1].token.clone());
    let who = invites[1].participant.clone();
    let url = server.ws_url();

    let mut fac = Client::join(&url, "claire", &fac_token).await?;
    // The first connection: the others learn that Yannick is online.
    let mut first = Client::join(&url, "yannick-1", &token).await?;
    fac.wait_for(|m| {
        matches!(m, ServerMessage::Presence { participant, online: true } if *participant == who)
    })
    .await?;
    ensure!(
        person_in(snap(&first)?, &who)?.online,
        "the first welcome shows its own person online"
    );

    // A second connection: welcomed, shown online, and no presence for anyone.
    fac.inbox.clear();
    first.inbox.clear();
    let mut second = Client::join(&url, "yannick-2", &token).await?;
    ensure!(person_in(snap(&second)?, &who)?.online, "second welcome");
    sync(&mut fac, &mut [&mut first, &mut second], "two connections").await?;
    for c in [&fac, &first, &second] {
        ensure!(
            presence_of(c, &who).is_empty(),
            "{}: a second connection sent presence {:?}",
            c.name,
            presence_of(c, &who)
        );
    }
    // Replies go to the connection that asked; events to every connection of the person.
    let seq = second
        .request_with_id("main-levee-1", Command::RaiseHand { room: None })
        .await?
        .map_err(|e| anyhow::anyhow!("raise_hand refused: {e:?}"))?;
    first.wait_seq(seq).await?;
    sync(&mut fac, &mut [&mut first, &mut second], "hand raised").await?;
    ensure!(
        !first
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::Ok { .. })),
        "the reply went to the other connection too"
    );
    // The retry window is the person's: the same id on another connection is a retry,
    // answered with the original seq, not run (run, it would have a seq of its own).
    let again = first
        .request_with_id("main-levee-1", Command::LowerHand)
        .await?;
    ensure!(
        again == Ok(seq),
        "a retry from another connection: {again:?}"
    );

    // Three more: the fifth pushes the oldest out with 4011, still without presence.
    fac.inbox.clear();
    let mut third = Client::join(&url, "yannick-3", &token).await?;
    let mut fourth = Client::join(&url, "yannick-4", &token).await?;
    ensure!(
        first.closed.is_none(),
        "four connections are allowed: the first is still open"
    );
    let mut fifth = Client::join(&url, "yannick-5", &token).await?;
    let code = first.wait_closed(WAIT).await?;
    ensure!(
        code == Some(convene_tests::proto::close::TOO_MANY_CONNECTIONS),
        "the oldest connection is closed with 4011, not {code:?}"
    );
    sync(
        &mut fac,
        &mut [&mut second, &mut third, &mut fourth, &mut fifth],
        "five connections, four kept",
    )
    .await?;
    ensure!(
        presence_of(&fac, &who).is_empty(),
        "more connections, or the eviction of one, sent presence {:?}",
        presence_of(&fac, &who)
    );

    // Closing all but one: still online, nothing sent.
    fac.inbox.clear();
    second.close().await;
    third.close().await;
    fourth.close().await;
    let mut waited = 0;
    while server.metric("convene_connections").await? != 2 {
        ensure!(
            waited < 200,
            "the three closed connections are still counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    sync(&mut fac, &mut [&mut fifth], "one connection left").await?;
    ensure!(
        presence_of(&fac, &who).is_empty() && presence_of(&fifth, &who).is_empty(),
        "closing some of the connections sent presence {:?}",
        presence_of(&fac, &who)
    );

    // The last one closes: offline.
    fifth.close().await;
    fac.wait_for(|m| {
        matches!(m, ServerMessage::Presence { participant, online: false } if *participant == who)
    })
    .await
    .context("the last connection closed: presence online false")?;
    Ok(())
}

/// §2 and §10 `participant_added`, `queue_order_set`: `floor_time` lists every non-guarantor
/// from their `participant_added` on, with the sum of their `floor_ended`; citizens get no
/// `floor_time`, and the `least_spoken` order only in their snapshots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_time_lists_every_non_guarantor_and_citizens_get_the_order_from_snapshots(
) -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Hélène Garnier", &[Role::Guarantor], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Fatima Benali", &[Role::Citizen], &[]),
        person("Marc Lefèvre", &[Role::Expert], &[]),
    ];
    let invites = server.http().convention("temps-de-parole", &roster).await?;
    let token = |i: usize| invites[i].token.clone();
    let id = |i: usize| invites[i].participant.clone();
    let url = server.ws_url();

    let check_floor_time = |s: &Snapshot, expected: &[(String, u64)], when: &str| -> Result<()> {
        let got: Vec<(String, u64)> = s
            .floor_time
            .as_ref()
            .context("staff have floor_time")?
            .iter()
            .map(|f| (f.participant.clone(), f.spoken_ms))
            .collect();
        ensure!(
            got == expected,
            "{when}: floor_time {got:?}, expected {expected:?}"
        );
        Ok(())
    };

    // Before anyone spoke: every non-guarantor, facilitator and expert included, with 0.
    let mut fac = Client::join(&url, "claire", &token(0)).await?;
    let mut expected: Vec<(String, u64)> = [0, 2, 3, 4].iter().map(|&i| (id(i), 0)).collect();
    check_floor_time(snap(&fac)?, &expected, "at first")?;
    let guarantor = Client::join(&url, "helene", &token(1)).await?;
    check_floor_time(snap(&guarantor)?, &expected, "the guarantor's")?;
    guarantor.close().await;
    let mut yannick = Client::join(&url, "yannick", &token(2)).await?;
    ensure!(
        snap(&yannick)?.floor_time.is_none(),
        "citizens get no floor_time"
    );

    // An entry appears at participant_added, not at the first turn.
    let added = server
        .http()
        .post("/api/conventions/temps-de-parole/roster")
        .json(&[person("Bernard Guérin", &[Role::Citizen], &[])])
        .send()
        .await?;
    ensure!(added.status() == 201, "roster import: {}", added.status());
    let record = fac.wait_event("participant_added").await?;
    let Event::ParticipantAdded { person: bernard } = record.event else {
        unreachable!()
    };
    expected.push((bernard.id.clone(), 0));
    let again = Client::join(&url, "claire-2", &token(0)).await?;
    check_floor_time(snap(&again)?, &expected, "after participant_added")?;
    again.close().await;

    // A turn counts once it ends, with its floor_ended's spoken_ms.
    fac.ok(Command::GiveFloor {
        room: None,
        participant: Some(id(2)),
        limit_ms: None,
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(30)).await;
    let seq = fac.ok(Command::EndFloor { room: None }).await?;
    let Event::FloorEnded { spoken_ms, .. } = fac.wait_seq(seq).await?.event else {
        bail!("{seq} is not floor_ended")
    };
    ensure!(spoken_ms >= 30, "spoken {spoken_ms} ms");
    expected[1].1 = spoken_ms;
    let again = Client::join(&url, "claire-3", &token(0)).await?;
    check_floor_time(snap(&again)?, &expected, "after floor_ended")?;
    again.close().await;

    // Yannick (who spoke) raises his hand before Fatima (who did not); least_spoken puts
    // Fatima first. A connected citizen gets the event, and no new order.
    let mut fatima = Client::join(&url, "fatima", &token(3)).await?;
    yannick.ok(Command::RaiseHand { room: None }).await?;
    fatima.ok(Command::RaiseHand { room: None }).await?;
    yannick.inbox.clear();
    let seq = fac
        .ok(Command::SetQueueOrder {
            room: None,
            order: QueueOrder::LeastSpoken,
        })
        .await?;
    yannick.wait_seq(seq).await?;
    sync(&mut fac, &mut [&mut yannick, &mut fatima], "order set").await?;
    ensure!(
        !yannick
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::Snapshot { .. })),
        "no snapshot follows queue_order_set"
    );
    let plenary = |s: &Snapshot| -> Result<RoomInside> {
        s.rooms
            .iter()
            .find(|r| r.id == PLENARY_ID)
            .and_then(|r| r.inside.clone())
            .context("the plenary's inside")
    };
    let back = Client::join(&url, "yannick-2", &token(2)).await?;
    let inside = plenary(snap(&back)?)?;
    let raised: Vec<String> = inside.queue.iter().map(|q| q.participant.clone()).collect();
    ensure!(
        raised == [id(2), id(3)],
        "queue in order of raising: {raised:?}"
    );
    ensure!(
        inside.queue_in_order == [id(3), id(2)],
        "a citizen's snapshot gives the least_spoken order: {:?}",
        inside.queue_in_order
    );
    ensure!(
        snap(&back)?.floor_time.is_none(),
        "still no floor_time for citizens"
    );
    // The first of that order is who give_floor without a participant picks.
    let seq = fac
        .ok(Command::GiveFloor {
            room: None,
            participant: None,
            limit_ms: None,
        })
        .await?;
    let Event::FloorGiven { participant, .. } = fac.wait_seq(seq).await?.event else {
        bail!("{seq} is not floor_given")
    };
    ensure!(participant == id(3), "the floor went to {participant}");
    Ok(())
}

/// §10 `rooms_created` and `breakouts_opened`: new rooms carry an empty inside for staff only;
/// assigned people are moved at the opening even offline, without `participant_moved`; only
/// online movers get a snapshot, and an offline one finds their room in their welcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_created_and_breakouts_opened_with_someone_offline() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Fatima Benali", &[Role::Citizen], &[]),
        person("Bernard Guérin", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("salles", &roster).await?;
    let token = |i: usize| invites[i].token.clone();
    let id = |i: usize| invites[i].participant.clone();
    let url = server.ws_url();

    let mut fac = Client::join(&url, "claire", &token(0)).await?;
    let mut yannick = Client::join(&url, "yannick", &token(1)).await?;
    let mut bernard = Client::join(&url, "bernard", &token(3)).await?;

    // rooms_created: an empty inside for staff, none for the others.
    let seq = fac
        .ok(Command::CreateRooms {
            count: Some(2),
            names: vec![],
        })
        .await?;
    let Event::RoomsCreated { rooms } = yannick.wait_seq(seq).await?.event else {
        bail!("{seq} is not rooms_created")
    };
    let ids: Vec<String> = rooms.iter().map(|r| r.id.clone()).collect();
    let empty = RoomInside {
        chat: vec![],
        queue: vec![],
        queue_in_order: vec![],
        order: QueueOrder::Raised,
        limit_ms: None,
        floor: None,
    };
    let staff = Client::join(&url, "claire-2", &token(0)).await?;
    let citizen = Client::join(&url, "yannick-2", &token(1)).await?;
    for r in &ids {
        let s = snap(&staff)?
            .rooms
            .iter()
            .find(|x| x.id == *r)
            .context("room")?;
        ensure!(
            s.inside.as_ref() == Some(&empty) && s.observers == 0,
            "staff see {r} empty inside: {s:?}"
        );
        let c = snap(&citizen)?
            .rooms
            .iter()
            .find(|x| x.id == *r)
            .context("room")?;
        ensure!(
            c.inside.is_none() && c.observers == 0,
            "a citizen sees {r} without inside: {c:?}"
        );
    }
    staff.close().await;
    citizen.close().await;

    // Fatima (offline, never connected) and Yannick are assigned; Bernard is not.
    fac.ok(Command::AssignRooms {
        method: AssignMethod::Manual {
            assignments: vec![
                Assignment {
                    participant: id(1),
                    room: ids[0].clone(),
                },
                Assignment {
                    participant: id(2),
                    room: ids[1].clone(),
                },
            ],
        },
        participants: None,
        only_present: false,
    })
    .await?;
    for c in [&mut fac, &mut yannick, &mut bernard] {
        c.inbox.clear();
    }
    let opened = fac
        .ok(Command::OpenBreakouts {
            duration_ms: 3_600_000,
            warning_ms: 60_000,
        })
        .await?;
    // Yannick moved: the event, then a snapshot showing both moves.
    yannick.wait_seq(opened).await?;
    let ServerMessage::Snapshot { snapshot, .. } = yannick
        .wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
        .await?
    else {
        unreachable!()
    };
    ensure!(
        snapshot.seq >= opened,
        "the snapshot is at or after the event"
    );
    ensure!(
        person_in(&snapshot, &id(1))?.room == ids[0],
        "Yannick is in his room"
    );
    let fatima_seen = person_in(&snapshot, &id(2))?;
    ensure!(
        fatima_seen.room == ids[1] && !fatima_seen.online,
        "offline Fatima is in her room too: {fatima_seen:?}"
    );
    // The others: the event only, no participant_moved, no snapshot.
    sync(&mut fac, &mut [&mut bernard], "opened").await?;
    for c in [&fac, &bernard] {
        ensure!(
            !c.inbox.iter().any(|m| match m {
                ServerMessage::Snapshot { .. } => true,
                ServerMessage::Event { record } =>
                    matches!(record.event, Event::ParticipantMoved { .. }),
                _ => false,
            }),
            "{}: a snapshot or participant_moved at breakouts_opened",
            c.name
        );
        ensure!(
            c.events.iter().any(|r| r.seq == opened),
            "{}: breakouts_opened received",
            c.name
        );
    }
    // As a fresh snapshot says: Fatima in her room though offline, Bernard where he was.
    let staff = Client::join(&url, "claire-3", &token(0)).await?;
    let fatima_seen = person_in(snap(&staff)?, &id(2))?;
    ensure!(
        fatima_seen.room == ids[1] && !fatima_seen.online,
        "staff see offline Fatima in her room: {fatima_seen:?}"
    );
    ensure!(
        person_in(snap(&staff)?, &id(3))?.room == PLENARY_ID,
        "Bernard, not assigned, stays in the plenary"
    );
    staff.close().await;

    // Fatima arrives: her welcome puts her in her room, with its inside.
    let fatima = Client::join(&url, "fatima", &token(2)).await?;
    let s = snap(&fatima)?;
    let me = person_in(s, &id(2))?;
    ensure!(
        me.room == ids[1] && me.assigned.as_deref() == Some(ids[1].as_str()),
        "Fatima's welcome: {me:?}"
    );
    for r in &s.rooms {
        ensure!(
            r.inside.is_some() == (r.id == ids[1]),
            "Fatima sees the inside of her room only: {} {:?}",
            r.id,
            r.inside
        );
    }
    Ok(())
}

/// The rotation events a client received, in order.
async fn rotation_events(fac: &mut Client) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    loop {
        let m = fac
            .wait_for_within(Duration::from_secs(20), |m| {
                matches!(m, ServerMessage::Event { record } if matches!(
                    record.event,
                    Event::RotationRoundStarted { .. }
                        | Event::RotationTransition { .. }
                        | Event::RotationWarned
                        | Event::RotationEnded { .. }
                ))
            })
            .await?;
        let ServerMessage::Event { record } = m else {
            unreachable!()
        };
        let end = matches!(record.event, Event::RotationEnded { .. });
        out.push(record);
        if end {
            return Ok(out);
        }
    }
}

/// §12: deadlines chain on the schedule: `starts_at` is the ended round's `ends_at` plus the
/// transition, a round runs `round_ms` from the deadline before it; with `transition_ms: 0`
/// there is no `rotation_transition`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_deadlines_chain_on_the_schedule() -> Result<()> {
    const ROUND_MS: u64 = 700;
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Marc Lefèvre", &[Role::Expert], &[]),
        person("Amina Diallo", &[Role::Expert], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Fatima Benali", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("rotation-exacte", &roster).await?;
    let id = |i: usize| invites[i].participant.clone();
    let mut fac = Client::join(&server.ws_url(), "claire", &invites[0].token).await?;

    for transition_ms in [0, 300] {
        fac.ok(Command::PlanRotation {
            experts: vec![id(1), id(2)],
            grouping: Grouping::Manual {
                groups: vec![vec![id(3)], vec![id(4)]],
            },
            group_count: None,
            group_size: None,
            participants: None,
            only_present: false,
            round_ms: ROUND_MS,
            transition_ms,
            warning_ms: 200,
            rounds: None,
            break_room: false,
        })
        .await?;
        fac.ok(Command::StartRotation).await?;
        let events = rotation_events(&mut fac).await?;
        let kinds: Vec<String> = events
            .iter()
            .map(|r| convene_tests::event_type(&r.event))
            .collect();
        let mut deadline: Option<u64> = None;
        let mut rounds = 0;
        for r in &events {
            match &r.event {
                Event::RotationRoundStarted {
                    round,
                    ends_at,
                    warn_at,
                } => {
                    let start = match (deadline, &r.by) {
                        (None, Actor::Participant(_)) => r.at,
                        (Some(d), Actor::Timer) => d,
                        other => bail!("round {round} started by {other:?}: {kinds:?}"),
                    };
                    ensure!(
                        *ends_at == start + ROUND_MS && *warn_at == ends_at - 200,
                        "round {round} (transition {transition_ms}) runs from {start}: \
                         ends_at {ends_at}, warn_at {warn_at}; its event at {}",
                        r.at
                    );
                    deadline = Some(*ends_at);
                    rounds += 1;
                }
                Event::RotationTransition { starts_at, .. } => {
                    let ended = deadline.context("a transition before any round")?;
                    ensure!(
                        transition_ms > 0,
                        "transition_ms 0 sent a rotation_transition: {kinds:?}"
                    );
                    ensure!(
                        r.by == Actor::Timer && *starts_at == ended + transition_ms,
                        "starts_at {starts_at} counts from the round's end {ended}, \
                         not from the event at {}",
                        r.at
                    );
                    deadline = Some(*starts_at);
                }
                Event::RotationWarned | Event::RotationEnded { .. } => {}
                _ => unreachable!(),
            }
        }
        ensure!(rounds == 2, "two rounds: {kinds:?}");
        let transitions = kinds.iter().filter(|k| *k == "rotation_transition").count();
        ensure!(
            transitions == usize::from(transition_ms > 0),
            "transition_ms {transition_ms}: {kinds:?}"
        );
    }
    Ok(())
}

/// §18: on the audit export a citizen's invitation is `invite_issued` / `invite_revoked` with
/// only the participant (the last one says which holds), never the token nor its hash; an
/// export cut short still verifies, unless checked against a head noted later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_on_the_audit_export_and_a_cut_export() -> Result<()> {
    use convene::audit::{verify, verify_with_head, Head, VerifyError};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
    ];
    let conv = "invitations-au-registre";
    let invites = server.http().convention(conv, &roster).await?;
    let who = invites[1].participant.clone();
    let old = invites[1].token.clone();

    // Revoked, then issued again: the old token is refused (4002), the new one works.
    let r = server
        .http()
        .delete(&format!("/api/conventions/{conv}/invites/{who}"))
        .send()
        .await?;
    ensure!(r.status() == 204, "revoke: {}", r.status());
    let r = server
        .http()
        .post(&format!("/api/conventions/{conv}/invites"))
        .send()
        .await?;
    ensure!(r.status() == 201, "issue again: {}", r.status());
    let again: Vec<convene_tests::proto::api::Invite> = r.json().await?;
    let new = again
        .iter()
        .find(|i| i.participant == who)
        .context("a new invitation")?
        .token
        .clone();
    let mut refused = Client::open(&server.ws_url(), "yannick-old").await?;
    refused
        .send(&convene_tests::proto::ClientMessage::Hello {
            protocol: convene_tests::proto::PROTOCOL_VERSION,
            token: old.clone(),
            last_seq: None,
        })
        .await?;
    let code = refused.wait_closed(WAIT).await?;
    ensure!(
        code == Some(convene_tests::proto::close::REVOKED),
        "old token: {code:?}"
    );
    Client::join(&server.ws_url(), "yannick-new", &new).await?;

    let body = server
        .http()
        .get(&format!("/api/conventions/{conv}/audit"))
        .send()
        .await?
        .text()
        .await?;
    for token in [&old, &new] {
        let secret = &token[conv.len() + 1..];
        let hash = convene::gateway::hash_token(token);
        ensure!(
            !body.contains(secret) && !body.contains(&hash),
            "the trail holds a token or its hash"
        );
    }
    let entries: Vec<convene_tests::proto::AuditEntry> = body
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mine: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e.event["participant"] == who.as_str())
        .map(|e| &e.event)
        .collect();
    let shown = |ty: &str| serde_json::json!({ "type": ty, "participant": who });
    ensure!(
        mine == [
            &shown("invite_issued"),
            &shown("invite_revoked"),
            &shown("invite_issued")
        ],
        "the citizen's invitation on the trail: {mine:?}"
    );
    ensure!(
        entries
            .iter()
            .filter(|e| e.event["participant"] == who.as_str())
            .all(|e| e.by == Actor::Organizer),
        "invitations are the organizer's acts"
    );

    // The whole export verifies; so does the same export cut short, unless checked against
    // the head of the whole one.
    let n = verify(body.as_bytes())?;
    ensure!(n == entries.len() as u64 && n > 3, "{n} entries");
    let cut: String = body.lines().take(3).map(|l| format!("{l}\n")).collect();
    ensure!(verify(cut.as_bytes())? == 3, "a cut export verifies alone");
    let head = Head {
        n,
        hash: entries[entries.len() - 1].hash.clone(),
    };
    ensure!(
        matches!(
            verify_with_head(cut.as_bytes(), Some(&head)),
            Err(VerifyError::HeadMissing { .. })
        ),
        "a noted head tells a cut export"
    );
    Ok(())
}
