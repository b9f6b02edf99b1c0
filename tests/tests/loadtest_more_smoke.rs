//! The real `convene-loadtest` binary's `drafting`, `rotation` and `idle` scenarios against a
//! real server, at tiny sizes: what they report as delivered must be right (every editor
//! converges on the same text holding every insert; every participant of a rotation moves
//! once, to the right room, at each boundary; every idle connection got its welcome and is
//! still held). Never a speed: the figures are for docs/bench/.
//!
//! The drafting scenario also speaks to the reference Node servers of bench/ (for the
//! benchmark); those need `npm ci` in bench/, so they are not tested here.

use std::path::Path;

use anyhow::{ensure, Result};
use convene_tests::{tempdir, Server};
use serde_json::Value;

/// Run a scenario; the report and the exit code.
async fn loadtest(server: &Server, dir: &Path, args: &[&str]) -> Result<(Value, i32)> {
    convene_tests::run_loadtest(server, dir, args, true).await
}

fn num(report: &Value, pointer: &str) -> u64 {
    convene_tests::report_num(report, pointer)
}

fn ok_and_no_error(r: &Value, code: i32) -> Result<()> {
    ensure!(code == 0, "exit code {code}: {}", r["failures"]);
    ensure!(r["ok"] == true, "failures: {}", r["failures"]);
    ensure!(num(r, "/errors_total") == 0, "errors: {}", r["errors"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafting_every_editor_converges_on_every_insert() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (r, code) = loadtest(
        &server,
        dir.path(),
        &["drafting", "--editors", "5", "--duration", "2"],
    )
    .await?;
    ok_and_no_error(&r, code)?;
    // 5 editors, an insert every 200 ms for 2 s: 10 each, 50 in all, each delivered to the 4
    // others, once.
    ensure!(num(&r, "/checks/editors_synced") == 5);
    ensure!(num(&r, "/checks/inserts_sent") == 50);
    ensure!(num(&r, "/checks/deliveries") == 200);
    ensure!(num(&r, "/checks/missing_on_open_connections") == 0);
    ensure!(num(&r, "/checks/duplicates") == 0);
    // Convene never sends an update back to its sender.
    ensure!(num(&r, "/checks/echoes") == 0);
    ensure!(num(&r, "/checks/editors_closed") == 0);
    // Every editor applies what it receives: one text, holding every insert.
    ensure!(num(&r, "/checks/editors_applying_open") == 5);
    ensure!(num(&r, "/checks/editors_converged") == 5);
    ensure!(num(&r, "/checks/distinct_texts") == 1);
    ensure!(num(&r, "/checks/markers_in_text_min") == 50);
    ensure!(num(&r, "/checks/markers_in_text_max") == 50);
    ensure!(num(&r, "/latencies/delivery/count") == 200);
    ensure!(r["rates"]["server_cpu_us_per_delivery"].is_number());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_everyone_moves_once_to_the_right_room() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (r, code) = loadtest(
        &server,
        dir.path(),
        &[
            "rotation",
            "--experts",
            "3",
            "--citizens",
            "10",
            "--round-ms",
            "1500",
        ],
    )
    .await?;
    ok_and_no_error(&r, code)?;
    ensure!(num(&r, "/checks/participants_connected") == 13);
    ensure!(num(&r, "/checks/groups") == 3);
    ensure!(num(&r, "/checks/citizens_in_groups") == 10);
    // The start: everyone to their room. Round 1: the citizens move on, the experts stay.
    // The end: everyone back to the plenary. Each by one snapshot, in the right room.
    for (phase, movers) in [("start", 13), ("round1", 10), ("end", 13)] {
        ensure!(
            num(&r, &format!("/checks/{phase}_movers_expected")) == movers,
            "{phase}"
        );
        ensure!(
            num(&r, &format!("/checks/{phase}_moved_right")) == movers,
            "{phase}"
        );
        for bad in [
            "wrong_room",
            "missing",
            "extra_snapshots",
            "unexpected_snapshots",
        ] {
            ensure!(
                num(&r, &format!("/checks/{phase}_{bad}")) == 0,
                "{phase}_{bad}"
            );
        }
    }
    ensure!(r["checks"]["round1_by_timer"] == true);
    ensure!(r["checks"]["end_by_timer"] == true);
    ensure!(num(&r, "/latencies/round1_client/count") == 10);
    ensure!(num(&r, "/latencies/end_client/count") == 13);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_every_connection_gets_its_welcome_and_is_held() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    // In one process, and in two worker processes (the re-spawned binary); protocol 1 (one
    // presence frame per arrival) and 2 (coalesced, PROTOCOL.md section 25).
    for (processes, protocol) in [("1", "1"), ("2", "1"), ("1", "2"), ("2", "2")] {
        let (r, code) = loadtest(
            &server,
            dir.path(),
            &[
                "idle",
                "--connections",
                "40",
                "--per-convention",
                "15",
                "--duration",
                "1",
                "--processes",
                processes,
                "--protocol",
                protocol,
            ],
        )
        .await?;
        ok_and_no_error(&r, code)?;
        ensure!(num(&r, "/checks/conventions") == 3);
        ensure!(num(&r, "/checks/welcomes") == 40, "processes {processes}");
        ensure!(num(&r, "/checks/opened") == 40);
        ensure!(num(&r, "/checks/failed") == 0);
        ensure!(num(&r, "/checks/held_at_end") == 40);
        // Conventions of 15, 15 and 10: in version 1 everyone hears those who come online
        // after them; version 2 sends at most one batch per tick.
        let presence = num(&r, "/checks/presence_frames");
        if protocol == "1" {
            ensure!(presence == 15 * 14 / 2 * 2 + 10 * 9 / 2, "v1: {presence}");
        } else {
            ensure!(presence < 15 * 14 / 2 * 2 + 10 * 9 / 2, "v2: {presence}");
        }
        ensure!(num(&r, "/checks/server_rss_kib_held") > 0);
    }
    Ok(())
}
