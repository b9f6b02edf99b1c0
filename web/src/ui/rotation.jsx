// Expert rotations ("speed dating"): the plan and the schedule for all; each citizen's path
// and next step; the expert's room and questions; the facilitator's set-up and live control
// (start, pause, extend, skip, stop, mark an expert absent, add a latecomer).

import { useState } from 'preact/hooks';
import { t } from '../i18n.js';
import { PLENARY, person, groupOf, roomInRound, placedRound } from '../reduce.js';
import { Countdown, act, ActButton, Section, nameOf, roomName, useId, spoken, clock, minutes, NumberField, checkFields, ExtendForm, useSending, SendButton } from './common.jsx';
import { attributesOf } from './console.jsx';
import { Icon } from './icons.jsx';
import { ExportButton, sheetPath } from './download.jsx';

function phaseWords(client, phase) {
  switch (phase.state) {
    case 'planned': return t('rot.phase.planned');
    case 'round': return t('rot.phase.round', { n: phase.round + 1 });
    // An expert stays in their room: the groups are the ones who move.
    case 'transition': return t(client.snap.rotation && client.snap.rotation.plan.experts.includes(client.you.id) ? 'rot.phase.transition_expert' : 'rot.phase.transition', { n: phase.next + 1 });
    case 'paused': return t('rot.phase.paused', { left: clock(phase.remaining_ms) });
    case 'finished': return phase.stopped ? t('rot.phase.stopped') : t('rot.phase.finished');
    default: return phase.state;
  }
}

export function RotationStatus({ client }) {
  const rot = client.snap.rotation;
  if (!rot) return null;
  const ph = rot.phase;
  return (
    <p class="status-line">
      <strong>{phaseWords(client, ph)}</strong>{' '}
      {ph.state === 'round' ? <Countdown client={client} deadline={ph.ends_at} warnAt={ph.warn_at} label={t('rot.round_ends')} /> : null}
      {ph.state === 'transition' ? <Countdown client={client} deadline={ph.starts_at} label={t('rot.next_starts')} /> : null}
    </p>
  );
}

function expertName(snap, rot, e) {
  return nameOf(snap, rot.plan.experts[e]);
}

/** A citizen's path through the rounds, and where they go next. */
function MyPath({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  const me = client.you.id;
  const g = groupOf(rot, me);
  const expertIdx = rot.plan.experts.indexOf(me);
  const current = placedRound(rot.phase);
  if (g < 0 && expertIdx < 0) return <p class="muted">{t('rot.not_in')}</p>;
  const rounds = rot.plan.schedule.map((_, r) => r);
  if (expertIdx >= 0) {
    return (
      <div>
        <p>{t('rot.your_room', { room: roomName(snap, rot.plan.rooms[expertIdx]) })}</p>
        <ol class="path">
          {rounds.map((r) => {
            const gi = rot.plan.schedule[r].findIndex((e) => e === expertIdx);
            return (
              <li key={r} class={r === current ? 'current' : ''} aria-current={r === current ? 'step' : undefined}>
                <strong>{t('rot.round', { n: r + 1 })}</strong> · {gi >= 0 ? t('rot.group', { n: gi + 1 }) : t('rot.no_group')}
                {r === current ? <span class="badge"> {t('rot.now')}</span> : null}
              </li>
            );
          })}
        </ol>
      </div>
    );
  }
  let next = null;
  // Alone in one's group (the others absent, or a group of one): no « avec » followed by nothing.
  const others = rot.plan.groups[g].filter((p) => p !== me);
  const from = current === null ? (rot.phase.state === 'planned' ? 0 : null) : current + (rot.phase.state === 'transition' ? 0 : 1);
  if (from !== null && from < rounds.length) next = from;
  return (
    <div>
      <p data-testid="my-group">{t('rot.your_group', { n: g + 1 })} · {others.length ? t('rot.members', { names: others.map((p) => nameOf(snap, p)).join(', ') }) : t('rot.alone')}</p>
      {next !== null ? (
        <p class="next-step"><Icon name="arrow" /> {t('rot.next', { n: next + 1, where: whereIn(snap, rot, me, next) })}</p>
      ) : null}
      <ol class="path">
        {rounds.map((r) => {
          const e = rot.plan.schedule[r][g];
          return (
            <li key={r} class={r === current ? 'current' : ''} aria-current={r === current ? 'step' : undefined}>
              <strong>{t('rot.round', { n: r + 1 })}</strong> · {e === null || e === undefined ? t('rot.rest', { room: roomName(snap, rot.plan.rest_room) }) : <>{expertName(snap, rot, e)}{rot.absent.includes(rot.plan.experts[e]) ? ` (${t('rot.absent')})` : ''}</>}
              {r === current ? <span class="badge"> {t('rot.now')}</span> : null}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

function whereIn(snap, rot, me, r) {
  const room = roomInRound(rot, me, r);
  const g = groupOf(rot, me);
  const e = rot.plan.schedule[r] ? rot.plan.schedule[r][g] : null;
  if (e === null || e === undefined) return t('rot.rest', { room: roomName(snap, room) });
  const name = expertName(snap, rot, e);
  const rn = roomName(snap, room);
  return rn.includes(name) ? t('rot.with_expert', { expert: name }) : t('rot.with', { expert: name, room: rn });
}

function Schedule({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  const current = placedRound(rot.phase);
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={t('common.table')}>
      <table class="schedule">
        <caption class="sr-only">{t('rot.schedule')}</caption>
        <thead>
          <tr><th scope="col">{t('rot.round_col')}</th>{rot.plan.groups.map((_, g) => <th scope="col">{t('rot.group', { n: g + 1 })}</th>)}</tr>
        </thead>
        <tbody>
          {rot.plan.schedule.map((row, r) => (
            <tr key={r} class={r === current ? 'current' : ''}>
              <th scope="row">{r + 1}{r === current ? ` (${t('rot.now')})` : ''}</th>
              {row.map((e) => <td>{e === null || e === undefined ? <span class="muted">{t('rot.rest_short')}</span> : expertName(snap, rot, e)}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Groups({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  return (
    <ul class="groups">
      {rot.plan.groups.map((g, i) => (
        <li key={i}><strong>{t('rot.group', { n: i + 1 })}</strong> ({g.length}) : {g.map((p) => nameOf(snap, p)).join(', ')}</li>
      ))}
    </ul>
  );
}


/** What is wrong with a rotation's set-up, field by field, in words. */
export function planErrors({ roundMin, transMin, warnMin, groups, rounds }) {
  const out = {};
  const max = 12 * 60;
  const round = minutes(roundMin);
  if (Number.isNaN(round) || round <= 0 || round > max) out.roundMin = t('rot.err_round', { max });
  const trans = minutes(transMin);
  if (Number.isNaN(trans) || trans > max) out.transMin = t('rot.err_transition', { max });
  const warn = minutes(warnMin);
  if (Number.isNaN(warn)) out.warnMin = t('rot.err_warning_number');
  else if (!out.roundMin && warn >= round) out.warnMin = t('rot.err_warning_round');
  const whole = (v) => String(v).trim() === '' || /^[1-9]\d{0,3}$/.test(String(v).trim());
  if (!whole(groups)) out.groups = t('rot.err_whole');
  if (!whole(rounds)) out.rounds = t('rot.err_whole');
  return out;
}

function PlanForm({ client }) {
  const snap = client.snap;
  const experts = snap.participants.filter((p) => p.roles.includes('expert'));
  const attrs = attributesOf(snap);
  const [chosen, setChosen] = useState(experts.map((e) => e.id));
  const [method, setMethod] = useState(attrs.length ? 'balanced' : 'random');
  const [attribute, setAttribute] = useState(attrs.includes('commune') ? 'commune' : attrs[0] || '');
  const [groups, setGroups] = useState('');
  const [roundMin, setRoundMin] = useState('15');
  const [transMin, setTransMin] = useState('1');
  const [warnMin, setWarnMin] = useState('2');
  const [rounds, setRounds] = useState('');
  const [breakRoom, setBreakRoom] = useState(false);
  const [onlyPresent, setOnlyPresent] = useState(true);
  const id = useId('rot');
  const [errors, setErrors] = useState({});
  const submit = (e) => {
    e.preventDefault();
    // Checked here, in words next to each field (not by the browser's own bubbles, which
    // vanish, and speak the browser's language).
    if (!checkFields(planErrors({ roundMin, transMin, warnMin, groups, rounds }), setErrors, id)) return;
    const cmd = {
      type: 'plan_rotation', experts: chosen, method,
      round_ms: Math.round(minutes(roundMin) * 60000), transition_ms: Math.round(minutes(transMin) * 60000),
      warning_ms: Math.round(minutes(warnMin) * 60000), break_room: breakRoom, only_present: onlyPresent,
    };
    if (method === 'balanced') cmd.attribute = attribute;
    if (groups) cmd.group_count = Number(groups);
    if (rounds) cmd.rounds = Number(rounds);
    act(client, cmd);
  };
  const field = (key, label, value, set, extra = {}) => (
    <NumberField
      id={`${id}-${key}`}
      label={label}
      value={value}
      onValue={(v) => { set(v); if (errors[key]) setErrors({ ...errors, [key]: undefined }); }}
      error={errors[key]}
      {...extra}
    />
  );
  const nErrors = Object.values(errors).filter(Boolean).length;
  return (
    <form class="stack" onSubmit={submit} noValidate>
      {nErrors ? <p class="warn-text" role="alert" data-testid="plan-errors">{t('form.errors', { n: nErrors })}</p> : null}
      <fieldset class="inline-fieldset">
        <legend>{t('rot.experts')}</legend>
        {experts.map((e) => (
          <label class="choice" key={e.id}><input type="checkbox" checked={chosen.includes(e.id)} onChange={(ev) => setChosen(ev.currentTarget.checked ? chosen.concat(e.id) : chosen.filter((x) => x !== e.id))} /> {e.name}</label>
        ))}
      </fieldset>
      <fieldset class="inline-fieldset">
        <legend>{t('rot.grouping')}</legend>
        <label class="choice"><input type="radio" name={`${id}-m`} checked={method === 'random'} onChange={() => setMethod('random')} /> {t('console.random')}</label>
        <label class="choice"><input type="radio" name={`${id}-m`} checked={method === 'balanced'} disabled={!attrs.length} onChange={() => setMethod('balanced')} /> {t('console.balanced')}</label>
        {method === 'balanced' ? (
          <span class="row">
            <label for={`${id}-attr`}>{t('console.attribute')}</label>
            <select id={`${id}-attr`} value={attribute} onChange={(e) => setAttribute(e.currentTarget.value)}>{attrs.map((a) => <option value={a}>{t(`attr.${a}`) === `attr.${a}` ? a : t(`attr.${a}`)}</option>)}</select>
          </span>
        ) : null}
      </fieldset>
      <div class="grid2">
        {field('groups', t('rot.group_count'), groups, setGroups, { inputMode: 'numeric', placeholder: String(chosen.length) })}
        {field('roundMin', t('rot.round_min'), roundMin, setRoundMin)}
        {field('transMin', t('rot.transition_min'), transMin, setTransMin)}
        {field('warnMin', t('console.warning'), warnMin, setWarnMin)}
        {field('rounds', t('rot.rounds'), rounds, setRounds, { inputMode: 'numeric', placeholder: t('rot.rounds_auto') })}
      </div>
      <label class="choice"><input type="checkbox" checked={breakRoom} onChange={(e) => setBreakRoom(e.currentTarget.checked)} /> {t('rot.break_room')}</label>
      <label class="choice"><input type="checkbox" checked={onlyPresent} onChange={(e) => setOnlyPresent(e.currentTarget.checked)} /> {t('console.only_present')}</label>
      <button type="submit" class="btn primary" disabled={!chosen.length}>{t('rot.plan')}</button>
    </form>
  );
}

function Controls({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  const ph = rot.phase;
  const [late, setLate] = useState('');
  const [group, setGroup] = useState('');
  const id = useId('rc');
  const inGroups = new Set(rot.plan.groups.flat());
  const latecomers = snap.participants.filter((p) => p.roles.includes('citizen') && !inGroups.has(p.id) && !rot.plan.experts.includes(p.id));
  const running = ['round', 'transition', 'paused'].includes(ph.state);
  return (
    <div class="stack">
      <div class="row wrap">
        {ph.state === 'planned' ? <ActButton client={client} class="btn primary" command={{ type: 'start_rotation' }}>{t('rot.start')}</ActButton> : null}
        {ph.state === 'round' || ph.state === 'transition' ? <ActButton client={client} class="btn" command={{ type: 'pause_rotation' }}>{t('rot.pause')}</ActButton> : null}
        {ph.state === 'paused' ? <ActButton client={client} class="btn primary" command={{ type: 'resume_rotation' }}>{t('rot.resume')}</ActButton> : null}
        {ph.state === 'round' || ph.state === 'transition' ? <ActButton client={client} class="btn" command={{ type: 'skip_round' }}>{t('rot.skip')}</ActButton> : null}
        {running ? <ActButton client={client} class="btn danger" command={{ type: 'stop_rotation' }} confirm={t('rot.stop_confirm')}>{t('rot.stop')}</ActButton> : null}
      </div>
      {ph.state === 'round' ? (
        <ExtendForm client={client} label={t('rot.extend_by')} button={t('console.extend')} command={(by) => ({ type: 'extend_round', by_ms: by })} />
      ) : null}
      {ph.state !== 'finished' ? (
        <div>
          <h3 class="h-small">{t('rot.experts')}</h3>
          <ul class="plain">
            {rot.plan.experts.map((e, i) => (
              <li key={e} class="row wrap">
                <span class="grow">{nameOf(snap, e)}{roomName(snap, rot.plan.rooms[i]).includes(nameOf(snap, e)) ? '' : ` · ${roomName(snap, rot.plan.rooms[i])}`}</span>
                {rot.absent.includes(e) ? <span class="badge">{t('rot.absent')}</span> : (
                  <ActButton client={client} class="btn small" command={{ type: 'mark_expert_absent', expert: e }} confirm={t('rot.absent_confirm', { name: nameOf(snap, e) })}>{t('rot.mark_absent')}</ActButton>
                )}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      {ph.state !== 'finished' && latecomers.length ? (
        <form class="row wrap" onSubmit={(e) => { e.preventDefault(); if (late) act(client, { type: 'add_to_group', participant: late, ...(group === '' ? {} : { group: Number(group) }) }).then((ok) => ok && setLate('')); }}>
          <label for={`${id}-late`}>{t('rot.latecomer')}</label>
          <select id={`${id}-late`} value={late} onChange={(e) => setLate(e.currentTarget.value)}>
            <option value="">—</option>
            {latecomers.map((p) => <option value={p.id}>{p.name}</option>)}
          </select>
          <label for={`${id}-grp`}>{t('rot.to_group')}</label>
          <select id={`${id}-grp`} value={group} onChange={(e) => setGroup(e.currentTarget.value)}>
            <option value="">{t('rot.smallest')}</option>
            {rot.plan.groups.map((_, i) => <option value={String(i)}>{t('rot.group', { n: i + 1 })}</option>)}
          </select>
          <button type="submit" class="btn" disabled={!late}>{t('rot.add')}</button>
        </form>
      ) : null}
    </div>
  );
}

/** Questions in the expert rooms: ask where you are; the expert (or a facilitator) answers. */
export function Questions({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  const roles = client.you.roles;
  const staff = roles.includes('facilitator') || roles.includes('guarantor');
  const inExpertRoom = rot.plan.rooms.includes(here);
  const myExpertRoom = rot.plan.experts.includes(client.you.id) ? rot.plan.rooms[rot.plan.experts.indexOf(client.you.id)] : null;
  const [text, setText] = useState('');
  const [answers, setAnswers] = useState({});
  const id = useId('q');
  // One question at a time: while it waits (offline, say), the field is locked with it and
  // the button says it waits, so a second tap does not ask it twice.
  const [busy, send] = useSending(client, 'ask_question');
  const list = rot.questions.filter((q) => staff || q.room === here || q.room === myExpertRoom);
  const canAnswer = (q) => roles.includes('facilitator') || q.room === myExpertRoom;
  // The room's own expert answers; they are not offered to question themselves.
  const canAsk = inExpertRoom && here !== myExpertRoom && !roles.includes('guarantor') && rot.phase.state !== 'finished';
  // The expert hears (and sees at the top) how many questions wait for them: a question
  // arrived below the chat without a sound, on a phone out of view.
  const waiting = myExpertRoom ? list.filter((q) => q.room === myExpertRoom && !q.answer).length : 0;
  return (
    <div class="stack">
      {myExpertRoom ? <p class={waiting ? 'notice' : 'sr-only'} role="status" data-testid="questions-waiting">{waiting ? t('rot.waiting', { n: waiting }) : ''}</p> : null}
      {canAsk ? (
        <form class="stack" onSubmit={(e) => { e.preventDefault(); if (text.trim() && !busy) send({ type: 'ask_question', text: text.trim() }).then((ok) => ok && setText('')); }}>
          <label for={id}>{t('rot.ask_label')}</label>
          <div class="row wrap ask-row">
            <input id={id} type="text" maxLength={1000} value={text} readOnly={busy} onInput={(e) => setText(e.currentTarget.value)} />
            <SendButton busy={busy} data-testid="rot-ask">{t('rot.ask')}</SendButton>
          </div>
        </form>
      ) : null}
      {list.length === 0 ? <p class="muted">{t('rot.no_questions')}</p> : (
        <ul class="questions">
          {list.slice().reverse().map((q) => (
            <li key={q.id}>
              <p><strong>{nameOf(snap, q.from)}</strong>{staff ? ` · ${roomName(snap, q.room)}` : ''} : {q.text}</p>
              {q.answer ? <p class="answer">↳ {q.answer}</p> : canAnswer(q) ? (
                <form class="row" onSubmit={(e) => { e.preventDefault(); const a = (answers[q.id] || '').trim(); if (a) act(client, { type: 'answer_question', question: q.id, text: a }); }}>
                  <label for={`${id}-a${q.id}`} class="sr-only">{t('rot.answer_label')}</label>
                  <input id={`${id}-a${q.id}`} type="text" value={answers[q.id] || ''} onInput={(e) => setAnswers({ ...answers, [q.id]: e.currentTarget.value })} />
                  <button type="submit" class="btn small">{t('rot.answer')}</button>
                </form>
              ) : <p class="small muted">{t('rot.unanswered')}</p>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function RotationView({ client }) {
  const snap = client.snap;
  const rot = snap.rotation;
  const facilitator = client.you.roles.includes('facilitator');
  const placed = rot && (groupOf(rot, client.you.id) >= 0 || rot.plan.experts.includes(client.you.id));
  const cid = encodeURIComponent(snap.convention.id);
  if (!rot) {
    return (
      <div class="rotation-view">
        {facilitator ? (
          <Section id="rot-plan" title={t('rot.setup')}><PlanForm client={client} /></Section>
        ) : <p class="muted">{t('rot.none')}</p>}
      </div>
    );
  }
  return (
    <div class="rotation-view">
      <div class="col">
        <Section id="rot-status" title={t('rot.title')}>
          <RotationStatus client={client} />
          <p class="small muted">{t('rot.summary', { rounds: t('rot.n_rounds', { n: rot.plan.schedule.length }), round: spoken(rot.plan.round_ms), groups: t('rot.n_groups', { n: rot.plan.groups.length }), experts: t('rot.n_experts', { n: rot.plan.experts.length }) })}</p>
          {facilitator ? <Controls client={client} /> : null}
        </Section>
        {placed ? <Section id="rot-path" title={t('rot.path')}><MyPath client={client} /></Section> : null}
        <Section id="rot-questions" title={t('rot.questions')}><Questions client={client} /></Section>
      </div>
      <div class="col">
        <Section id="rot-schedule" title={t('rot.schedule')}>
          <Schedule client={client} />
          <Groups client={client} />
          {facilitator || client.you.roles.includes('guarantor') ? <p class="row wrap"><ExportButton client={client} path={sheetPath(`/api/conventions/${cid}/rotation`)} filename={`rotation-${snap.convention.id}.xlsx`}>{t('rot.export_xlsx')}</ExportButton><ExportButton client={client} path={`/api/conventions/${cid}/rotation?format=csv`} filename={`rotation-${snap.convention.id}.csv`}>{t('rot.export_csv')}</ExportButton><ExportButton client={client} path={`/api/conventions/${cid}/rotation`} filename={`rotation-${snap.convention.id}.json`}>{t('rot.export')}</ExportButton></p> : null}
        </Section>
        {facilitator && rot.phase.state === 'finished' ? <Section id="rot-plan" title={t('rot.setup_new')}><PlanForm client={client} /></Section> : null}
      </div>
    </div>
  );
}
