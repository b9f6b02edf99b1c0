// A facilitator opens balanced breakout rooms from the console; citizens land in them (their
// page follows them), chat with the people of their room only, are moved by hand
// (click-to-move), get a broadcast, and come back to the plenary when the rooms close.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, command, assertMatchesServer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

test('balanced breakout rooms: citizens land in them and chat', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizens = [];
  for (let i = 0; i < 4; i += 1) {
    citizens.push(await openAs(browser, server, server.role('citizen', i)));
  }
  const ids = [0, 1, 2, 3].map((i) => server.role('citizen', i).participant);
  const viewer = citizens[0];

  // The console: create two rooms, spread the people online by commune, open for 20 minutes.
  await tab(fac, 'console');
  // Bad numbers are said in the page, next to the field, and the focus goes there (no
  // browser bubble); nothing is sent.
  const count = fac.locator('#rooms').getByLabel('Nombre de salles');
  await count.fill('0');
  await fac.click('#rooms button:has-text("Créer")');
  await fac.locator('#rooms .field-error:has-text("Un nombre entier de salles, de 1 à 200.")').waitFor();
  assert.equal(await count.getAttribute('aria-invalid'), 'true');
  assert.equal(await fac.evaluate(() => document.activeElement.id), await count.getAttribute('id'));
  assert.equal(await fac.evaluate(() => window.__convene.snap.rooms.length), 1);
  await count.fill('2');
  assert.equal(await fac.locator('#rooms .field-error').count(), 0, 'typing clears the error');
  await fac.click('#rooms button:has-text("Créer")');
  await fac.waitForSelector('#rooms .board-col[data-room=r1]');
  await fac.check('#rooms label:has-text("Équilibré") input');
  await fac.selectOption('#rooms select', 'commune');
  await fac.click('#rooms button:has-text("Répartir")');
  // Four citizens online, two rooms: two in each, by the plan shown on the board.
  await fac.waitForFunction(() => document.querySelectorAll('.board-col[data-room=r1] .chip').length === 2 && document.querySelectorAll('.board-col[data-room=r2] .chip').length === 2);
  const warn = fac.locator('#rooms').getByLabel('Prévenir avant la fin (minutes)');
  await warn.fill('45');
  await fac.click('#rooms button:has-text("Ouvrir les salles")');
  await fac.locator('#rooms .field-error:has-text("L\'avertissement doit venir avant la fin")').waitFor();
  await axe(fac, 'console: a field to correct');
  assert.equal(await fac.evaluate(() => window.__convene.snap.breakouts), null);
  await warn.fill('2');
  await fac.click('#rooms button:has-text("Ouvrir les salles")');
  await fac.waitForSelector('#rooms :text("Sous-groupes ouverts")');

  // Each citizen's page follows them into their room, with the countdown.
  const roomOf = {};
  for (const [i, page] of citizens.entries()) {
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room !== 'plenary', ids[i]);
    const where = await page.textContent('[data-testid=where]');
    assert.match(where, /Salle [12]/);
    roomOf[ids[i]] = where.includes('Salle 1') ? 'r1' : 'r2';
    assert.ok(await page.isVisible('[data-testid=status-bar] .countdown'), 'the breakout countdown is shown');
  }
  // The rooms the server named « Salle N » are « Room N » in English.
  const english = await openAs(browser, server, server.role('citizen', 0), { lang: 'en', query: 'video=off&lang=en' });
  const whereEn = await english.textContent('[data-testid=where]');
  assert.match(whereEn, /Room [12]/);
  assert.doesNotMatch(whereEn, /Salle/);
  await english.context().close();
  // (The video meeting that follows a move is tested in video.test.mjs.)
  await tab(viewer, 'polls');
  await axe(viewer, 'polls tab in a breakout room');
  await tab(viewer, 'room');
  const inR1 = ids.filter((id) => roomOf[id] === 'r1');
  const inR2 = ids.filter((id) => roomOf[id] === 'r2');
  assert.equal(inR1.length, 2);
  assert.equal(inR2.length, 2);
  const pageOf = (id) => citizens[ids.indexOf(id)];

  // Two citizens of Salle 1 chat; Salle 2 does not see it.
  const [a, b] = inR1.map(pageOf);
  await a.fill('.chat-form input', 'Bonjour, on commence par les transports ?');
  // The button, from the keyboard: on a laptop the video dock (fixed, bottom right) may lie
  // over it until the page is scrolled.
  await a.focus('.chat-form button[type=submit]');
  await a.keyboard.press('Enter');
  await b.waitForSelector('.chat-log :text("Bonjour, on commence par les transports ?")');
  await b.fill('.chat-form input', 'Oui, et le logement ensuite.');
  await b.press('.chat-form input', 'Enter');
  await a.waitForSelector('.chat-log :text("Oui, et le logement ensuite.")');
  const other = pageOf(inR2[0]);
  await other.waitForTimeout(300);
  assert.equal(await other.locator('.chat-log :text("Bonjour, on commence")').count(), 0, 'Salle 2 does not see Salle 1');
  // People of the room are listed.
  const names = await a.textContent('#people');
  assert.ok(names.includes(server.who(inR1[1]).name));
  assert.ok(!names.includes(server.who(inR2[0]).name));

  // The facilitator sees every room live, and moves someone by clicking then "Déplacer ici".
  const mover = server.who(inR2[0]);
  await fac.click(`.board-col[data-room=r2] .chip[data-pid=${mover.participant}]`);
  await fac.click('.board-col[data-room=r1] button:has-text("Déplacer ici")');
  await waitState(pageOf(mover.participant), (c, id) => c.snap.participants.find((p) => p.id === id).room === 'r1', mover.participant);
  await pageOf(mover.participant).waitForSelector('[data-testid=where]:has-text("Salle 1")');
  await fac.waitForFunction((id) => !!document.querySelector(`.board-col[data-room=r1] .chip[data-pid=${id}]`), mover.participant);

  // Drag and drop moves too.
  const dragged = server.who(inR2[1]);
  await fac.dragAndDrop(`.board-col[data-room=r2] .chip[data-pid=${dragged.participant}]`, '.board-col[data-room=r1]');
  await waitState(pageOf(dragged.participant), (c, id) => c.snap.participants.find((p) => p.id === id).room === 'r1', dragged.participant);

  // A broadcast reaches every room.
  await fac.fill('#rooms .broadcast input', 'Il reste cinq minutes.');
  await fac.click('#rooms .broadcast button');
  for (const page of citizens) await page.waitForSelector('.broadcast-msg:has-text("Il reste cinq minutes.")');
  // Someone who opens the page just after (a late arrival, a tab closed by mistake) still
  // sees it: the snapshot recalls the latest announcements.
  const late = await openAs(browser, server, server.role('citizen', 4));
  await late.waitForSelector('.broadcast-msg:has-text("Il reste cinq minutes.")');
  assert.equal(await late.locator('.broadcast-msg').count(), 1);
  await late.context().close();

  // Extend, then close: everyone is back in the plenary.
  // Minutes as typed in France, checked in the page: « cinq » is refused beside the field
  // (nothing sent), « 1,5 » extends by a minute and a half.
  const before = await fac.evaluate(() => window.__convene.snap.breakouts.ends_at);
  const extendBy = fac.locator('#rooms').getByLabel('Prolonger de');
  await extendBy.fill('cinq');
  await fac.click('#rooms button:has-text("Prolonger")');
  await fac.locator('#rooms .field-error:has-text("Un nombre de minutes, plus que 0 et au plus 720.")').waitFor();
  assert.equal(await extendBy.getAttribute('aria-invalid'), 'true');
  await extendBy.fill('1,5');
  assert.equal(await fac.locator('#rooms .field-error').count(), 0);
  await fac.click('#rooms button:has-text("Prolonger")');
  await waitState(fac, (c, t0) => c.snap.breakouts && c.snap.breakouts.ends_at === t0 + 90000, before);
  await axe(fac, 'console with rooms open');
  // Asked in the page, not in a popup: "Annuler" leaves the rooms open...
  await fac.click('#rooms button:has-text("Fermer les sous-groupes")');
  await fac.click('#rooms [data-testid=confirm-no]');
  await fac.waitForSelector('#rooms button:has-text("Fermer les sous-groupes")');
  assert.ok(await fac.evaluate(() => window.__convene.snap.breakouts !== null));
  // ... the question, then "Confirmer", closes them.
  await fac.click('#rooms button:has-text("Fermer les sous-groupes")');
  await fac.waitForSelector('#rooms [data-testid=confirm] [role=alert]');
  await axe(fac, 'a confirmation asked in the page');
  await fac.click('#rooms [data-testid=confirm-yes]');
  for (const [i, page] of citizens.entries()) {
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room === 'plenary' && !c.snap.breakouts, ids[i]);
    await page.waitForSelector('[data-testid=where]:has-text("Plénière")');
  }
  // Nothing the server refused along the way.
  for (const page of [fac, ...citizens]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
    assert.deepEqual(page.errors, []);
  }
  // A citizen cannot open rooms: the server refuses, the page says why, in French.
  const refused = await command(citizens[0], { type: 'open_breakouts', duration_ms: 60000 });
  assert.deepEqual(refused, { ok: false, code: 'forbidden' });
  await citizens[0].waitForSelector('.toast[data-code=forbidden]:has-text("votre rôle ne permet pas cette action")');
  for (const page of [fac, ...citizens]) await assertMatchesServer(page);
});

test("« Répartir » fills the facilitator's rooms, never the expert rotation's", { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  await tab(fac, 'console');
  // Only the rotation's rooms (two experts' and a break room): nothing to draw into, and the
  // console says so instead of sending a draw the server would refuse.
  assert.deepEqual(await command(fac, { type: 'clear_rooms' }), { ok: true });
  const experts = server.invites.filter((i) => i.roles.includes('expert')).slice(0, 2).map((i) => i.participant);
  assert.deepEqual(
    await command(fac, { type: 'plan_rotation', experts, method: 'random', only_present: false, round_ms: 600000, break_room: true }),
    { ok: true },
  );
  await waitState(fac, (c) => !!c.snap.rotation && c.snap.rooms.length === 4);
  const assign = fac.locator('#rooms button:has-text("Répartir")');
  await fac.waitForSelector('#rooms [data-testid=draw-rooms-hint]:has-text("Créez d\'abord des salles : le tirage ne remplit pas celles de la rotation d\'expert·es.")');
  assert.ok(await assign.isDisabled(), 'nothing to draw into');

  // Two rooms of the facilitator's: the draw fills them only.
  await fac.locator('#rooms').getByLabel('Nombre de salles').fill('2');
  await fac.click('#rooms button:has-text("Créer")');
  await waitState(fac, (c) => c.snap.rooms.length === 6);
  await fac.waitForSelector('#rooms [data-testid=draw-rooms-hint]:has-text("Le tirage ne remplit pas les salles de la rotation d\'expert·es.")');
  const { made, rotation } = await fac.evaluate(() => {
    const s = window.__convene.snap;
    const rotation = [...s.rotation.plan.rooms, s.rotation.plan.rest_room];
    return { rotation, made: s.rooms.map((r) => r.id).filter((id) => id !== 'plenary' && !rotation.includes(id)) };
  });
  assert.equal(made.length, 2);
  await fac.uncheck('#rooms label:has-text("Seulement les personnes connectées") input');
  await assign.click();
  await waitState(fac, (c) => c.snap.participants.some((p) => p.assigned));
  const assigned = await fac.evaluate(() => window.__convene.snap.participants.filter((p) => p.assigned).map((p) => p.assigned));
  // Those a draw places: citizens (rapporteurs among them), not facilitators.
  const citizens = server.invites.filter((i) => i.roles.includes('citizen') && !i.roles.includes('facilitator')).length;
  assert.equal(assigned.length, citizens, 'every citizen drawn');
  for (const room of assigned) assert.ok(made.includes(room), `drawn into ${room}, not one of ${made} (rotation: ${rotation})`);
  await axe(fac, 'console: a draw beside a planned rotation');
  assert.deepEqual(await fac.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
  assert.deepEqual(fac.errors, []);
});
