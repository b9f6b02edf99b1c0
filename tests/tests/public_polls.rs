//! Public polls (PROTOCOL.md §24): a facilitator opens a poll for the public audience; anyone
//! watching through the public link answers once per browser; the answers are durable (they
//! survive a restart, and so does the rule of one per browser); the public sees the question
//! while it is open and the tally once it is closed; staff read the live tally over HTTP;
//! the opening and the closing are audited, the ballots never. A viewer sending ten times its
//! budget is closed, and the others, the members and the tally are unharmed. In cluster
//! mode, viewers of both nodes answer the same poll, and a browser counts once over the nodes.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_protocol as p;
use convene_protocol::{
    public_close, Command, ErrorCode, PublicPolls, PublicServerMessage, PublicVoteRefusal, Role,
    MAX_PUBLIC_FRAME_BYTES, MAX_PUBLIC_OPTIONS, MAX_PUBLIC_POLL_ID_CHARS,
};
use convene_tests::public::Viewer;
use convene_tests::{nodes, own_redis, person, tempdir, token_of, Client, Server};

const QUESTION: &str = "Faut-il des bus de nuit le week-end ?";
const BROWSER_A: &str = "Jx2k9QmZ0aB7cD1eF3gH5w";
const BROWSER_B: &str = "Qq7w8e9r0t1y2u3i4o5p6a";
const BROWSER_C: &str = "Zz0y1x2w3v4u5t6s7r8q9p";

fn roster() -> Vec<convene_protocol::api::RosterEntry> {
    vec![
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Gaëlle Martin", &[Role::Guarantor], &[]),
    ]
}

fn options() -> Vec<String> {
    vec!["Oui".into(), "Non".into(), "Sans avis".into()]
}

fn open(question: &str, options: Vec<String>) -> Command {
    Command::OpenPublicPoll {
        question: question.into(),
        options,
    }
}

/// `GET /api/conventions/{id}/public-polls` with `token`: the status and the body.
async fn polls(
    server: &Server,
    id: &str,
    token: Option<&str>,
) -> Result<(u16, Option<PublicPolls>)> {
    let mut req = reqwest::Client::new().get(format!(
        "http://{}/api/conventions/{id}/public-polls",
        server.addr
    ));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok(if status == 200 {
        (status, Some(r.json().await?))
    } else {
        (status, None)
    })
}

fn voted(m: &PublicServerMessage, poll: &str, choice: u32) -> Result<()> {
    match m {
        PublicServerMessage::PublicVoted { poll: p, choice: c } if p == poll && *c == choice => {
            Ok(())
        }
        other => bail!("expected public_voted {poll} {choice}, got {other:?}"),
    }
}

fn refused(m: &PublicServerMessage, want: PublicVoteRefusal) -> Result<()> {
    match m {
        PublicServerMessage::PublicVoteRefused { reason, .. } if *reason == want => Ok(()),
        other => bail!("expected a refusal {want:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_answer_per_browser_durable_shown_once_closed_and_audited() -> Result<()> {
    let dir = tempdir();
    // A state stored every 2 records: the restart below takes the polls up from it.
    let mut server = Server::start_with(&dir.path().join("data"), &["--state-every", "2"]).await?;
    let invites = server.http().convention("sondage", &roster()).await?;
    let (fac_token, cit_token, gua_token) = (
        token_of(&invites, "Claire Moreau"),
        token_of(&invites, "Yannick Le Goff"),
        token_of(&invites, "Gaëlle Martin"),
    );
    let mut fac = Client::join(&server.ws_url(), "claire", &fac_token).await?;
    let mut citizen = Client::join(&server.ws_url(), "yannick", &cit_token).await?;

    // No public link yet: nobody to ask.
    let r = fac.request(open(QUESTION, options())).await?;
    ensure!(matches!(r, Err((ErrorCode::NotFound, _))), "no link: {r:?}");
    let link = server.http().public_link("sondage", None).await?;

    // Bad polls, each refused `invalid` with nothing opened; a citizen may not open one.
    let long = "q".repeat(5000);
    let too_many: Vec<String> = (0..MAX_PUBLIC_OPTIONS * 10)
        .map(|i| format!("Option {i}"))
        .collect();
    for (question, opts) in [
        ("  ", options()),
        (long.as_str(), options()),
        (QUESTION, vec!["Oui".into()]),
        (QUESTION, too_many),
        (QUESTION, vec!["Oui".into(), "oui".into()]),
        (QUESTION, vec!["Oui".into(), "x".repeat(2000)]),
    ] {
        let r = fac.request(open(question, opts)).await?;
        ensure!(
            matches!(r, Err((ErrorCode::Invalid, _))),
            "refused as invalid: {r:?}"
        );
    }
    let r = citizen.request(open(QUESTION, options())).await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "a citizen: {r:?}"
    );

    let mut a = Viewer::watch(&server, &link.token).await?;
    ensure!(
        a.view.as_ref().is_some_and(|v| v.poll.is_none()),
        "no poll yet"
    );
    fac.ok(open(QUESTION, options())).await?;
    let r = fac.request(open("Une autre ?", options())).await?;
    ensure!(
        matches!(r, Err((ErrorCode::Conflict, _))),
        "one open at a time: {r:?}"
    );

    // The public sees the question and the options, never a count while it is open.
    let view = a.wait_view(|v| v.poll.is_some()).await?;
    let shown = view.poll.context("the open poll")?;
    ensure!(shown.poll == "pp1" && shown.question == QUESTION && shown.options == options());
    ensure!(view.poll_results.is_empty(), "no result while open");

    voted(&a.vote("pp1", 0, BROWSER_A).await?, "pp1", 0)?;
    // Again on the same connection, or from another one with the same browser id.
    refused(
        &a.vote("pp1", 1, BROWSER_A).await?,
        PublicVoteRefusal::AlreadyVoted,
    )?;
    let mut b = Viewer::watch(&server, &link.token).await?;
    refused(
        &b.vote("pp1", 1, BROWSER_A).await?,
        PublicVoteRefusal::AlreadyVoted,
    )?;
    voted(&b.vote("pp1", 1, BROWSER_B).await?, "pp1", 1)?;
    // Out of range, malformed, unknown.
    let mut c = Viewer::watch(&server, &link.token).await?;
    refused(
        &c.vote("pp1", 3, BROWSER_C).await?,
        PublicVoteRefusal::Invalid,
    )?;
    refused(
        &c.vote("pp1", 0, "court").await?,
        PublicVoteRefusal::Invalid,
    )?;
    refused(
        &c.vote("pp1", 0, "pas d'espace ni de guillemet!").await?,
        PublicVoteRefusal::Invalid,
    )?;
    refused(
        &c.vote("pp9", 0, BROWSER_C).await?,
        PublicVoteRefusal::NotFound,
    )?;
    // A count never reached the public while the poll was open.
    for v in [&a, &b, &c] {
        for f in &v.frames {
            ensure!(!f.contains("\"tally\""), "no tally while open: {f}");
        }
    }

    // Staff read the live tally; others may not.
    let (status, body) = polls(&server, "sondage", Some(&fac_token)).await?;
    let p = &body.context("the facilitator reads the polls")?.polls[0];
    ensure!(
        status == 200 && p.open && p.tally.ballots == 2 && p.tally.counts == [1, 1, 0],
        "{p:?}"
    );
    let (status, _) = polls(&server, "sondage", Some(&gua_token)).await?;
    ensure!(status == 200, "a guarantor: {status}");
    let (status, _) = polls(&server, "sondage", Some(&cit_token)).await?;
    ensure!(status == 403, "a citizen: {status}");
    let (status, _) = polls(&server, "sondage", None).await?;
    ensure!(status == 401, "no token: {status}");
    let (status, _) = polls(&server, "sondage", Some(&link.token)).await?;
    ensure!(status == 401, "the public link is no staff token: {status}");

    // A restart loses nothing: the answers, and who answered (from the stored state: only
    // the records after it are replayed).
    drop((a, b, c, fac, citizen));
    server.restart().await?;
    let (_, body) = polls(&server, "sondage", Some(&fac_token)).await?;
    let p = &body.context("after the restart")?.polls[0];
    ensure!(
        p.open && p.tally.counts == [1, 1, 0],
        "after the restart: {p:?}"
    );
    let mut a = Viewer::watch(&server, &link.token).await?;
    refused(
        &a.vote("pp1", 2, BROWSER_A).await?,
        PublicVoteRefusal::AlreadyVoted,
    )?;
    voted(&a.vote("pp1", 2, BROWSER_C).await?, "pp1", 2)?;

    // Closed: the tally goes to the public; later answers are refused.
    let mut fac = Client::join(&server.ws_url(), "claire", &fac_token).await?;
    fac.ok(Command::ClosePublicPoll { poll: "pp1".into() })
        .await?;
    let r = fac
        .request(Command::ClosePublicPoll { poll: "pp1".into() })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Conflict, _))),
        "closed twice: {r:?}"
    );
    let view = a
        .wait_view(|v| v.poll.is_none() && !v.poll_results.is_empty())
        .await?;
    let result = &view.poll_results[0];
    ensure!(
        result.poll == "pp1" && result.tally.ballots == 3 && result.tally.counts == [1, 1, 1],
        "{result:?}"
    );
    let mut d = Viewer::watch(&server, &link.token).await?;
    refused(
        &d.vote("pp1", 0, "Dd0d1d2d3d4d5d6d7d8d9d").await?,
        PublicVoteRefusal::Closed,
    )?;
    // A second poll, after the first.
    fac.ok(open("Et le dimanche ?", vec!["Oui".into(), "Non".into()]))
        .await?;
    let view = d.wait_view(|v| v.poll.is_some()).await?;
    ensure!(view.poll.is_some_and(|p| p.poll == "pp2"), "pp2 open");

    // Audited: opened and closed (with the tally); never a ballot, nor a browser's hash.
    let audit = server
        .http()
        .get("/api/conventions/sondage/audit")
        .send()
        .await?
        .text()
        .await?;
    ensure!(audit.contains("public_poll_opened") && audit.contains("public_poll_closed"));
    ensure!(
        !audit.contains("public_ballot_cast"),
        "no ballot in the audit trail"
    );
    let hash = convene::domain::public::browser_hash("sondage", "pp1", BROWSER_A);
    ensure!(!audit.contains(&hash), "no browser in the audit trail");
    // The browser id itself is stored nowhere.
    for entry in std::fs::read_dir(dir.path().join("data"))? {
        let bytes = std::fs::read(entry?.path())?;
        ensure!(
            !bytes
                .windows(BROWSER_A.len())
                .any(|w| w == BROWSER_A.as_bytes()),
            "a browser id on disk"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_viewer_budget_is_refused_and_everyone_else_unharmed() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention("budget", &roster()).await?;
    let fac_token = token_of(&invites, "Claire Moreau");
    let mut fac = Client::join(&server.ws_url(), "claire", &fac_token).await?;
    let link = server.http().public_link("budget", None).await?;
    fac.ok(open(QUESTION, options())).await?;
    let mut calm = Viewer::watch(&server, &link.token).await?;
    calm.wait_view(|v| v.poll.is_some()).await?;

    // Ten times the message budget (bursts of 5): votes under fresh browser ids, sent in a
    // loop. The burst is answered, then the connection is closed 4008.
    let mut flood = Viewer::watch(&server, &link.token).await?;
    for i in 0..50 {
        let browser = format!("flood{i:0>17}");
        let m =
            format!(r#"{{"type":"public_vote","poll":"pp1","choice":0,"browser":"{browser}"}}"#);
        if flood.send_raw(&m).await.is_err() {
            break;
        }
    }
    ensure!(
        flood.wait_closed(Duration::from_secs(10)).await? == Some(4008),
        "a flood of votes: 4008"
    );
    let flood_voted = flood
        .frames
        .iter()
        .filter(|f| f.contains("\"public_voted\""))
        .count();
    // One recorded answer per connection and poll: the first; the rest of the burst is
    // refused `already_voted` without reaching the convention, and what follows it closes.
    let flood_refused = flood
        .frames
        .iter()
        .filter(|f| f.contains("\"already_voted\""))
        .count();
    ensure!(
        flood_voted == 1 && flood_refused >= p::PUBLIC_MESSAGE_BURST as usize - 1,
        "one answer recorded and the rest of the burst refused: {flood_voted}, {flood_refused}"
    );

    // Ten times the frame budget: 1009.
    let mut big = Viewer::watch(&server, &link.token).await?;
    let browser = "b".repeat(MAX_PUBLIC_FRAME_BYTES * 10);
    big.send_raw(&format!(
        r#"{{"type":"public_vote","poll":"pp1","choice":0,"browser":"{browser}"}}"#
    ))
    .await?;
    ensure!(
        big.wait_closed(Duration::from_secs(10)).await? == Some(1009),
        "too large"
    );

    // Ten times the browser id's length, within the frame: refused, connection kept.
    let mut long = Viewer::watch(&server, &link.token).await?;
    refused(
        &long.vote("pp1", 0, &"L".repeat(640)).await?,
        PublicVoteRefusal::Invalid,
    )?;
    // A choice far out of range, a poll id ten times too long: refused, nothing recorded.
    refused(
        &long.vote("pp1", u32::MAX, BROWSER_C).await?,
        PublicVoteRefusal::Invalid,
    )?;
    // A poll id ten times too long: refused at once, echoed cut.
    let m = long
        .vote(&"p".repeat(10 * MAX_PUBLIC_POLL_ID_CHARS), 0, BROWSER_C)
        .await?;
    refused(&m, PublicVoteRefusal::NotFound)?;
    ensure!(
        matches!(&m, PublicServerMessage::PublicVoteRefused { poll, .. } if poll.len() == MAX_PUBLIC_POLL_ID_CHARS),
        "the id echoed cut: {m:?}"
    );
    // A `watch` again: 4023.
    let mut again = Viewer::watch(&server, &link.token).await?;
    again
        .send_raw(&format!(
            r#"{{"type":"watch","protocol":1,"link":"{}"}}"#,
            link.token
        ))
        .await?;
    ensure!(
        again.wait_closed(Duration::from_secs(10)).await? == Some(public_close::READ_ONLY),
        "watch twice"
    );

    // Everyone else: the calm viewer answers and sees the broadcast, the members go on, and
    // the tally holds exactly what was acknowledged.
    voted(&calm.vote("pp1", 1, BROWSER_A).await?, "pp1", 1)?;
    fac.ok(Command::Broadcast {
        text: "Reprise à 15 h".into(),
    })
    .await?;
    calm.wait_view(|v| v.announcements.iter().any(|a| a.text == "Reprise à 15 h"))
        .await?;
    let (_, body) = polls(&server, "budget", Some(&fac_token)).await?;
    let p = &body.context("the polls")?.polls[0];
    ensure!(
        p.tally.counts == [flood_voted as u64, 1, 0],
        "the tally is what was acknowledged: {p:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_of_two_nodes_answer_one_poll_once_per_browser() -> Result<()> {
    let dir = tempdir();
    let redis = own_redis(dir.path(), &[])?;
    let nodes = nodes(dir.path(), &redis.url, 2).await?;
    let (n1, n2) = (&nodes[0], &nodes[1]);
    let invites = n1.http().convention("grappe-sondage", &roster()).await?;
    let fac_token = token_of(&invites, "Claire Moreau");
    let link = n2.http().public_link("grappe-sondage", None).await?;
    let mut fac = Client::join(&n1.ws_url(), "claire", &fac_token).await?;
    fac.ok(open(QUESTION, options())).await?;

    let mut on1 = Viewer::watch(n1, &link.token).await?;
    let mut on2 = Viewer::watch(n2, &link.token).await?;
    for v in [&mut on1, &mut on2] {
        v.wait_view(|v| v.poll.is_some()).await?;
    }
    voted(&on1.vote("pp1", 0, BROWSER_A).await?, "pp1", 0)?;
    voted(&on2.vote("pp1", 1, BROWSER_B).await?, "pp1", 1)?;
    // The same browser on the other node (a connection that has answered nothing): once
    // over the cluster.
    let mut third = Viewer::watch(n2, &link.token).await?;
    refused(
        &third.vote("pp1", 2, BROWSER_A).await?,
        PublicVoteRefusal::AlreadyVoted,
    )?;
    voted(&third.vote("pp1", 0, BROWSER_C).await?, "pp1", 0)?;

    // Closed on node 1: the viewers of both see the tally of both.
    fac.ok(Command::ClosePublicPoll { poll: "pp1".into() })
        .await?;
    for v in [&mut on1, &mut on2] {
        let view = v.wait_view(|v| !v.poll_results.is_empty()).await?;
        let t = &view.poll_results[0].tally;
        ensure!(t.ballots == 3 && t.counts == [2, 1, 0], "{t:?}");
    }
    let (_, body) = polls(n2, "grappe-sondage", Some(&fac_token)).await?;
    let p = &body.context("node 2's polls")?.polls[0];
    ensure!(!p.open && p.tally.counts == [2, 1, 0], "{p:?}");
    Ok(())
}
