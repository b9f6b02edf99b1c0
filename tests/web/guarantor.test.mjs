// A guarantor observes silently: switches to any room (command `visit`) without being counted
// among its members, sees the live audit trail and checks its hash chain, and cannot act:
// the page offers no action, and a hand-made command is refused by the server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, axe, command, PHONE, assertMatchesServer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

test('a guarantor switches rooms and cannot act', { timeout: 120000 }, async () => {
  const guarantor = server.role('guarantor');
  const fac = await openAs(browser, server, server.role('facilitator'));
  const cit = server.role('citizen', 0);
  const c = await openAs(browser, server, cit, { viewport: PHONE });
  const g = await openAs(browser, server, guarantor);

  // Two rooms, the citizen in Salle 2 (by hand), rooms open.
  for (const cmd of [
    { type: 'create_rooms', count: 2 },
    { type: 'assign_rooms', method: 'manual', assignments: [{ participant: cit.participant, room: 'r2' }] },
    { type: 'open_breakouts', duration_ms: 600000 },
  ]) assert.deepEqual(await command(fac, cmd), { ok: true });
  await c.waitForSelector('[data-testid=where]:has-text("Salle 2")');
  await c.fill('.chat-form input', 'Message dans la salle 2');
  await c.press('.chat-form input', 'Enter');

  // The guarantor's main view: observation. No hand, no chat box, no call.
  assert.equal(await g.getAttribute('main', 'data-view'), 'observe');
  await g.waitForSelector('#observe .room-switch');
  assert.equal(await g.locator('button:has-text("Lever la main")').count(), 0);
  assert.equal(await g.locator('.chat-form').count(), 0);
  assert.equal(await g.locator('button:has-text("Appeler")').count(), 0);

  // Switch to Salle 2: observed, not a member.
  await g.click('#observe .room-switch button:has-text("Salle 2")');
  await g.waitForSelector('[data-testid=where]:has-text("Observe : Salle 2")');
  await g.waitForSelector('#observed .chat-log :text("Message dans la salle 2")');
  const people = await g.textContent('#observed .people');
  assert.ok(people.includes(cit.name));
  assert.ok(!people.includes(guarantor.name), 'a guarantor is not listed among the members');
  // The citizen sees an observer, not a new member.
  await c.waitForSelector('.people :text("1 garant·e observe cette salle")');
  assert.ok(!(await c.textContent('#people')).includes(guarantor.name));
  await waitState(c, (cl) => cl.snap.rooms.find((r) => r.id === 'r2').observers === 1);
  // And back to Salle 1, then the plenary.
  await g.click('#observe .room-switch button:has-text("Salle 1")');
  await g.waitForSelector('[data-testid=where]:has-text("Observe : Salle 1")');
  await waitState(c, (cl) => cl.snap.rooms.find((r) => r.id === 'r2').observers === 0);

  // The live audit trail: the facilitator's actions, as they happen, and a chain that verifies.
  await g.waitForSelector('#audit .audit-list li:has-text("Sous-groupes ouverts")');
  await fac.evaluate(() => window.__convene.request({ type: 'broadcast', text: 'Annonce pour le journal' }));
  await g.waitForSelector('#audit .audit-list li:has-text("Annonce : Annonce pour le journal")');
  await g.click('#audit button:has-text("Vérifier la chaîne")');
  await g.waitForSelector('#audit :text("Chaîne intègre")');
  await axe(g, 'guarantor observation');

  // Cannot act, even by hand: every command but visit is refused.
  for (const cmd of [
    { type: 'send_chat', text: 'Je ne devrais pas pouvoir écrire' },
    { type: 'raise_hand' },
    { type: 'close_breakouts' },
    { type: 'vote', poll: 'q1', ballot: { kind: 'position', stance: 'for' } },
  ]) {
    const r = await command(g, cmd);
    assert.equal(r.ok, false, `${cmd.type} must be refused`);
    assert.ok(['forbidden', 'not_found'].includes(r.code), `${cmd.type}: ${r.code}`);
  }
  await g.waitForSelector('.toast[data-code=forbidden]:has-text("votre rôle ne permet pas cette action")');
  assert.equal(await c.locator('.chat-log :text("Je ne devrais pas pouvoir écrire")').count(), 0);

  // Polls: participation without a ballot form; exports are offered.
  assert.deepEqual(await command(fac, { type: 'draft_poll', spec: { question: 'Faut-il une pause ?', kind: 'single', options: ['Oui', 'Non'] } }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'open_poll', poll: 'q1' }), { ok: true });
  await g.waitForSelector('#participation :text("Faut-il une pause ?")');
  await g.waitForSelector('#participation .participation:has-text("0 vote sur")');
  await tab(g, 'polls');
  await g.waitForSelector('article.poll:has-text("Faut-il une pause ?")');
  assert.equal(await g.locator('form.ballot').count(), 0);
  await axe(g, 'guarantor polls');
  await tab(g, 'observe');
  // (Exports are fetched with the token in a header: exports.test.mjs downloads them.)
  const get = (path) => g.evaluate(async (u) => (await fetch(u, { headers: { authorization: `Bearer ${window.__convene.token}` } })).text(), path);
  const audit = await get(await g.getAttribute('#exports button:has-text("Journal d\'audit")', 'data-export'));
  assert.ok(audit.split('\n').filter(Boolean).length > 5);
  const csv = await get(await g.getAttribute('#exports button:has-text("(CSV)")', 'data-export'));
  assert.match(csv, /Faut-il une pause/);
  // The opinion is read-only for guarantors.
  await tab(g, 'opinion');
  await g.waitForSelector('.editor-status :text("Lecture seule")');
  assert.equal(await g.locator('.toolbar').count(), 0);
  assert.deepEqual(g.errors, []);
  for (const page of [fac, c, g]) await assertMatchesServer(page);
});
