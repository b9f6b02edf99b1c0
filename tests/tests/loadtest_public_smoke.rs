//! The real `convene-loadtest` binary's `public` scenario (PROTOCOL.md §24) against a real
//! server, at a tiny size and with two worker processes: every viewer, whichever process
//! holds it, must receive the floor and every acknowledged announcement, and the report must
//! carry the tester's own CPU beside the server's. Never a speed: the figures are for
//! BENCHMARKS.md.

use anyhow::{ensure, Result};
use convene_tests::{tempdir, Server};
use serde_json::Value;

fn num(report: &Value, pointer: &str) -> u64 {
    convene_tests::report_num(report, pointer)
}

/// `convene-loadtest public ARGS` against a fresh server: its report, once it exited 0
/// with no failure.
async fn public(args: &[&str]) -> Result<Value> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let mut all = vec!["public"];
    all.extend_from_slice(args);
    let (r, code) = convene_tests::run_loadtest(&server, dir.path(), &all, true).await?;
    ensure!(code == 0, "exit code {code}: {}", r["failures"]);
    ensure!(r["ok"] == true, "failures: {}", r["failures"]);
    Ok(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_every_viewer_of_every_worker_gets_the_floor_and_every_announcement() -> Result<()> {
    let r = public(&[
        "--viewers",
        "40",
        "--members",
        "4",
        "--broadcasts",
        "3",
        "--interval-ms",
        "100",
        "--procs",
        "2",
    ])
    .await?;
    ensure!(num(&r, "/errors_total") == 0, "errors: {}", r["errors"]);
    ensure!(num(&r, "/params/procs") == 2);
    ensure!(num(&r, "/checks/viewers_connected") == 40);
    ensure!(num(&r, "/checks/broadcasts_acknowledged") == 3);
    ensure!(num(&r, "/checks/viewers_complete") == 40);
    ensure!(num(&r, "/checks/deliveries") == 120);
    ensure!(num(&r, "/checks/deliveries_expected") == 120);
    ensure!(num(&r, "/latencies/public_floor/count") == 40);
    ensure!(
        r.pointer("/checks/workers_cpu_s")
            .and_then(Value::as_f64)
            .is_some(),
        "the workers' CPU is reported"
    );
    ensure!(
        r.pointer("/rates/server_bytes_per_viewer")
            .and_then(Value::as_f64)
            .is_some(),
        "the server's memory per viewer is reported"
    );
    Ok(())
}

/// `--answer 1`: every viewer of both workers answers the public poll once; every answer is
/// acknowledged and the closed poll's tally holds exactly those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_every_viewer_answers_the_public_poll_and_the_tally_holds_them() -> Result<()> {
    let r = public(&[
        "--viewers",
        "30",
        "--members",
        "3",
        "--broadcasts",
        "1",
        "--interval-ms",
        "100",
        "--procs",
        "2",
        "--answer",
        "1",
        "--answer-over",
        "1",
    ])
    .await?;
    ensure!(num(&r, "/checks/answers_expected") == 30);
    ensure!(num(&r, "/checks/answers_acknowledged") == 30);
    ensure!(num(&r, "/checks/answers_refused") == 0);
    ensure!(num(&r, "/checks/public_poll_ballots") == 30);
    ensure!(num(&r, "/latencies/public_answer_ack/count") == 30);
    Ok(())
}
