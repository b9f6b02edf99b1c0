//! Stock Yjs clients against the real server: `tests/node/three_clients.mjs` runs three
//! y-websocket `WebsocketProvider`s in Node (unchanged, `ws` as the WebSocket), which edit
//! the `opinion` document concurrently and converge. The server is then killed with SIGKILL
//! and started again on the same port; the providers reconnect by themselves, the content
//! is intact, and edits after the restart converge too.
//!
//! Needs Node and the packages of tests/node: `npm ci --prefix tests/node` (scripts/test.sh
//! does it). Without them the test fails and says so; it never skips silently.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use convene_tests::proto::{Command, Role};
use convene_tests::{
    convene_bin, invite_of, person, tempdir, token_of, Client, Server, ORGANIZER_TOKEN,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::mpsc;

const CONV: &str = "yjs-node";
const DOC: &str = "opinion";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// `convene serve` on a given address (the harness's `Server` always asks for port 0, and clap
/// refuses a second `--listen`), on the same data directory; returns once it listens.
async fn serve_on(addr: &str, data: &Path) -> Result<Child> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data.with_extension("restarted-stderr.log"))?;
    let mut last_err = None;
    // The port was just freed by a SIGKILL: retry a few times if the bind races.
    for _ in 0..50 {
        let mut child = Process::new(convene_bin())
            .arg("serve")
            .arg("--listen")
            .arg(addr)
            .arg("--data")
            .arg(data)
            .arg("--organizer-token")
            .arg(ORGANIZER_TOKEN)
            .env("CONVENE_LOG", "convene=debug,warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr.try_clone()?))
            .kill_on_drop(true)
            .spawn()
            .context("spawning convene")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("convene listening on http://") {
                    return Some(line);
                }
            }
            None
        })
        .await
        .context("the restarted server did not listen within 30 s")?;
        match listening {
            Some(line) => {
                ensure!(line.ends_with(addr), "listening on {line}, wanted {addr}");
                // Keep reading its stdout so that it never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok(child);
            }
            None => {
                last_err = Some(child.wait().await?);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    bail!("convene could not listen on {addr} again: {last_err:?}")
}

async fn next_line(lines: &mut mpsc::UnboundedReceiver<String>, what: &str) -> Result<String> {
    tokio::time::timeout(Duration::from_secs(60), lines.recv())
        .await
        .map_err(|_| anyhow!("no {what} line from the script within 60 s"))?
        .ok_or_else(|| anyhow!("the script ended before its {what} line"))
}

/// The lines `SYNCED <json>` and `DONE <json>` come on stdout; the rest (logs) on stderr.
fn parse(line: &str, tag: &str) -> Result<serde_json::Value> {
    let json = line
        .strip_prefix(tag)
        .and_then(|s| s.strip_prefix(' '))
        .ok_or_else(|| anyhow!("expected {tag}, got {line:?}"))?;
    serde_json::from_str(json).with_context(|| format!("{tag} line is not JSON: {json}"))
}

fn paragraphs(v: &serde_json::Value) -> Result<Vec<String>> {
    v["paragraphs"]
        .as_array()
        .ok_or_else(|| anyhow!("no paragraphs in {v}"))?
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("not a string: {p}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_stock_yjs_clients_survive_kill_9_on_the_same_port() -> Result<()> {
    let dir = node_dir();
    ensure!(
        dir.join("node_modules/y-websocket").is_dir()
            && dir.join("node_modules/yjs").is_dir()
            && dir.join("node_modules/ws").is_dir(),
        "the Node packages of {} are missing: run `npm ci --prefix tests/node` (from the \
         workspace root) first",
        dir.display()
    );
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    let version = std::process::Command::new(&node)
        .arg("--version")
        .output()
        .with_context(|| format!("`{node} --version`: Node.js is needed for this test"))?;
    ensure!(version.status.success(), "`{node} --version` failed");

    let tmp = tempdir();
    let data = tmp.path().join("data");
    let mut server = Server::start(&data).await?;
    let roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Rita Rapporteure", &[Role::Rapporteur], &[]),
        person("Rémi Rapporteur", &[Role::Rapporteur], &[]),
        person("Citoyen 01", &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention(CONV, &roster).await?;
    let token = |name: &str| token_of(&invites, name);
    let id = |name: &str| invite_of(&invites, name).participant.clone();
    let mut fac = Client::join(&server.ws_url(), "fac", &token("Claire Animatrice")).await?;
    fac.ok(Command::CreateDocument {
        name: DOC.into(),
        title: "Avis citoyen".into(),
    })
    .await?;
    fac.ok(Command::SetWritingGroup {
        group: "atelier".into(),
        members: vec![id("Citoyen 01")],
    })
    .await?;
    fac.ok(Command::OpenDocument {
        document: DOC.into(),
        group: "atelier".into(),
    })
    .await?;
    drop(fac);

    let addr = server.addr.clone();
    let mut script = Process::new(&node)
        .current_dir(&dir)
        .arg("three_clients.mjs")
        .arg(format!("ws://{addr}/doc/{CONV}"))
        .arg(DOC)
        .arg(token("Rita Rapporteure"))
        .arg(token("Rémi Rapporteur"))
        .arg(token("Citoyen 01"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("running node")?;
    let (tx, mut lines) = mpsc::unbounded_channel::<String>();
    let stdout = script.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    tokio::spawn(async move {
        let mut r = BufReader::new(stdout).lines();
        while let Ok(Some(l)) = r.next_line().await {
            let _ = tx.send(l);
        }
    });
    let stderr = script.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    tokio::spawn(async move {
        let mut r = BufReader::new(stderr).lines();
        while let Ok(Some(l)) = r.next_line().await {
            sink.lock().unwrap().push(l);
        }
    });
    let script_log = || log.lock().unwrap().join("\n");
    let synced = next_line(&mut lines, "SYNCED")
        .await
        .with_context(script_log)?;
    let before = parse(&synced, "SYNCED").with_context(script_log)?;
    let before_paragraphs = paragraphs(&before)?;
    ensure!(before_paragraphs.len() == 60, "{before}");
    for c in 1..=3 {
        for k in 0..20 {
            let p = format!("client{c} avant {k}");
            ensure!(
                before_paragraphs.contains(&p),
                "{p:?} missing from {before}"
            );
        }
    }
    // The server holds what the clients agree on.
    let md = server
        .http()
        .get(&format!(
            "/api/conventions/{CONV}/documents/{DOC}/export?format=md"
        ))
        .send()
        .await?
        .text()
        .await?;
    for p in &before_paragraphs {
        ensure!(
            md.contains(&format!("\n{p}\n")),
            "{p:?} missing from the export:\n{md}"
        );
    }

    // SIGKILL, and the same port again.
    server.kill9().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut restarted = serve_on(&addr, &data).await?;

    let done = next_line(&mut lines, "DONE")
        .await
        .with_context(script_log)?;
    let after = parse(&done, "DONE").with_context(script_log)?;
    let after_paragraphs = paragraphs(&after)?;
    for p in &before_paragraphs {
        ensure!(
            after_paragraphs.contains(p),
            "{p:?} lost across the restart: {after}"
        );
    }
    for c in 1..=3 {
        let p = format!("client{c} après");
        ensure!(after_paragraphs.contains(&p), "{p:?} missing from {after}");
    }
    ensure!(after_paragraphs.len() == 63, "{after}");
    let notes_before = before["notes"].as_str().unwrap_or_default();
    let notes_after = after["notes"].as_str().unwrap_or_default();
    for k in 0..20 {
        for c in 1..=3 {
            let piece = format!("[client{c} avant {k}]");
            ensure!(
                notes_before.contains(&piece) && notes_after.contains(&piece),
                "{piece}"
            );
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(20), script.wait())
        .await
        .context("the script did not exit after DONE")??;
    ensure!(
        status.success(),
        "the script exited with {status}:\n{}",
        script_log()
    );

    // The restarted server's export has it all.
    let md = reqwest::Client::new()
        .get(format!(
            "http://{addr}/api/conventions/{CONV}/documents/{DOC}/export?format=md"
        ))
        .bearer_auth(ORGANIZER_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    for p in &after_paragraphs {
        ensure!(
            md.contains(&format!("\n{p}\n")),
            "{p:?} missing from the export:\n{md}"
        );
    }
    eprintln!("script log:\n{}", script_log());
    restarted.start_kill()?;
    let _ = restarted.wait().await;
    Ok(())
}
