//! The run sheet end to end, with the real server: a facilitator prepares a day of four
//! sequences over the WebSocket, starts them one by one; citizens follow (moved into
//! breakout rooms, polls opened) and see "now" and "next" in their snapshots, the drift for
//! staff only. Bad input (a deleted poll at the start, a sequence already running, budgets
//! sent ten times over) gets typed errors, nothing half-applied, others unharmed. The export
//! gives the day as planned and as run, and the run sheet survives a `kill -9`.

use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{
    Command, ErrorCode, Event, Grouping, PollKind, Role, SequenceAction, SequenceReport,
    SequenceRooms, SequenceSpec, SequenceStatus, ServerMessage, Snapshot, PLENARY_ID,
};
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

const MIN: u64 = 60_000;
const CONV: &str = "runsheet";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn spec(title: &str, planned_start: u64, minutes: u64, action: SequenceAction) -> SequenceSpec {
    SequenceSpec {
        title: title.to_string(),
        planned_start,
        planned_ms: minutes * MIN,
        action,
    }
}

/// Add a sequence; its id, from the `sequence_added` event.
async fn add(fac: &mut Client, spec: SequenceSpec) -> Result<String> {
    let seq = fac.ok(Command::AddSequence { spec, before: None }).await?;
    match fac.wait_seq(seq).await?.event {
        Event::SequenceAdded { sequence, .. } => Ok(sequence),
        other => bail!("not sequence_added: {other:?}"),
    }
}

fn start(sequence: &str, end_running: bool) -> Command {
    Command::StartSequence {
        sequence: sequence.to_string(),
        end_running,
    }
}

/// A fresh snapshot (a new connection's welcome).
async fn welcome(server: &Server, name: &str, token: &str) -> Result<Snapshot> {
    let c = Client::join(&server.ws_url(), name, token).await?;
    let snap = c.snapshot.clone().context("a welcome")?;
    c.close().await;
    Ok(snap)
}

async fn export(server: &Server, token: &str, format: &str) -> Result<reqwest::Response> {
    Ok(reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{CONV}/runsheet?format={format}")))
        .bearer_auth(token)
        .send()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_prepared_and_run_by_its_sequences() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let communes = ["Rezé", "Orvault", "Vertou", "Nantes"];
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Gérard Garant", &[Role::Guarantor], &[]),
    ];
    let names: Vec<String> = (0..8).map(|i| format!("Citoyen {i}")).collect();
    for (i, n) in names.iter().enumerate() {
        roster.push(person(n, &[Role::Citizen], &[("commune", communes[i % 4])]));
    }
    let invites = server.http().convention(CONV, &roster).await?;
    let fac_token = token_of(&invites, "Claire Animatrice");
    let garant_token = token_of(&invites, "Gérard Garant");
    let mut fac = Client::join(&server.ws_url(), "fac", &fac_token).await?;
    let mut citizens = Vec::new();
    for n in &names {
        citizens.push(Client::join(&server.ws_url(), n, &token_of(&invites, n)).await?);
    }

    // Preparation: two poll drafts, four sequences. The day was planned to start 10 minutes
    // ago: the drift says so.
    let day = now_ms() - 10 * MIN;
    let mut polls = Vec::new();
    for q in ["Bus de nuit ?", "Tram le dimanche ?"] {
        let seq = fac
            .ok(Command::DraftPoll {
                spec: poll_spec(q, PollKind::Position, false, false),
            })
            .await?;
        let Event::PollDrafted { poll, .. } = fac.wait_seq(seq).await?.event else {
            bail!("no poll_drafted");
        };
        polls.push(poll);
    }
    let welcome_seq = add(&mut fac, spec("Accueil", day, 15, SequenceAction::Plenary)).await?;
    let groups = add(
        &mut fac,
        spec(
            "Sous-groupes",
            day + 15 * MIN,
            30,
            SequenceAction::Breakouts {
                rooms: SequenceRooms::New {
                    count: Some(2),
                    names: vec![],
                },
                grouping: Grouping::Balanced {
                    attribute: "commune".into(),
                },
                duration_ms: 30 * MIN,
                warning_ms: MIN,
            },
        ),
    )
    .await?;
    let restitution = add(
        &mut fac,
        spec("Restitution", day + 45 * MIN, 15, SequenceAction::Plenary),
    )
    .await?;
    let votes = add(
        &mut fac,
        spec(
            "Votes",
            day + 60 * MIN,
            10,
            SequenceAction::Polls {
                polls: polls.clone(),
            },
        ),
    )
    .await?;
    let pause = add(
        &mut fac,
        spec("Pause", day + 70 * MIN, 15, SequenceAction::Break),
    )
    .await?;
    // Citizens saw the programme arrive.
    let last = citizens[0].wait_event("sequence_added").await?;
    ensure!(last.seq > 0);

    // Manual groups prepared ahead are staff's: citizens see the sequence, not who goes where.
    let by_hand = Grouping::Manual {
        groups: vec![vec![citizens[0].id()], vec![citizens[1].id()]],
    };
    let tables = add(
        &mut fac,
        spec(
            "Tables préparées",
            day + 200 * MIN,
            20,
            SequenceAction::Breakouts {
                rooms: SequenceRooms::New {
                    count: Some(2),
                    names: vec![],
                },
                grouping: by_hand.clone(),
                duration_ms: 20 * MIN,
                warning_ms: MIN,
            },
        ),
    )
    .await?;
    let groups_of = |e: &Event| match e {
        Event::SequenceAdded {
            spec:
                SequenceSpec {
                    action: SequenceAction::Breakouts { grouping, .. },
                    ..
                },
            ..
        } => Some(grouping.clone()),
        _ => None,
    };
    let seen = citizens[2]
        .wait_for(|m| matches!(m, ServerMessage::Event { record } if matches!(&record.event, Event::SequenceAdded { sequence, .. } if *sequence == tables)))
        .await?;
    let ServerMessage::Event { record } = seen else {
        bail!("not an event")
    };
    ensure!(
        groups_of(&record.event) == Some(Grouping::Manual { groups: vec![] }),
        "{record:?}"
    );
    let staff_seen = fac.events.iter().rev().find_map(|r| groups_of(&r.event));
    ensure!(staff_seen == Some(by_hand.clone()), "{staff_seen:?}");
    let c = welcome(&server, "c", &token_of(&invites, &names[5])).await?;
    let t = c
        .runsheet
        .sequences
        .iter()
        .find(|s| s.id == tables)
        .context("tables")?;
    ensure!(
        matches!(&t.spec.action, SequenceAction::Breakouts { grouping: Grouping::Manual { groups }, .. } if groups.is_empty()),
        "{t:?}"
    );
    fac.ok(Command::DeleteSequence { sequence: tables }).await?;

    // Budgets, ten times over: typed errors, nothing added.
    let long = "x".repeat(10 * convene_tests::proto::MAX_SEQUENCE_TITLE_CHARS);
    let too_many_polls: Vec<String> = (0..10 * convene_tests::proto::MAX_SEQUENCE_POLLS)
        .map(|i| format!("q{i}"))
        .collect();
    for (cmd, what) in [
        (
            Command::AddSequence {
                spec: spec(&long, day, 5, SequenceAction::Break),
                before: None,
            },
            "a title ten times too long",
        ),
        (
            Command::AddSequence {
                spec: spec(
                    "Trop de votes",
                    day,
                    5,
                    SequenceAction::Polls {
                        polls: too_many_polls,
                    },
                ),
                before: None,
            },
            "ten times the polls",
        ),
    ] {
        let r = fac.request(cmd).await?;
        ensure!(matches!(r, Err((ErrorCode::Invalid, _))), "{what}: {r:?}");
    }
    // A sequence that refers to a poll that does not exist, and a citizen who tries.
    let r = fac
        .request(Command::AddSequence {
            spec: spec(
                "Fantôme",
                day,
                5,
                SequenceAction::Polls {
                    polls: vec!["q99".into()],
                },
            ),
            before: None,
        })
        .await?;
    ensure!(matches!(r, Err((ErrorCode::NotFound, _))), "{r:?}");
    let r = citizens[0].request(start(&welcome_seq, false)).await?;
    ensure!(matches!(r, Err((ErrorCode::Forbidden, _))), "{r:?}");

    // 1. Welcome.
    fac.ok(start(&welcome_seq, false)).await?;
    let started = citizens[0].wait_event("sequence_started").await?;
    ensure!(
        matches!(&started.event, Event::SequenceStarted { sequence, .. } if *sequence == welcome_seq)
    );

    // 2. Starting the breakouts while the welcome runs: conflict, nothing happened.
    let r = fac.request(start(&groups, false)).await?;
    match r {
        Err((ErrorCode::Conflict, m)) => ensure!(m.contains(&welcome_seq), "{m}"),
        other => bail!("a start while one runs: {other:?}"),
    }
    // With end_running: the welcome ends, the rooms are made, people are assigned and moved.
    fac.ok(start(&groups, true)).await?;
    for c in &mut citizens {
        c.wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
            .await?;
        ensure!(c.room() != PLENARY_ID, "{} was not moved", c.name);
    }
    // A citizen's snapshot: the programme, "now" running, no drift.
    let snap = citizens[0].snapshot.clone().context("snapshot")?;
    let now = snap
        .runsheet
        .sequences
        .iter()
        .find(|s| matches!(s.status, SequenceStatus::Running { .. }))
        .context("now")?;
    ensure!(now.id == groups, "now is {}", now.id);
    let next = snap
        .runsheet
        .sequences
        .iter()
        .find(|s| s.status == SequenceStatus::Planned)
        .context("next")?;
    ensure!(next.id == restitution, "next is {}", next.id);
    ensure!(snap.runsheet.drift_ms.is_none(), "a citizen sees no drift");
    // The guarantor sees it: the breakouts, planned 5 minutes from now, started early.
    let g = welcome(&server, "garant", &garant_token).await?;
    let drift = g.runsheet.drift_ms.context("staff see the drift")?;
    ensure!(
        (-6 * MIN as i64..=-4 * MIN as i64).contains(&drift),
        "about 5 minutes ahead: {drift}"
    );

    // 3. Extend by 5 minutes: the sequence and the rooms.
    let seq = fac.ok(Command::ExtendSequence { by_ms: 5 * MIN }).await?;
    citizens[0].wait_seq(seq).await?;

    // 4. The votes' second draft is deleted: the start is refused, naming it; the first
    // poll stays a draft (nothing half-applied).
    fac.ok(Command::DeletePoll {
        poll: polls[1].clone(),
    })
    .await?;
    let r = fac.request(start(&votes, true)).await?;
    match r {
        Err((ErrorCode::NotFound, m)) => {
            ensure!(m.contains(&votes) && m.contains(&polls[1]), "{m}")
        }
        other => bail!("a start with a deleted poll: {other:?}"),
    }
    let after = welcome(&server, "fac2", &fac_token).await?;
    let first = after.polls.iter().find(|p| p.id == polls[0]).context("q")?;
    ensure!(
        first.status == convene_tests::proto::PollStatus::Draft,
        "{:?}",
        first.status
    );
    ensure!(
        after
            .runsheet
            .sequences
            .iter()
            .any(|s| s.id == groups && matches!(s.status, SequenceStatus::Running { .. })),
        "the breakouts still run"
    );
    // Fixed by editing the sequence: it opens the remaining draft.
    fac.ok(Command::EditSequence {
        sequence: votes.clone(),
        spec: spec(
            "Votes",
            day + 60 * MIN,
            10,
            SequenceAction::Polls {
                polls: vec![polls[0].clone()],
            },
        ),
    })
    .await?;

    // 5. Restitution: everyone back in the plenary.
    fac.ok(start(&restitution, true)).await?;
    for c in &mut citizens {
        c.wait_for(|m| matches!(m, ServerMessage::Snapshot { snapshot, .. } if snapshot.breakouts.is_none()))
            .await?;
        ensure!(c.room() == PLENARY_ID, "{} is not back", c.name);
    }

    // 6. Votes: the poll opens for the citizens; the break is skipped.
    fac.ok(start(&votes, true)).await?;
    let opened = citizens[1].wait_event("poll_opened").await?;
    ensure!(matches!(&opened.event, Event::PollOpened { poll, .. } if *poll == polls[0]));
    fac.ok(Command::EndSequence).await?;
    fac.ok(Command::SkipSequence {
        sequence: pause.clone(),
    })
    .await?;
    citizens[1].wait_event("sequence_skipped").await?;

    // The export: the day as planned and as run.
    let r = export(&server, &garant_token, "json").await?;
    ensure!(r.status() == 200, "export: {}", r.status());
    let rows: Vec<SequenceReport> = r.json().await?;
    let by_id = |id: &str| rows.iter().find(|r| r.id == id).context("a row");
    let w = by_id(&welcome_seq)?;
    ensure!(w.status == "done" && w.ended_early, "{w:?}");
    ensure!(
        w.start_drift_ms.is_some_and(|d| d >= 10 * MIN as i64),
        "{w:?}"
    );
    let b = by_id(&groups)?;
    ensure!(
        b.extensions.len() == 1 && b.extensions[0].by_ms == 5 * MIN,
        "{b:?}"
    );
    ensure!(b.status == "done" && b.actual_ms.is_some(), "{b:?}");
    ensure!(by_id(&pause)?.status == "skipped");
    ensure!(by_id(&votes)?.kind == "polls");
    let csv = export(&server, &fac_token, "csv").await?.text().await?;
    let mut lines = csv.lines();
    ensure!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("id,title,kind,planned_start")),
        "{csv}"
    );
    ensure!(lines.count() == 5, "{csv}");
    let r = export(&server, &token_of(&invites, &names[0]), "json").await?;
    ensure!(r.status() == 403, "a citizen's export: {}", r.status());

    // The audit trail shows who started each sequence, and when.
    let audit = reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{CONV}/audit")))
        .bearer_auth(&garant_token)
        .send()
        .await?
        .text()
        .await?;
    let fac_id = fac.id();
    let starts: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"]["type"] == "sequence_started")
        .collect();
    ensure!(starts.len() == 4, "{} starts audited", starts.len());
    ensure!(
        starts
            .iter()
            .all(|e| e["by"]["id"] == fac_id.as_str() && e["at"].as_u64().is_some()),
        "{starts:?}"
    );

    // The log holds every start's actions right after it, from one append.
    let log = server.log(CONV)?;
    let i = log
        .iter()
        .position(
            |r| matches!(&r.event, Event::SequenceStarted { sequence, .. } if *sequence == groups),
        )
        .context("started")?;
    let kinds: Vec<String> = log[i + 1..i + 4]
        .iter()
        .map(|r| convene_tests::event_type(&r.event))
        .collect();
    ensure!(
        kinds == ["rooms_created", "rooms_assigned", "breakouts_opened"],
        "{kinds:?}"
    );
    ensure!(
        log[i..i + 4].iter().all(|r| r.at == log[i].at),
        "one decision, one time"
    );

    // After a kill -9, the run sheet is the same.
    let before = welcome(&server, "fac3", &fac_token).await?.runsheet;
    server.kill9_and_restart().await?;
    let after = welcome(&server, "fac4", &fac_token).await?.runsheet;
    ensure!(before == after, "{before:?}\n{after:?}");
    fac.drain(Duration::from_millis(10)).await;
    Ok(())
}

/// A hearing sequence opens the hearing prepared with `create_hearing`, in the start's append:
/// the room hears `hearing_opened` right after `sequence_started`; a second sequence for the
/// same hearing is refused by name at its preparation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hearing_sequence_opens_the_prepared_hearing() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Marc Expert", &[Role::Expert], &[]),
        person("Yannick Citoyen", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention(CONV, &roster).await?;
    let mut fac = Client::join(
        &server.ws_url(),
        "fac",
        &token_of(&invites, "Claire Animatrice"),
    )
    .await?;
    let mut citizen = Client::join(
        &server.ws_url(),
        "cit",
        &token_of(&invites, "Yannick Citoyen"),
    )
    .await?;
    let expert = citizen
        .snapshot
        .as_ref()
        .and_then(|s| {
            s.participants
                .iter()
                .find(|p| p.person.name == "Marc Expert")
        })
        .map(|p| p.person.id.clone())
        .context("the expert on the roster")?;
    let seq = fac
        .ok(Command::CreateHearing {
            title: "Les bus de nuit".into(),
            speaker: expert,
            room: PLENARY_ID.into(),
            anonymous: false,
            moderated: false,
        })
        .await?;
    let Event::HearingCreated { hearing, .. } = fac.wait_seq(seq).await?.event else {
        bail!("no hearing_created");
    };
    let sequence = add(
        &mut fac,
        spec(
            "Audition",
            now_ms(),
            60,
            SequenceAction::Hearing {
                hearing: hearing.clone(),
            },
        ),
    )
    .await?;
    // The reply's seq is the append's last: the sequence's start, then the hearing opened.
    let started = fac.ok(start(&sequence, false)).await?;
    let first = citizen.wait_seq(started - 1).await?;
    ensure!(
        matches!(first.event, Event::SequenceStarted { .. }),
        "{:?}",
        first.event
    );
    let opened = citizen.wait_seq(started).await?;
    ensure!(
        matches!(&opened.event, Event::HearingOpened { hearing: h } if *h == hearing),
        "{:?}",
        opened.event
    );
    let refused = fac
        .request(Command::AddSequence {
            spec: spec(
                "Encore",
                now_ms(),
                10,
                SequenceAction::Hearing {
                    hearing: hearing.clone(),
                },
            ),
            before: None,
        })
        .await?;
    match refused {
        Err((code, message)) => {
            ensure!(code == ErrorCode::Conflict, "{code:?}");
            ensure!(message.contains(&hearing), "{message}");
        }
        Ok(seq) => bail!("a second sequence for an opened hearing was accepted at {seq}"),
    }
    Ok(())
}
