// The facilitator's console: every room and its occupants live; breakout rooms (create, fill
// at random / balanced / by hand with click-to-move or drag, open, extend, broadcast, close);
// the speaking queue of any room; floor-time equity; pending calls; the public poll.

import { useState } from 'preact/hooks';
import { t, fmtPercent } from '../i18n.js';
import { PLENARY, room as roomOf, person } from '../reduce.js';
import { Countdown, act, ActButton, Section, Presence, nameOf, roomName, roleWords, useId, spoken, timeOfDay, minutes, NumberField, checkFields, ExtendForm, ShareBar } from './common.jsx';
import { FloorCard, FloorManager } from './room.jsx';
import { Icon } from './icons.jsx';
// Run sheet.
import { RunSheetPanel } from './runsheet.jsx';
import { ModerationPanel, ModerationLog } from './moderation.jsx';
// Public polls (issue #16).
import { PublicPollPanel } from './public-poll.jsx';
import { ExportButton, sheetPath } from './download.jsx';

/** Roster attributes present in the roster (commune, age, genre…). */
export function attributesOf(snap) {
  const s = new Set();
  for (const p of snap.participants) for (const k of Object.keys(p.attributes || {})) s.add(k);
  return [...s].sort();
}

function attrLabel(k) {
  const key = `attr.${k}`;
  const v = t(key);
  return v === key ? k : v;
}

function BreakoutControls({ client }) {
  const snap = client.snap;
  const open = !!snap.breakouts;
  const breakoutRooms = snap.rooms.filter((r) => r.id !== PLENARY);
  // What a draw fills (the server's rule): not the expert rotation's rooms.
  const rotationRooms = snap.rotation ? [...snap.rotation.plan.rooms, snap.rotation.plan.rest_room] : [];
  const drawRooms = breakoutRooms.filter((r) => !rotationRooms.includes(r.id));
  const attrs = attributesOf(snap);
  const [count, setCount] = useState('4');
  const [names, setNames] = useState('');
  const [method, setMethod] = useState(attrs.length ? 'balanced' : 'random');
  const [attribute, setAttribute] = useState(attrs.includes('commune') ? 'commune' : attrs[0] || '');
  const [onlyPresent, setOnlyPresent] = useState(true);
  const [duration, setDuration] = useState('20');
  const [warning, setWarning] = useState('2');
  const [text, setText] = useState('');
  const id = useId('bo');
  const assigned = snap.participants.filter((p) => p.assigned).length;
  // Checked in the page, field by field (the server checks again).
  const [errors, setErrors] = useState({});
  const max = 12 * 60;
  const inMinutes = (v, zero) => {
    const m = minutes(v);
    return !Number.isNaN(m) && (zero ? m >= 0 : m > 0) && m <= max;
  };
  const fieldError = (key) => errors[key];
  const onValue = (key, set) => (v) => {
    set(v);
    if (errors[key]) setErrors({ ...errors, [key]: undefined });
  };

  const create = (e) => {
    e.preventDefault();
    const list = names.split('\n').map((x) => x.trim()).filter(Boolean);
    const n = String(count).trim();
    const found = {};
    if (!list.length && !(/^\d{1,3}$/.test(n) && Number(n) >= 1 && Number(n) <= 200)) found.count = t('console.err_count');
    if (!checkFields(found, setErrors, id)) return;
    act(client, list.length ? { type: 'create_rooms', names: list } : { type: 'create_rooms', count: Number(n) }).then((ok) => ok && setNames(''));
  };
  const assign = (e) => {
    e.preventDefault();
    const cmd = method === 'balanced' ? { type: 'assign_rooms', method: 'balanced', attribute, only_present: onlyPresent } : { type: 'assign_rooms', method: 'random', only_present: onlyPresent };
    act(client, cmd);
  };
  const openRooms = (e) => {
    e.preventDefault();
    const found = {};
    if (!inMinutes(duration)) found.dur = t('console.err_minutes', { max });
    if (!inMinutes(warning, true)) found.warn = t('console.err_warning_number');
    else if (!found.dur && minutes(warning) >= minutes(duration)) found.warn = t('console.err_warning');
    if (!checkFields(found, setErrors, id)) return;
    act(client, { type: 'open_breakouts', duration_ms: Math.round(minutes(duration) * 60000), warning_ms: Math.round(minutes(warning) * 60000) });
  };
  const broadcast = (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    act(client, { type: 'broadcast', text: text.trim() }).then((ok) => ok && setText(''));
  };
  return (
    <div class="breakout-controls">
      {open ? (
        <div class="stack">
          <p class="status-line"><strong>{t('console.open')}</strong> <Countdown client={client} deadline={snap.breakouts.ends_at} warnAt={snap.breakouts.warn_at} label={t('breakouts.ends_in')} /></p>
          <ExtendForm client={client} label={t('console.extend_by')} button={t('console.extend')} command={(by) => ({ type: 'extend_breakouts', by_ms: by })} />
          <ActButton client={client} class="btn danger" command={{ type: 'close_breakouts' }} confirm={t('console.close_confirm')}>{t('console.close')}</ActButton>
        </div>
      ) : (
        <div class="steps">
          <form class="step" onSubmit={create} noValidate>
            <h3 class="h-small">1. {t('console.step_create')}</h3>
            <div class="row wrap">
              <NumberField id={`${id}-count`} label={t('console.room_count')} value={count} onValue={onValue('count', setCount)} error={fieldError('count')} inputMode="numeric" />
              <button type="submit" class="btn">{t('console.create')}</button>
            </div>
            <details>
              <summary>{t('console.by_names')}</summary>
              <label for={`${id}-names`}>{t('console.names')}</label>
              <textarea id={`${id}-names`} rows={3} value={names} onInput={(e) => setNames(e.currentTarget.value)} />
            </details>
            {breakoutRooms.length ? (
              <ActButton client={client} class="btn small danger" command={{ type: 'clear_rooms' }} confirm={t('console.clear_confirm')}>{t('console.clear')}</ActButton>
            ) : null}
          </form>
          <form class="step" onSubmit={assign}>
            <h3 class="h-small">2. {t('console.step_fill')}</h3>
            <fieldset class="inline-fieldset">
              <legend class="sr-only">{t('console.method')}</legend>
              <label class="choice"><input type="radio" name={`${id}-m`} checked={method === 'random'} onChange={() => setMethod('random')} /> {t('console.random')}</label>
              <label class="choice"><input type="radio" name={`${id}-m`} checked={method === 'balanced'} disabled={!attrs.length} onChange={() => setMethod('balanced')} /> {t('console.balanced')}</label>
            </fieldset>
            {method === 'balanced' ? (
              <div class="row wrap">
                <label for={`${id}-attr`}>{t('console.attribute')}</label>
                <select id={`${id}-attr`} value={attribute} onChange={(e) => setAttribute(e.currentTarget.value)}>
                  {attrs.map((a) => <option value={a}>{attrLabel(a)}</option>)}
                </select>
              </div>
            ) : null}
            <label class="choice"><input type="checkbox" checked={onlyPresent} onChange={(e) => setOnlyPresent(e.currentTarget.checked)} /> {t('console.only_present')}</label>
            <button type="submit" class="btn" disabled={!drawRooms.length}>{t('console.assign')}</button>
            {drawRooms.length < breakoutRooms.length ? (
              <p class="small" data-testid="draw-rooms-hint">{t(drawRooms.length ? 'console.draw_not_rotation' : 'console.draw_no_rooms')}</p>
            ) : null}
            <p class="small muted">{t('console.by_hand_hint')}</p>
          </form>
          <form class="step" onSubmit={openRooms} noValidate>
            <h3 class="h-small">3. {t('console.step_open')}</h3>
            <div class="grid2">
              <NumberField id={`${id}-dur`} label={t('console.duration')} value={duration} onValue={onValue('dur', setDuration)} error={fieldError('dur')} />
              <NumberField id={`${id}-warn`} label={t('console.warning')} value={warning} onValue={onValue('warn', setWarning)} error={fieldError('warn')} />
            </div>
            <button type="submit" class="btn primary" disabled={!assigned}>{t('console.open_rooms', { n: assigned })}</button>
          </form>
        </div>
      )}
      <form class="broadcast stack" onSubmit={broadcast}>
        <label for={`${id}-bc`}>{t('console.broadcast')}</label>
        <div class="row">
          <input id={`${id}-bc`} type="text" maxLength={1000} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <button type="submit" class="btn">{t('console.send_broadcast')}</button>
        </div>
      </form>
    </div>
  );
}

/** The board of rooms: people as chips to click-and-place or drag. */
function RoomsBoard({ client, onPick }) {
  const snap = client.snap;
  const open = !!snap.breakouts;
  const [selected, setSelected] = useState(null);
  const [over, setOver] = useState(null);
  // Citizens first, then the others (facilitators, experts, rapporteurs), by name.
  const rank = (p) => (p.roles.includes('citizen') ? 0 : 1);
  const people = snap.participants
    .filter((p) => !p.roles.includes('guarantor'))
    .sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
  // Open: where people are. Closed: the plan (assignments) for the next opening.
  const columns = open
    ? snap.rooms.map((r) => ({ id: r.id, people: people.filter((p) => p.room === r.id) }))
    : [{ id: null, people: people.filter((p) => !p.assigned) }].concat(
        snap.rooms.filter((r) => r.id !== PLENARY).map((r) => ({ id: r.id, people: people.filter((p) => p.assigned === r.id) })),
      );
  const place = async (pid, target) => {
    setSelected(null);
    const p = person(snap, pid);
    if (!p) return;
    if (open) {
      if (p.room === target || target === null) return;
      await act(client, { type: 'move_participant', participant: pid, room: target });
    } else {
      if (p.assigned === target) return;
      const assignments = snap.participants
        .filter((x) => x.assigned && x.id !== pid)
        .map((x) => ({ participant: x.id, room: x.assigned }));
      if (target) assignments.push({ participant: pid, room: target });
      await act(client, { type: 'assign_rooms', method: 'manual', assignments });
    }
  };
  const sel = selected && person(snap, selected);
  const myRoom = person(snap, client.you.id) ? person(snap, client.you.id).room : PLENARY;
  return (
    <div class="board-wrap">
      {sel ? (
        <p class="notice" role="status">{t('board.selected', { name: sel.name })} <button type="button" class="btn small" onClick={() => setSelected(null)}>{t('common.cancel')}</button></p>
      ) : <p class="small muted">{open ? t('board.hint_open') : t('board.hint_closed')}</p>}
      <div class="board">
        {columns.map((col) => {
          const r = col.id ? roomOf(snap, col.id) : null;
          const inside = r && r.inside;
          const title = col.id === null ? t('board.unassigned') : roomName(snap, col.id);
          const key = col.id || '_none';
          const online = col.people.filter((p) => p.online).length;
          return (
            <section
              key={key}
              class={`board-col${col === columns[0] ? ' first' : ''}${over === key ? ' over' : ''}`}
              aria-label={title}
              data-room={col.id || ''}
              onDragOver={(e) => { e.preventDefault(); setOver(key); }}
              onDragLeave={() => setOver(null)}
              onDrop={(e) => { e.preventDefault(); setOver(null); const pid = e.dataTransfer.getData('text/plain'); if (pid) place(pid, col.id); }}
            >
              <header class="board-col-head">
                <h3 class="h-small">{title} <span class="count" title={t('board.count_words', { n: online, total: col.people.length })} data-testid="board-count"><span aria-hidden="true">{t('board.count', { n: online, total: col.people.length })}</span><span class="sr-only">{t('board.count_words', { n: online, total: col.people.length })}</span></span></h3>
                {inside ? (
                  <p class="small muted">
                    {inside.floor ? <><Icon name="mic" size={14} /> {nameOf(snap, inside.floor.participant)} · </> : null}
                    {t('board.hands', { n: inside.queue.length })}
                    {r.observers ? <> · <Icon name="eye" size={14} /> {r.observers}</> : null}
                  </p>
                ) : null}
                <div class="row wrap">
                  {sel ? (
                    <button type="button" class="btn small primary" onClick={() => place(sel.id, col.id)}>{open ? t('board.move_here') : t('board.assign_here')}</button>
                  ) : null}
                  {col.id && onPick ? <button type="button" class="btn small" onClick={() => onPick(col.id)}>{t('board.speaking')}</button> : null}
                  {col.id && myRoom !== col.id ? <ActButton client={client} class="btn small" command={{ type: 'visit', room: col.id }} label={t('board.visit_room', { room: title })}>{t('board.visit')}</ActButton> : null}
                </div>
              </header>
              <ul class="chips">
                {col.people.map((p) => (
                  <li key={p.id}>
                    <button
                      type="button"
                      class={`chip${selected === p.id ? ' selected' : ''}${p.online ? '' : ' offline'}`}
                      aria-pressed={selected === p.id ? 'true' : 'false'}
                      draggable={true}
                      data-pid={p.id}
                      onDragStart={(e) => { e.dataTransfer.setData('text/plain', p.id); e.dataTransfer.effectAllowed = 'move'; }}
                      onClick={() => setSelected(selected === p.id ? null : p.id)}
                      title={Object.values(p.attributes || {}).join(' · ')}
                    >
                      <Presence online={p.online} /> {p.name}
                      {p.roles.some((x) => x !== 'citizen') ? <span class="chip-role"> · {roleWords(p.roles.filter((x) => x !== 'citizen'))}</span> : null}
                      {!open && p.room !== PLENARY ? <span class="chip-role"> · {roomName(snap, p.room)}</span> : null}
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </div>
  );
}

/** The speaking queue of one room, chosen in a list. */
function SpeakingPanel({ client, roomId, setRoomId }) {
  const snap = client.snap;
  const id = useId('sp');
  const r = roomOf(snap, roomId) || roomOf(snap, PLENARY);
  const inside = r.inside;
  return (
    <div class="stack">
      <div class="row wrap">
        <label for={id}>{t('console.room_select')}</label>
        <select id={id} value={r.id} onChange={(e) => setRoomId(e.currentTarget.value)}>
          {snap.rooms.map((x) => <option value={x.id}>{roomName(snap, x.id)}{x.inside && x.inside.queue.length ? ` (${t('board.hands', { n: x.inside.queue.length })})` : ''}</option>)}
        </select>
      </div>
      {inside ? (
        <>
          <FloorCard client={client} inside={inside} roomId={r.id} />
          <FloorManager client={client} roomId={r.id} inside={inside} />
        </>
      ) : null}
    </div>
  );
}

/** Floor time of everyone who spoke, and by roster attribute: who is heard. */
export function EquityView({ client }) {
  const snap = client.snap;
  const [by, setBy] = useState('');
  const id = useId('eq');
  const ft = snap.floor_time || [];
  const time = new Map(ft.map((f) => [f.participant, f.spoken_ms]));
  // Ongoing turns count too, up to now.
  for (const r of snap.rooms) {
    const f = r.inside && r.inside.floor;
    if (f) time.set(f.participant, (time.get(f.participant) || 0) + Math.max(0, client.now() - f.since));
  }
  const floorPath = `/api/conventions/${encodeURIComponent(snap.convention.id)}/floor-time`;
  const people = snap.participants.filter((p) => !p.roles.includes('guarantor'));
  const rows = people.map((p) => ({ p, ms: time.get(p.id) || 0 })).sort((a, b) => b.ms - a.ms);
  const total = rows.reduce((s, x) => s + x.ms, 0);
  const spokeCount = rows.filter((x) => x.ms > 0).length;
  const max = Math.max(1, ...rows.map((x) => x.ms));
  const attrs = attributesOf(snap);
  let groups = null;
  if (by) {
    const m = new Map();
    for (const { p, ms } of rows) {
      if (!p.roles.includes('citizen')) continue;
      const v = (p.attributes || {})[by] || '—';
      const g = m.get(v) || { v, ms: 0, n: 0, spoke: 0 };
      g.ms += ms; g.n += 1; if (ms > 0) g.spoke += 1;
      m.set(v, g);
    }
    groups = [...m.values()].sort((a, b) => b.ms / b.n - a.ms / a.n);
  }
  // Each group's share of the citizens' speaking time beside its share of the citizens: who
  // is heard less than their weight shows at a glance (the bar stops short of the mark).
  const citizens = groups ? groups.reduce((s, g) => s + g.n, 0) : 0;
  const heard = groups ? groups.reduce((s, g) => s + g.ms, 0) : 0;
  return (
    <div class="equity">
      <p>{t('equity.summary', { n: spokeCount, people: rows.length, total: spoken(total) })}</p>
      <p class="row wrap">
        <ExportButton client={client} small path={sheetPath(floorPath)} filename={`floor-time-${snap.convention.id}.xlsx`}>{t('export.floor_xlsx')}</ExportButton>
        <ExportButton client={client} small path={`${floorPath}?format=csv`} filename={`floor-time-${snap.convention.id}.csv`}>{t('export.floor_csv')}</ExportButton>
      </p>
      <div class="row wrap">
        <label for={id}>{t('equity.by')}</label>
        <select id={id} value={by} onChange={(e) => setBy(e.currentTarget.value)}>
          <option value="">{t('equity.by_person')}</option>
          {attrs.map((a) => <option value={a}>{attrLabel(a)}</option>)}
        </select>
      </div>
      {groups ? (
        <>
          <ul class="bars share-bars" tabIndex={0} aria-label={t('equity.by_attr', { attr: attrLabel(by) })}>
            {groups.map((g) => {
              const people = g.n / citizens;
              const time = heard ? g.ms / heard : 0;
              return (
                <li key={g.v} data-group={g.v} data-time-share={heard ? time.toFixed(4) : ''} data-people-share={people.toFixed(4)}>
                  <span class="bar-label">{g.v}</span>
                  <ShareBar value={time} mark={people} judged={heard > 0} />
                  <span class="share-text">{heard ? t('equity.share_of', { time: fmtPercent(time, 0), people: fmtPercent(people, 0) }) : t('equity.share_none', { people: fmtPercent(people, 0) })}</span>
                </li>
              );
            })}
          </ul>
          <p class="small muted equity-legend">{t('equity.legend')}</p>
          <div class="table-wrap" tabIndex={0} role="region" aria-label={t('common.table')}>
            <table>
              <caption class="sr-only">{t('equity.by_attr', { attr: attrLabel(by) })}</caption>
              <thead><tr><th scope="col">{attrLabel(by)}</th><th scope="col">{t('equity.people')}</th><th scope="col">{t('equity.spoke')}</th><th scope="col">{t('equity.total')}</th><th scope="col">{t('equity.avg')}</th></tr></thead>
              <tbody>
                {groups.map((g) => <tr key={g.v}><th scope="row">{g.v}</th><td>{g.n}</td><td>{g.spoke}</td><td>{spoken(g.ms)}</td><td>{spoken(g.ms / g.n)}</td></tr>)}
              </tbody>
            </table>
          </div>
        </>
      ) : (
        <ul class="bars equity-bars" tabIndex={0} aria-label={t('equity.title')}>
          {rows.slice(0, 200).map(({ p, ms }) => (
            <li key={p.id} class={ms === 0 ? 'zero' : ''}>
              <span class="bar-label">{p.name}</span>
              <span class="bar-track" aria-hidden="true"><span class="bar-fill" style={{ width: `${(100 * ms) / max}%` }} /></span>
              <span class="bar-value">{ms ? spoken(ms) : t('equity.never')}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function CallsList({ client, manage }) {
  const snap = client.snap;
  const calls = snap.calls.slice().sort((a, b) => a.id - b.id);
  if (!calls.length) return <p class="muted">{t('calls.none')}</p>;
  return (
    <ul class="calls">
      {calls.map((c) => (
        <li key={c.id} class="call-item">
          <p><strong>{nameOf(snap, c.participant)}</strong> · {roomName(snap, c.room)} · <time>{timeOfDay(c.at)}</time></p>
          {c.message ? <p class="call-msg">« {c.message} »</p> : null}
          {manage ? (
            <div class="row wrap">
              <ActButton client={client} class="btn small primary" command={{ type: 'resolve_call', call: c.id }}>{t('calls.resolve')}</ActButton>
              {person(snap, client.you.id) && person(snap, client.you.id).room !== c.room ? (
                <ActButton client={client} class="btn small" command={{ type: 'visit', room: c.room }}>{t('calls.go')}</ActButton>
              ) : null}
            </div>
          ) : null}
        </li>
      ))}
    </ul>
  );
}

export function ConsoleView({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const [speakRoom, setSpeakRoom] = useState(me ? me.room : PLENARY);
  const pick = (rid) => {
    setSpeakRoom(rid);
    setTimeout(() => {
      const el = document.getElementById('speaking');
      if (el) el.scrollIntoView({ block: 'start' });
    }, 0);
  };
  const callsTitle = snap.calls.length ? t('calls.title_n', { n: snap.calls.length }) : t('calls.title');
  // Pending calls come first on a phone; on a laptop, rooms on the left, the rest on the right.
  return (
    <div class="console">
      {/* Public audience (§24): viewers are a count, never people. */}
      {typeof client.publicViewers === 'number' ? (
        <p class="small muted" data-testid="public-viewers-staff">{t('public.staff_viewers', { n: client.publicViewers })}</p>
      ) : null}
      <Section id="calls" title={callsTitle} class={snap.calls.length ? 'attention' : ''}>
        <CallsList client={client} manage />
      </Section>
      {/* Public polls (issue #16): for the audience of the public page, indicative. */}
      <Section id="public-poll" title={t('ppoll.title')}>
        <PublicPollPanel client={client} />
      </Section>
      {/* Run sheet. */}
      <Section id="runsheet" title={t('runsheet.section')}>
        <RunSheetPanel client={client} />
      </Section>
      <Section id="rooms" title={t('console.rooms')}>
        <BreakoutControls client={client} />
        <RoomsBoard client={client} onPick={pick} />
      </Section>
      <Section id="speaking" title={t('console.speaking')}>
        <SpeakingPanel client={client} roomId={speakRoom} setRoomId={setSpeakRoom} />
      </Section>
      <Section id="equity" title={t('equity.title')}>
        <EquityView client={client} />
      </Section>
      {/* Moderation. */}
      <Section id="moderation" title={t('mod.title')} class={(snap.reports || []).length ? 'attention' : ''}>
        <ModerationPanel client={client} />
        <details class="moderation-log-details">
          <summary>{t('mod.log_title')}</summary>
          <ModerationLog client={client} />
        </details>
      </Section>
      {me && me.room !== PLENARY ? (
        <p class="console-more"><ActButton client={client} class="btn" command={{ type: 'visit', room: PLENARY }}>{t('console.back_plenary')}</ActButton></p>
      ) : null}
    </div>
  );
}
