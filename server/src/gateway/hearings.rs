//! The export of a hearing's questions (JSON or CSV), for facilitators, guarantors and
//! organizers. An anonymous hearing's export names no author: the file travels (into reports,
//! to the press), while the link stays in the log, where the staff can follow it.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::ErrorCode;
use serde_json::json;

use super::api::{organizer_or, ApiResult};
use super::exports::{csv_response, wants_csv, Csv, ExportQuery, READERS};
use super::{ApiError, AppState};
use crate::wire;

/// `GET /api/conventions/{id}/hearings/{hearing}/questions`: the hearing and every question
/// asked in it, in the room's order (most supported first, older first), then those the room
/// did not see (pending, hidden, merged), with their status.
pub async fn questions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, hearing)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let csv = wants_csv(&q)?;
    let wanted = hearing.clone();
    let (export, rows) = handle
        .query(move |c, _| {
            let h = c.hearings.get(&wanted)?;
            let name = |p: &str| c.people.get(p).map(|p| p.name.clone()).unwrap_or_default();
            let mut json_rows = Vec::new();
            let mut csv_rows = Vec::new();
            for x in h.questions.ranked_all() {
                let mut view = wire::hearings::question_out(h, x, true);
                // The file travels: an anonymous hearing's export names nobody.
                let author = if h.anonymous {
                    view.from = None;
                    String::new()
                } else {
                    name(&x.from)
                };
                csv_rows.push([
                    x.id.to_string(),
                    x.at.to_string(),
                    author.clone(),
                    serde_json::to_value(view.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    view.supports.to_string(),
                    view.merged_into.map(|m| m.to_string()).unwrap_or_default(),
                    view.hidden_reason.clone().unwrap_or_default(),
                    view.text.clone(),
                ]);
                let mut v = serde_json::to_value(&view).unwrap_or_default();
                if let (Some(m), false) = (v.as_object_mut(), h.anonymous) {
                    m.insert("from_name".into(), json!(author));
                }
                json_rows.push(v);
            }
            let export = json!({
                "hearing": {
                    "id": h.id,
                    "title": h.title,
                    "speaker": h.speaker,
                    "speaker_name": name(&h.speaker),
                    "room": h.room,
                    "anonymous": h.anonymous,
                    "moderated": h.moderated,
                    "status": wire::hearings::hearing_status_out(h.status),
                },
                "questions": json_rows,
            });
            Some((export, csv_rows))
        })
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no hearing {hearing}")))?;
    if !csv {
        return Ok(Json(export).into_response());
    }
    let mut w = Csv::default();
    w.row([
        "id",
        "asked_at",
        "author",
        "status",
        "supports",
        "merged_into",
        "hidden_reason",
        "text",
    ]);
    for row in rows {
        w.row(row);
    }
    Ok(csv_response(&format!("{id}-{hearing}-questions"), w.finish()).into_response())
}
