//! Attendance (issue #17): `GET /api/conventions/{id}/attendance`, JSON or CSV, for the
//! organizer and the convention's guarantors only (facilitators and citizens: 403
//! `forbidden`). It reads the stored stretches of presence, adds this node's not yet written
//! (open ones ending now), and merges them (`domain::attendance`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::{AttendanceReport, ErrorCode};
use serde::Deserialize;

use super::api::{organizer_or, ApiResult};
use super::exports::{csv_response, Csv};
use super::{ApiError, AppState};
use crate::attendance::Stretch;
use crate::domain::{self as d, attendance as a};
use crate::wire;

/// Attendance is for organizers and guarantors; nobody else sees it.
const READERS: &[d::Role] = &[d::Role::Guarantor];

#[derive(Deserialize)]
pub struct AttendanceQuery {
    token: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
    /// CSV only: `participants` (default: one row per participant and day) or `attributes`
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
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("format {other:?}: json or csv"),
            ))
        }
    };
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
        .ok_or_else(|| unavailable("the convention is shutting down"))?;
    let report = a::report(&intervals, people.values());
    let out = wire::attendance_out(
        &id,
        report,
        &people,
        attendance.settings.retention_days,
        crate::attendance::now_ms(),
    );
    tracing::info!(convention = %id, by, csv, people = out.participants.len(), "attendance read");
    if !csv {
        return Ok(Json(out).into_response());
    }
    Ok(match table {
        Table::Participants => csv_response(&format!("attendance-{id}"), participants_csv(&out)),
        Table::Attributes => {
            csv_response(&format!("attendance-{id}-attributes"), attributes_csv(&out))
        }
    })
}

fn role_name(r: convene_protocol::Role) -> &'static str {
    match r {
        convene_protocol::Role::Citizen => "citizen",
        convene_protocol::Role::Facilitator => "facilitator",
        convene_protocol::Role::Rapporteur => "rapporteur",
        convene_protocol::Role::Guarantor => "guarantor",
        convene_protocol::Role::Expert => "expert",
    }
}

/// One row per participant and day (times in UTC, ISO 8601).
fn participants_csv(r: &AttendanceReport) -> String {
    let mut w = Csv::default();
    w.row([
        "participant",
        "name",
        "roles",
        "day",
        "minutes",
        "sessions",
        "first_arrival",
        "last_departure",
    ]);
    for p in &r.participants {
        let roles: Vec<&str> = p.roles.iter().copied().map(role_name).collect();
        w.row([
            p.participant.clone(),
            p.name.clone(),
            roles.join(";"),
            p.day.clone(),
            p.minutes.to_string(),
            p.sessions.to_string(),
            a::timestamp(p.first_arrival),
            a::timestamp(p.last_departure),
        ]);
    }
    w.finish()
}

/// One row per day, roster attribute and value.
fn attributes_csv(r: &AttendanceReport) -> String {
    let mut w = Csv::default();
    w.row([
        "day",
        "attribute",
        "value",
        "present",
        "roster",
        "share_percent",
    ]);
    for t in &r.days {
        w.row([
            t.day.clone(),
            "*".into(),
            "*".into(),
            t.present.to_string(),
            t.roster.to_string(),
            share(t.present, t.roster),
        ]);
    }
    for b in &r.by_attribute {
        w.row([
            b.day.clone(),
            b.attribute.clone(),
            b.value.clone(),
            b.present.to_string(),
            b.roster.to_string(),
            format!("{:.1}", b.share),
        ]);
    }
    w.finish()
}

fn share(present: u32, roster: u32) -> String {
    if roster == 0 {
        return "0.0".into();
    }
    format!("{:.1}", f64::from(present) * 100.0 / f64::from(roster))
}
