// The client's pure parts, in Node: applying events to a snapshot as PROTOCOL.md says, the
// video meeting's IFrame API options and links, the translations (every key in French and English),
// and the organizer console's search and reading of the audit trail.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, missedNotices, noticeEffect, normalizeSnapshot, roomInRound, placedRound, canWrite, CURRENT_NOTICE_MS, moveCause, voterOrder } from '../../web/src/reduce.js';
import { jitsiDomain, jitsiOptions, meetingLink } from '../../web/src/video-url.js';
import { DICT } from '../../web/src/i18n.js';
import { DICT as ORGANIZER_DICT } from '../../web/src/organizer/i18n.js';
import { searchKey, invitationMatches, invitationState } from '../../web/src/organizer/search.js';

const me = { id: 'p3', name: 'Yannick Le Goff', roles: ['citizen'] };
const staff = { id: 'p1', name: 'Claire Moreau', roles: ['facilitator'] };

function inside() {
  return { chat: [], queue: [], queue_in_order: [], order: 'raised', limit_ms: null, floor: null };
}

function snapshot(viewer) {
  const all = viewer.roles.includes('facilitator');
  return normalizeSnapshot({
    seq: 50,
    convention: { id: 'nm', name: 'Convention' },
    participants: [
      { id: 'p1', name: 'Claire Moreau', roles: ['facilitator'], room: 'plenary', online: true, assigned: null },
      { id: 'p2', name: 'Hélène Garnier', roles: ['guarantor'], room: 'plenary', online: true, assigned: null },
      { id: 'p3', name: 'Yannick Le Goff', roles: ['citizen'], room: 'plenary', online: true, assigned: null },
      { id: 'p4', name: 'Fatima Benali', roles: ['citizen'], room: 'plenary', online: true, assigned: null },
      { id: 'p7', name: 'Marc Lefèvre', roles: ['expert'], room: 'plenary', online: true, assigned: null },
    ],
    rooms: [{ id: 'plenary', name: 'Plénière', observers: 1, inside: inside() }],
    breakouts: null,
    ...(all ? { floor_time: [] } : {}),
    calls: [],
    polls: [],
    rotation: null,
    documents: [{ name: 'opinion', title: 'Avis citoyen', groups: [], can_write: false, versions: [] }],
    writing_groups: {},
  });
}

let seq = 50;
function ev(snap, viewer, event, by = { kind: 'participant', id: 'p1' }, at = 1000 + seq) {
  seq += 1;
  return applyEvent(snap, viewer, { seq, at, by, event });
}

test('rooms, assignments, breakouts, moves and queues', () => {
  const s = snapshot(staff);
  ev(s, staff, { type: 'rooms_created', rooms: [{ id: 'r1', name: 'Salle 1' }, { id: 'r2', name: 'Salle 2' }] });
  assert.deepEqual(s.rooms.map((r) => r.id), ['plenary', 'r1', 'r2']);
  assert.ok(s.rooms[1].inside, 'staff see inside every room');
  ev(s, staff, { type: 'rooms_assigned', method: 'manual', assignments: [{ participant: 'p3', room: 'r1' }, { participant: 'p4', room: 'r2' }] });
  ev(s, staff, { type: 'hand_raised', room: 'plenary', participant: 'p3' }, { kind: 'participant', id: 'p3' });
  assert.deepEqual(s.rooms[0].inside.queue_in_order, ['p3']);
  ev(s, staff, { type: 'breakouts_opened', ends_at: 99999, warn_at: 90000 });
  assert.equal(s.participants.find((p) => p.id === 'p3').room, 'r1');
  assert.deepEqual(s.rooms[0].inside.queue, [], 'hands elsewhere are lowered');
  ev(s, staff, { type: 'breakouts_extended', ends_at: 199999, warn_at: 190000 });
  assert.equal(s.breakouts.warned, false);
  ev(s, staff, { type: 'participant_moved', participant: 'p2', room: 'r2' });
  assert.equal(s.rooms.find((r) => r.id === 'r2').observers, 1);
  assert.equal(s.rooms[0].observers, 0);
  ev(s, staff, { type: 'chat_posted', room: 'r1', text: 'Bonjour' }, { kind: 'participant', id: 'p3' });
  assert.equal(s.rooms[1].inside.chat[0].from, 'p3');
  ev(s, staff, { type: 'breakouts_closed', reason: 'timer' }, { kind: 'timer' });
  assert.ok(s.participants.every((p) => p.room === 'plenary'));
  assert.equal(s.breakouts, null);
  ev(s, staff, { type: 'rooms_cleared' });
  assert.deepEqual(s.rooms.map((r) => r.id), ['plenary']);
  assert.ok(s.participants.every((p) => p.assigned === null));
});

test('floor, floor time and the least-spoken order', () => {
  const s = snapshot(staff);
  for (const p of ['p3', 'p4']) ev(s, staff, { type: 'hand_raised', room: 'plenary', participant: p }, { kind: 'participant', id: p });
  ev(s, staff, { type: 'floor_given', room: 'plenary', participant: 'p3', ends_at: 5000 });
  assert.equal(s.rooms[0].inside.floor.participant, 'p3');
  assert.deepEqual(s.rooms[0].inside.queue_in_order, ['p4']);
  ev(s, staff, { type: 'floor_ended', room: 'plenary', participant: 'p3', spoken_ms: 60000, reason: 'yielded' }, { kind: 'participant', id: 'p3' });
  assert.equal(s.rooms[0].inside.floor, null);
  assert.equal(s.floor_time.find((f) => f.participant === 'p3').spoken_ms, 60000);
  ev(s, staff, { type: 'hand_raised', room: 'plenary', participant: 'p3' }, { kind: 'participant', id: 'p3' });
  ev(s, staff, { type: 'floor_given', room: 'plenary', participant: 'p4', ends_at: null });
  ev(s, staff, { type: 'floor_ended', room: 'plenary', participant: 'p4', spoken_ms: 120000, reason: 'taken' });
  ev(s, staff, { type: 'hand_raised', room: 'plenary', participant: 'p4' }, { kind: 'participant', id: 'p4' });
  assert.deepEqual(s.rooms[0].inside.queue_in_order, ['p3', 'p4']);
  ev(s, staff, { type: 'queue_order_set', room: 'plenary', order: 'least_spoken' });
  assert.deepEqual(s.rooms[0].inside.queue_in_order, ['p3', 'p4'], 'p3 spoke 1 min, p4 2 min');
  ev(s, staff, { type: 'floor_given', room: 'plenary', participant: 'p7', ends_at: null });
  ev(s, staff, { type: 'floor_ended', room: 'plenary', participant: 'p7', spoken_ms: 1000, reason: 'moved' });
  ev(s, staff, { type: 'hand_raised', room: 'plenary', participant: 'p7' }, { kind: 'participant', id: 'p7' });
  assert.deepEqual(s.rooms[0].inside.queue_in_order, ['p7', 'p3', 'p4']);
});

test('polls: a secret vote seen by a citizen, calls, and events that are not for me', () => {
  const s = snapshot(me);
  const spec = { question: 'Q', kind: 'position', secret: true, live_results: false, voters: ['citizen'], quorum: null, duration_ms: null, room: null };
  ev(s, me, { type: 'poll_opened', poll: 'q1', spec, ends_at: null });
  assert.equal(s.polls[0].status, 'open');
  assert.equal(s.polls[0].eligible, true);
  ev(s, me, { type: 'voter_marked', poll: 'q1' }, { kind: 'participant', id: 'p3' });
  assert.equal(s.polls[0].you_voted, true);
  assert.equal(s.polls[0].your_ballot, null);
  ev(s, me, { type: 'poll_closed', poll: 'q1', reason: 'facilitator' });
  assert.equal(s.polls[0].tally, null, 'no tally before publication');
  const tally = { ballots: 1, counts: [1, 0, 0, 0], borda: [], rounds: [], winner: null, texts: [] };
  ev(s, me, { type: 'poll_published', poll: 'q1', tally });
  assert.deepEqual(s.polls[0].tally, tally);
  assert.equal(s.polls[0].status, 'published');
  const expertOnly = { ...spec, voters: ['expert'] };
  ev(s, me, { type: 'poll_opened', poll: 'q2', spec: expertOnly, ends_at: 5 });
  assert.equal(s.polls[1].eligible, false);
  ev(s, me, { type: 'facilitator_called', room: 'plenary', message: 'Aide' }, { kind: 'participant', id: 'p3' });
  assert.equal(s.calls[0].id, seq);
  ev(s, me, { type: 'call_resolved', call: seq });
  assert.deepEqual(s.calls, []);
  const effect = ev(s, me, { type: 'broadcast_sent', text: 'Pause' });
  assert.equal(effect.broadcast.text, 'Pause');
  const unknown = ev(s, me, { type: 'something_new', x: 1 });
  assert.equal(unknown.unknown, 'something_new');
  assert.equal(s.seq, seq, 'an unknown event still moves the seq');
});

test('polls: staff keep the turnout of the close, whoever comes and goes after it', () => {
  const s = snapshot(staff);
  const spec = { question: 'Q', kind: 'position', secret: false, live_results: true, voters: ['citizen'], quorum: null, duration_ms: null, room: null };
  ev(s, staff, { type: 'poll_opened', poll: 'q1', spec, ends_at: null });
  s.polls[0].participation = { voted: 2, eligible: 10, eligible_present: 7, quorum: null };
  ev(s, staff, { type: 'poll_closed', poll: 'q1', reason: 'facilitator', turnout: { eligible: 10, eligible_present: 6 } });
  assert.deepEqual(s.polls[0].participation, { voted: 2, eligible: 10, eligible_present: 6, quorum: null });
});

test('announcements in a snapshot: the recent ones missed while away, never stale ones', () => {
  const now = 10 * CURRENT_NOTICE_MS;
  const s = snapshot(me);
  s.notices = [
    { seq: 40, at: now - 2 * CURRENT_NOTICE_MS, by: { kind: 'participant', id: 'p1' }, text: 'Ancienne' },
    { seq: 42, at: now - CURRENT_NOTICE_MS - 1, by: { kind: 'participant', id: 'p1' }, text: 'Passée de peu' },
    { seq: 45, at: now - 60000, by: { kind: 'organizer' }, text: 'Reprise à 14 h' },
    { seq: 48, at: now - 1000, by: { kind: 'participant', id: 'p1' }, text: 'Votez maintenant' },
  ];
  // Back after seq 39: the recent ones sent since, as broadcast records, in order; those
  // older than a few minutes are not told as news.
  const back = missedNotices(s, 39, now);
  assert.deepEqual(back.map((r) => r.seq), [45, 48]);
  assert.deepEqual(noticeEffect(back[0]).broadcast, { seq: 45, at: now - 60000, from: null, text: 'Reprise à 14 h' });
  assert.equal(noticeEffect(back[1]).broadcast.from, 'p1');
  // Nothing new since seq 48; a first arrival sees only the last few minutes.
  assert.deepEqual(missedNotices(s, 48, now), []);
  assert.deepEqual(missedNotices(s, 46, now).map((r) => r.event.text), ['Votez maintenant']);
  assert.deepEqual(missedNotices(s, 0, now).map((r) => r.event.text), ['Reprise à 14 h', 'Votez maintenant']);
  // Closing the breakout rooms ends the recall, as on the server.
  const s2 = snapshot(staff);
  s2.notices = s.notices.slice();
  const closed = ev(s2, staff, { type: 'breakouts_closed', reason: 'facilitator' });
  assert.deepEqual(closed, { breakoutsClosed: true });
  assert.deepEqual(s2.notices, []);
  // A snapshot without notices (none sent yet) has an empty list.
  assert.deepEqual(normalizeSnapshot({ rooms: [] }).notices, []);
});

test('rotations: rounds place people, pause and resume keep the time left', () => {
  const s = snapshot(staff);
  ev(s, staff, { type: 'rooms_created', rooms: [{ id: 'r1', name: 'Expert·e : Marc Lefèvre' }] });
  const plan = { experts: ['p7'], rooms: ['r1'], groups: [['p3'], ['p4']], schedule: [[0, null], [null, 0]], round_ms: 600000, transition_ms: 60000, warning_ms: 60000, rest_room: 'plenary' };
  ev(s, staff, { type: 'rotation_planned', plan });
  assert.equal(roomInRound(s.rotation, 'p3', 0), 'r1');
  assert.equal(roomInRound(s.rotation, 'p4', 0), 'plenary');
  ev(s, staff, { type: 'rotation_round_started', round: 0, ends_at: 601000, warn_at: 541000 }, { kind: 'participant', id: 'p1' }, 1000);
  assert.equal(s.participants.find((p) => p.id === 'p3').room, 'r1');
  assert.equal(s.participants.find((p) => p.id === 'p7').room, 'r1');
  // Paused 560 s before the end (the warning, not come yet, 500 s away): remaining_ms runs to
  // the end, as the server sends it.
  ev(s, staff, { type: 'rotation_paused', remaining_ms: 560000 }, { kind: 'participant', id: 'p1' }, 41000);
  assert.equal(placedRound(s.rotation.phase), 0);
  ev(s, staff, { type: 'rotation_resumed' }, { kind: 'participant', id: 'p1' }, 100000);
  // The end 560 s after the resumption, the warning 60 s before it, still to come.
  assert.deepEqual(s.rotation.phase, { state: 'round', round: 0, ends_at: 660000, warn_at: 600000, warned: false });
  // A pause closer to the end than the warning margin: the warning comes at once on resuming.
  ev(s, staff, { type: 'rotation_paused', remaining_ms: 30000 }, { kind: 'participant', id: 'p1' }, 630000);
  ev(s, staff, { type: 'rotation_resumed' }, { kind: 'participant', id: 'p1' }, 700000);
  assert.deepEqual(s.rotation.phase, { state: 'round', round: 0, ends_at: 730000, warn_at: 700000, warned: false });
  ev(s, staff, { type: 'rotation_transition', next: 1, starts_at: 790000 }, { kind: 'timer' });
  assert.equal(s.participants.find((p) => p.id === 'p4').room, 'r1');
  assert.equal(s.participants.find((p) => p.id === 'p3').room, 'plenary');
  ev(s, staff, { type: 'rotation_ended', stopped: true });
  assert.ok(s.participants.every((p) => p.room === 'plenary'));
});

test('writing permission follows writing groups', () => {
  const s = snapshot(me);
  assert.equal(canWrite(s, me, s.documents[0]), false);
  ev(s, me, { type: 'writing_group_set', group: 'room-r1', members: ['p3'] });
  ev(s, me, { type: 'document_opened', document: 'opinion', group: 'room-r1' });
  assert.equal(s.documents[0].can_write, true);
  ev(s, me, { type: 'document_closed', document: 'opinion', group: 'room-r1' });
  assert.equal(s.documents[0].can_write, false);
  ev(s, me, { type: 'version_named', document: 'opinion', version: 1, label: 'v1' });
  assert.equal(s.documents[0].versions[0].label, 'v1');
  assert.equal(canWrite(s, { id: 'p2', roles: ['guarantor'] }, s.documents[0]), false);
});

test("the video meeting: the Jitsi IFrame API's domain and options, and the links", () => {
  assert.equal(jitsiDomain('https://meet.example.org'), 'meet.example.org');
  assert.equal(jitsiDomain('https://meet.example.org/tenant/'), 'meet.example.org/tenant');
  assert.equal(jitsiDomain('http://127.0.0.1:8443'), '127.0.0.1:8443');
  const m = { provider: 'jitsi', room: 'plenary', meeting: 'cv0123456789abcdef0123456789abcdef', url: 'https://meet.example.org', token: 'a.b.c', start_muted: true, observer: false };
  const o = jitsiOptions(m, 'Amina Diallo', 'fr');
  assert.equal(o.roomName, m.meeting);
  assert.equal(o.jwt, 'a.b.c');
  assert.equal(o.noSSL, false);
  assert.deepEqual(o.userInfo, { displayName: 'Amina Diallo' });
  assert.deepEqual(o.configOverwrite.prejoinConfig, { enabled: false });
  assert.equal(o.configOverwrite.startWithAudioMuted, true);
  assert.equal(o.configOverwrite.startWithVideoMuted, false);
  assert.equal(o.configOverwrite.disableDeepLinking, true);
  const inRoom = jitsiOptions({ ...m, room: 'r1', start_muted: false, observer: true, url: 'http://127.0.0.1:9' }, 'Hélène', 'en');
  assert.equal(inRoom.configOverwrite.startWithAudioMuted, false);
  assert.equal(inRoom.configOverwrite.startWithVideoMuted, true);
  assert.equal(inRoom.noSSL, true);
  assert.equal(meetingLink(m), `https://meet.example.org/${m.meeting}?jwt=a.b.c`);
  assert.equal(meetingLink({ provider: 'link', url: 'https://visio.example.org/cv01' }), 'https://visio.example.org/cv01');
  assert.equal(meetingLink({ provider: 'livekit', url: 'wss://lk.example.org', meeting: 'cv01', token: 't' }), null);
  assert.equal(meetingLink({ provider: 'off', room: 'plenary' }), null);
});

test('every string in French and in English', () => {
  // The shared dictionary and the organizer console's own (registered when its chunk loads).
  assert.ok(Object.keys(ORGANIZER_DICT).length > 100);
  assert.deepEqual(Object.keys(ORGANIZER_DICT).filter((k) => k in DICT), [], 'no key in both');
  for (const [k, v] of [...Object.entries(DICT), ...Object.entries(ORGANIZER_DICT)]) {
    assert.equal(v.length, 2, k);
    assert.ok(v[0] && v[1], k);
    // Plural forms ({one, other}, chosen by Intl.PluralRules): every form has the same
    // parameters, and `other` is always there.
    const forms = (x) => (typeof x === 'object' ? (assert.ok(x.other, `${k}: an "other" form`), Object.values(x)) : [x]);
    const params = (s) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort().join(',');
    const all = [...forms(v[0]), ...forms(v[1])].map(params);
    assert.ok(all.every((p) => p === all[0]), `${k}: the same parameters in both languages and every form`);
  }
});

test('French plurals and numbers by Intl: 0 personne, 1 garant·e, 12,5 %', async () => {
  const { t, setLang, fmtPercent, fmtNumber } = await import('../../web/src/i18n.js');
  setLang('fr');
  assert.equal(t('people.observers', { n: 1 }), '1 garant·e observe cette salle');
  assert.equal(t('people.observers', { n: 2 }), '2 garant·es observent cette salle');
  assert.equal(t('board.hands', { n: 0 }), '0 main levée');
  assert.equal(t('people.present', { n: 0 }), '0 personne présente');
  assert.equal(t('people.present', { n: 2 }), '2 personnes présentes');
  assert.equal(t('results.ballots', { n: 0 }), '0 bulletin');
  assert.equal(fmtPercent(0.125).replace(/\s/g, ' '), '12,5 %');
  assert.equal(fmtNumber(3.25, 1), '3,3');
  setLang('en');
  assert.equal(t('people.observers', { n: 0 }), '0 guarantors observing this room');
  assert.equal(fmtPercent(0.125), '12.5%');
  setLang('fr');
});

test('why my room changed: breakouts, recall, rotation, a facilitator, or my own visit', () => {
  const rec = (type, by = { kind: 'participant', id: 'p1' }) => ({ seq: 1, at: 1, by, event: { type } });
  assert.equal(moveCause(rec('breakouts_opened'), 'p3'), 'breakouts');
  assert.equal(moveCause(rec('breakouts_closed', { kind: 'timer' }), 'p3'), 'recall');
  assert.equal(moveCause(rec('rotation_round_started', { kind: 'timer' }), 'p3'), 'rotation');
  assert.equal(moveCause(rec('rotation_transition', { kind: 'timer' }), 'p3'), 'rotation');
  assert.equal(moveCause(rec('rotation_ended'), 'p3'), 'rotation_end');
  assert.equal(moveCause(rec('participant_moved'), 'p3'), 'moved');
  assert.equal(moveCause(rec('participant_moved', { kind: 'participant', id: 'p3' }), 'p3'), 'self');
});

test("a ranking ballot's starting order is each voter's own, and favours no option", () => {
  // The same voter and poll: the same order (a reload changes nothing).
  assert.deepEqual(voterOrder(5, 'q3:p12'), voterOrder(5, 'q3:p12'));
  // Every order is a permutation.
  for (let i = 0; i < 50; i += 1) assert.deepEqual(voterOrder(4, `q1:p${i}`).slice().sort(), [0, 1, 2, 3]);
  // Over many voters, each option comes first about as often as the others.
  const first = [0, 0, 0];
  const voters = 900;
  for (let i = 0; i < voters; i += 1) first[voterOrder(3, `q7:p${i}`)[0]] += 1;
  for (const n of first) assert.ok(n > voters / 3 * 0.8 && n < voters / 3 * 1.2, `first places ${first}`);
  // And the order typed by the facilitator is not everyone's.
  const given = Array.from({ length: 60 }, (_, i) => voterOrder(3, `q7:p${i}`).join()).filter((o) => o === '0,1,2').length;
  assert.ok(given < 30, `the given order for ${given} of 60 voters`);
});

test("the organizer console's search: no accents, no case, every word, by role and invitation", () => {
  assert.equal(searchKey('Élodie CŒUR-Dæhlie'), 'elodie coeur-daehlie');
  // As `GET …/invites` lists them (`InviteStatus`: `state` is active, revoked or none).
  const people = [
    { participant: 'p00008', name: 'Élodie Marchand', roles: ['citizen'], active: true, state: 'active' },
    { participant: 'p00011', name: 'Jean Petit', roles: ['citizen'], active: false, state: 'revoked' },
    { participant: 'p00012', name: 'Hélène Garnier', roles: ['guarantor'], active: false, state: 'none' },
    { participant: 'p00013', name: 'Sophie Tessier', roles: ['citizen', 'rapporteur'], active: true, state: 'active' },
  ];
  const names = (filter) => people.filter((s) => invitationMatches(s, filter)).map((s) => s.name);
  assert.deepEqual(names({ query: 'elodie' }), ['Élodie Marchand']);
  assert.deepEqual(names({ query: '  MARCHAND   élo ' }), ['Élodie Marchand']);
  assert.deepEqual(names({ query: 'p00012' }), ['Hélène Garnier']);
  assert.deepEqual(names({ query: 'helene petit' }), []);
  assert.deepEqual(names({ query: '' }), people.map((p) => p.name));
  assert.deepEqual(names({ role: 'rapporteur' }), ['Sophie Tessier']);
  assert.deepEqual(names({ role: 'citizen', state: 'active' }), ['Élodie Marchand', 'Sophie Tessier']);
  assert.deepEqual(names({ state: 'inactive' }), ['Jean Petit', 'Hélène Garnier']);
  assert.deepEqual(names({ state: 'revoked' }), ['Jean Petit']);
  assert.deepEqual(names({ state: 'never' }), ['Hélène Garnier']);
  assert.deepEqual(people.map((s) => invitationState(s)), ['active', 'revoked', 'never', 'active']);
});

test('a proposal title changed by another rapporteur keeps the caret where it was in the text', async () => {
  const { replaceKeepingCaret } = await import('../../web/src/editor.js');
  const field = (value, at, to = at) => ({
    value,
    selectionStart: at,
    selectionEnd: to,
    setSelectionRange(a, b) { this.selectionStart = a; this.selectionEnd = b; },
  });
  const after = (f) => f.value.slice(f.selectionStart);
  // Text added after the caret: the caret stays.
  let f = field('Bus de nuit gratuits', 4);
  replaceKeepingCaret(f, 'Bus de nuit gratuits le week-end');
  assert.equal(after(f), 'de nuit gratuits le week-end');
  // Text changed before the caret: the caret follows the text it was in front of.
  f = field('Bus de nuit gratuits le week-end', 12);
  replaceKeepingCaret(f, 'Des bus de nuit gratuits le week-end');
  assert.equal(after(f), 'gratuits le week-end');
  // Removed around the caret: at the end of what replaced it; a selection shifts whole.
  f = field('Bus de nuit gratuits le week-end', 15);
  replaceKeepingCaret(f, 'Bus de jour le week-end');
  assert.equal(after(f), ' le week-end');
  f = field('Bus gratuits', 4, 12);
  replaceKeepingCaret(f, 'Les bus gratuits');
  assert.equal(f.value.slice(f.selectionStart, f.selectionEnd), 'gratuits');
});
