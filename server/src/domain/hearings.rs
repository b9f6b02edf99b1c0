//! Hearings: a speaker (an expert of the roster) is heard in the plenary or a room, and the
//! people of that room put questions to them, support each other's, and facilitators moderate.
//! The question list itself is `questions::Questions`, shared with the expert rotation.

use super::decide::{check_text, reject};
use super::questions::{self, Questions, Status};
use super::{
    Code, Command, Convention, Event, Millis, ParticipantId, Person, Rejection, Role, RoomId,
    MAX_NAME_CHARS,
};

/// Most hearings a convention may hold (a hearing is kept, closed, for its export).
pub const MAX_HEARINGS: usize = 100;
/// Most hearings open at once (in different rooms): facilitators and guarantors follow every
/// open one, and their snapshot carries each one's list.
pub const MAX_OPEN_HEARINGS: usize = 4;
/// Longest reason for hiding a question, in characters.
pub const MAX_HIDE_REASON_CHARS: usize = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HearingStatus {
    Planned,
    Open,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hearing {
    /// `h1`, `h2`...
    pub id: String,
    pub title: String,
    /// An expert of the roster.
    pub speaker: ParticipantId,
    pub room: RoomId,
    /// Nobody but facilitators and guarantors sees who asked what.
    pub anonymous: bool,
    /// Questions are seen by the room only once a facilitator approves them.
    pub moderated: bool,
    pub status: HearingStatus,
    pub questions: Questions,
}

type Decision = Result<Vec<Event>, Rejection>;

fn hearing<'a>(state: &'a Convention, id: &str) -> Result<&'a Hearing, Rejection> {
    state
        .hearings
        .get(id)
        .ok_or_else(|| Rejection::new(Code::NotFound, format!("no hearing {id}")))
}

/// The hearing, which must be open.
fn open<'a>(state: &'a Convention, id: &str) -> Result<&'a Hearing, Rejection> {
    let h = hearing(state, id)?;
    match h.status {
        HearingStatus::Open => Ok(h),
        HearingStatus::Planned => reject(Code::Conflict, format!("hearing {id} is not open yet")),
        HearingStatus::Closed => reject(Code::Conflict, format!("hearing {id} is closed")),
    }
}

/// The open hearing, and the sender, who must be in its room.
fn in_room<'a>(
    state: &'a Convention,
    me: Option<&Person>,
    id: &str,
) -> Result<(&'a Hearing, ParticipantId), Rejection> {
    let Some(p) = me else {
        return reject(Code::Forbidden, "only participants take part in hearings");
    };
    let h = open(state, id)?;
    if state.location_of(&p.id) != h.room {
        return reject(
            Code::Conflict,
            format!("hearing {id} is held in room {}: join it first", h.room),
        );
    }
    Ok((h, p.id.clone()))
}

/// Decide a hearing command (the actor's permission was checked by the caller).
pub(super) fn decide(state: &Convention, me: Option<&Person>, command: &Command) -> Decision {
    match command {
        Command::CreateHearing {
            title,
            speaker,
            room,
            anonymous,
            moderated,
        } => {
            let title = check_text(title, MAX_NAME_CHARS, "a hearing's title")?;
            match state.people.get(speaker) {
                None => return reject(Code::NotFound, format!("no participant {speaker}")),
                Some(p) if !p.has(Role::Expert) => {
                    return reject(
                        Code::Invalid,
                        format!(
                            "{speaker} is not an expert: an organizer adds the speaker to the \
                             roster with the role expert"
                        ),
                    )
                }
                Some(_) => {}
            }
            if state.room(room).is_none() {
                return reject(Code::NotFound, format!("no room {room}"));
            }
            if state.hearings.len() >= MAX_HEARINGS {
                return reject(
                    Code::Conflict,
                    format!("at most {MAX_HEARINGS} hearings per convention"),
                );
            }
            Ok(vec![Event::HearingCreated {
                hearing: format!("h{}", state.hearings.len() + 1),
                title,
                speaker: speaker.clone(),
                room: room.clone(),
                anonymous: *anonymous,
                moderated: *moderated,
            }])
        }
        Command::OpenHearing { hearing: id } => {
            let h = hearing(state, id)?;
            match h.status {
                HearingStatus::Planned => {}
                HearingStatus::Open => return reject(Code::Conflict, "already open"),
                HearingStatus::Closed => {
                    return reject(Code::Conflict, format!("hearing {id} is closed"))
                }
            }
            if state.room(&h.room).is_none() {
                return reject(Code::NotFound, format!("room {} no longer exists", h.room));
            }
            let open_now = state
                .hearings
                .values()
                .filter(|o| o.status == HearingStatus::Open)
                .count();
            if open_now >= MAX_OPEN_HEARINGS {
                return reject(
                    Code::Conflict,
                    format!("at most {MAX_OPEN_HEARINGS} hearings open at once: close one first"),
                );
            }
            if let Some(other) = state.open_hearing_in(&h.room) {
                return reject(
                    Code::Conflict,
                    format!("hearing {} is open in this room: close it first", other.id),
                );
            }
            Ok(vec![Event::HearingOpened {
                hearing: id.clone(),
            }])
        }
        Command::CloseHearing { hearing: id } => {
            open(state, id)?;
            Ok(vec![Event::HearingClosed {
                hearing: id.clone(),
            }])
        }
        Command::AskHearingQuestion { hearing: id, text } => {
            let (h, who) = in_room(state, me, id)?;
            if h.speaker == who {
                return reject(Code::Invalid, "the speaker answers, they do not ask");
            }
            let text = questions::check_text(text, "a question")?;
            h.questions.check_ask(&who, &h.room, &text)?;
            Ok(vec![Event::HearingQuestionAsked {
                hearing: id.clone(),
                text,
            }])
        }
        Command::SupportQuestion {
            hearing: id,
            question,
        } => {
            let (h, who) = in_room(state, me, id)?;
            h.questions.check_support(*question, &who)?;
            Ok(vec![Event::HearingQuestionSupported {
                hearing: id.clone(),
                question: *question,
            }])
        }
        Command::WithdrawSupport {
            hearing: id,
            question,
        } => {
            let (h, who) = in_room(state, me, id)?;
            h.questions.check_withdraw(*question, &who)?;
            Ok(vec![Event::HearingSupportWithdrawn {
                hearing: id.clone(),
                question: *question,
            }])
        }
        Command::ApproveQuestion {
            hearing: id,
            question,
        } => {
            let h = open(state, id)?;
            match h.questions.get(*question).map(|q| &q.status) {
                None => reject(Code::NotFound, format!("no question {question} here")),
                Some(Status::Pending) => Ok(vec![Event::HearingQuestionApproved {
                    hearing: id.clone(),
                    question: *question,
                }]),
                Some(_) => reject(Code::Conflict, "this question is not awaiting approval"),
            }
        }
        Command::MergeQuestion {
            hearing: id,
            question,
            into,
        } => {
            let h = open(state, id)?;
            if h.questions.get(*into).is_none()
                && state
                    .hearings
                    .values()
                    .any(|o| o.questions.get(*into).is_some())
            {
                return reject(
                    Code::Invalid,
                    format!("question {into} belongs to another hearing: merge within one"),
                );
            }
            h.questions.check_merge(*question, *into)?;
            Ok(vec![Event::HearingQuestionsMerged {
                hearing: id.clone(),
                question: *question,
                into: *into,
            }])
        }
        Command::HideQuestion {
            hearing: id,
            question,
            reason,
        } => {
            let h = open(state, id)?;
            let reason = check_text(reason, MAX_HIDE_REASON_CHARS, "the reason")?;
            match h.questions.get(*question).map(|q| &q.status) {
                None => reject(Code::NotFound, format!("no question {question} here")),
                Some(Status::Hidden { .. }) => reject(Code::Conflict, "already hidden"),
                Some(Status::Merged { .. }) => reject(Code::Conflict, "this question was merged"),
                Some(_) => Ok(vec![Event::HearingQuestionHidden {
                    hearing: id.clone(),
                    question: *question,
                    reason,
                }]),
            }
        }
        Command::MarkAnswering {
            hearing: id,
            question,
        } => {
            open(state, id)?.questions.check_answer(*question, false)?;
            Ok(vec![Event::HearingQuestionAnswering {
                hearing: id.clone(),
                question: *question,
            }])
        }
        Command::MarkAnswered {
            hearing: id,
            question,
        } => {
            open(state, id)?.questions.check_answer(*question, true)?;
            Ok(vec![Event::HearingQuestionAnswered {
                hearing: id.clone(),
                question: *question,
            }])
        }
        _ => reject(Code::Invalid, "not a hearing command"),
    }
}

/// Apply a hearing event; `from` is the record's participant, if any.
pub(super) fn apply(
    state: &mut Convention,
    event: &Event,
    at: Millis,
    seq: u64,
    from: Option<&str>,
) {
    match event {
        Event::HearingCreated {
            hearing,
            title,
            speaker,
            room,
            anonymous,
            moderated,
        } => {
            state.hearings.insert(
                hearing.clone(),
                Hearing {
                    id: hearing.clone(),
                    title: title.clone(),
                    speaker: speaker.clone(),
                    room: room.clone(),
                    anonymous: *anonymous,
                    moderated: *moderated,
                    status: HearingStatus::Planned,
                    questions: Questions::default(),
                },
            );
        }
        Event::HearingOpened { hearing } => {
            if let Some(h) = state.hearings.get_mut(hearing) {
                h.status = HearingStatus::Open;
            }
        }
        Event::HearingClosed { hearing } => {
            if let Some(h) = state.hearings.get_mut(hearing) {
                h.status = HearingStatus::Closed;
                // Nothing stays "being answered" once the speaker has left.
                for q in h.questions.list.iter_mut() {
                    if q.status == Status::Answering {
                        q.status = Status::Answered;
                    }
                }
            }
        }
        Event::HearingQuestionAsked { hearing, text } => {
            if let (Some(h), Some(from)) = (state.hearings.get_mut(hearing), from) {
                let status = if h.moderated {
                    Status::Pending
                } else {
                    Status::Open
                };
                let room = h.room.clone();
                h.questions.ask(seq, &room, from, at, text, status);
            }
        }
        Event::HearingQuestionSupported { hearing, question } => {
            if let (Some(q), Some(from)) = (question_mut(state, hearing, *question), from) {
                q.supporters.insert(from.to_string());
            }
        }
        Event::HearingSupportWithdrawn { hearing, question } => {
            if let (Some(q), Some(from)) = (question_mut(state, hearing, *question), from) {
                q.supporters.remove(from);
            }
        }
        Event::HearingQuestionApproved { hearing, question } => {
            if let Some(q) = question_mut(state, hearing, *question) {
                q.status = Status::Open;
            }
        }
        Event::HearingQuestionsMerged {
            hearing,
            question,
            into,
        } => {
            if let Some(h) = state.hearings.get_mut(hearing) {
                h.questions.merge(*question, *into);
            }
        }
        Event::HearingQuestionHidden {
            hearing,
            question,
            reason,
        } => {
            if let Some(q) = question_mut(state, hearing, *question) {
                q.status = Status::Hidden {
                    reason: reason.clone(),
                };
            }
        }
        Event::HearingQuestionAnswering { hearing, question } => {
            if let Some(q) = question_mut(state, hearing, *question) {
                q.status = Status::Answering;
            }
        }
        Event::HearingQuestionAnswered { hearing, question } => {
            if let Some(q) = question_mut(state, hearing, *question) {
                q.status = Status::Answered;
            }
        }
        _ => {}
    }
}

fn question_mut<'a>(
    state: &'a mut Convention,
    hearing: &str,
    id: u64,
) -> Option<&'a mut questions::Question> {
    state.hearings.get_mut(hearing)?.questions.get_mut(id)
}

impl Convention {
    /// The open hearing of a room, if any.
    pub fn open_hearing_in(&self, room: &str) -> Option<&Hearing> {
        self.hearings
            .values()
            .find(|h| h.room == room && h.status == HearingStatus::Open)
    }

    /// Hearings in the order they were created (h2 before h10).
    pub fn hearings_in_order(&self) -> impl Iterator<Item = &Hearing> {
        let mut v: Vec<&Hearing> = self.hearings.values().collect();
        v.sort_by_key(|h| (h.id.len(), h.id.clone()));
        v.into_iter()
    }
}
