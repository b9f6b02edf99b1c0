// What a hands-on audit of the flows of the other roles (the rapporteur, the expert, the
// organizer, the guarantor, the public page) found, kept found; each test says what it keeps.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, tab, commandOk, organizerApi, stallableProxy, LAPTOP, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

let proxy = null;
after(async () => {
  if (proxy) await proxy.close();
});

async function editorReady(page) {
  await page.waitForSelector('.doc-editor');
  await page.waitForSelector('.editor-status .badge[role=status]:has-text("À jour")', { timeout: 20000 });
}

test('times are written the French way, in the app and on the public page alike', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const cit = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  const made = await organizerApi(server, 'POST', `/api/conventions/${server.role('citizen', 3).convention}/public-link`, {});
  assert.equal(made.status, 201);
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('h1:has-text("Convention")');

  await commandOk(fac, { type: 'broadcast', text: 'Reprise dans dix minutes.' });
  await cit.waitForSelector('.broadcast-msg:has-text("Reprise dans dix minutes.")');
  await pub.waitForSelector('[data-testid=public-announcements] li:has-text("Reprise dans dix minutes.")');
  const inApp = (await cit.textContent('.broadcast-msg time')).replace(/^à /, '');
  const onPublic = await pub.textContent('[data-testid=public-announcements] li:has-text("Reprise dans dix minutes.") .muted');
  // « 9 h 58 », with non-breaking spaces (never cut at the end of a line on a phone).
  assert.match(inApp, /^\d{1,2}\u00a0h\u00a0\d\d$/);
  assert.equal(onPublic, inApp, 'the public page and the app write the same time alike');
  await context.close();
});
