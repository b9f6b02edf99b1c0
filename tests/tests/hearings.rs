//! Hearings with the real server: questions from the floor asked, supported, merged and
//! answered live; an anonymous hearing keeps its authors from the room and the speaker (not
//! from the staff); a moderated one shows a question once approved; bad input is a typed
//! error that harms nobody; the snapshot, a kill -9 and the export tell the same story.

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::{
    Command, ErrorCode, HearingQuestion, QuestionStatus, Role, ServerMessage,
};
use convene_tests::{person, tempdir, token_of, Client, Server};

/// The next `hearing_question` message about `question` that satisfies `f`.
async fn seen(
    c: &mut Client,
    question: u64,
    f: impl Fn(&HearingQuestion) -> bool,
) -> Result<HearingQuestion> {
    let name = c.name.clone();
    match c
        .wait_for(|m| {
            matches!(m, ServerMessage::HearingQuestion { question: q, .. }
                if q.id == question && f(q))
        })
        .await
        .with_context(|| format!("{name}: no such view of question {question}"))?
    {
        ServerMessage::HearingQuestion { question, .. } => Ok(question),
        _ => unreachable!(),
    }
}

fn ask(hearing: &str, text: &str) -> Command {
    Command::AskHearingQuestion {
        hearing: hearing.into(),
        text: text.into(),
    }
}

fn support(hearing: &str, question: u64) -> Command {
    Command::SupportQuestion {
        hearing: hearing.into(),
        question,
    }
}

async fn refused(c: &mut Client, command: Command, code: ErrorCode) -> Result<()> {
    let shown = format!("{command:?}");
    match c.request(command).await? {
        Err((got, _)) if got == code => Ok(()),
        other => bail!("{}: {shown}: {other:?}, expected {code:?}", c.name),
    }
}

/// The ids of the questions of the first hearing in `c`'s snapshot, in order.
fn snapshot_order(c: &Client) -> Result<Vec<(u64, Option<String>, u32)>> {
    let snap = c.snapshot.as_ref().context("a snapshot")?;
    let h = snap.hearings.first().context("a hearing in the snapshot")?;
    Ok(h.questions
        .as_ref()
        .context("the questions of an open hearing")?
        .iter()
        .map(|q| (q.id, q.from.clone(), q.supports))
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_hearing_keeps_authors_from_the_room_and_the_speaker() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
        person("Marc Expert", &[Role::Expert], &[]),
        person("Anne Citoyenne", &[Role::Citizen], &[]),
        person("Bruno Citoyen", &[Role::Citizen], &[]),
        person("Chloé Citoyenne", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("audition", &roster).await?;
    let ws = server.ws_url();
    let mut fac = Client::join(&ws, "claire", &token_of(&invites, "Claire Animatrice")).await?;
    let mut gar = Client::join(&ws, "helene", &token_of(&invites, "Hélène Garante")).await?;
    let mut speaker = Client::join(&ws, "marc", &token_of(&invites, "Marc Expert")).await?;
    let mut a = Client::join(&ws, "anne", &token_of(&invites, "Anne Citoyenne")).await?;
    let mut b = Client::join(&ws, "bruno", &token_of(&invites, "Bruno Citoyen")).await?;
    let mut c = Client::join(&ws, "chloe", &token_of(&invites, "Chloé Citoyenne")).await?;

    // A speaker who is not an expert, a room that does not exist: refused.
    let create = |speaker: String, room: &str| Command::CreateHearing {
        title: "Audition : les mobilités de nuit".into(),
        speaker,
        room: room.into(),
        anonymous: true,
        moderated: false,
    };
    refused(&mut fac, create(a.id(), "plenary"), ErrorCode::Invalid).await?;
    refused(&mut fac, create(speaker.id(), "r42"), ErrorCode::NotFound).await?;
    refused(
        &mut a,
        create(speaker.id(), "plenary"),
        ErrorCode::Forbidden,
    )
    .await?;
    fac.ok(create(speaker.id(), "plenary")).await?;
    let h = "h1";
    fac.ok(Command::OpenHearing { hearing: h.into() }).await?;

    // Anne asks: the room and the speaker see the question, not who asked; staff do.
    let q1 = a.ok(ask(h, "=1+1, combien coûte un bus de nuit ?")).await?;
    for viewer in [&mut b, &mut speaker] {
        let v = seen(viewer, q1, |_| true).await?;
        ensure!(
            v.from.is_none(),
            "{}: the author leaked: {v:?}",
            viewer.name
        );
        ensure!(v.text.starts_with("=1+1"), "{}: {v:?}", viewer.name);
    }
    for viewer in [&mut fac, &mut gar] {
        let v = seen(viewer, q1, |_| true).await?;
        ensure!(
            v.from == Some(a.id()),
            "{}: staff see the author: {v:?}",
            viewer.name
        );
    }

    // Bad input: each a typed error, nothing half-applied, nobody harmed.
    // Ten times the length budget (1000 characters), within one frame (16 KiB).
    refused(&mut a, ask(h, &"q".repeat(10_000)), ErrorCode::Invalid).await?;
    refused(
        &mut gar,
        ask(h, "Une question de garante ?"),
        ErrorCode::Forbidden,
    )
    .await?;
    refused(
        &mut speaker,
        ask(h, "Je me pose une question"),
        ErrorCode::Forbidden,
    )
    .await?;
    refused(&mut a, support(h, q1), ErrorCode::Invalid).await?;
    let q2 = b.ok(ask(h, "Qui conduira les bus la nuit ?")).await?;
    c.ok(support(h, q2)).await?;
    refused(&mut c, support(h, q2), ErrorCode::Conflict).await?;
    let v = seen(&mut speaker, q2, |v| v.supports == 1).await?;
    ensure!(v.from.is_none(), "{v:?}");

    // A duplicate merged: its author (Anne) now supports q2 with Chloé, each once.
    fac.ok(Command::MergeQuestion {
        hearing: h.into(),
        question: q1,
        into: q2,
    })
    .await?;
    seen(&mut speaker, q1, |v| {
        v.status == QuestionStatus::Merged && v.text.is_empty()
    })
    .await?;
    seen(&mut speaker, q2, |v| v.supports == 2).await?;
    refused(&mut c, support(h, q1), ErrorCode::Conflict).await?;
    refused(
        &mut fac,
        Command::MergeQuestion {
            hearing: h.into(),
            question: q2,
            into: q2,
        },
        ErrorCode::Invalid,
    )
    .await?;
    let q3 = c.ok(ask(h, "Et la sécurité à bord ?")).await?;
    fac.ok(Command::MarkAnswering {
        hearing: h.into(),
        question: q2,
    })
    .await?;
    refused(
        &mut fac,
        Command::MarkAnswering {
            hearing: h.into(),
            question: q3,
        },
        ErrorCode::Conflict,
    )
    .await?;
    seen(&mut b, q2, |v| v.status == QuestionStatus::Answering).await?;
    fac.ok(Command::MarkAnswered {
        hearing: h.into(),
        question: q2,
    })
    .await?;
    seen(&mut speaker, q2, |v| v.status == QuestionStatus::Answered).await?;

    // The room never received a question's event, so never its author.
    for viewer in [&b, &speaker] {
        ensure!(
            !viewer.events.iter().any(|r| matches!(
                r.event,
                convene_tests::proto::Event::HearingQuestionAsked { .. }
            ) && r.by
                != convene_tests::proto::Actor::Participant(viewer.id())),
            "{}: received someone's hearing_question_asked",
            viewer.name
        );
    }

    // Reconnecting, and after kill -9: the same ordered list, still without authors.
    let want = vec![(q2, None, 2), (q3, None, 0)];
    let speaker_token = token_of(&invites, "Marc Expert");
    speaker.close().await;
    let speaker = Client::join(&ws, "marc", &speaker_token).await?;
    ensure!(
        snapshot_order(&speaker)? == want,
        "{:?}",
        snapshot_order(&speaker)
    );
    speaker.close().await;
    let anne_token = token_of(&invites, "Anne Citoyenne");
    a.close().await;
    let a = Client::join(&ws, "anne", &anne_token).await?;
    let mine = &a.snapshot.as_ref().context("snapshot")?.hearings[0];
    ensure!(
        mine.yours == vec![q1] && mine.supported == vec![q2],
        "{mine:?}"
    );
    a.close().await;
    server.kill9_and_restart().await?;
    let speaker = Client::join(&server.ws_url(), "marc", &speaker_token).await?;
    ensure!(
        snapshot_order(&speaker)? == want,
        "after kill -9: {:?}",
        snapshot_order(&speaker)
    );

    // The staff's export: every question with its status, no author, no cell that runs.
    let http = server.http();
    let csv = http
        .get("/api/conventions/audition/hearings/h1/questions?format=csv")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        csv.starts_with("id,asked_at,author,status,supports"),
        "{csv}"
    );
    ensure!(
        csv.contains("'=1+1, combien"),
        "a formula was not neutralized: {csv}"
    );
    ensure!(csv.contains(",answered,2,"), "{csv}");
    ensure!(
        !csv.contains("Anne") && !csv.contains("Bruno"),
        "authors in an anonymous export: {csv}"
    );
    let json: serde_json::Value = http
        .get("/api/conventions/audition/hearings/h1/questions")
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<u64> = json["questions"]
        .as_array()
        .context("questions")?
        .iter()
        .filter_map(|q| q["id"].as_u64())
        .collect();
    ensure!(ids == vec![q2, q3, q1], "{json}");
    // The audit trail shows the staff's actions, with who and when; a citizen's question
    // (and so its author) is not in it.
    let audit = http
        .get("/api/conventions/audition/audit")
        .send()
        .await?
        .text()
        .await?;
    for ty in [
        "hearing_created",
        "hearing_opened",
        "hearing_questions_merged",
        "hearing_question_answering",
        "hearing_question_answered",
    ] {
        ensure!(
            audit.contains(&format!("\"type\":\"{ty}\"")),
            "{ty} not audited"
        );
    }
    ensure!(
        !audit.contains("hearing_question_asked") && !audit.contains("hearing_question_supported"),
        "citizens' questions or supports in the audit trail"
    );
    let r = http
        .get("/api/conventions/audition/hearings/h9/questions")
        .send()
        .await?;
    ensure!(r.status() == 404, "{}", r.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderated_hearing_in_a_room_shows_questions_once_approved() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Marc Expert", &[Role::Expert], &[]),
        person("Anne Citoyenne", &[Role::Citizen], &[]),
        person("Bruno Citoyen", &[Role::Citizen], &[]),
        person("Chloé Citoyenne", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("salle", &roster).await?;
    let ws = server.ws_url();
    let mut fac = Client::join(&ws, "claire", &token_of(&invites, "Claire Animatrice")).await?;
    let mut speaker = Client::join(&ws, "marc", &token_of(&invites, "Marc Expert")).await?;
    let mut a = Client::join(&ws, "anne", &token_of(&invites, "Anne Citoyenne")).await?;
    let mut b = Client::join(&ws, "bruno", &token_of(&invites, "Bruno Citoyen")).await?;
    let mut away = Client::join(&ws, "chloe", &token_of(&invites, "Chloé Citoyenne")).await?;
    fac.ok(Command::CreateRooms {
        count: Some(1),
        names: vec![],
    })
    .await?;
    // The speaker stays where they are (nothing moves an expert into a breakout room by
    // itself): they follow their hearing's questions from anywhere.
    for who in [a.id(), b.id()] {
        fac.ok(Command::MoveParticipant {
            participant: who,
            room: "r1".into(),
        })
        .await?;
    }
    fac.ok(Command::CreateHearing {
        title: "Audition en salle".into(),
        speaker: speaker.id(),
        room: "r1".into(),
        anonymous: false,
        moderated: true,
    })
    .await?;
    let h = "h1";
    refused(&mut a, ask(h, "Trop tôt ?"), ErrorCode::Conflict).await?;
    fac.ok(Command::OpenHearing { hearing: h.into() }).await?;
    refused(
        &mut away,
        ask(h, "Depuis la plénière ?"),
        ErrorCode::Conflict,
    )
    .await?;

    let q = a.ok(ask(h, "Combien de lignes la nuit ?")).await?;
    // Pending: the facilitator sees it; the room does not, until it is approved.
    seen(&mut fac, q, |v| v.status == QuestionStatus::Pending).await?;
    refused(&mut b, support(h, q), ErrorCode::Conflict).await?;
    fac.ok(Command::ApproveQuestion {
        hearing: h.into(),
        question: q,
    })
    .await?;
    let v = seen(&mut b, q, |v| v.status == QuestionStatus::Open).await?;
    ensure!(
        v.from == Some(a.id()),
        "a named hearing names the author: {v:?}"
    );
    seen(&mut speaker, q, |v| v.status == QuestionStatus::Open).await?;
    b.ok(support(h, q)).await?;
    seen(&mut speaker, q, |v| v.supports == 1).await?;
    // Someone in another room follows none of it.
    away.drain(std::time::Duration::from_millis(300)).await;
    ensure!(
        !away
            .inbox
            .iter()
            .any(|m| matches!(m, ServerMessage::HearingQuestion { .. })),
        "a participant outside the room received its questions"
    );
    // Hidden with a reason: the room sees it go, without its text; the staff keep the reason.
    let rude = b.ok(ask(h, "Une question déplacée")).await?;
    fac.ok(Command::HideQuestion {
        hearing: h.into(),
        question: rude,
        reason: "Propos déplacés".into(),
    })
    .await?;
    seen(&mut fac, rude, |v| {
        v.status == QuestionStatus::Hidden && v.hidden_reason.as_deref() == Some("Propos déplacés")
    })
    .await?;
    seen(&mut b, rude, |v| {
        v.status == QuestionStatus::Hidden && v.text.is_empty() && v.hidden_reason.is_none()
    })
    .await?;
    refused(&mut a, support(h, rude), ErrorCode::Conflict).await?;
    // Closed: nothing more.
    fac.ok(Command::CloseHearing { hearing: h.into() }).await?;
    refused(&mut b, ask(h, "Encore une ?"), ErrorCode::Conflict).await?;
    refused(
        &mut fac,
        Command::HideQuestion {
            hearing: h.into(),
            question: q,
            reason: "Trop tard".into(),
        },
        ErrorCode::Conflict,
    )
    .await?;
    // A named hearing's export, once closed, names the author, with the status and supports.
    let csv = server
        .http()
        .get("/api/conventions/salle/hearings/h1/questions?format=csv")
        .send()
        .await?
        .text()
        .await?;
    let row = csv.lines().nth(1).context("a question row")?;
    ensure!(
        row.starts_with(&format!("{q},")) && row.contains(",Anne Citoyenne,open,1,,,Combien"),
        "{csv}"
    );
    Ok(())
}
