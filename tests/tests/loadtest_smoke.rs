//! The real `convene-loadtest` binary against a real server, at small sizes: what it reports
//! as delivered must be right (every ballot acknowledged and counted, every broadcast received
//! by every listener, no error). Never a speed: the figures are for BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use convene_tests::{convene_bin, tempdir, Server, ORGANIZER_TOKEN};
use serde_json::Value;

/// `convene-loadtest`: `CONVENE_LOADTEST_BIN`, or next to the `convene` binary (the test
/// script builds every binary of the workspace first).
fn loadtest_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CONVENE_LOADTEST_BIN") {
        return PathBuf::from(p);
    }
    let p = convene_bin().with_file_name("convene-loadtest");
    assert!(
        p.exists(),
        "no {}: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        p.display()
    );
    p
}

/// Run a scenario with `--json`; the report, and the process's exit code.
async fn loadtest(server: &Server, dir: &Path, args: &[&str]) -> Result<(Value, i32)> {
    let json = dir.join(format!("{}.json", args[0]));
    let plot = dir.join(format!("{}.svg", args[0]));
    let out = tokio::process::Command::new(loadtest_bin())
        .arg("--url")
        .arg(server.url(""))
        .arg("--organizer-token")
        .arg(ORGANIZER_TOKEN)
        .args(["--timeout", "60", "--quiet"])
        .arg("--json")
        .arg(&json)
        .arg("--plot")
        .arg(&plot)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), out)
        .await
        .context("convene-loadtest did not stop by itself")??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(&json).with_context(|| format!("no report: {stderr}"))?,
    )?;
    let svg = std::fs::read_to_string(&plot).context("no plot")?;
    ensure!(svg.starts_with("<svg"), "the plot is not an SVG");
    Ok((report, out.status.code().unwrap_or(-1)))
}

fn num(report: &Value, pointer: &str) -> u64 {
    report
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in the report"))
}

fn common_checks(r: &Value, connections: u64) -> Result<()> {
    ensure!(r["ok"] == true, "failures: {}", r["failures"]);
    ensure!(num(r, "/errors_total") == 0, "errors: {}", r["errors"]);
    ensure!(num(r, "/connections/opened") == connections);
    ensure!(num(r, "/connections/failed") == 0);
    ensure!(num(r, "/connections/held_at_end") == connections);
    ensure!(num(r, "/loadtest_process/after/rss_kib") > 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_every_ballot_is_acknowledged_and_counted() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (r, code) = loadtest(&server, dir.path(), &["votes", "--voters", "20"]).await?;
    ensure!(code == 0, "exit code {code}");
    common_checks(&r, 22)?;
    ensure!(num(&r, "/checks/voters_connected") == 20);
    ensure!(num(&r, "/checks/acknowledged") == 20);
    ensure!(num(&r, "/checks/final_tally_ballots") == 20);
    ensure!(r["checks"]["final_tally_counts"] == r["checks"]["expected_counts"]);
    ensure!(r["checks"]["expected_counts"] == serde_json::json!([7, 7, 6]));
    ensure!(num(&r, "/checks/listener_last_voted") == 20);
    ensure!(num(&r, "/checks/ballots_without_tally") == 0);
    ensure!(num(&r, "/latencies/ack/count") == 20);
    ensure!(num(&r, "/latencies/ballot_to_tally/count") == 20);
    // Every participant heard the others come online (N(N-1)/2 at least, for N connections).
    ensure!(num(&r, "/frames/presence") >= 22 * 21 / 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plenary_every_listener_receives_every_broadcast() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (r, code) = loadtest(
        &server,
        dir.path(),
        &["plenary", "--listeners", "10", "--duration", "2"],
    )
    .await?;
    ensure!(code == 0, "exit code {code}");
    // One facilitator at the default 20 broadcasts/s, 40 broadcasts.
    common_checks(&r, 11)?;
    ensure!(num(&r, "/params/facilitators") == 1);
    ensure!(num(&r, "/checks/broadcasts_acknowledged") == 40);
    ensure!(num(&r, "/checks/listeners_complete") == 10);
    ensure!(num(&r, "/checks/deliveries") == 400);
    ensure!(num(&r, "/checks/duplicates") == 0);
    ensure!(num(&r, "/checks/out_of_order") == 0);
    ensure!(num(&r, "/checks/missing_on_open_connections") == 0);
    ensure!(num(&r, "/latencies/delivery/count") == 400);
    ensure!(num(&r, "/latencies/broadcast_ack/count") == 40);
    Ok(())
}

#[tokio::test]
async fn only_the_loopback_is_a_target() -> Result<()> {
    // Refused before any connection is attempted.
    let out = tokio::process::Command::new(loadtest_bin())
        .args([
            "--url",
            "http://192.0.2.1:8080",
            "--organizer-token",
            "x",
            "votes",
        ])
        .output()
        .await?;
    ensure!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("loopback"), "{stderr}");
    Ok(())
}
