// An expert rotation from the facilitator's page: set-up, the schedule, start, pause, resume,
// extend, skip, an expert marked absent, stop. Citizens see their path and where they go
// next, and their page follows them from room to room; the expert sees their room.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, PHONE, assertMatchesServer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

const roomOf = (page) => page.evaluate(() => {
  const c = window.__convene;
  return c.snap.participants.find((p) => p.id === c.you.id).room;
});

test('a rotation is set up, run and stopped from the page', { timeout: 150000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const cit = await openAs(browser, server, server.role('citizen', 0), { viewport: PHONE });
  const expertInvite = server.role('expert', 0);
  const expert = await openAs(browser, server, expertInvite);

  await tab(fac, 'rotation');
  // Every expert is ticked by default; two groups, everyone (not only those online).
  await fac.locator('#rot-plan').getByLabel('Nombre de groupes').fill('2');
  await fac.uncheck('#rot-plan label:has-text("Seulement les personnes connectées") input');
  await fac.click('#rot-plan button:has-text("Planifier la rotation")');
  await fac.waitForSelector('#rot-schedule table.schedule');
  await fac.waitForSelector('#rot-status :text("Rotation prévue, pas encore commencée.")');
  await axe(fac, 'rotation planned');

  // The citizen sees the plan before it starts: their group and their path.
  await cit.waitForSelector('nav [data-tab=rotation]');
  await tab(cit, 'rotation');
  await cit.waitForSelector('#rot-path :text("Votre groupe")');
  await cit.waitForSelector('#rot-path .next-step:has-text("Prochaine étape : tour 1")');

  await fac.click('#rot-status button:has-text("Démarrer")');
  await fac.waitForSelector('#rot-status :text("Tour 1 en cours.")');
  await cit.waitForSelector('[data-testid=status-bar] :text("Tour 1, fin dans")');
  // The round moved the citizen: the notice says where, and why.
  await cit.waitForSelector('[data-testid=moved]:has-text("Vous êtes maintenant dans :"):has-text("Rotation : tour 1.")');
  const first = await roomOf(cit);
  // The rooms the rotation named « Expert·e : … » say « Expert: … » in English.
  const english = await openAs(browser, server, server.role('citizen', 0), { lang: 'en', query: 'video=off&lang=en' });
  await english.waitForSelector('[data-testid=where]:has-text("Expert: ")');
  assert.doesNotMatch(await english.textContent('[data-testid=where]'), /Expert·e/);
  await english.context().close();
  await cit.waitForSelector('#rot-path li.current');
  // The expert is in their room, and sees it in their room view.
  await waitState(expert, (c) => c.snap.participants.find((p) => p.id === c.you.id).room !== 'plenary');
  await expert.waitForSelector(`[data-testid=where]:has-text("${expertInvite.name}")`);

  // Pause, resume, extend.
  await fac.click('#rot-status button:has-text("Pause")');
  await cit.waitForSelector('#rot-status :text("Rotation en pause")');
  await fac.click('#rot-status button:has-text("Reprendre")');
  await cit.waitForSelector('#rot-status :text("Tour 1 en cours.")');
  const endsAt = await fac.evaluate(() => window.__convene.snap.rotation.phase.ends_at);
  await fac.click('#rot-status button:has-text("Prolonger")');
  await waitState(fac, (c, t0) => c.snap.rotation.phase.ends_at > t0, endsAt);

  // Skip to the next round (a transition first, then the round): the citizen moves.
  await fac.click('#rot-status button:has-text("Passer au tour suivant")');
  await fac.waitForSelector('#rot-status :text("le tour 2 va commencer")');
  await fac.click('#rot-status button:has-text("Passer au tour suivant")');
  await fac.waitForSelector('#rot-status :text("Tour 2 en cours.")');
  await waitState(cit, (c, r) => c.snap.participants.find((p) => p.id === c.you.id).room !== r, first);
  await cit.waitForSelector('#rot-status :text("Tour 2 en cours.")');
  await cit.waitForSelector('[data-testid=moved]:has-text("Rotation : tour 2.")');

  // An expert drops out: marked absent, the rest re-planned.
  const absent = server.role('expert', 1);
  await fac.click(`#rot-status li:has-text("${absent.name}") button:has-text("Marquer absent")`);
  await fac.click(`#rot-status li:has-text("${absent.name}") [data-testid=confirm-yes]`);
  await fac.waitForSelector(`#rot-status li:has-text("${absent.name}") .badge:has-text("absent")`);
  await waitState(cit, (c, id) => c.snap.rotation.absent.includes(id), absent.participant);

  // Stop: everyone is back in the plenary.
  const beforeStop = await roomOf(cit);
  await fac.click('#rot-status button:has-text("Arrêter la rotation")');
  await fac.click('#rot-status [data-testid=confirm-yes]');
  await fac.waitForSelector('#rot-status :text("Rotation arrêtée.")');
  await waitState(cit, (c) => c.snap.participants.find((p) => p.id === c.you.id).room === 'plenary');
  // (With an expert gone, the citizen's group may rest in the plenary already.)
  if (beforeStop !== 'plenary') await cit.waitForSelector('[data-testid=moved]:has-text("Vous êtes maintenant dans : Plénière."):has-text("La rotation est terminée.")');
  await waitState(expert, (c) => c.snap.participants.find((p) => p.id === c.you.id).room === 'plenary');
  // The expert leaves their room: told why.
  await expert.waitForSelector('[data-testid=moved]:has-text("Vous êtes maintenant dans : Plénière."):has-text("La rotation est terminée.")');
  await axe(cit, 'rotation over (phone)');
  for (const page of [fac, cit, expert]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => `${e.command}: ${e.code}`)), []);
    assert.deepEqual(page.errors, []);
  }
  for (const page of [fac, cit, expert]) await assertMatchesServer(page);
});
