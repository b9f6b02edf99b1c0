// A convention deleted while its pages are open (DELETE /api/conventions/{id}, PROTOCOL.md
// §15, close 4014): the citizen's page (a phone) and the facilitator's say, in French, that the
// convention was deleted by the organizers, and stop, without reconnecting; the public page says
// the broadcast is over. Nothing of the convention is left to show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, PHONE, server, browser, useServerAndBrowser, organizerApi, sleep } from './harness.mjs';

useServerAndBrowser();

test('pages of a deleted convention say so and stop, without reconnecting', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizen = server.role('citizen', 0);
  const cit = await openAs(browser, server, citizen, { viewport: PHONE });
  const conv = citizen.convention;
  const made = await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, {});
  assert.equal(made.status, 201);
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('h1:has-text("Convention")');

  const deleted = await organizerApi(server, 'DELETE', `/api/conventions/${conv}?confirm=${conv}`);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.ok(deleted.body.rows > 0, JSON.stringify(deleted.body));

  for (const page of [cit, fac]) {
    await page.waitForSelector('[role=alert]:has-text("Cette convention a été supprimée par les organisateurs")');
    await page.waitForSelector('[data-testid=deleted-help]');
    await waitState(page, (c) => c.status === 'fatal' && c.fatal === 'deleted');
  }
  await pub.waitForSelector('[data-status="public.deleted"]');
  // No reconnection loop.
  const attempts = await cit.evaluate(() => window.__convene.attempt);
  await sleep(3000);
  assert.equal(await cit.evaluate(() => window.__convene.attempt), attempts);
  assert.equal(await cit.evaluate(() => window.__convene.status), 'fatal');
  await axe(cit, 'deleted convention (phone)');
  // Reloaded, the invitation is unknown now.
  await cit.reload();
  await waitState(cit, (c) => c.status === 'fatal' && c.fatal === 'unknown_token');
  assert.deepEqual(cit.errors, []);
  for (const page of [cit, fac]) await page.context().close();
  await context.close();
});
