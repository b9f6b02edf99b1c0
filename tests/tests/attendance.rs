//! Attendance (issue #17), end to end with the real server and real WebSocket clients: two
//! connections of one citizen at once count once, a disconnection and reconnection make two
//! sessions, what was written survives `kill -9`, stretches older than the retention period
//! are purged at start, only organizers and guarantors may read it (JSON and CSV, cells
//! neutralized), and in cluster mode (Redis DB 2) one citizen on two nodes at once counts
//! once and old stretches are purged too.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use convene_tests::proto::api::{ErrorBody, Invite};
use convene_tests::proto::{AttendanceReport, ErrorCode, Role};
use convene_tests::{fresh_redis, person, tempdir, token_of, Client, Server, ORGANIZER_TOKEN};

/// The flush period the tests run with: one second, so that a crash test need not wait 30.
const FLUSH: &[&str] = &["--attendance-flush-secs", "1"];
const DAY_MS: u64 = 86_400_000;

const FAC: &str = "Claire Animatrice";
const GAR: &str = "Hélène Garante";
const AMINA: &str = "Amina Diallo";
const BERNARD: &str = "Bernard Nantais";
/// A name a spreadsheet would run as a formula.
const FORMULA: &str = "=HYPERLINK(\"http://x\")";

fn roster() -> Vec<convene_tests::proto::api::RosterEntry> {
    vec![
        person(FAC, &[Role::Facilitator], &[]),
        person(GAR, &[Role::Guarantor], &[]),
        person(
            AMINA,
            &[Role::Citizen],
            &[("commune", "Rezé"), ("gender", "F")],
        ),
        person(
            BERNARD,
            &[Role::Citizen],
            &[("commune", "Nantes"), ("gender", "M")],
        ),
        person(
            FORMULA,
            &[Role::Citizen],
            &[("commune", "Nantes"), ("gender", "F")],
        ),
    ]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn id_of(invites: &[Invite], name: &str) -> String {
    convene_tests::invite_of(invites, name).participant.clone()
}

async fn get(
    server: &Server,
    conv: &str,
    token: Option<&str>,
    query: &str,
) -> Result<reqwest::Response> {
    let mut req = reqwest::Client::new()
        .get(server.url(&format!("/api/conventions/{conv}/attendance{query}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    Ok(req.send().await?)
}

async fn report(server: &Server, conv: &str, token: &str) -> Result<AttendanceReport> {
    let r = get(server, conv, Some(token), "").await?;
    ensure!(
        r.status() == 200,
        "attendance: {} {}",
        r.status(),
        r.text().await?
    );
    Ok(r.json().await?)
}

/// One participant's totals over every day: (time present, sessions, rows).
fn totals(r: &AttendanceReport, participant: &str) -> (u64, u32, usize) {
    let rows: Vec<_> = r
        .participants
        .iter()
        .filter(|p| p.participant == participant)
        .collect();
    (
        rows.iter().map(|p| p.present_ms).sum(),
        rows.iter().map(|p| p.sessions).sum(),
        rows.len(),
    )
}

/// Wait until the server holds no WebSocket: every `leave` is done.
async fn no_connections(server: &Server) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    while server.metric("convene_connections").await? != 0 {
        ensure!(Instant::now() < until, "connections still open after 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_connections_count_once_and_a_reconnection_is_a_second_session() -> Result<()> {
    let dir = tempdir();
    let server = Server::start_with(&dir.path().join("data"), FLUSH).await?;
    let conv = "presence";
    let invites = server.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);
    let ws = server.ws_url();

    // A laptop, then a phone while the laptop is still here, then the laptop goes, then the
    // phone.
    let t0 = now_ms();
    let laptop = Client::join(&ws, "laptop", &token_of(&invites, AMINA)).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let phone = Client::join(&ws, "phone", &token_of(&invites, AMINA)).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    laptop.close().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    phone.close().await;
    no_connections(&server).await?;
    let t1 = now_ms();

    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    let (present, sessions, rows) = totals(&r, &amina);
    // Across midnight UTC a stretch counts on both days: one more row, one more session.
    ensure!(
        sessions as usize == rows,
        "overlapping connections are one session: {sessions} over {rows} day(s) in {r:#?}"
    );
    ensure!(
        (2_000..=t1 - t0).contains(&present),
        "present {present} ms: at least the 2.4 s of the two connections, at most the {} ms the test took (not counted twice)",
        t1 - t0
    );
    ensure!(r.time_zone == "UTC" && r.retention_days == 365, "{r:?}");

    // Gone and back: a second and a third session.
    for _ in 0..2 {
        let c = Client::join(&ws, "again", &token_of(&invites, AMINA)).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.close().await;
        no_connections(&server).await?;
    }
    // And one stretch of the citizen whose name is a formula.
    let f = Client::join(&ws, "formula", &token_of(&invites, FORMULA)).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    f.close().await;
    no_connections(&server).await?;

    // The guarantor reads it, written down or not yet.
    let g = token_of(&invites, GAR);
    let r = report(&server, conv, &g).await?;
    let (_, sessions, rows) = totals(&r, &amina);
    ensure!(
        sessions as usize == rows + 2,
        "a reconnection is a new session: {sessions} over {rows} day(s)"
    );
    let row = r
        .participants
        .iter()
        .find(|p| p.participant == amina)
        .context("Amina's row")?;
    ensure!(
        row.name == AMINA && row.roles == vec![Role::Citizen],
        "{row:?}"
    );
    ensure!(
        row.first_arrival >= t0
            && row.last_departure <= now_ms()
            && row.first_arrival < row.last_departure,
        "{row:?}"
    );
    ensure!(
        totals(&r, &id_of(&invites, BERNARD)).2 == 0,
        "Bernard never came: {r:?}"
    );
    // The guarantors' summary: headcount per roster attribute value.
    let today = &row.day;
    let by = |attr: &str, value: &str| {
        r.by_attribute
            .iter()
            .find(|b| &b.day == today && b.attribute == attr && b.value == value)
            .map(|b| (b.present, b.roster))
    };
    ensure!(
        by("commune", "Rezé") == Some((1, 1)),
        "{:?}",
        r.by_attribute
    );
    ensure!(
        by("commune", "Nantes") == Some((1, 2)),
        "{:?}",
        r.by_attribute
    );
    ensure!(by("gender", "F") == Some((2, 2)), "{:?}", r.by_attribute);
    ensure!(by("gender", "M") == Some((0, 1)), "{:?}", r.by_attribute);
    let day = r.days.iter().find(|d| &d.day == today).context("today")?;
    ensure!((day.present, day.roster) == (2, 5), "{day:?}");

    // CSV, one row per participant and day, with formulas neutralized.
    let resp = get(&server, conv, Some(&g), "?format=csv").await?;
    ensure!(resp.status() == 200);
    ensure!(resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/csv")));
    let csv = resp.text().await?;
    let mut lines = csv.lines();
    ensure!(
        lines.next()
            == Some("participant,name,roles,day,minutes,sessions,first_arrival,last_departure"),
        "{csv}"
    );
    ensure!(
        csv.contains(&format!("{amina},{AMINA},citizen,{today},")),
        "{csv}"
    );
    ensure!(
        csv.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "a formula left as is: {csv}"
    );
    let csv = get(&server, conv, Some(&g), "?format=csv&table=attributes")
        .await?
        .text()
        .await?;
    ensure!(
        csv.starts_with("day,attribute,value,present,roster,share_percent\n"),
        "{csv}"
    );
    ensure!(
        csv.contains(&format!("{today},commune,Nantes,1,2,50.0")),
        "{csv}"
    );
    let bad = get(&server, conv, Some(&g), "?format=xml").await?;
    ensure!(bad.status() == 400, "format xml: {}", bad.status());

    // Nobody else: not a facilitator, not a citizen, not without a token, not in the URL.
    for (who, token, status, code) in [
        (
            "a facilitator",
            Some(token_of(&invites, FAC)),
            403,
            ErrorCode::Forbidden,
        ),
        (
            "a citizen",
            Some(token_of(&invites, AMINA)),
            403,
            ErrorCode::Forbidden,
        ),
        ("nobody", None, 401, ErrorCode::Unauthorized),
    ] {
        let resp = get(&server, conv, token.as_deref(), "").await?;
        ensure!(resp.status() == status, "{who}: {}", resp.status());
        let body: ErrorBody = resp.json().await?;
        ensure!(body.code == code, "{who}: {body:?}");
    }
    let url = get(&server, conv, None, &format!("?token={g}")).await?;
    ensure!(url.status() == 400, "a token in the URL: {}", url.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_keeps_what_was_written_and_old_days_are_purged() -> Result<()> {
    let dir = tempdir();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, FLUSH).await?;
    let conv = "crash";
    let invites = server.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);

    let t0 = now_ms();
    let c = Client::join(&server.ws_url(), "amina", &token_of(&invites, AMINA)).await?;
    // Several flush periods with the citizen here, then the server dies without a word.
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let written = server.metric("convene_attendance_written_total").await?;
    ensure!(
        written >= 2,
        "written at every flush while she is here: {written}"
    );
    ensure!(server.metric("convene_attendance_failures_total").await? == 0);
    server.kill9().await?;
    let t1 = now_ms();
    drop(c);
    server.restart().await?;
    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    let (present, sessions, rows) = totals(&r, &amina);
    ensure!(sessions as usize == rows && rows >= 1, "one session: {r:?}");
    // Written again and again while she was here (every second; under load a write may come
    // late): more than the first second kept, never more than she was there.
    ensure!(
        (1_000..=t1 - t0).contains(&present),
        "after kill -9: {present} ms kept of the {} ms before the crash",
        t1 - t0
    );

    // Stretches older than the retention period go at start. Written as the server writes
    // them, while it is stopped: 400 days ago and 100 days ago.
    server.terminate().await?;
    let now = now_ms();
    {
        let db = rusqlite::Connection::open(data.join("attendance.sqlite3"))?;
        for (id, days) in [("old", 400), ("recent", 100)] {
            let end = now - days * DAY_MS;
            db.execute(
                "INSERT INTO attendance (convention, id, person, start_ms, end_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![conv, id, amina, (end - 3_600_000) as i64, end as i64],
            )?;
        }
    }
    server.restart().await?;
    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    let days: Vec<&str> = r
        .participants
        .iter()
        .filter(|p| p.participant == amina)
        .map(|p| p.day.as_str())
        .collect();
    ensure!(
        days.len() >= 2,
        "today's and the recent stretch are kept: {days:?}"
    );
    let recent = r
        .participants
        .iter()
        .filter(|p| p.participant == amina && p.last_departure == now - 100 * DAY_MS)
        .count();
    ensure!(
        recent == 1,
        "the stretch of 100 days ago is kept (365 days of retention): {r:?}"
    );
    ensure!(
        r.participants
            .iter()
            .all(|p| p.last_departure > now - 365 * DAY_MS),
        "the stretch of 400 days ago is purged: {r:?}"
    );

    // A shorter retention purges the 100-day-old one too, at the next start.
    server.terminate().await?;
    let server = Server::start_with(
        &data,
        &[
            "--attendance-flush-secs",
            "1",
            "--attendance-retention-days",
            "30",
        ],
    )
    .await?;
    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    ensure!(r.retention_days == 30, "{r:?}");
    ensure!(
        !r.participants.is_empty()
            && r.participants
                .iter()
                .all(|p| p.last_departure > now - 30 * DAY_MS),
        "only today's stretch is left: {r:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_one_citizen_on_two_nodes_counts_once_and_old_days_are_purged() -> Result<()> {
    let redis = fresh_redis(2)?;
    let dir = tempdir();
    let flags = ["--redis", redis.as_str(), "--attendance-flush-secs", "1"];
    let a = Server::start_with(&dir.path().join("node0"), &flags).await?;
    let b = Server::start_with(&dir.path().join("node1"), &flags).await?;
    let conv = "grappe";
    let invites = a.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);
    let token = token_of(&invites, AMINA);

    let t0 = now_ms();
    let on_a = Client::join(&a.ws_url(), "on a", &token).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let on_b = Client::join(&b.ws_url(), "on b", &token).await?;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    on_a.close().await;
    on_b.close().await;
    no_connections(&a).await?;
    no_connections(&b).await?;
    let t1 = now_ms();
    // Each node writes what ended within a flush period.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    for (name, node) in [("node a", &a), ("node b", &b)] {
        let r = report(node, conv, ORGANIZER_TOKEN).await?;
        let (present, sessions, rows) = totals(&r, &amina);
        if sessions as usize != rows {
            bail!("{name}: two nodes at once are one session: {r:?}");
        }
        ensure!(
            (2_000..=t1 - t0).contains(&present),
            "{name}: present {present} ms, at most the {} ms the test took (not counted twice)",
            t1 - t0
        );
    }

    // Retention in Redis: a stretch of 400 days ago and one of 100 days ago, stored as the
    // nodes store them; a node starting purges the first and keeps the second.
    let now = now_ms();
    {
        let mut con = redis::Client::open(redis.as_str())?.get_connection()?;
        for (id, days) in [("old", 400), ("recent", 100)] {
            let end = now - days * DAY_MS;
            let value = serde_json::json!([amina, end - 3_600_000, end]).to_string();
            redis::cmd("HSET")
                .arg(format!("cv:{{{conv}}}:attendance"))
                .arg(id)
                .arg(value)
                .query::<()>(&mut con)?;
        }
    }
    let c = Server::start_with(&dir.path().join("node2"), &flags).await?;
    let r = report(&c, conv, ORGANIZER_TOKEN).await?;
    let ends: Vec<u64> = r
        .participants
        .iter()
        .filter(|p| p.participant == amina)
        .map(|p| p.last_departure)
        .collect();
    ensure!(
        ends.contains(&(now - 100 * DAY_MS)),
        "the stretch of 100 days ago is kept: {r:?}"
    );
    ensure!(
        ends.iter().all(|e| *e > now - 365 * DAY_MS),
        "the stretch of 400 days ago is purged: {r:?}"
    );
    Ok(())
}

/// Ten times the connections an invitation may hold (4), all at once: the oldest are closed
/// (4011) as the newest arrive, the citizen stays present throughout, so it is one session
/// counted once; another citizen and the server are unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_connections_of_an_invitation_are_one_presence() -> Result<()> {
    let dir = tempdir();
    let server = Server::start_with(&dir.path().join("data"), FLUSH).await?;
    let conv = "afflux";
    let invites = server.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);
    let ws = server.ws_url();
    let budget = convene_tests::proto::MAX_CONNECTIONS_PER_TOKEN;

    let t0 = now_ms();
    let mut bernard = Client::join(&ws, "bernard", &token_of(&invites, BERNARD)).await?;
    let mut held = Vec::new();
    for k in 0..10 * budget {
        held.push(Client::join(&ws, &format!("amina {k}"), &token_of(&invites, AMINA)).await?);
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // Bernard's connection is unharmed: it still answers.
    bernard
        .ok(convene_tests::proto::Command::SendChat {
            room: None,
            text: "Toujours là".into(),
        })
        .await?;
    for c in held {
        c.close().await;
    }
    bernard.close().await;
    no_connections(&server).await?;
    let t1 = now_ms();

    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    for who in [&amina, &id_of(&invites, BERNARD)] {
        let (present, sessions, rows) = totals(&r, who);
        ensure!(
            sessions as usize == rows && rows >= 1,
            "{who}: one session: {r:?}"
        );
        ensure!(
            (1_500..=t1 - t0).contains(&present),
            "{who}: present {present} ms of the {} ms the test took (counted once)",
            t1 - t0
        );
    }
    Ok(())
}

/// A client that connects and disconnects in a loop, ten times the day's budget of stretches:
/// no more stretches (rows, sessions) than the budget; the last one runs on; others unharmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_days_stretches_in_a_loop_stay_within_the_budget() -> Result<()> {
    let dir = tempdir();
    // The welcomes of one invitation are paced too (40 at once, then one every 3 s): lifted
    // here, to reach the attendance's own budget within the test.
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--attendance-flush-secs", "1", "--welcome-burst", "100000"],
    )
    .await?;
    let conv = "boucle";
    let invites = server.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);
    let ws = server.ws_url();
    let budget = convene::attendance::MAX_STRETCHES_PER_DAY as usize;
    let mut bernard = Client::join(&ws, "bernard", &token_of(&invites, BERNARD)).await?;
    for k in 0..10 * budget {
        Client::join(&ws, &format!("amina {k}"), &token_of(&invites, AMINA))
            .await?
            .close()
            .await;
    }
    bernard
        .ok(convene_tests::proto::Command::SendChat {
            room: None,
            text: "Toujours là".into(),
        })
        .await?;
    bernard.close().await;
    no_connections(&server).await?;
    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    let (_, sessions, _) = totals(&r, &amina);
    // A UTC midnight during the loop gives a second day its own budget.
    ensure!(
        (1..=2 * budget as u32).contains(&sessions),
        "{sessions} sessions for {} connections: {r:?}",
        10 * budget
    );
    let (_, bernard_sessions, _) = totals(&r, &id_of(&invites, BERNARD));
    ensure!(bernard_sessions == 1, "{r:?}");
    Ok(())
}

/// A clean shutdown (SIGTERM) writes every open stretch before the process exits, even with
/// the default flush period (30 s) not yet run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_writes_everything() -> Result<()> {
    let dir = tempdir();
    let mut server = Server::start(&dir.path().join("data")).await?;
    let conv = "arret";
    let invites = server.http().convention(conv, &roster()).await?;
    let amina = id_of(&invites, AMINA);
    let t0 = now_ms();
    let c = Client::join(&server.ws_url(), "amina", &token_of(&invites, AMINA)).await?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let status = server.terminate().await?;
    let t1 = now_ms();
    ensure!(status.success(), "clean exit: {status}");
    drop(c);
    server.restart().await?;
    let r = report(&server, conv, ORGANIZER_TOKEN).await?;
    let (present, sessions, rows) = totals(&r, &amina);
    ensure!(sessions as usize == rows && rows >= 1, "{r:?}");
    ensure!(
        (1_500..=t1 - t0).contains(&present),
        "after SIGTERM: {present} ms of the {} ms before it",
        t1 - t0
    );
    Ok(())
}
