//! `convene export` / `convene import`: a convention moves from the SQLite store to Redis
//! and back, and the exports compare equal; the imported convention is served as it was.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Ballot, Command, Event, PollKind, Role};
use convene_tests::{
    convene_cli, convene_try, own_redis, person, poll_spec, tempdir, Client, Server,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_convention_moves_between_sqlite_and_redis_unchanged() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start(&data).await?;
    let roster = [
        person("Claire", &[Role::Facilitator], &[]),
        person("Amina", &[Role::Citizen], &[("commune", "Rezé")]),
        person("Bernard", &[Role::Citizen], &[("commune", "Orvault")]),
    ];
    let invites = server.http().convention("migre", &roster).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &invites[0].token).await?;
    let mut amina = Client::join(&server.ws_url(), "amina", &invites[1].token).await?;
    let mut bernard = Client::join(&server.ws_url(), "bernard", &invites[2].token).await?;
    amina
        .ok(Command::SendChat {
            room: None,
            text: "Bonjour".into(),
        })
        .await?;
    let spec = poll_spec("D'accord ?", PollKind::Position, true, false);
    let (poll, _) = fac.draft_and_open(spec).await?;
    amina
        .ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Position {
                stance: convene_tests::proto::Stance::For,
            },
        })
        .await?;
    bernard
        .ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Position {
                stance: convene_tests::proto::Stance::Abstain,
            },
        })
        .await?;
    fac.ok(Command::CreateDocument {
        name: "opinion".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    fac.ok(Command::NameVersion {
        document: "opinion".into(),
        label: "vide".into(),
    })
    .await?;
    server.terminate().await?;

    // SQLite → file → Redis → file: the two files are the same.
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    let data_s = data.to_string_lossy().to_string();
    convene_cli([
        "export",
        "--convention",
        "migre",
        "--data",
        &data_s,
        "--out",
        &first.to_string_lossy(),
    ])?;
    // A Redis of its own: an empty one, shared with no other test.
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let own = own_redis(&redis_dir, &[])?;
    let redis = own.url.clone();
    convene_cli(["import", &first.to_string_lossy(), "--redis", &redis])?;
    // Importing twice is refused: nothing is overwritten.
    let (ok, err) = convene_try(["import", &first.to_string_lossy(), "--redis", &redis])?;
    ensure!(!ok && err.contains("already exists"), "second import");
    convene_cli([
        "export",
        "--convention",
        "migre",
        "--redis",
        &redis,
        "--out",
        &second.to_string_lossy(),
    ])?;
    let (a, b) = (
        std::fs::read_to_string(&first)?,
        std::fs::read_to_string(&second)?,
    );
    ensure!(
        a.lines().count() > 10,
        "the export holds the convention: {} lines",
        a.lines().count()
    );
    ensure!(
        a == b,
        "the export from Redis differs from the export from SQLite"
    );
    // The audit trail of the export still verifies.
    let audit: String = a
        .lines()
        .filter(|l| l.contains("\"kind\":\"audit\""))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}\n", v["entry"])
        })
        .collect();
    let audit_file = dir.path().join("audit.jsonl");
    std::fs::write(&audit_file, audit)?;
    convene_cli(["audit", "verify", &audit_file.to_string_lossy()])?;

    // A node on Redis serves the imported convention as it was.
    let node = Server::start_with(&dir.path().join("node"), &["--redis", &redis]).await?;
    let mut fac = Client::join(&node.ws_url(), "fac", &invites[0].token).await?;
    let snap = fac.snapshot.clone().context("a snapshot")?;
    ensure!(
        snap.rooms[0]
            .inside
            .as_ref()
            .unwrap()
            .chat
            .iter()
            .any(|l| l.text == "Bonjour"),
        "chat kept"
    );
    let p = snap
        .polls
        .iter()
        .find(|p| p.id == poll)
        .context("the poll")?;
    // An open secret poll shows staff its participation; its count comes with the close.
    ensure!(
        p.participation.as_ref().map(|x| x.voted) == Some(2) && p.tally.is_none(),
        "secret ballots kept: {p:?}"
    );
    ensure!(
        snap.documents
            .iter()
            .any(|d| d.name == "opinion" && d.versions.len() == 1),
        "document and version kept"
    );
    let seq = fac.ok(Command::ClosePoll { poll: poll.clone() }).await?;
    let closed = fac.wait_seq(seq).await?;
    ensure!(
        matches!(&closed.event, Event::PollClosed { tally: Some(t), .. } if t.counts == vec![1, 0, 0, 1]),
        "secret ballots kept: {closed:?}"
    );
    Ok(())
}
