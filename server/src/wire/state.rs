//! A convention's state to and from its stored form (`convene_protocol::StoredState`): what
//! a node loads instead of folding the whole log. Secret ballots are left out on the way out;
//! the caller adds them back from the ballot box.

use std::collections::HashSet;

use convene_protocol as p;

use super::rotation::{phase_out, plan_in, plan_out, view as rotation_view};
use super::tally_out;
use super::{ballot_in, ballot_out, order_in, order_out, role_in, spec_in, spec_out, tally_in};
use crate::domain::{self as d, rotation as r};
use crate::live::Answered;

/// What a convention's task keeps beside the domain state and must find again.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TaskState {
    pub convention: d::Convention,
    /// Each participant's latest requests, with the seq of each one's last event.
    pub requests: Answered,
    pub revoked: HashSet<String>,
}

pub fn state_out(
    c: &d::Convention,
    requests: &Answered,
    revoked: &HashSet<String>,
) -> p::StoredState {
    let requests = requests.entries();
    let mut revoked: Vec<String> = revoked.iter().cloned().collect();
    revoked.sort();
    p::StoredState {
        format: p::STATE_FORMAT,
        convention: convention_out(c),
        requests,
        revoked,
    }
}

/// The state, or `None` if it is of another format.
pub fn state_in(s: p::StoredState) -> Option<TaskState> {
    if s.format != p::STATE_FORMAT {
        return None;
    }
    Some(TaskState {
        convention: convention_in(s.convention),
        requests: s.requests.into_iter().collect(),
        revoked: s.revoked.into_iter().collect(),
    })
}

fn convention_out(c: &d::Convention) -> p::ConventionState {
    p::ConventionState {
        name: c.name.clone(),
        seq: c.seq,
        people: c
            .people
            .values()
            .map(|person| super::person_out(person, true))
            .collect(),
        invites: (*c.invites).clone(),
        revoked_invites: c.revoked_invites.iter().cloned().collect(),
        rooms: c.rooms.iter().map(room_out).collect(),
        location: (*c.location).clone(),
        assignment: (*c.assignment).clone(),
        breakout: c.breakout.as_ref().map(|b| p::BreakoutState {
            ends_at: b.ends_at,
            warn_at: b.warn_at,
            warned: b.warned,
        }),
        floor_time: (*c.floor_time).clone(),
        calls: c
            .calls
            .values()
            .map(|call| p::CallView {
                id: call.id,
                at: call.at,
                participant: call.participant.clone(),
                room: call.room.clone(),
                message: call.message.clone(),
            })
            .collect(),
        rooms_made: c.rooms_made,
        polls: c.polls.values().map(poll_out).collect(),
        polls_made: c.polls_made,
        rotation: c.rotation.as_ref().map(|rot| p::RotationState {
            plan: plan_out(&rot.plan),
            phase: phase_out(&rot.phase),
            absent: rot.absent.iter().map(|e| *e as u32).collect(),
            questions: rotation_view(rot).questions,
        }),
        documents: c
            .documents
            .values()
            .map(|doc| p::DocumentState {
                name: doc.name.clone(),
                title: doc.title.clone(),
                groups: doc.groups.iter().cloned().collect(),
                versions: doc
                    .versions
                    .iter()
                    .map(|(version, label, at)| p::VersionState {
                        version: *version,
                        label: label.clone(),
                        at: *at,
                    })
                    .collect(),
            })
            .collect(),
        writing_groups: c
            .writing_groups
            .iter()
            .map(|(g, members)| (g.clone(), members.iter().cloned().collect()))
            .collect(),
        notices: c.notices.iter().map(super::notice_out).collect(),
        runsheet: super::runsheet::state_out(&c.runsheet),
        hearings: c
            .hearings
            .values()
            .map(super::hearings::state_out)
            .collect(),
        reports: c.reports.values().map(super::report_out).collect(),
        mutes: c.muted.iter().map(|(p, m)| super::mute_out(p, m)).collect(),
        removed: c
            .removed
            .iter()
            .map(|(p, r)| super::removal_out(p, r))
            .collect(),
        public: super::public::state_out(&c.public),
    }
}

fn convention_in(c: p::ConventionState) -> d::Convention {
    d::Convention {
        name: c.name,
        seq: c.seq,
        people: c
            .people
            .into_iter()
            .map(|person| {
                let mut roles: Vec<d::Role> = person.roles.into_iter().map(role_in).collect();
                roles.sort();
                roles.dedup();
                let id = person.id;
                let person = d::Person {
                    id: id.clone(),
                    name: person.name,
                    roles,
                    attributes: person.attributes,
                };
                (id, person)
            })
            .collect::<std::collections::BTreeMap<_, _>>()
            .into(),
        invites: c.invites.into(),
        revoked_invites: std::sync::Arc::new(c.revoked_invites.into_iter().collect()),
        rooms: c.rooms.into_iter().map(room_in).collect(),
        location: c.location.into(),
        assignment: c.assignment.into(),
        breakout: c.breakout.map(|b| d::Breakout {
            ends_at: b.ends_at,
            warn_at: b.warn_at,
            warned: b.warned,
        }),
        floor_time: c.floor_time.into(),
        calls: c
            .calls
            .into_iter()
            .map(|call| {
                (
                    call.id,
                    d::Call {
                        id: call.id,
                        at: call.at,
                        participant: call.participant,
                        room: call.room,
                        message: call.message,
                    },
                )
            })
            .collect(),
        rooms_made: c.rooms_made,
        polls: c
            .polls
            .into_iter()
            .map(|poll| (poll.id.clone(), poll_in(poll)))
            .collect(),
        polls_made: c.polls_made,
        rotation: c.rotation.map(|rot| r::Rotation {
            plan: plan_in(rot.plan),
            phase: phase_in(rot.phase),
            absent: rot.absent.into_iter().map(|e| e as usize).collect(),
            questions: d::questions::Questions {
                list: rot
                    .questions
                    .into_iter()
                    .map(|q| d::questions::Question {
                        id: q.id,
                        room: q.room,
                        from: q.from,
                        at: q.at,
                        text: q.text,
                        status: if q.answer.is_some() {
                            d::questions::Status::Answered
                        } else {
                            d::questions::Status::Open
                        },
                        answer: q.answer,
                        supporters: Default::default(),
                    })
                    .collect(),
            },
        }),
        documents: c
            .documents
            .into_iter()
            .map(|doc| {
                let name = doc.name;
                let doc = d::documents::Document {
                    name: name.clone(),
                    title: doc.title,
                    groups: doc.groups.into_iter().collect(),
                    versions: doc
                        .versions
                        .into_iter()
                        .map(|v| (v.version, v.label, v.at))
                        .collect(),
                };
                (name, doc)
            })
            .collect(),
        writing_groups: c
            .writing_groups
            .into_iter()
            .map(|(g, members)| (g, members.into_iter().collect()))
            .collect(),
        notices: c.notices.into_iter().map(super::notice_in).collect(),
        runsheet: super::runsheet::state_in(c.runsheet),
        hearings: c
            .hearings
            .into_iter()
            .map(|h| (h.id.clone(), super::hearings::state_in(h)))
            .collect(),
        reports: c.reports.into_iter().map(super::report_in).collect(),
        muted: c.mutes.into_iter().map(super::mute_in).collect(),
        removed: c.removed.into_iter().map(super::removal_in).collect(),
        public: super::public::state_in(c.public),
    }
}

fn room_out(room: &d::RoomState) -> p::RoomState {
    p::RoomState {
        id: room.id.clone(),
        name: room.name.clone(),
        chat: room
            .chat
            .iter()
            .map(|l| p::ChatLine {
                seq: l.seq,
                at: l.at,
                from: l.from.clone(),
                text: l.text.clone(),
                hidden: l.hidden.as_ref().map(super::hidden_out),
            })
            .collect(),
        queue: room
            .queue
            .iter()
            .map(|(who, at)| p::QueueEntry {
                participant: who.clone(),
                raised_at: *at,
            })
            .collect(),
        order: order_out(room.order),
        limit_ms: room.limit_ms,
        floor: room.floor.as_ref().map(|f| p::FloorView {
            participant: f.participant.clone(),
            since: f.since,
            ends_at: f.ends_at,
        }),
    }
}

fn room_in(room: p::RoomState) -> d::RoomState {
    d::RoomState {
        id: room.id,
        name: room.name,
        chat: room
            .chat
            .into_iter()
            .map(|l| d::ChatLine {
                seq: l.seq,
                at: l.at,
                from: l.from,
                text: l.text,
                hidden: l.hidden.map(super::hidden_in),
            })
            .collect(),
        queue: room
            .queue
            .into_iter()
            .map(|q| (q.participant, q.raised_at))
            .collect(),
        order: order_in(room.order),
        limit_ms: room.limit_ms,
        floor: room.floor.map(|f| d::Floor {
            participant: f.participant,
            since: f.since,
            ends_at: f.ends_at,
        }),
    }
}

fn poll_out(poll: &d::Poll) -> p::PollState {
    p::PollState {
        id: poll.id.clone(),
        spec: spec_out(&poll.spec),
        status: super::poll_status_out(poll.status),
        opened_at: poll.opened_at,
        ends_at: poll.ends_at,
        revealed: poll.revealed,
        named: poll
            .named
            .iter()
            .map(|(who, b)| (who.clone(), ballot_out(b)))
            .collect(),
        voted: poll.voted.iter().cloned().collect(),
        final_tally: poll.final_tally.as_ref().map(tally_out),
        closed_turnout: poll.closed_turnout.map(super::turnout_out),
    }
}

fn poll_in(poll: p::PollState) -> d::Poll {
    d::Poll {
        id: poll.id,
        spec: spec_in(poll.spec),
        status: match poll.status {
            p::PollStatus::Draft => d::PollStatus::Draft,
            p::PollStatus::Open => d::PollStatus::Open,
            p::PollStatus::Closed => d::PollStatus::Closed,
            p::PollStatus::Published => d::PollStatus::Published,
        },
        opened_at: poll.opened_at,
        ends_at: poll.ends_at,
        revealed: poll.revealed,
        named: poll
            .named
            .into_iter()
            .map(|(who, b)| (who, ballot_in(b)))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into(),
        voted: poll
            .voted
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into(),
        // The ballot box is read beside the state and added back (and checked) by the caller.
        secret: Vec::new(),
        final_tally: poll.final_tally.map(tally_in),
        closed_turnout: poll.closed_turnout.map(super::turnout_in),
        tampered: None,
    }
}

fn phase_in(phase: p::RotationPhase) -> r::Phase {
    match phase {
        p::RotationPhase::Planned => r::Phase::Planned,
        p::RotationPhase::Round {
            round,
            ends_at,
            warn_at,
            warned,
        } => r::Phase::Round {
            round: round as usize,
            ends_at,
            warn_at,
            warned,
        },
        p::RotationPhase::Transition { next, starts_at } => r::Phase::Transition {
            next: next as usize,
            starts_at,
        },
        p::RotationPhase::Paused {
            frozen,
            remaining_ms,
        } => r::Phase::Paused {
            frozen: Box::new(phase_in(*frozen)),
            remaining_ms,
        },
        p::RotationPhase::Finished { stopped } => r::Phase::Finished { stopped },
    }
}

/// The state with the secret polls' ballots (and what their check found) left out, as a
/// stored state holds it.
pub fn without_secret_ballots(c: &d::Convention) -> d::Convention {
    let mut c = c.clone();
    for poll in c.polls.values_mut() {
        poll.secret.clear();
        poll.tampered = None;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_revoked_invitations_come_back_and_another_format_is_refused() {
        let c = d::Convention {
            seq: 12,
            name: "Convention citoyenne".into(),
            revoked_invites: std::sync::Arc::new(["p00003".to_string()].into()),
            ..Default::default()
        };
        let requests: Answered = [
            ("p00001".to_string(), "r-1".to_string(), 7),
            ("p00002".to_string(), "r-9".to_string(), 12),
        ]
        .into_iter()
        .collect();
        let revoked = HashSet::from(["ab12".to_string(), "cd34".to_string()]);
        let stored = state_out(&c, &requests, &revoked);
        let json = serde_json::to_string(&stored).unwrap();
        let back = state_in(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(
            back,
            TaskState {
                convention: c,
                requests,
                revoked
            }
        );
        let mut other = stored;
        other.format = p::STATE_FORMAT + 1;
        assert!(state_in(other).is_none());
    }
}
