//! Delivery latency of every event of the day, from where it started to its receipt by each
//! participant:
//!
//! - an event a command produced: from the command's send (the load tester's monotonic
//!   clock). Which command produced it is read from the event itself: its `request` is the
//!   id of the request, and the request whose `ok` carried the seq of an event with that
//!   `request` is the one sent at that instant;
//! - an event the server's timer fired (`by: timer`): from the deadline it fired for, which
//!   an earlier event of the log carries (`ends_at`, `warn_at`, `starts_at`), on the server's
//!   clock, which is this machine's wall clock (the receipt is converted to it);
//! - a snapshot that moves a participant: from the origin of the event that moved them (the
//!   last event of a moving kind at or before the snapshot's seq), to its receipt, and to
//!   its `server_time` (when the server built it).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_protocol::{Actor, Event};

use super::inbox::{Got, Inbox};
use crate::metrics::Latency;

/// Where a delivery's latency is counted from.
#[derive(Clone, Copy, Debug)]
pub enum Origin {
    /// A command sent at this instant.
    Sent(Instant),
    /// A deadline, ms since the epoch on the server's (this machine's) clock.
    Due(u64),
}

/// This process's monotonic clock against the wall clock, read once.
pub struct Clock {
    base: Instant,
    wall_ms: f64,
}

impl Clock {
    pub fn now() -> Clock {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Clock {
            base: Instant::now(),
            wall_ms,
        }
    }

    /// The wall-clock time (ms since the epoch) of a monotonic instant.
    pub fn wall_ms(&self, at: Instant) -> f64 {
        if at >= self.base {
            self.wall_ms + at.duration_since(self.base).as_secs_f64() * 1000.0
        } else {
            self.wall_ms - self.base.duration_since(at).as_secs_f64() * 1000.0
        }
    }

    /// An origin on the wall clock, ms since the epoch.
    pub fn origin_ms(&self, origin: Origin) -> f64 {
        match origin {
            Origin::Sent(t) => self.wall_ms(t),
            Origin::Due(ms) => ms as f64,
        }
    }

    /// Latency of a delivery read at `at`.
    pub fn latency(&self, origin: Origin, at: Instant) -> Duration {
        match origin {
            Origin::Sent(t) => at.saturating_duration_since(t),
            Origin::Due(ms) => {
                Duration::from_secs_f64(((self.wall_ms(at) - ms as f64) / 1000.0).max(0.0))
            }
        }
    }
}

/// The deadline each timer event fired for, from a stream that holds every timer event and
/// the events that set the deadlines (a facilitator's). Also how late each fired (its `at`
/// minus the deadline), and how many timer events had no known deadline.
pub struct Deadlines {
    pub due: HashMap<u64, u64>,
    /// (event type, ms late).
    pub late: Vec<(&'static str, i64)>,
    pub unknown: u64,
}

pub fn deadlines(events: &[Got]) -> Deadlines {
    let mut d = Deadlines {
        due: HashMap::new(),
        late: Vec::new(),
        unknown: 0,
    };
    let mut breakouts: Option<(u64, u64)> = None;
    let mut floors: HashMap<String, u64> = HashMap::new();
    let mut polls: HashMap<String, u64> = HashMap::new();
    let (mut rotation_next, mut rotation_warn) = (None, None);
    for g in events {
        let due = match &g.event {
            Event::BreakoutsOpened { ends_at, warn_at }
            | Event::BreakoutsExtended { ends_at, warn_at } => {
                breakouts = Some((*ends_at, *warn_at));
                None
            }
            Event::BreakoutsWarned => breakouts.map(|b| b.1),
            Event::BreakoutsClosed { .. } => breakouts.map(|b| b.0),
            Event::FloorGiven {
                room,
                ends_at: Some(e),
                ..
            } => {
                floors.insert(room.clone(), *e);
                None
            }
            Event::FloorEnded { room, .. } => floors.get(room).copied(),
            Event::RotationRoundStarted {
                ends_at, warn_at, ..
            } => {
                let due = rotation_next;
                rotation_next = Some(*ends_at);
                rotation_warn = Some(*warn_at);
                due
            }
            Event::RotationWarned => rotation_warn,
            Event::RotationTransition { starts_at, .. } => {
                let due = rotation_next;
                rotation_next = Some(*starts_at);
                due
            }
            Event::RotationExtended { ends_at, warn_at } => {
                rotation_next = Some(*ends_at);
                rotation_warn = Some(*warn_at);
                None
            }
            Event::RotationEnded { .. } => rotation_next,
            Event::PollOpened {
                poll,
                ends_at: Some(e),
                ..
            } => {
                polls.insert(poll.clone(), *e);
                None
            }
            Event::PollClosed { poll, .. } => polls.get(poll).copied(),
            _ => None,
        };
        if g.by != Actor::Timer {
            continue;
        }
        match due {
            Some(due) => {
                d.due.insert(g.seq, due);
                d.late
                    .push((kind(&g.event), g.server_at as i64 - due as i64));
            }
            None => d.unknown += 1,
        }
    }
    d
}

/// An event's `type`, as on the wire.
pub fn kind(e: &Event) -> &'static str {
    match e {
        Event::BreakoutsWarned => "breakouts_warned",
        Event::BreakoutsClosed { .. } => "breakouts_closed",
        Event::FloorEnded { .. } => "floor_ended",
        Event::RotationRoundStarted { .. } => "rotation_round_started",
        Event::RotationWarned => "rotation_warned",
        Event::RotationTransition { .. } => "rotation_transition",
        Event::RotationEnded { .. } => "rotation_ended",
        Event::PollClosed { .. } => "poll_closed",
        _ => "other",
    }
}

/// Whether a participant may change room with this event (and then gets a snapshot).
fn moves_people(e: &Event) -> bool {
    matches!(
        e,
        Event::BreakoutsOpened { .. }
            | Event::BreakoutsClosed { .. }
            | Event::ParticipantMoved { .. }
            | Event::RotationRoundStarted { .. }
            | Event::RotationTransition { .. }
            | Event::RotationEnded { .. }
            | Event::GroupJoined { .. }
    )
}

/// Every event's origin: the commands acknowledged (`acks`: connection, the `ok`'s seq, the
/// send instant) and the timer's deadlines.
pub fn origins(
    inboxes: &[Inbox],
    acks: &[(usize, u64, Instant)],
    deadlines: &Deadlines,
) -> HashMap<u64, Origin> {
    // The request id of each acknowledged command: on the event its ok names, which its
    // sender received before the ok.
    let mut sent_by_request: HashMap<&str, Instant> = HashMap::new();
    for &(conn, seq, sent) in acks {
        if let Some(r) = inboxes
            .get(conn)
            .and_then(|i| i.get(seq))
            .and_then(|g| g.request.as_deref())
        {
            sent_by_request.insert(r, sent);
        }
    }
    let mut out: HashMap<u64, Origin> = deadlines
        .due
        .iter()
        .map(|(&seq, &due)| (seq, Origin::Due(due)))
        .collect();
    for inbox in inboxes {
        for g in &inbox.events {
            if out.contains_key(&g.seq) {
                continue;
            }
            if let Some(t) = g.request.as_deref().and_then(|r| sent_by_request.get(r)) {
                out.insert(g.seq, Origin::Sent(*t));
            }
        }
    }
    out
}

/// The latencies of the day.
pub struct Measured {
    /// Every event, at every participant.
    pub delivery: Latency,
    /// The same, per phase (in the order given).
    pub by_phase: Vec<Latency>,
    /// Snapshots that moved a participant.
    pub moves: Latency,
    /// The same, up to when the server built the snapshot (its `server_time`): the server's
    /// part of `moves`.
    pub moves_server: Latency,
    /// Events received whose origin is unknown (not counted above).
    pub without_origin: u64,
    pub snapshots_without_origin: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// Measure every delivery. `phases`: the first seq of each phase, ascending; `stream`: a
/// facilitator's events (every event that moves people).
pub fn measure(
    inboxes: &[Inbox],
    stream: &[Got],
    origins: &HashMap<u64, Origin>,
    phases: &[u64],
    clock: &Clock,
) -> Measured {
    let mut m = Measured {
        delivery: Latency::new(),
        by_phase: phases.iter().map(|_| Latency::new()).collect(),
        moves: Latency::new(),
        moves_server: Latency::new(),
        without_origin: 0,
        snapshots_without_origin: 0,
        first: None,
        last: None,
    };
    let movers: Vec<(u64, Option<Origin>)> = stream
        .iter()
        .filter(|g| moves_people(&g.event))
        .map(|g| (g.seq, origins.get(&g.seq).copied()))
        .collect();
    let phase_of = |seq: u64| phases.partition_point(|&p| p <= seq).checked_sub(1);
    for inbox in inboxes {
        for g in &inbox.events {
            let Some(&o) = origins.get(&g.seq) else {
                m.without_origin += 1;
                continue;
            };
            let l = clock.latency(o, g.at);
            m.delivery.record(l, g.at);
            if let Some(p) = phase_of(g.seq) {
                m.by_phase[p].record(l, g.at);
            }
            m.first = Some(m.first.map_or(g.at, |f: Instant| f.min(g.at)));
            m.last = Some(m.last.map_or(g.at, |f: Instant| f.max(g.at)));
        }
        for s in &inbox.snaps {
            let i = movers.partition_point(|(seq, _)| *seq <= s.seq);
            let Some(o) = i.checked_sub(1).and_then(|i| movers[i].1) else {
                m.snapshots_without_origin += 1;
                continue;
            };
            m.moves.record(clock.latency(o, s.at), s.at);
            let built = (s.server_time as f64 - clock.origin_ms(o)).max(0.0);
            m.moves_server
                .record(Duration::from_secs_f64(built / 1000.0), s.at);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_protocol::CloseReason;

    fn got(seq: u64, server_at: u64, by: Actor, event: Event) -> Got {
        Got {
            seq,
            server_at,
            at: Instant::now(),
            by,
            request: None,
            event,
        }
    }

    #[test]
    fn timer_events_are_measured_from_their_deadline() {
        let fac = Actor::Participant("p1".into());
        let stream = vec![
            got(
                10,
                1000,
                fac.clone(),
                Event::BreakoutsOpened {
                    ends_at: 5000,
                    warn_at: 4000,
                },
            ),
            got(11, 4003, Actor::Timer, Event::BreakoutsWarned),
            got(
                12,
                5001,
                Actor::Timer,
                Event::BreakoutsClosed {
                    reason: CloseReason::Timer,
                },
            ),
            got(
                13,
                6000,
                fac,
                Event::RotationRoundStarted {
                    round: 0,
                    ends_at: 9000,
                    warn_at: 8000,
                },
            ),
            got(
                14,
                9002,
                Actor::Timer,
                Event::RotationTransition {
                    next: 1,
                    starts_at: 9500,
                },
            ),
            got(
                15,
                9500,
                Actor::Timer,
                Event::RotationRoundStarted {
                    round: 1,
                    ends_at: 12000,
                    warn_at: 11000,
                },
            ),
            got(
                16,
                12004,
                Actor::Timer,
                Event::RotationEnded { stopped: false },
            ),
        ];
        let d = deadlines(&stream);
        assert_eq!(d.due.get(&11), Some(&4000));
        assert_eq!(d.due.get(&12), Some(&5000));
        assert_eq!(d.due.get(&14), Some(&9000));
        assert_eq!(d.due.get(&15), Some(&9500));
        assert_eq!(d.due.get(&16), Some(&12000));
        assert_eq!(d.unknown, 0);
        assert_eq!(
            d.late,
            vec![
                ("breakouts_warned", 3),
                ("breakouts_closed", 1),
                ("rotation_transition", 2),
                ("rotation_round_started", 0),
                ("rotation_ended", 4)
            ]
        );
    }
}
