//! The edge: axum routes for the organizer HTTP API, the WebSocket upgrade, health, metrics
//! and the OpenAPI document.

mod api;
// Attendance (issue #17).
mod attendance;
mod documents;
mod exports;
mod floor;
mod hearings;
mod nodes;
// Run sheet.
pub mod openapi;
pub mod outbox;
// Public audience (§24).
mod public;
mod runsheet;
pub mod serve;
pub mod socket;
mod table;
mod video;
mod web;
pub mod ws;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use convene_protocol::api::{ErrorBody, RosterProblem, RosterProblemKind};
use convene_protocol::ErrorCode;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::live::{CommandError, Hub};

pub use nodes::{parse_nodes, BadNode};
pub use public::page_url;

/// Largest HTTP body accepted (a roster of thousands fits).
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub hub: Hub,
    pub docs: crate::docs::DocHub,
    /// SHA-256 of the organizer token: compared by hash, never stored in clear in memory.
    pub organizer_hash: String,
    /// Base of invitation links, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// The cluster's nodes as clients reach them (`--nodes`), served at `/nodes`.
    pub nodes: std::sync::Arc<Vec<String>>,
    /// The video service and the key of its meeting names (`GET /api/conventions/{id}/video`).
    pub video: std::sync::Arc<crate::video::Video>,
    pub tracker: TaskTracker,
    pub cancel: CancellationToken,
    pub limits: Limits,
    /// HTTP requests of each invitation (`HTTP_BURST`, `HTTP_PER_SEC`), keyed by the hash of
    /// a token its convention knows: at most the invitations used lately.
    pub requests: std::sync::Arc<std::sync::Mutex<socket::Budgets<String>>>,
}

impl AppState {
    /// One request of the invitation of `hash` counted, if it made requests lately: whether
    /// its budget allowed it. `None`: no request of it is remembered (it may be made up).
    pub(crate) fn take_known_budget(&self, hash: &str) -> Option<bool> {
        self.budgets().take_known(&hash.to_string())
    }

    /// One request of the invitation of `hash` counted: whether its budget allowed it.
    pub(crate) fn take_budget(&self, hash: &str) -> bool {
        self.budgets().take(hash.to_string())
    }

    fn budgets(&self) -> std::sync::MutexGuard<'_, socket::Budgets<String>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The budgets of `AppState::requests`.
pub fn http_budgets() -> std::sync::Arc<std::sync::Mutex<socket::Budgets<String>>> {
    std::sync::Arc::new(std::sync::Mutex::new(socket::Budgets::new(
        f64::from(convene_protocol::HTTP_PER_SEC),
        f64::from(convene_protocol::HTTP_BURST),
        4096,
    )))
}

/// Budgets of the participant endpoints that the configuration sets.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A WebSocket silent this long (pings unanswered) is closed; pings go every third.
    pub ws_idle: std::time::Duration,
    /// Public audience (§24): viewers this node holds at once (`--max-public-viewers`,
    /// lowered to the viewers' share of the connection slots: `HttpLimits::public_viewers`).
    pub max_public_viewers: usize,
}

/// SHA-256 hex of a token: what the log stores instead of the token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Only organizer routes take a body (a convention, a roster, invitations, the public link).
/// A request that carries one (`POST`, `PUT`, `PATCH`) is refused 401 before it is read unless
/// it holds the organizer token: otherwise anyone could announce 4 MiB bodies on many
/// connections, send them slowly or never finish them, and have the server hold them (hyper
/// has no timeout on a body), without any token. Extractors read a body before the handler
/// checks who asks; this runs first.
async fn organizer_before_body(
    axum::extract::State(app): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::Method;
    let takes_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH);
    if takes_body {
        if let Err(e) = api::organizer(&app, req.headers()) {
            return e.into_response();
        }
    }
    next.run(req).await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/ws", get(ws::upgrade))
        .route(
            "/doc/{convention}/{document}",
            get(crate::docs::ws::upgrade),
        )
        .route(
            "/api/conventions/{id}/documents/{doc}/export",
            get(documents::export_doc),
        )
        .route(
            "/api/conventions/{id}/documents/{doc}/versions",
            get(documents::versions),
        )
        .route(
            "/api/conventions/{id}/documents/{doc}/diff",
            get(documents::diff),
        )
        .route("/healthz", get(api::health))
        .route("/nodes", get(nodes::serve))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(openapi::serve))
        .route(
            "/api/conventions",
            post(api::create_convention).get(api::list_conventions),
        )
        .route(
            "/api/conventions/{id}",
            get(api::get_convention).delete(api::delete_convention),
        )
        .route(
            "/api/conventions/{id}/roster",
            post(api::import_roster).get(api::roster),
        )
        .route(
            "/api/conventions/{id}/invites",
            post(api::issue_invites).get(api::invites),
        )
        .route(
            "/api/conventions/{id}/invites/{participant}",
            delete(api::revoke_invite),
        )
        .route("/api/conventions/{id}/audit", get(api::audit))
        .route("/api/conventions/{id}/polls", get(exports::all))
        .route(
            "/api/conventions/{id}/polls/{poll}/results",
            get(exports::poll_results),
        )
        .route(
            "/api/conventions/{id}/polls/{poll}/ballots",
            get(exports::ballots),
        )
        .route("/api/conventions/{id}/rotation", get(exports::rotation))
        // Run sheet.
        .route("/api/conventions/{id}/runsheet", get(runsheet::export))
        // Hearings.
        .route(
            "/api/conventions/{id}/hearings/{hearing}/questions",
            get(hearings::questions),
        )
        .route("/api/conventions/{id}/chat", get(exports::chat))
        .route("/api/conventions/{id}/video", get(video::meeting))
        // Public audience (§24).
        .route(
            "/api/conventions/{id}/public-link",
            post(public::create)
                .put(public::set_livestream)
                .delete(public::revoke)
                .get(public::status),
        )
        .route("/api/conventions/{id}/public-polls", get(public::polls))
        .route("/public/ws", get(public::upgrade))
        .route("/public/opinion", get(public::opinion))
        .route("/api/conventions/{id}/floor-time", get(floor::floor_time))
        // Attendance (issue #17).
        .route(
            "/api/conventions/{id}/attendance",
            get(attendance::attendance),
        )
        .fallback(web::serve)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            organizer_before_body,
        ))
        .with_state(state)
}

/// An HTTP error with its stable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// A refused roster import: its wrong entries as data (`ErrorBody::problems`).
    pub problems: Vec<RosterProblem>,
    /// With `problems`: how many entries were wrong in all.
    pub wrong_entries: Option<u64>,
}

impl ApiError {
    /// The convention's task did not answer: it is stopping (the server shuts down, the
    /// convention is deleted). 503.
    pub fn shutting_down() -> Self {
        ApiError::new(ErrorCode::Unavailable, "the convention is shutting down")
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let status = match code {
            ErrorCode::BadMessage
            | ErrorCode::Invalid
            | ErrorCode::UnknownType
            | ErrorCode::UnsupportedVersion => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::Muted => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Conflict | ErrorCode::Tampered => StatusCode::CONFLICT,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code,
            message: message.into(),
            problems: Vec::new(),
            wrong_entries: None,
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        let mut out = ApiError::new(e.code(), e.to_string());
        if let CommandError::Rejected(r) = &e {
            if !r.roster.is_empty() {
                out.problems = r.roster.iter().map(roster_problem).collect();
                out.wrong_entries = Some(r.roster_wrong as u64);
            }
        }
        out
    }
}

/// A wrong roster entry on the wire (`line` is set by the CSV import).
fn roster_problem(p: &crate::domain::RosterProblem) -> RosterProblem {
    use crate::domain::RosterFault as F;
    RosterProblem {
        entry: p.entry as u64,
        line: None,
        problem: match p.fault {
            F::NameEmpty => RosterProblemKind::NameEmpty,
            F::NameTooLong => RosterProblemKind::NameTooLong,
            F::NoRole => RosterProblemKind::NoRole,
            F::GuarantorAlone => RosterProblemKind::GuarantorAlone,
            F::AttributeNameEmpty => RosterProblemKind::AttributeNameEmpty,
            F::AttributeNameTooLong => RosterProblemKind::AttributeNameTooLong,
            F::AttributeTooLong => RosterProblemKind::AttributeTooLong,
        },
        name: p.name.clone(),
        attribute: p.attribute.clone(),
        role: None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                code: self.code,
                message: self.message,
                problems: self.problems,
                wrong_entries: self.wrong_entries,
            }),
        )
            .into_response()
    }
}
