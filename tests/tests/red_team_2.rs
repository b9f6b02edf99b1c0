//! Red team, second pass: what the first (`red_team.rs`) left open. Each test sends at least
//! ten times the budget it checks, with a hand-made client, then shows that the server and
//! everyone else are unharmed. Counts, typed errors and close codes; never wall-clock speed.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{self, Command, ErrorCode, Role};
use convene_tests::red::{
    ceiling, citizen, convention, get_as, goes_on, only_ok_or, paced, paced_over, rss_kib, FAC,
    GAR, RAP,
};
use convene_tests::ydoc::{doc_url, YClient};
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

// ---------------------------------------------------------------------------------------------
// Polls: every facilitator's and guarantor's snapshot lists every poll of the convention,
// drafts and closed ones. A convention holds at most 1,000 polls and 2 MiB of poll text
// (`domain/polls.rs`, `MAX_POLLS`, `MAX_POLL_TEXT_BYTES`); past them a draft is `conflict`.

const MAX_POLLS: usize = 1000;
const MAX_POLL_TEXT_BYTES: usize = 2 * 1024 * 1024;

fn facilitator(i: usize) -> String {
    format!("Animateur {i:02}")
}

/// A convention with `n` more facilitators, and four connections of each: connections within
/// their rate limit that draft fast enough to send ten times a budget.
async fn drafting_room(
    server: &Server,
    id: &str,
    n: usize,
) -> Result<(Vec<proto::api::Invite>, Vec<Client>)> {
    let extra = (0..n)
        .map(|i| person(&facilitator(i), &[Role::Facilitator], &[]))
        .collect();
    let invites = convention(server, id, extra, 1).await?;
    let mut conns = Vec::new();
    for i in 0..n {
        for k in 0..4 {
            let token = token_of(&invites, &facilitator(i));
            conns.push(Client::join(&server.ws_url(), &format!("f{i}-{k}"), &token).await?);
        }
    }
    Ok((invites, conns))
}

fn small_poll(i: usize) -> Command {
    Command::DraftPoll {
        spec: poll_spec(
            &format!("Question {i} : faut-il des bus de nuit ?"),
            proto::PollKind::Single {
                options: vec!["Oui".into(), "Non".into()],
            },
            false,
            false,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilitators_draft_at_most_a_thousand_polls() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (invites, conns) = drafting_room(&server, "sondages", 10).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;

    // A weekend's 60 polls, the way a facilitator prepares them: every one accepted.
    let weekend: Vec<Command> = (0..60).map(small_poll).collect();
    let (fac2, replies) = paced(
        Client::join(&server.ws_url(), "fac2", &token_of(&invites, FAC)).await?,
        weekend,
    )
    .await?;
    ensure!(
        replies.iter().all(|r| r.is_ok()),
        "a weekend's 60 polls: {:?}",
        replies.iter().find(|r| r.is_err())
    );
    fac2.close().await;

    // Ten times the budget, drafted by forty connections at once.
    let flood: Vec<Command> = (60..10 * MAX_POLLS).map(small_poll).collect();
    let (_conns, replies) = paced_over(conns, flood).await?;
    let accepted = only_ok_or(&replies, ErrorCode::Conflict, "a draft past the budget")?;
    ensure!(
        accepted + 60 == MAX_POLLS,
        "{} polls drafted, budget {MAX_POLLS}",
        accepted + 60
    );

    // A fresh staff snapshot holds those and nothing more.
    let fresh = Client::join(&server.ws_url(), "gar", &token_of(&invites, GAR)).await?;
    let polls = fresh.snapshot.as_ref().context("no snapshot")?.polls.len();
    ensure!(polls == MAX_POLLS, "the staff snapshot lists {polls} polls");

    // Everyone else is unharmed; a deleted draft makes room for one more.
    goes_on(&mut c0, &mut fac, "on vote bientôt").await?;
    fac.ok(Command::DeletePoll { poll: "q1".into() }).await?;
    fac.ok(small_poll(0)).await?;
    match fac.request(small_poll(1)).await? {
        Err((ErrorCode::Conflict, _)) => {}
        other => anyhow::bail!("a draft past the budget: {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_of_a_conventions_polls_is_bounded() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // Eight connections: each accepted poll (11 KB) reaches every staff connection, and forty
    // test clients on two threads would not read 2 MB each as fast as they are drafted.
    let (invites, conns) = drafting_room(&server, "longues", 2).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;

    // The largest poll each field allows: a question of 500 characters, 50 options of 200.
    let big = |i: usize| {
        let question = format!("{i:05} {}", "q".repeat(494));
        let options: Vec<String> = (0..50)
            .map(|k| format!("{k:03}{}", "o".repeat(197)))
            .collect();
        let bytes = question.len() + options.iter().map(String::len).sum::<usize>();
        let spec = poll_spec(&question, proto::PollKind::Single { options }, false, false);
        (Command::DraftPoll { spec }, bytes)
    };
    let each = big(0).1;
    let n = 10 * MAX_POLL_TEXT_BYTES / each;
    let (_conns, replies) = paced_over(conns, (0..n).map(|i| big(i).0).collect()).await?;
    let accepted = only_ok_or(
        &replies,
        ErrorCode::Conflict,
        "a draft past the text budget",
    )?;
    ensure!(
        accepted == MAX_POLL_TEXT_BYTES / each,
        "{accepted} polls of {each} bytes drafted, {} bytes of text; budget {MAX_POLL_TEXT_BYTES}",
        accepted * each
    );

    // Everyone else is unharmed; the next poll is refused too, typed.
    goes_on(&mut c0, &mut fac, "on lit les options").await?;
    match fac.request(big(n).0).await? {
        Err((ErrorCode::Conflict, m)) if m.contains("text") => {}
        other => anyhow::bail!("a draft past the text budget: {other:?}"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Visits: a `visit` builds the visitor a whole snapshot (in version 1 the whole roster) and
// appends an event everyone sees. A participant visits 40 times at once, then once every 3
// seconds (the welcome's budget, `WELCOME_BURST`, `WELCOME_EVERY_MS`, counted apart); past
// that, `rate_limited`, before anything is decided.

const VISIT_BURST: f64 = 40.0;
const VISITS_PER_SEC: f64 = 1.0 / 3.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guarantor_visiting_rooms_in_a_loop_is_within_a_budget() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "visites", vec![], 1000).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;
    fac.ok(Command::CreateRooms {
        count: Some(2),
        names: vec![],
    })
    .await?;
    let mut gar = Client::join(&server.ws_url(), "gar", &token_of(&invites, GAR)).await?;
    let before = server.log("visites")?.len();

    // Ten times the burst, from room to room, within the connection's rate limit.
    let sent = 10 * VISIT_BURST as usize;
    let mut replies = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut room = "r1";
    let started = Instant::now();
    for _ in 0..sent {
        tick.tick().await;
        let reply = gar.request(Command::Visit { room: room.into() }).await?;
        if reply.is_ok() {
            room = if room == "r1" { "r2" } else { "r1" };
        }
        replies.push(reply);
        gar.inbox.clear();
    }
    let elapsed = started.elapsed();
    let accepted = only_ok_or(&replies, ErrorCode::RateLimited, "a visit past the budget")?;
    let most = ceiling(VISIT_BURST, VISITS_PER_SEC, elapsed);
    ensure!(
        accepted <= most && accepted < sent / 2,
        "{accepted} visits of {sent} accepted over {elapsed:?} (ceiling {most})"
    );
    // Only those reached the log.
    let moves = server.log("visites")?.len() - before;
    ensure!(moves == accepted, "{moves} records for {accepted} visits");

    // Everyone else is unharmed; the guarantor visits again after a pause.
    goes_on(&mut c0, &mut fac, "on nous observe").await?;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    gar.ok(Command::Visit { room: room.into() }).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Document connections: each costs the server a sync step, the awareness states it holds, and
// fresh per-connection budgets (10 whole documents asked at once). One participant opens a
// document 40 times at once, then once a second (`docs/actor.rs`, `JOIN_BURST`,
// `JOINS_PER_SEC`); past that, close 4429 before anything is sent.

const JOIN_BURST: f64 = 40.0;
const JOINS_PER_SEC: f64 = 1.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_to_a_document_in_a_loop_is_within_a_budget() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "reconnexions", vec![], 2).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let url = |name: &str| {
        doc_url(
            &server.addr,
            "reconnexions",
            "avis",
            &token_of(&invites, name),
        )
    };
    let writer = YClient::synced("rap", &url(RAP)).await?;
    let reader = YClient::synced("c1", &url(&citizen(1))).await?;
    writer.push_paragraph("Les bus de nuit");
    reader.wait_paragraph("Les bus de nuit").await?;

    // Ten times the burst, one connection after the other, each asking for the whole document.
    let sent = 10 * JOIN_BURST as usize;
    let started = Instant::now();
    let mut served = 0;
    for i in 0..sent {
        let mut c = YClient::connect(&format!("c0-{i}"), &url(&citizen(0))).await?;
        let r = c
            .wait_rec("served or closed", |r| r.synced || r.closed.is_some())
            .await?;
        if r.synced {
            served += 1;
        } else {
            ensure!(
                r.closed == Some(Some(convene::docs::close::RATE_LIMITED)) && r.frames == 0,
                "connection {i} closed with {:?} after {} frames",
                r.closed,
                r.frames
            );
        }
        c.close().await;
    }
    let elapsed = started.elapsed();
    let most = ceiling(JOIN_BURST, JOINS_PER_SEC, elapsed);
    ensure!(
        served <= most && served < sent / 2,
        "{served} of {sent} connections served over {elapsed:?} (ceiling {most})"
    );

    // Everyone else is unharmed; the participant is served again after a pause.
    writer.push_paragraph("Les pistes cyclables");
    reader.wait_paragraph("Les pistes cyclables").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = YClient::synced("c0", &url(&citizen(0))).await?;
    again.wait_paragraph("Les pistes cyclables").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Participants' HTTP requests (exports, versions, diffs, the video meeting...): each asks the
// convention's task at least once. One invitation makes 60 at once, then 5 a second
// (`HTTP_BURST`, `HTTP_PER_SEC`); past that, 429 `rate_limited`, before the task is asked.

const HTTP_BURST: f64 = 60.0;
const HTTP_PER_SEC: f64 = 5.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_requesting_in_a_loop_is_within_a_budget() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = convention(&server, "requetes", vec![], 2).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c1 = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let http = reqwest::Client::new();
    let versions = "/api/conventions/requetes/documents/avis/versions";
    let attacker = token_of(&invites, &citizen(0));

    // Ten times the burst, one after the other on one keep-alive connection.
    let sent = 10 * HTTP_BURST as usize;
    let started = Instant::now();
    let mut answered = 0;
    for _ in 0..sent {
        match get_as(&http, &server, versions, &attacker).await? {
            (200, _, _) => answered += 1,
            (429, _, Some(ErrorCode::RateLimited)) => {}
            (status, body, _) => {
                anyhow::bail!("{status}: {}", String::from_utf8_lossy(&body))
            }
        }
    }
    let elapsed = started.elapsed();
    let most = ceiling(HTTP_BURST, HTTP_PER_SEC, elapsed);
    ensure!(
        answered <= most && answered < sent / 2,
        "{answered} of {sent} requests answered over {elapsed:?} (ceiling {most})"
    );

    // Everyone else is unharmed: another participant's export, the organizer, the convention.
    let export = "/api/conventions/requetes/documents/avis/export";
    let (status, _, _) = get_as(&http, &server, export, &token_of(&invites, &citizen(1))).await?;
    ensure!(status == 200, "another participant's export: {status}");
    let status = server.http().get(versions).send().await?.status();
    ensure!(status == 200, "the organizer: {status}");
    goes_on(&mut c1, &mut fac, "on exporte").await?;
    // The invitation is answered again after a pause.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (status, _, _) = get_as(&http, &server, versions, &attacker).await?;
    ensure!(status == 200, "after a pause: {status}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Diffs: up to a second of a blocking thread each, one at a time in the process. A participant
// has one diff under way at a time (`gateway/documents.rs`, `DIFFING`); another at the same
// time is 429 `rate_limited`: a loop never queues more than one diff ahead of anyone else's.

/// A convention `id` whose document has two named versions as different as can be, of
/// `lines` paragraphs of about `width` bytes each; its invitations and its facilitator.
async fn two_versions(
    server: &Server,
    id: &str,
    lines: usize,
    width: usize,
) -> Result<(Vec<proto::api::Invite>, Client)> {
    let invites = convention(server, id, vec![], 2).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let url = |name: &str| doc_url(&server.addr, id, "avis", &token_of(&invites, name));
    let writer = YClient::synced("rap", &url(RAP)).await?;
    for (round, word) in ["bus", "vélo"].into_iter().enumerate() {
        let pad = word.repeat(width / word.len());
        let lines: Vec<String> = (0..lines)
            .map(|i| format!("{word} {} {i} {pad}", (i * 7919 + round) % 1013))
            .collect();
        // Updates within the 2 MiB frame of `/doc`.
        let per_frame = (1_000_000 / (width + 20)).max(1);
        writer.set_paragraphs(&lines[..per_frame.min(lines.len())]);
        for chunk in lines[per_frame.min(lines.len())..].chunks(per_frame) {
            writer.push_paragraphs(chunk);
        }
        let last = lines.last().cloned().unwrap_or_default();
        YClient::connect("c1", &url(&citizen(1)))
            .await?
            .wait_doc_resyncing("the version", |c| c.paragraphs().last() == Some(&last))
            .await?;
        fac.ok(Command::NameVersion {
            document: "avis".into(),
            label: format!("Version {}", round + 1),
        })
        .await?;
    }
    Ok((invites, fac))
}

fn diff_path(id: &str) -> String {
    format!("/api/conventions/{id}/documents/avis/diff?from=1&to=2")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_diffs_one_at_a_time() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // Two versions as different as can be: the diff searches its full second.
    let (invites_a, mut fac) = two_versions(&server, "diff-a", 5000, 8).await?;
    let (invites_b, _) = two_versions(&server, "diff-b", 5000, 8).await?;
    let diff = diff_path;
    let attacker = token_of(&invites_a, &citizen(0));

    // Ten diffs at once from one participant of the first convention, and meanwhile one from
    // a participant of the second.
    let http = reqwest::Client::new();
    let flood: Vec<_> = (0..10)
        .map(|_| {
            let (http, url, token) = (http.clone(), server.url(&diff("diff-a")), attacker.clone());
            tokio::spawn(async move {
                let r = http.get(url).bearer_auth(token).send().await?;
                let status = r.status().as_u16();
                let body = r.bytes().await?;
                anyhow::Ok((status, body))
            })
        })
        .collect();
    let (status, body, _) = get_as(
        &http,
        &server,
        &diff("diff-b"),
        &token_of(&invites_b, &citizen(0)),
    )
    .await?;
    ensure!(
        status == 200 && String::from_utf8_lossy(&body).contains("+vélo"),
        "the other convention's diff: {status}"
    );
    let mut accepted = 0;
    for t in flood {
        let (status, body) = t.await??;
        match status {
            200 => accepted += 1,
            429 => {
                let e: proto::api::ErrorBody = serde_json::from_slice(&body)?;
                ensure!(e.code == ErrorCode::RateLimited, "429 with {:?}", e.code);
            }
            other => anyhow::bail!("a diff answered {other}"),
        }
    }
    ensure!(accepted < 5, "{accepted} of 10 diffs at once were made");

    // Nothing is held: the participant's next diff is made, and the convention goes on.
    let (status, _, _) = get_as(&http, &server, &diff("diff-a"), &attacker).await?;
    ensure!(status == 200, "the next diff: {status}");
    let mut c0 = Client::join(&server.ws_url(), "c0", &attacker).await?;
    goes_on(&mut c0, &mut fac, "on compare").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Cluster mode: a request naming a convention this node does not hold (a made-up invitation
// on /ws, /doc or HTTP: anyone can send one) asks Redis whether it exists. One member is
// looked up (`SISMEMBER`), never the list of every convention: what it costs Redis does not
// grow with the conventions the cluster has held.

/// Bytes Redis has sent to its clients so far.
fn redis_output_bytes(con: &mut redis::Connection) -> Result<u64> {
    let info: String = redis::cmd("INFO").arg("stats").query(con)?;
    info.lines()
        .find_map(|l| l.strip_prefix("total_net_output_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .context("no total_net_output_bytes in INFO")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_conventions_cost_redis_the_same_whatever_their_number() -> Result<()> {
    let dir = tempdir();
    let redis = convene_tests::own_redis(dir.path(), &[])?;
    let server = Server::start_with(&dir.path().join("data"), &["--redis", &redis.url]).await?;
    let invites = convention(&server, "grappe", vec![], 1).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &token_of(&invites, FAC)).await?;
    let mut c0 = Client::join(&server.ws_url(), "c0", &token_of(&invites, &citizen(0))).await?;

    // A cluster that has held 10,000 conventions (their ids are what the lookup could list).
    let mut con = redis::Client::open(redis.url.as_str())?.get_connection()?;
    let ids: Vec<String> = (0..10_000)
        .map(|i| format!("convention-ancienne-{i:05}"))
        .collect();
    let _: () = redis::cmd("SADD")
        .arg("convene:conventions")
        .arg(&ids)
        .query(&mut con)?;

    // 400 hellos with invitations to conventions that never existed, each refused.
    let before = redis_output_bytes(&mut con)?;
    let sent = 400;
    for i in 0..sent {
        let mut c = Client::open(&server.ws_url(), "inconnu").await?;
        c.send(&proto::ClientMessage::Hello {
            protocol: 1,
            token: format!("inventee-{i}.{:032x}", i),
            last_seq: None,
        })
        .await?;
        let closed = c.wait_closed(Duration::from_secs(10)).await?;
        ensure!(
            closed == Some(proto::close::UNKNOWN_TOKEN),
            "hello {i}: closed with {closed:?}"
        );
    }
    let sent_by_redis = redis_output_bytes(&mut con)? - before;
    eprintln!("{sent} unknown conventions: Redis sent {sent_by_redis} bytes");
    // Listing the 10,000 ids each time is about 270 KB a hello; a lookup, a few bytes.
    ensure!(
        sent_by_redis < 1024 * sent,
        "Redis sent {sent_by_redis} bytes for {sent} hellos naming unknown conventions"
    );

    // Everyone else is unharmed.
    goes_on(&mut c0, &mut fac, "la grappe tient").await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Readers who take a response a few bytes at a time: a document's export is a rendering
// shared by every response (`red_team.rs` shows 40 stalled readers of it hold no copy), but a
// diff is made for its request (up to twice the documents). A participant's turn for diffs
// lasts until the body of their diff is written or dropped: a trickling reader holds one diff
// of theirs in the server, and their next diff meanwhile is 429 `rate_limited`.

/// A raw HTTP/1.1 request whose response is read 512 bytes every 100 ms, with the smallest
/// receive buffer: its status, and the reading in the background (what it read in all).
async fn trickle(
    server: &Server,
    path: &str,
    token: &str,
) -> Result<(u16, tokio::task::JoinHandle<usize>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut tcp = socket.connect(server.addr.parse()?).await?;
    tcp.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    )
    .await?;
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await?;
    let status = std::str::from_utf8(&head[9..12])?.parse()?;
    let reading = tokio::spawn(async move {
        let mut got = head.len();
        let mut buf = [0u8; 512];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_secs(30), tcp.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
            got += n;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got
    });
    Ok((status, reading))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_reader_holds_one_diff_of_theirs() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // Two versions of 3 MB, nothing in common: a diff of 6 MB.
    let (invites, mut fac) = two_versions(&server, "lent", 3000, 1000).await?;
    let attacker = token_of(&invites, &citizen(0));
    let http = reqwest::Client::new();
    let (status, whole, _) = get_as(&http, &server, &diff_path("lent"), &attacker).await?;
    ensure!(
        status == 200 && whole.len() > 6_000_000,
        "the diff: {status}, {} bytes",
        whole.len()
    );

    // Ten diffs, one after the other, each read a few bytes at a time.
    let pid = server.pid().context("no pid")?;
    let before = rss_kib(pid)?;
    let mut readers = Vec::new();
    let mut accepted = 0;
    for _ in 0..10 {
        let (status, reading) = trickle(&server, &diff_path("lent"), &attacker).await?;
        match status {
            200 => accepted += 1,
            429 => {}
            other => anyhow::bail!("a diff answered {other}"),
        }
        readers.push(reading);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let grown = rss_kib(pid)?.saturating_sub(before);
    let copies = (grown * 1024) as f64 / whole.len() as f64;
    eprintln!(
        "10 trickling diffs: {accepted} made, the server grew by {grown} KiB ({copies:.2} diffs)"
    );
    ensure!(
        accepted == 1,
        "{accepted} diffs made for one participant reading none of them"
    );
    ensure!(
        copies < 3.0,
        "10 trickling diffs grew the server by {grown} KiB: {copies:.1} diffs"
    );

    // Everyone else is unharmed: another participant's diff, the convention.
    let (status, _, _) = get_as(
        &http,
        &server,
        &diff_path("lent"),
        &token_of(&invites, &citizen(1)),
    )
    .await?;
    ensure!(status == 200, "another participant's diff: {status}");
    let mut c1 = Client::join(&server.ws_url(), "c1", &token_of(&invites, &citizen(1))).await?;
    goes_on(&mut c1, &mut fac, "on lit lentement").await?;
    // Once their reader goes, the participant diffs again.
    for r in readers {
        r.abort();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _, _) = get_as(&http, &server, &diff_path("lent"), &attacker).await?;
    ensure!(status == 200, "the next diff: {status}");
    Ok(())
}
