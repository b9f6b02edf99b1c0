//! The real `convene-loadtest` binary against a real server, at small sizes: what it reports
//! as delivered must be right (every ballot acknowledged and counted, every broadcast received
//! by every listener, no error). Never a speed: the figures are for BENCHMARKS.md.

use std::path::Path;

use anyhow::{ensure, Result};
use convene_tests::{loadtest_bin, tempdir, Server};
use serde_json::Value;

/// Run a scenario; the report and the exit code.
async fn loadtest(server: &Server, dir: &Path, args: &[&str]) -> Result<(Value, i32)> {
    convene_tests::run_loadtest(server, dir, args, false).await
}

fn num(report: &Value, pointer: &str) -> u64 {
    convene_tests::report_num(report, pointer)
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
    // Protocol version 2 (the default) coalesces presence: fewer frames than arrivals heard.
    let coalesced = num(&r, "/frames/presence");
    ensure!(coalesced < 22 * 21 / 2, "v2: {coalesced} presence frames");
    // Version 1: every participant heard the others come online (N(N-1)/2 at least, for N
    // connections).
    let (r, code) = loadtest(
        &server,
        dir.path(),
        &["votes", "--voters", "20", "--protocol", "1"],
    )
    .await?;
    ensure!(code == 0, "v1: exit code {code}");
    ensure!(num(&r, "/checks/acknowledged") == 20);
    ensure!(num(&r, "/checks/listener_last_voted") == 20);
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
