// A realistic moment of a convention day, then a screenshot of each role's main view on a
// laptop (1280 px) and a phone (360 px), and axe-core on every view of every role. Other tests
// check behaviour; this one shows the result to a reviewer. The screenshots go to the ignored
// tests/web/out/screenshots; `node tests/web/refresh-screenshots.mjs` writes docs/screenshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openAs, waitState, tab, tabsOf, axe, screenshot, command, assertMatchesServer, answerAsked, LAPTOP, PHONE, server, browser, useServerAndBrowser } from './harness.mjs';

// The video panel as people see it: the meeting loads only when someone asks for it.
const VIDEO = { query: 'demo=1' };

// The demo as a newcomer gets it: its day prepared (the run sheet shows in the console).
useServerAndBrowser({ demoDay: 'prepared' });

async function ok(page, cmd) {
  const r = await command(page, cmd);
  assert.deepEqual(r, { ok: true }, `${cmd.type}: ${JSON.stringify(r)}`);
}

/** Both widths of one page, on its main view (its first tab). */
async function shoot(page, name) {
  const main = (await tabsOf(page))[0];
  await tab(page, main);
  await page.setViewportSize(LAPTOP);
  await page.waitForTimeout(250);
  await screenshot(page, `${name}-laptop`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(250);
  await axe(page, `${name} (phone)`);
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize(LAPTOP);
}

/** axe-core on every tab this person has. */
async function axeEveryView(page, who) {
  for (const name of await tabsOf(page)) {
    await tab(page, name);
    await page.waitForTimeout(200);
    await axe(page, `${who}: ${name}`);
  }
}

test('screenshots of every role, and axe-core on every view', { timeout: 300000 }, async () => {
  const citizens = server.invites.filter((i) => i.roles.length === 1 && i.roles[0] === 'citizen');
  const lucie = server.who('Lucie Rapporteuse');
  const antoine = server.who('Antoine Rapporteur');
  const sarah = server.role('expert', 0);
  const facInvite = server.role('facilitator');

  const fac = await openAs(browser, server, facInvite, VIDEO);
  const amina = await openAs(browser, server, citizens[0], VIDEO);
  const others = [];
  for (const c of citizens.slice(1, 5)) others.push(await openAs(browser, server, c));
  const [bernard, camille, dominique, elodie] = others;
  const rap = await openAs(browser, server, lucie);
  const rap2 = await openAs(browser, server, antoine);
  const guar = await openAs(browser, server, server.role('guarantor'));
  const expert = await openAs(browser, server, sarah, VIDEO);

  // Four rooms; every citizen assigned (online or not), Amina with Bernard and Camille.
  // (Their ids are read: the demo's prepared rotation has rooms of its own.)
  const names = ['Mobilités', 'Logement', 'Santé et solidarités', 'Économie locale'];
  await ok(fac, { type: 'create_rooms', names });
  const rooms = await fac.evaluate((names) => names.map((n) => window.__convene.snap.rooms.find((r) => r.name === n).id), names);
  const [r1, r2] = rooms;
  const assignments = citizens.map((c, i) => ({ participant: c.participant, room: i < 3 ? r1 : rooms[i % 4] }));
  assignments.push({ participant: lucie.participant, room: r2 });
  await ok(fac, { type: 'assign_rooms', method: 'manual', assignments });
  await ok(fac, { type: 'open_breakouts', duration_ms: 30 * 60000, warning_ms: 120000 });
  await amina.waitForSelector('[data-testid=where]:has-text("Mobilités")');

  // Life in Salle « Mobilités ».
  await ok(bernard, { type: 'send_chat', text: 'Bonjour à toutes et à tous ! On commence par les bus de nuit ?' });
  await ok(amina, { type: 'send_chat', text: "Oui : à Rezé, il n'y a plus rien après 22 h." });
  await ok(camille, { type: 'send_chat', text: 'Et les vélos en libre-service la nuit, ce serait possible ?' });
  await ok(fac, { type: 'visit', room: r1 });
  await ok(fac, { type: 'set_speaking_limit', room: r1, limit_ms: 180000 });
  await ok(camille, { type: 'raise_hand' });
  await ok(amina, { type: 'raise_hand' });
  await ok(fac, { type: 'give_floor', room: r1, participant: citizens[1].participant });
  await ok(fac, { type: 'visit', room: 'plenary' });
  await ok(dominique, { type: 'call_facilitator', message: "Je n'entends plus le son de la vidéo." });
  await ok(fac, { type: 'draft_poll', spec: { question: 'Proposition 12 : rendre les bus de nuit gratuits le week-end', kind: 'position', secret: true, quorum: 12, duration_ms: 600000 } });
  // (The demo's own day has a draft vote of its own: this poll's id is read, not assumed.)
  const vote = await fac.evaluate(() => window.__convene.snap.polls.at(-1).id);
  await ok(fac, { type: 'open_poll', poll: vote });
  // The vote comes to Amina as a dialog, on a phone, over whatever she was looking at.
  await amina.setViewportSize(PHONE);
  await amina.waitForSelector(`[data-testid=ask-dialog][open][data-poll=${vote}]`);
  await amina.check('[data-testid=ask-dialog] label:has-text("Pour, avec réserves") input');
  await amina.waitForTimeout(250);
  await screenshot(amina, 'citizen-vote-dialog-phone', { fullPage: false });
  await answerAsked(amina, 'Plus tard', vote);
  await amina.setViewportSize(LAPTOP);
  // The rapporteurs who are citizens too are asked as well: later.
  for (const page of [rap, rap2]) {
    if (await page.evaluate((id) => window.__convene.snap.polls.some((p) => p.id === id && p.eligible), vote)) await answerAsked(page, 'Plus tard', vote);
  }
  await ok(elodie, { type: 'vote', poll: vote, ballot: { kind: 'position', stance: 'for' } });
  await ok(fac, { type: 'draft_poll', spec: { question: 'Comment avez-vous vécu cette matinée ?', kind: 'scale', min: 1, max: 5, min_label: 'Très mal', max_label: 'Très bien' } });
  await ok(guar, { type: 'visit', room: r1 });

  // The opinion, written by the rapporteurs.
  await tab(rap2, 'opinion');
  await rap.waitForSelector('.editor-status .badge:has-text("À jour")');
  await rap.click('.doc-editor');
  await rap.click('.toolbar button:has-text("Titre")');
  await rap.keyboard.type('Se déplacer la nuit dans la métropole');
  await rap.keyboard.press('Enter');
  await rap.keyboard.type("Les citoyennes et citoyens ont entendu quatre expert·es et débattu en sous-groupes. Voici leurs propositions.");
  await rap.click('.toolbar button:has-text("Ajouter une proposition")');
  await rap.locator('.doc-editor .proposal-title').last().fill('Des bus de nuit gratuits le week-end');
  await rap.click('.doc-editor .proposal-body p >> nth=-1');
  await rap.keyboard.type('Faire circuler des bus toute la nuit le vendredi et le samedi, gratuitement, entre le centre et les communes.');
  for (const [kind, label, text] of [
    ['for', 'argument pour', 'Les jeunes et les travailleurs de nuit rentreraient plus sûrement.'],
    ['against', 'argument contre', 'Le coût pour la métropole serait élevé.'],
    ['moderating', 'argument qui nuance', 'Une première année à titre d\'essai permettrait de mesurer la fréquentation.'],
  ]) {
    await rap.keyboard.press('Enter');
    await rap.keyboard.type(text);
    await rap.click(`.toolbar button:has-text("Faire de ce paragraphe un ${label}")`);
    assert.ok(kind);
  }
  await rap.keyboard.press('Enter');
  await rap.keyboard.type('Une minorité préfère des taxis collectifs à la demande, moins coûteux.');
  await rap.click('.toolbar button:has-text("Faire de ce paragraphe une position minoritaire")');
  await rap.fill('#versions input[type=text]', 'Après les sous-groupes du samedi');
  await rap.click('#versions button:has-text("Nommer la version actuelle")');
  await rap.waitForSelector('#versions li:has-text("Après les sous-groupes")');
  await rap2.waitForSelector('.doc-editor :text("taxis collectifs")');
  await rap2.click('.doc-editor .minority');
  await rap.waitForSelector(`.ProseMirror-yjs-cursor:has-text("${antoine.name}")`);

  // What stays in view on a phone: the status bar, the move notice, the warning, the latest
  // announcement.
  await ok(fac, { type: 'broadcast', text: 'Pensez à désigner qui restituera vos propositions en plénière.' });
  await amina.setViewportSize(PHONE);
  await amina.waitForSelector('.broadcast-msg');
  await amina.evaluate(() => window.scrollTo(0, 600));
  await amina.waitForTimeout(250);
  await screenshot(amina, 'citizen-notices-phone', { fullPage: false });
  await amina.evaluate(() => window.scrollTo(0, 0));
  await amina.setViewportSize(LAPTOP);
  await amina.click('[data-testid=moved] button:has-text("J\'ai compris")');

  // Each role's main view.
  await amina.waitForSelector('.floor:has-text("La parole est à")');
  await amina.waitForSelector('.hand-place:has-text("n° 2 sur 2 dans la file")');
  await shoot(amina, 'citizen');
  await tab(fac, 'console');
  await fac.waitForSelector('#calls :text("Je n\'entends plus le son")');
  await shoot(fac, 'facilitator');
  await shoot(rap, 'rapporteur');
  await guar.waitForSelector('#observed .chat-log :text("vélos en libre-service")');
  await guar.waitForSelector('#audit .audit-list li');
  await shoot(guar, 'guarantor');

  // Voting from a phone, and the facilitator's polls.
  await amina.setViewportSize(PHONE);
  await tab(amina, 'polls');
  await amina.check('article.poll label:has-text("Pour, avec réserves") input');
  await amina.click('article.poll button:has-text("Voter")');
  await amina.waitForSelector('.confirm');
  await screenshot(amina, 'citizen-vote-phone');
  await amina.click('article.poll button:has-text("Confirmer mon vote")');
  await amina.waitForSelector('.voted');
  await amina.setViewportSize(LAPTOP);
  await tab(fac, 'polls');
  await fac.waitForSelector('article.poll .participation:has-text("2 votes")');
  await screenshot(fac, 'facilitator-polls-laptop');
  // The same citizen view in English.
  await tab(amina, 'room');
  await amina.setViewportSize(PHONE);
  await amina.click('header button.lang');
  await amina.waitForSelector('nav :text("My room")');
  await axe(amina, 'citizen, English');
  await screenshot(amina, 'citizen-english-phone');
  await amina.click('header button.lang');
  await amina.waitForSelector('nav :text("Ma salle")');
  await amina.setViewportSize(LAPTOP);

  // axe-core on every view of every role, during breakouts.
  for (const [page, who] of [[amina, 'citizen'], [fac, 'facilitator'], [rap, 'rapporteur'], [guar, 'guarantor'], [expert, 'expert']]) {
    await axeEveryView(page, who);
  }

  // Then an expert rotation: the expert's room, a citizen's path, the facilitator's control.
  await tab(fac, 'console');
  await fac.click('#rooms button:has-text("Fermer les sous-groupes")');
  await fac.click('#rooms [data-testid=confirm-yes]');
  await waitState(amina, (c) => !c.snap.breakouts);
  const experts = server.invites.filter((i) => i.roles.includes('expert')).map((i) => i.participant);
  await ok(fac, { type: 'plan_rotation', experts, method: 'balanced', attribute: 'commune', only_present: false, round_ms: 15 * 60000, transition_ms: 60000, warning_ms: 120000 });
  await ok(fac, { type: 'start_rotation' });
  await waitState(expert, (c, id) => c.snap.participants.find((p) => p.id === id).room !== 'plenary', sarah.participant);
  const sarahRoom = await expert.evaluate((id) => window.__convene.snap.participants.find((p) => p.id === id).room, sarah.participant);
  // Someone in Sarah's room asks a question.
  const asker = await (async () => {
    for (const page of [amina, ...others]) {
      const here = await page.evaluate(() => {
        const c = window.__convene;
        return c.snap.participants.find((p) => p.id === c.you.id).room;
      });
      if (here === sarahRoom) return page;
    }
    return null;
  })();
  if (asker) await ok(asker, { type: 'ask_question', text: 'Les bus de nuit réduisent-ils vraiment les accidents ?' });
  await ok(expert, { type: 'send_chat', text: 'Bienvenue ! Je vous présente en cinq minutes les chiffres de la sécurité routière la nuit.' });
  await shoot(expert, 'expert');
  await tab(expert, 'rotation');
  await screenshot(expert, 'expert-rotation-laptop');
  await tab(amina, 'rotation');
  await amina.waitForSelector('.next-step, .path');
  await amina.setViewportSize(PHONE);
  await screenshot(amina, 'citizen-rotation-phone');
  await amina.setViewportSize(LAPTOP);
  await tab(fac, 'rotation');
  await screenshot(fac, 'facilitator-rotation-laptop');
  for (const [page, who] of [[amina, 'citizen'], [fac, 'facilitator'], [expert, 'expert'], [guar, 'guarantor']]) {
    await axeEveryView(page, `${who} during the rotation`);
  }
  for (const page of [fac, amina, rap, rap2, guar, expert, ...others]) {
    assert.deepEqual(await page.evaluate(() => window.__convene.errors.map((e) => `${e.command}: ${e.code} ${e.message}`)), []);
    assert.deepEqual(page.errors, []);
  }
  for (const page of [fac, amina, rap, guar, expert, ...others]) await assertMatchesServer(page, 'after the day');
});
