//! Public audience (PROTOCOL.md §24): the organizer's public link
//! (`/api/conventions/{id}/public-link`), the public WebSocket `/public/ws` and the published
//! opinion `/public/opinion`.
//!
//! A viewer says `watch` with the link, then receives the convention's `public_view` frame
//! each time it changes: the same bytes for every viewer, taken from the convention's feed
//! (`live::public`). Nothing queues per viewer: a slow one skips to the latest view. A viewer
//! may send `ping`, and `public_vote` to answer the open public poll; nothing else.
//!
//! A viewer's budget, enforced here: frames of at most `MAX_PUBLIC_FRAME_BYTES` (else 1009);
//! `ping` and `public_vote` together at most `PUBLIC_MESSAGES_PER_SEC`, bursts of
//! `PUBLIC_MESSAGE_BURST` (else 4008); one ballot per poll and connection (a second is
//! refused here, without reaching the convention), one per browser id and poll (the
//! convention's state), `MAX_PUBLIC_BALLOTS` per poll.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use convene_protocol::{
    self as p, close, public_close, ErrorCode, PublicClientMessage, PublicServerMessage,
};
use futures_util::{SinkExt, StreamExt};
use tokio::time::{timeout, Instant};
use tracing::{debug, info_span, Instrument};

use super::api::{bearer, convention, organizer, organizer_or, ApiResult, TokenQuery};
use super::socket::{self, CloseFrame, Message, Socket, Upgrade};
use super::{hash_token, ApiError, AppState};
use crate::docs::export::Format;
use crate::domain as d;
use crate::live::public::same_frame;
use crate::live::{CommandError, Frame};

/// A viewer's reads are tiny (`watch`, `ping`): a small buffer.
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 2 * 1024;
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// A write a viewer does not take within this is a stalled viewer: closed 4009.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a view may take to be built after `watch` (a replica being loaded).
const FIRST_VIEW_TIMEOUT: Duration = Duration::from_secs(5);

/// The page's URL for a link: the token travels in the fragment, never sent to servers.
pub fn page_url(public_url: &str, token: &str) -> String {
    format!("{}/public#link={token}", public_url.trim_end_matches('/'))
}

fn body_or_default<T: serde::de::DeserializeOwned + Default>(body: &str) -> ApiResult<T> {
    if body.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(body).map_err(|e| ApiError::new(ErrorCode::BadMessage, e.to_string()))
}

/// `POST /api/conventions/{id}/public-link`: a new link (any earlier one stops working and
/// its viewers are closed with 4021).
pub async fn create(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> ApiResult<(StatusCode, Json<p::PublicLink>)> {
    organizer(&app, &headers)?;
    let req: p::CreatePublicLink = body_or_default(&body)?;
    let handle = convention(&app, &id).await?;
    let token = crate::invites::random_token(&id);
    let records = handle
        .command(
            d::Actor::Organizer,
            d::Command::CreatePublicLink {
                token_hash: hash_token(&token),
                livestream: req.livestream,
            },
        )
        .await?;
    let created_at = records.first().map_or(0, |r| r.at);
    Ok((
        StatusCode::CREATED,
        Json(p::PublicLink {
            url: page_url(&app.public_url, &token),
            token,
            created_at,
        }),
    ))
}

/// `PUT /api/conventions/{id}/public-link`: the livestream shown with the active link.
pub async fn set_livestream(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> ApiResult<StatusCode> {
    organizer(&app, &headers)?;
    let req: p::SetLivestream = body_or_default(&body)?;
    let handle = convention(&app, &id).await?;
    handle
        .command(
            d::Actor::Organizer,
            d::Command::SetLivestream {
                livestream: req.livestream,
            },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/conventions/{id}/public-link`: revoke it; its viewers are closed (4021).
pub async fn revoke(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    organizer(&app, &headers)?;
    let handle = convention(&app, &id).await?;
    handle
        .command(d::Actor::Organizer, d::Command::RevokePublicLink)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/conventions/{id}/public-link`: whether one is active, and how many watch.
pub async fn status(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<p::PublicLinkStatus>> {
    // Facilitators and guarantors read it too (the console shows the published version).
    let handle = staff_reader(&app, &headers, &id, q.token).await?;
    let (active, livestream, published) = handle
        .query(|c, _| {
            (
                c.public.link.is_some(),
                c.public.livestream.clone(),
                c.public
                    .published
                    .as_ref()
                    .map(|(document, version)| p::PublishedVersion {
                        document: document.clone(),
                        version: *version,
                    }),
            )
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    Ok(Json(p::PublicLinkStatus {
        active,
        livestream,
        published,
        viewers: app.hub.public().viewers_of(&id),
    }))
}

/// The public audience's state is read by the organizer, facilitators and guarantors.
async fn staff_reader(
    app: &AppState,
    headers: &HeaderMap,
    id: &str,
    token: Option<String>,
) -> ApiResult<crate::live::Handle> {
    organizer_or(
        app,
        headers,
        id,
        token,
        &[d::Role::Facilitator, d::Role::Guarantor],
    )
    .await
}

/// `GET /api/conventions/{id}/public-polls`: every public poll with its live tally, for the
/// organizers, facilitators and guarantors.
pub async fn polls(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> ApiResult<Json<p::PublicPolls>> {
    let handle = staff_reader(&app, &headers, &id, q.token).await?;
    let polls = handle
        .query(|c, _| {
            c.public
                .polls
                .iter()
                .map(crate::wire::public::poll_status)
                .collect()
        })
        .await
        .ok_or_else(ApiError::shutting_down)?;
    Ok(Json(p::PublicPolls { polls }))
}

/// `GET /public/opinion`: the published version of the opinion as HTML, for whoever holds
/// the public link (`Authorization: Bearer {link}`). Served sandboxed: no script runs.
pub async fn opinion(State(app): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let unknown = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "the active public link is required: Authorization: Bearer {link}",
        )
    };
    let (id, hash) = bearer(&headers)
        .and_then(super::ws::parse_token)
        .ok_or_else(unknown)?;
    let id = id.to_string();
    let handle = app.hub.find(&id).await.ok_or_else(unknown)?;
    let published = handle
        .query(move |c, _| {
            (c.public.link.as_deref() == Some(hash.as_str())).then(|| c.public.published.clone())
        })
        .await
        .ok_or_else(ApiError::shutting_down)?
        .ok_or_else(unknown)?;
    let (doc, version) = published.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "no opinion is published for the public yet",
        )
    })?;
    let html = super::documents::render(&app, &id, &doc, Some(version), Format::Html).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response())
}

/// `GET /public/ws`: a public viewer.
pub async fn upgrade(ws: Upgrade, State(app): State<AppState>) -> Response {
    let config = socket::config(READ_BUFFER, WRITE_BUFFER, p::MAX_PUBLIC_FRAME_BYTES);
    ws.on_upgrade(config, move |socket| {
        let tracker = app.tracker.clone();
        tracker.track_future(viewer(socket, app))
    })
}

async fn close_now(socket: &mut Socket, code: u16, reason: &'static str) {
    let close = socket.send(Message::Close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    })));
    let _ = timeout(WRITE_TIMEOUT, close).await;
}

async fn send_frame(socket: &mut Socket, frame: Frame) -> bool {
    let write = async {
        for part in socket::frames(Message::Text(frame)) {
            socket.feed(part).await?;
        }
        socket.flush().await
    };
    matches!(timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())))
}

fn encode(message: &PublicServerMessage) -> Frame {
    Frame::from(serde_json::to_string(message).unwrap_or_default())
}

fn refused(poll: String, reason: p::PublicVoteRefusal, message: impl Into<String>) -> Frame {
    encode(&PublicServerMessage::PublicVoteRefused {
        poll,
        reason,
        message: message.into(),
    })
}

/// Record a viewer's answer to a public poll: `public_voted` once durable, or why not.
async fn vote(
    app: &AppState,
    convention: &str,
    voted: &mut Vec<String>,
    poll: String,
    choice: u32,
    browser: String,
) -> Frame {
    use p::PublicVoteRefusal as R;
    if poll.chars().count() > p::MAX_PUBLIC_POLL_ID_CHARS {
        let cut = poll.chars().take(p::MAX_PUBLIC_POLL_ID_CHARS).collect();
        return refused(cut, R::NotFound, "no such public poll");
    }
    if !d::public::browser_ok(&browser) {
        return refused(
            poll,
            R::Invalid,
            "the browser id is 16 to 64 characters of A-Z, a-z, 0-9, - and _",
        );
    }
    if voted.contains(&poll) {
        return refused(
            poll,
            R::AlreadyVoted,
            "this browser has answered this poll already",
        );
    }
    let Some(handle) = app.hub.find(convention).await else {
        return refused(
            poll,
            R::Unavailable,
            "the convention is not available: try again",
        );
    };
    let hash = d::public::browser_hash(convention, &poll, &browser);
    let command = d::Command::CastPublicBallot {
        poll: poll.clone(),
        choice,
        browser: hash.clone(),
    };
    let result = handle.command(d::Actor::Public, command).await;
    match result {
        Ok(_) => {
            voted.push(poll.clone());
            encode(&PublicServerMessage::PublicVoted { poll, choice })
        }
        Err(CommandError::Rejected(r)) => {
            // Which of the poll's rules refused it, the state says (each, once true, stays true).
            let id = poll.clone();
            let refusal = handle
                .query(move |c, _| d::public::ballot_refusal(&c.public, &id, choice, &hash))
                .await
                .flatten();
            let reason = match refusal {
                Some(d::public::Refusal::NotFound) => R::NotFound,
                Some(d::public::Refusal::Closed) => R::Closed,
                Some(d::public::Refusal::NoSuchOption | d::public::Refusal::NotAHash) => R::Invalid,
                Some(d::public::Refusal::AlreadyVoted) => R::AlreadyVoted,
                Some(d::public::Refusal::Full) => R::Full,
                None => R::Unavailable,
            };
            refused(poll, reason, r.message)
        }
        Err(e) => refused(poll, R::Unavailable, format!("{e}: try again")),
    }
}

fn pong() -> Frame {
    Frame::from(
        serde_json::to_string(&PublicServerMessage::Pong {
            server_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        })
        .unwrap_or_default(),
    )
}

async fn viewer(mut socket: Socket, app: AppState) {
    let span = info_span!("viewer", convention = tracing::field::Empty);
    async move {
        // 1. The `watch`.
        let first = match timeout(HELLO_TIMEOUT, socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<PublicClientMessage>(&t).ok(),
            _ => None,
        };
        let Some(PublicClientMessage::Watch { protocol, link }) = first else {
            app.hub.metrics().reject(ErrorCode::BadMessage);
            return close_now(&mut socket, close::HELLO_EXPECTED, "watch expected").await;
        };
        if protocol != p::PROTOCOL_VERSION {
            app.hub.metrics().reject(ErrorCode::UnsupportedVersion);
            return close_now(&mut socket, close::UNSUPPORTED_VERSION, "unsupported protocol version").await;
        }
        let Some((convention, hash)) = super::ws::parse_token(&link) else {
            app.hub.metrics().reject(ErrorCode::Unauthorized);
            return close_now(&mut socket, public_close::UNKNOWN_LINK, "unknown public link").await;
        };
        tracing::Span::current().record("convention", convention);
        // The node's cap (`--max-public-viewers` lowered to the viewers' share of the
        // connection slots, so members always find one), before anything is held for this viewer.
        let Some(_seat) = app.hub.public().admit(app.limits.max_public_viewers) else {
            app.hub.metrics().reject(ErrorCode::Unavailable);
            return close_now(&mut socket, public_close::FULL, "too many viewers: try again later").await;
        };
        let Some(handle) = app.hub.find(convention).await else {
            app.hub.metrics().reject(ErrorCode::Unauthorized);
            return close_now(&mut socket, public_close::UNKNOWN_LINK, "unknown public link").await;
        };
        let want = hash.clone();
        let active = handle
            .query(move |c, _| c.public.link.as_deref() == Some(want.as_str()))
            .await
            .unwrap_or(false);
        if !active {
            app.hub.metrics().reject(ErrorCode::Unauthorized);
            return close_now(&mut socket, public_close::UNKNOWN_LINK, "unknown public link").await;
        }
        let feed = app.hub.public().feed(convention);
        let (mut rx, _counted) = feed.watch();
        // The task builds the view after the turn that answered the query: wait for it.
        let first = {
            let ready = timeout(
                FIRST_VIEW_TIMEOUT,
                rx.wait_for(|s| s.frame.is_some() && s.link.as_deref() == Some(hash.as_str())),
            )
            .await;
            match ready {
                Ok(Ok(s)) => Some(s.clone()),
                _ => None,
            }
        };
        let Some(mut sent) = first else {
            return close_now(&mut socket, public_close::UNKNOWN_LINK, "unknown public link").await;
        };
        // The view, the count if it changed since, and the clock now (the view was built when
        // it last changed) to run countdowns against.
        for f in [sent.frame.clone(), sent.count.clone(), Some(pong())].into_iter().flatten() {
            if !send_frame(&mut socket, f).await {
                return;
            }
        }
        debug!("watching");

        // 2. Views as they change; pings both ways; nothing else.
        let idle = app.limits.ws_idle;
        let mut ping = tokio::time::interval(idle / 3);
        ping.tick().await;
        let mut heard = Instant::now();
        let mut rate = socket::TokenBucket::new(p::PUBLIC_MESSAGES_PER_SEC, p::PUBLIC_MESSAGE_BURST);
        // The polls this connection answered.
        // (A few at most: one per public poll this viewer answered.)
        let mut voted = Vec::new();
        let closing: Option<(u16, &'static str)> = loop {
            tokio::select! {
                biased;
                _ = app.cancel.cancelled() => break Some((close::GOING_AWAY, "server shutting down")),
                changed = rx.changed() => {
                    if changed.is_err() {
                        break Some((close::GOING_AWAY, "the convention went away"));
                    }
                    let shown = rx.borrow_and_update().clone();
                    if shown.deleted {
                        break Some((close::DELETED, "the convention was deleted"));
                    }
                    if shown.link.as_deref() != Some(hash.as_str()) {
                        break Some((public_close::LINK_REVOKED, "the public link was revoked"));
                    }
                    // Only what changed: the view, or the count alone (the same shared bytes
                    // as every other viewer's).
                    let view = (!same_frame(&shown.frame, &sent.frame)).then(|| shown.frame.clone()).flatten();
                    let count = (!same_frame(&shown.count, &sent.count)).then(|| shown.count.clone()).flatten();
                    sent = shown;
                    let mut ok = true;
                    for f in [view, count].into_iter().flatten() {
                        ok = ok && send_frame(&mut socket, f).await;
                    }
                    if !ok {
                        break Some((close::SLOW_CONSUMER, "too slow"));
                    }
                }
                _ = ping.tick() => {
                    if heard.elapsed() > idle {
                        break Some((close::GOING_AWAY, "idle for too long"));
                    }
                    let ping = socket.send(Message::Ping(Default::default()));
                    if !matches!(timeout(WRITE_TIMEOUT, ping).await, Ok(Ok(()))) {
                        break None;
                    }
                }
                msg = socket.next() => {
                    heard = Instant::now();
                    match msg {
                        None => break None,
                        Some(Err(e)) => {
                            // A rule broken, as on `/ws`; a viewer gone without a close is none.
                            let closing = socket::close_for(&e, (close::TOO_LARGE, "frame too large"));
                            if closing.is_some() {
                                app.hub.metrics().reject(ErrorCode::BadMessage);
                            }
                            break closing;
                        }
                        Some(Ok(Message::Close(_))) => break None,
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                        Some(Ok(Message::Text(t))) => {
                            // Boxed, as the vote below: a viewer's task stays small.
                            let Ok(message) = serde_json::from_str::<Box<PublicClientMessage>>(&t) else {
                                app.hub.metrics().reject(ErrorCode::Forbidden);
                                break Some((public_close::READ_ONLY, "a public viewer only watches and answers public polls"));
                            };
                            if matches!(*message, PublicClientMessage::Watch { .. }) {
                                app.hub.metrics().reject(ErrorCode::Forbidden);
                                break Some((public_close::READ_ONLY, "a public viewer watches once"));
                            }
                            if !rate.take() {
                                app.hub.metrics().reject(ErrorCode::RateLimited);
                                break Some((close::RATE_LIMITED, "too many messages"));
                            }
                            let answer = match *message {
                                // Boxed: its state (the command, its reply) is held only
                                // while a vote is under way, not in every viewer's task.
                                PublicClientMessage::PublicVote { poll, choice, browser } => {
                                    Box::pin(vote(&app, convention, &mut voted, poll, choice, browser)).await
                                }
                                _ => pong(),
                            };
                            if !send_frame(&mut socket, answer).await {
                                break None;
                            }
                        }
                        Some(Ok(_)) => {
                            app.hub.metrics().reject(ErrorCode::Forbidden);
                            break Some((public_close::READ_ONLY, "a public viewer only watches"));
                        }
                    }
                }
            }
        };
        drop(rx);
        if let Some((code, reason)) = closing {
            close_now(&mut socket, code, reason).await;
        }
        debug!("left");
    }
    .instrument(span)
    .await
}
