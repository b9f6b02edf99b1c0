// Public polls (issue #16, spec/public-polls.md): a facilitator asks the audience of the
// public page a question from the console, by clicking (refused, in French, while the
// convention has no public link; checked in the page for repeated options); two people on no roster, each in
// their own browser (one on a phone), answer by clicking; the same browser cannot answer
// twice (another tab of it says so at once, from what the page remembers; a browser that
// presents someone else's browser id is refused by the server); the console's live tally says
// 2; once closed, both public pages show the results, flagged indicative, and the console
// lists the closed poll with its tally.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, axe, screenshot, PHONE, LAPTOP, server, browser, useServerAndBrowser, organizerApi } from './harness.mjs';

useServerAndBrowser();

const QUESTION = 'Faut-il des bus de nuit le week-end ?';
const OPTIONS = ['Oui', 'Non', 'Sans avis'];
const BROWSER_KEY = 'convene.public.browser';

function organizer(method, path, body) {
  return organizerApi(server, method, path, body);
}

/** A page of the public link in `context`, with the frames it sends and receives. */
async function publicPage(context, link) {
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.sent = [];
  page.received = [];
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => page.sent.push(String(f.payload)));
    ws.on('framereceived', (f) => page.received.push(String(f.payload)));
  });
  await page.goto(`${server.base}/public#link=${link}`);
  await page.waitForSelector('h1:has-text("Convention")');
  return page;
}

function votesSent(page) {
  return page.sent.map((f) => JSON.parse(f)).filter((m) => m.type === 'public_vote');
}

/** The results of a closed public poll on a public page: [label, text of count] per option. */
async function publicResults(page, poll) {
  const item = `[data-testid=public-poll-results] li.public-result[data-poll=${poll}]`;
  await page.waitForSelector(item);
  const rows = await page.$$eval(`${item} .public-bars li`, (lis) => lis.map((li) => [li.querySelector('.public-bar-label').textContent, li.querySelector('.public-bar-n').textContent]));
  const answers = await page.textContent(`${item} [data-testid=public-poll-answers]`);
  return { rows, answers };
}

test('a public poll: opened from the console, one answer per browser, results once closed', { timeout: 180000 }, async () => {
  const conv = server.role('citizen').convention;
  const fac = await openAs(browser, server, server.role('facilitator'));
  const panel = fac.locator('#public-poll');
  await panel.waitFor();
  await fac.waitForSelector('[data-testid=public-poll-form]', { state: 'attached' });

  // Without a public link there is no audience: the server refuses, the console says why.
  await panel.locator('summary:has-text("Préparer un sondage du public")').click();
  await panel.getByLabel('Question', { exact: true }).fill(QUESTION);
  await panel.getByLabel('Réponses proposées (une par ligne)').fill(OPTIONS.join('\n'));
  await panel.locator('button:has-text("Lancer le sondage")').click();
  await panel.locator('[data-testid=public-poll-error]:has-text("Pas de page publique active")').waitFor();
  assert.equal(await panel.locator('[data-testid=public-poll-open]').count(), 0);

  const made = await organizer('POST', `/api/conventions/${conv}/public-link`, {});
  assert.equal(made.status, 201);
  const link = made.body.token;

  // Two people on no roster, each with their own browser; the first has two tabs.
  const ctxA = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1, locale: 'fr-FR' });
  const ctxB = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const a1 = await publicPage(ctxA, link);
  const a2 = await publicPage(ctxA, link);
  const b = await publicPage(ctxB, link);
  // No poll yet: nothing to answer, no results.
  assert.equal(await a1.$('[data-testid=public-poll]'), null);
  assert.equal(await a1.$('[data-testid=public-poll-results]'), null);

  // The link made, the facilitator tries again; the page checks the options before sending.
  await panel.getByLabel('Réponses proposées (une par ligne)').fill('Oui\n\n oui ');
  await panel.locator('button:has-text("Lancer le sondage")').click();
  await panel.locator('.field-error:has-text("« oui » figure deux fois.")').waitFor();
  await panel.getByLabel('Réponses proposées (une par ligne)').fill(OPTIONS.join('\n'));
  await panel.locator('button:has-text("Lancer le sondage")').click();
  const open = panel.locator('[data-testid=public-poll-open]');
  await open.waitFor();
  assert.equal(await panel.locator('[data-testid=public-poll-error]').count(), 0, 'the earlier refusal is gone');
  const poll = await open.getAttribute('data-poll');
  assert.equal(poll, 'pp1', 'the first public poll of the convention');
  assert.match(await open.textContent(), /Faut-il des bus de nuit le week-end \?/);
  await open.locator('[data-testid=public-poll-ballots][data-count="0"]:has-text("0 réponse")').waitFor();

  // Both viewers see it: the question, a button per option, the non-binding note.
  for (const page of [a1, a2, b]) {
    await page.waitForSelector(`[data-testid=public-poll][data-poll=${poll}]`);
    const section = await page.textContent('[data-testid=public-poll]');
    assert.match(section, /Sondage du public/);
    assert.match(section, /Faut-il des bus de nuit le week-end \?/);
    assert.match(section, /Sondage indicatif, non contraignant : une réponse par navigateur\./);
    assert.deepEqual(await page.$$eval('[data-testid=public-poll-option]', (els) => els.map((e) => e.textContent)), OPTIONS);
  }
  // No live tally for the public while the poll is open.
  assert.equal(await b.$('[data-testid=public-poll-results]'), null);
  await axe(b, 'public page with a public poll, phone');
  const width = await b.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `no horizontal scroll at 360 px (${width})`);
  await screenshot(b, 'public-poll-phone');

  // The first viewer answers « Oui », the second (on the phone) « Non », by clicking.
  await a1.click('[data-testid=public-poll-option]:has-text("Oui")');
  await a1.waitForSelector('[data-testid=public-poll-thanks]:has-text("Merci, votre réponse est enregistrée : Oui")');
  await b.click('[data-testid=public-poll-option]:has-text("Non")');
  await b.waitForSelector('[data-testid=public-poll-thanks]:has-text("Merci, votre réponse est enregistrée : Non")');
  // What went on the wire: the poll, the index, the browser's own id (22 base64url characters).
  const [va] = votesSent(a1);
  const [vb] = votesSent(b);
  assert.deepEqual({ poll: va.poll, choice: va.choice }, { poll, choice: 0 });
  assert.deepEqual({ poll: vb.poll, choice: vb.choice }, { poll, choice: 1 });
  assert.match(va.browser, /^[A-Za-z0-9_-]{22}$/);
  assert.match(vb.browser, /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(va.browser, vb.browser, 'two browsers, two ids');
  assert.equal(await a1.evaluate((k) => localStorage.getItem(k), BROWSER_KEY), va.browser);
  assert.ok(a1.received.some((f) => JSON.parse(f).type === 'public_voted'), 'the server confirmed the ballot');
  // Buttons gone once answered.
  assert.equal(await a1.$('[data-testid=public-poll-option]'), null);

  // The other tab of the same browser (same localStorage, same id) cannot answer again: it
  // says so as soon as the first tab has answered, and after a reload too.
  await a2.waitForSelector('[data-testid=public-poll-thanks]:has-text("Merci, votre réponse est enregistrée : Oui")');
  assert.equal(await a2.$('[data-testid=public-poll-option]'), null);
  assert.deepEqual(votesSent(a2), []);
  await a1.reload();
  await a1.waitForSelector('[data-testid=public-poll-thanks]:has-text("Merci, votre réponse est enregistrée : Oui")');
  assert.equal(await a1.$('[data-testid=public-poll-option]'), null);

  // A fresh browser that presents the first one's id: the server refuses, the page says why.
  const ctxC = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1, locale: 'fr-FR' });
  await ctxC.addInitScript(([k, id]) => localStorage.setItem(k, id), [BROWSER_KEY, va.browser]);
  const c = await publicPage(ctxC, link);
  await c.waitForSelector(`[data-testid=public-poll][data-poll=${poll}]`);
  await c.click('[data-testid=public-poll-option]:has-text("Non")');
  await c.waitForSelector('[data-testid=public-poll-refused][data-reason=already_voted]:has-text("Ce navigateur a déjà répondu à ce sondage.")');
  assert.equal(votesSent(c)[0].browser, va.browser);
  const refusal = c.received.map((f) => JSON.parse(f)).find((m) => m.type === 'public_vote_refused');
  assert.ok(refusal, 'a public_vote_refused came');
  assert.equal(refusal.poll, poll);
  assert.equal(refusal.reason, 'already_voted');
  assert.ok(!c.received.some((f) => JSON.parse(f).type === 'public_voted'), 'no second ballot recorded');
  assert.equal(await c.$('[data-testid=public-poll-option]'), null);

  // The console's live tally: 2 answers, one « Oui », one « Non ».
  await open.locator('[data-testid=public-poll-ballots][data-count="2"]:has-text("2 réponses")').waitFor({ timeout: 10000 });
  assert.deepEqual(await open.locator('[data-testid=public-poll-tally] li').evaluateAll((lis) => lis.map((li) => [li.querySelector('.bar-label').textContent, Number(li.dataset.count)])), [['Oui', 1], ['Non', 1], ['Sans avis', 0]]);
  // The console's card alone (the refusal at the start left a toast over the page: closed).
  for (const dismiss of await fac.locator('.toasts .toast button:has-text("Fermer")').all()) await dismiss.click();
  await screenshot(fac, 'public-poll-console-open', { element: panel });

  // The facilitator closes it.
  await open.locator('button:has-text("Clore le sondage")').click();
  const closed = panel.locator(`[data-testid=public-poll-closed][data-poll=${poll}]`);
  await closed.waitFor();
  assert.equal(await panel.locator('[data-testid=public-poll-open]').count(), 0);
  assert.match(await closed.textContent(), /Faut-il des bus de nuit le week-end \?/);
  assert.equal(await closed.locator('[data-testid=public-poll-ballots]').getAttribute('data-count'), '2');
  assert.deepEqual(await closed.locator('[data-testid=public-poll-tally] li').evaluateAll((lis) => lis.map((li) => [li.querySelector('.bar-label').textContent, li.querySelector('.bar-value').textContent.replace(/\s/g, ' ')])), [['Oui', '1 réponse (50 %)'], ['Non', '1 réponse (50 %)'], ['Sans avis', '0 réponse (0 %)']]);
  assert.match(await panel.textContent(), /1 sondage clos/);
  // The form is back for the next one.
  await panel.locator('summary:has-text("Préparer un sondage du public")').waitFor();

  // Both public pages: no more question, the results, flagged indicative.
  for (const [page, mine] of [[a1, 'Oui'], [b, 'Non']]) {
    await page.waitForSelector('[data-testid=public-poll]', { state: 'detached' });
    const { rows, answers } = await publicResults(page, poll);
    const clean = rows.map(([l, n]) => [l.replace(/\s+—\s+votre réponse$/, ''), n.replace(/\s/g, ' ')]);
    assert.deepEqual(clean, [['Oui', '1 (50 %)'], ['Non', '1 (50 %)'], ['Sans avis', '0 (0 %)']]);
    assert.equal(answers, '2 réponses');
    assert.match(await page.textContent('[data-testid=public-poll-results]'), /Résultats des sondages du public \(indicatifs\)/);
    // Each browser's own answer is marked.
    const marked = rows.filter(([l]) => /votre réponse/.test(l)).map(([l]) => l.split(' — ')[0]);
    assert.deepEqual(marked, [mine]);
  }
  await axe(b, 'public page with public poll results, phone');
  await screenshot(b, 'public-poll-results-phone');

  for (const page of [a1, a2, b, c]) assert.deepEqual(page.errors, []);
  assert.deepEqual(fac.errors, []);
  await ctxA.close();
  await ctxB.close();
  await ctxC.close();
});
