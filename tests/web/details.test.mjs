// Small things people notice, on a 360x740 phone: the landing page's language button is
// visible and a truncated invitation link says so; "Présent·es" lists who is present, with
// French plurals; the rotation set-up checks its round length and warning in the page (no
// browser pop-up); an expert is not offered to question themselves; the opinion: proposal
// titles wrap, toolbar buttons say what they do, others' names do not stay over the text,
// and leaving the tab throws no error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, tab, command, PHONE, LAPTOP, server, browser, useServerAndBrowser, commandOk as ok } from './harness.mjs';

useServerAndBrowser();


test('the landing page: a visible language button, and a truncated link that says so', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ viewport: PHONE, locale: 'fr-FR' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const token = server.token(server.role('citizen', 0));
  // A link cut where the mail wrapped its line.
  await page.goto(`${server.base}/#token=${token.slice(0, token.length - 9)}`);
  await page.waitForSelector('#invite-err[data-problem=truncated]:has-text("Le lien que vous avez ouvert est incomplet")');
  // The language button can be seen: its text and its background differ, and it is in view.
  const look = await page.$eval('button.lang', (b) => {
    const s = getComputedStyle(b);
    const r = b.getBoundingClientRect();
    return { color: s.color, background: s.backgroundColor, inView: r.top >= 0 && r.bottom <= innerHeight && r.width > 0 };
  });
  assert.ok(look.inView, 'the language button is in view');
  assert.notEqual(look.color, look.background, `the language button is visible: ${JSON.stringify(look)}`);
  assert.notEqual(look.color, 'rgb(255, 255, 255)', 'no white text on the white page');
  await axe(page, 'landing with a truncated link (phone)');
  // Pasting a cut link says so too; a whole one joins.
  await page.fill('#invite', `${server.base}/#token=${token.slice(0, 20)}`);
  await page.click('button:has-text("Rejoindre")');
  await page.waitForSelector('#invite-err[data-problem=truncated]:has-text("Ce lien d\'invitation est incomplet")');
  await page.fill('#invite', 'bonjour');
  await page.click('button:has-text("Rejoindre")');
  await page.waitForSelector('#invite-err[data-problem=bad]:has-text("n\'est pas reconnu")');
  await page.click('button.lang');
  await page.waitForSelector('label:has-text("Or paste your invitation link here")');
  await page.click('button.lang');
  await page.fill('#invite', `${server.base}/#token=${token}`);
  await page.click('button:has-text("Rejoindre")');
  await waitState(page, (c) => c && c.status === 'open');
  assert.deepEqual(errors, []);
  await context.close();
});

test('"Présent·es" lists who is present; French plurals', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const a = await openAs(browser, server, server.role('citizen', 1), { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 2));
  const away = server.role('citizen', 5);
  const g = await openAs(browser, server, server.role('guarantor'));
  // The people of the plenary: those online are listed as present, the others folded away.
  await waitState(a, (c) => c.snap.participants.filter((p) => p.online).length >= 4);
  const online = await a.evaluate(() => window.__convene.snap.participants.filter((p) => p.room === 'plenary' && p.online && !p.roles.includes('guarantor')).length);
  const count = await a.textContent('[data-testid=present-count]');
  assert.equal(count, `${online} personnes présentes`);
  const present = await a.locator('[data-testid=present] li').allTextContents();
  assert.equal(present.length, online);
  assert.ok(!present.some((x) => x.includes(away.name)), 'nobody away is listed as present');
  assert.ok(present.some((x) => x.includes(server.role('citizen', 2).name)));
  assert.match(await a.textContent('.people-away summary'), /^\d+ personnes absentes de cette salle$/);
  await a.click('.people-away summary');
  assert.ok((await a.locator('[data-testid=away] li').allTextContents()).some((x) => x.includes(away.name)));
  // One guarantor: singular.
  await a.waitForSelector('.people :text("1 garant·e observe cette salle")');
  // A room with one person: singular, and the queue of one is "en tête".
  await ok(fac, { type: 'create_rooms', names: ['Salle du fond'] });
  await ok(fac, { type: 'move_participant', participant: server.role('citizen', 1).participant, room: 'r1' });
  await a.waitForSelector('[data-testid=moved]');
  await a.click('[data-testid=moved] button:has-text("J\'ai compris")');
  await a.waitForSelector('[data-testid=present-count]:text-is("1 personne présente")');
  assert.equal(await a.locator('.people-away').count(), 0);
  await a.click('button:has-text("Lever la main")');
  await a.waitForSelector('.queue h3:has-text("File des mains levées (1)")');
  await a.waitForSelector('.hand-place:has-text("Votre main est levée : vous êtes en tête de la file.")');
  await axe(a, 'phone: present and away');
  for (const page of [fac, a, b, g]) assert.deepEqual(page.errors, []);
});

test('the rotation set-up checks round length and warning in the page; an expert does not question themselves', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'), { viewport: PHONE });
  const expertInvite = server.role('expert', 0);
  const expert = await openAs(browser, server, expertInvite, { viewport: PHONE });
  const cits = [];
  for (const i of [6, 7, 8, 9]) cits.push(await openAs(browser, server, server.role('citizen', i)));
  const popups = [];
  fac.on('dialog', (d) => { popups.push(d.message()); d.dismiss(); });
  await tab(fac, 'rotation');
  const form = fac.locator('#rot-plan');
  const round = form.getByLabel("Durée d'un tour (minutes)");
  const warning = form.getByLabel('Prévenir avant la fin (minutes)');
  await round.fill('0');
  await form.locator('button:has-text("Planifier la rotation")').click();
  await form.locator('[data-testid=plan-errors]:has-text("1 champ est à corriger.")').waitFor();
  await form.locator('.field-error:has-text("La durée d\'un tour doit être un nombre de minutes, plus que 0")').waitFor();
  assert.equal(await round.getAttribute('aria-invalid'), 'true');
  assert.equal(await fac.evaluate(() => document.activeElement.id), await round.getAttribute('id'), 'the focus goes to the field to correct');
  await axe(fac, 'phone: rotation set-up with errors');
  // A warning as long as the round, and a round that is no number.
  await round.fill('10');
  await warning.fill('10');
  await form.locator('button:has-text("Planifier la rotation")').click();
  await form.locator('.field-error:has-text("Prévenez moins longtemps avant la fin que la durée d\'un tour.")').waitFor();
  await round.fill('dix');
  await form.locator('button:has-text("Planifier la rotation")').click();
  await form.locator('[data-testid=plan-errors]:has-text("1 champ est à corriger.")').waitFor();
  assert.equal(await fac.evaluate(() => window.__convene.snap.rotation), null, 'nothing was sent');
  assert.deepEqual(popups, [], 'no browser pop-up');
  // Corrected (a decimal comma is fine): planned.
  await round.fill('12,5');
  await warning.fill('2');
  await form.locator('button:has-text("Planifier la rotation")').click();
  await waitState(fac, (c) => c.snap.rotation && c.snap.rotation.plan.round_ms === 750000);
  assert.equal(await fac.locator('[data-testid=plan-errors]').count(), 0);

  // The rotation runs: the expert is in their room, and is not offered to question themselves;
  // a citizen in that room is.
  await ok(fac, { type: 'start_rotation' });
  await waitState(expert, (c) => c.snap.participants.find((p) => p.id === c.you.id).room !== 'plenary');
  const room = await expert.evaluate(() => { const c = window.__convene; return c.snap.participants.find((p) => p.id === c.you.id).room; });
  await expert.click('[data-testid=moved] button:has-text("J\'ai compris")');
  await expert.waitForSelector('#questions');
  assert.equal(await expert.locator('#questions form').count(), 0, 'no question form in the expert\'s own room');
  await tab(expert, 'rotation');
  assert.equal(await expert.locator('#rot-questions form:has-text("Votre question à l\'expert·e")').count(), 0);
  let asker = null;
  for (const page of cits) {
    await waitState(page, (c) => c.snap.rotation && c.snap.rotation.phase.state === 'round');
    const here = await page.evaluate(() => { const c = window.__convene; return c.snap.participants.find((p) => p.id === c.you.id).room; });
    if (here === room) asker = page;
  }
  if (asker) {
    await asker.waitForSelector('#questions form:has-text("Votre question à l\'expert·e")');
    await asker.fill('#questions input', 'Combien coûterait un bus de nuit ?');
    await asker.click('#questions button:has-text("Poser la question")');
    // The expert answers it, from the same room.
    await expert.waitForSelector('#rot-questions :text("Combien coûterait un bus de nuit ?")');
    assert.ok(await expert.isVisible('#rot-questions form button:has-text("Répondre")'));
  }
  await ok(fac, { type: 'stop_rotation' });
  for (const page of [fac, expert, ...cits]) assert.deepEqual(page.errors, []);
});

test('the opinion on a phone: titles wrap, buttons say what they do, names leave the text, no error on leaving', { timeout: 120000 }, async () => {
  const lucie = server.who('Lucie Rapporteuse');
  const antoine = server.who('Antoine Rapporteur');
  const a = await openAs(browser, server, lucie, { viewport: PHONE });
  const b = await openAs(browser, server, antoine, { viewport: LAPTOP });
  for (const page of [a, b]) await page.waitForSelector('.editor-status .badge:has-text("À jour")', { timeout: 20000 });

  // Every toolbar button has visible words, and the argument buttons say what they make.
  const labels = await a.$$eval('.toolbar button', (bs) => bs.map((x) => {
    const seen = x.cloneNode(true);
    for (const sr of seen.querySelectorAll('.sr-only')) sr.remove();
    return seen.textContent.trim();
  }));
  assert.ok(labels.length >= 12 && labels.every((l) => /\p{L}{3,}/u.test(l)), `visible words: ${JSON.stringify(labels)}`);
  for (const words of ['Gras', 'Italique', 'Titre', 'Sous-titre', 'Liste', '+ Proposition', 'argument pour', 'argument contre', 'nuance', 'position minoritaire', 'Annuler', 'Rétablir']) {
    assert.ok(labels.includes(words), `a button "${words}": ${JSON.stringify(labels)}`);
  }
  assert.match(await a.textContent('.toolbar'), /Ce paragraphe :/);

  // A long proposal title wraps inside the phone's width.
  await a.click('.doc-editor');
  await a.keyboard.type('Introduction.');
  await a.click('.toolbar button:has-text("+ Proposition")');
  const title = a.locator('.doc-editor .proposal-title').first();
  await title.waitFor();
  const long = 'Des bus de nuit gratuits le vendredi et le samedi entre le centre de Nantes et toutes les communes de la métropole';
  await title.fill(long);
  await a.keyboard.press('Enter');
  await a.keyboard.type('Le texte de la proposition.');
  const box = await title.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, height: el.getBoundingClientRect().height, right: el.getBoundingClientRect().right, line: parseFloat(getComputedStyle(el).lineHeight) }));
  assert.ok(box.scroll <= box.client + 1, `no text runs off: ${JSON.stringify(box)}`);
  assert.ok(box.height > 2 * box.line, `the title takes several lines: ${JSON.stringify(box)}`);
  assert.ok(box.right <= 360, `within the phone's width: ${JSON.stringify(box)}`);
  await b.waitForFunction((t) => { const i = document.querySelector('.doc-editor .proposal-title'); return i && i.value === t; }, long);
  await b.waitForSelector('.doc-editor .proposal-body :text("Le texte de la proposition.")');
  await axe(a, 'phone: the opinion editor');

  // The other rapporteur's name shows for a moment by their cursor, then leaves the text.
  await b.click('.doc-editor .proposal-body p');
  await b.keyboard.press('End');
  await b.keyboard.type(' Relu.');
  const label = `.ProseMirror-yjs-cursor:has-text("${antoine.name}") > div`;
  await a.waitForSelector(label, { state: 'attached' });
  await a.waitForTimeout(3600);
  const style = await a.$eval(label, (el) => ({ opacity: getComputedStyle(el).opacity, visibility: getComputedStyle(el).visibility }));
  assert.deepEqual(style, { opacity: '0', visibility: 'hidden' }, 'the name no longer covers the text');
  assert.ok(await a.isVisible(`.peers :text("${antoine.name}")`), 'the names stay listed above the text');

  // Leaving the tab (and coming back, and leaving again) while the other one writes.
  await tab(a, 'room');
  await b.keyboard.type(' Encore.');
  await a.waitForTimeout(400);
  await tab(a, 'opinion');
  await a.waitForSelector('.editor-status .badge:has-text("À jour")', { timeout: 20000 });
  await b.keyboard.type(' Et encore.');
  await a.waitForTimeout(200);
  await tab(a, 'polls');
  await b.keyboard.type(' Fin.');
  await a.waitForTimeout(800);
  assert.deepEqual(a.errors, [], 'no error on leaving the opinion');
  assert.deepEqual(b.errors, []);
});
