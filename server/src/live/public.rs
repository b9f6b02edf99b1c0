//! Public audience (PROTOCOL.md §24): what the public sees of a convention, and how it
//! reaches every viewer of this node at the cost of one encoding per change.
//!
//! Each live convention has a `Feed`: a `watch` channel holding the latest `public_view`
//! frame (encoded once, the same bytes for every viewer) and the hash of the active public
//! link. The convention's task builds the view after each turn in which the log moved (and
//! when the viewer count changed, at most once a second) and replaces the frame only if the
//! view changed: a chat line, a hand raised or a move changes nothing here and costs no
//! viewer anything. A viewer's connection waits on the channel and writes the latest frame;
//! one that reads slowly skips the views it missed (each is whole), so nothing queues per
//! viewer. Viewers are counted per feed (this node) and in total (the node's cap:
//! `--max-public-viewers`, lowered to the viewers' share of the connection slots); in cluster
//! mode each node publishes its count and the task adds them up, for the view only: each node
//! admits against its own total.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use convene_protocol as p;
use tokio::sync::watch;

use super::Frame;
use crate::domain::{self as d, Convention};
use crate::wire;

/// What a feed holds: the active link's hash, the latest view and the latest count, encoded.
#[derive(Clone, Debug, Default)]
pub struct Shown {
    pub link: Option<String>,
    /// `None` until the convention's task has built its first view.
    pub frame: Option<Frame>,
    /// The latest `public_count`, once the count changed after the view was built.
    pub count: Option<Frame>,
    /// The organizer deleted the convention: every viewer is closed (4014).
    pub deleted: bool,
}

/// Whether two optional frames are the same encoding (the same shared bytes): O(1).
pub fn same_frame(a: &Option<Frame>, b: &Option<Frame>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            std::ptr::eq(a.as_str().as_ptr(), b.as_str().as_ptr()) && a.len() == b.len()
        }
        (None, None) => true,
        _ => false,
    }
}

/// One convention's public feed on this node.
pub struct Feed {
    tx: watch::Sender<Shown>,
    /// Viewers of this feed connected to this node.
    local: AtomicU64,
    /// Cluster mode: viewers on the other nodes, as they last published it.
    remote: AtomicU64,
}

impl Feed {
    fn new() -> Self {
        Feed {
            tx: watch::channel(Shown::default()).0,
            local: AtomicU64::new(0),
            remote: AtomicU64::new(0),
        }
    }

    /// Cluster mode: viewers on the other nodes.
    pub fn remote(&self) -> u64 {
        self.remote.load(Ordering::Relaxed)
    }

    pub fn set_remote(&self, n: u64) {
        self.remote.store(n, Ordering::Relaxed);
    }

    /// Whether a public link is active (as last shown).
    pub fn has_link(&self) -> bool {
        self.tx.borrow().link.is_some()
    }

    /// Viewers connected to this node.
    pub fn local(&self) -> u64 {
        self.local.load(Ordering::Relaxed)
    }

    /// Replace what viewers see (by the convention's task only).
    pub fn show(&self, shown: Shown) {
        self.tx.send_replace(shown);
    }

    /// Start watching: the channel, and the seat that counts this viewer until dropped.
    pub fn watch(self: &Arc<Self>) -> (watch::Receiver<Shown>, FeedSeat) {
        self.local.fetch_add(1, Ordering::Relaxed);
        (
            self.tx.subscribe(),
            FeedSeat {
                feed: Arc::clone(self),
            },
        )
    }
}

/// A viewer counted in its feed until dropped.
pub struct FeedSeat {
    feed: Arc<Feed>,
}

impl Drop for FeedSeat {
    fn drop(&mut self) {
        self.feed.local.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A viewer counted against the node's cap until dropped.
pub struct Seat {
    total: Arc<AtomicUsize>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every public feed of this process.
#[derive(Clone, Default)]
pub struct Public {
    feeds: Arc<Mutex<HashMap<String, Arc<Feed>>>>,
    total: Arc<AtomicUsize>,
}

impl Public {
    /// The feed of a convention (made on first use; feeds are a few hundred bytes and live
    /// as long as the process, like the conventions they belong to).
    pub fn feed(&self, convention: &str) -> Arc<Feed> {
        let mut map = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            map.entry(convention.to_string())
                .or_insert_with(|| Arc::new(Feed::new())),
        )
    }

    /// A seat for one more viewer, unless `max` are already watching on this node.
    pub fn admit(&self, max: usize) -> Option<Seat> {
        let before = self.total.fetch_add(1, Ordering::Relaxed);
        let seat = Seat {
            total: Arc::clone(&self.total),
        };
        (before < max).then_some(seat)
    }

    /// The convention is deleted: its viewers are told (they close with 4014) and its feed
    /// is forgotten (a convention created again with this id starts a new one).
    pub fn delete(&self, convention: &str) {
        let feed = self
            .feeds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(convention);
        if let Some(feed) = feed {
            feed.show(Shown {
                deleted: true,
                ..Shown::default()
            });
        }
    }

    /// Viewers of one convention connected to this node.
    pub fn viewers_of(&self, convention: &str) -> u64 {
        let map = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        map.get(convention).map_or(0, |f| f.local())
    }

    /// Viewers connected to this node, over every convention (for the cap).
    pub fn viewers(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

/// What the public sees of `state`, with `viewers` watching. Bounded whatever the
/// convention's size: names of no one but the speaker, the latest announcements and results.
pub fn view(state: &Convention, viewers: u64) -> p::PublicView {
    let floor = state
        .room(d::PLENARY)
        .and_then(|r| r.floor.as_ref())
        .map(|f| p::PublicFloor {
            name: state
                .people
                .get(&f.participant)
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            since: f.since,
            ends_at: f.ends_at,
        });
    let away = match (&state.breakout, &state.rotation) {
        (Some(b), _) => Some(p::PublicAway {
            kind: p::AwayKind::Breakouts,
            until: Some(b.ends_at),
        }),
        (None, Some(r)) if r.running() => Some(p::PublicAway {
            kind: p::AwayKind::Rotation,
            until: match &r.phase {
                d::Phase::Round { ends_at, .. } => Some(*ends_at),
                d::Phase::Transition { starts_at, .. } => Some(*starts_at),
                d::Phase::Planned | d::Phase::Paused { .. } | d::Phase::Finished { .. } => None,
            },
        }),
        _ => None,
    };
    let skip = state.notices.len().saturating_sub(p::PUBLIC_ANNOUNCEMENTS);
    let announcements = state.notices[skip..]
        .iter()
        .map(|n| p::PublicAnnouncement {
            at: n.at,
            text: n.text.clone(),
        })
        .collect();
    // Only the convention's own polls (a room's poll is that room's business), and only
    // once published: never a draft, an open tally or a merely revealed one.
    let published: Vec<&d::Poll> = state
        .polls_in_order()
        .filter(|poll| poll.status == d::PollStatus::Published && poll.spec.room.is_none())
        .collect();
    let skip = published.len().saturating_sub(p::PUBLIC_RESULTS);
    let results = published[skip..]
        .iter()
        .map(|poll| {
            let spec = wire::spec_out(&poll.spec);
            p::PublicResult {
                poll: poll.id.clone(),
                question: spec.question,
                kind: spec.kind,
                tally: wire::tally_out(&poll.tally()),
            }
        })
        .collect();
    let opinion = state
        .public
        .published
        .as_ref()
        .and_then(|(document, version)| {
            let doc = state.documents.get(document)?;
            let (_, label, _) = doc.versions.iter().find(|(v, _, _)| v == version)?;
            Some(p::PublicOpinion {
                title: doc.title.clone(),
                version: *version,
                label: label.clone(),
                url: "/public/opinion".into(),
            })
        });
    // Public polls: the open one without a count (a live count would sway the answers), and
    // the latest closed ones with their tallies.
    let poll = state.public.open_poll().map(|p| p::PublicPollShown {
        poll: p.id.clone(),
        question: p.question.clone(),
        options: p.options.clone(),
        opened_at: p.opened_at,
    });
    let closed: Vec<&d::public::PublicPoll> = state
        .public
        .polls
        .iter()
        .filter(|p| p.closed_at.is_some())
        .collect();
    let skip = closed.len().saturating_sub(p::PUBLIC_POLL_RESULTS);
    let poll_results = closed[skip..]
        .iter()
        .map(|p| p::PublicPollResult {
            poll: p.id.clone(),
            question: p.question.clone(),
            options: p.options.clone(),
            tally: wire::public::tally_out(&p.counts),
            closed_at: p.closed_at.unwrap_or_default(),
        })
        .collect();
    p::PublicView {
        convention: state.name.clone(),
        floor,
        away,
        announcements,
        results,
        opinion,
        poll,
        poll_results,
        livestream: state.public.livestream.clone(),
        viewers,
    }
}

/// The frame of a count alone.
pub fn encode_count(viewers: u64) -> Frame {
    Frame::from(
        serde_json::to_string(&p::PublicServerMessage::PublicCount { viewers }).unwrap_or_default(),
    )
}

/// The frame of a view, with the server's clock to run countdowns against.
pub fn encode(view: &p::PublicView, server_time: u64) -> Frame {
    Frame::from(
        serde_json::to_string(&p::PublicServerMessage::PublicView {
            server_time,
            view: Box::new(view.clone()),
        })
        .unwrap_or_default(),
    )
}
