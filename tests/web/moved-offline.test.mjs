// A phone loses its network in a breakout room, and its owner writes a line for their small
// group; meanwhile the facilitator closes the breakouts. When the network comes back, the
// line the page kept must not be posted in the plenary (the server refuses it: the request
// names the room it was written in), and the page says so, in French, with the line back in
// the field to send again, or not.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, waitState, command, stallableProxy, tab, PHONE } from './harness.mjs';

let server;
let browser;
let proxy;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  proxy = await stallableProxy(server.port);
});
after(async () => {
  if (proxy) await proxy.close();
  if (browser) await browser.close();
  if (server) {
    await server.stop();
    server.cleanup();
  }
});

async function ok(page, cmd) {
  assert.deepEqual(await command(page, cmd), { ok: true }, JSON.stringify(cmd));
}

const SECRET = 'Rien que pour notre petit groupe : je ne le dirai pas en plénière.';

/** Every chat line of every room the page knows (the facilitator's page: all of them). */
async function allLines(page) {
  return page.evaluate(() => window.__convene.snap.rooms.flatMap((r) => (r.inside ? r.inside.chat.map((l) => `${r.id}: ${l.text}`) : [])));
}

test('a line written offline in a breakout room is not posted in the plenary', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const amina = server.role('citizen', 0);
  const a = await openAs(browser, server, amina, { viewport: PHONE, base: proxy.base });
  const plenary = await openAs(browser, server, server.role('citizen', 2));
  await ok(fac, { type: 'create_rooms', count: 1 });
  await waitState(fac, (c) => c.snap.rooms.length === 2);
  const small = await fac.evaluate(() => window.__convene.snap.rooms.find((r) => r.id !== 'plenary').id);
  await ok(fac, { type: 'assign_rooms', method: 'manual', assignments: [{ participant: amina.participant, room: small }] });
  await ok(fac, { type: 'open_breakouts', duration_ms: 600000 });
  await waitState(a, (c, room) => c.snap.participants.find((p) => p.id === c.you.id).room === room, small);

  // The network dies silently; Amina writes to her small group, and it waits.
  proxy.stall();
  await a.fill('.chat-form input', SECRET);
  await a.press('.chat-form input', 'Enter');
  await waitState(a, (c) => [...c.pending.values()].some((p) => p.command.type === 'send_chat'));
  const sent = await a.evaluate(() => [...window.__convene.pending.values()].find((p) => p.command.type === 'send_chat').command);
  assert.deepEqual(sent, { type: 'send_chat', text: SECRET, room: small }, 'the line names the room it was written in');

  // Meanwhile everyone is called back to the plenary; then the network comes back.
  await ok(fac, { type: 'close_breakouts' });
  proxy.heal();
  await waitState(a, (c) => c.status === 'open' && c.pending.size === 0 && c.snap.participants.find((p) => p.id === c.you.id).room === 'plenary', null, 60000);

  // Refused, said in French, and the line is back in the field (not lost, not posted).
  await a.waitForSelector('[data-testid=chat-returned]:has-text("Votre message n\'a pas été envoyé : vous avez changé de salle entre-temps.")');
  await a.waitForSelector('.toast.error:has-text("Votre message n\'a pas été envoyé : vous avez changé de salle entre-temps.")');
  assert.equal(await a.inputValue('.chat-form input'), SECRET);
  assert.equal(await a.locator('.chat-log :text("Rien que pour notre petit groupe")').count(), 0);

  // Nobody got it: a line posted after it reaches the plenary, and the secret is nowhere.
  await ok(fac, { type: 'send_chat', text: 'Bon retour en plénière.' });
  await plenary.waitForSelector('.chat-log :text("Bon retour en plénière.")');
  for (const page of [plenary, fac]) {
    const lines = await allLines(page);
    assert.ok(!lines.some((l) => l.includes(SECRET)), `the line reached no room: ${JSON.stringify(lines)}`);
  }
  const fresh = await openAs(browser, server, server.role('facilitator'));
  assert.ok(!(await allLines(fresh)).some((l) => l.includes(SECRET)), 'not in the server either');

  // Sent again from the plenary, on purpose, it is posted there.
  await a.press('.chat-form input', 'Enter');
  await plenary.waitForSelector('.chat-log :text("Rien que pour notre petit groupe")');
  await a.waitForSelector('[data-testid=chat-returned]', { state: 'detached' });
  assert.deepEqual(a.errors, []);
});

test('a hand raised offline in a breakout room is not raised in the plenary', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const bruno = server.role('citizen', 1);
  const b = await openAs(browser, server, bruno, { viewport: PHONE, base: proxy.base });
  await ok(fac, { type: 'assign_rooms', method: 'manual', assignments: [{ participant: bruno.participant, room: await fac.evaluate(() => window.__convene.snap.rooms.find((r) => r.id !== 'plenary').id) }] });
  await ok(fac, { type: 'open_breakouts', duration_ms: 600000 });
  await waitState(b, (c) => c.snap.participants.find((p) => p.id === c.you.id).room !== 'plenary');

  proxy.stall();
  await b.click('[data-testid=hand-button]');
  await waitState(b, (c) => [...c.pending.values()].some((p) => p.command.type === 'raise_hand' && p.command.room));
  await ok(fac, { type: 'close_breakouts' });
  proxy.heal();
  await waitState(b, (c) => c.status === 'open' && c.pending.size === 0 && c.snap.participants.find((p) => p.id === c.you.id).room === 'plenary', null, 60000);
  await b.waitForSelector('.toast.error:has-text("Votre main n\'a pas été levée : vous avez changé de salle entre-temps.")');
  const queue = await fac.evaluate(() => window.__convene.snap.rooms.find((r) => r.id === 'plenary').inside.queue.map((e) => e.participant));
  assert.ok(!queue.includes(bruno.participant), `no hand raised in the plenary: ${queue}`);
  assert.deepEqual(b.errors, []);
});

/** The requests of this type the page holds without a reply. */
const waitingOf = (page, type) => page.evaluate((ty) => [...window.__convene.pending.values()].filter((p) => p.command.type === ty).length, type);

test('tapped twice without network, a question or a call is sent once', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const expert = server.role('expert', 0);
  const chloe = server.role('citizen', 3);
  const c = await openAs(browser, server, chloe, { viewport: PHONE, base: proxy.base });
  await ok(fac, { type: 'create_hearing', title: 'Les mobilités de nuit', speaker: expert.participant, room: 'plenary', anonymous: false, moderated: false });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.at(-1).id);
  await ok(fac, { type: 'open_hearing', hearing });

  // The hearing's question: tapped twice while the network is dead.
  await tab(c, 'hearing');
  await c.fill('[data-testid=hearing-ask] textarea', 'Les bus de nuit passeront-ils à Rezé ?');
  proxy.stall();
  const ask = c.locator('[data-testid=hearing-ask] button[type=submit]');
  await ask.click();
  await ask.click({ force: true });
  await c.waitForSelector('[data-testid=hearing-ask] button[aria-disabled=true]:has-text("En attente…")');
  assert.equal(await c.getAttribute('[data-testid=hearing-ask] textarea', 'readonly'), '', 'the question is locked while it waits');
  assert.equal(await waitingOf(c, 'ask_hearing_question'), 1);

  // The call for a facilitator, the same.
  await tab(c, 'room');
  await c.click('button:has-text("Appeler un·e animateur·rice")');
  await c.fill('.call textarea', "Je n'entends plus rien.");
  const call = c.locator('[data-testid=call-send]');
  await call.click();
  await call.click({ force: true });
  await c.waitForSelector('[data-testid=call-send][aria-disabled=true]:has-text("En attente…")');
  assert.equal(await waitingOf(c, 'call_facilitator'), 1);

  proxy.heal();
  await waitState(c, (cl) => cl.status === 'open' && cl.pending.size === 0, null, 60000);
  await waitState(fac, (cl, id) => cl.snap.calls.some((x) => x.participant === id), chloe.participant);
  await c.waitForSelector('[data-testid=hearing-ask] button[aria-disabled=true]', { state: 'detached' }).catch(() => {});
  const fresh = await openAs(browser, server, server.role('facilitator'));
  const snap = await fresh.evaluate(() => window.__convene.snap);
  const asked = snap.hearings.find((h) => h.id === hearing).questions.filter((q) => q.text === 'Les bus de nuit passeront-ils à Rezé ?');
  assert.equal(asked.length, 1, `the question arrived once: ${JSON.stringify(asked)}`);
  assert.equal(snap.calls.filter((x) => x.participant === chloe.participant).length, 1, 'one call');
  assert.deepEqual(c.errors, []);
});
