//! `serve --demo` at restart keeps the demo's stable links for the demo's own people, and
//! only for them: someone an organizer added to the demo convention over the API keeps the
//! invitation the organizer gave them, and every link printed at restart works.

use anyhow::{ensure, Context, Result};
use convene_tests::proto::api::{Invite, InviteStatus, IssueInvites, RosterAdded};
use convene_tests::proto::Role;
use convene_tests::{person, tempdir, Client, Server};

/// The public page's link token, from the line `serve --demo` prints.
fn public_link(server: &Server) -> Result<String> {
    let lines = server
        .stdout
        .lock()
        .map_err(|_| anyhow::anyhow!("stdout"))?;
    let line = lines
        .iter()
        .find(|l| l.starts_with("Page publique"))
        .context("no public page printed")?;
    let (_, token) = line
        .split_once("/public#link=")
        .with_context(|| format!("not a page link: {line}"))?;
    Ok(token.trim().to_string())
}

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

/// The day the demo comes with, as its facilitator sees it and runs it: seven sequences from
/// the next quarter of an hour on, each starting what it prepared (the hearing, the
/// rotation of the four experts, breakout rooms balanced by commune, the vote), in order;
/// a restart does not prepare it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_comes_with_a_day_its_facilitator_runs_from_start_to_end() -> Result<()> {
    use convene_tests::proto::{
        Command, Event, HearingStatus, PollStatus, SequenceAction, SequenceStatus,
    };
    let dir = tempdir();
    let out = dir.path().join("invites.json");
    let out_arg = out.to_string_lossy().into_owned();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let mut server = Server::start_with(
        &dir.path().join("data"),
        &["--demo", "--invites-out", &out_arg],
    )
    .await?;
    let demo = printed(&out)?;
    let by_role = |role: Role| demo.iter().filter(move |i| i.roles.contains(&role));
    let claire = by_role(Role::Facilitator).next().context("a facilitator")?;
    let mut fac = Client::join(&server.ws_url(), &claire.name, &claire.token).await?;
    let snap = fac.snapshot.clone().context("a welcome")?;

    // What is prepared: the programme, the draft vote, the hearing, the rotation's plan.
    let titles: Vec<&str> = snap
        .runsheet
        .sequences
        .iter()
        .map(|s| s.spec.title.as_str())
        .collect();
    ensure!(
        titles
            == [
                "Accueil en plénière",
                "Audition : les mobilités de demain",
                "Rencontres avec les experts",
                "Pause, puis retour en plénière",
                "Travail en sous-groupes",
                "Restitution en plénière",
                "Vote : bus de nuit",
            ],
        "{titles:?}"
    );
    let seqs = &snap.runsheet.sequences;
    ensure!(seqs.iter().all(|s| s.status == SequenceStatus::Planned));
    let quarter = 15 * 60_000;
    let first = seqs[0].spec.planned_start;
    ensure!(
        first % quarter == 0 && first >= before && first < before + quarter + 60_000,
        "the day starts at {first}, made at {before}"
    );
    for w in seqs.windows(2) {
        ensure!(
            w[1].spec.planned_start == w[0].spec.planned_start + w[0].spec.planned_ms,
            "{} does not follow {}",
            w[1].spec.title,
            w[0].spec.title
        );
    }
    ensure!(
        snap.polls.len() == 1 && snap.polls[0].status == PollStatus::Draft,
        "{:?}",
        snap.polls
    );
    ensure!(
        matches!(&seqs[6].spec.action, SequenceAction::Polls { polls } if polls == &[snap.polls[0].id.clone()])
    );
    ensure!(
        snap.hearings.len() == 1 && snap.hearings[0].status == HearingStatus::Planned,
        "{:?}",
        snap.hearings
    );
    ensure!(snap.rotation.is_some(), "no rotation planned");

    // The public page's link, printed at start, opens the plenary to the public.
    let public = public_link(&server)?;
    let viewer = convene_tests::public::Viewer::watch(&server, &public).await?;
    ensure!(
        viewer
            .view
            .as_ref()
            .is_some_and(|v| v.convention.contains("Nantes Métropole")),
        "{:?}",
        viewer.view
    );

    // A citizen sees the programme too.
    let citizens: Vec<&Invite> = by_role(Role::Citizen).collect();
    let mut amina = Client::join(&server.ws_url(), &citizens[0].name, &citizens[0].token).await?;
    let seen = amina.snapshot.clone().context("a welcome")?;
    ensure!(seen.runsheet.sequences.len() == 7);

    // The rotation needs its experts: without them, a typed refusal that names the sequence.
    let ids: Vec<String> = seqs.iter().map(|s| s.id.clone()).collect();
    let start = |i: usize| Command::StartSequence {
        sequence: ids[i].clone(),
        end_running: true,
    };
    fac.ok(start(0)).await?;
    fac.ok(start(1)).await?;
    fac.wait_event("hearing_opened").await?;
    let refused = fac.request(start(2)).await?;
    ensure!(
        refused
            .as_ref()
            .is_err_and(|(_, message)| message.contains("Rencontres avec les experts")),
        "{refused:?}"
    );
    // The experts and a few citizens come; the day runs to its end.
    let mut present = Vec::new();
    for inv in by_role(Role::Expert).chain(citizens.iter().skip(1).take(7).copied()) {
        present.push(Client::join(&server.ws_url(), &inv.name, &inv.token).await?);
    }
    fac.ok(start(2)).await?;
    fac.wait_event("rotation_round_started").await?;
    fac.ok(start(3)).await?;
    fac.wait_event("rotation_ended").await?;
    fac.ok(start(4)).await?;
    let opened = fac.wait_event("breakouts_opened").await?;
    ensure!(matches!(opened.event, Event::BreakoutsOpened { .. }));
    let moved = amina.wait_event("rooms_assigned").await?;
    ensure!(
        matches!(&moved.event, Event::RoomsAssigned { method, .. } if method == "balanced:commune"),
        "{moved:?}"
    );
    fac.ok(start(5)).await?;
    fac.wait_event("breakouts_closed").await?;
    fac.ok(start(6)).await?;
    fac.wait_event("poll_opened").await?;
    fac.ok(Command::EndSequence).await?;
    drop(present);

    // A restart prepares nothing again.
    fac.close().await;
    amina.close().await;
    server.terminate().await?;
    server.restart().await?;
    let fac = Client::join(&server.ws_url(), &claire.name, &claire.token).await?;
    let snap = fac.snapshot.clone().context("a welcome")?;
    ensure!(
        snap.runsheet.sequences.len() == 7,
        "{}",
        snap.runsheet.sequences.len()
    );
    ensure!(snap.polls.len() == 1 && snap.hearings.len() == 1);
    ensure!(
        public_link(&server)? == public,
        "the public link changed at restart"
    );
    ensure!(snap
        .runsheet
        .sequences
        .iter()
        .all(|s| matches!(s.status, SequenceStatus::Done { .. })));
    Ok(())
}

/// `--demo-day none`: the demo's roster and opinion, and a blank day. Started again with its
/// day, the demo gets it (its run sheet never had a sequence), reusing what is already there
/// (here the vote's draft, as a start interrupted halfway would have left it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_without_its_day_starts_blank_and_gets_it_later() -> Result<()> {
    use convene_tests::poll_spec;
    use convene_tests::proto::{Command, PollKind};
    let dir = tempdir();
    let out = dir.path().join("invites.json");
    let out_arg = out.to_string_lossy().into_owned();
    let data = dir.path().join("data");
    let mut server = Server::start_with(
        &data,
        &["--demo", "--demo-day", "none", "--invites-out", &out_arg],
    )
    .await?;
    let demo = printed(&out)?;
    ensure!(demo.len() == 34, "{} demo links", demo.len());
    // The start says where the organizer console is, and it is there.
    let console = {
        let lines = server
            .stdout
            .lock()
            .map_err(|_| anyhow::anyhow!("stdout"))?;
        lines
            .iter()
            .find(|l| l.starts_with("Espace organisation"))
            .and_then(|l| l.split_whitespace().last())
            .map(str::to_string)
            .context("no console link printed")?
    };
    ensure!(console == server.url("/organisation"), "{console}");
    let page = reqwest::get(&console).await?;
    ensure!(page.status() == 200, "{console}: {}", page.status());
    let claire = demo
        .iter()
        .find(|i| i.roles.contains(&Role::Facilitator))
        .context("a facilitator")?;
    let mut fac = Client::join(&server.ws_url(), &claire.name, &claire.token).await?;
    let snap = fac.snapshot.clone().context("a welcome")?;
    ensure!(snap.runsheet.sequences.is_empty(), "{:?}", snap.runsheet);
    ensure!(snap.polls.is_empty() && snap.hearings.is_empty() && snap.rotation.is_none());
    ensure!(
        snap.documents.len() == 1,
        "the opinion: {:?}",
        snap.documents
    );
    let question = "Faut-il des bus de nuit le week-end dans toute la métropole ?";
    let kind = PollKind::Single {
        options: vec!["Oui".into(), "Non".into()],
    };
    fac.ok(Command::DraftPoll {
        spec: poll_spec(question, kind, false, false),
    })
    .await?;
    fac.close().await;
    server.terminate().await?;

    // Started again with its day (the default).
    let server = Server::start_with(&data, &["--demo", "--invites-out", &out_arg]).await?;
    let fac = Client::join(&server.ws_url(), &claire.name, &claire.token).await?;
    let snap = fac.snapshot.clone().context("a welcome")?;
    ensure!(
        snap.runsheet.sequences.len() == 7,
        "{:?}",
        snap.runsheet.sequences
    );
    ensure!(snap.polls.len() == 1, "the draft reused: {:?}", snap.polls);
    ensure!(snap.hearings.len() == 1 && snap.rotation.is_some());
    Ok(())
}
