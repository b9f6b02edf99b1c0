//! Public audience (PROTOCOL.md §24): anyone with the public link watches the plenary on
//! `/public/ws` without being on the roster. They see who has the floor, announcements,
//! published results, the livestream and the published opinion; never the roster, the chat,
//! the rooms, a hand raised or an unpublished poll. Revoking the link closes them; the
//! node's viewer cap refuses the surplus; a viewer that sends anything but `ping` is closed.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_protocol::{
    public_close, AssignMethod, AwayKind, Ballot, Command, PollKind, PublicServerMessage,
    PublicView, Role, ServerMessage,
};
use convene_tests::public::Viewer;
use convene_tests::{person, poll_spec, tempdir, token_of, Client, Server};

const SECRET_CHAT: &str = "SECRET-chat-line-0451";
const SECRET_ROOM: &str = "SECRET-Salle-Erdre";
const SECRET_POLL: &str = "SECRET-question-secrete";
const SECRET_CALL: &str = "SECRET-besoin-d-aide";
const PUBLIC_POLL: &str = "Faut-il piétonniser le centre ?";
const ANNOUNCEMENT: &str = "Reprise en plénière à 15 h 20";
const LIVESTREAM: &str = "https://video.example.org/live/nantes";

fn roster() -> Vec<convene_protocol::api::RosterEntry> {
    vec![
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[("commune", "Rezé")]),
        person(
            "Aïcha Benali",
            &[Role::Citizen],
            &[("commune", "Saint-Herblain")],
        ),
        person("Paul Durand", &[Role::Citizen], &[("commune", "Orvault")]),
    ]
}

/// What must never reach a viewer: names other than the speaker's, attributes, chat, rooms,
/// a secret poll, calls, tokens.
fn forbidden(invite_tokens: &[String]) -> Vec<String> {
    let mut f: Vec<String> = [
        "Claire Moreau",
        "Aïcha Benali",
        "Paul Durand",
        "Rezé",
        "Saint-Herblain",
        "Orvault",
        "commune",
        SECRET_CHAT,
        SECRET_ROOM,
        SECRET_POLL,
        SECRET_CALL,
        "hand_raised",
        "chat_posted",
        "participant_moved",
        "rooms_created",
        "token",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    f.extend(invite_tokens.iter().cloned());
    f
}

/// Every frame is a `public_view` (or a `pong`) with only the documented fields, and holds
/// none of `forbidden`.
fn check_frames(v: &Viewer, forbidden: &[String]) -> Result<()> {
    ensure!(!v.frames.is_empty(), "the viewer received nothing");
    let view_keys = [
        "convention",
        "floor",
        "away",
        "announcements",
        "results",
        "opinion",
        "poll",
        "poll_results",
        "livestream",
        "viewers",
    ];
    for f in &v.frames {
        for word in forbidden {
            ensure!(
                !f.contains(word.as_str()),
                "a viewer received {word:?} in {f}"
            );
        }
        let json: serde_json::Value = serde_json::from_str(f)?;
        let ty = json["type"].as_str().unwrap_or_default();
        ensure!(
            ty == "public_view" || ty == "public_count" || ty == "pong",
            "frame of type {ty:?}: {f}"
        );
        if ty == "public_view" {
            let keys: Vec<&String> = json["view"]
                .as_object()
                .context("a view object")?
                .keys()
                .collect();
            ensure!(
                keys.iter().all(|k| view_keys.contains(&k.as_str())),
                "undocumented field in {keys:?}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_viewer_sees_nothing_of_the_roster_chat_or_rooms() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let http = server.http();
    let invites = http.convention("publique", &roster()).await?;
    let tokens: Vec<String> = invites.iter().map(|i| i.token.clone()).collect();
    let mut fac = Client::join(
        &server.ws_url(),
        "claire",
        &token_of(&invites, "Claire Moreau"),
    )
    .await?;
    let mut yannick = Client::join(
        &server.ws_url(),
        "yannick",
        &token_of(&invites, "Yannick Le Goff"),
    )
    .await?;
    let mut aicha = Client::join(
        &server.ws_url(),
        "aicha",
        &token_of(&invites, "Aïcha Benali"),
    )
    .await?;
    let mut paul =
        Client::join(&server.ws_url(), "paul", &token_of(&invites, "Paul Durand")).await?;

    // No link yet: nothing to watch.
    let status: serde_json::Value = http
        .get("/api/conventions/publique/public-link")
        .send()
        .await?
        .json()
        .await?;
    ensure!(status["active"] == false, "no link yet: {status}");

    let link = http.public_link("publique", Some(LIVESTREAM)).await?;
    ensure!(
        link.url.ends_with(&format!("/public#link={}", link.token)) && link.created_at > 0,
        "the link's page carries the token in its fragment: {link:?}"
    );
    ensure!(
        !tokens.contains(&link.token),
        "a public link is not an invitation"
    );
    // An invitation token is not a public link, nor the other way round.
    let mut wrong = Viewer::watch_only(&server, &tokens[1]).await?;
    ensure!(
        wrong.wait_closed(Duration::from_secs(10)).await? == Some(public_close::UNKNOWN_LINK),
        "an invitation token does not open the public page"
    );
    let mut as_member = Client::open(&server.ws_url(), "intrus").await?;
    as_member
        .send(&convene_protocol::ClientMessage::Hello {
            protocol: 1,
            token: link.token.clone(),
            last_seq: None,
        })
        .await?;
    ensure!(
        as_member.wait_closed(Duration::from_secs(10)).await?
            == Some(convene_protocol::close::UNKNOWN_TOKEN),
        "the public link does not join as a member"
    );

    let mut viewer = Viewer::watch(&server, &link.token).await?;
    let first = viewer.view.clone().context("a first view")?;
    ensure!(
        first.convention == "Convention publique"
            && first.livestream.as_deref() == Some(LIVESTREAM)
            && first.floor.is_none()
            && first.away.is_none(),
        "the first view: {first:?}"
    );
    // Counted, not listed: the view's count and the staff's.
    viewer.wait_view(|v| v.viewers == 1).await?;
    let counted = fac
        .wait_for(|m| matches!(m, ServerMessage::PublicViewers { count: 1 }))
        .await;
    ensure!(counted.is_ok(), "the facilitator learns one viewer watches");

    // A full scenario of what the public must not see. A chat line, a hand, a call change
    // nothing the public sees: no frame at all (one view per change, none per event).
    let before = viewer.frames.len();
    yannick
        .ok(Command::SendChat {
            room: None,
            text: SECRET_CHAT.into(),
        })
        .await?;
    aicha.ok(Command::RaiseHand { room: None }).await?;
    paul.ok(Command::CallFacilitator {
        message: SECRET_CALL.into(),
    })
    .await?;
    viewer.drain(Duration::from_millis(1500)).await;
    ensure!(
        viewer.frames.len() == before,
        "events the public cannot see sent it frames: {:?}",
        &viewer.frames[before..]
    );
    fac.ok(Command::CreateRooms {
        count: None,
        names: vec![SECRET_ROOM.into(), "Autre salle".into()],
    })
    .await?;
    fac.ok(Command::AssignRooms {
        method: AssignMethod::Balanced {
            attribute: "commune".into(),
        },
        participants: None,
        only_present: true,
    })
    .await?;
    let opened = fac
        .ok(Command::OpenBreakouts {
            duration_ms: 600_000,
            warning_ms: 60_000,
        })
        .await?;
    let ends_at = match fac.wait_seq(opened).await?.event {
        convene_protocol::Event::BreakoutsOpened { ends_at, .. } => ends_at,
        other => anyhow::bail!("not breakouts_opened: {other:?}"),
    };
    let away = viewer.wait_view(|v| v.away.is_some()).await?;
    let a = away.away.as_ref().context("away")?;
    ensure!(
        a.kind == AwayKind::Breakouts && a.until == Some(ends_at),
        "in breakout rooms until the deadline, no room named: {away:?}"
    );
    aicha
        .ok(Command::SendChat {
            room: None,
            text: SECRET_CHAT.into(),
        })
        .await?;
    fac.ok(Command::CloseBreakouts).await?;
    viewer.wait_view(|v| v.away.is_none()).await?;

    // A secret poll opened, voted, closed, even revealed: never public until published.
    let (secret, _) = fac
        .draft_and_open(poll_spec(
            SECRET_POLL,
            PollKind::Single {
                options: vec!["Oui".into(), "Non".into()],
            },
            true,
            false,
        ))
        .await?;
    for c in [&mut yannick, &mut aicha, &mut paul] {
        c.ok(Command::Vote {
            poll: secret.clone(),
            ballot: Ballot::Single { choice: 0 },
        })
        .await?;
    }
    fac.ok(Command::ClosePoll {
        poll: secret.clone(),
    })
    .await?;
    fac.ok(Command::RevealResults {
        poll: secret.clone(),
    })
    .await?;

    // A poll published: its results are public.
    let (public_poll, _) = fac
        .draft_and_open(poll_spec(
            PUBLIC_POLL,
            PollKind::Single {
                options: vec!["Oui".into(), "Non".into()],
            },
            true,
            false,
        ))
        .await?;
    for (c, choice) in [(&mut yannick, 0), (&mut aicha, 0), (&mut paul, 1)] {
        c.ok(Command::Vote {
            poll: public_poll.clone(),
            ballot: Ballot::Single { choice },
        })
        .await?;
    }
    fac.ok(Command::ClosePoll {
        poll: public_poll.clone(),
    })
    .await?;
    fac.ok(Command::PublishResults {
        poll: public_poll.clone(),
    })
    .await?;
    let published = viewer.wait_view(|v| !v.results.is_empty()).await?;
    ensure!(
        published.results.len() == 1
            && published.results[0].question == PUBLIC_POLL
            && published.results[0].tally.ballots == 3
            && published.results[0].tally.counts == vec![2, 1],
        "the published result, and only it: {:?}",
        published.results
    );

    // The floor: the speaker's name and countdown.
    yannick.ok(Command::RaiseHand { room: None }).await?;
    let given = fac
        .ok(Command::GiveFloor {
            room: None,
            participant: Some(yannick.id()),
            limit_ms: Some(Some(120_000)),
        })
        .await?;
    fac.wait_seq(given).await?;
    let floor = viewer.wait_view(|v| v.floor.is_some()).await?;
    let f = floor.floor.as_ref().context("floor")?;
    ensure!(
        f.name == "Yannick Le Goff" && f.ends_at == Some(f.since + 120_000),
        "who has the floor, and until when: {f:?}"
    );

    // An announcement.
    fac.ok(Command::Broadcast {
        text: ANNOUNCEMENT.into(),
    })
    .await?;
    let announced = viewer
        .wait_view(|v| v.announcements.iter().any(|a| a.text == ANNOUNCEMENT))
        .await?;
    ensure!(
        announced.announcements.len() == 1,
        "{:?}",
        announced.announcements
    );

    // The published opinion: a named version, published by a facilitator.
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    fac.ok(Command::NameVersion {
        document: "avis".into(),
        label: "Version finale".into(),
    })
    .await?;
    let refused = yannick
        .request(Command::PublishDocument {
            document: "avis".into(),
            version: 1,
        })
        .await?;
    ensure!(
        matches!(refused, Err((convene_protocol::ErrorCode::Forbidden, _))),
        "a citizen does not publish: {refused:?}"
    );
    let refused = fac
        .request(Command::PublishDocument {
            document: "avis".into(),
            version: 9,
        })
        .await?;
    ensure!(
        matches!(refused, Err((convene_protocol::ErrorCode::NotFound, _))),
        "no such version: {refused:?}"
    );
    fac.ok(Command::PublishDocument {
        document: "avis".into(),
        version: 1,
    })
    .await?;
    let opinion = viewer.wait_view(|v| v.opinion.is_some()).await?;
    let o = opinion.opinion.as_ref().context("opinion")?;
    ensure!(
        o.title == "Avis citoyen" && o.version == 1 && o.label == "Version finale",
        "{o:?}"
    );
    let html = reqwest::Client::new()
        .get(server.url(&o.url))
        .bearer_auth(&link.token)
        .send()
        .await?;
    ensure!(
        html.status() == 200,
        "the opinion as HTML: {}",
        html.status()
    );
    ensure!(
        html.headers()
            .get("content-security-policy")
            .is_some_and(|v| v.to_str().unwrap_or_default().contains("sandbox")),
        "served sandboxed"
    );
    ensure!(
        html.text().await?.contains("Avis citoyen"),
        "the opinion's title"
    );
    let no_link = reqwest::Client::new()
        .get(server.url(&o.url))
        .send()
        .await?;
    ensure!(no_link.status() == 401, "the opinion needs the link");

    // Nothing of the roster, chat or rooms in anything the viewer received.
    viewer.drain(Duration::from_millis(1500)).await;
    check_frames(&viewer, &forbidden(&tokens))?;
    // A viewer is never on the roster, nor in presence.
    let roster: Vec<serde_json::Value> = http
        .get("/api/conventions/publique/roster")
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        roster.len() == 4,
        "the roster is the four members: {roster:?}"
    );

    // Creating the link, publishing: in the audit trail, with who and when; no token hash.
    let audit = http
        .get("/api/conventions/publique/audit")
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        audit.contains("public_link_created") && audit.contains("document_published"),
        "audited: {audit}"
    );
    let hash = convene::gateway::hash_token(&link.token);
    ensure!(
        !audit.contains(&hash),
        "the link's hash is not in the trail"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_link_closes_viewers_and_refuses_it() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let http = server.http();
    let invites = http.convention("revoque", &roster()).await?;
    let mut fac = Client::join(
        &server.ws_url(),
        "claire",
        &token_of(&invites, "Claire Moreau"),
    )
    .await?;
    let link = http.public_link("revoque", None).await?;
    let mut a = Viewer::watch(&server, &link.token).await?;
    let mut b = Viewer::watch(&server, &link.token).await?;
    // A new viewer changes only the count: the others get a few bytes, not the view again.
    a.wait_view(|v| v.viewers == 2).await?;
    let last = a.frames.last().cloned().unwrap_or_default();
    ensure!(
        last == r#"{"type":"public_count","viewers":2}"#,
        "the count alone: {last}"
    );
    let r = http
        .delete("/api/conventions/revoque/public-link")
        .send()
        .await?;
    ensure!(r.status() == 204, "revoked: {}", r.status());
    for v in [&mut a, &mut b] {
        ensure!(
            v.wait_closed(Duration::from_secs(10)).await? == Some(public_close::LINK_REVOKED),
            "a viewer is closed with 4021"
        );
    }
    let mut again = Viewer::watch_only(&server, &link.token).await?;
    ensure!(
        again.wait_closed(Duration::from_secs(10)).await? == Some(public_close::UNKNOWN_LINK),
        "the revoked link is refused"
    );
    let r = http
        .delete("/api/conventions/revoque/public-link")
        .send()
        .await?;
    ensure!(r.status() == 404, "nothing to revoke: {}", r.status());
    // A new link works; the members never noticed.
    let fresh = http.public_link("revoque", None).await?;
    ensure!(fresh.token != link.token, "a new token");
    let mut c = Viewer::watch(&server, &fresh.token).await?;
    fac.ok(Command::Broadcast {
        text: ANNOUNCEMENT.into(),
    })
    .await?;
    c.wait_view(|v| v.announcements.len() == 1).await?;
    // Replacing the link closes the viewers of the old one.
    let third = http.public_link("revoque", None).await?;
    ensure!(
        c.wait_closed(Duration::from_secs(10)).await? == Some(public_close::LINK_REVOKED),
        "replaced: closed"
    );
    Viewer::watch(&server, &third.token).await?;
    let audit = http
        .get("/api/conventions/revoque/audit")
        .send()
        .await?
        .text()
        .await?;
    ensure!(audit.contains("public_link_revoked"), "revocation audited");
    // Budgets of the organizer's body: a livestream ten times too long, or not a URL.
    for bad in [
        format!("https://{}", "x".repeat(5000)),
        "javascript:alert(1)".to_string(),
    ] {
        let r = http
            .post("/api/conventions/revoque/public-link")
            .json(&serde_json::json!({ "livestream": bad }))
            .send()
            .await?;
        ensure!(r.status() == 400, "refused livestream: {}", r.status());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_viewer_cap_is_refused_and_members_are_unharmed() -> Result<()> {
    const CAP: usize = 3;
    let dir = tempdir();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--max-public-viewers", &CAP.to_string()],
    )
    .await?;
    let http = server.http();
    let invites = http.convention("plein", &roster()).await?;
    let link = http.public_link("plein", None).await?;
    let mut admitted = Vec::new();
    let mut refused = 0;
    for _ in 0..CAP * 10 {
        let mut v = Viewer::watch_only(&server, &link.token).await?;
        match v.next(Duration::from_secs(10)).await {
            Ok(PublicServerMessage::PublicView { .. }) => admitted.push(v),
            _ => {
                ensure!(
                    v.closed == Some(Some(public_close::FULL)),
                    "refused with 4022: {:?}",
                    v.closed
                );
                refused += 1;
            }
        }
    }
    ensure!(
        admitted.len() == CAP && refused == CAP * 9,
        "{} admitted",
        admitted.len()
    );
    // Members are never refused for viewers.
    let mut fac = Client::join(
        &server.ws_url(),
        "claire",
        &token_of(&invites, "Claire Moreau"),
    )
    .await?;
    fac.ok(Command::Broadcast {
        text: ANNOUNCEMENT.into(),
    })
    .await?;
    for v in admitted.iter_mut() {
        v.wait_view(|v| v.announcements.len() == 1).await?;
    }
    // A seat freed is a seat again.
    if let Some(v) = admitted.pop() {
        v.close().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Viewer::watch(&server, &link.token).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sending_anything_but_ping_is_closed_and_others_unharmed() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let http = server.http();
    let invites = http.convention("bruit", &roster()).await?;
    let link = http.public_link("bruit", None).await?;
    let mut fac = Client::join(
        &server.ws_url(),
        "claire",
        &token_of(&invites, "Claire Moreau"),
    )
    .await?;
    let mut calm = Viewer::watch(&server, &link.token).await?;

    // A ping is answered.
    calm.send_raw(r#"{"type":"ping"}"#).await?;
    let pong = calm.next(Duration::from_secs(10)).await?;
    ensure!(matches!(pong, PublicServerMessage::Pong { .. }), "{pong:?}");

    // Garbage before `watch`: 4000.
    let mut v = Viewer::open(&server).await?;
    v.send_raw("not json at all").await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(4000),
        "garbage hello"
    );
    // A member's hello on the public endpoint: 4000.
    let mut v = Viewer::open(&server).await?;
    v.send_raw(&format!(
        r#"{{"type":"hello","protocol":1,"token":"{}"}}"#,
        invites[0].token
    ))
    .await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(4000),
        "hello on /public/ws"
    );
    // Another protocol version: 4003.
    let mut v = Viewer::open(&server).await?;
    v.send_raw(&format!(
        r#"{{"type":"watch","protocol":99,"link":"{}"}}"#,
        link.token
    ))
    .await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(4003),
        "version"
    );
    // A command after watching: 4023.
    let mut v = Viewer::watch(&server, &link.token).await?;
    v.send_raw(r#"{"type":"request","id":"1","command":{"type":"raise_hand"}}"#)
        .await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(public_close::READ_ONLY),
        "read only"
    );
    // A binary frame: 4023.
    let mut v = Viewer::watch(&server, &link.token).await?;
    v.send_binary(vec![0u8; 64]).await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(public_close::READ_ONLY),
        "binary"
    );
    // Ten times the frame budget: 1009.
    let mut v = Viewer::watch(&server, &link.token).await?;
    let big = format!(
        r#"{{"type":"ping","x":"{}"}}"#,
        "a".repeat(convene_protocol::MAX_PUBLIC_FRAME_BYTES * 10)
    );
    v.send_raw(&big).await?;
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(1009),
        "too large"
    );
    // A flood of pings: 4008.
    let mut v = Viewer::watch(&server, &link.token).await?;
    for _ in 0..50 {
        if v.send_raw(r#"{"type":"ping"}"#).await.is_err() {
            break;
        }
    }
    ensure!(
        v.wait_closed(Duration::from_secs(10)).await? == Some(4008),
        "ping flood"
    );
    // Silence after connecting: 4000 within the hello timeout is tested by /ws; here the
    // calm viewer and the members go on.
    fac.ok(Command::Broadcast {
        text: ANNOUNCEMENT.into(),
    })
    .await?;
    calm.wait_view(|v| v.announcements.len() == 1).await?;
    let view: PublicView = calm.view.clone().context("a view")?;
    ensure!(view.announcements[0].text == ANNOUNCEMENT, "{view:?}");
    Ok(())
}
