//! One process at a time uses an embedded data directory: a second `convene serve` on it does
//! not start (it would keep a state of its own of the same conventions) and names the process
//! that serves it; `convene import` into it is refused while it serves; the first server is
//! unharmed; the lock goes with the process that held it, `kill -9` included.

use anyhow::{ensure, Result};
use convene_tests::proto::Role;
use convene_tests::{convene_cli, convene_try, person, tempdir, Server};

/// `convene export` of the convention `seule` from `data` into `out`.
fn export_seule(data: &std::path::Path, out: &std::path::Path) -> Result<()> {
    convene_cli([
        std::ffi::OsStr::new("export"),
        "--convention".as_ref(),
        "seule".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_does_not_start() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut first = Server::start(&data).await?;
    let pid = first.pid().unwrap_or_default();
    first
        .http()
        .convention(
            "seule",
            &[person("Claire Animatrice", &[Role::Facilitator], &[])],
        )
        .await?;
    let export = dir.path().join("seule.jsonl");
    export_seule(&data, &export)?;

    // A second server on the same directory: refused, naming the first.
    ensure!(
        Server::start(&data).await.is_err(),
        "a second server started on the same data directory"
    );
    let said =
        std::fs::read_to_string(data.with_extension(format!("stderr-{}.log", std::process::id())))?;
    ensure!(
        said.contains(&format!(
            "another convene (process {pid}) is using the data directory"
        )),
        "the refusal names the process: {said}"
    );

    // An import into it while it serves: refused too, nothing written.
    let (ok, err) = convene_try([
        std::ffi::OsStr::new("import"),
        export.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
    ])?;
    ensure!(
        !ok && err.contains("is using the data directory"),
        "an import into a served directory: {err}"
    );
    let after = dir.path().join("after.jsonl");
    export_seule(&data, &after)?;
    ensure!(
        std::fs::read(&after)? == std::fs::read(&export)?,
        "the convention changed"
    );

    // The first server is unharmed.
    first
        .http()
        .convention(
            "encore",
            &[person("Hélène Garante", &[Role::Guarantor], &[])],
        )
        .await?;

    // Once it is gone (even by kill -9), the directory is free again.
    first.kill9().await?;
    let mut again = Server::start(&data).await?;
    let r = again.http().get("/api/conventions/encore").send().await?;
    ensure!(r.status() == 200, "{}", r.status());
    again.terminate().await?;
    Ok(())
}
