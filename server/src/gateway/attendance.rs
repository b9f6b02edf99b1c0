//! Attendance (issue #17): `GET /api/conventions/{id}/attendance`, JSON or CSV, for the
//! organizer and the convention's guarantors only (facilitators and citizens: 403
//! `forbidden`). It reads the stored stretches of presence, adds this node's not yet written
//! (open ones ending now), and merges them (`domain::attendance`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use convene_protocol::{AttendanceReport, ErrorCode};
use serde::Deserialize;

use super::api::{organizer_or, ApiResult};
use super::table::{col, percent, respond, row, Cell, Export, Output, OutputQuery, Sheet};
use super::{ApiError, AppState};
use crate::attendance::Stretch;
use crate::domain::{self as d, attendance as a};
use crate::wire;

/// Attendance is for organizers and guarantors; nobody else sees it.
const READERS: &[d::Role] = &[d::Role::Guarantor];

#[derive(Deserialize)]
pub struct AttendanceQuery {
    token: Option<String>,
    /// `format` (`json`, `csv`, `xlsx`), `lang` and `tz`: [`super::table`].
    #[serde(flatten)]
    out: OutputQuery,
    /// CSV and spreadsheet only: `participants` (default: one row per participant and day) or `attributes`
    /// (per day, roster attribute and value).
    table: Option<String>,
}

/// What the CSV holds.
#[derive(Clone, Copy)]
enum Table {
    Participants,
    Attributes,
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, e.to_string())
}

pub async fn attendance(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AttendanceQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    // Personal data: each reading is logged, with who read it (the organizer or a guarantor).
    let by = match super::api::bearer(&headers).map(super::hash_token) {
        Some(h) if h == app.organizer_hash => "organizer",
        _ => "guarantor",
    };
    let out = q.out.output()?;
    let table = match q.table.as_deref() {
        None | Some("participants") => Table::Participants,
        Some("attributes") => Table::Attributes,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("table {other:?}: participants or attributes"),
            ))
        }
    };
    let attendance = app.hub.attendance();
    // This node's unwritten stretches first, then the store: a stretch written in between is
    // in the store with an end at least as late.
    let live = handle.attendance().await.unwrap_or_default();
    let stored = attendance.read(&id).await.map_err(unavailable)?;
    // A stretch written and still open here: its latest end.
    let mut by_id: BTreeMap<String, Stretch> = BTreeMap::new();
    for s in live.into_iter().chain(stored) {
        match by_id.get_mut(&s.id) {
            Some(known) => known.end = known.end.max(s.end),
            None => {
                by_id.insert(s.id.clone(), s);
            }
        }
    }
    let intervals: Vec<a::Interval> = by_id
        .into_values()
        .map(|s| a::Interval {
            person: s.person,
            start: s.start,
            end: s.end,
        })
        .collect();
    let people = handle
        .query(|c, _| c.people.clone())
        .await
        .ok_or_else(ApiError::shutting_down)?;
    let report = a::report(&intervals, people.values());
    let report = wire::attendance_out(
        &id,
        report,
        &people,
        attendance.settings.retention_days,
        crate::attendance::now_ms(),
    );
    let json = matches!(out, Output::Json);
    tracing::info!(convention = %id, by, json, people = report.participants.len(), "attendance read");
    let tables = || match table {
        Table::Participants => Export::one(format!("attendance-{id}"), participants(&report)),
        Table::Attributes => {
            Export::one(format!("attendance-{id}-attributes"), attributes(&report))
        }
    };
    respond(out, &report, tables).await
}

pub(super) fn role_name(r: convene_protocol::Role) -> &'static str {
    match r {
        convene_protocol::Role::Citizen => "citizen",
        convene_protocol::Role::Facilitator => "facilitator",
        convene_protocol::Role::Rapporteur => "rapporteur",
        convene_protocol::Role::Guarantor => "guarantor",
        convene_protocol::Role::Expert => "expert",
    }
}

/// One row per participant and day (in the CSV, times in UTC, ISO 8601).
fn participants(r: &AttendanceReport) -> Sheet {
    let mut s = Sheet::new(
        "attendance",
        vec![
            col("participant", "Identifiant", "Participant id"),
            col("name", "Nom", "Name"),
            col("roles", "Rôles", "Roles"),
            col("day", "Jour", "Day"),
            col("minutes", "Minutes", "Minutes"),
            col("sessions", "Connexions", "Sessions"),
            col("first_arrival", "Première arrivée", "First arrival"),
            col("last_departure", "Dernier départ", "Last departure"),
        ],
    );
    for p in &r.participants {
        let roles: Vec<&str> = p.roles.iter().copied().map(role_name).collect();
        s.push(row![
            &p.participant,
            &p.name,
            roles.join(";"),
            Cell::Day(p.day.clone()),
            p.minutes,
            p.sessions,
            Cell::Iso(p.first_arrival as i64),
            Cell::Iso(p.last_departure as i64),
        ]);
    }
    s
}

/// One row per day, roster attribute and value.
fn attributes(r: &AttendanceReport) -> Sheet {
    let mut s = Sheet::new(
        "attributes",
        vec![
            col("day", "Jour", "Day"),
            col("attribute", "Attribut", "Attribute"),
            col("value", "Valeur", "Value"),
            col("present", "Présent·es", "Present"),
            col("roster", "Inscrit·es", "On the roster"),
            col("share_percent", "Part (%)", "Share (%)"),
        ],
    );
    for t in &r.days {
        s.push(row![
            Cell::Day(t.day.clone()),
            "*",
            "*",
            t.present,
            t.roster,
            Cell::Decimal(percent(u64::from(t.present), u64::from(t.roster))),
        ]);
    }
    for b in &r.by_attribute {
        s.push(row![
            Cell::Day(b.day.clone()),
            &b.attribute,
            &b.value,
            b.present,
            b.roster,
            Cell::Decimal(b.share),
        ]);
    }
    s
}
