// The room's video meeting, as the server hands it out (GET /api/conventions/{id}/video,
// PROTOCOL.md section 19): which service, the meeting's opaque name, the person's token.
// Pure helpers (no DOM), tested in node: the request, and what the Jitsi IFrame API is given.

/** The meeting of the room the person is in; rejects with {code} (PROTOCOL.md error codes). */
export async function fetchMeeting(convention, token, room, fetchFn = fetch) {
  const q = room ? `?room=${encodeURIComponent(room)}` : '';
  let r;
  try {
    r = await fetchFn(`/api/conventions/${encodeURIComponent(convention)}/video${q}`, {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
    });
  } catch {
    throw Object.assign(new Error('network'), { code: 'unavailable' });
  }
  let body = null;
  try {
    body = await r.json();
  } catch {
    body = null;
  }
  if (!r.ok) throw Object.assign(new Error((body && body.message) || `HTTP ${r.status}`), { code: (body && body.code) || 'unavailable' });
  return body;
}

/** What JitsiMeetExternalAPI takes as its domain: host[:port][/tenant], from the base URL. */
export function jitsiDomain(url) {
  const u = new URL(url);
  return `${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * The options of `new JitsiMeetExternalAPI(domain, options)` for a meeting: its opaque room
 * and the person's token, their name, no pre-join screen (a move must not ask again), muted
 * on entry where the server says so (the plenary), camera off for observers, and no
 * invitation to install the mobile app.
 */
export function jitsiOptions(meeting, displayName, lang) {
  return {
    roomName: meeting.meeting,
    jwt: meeting.token,
    width: '100%',
    height: '100%',
    noSSL: new URL(meeting.url).protocol === 'http:',
    lang,
    userInfo: { displayName },
    configOverwrite: {
      prejoinConfig: { enabled: false },
      prejoinPageEnabled: false,
      startWithAudioMuted: !!meeting.start_muted,
      startWithVideoMuted: !!meeting.observer,
      disableDeepLinking: true,
      defaultLanguage: lang,
    },
    interfaceConfigOverwrite: { MOBILE_APP_PROMO: false },
  };
}

/** The meeting in a page of its own ("open in a new tab"), or null where there is none. */
export function meetingLink(meeting) {
  if (!meeting || !meeting.url) return null;
  if (meeting.provider === 'link') return meeting.url;
  if (meeting.provider === 'jitsi') return `${meeting.url.replace(/\/+$/, '')}/${encodeURIComponent(meeting.meeting)}?jwt=${encodeURIComponent(meeting.token)}`;
  return null;
}
