//! The run sheet's export over HTTP: the day as planned and as run (actual starts and ends,
//! extensions, skips, drift), as JSON or CSV, for the guarantors' notes. The state it reads
//! is the fold of the log: every time in it is a record's time.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::{ErrorCode, SequenceReport};

use super::api::{organizer_or, ApiResult};
use super::exports::{csv_response, wants_csv, Csv, ExportQuery, READERS};
use super::{ApiError, AppState};
use crate::domain::runsheet::{Sequence, SequenceStatus};
use crate::wire;

fn report(s: &Sequence) -> SequenceReport {
    let (status, started_at, ended_at, early, skipped_at) = match s.status {
        SequenceStatus::Planned => ("planned", None, None, false, None),
        SequenceStatus::Running { started_at, .. } => {
            ("running", Some(started_at), None, false, None)
        }
        SequenceStatus::Done {
            started_at,
            ended_at,
            early,
        } => ("done", Some(started_at), Some(ended_at), early, None),
        SequenceStatus::Skipped { at } => ("skipped", None, None, false, Some(at)),
    };
    let view = wire::runsheet::sequence_out(s);
    SequenceReport {
        id: s.id.clone(),
        title: s.spec.title.clone(),
        kind: s.spec.action.kind().to_string(),
        planned_start: s.spec.planned_start,
        planned_ms: s.spec.planned_ms,
        status: status.to_string(),
        started_at,
        ended_at,
        ended_early: early,
        skipped_at,
        extensions: view.extensions,
        start_drift_ms: started_at.map(|a| a as i64 - s.spec.planned_start as i64),
        actual_ms: started_at.zip(ended_at).map(|(a, b)| b.saturating_sub(a)),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// `GET /api/conventions/{id}/runsheet`: every sequence in the order of the day.
pub async fn export(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let csv = wants_csv(&q)?;
    let rows: Vec<SequenceReport> = handle
        .query(|c, _| c.runsheet.sequences.iter().map(report).collect())
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?;
    if !csv {
        return Ok(Json(rows).into_response());
    }
    let mut w = Csv::default();
    w.row([
        "id",
        "title",
        "kind",
        "planned_start",
        "planned_ms",
        "status",
        "started_at",
        "ended_at",
        "ended_early",
        "skipped_at",
        "extensions",
        "extended_ms",
        "start_drift_ms",
        "actual_ms",
    ]);
    for r in &rows {
        w.row([
            r.id.clone(),
            r.title.clone(),
            r.kind.clone(),
            r.planned_start.to_string(),
            r.planned_ms.to_string(),
            r.status.clone(),
            opt(r.started_at),
            opt(r.ended_at),
            r.ended_early.to_string(),
            opt(r.skipped_at),
            r.extensions.len().to_string(),
            r.extensions
                .iter()
                .map(|e| e.by_ms)
                .sum::<u64>()
                .to_string(),
            opt(r.start_drift_ms),
            opt(r.actual_ms),
        ]);
    }
    Ok(csv_response(&format!("runsheet-{id}"), w.finish()))
}
