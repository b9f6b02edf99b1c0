//! Who receives what when records of different audiences are decided together: ballots (each
//! `voter_marked` for its voter alone), chat lines (the plenary's) and broadcasts (everyone's),
//! sent at once so that they share batches. Every connection gets exactly the events it may
//! see, each once, in the order of the log; both connections of a voter get its mark, nobody
//! gets another's.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{Ballot, ClientMessage, Command, Event, PollKind, Role, ServerMessage};
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

const CITIZENS: usize = 12;

/// Send a request without waiting for its reply.
async fn send(c: &mut Client, id: &str, command: Command) -> Result<()> {
    c.send(&ClientMessage::Request {
        id: id.to_string(),
        command,
    })
    .await
}

/// The seq of the `ok` to request `id`.
async fn ok_of(c: &mut Client, id: &str) -> Result<u64> {
    let id = id.to_string();
    let reply = c
        .wait_for(|m| match m {
            ServerMessage::Ok { id: i, .. } | ServerMessage::Error { id: Some(i), .. } => *i == id,
            _ => false,
        })
        .await
        .with_context(|| format!("{}: no reply to {id}", c.name))?;
    match reply {
        ServerMessage::Ok { seq, .. } => Ok(seq),
        other => bail!("{}: {id} refused: {other:?}", c.name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_mixed_audiences_reach_exactly_their_viewers_in_log_order() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ];
    for i in 0..CITIZENS {
        roster.push(person(&format!("Citoyen {i:02}"), &[Role::Citizen], &[]));
    }
    let invites = server.http().convention("fan-out", &roster).await?;
    let token = |name: &str| token_of(&invites, name);
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &token("Claire Animatrice")).await?;
    let mut gar = Client::join(&url, "gar", &token("Hélène Garante")).await?;
    let mut citizens = Vec::new();
    for i in 0..CITIZENS {
        let name = format!("Citoyen {i:02}");
        citizens.push(Client::join(&url, &name, &token(&name)).await?);
    }
    // Citizen 0 also has a second connection (a phone next to the laptop), which sends nothing.
    let mut second = Client::join(&url, "Citoyen 00 (2)", &token("Citoyen 00")).await?;

    let options = vec!["Oui".into(), "Non".into()];
    let spec = poll_spec(
        "Quelle priorité ?",
        PollKind::Single { options },
        true,
        true,
    );
    let (poll, opened) = fac.draft_and_open(spec).await?;

    // Everyone at once: each citizen votes and chats, the facilitator broadcasts.
    for (i, c) in citizens.iter_mut().enumerate() {
        let ballot = Ballot::Single {
            choice: (i % 2) as u32,
        };
        let vote = Command::Vote {
            poll: poll.clone(),
            ballot,
        };
        send(c, &format!("vote-{i}"), vote).await?;
        let chat = Command::SendChat {
            room: None,
            text: format!("message {i}"),
        };
        send(c, &format!("chat-{i}"), chat).await?;
    }
    for k in 0..3 {
        let text = format!("annonce {k}");
        send(
            &mut fac,
            &format!("broadcast-{k}"),
            Command::Broadcast { text },
        )
        .await?;
    }
    let mut wide = BTreeSet::new();
    let mut marks = Vec::new();
    for (i, c) in citizens.iter_mut().enumerate() {
        // A secret ballot logs one event, its voter's mark: the ok carries its seq.
        marks.push(ok_of(c, &format!("vote-{i}")).await?);
        wide.insert(ok_of(c, &format!("chat-{i}")).await?);
    }
    for k in 0..3 {
        wide.insert(ok_of(&mut fac, &format!("broadcast-{k}")).await?);
    }
    let last = fac.ok(Command::Broadcast { text: "fin".into() }).await?;
    wide.insert(last);

    // Each connection: its events after the opening, once each, in seq order, exactly the
    // wide ones plus its own mark.
    let mut expected: BTreeMap<String, (&mut Client, BTreeSet<u64>)> = BTreeMap::new();
    expected.insert("fac".into(), (&mut fac, wide.clone()));
    expected.insert("gar".into(), (&mut gar, wide.clone()));
    let mut own = wide.clone();
    own.insert(marks[0]);
    expected.insert("second".into(), (&mut second, own));
    for (i, c) in citizens.iter_mut().enumerate() {
        let mut own = wide.clone();
        own.insert(marks[i]);
        expected.insert(c.name.clone(), (c, own));
    }
    for (name, (c, want)) in expected {
        c.wait_seq(last).await?;
        let got: Vec<u64> = c
            .events
            .iter()
            .filter(|r| r.seq > opened)
            .map(|r| r.seq)
            .collect();
        ensure!(
            got.windows(2).all(|w| w[0] < w[1]),
            "{name}: events out of order or twice: {got:?}"
        );
        let got: BTreeSet<u64> = got.into_iter().collect();
        ensure!(got == want, "{name}: received {got:?}, expected {want:?}");
        for r in c.events.iter().filter(|r| r.seq > opened) {
            let is_mark = matches!(&r.event, Event::VoterMarked { poll: p } if *p == poll);
            ensure!(
                is_mark == marks.contains(&r.seq),
                "{name}: event {} is {:?}",
                r.seq,
                r.event
            );
        }
    }
    Ok(())
}
