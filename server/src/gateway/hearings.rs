//! The export of a hearing's questions (JSON or CSV), for facilitators, guarantors and
//! organizers. An anonymous hearing's export names no author: the file travels (into reports,
//! to the press), while the link stays in the log, where the staff can follow it.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use convene_protocol::{ErrorCode, QuestionStatus};
use serde_json::json;

use super::api::{organizer_or, ApiResult};
use super::exports::{ExportQuery, READERS};
use super::table::{col, respond, row, Cell, Export, Sheet};
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
    let out = q.out.output()?;
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
                csv_rows.push(row![
                    x.id,
                    Cell::Millis(x.at as i64),
                    &author,
                    status_word(view.status),
                    view.supports,
                    view.merged_into,
                    view.hidden_reason.clone(),
                    &view.text,
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
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no hearing {hearing}")))?;
    let tables = || {
        let mut s = Sheet::new(
            &hearing,
            vec![
                col("id", "N°", "No."),
                col("asked_at", "Posée à", "Asked at"),
                col("author", "Auteur·rice", "Author"),
                col("status", "État", "Status"),
                col("supports", "Soutiens", "Supports"),
                col("merged_into", "Fusionnée avec", "Merged into"),
                col("hidden_reason", "Motif du masquage", "Reason hidden"),
                col("text", "Question", "Question"),
            ],
        );
        for r in rows {
            s.push(r);
        }
        Export::one(format!("{id}-{hearing}-questions"), s)
    };
    respond(out, export, tables).await
}

/// A question's status: its CSV spelling (PROTOCOL.md's), French, English.
fn status_word(s: QuestionStatus) -> Cell {
    let (csv, fr, en) = match s {
        QuestionStatus::Pending => ("pending", "en attente", "pending"),
        QuestionStatus::Open => ("open", "ouverte", "open"),
        QuestionStatus::Answering => ("answering", "en réponse", "being answered"),
        QuestionStatus::Answered => ("answered", "répondue", "answered"),
        QuestionStatus::Hidden => ("hidden", "masquée", "hidden"),
        QuestionStatus::Merged => ("merged", "fusionnée", "merged"),
    };
    Cell::Word(csv, fr, en)
}
