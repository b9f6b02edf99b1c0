//! Failover between the nodes of a cluster: the load tester spread over three nodes loses one
//! to `kill -9` mid-run, resumes on the others and misses nothing and receives nothing twice;
//! a command sent to another node right after an `ok` is decided on what that `ok` made, and
//! a client that moves there with the seq it saw is not welcomed behind it;
//! `--nodes` is served at `/nodes` and checked. Redis databases 10 and 6 (flushed).

use std::time::Duration;

use anyhow::{ensure, Result};
use convene_tests::proto::{
    api::Nodes, Ballot, ClientMessage, Command, PollKind, PollSpec, Role, ServerMessage,
    PROTOCOL_VERSION,
};
use convene_tests::{
    convene_bin, fresh_redis, nodes, person, poll_spec, run_loadtest_on, tempdir, Client, Server,
};
use serde_json::Value;

fn num(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_run_and_the_load_tester_resumes_on_the_others() -> Result<()> {
    let redis = fresh_redis(10)?;
    let dir = tempdir();
    let mut servers = nodes(dir.path(), &redis, 3).await?;
    let urls: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let listeners = 120;
    let n = listeners.to_string();
    let args = [
        "plenary",
        "--listeners",
        &n,
        "--rate",
        "10",
        "--duration",
        "8",
        "--drain",
        "10",
    ];
    let run = run_loadtest_on(&urls, None, dir.path(), &args);
    // Node 0 holds the facilitator (connection 0) and a third of the listeners, and answers
    // the organizer's calls: once they are all there and broadcasting has begun, kill it.
    let kill = async {
        let share = (listeners / 3 + 1) as u64;
        let until = tokio::time::Instant::now() + Duration::from_secs(40);
        while servers[0].metric("convene_connections").await.unwrap_or(0) < share {
            ensure!(
                tokio::time::Instant::now() < until,
                "node 0 never held its share of the connections"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(2500)).await;
        servers[0].kill9().await
    };
    let (report, killed) = tokio::join!(run, kill);
    killed?;
    let (report, code) = report?;

    ensure!(code == 0, "exit code {code}: {:#}", report["failures"]);
    ensure!(report["ok"] == true);
    let reconnections = num(&report, "/connections/reconnections");
    ensure!(
        reconnections > 0 && reconnections != u64::MAX,
        "no reconnection: {:#}",
        report["connections"]
    );
    // Every connection node 0 had came back on another node, and nowhere else lost one.
    ensure!(
        num(&report, "/nodes/0/lost") == reconnections,
        "{:#}",
        report["nodes"]
    );
    ensure!(num(&report, "/nodes/1/lost") + num(&report, "/nodes/2/lost") == 0);
    ensure!(
        num(&report, "/nodes/1/reconnected_to") + num(&report, "/nodes/2/reconnected_to")
            == reconnections
    );
    // No gap, no duplicate: no error at all (a duplicate event, a welcome behind the seq the
    // connection had, a request without its reply would each be one).
    ensure!(
        report["errors"].as_object().is_some_and(|e| e.is_empty()),
        "errors: {:#}",
        report["errors"]
    );
    let checks = &report["checks"];
    for zero in [
        "missing_on_open_connections",
        "missing_on_closed_connections",
        "duplicates",
        "out_of_order",
        "broadcasts_refused",
        "broadcasts_unanswered",
    ] {
        ensure!(checks[zero] == 0, "{zero}: {:#}", checks);
    }
    ensure!(checks["listeners_complete"] == listeners, "{checks:#}");
    ensure!(num(checks, "/broadcasts_acknowledged") == 80, "{checks:#}");
    ensure!(
        num(checks, "/listeners_resumed_elsewhere") > 0,
        "{checks:#}"
    );
    Ok(())
}

fn poll(question: &str) -> PollSpec {
    let options = vec!["Oui".into(), "Non".into()];
    poll_spec(question, PollKind::Single { options }, false, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_never_answers_from_behind_what_a_client_saw() -> Result<()> {
    let redis = fresh_redis(6)?;
    let dir = tempdir();
    let servers = nodes(dir.path(), &redis, 3).await?;
    let roster = vec![
        person("Claire Animatrice", &[Role::Facilitator], &[]),
        person("Yannick Le Goff", &[Role::Citizen], &[]),
        person("Fatima Benali", &[Role::Citizen], &[]),
    ];
    let invites = servers[0].http().convention("fresh", &roster).await?;
    let tok = |n: &str| invites.iter().find(|i| i.name == n).unwrap().token.clone();
    let mut fac = Client::join(&servers[0].ws_url(), "fac", &tok("Claire Animatrice")).await?;
    let mut a = Client::join(&servers[1].ws_url(), "a", &tok("Yannick Le Goff")).await?;
    let mut b = Client::join(&servers[2].ws_url(), "b", &tok("Fatima Benali")).await?;
    // A poll opened on node 0, and at once (as soon as its `ok` is read) a vote on nodes 1
    // and 2: their replicas may not have read the opening yet, and must not refuse the vote
    // for it ("no such poll", "not open").
    for round in 0..15 {
        let (poll, _) = fac
            .draft_and_open(poll(&format!("Question {round}")))
            .await?;
        let vote = |choice| Command::Vote {
            poll: poll.clone(),
            ballot: Ballot::Single { choice },
        };
        let (ra, rb) = tokio::join!(a.request(vote(0)), b.request(vote(1)));
        ensure!(
            ra?.is_ok() && rb?.is_ok(),
            "round {round}: a vote was refused"
        );
    }
    // A client that saw a seq on node 0 and comes to node 1 or 2 at once with it
    // (`last_seq`) is welcomed at that seq or after, though their replicas may be behind.
    for round in 0..40 {
        // Under the facilitator's rate limit (20 messages a second).
        tokio::time::sleep(Duration::from_millis(60)).await;
        // The socket is open before: the hello goes as soon as the `ok` is read.
        let mut c = Client::open(&servers[1 + round % 2].ws_url(), "mover").await?;
        let seq = fac
            .ok(Command::SendChat {
                room: None,
                text: format!("Message {round}"),
            })
            .await?;
        c.send(&ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            token: tok("Yannick Le Goff"),
            last_seq: Some(seq),
        })
        .await?;
        let welcome = c
            .wait_for(|m| matches!(m, ServerMessage::Welcome { .. }))
            .await?;
        let ServerMessage::Welcome { snapshot, .. } = welcome else {
            unreachable!()
        };
        ensure!(
            snapshot.seq >= seq,
            "round {round}: welcomed at {} after seeing {seq}",
            snapshot.seq
        );
        c.close().await;
    }
    Ok(())
}

#[tokio::test]
async fn the_nodes_list_is_served_and_checked() -> Result<()> {
    let dir = tempdir();
    let node = Server::start_with(
        &dir.path().join("n"),
        &[
            "--redis",
            "redis://127.0.0.1:6379/6",
            "--nodes",
            "http://127.0.0.1:8081/,https://b.example.org,http://127.0.0.1:8081",
        ],
    )
    .await?;
    let r = reqwest::get(node.url("/nodes")).await?;
    ensure!(r.status() == 200);
    let nodes: Nodes = r.json().await?;
    ensure!(
        nodes.nodes == ["http://127.0.0.1:8081", "https://b.example.org"],
        "{nodes:?}"
    );
    // Without --nodes, only this origin.
    let alone = Server::start(&dir.path().join("alone")).await?;
    let nodes: Nodes = reqwest::get(alone.url("/nodes")).await?.json().await?;
    ensure!(nodes.nodes.is_empty());

    // Bad lists are refused at start with a clear message.
    for (args, says) in [
        (
            vec![
                "--redis",
                "redis://127.0.0.1:6379/6",
                "--nodes",
                "a.example.org",
            ],
            "absolute URL",
        ),
        (
            vec![
                "--redis",
                "redis://127.0.0.1:6379/6",
                "--nodes",
                "http://a.example.org/convene",
            ],
            "no path",
        ),
        (
            vec!["--nodes", "http://127.0.0.1:8081"],
            "needs cluster mode",
        ),
    ] {
        let out = tokio::process::Command::new(convene_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--organizer-token", "t"])
            .arg("--data")
            .arg(dir.path().join("refused"))
            .args(&args)
            .output()
            .await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "{args:?} was accepted");
        ensure!(stderr.contains(says), "{args:?}: {stderr}");
    }
    Ok(())
}
