// The room a participant is in: where, who is there, the countdown, the floor and the queue,
// the hand, the chat, the call for a facilitator, and the room's video.

import { useState, useRef, useEffect } from 'preact/hooks';
import { t } from '../i18n.js';
import { person, room as roomOf, PLENARY } from '../reduce.js';
import { Countdown, Elapsed, act, ActButton, Section, Presence, nameOf, roomName, roleWords, timeOfDay, ordinal, useId, spoken, useSending, SendButton } from './common.jsx';
import { VideoPanel } from './video.jsx';
import { Questions } from './rotation.jsx';
import { Icon } from './icons.jsx';
import { queuePlace, Waiting } from './status.jsx';
import { ChatLineActions, HiddenMark, MuteNotice } from './moderation.jsx';
import { movedRefusal } from '../client.js';

export function BreakoutBanner({ client }) {
  const snap = client.snap;
  const b = snap.breakouts;
  if (!b) return null;
  return (
    <p class={`breakout-bar${b.warned ? ' warned' : ''}`}>
      <Countdown client={client} deadline={b.ends_at} warnAt={b.warn_at} label={t('breakouts.ends_in')} />
      {b.warned ? <span class="sr-only"> {t('breakouts.warned')}</span> : null}
    </p>
  );
}

/** Who has the floor, with the speaking countdown. */
export function FloorCard({ client, inside, roomId }) {
  const snap = client.snap;
  const me = client.you.id;
  const f = inside.floor;
  // Who has the floor is announced when it changes; the time that runs is not (it was inside
  // the live region: a screen reader said « depuis 0:12, 0:13, … » every second).
  if (!f) {
    return <div class="floor empty"><p aria-live="polite">{t('floor.nobody')}</p></div>;
  }
  const mine = f.participant === me;
  return (
    <div class={`floor${mine ? ' mine' : ''}`}>
      <p class="floor-who" aria-live="polite">
        {mine ? <strong>{t('floor.you')}</strong> : <>{t('floor.has')} <strong>{nameOf(snap, f.participant)}</strong></>}
      </p>
      <p class="floor-time">
        {f.ends_at ? (
          <Countdown client={client} deadline={f.ends_at} label={t('floor.remaining')} big />
        ) : (
          <span>{t('floor.since')} <Elapsed client={client} since={f.since} /></span>
        )}
      </p>
      {mine && !client.you.roles.includes('guarantor') ? (
        <ActButton client={client} command={{ type: 'yield_floor' }} class="btn">{t('floor.yield')}</ActButton>
      ) : null}
    </div>
  );
}

/** Raise or lower one's hand, and see one's place in the queue. */
export function HandControl({ client, inside, roomId }) {
  const me = client.you.id;
  if (inside.floor && inside.floor.participant === me) return null;
  const raised = inside.queue.some((e) => e.participant === me);
  // One button that changes (not one swapped for another), so that the focus stays on it.
  return (
    <div class="hand">
      {raised ? (
        <p class="hand-place" aria-live="polite">
          {inside.order === 'least_spoken' && !client.snap.floor_time
            ? t('hand.raised_least', { n: inside.queue.length })
            : t('hand.place', { place: queuePlace(inside, me) })}
        </p>
      ) : null}
      <ActButton client={client} command={raised ? { type: 'lower_hand' } : { type: 'raise_hand', room: roomId }} class={raised ? 'btn big secondary' : 'btn big primary'} data-testid="hand-button">
        <Icon name="hand" size={22} /> {raised ? t('hand.lower') : t('hand.raise')}
      </ActButton>
      <Waiting client={client} types={['raise_hand', 'lower_hand']} />
    </div>
  );
}

/** The speaking queue; facilitators give the floor from it (`give`: the command to send). */
export function QueueList({ client, inside, roomId, manage, give }) {
  const snap = client.snap;
  const order = inside.queue_in_order;
  const raisedAt = new Map(inside.queue.map((e) => [e.participant, e.raised_at]));
  return (
    <div class="queue">
      <h3 class="h-small">{t('queue.title', { n: order.length })}</h3>
      {order.length === 0 ? <p class="muted">{t('queue.empty')}</p> : (
        <ol class="queue-list">
          {order.map((pid) => (
            <li key={pid}>
              <span class="queue-name">{nameOf(snap, pid)}{pid === client.you.id ? ` (${t('people.you')})` : ''}</span>
              {raisedAt.has(pid) ? <span class="muted small"> · {timeOfDay(raisedAt.get(pid))}</span> : null}
              {manage ? (
                <ActButton client={client} class="btn small" command={() => (give ? give(pid) : { type: 'give_floor', room: roomId, participant: pid })} label={t('queue.give_to', { name: nameOf(snap, pid) })}>
                  {t('queue.give')}
                </ActButton>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

const LIMITS = [60000, 120000, 180000, 300000, 600000];

/** The floor's limit of this turn, from its start (null: none). */
function turnLimit(floor) {
  return floor && floor.ends_at ? floor.ends_at - floor.since : null;
}

/**
 * The facilitator's hands on the floor of a room: the next turn's speaking time (the room's
 * limit, or one for this turn only), giving the floor, the turn under way (its limit changed,
 * a minute more, ended), the room's limit and the queue's order, then the queue.
 */
export function FloorManager({ client, roomId, inside }) {
  const [next, setNext] = useState('room');
  const nextId = useId('next');
  const turnId = useId('turn');
  const limitId = useId('limit');
  const orderId = useId('order');
  // The turn's limit in a command: omitted for the room's, null for none.
  const withLimit = (cmd) => (next === 'room' ? cmd : { ...cmd, limit_ms: next === 'none' ? null : Number(next) });
  const give = (pid) => withLimit({ type: 'give_floor', room: roomId, participant: pid });
  const floor = inside.floor;
  const current = turnLimit(floor);
  const roomLimit = inside.limit_ms;
  return (
    <div class="speaking-controls">
      <div class="row wrap">
        <label for={nextId}>{t('floor.next_limit')}</label>
        <select id={nextId} value={next} onChange={(e) => setNext(e.currentTarget.value)}>
          <option value="room">{roomLimit === null ? t('floor.room_limit_none') : t('floor.room_limit', { limit: spoken(roomLimit) })}</option>
          {LIMITS.map((l) => <option value={String(l)}>{spoken(l)}</option>)}
          <option value="none">{t('floor.no_limit')}</option>
        </select>
      </div>
      <div class="row wrap">
        <ActButton client={client} class="btn primary" disabled={inside.queue.length === 0} command={() => withLimit({ type: 'give_floor', room: roomId })}>
          {t('queue.give_next')}
        </ActButton>
      </div>
      {floor ? (
        <div class="turn stack" data-testid="turn">
          <p class="small"><strong>{t('floor.this_turn', { name: nameOf(client.snap, floor.participant) })}</strong></p>
          <div class="row wrap">
            <label for={turnId}>{t('floor.turn_limit')}</label>
            <select id={turnId} value={current === null ? 'none' : String(current)} onChange={(e) => {
              const v = e.currentTarget.value;
              act(client, { type: 'set_floor_limit', room: roomId, limit_ms: v === 'none' ? null : Number(v) });
            }}>
              {LIMITS.map((l) => <option value={String(l)}>{spoken(l)}</option>)}
              {current !== null && !LIMITS.includes(current) ? <option value={String(current)}>{spoken(current)}</option> : null}
              <option value="none">{t('floor.no_limit')}</option>
            </select>
            <ActButton client={client} class="btn small" command={() => ({ type: 'set_floor_limit', room: roomId, limit_ms: Math.max(turnLimit(floor) || 0, client.now() - floor.since) + 60000 })}>
              {t('floor.one_more_minute')}
            </ActButton>
          </div>
          <ActButton client={client} class="btn" command={{ type: 'end_floor', room: roomId }}>
            {t('floor.end')}
          </ActButton>
        </div>
      ) : null}
      <details class="room-floor-settings">
        <summary>{t('floor.room_settings')}</summary>
        <div class="row wrap">
          <label for={limitId}>{t('floor.limit')}</label>
          <select id={limitId} value={roomLimit === null ? '' : String(roomLimit)} onChange={(e) => {
            const v = e.currentTarget.value;
            act(client, { type: 'set_speaking_limit', room: roomId, limit_ms: v === '' ? null : Number(v) });
          }}>
            <option value="">{t('floor.no_limit')}</option>
            {LIMITS.map((l) => <option value={String(l)}>{spoken(l)}</option>)}
            {roomLimit !== null && !LIMITS.includes(roomLimit) ? <option value={String(roomLimit)}>{spoken(roomLimit)}</option> : null}
          </select>
          <label for={orderId}>{t('queue.order')}</label>
          <select id={orderId} value={inside.order} onChange={(e) => act(client, { type: 'set_queue_order', room: roomId, order: e.currentTarget.value })}>
            <option value="raised">{t('queue.order.raised')}</option>
            <option value="least_spoken">{t('queue.order.least_spoken')}</option>
          </select>
        </div>
      </details>
      <QueueList client={client} inside={inside} roomId={roomId} manage give={give} />
    </div>
  );
}

function PersonLine({ client, p }) {
  return (
    <li key={p.id} class={p.online ? '' : 'offline'}>
      <Presence online={p.online} />
      <span>{p.name}{p.id === client.you.id ? ` (${t('people.you')})` : ''}</span>
      {p.roles.some((r) => r !== 'citizen') ? <span class="badge">{roleWords(p.roles.filter((r) => r !== 'citizen'))}</span> : null}
    </li>
  );
}

/**
 * Who is present in a room (online), then, folded, who belongs to it but is away. Guarantors
 * are counted as observers, not listed.
 */
export function PeopleList({ client, roomId, observers }) {
  const snap = client.snap;
  const here = snap.participants.filter((p) => p.room === roomId && !p.roles.includes('guarantor'));
  here.sort((a, b) => a.name.localeCompare(b.name));
  const present = here.filter((p) => p.online);
  const away = here.filter((p) => !p.online);
  return (
    <div class="people">
      <h3 class="h-small" data-testid="present-count">{t('people.present', { n: present.length })}</h3>
      <ul class="people-list" tabIndex={0} aria-label={t('people.heading')} data-testid="present">
        {present.map((p) => <PersonLine client={client} p={p} />)}
      </ul>
      {away.length ? (
        <details class="people-away">
          <summary>{t('people.away', { n: away.length })}</summary>
          <ul class="people-list" data-testid="away">{away.map((p) => <PersonLine client={client} p={p} />)}</ul>
        </details>
      ) : null}
      {observers > 0 ? <p class="muted small"><Icon name="eye" size={14} /> {t('people.observers', { n: observers })}</p> : null}
    </div>
  );
}

/** The room's chat; `readOnly` for guarantors. */
export function Chat({ client, roomId, inside, readOnly }) {
  const snap = client.snap;
  const [text, setText] = useState('');
  // Lines refused because the person changed room while they waited offline: they come back
  // into the field (of the room the person is in now) with a notice, never posted here unasked.
  const [returned, setReturned] = useState(false);
  useEffect(() => {
    if (readOnly || !client.returnedChat.length) return;
    const back = client.returnedChat.splice(0);
    setText((now) => [now.trim(), ...back].filter(Boolean).join(' '));
    setReturned(true);
  });
  const listRef = useRef(null);
  const inputId = useId('chat');
  const stick = useRef(true);
  const lines = inside.chat;
  // Lines typed but not yet acknowledged (offline, or on their way): shown "en attente"
  // until the server's line (with the same request id) takes their place.
  const delivered = new Set(lines.map((l) => l.request).filter(Boolean));
  // Lines waiting to be sent, this room's only: one written in a room the person has left since
  // is refused when it reaches the server, and is not shown here meanwhile.
  const waitingLines = client
    .waiting('send_chat')
    .filter((p) => !delivered.has(p.id) && (!p.command.room || p.command.room === roomId));
  useEffect(() => {
    const el = listRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines.length, waitingLines.length, roomId]);
  useEffect(() => {
    const el = listRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return undefined;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const onScroll = (e) => {
    const el = e.currentTarget;
    stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };
  // The line leaves the field at once (it may wait for a connection); if the server refuses
  // it, it comes back into an empty field.
  const submit = async (e) => {
    e.preventDefault();
    const v = text.trim();
    if (!v) return;
    setText('');
    setReturned(false);
    // The room it is written in: if the person is elsewhere when it reaches the server (it
    // waited offline), it is refused rather than read by another room.
    await client.request({ type: 'send_chat', text: v, room: roomId }).catch((err) => {
      if (!movedRefusal(err.code, err.message)) setText((now) => now || v);
    });
  };
  return (
    <div class="chat">
      <div class="chat-log" role="log" aria-live="polite" aria-label={t('chat.log', { room: roomName(snap, roomId) })} ref={listRef} onScroll={onScroll} tabIndex={0}>
        {lines.length === 0 ? <p class="muted">{t('chat.empty')}</p> : null}
        {lines.map((l) => (
          <p key={l.seq} class={`chat-line${l.from === client.you.id ? ' mine' : ''}${l.hidden ? ' hidden-line' : ''}`} data-seq={l.seq}>
            <span class="chat-meta"><strong>{nameOf(snap, l.from)}</strong> <time>{timeOfDay(l.at)}</time></span>
            <span class="chat-text">{l.text}</span>
            <HiddenMark client={client} line={l} />
            <ChatLineActions client={client} line={l} />
          </p>
        ))}
        {readOnly ? null : waitingLines.map((p) => (
          <p key={p.id} class="chat-line mine pending" data-request={p.id}>
            <span class="chat-meta"><strong>{nameOf(snap, client.you.id)}</strong> <span class="pending-tag">{t('pending.tag')}</span></span>
            <span class="chat-text">{p.command.text}</span>
          </p>
        ))}
      </div>
      {readOnly ? null : <MuteNotice client={client} />}
      {readOnly || !returned ? null : <p class="notice warn-text" role="status" data-testid="chat-returned">{t('err.moved_chat')}</p>}
      {readOnly ? null : (
        <form class="chat-form" onSubmit={submit}>
          <label for={inputId} class="sr-only">{t('chat.label')}</label>
          <input id={inputId} type="text" value={text} maxLength={2000} autocomplete="off" placeholder={t('chat.placeholder')} onInput={(e) => { setText(e.currentTarget.value); if (!e.currentTarget.value) setReturned(false); }} />
          <button type="submit" class="btn primary">{t('chat.send')}</button>
        </form>
      )}
    </div>
  );
}

/** Call a facilitator, with an optional message; shows one's pending calls. */
export function CallFacilitator({ client }) {
  const snap = client.snap;
  const [open, setOpen] = useState(false);
  const [msg, setMsg] = useState('');
  const id = useId('call');
  const mine = snap.calls.filter((c) => c.participant === client.you.id);
  // When the form closes (sent or cancelled), the focus goes back to the button that opened it.
  const opener = useRef(null);
  const field = useRef(null);
  const closing = useRef(false);
  useEffect(() => {
    // Opened: the message field takes the focus (`autoFocus` does not, in a page already in use).
    if (open && field.current) field.current.focus();
    if (!open && closing.current) {
      closing.current = false;
      if (opener.current) opener.current.focus();
    }
  }, [open]);
  const close = () => {
    closing.current = true;
    setOpen(false);
  };
  // One call at a time: while it waits (offline, say), the message is locked and the button
  // says it waits, so a second tap does not call twice.
  const [busy, sendCall] = useSending(client, 'call_facilitator');
  const send = async (e) => {
    e.preventDefault();
    if (busy) return;
    const ok = await sendCall({ type: 'call_facilitator', message: msg.trim() });
    if (ok) {
      setMsg('');
      close();
    }
  };
  return (
    <div class="call">
      {mine.length > 0 ? (
        <p class="notice" role="status"><Icon name="bell" /> {t('call.pending', { n: mine.length })}</p>
      ) : null}
      <Waiting client={client} types={['call_facilitator']} />
      {open ? (
        <form onSubmit={send} class="stack">
          <label for={id}>{t('call.message')}</label>
          <textarea id={id} rows={2} maxLength={1000} value={msg} readOnly={busy} onInput={(e) => setMsg(e.currentTarget.value)} ref={field} />
          <div class="row">
            <SendButton busy={busy} data-testid="call-send">{t('call.send')}</SendButton>
            <button type="button" class="btn" onClick={close}>{t('common.cancel')}</button>
          </div>
        </form>
      ) : (
        <button type="button" class="btn" ref={opener} onClick={() => setOpen(true)}><Icon name="bell" /> {t('call.button')}</button>
      )}
    </div>
  );
}

/** Where one is, in words. */
export function WhereAmI({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  const observer = client.you.roles.includes('guarantor');
  const text = here === PLENARY
    ? (observer ? t('where.observe_plenary') : t('where.plenary'))
    : (observer ? t('where.observe_room', { room: roomName(snap, here) }) : t('where.room', { room: roomName(snap, here) }));
  return <p class="where"><Icon name="pin" /> {text}</p>;
}

/** The whole room view. */
export function RoomView({ client, video }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const roomId = me ? me.room : PLENARY;
  const r = roomOf(snap, roomId);
  const inside = r && r.inside;
  const roles = client.you.roles;
  const guarantor = roles.includes('guarantor');
  const facilitator = roles.includes('facilitator');
  const speaker = !guarantor;
  const caller = roles.some((x) => x === 'citizen' || x === 'rapporteur' || x === 'expert') && !guarantor;
  if (!inside) return <p>{t('common.loading')}</p>;
  return (
    <div class="room-view">
      <div class="room-main">
        <Section id="floor" title={t('floor.title')}>
          <FloorCard client={client} inside={inside} roomId={roomId} />
          {speaker ? <HandControl client={client} inside={inside} roomId={roomId} /> : null}
          {facilitator ? <FloorManager client={client} roomId={roomId} inside={inside} /> : <QueueList client={client} inside={inside} roomId={roomId} />}
          {caller ? <CallFacilitator client={client} /> : null}
        </Section>
        <Section id="chat" title={t('chat.title')} class="chat-card">
          <Chat client={client} roomId={roomId} inside={inside} readOnly={guarantor} />
        </Section>
        {snap.rotation && snap.rotation.plan.rooms.includes(roomId) ? (
          <Section id="questions" title={t('rot.questions')}><Questions client={client} /></Section>
        ) : null}
      </div>
      <div class="room-side">
        <Section id="people" title={t('people.heading')}>
          <PeopleList client={client} roomId={roomId} observers={r.observers} />
        </Section>
        <VideoPanel video={video} facilitator={facilitator} />
      </div>
    </div>
  );
}
