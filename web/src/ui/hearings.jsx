// Hearings ("auditions"): the open hearing of my room, its questions from the floor ordered by
// support; asking, supporting and withdrawing; the facilitator's preparation, opening and
// closing, moderation (approve, merge, hide, being answered, answered) and exports.

import { useState, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { person, seesEverything } from '../reduce.js';
import { myHearing, follows } from '../hearings.js';
import { act, ActButton, Section, nameOf, roomName, useId, useSending, SendButton } from './common.jsx';
import { ExportButton, sheetPath } from './download.jsx';

/** Longest question (PROTOCOL.md section 22). */
const MAX_QUESTION_CHARS = 1000;

/** Whether this person gets the hearing tab. */
export function hearingTab(client) {
  const roles = client.you.roles;
  if (roles.includes('facilitator')) return true;
  const snap = client.snap;
  if (roles.includes('guarantor')) return (snap.hearings || []).length > 0;
  return !!myHearing(snap, client.you) || (snap.hearings || []).some((h) => h.status === 'open' && h.speaker === client.you.id);
}

function AskForm({ client, h }) {
  const [text, setText] = useState('');
  const [sent, setSent] = useState(false);
  const field = useRef(null);
  const id = useId('hq');
  const left = MAX_QUESTION_CHARS - text.length;
  // One question at a time: while it waits (offline, say), the field is locked with it and
  // the button says it waits, so a second tap does not ask it twice.
  const [busy, send] = useSending(client, 'ask_hearing_question', (c) => c.hearing === h.id);
  const submit = (e) => {
    e.preventDefault();
    const q = text.trim();
    if (!q || busy) return;
    send({ type: 'ask_hearing_question', hearing: h.id, text: q }).then((ok) => {
      if (!ok) return;
      setText('');
      setSent(true);
      // The button is disabled once the field is empty: the focus, which it had, goes back
      // to the field (it fell to the top of the page), ready for another question.
      if (field.current) field.current.focus();
    });
  };
  return (
    <form class="stack" onSubmit={submit} data-testid="hearing-ask">
      <label for={id}>{h.anonymous ? t('hearing.ask_label_anonymous') : t('hearing.ask_label')}</label>
      <textarea id={id} ref={field} rows={3} maxLength={MAX_QUESTION_CHARS} value={text} readOnly={busy} onInput={(e) => { setText(e.currentTarget.value); setSent(false); }} />
      <div class="row">
        <span class="small muted">{t('hearing.chars_left', { n: left })}</span>
        <SendButton busy={busy} disabled={!text.trim()}>{t('hearing.ask')}</SendButton>
      </div>
      <p class="small" role="status" data-testid="hearing-sent">{sent ? (h.moderated ? t('hearing.sent_moderated') : t('hearing.sent')) : ''}</p>
    </form>
  );
}

/** A question's status in words; a merged one names the question it joined by its words
 * (its number is shown nowhere a citizen looks). */
function statusWords(q, h) {
  switch (q.status) {
    case 'pending': return t('hearing.status.pending');
    case 'answering': return t('hearing.status.answering');
    case 'answered': return t('hearing.status.answered');
    case 'hidden': return t('hearing.status.hidden');
    case 'merged': {
      const into = (h.questions || []).find((x) => x.id === q.merged_into);
      return into ? t('hearing.status.merged_text', { text: into.text.length > 60 ? `${into.text.slice(0, 59)}…` : into.text }) : t('hearing.status.merged', { n: q.merged_into });
    }
    default: return null;
  }
}

/** What became of my question when it left my list (merged, hidden), or nothing. */
function outcomeWords(h) {
  const o = h.outcome;
  if (!o) return '';
  if (o.status === 'merged') {
    const into = (h.questions || []).find((x) => x.id === o.into);
    return into
      ? t('hearing.yours_merged_text', { text: into.text.length > 80 ? `${into.text.slice(0, 79)}…` : into.text })
      : t('hearing.yours_merged');
  }
  return t('hearing.yours_hidden');
}

/** A facilitator's controls for one question. */
function Moderate({ client, h, q }) {
  const [into, setInto] = useState('');
  const [reason, setReason] = useState('');
  const id = useId('hm');
  const cmd = (type, extra = {}) => ({ type, hearing: h.id, question: q.id, ...extra });
  const others = h.questions.filter((x) => x.id !== q.id && (x.status === 'open' || x.status === 'answering' || x.status === 'answered' || x.status === 'pending'));
  if (q.status === 'hidden' || q.status === 'merged') return null;
  return (
    <div class="stack moderate">
      <div class="row wrap">
        {q.status === 'pending' ? <ActButton client={client} class="btn small primary" command={cmd('approve_question')}>{t('hearing.approve')}</ActButton> : null}
        {q.status === 'open' ? <ActButton client={client} class="btn small" command={cmd('mark_answering')} data-testid="mark-answering">{t('hearing.mark_answering')}</ActButton> : null}
        {q.status === 'open' || q.status === 'answering' ? <ActButton client={client} class="btn small" command={cmd('mark_answered')} data-testid="mark-answered">{t('hearing.mark_answered')}</ActButton> : null}
      </div>
      <details>
        <summary>{t('hearing.moderate')}</summary>
        {others.length && q.status !== 'answering' ? (
          <form class="row wrap" onSubmit={(e) => { e.preventDefault(); if (into) act(client, cmd('merge_question', { into: Number(into) })).then((ok) => ok && setInto('')); }}>
            <label for={`${id}-into`}>{t('hearing.merge_into')}</label>
            <select id={`${id}-into`} value={into} onChange={(e) => setInto(e.currentTarget.value)} data-testid="merge-into">
              <option value="">—</option>
              {others.map((x) => <option key={x.id} value={String(x.id)}>{`#${x.id} ${x.text.slice(0, 60)}`}</option>)}
            </select>
            <button type="submit" class="btn small" disabled={!into} data-testid="merge">{t('hearing.merge')}</button>
          </form>
        ) : null}
        <form class="row wrap" onSubmit={(e) => { e.preventDefault(); if (reason.trim()) act(client, cmd('hide_question', { reason: reason.trim() })).then((ok) => ok && setReason('')); }}>
          <label for={`${id}-why`}>{t('hearing.hide_reason')}</label>
          <input id={`${id}-why`} type="text" maxLength={300} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
          <button type="submit" class="btn small" disabled={!reason.trim()}>{t('hearing.hide')}</button>
        </form>
      </details>
    </div>
  );
}

function QuestionItem({ client, h, q, canAsk }) {
  const snap = client.snap;
  const facilitator = client.you.roles.includes('facilitator');
  const mine = h.yours.includes(q.id);
  const supported = h.supported.includes(q.id);
  const status = statusWords(q, h);
  const supportable = q.status === 'open' || q.status === 'answering';
  const author = mine ? t('hearing.yours') : q.from ? nameOf(snap, q.from) : t('hearing.anonymous');
  return (
    <li class={`hearing-q status-${q.status}`} data-question-id={q.id} data-status={q.status} aria-current={q.status === 'answering' ? 'true' : undefined}>
      <p class="q-text">{q.text}</p>
      <p class="small muted">
        {author} · <span data-testid="supports">{t('hearing.supports', { n: q.supports })}</span>
        {status ? <> · <strong class="badge">{status}</strong></> : null}
        {q.hidden_reason ? <> · {q.hidden_reason}</> : null}
      </p>
      {canAsk && !mine && (supportable || supported) ? (
        supported ? (
          <ActButton client={client} class="btn small" command={{ type: 'withdraw_support', hearing: h.id, question: q.id }} data-testid="withdraw" aria-pressed="true">{t('hearing.withdraw')}</ActButton>
        ) : (
          <ActButton client={client} class="btn small" command={{ type: 'support_question', hearing: h.id, question: q.id }} data-testid="support">{t('hearing.support')}</ActButton>
        )
      ) : null}
      {facilitator ? <Moderate client={client} h={h} q={q} /> : null}
    </li>
  );
}

/** One hearing that I follow: who speaks, the ask form, the ordered list. */
function Hearing({ client, h }) {
  const snap = client.snap;
  const roles = client.you.roles;
  const here = person(snap, client.you.id);
  const inRoom = here && here.room === h.room;
  const canAsk = inRoom && !roles.includes('guarantor') && !roles.includes('expert') && roles.some((r) => ['citizen', 'facilitator', 'rapporteur'].includes(r));
  const list = h.questions || [];
  const answering = list.find((q) => q.status === 'answering');
  return (
    <Section id={`hearing-${h.id}`} title={t('hearing.title', { title: h.title })}>
      <p>
        {t('hearing.speaker', { name: nameOf(snap, h.speaker) })} · {roomName(snap, h.room)}
        {h.anonymous ? <> · <span class="badge">{t('hearing.anonymous_badge')}</span></> : null}
        {h.moderated ? <> · <span class="badge">{t('hearing.moderated_badge')}</span></> : null}
      </p>
      {answering ? <p class="notice" role="status" data-testid="answering">{t('hearing.now_answering', { text: answering.text })}</p> : null}
      {canAsk ? <AskForm client={client} h={h} /> : null}
      <p class="small" role="status" data-testid="my-question-outcome">{outcomeWords(h)}</p>
      {!inRoom && !seesEverything(roles) ? <p class="muted">{t('hearing.elsewhere', { room: roomName(snap, h.room) })}</p> : null}
      {list.length === 0 ? <p class="muted">{t('hearing.no_questions')}</p> : (
        <ol class="questions hearing-questions" aria-label={t('hearing.list')} data-testid="hearing-questions">
          {list.map((q) => <QuestionItem key={q.id} client={client} h={h} q={q} canAsk={canAsk} />)}
        </ol>
      )}
    </Section>
  );
}

/** The facilitator's preparation of a hearing. */
function Prepare({ client }) {
  const snap = client.snap;
  const experts = snap.participants.filter((p) => p.roles.includes('expert'));
  const [title, setTitle] = useState('');
  const [speaker, setSpeaker] = useState('');
  const [room, setRoom] = useState('plenary');
  const [anonymous, setAnonymous] = useState(false);
  const [moderated, setModerated] = useState(false);
  const [made, setMade] = useState(null);
  const first = useRef(null);
  const id = useId('hp');
  const submit = (e) => {
    e.preventDefault();
    if (!title.trim() || !speaker) return;
    const made = title.trim();
    act(client, { type: 'create_hearing', title: made, speaker, room, anonymous, moderated }).then((ok) => {
      if (!ok) return;
      setTitle('');
      setMade(made);
      // As in the question form: the disabled button loses the focus; the title takes it.
      if (first.current) first.current.focus();
    });
  };
  return (
    <form class="stack" onSubmit={submit} data-testid="hearing-prepare">
      <p class="small" role="status">{made ? t('hearing.prepared', { title: made }) : ''}</p>
      <label for={`${id}-t`}>{t('hearing.field_title')}</label>
      <input id={`${id}-t`} ref={first} type="text" maxLength={120} value={title} onInput={(e) => { setTitle(e.currentTarget.value); setMade(null); }} />
      <label for={`${id}-s`}>{t('hearing.field_speaker')}</label>
      <select id={`${id}-s`} value={speaker} onChange={(e) => setSpeaker(e.currentTarget.value)}>
        <option value="">—</option>
        {experts.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
      </select>
      {experts.length === 0 ? <p class="small muted">{t('hearing.no_expert')}</p> : null}
      <label for={`${id}-r`}>{t('hearing.field_room')}</label>
      <select id={`${id}-r`} value={room} onChange={(e) => setRoom(e.currentTarget.value)}>
        {snap.rooms.map((r) => <option key={r.id} value={r.id}>{roomName(snap, r.id)}</option>)}
      </select>
      <label class="check"><input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.currentTarget.checked)} /> {t('hearing.field_anonymous')}</label>
      <label class="check"><input type="checkbox" checked={moderated} onChange={(e) => setModerated(e.currentTarget.checked)} /> {t('hearing.field_moderated')}</label>
      <button type="submit" class="btn primary" disabled={!title.trim() || !speaker}>{t('hearing.create')}</button>
    </form>
  );
}

function HearingList({ client }) {
  const snap = client.snap;
  const facilitator = client.you.roles.includes('facilitator');
  const cid = encodeURIComponent(snap.convention.id);
  const hearings = snap.hearings || [];
  if (!hearings.length) return <p class="muted">{t('hearing.none')}</p>;
  return (
    <ul class="plain stack">
      {hearings.map((h) => (
        <li key={h.id} data-hearing={h.id} data-status={h.status}>
          <p><strong>{h.title}</strong> · {nameOf(snap, h.speaker)} · {roomName(snap, h.room)} · <span class="badge">{t(`hearing.hstatus.${h.status}`)}</span></p>
          <div class="row wrap">
            {facilitator && h.status === 'planned' ? <ActButton client={client} class="btn small primary" command={{ type: 'open_hearing', hearing: h.id }}>{t('hearing.open')}</ActButton> : null}
            {facilitator && h.status === 'open' ? <ActButton client={client} class="btn small" command={{ type: 'close_hearing', hearing: h.id }} confirm={t('hearing.close_confirm')}>{t('hearing.close')}</ActButton> : null}
            <ExportButton client={client} small path={sheetPath(`/api/conventions/${cid}/hearings/${h.id}/questions`)} filename={`${snap.convention.id}-${h.id}-questions.xlsx`}>{t('hearing.export_xlsx')}</ExportButton>
            <ExportButton client={client} small path={`/api/conventions/${cid}/hearings/${h.id}/questions?format=csv`} filename={`${snap.convention.id}-${h.id}-questions.csv`}>{t('hearing.export_csv')}</ExportButton>
            <ExportButton client={client} small path={`/api/conventions/${cid}/hearings/${h.id}/questions`} filename={`${snap.convention.id}-${h.id}-questions.json`}>{t('hearing.export_json')}</ExportButton>
          </div>
        </li>
      ))}
    </ul>
  );
}

export function HearingView({ client }) {
  const snap = client.snap;
  const roles = client.you.roles;
  const staff = seesEverything(roles);
  const followed = (snap.hearings || []).filter((h) => follows(snap, client.you, h));
  const mine = myHearing(snap, client.you);
  // Staff follow every open hearing; the others, the one of their room.
  const shown = staff ? followed : mine ? [mine] : [];
  return (
    <div class="stack">
      {shown.length === 0 ? <p class="muted">{t('hearing.none_open')}</p> : shown.map((h) => <Hearing key={h.id} client={client} h={h} />)}
      {staff ? (
        <Section id="hearings-all" title={t('hearing.all')}>
          <HearingList client={client} />
        </Section>
      ) : null}
      {roles.includes('facilitator') ? (
        <Section id="hearing-new" title={t('hearing.prepare')}>
          <Prepare client={client} />
        </Section>
      ) : null}
    </div>
  );
}
