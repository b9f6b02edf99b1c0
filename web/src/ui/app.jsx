// The application shell: header (convention, who, language), the status bar and the notices
// that stay in view (status.jsx), error messages, the role's tabs and the current view.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t, getLang, setLang, LANGS } from '../i18n.js';
import { person, PLENARY, room as roomOf, groupOf } from '../reduce.js';
import { roomName, roleWords, nameOf, timeOfDay } from './common.jsx';
import { RoomView } from './room.jsx';
import { PollsView, pollsToVote } from './polls.jsx';
import { ConsoleView } from './console.jsx';
import { RotationView } from './rotation.jsx';
import { HearingView, hearingTab } from './hearings.jsx';
import { ObserverView } from './observer.jsx';
import { OpinionView } from './opinion.jsx';
import { VideoDock, useVideo } from './video.jsx';
import { Icon } from './icons.jsx';
import { movedRefusal } from '../client.js';
import { AskDialog } from './asked.jsx';
// Run sheet.
import { NowNext } from './runsheet.jsx';
import { StatusBar, TimeWarning, MoveNotice, Announcement, ConnectionBanner, dismissedUpTo, rememberDismissed, useStickyHeight } from './status.jsx';

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
  // Hearings: after the main tab, for those who have one to follow (facilitators always).
  const tabs = tabsWithoutHearing(client, roles, rot, placed);
  if (hearingTab(client)) tabs.splice(1, 0, 'hearing');
  return tabs;
}

function tabsWithoutHearing(client, roles, rot, placed) {
  if (roles.includes('guarantor')) return ['observe', 'polls', ...(rot ? ['rotation'] : []), 'opinion'];
  if (roles.includes('facilitator')) return ['console', 'room', 'polls', 'rotation', 'opinion'];
  if (roles.includes('rapporteur')) return ['opinion', 'room', 'polls', ...(rot ? ['rotation'] : [])];
  if (roles.includes('expert')) return ['room', ...(rot ? ['rotation'] : []), 'polls', 'opinion'];
  return ['room', 'polls', ...(placed || rot ? ['rotation'] : []), 'opinion'];
}

function errorText(e, client) {
  // Sent after a change of room (it waited offline): said in full, it was not a mistake.
  if (movedRefusal(e.code, e.message) && (e.command === 'send_chat' || e.command === 'raise_hand')) {
    return t(e.command === 'send_chat' ? 'err.moved_chat' : 'err.moved_hand');
  }
  const what = e.command ? t(`cmd.${e.command}`) : null;
  // Muted (moderation): say until when, from the page's own mute.
  const mute = e.code === 'muted' && client && client.snap && (client.snap.mutes || []).find((m) => m.participant === client.you.id);
  const why = mute ? t('err.muted_until', { time: timeOfDay(mute.until) }) : t(`err.${e.code}`);
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
          <p><Icon name="warning" /> {errorText(e, client)}</p>
          {e.message ? <details><summary>{t('err.details')}</summary><p class="small">{e.code} — {e.message}</p></details> : null}
          <button type="button" class="btn small" onClick={() => client.dismissError(e.key)}>{t('common.close')}</button>
        </div>
      ))}
    </div>
  );
}

function Header({ client, lang, onLang }) {
  const snap = client.snap;
  const other = LANGS.find((l) => l !== lang);
  return (
    <header class="top">
      <div class="top-row">
        <h1 class="conv-name">{snap.convention.name}</h1>
        <button type="button" class="btn small lang" onClick={() => onLang(other)} lang={other} aria-label={t('lang.switch_to')}>
          {t('lang.other')}
        </button>
      </div>
      <p class="whoami">{client.you.name} · <span class="muted">{roleWords(client.you.roles)}</span></p>
    </header>
  );
}

function Nav({ tabs, tab, setTab, client, unread, roomTab }) {
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
              {x === roomTab && unread && x !== tab ? <span class="count-badge" data-testid="unread"><span class="sr-only">, {t('nav.unread', { n: unread })}</span><span aria-hidden="true">{unread}</span></span> : null}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

const ICONS = { room: 'chat', polls: 'ballot', opinion: 'doc', rotation: 'rotate', console: 'console', observe: 'eye', hearing: 'megaphone' };

export function App({ client, videoConfig }) {
  useClient(client);
  const [lang, setLangState] = useState(getLang());
  const [tab, showTab] = useState(null);
  // Going to the room's tab reads its new chat lines.
  const setTab = (x) => {
    showTab(x);
    if (x === (client.you && client.you.roles.includes('guarantor') ? 'observe' : 'room')) setUnread(0);
  };
  const [announcement, setAnnouncement] = useState(null);
  const [moveNotice, setMoveNotice] = useState(null);
  const video = useVideo(client, videoConfig);
  const mainRef = useRef(null);
  const stickyRef = useStickyHeight();

  const [callAlert, setCallAlert] = useState(null);
  const [callHandled, setCallHandled] = useState(null);
  const [published, setPublished] = useState([]);
  const [unread, setUnread] = useState(0);
  // The tab shown, for the hook below (which outlives renders).
  const shown = useRef(null);
  useEffect(() => {
    client.hooks.onEffect = (effect, rec) => {
      // Results published while I am here are announced (the dialog).
      if (effect.published && !(rec && rec.by && rec.by.id === client.you.id)) setPublished((l) => l.concat(effect.published));
      // A chat line in my room while I look at another tab: a badge on the room's tab.
      if (effect.chat && effect.chat.from !== client.you.id) {
        const me = client.snap && person(client.snap, client.you.id);
        const roomTab = client.you.roles.includes('guarantor') ? 'observe' : 'room';
        if (me && me.room === effect.chat.room && shown.current !== roomTab) setUnread((n) => n + 1);
      }
      if (effect.callResolved && effect.callResolved.mine) setCallHandled({ by: effect.callResolved.by, key: `${effect.callResolved.call}-${Date.now()}` });
      if (effect.broadcast) {
        const n = effect.broadcast;
        // The latest replaces the one shown; one already dismissed (here, before a reload)
        // is not shown again.
        if (n.seq > dismissedUpTo(client)) {
          setAnnouncement((cur) => (cur && cur.seq > n.seq ? cur : { ...n, during: !!(client.snap && client.snap.breakouts) }));
        }
      }
      // What was announced during breakout rooms is over with them.
      if (effect.breakoutsClosed) setAnnouncement((cur) => (cur && cur.during ? null : cur));
      if (effect.moved) setMoveNotice({ ...effect.moved, key: `${rec ? rec.seq : 0}-${Date.now()}` });
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
  const onLang = (l) => {
    setLang(l);
    setLangState(l);
  };

  if (client.status === 'fatal') {
    return (
      <main id="main" class="center-page">
        <h1>Convene</h1>
        <p class="notice error" role="alert">{t(`fatal.${client.fatal}`)}</p>
        {client.fatal === 'unknown_token' || client.fatal === 'revoked' ? <p>{t('fatal.help')}</p> : null}
        {client.fatal === 'removed' ? <p data-testid="removed-help">{t('fatal.removed_help')}</p> : null}
        {client.fatal === 'deleted' ? <p data-testid="deleted-help">{t('fatal.deleted_help')}</p> : null}
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
  shown.current = current;
  const roomTab = client.you.roles.includes('guarantor') ? 'observe' : 'room';
  let view;
  switch (current) {
    case 'console': view = <ConsoleView client={client} />; break;
    case 'polls': view = <PollsView client={client} />; break;
    case 'rotation': view = <RotationView client={client} />; break;
    case 'hearing': view = <HearingView client={client} />; break;
    case 'opinion': view = <OpinionView client={client} lang={lang} />; break;
    case 'observe': view = <ObserverView client={client} />; break;
    default: view = <RoomView client={client} video={video} />;
  }
  return (
    <>
      <a class="skip" href="#main">{t('nav.skip')}</a>
      <Header client={client} lang={lang} onLang={onLang} />
      <div class="sticky-top" ref={stickyRef}>
        <StatusBar client={client} />
        <NowNext client={client} />
        <Nav tabs={tabs} tab={current} setTab={setTab} client={client} unread={unread} roomTab={roomTab} />
        <div class="alerts">
          <ConnectionBanner client={client} />
          <MoveNotice
            client={client}
            notice={moveNotice}
            dismiss={() => setMoveNotice(null)}
            goToRoom={current !== 'room' && current !== 'observe' && current !== 'console' ? () => setTab(tabs.includes('room') ? 'room' : tabs[0]) : null}
          />
          <TimeWarning client={client} />
          <Announcement
            client={client}
            notice={announcement}
            dismiss={() => {
              rememberDismissed(client, announcement.seq);
              setAnnouncement(null);
            }}
          />
          {callHandled ? (
            <div class="banner compact call-handled" role="status" data-testid="call-handled">
              <span class="grow"><Icon name="check" /> {callHandled.by ? t('call.handled_by', { name: nameOf(snap, callHandled.by) }) : t('call.handled')}</span>
              <button type="button" class="btn small" onClick={() => setCallHandled(null)}>{t('common.understood')}</button>
            </div>
          ) : null}
          {callAlert ? (
            <div class="banner call-alert" role="status">
              <span><Icon name="bell" /> {t('calls.new', { name: nameOf(snap, callAlert.who), room: roomName(snap, callAlert.room) })}</span>
              {current !== 'console' ? <button type="button" class="btn small" onClick={() => { setTab('console'); setCallAlert(null); }}>{t('calls.see')}</button> : null}
            </div>
          ) : null}
        </div>
      </div>
      <main id="main" ref={mainRef} tabIndex={-1} data-view={current}>
        <h2 class="sr-only">{t(`tab.${current}`)}</h2>
        <VideoDock client={client} video={video} inRoomView={current === 'room' || current === 'observe'} />
        {view}
      </main>
      <AskDialog client={client} published={published} goToPolls={() => setTab('polls')} />
      <Errors client={client} />
    </>
  );
}
