//! The application-level heartbeat (PROTOCOL.md, "Heartbeat"): a `ping` after the welcome is
//! answered at once by a `pong` with the server's clock, in order with the connection's other
//! messages; pings count against the rate limit like any frame; a `ping` instead of a
//! `hello` closes the connection with 4000.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{close, ClientMessage, Command, ErrorCode, Role, ServerMessage};
use convene_tests::{person, tempdir, Client, Server};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_is_answered_by_a_pong_in_order_and_within_the_rate_limit() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = [
        person("Claire Moreau", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[("commune", "Rezé")]),
    ];
    let invites = server.http().convention("coeur", &roster).await?;
    let mut cit = Client::join(&server.ws_url(), "yannick", &invites[1].token).await?;

    // A pong, with the server's clock.
    let before = now_ms();
    cit.send(&ClientMessage::Ping).await?;
    let pong = cit
        .wait_for(|m| matches!(m, ServerMessage::Pong { .. }))
        .await?;
    let ServerMessage::Pong { server_time } = pong else {
        unreachable!("matched above")
    };
    ensure!(
        server_time + 1000 >= before && server_time <= now_ms() + 1000,
        "the pong carries the server's clock: {server_time}, sent at {before}"
    );

    // In order with the rest: a request then a ping: its events and its ok come first.
    let id = "c-1".to_string();
    cit.send(&ClientMessage::Request {
        id: id.clone(),
        command: Command::SendChat {
            room: None,
            text: "Bonjour".into(),
        },
    })
    .await?;
    cit.send(&ClientMessage::Ping).await?;
    let mut order = Vec::new();
    while order.last().map(String::as_str) != Some("pong") {
        let m = cit
            .wait_for(|m| {
                matches!(
                    m,
                    ServerMessage::Ok { .. }
                        | ServerMessage::Pong { .. }
                        | ServerMessage::Event { .. }
                )
            })
            .await?;
        order.push(
            match m {
                ServerMessage::Ok { .. } => "ok",
                ServerMessage::Pong { .. } => "pong",
                _ => "event",
            }
            .to_string(),
        );
    }
    ensure!(
        order == ["event", "ok", "pong"],
        "the pong comes after what was sent before the ping: {order:?}"
    );

    // Pings count against the rate limit (a burst of 40, then 20 per second): a flood of
    // them gets `rate_limited` errors, and the connection stays open.
    let flood: Vec<String> = (0..60).map(|_| r#"{"type":"ping"}"#.to_string()).collect();
    cit.send_raw_batch(&flood).await?;
    let (mut pongs, mut limited) = (0, 0);
    while pongs + limited < 60 {
        match cit
            .wait_for(|m| matches!(m, ServerMessage::Pong { .. } | ServerMessage::Error { .. }))
            .await
            .context("every ping of the flood gets an answer")?
        {
            ServerMessage::Pong { .. } => pongs += 1,
            ServerMessage::Error { code, id, .. } => {
                ensure!(
                    code == ErrorCode::RateLimited && id.is_none(),
                    "{code:?} {id:?}"
                );
                limited += 1
            }
            _ => unreachable!("matched above"),
        }
    }
    ensure!(
        (30..60).contains(&pongs) && limited > 0,
        "the burst is answered, the rest is refused: {pongs} pongs, {limited} refused"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    cit.send(&ClientMessage::Ping).await?;
    cit.wait_for(|m| matches!(m, ServerMessage::Pong { .. }))
        .await
        .context("still connected, answered again once the bucket refills")?;

    // A ping is no hello.
    let mut early = Client::open(&server.ws_url(), "early").await?;
    early.send(&ClientMessage::Ping).await?;
    let code = early.wait_closed(Duration::from_secs(5)).await?;
    ensure!(
        code == Some(close::HELLO_EXPECTED),
        "a ping before the hello closes with 4000: {code:?}"
    );
    Ok(())
}
