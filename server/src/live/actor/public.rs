//! Public audience (§24): the convention's task keeps its public feed up to date. Built
//! once per turn in which the log moved, sent only when the view changed; the viewer count
//! is looked at once a second.

use super::*;
use crate::live::public::{self, Shown};
use crate::live::Frame;

/// The task's side of its public feed.
pub(super) struct PublicSide {
    pub feed: Arc<public::Feed>,
    /// The view last shown, the seq and link it was built at, its frame.
    last: Option<p::PublicView>,
    seq: u64,
    link: Option<String>,
    frame: Option<Frame>,
    /// The count last shown, and its frame once it changed after the view.
    count: u64,
    count_frame: Option<Frame>,
}

impl PublicSide {
    pub fn new(feed: Arc<public::Feed>) -> Self {
        PublicSide {
            feed,
            last: None,
            seq: 0,
            link: None,
            frame: None,
            count: 0,
            count_frame: None,
        }
    }

    /// Viewers over every node (cluster mode: the others' as they last published it).
    pub fn viewers(&self) -> u64 {
        self.feed.local() + self.feed.remote()
    }

    /// Whether the count is worth looking at (once a second): a link is active or someone
    /// watches (or did at the last look).
    pub fn watched(&self, state: &Convention) -> bool {
        state.public.link.is_some()
            || self.feed.local() > 0
            || self.feed.remote() > 0
            || self.count > 0
    }
}

impl Actor {
    /// Show the public what changed: after a turn (`recount` false: only if the log moved or
    /// the link changed) or on the count's tick (`recount` true). A new view is encoded only
    /// when something but the count changed; a new count alone is a `public_count` frame.
    pub(super) fn public_refresh(&mut self, recount: bool) {
        let side = &mut self.public;
        let log_moved = side.last.is_none()
            || side.seq != self.state.seq
            || side.link != self.state.public.link;
        let viewers = if recount || side.last.is_none() {
            side.viewers()
        } else {
            side.count
        };
        let count_changed = viewers != side.count;
        if !log_moved && !count_changed {
            return;
        }
        let mut changed = false;
        if log_moved {
            side.seq = self.state.seq;
            let mut view = public::view(&self.state, viewers);
            // Compared without the count (and without copying either view).
            let same = side.last.as_ref().is_some_and(|last| {
                let real = std::mem::replace(&mut view.viewers, last.viewers);
                let same = *last == view;
                view.viewers = real;
                same
            });
            if !same || side.link != self.state.public.link {
                side.link = self.state.public.link.clone();
                side.frame = Some(public::encode(&view, now_ms()));
                // The view carries the count: no count frame needed until it changes again.
                side.count_frame = None;
                side.last = Some(view);
                changed = true;
            }
        }
        if count_changed {
            side.count = viewers;
            side.count_frame = Some(public::encode_count(viewers));
            changed = true;
        }
        if changed {
            side.feed.show(Shown {
                link: side.link.clone(),
                frame: side.frame.clone(),
                count: side.count_frame.clone(),
                deleted: false,
            });
        }
        if count_changed {
            self.public_count_to_staff(None);
        }
    }

    /// Tell facilitators and guarantors how many watch: all of them, or one new connection.
    pub(super) fn public_count_to_staff(&mut self, only: Option<u64>) {
        if self.state.public.link.is_none() && self.public.viewers() == 0 {
            return;
        }
        let frame = encode(&ServerMessage::PublicViewers {
            count: self.public.count,
        });
        let staff: Vec<u64> = match only {
            Some(id) => vec![id],
            None => self
                .online
                .iter()
                .filter(|(who, _)| {
                    self.state
                        .people
                        .get(*who)
                        .is_some_and(|p| p.sees_everything())
                })
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect(),
        };
        for id in staff {
            self.send(id, &frame);
        }
    }
}
