//! Exports over HTTP: poll results (JSON or CSV) of one poll or of all, the ballots of named
//! polls (secret polls have none to export: nothing links them to voters), and the expert
//! rotation with its schedule and the questions heard.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::api::{NamedBallot, PollResults};
use convene_protocol::{ErrorCode, PollKind, Stance};
use serde::Deserialize;

use super::api::{convention, organizer_or, ApiResult};
use super::{ApiError, AppState};
use crate::domain::{self as d, Convention};
use crate::live::view;
use crate::wire;

/// The order of stances in a position poll's counts.
const STANCES: [Stance; 4] = [
    Stance::For,
    Stance::Against,
    Stance::ForWithReservations,
    Stance::Abstain,
];

/// Facilitators and guarantors may export, as may organizers.
const READERS: &[d::Role] = &[d::Role::Facilitator, d::Role::Guarantor];

#[derive(Deserialize)]
pub struct ExportQuery {
    token: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn results(state: &Convention, poll: &d::Poll) -> PollResults {
    let tally = wire::tally_out(&poll.tally());
    let ballots = tally.ballots.max(1) as f64;
    let percentages = tally
        .counts
        .iter()
        .map(|c| (*c as f64) * 100.0 / ballots)
        .map(|p| (p * 10.0).round() / 10.0)
        .collect();
    // Nobody is "present" in an export: participation counts who voted among who may.
    let participation = view::participation(state, poll, &Default::default());
    PollResults {
        id: poll.id.clone(),
        spec: wire::spec_out(&poll.spec),
        status: wire::poll_status_out(poll.status),
        opened_at: poll.opened_at,
        ends_at: poll.ends_at,
        quorum_reached: poll.spec.quorum.map(|q| participation.voted >= q as u64),
        participation,
        tally,
        percentages,
        tampered: poll.tampered.as_ref().map(wire::tampered_out),
    }
}

/// The labels of the counted entries: options, stances or scale values.
fn labels(spec: &convene_protocol::PollSpec) -> Vec<String> {
    match &spec.kind {
        PollKind::Single { options }
        | PollKind::Multiple { options, .. }
        | PollKind::Ranking { options } => options.clone(),
        PollKind::Scale { min, max, .. } => (*min..=*max).map(|v| v.to_string()).collect(),
        PollKind::Position => STANCES
            .iter()
            .map(|s| match s {
                Stance::For => "pour",
                Stance::Against => "contre",
                Stance::ForWithReservations => "pour avec réserves",
                Stance::Abstain => "abstention",
            })
            .map(str::to_string)
            .collect(),
        PollKind::Text { .. } => Vec::new(),
    }
}

fn results_csv(r: &PollResults) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let labels = labels(&r.spec);
    match &r.spec.kind {
        PollKind::Text { .. } => {
            let _ = w.write_record(["answer"]);
            for t in &r.tally.texts {
                let _ = w.write_record([cell(t)]);
            }
        }
        PollKind::Ranking { .. } => {
            let mut header = vec!["option".to_string(), "borda".to_string()];
            header.extend((1..=r.tally.rounds.len()).map(|i| format!("irv_round_{i}")));
            header.push("winner".into());
            let _ = w.write_record(&header);
            for (i, label) in labels.iter().enumerate() {
                let mut row = vec![
                    label.clone(),
                    r.tally.borda.get(i).copied().unwrap_or(0).to_string(),
                ];
                for round in &r.tally.rounds {
                    row.push(
                        round
                            .counts
                            .get(i)
                            .copied()
                            .flatten()
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "eliminated".into()),
                    );
                }
                row.push((r.tally.winner == Some(i as u32)).to_string());
                let _ = w.write_record(&row);
            }
        }
        _ => {
            let _ = w.write_record(["option", "count", "percent"]);
            for (i, label) in labels.iter().enumerate() {
                let count = r.tally.counts.get(i).copied().unwrap_or(0);
                let pct = r.percentages.get(i).copied().unwrap_or(0.0);
                let _ = w.write_record([cell(label), count.to_string(), format!("{pct:.1}")]);
            }
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A cell as a spreadsheet will not run it: text that starts like a formula gets a quote.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

fn csv_response(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn wants_csv(q: &ExportQuery) -> ApiResult<bool> {
    match q.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(ApiError::new(
            ErrorCode::Invalid,
            format!("format {other:?}: json or csv"),
        )),
    }
}

/// `GET /api/conventions/{id}/polls`: every poll's results (drafts excluded).
pub async fn all(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let csv = wants_csv(&q)?;
    let all: Vec<PollResults> = handle
        .query(|c, _| {
            c.polls_in_order()
                .filter(|p| p.status != d::PollStatus::Draft)
                .map(|p| results(c, p))
                .collect()
        })
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?;
    if csv {
        let body = all
            .iter()
            .map(|r| format!("# {} {}\n{}", r.id, r.spec.question, results_csv(r)))
            .collect::<Vec<_>>()
            .join("\n");
        return Ok(csv_response(&format!("polls-{id}"), body));
    }
    Ok(Json(all).into_response())
}

async fn one(app: &AppState, id: &str, poll: String) -> ApiResult<(PollResults, Vec<NamedBallot>)> {
    let handle = convention(app, id).await?;
    handle
        .query(move |c, _| {
            let p = c
                .polls
                .get(&poll)
                .filter(|p| p.status != d::PollStatus::Draft)?;
            let named = p
                .named
                .iter()
                .map(|(who, b)| NamedBallot {
                    participant: who.clone(),
                    name: c
                        .people
                        .get(who)
                        .map(|p| p.name.clone())
                        .unwrap_or_default(),
                    ballot: wire::ballot_out(b),
                })
                .collect();
            // An open poll whose box was tampered with has no result to give.
            let result = match p.stalled() {
                Some(t) => Err(*t),
                None => Ok((results(c, p), named)),
            };
            Some(result)
        })
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such poll (or still a draft)"))?
        .map_err(|t| {
            let rejection = t.rejection();
            ApiError::new(wire::code_out(rejection.code), rejection.message)
        })
}

/// `GET /api/conventions/{id}/polls/{poll}/results`.
pub async fn poll_results(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, poll)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let csv = wants_csv(&q)?;
    let (r, _) = one(&app, &id, poll).await?;
    if csv {
        return Ok(csv_response(
            &format!("{id}-{}-results", r.id),
            results_csv(&r),
        ));
    }
    Ok(Json(r).into_response())
}

/// `GET /api/conventions/{id}/polls/{poll}/ballots`: named polls only.
pub async fn ballots(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, poll)): Path<(String, String)>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let csv = wants_csv(&q)?;
    let (r, named) = one(&app, &id, poll).await?;
    if r.spec.secret {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "a secret poll's ballots are linked to nobody: there is nothing to export",
        ));
    }
    if csv {
        let labels = labels(&r.spec);
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["participant", "name", "ballot"]);
        for b in &named {
            let label = |i: &u32| labels.get(*i as usize).cloned().unwrap_or_default();
            let text = match &b.ballot {
                convene_protocol::Ballot::Single { choice } => label(choice),
                convene_protocol::Ballot::Multiple { choices } => {
                    choices.iter().map(label).collect::<Vec<_>>().join("; ")
                }
                convene_protocol::Ballot::Ranking { order } => {
                    order.iter().map(label).collect::<Vec<_>>().join(" > ")
                }
                convene_protocol::Ballot::Scale { value } => value.to_string(),
                convene_protocol::Ballot::Text { text } => text.clone(),
                convene_protocol::Ballot::Position { stance } => {
                    let i = STANCES.iter().position(|s| s == stance).unwrap_or(0) as u32;
                    label(&i)
                }
            };
            let _ = w.write_record([b.participant.clone(), cell(&b.name), cell(&text)]);
        }
        let body = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        return Ok(csv_response(&format!("{id}-{}-ballots", r.id), body));
    }
    Ok(Json(named).into_response())
}

/// `GET /api/conventions/{id}/rotation`: the plan, the schedule with names, the questions
/// asked in each expert's room and their answers.
pub async fn rotation(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let export = handle
        .query(|c, _| {
            let rot = c.rotation.as_ref()?;
            let names: std::collections::BTreeMap<String, String> = c
                .people
                .values()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect();
            Some(serde_json::json!({ "rotation": wire::rotation_view(rot), "names": names }))
        })
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no rotation was planned"))?;
    Ok(Json(export).into_response())
}
