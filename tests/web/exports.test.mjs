// Exports are downloaded with the invitation token in a header, never in a URL: the page
// fetches with `Authorization: Bearer` and hands the browser a blob. Every request the
// guarantor's, the facilitator's and the citizen's browsers make is watched: none carries
// the token in its URL (the y-websocket endpoint /doc, where browsers cannot send a header,
// is the one exception), and each download holds what the server exports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openAs, tab, command, axe, waitState, download, asOrganizer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

/** Watch every request of `page`'s browser context (new tabs included). */
function watch(page, token) {
  const seen = [];
  const secret = token.split('.').pop();
  page.context().on('request', (r) => {
    // The fragment never leaves the browser: only what is sent counts.
    const url = r.url().split('#')[0];
    seen.push({ url, carries: url.includes(secret) || url.includes(encodeURIComponent(token)) });
  });
  return {
    seen,
    check(label) {
      const bad = seen.filter((s) => s.carries && !new URL(s.url).pathname.startsWith('/doc/'));
      assert.deepEqual(bad.map((s) => s.url), [], `${label}: a request URL carries the token`);
    },
  };
}


test('exports download with the token in a header, never in a URL', { timeout: 120000 }, async () => {
  const facInvite = server.role('facilitator');
  const fac = await openAs(browser, server, facInvite);
  const facWatch = watch(fac, server.token(facInvite));
  // Something to export: a poll with a question, opened and closed.
  assert.deepEqual(await command(fac, { type: 'draft_poll', spec: { question: 'Faut-il des bus de nuit ?', kind: 'single', options: ['Oui', 'Non'], secret: false, live_results: false, voters: [], quorum: null, duration_ms: null, room: null } }), { ok: true });
  const poll = await fac.evaluate(() => window.__convene.snap.polls.at(-1).id);
  assert.deepEqual(await command(fac, { type: 'open_poll', poll }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'close_poll', poll }), { ok: true });

  // The guarantor's exports: audit trail, poll results (CSV and JSON), the opinion in a tab.
  const garInvite = server.role('guarantor');
  const gar = await openAs(browser, server, garInvite);
  const garWatch = watch(gar, server.token(garInvite));
  await gar.waitForSelector('#exports .exports button');
  const cid = 'demo';
  const audit = await download(gar, `#exports button[data-export="/api/conventions/${cid}/audit"]`);
  assert.equal(audit.name, `audit-${cid}.jsonl`);
  const trail = await (await asOrganizer(`/api/conventions/${cid}/audit`)).text();
  // The trail may have grown between the two reads: the download is a prefix of it.
  assert.ok(audit.text.length > 0 && trail.startsWith(audit.text), 'the downloaded trail is the server\'s');
  const csv = await download(gar, `#exports button[data-export="/api/conventions/${cid}/polls?format=csv"]`);
  assert.equal(csv.name, `polls-${cid}.csv`);
  assert.match(csv.text, /Faut-il des bus de nuit \?/);
  assert.equal(csv.text, await (await asOrganizer(`/api/conventions/${cid}/polls?format=csv`)).text());
  // The spreadsheet form, for people: headers in the page's language, times in the browser's
  // zone (its content is checked cell by cell in tests/tests/xlsx_exports.rs).
  const zone = await gar.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const sheetPath = `/api/conventions/${cid}/polls?format=xlsx&lang=fr&tz=${encodeURIComponent(zone)}`;
  const [sheet] = await Promise.all([gar.waitForEvent('download'), gar.click(`#exports button[data-export="${sheetPath}"]`)]);
  assert.equal(sheet.suggestedFilename(), `polls-${cid}.xlsx`);
  const bytes = readFileSync(await sheet.path());
  assert.equal(bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'an .xlsx is a zip file');
  assert.ok(bytes.includes(Buffer.from('xl/worksheets/sheet1.xml')), 'with a worksheet');
  const json = await download(gar, `#exports button[data-export="/api/conventions/${cid}/polls"]`);
  assert.equal(JSON.parse(json.text).at(-1).spec.question, 'Faut-il des bus de nuit ?');
  // The opinion as HTML, shown in a new tab.
  const [shown] = await Promise.all([
    gar.context().waitForEvent('page'),
    gar.click(`#exports button[data-export="/api/conventions/${cid}/documents/opinion/export?format=html"]`),
  ]);
  await shown.waitForLoadState();
  await shown.waitForFunction(() => document.body && /Avis citoyen/.test(document.body.textContent));
  assert.ok(shown.url().startsWith('blob:'), `the tab shows ${shown.url()}`);
  // The audit trail the view loaded came the same way.
  await gar.waitForSelector('#audit .audit-list li');
  await axe(gar, 'guarantor exports');
  garWatch.check('guarantor');
  assert.ok(garWatch.seen.some((s) => s.url.endsWith(`/api/conventions/${cid}/audit`)), 'the audit export was requested');

  // The facilitator's poll export, from the polls tab.
  await tab(fac, 'polls');
  const facCsv = await download(fac, `button[data-export="/api/conventions/${cid}/polls?format=csv"]`);
  assert.match(facCsv.text, /Faut-il des bus de nuit \?/);
  facWatch.check('facilitator');

  // A citizen's opinion export (Markdown), from the opinion tab.
  const citInvite = server.role('citizen', 0);
  const cit = await openAs(browser, server, citInvite);
  const citWatch = watch(cit, server.token(citInvite));
  await tab(cit, 'opinion');
  const md = await download(cit, `#export button[data-export="/api/conventions/${cid}/documents/opinion/export?format=md"]`);
  assert.equal(md.name, 'opinion.md');
  assert.match(md.text, /^# Avis citoyen/);
  citWatch.check('citizen');

  // The old way is closed: a token in the URL is refused.
  const r = await fetch(`${server.base}/api/conventions/${cid}/audit?token=${encodeURIComponent(server.token(garInvite))}`);
  assert.equal(r.status, 400);
  for (const p of [gar, fac, cit]) assert.deepEqual(p.errors, [], 'no page error');
  await waitState(gar, (c) => c.status === 'open');
});
