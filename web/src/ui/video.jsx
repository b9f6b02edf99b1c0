// The room's video meeting. Convene carries no audio or video: each room gets a link made
// from a template (web/config.json, `video.template`, default a Jitsi Meet room named after
// the convention and the room). The meeting loads only when the person asks for it; it then
// lives in a dock that stays open across the tabs, and follows the person when the server
// moves them to another room.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { person, PLENARY } from '../reduce.js';
import { roomName, Section } from './common.jsx';
import { videoUrl } from '../video-url.js';
import { Icon } from './icons.jsx';

/** The card in the room view: join (or say where the meeting is). */
export function VideoPanel({ client, roomId, config, video }) {
  if (!config || !config.template) return null;
  const snap = client.snap;
  const url = videoUrl(config.template, snap.convention.id, roomId);
  const name = roomName(snap, roomId);
  return (
    <Section id="video" title={t('video.title')} class="video-card">
      {config.disabled ? (
        <p class="muted">{t('video.disabled')}</p>
      ) : video.joined ? (
        <p>{t('video.in_dock', { room: name })}</p>
      ) : (
        <>
          <p class="muted">{t('video.explain', { room: name })}</p>
          <div class="row wrap">
            <button type="button" class="btn primary" onClick={() => video.set(true)}><Icon name="video" /> {t('video.join')}</button>
            <a class="btn" href={url} target="_blank" rel="noopener noreferrer">{t('video.open_tab')}</a>
          </div>
        </>
      )}
    </Section>
  );
}

/** The meeting itself, once joined: one iframe that follows the room. */
export function VideoDock({ client, config, video }) {
  const snap = client.snap;
  const me = person(snap, client.you.id);
  const roomId = me ? me.room : PLENARY;
  const [switched, setSwitched] = useState(null);
  const prev = useRef(roomId);
  useEffect(() => {
    if (prev.current !== roomId) {
      prev.current = roomId;
      setSwitched(roomId);
    }
  }, [roomId]);
  if (!video.joined || !config || !config.template || config.disabled) return null;
  const url = videoUrl(config.template, snap.convention.id, roomId);
  const name = roomName(snap, roomId);
  return (
    <aside class="video-dock" id="video-dock" aria-label={t('video.dock', { room: name })}>
      <div class="row wrap video-dock-head">
        <strong class="grow"><Icon name="video" /> {name}</strong>
        <a class="btn small" href={url} target="_blank" rel="noopener noreferrer">{t('video.open_tab')}</a>
        <button type="button" class="btn small" onClick={() => { video.set(false); setSwitched(null); }}>{t('video.leave')}</button>
      </div>
      {switched ? <p class="small" role="status">{t('video.switched', { room: roomName(snap, switched) })}</p> : null}
      <div class="video-frame">
        <iframe key={url} src={url} title={t('video.frame', { room: name })} allow="camera; microphone; fullscreen; display-capture; autoplay" />
      </div>
    </aside>
  );
}
