// The run sheet ("déroulé") in the browser: a facilitator prepares a day of five sequences in
// the console (a welcome in plenary, breakout rooms, a restitution, votes, a break) and runs it
// by starting them; citizens' pages follow (moved into the rooms and back, the vote opened)
// and show "Maintenant" / "Ensuite" compactly, also on a 360 px phone; staff see the drift.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, commandOk, server, browser, useServerAndBrowser, PHONE } from './harness.mjs';

useServerAndBrowser();

const form = '#runsheet [data-testid=sequence-form]';

async function addSequence(fac, { title, minutes, kind, fill }) {
  await fac.fill(`${form} input[name=title]`, title);
  await fac.fill(`${form} input[name=minutes]`, String(minutes));
  await fac.selectOption(`${form} select[name=kind]`, kind);
  if (fill) await fill();
  const before = await fac.locator('#runsheet li.sequence').count();
  await fac.click(`${form} button:has-text("Ajouter au déroulé")`);
  await fac.waitForFunction((n) => document.querySelectorAll('#runsheet li.sequence').length === n + 1, before);
}

async function start(fac, title) {
  await fac.click(`#runsheet li.sequence:has-text("${title}") button:has-text("Démarrer")`);
  await fac.waitForSelector(`#runsheet li.sequence.running:has-text("${title}")`);
}

test('a day prepared in the console and run by starting its sequences', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizens = [];
  for (let i = 0; i < 3; i += 1) citizens.push(await openAs(browser, server, server.role('citizen', i)));
  const phone = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  citizens.push(phone);
  const ids = [0, 1, 2, 3].map((i) => server.role('citizen', i).participant);
  const guarantor = await openAs(browser, server, server.role('guarantor'));

  // A prepared poll draft for the votes.
  const question = 'Déroulé : faut-il des bus de nuit le week-end ?';
  await commandOk(fac, { type: 'draft_poll', spec: { question, kind: 'position' } });
  await waitState(fac, (c, q) => c.snap.polls.some((p) => p.spec.question === q && p.status === 'draft'), question);
  const poll = await fac.evaluate((q) => window.__convene.snap.polls.find((p) => p.spec.question === q).id, question);

  // Preparation, through the form.
  await tab(fac, 'console');
  await fac.waitForSelector('#runsheet :text("Aucune séquence")');
  await addSequence(fac, { title: 'Accueil en plénière', minutes: 10, kind: 'plenary' });
  await addSequence(fac, {
    title: 'Travail en sous-groupes',
    minutes: 30,
    kind: 'breakouts',
    fill: async () => {
      await fac.fill(`${form} input[name=rooms]`, '2');
      await fac.selectOption(`${form} select[name=method]`, 'random');
      await fac.fill(`${form} input[name=bo-minutes]`, '30');
    },
  });
  await addSequence(fac, { title: 'Restitution', minutes: 20, kind: 'plenary' });
  await addSequence(fac, {
    title: 'Votes',
    minutes: 10,
    kind: 'polls',
    fill: () => fac.check(`${form} input[name=poll][value=${poll}]`),
  });
  await addSequence(fac, { title: 'Pause', minutes: 15, kind: 'break' });
  // Reordered: the break goes before the votes, with the arrow.
  await fac.click('#runsheet li.sequence:has-text("Pause") button[aria-label*="Monter"]');
  await fac.waitForFunction(() => [...document.querySelectorAll('#runsheet li.sequence strong')].map((e) => e.textContent).join('|') === 'Accueil en plénière|Travail en sous-groupes|Restitution|Pause|Votes');
  await axe(fac, 'console with a run sheet');

  // Citizens see what comes next, compactly.
  for (const page of citizens) await page.waitForSelector('[data-testid=next]:has-text("Accueil en plénière")');
  assert.match(await phone.textContent('[data-testid=now-next]'), /Ensuite/);

  // 1. The welcome.
  await start(fac, 'Accueil en plénière');
  for (const page of citizens) {
    await page.waitForSelector('[data-testid=now]:has-text("Accueil en plénière")');
    await page.waitForSelector('[data-testid=next]:has-text("Travail en sous-groupes")');
    assert.equal(await page.locator('[data-testid=drift]').count(), 0, 'citizens see no drift');
  }
  await fac.waitForSelector('[data-testid=console-drift]');
  assert.match(await fac.textContent('[data-testid=console-drift]'), /avance de|retard de|à l'heure/);
  await guarantor.waitForSelector('[data-testid=drift]');

  // 2. The breakout rooms: one click makes the rooms, spreads the people and opens them.
  await start(fac, 'Travail en sous-groupes');
  for (const [i, page] of citizens.entries()) {
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room !== 'plenary', ids[i]);
    await page.waitForSelector('[data-testid=where]:has-text("Salle")');
    await page.waitForSelector('[data-testid=now]:has-text("Travail en sous-groupes")');
  }
  // The phone keeps the compact line within its width.
  assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll at 360 px');
  await axe(phone, 'a citizen in a breakout room with now/next, 360 px');
  // Extended by 5 minutes: the rooms too.
  const endsBefore = await fac.evaluate(() => window.__convene.snap.breakouts.ends_at);
  await fac.click('#runsheet [data-testid=runsheet-now] button:has-text("Prolonger")');
  await waitState(fac, (c, e) => c.snap.breakouts && c.snap.breakouts.ends_at === e + 5 * 60000, endsBefore);

  // 3. The restitution: everyone back in the plenary.
  await start(fac, 'Restitution');
  for (const [i, page] of citizens.entries()) {
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room === 'plenary', ids[i]);
  }
  await fac.waitForSelector('#runsheet li.sequence.done:has-text("Travail en sous-groupes")');

  // 4. The break is skipped, 5. the votes open the prepared poll.
  await fac.click('#runsheet li.sequence:has-text("Pause") button:has-text("Passer")');
  await fac.waitForSelector('#runsheet li.sequence.skipped:has-text("Pause")');
  await start(fac, 'Votes');
  for (const page of citizens) {
    await waitState(page, (c, id) => c.snap.polls.some((p) => p.id === id && p.status === 'open'), poll);
  }
  await fac.click('#runsheet [data-testid=runsheet-now] button:has-text("Terminer")');
  await fac.waitForSelector('#runsheet li.sequence.done:has-text("Votes")');
  await citizens[0].waitForFunction(() => !document.querySelector('[data-testid=now-next]'));

  for (const page of [fac, guarantor, ...citizens]) assert.deepEqual(page.errors, []);
});
