//! The organizer HTTP API: conventions, rosters, invitations, audit export; and health.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::api::{
    ConventionSummary, CreateConvention, DocumentSummary, HearingSummary, Invite, InviteState,
    InviteStatus, IssueInvites, RosterAdded, RosterEntry, RosterProblem, RosterProblemKind,
};
use convene_protocol::{ErrorCode, Person, Role};
use serde::Deserialize;

use super::{hash_token, ApiError, AppState};
use crate::domain::{self as d, NewPerson};
use crate::live::Handle;
use crate::{invites, wire};

pub type ApiResult<T> = Result<T, ApiError>;

/// The token of `Authorization: Bearer {token}`, if any (an empty one is none).
/// A token in a URL (`?token=`) is refused (400) before anything else: it would end up in
/// proxy logs and browser history. The y-websocket `/doc` endpoint, where a browser cannot
/// send a header, is the one place that takes it.
pub(crate) fn no_url_token(url_token: Option<&str>) -> ApiResult<()> {
    match url_token {
        Some(_) => Err(ApiError::new(
            ErrorCode::Invalid,
            "a token never goes in the URL: send it as Authorization: Bearer {token}",
        )),
        None => Ok(()),
    }
}

/// The token of an `Authorization: Bearer` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty())
}

pub fn organizer(app: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    if bearer(headers).map(hash_token).as_deref() == Some(app.organizer_hash.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "an organizer token is required (Authorization: Bearer ...)",
        ))
    }
}

pub async fn convention(app: &AppState, id: &str) -> ApiResult<Handle> {
    // Being deleted: neither whole nor gone yet.
    if app.hub.is_deleting(id) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("convention {id} is being deleted"),
        ));
    }
    let handle = app
        .hub
        .find(id)
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no convention {id}")))?;
    // A convention that cannot be served now says why, rather than seeming empty.
    if let Some(f) = app.hub.faults().get(id) {
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            format!("convention {id} is unavailable: {}", f.reason),
        ));
    }
    Ok(handle)
}

fn valid_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

/// 200 while the store answers and writes; 503 with the reason while it does not (Redis
/// away, a full disk). Conventions that cannot be served (a damaged log) are named with
/// their reason and make the status "degraded", but not a 503: every node would see the same
/// damage, and taking them all out of service would help no other convention.
pub async fn health(State(app): State<AppState>) -> Response {
    let faults: Vec<serde_json::Value> = app
        .hub
        .faults()
        .all()
        .into_iter()
        .map(|(id, f)| serde_json::json!({ "convention": id, "damaged": f.damaged, "reason": f.reason }))
        .collect();
    match app.hub.store().ping().await {
        Ok(()) => Json(serde_json::json!({
            "status": if faults.is_empty() { "ok" } else { "degraded" },
            "conventions": app.hub.ids().len(),
            "unavailable": faults,
        }))
        .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({
                "status": "unavailable",
                "reason": e.to_string(),
                "unavailable": faults,
            })),
        )
            .into_response(),
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.hub.metrics().render(),
    )
        .into_response()
}

pub async fn create_convention(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<CreateConvention>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<(StatusCode, Json<ConventionSummary>)> {
    organizer(&app, &headers)?;
    let Json(body) = body.map_err(|e| ApiError::new(ErrorCode::BadMessage, e.body_text()))?;
    let id = match body.id {
        Some(id) if valid_id(&id) => id,
        Some(id) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("{id:?}: an id is 1 to 40 lowercase letters, digits and dashes"),
            ))
        }
        None => format!("c-{}", &invites::random_token("x")[2..10]),
    };
    if app.hub.find(&id).await.is_some() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("convention {id} already exists"),
        ));
    }
    let handle = app.hub.create(&id, body.name).await?;
    Ok((StatusCode::CREATED, Json(summary(&id, &handle).await?)))
}

async fn summary(id: &str, handle: &Handle) -> ApiResult<ConventionSummary> {
    let id = id.to_string();
    handle
        .query(move |c, present| ConventionSummary {
            id,
            name: c.name.clone(),
            seq: c.seq,
            participants: c.people.len(),
            online: present.len(),
            hearings: hearings_of(c),
            documents: c
                .documents
                .values()
                .map(|d| DocumentSummary {
                    name: d.name.clone(),
                    title: d.title.clone(),
                    versions: d.versions.len() as u32,
                })
                .collect(),
        })
        .await
        .ok_or_else(ApiError::shutting_down)
}

/// A convention's hearings in order of creation (`h1`, `h2`... `h10`: by number, not text).
fn hearings_of(c: &d::Convention) -> Vec<HearingSummary> {
    let mut list: Vec<HearingSummary> = c
        .hearings
        .values()
        .map(|h| HearingSummary {
            id: h.id.clone(),
            title: h.title.clone(),
            status: wire::hearings::hearing_status_out(h.status),
        })
        .collect();
    list.sort_by_key(|h| {
        let n =
            h.id.trim_start_matches('h')
                .parse::<u64>()
                .unwrap_or(u64::MAX);
        (n, h.id.clone())
    });
    list
}

pub async fn list_conventions(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<ConventionSummary>>> {
    organizer(&app, &headers)?;
    let mut out = Vec::new();
    for id in app.hub.ids() {
        // One being deleted is left out, not the whole list refused.
        if app.hub.is_deleting(&id) {
            continue;
        }
        let handle = convention(&app, &id).await?;
        let s = match summary(&id, &handle).await {
            Ok(s) => s,
            Err(_) if app.hub.is_deleting(&id) || app.hub.get(&id).is_none() => continue,
            Err(e) => return Err(e),
        };
        if s.seq > 0 {
            out.push(s);
        }
    }
    Ok(Json(out))
}

pub async fn get_convention(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<ConventionSummary>> {
    organizer(&app, &headers)?;
    let s = summary(&id, &convention(&app, &id).await?).await?;
    if s.seq == 0 {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no convention {id}"),
        ));
    }
    Ok(Json(s))
}

/// `DELETE /api/conventions/{id}?confirm={id}`: the convention deleted while the server runs
/// (`Hub::delete`), its rows erased from every database of the data directory, or its keys
/// from Redis once every node has stopped it.
pub async fn delete_convention(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Json<convene_protocol::api::ConventionDeleted>> {
    use crate::live::DeleteFailure;
    organizer(&app, &headers)?;
    if query.get("confirm") != Some(&id) {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!("confirm must repeat the convention's id (?confirm={id}): nothing deleted"),
        ));
    }
    let started = std::time::Instant::now();
    // In a task of its own: a client that goes away mid-way does not cut the deletion short.
    let hub = app.hub.clone();
    let key = id.clone();
    let erased = app
        .tracker
        .spawn(async move { hub.delete(&key).await })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("deletion failed: {e}")))?;
    let erased = erased.map_err(|e| {
        let code = match &e {
            DeleteFailure::Unknown => ErrorCode::NotFound,
            DeleteFailure::InProgress => ErrorCode::Conflict,
            DeleteFailure::Gone | DeleteFailure::NodesBusy(_) | DeleteFailure::Store(_) => {
                ErrorCode::Unavailable
            }
            DeleteFailure::Erase(_) => ErrorCode::Internal,
        };
        if matches!(e, DeleteFailure::Erase(_)) {
            tracing::error!(convention = %id, error = %e, "convention deletion failed");
        }
        let message = match &e {
            DeleteFailure::Unknown => format!("no convention {id}: nothing deleted"),
            _ => format!("convention {id}: {e}"),
        };
        ApiError::new(code, message)
    })?;
    {
        // The request budgets of its invitations go with them.
        let mut budgets = app.requests.lock().unwrap_or_else(|e| e.into_inner());
        for hash in &erased.tokens {
            budgets.forget(hash);
        }
    }
    let rows = erased.files.iter().map(|f| f.rows).sum();
    tracing::info!(
        convention = %id,
        rows,
        files = erased.files.len(),
        ms = started.elapsed().as_millis() as u64,
        "convention deleted"
    );
    Ok(Json(convene_protocol::api::ConventionDeleted {
        id,
        files: erased
            .files
            .into_iter()
            .map(|f| convene_protocol::api::DeletedRows {
                file: f.file,
                rows: f.rows,
            })
            .collect(),
        rows,
    }))
}

/// Role names as organizers write them in a CSV: English or French.
fn parse_role(s: &str) -> Option<Role> {
    Some(match s.trim().to_lowercase().as_str() {
        "citizen" | "citoyen" | "citoyenne" => Role::Citizen,
        "facilitator" | "animateur" | "animatrice" | "facilitateur" | "facilitatrice" => {
            Role::Facilitator
        }
        "rapporteur" | "rapporteuse" => Role::Rapporteur,
        "guarantor" | "garant" | "garante" => Role::Guarantor,
        "expert" | "experte" => Role::Expert,
        _ => return None,
    })
}

/// A CSV roster's text as spreadsheets save it: UTF-8, its byte-order mark dropped (Excel's
/// "CSV UTF-8"), or, when the bytes are not UTF-8, Windows-1252 (Excel's plain "CSV" in France
/// and most of Europe, where « é » is one byte).
pub fn roster_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// The separator of a CSV: `;` (what French spreadsheets write), a tab, or `,`: whichever its
/// header line holds most of, outside quotes (`,` when none).
fn separator(text: &str) -> u8 {
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            _ if !quoted => {
                for (sep, n) in counts.iter_mut() {
                    if b == *sep {
                        *n += 1;
                    }
                }
            }
            _ => {}
        }
    }
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(sep, n)| if n > best.1 { (sep, n) } else { best },
        )
        .0
}

/// Read a CSV roster: a `name` (or `nom`) column, an optional `roles` column (separated by
/// `;`, `|` or `,`, default citizen), every other column an attribute; cells separated by `,`,
/// `;` or tabs (see [`separator`]). With each entry, the line of the file it starts on (a
/// quoted cell may span lines).
pub fn parse_csv(text: &str) -> Result<(Vec<RosterEntry>, Vec<u64>), ApiError> {
    let bad = |m: String| ApiError::new(ErrorCode::BadMessage, m);
    // Windows line ends as plain ones: the csv crate counts a CRLF file's lines one short
    // (its position stops at the `\r`), and errors name the file's lines.
    let text = &text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .delimiter(separator(text))
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let name_col = headers
        .iter()
        .position(|h| h == "name" || h == "nom")
        .ok_or_else(|| bad("the CSV needs a \"name\" column".to_string()))?;
    let roles_col = headers
        .iter()
        .position(|h| h == "roles" || h == "role" || h == "rôles" || h == "rôle");
    // A French roster often has « Prénom » and « Nom »: the name is both.
    let first_col = headers
        .iter()
        .position(|h| h == "prénom" || h == "prenom")
        .filter(|_| headers[name_col] == "nom");
    let mut out = Vec::new();
    let mut lines = Vec::new();
    // Unknown roles, every one at once (up to 20), like the domain's wrong entries.
    let mut unknown: Vec<RosterProblem> = Vec::new();
    let mut unknown_rows = 0u64;
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| {
            bad(match e.position() {
                Some(p) => format!("line {}: {e}", p.line()),
                None => format!("record {}: {e}", i + 1),
            })
        })?;
        let line = row.position().map_or(i as u64 + 2, |p| p.line());
        lines.push(line);
        let name = match first_col.and_then(|c| row.get(c)) {
            Some(first) => format!("{first} {}", row.get(name_col).unwrap_or(""))
                .trim()
                .to_string(),
            None => row.get(name_col).unwrap_or("").to_string(),
        };
        let roles = match roles_col
            .and_then(|c| row.get(c))
            .filter(|r| !r.trim().is_empty())
        {
            None => vec![Role::Citizen],
            Some(r) => {
                let written: Vec<&str> = r
                    .split([';', '|', ','])
                    .filter(|s| !s.trim().is_empty())
                    .collect();
                let roles: Vec<Role> = written.iter().filter_map(|s| parse_role(s)).collect();
                if let Some(role) = written.iter().find(|s| parse_role(s).is_none()) {
                    unknown_rows += 1;
                    if unknown.len() < MAX_ROSTER_ERRORS {
                        unknown.push(RosterProblem {
                            entry: i as u64 + 1,
                            line: Some(line),
                            problem: RosterProblemKind::UnknownRole,
                            name: Some(name.trim().to_string()).filter(|n| !n.is_empty()),
                            attribute: None,
                            role: Some(role.trim().to_string()),
                        });
                    }
                }
                roles
            }
        };
        let attributes = headers
            .iter()
            .enumerate()
            .filter(|(c, _)| *c != name_col && Some(*c) != roles_col && Some(*c) != first_col)
            .filter_map(|(c, h)| row.get(c).map(|v| (h.clone(), v.to_string())))
            .collect();
        out.push(RosterEntry {
            name,
            roles,
            attributes,
        });
    }
    if !unknown.is_empty() {
        let shown = unknown
            .iter()
            .map(|p| {
                format!(
                    "line {}: unknown role {:?}",
                    p.line.unwrap_or(p.entry),
                    p.role.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = bad(shown);
        e.problems = unknown;
        e.wrong_entries = Some(unknown_rows);
        return Err(e);
    }
    Ok((out, lines))
}

/// Most unknown roles named in one refusal (as the domain names wrong entries).
const MAX_ROSTER_ERRORS: usize = 20;

/// A refusal of a CSV roster speaks of the file's lines: each "entry N" of the domain's
/// message (its place in the import, from 1) becomes "line L".
fn on_csv_lines(message: &str, lines: &[u64]) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("entry ") {
        let after = &rest[at + "entry ".len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let line = after[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| lines.get(i));
        match line {
            Some(line) => {
                out.push_str(&rest[..at]);
                out.push_str(&format!("line {line}"));
            }
            None => out.push_str(&rest[..at + "entry ".len() + digits]),
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A body the router would not read whole: over its size limit (413, typed like every other
/// refusal), or not UTF-8 text (400).
fn unreadable_body(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: ErrorCode::Invalid,
            message: format!(
                "the body is larger than {} MiB: import at most {} people per request",
                super::MAX_BODY / (1024 * 1024),
                d::MAX_ROSTER_ROWS
            ),
            ..ApiError::new(ErrorCode::Invalid, "")
        }
    } else {
        ApiError::new(ErrorCode::BadMessage, e.body_text())
    }
}

/// Import people: all or nothing, at most `MAX_ROSTER_ROWS` per request and `MAX_PEOPLE` in
/// the convention (both checked by the domain, the one place; `invalid` beyond).
pub async fn import_roster(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<RosterAdded>)> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    let body = body.map_err(unreadable_body)?;
    let csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let (entries, lines): (Vec<RosterEntry>, Option<Vec<u64>>) = if csv {
        let (entries, lines) = parse_csv(&roster_text(&body))?;
        (entries, Some(lines))
    } else {
        let entries = serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadMessage, format!("not a JSON roster: {e}")))?;
        (entries, None)
    };
    let people = entries
        .into_iter()
        .map(|e| NewPerson {
            name: e.name,
            roles: e.roles.into_iter().map(wire::role_in).collect(),
            attributes: e.attributes,
        })
        .collect();
    let records = handle
        .command(d::Actor::Organizer, d::Command::AddParticipants { people })
        .await
        .map_err(|e| match (e, &lines) {
            (crate::live::CommandError::Rejected(mut r), Some(lines)) => {
                r.message = on_csv_lines(&r.message, lines);
                let mut e = ApiError::from(crate::live::CommandError::Rejected(r));
                for p in &mut e.problems {
                    p.line = usize::try_from(p.entry)
                        .ok()
                        .and_then(|n| n.checked_sub(1))
                        .and_then(|i| lines.get(i))
                        .copied();
                }
                e
            }
            (e, _) => ApiError::from(e),
        })?;
    let added = records
        .into_iter()
        .filter_map(|r| match r.event {
            d::Event::ParticipantAdded { person } => Some(person.id),
            _ => None,
        })
        .collect();
    Ok((StatusCode::CREATED, Json(RosterAdded { added })))
}

pub async fn roster(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<Person>>> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    let people = handle
        .query(|c, _| {
            c.people
                .values()
                .map(|p| wire::person_out(p, true))
                .collect()
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    Ok(Json(people))
}

pub async fn issue_invites(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> ApiResult<(StatusCode, Json<Vec<Invite>>)> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    let req: IssueInvites = if body.trim().is_empty() {
        IssueInvites::default()
    } else {
        serde_json::from_str(&body)
            .map_err(|e| ApiError::new(ErrorCode::BadMessage, e.to_string()))?
    };
    let conv = id.clone();
    let out = invites::issue(&handle, &id, &app.public_url, req.participants, move |_| {
        invites::random_token(&conv)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(out)))
}

pub async fn invites(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<InviteStatus>>> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    let list = handle
        .query(|c, _| {
            c.people
                .values()
                .map(|p| InviteStatus {
                    participant: p.id.clone(),
                    name: p.name.clone(),
                    roles: p.roles.iter().copied().map(wire::role_out).collect(),
                    active: c.invites.contains_key(&p.id),
                    state: if c.invites.contains_key(&p.id) {
                        InviteState::Active
                    } else if c.revoked_invites.contains(&p.id) {
                        InviteState::Revoked
                    } else {
                        InviteState::None
                    },
                })
                .collect()
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    Ok(Json(list))
}

pub async fn revoke_invite(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, participant)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    handle
        .command(
            d::Actor::Organizer,
            d::Command::RevokeInvite { participant },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct TokenQuery {
    /// Only to refuse it: a token never travels in a URL.
    pub token: Option<String>,
}

/// A participant's HTTP budget (`HTTP_BURST` at once, then `HTTP_PER_SEC`; PROTOCOL.md §19),
/// before the convention's task is asked anything: counted at once when the invitation is
/// known here (so that requests in flight together cannot all pass one check before any is
/// counted), 429 when it is spent. Whether it was counted. Only invitations the convention
/// knows are counted (`budget_after`), so made-up tokens hold nothing here.
pub(super) fn budget_before(app: &AppState, hash: &str) -> ApiResult<bool> {
    match app.take_known_budget(hash) {
        Some(false) => Err(too_often()),
        Some(true) => Ok(true),
        None => Ok(false),
    }
}

/// Once the convention said whether it `known`s the invitation: counted now if it was not
/// before (`budget_before`).
pub(super) fn budget_after(
    app: &AppState,
    hash: &str,
    known: bool,
    counted_now: bool,
) -> ApiResult<()> {
    if known && !counted_now && !app.take_budget(hash) {
        return Err(too_often());
    }
    Ok(())
}

fn too_often() -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "this invitation made too many requests: {} at once, then {} a second",
            convene_protocol::HTTP_BURST,
            convene_protocol::HTTP_PER_SEC
        ),
    )
}

/// Let in an organizer, or a participant of this convention holding one of `roles`, each
/// with their token as `Authorization: Bearer`. The one gate of every route participants may
/// call (the OpenAPI document's `x-convene-access` says who, per route).
///
/// `url_token` is a `?token=` the request carried: refused (400) before anything else, since
/// a token in a URL ends up in proxy logs and browser history. The y-websocket endpoint
/// `/doc`, where a browser cannot send a header, is the one place that takes it.
pub async fn organizer_or(
    app: &AppState,
    headers: &HeaderMap,
    id: &str,
    url_token: Option<String>,
    roles: &'static [d::Role],
) -> ApiResult<Handle> {
    no_url_token(url_token.as_deref())?;
    // Who asks comes first: without credentials, nothing says which conventions exist.
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "a token is required: Authorization: Bearer {organizer token or your invitation token}",
        ));
    };
    let hash = hash_token(token);
    if hash == app.organizer_hash {
        return convention(app, id).await;
    }
    // A participant: within their invitation's budget, before the convention's task is asked
    // anything (requests in a loop must not cost it a message each).
    let counted_now = budget_before(app, &hash)?;
    let unknown = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "unknown or revoked invitation token for this convention",
        )
    };
    let handle = app.hub.find(id).await.ok_or_else(unknown)?;
    let counted = hash.clone();
    // None: no such token; Some(false): a participant whose role may not, or who was
    // removed from the live convention (moderation).
    let allowed = handle
        .query_as(hash, move |c, who| {
            let who = who?;
            Some(!c.is_removed(&who.id) && roles.iter().any(|r| who.has(*r)))
        })
        .await
        .flatten();
    budget_after(app, &counted, allowed.is_some(), counted_now)?;
    match allowed {
        Some(true) => Ok(handle),
        Some(false) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "your role does not allow this (see x-convene-access in /openapi.json), or you were \
             removed from the convention",
        )),
        None => Err(unknown()),
    }
}

/// The audit trail as JSON lines: for organizers and the convention's guarantors, who hold the
/// operator to the record with it, and facilitators, who receive every entry live already.
pub async fn audit(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Response> {
    organizer_or(
        &app,
        &headers,
        &id,
        q.token,
        &[d::Role::Guarantor, d::Role::Facilitator],
    )
    .await?;
    let entries = app
        .hub
        .store()
        .audit(&id)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))?;
    let mut body = String::new();
    for e in entries {
        body.push_str(&serde_json::to_string(&e).unwrap_or_default());
        body.push('\n');
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/jsonl; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"audit-{id}.jsonl\""),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn french_spreadsheet_csv_separators_and_line_ends() {
        assert_eq!(super::separator("Nom;Rôles;Commune\r\nA;b,c;d"), b';');
        assert_eq!(super::separator("name,roles\nA;B,citizen"), b',');
        assert_eq!(super::separator("name\troles\n"), b'\t');
        assert_eq!(
            super::separator("\"a;b\";c,d,e\n"),
            b',',
            "quoted ; do not count"
        );
        assert_eq!(super::separator("nom\n"), b',');
        let (_, lines) =
            super::parse_csv("Nom;Rôles\r\nJeanne;citoyenne\r\nMarc;citoyen\r\n").unwrap();
        assert_eq!(lines, vec![2, 3]);
        assert_eq!(super::roster_text(b"\xEF\xBB\xBFnom"), "nom");
        assert_eq!(super::roster_text(b"R\xE9z\xE9"), "Rézé");
    }

    #[test]
    fn a_csv_refusal_names_the_file_lines() {
        let lines = [2, 3, 5, 6];
        assert_eq!(
            super::on_csv_lines("entry 3 (Ana) has no role", &lines),
            "line 5 (Ana) has no role"
        );
        assert_eq!(
            super::on_csv_lines(
                "2 entries of the roster are wrong, nothing imported: the name of entry 1 is \
                 empty; attribute age of entry 4 is too long",
                &lines
            ),
            "2 entries of the roster are wrong, nothing imported: the name of line 2 is \
             empty; attribute age of line 6 is too long"
        );
        // No such entry, or no number: left as it is.
        assert_eq!(
            super::on_csv_lines("entry 9 and entry x", &lines),
            "entry 9 and entry x"
        );
    }
}
