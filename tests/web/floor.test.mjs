// A citizen raises a hand and sees their place in the queue; the facilitator sets a speaking
// limit and gives the floor; the citizen sees that they have the floor and the countdown,
// yields it, and the floor-time equity view counts their time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, screenshot, download, asOrganizer, PHONE, assertMatchesServer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

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

  // The facilitator's console: the queue; two minutes for this turn (the room has no
  // limit), then "Donner la parole".
  await tab(fac, 'console');
  await fac.waitForSelector(`#speaking .queue-list li:has-text("${first.name}")`);
  const speaking = fac.locator('#speaking');
  assert.equal(await speaking.getByLabel('Temps de parole du prochain tour').inputValue(), 'room');
  assert.match(await speaking.getByLabel('Temps de parole du prochain tour').locator('option:checked').textContent(), /celui de la salle \(sans limite\)/);
  await speaking.getByLabel('Temps de parole du prochain tour').selectOption('120000');
  await fac.click(`#speaking .queue-list li:has-text("${first.name}") button:has-text("Donner la parole")`);

  await a.waitForSelector('.floor.mine:has-text("Vous avez la parole")');
  const left = await a.textContent('.floor.mine .countdown strong');
  assert.match(left, /^[12]:\d\d$/, `a speaking countdown under two minutes: ${left}`);
  const turn = (c) => { const f = c.snap.rooms[0].inside.floor; return f && f.ends_at ? f.ends_at - f.since : null; };
  await waitState(fac, (c) => { const f = c.snap.rooms[0].inside.floor; return f && f.ends_at - f.since === 120000 && c.snap.rooms[0].inside.limit_ms === null; });
  // The turn under way: five minutes in all, then one more.
  await speaking.getByLabel('Durée de ce tour').selectOption('300000');
  await waitState(a, (c) => { const f = c.snap.rooms[0].inside.floor; return f && f.ends_at - f.since === 300000; });
  await a.waitForFunction(() => /^[45]:\d\d$/.test(document.querySelector('.floor.mine .countdown strong').textContent));
  await speaking.locator('button:has-text("Une minute de plus")').click();
  await waitState(a, (c) => { const f = c.snap.rooms[0].inside.floor; return f && f.ends_at - f.since === 360000; });
  assert.equal(await fac.evaluate(new Function('c', `return (${turn})(window.__convene);`)), 360000);
  // The guarantor's audit trail has it.
  const audited = await fac.evaluate(async () => {
    const c = window.__convene;
    const r = await fetch(`/api/conventions/${c.snap.convention.id}/audit`, { headers: { authorization: `Bearer ${c.token}` } });
    return (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l).event.type);
  });
  assert.ok(audited.includes('floor_limit_set'), `audited: ${audited.slice(-5)}`);
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
  assert.match(row, /\d+\ss/);
  assert.match(await fac.textContent('#equity'), /1 personne sur \d+ a eu la parole/);
  // By commune: each group's share of the speaking time against its share of the citizens,
  // as numbers and as a bar with a mark; the only commune heard has all the time.
  const { commune, same, citizens } = await fac.evaluate((id) => {
    const ps = window.__convene.snap.participants.filter((p) => p.roles.includes('citizen'));
    const c = (ps.find((p) => p.id === id).attributes || {}).commune;
    return { commune: c, same: ps.filter((p) => (p.attributes || {}).commune === c).length, citizens: ps.length };
  }, first.participant);
  assert.ok(commune && same < citizens, `${first.name} lives in ${commune}`);
  await fac.locator('#equity select').selectOption('commune');
  const group = fac.locator(`#equity li[data-group="${commune}"]`);
  await group.waitFor();
  assert.equal(await group.getAttribute('data-time-share'), '1.0000');
  assert.equal(Number(await group.getAttribute('data-people-share')).toFixed(3), (same / citizens).toFixed(3));
  const pct = (x) => new Intl.NumberFormat('fr-FR', { style: 'percent', maximumFractionDigits: 0 }).format(x);
  // (Spaces compared as spaces: French puts a narrow no-break one before « % ».)
  const plain = (x) => x.replace(/[\s\u202f\u00a0]+/g, ' ');
  assert.equal(plain(await group.locator('.share-text').textContent()), plain(`100 % du temps, pour ${pct(same / citizens)} des citoyens`));
  assert.equal(await group.locator('.bar-fill').evaluate((e) => e.style.width), '100%');
  const others = fac.locator(`#equity li[data-group]:not([data-group="${commune}"])`);
  assert.ok(await others.count() >= 1);
  for (const row of await others.all()) {
    assert.equal(await row.getAttribute('data-time-share'), '0.0000');
    assert.equal(await row.locator('.bar-fill.under').count(), 1, 'a group not heard is marked');
    assert.match(await row.locator('.share-text').textContent(), /^0\s%\sdu temps, pour \d+\s%\sdes citoyens$/);
  }
  const shares = await fac.locator('#equity li[data-group]').evaluateAll((rows) => rows.reduce((s, r) => s + Number(r.dataset.peopleShare), 0));
  assert.ok(Math.abs(shares - 1) < 0.001, `the people shares sum to ${shares}`);
  assert.match(await fac.textContent('#equity .equity-legend'), /trait : sa part parmi les citoyens/);
  await axe(fac, 'console, floor time by commune');
  await screenshot(fac, 'equity-by-commune', { element: fac.locator('#equity') });
  // The floor-time export, from the view: what the organizer's API answers, with the same
  // shares per commune.
  const cid = await fac.evaluate(() => window.__convene.snap.convention.id);
  const csv = await download(fac, '#equity button[data-export$="/floor-time?format=csv"]');
  assert.equal(csv.name, `floor-time-${cid}.csv`);
  assert.equal(csv.text, await (await asOrganizer(`/api/conventions/${cid}/floor-time?format=csv`)).text());
  assert.ok(csv.text.split('\n').some((l) => l.startsWith(`commune,${commune},${same},1,`)), csv.text);
  await fac.locator('#equity select').selectOption('');

  // The room's own limit, in its settings: the next turn takes it ("celui de la salle").
  await speaking.locator('summary:has-text("Réglages de la salle")').click();
  await speaking.getByLabel('Temps de parole de la salle').selectOption('180000');
  await waitState(fac, (c) => c.snap.rooms[0].inside.limit_ms === 180000);
  await speaking.getByLabel('Temps de parole du prochain tour').selectOption('room');
  assert.match(await speaking.getByLabel('Temps de parole du prochain tour').locator('option:checked').textContent(), /celui de la salle \(3\smin\)/);
  // "Donner la parole au suivant" takes the next raised hand; "Terminer ce tour de parole"
  // ends it.
  await fac.click('#speaking button:has-text("Donner la parole au suivant")');
  await b.waitForSelector('.floor.mine');
  await waitState(b, (c) => { const f = c.snap.rooms[0].inside.floor; return f && f.ends_at - f.since === 180000; });
  await fac.click('#speaking button:has-text("Terminer ce tour de parole")');
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
