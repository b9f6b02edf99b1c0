// The guarantor's silent view: switch to any room (command `visit`, observed without being
// one of its members), everything read-only, the live audit trail (with its hash chain
// checked in the browser), poll participation, floor-time equity, and the exports.

import { useState, useEffect } from 'preact/hooks';
import { t } from '../i18n.js';
import { PLENARY, person, room as roomOf } from '../reduce.js';
import { act, Section, nameOf, roomName, timeOfDay, actorWords } from './common.jsx';
import { FloorCard, QueueList, PeopleList, Chat } from './room.jsx';
import { EquityView, CallsList } from './console.jsx';
import { sortedPolls, Participation } from './polls.jsx';
import { Icon } from './icons.jsx';
import { ExportButton, loadAudit, sheetPath } from './download.jsx';
// Attendance (issue #17).
import { AttendanceView } from './attendance.jsx';
// Run sheet.
import { RunSheetPanel } from './runsheet.jsx';
import { ModerationLog, MODERATION_TYPES, describeModeration } from './moderation.jsx';

/** serde_json's canonical form as the audit chain hashes it: sorted keys, no spaces. */
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

async function sha256hex(text) {
  const buf = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Check every link of the chain; returns {ok, bad: n of the first bad entry}. */
export async function verifyChain(entries) {
  let prev = '0'.repeat(64);
  for (const e of entries) {
    const { hash, ...rest } = e;
    if (e.prev !== prev) return { ok: false, bad: e.n };
    const h = await sha256hex(prev + canonical(rest));
    if (h !== hash) return { ok: false, bad: e.n };
    prev = hash;
  }
  return { ok: true, bad: null };
}

/** A text cut to `max` characters, for a line of the trail. */
function short(text, max = 80) {
  const s = String(text || '');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/**
 * What the trail itself says about the things its entries name by id, in order: each poll's
 * question (from its drafts, edits and opening, so a deleted poll keeps its name) and, at
 * each entry, the rotation round under way or about to start (from 0).
 */
export function trailContext(snap, entries) {
  const questions = new Map((snap.polls || []).map((p) => [p.id, p.spec.question]));
  const rounds = new Map();
  let round = null;
  const hearings = new Map();
  for (const e of entries) {
    const ev = e.event || {};
    if (ev.spec && ev.poll) questions.set(ev.poll, ev.spec.question);
    // Public polls (their ids, pp1…, are not the convention's polls', q1…).
    if (ev.type === 'public_poll_opened') questions.set(ev.poll, ev.question);
    if (ev.type === 'hearing_created') hearings.set(ev.hearing, ev.title);
    if (ev.type === 'rotation_planned' || ev.type === 'rotation_ended') round = null;
    if (ev.type === 'rotation_round_started') round = ev.round;
    rounds.set(e.n, round);
    if (ev.type === 'rotation_transition') round = ev.next;
  }
  return { questions, rounds, hearings };
}

/** A hearing's question in a line of the trail: its words if this page has them, else its number. */
function hearingQuestion(snap, hearing, id) {
  const h = (snap.hearings || []).find((x) => x.id === hearing);
  const q = h && (h.questions || []).find((x) => x.id === id);
  return q ? t('audit.poll_named', { question: short(q.text, 60) }) : t('audit.question_n', { n: id });
}

/** Rotation events said with their round's number, as the rotation's view counts (from 1). */
const ROUND_KEYS = {
  rotation_round_started: 'audit.round_started',
  rotation_warned: 'audit.round_warned',
  rotation_transition: 'audit.round_transition',
  rotation_paused: 'audit.round_paused',
  rotation_resumed: 'audit.round_resumed',
  rotation_extended: 'audit.round_extended',
};

/** One audit entry in words; `ctx` from `trailContext`. */
function describe(snap, e, ctx) {
  const ev = e.event || {};
  // Moderation reasons are free text, said as they were given.
  if (MODERATION_TYPES.includes(ev.type)) return describeModeration(snap, ev);
  const who = (id) => nameOf(snap, id);
  const p = { ...ev };
  if (ev.poll) {
    const q = (ctx && ctx.questions.get(ev.poll)) || null;
    if (q) p.poll = t('audit.poll_named', { question: short(q) });
  }
  if (ROUND_KEYS[ev.type]) {
    const r = ev.type === 'rotation_round_started' ? ev.round : ev.type === 'rotation_transition' ? ev.next - 1 : ctx && ctx.rounds.get(e.n);
    if (r !== null && r !== undefined && r >= 0) return t(ROUND_KEYS[ev.type], { n: r + 1, next: r + 2 });
  }
  if (ev.type === 'question_answered' && snap.rotation) {
    const q = snap.rotation.questions.find((x) => x.id === ev.question);
    if (q) return t('audit.question_answered_named', { text: short(q.text) });
  }
  if (ev.document) {
    const d = (snap.documents || []).find((x) => x.name === ev.document);
    if (d) p.document = d.title;
  }
  // Hearings: by their title, their questions by their words (or number).
  if (ev.hearing) {
    const h = (snap.hearings || []).find((x) => x.id === ev.hearing);
    p.hearing = h ? h.title : (ctx && ctx.hearings.get(ev.hearing)) || ev.hearing;
    if (ev.question !== undefined) p.q = hearingQuestion(snap, ev.hearing, ev.question);
    if (ev.into !== undefined) p.into = hearingQuestion(snap, ev.hearing, ev.into);
  }
  if (ev.type === 'livestream_set' && !ev.livestream) return t('audit.livestream_cleared');
  if (ev.tally && typeof ev.tally.ballots === 'number') p.n = ev.tally.ballots;
  // Run sheet: the sequence by its title.
  if (ev.sequence) {
    const sq = ((snap.runsheet && snap.runsheet.sequences) || []).find((x) => x.id === ev.sequence);
    p.title = ev.spec ? ev.spec.title : sq ? sq.spec.title : ev.sequence;
  }
  if (ev.participant) p.name = who(ev.participant);
  if (ev.room) p.room = roomName(snap, ev.room);
  if (ev.person) p.name = ev.person.name;
  if (ev.expert !== undefined && snap.rotation) p.name = who(snap.rotation.plan.experts[ev.expert] || '');
  if (ev.assignments) p.n = ev.assignments.length;
  if (ev.method) {
    const [m, attr] = String(ev.method).split(':');
    p.method = attr ? t('method.balanced', { attr: t(`attr.${attr}`) === `attr.${attr}` ? attr : t(`attr.${attr}`) }) : t(`method.${m}`) === `method.${m}` ? m : t(`method.${m}`);
  }
  if (ev.rooms) p.n = ev.rooms.length;
  if (ev.spoken_ms !== undefined) p.s = Math.round(ev.spoken_ms / 1000);
  // A reason is a code (the end of a turn, of a poll…) or, for a hidden question, free text.
  if (ev.reason) p.reason = t(`reason.${ev.reason}`) === `reason.${ev.reason}` ? ev.reason : t(`reason.${ev.reason}`);
  const key = `audit.${ev.type}`;
  const s = t(key, p);
  return s === key ? ev.type : s;
}

/** The trail's head as this page knows it: the snapshot's, or a later entry received live. */
function headOf(client, entries) {
  let head = client.snap.audit_head || null;
  const last = entries[entries.length - 1];
  if (last && (!head || last.n > head.n)) head = { n: last.n, hash: last.hash };
  return head;
}

/** The head to note down, and the command that checks a later export against it. */
function AuditHead({ head, convention }) {
  if (!head) return null;
  return (
    <div class="audit-head" data-testid="audit-head">
      <p><strong>{t('audit.head_title')}</strong> {t('audit.head_entry', { n: head.n })}</p>
      <p>{t('audit.head_hash')} <code class="audit-head-hash">{head.hash}</code></p>
      <p class="small muted">{t('audit.head_explain')}</p>
      <p class="small"><code class="audit-head-hash">convene audit verify audit-{convention}.jsonl --head {head.n}:{head.hash}</code></p>
    </div>
  );
}

export function AuditTrail({ client }) {
  const snap = client.snap;
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const [check, setCheck] = useState(null);
  const [limit, setLimit] = useState(50);
  const path = `/api/conventions/${encodeURIComponent(snap.convention.id)}/audit`;
  const load = async (fresh = false) => {
    try {
      await loadAudit(client, fresh);
      setLoaded(true);
      setError(null);
    } catch (err) {
      setError(String(err.message || err));
    }
  };
  useEffect(() => {
    load();
  }, []);
  const entries = [...client.audit.values()].sort((a, b) => a.n - b.n);
  const shown = entries.slice(-limit).reverse();
  const ctx = trailContext(snap, entries);
  const verify = async () => {
    if (!(window.crypto && crypto.subtle)) {
      setCheck({ unsupported: true });
      return;
    }
    await load(true);
    const all = [...client.audit.values()].sort((a, b) => a.n - b.n);
    const contiguous = all.every((e, i) => e.n === i + 1);
    const res = contiguous ? await verifyChain(all) : { ok: false, bad: null, gap: true };
    setCheck({ ...res, n: all.length });
  };
  return (
    <div class="audit">
      <div class="row wrap">
        <button type="button" class="btn" onClick={verify}>{t('audit.verify')}</button>
        <ExportButton client={client} path={path} filename={`audit-${snap.convention.id}.jsonl`}>{t('audit.download')}</ExportButton>
      </div>
      <AuditHead head={headOf(client, entries)} convention={snap.convention.id} />
      {check ? (
        <p class={check.ok ? 'ok' : 'warn-text'} role="status">
          {check.unsupported ? t('audit.unsupported') : check.ok ? t('audit.verified', { n: check.n }) : check.gap ? t('audit.gap') : t('audit.broken', { n: check.bad })}
        </p>
      ) : null}
      {error ? <p class="warn-text" role="alert">{t('audit.load_error')}</p> : null}
      {!loaded && !error ? <p class="muted">{t('common.loading')}</p> : null}
      <ol class="audit-list" reversed aria-label={t('audit.title')} tabIndex={0}>
        {shown.map((e) => (
          <li key={e.n} value={e.n}>
            <span class="audit-meta"><span class="audit-n">#{e.n}</span> <time>{timeOfDay(e.at)}</time> · {actorWords(snap, e.by)}</span>
            <span class="audit-what">{describe(snap, e, ctx)}</span>
            <code class="audit-hash" title={e.hash}>{e.hash.slice(0, 10)}…</code>
          </li>
        ))}
      </ol>
      {entries.length > limit ? <button type="button" class="btn small" onClick={() => setLimit(limit + 100)}>{t('audit.more')}</button> : null}
    </div>
  );
}

function RoomSwitcher({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  return (
    <ul class="room-switch" aria-label={t('observe.rooms')}>
      {snap.rooms.map((r) => {
        const n = snap.participants.filter((p) => p.room === r.id && !p.roles.includes('guarantor') && p.online).length;
        const current = r.id === here;
        return (
          <li key={r.id}>
            <button
              type="button"
              class={`btn${current ? ' primary' : ''}`}
              aria-current={current ? 'true' : undefined}
              onClick={() => { if (!current) act(client, { type: 'visit', room: r.id }); }}
            >
              {roomName(snap, r.id)} <span class="count">({n})</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

export function ExportLinks({ client }) {
  const snap = client.snap;
  const id = snap.convention.id;
  const cid = encodeURIComponent(id);
  const doc = snap.documents[0];
  const item = (path, filename, label, view = false) => (
    <li><ExportButton client={client} small view={view} path={path} filename={filename}>{label}</ExportButton></li>
  );
  return (
    <ul class="plain exports">
      {item(`/api/conventions/${cid}/audit`, `audit-${id}.jsonl`, t('export.audit'))}
      {item(sheetPath(`/api/conventions/${cid}/polls`), `polls-${id}.xlsx`, t('export.polls_xlsx'))}
      {item(`/api/conventions/${cid}/polls?format=csv`, `polls-${id}.csv`, t('export.polls_csv'))}
      {item(`/api/conventions/${cid}/polls`, `polls-${id}.json`, t('export.polls_json'))}
      {item(sheetPath(`/api/conventions/${cid}/chat`), `chat-${id}.xlsx`, t('export.chat_xlsx'))}
      {item(`/api/conventions/${cid}/chat?format=csv`, `chat-${id}.csv`, t('export.chat_csv'))}
      {item(sheetPath(`/api/conventions/${cid}/floor-time`), `floor-time-${id}.xlsx`, t('export.floor_xlsx'))}
      {item(`/api/conventions/${cid}/floor-time?format=csv`, `floor-time-${id}.csv`, t('export.floor_csv'))}
      {snap.rotation ? item(sheetPath(`/api/conventions/${cid}/rotation`), `rotation-${id}.xlsx`, t('export.rotation_xlsx')) : null}
      {snap.rotation ? item(`/api/conventions/${cid}/rotation?format=csv`, `rotation-${id}.csv`, t('export.rotation_csv')) : null}
      {snap.rotation ? item(`/api/conventions/${cid}/rotation`, `rotation-${id}.json`, t('export.rotation')) : null}
      {doc ? item(`/api/conventions/${cid}/documents/${encodeURIComponent(doc.name)}/export?format=html`, `${doc.name}.html`, t('export.opinion_html'), true) : null}
    </ul>
  );
}

function PollsParticipation({ client }) {
  const polls = sortedPolls(client.snap).filter((p) => p.status !== 'draft').reverse();
  if (!polls.length) return <p class="muted">{t('polls.none')}</p>;
  return (
    <ul class="plain">
      {polls.map((p) => (
        <li key={p.id} class="poll-mini">
          <p><strong>{p.spec.question}</strong> <span class="badge">{t(`poll.status.${p.status}`)}</span>{p.spec.secret ? <span class="badge secret"><Icon name="lock" size={14} /> {t('poll.secret')}</span> : null}</p>
          <Participation poll={p} />
        </li>
      ))}
    </ul>
  );
}

export function ObserverView({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  const r = roomOf(snap, here);
  const inside = r && r.inside;
  return (
    <div class="observer">
      <div class="col">
        <Section id="observe" title={t('observe.title')}>
          <p class="small muted">{t('observe.explain')}</p>
          <RoomSwitcher client={client} />
        </Section>
        {inside ? (
          <Section id="observed" title={t('observe.in', { room: roomName(snap, here) })}>
            <FloorCard client={client} inside={inside} roomId={here} />
            <QueueList client={client} inside={inside} roomId={here} />
            <PeopleList client={client} roomId={here} observers={r.observers} />
            <h3 class="h-small">{t('chat.title')}</h3>
            <Chat client={client} roomId={here} inside={inside} readOnly />
          </Section>
        ) : null}
        <Section id="calls" title={t('calls.title')}><CallsList client={client} /></Section>
      </div>
      <div class="col">
        <Section id="moderation-log" title={t('mod.log_title')}><ModerationLog client={client} /></Section>
        <Section id="audit" title={t('audit.title')}><AuditTrail client={client} /></Section>
        {/* Run sheet. */}
        {snap.runsheet && snap.runsheet.sequences.length ? <Section id="runsheet" title={t('runsheet.section')}><RunSheetPanel client={client} readOnly /></Section> : null}
        <Section id="participation" title={t('observe.participation')}><PollsParticipation client={client} /></Section>
        <Section id="equity" title={t('equity.title')}><EquityView client={client} /></Section>
        {/* Attendance (issue #17) */}
        <Section id="attendance" title={t('attendance.title')}><AttendanceView client={client} /></Section>
        <Section id="exports" title={t('export.title')}><ExportLinks client={client} /></Section>
      </div>
    </div>
  );
}
