// The run sheet ("déroulé", PROTOCOL.md §20): the facilitators' panel to prepare the day's
// sequences and run it by starting them, and the compact "now / next" line everyone sees.

import { useState } from 'preact/hooks';
import { t } from '../i18n.js';
import { seesEverything } from '../reduce.js';
import { nowNext, driftMs } from '../runsheet.js';
import { act, ActButton, Countdown, timeOfDay, useId, useTick } from './common.jsx';
import { attributesOf } from './console.jsx';
import { ExportButton } from './download.jsx';

const KINDS = ['plenary', 'breakouts', 'polls', 'rotation', 'hearing', 'break'];
const MIN = 60000;

/** "retard de 5 min" / "avance de 3 min" / "à l'heure". */
export function driftWords(ms) {
  const m = Math.round(Math.abs(ms) / MIN);
  if (m === 0) return t('runsheet.on_time');
  return t(ms > 0 ? 'runsheet.late' : 'runsheet.early', { n: m });
}

function plannedEnd(s) {
  return s.spec.planned_start + s.spec.planned_ms;
}

/** The compact line under the status bar: "Maintenant : … · Ensuite : … 15:45". */
export function NowNext({ client }) {
  useTick(30000);
  const snap = client.snap;
  if (!snap.runsheet || !snap.runsheet.sequences.length) return null;
  const { now, next } = nowNext(snap);
  if (!now && !next) return null;
  const staff = seesEverything(client.you.roles);
  const drift = staff ? driftMs(snap) : null;
  return (
    <p class="now-next" data-testid="now-next">
      {now ? (
        <span class="nn-item" data-testid="now">
          <strong>{t('runsheet.now')}</strong> {now.spec.title}{' '}
          <span class="muted">({t('runsheet.span', { from: timeOfDay(now.status.started_at), to: timeOfDay(now.status.ends_at) })})</span>
        </span>
      ) : null}
      {next ? (
        <span class="nn-item" data-testid="next">
          <strong>{t('runsheet.next')}</strong> {next.spec.title}{' '}
          <span class="muted">{timeOfDay(next.spec.planned_start)}</span>
        </span>
      ) : null}
      {drift != null ? <span class={`nn-item drift${drift > 60000 ? ' late' : ''}`} data-testid="drift">{driftWords(drift)}</span> : null}
    </p>
  );
}

/** Today at "HH:MM", in ms. */
function atTime(hhmm) {
  const [h, m] = hhmm.split(':').map(Number);
  const d = new Date();
  d.setHours(h || 0, m || 0, 0, 0);
  return d.getTime();
}

function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The form's fields from a spec (to edit), or defaults after the last sequence. */
function fieldsOf(spec, after, attrs) {
  const a = spec ? spec.action : { kind: 'plenary' };
  const bo = a.kind === 'breakouts' ? a : null;
  return {
    title: spec ? spec.title : '',
    start: hhmm(spec ? spec.planned_start : after),
    minutes: String(spec ? Math.round(spec.planned_ms / MIN) : 15),
    kind: a.kind,
    rooms: String(bo && bo.rooms.from === 'new' && bo.rooms.count ? bo.rooms.count : 4),
    method: bo ? bo.grouping.method : (attrs.length ? 'balanced' : 'random'),
    attribute: bo && bo.grouping.attribute ? bo.grouping.attribute : (attrs.includes('commune') ? 'commune' : attrs[0] || ''),
    boMinutes: String(bo ? Math.round(bo.duration_ms / MIN) : 20),
    polls: a.kind === 'polls' ? a.polls.slice() : [],
    hearing: a.kind === 'hearing' ? a.hearing : '',
  };
}

function specOf(f) {
  let action;
  switch (f.kind) {
    case 'breakouts':
      action = {
        kind: 'breakouts',
        rooms: { from: 'new', count: Number(f.rooms) || 1 },
        grouping: f.method === 'balanced' ? { method: 'balanced', attribute: f.attribute } : { method: 'random' },
        duration_ms: Math.round((Number(f.boMinutes) || 1) * MIN),
      };
      break;
    case 'polls': action = { kind: 'polls', polls: f.polls }; break;
    case 'hearing': action = { kind: 'hearing', hearing: f.hearing }; break;
    default: action = { kind: f.kind };
  }
  return { title: f.title.trim(), planned_start: atTime(f.start), planned_ms: Math.round((Number(f.minutes) || 1) * MIN), action };
}

function SequenceForm({ client, editing, onDone }) {
  const snap = client.snap;
  const attrs = attributesOf(snap);
  const seqs = snap.runsheet.sequences;
  const last = seqs[seqs.length - 1];
  const after = last ? plannedEnd(last) : Math.ceil(client.now() / (5 * MIN)) * 5 * MIN;
  const [f, setF] = useState(() => fieldsOf(editing && editing.spec, after, attrs));
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setF((x) => ({ ...x, [k]: v }));
  };
  const id = useId('rs');
  const drafts = snap.polls.filter((p) => p.status === 'draft');
  const hearings = (snap.hearings || []).filter((h) => h.status === 'planned' || (editing && editing.spec.action.hearing === h.id));
  const submit = async (e) => {
    e.preventDefault();
    const spec = specOf(f);
    const ok = await act(client, editing ? { type: 'edit_sequence', sequence: editing.id, spec } : { type: 'add_sequence', spec });
    if (ok) {
      if (!editing) setF(fieldsOf(null, spec.planned_start + spec.planned_ms, attrs));
      if (onDone) onDone();
    }
  };
  return (
    <form class="stack runsheet-form" onSubmit={submit} data-testid="sequence-form">
      <h3 class="h-small">{editing ? t('runsheet.edit_title', { title: editing.spec.title }) : t('runsheet.add_title')}</h3>
      <div class="grid2">
        <label for={`${id}-title`}>{t('runsheet.title')}</label>
        <input id={`${id}-title`} name="title" type="text" required maxLength={120} value={f.title} onInput={set('title')} />
        <label for={`${id}-start`}>{t('runsheet.start')}</label>
        <input id={`${id}-start`} name="start" type="time" required value={f.start} onInput={set('start')} />
        <label for={`${id}-min`}>{t('runsheet.minutes')}</label>
        <input id={`${id}-min`} name="minutes" type="number" min="1" max="720" class="num" value={f.minutes} onInput={set('minutes')} />
        <label for={`${id}-kind`}>{t('runsheet.kind')}</label>
        <select id={`${id}-kind`} name="kind" value={f.kind} onChange={set('kind')}>
          {KINDS.map((k) => <option value={k}>{t(`runsheet.kind.${k}`)}</option>)}
        </select>
      </div>
      {f.kind === 'breakouts' ? (
        <div class="grid2">
          <label for={`${id}-rooms`}>{t('console.room_count')}</label>
          <input id={`${id}-rooms`} name="rooms" type="number" min="1" max="200" class="num" value={f.rooms} onInput={set('rooms')} />
          <label for={`${id}-method`}>{t('console.method')}</label>
          <select id={`${id}-method`} name="method" value={f.method} onChange={set('method')}>
            <option value="random">{t('console.random')}</option>
            {attrs.length ? <option value="balanced">{t('console.balanced')}</option> : null}
          </select>
          {f.method === 'balanced' ? (
            <>
              <label for={`${id}-attr`}>{t('console.attribute')}</label>
              <select id={`${id}-attr`} value={f.attribute} onChange={set('attribute')}>
                {attrs.map((a) => <option value={a}>{a}</option>)}
              </select>
            </>
          ) : null}
          <label for={`${id}-bo`}>{t('runsheet.breakout_minutes')}</label>
          <input id={`${id}-bo`} name="bo-minutes" type="number" min="1" max="720" class="num" value={f.boMinutes} onInput={set('boMinutes')} />
        </div>
      ) : null}
      {f.kind === 'polls' ? (
        drafts.length ? (
          <fieldset>
            <legend>{t('runsheet.polls')}</legend>
            {drafts.map((p) => (
              <label class="choice" key={p.id}>
                <input
                  type="checkbox"
                  name="poll"
                  value={p.id}
                  checked={f.polls.includes(p.id)}
                  onChange={(e) => {
                    const on = e.currentTarget.checked;
                    setF((x) => ({ ...x, polls: on ? x.polls.concat([p.id]) : x.polls.filter((q) => q !== p.id) }));
                  }}
                /> {p.spec.question}
              </label>
            ))}
          </fieldset>
        ) : <p class="small muted">{t('runsheet.no_drafts')}</p>
      ) : null}
      {f.kind === 'rotation' ? <p class="small muted">{snap.rotation && snap.rotation.phase.state === 'planned' ? t('runsheet.rotation_ready') : t('runsheet.rotation_plan_first')}</p> : null}
      {f.kind === 'hearing' ? (
        <div class="grid2">
          <label for={`${id}-sp`}>{t('runsheet.hearing')}</label>
          <select id={`${id}-sp`} value={f.hearing} onChange={set('hearing')} required>
            <option value="">—</option>
            {hearings.map((h) => <option value={h.id}>{h.title}</option>)}
          </select>
          {hearings.length ? null : <p class="small muted">{t('runsheet.no_hearings')}</p>}
        </div>
      ) : null}
      {f.kind === 'break' ? <p class="small muted">{t('runsheet.break_hint')}</p> : null}
      <div class="row wrap">
        <button type="submit" class="btn primary">{editing ? t('runsheet.save') : t('runsheet.add')}</button>
        {editing ? <button type="button" class="btn" onClick={onDone}>{t('common.cancel')}</button> : null}
      </div>
    </form>
  );
}

function statusWords(s) {
  switch (s.status.state) {
    case 'running': return t('runsheet.status.running', { time: timeOfDay(s.status.started_at) });
    case 'done': return t('runsheet.status.done', { from: timeOfDay(s.status.started_at), to: timeOfDay(s.status.ended_at) });
    case 'skipped': return t('runsheet.status.skipped');
    default: return t('runsheet.status.planned');
  }
}

function exportPath(snap, format) {
  return `/api/conventions/${encodeURIComponent(snap.convention.id)}/runsheet?format=${format}`;
}

/**
 * The facilitators' panel: the day's sequences, each with what may be done with it now; with
 * `readOnly` (guarantors), the list, the drift and the export only.
 */
export function RunSheetPanel({ client, readOnly = false }) {
  const snap = client.snap;
  const seqs = snap.runsheet.sequences;
  const { now, next } = nowNext(snap);
  const [editing, setEditing] = useState(null);
  const [extend, setExtend] = useState('5');
  const id = useId('rsx');
  const drift = driftMs(snap);
  const planned = seqs.filter((s) => s.status.state === 'planned');
  const move = (s, dir) => {
    const i = planned.indexOf(s);
    const target = dir < 0 ? planned[i - 1] : planned[i + 2];
    const before = target ? target.id : null;
    if (dir < 0 && i === 0) return;
    if (dir > 0 && i === planned.length - 1) return;
    act(client, { type: 'move_sequence', sequence: s.id, before });
  };
  return (
    <div class="runsheet stack" data-testid="runsheet">
      {now ? (
        <div class="runsheet-now stack" data-testid="runsheet-now">
          <p>
            <strong>{t('runsheet.now')}</strong> {now.spec.title} · <Countdown client={client} deadline={now.status.ends_at} label={t('runsheet.planned_end')} />
            {drift != null ? <> · <span class="drift" data-testid="console-drift">{driftWords(drift)}</span></> : null}
          </p>
          {readOnly ? null : <div class="row wrap">
            <label for={`${id}-ext`}>{t('console.extend_by')}</label>
            <input id={`${id}-ext`} type="number" min="1" class="num" value={extend} onInput={(e) => setExtend(e.currentTarget.value)} />
            <span>{t('unit.min')}</span>
            <ActButton client={client} class="btn" command={() => ({ type: 'extend_sequence', by_ms: Math.round((Number(extend) || 1) * MIN) })}>{t('runsheet.extend')}</ActButton>
            <ActButton client={client} class="btn" command={{ type: 'end_sequence' }}>{t('runsheet.end')}</ActButton>
          </div>}
        </div>
      ) : null}
      {seqs.length ? (
        <ol class="sequences">
          {seqs.map((s) => {
            const isPlanned = s.status.state === 'planned';
            return (
              <li key={s.id} class={`sequence ${s.status.state}${next && next.id === s.id ? ' next' : ''}`} data-sequence={s.id} data-state={s.status.state}>
                <p>
                  <span class="seq-time">{timeOfDay(s.spec.planned_start)}</span> <strong>{s.spec.title}</strong>{' '}
                  <span class="small muted">· {t(`runsheet.kind.${s.spec.action.kind}`)} · {t('dur.m', { m: Math.round(s.spec.planned_ms / MIN) })} · {statusWords(s)}</span>
                </p>
                {isPlanned && !readOnly ? (
                  <div class="row wrap">
                    <ActButton client={client} class="btn small primary" command={{ type: 'start_sequence', sequence: s.id, end_running: !!now }} label={t('runsheet.start_label', { title: s.spec.title })}>{t('runsheet.start_btn')}</ActButton>
                    <ActButton client={client} class="btn small" command={{ type: 'skip_sequence', sequence: s.id }} label={t('runsheet.skip_label', { title: s.spec.title })}>{t('runsheet.skip')}</ActButton>
                    <button type="button" class="btn small" onClick={() => setEditing(s)}>{t('runsheet.edit')}</button>
                    <button type="button" class="btn small" onClick={() => move(s, -1)} aria-label={t('runsheet.up', { title: s.spec.title })}>↑</button>
                    <button type="button" class="btn small" onClick={() => move(s, 1)} aria-label={t('runsheet.down', { title: s.spec.title })}>↓</button>
                    <ActButton client={client} class="btn small danger" command={{ type: 'delete_sequence', sequence: s.id }} confirm={t('runsheet.delete_confirm')}>{t('runsheet.delete')}</ActButton>
                  </div>
                ) : null}
              </li>
            );
          })}
        </ol>
      ) : <p class="muted">{t('runsheet.empty')}</p>}
      {readOnly ? null : editing ? <SequenceForm key={`edit-${editing.id}`} client={client} editing={editing} onDone={() => setEditing(null)} /> : <SequenceForm key="add" client={client} />}
      {readOnly ? null : <p class="small muted">{t('runsheet.hint')}</p>}
      <div class="row wrap">
        <ExportButton client={client} small path={exportPath(snap, 'csv')} filename={`runsheet-${snap.convention.id}.csv`}>{t('runsheet.export_csv')}</ExportButton>
        <ExportButton client={client} small path={exportPath(snap, 'json')} filename={`runsheet-${snap.convention.id}.json`}>{t('runsheet.export_json')}</ExportButton>
      </div>
    </div>
  );
}
