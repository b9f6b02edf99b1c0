// Entry point: read the invitation token from the URL fragment (#token=CONV.32hex), connect,
// and render. The token stays in the fragment, which browsers never send to servers.

import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import { t, initLang, getLang, setLang, LANGS } from './i18n.js';
import { Client } from './client.js';
import { App } from './ui/app.jsx';

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

function Landing() {
  const [value, setValue] = useState('');
  const [bad, setBad] = useState(false);
  const [lang, setL] = useState(getLang());
  const other = LANGS.find((l) => l !== lang);
  const submit = (e) => {
    e.preventDefault();
    const v = value.trim();
    const hash = v.includes('#') ? v.slice(v.indexOf('#')) : v.includes('token=') ? `#${v.slice(v.indexOf('token='))}` : `#token=${v}`;
    const tok = tokenFromHash(hash);
    if (!tok) {
      setBad(true);
      return;
    }
    location.hash = `token=${tok}`;
    location.reload();
  };
  return (
    <main id="main" class="center-page">
      <div class="top-row">
        <h1>Convene</h1>
        <button type="button" class="btn small lang" lang={other} onClick={() => { setLang(other); setL(other); }}>{t('lang.other')}</button>
      </div>
      <p>{t('landing.intro')}</p>
      <form class="stack" onSubmit={submit}>
        <label for="invite">{t('landing.paste')}</label>
        <input id="invite" type="text" value={value} onInput={(e) => { setValue(e.currentTarget.value); setBad(false); }} aria-invalid={bad ? 'true' : undefined} aria-describedby={bad ? 'invite-err' : undefined} autocomplete="off" />
        {bad ? <p id="invite-err" class="warn-text" role="alert">{t('landing.bad')}</p> : null}
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
