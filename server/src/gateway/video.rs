//! `GET /api/conventions/{id}/video`: the video meeting of the room the caller is in now,
//! with their access token. The caller is a participant, by their invitation token in
//! `Authorization: Bearer`; `?room=` names the room the page believes it is in, and is refused
//! (403) when the caller is elsewhere, so a page never joins a meeting it left.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use convene_protocol::api::VideoMeeting;
use convene_protocol::ErrorCode;
use serde::Deserialize;

use super::api::ApiResult;
use super::{hash_token, ApiError, AppState};

#[derive(Deserialize)]
pub struct RoomQuery {
    room: Option<String>,
    /// Refused: a token never goes in a URL (see `api::organizer_or`).
    token: Option<String>,
}

/// Why a meeting is not handed out, decided inside the convention's task.
enum Refusal {
    Unknown,
    /// Removed from the live convention (moderation): no meeting until readmitted.
    Removed,
    Elsewhere {
        here: String,
    },
    Sign(String),
}

pub async fn meeting(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<RoomQuery>,
) -> ApiResult<Json<VideoMeeting>> {
    let unknown = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "a participant's invitation token is required (Authorization: Bearer ...)",
        )
    };
    super::api::no_url_token(q.token.as_deref())?;
    let token = super::api::bearer(&headers).ok_or_else(unknown)?;
    let hash = hash_token(token.trim());
    // Within the invitation's budget, as every route a participant may call.
    let counted_now = super::api::budget_before(&app, &hash)?;
    // Without a valid token, nothing says whether the convention exists.
    let handle = app.hub.find(&id).await.ok_or_else(unknown)?;
    let counted = hash.clone();
    let video = app.video.clone();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let answer = handle
        .query_as(hash, move |c, who| {
            let who = who.ok_or(Refusal::Unknown)?.id.clone();
            if c.is_removed(&who) {
                return Err(Refusal::Removed);
            }
            let here = c.location_of(&who);
            if q.room.is_some_and(|r| r != here) {
                return Err(Refusal::Elsewhere {
                    here: here.to_string(),
                });
            }
            video
                .meeting(&id, c, &who, now)
                .map_err(|e| Refusal::Sign(e.to_string()))
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    let known = !matches!(answer, Err(Refusal::Unknown));
    super::api::budget_after(&app, &counted, known, counted_now)?;
    match answer {
        Ok(m) => Ok(Json(m)),
        Err(Refusal::Unknown) => Err(unknown()),
        Err(Refusal::Removed) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "you were removed from the convention by the facilitators",
        )),
        Err(Refusal::Elsewhere { here }) => Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("not your room: only the meeting of the room you are in ({here}) is given"),
        )),
        Err(Refusal::Sign(e)) => Err(ApiError::new(ErrorCode::Internal, e)),
    }
}
