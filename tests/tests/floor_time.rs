//! The floor-time export (`GET /api/conventions/{id}/floor-time`): each person's time with the
//! floor as the log has it (a turn under way counted up to the report), the citizens per
//! roster attribute value against their weight, as JSON, CSV and a spreadsheet read back with
//! calamine; and who may read it.

use std::io::Cursor;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use convene_tests::proto::{Command, FloorTimeReport, Role};
use convene_tests::{person, tempdir, token_of, Client, Server};

const FAC: &str = "Claire Animatrice";
const GAR: &str = "Hélène Garante";
const EXP: &str = "Marc Expert";
const ANNE: &str = "Anne Citoyenne";
const BRUNO: &str = "Bruno Citoyen";
const CHLOE: &str = "Chloé Citoyenne";
const DAVID: &str = "David Citoyen";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_time_per_person_and_per_group_as_json_csv_and_a_spreadsheet() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let roster = vec![
        person(FAC, &[Role::Facilitator], &[]),
        person(GAR, &[Role::Guarantor], &[]),
        person(EXP, &[Role::Expert], &[]),
        person(ANNE, &[Role::Citizen], &[("genre", "femme")]),
        person(BRUNO, &[Role::Citizen], &[("genre", "homme")]),
        person(CHLOE, &[Role::Citizen], &[("genre", "femme")]),
        // No `genre`: counted under « — ».
        person(DAVID, &[Role::Citizen], &[]),
    ];
    let invites = server.http().convention("parole", &roster).await?;
    let url = server.ws_url();
    let mut fac = Client::join(&url, "fac", &token_of(&invites, FAC)).await?;
    let id_of = |name: &str| {
        invites
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.participant.clone())
            .unwrap_or_default()
    };

    // Bruno, then Anne, hold the floor and end; the expert's turn is under way.
    for (who, ms) in [(BRUNO, 1200), (ANNE, 400)] {
        fac.ok(Command::GiveFloor {
            room: None,
            participant: Some(id_of(who)),
            limit_ms: None,
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        fac.ok(Command::EndFloor { room: None }).await?;
    }
    fac.ok(Command::GiveFloor {
        room: None,
        participant: Some(id_of(EXP)),
        limit_ms: None,
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // What a guarantor's snapshot says of the ended turns: the export has the same.
    let gar = Client::join(&url, "gar", &token_of(&invites, GAR)).await?;
    let snapshot = gar.snapshot.clone().context("no snapshot")?;
    let logged = |p: &str| {
        snapshot
            .floor_time
            .as_ref()
            .and_then(|f| f.iter().find(|e| e.participant == p))
            .map(|e| e.spoken_ms)
    };
    let (bruno, anne) = (
        logged(&id_of(BRUNO)).context("Bruno")?,
        logged(&id_of(ANNE)).context("Anne")?,
    );
    ensure!(bruno >= 1200 && anne >= 400, "logged: {bruno} and {anne}");

    let org = server.http();
    let path = "/api/conventions/parole/floor-time";
    let r = org.get(path).send().await?;
    ensure!(r.status() == 200, "JSON: {}", r.status());
    let report: FloorTimeReport = r.json().await?;
    ensure!(report.convention == "parole");
    let names: Vec<&str> = report.people.iter().map(|p| p.name.as_str()).collect();
    ensure!(
        report.people.len() == 6 && !names.contains(&GAR),
        "everyone but the guarantor: {names:?}"
    );
    let spoken = |name: &str| {
        report
            .people
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.spoken_ms)
            .unwrap_or(u64::MAX)
    };
    ensure!(spoken(BRUNO) == bruno && spoken(ANNE) == anne, "{report:?}");
    ensure!(spoken(CHLOE) == 0 && spoken(DAVID) == 0 && spoken(FAC) == 0);
    // The expert's turn under way counts up to the report.
    ensure!(spoken(EXP) >= 300, "the turn under way: {}", spoken(EXP));

    // Per genre, citizens only: Anne and Chloé, Bruno, David without one.
    let groups: Vec<(String, u32, u32, u64)> = report
        .by_attribute
        .iter()
        .map(|g| (g.value.clone(), g.citizens, g.spoke, g.spoken_ms))
        .collect();
    ensure!(
        groups
            == vec![
                ("femme".to_string(), 2, 1, anne),
                ("homme".to_string(), 1, 1, bruno),
                ("—".to_string(), 1, 0, 0),
            ]
            && report.by_attribute.iter().all(|g| g.attribute == "genre"),
        "{:?}",
        report.by_attribute
    );
    let heard = (anne + bruno) as f64;
    let femme = &report.by_attribute[0];
    ensure!(
        (femme.citizens_percent - 50.0).abs() < 1e-9
            && (femme.time_percent - 100.0 * anne as f64 / heard).abs() < 1e-9
            && (report.by_attribute[2].time_percent).abs() < 1e-9,
        "{femme:?}"
    );

    // CSV: both tables, each after its line `# {table},`.
    let csv = org
        .get(&format!("{path}?format=csv"))
        .send()
        .await?
        .text()
        .await?;
    let lines: Vec<&str> = csv.lines().collect();
    let at = |l: &str| lines.iter().position(|x| *x == l);
    let people_at = at("# Temps de parole,").context(csv.clone())?;
    ensure!(lines[people_at + 1] == "participant,name,roles,spoken_ms");
    ensure!(
        lines.contains(&format!("{},{BRUNO},citizen,{bruno}", id_of(BRUNO)).as_str()),
        "{csv}"
    );
    let groups_at = at("# Par attribut,").context(csv.clone())?;
    ensure!(
        lines[groups_at + 1]
            == "attribute,value,citizens,spoke,spoken_ms,citizens_percent,time_percent"
    );
    ensure!(
        lines.contains(
            &format!(
                "genre,homme,1,1,{bruno},25.0,{:.1}",
                100.0 * bruno as f64 / heard
            )
            .as_str()
        ),
        "{csv}"
    );

    // The spreadsheet: two sheets, headers in French, floor times as lengths of time (days).
    let bytes = org
        .get(&format!("{path}?format=xlsx&lang=fr"))
        .send()
        .await?
        .bytes()
        .await?
        .to_vec();
    let mut book: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes))?;
    let people = book.worksheet_range("Temps de parole")?;
    let header: Vec<String> = (0..4)
        .map(|c| {
            people
                .get_value((0, c))
                .map(|d| d.to_string())
                .unwrap_or_default()
        })
        .collect();
    ensure!(
        header == ["Identifiant", "Nom", "Rôles", "Temps de parole"],
        "{header:?}"
    );
    let row = (1..people.height() as u32)
        .find(|r| people.get_value((*r, 1)) == Some(&Data::String(BRUNO.into())))
        .context("Bruno's row")?;
    let days = match people.get_value((row, 3)) {
        Some(Data::Float(x)) => *x,
        Some(Data::DateTime(d)) => d.as_f64(),
        other => anyhow::bail!("Bruno's time: {other:?}"),
    };
    ensure!(
        (days * 86_400_000.0 - bruno as f64).abs() < 1.0,
        "{days} days for {bruno} ms"
    );
    let groups = book.worksheet_range("Par attribut")?;
    ensure!(groups.get_value((0, 5)) == Some(&Data::String("Part des citoyen·nes (%)".into())));

    // Who may read it: the organizer, facilitators, guarantors; nobody else.
    let http = reqwest::Client::new();
    let full = server.url(path);
    for (who, status) in [(FAC, 200), (GAR, 200), (ANNE, 403), (EXP, 403)] {
        let r = http
            .get(&full)
            .bearer_auth(token_of(&invites, who))
            .send()
            .await?;
        ensure!(r.status() == status, "{who}: {}", r.status());
    }
    ensure!(http.get(&full).send().await?.status() == 401);
    let r = org.get(&format!("{path}?format=pdf")).send().await?;
    ensure!(r.status() == 400, "format=pdf: {}", r.status());
    Ok(())
}
