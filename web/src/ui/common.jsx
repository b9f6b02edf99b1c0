// Small pieces shared by every view: time formats, countdowns, names, and sending commands.

import { cloneElement } from 'preact';
import { useEffect, useLayoutEffect, useState, useRef } from 'preact/hooks';
import { t, getLang, fmtTime } from '../i18n.js';
import { person, PLENARY } from '../reduce.js';

/** Re-render every `period` ms (countdowns). */
export function useTick(period = 1000) {
  const [, set] = useState(0);
  useEffect(() => {
    const id = setInterval(() => set((x) => x + 1), period);
    return () => clearInterval(id);
  }, [period]);
}

const pad = (n) => String(n).padStart(2, '0');

/** 754000 -> "12:34"; over an hour "1:02:03". */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/**
 * A share as a bar (`value`, 0 to 1) with a mark at the share it is compared with (`mark`):
 * a group's speaking time against its weight among the citizens, a group's attendance against
 * the day's. A bar that stops well short of its mark (under 80 % of it) is orange, unless
 * `judged` is false (nothing to compare yet). Decorative: the numbers are beside it, in words.
 */
export function ShareBar({ value, mark, judged = true }) {
  const under = judged && value < mark * 0.8;
  return (
    <span class="share-track" aria-hidden="true">
      <span class={`bar-fill${under ? ' under' : ''}`} style={{ width: `${100 * value}%` }} />
      <span class="share-mark" style={{ left: `${100 * mark}%` }} />
    </span>
  );
}

/** A duration in words: "3 min 20 s". */
export function spoken(ms) {
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  if (m === 0) return t('dur.s', { s });
  return s % 60 ? t('dur.ms', { m, s: s % 60 }) : t('dur.m', { m });
}

/** A time of day: « 9 h 58 » in French, "09:58" in English (i18n.js's fmtTime, which the
 * public page uses too). */
export function timeOfDay(at) {
  return fmtTime(at);
}

/** Who acted on a record (`by`), in words: a person's name, the organizers or the timer. */
export function actorWords(snap, by) {
  if (!by) return '';
  if (by.kind === 'organizer') return t('actor.organizer');
  if (by.kind === 'timer') return t('actor.timer');
  return nameOf(snap, by.id);
}

export function nameOf(snap, id) {
  const p = person(snap, id);
  return p ? p.name : id;
}

/** The names the server gives the rooms it names itself (`create_rooms` with a count, the
 * rotation's rooms), French in the log: said in the page's language. */
const MADE_NAMES = [
  [/^Salle (\d+)$/, 'room.numbered', 'n'],
  [/^Expert·e : (.+)$/, 'room.expert', 'name'],
  [/^Pause$/, 'room.break'],
];

/** A room's name, in the page's language when the server made it. */
export function roomName(snap, id) {
  if (id === PLENARY) return t('room.plenary');
  const r = snap.rooms.find((x) => x.id === id);
  if (!r) return id;
  for (const [pattern, key, arg] of MADE_NAMES) {
    const m = pattern.exec(r.name);
    if (m) return t(key, arg ? { [arg]: m[1] } : {});
  }
  return r.name;
}

/** The roles of a person as words, most specific first. */
export function roleWords(roles) {
  const order = ['facilitator', 'guarantor', 'rapporteur', 'expert', 'citizen'];
  return order.filter((r) => roles.includes(r)).map((r) => t(`role.${r}`)).join(', ');
}

/** A countdown to a server deadline. */
export function Countdown({ client, deadline, warnAt, label, big }) {
  useTick(500);
  const left = deadline - client.now();
  const warn = (warnAt && client.now() >= warnAt) || left <= 60000;
  return (
    <span class={`countdown${warn ? ' warn' : ''}${big ? ' big' : ''}`} role="timer">
      {label ? <span class="countdown-label">{label} </span> : null}
      <strong>{clock(left)}</strong>
    </span>
  );
}

/** Time elapsed since `since` (the speaker without limit). */
export function Elapsed({ client, since }) {
  useTick(1000);
  return <strong>{clock(client.now() - since)}</strong>;
}

/** Send a command; errors are shown by the error toasts. Resolves to true on `ok`. */
export function act(client, command) {
  return client.request(command).then(
    () => true,
    () => false,
  );
}

/**
 * A form that sends one request at a time: `busy` while a request of this form (`type`, and
 * `match` if given) waits for its reply, offline included and across a remount (the client's
 * queue says so, not only this component). A second tap meanwhile sends nothing: a question
 * tapped twice on a phone without network was asked twice once it came back.
 * `send(command)` resolves to true on `ok`, false if refused or already busy.
 */
export function useSending(client, type, match) {
  const inFlight = useRef(false);
  const [, redraw] = useState(0);
  const queued = client.waiting(type).some((p) => !match || match(p.command));
  const busy = inFlight.current || queued;
  const send = async (command) => {
    if (inFlight.current || queued) return false;
    inFlight.current = true;
    redraw((x) => x + 1);
    const ok = await act(client, command);
    inFlight.current = false;
    redraw((x) => x + 1);
    return ok;
  };
  return [busy, send];
}

/** The submit button of a `useSending` form: says it waits, and does nothing, while busy.
 * Busy is `aria-disabled`, not `disabled`, for the focus to stay on it (see ActButton). */
export function SendButton({ busy, disabled, class: cls, children, ...rest }) {
  return (
    <button type="submit" class={cls || 'btn primary'} disabled={!busy && disabled} aria-disabled={busy ? 'true' : undefined} aria-busy={busy ? 'true' : undefined} data-busy={busy ? 'true' : undefined} {...rest}>
      {busy ? t('pending.button') : children}
    </button>
  );
}

/** A button that sends a command and is busy until the reply. With `confirm`, the first
 * press asks in the page (the question, "Confirmer", "Annuler"), not in a browser popup that
 * phones show out of context and screen readers announce poorly. */
// `confirm`: a question asked in the page before sending; its « yes » is red (`danger`) unless
// `harmless` (undoing something, say).
export function ActButton({ client, command, children, class: cls, confirm, harmless, disabled, label, onDone, ...rest }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  // Busy is said with aria-disabled, not `disabled`: a focused button that becomes disabled
  // loses the focus to the page's top, and a keyboard or screen-reader user with it.
  const inFlight = useRef(false);
  // After the question in the page (confirmed or not), the focus goes back to the button.
  const focus = useQuestionFocus(asking);
  // A button that its own success takes away (« Valider » once the question is approved,
  // « Démarrer » once started…) leaves the focus where it stood, not at the top of the page.
  const root = useRef(null);
  useLayoutEffect(() => () => keepFocusNear(root.current), []);
  const send = async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    setAsking(false);
    setBusy(true);
    const ok = await act(client, typeof command === 'function' ? command() : command);
    inFlight.current = false;
    setBusy(false);
    if (ok && onDone) onDone();
  };
  const onClick = () => (confirm ? setAsking(true) : send());
  const answer = (confirmed) => {
    focus.giveBack();
    if (confirmed) send();
    else setAsking(false);
  };
  if (asking) {
    return (
      <span class="confirm-inline" role="group" aria-label={confirm} data-testid="confirm" ref={root}>
        <span class="confirm-question" role="alert">{confirm}</span>
        <button type="button" class={harmless ? 'btn primary small' : 'btn danger small'} data-testid="confirm-yes" onClick={() => answer(true)} ref={focus.question}>{t('common.confirm')}</button>
        <button type="button" class="btn small" data-testid="confirm-no" onClick={() => answer(false)}>{t('common.cancel')}</button>
      </span>
    );
  }
  return (
    <button type="button" ref={(el) => { focus.opener.current = el; root.current = el; }} class={cls || 'btn'} onClick={busy ? undefined : onClick} disabled={disabled} aria-disabled={busy ? 'true' : undefined} aria-busy={busy ? 'true' : undefined} aria-label={label} {...rest}>
      {children}
    </button>
  );
}

/**
 * `el` is leaving the page: if it holds the focus, the focus goes, once it is gone, to the
 * nearest of its list item, article or section still in the page (made focusable for it), so
 * that a keyboard or screen-reader user goes on from there, not from the top of the page.
 */
export function keepFocusNear(el) {
  if (!el || typeof document === 'undefined' || !el.contains(document.activeElement)) return;
  const near = focusAnchors(el);
  setTimeout(() => focusBack(near), 0);
}

/** The list items, articles and sections around `el`, nearest first (to focus one later). */
export function focusAnchors(el) {
  const near = [];
  for (let a = el && el.parentElement; a; a = a.parentElement) if (a.matches('li, article, section, main')) near.push(a);
  return near;
}

/** If the focus fell to the top of the page, give it to the nearest of `near` still there. */
export function focusBack(near) {
  const now = document.activeElement;
  if (now && now !== document.body) return;
  const to = near.find((a) => a.isConnected);
  if (!to) return;
  if (!to.hasAttribute('tabindex')) to.setAttribute('tabindex', '-1');
  to.focus();
}

export function Section({ title, children, class: cls, id, headingLevel = 2, actions }) {
  const H = `h${headingLevel}`;
  const hid = id ? `${id}-title` : undefined;
  return (
    <section class={`card ${cls || ''}`} aria-labelledby={hid} id={id}>
      <div class="card-head">
        <H id={hid}>{title}</H>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** The dot that tells online from offline, with words for screen readers. */
export function Presence({ online }) {
  return <span class={`dot ${online ? 'on' : 'off'}`} title={online ? t('people.online') : t('people.offline')}><span class="sr-only">{online ? t('people.online') : t('people.offline')}</span></span>;
}

/** The focus of a question asked in the page: `question` (its first control) takes it once,
 * when it opens (not at every render: a live update would pull it back from « Annuler » to
 * « Confirmer »; `autoFocus` does not, on an element added to a page in use); once it closes
 * after `giveBack()`, `opener` has it again. */
export function useQuestionFocus(open) {
  const question = useRef(null);
  const opener = useRef(null);
  const back = useRef(false);
  useEffect(() => {
    if (open && question.current) question.current.focus();
    if (!open && back.current) {
      back.current = false;
      if (opener.current) opener.current.focus();
    }
  }, [open]);
  return { question, opener, giveBack: () => { back.current = true; } };
}

/** Focus an element when it appears (used for dialogs and forms that open). */
export function useAutoFocus() {
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.focus();
  }, []);
  return ref;
}

/** Unique ids for label/control pairs. */
let uid = 0;
export function useId(prefix = 'f') {
  const ref = useRef(null);
  if (ref.current === null) {
    uid += 1;
    ref.current = `${prefix}-${uid}`;
  }
  return ref.current;
}

/** Ordinal in words: 1 -> "1er"/"1st". */
export function ordinal(n) {
  if (getLang() === 'fr') return n === 1 ? '1ʳᵉ' : `${n}ᵉ`;
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return n + (s[(v - 20) % 10] || s[v] || s[0]);
}

/** A number of minutes as typed ("1,5" or "1.5"), or NaN. */
export function minutes(text) {
  const v = String(text).trim().replace(',', '.');
  return v === '' || !/^\d*\.?\d+$/.test(v) ? NaN : Number(v);
}

/** A whole number as typed ("12", "-3", " 4 "), up to six digits, or NaN. */
export function integer(text) {
  const v = String(text).trim().replace('−', '-');
  return /^-?\d{1,6}$/.test(v) ? Number(v) : NaN;
}

/** A number typed in a form that checks in the page, not with the browser's bubbles (which
 * vanish, and speak the browser's language): the field, and its error in words under it. */
export function NumberField({ id, label, value, onValue, error, inputMode = 'decimal', placeholder }) {
  return (
    <>
      <label for={id}>{label}</label>
      <Checked id={id} error={error}>
        <input type="text" inputMode={inputMode} placeholder={placeholder} class="num" value={value} onInput={(e) => onValue(e.currentTarget.value)} />
      </Checked>
    </>
  );
}

/** A form's control with its error under it (`aria-invalid`, `aria-describedby`). */
export function Checked({ id, error, hint, children }) {
  const described = [error ? `${id}-err` : null, hint ? `${id}-hint` : null].filter(Boolean).join(' ') || undefined;
  return (
    <span class="field">
      {cloneElement(children, { id, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': described })}
      {hint ? <span id={`${id}-hint`} class="small muted">{hint}</span> : null}
      {error ? <span id={`${id}-err`} class="field-error">{error}</span> : null}
    </span>
  );
}

/** « Prolonger de [5] min [Prolonger] »: the minutes checked in the page (more than 0, at most
 * 12 hours, "1,5" as well as "1.5"), then `command(by_ms)` sent. */
export function ExtendForm({ client, label, button, command }) {
  const [value, setValue] = useState('5');
  const [error, setError] = useState(undefined);
  const id = useId('ext');
  const max = 12 * 60;
  const submit = (e) => {
    e.preventDefault();
    const m = minutes(value);
    if (!checkFields(Number.isNaN(m) || m <= 0 || m > max ? { ext: t('console.err_minutes', { max }) } : {}, (f) => setError(f.ext), id)) return;
    act(client, command(Math.round(m * 60000)));
  };
  return (
    <form class="row wrap" onSubmit={submit} noValidate>
      <NumberField id={`${id}-ext`} label={label} value={value} onValue={(v) => { setValue(v); setError(undefined); }} error={error} />
      <span>{t('unit.min')}</span>
      <button type="submit" class="btn">{button}</button>
    </form>
  );
}

/** Show `found` (field key → words) and focus the first field in error (ids `${base}-${key}`);
 * whether the form may be sent. */
export function checkFields(found, setErrors, base) {
  setErrors(found);
  const first = Object.keys(found).find((k) => found[k]);
  if (!first) return true;
  const el = document.getElementById(`${base}-${first}`);
  if (el) el.focus();
  return false;
}
