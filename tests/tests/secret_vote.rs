//! Forty citizens vote in a secret plenary poll while the server is killed (`kill -9`) and
//! restarted in the middle: every acknowledged ballot is counted once, retries with the same
//! request id never count twice, and a search of the database files, the server's logs and
//! every export finds no link between a voter and a choice. (`ballot_order.rs` looks for the
//! order the ballots were cast in.)

// Voter i is one index into several tables (ids, choices, acknowledgments): plain indexes read best.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{Ballot, Command, ErrorCode, Event, PollKind, PollSpec, Role};
use convene_tests::{person, poll_spec, tempdir, token_of, unique, Client, Server};

const VOTERS: usize = 40;
const OPTIONS: [&str; 3] = [
    "Créer un fonds de solidarité",
    "Renforcer les services de proximité",
    "Ne rien changer",
];

/// Citizen `i` always chooses this option: the expected tally is known in advance.
fn choice_of(i: usize) -> u32 {
    [0, 0, 1, 2, 1, 0, 1][i % 7]
}

async fn vote(
    url: String,
    token: String,
    name: String,
    poll: String,
    id: String,
    choice: u32,
) -> Result<Result<u64, (ErrorCode, String)>> {
    let mut c = Client::join(&url, &name, &token).await?;
    c.request_with_id(
        &id,
        Command::Vote {
            poll,
            ballot: Ballot::Single { choice },
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_vote_survives_kill_9_and_links_no_voter_to_a_choice() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..VOTERS {
        roster.push(person(
            &format!("Votant {i:02}"),
            &[Role::Citizen],
            &[("commune", "Nantes")],
        ));
    }
    let invites = server.http().convention("vote", &roster).await?;
    let token = |name: &str| token_of(&invites, name);
    let voter_ids: Vec<String> = (0..VOTERS)
        .map(|i| {
            invites
                .iter()
                .find(|v| v.name == format!("Votant {i:02}"))
                .unwrap()
                .participant
                .clone()
        })
        .collect();

    let mut fac = Client::join(&server.ws_url(), "fac", &token("Claire Animatrice")).await?;
    let options = OPTIONS.iter().map(|s| s.to_string()).collect();
    let spec = PollSpec {
        quorum: Some(30),
        ..poll_spec(
            "Quelle priorité pour l'après-crise ?",
            PollKind::Single { options },
            true,
            false,
        )
    };
    let (poll, _) = fac.draft_and_open(spec).await?;

    // The first half votes, each acknowledged.
    let ids: Vec<String> = (0..VOTERS)
        .map(|i| format!("vote-{i}-{}", unique()))
        .collect();
    let mut acked: HashMap<usize, u64> = HashMap::new();
    let mut tasks = Vec::new();
    for i in 0..VOTERS / 2 {
        let name = format!("Votant {i:02}");
        tasks.push(tokio::spawn(vote(
            server.ws_url(),
            token(&name),
            name,
            poll.clone(),
            ids[i].clone(),
            choice_of(i),
        )));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await?? {
            Ok(seq) => {
                acked.insert(i, seq);
            }
            Err(e) => bail!("voter {i} refused: {e:?}"),
        }
    }
    // The second half votes while the server is killed.
    let mut tasks = Vec::new();
    for i in VOTERS / 2..VOTERS {
        let name = format!("Votant {i:02}");
        tasks.push((
            i,
            tokio::spawn(vote(
                server.ws_url(),
                token(&name),
                name,
                poll.clone(),
                ids[i].clone(),
                choice_of(i),
            )),
        ));
    }
    tokio::time::sleep(Duration::from_millis(15)).await;
    server.kill9().await?;
    for (i, t) in tasks {
        if let Ok(Ok(Ok(seq))) = t.await {
            acked.insert(i, seq);
        }
    }
    eprintln!("{} ballots acknowledged before the crash", acked.len());
    server.restart().await?;

    // Everyone (acknowledged or not) retries with the same request id: acknowledged ones get
    // their original seq back, the others are counted now; nobody twice.
    for i in 0..VOTERS {
        let name = format!("Votant {i:02}");
        let r = vote(
            server.ws_url(),
            token(&name),
            name.clone(),
            poll.clone(),
            ids[i].clone(),
            choice_of(i),
        )
        .await?;
        let seq = r.map_err(|e| anyhow::anyhow!("{name}: retry refused {e:?}"))?;
        if let Some(before) = acked.get(&i) {
            ensure!(
                *before == seq,
                "{name}: acknowledged at {before}, retry answered {seq}"
            );
        }
    }
    // A second ballot with a new id is refused: a secret ballot is final.
    let again = vote(
        server.ws_url(),
        token("Votant 00"),
        "Votant 00".into(),
        poll.clone(),
        format!("x-{}", unique()),
        2,
    )
    .await?;
    ensure!(
        matches!(again, Err((ErrorCode::Conflict, _))),
        "second secret ballot: {again:?}"
    );

    let mut fac = Client::join(&server.ws_url(), "fac", &token("Claire Animatrice")).await?;
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let Event::PollClosed {
        tally: Some(tally), ..
    } = fac.wait_seq(seq).await?.event
    else {
        bail!("no tally for staff")
    };
    let mut expected = vec![0u64; OPTIONS.len()];
    for i in 0..VOTERS {
        expected[choice_of(i) as usize] += 1;
    }
    ensure!(
        tally.ballots == VOTERS as u64,
        "{} ballots counted, {VOTERS} cast",
        tally.ballots
    );
    ensure!(
        tally.counts == expected,
        "tally {:?}, expected {expected:?}",
        tally.counts
    );
    fac.ok(Command::PublishResults { poll: poll.clone() })
        .await?;

    // Exports: results carry counts only; a secret poll has no ballots to export.
    let http = server.http();
    let results = http
        .get(&format!("/api/conventions/vote/polls/{poll}/results"))
        .send()
        .await?
        .text()
        .await?;
    let results_csv = http
        .get(&format!(
            "/api/conventions/vote/polls/{poll}/results?format=csv"
        ))
        .send()
        .await?
        .text()
        .await?;
    let all = http
        .get("/api/conventions/vote/polls")
        .send()
        .await?
        .text()
        .await?;
    let ballots = http
        .get(&format!("/api/conventions/vote/polls/{poll}/ballots"))
        .send()
        .await?;
    ensure!(
        ballots.status() == 409,
        "ballots of a secret poll: {}",
        ballots.status()
    );
    let audit = http
        .get("/api/conventions/vote/audit")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        audit.contains("poll_closed") && audit.contains("\"counts\""),
        "the audit trail has the final tally"
    );
    let metrics = reqwest::get(server.url("/metrics")).await?.text().await?;
    let roster_json = http
        .get("/api/conventions/vote/roster")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        roster_json.contains(&voter_ids[0]),
        "sanity: the roster names the voters"
    );

    // Stop cleanly so that nothing is left only in memory, then search everything on disk.
    server.terminate().await?;
    let mut texts: Vec<(String, String)> = vec![
        ("results.json".into(), results),
        ("results.csv".into(), results_csv),
        ("polls.json".into(), all),
        ("audit.jsonl".into(), audit),
        ("metrics".into(), metrics),
        (
            "stderr log".into(),
            std::fs::read_to_string(&server.stderr_path).unwrap_or_default(),
        ),
        ("stdout".into(), server.stdout.lock().unwrap().join("\n")),
    ];
    for entry in std::fs::read_dir(&data)? {
        let path = entry?.path();
        let bytes = std::fs::read(&path)?;
        texts.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    // The search finds a link where there is one (a named ballot as the log would hold it)...
    let leaky = format!(
        r#"{{"seq":9,"at":1,"by":{{"kind":"participant","id":"{}"}},"event":{{"type":"ballot_cast","poll":"q1","ballot":{{"kind":"single","choice":1}}}}}}"#,
        voter_ids[3]
    );
    ensure!(
        find_link(&leaky, &voter_ids).is_some(),
        "the search must catch a named ballot"
    );
    // ...and finds none anywhere in what the server wrote.
    for (what, text) in &texts {
        if let Some(link) = find_link(text, &voter_ids) {
            bail!("{what}: {link}");
        }
    }
    // The ballot box really holds the ballots: sealed at the close into one sorted list, with
    // no loose row left behind.
    let db =
        rusqlite::Connection::open(data.join("convene.sqlite3")).context("open the database")?;
    let sealed: Vec<String> = db
        .prepare("SELECT body FROM sealed_ballots WHERE poll = ?1")?
        .query_map([&poll], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ensure!(sealed.len() == 1, "{} sealed lists", sealed.len());
    let boxed: Vec<serde_json::Value> = serde_json::from_str(&sealed[0])?;
    ensure!(boxed.len() == VOTERS, "{} ballots in the box", boxed.len());
    // Sorted by their text, which differs only in the choice.
    let choices: Vec<u64> = boxed
        .iter()
        .filter_map(|b| b["ballot"]["choice"].as_u64())
        .collect();
    ensure!(
        choices.len() == VOTERS && choices.windows(2).all(|w| w[0] <= w[1]),
        "the sealed ballots are sorted: {choices:?}"
    );
    let loose: i64 = db.query_row("SELECT COUNT(*) FROM ballot_box", [], |r| r.get(0))?;
    ensure!(loose == 0, "{loose} loose ballots left after the close");
    let marks: i64 = db.query_row(
        "SELECT COUNT(*) FROM events WHERE body LIKE '%voter_marked%'",
        [],
        |r| r.get(0),
    )?;
    ensure!(marks == VOTERS as i64, "{marks} voters marked");
    Ok(())
}

/// A place where a voter's id and a choice stand together, if any.
fn find_link(text: &str, voter_ids: &[String]) -> Option<String> {
    for (i, voter) in voter_ids.iter().enumerate() {
        // Nothing near a voter's id (the same line, row or JSON record) holds a choice.
        for near in around(text, &format!("\"{voter}\""), 150) {
            if near.contains("\"choice\"") || near.contains("ballot\"") {
                return Some(format!("voter {i} ({voter}) next to a ballot: {near}"));
            }
        }
    }
    for near in around(text, "\"choice\"", 150) {
        if near.contains("\"p0") {
            return Some(format!("a ballot near a participant id: {near}"));
        }
        if near.contains("\"at\":") || near.contains("\"seq\":") {
            return Some(format!("a ballot near a time or a place: {near}"));
        }
    }
    None
}

/// What surrounds each occurrence of `needle` in `text`: the rest of its line, at most
/// `radius` bytes either side (database pages are not split into lines).
fn around<'a>(text: &'a str, needle: &str, radius: usize) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(needle) {
        let at = from + pos;
        let mut start = at.saturating_sub(radius);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (at + needle.len() + radius).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let line_start = text[..at]
            .rfind('\n')
            .map(|i| i + 1)
            .unwrap_or(0)
            .max(start);
        let line_end = text[at..]
            .find('\n')
            .map(|i| at + i)
            .unwrap_or(text.len())
            .min(end);
        out.push(&text[line_start..line_end]);
        from = at + needle.len();
    }
    out
}
