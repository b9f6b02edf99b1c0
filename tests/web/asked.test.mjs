// What is asked of me comes to me, on a 360x740 phone: a poll opening for me is a dialog
// (modal, focus kept inside, dismissible, remembered) from any tab and scroll position, in
// which one votes; published results are announced the same way, in plain words with the
// counting method named once and French numbers (33,3 %); a ranking ballot has position
// numbers, a starting order of the voter's own, buttons and drag; facilitators follow a
// secret poll's participation, not its count; a chat line on another tab gives a badge; a
// call for help, once handled, says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, command, assertMatchesServer, PHONE, LAPTOP, server, browser, useServerAndBrowser, commandOk as ok } from './harness.mjs';
import { voterOrder } from '../../web/src/reduce.js';

useServerAndBrowser();


const DIALOG = '[data-testid=ask-dialog][open]';

/** Where the focus is: inside the dialog, on the page's body, or elsewhere (a leak). */
async function focusPlace(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return 'body';
    return a.closest('dialog[open]') ? 'dialog' : `outside: ${a.outerHTML.slice(0, 80)}`;
  });
}

/** The clicks (and key presses) a person makes, counted as the test makes them. */
function counter() {
  const c = { n: 0 };
  c.click = async (page, selector) => {
    c.n += 1;
    await page.click(selector);
  };
  return c;
}

test('a poll opening comes to the citizen as a dialog, on any tab, and the vote is cast there', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const amina = server.role('citizen', 0);
  const a = await openAs(browser, server, amina, { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 1), { viewport: LAPTOP });
  const c = await openAs(browser, server, server.role('citizen', 2), { viewport: PHONE });

  // Amina reads the opinion, scrolled down, when the vote opens.
  await a.click('nav [data-tab=opinion]');
  await a.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await ok(fac, { type: 'draft_poll', spec: { question: 'Proposition 12 : des bus gratuits la nuit ?', kind: 'position', secret: true } });
  await ok(fac, { type: 'open_poll', poll: 'q1' });
  await a.waitForSelector(`${DIALOG}[data-kind=vote]:has-text("Un vote est ouvert pour vous")`);
  assert.match(await a.textContent(DIALOG), /Proposition 12 : des bus gratuits la nuit \?/);
  assert.match(await a.textContent(DIALOG), /Ce vote est secret/);
  // Modal: the focus is inside, and stays inside whatever Tab does.
  assert.equal(await focusPlace(a), 'dialog');
  for (let i = 0; i < 14; i += 1) {
    await a.keyboard.press('Tab');
    const where = await focusPlace(a);
    assert.ok(where === 'dialog' || where === 'body', `Tab ${i + 1}: the focus left the dialog (${where})`);
  }
  assert.equal(await a.evaluate(() => document.querySelector('[data-testid=ask-dialog]').matches(':modal')), true);
  await axe(a, 'phone: the vote dialog');

  // Voting in the dialog: the choice, "Voter", the confirmation of a secret ballot.
  const clicks = counter();
  await clicks.click(a, `${DIALOG} label:has-text("Pour, avec réserves") input`);
  await clicks.click(a, `${DIALOG} button:has-text("Voter")`);
  await clicks.click(a, `${DIALOG} button:has-text("Confirmer mon vote")`);
  await a.waitForSelector(`${DIALOG}[data-kind=voted] .voted:has-text("Votre vote a été enregistré.")`);
  const toVote = clicks.n;
  await clicks.click(a, `${DIALOG} button:has-text("Fermer")`);
  await a.waitForSelector(DIALOG, { state: 'detached' });
  await waitState(a, (cl) => cl.snap.polls.find((p) => p.id === 'q1').you_voted);
  console.log(`# clicks to vote in a secret poll from any tab: ${toVote} (then 1 to close the confirmation)`);
  assert.equal(await a.locator('nav [data-tab=polls] .count-badge').count(), 0);

  // Bernard says "Plus tard": the dialog goes, the badge stays, and a reload does not bring
  // the dialog back. Escape dismisses too.
  await b.waitForSelector(`${DIALOG}[data-poll=q1]`);
  await b.click(`${DIALOG} button:has-text("Plus tard")`);
  await b.waitForSelector(DIALOG, { state: 'detached' });
  await b.waitForSelector('nav [data-tab=polls] .count-badge');
  await b.reload();
  await waitState(b, (cl) => cl.status === 'open');
  await b.waitForTimeout(500);
  assert.equal(await b.locator(DIALOG).count(), 0, 'a dismissed vote does not come back');
  await c.waitForSelector(`${DIALOG}[data-poll=q1]`);
  await c.keyboard.press('Escape');
  await c.waitForSelector(DIALOG, { state: 'detached' });

  // The facilitator follows the secret poll's participation, never its count.
  await fac.click('nav [data-tab=polls]');
  const card = fac.locator('article.poll[data-poll=q1]');
  await card.locator('.participation:has-text("1 vote sur")').waitFor();
  await card.locator('[data-testid=count-hidden]').waitFor();
  assert.equal(await card.locator('.results').count(), 0, 'no running count for the facilitator');
  assert.equal(await fac.evaluate(() => window.__convene.snap.polls.find((p) => p.id === 'q1').tally), null);
  await axe(fac, 'laptop: secret poll, participation only');
  await ok(fac, { type: 'close_poll', poll: 'q1' });
  await card.locator('.results:has-text("1 bulletin")').waitFor();

  // Published results are announced the same way, in plain words, French numbers.
  await ok(fac, { type: 'draft_poll', spec: { question: 'Faut-il une pause ?', kind: 'single', options: ['Oui', 'Non'] } });
  await ok(fac, { type: 'open_poll', poll: 'q2' });
  for (const [page, choice] of [[a, 'Oui'], [b, 'Non'], [c, 'Non']]) {
    await page.waitForSelector(`${DIALOG}[data-poll=q2]`);
    await page.click(`${DIALOG} label:has-text("${choice}") input`);
    await page.click(`${DIALOG} button:has-text("Voter")`);
    await page.waitForSelector(`${DIALOG}[data-kind=voted]`);
    await page.click(`${DIALOG} button:has-text("Fermer")`);
  }
  await a.click('nav [data-tab=room]');
  await ok(fac, { type: 'close_poll', poll: 'q2' });
  await ok(fac, { type: 'publish_results', poll: 'q2' });
  await a.waitForSelector(`${DIALOG}[data-kind=results]:has-text("Résultats publiés")`);
  const words = (await a.textContent(DIALOG)).replace(/\s/g, ' ');
  assert.match(words, /« Non » arrive en tête avec 2 voix sur 3 \(66,7 %\)\./);
  assert.match(words, /Oui\s*1 voix \(33,3 %\)/);
  assert.equal((words.match(/Majorité relative/g) || []).length, 1, 'the method named once');
  assert.match(words, /la proposition qui recueille le plus de voix l'emporte/);
  await axe(a, 'phone: the results dialog');
  await a.click(`${DIALOG} button:has-text("Fermer")`);
  await a.waitForSelector(DIALOG, { state: 'detached' });
  for (const page of [a, b, c]) assert.deepEqual(page.errors, []);
  await assertMatchesServer(a, 'after the dialogs');
});

test('a ranking ballot: numbered places, an order of the voter\'s own, buttons and drag; the rounds in plain words', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const voters = [3, 4, 5].map((i) => server.role('citizen', i));
  const pages = [];
  for (const v of voters) pages.push(await openAs(browser, server, v, { viewport: PHONE }));
  const options = ['Transports de nuit', 'Logement des jeunes', 'Isolement des personnes âgées'];
  await ok(fac, { type: 'draft_poll', spec: { question: 'Classez ces priorités', kind: 'ranking', options } });
  const id = await fac.evaluate(() => window.__convene.snap.polls.find((p) => p.spec.question === 'Classez ces priorités').id);
  await ok(fac, { type: 'open_poll', poll: id });

  const shown = async (page) => page.$$eval(`${DIALOG} ol.ranking li`, (els) => els.map((li) => [li.querySelector('.rank-num').textContent, li.querySelector('.rank-label').textContent]));
  const firsts = [];
  for (const [i, page] of pages.entries()) {
    await page.waitForSelector(`${DIALOG}[data-poll=${id}] ol.ranking`);
    const rows = await shown(page);
    // Places are numbered 1, 2, 3; the order is this voter's own (seeded by the poll and them).
    assert.deepEqual(rows.map((r) => r[0]), ['1', '2', '3']);
    const mine = voterOrder(3, `${id}:${voters[i].participant}`).map((o) => options[o]);
    assert.deepEqual(rows.map((r) => r[1]), mine, 'the voter\'s own starting order');
    firsts.push(rows[0][1]);
  }
  console.log(`# first option shown to the three voters: ${JSON.stringify(firsts)}`);
  await axe(pages[0], 'phone: a ranking ballot');

  // Amina (the first voter) moves her last option to the first place with the buttons, then
  // drags the option now last back to the first place.
  const a = pages[0];
  let rows = await shown(a);
  const last = rows[2][1];
  const up = `${DIALOG} button:has-text("Monter « ${last} »")`;
  await a.click(up);
  await a.click(up);
  await a.waitForSelector(`${DIALOG} [aria-live=polite]:has-text("« ${last} » est maintenant en place 1.")`);
  rows = await shown(a);
  assert.equal(rows[0][1], last, 'moved up with the buttons');
  const dragged = rows[2][1];
  const from = await a.locator(`${DIALOG} ol.ranking li`).nth(2).locator('.drag-handle').boundingBox();
  const to = await a.locator(`${DIALOG} ol.ranking li`).nth(0).boundingBox();
  await a.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await a.mouse.down();
  await a.mouse.move(to.x + to.width / 2, to.y + 4, { steps: 8 });
  await a.mouse.up();
  rows = await shown(a);
  assert.equal(rows[0][1], dragged, 'dragged to the first place');
  assert.deepEqual(rows.map((r) => r[0]), ['1', '2', '3'], 'the places renumbered');
  const ranked = rows.map((r) => r[1]);
  await a.click(`${DIALOG} button:has-text("Voter")`);
  await a.waitForSelector(`${DIALOG}[data-kind=voted]:has-text("${ranked.join(' > ')}")`);
  assert.deepEqual(
    await a.evaluate((id) => window.__convene.snap.polls.find((p) => p.id === id).your_ballot.order, id),
    ranked.map((o) => options.indexOf(o)),
    'the ballot is the order shown',
  );
  await a.click(`${DIALOG} button:has-text("Fermer")`);
  // The others vote their starting order as it is.
  for (const page of pages.slice(1)) {
    await page.click(`${DIALOG} button:has-text("Voter")`);
    await page.waitForSelector(`${DIALOG}[data-kind=voted]`);
    await page.click(`${DIALOG} button:has-text("Fermer")`);
  }
  await ok(fac, { type: 'close_poll', poll: id });
  await ok(fac, { type: 'publish_results', poll: id });
  await a.waitForSelector(`${DIALOG}[data-kind=results][data-poll=${id}]`);
  const words = (await a.textContent(DIALOG)).replace(/\s/g, ' ');
  assert.match(words, /est retenue, avec \d voix sur 3 au dernier tour de dépouillement \(\d+,?\d* %\)\./);
  assert.equal((words.match(/Vote alternatif/g) || []).length, 1, 'the method named once');
  assert.match(words, /la proposition le moins souvent classée en tête est éliminée/);
  // The rounds are one click away.
  await a.click(`${DIALOG} details.rounds summary`);
  await a.waitForSelector(`${DIALOG} table.irv`);
  await axe(a, 'phone: ranking results');
  for (const page of pages) assert.deepEqual(page.errors, []);
});

test('a chat line on another tab gives a badge; a handled call for help says so', { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const a = await openAs(browser, server, server.role('citizen', 6), { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 7));
  await a.click('nav [data-tab=polls]');
  await b.fill('.chat-form input', 'Quelqu\'un a le lien du document ?');
  await b.press('.chat-form input', 'Enter');
  await a.waitForSelector('nav [data-tab=room] [data-testid=unread]:has-text("1")');
  assert.match(await a.textContent('nav [data-tab=room] [data-testid=unread]'), /1 nouveau message/);
  await b.fill('.chat-form input', 'Je le cherche.');
  await b.press('.chat-form input', 'Enter');
  await a.waitForSelector('nav [data-tab=room] [data-testid=unread]:has-text("2 nouveaux messages")');
  await axe(a, 'phone: unread badge');
  await a.click('nav [data-tab=room]');
  await a.waitForSelector('nav [data-tab=room] [data-testid=unread]', { state: 'detached' });
  await a.waitForSelector('.chat-log :text("Je le cherche.")');

  // A call for help; the citizen goes to another tab; the facilitator handles it.
  await a.click('button:has-text("Appeler un·e animateur·rice")');
  await a.fill('.call textarea', 'Je ne trouve pas le document.');
  await a.click('.call button:has-text("Envoyer l\'appel")');
  await a.waitForSelector('.call [role=status]:has-text("Votre appel est transmis")');
  await a.click('nav [data-tab=opinion]');
  const call = await fac.evaluate(() => window.__convene.snap.calls[0].id);
  await ok(fac, { type: 'resolve_call', call });
  await a.waitForSelector('[data-testid=call-handled]:has-text("Votre appel a été traité par Claire")');
  await axe(a, 'phone: call handled');
  await a.click('[data-testid=call-handled] button');
  await a.waitForSelector('[data-testid=call-handled]', { state: 'detached' });
  assert.deepEqual(a.errors, []);
});
