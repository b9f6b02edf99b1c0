//! A ballot box is checked against the voter marks when a convention is taken up. Rows are
//! anonymous, so "refused" means: a row that is not a valid ballot of an existing secret poll
//! is not counted; a poll whose box holds more ballots than it has `voter_marked` records was
//! tampered with: none of its ballots is counted (the planted one cannot be told from the
//! others), organizers and guarantors get the typed error `tampered`, the poll takes no vote
//! and cannot be closed on a false count. A closed poll keeps the result its close logged, and
//! says its box was tampered with. Planted rows stay on disk, as evidence.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Ballot, Command, Event, PollKind, Role, Stance, TamperedBox};
use convene_tests::{fresh_redis, person, poll_spec, tempdir, Client, Server, ORGANIZER_TOKEN};
use rand::RngCore;
use serde_json::Value;

const CONVENTION: &str = "plant";

/// What the test knows of the convention.
struct Setup {
    /// The poll that gets an extra ballot (4 cast).
    stuffed: String,
    /// The poll that gets rows which are no ballot of it (3 cast).
    garbled: String,
    /// A poll closed before its box gets an extra ballot (2 cast).
    closed: String,
    /// Tokens: facilitator, guarantor, a citizen who has not voted in `stuffed`.
    facilitator: String,
    guarantor: String,
    abstainer: String,
}

fn secret_ballot(poll: &str, ballot: Ballot) -> Result<String> {
    Ok(serde_json::to_string(&Event::SecretBallotCast {
        poll: poll.into(),
        ballot,
    })?)
}

async fn setup(server: &Server) -> Result<Setup> {
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..6 {
        roster.push(person(&format!("Citoyen {i}"), &[Role::Citizen], &[]));
    }
    let invites = server.http().convention(CONVENTION, &roster).await?;
    let token = |name: &str| -> Result<String> {
        Ok(invites
            .iter()
            .find(|v| v.name == name)
            .context("invited")?
            .token
            .clone())
    };
    let mut fac = Client::join(&server.ws_url(), "fac", &token("Claire Animatrice")?).await?;
    let options = vec!["Oui".to_string(), "Non".into(), "Sans avis".into()];
    let (stuffed, _) = fac
        .draft_and_open(poll_spec(
            "On garde la proposition 3 ?",
            PollKind::Single {
                options: options.clone(),
            },
            true,
            true,
        ))
        .await?;
    let (garbled, _) = fac
        .draft_and_open(poll_spec("Proposition 4", PollKind::Position, true, true))
        .await?;
    let (closed, _) = fac
        .draft_and_open(poll_spec(
            "On continue demain ?",
            PollKind::Single { options },
            true,
            true,
        ))
        .await?;
    for i in 0..6 {
        let name = format!("Citoyen {i}");
        let mut c = Client::join(&server.ws_url(), &name, &token(&name)?).await?;
        if i < 4 {
            c.ok(Command::Vote {
                poll: stuffed.clone(),
                ballot: Ballot::Single { choice: 0 },
            })
            .await?;
        }
        if i < 3 {
            c.ok(Command::Vote {
                poll: garbled.clone(),
                ballot: Ballot::Position {
                    stance: Stance::Against,
                },
            })
            .await?;
        }
        if i < 2 {
            c.ok(Command::Vote {
                poll: closed.clone(),
                ballot: Ballot::Single { choice: 1 },
            })
            .await?;
        }
    }
    fac.ok(Command::ClosePoll {
        poll: closed.clone(),
    })
    .await?;
    Ok(Setup {
        stuffed,
        garbled,
        closed,
        facilitator: token("Claire Animatrice")?,
        guarantor: token("Hélène Garante")?,
        abstainer: token("Citoyen 5")?,
    })
}

/// The rows planted in the box while the server is down: one more ballot for `stuffed` and
/// for `closed`, and for `garbled` a row that is not JSON, a ballot of another kind, and a
/// ballot for a poll that does not exist.
fn planted(s: &Setup) -> Result<Vec<String>> {
    Ok(vec![
        secret_ballot(&s.stuffed, Ballot::Single { choice: 2 })?,
        secret_ballot(&s.closed, Ballot::Single { choice: 0 })?,
        "not a ballot at all".to_string(),
        secret_ballot(&s.garbled, Ballot::Single { choice: 0 })?,
        secret_ballot("q99", Ballot::Single { choice: 0 })?,
    ])
}

async fn results(server: &Server, poll: &str, token: Option<&str>) -> Result<(u16, Value)> {
    let path = format!("/api/conventions/{CONVENTION}/polls/{poll}/results");
    let http = reqwest::Client::new();
    let request = match token {
        // A participant's token, in the header (never in the URL).
        Some(t) => http.get(server.url(&path)).bearer_auth(t),
        None => http.get(server.url(&path)).bearer_auth(ORGANIZER_TOKEN),
    };
    let r = request.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

/// What must hold once the convention is taken up again with the planted rows.
async fn check(server: &Server, s: &Setup) -> Result<()> {
    // The stuffed poll: refused, for organizers and guarantors alike, never counted.
    for who in [None, Some(s.guarantor.as_str())] {
        let (status, body) = results(server, &s.stuffed, who).await?;
        ensure!(
            status == 409 && body["code"] == "tampered",
            "results of the stuffed poll for {}: {status} {body}",
            if who.is_some() {
                "a guarantor"
            } else {
                "an organizer"
            }
        );
        let message = body["message"].as_str().unwrap_or_default();
        ensure!(
            message.contains("5 ballots") && message.contains("4 voters"),
            "the error says what was found: {message}"
        );
    }
    let all: Value = server
        .http()
        .get(&format!("/api/conventions/{CONVENTION}/polls"))
        .send()
        .await?
        .json()
        .await?;
    let stuffed = all
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == s.stuffed.as_str()))
        .context("the stuffed poll is listed")?;
    ensure!(
        stuffed["tally"]["ballots"] == 0
            && stuffed["tampered"]["ballots"] == 5
            && stuffed["tampered"]["voters"] == 4,
        "the list shows the stuffed poll counted as nothing, and why: {stuffed}"
    );
    // Guarantors (and facilitators) see it in the poll's view; citizens do not.
    let gar = Client::join(&server.ws_url(), "gar", &s.guarantor).await?;
    let view = |c: &Client, poll: &str| {
        c.snapshot
            .as_ref()
            .and_then(|s| s.polls.iter().find(|p| p.id == poll).cloned())
    };
    let seen = view(&gar, &s.stuffed).context("the guarantor sees the poll")?;
    ensure!(
        seen.tampered
            == Some(TamperedBox {
                ballots: 5,
                voters: 4
            }),
        "the guarantor's view of the stuffed poll: {:?}",
        seen.tampered
    );
    ensure!(
        seen.tally.as_ref().is_some_and(|t| t.ballots == 0),
        "nothing counted in the guarantor's view: {:?}",
        seen.tally
    );
    let citizen = Client::join(&server.ws_url(), "abstainer", &s.abstainer).await?;
    let seen = view(&citizen, &s.stuffed).context("the citizen sees the poll")?;
    ensure!(seen.tampered.is_none(), "a citizen's view: {seen:?}");
    // The poll with rows that are no ballot of it: those rows are refused, its own counted.
    let (status, body) = results(server, &s.garbled, None).await?;
    ensure!(
        status == 200,
        "results of the garbled poll: {status} {body}"
    );
    ensure!(
        body["tally"]["ballots"] == 3 && body["tally"]["counts"][1] == 3,
        "the garbled poll counts its 3 ballots only: {body}"
    );
    ensure!(body.get("tampered").is_none_or(Value::is_null), "{body}");
    // The closed poll: the result of its close stands, and it says its box was altered.
    let (status, body) = results(server, &s.closed, None).await?;
    ensure!(status == 200, "results of the closed poll: {status} {body}");
    ensure!(
        body["tally"]["ballots"] == 2 && body["tally"]["counts"] == serde_json::json!([0, 2, 0]),
        "the closed poll keeps its logged result: {body}"
    );
    ensure!(
        body["tampered"]["ballots"] == 3 && body["tampered"]["voters"] == 2,
        "the closed poll says its box holds 3 ballots for 2 voters: {body}"
    );
    // Nobody can add to the stuffed box, nor close it on a false count.
    let mut citizen = Client::join(&server.ws_url(), "abstainer", &s.abstainer).await?;
    let vote = citizen
        .request(Command::Vote {
            poll: s.stuffed.clone(),
            ballot: Ballot::Single { choice: 1 },
        })
        .await?;
    ensure!(
        matches!(&vote, Err((code, _)) if code.as_str() == "tampered"),
        "a vote into the stuffed box: {vote:?}"
    );
    let mut fac = Client::join(&server.ws_url(), "fac", &s.facilitator).await?;
    let close = fac
        .request(Command::ClosePoll {
            poll: s.stuffed.clone(),
        })
        .await?;
    ensure!(
        matches!(&close, Err((code, _)) if code.as_str() == "tampered"),
        "closing the stuffed poll: {close:?}"
    );
    // The garbled poll closes on its true count.
    let seq = fac
        .ok(Command::ClosePoll {
            poll: s.garbled.clone(),
        })
        .await?;
    let closed = fac.wait_seq(seq).await?;
    ensure!(
        matches!(&closed.event, Event::PollClosed { tally: Some(t), .. } if t.ballots == 3),
        "{closed:?}"
    );
    // Loud: counted in the metrics, written in the log.
    let refused = server.metric("convene_ballots_refused_total").await?;
    ensure!(
        refused == 4 + 1 + 3 + 3,
        "refused rows: {refused} (the 5 of the stuffed poll, 3 garbled, 3 of the closed poll)"
    );
    let log = std::fs::read_to_string(&server.stderr_path)?;
    ensure!(
        log.contains("ballot box tampered with") && log.contains(s.stuffed.as_str()),
        "the server's log names the tampered poll"
    );
    Ok(())
}

fn random_key() -> [u8; 16] {
    let mut key = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_planted_in_the_sqlite_ballot_box_are_refused_not_counted() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    let s = setup(&server).await?;
    server.terminate().await?;
    let rows = planted(&s)?;
    {
        let db = rusqlite::Connection::open(data.join("convene.sqlite3"))?;
        for body in &rows {
            db.execute(
                "INSERT INTO ballot_box (convention, id, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![CONVENTION, &random_key()[..], body],
            )?;
        }
    }
    server.restart().await?;
    check(&server, &s).await?;
    // The planted rows are kept: evidence, never deleted.
    server.terminate().await?;
    let bytes = std::fs::read(data.join("convene.sqlite3"))?;
    ensure!(
        bytes
            .windows(b"not a ballot at all".len())
            .any(|w| w == b"not a ballot at all"),
        "the unreadable row is still in the database"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_planted_in_the_redis_ballot_box_are_refused_not_counted() -> Result<()> {
    let redis = fresh_redis(7)?;
    let dir = tempdir();
    let mut server = Server::start_with(&dir.path().join("node"), &["--redis", &redis]).await?;
    let s = setup(&server).await?;
    server.terminate().await?;
    let rows = planted(&s)?;
    {
        // Into the sorted set of loose ballots, and into the set older versions wrote to.
        let mut con = redis::Client::open(redis.as_str())?.get_connection()?;
        for (i, body) in rows.iter().enumerate() {
            let member = format!("{}:{body}", hex(&random_key()[..8]));
            if i % 2 == 0 {
                redis::cmd("ZADD")
                    .arg(format!("cv:{{{CONVENTION}}}:box"))
                    .arg(0)
                    .arg(member)
                    .query::<i64>(&mut con)?;
            } else {
                redis::cmd("SADD")
                    .arg(format!("cv:{{{CONVENTION}}}:ballots"))
                    .arg(member)
                    .query::<i64>(&mut con)?;
            }
        }
    }
    server.restart().await?;
    check(&server, &s).await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A closed poll whose ballots are loose in the box, as an older version left them.
struct Unsealed {
    poll: String,
}

/// Five votes in a secret poll, closed: its sealed list is turned back into loose rows by
/// `unseal` (the server stopped), as a version that did not seal would have left them.
async fn closed_then_unsealed(
    server: &mut Server,
    unseal: impl FnOnce(&str) -> Result<Vec<String>>,
) -> Result<Unsealed> {
    let mut roster = vec![person("Claire Animatrice", &[Role::Facilitator], &[])];
    for i in 0..5 {
        roster.push(person(&format!("Citoyen {i}"), &[Role::Citizen], &[]));
    }
    let invites = server.http().convention("older", &roster).await?;
    let token = |name: &str| -> Result<String> {
        Ok(invites
            .iter()
            .find(|v| v.name == name)
            .context("invited")?
            .token
            .clone())
    };
    let mut fac = Client::join(&server.ws_url(), "fac", &token("Claire Animatrice")?).await?;
    let (poll, _) = fac
        .draft_and_open(poll_spec("Proposition 7", PollKind::Position, true, false))
        .await?;
    for i in 0..5 {
        let name = format!("Citoyen {i}");
        let mut c = Client::join(&server.ws_url(), &name, &token(&name)?).await?;
        let stance = [Stance::For, Stance::Against][i % 2];
        c.ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Position { stance },
        })
        .await?;
    }
    fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    server.terminate().await?;
    let ballots = unseal(&poll)?;
    ensure!(ballots.len() == 5, "{} sealed ballots", ballots.len());
    server.restart().await?;
    Ok(Unsealed { poll })
}

/// Taken up again, the closed poll counts its ballots (its logged result stands, nothing is
/// refused) and has them sealed again.
async fn sealed_again(server: &Server, u: &Unsealed) -> Result<()> {
    let path = format!("/api/conventions/older/polls/{}/results", u.poll);
    let body: Value = server.http().get(&path).send().await?.json().await?;
    ensure!(
        body["tally"]["ballots"] == 5 && body.get("tampered").is_none_or(Value::is_null),
        "the closed poll: {body}"
    );
    ensure!(
        server.metric("convene_ballots_refused_total").await? == 0,
        "nothing refused"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_ballots_of_a_closed_poll_are_sealed_when_taken_up_sqlite() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    let db_path = data.join("convene.sqlite3");
    let u = closed_then_unsealed(&mut server, |poll| {
        let db = rusqlite::Connection::open(&db_path)?;
        let list: String = db.query_row(
            "SELECT body FROM sealed_ballots WHERE convention = 'older' AND poll = ?1",
            [poll],
            |r| r.get(0),
        )?;
        db.execute("DELETE FROM sealed_ballots", [])?;
        let items: Vec<Value> = serde_json::from_str(&list)?;
        let mut out = Vec::new();
        for item in items {
            let body = item.to_string();
            db.execute(
                "INSERT INTO ballot_box (convention, id, body) VALUES ('older', ?1, ?2)",
                rusqlite::params![&random_key()[..], body],
            )?;
            out.push(body);
        }
        Ok(out)
    })
    .await?;
    sealed_again(&server, &u).await?;
    server.terminate().await?;
    let db = rusqlite::Connection::open(&db_path)?;
    let loose: i64 = db.query_row("SELECT COUNT(*) FROM ballot_box", [], |r| r.get(0))?;
    let list: String = db.query_row(
        "SELECT body FROM sealed_ballots WHERE convention = 'older' AND poll = ?1",
        [&u.poll],
        |r| r.get(0),
    )?;
    let sealed: Vec<Value> = serde_json::from_str(&list)?;
    ensure!(
        loose == 0 && sealed.len() == 5,
        "{loose} loose rows, {} sealed",
        sealed.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loose_ballots_of_a_closed_poll_are_sealed_when_taken_up_redis() -> Result<()> {
    let redis = fresh_redis(5)?;
    let dir = tempdir();
    let mut server = Server::start_with(&dir.path().join("node"), &["--redis", &redis]).await?;
    let client = redis::Client::open(redis.as_str())?;
    let u = closed_then_unsealed(&mut server, |poll| {
        let mut con = client.get_connection()?;
        let list: String = redis::cmd("HGET")
            .arg("cv:{older}:sealed")
            .arg(poll)
            .query(&mut con)?;
        redis::cmd("DEL")
            .arg("cv:{older}:sealed")
            .query::<i64>(&mut con)?;
        let items: Vec<Value> = serde_json::from_str(&list)?;
        let mut out = Vec::new();
        for item in items {
            let body = item.to_string();
            redis::cmd("SADD")
                .arg("cv:{older}:ballots")
                .arg(format!("{}:{body}", hex(&random_key()[..8])))
                .query::<i64>(&mut con)?;
            out.push(body);
        }
        Ok(out)
    })
    .await?;
    sealed_again(&server, &u).await?;
    let mut con = client.get_connection()?;
    let loose: i64 = redis::cmd("SCARD")
        .arg("cv:{older}:ballots")
        .query(&mut con)?;
    let list: String = redis::cmd("HGET")
        .arg("cv:{older}:sealed")
        .arg(&u.poll)
        .query(&mut con)?;
    let sealed: Vec<Value> = serde_json::from_str(&list)?;
    ensure!(
        loose == 0 && sealed.len() == 5,
        "{loose} loose members, {} sealed",
        sealed.len()
    );
    Ok(())
}
