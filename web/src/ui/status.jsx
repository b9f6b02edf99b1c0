// What stays in view whatever the tab and the scroll position: the status bar (where I am,
// the running countdown, the floor or my place in the queue, the connection), and the notices
// that must be seen (a move, the end approaching, the latest announcement, a lost connection).

import { useState, useEffect, useRef, useCallback } from 'preact/hooks';
import { t } from '../i18n.js';
import { person, room as roomOf, PLENARY } from '../reduce.js';
import { Countdown, roomName, nameOf, timeOfDay, useTick, clock } from './common.jsx';
import { Icon } from './icons.jsx';

/**
 * Keep `--sticky-h` (CSS) at the height of what stays at the top, so that sticky toolbars sit
 * under it and scrolling to an element does not hide it beneath.
 */
export function useStickyHeight() {
  const observer = useRef(null);
  // A callback ref: the block appears only once the welcome is in.
  return useCallback((el) => {
    if (observer.current) observer.current.disconnect();
    observer.current = null;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const set = () => document.documentElement.style.setProperty('--sticky-h', `${Math.ceil(el.getBoundingClientRect().height)}px`);
    observer.current = new ResizeObserver(set);
    observer.current.observe(el);
    set();
  }, []);
}

/** My place in my room's queue in words: "en tête", "n° 2 sur 3". */
export function queuePlace(inside, me, short) {
  const order = inside.queue_in_order;
  const place = order.indexOf(me);
  if (place <= 0) return short ? t('queue.first_short') : t('queue.first');
  return t(short ? 'queue.place_short' : 'queue.place_n', { place: place + 1, n: order.length });
}

/** The phase whose countdown matters to everyone: a rotation's round, or breakout rooms. */
function phaseCountdown(client) {
  const snap = client.snap;
  const rot = snap.rotation;
  if (rot) {
    const ph = rot.phase;
    if (ph.state === 'round') return { deadline: ph.ends_at, warnAt: ph.warn_at, label: t('status.round_ends', { n: ph.round + 1 }), what: 'round' };
    if (ph.state === 'transition') return { deadline: ph.starts_at, label: t('status.round_starts', { n: ph.next + 1 }), what: 'transition' };
    if (ph.state === 'paused') return { paused: true, label: t('status.rotation_paused') };
  }
  const b = snap.breakouts;
  if (b) return { deadline: b.ends_at, warnAt: b.warn_at, label: t('status.breakouts_end'), what: 'breakouts', sr: t('status.breakouts_sr') };
  return null;
}

function ConnectionState({ client }) {
  const pending = client.pending.size;
  const cls = client.status === 'open' ? 'on' : 'off';
  const words = client.status === 'open' ? t('status.online') : client.status === 'connecting' ? t('conn.connecting') : t('status.reconnecting');
  return (
    <span class={`status-item conn ${cls}`} data-testid="connection" data-status={client.status}>
      <span class={`dot ${cls}`} aria-hidden="true" /> {words}
      {pending ? <span class="pending-count"> · {t('status.pending', { n: pending })}</span> : null}
    </span>
  );
}

/** The compact bar at the top of every view. */
export function StatusBar({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  const guarantor = client.you.roles.includes('guarantor');
  const r = roomOf(snap, here);
  const inside = r && r.inside;
  const phase = phaseCountdown(client);
  let floor = null;
  if (inside && inside.floor && inside.floor.participant === client.you.id) {
    floor = (
      <span class="status-item pill speaking" data-testid="my-floor">
        <Icon name="mic" size={14} /> {t('status.speaking')}
        {inside.floor.ends_at ? <> <Countdown client={client} deadline={inside.floor.ends_at} warnAt={inside.floor.ends_at - 30000} label={t('status.speaking_left')} /></> : null}
      </span>
    );
  } else if (inside && inside.queue.some((e) => e.participant === client.you.id)) {
    floor = <span class="status-item pill" data-testid="my-hand"><Icon name="hand" size={14} /> {t('status.hand', { place: queuePlace(inside, client.you.id, true) })}</span>;
  }
  return (
    <div class="status-bar" data-testid="status-bar">
      <span class={`status-item where-chip${here === PLENARY ? '' : ' room'}`} data-testid="where">
        <Icon name="pin" size={14} /> <span class="sr-only">{guarantor ? t('status.observing') : t('status.you_are_in')} </span>
        {guarantor ? t('where.chip_observe', { room: roomName(snap, here) }) : roomName(snap, here)}
      </span>
      {phase && phase.paused ? <span class="status-item">{phase.label}</span> : null}
      {phase && !phase.paused ? <span class="status-item">{phase.sr ? <span class="sr-only">{phase.sr} </span> : null}<Countdown client={client} deadline={phase.deadline} warnAt={phase.warnAt} label={phase.label} /></span> : null}
      {floor}
      <ConnectionState client={client} />
    </div>
  );
}

/** "Il reste 2 minutes": the warning before breakout rooms or a rotation round end. */
export function TimeWarning({ client }) {
  useTick(1000);
  const [dismissed, setDismissed] = useState(null);
  const phase = phaseCountdown(client);
  if (!phase || phase.paused || !phase.warnAt || phase.what === 'transition') return null;
  const now = client.now();
  const left = phase.deadline - now;
  if (now < phase.warnAt || left <= 0) return null;
  const key = `${phase.what}-${phase.deadline}`;
  if (dismissed === key) return null;
  // "Il reste 1 minute" for the last minute, as people say it; the clock beside is exact.
  const minutes = Math.max(1, Math.ceil(left / 60000));
  const text = t(phase.what === 'round' ? 'warn.round' : 'warn.breakouts', { n: minutes });
  return (
    <div class="banner compact time-warning" role="alert" data-testid="time-warning">
      <span class="grow"><Icon name="warning" /> {text} <span class="countdown-inline">({clock(left)})</span></span>
      <button type="button" class="btn small" onClick={() => setDismissed(key)}>{t('common.understood')}</button>
    </div>
  );
}

/** Why someone changed room, in words. */
function causeWords(cause, snap) {
  switch (cause) {
    case 'breakouts': return t('moved.cause.breakouts');
    case 'recall': return t('moved.cause.recall');
    case 'rotation': {
      const ph = snap.rotation && snap.rotation.phase;
      if (ph && ph.state === 'round') return t('moved.cause.round', { n: ph.round + 1 });
      if (ph && ph.state === 'transition') return t('moved.cause.round', { n: ph.next + 1 });
      return t('moved.cause.rotation');
    }
    case 'rotation_end': return t('moved.cause.rotation_end');
    case 'moved': return t('moved.cause.moved');
    case 'away': return t('moved.cause.away');
    default: return '';
  }
}

/**
 * "Vous êtes maintenant dans : Salle 2": stays until seen (dismissed, or replaced by the next
 * move); one's own visit is only confirmed for a few seconds.
 */
export function MoveNotice({ client, notice, dismiss, goToRoom }) {
  useEffect(() => {
    if (!notice || notice.cause !== 'self') return undefined;
    const id = setTimeout(dismiss, 5000);
    return () => clearTimeout(id);
  }, [notice && notice.key]);
  if (!notice) return null;
  const snap = client.snap;
  const observer = client.you.roles.includes('guarantor');
  const cause = causeWords(notice.cause, snap);
  return (
    <div class={`banner moved${goToRoom ? '' : ' compact'}`} role={notice.cause === 'self' ? 'status' : 'alert'} data-testid="moved">
      <span class="grow">
        <Icon name="arrow" /> {observer ? t('moved.observe', { room: roomName(snap, notice.room) }) : t('moved.you', { room: roomName(snap, notice.room) })}
        {cause ? <span class="why"> {cause}</span> : null}
      </span>
      {goToRoom ? <button type="button" class="btn small" onClick={() => { goToRoom(); dismiss(); }}>{t('moved.go')}</button> : null}
      {notice.cause === 'self' ? null : <button type="button" class="btn small" onClick={dismiss}>{t('common.understood')}</button>}
    </div>
  );
}

/** The latest announcement, with its time, until dismissed or replaced. */
export function Announcement({ client, notice, dismiss }) {
  if (!notice) return null;
  const snap = client.snap;
  return (
    <div class="broadcast-msg" role="alert" data-seq={notice.seq}>
      <p class="broadcast-head">
        <Icon name="megaphone" /> <strong>{t('broadcast.from', { name: notice.from ? nameOf(snap, notice.from) : t('actor.organizer') })}</strong>{' '}
        <time class="small" dateTime={new Date(notice.at).toISOString()}>{t('broadcast.at', { time: timeOfDay(notice.at) })}</time>
      </p>
      <p class="broadcast-text">{notice.text}</p>
      <button type="button" class="btn small" onClick={dismiss}>{t('common.close')}</button>
    </div>
  );
}

/** The connection lost: said at once, with what waits to be sent. */
export function ConnectionBanner({ client }) {
  const [, force] = useState(0);
  useEffect(() => {
    if (client.status !== 'reconnecting' && client.status !== 'connecting') return undefined;
    const id = setInterval(() => force((x) => x + 1), 1000);
    return () => clearInterval(id);
  }, [client.status]);
  const recently = client.lastReconnectAt && Date.now() - client.lastReconnectAt < 5000;
  useEffect(() => {
    if (!recently) return undefined;
    const id = setTimeout(() => force((x) => x + 1), 5100);
    return () => clearTimeout(id);
  }, [client.lastReconnectAt]);
  if (client.status === 'reconnecting') {
    const secs = Math.max(0, Math.ceil((client.nextRetryAt - Date.now()) / 1000));
    return (
      <div class="banner reconnecting" role="alert" data-testid="reconnecting">
        <span class="spinner" aria-hidden="true" />
        <span><strong>{t('conn.lost')}</strong> {client.ws ? t('conn.trying') : t('conn.retry_in', { s: secs })}</span>
        {client.pending.size ? (
          <span class="small" data-testid="pending-list">
            {t('conn.pending', { n: client.pending.size })} ({[...client.pending.values()].map((p) => t(`cmd.${p.command.type}`)).join(', ')})
          </span>
        ) : null}
        <button type="button" class="btn small" onClick={() => client.retryNow()} disabled={!!client.ws}>{t('conn.retry_now')}</button>
      </div>
    );
  }
  if (recently) {
    return <div class="banner back" role="status" data-testid="reconnected"><Icon name="check" /> {t('conn.back')}</div>;
  }
  return null;
}

/** The highest announcement seq dismissed on this device for this convention. */
function dismissKey(client) {
  return `convene-notice-seen-${client.snap ? client.snap.convention.id : ''}-${client.you ? client.you.id : ''}`;
}

export function dismissedUpTo(client) {
  try {
    return Number(localStorage.getItem(dismissKey(client))) || 0;
  } catch {
    return client.dismissedSeq || 0;
  }
}

/** Dismissing the latest announcement dismisses those before it too (also after a reload). */
export function rememberDismissed(client, seq) {
  client.dismissedSeq = Math.max(client.dismissedSeq || 0, seq);
  try {
    localStorage.setItem(dismissKey(client), String(Math.max(dismissedUpTo(client), seq)));
  } catch {
    /* private mode: remembered for this page only */
  }
}

/**
 * What I did that waits for the connection (or for its reply), said in words: "en attente",
 * sent with its request id as soon as the connection is back.
 */
export function Waiting({ client, types, what, match }) {
  const waiting = client.waiting(...types).filter((p) => !match || match(p));
  if (!waiting.length || client.status === 'open') return null;
  return (
    <p class="pending-note" role="status" data-testid="waiting">
      <span class="pending-tag">{t('pending.tag')}</span> {what || waiting.map((p) => t(`cmd.${p.command.type}`)).join(', ')} — {t('pending.explain')}
    </p>
  );
}
