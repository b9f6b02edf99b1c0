// Never silently disconnected. A phone's network dies without a word (a proxy between the
// page and the real server stops passing anything, closes nothing, and the browser fires no
// offline event; then the server process itself is stopped with SIGSTOP): within 15 seconds
// the page says it is reconnecting; what the citizen does meanwhile shows "en attente"; when
// the network comes back the page recovers by itself, with everything it missed, no gap, no
// duplicate, and what waited goes out with its original request id, or is clearly refused.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openAs, waitState, axe, command, assertMatchesServer, stallableProxy, answerAsked, PHONE } from './harness.mjs';

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
    server.thaw();
    await server.stop();
    server.cleanup();
  }
});

async function ok(page, cmd) {
  assert.deepEqual(await command(page, cmd), { ok: true }, JSON.stringify(cmd));
}

/** Keep every event record the page receives (to read their `request` ids). */
async function recordEvents(page) {
  await page.evaluate(() => {
    const c = window.__convene;
    const handle = c.handle.bind(c);
    window.__events = [];
    c.handle = (m) => {
      if (m.type === 'event') window.__events.push(m);
      handle(m);
    };
  });
}

test('a silently dead network is detected, shown, and recovered from with nothing lost', { timeout: 180000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const amina = server.role('citizen', 0);
  const a = await openAs(browser, server, amina, { viewport: PHONE, base: proxy.base });
  const b = await openAs(browser, server, server.role('citizen', 1));
  await recordEvents(b);
  await ok(fac, { type: 'draft_poll', spec: { question: 'Une pause maintenant ?', kind: 'single', options: ['Oui', 'Non'] } });
  await ok(fac, { type: 'open_poll', poll: 'q1' });
  await ok(fac, { type: 'draft_poll', spec: { question: 'Le compte rendu vous convient-il ?', kind: 'position' } });
  await ok(fac, { type: 'open_poll', poll: 'q2' });
  // Both polls are asked for in dialogs: later (they vote from the polls tab, offline).
  for (const page of [a, b]) {
    await answerAsked(page, 'Plus tard', 'q1');
    await answerAsked(page, 'Plus tard', 'q2');
  }
  await a.fill('.chat-form input', 'Avant la coupure');
  await a.press('.chat-form input', 'Enter');
  await b.waitForSelector('.chat-log :text("Avant la coupure")');

  // The network dies silently.
  const t0 = Date.now();
  proxy.stall();
  await a.waitForSelector('[data-testid=reconnecting]:has-text("Connexion perdue.")', { timeout: 15000 });
  const detectedMs = Date.now() - t0;
  console.log(`# silent network shown as lost after ${detectedMs} ms`);
  await a.waitForSelector('[data-testid=connection][data-status=reconnecting]:has-text("Reconnexion…")');
  assert.equal(await a.evaluate(() => navigator.onLine), true, 'no offline event helped');

  // Life goes on without Amina.
  await b.fill('.chat-form input', 'Pendant la coupure, côté Bernard');
  await b.press('.chat-form input', 'Enter');
  await ok(fac, { type: 'broadcast', text: 'On reprend dans deux minutes.' });
  await ok(fac, { type: 'raise_hand' });

  // What Amina does meanwhile waits, and says so.
  await a.fill('.chat-form input', 'Hors ligne, mais pas perdu');
  await a.press('.chat-form input', 'Enter');
  await a.waitForSelector('.chat-line.pending:has-text("Hors ligne, mais pas perdu") .pending-tag:has-text("en attente")');
  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('.hand [data-testid=waiting]:has-text("en attente")');
  await a.click('nav [data-tab=polls]');
  const q1 = a.locator('article.poll[data-poll=q1]');
  await q1.locator('label:has-text("Oui") input').check();
  await q1.locator('button:has-text("Voter")').click();
  await q1.locator('[data-testid=waiting]:has-text("Votre vote")').waitFor();
  const q2 = a.locator('article.poll[data-poll=q2]');
  await q2.locator('label:has-text("Contre") input').check();
  await q2.locator('button:has-text("Voter")').click();
  await q2.locator('[data-testid=waiting]').waitFor();
  await a.waitForSelector('[data-testid=connection]:has-text("4 actions en attente")');
  await a.waitForSelector('[data-testid=pending-list]:has-text("4 actions en attente seront envoyées")');
  await axe(a, 'phone, offline with actions waiting');
  const waitingIds = await a.evaluate(() => Object.fromEntries([...window.__convene.pending.values()].map((p) => [p.command.type + (p.command.poll ? `:${p.command.poll}` : ''), p.id])));
  // While Amina is away, the second poll closes: her vote in it cannot count.
  await ok(fac, { type: 'close_poll', poll: 'q2' });

  // The network comes back: the page recovers by itself (no click, no reload).
  proxy.heal();
  await a.waitForSelector('[data-testid=reconnected]:has-text("Reconnecté·e")', { timeout: 45000 });
  await waitState(a, (c) => c.status === 'open' && c.pending.size === 0, null, 20000);
  await a.click('nav [data-tab=room]');
  // Everything missed, once; what waited, sent once, with its original request id.
  await a.waitForSelector('.chat-log .chat-line:not(.pending):has-text("Hors ligne, mais pas perdu")');
  await a.waitForSelector('.hand-place');
  await b.waitForSelector('.chat-log :text("Hors ligne, mais pas perdu")');
  const lines = await a.evaluate(() => window.__convene.snap.rooms[0].inside.chat.map((l) => l.text));
  for (const text of ['Avant la coupure', 'Pendant la coupure, côté Bernard', 'Hors ligne, mais pas perdu']) {
    assert.equal(lines.filter((l) => l === text).length, 1, `${text}: exactly once`);
  }
  assert.equal(await a.locator('.chat-line.pending').count(), 0);
  const sent = await b.evaluate(() => window.__events.map((e) => [e.event.type, e.request || null]));
  assert.ok(sent.some(([ty, id]) => ty === 'chat_posted' && id === waitingIds.send_chat), `the chat line kept its id ${waitingIds.send_chat}: ${JSON.stringify(sent)}`);
  assert.ok(sent.some(([ty, id]) => ty === 'hand_raised' && id === waitingIds.raise_hand), 'the raised hand kept its id');
  const q1Voted = await a.evaluate(() => window.__convene.snap.polls.find((p) => p.id === 'q1').you_voted);
  assert.equal(q1Voted, true, 'the vote that waited counts');
  // The vote in the poll closed meanwhile is refused, and the page says so.
  await a.waitForSelector('.toast[data-code=conflict]:has-text("Voter")');
  assert.equal(await a.evaluate(() => window.__convene.snap.polls.find((p) => p.id === 'q2').you_voted), false);
  // The announcement made meanwhile is shown (it is recent).
  await a.waitForSelector('.broadcast-msg:has-text("On reprend dans deux minutes.")');
  await assertMatchesServer(a, 'after a silent network');
  assert.deepEqual(a.errors, []);
});

test('a server that stops answering (SIGSTOP) is detected too, and the page comes back by itself', { timeout: 120000 }, async () => {
  const a = await openAs(browser, server, server.role('citizen', 2), { viewport: PHONE });
  await answerAsked(a, 'Plus tard', 'q1');
  const seq = await a.evaluate(() => window.__convene.snap.seq);
  server.freeze();
  try {
    await a.waitForSelector('[data-testid=reconnecting]', { timeout: 15000 });
    await a.fill('.chat-form input', 'Le serveur dort');
    await a.press('.chat-form input', 'Enter');
    await a.waitForSelector('.chat-line.pending:has-text("Le serveur dort")');
  } finally {
    server.thaw();
  }
  await a.waitForSelector('[data-testid=reconnected]', { timeout: 45000 });
  await a.waitForSelector('.chat-log .chat-line:not(.pending):has-text("Le serveur dort")');
  assert.equal(await a.evaluate(() => window.__convene.snap.rooms[0].inside.chat.filter((l) => l.text === 'Le serveur dort').length), 1);
  assert.ok((await a.evaluate(() => window.__convene.snap.seq)) > seq);
  await assertMatchesServer(a, 'after SIGSTOP');
  assert.deepEqual(a.errors, []);
});

test('a quiet connection stays up: the page pings it, the server answers', { timeout: 60000 }, async () => {
  const a = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  await a.evaluate(() => {
    const c = window.__convene;
    const handle = c.handle.bind(c);
    window.__pongs = 0;
    c.handle = (m) => {
      if (m.type === 'pong') window.__pongs += 1;
      handle(m);
    };
  });
  // Nothing happens for 13 s: more than the 11 s of silence that mean a dead network.
  await a.waitForTimeout(13000);
  assert.ok((await a.evaluate(() => window.__pongs)) >= 1, 'pinged and answered');
  assert.equal(await a.evaluate(() => window.__convene.status), 'open');
  assert.equal(await a.locator('[data-testid=reconnecting]').count(), 0);
  assert.equal(await a.evaluate(() => window.__convene.lastReconnectAt), 0, 'never reconnected');
});
