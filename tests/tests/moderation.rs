//! Live moderation end to end (PROTOCOL.md §21), with the real server and real clients: a
//! hidden message leaves citizens' views and snapshots but stays marked for staff, reports,
//! a mute that ends by itself (also after kill -9), removal (every connection, `/doc` too,
//! closed 4013 / 4405; hello refused until readmitted), the moderation log in the audit trail,
//! bad input refused whole, and a removal on one cluster node closing a connection on another.

use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use convene_tests::proto::{self, close, Command, ErrorCode, Event, Role, ServerMessage};
use convene_tests::ydoc::{doc_url, YClient};
use convene_tests::{fresh_redis, nodes, person, tempdir, token_of, Client, Server};

const CONV: &str = "moderation";

fn roster() -> Vec<proto::api::RosterEntry> {
    vec![
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Gaëlle Garant", &[Role::Guarantor], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[("commune", "Rezé")]),
        person("Inès Martin", &[Role::Citizen], &[("commune", "Nantes")]),
        person("Paul Durand", &[Role::Citizen], &[("commune", "Orvault")]),
    ]
}

fn ws_url(s: &Server) -> String {
    s.ws_url()
}

/// The text lines of the plenary's chat in a snapshot, with their hidden mark.
fn plenary_chat(c: &Client) -> Result<Vec<(u64, String, Option<proto::HiddenMark>)>> {
    let snap = c.snapshot.as_ref().context("a snapshot")?;
    let room = snap
        .rooms
        .iter()
        .find(|r| r.id == proto::PLENARY_ID)
        .context("the plenary")?;
    let inside = room.inside.as_ref().context("inside the plenary")?;
    Ok(inside
        .chat
        .iter()
        .map(|l| (l.seq, l.text.clone(), l.hidden.clone()))
        .collect())
}

/// A server (in a directory of its own, kept while the test runs) with the convention of
/// `roster()`: its invitations, and the URL to join it.
async fn scene() -> Result<(tempfile::TempDir, Server, Vec<proto::api::Invite>, String)> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server.http().convention(CONV, &roster()).await?;
    let url = ws_url(&server);
    Ok((dir, server, invites, url))
}

async fn audit_export(server: &Server, token: &str) -> Result<Vec<proto::AuditEntry>> {
    let body = reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{CONV}/audit")))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    body.lines()
        .map(|l| serde_json::from_str(l).map_err(|e| anyhow!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_message_leaves_citizens_views_and_stays_marked_for_staff() -> Result<()> {
    let (_dir, server, invites, url) = scene().await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&url, "claire", &tok("Claire Moreau")).await?;
    let mut gar = Client::join(&url, "gaelle", &tok("Gaëlle Garant")).await?;
    let mut yan = Client::join(&url, "yannick", &tok("Yannick Le Goff")).await?;
    let mut ines = Client::join(&url, "ines", &tok("Inès Martin")).await?;

    let bad = yan
        .ok(Command::SendChat {
            room: None,
            text: "Un message injurieux".into(),
        })
        .await?;
    let fine = yan
        .ok(Command::SendChat {
            room: None,
            text: "Un message correct".into(),
        })
        .await?;
    ines.wait_seq(fine).await?;

    // Inès reports it; the facilitators (and the guarantor) see the report, live.
    let reported = ines
        .ok(Command::ReportChat {
            message: bad,
            reason: "Insulte".into(),
        })
        .await?;
    let r = fac.wait_seq(reported).await?;
    ensure!(
        matches!(&r.event, Event::ChatReported { message, reason, .. } if *message == bad && reason == "Insulte"),
        "the facilitator sees the report: {r:?}"
    );
    gar.wait_seq(reported).await?;
    // Bad input, ten times the budget: a typed error, nothing applied.
    let huge = "x".repeat(10 * proto::MAX_MODERATION_REASON_CHARS);
    let e = fac
        .request(Command::HideChat {
            message: bad,
            reason: huge,
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Invalid, _))), "{e:?}");
    let e = fac
        .request(Command::HideChat {
            message: bad + 1000,
            reason: "x".into(),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::NotFound, _))), "{e:?}");
    // A report's reason, and a mute's, ten times over their budgets: typed errors too.
    let e = ines
        .request(Command::ReportChat {
            message: fine,
            reason: "x".repeat(10 * proto::MAX_REPORT_REASON_CHARS),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Invalid, _))), "{e:?}");
    let e = fac
        .request(Command::Mute {
            participant: ines.id(),
            duration_ms: 60_000,
            reason: "x".repeat(10 * proto::MAX_MODERATION_REASON_CHARS),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Invalid, _))), "{e:?}");
    let e = gar
        .request(Command::HideChat {
            message: bad,
            reason: "Je n'ai pas le droit".into(),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Forbidden, _))), "{e:?}");

    let hidden = fac
        .ok(Command::HideChat {
            message: bad,
            reason: "Propos injurieux".into(),
        })
        .await?;
    // Citizens hear that it is hidden, not why.
    for c in [&mut yan, &mut ines] {
        let r = c.wait_seq(hidden).await?;
        ensure!(
            r.event
                == Event::ChatHidden {
                    room: proto::PLENARY_ID.into(),
                    message: bad,
                    reason: None,
                },
            "{}: {r:?}",
            c.name
        );
    }
    // Staff hear why, and the guarantor gets the audit entry live.
    let r = gar.wait_seq(hidden).await?;
    ensure!(
        matches!(&r.event, Event::ChatHidden { reason: Some(why), .. } if why == "Propos injurieux"),
        "{r:?}"
    );
    gar.wait_for(|m| matches!(m, ServerMessage::Audit { entry } if entry.seq == hidden))
        .await?;
    let e = fac
        .request(Command::HideChat {
            message: bad,
            reason: "Encore".into(),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Conflict, _))), "{e:?}");

    // Nothing of the refusals was applied: nobody is muted, one report only was ever made.
    let c = Client::join(&url, "claire-check", &tok("Claire Moreau")).await?;
    ensure!(
        c.snapshot.as_ref().is_some_and(|s| s.mutes.is_empty()),
        "a refused mute left a trace"
    );
    c.close().await;
    // Snapshots agree: a citizen's no longer carries the text; staff's carry it marked, and
    // the report is settled.
    let fac_id = fac.id();
    for (name, token) in [("ines", "Inès Martin"), ("yannick", "Yannick Le Goff")] {
        let c = Client::join(&url, name, &tok(token)).await?;
        let chat = plenary_chat(&c)?;
        ensure!(
            chat.iter()
                .all(|(s, t, _)| *s != bad && !t.contains("injurieux")),
            "{name}'s snapshot still carries the hidden line: {chat:?}"
        );
        ensure!(chat.iter().any(|(s, _, _)| *s == fine), "{chat:?}");
        c.close().await;
    }
    for (name, token) in [("gaelle", "Gaëlle Garant"), ("claire", "Claire Moreau")] {
        let c = Client::join(&url, name, &tok(token)).await?;
        let chat = plenary_chat(&c)?;
        let line = chat
            .iter()
            .find(|(s, _, _)| *s == bad)
            .with_context(|| format!("{name}: the hidden line: {chat:?}"))?;
        let mark = line.2.as_ref().context("marked hidden")?;
        ensure!(
            line.1 == "Un message injurieux"
                && mark.by == fac_id
                && mark.reason == "Propos injurieux",
            "{name}: {line:?}"
        );
        ensure!(
            c.snapshot.as_ref().is_some_and(|s| s.reports.is_empty()),
            "{name}: hiding settles the report"
        );
        c.close().await;
    }

    // The moderation log: in the audit export, who did what to whom, when and why.
    let entries = audit_export(&server, &tok("Gaëlle Garant")).await?;
    let e = entries
        .iter()
        .find(|e| e.seq == hidden)
        .context("the hide in the audit trail")?;
    ensure!(
        e.by == proto::Actor::Participant(fac_id.clone())
            && e.event["type"] == "chat_hidden"
            && e.event["reason"] == "Propos injurieux"
            && e.at > 0,
        "{e:?}"
    );
    ensure!(
        entries
            .iter()
            .any(|e| e.seq == reported && e.event["type"] == "chat_reported"),
        "the report is in the audit trail"
    );
    // The chat export keeps the line, marked hidden (JSON and CSV); citizens may not have it.
    let get = |token: String, query: &'static str| {
        let url = server.url(&format!("/api/conventions/{CONV}/chat{query}"));
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
        }
    };
    let lines: Vec<proto::ChatExportLine> = get(tok("Gaëlle Garant"), "")
        .await?
        .error_for_status()?
        .json()
        .await?;
    let line = lines
        .iter()
        .find(|l| l.seq == bad)
        .context("the hidden line is exported")?;
    ensure!(
        line.text == "Un message injurieux"
            && line.name == "Yannick Le Goff"
            && line
                .hidden
                .as_ref()
                .is_some_and(|h| h.by == fac_id && h.reason == "Propos injurieux"),
        "{line:?}"
    );
    ensure!(
        lines.iter().any(|l| l.seq == fine && l.hidden.is_none()),
        "{lines:?}"
    );
    let csv = get(tok("Claire Moreau"), "?format=csv")
        .await?
        .error_for_status()?
        .text()
        .await?;
    ensure!(
        csv.lines().any(|l| l.contains("Un message injurieux")
            && l.contains(",yes,")
            && l.ends_with("Propos injurieux")),
        "{csv}"
    );
    let refused = get(tok("Inès Martin"), "").await?;
    ensure!(refused.status() == 403, "a citizen: {}", refused.status());
    Ok(())
}

/// A hiding undone: the line comes back to the room's citizens in its place (with the event,
/// and in every snapshot), staff's mark goes, the moderation log keeps both, the chat export no
/// longer marks it; a citizen or a guarantor cannot undo it, nor anyone twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hidden_message_shown_again_comes_back_to_the_room() -> Result<()> {
    let (_dir, server, invites, url) = scene().await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&url, "claire", &tok("Claire Moreau")).await?;
    let mut gar = Client::join(&url, "gaelle", &tok("Gaëlle Garant")).await?;
    let mut yan = Client::join(&url, "yannick", &tok("Yannick Le Goff")).await?;
    let mut ines = Client::join(&url, "ines", &tok("Inès Martin")).await?;
    // Paul is in a breakout room: the plenary's chat is not his to see.
    let mut paul = Client::join(&url, "paul", &tok("Paul Durand")).await?;
    fac.ok(Command::CreateRooms {
        count: Some(1),
        names: vec![],
    })
    .await?;
    fac.ok(Command::MoveParticipant {
        participant: paul.id(),
        room: "r1".into(),
    })
    .await?;

    let before = yan
        .ok(Command::SendChat {
            room: None,
            text: "Avant".into(),
        })
        .await?;
    let line = yan
        .ok(Command::SendChat {
            room: None,
            text: "Je ne suis pas d'accord avec cette proposition.".into(),
        })
        .await?;
    let after = ines
        .ok(Command::SendChat {
            room: None,
            text: "Après".into(),
        })
        .await?;
    fac.ok(Command::HideChat {
        message: line,
        reason: "Clic malheureux".into(),
    })
    .await?;
    // Refused whole: a citizen, a guarantor, a message not hidden, one not kept.
    for (who, message, code) in [
        (&mut yan, line, ErrorCode::Forbidden),
        (&mut gar, line, ErrorCode::Forbidden),
        (&mut fac, before, ErrorCode::Conflict),
    ] {
        let e = who.request(Command::UnhideChat { message }).await?;
        ensure!(
            matches!(&e, Err((c, _)) if *c == code),
            "{}: {e:?}",
            who.name
        );
    }
    let e = fac
        .request(Command::UnhideChat {
            message: after + 10_000,
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::NotFound, _))), "{e:?}");

    let shown = fac.ok(Command::UnhideChat { message: line }).await?;
    // Inès, who had lost the line, gets it back with the event; staff get the event alone.
    let r = ines.wait_seq(shown).await?;
    match &r.event {
        Event::ChatUnhidden {
            message,
            line: Some(l),
            ..
        } if *message == line => ensure!(
            l.seq == line
                && l.from == yan.id()
                && l.text == "Je ne suis pas d'accord avec cette proposition."
                && l.hidden.is_none(),
            "{l:?}"
        ),
        other => anyhow::bail!("Inès: {other:?}"),
    }
    let r = gar.wait_seq(shown).await?;
    ensure!(
        matches!(&r.event, Event::ChatUnhidden { message, line: None, .. } if *message == line),
        "{r:?}"
    );
    gar.wait_for(|m| matches!(m, ServerMessage::Audit { entry } if entry.seq == shown))
        .await?;
    let e = fac.request(Command::UnhideChat { message: line }).await?;
    ensure!(matches!(e, Err((ErrorCode::Conflict, _))), "{e:?}");
    // Paul, in another room, got neither the hiding nor the line back: the next event he
    // receives after his move is this announcement.
    let told = fac
        .ok(Command::Broadcast {
            text: "Reprise dans dix minutes".into(),
        })
        .await?;
    loop {
        let m = paul.next_message(Duration::from_secs(10)).await?;
        if let ServerMessage::Event { record } = &m {
            ensure!(
                !matches!(
                    record.event,
                    Event::ChatUnhidden { .. }
                        | Event::ChatHidden { .. }
                        | Event::ChatPosted { .. }
                ),
                "Paul, in another room: {record:?}"
            );
            if record.seq == told {
                break;
            }
        }
    }

    // Every snapshot has it in its place, unmarked.
    for (name, token) in [
        ("ines", "Inès Martin"),
        ("yannick", "Yannick Le Goff"),
        ("gaelle", "Gaëlle Garant"),
    ] {
        let c = Client::join(&url, name, &tok(token)).await?;
        let chat: Vec<(u64, Option<proto::HiddenMark>)> = plenary_chat(&c)?
            .into_iter()
            .map(|(s, _, h)| (s, h))
            .collect();
        ensure!(
            chat == [(before, None), (line, None), (after, None)],
            "{name}: {chat:?}"
        );
        c.close().await;
    }
    // The moderation log keeps both; the export marks the line no more.
    let entries = audit_export(&server, &tok("Gaëlle Garant")).await?;
    let kinds: Vec<&str> = entries
        .iter()
        .filter(|e| e.event["message"] == line)
        .filter_map(|e| e.event["type"].as_str())
        .collect();
    ensure!(kinds == ["chat_hidden", "chat_unhidden"], "{kinds:?}");
    ensure!(
        entries
            .iter()
            .all(|e| !e.event.to_string().contains("pas d'accord")),
        "the line's text is not in the audit trail"
    );
    let lines: Vec<proto::ChatExportLine> = reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{CONV}/chat")))
        .bearer_auth(tok("Claire Moreau"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    ensure!(
        lines.iter().any(|l| l.seq == line && l.hidden.is_none()),
        "{lines:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_ends_by_itself_and_survives_a_restart() -> Result<()> {
    let (_dir, mut server, invites, url) = scene().await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&url, "claire", &tok("Claire Moreau")).await?;
    let mut yan = Client::join(&url, "yannick", &tok("Yannick Le Goff")).await?;
    let mut ines = Client::join(&url, "ines", &tok("Inès Martin")).await?;
    let yan_id = yan.id();

    let e = fac
        .request(Command::Mute {
            participant: fac.id(),
            duration_ms: 1000,
            reason: String::new(),
        })
        .await?;
    ensure!(
        matches!(e, Err((ErrorCode::Forbidden, _))),
        "a facilitator: {e:?}"
    );
    let e = fac
        .request(Command::Mute {
            participant: "p999".into(),
            duration_ms: 1000,
            reason: String::new(),
        })
        .await?;
    ensure!(
        matches!(e, Err((ErrorCode::NotFound, _))),
        "someone unknown: {e:?}"
    );

    let muted = fac
        .ok(Command::Mute {
            participant: yan_id.clone(),
            duration_ms: 2000,
            reason: "Hors sujet".into(),
        })
        .await?;
    let r = yan.wait_seq(muted).await?;
    let Event::ParticipantMuted { until, .. } = r.event else {
        return Err(anyhow!("not a mute: {r:?}"));
    };
    let e = yan
        .request(Command::SendChat {
            room: None,
            text: "Je parle quand même".into(),
        })
        .await?;
    let Err((ErrorCode::Muted, message)) = e else {
        return Err(anyhow!("a muted chat line: {e:?}"));
    };
    ensure!(message.contains("muted"), "{message}");
    // Everything else still works.
    yan.ok(Command::RaiseHand { room: None }).await?;
    ines.ok(Command::SendChat {
        room: None,
        text: "Moi je peux".into(),
    })
    .await?;
    // The timer lifts it by itself.
    let r = yan.wait_event("participant_unmuted").await?;
    ensure!(
        r.by == proto::Actor::Timer && r.at >= until,
        "lifted by the timer at its deadline: {r:?}"
    );
    yan.ok(Command::SendChat {
        room: None,
        text: "Me revoilà".into(),
    })
    .await?;

    // A long mute survives kill -9: the citizen's snapshot says until when.
    fac.ok(Command::Mute {
        participant: yan_id.clone(),
        duration_ms: 3_600_000,
        reason: String::new(),
    })
    .await?;
    yan.close().await;
    fac.close().await;
    ines.close().await;
    server.kill9_and_restart().await?;
    let url = ws_url(&server);
    let mut yan = Client::join(&url, "yannick", &tok("Yannick Le Goff")).await?;
    let mutes = &yan.snapshot.as_ref().context("a snapshot")?.mutes;
    ensure!(
        mutes.len() == 1 && mutes[0].participant == yan_id,
        "{mutes:?}"
    );
    let e = yan
        .request(Command::SendChat {
            room: None,
            text: "Toujours pas".into(),
        })
        .await?;
    ensure!(matches!(e, Err((ErrorCode::Muted, _))), "{e:?}");
    // Another citizen's snapshot says nothing of it.
    let ines = Client::join(&url, "ines", &tok("Inès Martin")).await?;
    ensure!(ines.snapshot.as_ref().is_some_and(|s| s.mutes.is_empty()));
    let mut fac = Client::join(&url, "claire", &tok("Claire Moreau")).await?;
    fac.ok(Command::Unmute {
        participant: yan_id.clone(),
    })
    .await?;
    yan.wait_event("participant_unmuted").await?;
    yan.ok(Command::SendChat {
        room: None,
        text: "Merci".into(),
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_participant_is_closed_everywhere_until_readmitted() -> Result<()> {
    let (_dir, server, invites, url) = scene().await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&url, "claire", &tok("Claire Moreau")).await?;
    let mut gar = Client::join(&url, "gaelle", &tok("Gaëlle Garant")).await?;
    let mut ines = Client::join(&url, "ines", &tok("Inès Martin")).await?;
    let mut phone = Client::join(&url, "yannick-phone", &tok("Yannick Le Goff")).await?;
    let mut laptop = Client::join(&url, "yannick-laptop", &tok("Yannick Le Goff")).await?;
    let yan_id = phone.id();

    // In a breakout room, with a raised hand; a document open.
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    let doc = YClient::synced(
        "yannick-doc",
        &doc_url(&server.addr, CONV, "avis", &tok("Yannick Le Goff")),
    )
    .await?;
    fac.ok(Command::CreateRooms {
        count: Some(1),
        names: vec![],
    })
    .await?;
    fac.ok(Command::MoveParticipant {
        participant: yan_id.clone(),
        room: "r1".into(),
    })
    .await?;
    phone
        .wait_for(|m| matches!(m, ServerMessage::Snapshot { .. }))
        .await?;
    phone.ok(Command::RaiseHand { room: None }).await?;

    for (who, code) in [
        (fac.id(), ErrorCode::Forbidden),
        (gar.id(), ErrorCode::Forbidden),
    ] {
        let e = fac
            .request(Command::RemoveParticipant {
                participant: who.clone(),
                reason: "Essai".into(),
            })
            .await?;
        ensure!(matches!(&e, Err((c, _)) if *c == code), "{who}: {e:?}");
    }
    let e = gar
        .request(Command::RemoveParticipant {
            participant: yan_id.clone(),
            reason: "Je n'ai pas le droit".into(),
        })
        .await?;
    ensure!(
        matches!(e, Err((ErrorCode::Forbidden, _))),
        "a guarantor: {e:?}"
    );

    let removed = fac
        .ok(Command::RemoveParticipant {
            participant: yan_id.clone(),
            reason: "Insultes répétées".into(),
        })
        .await?;
    // Both connections and the document's are closed, with the documented codes.
    for c in [&mut phone, &mut laptop] {
        let code = c.wait_closed(Duration::from_secs(10)).await?;
        ensure!(
            code == Some(close::REMOVED),
            "{}: closed with {code:?}",
            c.name
        );
    }
    let code = doc.wait_closed().await?;
    ensure!(
        code == Some(convene::docs::close::REMOVED),
        "the document connection: {code:?}"
    );
    // Others see them leave (without the reason); staff see why.
    let r = ines.wait_seq(removed).await?;
    ensure!(
        r.event
            == Event::ParticipantRemoved {
                participant: yan_id.clone(),
                reason: None
            },
        "{r:?}"
    );
    let r = gar.wait_seq(removed).await?;
    ensure!(
        matches!(&r.event, Event::ParticipantRemoved { reason: Some(w), .. } if w == "Insultes répétées"),
        "{r:?}"
    );
    // A new hello is refused with 4013, and so is the document.
    let mut again = Client::open(&url, "yannick-again").await?;
    again
        .send(&proto::ClientMessage::Hello {
            protocol: proto::PROTOCOL_VERSION,
            token: tok("Yannick Le Goff"),
            last_seq: None,
        })
        .await?;
    let code = again.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == Some(close::REMOVED),
        "hello after removal: {code:?}"
    );
    let doc = YClient::connect(
        "yannick-doc-again",
        &doc_url(&server.addr, CONV, "avis", &tok("Yannick Le Goff")),
    )
    .await?;
    ensure!(doc.wait_closed().await? == Some(convene::docs::close::REMOVED));

    // Out of every room, hand lowered; a facilitator's snapshot lists the removal.
    let fac2 = Client::join(&url, "claire-2", &tok("Claire Moreau")).await?;
    let snap = fac2.snapshot.as_ref().context("a snapshot")?;
    let me = snap
        .participants
        .iter()
        .find(|p| p.person.id == yan_id)
        .context("still on the roster")?;
    ensure!(me.room == proto::PLENARY_ID && !me.online, "{me:?}");
    let r1 = snap.rooms.iter().find(|r| r.id == "r1").context("r1")?;
    ensure!(
        r1.inside.as_ref().is_some_and(|i| i.queue.is_empty()),
        "hand lowered: {r1:?}"
    );
    ensure!(
        snap.removed.len() == 1 && snap.removed[0].participant == yan_id,
        "{:?}",
        snap.removed
    );
    fac2.close().await;

    // Readmitted: back in.
    fac.ok(Command::Readmit {
        participant: yan_id.clone(),
    })
    .await?;
    let mut back = Client::join(&url, "yannick-back", &tok("Yannick Le Goff")).await?;
    back.ok(Command::SendChat {
        room: None,
        text: "Je suis de retour".into(),
    })
    .await?;
    let entries = audit_export(&server, &tok("Claire Moreau")).await?;
    let kinds: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.event["type"].as_str())
        .filter(|t| t.starts_with("participant_re"))
        .collect();
    ensure!(
        kinds == ["participant_removed", "participant_readmitted"],
        "{kinds:?}"
    );
    Ok(())
}

/// In cluster mode the removal is an event of the shared log: the node that did not decide
/// it closes its own connections of the removed participant, and refuses their hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_on_one_node_closes_the_connections_on_another() -> Result<()> {
    let dir = tempdir();
    let redis = fresh_redis(3)?;
    let servers = nodes(dir.path(), &redis, 2).await?;
    let invites = servers[0].http().convention(CONV, &roster()).await?;
    let tok = |n: &str| token_of(&invites, n);
    let mut fac = Client::join(&servers[0].ws_url(), "claire", &tok("Claire Moreau")).await?;
    let mut yan = Client::join(&servers[1].ws_url(), "yannick", &tok("Yannick Le Goff")).await?;
    let yan_id = yan.id();
    fac.ok(Command::RemoveParticipant {
        participant: yan_id.clone(),
        reason: "Perturbe la séance".into(),
    })
    .await?;
    let code = yan.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == Some(close::REMOVED),
        "closed on the other node with {code:?}"
    );
    let mut again = Client::open(&servers[1].ws_url(), "yannick-again").await?;
    again
        .send(&proto::ClientMessage::Hello {
            protocol: proto::PROTOCOL_VERSION,
            token: tok("Yannick Le Goff"),
            last_seq: None,
        })
        .await?;
    let code = again.wait_closed(Duration::from_secs(10)).await?;
    ensure!(
        code == Some(close::REMOVED),
        "hello on the other node: {code:?}"
    );
    fac.ok(Command::Readmit {
        participant: yan_id,
    })
    .await?;
    // The readmission reaches the other node's replica: its hello is welcome again.
    let mut welcomed = false;
    for _ in 0..50 {
        let mut c = Client::open(&servers[1].ws_url(), "yannick-back").await?;
        c.send(&proto::ClientMessage::Hello {
            protocol: proto::PROTOCOL_VERSION,
            token: tok("Yannick Le Goff"),
            last_seq: None,
        })
        .await?;
        if c.wait_for(|m| matches!(m, ServerMessage::Welcome { .. }))
            .await
            .is_ok()
        {
            welcomed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(welcomed, "readmitted, welcome again on the other node");
    Ok(())
}
