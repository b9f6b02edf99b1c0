// The organizer console (« Espace organisation », /organisation), end to end in French against
// the real server: a wrong token then the right one; a convention created (a refused id first);
// a CSV roster with two wrong lines refused with both lines said in French and nothing
// imported, then the fixed one imported and shown; invitations issued, a citizen getting in
// with their link, then revoked and seeing it; the invitations' CSV as French Excel wants it;
// the public link made, opened, given a livestream, withdrawn; an export downloaded; English;
// and a pass on a phone. The token never travels in a URL nor lands in localStorage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { axe, screenshot, waitOpen, server, browser, useServerAndBrowser, download, organizerApi, openAs, commandOk, ROOT, organizerToken, openConsole, signInConsole as signIn } from './harness.mjs';

useServerAndBrowser();

const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
const LIVESTREAM = 'https://video.example.org/live/nantes-2026';
const CONV = 'nantes-2026';

const BAD_CSV = [
  'nom,roles,commune,âge',
  'Claire Moreau,animatrice,,',
  ' ,citoyen,Rezé,35-49',
  'Hélène Garnier,garante;citoyenne,,',
  'Yannick Le Goff,citoyen,Rezé,35-49',
].join('\n');

const GOOD_CSV = [
  'nom,roles,commune,âge',
  'Claire Moreau,animatrice,,',
  'Hélène Garnier,garante,,',
  'Yannick Le Goff,citoyen,Rezé,35-49',
  'Fatima Benali,citoyenne,Orvault,18-34',
  'Sophie Tessier,citoyenne;rapporteuse,Bouguenais,50-64',
].join('\n');

test('an organizer sets a convention up from the console, in French', { timeout: 240000 }, async () => {
  const token = organizerToken();
  const page = await openConsole(LAPTOP);
  assert.equal(await page.textContent('h1'), 'Espace organisation');

  // The console is a chunk of its own: the citizens' page never loads it.
  const citizenPage = await (await browser.newContext()).newPage();
  const citizenUrls = [];
  citizenPage.on('request', (r) => citizenUrls.push(new URL(r.url()).pathname));
  await citizenPage.goto(server.url(server.role('citizen')));
  await waitOpen(citizenPage);
  const consoleScripts = page.urls.map((u) => new URL(u).pathname).filter((p) => p.endsWith('.js'));
  const onlyConsole = consoleScripts.filter((p) => !citizenUrls.includes(p));
  assert.ok(onlyConsole.length >= 1, `a script only the console loads: ${consoleScripts} vs ${citizenUrls}`);
  await citizenPage.context().close();

  // A wrong token: said in French, nothing kept.
  await signIn(page, 'pas-le-bon-jeton');
  const wrong = page.locator('#org-token-err[role=alert]');
  await wrong.waitFor();
  assert.match(await wrong.textContent(), /Ce jeton n’est pas le bon/);
  assert.equal(await page.getAttribute('#org-token', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-token', 'the focus stays in the field');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  // The right one: the conventions (the demo's), the token in sessionStorage only.
  await signIn(page, token);
  await page.waitForSelector('li[data-convention=demo]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-list-title', 'the focus on the list once signed in');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('convene.organizer.token')), token);
  assert.equal(await page.evaluate(() => Object.values({ ...localStorage }).some((v) => v.includes('.') && v.length > 20)), false, 'nothing token-like in localStorage');
  assert.ok(!page.url().includes(token));
  // Kept across a reload of the tab.
  await page.reload();
  await page.waitForSelector('li[data-convention=demo]');

  // Create a convention: a refused id first, said in French, the focus on the id.
  await page.fill('#org-new-name', 'Convention citoyenne de Nantes 2026');
  await page.fill('#org-new-id', 'Nantes 2026');
  await page.click('button:has-text("Créer la convention")');
  await page.waitForSelector('#org-new-err[data-code=invalid]');
  assert.match(await page.textContent('#org-new-err'), /Cet identifiant n’est pas accepté/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-new-id');
  await page.fill('#org-new-id', 'demo');
  await page.click('button:has-text("Créer la convention")');
  await page.waitForSelector('#org-new-err[data-code=conflict]');
  assert.match(await page.textContent('#org-new-err'), /Une convention porte déjà cet identifiant/);
  await page.fill('#org-new-id', CONV);
  await page.click('button:has-text("Créer la convention")');
  await page.waitForSelector(`.org-convention[data-convention=${CONV}] h2:has-text("Convention citoyenne de Nantes 2026")`);
  const made = await organizerApi(server, 'GET', `/api/conventions/${CONV}`);
  assert.equal(made.status, 200);
  // No facilitator yet: said.
  await page.waitForSelector('[data-testid=no-facilitator]');

  // A CSV with two wrong lines, uploaded: both said in French by their file line, nothing in.
  await page.setInputFiles('#org-import-file', { name: 'participants.csv', mimeType: 'text/csv', buffer: Buffer.from(BAD_CSV) });
  await page.click('#org-import button[type=submit]');
  const errors = page.locator('[data-testid=import-errors][role=alert]');
  await errors.waitFor();
  const items = await errors.locator('li').allTextContents();
  assert.deepEqual(items, [
    'Ligne 3 : le nom est vide.',
    'Ligne 4 (Hélène Garnier) : un·e garant·e ne peut pas avoir d’autre rôle.',
  ]);
  const said = await errors.textContent();
  assert.match(said, /2 lignes sont à corriger\./);
  assert.match(said, /Rien n’a été importé\./);
  assert.equal((await organizerApi(server, 'GET', `/api/conventions/${CONV}/roster`)).body.length, 0, 'nothing imported');
  assert.equal(await page.locator('#org-roster table').count(), 0);

  // The fixed roster, pasted: imported and shown, with the counts per role.
  await page.fill('#org-import-text', GOOD_CSV);
  await page.click('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-done]:has-text("5 personnes importées.")');
  assert.equal(await page.locator('[data-testid=import-errors]').count(), 0);
  await page.waitForSelector('#org-roster tbody tr >> nth=4');
  const rows = await page.$$eval('#org-roster tbody tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  assert.deepEqual(rows.find((r) => r[0] === 'Sophie Tessier'), ['Sophie Tessier', 'rapporteur·e, citoyen·ne', 'Bouguenais', '50-64']);
  assert.deepEqual(await page.$$eval('#org-roster thead th', (ths) => ths.map((th) => th.textContent)), ['Nom', 'Rôles', 'commune', 'âge']);
  const counts = Object.fromEntries(await page.$$eval('.org-counts [data-role]', (els) => els.map((e) => [e.dataset.role, e.textContent])));
  assert.deepEqual(counts, { facilitator: 'animateur·rice : 1', rapporteur: 'rapporteur·e : 1', guarantor: 'garant·e : 1', citizen: 'citoyen·ne : 3' });
  assert.equal(await page.locator('[data-testid=no-facilitator]').count(), 0, 'a facilitator now');
  assert.equal((await organizerApi(server, 'GET', `/api/conventions/${CONV}/roster`)).body.length, 5);

  // Invitations: issued for the five, each link listed.
  await page.click('#org-invitations button:has-text("Créer les invitations manquantes (5)")');
  await page.waitForSelector('#org-invitations [data-testid=invite-link] >> nth=4');
  const status = (await organizerApi(server, 'GET', `/api/conventions/${CONV}/invites`)).body;
  assert.equal(status.filter((s) => s.active).length, 5);
  const yannick = status.find((s) => s.name === 'Yannick Le Goff').participant;
  const item = page.locator(`#org-invitations li[data-participant=${yannick}]`);
  const link = await item.locator('input').inputValue();
  assert.match(link, new RegExp(`#token=${CONV}\\.[0-9a-f]{32}$`));
  // The facilitator's way in, in « Pour entrer ».
  assert.match(await page.getAttribute('#org-join a', 'href'), /#token=/);
  // Copy a link.
  await item.locator('button:has-text("Copier")').click();
  await item.locator('[role=status]:has-text("Copié.")').waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);

  // The citizen gets in with that link, in a browser of their own.
  const citizen = await (await browser.newContext({ viewport: PHONE, locale: 'fr-FR' })).newPage();
  await citizen.goto(link.replace('/#', '/?video=off#'));
  await waitOpen(citizen);
  assert.equal(await citizen.evaluate(() => window.__convene.you.name), 'Yannick Le Goff');

  // Revoke it: the question says what happens; the citizen's page says it is revoked.
  await item.locator('[data-testid=revoke]').click();
  const question = await item.locator('[data-testid=confirm] .confirm-question').textContent();
  assert.match(question, /Révoquer l’invitation de Yannick Le Goff \?/);
  assert.match(question, /ses sessions ouvertes seront fermées/);
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'confirm-yes');
  await item.locator('[data-testid=confirm-yes]').click();
  await page.waitForSelector(`#org-invitations li[data-participant=${yannick}][data-active=false]`);
  await citizen.waitForSelector('[role=alert]:has-text("Ce lien d\'invitation a été révoqué.")');
  assert.equal(await page.evaluate((id) => !!document.activeElement.closest(`li[data-participant="${id}"]`), yannick), true, 'the focus stays with the person');
  assert.equal((await organizerApi(server, 'GET', `/api/conventions/${CONV}/invites`)).body.find((s) => s.participant === yannick).active, false);

  // The invitations' CSV: a BOM, `;`, French headers, every person, the links it has.
  const csv = await download(page, page.locator('[data-testid=download-invitations]'));
  assert.equal(csv.name, `invitations-${CONV}.csv`);
  assert.deepEqual([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const lines = csv.bytes.toString('utf8').slice(1).trim().split('\r\n');
  assert.equal(lines[0], 'Nom;Rôles;Identifiant;Invitation;Lien d’invitation');
  assert.equal(lines.length, 6, lines.join('\n'));
  for (const s of status) assert.ok(lines.some((l) => l.startsWith(`${s.name};`)), `${s.name} in the CSV`);
  assert.ok(lines.includes(`Yannick Le Goff;citoyen·ne;${yannick};invitation révoquée;`), lines.join('\n'));
  const sophie = lines.find((l) => l.startsWith('Sophie Tessier;')).split(';');
  assert.equal(sophie.length, 5);
  assert.match(sophie[4], new RegExp(`^${server.base}/#token=${CONV}\\.[0-9a-f]{32}$`));

  // The public link: made, opened by someone on no roster, given a livestream, withdrawn.
  await page.click('#org-public button:has-text("Créer le lien public")');
  const publicField = page.locator('#org-public [data-testid=public-link] input');
  await publicField.waitFor();
  const publicUrl = await publicField.inputValue();
  assert.match(publicUrl, /\/public#link=/);
  const viewer = await (await browser.newContext({ viewport: PHONE, locale: 'fr-FR' })).newPage();
  await viewer.goto(publicUrl);
  await viewer.waitForSelector('h1:has-text("Convention citoyenne de Nantes 2026")');
  assert.equal(await viewer.locator('[data-testid=public-livestream]').count(), 0);
  await page.fill('#org-live', LIVESTREAM);
  await page.click('#org-public button:has-text("Enregistrer la vidéo")');
  await page.waitForSelector('#org-public [role=status]:has-text("Adresse de la vidéo enregistrée.")');
  await viewer.waitForSelector(`[data-testid=public-livestream][href="${LIVESTREAM}"]`);
  // The count of viewers, on « Actualiser ».
  for (let i = 0; i < 50 && !(await page.textContent('#org-public [data-testid=public-status]')).includes('1 personne regarde'); i += 1) {
    await page.click('#org-public button:has-text("Actualiser")');
    await page.waitForTimeout(100);
  }
  assert.match(await page.textContent('#org-public [data-testid=public-status]'), /1 personne regarde/);
  await page.click('#org-public [data-testid=revoke-public]');
  assert.match(await page.textContent('#org-public [data-testid=confirm] .confirm-question'), /personnes qui regardent seront déconnectées/);
  await page.click('#org-public [data-testid=confirm-yes]');
  await page.waitForSelector('#org-public [data-testid=public-status][data-active=false]');
  await viewer.waitForSelector('text=La diffusion publique est terminée');

  // An export: the audit trail, fetched with the token in a header, as the API gives it.
  const audit = await download(page, page.locator(`#org-exports button[data-export="/api/conventions/${CONV}/audit"]`));
  assert.equal(audit.name, `audit-${CONV}.jsonl`);
  const r = await fetch(`${server.base}/api/conventions/${CONV}/audit`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(audit.bytes.toString('utf8'), await r.text());
  assert.ok(audit.bytes.toString('utf8').split('\n').filter(Boolean).length >= 5);
  // The attendance as a spreadsheet, in the page's language and the browser's zone.
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const sheet = await download(page, page.locator(`#org-exports button[data-export="/api/conventions/${CONV}/attendance?format=xlsx&lang=fr&tz=${encodeURIComponent(zone)}"]`));
  assert.equal(sheet.name, `attendance-${CONV}.xlsx`);
  assert.equal(sheet.bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'an .xlsx is a zip file');

  await axe(page, 'organizer console');
  await screenshot(page, 'organizer-laptop');

  // English, by the language switch.
  await page.click('button.lang:has-text("English")');
  await page.waitForSelector('h1:has-text("Organizer console")');
  await page.waitForSelector('#org-invitations h2:has-text("Invitations")');
  assert.ok(await page.locator('button:has-text("Sign out")').isVisible());
  await page.click('button.lang:has-text("Français")');

  // Back to the list: the focus on the convention one left.
  await page.click('button:has-text("← Toutes les conventions")');
  await page.waitForSelector(`li[data-convention=${CONV}]`);
  assert.equal(await page.evaluate(() => document.activeElement.closest('li')?.dataset.convention), CONV);

  // The token never went into a URL.
  assert.deepEqual(page.urls.filter((u) => u.includes(token)), []);

  // Sign out: back to the sign-in, the token forgotten.
  await page.click('button:has-text("Se déconnecter")');
  await page.waitForSelector('#org-token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('convene.organizer.token')), null);
  assert.deepEqual(page.errors, []);
  assert.deepEqual(citizen.errors || [], []);
  for (const p of [citizen, viewer]) await p.context().close();
  await page.context().close();
});

test('the console on a phone: nothing wider than the screen, every button reachable', { timeout: 120000 }, async () => {
  const page = await openConsole(PHONE, { hasTouch: true, isMobile: true });
  await signIn(page, organizerToken());
  await page.waitForSelector('li[data-convention=demo]');
  await page.tap('li[data-convention=demo] button');
  await page.waitForSelector('#org-roster tbody tr');
  // JSON is read too; its wrong entries are said by their place in the list.
  await page.fill('#org-import-text', '[{ "name": "Paul", "roles": [] }]');
  await page.tap('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-errors] li:text-is("Entrée 1 (Paul) : aucun rôle.")');
  // A wrong CSV, for its error list to be on the page too.
  await page.fill('#org-import-text', 'nom,roles\nJeanne,présidente\n');
  await page.tap('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-errors] li:has-text("Ligne 2 (Jeanne) : rôle inconnu « présidente »")');
  // A file that cannot be read: said so, with the server's words under it.
  await page.fill('#org-import-text', 'prénom,roles\nJeanne,citoyenne\n');
  await page.tap('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-errors][data-code=bad_message]:has-text("Le fichier n’a pas pu être lu")');
  assert.match(await page.textContent('[data-testid=import-errors] [lang=en]'), /name/);
  // The CSV a French Excel saves by default: Windows-1252, `;`, CRLF, roles in quotes.
  const excel = Buffer.from('nom;rôles;commune\r\nHélène Tessier;"citoyenne;rapporteuse";Rezé\r\n', 'latin1');
  await page.setInputFiles('#org-import-file', { name: 'liste.csv', mimeType: 'text/csv', buffer: excel });
  await page.tap('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-done]:has-text("1 personne importée.")');
  await page.waitForSelector('#org-roster tbody tr:has(th:text-is("Hélène Tessier")) td:text-is("rapporteur·e, citoyen·ne")');
  // And a wrong line of it, by its line in the file.
  await page.setInputFiles('#org-import-file', { name: 'liste.csv', mimeType: 'text/csv', buffer: Buffer.from('nom;rôles\r\nAnne;citoyenne\r\n;citoyenne\r\n', 'latin1') });
  await page.tap('#org-import button[type=submit]');
  await page.waitForSelector('[data-testid=import-errors] li:text-is("Ligne 3 : le nom est vide.")');
  // A link of each kind on the page: a new invitation for someone, a new public link.
  await page.tap('#org-invitations li:first-child button:has-text("Nouveau lien")');
  assert.match(await page.textContent('#org-invitations li:first-child [data-testid=confirm]'), /L’ancien ne marchera plus/);
  await page.tap('#org-invitations li:first-child [data-testid=confirm-yes]');
  await page.waitForSelector('#org-invitations li:first-child [data-testid=invite-link] input');
  await page.tap('#org-public button:has-text("Créer le lien public")');
  await page.waitForSelector('#org-public [data-testid=public-link] input');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'no horizontal scrolling of the page');
  // Every button can be scrolled to and lies within the screen's width, big enough to tap.
  const buttons = page.locator('main button:visible');
  const n = await buttons.count();
  assert.ok(n > 20, `${n} buttons`);
  for (let i = 0; i < n; i += 1) {
    const b = buttons.nth(i);
    await b.scrollIntoViewIfNeeded();
    const box = await b.boundingBox();
    const label = await b.textContent();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width + 0.5, `"${label}" within the screen: ${JSON.stringify(box)}`);
    assert.ok(box.height >= 36, `"${label}" is ${box.height}px high`);
  }
  await axe(page, 'organizer console, phone');
  await screenshot(page, 'organizer-phone');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

// ---- finding one person among 150, the exports of each poll, hearing and document ----------

const BIG = 'grande-convention';
const FIRST = ['Marie', 'Jean', 'Nathalie', 'Pierre', 'Isabelle', 'Michel', 'Sylvie', 'Philippe', 'Catherine', 'Alain', 'Françoise', 'Bernard', 'Anne', 'Patrick', 'Christine'];
const LAST = ['Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau'];

/** 150 people: two facilitators, a guarantor, three experts, a rapporteur, and citizens, one
 * of whom is « Élodie Marchand » (the only Élodie). */
function bigRoster() {
  const out = [
    { name: 'Claire Moreau', roles: ['facilitator'] },
    { name: 'Karim Haddad', roles: ['facilitator'] },
    { name: 'Hélène Garnier', roles: ['guarantor'] },
    { name: 'Marc Lefèvre', roles: ['expert'] },
    { name: 'Agnès Roux', roles: ['expert'] },
    { name: 'Luc Fontaine', roles: ['expert'] },
    { name: 'Sophie Tessier', roles: ['citizen', 'rapporteur'] },
    { name: 'Élodie Marchand', roles: ['citizen'], attributes: { commune: 'Rezé' } },
  ];
  for (let i = 0; out.length < 150; i += 1) out.push({ name: `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`, roles: ['citizen'] });
  return out;
}

/** The files a citizen's page loads before any lazy import: index.html's module and what it
 * imports statically, transitively. */
function sharedBundle() {
  const dist = join(ROOT, 'web', 'dist');
  const entry = readFileSync(join(dist, 'index.html'), 'utf8').match(/<script type="module" src="\/([^"]+\.js)"/)[1];
  const seen = new Map();
  const walk = (f) => {
    if (seen.has(f)) return;
    const text = readFileSync(join(dist, f), 'utf8');
    seen.set(f, text);
    // Static imports only (`import{…}from"./chunk-….js"`): `import("./…")` is lazy.
    for (const m of text.matchAll(/import\s*(?:[\w{}$,\s*]*?from\s*)?"\.\/([^"]+\.js)"/g)) walk(m[1]);
  };
  walk(entry);
  return seen;
}

test("the organizer console's strings are not in the citizens' bundle", () => {
  const files = sharedBundle();
  assert.ok(files.size >= 2, `the entry and its shared chunk: ${[...files.keys()]}`);
  const all = [...files.values()].join('\n');
  // The shared dictionary is there (a citizen's string), the console's strings are not.
  assert.ok(all.includes('Lever la main') || all.includes('Chat'), 'the shared dictionary is in the bundle');
  for (const s of ['Espace organisation', 'Rechercher (nom ou identifiant)', 'Créer les invitations manquantes', 'Exports par sondage, audition et document']) {
    assert.ok(!all.includes(s), `« ${s} » is in the citizens' bundle`);
  }
  // It is in the console's own chunk.
  const dist = join(ROOT, 'web', 'dist');
  const chunk = readdirSync(dist).filter((f) => f.endsWith('.js') && !files.has(f)).map((f) => readFileSync(join(dist, f), 'utf8')).find((t) => t.includes('Espace organisation'));
  assert.ok(chunk && chunk.includes('Rechercher (nom ou identifiant)'), 'the console chunk has its strings');
});

test('among 150 people, the organizer finds one by a name typed without accents, and filters by role and invitation', { timeout: 180000 }, async () => {
  const made = await organizerApi(server, 'POST', '/api/conventions', { name: 'Convention nationale', id: BIG });
  assert.equal(made.status, 201);
  const added = await organizerApi(server, 'POST', `/api/conventions/${BIG}/roster`, bigRoster());
  assert.ok(added.status === 200 || added.status === 201, JSON.stringify(added.body));
  const ids = added.body.added;
  assert.equal(ids.length, 150);
  // Invitations for the first 40, then one of them revoked: 39 active, 111 without.
  const issued = await organizerApi(server, 'POST', `/api/conventions/${BIG}/invites`, { participants: ids.slice(0, 40) });
  assert.equal(issued.body.length, 40, JSON.stringify(issued.body));
  assert.equal((await organizerApi(server, 'DELETE', `/api/conventions/${BIG}/invites/${ids[10]}`)).status, 204);
  const elodie = ids[7];

  const page = await openConsole(LAPTOP);
  await signIn(page, organizerToken());
  await page.click(`li[data-convention=${BIG}] button`);
  const count = page.locator('#org-invitations [data-testid=invite-count]');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="150"]');
  assert.equal(await count.textContent(), '150 sur 150');
  // Said politely to screen readers, whole.
  assert.equal(await count.getAttribute('role'), 'status');
  assert.equal(await count.getAttribute('aria-live'), 'polite');
  assert.equal(await count.getAttribute('aria-atomic'), 'true');
  const items = page.locator('#org-invitations .org-invites > li');
  assert.equal(await items.count(), 150);
  const names = async () => items.locator('.org-inv-who strong').allTextContents();

  // By the label, with the keyboard: « elodie » finds « Élodie Marchand », alone.
  await page.getByLabel('Rechercher (nom ou identifiant)').focus();
  await page.keyboard.type('elodie');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  assert.equal(await count.textContent(), '1 sur 150');
  assert.deepEqual(await names(), ['Élodie Marchand']);
  assert.equal(await items.first().getAttribute('data-participant'), elodie);
  // Upper case, and several words, in any order.
  await page.fill('#org-inv-search', 'MARCHAND élo');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  assert.deepEqual(await names(), ['Élodie Marchand']);
  // By identifier.
  await page.fill('#org-inv-search', ids[42]);
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  assert.equal(await items.first().getAttribute('data-participant'), ids[42]);
  // « helene » finds Hélène, and nobody else.
  await page.fill('#org-inv-search', 'helene');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  assert.deepEqual(await names(), ['Hélène Garnier']);
  // The fields follow in the keyboard's order, each with its label.
  await page.focus('#org-inv-search');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-inv-role');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-inv-state');
  assert.equal(await page.getByLabel('Rôle', { exact: true }).getAttribute('id'), 'org-inv-role');
  assert.equal(await page.getByLabel('Invitation', { exact: true }).getAttribute('id'), 'org-inv-state');

  // By role.
  await page.fill('#org-inv-search', '');
  await page.selectOption('#org-inv-role', 'facilitator');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="2"]');
  assert.deepEqual((await names()).sort(), ['Claire Moreau', 'Karim Haddad']);
  await page.selectOption('#org-inv-role', 'rapporteur');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  assert.deepEqual(await names(), ['Sophie Tessier']);
  // By invitation: 39 active, 111 without (never made, or revoked).
  await page.selectOption('#org-inv-role', '');
  await page.selectOption('#org-inv-state', 'active');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="39"]');
  assert.equal(await count.textContent(), '39 sur 150');
  assert.equal(await page.locator('#org-invitations .org-invites > li[data-active=false]').count(), 0);
  await page.selectOption('#org-inv-state', 'inactive');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="111"]');
  assert.equal(await page.locator(`#org-invitations .org-invites > li[data-participant=${ids[10]}]`).count(), 1, 'the revoked one is without');
  assert.equal(await page.locator('#org-invitations .org-invites > li[data-active=true]').count(), 0);
  // The server tells the revoked invitation from those never made.
  await page.selectOption('#org-inv-state', 'revoked');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  const revoked = page.locator(`#org-invitations .org-invites > li[data-participant=${ids[10]}]`);
  assert.equal(await revoked.getAttribute('data-invitation'), 'revoked');
  assert.equal(await revoked.locator('.badge').textContent(), 'invitation révoquée');
  await page.selectOption('#org-inv-state', 'never');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="110"]');
  assert.equal(await count.textContent(), '110 sur 150');
  assert.equal(await page.locator('#org-invitations .org-invites > li:not([data-invitation=never])').count(), 0);
  // Both: the experts with an invitation (the three are among the first 40).
  await page.selectOption('#org-inv-state', 'active');
  await page.selectOption('#org-inv-role', 'expert');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="3"]');

  // Nobody: « Aucun résultat », said; a button clears everything and gives the focus back.
  await page.selectOption('#org-inv-role', '');
  await page.selectOption('#org-inv-state', '');
  await page.fill('#org-inv-search', 'zoé inexistante');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="0"]');
  assert.equal(await count.textContent(), '0 sur 150');
  assert.equal(await items.count(), 0);
  const empty = page.locator('#org-invitations [data-testid=invite-empty]');
  assert.match(await empty.textContent(), /Aucun résultat\./);
  await empty.locator('button:has-text("Effacer la recherche")').click();
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="150"]');
  assert.equal(await page.inputValue('#org-inv-search'), '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'org-inv-search');
  assert.equal(await empty.count(), 0);

  // Revoking someone the filter then hides: the focus goes back to the search, not to the top.
  // The console never reads the audit trail (it grows with the convention): the invitations'
  // list says each one's state.
  const trailReads = () => page.urls.filter((u) => u.endsWith(`/api/conventions/${BIG}/audit`)).length;
  await page.selectOption('#org-inv-state', 'active');
  await page.fill('#org-inv-search', 'Karim');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="1"]');
  await page.click('#org-invitations [data-testid=revoke]');
  await page.click('#org-invitations [data-testid=confirm-yes]');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="0"]');
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'org-inv-search');
  await page.fill('#org-inv-search', '');
  await page.selectOption('#org-inv-state', 'revoked');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="2"]');
  assert.deepEqual((await names()).sort(), ['Karim Haddad', (bigRoster()[10]).name].sort());
  // An invitation made here leaves « jamais créée » at once.
  await page.selectOption('#org-inv-state', 'never');
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="110"]');
  const first = await items.first().getAttribute('data-participant');
  await items.first().locator('button:has-text("Créer son invitation")').click();
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="109"]');
  await page.selectOption('#org-inv-state', 'active');
  await page.waitForSelector(`#org-invitations li[data-participant=${first}][data-invitation=active]`);
  // Revoked at once: « révoquée », not « jamais créée ».
  await page.fill('#org-inv-search', first);
  await page.click(`#org-invitations li[data-participant=${first}] [data-testid=revoke]`);
  await page.click(`#org-invitations li[data-participant=${first}] [data-testid=confirm-yes]`);
  await page.waitForSelector('#org-invitations [data-testid=invite-count][data-shown="0"]');
  await page.selectOption('#org-inv-state', 'revoked');
  await page.waitForSelector(`#org-invitations li[data-participant=${first}][data-invitation=revoked]`);
  await page.fill('#org-inv-search', '');
  assert.equal(trailReads(), 0, 'the console read the audit trail');
  await page.selectOption('#org-inv-state', '');

  // A new convention has nothing to export yet: each kind says so.
  await page.waitForSelector('#org-item-exports [data-testid=no-polls]');
  assert.match(await page.textContent('#org-item-exports [data-testid=no-polls]'), /Aucun sondage à exporter/);
  assert.match(await page.textContent('#org-item-exports [data-testid=no-hearings]'), /Aucune audition/);
  assert.match(await page.textContent('#org-item-exports [data-testid=no-documents]'), /Aucun document/);

  // English: the same search, in English.
  await page.fill('#org-inv-search', 'elodie');
  await page.selectOption('#org-inv-state', '');
  await page.click('button.lang:has-text("English")');
  await page.waitForSelector('label[for=org-inv-search]:text-is("Search (name or identifier)")');
  assert.equal(await count.textContent(), '1 of 150');
  assert.equal(await page.textContent('#org-item-exports h2'), 'Exports per poll, hearing and document');
  await page.fill('#org-inv-search', 'nobody-here');
  await page.waitForSelector('#org-invitations [data-testid=invite-empty]:has-text("No results.")');
  await page.click('button.lang:has-text("Français")');
  await page.waitForSelector('label[for=org-inv-search]:text-is("Rechercher (nom ou identifiant)")');

  await axe(page, 'organizer console, a search');
  await screenshot(page, 'organizer-search', { element: page.locator('#org-invitations') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

/** Click an export button of the console and return the download's name and bytes, with the
 * answer the page's fetch got (its headers). */
async function downloadExport(page, path) {
  const [response, dl] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${server.base}${path}`),
    page.waitForEvent('download'),
    page.click(`#org-item-exports button[data-export="${path}"]`),
  ]);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()), type: response.headers()['content-type'] };
}

/** The same export as the server gives the organizer. */
async function serverBytes(path) {
  const r = await fetch(`${server.base}${path}`, { headers: { authorization: `Bearer ${organizerToken()}` } });
  assert.equal(r.status, 200, path);
  return Buffer.from(await r.arrayBuffer());
}

test("the exports of each poll, hearing and document, labelled by the poll's question and the hearing's title", { timeout: 180000 }, async () => {
  const page = await openConsole(LAPTOP);
  await signIn(page, organizerToken());
  await page.click('li[data-convention=demo] button');
  await page.waitForSelector('#org-item-exports [data-testid=no-polls]');
  // The demo's opinion is there from the start.
  await page.waitForSelector('#org-item-exports [data-testid=document-exports] li[data-document=opinion]:has-text("Avis citoyen")');

  // A facilitator runs a named poll, a secret one, and a hearing with a question, live. (With
  // links of their own: the phone's test above replaced the first facilitator's.)
  const fresh = async (invite) => (await organizerApi(server, 'POST', '/api/conventions/demo/invites', { participants: [invite.participant] })).body[0];
  const fac = await openAs(browser, server, await fresh(server.role('facilitator')));
  const spec = (question, secret) => ({ question, kind: 'single', options: ['Oui', 'Non'], secret, live_results: false, voters: [], quorum: null, duration_ms: null, room: null });
  await commandOk(fac, { type: 'draft_poll', spec: spec('Faut-il un tarif social pour les transports ?', false) });
  const named = await fac.evaluate(() => window.__convene.snap.polls.at(-1).id);
  await commandOk(fac, { type: 'open_poll', poll: named });
  const voter = await fresh(server.role('citizen', 1));
  const cit = await openAs(browser, server, voter);
  await commandOk(cit, { type: 'vote', poll: named, ballot: { kind: 'single', choice: 0 } });
  await cit.context().close();
  await commandOk(fac, { type: 'close_poll', poll: named });
  await commandOk(fac, { type: 'draft_poll', spec: spec('Adopter la proposition n° 3 ?', true) });
  const secret = await fac.evaluate(() => window.__convene.snap.polls.at(-1).id);
  await commandOk(fac, { type: 'open_poll', poll: secret });
  // A draft is not exported.
  await commandOk(fac, { type: 'draft_poll', spec: spec('Brouillon jamais lancé', false) });
  const expert = server.role('expert').participant;
  await commandOk(fac, { type: 'create_hearing', title: 'Les mobilités de nuit', speaker: expert, room: 'plenary', anonymous: false, moderated: false });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.at(-1).id);
  await commandOk(fac, { type: 'open_hearing', hearing });
  await commandOk(fac, { type: 'ask_hearing_question', hearing, text: 'Combien coûterait un bus de nuit le week-end ?' });
  await commandOk(fac, { type: 'create_document', name: 'annexe', title: 'Annexe : les auditions' });
  await commandOk(fac, { type: 'name_version', document: 'opinion', label: 'Trame de l’avis' });

  // « Actualiser »: they appear, grouped, each labelled, the refresh said.
  await page.click('#org-item-exports [data-testid=refresh-exports]');
  await page.waitForSelector('#org-item-exports [role=status]:has-text("Liste des exports actualisée.")');
  const polls = page.locator('#org-item-exports [data-testid=poll-exports] > li');
  assert.equal(await polls.count(), 2, 'two polls, the draft left out');
  const namedItem = page.locator(`#org-item-exports li[data-poll=${named}]`);
  assert.equal(await namedItem.locator('.org-exp-label strong').textContent(), 'Faut-il un tarif social pour les transports ?');
  assert.match(await namedItem.locator('.org-exp-label').textContent(), /clos/);
  const secretItem = page.locator(`#org-item-exports li[data-poll=${secret}]`);
  assert.match(await secretItem.locator('.org-exp-label').textContent(), /Adopter la proposition n° 3 \? \(ouvert, vote secret\)/);
  assert.equal(await secretItem.locator('button:has-text("Bulletins")').count(), 0, 'no ballots for a secret vote');
  assert.equal(await namedItem.locator('button:has-text("Bulletins nominatifs (CSV)")').count(), 1);
  // Each button names its poll for screen readers.
  assert.match(await namedItem.locator('button:has-text("Résultats (CSV)")').textContent(), /Résultats \(CSV\) — Faut-il un tarif social/);
  const hearingItem = page.locator(`#org-item-exports [data-testid=hearing-exports] li[data-hearing=${hearing}]`);
  assert.match(await hearingItem.locator('.org-exp-label').textContent(), /^Les mobilités de nuit \(ouverte\)$/);
  await page.waitForSelector('#org-item-exports li[data-document=annexe]:has-text("Annexe : les auditions")');

  // The poll's results: CSV (the server's bytes), and the spreadsheet.
  const base = '/api/conventions/demo';
  const csvPath = `${base}/polls/${named}/results?format=csv`;
  const csv = await downloadExport(page, csvPath);
  assert.equal(csv.name, `poll-demo-${named}-results.csv`);
  assert.match(csv.type, /^text\/csv/);
  assert.deepEqual(csv.bytes, await serverBytes(csvPath));
  assert.deepEqual(csv.bytes.toString('utf8').trim().split(/\r?\n/), ['option,count,percent', 'Oui,1,100.0', 'Non,0,0.0']);
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const sheet = await downloadExport(page, `${base}/polls/${named}/results?format=xlsx&lang=fr&tz=${encodeURIComponent(zone)}`);
  assert.equal(sheet.name, `poll-demo-${named}-results.xlsx`);
  assert.equal(sheet.type, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  assert.equal(sheet.bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'an .xlsx is a zip file');
  assert.ok(sheet.bytes.includes(Buffer.from('xl/worksheets/sheet1.xml')), 'with a worksheet');
  // The named ballots: the citizen's vote, by name.
  const ballotsPath = `${base}/polls/${named}/ballots?format=csv`;
  const ballots = await downloadExport(page, ballotsPath);
  assert.equal(ballots.name, `poll-demo-${named}-ballots.csv`);
  assert.deepEqual(ballots.bytes, await serverBytes(ballotsPath));
  assert.match(ballots.bytes.toString('utf8'), new RegExp(voter.name));
  const ballotsSheet = await downloadExport(page, `${base}/polls/${named}/ballots?format=xlsx&lang=fr&tz=${encodeURIComponent(zone)}`);
  assert.equal(ballotsSheet.bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04');

  // The hearing's questions.
  const qPath = `${base}/hearings/${hearing}/questions?format=csv`;
  const questions = await downloadExport(page, qPath);
  assert.equal(questions.name, `hearing-demo-${hearing}-questions.csv`);
  assert.deepEqual(questions.bytes, await serverBytes(qPath));
  const qLines = questions.bytes.toString('utf8').trim().split(/\r?\n/);
  assert.match(qLines[0], /^id,asked_at,author,status,supports/);
  assert.match(qLines[1], /Combien coûterait un bus de nuit le week-end \?/);
  const qJson = await downloadExport(page, `${base}/hearings/${hearing}/questions`);
  assert.equal(JSON.parse(qJson.bytes.toString('utf8')).hearing.title, 'Les mobilités de nuit');

  // The opinion, as Markdown and as a web page.
  const mdPath = `${base}/documents/opinion/export?format=md`;
  const md = await downloadExport(page, mdPath);
  assert.equal(md.name, 'opinion.md');
  assert.match(md.type, /^text\/markdown/);
  assert.match(md.bytes.toString('utf8'), /^# Avis citoyen/);
  assert.deepEqual(md.bytes, await serverBytes(mdPath));
  const html = await downloadExport(page, `${base}/documents/opinion/export?format=html`);
  assert.equal(html.name, 'opinion.html');
  assert.match(html.type, /^text\/html/);
  assert.match(html.bytes.toString('utf8'), /<h1>Avis citoyen<\/h1>/);
  // Its named version, by its label.
  const version = page.locator('#org-item-exports li[data-document=opinion] li[data-version="1"]');
  assert.equal(await version.locator('.org-exp-label strong').textContent(), 'Version 1 : Trame de l’avis');
  const v1Path = `${base}/documents/opinion/export?format=md&version=1`;
  const v1 = await downloadExport(page, v1Path);
  assert.equal(v1.name, 'opinion-v1.md');
  assert.equal(v1.bytes.toString('utf8').split('\n')[0], '# Avis citoyen (Trame de l’avis)');
  assert.deepEqual(v1.bytes, await serverBytes(v1Path));

  // In English, the same list.
  await page.click('button.lang:has-text("English")');
  await page.waitForSelector('#org-item-exports h3:text-is("Hearings")');
  assert.equal(await namedItem.locator('button:has-text("Results (CSV)")').count(), 1);
  await page.click('button.lang:has-text("Français")');

  await axe(page, 'organizer console, exports');
  await screenshot(page, 'organizer-exports', { element: page.locator('#org-item-exports') });
  assert.deepEqual(page.errors, []);
  assert.deepEqual(fac.errors, []);
  await fac.context().close();
  await page.context().close();
});
