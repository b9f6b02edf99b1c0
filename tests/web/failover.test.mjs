// Two nodes on Redis (database 9, flushed), each told of both (--nodes). A citizen's page is
// served by node A and connected to it; node A is killed with -9. The page reconnects to node
// B by itself, with no reload and no click, resumes where it was (hello with last_seq), and
// shows what was said after the kill, once; what was said before is there once too.

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, launchBrowser, openAs, waitState, freePort, assertMatchesServer, PHONE } from './harness.mjs';

const REDIS = `${process.env.CONVENE_TEST_REDIS || 'redis://127.0.0.1:6379'}/9`;

let a;
let b;
let browser;
before(async () => {
  execFileSync('redis-cli', ['-u', REDIS, 'FLUSHDB']);
  const [pa, pb] = [await freePort(), await freePort()];
  const nodes = `http://127.0.0.1:${pa},http://127.0.0.1:${pb}`;
  const cluster = ['--redis', REDIS, '--organizer-token', 'web-failover-test', '--nodes', nodes];
  // One after the other: the first seeds the demo convention, the second finds it.
  a = await startServer({ port: pa, extra: cluster });
  b = await startServer({ port: pb, extra: cluster });
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
  for (const s of [a, b]) {
    if (!s) continue;
    await s.stop();
    s.cleanup();
  }
});

const chatLines = (page, text) => page.evaluate((t) => window.__convene.snap.rooms[0].inside.chat.filter((l) => l.text === t).length, text);

test('a page served by a node that dies goes on with the other node by itself', { timeout: 120000 }, async () => {
  const citizen = a.role('citizen', 0);
  const onA = await openAs(browser, a, citizen, { viewport: PHONE });
  const onB = await openAs(browser, b, b.role('citizen', 1));
  // The page learnt the cluster's nodes (GET /nodes): its own first, then B.
  await waitState(onA, (c) => c.urls.length === 2);
  assert.deepEqual(await onA.evaluate(() => window.__convene.urls), [`ws://${a.addr}/ws`, `ws://${b.addr}/ws`]);

  await onA.fill('.chat-form input', 'Avant la panne');
  await onA.press('.chat-form input', 'Enter');
  await onB.waitForSelector('.chat-log :text("Avant la panne")');
  const seqBefore = await onA.evaluate(() => window.__convene.snap.seq);

  await a.kill9();
  await onA.waitForSelector('[data-testid=reconnecting]');
  // Said on node B while the page has lost node A.
  await onB.fill('.chat-form input', 'Après la panne');
  await onB.press('.chat-form input', 'Enter');
  await onB.waitForSelector('.chat-log :text("Après la panne")');

  // No click: the page's own reconnection goes to node B.
  await onA.waitForSelector('[data-testid=reconnected]', { timeout: 30000 });
  await waitState(onA, (c, url) => c.status === 'open' && c.url === url, `ws://${b.addr}/ws`);
  await onA.waitForSelector('.chat-log :text("Après la panne")');
  assert.equal(await chatLines(onA, 'Avant la panne'), 1);
  assert.equal(await chatLines(onA, 'Après la panne'), 1);
  assert.ok((await onA.evaluate(() => window.__convene.snap.seq)) > seqBefore);

  // And it acts through node B: its next line reaches the other citizen once.
  await onA.fill('.chat-form input', 'De retour par le nœud B');
  await onA.press('.chat-form input', 'Enter');
  await onB.waitForSelector('.chat-log :text("De retour par le nœud B")');
  await onA.waitForSelector('.chat-log :text("De retour par le nœud B")');
  for (const page of [onA, onB]) {
    for (const line of ['Avant la panne', 'Après la panne', 'De retour par le nœud B']) {
      assert.equal(await chatLines(page, line), 1, line);
    }
  }
  // Each chat line is shown once in the page too.
  assert.equal(await onA.locator('.chat-log :text("Après la panne")').count(), 1);
  assert.equal(await onA.evaluate(() => window.__convene.pending.size), 0);
  assert.deepEqual(await onA.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
  assert.deepEqual(onA.errors, []);
  await assertMatchesServer(onA, 'after the failover');
});
