//! The real `convene-loadtest` binary's `convention` scenario (a whole convention day,
//! compressed) against a real server, at a tiny size: 12 citizens (one a rapporteur), 2
//! experts, 2 facilitators, a guarantor. What it reports as delivered must be right at every
//! phase: every plenary event reached everyone; the breakout rooms were balanced, everyone was
//! placed and recalled, room chat and help calls reached exactly their audience; every
//! rotation move was notified once, to the right room; every published tally counts every
//! ballot; every document client converged. Never a speed: the figures are for docs/bench/.

use anyhow::{ensure, Result};
use convene_tests::{tempdir, Server};
use serde_json::Value;

fn num(report: &Value, pointer: &str) -> u64 {
    convene_tests::report_num(report, pointer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_day_delivers_everything_to_everyone() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let (r, code) = convene_tests::run_loadtest(
        &server,
        dir.path(),
        &[
            "convention",
            "--citizens",
            "12",
            "--experts",
            "2",
            "--rapporteurs",
            "1",
            "--speed",
            "600",
            "--rounds",
            "2",
            "--speakers",
            "3",
            "--writers",
            "3",
        ],
        true,
    )
    .await?;
    ensure!(code == 0, "exit code {code}: {}", r["failures"]);
    ensure!(r["ok"] == true, "failures: {}", r["failures"]);
    ensure!(num(&r, "/errors_total") == 0, "errors: {}", r["errors"]);
    let c = |k: &str| num(&r, &format!("/checks/{k}"));
    let yes = |k: &str| r["checks"][k] == true;

    // 2 facilitators, 1 guarantor, 2 experts, 12 citizens.
    ensure!(c("participants_connected") == 17);
    ensure!(c("connections_closed") == 0);
    ensure!(c("out_of_order") == 0);
    ensure!(r["checks"]["commands_refused"] == serde_json::json!({}));

    // The plenary: 3 floors, ended once each way; everything to everyone.
    ensure!(c("plenary_floors") == 3);
    ensure!(r["checks"]["plenary_floor_ends_yielded_timer_taken"] == serde_json::json!([1, 1, 1]));
    ensure!(c("plenary_events") > 12, "a chat line per citizen at least");
    ensure!(c("plenary_missing") == 0);

    // Breakout rooms: 2 rooms, balanced on the commune, everyone placed and recalled.
    ensure!(c("breakout_rooms") == 2);
    ensure!(c("breakouts_assigned") == 12);
    ensure!(yes("breakouts_balanced_on_commune"));
    ensure!(c("breakouts_moved_to_their_room") == 12);
    ensure!(yes("breakouts_closed_by_timer"));
    ensure!(c("breakouts_warned") == 1);
    // The citizens, the guarantor who observed a room, the facilitator who answered a call.
    ensure!(c("breakouts_recalled") == 14 && c("breakouts_to_recall") == 14);
    ensure!(c("breakouts_chat_lines") == 12);
    for k in [
        "breakouts_chat_missing_members",
        "breakouts_chat_missing_staff",
        "breakouts_chat_leaks",
        "breakouts_call_missing",
        "breakouts_call_leaks",
        "breakouts_public_missing",
    ] {
        ensure!(c(k) == 0, "{k}");
    }

    // The rotation: 2 groups, 2 rounds; the start, one transition, the end.
    ensure!(c("rotation_groups") == 2);
    ensure!(c("rotation_citizens_in_groups") == 12);
    ensure!(yes("rotation_groups_balanced_on_age"));
    ensure!(c("rotation_boundaries") == 3);
    // Start: 2 experts and 12 citizens; the transition: the 12 citizens; the end: all 14.
    ensure!(c("rotation_moves_expected") == 14 + 12 + 14);
    ensure!(c("rotation_moved_right") == 14 + 12 + 14);
    ensure!(yes("rotation_ended_by_timer"));
    ensure!(c("rotation_questions_answered") == 4);
    for k in [
        "rotation_moves_wrong_room",
        "rotation_moves_missing",
        "rotation_snapshots_extra",
        "rotation_missing",
    ] {
        ensure!(c(k) == 0, "{k}");
    }

    // The run sheet drove the day: a welcome, the breakouts, the rotation, six votes, all
    // done in order; the break skipped (from the run sheet's export).
    ensure!(c("runsheet_sequences") == 10);
    ensure!(c("runsheet_done") == 9);
    ensure!(c("runsheet_skipped") == 1);
    ensure!(yes("runsheet_ran_in_order"));

    // Polls: six kinds, every ballot counted (the scale with the 2 experts).
    ensure!(c("polls") == 6);
    ensure!(c("polls_tallies_right") == 6);
    ensure!(c("polls_votes_expected") == 12 * 6 + 2);
    ensure!(c("polls_votes_acknowledged") == 12 * 6 + 2);
    for (k, ballots) in [(1, 12), (2, 12), (3, 14), (4, 12), (5, 12), (6, 12)] {
        ensure!(c(&format!("poll_{k}_ballots")) == ballots, "poll {k}");
        ensure!(yes(&format!("poll_{k}_tally_right")), "poll {k}");
    }
    ensure!(yes("polls_closed_by_timer"));
    for k in [
        "polls_public_missing",
        "polls_published_tally_differs",
        "polls_ballot_leaks",
    ] {
        ensure!(c(k) == 0, "{k}");
    }

    // Drafting: the opinion and 2 groups' documents, every client converged.
    ensure!(c("drafting_documents") == 3);
    ensure!(c("drafting_clients_synced") == c("drafting_clients"));
    ensure!(c("drafting_distinct_texts") == 3);
    ensure!(c("drafting_inserts_sent") > 0);
    ensure!(c("drafting_deliveries") > 0);
    for k in [
        "drafting_setup_missing",
        "drafting_missing",
        "drafting_duplicates",
        "drafting_foreign",
        "drafting_texts_incomplete",
        "drafting_clients_closed",
        "drafting_refused",
        "drafting_client_errors",
        "drafting_version_missing",
    ] {
        ensure!(c(k) == 0, "{k}");
    }

    // Every delivery was measured from its command or its deadline.
    ensure!(c("events_without_origin") == 0);
    ensure!(c("snapshots_without_origin") == 0);
    ensure!(c("timer_events_without_deadline") == 0);
    ensure!(c("timer_events") > 0);
    ensure!(num(&r, "/latencies/delivery/count") > 0);
    ensure!(num(&r, "/latencies/moves/count") > 0);
    ensure!(num(&r, "/latencies/doc_update/count") == c("drafting_deliveries"));
    ensure!(num(&r, "/latencies/ack.vote/count") == 12 * 6 + 2);
    for phase in ["plenary", "breakouts", "rotation", "polls", "drafting"] {
        ensure!(
            num(&r, &format!("/latencies/delivery.{phase}/count")) > 0,
            "{phase}"
        );
    }
    Ok(())
}
