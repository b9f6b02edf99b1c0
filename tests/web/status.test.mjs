// Always on screen, on a 360x740 phone and a laptop: the status bar (where I am, the running
// countdown, my place in the queue or my floor, the connection) stays in view while the page
// scrolls; a move shows a notice that stays until seen (breakouts opened, a facilitator's
// move, the recall); the warning before the end is a visible banner ("Il reste 1 minute");
// the latest announcement stays in view with its time until dismissed or replaced, and one
// made during breakout rooms now closed is not told as news to someone arriving later.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, command, assertMatchesServer, PHONE, LAPTOP, server, browser, useServerAndBrowser, commandOk as ok } from './harness.mjs';

useServerAndBrowser();


/** Scroll the page to its very bottom (the chat, the people, far below the top). */
async function scrollToBottom(page) {
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.waitForFunction(() => window.scrollY > 0 || document.documentElement.scrollHeight <= window.innerHeight);
}

/** The element is inside the viewport and not covered by anything (what the eye sees). */
async function inView(page, selector) {
  return page.$eval(selector, (el) => {
    const r = el.getBoundingClientRect();
    if (r.height === 0 || r.top < 0 || r.bottom > window.innerHeight) return false;
    const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 20), r.top + r.height / 2);
    return !!hit && (el === hit || el.contains(hit));
  });
}

async function assertInView(page, selector, what) {
  await page.waitForSelector(selector);
  assert.ok(await inView(page, selector), `${what}: ${selector} is in view`);
}

test('the status bar and the notices stay in view, on a phone and a laptop', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const amina = server.role('citizen', 0);
  const bernard = server.role('citizen', 1);
  const a = await openAs(browser, server, amina, { viewport: PHONE });
  const b = await openAs(browser, server, bernard, { viewport: LAPTOP });
  for (const [page, size] of [[a, 'phone'], [b, 'laptop']]) {
    await page.waitForSelector('[data-testid=status-bar] [data-testid=where]:has-text("Plénière")');
    await page.waitForSelector('[data-testid=connection][data-status=open]:has-text("Connecté·e")');
    // Long enough to scroll: the chat fills up.
    await scrollToBottom(page);
    await assertInView(page, '[data-testid=status-bar]', `${size}, scrolled to the bottom`);
    await assertInView(page, 'nav.tabs', `${size}, scrolled to the bottom`);
  }

  // Breakout rooms open for a minute: each is told where they are now, wherever they are in
  // the page, and the notice stays until they say they saw it.
  await ok(fac, { type: 'create_rooms', names: ['Mobilités', 'Logement'] });
  await ok(fac, { type: 'assign_rooms', method: 'manual', assignments: [
    { participant: amina.participant, room: 'r1' },
    { participant: bernard.participant, room: 'r1' },
  ] });
  await scrollToBottom(a);
  await ok(fac, { type: 'open_breakouts', duration_ms: 60000, warning_ms: 60000 });
  const moved = '[data-testid=moved]:has-text("Vous êtes maintenant dans : Mobilités.")';
  await a.waitForSelector(moved);
  assert.match(await a.textContent('[data-testid=moved]'), /Les sous-groupes sont ouverts\./);
  assert.equal(await a.getAttribute('[data-testid=moved]', 'role'), 'alert', 'announced to screen readers');
  await assertInView(a, '[data-testid=moved]', 'the move notice, scrolled down');
  await b.waitForSelector(moved);
  // The status bar: the room and the running countdown.
  await a.waitForSelector('[data-testid=status-bar] [data-testid=where]:has-text("Mobilités")');
  const clock = await a.textContent('[data-testid=status-bar] .countdown');
  assert.match(clock, /Fin dans\s*[01]:\d\d/);
  // The warning is a banner in words, not only a colour.
  await a.waitForSelector('[data-testid=time-warning]:has-text("Il reste 1 minute avant la fin des sous-groupes.")');
  await assertInView(a, '[data-testid=time-warning]', 'the warning banner');
  assert.equal(await a.getAttribute('[data-testid=time-warning]', 'role'), 'alert');
  await axe(a, 'phone: move notice, warning, status bar');

  // An announcement: in view, with its time; the next one replaces it.
  await ok(fac, { type: 'broadcast', text: 'Il reste peu de temps : pensez à conclure.' });
  await a.waitForSelector('.broadcast-msg:has-text("pensez à conclure")');
  // « à 9 h 58 »: the French way, as everywhere in the app and on the public page.
  assert.match(await a.textContent('.broadcast-msg time'), /^à \d{1,2}\u00a0h\u00a0\d\d$/);
  await assertInView(a, '.broadcast-msg', 'the announcement');
  await ok(fac, { type: 'broadcast', text: 'Désignez qui restituera en plénière.' });
  await a.waitForSelector('.broadcast-msg:has-text("Désignez qui restituera")');
  assert.equal(await a.locator('.broadcast-msg').count(), 1, 'the latest replaces the one before');
  await b.waitForSelector('.broadcast-msg:has-text("Désignez qui restituera")');
  await axe(a, 'phone: an announcement');

  // The move notice is still there, ten seconds later: it waits to be seen.
  await a.waitForTimeout(9000);
  assert.ok(await a.isVisible(moved), 'the notice stays until seen');
  await a.click('[data-testid=moved] button:has-text("J\'ai compris")');
  await a.waitForSelector('[data-testid=moved]', { state: 'detached' });
  // The laptop too: the warning and the announcement are in view at the bottom of the page.
  await scrollToBottom(b);
  await assertInView(b, '[data-testid=time-warning]', 'laptop warning');
  await assertInView(b, '.broadcast-msg', 'laptop announcement');
  await assertInView(b, '[data-testid=status-bar]', 'laptop status bar');

  // My place in the queue and my floor, in the status bar.
  await a.evaluate(() => window.scrollTo(0, 0));
  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('[data-testid=my-hand]:has-text("Main levée : en tête")');
  await a.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await b.click('button:has-text("Lever la main")');
  await b.waitForSelector('[data-testid=my-hand]:has-text("Main levée : n° 2 sur 2")');
  await scrollToBottom(b);
  await assertInView(b, '[data-testid=my-hand]', 'laptop: my place in the queue');
  await ok(fac, { type: 'give_floor', room: 'r1', participant: amina.participant });
  await a.waitForSelector('[data-testid=my-floor]:has-text("Vous avez la parole")');
  await b.waitForSelector('[data-testid=my-hand]:has-text("Main levée : en tête")');
  await scrollToBottom(a);
  await assertInView(a, '[data-testid=my-floor]', 'phone: I have the floor');

  // The announcement is dismissed: gone, and not back after a reload.
  await a.click('.broadcast-msg button:has-text("Fermer")');
  await a.waitForSelector('.broadcast-msg', { state: 'detached' });
  await a.reload();
  await waitState(a, (c) => c.status === 'open');
  await a.waitForSelector('[data-testid=status-bar] [data-testid=where]:has-text("Mobilités")');
  await a.waitForTimeout(500);
  assert.equal(await a.locator('.broadcast-msg').count(), 0, 'a dismissed announcement stays dismissed');
  // Someone arriving now is told the announcement (it is current)...
  const c1 = await openAs(browser, server, server.role('citizen', 2), { viewport: PHONE });
  await c1.waitForSelector('.broadcast-msg:has-text("Désignez qui restituera")');
  await c1.context().close();

  // The recall: everyone is told, and what was announced during the breakouts is over.
  await ok(fac, { type: 'close_breakouts' });
  const back = '[data-testid=moved]:has-text("Vous êtes maintenant dans : Plénière.")';
  for (const page of [a, b]) {
    await page.waitForSelector(back);
    assert.match(await page.textContent('[data-testid=moved]'), /Les sous-groupes sont terminés : retour en plénière\./);
    await page.waitForSelector('.broadcast-msg', { state: 'detached' });
    await page.waitForSelector('[data-testid=status-bar] [data-testid=where]:has-text("Plénière")');
    assert.equal(await page.locator('[data-testid=time-warning]').count(), 0);
  }
  // ...but not to someone arriving after the breakouts closed.
  const late = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  await late.waitForTimeout(500);
  assert.equal(await late.locator('.broadcast-msg').count(), 0, 'no stale announcement replayed as news');
  // An announcement made now is current for a later arrival.
  await ok(fac, { type: 'broadcast', text: 'Pause de dix minutes.' });
  await late.waitForSelector('.broadcast-msg:has-text("Pause de dix minutes.")');
  const later = await openAs(browser, server, server.role('citizen', 4), { viewport: PHONE });
  await later.waitForSelector('.broadcast-msg:has-text("Pause de dix minutes.")');
  assert.equal(await later.locator('.broadcast-msg').count(), 1);

  // A facilitator moves someone by hand: the notice says so.
  await a.click('[data-testid=moved] button:has-text("J\'ai compris")');
  await ok(fac, { type: 'move_participant', participant: amina.participant, room: 'r2' });
  await a.waitForSelector('[data-testid=moved]:has-text("Vous êtes maintenant dans : Logement.")');
  assert.match(await a.textContent('[data-testid=moved]'), /Un·e animateur·rice vous a déplacé·e\./);
  // On another tab, the notice offers to go to the room.
  await a.click('nav [data-tab=polls]');
  await a.click('[data-testid=moved] button:has-text("Voir la salle")');
  await a.waitForSelector('main[data-view=room]');
  await axe(a, 'phone: back in the room');

  for (const page of [fac, a, b, late, later]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
    assert.deepEqual(page.errors, []);
  }
  for (const page of [a, b]) await assertMatchesServer(page, 'after the moves');
});
