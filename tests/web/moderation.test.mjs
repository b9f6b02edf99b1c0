// Live moderation in the browser (PROTOCOL.md §21): a citizen reports a message, a
// facilitator hides it with a reason typed in the page, and it leaves both citizens' chats
// (phones, 360x740) while the guarantor sees it marked and the moderation log says who, what
// and why; a citizen muted from the console sees why sending fails and until when; a removed
// citizen's page says so and stops, without reconnecting, until readmitted. A hiding undone
// brings the line back to the citizens in its place.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, command, commandOk, screenshot, PHONE, assertMatchesServer, server, browser, useServerAndBrowser, sleep } from './harness.mjs';

useServerAndBrowser();

test('a hidden message leaves two citizens\' chats and stays marked for the guarantor', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const a = await openAs(browser, server, server.role('citizen', 0), { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 1), { viewport: PHONE });
  const g = await openAs(browser, server, server.role('guarantor'));

  await a.fill('.chat-form input', 'Un message injurieux à masquer');
  await a.press('.chat-form input', 'Enter');
  const line = '.chat-line:has-text("Un message injurieux à masquer")';
  await b.waitForSelector(line);

  // The second citizen reports it, with a reason typed in the page.
  await b.click(`${line} button:has-text("Signaler")`);
  await b.fill('[data-testid=report-form] input', 'Insulte');
  await b.click('[data-testid=report-form] button:has-text("Valider")');
  await b.waitForSelector(`${line} :text("Signalé")`);
  // The facilitator's console shows the open report.
  await fac.waitForSelector('#moderation [data-testid=reports] :text("Insulte")');
  await fac.waitForSelector('#moderation [data-testid=reports] :text("Un message injurieux à masquer")');

  // The facilitator hides it from the room's chat: the reason is asked inside the page.
  await tab(fac, 'room');
  await fac.click(`${line} button:has-text("Masquer")`);
  await fac.fill('[data-testid=hide-form] input', 'Propos injurieux');
  await fac.click('[data-testid=hide-form] button:has-text("Valider")');

  // Gone for both citizens, text and all.
  for (const page of [a, b]) {
    await page.waitForSelector(line, { state: 'detached' });
    assert.equal(await page.locator('.chat-log :text("injurieux")').count(), 0);
  }
  // Marked for staff, with the reason and who hid it.
  await fac.waitForSelector(`${line}.hidden-line [data-testid=hidden-mark]:has-text("Propos injurieux")`);
  await g.waitForSelector(`#observed ${line}.hidden-line [data-testid=hidden-mark]:has-text("Propos injurieux")`);
  // The guarantor's moderation log, live: the report and the hide.
  await g.waitForSelector('[data-testid=moderation-log] li[data-type=chat_hidden]:has-text("Propos injurieux")');
  await g.waitForSelector('[data-testid=moderation-log] li[data-type=chat_reported]');
  // The report is settled.
  await tab(fac, 'console');
  await fac.waitForSelector('#moderation :text("Aucun signalement en attente.")');

  // Reloaded, the citizens' pages still do not carry it; the guarantor's does, marked.
  await a.reload();
  await waitState(a, (c) => c.status === 'open' && !!c.snap);
  await a.waitForSelector('.chat-log');
  assert.equal(await a.locator('.chat-log :text("injurieux")').count(), 0);
  await g.reload();
  await waitState(g, (c) => c.status === 'open' && !!c.snap);
  await g.waitForSelector(`#observed ${line}.hidden-line`);
  // The guarantor's chat export keeps the line, marked hidden with its reason.
  const path = await g.getAttribute('#exports button:has-text("Chat, messages masqués compris (CSV)")', 'data-export');
  const csv = await g.evaluate(async (u) => (await fetch(u, { headers: { authorization: `Bearer ${window.__convene.token}` } })).text(), path);
  const row = csv.split('\n').find((l) => l.includes('Un message injurieux à masquer'));
  assert.ok(row && row.includes(',yes,') && row.trim().endsWith('Propos injurieux'), csv);
  await axe(b, 'citizen chat after a hide (phone)');
  await screenshot(g, 'moderation-guarantor-laptop');
  await screenshot(fac, 'moderation-facilitator-console-laptop');
  await axe(g, 'guarantor with the moderation log');

  // Hidden by mistake? The facilitator shows it again, after a confirmation in the page: it
  // comes back to both citizens in its place (before a line sent since), unmarked for staff,
  // and the moderation log says so.
  await b.fill('.chat-form input', 'Un message envoyé après');
  await b.press('.chat-form input', 'Enter');
  const later = '.chat-line:has-text("Un message envoyé après")';
  await a.waitForSelector(later);
  await tab(fac, 'room');
  await fac.click(`${line} [data-testid=unhide]`);
  // Showing a line again is harmless: its « Confirmer » is not the red of a removal.
  assert.match(await fac.getAttribute('[data-testid=confirm-yes]', 'class'), /\bprimary\b/);
  await fac.click('[data-testid=confirm-yes]');
  for (const page of [a, b]) {
    await page.waitForSelector(line);
    const order = await page.locator('.chat-log .chat-line .chat-text').allTextContents();
    assert.deepEqual(order.filter((x) => x.startsWith('Un message')), ['Un message injurieux à masquer', 'Un message envoyé après']);
  }
  await fac.waitForSelector(`${line}:not(.hidden-line)`);
  await g.waitForSelector(`#observed ${line}:not(.hidden-line)`);
  await g.waitForSelector('[data-testid=moderation-log] li[data-type=chat_unhidden]');
  await axe(fac, 'facilitator chat after a message shown again');
  for (const page of [fac, a, b, g]) assert.deepEqual(page.errors, []);
  for (const page of [fac, a, b, g]) await assertMatchesServer(page);
  for (const page of [fac, a, b, g]) await page.context().close();
});

test('a muted citizen sees why sending fails and until when', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const cit = server.role('citizen', 2);
  const c = await openAs(browser, server, cit, { viewport: PHONE });

  // From the console: choose the citizen, a duration, "Couper le chat".
  await tab(fac, 'console');
  await fac.selectOption('#moderation [data-testid=mod-pick]', cit.participant);
  await fac.click(`#moderation button[aria-label="Couper le chat de ${cit.name}"]`);
  await c.waitForSelector('[data-testid=mute-notice]:has-text("Votre chat est coupé par l\'équipe d\'animation jusqu\'à")');

  await c.fill('.chat-form input', 'Je voudrais parler');
  await c.press('.chat-form input', 'Enter');
  await c.waitForSelector('.toast[data-code=muted]:has-text("votre chat est coupé par l\'équipe d\'animation jusqu\'à")');
  // The line comes back into the field; nobody received it.
  assert.equal(await c.inputValue('.chat-form input'), 'Je voudrais parler');
  assert.equal(await fac.locator('.chat-log :text("Je voudrais parler")').count(), 0);
  // Everything else still works: the hand goes up.
  await c.click('button:has-text("Lever la main")');
  await c.waitForSelector('button:has-text("Baisser la main")');
  await axe(c, 'muted citizen (phone)');
  await screenshot(c, 'moderation-muted-citizen-phone', { fullPage: false });

  // The facilitator lifts it early; the citizen writes again.
  await fac.waitForSelector(`#moderation [data-testid=moderated-person]:has-text("${cit.name}")`);
  await fac.click(`#moderation button[aria-label="Rétablir le chat de ${cit.name}"]`);
  await c.waitForSelector('[data-testid=mute-notice]', { state: 'detached' });
  await c.fill('.chat-form input', 'Merci, je reprends');
  await c.press('.chat-form input', 'Enter');
  await tab(fac, 'room');
  await fac.waitForSelector('.chat-log :text("Merci, je reprends")');
  assert.deepEqual(c.errors, []);
  for (const page of [fac, c]) await assertMatchesServer(page);
  for (const page of [fac, c]) await page.context().close();
});

test('a removed citizen is told so, does not reconnect, and comes back once readmitted', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const g = await openAs(browser, server, server.role('guarantor'));
  const cit = server.role('citizen', 3);
  const c = await openAs(browser, server, cit, { viewport: PHONE });

  await tab(fac, 'console');
  await fac.selectOption('#moderation [data-testid=mod-pick]', cit.participant);
  await fac.click(`#moderation button[aria-label="Retirer ${cit.name} de la convention"]`);
  await axe(fac, 'facilitator moderation panel');
  await fac.fill('[data-testid=remove-form] input', 'Insultes répétées');
  await fac.click('[data-testid=remove-form] button:has-text("Valider")');

  await c.waitForSelector('[role=alert]:has-text("Vous avez été retiré·e de la convention par l\'équipe d\'animation")');
  await c.waitForSelector('[data-testid=removed-help]');
  await waitState(c, (cl) => cl.status === 'fatal' && cl.fatal === 'removed');
  // No reconnection loop: the page stays stopped, without a new attempt.
  const attempts = await c.evaluate(() => window.__convene.attempt);
  await sleep(3000);
  assert.equal(await c.evaluate(() => window.__convene.attempt), attempts);
  assert.equal(await c.evaluate(() => window.__convene.status), 'fatal');
  await axe(c, 'removed citizen (phone)');
  await screenshot(c, 'moderation-removed-citizen-phone', { fullPage: false });

  // Staff see the removal; the guarantor's log says who, whom and why.
  await g.waitForSelector('[data-testid=moderation-log] li[data-type=participant_removed]:has-text("Insultes répétées")');
  await fac.waitForSelector(`#moderation [data-testid=moderated-person]:has-text("${cit.name}")`);
  // A hand-made command from the guarantor is refused.
  const r = await command(g, { type: 'readmit', participant: cit.participant });
  assert.equal(r.code, 'forbidden');

  // Readmitted: a reload lets the citizen back in.
  await fac.click(`#moderation button[aria-label="Réadmettre ${cit.name}"]`);
  await g.waitForSelector('[data-testid=moderation-log] li[data-type=participant_readmitted]');
  await c.reload();
  await waitState(c, (cl) => cl.status === 'open' && !!cl.snap, undefined, 20000);
  await commandOk(c, { type: 'send_chat', text: 'De retour' });
  for (const page of [fac, g, c]) await assertMatchesServer(page);
});
