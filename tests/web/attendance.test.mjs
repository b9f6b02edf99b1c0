// Attendance (issue #17) in the guarantor's view: the table of time present per participant
// and day, and the summary per roster attribute, read with the guarantor's token in a header;
// the CSV downloads (never with the token in a URL) and holds the same people as the
// organizer's export. A facilitator's page has no attendance, and the server refuses their
// token.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, axe, screenshot, download, asOrganizer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

test('a guarantor sees attendance and downloads it as CSV', { timeout: 120000 }, async () => {
  const citizen = server.role('citizen');
  const cit = await openAs(browser, server, citizen);
  const garInvite = server.role('guarantor');
  const gar = await openAs(browser, server, garInvite);
  const urls = [];
  const secret = server.token(garInvite).split('.').pop();
  gar.context().on('request', (r) => urls.push(r.url().split('#')[0]));

  // The citizen's row, with their name and one session (the day is said once, above).
  const row = `#attendance table.attendance-people tr[data-participant="${citizen.participant}"]`;
  await gar.waitForSelector(row);
  const cells = await gar.$$eval(`${row} th, ${row} td`, (els) => els.map((e) => e.textContent.trim()));
  assert.equal(cells[0], citizen.name);
  assert.equal(cells[2], '1', `one session: ${cells}`);
  assert.equal(await gar.locator('#attendance table th:has-text("Jour")').count(), 0, 'a day column repeating the day of the table');
  // The day's headcount against the roster, the day (UTC) in French words.
  const today = await gar.evaluate(() => {
    const s = new Intl.DateTimeFormat('fr-FR', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date());
    return s.charAt(0).toUpperCase() + s.slice(1);
  });
  const total = await gar.textContent('#attendance [data-testid=attendance-total]');
  assert.match(total, new RegExp(`^${today} \\(jour UTC\\) : \\d+ personnes? du panel présentes? sur \\d+$`));
  // The summary per roster attribute: the demo roster's communes, in French.
  const summary = await gar.textContent('#attendance table.attendance-attributes');
  assert.match(summary, /commune/);
  // Each group's share present as a bar, with a mark at the whole panel's share that day.
  const [, present, roster] = total.match(/(\d+) personnes? du panel présentes? sur (\d+)$/).map(Number);
  const bars = await gar.$$eval('#attendance table.attendance-attributes tr[data-group]', (rows) => rows.map((r) => ({
    group: r.dataset.group,
    fill: parseFloat(r.querySelector('.bar-fill').style.width),
    mark: parseFloat(r.querySelector('.share-mark').style.left),
    under: r.querySelector('.bar-fill').classList.contains('under'),
  })));
  const report = await (await asOrganizer('/api/conventions/demo/attendance')).json();
  const todays = report.by_attribute.filter((b) => b.day === report.days.at(-1).day);
  assert.equal(bars.length, todays.length);
  for (const b of todays) {
    const bar = bars.find((x) => x.group === `${b.attribute}/${b.value}`);
    assert.ok(bar, `${b.attribute}/${b.value} has no bar`);
    assert.ok(Math.abs(bar.fill - b.share) < 0.01, `${bar.group}: ${bar.fill} % drawn for ${b.share} %`);
    assert.ok(Math.abs(bar.mark - (100 * present) / roster) < 0.01, `${bar.group}: the mark at ${bar.mark} %`);
    assert.equal(bar.under, b.share / 100 < (0.8 * present) / roster, `${bar.group}: orange or not`);
  }
  assert.match(await gar.textContent('#attendance .attendance-legend'), /trait : celle de tout le panel/);
  await screenshot(gar, 'attendance-by-attribute', { element: gar.locator('#attendance table.attendance-attributes') });

  // The CSV, as the organizer's export has it: the same people and days.
  const cid = 'demo';
  const csv = await download(gar, `#attendance button[data-export="/api/conventions/${cid}/attendance?format=csv"]`);
  assert.equal(csv.name, `attendance-${cid}.csv`);
  const lines = csv.text.trim().split('\n');
  assert.equal(lines[0], 'participant,name,roles,day,minutes,sessions,first_arrival,last_departure');
  const mine = lines.find((l) => l.startsWith(`${citizen.participant},`));
  const isoToday = new Date().toISOString().slice(0, 10);
  assert.ok(mine && mine.includes(`,${isoToday},`), `the citizen's row: ${csv.text}`);
  const org = await (await asOrganizer(`/api/conventions/${cid}/attendance?format=csv`)).text();
  const who = (text) => text.trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 4).join(',')).sort();
  assert.deepEqual(who(csv.text), who(org));
  const attrs = await download(gar, `#attendance button[data-export="/api/conventions/${cid}/attendance?format=csv&table=attributes"]`);
  assert.match(attrs.text, /^day,attribute,value,present,roster,share_percent\n/);
  assert.ok(attrs.text.includes(`${isoToday},commune,`), attrs.text);
  assert.deepEqual(urls.filter((u) => u.includes(secret) && !new URL(u).pathname.startsWith('/doc/')), [], 'a token in a URL');

  await axe(gar, 'guarantor attendance');
  assert.deepEqual(gar.errors, []);
  assert.deepEqual(cit.errors, []);
});

test('a facilitator has no attendance, and the server refuses them', { timeout: 60000 }, async () => {
  const facInvite = server.role('facilitator');
  const fac = await openAs(browser, server, facInvite);
  assert.equal(await fac.$('#attendance'), null);
  const r = await fetch(`${server.base}/api/conventions/demo/attendance`, { headers: { authorization: `Bearer ${server.token(facInvite)}` } });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).code, 'forbidden');
  assert.deepEqual(fac.errors, []);
});
