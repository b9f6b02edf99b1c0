//! Cluster mode: three `convene` nodes on one Redis. Clients spread over them run breakouts
//! and a secret poll; all see one order; tallies agree everywhere; a node killed with
//! `kill -9` loses nothing acknowledged and counts no ballot twice; concurrent commands from
//! every node get distinct, gapless sequence numbers.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use convene_tests::proto::{
    AssignMethod, Ballot, Command, ErrorCode, Event, PollKind, PollSpec, Role, ServerMessage,
};
use convene_tests::{
    fresh_redis, nodes, own_redis, person, poll_spec, tempdir, token_of, unique, Client, Server,
};

fn secret_poll(question: &str) -> PollSpec {
    let options = vec!["Oui".into(), "Non".into(), "Sans avis".into()];
    poll_spec(question, PollKind::Single { options }, true, true)
}

/// An event without what only staff receive (a poll's turnout at its close).
fn shared_part(event: &Event) -> Event {
    let mut e = event.clone();
    if let Event::PollClosed { turnout, .. } = &mut e {
        *turnout = None;
    }
    e
}

/// Every event two clients both saw is the same event at the same seq (but for what only
/// staff receive).
fn same_order(a: &Client, b: &Client) -> Result<()> {
    let by_seq: HashMap<u64, &convene_tests::proto::Record> =
        a.events.iter().map(|r| (r.seq, r)).collect();
    for r in &b.events {
        if let Some(other) = by_seq.get(&r.seq) {
            ensure!(
                shared_part(&other.event) == shared_part(&r.event),
                "seq {}: {} saw {:?}, {} saw {:?}",
                r.seq,
                a.name,
                other.event,
                b.name,
                r.event
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_convention() -> Result<()> {
    let redis = fresh_redis(11)?;
    let dir = tempdir();
    let mut servers = nodes(dir.path(), &redis, 3).await?;
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    let communes = ["Rezé", "Orvault", "Vertou"];
    for i in 0..12 {
        roster.push(person(
            &format!("Citoyen {i:02}"),
            &[Role::Citizen],
            &[("commune", communes[i % 3])],
        ));
    }
    let invites = servers[0].http().convention("cluster", &roster).await?;
    let tok = |n: &str| invites.iter().find(|i| i.name == n).unwrap().token.clone();
    // Spread: the facilitator on node 0, the guarantor on node 1, citizens round-robin.
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire Animatrice")).await?;
    let mut gar = Client::join(&servers[1].ws_url(), "gar", &tok("Hélène Garante")).await?;
    let mut cits = Vec::new();
    for i in 0..12 {
        let name = format!("Citoyen {i:02}");
        cits.push(Client::join(&servers[i % 3].ws_url(), &name, &tok(&name)).await?);
    }
    // Presence spans nodes: the facilitator on node 0 eventually sees all 14 online.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut probe =
            Client::join(&servers[0].ws_url(), "probe", &tok("Claire Animatrice")).await?;
        let online = probe
            .snapshot
            .take()
            .unwrap()
            .participants
            .iter()
            .filter(|p| p.online)
            .count();
        probe.close().await;
        if online >= 14 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "node 0 sees {online} online, not 14"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Breakouts driven from node 0 reach everyone on every node.
    fac.ok(Command::CreateRooms {
        count: Some(3),
        names: vec![],
    })
    .await?;
    fac.ok(Command::AssignRooms {
        method: AssignMethod::Balanced {
            attribute: "commune".into(),
        },
        participants: None,
        only_present: true,
    })
    .await?;
    let seq = fac
        .ok(Command::OpenBreakouts {
            duration_ms: 60_000,
            warning_ms: 1000,
        })
        .await?;
    for c in cits.iter_mut() {
        c.wait_for(
            |m| matches!(m, ServerMessage::Snapshot { snapshot, .. } if snapshot.seq >= seq),
        )
        .await?;
        ensure!(c.room() != "plenary", "{} was not moved", c.name);
    }
    for c in cits.iter_mut() {
        c.ok(Command::SendChat {
            room: None,
            text: format!("bonjour de {}", c.name),
        })
        .await?;
    }
    let last = fac.ok(Command::CloseBreakouts).await?;

    // A secret poll voted through all three nodes.
    let (poll, _) = fac.draft_and_open(secret_poll("On continue ?")).await?;
    let mut expected = [0u64; 3];
    for (i, c) in cits.iter_mut().enumerate() {
        let choice = (i % 3) as u32;
        expected[choice as usize] += 1;
        c.ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Single { choice },
        })
        .await?;
    }
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let Event::PollClosed { tally: Some(t), .. } = fac.wait_seq(seq).await?.event else {
        bail!("no tally")
    };
    ensure!(
        t.counts == expected.to_vec(),
        "tally {:?}, expected {expected:?}",
        t.counts
    );
    ensure!(seq > last, "sequence grows");

    // Every node answers the same snapshot, and everyone saw one order. Each node's follower
    // brings the last records within moments (on a loaded machine, more than half a second):
    // a node is asked again until it is there, for at most 10 s.
    let mut views = Vec::new();
    for s in &servers {
        let started = std::time::Instant::now();
        let (c, mut snap) = loop {
            let mut c = Client::join(&s.ws_url(), "view", &tok("Hélène Garante")).await?;
            let snap = c.snapshot.take().unwrap();
            if snap.seq == seq || started.elapsed() > Duration::from_secs(10) {
                break (c, snap);
            }
            c.close().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        ensure!(
            snap.seq == seq,
            "node {} is at {} not {seq} after 10 s",
            s.addr,
            snap.seq
        );
        for p in &mut snap.participants {
            p.online = false; // presence settles on its own clock
        }
        for r in &mut snap.rooms {
            r.observers = 0;
        }
        for p in &mut snap.polls {
            p.participation = None;
        }
        views.push(serde_json::to_value(&snap)?);
        c.close().await;
    }
    ensure!(
        views[0] == views[1] && views[1] == views[2],
        "the three nodes disagree on the snapshot at {seq}"
    );
    for c in cits.iter_mut().chain([&mut gar]) {
        c.drain(Duration::from_millis(100)).await;
    }
    for c in cits.iter().chain([&gar]) {
        same_order(&fac, c)?;
        let seqs: Vec<u64> = c.events.iter().map(|r| r.seq).collect();
        ensure!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{}: events out of order or repeated",
            c.name
        );
    }

    // kill -9 of node 2 in the middle of a second vote: its clients move to node 0 and retry
    // with the same request ids; nothing acknowledged is missing, no ballot counts twice.
    let (poll, _) = fac.draft_and_open(secret_poll("Et maintenant ?")).await?;
    let ids: Vec<String> = (0..12).map(|i| format!("v{i}-{}", unique())).collect();
    let mut acked: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, c) in cits.iter_mut().enumerate().filter(|(i, _)| i % 3 != 2) {
        if let Ok(seq) = c
            .request_with_id(
                &ids[i],
                Command::Vote {
                    poll: poll.clone(),
                    ballot: Ballot::Single { choice: 0 },
                },
            )
            .await?
        {
            acked.insert(i, seq);
        }
    }
    servers[2].kill9().await?;
    for (i, name) in (0..12)
        .filter(|i| i % 3 == 2)
        .map(|i| (i, format!("Citoyen {i:02}")))
    {
        let mut c = Client::join(&servers[0].ws_url(), &name, &tok(&name)).await?;
        let r = c
            .request_with_id(
                &ids[i],
                Command::Vote {
                    poll: poll.clone(),
                    ballot: Ballot::Single { choice: 0 },
                },
            )
            .await?;
        ensure!(r.is_ok(), "{name} on node 0: {r:?}");
        // The retry of an acknowledged ballot is answered with its seq, not counted again.
        let again = c
            .request_with_id(
                &ids[i],
                Command::Vote {
                    poll: poll.clone(),
                    ballot: Ballot::Single { choice: 0 },
                },
            )
            .await?;
        ensure!(again == r, "retry: {again:?} vs {r:?}");
        let twice = c
            .request(Command::Vote {
                poll: poll.clone(),
                ballot: Ballot::Single { choice: 1 },
            })
            .await?;
        ensure!(
            matches!(twice, Err((ErrorCode::Conflict, _))),
            "second ballot: {twice:?}"
        );
    }
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let Event::PollClosed { tally: Some(t), .. } = fac.wait_seq(seq).await?.event else {
        bail!("no tally")
    };
    ensure!(
        t.ballots == 12 && t.counts[0] == 12,
        "after the node died: {:?}",
        t
    );
    let _ = &mut servers;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_from_every_node_get_distinct_gapless_seqs() -> Result<()> {
    let redis = fresh_redis(12)?;
    let dir = tempdir();
    let servers = nodes(dir.path(), &redis, 3).await?;
    const VOTERS: usize = 150;
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    for i in 0..VOTERS {
        roster.push(person(&format!("Votant {i:03}"), &[Role::Citizen], &[]));
    }
    let invites = servers[0].http().convention("burst", &roster).await?;
    let mut fac = Client::join(&servers[1].ws_url(), "fac", &invites[0].token).await?;
    let mut spec = secret_poll("Tous ensemble");
    spec.secret = false;
    let (poll, opened) = fac.draft_and_open(spec).await?;
    // Every voter connected to one of the three nodes, all voting at once.
    let mut tasks = Vec::new();
    for (i, inv) in invites.iter().skip(1).enumerate() {
        let url = servers[i % 3].ws_url();
        let (token, name, poll) = (inv.token.clone(), inv.name.clone(), poll.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::join(&url, &name, &token).await?;
            c.ok(Command::Vote {
                poll,
                ballot: Ballot::Single {
                    choice: (i % 3) as u32,
                },
            })
            .await
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await??);
    }
    seqs.sort();
    let before = seqs.len();
    seqs.dedup();
    ensure!(seqs.len() == before, "two ballots got the same seq");
    // Gapless: the ballots are exactly the seqs after the opening.
    ensure!(
        seqs.first() == Some(&(opened + 1)) && seqs.last() == Some(&(opened + VOTERS as u64)),
        "seqs {:?}..{:?}",
        seqs.first(),
        seqs.last()
    );
    let seq = fac.ok(Command::ClosePoll { poll }).await?;
    let Event::PollClosed { tally: Some(t), .. } = fac.wait_seq(seq).await?.event else {
        bail!("no tally")
    };
    ensure!(
        t.ballots == VOTERS as u64 && t.counts == vec![50, 50, 50],
        "tally {t:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_a_replica_only_while_it_is_used() -> Result<()> {
    let redis = fresh_redis(14)?;
    let dir = tempdir();
    let a = Server::start_with(
        &dir.path().join("a"),
        &["--redis", &redis, "--idle-replica-secs", "1"],
    )
    .await?;
    let b = Server::start_with(
        &dir.path().join("b"),
        &["--redis", &redis, "--idle-replica-secs", "1"],
    )
    .await?;
    let invites = a
        .http()
        .convention(
            "idle",
            &[
                person("Amina", &[Role::Citizen], &[]),
                person("Basile", &[Role::Citizen], &[]),
            ],
        )
        .await?;
    // Node b learns of the convention when someone joins through it...
    let mut c = Client::join(&b.ws_url(), "amina", &invites[0].token).await?;
    c.ok(Command::SendChat {
        room: None,
        text: "présente".into(),
    })
    .await?;
    ensure!(
        b.metric("convene_conventions").await? == 1,
        "node b holds the convention while used"
    );
    c.close().await;
    // ...and lets it go once nobody uses it there, while it goes on on node a (whose records
    // node b reads: that is no use of b's replica).
    let mut busy = Client::join(&a.ws_url(), "basile", &invites[1].token).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    while b.metric("convene_conventions").await? != 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "node b still holds an unused replica"
        );
        n += 1;
        busy.ok(Command::SendChat {
            room: None,
            text: format!("ailleurs {n}"),
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Coming back loads it again from the log, with everything in it.
    let c = Client::join(&b.ws_url(), "amina", &invites[0].token).await?;
    let chat = &c.snapshot.as_ref().unwrap().rooms[0]
        .inside
        .as_ref()
        .unwrap()
        .chat;
    ensure!(
        chat.iter().any(|l| l.text == "présente"),
        "reloaded from the log"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_and_a_rotation_span_the_nodes() -> Result<()> {
    use convene_tests::ydoc::{doc_url, YClient};
    let redis = fresh_redis(15)?;
    let dir = tempdir();
    let servers = nodes(dir.path(), &redis, 3).await?;
    let mut roster = vec![
        person("Claire", &[Role::Facilitator], &[]),
        person("Lucie", &[Role::Rapporteur], &[]),
        person("Antoine", &[Role::Rapporteur], &[]),
        person("Experte A", &[Role::Expert], &[]),
        person("Experte B", &[Role::Expert], &[]),
    ];
    for i in 0..4 {
        roster.push(person(&format!("Citoyen {i}"), &[Role::Citizen], &[]));
    }
    let invites = servers[0].http().convention("span", &roster).await?;
    let tok = |n: &str| invites.iter().find(|i| i.name == n).unwrap().token.clone();
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire")).await?;
    fac.ok(Command::CreateDocument {
        name: "opinion".into(),
        title: "Avis".into(),
    })
    .await?;

    // Three editors, one per node, converge.
    let names = ["Claire", "Lucie", "Antoine"];
    let mut editors = Vec::new();
    for (i, n) in names.iter().enumerate() {
        editors.push(
            YClient::synced(n, &doc_url(&servers[i].addr, "span", "opinion", &tok(n))).await?,
        );
    }
    for (i, e) in editors.iter().enumerate() {
        e.push_paragraph(&format!("paragraphe écrit sur le nœud {i}"));
    }
    for e in &editors {
        e.wait_doc("three paragraphs", |c| c.paragraphs().len() == 3)
            .await?;
    }
    let first = editors[0].paragraphs();
    let mut sorted = first.clone();
    sorted.sort();
    for e in &editors {
        let mut p = e.paragraphs();
        p.sort();
        ensure!(p == sorted, "editors disagree: {p:?} vs {sorted:?}");
    }
    for e in editors.iter_mut() {
        e.close().await;
    }

    // A rotation run from node 0: every node's clients are moved, and each round boundary is
    // fired once, whichever node fires it.
    let experts: Vec<String> = invites
        .iter()
        .filter(|i| i.roles.contains(&Role::Expert))
        .map(|i| i.participant.clone())
        .collect();
    let mut cits = Vec::new();
    for i in 0..4 {
        let n = format!("Citoyen {i}");
        cits.push(Client::join(&servers[i % 3].ws_url(), &n, &tok(&n)).await?);
    }
    let mut exp = Vec::new();
    for (i, n) in ["Experte A", "Experte B"].iter().enumerate() {
        exp.push(Client::join(&servers[(i + 1) % 3].ws_url(), n, &tok(n)).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    fac.ok(Command::PlanRotation {
        experts,
        grouping: convene_tests::proto::Grouping::Random,
        group_count: Some(2),
        group_size: None,
        participants: None,
        only_present: false,
        round_ms: 1200,
        transition_ms: 0,
        warning_ms: 0,
        rounds: None,
        break_room: false,
    })
    .await?;
    fac.ok(Command::StartRotation).await?;
    let ended = fac.wait_event("rotation_ended").await?;
    let starts: Vec<u64> = fac
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::RotationRoundStarted { .. }))
        .map(|r| r.seq)
        .collect();
    ensure!(
        starts.len() == 2,
        "two rounds, each started once: {starts:?}"
    );
    for c in cits.iter_mut() {
        c.wait_for(
            |m| matches!(m, ServerMessage::Snapshot { snapshot, .. } if snapshot.seq >= ended.seq),
        )
        .await?;
        let rounds = c
            .events
            .iter()
            .filter(|r| matches!(r.event, Event::RotationRoundStarted { .. }))
            .count();
        let ends = c
            .events
            .iter()
            .filter(|r| matches!(r.event, Event::RotationEnded { .. }))
            .count();
        ensure!(
            rounds <= 2 && ends <= 1,
            "{}: {rounds} round starts, {ends} ends",
            c.name
        );
        ensure!(c.room() == "plenary", "{} back in the plenary", c.name);
    }
    Ok(())
}

/// Editors on every node typing at once, past a compaction (every 500 stored updates): each
/// node's follower must read every other node's update even while its own appends take the
/// numbers after them, and none may be lost to a compaction that trims what a follower has
/// not read yet. A node started afterwards loads the same document from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editors_on_every_node_typing_at_once_lose_nothing() -> Result<()> {
    use convene_tests::ydoc::{doc_url, YClient};
    const EACH: usize = 240;
    let cluster = OwnCluster::start(
        3,
        "busy",
        vec![
            person("Claire", &[Role::Facilitator], &[]),
            person("Lucie", &[Role::Rapporteur], &[]),
            person("Antoine", &[Role::Rapporteur], &[]),
        ],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let tok = |n: &str| token_of(invites, n);
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire")).await?;
    fac.ok(Command::CreateDocument {
        name: "opinion".into(),
        title: "Avis".into(),
    })
    .await?;
    let names = ["Claire", "Lucie", "Antoine"];
    let mut editors = Vec::new();
    for (i, n) in names.iter().enumerate() {
        editors.push(
            YClient::synced(n, &doc_url(&servers[i].addr, "busy", "opinion", &tok(n))).await?,
        );
    }
    // Each editor sends one update per paragraph, the three interleaved.
    for k in 0..EACH {
        for (i, e) in editors.iter().enumerate() {
            e.push_paragraph(&format!("nœud {i}, paragraphe {k}"));
        }
        if k % 8 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let mut expected: Vec<String> = (0..3)
        .flat_map(|i| (0..EACH).map(move |k| format!("nœud {i}, paragraphe {k}")))
        .collect();
    expected.sort();
    let all = expected.len();
    for e in &editors {
        let waited = e
            .wait_doc_within("every paragraph", Duration::from_secs(30), |c| {
                c.paragraphs().len() >= all
            })
            .await;
        let mut p = e.paragraphs();
        p.sort();
        let missing: Vec<&String> = expected.iter().filter(|x| !p.contains(x)).collect();
        let rec = e.recorded();
        ensure!(
            waited.is_ok() && p == expected,
            "{} has {} paragraphs of {all}; missing {} (first: {:?}); {} frames, closed {:?}",
            e.name,
            p.len(),
            missing.len(),
            missing.first(),
            rec.frames,
            rec.closed
        );
        ensure!(
            rec.closed.is_none() && rec.errors.is_empty(),
            "{} still connected, without error: {:?} {:?}",
            e.name,
            rec.closed,
            rec.errors
        );
    }
    // The store compacted (and kept what it trimmed in the snapshot). A node compacts after
    // its own appends, or when the document closes: if every node passed the threshold while
    // taking in the others' updates (read in large batches at the end), none had yet. One
    // more line from the first node is its own append.
    let last = "nœud 0, après".to_string();
    editors[0].push_paragraph(&last);
    expected.push(last);
    expected.sort();
    let all = expected.len();
    // Stored once another node's editor has it (durable before relayed).
    editors[1]
        .wait_doc_within("the last line", Duration::from_secs(30), |c| {
            c.paragraphs().len() >= all
        })
        .await?;
    let mut con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let upto: Option<u64> = redis::cmd("HGET")
            .arg("cv:{busy}:docs:opinion")
            .arg("upto")
            .query(&mut con)?;
        if upto.is_some_and(|u| u >= 500) {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "a compaction happened: snapshot up to {upto:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A node started now loads the document from the store alone.
    let late_node = Server::start_with(
        &cluster.dir.path().join("node3"),
        &["--redis", &cluster.redis.url],
    )
    .await?;
    let late = YClient::synced(
        "Claire",
        &doc_url(&late_node.addr, "busy", "opinion", &tok("Claire")),
    )
    .await?;
    let mut p = late.paragraphs();
    p.sort();
    ensure!(
        p == expected,
        "a node started afterwards loads {} paragraphs of {all}",
        p.len()
    );
    Ok(())
}

/// A compaction keeps in the stream the last update its snapshot holds, so that a follower
/// still behind it (another node appended and compacted between two of its reads) reads that
/// update at once, and its number shows the node the gap to fill from the snapshot. Redis
/// answers a blocking read after entries that were all trimmed only when a newer one comes:
/// with nobody typing any more, such a follower read nothing, block after block (the busy
/// editors' test lost the end of the text on one node about once in 250 runs without the
/// follower's check).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_behind_a_compaction_reads_on() -> Result<()> {
    use convene::store::{redis::RedisStore, DocAppend};
    let dir = tempdir();
    let redis = own_redis(dir.path(), &[])?;
    let store = RedisStore::open(&redis.url).await?;
    let updates = ["un", "deux", "trois"]
        .map(|u| u.as_bytes().to_vec())
        .to_vec();
    let last = store
        .doc_append(DocAppend {
            convention: "trim".into(),
            doc: "opinion".into(),
            updates,
        })
        .await?;
    ensure!(last == 3, "three updates stored, numbered up to {last}");
    // This node's follower has read update 1 when another node compacts up to 3.
    store
        .doc_compact("trim", "opinion", 3, b"snapshot".to_vec())
        .await?;
    let con = store.dedicated().await?;
    let block = Duration::from_millis(200);
    let read = |after| {
        let mut con = con.clone();
        async move {
            let updates =
                RedisStore::wait_doc_updates(&mut con, "trim", "opinion", after, block).await?;
            anyhow::Ok(updates.into_iter().map(|(n, _)| n).collect::<Vec<u64>>())
        }
    };
    let behind = read(1).await?;
    ensure!(behind == [3], "a follower after 1 reads {behind:?}");
    // Only what the snapshot lacks is loaded, and a follower up to date reads nothing.
    let loaded = store.doc_load("trim", "opinion").await?;
    ensure!(
        loaded.snapshot.map(|(upto, _)| upto) == Some(3) && loaded.updates.is_empty(),
        "the load: the snapshot up to 3, no update"
    );
    let current = read(3).await?;
    ensure!(current.is_empty(), "a follower after 3 reads {current:?}");
    Ok(())
}

/// A compaction on another node trims an update before this node's follower read it (made
/// here by writing the update, its snapshot and the trim in one Redis transaction, as if a
/// node had appended and compacted at once): the next update shows the gap, and the node
/// fills it from the stored snapshot, relaying to its editors only what they lack (not the
/// whole document again), none of them closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_trimmed_before_a_node_read_it_reaches_its_editors() -> Result<()> {
    use convene_tests::ydoc::{doc_from, doc_url, paragraph, YClient, ROOT};
    use yrs::{ReadTxn, StateVector, Transact, XmlFragment};
    let cluster = OwnCluster::start(
        2,
        "gap",
        vec![
            person("Claire", &[Role::Facilitator], &[]),
            person("Lucie", &[Role::Rapporteur], &[]),
        ],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let tok = |n: &str| token_of(invites, n);
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire")).await?;
    fac.ok(Command::CreateDocument {
        name: "opinion".into(),
        title: "Avis".into(),
    })
    .await?;
    let claire = YClient::synced(
        "Claire",
        &doc_url(&servers[0].addr, "gap", "opinion", &tok("Claire")),
    )
    .await?;
    let lucie = YClient::synced(
        "Lucie",
        &doc_url(&servers[1].addr, "gap", "opinion", &tok("Lucie")),
    )
    .await?;
    // A long first paragraph: the whole document is large, what the gap adds is small.
    let long = "Les bus de nuit desservent les communes de la première couronne. ".repeat(300);
    claire.push_paragraph(&long);
    lucie.wait_paragraph(&long).await?;
    let before = (
        claire.recorded().updates.len(),
        lucie.recorded().updates.len(),
    );

    // Another writer's update n+1, stored with a snapshot up to it and trimmed, at once.
    let mut con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
    let n: u64 = redis::cmd("GET")
        .arg("cv:{gap}:docn:opinion")
        .query(&mut con)?;
    let state = lucie
        .doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    let other = doc_from(&state)?;
    let sv = other.transact().state_vector();
    {
        let root = other.get_or_insert_xml_fragment(ROOT);
        let mut txn = other.transact_mut();
        root.push_back(&mut txn, paragraph("écrit pendant une compaction"));
    }
    let update = other.transact().encode_state_as_update_v1(&sv);
    let whole = other
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    redis::pipe()
        .atomic()
        .cmd("XADD")
        .arg("cv:{gap}:doc:opinion")
        .arg(format!("{}-0", n + 1))
        .arg("u")
        .arg(&update)
        .ignore()
        .cmd("SET")
        .arg("cv:{gap}:docn:opinion")
        .arg(n + 1)
        .ignore()
        .cmd("HSET")
        .arg("cv:{gap}:docs:opinion")
        .arg("upto")
        .arg(n + 1)
        .arg("data")
        .arg(&whole)
        .ignore()
        .cmd("XTRIM")
        .arg("cv:{gap}:doc:opinion")
        .arg("MINID")
        .arg(format!("{}-0", n + 2))
        .ignore()
        .query::<()>(&mut con)?;

    // The next update, from node 1, shows both nodes the gap.
    lucie.push_paragraph("après la compaction");
    for e in [&claire, &lucie] {
        e.wait_doc_within("three paragraphs", Duration::from_secs(15), |c| {
            c.paragraphs().len() >= 3
        })
        .await?;
        let p = e.paragraphs();
        ensure!(
            p.contains(&"écrit pendant une compaction".to_string())
                && p.contains(&"après la compaction".to_string())
                && p.len() == 3,
            "{}: {p:?}",
            e.name
        );
        let rec = e.recorded();
        ensure!(
            rec.closed.is_none() && rec.errors.is_empty(),
            "{} still connected, without error: {:?} {:?}",
            e.name,
            rec.closed,
            rec.errors
        );
    }
    // What filled the gap was the difference, not the whole document again.
    for (e, from) in [(&claire, before.0), (&lucie, before.1)] {
        let largest = e.recorded().updates[from..]
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        ensure!(
            largest < whole.len() / 4,
            "{} got {largest} bytes at once after the gap (the whole document: {})",
            e.name,
            whole.len()
        );
    }
    Ok(())
}

/// A Redis stream's entries: id, then field-value pairs.
type StreamEntries = Vec<(String, Vec<(String, Vec<u8>)>)>;

/// `n` nodes on a Redis of the test's own (no database shared with another test), and a
/// convention with this roster created through the first.
struct OwnCluster {
    servers: Vec<Server>,
    invites: Vec<convene_tests::proto::api::Invite>,
    redis: convene_tests::OwnRedis,
    dir: tempfile::TempDir,
}

impl OwnCluster {
    async fn start(
        n: usize,
        convention: &str,
        roster: Vec<convene_tests::proto::api::RosterEntry>,
    ) -> Result<OwnCluster> {
        let dir = tempdir();
        let redis_dir = dir.path().join("redis");
        std::fs::create_dir_all(&redis_dir)?;
        let redis = own_redis(&redis_dir, &[])?;
        let servers = nodes(dir.path(), &redis.url, n).await?;
        let invites = servers[0].http().convention(convention, &roster).await?;
        Ok(OwnCluster {
            servers,
            invites,
            redis,
            dir,
        })
    }

    /// Two nodes with a facilitator (Claire) on node 0 and a citizen on node 1 (each node keeps
    /// a replica), and a connection to their Redis.
    async fn facilitator_and_citizen(
        convention: &str,
    ) -> Result<(OwnCluster, Client, Client, redis::Connection)> {
        let cluster = OwnCluster::start(
            2,
            convention,
            vec![
                person("Claire", &[Role::Facilitator], &[]),
                person("Citoyen", &[Role::Citizen], &[]),
            ],
        )
        .await?;
        let tok = |n: &str| token_of(&cluster.invites, n);
        let fac = Client::join(&cluster.servers[0].ws_url(), "fac", &tok("Claire")).await?;
        let cit = Client::join(&cluster.servers[1].ws_url(), "cit", &tok("Citoyen")).await?;
        let con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
        Ok((cluster, fac, cit, con))
    }
}

/// The audit trail in Redis: each entry's number and links, in order.
fn stored_trail(
    con: &mut redis::Connection,
    convention: &str,
) -> Result<Vec<convene_tests::proto::AuditEntry>> {
    let entries: StreamEntries = redis::cmd("XRANGE")
        .arg(format!("cv:{{{convention}}}:audit"))
        .arg("-")
        .arg("+")
        .query(con)?;
    entries
        .into_iter()
        .map(|(_, fields)| Ok(serde_json::from_slice(&fields[0].1)?))
        .collect()
}

/// A node whose audit head is out of step with the stored trail (what a take-up that read the
/// trail apart from the log could leave) writes nothing until it has the trail's head: no
/// hole in the numbering when it is ahead, no record without its audit entry (a half-done
/// write answered `unavailable`) when it is behind. Both made here by changing the trail in
/// Redis under a running node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_out_of_step_with_the_audit_trail_writes_nothing_until_it_has_its_head() -> Result<()>
{
    let cluster = OwnCluster::start(
        1,
        "trail",
        vec![person("Claire", &[Role::Facilitator], &[])],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &invites[0].token).await?;
    let mut con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
    let document = |k: usize| Command::CreateDocument {
        name: format!("doc{k}"),
        title: format!("Document {k}"),
    };
    fac.ok(document(1)).await?;
    let trail = stored_trail(&mut con, "trail")?;
    let top = trail
        .last()
        .expect("a facilitator's command is audited")
        .clone();

    // The node ahead of the trail: the trail written again without its last entry.
    let _: u64 = redis::cmd("DEL").arg("cv:{trail}:audit").query(&mut con)?;
    for e in trail.iter().filter(|e| e.n < top.n) {
        let _: String = redis::cmd("XADD")
            .arg("cv:{trail}:audit")
            .arg(format!("{}-0", e.n))
            .arg("e")
            .arg(serde_json::to_string(e)?)
            .query(&mut con)?;
    }
    fac.ok(document(2)).await?;
    let trail = stored_trail(&mut con, "trail")?;
    for (i, e) in trail.iter().enumerate() {
        ensure!(e.n == i as u64 + 1, "entry {} at place {}", e.n, i + 1);
        if i > 0 {
            ensure!(
                e.prev == trail[i - 1].hash,
                "entry {} links to the one before",
                e.n
            );
        }
    }

    // The node behind the trail: an entry it never made appended after its head.
    let head = trail.last().unwrap().clone();
    let mut extra = head.clone();
    extra.n += 1;
    extra.prev = head.hash.clone();
    let _: String = redis::cmd("XADD")
        .arg("cv:{trail}:audit")
        .arg(format!("{}-0", extra.n))
        .arg("e")
        .arg(serde_json::to_string(&extra)?)
        .query(&mut con)?;
    let log_before: u64 = redis::cmd("XLEN").arg("cv:{trail}:log").query(&mut con)?;
    fac.ok(document(3)).await?;
    let log_after: u64 = redis::cmd("XLEN").arg("cv:{trail}:log").query(&mut con)?;
    let trail = stored_trail(&mut con, "trail")?;
    let last = trail.last().unwrap();
    ensure!(
        last.n == extra.n + 1 && last.prev == extra.hash,
        "the command's entry follows the trail's head: {} after {}",
        last.n,
        extra.n
    );
    ensure!(
        log_after == log_before + 1,
        "one record for one command: {log_before} then {log_after}"
    );
    // The replica took in nothing twice: its next command is answered and follows on.
    fac.ok(document(4)).await?;
    let trail = stored_trail(&mut con, "trail")?;
    ensure!(
        trail.last().unwrap().n == extra.n + 2,
        "and the next one: {:?}",
        trail.iter().map(|e| e.n).collect::<Vec<_>>()
    );
    Ok(())
}

/// How many times Redis ran a command, from `INFO commandstats`.
fn redis_calls(con: &mut redis::Connection, command: &str) -> Result<u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con)?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// A convention's task that fails in cluster mode is run again with its own follower: the
/// failed one's follower stops (it read the log again and again, as fast as Redis answered,
/// for a task that was gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_task_leaves_no_follower_behind() -> Result<()> {
    use convene_tests::proto::ClientMessage;
    let cluster = OwnCluster::start(
        2,
        "relance",
        vec![
            person("Claire", &[Role::Facilitator], &[]),
            person("Citoyen", &[Role::Citizen], &[]),
        ],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let tok = |n: &str| token_of(invites, n);
    let mut cit = Client::join(&servers[0].ws_url(), "cit", &tok("Citoyen")).await?;
    let mut fac = Client::join(&servers[1].ws_url(), "fac", &tok("Claire")).await?;
    // Debug builds panic on this chat inside the convention's task (tests/tests/hardening.rs).
    cit.send(&ClientMessage::Request {
        id: "boom".into(),
        command: Command::SendChat {
            room: None,
            text: "convene:test:panic-in-convention-task".into(),
        },
    })
    .await?;
    let _ = cit.wait_for(|_| false).await;
    ensure!(
        cit.closed.is_some(),
        "the failed task's connection is closed"
    );
    let mut cit = Client::join(&servers[0].ws_url(), "cit", &tok("Citoyen")).await?;
    // The other node appends: node 0 follows (once).
    let mut last = 0;
    for i in 0..3 {
        last = fac
            .ok(Command::SendChat {
                room: None,
                text: format!("après la relance {i}"),
            })
            .await?;
    }
    cit.wait_seq(last).await?;
    let mut con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
    let before = redis_calls(&mut con, "xread")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reads = redis_calls(&mut con, "xread")? - before;
    // A live follower blocks in one read for seconds: each node's few followers (the
    // convention's, presence aside) make a handful of reads in 3 quiet seconds.
    ensure!(
        reads < 50,
        "{reads} XREAD in 3 quiet seconds: a follower spins"
    );
    ensure!(servers[0].metric("convene_task_restarts_total").await? == 1);
    Ok(())
}

/// A node that could not read the ballot box after a vote cast on another node lacks that
/// ballot: it does not close the secret poll (its logged result would be wrong for good, and
/// the poll found tampered with at the next take-up) until it has read the box again, which
/// it does on its own. The box is made unreadable here by giving a key read with it (the
/// stored state's) another type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_poll_closes_only_with_every_nodes_ballots() -> Result<()> {
    let (_cluster, mut fac, mut cit, mut con) = OwnCluster::facilitator_and_citizen("urne").await?;
    let (poll, _) = fac.draft_and_open(secret_poll("Des bus de nuit ?")).await?;
    cit.wait_event("poll_opened").await?;

    let _: () = redis::cmd("SET")
        .arg("cv:{urne}:state")
        .arg("pas un état")
        .query(&mut con)?;
    cit.ok(Command::Vote {
        poll: poll.clone(),
        ballot: Ballot::Single { choice: 0 },
    })
    .await?;
    // Node 0 takes the voter's mark in (following the log, or catching up when its close
    // finds the log moved) but cannot read the ballot.
    let refused = fac
        .request(Command::ClosePoll { poll: poll.clone() })
        .await?;
    ensure!(
        matches!(refused, Err((ErrorCode::Unavailable, _))),
        "a close without the box: {refused:?}"
    );
    // The box readable again: node 0 reads it on its own, and the close counts the ballot.
    let _: () = redis::cmd("DEL").arg("cv:{urne}:state").query(&mut con)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let seq = loop {
        match fac
            .request(Command::ClosePoll { poll: poll.clone() })
            .await?
        {
            Ok(seq) => break seq,
            Err((ErrorCode::Unavailable, _)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => bail!("close: {e:?}"),
        }
    };
    let Event::PollClosed { tally: Some(t), .. } = fac.wait_seq(seq).await?.event else {
        bail!("no tally")
    };
    ensure!(
        t.counts == vec![1, 0, 0],
        "the ballot cast on node 1 is counted: {:?}",
        t.counts
    );
    Ok(())
}

/// A node's presence set for a convention, as stored under `cv:{conv}:presence:{node}` and
/// published on `cv:{conv}:presence`.
fn presence_sets(con: &mut redis::Connection, conv: &str) -> Result<Vec<serde_json::Value>> {
    let nodes: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("cv:{{{conv}}}:nodes"))
        .query(con)?;
    let mut out = Vec::new();
    for n in nodes {
        let json: Option<String> = redis::cmd("GET")
            .arg(format!("cv:{{{conv}}}:presence:{n}"))
            .query(con)?;
        if let Some(j) = json {
            out.push(serde_json::from_str(&j)?);
        }
    }
    Ok(out)
}

/// Whether a client was told that `who` went offline (or came online), among what it read.
fn told_presence(c: &Client, who: &str, online: bool) -> bool {
    c.inbox.iter().any(|m| {
        matches!(m, ServerMessage::Presence { participant, online: o } if participant == who && *o == online)
    })
}

/// Presence reaches a node by two paths that can cross (the pub/sub message, and the key read
/// at every heartbeat): an older set of a node, coming after a newer one, is ignored. Made
/// here by publishing an older set by hand and writing it to the key, under running nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_presence_set_never_replaces_a_newer_one() -> Result<()> {
    let cluster = OwnCluster::start(
        2,
        "presence",
        vec![
            person("Claire", &[Role::Facilitator], &[]),
            person("Citoyen", &[Role::Citizen], &[]),
            person("Témoin", &[Role::Citizen], &[]),
        ],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let tok = |n: &str| token_of(invites, n);
    let id = |n: &str| convene_tests::invite_of(invites, n).participant.clone();
    let (cit_id, witness) = (id("Citoyen"), id("Témoin"));
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire")).await?;
    let cit = Client::join(&servers[1].ws_url(), "cit", &tok("Citoyen")).await?;
    fac.wait_for(|m| matches!(m, ServerMessage::Presence { participant, online: true } if *participant == cit_id))
        .await?;

    let mut con = redis::Client::open(cluster.redis.url.as_str())?.get_connection()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let newer = loop {
        let sets = presence_sets(&mut con, "presence")?;
        if let Some(s) = sets.into_iter().find(|s| {
            s["present"]
                .as_array()
                .is_some_and(|p| p.iter().any(|x| x == &serde_json::json!(cit_id)))
        }) {
            break s;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "node 1 never stored its set"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let node1 = newer["node"].as_str().expect("a node id").to_string();
    let version = newer["version"].as_u64().expect("a version");
    // The set node 1 had before the citizen came: older.
    let older = serde_json::json!({"node": node1, "version": version - 1, "present": []});
    let channel = "cv:{presence}:presence";
    let _: u64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(older.to_string())
        .query(&mut con)?;
    // A node of the test's own says the witness is online: once node 0 tells it, it has
    // handled the older message before (one subscription, in order).
    let barrier = serde_json::json!({"node": "feedfacecafe", "version": 1, "present": [witness]});
    let _: u64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(barrier.to_string())
        .query(&mut con)?;
    fac.wait_for(|m| matches!(m, ServerMessage::Presence { participant, online: true } if *participant == witness))
        .await?;
    ensure!(
        !told_presence(&fac, &cit_id, false),
        "an older set published after a newer one put the citizen offline on node 0"
    );
    // The heartbeat's path: the older set in node 1's key until node 0 has read it (it reads
    // every 10 s; node 1 writes its own every 10 s too, so it is written again and again).
    let key = format!("cv:{{presence}}:presence:{node1}");
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    while tokio::time::Instant::now() < until {
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(older.to_string())
            .arg("EX")
            .arg(30)
            .query(&mut con)?;
        fac.drain(Duration::from_millis(50)).await;
    }
    ensure!(
        !told_presence(&fac, &cit_id, false),
        "an older set read from the key put the citizen offline on node 0"
    );

    // A newer set is taken: the citizen leaves node 1.
    cit.close().await;
    fac.wait_for(|m| matches!(m, ServerMessage::Presence { participant, online: false } if *participant == cit_id))
        .await?;
    // And the set from before it, published late, does not bring the citizen back.
    let _: u64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(newer.to_string())
        .query(&mut con)?;
    let barrier = serde_json::json!({"node": "feedfacecafe", "version": 2, "present": []});
    let _: u64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(barrier.to_string())
        .query(&mut con)?;
    fac.wait_for(|m| matches!(m, ServerMessage::Presence { participant, online: false } if *participant == witness))
        .await?;
    ensure!(
        !told_presence(&fac, &cit_id, true),
        "an older set published late brought the citizen back online on node 0"
    );
    Ok(())
}

/// A client reconnecting to a node with a `last_seq` the node has not reached, when the node
/// cannot read the log to catch up, is refused (1013, `unavailable`: try again), never
/// welcomed behind what it had; once the log reads again, it is welcomed at its `last_seq`
/// or after. The log is made unreadable here by giving its key another type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_is_never_welcomed_behind_its_last_seq() -> Result<()> {
    use convene_tests::proto::ClientMessage;
    let (cluster, mut fac, mut cit, mut con) =
        OwnCluster::facilitator_and_citizen("retour").await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let tok = |n: &str| token_of(invites, n);
    let seq = fac
        .ok(Command::SendChat {
            room: None,
            text: "avant".into(),
        })
        .await?;
    cit.wait_seq(seq).await?;

    // The log unreadable: node 1 cannot learn what the client says it saw (on node 0).
    let _: () = redis::cmd("RENAME")
        .arg("cv:{retour}:log")
        .arg("cv:{retour}:log-kept")
        .query(&mut con)?;
    let _: () = redis::cmd("SET")
        .arg("cv:{retour}:log")
        .arg("pas un journal")
        .query(&mut con)?;
    let mut back = Client::open(&servers[1].ws_url(), "fac2").await?;
    back.send(&ClientMessage::Hello {
        protocol: convene_tests::proto::PROTOCOL_VERSION,
        token: tok("Claire"),
        last_seq: Some(seq + 1),
    })
    .await?;
    match back.next_message(Duration::from_secs(20)).await? {
        ServerMessage::Welcome { snapshot, .. } => bail!(
            "welcomed at seq {}, behind its last_seq {}",
            snapshot.seq,
            seq + 1
        ),
        ServerMessage::Error {
            code: ErrorCode::Unavailable,
            ..
        } => {}
        other => bail!("an unavailable error first, not {other:?}"),
    }
    let code = back.wait_closed(Duration::from_secs(20)).await?;
    ensure!(code == Some(1013), "closed with {code:?}, not 1013");

    // The log readable again, and the record the client had: welcomed at it.
    let _: () = redis::cmd("DEL").arg("cv:{retour}:log").query(&mut con)?;
    let _: () = redis::cmd("RENAME")
        .arg("cv:{retour}:log-kept")
        .arg("cv:{retour}:log")
        .query(&mut con)?;
    let next = fac
        .ok(Command::SendChat {
            room: None,
            text: "après".into(),
        })
        .await?;
    ensure!(next == seq + 1);
    // Node 1 refuses joins for a second after a catch-up failed (without reading the log
    // again): 1013 says try again later, and a client does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let back = loop {
        match Client::join_with(
            &servers[1].ws_url(),
            "fac2",
            &tok("Claire"),
            convene_tests::proto::PROTOCOL_VERSION,
            Some(next),
        )
        .await
        {
            Ok(c) => break c,
            Err(e)
                if format!("{e:#}").contains("1013") && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let at = back.snapshot.as_ref().map(|s| s.seq);
    ensure!(
        at.is_some_and(|s| s >= next),
        "welcomed at {at:?}, its last_seq is {next}"
    );
    Ok(())
}

/// The record an audit entry is about: the same event, secrets removed.
fn audited_as(entry: &serde_json::Value, record: &serde_json::Value) -> bool {
    let mut event = record["event"].clone();
    if let Some(m) = event.as_object_mut() {
        m.remove("token_hash");
    }
    entry["event"] == event && entry["seq"] == record["seq"]
}

/// An export taken from Redis while another node appends audited records holds a trail that
/// goes with its log: every entry is about a record of the export, the trail verifies, and
/// the export imports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_during_appends_holds_a_trail_that_goes_with_its_log() -> Result<()> {
    let cluster = OwnCluster::start(
        2,
        "sauve",
        vec![person("Claire", &[Role::Facilitator], &[])],
    )
    .await?;
    let (servers, invites) = (&cluster.servers, &cluster.invites);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Announcements are audited (a facilitator's action): from four connections on both
    // nodes (each within its rate limit of 20 messages a second), until told to stop.
    let mut appenders = Vec::new();
    for k in 0..4 {
        let mut fac = Client::join(
            &servers[k % 2].ws_url(),
            "fac",
            &token_of(invites, "Claire"),
        )
        .await?;
        let stopped = stop.clone();
        appenders.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                fac.ok(Command::Broadcast {
                    text: format!("annonce {k}.{n}"),
                })
                .await?;
                n += 1;
                tokio::time::sleep(Duration::from_millis(55)).await;
            }
            anyhow::Ok(n)
        }));
    }
    let dir = cluster.dir.path();
    let mut lengths = Vec::new();
    for i in 0..60 {
        let file = dir.join(format!("export{i}.jsonl"));
        let out = std::process::Command::new(convene_tests::convene_bin())
            .args(["export", "--convention", "sauve", "--redis"])
            .arg(&cluster.redis.url)
            .arg("--out")
            .arg(&file)
            .output()?;
        ensure!(
            out.status.success(),
            "export: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        let records: BTreeMap<u64, &serde_json::Value> = lines
            .iter()
            .filter(|l| l["kind"] == "record")
            .map(|l| (l["record"]["seq"].as_u64().unwrap_or(0), &l["record"]))
            .collect();
        let trail: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["kind"] == "audit")
            .map(|l| &l["entry"])
            .collect();
        for e in &trail {
            let seq = e["seq"].as_u64().unwrap_or(0);
            ensure!(
                records.get(&seq).is_some_and(|r| audited_as(e, r)),
                "export {i}: audit entry {} is about seq {seq}, not in its log (which ends at {:?})",
                e["n"],
                records.keys().next_back()
            );
        }
        let trail_file = dir.join(format!("trail{i}.jsonl"));
        let text: String = trail.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(&trail_file, text)?;
        let verified = std::process::Command::new(convene_tests::convene_bin())
            .arg("audit")
            .arg("verify")
            .arg(&trail_file)
            .output()?;
        ensure!(verified.status.success(), "export {i}: the trail verifies");
        let imported = std::process::Command::new(convene_tests::convene_bin())
            .arg("import")
            .arg(&file)
            .arg("--data")
            .arg(dir.join(format!("import{i}")))
            .output()?;
        ensure!(
            imported.status.success(),
            "export {i} imports: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
        lengths.push(records.len());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut appended = 0;
    for a in appenders {
        appended += a.await??;
    }
    lengths.dedup();
    ensure!(
        lengths.len() > 20 && appended > 40,
        "the exports were taken while records were appended: {appended} announcements, logs of {lengths:?}"
    );
    Ok(())
}

/// A TCP way to a Redis on a Unix socket that can leave the connections that ever sent an
/// `XREAD` unanswered (a follower's read the server never answers, its connection open),
/// while every other connection goes on.
struct XreadFreezer {
    url: String,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl XreadFreezer {
    async fn start(redis_url: &str) -> Result<XreadFreezer> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = redis_url
            .strip_prefix("redis+unix://")
            .expect("a Redis on a Unix socket")
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("redis://{}", listener.local_addr()?);
        let frozen = Arc::new(AtomicBool::new(false));
        let freeze = frozen.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(unix) = tokio::net::UnixStream::connect(&socket).await else {
                    continue;
                };
                let (mut from_node, mut to_node) = tcp.into_split();
                let (mut from_redis, mut to_redis) = unix.into_split();
                let reads = Arc::new(AtomicBool::new(false));
                let held = {
                    let (freeze, reads) = (freeze.clone(), reads.clone());
                    move || freeze.load(Ordering::SeqCst) && reads.load(Ordering::SeqCst)
                };
                let held2 = held.clone();
                let reads2 = reads.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from_node.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        if buf[..n].windows(11).any(|w| w == b"$5\r\nXREAD\r\n") {
                            reads2.store(true, Ordering::SeqCst);
                        }
                        if held2() {
                            std::future::pending::<()>().await;
                        }
                        if to_redis.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = from_redis.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        if held() {
                            std::future::pending::<()>().await;
                        }
                        if to_node.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Ok(XreadFreezer { url, frozen })
    }

    fn freeze(&self, on: bool) {
        self.frozen.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A node whose follower's reads go unanswered (their connections open, Redis holding the
/// records after them: a Redis or a proxy gone silent) still brings its clients every
/// record another node appends: its convention checks the follower against the log's end
/// every 2 s and reads what did not come, saying so in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_follower_does_not_keep_records_from_the_nodes_clients() -> Result<()> {
    let dir = tempdir();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let redis = own_redis(&redis_dir, &[])?;
    let freezer = XreadFreezer::start(&redis.url).await?;
    let node0 = Server::start_with(&dir.path().join("node0"), &["--redis", &redis.url]).await?;
    let node1 = Server::start_with(&dir.path().join("node1"), &["--redis", &freezer.url]).await?;
    let invites = node0
        .http()
        .convention(
            "fige",
            &[
                person("Claire", &[Role::Facilitator], &[]),
                person("Citoyen", &[Role::Citizen], &[]),
            ],
        )
        .await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&node0.ws_url(), "fac", &tok("Claire")).await?;
    let mut cit = Client::join(&node1.ws_url(), "cit", &tok("Citoyen")).await?;
    let seq = fac
        .ok(Command::SendChat {
            room: None,
            text: "avant".into(),
        })
        .await?;
    cit.wait_seq(seq).await?;

    freezer.freeze(true);
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(
            fac.ok(Command::SendChat {
                room: None,
                text: format!("pendant {i}"),
            })
            .await?,
        );
    }
    for s in &seqs {
        cit.wait_for_within(
            Duration::from_secs(30),
            |m| matches!(m, ServerMessage::Event { record } if record.seq == *s),
        )
        .await
        .map_err(|e| anyhow::anyhow!("node 1's client lacks seq {s}: {e}"))?;
    }
    let log = std::fs::read_to_string(&node1.stderr_path)?;
    ensure!(
        log.contains("convention follower behind the store"),
        "node 1 says its follower was behind"
    );
    // The follower gives its unanswered read up (its own limit, not the connection's response
    // timeout, whose error says otherwise) and reads again on a new connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&node1.stderr_path)?.contains("follower read unanswered") {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "node 1's follower never gave up its unanswered read"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Its reads answered again, the follower goes on.
    freezer.freeze(false);
    let last = fac
        .ok(Command::SendChat {
            room: None,
            text: "après".into(),
        })
        .await?;
    cit.wait_seq(last).await?;
    Ok(())
}
