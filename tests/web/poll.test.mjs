// A secret poll, drafted in the facilitator's builder, opened, voted from two browsers (the
// secret ballot is confirmed after a warning, then shown as recorded, never as what it was),
// followed live by the facilitator, closed and published: the citizens see the results.
// Then a named ranking poll, to vote by reordering and see the instant-runoff rounds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, tab, axe, command, answerAsked, waitState, PHONE, assertMatchesServer, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

const QUESTION = 'Proposition 12 : rendre les bus gratuits la nuit, le week-end';

test('a secret poll is opened, voted from two browsers and published', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const a = await openAs(browser, server, server.role('citizen', 0), { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 1));

  await tab(fac, 'polls');
  await fac.fill('#poll-builder textarea >> nth=0', QUESTION);
  await fac.selectOption('#poll-builder select >> nth=0', 'position');
  await fac.check('#poll-builder label:has-text("Vote secret") input');
  await fac.click('#poll-builder button:has-text("Enregistrer le brouillon")');
  const draft = fac.locator('article.poll', { hasText: QUESTION });
  await draft.locator('.badge:has-text("brouillon")').waitFor();
  await axe(fac, 'poll builder with a draft');
  await draft.locator('button:has-text("Ouvrir le vote")').click();
  await draft.locator('.badge:has-text("ouvert")').waitFor();

  for (const [page, stance] of [[a, 'Pour'], [b, 'Contre']]) {
    await page.waitForSelector('nav [data-tab=polls] .count-badge');
    // The poll comes as a dialog (asked.test.mjs); here, the polls tab's card is used.
    await answerAsked(page, 'Voir les sondages');
    await page.waitForSelector('main[data-view=polls]');
    const card = page.locator('article.poll', { hasText: QUESTION });
    await card.locator('.secret-warning:has-text("Ce vote est secret : une fois envoyé, il ne pourra plus être modifié.")').waitFor();
    await card.locator(`label.choice:has-text("${stance}") input`).first().check();
    await card.locator('button:has-text("Voter")').click();
    // The confirmation before a final ballot.
    await card.locator('.confirm:has-text("Confirmer votre vote")').waitFor();
    if (page === a) await axe(a, 'secret ballot confirmation (phone)');
    await card.locator('button:has-text("Confirmer mon vote")').click();
    await card.locator('.voted:has-text("Votre vote a été enregistré.")').waitFor();
    // Recorded, never shown back, and no second ballot form.
    assert.equal(await card.locator('form.ballot').count(), 0);
    assert.ok(!(await card.textContent()).includes(`« ${stance} »`));
  }

  // The facilitator follows participation live, not the count of a secret poll.
  await draft.locator('.participation:has-text("2 votes sur")').waitFor();
  await draft.locator('[data-testid=count-hidden]').waitFor();
  assert.equal(await draft.locator('.results').count(), 0);
  // Citizens do not see the tally before publication.
  assert.equal(await a.locator('article.poll .results').count(), 0);

  await draft.locator('button:has-text("Clore le vote")').click();
  await draft.locator('[data-testid=confirm-yes]').click();
  await draft.locator('.badge:has-text("clos")').waitFor();
  await a.waitForSelector('article.poll:has-text("les résultats seront publiés")');
  await draft.locator('button:has-text("Publier les résultats")').click();
  await draft.locator('[data-testid=confirm]:has-text("la page publique aussi")').waitFor();
  await draft.locator('[data-testid=confirm-yes]').click();
  for (const page of [a, b]) {
    // Announced by the dialog, and on the card.
    await answerAsked(page, 'Fermer');
    const card = page.locator('article.poll', { hasText: QUESTION });
    await card.locator('.results:has-text("Résultats publiés")').waitFor();
    const text = (await card.locator('.results').textContent()).replace(/\s/g, ' ');
    assert.match(text, /Égalité entre « Pour », « Contre » \(1 voix chacune\)\./);
    assert.match(text, /Pour1 voix \(50 %\)/);
    assert.match(text, /Contre1 voix \(50 %\)/);
  }
  await axe(b, 'published results');
  for (const page of [fac, a, b]) await assertMatchesServer(page, 'after a secret poll');

  // A second ballot in a secret poll is refused by the server, even from a hand-made request.
  const pollId = await a.evaluate((q) => window.__convene.snap.polls.find((p) => p.spec.question === q).id, QUESTION);
  const again = await command(a, { type: 'vote', poll: pollId, ballot: { kind: 'position', stance: 'abstain' } });
  assert.equal(again.ok, false);
});

test('a named ranking poll: reorder, vote, change the vote, see the rounds', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  const a = await openAs(browser, server, server.role('citizen', 2));
  await tab(fac, 'polls');
  await fac.fill('#poll-builder textarea >> nth=0', 'Classez ces priorités');
  await fac.selectOption('#poll-builder select >> nth=0', 'ranking');
  await fac.fill('#poll-builder textarea >> nth=1', 'Transports de nuit\nLogement des jeunes\nIsolement des personnes âgées');
  await fac.check('#poll-builder label:has-text("Résultats visibles pendant le vote") input');
  await fac.click('#poll-builder button:has-text("Enregistrer le brouillon")');
  const card = fac.locator('article.poll', { hasText: 'Classez ces priorités' });
  await card.locator('button:has-text("Ouvrir le vote")').click();
  await card.locator('.badge:has-text("ouvert")').waitFor();

  await answerAsked(a, 'Voir les sondages');
  const mine = a.locator('article.poll', { hasText: 'Classez ces priorités' });
  const order = () => mine.locator('ol.ranking .rank-label').allTextContents();
  // Move "Isolement des personnes âgées" to the top with the keyboard-reachable arrows
  // (the starting order is this voter's own).
  while ((await order())[0] !== 'Isolement des personnes âgées') await mine.locator('button:has-text("Monter « Isolement des personnes âgées »")').click();
  const first = await order();
  await mine.locator('button:has-text("Voter")').click();
  await mine.locator(`.voted:has-text("${first.join(' > ')}")`).waitFor();
  // Live results: the citizen sees the winner, in words.
  await mine.locator('.results:has-text("« Isolement des personnes âgées » est retenue")').waitFor();
  // A named vote may change until the close.
  await mine.locator('button:has-text("Descendre « Isolement des personnes âgées »")').click();
  const second = await order();
  await mine.locator('button:has-text("Changer mon vote")').click();
  await mine.locator(`.voted:has-text("${second.join(' > ')}")`).waitFor();
  await card.locator(`.results:has-text("« ${second[0]} » est retenue")`).waitFor();
  await axe(a, 'ranking poll with live results');
  for (const page of [fac, a]) await assertMatchesServer(page, 'after a ranking poll');
});

test('every kind of ballot from the page: single, multiple, scale, text', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const a = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  const specs = [
    { question: 'Faut-il une pause ?', kind: 'single', options: ['Oui, dix minutes', 'Non, votons'] },
    { question: 'Quels thèmes approfondir ?', kind: 'multiple', options: ['Mobilités', 'Logement', 'Santé'], min: 1, max: 2 },
    { question: 'Comment avez-vous vécu cette matinée ?', kind: 'scale', min: 1, max: 5, min_label: 'Très mal', max_label: 'Très bien', live_results: true },
    { question: 'En une phrase, votre proposition', kind: 'text', max_chars: 140, live_results: true },
  ];
  const ids = [];
  for (const spec of specs) {
    await command(fac, { type: 'draft_poll', spec });
    const id = await fac.evaluate((q) => window.__convene.snap.polls.find((p) => p.spec.question === q).id, spec.question);
    assert.deepEqual(await command(fac, { type: 'open_poll', poll: id }), { ok: true });
    ids.push(id);
  }
  // "Voir les sondages" in the dialog: every open poll is there, none asked again.
  await answerAsked(a, 'Voir les sondages');
  await a.waitForSelector('main[data-view=polls]');
  await a.waitForTimeout(300);
  assert.equal(await a.locator('[data-testid=ask-dialog][open]').count(), 0);
  const card = (q) => a.locator('article.poll', { hasText: q });
  await card('Faut-il une pause ?').locator('label:has-text("Non, votons") input').check();
  await card('Faut-il une pause ?').locator('button:has-text("Voter")').click();
  await card('Faut-il une pause ?').locator('.voted:has-text("Non, votons")').waitFor();

  const multi = card('Quels thèmes approfondir ?');
  await multi.locator('.small:has-text("Choisissez de 1 à 2 réponses.")').waitFor();
  await multi.locator('label:has-text("Mobilités") input').check();
  await multi.locator('label:has-text("Santé") input').check();
  await multi.locator('button:has-text("Voter")').click();
  await multi.locator('.voted:has-text("Mobilités, Santé")').waitFor();

  const scale = card('Comment avez-vous vécu cette matinée ?');
  await scale.locator('label.scale-choice:has-text("4") input').check();
  await scale.locator('button:has-text("Voter")').click();
  await scale.locator('.voted:has-text("« 4 »")').waitFor();
  await scale.locator('.results:has-text("Note moyenne : 4, sur une échelle de 1 à 5 (1 bulletin).")').waitFor();

  const text = card('En une phrase, votre proposition');
  await text.locator('textarea').fill('Un bus de nuit entre Rezé et le centre.');
  await text.locator('button:has-text("Voter")').click();
  await text.locator('.results li:has-text("Un bus de nuit entre Rezé et le centre.")').waitFor();
  await axe(a, 'every kind of ballot (phone)');
  const voted = await a.evaluate((list) => list.map((id) => window.__convene.snap.polls.find((p) => p.id === id).you_voted), ids);
  assert.deepEqual(voted, [true, true, true, true]);
  // The facilitator sees the participation of each.
  await tab(fac, 'polls');
  for (const spec of specs) await fac.locator('article.poll', { hasText: spec.question }).locator('.participation:has-text("1 vote sur")').waitFor();
  assert.deepEqual(await a.evaluate(() => window.__convene.errors.map((e) => e.code)), []);
});

test('the poll builder checks its numbers in the page, in the page\'s language, and takes « 1,5 » minutes', { timeout: 120000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  await tab(fac, 'polls');
  const form = fac.locator('#poll-builder form');
  const polls = () => fac.evaluate(() => window.__convene.snap.polls.length);
  const before = await polls();
  await form.getByLabel('Question').fill('Combien de temps pour la pause ?');
  await form.getByLabel('Type de vote').selectOption('multiple');
  await form.getByLabel('Propositions (une par ligne)').fill('Dix minutes\nVingt minutes\n Dix minutes ');
  await form.getByLabel('Choix minimum').fill('-1');
  await form.getByLabel('Choix maximum').fill('deux');
  await form.getByLabel('Quorum (facultatif)').fill('0');
  await form.getByLabel('Durée en minutes (facultatif)').fill('une heure');
  await form.locator('button:has-text("Enregistrer le brouillon")').click();
  // Every wrong field says what it wants, beside it, in French; the first one has the focus.
  const errors = await form.locator('.field-error').allTextContents();
  assert.deepEqual(errors, [
    'Deux propositions sont identiques : « Dix minutes ».',
    'Un nombre entier, de 0 au choix maximum.',
    'Un nombre entier, de 1 au nombre de propositions (3).',
    "Laissez vide, ou un nombre entier d'au moins 1.",
    'Laissez vide, ou une durée en minutes (par exemple 1,5), 720 au plus.',
  ]);
  assert.equal(await fac.evaluate(() => document.activeElement.id), await form.getByLabel('Propositions (une par ligne)').getAttribute('id'));
  assert.equal(await form.getByLabel('Choix maximum').getAttribute('aria-invalid'), 'true');
  await axe(fac, 'poll builder with errors');
  await fac.waitForTimeout(300);
  assert.equal(await polls(), before, 'a draft with errors was sent');

  // Typing in a field clears its error; fixed, the draft is saved with what was typed,
  // « 1,5 » minutes included (a number field of the browser would have sent no duration).
  await form.getByLabel('Propositions (une par ligne)').fill('Dix minutes\nVingt minutes\nUne demi-heure');
  assert.equal(await form.locator('.field-error').count(), 4);
  await form.getByLabel('Choix minimum').fill('1');
  await form.getByLabel('Choix maximum').fill(' 2 ');
  await form.getByLabel('Quorum (facultatif)').fill('');
  await form.getByLabel('Durée en minutes (facultatif)').fill('1,5');
  await form.locator('button:has-text("Enregistrer le brouillon")').click();
  await waitState(fac, (c, n) => c.snap.polls.length === n + 1, before);
  const spec = await fac.evaluate(() => window.__convene.snap.polls.find((p) => p.spec.question === 'Combien de temps pour la pause ?').spec);
  assert.deepEqual([spec.options, spec.min, spec.max, spec.quorum, spec.duration_ms], [['Dix minutes', 'Vingt minutes', 'Une demi-heure'], 1, 2, null, 90000]);
  assert.equal(await form.locator('.field-error').count(), 0);

  // In English, in English; a scale's top must be above its bottom.
  const en = await openAs(browser, server, server.role('facilitator', 1), { lang: 'en', query: 'video=off&lang=en' });
  await tab(en, 'polls');
  const enForm = en.locator('#poll-builder form');
  await enForm.getByLabel('Question').fill('How was the morning?');
  await enForm.getByLabel('Kind of vote').selectOption('scale');
  await enForm.getByLabel('Scale from').fill('5');
  await enForm.getByLabel('Scale to').fill('−1');
  await enForm.locator('button:has-text("Save the draft")').click();
  assert.deepEqual(await enForm.locator('.field-error').allTextContents(), ['The top of the scale must be above its bottom, with at most 101 values.']);
  await enForm.getByLabel('Scale from').fill('-2');
  await enForm.getByLabel('Scale to').fill('2');
  await enForm.locator('button:has-text("Save the draft")').click();
  await waitState(en, () => window.__convene.snap.polls.some((p) => p.spec.question === 'How was the morning?' && p.spec.min === -2 && p.spec.max === 2));
});
