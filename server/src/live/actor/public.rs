//! Public audience (§24): the convention's task keeps its public feed up to date. Built
//! once per turn in which the log moved, sent only when the view changed; the viewer count
//! is looked at once a second.

use super::*;
use crate::live::public::{self, Shown};

/// The task's side of its public feed.
pub(super) struct PublicSide {
    pub feed: Arc<public::Feed>,
    /// The view last shown (with its count), the seq and link it was built at.
    last: Option<p::PublicView>,
    seq: u64,
    link: Option<String>,
}

impl PublicSide {
    pub fn new(feed: Arc<public::Feed>) -> Self {
        PublicSide {
            feed,
            last: None,
            seq: 0,
            link: None,
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
            || self.last.as_ref().is_some_and(|v| v.viewers > 0)
    }
}

impl Actor {
    /// Show the public what changed: after a turn (`recount` false: only if the log moved or
    /// the link changed) or on the count's tick (`recount` true).
    pub(super) fn public_refresh(&mut self, recount: bool) {
        let side = &mut self.public;
        let same_log = side.seq == self.state.seq && side.link == self.state.public.link;
        if !recount && same_log && side.last.is_some() {
            return;
        }
        let viewers = if recount || side.last.is_none() {
            side.viewers()
        } else {
            side.last.as_ref().map_or(0, |v| v.viewers)
        };
        let counted_before = side.last.as_ref().map(|v| v.viewers);
        if same_log && counted_before == Some(viewers) {
            return;
        }
        let view = public::view(&self.state, viewers);
        side.seq = self.state.seq;
        if side.last.as_ref() == Some(&view) && side.link == self.state.public.link {
            return;
        }
        side.link = self.state.public.link.clone();
        side.feed.show(Shown {
            link: side.link.clone(),
            frame: Some(public::encode(&view, now_ms())),
        });
        side.last = Some(view);
        if counted_before.is_some_and(|c| c != viewers) {
            self.public_count_to_staff(None);
        }
    }

    /// Tell facilitators and guarantors how many watch: all of them, or one new connection.
    pub(super) fn public_count_to_staff(&mut self, only: Option<u64>) {
        if self.state.public.link.is_none() && self.public.viewers() == 0 {
            return;
        }
        let frame = encode(&ServerMessage::PublicViewers {
            count: self.public.last.as_ref().map_or(0, |v| v.viewers),
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
