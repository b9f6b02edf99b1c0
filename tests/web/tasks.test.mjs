// A citizen's main tasks on a 360x740 phone, counted in taps as a person makes them: join
// the room, raise a hand, vote in a poll (named and secret), send a chat line, find the
// current announcement. Each control is where the eye already is (in view without
// scrolling); the counts are printed for the report and checked, so that a change that adds
// a tap to one of them is seen.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitOpen, command, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

/** Taps counted; each tapped control must be in view (no scrolling to find it). */
function taps(page) {
  const t = { n: 0, log: [] };
  t.tap = async (selector, what) => {
    const el = page.locator(selector).first();
    await el.waitFor();
    const inView = await el.evaluate((e) => {
      const r = e.getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    });
    assert.ok(inView, `${what}: in view without scrolling`);
    await el.click();
    t.n += 1;
    t.log.push(what);
  };
  return t;
}

test("a citizen's main tasks, in taps, on a phone", { timeout: 120000 }, async () => {
  const fac = await (async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(server.url(server.role('facilitator')));
    await waitOpen(p);
    return p;
  })();
  const counts = {};

  // Join the room: the invitation link opens it; nothing to tap, no account.
  const ctx = await browser.newContext({ viewport: PHONE, locale: 'fr-FR' });
  const a = await ctx.newPage();
  const errors = [];
  a.on('pageerror', (e) => errors.push(e.message));
  await a.goto(server.url(server.role('citizen', 0)));
  await a.waitForSelector('main[data-view=room] .floor');
  await a.waitForSelector('[data-testid=where]:has-text("Plénière")');
  counts.join = 0;

  // Raise a hand.
  let t = taps(a);
  await t.tap('button:has-text("Lever la main")', 'Lever la main');
  await a.waitForSelector('[data-testid=my-hand]');
  counts.raise_hand = t.n;

  // Send a chat line: the field, the words, "Envoyer".
  t = taps(a);
  await a.evaluate(() => document.querySelector('.chat-form input').scrollIntoView({ block: 'center' }));
  await t.tap('.chat-form input', 'the message field');
  await a.keyboard.type('Bonjour à toutes et à tous');
  await t.tap('.chat-form button:has-text("Envoyer")', 'Envoyer');
  await a.waitForSelector('.chat-log .chat-line:not(.pending):has-text("Bonjour à toutes et à tous")');
  counts.chat_line = t.n;
  // (The chat is the room's second card: on a phone it is reached by scrolling once.)
  await a.evaluate(() => window.scrollTo(0, 0));

  // Vote in a named poll, from wherever one is (here, the opinion tab).
  await a.click('nav [data-tab=opinion]');
  assert.deepEqual(await command(fac, { type: 'draft_poll', spec: { question: 'Une pause de dix minutes ?', kind: 'single', options: ['Oui', 'Non'] } }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'open_poll', poll: 'q1' }), { ok: true });
  t = taps(a);
  await a.waitForSelector('[data-testid=ask-dialog][open]');
  await t.tap('[data-testid=ask-dialog] label:has-text("Oui")', 'Oui');
  await t.tap('[data-testid=ask-dialog] button:has-text("Voter")', 'Voter');
  await a.waitForSelector('[data-testid=ask-dialog][data-kind=voted]');
  counts.vote_named = t.n;
  await a.click('[data-testid=ask-dialog] button:has-text("Fermer")');

  // Vote in a secret poll: one more tap, the confirmation.
  assert.deepEqual(await command(fac, { type: 'draft_poll', spec: { question: 'Proposition 12 ?', kind: 'position', secret: true } }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'open_poll', poll: 'q2' }), { ok: true });
  t = taps(a);
  await a.waitForSelector('[data-testid=ask-dialog][open][data-poll=q2]');
  await t.tap('[data-testid=ask-dialog] label:has-text("Pour, avec réserves")', 'Pour, avec réserves');
  await t.tap('[data-testid=ask-dialog] button:has-text("Voter")', 'Voter');
  await t.tap('[data-testid=ask-dialog] button:has-text("Confirmer mon vote")', 'Confirmer mon vote');
  await a.waitForSelector('[data-testid=ask-dialog][data-kind=voted]');
  counts.vote_secret = t.n;
  await a.click('[data-testid=ask-dialog] button:has-text("Fermer")');

  // Find the current announcement: it is in view, whatever the tab and the scroll.
  await a.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  assert.deepEqual(await command(fac, { type: 'broadcast', text: 'Reprise en plénière à 14 h 30.' }), { ok: true });
  await a.waitForSelector('.broadcast-msg:has-text("Reprise en plénière à 14 h 30.")');
  const inView = await a.$eval('.broadcast-msg', (e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; });
  assert.ok(inView, 'the announcement is in view');
  counts.find_announcement = 0;

  console.log(`# taps on a phone: ${JSON.stringify(counts)}`);
  assert.deepEqual(counts, { join: 0, raise_hand: 1, chat_line: 2, vote_named: 2, vote_secret: 3, find_announcement: 0 });
  assert.deepEqual(errors, []);
  await ctx.close();
});
