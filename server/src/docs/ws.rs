//! The y-websocket endpoint `/doc/{convention}/{document}?token=...`: a stock Yjs
//! `WebsocketProvider` connects to it unchanged. Binary frames, one y-protocols message each.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use convene_protocol::close as pclose;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tracing::{info_span, Instrument};

use super::{close, DocConn, MAX_FRAME_BYTES};
use crate::domain::Role;
use crate::gateway::outbox;
use crate::gateway::socket::{self, CloseFrame, Message, Socket, Upgrade};
use crate::gateway::ws::{
    close_after, finish, parse_token, spawn_writer, Watch, CLOSE_TIMEOUT, WRITE_BUFFER,
};
use crate::gateway::AppState;

/// Frames waiting for one connection, and their bytes (frames over a quarter of this, the
/// answer to a large document's sync, a long paste, have as much again of their own, which
/// one may pass alone: see `gateway::outbox`); a reader slower than this is closed with 4009
/// and resyncs.
const OUTBOUND_QUEUE: usize = 1024;
const OUTBOUND_BYTES: usize = 4 * 1024 * 1024;
/// Sustained frames per second a connection may send (typing and cursors), and its burst.
const RATE_PER_SEC: f64 = 200.0;
const BURST: f64 = 1000.0;
/// Reading on after a close (`gateway::ws::finish`): the frames a client within its rate
/// limit can send meanwhile, twice (4,000), and four of the largest frames (8 MiB).
const READ_ON: socket::ReadOn = socket::ReadOn {
    frames: socket::ReadOn::frames_within(BURST, RATE_PER_SEC, 0, CLOSE_TIMEOUT),
    bytes: 4 * MAX_FRAME_BYTES,
};
/// Editors send Yjs updates of a few KiB at times; readers of a document send next to nothing.
const READ_BUFFER: usize = 4 * 1024;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn upgrade(
    ws: Upgrade,
    Path((convention, document)): Path<(String, String)>,
    Query(q): Query<TokenQuery>,
    State(app): State<AppState>,
) -> Response {
    let config = socket::config(READ_BUFFER, WRITE_BUFFER, MAX_FRAME_BYTES);
    ws.on_upgrade(config, move |socket| {
        let tracker = app.tracker.clone();
        tracker.track_future(connection(
            socket,
            app,
            convention,
            document,
            q.token.unwrap_or_default(),
        ))
    })
}

async fn close_now(mut socket: Socket, code: u16, reason: &'static str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: code.into(),
            reason: reason.into(),
        })))
        .await;
}

/// Who the token is, whether they may write this document, and whether they are silent (a
/// guarantor); `Err` with a close code.
async fn admit(
    app: &AppState,
    convention: &str,
    document: &str,
    token: &str,
) -> Result<(String, bool, bool), (u16, &'static str)> {
    let Some((conv, hash)) = parse_token(token).filter(|(c, _)| *c == convention) else {
        return Err((
            close::UNKNOWN_TOKEN,
            "malformed invitation, or for another convention",
        ));
    };
    let handle = app
        .hub
        .find(conv)
        .await
        .ok_or((close::UNKNOWN_TOKEN, "unknown invitation"))?;
    let document = document.to_string();
    let answer = handle
        .query_as(hash, move |c, person| {
            let person = person.ok_or((close::UNKNOWN_TOKEN, "unknown or revoked invitation"))?;
            if c.is_removed(&person.id) {
                return Err((close::REMOVED, "removed from the convention"));
            }
            if !c.documents.contains_key(&document) {
                return Err((close::UNKNOWN_DOCUMENT, "no such document"));
            }
            let pid = &person.id;
            Ok((
                pid.clone(),
                c.can_write(person, &document),
                person.has(Role::Guarantor),
            ))
        })
        .await;
    answer.unwrap_or(Err((pclose::GOING_AWAY, "server shutting down")))
}

async fn connection(
    socket: Socket,
    app: AppState,
    convention: String,
    document: String,
    token: String,
) {
    let conn = app.hub.next_conn_id();
    let span = info_span!("doc_connection", conn, %convention, %document, participant = tracing::field::Empty);
    async move {
        let (participant, writable, silent) =
            match admit(&app, &convention, &document, &token).await {
                Ok(p) => p,
                Err((code, reason)) => {
                    tracing::debug!(code, reason, "document connection refused");
                    return close_now(socket, code, reason).await;
                }
            };
        tracing::Span::current().record("participant", participant.as_str());
        let (out_tx, out_rx) =
            outbox::channel::<Bytes>(OUTBOUND_QUEUE, OUTBOUND_BYTES, Message::Binary);
        let mut handle = app.docs.handle(&convention, &document);
        let link = |h: &super::DocHandle| {
            let c = DocConn {
                id: conn,
                participant: participant.clone(),
                writable,
                silent,
                out: out_tx.clone(),
            };
            let h = h.clone();
            async move { h.join(c).await }
        };
        // The document's task may have just gone idle: a second try starts a fresh one.
        if !link(&handle).await {
            handle = app.docs.handle(&convention, &document);
            if !link(&handle).await {
                return close_now(socket, pclose::INTERNAL, "document unavailable").await;
            }
        }
        let (sink, mut stream) = socket.split();
        let (writer, done) = spawn_writer(sink, out_rx);
        let mut watch = Watch::new(&app.cancel, app.limits.ws_idle);
        let mut rate = socket::TokenBucket::new(RATE_PER_SEC, BURST);
        let mut peer_closed = false;
        loop {
            let next = tokio::select! {
                _ = done.cancelled() => break,
                _ = watch.until(&out_tx) => break,
                n = stream.next() => n,
            };
            watch.heard();
            let msg = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    close_after(&e, &out_tx, (close::TOO_LARGE, "frame too large"));
                    break;
                }
                None => break,
            };
            match msg {
                Message::Binary(data) => {
                    if !rate.take() {
                        out_tx.close(close::RATE_LIMITED, "too many messages");
                        break;
                    }
                    if !handle.frame(conn, data).await {
                        break;
                    }
                }
                Message::Text(_) => {
                    out_tx.close(close::MALFORMED, "binary y-protocols frames only");
                    break;
                }
                Message::Close(_) => {
                    peer_closed = true;
                    break;
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
        handle.leave(conn).await;
        finish(
            &mut stream,
            out_tx,
            writer,
            peer_closed,
            app.cancel.is_cancelled(),
            READ_ON,
        )
        .await;
    }
    .instrument(span)
    .await
}
