//! Protocol version 2 (PROTOCOL.md section 25): a citizen's welcome stays small whatever the
//! roster's size, the roster is fetched by version (a reconnecting client fetches only what
//! changed), presence is coalesced per tick and loses no final state, a move sends the room.
//! Version 1 clients, on the same convention, keep what they had.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{
    self, ClientMessage, Command, Role, ServerMessage, PRESENCE_TICK_MS, PROTOCOL_V2,
};
use convene_tests::v2::{fresh, Follower};
use convene_tests::{person, tempdir, Client, Server};

fn encoded(m: &ServerMessage) -> usize {
    serde_json::to_string(m).map(|s| s.len()).unwrap_or(0)
}

/// The roster: a facilitator, a guarantor, an expert, then `citizens` citizens with
/// attributes.
fn roster(citizens: usize) -> Vec<proto::api::RosterEntry> {
    let mut r = vec![
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Gérard Garant", &[Role::Guarantor], &[]),
        person("Eva Experte", &[Role::Expert], &[]),
    ];
    for i in 0..citizens {
        let commune = if i % 2 == 0 { "Rezé" } else { "Nantes" };
        r.push(person(
            &format!("Citoyen·ne {i:05}"),
            &[Role::Citizen],
            &[("commune", commune), ("tranche_age", "35-49")],
        ));
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizens_welcome_stays_small_with_five_thousand_people() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("grande", &roster(4_997)).await?;
    ensure!(invites.len() == 5_000, "5,000 invitations");
    let url = server.ws_url();

    // Version 1 sends the whole roster in the welcome: this is what version 2 avoids.
    let mut v1 = Client::join(&url, "v1", &invites[10].token).await?;
    let w1 = v1.take_welcome().context("v1 welcome")?;
    ensure!(
        encoded(&w1) > 500_000,
        "a v1 welcome carries the roster: {} bytes",
        encoded(&w1)
    );
    ensure!(v1
        .snapshot
        .as_ref()
        .is_some_and(|s| s.participants.len() == 5_000));

    // Version 2: under 16 KiB, with the roster's version and size.
    let mut cit = Client::join_with(&url, "v2", &invites[11].token, PROTOCOL_V2, None).await?;
    let w2 = cit.take_welcome().context("v2 welcome")?;
    let bytes = encoded(&w2);
    ensure!(bytes < 16 * 1024, "a citizen's v2 welcome is {bytes} bytes");
    let ServerMessage::Welcome {
        protocol, snapshot, ..
    } = &w2
    else {
        unreachable!()
    };
    ensure!(*protocol == PROTOCOL_V2, "the welcome says protocol 2");
    ensure!(snapshot.participants.is_empty(), "no participants in v2");
    let info = snapshot.roster.clone().context("roster info")?;
    ensure!(info.count == 5_000, "roster count {}", info.count);
    let presence = snapshot.presence.clone().context("presence")?;
    // The plenary is large: the citizen sees herself and the notable people, and counts.
    let me = cit.id();
    ensure!(
        presence
            .people
            .iter()
            .any(|s| s.participant == me && s.online),
        "herself, online"
    );
    ensure!(
        presence.people.len() <= 4,
        "in a large room: herself and the three staff and expert, not {}",
        presence.people.len()
    );
    let plenary = &presence.rooms[0];
    ensure!(
        plenary.room == proto::PLENARY_ID && plenary.members == 5_000 && plenary.online == 2,
        "plenary counts {plenary:?}"
    );

    // The roster on request: everyone, without attributes for a citizen.
    cit.send(&ClientMessage::GetRoster { version: None })
        .await?;
    let r = cit
        .wait_for(|m| matches!(m, ServerMessage::Roster { .. }))
        .await?;
    let ServerMessage::Roster {
        version,
        count,
        people,
    } = &r
    else {
        unreachable!()
    };
    ensure!(*version == info.version && *count == 5_000 && people.len() == 5_000);
    ensure!(
        people.iter().all(|p| p.attributes.is_empty()),
        "a citizen's roster has no attributes"
    );
    // Her current version: nothing to fetch.
    cit.send(&ClientMessage::GetRoster {
        version: Some(info.version),
    })
    .await?;
    let nm = cit
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::NotModified { .. } | ServerMessage::Roster { .. }
            )
        })
        .await?;
    ensure!(
        matches!(&nm, ServerMessage::NotModified { resource, version } if resource == "roster" && *version == info.version),
        "current version: not_modified, got {nm:?}"
    );

    // The facilitator's roster carries the attributes.
    let mut fac = Client::join_with(&url, "fac", &invites[0].token, PROTOCOL_V2, None).await?;
    let wf = fac.take_welcome().context("fac welcome")?;
    let ServerMessage::Welcome { snapshot, .. } = &wf else {
        unreachable!()
    };
    ensure!(
        snapshot
            .presence
            .as_ref()
            .is_some_and(|p| p.people.len() == 5_000),
        "staff see everyone's presence"
    );
    fac.send(&ClientMessage::GetRoster { version: Some(1) })
        .await?;
    let r = fac
        .wait_for(|m| matches!(m, ServerMessage::Roster { .. }))
        .await?;
    let ServerMessage::Roster { people, .. } = &r else {
        unreachable!()
    };
    ensure!(
        people
            .iter()
            .filter(|p| p.attributes.contains_key("commune"))
            .count()
            == 4_997,
        "staff see the attributes"
    );

    // Ten times the budget of one message's size does not apply to get_roster (it has no
    // input): a flood of get_roster is rate limited like any frame, the others unharmed.
    for _ in 0..60 {
        cit.send(&ClientMessage::GetRoster {
            version: Some(info.version),
        })
        .await?;
    }
    let limited = cit
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::Error {
                    code: proto::ErrorCode::RateLimited,
                    ..
                }
            )
        })
        .await;
    ensure!(limited.is_ok(), "a get_roster flood is rate limited");
    v1.ok(Command::SendChat {
        room: None,
        text: "toujours là".into(),
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_client_fetches_only_changed_resources() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("retour", &roster(20)).await?;
    let url = server.ws_url();
    let token = invites[5].token.clone();

    let f = Follower::join(&url, "cit", &token).await?;
    let version = f.view.roster_version.context("fetched")?;
    let last_seq = f.view.seq;
    f.client.close().await;

    // Back, nothing changed: the welcome names the same version, get_roster says so.
    let mut c = Client::join_with(&url, "cit", &token, PROTOCOL_V2, Some(last_seq)).await?;
    let seen = c.snapshot.as_ref().and_then(|s| s.roster.clone());
    ensure!(seen.as_ref().map(|r| r.version) == Some(version));
    c.send(&ClientMessage::GetRoster {
        version: Some(version),
    })
    .await?;
    let m = c
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::NotModified { .. } | ServerMessage::Roster { .. }
            )
        })
        .await?;
    ensure!(
        matches!(m, ServerMessage::NotModified { .. }),
        "unchanged roster: not_modified, got {m:?}"
    );
    c.close().await;

    // Someone joins the roster meanwhile: the version changes, the roster comes again.
    let r = server
        .http()
        .post("/api/conventions/retour/roster")
        .json(&[person("Nouvelle Venue", &[Role::Citizen], &[])])
        .send()
        .await?;
    ensure!(r.status() == 201, "roster add: {}", r.status());
    let mut c = Client::join_with(&url, "cit", &token, PROTOCOL_V2, Some(last_seq)).await?;
    let now = c
        .snapshot
        .as_ref()
        .and_then(|s| s.roster.clone())
        .context("roster info")?;
    ensure!(
        now.version != version && now.count == 24,
        "new version {now:?}"
    );
    c.send(&ClientMessage::GetRoster {
        version: Some(version),
    })
    .await?;
    let m = c
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::NotModified { .. } | ServerMessage::Roster { .. }
            )
        })
        .await?;
    ensure!(
        matches!(&m, ServerMessage::Roster { people, version, .. } if people.len() == 24 && *version == now.version
            && people.iter().any(|p| p.name == "Nouvelle Venue")),
        "a changed roster comes whole: {m:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalesced_presence_loses_no_final_state() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("presence", &roster(40)).await?;
    let url = server.ws_url();

    // Followers: a facilitator (sees everyone) and a citizen (the plenary is small: 43).
    let mut fac = Follower::join(&url, "fac", &invites[0].token).await?;
    let mut cit = Follower::join(&url, "cit", &invites[3].token).await?;
    let mut v1 = Client::join(&url, "v1", &invites[4].token).await?;
    fac.settle(Duration::from_millis(600)).await;
    cit.settle(Duration::from_millis(600)).await;
    let (fac_before, cit_before) = (fac.batches, cit.batches);

    // Many joins and leaves, in both protocols, some several times.
    let started = Instant::now();
    let mut kept = Vec::new();
    for (k, invite) in invites[5..35].iter().enumerate() {
        let c = if k % 2 == 0 {
            Client::join(&url, "x", &invite.token).await?
        } else {
            Client::join_with(&url, "x", &invite.token, PROTOCOL_V2, None).await?
        };
        if k % 3 == 0 {
            c.close().await;
        } else {
            kept.push(c);
        }
    }
    // One comes back after leaving, one leaves after coming back.
    let again = Client::join(&url, "again", &invites[5].token).await?;
    kept.pop().context("one")?.close().await;
    let elapsed = started.elapsed();
    fac.settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    cit.settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    let total = started.elapsed();

    // The final state: what a fresh connection sees.
    let fresh_fac = fresh(&url, &invites[0].token).await?;
    let fresh_cit = fresh(&url, &invites[3].token).await?;
    ensure!(
        fac.view.comparable() == fresh_fac.comparable(),
        "the facilitator's coalesced view differs from a fresh one:\n{:?}\n{:?}",
        fac.view.people,
        fresh_fac.people
    );
    ensure!(
        cit.view.comparable() == fresh_cit.comparable(),
        "the citizen's coalesced view differs from a fresh one:\n{:?}\n{:?}",
        cit.view.people,
        fresh_cit.people
    );
    let online = fac.view.people.values().filter(|s| s.online).count();
    ensure!(
        online == 3 + kept.len() + 1,
        "online: {online}, expected {}",
        3 + kept.len() + 1
    );
    // At most one batch per tick (plus the tick under way at each end), whatever the pace.
    let ticks = (total.as_millis() as usize) / PRESENCE_TICK_MS as usize + 2;
    for (who, n) in [
        ("fac", fac.batches - fac_before),
        ("cit", cit.batches - cit_before),
    ] {
        ensure!(n >= 1, "{who}: at least one batch");
        ensure!(
            n <= ticks,
            "{who}: {n} batches in {total:?} ({ticks} ticks; joins took {elapsed:?})"
        );
    }
    // The v1 client heard each change as its own `presence` message.
    let mut v1_presence = 0;
    v1.drain(Duration::from_millis(300)).await;
    for m in &v1.inbox {
        if matches!(m, ServerMessage::Presence { .. }) {
            v1_presence += 1;
        }
        ensure!(
            !matches!(m, ServerMessage::PresenceBatch { .. }),
            "no batch to a v1 client"
        );
    }
    ensure!(v1_presence >= 30, "v1 presence messages: {v1_presence}");

    // Nothing to a connection whose view did not change: a chat line moves nobody.
    let before = cit.batches;
    fac.ok(Command::SendChat {
        room: None,
        text: "rien ne bouge".into(),
    })
    .await?;
    cit.settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    ensure!(cit.batches == before, "no presence batch for a chat line");
    drop(again);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_sends_the_room_not_the_world() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("salle", &roster(8)).await?;
    let url = server.ws_url();
    let mut fac = Follower::join(&url, "fac", &invites[0].token).await?;
    let mut cit = Follower::join(&url, "cit", &invites[3].token).await?;
    let mut old = Client::join(&url, "v1", &invites[4].token).await?;
    let (me, old_id) = (cit.view.me.clone(), old.id());
    fac.ok(Command::CreateRooms {
        count: Some(2),
        names: vec![],
    })
    .await?;
    for (who, room) in [(&me, "r1"), (&old_id, "r1")] {
        fac.ok(Command::MoveParticipant {
            participant: who.clone(),
            room: room.into(),
        })
        .await?;
    }
    cit.read_until(|m| matches!(m, ServerMessage::RoomView { .. }))
        .await?;
    ensure!(
        cit.view.room() == Some("r1"),
        "the room view puts her in r1"
    );
    ensure!(
        !cit.client
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::Snapshot { .. })),
        "no snapshot to a v2 client"
    );
    // The other mover arrives in the next presence batch.
    cit.settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    ensure!(
        cit.view.people.get(&old_id).is_some_and(|s| s.room == "r1"),
        "the members of the new room are in its view"
    );
    // The v1 client still gets a snapshot.
    old.wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
        .await?;
    ensure!(old.room() == "r1");
    // The room's life goes on in the view, and matches a fresh welcome.
    cit.ok(Command::SendChat {
        room: None,
        text: "bonjour la salle".into(),
    })
    .await?;
    cit.ok(Command::RaiseHand { room: None }).await?;
    cit.settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    let f = fresh(&url, &invites[3].token).await?;
    ensure!(
        cit.view.comparable() == f.comparable(),
        "after a move:\n{:?}\n{:?}",
        cit.view,
        f
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tallies_are_coalesced_per_poll_and_exact_at_close() -> Result<()> {
    use convene_tests::poll_spec;
    use proto::{Ballot, Event, PollKind, TALLIES_PER_SECOND};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("scrutin", &roster(30)).await?;
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &invites[0].token).await?;
    let mut watcher =
        Client::join_with(&url, "watch", &invites[3].token, PROTOCOL_V2, None).await?;
    let mut voters = Vec::new();
    for (k, i) in invites[4..33].iter().enumerate() {
        voters.push(Client::join(&url, &format!("v{k}"), &i.token).await?);
    }
    let spec = poll_spec(
        "Des bus de nuit le week-end ?",
        PollKind::Single {
            options: vec!["oui".into(), "non".into()],
        },
        false,
        true,
    );
    let (poll, _) = fac.draft_and_open(spec).await?;
    watcher.drain(Duration::from_millis(600)).await;
    watcher.inbox.clear();
    fac.drain(Duration::from_millis(600)).await;
    fac.inbox.clear();

    // One ballot after another: each its own batch (a tally each, without coalescing).
    let started = Instant::now();
    for (k, v) in voters.iter_mut().enumerate() {
        v.ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Single {
                choice: (k % 3 == 0) as u32,
            },
        })
        .await?;
    }
    // The last state follows within one period.
    let period = Duration::from_millis(1000 / TALLIES_PER_SECOND);
    watcher.drain(period * 3).await;
    fac.drain(period * 3).await;
    let elapsed = started.elapsed();
    let tallies = |c: &Client| -> Vec<proto::Tally> {
        c.inbox
            .iter()
            .filter_map(|m| match m {
                ServerMessage::PollTally {
                    poll: p,
                    tally: Some(t),
                    ..
                } if *p == poll => Some(t.clone()),
                _ => None,
            })
            .collect()
    };
    let bound = (elapsed.as_millis() as usize) * TALLIES_PER_SECOND as usize / 1000 + 2;
    for (who, c) in [("citizen", &watcher), ("facilitator", &fac)] {
        let seen = tallies(c);
        ensure!(
            !seen.is_empty() && seen.len() <= bound,
            "{who}: {} tallies in {elapsed:?} (at most {bound}) for 29 ballots",
            seen.len()
        );
        let last = seen.last().context("a tally")?;
        ensure!(
            last.ballots == 29 && last.counts == vec![19, 10],
            "{who}: the last live tally is the final state: {last:?}"
        );
    }
    // The close carries the exact tally.
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let closed = watcher.wait_seq(seq).await?;
    ensure!(
        matches!(&closed.event, Event::PollClosed { tally: Some(t), .. } if t.ballots == 29 && t.counts == vec![19, 10]),
        "poll_closed carries the exact tally: {closed:?}"
    );
    Ok(())
}

/// Beyond 2,500 receivers a poll's live tally goes out in slices, one per tally tick
/// (PROTOCOL.md section 25, `tally_slots`): every connection still ends with the last state,
/// and gets at most one tally per round of slices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_audience_gets_live_tallies_in_slices_and_each_the_last_state() -> Result<()> {
    use convene_tests::poll_spec;
    use futures_util::future::join_all;
    use proto::{Ballot, PollKind};
    const CITIZENS: usize = 2_600;
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server
        .http()
        .convention("grande-salle", &roster(CITIZENS))
        .await?;
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &invites[0].token).await?;
    let mut crowd = Vec::with_capacity(CITIZENS);
    for (k, i) in invites[3..].iter().enumerate() {
        crowd.push(Client::join_with(&url, &format!("c{k}"), &i.token, PROTOCOL_V2, None).await?);
    }
    ensure!(
        proto::tally_slots(CITIZENS + 1) == 2,
        "the test wants two slices"
    );
    let spec = poll_spec(
        "Une piste cyclable sur le pont ?",
        PollKind::Single {
            options: vec!["oui".into(), "non".into()],
        },
        false,
        true,
    );
    let (poll, _) = fac.draft_and_open(spec).await?;
    // The opening's tally goes to everyone at once: each has it before the ballots (a fixed
    // wait was too short for 2,600 connections on a loaded machine, and its tally then
    // counted as one of the ballots').
    let opened = |m: &ServerMessage| {
        matches!(m, ServerMessage::PollTally { poll: p, tally: Some(t), .. }
            if *p == poll && t.ballots == 0)
    };
    for r in join_all(crowd.iter_mut().map(|c| c.wait_for(opened))).await {
        r?;
    }
    for c in crowd.iter_mut() {
        c.inbox.clear();
    }
    // Three ballots, a round of slices apart or less.
    for (k, gap) in [0u64, 300, 150].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(gap)).await;
        crowd[k]
            .ok(Command::Vote {
                poll: poll.clone(),
                ballot: Ballot::Single {
                    choice: (k % 2) as u32,
                },
            })
            .await?;
    }
    // Two slices of 250 ms, with room to spare on a loaded machine.
    join_all(
        crowd
            .iter_mut()
            .map(|c| c.drain(Duration::from_millis(2500))),
    )
    .await;
    let mut total = 0;
    for c in &crowd {
        let seen: Vec<&proto::Tally> = c
            .inbox
            .iter()
            .filter_map(|m| match m {
                ServerMessage::PollTally {
                    poll: p,
                    tally: Some(t),
                    ..
                } if *p == poll => Some(t),
                _ => None,
            })
            .collect();
        let last = seen.last().context("every connection gets a live tally")?;
        ensure!(
            last.ballots == 3 && last.counts == vec![2, 1],
            "the last live tally is the final state: {last:?}"
        );
        ensure!(
            seen.len() <= 3,
            "at most one tally per round of slices, three ballots: {}",
            seen.len()
        );
        total += seen.len();
    }
    ensure!(
        (CITIZENS..=3 * CITIZENS).contains(&total),
        "{total} tallies"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_get_roster_is_refused_and_harms_nobody() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("mauvais", &roster(4)).await?;
    let url = server.ws_url();
    // Before hello: closed 4000, like any other first message.
    let mut early = Client::open(&url, "early").await?;
    early.send_raw(r#"{"type":"get_roster"}"#).await?;
    ensure!(
        early.wait_closed(Duration::from_secs(10)).await? == Some(proto::close::HELLO_EXPECTED),
        "get_roster before hello closes 4000"
    );
    let mut cit = Client::join_with(&url, "cit", &invites[3].token, PROTOCOL_V2, None).await?;
    let mut other = Client::join_with(&url, "other", &invites[4].token, PROTOCOL_V2, None).await?;
    let long = "9".repeat(200);
    for bad in [
        r#"{"type":"get_roster","version":"douze"}"#.to_string(),
        r#"{"type":"get_roster","version":-1}"#.to_string(),
        format!(r#"{{"type":"get_roster","version":{long}}}"#),
    ] {
        cit.send_raw(&bad).await?;
        let m = cit
            .wait_for(|m| matches!(m, ServerMessage::Error { .. }))
            .await?;
        ensure!(
            matches!(
                m,
                ServerMessage::Error {
                    code: proto::ErrorCode::BadMessage,
                    ..
                }
            ),
            "{bad}: {m:?}"
        );
    }
    // Both still served.
    other
        .send(&ClientMessage::GetRoster { version: None })
        .await?;
    other
        .wait_for(|m| matches!(m, ServerMessage::Roster { .. }))
        .await?;
    cit.ok(Command::SendChat {
        room: None,
        text: "toujours là".into(),
    })
    .await?;
    Ok(())
}

/// PROTOCOL.md section 25, "A move sends the room": a raised hand of someone that
/// `breakouts_opened` moves out of a large plenary (no event lowers it) disappears from the
/// queue of a v2 citizen who stays there and who does not see that person: the room comes
/// again in a `room_view`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_moved_out_of_a_large_plenary_by_breakouts_goes_for_a_v2_citizen() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // A facilitator, a guarantor, an expert and 57 citizens: 60 in the plenary.
    let invites = server.http().convention("mains", &roster(57)).await?;
    ensure!(invites.len() == 60, "60 people");
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &invites[0].token).await?;
    let mut stays = Follower::join(&url, "reste", &invites[3].token).await?;
    // Those who raise a hand and go: a v1 and a v2 citizen.
    let mut leaver1 = Client::join(&url, "part1", &invites[4].token).await?;
    let mut leaver2 =
        Client::join_with(&url, "part2", &invites[5].token, PROTOCOL_V2, None).await?;
    let (a, b) = (leaver1.id(), leaver2.id());
    leaver1.ok(Command::RaiseHand { room: None }).await?;
    leaver2.ok(Command::RaiseHand { room: None }).await?;
    stays.ok(Command::RaiseHand { room: None }).await?;
    stays
        .settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    let queue = |f: &Follower| -> Vec<String> {
        f.view
            .inside()
            .map(|i| i.queue.iter().map(|q| q.participant.clone()).collect())
            .unwrap_or_default()
    };
    ensure!(
        queue(&stays) == vec![a.clone(), b.clone(), stays.view.me.clone()],
        "three hands: {:?}",
        queue(&stays)
    );
    ensure!(
        !stays.view.people.contains_key(&a) && !stays.view.people.contains_key(&b),
        "in a large plenary, she does not see them"
    );
    // Two rooms: the two who raised a hand and three others go; she stays (the plenary
    // keeps 55 people: large).
    fac.ok(Command::CreateRooms {
        count: Some(2),
        names: vec![],
    })
    .await?;
    let mut assignments = vec![
        proto::Assignment {
            participant: a.clone(),
            room: "r1".into(),
        },
        proto::Assignment {
            participant: b.clone(),
            room: "r2".into(),
        },
    ];
    for i in invites[6..9].iter() {
        assignments.push(proto::Assignment {
            participant: i.participant.clone(),
            room: "r1".into(),
        });
    }
    fac.ok(Command::AssignRooms {
        method: proto::AssignMethod::Manual { assignments },
        participants: None,
        only_present: false,
    })
    .await?;
    let views_before = stays.room_views;
    fac.ok(Command::OpenBreakouts {
        duration_ms: 600_000,
        warning_ms: 60_000,
    })
    .await?;
    stays
        .settle(Duration::from_millis(3 * PRESENCE_TICK_MS))
        .await;
    ensure!(
        stays.view.room() == Some(proto::PLENARY_ID),
        "she stayed in the plenary"
    );
    ensure!(
        queue(&stays) == vec![stays.view.me.clone()],
        "the hands of those who left are gone: {:?}",
        queue(&stays)
    );
    ensure!(
        stays.room_views == views_before + 1,
        "one room_view told her: {} then {}",
        views_before,
        stays.room_views
    );
    let f = fresh(&url, &invites[3].token).await?;
    ensure!(
        stays.view.comparable() == f.comparable(),
        "as a fresh welcome:\n{:?}\n{:?}",
        stays.view.inside(),
        f.inside()
    );
    // In r1 the leaver's hand is down as well (leaving lowers it).
    leaver1
        .wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
        .await?;
    ensure!(leaver1.room() == "r1");
    Ok(())
}
