// The opinion ("avis citoyen"): the collaborative editor for those who may write, the same
// document read-only for the others, the people editing it now, named versions and their
// differences, exports, and (facilitators) opening the writing to a room's citizens.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { PLENARY } from '../reduce.js';
import { act, ActButton, Section, useId, timeOfDay, roomName } from './common.jsx';
import { Icon } from './icons.jsx';
import { ExportButton, apiFetch } from './download.jsx';


function editorLabels() {
  return {
    editor: t('doc.editor_label'),
    proposal: t('doc.proposal'),
    proposal_title: t('doc.proposal_title'),
    arg_for: t('doc.arg_for'),
    arg_against: t('doc.arg_against'),
    arg_moderating: t('doc.arg_moderating'),
    minority: t('doc.minority'),
    empty_write: t('doc.empty_write'),
    empty_read: t('doc.empty_read'),
  };
}

/**
 * The formatting toolbar. Each button says in words what it does (on a phone too); a screen
 * reader hears the whole action ("Faire de ce paragraphe un argument pour").
 */
function Toolbar({ ed, st, editable }) {
  const a = st.active || {};
  const hintId = 'doc-args-hint';
  const B = ({ on, pressed, label, children, disabled, cls, why }) => (
    <button type="button" class={`tool${cls ? ` ${cls}` : ''}`} onMouseDown={(e) => e.preventDefault()} onClick={on} aria-pressed={pressed === undefined ? undefined : pressed ? 'true' : 'false'} disabled={!editable || disabled} title={label} aria-describedby={disabled && why ? why : undefined}>
      {children}{label ? <span class="sr-only"> : {label}</span> : null}
    </button>
  );
  return (
    <>
    <div class="toolbar" role="toolbar" aria-label={t('doc.toolbar')}>
      <div class="tool-group">
        <B on={() => ed.bold()} pressed={!!a.bold} cls="tool-bold">{t('doc.bold')}</B>
        <B on={() => ed.italic()} pressed={!!a.italic} cls="tool-italic">{t('doc.italic')}</B>
      </div>
      <div class="tool-group">
        <B on={() => ed.heading(1)}>{t('doc.h1')}</B>
        <B on={() => ed.heading(2)}>{t('doc.h2')}</B>
        <B on={() => ed.paragraph()}>{t('doc.paragraph')}</B>
        <B on={() => ed.bulletList()}>{t('doc.list')}</B>
      </div>
      <div class="tool-group">
        <B on={() => ed.proposal()} label={t('doc.add_proposal')}>+ {t('doc.proposal')}</B>
      </div>
      <div class="tool-group" role="group" aria-label={t('doc.make_label')}>
        <span class="tool-label" aria-hidden="true">{t('doc.make_label')}</span>
        <B on={() => ed.argument('for')} pressed={a.block === 'argument' && a.kind === 'for'} disabled={!a.inProposal} why={hintId} label={t('doc.make_for')}>{t('doc.for_short')}</B>
        <B on={() => ed.argument('against')} pressed={a.block === 'argument' && a.kind === 'against'} disabled={!a.inProposal} why={hintId} label={t('doc.make_against')}>{t('doc.against_short')}</B>
        <B on={() => ed.argument('moderating')} pressed={a.block === 'argument' && a.kind === 'moderating'} disabled={!a.inProposal} why={hintId} label={t('doc.make_moderating')}>{t('doc.moderating_short')}</B>
        <B on={() => ed.minority()} pressed={a.block === 'minority'} label={t('doc.make_minority')}>{t('doc.minority_short')}</B>
      </div>
      <div class="tool-group">
        <B on={() => ed.undo()}>{t('doc.undo')}</B>
        <B on={() => ed.redo()}>{t('doc.redo')}</B>
      </div>
    </div>
    {/* Why the arguments are greyed out, in words (a disabled button shows no tooltip on a phone). */}
    {a.inProposal ? null : <p class="tool-hint small muted" id={hintId} data-testid="args-hint">{t('doc.args_need_proposal')}</p>}
    </>
  );
}

/** The editor, loaded on demand; re-created when the document or the language changes. */
function Editor({ client, doc, lang }) {
  const host = useRef(null);
  const [ed, setEd] = useState(null);
  const [st, setSt] = useState({ status: 'connecting', synced: false, peers: [], active: {} });
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let api = null;
    let gone = false;
    import('../editor.js').then((m) => {
      if (gone || !host.current) return;
      api = m.mountEditor(host.current, {
        // The node the page's connection is on: the editor follows it after a failover.
        wsBase: () => client.wsBase(),
        convention: client.snap.convention.id,
        document: doc.name,
        token: client.token,
        user: { id: client.you.id, name: client.you.name },
        editable: doc.can_write,
        labels: editorLabels(),
        onChange: (s) => setSt(s),
      });
      window.__conveneEditor = api;
      setEd(api);
    }, () => setFailed(true));
    return () => {
      gone = true;
      if (api) api.destroy();
      if (window.__conveneEditor === api) window.__conveneEditor = null;
    };
  }, [doc.name, lang]);
  useEffect(() => {
    if (ed) ed.setEditable(doc.can_write);
  }, [ed, doc.can_write]);
  // Changes typed offline live only in this page until sent: leaving it asks first.
  useEffect(() => {
    if (!st.unsent) return undefined;
    const ask = (e) => {
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', ask);
    return () => window.removeEventListener('beforeunload', ask);
  }, [st.unsent]);
  // The page's connection tells the editor when the network is gone (and back).
  const pageOffline = client.status !== 'open';
  useEffect(() => {
    if (ed) ed.setOffline(pageOffline);
  }, [ed, pageOffline]);
  // Once the document has been reached, a lost connection is said as such, not as
  // « Connexion au document… », and never as « À jour » while the page knows it is offline.
  const reached = useRef(false);
  const upToDate = st.status === 'connected' && st.synced && !st.offline && !pageOffline;
  if (upToDate) reached.current = true;
  const lost = reached.current && !upToDate && (st.offline || pageOffline || st.status !== 'connected');
  const statusText = lost ? t('doc.offline') : upToDate ? t('doc.synced') : st.status === 'connected' && !pageOffline ? t('doc.syncing') : t('doc.connecting');
  return (
    <div class="editor-wrap">
      <div class="editor-status row wrap">
        <span class={`badge ${upToDate ? 'ok' : 'warn'}`} role="status" data-testid="doc-status">{statusText}</span>
        <span class="badge">{doc.can_write ? t('doc.can_write') : t('doc.read_only')}</span>
        <span class="peers" aria-label={t('doc.peers_label')}>
          {st.peers.length ? st.peers.map((p) => <span key={p.clientId} class="peer" style={{ borderColor: p.color }}><span class="peer-dot" style={{ background: p.color }} aria-hidden="true" />{p.name}</span>) : <span class="muted small">{t('doc.alone')}</span>}
        </span>
      </div>
      {lost || (st.unsent && !upToDate) ? (
        <p class="notice warn small" role="status" data-testid="doc-offline">
          {st.unsent ? t('doc.offline_unsent') : doc.can_write ? t('doc.offline_write') : t('doc.offline_read')}
        </p>
      ) : null}
      {doc.can_write && ed ? <Toolbar ed={ed} st={st} editable={doc.can_write} /> : null}
      {failed ? <p class="warn-text" role="alert">{t('doc.load_error')}</p> : null}
      <div class="editor-host" ref={host} />
    </div>
  );
}

function DiffView({ client, doc }) {
  const versions = doc.versions.slice().sort((a, b) => a.version - b.version);
  const [chosen, setFrom] = useState('');
  // Default: the latest named version (also when versions appear after the first render).
  const from = versions.some((v) => String(v.version) === chosen) ? chosen : versions.length ? String(versions[versions.length - 1].version) : '';
  const [to, setTo] = useState('');
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  const id = useId('diff');
  if (!versions.length) return <p class="muted">{t('doc.no_versions')}</p>;
  const load = async (e) => {
    e.preventDefault();
    setError(null);
    const base = `/api/conventions/${encodeURIComponent(client.snap.convention.id)}/documents/${encodeURIComponent(doc.name)}/diff`;
    const q = `?from=${from}${to ? `&to=${to}` : ''}&format=json`;
    try {
      const r = await apiFetch(client, base + q);
      if (!r.ok) throw new Error(String(r.status));
      setDiff(await r.json());
    } catch (err) {
      setError(String(err.message || err));
    }
  };
  const changed = diff ? diff.changes.filter((c) => c.op !== 'equal').length : 0;
  return (
    <form class="stack" onSubmit={load}>
      <div class="stack">
        <label for={`${id}-from`}>{t('doc.diff_from')}</label>
        <select id={`${id}-from`} value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
          {versions.map((v) => <option value={String(v.version)}>{v.version}. {v.label}</option>)}
        </select>
        <label for={`${id}-to`}>{t('doc.diff_to')}</label>
        <select id={`${id}-to`} value={to} onChange={(e) => setTo(e.currentTarget.value)}>
          <option value="">{t('doc.current')}</option>
          {versions.map((v) => <option value={String(v.version)}>{v.version}. {v.label}</option>)}
        </select>
      </div>
      <button type="submit" class="btn">{t('doc.compare')}</button>
      {error ? <p class="warn-text" role="alert">{t('doc.diff_error')}</p> : null}
      {diff ? (
        <div class="diff" role="region" aria-label={t('doc.diff_label')} tabIndex={0}>
          <p class="small" role="status">{changed ? t('doc.diff_count', { n: changed }) : t('doc.diff_none')}</p>
          {diff.changes.map((c, i) => c.op === 'equal' && !c.line ? null : (
            <div key={i} class={`diff-line ${c.op}`}>
              <span class="sr-only">{c.op === 'insert' ? t('doc.added') : c.op === 'delete' ? t('doc.removed') : ''}</span>
              <span aria-hidden="true">{c.op === 'insert' ? '+ ' : c.op === 'delete' ? '− ' : '  '}</span>{c.line || ' '}
            </div>
          ))}
        </div>
      ) : null}
    </form>
  );
}

function Versions({ client, doc }) {
  const roles = client.you.roles;
  const mayName = roles.includes('facilitator') || roles.includes('rapporteur');
  // Facilitators publish a named version for the public page (PROTOCOL.md §24). The event
  // reaches nobody on /ws: the page reads what is published from the public link's status
  // (also after a reload), and says what it just did.
  const mayPublish = roles.includes('facilitator');
  const [published, setPublished] = useState(null);
  const [status, setStatus] = useState(null);
  const [label, setLabel] = useState('');
  const id = useId('ver');
  const cid = encodeURIComponent(client.snap.convention.id);
  useEffect(() => {
    if (!mayPublish) return undefined;
    let live = true;
    apiFetch(client, `/api/conventions/${cid}/public-link`)
      .then((r) => (r.ok ? r.json() : null))
      .then((s) => { if (live && s) setStatus(s); })
      .catch(() => {});
    return () => { live = false; };
  }, [cid, mayPublish]);
  const fromStatus = status && status.published && status.published.document === doc.name
    ? doc.versions.find((v) => v.version === status.published.version) : null;
  const shown = published || fromStatus;
  const base = `/api/conventions/${cid}/documents/${encodeURIComponent(doc.name)}`;
  const versions = doc.versions.slice().sort((a, b) => b.version - a.version);
  return (
    <div class="stack">
      {mayName ? (
        <form class="row wrap" onSubmit={(e) => { e.preventDefault(); if (label.trim()) act(client, { type: 'name_version', document: doc.name, label: label.trim() }).then((ok) => ok && setLabel('')); }}>
          <label for={id}>{t('doc.version_label')}</label>
          <input id={id} type="text" maxLength={120} value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
          <button type="submit" class="btn">{t('doc.name_version')}</button>
        </form>
      ) : null}
      {versions.length ? (
        <ul class="plain versions">
          {versions.map((v) => (
            <li key={v.version}>
              <strong>{v.version}. {v.label}</strong> <span class="muted small">{timeOfDay(v.at)}</span>{' '}
              <ExportButton client={client} view small path={`${base}/export?format=html&version=${v.version}`} filename={`${doc.name}-v${v.version}.html`}>{t('doc.view_version')}</ExportButton>
              {mayPublish ? (
                <>
                  {' '}
                  <ActButton client={client} class="btn small" command={{ type: 'publish_document', document: doc.name, version: v.version }} confirm={t('doc.publish_confirm', { version: v.version, label: v.label })} harmless onDone={() => setPublished(v)} label={t('doc.publish_label', { version: v.version, label: v.label })}>{t('doc.publish')}</ActButton>
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
      {mayPublish ? (
        <p class="small" role="status" data-testid="doc-published">
          {!shown ? '' : status && !status.active
            ? t('doc.published_no_link', { version: shown.version, label: shown.label })
            : t('doc.published', { version: shown.version, label: shown.label })}
        </p>
      ) : null}
      {mayPublish && !shown && status && !status.active ? <p class="small muted" data-testid="doc-no-public-link">{t('doc.no_public_link')}</p> : null}
      <h3 class="h-small">{t('doc.diff_title')}</h3>
      <DiffView client={client} doc={doc} />
    </div>
  );
}

function Exports({ client, doc }) {
  const cid = encodeURIComponent(client.snap.convention.id);
  const base = `/api/conventions/${cid}/documents/${encodeURIComponent(doc.name)}/export`;
  return (
    <p class="row wrap">
      <ExportButton client={client} view path={`${base}?format=html`} filename={`${doc.name}.html`}>{t('doc.export_html')}</ExportButton>
      <ExportButton client={client} path={`${base}?format=md`} filename={`${doc.name}.md`}>{t('doc.export_md')}</ExportButton>
    </p>
  );
}

/** Facilitators open the writing to the citizens of a room (a writing group per room). */
function WritingGroups({ client, doc }) {
  const snap = client.snap;
  const rooms = snap.rooms;
  const groupFor = (rid) => `room-${rid}`.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  const openTo = async (rid) => {
    const members = snap.participants.filter((p) => p.room === rid && p.roles.includes('citizen')).map((p) => p.id);
    const g = groupFor(rid);
    const ok = await act(client, { type: 'set_writing_group', group: g, members });
    if (ok && !doc.groups.includes(g)) await act(client, { type: 'open_document', document: doc.name, group: g });
  };
  return (
    <div class="stack">
      <p class="small muted">{t('doc.groups_explain')}</p>
      <ul class="plain">
        {rooms.map((r) => {
          const g = groupFor(r.id);
          const isOpen = doc.groups.includes(g);
          const n = (snap.writing_groups[g] || []).length;
          return (
            <li key={r.id} class="row wrap">
              <span>{roomName(snap, r.id)}{isOpen ? <span class="badge ok"> {t('doc.group_open', { n })}</span> : null}</span>
              {isOpen ? (
                <ActButton client={client} class="btn small" command={{ type: 'close_document', document: doc.name, group: g }}>{t('doc.close_writing')}</ActButton>
              ) : (
                <button type="button" class="btn small" onClick={() => openTo(r.id)}>{t('doc.open_writing')}</button>
              )}
            </li>
          );
        })}
      </ul>
      {doc.groups.filter((g) => !rooms.some((r) => groupFor(r.id) === g)).map((g) => (
        <p key={g} class="row wrap"><span class="badge ok">{g}</span><ActButton client={client} class="btn small" command={{ type: 'close_document', document: doc.name, group: g }}>{t('doc.close_writing')}</ActButton></p>
      ))}
    </div>
  );
}

export function OpinionView({ client, lang }) {
  const snap = client.snap;
  const docs = snap.documents;
  const [name, setName] = useState(null);
  const doc = docs.find((d) => d.name === name) || docs[0];
  const id = useId('doc');
  if (!doc) return <p class="muted">{t('doc.none')}</p>;
  const facilitator = client.you.roles.includes('facilitator');
  return (
    <div class="opinion-view">
      <div class="opinion-main">
        <Section id="opinion" title={doc.title}>
          {docs.length > 1 ? (
            <div class="row wrap">
              <label for={id}>{t('doc.choose')}</label>
              <select id={id} value={doc.name} onChange={(e) => setName(e.currentTarget.value)}>{docs.map((d) => <option value={d.name}>{d.title}</option>)}</select>
            </div>
          ) : null}
          {!doc.can_write && client.you.roles.includes('citizen') ? <p class="small muted">{t('doc.citizen_read')}</p> : null}
          <Editor key={doc.name} client={client} doc={doc} lang={lang} />
        </Section>
      </div>
      <div class="opinion-side">
        <Section id="versions" title={t('doc.versions')}><Versions client={client} doc={doc} /></Section>
        <Section id="export" title={t('doc.export')}><Exports client={client} doc={doc} /></Section>
        {facilitator ? <Section id="writing" title={t('doc.writing')}><WritingGroups client={client} doc={doc} /></Section> : null}
      </div>
    </div>
  );
}
