// The room's video meeting. Convene carries no audio or video: the server names each room's
// meeting (a name nobody can guess) and hands each person a short-lived token for the room
// they are in now (GET /api/conventions/{id}/video). The page asks again after every move and
// before the token expires. Once joined, the meeting lives in a dock at the top of the page's
// main area (on a laptop: pinned bottom right), stays across the tabs, can be collapsed, and
// follows moves without reloading the page and without a pre-join screen: the old meeting is
// left and the new one joined (Jitsi: a new IFrame API instance; LiveKit: disconnect, connect).

import { useState, useEffect, useRef } from 'preact/hooks';
import { t, getLang } from '../i18n.js';
import { person, PLENARY } from '../reduce.js';
import { roomName, nameOf, Section } from './common.jsx';
import { fetchMeeting, jitsiDomain, jitsiOptions, meetingLink } from '../video-url.js';
import { Icon } from './icons.jsx';

/**
 * The page's video state: the meeting of the person's current room (fetched, kept fresh),
 * whether they joined it, whether the dock is collapsed. `config.disabled` (?video=off): none.
 */
export function useVideo(client, config) {
  const [joined, setJoined] = useState(false);
  const [collapsed, setCollapsed] = useState(false);
  const [meeting, setMeeting] = useState(null);
  const [error, setError] = useState(null);
  const [nonce, setNonce] = useState(0);
  const snap = client.snap;
  const me = snap && client.you ? person(snap, client.you.id) : null;
  const roomId = me ? me.room : null;
  const disabled = !config || !!config.disabled;
  const convention = snap ? snap.convention.id : null;
  useEffect(() => {
    if (disabled || !roomId || !convention) return undefined;
    let stop = false;
    let timer = null;
    const load = async (attempt) => {
      try {
        const m = await fetchMeeting(convention, client.token, roomId);
        if (stop) return;
        setMeeting(m);
        setError(null);
        // A fresh token a minute before this one expires: joining later still works.
        if (m.expires_at) timer = setTimeout(() => load(0), Math.max(10000, m.expires_at - Date.now() - 60000));
      } catch (e) {
        if (stop) return;
        setError(e.code || 'unavailable');
        // `forbidden`: the server has already moved the person on; the page's next room
        // change asks again. Anything else is retried, less and less often.
        if (e.code !== 'forbidden' && e.code !== 'unauthorized') timer = setTimeout(() => load(attempt + 1), Math.min(30000, 2000 * 2 ** attempt));
      }
    };
    load(0);
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [disabled, convention, roomId, client.token, nonce]);
  const current = meeting && meeting.room === roomId ? meeting : null;
  return {
    disabled,
    roomId,
    meeting: current,
    provider: meeting ? meeting.provider : null,
    error,
    joined,
    set: setJoined,
    collapsed,
    setCollapsed,
    retry: () => setNonce((n) => n + 1),
  };
}

/** In the room view's side column: a word when the video is not configured on this server;
 * how to turn it on (the server's flags) for facilitators only, who can pass it on: a citizen
 * was shown « --video jitsi ». */
export function VideoPanel({ video, facilitator = false }) {
  if (!video || video.disabled || video.provider !== 'off') return null;
  return (
    <Section id="video" title={t('video.title')} class="video-card">
      <p>{t('video.off')}</p>
      {facilitator ? (
        <details class="small">
          <summary>{t('video.off_how_title')}</summary>
          <p>{t('video.off_how')}</p>
        </details>
      ) : null}
    </Section>
  );
}

/**
 * The dock: at the top of the main area. Before joining it shows only on the room view (a
 * compact card with the join button); once joined, on every tab, with the meeting.
 */
export function VideoDock({ client, video, inRoomView }) {
  const snap = client.snap;
  const roomId = video.roomId || PLENARY;
  const [switched, setSwitched] = useState(null);
  const prev = useRef(roomId);
  useEffect(() => {
    if (prev.current !== roomId) {
      prev.current = roomId;
      setSwitched(video.joined ? roomId : null);
    }
  }, [roomId]);
  if (video.disabled || !video.provider || video.provider === 'off') return null;
  if (!video.joined && !inRoomView) return null;
  const m = video.meeting;
  const name = roomName(snap, roomId);
  const link = meetingLink(m);
  const bodyId = 'video-dock-body';
  const embeds = video.provider === 'jitsi' || video.provider === 'livekit';
  return (
    <section class={`video-dock${video.joined ? ' joined' : ''}${video.collapsed ? ' collapsed' : ''}`} id="video-dock" aria-label={t('video.dock', { room: name })}>
      <div class="row video-dock-head">
        <strong class="grow"><Icon name="video" /> {name}</strong>
        {embeds && video.joined ? (
          <button type="button" class="btn small" aria-label={video.collapsed ? t('video.expand') : t('video.collapse')} aria-expanded={video.collapsed ? 'false' : 'true'} aria-controls={bodyId} onClick={() => video.setCollapsed(!video.collapsed)}>
            {video.collapsed ? t('video.expand_short') : t('video.collapse_short')}
          </button>
        ) : null}
        {embeds && video.joined ? (
          <button type="button" class="btn small" aria-label={t('video.leave')} onClick={() => { video.set(false); setSwitched(null); }}>{t('video.leave_short')}</button>
        ) : null}
      </div>
      {switched && video.joined ? <p class="small" role="status">{t('video.switched', { room: roomName(snap, switched) })}</p> : null}
      <div class="video-body" id={bodyId}>
        {!m ? (
          video.error ? (
            <p class="small">{t('video.error')} <button type="button" class="btn small" onClick={video.retry}>{t('video.retry')}</button></p>
          ) : <p class="small muted">{t('common.loading')}</p>
        ) : !embeds ? (
          <div class="row wrap">
            <p class="small muted grow">{t('video.link_explain', { room: name })}</p>
            {link ? <a class="btn primary" href={link} target="_blank" rel="noopener noreferrer"><Icon name="video" /> {t('video.open_link')}</a> : null}
          </div>
        ) : !video.joined ? (
          <div class="row wrap">
            <p class="small muted grow">{t('video.explain', { room: name })}</p>
            <button type="button" class="btn primary" onClick={() => { video.set(true); video.setCollapsed(false); }}><Icon name="video" /> {t('video.join')}</button>
          </div>
        ) : m.provider === 'jitsi' ? (
          <JitsiMeeting meeting={m} name={client.you.name} title={t('video.frame', { room: name })} />
        ) : (
          <LiveKitMeeting meeting={m} client={client} title={t('video.frame', { room: name })} />
        )}
        {embeds && link ? <p class="video-foot small"><a href={link} target="_blank" rel="noopener noreferrer">{t('video.open_tab')}</a></p> : null}
      </div>
    </section>
  );
}

/** The IFrame API of each Jitsi deployment, loaded once from it. */
const jitsiApis = new Map();
function loadJitsi(url) {
  const src = `${url.replace(/\/+$/, '')}/external_api.js`;
  if (!jitsiApis.has(src)) {
    jitsiApis.set(src, new Promise((resolve, reject) => {
      if (window.JitsiMeetExternalAPI) return resolve(window.JitsiMeetExternalAPI);
      const s = document.createElement('script');
      s.src = src;
      s.async = true;
      s.onload = () => (window.JitsiMeetExternalAPI ? resolve(window.JitsiMeetExternalAPI) : reject(new Error('no JitsiMeetExternalAPI')));
      s.onerror = () => {
        jitsiApis.delete(src);
        reject(new Error(`cannot load ${src}`));
      };
      document.head.appendChild(s);
    }));
  }
  return jitsiApis.get(src);
}

/** A Jitsi meeting through its IFrame API; a new instance for each meeting (each move). */
function JitsiMeeting({ meeting, name, title }) {
  const box = useRef(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let api = null;
    let stop = false;
    setFailed(false);
    loadJitsi(meeting.url).then((Api) => {
      if (stop || !box.current) return;
      api = new Api(jitsiDomain(meeting.url), { ...jitsiOptions(meeting, name, getLang()), parentNode: box.current });
      const frame = box.current.querySelector('iframe');
      if (frame) frame.title = title;
    }, () => {
      if (!stop) setFailed(true);
    });
    return () => {
      stop = true;
      if (api) api.dispose();
    };
  }, [meeting.meeting]);
  return (
    <>
      {/* The IFrame API owns this element's children. */}
      <div class="video-frame" ref={box} data-meeting={meeting.meeting} />
      {failed ? <p class="small warn-text" role="alert">{t('video.jitsi_failed', { host: new URL(meeting.url).host })}</p> : null}
    </>
  );
}

/** LiveKit's tiles inside Convene's own view, joined with the livekit-client SDK. */
function LiveKitMeeting({ meeting, client, title }) {
  const [state, setState] = useState({ status: 'connecting', tiles: [], mic: false, cam: false, micAllowed: meeting.may_speak !== false });
  const [attempt, setAttempt] = useState(0);
  const roomRef = useRef(null);
  const audio = useRef(null);
  useEffect(() => {
    let stop = false;
    let room = null;
    const set = (patch) => {
      if (!stop) setState((s) => ({ ...s, ...patch }));
    };
    (async () => {
      set({ status: 'connecting', tiles: [] });
      let lk;
      try {
        lk = await import('livekit-client');
      } catch {
        set({ status: 'failed' });
        return;
      }
      if (stop) return;
      room = new lk.Room({ adaptiveStream: true, dynacast: true });
      roomRef.current = room;
      const refresh = () => set(lkState(room, lk, meeting));
      const E = lk.RoomEvent;
      for (const ev of [E.ParticipantConnected, E.ParticipantDisconnected, E.TrackSubscribed, E.TrackUnsubscribed, E.TrackMuted, E.TrackUnmuted, E.LocalTrackPublished, E.LocalTrackUnpublished, E.ActiveSpeakersChanged, E.ParticipantPermissionsChanged]) room.on(ev, refresh);
      // Others are heard through audio elements of their own, out of sight.
      room.on(E.TrackSubscribed, (track) => {
        if (track.kind === 'audio' && audio.current) audio.current.appendChild(track.attach());
      });
      room.on(E.TrackUnsubscribed, (track) => {
        for (const el of track.detach()) el.remove();
      });
      room.on(E.Reconnecting, () => set({ status: 'reconnecting' }));
      room.on(E.Reconnected, () => set({ status: 'connected' }));
      // Put out by the server (or the network, past the SDK's own retries): say so, offer again.
      room.on(E.Disconnected, () => set({ status: 'failed' }));
      try {
        await room.connect(meeting.url, meeting.token);
      } catch {
        set({ status: 'failed' });
        return;
      }
      if (stop) return;
      set({ status: 'connected' });
      refresh();
      if (!meeting.observer) {
        // Camera on; the microphone too, except where one joins muted (the plenary).
        try {
          await room.localParticipant.setCameraEnabled(true);
        } catch {
          /* no camera, or refused: the person can try again with the button */
        }
        if (!meeting.start_muted) {
          try {
            await room.localParticipant.setMicrophoneEnabled(true);
          } catch {
            /* idem */
          }
        }
      }
      refresh();
    })();
    return () => {
      stop = true;
      roomRef.current = null;
      if (room) room.disconnect();
    };
  }, [meeting.meeting, attempt]);
  const toggle = async (what) => {
    const room = roomRef.current;
    if (!room) return;
    try {
      if (what === 'mic') await room.localParticipant.setMicrophoneEnabled(!state.mic);
      else await room.localParticipant.setCameraEnabled(!state.cam);
    } catch {
      /* refused by the browser or by the server's permissions: the state says which */
    }
  };
  const snap = client.snap;
  return (
    <div class="lk" aria-label={title} role="region">
      {state.status === 'failed' ? (
        <p class="small warn-text" role="alert">{t('video.lk_failed')} <button type="button" class="btn small" onClick={() => setAttempt((a) => a + 1)}>{t('video.retry')}</button></p>
      ) : state.status !== 'connected' ? (
        <p class="small muted" role="status">{t(state.status === 'reconnecting' ? 'video.lk_reconnecting' : 'video.lk_connecting')}</p>
      ) : null}
      <div class="lk-grid">
        {state.tiles.map((tile) => <Tile key={tile.id} tile={tile} name={tile.local ? t('video.you', { name: nameOf(snap, tile.id) }) : nameOf(snap, tile.id)} />)}
      </div>
      <div ref={audio} hidden />
      {meeting.observer ? <p class="small muted">{t('video.observer')}</p> : (
        <div class="row wrap lk-controls">
          <button type="button" class="btn small" aria-pressed={state.mic ? 'true' : 'false'} disabled={state.status !== 'connected' || (!state.mic && !state.micAllowed)} onClick={() => toggle('mic')}>
            <Icon name="mic" /> {state.mic ? t('video.mic_off') : t('video.mic_on')}
          </button>
          <button type="button" class="btn small" aria-pressed={state.cam ? 'true' : 'false'} disabled={state.status !== 'connected'} onClick={() => toggle('cam')}>
            <Icon name="video" /> {state.cam ? t('video.cam_off') : t('video.cam_on')}
          </button>
          {!state.micAllowed ? <p class="small muted">{t('video.mic_floor')}</p> : null}
        </div>
      )}
    </div>
  );
}

/** LiveKit's `TrackSource.MICROPHONE` (protocol enum; the SDK does not export the enum). */
const MICROPHONE = 2;

/** The room's participants as tiles, and what the local person may and does publish. */
function lkState(room, lk, meeting) {
  const S = lk.Track.Source;
  const tile = (p, local) => {
    const pub = p.getTrackPublication(S.Camera);
    return { id: p.identity, local, video: pub && !pub.isMuted ? pub.track || null : null, micOn: p.isMicrophoneEnabled, speaking: p.isSpeaking };
  };
  const lp = room.localParticipant;
  const perm = lp.permissions;
  // The server's permission, once connected; before, what the meeting said.
  const micAllowed = perm ? perm.canPublish && (!perm.canPublishSources || perm.canPublishSources.length === 0 || perm.canPublishSources.includes(MICROPHONE)) : meeting.may_speak !== false;
  const tiles = [...(meeting.observer ? [] : [tile(lp, true)]), ...[...room.remoteParticipants.values()].map((p) => tile(p, false))];
  return { tiles, mic: lp.isMicrophoneEnabled, cam: lp.isCameraEnabled, micAllowed };
}

function Tile({ tile, name }) {
  const el = useRef(null);
  useEffect(() => {
    const v = el.current;
    if (!tile.video || !v) return undefined;
    tile.video.attach(v);
    return () => tile.video.detach(v);
  }, [tile.video]);
  return (
    <figure class={`lk-tile${tile.speaking ? ' speaking' : ''}`}>
      {tile.video ? <video ref={el} autoplay playsinline muted /> : <span class="lk-initial" aria-hidden="true">{(name || '?').slice(0, 1)}</span>}
      <figcaption>{name}{tile.micOn ? null : <span class="sr-only">, {t('video.muted')}</span>}{tile.micOn ? null : <span aria-hidden="true"> · 🔇</span>}</figcaption>
    </figure>
  );
}
