//! While a secret poll is open and its results are hidden, facilitators and guarantors follow
//! its participation, never a running count or a provisional winner: not in their snapshot,
//! not in `poll_tally` messages, not in the poll export. A named poll's count stays theirs;
//! revealing the results, or closing the poll, gives them the tally.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::api::PollResults;
use convene_tests::proto::{Ballot, Command, Event, PollKind, Role, ServerMessage, Stance};
use convene_tests::{person, poll_spec, tempdir, Client, Server};

/// Every poll frame a staff connection holds for `poll`: none may carry a tally.
fn tallies_seen(c: &Client, poll: &str) -> Vec<String> {
    let mut out = Vec::new();
    for m in &c.inbox {
        if let ServerMessage::PollTally {
            poll: p,
            tally: Some(t),
            ..
        } = m
        {
            if p == poll {
                out.push(format!("poll_tally {t:?}"));
            }
        }
    }
    for r in &c.events {
        if let Event::PollClosed {
            poll: p,
            tally: Some(t),
            ..
        } = &r.event
        {
            if p == poll {
                out.push(format!("poll_closed {t:?}"));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_see_participation_not_the_count_of_an_open_secret_poll() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Hélène Garnier", &[Role::Guarantor], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Fatima Benali", &[Role::Citizen], &[]),
        person("Bernard Guérin", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("secret", &roster).await?;
    let token = |i: usize| invites[i].token.clone();
    let mut fac = Client::join(&server.ws_url(), "claire", &token(0)).await?;
    let mut gar = Client::join(&server.ws_url(), "helene", &token(1)).await?;
    let mut cit = Vec::new();
    for invite in &invites[2..5] {
        cit.push(Client::join(&server.ws_url(), &invite.name, &invite.token).await?);
    }

    let (secret, _) = fac
        .draft_and_open(poll_spec(
            "Bus gratuits la nuit ?",
            PollKind::Position,
            true,
            false,
        ))
        .await?;
    let (named, _) = fac
        .draft_and_open(poll_spec("Une pause ?", PollKind::Position, false, false))
        .await?;
    for (c, stance) in cit.iter_mut().take(2).zip([Stance::For, Stance::Against]) {
        for poll in [&secret, &named] {
            c.ok(Command::Vote {
                poll: poll.clone(),
                ballot: Ballot::Position { stance },
            })
            .await?;
        }
    }

    // Both staff connections follow the participation of the secret poll...
    for (who, c) in [("facilitator", &mut fac), ("guarantor", &mut gar)] {
        let m = c
            .wait_for(|m| {
                matches!(m, ServerMessage::PollTally { poll, participation: Some(p), .. }
                    if *poll == secret && p.voted == 2)
            })
            .await
            .with_context(|| format!("{who}: participation of the secret poll"))?;
        ensure!(
            matches!(m, ServerMessage::PollTally { tally: None, .. }),
            "{who}: a running count of the secret poll: {m:?}"
        );
        // ...and keep the named poll's count.
        c.wait_for(|m| {
            matches!(m, ServerMessage::PollTally { poll, tally: Some(t), .. }
                if *poll == named && t.ballots == 2)
        })
        .await
        .with_context(|| format!("{who}: the named poll's count"))?;
        c.drain(std::time::Duration::from_millis(300)).await;
        ensure!(
            tallies_seen(c, &secret).is_empty(),
            "{who} saw a count of the open secret poll: {:?}",
            tallies_seen(c, &secret)
        );
    }

    // A facilitator who arrives now: participation in the snapshot, no tally.
    let late = Client::join(&server.ws_url(), "claire-again", &token(0)).await?;
    let view = late
        .snapshot
        .as_ref()
        .context("snapshot")?
        .polls
        .iter()
        .find(|p| p.id == secret)
        .cloned()
        .context("the secret poll in the snapshot")?;
    ensure!(view.tally.is_none(), "a count in the snapshot: {view:?}");
    ensure!(
        view.participation.as_ref().map(|p| p.voted) == Some(2),
        "participation in the snapshot: {view:?}"
    );
    // The export: participation, an empty tally.
    let export: Vec<PollResults> = reqwest::Client::new()
        .get(server.url("/api/conventions/secret/polls"))
        .bearer_auth(token(0))
        .send()
        .await?
        .json()
        .await?;
    let r = export
        .iter()
        .find(|r| r.id == secret)
        .context("the secret poll in the export")?;
    ensure!(
        r.participation.voted == 2 && r.tally.ballots == 0 && r.tally.counts.is_empty(),
        "the export of an open secret poll: {r:?}"
    );
    let n = export
        .iter()
        .find(|r| r.id == named)
        .context("the named poll")?;
    ensure!(
        n.tally.ballots == 2,
        "the named poll's export keeps its count: {n:?}"
    );

    // The last vote, then the close: now the staff have the tally.
    cit[2]
        .ok(Command::Vote {
            poll: secret.clone(),
            ballot: Ballot::Position {
                stance: Stance::For,
            },
        })
        .await?;
    let seq = fac
        .ok(Command::ClosePoll {
            poll: secret.clone(),
        })
        .await?;
    let closed = fac.wait_seq(seq).await?;
    ensure!(
        matches!(&closed.event, Event::PollClosed { tally: Some(t), .. } if t.counts == vec![2, 1, 0, 0]),
        "the close gives the staff the tally: {closed:?}"
    );
    gar.wait_for(|m| {
        matches!(m, ServerMessage::Event { record } if matches!(&record.event, Event::PollClosed { tally: Some(t), .. } if t.ballots == 3))
    })
    .await
    .context("the guarantor's tally at the close")?;

    // Revealing an open secret poll shows its count to everyone, staff included.
    let (again, _) = fac
        .draft_and_open(poll_spec(
            "Et le week-end ?",
            PollKind::Position,
            true,
            false,
        ))
        .await?;
    cit[0]
        .ok(Command::Vote {
            poll: again.clone(),
            ballot: Ballot::Position {
                stance: Stance::Abstain,
            },
        })
        .await?;
    fac.ok(Command::RevealResults {
        poll: again.clone(),
    })
    .await?;
    fac.wait_for(|m| {
        matches!(m, ServerMessage::PollTally { poll, tally: Some(t), .. } if *poll == again && t.ballots == 1)
    })
    .await
    .context("the revealed count")?;
    Ok(())
}
