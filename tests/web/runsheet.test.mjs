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
  await fac.click('#runsheet li.sequence:has-text("Pause") [data-testid=confirm-yes]');
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

// The form prepares a real day: a sequence for tomorrow lands at tomorrow's date; editing a
// breakouts sequence (named rooms, a manual grouping, odd durations) only changes what was
// changed; a manual grouping prepared in the form sends each citizen to the chosen room.
test('the form prepares tomorrow, keeps what an edit leaves alone, and groups by hand', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizens = [];
  for (let i = 0; i < 4; i += 1) citizens.push(await openAs(browser, server, server.role('citizen', i)));
  const ids = [0, 1, 2, 3].map((i) => server.role('citizen', i).participant);
  await tab(fac, 'console');
  await fac.waitForSelector(`${form} input[name=date]`);
  const seqOf = (title) => fac.evaluate((x) => {
    const s = window.__convene.snap.runsheet.sequences.find((q) => q.spec.title === x);
    return s ? JSON.parse(JSON.stringify(s)) : null;
  }, title);

  // 1. Tomorrow at 9 h 30, through the form's date and time fields, written the French way
  // (day/month/year, « 9 h 30 »).
  const tomorrow = await fac.evaluate(() => {
    const d = new Date();
    d.setDate(d.getDate() + 1);
    return `${String(d.getDate()).padStart(2, '0')}/${String(d.getMonth() + 1).padStart(2, '0')}/${d.getFullYear()}`;
  });
  await fac.fill(`${form} input[name=date]`, tomorrow);
  await fac.fill(`${form} input[name=start]`, '9h30');
  await addSequence(fac, { title: 'Demain : accueil', minutes: 30, kind: 'plenary' });
  const welcome = await seqOf('Demain : accueil');
  const expected = await fac.evaluate((dmy) => {
    const [d, m, y] = dmy.split('/').map(Number);
    return new Date(y, m - 1, d, 9, 30).getTime();
  }, tomorrow);
  assert.equal(welcome.spec.planned_start, expected, 'stored at tomorrow 9 h 30, local time');
  // The next sequence defaults to the end of that one: tomorrow, 10 h 00.
  assert.equal(await fac.inputValue(`${form} input[name=date]`), tomorrow);
  assert.equal(await fac.inputValue(`${form} input[name=start]`), '10 h 00');

  // 2. A breakouts sequence prepared by a command (named rooms, a manual grouping, durations
  // that are not whole minutes), then edited in the form: only its title changes.
  const prepared = {
    title: 'Ateliers nommés',
    planned_start: expected + 45 * 60000 + 12345,
    planned_ms: 25 * 60000 + 500,
    action: {
      kind: 'breakouts',
      rooms: { from: 'new', names: ['Salle Jaune', 'Salle Verte'] },
      grouping: { method: 'manual', groups: [[ids[0]], [ids[1], ids[2]]] },
      duration_ms: 1234567,
      warning_ms: 90000,
    },
  };
  await commandOk(fac, { type: 'add_sequence', spec: prepared });
  await waitState(fac, (c) => c.snap.runsheet.sequences.some((s) => s.spec.title === 'Ateliers nommés'));
  const before = await seqOf('Ateliers nommés');
  await fac.click('#runsheet li.sequence:has-text("Ateliers nommés") button:has-text("Modifier")');
  await fac.waitForSelector(`${form} h3:has-text("Modifier « Ateliers nommés »")`);
  // The form shows what is stored.
  assert.equal(await fac.inputValue(`${form} input[name=date]`), tomorrow);
  assert.equal(await fac.inputValue(`${form} select[name=rooms-from]`), 'names');
  assert.equal(await fac.inputValue(`${form} textarea[name=room-names]`), 'Salle Jaune\nSalle Verte');
  assert.equal(await fac.inputValue(`${form} select[name=method]`), 'manual');
  assert.equal(await fac.inputValue(`${form} select[name=pick-${ids[0]}]`), '0');
  assert.equal(await fac.inputValue(`${form} select[name=pick-${ids[2]}]`), '1');
  assert.equal(await fac.inputValue(`${form} select[name=pick-${ids[3]}]`), '');
  assert.equal(await fac.inputValue(`${form} input[name=warning]`), '2');
  await axe(fac, 'run sheet form editing a manual grouping');
  await fac.fill(`${form} input[name=title]`, 'Ateliers nommés (renommé)');
  await fac.click(`${form} button:has-text("Enregistrer")`);
  await waitState(fac, (c) => c.snap.runsheet.sequences.some((s) => s.spec.title === 'Ateliers nommés (renommé)'));
  const after = await seqOf('Ateliers nommés (renommé)');
  assert.equal(after.id, before.id);
  assert.deepEqual({ ...after.spec, title: before.spec.title }, before.spec, 'everything but the title is unchanged');
  assert.equal(after.spec.planned_start, prepared.planned_start);
  assert.deepEqual(after.spec.action.grouping, prepared.action.grouping);
  assert.equal(after.spec.action.duration_ms, 1234567);
  assert.equal(after.spec.action.warning_ms, 90000);

  // 3. A manual grouping prepared in the form, then started: each citizen in the chosen room.
  await fac.waitForSelector(`${form} h3:has-text("Ajouter une séquence")`);
  await addSequence(fac, {
    title: 'Ateliers à la main',
    minutes: 20,
    kind: 'breakouts',
    fill: async () => {
      await fac.selectOption(`${form} select[name=rooms-from]`, 'names');
      await fac.fill(`${form} textarea[name=room-names]`, 'Atelier Nord\nAtelier Sud');
      await fac.selectOption(`${form} select[name=method]`, 'manual');
      await fac.selectOption(`${form} select[name=pick-${ids[0]}]`, '1');
      await fac.selectOption(`${form} select[name=pick-${ids[1]}]`, '0');
      await fac.selectOption(`${form} select[name=pick-${ids[2]}]`, '1');
      await fac.fill(`${form} input[name=bo-minutes]`, '20');
      await fac.fill(`${form} input[name=warning]`, '3');
    },
  });
  const manual = await seqOf('Ateliers à la main');
  assert.deepEqual(manual.spec.action.rooms, { from: 'new', count: null, names: ['Atelier Nord', 'Atelier Sud'] });
  assert.deepEqual(manual.spec.action.grouping, { method: 'manual', groups: [[ids[1]], [ids[0], ids[2]]] });
  assert.equal(manual.spec.action.warning_ms, 3 * 60000);
  assert.equal(manual.spec.action.duration_ms, 20 * 60000);
  const startedTitle = 'Ateliers à la main';
  await fac.click(`#runsheet li.sequence:has-text("${startedTitle}") button:has-text("Démarrer")`);
  await fac.waitForSelector(`#runsheet li.sequence.running:has-text("${startedTitle}")`);
  const roomNamed = (page, name) => page.evaluate((n) => window.__convene.snap.rooms.find((r) => r.name === n).id, name);
  const nord = await roomNamed(fac, 'Atelier Nord');
  const sud = await roomNamed(fac, 'Atelier Sud');
  const want = [sud, nord, sud, 'plenary'];
  for (const [i, page] of citizens.entries()) {
    await waitState(page, (c, [id, room]) => c.snap.participants.find((p) => p.id === id).room === room, [ids[i], want[i]]);
  }
  await citizens[0].waitForSelector('[data-testid=where]:has-text("Atelier Sud")');
  await citizens[1].waitForSelector('[data-testid=where]:has-text("Atelier Nord")');

  // 4. Existing rooms, by their checkboxes: the sequence names them by id.
  await addSequence(fac, {
    title: 'Retour en ateliers',
    minutes: 15,
    kind: 'breakouts',
    fill: async () => {
      await fac.selectOption(`${form} select[name=rooms-from]`, 'existing');
      await fac.check(`${form} input[name=room][value=${sud}]`);
      await fac.check(`${form} input[name=room][value=${nord}]`);
      await fac.selectOption(`${form} select[name=method]`, 'random');
    },
  });
  const again = await seqOf('Retour en ateliers');
  const order = await fac.evaluate(([a, b]) => window.__convene.snap.rooms.map((r) => r.id).filter((r) => r === a || r === b), [nord, sud]);
  assert.deepEqual(again.spec.action.rooms, { from: 'existing', rooms: order }, 'in the order of the rooms');
  assert.deepEqual(again.spec.action.grouping, { method: 'random' });

  for (const page of [fac, ...citizens]) assert.deepEqual(page.errors, []);
});
