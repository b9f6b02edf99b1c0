// The client's hearing state, in Node: hearing events and `hearing_question` messages folded
// as PROTOCOL.md section 22 says (order by support, ties older first; hidden and merged
// questions leave a citizen's list; a merged question's author supports the one it joined).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, normalizeSnapshot } from '../../web/src/reduce.js';
import { applyHearingQuestion } from '../../web/src/hearings.js';

const me = { id: 'p3', name: 'Yannick Le Goff', roles: ['citizen'] };
const fac = { id: 'p1', name: 'Claire Moreau', roles: ['facilitator'] };

function snapshot() {
  return normalizeSnapshot({
    seq: 10,
    convention: { id: 'nm', name: 'Convention' },
    participants: [
      { id: 'p1', name: 'Claire Moreau', roles: ['facilitator'], room: 'plenary', online: true, assigned: null },
      { id: 'p3', name: 'Yannick Le Goff', roles: ['citizen'], room: 'plenary', online: true, assigned: null },
      { id: 'p4', name: 'Fatima Benali', roles: ['citizen'], room: 'r1', online: true, assigned: null },
      { id: 'p7', name: 'Marc Lefèvre', roles: ['expert'], room: 'plenary', online: true, assigned: null },
    ],
    rooms: [{ id: 'plenary', name: 'Plénière', observers: 0, inside: { chat: [], queue: [], queue_in_order: [], order: 'raised', limit_ms: null, floor: null } }, { id: 'r1', name: 'Salle 1', observers: 0 }],
    breakouts: null,
    calls: [],
  });
}

let seq = 10;
function ev(snap, viewer, by, event) {
  seq += 1;
  applyEvent(snap, viewer, { seq, at: 1000 + seq, by: { kind: 'participant', id: by }, event });
  return seq;
}

const q = (id, supports, status = 'open', extra = {}) => ({ id, at: id, text: `Q${id}`, from: null, status, supports, ...extra });

test('a followed hearing keeps its questions ordered by support, then age', () => {
  const snap = snapshot();
  ev(snap, me, 'p1', { type: 'hearing_created', hearing: 'h1', title: 'Audition', speaker: 'p7', room: 'plenary', anonymous: true, moderated: false });
  assert.equal(snap.hearings[0].questions, null, 'planned: nothing to follow');
  ev(snap, me, 'p1', { type: 'hearing_opened', hearing: 'h1' });
  assert.deepEqual(snap.hearings[0].questions, []);
  const mine = ev(snap, me, 'p3', { type: 'hearing_question_asked', hearing: 'h1', text: 'Ma question ?' });
  assert.deepEqual(snap.hearings[0].yours, [mine]);
  assert.equal(snap.hearings[0].questions[0].from, null, 'anonymous, even to myself in the list');
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(mine, 0) });
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(30, 2) });
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(31, 2) });
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(32, 5) });
  assert.deepEqual(snap.hearings[0].questions.map((x) => x.id), [32, 30, 31, mine]);
  // My support of 30, then 31 merged into 30: I still support 30 once; 31 leaves my list.
  ev(snap, me, 'p3', { type: 'hearing_question_supported', hearing: 'h1', question: 31 });
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(31, 0, 'merged', { text: '', merged_into: 30 }) });
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(30, 3) });
  assert.deepEqual(snap.hearings[0].supported, [30]);
  assert.deepEqual(snap.hearings[0].questions.map((x) => x.id), [32, 30, mine]);
  // My own question merged: it leaves my list, and I am told which one it joined.
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(mine, 0, 'merged', { text: '', merged_into: 30 }) });
  assert.deepEqual(snap.hearings[0].questions.map((x) => x.id), [32, 30]);
  assert.deepEqual(snap.hearings[0].outcome, { question: mine, status: 'merged', into: 30 });
  assert.deepEqual(snap.hearings[0].supported, [30], 'supported once');
  // Asking again clears it.
  const again = ev(snap, me, 'p3', { type: 'hearing_question_asked', hearing: 'h1', text: 'Autre question ?' });
  assert.equal(snap.hearings[0].outcome, null);
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(again, 0) });
  // Someone else's question hidden: no word about mine.
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(31, 0, 'hidden', { text: '' }) });
  assert.equal(snap.hearings[0].outcome, null);
  // Hidden: gone for a citizen.
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(32, 5, 'hidden', { text: '' }) });
  assert.deepEqual(snap.hearings[0].questions.map((x) => x.id), [30, again]);
  assert.equal(snap.hearings[0].outcome, null, 'not mine: nothing to say');
  // Mine hidden by the facilitators: I am told.
  applyHearingQuestion(snap, me, { type: 'hearing_question', hearing: 'h1', question: q(again, 0, 'hidden', { text: '' }) });
  assert.deepEqual(snap.hearings[0].outcome, { question: again, status: 'hidden', into: null });
  ev(snap, me, 'p3', { type: 'hearing_support_withdrawn', hearing: 'h1', question: 30 });
  assert.deepEqual(snap.hearings[0].supported, []);
  ev(snap, me, 'p1', { type: 'hearing_closed', hearing: 'h1' });
  assert.equal(snap.hearings[0].questions, null);
});

test('staff keep hidden questions, after the others; another room is not followed', () => {
  const snap = snapshot();
  ev(snap, fac, 'p1', { type: 'hearing_created', hearing: 'h1', title: 'A', speaker: 'p7', room: 'plenary', anonymous: false, moderated: true });
  ev(snap, fac, 'p1', { type: 'hearing_opened', hearing: 'h1' });
  applyHearingQuestion(snap, fac, { type: 'hearing_question', hearing: 'h1', question: q(40, 0, 'hidden', { hidden_reason: 'Hors sujet' }) });
  applyHearingQuestion(snap, fac, { type: 'hearing_question', hearing: 'h1', question: q(41, 0, 'pending') });
  applyHearingQuestion(snap, fac, { type: 'hearing_question', hearing: 'h1', question: q(42, 1) });
  assert.deepEqual(snap.hearings[0].questions.map((x) => [x.id, x.status]), [[42, 'open'], [40, 'hidden'], [41, 'pending']]);

  const other = snapshot();
  ev(other, me, 'p1', { type: 'hearing_created', hearing: 'h2', title: 'B', speaker: 'p7', room: 'r1', anonymous: false, moderated: false });
  ev(other, me, 'p1', { type: 'hearing_opened', hearing: 'h2' });
  assert.equal(other.hearings[0].questions, null, 'a hearing in another room');
});
