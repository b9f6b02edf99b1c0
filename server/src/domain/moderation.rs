//! Live moderation: hiding a chat message, reports of messages to the facilitators, muting a
//! participant's chat for a while, removing a participant from the live convention and
//! readmitting them. Every action is an event of the log, so it is audited (the moderation
//! log is the audit trail's moderation entries) and every node's replica acts on it.

use super::decide::{check_duration, floor_ended, reject};
use super::{
    Code, Command, Convention, Event, FloorEndReason, Millis, ParticipantId, Person, Rejection,
    Role, RoomId,
};

/// Longest reason a facilitator gives for hiding, muting or removing, in characters.
pub const MAX_MODERATION_REASON_CHARS: usize = 500;
/// Longest reason of a report, in characters.
pub const MAX_REPORT_REASON_CHARS: usize = 200;
/// Most reports one participant may have open at once (one per message).
pub const MAX_OPEN_REPORTS_PER_REPORTER: usize = 10;

/// A chat line hidden by a facilitator: who, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hidden {
    pub by: ParticipantId,
    pub at: Millis,
    pub reason: String,
}

/// A report of a chat message to the facilitators, open until dismissed or the message hidden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The seq of the `chat_reported` event.
    pub id: u64,
    pub at: Millis,
    pub by: ParticipantId,
    pub room: RoomId,
    /// The seq of the reported `chat_posted`.
    pub message: u64,
    pub reason: String,
}

/// A participant whose chat is muted until `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mute {
    pub until: Millis,
    pub at: Millis,
    pub by: ParticipantId,
    pub reason: String,
}

/// A participant removed from the live convention, until readmitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removal {
    pub at: Millis,
    pub by: ParticipantId,
    pub reason: String,
}

/// A reason: trimmed, within `max` characters; required or not.
fn reason(text: &str, max: usize, required: bool) -> Result<String, Rejection> {
    let t = text.trim();
    if required && t.is_empty() {
        return reject(Code::Invalid, "give a reason");
    }
    if super::decide::has_control(t) {
        return reject(
            Code::Invalid,
            "the reason may not hold control characters (but line breaks and tabs)",
        );
    }
    if t.chars().count() > max {
        return reject(
            Code::Invalid,
            format!("the reason is longer than {max} characters"),
        );
    }
    Ok(t.to_string())
}

/// Someone a facilitator may moderate: on the roster, neither a facilitator nor a guarantor.
fn target<'s>(state: &'s Convention, who: &str) -> Result<&'s Person, Rejection> {
    let Some(p) = state.people.get(who) else {
        return reject(Code::NotFound, format!("no participant {who}"));
    };
    if p.has(Role::Facilitator) || p.has(Role::Guarantor) {
        return reject(
            Code::Forbidden,
            format!("{who} is a facilitator or a guarantor: they cannot be moderated"),
        );
    }
    Ok(p)
}

impl Convention {
    /// A chat line still kept in the state, by the seq of its `chat_posted`, with its room.
    pub fn chat_line(&self, seq: u64) -> Option<(&super::RoomState, &super::ChatLine)> {
        self.rooms.iter().find_map(|r| {
            let i = r.chat.binary_search_by_key(&seq, |l| l.seq).ok()?;
            Some((r, &r.chat[i]))
        })
    }

    /// Whether this participant's chat is muted at `now` (until when).
    pub fn muted_until(&self, who: &str, now: Millis) -> Option<Millis> {
        self.muted
            .get(who)
            .map(|m| m.until)
            .filter(|until| *until > now)
    }

    pub fn is_removed(&self, who: &str) -> bool {
        self.removed.contains_key(who)
    }

    /// The earliest mute to end.
    pub(super) fn next_unmute(&self) -> Option<Millis> {
        self.muted.values().map(|m| m.until).min()
    }
}

/// Decide a moderation command; `me` is the acting participant (checked by the caller).
pub(super) fn decide(
    state: &Convention,
    me: &Person,
    command: &Command,
    now: Millis,
) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::HideChat {
            message,
            reason: why,
        } => {
            let why = reason(why, MAX_MODERATION_REASON_CHARS, true)?;
            let Some((room, line)) = state.chat_line(*message) else {
                return reject(
                    Code::NotFound,
                    format!("no recent chat message {message} (older ones are only in the log)"),
                );
            };
            if line.hidden.is_some() {
                return reject(
                    Code::Conflict,
                    format!("message {message} is already hidden"),
                );
            }
            // Staff are not moderated: a facilitator's message stays (it may be reported,
            // and the guarantors see the report).
            if state
                .people
                .get(&line.from)
                .is_some_and(|p| p.has(Role::Facilitator) || p.has(Role::Guarantor))
            {
                return reject(
                    Code::Forbidden,
                    "a facilitator's message cannot be hidden: staff are not moderated",
                );
            }
            Ok(vec![Event::ChatHidden {
                room: room.id.clone(),
                message: *message,
                reason: why,
            }])
        }
        Command::UnhideChat { message } => {
            let Some((room, line)) = state.chat_line(*message) else {
                return reject(
                    Code::NotFound,
                    format!("no recent chat message {message} (older ones are only in the log)"),
                );
            };
            if line.hidden.is_none() {
                return reject(Code::Conflict, format!("message {message} is not hidden"));
            }
            Ok(vec![Event::ChatUnhidden {
                room: room.id.clone(),
                message: *message,
            }])
        }
        Command::ReportChat {
            message,
            reason: why,
        } => {
            let why = reason(why, MAX_REPORT_REASON_CHARS, false)?;
            let Some((room, line)) = state.chat_line(*message) else {
                return reject(Code::NotFound, format!("no recent chat message {message}"));
            };
            // One sees (and so reports) the chat of one's own room; staff see every room.
            if !me.sees_everything() && state.location_of(&me.id) != room.id {
                return reject(Code::NotFound, format!("no recent chat message {message}"));
            }
            if line.hidden.is_some() {
                return reject(
                    Code::Conflict,
                    format!("message {message} is already hidden"),
                );
            }
            if line.from == me.id {
                return reject(Code::Invalid, "you cannot report your own message");
            }
            let mine = state.reports.values().filter(|r| r.by == me.id);
            let mut open = 0;
            for r in mine {
                if r.message == *message {
                    return reject(Code::Conflict, "you have already reported this message");
                }
                open += 1;
            }
            if open >= MAX_OPEN_REPORTS_PER_REPORTER {
                return reject(
                    Code::Conflict,
                    format!(
                        "you have {MAX_OPEN_REPORTS_PER_REPORTER} open reports: wait for the \
                         facilitators to handle them"
                    ),
                );
            }
            Ok(vec![Event::ChatReported {
                room: room.id.clone(),
                message: *message,
                reason: why,
            }])
        }
        Command::DismissReport { report } => {
            if !state.reports.contains_key(report) {
                return reject(Code::NotFound, format!("no open report {report}"));
            }
            Ok(vec![Event::ReportDismissed { report: *report }])
        }
        Command::Mute {
            participant,
            duration_ms,
            reason: why,
        } => {
            target(state, participant)?;
            check_duration(*duration_ms, "a mute")?;
            let why = reason(why, MAX_MODERATION_REASON_CHARS, false)?;
            if state.is_removed(participant) {
                return reject(Code::Conflict, format!("{participant} is removed"));
            }
            // Muting again replaces the deadline (longer or shorter).
            Ok(vec![Event::ParticipantMuted {
                participant: participant.clone(),
                until: now + duration_ms,
                reason: why,
            }])
        }
        Command::Unmute { participant } => {
            target(state, participant)?;
            if !state.muted.contains_key(participant) {
                return reject(Code::Conflict, format!("{participant} is not muted"));
            }
            Ok(vec![Event::ParticipantUnmuted {
                participant: participant.clone(),
                early: true,
            }])
        }
        Command::RemoveParticipant {
            participant,
            reason: why,
        } => {
            target(state, participant)?;
            let why = reason(why, MAX_MODERATION_REASON_CHARS, true)?;
            if state.is_removed(participant) {
                return reject(Code::Conflict, format!("{participant} is already removed"));
            }
            // Their floor ends and their hand comes down, in every room, before they go.
            let mut out = Vec::new();
            for r in &state.rooms {
                if let Some(f) = r.floor.as_ref().filter(|f| &f.participant == participant) {
                    out.push(floor_ended(&r.id, f, FloorEndReason::Taken, now));
                }
                if r.queue.iter().any(|(p, _)| p == participant) {
                    out.push(Event::HandLowered {
                        room: r.id.clone(),
                        participant: participant.clone(),
                    });
                }
            }
            out.push(Event::ParticipantRemoved {
                participant: participant.clone(),
                reason: why,
            });
            Ok(out)
        }
        Command::Readmit { participant } => {
            if !state.people.contains_key(participant) {
                return reject(Code::NotFound, format!("no participant {participant}"));
            }
            if !state.is_removed(participant) {
                return reject(Code::Conflict, format!("{participant} is not removed"));
            }
            Ok(vec![Event::ParticipantReadmitted {
                participant: participant.clone(),
            }])
        }
        _ => reject(Code::Invalid, "not a moderation command"),
    }
}

/// The mutes that end at `now`.
pub(super) fn due(state: &Convention, now: Millis) -> Vec<Event> {
    state
        .muted
        .iter()
        .filter(|(_, m)| m.until <= now)
        .map(|(p, _)| Event::ParticipantUnmuted {
            participant: p.clone(),
            early: false,
        })
        .collect()
}

/// Apply a moderation event; `by` is the record's participant, if any.
pub(super) fn apply(state: &mut Convention, event: &Event, at: Millis, seq: u64, by: Option<&str>) {
    let by = by.unwrap_or_default().to_string();
    match event {
        Event::ChatHidden {
            room,
            message,
            reason,
        } => {
            if let Some(r) = state.rooms.iter_mut().find(|r| &r.id == room) {
                if let Ok(i) = r.chat.binary_search_by_key(message, |l| l.seq) {
                    r.chat[i].hidden = Some(Hidden {
                        by,
                        at,
                        reason: reason.clone(),
                    });
                }
            }
            // Hiding a message settles its reports.
            state.reports.retain(|_, r| r.message != *message);
        }
        Event::ChatUnhidden { room, message } => {
            if let Some(r) = state.rooms.iter_mut().find(|r| &r.id == room) {
                if let Ok(i) = r.chat.binary_search_by_key(message, |l| l.seq) {
                    r.chat[i].hidden = None;
                }
            }
        }
        Event::ChatReported {
            room,
            message,
            reason,
        } => {
            state.reports.insert(
                seq,
                Report {
                    id: seq,
                    at,
                    by,
                    room: room.clone(),
                    message: *message,
                    reason: reason.clone(),
                },
            );
        }
        Event::ReportDismissed { report } => {
            state.reports.remove(report);
        }
        Event::ParticipantMuted {
            participant,
            until,
            reason,
        } => {
            state.muted.insert(
                participant.clone(),
                Mute {
                    until: *until,
                    at,
                    by,
                    reason: reason.clone(),
                },
            );
        }
        Event::ParticipantUnmuted { participant, .. } => {
            state.muted.remove(participant);
        }
        Event::ParticipantRemoved {
            participant,
            reason,
        } => {
            // Out of every room and every assignment: nothing brings them back in by itself.
            state.move_to(participant, super::PLENARY);
            std::sync::Arc::make_mut(&mut state.assignment).remove(participant);
            for r in &mut state.rooms {
                r.queue.retain(|(p, _)| p != participant);
            }
            state.removed.insert(
                participant.clone(),
                Removal {
                    at,
                    by,
                    reason: reason.clone(),
                },
            );
        }
        Event::ParticipantReadmitted { participant } => {
            state.removed.remove(participant);
        }
        _ => {}
    }
}
