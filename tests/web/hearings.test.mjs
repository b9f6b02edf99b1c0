// A hearing from the pages: the facilitator prepares and opens an anonymous hearing of an
// expert in the plenary; two citizens, on phones, ask and support; the facilitator merges a
// duplicate and marks a question being answered, then answered; the speaker's page shows the
// list ordered by support, live, without authors, and as the server's snapshot has it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, freshSnapshot, waitState, tab, axe, screenshot, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

const LIST = '[data-testid=hearing-questions] > li';

/** The question ids in the order the page lists them. */
const order = (page) => page.$$eval(LIST, (els) => els.map((e) => Number(e.dataset.questionId)));

/** Wait until the page lists exactly these question ids, in this order. */
async function waitOrder(page, ids, label) {
  try {
    await page.waitForFunction(
      ([sel, want]) => JSON.stringify([...document.querySelectorAll(sel)].map((e) => Number(e.dataset.questionId))) === JSON.stringify(want),
      [LIST, ids],
      { timeout: 10000 },
    );
  } catch (e) {
    assert.deepEqual(await order(page), ids, label);
  }
}

/** The hearing's questions in a fresh snapshot the server gives this person now. */
async function freshQuestions(page) {
  return (await freshSnapshot(page)).hearings[0].questions;
}

async function ask(page, text) {
  const before = await page.evaluate(() => window.__convene.snap.hearings[0].yours.length);
  // Anonymous, and said honestly: to the room and the speaker, not to the staff.
  await page.getByLabel('Votre question (anonyme pour la salle et l’intervenant·e ; l’équipe d’animation et les garant·es voient votre nom)', { exact: true }).fill(text);
  await page.click('[data-testid=hearing-ask] button:has-text("Poser une question")');
  await waitState(page, (c, n) => c.snap.hearings[0].yours.length > n, before);
  return page.evaluate(() => { const y = window.__convene.snap.hearings[0].yours; return y[y.length - 1]; });
}

test('citizens ask and support, the facilitator merges and answers, the speaker follows live', { timeout: 150000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const anne = await openAs(browser, server, server.role('citizen', 0), { viewport: PHONE });
  const bruno = await openAs(browser, server, server.role('citizen', 1), { viewport: PHONE });
  const expertInvite = server.role('expert', 0);
  const speaker = await openAs(browser, server, expertInvite);

  // The facilitator prepares the hearing and opens it.
  await tab(fac, 'hearing');
  const prep = fac.locator('#hearing-new');
  await prep.getByLabel('Titre').fill('Les mobilités de nuit');
  await prep.getByLabel('Intervenant·e (expert·e)').selectOption({ label: expertInvite.name });
  await prep.getByLabel('Questions anonymes').check();
  await prep.locator('button:has-text("Préparer")').click();
  await fac.waitForSelector('[data-hearing=h1][data-status=planned]');
  await fac.click('[data-hearing=h1] button:has-text("Ouvrir l’audition")');
  await fac.waitForSelector('[data-hearing=h1][data-status=open]');

  // Everyone in the plenary gets the tab; the citizens ask, on their phones.
  for (const page of [anne, bruno, speaker]) {
    await page.waitForSelector('nav [data-tab=hearing]');
    await tab(page, 'hearing');
    await page.waitForSelector('h2:has-text("Audition : Les mobilités de nuit")');
  }
  // The speaker is heard: no form to ask.
  assert.equal(await speaker.locator('[data-testid=hearing-ask]').count(), 0, 'the speaker asks nothing');
  const q1 = await ask(anne, 'Combien coûterait un bus de nuit le week-end ?');
  const q2 = await ask(bruno, 'Qui conduira les bus la nuit ?');
  const q3 = await ask(bruno, 'Quel serait le coût d’un bus de nuit ?');
  await waitOrder(speaker, [q1, q2, q3], 'no support yet: oldest first');
  // Anonymous: the speaker sees no author.
  assert.equal(await speaker.locator(`${LIST}:has-text("Anonyme")`).count(), 3);
  for (const who of [server.role('citizen', 0).name, server.role('citizen', 1).name]) {
    assert.equal(await speaker.locator(`[data-testid=hearing-questions]:has-text("${who}")`).count(), 0, `${who} shown to the speaker`);
  }

  // Anne supports q2: it goes first for the speaker, live.
  await anne.click(`${LIST}[data-question-id="${q2}"] [data-testid=support]`);
  await anne.waitForSelector(`${LIST}[data-question-id="${q2}"] [data-testid=withdraw]`);
  await waitOrder(speaker, [q2, q1, q3], 'q2 supported');
  await speaker.waitForSelector(`${LIST}[data-question-id="${q2}"] [data-testid=supports]:has-text("1 soutien")`);
  // Her own question offers no support button; Bruno's withdrawn-then-given support counts once.
  assert.equal(await anne.locator(`${LIST}[data-question-id="${q1}"] [data-testid=support]`).count(), 0);
  await bruno.click(`${LIST}[data-question-id="${q1}"] [data-testid=support]`);
  await bruno.click(`${LIST}[data-question-id="${q1}"] [data-testid=withdraw]`);
  await bruno.waitForSelector(`${LIST}[data-question-id="${q1}"] [data-testid=support]`);
  await waitOrder(speaker, [q2, q1, q3], 'support withdrawn');

  // The facilitator merges Bruno's duplicate q3 into q1: Bruno now supports q1, which ties
  // with q2 and, older, goes first.
  await tab(fac, 'hearing');
  const dup = fac.locator(`#hearing-h1 ${LIST}[data-question-id="${q3}"]`);
  await dup.locator('summary').click();
  await dup.locator('[data-testid=merge-into]').selectOption(String(q1));
  await dup.locator('[data-testid=merge]').click();
  await waitOrder(speaker, [q1, q2], 'q3 merged into q1');
  await speaker.waitForSelector(`${LIST}[data-question-id="${q1}"] [data-testid=supports]:has-text("1 soutien")`);
  await waitState(bruno, (c, q) => c.snap.hearings[0].supported.includes(q), q1);
  await bruno.waitForSelector(`${LIST}[data-question-id="${q1}"] [data-testid=withdraw]`);
  // Bruno's own question left his list: he is told that it joined q1, in words.
  await bruno.waitForSelector('[data-testid=my-question-outcome]:has-text("Votre question a été regroupée avec une question semblable, « Combien coûterait")');
  assert.equal(await bruno.locator(`${LIST}[data-question-id="${q3}"]`).count(), 0);
  assert.equal(await anne.locator('[data-testid=my-question-outcome]').innerText(), '', 'Anne, whose question stays, is told nothing');

  // Being answered, then answered: everyone sees it.
  await fac.click(`#hearing-h1 ${LIST}[data-question-id="${q1}"] [data-testid=mark-answering]`);
  await speaker.waitForSelector('[data-testid=answering]:has-text("En cours de réponse : Combien coûterait")');
  await anne.waitForSelector(`${LIST}[data-question-id="${q1}"][data-status=answering]:has-text("En cours de réponse")`);
  await fac.click(`#hearing-h1 ${LIST}[data-question-id="${q1}"] [data-testid=mark-answered]`);
  await speaker.waitForSelector(`${LIST}[data-question-id="${q1}"][data-status=answered]:has-text("Répondu")`);
  await anne.waitForSelector(`${LIST}[data-question-id="${q1}"][data-status=answered]`);

  // The pages hold what the server's snapshot says.
  for (const page of [speaker, anne, bruno]) {
    const mine = await page.evaluate(() => window.__convene.snap.hearings[0].questions);
    assert.deepEqual(mine, await freshQuestions(page));
  }

  // A phone shows it all without scrolling sideways; no serious accessibility fault.
  for (const page of [anne, bruno]) {
    const wide = await page.evaluate(() => document.scrollingElement.scrollWidth);
    assert.ok(wide <= PHONE.width, `the page is ${wide}px wide on a 360px phone`);
  }
  await screenshot(anne, 'hearing-citizen-phone');
  await screenshot(fac, 'hearing-facilitator');
  await axe(anne, 'hearing, citizen on a phone');
  await axe(fac, 'hearing, facilitator');
  await axe(speaker, 'hearing, speaker');
  for (const page of [fac, anne, bruno, speaker]) assert.deepEqual(page.errors, []);
});
