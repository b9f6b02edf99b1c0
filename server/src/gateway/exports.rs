//! Exports over HTTP: poll results (JSON or CSV) of one poll or of all, the ballots of named
//! polls (secret polls have none to export: nothing links them to voters), and the expert
//! rotation with its schedule and the questions heard, and the chat (hidden lines marked).

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
pub(super) const READERS: &[d::Role] = &[d::Role::Facilitator, d::Role::Guarantor];

#[derive(Deserialize)]
pub struct ExportQuery {
    pub(super) token: Option<String>,
    /// `json` (default) or `csv`.
    pub(super) format: Option<String>,
}

fn results(state: &Convention, poll: &d::Poll) -> PollResults {
    // An open secret poll's running count is nobody's (view::staff_sees_tally): its export
    // has the participation and an empty tally until it closes or its results are revealed.
    let tally = if view::staff_sees_tally(poll) {
        wire::tally_out(&poll.tally())
    } else {
        wire::tally_out(&wire::empty_tally())
    };
    let ballots = tally.ballots.max(1) as f64;
    let percentages = tally
        .counts
        .iter()
        .map(|c| (*c as f64) * 100.0 / ballots)
        .map(|p| (p * 10.0).round() / 10.0)
        .collect();
    // Nobody is "present" in an export: an open poll's participation counts who voted among
    // who may; a closed poll's has who could and were online at its close (logged).
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
    let mut w = Csv::default();
    write_results(&mut w, r);
    w.finish()
}

/// One poll's table: a row per option (stance, scale value), or per answer of a text poll.
fn write_results(w: &mut Csv, r: &PollResults) {
    let labels = labels(&r.spec);
    match &r.spec.kind {
        PollKind::Text { .. } => {
            w.row(["answer"]);
            for t in &r.tally.texts {
                w.row([t]);
            }
        }
        PollKind::Ranking { .. } => {
            let mut header = vec!["option".to_string(), "borda".to_string()];
            header.extend((1..=r.tally.rounds.len()).map(|i| format!("irv_round_{i}")));
            header.push("winner".into());
            w.row(&header);
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
                w.row(&row);
            }
        }
        _ => {
            w.row(["option", "count", "percent"]);
            for (i, label) in labels.iter().enumerate() {
                let count = r.tally.counts.get(i).copied().unwrap_or(0);
                let pct = r.percentages.get(i).copied().unwrap_or(0.0);
                w.row([label.clone(), count.to_string(), format!("{pct:.1}")]);
            }
        }
    }
}

/// The one way this server writes CSV: every cell goes through [`cell`], so no text a
/// participant wrote (a question, an option, an answer, a name) reaches a spreadsheet as a
/// formula. Rows may differ in length (the all-polls export puts several tables in one file).
pub(super) struct Csv(csv::Writer<Vec<u8>>);

impl Default for Csv {
    fn default() -> Self {
        Csv(csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new()))
    }
}

impl Csv {
    pub(super) fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells.into_iter().map(|c| cell(c.as_ref())).collect();
        // Writing to a Vec cannot fail (flexible rows: no length error either).
        let _ = self.0.write_record(&cells);
    }

    pub(super) fn finish(self) -> String {
        let bytes = self.0.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// A cell as a spreadsheet will not run it (OWASP, CSV injection): text that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, which spreadsheets show
/// as text. A plain number (`-2`, a scale value) is left as it is: it cannot be a formula.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) && !plain_number(text) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// `-?digits(.digits)?`: what a spreadsheet reads as a number and nothing else.
fn plain_number(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let mut parts = unsigned.split('.');
    let whole = parts.next().unwrap_or_default();
    let frac = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_none() && digits(whole) && frac.is_none_or(digits)
}

pub(super) fn csv_response(name: &str, body: String) -> Response {
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

pub(super) fn wants_csv(q: &ExportQuery) -> ApiResult<bool> {
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
        // Each poll's table after a row `# {id}`, its question (a cell of its own: a question
        // may hold newlines).
        let mut w = Csv::default();
        for r in &all {
            w.row([format!("# {}", r.id), r.spec.question.clone()]);
            write_results(&mut w, r);
        }
        return Ok(csv_response(&format!("polls-{id}"), w.finish()));
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
        let mut w = Csv::default();
        w.row(["participant", "name", "ballot"]);
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
            w.row([b.participant.as_str(), &b.name, &text]);
        }
        return Ok(csv_response(&format!("{id}-{}-ballots", r.id), w.finish()));
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

/// `GET /api/conventions/{id}/chat`: every chat line of the log, in order, with its room and
/// author; a line a facilitator hid is kept, marked (by whom, when, why), never dropped.
pub async fn chat(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let csv = wants_csv(&q)?;
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let names: std::collections::BTreeMap<String, String> = handle
        .query(|c, _| {
            c.people
                .values()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect()
        })
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "the convention is shutting down"))?;
    let records = app
        .hub
        .store()
        .records_after(&id, 0)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    let lines = chat_lines(&records, &names);
    if csv {
        let mut w = Csv::default();
        w.row([
            "seq",
            "at",
            "room",
            "from",
            "name",
            "text",
            "hidden",
            "hidden_by",
            "hidden_at",
            "hidden_reason",
        ]);
        for l in &lines {
            let (seq, at) = (l.seq.to_string(), l.at.to_string());
            let h = l.hidden.as_ref();
            let hidden_at = h.map(|h| h.at.to_string()).unwrap_or_default();
            w.row([
                seq.as_str(),
                &at,
                &l.room,
                &l.from,
                &l.name,
                &l.text,
                if h.is_some() { "yes" } else { "no" },
                h.map_or("", |h| h.by.as_str()),
                &hidden_at,
                h.map_or("", |h| h.reason.as_str()),
            ]);
        }
        return Ok(csv_response(&format!("{id}-chat"), w.finish()));
    }
    Ok(Json(lines).into_response())
}

/// The chat lines of a log, each marked by the `chat_hidden` that hid it, if any and not
/// undone by a `chat_unhidden` since (the moderation log keeps both).
fn chat_lines(
    records: &[convene_protocol::Record],
    names: &std::collections::BTreeMap<String, String>,
) -> Vec<convene_protocol::ChatExportLine> {
    use convene_protocol::{Actor, ChatExportLine, Event, HiddenMark};
    let mut lines: Vec<ChatExportLine> = Vec::new();
    for r in records {
        let Actor::Participant(from) = &r.by else {
            continue;
        };
        match &r.event {
            Event::ChatPosted { room, text } => lines.push(ChatExportLine {
                seq: r.seq,
                at: r.at,
                room: room.clone(),
                from: from.clone(),
                name: names.get(from).cloned().unwrap_or_default(),
                text: text.clone(),
                hidden: None,
            }),
            Event::ChatHidden {
                message, reason, ..
            } => {
                // Lines come in order of seq: found by binary search.
                if let Ok(i) = lines.binary_search_by_key(message, |l| l.seq) {
                    lines[i].hidden = Some(HiddenMark {
                        by: from.clone(),
                        at: r.at,
                        reason: reason.clone().unwrap_or_default(),
                    });
                }
            }
            Event::ChatUnhidden { message, .. } => {
                if let Ok(i) = lines.binary_search_by_key(message, |l| l.seq) {
                    lines[i].hidden = None;
                }
            }
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_would_run_get_a_quote_and_numbers_stay() {
        for (text, want) in [
            ("=1+1", "'=1+1"),
            ("+33 6", "'+33 6"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("-2", "-2"),
            ("-0.5", "-0.5"),
            ("-", "'-"),
            ("-.5", "'-.5"),
            ("-1.", "'-1."),
            ("-1.2.3", "'-1.2.3"),
            ("Transports de nuit", "Transports de nuit"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(cell(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_newline_stays_inside_its_cell() {
        let mut w = Csv::default();
        w.row(["# q1", "Question ?\n=1+1"]);
        w.row(["=a", "2"]);
        assert_eq!(w.finish(), "# q1,\"Question ?\n=1+1\"\n'=a,2\n");
    }
}
