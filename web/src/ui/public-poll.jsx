// Public polls (issue #16), in the facilitator's console: a question to the public page's
// audience, one ballot per browser, indicative and non-binding. The facilitator opens and
// closes it with /ws commands (`open_public_poll`, `close_public_poll`); those events reach
// nobody on /ws, so the live tally is read over HTTP (GET /api/conventions/{id}/public-polls,
// the facilitator's own token in a header): every 2 s while a poll is open, and right after
// each open or close. The public sees the results only once the poll is closed.

import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../i18n.js';
import { useId, checkFields, timeOfDay, focusAnchors, focusBack } from './common.jsx';
import { apiFetch } from './download.jsx';
import { Bars } from './polls.jsx';

/** Limits of the spec (the server checks them again). */
const QUESTION_MAX = 500;
const OPTION_MAX = 200;
const OPTIONS_MIN = 2;
const OPTIONS_MAX = 10;
const REFRESH_MS = 2000;
/** While no poll is open: often enough to see one another facilitator opened. */
const IDLE_REFRESH_MS = 10000;

/** Characters as the server counts them (code points, not UTF-16 units). */
function chars(s) {
  return [...s].length;
}

/** The options typed, one per line, without the empty lines. */
export function optionsOf(text) {
  return text.split('\n').map((x) => x.trim()).filter(Boolean);
}

/** What is wrong with a question and its options, field by field (empty when all is well). */
export function checkPublicPoll(question, options) {
  const found = {};
  const q = question.trim();
  if (!q) found.q = t('ppoll.err_question_empty');
  else if (chars(q) > QUESTION_MAX) found.q = t('ppoll.err_question_long', { max: QUESTION_MAX });
  const seen = new Set();
  if (options.length < OPTIONS_MIN) found.opts = t('ppoll.err_options_few', { min: OPTIONS_MIN });
  else if (options.length > OPTIONS_MAX) found.opts = t('ppoll.err_options_many', { max: OPTIONS_MAX });
  else {
    for (const o of options) {
      if (chars(o) > OPTION_MAX) {
        found.opts = t('ppoll.err_option_long', { max: OPTION_MAX });
        break;
      }
      const k = o.toLocaleLowerCase().replace(/\s+/g, ' ');
      if (seen.has(k)) {
        found.opts = t('ppoll.err_option_twice', { option: o });
        break;
      }
      seen.add(k);
    }
  }
  return found;
}

/** A refusal of the server, in words, for the command that was sent. */
function refusalText(type, code) {
  if (type === 'open_public_poll') {
    if (code === 'invalid') return t('ppoll.err_invalid');
    if (code === 'conflict') return t('ppoll.err_conflict_open');
    if (code === 'not_found') return t('ppoll.err_no_link');
  } else {
    if (code === 'conflict') return t('ppoll.err_conflict_close');
    if (code === 'not_found') return t('ppoll.err_not_found');
  }
  const why = t(`err.${code}`);
  return why === `err.${code}` ? t('err.internal') : why;
}

/** Per option: its count, share and a bar (the polls tab's bars, counting answers). */
function Tally({ poll }) {
  const ballots = (poll.tally && poll.tally.ballots) || 0;
  const counts = (poll.tally && poll.tally.counts) || [];
  return (
    <>
      <Bars labels={poll.options} counts={counts} ballots={ballots} countKey="ppoll.count" testid="public-poll-tally" />
      <p class="small" data-testid="public-poll-ballots" data-count={ballots}>{t('ppoll.answers', { n: ballots })}</p>
    </>
  );
}

export function PublicPollPanel({ client }) {
  const cid = client.snap.convention.id;
  const path = `/api/conventions/${encodeURIComponent(cid)}/public-polls`;
  const id = useId('pp');
  const [polls, setPolls] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [question, setQuestion] = useState('');
  const [options, setOptions] = useState('');
  const [errors, setErrors] = useState({});
  const [refused, setRefused] = useState(null);
  const [busy, setBusy] = useState(false);
  // The form folds away when not in use: the console is busy enough.
  const [formOpen, setFormOpen] = useState(false);
  // Answers may come back out of order: only the latest request's is kept.
  const asked = useRef(0);
  const alive = useRef(true);
  useEffect(() => () => { alive.current = false; }, []);

  // One read at a time: a slow server does not get a pile of them.
  const loading = useRef(false);
  const again = useRef(false);
  const load = async () => {
    if (loading.current) {
      again.current = true;
      return;
    }
    loading.current = true;
    asked.current += 1;
    const mine = asked.current;
    try {
      const r = await apiFetch(client, path, { cache: 'no-store' });
      const body = r.ok ? await r.json().catch(() => null) : null;
      if (!alive.current || mine !== asked.current) return;
      if (!r.ok) setLoadError(r.status === 401 || r.status === 403 ? 'forbidden' : 'failed');
      else if (!body || !Array.isArray(body.polls)) setLoadError('failed');
      else {
        setPolls(body.polls);
        setLoadError(null);
      }
    } catch {
      if (alive.current && mine === asked.current) setLoadError('failed');
    } finally {
      loading.current = false;
    }
    // Asked for meanwhile (right after an open or a close): once more, now.
    if (again.current && alive.current) {
      again.current = false;
      await load();
    }
  };
  useEffect(() => {
    load();
  }, []);
  const open = polls ? polls.find((p) => p.open) : null;
  // The live tally while a poll is open; otherwise now and then, for a poll another
  // facilitator opens.
  useEffect(() => {
    const timer = setInterval(load, open ? REFRESH_MS : IDLE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [open ? open.poll : null]);

  const send = async (command) => {
    // Opening swaps the form for the open poll, closing swaps it back, and the busy button is
    // disabled meanwhile: the focus, if it falls to the top of the page, comes back here.
    const near = focusAnchors(document.activeElement);
    setBusy(true);
    setRefused(null);
    let ok = false;
    try {
      await client.request(command);
      ok = true;
    } catch (e) {
      if (alive.current) setRefused(refusalText(command.type, e.code || 'internal'));
    }
    if (!alive.current) return ok;
    setBusy(false);
    // Right after, whatever the answer: a refusal may come of a poll someone else opened.
    await load();
    if (alive.current) setTimeout(() => focusBack(near), 0);
    return ok;
  };
  const start = async (e) => {
    e.preventDefault();
    const list = optionsOf(options);
    if (!checkFields(checkPublicPoll(question, list), setErrors, id)) return;
    if (await send({ type: 'open_public_poll', question: question.trim(), options: list })) {
      setQuestion('');
      setOptions('');
    }
  };
  const onField = (key, set) => (e) => {
    set(e.currentTarget.value);
    if (errors[key]) setErrors({ ...errors, [key]: undefined });
  };
  const closed = polls ? polls.filter((p) => !p.open).reverse() : [];

  return (
    <div class="public-poll-panel stack" data-testid="public-poll-panel">
      <p class="small muted">{t('ppoll.explain')}</p>
      {open ? (
        <div class="public-poll-open stack" data-testid="public-poll-open" data-poll={open.poll}>
          <p><strong>{t('ppoll.running')}</strong> <span class="small muted">{t('ppoll.opened_at', { time: timeOfDay(open.opened_at) })}</span></p>
          <p class="public-poll-question">{open.question}</p>
          <div aria-live="polite"><Tally poll={open} /></div>
          <div class="row wrap">
            <button type="button" class="btn primary" disabled={busy} aria-busy={busy ? 'true' : undefined} onClick={() => send({ type: 'close_public_poll', poll: open.poll })}>{t('ppoll.close')}</button>
          </div>
        </div>
      ) : (
        <details class="public-poll-new" open={formOpen} onToggle={(e) => setFormOpen(e.currentTarget.open)}>
          <summary>{t('ppoll.new')}</summary>
          <form class="stack" onSubmit={start} noValidate data-testid="public-poll-form">
            <label for={`${id}-q`}>{t('ppoll.question')}</label>
            <span class="field">
              <textarea id={`${id}-q`} rows={2} value={question} onInput={onField('q', setQuestion)} aria-invalid={errors.q ? 'true' : undefined} aria-describedby={errors.q ? `${id}-q-err` : undefined} />
              {errors.q ? <span id={`${id}-q-err`} class="field-error">{errors.q}</span> : null}
            </span>
            <label for={`${id}-opts`}>{t('ppoll.options')}</label>
            <span class="field">
              <textarea id={`${id}-opts`} rows={4} value={options} onInput={onField('opts', setOptions)} aria-invalid={errors.opts ? 'true' : undefined} aria-describedby={`${id}-opts-hint${errors.opts ? ` ${id}-opts-err` : ''}`} />
              {errors.opts ? <span id={`${id}-opts-err`} class="field-error">{errors.opts}</span> : null}
            </span>
            <span id={`${id}-opts-hint`} class="small muted">{t('ppoll.options_hint', { min: OPTIONS_MIN, max: OPTIONS_MAX })}</span>
            <div class="row wrap">
              <button type="submit" class="btn primary" disabled={busy} aria-busy={busy ? 'true' : undefined}>{t('ppoll.open')}</button>
            </div>
          </form>
        </details>
      )}
      {refused ? <p class="warn-text" role="alert" data-testid="public-poll-error">{refused}</p> : null}
      {loadError ? <p class="warn-text" role="alert" data-testid="public-poll-load-error">{loadError === 'forbidden' ? t('ppoll.load_forbidden') : t('ppoll.load_error')}</p> : null}
      {!polls && !loadError ? <p class="muted">{t('common.loading')}</p> : null}
      {closed.length ? (
        <details class="public-poll-closed" open>
          <summary>{t('ppoll.closed_list', { n: closed.length })}</summary>
          <ul>
            {closed.map((p) => (
              <li key={p.poll} data-testid="public-poll-closed" data-poll={p.poll}>
                <p><strong>{p.question}</strong> <span class="small muted">{p.closed_at ? t('ppoll.closed_at', { time: timeOfDay(p.closed_at) }) : null}</span></p>
                <Tally poll={p} />
              </li>
            ))}
          </ul>
        </details>
      ) : null}
      <div class="row wrap">
        <button type="button" class="btn small" onClick={load}>{t('ppoll.refresh')}</button>
      </div>
    </div>
  );
}
