//! `convene delete`: a convention removed for good while no server uses the store, the others
//! untouched. Embedded: refused while a server runs, or without `--confirm` naming it; then no
//! byte of it (names, chat, a secret ballot, its documents, attendance) is left in any file of
//! the data directory, while the other convention's are; a server started again does not know
//! it and refuses its invitations. Cluster mode: refused while a node runs; then no key of it is
//! left in Redis.

use anyhow::{ensure, Result};
use convene_tests::marked::{convention, holding};
use convene_tests::{convene_try, own_redis, tempdir, Client, Server};
use redis::Commands;

/// `convene delete …`: whether it succeeded, and what it printed.
fn delete(args: &[&str], store: &[&std::ffi::OsStr]) -> Result<(bool, String)> {
    let delete = [std::ffi::OsStr::new("delete")];
    convene_try(
        delete
            .iter()
            .copied()
            .chain(args.iter().map(|a| a.as_ref()))
            .chain(store.iter().copied()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_convention_leaves_nothing_in_the_data_directory() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, &["--attendance-flush-secs", "1"]).await?;
    // Their people leave at once (their attendance ends).
    let (gone, ..) = convention(&server, "effacee", "MarqueEffaceeQ7").await?;
    let (kept, ..) = convention(&server, "gardee", "MarqueGardeeK4").await?;
    let store = [std::ffi::OsStr::new("--data"), data.as_os_str()];

    // While the server runs: refused, nothing deleted.
    let (ok, said) = delete(&["--convention", "effacee", "--confirm", "effacee"], &store)?;
    ensure!(
        !ok && said.contains("is using the data directory"),
        "{said}"
    );
    // Attendance is written down (each second here).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.terminate().await?;
    ensure!(
        holding(&data, "MarqueEffaceeQ7")?.contains(&"convene.sqlite3".to_string()),
        "the convention is in the store before"
    );
    let kept_before = server.log("gardee")?;

    // Without confirming it: refused.
    let (ok, said) = delete(&["--convention", "effacee", "--confirm", "gardee"], &store)?;
    ensure!(
        !ok && said.contains("--confirm must repeat the convention's id"),
        "{said}"
    );
    let (ok, said) = delete(
        &["--convention", "inconnue", "--confirm", "inconnue"],
        &store,
    )?;
    ensure!(!ok && said.contains("no convention inconnue"), "{said}");

    let (ok, said) = delete(&["--convention", "effacee", "--confirm", "effacee"], &store)?;
    ensure!(ok, "delete: {said}");
    ensure!(said.contains("rows deleted"), "{said}");

    // Not a byte of it left, in any file; the other convention all there.
    for mark in ["MarqueEffaceeQ7", "effacee"] {
        let left = holding(&data, mark)?;
        ensure!(left.is_empty(), "{mark} still in {left:?}");
    }
    ensure!(
        holding(&data, "MarqueGardeeK4")?.contains(&"convene.sqlite3".to_string()),
        "the other convention is kept"
    );
    ensure!(
        holding(&data, "gardee")?.contains(&"attendance.sqlite3".to_string()),
        "the other convention's attendance is kept"
    );

    // Served again: unknown, its invitations refused; the other as it was.
    let mut server = Server::start(&data).await?;
    let r = server.http().get("/api/conventions/effacee").send().await?;
    ensure!(r.status() == 404, "{}", r.status());
    ensure!(
        Client::join(&server.ws_url(), "amina", &gone[1])
            .await
            .is_err(),
        "an invitation of the deleted convention still opens it"
    );
    Client::join(&server.ws_url(), "amina", &kept[1]).await?;
    ensure!(
        server.log("gardee")? == kept_before,
        "the other convention changed"
    );
    server.terminate().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_convention_leaves_no_key_in_redis() -> Result<()> {
    let dir = tempdir();
    let redis_dir = dir.path().join("redis");
    std::fs::create_dir_all(&redis_dir)?;
    let own = own_redis(&redis_dir, &[])?;
    let mut con = redis::Client::open(own.url.as_str())?.get_connection()?;
    let mut node = Server::start_with(&dir.path().join("node"), &["--redis", &own.url]).await?;
    convention(&node, "effacee", "MarqueEffaceeQ7").await?;
    convention(&node, "gardee", "MarqueGardeeK4").await?;
    let store = [std::ffi::OsStr::new("--redis"), own.url.as_ref()];

    // While a node runs: refused, naming it.
    let (ok, said) = delete(&["--convention", "effacee", "--confirm", "effacee"], &store)?;
    ensure!(
        !ok && said.contains("stop every node first") && said.contains(&node.addr),
        "{said}"
    );
    node.terminate().await?;

    let (ok, said) = delete(&["--convention", "effacee", "--confirm", "effacee"], &store)?;
    ensure!(ok, "delete: {said}");
    let left: Vec<String> = con.keys("cv:{effacee}:*")?;
    ensure!(left.is_empty(), "keys left: {left:?}");
    let kept: Vec<String> = con.keys("cv:{gardee}:*")?;
    ensure!(!kept.is_empty(), "the other convention's keys are kept");
    let ids: Vec<String> = con.smembers("convene:conventions")?;
    ensure!(ids == ["gardee"], "{ids:?}");

    let node = Server::start_with(&dir.path().join("node"), &["--redis", &own.url]).await?;
    let r = node.http().get("/api/conventions/effacee").send().await?;
    ensure!(r.status() == 404, "{}", r.status());
    let r = node.http().get("/api/conventions/gardee").send().await?;
    ensure!(r.status() == 200, "{}", r.status());
    Ok(())
}
