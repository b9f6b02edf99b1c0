//! Public audience in cluster mode (PROTOCOL.md §24): viewers spread over two nodes on one
//! Redis (database 1). Each node serves its own viewers from its replica; an announcement made
//! on one node reaches the viewers of both; the count every viewer sees is the sum over the
//! nodes; revoking the link through one node closes the viewers of the other.

use std::time::Duration;

use anyhow::{ensure, Result};
use convene_protocol::{public_close, Command, Role};
use convene_tests::public::Viewer;
use convene_tests::{fresh_redis, nodes, person, tempdir, token_of, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_on_two_nodes_get_the_broadcast_and_the_count_adds_up() -> Result<()> {
    let redis = fresh_redis(1)?;
    let dir = tempdir();
    let nodes = nodes(dir.path(), &redis, 2).await?;
    let (a, b) = (&nodes[0], &nodes[1]);
    let invites = a
        .http()
        .convention(
            "grappe",
            &[
                person("Claire Moreau", &[Role::Facilitator], &[]),
                person("Yannick Le Goff", &[Role::Citizen], &[]),
            ],
        )
        .await?;
    let link = b.http().public_link("grappe", None).await?;
    let mut fac = Client::join(&a.ws_url(), "claire", &token_of(&invites, "Claire Moreau")).await?;

    // Three viewers on A, two on B (B has no member: its replica lives for its viewers).
    let mut viewers = Vec::new();
    for node in [a, a, a, b, b] {
        viewers.push(Viewer::watch(node, &link.token).await?);
    }
    for v in viewers.iter_mut() {
        v.wait_view(|view| view.viewers == 5).await?;
    }

    // An announcement on A reaches the viewers of both nodes.
    fac.ok(Command::Broadcast {
        text: "Bienvenue au public".into(),
    })
    .await?;
    for v in viewers.iter_mut() {
        v.wait_view(|view| {
            view.announcements
                .iter()
                .any(|n| n.text == "Bienvenue au public")
        })
        .await?;
    }
    // The floor given on A shows on B.
    let mut yannick = Client::join(
        &a.ws_url(),
        "yannick",
        &token_of(&invites, "Yannick Le Goff"),
    )
    .await?;
    yannick.ok(Command::RaiseHand { room: None }).await?;
    fac.ok(Command::GiveFloor {
        room: None,
        participant: Some(yannick.id()),
        limit_ms: None,
    })
    .await?;
    for v in viewers.iter_mut().skip(3) {
        v.wait_view(|view| {
            view.floor
                .as_ref()
                .is_some_and(|f| f.name == "Yannick Le Goff")
        })
        .await?;
    }

    // Two leave B: everyone counts three.
    for v in viewers.drain(3..) {
        v.close().await;
    }
    for v in viewers.iter_mut() {
        v.wait_view(|view| view.viewers == 3).await?;
    }

    // Revoked through B: A's viewers are closed.
    let r = b
        .http()
        .delete("/api/conventions/grappe/public-link")
        .send()
        .await?;
    ensure!(r.status() == 204, "revoked: {}", r.status());
    for v in viewers.iter_mut() {
        ensure!(
            v.wait_closed(Duration::from_secs(10)).await? == Some(public_close::LINK_REVOKED),
            "closed on the other node"
        );
    }
    Ok(())
}
