// What a hands-on audit of the flows of the other roles (the rapporteur, the expert, the
// organizer, the guarantor, the public page) found, kept found; each test says what it keeps.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { t, setLang, fmtTime } from '../../web/src/i18n.js';
import { openAs, tab, commandOk, organizerApi, stallableProxy, LAPTOP, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

useServerAndBrowser();

let proxy = null;
after(async () => {
  if (proxy) await proxy.close();
});

async function editorReady(page) {
  await page.waitForSelector('.doc-editor');
  await page.waitForSelector('.editor-status .badge[role=status]:has-text("À jour")', { timeout: 20000 });
}

test('a rapporteur whose network dies is told so in the opinion, and what they typed reaches the others', { timeout: 120000 }, async () => {
  proxy = await stallableProxy(server.port);
  const lucie = await openAs(browser, server, server.who('Lucie Rapporteuse'), { viewport: PHONE, base: proxy.base });
  const antoine = await openAs(browser, server, server.who('Antoine Rapporteur'));
  await editorReady(lucie);
  await editorReady(antoine);
  await lucie.click('.doc-editor');
  await lucie.keyboard.type('Avant la coupure.');
  await antoine.waitForSelector('.doc-editor :text("Avant la coupure.")');

  // The network dies silently: the page's heartbeat finds out, and the editor says it (the
  // document's own socket still looks open: it said « À jour » for 30 s more).
  proxy.stall();
  await lucie.waitForSelector('[data-testid=reconnecting]', { timeout: 20000 });
  await lucie.waitForSelector('.editor-status .badge[role=status]:has-text("Hors ligne")', { timeout: 2000 });
  assert.match(await lucie.textContent('[data-testid=doc-offline]'), /Vous pouvez continuer d’écrire/);
  await lucie.click('.doc-editor');
  await lucie.keyboard.press('Control+End');
  await lucie.keyboard.type(' Écrit hors ligne.');
  await lucie.waitForSelector('[data-testid=doc-offline]:has-text("Ne fermez pas et ne rechargez pas cette page")');
  // Leaving the page now asks first (what was typed lives only here).
  assert.equal(await lucie.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  }), true, 'leaving the page with changes not sent does not ask');

  // Back: the notice goes, and the words typed offline reach the other rapporteur.
  proxy.heal();
  await lucie.waitForSelector('.editor-status .badge[role=status]:has-text("À jour")', { timeout: 30000 });
  await lucie.waitForSelector('[data-testid=doc-offline]', { state: 'detached' });
  await antoine.waitForSelector('.doc-editor :text("Écrit hors ligne.")', { timeout: 10000 });
  assert.equal(await lucie.evaluate(() => {
    const e = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(e);
    return e.defaultPrevented;
  }), false, 'once sent, leaving the page still asks');
});

test('times are written the French way, in the app and on the public page alike', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const cit = await openAs(browser, server, server.role('citizen', 3), { viewport: PHONE });
  const made = await organizerApi(server, 'POST', `/api/conventions/${server.role('citizen', 3).convention}/public-link`, {});
  assert.equal(made.status, 201);
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('h1:has-text("Convention")');

  await commandOk(fac, { type: 'broadcast', text: 'Reprise dans dix minutes.' });
  await cit.waitForSelector('.broadcast-msg:has-text("Reprise dans dix minutes.")');
  await pub.waitForSelector('[data-testid=public-announcements] li:has-text("Reprise dans dix minutes.")');
  const inApp = (await cit.textContent('.broadcast-msg time')).replace(/^à /, '');
  const onPublic = await pub.textContent('[data-testid=public-announcements] li:has-text("Reprise dans dix minutes.") .muted');
  // « 9 h 58 », with non-breaking spaces (never cut at the end of a line on a phone).
  assert.match(inApp, /^\d{1,2}\u00a0h\u00a0\d\d$/);
  assert.equal(onPublic, inApp, 'the public page and the app write the same time alike');
  await context.close();
});

test('the run sheet takes a French date and time in an English browser, and says what is wrong in words', { timeout: 60000 }, async () => {
  // A French facilitator whose browser speaks American English: the browser's own pickers
  // asked for "mm/dd/yyyy" and "--:-- AM".
  const context = await browser.newContext({ viewport: LAPTOP, deviceScaleFactor: 1, locale: 'en-US' });
  const fac = await context.newPage();
  await fac.goto(server.url(server.role('facilitator', 1)));
  await fac.waitForFunction(() => window.__convene && window.__convene.status === 'open' && window.__convene.snap);
  await tab(fac, 'console');
  const form = '#runsheet [data-testid=sequence-form]';
  await fac.waitForSelector(`${form} input[name=date]`);
  for (const name of ['date', 'start']) assert.equal(await fac.getAttribute(`${form} input[name=${name}]`, 'type'), 'text', `the ${name} is typed as the page writes it`);
  assert.match(await fac.inputValue(`${form} input[name=date]`), /^\d\d\/\d\d\/\d{4}$/);
  assert.match(await fac.inputValue(`${form} input[name=start]`), /^\d{1,2} h \d\d$/);

  // Wrong: said in French next to each field, the first one focused, nothing sent.
  await fac.fill(`${form} input[name=title]`, 'Accueil');
  await fac.fill(`${form} input[name=date]`, '31/02/2027');
  await fac.fill(`${form} input[name=start]`, '25h');
  await fac.click(`${form} button:has-text("Ajouter au déroulé")`);
  await fac.waitForSelector(`${form} [data-testid=sequence-errors]:has-text("2 champs sont à corriger.")`);
  assert.match(await fac.textContent(`${form} .field:has(input[name=date]) .field-error`), /jour\/mois\/année/);
  assert.match(await fac.textContent(`${form} .field:has(input[name=start]) .field-error`), /9 h 30/);
  assert.equal(await fac.evaluate(() => document.activeElement.name), 'date');
  assert.equal(await fac.evaluate(() => window.__convene.snap.runsheet.sequences.length), 0);

  // Right: « 14h15 » on 3 March 2027, the day in words under the field.
  await fac.fill(`${form} input[name=date]`, '3/3/2027');
  await fac.waitForSelector(`${form} :text("mercredi 3 mars 2027")`);
  await fac.fill(`${form} input[name=start]`, '14h15');
  await fac.click(`${form} button:has-text("Ajouter au déroulé")`);
  await fac.waitForFunction(() => window.__convene.snap.runsheet.sequences.length === 1);
  const [planned, id] = await fac.evaluate(() => [window.__convene.snap.runsheet.sequences[0].spec.planned_start, window.__convene.snap.runsheet.sequences[0].id]);
  assert.equal(planned, await fac.evaluate(() => new Date(2027, 2, 3, 14, 15).getTime()));
  // The day of the other tests is not this one.
  await commandOk(fac, { type: 'delete_sequence', sequence: id });
  await context.close();
});

test('on a phone, an error does not cover the chat field one is typing in', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const citizen = server.role('citizen', 4);
  const cit = await openAs(browser, server, citizen, { viewport: PHONE });
  await commandOk(fac, { type: 'mute', participant: citizen.participant, duration_ms: 60000, reason: 'Essai' });
  await cit.waitForSelector('.chat-card [role=status], .chat-card .notice');
  // The field just above the keyboard, where a phone puts the field being typed in.
  await cit.locator('.chat-form input').evaluate((e) => e.scrollIntoView({ block: 'end' }));
  await cit.fill('.chat-form input', 'Je peux parler ?');
  await cit.press('.chat-form input', 'Enter');
  await cit.waitForSelector('.toast[data-code=muted]');
  const [toast, field] = await cit.evaluate(() => ['.toast', '.chat-form input'].map((s) => {
    const r = document.querySelector(s).getBoundingClientRect();
    return { top: r.top, bottom: r.bottom };
  }));
  assert.ok(toast.bottom <= field.top || toast.top >= field.bottom, `the error (${toast.top}–${toast.bottom}) covers the field (${field.top}–${field.bottom})`);
  assert.equal(await cit.inputValue('.chat-form input'), 'Je peux parler ?', 'the refused line is back in the field');
  await commandOk(fac, { type: 'unmute', participant: citizen.participant });
});

test('on a phone, « Maintenant » and « Ensuite » keep their times when a long title is cut', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  const cit = await openAs(browser, server, server.role('citizen', 6), { viewport: PHONE });
  const at = await fac.evaluate(() => window.__convene.now() + 3600000);
  const long = 'Audition : les mobilités de demain dans les communes de la métropole';
  await commandOk(fac, { type: 'add_sequence', spec: { title: long, planned_start: at, planned_ms: 30 * 60000, action: { kind: 'break' } } });
  await commandOk(fac, { type: 'add_sequence', spec: { title: 'Rencontres avec les expert·es de la mobilité et du logement', planned_start: at + 30 * 60000, planned_ms: 30 * 60000, action: { kind: 'break' } } });
  const first = await fac.evaluate((t) => window.__convene.snap.runsheet.sequences.find((s) => s.spec.title === t).id, long);
  await commandOk(fac, { type: 'start_sequence', sequence: first, end_running: true });
  await cit.waitForSelector(`[data-testid=now]:has-text("${long}")`);
  await cit.waitForSelector('[data-testid=next]:has-text("Rencontres")');
  // What a phone shows of each: the time is within the part not cut off.
  for (const which of ['now', 'next']) {
    const shown = await cit.locator(`[data-testid=${which}]`).evaluate((e) => {
      const box = e.getBoundingClientRect();
      // The last time written in the item (the end of « now », the start of « next »).
      const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
      let last = null;
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const re = /\d{1,2}\u00a0h\u00a0\d\d/g;
        for (let m = re.exec(n.data); m; m = re.exec(n.data)) last = { node: n, from: m.index, to: m.index + m[0].length, text: m[0] };
      }
      if (!last) return { cut: e.scrollWidth > e.clientWidth, timeInView: false, text: e.textContent };
      const range = document.createRange();
      range.setStart(last.node, last.from);
      range.setEnd(last.node, last.to);
      return { cut: e.scrollWidth > e.clientWidth, timeInView: range.getBoundingClientRect().right <= box.right + 0.5, text: last.text };
    });
    assert.ok(shown.cut, `${which}: the long title is not cut here, the test shows nothing`);
    assert.ok(shown.timeInView, `${which}: « ${shown.text} » is cut off`);
  }
  await commandOk(fac, { type: 'end_sequence' });
  const second = await fac.evaluate(() => window.__convene.snap.runsheet.sequences.find((s) => s.spec.title.startsWith('Rencontres')).id);
  await commandOk(fac, { type: 'delete_sequence', sequence: second });
});

test('asking a hearing question, or preparing a hearing, keeps the focus in the form and says it is done', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const expert = server.role('expert', 2);
  await tab(fac, 'hearing');
  const prep = '[data-testid=hearing-prepare]';
  await fac.fill(`${prep} input[type=text]`, 'Les mobilités de demain');
  await fac.selectOption(`${prep} select >> nth=0`, expert.participant);
  await fac.check(`${prep} label:has-text("Valider les questions") input`);
  await fac.focus(`${prep} button[type=submit]`);
  await fac.keyboard.press('Enter');
  await fac.waitForSelector(`${prep} [role=status]:has-text("Audition « Les mobilités de demain » préparée")`);
  assert.equal(await fac.evaluate((sel) => document.activeElement === document.querySelector(`${sel} input[type=text]`), prep), true, 'the focus fell out of the form');
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.find((h) => h.title === 'Les mobilités de demain').id);
  await commandOk(fac, { type: 'open_hearing', hearing });

  const cit = await openAs(browser, server, server.role('citizen', 7), { viewport: PHONE });
  await tab(cit, 'hearing');
  await cit.fill('[data-testid=hearing-ask] textarea', 'Des bus la nuit jusqu’à Rezé ?');
  await cit.focus('[data-testid=hearing-ask] button[type=submit]');
  await cit.keyboard.press('Enter');
  await cit.waitForSelector('[data-testid=hearing-sent]:has-text("une fois validée par l’animation")');
  assert.equal(await cit.evaluate(() => document.activeElement.tagName), 'TEXTAREA', 'the focus fell to the top of the page');
  await commandOk(fac, { type: 'close_hearing', hearing });
});

test('in a rotation, on a phone: room to type a question to the expert, and the expert sees which round is now', { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const expert = server.role('expert', 0);
  const exp = await openAs(browser, server, expert, { viewport: PHONE });
  await commandOk(fac, { type: 'plan_rotation', experts: [expert.participant], method: 'random', round_ms: 10 * 60000, transition_ms: 60000, warning_ms: 60000, break_room: false, only_present: false });
  await commandOk(fac, { type: 'start_rotation' });
  // A citizen in the expert's room this round.
  const inRoom = await fac.evaluate((e) => {
    const rot = window.__convene.snap.rotation;
    const g = rot.plan.schedule[0].findIndex((x) => x === rot.plan.experts.indexOf(e));
    return rot.plan.groups[g][0];
  }, expert.participant);
  const cit = await openAs(browser, server, server.who(inRoom), { viewport: PHONE });
  await tab(cit, 'rotation');
  const width = await cit.locator('#rot-questions input[type=text]').evaluate((e) => e.getBoundingClientRect().width);
  assert.ok(width >= 190, `the question's field is ${width} px wide on a phone`);
  await tab(exp, 'rotation');
  await exp.waitForSelector('#rot-path li[aria-current=step] .badge:has-text("en cours")');
  // One expert: one round, one group, in the singular.
  assert.match(await exp.textContent('#rot-status'), /1 tour de 10\smin, 1 groupe, 1 expert·e\./);
  await commandOk(fac, { type: 'stop_rotation' });
});

test('the guarantor reads hearings, the public page and public polls in the audit trail in words, not as codes', { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const g = await openAs(browser, server, server.role('guarantor'), { viewport: PHONE });
  const conv = server.role('facilitator').convention;
  await commandOk(fac, { type: 'create_hearing', title: 'Le logement abordable', speaker: server.role('expert', 1).participant, room: 'plenary', anonymous: false, moderated: true });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.find((h) => h.title === 'Le logement abordable').id);
  await commandOk(fac, { type: 'open_hearing', hearing });
  const cit = await openAs(browser, server, server.role('citizen', 8));
  await commandOk(cit, { type: 'ask_hearing_question', hearing, text: 'Combien de logements sociaux à Rezé ?' });
  await commandOk(cit, { type: 'ask_hearing_question', hearing, text: 'Hors sujet complet' });
  const ids = await fac.evaluate((h) => new Promise((ok) => {
    const look = () => {
      const x = window.__convene.snap.hearings.find((y) => y.id === h);
      if (x.questions && x.questions.length === 2) ok(x.questions.map((q) => [q.id, q.text]));
      else setTimeout(look, 100);
    };
    look();
  }), hearing);
  const [good, bad] = [ids.find((x) => x[1].startsWith('Combien'))[0], ids.find((x) => x[1].startsWith('Hors'))[0]];
  await commandOk(fac, { type: 'approve_question', hearing, question: good });
  await commandOk(fac, { type: 'mark_answering', hearing, question: good });
  await commandOk(fac, { type: 'hide_question', hearing, question: bad, reason: 'Sans rapport avec l’audition' });
  await commandOk(fac, { type: 'close_hearing', hearing });
  assert.equal((await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, { livestream: 'https://video.example.org/live' })).status, 201);
  assert.equal((await organizerApi(server, 'PUT', `/api/conventions/${conv}/public-link`, { livestream: null })).status, 204);
  await commandOk(fac, { type: 'open_public_poll', question: 'Faut-il des bus de nuit ?', options: ['Oui', 'Non'] });
  const polls = (await organizerApi(server, 'GET', `/api/conventions/${conv}/public-polls`)).body;
  const pp = (Array.isArray(polls) ? polls : polls.polls || []).find((x) => x.question === 'Faut-il des bus de nuit ?').poll;
  await commandOk(fac, { type: 'close_public_poll', poll: pp });
  await commandOk(fac, { type: 'name_version', document: 'opinion', label: 'Version adoptée' });
  await commandOk(fac, { type: 'publish_document', document: 'opinion', version: 1 });
  assert.equal((await organizerApi(server, 'DELETE', `/api/conventions/${conv}/public-link`)).status, 204);

  const list = '#audit .audit-list';
  await g.waitForSelector(`${list} li:has-text("Lien de la page publique révoqué")`, { timeout: 20000 });
  for (const line of [
    'Audition préparée : « Le logement abordable »',
    'Audition ouverte : « Le logement abordable »',
    // (The question by its words while the page has them, else by its number.)
    'validée (audition « Le logement abordable »)',
    'en cours de réponse (audition « Le logement abordable »)',
    'masquée (audition « Le logement abordable ») : Sans rapport avec l’audition',
    'Audition close : « Le logement abordable »',
    'Lien de la page publique créé',
    'Retransmission retirée de la page publique',
    'Version 1 de « Avis citoyen » publiée sur la page publique',
  ]) await g.waitForSelector(`${list} li:has-text("${line}")`, { timeout: 5000 }).catch(async () => assert.fail(`no « ${line} » in the trail: ${(await g.$$eval(`${list} .audit-what`, (els) => els.map((e) => e.textContent))).slice(0, 20).join(" / ")}`));
  await g.waitForSelector(`${list} li:has-text("Sondage du public clos : « Faut-il des bus de nuit ? » (0 réponse)")`);
  const codes = await g.$$eval(`${list} .audit-what`, (els) => els.map((e) => e.textContent).filter((x) => /^[a-z]+(_[a-z]+)+$/.test(x) || x.includes('reason.')));
  assert.deepEqual(codes, [], 'lines of the trail shown as codes');
});

/** Whether a screen reader would announce the changes of what `sel` shows (in a live region, not hidden from it). */
function announced(page, sel) {
  return page.$eval(sel, (e) => !e.closest('[aria-hidden=true]') && !!e.closest('[aria-live=polite], [aria-live=assertive], [role=status], [role=alert], [role=log]'));
}

test('who has the floor is announced, the seconds that run are not (the room, the public page)', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const speaker = server.role('citizen', 9);
  const sp = await openAs(browser, server, speaker);
  const other = await openAs(browser, server, server.role('citizen', 10), { viewport: PHONE });
  const conv = speaker.convention;
  const made = await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, {});
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('[data-testid=public-viewers]');
  assert.equal(await announced(pub, '[data-testid=public-viewers]'), false, 'the viewers\' count, which changes every second at a public plenary');

  // Rooms are closed (the floor is the plenary's).
  if (await fac.evaluate(() => !!window.__convene.snap.breakouts)) await commandOk(fac, { type: 'close_breakouts' });
  await commandOk(sp, { type: 'raise_hand' });
  await commandOk(fac, { type: 'give_floor', participant: speaker.participant });
  await other.waitForSelector(`.floor-who:has-text("${speaker.name}")`);
  assert.equal(await announced(other, '.floor-who'), true, 'who has the floor');
  assert.equal(await announced(other, '.floor-time'), false, 'the time since the turn began, every second');

  await commandOk(fac, { type: 'end_floor', room: 'plenary' });
  await commandOk(fac, { type: 'give_floor', participant: speaker.participant, limit_ms: 120000 });
  await pub.waitForSelector('[data-testid=public-countdown]');
  assert.equal(await announced(pub, '[data-testid=public-floor] strong'), true, 'who has the floor, on the public page');
  assert.equal(await announced(pub, '[data-testid=public-countdown]'), false, 'the public countdown, every second');
  await other.waitForSelector('.floor-time [role=timer]');
  assert.equal(await announced(other, '.floor-time'), false, 'the countdown of the turn');
  await context.close();
});

test('skipping a sequence of the run sheet, which cannot be undone, is asked first', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1), { viewport: PHONE });
  const at = await fac.evaluate(() => window.__convene.now() + 2 * 3600000);
  await commandOk(fac, { type: 'add_sequence', spec: { title: 'Pause de l’après-midi', planned_start: at, planned_ms: 15 * 60000, action: { kind: 'break' } } });
  await tab(fac, 'console');
  const item = '#runsheet li.sequence:has-text("Pause de l’après-midi")';
  await fac.click(`${item} button:has-text("Passer")`);
  await fac.waitForSelector(`${item} [data-testid=confirm]:has-text("Elle ne pourra plus être démarrée")`);
  await fac.click(`${item} [data-testid=confirm-no]`);
  await fac.waitForSelector(`${item} [data-testid=confirm]`, { state: 'detached' });
  assert.equal(await fac.getAttribute(item, 'data-state'), 'planned', 'a tap next to « Démarrer » skipped the sequence');
  await fac.click(`${item} button:has-text("Passer")`);
  await fac.click(`${item} [data-testid=confirm-yes]`);
  await fac.waitForSelector(`${item}[data-state=skipped]`);
});

test('closing a vote and publishing its results, which cannot be undone, are asked first', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  await commandOk(fac, { type: 'draft_poll', spec: { question: 'Un budget participatif par commune ?', kind: 'single', options: ['Oui', 'Non'], secret: false, live_results: false, voters: ['citizen'], quorum: null, duration_ms: null, room: null } });
  const poll = await fac.evaluate(() => window.__convene.snap.polls.find((p) => p.spec.question.startsWith('Un budget participatif')).id);
  await commandOk(fac, { type: 'open_poll', poll });
  await tab(fac, 'polls');
  const card = fac.locator('article.poll', { hasText: 'Un budget participatif' });
  await card.locator('button:has-text("Clore le vote")').click();
  await card.locator('[data-testid=confirm]:has-text("Qui n’a pas encore voté ne le pourra plus.")').waitFor();
  await card.locator('[data-testid=confirm-no]').click();
  assert.equal(await fac.evaluate((p) => window.__convene.snap.polls.find((x) => x.id === p).status, poll), 'open');
  await card.locator('button:has-text("Clore le vote")').click();
  await card.locator('[data-testid=confirm-yes]').click();
  await card.locator('button:has-text("Publier les résultats")').click();
  await card.locator('[data-testid=confirm]:has-text("et la page publique aussi si elle est ouverte")').waitFor();
  await card.locator('[data-testid=confirm-no]').click();
  assert.equal(await fac.evaluate((p) => window.__convene.snap.polls.find((x) => x.id === p).status, poll), 'closed');
});

test('a facilitator publishes a named version of the opinion for the public page, from the opinion tab', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  const conv = server.role('facilitator', 1).convention;
  const made = await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, {});
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('[data-testid=public-viewers]');
  await commandOk(fac, { type: 'name_version', document: 'opinion', label: 'Avis adopté en plénière' });
  await tab(fac, 'opinion');
  const item = '#versions li:has-text("Avis adopté en plénière")';
  await fac.click(`${item} button:has-text("Publier")`);
  await fac.waitForSelector(`${item} [data-testid=confirm]:has-text("sur la page publique ?")`);
  await fac.click(`${item} [data-testid=confirm-yes]`);
  await fac.waitForSelector('[data-testid=doc-published]:has-text("« Avis adopté en plénière » publiée : la page publique la montre.")');
  await pub.waitForSelector('[data-testid=public-opinion]');
  await context.close();
  // After a reload the console still says which version the public page shows (read from the
  // public link's status, which facilitators may read), and that a link is open.
  await fac.reload();
  await tab(fac, 'opinion');
  await fac.waitForSelector('[data-testid=doc-published]:has-text("« Avis adopté en plénière » publiée : la page publique la montre.")');
  // Once the organizers revoke the link, it says that no public page shows it.
  await organizerApi(server, 'DELETE', `/api/conventions/${conv}/public-link`);
  await fac.reload();
  await tab(fac, 'opinion');
  await fac.waitForSelector('[data-testid=doc-published]:has-text("« Avis adopté en plénière » publiée ; aucun lien public n’est ouvert")');
});

test('the opinion\'s « pressed » buttons undo what they did when pressed again', { timeout: 60000 }, async () => {
  const a = await openAs(browser, server, server.who('Antoine Rapporteur'), { viewport: PHONE });
  await editorReady(a);
  await a.click('.toolbar button:has-text("Ajouter une proposition")');
  await a.locator('.doc-editor .proposal-title').last().fill('Des cantines bio');
  await a.click('.doc-editor .proposal:last-of-type .proposal-body p');
  await a.keyboard.type('Le bio coûte plus cher aux familles.');
  const minority = '.toolbar button:has-text("Faire de ce paragraphe une position minoritaire")';
  await a.click(minority);
  await a.waitForSelector('.doc-editor .minority:has-text("Le bio coûte plus cher")');
  assert.equal(await a.getAttribute(minority, 'aria-pressed'), 'true');
  await a.click(minority);
  await a.waitForSelector('.doc-editor .minority:has-text("Le bio coûte plus cher")', { state: 'detached' });
  assert.equal(await a.getAttribute(minority, 'aria-pressed'), 'false');
  const against = '.toolbar button:has-text("Faire de ce paragraphe un argument contre")';
  await a.click(against);
  await a.waitForSelector('.doc-editor .argument.arg-against:has-text("Le bio coûte plus cher")');
  await a.click(against);
  await a.waitForSelector('.doc-editor .argument:has-text("Le bio coûte plus cher")', { state: 'detached' });
  assert.equal(await a.getAttribute(against, 'aria-pressed'), 'false');
});

test('the expert is told of the questions waiting for an answer, and answers them from the room', { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const expert = server.role('expert', 3);
  const exp = await openAs(browser, server, expert, { viewport: PHONE });
  await commandOk(fac, { type: 'plan_rotation', experts: [expert.participant], method: 'random', round_ms: 10 * 60000, transition_ms: 60000, warning_ms: 60000, break_room: false, only_present: false });
  await commandOk(fac, { type: 'start_rotation' });
  const inRoom = await fac.evaluate((e) => {
    const rot = window.__convene.snap.rotation;
    const g = rot.plan.schedule[0].findIndex((x) => x === rot.plan.experts.indexOf(e));
    return rot.plan.groups[g][1];
  }, expert.participant);
  const cit = await openAs(browser, server, server.who(inRoom));
  await tab(exp, 'room');
  await commandOk(cit, { type: 'ask_question', text: 'Quelle part de bio dans les cantines ?' });
  await exp.waitForSelector('#questions [data-testid=questions-waiting][role=status]:has-text("1 question attend votre réponse.")');
  await exp.fill('#questions li:has-text("Quelle part de bio") input', 'Un quart, à terme la moitié.');
  await exp.click('#questions li:has-text("Quelle part de bio") button:has-text("Répondre")');
  await exp.waitForSelector('#questions .answer:has-text("Un quart")');
  assert.equal((await exp.textContent('#questions [data-testid=questions-waiting]')).trim(), '');
  await commandOk(fac, { type: 'stop_rotation' });
});

test('on the public page, answering the public poll with the keyboard leaves the focus on the answer', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const conv = server.role('facilitator').convention;
  const made = await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, {});
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 1, locale: 'fr-FR' });
  const pub = await context.newPage();
  await pub.goto(`${server.base}/public#link=${made.body.token}`);
  await pub.waitForSelector('[data-testid=public-viewers]');
  await commandOk(fac, { type: 'open_public_poll', question: 'Une piste cyclable sur le pont ?', options: ['Oui', 'Non'] });
  await pub.waitForSelector('[data-testid=public-poll-option]:has-text("Oui")');
  await pub.focus('[data-testid=public-poll-option]:has-text("Oui")');
  await pub.keyboard.press('Enter');
  await pub.waitForSelector('[data-testid=public-poll-thanks]');
  await pub.waitForFunction(() => document.activeElement && document.activeElement.dataset.testid === 'public-poll-thanks', null, { timeout: 2000 })
    .catch(async () => assert.fail(`the focus is on ${await pub.evaluate(() => document.activeElement.tagName)}`));
  const polls = (await organizerApi(server, 'GET', `/api/conventions/${conv}/public-polls`)).body.polls;
  await commandOk(fac, { type: 'close_public_poll', poll: polls.find((p) => p.open).poll });
  await context.close();
});

test('an empty document says so, and where to start', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  await commandOk(fac, { type: 'create_document', name: 'annexe', title: 'Annexe : les auditions' });
  const rap = await openAs(browser, server, server.who('Lucie Rapporteuse'), { viewport: PHONE });
  const cit = await openAs(browser, server, server.role('citizen', 11), { viewport: PHONE });
  for (const [page, hint] of [[rap, 'Écrivez ici, ou commencez par « + Proposition ».'], [cit, 'Ce texte n’est pas encore écrit.']]) {
    await tab(page, 'opinion');
    await page.selectOption('.opinion-main select', 'annexe');
    await page.waitForSelector('.doc-editor .doc-empty');
    const shown = await page.$eval('.doc-editor .doc-empty', (e) => getComputedStyle(e, '::before').content);
    assert.ok(shown.includes(hint), shown);
  }
  await rap.click('.doc-editor');
  await rap.keyboard.type('Les auditions du samedi.');
  await rap.waitForSelector('.doc-editor .doc-empty', { state: 'detached' });
});

test('a hearing that is over says « Terminée », not « Close » (which reads as the English button)', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  await commandOk(fac, { type: 'create_hearing', title: 'L’alimentation locale', speaker: server.role('expert', 3).participant, room: 'plenary', anonymous: true, moderated: false });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.find((h) => h.title === 'L’alimentation locale').id);
  await commandOk(fac, { type: 'open_hearing', hearing });
  await commandOk(fac, { type: 'close_hearing', hearing });
  await tab(fac, 'hearing');
  assert.equal((await fac.textContent(`#hearings-all li[data-hearing=${hearing}] .badge`)).trim(), 'Terminée');
});

test('the opinion says why the argument buttons are greyed out', { timeout: 60000 }, async () => {
  const a = await openAs(browser, server, server.who('Antoine Rapporteur'), { viewport: PHONE });
  await editorReady(a);
  await a.click('.doc-editor > p >> nth=0');
  await a.waitForSelector('[data-testid=args-hint]:has-text("Les arguments se placent dans une proposition")');
  const against = '.toolbar button:has-text("Faire de ce paragraphe un argument contre")';
  assert.equal(await a.isDisabled(against), true);
  assert.equal(await a.getAttribute(against, 'aria-describedby'), await a.getAttribute('[data-testid=args-hint]', 'id'));
  await a.click('.toolbar button:has-text("Ajouter une proposition")');
  await a.locator('.doc-editor .proposal-title').last().fill('Des jardins partagés');
  await a.click('.doc-editor .proposal:last-of-type .proposal-body p');
  await a.waitForSelector('[data-testid=args-hint]', { state: 'detached' });
  assert.equal(await a.isDisabled(against), false);
});

test('counts agree in number: one present, one point, one round', () => {
  setLang('fr');
  assert.equal(t('poll.present', { n: 1 }), '(1 présent·e)');
  assert.equal(t('poll.present', { n: 12 }), '(12 présent·es)');
  assert.equal(t('results.points', { n: 1 }), '1 point');
  assert.equal(t('rot.n_rounds', { n: 1 }), '1 tour');
  assert.equal(t('rot.n_experts', { n: 4 }), '4 expert·es');
  // (and the time of day, the French way, from the one formatter)
  assert.equal(fmtTime(new Date(2026, 11, 12, 9, 5).getTime()), '9\u00a0h\u00a005');
  setLang('en');
  assert.equal(t('results.points', { n: 1 }), '1 point');
  assert.equal(fmtTime(new Date(2026, 11, 12, 9, 5).getTime()), '09:05');
  setLang('fr');
});

test('a button that its own success takes away leaves the focus on its item, not at the top of the page', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  await commandOk(fac, { type: 'create_hearing', title: 'Les transports scolaires', speaker: server.role('expert', 0).participant, room: 'plenary', anonymous: false, moderated: true });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.find((h) => h.title === 'Les transports scolaires').id);
  await commandOk(fac, { type: 'open_hearing', hearing });
  const cit = await openAs(browser, server, server.role('citizen', 12));
  await commandOk(cit, { type: 'ask_hearing_question', hearing, text: 'Des cars le mercredi ?' });
  await tab(fac, 'hearing');
  const item = `#hearing-${hearing} li.hearing-q:has-text("Des cars le mercredi ?")`;
  // « Valider », then « En cours de réponse »: each goes once done.
  for (const [button, status] of [['Valider', 'open'], ['En cours de réponse', 'answering']]) {
    await fac.focus(`${item} button:has-text("${button}")`);
    await fac.keyboard.press('Enter');
    await fac.waitForSelector(`${item}[data-status=${status}]`);
    await fac.waitForFunction((sel) => document.activeElement === document.querySelector(sel), item.replace(':has-text("Des cars le mercredi ?")', ''), { timeout: 2000 })
      .catch(async () => assert.fail(`after « ${button} », the focus is on ${await fac.evaluate(() => document.activeElement.tagName)}`));
  }
  await commandOk(fac, { type: 'close_hearing', hearing });
});

test('a question merged into another names it by its words for the guarantor, not by a number shown nowhere', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  await commandOk(fac, { type: 'create_hearing', title: 'La qualité de l’air', speaker: server.role('expert', 2).participant, room: 'plenary', anonymous: false, moderated: false });
  const hearing = await fac.evaluate(() => window.__convene.snap.hearings.find((h) => h.title === 'La qualité de l’air').id);
  await commandOk(fac, { type: 'open_hearing', hearing });
  const a = await openAs(browser, server, server.role('citizen', 13), { viewport: PHONE });
  const b = await openAs(browser, server, server.role('citizen', 14));
  await commandOk(a, { type: 'ask_hearing_question', hearing, text: 'Que mesure-t-on près des écoles ?' });
  await commandOk(b, { type: 'ask_hearing_question', hearing, text: 'Mesure-t-on l’air devant les écoles ?' });
  const ids = await fac.evaluate((h) => new Promise((ok) => {
    const look = () => {
      const x = window.__convene.snap.hearings.find((y) => y.id === h);
      if (x.questions && x.questions.length === 2) ok(Object.fromEntries(x.questions.map((q) => [q.text, q.id])));
      else setTimeout(look, 100);
    };
    look();
  }), hearing);
  await commandOk(fac, { type: 'merge_question', hearing, question: ids['Mesure-t-on l’air devant les écoles ?'], into: ids['Que mesure-t-on près des écoles ?'] });
  // The staff see merged questions (the author sees their support moved to the other one).
  const g = await openAs(browser, server, server.role('guarantor', 1));
  await tab(g, 'hearing');
  await g.waitForSelector('li.hearing-q[data-status=merged] .badge:has-text("Fusionnée avec « Que mesure-t-on près des écoles ? »")');
  await commandOk(fac, { type: 'close_hearing', hearing });
});

test('on a phone, the opinion\'s toolbar is one row that stays in view while one writes further down', { timeout: 90000 }, async () => {
  const a = await openAs(browser, server, server.who('Lucie Rapporteuse'), { viewport: PHONE });
  await tab(a, 'opinion');
  await a.selectOption('.opinion-main select', 'opinion').catch(() => {});
  await editorReady(a);
  await a.click('.doc-editor');
  await a.keyboard.press('Control+End');
  for (let i = 1; i <= 20; i += 1) {
    await a.keyboard.press('Enter');
    await a.keyboard.type(`Paragraphe ${i} : un texte assez long pour remplir l’écran du téléphone.`);
  }
  const [bar, top, vh] = await a.evaluate(() => {
    const r = document.querySelector('.toolbar').getBoundingClientRect();
    return [{ top: r.top, bottom: r.bottom, height: r.height }, document.querySelector('.sticky-top').getBoundingClientRect().bottom, innerHeight];
  });
  assert.ok(bar.top >= top - 1 && bar.bottom <= vh, `the toolbar is out of view (${bar.top}–${bar.bottom}) while writing paragraph 20`);
  assert.ok(bar.height <= 64, `the toolbar takes ${bar.height} px of a ${vh} px screen`);
  // Its last buttons are reached by scrolling it sideways, not the page.
  const minority = '.toolbar button:has-text("Faire de ce paragraphe une position minoritaire")';
  await a.click(minority);
  await a.waitForSelector('.doc-editor .minority:has-text("Paragraphe 20")');
});

test('between two rounds, the expert is told to stay: the groups are the ones who move', { timeout: 90000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator'));
  const [e0, e1] = [server.role('expert', 0), server.role('expert', 1)];
  const exp = await openAs(browser, server, e0, { viewport: PHONE });
  if (await fac.evaluate(() => { const r = window.__convene.snap.rotation; return r && ['round', 'transition', 'paused'].includes(r.phase.state); })) await commandOk(fac, { type: 'stop_rotation' });
  await commandOk(fac, { type: 'plan_rotation', experts: [e0.participant, e1.participant], method: 'random', round_ms: 10 * 60000, transition_ms: 5 * 60000, warning_ms: 60000, break_room: false, only_present: false });
  await commandOk(fac, { type: 'start_rotation' });
  await commandOk(fac, { type: 'skip_round' });
  await tab(exp, 'rotation');
  await exp.waitForSelector('#rot-status :text("Les groupes changent de salle : restez dans la vôtre, le tour 2 va commencer.")');
  const cit = await openAs(browser, server, server.role('citizen', 15), { viewport: PHONE });
  await tab(cit, 'rotation');
  await cit.waitForSelector('#rot-status :text("Changement de salle : le tour 2 va commencer.")');
  await commandOk(fac, { type: 'stop_rotation' });
});

test('opening and closing a public poll with the keyboard keeps the focus in its card', { timeout: 60000 }, async () => {
  const fac = await openAs(browser, server, server.role('facilitator', 1));
  const conv = server.role('facilitator', 1).convention;
  assert.equal((await organizerApi(server, 'POST', `/api/conventions/${conv}/public-link`, {})).status, 201);
  await tab(fac, 'console');
  const card = '#public-poll';
  await fac.click(`${card} details.public-poll-new summary`);
  await fac.fill(`${card} [data-testid=public-poll-form] textarea >> nth=0`, 'Un marché de producteurs le samedi ?');
  await fac.fill(`${card} [data-testid=public-poll-form] textarea >> nth=1`, 'Oui\nNon');
  await fac.focus(`${card} button:has-text("Lancer le sondage")`);
  await fac.keyboard.press('Enter');
  await fac.waitForSelector(`${card} [data-testid=public-poll-open]`);
  const inCard = () => fac.waitForFunction((sel) => document.activeElement !== document.body && document.querySelector(sel).contains(document.activeElement), card, { timeout: 3000 })
    .catch(async () => assert.fail(`the focus is on ${await fac.evaluate(() => document.activeElement.tagName)}`));
  await inCard();
  await fac.focus(`${card} button:has-text("Clore le sondage")`);
  await fac.keyboard.press('Enter');
  await fac.waitForSelector(`${card} [data-testid=public-poll-open]`, { state: 'detached' });
  await inCard();
});

test('going up the opinion with the arrows, the caret stays in view below the toolbar', { timeout: 90000 }, async () => {
  const a = await openAs(browser, server, server.who('Antoine Rapporteur'), { viewport: PHONE });
  await tab(a, 'opinion');
  await editorReady(a);
  await a.click('.doc-editor');
  await a.keyboard.press('Control+End');
  for (let i = 1; i <= 60; i += 1) {
    await a.keyboard.press('Enter');
    await a.keyboard.type(`Ligne ${i} à relire.`);
  }
  for (let i = 0; i < 45; i += 1) await a.keyboard.press('ArrowUp');
  await a.waitForTimeout(200);
  const [caret, bar] = await a.evaluate(() => {
    const r = window.getSelection().getRangeAt(0).getBoundingClientRect();
    return [r.top, document.querySelector('.toolbar').getBoundingClientRect().bottom];
  });
  assert.ok(caret >= bar, `the caret (${caret}) is under the toolbar (its bottom ${bar})`);
});
