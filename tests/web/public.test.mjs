// Public audience (PROTOCOL.md §24): the page of the public link, on a phone (360x740), in
// French. The organizer makes the link over HTTP; the page, opened by someone on no roster,
// shows the floor holder and the countdown, an announcement and a published result arriving
// live, the breakouts as "en sous-groupes jusqu'à …", the livestream link and the count; and
// never a participant's chat line. Revoking the link ends the broadcast on the page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, commandOk, axe, screenshot, PHONE, server, browser, useServerAndBrowser, organizerApi } from './harness.mjs';

useServerAndBrowser();

const LIVESTREAM = 'https://video.example.org/live/nantes';

function organizer(method, path, body) {
  return organizerApi(server, method, path, body);
}

test('the public page shows the floor, an announcement and published results live, on a phone', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizen = server.role('citizen', 0);
  const cit = await openAs(browser, server, citizen, { viewport: PHONE });
  const conv = citizen.convention;
  const made = await organizer('POST', `/api/conventions/${conv}/public-link`, { livestream: LIVESTREAM });
  assert.equal(made.status, 201);
  assert.match(made.body.url, /\/public#link=/);

  // Someone on no roster opens the link on a phone.
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const frames = [];
  page.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push(String(f.payload))));
  await page.goto(`${server.base}/public#link=${made.body.token}`);
  await page.waitForSelector('h1:has-text("Convention")');
  await page.waitForSelector(`[data-testid=public-livestream][href="${LIVESTREAM}"]`);
  await page.waitForSelector('[data-testid=public-viewers][data-count="1"]');
  assert.match(await page.textContent('[data-testid=public-viewers]'), /1 personne regarde/);
  // The facilitator sees the count, not people.
  await fac.waitForSelector('[data-testid=public-viewers-staff]:has-text("1 personne regarde")');

  // A chat line is nobody's business here.
  await commandOk(cit, { type: 'send_chat', text: 'Ligne de discussion privée 7781' });
  // The floor: the speaker's name and a countdown.
  await commandOk(cit, { type: 'raise_hand' });
  const citizenId = citizen.participant;
  await commandOk(fac, { type: 'give_floor', participant: citizenId, limit_ms: 180000 });
  await page.waitForSelector(`[data-testid=public-floor]:has-text("${citizen.name} a la parole")`);
  await page.waitForSelector('[data-testid=public-countdown]:has-text("encore")');

  // An announcement arrives live.
  await commandOk(fac, { type: 'broadcast', text: 'Reprise à 15 h 20, merci de rester connectés' });
  await page.waitForSelector('[data-testid=public-announcements] li:has-text("Reprise à 15 h 20")');

  // A poll: nothing while it is open or closed; its results once published.
  await commandOk(fac, { type: 'draft_poll', spec: { question: 'Des bus de nuit le week-end ?', kind: 'single', options: ['Oui', 'Non'], secret: true } });
  const polls = await fac.evaluate(() => {
    const s = window.__convene.snap;
    const list = Array.isArray(s.polls) ? s.polls : Object.values(s.polls || {});
    return list.map((p) => p.id);
  });
  const id = polls[polls.length - 1];
  await commandOk(fac, { type: 'open_poll', poll: id });
  await commandOk(cit, { type: 'vote', poll: id, ballot: { kind: 'single', choice: 0 } });
  await commandOk(fac, { type: 'close_poll', poll: id });
  await page.waitForTimeout(1200);
  assert.equal(await page.$('[data-testid=public-results]'), null, 'no result before it is published');
  await commandOk(fac, { type: 'publish_results', poll: id });
  await page.waitForSelector('[data-testid=public-results] li:has-text("Des bus de nuit le week-end ?")');
  assert.match(await page.textContent('[data-testid=public-results]'), /1 bulletin/);

  await axe(page, 'public page, phone');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no horizontal scroll at 360 px (${width})`);
  await screenshot(page, 'public-phone');

  // Breakouts: "en sous-groupes jusqu'à …", no room named.
  await commandOk(fac, { type: 'end_floor' });
  await commandOk(fac, { type: 'create_rooms', count: 2 });
  await commandOk(fac, { type: 'assign_rooms', method: 'random' });
  await commandOk(fac, { type: 'open_breakouts', duration_ms: 900000 });
  await page.waitForSelector('[data-testid=public-away]:has-text("en sous-groupes jusqu’à")');
  await commandOk(fac, { type: 'close_breakouts' });

  const all = frames.join('\n');
  assert.ok(!all.includes('Ligne de discussion privée'), 'no chat line reached the public page');
  assert.ok(frames.every((f) => /"type":"(public_view|public_count|pong)"/.test(f)), 'only public views');

  // Revoked: the page says the broadcast ended.
  const revoked = await organizer('DELETE', `/api/conventions/${conv}/public-link`);
  assert.equal(revoked.status, 204);
  await page.waitForSelector('[data-status="public.revoked"]');
  assert.deepEqual(errors, []);
  await context.close();
});
