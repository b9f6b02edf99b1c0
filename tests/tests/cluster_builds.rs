//! Cluster mode: every node runs the same build (README, "Cluster mode"). A node lists itself
//! in Redis with its build (`convene --version`) and address, renews the entry while it runs
//! and takes it out at a clean stop; a node that finds a live node of another build does not
//! start, and says which node runs what. An entry left by a node that died expires.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use convene_tests::proto::Role;
use convene_tests::{convene_cli, own_redis, person, tempdir, Server};
use redis::Commands;

const NODES: &str = "convene:nodes";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_build_does_not_join_the_cluster() -> Result<()> {
    let dir = tempdir();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let own = own_redis(&redis_dir, &[])?;
    let mut con = redis::Client::open(own.url.as_str())?.get_connection()?;
    let version = String::from_utf8(convene_cli(["--version"])?.stdout)?;
    let build = version
        .trim()
        .strip_prefix("convene ")
        .context("convene --version")?
        .to_string();

    // The first node lists itself: its build and its address.
    let a = Server::start_with(&dir.path().join("a"), &["--redis", &own.url]).await?;
    let nodes: HashMap<String, String> = con.hgetall(NODES)?;
    ensure!(nodes.len() == 1, "{nodes:?}");
    let entry = nodes.values().next().context("an entry")?;
    ensure!(
        entry.ends_with(&format!("|{build}|{}", a.addr)),
        "{entry} names {build} at {}",
        a.addr
    );

    // A live node of an older build, as it lists itself: a new node does not start.
    let old = format!("{}|0.0.9+0123456789ab|10.0.0.9:8080", now_ms() + 60_000);
    let _: () = con.hset(NODES, "ancien", &old)?;
    let b = dir.path().join("b");
    ensure!(
        Server::start_with(&b, &["--redis", &own.url])
            .await
            .is_err(),
        "a node started beside a node of another build"
    );
    let said =
        std::fs::read_to_string(b.with_extension(format!("stderr-{}.log", std::process::id())))?;
    ensure!(
        said.contains(&format!("this node runs convene {build}"))
            && said.contains("the node at 10.0.0.9:8080 runs 0.0.9+0123456789ab")
            && said.contains("stop every node, then start them all on the same build"),
        "the refusal says which node runs what: {said}"
    );
    let nodes: HashMap<String, String> = con.hgetall(NODES)?;
    ensure!(
        nodes.len() == 2,
        "the refused node is not listed: {nodes:?}"
    );
    // The node already running goes on serving.
    a.http()
        .convention(
            "toujours",
            &[person("Claire Animatrice", &[Role::Facilitator], &[])],
        )
        .await?;

    // Once the older node is gone (its entry expired), the new one starts.
    let _: () = con.hset(
        NODES,
        "ancien",
        format!("{}|0.0.9+0123456789ab|10.0.0.9:8080", now_ms() - 1_000),
    )?;
    let mut b = Server::start_with(&b, &["--redis", &own.url]).await?;
    let nodes: HashMap<String, String> = con.hgetall(NODES)?;
    ensure!(
        nodes.len() == 2 && !nodes.contains_key("ancien"),
        "the expired entry is forgotten, both nodes listed: {nodes:?}"
    );
    ensure!(
        nodes
            .values()
            .any(|v| v.ends_with(&format!("|{build}|{}", b.addr))),
        "{nodes:?}"
    );

    // A clean stop takes a node out of the list.
    b.terminate().await?;
    let nodes: HashMap<String, String> = con.hgetall(NODES)?;
    ensure!(
        nodes.len() == 1 && nodes.values().all(|v| v.ends_with(&a.addr)),
        "{nodes:?}"
    );
    Ok(())
}
