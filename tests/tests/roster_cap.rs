//! Roster import has a budget, end to end: at most 10,000 rows per request and 20,000 people
//! per convention (ARCHITECTURE.md "Limits", the OpenAPI document). Ten times the request cap
//! is refused with a typed error, nothing of it is imported, and the server goes on serving;
//! a convention at its cap refuses one more person.

use anyhow::{ensure, Result};
use convene_tests::proto::api::{ErrorBody, RosterAdded};
use convene_tests::proto::{Command, ErrorCode, Person, Role};
use convene_tests::{person, tempdir, token_of, Client, Server};
use serde_json::json;

/// The documented caps.
const ROWS_PER_REQUEST: usize = 10_000;
const PEOPLE_PER_CONVENTION: usize = 20_000;

async fn roster_len(server: &Server, conv: &str) -> Result<usize> {
    let r = server
        .http()
        .get(&format!("/api/conventions/{conv}/roster"))
        .send()
        .await?;
    ensure!(r.status() == 200, "roster: {}", r.status());
    Ok(r.json::<Vec<Person>>().await?.len())
}

/// A refusal with an `ErrorBody` of code `invalid`, with one of `statuses`.
async fn refused(r: reqwest::Response, statuses: &[u16], what: &str) -> Result<String> {
    let status = r.status().as_u16();
    let text = r.text().await?;
    ensure!(
        statuses.contains(&status),
        "{what}: expected one of {statuses:?}, got {status}: {}",
        &text[..text.len().min(300)]
    );
    let body: ErrorBody = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{what}: not a typed error ({e}): {text:.300}"))?;
    ensure!(body.code == ErrorCode::Invalid, "{what}: {body:?}");
    Ok(body.message)
}

fn csv_rows(n: usize, prefix: &str) -> String {
    let mut s = String::from("name,roles,commune\n");
    for i in 0..n {
        s.push_str(&format!("{prefix} {i},citoyen,Rezé\n"));
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_row_cap_is_refused_whole_and_the_server_goes_on() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let invites = server
        .http()
        .convention(
            "plafond",
            &[
                person("Claire Animatrice", &[Role::Facilitator], &[]),
                person("Yannick Le Goff", &[Role::Citizen], &[]),
            ],
        )
        .await?;
    let org = server.http();

    // Ten times the cap as CSV (about 2.5 MB, under the body limit): refused, typed.
    let r = org
        .post("/api/conventions/plafond/roster")
        .header("content-type", "text/csv")
        .body(csv_rows(10 * ROWS_PER_REQUEST, "Citoyen"))
        .send()
        .await?;
    let message = refused(r, &[400, 413], "CSV of 100,000 rows").await?;
    ensure!(
        message.contains(&ROWS_PER_REQUEST.to_string()) || message.contains("10,000"),
        "the message does not say the cap: {message}"
    );
    // As JSON (over the body limit too): refused, typed.
    let rows: Vec<_> = (0..10 * ROWS_PER_REQUEST)
        .map(|i| json!({ "name": format!("Citoyenne {i}"), "roles": ["citizen"] }))
        .collect();
    let r = org
        .post("/api/conventions/plafond/roster")
        .json(&rows)
        .send()
        .await?;
    refused(r, &[400, 413], "JSON of 100,000 rows").await?;
    // Nothing was imported.
    ensure!(
        roster_len(&server, "plafond").await? == 2,
        "part of a refused import was kept"
    );

    // The server is fine: health, a participant acting, a small import.
    let r = reqwest::get(server.url("/healthz")).await?;
    ensure!(r.status() == 200, "healthz: {}", r.status());
    let mut fac = Client::join(
        &server.ws_url(),
        "fac",
        &token_of(&invites, "Claire Animatrice"),
    )
    .await?;
    fac.ok(Command::Broadcast {
        text: "Toujours là.".into(),
    })
    .await?;
    let r = org
        .post("/api/conventions/plafond/roster")
        .header("content-type", "text/csv")
        .body(csv_rows(3, "Retardataire"))
        .send()
        .await?;
    ensure!(r.status() == 201, "a small import: {}", r.status());
    ensure!(roster_len(&server, "plafond").await? == 5);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_convention_at_its_cap_refuses_one_more_person() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let org = server.http();
    let r = org
        .post("/api/conventions")
        .json(&json!({ "id": "pleine", "name": "Convention pleine" }))
        .send()
        .await?;
    ensure!(r.status() == 201, "create: {}", r.status());
    // Up to the cap, a request at a time, each at the request cap.
    for batch in 0..PEOPLE_PER_CONVENTION / ROWS_PER_REQUEST {
        let r = org
            .post("/api/conventions/pleine/roster")
            .header("content-type", "text/csv")
            .body(csv_rows(ROWS_PER_REQUEST, &format!("Lot {batch} personne")))
            .send()
            .await?;
        ensure!(r.status() == 201, "batch {batch}: {}", r.status());
        let added: RosterAdded = r.json().await?;
        ensure!(added.added.len() == ROWS_PER_REQUEST);
    }
    ensure!(roster_len(&server, "pleine").await? == PEOPLE_PER_CONVENTION);
    let r = org
        .post("/api/conventions/pleine/roster")
        .json(&[person("Une de trop", &[Role::Citizen], &[])])
        .send()
        .await?;
    let message = refused(r, &[400, 413], "one person over the cap").await?;
    ensure!(
        message.contains(&PEOPLE_PER_CONVENTION.to_string()) || message.contains("20,000"),
        "the message does not say the cap: {message}"
    );
    ensure!(roster_len(&server, "pleine").await? == PEOPLE_PER_CONVENTION);
    let r = reqwest::get(server.url("/healthz")).await?;
    ensure!(r.status() == 200, "healthz: {}", r.status());
    Ok(())
}
