// The run sheet ("déroulé", PROTOCOL.md §20): the facilitators' panel to prepare the day's
// sequences and run it by starting them, and the compact "now / next" line everyone sees.

import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { t, getLang, locale } from '../i18n.js';
import { PLENARY, seesEverything } from '../reduce.js';
import { nowNext, driftMs } from '../runsheet.js';
import { act, ActButton, Countdown, roomName, timeOfDay, useId, useTick, checkFields, ExtendForm, Checked } from './common.jsx';
import { attributesOf } from './console.jsx';
import { ExportButton, sheetPath } from './download.jsx';

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

/** The compact line under the status bar: « Maintenant (jusqu’à 15 h 30) : … Ensuite (15 h 45) : … ». */
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
      {/* The time before the title: on a phone the line is cut at its end, and a long title
          once took the time with it (« Audition : les mobilités de demain (13 … »). */}
      {now ? (
        <span class="nn-item" data-testid="now">
          <strong>{t('runsheet.now_until', { time: timeOfDay(now.status.ends_at) })}</strong> {now.spec.title}
        </span>
      ) : null}
      {next ? (
        <span class="nn-item" data-testid="next">
          <strong>{t('runsheet.next_at', { time: timeOfDay(next.spec.planned_start) })}</strong> {next.spec.title}
        </span>
      ) : null}
      {drift != null ? <span class={`nn-item drift${drift > 60000 ? ' late' : ''}`} data-testid="drift">{driftWords(drift)}</span> : null}
    </p>
  );
}

function pad2(n) {
  return String(n).padStart(2, '0');
}

// The date and the start are typed in text fields, the way the page's language writes them
// (« 12/12/2026 », « 9 h 30 »), not in the browser's own date and time pickers, which follow
// the browser's language (an English browser asked a French facilitator for "mm/dd/yyyy" and
// "--:-- --" AM/PM) and check with bubbles in that language.

/** A date typed day first ("12/12/2026", "12.12.26", "12-12-2026"), or an ISO date
 * ("2026-12-12"): [year, month, day], or null if it is no date. */
export function parseDate(text) {
  const s = String(text).trim();
  let y;
  let mo;
  let d;
  let m = s.match(/^(\d{4})-(\d{1,2})-(\d{1,2})$/);
  if (m) [y, mo, d] = [m[1], m[2], m[3]].map(Number);
  else {
    m = s.match(/^(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2}|\d{4})$/);
    if (!m) return null;
    [d, mo, y] = [m[1], m[2], m[3]].map(Number);
    if (y < 100) y += 2000;
  }
  const day = new Date(y, mo - 1, d);
  return day.getFullYear() === y && day.getMonth() === mo - 1 && day.getDate() === d ? [y, mo, d] : null;
}

/** A time typed « 9 h 30 », « 9h30 », « 9 h », "09:30", "9.30" or "9": [hours, minutes], or null. */
export function parseTime(text) {
  const m = String(text).trim().toLowerCase().match(/^(\d{1,2})\s*(?:[h:.]\s*(\d{2})?)?$/);
  if (!m) return null;
  const h = Number(m[1]);
  const min = m[2] ? Number(m[2]) : 0;
  return h < 24 && min < 60 ? [h, min] : null;
}

/** The date and time of the form's fields, local, as ms (null if either is not one). */
function atDateTime(date, time) {
  const d = parseDate(date);
  const hm = parseTime(time);
  if (!d || !hm) return null;
  return new Date(d[0], d[1] - 1, d[2], hm[0], hm[1], 0, 0).getTime();
}

/** A time as the form shows it: « 9 h 30 » in French, "09:30" in English. */
function hhmm(ms) {
  const d = new Date(ms);
  return getLang() === 'fr' ? `${d.getHours()} h ${pad2(d.getMinutes())}` : `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** A date as the form shows it: day/month/year, in French and in (British) English alike. */
function dmyOf(ms) {
  const d = new Date(ms);
  return `${pad2(d.getDate())}/${pad2(d.getMonth() + 1)}/${d.getFullYear()}`;
}

/** The typed date in words (« samedi 12 décembre 2026 »), to check it at a glance. */
function dateInWords(text) {
  const d = parseDate(text);
  return d ? new Intl.DateTimeFormat(locale(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(d[0], d[1] - 1, d[2])) : null;
}

const WHOLE = /^\d{1,4}$/;
/** The form's fields whose error goes by the id of their control (`${id}-min`…). */
const ERROR_KEY = { minutes: 'min', boMinutes: 'bo', warning: 'warn', hearing: 'sp' };

/** What is wrong with the form, field by field, in words (the browser's bubbles vanish, and
 * speak the browser's language, not the page's). */
function formErrors(f) {
  const out = {};
  const inRange = (v, lo, hi) => WHOLE.test(String(v).trim()) && Number(v) >= lo && Number(v) <= hi;
  if (!f.title.trim()) out.title = t('runsheet.err_title');
  if (!parseDate(f.date)) out.date = t('runsheet.err_date');
  if (!parseTime(f.start)) out.start = t('runsheet.err_start');
  if (!inRange(f.minutes, 1, 720)) out.min = t('runsheet.err_minutes', { lo: 1, hi: 720 });
  if (f.kind === 'breakouts') {
    if (f.roomsFrom === 'count' && !inRange(f.rooms, 1, 200)) out.rooms = t('runsheet.err_rooms', { hi: 200 });
    if (!inRange(f.boMinutes, 1, 720)) out.bo = t('runsheet.err_minutes', { lo: 1, hi: 720 });
    if (!inRange(f.warning, 0, 720)) out.warn = t('runsheet.err_minutes', { lo: 0, hi: 720 });
  }
  if (f.kind === 'hearing' && !f.hearing) out.sp = t('runsheet.err_hearing');
  return out;
}

/** Who the manual grouping places: the citizens (never guarantors). */
function placeable(snap) {
  return snap.participants.filter((p) => p.roles.includes('citizen') && !p.roles.includes('guarantor'));
}

/** The form's fields from a spec (to edit), or defaults after the last sequence. */
function fieldsOf(spec, after, attrs) {
  const a = spec ? spec.action : { kind: 'plenary' };
  const bo = a.kind === 'breakouts' ? a : null;
  const r = bo ? bo.rooms : null;
  const pick = {};
  if (bo && bo.grouping.method === 'manual') {
    bo.grouping.groups.forEach((g, i) => g.forEach((pid) => { pick[pid] = String(i); }));
  }
  const at = spec ? spec.planned_start : after;
  return {
    title: spec ? spec.title : '',
    date: dmyOf(at),
    start: hhmm(at),
    minutes: String(spec ? Math.round(spec.planned_ms / MIN) : 15),
    kind: a.kind,
    roomsFrom: !r ? 'count' : r.from === 'existing' ? 'existing' : r.names && r.names.length ? 'names' : 'count',
    rooms: String(r && r.from === 'new' && r.count ? r.count : 4),
    roomNames: r && r.from === 'new' && r.names ? r.names.join('\n') : '',
    existing: r && r.from === 'existing' ? r.rooms.slice() : [],
    method: bo ? bo.grouping.method : (attrs.length ? 'balanced' : 'random'),
    attribute: bo && bo.grouping.attribute ? bo.grouping.attribute : (attrs.includes('commune') ? 'commune' : attrs[0] || ''),
    pick,
    boMinutes: String(bo ? Math.round(bo.duration_ms / MIN) : 20),
    warning: String(bo && bo.warning_ms != null ? Math.round(bo.warning_ms / MIN) : 1),
    polls: a.kind === 'polls' ? a.polls.slice() : [],
    hearing: a.kind === 'hearing' ? a.hearing : '',
  };
}

function namesOf(f) {
  return f.roomNames.split('\n').map((x) => x.trim()).filter(Boolean);
}

/** The labels of the sequence's rooms, in order (the i-th manual group goes to the i-th). */
function roomLabels(snap, f) {
  switch (f.roomsFrom) {
    case 'names': return namesOf(f);
    case 'existing': return f.existing.map((id) => roomName(snap, id));
    default: {
      const n = Math.min(Math.max(Math.floor(Number(f.rooms)) || 0, 0), 200);
      return Array.from({ length: n }, (_, i) => t('runsheet.room_n', { n: i + 1 }));
    }
  }
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The spec the form describes. When editing (`orig`, with the fields it was shown with, `f0`),
 * whatever the facilitator left as it was is carried over exactly as stored: the planned start
 * to the millisecond, the rooms, the grouping, the durations.
 */
function specOf(f, f0, orig, snap) {
  const kept = (...ks) => orig && ks.every((k) => same(f[k], f0[k]));
  let action;
  switch (f.kind) {
    case 'breakouts': {
      const ob = orig && orig.action.kind === 'breakouts' && f0.kind === 'breakouts' ? orig.action : null;
      const keep = (...ks) => ob && kept(...ks);
      const roomsKept = keep('roomsFrom', 'rooms', 'roomNames', 'existing');
      let rooms;
      if (roomsKept) rooms = ob.rooms;
      else if (f.roomsFrom === 'names') rooms = { from: 'new', names: namesOf(f) };
      else if (f.roomsFrom === 'existing') rooms = { from: 'existing', rooms: f.existing.slice() };
      else rooms = { from: 'new', count: Number(f.rooms) || 1 };
      let grouping;
      if (keep('method', 'attribute', 'pick') && (roomsKept || f.method !== 'manual')) grouping = ob.grouping;
      else if (f.method === 'balanced') grouping = { method: 'balanced', attribute: f.attribute };
      else if (f.method === 'manual') {
        const n = roomLabels(snap, f).length;
        const groups = Array.from({ length: Math.max(n, 1) }, () => []);
        for (const [pid, i] of Object.entries(f.pick)) {
          const k = Number(i);
          if (i !== '' && k < n) groups[k].push(pid);
        }
        grouping = { method: 'manual', groups };
      } else grouping = { method: 'random' };
      action = {
        kind: 'breakouts',
        rooms,
        grouping,
        duration_ms: keep('boMinutes') ? ob.duration_ms : Math.round((Number(f.boMinutes) || 1) * MIN),
        warning_ms: keep('warning') ? ob.warning_ms : Math.round(Math.max(Number(f.warning) || 0, 0) * MIN),
      };
      break;
    }
    case 'polls': action = { kind: 'polls', polls: f.polls }; break;
    case 'hearing': action = { kind: 'hearing', hearing: f.hearing }; break;
    default: action = { kind: f.kind };
  }
  return {
    title: f.title.trim(),
    planned_start: kept('date', 'start') ? orig.planned_start : atDateTime(f.date, f.start),
    planned_ms: kept('minutes') ? orig.planned_ms : Math.round((Number(f.minutes) || 1) * MIN),
    action,
  };
}

/** A breakouts sequence's rooms and grouping, in the form. */
function BreakoutFields({ snap, f, setF, set, id, attrs, errors }) {
  const breakoutRooms = snap.rooms.filter((r) => r.id !== PLENARY);
  const labels = roomLabels(snap, f);
  const people = placeable(snap);
  for (const pid of Object.keys(f.pick)) {
    if (!people.some((p) => p.id === pid)) {
      const p = snap.participants.find((x) => x.id === pid);
      people.push(p || { id: pid, name: pid, roles: [] });
    }
  }
  const toggleRoom = (rid) => (e) => {
    const on = e.currentTarget.checked;
    setF((x) => {
      const chosen = new Set(x.existing);
      if (on) chosen.add(rid);
      else chosen.delete(rid);
      // In the order of the rooms: the i-th manual group goes to the i-th room.
      const ordered = breakoutRooms.map((r) => r.id).filter((r) => chosen.has(r));
      return { ...x, existing: ordered.concat(x.existing.filter((r) => chosen.has(r) && !ordered.includes(r))) };
    });
  };
  return (
    <div class="stack">
      <div class="grid2">
        <label for={`${id}-from`}>{t('runsheet.rooms_from')}</label>
        <select id={`${id}-from`} name="rooms-from" value={f.roomsFrom} onChange={set('roomsFrom')}>
          <option value="count">{t('runsheet.rooms_from.count')}</option>
          <option value="names">{t('runsheet.rooms_from.names')}</option>
          <option value="existing">{t('runsheet.rooms_from.existing')}</option>
        </select>
        {f.roomsFrom === 'count' ? (
          <>
            <label for={`${id}-rooms`}>{t('console.room_count')}</label>
            <Checked id={`${id}-rooms`} error={errors.rooms}><input name="rooms" type="text" inputMode="numeric" class="num" value={f.rooms} onInput={set('rooms')} /></Checked>
          </>
        ) : null}
      </div>
      {f.roomsFrom === 'names' ? (
        <div class="stack">
          <label for={`${id}-names`}>{t('runsheet.room_names')}</label>
          <textarea id={`${id}-names`} name="room-names" rows={3} value={f.roomNames} onInput={set('roomNames')} />
        </div>
      ) : null}
      {f.roomsFrom === 'existing' ? (
        breakoutRooms.length ? (
          <fieldset>
            <legend>{t('runsheet.existing_rooms')}</legend>
            {breakoutRooms.map((r) => (
              <label class="choice" key={r.id}>
                <input type="checkbox" name="room" value={r.id} checked={f.existing.includes(r.id)} onChange={toggleRoom(r.id)} /> {roomName(snap, r.id)}
              </label>
            ))}
          </fieldset>
        ) : <p class="small muted">{t('runsheet.no_rooms')}</p>
      ) : null}
      <div class="grid2">
        <label for={`${id}-method`}>{t('console.method')}</label>
        <select id={`${id}-method`} name="method" value={f.method} onChange={set('method')}>
          <option value="random">{t('console.random')}</option>
          {attrs.length || f.method === 'balanced' ? <option value="balanced">{t('console.balanced')}</option> : null}
          <option value="manual">{t('runsheet.manual')}</option>
        </select>
        {f.method === 'balanced' ? (
          <>
            <label for={`${id}-attr`}>{t('console.attribute')}</label>
            <select id={`${id}-attr`} name="attribute" value={f.attribute} onChange={set('attribute')}>
              {(attrs.includes(f.attribute) || !f.attribute ? attrs : attrs.concat([f.attribute])).map((a) => <option value={a}>{a}</option>)}
            </select>
          </>
        ) : null}
        <label for={`${id}-bo`}>{t('runsheet.breakout_minutes')}</label>
        <Checked id={`${id}-bo`} error={errors.bo}><input name="bo-minutes" type="text" inputMode="numeric" class="num" value={f.boMinutes} onInput={set('boMinutes')} /></Checked>
        <label for={`${id}-warn`}>{t('runsheet.warning_minutes')}</label>
        <Checked id={`${id}-warn`} error={errors.warn}><input name="warning" type="text" inputMode="numeric" class="num" value={f.warning} onInput={set('warning')} /></Checked>
      </div>
      {f.method === 'manual' ? (
        <fieldset class="runsheet-groups" data-testid="manual-groups">
          <legend>{t('runsheet.manual_legend')}</legend>
          {labels.length ? null : <p class="small muted">{t('runsheet.manual_no_rooms')}</p>}
          <div class="grid2">
            {people.map((p) => (
              <Fragment key={p.id}>
                <label for={`${id}-pick-${p.id}`}>{p.name}</label>
                <select
                  id={`${id}-pick-${p.id}`}
                  name={`pick-${p.id}`}
                  data-participant={p.id}
                  value={f.pick[p.id] != null && Number(f.pick[p.id]) < labels.length ? f.pick[p.id] : ''}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setF((x) => {
                      const pick = { ...x.pick };
                      if (v === '') delete pick[p.id];
                      else pick[p.id] = v;
                      return { ...x, pick };
                    });
                  }}
                >
                  <option value="">—</option>
                  {labels.map((l, i) => <option value={String(i)}>{`${i + 1}. ${l}`}</option>)}
                </select>
              </Fragment>
            ))}
          </div>
          <p class="small muted">{t('runsheet.manual_hint')}</p>
        </fieldset>
      ) : null}
    </div>
  );
}

function SequenceForm({ client, editing, onDone }) {
  const snap = client.snap;
  const attrs = attributesOf(snap);
  const seqs = snap.runsheet.sequences;
  const last = seqs[seqs.length - 1];
  const after = last ? plannedEnd(last) : Math.ceil(client.now() / (5 * MIN)) * 5 * MIN;
  // The fields as first shown: what is left as it was is carried over unchanged on edit.
  const [f0, setF0] = useState(() => fieldsOf(editing && editing.spec, after, attrs));
  const [f, setF] = useState(f0);
  const id = useId('rs');
  const [errors, setErrors] = useState({});
  const nErrors = Object.values(errors).filter(Boolean).length;
  // A field typed again loses its error (the others keep theirs until the next try).
  const set = (k) => (e) => {
    const v = e.currentTarget.value;
    setF((x) => ({ ...x, [k]: v }));
    const ek = ERROR_KEY[k] || k;
    if (errors[ek]) setErrors({ ...errors, [ek]: undefined });
  };
  const drafts = snap.polls.filter((p) => p.status === 'draft');
  const hearings = (snap.hearings || []).filter((h) => h.status === 'planned' || (editing && editing.spec.action.hearing === h.id));
  const submit = async (e) => {
    e.preventDefault();
    if (!checkFields(formErrors(f), setErrors, id)) return;
    const spec = specOf(f, f0, editing ? editing.spec : null, snap);
    const ok = await act(client, editing ? { type: 'edit_sequence', sequence: editing.id, spec } : { type: 'add_sequence', spec });
    if (ok) {
      if (!editing) {
        const next = fieldsOf(null, spec.planned_start + spec.planned_ms, attrs);
        setF0(next);
        setF(next);
      }
      if (onDone) onDone();
    }
  };
  return (
    <form class="stack runsheet-form" onSubmit={submit} data-testid="sequence-form" noValidate>
      <h3 class="h-small">{editing ? t('runsheet.edit_title', { title: editing.spec.title }) : t('runsheet.add_title')}</h3>
      {nErrors ? <p class="warn-text" role="alert" data-testid="sequence-errors">{t('form.errors', { n: nErrors })}</p> : null}
      <div class="grid2">
        <label for={`${id}-title`}>{t('runsheet.title')}</label>
        <Checked id={`${id}-title`} error={errors.title}><input name="title" type="text" maxLength={120} value={f.title} onInput={set('title')} /></Checked>
        <label for={`${id}-date`}>{t('runsheet.date')}</label>
        <Checked id={`${id}-date`} error={errors.date} hint={dateInWords(f.date) || t('runsheet.date_format')}><input name="date" type="text" inputMode="numeric" autocomplete="off" value={f.date} onInput={set('date')} /></Checked>
        <label for={`${id}-start`}>{t('runsheet.start')}</label>
        <Checked id={`${id}-start`} error={errors.start}><input name="start" type="text" autocomplete="off" class="num" value={f.start} onInput={set('start')} /></Checked>
        <label for={`${id}-min`}>{t('runsheet.minutes')}</label>
        <Checked id={`${id}-min`} error={errors.min}><input name="minutes" type="text" inputMode="numeric" class="num" value={f.minutes} onInput={set('minutes')} /></Checked>
        <label for={`${id}-kind`}>{t('runsheet.kind')}</label>
        <select id={`${id}-kind`} name="kind" value={f.kind} onChange={set('kind')}>
          {KINDS.map((k) => <option value={k}>{t(`runsheet.kind.${k}`)}</option>)}
        </select>
      </div>
      {f.kind === 'breakouts' ? <BreakoutFields snap={snap} f={f} setF={setF} set={set} id={id} attrs={attrs} errors={errors} /> : null}
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
          <Checked id={`${id}-sp`} error={errors.sp}>
            <select value={f.hearing} onChange={set('hearing')}>
              <option value="">—</option>
              {hearings.map((h) => <option value={h.id}>{h.title}</option>)}
            </select>
          </Checked>
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
  const path = `/api/conventions/${encodeURIComponent(snap.convention.id)}/runsheet`;
  return format ? `${path}?format=${format}` : path;
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
            <ExtendForm client={client} label={t('console.extend_by')} button={t('runsheet.extend')} command={(by) => ({ type: 'extend_sequence', by_ms: by })} />
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
                    <ActButton client={client} class="btn small" command={{ type: 'skip_sequence', sequence: s.id }} label={t('runsheet.skip_label', { title: s.spec.title })} confirm={t('runsheet.skip_confirm', { title: s.spec.title })}>{t('runsheet.skip')}</ActButton>
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
        <ExportButton client={client} small path={sheetPath(exportPath(snap))} filename={`runsheet-${snap.convention.id}.xlsx`}>{t('runsheet.export_xlsx')}</ExportButton>
        <ExportButton client={client} small path={exportPath(snap, 'csv')} filename={`runsheet-${snap.convention.id}.csv`}>{t('runsheet.export_csv')}</ExportButton>
        <ExportButton client={client} small path={exportPath(snap, 'json')} filename={`runsheet-${snap.convention.id}.json`}>{t('runsheet.export_json')}</ExportButton>
      </div>
    </div>
  );
}
