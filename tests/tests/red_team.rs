//! Red team: what a participant (or anyone holding a public link) with a hand-made client can
//! make the real `convene` process hold, send or compute, past what the hardening tests
//! cover. Each test sends at least ten times the budget it checks, then shows that the server
//! and everyone else are unharmed. Sizes and counters are measured, never wall-clock speed.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{self, Command, ErrorCode, Role};
use convene_tests::red::{citizen, goes_on, only_ok_or, paced, paced_over, rss_kib, FAC, RAP};
use convene_tests::{person, tempdir, token_of, Client, Server};

/// A convention with a facilitator, a rapporteur and `n` citizens; returns the invitations.
async fn convention(server: &Server, id: &str, n: usize) -> Result<Vec<proto::api::Invite>> {
    let mut roster = vec![
        person(FAC, &[Role::Facilitator], &[]),
        person(RAP, &[Role::Rapporteur], &[]),
    ];
    for i in 0..n {
        roster.push(person(&citizen(i), &[Role::Citizen], &[]));
    }
    server.http().convention(id, &roster).await
}

// ---------------------------------------------------------------------------------------------
// Help calls: a citizen's pending calls are bounded (5 each, `MAX_PENDING_CALLS`).

const MAX_PENDING_CALLS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_holds_at_most_five_pending_calls() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "appels", 2).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let attacker = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    let mut other = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;

    // Ten times the budget, each call of the largest message (1,000 characters): before the
    // budget, each went whole into every staff snapshot until resolved, without end.
    let message = "à".repeat(1000);
    let calls: Vec<Command> = (0..10 * MAX_PENDING_CALLS)
        .map(|_| Command::CallFacilitator {
            message: message.clone(),
        })
        .collect();
    let (mut attacker, replies) = paced(attacker, calls).await?;
    let accepted = only_ok_or(&replies, ErrorCode::Conflict, "a call past the budget")?;
    ensure!(
        accepted == MAX_PENDING_CALLS,
        "{accepted} calls of one citizen pending, budget {MAX_PENDING_CALLS}"
    );

    // A facilitator's fresh snapshot holds those five and nothing more.
    let fresh = Client::join(&server.ws_url(), "fac2", &token_of(&invites, FAC)).await?;
    let snap = fresh.snapshot.as_ref().context("no snapshot")?;
    let theirs: Vec<u64> = snap
        .calls
        .iter()
        .filter(|c| c.participant == attacker.id())
        .map(|c| c.id)
        .collect();
    ensure!(
        theirs.len() == MAX_PENDING_CALLS,
        "the staff snapshot holds {} of their calls",
        theirs.len()
    );

    // Everyone else is unharmed: another citizen calls, chat goes on.
    let call = other
        .ok(Command::CallFacilitator {
            message: "Le son ne marche pas".into(),
        })
        .await?;
    fac.wait_seq(call).await?;
    goes_on(&mut other, &mut fac, "on continue").await?;

    // One resolved, the citizen may call once more.
    fac.ok(Command::ResolveCall { call: theirs[0] }).await?;
    attacker
        .ok(Command::CallFacilitator {
            message: String::new(),
        })
        .await?;
    match attacker
        .request(Command::CallFacilitator {
            message: String::new(),
        })
        .await?
    {
        Err((ErrorCode::Conflict, _)) => {}
        other => bail!("a sixth pending call: {other:?}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Named versions: a rapporteur names at most 100 versions of a document (`MAX_VERSIONS`).

const MAX_VERSIONS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapporteur_names_at_most_a_hundred_versions_of_a_document() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "versions", 1).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;

    // Four connections of the rapporteur's invitation (the most it holds), each within its
    // rate limit: ten times the budget, each with the longest label. Before the budget,
    // each named version kept a whole copy of the document in the store and a line in every
    // snapshot, without end.
    let rap = token_of(&invites, RAP);
    let mut conns = Vec::new();
    for i in 0..proto::MAX_CONNECTIONS_PER_TOKEN {
        conns.push(Client::join(&server.ws_url(), &format!("rap{i}"), &rap).await?);
    }
    let label = "é".repeat(120);
    let names: Vec<Command> = (0..10 * MAX_VERSIONS)
        .map(|_| Command::NameVersion {
            document: "avis".into(),
            label: label.clone(),
        })
        .collect();
    let (_conns, replies) = paced_over(conns, names).await?;
    let accepted = only_ok_or(&replies, ErrorCode::Conflict, "a version past the budget")?;
    ensure!(
        accepted == MAX_VERSIONS,
        "{accepted} versions named, budget {MAX_VERSIONS}"
    );

    // A fresh snapshot lists 100, the store keeps 100.
    let fresh = Client::join(&server.ws_url(), "c0b", &token_of(&invites, &citizen(0))).await?;
    let doc = fresh
        .snapshot
        .as_ref()
        .and_then(|s| s.documents.iter().find(|d| d.name == "avis"))
        .context("no document in the snapshot")?;
    ensure!(
        doc.versions.len() == MAX_VERSIONS,
        "the snapshot lists {} versions",
        doc.versions.len()
    );
    let r = server
        .http()
        .get("/api/conventions/versions/documents/avis/versions")
        .send()
        .await?;
    ensure!(r.status().as_u16() == 200, "versions: {}", r.status());
    let listed: Vec<proto::VersionInfo> = r.json().await?;
    ensure!(
        listed.len() == MAX_VERSIONS,
        "the store keeps {} versions",
        listed.len()
    );

    // Everyone else is unharmed.
    goes_on(&mut c0, &mut fac, "la convention continue").await?;
    goes_on(&mut fac, &mut c0, "oui").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Awareness (cursors, names) on `/doc`: any reader of a document announces its state, and the
// server relays each update to every connection of the document. Relays of one connection are
// bounded (`docs/actor.rs`: 20 at once, then 10 a second); what comes faster is kept and goes
// out coalesced, the latest state of each client once per 100 ms tick.

const AWARENESS_BURST: usize = 20;
const AWARENESS_PER_SEC: f64 = 10.0;
const AWARENESS_TICK: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_flooding_awareness_reaches_the_others_coalesced() -> Result<()> {
    use convene_tests::ydoc::{DocWorld, W_CIT1, W_CIT2, W_RAP1};
    let w = DocWorld::start().await?;
    let observer = w.yc(W_CIT1).await?;
    let writer = w.yc(W_RAP1).await?;
    // A citizen who only reads the document: any invitation of the convention may do this.
    let attacker = w.yc(W_CIT2).await?;
    let id = attacker.client_id();
    let heard_from = |r: &convene_tests::ydoc::Recorded| {
        r.awareness
            .iter()
            .filter(|u| u.clients.keys().any(|c| c.get() == id))
            .count()
    };

    // Thirty times the burst, as fast as the socket takes them (within the endpoint's own
    // rate limit of 1,000 frames at once), each state near its 4 KiB: before the budget, every
    // one went to every connection of the document, 600 frames and 2.4 MB to each.
    let sent = 30 * AWARENESS_BURST;
    let pad = "x".repeat(3900);
    let started = std::time::Instant::now();
    for i in 1..=sent {
        attacker.set_awareness(&format!(
            r#"{{"user":{{"name":"Curseur {i}"}},"pad":"{pad}"}}"#
        ))?;
    }
    let last = format!(r#""name":"Curseur {sent}""#);
    let got = observer
        .wait_rec("the attacker's latest state", |r| {
            r.present().get(&id).is_some_and(|s| s.contains(&last))
        })
        .await?;
    let elapsed = started.elapsed();
    let relayed = heard_from(&got);
    // The ceiling of the budget over the time the flood took (a slower machine only raises
    // it): the burst, the refill, one coalesced frame per tick, and one tick of slack.
    let ticks = (elapsed.as_secs_f64() / AWARENESS_TICK.as_secs_f64()).ceil() as usize + 1;
    let ceiling =
        AWARENESS_BURST + (elapsed.as_secs_f64() * AWARENESS_PER_SEC).ceil() as usize + ticks;
    ensure!(
        relayed <= ceiling && relayed < sent / 2,
        "the observer received {relayed} awareness frames of {sent} sent over {elapsed:?} \
         (ceiling {ceiling})"
    );

    // Everyone else is unharmed: the observer is connected, a writer's text reaches it, and
    // the writer's cursor too.
    ensure!(
        observer.recorded().closed.is_none() && writer.recorded().closed.is_none(),
        "a connection was closed: observer {:?}, writer {:?}",
        observer.recorded().closed,
        writer.recorded().closed
    );
    writer.push_paragraph("Les bus de nuit circulent le week-end.");
    observer
        .wait_paragraph("Les bus de nuit circulent le week-end.")
        .await?;
    writer.set_awareness(r#"{"user":{"name":"Rita"}}"#)?;
    observer
        .wait_rec("the writer's cursor", |r| {
            r.present().get(&writer.client_id()).map(String::as_str)
                == Some(r#"{"user":{"name":"Rita"}}"#)
        })
        .await?;
    w.other_convention_works("after an awareness flood").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The published opinion (`GET /public/opinion`): anyone holding the public link, thousands at
// once, fetches it. A named version never changes: it is rendered once and the same bytes
// serve every request (`docs/mod.rs`, `DocHub::rendered`), and only that version is read
// from the store.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_rendered_once_for_every_reader() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    opinion_rendered_once(&server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_rendered_once_for_every_reader_in_cluster_mode() -> Result<()> {
    let dir = tempdir();
    let redis = convene_tests::own_redis(dir.path(), &[])?;
    let server = Server::start_with(&dir.path().join("data"), &["--redis", &redis.url]).await?;
    opinion_rendered_once(&server).await
}

async fn opinion_rendered_once(server: &Server) -> Result<()> {
    use convene_tests::ydoc::{doc_url, YClient};
    // Twenty citizens share the reading below: each invitation has its HTTP budget (60 at
    // once) and one diff at a time (PROTOCOL.md §19; red_team_2.rs tests those).
    let readers = 20;
    let invites = convention(server, "avis-public", readers).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;

    // A long opinion (2 MB of text), kept as twenty named versions: the largest reads.
    let url = |name: &str| {
        doc_url(
            &server.addr,
            "avis-public",
            "avis",
            &token_of(&invites, name),
        )
    };
    let writer = YClient::synced("rap", &url(RAP)).await?;
    let reader = YClient::synced("c0", &url(&citizen(0))).await?;
    let paragraphs = 40;
    for i in 0..paragraphs {
        writer.push_paragraph(&format!("{i} {}", "Les bus de nuit. ".repeat(3000)));
    }
    reader
        .wait_doc("every paragraph", |c| c.paragraphs().len() == paragraphs)
        .await?;
    let versions = 20;
    for v in 1..=versions {
        fac.ok(Command::NameVersion {
            document: "avis".into(),
            label: format!("Version {v}"),
        })
        .await?;
    }
    let link = server.http().public_link("avis-public", None).await?;
    fac.ok(Command::PublishDocument {
        document: "avis".into(),
        version: versions,
    })
    .await?;

    // Two hundred anonymous readers, twenty at a time: ten times the budget (one rendering
    // per version) ten times over.
    let renders = server.metric("convene_doc_renders_total").await?;
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut lengths = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let batch: Vec<_> = (0..20)
            .map(|_| {
                let r = http
                    .get(server.url("/public/opinion"))
                    .bearer_auth(&link.token)
                    .send();
                async move {
                    let r = r.await?;
                    anyhow::Ok((r.status().as_u16(), r.bytes().await?.len()))
                }
            })
            .collect();
        for (status, len) in futures_util::future::try_join_all(batch).await? {
            ensure!(status == 200, "the opinion: {status}");
            lengths.insert(len);
        }
    }
    eprintln!("200 readings of the opinion in {:?}", started.elapsed());
    ensure!(
        lengths.len() == 1 && lengths.iter().all(|l| *l > 2_000_000),
        "the readers got different or short opinions: {lengths:?}"
    );
    let rendered = server.metric("convene_doc_renders_total").await? - renders;
    ensure!(
        rendered <= 1,
        "the opinion was rendered {rendered} times for 200 readers"
    );

    // Asking for versions that do not exist (a cheap 404 each) keeps nothing in the
    // renderings kept, so it cannot push the opinion out of them.
    let citizen_token = |i: usize| token_of(&invites, &citizen(i % readers));
    for v in 0..100 {
        let r = http
            .get(server.url(&format!(
                "/api/conventions/avis-public/documents/avis/export?version={}",
                1000 + v
            )))
            .bearer_auth(citizen_token(v))
            .send()
            .await?;
        ensure!(r.status() == 404, "version {}: {}", 1000 + v, r.status());
    }
    let r = http
        .get(server.url("/public/opinion"))
        .bearer_auth(&link.token)
        .send()
        .await?;
    ensure!(r.status() == 200, "the opinion again: {}", r.status());
    let rendered = server.metric("convene_doc_renders_total").await? - renders;
    ensure!(
        rendered <= 1,
        "after 100 unknown versions, the opinion was rendered {rendered} times"
    );

    // Citizens (every participant reads the documents) export the current content two
    // hundred times and ask for forty diffs (made one at a time), twenty requests at a time:
    // rendered once while the document does not change.
    let get = |path: String, i: usize| {
        let r = http
            .get(server.url(&format!(
                "/api/conventions/avis-public/documents/avis/{path}"
            )))
            .bearer_auth(citizen_token(i))
            .send();
        async move {
            let r = r.await?;
            anyhow::Ok((r.status().as_u16(), r.text().await?))
        }
    };
    let many = |path: &'static str, batches: usize| async move {
        let mut bodies = std::collections::BTreeSet::new();
        for _ in 0..batches {
            let batch: Vec<_> = (0..20).map(|i| get(path.to_string(), i)).collect();
            for (status, body) in futures_util::future::try_join_all(batch).await? {
                ensure!(status == 200, "{path}: {status} {body:.200}");
                bodies.insert(body);
            }
        }
        anyhow::Ok(bodies)
    };
    let renders = server.metric("convene_doc_renders_total").await?;
    let exports = many("export?format=html", 10).await?;
    ensure!(
        exports.len() == 1 && exports.iter().all(|b| b.len() > 2_000_000),
        "the exports differ or are short: {} kinds",
        exports.len()
    );
    let diffs = many("diff?from=1", 2).await?;
    ensure!(diffs.len() == 1, "the diffs differ: {} kinds", diffs.len());
    let rendered = server.metric("convene_doc_renders_total").await? - renders;
    // The HTML export, then the Markdown of version 1 and of the current content for the diff.
    ensure!(
        rendered <= 3,
        "200 exports and 40 diffs of an unchanged document: {rendered} renderings"
    );

    // A change is in the next export: rendered once more.
    writer.push_paragraph("Une dernière phrase.");
    reader
        .wait_doc("the last paragraph", |c| {
            c.paragraphs().len() == paragraphs + 1
        })
        .await?;
    let mut fresh = false;
    for _ in 0..50 {
        let (_, body) = get("export?format=md".into(), 0).await?;
        if body.contains("Une dernière phrase.") {
            fresh = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(fresh, "the export does not follow a change");

    // Everyone else is unharmed.
    goes_on(&mut c0, &mut fac, "on lit l'avis").await?;
    Ok(())
}

/// A query awareness (one byte) is answered with every state the document holds: it shares
/// the awareness budget of the connection, and a query past it gets no answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_querying_awareness_in_a_loop_is_answered_within_its_budget() -> Result<()> {
    use convene_tests::ydoc::{DocWorld, W_CIT1, W_CIT2, W_RAP1, W_RAP2};
    use yrs::sync::Message;
    let w = DocWorld::start().await?;
    // Three others with states near 4 KiB: each answer is 12 KB.
    let mut others = Vec::new();
    for (i, name) in [W_RAP1, W_RAP2, W_CIT1].into_iter().enumerate() {
        let c = w.yc(name).await?;
        c.set_awareness(&format!(
            r#"{{"user":{{"name":"{i}"}},"pad":"{}"}}"#,
            "x".repeat(4000)
        ))?;
        others.push(c);
    }
    let attacker = w.yc(W_CIT2).await?;
    attacker
        .wait_rec("the three states", |r| r.present().len() == 3)
        .await?;
    let before = attacker.recorded().awareness.len();

    // Forty times the burst, within the endpoint's own rate limit (1,000 frames at once).
    let sent = 40 * AWARENESS_BURST;
    let started = std::time::Instant::now();
    for _ in 0..sent {
        attacker.send_message(&Message::AwarenessQuery)?;
    }
    // What the server answers arrives within a few seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed();
    let answers = attacker.recorded().awareness.len() - before;
    let ceiling = AWARENESS_BURST + (elapsed.as_secs_f64() * AWARENESS_PER_SEC).ceil() as usize + 1;
    ensure!(
        answers <= ceiling && answers < sent / 2,
        "{answers} answers to {sent} queries over {elapsed:?} (ceiling {ceiling})"
    );
    ensure!(
        attacker.recorded().closed.is_none(),
        "the querying reader was closed: {:?}",
        attacker.recorded().closed
    );

    // The others are unharmed: a cursor still reaches everyone.
    others[0].set_awareness(r#"{"user":{"name":"Rita"}}"#)?;
    for c in others.iter().skip(1) {
        c.wait_rec("Rita's cursor", |r| {
            r.present().get(&others[0].client_id()).map(String::as_str)
                == Some(r#"{"user":{"name":"Rita"}}"#)
        })
        .await?;
    }
    w.other_convention_works("after awareness queries").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Documents and writing groups: every snapshot lists them all. A facilitator's hand-made
// client creates at most 50 documents and 100 writing groups (`domain/documents.rs`).

const MAX_DOCUMENTS: usize = 50;
const MAX_WRITING_GROUPS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_writing_groups_are_bounded_per_convention() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "groupes", 2).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    let mut c1 = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;
    let fac_token = token_of(&invites, FAC);
    let mut conns = Vec::new();
    for i in 0..proto::MAX_CONNECTIONS_PER_TOKEN {
        conns.push(Client::join(&server.ws_url(), &format!("fac{i}"), &fac_token).await?);
    }
    let members = vec![c0.id(), c1.id()];

    // Ten times each budget, with the longest names and titles.
    let pad = |i: usize| format!("{i:04}{}", "x".repeat(60));
    let docs: Vec<Command> = (0..10 * MAX_DOCUMENTS)
        .map(|i| Command::CreateDocument {
            name: pad(i),
            title: "é".repeat(120),
        })
        .collect();
    let (conns, replies) = paced_over(conns, docs).await?;
    let made = only_ok_or(&replies, ErrorCode::Conflict, "a document past the budget")?;
    ensure!(
        made == MAX_DOCUMENTS,
        "{made} documents, budget {MAX_DOCUMENTS}"
    );
    let groups: Vec<Command> = (0..10 * MAX_WRITING_GROUPS)
        .map(|i| Command::SetWritingGroup {
            group: pad(i),
            members: members.clone(),
        })
        .collect();
    let (mut conns, replies) = paced_over(conns, groups).await?;
    let made = only_ok_or(&replies, ErrorCode::Conflict, "a group past the budget")?;
    ensure!(
        made == MAX_WRITING_GROUPS,
        "{made} writing groups, budget {MAX_WRITING_GROUPS}"
    );

    // A fresh snapshot lists exactly the budgets; an existing group may still change.
    let fresh = Client::join(&server.ws_url(), "c0b", &token_of(&invites, &citizen(0))).await?;
    let snap = fresh.snapshot.as_ref().context("no snapshot")?;
    ensure!(
        snap.documents.len() == MAX_DOCUMENTS && snap.writing_groups.len() == MAX_WRITING_GROUPS,
        "the snapshot lists {} documents and {} groups",
        snap.documents.len(),
        snap.writing_groups.len()
    );
    let fac = &mut conns[0];
    fac.ok(Command::SetWritingGroup {
        group: pad(0),
        members: vec![c0.id()],
    })
    .await?;

    // Everyone else is unharmed.
    goes_on(&mut c0, &mut c1, "on écrit").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Welcomes: a `hello` costs the server a whole snapshot (in version 1, the whole roster: 530
// KB and tens of milliseconds at 5,000 people). One invitation is welcomed 40 times at once,
// then once every 3 seconds (`WELCOME_BURST`, `WELCOME_EVERY_MS`); a hello past that is
// refused before any snapshot is built (`rate_limited`, close 4008).

const WELCOME_BURST: usize = 40;
const WELCOME_EVERY: Duration = Duration::from_secs(3);

/// Say hello; `Ok(true)` for a welcome, `Ok(false)` for a refusal with `rate_limited` and 4008.
async fn hello_once(server: &Server, token: &str) -> Result<bool> {
    let mut c = Client::open(&server.ws_url(), "hello").await?;
    c.send(&proto::ClientMessage::Hello {
        protocol: 1,
        token: token.to_string(),
        last_seq: None,
    })
    .await?;
    let first = c
        .wait_for(|m| {
            matches!(
                m,
                proto::ServerMessage::Welcome { .. } | proto::ServerMessage::Error { .. }
            )
        })
        .await?;
    match first {
        proto::ServerMessage::Welcome { .. } => {
            c.close().await;
            Ok(true)
        }
        proto::ServerMessage::Error { code, message, .. } => {
            ensure!(
                code == ErrorCode::RateLimited,
                "hello refused: {code:?} {message}"
            );
            let closed = c.wait_closed(Duration::from_secs(10)).await?;
            ensure!(
                closed == Some(proto::close::RATE_LIMITED),
                "a refused hello closed with {closed:?}"
            );
            Ok(false)
        }
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_saying_hello_in_a_loop_is_welcomed_within_its_budget() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "bonjour", 1000).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c1 = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;
    let token = token_of(&invites, &citizen(0));

    // Ten times the burst, one after the other.
    let sent = 10 * WELCOME_BURST;
    let started = std::time::Instant::now();
    let mut welcomed = 0;
    for _ in 0..sent {
        if hello_once(&server, &token).await? {
            welcomed += 1;
        }
    }
    let elapsed = started.elapsed();
    let ceiling =
        WELCOME_BURST + (elapsed.as_secs_f64() / WELCOME_EVERY.as_secs_f64()).ceil() as usize + 1;
    ensure!(
        welcomed <= ceiling && welcomed < sent / 2,
        "{welcomed} welcomes for {sent} hellos over {elapsed:?} (ceiling {ceiling})"
    );

    // Everyone else is unharmed; the invitation is welcomed again after a pause.
    goes_on(&mut c1, &mut fac, "bonjour à tous").await?;
    tokio::time::sleep(WELCOME_EVERY + Duration::from_millis(500)).await;
    ensure!(
        hello_once(&server, &token).await?,
        "no welcome after a pause"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Readers who never read: a response waits in the server until the client takes it. A
// rendering is shared by every response that carries it, never copied per request, so that
// stalled readers of the published opinion (anyone holding the public link) hold no copy each.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_of_the_opinion_hold_no_copy_of_it() -> Result<()> {
    use convene_tests::ydoc::{doc_url, YClient};
    use tokio::io::AsyncWriteExt;
    let dir = tempdir();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--http-header-timeout-secs", "2"],
    )
    .await?;
    let invites = convention(&server, "lenteurs", 1).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    // An opinion of 10 MB: more than the kernel buffers of a connection take.
    let url = |name: &str| doc_url(&server.addr, "lenteurs", "avis", &token_of(&invites, name));
    let writer = YClient::synced("rap", &url(RAP)).await?;
    let reader = YClient::synced("c0", &url(&citizen(0))).await?;
    let paragraphs = 200;
    for i in 0..paragraphs {
        writer.push_paragraph(&format!("{i} {}", "Les bus de nuit. ".repeat(3000)));
    }
    reader
        .wait_doc("every paragraph", |c| c.paragraphs().len() == paragraphs)
        .await?;
    fac.ok(Command::NameVersion {
        document: "avis".into(),
        label: "Version finale".into(),
    })
    .await?;
    let link = server.http().public_link("lenteurs", None).await?;
    fac.ok(Command::PublishDocument {
        document: "avis".into(),
        version: 1,
    })
    .await?;
    let whole = reqwest::Client::new()
        .get(server.url("/public/opinion"))
        .bearer_auth(&link.token)
        .send()
        .await?
        .bytes()
        .await?
        .len();
    ensure!(whole > 10_000_000, "the opinion is {whole} bytes");

    // Forty readers ask and never read, their receive buffers at the smallest.
    let pid = server.pid().context("no pid")?;
    let before = rss_kib(pid)?;
    let mut stalled = Vec::new();
    for _ in 0..40 {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let mut tcp = socket.connect(server.addr.parse()?).await?;
        tcp.write_all(
            format!(
                "GET /public/opinion HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
                server.addr, link.token
            )
            .as_bytes(),
        )
        .await?;
        stalled.push(tcp);
    }
    // What the server holds for them once it has written what their sockets take.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = rss_kib(pid)?.saturating_sub(before);
    let copies = (grown * 1024) as f64 / whole as f64;
    eprintln!("40 stalled readers: the server grew by {grown} KiB ({copies:.2} copies)");
    ensure!(
        copies < 4.0,
        "40 stalled readers grew the server by {grown} KiB: {copies:.1} copies of the opinion"
    );

    // Everyone else is unharmed: another reader gets the opinion, the convention goes on.
    let again = reqwest::Client::new()
        .get(server.url("/public/opinion"))
        .bearer_auth(&link.token)
        .send()
        .await?
        .bytes()
        .await?
        .len();
    ensure!(
        again == whole,
        "another reader got {again} bytes of {whole}"
    );
    goes_on(&mut c0, &mut fac, "on attend les lecteurs").await?;

    // A response the peer takes nothing of for the header timeout (here 2 s) is dropped, its
    // connection with it: none of the forty is held any more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let connections = server.metric("convene_http_connections").await?;
    ensure!(
        connections < 10,
        "{connections} HTTP connections still open for 40 stalled readers"
    );
    for mut tcp in stalled {
        use tokio::io::AsyncReadExt;
        let mut sink = vec![0u8; 1 << 20];
        let mut got = 0usize;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut sink)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => got += n,
                Err(_) => bail!("a stalled reader's connection is still open"),
            }
        }
        ensure!(
            got < whole,
            "a stalled reader got the whole opinion after all"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The roster on request (`get_roster`, protocol version 2): a few bytes ask for the whole
// roster (144 KB at 1,000 people). One connection is sent each version of the roster once;
// asked again for a version it was sent, it gets `not_modified`.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_sent_each_version_of_the_roster_once() -> Result<()> {
    use proto::{ClientMessage, ServerMessage};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "registre", 1000).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut cit = Client::join_with(
        &server.ws_url(),
        "c0",
        &token_of(&invites, &citizen(0)),
        2,
        None,
    )
    .await?;
    cit.inbox.clear();

    // Ten times the budget (one), within the rate limit, never naming a version.
    let asked = 10;
    for _ in 0..asked {
        cit.send(&ClientMessage::GetRoster { version: None })
            .await?;
    }
    let mut rosters = 0;
    let mut not_modified = 0;
    while rosters + not_modified < asked {
        match cit
            .wait_for(|m| {
                matches!(
                    m,
                    ServerMessage::Roster { .. } | ServerMessage::NotModified { .. }
                )
            })
            .await?
        {
            ServerMessage::Roster { people, .. } => {
                ensure!(people.len() == 1002, "a roster of {}", people.len());
                rosters += 1;
            }
            _ => not_modified += 1,
        }
    }
    ensure!(
        rosters == 1,
        "{rosters} whole rosters for {asked} asks on one connection"
    );

    // A new version is sent once more.
    let added = server
        .http()
        .post("/api/conventions/registre/roster")
        .json(&vec![person("Nouvelle Citoyenne", &[Role::Citizen], &[])])
        .send()
        .await?;
    ensure!(
        added.status().is_success(),
        "roster import: {}",
        added.status()
    );
    cit.wait_event("participant_added").await?;
    cit.send(&ClientMessage::GetRoster { version: None })
        .await?;
    let r = cit
        .wait_for(|m| {
            matches!(
                m,
                ServerMessage::Roster { .. } | ServerMessage::NotModified { .. }
            )
        })
        .await?;
    ensure!(
        matches!(&r, ServerMessage::Roster { people, .. } if people.len() == 1003),
        "the new version: {:?}",
        std::mem::discriminant(&r)
    );

    // Everyone else is unharmed.
    let mut c1 = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;
    goes_on(&mut c1, &mut fac, "le registre").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sync step 1 on `/doc`: four bytes ask for the whole document (an empty state vector). A
// stock provider sends one when it connects (and at its `resyncInterval`, if set): each
// connection is answered 10 at once, then one every 2 seconds; past that, no answer.

const SYNC_BURST: usize = 10;
const SYNC_EVERY: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_asking_for_the_whole_document_in_a_loop_is_answered_within_its_budget(
) -> Result<()> {
    use convene_tests::ydoc::{DocWorld, W_CIT1, W_CIT2, W_RAP1};
    use yrs::sync::{Message, SyncMessage};
    let w = DocWorld::start().await?;
    let writer = w.yc(W_RAP1).await?;
    let reader = w.yc(W_CIT1).await?;
    // A document of 256 KiB: the burst's answers fit a connection's queue.
    for k in 0..2 {
        writer.push_paragraph(&format!("{k}{}", "x".repeat(128 * 1024)));
    }
    reader
        .wait_doc("the 256 KiB document", |c| c.paragraphs().len() >= 2)
        .await?;
    // The attacker reads everything it is sent (it would be closed as a slow consumer
    // otherwise): the cost is the server's bandwidth, a whole document per four bytes.
    let attacker = w.yc(W_CIT2).await?;
    let before = attacker.recorded().step2_at.len();
    let sent = 10 * SYNC_BURST;
    let started = std::time::Instant::now();
    for _ in 0..sent {
        attacker.send_message(&Message::Sync(SyncMessage::SyncStep1(
            yrs::StateVector::default(),
        )))?;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let elapsed = started.elapsed();
    let answers = attacker.recorded().step2_at.len() - before;
    let ceiling =
        SYNC_BURST + (elapsed.as_secs_f64() / SYNC_EVERY.as_secs_f64()).ceil() as usize + 1;
    ensure!(
        answers <= ceiling && answers < sent / 2,
        "{answers} whole documents for {sent} asks over {elapsed:?} (ceiling {ceiling})"
    );
    ensure!(
        attacker.recorded().closed.is_none(),
        "the asking reader was closed: {:?}",
        attacker.recorded().closed
    );

    // Everyone else is unharmed: the writer's next paragraph reaches the other reader.
    writer.push_paragraph("Et une de plus.");
    reader.wait_paragraph("Et une de plus.").await?;
    w.other_convention_works("after sync asks").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request bodies: only organizer routes take one (a roster, invitations, a convention, the
// public link), up to 4 MiB. A body is read only once the request carries the organizer
// token: before, anyone could send 4 MiB bodies on many connections, never finish them, and
// have the server hold them (hyper has no body timeout), without a token.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_the_organizer_token_is_refused_before_it_is_read() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "corps", 1).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    let pid = server.pid().context("no pid")?;
    let before = rss_kib(pid)?;

    // Forty connections, ten times four, each a 4 MB body announced and 3.9 MB of it sent:
    // no token, a participant's, a wrong one.
    let body = format!(r#"{{"id":"{}"#, "a".repeat(3_900_000));
    let participant = token_of(&invites, &citizen(0));
    let mut held = Vec::new();
    for i in 0..40 {
        let auth = match i % 3 {
            0 => String::new(),
            1 => format!("Authorization: Bearer {participant}\r\n"),
            _ => "Authorization: Bearer pas-le-bon\r\n".to_string(),
        };
        let path = if i % 2 == 0 {
            "/api/conventions"
        } else {
            "/api/conventions/corps/roster"
        };
        let mut tcp = tokio::net::TcpStream::connect(&server.addr).await?;
        tcp.write_all(
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 4000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
        // The server may answer and close before all of it is sent.
        let _ = tcp.write_all(body.as_bytes()).await;
        held.push(tcp);
    }
    // Each is answered 401 without the rest of its body.
    for (i, tcp) in held.iter_mut().enumerate() {
        let mut head = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut head))
            .await
            .with_context(|| format!("connection {i}: no answer without the whole body"))??;
        let head = String::from_utf8_lossy(&head[..n]).to_string();
        ensure!(
            head.starts_with("HTTP/1.1 401"),
            "connection {i}: answered {head:?}"
        );
    }
    let grown = rss_kib(pid)?.saturating_sub(before);
    ensure!(
        grown < 40 * 1024,
        "40 unfinished bodies grew the server by {grown} KiB"
    );

    // The organizer still imports; everyone else is unharmed.
    let r = server
        .http()
        .post("/api/conventions/corps/roster")
        .json(&vec![person("Nouveau Citoyen", &[Role::Citizen], &[])])
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "the organizer's import: {}",
        r.status()
    );
    goes_on(&mut c0, &mut fac, "on continue").await?;
    drop(held);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Secret ballots, seen from the others: what a facilitator, a guarantor and another citizen
// receive while someone votes must not depend on what they voted (PROTOCOL.md, "Named and
// secret polls"). Two voters cast ballots as different as can be (one character and 2,000; two
// options): every message the others receive after each vote is the same, numbers aside.

/// Every message read since the last call, as JSON with each number replaced by 0.
fn seen(c: &mut Client) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(m) = c.inbox.pop_front() {
        let json = serde_json::to_string(&m).unwrap_or_default();
        let mut norm = String::new();
        let mut in_number = false;
        for ch in json.chars() {
            if ch.is_ascii_digit() {
                if !in_number {
                    norm.push('0');
                }
                in_number = true;
            } else {
                in_number = false;
                norm.push(ch);
            }
        }
        out.push(norm);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_others_receive_during_a_secret_vote_does_not_depend_on_the_ballot() -> Result<()> {
    use convene_tests::poll_spec;
    use proto::{Ballot, PollKind};
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let mut roster = vec![
        person(FAC, &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..3 {
        roster.push(person(&citizen(i), &[Role::Citizen], &[]));
    }
    let invites = server.http().convention("isoloir", &roster).await?;
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &token_of(&invites, FAC)).await?;
    let mut gar = Client::join(&url, "gar", &token_of(&invites, "Hélène Garante")).await?;
    let mut gar2 =
        Client::join_with(&url, "gar2", &token_of(&invites, "Hélène Garante"), 2, None).await?;
    let mut obs = Client::join(&url, "obs", &token_of(&invites, &citizen(2))).await?;
    let mut a = Client::join(&url, "a", &token_of(&invites, &citizen(0))).await?;
    let mut b = Client::join(&url, "b", &token_of(&invites, &citizen(1))).await?;

    let long = "Une réponse très longue. ".repeat(80);
    let cases = [
        (
            PollKind::Text { max_chars: 2000 },
            Ballot::Text { text: "x".into() },
            Ballot::Text { text: long.clone() },
        ),
        (
            PollKind::Single {
                options: vec!["Oui".into(), "Non".into()],
            },
            Ballot::Single { choice: 0 },
            Ballot::Single { choice: 1 },
        ),
    ];
    for (kind, first, second) in cases {
        let (poll, _) = fac
            .draft_and_open(poll_spec("Votre avis ?", kind, true, false))
            .await?;
        let mut views: Vec<Vec<Vec<String>>> = Vec::new();
        for (voter, ballot) in [(&mut a, first), (&mut b, second)] {
            // Past the tally's quarter-second tick, everyone reads what came, then the vote.
            for c in [&mut fac, &mut gar, &mut gar2, &mut obs] {
                c.drain(Duration::from_millis(600)).await;
                c.inbox.clear();
            }
            voter
                .ok(Command::Vote {
                    poll: poll.clone(),
                    ballot,
                })
                .await?;
            let mut after = Vec::new();
            for c in [&mut fac, &mut gar, &mut gar2, &mut obs] {
                c.drain(Duration::from_millis(600)).await;
                after.push(seen(c));
            }
            views.push(after);
        }
        // The staff do follow the vote: its participation reached them.
        ensure!(
            views
                .iter()
                .all(|v| v[0].iter().any(|m| m.contains("poll_tally"))),
            "poll {poll}: the facilitator saw no participation: {views:#?}"
        );
        for (who, (one, two)) in ["facilitator", "guarantor", "guarantor (v2)", "citizen"]
            .iter()
            .zip(views[0].iter().zip(&views[1]))
        {
            ensure!(
                one == two,
                "poll {poll}: the {who} received\n{one:#?}\nafter the first ballot and\n{two:#?}\nafter the second"
            );
            ensure!(
                !two.iter().any(|m| m.contains("longue")),
                "poll {poll}: the {who} received a ballot's text before the close"
            );
        }
        fac.ok(Command::ClosePoll { poll }).await?;
    }
    Ok(())
}
