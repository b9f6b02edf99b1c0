//! Polls end to end: every kind voted over WebSocket, a named poll whose ballots change until
//! the close, a room poll, live and hidden results, bad ballots refused with their codes and
//! the tally untouched, and the CSV/JSON exports.

use anyhow::{bail, ensure, Result};
use convene_tests::proto::{
    Ballot, Command, ErrorCode, Event, PollKind, Role, ServerMessage, Stance, Tally,
};
use convene_tests::{person, poll_spec, tempdir, Client, Server};

fn options(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn close(fac: &mut Client, poll: &str) -> Result<Tally> {
    let seq = fac.ok(Command::ClosePoll { poll: poll.into() }).await?;
    match fac.wait_seq(seq).await?.event {
        Event::PollClosed { tally: Some(t), .. } => Ok(t),
        other => bail!("expected poll_closed with a tally, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_counts_and_bad_ballots_change_nothing() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let mut roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
        person("Paul Expert", &[Role::Expert], &[]),
    ];
    for i in 0..4 {
        roster.push(person(&format!("Citoyenne {i}"), &[Role::Citizen], &[]));
    }
    let invites = server.http().convention("polls", &roster).await?;
    let url = server.ws_url();
    let tok = |n: &str| invites.iter().find(|i| i.name == n).unwrap().token.clone();
    let mut fac = Client::join(&url, "fac", &tok("Claire Animatrice")).await?;
    let mut gar = Client::join(&url, "gar", &tok("Hélène Garante")).await?;
    let mut expert = Client::join(&url, "expert", &tok("Paul Expert")).await?;
    let mut cit = Vec::new();
    for i in 0..4 {
        cit.push(Client::join(&url, &format!("c{i}"), &tok(&format!("Citoyenne {i}"))).await?);
    }

    // Single choice, named, hidden results: citizens change their minds; the last counts.
    let q = fac
        .draft_and_open(poll_spec(
            "Quel thème en premier ?",
            PollKind::Single {
                options: options(&["Logement", "Santé", "Mobilités"]),
            },
            false,
            false,
        ))
        .await?
        .0;
    for (i, c) in cit.iter_mut().enumerate() {
        c.ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
        if i % 2 == 0 {
            c.ok(Command::Vote {
                poll: q.clone(),
                ballot: Ballot::Single { choice: 2 },
            })
            .await?;
        }
    }
    // Bad ballots: typed errors.
    let bad = [
        (Ballot::Single { choice: 7 }, ErrorCode::Invalid),
        (Ballot::Multiple { choices: vec![0] }, ErrorCode::Invalid),
        (Ballot::Text { text: "x".into() }, ErrorCode::Invalid),
    ];
    for (b, code) in bad {
        let r = cit[1]
            .request(Command::Vote {
                poll: q.clone(),
                ballot: b.clone(),
            })
            .await?;
        ensure!(matches!(r, Err((c, _)) if c == code), "{b:?}: {r:?}");
    }
    let r = gar
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "a guarantor voted: {r:?}"
    );
    let r = expert
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "an expert voted in a citizens' poll: {r:?}"
    );
    let r = cit[0]
        .request(Command::Vote {
            poll: "q999".into(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::NotFound, _))),
        "unknown poll: {r:?}"
    );
    let r = cit[0]
        .request(Command::DraftPoll {
            spec: poll_spec("x", PollKind::Position, false, false),
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "a citizen drafted a poll: {r:?}"
    );
    // Hidden results: citizens have seen no tally; staff have.
    let staff_tally = gar
        .wait_for(
            |m| matches!(m, ServerMessage::PollTally { tally: Some(t), .. } if t.ballots == 4),
        )
        .await?;
    ensure!(
        matches!(staff_tally, ServerMessage::PollTally { participation: Some(p), .. } if p.voted == 4 && p.eligible == 4),
        "participation"
    );
    cit[3].drain(std::time::Duration::from_millis(200)).await;
    ensure!(
        !cit[3]
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::PollTally { .. })),
        "a citizen saw a hidden tally"
    );
    let t = close(&mut fac, &q).await?;
    ensure!(
        t.counts == vec![2, 0, 2] && t.ballots == 4,
        "named tally {t:?}"
    );
    let after = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Single { choice: 1 },
        })
        .await?;
    ensure!(
        matches!(after, Err((ErrorCode::Conflict, _))),
        "vote after close: {after:?}"
    );
    // The close's tally is stripped for citizens until published.
    let closed = cit[3].wait_for(|m| matches!(m, ServerMessage::Event { record } if matches!(record.event, Event::PollClosed { .. }))).await?;
    ensure!(
        matches!(closed, ServerMessage::Event { record } if matches!(record.event, Event::PollClosed { tally: None, .. })),
        "hidden tally leaked at close"
    );
    let seq = fac.ok(Command::PublishResults { poll: q.clone() }).await?;
    let published = cit[3].wait_seq(seq).await?;
    ensure!(
        matches!(published.event, Event::PollPublished { tally, .. } if tally.counts == vec![2, 0, 2]),
        "published tally"
    );

    // Multiple choice (1 to 2), secret, live.
    let q = fac
        .draft_and_open(poll_spec(
            "Deux priorités",
            PollKind::Multiple {
                options: options(&["A", "B", "C"]),
                min: 1,
                max: 2,
            },
            true,
            true,
        ))
        .await?
        .0;
    let r = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Multiple {
                choices: vec![0, 1, 2],
            },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Invalid, _))),
        "three choices of at most two: {r:?}"
    );
    let r = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Multiple { choices: vec![] },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Invalid, _))),
        "no choice of at least one: {r:?}"
    );
    for (i, c) in cit.iter_mut().enumerate() {
        c.ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Multiple {
                choices: if i < 3 { vec![0, 2] } else { vec![1] },
            },
        })
        .await?;
    }
    let dup = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Multiple { choices: vec![1] },
        })
        .await?;
    ensure!(
        matches!(dup, Err((ErrorCode::Conflict, _))),
        "second secret ballot: {dup:?}"
    );
    // Live results reach citizens.
    cit[3].wait_for(|m| matches!(m, ServerMessage::PollTally { tally: Some(t), participation: None, .. } if t.ballots == 4)).await?;
    let t = close(&mut fac, &q).await?;
    ensure!(t.counts == vec![3, 1, 3], "multiple tally {t:?}");

    // Scale 0..10 with labels.
    let q = fac
        .draft_and_open(poll_spec(
            "Confiance",
            PollKind::Scale {
                min: 0,
                max: 10,
                min_label: "aucune".into(),
                max_label: "totale".into(),
            },
            false,
            true,
        ))
        .await?
        .0;
    let r = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Scale { value: 11 },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Invalid, _))),
        "scale out of range: {r:?}"
    );
    for (i, c) in cit.iter_mut().enumerate() {
        c.ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Scale {
                value: [3, 7, 7, 10][i],
            },
        })
        .await?;
    }
    let t = close(&mut fac, &q).await?;
    ensure!(
        t.counts.len() == 11 && t.counts[3] == 1 && t.counts[7] == 2 && t.counts[10] == 1,
        "scale tally {t:?}"
    );

    // Ranking: Borda and instant runoff.
    let q = fac
        .draft_and_open(poll_spec(
            "Classez",
            PollKind::Ranking {
                options: options(&["A", "B", "C"]),
            },
            true,
            false,
        ))
        .await?
        .0;
    let r = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Ranking {
                order: vec![0, 0, 1],
            },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Invalid, _))),
        "not a permutation: {r:?}"
    );
    let orders = [vec![0, 1, 2], vec![0, 2, 1], vec![1, 2, 0], vec![2, 1, 0]];
    for (c, order) in cit.iter_mut().zip(orders) {
        c.ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Ranking { order },
        })
        .await?;
    }
    let t = close(&mut fac, &q).await?;
    // Borda (2, 1, 0 points): A = 2+2+0+0 = 4, B = 1+0+2+1 = 4, C = 0+1+1+2 = 4.
    ensure!(t.borda == vec![4, 4, 4], "borda {t:?}");
    // IRV: A 2, B 1, C 1 → no majority; tie B/C: the later (C) goes; C's ballot goes to B:
    // A 2, B 2 → no majority of 4; tie: B (later) goes → A wins.
    ensure!(
        t.winner == Some(0) && t.rounds.len() == 3,
        "instant runoff {t:?}"
    );

    // Free text with a limit.
    let q = fac
        .draft_and_open(poll_spec(
            "Un mot",
            PollKind::Text { max_chars: 20 },
            true,
            false,
        ))
        .await?
        .0;
    let r = cit[0]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Text {
                text: "x".repeat(21),
            },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Invalid, _))),
        "oversized text: {r:?}"
    );
    cit[0]
        .ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Text {
                text: "solidarité".into(),
            },
        })
        .await?;
    cit[1]
        .ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Text {
                text: "écoute".into(),
            },
        })
        .await?;
    let t = close(&mut fac, &q).await?;
    ensure!(
        t.texts == vec!["solidarité".to_string(), "écoute".to_string()],
        "texts {t:?}"
    );

    // Position on a proposal, open to experts too, in one room only.
    fac.ok(Command::CreateRooms {
        count: Some(1),
        names: vec![],
    })
    .await?;
    fac.ok(Command::MoveParticipant {
        participant: cit[0].id(),
        room: "r1".into(),
    })
    .await?;
    fac.ok(Command::MoveParticipant {
        participant: cit[1].id(),
        room: "r1".into(),
    })
    .await?;
    let mut s = poll_spec("Proposition 3", PollKind::Position, false, false);
    s.voters = vec![Role::Citizen, Role::Expert];
    s.room = Some("r1".into());
    let q = fac.draft_and_open(s).await?.0;
    cit[0]
        .ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Position {
                stance: Stance::ForWithReservations,
            },
        })
        .await?;
    cit[1]
        .ok(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Position {
                stance: Stance::For,
            },
        })
        .await?;
    let r = cit[2]
        .request(Command::Vote {
            poll: q.clone(),
            ballot: Ballot::Position {
                stance: Stance::Against,
            },
        })
        .await?;
    ensure!(
        matches!(r, Err((ErrorCode::Forbidden, _))),
        "voted in another room's poll: {r:?}"
    );
    let t = close(&mut fac, &q).await?;
    ensure!(t.counts == vec![1, 0, 1, 0], "position tally {t:?}");

    // Exports.
    let http = server.http();
    let all: serde_json::Value = http
        .get("/api/conventions/polls/polls")
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        all.as_array().map(|a| a.len()) == Some(6),
        "six polls exported: {all}"
    );
    let csv = http
        .get("/api/conventions/polls/polls/q1/ballots?format=csv")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.lines().count() == 5 && csv.contains("Citoyenne 0") && csv.contains("Mobilités"),
        "named ballots CSV:\n{csv}"
    );
    let csv = http
        .get("/api/conventions/polls/polls/q1/results?format=csv")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.contains("Logement,2,50.0") && csv.contains("Mobilités,2,50.0"),
        "results CSV:\n{csv}"
    );
    let csv = http
        .get("/api/conventions/polls/polls/q4/results?format=csv")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.starts_with("option,borda,irv_round_1"),
        "ranking CSV:\n{csv}"
    );
    let secret = http
        .get("/api/conventions/polls/polls/q2/ballots")
        .send()
        .await?;
    ensure!(
        secret.status() == 409,
        "secret ballots export: {}",
        secret.status()
    );
    // A guarantor may export with their own token; a citizen may not.
    let export_as = |name: &str| {
        reqwest::Client::new()
            .get(server.url("/api/conventions/polls/polls"))
            .bearer_auth(tok(name))
            .send()
    };
    let g = export_as("Hélène Garante").await?;
    ensure!(g.status() == 200, "guarantor export: {}", g.status());
    let c = export_as("Citoyenne 0").await?;
    ensure!(c.status() == 403, "citizen export: {}", c.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_poll_closes_by_itself_after_a_restart() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire", &[Role::Facilitator], &[]),
        person("Amina", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("timed", &roster).await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &invites[0].token).await?;
    let mut s = poll_spec("Vite", PollKind::Position, true, false);
    s.duration_ms = Some(1500);
    let poll = fac.draft_and_open(s).await?.0;
    let mut amina = Client::join(&server.ws_url(), "amina", &invites[1].token).await?;
    amina
        .ok(Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Position {
                stance: Stance::For,
            },
        })
        .await?;
    server.kill9_and_restart().await?;
    let mut fac = Client::join(&server.ws_url(), "fac", &invites[0].token).await?;
    let view = fac
        .snapshot
        .as_ref()
        .unwrap()
        .polls
        .iter()
        .find(|p| p.id == poll)
        .cloned()
        .unwrap();
    // An open secret poll shows staff its participation, not its count (view::staff_sees_tally).
    ensure!(
        view.participation.as_ref().map(|p| p.voted) == Some(1) && view.tally.is_none(),
        "the secret ballot survived: {view:?}"
    );
    let closed = fac.wait_event("poll_closed").await?;
    ensure!(
        matches!(&closed.event, Event::PollClosed { reason: convene_tests::proto::CloseReason::Timer, tally: Some(t), .. } if t.counts == vec![1, 0, 0, 0]),
        "{closed:?}"
    );
    ensure!(closed.at >= view.ends_at.unwrap(), "closed before its time");
    Ok(())
}
