// Exports over HTTP with the invitation token in a header, never in the URL: a URL ends up in
// proxy logs and browser history, so the page fetches with `Authorization: Bearer` and hands
// the browser a blob (saved as a file, or shown in a new tab). The server refuses `?token=`
// on these routes; only the y-websocket endpoint, where a browser cannot set a header, takes it.

import { useState } from 'preact/hooks';
import { t, getLang } from '../i18n.js';

/**
 * The spreadsheet form of the export at `path` (PROTOCOL.md, "Spreadsheets"): `.xlsx`, headers
 * in the page's language, dates and times in the browser's time zone.
 */
export function sheetPath(path) {
  let tz = 'UTC';
  try {
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    // An old browser without time zones: UTC, which the sheet's headers say.
  }
  const sep = path.includes('?') ? '&' : '?';
  return `${path}${sep}format=xlsx&lang=${getLang()}&tz=${encodeURIComponent(tz)}`;
}

/** `fetch` of an API path with the participant's own token as a Bearer header. */
export function apiFetch(client, path, init = {}) {
  return fetch(path, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${client.token}` } });
}

/**
 * The audit trail (its export) read into `client.audit`, which live `audit` messages then
 * extend. The panels that show it (the trail, the moderation log) share one request; `fresh`
 * reads it again (checking the chain wants everything up to now).
 */
export function loadAudit(client, fresh = false) {
  if (!fresh && client.auditLoad) return client.auditLoad;
  const path = `/api/conventions/${encodeURIComponent(client.snap.convention.id)}/audit`;
  const load = apiFetch(client, path)
    .then((r) => (r.ok ? r.text() : Promise.reject(new Error(String(r.status)))))
    .then((text) => {
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        const e = JSON.parse(line);
        client.audit.set(e.n, e);
      }
      client.notify();
    });
  // A failed read is tried again by the next panel that asks.
  client.auditLoad = load.catch((err) => {
    client.auditLoad = null;
    throw err;
  });
  return client.auditLoad;
}

async function blobOf(client, path) {
  const r = await apiFetch(client, path);
  if (!r.ok) throw new Error(String(r.status));
  return r.blob();
}

/** A blob URL lives as long as the page: let it go once the browser has read it. */
function release(url) {
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Save `blob` as a file named `filename` (also for files the page makes itself). */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  release(url);
}

/** Download the export at `path` as `filename`. */
export async function saveExport(client, path, filename) {
  saveBlob(await blobOf(client, path), filename);
}

/**
 * Show the export at `path` (an HTML page) in a new tab. The tab opens at the click, while the
 * browser still counts it as the person's doing, and receives the page once fetched; if the
 * browser blocked it, the page is saved as `filename` instead.
 */
export async function viewExport(client, path, filename) {
  const tab = window.open('', '_blank');
  let blob;
  try {
    blob = await blobOf(client, path);
  } catch (e) {
    if (tab) tab.close();
    throw e;
  }
  if (!tab) {
    saveBlob(blob, filename);
    return;
  }
  const url = URL.createObjectURL(blob);
  tab.opener = null;
  tab.location.href = url;
  release(url);
}

/** A button that downloads (or, with `view`, shows) an export; says so when it fails. */
export function ExportButton({ client, path, filename, view = false, small = false, children }) {
  const [state, setState] = useState(null);
  const run = async () => {
    setState('busy');
    try {
      await (view ? viewExport(client, path, filename) : saveExport(client, path, filename));
      setState(null);
    } catch {
      setState('error');
    }
  };
  return (
    <span class="export-btn">
      <button type="button" class={`btn${small ? ' small' : ''}`} data-export={path} onClick={run} aria-busy={state === 'busy' ? 'true' : undefined}>{children}</button>
      {state === 'error' ? <span class="warn-text small" role="alert">{t('export.failed')}</span> : null}
    </span>
  );
}
