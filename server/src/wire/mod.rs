//! The edge between the pure domain and the wire: conversions both ways between domain
//! types and `convene_protocol` types. Nothing else in the server maps one onto the other.

// Attendance (issue #17).
mod attendance;
pub mod hearings;
mod moderation;
mod polls;
// Public audience (§24).
pub mod public;
mod rotation;
// Run sheet.
pub mod runsheet;
mod state;

// Attendance (issue #17).
pub use attendance::attendance_out;
pub(crate) use moderation::*;
pub use polls::*;
pub use state::{state_in, state_out, without_secret_ballots, TaskState};

use convene_protocol as p;
pub use rotation::view as rotation_view;

use crate::domain as d;

pub fn role_out(r: d::Role) -> p::Role {
    match r {
        d::Role::Citizen => p::Role::Citizen,
        d::Role::Facilitator => p::Role::Facilitator,
        d::Role::Rapporteur => p::Role::Rapporteur,
        d::Role::Guarantor => p::Role::Guarantor,
        d::Role::Expert => p::Role::Expert,
    }
}

pub fn role_in(r: p::Role) -> d::Role {
    match r {
        p::Role::Citizen => d::Role::Citizen,
        p::Role::Facilitator => d::Role::Facilitator,
        p::Role::Rapporteur => d::Role::Rapporteur,
        p::Role::Guarantor => d::Role::Guarantor,
        p::Role::Expert => d::Role::Expert,
    }
}

pub fn actor_out(a: &d::Actor) -> p::Actor {
    match a {
        d::Actor::Organizer => p::Actor::Organizer,
        d::Actor::Timer => p::Actor::Timer,
        d::Actor::Participant(id) => p::Actor::Participant(id.clone()),
        d::Actor::Public => p::Actor::Public,
    }
}

pub fn actor_in(a: p::Actor) -> d::Actor {
    match a {
        p::Actor::Organizer => d::Actor::Organizer,
        p::Actor::Timer => d::Actor::Timer,
        p::Actor::Participant(id) => d::Actor::Participant(id),
        p::Actor::Public => d::Actor::Public,
    }
}

pub(crate) fn notice_out(n: &d::Notice) -> p::NoticeLine {
    p::NoticeLine {
        seq: n.seq,
        at: n.at,
        by: actor_out(&n.by),
        text: n.text.clone(),
    }
}

pub(crate) fn notice_in(n: p::NoticeLine) -> d::Notice {
    d::Notice {
        seq: n.seq,
        at: n.at,
        by: actor_in(n.by),
        text: n.text,
    }
}

pub(crate) fn order_out(o: d::QueueOrder) -> p::QueueOrder {
    match o {
        d::QueueOrder::Raised => p::QueueOrder::Raised,
        d::QueueOrder::LeastSpoken => p::QueueOrder::LeastSpoken,
    }
}

pub(crate) fn order_in(o: p::QueueOrder) -> d::QueueOrder {
    match o {
        p::QueueOrder::Raised => d::QueueOrder::Raised,
        p::QueueOrder::LeastSpoken => d::QueueOrder::LeastSpoken,
    }
}

/// A person as the wire shows them; attributes only when the viewer may see them.
pub fn person_out(person: &d::Person, with_attributes: bool) -> p::Person {
    p::Person {
        id: person.id.clone(),
        name: person.name.clone(),
        roles: person.roles.iter().copied().map(role_out).collect(),
        attributes: if with_attributes {
            person.attributes.clone()
        } else {
            Default::default()
        },
    }
}

fn pairs_out(pairs: &[(String, String)]) -> Vec<p::Assignment> {
    pairs
        .iter()
        .map(|(a, b)| p::Assignment {
            participant: a.clone(),
            room: b.clone(),
        })
        .collect()
}

fn pairs_in(pairs: Vec<p::Assignment>) -> Vec<(String, String)> {
    pairs.into_iter().map(|a| (a.participant, a.room)).collect()
}

pub fn event_out(e: &d::Event) -> p::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        D::RotationPlanned { .. }
        | D::RotationRoundStarted { .. }
        | D::RotationWarned
        | D::RotationTransition { .. }
        | D::RotationPaused { .. }
        | D::RotationResumed
        | D::RotationExtended { .. }
        | D::RotationEnded { .. }
        | D::ExpertAbsent { .. }
        | D::GroupJoined { .. }
        | D::QuestionAsked { .. }
        | D::QuestionAnswered { .. } => rotation::event_out(e),
        // Run sheet.
        D::SequenceAdded { .. }
        | D::SequenceEdited { .. }
        | D::SequenceDeleted { .. }
        | D::SequenceMoved { .. }
        | D::SequenceStarted { .. }
        | D::SequenceExtended { .. }
        | D::SequenceEnded { .. }
        | D::SequenceSkipped { .. } => runsheet::event_out(e),
        // Hearings.
        D::HearingCreated { .. }
        | D::HearingOpened { .. }
        | D::HearingClosed { .. }
        | D::HearingQuestionAsked { .. }
        | D::HearingQuestionSupported { .. }
        | D::HearingSupportWithdrawn { .. }
        | D::HearingQuestionApproved { .. }
        | D::HearingQuestionsMerged { .. }
        | D::HearingQuestionHidden { .. }
        | D::HearingQuestionAnswering { .. }
        | D::HearingQuestionAnswered { .. } => hearings::event_out(e),
        // Public audience (§24).
        D::PublicLinkCreated { .. }
        | D::PublicLinkRevoked
        | D::LivestreamSet { .. }
        | D::DocumentPublished { .. }
        | D::PublicPollOpened { .. }
        | D::PublicBallotCast { .. }
        | D::PublicPollClosed { .. } => public::event_out(e),
        D::ConventionCreated { name } => P::ConventionCreated { name: name.clone() },
        D::ParticipantAdded { person } => P::ParticipantAdded {
            person: person_out(person, true),
        },
        D::InviteIssued {
            participant,
            token_hash,
        } => P::InviteIssued {
            participant: participant.clone(),
            token_hash: token_hash.clone(),
        },
        D::InviteRevoked { participant } => P::InviteRevoked {
            participant: participant.clone(),
        },
        D::RoomsCreated { rooms } => P::RoomsCreated {
            rooms: rooms
                .iter()
                .map(|(id, name)| p::RoomName {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect(),
        },
        D::RoomsCleared => P::RoomsCleared,
        D::RoomsAssigned {
            method,
            assignments,
        } => P::RoomsAssigned {
            method: method.clone(),
            assignments: pairs_out(assignments),
        },
        D::BreakoutsOpened { ends_at, warn_at } => P::BreakoutsOpened {
            ends_at: *ends_at,
            warn_at: *warn_at,
        },
        D::BreakoutsWarned => P::BreakoutsWarned,
        D::BreakoutsExtended { ends_at, warn_at } => P::BreakoutsExtended {
            ends_at: *ends_at,
            warn_at: *warn_at,
        },
        D::BreakoutsClosed { reason } => P::BreakoutsClosed {
            reason: close_reason_out(*reason),
        },
        D::ParticipantMoved { participant, room } => P::ParticipantMoved {
            participant: participant.clone(),
            room: room.clone(),
        },
        D::BroadcastSent { text } => P::BroadcastSent { text: text.clone() },
        D::ChatPosted { room, text } => P::ChatPosted {
            room: room.clone(),
            text: text.clone(),
        },
        D::HandRaised { room, participant } => P::HandRaised {
            room: room.clone(),
            participant: participant.clone(),
        },
        D::HandLowered { room, participant } => P::HandLowered {
            room: room.clone(),
            participant: participant.clone(),
        },
        D::FloorGiven {
            room,
            participant,
            ends_at,
        } => P::FloorGiven {
            room: room.clone(),
            participant: participant.clone(),
            ends_at: *ends_at,
        },
        D::FloorEnded {
            room,
            participant,
            spoken_ms,
            reason,
        } => P::FloorEnded {
            room: room.clone(),
            participant: participant.clone(),
            spoken_ms: *spoken_ms,
            reason: match reason {
                d::FloorEndReason::Yielded => p::FloorEndReason::Yielded,
                d::FloorEndReason::Taken => p::FloorEndReason::Taken,
                d::FloorEndReason::Timer => p::FloorEndReason::Timer,
                d::FloorEndReason::Moved => p::FloorEndReason::Moved,
            },
        },
        D::QueueOrderSet { room, order } => P::QueueOrderSet {
            room: room.clone(),
            order: order_out(*order),
        },
        D::SpeakingLimitSet { room, limit_ms } => P::SpeakingLimitSet {
            room: room.clone(),
            limit_ms: *limit_ms,
        },
        D::FloorLimitSet {
            room,
            participant,
            ends_at,
        } => P::FloorLimitSet {
            room: room.clone(),
            participant: participant.clone(),
            ends_at: *ends_at,
        },
        D::FacilitatorCalled { room, message } => P::FacilitatorCalled {
            room: room.clone(),
            message: message.clone(),
        },
        D::CallResolved { call } => P::CallResolved { call: *call },
        D::DocumentCreated { name, title } => P::DocumentCreated {
            name: name.clone(),
            title: title.clone(),
        },
        D::WritingGroupSet { group, members } => P::WritingGroupSet {
            group: group.clone(),
            members: members.clone(),
        },
        D::DocumentOpened { document, group } => P::DocumentOpened {
            document: document.clone(),
            group: group.clone(),
        },
        D::DocumentClosed { document, group } => P::DocumentClosed {
            document: document.clone(),
            group: group.clone(),
        },
        D::VersionNamed {
            document,
            version,
            label,
        } => P::VersionNamed {
            document: document.clone(),
            version: *version,
            label: label.clone(),
        },
        D::PollDrafted { poll, spec } => P::PollDrafted {
            poll: poll.clone(),
            spec: spec_out(spec),
        },
        D::PollEdited { poll, spec } => P::PollEdited {
            poll: poll.clone(),
            spec: spec_out(spec),
        },
        D::PollDeleted { poll } => P::PollDeleted { poll: poll.clone() },
        D::PollOpened {
            poll,
            spec,
            ends_at,
        } => P::PollOpened {
            poll: poll.clone(),
            spec: spec_out(spec),
            ends_at: *ends_at,
        },
        D::BallotCast { poll, ballot } => P::BallotCast {
            poll: poll.clone(),
            ballot: ballot_out(ballot),
        },
        D::VoterMarked { poll } => P::VoterMarked { poll: poll.clone() },
        D::SecretBallotCast { poll, ballot } => P::SecretBallotCast {
            poll: poll.clone(),
            ballot: ballot_out(ballot),
        },
        D::PollClosed {
            poll,
            reason,
            tally,
            turnout,
        } => P::PollClosed {
            poll: poll.clone(),
            reason: close_reason_out(*reason),
            tally: Some(tally_out(tally)),
            turnout: turnout.map(turnout_out),
        },
        D::PollRevealed { poll } => P::PollRevealed { poll: poll.clone() },
        D::PollPublished { poll, tally } => P::PollPublished {
            poll: poll.clone(),
            tally: tally_out(tally),
        },
        // Moderation.
        D::ChatHidden {
            room,
            message,
            reason,
        } => P::ChatHidden {
            room: room.clone(),
            message: *message,
            reason: Some(reason.clone()),
        },
        D::ChatUnhidden { room, message } => P::ChatUnhidden {
            room: room.clone(),
            message: *message,
            // Filled in by the fan-out for those who had lost the line (`view::public_form`).
            line: None,
        },
        D::ChatReported {
            room,
            message,
            reason,
        } => P::ChatReported {
            room: room.clone(),
            message: *message,
            reason: reason.clone(),
        },
        D::ReportDismissed { report } => P::ReportDismissed { report: *report },
        D::ParticipantMuted {
            participant,
            until,
            reason,
        } => P::ParticipantMuted {
            participant: participant.clone(),
            until: *until,
            reason: reason.clone(),
        },
        D::ParticipantUnmuted { participant, early } => P::ParticipantUnmuted {
            participant: participant.clone(),
            early: *early,
        },
        D::ParticipantRemoved {
            participant,
            reason,
        } => P::ParticipantRemoved {
            participant: participant.clone(),
            reason: Some(reason.clone()),
        },
        D::ParticipantReadmitted { participant } => P::ParticipantReadmitted {
            participant: participant.clone(),
        },
    }
}

pub fn event_in(e: p::Event) -> d::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        e @ (P::RotationPlanned { .. }
        | P::RotationRoundStarted { .. }
        | P::RotationWarned
        | P::RotationTransition { .. }
        | P::RotationPaused { .. }
        | P::RotationResumed
        | P::RotationExtended { .. }
        | P::RotationEnded { .. }
        | P::ExpertAbsent { .. }
        | P::GroupJoined { .. }
        | P::QuestionAsked { .. }
        | P::QuestionAnswered { .. }) => rotation::event_in(e),
        // Run sheet.
        e @ (P::SequenceAdded { .. }
        | P::SequenceEdited { .. }
        | P::SequenceDeleted { .. }
        | P::SequenceMoved { .. }
        | P::SequenceStarted { .. }
        | P::SequenceExtended { .. }
        | P::SequenceEnded { .. }
        | P::SequenceSkipped { .. }) => runsheet::event_in(e),
        // Hearings.
        e @ (P::HearingCreated { .. }
        | P::HearingOpened { .. }
        | P::HearingClosed { .. }
        | P::HearingQuestionAsked { .. }
        | P::HearingQuestionSupported { .. }
        | P::HearingSupportWithdrawn { .. }
        | P::HearingQuestionApproved { .. }
        | P::HearingQuestionsMerged { .. }
        | P::HearingQuestionHidden { .. }
        | P::HearingQuestionAnswering { .. }
        | P::HearingQuestionAnswered { .. }) => hearings::event_in(e),
        // Public audience (§24).
        e @ (P::PublicLinkCreated { .. }
        | P::PublicLinkRevoked
        | P::LivestreamSet { .. }
        | P::DocumentPublished { .. }
        | P::PublicPollOpened { .. }
        | P::PublicBallotCast { .. }
        | P::PublicPollClosed { .. }) => public::event_in(e),
        P::ConventionCreated { name } => D::ConventionCreated { name },
        P::ParticipantAdded { person } => D::ParticipantAdded {
            person: d::Person {
                id: person.id,
                name: person.name,
                roles: person.roles.into_iter().map(role_in).collect(),
                attributes: person.attributes,
            },
        },
        P::InviteIssued {
            participant,
            token_hash,
        } => D::InviteIssued {
            participant,
            token_hash,
        },
        P::InviteRevoked { participant } => D::InviteRevoked { participant },
        P::RoomsCreated { rooms } => D::RoomsCreated {
            rooms: rooms.into_iter().map(|r| (r.id, r.name)).collect(),
        },
        P::RoomsCleared => D::RoomsCleared,
        P::RoomsAssigned {
            method,
            assignments,
        } => D::RoomsAssigned {
            method,
            assignments: pairs_in(assignments),
        },
        P::BreakoutsOpened { ends_at, warn_at } => D::BreakoutsOpened { ends_at, warn_at },
        P::BreakoutsWarned => D::BreakoutsWarned,
        P::BreakoutsExtended { ends_at, warn_at } => D::BreakoutsExtended { ends_at, warn_at },
        P::BreakoutsClosed { reason } => D::BreakoutsClosed {
            reason: close_reason_in(reason),
        },
        P::ParticipantMoved { participant, room } => D::ParticipantMoved { participant, room },
        P::BroadcastSent { text } => D::BroadcastSent { text },
        P::ChatPosted { room, text } => D::ChatPosted { room, text },
        P::HandRaised { room, participant } => D::HandRaised { room, participant },
        P::HandLowered { room, participant } => D::HandLowered { room, participant },
        P::FloorGiven {
            room,
            participant,
            ends_at,
        } => D::FloorGiven {
            room,
            participant,
            ends_at,
        },
        P::FloorEnded {
            room,
            participant,
            spoken_ms,
            reason,
        } => D::FloorEnded {
            room,
            participant,
            spoken_ms,
            reason: match reason {
                p::FloorEndReason::Yielded => d::FloorEndReason::Yielded,
                p::FloorEndReason::Taken => d::FloorEndReason::Taken,
                p::FloorEndReason::Timer => d::FloorEndReason::Timer,
                p::FloorEndReason::Moved => d::FloorEndReason::Moved,
            },
        },
        P::QueueOrderSet { room, order } => D::QueueOrderSet {
            room,
            order: order_in(order),
        },
        P::SpeakingLimitSet { room, limit_ms } => D::SpeakingLimitSet { room, limit_ms },
        P::FloorLimitSet {
            room,
            participant,
            ends_at,
        } => D::FloorLimitSet {
            room,
            participant,
            ends_at,
        },
        P::FacilitatorCalled { room, message } => D::FacilitatorCalled { room, message },
        P::CallResolved { call } => D::CallResolved { call },
        P::DocumentCreated { name, title } => D::DocumentCreated { name, title },
        P::WritingGroupSet { group, members } => D::WritingGroupSet { group, members },
        P::DocumentOpened { document, group } => D::DocumentOpened { document, group },
        P::DocumentClosed { document, group } => D::DocumentClosed { document, group },
        P::VersionNamed {
            document,
            version,
            label,
        } => D::VersionNamed {
            document,
            version,
            label,
        },
        P::PollDrafted { poll, spec } => D::PollDrafted {
            poll,
            spec: spec_in(spec),
        },
        P::PollEdited { poll, spec } => D::PollEdited {
            poll,
            spec: spec_in(spec),
        },
        P::PollDeleted { poll } => D::PollDeleted { poll },
        P::PollOpened {
            poll,
            spec,
            ends_at,
        } => D::PollOpened {
            poll,
            spec: spec_in(spec),
            ends_at,
        },
        P::BallotCast { poll, ballot } => D::BallotCast {
            poll,
            ballot: ballot_in(ballot),
        },
        P::VoterMarked { poll } => D::VoterMarked { poll },
        P::SecretBallotCast { poll, ballot } => D::SecretBallotCast {
            poll,
            ballot: ballot_in(ballot),
        },
        P::PollClosed {
            poll,
            reason,
            tally,
            turnout,
        } => D::PollClosed {
            poll,
            reason: close_reason_in(reason),
            tally: tally.map(tally_in).unwrap_or_else(empty_tally),
            turnout: turnout.map(turnout_in),
        },
        P::PollRevealed { poll } => D::PollRevealed { poll },
        P::PollPublished { poll, tally } => D::PollPublished {
            poll,
            tally: tally_in(tally),
        },
        // Moderation.
        P::ChatHidden {
            room,
            message,
            reason,
        } => D::ChatHidden {
            room,
            message,
            reason: reason.unwrap_or_default(),
        },
        P::ChatUnhidden { room, message, .. } => D::ChatUnhidden { room, message },
        P::ChatReported {
            room,
            message,
            reason,
        } => D::ChatReported {
            room,
            message,
            reason,
        },
        P::ReportDismissed { report } => D::ReportDismissed { report },
        P::ParticipantMuted {
            participant,
            until,
            reason,
        } => D::ParticipantMuted {
            participant,
            until,
            reason,
        },
        P::ParticipantUnmuted { participant, early } => {
            D::ParticipantUnmuted { participant, early }
        }
        P::ParticipantRemoved {
            participant,
            reason,
        } => D::ParticipantRemoved {
            participant,
            reason: reason.unwrap_or_default(),
        },
        P::ParticipantReadmitted { participant } => D::ParticipantReadmitted { participant },
    }
}

pub fn record_out(r: &d::Record) -> p::Record {
    p::Record {
        seq: r.seq,
        at: r.at,
        by: actor_out(&r.actor),
        event: event_out(&r.event),
        request: r.request.clone(),
    }
}

pub fn record_in(r: p::Record) -> d::Record {
    d::Record {
        seq: r.seq,
        at: r.at,
        actor: actor_in(r.by),
        event: event_in(r.event),
        request: r.request,
    }
}

pub fn command_in(c: p::Command) -> d::Command {
    use d::Command as D;
    use p::Command as P;
    match c {
        c @ (P::PlanRotation { .. }
        | P::StartRotation
        | P::PauseRotation
        | P::ResumeRotation
        | P::ExtendRound { .. }
        | P::SkipRound
        | P::StopRotation
        | P::MarkExpertAbsent { .. }
        | P::AddToGroup { .. }
        | P::AskQuestion { .. }
        | P::AnswerQuestion { .. }) => rotation::command_in(c),
        // Run sheet.
        c @ (P::AddSequence { .. }
        | P::EditSequence { .. }
        | P::DeleteSequence { .. }
        | P::MoveSequence { .. }
        | P::StartSequence { .. }
        | P::ExtendSequence { .. }
        | P::EndSequence
        | P::SkipSequence { .. }) => runsheet::command_in(c),
        // Hearings.
        c @ (P::CreateHearing { .. }
        | P::OpenHearing { .. }
        | P::CloseHearing { .. }
        | P::AskHearingQuestion { .. }
        | P::SupportQuestion { .. }
        | P::WithdrawSupport { .. }
        | P::ApproveQuestion { .. }
        | P::MergeQuestion { .. }
        | P::HideQuestion { .. }
        | P::MarkAnswering { .. }
        | P::MarkAnswered { .. }) => hearings::command_in(c),
        P::SendChat { text, room } => D::SendChat { text, room },
        P::RaiseHand { room } => D::RaiseHand { room },
        P::LowerHand => D::LowerHand,
        P::YieldFloor => D::YieldFloor,
        P::CallFacilitator { message } => D::CallFacilitator { message },
        P::Visit { room } => D::Visit { room },
        P::CreateRooms { count, names } => D::CreateRooms { count, names },
        P::ClearRooms => D::ClearRooms,
        P::AssignRooms {
            method,
            participants,
            only_present,
        } => D::AssignRooms {
            method: match method {
                p::AssignMethod::Random => d::AssignMethod::Random,
                p::AssignMethod::Balanced { attribute } => d::AssignMethod::Balanced(attribute),
                p::AssignMethod::Manual { assignments } => {
                    d::AssignMethod::Manual(pairs_in(assignments))
                }
            },
            participants,
            only_present,
        },
        P::OpenBreakouts {
            duration_ms,
            warning_ms,
        } => D::OpenBreakouts {
            duration_ms,
            warning_ms,
        },
        P::ExtendBreakouts { by_ms } => D::ExtendBreakouts { by_ms },
        P::CloseBreakouts => D::CloseBreakouts,
        P::Broadcast { text } => D::Broadcast { text },
        P::MoveParticipant { participant, room } => D::MoveParticipant { participant, room },
        P::ResolveCall { call } => D::ResolveCall { call },
        P::GiveFloor {
            room,
            participant,
            limit_ms,
        } => D::GiveFloor {
            room,
            participant,
            limit_ms,
        },
        P::EndFloor { room } => D::EndFloor { room },
        P::SetQueueOrder { room, order } => D::SetQueueOrder {
            room,
            order: order_in(order),
        },
        P::SetSpeakingLimit { room, limit_ms } => D::SetSpeakingLimit { room, limit_ms },
        P::SetFloorLimit { room, limit_ms } => D::SetFloorLimit { room, limit_ms },
        P::CreateDocument { name, title } => D::CreateDocument { name, title },
        P::SetWritingGroup { group, members } => D::SetWritingGroup { group, members },
        P::OpenDocument { document, group } => D::OpenDocument { document, group },
        P::CloseDocument { document, group } => D::CloseDocument { document, group },
        P::NameVersion { document, label } => D::NameVersion { document, label },
        // Public audience (§24).
        P::PublishDocument { document, version } => D::PublishDocument { document, version },
        P::OpenPublicPoll { question, options } => D::OpenPublicPoll { question, options },
        P::ClosePublicPoll { poll } => D::ClosePublicPoll { poll },
        P::DraftPoll { spec } => D::DraftPoll {
            spec: spec_in(spec),
        },
        P::EditPoll { poll, spec } => D::EditPoll {
            poll,
            spec: spec_in(spec),
        },
        P::DeletePoll { poll } => D::DeletePoll { poll },
        P::OpenPoll { poll } => D::OpenPoll { poll },
        P::ClosePoll { poll } => D::ClosePoll { poll },
        P::RevealResults { poll } => D::RevealResults { poll },
        P::PublishResults { poll } => D::PublishResults { poll },
        P::Vote { poll, ballot } => D::Vote {
            poll,
            ballot: ballot_in(ballot),
        },
        // Moderation.
        P::HideChat { message, reason } => D::HideChat { message, reason },
        P::UnhideChat { message } => D::UnhideChat { message },
        P::ReportChat { message, reason } => D::ReportChat { message, reason },
        P::DismissReport { report } => D::DismissReport { report },
        P::Mute {
            participant,
            duration_ms,
            reason,
        } => D::Mute {
            participant,
            duration_ms,
            reason,
        },
        P::Unmute { participant } => D::Unmute { participant },
        P::RemoveParticipant {
            participant,
            reason,
        } => D::RemoveParticipant {
            participant,
            reason,
        },
        P::Readmit { participant } => D::Readmit { participant },
    }
}

pub fn tampered_out(t: &d::polls::Tampered) -> p::TamperedBox {
    p::TamperedBox {
        ballots: t.ballots,
        voters: t.voters,
    }
}

pub fn code_out(c: d::Code) -> p::ErrorCode {
    match c {
        d::Code::Forbidden => p::ErrorCode::Forbidden,
        d::Code::Invalid => p::ErrorCode::Invalid,
        d::Code::NotFound => p::ErrorCode::NotFound,
        d::Code::Conflict => p::ErrorCode::Conflict,
        d::Code::Tampered => p::ErrorCode::Tampered,
        d::Code::Muted => p::ErrorCode::Muted,
    }
}

fn close_reason_out(r: d::CloseReason) -> p::CloseReason {
    match r {
        d::CloseReason::Timer => p::CloseReason::Timer,
        d::CloseReason::Facilitator => p::CloseReason::Facilitator,
    }
}

fn close_reason_in(r: p::CloseReason) -> d::CloseReason {
    match r {
        p::CloseReason::Timer => d::CloseReason::Timer,
        p::CloseReason::Facilitator => d::CloseReason::Facilitator,
    }
}
