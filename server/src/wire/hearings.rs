//! Hearing types between the domain and the wire.

use convene_protocol as p;

use crate::domain::{self as d, hearings as h, questions as q};

pub fn hearing_status_out(s: h::HearingStatus) -> p::HearingStatus {
    match s {
        h::HearingStatus::Planned => p::HearingStatus::Planned,
        h::HearingStatus::Open => p::HearingStatus::Open,
        h::HearingStatus::Closed => p::HearingStatus::Closed,
    }
}

fn hearing_status_in(s: p::HearingStatus) -> h::HearingStatus {
    match s {
        p::HearingStatus::Planned => h::HearingStatus::Planned,
        p::HearingStatus::Open => h::HearingStatus::Open,
        p::HearingStatus::Closed => h::HearingStatus::Closed,
    }
}

pub fn question_status_out(s: &q::Status) -> p::QuestionStatus {
    match s {
        q::Status::Pending => p::QuestionStatus::Pending,
        q::Status::Open => p::QuestionStatus::Open,
        q::Status::Answering => p::QuestionStatus::Answering,
        q::Status::Answered => p::QuestionStatus::Answered,
        q::Status::Hidden { .. } => p::QuestionStatus::Hidden,
        q::Status::Merged { .. } => p::QuestionStatus::Merged,
    }
}

/// A question as a viewer sees it: `staff` (facilitators and guarantors) see everything; the
/// others no author in an anonymous hearing, and no text or reason once hidden or merged.
pub fn question_out(
    hearing: &h::Hearing,
    question: &q::Question,
    staff: bool,
) -> p::HearingQuestion {
    let gone = !question.visible() && question.status != q::Status::Pending;
    p::HearingQuestion {
        id: question.id,
        at: question.at,
        text: if gone && !staff {
            String::new()
        } else {
            question.text.clone()
        },
        from: (staff || !hearing.anonymous).then(|| question.from.clone()),
        status: question_status_out(&question.status),
        supports: question.supporters.len() as u32,
        merged_into: match question.status {
            q::Status::Merged { into } => Some(into),
            _ => None,
        },
        hidden_reason: match &question.status {
            q::Status::Hidden { reason } if staff => Some(reason.clone()),
            _ => None,
        },
    }
}

pub fn state_out(hearing: &h::Hearing) -> p::HearingState {
    p::HearingState {
        id: hearing.id.clone(),
        title: hearing.title.clone(),
        speaker: hearing.speaker.clone(),
        room: hearing.room.clone(),
        anonymous: hearing.anonymous,
        moderated: hearing.moderated,
        status: hearing_status_out(hearing.status),
        questions: hearing
            .questions
            .list
            .iter()
            .map(|x| p::StoredQuestion {
                id: x.id,
                room: x.room.clone(),
                from: x.from.clone(),
                at: x.at,
                text: x.text.clone(),
                answer: x.answer.clone(),
                status: question_status_out(&x.status),
                merged_into: match x.status {
                    q::Status::Merged { into } => Some(into),
                    _ => None,
                },
                hidden_reason: match &x.status {
                    q::Status::Hidden { reason } => Some(reason.clone()),
                    _ => None,
                },
                supporters: x.supporters.iter().cloned().collect(),
            })
            .collect(),
    }
}

pub fn state_in(s: p::HearingState) -> h::Hearing {
    h::Hearing {
        id: s.id,
        title: s.title,
        speaker: s.speaker,
        room: s.room,
        anonymous: s.anonymous,
        moderated: s.moderated,
        status: hearing_status_in(s.status),
        questions: q::Questions {
            list: s
                .questions
                .into_iter()
                .map(|x| q::Question {
                    id: x.id,
                    room: x.room,
                    from: x.from,
                    at: x.at,
                    text: x.text,
                    answer: x.answer,
                    status: match x.status {
                        p::QuestionStatus::Pending => q::Status::Pending,
                        p::QuestionStatus::Open => q::Status::Open,
                        p::QuestionStatus::Answering => q::Status::Answering,
                        p::QuestionStatus::Answered => q::Status::Answered,
                        p::QuestionStatus::Hidden => q::Status::Hidden {
                            reason: x.hidden_reason.unwrap_or_default(),
                        },
                        p::QuestionStatus::Merged => q::Status::Merged {
                            into: x.merged_into.unwrap_or_default(),
                        },
                    },
                    supporters: x.supporters.into_iter().collect(),
                })
                .collect(),
        },
    }
}

/// A hearing event (the caller dispatches only those here).
pub fn event_out(e: &d::Event) -> p::Event {
    use d::Event as D;
    use p::Event as P;
    match e.clone() {
        D::HearingCreated {
            hearing,
            title,
            speaker,
            room,
            anonymous,
            moderated,
        } => P::HearingCreated {
            hearing,
            title,
            speaker,
            room,
            anonymous,
            moderated,
        },
        D::HearingOpened { hearing } => P::HearingOpened { hearing },
        D::HearingClosed { hearing } => P::HearingClosed { hearing },
        D::HearingQuestionAsked { hearing, text } => P::HearingQuestionAsked { hearing, text },
        D::HearingQuestionSupported { hearing, question } => {
            P::HearingQuestionSupported { hearing, question }
        }
        D::HearingSupportWithdrawn { hearing, question } => {
            P::HearingSupportWithdrawn { hearing, question }
        }
        D::HearingQuestionApproved { hearing, question } => {
            P::HearingQuestionApproved { hearing, question }
        }
        D::HearingQuestionsMerged {
            hearing,
            question,
            into,
        } => P::HearingQuestionsMerged {
            hearing,
            question,
            into,
        },
        D::HearingQuestionHidden {
            hearing,
            question,
            reason,
        } => P::HearingQuestionHidden {
            hearing,
            question,
            reason,
        },
        D::HearingQuestionAnswering { hearing, question } => {
            P::HearingQuestionAnswering { hearing, question }
        }
        D::HearingQuestionAnswered { hearing, question } => {
            P::HearingQuestionAnswered { hearing, question }
        }
        other => unreachable!("not a hearing event: {other:?}"),
    }
}

/// A hearing event (the caller dispatches only those here).
pub fn event_in(e: p::Event) -> d::Event {
    use d::Event as D;
    use p::Event as P;
    match e {
        P::HearingCreated {
            hearing,
            title,
            speaker,
            room,
            anonymous,
            moderated,
        } => D::HearingCreated {
            hearing,
            title,
            speaker,
            room,
            anonymous,
            moderated,
        },
        P::HearingOpened { hearing } => D::HearingOpened { hearing },
        P::HearingClosed { hearing } => D::HearingClosed { hearing },
        P::HearingQuestionAsked { hearing, text } => D::HearingQuestionAsked { hearing, text },
        P::HearingQuestionSupported { hearing, question } => {
            D::HearingQuestionSupported { hearing, question }
        }
        P::HearingSupportWithdrawn { hearing, question } => {
            D::HearingSupportWithdrawn { hearing, question }
        }
        P::HearingQuestionApproved { hearing, question } => {
            D::HearingQuestionApproved { hearing, question }
        }
        P::HearingQuestionsMerged {
            hearing,
            question,
            into,
        } => D::HearingQuestionsMerged {
            hearing,
            question,
            into,
        },
        P::HearingQuestionHidden {
            hearing,
            question,
            reason,
        } => D::HearingQuestionHidden {
            hearing,
            question,
            reason,
        },
        P::HearingQuestionAnswering { hearing, question } => {
            D::HearingQuestionAnswering { hearing, question }
        }
        P::HearingQuestionAnswered { hearing, question } => {
            D::HearingQuestionAnswered { hearing, question }
        }
        other => unreachable!("not a hearing event: {other:?}"),
    }
}

/// A hearing command (the caller dispatches only those here).
pub fn command_in(c: p::Command) -> d::Command {
    use d::Command as D;
    use p::Command as P;
    match c {
        P::CreateHearing {
            title,
            speaker,
            room,
            anonymous,
            moderated,
        } => D::CreateHearing {
            title,
            speaker,
            room,
            anonymous,
            moderated,
        },
        P::OpenHearing { hearing } => D::OpenHearing { hearing },
        P::CloseHearing { hearing } => D::CloseHearing { hearing },
        P::AskHearingQuestion { hearing, text } => D::AskHearingQuestion { hearing, text },
        P::SupportQuestion { hearing, question } => D::SupportQuestion { hearing, question },
        P::WithdrawSupport { hearing, question } => D::WithdrawSupport { hearing, question },
        P::ApproveQuestion { hearing, question } => D::ApproveQuestion { hearing, question },
        P::MergeQuestion {
            hearing,
            question,
            into,
        } => D::MergeQuestion {
            hearing,
            question,
            into,
        },
        P::HideQuestion {
            hearing,
            question,
            reason,
        } => D::HideQuestion {
            hearing,
            question,
            reason,
        },
        P::MarkAnswering { hearing, question } => D::MarkAnswering { hearing, question },
        P::MarkAnswered { hearing, question } => D::MarkAnswered { hearing, question },
        other => unreachable!("not a hearing command: {other:?}"),
    }
}
