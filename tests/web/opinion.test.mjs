// A rapporteur writes the opinion (a proposal with its title, an argument for, a minority
// position) in the collaborative editor over the server's y-websocket endpoint; a second
// rapporteur sees it live with the first one's cursor and name; a citizen reads it and cannot
// write; a named version, the differences since, and the HTML export.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, axe, tab, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

async function editorReady(page) {
  await page.waitForSelector('.doc-editor');
  await page.waitForSelector('.editor-status .badge:has-text("À jour")', { timeout: 20000 });
}

test('a rapporteur types in the opinion and a second browser sees it', { timeout: 150000 }, async () => {
  const lucie = server.who('Lucie Rapporteuse');
  const antoine = server.who('Antoine Rapporteur');
  const a = await openAs(browser, server, lucie);
  const b = await openAs(browser, server, antoine, { viewport: PHONE });
  const citizen = await openAs(browser, server, server.role('citizen', 0));

  // A rapporteur's main view is the opinion.
  assert.equal(await a.getAttribute('main', 'data-view'), 'opinion');
  await editorReady(a);
  await editorReady(b);

  await a.click('.doc-editor');
  await a.keyboard.type("Préambule de l'avis citoyen");
  await a.click('.toolbar button:has-text("Ajouter une proposition")');
  const title = a.locator('.doc-editor .proposal-title').first();
  await title.waitFor();
  await title.fill('Bus de nuit gratuits');
  await a.click('.doc-editor .proposal-body p');
  await a.keyboard.type('Rendre les bus de nuit gratuits le week-end.');
  await a.keyboard.press('Enter');
  await a.keyboard.type('Les jeunes rentreraient plus sûrement.');
  await a.click('.toolbar button:has-text("Faire de ce paragraphe un argument pour")');
  await a.keyboard.press('Enter');
  await a.keyboard.type('Le coût pour la métropole est trop élevé.');
  await a.click('.toolbar button:has-text("Faire de ce paragraphe une position minoritaire")');

  // The second rapporteur sees it all, with the structure.
  await b.waitForSelector('.doc-editor :text("Préambule de l\'avis citoyen")');
  await b.waitForSelector('.doc-editor .argument.arg-for:has-text("Les jeunes rentreraient plus sûrement.")');
  await b.waitForSelector('.doc-editor .minority:has-text("Le coût pour la métropole est trop élevé.")');
  await b.waitForFunction(() => {
    const i = document.querySelector('.doc-editor .proposal-title');
    return i && i.value === 'Bus de nuit gratuits';
  });
  // ...and who else is in the document, with their cursor.
  await b.waitForSelector(`.peers :text("${lucie.name}")`);
  await b.waitForSelector(`.ProseMirror-yjs-cursor:has-text("${lucie.name}")`);
  await a.waitForSelector(`.peers :text("${antoine.name}")`);

  // The second rapporteur is typing in the title when the first one changes it: the field
  // takes the new title at once, the caret stays where it was in the text, and what they
  // type next adds to it instead of writing over it.
  const bTitle = b.locator('.doc-editor .proposal-title').first();
  await bTitle.click();
  await b.keyboard.press('Home');
  await title.fill('Bus de nuit gratuits le week-end');
  await b.waitForFunction(() => document.querySelector('.doc-editor .proposal-title').value === 'Bus de nuit gratuits le week-end');
  assert.equal(await b.evaluate(() => document.activeElement.classList.contains('proposal-title')), true);
  await b.keyboard.type('Des ');
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelector('.doc-editor .proposal-title').value === 'Des Bus de nuit gratuits le week-end');
  }

  // The second rapporteur writes too; the first sees it.
  await b.click('.doc-editor .minority');
  await b.keyboard.press('Control+End');
  await b.keyboard.type(' (avis de trois personnes)');
  await a.waitForSelector('.doc-editor .minority:has-text("(avis de trois personnes)")');

  // A citizen reads the opinion, read-only.
  await tab(citizen, 'opinion');
  await editorReady(citizen);
  await citizen.waitForSelector('.doc-editor .minority:has-text("(avis de trois personnes)")');
  assert.equal(await citizen.getAttribute('.doc-editor', 'contenteditable'), 'false');
  assert.equal(await citizen.locator('.toolbar').count(), 0);
  await citizen.waitForSelector('.editor-status :text("Lecture seule")');
  await axe(citizen, 'opinion, read-only');

  // A named version, then a change, then the differences.
  await a.fill('#versions input[type=text]', 'Première lecture');
  await a.click('#versions button:has-text("Nommer la version actuelle")');
  await a.waitForSelector('#versions li:has-text("1. Première lecture")');
  await b.waitForSelector('#versions li:has-text("1. Première lecture")');
  await a.click('.doc-editor .proposal-body p >> nth=0');
  await a.keyboard.press('End');
  await a.keyboard.type(' Aussi en semaine.');
  await b.waitForSelector('.doc-editor :text("Aussi en semaine.")');
  await a.waitForTimeout(300);
  await a.click('#versions button:has-text("Comparer")');
  await a.waitForSelector('.diff .diff-line.insert:has-text("Aussi en semaine.")');
  await a.waitForSelector('.diff .diff-line.delete');
  await axe(a, 'opinion editor with versions and differences');

  // The export has the structure the server reads out of the document.
  const html = await a.evaluate(async () => {
    const c = window.__convene;
    const r = await fetch(`/api/conventions/${c.snap.convention.id}/documents/opinion/export?format=html`, { headers: { authorization: `Bearer ${c.token}` } });
    return r.text();
  });
  assert.match(html, /Proposition 1 : Des Bus de nuit gratuits le week-end/);
  assert.match(html, /Arguments pour/);
  assert.match(html, /Les jeunes rentreraient plus sûrement\./);
  assert.match(html, /Position minoritaire<\/strong> : Le coût pour la métropole est trop élevé\. \(avis de trois personnes\)/);

  // The facilitator opens the writing to the plenary's citizens: the citizen can write.
  const fac = await openAs(browser, server, server.role('facilitator'));
  await tab(fac, 'opinion');
  await fac.click('#writing li:has-text("Plénière") button:has-text("Ouvrir l\'écriture")');
  await waitState(citizen, () => c.snap.documents[0].can_write === true);
  await citizen.waitForSelector('.toolbar');
  assert.equal(await citizen.getAttribute('.doc-editor', 'contenteditable'), 'true');
  await citizen.click('.doc-editor :text("Préambule")');
  await citizen.keyboard.press('End');
  await citizen.keyboard.type(' — relu par les citoyens');
  await a.waitForSelector('.doc-editor :text("relu par les citoyens")');
  for (const page of [a, b, citizen, fac]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
    assert.deepEqual(page.errors, []);
  }
});
