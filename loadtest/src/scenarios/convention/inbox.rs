//! What every participant received during the day: its events (in order of receipt, with the
//! local instant), the rooms its snapshots put it in, and how many `poll_tally` messages.
//! One collector task fills the inboxes from every connection's channel; the day reads them
//! to wait for deliveries and to check them, and, at the end, to measure every delivery.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use convene_protocol::{Actor, Event, ServerMessage};
use tokio::sync::mpsc;

use crate::conn::Received;

/// An event as a participant received it.
pub struct Got {
    pub seq: u64,
    /// The server's timestamp (`at`, ms since the epoch).
    pub server_at: u64,
    /// When it was read, on this process's monotonic clock.
    pub at: Instant,
    pub by: Actor,
    pub request: Option<String>,
    pub event: Event,
}

/// A snapshot as a participant received it: where it puts them.
pub struct Snap {
    pub seq: u64,
    pub at: Instant,
    /// When the server built it (`server_time`, ms since the epoch).
    pub server_time: u64,
    pub room: Option<String>,
}

#[derive(Default)]
pub struct Inbox {
    /// In order of receipt, which is the order of seq unless `out_of_order` says otherwise.
    pub events: Vec<Got>,
    pub snaps: Vec<Snap>,
    pub tallies: u64,
    /// Events whose seq was not above everything received before (a duplicate, or out of
    /// order): never, if the server keeps its promise.
    pub out_of_order: u64,
    last: u64,
}

impl Inbox {
    /// The event with this seq, if it was received.
    pub fn get(&self, seq: u64) -> Option<&Got> {
        let i = self.events.partition_point(|g| g.seq < seq);
        self.events.get(i).filter(|g| g.seq == seq)
    }

    pub fn has(&self, seq: u64) -> bool {
        self.get(seq).is_some()
    }

    /// The highest seq received (event or snapshot).
    pub fn last_seq(&self) -> u64 {
        self.last
    }

    /// Events with a seq of at least `from`.
    pub fn since(&self, from: u64) -> &[Got] {
        let i = self.events.partition_point(|g| g.seq < from);
        &self.events[i..]
    }

    /// Snapshots with a seq in `from..to`.
    pub fn snaps_in(&self, from: u64, to: u64) -> impl Iterator<Item = &Snap> {
        self.snaps
            .iter()
            .filter(move |s| s.seq >= from && s.seq < to)
    }
}

pub type Inboxes = Arc<Mutex<Vec<Inbox>>>;

pub fn lock(inboxes: &Inboxes) -> MutexGuard<'_, Vec<Inbox>> {
    inboxes.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fill the inboxes (one per connection, `ids[conn]` its participant id) until every sender
/// is gone.
pub async fn collect(
    mut rx: mpsc::UnboundedReceiver<Received>,
    inboxes: Inboxes,
    ids: Arc<Vec<String>>,
) {
    while let Some(r) = rx.recv().await {
        // The snapshot is reduced to the participant's room outside the lock.
        let snap = match &r.msg {
            ServerMessage::Snapshot {
                snapshot,
                server_time,
            } => Some(Snap {
                seq: snapshot.seq,
                at: r.at,
                server_time: *server_time,
                room: ids.get(r.conn).and_then(|id| {
                    snapshot
                        .participants
                        .iter()
                        .find(|p| &p.person.id == id)
                        .map(|p| p.room.clone())
                }),
            }),
            // Version 2: the room, not the world.
            ServerMessage::RoomView {
                seq,
                server_time,
                room,
                ..
            } => Some(Snap {
                seq: *seq,
                at: r.at,
                server_time: *server_time,
                room: Some(room.clone()),
            }),
            _ => None,
        };
        let mut all = lock(&inboxes);
        let Some(inbox) = all.get_mut(r.conn) else {
            continue;
        };
        match r.msg {
            ServerMessage::Event { record } => {
                if record.seq <= inbox.last {
                    inbox.out_of_order += 1;
                }
                inbox.last = inbox.last.max(record.seq);
                inbox.events.push(Got {
                    seq: record.seq,
                    server_at: record.at,
                    at: r.at,
                    by: record.by,
                    request: record.request,
                    event: record.event,
                });
            }
            ServerMessage::PollTally { .. } => inbox.tallies += 1,
            _ => {
                if let Some(s) = snap {
                    inbox.last = inbox.last.max(s.seq);
                    inbox.snaps.push(s);
                }
            }
        }
    }
}
