// Hearings (PROTOCOL.md section 22): the snapshot's `hearings`, the hearing events, and the
// `hearing_question` messages through which the room follows a hearing's questions.

import { seesEverything } from './reduce.js';

/** Statuses the room sees; the others (pending, hidden, merged) only the staff (and a
 * pending question, its author). */
const VISIBLE = ['open', 'answering', 'answered'];

export function hearing(snap, id) {
  return (snap.hearings || []).find((h) => h.id === id);
}

function roomOf(snap, pid) {
  const p = snap.participants.find((x) => x.id === pid);
  return p ? p.room : 'plenary';
}

/** Whether `me` follows the questions of `h` (server: view::follows_hearing). */
export function follows(snap, me, h) {
  return h.status === 'open' && (seesEverything(me.roles) || roomOf(snap, me.id) === h.room);
}

/** The open hearing of my room (or, for staff, the first open one), if any. */
export function myHearing(snap, me) {
  const open = (snap.hearings || []).filter((h) => h.status === 'open');
  const here = roomOf(snap, me.id);
  return open.find((h) => h.room === here) || (seesEverything(me.roles) ? open[0] : null) || null;
}

/** The server's order: most supported first, ties older first; the unseen ones after. */
export function sortQuestions(list) {
  list.sort((a, b) => {
    const va = VISIBLE.includes(a.status) ? 0 : 1;
    const vb = VISIBLE.includes(b.status) ? 0 : 1;
    return va - vb || b.supports - a.supports || a.id - b.id;
  });
  return list;
}

/** Apply a hearing event (those the server sends this viewer). */
export function applyHearingEvent(snap, me, rec) {
  const ev = rec.event;
  const byMe = rec.by && rec.by.kind === 'participant' && rec.by.id === me.id;
  snap.hearings = snap.hearings || [];
  const h = hearing(snap, ev.hearing);
  switch (ev.type) {
    case 'hearing_created':
      if (!h) {
        snap.hearings.push({
          id: ev.hearing, title: ev.title, speaker: ev.speaker, room: ev.room,
          anonymous: ev.anonymous, moderated: ev.moderated, status: 'planned',
          questions: null, yours: [], supported: [],
        });
      }
      break;
    case 'hearing_opened':
      if (h) {
        h.status = 'open';
        h.questions = follows(snap, me, h) ? [] : null;
      }
      break;
    case 'hearing_closed':
      if (h) {
        h.status = 'closed';
        h.questions = null;
      }
      break;
    case 'hearing_question_asked':
      if (h && byMe) {
        if (!h.yours.includes(rec.seq)) h.yours.push(rec.seq);
        h.outcome = null;
        // My own question, before (or, moderated, instead of) the room's view of it.
        if (h.questions && !h.questions.some((q) => q.id === rec.seq)) {
          h.questions.push({
            id: rec.seq, at: rec.at, text: ev.text, from: h.anonymous && !seesEverything(me.roles) ? null : me.id,
            status: h.moderated ? 'pending' : 'open', supports: 0,
          });
          sortQuestions(h.questions);
        }
      }
      break;
    case 'hearing_question_supported':
      if (h && byMe && !h.supported.includes(ev.question)) h.supported.push(ev.question);
      break;
    case 'hearing_support_withdrawn':
      if (h && byMe) h.supported = h.supported.filter((q) => q !== ev.question);
      break;
    default:
      // Moderation events (staff): the `hearing_question` messages carry their outcome.
      break;
  }
}

/** A `hearing_question` message: the question as I may see it now. */
export function applyHearingQuestion(snap, me, msg) {
  const h = hearing(snap, msg.hearing);
  if (!h || !h.questions) return;
  const q = msg.question;
  const gone = !VISIBLE.includes(q.status) && q.status !== 'pending';
  if (q.status === 'merged') {
    // Merged: its author and supporters now support the other (each once).
    const mine = h.yours.includes(q.id) || h.supported.includes(q.id);
    h.supported = h.supported.filter((x) => x !== q.id);
    if (mine && q.merged_into != null && !h.yours.includes(q.merged_into) && !h.supported.includes(q.merged_into)) {
      h.supported.push(q.merged_into);
    }
  }
  const i = h.questions.findIndex((x) => x.id === q.id);
  // My own question leaves my list: say why rather than let it vanish.
  if (gone && !seesEverything(me.roles) && h.yours.includes(q.id)) {
    h.outcome = { question: q.id, status: q.status, into: q.status === 'merged' ? q.merged_into : null };
  }
  if (gone && !seesEverything(me.roles)) {
    if (i >= 0) h.questions.splice(i, 1);
  } else if (i >= 0) {
    h.questions[i] = q;
  } else {
    h.questions.push(q);
  }
  sortQuestions(h.questions);
}
