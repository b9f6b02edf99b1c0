//! Video meetings, end to end with the real `convene` process: a room's meeting has a name
//! nobody can guess (an HMAC under a server secret kept private in the data directory, the
//! same on every node of a cluster), and a person gets the meeting of the room they are in
//! now, and no other. (The tokens' signatures and claims are checked with an independent JWT
//! library in tests/web/video-tokens.test.mjs; the pages in tests/web/video.test.mjs.)

use anyhow::{Context, Result};
use convene_tests::proto::api::{ErrorBody, VideoMeeting, VideoProvider};
use convene_tests::proto::{Command, ErrorCode, Role};
use convene_tests::{fresh_redis, person, tempdir, token_of, Client, Server};

const LINK: &str = "https://visio.example.org/salle/{room}";

fn roster() -> Vec<convene_tests::proto::api::RosterEntry> {
    vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Yannick Citoyen", &[Role::Citizen], &[]),
        person("Hélène Garante", &[Role::Guarantor], &[]),
    ]
}

/// `GET /api/conventions/{id}/video[?room=]` with a bearer token (or none).
async fn ask(
    server: &Server,
    conv: &str,
    token: Option<&str>,
    room: Option<&str>,
) -> Result<(u16, serde_json::Value)> {
    let mut url = server.url(&format!("/api/conventions/{conv}/video"));
    if let Some(r) = room {
        url.push_str(&format!("?room={r}"));
    }
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.context("a JSON body")?))
}

async fn meeting(server: &Server, conv: &str, token: &str) -> Result<VideoMeeting> {
    let (status, body) = ask(server, conv, Some(token), None).await?;
    anyhow::ensure!(status == 200, "meeting: {status} {body}");
    Ok(serde_json::from_value(body)?)
}

fn opaque(name: &str) -> bool {
    name.len() == 34
        && name.starts_with("cv")
        && name[2..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[tokio::test]
async fn meeting_names_are_opaque_and_their_key_is_private_and_kept() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("a");
    let mut server = Server::start_with(&data, &["--video", "link", "--video-link", LINK]).await?;
    let invites = server.http().convention("cv-names", &roster()).await?;
    let citizen = token_of(&invites, "Yannick Citoyen");
    let m = meeting(&server, "cv-names", &citizen).await?;
    assert_eq!(m.provider, VideoProvider::Link);
    assert_eq!(m.room, "plenary");
    let name = m.meeting.clone().context("a meeting name")?;
    assert!(opaque(&name), "{name} is cv + 128 bits in hex");
    assert!(!name.contains("names") && !name.contains("plenary"));
    assert_eq!(
        m.url.as_deref(),
        Some(format!("https://visio.example.org/salle/{name}").as_str())
    );
    // A link carries no token; the plenary is joined muted.
    assert_eq!((m.token.as_deref(), m.start_muted), (None, true));

    // The key was generated into the data directory, readable by the server's user only.
    let secret = data.join("video-secret");
    let meta = std::fs::metadata(&secret).context("DATA/video-secret")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(meta.len() >= 32);

    // Kept across a restart: the same room keeps its meeting.
    server.restart().await?;
    assert_eq!(
        meeting(&server, "cv-names", &citizen).await?.meeting,
        Some(name.clone())
    );

    // Another server (another key) names the same ids otherwise.
    let other = Server::start_with(
        &dir.path().join("b"),
        &["--video", "link", "--video-link", LINK],
    )
    .await?;
    let invites_b = other.http().convention("cv-names", &roster()).await?;
    let b = meeting(&other, "cv-names", &token_of(&invites_b, "Yannick Citoyen")).await?;
    assert_ne!(b.meeting, Some(name.clone()));

    // A key given by flag names rooms alike wherever it is given.
    let given = [
        "--video",
        "link",
        "--video-link",
        LINK,
        "--video-secret",
        "s3cret-partagé",
    ];
    let c1 = Server::start_with(&dir.path().join("c1"), &given).await?;
    let c2 = Server::start_with(&dir.path().join("c2"), &given).await?;
    let i1 = c1.http().convention("cv-names", &roster()).await?;
    let i2 = c2.http().convention("cv-names", &roster()).await?;
    let m1 = meeting(&c1, "cv-names", &token_of(&i1, "Yannick Citoyen")).await?;
    let m2 = meeting(&c2, "cv-names", &token_of(&i2, "Yannick Citoyen")).await?;
    assert_eq!(m1.meeting, m2.meeting);
    assert_ne!(m1.meeting, Some(name));
    assert!(
        !c1.data.join("video-secret").exists(),
        "a given key is not written down"
    );
    Ok(())
}

#[tokio::test]
async fn only_the_meeting_of_the_room_you_are_in() -> Result<()> {
    let dir = tempdir();
    let server = Server::start_with(
        &dir.path().join("d"),
        &["--video", "link", "--video-link", LINK],
    )
    .await?;
    let conv = "cv-rooms";
    let invites = server.http().convention(conv, &roster()).await?;
    let fac_token = token_of(&invites, "Claire Animatrice");
    let citizen = token_of(&invites, "Yannick Citoyen");
    let citizen_id = invites
        .iter()
        .find(|i| i.name == "Yannick Citoyen")
        .map(|i| i.participant.clone())
        .context("citizen")?;

    // No token, the organizer's, a made-up one: 401, and nothing says the convention exists.
    for token in [
        None,
        Some(convene_tests::ORGANIZER_TOKEN),
        Some("cv-rooms.00000000000000000000000000000000"),
    ] {
        let (status, body) = ask(&server, conv, token, None).await?;
        assert_eq!(status, 401, "{token:?}: {body}");
        let e: ErrorBody = serde_json::from_value(body)?;
        assert_eq!(e.code, ErrorCode::Unauthorized);
    }
    let (status, _) = ask(&server, "nowhere", Some(&citizen), None).await?;
    assert_eq!(status, 401);

    let plenary = meeting(&server, conv, &citizen).await?;
    assert_eq!(plenary.room, "plenary");
    let (status, _) = ask(&server, conv, Some(&citizen), Some("plenary")).await?;
    assert_eq!(status, 200, "asking for one's own room is fine");

    // A breakout room the citizen is not in: refused, with a stable code.
    let mut fac = Client::join(&server.ws_url(), "fac", &fac_token).await?;
    fac.ok(Command::CreateRooms {
        count: Some(2),
        names: vec![],
    })
    .await?;
    let (status, body) = ask(&server, conv, Some(&citizen), Some("r1")).await?;
    assert_eq!(status, 403, "{body}");
    let e: ErrorBody = serde_json::from_value(body)?;
    assert_eq!(e.code, ErrorCode::Forbidden);

    // Once moved there, that room's meeting, and no longer the plenary's.
    fac.ok(Command::MoveParticipant {
        participant: citizen_id.clone(),
        room: "r1".into(),
    })
    .await?;
    let r1 = meeting(&server, conv, &citizen).await?;
    assert_eq!(r1.room, "r1");
    assert!(
        !r1.start_muted,
        "a breakout room is joined with the microphone on"
    );
    assert_ne!(r1.meeting, plenary.meeting);
    let (status, _) = ask(&server, conv, Some(&citizen), Some("plenary")).await?;
    assert_eq!(status, 403);
    // The facilitator, still in the plenary, gets the plenary's; the room r2 is another one.
    let fac_m = meeting(&server, conv, &fac_token).await?;
    assert_eq!(fac_m.meeting, plenary.meeting);
    fac.ok(Command::MoveParticipant {
        participant: citizen_id.clone(),
        room: "r2".into(),
    })
    .await?;
    let r2 = meeting(&server, conv, &citizen).await?;
    assert_ne!(r2.meeting, r1.meeting);
    assert_ne!(r2.meeting, plenary.meeting);

    // A guarantor observes: muted, camera off.
    let g = meeting(&server, conv, &token_of(&invites, "Hélène Garante")).await?;
    assert!(g.observer && g.start_muted);

    // A revoked invitation gets nothing more.
    let r = server
        .http()
        .delete(&format!("/api/conventions/{conv}/invites/{citizen_id}"))
        .send()
        .await?;
    assert_eq!(r.status(), 204);
    let (status, _) = ask(&server, conv, Some(&citizen), None).await?;
    assert_eq!(status, 401);
    Ok(())
}

#[tokio::test]
async fn video_is_off_by_default_and_bad_settings_refuse_to_start() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("off")).await?;
    let invites = server.http().convention("cv-off", &roster()).await?;
    let m = meeting(&server, "cv-off", &token_of(&invites, "Yannick Citoyen")).await?;
    assert_eq!(m.provider, VideoProvider::Off);
    assert_eq!((m.meeting, m.url, m.token), (None, None, None));

    // A provider without what it needs is refused at start, with the flag to give.
    for (flags, says) in [
        (vec!["--video", "jitsi"], "--jitsi-url"),
        (
            vec![
                "--video",
                "jitsi",
                "--jitsi-url",
                "https://meet.example.org",
                "--jitsi-app-id",
                "a",
            ],
            "--jitsi-app-secret",
        ),
        (
            vec!["--video", "livekit", "--livekit-url", "ftp://x"],
            "--livekit-url",
        ),
        (
            vec!["--video", "link", "--video-link", "https://x.example/fixed"],
            "{room}",
        ),
    ] {
        let d = dir.path().join(format!("bad-{}", flags.len()));
        let out = std::process::Command::new(convene_tests::convene_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&d)
            .args(&flags)
            .output()?;
        assert!(!out.status.success(), "{flags:?} must not start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    Ok(())
}

#[tokio::test]
async fn every_node_of_a_cluster_names_a_room_alike() -> Result<()> {
    let redis = fresh_redis(4)?;
    let dir = tempdir();
    // No key given: in cluster mode it is derived from the organizer token the nodes share.
    let mut servers = Vec::new();
    for i in 0..2 {
        servers.push(
            Server::start_with(
                &dir.path().join(format!("node{i}")),
                &["--redis", &redis, "--video", "link", "--video-link", LINK],
            )
            .await?,
        );
    }
    let invites = servers[0]
        .http()
        .convention("cv-cluster", &roster())
        .await?;
    let citizen = token_of(&invites, "Yannick Citoyen");
    let a = meeting(&servers[0], "cv-cluster", &citizen).await?;
    let b = meeting(&servers[1], "cv-cluster", &citizen).await?;
    assert!(a.meeting.as_deref().is_some_and(opaque));
    assert_eq!(a.meeting, b.meeting);
    for i in 0..2 {
        assert!(
            !dir.path().join(format!("node{i}/video-secret")).exists(),
            "in cluster mode the key is derived, not generated per node"
        );
    }
    Ok(())
}
