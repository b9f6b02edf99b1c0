// A convention deleted while its pages are open (DELETE /api/conventions/{id}, PROTOCOL.md
// §15, close 4014): the citizen's page (a phone) and the facilitator's say, in French, that the
// convention was deleted by the organizers, and stop, without reconnecting; the public page says
// the broadcast is over. Nothing of the convention is left to show.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, PHONE, server, browser, useServerAndBrowser, organizerApi, sleep, openConsole, signInConsole, organizerToken } from './harness.mjs';

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

  // The organizer deletes it from the console (« Espace organisation »): the id typed again.
  const org = await openConsole({ width: 1366, height: 768 });
  await signInConsole(org, organizerToken());
  await org.click(`li[data-convention="${conv}"] button`);
  const danger = org.locator('#org-delete');
  await danger.locator('h2:has-text("Supprimer la convention")').waitFor();
  await axe(org, 'organizer console with its delete section');
  const confirm = danger.getByLabel(`Pour confirmer, tapez l’identifiant de la convention : ${conv}`);
  // A wrong id: said beside the field, the focus there, nothing deleted.
  await confirm.fill(`${conv}-x`);
  await danger.locator('button:has-text("Supprimer définitivement")').click();
  await danger.locator(`.field-error:has-text("Tapez exactement « ${conv} » : rien n’a été supprimé.")`).waitFor();
  assert.equal(await confirm.getAttribute('aria-invalid'), 'true');
  assert.equal(await org.evaluate(() => document.activeElement.id), 'org-delete-confirm');
  assert.equal((await organizerApi(server, 'GET', `/api/conventions/${conv}`)).status, 200);
  assert.equal(await cit.evaluate(() => window.__convene.status), 'open');
  // The right one: back to the list, which says what was erased and no longer has it.
  await confirm.fill(conv);
  await danger.locator('button:has-text("Supprimer définitivement")').click();
  const said = await org.locator('[data-testid=deleted]').textContent();
  assert.match(said, /^La convention « .+ » a été supprimée : \d+ lignes effacées dans \d+ fichiers\.$/);
  assert.equal(await org.evaluate(() => document.activeElement.id), 'org-deleted');
  await org.waitForSelector('#org-list-title');
  assert.equal(await org.locator(`li[data-convention="${conv}"]`).count(), 0);
  assert.equal((await organizerApi(server, 'GET', `/api/conventions/${conv}`)).status, 404);

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
  for (const page of [cit, fac, org]) await page.context().close();
  await context.close();
});
