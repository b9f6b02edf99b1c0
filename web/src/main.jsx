// Entry point: read the invitation token from the URL fragment (#token=CONV.32hex), connect,
// and render. The token stays in the fragment, which browsers never send to servers.

import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import { t, initLang, getLang, setLang, LANGS } from './i18n.js';
import { Client } from './client.js';
import { App } from './ui/app.jsx';
// Public audience (§24).
import { startPublic } from './public/page.jsx';

const TOKEN_RE = /^[a-z0-9-]{1,40}\.[0-9a-f]{32}$/;

/** `#token=demo.abc…`, or a bare `#demo.abc…` (older links). */
export function tokenFromHash(hash) {
  const h = (hash || '').replace(/^#/, '');
  const params = new URLSearchParams(h);
  const tok = params.get('token') || (TOKEN_RE.test(h) ? h : null);
  return tok && TOKEN_RE.test(tok.trim()) ? tok.trim() : null;
}

function readConfig() {
  let cfg = {};
  const el = document.getElementById('convene-config');
  if (el) {
    try {
      cfg = JSON.parse(el.textContent);
    } catch {
      cfg = {};
    }
  }
  const video = { ...(cfg.video || {}) };
  const q = new URLSearchParams(location.search);
  // ?video=off: no embedded meeting (tests, or rooms that meet elsewhere).
  if (q.get('video') === 'off') video.disabled = true;
  return { video };
}

/** The token part of a pasted link, a fragment, or a bare token. */
function tokenPart(text) {
  const v = (text || '').trim();
  if (v.includes('token=')) return v.slice(v.indexOf('token=') + 6).split('&')[0];
  if (v.includes('#')) return v.slice(v.indexOf('#') + 1);
  return v;
}

/**
 * What is wrong with an invitation link: null if it is one, 'truncated' if it is one cut
 * short (a mail that wrapped the line, a copy that missed the end), 'bad' otherwise.
 */
export function linkProblem(text) {
  const part = tokenPart(text);
  if (!part) return 'bad';
  if (TOKEN_RE.test(part)) return null;
  // A convention's id and the start of a secret; or, after "token=", the id alone.
  if (/^[a-z0-9-]{1,40}\.[0-9a-f]{0,31}$/.test(part)) return 'truncated';
  return /token=/.test(text) && /^[a-z0-9-]{1,40}\.?$/.test(part) ? 'truncated' : 'bad';
}

function Landing() {
  // Opened with a link that is not a whole invitation: say so at once.
  const opened = (location.hash || '').replace(/^#/, '');
  const [value, setValue] = useState('');
  const [problem, setProblem] = useState(opened ? { kind: linkProblem(opened), opened: true } : null);
  const [lang, setL] = useState(getLang());
  const other = LANGS.find((l) => l !== lang);
  const submit = (e) => {
    e.preventDefault();
    const kind = linkProblem(value);
    if (kind) {
      setProblem({ kind, opened: false });
      return;
    }
    location.hash = `token=${tokenPart(value)}`;
    location.reload();
  };
  const bad = !!problem;
  const message = problem ? t(problem.kind === 'truncated' ? (problem.opened ? 'landing.truncated_opened' : 'landing.truncated') : 'landing.bad') : null;
  return (
    <main id="main" class="center-page">
      <div class="top-row">
        <h1>Convene</h1>
        <button type="button" class="btn small lang" lang={other} aria-label={t('lang.switch_to')} onClick={() => { setLang(other); setL(other); }}>{t('lang.other')}</button>
      </div>
      <p>{t('landing.intro')}</p>
      <form class="stack" onSubmit={submit}>
        <label for="invite">{t('landing.paste')}</label>
        <input id="invite" type="text" value={value} onInput={(e) => { setValue(e.currentTarget.value); setProblem(null); }} aria-invalid={bad ? 'true' : undefined} aria-describedby={bad ? 'invite-err' : undefined} autocomplete="off" />
        {bad ? <p id="invite-err" class="warn-text" role="alert" data-problem={problem.kind}>{message}</p> : null}
        <button type="submit" class="btn primary">{t('landing.join')}</button>
      </form>
      <p class="small muted">{t('landing.privacy')}</p>
    </main>
  );
}

/** http(s)://host[:port] -> ws(s)://host[:port]/ws, or null. */
export function wsUrlOf(base) {
  try {
    const u = new URL(base);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return `${u.protocol === 'https:' ? 'wss' : 'ws'}://${u.host}/ws`;
  } catch {
    return null;
  }
}

/**
 * The cluster's other nodes (GET /nodes, PROTOCOL.md section 5), for the client to reconnect
 * to when this one goes. Without it (a single server, or the request failed) the page keeps
 * to its own origin, as before.
 */
async function loadNodes(client) {
  try {
    const r = await fetch('/nodes', { cache: 'no-store' });
    if (!r.ok) return;
    const body = await r.json();
    const urls = (Array.isArray(body.nodes) ? body.nodes : []).map(wsUrlOf).filter(Boolean);
    if (urls.length) client.setNodes(urls);
  } catch {
    // Keep to this origin.
  }
}

function start() {
  initLang();
  const root = document.getElementById('app');
  root.textContent = '';
  // Public audience (§24): /public is the page of the public link, not a participant's.
  if (location.pathname === '/public') {
    startPublic(root);
    return;
  }
  // The organizer console: a chunk of its own, loaded only here.
  if (/^\/organisation\/?$/.test(location.pathname)) {
    import('./organizer/page.jsx').then((m) => m.startOrganizer(root));
    return;
  }
  const token = tokenFromHash(location.hash);
  if (!token) {
    render(<Landing />, root);
    return;
  }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const client = new Client(url, token);
  loadNodes(client);
  // For the end-to-end tests and for curious people: the live state, read-only by intent.
  window.__convene = client;
  const config = readConfig();
  const rerender = () => render(<App client={client} videoConfig={config.video} />, root);
  client.hooks.onLang = rerender;
  rerender();
  client.start();
  window.addEventListener('hashchange', () => {
    const tok = tokenFromHash(location.hash);
    if (tok && tok !== token) location.reload();
  });
}

start();
