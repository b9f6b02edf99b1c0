//! Floor time: `GET /api/conventions/{id}/floor-time`, JSON, CSV or a spreadsheet, for the
//! organizer, the convention's facilitators and its guarantors (who watch that everyone is
//! heard, and write it in their report). Per person, and per roster attribute value among
//! the citizens: their share of the floor against their share of the citizens, what the
//! console's equity view draws.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use convene_protocol::{FloorTimeEntry, FloorTimeGroup, FloorTimeReport};

use super::api::{organizer_or, ApiResult};
use super::attendance::role_name;
use super::exports::{ExportQuery, READERS};
use super::table::{col, percent, respond, row, Cell, Export, Sheet};
use super::{ApiError, AppState};
use crate::domain::{self as d, Convention};
use crate::wire;

/// The value a citizen without the attribute counts under.
const NO_VALUE: &str = "—";

pub async fn floor_time(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    let now = crate::attendance::now_ms();
    let conv = id.clone();
    let report = handle
        .query(move |c, _| report(&conv, c, now))
        .await
        .ok_or_else(ApiError::shutting_down)?;
    let tables = || Export {
        file: format!("{id}-floor-time"),
        sheets: sheets(&report),
    };
    respond(out, &report, tables).await
}

/// The report as of `now`: the floor time of ended turns, and of turns under way up to `now`.
pub fn report(convention: &str, c: &Convention, now: u64) -> FloorTimeReport {
    let mut spoken: BTreeMap<&str, u64> = c
        .floor_time
        .iter()
        .map(|(p, ms)| (p.as_str(), *ms))
        .collect();
    for room in &c.rooms {
        if let Some(f) = &room.floor {
            *spoken.entry(f.participant.as_str()).or_default() += now.saturating_sub(f.since);
        }
    }
    let people: Vec<FloorTimeEntry> = c
        .people
        .values()
        .filter(|p| !p.roles.contains(&d::Role::Guarantor))
        .map(|p| FloorTimeEntry {
            participant: p.id.clone(),
            name: p.name.clone(),
            roles: p.roles.iter().copied().map(wire::role_out).collect(),
            spoken_ms: spoken.get(p.id.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let citizens: Vec<&d::Person> = c
        .people
        .values()
        .filter(|p| p.roles.contains(&d::Role::Citizen))
        .collect();
    let heard: u64 = citizens
        .iter()
        .map(|p| spoken.get(p.id.as_str()).copied().unwrap_or(0))
        .sum();
    let attributes: std::collections::BTreeSet<&str> = citizens
        .iter()
        .flat_map(|p| p.attributes.keys().map(String::as_str))
        .collect();
    let mut by_attribute = Vec::new();
    for attribute in attributes {
        // value -> (citizens, spoke, spoken_ms)
        let mut groups: BTreeMap<&str, (u32, u32, u64)> = BTreeMap::new();
        for p in &citizens {
            let value = p.attributes.get(attribute).map_or(NO_VALUE, String::as_str);
            let ms = spoken.get(p.id.as_str()).copied().unwrap_or(0);
            let g = groups.entry(value).or_default();
            g.0 += 1;
            g.1 += u32::from(ms > 0);
            g.2 += ms;
        }
        for (value, (n, spoke, ms)) in groups {
            by_attribute.push(FloorTimeGroup {
                attribute: attribute.to_string(),
                value: value.to_string(),
                citizens: n,
                spoke,
                spoken_ms: ms,
                citizens_percent: percent(u64::from(n), citizens.len() as u64),
                time_percent: percent(ms, heard),
            });
        }
    }
    FloorTimeReport {
        convention: convention.to_string(),
        generated_at: now,
        people,
        by_attribute,
    }
}

/// Two tables (two sheets; in the CSV, each after a line `# {name},`): each person, then each
/// group of citizens.
fn sheets(r: &FloorTimeReport) -> Vec<Sheet> {
    let mut people = Sheet::new(
        "Temps de parole",
        vec![
            col("participant", "Identifiant", "Participant id"),
            col("name", "Nom", "Name"),
            col("roles", "Rôles", "Roles"),
            col("spoken_ms", "Temps de parole", "Floor time"),
        ],
    );
    for p in &r.people {
        let roles: Vec<&str> = p.roles.iter().copied().map(role_name).collect();
        people.push(row![
            &p.participant,
            &p.name,
            roles.join(";"),
            Cell::Duration(p.spoken_ms as i64),
        ]);
    }
    let mut groups = Sheet::new(
        "Par attribut",
        vec![
            col("attribute", "Attribut", "Attribute"),
            col("value", "Valeur", "Value"),
            col("citizens", "Citoyen·nes", "Citizens"),
            col("spoke", "Ont parlé", "Spoke"),
            col("spoken_ms", "Temps de parole", "Floor time"),
            col(
                "citizens_percent",
                "Part des citoyen·nes (%)",
                "Share of the citizens (%)",
            ),
            col(
                "time_percent",
                "Part du temps de parole (%)",
                "Share of the floor time (%)",
            ),
        ],
    );
    for g in &r.by_attribute {
        groups.push(row![
            &g.attribute,
            &g.value,
            g.citizens,
            g.spoke,
            Cell::Duration(g.spoken_ms as i64),
            Cell::Decimal(g.citizens_percent),
            Cell::Decimal(g.time_percent),
        ]);
    }
    vec![people, groups]
}
