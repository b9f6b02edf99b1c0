// The application shell: header (convention, who and where, countdown, language), the
// reconnection banner, broadcasts, error messages, the role's tabs and the current view.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t, getLang, setLang, LANGS } from '../i18n.js';
import { person, PLENARY, room as roomOf, groupOf } from '../reduce.js';
import { Countdown, roomName, roleWords, ordinal, timeOfDay, nameOf } from './common.jsx';
import { RoomView } from './room.jsx';
import { PollsView, pollsToVote } from './polls.jsx';
import { ConsoleView } from './console.jsx';
import { RotationView, RotationStatus } from './rotation.jsx';
import { ObserverView } from './observer.jsx';
import { OpinionView } from './opinion.jsx';
import { VideoDock, useVideo } from './video.jsx';
import { Icon } from './icons.jsx';

function useClient(client) {
  const [, set] = useState(0);
  useEffect(() => client.subscribe(() => set((x) => x + 1)), [client]);
}

/** Which tabs a person gets, the main one first. */
export function tabsFor(client) {
  const roles = client.you.roles;
  const snap = client.snap;
  const rot = snap.rotation;
  const placed = rot && (groupOf(rot, client.you.id) >= 0 || rot.plan.experts.includes(client.you.id));
  if (roles.includes('guarantor')) return ['observe', 'polls', ...(rot ? ['rotation'] : []), 'opinion'];
  if (roles.includes('facilitator')) return ['console', 'room', 'polls', 'rotation', 'opinion'];
  if (roles.includes('rapporteur')) return ['opinion', 'room', 'polls', ...(rot ? ['rotation'] : [])];
  if (roles.includes('expert')) return ['room', ...(rot ? ['rotation'] : []), 'polls', 'opinion'];
  return ['room', 'polls', ...(placed || rot ? ['rotation'] : []), 'opinion'];
}

function ConnectionBanner({ client }) {
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
        {client.pending.size ? <span class="small">{t('conn.pending', { n: client.pending.size })}</span> : null}
        <button type="button" class="btn small" onClick={() => client.retryNow()} disabled={!!client.ws}>{t('conn.retry_now')}</button>
      </div>
    );
  }
  if (recently) {
    return <div class="banner back" role="status" data-testid="reconnected"><Icon name="check" /> {t('conn.back')}</div>;
  }
  return null;
}

function errorText(e) {
  const what = e.command ? t(`cmd.${e.command}`) : null;
  const why = t(`err.${e.code}`);
  return what && what !== `cmd.${e.command}` ? `${what} : ${why}` : why;
}

function Errors({ client }) {
  const errors = client.errors;
  useEffect(() => {
    if (!errors.length) return undefined;
    const id = setTimeout(() => client.dismissError(errors[0].key), 9000);
    return () => clearTimeout(id);
  }, [errors.length && errors[0].key]);
  return (
    <div class="toasts" aria-live="assertive">
      {errors.map((e) => (
        <div key={e.key} class="toast error" role="alert" data-code={e.code}>
          <p><Icon name="warning" /> {errorText(e)}</p>
          {e.message ? <details><summary>{t('err.details')}</summary><p class="small">{e.code} — {e.message}</p></details> : null}
          <button type="button" class="btn small" onClick={() => client.dismissError(e.key)}>{t('common.close')}</button>
        </div>
      ))}
    </div>
  );
}

function Broadcasts({ notices, dismiss, snap }) {
  if (!notices.length) return null;
  return (
    <div class="broadcasts">
      {notices.map((n) => (
        <div key={n.seq} class="broadcast-msg" role="alert">
          <p><Icon name="megaphone" /> <strong>{t('broadcast.from', { name: n.from ? nameOf(snap, n.from) : t('actor.organizer') })}</strong> <time class="small">{timeOfDay(n.at)}</time></p>
          <p>{n.text}</p>
          <button type="button" class="btn small" onClick={() => dismiss(n.seq)}>{t('common.close')}</button>
        </div>
      ))}
    </div>
  );
}

/** What matters right now about me, shown on every tab. */
function MyStatus({ client }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  if (!me) return null;
  const r = roomOf(snap, me.room);
  const inside = r && r.inside;
  const bits = [];
  if (inside && inside.floor && inside.floor.participant === me.id) bits.push(<span class="pill speaking" key="f"><Icon name="mic" size={14} /> {t('status.speaking')}</span>);
  else if (inside && inside.queue.some((e) => e.participant === me.id)) {
    const place = inside.queue_in_order.indexOf(me.id);
    bits.push(<span class="pill" key="h"><Icon name="hand" size={14} /> {t('status.hand', { place: ordinal(place + 1) })}</span>);
  }
  return bits.length ? <span class="my-status">{bits}</span> : null;
}

function Header({ client, lang, onLang }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const here = me ? me.room : PLENARY;
  const guarantor = client.you.roles.includes('guarantor');
  const other = LANGS.find((l) => l !== lang);
  return (
    <header class="top">
      <div class="top-row">
        <h1 class="conv-name">{snap.convention.name}</h1>
        <button type="button" class="btn small lang" onClick={() => onLang(other)} lang={other} aria-label={t('lang.switch_to')}>
          {t('lang.other')}
        </button>
      </div>
      <div class="top-row info">
        <span class="whoami">{client.you.name} · <span class="muted">{roleWords(client.you.roles)}</span></span>
        <span class={`where-chip${here === PLENARY ? '' : ' room'}`} data-testid="where">
          <Icon name="pin" size={14} /> {guarantor ? t('where.chip_observe', { room: roomName(snap, here) }) : roomName(snap, here)}
        </span>
        {snap.breakouts ? <Countdown client={client} deadline={snap.breakouts.ends_at} warnAt={snap.breakouts.warn_at} label={t('breakouts.ends_in')} /> : null}
        {snap.rotation && ['round', 'transition', 'paused'].includes(snap.rotation.phase.state) ? <RotationStatus client={client} /> : null}
        <MyStatus client={client} />
      </div>
    </header>
  );
}

function Nav({ tabs, tab, setTab, client }) {
  const toVote = pollsToVote(client.snap, client.you);
  const calls = client.you.roles.includes('facilitator') ? client.snap.calls.length : 0;
  return (
    <nav class="tabs" aria-label={t('nav.label')}>
      <ul>
        {tabs.map((x) => (
          <li key={x}>
            <button type="button" class={`tab${x === tab ? ' active' : ''}`} aria-current={x === tab ? 'page' : undefined} onClick={() => setTab(x)} data-tab={x}>
              <Icon name={ICONS[x]} /> {t(`tab.${x}`)}
              {x === 'polls' && toVote ? <span class="count-badge"><span class="sr-only">, {t('nav.to_vote', { n: toVote })}</span><span aria-hidden="true">{toVote}</span></span> : null}
              {x === 'console' && calls ? <span class="count-badge"><span class="sr-only">, {t('nav.calls', { n: calls })}</span><span aria-hidden="true">{calls}</span></span> : null}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

const ICONS = { room: 'chat', polls: 'ballot', opinion: 'doc', rotation: 'rotate', console: 'console', observe: 'eye' };

export function App({ client, videoConfig }) {
  useClient(client);
  const [lang, setLangState] = useState(getLang());
  const [tab, setTab] = useState(null);
  const [notices, setNotices] = useState([]);
  const [moved, setMoved] = useState(null);
  const video = useVideo(client, videoConfig);
  const prevRoom = useRef(null);
  const mainRef = useRef(null);

  const [callAlert, setCallAlert] = useState(null);
  useEffect(() => {
    client.hooks.onEffect = (effect, rec) => {
      if (effect.broadcast) setNotices((n) => n.concat(effect.broadcast).slice(-3));
      // Facilitators hear of a new call for help wherever they are in the page.
      if (effect.call && client.you.roles.includes('facilitator') && rec.by && rec.by.id !== client.you.id) {
        setCallAlert({ who: rec.by.id, room: rec.event.room, seq: rec.seq });
      }
    };
  }, [client]);
  useEffect(() => {
    if (!callAlert) return undefined;
    const id = setTimeout(() => setCallAlert(null), 10000);
    return () => clearTimeout(id);
  }, [callAlert && callAlert.seq]);
  useEffect(() => {
    if (client.snap) document.title = `${client.snap.convention.name} — Convene`;
  }, [client.snap && client.snap.convention.name]);

  const snap = client.snap;
  const me = snap && client.you ? person(snap, client.you.id) : null;
  const here = me ? me.room : null;
  useEffect(() => {
    if (here === null) return;
    if (prevRoom.current !== null && prevRoom.current !== here) {
      setMoved({ room: here, at: Date.now() });
      const id = setTimeout(() => setMoved(null), 8000);
      prevRoom.current = here;
      return () => clearTimeout(id);
    }
    prevRoom.current = here;
    return undefined;
  }, [here]);

  const onLang = (l) => {
    setLang(l);
    setLangState(l);
  };

  if (client.status === 'fatal') {
    return (
      <main id="main" class="center-page">
        <h1>Convene</h1>
        <p class="notice error" role="alert">{t(`fatal.${client.fatal}`)}</p>
        <p>{t('fatal.help')}</p>
      </main>
    );
  }
  if (!snap || !client.you) {
    return (
      <main id="main" class="center-page" aria-busy="true">
        <h1>Convene</h1>
        <p role="status"><span class="spinner" aria-hidden="true" /> {client.status === 'reconnecting' || client.attempt > 1 ? t('conn.cannot_reach') : t('conn.connecting')}</p>
      </main>
    );
  }
  const tabs = tabsFor(client);
  const current = tabs.includes(tab) ? tab : tabs[0];
  let view;
  switch (current) {
    case 'console': view = <ConsoleView client={client} />; break;
    case 'polls': view = <PollsView client={client} />; break;
    case 'rotation': view = <RotationView client={client} />; break;
    case 'opinion': view = <OpinionView client={client} lang={lang} />; break;
    case 'observe': view = <ObserverView client={client} />; break;
    default: view = <RoomView client={client} video={video} />;
  }
  return (
    <>
      <a class="skip" href="#main">{t('nav.skip')}</a>
      <Header client={client} lang={lang} onLang={onLang} />
      <ConnectionBanner client={client} />
      <Broadcasts notices={notices} snap={snap} dismiss={(seq) => setNotices(notices.filter((n) => n.seq !== seq))} />
      {moved ? (
        <div class="banner moved" role="status">
          <span><Icon name="arrow" /> {client.you.roles.includes('guarantor') ? t('moved.observe', { room: roomName(snap, moved.room) }) : t('moved.you', { room: roomName(snap, moved.room) })}</span>
          {current !== 'room' && current !== 'observe' && current !== 'console' ? <button type="button" class="btn small" onClick={() => setTab(tabs.includes('room') ? 'room' : tabs[0])}>{t('moved.go')}</button> : null}
        </div>
      ) : null}
      {callAlert ? (
        <div class="banner call-alert" role="status">
          <span><Icon name="bell" /> {t('calls.new', { name: nameOf(snap, callAlert.who), room: roomName(snap, callAlert.room) })}</span>
          {current !== 'console' ? <button type="button" class="btn small" onClick={() => { setTab('console'); setCallAlert(null); }}>{t('calls.see')}</button> : null}
        </div>
      ) : null}
      <Nav tabs={tabs} tab={current} setTab={setTab} client={client} />
      <main id="main" ref={mainRef} tabIndex={-1} data-view={current}>
        <h2 class="sr-only">{t(`tab.${current}`)}</h2>
        <VideoDock client={client} video={video} inRoomView={current === 'room' || current === 'observe'} />
        {view}
      </main>
      <Errors client={client} />
    </>
  );
}
