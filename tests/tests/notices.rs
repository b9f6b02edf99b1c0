//! Announcements (`broadcast`) reach those who were away: the latest ones are in every
//! snapshot (`notices`), so a participant who reconnects, or arrives late, finds what was
//! announced meanwhile; only the latest `RECENT` are kept, and a restart keeps them.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Actor, Command, Role};
use convene_tests::{person, tempdir, Client, Server};

/// How many announcements a snapshot recalls (PROTOCOL.md, the snapshot's `notices`).
const RECENT: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_who_was_away_finds_the_latest_announcements() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[("commune", "Rezé")]),
    ];
    let invites = server.http().convention("annonces", &roster).await?;
    let (fac_token, cit_token) = (invites[0].token.clone(), invites[1].token.clone());

    // The citizen is here, sees nothing announced yet, and leaves.
    let cit = Client::join(&server.ws_url(), "yannick", &cit_token).await?;
    let snap = cit.snapshot.as_ref().context("a snapshot")?;
    ensure!(
        snap.notices.is_empty(),
        "no announcement yet: {:?}",
        snap.notices
    );
    cit.close().await;

    // Meanwhile the facilitator announces more than a snapshot recalls.
    let mut fac = Client::join(&server.ws_url(), "claire", &fac_token).await?;
    let mut sent = Vec::new();
    for k in 0..RECENT + 3 {
        let text = format!("Annonce n° {k}");
        let seq = fac.ok(Command::Broadcast { text: text.clone() }).await?;
        sent.push((seq, text));
    }
    let fac_id = fac.id();
    fac.close().await;
    let expected = &sent[sent.len() - RECENT..];

    // Back: the latest RECENT, oldest first, with their seq, author and text.
    let check = |c: &Client, when: &str| -> Result<()> {
        let notices = &c.snapshot.as_ref().context("a snapshot")?.notices;
        let got: Vec<(u64, String)> = notices.iter().map(|n| (n.seq, n.text.clone())).collect();
        ensure!(
            got == expected,
            "{when}: the snapshot recalls {got:?}, expected the last {RECENT} of {sent:?}"
        );
        ensure!(
            notices
                .iter()
                .all(|n| n.by == Actor::Participant(fac_id.clone()) && n.at > 0),
            "{when}: every announcement is the facilitator's, with its time: {notices:?}"
        );
        Ok(())
    };
    let cit = Client::join(&server.ws_url(), "yannick", &cit_token).await?;
    check(&cit, "after reconnecting")?;
    cit.close().await;

    // The log replayed after a crash gives the same.
    server.kill9_and_restart().await?;
    let cit = Client::join(&server.ws_url(), "yannick", &cit_token).await?;
    check(&cit, "after kill -9 and a restart")?;
    cit.close().await;
    Ok(())
}
