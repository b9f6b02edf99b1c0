// The organizer console (« Espace organisation », /organisation): what the organizer HTTP API
// does (README, PROTOCOL.md), for people who are not curl users. Loaded as a chunk of its own
// from main.jsx, so the citizens' page does not carry it.
//
// The organizer token is kept in sessionStorage only (gone when the tab closes), never in the
// URL nor localStorage, and sent as `Authorization: Bearer`. Invitation links and the public
// link are shown once by the server (it keeps only their hashes): the page keeps the ones it
// issued in memory for as long as it is open, and says so.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, getLang, setLang, LANGS, onLang, fmtTime, addDict } from '../i18n.js';
import { DICT as ORGANIZER_DICT } from './i18n.js';
import { invitationMatches, invitationState } from './search.js';
import { ExportButton, saveBlob, sheetPath } from '../ui/download.jsx';
import { useId, useQuestionFocus } from '../ui/common.jsx';

// The console's own strings, kept out of the shared dictionary that every page carries.
addDict(ORGANIZER_DICT);

const TOKEN_KEY = 'convene.organizer.token';
const ROLES = ['facilitator', 'rapporteur', 'guarantor', 'expert', 'citizen'];

function readToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

function keepToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage refused: the token lasts as long as the page.
  }
}

/** A refusal of the API: its HTTP status, code, English message and roster problems. */
class ApiFailure extends Error {
  constructor(status, body) {
    super((body && body.message) || String(status));
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? 'network' : 'internal');
    this.problems = (body && Array.isArray(body.problems) && body.problems) || [];
    this.wrong = (body && body.wrong_entries) || this.problems.length;
  }
}

/** A call of the organizer API: the JSON answer (null for 204), or an ApiFailure. */
async function call(token, method, path, { json, text, type } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  let body;
  if (json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (text !== undefined) {
    headers['content-type'] = type;
    body = text;
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, null);
  }
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) throw new ApiFailure(r.status, data);
  return data;
}

/** One of the console's reads (`read` sets what it read): true once done; a refusal is said
 * (`setError`, cleared once a read succeeds), an expired token signs out (`onExpired`). */
async function reading(read, setError, onExpired) {
  try {
    await read();
    setError(null);
    return true;
  } catch (err) {
    if (err.code === 'unauthorized') onExpired();
    else setError(err);
    return false;
  }
}

/** A refusal in words: the page's own translation (`specific`, by code), else the code's. */
function failureWords(e, specific = {}) {
  if (specific[e.code]) return t(specific[e.code]);
  if (e.code === 'network') return t('org.err.network');
  if (e.code === 'unauthorized') return t('org.err.expired');
  const reason = t(`err.${e.code}`);
  return t('org.err_refused', { reason: reason === `err.${e.code}` ? t('err.internal') : reason });
}

/** The server's own words (in English), as a detail under the page's. */
function ServerSaid({ message }) {
  return <p class="small muted">{t('org.server_said')} <span lang="en">{message}</span></p>;
}

/** An error said to everyone (role=alert), with the server's own words as detail. */
function Failure({ error, specific, id }) {
  if (!error) return null;
  const words = failureWords(error, specific);
  return (
    <div class="notice error" role="alert" id={id} data-code={error.code}>
      <p>{words}</p>
      {error.code !== 'network' && error.message && !specific?.[error.code] ? <ServerSaid message={error.message} /> : null}
    </div>
  );
}

/** Copy `text`; true if it worked (the clipboard API, else a selected field). */
async function copyText(text, field) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!field) return false;
    field.focus();
    field.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** A read-only link with a « Copier » button; says « Copié » in a live region. */
function CopyLink({ url, label, testid }) {
  const id = useId('link');
  const field = useRef(null);
  const [said, setSaid] = useState('');
  const copy = async () => {
    const ok = await copyText(url, field.current);
    setSaid(ok ? t('org.copied') : t('org.copy_failed'));
  };
  return (
    <div class="org-link" data-testid={testid}>
      <label for={id} class="sr-only">{label}</label>
      <input id={id} ref={field} type="text" readOnly value={url} class="org-link-field" onFocus={(e) => e.currentTarget.select()} />
      <button type="button" class="btn small" onClick={copy} aria-describedby={`${id}-said`}>{t('org.copy')}</button>
      <span id={`${id}-said`} class="small ok" role="status" aria-live="polite">{said}</span>
    </div>
  );
}

/** A button that asks in the page before acting (the client's confirm pattern): the question,
 * « Confirmer » (red), « Annuler »; the focus comes back to the button after. */
function ConfirmButton({ question, onConfirm, children, class: cls = 'btn small danger', testid }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const focus = useQuestionFocus(asking);
  const answer = async (yes) => {
    focus.giveBack();
    setAsking(false);
    if (!yes) return;
    setBusy(true);
    try {
      await onConfirm();
    } finally {
      setBusy(false);
    }
  };
  if (asking) {
    return (
      <span class="confirm-inline" role="group" aria-label={question} data-testid="confirm">
        <span class="confirm-question" role="alert">{question}</span>
        <button type="button" class="btn danger small" data-testid="confirm-yes" ref={focus.question} onClick={() => answer(true)}>{t('common.confirm')}</button>
        <button type="button" class="btn small" data-testid="confirm-no" onClick={() => answer(false)}>{t('common.cancel')}</button>
      </span>
    );
  }
  return (
    <button type="button" class={cls} ref={focus.opener} data-testid={testid} aria-busy={busy ? 'true' : undefined} onClick={busy ? undefined : () => setAsking(true)}>{children}</button>
  );
}

/** Once the page has re-rendered, focus the first element of `selector` (the control that
 * takes the place of one an action removed), so that the focus never falls to the page's top. */
function focusSoon(selector, fallback = null) {
  setTimeout(() => {
    const el = document.querySelector(selector) || (fallback && document.querySelector(fallback));
    if (el) el.focus();
  }, 0);
}

function roleList(roles) {
  return ROLES.filter((r) => roles.includes(r)).map((r) => t(`role.${r}`)).join(', ');
}

// ---- sign in --------------------------------------------------------------------------------

function SignIn({ onSignedIn, notice }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const field = useRef(null);
  useEffect(() => {
    if (field.current) field.current.focus();
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) {
      setError('org.signin_empty');
      field.current.focus();
      return;
    }
    setBusy(true);
    try {
      const list = await call(token, 'GET', '/api/conventions');
      keepToken(token);
      onSignedIn(token, list);
    } catch (err) {
      setError(err.code === 'unauthorized' ? 'org.signin_wrong' : err.code === 'network' ? 'org.err.network' : 'org.signin_failed');
      setBusy(false);
      field.current.focus();
    }
  };
  return (
    <form class="card stack org-signin" onSubmit={submit} noValidate>
      <h2>{t('org.signin_title')}</h2>
      {notice ? <p class="notice" role="status">{t(notice)}</p> : null}
      <p>{t('org.signin_intro')}</p>
      <label for="org-token">{t('org.token')}</label>
      <input id="org-token" ref={field} type="password" autocomplete="off" spellcheck={false} value={value} onInput={(e) => { setValue(e.currentTarget.value); setError(null); }} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'org-token-hint org-token-err' : 'org-token-hint'} />
      <p id="org-token-hint" class="small muted">{t('org.token_hint')}</p>
      {error ? <p id="org-token-err" class="field-error" role="alert" data-error={error}>{t(error)}</p> : null}
      <button type="submit" class="btn primary" aria-busy={busy ? 'true' : undefined}>{t('org.signin')}</button>
      <p class="small muted">{t('org.token_kept')}</p>
    </form>
  );
}

// ---- the list of conventions -----------------------------------------------------------------

function Conventions({ token, list, onOpen, onCreated, onExpired }) {
  const [name, setName] = useState('');
  const [id, setId] = useState('');
  const [error, setError] = useState(null);
  const [nameError, setNameError] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    if (!name.trim()) {
      setNameError(true);
      document.getElementById('org-new-name').focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { name: name.trim() };
      if (id.trim()) body.id = id.trim();
      const created = await call(token, 'POST', '/api/conventions', { json: body });
      setName('');
      setId('');
      onCreated(created);
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
      document.getElementById(err.code === 'invalid' || err.code === 'conflict' ? 'org-new-id' : 'org-new-name').focus();
    } finally {
      setBusy(false);
    }
  };
  const idError = error && (error.code === 'invalid' || error.code === 'conflict');
  return (
    <>
      <section class="card" aria-labelledby="org-list-title">
        <h2 id="org-list-title" tabindex="-1">{t('org.conventions')}</h2>
        {list.length === 0 ? <p class="muted">{t('org.no_conventions')}</p> : (
          <ul class="plain org-conventions">
            {list.map((c) => (
              <li key={c.id} class="row wrap" data-convention={c.id}>
                <span class="grow">
                  <strong>{c.name}</strong> <span class="muted small">({c.id})</span>
                  <br />
                  <span class="small">{t('org.conv_people', { n: c.participants })} · {t('org.conv_online', { n: c.online })}</span>
                </span>
                <button type="button" class="btn small secondary" onClick={() => onOpen(c.id)} aria-label={t('org.open_named', { name: c.name })}>{t('org.open')}</button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <form class="card stack" onSubmit={submit} noValidate aria-labelledby="org-new-title">
        <h2 id="org-new-title">{t('org.new')}</h2>
        <label for="org-new-name">{t('org.new_name')}</label>
        <input id="org-new-name" type="text" value={name} onInput={(e) => { setName(e.currentTarget.value); setNameError(false); }} aria-invalid={nameError ? 'true' : undefined} aria-describedby={nameError ? 'org-new-name-err' : undefined} />
        {nameError ? <p id="org-new-name-err" class="field-error" role="alert">{t('org.new_name_empty')}</p> : null}
        <label for="org-new-id">{t('org.new_id')}</label>
        <input id="org-new-id" type="text" autocomplete="off" spellcheck={false} value={id} onInput={(e) => { setId(e.currentTarget.value); setError(null); }} aria-invalid={idError ? 'true' : undefined} aria-describedby={idError ? 'org-new-id-hint org-new-err' : 'org-new-id-hint'} />
        <p id="org-new-id-hint" class="small muted">{t('org.new_id_hint')}</p>
        <Failure id="org-new-err" error={error} specific={{ invalid: 'org.new_err_invalid', conflict: 'org.new_err_conflict' }} />
        <button type="submit" class="btn primary" aria-busy={busy ? 'true' : undefined}>{t('org.create')}</button>
      </form>
    </>
  );
}

// ---- one convention -------------------------------------------------------------------------

/** A roster problem in words: « Ligne 4 : le nom est vide. » */
export function problemWords(p) {
  const where = p.line ? t('org.pb_line', { n: p.line }) : t('org.pb_entry', { n: p.entry });
  const who = p.name ? t('org.pb_who', { where, name: p.name }) : where;
  const what = t(`org.pb.${p.problem}`, { attribute: p.attribute || '', role: p.role || '' });
  return t('org.pb_item', { who, what: what.startsWith('org.pb.') ? p.problem : what });
}

/** A file's text: UTF-8, or else Windows-1252, the encoding of the CSV that Excel saves in
 * French by default (« CSV (séparateur : point-virgule) »), whose accents would otherwise
 * come out as « H�l�ne ». */
export function fileText(buffer) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    return new TextDecoder('windows-1252').decode(buffer);
  }
}

function ImportRoster({ token, conv, onImported, onExpired }) {
  const [text, setText] = useState('');
  const [fileName, setFileName] = useState('');
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(false);
  const result = useRef(null);
  const onFile = async (e) => {
    const f = e.currentTarget.files && e.currentTarget.files[0];
    if (!f) return;
    setText(fileText(await f.arrayBuffer()));
    setFileName(f.name);
    setError(null);
    setDone(null);
  };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    const body = text.replace(/^\uFEFF/, '');
    if (!body.trim()) {
      setError({ local: 'org.import_empty' });
      return;
    }
    // JSON if it looks like JSON (or the file says so), CSV otherwise.
    const json = /\.json$/i.test(fileName) || /^\s*[[{]/.test(body);
    setBusy(true);
    try {
      const r = await call(token, 'POST', `/api/conventions/${encodeURIComponent(conv)}/roster`, { text: body, type: json ? 'application/json' : 'text/csv; charset=utf-8' });
      setDone(r.added.length);
      setText('');
      setFileName('');
      const input = document.getElementById('org-import-file');
      if (input) input.value = '';
      await onImported();
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
    } finally {
      setBusy(false);
      setTimeout(() => result.current && result.current.focus(), 0);
    }
  };
  let errorView = null;
  if (error && error.local) {
    errorView = <div class="notice error" role="alert"><p>{t(error.local)}</p></div>;
  } else if (error && error.problems.length) {
    const more = error.wrong - error.problems.length;
    errorView = (
      <div class="notice error org-problems" role="alert" data-testid="import-errors">
        <p><strong>{t('org.import_wrong', { n: error.wrong })}</strong> {t('org.import_nothing')}</p>
        <ul>
          {error.problems.map((p) => <li key={`${p.entry}-${p.problem}`} data-line={p.line || undefined}>{problemWords(p)}</li>)}
        </ul>
        {more > 0 ? <p>{t('org.import_more', { n: more })}</p> : null}
        <p>{t('org.import_fix')}</p>
      </div>
    );
  } else if (error) {
    errorView = (
      <div class="notice error" role="alert" data-testid="import-errors" data-code={error.code}>
        <p>{error.code === 'bad_message' ? t('org.import_unreadable') : failureWords(error, { invalid: 'org.import_invalid' })} {t('org.import_nothing')}</p>
        <ServerSaid message={error.message} />
      </div>
    );
  }
  return (
    <section class="card" aria-labelledby="org-import-title" id="org-import">
      <h2 id="org-import-title">{t('org.import')}</h2>
      <p>{t('org.import_intro')}</p>
      <details>
        <summary>{t('org.import_format')}</summary>
        <p>{t('org.import_format_text')}</p>
        <pre class="org-sample">{'nom,roles,commune,age\nClaire Moreau,animatrice,,\nHélène Garnier,garante,,\nYannick Le Goff,citoyen,Rezé,35-49\nSophie Tessier,citoyenne;rapporteuse,Bouguenais,50-64\nMarc Lefèvre,expert,,'}</pre>
      </details>
      <form class="stack" onSubmit={submit} noValidate>
        <label for="org-import-file">{t('org.import_file')}</label>
        <input id="org-import-file" type="file" accept=".csv,.json,.txt,text/csv,application/json,text/plain" onChange={onFile} />
        <label for="org-import-text">{t('org.import_paste')}</label>
        <textarea id="org-import-text" rows="6" spellcheck={false} value={text} onInput={(e) => { setText(e.currentTarget.value); setFileName(''); }} />
        <button type="submit" class="btn primary" aria-busy={busy ? 'true' : undefined}>{t('org.import_send')}</button>
      </form>
      <div ref={result} tabindex="-1" class="org-result">
        {errorView}
        {done !== null ? <p class="notice" role="status" data-testid="import-done">{t('org.imported', { n: done })}</p> : null}
      </div>
    </section>
  );
}

function Roster({ people }) {
  const counts = ROLES.map((r) => [r, people.filter((p) => p.roles.includes(r)).length]).filter(([, n]) => n > 0);
  const attrs = [...new Set(people.flatMap((p) => Object.keys(p.attributes || {})))].sort();
  return (
    <section class="card" aria-labelledby="org-roster-title" id="org-roster">
      <h2 id="org-roster-title">{t('org.roster', { n: people.length })}</h2>
      {people.length === 0 ? <p class="muted">{t('org.roster_empty')}</p> : (
        <>
          <ul class="chips org-counts" aria-label={t('org.roster_counts')}>
            {counts.map(([r, n]) => <li key={r} class="badge" data-role={r}>{t('org.role_count', { role: t(`role.${r}`), n })}</li>)}
          </ul>
          <div class="table-wrap" tabindex="0" role="region" aria-labelledby="org-roster-title">
            <table class="org-roster-table">
              <thead>
                <tr><th scope="col">{t('org.col_name')}</th><th scope="col">{t('org.col_roles')}</th>{attrs.map((a) => <th scope="col" key={a}>{a}</th>)}</tr>
              </thead>
              <tbody>
                {people.map((p) => (
                  <tr key={p.id} data-person={p.id}>
                    <th scope="row">{p.name}</th>
                    <td>{roleList(p.roles)}</td>
                    {attrs.map((a) => <td key={a}>{(p.attributes || {})[a] || ''}</td>)}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

/** A cell of a CSV for French Excel: quoted when it must be, and never read as a formula. */
function csvCell(v) {
  let s = String(v ?? '');
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[;"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Every person's invitation as a CSV that French Excel opens as it is: UTF-8 with a BOM,
 * `;` between cells, CRLF; the link when this page has it, else why not. */
export function invitationsCsv(status, links) {
  const lines = [[t('org.csv_name'), t('org.csv_roles'), t('org.csv_id'), t('org.csv_status'), t('org.csv_link')]];
  const inactive = { revoked: 'org.inv_state_revoked', never: 'org.inv_state_never' };
  for (const s of status) {
    const url = s.active ? links[s.participant] || '' : '';
    const state = !s.active ? t(inactive[invitationState(s)]) : url ? t('org.inv_active') : t('org.csv_hidden');
    lines.push([s.name, roleList(s.roles), s.participant, state, url]);
  }
  return `\uFEFF${lines.map((l) => l.map(csvCell).join(';')).join('\r\n')}\r\n`;
}

function Invitations({ token, conv, status, links, onIssued, onChanged, onExpired }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState('');
  const waiting = status.filter((s) => !s.active).length;
  const issue = async (participants) => {
    setBusy(true);
    setError(null);
    try {
      const out = await call(token, 'POST', `/api/conventions/${encodeURIComponent(conv)}/invites`, { json: participants ? { participants } : {} });
      onIssued(out);
      setSaid(t('org.issued', { n: out.length }));
      await onChanged();
      if (participants) focusSoon(`#org-invitations li[data-participant="${participants[0]}"] button`, '#org-inv-search');
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (s) => {
    setError(null);
    try {
      await call(token, 'DELETE', `/api/conventions/${encodeURIComponent(conv)}/invites/${encodeURIComponent(s.participant)}`);
      setSaid(t('org.revoked', { name: s.name }));
      await onChanged();
      // The « Révoquer » button is gone: the focus goes to this person's next action.
      focusSoon(`#org-invitations li[data-participant="${s.participant}"] button`, '#org-inv-search');
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
    }
  };
  const known = status.filter((s) => s.active && links[s.participant]).length;
  const order = (s) => ROLES.findIndex((r) => s.roles.includes(r));
  const sorted = [...status].sort((a, b) => order(a) - order(b));
  const [filter, setFilter] = useState({ query: '', role: '', state: '' });
  const filtering = !!(filter.query.trim() || filter.role || filter.state);
  const shown = filtering ? sorted.filter((s) => invitationMatches(s, filter)) : sorted;
  const set = (k) => (e) => setFilter({ ...filter, [k]: e.currentTarget.value });
  const clear = () => {
    setFilter({ query: '', role: '', state: '' });
    focusSoon('#org-inv-search');
  };
  const download = () => {
    const blob = new Blob([invitationsCsv(sorted, links)], { type: 'text/csv;charset=utf-8' });
    saveBlob(blob, `invitations-${conv}.csv`);
  };
  return (
    <section class="card" aria-labelledby="org-inv-title" id="org-invitations">
      <h2 id="org-inv-title">{t('org.invitations')}</h2>
      <p>{t('org.inv_intro')}</p>
      <p class="small muted">{t('org.inv_once')}</p>
      <div class="row wrap">
        <button type="button" class="btn primary" aria-disabled={waiting === 0 ? 'true' : undefined} aria-busy={busy ? 'true' : undefined} onClick={busy || waiting === 0 ? undefined : () => issue(null)}>{t('org.inv_issue', { n: waiting })}</button>
        <button type="button" class="btn" disabled={status.length === 0} onClick={download} data-testid="download-invitations">{t('org.inv_download', { n: known })}</button>
      </div>
      <p class="small ok" role="status" aria-live="polite">{said}</p>
      <Failure error={error} />
      {sorted.length === 0 ? <p class="muted">{t('org.inv_none')}</p> : (
        <form class="org-inv-filter" role="search" aria-label={t('org.inv_filter')} onSubmit={(e) => e.preventDefault()} noValidate>
          <div class="stack org-inv-search">
            <label for="org-inv-search">{t('org.inv_search')}</label>
            <input id="org-inv-search" type="search" autocomplete="off" spellcheck={false} value={filter.query} onInput={set('query')} aria-describedby="org-inv-count" />
          </div>
          <div class="stack">
            <label for="org-inv-role">{t('org.inv_role')}</label>
            <select id="org-inv-role" value={filter.role} onChange={set('role')}>
              <option value="">{t('org.inv_role_any')}</option>
              {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}
            </select>
          </div>
          <div class="stack">
            <label for="org-inv-state">{t('org.inv_state')}</label>
            <select id="org-inv-state" value={filter.state} onChange={set('state')}>
              <option value="">{t('org.inv_state_any')}</option>
              <option value="active">{t('org.inv_active')}</option>
              <option value="inactive">{t('org.inv_state_inactive')}</option>
              <option value="revoked">{t('org.inv_state_revoked')}</option>
              <option value="never">{t('org.inv_state_never')}</option>
            </select>
          </div>
          <p id="org-inv-count" class="small org-inv-count" role="status" aria-live="polite" aria-atomic="true" data-testid="invite-count" data-shown={shown.length} data-total={sorted.length}>{t('org.inv_count', { n: shown.length, total: sorted.length })}</p>
        </form>
      )}
      {sorted.length > 0 && shown.length === 0 ? (
        <div class="org-inv-empty" data-testid="invite-empty">
          <p><strong>{t('org.inv_no_result')}</strong> {t('org.inv_no_result_hint')}</p>
          <button type="button" class="btn small" onClick={clear}>{t('org.inv_clear')}</button>
        </div>
      ) : null}
      {shown.length === 0 ? null : (
        <ul class="plain org-invites">
          {shown.map((s) => {
            const url = links[s.participant];
            return (
              <li key={s.participant} data-participant={s.participant} data-active={s.active ? 'true' : 'false'} data-invitation={invitationState(s)}>
                <p class="org-inv-who">
                  <strong>{s.name}</strong> <span class="small muted">{roleList(s.roles)}</span>
                  {s.active ? <span class="badge ok">{t('org.inv_active')}</span> : <span class="badge warn">{t(invitationState(s) === 'revoked' ? 'org.inv_revoked_badge' : 'org.inv_inactive')}</span>}
                </p>
                {s.active && url ? <CopyLink url={url} label={t('org.inv_link_of', { name: s.name })} testid="invite-link" /> : null}
                {s.active && !url ? <p class="small muted">{t('org.inv_hidden')}</p> : null}
                <div class="row wrap">
                  {s.active && url ? <a class="btn small" href={url} target="_blank" rel="noopener noreferrer">{t('org.inv_open')}<span class="sr-only"> ({s.name})</span></a> : null}
                  {s.active && !url ? <ConfirmButton class="btn small" testid="new-link" question={t('org.inv_new_link_q', { name: s.name })} onConfirm={() => issue([s.participant])}>{t('org.inv_new_link')}<span class="sr-only"> ({s.name})</span></ConfirmButton> : null}
                  {!s.active ? <button type="button" class="btn small" onClick={() => issue([s.participant])}>{t('org.inv_issue_one')}<span class="sr-only"> ({s.name})</span></button> : null}
                  {s.active ? <ConfirmButton testid="revoke" question={t('org.inv_revoke_q', { name: s.name })} onConfirm={() => revoke(s)}>{t('org.inv_revoke')}<span class="sr-only"> ({s.name})</span></ConfirmButton> : null}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** How people get in: their own link; facilitators first, and a warning when there is none. */
function HowToJoin({ people, status, links }) {
  const facilitators = people.filter((p) => p.roles.includes('facilitator'));
  const active = Object.fromEntries(status.map((s) => [s.participant, s.active]));
  return (
    <section class="card" aria-labelledby="org-join-title" id="org-join">
      <h2 id="org-join-title">{t('org.join')}</h2>
      <p>{t('org.join_intro')}</p>
      {facilitators.length === 0 ? <p class="notice warn" data-testid="no-facilitator">{t('org.no_facilitator')}</p> : null}
      {facilitators.length ? (
        <>
          <h3 class="h-small">{t('org.join_facilitators')}</h3>
          <ul class="plain">
            {facilitators.map((p) => (
              <li key={p.id}>
                <strong>{p.name}</strong>{' '}
                {links[p.id] && active[p.id] ? <a href={links[p.id]} target="_blank" rel="noopener noreferrer">{t('org.join_open')}</a> : <span class="small muted">{active[p.id] ? t('org.inv_hidden') : t('org.inv_inactive')}</span>}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

function PublicLink({ token, conv, link, setLink, onExpired }) {
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [live, setLive] = useState('');
  const [said, setSaid] = useState('');
  const base = `/api/conventions/${encodeURIComponent(conv)}/public-link`;
  const load = async () => {
    try {
      const s = await call(token, 'GET', base);
      setStatus(s);
      setLive(s.livestream || '');
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
    }
  };
  useEffect(() => {
    load();
  }, [conv]);
  // `then`: what takes the focus once done (the control that replaced the one pressed).
  const run = async (what, fn, then) => {
    setError(null);
    setSaid('');
    try {
      await fn();
      setSaid(t(what));
      await load();
      if (then) focusSoon(then);
    } catch (err) {
      if (err.code === 'unauthorized') return onExpired();
      setError(err);
    }
  };
  const create = () => run('org.pub_created', async () => {
    const body = live.trim() ? { livestream: live.trim() } : {};
    const r = await call(token, 'POST', base, { json: body });
    setLink({ url: r.url, at: r.created_at });
  }, '#org-public [data-testid=public-link] button');
  const saveLive = (e) => {
    e.preventDefault();
    run(live.trim() ? 'org.pub_live_saved' : 'org.pub_live_cleared', () => call(token, 'PUT', base, { json: { livestream: live.trim() || null } }));
  };
  const clearLive = () => {
    setLive('');
    run('org.pub_live_cleared', () => call(token, 'PUT', base, { json: { livestream: null } }));
  };
  const revoke = () => run('org.pub_revoked', async () => {
    await call(token, 'DELETE', base);
    setLink(null);
  }, '#org-public .btn.primary');
  const active = status && status.active;
  return (
    <section class="card" aria-labelledby="org-pub-title" id="org-public">
      <h2 id="org-pub-title">{t('org.public')}</h2>
      <p>{t('org.pub_intro')}</p>
      {status ? (
        <p data-testid="public-status" data-active={active ? 'true' : 'false'}>
          {active ? <span class="badge ok">{t('org.pub_active')}</span> : <span class="badge">{t('org.pub_inactive')}</span>}{' '}
          {active ? t('public.viewers', { n: status.viewers }) : null}{' '}
          <button type="button" class="btn small" onClick={load}>{t('org.refresh')}</button>
        </p>
      ) : null}
      {active && link ? (
        <>
          <p class="small">{t('org.pub_made_at', { time: fmtTime(link.at) })}</p>
          <CopyLink url={link.url} label={t('org.pub_link')} testid="public-link" />
          <p><a class="btn small" href={link.url} target="_blank" rel="noopener noreferrer">{t('org.pub_open')}</a></p>
        </>
      ) : null}
      {active && !link ? <p class="small muted">{t('org.pub_hidden')}</p> : null}
      <div class="row wrap">
        {active ? (
          <ConfirmButton class="btn small" question={t('org.pub_replace_q')} onConfirm={create}>{t('org.pub_replace')}</ConfirmButton>
        ) : (
          <button type="button" class="btn primary" onClick={create}>{t('org.pub_create')}</button>
        )}
        {active ? <ConfirmButton testid="revoke-public" question={t('org.pub_revoke_q')} onConfirm={revoke}>{t('org.pub_revoke')}</ConfirmButton> : null}
      </div>
      <form class="stack org-live" onSubmit={saveLive} noValidate>
        <label for="org-live">{t('org.pub_live')}</label>
        <input id="org-live" type="text" inputMode="url" placeholder="https://" value={live} onInput={(e) => setLive(e.currentTarget.value)} aria-describedby="org-live-hint" />
        <p id="org-live-hint" class="small muted">{t('org.pub_live_hint')}</p>
        <div class="row wrap">
          <button type="submit" class="btn" disabled={!active}>{t('org.pub_live_save')}</button>
          {status && status.livestream ? <button type="button" class="btn small" onClick={clearLive}>{t('org.pub_live_clear')}</button> : null}
        </div>
      </form>
      <p class="small ok" role="status" aria-live="polite">{said}</p>
      <Failure error={error} specific={{ invalid: 'org.pub_err_invalid' }} />
    </section>
  );
}

function Exports({ token, conv }) {
  const who = { token };
  const c = encodeURIComponent(conv);
  const items = [
    [`/api/conventions/${c}/audit`, `audit-${conv}.jsonl`, t('export.audit')],
    [sheetPath(`/api/conventions/${c}/polls`), `polls-${conv}.xlsx`, t('export.polls_xlsx')],
    [`/api/conventions/${c}/polls?format=csv`, `polls-${conv}.csv`, t('export.polls_csv')],
    [`/api/conventions/${c}/polls`, `polls-${conv}.json`, t('export.polls_json')],
    [sheetPath(`/api/conventions/${c}/chat`), `chat-${conv}.xlsx`, t('export.chat_xlsx')],
    [`/api/conventions/${c}/chat?format=csv`, `chat-${conv}.csv`, t('export.chat_csv')],
    [sheetPath(`/api/conventions/${c}/attendance`), `attendance-${conv}.xlsx`, t('org.exp_attendance_xlsx')],
    [`/api/conventions/${c}/attendance?format=csv`, `attendance-${conv}.csv`, t('org.exp_attendance')],
    [sheetPath(`/api/conventions/${c}/attendance?table=attributes`), `attendance-${conv}-attributes.xlsx`, t('org.exp_attendance_attr_xlsx')],
    [`/api/conventions/${c}/attendance?format=csv&table=attributes`, `attendance-${conv}-attributes.csv`, t('org.exp_attendance_attr')],
    [sheetPath(`/api/conventions/${c}/floor-time`), `floor-time-${conv}.xlsx`, t('export.floor_xlsx')],
    [`/api/conventions/${c}/floor-time?format=csv`, `floor-time-${conv}.csv`, t('export.floor_csv')],
    [sheetPath(`/api/conventions/${c}/runsheet`), `runsheet-${conv}.xlsx`, t('org.exp_runsheet_xlsx')],
    [`/api/conventions/${c}/runsheet?format=csv`, `runsheet-${conv}.csv`, t('org.exp_runsheet')],
    [sheetPath(`/api/conventions/${c}/rotation`), `rotation-${conv}.xlsx`, t('export.rotation_xlsx')],
    [`/api/conventions/${c}/rotation?format=csv`, `rotation-${conv}.csv`, t('export.rotation_csv')],
    [`/api/conventions/${c}/rotation`, `rotation-${conv}.json`, t('export.rotation')],
    [`/api/conventions/${c}/public-polls`, `public-polls-${conv}.json`, t('org.exp_public_polls')],
  ];
  return (
    <section class="card" aria-labelledby="org-exp-title" id="org-exports">
      <h2 id="org-exp-title">{t('export.title')}</h2>
      <p class="small muted">{t('org.exp_intro')}</p>
      <ul class="plain exports">
        {items.map(([path, filename, label]) => <li key={path}><ExportButton client={who} small path={path} filename={filename}>{label}</ExportButton></li>)}
      </ul>
    </section>
  );
}

/** One thing to export (a poll, a hearing, a document): its label, then its files' buttons,
 * each also naming the thing for screen readers (the same buttons repeat from one to the next). */
function ExportItem({ who, label, detail, items, attrs, children }) {
  return (
    <li class="org-exp-item" {...attrs}>
      <p class="org-exp-label"><strong>{label}</strong>{detail ? <span class="small muted"> ({detail})</span> : null}</p>
      <ul class="plain org-exp-buttons">
        {items.map(([path, filename, words]) => (
          <li key={path}><ExportButton client={who} small path={path} filename={filename}>{words}<span class="sr-only"> — {label}</span></ExportButton></li>
        ))}
      </ul>
      {children}
    </li>
  );
}

/**
 * The exports of each poll, hearing and document: polls from the poll export (every poll but
 * drafts), hearings and documents as the convention's summary lists them (`summary`). Read
 * when the convention opens and on « Actualiser » (`reload`: the summary again).
 */
function ItemExports({ token, conv, summary, reload, onExpired }) {
  const who = { token };
  const c = encodeURIComponent(conv);
  const base = `/api/conventions/${c}`;
  const [polls, setPolls] = useState(null);
  // Each document's named versions (`GET …/versions`), by name.
  const [versions, setVersions] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState('');
  const loadPolls = () => reading(async () => setPolls((await call(token, 'GET', `${base}/polls`)) || []), setError, onExpired);
  useEffect(() => {
    setPolls(null);
    setVersions({});
    loadPolls();
  }, [conv]);
  // The documents come with the summary, each with how many versions are named: their labels
  // are read when that changes, and only for a document that has some.
  const documents = summary ? summary.documents || [] : null;
  const named = documents ? documents.map((d) => `${d.name}:${d.versions}`).join('/') : null;
  useEffect(() => {
    if (!documents) return;
    let gone = false;
    Promise.all(documents.filter((d) => d.versions > 0).map((d) => call(token, 'GET', `${base}/documents/${encodeURIComponent(d.name)}/versions`).then((v) => [d.name, v || []], () => [d.name, []])))
      .then((all) => { if (!gone) setVersions(Object.fromEntries(all)); });
    return () => { gone = true; };
  }, [named]);
  const refresh = async () => {
    setBusy(true);
    setSaid('');
    const [ok, again] = await Promise.all([loadPolls(), reload()]);
    setBusy(false);
    if (ok && again) setSaid(t('org.exp_refreshed'));
  };
  const data = polls && summary ? { polls, hearings: summary.hearings || [], documents } : null;
  const pollItems = (p) => {
    const id = encodeURIComponent(p.id);
    const name = `${conv}-${p.id}`;
    const out = [
      [sheetPath(`${base}/polls/${id}/results`), `poll-${name}-results.xlsx`, t('org.exp_results_xlsx')],
      [`${base}/polls/${id}/results?format=csv`, `poll-${name}-results.csv`, t('org.exp_results_csv')],
    ];
    // A secret poll has no ballots to export (the server answers 409): no button.
    if (!p.spec.secret) {
      out.push(
        [sheetPath(`${base}/polls/${id}/ballots`), `poll-${name}-ballots.xlsx`, t('org.exp_ballots_xlsx')],
        [`${base}/polls/${id}/ballots?format=csv`, `poll-${name}-ballots.csv`, t('org.exp_ballots_csv')],
      );
    }
    return out;
  };
  const hearingItems = (h) => {
    const path = `${base}/hearings/${encodeURIComponent(h.id)}/questions`;
    const name = `hearing-${conv}-${h.id}-questions`;
    return [
      [sheetPath(path), `${name}.xlsx`, t('org.exp_questions_xlsx')],
      [`${path}?format=csv`, `${name}.csv`, t('org.exp_questions_csv')],
      [path, `${name}.json`, t('org.exp_questions_json')],
    ];
  };
  const documentItems = (d, v = null) => {
    const path = `${base}/documents/${encodeURIComponent(d.name)}/export`;
    const q = v ? `&version=${v.version}` : '';
    const file = v ? `${d.name}-v${v.version}` : d.name;
    return [
      [`${path}?format=md${q}`, `${file}.md`, t('org.exp_doc_md')],
      [`${path}?format=html${q}`, `${file}.html`, t('org.exp_doc_html')],
    ];
  };
  return (
    <section class="card" aria-labelledby="org-items-title" id="org-item-exports">
      <h2 id="org-items-title">{t('org.exp_items')}</h2>
      <p class="small muted">{t('org.exp_items_intro')}</p>
      <p><button type="button" class="btn small" onClick={busy ? undefined : refresh} aria-busy={busy ? 'true' : undefined} data-testid="refresh-exports">{t('org.exp_refresh')}</button></p>
      <p class="small ok" role="status" aria-live="polite">{said}</p>
      <Failure error={error} />
      {data ? (
        <>
          <h3 class="h-small" id="org-exp-polls-title">{t('org.exp_polls')}</h3>
          {data.polls.length === 0 ? <p class="muted small" data-testid="no-polls">{t('org.exp_no_polls')}</p> : (
            <ul class="plain org-exp-list" aria-labelledby="org-exp-polls-title" data-testid="poll-exports">
              {data.polls.map((p) => <ExportItem key={p.id} who={who} label={p.spec.question} detail={`${t(`poll.status.${p.status}`)}${p.spec.secret ? `, ${t('org.exp_secret')}` : ''}`} items={pollItems(p)} attrs={{ 'data-poll': p.id }} />)}
            </ul>
          )}
          <h3 class="h-small" id="org-exp-hearings-title">{t('org.exp_hearings')}</h3>
          {data.hearings.length === 0 ? <p class="muted small" data-testid="no-hearings">{t('org.exp_no_hearings')}</p> : (
            <ul class="plain org-exp-list" aria-labelledby="org-exp-hearings-title" data-testid="hearing-exports">
              {data.hearings.map((h) => <ExportItem key={h.id} who={who} label={h.title} detail={t(`hearing.hstatus.${h.status}`).toLocaleLowerCase()} items={hearingItems(h)} attrs={{ 'data-hearing': h.id }} />)}
            </ul>
          )}
          <h3 class="h-small" id="org-exp-docs-title">{t('org.exp_documents')}</h3>
          {data.documents.length === 0 ? <p class="muted small" data-testid="no-documents">{t('org.exp_no_documents')}</p> : (
            <ul class="plain org-exp-list" aria-labelledby="org-exp-docs-title" data-testid="document-exports">
              {data.documents.map((d) => (
                <ExportItem key={d.name} who={who} label={d.title} items={documentItems(d)} attrs={{ 'data-document': d.name }}>
                  {(versions[d.name] || []).length ? (
                    <ul class="plain org-exp-versions" aria-label={t('org.exp_versions', { title: d.title })}>
                      {versions[d.name].map((v) => <ExportItem key={v.version} who={who} label={t('org.exp_version', { n: v.version, label: v.label, title: d.title })} items={documentItems(d, v)} attrs={{ 'data-version': v.version }} />)}
                    </ul>
                  ) : null}
                </ExportItem>
              ))}
            </ul>
          )}
        </>
      ) : (!error ? <p class="muted small" role="status">{t('org.loading')}</p> : null)}
    </section>
  );
}

/** Delete the convention for good (DELETE /api/conventions/{id}?confirm={id}): its id typed
 * again, as the command's --confirm; the exports are to be kept first. */
function DeleteConvention({ token, conv, name, onDeleted, onExpired }) {
  const [typed, setTyped] = useState('');
  const [wrong, setWrong] = useState(false);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = 'org-delete';
  const submit = async (e) => {
    e.preventDefault();
    if (typed.trim() !== conv) {
      setWrong(true);
      document.getElementById(`${id}-confirm`).focus();
      return;
    }
    setBusy(true);
    try {
      const out = await call(token, 'DELETE', `/api/conventions/${encodeURIComponent(conv)}?confirm=${encodeURIComponent(conv)}`);
      onDeleted({ name, rows: out.rows, files: out.files.length });
    } catch (err) {
      if (err.code === 'unauthorized') onExpired();
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card org-danger" aria-labelledby={`${id}-title`} id={id}>
      <h2 id={`${id}-title`}>{t('org.delete_title')}</h2>
      <p class="small">{t('org.delete_intro')}</p>
      <form class="stack" onSubmit={submit} noValidate>
        <label for={`${id}-confirm`}>{t('org.delete_confirm', { id: conv })}</label>
        <span class="field">
          <input id={`${id}-confirm`} type="text" autocomplete="off" spellcheck={false} value={typed}
            aria-invalid={wrong ? 'true' : undefined} aria-describedby={wrong ? `${id}-err` : undefined}
            onInput={(e) => { setTyped(e.currentTarget.value); setWrong(false); }} />
          {wrong ? <span id={`${id}-err`} class="field-error">{t('org.delete_wrong', { id: conv })}</span> : null}
        </span>
        <p><button type="submit" class="btn danger" aria-busy={busy ? 'true' : undefined} disabled={busy}>{t('org.delete_button')}</button></p>
      </form>
      <Failure error={error} />
    </section>
  );
}

function Convention({ token, conv, onBack, onExpired, onDeleted, links, addLinks, publicLink, setPublicLink }) {
  const [summary, setSummary] = useState(null);
  const [people, setPeople] = useState([]);
  const [status, setStatus] = useState([]);
  const [error, setError] = useState(null);
  const heading = useRef(null);
  const c = encodeURIComponent(conv);
  // The summary (with the hearings and documents), the roster and each invitation's state:
  // what the server answers from the convention's state, whatever its history's length.
  // True once read.
  const load = () => reading(async () => {
    const [s, roster, inv] = await Promise.all([
      call(token, 'GET', `/api/conventions/${c}`),
      call(token, 'GET', `/api/conventions/${c}/roster`),
      call(token, 'GET', `/api/conventions/${c}/invites`),
    ]);
    setSummary(s);
    setPeople(roster);
    setStatus(inv);
  }, setError, onExpired);
  useEffect(() => {
    load();
    if (heading.current) heading.current.focus();
  }, [conv]);
  return (
    <div class="org-convention" data-convention={conv}>
      <p><button type="button" class="btn small" onClick={onBack}>{t('org.back')}</button></p>
      <h2 ref={heading} tabindex="-1" class="org-conv-title">{summary ? summary.name : conv} <span class="muted small">({conv})</span></h2>
      {summary ? <p class="small">{t('org.conv_people', { n: summary.participants })} · {t('org.conv_online', { n: summary.online })} <button type="button" class="btn small" onClick={() => load()}>{t('org.refresh')}</button></p> : null}
      <Failure error={error} specific={{ not_found: 'org.err_no_convention' }} />
      <div class="org-grid">
        <div>
          <HowToJoin people={people} status={status} links={links} />
          <ImportRoster token={token} conv={conv} onImported={load} onExpired={onExpired} />
          <Roster people={people} />
        </div>
        <div>
          <Invitations token={token} conv={conv} status={status} links={links} onIssued={addLinks} onChanged={load} onExpired={onExpired} />
          <PublicLink token={token} conv={conv} link={publicLink} setLink={setPublicLink} onExpired={onExpired} />
          <Exports token={token} conv={conv} />
          <ItemExports token={token} conv={conv} summary={summary} reload={load} onExpired={onExpired} />
          <DeleteConvention token={token} conv={conv} name={summary ? summary.name : conv} onDeleted={onDeleted} onExpired={onExpired} />
        </div>
      </div>
    </div>
  );
}

// ---- the page -------------------------------------------------------------------------------

function OrganizerApp() {
  const [lang, setL] = useState(getLang());
  const [token, setToken] = useState(readToken());
  const [list, setList] = useState(null);
  const [conv, setConv] = useState(null);
  const [notice, setNotice] = useState(null);
  // Links issued by this page, per convention: the server shows each only once.
  const [links, setLinks] = useState({});
  const [publicLinks, setPublicLinks] = useState({});
  // The convention just deleted here, said above the list.
  const [deleted, setDeleted] = useState(null);
  const other = LANGS.find((l) => l !== lang);
  useEffect(() => onLang((l) => setL(l)), []);
  useEffect(() => {
    document.title = `${t('org.title')} — Convene`;
  }, [lang]);
  const signOut = (why = null) => {
    keepToken('');
    setToken('');
    setList(null);
    setConv(null);
    setLinks({});
    setPublicLinks({});
    setNotice(why);
  };
  const expired = () => signOut('org.err.expired');
  const refresh = async () => {
    try {
      setList(await call(token, 'GET', '/api/conventions'));
    } catch (err) {
      if (err.code === 'unauthorized') expired();
      else setList([]);
    }
  };
  useEffect(() => {
    if (token && !list) refresh();
  }, [token]);
  let body;
  if (!token) {
    body = <SignIn notice={notice} onSignedIn={(tok, l) => { setNotice(null); setToken(tok); setList(l); focusSoon('#org-list-title'); }} />;
  } else if (!list) {
    body = <p class="muted" role="status">{t('org.loading')}</p>;
  } else if (conv) {
    body = (
      <Convention
        token={token}
        conv={conv}
        onBack={() => {
          // Back to the list, the focus on the convention one came from.
          focusSoon(`li[data-convention="${conv}"] button`);
          setConv(null);
          refresh();
        }}
        onExpired={expired}
        onDeleted={(done) => {
          setDeleted(done);
          setConv(null);
          refresh();
          focusSoon('#org-deleted');
        }}
        links={links[conv] || {}}
        addLinks={(out) => setLinks((all) => ({ ...all, [conv]: { ...(all[conv] || {}), ...Object.fromEntries(out.map((i) => [i.participant, i.url])) } }))}
        publicLink={publicLinks[conv] || null}
        setPublicLink={(url) => setPublicLinks((all) => ({ ...all, [conv]: url }))}
      />
    );
  } else {
    body = (
      <>
        {deleted ? <p class="notice" role="status" id="org-deleted" tabindex="-1" data-testid="deleted">{t('org.deleted', { name: deleted.name, rows: deleted.rows, files: deleted.files, n: deleted.rows })}</p> : null}
        <Conventions token={token} list={list} onOpen={(c) => { setDeleted(null); setConv(c); }} onCreated={(c) => { setDeleted(null); refresh(); setConv(c.id); }} onExpired={expired} />
      </>
    );
  }
  return (
    <>
      <a class="skip" href="#main">{t('org.skip')}</a>
      <header class="top">
        <div class="top-row">
          <h1 class="conv-name">{t('org.title')}</h1>
          {token ? <button type="button" class="btn small lang" onClick={() => signOut(null)}>{t('org.signout')}</button> : null}
          <button type="button" class="btn small lang" lang={other} aria-label={t('lang.switch_to')} onClick={() => setLang(other)}>{t('lang.other')}</button>
        </div>
      </header>
      <main id="main" class="org-page" tabindex="-1">{body}</main>
    </>
  );
}

export function startOrganizer(root) {
  render(<OrganizerApp />, root);
}

