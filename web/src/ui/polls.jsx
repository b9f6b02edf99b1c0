// Polls: voting in every kind (single, multiple, scale, ranking, text, position), results,
// and, for facilitators, the builder and the live participation.

import { useState, useRef, useEffect } from 'preact/hooks';
import { t, fmtPercent, fmtNumber } from '../i18n.js';
import { pollNumber, voterOrder } from '../reduce.js';
import { Countdown, act, ActButton, Section, useId, roomName, useQuestionFocus, NumberField, Checked, checkFields, integer, minutes } from './common.jsx';
import { Icon } from './icons.jsx';
import { Waiting } from './status.jsx';
import { ExportButton, sheetPath } from './download.jsx';

const STANCES = ['for', 'against', 'for_with_reservations', 'abstain'];

export function sortedPolls(snap) {
  return snap.polls.slice().sort((a, b) => pollNumber(a.id) - pollNumber(b.id));
}

function optionsOf(spec) {
  return spec.options || [];
}

/** The labels of a tally's `counts`, by kind. */
function countLabels(spec) {
  switch (spec.kind) {
    case 'single':
    case 'multiple':
      return spec.options;
    case 'position':
      return STANCES.map((s) => t(`stance.${s}`));
    case 'scale': {
      const out = [];
      for (let v = spec.min; v <= spec.max; v += 1) {
        let l = String(v);
        if (v === spec.min && spec.min_label) l += ` (${spec.min_label})`;
        if (v === spec.max && spec.max_label) l += ` (${spec.max_label})`;
        out.push(l);
      }
      return out;
    }
    default:
      return [];
  }
}

/** A share of the ballots as people read it: "12,5 %" in French. */
function share(n, ballots) {
  return fmtPercent(ballots ? n / ballots : 0);
}

/** Per option, its count, share of `ballots` and a bar (scaled to the largest count);
 * `countKey` words a count (votes, or a public poll's answers). */
export function Bars({ labels, counts, ballots, highlight, countKey = 'results.count', testid }) {
  const max = Math.max(1, ...counts);
  return (
    <ul class="bars" data-testid={testid}>
      {labels.map((l, i) => (
        <li key={i} class={highlight && highlight.includes(i) ? 'winner' : ''} data-choice={i} data-count={counts[i] || 0}>
          <span class="bar-label">{l}</span>
          <span class="bar-track" aria-hidden="true"><span class="bar-fill" style={{ width: `${(100 * (counts[i] || 0)) / max}%` }} /></span>
          <span class="bar-value">{t(countKey, { n: counts[i] || 0, pct: share(counts[i] || 0, ballots) })}</span>
        </li>
      ))}
    </ul>
  );
}

/** The counting method, named once, with its one-line explanation. */
function Method({ kind }) {
  if (kind === 'text') return null;
  return <p class="method small"><strong>{t(`counting.${kind}`)}</strong> — {t(`counting.${kind}_how`)}</p>;
}

const quote = (x) => t('results.quoted', { x });

/** What the tally says, in one plain sentence. */
export function resultWords(spec, tally) {
  if (!tally.ballots) return t('results.no_ballot');
  if (spec.kind === 'text') return t('results.answers', { n: tally.texts.length });
  if (spec.kind === 'scale') {
    let sum = 0;
    tally.counts.forEach((c, i) => { sum += c * (spec.min + i); });
    return t('results.scale', { mean: fmtNumber(sum / tally.ballots, 1), max: spec.max, min: spec.min, n: tally.ballots });
  }
  if (spec.kind === 'ranking') {
    const w = tally.winner;
    if (w === null || w === undefined) return t('results.no_winner');
    const last = tally.rounds[tally.rounds.length - 1];
    const votes = last ? last.counts[w] || 0 : 0;
    const counted = last ? last.counts.reduce((a, c) => a + (c || 0), 0) : tally.ballots;
    return t('results.ranking', { option: quote(spec.options[w]), n: votes, of: counted, pct: share(votes, counted) });
  }
  const labels = countLabels(spec);
  const top = Math.max(...tally.counts);
  const leaders = tally.counts.map((c, i) => (c === top ? i : -1)).filter((i) => i >= 0);
  if (leaders.length > 1) return t('results.tie', { options: leaders.map((i) => quote(labels[i])).join(', '), n: top });
  const key = spec.kind === 'multiple' ? 'results.most_chosen' : 'results.ahead';
  return t(key, { option: quote(labels[leaders[0]]), n: top, of: tally.ballots, pct: share(top, tally.ballots) });
}

export function Results({ poll, staff }) {
  const { spec, tally } = poll;
  if (!tally) return null;
  let body;
  if (spec.kind === 'ranking') {
    const opts = spec.options;
    const maxB = Math.max(1, ...tally.borda);
    body = (
      <>
        {tally.rounds.length ? (
          <details class="rounds">
            <summary>{t('results.rounds_detail', { n: tally.rounds.length })}</summary>
            <div class="table-wrap" tabIndex={0} role="region" aria-label={t('results.irv')}>
              <table class="irv">
                <caption>{t('results.irv')}</caption>
                <thead>
                  <tr><th scope="col">{t('results.option')}</th>{tally.rounds.map((_, r) => <th scope="col">{t('results.round', { n: r + 1 })}</th>)}</tr>
                </thead>
                <tbody>
                  {opts.map((o, i) => (
                    <tr key={i} class={tally.winner === i ? 'winner' : ''}>
                      <th scope="row">{o}</th>
                      {tally.rounds.map((rd) => <td>{rd.counts[i] === null ? '—' : rd.counts[i]}{rd.eliminated === i ? ` ✗ ${t('results.eliminated')}` : ''}</td>)}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        ) : null}
        {staff ? (
          <details class="borda">
            <summary>{t('results.borda')}</summary>
            <ul class="bars">
              {opts.map((o, i) => (
                <li key={i}>
                  <span class="bar-label">{o}</span>
                  <span class="bar-track" aria-hidden="true"><span class="bar-fill" style={{ width: `${(100 * (tally.borda[i] || 0)) / maxB}%` }} /></span>
                  <span class="bar-value">{t('results.points', { n: tally.borda[i] || 0 })}</span>
                </li>
              ))}
            </ul>
          </details>
        ) : null}
      </>
    );
  } else if (spec.kind === 'text') {
    body = tally.texts.length ? (
      <ul class="answers">{tally.texts.map((x, i) => <li key={i}>{x}</li>)}</ul>
    ) : null;
  } else {
    const top = Math.max(...tally.counts, 0);
    const leaders = top > 0 ? tally.counts.map((c, i) => (c === top ? i : -1)).filter((i) => i >= 0) : [];
    body = <Bars labels={countLabels(spec)} counts={tally.counts} ballots={tally.ballots} highlight={spec.kind === 'scale' ? null : leaders} />;
  }
  return (
    <div class="results">
      <h4 class="h-small">{poll.status === 'published' ? t('results.published') : t('results.current')} · {t('results.ballots', { n: tally.ballots })}</h4>
      <p class="result-words">{spec.kind === 'ranking' && tally.winner !== null && tally.winner !== undefined ? <Icon name="award" /> : null} {resultWords(spec, tally)}</p>
      <Method kind={spec.kind} />
      {body}
    </div>
  );
}

export function describeBallot(spec, b) {
  if (!b) return '';
  switch (b.kind) {
    case 'single': return spec.options[b.choice];
    case 'multiple': return b.choices.map((c) => spec.options[c]).join(', ');
    case 'scale': return String(b.value);
    case 'ranking': return b.order.map((c) => spec.options[c]).join(' > ');
    case 'text': return b.text;
    case 'position': return t(`stance.${b.stance}`);
    default: return '';
  }
}

/** A ranking ballot: numbered places, moved with buttons or by dragging the handle. */
function RankingField({ spec, order, setOrder, hintId }) {
  const [said, setSaid] = useState('');
  const drag = useRef(null);
  const listRef = useRef(null);
  const moveTo = (from, to, announce) => {
    if (to < 0 || to >= order.length || to === from) return;
    const o = order.slice();
    const [x] = o.splice(from, 1);
    o.splice(to, 0, x);
    setOrder(o);
    if (announce) setSaid(t('vote.moved_to', { option: spec.options[x], place: to + 1 }));
  };
  const onDown = (e, i) => {
    e.preventDefault();
    drag.current = { from: i };
    e.currentTarget.setPointerCapture(e.pointerId);
  };
  const onMove = (e) => {
    if (!drag.current) return;
    const el = document.elementFromPoint(e.clientX, e.clientY);
    const li = el && el.closest('li[data-place]');
    if (!li || !listRef.current || !listRef.current.contains(li)) return;
    const to = Number(li.dataset.place);
    if (to !== drag.current.from) {
      moveTo(drag.current.from, to, false);
      drag.current.from = to;
    }
  };
  const onUp = () => {
    if (drag.current) setSaid(t('vote.moved_to', { option: spec.options[order[drag.current.from]], place: drag.current.from + 1 }));
    drag.current = null;
  };
  return (
    <>
      <ol class="ranking" ref={listRef} aria-describedby={hintId}>
        {order.map((opt, i) => (
          <li key={opt} data-place={i} data-option={opt}>
            <span class="rank-num">{i + 1}</span>
            <span class="drag-handle" aria-hidden="true" title={t('vote.drag')} onPointerDown={(e) => onDown(e, i)} onPointerMove={onMove} onPointerUp={onUp} onPointerCancel={onUp}>⠿</span>
            <span class="rank-label">{spec.options[opt]}</span>
            <button type="button" class="btn small" disabled={i === 0} onClick={() => moveTo(i, i - 1, true)}><span aria-hidden="true">↑</span><span class="sr-only">{t('vote.up', { option: spec.options[opt] })}</span></button>
            <button type="button" class="btn small" disabled={i === order.length - 1} onClick={() => moveTo(i, i + 1, true)}><span aria-hidden="true">↓</span><span class="sr-only">{t('vote.down', { option: spec.options[opt] })}</span></button>
          </li>
        ))}
      </ol>
      <p class="sr-only" aria-live="polite">{said}</p>
    </>
  );
}

/** The form of a ballot, by kind. Calls onVote(ballot). `seed`: the voter's own order. */
export function BallotForm({ poll, onVote, busy, seed }) {
  const { spec } = poll;
  const prev = poll.your_ballot;
  const gid = useId('ballot');
  const [single, setSingle] = useState(prev && prev.kind === 'single' ? prev.choice : null);
  const [multi, setMulti] = useState(prev && prev.kind === 'multiple' ? prev.choices : []);
  const [scale, setScale] = useState(prev && prev.kind === 'scale' ? prev.value : null);
  const [order, setOrder] = useState(prev && prev.kind === 'ranking' ? prev.order : voterOrder(optionsOf(spec).length, `${poll.id}:${seed || ''}`));
  const [text, setText] = useState(prev && prev.kind === 'text' ? prev.text : '');
  const [stance, setStance] = useState(prev && prev.kind === 'position' ? prev.stance : null);
  const [confirming, setConfirming] = useState(false);
  // The confirmation takes the focus when it opens, and « Revenir » gives it back to « Voter ».
  const focus = useQuestionFocus(confirming);

  let fields;
  let ballot = null;
  let hint = null;
  switch (spec.kind) {
    case 'single':
      fields = spec.options.map((o, i) => (
        <label class="choice" key={i}><input type="radio" name={gid} checked={single === i} onChange={() => setSingle(i)} /> {o}</label>
      ));
      if (single !== null) ballot = { kind: 'single', choice: single };
      break;
    case 'multiple': {
      fields = spec.options.map((o, i) => (
        <label class="choice" key={i}><input type="checkbox" checked={multi.includes(i)} onChange={(e) => setMulti(e.currentTarget.checked ? multi.concat(i).sort((a, b) => a - b) : multi.filter((x) => x !== i))} /> {o}</label>
      ));
      hint = spec.min === spec.max ? t('vote.multi_exact', { n: spec.max }) : t('vote.multi_range', { min: spec.min, max: spec.max });
      if (multi.length >= spec.min && multi.length <= spec.max) ballot = { kind: 'multiple', choices: multi };
      break;
    }
    case 'scale': {
      const vals = [];
      for (let v = spec.min; v <= spec.max; v += 1) vals.push(v);
      fields = (
        <div class="scale">
          {spec.min_label ? <span class="scale-end">{spec.min_label}</span> : null}
          <div class="scale-values">
            {vals.map((v) => (
              <label class="scale-choice" key={v}><input type="radio" name={gid} checked={scale === v} onChange={() => setScale(v)} /><span>{v}</span></label>
            ))}
          </div>
          {spec.max_label ? <span class="scale-end">{spec.max_label}</span> : null}
        </div>
      );
      if (scale !== null) ballot = { kind: 'scale', value: scale };
      break;
    }
    case 'ranking': {
      hint = t('vote.rank_hint');
      fields = <RankingField spec={spec} order={order} setOrder={setOrder} hintId={`${gid}-hint`} />;
      ballot = { kind: 'ranking', order };
      break;
    }
    case 'text': {
      const tid = `${gid}-text`;
      fields = (
        <>
          <label for={tid}>{t('vote.your_answer')}</label>
          <textarea id={tid} rows={3} maxLength={spec.max_chars} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          <span class="small muted">{t('vote.chars', { n: text.length, max: spec.max_chars })}</span>
        </>
      );
      if (text.trim()) ballot = { kind: 'text', text: text.trim() };
      break;
    }
    case 'position':
      fields = STANCES.map((s) => (
        <label class={`choice stance-${s}`} key={s}><input type="radio" name={gid} checked={stance === s} onChange={() => setStance(s)} /> {t(`stance.${s}`)}</label>
      ));
      if (stance) ballot = { kind: 'position', stance };
      break;
    default:
      fields = <p>{t('vote.unknown_kind')}</p>;
  }
  const submit = (e) => {
    e.preventDefault();
    if (!ballot) return;
    if (spec.secret && !confirming) {
      setConfirming(true);
      return;
    }
    setConfirming(false);
    onVote(ballot);
  };
  const legendId = `${gid}-legend`;
  return (
    <form class="ballot" onSubmit={submit}>
      <fieldset aria-describedby={hint ? `${gid}-hint` : undefined} disabled={busy}>
        <legend id={legendId} class="sr-only">{spec.question}</legend>
        {hint ? <p id={`${gid}-hint`} class="small muted">{hint}</p> : null}
        <div class="choices">{fields}</div>
      </fieldset>
      {spec.secret ? <p class="secret-warning"><Icon name="lock" /> {t('vote.secret_warning')}</p> : null}
      {confirming ? (
        <div class="confirm" role="alertdialog" aria-labelledby={`${gid}-confirm`}>
          <p id={`${gid}-confirm`}><strong>{t('vote.confirm_q', { choice: describeBallot(spec, ballot) })}</strong></p>
          <div class="row">
            <button type="submit" class="btn primary" ref={focus.question}>{t('vote.confirm')}</button>
            <button type="button" class="btn" onClick={() => { focus.giveBack(); setConfirming(false); }}>{t('vote.back')}</button>
          </div>
        </div>
      ) : (
        <button type="submit" class="btn primary" ref={focus.opener} disabled={!ballot || busy}>{poll.you_voted ? t('vote.change') : t('vote.submit')}</button>
      )}
    </form>
  );
}

function kindLabel(spec) {
  return t(`poll.kind.${spec.kind}`);
}

function StatusBadge({ poll }) {
  return <span class={`badge status-${poll.status}`}>{t(`poll.status.${poll.status}`)}</span>;
}

export function Participation({ poll }) {
  const p = poll.participation;
  if (!p) return null;
  const reached = p.quorum !== null && p.voted >= p.quorum;
  return (
    <div class="participation">
      <p>
        <strong>{t('poll.voted', { n: p.voted, eligible: p.eligible })}</strong>{' '}
        <span class="muted">{t('poll.present', { n: p.eligible_present })}</span>
        {p.quorum !== null ? <> · <span class={reached ? 'ok' : 'warn-text'}>{reached ? t('poll.quorum_ok', { q: p.quorum }) : t('poll.quorum_no', { q: p.quorum })}</span></> : null}
      </p>
      <progress max={Math.max(1, p.eligible)} value={p.voted} aria-label={t('poll.participation')} />
    </div>
  );
}

/** One poll, for anyone who sees it. */
export function PollCard({ client, poll, admin }) {
  const [busy, setBusy] = useState(false);
  const { spec } = poll;
  const votedRef = useRef(null);
  const votedHere = useRef(false);
  const vote = async (ballot) => {
    votedHere.current = true;
    setBusy(true);
    await act(client, { type: 'vote', poll: poll.id, ballot });
    setBusy(false);
  };
  // A secret vote recorded takes its ballot form away, and the focus it held: the focus goes
  // to the confirmation, not to the top of the page.
  useEffect(() => {
    if (!poll.you_voted || !votedHere.current) return;
    votedHere.current = false;
    const a = document.activeElement;
    if ((!a || a === document.body) && votedRef.current) votedRef.current.focus();
  }, [poll.you_voted]);
  const canVote = poll.status === 'open' && poll.eligible && !client.you.roles.includes('guarantor') && !(spec.secret && poll.you_voted);
  const titleId = `poll-${poll.id}-q`;
  return (
    <article class={`poll card status-${poll.status}`} aria-labelledby={titleId} data-poll={poll.id}>
      <header class="poll-head">
        <h3 id={titleId}>{spec.question}</h3>
        <p class="poll-meta">
          <StatusBadge poll={poll} /> <span class="badge">{kindLabel(spec)}</span>
          {spec.secret ? <span class="badge secret"><Icon name="lock" size={14} /> {t('poll.secret')}</span> : <span class="badge">{t('poll.named')}</span>}
          {spec.room ? <span class="badge">{roomName(client.snap, spec.room)}</span> : null}
          {poll.status === 'open' && poll.ends_at ? <Countdown client={client} deadline={poll.ends_at} label={t('poll.closes_in')} /> : null}
        </p>
      </header>
      {poll.status === 'open' && poll.you_voted ? (
        <p class="voted" role="status" tabIndex={-1} ref={votedRef} data-testid="vote-recorded"><Icon name="check" /> {spec.secret ? t('vote.recorded_secret') : t('vote.recorded_named', { choice: describeBallot(spec, poll.your_ballot) })}</p>
      ) : null}
      {poll.status !== 'open' && poll.you_voted && !admin ? <p class="small muted">{t('vote.you_took_part')}</p> : null}
      {poll.status === 'open' && !poll.eligible && !admin ? <p class="muted">{t('vote.not_eligible')}</p> : null}
      {canVote ? <BallotForm poll={poll} onVote={vote} busy={busy} seed={client.you.id} /> : null}
      <Waiting client={client} types={['vote']} match={(p) => p.command.poll === poll.id} what={t('pending.vote')} />
      {admin ? <Participation poll={poll} /> : null}
      {admin && poll.status === 'open' && !poll.tally && spec.secret ? <p class="muted small" data-testid="count-hidden"><Icon name="lock" size={14} /> {t('results.hidden_secret')}</p> : null}
      {poll.tally ? <Results poll={poll} staff={admin} /> : (poll.status === 'closed' ? <p class="muted">{t('results.not_yet')}</p> : null)}
      {admin ? <PollActions client={client} poll={poll} /> : null}
    </article>
  );
}

function PollActions({ client, poll }) {
  if (!client.you.roles.includes('facilitator')) return null;
  const participantsSee = poll.spec.live_results || poll.revealed || poll.status === 'published';
  return (
    <div class="row wrap poll-actions">
      {poll.status === 'draft' ? (
        <>
          <ActButton client={client} class="btn primary" command={{ type: 'open_poll', poll: poll.id }}>{t('poll.open')}</ActButton>
          <button type="button" class="btn" onClick={() => client.hooks.editPoll && client.hooks.editPoll(poll)}>{t('poll.edit')}</button>
          <ActButton client={client} class="btn danger" command={{ type: 'delete_poll', poll: poll.id }} confirm={t('poll.delete_confirm')}>{t('poll.delete')}</ActButton>
        </>
      ) : null}
      {/* Closing and publishing cannot be undone: asked first, saying what follows. */}
      {poll.status === 'open' ? <ActButton client={client} class="btn primary" command={{ type: 'close_poll', poll: poll.id }} confirm={t('poll.close_confirm')}>{t('poll.close')}</ActButton> : null}
      {(poll.status === 'open' || poll.status === 'closed') && !participantsSee ? (
        <ActButton client={client} class="btn" command={{ type: 'reveal_results', poll: poll.id }}>{t('poll.reveal')}</ActButton>
      ) : null}
      {poll.status === 'closed' ? <ActButton client={client} class="btn primary" command={{ type: 'publish_results', poll: poll.id }} confirm={poll.spec.room ? t('poll.publish_confirm_room') : t('poll.publish_confirm')}>{t('poll.publish')}</ActButton> : null}
    </div>
  );
}

const KINDS = ['single', 'multiple', 'scale', 'ranking', 'text', 'position'];
const VOTER_ROLES = ['citizen', 'facilitator', 'rapporteur', 'expert'];

function emptyDraft() {
  return {
    question: '', kind: 'position', options: '', min: '1', max: '1', smin: '1', smax: '5', min_label: '', max_label: '',
    max_chars: '280', secret: false, live_results: false, voters: ['citizen'], quorum: '', duration: '', room: '',
  };
}

function draftFromSpec(spec) {
  const d = emptyDraft();
  d.question = spec.question;
  d.kind = spec.kind;
  d.secret = !!spec.secret;
  d.live_results = !!spec.live_results;
  d.voters = spec.voters && spec.voters.length ? spec.voters.slice() : ['citizen'];
  d.quorum = spec.quorum === null || spec.quorum === undefined ? '' : String(spec.quorum);
  d.duration = spec.duration_ms ? String(spec.duration_ms / 60000) : '';
  d.room = spec.room || '';
  if (spec.options) d.options = spec.options.join('\n');
  if (spec.kind === 'multiple') { d.min = String(spec.min); d.max = String(spec.max); }
  if (spec.kind === 'scale') { d.smin = String(spec.min); d.smax = String(spec.max); d.min_label = spec.min_label || ''; d.max_label = spec.max_label || ''; }
  if (spec.kind === 'text') d.max_chars = String(spec.max_chars);
  return d;
}

const WITH_OPTIONS = ['single', 'multiple', 'ranking'];

function optionLines(text) {
  return text.split('\n').map((x) => x.trim()).filter(Boolean);
}

/** What is wrong in a draft, field by field (keys: the ends of the fields' ids, in the form's
 * order), in words: checked in the page as the server checks (polls.rs `check_spec`), so that a
 * facilitator reads what to change beside the field, in their language. */
export function draftErrors(d) {
  const found = {};
  const question = d.question.trim();
  if (!question || [...question].length > 500) found.q = t('pb.err_question');
  if (WITH_OPTIONS.includes(d.kind)) {
    const options = optionLines(d.options);
    const long = options.find((o) => [...o].length > 200);
    const seen = new Set();
    const same = options.find((o) => seen.has(o) || !seen.add(o));
    if (options.length < 2) found.opts = t('pb.err_options_few');
    else if (options.length > 50) found.opts = t('pb.err_options_many', { n: options.length });
    else if (long !== undefined) found.opts = t('pb.err_option_long', { start: `${[...long].slice(0, 40).join('')}…` });
    else if (same !== undefined) found.opts = t('pb.err_options_same', { option: same });
    if (d.kind === 'multiple') {
      const min = integer(d.min);
      const max = integer(d.max);
      const n = Math.max(options.length, 2);
      if (Number.isNaN(min) || min < 0 || (!Number.isNaN(max) && min > max)) found.min = t('pb.err_min_choices');
      if (Number.isNaN(max) || max < 1 || max > n) found.max = t('pb.err_max_choices', { n });
    }
  }
  if (d.kind === 'scale') {
    const lo = integer(d.smin);
    const hi = integer(d.smax);
    if (Number.isNaN(lo)) found.smin = t('pb.err_integer');
    if (Number.isNaN(hi)) found.smax = t('pb.err_integer');
    else if (!Number.isNaN(lo) && (hi <= lo || hi - lo + 1 > 101)) found.smax = t('pb.err_scale');
  }
  if (d.kind === 'text') {
    const n = integer(d.max_chars);
    if (Number.isNaN(n) || n < 1 || n > 2000) found.mc = t('pb.err_max_chars');
  }
  if (String(d.quorum).trim() !== '') {
    const q = integer(d.quorum);
    if (Number.isNaN(q) || q < 1) found.quorum = t('pb.err_quorum');
  }
  if (String(d.duration).trim() !== '') {
    const m = minutes(d.duration);
    if (Number.isNaN(m) || m <= 0 || m > 720) found.dur = t('pb.err_duration');
  }
  return found;
}

/** The spec of a draft `draftErrors` found nothing wrong in. */
export function specFromDraft(d) {
  const spec = { question: d.question.trim(), kind: d.kind, secret: d.secret, live_results: d.live_results, voters: d.voters };
  const options = optionLines(d.options);
  if (d.kind === 'single' || d.kind === 'ranking') spec.options = options;
  if (d.kind === 'multiple') { spec.options = options; spec.min = integer(d.min); spec.max = integer(d.max); }
  if (d.kind === 'scale') { spec.min = integer(d.smin); spec.max = integer(d.smax); spec.min_label = d.min_label.trim(); spec.max_label = d.max_label.trim(); }
  if (d.kind === 'text') spec.max_chars = integer(d.max_chars);
  spec.quorum = String(d.quorum).trim() === '' ? null : integer(d.quorum);
  spec.duration_ms = String(d.duration).trim() === '' ? null : Math.round(minutes(d.duration) * 60000);
  spec.room = d.room || null;
  return spec;
}

/** The facilitators' poll builder (new draft, or editing a draft). */
export function PollBuilder({ client, editing, onDone }) {
  const [d, setD] = useState(editing ? draftFromSpec(editing.spec) : emptyDraft());
  const [busy, setBusy] = useState(false);
  // Checked in the page, field by field (the server checks again).
  const [errors, setErrors] = useState({});
  const id = useId('pb');
  const put = (k, v, field) => {
    setD({ ...d, [k]: v });
    if (errors[field]) setErrors({ ...errors, [field]: undefined });
  };
  const set = (k, field = k) => (e) => put(k, e.currentTarget.type === 'checkbox' ? e.currentTarget.checked : e.currentTarget.value, field);
  const number = (k, field) => ({ id: `${id}-${field}`, value: d[k], onValue: (v) => put(k, v, field), error: errors[field] });
  const submit = async (e) => {
    e.preventDefault();
    if (!checkFields(draftErrors(d), setErrors, id)) return;
    setBusy(true);
    const spec = specFromDraft(d);
    const ok = await act(client, editing ? { type: 'edit_poll', poll: editing.id, spec } : { type: 'draft_poll', spec });
    setBusy(false);
    if (ok) {
      setD(emptyDraft());
      if (onDone) onDone();
    }
  };
  const needsOptions = WITH_OPTIONS.includes(d.kind);
  return (
    <form class="poll-builder stack" onSubmit={submit} noValidate>
      <label for={`${id}-q`}>{t('pb.question')}</label>
      <Checked id={`${id}-q`} error={errors.q}><textarea rows={2} maxLength={500} value={d.question} onInput={set('question', 'q')} /></Checked>
      <label for={`${id}-kind`}>{t('pb.kind')}</label>
      <select id={`${id}-kind`} value={d.kind} onChange={set('kind')}>
        {KINDS.map((k) => <option value={k}>{t(`poll.kind.${k}`)}</option>)}
      </select>
      {needsOptions ? (
        <>
          <label for={`${id}-opts`}>{t('pb.options')}</label>
          <Checked id={`${id}-opts`} error={errors.opts} hint={t('pb.options_hint')}><textarea rows={4} value={d.options} onInput={set('options', 'opts')} /></Checked>
        </>
      ) : null}
      {d.kind === 'multiple' ? (
        <div class="row wrap">
          <NumberField label={t('pb.min_choices')} inputMode="numeric" {...number('min', 'min')} />
          <NumberField label={t('pb.max_choices')} inputMode="numeric" {...number('max', 'max')} />
        </div>
      ) : null}
      {d.kind === 'scale' ? (
        <div class="grid2">
          <NumberField label={t('pb.scale_min')} inputMode="text" {...number('smin', 'smin')} />
          <NumberField label={t('pb.scale_max')} inputMode="text" {...number('smax', 'smax')} />
          <label for={`${id}-minl`}>{t('pb.min_label')}</label>
          <input id={`${id}-minl`} type="text" value={d.min_label} onInput={set('min_label')} />
          <label for={`${id}-maxl`}>{t('pb.max_label')}</label>
          <input id={`${id}-maxl`} type="text" value={d.max_label} onInput={set('max_label')} />
        </div>
      ) : null}
      {d.kind === 'text' ? (
        <div class="row wrap">
          <NumberField label={t('pb.max_chars')} inputMode="numeric" {...number('max_chars', 'mc')} />
        </div>
      ) : null}
      <label class="choice"><input type="checkbox" checked={d.secret} onChange={set('secret')} /> {t('pb.secret')}</label>
      <label class="choice"><input type="checkbox" checked={d.live_results} onChange={set('live_results')} /> {t('pb.live')}</label>
      <fieldset class="inline-fieldset">
        <legend>{t('pb.voters')}</legend>
        {VOTER_ROLES.map((r) => (
          <label class="choice" key={r}><input type="checkbox" checked={d.voters.includes(r)} onChange={(e) => setD({ ...d, voters: e.currentTarget.checked ? d.voters.concat(r) : d.voters.filter((x) => x !== r) })} /> {t(`role.${r}`)}</label>
        ))}
      </fieldset>
      <div class="grid2">
        <NumberField label={t('pb.quorum')} inputMode="numeric" {...number('quorum', 'quorum')} />
        <NumberField label={t('pb.duration')} {...number('duration', 'dur')} />
        <label for={`${id}-room`}>{t('pb.room')}</label>
        <select id={`${id}-room`} value={d.room} onChange={set('room')}>
          <option value="">{t('pb.room_all')}</option>
          {client.snap.rooms.map((r) => <option value={r.id}>{roomName(client.snap, r.id)}</option>)}
        </select>
      </div>
      <div class="row">
        <button type="submit" class="btn primary" disabled={busy || !d.question.trim()}>{editing ? t('pb.save_edit') : t('pb.save')}</button>
        {editing ? <button type="button" class="btn" onClick={onDone}>{t('common.cancel')}</button> : null}
      </div>
    </form>
  );
}

export function PollsView({ client }) {
  const snap = client.snap;
  const roles = client.you.roles;
  const facilitator = roles.includes('facilitator');
  const staff = facilitator || roles.includes('guarantor');
  const [editing, setEditing] = useState(null);
  client.hooks.editPoll = (p) => {
    setEditing(p);
    setTimeout(() => {
      const el = document.getElementById('poll-builder-title');
      if (el) el.scrollIntoView();
    }, 0);
  };
  const polls = sortedPolls(snap);
  const open = polls.filter((p) => p.status === 'open');
  const drafts = polls.filter((p) => p.status === 'draft');
  const done = polls.filter((p) => p.status === 'closed' || p.status === 'published').reverse();
  const cid = snap.convention.id;
  return (
    <div class="polls-view">
      {facilitator ? (
        <Section id="poll-builder" title={editing ? t('pb.edit_title', { id: editing.id }) : t('pb.title')}>
          <PollBuilder key={editing ? editing.id : 'new'} client={client} editing={editing} onDone={() => setEditing(null)} />
        </Section>
      ) : null}
      <div class="polls-lists">
        <h2>{t('polls.open')}</h2>
        {open.length === 0 ? <p class="muted">{t('polls.none_open')}</p> : open.map((p) => <PollCard key={p.id} client={client} poll={p} admin={staff} />)}
        {staff && drafts.length ? (
          <>
            <h2>{t('polls.drafts')}</h2>
            {drafts.map((p) => <PollCard key={p.id} client={client} poll={p} admin={staff} />)}
          </>
        ) : null}
        {done.length ? (
          <>
            <h2>{t('polls.closed')}</h2>
            {done.map((p) => <PollCard key={p.id} client={client} poll={p} admin={staff} />)}
          </>
        ) : null}
        {staff ? (
          <p class="row wrap">
            <ExportButton client={client} path={sheetPath(`/api/conventions/${encodeURIComponent(cid)}/polls`)} filename={`polls-${cid}.xlsx`}>{t('polls.export_xlsx')}</ExportButton>
            <ExportButton client={client} path={`/api/conventions/${encodeURIComponent(cid)}/polls?format=csv`} filename={`polls-${cid}.csv`}>{t('polls.export_csv')}</ExportButton>
            <ExportButton client={client} path={`/api/conventions/${encodeURIComponent(cid)}/polls`} filename={`polls-${cid}.json`}>{t('polls.export_json')}</ExportButton>
          </p>
        ) : null}
      </div>
    </div>
  );
}

/** How many open polls await my vote (the tab's badge). */
export function pollsToVote(snap, you) {
  return snap.polls.filter((p) => p.status === 'open' && p.eligible && !p.you_voted && !you.roles.includes('guarantor')).length;
}
