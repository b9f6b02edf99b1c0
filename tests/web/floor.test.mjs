// A citizen raises a hand and sees their place in the queue; the facilitator sets a speaking
// limit and gives the floor; the citizen sees that they have the floor and the countdown,
// yields it, and the floor-time equity view counts their time.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, waitState, tab, axe, PHONE , assertMatchesServer } from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  if (server) {
    await server.stop();
    server.cleanup();
  }
});

test('a citizen raises a hand and the facilitator gives the floor', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const first = server.role('citizen', 0);
  const second = server.role('citizen', 1);
  const a = await openAs(browser, server, first, { viewport: PHONE });
  const b = await openAs(browser, server, second, { viewport: PHONE });

  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await b.click('button:has-text("Lever la main")');
  await b.waitForSelector('.hand-place:has-text("vous êtes n° 2 sur 2 dans la file")');
  // The status bar says so on every tab.
  await tab(b, 'polls');
  await b.waitForSelector('[data-testid=my-hand]:has-text("Main levée : n° 2 sur 2")');
  await tab(b, 'room');

  // The facilitator's console: the queue, a 2-minute limit, then "Donner la parole".
  await tab(fac, 'console');
  await fac.waitForSelector(`#speaking .queue-list li:has-text("${first.name}")`);
  await fac.selectOption('#speaking select >> nth=1', '120000');
  await waitState(fac, (c) => c.snap.rooms[0].inside.limit_ms === 120000);
  await fac.click(`#speaking .queue-list li:has-text("${first.name}") button:has-text("Donner la parole")`);

  await a.waitForSelector('.floor.mine:has-text("Vous avez la parole")');
  const left = await a.textContent('.floor.mine .countdown strong');
  assert.match(left, /^[12]:\d\d$/, `a speaking countdown under two minutes: ${left}`);
  await a.waitForSelector('[data-testid=my-floor]:has-text("Vous avez la parole")');
  // The other citizen sees who speaks, and moves up to first place.
  await b.waitForSelector(`.floor:has-text("La parole est à ${first.name}")`);
  await b.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await axe(a, 'citizen with the floor (phone)');
  await axe(fac, 'console, someone speaking');

  // The speaker yields; the equity view counts the turn.
  await a.waitForTimeout(1200);
  await a.click('button:has-text("Rendre la parole")');
  await a.waitForSelector('.floor.empty');
  await waitState(fac, (c, id) => (c.snap.floor_time.find((f) => f.participant === id) || {}).spoken_ms >= 1000, first.participant);
  const row = await fac.textContent(`#equity li:has-text("${first.name}")`);
  assert.match(row, /\d+ s/);
  assert.match(await fac.textContent('#equity'), /1 personne sur \d+ a eu la parole/);

  // "Donner la parole au suivant" takes the next raised hand; "Reprendre la parole" ends it.
  await fac.click('#speaking button:has-text("Donner la parole au suivant")');
  await b.waitForSelector('.floor.mine');
  await fac.click('#speaking button:has-text("Reprendre la parole")');
  await b.waitForSelector('.floor.empty');
  // Lowering a hand.
  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('button:has-text("Baisser la main")');
  await a.click('button:has-text("Baisser la main")');
  await a.waitForSelector('button:has-text("Lever la main")');
  // Calling a facilitator: the call reaches the console, wherever the facilitator is.
  await tab(fac, 'polls');
  await b.click('button:has-text("Appeler un·e animateur·rice")');
  await b.fill('.call textarea', 'Je ne vois plus la vidéo.');
  await b.click('.call button:has-text("Envoyer l\'appel")');
  await b.waitForSelector('.call [role=status]:has-text("Votre appel est transmis")');
  await fac.waitForSelector(`.banner.call-alert:has-text("${second.name}")`);
  await fac.click('.banner.call-alert button:has-text("Voir")');
  await fac.waitForSelector('#calls :text("Je ne vois plus la vidéo.")');
  await fac.click('#calls button:has-text("Marquer comme traité")');
  await b.waitForSelector('.call [role=status]', { state: 'detached' });
  for (const page of [fac, a, b]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
    assert.deepEqual(page.errors, []);
  }
  for (const page of [fac, a, b]) await assertMatchesServer(page);
});
