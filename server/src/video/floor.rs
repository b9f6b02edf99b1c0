//! The floor controls the microphone (LiveKit with `--livekit-floor-mic`): in the plenary,
//! only whoever holds the floor and facilitators may publish audio. Tokens carry the
//! permission of the moment they are minted; when the floor moves, this controller tells
//! LiveKit through its server API (Twirp `RoomService/UpdateParticipant`, with a `roomAdmin`
//! token), so that the speaking queue is what decides who is heard.
//!
//! The convention's task only queues the change (it must never wait on a remote service);
//! one worker sends the calls in order, so that "A loses the floor, B gets it" reaches
//! LiveKit in that order. The queue is bounded (`QUEUE`): past it, changes are dropped with a
//! warning (people then keep the permission of their token until they join again).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use super::tokens::{Publish, Source, Validity};
use super::{publish_of, Video};
use crate::domain::{Convention, Event, PLENARY};
use crate::live::Follower;

/// Permission changes waiting for the worker.
pub const QUEUE: usize = 1024;
/// How long one call to LiveKit may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Lifetime of the `roomAdmin` token of one call.
const ADMIN_TTL_SECS: u64 = 60;

/// One participant's new permission in one LiveKit room.
#[derive(Debug)]
struct Update {
    convention: String,
    participant: String,
    meeting: String,
    publish: Publish,
}

/// Follows the floor of every convention's plenary and updates LiveKit's permissions.
pub struct FloorMic {
    video: Arc<Video>,
    tx: mpsc::Sender<Update>,
}

impl FloorMic {
    /// The controller, when the video is LiveKit with `--livekit-floor-mic`; its worker runs
    /// until `cancel`.
    pub fn start(
        video: Arc<Video>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> Option<Arc<FloorMic>> {
        let (lk, _) = video.floor_mic()?;
        let client = match reqwest::Client::builder().timeout(CALL_TIMEOUT).build() {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "no HTTP client: the floor will not control the microphone");
                return None;
            }
        };
        info!(api = %lk.api_url, "the floor controls the microphone in the plenary");
        let (tx, rx) = mpsc::channel(QUEUE);
        tracker.spawn(worker(video.clone(), client, rx, cancel));
        Some(Arc::new(FloorMic { video, tx }))
    }
}

impl Follower for FloorMic {
    fn appended(&self, convention: &str, state: &Convention, event: &Event) {
        let participant = match event {
            Event::FloorGiven {
                room, participant, ..
            }
            | Event::FloorEnded {
                room, participant, ..
            } if room == PLENARY => participant,
            _ => return,
        };
        // From the state after the event's batch: the permission that holds now, whatever
        // else the batch did.
        let update = Update {
            convention: convention.to_string(),
            participant: participant.clone(),
            meeting: self.video.meeting_name(convention, PLENARY),
            publish: publish_of(state, participant, PLENARY, true),
        };
        if let Err(e) = self.tx.try_send(update) {
            warn!(convention, %participant, error = %e, "floor microphone update dropped");
        }
    }
}

async fn worker(
    video: Arc<Video>,
    client: reqwest::Client,
    mut rx: mpsc::Receiver<Update>,
    cancel: CancellationToken,
) {
    loop {
        let update = tokio::select! {
            _ = cancel.cancelled() => break,
            u = rx.recv() => match u {
                Some(u) => u,
                None => break,
            },
        };
        send(&video, &client, &update).await;
    }
}

/// The permission as LiveKit's API takes it (protobuf JSON: camelCase names, enum names).
/// The whole permission is replaced, so every field is given.
fn permission(publish: &Publish) -> Value {
    match publish {
        Publish::Everything => json!({
            "canSubscribe": true, "canPublish": true, "canPublishData": true,
            "canPublishSources": Source::ALL.iter().map(|s| s.api_name()).collect::<Vec<_>>(),
        }),
        Publish::Only(sources) => json!({
            "canSubscribe": true, "canPublish": true, "canPublishData": true,
            "canPublishSources": sources.iter().map(|s| s.api_name()).collect::<Vec<_>>(),
        }),
        Publish::Observe => json!({
            "canSubscribe": true, "canPublish": false, "canPublishData": false, "hidden": true,
        }),
    }
}

async fn send(video: &Video, client: &reqwest::Client, u: &Update) {
    let Some((lk, _)) = video.floor_mic() else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let token = match lk.issuer.admin_token(
        &u.meeting,
        Validity {
            now,
            expires: now + ADMIN_TTL_SECS,
        },
    ) {
        Ok(t) => t,
        Err(e) => {
            warn!(error = %e, "floor microphone update not signed");
            return;
        }
    };
    let body = json!({
        "room": u.meeting,
        "identity": u.participant,
        "permission": permission(&u.publish),
    });
    let url = format!("{}/twirp/livekit.RoomService/UpdateParticipant", lk.api_url);
    let speaks = matches!(u.publish, Publish::Everything);
    match client
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            debug!(convention = %u.convention, participant = %u.participant, speaks, "floor microphone updated");
        }
        // Not in the meeting (yet): the token they join with carries the permission.
        Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
            debug!(convention = %u.convention, participant = %u.participant, speaks, "floor microphone: not in the meeting");
        }
        Ok(r) => {
            warn!(convention = %u.convention, participant = %u.participant, status = %r.status(), "floor microphone update refused");
        }
        Err(e) => {
            warn!(convention = %u.convention, participant = %u.participant, error = %e, "floor microphone update failed");
        }
    }
}
