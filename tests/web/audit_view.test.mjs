// The guarantor's audit trail, as a guarantor reads it: the current head (entry number and
// hash, to note down and check a later export against with `convene audit verify FILE
// --head N:HASH`) is shown and is the export's last entry, also as new entries arrive; and
// entries name polls by their question and rotation rounds by their number, not by
// internal ids.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAs, command, axe, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

/** The audit export's entries, as the organizer gets them. */
async function trail() {
  const token = readFileSync(join(server.data, 'organizer-token'), 'utf8').trim();
  const r = await fetch(`${server.base}/api/conventions/demo/audit`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The head the page shows: its number and hash, read from what a person sees. */
async function shownHead(page) {
  const el = page.locator('#audit [data-testid=audit-head]');
  await el.waitFor();
  const text = await el.textContent();
  const m = text.match(/n°\s*(\d+)[\s\S]*?([0-9a-f]{64})/);
  assert.ok(m, `the head shows no entry number and 64-digit hash: ${text}`);
  return { n: Number(m[1]), hash: m[2], text };
}

async function headIs(page, entry) {
  await page.waitForFunction(
    ({ n, hash }) => {
      const el = document.querySelector('#audit [data-testid=audit-head]');
      return el && el.textContent.includes(hash) && new RegExp(`n°\\s*${n}(?!\\d)`).test(el.textContent);
    },
    { n: entry.n, hash: entry.hash },
    { timeout: 15000 },
  );
}

test('the guarantor sees the head of the trail, as the export has it', { timeout: 120000 }, async () => {
  const g = await openAs(browser, server, server.role('guarantor'));
  const fac = await openAs(browser, server, server.role('facilitator'));
  let entries = await trail();
  let last = entries.at(-1);
  await headIs(g, last);
  const shown = await shownHead(g);
  assert.deepEqual({ n: shown.n, hash: shown.hash }, { n: last.n, hash: last.hash });
  // The command to check a later export is spelled out, with this head.
  assert.ok(shown.text.includes(`--head ${last.n}:${last.hash}`), `no verify command in: ${shown.text}`);

  // A new audited action: the head follows, live.
  assert.deepEqual(await command(fac, { type: 'broadcast', text: 'Reprise à 14 h' }), { ok: true });
  await g.waitForSelector('#audit .audit-list li:has-text("Reprise à 14 h")');
  entries = await trail();
  last = entries.at(-1);
  assert.equal(last.event.text, 'Reprise à 14 h');
  await headIs(g, last);

  // A guarantor arriving now sees it from the start, on a phone too.
  const g2 = await openAs(browser, server, server.role('guarantor', 1), { viewport: PHONE });
  await headIs(g2, last);
  await axe(g2, 'guarantor audit head, phone');
  for (const p of [g, g2]) assert.deepEqual(p.errors, []);
});

test('the trail names polls by their question and rounds by their number', { timeout: 120000 }, async () => {
  const g = await openAs(browser, server, server.role('guarantor'));
  const fac = await openAs(browser, server, server.role('facilitator'));
  const question = 'Faut-il rendre les bus gratuits la nuit ?';
  assert.deepEqual(await command(fac, { type: 'draft_poll', spec: { question, kind: 'single', options: ['Oui', 'Non'], secret: false, live_results: false, voters: [], quorum: null, duration_ms: null, room: null } }), { ok: true });
  const poll = await fac.evaluate(() => window.__convene.snap.polls.at(-1).id);
  assert.deepEqual(await command(fac, { type: 'open_poll', poll }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'close_poll', poll }), { ok: true });
  // A rotation: two experts, everyone in groups, started, paused, resumed, skipped to round 2.
  const experts = server.invites.filter((i) => i.roles.includes('expert')).slice(0, 2).map((i) => i.participant);
  const citizens = server.invites.filter((i) => i.roles.length === 1 && i.roles[0] === 'citizen').slice(0, 4).map((i) => i.participant);
  for (const cmd of [
    { type: 'plan_rotation', experts, method: 'random', participants: citizens, only_present: false, round_ms: 600000 },
    { type: 'start_rotation' },
    { type: 'pause_rotation' },
    { type: 'resume_rotation' },
    { type: 'skip_round' },
  ]) assert.deepEqual(await command(fac, cmd), { ok: true }, cmd.type);

  const list = '#audit .audit-list';
  await g.waitForSelector(`${list} li:has-text("« ${question} »")`);
  const text = await g.textContent(list);
  // Polls by their question, never by their id alone.
  for (const what of ['préparé', 'ouvert', 'clos']) {
    assert.match(text, new RegExp(`Sondage « ${question.replace(/[?]/g, '\\?')} » ${what}`), `poll ${what}`);
  }
  assert.doesNotMatch(text, new RegExp(`Sondage ${poll}\\b`), 'a poll named by its id');
  // Rounds by their number, as the rotation's view counts them (from 1).
  assert.match(text, /Tour 1 de la rotation : début/);
  assert.match(text, /Tour 1 de la rotation en pause/);
  assert.match(text, /Tour 1 de la rotation repris/);
  assert.match(text, /Tour 2 de la rotation : début/);
  await axe(g, 'guarantor audit names');
  assert.deepEqual(g.errors, []);
});
