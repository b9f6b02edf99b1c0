//! `serve --demo` at restart keeps the demo's stable links for the demo's own people, and
//! only for them: someone an organizer added to the demo convention over the API keeps the
//! invitation the organizer gave them, and every link printed at restart works.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::api::{Invite, InviteStatus, IssueInvites, RosterAdded};
use convene_tests::proto::Role;
use convene_tests::{person, tempdir, Client, Server};

fn printed(path: &std::path::Path) -> Result<Vec<Invite>> {
    let text = std::fs::read_to_string(path).context("no --invites-out file")?;
    Ok(serde_json::from_str(&text)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_demo_keeps_the_invitations_an_organizer_issued() -> Result<()> {
    let dir = tempdir();
    let out = dir.path().join("invites.json");
    let out_arg = out.to_string_lossy().into_owned();
    let mut server = Server::start_with(
        &dir.path().join("data"),
        &["--demo", "--invites-out", &out_arg],
    )
    .await?;
    let demo = printed(&out)?;
    ensure!(demo.len() == 34, "{} demo links", demo.len());

    // The organizer adds two people to the demo convention and invites them.
    let org = server.http();
    let r = org
        .post("/api/conventions/demo/roster")
        .json(&[
            person(
                "Nouvelle Citoyenne",
                &[Role::Citizen],
                &[("commune", "Rezé")],
            ),
            person("Nouveau Garant", &[Role::Guarantor], &[]),
        ])
        .send()
        .await?;
    ensure!(r.status() == 201, "roster: {}", r.status());
    let added: RosterAdded = r.json().await?;
    let r = org
        .post("/api/conventions/demo/invites")
        .json(&IssueInvites {
            participants: Some(added.added.clone()),
        })
        .send()
        .await?;
    ensure!(r.status() == 201, "invites: {}", r.status());
    let theirs: Vec<Invite> = r.json().await?;
    ensure!(theirs.len() == 2, "{theirs:?}");
    for inv in &theirs {
        Client::join(&server.ws_url(), &inv.name, &inv.token).await?;
    }

    // Restart with --demo.
    let status = server.terminate().await?;
    ensure!(status.success(), "exit {status}");
    server.restart().await?;

    // Their invitations still work, and are still active.
    for inv in &theirs {
        let c = Client::join(&server.ws_url(), &inv.name, &inv.token)
            .await
            .with_context(|| format!("{}'s invitation after the restart", inv.name))?;
        ensure!(c.id() == inv.participant, "joined as {}", c.id());
    }
    let statuses: Vec<InviteStatus> = server
        .http()
        .get("/api/conventions/demo/invites")
        .send()
        .await?
        .json()
        .await?;
    ensure!(statuses.len() == 36, "{} people", statuses.len());
    ensure!(
        statuses.iter().all(|s| s.active),
        "an invitation is no longer active: {:?}",
        statuses.iter().filter(|s| !s.active).collect::<Vec<_>>()
    );

    // The demo's own links are the same as before, and each one works; the links printed are
    // the demo's own people's only (nobody else's token derives from the demo secret).
    let again = printed(&out)?;
    // (The links' host changes with the port; the tokens must not.)
    let tokens = |v: &[Invite]| {
        v.iter()
            .map(|i| (i.participant.clone(), i.token.clone()))
            .collect::<Vec<_>>()
    };
    ensure!(
        tokens(&again) == tokens(&demo),
        "the demo's links changed at restart"
    );
    for inv in &again {
        let c = Client::join(&server.ws_url(), &inv.name, &inv.token)
            .await
            .with_context(|| format!("{}'s demo link", inv.name))?;
        ensure!(c.id() == inv.participant);
    }
    Ok(())
}
