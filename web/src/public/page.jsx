// Public audience (PROTOCOL.md §24): the page anyone with a convention's public link opens
// (/public#link=CONV.32hex). It watches /public/ws and shows the whole `public_view` it
// receives: who has the floor and the countdown, breakouts, announcements, published
// results, the published opinion, the livestream and how many watch. It sends `watch`,
// `ping`, and `public_vote` for the public poll (issue #16: one ballot per browser, indicative
// and non-binding; results shown once it is closed). The link stays in the fragment, which
// browsers never send to servers.

import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, getLang, setLang, LANGS, fmtPercent, fmtTime } from '../i18n.js';

const LINK_RE = /^[a-z0-9-]{1,40}\.[0-9a-f]{32}$/;
/** Close codes after which trying again is pointless (§15). */
const FINAL = { 4020: 'public.unknown', 4021: 'public.revoked', 4023: 'public.unknown', 4003: 'public.unknown', 4014: 'public.deleted' };
const FULL = 4022;

/** Where the page keeps its browser id, and how one looks (the server checks it again). */
const BROWSER_KEY = 'convene.public.browser';
const BROWSER_RE = /^[A-Za-z0-9_-]{16,64}$/;

/** 16 random bytes, base64url without padding: 22 characters. */
export function newBrowserId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// localStorage may be refused (private modes, blocked storage): the page then keeps the id for
// as long as it is open, and a reload makes a new one (the server still counts one per id).
let memoryId = null;
export function browserId() {
  try {
    let id = localStorage.getItem(BROWSER_KEY);
    if (!id || !BROWSER_RE.test(id)) {
      id = newBrowserId();
      localStorage.setItem(BROWSER_KEY, id);
    }
    return id;
  } catch {
    if (!memoryId) memoryId = newBrowserId();
    return memoryId;
  }
}

/** The key of this browser's answer to a public poll of a convention. */
function votedKey(convention, poll) {
  return `convene.public.voted.${convention}.${poll}`;
}

/** This browser's answer to a poll: `{ choice }` (`choice` null when the server said it had
 * answered already, from another tab or before the storage was cleared), or null. */
export function readVoted(convention, poll) {
  try {
    const v = JSON.parse(localStorage.getItem(votedKey(convention, poll)) || 'null');
    return v && (Number.isInteger(v.choice) || v.choice === null) ? v : null;
  } catch {
    return null;
  }
}

function writeVoted(convention, poll, choice) {
  try {
    localStorage.setItem(votedKey(convention, poll), JSON.stringify({ choice }));
  } catch {
    // Not kept: the server still refuses a second ballot from this browser id.
  }
}

export function linkFromHash(hash) {
  const params = new URLSearchParams((hash || '').replace(/^#/, ''));
  const link = (params.get('link') || '').trim();
  return LINK_RE.test(link) ? link : null;
}

/** « 15 h 20 » in French, "15:20" in English: the app's own format (i18n.js's fmtTime). */
export function clock(ms) {
  return fmtTime(ms);
}

function mmss(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The connection: `watch`, views as they come, reconnect with backoff unless told not to. */
class Watcher {
  constructor(url, link, onChange) {
    this.url = url;
    this.link = link;
    this.onChange = onChange;
    this.view = null;
    this.offset = 0;
    this.status = 'connecting';
    this.backoff = 1000;
    // The convention's id: the link's part before the dot.
    this.convention = link.split('.')[0];
    // poll id -> { state: 'sending' | 'voted' | 'refused', choice, reason }, this page's own.
    this.votes = {};
  }
  /** Answer the open public poll; the reply comes as `public_voted` or `public_vote_refused`. */
  vote(poll, choice) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || this.status !== 'live') {
      this.votes[poll] = { state: 'refused', reason: 'offline' };
      this.onChange();
      return;
    }
    this.votes[poll] = { state: 'sending', choice };
    ws.send(JSON.stringify({ type: 'public_vote', poll, choice, browser: browserId() }));
    this.onChange();
  }
  start() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'watch', protocol: 1, link: this.link }));
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === 'pong') {
        // The server's clock now (a view's server_time is when it was built).
        this.offset = msg.server_time - Date.now();
        this.onChange();
      } else if (msg.type === 'public_count') {
        // The count alone changed.
        if (this.view) this.view = { ...this.view, viewers: msg.viewers };
        this.onChange();
      } else if (msg.type === 'public_view') {
        this.view = msg.view;
        this.status = 'live';
        this.backoff = 1000;
        this.onChange();
      } else if (msg.type === 'public_voted') {
        // Durable on the server: remembered here so that a reload says the same.
        writeVoted(this.convention, msg.poll, msg.choice);
        this.votes[msg.poll] = { state: 'voted', choice: msg.choice };
        this.onChange();
      } else if (msg.type === 'public_vote_refused') {
        if (msg.reason === 'already_voted' && !readVoted(this.convention, msg.poll)) writeVoted(this.convention, msg.poll, null);
        this.votes[msg.poll] = { state: 'refused', reason: msg.reason };
        this.onChange();
      }
    };
    const ping = setInterval(() => { if (ws.readyState === 1) ws.send('{"type":"ping"}'); }, 25000);
    ws.onclose = (e) => {
      clearInterval(ping);
      // An answer sent and not confirmed may or may not be recorded: the viewer tries again,
      // and the server says `already_voted` if it was.
      for (const [poll, v] of Object.entries(this.votes)) {
        if (v.state === 'sending') this.votes[poll] = { state: 'refused', reason: 'lost' };
      }
      if (FINAL[e.code]) {
        this.status = FINAL[e.code];
        this.onChange();
        return;
      }
      this.status = e.code === FULL ? 'public.full' : 'public.reconnecting';
      this.onChange();
      const wait = e.code === FULL ? 15000 : this.backoff;
      this.backoff = Math.min(this.backoff * 2, 30000);
      setTimeout(() => this.start(), wait + Math.random() * 1000);
    };
  }
  now() {
    return Date.now() + this.offset;
  }
}

/** Options with their count, share and a bar; `mine`: the index of this browser's answer. */
function Bars({ rows, total, mine }) {
  return (
    <ul class="public-bars">
      {rows.map(([label, n], i) => {
        const share = total ? n / total : 0;
        return (
          <li>
            <span class="public-bar-label">{label}{i === mine ? <span class="small muted"> — {t('public.poll_yours')}</span> : null}</span>
            <span class="public-bar" style={`--share:${(share * 100).toFixed(1)}%`} aria-hidden="true" />
            <span class="public-bar-n">{n} ({fmtPercent(share)})</span>
          </li>
        );
      })}
    </ul>
  );
}

function Results({ r }) {
  const total = r.tally.ballots || 0;
  let rows = null;
  if (Array.isArray(r.options) && (r.kind === 'single' || r.kind === 'multiple')) {
    rows = r.options.map((label, i) => [label, r.tally.counts[i] || 0]);
  } else if (r.kind === 'position') {
    rows = ['for', 'against', 'for_with_reservations', 'abstain'].map((s, i) => [t(`stance.${s}`), r.tally.counts[i] || 0]);
  }
  return (
    <li class="public-result" data-poll={r.poll}>
      <h3>{r.question}</h3>
      {rows ? <Bars rows={rows} total={total} /> : null}
      <p class="small muted">{t('results.ballots', { n: total })}</p>
    </li>
  );
}

/** Why an answer was not taken, in words. */
function refusedText(reason) {
  switch (reason) {
    case 'already_voted': return t('public.poll_already');
    case 'closed': return t('public.poll_closed');
    case 'not_found': return t('public.poll_not_found');
    case 'invalid': return t('public.poll_invalid');
    case 'full': return t('public.poll_full');
    case 'unavailable': return t('public.poll_unavailable');
    case 'lost': return t('public.poll_lost');
    case 'offline': return t('public.poll_offline');
    default: return t('public.poll_other');
  }
}

/** The open public poll: the question, one button per option, the viewer's answer. */
function PublicPoll({ w, poll }) {
  const mine = w.votes[poll.poll];
  const stored = readVoted(w.convention, poll.poll);
  const choice = mine && mine.state === 'voted' ? mine.choice : stored && Number.isInteger(stored.choice) ? stored.choice : null;
  const answered = choice !== null || (stored && stored.choice === null) || (mine && mine.reason === 'already_voted');
  const sending = mine && mine.state === 'sending';
  // The option pressed is disabled while its answer is on its way, and the options go once
  // answered: the focus, which fell to the top of the page, goes to what the page says.
  const saidRef = useRef(null);
  const settled = mine && (mine.state === 'voted' || mine.state === 'refused');
  useEffect(() => {
    const a = document.activeElement;
    if (settled && saidRef.current && (!a || a === document.body)) saidRef.current.focus();
  }, [settled]);
  let said = null;
  if (choice !== null) {
    said = <p class="public-poll-said" data-testid="public-poll-thanks" data-choice={choice} tabIndex={-1} ref={saidRef}>{t('public.poll_thanks', { option: poll.options[choice] ?? '' })}</p>;
  } else if (answered) {
    said = <p class="public-poll-said" data-testid="public-poll-refused" data-reason="already_voted" tabIndex={-1} ref={saidRef}>{t('public.poll_already')}</p>;
  } else if (mine && mine.state === 'refused') {
    said = <p class="warn-text" role="alert" data-testid="public-poll-refused" data-reason={mine.reason} tabIndex={-1} ref={saidRef}>{refusedText(mine.reason)}</p>;
  } else if (sending) {
    said = <p class="small muted">{t('public.poll_sending')}</p>;
  }
  const canVote = !answered && !(mine && mine.reason === 'closed') && !(mine && mine.reason === 'full');
  return (
    <section class="card public-card public-poll" data-testid="public-poll" data-poll={poll.poll} aria-labelledby="public-poll-h">
      <h2 id="public-poll-h">{t('public.poll')}</h2>
      <p class="public-poll-q" id="public-poll-q"><strong>{poll.question}</strong></p>
      {canVote ? (
        <div class="public-poll-options" role="group" aria-labelledby="public-poll-q">
          {poll.options.map((o, i) => (
            <button type="button" class="btn" data-testid="public-poll-option" data-choice={i} disabled={sending || w.status !== 'live'} aria-busy={sending && mine.choice === i ? 'true' : undefined} onClick={() => w.vote(poll.poll, i)}>{o}</button>
          ))}
        </div>
      ) : null}
      <div aria-live="polite">{said}</div>
      <p class="small muted">{t('public.poll_note')}</p>
    </section>
  );
}

/** Closed public polls and their tallies, newest first; indicative, as the heading says. */
function PublicPollResults({ w, results }) {
  return (
    <section class="card public-card" data-testid="public-poll-results" aria-labelledby="public-poll-res-h">
      <h2 id="public-poll-res-h">{t('public.poll_results')}</h2>
      <ul class="public-list">
        {[...results].reverse().map((r) => {
          const total = (r.tally && r.tally.ballots) || 0;
          const counts = (r.tally && r.tally.counts) || [];
          const stored = readVoted(w.convention, r.poll);
          return (
            <li class="public-result" data-poll={r.poll}>
              <h3>{r.question}</h3>
              <Bars rows={r.options.map((label, i) => [label, counts[i] || 0])} total={total} mine={stored ? stored.choice : null} />
              <p class="small muted" data-testid="public-poll-answers" data-count={total}>{t('public.poll_answers', { n: total })}</p>
            </li>
          );
        })}
      </ul>
      <p class="small muted">{t('public.poll_results_note')}</p>
    </section>
  );
}

function Opinion({ o, link }) {
  const [html, setHtml] = useState(null);
  const [err, setErr] = useState(false);
  const open = async () => {
    try {
      const r = await fetch(o.url, { headers: { Authorization: `Bearer ${link}` }, cache: 'no-store' });
      if (!r.ok) throw new Error(String(r.status));
      setHtml(await r.text());
    } catch {
      setErr(true);
    }
  };
  return (
    <section class="card public-card" data-testid="public-opinion" aria-labelledby="public-opinion-h">
      <h2 id="public-opinion-h">{t('public.opinion')}</h2>
      <p><strong>{o.title}</strong> — {o.label}</p>
      {html === null ? <button type="button" class="btn primary" onClick={open}>{t('public.read_opinion')}</button> : null}
      {err ? <p class="warn-text" role="alert">{t('public.opinion_error')}</p> : null}
      {html !== null ? <iframe class="public-opinion" title={o.title} sandbox="" srcdoc={html} /> : null}
    </section>
  );
}

function Page({ w }) {
  const [, tick] = useState(0);
  const [lang, setL] = useState(getLang());
  useEffect(() => {
    const id = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, []);
  const other = LANGS.find((l) => l !== lang);
  const v = w.view;
  const now = w.now();
  const banner = w.status !== 'live' && w.status !== 'connecting' ? <p class="public-status warn-text" role="status" data-status={w.status}>{t(w.status)}</p> : null;
  return (
    <main id="main" class="public-page" lang={lang}>
      <header class="top-row">
        <div>
          <p class="small muted">{t('public.kicker')}</p>
          <h1>{v ? v.convention : t('common.loading')}</h1>
        </div>
        <button type="button" class="btn small lang" lang={other} aria-label={t('lang.switch_to')} onClick={() => { setLang(other); setL(other); }}>{t('lang.other')}</button>
      </header>
      {banner}
      {v ? (
        <>
          {/* Not a live region: at a public plenary the count changes every second. */}
          <p class="small muted" data-testid="public-viewers" data-count={v.viewers}>{t('public.viewers', { n: v.viewers })}</p>
          {v.livestream ? (
            <p><a class="btn primary" data-testid="public-livestream" href={v.livestream} target="_blank" rel="noopener noreferrer">{t('public.livestream')}</a></p>
          ) : null}
          <section class="card public-card" aria-labelledby="public-now-h">
            <h2 id="public-now-h">{t('public.now')}</h2>
            {/* What changes is announced (who speaks, the breakouts), not the countdown, which
                a screen reader said every second: it hears until when instead. */}
            <div aria-live="polite" data-testid="public-now-live">
              {v.away ? (
                <p data-testid="public-away" data-kind={v.away.kind}>
                  {v.away.until
                    ? t(v.away.kind === 'rotation' ? 'public.rotation_until' : 'public.away_until', { time: clock(v.away.until) })
                    : t(v.away.kind === 'rotation' ? 'public.rotation' : 'public.away')}
                </p>
              ) : null}
              {v.floor ? (
                <p class="public-floor" data-testid="public-floor">
                  <strong>{t('public.floor', { name: v.floor.name })}</strong>
                  {v.floor.ends_at ? (
                    <>
                      <span class="public-countdown" data-testid="public-countdown" aria-hidden="true"> {t('public.left', { time: mmss(v.floor.ends_at - now) })}</span>
                      <span class="sr-only"> {t('public.until', { time: clock(v.floor.ends_at) })}</span>
                    </>
                  ) : null}
                </p>
              ) : !v.away ? <p class="muted" data-testid="public-floor-none">{t('public.no_floor')}</p> : null}
            </div>
          </section>
          {v.poll ? <PublicPoll key={v.poll.poll} w={w} poll={v.poll} /> : null}
          <section class="card public-card" aria-labelledby="public-ann-h">
            <h2 id="public-ann-h">{t('public.announcements')}</h2>
            {v.announcements.length ? (
              <ul class="public-list" data-testid="public-announcements" aria-live="polite">
                {[...v.announcements].reverse().map((a) => <li><span class="small muted">{clock(a.at)}</span> {a.text}</li>)}
              </ul>
            ) : <p class="muted">{t('public.none')}</p>}
          </section>
          <section class="card public-card" aria-labelledby="public-res-h">
            <h2 id="public-res-h">{t('public.results')}</h2>
            {v.results.length ? (
              <ul class="public-list" data-testid="public-results">
                {[...v.results].reverse().map((r) => <Results r={r} />)}
              </ul>
            ) : <p class="muted">{t('public.none')}</p>}
          </section>
          {v.poll_results && v.poll_results.length ? <PublicPollResults w={w} results={v.poll_results} /> : null}
          {v.opinion ? <Opinion o={v.opinion} link={w.link} /> : null}
        </>
      ) : null}
      <p class="small muted">{t('public.privacy')}</p>
    </main>
  );
}

/** Render the public page into `root`. */
export function startPublic(root) {
  const link = linkFromHash(location.hash);
  if (!link) {
    render(
      <main id="main" class="center-page"><h1>Convene</h1><p class="warn-text" role="alert">{t('public.no_link')}</p></main>,
      root,
    );
    return;
  }
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/public/ws`;
  let w;
  const rerender = () => render(<Page w={w} />, root);
  w = new Watcher(url, link, rerender);
  // For the end-to-end tests: the latest view, read-only by intent.
  window.__conveneWatch = w;
  // Another tab of this browser answered a public poll: this one says so too.
  window.addEventListener('storage', (e) => {
    if (!e.key || e.key.startsWith('convene.public.voted.')) rerender();
  });
  rerender();
  w.start();
}
