// Applying the server's events to a snapshot, as PROTOCOL.md ("Event reference", "Poll
// events") describes each one. The snapshot is mutated in place by the client, which then
// re-renders; only events with a seq greater than the snapshot's are applied (client.js).

import { applySequenceEvent } from './runsheet.js';
import { applyHearingEvent } from './hearings.js';

export const PLENARY = 'plenary';
/** Chat lines a room keeps (protocol: SNAPSHOT_CHAT_LINES). */
export const CHAT_LINES = 50;

/** A room keeps its latest 50 lines, as the server does (SNAPSHOT_CHAT_LINES). */
function keepLatest(chat) {
  if (chat.length > CHAT_LINES) chat.splice(0, chat.length - CHAT_LINES);
}

/** Roles that see every room, the roster's attributes and the floor time. */
export function seesEverything(roles) {
  return roles.includes('facilitator') || roles.includes('guarantor');
}

export function person(snap, id) {
  return snap.participants.find((p) => p.id === id);
}

export function room(snap, id) {
  return snap.rooms.find((r) => r.id === id);
}

function emptyInside() {
  return { chat: [], queue: [], queue_in_order: [], order: 'raised', limit_ms: null, floor: null };
}

function floorTimeOf(snap, pid) {
  const f = (snap.floor_time || []).find((x) => x.participant === pid);
  return f ? f.spoken_ms : 0;
}

/** queue_in_order from queue and order; least_spoken needs floor_time (staff only). */
export function recomputeOrder(snap, inside) {
  const q = inside.queue.map((e, i) => ({ p: e.participant, i }));
  if (inside.order === 'least_spoken') {
    if (snap.floor_time) {
      q.sort((a, b) => floorTimeOf(snap, a.p) - floorTimeOf(snap, b.p) || a.i - b.i);
    } else {
      // Without floor times (not staff) keep the server's last order, newcomers last.
      const inQueue = new Set(q.map((x) => x.p));
      const kept = (inside.queue_in_order || []).filter((p) => inQueue.has(p));
      const rest = q.map((x) => x.p).filter((p) => !kept.includes(p));
      inside.queue_in_order = kept.concat(rest);
      return;
    }
  }
  inside.queue_in_order = q.map((x) => x.p);
}

function lowerEverywhere(snap, pid) {
  for (const r of snap.rooms) {
    if (r.inside && r.inside.queue.some((e) => e.participant === pid)) {
      r.inside.queue = r.inside.queue.filter((e) => e.participant !== pid);
      recomputeOrder(snap, r.inside);
    }
  }
}

/** Move someone as the server does: their hand in the room they leave is lowered. */
function moveTo(snap, pid, roomId) {
  const p = person(snap, pid);
  if (!p || p.room === roomId) return;
  // Removed from the live convention (moderation): in no room until readmitted.
  if (roomId !== PLENARY && (snap.removed || []).some((r) => r.participant === pid)) return;
  const from = room(snap, p.room);
  if (from && from.inside) {
    from.inside.queue = from.inside.queue.filter((e) => e.participant !== pid);
    recomputeOrder(snap, from.inside);
  }
  p.room = roomId;
}

/** observers: online guarantors whose room it is (PROTOCOL.md, "Presence"). */
export function recomputeObservers(snap) {
  for (const r of snap.rooms) {
    r.observers = snap.participants.filter(
      (p) => p.roles.includes('guarantor') && p.online && p.room === r.id,
    ).length;
  }
}

/** Whether `me` may write `doc` (server: Convention::can_write). */
export function canWrite(snap, me, doc) {
  if (me.roles.includes('guarantor')) return false;
  if (me.roles.includes('facilitator') || me.roles.includes('rapporteur')) return true;
  return (
    me.roles.includes('citizen') &&
    doc.groups.some((g) => (snap.writing_groups[g] || []).includes(me.id))
  );
}

function recomputeWriting(snap, me) {
  for (const d of snap.documents) d.can_write = canWrite(snap, me, d);
}

function pollEligible(snap, me, spec) {
  if (me.roles.includes('guarantor')) return false;
  if (!me.roles.some((r) => spec.voters.includes(r))) return false;
  if (spec.room) {
    const p = person(snap, me.id);
    return !!p && p.room === spec.room;
  }
  return true;
}

function poll(snap, id) {
  return snap.polls.find((p) => p.id === id);
}

/** Poll ids `q1`, `q2`… in order of drafting. */
export function pollNumber(id) {
  return parseInt(String(id).replace(/\D/g, ''), 10) || 0;
}

// ---- rotations (server/src/domain/rotation.rs) ----

export function groupOf(rot, pid) {
  return rot.plan.groups.findIndex((g) => g.includes(pid));
}

export function roomInRound(rot, pid, round) {
  const e = rot.plan.experts.indexOf(pid);
  if (e >= 0) return rot.plan.rooms[e];
  const g = groupOf(rot, pid);
  if (g < 0) return null;
  const r = rot.plan.schedule[round];
  if (!r) return null;
  const expert = r[g];
  return expert === null || expert === undefined ? rot.plan.rest_room : rot.plan.rooms[expert];
}

/** The round whose rooms people are in now (the next one during a transition). */
export function placedRound(phase) {
  switch (phase.state) {
    case 'round':
      return phase.round;
    case 'transition':
      return phase.next;
    case 'paused':
      return placedRound(phase.frozen);
    default:
      return null;
  }
}

function place(snap, round) {
  const rot = snap.rotation;
  const everyone = rot.plan.experts.concat(...rot.plan.groups);
  for (const pid of everyone) {
    const target = roomInRound(rot, pid, round);
    if (target && room(snap, target)) moveTo(snap, pid, target);
  }
}

/**
 * Apply one event record ({seq, at, by, event}) to the snapshot. `me` is the `you` of the
 * welcome. Returns a side effect for the UI, if any (a broadcast to show).
 */
export function applyEvent(snap, me, rec) {
  const result = applyOne(snap, me, rec);
  // Moved: a snapshot of the new room follows; meanwhile show it empty rather than nothing.
  const mine = person(snap, me.id);
  const here = mine && room(snap, mine.room);
  if (here && !here.inside) here.inside = emptyInside();
  return result;
}

function applyOne(snap, me, rec) {
  const ev = rec.event;
  const staff = seesEverything(me.roles);
  const byId = rec.by && rec.by.kind === 'participant' ? rec.by.id : null;
  snap.seq = rec.seq;
  switch (ev.type) {
    case 'convention_created':
      snap.convention.name = ev.name;
      break;
    case 'participant_added':
      if (!person(snap, ev.person.id)) {
        snap.participants.push({ ...ev.person, room: PLENARY, online: false, assigned: null });
        if (snap.floor_time && !ev.person.roles.includes('guarantor')) {
          snap.floor_time.push({ participant: ev.person.id, spoken_ms: 0 });
        }
      }
      break;
    case 'invite_issued':
    case 'invite_revoked':
    case 'secret_ballot_cast':
      break;
    case 'rooms_created':
      for (const r of ev.rooms) {
        if (!room(snap, r.id)) {
          snap.rooms.push({ id: r.id, name: r.name, observers: 0, ...(staff ? { inside: emptyInside() } : {}) });
        }
      }
      break;
    case 'rooms_cleared':
      snap.rooms = snap.rooms.filter((r) => r.id === PLENARY);
      for (const p of snap.participants) {
        p.assigned = null;
        if (p.room !== PLENARY) p.room = PLENARY;
      }
      recomputeObservers(snap);
      break;
    case 'rooms_assigned': {
      const m = new Map(ev.assignments.map((a) => [a.participant, a.room]));
      for (const p of snap.participants) p.assigned = m.get(p.id) || null;
      break;
    }
    case 'breakouts_opened':
      snap.breakouts = { ends_at: ev.ends_at, warn_at: ev.warn_at, warned: false };
      for (const p of snap.participants) {
        if (p.assigned && p.room !== p.assigned) {
          lowerEverywhere(snap, p.id);
          p.room = p.assigned;
        }
      }
      recomputeObservers(snap);
      break;
    case 'breakouts_warned':
      if (snap.breakouts) snap.breakouts.warned = true;
      break;
    case 'breakouts_extended':
      if (snap.breakouts) {
        snap.breakouts.ends_at = ev.ends_at;
        snap.breakouts.warn_at = ev.warn_at;
        snap.breakouts.warned = ev.warn_at <= rec.at;
      }
      break;
    case 'breakouts_closed':
      snap.breakouts = null;
      for (const r of snap.rooms) {
        if (r.id !== PLENARY && r.inside) {
          r.inside.queue = [];
          r.inside.queue_in_order = [];
          r.inside.floor = null;
        }
      }
      // Everyone the breakout placed is back; a rotation's rooms are not breakout rooms,
      // but the server closes breakouts only when no rotation places anyone.
      for (const p of snap.participants) p.room = PLENARY;
      recomputeObservers(snap);
      // The server stops recalling the announcements made so far (PROTOCOL.md).
      snap.notices = [];
      return { breakoutsClosed: true };
    case 'participant_moved':
      moveTo(snap, ev.participant, ev.room);
      recomputeObservers(snap);
      break;
    case 'broadcast_sent':
      snap.notices = (snap.notices || []).concat({ seq: rec.seq, at: rec.at, by: rec.by, text: ev.text }).slice(-10);
      return noticeEffect(rec);
    case 'chat_posted': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        // `request`: the page's own line, matched to the request that waited for it.
        r.inside.chat.push({ seq: rec.seq, at: rec.at, from: byId, text: ev.text, ...(rec.request ? { request: rec.request } : {}) });
        keepLatest(r.inside.chat);
      }
      return { chat: { room: ev.room, from: byId } };
    }
    case 'hand_raised': {
      const r = room(snap, ev.room);
      if (r && r.inside && !r.inside.queue.some((e) => e.participant === ev.participant)) {
        r.inside.queue.push({ participant: ev.participant, raised_at: rec.at });
        recomputeOrder(snap, r.inside);
      }
      break;
    }
    case 'hand_lowered': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        r.inside.queue = r.inside.queue.filter((e) => e.participant !== ev.participant);
        recomputeOrder(snap, r.inside);
      }
      break;
    }
    case 'floor_given': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        r.inside.floor = { participant: ev.participant, since: rec.at, ends_at: ev.ends_at };
        r.inside.queue = r.inside.queue.filter((e) => e.participant !== ev.participant);
        recomputeOrder(snap, r.inside);
      }
      break;
    }
    case 'floor_ended': {
      const r = room(snap, ev.room);
      if (r && r.inside && r.inside.floor && r.inside.floor.participant === ev.participant) {
        r.inside.floor = null;
      }
      if (snap.floor_time) {
        const f = snap.floor_time.find((x) => x.participant === ev.participant);
        if (f) f.spoken_ms += ev.spoken_ms;
        else snap.floor_time.push({ participant: ev.participant, spoken_ms: ev.spoken_ms });
        for (const rr of snap.rooms) if (rr.inside) recomputeOrder(snap, rr.inside);
      }
      break;
    }
    case 'floor_limit_set': {
      const r = room(snap, ev.room);
      if (r && r.inside && r.inside.floor && r.inside.floor.participant === ev.participant) {
        r.inside.floor.ends_at = ev.ends_at;
      }
      break;
    }
    case 'queue_order_set': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        r.inside.order = ev.order;
        recomputeOrder(snap, r.inside);
      }
      break;
    }
    case 'speaking_limit_set': {
      const r = room(snap, ev.room);
      if (r && r.inside) r.inside.limit_ms = ev.limit_ms;
      break;
    }
    case 'facilitator_called':
      if (!snap.calls.some((c) => c.id === rec.seq)) {
        snap.calls.push({ id: rec.seq, at: rec.at, participant: byId, room: ev.room, message: ev.message });
      }
      return { call: true };
    case 'call_resolved': {
      const call = snap.calls.find((c) => c.id === ev.call);
      snap.calls = snap.calls.filter((c) => c.id !== ev.call);
      // The caller hears that their call was handled ("Votre appel a été traité").
      return { callResolved: { call: ev.call, mine: !!call && call.participant === me.id, by: byId } };
    }
    // ---- polls ----
    case 'poll_drafted':
      if (!poll(snap, ev.poll)) {
        snap.polls.push({
          id: ev.poll, spec: ev.spec, status: 'draft', opened_at: null, ends_at: null, revealed: false,
          eligible: pollEligible(snap, me, ev.spec), you_voted: false, your_ballot: null,
          participation: null, tally: null,
        });
      }
      break;
    case 'poll_edited': {
      const p = poll(snap, ev.poll);
      if (p) {
        p.spec = ev.spec;
        p.eligible = pollEligible(snap, me, ev.spec);
      }
      break;
    }
    case 'poll_deleted':
      snap.polls = snap.polls.filter((p) => p.id !== ev.poll);
      break;
    case 'poll_opened': {
      let p = poll(snap, ev.poll);
      if (!p) {
        p = { id: ev.poll, revealed: false, you_voted: false, your_ballot: null, participation: null, tally: null };
        snap.polls.push(p);
      }
      Object.assign(p, {
        spec: ev.spec, status: 'open', opened_at: rec.at, ends_at: ev.ends_at,
        eligible: pollEligible(snap, me, ev.spec),
      });
      break;
    }
    case 'ballot_cast': {
      const p = poll(snap, ev.poll);
      if (p && byId === me.id) {
        p.you_voted = true;
        p.your_ballot = ev.ballot;
      }
      break;
    }
    case 'voter_marked': {
      const p = poll(snap, ev.poll);
      if (p && byId === me.id) p.you_voted = true;
      break;
    }
    case 'poll_closed': {
      const p = poll(snap, ev.poll);
      if (p) {
        p.status = 'closed';
        p.ends_at = null;
        if (ev.tally) p.tally = ev.tally;
        // Staff's close carries the turnout at the close, which stays.
        if (ev.turnout && p.participation) {
          p.participation = { ...p.participation, ...ev.turnout };
        }
      }
      break;
    }
    case 'poll_revealed': {
      const p = poll(snap, ev.poll);
      if (p) p.revealed = true;
      break;
    }
    case 'poll_published': {
      const p = poll(snap, ev.poll);
      if (p) {
        p.status = 'published';
        p.tally = ev.tally;
      }
      // Announced to those who see it, as a poll opening is.
      return p ? { published: ev.poll } : null;
    }
    // ---- rotations ----
    case 'rotation_planned':
      snap.rotation = { plan: ev.plan, phase: { state: 'planned' }, absent: [], questions: [] };
      break;
    case 'rotation_round_started':
      if (snap.rotation) {
        snap.rotation.phase = { state: 'round', round: ev.round, ends_at: ev.ends_at, warn_at: ev.warn_at, warned: false };
        place(snap, ev.round);
        recomputeObservers(snap);
      }
      break;
    case 'rotation_warned':
      if (snap.rotation && snap.rotation.phase.state === 'round') snap.rotation.phase.warned = true;
      break;
    case 'rotation_transition':
      if (snap.rotation) {
        snap.rotation.phase = { state: 'transition', next: ev.next, starts_at: ev.starts_at };
        place(snap, ev.next);
        recomputeObservers(snap);
      }
      break;
    case 'rotation_paused':
      if (snap.rotation) {
        snap.rotation.phase = { state: 'paused', frozen: snap.rotation.phase, remaining_ms: ev.remaining_ms };
      }
      break;
    case 'rotation_resumed': {
      const rot = snap.rotation;
      if (rot && rot.phase.state === 'paused') {
        const deadline = rec.at + rot.phase.remaining_ms;
        const f = rot.phase.frozen;
        if (f.state === 'round') {
          // remaining_ms runs to the round's end (PROTOCOL.md, rotation_paused): the end
          // moves to at + remaining_ms, the warning keeps its margin, never before `at`.
          const warning = Math.max(0, f.ends_at - f.warn_at);
          const warn = Math.max(deadline - warning, rec.at);
          rot.phase = { state: 'round', round: f.round, ends_at: deadline, warn_at: warn, warned: f.warned };
        } else if (f.state === 'transition') {
          rot.phase = { state: 'transition', next: f.next, starts_at: deadline };
        } else {
          rot.phase = f;
        }
      }
      break;
    }
    case 'rotation_extended':
      if (snap.rotation && snap.rotation.phase.state === 'round') {
        Object.assign(snap.rotation.phase, { ends_at: ev.ends_at, warn_at: ev.warn_at, warned: ev.warn_at <= rec.at });
      }
      break;
    case 'rotation_ended': {
      const rot = snap.rotation;
      if (rot) {
        rot.phase = { state: 'finished', stopped: ev.stopped };
        for (const pid of rot.plan.experts.concat(...rot.plan.groups)) moveTo(snap, pid, PLENARY);
        recomputeObservers(snap);
      }
      break;
    }
    case 'expert_absent': {
      const rot = snap.rotation;
      if (rot) {
        const round = placedRound(rot.phase);
        if (!rot.absent.includes(rot.plan.experts[ev.expert])) rot.absent.push(rot.plan.experts[ev.expert]);
        rot.plan.schedule = ev.schedule;
        if (round !== null) place(snap, round);
        recomputeObservers(snap);
      }
      break;
    }
    case 'group_joined': {
      const rot = snap.rotation;
      if (rot && rot.plan.groups[ev.group]) {
        const round = placedRound(rot.phase);
        rot.plan.groups[ev.group].push(ev.participant);
        if (round !== null) place(snap, round);
        recomputeObservers(snap);
      }
      break;
    }
    case 'question_asked':
      if (snap.rotation && byId) {
        snap.rotation.questions.push({ id: rec.seq, room: ev.room, from: byId, at: rec.at, text: ev.text, answer: null });
      }
      break;
    case 'question_answered': {
      const q = snap.rotation && snap.rotation.questions.find((x) => x.id === ev.question);
      if (q) q.answer = ev.text;
      break;
    }
    // ---- documents ----
    case 'document_created':
      if (!snap.documents.some((d) => d.name === ev.name)) {
        const d = { name: ev.name, title: ev.title, groups: [], can_write: false, versions: [] };
        snap.documents.push(d);
        d.can_write = canWrite(snap, me, d);
      }
      break;
    case 'writing_group_set':
      snap.writing_groups[ev.group] = ev.members.slice();
      recomputeWriting(snap, me);
      break;
    case 'document_opened': {
      const d = snap.documents.find((x) => x.name === ev.document);
      if (d && !d.groups.includes(ev.group)) d.groups.push(ev.group);
      recomputeWriting(snap, me);
      break;
    }
    case 'document_closed': {
      const d = snap.documents.find((x) => x.name === ev.document);
      if (d) d.groups = d.groups.filter((g) => g !== ev.group);
      recomputeWriting(snap, me);
      break;
    }
    case 'version_named': {
      const d = snap.documents.find((x) => x.name === ev.document);
      if (d && !d.versions.some((v) => v.version === ev.version)) {
        d.versions.push({ version: ev.version, label: ev.label, at: rec.at });
      }
      return { version: { document: ev.document, version: ev.version, by: byId } };
    }
    // ---- run sheet (runsheet.js) ----
    case 'sequence_added':
    case 'sequence_edited':
    case 'sequence_deleted':
    case 'sequence_moved':
    case 'sequence_started':
    case 'sequence_extended':
    case 'sequence_ended':
    case 'sequence_skipped':
      applySequenceEvent(snap, rec);
      break;
    // ---- hearings (hearings.js) ----
    case 'hearing_created':
    case 'hearing_opened':
    case 'hearing_closed':
    case 'hearing_question_asked':
    case 'hearing_question_supported':
    case 'hearing_support_withdrawn':
    case 'hearing_question_approved':
    case 'hearing_questions_merged':
    case 'hearing_question_hidden':
    case 'hearing_question_answering':
    case 'hearing_question_answered':
      applyHearingEvent(snap, me, rec);
      break;
    // ---- moderation (PROTOCOL.md §21) ----
    case 'chat_hidden': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        if (staff) {
          const line = r.inside.chat.find((l) => l.seq === ev.message);
          if (line) line.hidden = { by: byId, at: rec.at, reason: ev.reason || '' };
        } else {
          // Gone for everyone but staff: neither its text nor a mark stays.
          r.inside.chat = r.inside.chat.filter((l) => l.seq !== ev.message);
        }
      }
      snap.reports = (snap.reports || []).filter((x) => x.message !== ev.message);
      return { hidden: ev.message };
    }
    case 'chat_unhidden': {
      const r = room(snap, ev.room);
      if (r && r.inside) {
        const kept = r.inside.chat.find((l) => l.seq === ev.message);
        if (kept) delete kept.hidden;
        else if (ev.line) {
          // Back in its place (those who are not staff had dropped it).
          const chat = r.inside.chat;
          const at = chat.findIndex((l) => l.seq > ev.line.seq);
          chat.splice(at < 0 ? chat.length : at, 0, { ...ev.line });
          // As a fresh snapshot has them: a line older than all kept goes out again.
          keepLatest(chat);
        }
      }
      return null;
    }
    case 'chat_reported':
      snap.reports = (snap.reports || []).filter((x) => x.id !== rec.seq).concat({
        id: rec.seq, at: rec.at, by: byId, room: ev.room, message: ev.message, reason: ev.reason,
      });
      return { reported: { report: rec.seq, mine: byId === me.id } };
    case 'report_dismissed':
      snap.reports = (snap.reports || []).filter((x) => x.id !== ev.report);
      break;
    case 'participant_muted':
      snap.mutes = (snap.mutes || []).filter((m) => m.participant !== ev.participant).concat({
        participant: ev.participant, until: ev.until, at: rec.at, by: byId, reason: ev.reason,
      });
      return ev.participant === me.id ? { muted: { until: ev.until } } : null;
    case 'participant_unmuted':
      snap.mutes = (snap.mutes || []).filter((m) => m.participant !== ev.participant);
      return ev.participant === me.id ? { unmuted: true } : null;
    case 'participant_removed': {
      lowerEverywhere(snap, ev.participant);
      for (const r of snap.rooms) {
        if (r.inside && r.inside.floor && r.inside.floor.participant === ev.participant) r.inside.floor = null;
      }
      const p = person(snap, ev.participant);
      if (p) {
        p.room = PLENARY;
        p.assigned = null;
      }
      snap.removed = (snap.removed || []).filter((x) => x.participant !== ev.participant).concat({
        participant: ev.participant, at: rec.at, by: byId, reason: ev.reason || '',
      });
      recomputeObservers(snap);
      return ev.participant === me.id ? { removed: true } : null;
    }
    case 'participant_readmitted':
      snap.removed = (snap.removed || []).filter((x) => x.participant !== ev.participant);
      break;
    default:
      // An event this client does not know (a newer server): its seq is taken, nothing else.
      return { unknown: ev.type };
  }
  return null;
}

/** Fill in the fields a snapshot may omit, so that the UI can rely on them. */
/** What the page shows of a `broadcast_sent` record. */
export function noticeEffect(rec) {
  const from = rec.by && rec.by.kind === 'participant' ? rec.by.id : null;
  return { broadcast: { seq: rec.seq, at: rec.at, from, text: rec.event.text } };
}

/**
 * An announcement is shown as current only while it is this young: an older one has had its
 * moment, and someone arriving later is not told it as news. (Those sent during breakout
 * rooms leave the snapshot when the rooms close: the server stops recalling them.)
 */
export const CURRENT_NOTICE_MS = 5 * 60 * 1000;

/**
 * The announcements of a snapshot (`notices`) to show as current, as `broadcast_sent`
 * records: those after `seen` (the highest seq applied before this snapshot: sent while we
 * were away; 0 on a first connection) that are younger than CURRENT_NOTICE_MS at server time
 * `now`.
 */
export function missedNotices(snap, seen, now) {
  return (snap.notices || [])
    .filter((n) => n.seq > seen && now - n.at < CURRENT_NOTICE_MS)
    .map((n) => ({ seq: n.seq, at: n.at, by: n.by, event: { type: 'broadcast_sent', text: n.text } }));
}

/** My room (null before the first snapshot). */
export function roomOfPerson(snap, id) {
  const p = snap ? person(snap, id) : null;
  return p ? p.room : null;
}

/** Why my room changed with this event ('self' when I went there myself). */
export function moveCause(rec, me) {
  const ev = rec.event || {};
  switch (ev.type) {
    case 'breakouts_opened': return 'breakouts';
    case 'breakouts_closed': return 'recall';
    case 'rotation_round_started':
    case 'rotation_transition':
    case 'expert_absent':
    case 'group_joined':
      return 'rotation';
    case 'rotation_ended': return 'rotation_end';
    default:
      return rec.by && rec.by.kind === 'participant' && rec.by.id === me ? 'self' : 'moved';
  }
}

export function normalizeSnapshot(snap) {
  snap.notices = snap.notices || [];
  snap.polls = snap.polls || [];
  snap.documents = snap.documents || [];
  snap.writing_groups = snap.writing_groups || {};
  snap.calls = snap.calls || [];
  snap.reports = snap.reports || [];
  snap.mutes = snap.mutes || [];
  snap.removed = snap.removed || [];
  snap.rotation = snap.rotation || null;
  snap.runsheet = snap.runsheet || { sequences: [] };
  snap.hearings = snap.hearings || [];
  for (const r of snap.rooms) r.observers = r.observers || 0;
  return snap;
}

/** A number from a string (FNV-1a): the seed of a voter's own order of a ranking's options. */
function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // MurmurHash3's finalizer: seeds that differ in one character differ in every bit.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The options 0..n-1 in an order of this voter's own (shuffled with a seed made of the poll
 * and the voter, so it stays the same across reloads): nobody submits the order the
 * facilitator happened to type, and no option gains from being listed first.
 */
export function voterOrder(n, seed) {
  let x = hash32(seed) || 1;
  const next = () => {
    // xorshift32: ten lines do not deserve a crate.
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}
