// Live moderation (PROTOCOL.md §21): a chat line's "Masquer" (facilitators) and "Signaler"
// (everyone but guarantors), hidden lines marked for staff, a muted citizen's notice, the
// facilitators' panel (open reports, mutes, removal and readmission), and the moderation log
// (the audit trail's moderation entries) that guarantors and facilitators read live.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { act, ActButton, nameOf, roomName, timeOfDay, useId, Countdown, actorWords } from './common.jsx';
import { loadAudit } from './download.jsx';
import { Icon } from './icons.jsx';

/** Budgets of the protocol (MAX_MODERATION_REASON_CHARS, MAX_REPORT_REASON_CHARS). */
const MAX_REASON = 500;
const MAX_REPORT_REASON = 200;

/** The audit trail's moderation entries, by event type. */
export const MODERATION_TYPES = [
  'chat_hidden',
  'chat_unhidden',
  'chat_reported',
  'report_dismissed',
  'participant_muted',
  'participant_unmuted',
  'participant_removed',
  'participant_readmitted',
];

const MUTE_DURATIONS = [5 * 60000, 15 * 60000, 30 * 60000, 60 * 60000];

/** A short form asking for a reason, inside the page (never window.prompt). */
function ReasonForm({ label, max, required, submit, cancel, testid }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const id = useId('reason');
  // The field takes the focus when the form opens (`autoFocus` does not, in a page in use),
  // and the whole form comes into view: inside the chat's scrolling log, focusing the field
  // alone left « Valider » and « Annuler » below the log's edge.
  const field = useRef(null);
  const form = useRef(null);
  useEffect(() => {
    if (field.current) field.current.focus({ preventScroll: true });
    if (form.current) form.current.scrollIntoView({ block: 'nearest' });
  }, []);
  const send = async (e) => {
    e.preventDefault();
    if (required && !reason.trim()) return;
    setBusy(true);
    const ok = await submit(reason.trim());
    setBusy(false);
    if (ok) cancel();
  };
  return (
    <form class="reason-form stack" onSubmit={send} data-testid={testid} ref={form}>
      <label for={id}>{label}</label>
      <input id={id} type="text" value={reason} maxLength={max} required={required} ref={field} autocomplete="off" onInput={(e) => setReason(e.currentTarget.value)} />
      <div class="row">
        <button type="submit" class="btn primary small" disabled={busy || (required && !reason.trim())}>{t('mod.confirm')}</button>
        <button type="button" class="btn small" onClick={cancel}>{t('common.cancel')}</button>
      </div>
    </form>
  );
}

/** How a hidden line is shown to facilitators and guarantors; facilitators may show it again
 * (a hiding undone, in the moderation log like the hiding). */
export function HiddenMark({ client, line }) {
  const h = line.hidden;
  if (!h) return null;
  const facilitator = client.you.roles.includes('facilitator');
  return (
    <span class="hidden-mark small" data-testid="hidden-mark">
      <Icon name="eye" size={14} /> {t('mod.hidden_by', { name: nameOf(client.snap, h.by), time: timeOfDay(h.at) })}
      {h.reason ? <> — <em>{h.reason}</em></> : null}
      {facilitator ? (
        <> <ActButton client={client} class="btn tiny" command={{ type: 'unhide_chat', message: line.seq }} confirm={t('mod.unhide_confirm')} harmless label={t('mod.unhide_label', { name: nameOf(client.snap, line.from) })} data-testid="unhide">{t('mod.unhide')}</ActButton></>
      ) : null}
    </span>
  );
}

/** "Masquer" and "Signaler" under a chat line, each opening its reason form in place. */
export function ChatLineActions({ client, line }) {
  const [open, setOpen] = useState(null);
  const roles = client.you.roles;
  if (roles.includes('guarantor') || line.hidden || line.from === client.you.id) return null;
  // Staff are not moderated: a facilitator's line can be reported, not hidden.
  const facilitator = roles.includes('facilitator') && !staffLine(client.snap, line);
  const reported = (client.snap.reports || []).some((r) => r.message === line.seq && r.by === client.you.id);
  if (open === 'hide') {
    return (
      <ReasonForm
        label={t('mod.hide_reason')}
        max={MAX_REASON}
        required
        testid="hide-form"
        submit={(reason) => act(client, { type: 'hide_chat', message: line.seq, reason })}
        cancel={() => setOpen(null)}
      />
    );
  }
  if (open === 'report') {
    return (
      <ReasonForm
        label={t('mod.report_reason')}
        max={MAX_REPORT_REASON}
        testid="report-form"
        submit={(reason) => act(client, { type: 'report_chat', message: line.seq, reason })}
        cancel={() => setOpen(null)}
      />
    );
  }
  return (
    <span class="chat-actions">
      {facilitator ? (
        <button type="button" class="btn tiny" onClick={() => setOpen('hide')} aria-label={t('mod.hide_label', { name: nameOf(client.snap, line.from) })}>{t('mod.hide')}</button>
      ) : null}
      {reported ? <span class="small muted">{t('mod.reported')}</span> : (
        <button type="button" class="btn tiny" onClick={() => setOpen('report')} aria-label={t('mod.report_label', { name: nameOf(client.snap, line.from) })}>{t('mod.report')}</button>
      )}
    </span>
  );
}

/** My own mute, if any: why sending fails, and until when. */
export function MuteNotice({ client }) {
  const mine = (client.snap.mutes || []).find((m) => m.participant === client.you.id);
  if (!mine) return null;
  return (
    <p class="notice warn mute-notice" role="status" data-testid="mute-notice">
      <Icon name="warning" /> {t('mod.you_are_muted', { time: timeOfDay(mine.until) })}{' '}
      <Countdown client={client} deadline={mine.until} label={t('mod.mute_left')} />
    </p>
  );
}

/** A chat line by its seq, wherever this page keeps it. */
function lineOf(snap, seq) {
  for (const r of snap.rooms) {
    const l = r.inside && r.inside.chat.find((x) => x.seq === seq);
    if (l) return l;
  }
  return null;
}

/** Open reports, for facilitators (hide or dismiss) and guarantors (read). */
function Reports({ client, manage }) {
  const snap = client.snap;
  const reports = snap.reports || [];
  if (!reports.length) return <p class="muted">{t('mod.no_reports')}</p>;
  return (
    <ul class="plain reports" data-testid="reports">
      {reports.map((r) => {
        const line = lineOf(snap, r.message);
        return (
          <li key={r.id} class="report">
            <p class="small"><strong>{nameOf(snap, r.by)}</strong> · {roomName(snap, r.room)} · <time>{timeOfDay(r.at)}</time>{r.reason ? <> — {r.reason}</> : null}</p>
            <blockquote class="reported-text">{line ? <><strong>{nameOf(snap, line.from)}</strong> : {line.text}</> : t('mod.message_n', { n: r.message })}</blockquote>
            {manage ? <ReportActions client={client} report={r} hideable={!line || !staffLine(snap, line)} /> : null}
          </li>
        );
      })}
    </ul>
  );
}

/** Whether a line is a facilitator's (staff are not moderated: it cannot be hidden). */
function staffLine(snap, line) {
  const author = snap.participants.find((p) => p.id === line.from);
  return !!author && author.roles.includes('facilitator');
}

function ReportActions({ client, report, hideable }) {
  const [hiding, setHiding] = useState(false);
  if (hiding) {
    return (
      <ReasonForm
        label={t('mod.hide_reason')}
        max={MAX_REASON}
        required
        testid="hide-form"
        submit={(reason) => act(client, { type: 'hide_chat', message: report.message, reason })}
        cancel={() => setHiding(false)}
      />
    );
  }
  return (
    <div class="row">
      {hideable ? <button type="button" class="btn small" onClick={() => setHiding(true)}>{t('mod.hide')}</button> : null}
      <ActButton client={client} class="btn small" command={{ type: 'dismiss_report', report: report.id }}>{t('mod.dismiss')}</ActButton>
    </div>
  );
}

/** One participant's moderation: mute for a chosen time, remove (with a reason), readmit. */
function ParticipantActions({ client, pid }) {
  const snap = client.snap;
  const [duration, setDuration] = useState(String(MUTE_DURATIONS[1]));
  const [removing, setRemoving] = useState(false);
  const durId = useId('mute-duration');
  const mute = (snap.mutes || []).find((m) => m.participant === pid);
  const removed = (snap.removed || []).find((m) => m.participant === pid);
  const name = nameOf(snap, pid);
  if (removed) {
    return (
      <div class="stack">
        <p class="small">{t('mod.removed_at', { time: timeOfDay(removed.at), name: nameOf(snap, removed.by) })}{removed.reason ? <> — <em>{removed.reason}</em></> : null}</p>
        <ActButton client={client} class="btn small" command={{ type: 'readmit', participant: pid }} label={t('mod.readmit_label', { name })}>{t('mod.readmit')}</ActButton>
      </div>
    );
  }
  return (
    <div class="stack">
      {mute ? (
        <div class="row wrap">
          <span class="small">{t('mod.muted_until', { time: timeOfDay(mute.until) })}</span>
          <ActButton client={client} class="btn small" command={{ type: 'unmute', participant: pid }} label={t('mod.unmute_label', { name })}>{t('mod.unmute')}</ActButton>
        </div>
      ) : null}
      <div class="row wrap">
        <label for={durId} class="small">{t('mod.duration')}</label>
        <select id={durId} value={duration} onChange={(e) => setDuration(e.currentTarget.value)}>
          {MUTE_DURATIONS.map((d) => <option value={String(d)}>{t('dur.m', { m: d / 60000 })}</option>)}
        </select>
        <ActButton client={client} class="btn small" command={() => ({ type: 'mute', participant: pid, duration_ms: Number(duration), reason: '' })} label={t('mod.mute_label', { name })}>{t('mod.mute')}</ActButton>
      </div>
      {removing ? (
        <ReasonForm
          label={t('mod.remove_reason', { name })}
          max={MAX_REASON}
          required
          testid="remove-form"
          submit={(reason) => act(client, { type: 'remove_participant', participant: pid, reason })}
          cancel={() => setRemoving(false)}
        />
      ) : (
        <button type="button" class="btn small danger" onClick={() => setRemoving(true)} aria-label={t('mod.remove_label', { name })}>{t('mod.remove')}</button>
      )}
    </div>
  );
}

/** The facilitators' moderation panel: open reports, then each participant's actions. */
export function ModerationPanel({ client }) {
  const snap = client.snap;
  const [pid, setPid] = useState('');
  const pickId = useId('mod-pick');
  const people = snap.participants
    .filter((p) => !p.roles.includes('facilitator') && !p.roles.includes('guarantor'))
    .sort((a, b) => a.name.localeCompare(b.name));
  const flagged = new Set([...(snap.mutes || []).map((m) => m.participant), ...(snap.removed || []).map((r) => r.participant)]);
  return (
    <div class="moderation stack" data-testid="moderation">
      <h3 class="h-small">{t('mod.reports_title', { n: (snap.reports || []).length })}</h3>
      <Reports client={client} manage />
      <h3 class="h-small">{t('mod.people_title')}</h3>
      {[...flagged].map((id) => (
        <div key={id} class="moderated-person" data-testid="moderated-person">
          <p><strong>{nameOf(snap, id)}</strong></p>
          <ParticipantActions client={client} pid={id} />
        </div>
      ))}
      <div class="row wrap">
        <label for={pickId}>{t('mod.pick')}</label>
        <select id={pickId} value={pid} onChange={(e) => setPid(e.currentTarget.value)} data-testid="mod-pick">
          <option value="">—</option>
          {people.filter((p) => !flagged.has(p.id)).map((p) => <option value={p.id}>{p.name}</option>)}
        </select>
      </div>
      {pid && !flagged.has(pid) ? <ParticipantActions client={client} pid={pid} /> : null}
    </div>
  );
}

/** One moderation entry of the audit trail in words. */
export function describeModeration(snap, ev) {
  const who = (id) => nameOf(snap, id);
  // A report's and a mute's reason may be empty; a hide's and a removal's never is.
  const optional = ev.type === 'chat_reported' || ev.type === 'participant_muted';
  const p = { reason: optional ? (ev.reason ? `— ${ev.reason}` : '') : ev.reason || '' };
  if (ev.participant) p.name = who(ev.participant);
  if (ev.room) p.room = roomName(snap, ev.room);
  if (ev.until) p.time = timeOfDay(ev.until);
  if (ev.message !== undefined) p.n = ev.message;
  if (ev.report !== undefined) p.n = ev.report;
  // Whose message, when this page still holds it (staff keep hidden lines).
  const line = ev.message !== undefined ? lineOf(snap, ev.message) : null;
  if (line) p.author = who(line.from);
  let key = ev.type === 'participant_unmuted' && ev.early ? 'mod.log.participant_unmuted_early' : `mod.log.${ev.type}`;
  if (line && ['chat_hidden', 'chat_unhidden', 'chat_reported'].includes(ev.type)) key = `${key}_of`;
  const s = t(key, p);
  return s === key ? ev.type : s;
}

/**
 * The moderation log: the audit trail's moderation entries, newest first, updated live (the
 * page receives each entry as an `audit` message); loaded once from the audit export.
 */
export function ModerationLog({ client }) {
  const snap = client.snap;
  const [error, setError] = useState(false);
  useEffect(() => {
    loadAudit(client).catch(() => setError(true));
  }, []);
  const entries = [...client.audit.values()]
    .filter((e) => e.event && MODERATION_TYPES.includes(e.event.type))
    .sort((a, b) => b.n - a.n);
  return (
    <div class="moderation-log">
      {error ? <p class="warn-text" role="alert">{t('audit.load_error')}</p> : null}
      {entries.length === 0 ? <p class="muted">{t('mod.log_empty')}</p> : (
        <ol class="audit-list" reversed aria-label={t('mod.log_title')} data-testid="moderation-log">
          {entries.map((e) => (
            <li key={e.n} value={e.n} data-type={e.event.type}>
              <span class="audit-meta"><time>{timeOfDay(e.at)}</time> · {actorWords(snap, e.by)}</span>
              <span class="audit-what">{describeModeration(snap, e.event)}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
