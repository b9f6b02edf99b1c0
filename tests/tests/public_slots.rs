//! Public viewers and the connection slots (PROTOCOL.md §24, README "A public audience"): the
//! server holds at most `--max-connections` connections, and public viewers may take only
//! their share of them, whatever `--max-public-viewers` says, so that members always find a
//! slot. A public link published to thousands must not lock the convention's own members out.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_protocol::{public_close, Command, PublicLinkStatus, PublicServerMessage, Role};
use convene_tests::public::Viewer;
use convene_tests::ydoc::{doc_url, YClient};
use convene_tests::{person, tempdir, token_of, Client, Server};

const SLOTS: usize = 60;
/// The viewers' share of 60 slots: members keep half of them below 2,048
/// (`HttpLimits::public_viewers`); `--max-public-viewers` is left at its default (20,000).
const VIEWERS: usize = 30;
const ANNOUNCEMENT: &str = "Reprise en plénière à 15 h 20";
const FAC: &str = "Claire Moreau";
const CITIZEN: &str = "Yannick Le Goff";

/// The log without its colours (the server colours its fields even into a file).
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An escape sequence: up to its final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How a viewer's attempt ended.
enum Attempt {
    Admitted(Box<Viewer>),
    /// Closed with this code after `watch`.
    Closed(Option<Option<u16>>),
    /// The upgrade itself was refused (the server had no slot left: 503).
    NoSlot(String),
}

async fn attempt(server: &Server, link: &str) -> Attempt {
    let mut v = match Viewer::watch_only(server, link).await {
        Ok(v) => v,
        Err(e) => return Attempt::NoSlot(format!("{e:#}")),
    };
    match v.next(Duration::from_secs(10)).await {
        Ok(PublicServerMessage::PublicView { .. }) => Attempt::Admitted(Box::new(v)),
        _ => Attempt::Closed(v.closed),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_viewers_share_of_the_slots_leaves_members_room() -> Result<()> {
    let dir = tempdir();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--max-connections", &SLOTS.to_string()],
    )
    .await?;
    let http = server.http();
    let invites = http
        .convention(
            "places",
            &[
                person(FAC, &[Role::Facilitator], &[]),
                person(CITIZEN, &[Role::Citizen], &[("commune", "Rezé")]),
            ],
        )
        .await?;
    let link = http.public_link("places", None).await?;

    // Ten times the viewers' share, one after the other; a refused one is closed by the
    // server before the next comes.
    let mut admitted = Vec::new();
    let mut refused = 0;
    for i in 0..VIEWERS * 10 {
        match attempt(&server, &link.token).await {
            Attempt::Admitted(v) => admitted.push(v),
            Attempt::Closed(code) => {
                ensure!(
                    code == Some(Some(public_close::FULL)),
                    "viewer {i} (after {} admitted): closed with {code:?}, not 4022",
                    admitted.len()
                );
                refused += 1;
            }
            Attempt::NoSlot(e) => anyhow::bail!(
                "viewer {i} (after {} admitted) found no connection slot: {e}",
                admitted.len()
            ),
        }
    }
    ensure!(
        admitted.len() == VIEWERS && refused == VIEWERS * 9,
        "{} admitted, {refused} refused",
        admitted.len()
    );
    let status: PublicLinkStatus = http
        .get("/api/conventions/places/public-link")
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        status.viewers == VIEWERS as u64,
        "watching: {}",
        status.viewers
    );

    // Members are not refused for viewers: a citizen joins and is acknowledged, the
    // facilitator's broadcast reaches them and every viewer, a document socket opens.
    let mut citizen = Client::join(&server.ws_url(), "yannick", &token_of(&invites, CITIZEN))
        .await
        .context("a citizen joins /ws while the viewers hold their share")?;
    citizen.ok(Command::RaiseHand { room: None }).await?;
    let mut fac = Client::join(&server.ws_url(), "claire", &token_of(&invites, FAC)).await?;
    fac.ok(Command::Broadcast {
        text: ANNOUNCEMENT.into(),
    })
    .await?;
    citizen.wait_event("broadcast_sent").await?;
    for (i, v) in admitted.iter_mut().enumerate() {
        v.wait_view(|v| v.announcements.iter().any(|a| a.text == ANNOUNCEMENT))
            .await
            .with_context(|| format!("admitted viewer {i} gets the announcement"))?;
    }
    fac.ok(Command::CreateDocument {
        name: "avis".into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    // The facilitator writes (citizens read the opinion unless they are in a writing group).
    let writer = YClient::synced(
        "claire-doc",
        &doc_url(&server.addr, "places", "avis", &token_of(&invites, FAC)),
    )
    .await
    .context("a document socket opens while the viewers hold their share")?;
    let reader = YClient::synced(
        "yannick-doc",
        &doc_url(&server.addr, "places", "avis", &token_of(&invites, CITIZEN)),
    )
    .await?;
    writer.push_paragraph("Proposition : des bus de nuit");
    reader
        .wait_paragraph("Proposition : des bus de nuit")
        .await?;

    // The share still holds with the members in.
    match attempt(&server, &link.token).await {
        Attempt::Closed(Some(Some(public_close::FULL))) => {}
        Attempt::Admitted(_) => anyhow::bail!("one viewer more than the share was admitted"),
        Attempt::Closed(code) => anyhow::bail!("the surplus viewer closed with {code:?}"),
        Attempt::NoSlot(e) => anyhow::bail!("the surplus viewer found no slot: {e}"),
    }
    let health = reqwest::get(server.url("/healthz")).await?.status();
    ensure!(health == 200, "/healthz: {health}");

    // The effective cap is shown, and was said at start.
    ensure!(
        server.metric("convene_public_viewers_max").await? == VIEWERS as u64,
        "the effective cap in /metrics"
    );
    let log = plain(&std::fs::read_to_string(&server.stderr_path)?);
    ensure!(
        log.contains("--max-public-viewers lowered") && log.contains("max_public_viewers=30"),
        "the lowered cap is logged at start"
    );
    Ok(())
}
