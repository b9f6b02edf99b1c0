//! Hearings' questions as the room sees them: after a batch, each question it changed goes,
//! as a `hearing_question` message, to facilitators and guarantors (with its author and any
//! reason) and to those in the hearing's room (as the room may see it; a pending question,
//! to nobody there: its author has their own event).

use super::*;

impl Actor {
    pub(super) fn hearing_questions(&mut self, records: &[(d::Record, Audience)]) {
        let changed = view::changed_questions(records);
        if changed.is_empty() {
            return;
        }
        let mut out: Vec<(u64, Frame)> = Vec::new();
        for (hearing, id) in changed {
            let Some(h) = self.state.hearings.get(&hearing) else {
                continue;
            };
            let Some(q) = h.questions.get(id) else {
                continue;
            };
            let message = |staff: bool| {
                encode(&ServerMessage::HearingQuestion {
                    hearing: hearing.clone(),
                    question: wire::hearings::question_out(h, q, staff),
                })
            };
            let staff = message(true);
            let room = (q.status != d::questions::Status::Pending).then(|| message(false));
            for (who, conns) in &self.online {
                let Some(person) = self.state.people.get(who) else {
                    continue;
                };
                if !view::follows_hearing(&self.state, h, person) {
                    continue;
                }
                let frame = if person.sees_everything() {
                    &staff
                } else if let Some(f) = &room {
                    f
                } else {
                    continue;
                };
                out.extend(conns.iter().map(|c| (*c, frame.clone())));
            }
        }
        for (conn, frame) in out {
            self.send(conn, &frame);
        }
    }
}
