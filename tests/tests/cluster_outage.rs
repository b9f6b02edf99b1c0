//! Redis stops for a few seconds (SIGKILL) and comes back with its append-only file: during
//! the outage commands get the typed `unavailable` error and /healthz answers 503 with the
//! reason; nothing acknowledged is lost; the nodes recover by themselves, without a restart.

use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Command, ErrorCode, Role};
use convene_tests::{person, tempdir, Client, Server};

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A Redis process that dies with the test, even a failing one.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Redis of the test's own, persisting every write before answering.
fn redis(port: u16, dir: &std::path::Path) -> Result<Redis> {
    Process::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .spawn()
        .map(Redis)
        .context("redis-server (scripts/test.sh installs it)")
}

async fn wait_redis(port: u16) -> Result<()> {
    for _ in 0..100 {
        let ok = Process::new("redis-cli")
            .args(["-p", &port.to_string(), "PING"])
            .output()?;
        if String::from_utf8_lossy(&ok.stdout).contains("PONG") {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("redis did not start")
}

async fn health(server: &Server) -> Result<(u16, String)> {
    let r = reqwest::get(server.url("/healthz")).await?;
    Ok((r.status().as_u16(), r.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_survived_without_a_restart() -> Result<()> {
    let dir = tempdir();
    let port = free_port()?;
    let rdir = dir.path().join("redis");
    std::fs::create_dir_all(&rdir)?;
    let r = redis(port, &rdir)?;
    wait_redis(port).await?;
    let url = format!("redis://127.0.0.1:{port}");
    let a = Server::start_with(&dir.path().join("a"), &["--redis", &url]).await?;
    let b = Server::start_with(&dir.path().join("b"), &["--redis", &url]).await?;
    let roster = [
        person("Amina", &[Role::Citizen], &[]),
        person("Bernard", &[Role::Citizen], &[]),
    ];
    let invites = a.http().convention("outage", &roster).await?;
    let mut amina = Client::join(&a.ws_url(), "amina", &invites[0].token).await?;
    let mut bernard = Client::join(&b.ws_url(), "bernard", &invites[1].token).await?;
    let mut acked = vec![];
    for i in 0..5 {
        let text = format!("avant la panne {i}");
        amina
            .ok(Command::SendChat {
                room: None,
                text: text.clone(),
            })
            .await?;
        acked.push(text);
    }
    ensure!(health(&a).await?.0 == 200, "healthy before");

    // Redis dies.
    drop(r);
    let (code, body) = health(&a).await?;
    ensure!(
        code == 503 && body.contains("redis"),
        "healthz during the outage: {code} {body}"
    );
    let during = bernard
        .request(Command::SendChat {
            room: None,
            text: "pendant la panne".into(),
        })
        .await?;
    ensure!(
        matches!(during, Err((ErrorCode::Unavailable, _))),
        "a command during the outage: {during:?}"
    );
    let during = amina.request(Command::RaiseHand { room: None }).await?;
    ensure!(
        matches!(during, Err((ErrorCode::Unavailable, _))),
        "a command during the outage: {during:?}"
    );

    // Redis comes back with its append-only file; the nodes recover by themselves.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = redis(port, &rdir)?;
    wait_redis(port).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while health(&a).await?.0 != 200 || health(&b).await?.0 != 200 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the nodes did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut ok = None;
    while ok.is_none() {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "commands did not work again"
        );
        if let Ok(seq) = bernard
            .request(Command::SendChat {
                room: None,
                text: "après la panne".into(),
            })
            .await?
        {
            ok = Some(seq);
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    acked.push("après la panne".into());
    // Both nodes show everything acknowledged, nothing that was refused (a node that was
    // following the log through the outage catches up within moments).
    let want: Vec<String> = acked.clone();
    for s in [&a, &b] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let c = Client::join(&s.ws_url(), "check", &invites[0].token).await?;
            let snap = c.snapshot.as_ref().unwrap();
            let chat: Vec<String> = snap.rooms[0]
                .inside
                .as_ref()
                .unwrap()
                .chat
                .iter()
                .map(|l| l.text.clone())
                .collect();
            c.close().await;
            if chat == want {
                break;
            }
            ensure!(
                chat.iter().all(|t| want.contains(t)),
                "node {}: a refused command was applied: {chat:?}",
                s.addr
            );
            ensure!(
                tokio::time::Instant::now() < deadline,
                "node {}: chat {chat:?}",
                s.addr
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    drop(r);
    Ok(())
}
