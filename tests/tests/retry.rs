//! A request retried with the same id (its reply was lost in a crash) is answered `ok` with
//! the original seq and is not run twice, also across `kill -9` and a restart.

use anyhow::{ensure, Result};
use convene_tests::proto::{Command, Role};
use convene_tests::{person, tempdir, unique, Client, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_runs_once_across_a_crash() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let roster = [person(
        "Amina Diallo",
        &[Role::Citizen],
        &[("commune", "Rezé")],
    )];
    let invites = server.http().convention("retry", &roster).await?;
    let token = invites[0].token.clone();

    let mut c = Client::join(&server.ws_url(), "amina", &token).await?;
    let id = format!("vote-{}", unique());
    let first = c
        .request_with_id(
            &id,
            Command::SendChat {
                room: None,
                text: "Une seule fois".into(),
            },
        )
        .await?;
    let Ok(seq) = first else {
        anyhow::bail!("refused: {first:?}")
    };
    // Same connection, same id: the same answer, nothing new.
    let again = c
        .request_with_id(
            &id,
            Command::SendChat {
                room: None,
                text: "Une seule fois".into(),
            },
        )
        .await?;
    ensure!(
        again == Ok(seq),
        "retry answered {again:?}, expected Ok({seq})"
    );

    server.kill9_and_restart().await?;
    let mut c = Client::join(&server.ws_url(), "amina", &token).await?;
    let after = c
        .request_with_id(
            &id,
            Command::SendChat {
                room: None,
                text: "Une seule fois".into(),
            },
        )
        .await?;
    ensure!(
        after == Ok(seq),
        "retry after restart answered {after:?}, expected Ok({seq})"
    );
    let other = c
        .ok(Command::SendChat {
            room: None,
            text: "Une autre".into(),
        })
        .await?;
    ensure!(other == seq + 1, "a new id runs: seq {other}");

    let fresh = Client::join(&server.ws_url(), "check", &token).await?;
    let snap = fresh.snapshot.as_ref().unwrap();
    let plenary = snap
        .rooms
        .iter()
        .find(|r| r.id == "plenary")
        .and_then(|r| r.inside.as_ref())
        .unwrap();
    let once = plenary
        .chat
        .iter()
        .filter(|l| l.text == "Une seule fois")
        .count();
    ensure!(once == 1, "the retried chat line is there {once} times");
    Ok(())
}
