// The room's video meeting. Convene carries no audio or video: each room gets a link made
// from a template (web/config.json, `video.template`, default a Jitsi Meet room named after
// the convention and the room). The embed loads only when the person asks for it, and
// follows them when the server moves them to another room.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { roomName, Section } from './common.jsx';

export function videoUrl(template, convention, room) {
  const clean = (s) => String(s).toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  return template
    .replaceAll('{convention}', encodeURIComponent(clean(convention)))
    .replaceAll('{room}', encodeURIComponent(clean(room)));
}

export function VideoPanel({ client, roomId, config }) {
  const [joined, setJoined] = useState(false);
  const [switched, setSwitched] = useState(null);
  const prevRoom = useRef(roomId);
  useEffect(() => {
    if (prevRoom.current !== roomId) {
      prevRoom.current = roomId;
      if (joined) setSwitched(roomId);
    }
  }, [roomId, joined]);
  if (!config || !config.template) return null;
  const snap = client.snap;
  const url = videoUrl(config.template, snap.convention.id, roomId);
  const name = roomName(snap, roomId);
  return (
    <Section id="video" title={t('video.title')} class="video-card">
      {config.disabled ? (
        <p class="muted">{t('video.disabled')}</p>
      ) : joined ? (
        <>
          {switched ? <p class="notice" role="status">{t('video.switched', { room: roomName(snap, switched) })}</p> : null}
          <div class="video-frame">
            <iframe key={url} src={url} title={t('video.frame', { room: name })} allow="camera; microphone; fullscreen; display-capture; autoplay" />
          </div>
          <div class="row wrap">
            <button type="button" class="btn" onClick={() => { setJoined(false); setSwitched(null); }}>{t('video.leave')}</button>
            <a class="btn" href={url} target="_blank" rel="noopener noreferrer">{t('video.open_tab')}</a>
          </div>
        </>
      ) : (
        <>
          <p class="muted">{t('video.explain', { room: name })}</p>
          <div class="row wrap">
            <button type="button" class="btn primary" onClick={() => setJoined(true)}>🎥 {t('video.join')}</button>
            <a class="btn" href={url} target="_blank" rel="noopener noreferrer">{t('video.open_tab')}</a>
          </div>
        </>
      )}
    </Section>
  );
}
