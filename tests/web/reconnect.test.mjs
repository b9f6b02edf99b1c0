// A citizen's connection drops (the server is killed with -9) and comes back (restarted on
// the same address and data): a banner says so meanwhile, what was done while offline is sent
// once reconnected, and everything is back as it was. An unknown invitation gets a clear
// message and no reconnection loop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartServer, openAs, waitState, axe, PHONE, LAPTOP, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

test("a citizen's connection drops and comes back", { timeout: 150000 }, async () => {
  const citizen = server.role('citizen', 0);
  const a = await openAs(browser, server, citizen, { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 1));
  await a.fill('.chat-form input', 'Avant la coupure');
  await a.press('.chat-form input', 'Enter');
  await b.waitForSelector('.chat-log :text("Avant la coupure")');
  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  const seqBefore = await a.evaluate(() => window.__convene.snap.seq);

  // The server dies: the banner appears, the page keeps what it shows.
  await server.kill9();
  await a.waitForSelector('[data-testid=reconnecting]:has-text("Connexion perdue.")');
  await b.waitForSelector('[data-testid=reconnecting]');
  assert.ok(await a.isVisible('.chat-log :text("Avant la coupure")'));
  await axe(a, 'reconnecting banner (phone)');
  // Something said while offline waits for the connection.
  await a.fill('.chat-form input', 'Pendant la coupure');
  await a.press('.chat-form input', 'Enter');
  await a.waitForSelector('[data-testid=reconnecting]:has-text("1 action en attente sera envoyée")').catch(async (e) => {
    // What the page held instead (a rare failure here was never explained).
    const held = await a.evaluate(() => {
      const c = window.__convene;
      const banner = document.querySelector('[data-testid=reconnecting]');
      return {
        status: c.status,
        pending: [...c.pending.values()].map((p) => p.command),
        input: document.querySelector('.chat-form input')?.value,
        banner: banner ? banner.textContent : null,
        errors: c.errors.map((x) => x.code),
      };
    });
    throw new Error(`${e.message}\npage: ${JSON.stringify(held)}`);
  });

  // The server comes back on the same address, with the same data.
  await restartServer();
  // Reconnecting uses a backoff of at most a few seconds here; the button tries at once. The
  // page may have reconnected by itself meanwhile (the button gone, or disabled while it
  // connects): the click is not waited for long, since « Reconnecté·e » shows for 5 s only.
  await a.click('[data-testid=reconnecting] button', { timeout: 2000 }).catch(() => {});
  await a.waitForSelector('[data-testid=reconnected]:has-text("Reconnecté·e")', { timeout: 40000 });
  assert.equal(await a.locator('[data-testid=reconnecting]').count(), 0);
  await waitState(b, (c) => c.status === 'open', null, 40000);

  // Everything as it was: the raised hand, the chat, and the offline message, exactly once.
  await a.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await b.waitForSelector('.chat-log :text("Pendant la coupure")');
  for (const page of [a, b]) {
    const lines = await page.evaluate(() => window.__convene.snap.rooms[0].inside.chat.map((l) => l.text));
    assert.equal(lines.filter((l) => l === 'Avant la coupure').length, 1);
    assert.equal(lines.filter((l) => l === 'Pendant la coupure').length, 1);
  }
  assert.ok((await a.evaluate(() => window.__convene.snap.seq)) > seqBefore);
  assert.equal(await a.evaluate(() => window.__convene.pending.size), 0);
  assert.deepEqual(await a.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
  assert.deepEqual(a.errors, []);
});

test('a request whose reply was lost is sent again with the same id, and runs once', { timeout: 120000 }, async () => {
  const a = await openAs(browser, server, server.role('citizen', 2));
  // Send a chat line and drop the connection before its reply can be read: the page sends
  // the same request (same id) after reconnecting, and the server runs it once.
  const id = await a.evaluate(() => {
    const c = window.__convene;
    const ws = c.ws;
    ws.onmessage = null; // the reply (and the event) never arrive on this connection
    const p = c.request({ type: 'send_chat', text: 'Une seule fois' });
    const sent = [...c.pending.keys()].pop();
    ws.close();
    window.__once = p;
    return sent;
  });
  await waitState(a, (c) => c.status === 'open' && c.pending.size === 0, null, 30000);
  await a.evaluate(() => window.__once);
  const lines = await a.evaluate(() => window.__convene.snap.rooms[0].inside.chat.filter((l) => l.text === 'Une seule fois').length);
  assert.equal(lines, 1, `request ${id} ran once`);
});

test('an unknown invitation gets a clear message, without a reconnection loop', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ viewport: LAPTOP });
  const page = await context.newPage();
  await page.goto(`${server.base}/?video=off#token=demo.00000000000000000000000000000000`);
  await page.waitForSelector('[role=alert]:has-text("Ce lien d\'invitation n\'est pas valable.")');
  assert.equal(await page.evaluate(() => window.__convene.status), 'fatal');
  await axe(page, 'unknown invitation');
  // No token at all: the landing page asks for the link.
  await page.goto(`${server.base}/`);
  await page.waitForSelector('label:has-text("collez ici votre lien")');
  await axe(page, 'landing page');
  await context.close();
});
