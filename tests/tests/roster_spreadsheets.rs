//! A roster as French spreadsheets save it, imported as it comes: `;` between cells, a UTF-8
//! byte-order mark (Excel's "CSV UTF-8"), or Windows-1252 bytes (Excel's plain "CSV", where
//! « é » is one byte), Windows line ends, « Prénom » and « Nom » in two columns, roles separated
//! by commas inside their cell. Each was refused before (no `name` column found, or a body that
//! is not UTF-8). Errors still name the file's lines.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{ensure, Context, Result};
use convene_tests::proto::{Person, Role};
use convene_tests::{tempdir, Server};
use serde_json::Value;

async fn import(server: &Server, conv: &str, body: Vec<u8>) -> Result<(u16, Value)> {
    let r = server
        .http()
        .post(&format!("/api/conventions/{conv}/roster"))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await?))
}

async fn roster(server: &Server, conv: &str) -> Result<BTreeMap<String, Person>> {
    let people: Vec<Person> = server
        .http()
        .get(&format!("/api/conventions/{conv}/roster"))
        .send()
        .await?
        .json()
        .await?;
    Ok(people.into_iter().map(|p| (p.name.clone(), p)).collect())
}

/// Windows-1252 bytes of a text of ASCII and the few accented letters used here.
fn cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            'é' => 0xE9,
            'è' => 0xE8,
            'ô' => 0xF4,
            'ç' => 0xE7,
            c if c.is_ascii() => c as u8,
            c => panic!("{c:?} is not in this test's table"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rosters_saved_by_french_spreadsheets_are_imported_as_they_come() -> Result<()> {
    let dir = tempdir();
    let server = Server::start(&dir.path().join("data")).await?;
    let r = server
        .http()
        .post("/api/conventions")
        .json(&serde_json::json!({ "id": "tableurs", "name": "Convention des tableurs" }))
        .send()
        .await?;
    ensure!(r.status() == 201, "create: {}", r.status());

    // Excel's "CSV UTF-8": a byte-order mark, `;`, CRLF, « Prénom » and « Nom », two roles
    // in one cell separated by a comma.
    let utf8 = "\u{feff}Prénom;Nom;Rôles;Commune\r\n\
                Amina;Diallo;citoyenne;Rezé\r\n\
                Paul;Roux;citoyen,rapporteur;Bouguenais\r\n\
                Hélène;\"Martin; dite Léna\";animatrice;Nantes\r\n";
    let (status, body) = import(&server, "tableurs", utf8.as_bytes().to_vec()).await?;
    ensure!(status == 201, "UTF-8 with a BOM and ';': {status} {body}");
    ensure!(body["added"].as_array().map(Vec::len) == Some(3), "{body}");

    // Excel's plain "CSV" in France: Windows-1252, `;`.
    let latin = cp1252(
        "Nom;Rôles;Commune\r\nLéa Mercier;citoyenne;Saint-Sébastien\r\nFrançois Pôle;garant;\r\n",
    );
    ensure!(
        std::str::from_utf8(&latin).is_err(),
        "the test's body is not UTF-8"
    );
    let (status, body) = import(&server, "tableurs", latin).await?;
    ensure!(status == 201, "Windows-1252: {status} {body}");

    // Tabs (a copy from a spreadsheet pasted into a file).
    let (status, body) = import(
        &server,
        "tableurs",
        "name\troles\tcommune\nNoé Petit\tcitizen\tRezé\n".into(),
    )
    .await?;
    ensure!(status == 201, "tabs: {status} {body}");

    let people = roster(&server, "tableurs").await?;
    let check = |name: &str, roles: &[Role], commune: &str| -> Result<()> {
        let p = people
            .get(name)
            .with_context(|| format!("{name:?} not in {:?}", people.keys()))?;
        let set = |r: &[Role]| r.iter().map(|x| format!("{x:?}")).collect::<BTreeSet<_>>();
        ensure!(set(&p.roles) == set(roles), "{name}: roles {:?}", p.roles);
        ensure!(
            p.attributes.get("commune").map_or("", String::as_str) == commune,
            "{name}: attributes {:?}",
            p.attributes
        );
        ensure!(
            !p.attributes.contains_key("prénom")
                && !p.attributes.keys().any(|k| k.starts_with('\u{feff}')),
            "{name}: {:?}",
            p.attributes
        );
        Ok(())
    };
    check("Amina Diallo", &[Role::Citizen], "Rezé")?;
    check(
        "Paul Roux",
        &[Role::Citizen, Role::Rapporteur],
        "Bouguenais",
    )?;
    check("Hélène Martin; dite Léna", &[Role::Facilitator], "Nantes")?;
    check("Léa Mercier", &[Role::Citizen], "Saint-Sébastien")?;
    check("François Pôle", &[Role::Guarantor], "")?;
    check("Noé Petit", &[Role::Citizen], "Rezé")?;

    // A wrong role in a `;` file: named by its line of the file, nothing imported.
    let before = people.len();
    let (status, body) = import(
        &server,
        "tableurs",
        "\u{feff}Nom;Rôles\r\nJeanne Vidal;citoyenne\r\nMarc Tissier;président\r\n"
            .as_bytes()
            .to_vec(),
    )
    .await?;
    let message = body["message"].as_str().unwrap_or_default();
    ensure!(
        status == 400 && message.contains("line 3") && message.contains("président"),
        "{status} {body}"
    );
    ensure!(
        roster(&server, "tableurs").await?.len() == before,
        "all or nothing"
    );
    Ok(())
}
