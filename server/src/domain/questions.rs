//! Questions from the floor: one list type, its budgets, its order and its answering, shared
//! by hearings (`hearings.rs`) and by the expert rotation's rooms (`rotation`). A question's
//! id is the seq of the event that asked it; its author is that record's actor.

use std::collections::BTreeSet;

use super::decide::reject;
use super::{Code, Millis, ParticipantId, Rejection, RoomId};

/// Longest question (and rotation answer), in characters, after trimming.
pub const MAX_QUESTION_CHARS: usize = 1000;
/// Most questions one person may ask in one list (a hearing, or one expert's room of a
/// rotation), hidden and merged ones included: the log keeps every one.
pub const MAX_QUESTIONS_PER_PERSON: usize = 20;
/// Most questions one list may hold, whoever asked them.
pub const MAX_QUESTIONS_PER_LIST: usize = 500;
/// Most bytes of question text one list may hold: the list goes whole into snapshots (a
/// hearing's to its room and the staff, a rotation's to everyone), which must stay well
/// under the 1 MiB a connection may queue.
pub const MAX_LIST_BYTES: usize = 128 * 1024;

/// Where a question stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// In a moderated hearing, waiting for a facilitator's approval: seen by its author and
    /// the staff only.
    Pending,
    /// Seen by the room, open to support.
    Open,
    /// The speaker is answering it (at most one per list).
    Answering,
    Answered,
    /// Hidden by a facilitator, with a reason: staff only.
    Hidden {
        reason: String,
    },
    /// A duplicate, merged into question `into` (which took its supports).
    Merged {
        into: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The seq of the event that asked it.
    pub id: u64,
    pub room: RoomId,
    pub from: ParticipantId,
    pub at: Millis,
    pub text: String,
    /// A written answer (the rotation's `answer_question`); hearings answer aloud.
    pub answer: Option<String>,
    pub status: Status,
    /// Who supports it, each once (never its author).
    pub supporters: BTreeSet<ParticipantId>,
}

impl Question {
    /// Whether the room sees it (not pending, hidden or merged).
    pub fn visible(&self) -> bool {
        matches!(
            self.status,
            Status::Open | Status::Answering | Status::Answered
        )
    }
}

/// A list of questions, in order of asking.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Questions {
    pub list: Vec<Question>,
}

/// Read as a slice of questions, in order of asking.
impl std::ops::Deref for Questions {
    type Target = [Question];
    fn deref(&self) -> &[Question] {
        &self.list
    }
}

/// A question's (or a written answer's) text, trimmed, within its budget.
pub fn check_text(text: &str, what: &str) -> Result<String, Rejection> {
    super::decide::check_text(text, MAX_QUESTION_CHARS, what)
}

impl Questions {
    pub fn get(&self, id: u64) -> Option<&Question> {
        self.list.iter().find(|q| q.id == id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Question> {
        self.list.iter_mut().find(|q| q.id == id)
    }

    /// Whether `who` may ask one more question, of `text`, in `room`: the per-person and
    /// per-list caps.
    pub fn check_ask(&self, who: &str, room: &str, text: &str) -> Result<(), Rejection> {
        let bytes: usize = self.list.iter().map(|q| q.text.len()).sum();
        if self.list.len() >= MAX_QUESTIONS_PER_LIST || bytes + text.len() > MAX_LIST_BYTES {
            return reject(
                Code::Conflict,
                format!(
                    "this list is full ({MAX_QUESTIONS_PER_LIST} questions or {} KiB of text)",
                    MAX_LIST_BYTES / 1024
                ),
            );
        }
        let mine = self
            .list
            .iter()
            .filter(|q| q.from == who && q.room == room)
            .count();
        if mine >= MAX_QUESTIONS_PER_PERSON {
            return reject(
                Code::Conflict,
                format!("you have asked {MAX_QUESTIONS_PER_PERSON} questions here already"),
            );
        }
        Ok(())
    }

    /// Add a question (the event was decided).
    pub fn ask(&mut self, id: u64, room: &str, from: &str, at: Millis, text: &str, status: Status) {
        self.list.push(Question {
            id,
            room: room.to_string(),
            from: from.to_string(),
            at,
            text: text.to_string(),
            answer: None,
            status,
            supporters: BTreeSet::new(),
        });
    }

    /// The questions the room sees, most supported first; ties, the older first.
    pub fn ranked(&self) -> Vec<&Question> {
        let mut v: Vec<&Question> = self.list.iter().filter(|q| q.visible()).collect();
        v.sort_by_key(|q| (std::cmp::Reverse(q.supporters.len()), q.id));
        v
    }

    /// Every question, in the same order as `ranked`, those the room does not see after.
    pub fn ranked_all(&self) -> Vec<&Question> {
        let mut v: Vec<&Question> = self.list.iter().collect();
        v.sort_by_key(|q| (!q.visible(), std::cmp::Reverse(q.supporters.len()), q.id));
        v
    }

    /// Whether `who` may support question `id`.
    pub fn check_support(&self, id: u64, who: &str) -> Result<(), Rejection> {
        let Some(q) = self.get(id) else {
            return reject(Code::NotFound, format!("no question {id}"));
        };
        if q.from == who {
            return reject(Code::Invalid, "you cannot support your own question");
        }
        match &q.status {
            Status::Open | Status::Answering => {}
            Status::Pending => return reject(Code::Conflict, "this question awaits approval"),
            Status::Answered => return reject(Code::Conflict, "this question was answered"),
            Status::Hidden { .. } => return reject(Code::Conflict, "this question was hidden"),
            Status::Merged { into } => {
                return reject(
                    Code::Conflict,
                    format!("this question was merged into question {into}: support that one"),
                )
            }
        }
        if q.supporters.contains(who) {
            return reject(Code::Conflict, "you already support this question");
        }
        Ok(())
    }

    /// Whether `who` may withdraw their support of question `id`.
    pub fn check_withdraw(&self, id: u64, who: &str) -> Result<(), Rejection> {
        let Some(q) = self.get(id) else {
            return reject(Code::NotFound, format!("no question {id}"));
        };
        if !q.supporters.contains(who) {
            return reject(Code::Conflict, "you do not support this question");
        }
        Ok(())
    }

    /// Whether question `id` may be merged into `into` (both in this list).
    pub fn check_merge(&self, id: u64, into: u64) -> Result<(), Rejection> {
        if id == into {
            return reject(Code::Invalid, "a question cannot be merged into itself");
        }
        for q in [id, into] {
            match self.get(q).map(|q| &q.status) {
                None => return reject(Code::NotFound, format!("no question {q} here")),
                Some(Status::Hidden { .. }) => {
                    return reject(Code::Conflict, format!("question {q} was hidden"))
                }
                Some(Status::Merged { .. }) => {
                    return reject(Code::Conflict, format!("question {q} was merged already"))
                }
                Some(Status::Answering) if q == id => {
                    return reject(Code::Conflict, format!("question {q} is being answered"))
                }
                Some(_) => {}
            }
        }
        // The room would see a question it follows vanish into one it cannot see.
        let pending = |q: u64| matches!(self.get(q).map(|q| &q.status), Some(Status::Pending));
        if pending(into) && !pending(id) {
            return reject(
                Code::Conflict,
                format!("question {into} awaits approval: approve it first"),
            );
        }
        Ok(())
    }

    /// Merge `id` into `into`: its author and supporters now support `into`, each once, and
    /// never `into`'s own author.
    pub fn merge(&mut self, id: u64, into: u64) {
        let Some(q) = self.get_mut(id) else {
            return;
        };
        q.status = Status::Merged { into };
        let mut moved = std::mem::take(&mut q.supporters);
        moved.insert(q.from.clone());
        if let Some(target) = self.get_mut(into) {
            for who in moved {
                if who != target.from {
                    target.supporters.insert(who);
                }
            }
        }
    }

    /// The question being answered, if any.
    pub fn answering(&self) -> Option<&Question> {
        self.list.iter().find(|q| q.status == Status::Answering)
    }

    /// Whether question `id` may be marked as being answered (`answered` false) or answered.
    pub fn check_answer(&self, id: u64, answered: bool) -> Result<(), Rejection> {
        let Some(q) = self.get(id) else {
            return reject(Code::NotFound, format!("no question {id}"));
        };
        match (&q.status, answered) {
            (Status::Open, false) => match self.answering() {
                Some(a) => reject(
                    Code::Conflict,
                    format!(
                        "question {} is being answered: mark it answered first",
                        a.id
                    ),
                ),
                None => Ok(()),
            },
            (Status::Open | Status::Answering, true) => Ok(()),
            (Status::Answering, false) => reject(Code::Conflict, "already being answered"),
            (Status::Answered, _) => reject(Code::Conflict, "already answered"),
            (Status::Pending, _) => reject(Code::Conflict, "approve this question first"),
            (Status::Hidden { .. }, _) => reject(Code::Conflict, "this question was hidden"),
            (Status::Merged { .. }, _) => reject(Code::Conflict, "this question was merged"),
        }
    }

    /// The room's expert (or a facilitator) writes an answer: the question is answered. A
    /// later answer replaces the earlier one.
    pub fn write_answer(&mut self, id: u64, text: &str) {
        if let Some(q) = self.get_mut(id) {
            q.answer = Some(text.to_string());
            q.status = Status::Answered;
        }
    }
}
