//! A chat line or a raised hand that names the room its sender believed they were in (a phone
//! that was offline resends its queue on reconnection) is refused with `conflict` once the
//! sender has been moved elsewhere: a line meant for a small group never lands in the plenary.
//! Naming the current room, or no room (older clients), posts as before.

use std::time::Duration;

use anyhow::{bail, ensure, Result};
use convene_tests::proto::{Command, ErrorCode, Event, Role, PLENARY_ID};
use convene_tests::{person, tempdir, token_of, Client, Server};

const SECRET: &str = "Rien que pour notre petit groupe : je n'ose pas le dire en plénière.";

/// Whether any event this client has read carries `text`.
fn saw(c: &Client, text: &str) -> bool {
    c.events
        .iter()
        .any(|r| format!("{:?}", r.event).contains(text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_or_hand_for_a_room_one_has_left_is_refused() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Amina Diallo", &[Role::Citizen], &[("commune", "Rezé")]),
        person("Bruno Le Goff", &[Role::Citizen], &[("commune", "Nantes")]),
    ];
    let invites = server.http().convention("moved", &roster).await?;
    let ws = server.ws_url();
    let mut fac = Client::join(&ws, "claire", &token_of(&invites, "Claire Animatrice")).await?;
    let mut amina = Client::join(&ws, "amina", &token_of(&invites, "Amina Diallo")).await?;
    let mut bruno = Client::join(&ws, "bruno", &token_of(&invites, "Bruno Le Goff")).await?;

    // Amina goes to a small room, then is brought back to the plenary.
    fac.ok(Command::CreateRooms {
        count: Some(1),
        names: vec![],
    })
    .await?;
    let Event::RoomsCreated { rooms } = fac.wait_event("rooms_created").await?.event else {
        bail!("not rooms_created")
    };
    let small = rooms[0].id.clone();
    let me = amina.id();
    for to in [small.as_str(), PLENARY_ID] {
        fac.ok(Command::MoveParticipant {
            participant: me.clone(),
            room: to.to_string(),
        })
        .await?;
        // Read until her own view has her there (a move of one's own comes with a fresh
        // snapshot of the new room).
        let mut tries = 0;
        while amina.room() != to {
            tries += 1;
            ensure!(tries < 100, "Amina never saw herself moved to {to}");
            amina.drain(Duration::from_millis(100)).await;
        }
    }

    // Her line written in the small room, sent now: refused, posted nowhere.
    let refused = amina
        .request(Command::SendChat {
            text: SECRET.into(),
            room: Some(small.clone()),
        })
        .await?;
    match &refused {
        Err((ErrorCode::Conflict, m)) if m.contains("you changed room") => {}
        other => bail!("a line for a room left was answered {other:?}"),
    }
    // Same for a hand raised there.
    let hand = amina
        .request(Command::RaiseHand {
            room: Some(small.clone()),
        })
        .await?;
    match &hand {
        Err((ErrorCode::Conflict, m)) if m.contains("your hand was not raised") => {}
        other => bail!("a hand for a room left was answered {other:?}"),
    }

    // Naming the room she is in: posted, as is a line naming no room (older clients).
    let here = "Je suis bien en plénière.";
    let seq = amina
        .ok(Command::SendChat {
            text: here.into(),
            room: Some(PLENARY_ID.into()),
        })
        .await?;
    let old = "Un client d'avant, sans salle.";
    let seq_old = amina
        .ok(Command::SendChat {
            text: old.into(),
            room: None,
        })
        .await?;
    ensure!(
        seq_old == seq + 1,
        "nothing was appended between the two lines"
    );
    let hand_seq = amina
        .ok(Command::RaiseHand {
            room: Some(PLENARY_ID.into()),
        })
        .await?;
    for c in [&mut fac, &mut bruno] {
        for s in [seq, seq_old, hand_seq] {
            c.wait_seq(s).await?;
        }
        ensure!(
            saw(c, here) && saw(c, old),
            "{} sees the plenary lines",
            c.name
        );
        ensure!(!saw(c, SECRET), "{} received the refused line", c.name);
        let raised: Vec<_> = c
            .events
            .iter()
            .filter_map(|r| match &r.event {
                Event::HandRaised { room, participant } if *participant == me => Some(room),
                _ => None,
            })
            .collect();
        ensure!(
            raised == [PLENARY_ID],
            "{}: Amina's hands raised {raised:?}, expected only the plenary one",
            c.name
        );
    }

    // And the log, the truth, never held it.
    let log = server.log("moved")?;
    ensure!(
        !log.iter()
            .any(|r| format!("{:?}", r.event).contains(SECRET)),
        "the refused line is in the log"
    );
    let chats: Vec<_> = log
        .iter()
        .filter_map(|r| match &r.event {
            Event::ChatPosted { room, text } => Some((room.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    ensure!(
        chats == [(PLENARY_ID, here), (PLENARY_ID, old)],
        "log chat lines: {chats:?}"
    );
    Ok(())
}
