// What is asked of me comes to me: a poll that opens for me, and results just published, show
// as a dialog in front of whatever tab and scroll position (a modal <dialog>: the rest of the
// page is inert, the focus stays inside, Escape or "Plus tard" dismisses it); a dismissed one
// does not come back, also after a reload.

import { useState, useEffect, useRef } from 'preact/hooks';
import { t } from '../i18n.js';
import { Countdown } from './common.jsx';
import { BallotForm, Results, describeBallot, sortedPolls } from './polls.jsx';
import { Icon } from './icons.jsx';

function seenKey(client) {
  return `convene-asked-${client.snap.convention.id}-${client.you.id}`;
}

function loadSeen(client) {
  try {
    return new Set(JSON.parse(localStorage.getItem(seenKey(client)) || '[]'));
  } catch {
    return new Set();
  }
}

function saveSeen(client, seen) {
  try {
    localStorage.setItem(seenKey(client), JSON.stringify([...seen].slice(-200)));
  } catch {
    /* private mode: remembered for this page only */
  }
}

/** What to ask now: a vote waiting for me first, then results published since I came. */
export function currentAsk(client, seen, published) {
  const snap = client.snap;
  if (client.you.roles.includes('guarantor')) return null;
  const waiting = new Set(client.waiting('vote').map((p) => p.command.poll));
  const toVote = sortedPolls(snap).find((p) => p.status === 'open' && p.eligible && !p.you_voted && !waiting.has(p.id) && !seen.has(`vote:${p.id}`));
  if (toVote) return { kind: 'vote', poll: toVote };
  for (const id of published) {
    const p = snap.polls.find((x) => x.id === id);
    if (p && p.status === 'published' && p.tally && !seen.has(`results:${p.id}`)) return { kind: 'results', poll: p };
  }
  return null;
}

export function AskDialog({ client, published, goToPolls }) {
  const [seen, setSeen] = useState(() => loadSeen(client));
  // The poll just voted in here: its confirmation stays until closed.
  const [voted, setVoted] = useState(null);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState(null);
  const ref = useRef(null);
  const snap = client.snap;
  const justVoted = voted && snap.polls.find((p) => p.id === voted);
  const ask = justVoted ? { kind: 'voted', poll: justVoted } : currentAsk(client, seen, published);
  const key = ask ? `${ask.kind}:${ask.poll.id}` : null;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (ask && !d.open) d.showModal();
    if (!ask && d.open) d.close();
  });
  useEffect(() => setRefused(null), [key]);
  const remember = (k) => {
    const next = new Set(seen);
    next.add(k);
    setSeen(next);
    saveSeen(client, next);
  };
  const dismiss = () => {
    if (justVoted) setVoted(null);
    else if (key) remember(key);
  };
  // The polls tab lists every open poll: none of them is asked again.
  const seeAll = () => {
    const next = new Set(seen);
    for (const p of snap.polls) if (p.status === 'open') next.add(`vote:${p.id}`);
    if (key) next.add(key);
    setSeen(next);
    saveSeen(client, next);
    goToPolls();
  };
  const vote = async (ballot) => {
    const poll = ask.poll;
    setBusy(true);
    setRefused(null);
    try {
      await client.request({ type: 'vote', poll: poll.id, ballot });
      remember(`vote:${poll.id}`);
      setVoted(poll.id);
    } catch (e) {
      setRefused(e.code || 'internal');
    }
    setBusy(false);
  };
  let body = null;
  if (ask && ask.kind === 'vote') {
    const { poll } = ask;
    body = (
      <>
        <h2 id="ask-title"><Icon name="ballot" /> {t('ask.vote_title')}</h2>
        <p class="ask-question" id="ask-question">{poll.spec.question}</p>
        {poll.ends_at ? <p><Countdown client={client} deadline={poll.ends_at} label={t('poll.closes_in')} /></p> : null}
        <BallotForm key={poll.id} poll={poll} onVote={vote} busy={busy} seed={client.you.id} />
        {refused ? <p class="warn-text" role="alert">{t('cmd.vote')} : {t(`err.${refused}`)}</p> : null}
        <div class="row wrap ask-actions">
          <button type="button" class="btn" onClick={dismiss}>{t('ask.later')}</button>
          <button type="button" class="btn" onClick={seeAll}>{t('ask.see_polls')}</button>
        </div>
      </>
    );
  } else if (ask && ask.kind === 'voted') {
    const { poll } = ask;
    body = (
      <>
        <h2 id="ask-title"><Icon name="check" /> {t('ask.voted_title')}</h2>
        <p class="ask-question">{poll.spec.question}</p>
        <p class="voted" role="status">{poll.spec.secret ? t('vote.recorded_secret') : t('vote.recorded_named', { choice: describeBallot(poll.spec, poll.your_ballot) })}</p>
        <div class="row wrap ask-actions">
          <button type="button" class="btn primary" onClick={dismiss} autoFocus>{t('common.close')}</button>
        </div>
      </>
    );
  } else if (ask && ask.kind === 'results') {
    const { poll } = ask;
    body = (
      <>
        <h2 id="ask-title"><Icon name="award" /> {t('ask.results_title')}</h2>
        <p class="ask-question">{poll.spec.question}</p>
        <Results poll={poll} />
        <div class="row wrap ask-actions">
          <button type="button" class="btn primary" onClick={dismiss} autoFocus>{t('common.close')}</button>
          <button type="button" class="btn" onClick={() => { dismiss(); goToPolls(); }}>{t('ask.see_polls')}</button>
        </div>
      </>
    );
  }
  return (
    <dialog
      ref={ref}
      class="ask-dialog"
      aria-labelledby="ask-title"
      data-testid="ask-dialog"
      data-kind={ask ? ask.kind : ''}
      data-poll={ask ? ask.poll.id : ''}
      onCancel={(e) => { e.preventDefault(); dismiss(); }}
    >
      {body}
    </dialog>
  );
}
