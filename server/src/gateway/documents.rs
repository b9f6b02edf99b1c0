//! Documents over HTTP: export (Markdown or HTML, current or a named version), the list of
//! named versions, and what changed between two versions.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::{ErrorCode, VersionInfo};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

use super::api::{bearer, convention, organizer_or, ApiResult};
use super::{ApiError, AppState};
use crate::docs::export::Format;
use crate::docs::RenderError;
use crate::domain::Role;

/// How long a diff may look for the smallest set of changes.
const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// Diffs made at once in the process (each up to `DIFF_TIMEOUT` of a blocking thread).
static DIFFS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
/// Participants (by token hash) whose diff is under way, waits its turn, or has its answer
/// not yet written whole (`Held`): one each at a time, so that the diffs queued for `DIFFS`
/// are at most one per requester, one participant's diffs in a loop keep nobody else's (any
/// convention's) waiting more than one of theirs, and a reader who never finishes holds one.
/// Another at the same time: 429 `rate_limited`.
static DIFFING: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A requester's diff under way (`DIFFING`), until dropped.
struct Diffing(String);

impl Diffing {
    fn start(requester: String) -> ApiResult<Diffing> {
        let mut diffing = DIFFING.lock().unwrap_or_else(|e| e.into_inner());
        if !diffing.insert(requester.clone()) {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "a diff of yours is under way: one at a time",
            ));
        }
        Ok(Diffing(requester))
    }
}

impl Drop for Diffing {
    fn drop(&mut self) {
        DIFFING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
}

/// Everyone in the convention reads its documents.
const READERS: &[Role] = &[
    Role::Citizen,
    Role::Facilitator,
    Role::Rapporteur,
    Role::Guarantor,
    Role::Expert,
];

#[derive(Deserialize)]
pub struct DocQuery {
    token: Option<String>,
    /// `md` (default) or `html`.
    format: Option<String>,
    /// A named version; default: the current content.
    version: Option<u32>,
    /// For a diff: versions to compare (`to` defaults to the current content).
    from: Option<u32>,
    to: Option<u32>,
}

async fn title(app: &AppState, id: &str, doc: &str) -> ApiResult<String> {
    let handle = convention(app, id).await?;
    let doc = doc.to_string();
    handle
        .query(move |c, _| c.documents.get(&doc).map(|d| d.title.clone()))
        .await
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such document"))
}

/// The document's Markdown or HTML, now or at a named version.
/// A rendering as a response body: the same bytes for every request, never a copy (a reader
/// that does not read holds a reference, not a document).
struct Shared(std::sync::Arc<str>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

pub(crate) async fn render(
    app: &AppState,
    id: &str,
    doc: &str,
    version: Option<u32>,
    format: Format,
) -> ApiResult<Bytes> {
    let title = title(app, id, doc).await?;
    match app.docs.rendered(id, doc, version, &title, format).await {
        Ok(text) => Ok(Bytes::from_owner(Shared(text))),
        Err(RenderError::NoVersion(v)) => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no version {v}"),
        )),
        Err(RenderError::Store(e)) => Err(ApiError::new(ErrorCode::Unavailable, e.to_string())),
        Err(e @ RenderError::Decode(_)) => Err(ApiError::new(ErrorCode::Internal, e.to_string())),
    }
}

pub async fn export_doc(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
    Query(q): Query<DocQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    let (format, mime, ext) = match q.format.as_deref() {
        None | Some("md") | Some("markdown") => {
            (Format::Markdown, "text/markdown; charset=utf-8", "md")
        }
        Some("html") => (Format::Html, "text/html; charset=utf-8", "html"),
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!("format {other:?}: md or html"),
            ))
        }
    };
    let body = render(&app, &id, &doc, q.version, format).await?;
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{doc}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}

pub async fn versions(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
    Query(q): Query<DocQuery>,
) -> ApiResult<Json<Vec<VersionInfo>>> {
    let handle = organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    // From the state: the list never reads the stored versions, each a whole document.
    let list = handle
        .query(move |c, _| {
            c.documents.get(&doc).map(|d| {
                d.versions
                    .iter()
                    .map(|(version, label, at)| VersionInfo {
                        version: *version,
                        label: label.clone(),
                        at: *at,
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such document"))?;
    Ok(Json(list))
}

/// A diff as JSON (`format=json`) or as a unified diff.
enum Made {
    Json(serde_json::Value),
    Text(String),
}

/// A line diff of the Markdown of two versions (`to` absent: the current content), as a
/// unified diff, or as JSON (`format=json`): a list of `{ "op": "equal"|"insert"|"delete", "line" }`.
pub async fn diff(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
    Query(q): Query<DocQuery>,
) -> ApiResult<Response> {
    organizer_or(&app, &headers, &id, q.token.clone(), READERS).await?;
    // Participants one diff at a time each (the organizer, who runs the server, is not held).
    let mine = match bearer(&headers).map(super::hash_token) {
        Some(h) if h != app.organizer_hash => Some(Diffing::start(h)?),
        _ => None,
    };
    let from = q.from.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Invalid,
            "give ?from=VERSION (and optionally &to=VERSION)",
        )
    })?;
    let old = render(&app, &id, &doc, Some(from), Format::Markdown).await?;
    let new = render(&app, &id, &doc, q.to, Format::Markdown).await?;
    // The titles name the versions: compare the bodies.
    let body = |b: &Bytes| {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.split_once('\n'))
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_default()
    };
    let (old, new) = (body(&old), body(&new));
    let to_name =
        q.to.map(|v| format!("version {v}"))
            .unwrap_or_else(|| "current".into());
    let json = q.format.as_deref() == Some("json");
    // Myers' diff costs time in proportion to the lines times the differences: two large,
    // very different versions give up on the finest diff after a while (still a correct one).
    // Up to a second of work: on a blocking thread, one diff at a time in the process, so
    // that requests in a loop queue behind each other and never take the runtime's workers.
    let _turn = DIFFS
        .acquire()
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let made = tokio::task::spawn_blocking(move || {
        let d = TextDiff::configure()
            .timeout(DIFF_TIMEOUT)
            .diff_lines(&old, &new);
        if json {
            let ops: Vec<serde_json::Value> = d
                .iter_all_changes()
                .map(|c| {
                    let op = match c.tag() {
                        ChangeTag::Equal => "equal",
                        ChangeTag::Insert => "insert",
                        ChangeTag::Delete => "delete",
                    };
                    serde_json::json!({ "op": op, "line": c.value().trim_end_matches('\n') })
                })
                .collect();
            return Made::Json(serde_json::json!({ "from": from, "to": to_name, "changes": ops }));
        }
        Made::Text(
            d.unified_diff()
                .header(&format!("version {from}"), &to_name)
                .to_string(),
        )
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let (mime, bytes) = match made {
        Made::Text(text) => ("text/x-diff; charset=utf-8", text.into_bytes()),
        Made::Json(json) => (
            "application/json",
            serde_json::to_vec(&json)
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
        ),
    };
    // A diff is this request's own (up to twice the documents): the requester's turn lasts
    // until its body is written or dropped, so that a reader who takes it a few bytes at a
    // time holds one diff of theirs in the server, not one per request.
    let body = Bytes::from_owner(Held { bytes, _turn: mine });
    Ok(([(header::CONTENT_TYPE, mime)], body).into_response())
}

/// A diff's bytes and the requester's turn (`Diffing`), released with them.
struct Held {
    bytes: Vec<u8>,
    _turn: Option<Diffing>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}
