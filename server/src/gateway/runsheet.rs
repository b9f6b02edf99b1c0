//! The run sheet's export over HTTP: the day as planned and as run (actual starts and ends,
//! extensions, skips, drift), as JSON or CSV, for the guarantors' notes. The state it reads
//! is the fold of the log: every time in it is a record's time.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use convene_protocol::SequenceReport;

use super::api::{organizer_or, ApiResult};
use super::exports::{ExportQuery, READERS};
use super::table::{col, respond, row, Cell, Export, Sheet};
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

/// `GET /api/conventions/{id}/runsheet`: every sequence in the order of the day.
pub async fn export(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let out = q.out.output()?;
    let rows: Vec<SequenceReport> = handle
        .query(|c, _| c.runsheet.sequences.iter().map(report).collect())
        .await
        .ok_or_else(ApiError::shutting_down)?;
    let tables = || {
        let mut s = Sheet::new(
            "runsheet",
            vec![
                col("id", "Identifiant", "Id"),
                col("title", "Séquence", "Sequence"),
                col("kind", "Type", "Kind"),
                col("planned_start", "Début prévu", "Planned start"),
                col("planned_ms", "Durée prévue", "Planned length"),
                col("status", "État", "Status"),
                col("started_at", "Début", "Started"),
                col("ended_at", "Fin", "Ended"),
                col("ended_early", "Close avant l'heure", "Ended early"),
                col("skipped_at", "Passée à", "Skipped at"),
                col("extensions", "Prolongations", "Extensions"),
                col("extended_ms", "Temps ajouté", "Time added"),
                col("start_drift_ms", "Décalage du début", "Start drift"),
                col("actual_ms", "Durée réelle", "Actual length"),
            ],
        );
        for r in &rows {
            let status = match r.status.as_str() {
                "planned" => Cell::Word("planned", "prévue", "planned"),
                "running" => Cell::Word("running", "en cours", "running"),
                "done" => Cell::Word("done", "terminée", "done"),
                "skipped" => Cell::Word("skipped", "passée", "skipped"),
                other => Cell::from(other),
            };
            let extended: u64 = r.extensions.iter().map(|e| e.by_ms).sum();
            s.push(row![
                &r.id,
                &r.title,
                &r.kind,
                Cell::Millis(r.planned_start as i64),
                Cell::Duration(r.planned_ms as i64),
                status,
                Cell::millis(r.started_at),
                Cell::millis(r.ended_at),
                Cell::Flag(r.ended_early, ["true", "false"]),
                Cell::millis(r.skipped_at),
                r.extensions.len(),
                Cell::Duration(extended as i64),
                Cell::duration(r.start_drift_ms),
                Cell::duration(r.actual_ms.map(|a| a as i64)),
            ]);
        }
        Export::one(format!("runsheet-{id}"), s)
    };
    respond(out, &rows, tables).await
}
