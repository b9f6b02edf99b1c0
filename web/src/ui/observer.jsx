// The guarantor's silent view: switch to any room (command `visit`, observed without being
// one of its members), everything read-only, the live audit trail (with its hash chain
// checked in the browser), poll participation, floor-time equity, and the exports.

import { useState, useEffect } from 'preact/hooks';
import { t } from '../i18n.js';
import { PLENARY, person, room as roomOf } from '../reduce.js';
import { act, Section, nameOf, roomName, timeOfDay } from './common.jsx';
import { FloorCard, QueueList, PeopleList, Chat } from './room.jsx';
import { EquityView, CallsList } from './console.jsx';
import { sortedPolls, Participation } from './polls.jsx';
import { Icon } from './icons.jsx';
import { ExportButton, apiFetch } from './download.jsx';

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

/** One audit entry in words. */
function describe(snap, e) {
  const ev = e.event || {};
  const who = (id) => nameOf(snap, id);
  const p = { ...ev };
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
  if (ev.reason) p.reason = t(`reason.${ev.reason}`);
  const key = `audit.${ev.type}`;
  const s = t(key, p);
  return s === key ? ev.type : s;
}

function actorWords(snap, by) {
  if (!by) return '';
  if (by.kind === 'organizer') return t('actor.organizer');
  if (by.kind === 'timer') return t('actor.timer');
  return nameOf(snap, by.id);
}

export function AuditTrail({ client }) {
  const snap = client.snap;
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const [check, setCheck] = useState(null);
  const [limit, setLimit] = useState(50);
  const path = `/api/conventions/${encodeURIComponent(snap.convention.id)}/audit`;
  const load = async () => {
    try {
      const r = await apiFetch(client, path);
      if (!r.ok) throw new Error(String(r.status));
      const text = await r.text();
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        const e = JSON.parse(line);
        client.audit.set(e.n, e);
      }
      setLoaded(true);
      setError(null);
      client.notify();
    } catch (err) {
      setError(String(err.message || err));
    }
  };
  useEffect(() => {
    load();
  }, []);
  const entries = [...client.audit.values()].sort((a, b) => a.n - b.n);
  const shown = entries.slice(-limit).reverse();
  const verify = async () => {
    if (!(window.crypto && crypto.subtle)) {
      setCheck({ unsupported: true });
      return;
    }
    await load();
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
            <span class="audit-what">{describe(snap, e)}</span>
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
      {item(`/api/conventions/${cid}/polls?format=csv`, `polls-${id}.csv`, t('export.polls_csv'))}
      {item(`/api/conventions/${cid}/polls`, `polls-${id}.json`, t('export.polls_json'))}
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
        <Section id="audit" title={t('audit.title')}><AuditTrail client={client} /></Section>
        <Section id="participation" title={t('observe.participation')}><PollsParticipation client={client} /></Section>
        <Section id="equity" title={t('equity.title')}><EquityView client={client} /></Section>
        <Section id="exports" title={t('export.title')}><ExportLinks client={client} /></Section>
      </div>
    </div>
  );
}
