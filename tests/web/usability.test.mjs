// What a hands-on audit of the page found, kept found: the focus stays where a keyboard or
// screen-reader user acts (a button busy until the server answers, the hand, a question
// asked in the page, a call, a secret vote, a report), the tabs of a phone are never cut, a
// long room name does not squeeze a form's labels, and the audit trail's counts agree in number.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, commandOk, answerAsked, LAPTOP, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

// The demo's prepared day: a hearing and a rotation, so that everyone has all their tabs.
useServerAndBrowser({ demoDay: 'prepared' });

/** What has the focus: its test id, or its text. */
function focused(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return 'body';
    return a.dataset.testid || `${a.tagName.toLowerCase()}:${(a.textContent || '').trim()}`;
  });
}

/** The focus is (or gets, within a second: the page moves it after rendering) on `what`. */
async function focusIs(page, what, message) {
  const deadline = Date.now() + 1000;
  let now = await focused(page);
  while (now !== what && Date.now() < deadline) {
    await page.waitForTimeout(50);
    now = await focused(page);
  }
  assert.equal(now, what, message);
}

test('the focus stays where a keyboard user acts', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const amina = await openAs(browser, server, server.role('citizen', 0));
  const bernard = await openAs(browser, server, server.role('citizen', 1));

  // The hand: Enter raises it, Enter again lowers it, on the same button all along (it was
  // swapped for another, and disabled while busy: the focus fell to the top of the page).
  await amina.focus('[data-testid=hand-button]');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await focusIs(amina, 'hand-button');
  assert.match(await amina.textContent('[data-testid=hand-button]'), /Baisser la main/);
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('[data-testid=hand-button]:has-text("Lever la main")');
  await focusIs(amina, 'hand-button');

  // Calling a facilitator: the message field takes the focus, and once sent the focus is
  // back on the button that opened it.
  await amina.focus('button:has-text("Appeler un·e animateur·rice")');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('.call textarea');
  await focusIs(amina, 'textarea:');
  await amina.keyboard.type('Je n’entends plus rien.');
  await amina.keyboard.press('Tab');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('.call .notice:has-text("Votre appel est transmis")');
  await focusIs(amina, 'button:Appeler un·e animateur·rice');

  // A question asked in the page: « Confirmer » takes the focus; a live update does not pull
  // it back from « Annuler »; once answered, the focus is back on the button.
  await commandOk(fac, { type: 'create_rooms', count: 2 });
  await commandOk(fac, { type: 'assign_rooms', method: 'random', only_present: false });
  await commandOk(fac, { type: 'open_breakouts', duration_ms: 20 * 60000, warning_ms: 60000 });
  await tab(fac, 'console');
  const close = 'button:has-text("Fermer les sous-groupes maintenant")';
  await fac.focus(close);
  await fac.keyboard.press('Enter');
  await fac.waitForSelector('[data-testid=confirm]');
  await focusIs(fac, 'confirm-yes');
  await fac.keyboard.press('Tab');
  await focusIs(fac, 'confirm-no');
  await commandOk(fac, { type: 'broadcast', text: 'Encore un quart d’heure.' });
  await commandOk(bernard, { type: 'send_chat', text: 'Bien reçu.' });
  await waitState(fac, (c) => c.snap.rooms.some((r) => r.inside && r.inside.chat.some((l) => l.text === 'Bien reçu.')));
  await fac.waitForTimeout(300);
  assert.equal(await focused(fac), 'confirm-no', 'a live update took the focus from « Annuler »');
  await fac.keyboard.press('Enter');
  await fac.waitForSelector('[data-testid=confirm]', { state: 'detached' });
  await focusIs(fac, 'button:Fermer les sous-groupes maintenant');
  await waitState(fac, (c) => !!c.snap.breakouts);

  // A secret vote: « Voter » asks to confirm, and the confirmation has the focus; « Revenir »
  // gives it back to « Voter ».
  await commandOk(fac, { type: 'draft_poll', spec: { question: 'Ouvrir les bibliothèques le dimanche ?', kind: 'single', options: ['Oui', 'Non'], secret: true, live_results: false, voters: ['citizen'], quorum: null, duration_ms: null, room: null } });
  const poll = await fac.evaluate(() => window.__convene.snap.polls.find((p) => p.spec.question.startsWith('Ouvrir les bibliothèques')).id);
  await commandOk(fac, { type: 'open_poll', poll });
  await answerAsked(amina, 'Plus tard', poll);
  await answerAsked(bernard, 'Plus tard', poll);
  await tab(amina, 'polls');
  await amina.click('main .ballot label:has-text("Oui")');
  await amina.focus('main .ballot button:has-text("Voter")');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('main .ballot .confirm');
  await focusIs(amina, 'button:Confirmer mon vote');
  await amina.keyboard.press('Tab');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('main .ballot .confirm', { state: 'detached' });
  await focusIs(amina, 'button:Voter');
  // Confirmed: the ballot form goes away, and its focus to the confirmation of the vote.
  await amina.keyboard.press('Enter');
  await focusIs(amina, 'button:Confirmer mon vote');
  await amina.keyboard.press('Enter');
  await amina.waitForSelector('main [data-testid=vote-recorded]');
  await focusIs(amina, 'vote-recorded', 'the focus is on the vote just recorded');

  // Reporting a chat line: the reason's field has the focus.
  await tab(bernard, 'room');
  // Amina joins Bernard's room (the random assignment may have put them together already).
  const roomOf = (page) => page.evaluate(() => { const c = window.__convene; return c.snap.participants.find((p) => p.id === c.you.id).room; });
  const bernardsRoom = await roomOf(bernard);
  if ((await roomOf(amina)) !== bernardsRoom) await commandOk(fac, { type: 'move_participant', participant: server.role('citizen', 0).participant, room: bernardsRoom });
  await commandOk(bernard, { type: 'send_chat', text: 'Vous êtes là ?' });
  await tab(amina, 'room');
  await amina.click('.chat-line:has-text("Vous êtes là ?") button:has-text("Signaler")');
  await amina.waitForSelector('[data-testid=report-form]');
  // (The page moves the focus after rendering: a moment is allowed.)
  await amina.waitForFunction(() => document.activeElement.tagName === 'INPUT' && document.activeElement.closest('[data-testid=report-form]') !== null, null, { timeout: 1000 });
});

test('the tabs of a phone are never cut, and a long room name leaves its labels room', { timeout: 120000 }, async () => {
  // Six tabs for a facilitator, five for a guarantor: each as wide as its longest word.
  const fac = await openAs(browser, server, server.role('facilitator'), { viewport: PHONE });
  const guarantor = await openAs(browser, server, server.role('guarantor'), { viewport: PHONE });
  assert.equal((await fac.$$('nav .tab')).length, 6);
  assert.equal((await guarantor.$$('nav .tab')).length, 5);
  for (const [page, who] of [[fac, 'facilitator'], [guarantor, 'guarantor']]) {
    const tabs = await page.$$eval('nav .tab', (els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { tab: e.dataset.tab, left: r.left, right: r.right, cut: e.scrollWidth > e.clientWidth };
    }));
    for (const x of tabs) {
      assert.equal(x.cut, false, `${who}: the tab ${x.tab} is cut`);
      assert.ok(x.left >= 0 && x.right <= PHONE.width, `${who}: the tab ${x.tab} is outside the screen (${x.left}–${x.right})`);
    }
  }

  // The poll builder: a room with a long name in « Salle » once took the labels' column.
  const long = 'Mobilités et transports du quotidien dans la métropole';
  const lap = await openAs(browser, server, server.role('facilitator', 1), { viewport: LAPTOP });
  await commandOk(lap, { type: 'create_rooms', names: [long] });
  await waitState(lap, (c, name) => c.snap.rooms.some((r) => r.name === name), long);
  await tab(lap, 'polls');
  const width = await lap.locator('#poll-builder label:has-text("Quorum")').evaluate((e) => e.getBoundingClientRect().width);
  assert.ok(width >= 100, `the label « Quorum (facultatif) » is ${width} px wide`);
});

test('the audit trail counts rooms and people in the right number', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const g = await openAs(browser, server, server.role('guarantor'));
  // Rooms are filled by hand while they are closed.
  if (await fac.evaluate(() => !!window.__convene.snap.breakouts)) await commandOk(fac, { type: 'close_breakouts' });
  await commandOk(fac, { type: 'create_rooms', names: ['Seule salle'] });
  await g.waitForSelector('#audit .audit-list li:has-text("1 salle créée")');
  await commandOk(fac, { type: 'assign_rooms', method: 'manual', assignments: [{ participant: server.role('citizen', 2).participant, room: await fac.evaluate(() => window.__convene.snap.rooms.find((r) => r.name === 'Seule salle').id) }] });
  await g.waitForSelector('#audit .audit-list li:has-text("de 1 personne")');
  assert.equal(await g.locator('#audit .audit-list li:has-text("(s)")').count(), 0);
});

test('the console board says what « 3/29 » counts', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  await tab(fac, 'console');
  const count = fac.locator('.board-col').first().locator('[data-testid=board-count]');
  const [shown, words] = await count.evaluate((e) => [e.querySelector('[aria-hidden=true]').textContent, e.querySelector('.sr-only').textContent]);
  const m = shown.match(/^(\d+)\/(\d+)$/);
  assert.ok(m, shown);
  assert.equal(words, `${m[1]} ${m[1] === '1' || m[1] === '0' ? 'personne connectée' : 'personnes connectées'} sur ${m[2]}`);
  assert.equal(await count.getAttribute('title'), words);
});

test('on a phone, the reason form under a chat line is in view with its buttons', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1), { viewport: PHONE });
  const cit = await openAs(browser, server, server.role('citizen', 5), { viewport: PHONE });
  const roomOf = (page) => page.evaluate(() => { const c = window.__convene; return c.snap.participants.find((p) => p.id === c.you.id).room; });
  const room = await roomOf(cit);
  if ((await roomOf(fac)) !== room) await commandOk(fac, { type: 'visit', room });
  // A log that does not scroll yet: the form, opened under its last line, makes it scroll.
  for (let i = 1; i <= 2; i += 1) await commandOk(cit, { type: 'send_chat', text: `Ligne ${i} de la discussion` });
  await tab(fac, 'room');
  await fac.waitForSelector('.chat-line:has-text("Ligne 2 de la discussion")');
  assert.ok(await fac.$eval('.chat-log', (l) => l.scrollHeight <= l.clientHeight), 'the room\'s chat already scrolls');
  await fac.click('.chat-line:has-text("Ligne 2 de la discussion") button:has-text("Masquer")');
  await fac.waitForSelector('[data-testid=hide-form]');
  await fac.waitForFunction(() => document.activeElement.closest('[data-testid=hide-form]') !== null, null, { timeout: 1000 });
  // « Valider » and « Annuler » within what the log shows (the page scrolls it after rendering).
  await fac.waitForFunction(() => {
    const log = document.querySelector('.chat-log').getBoundingClientRect();
    return [...document.querySelectorAll('[data-testid=hide-form] button')].every((b) => {
      const r = b.getBoundingClientRect();
      return r.top >= log.top && r.bottom <= log.bottom;
    });
  }, null, { timeout: 2000 }).catch(() => assert.fail('the hide form\'s buttons are outside the chat log\'s view'));
});
