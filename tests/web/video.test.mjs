// The video meeting in the page, in headless Chromium against the real convene server: the
// meeting is created for the right opaque room with the person's token, and switches on a
// move without reloading the page; on a phone it sits at the top of the room view, collapses,
// and leaves the raised hand within reach. No media server runs here: for Jitsi, a local HTTP
// server stands in for the deployment and serves Jitsi's real IFrame API (external_api.js,
// from the npm package lib-jitsi-meet-dist), so what is checked is the iframe that API builds
// from the page's options; for LiveKit, the real livekit-client SDK's connection attempt is
// observed (its WebSocket URL carries the token), with nothing answering it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { jwtVerify } from 'jose';
import { startServer, launchBrowser, openAs, command, axe, waitState, PHONE, LAPTOP } from './harness.mjs';

const require = createRequire(import.meta.url);
const EXTERNAL_API = readFileSync(require.resolve('lib-jitsi-meet-dist/dist/external_api.min.js'), 'utf8');
const JITSI_SECRET = 'jitsi-secret-for-the-page-test';
const LK_KEY = 'APIpage';
const LK_SECRET = 'livekit-secret-for-the-page-test-0123';
const key = (s) => new TextEncoder().encode(s);

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

/** A local stand-in for a Jitsi deployment (or a LiveKit server): records requests. */
async function standIn() {
  const requests = [];
  const srv = createServer((req, res) => {
    requests.push({ method: req.method, url: req.url });
    if (req.url === '/external_api.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(EXTERNAL_API);
    } else if (req.method === 'GET' && /^\/cv[0-9a-f]{32}\?/.test(req.url)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="fr"><title>Jitsi Meet (stand-in)</title><main><p>Réunion (stand-in)</p></main></html>');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  srv.on('upgrade', (req, socket) => {
    requests.push({ method: 'UPGRADE', url: req.url });
    socket.destroy();
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { requests, port: srv.address().port, close: () => new Promise((ok) => srv.close(ok)) };
}

async function apiMeeting(server, invite) {
  const r = await fetch(`${server.base}/api/conventions/demo/video`, { headers: { Authorization: `Bearer ${server.token(invite)}` } });
  assert.equal(r.status, 200);
  return r.json();
}

/** The iframe the IFrame API built: its URL, the token in it, and the config in its fragment. */
async function frameOf(page) {
  const src = await page.getAttribute('#video-dock iframe', 'src');
  const u = new URL(src);
  const hash = new URLSearchParams(u.hash.slice(1));
  const config = {};
  for (const [k, v] of hash) {
    if (k.startsWith('config.')) config[k.slice(7)] = JSON.parse(v);
  }
  return { u, room: u.pathname.slice(1), jwt: u.searchParams.get('jwt'), config };
}

/** Create a breakout room and move `who` there, as the facilitator's console does. */
async function moveTo(fac, who, room) {
  if (room !== 'plenary') {
    const has = await fac.evaluate((r) => window.__convene.snap.rooms.some((x) => x.id === r), room);
    if (!has) assert.deepEqual(await command(fac, { type: 'create_rooms', count: 1 }), { ok: true });
  }
  assert.deepEqual(await command(fac, { type: 'move_participant', participant: who.participant, room }), { ok: true });
}

test('Jitsi: the IFrame API joins the opaque room with the token, follows a move without reload; on a phone the video is on top and collapses', { timeout: 180000 }, async () => {
  const jitsi = await standIn();
  const base = `http://127.0.0.1:${jitsi.port}`;
  const server = await startServer({ extra: ['--video', 'jitsi', '--jitsi-url', base, '--jitsi-app-id', 'convene-page', '--jitsi-app-secret', JITSI_SECRET] });
  try {
    const citizen = server.role('citizen');
    const page = await openAs(browser, server, citizen, { viewport: PHONE, query: 'from=test' });
    const fac = await openAs(browser, server, server.role('facilitator'));
    await page.waitForSelector('#video-dock button:has-text("Rejoindre la vidéo")');
    await page.evaluate(() => { window.__sameDocument = true; });
    // Nothing is loaded from the video service before the person asks for it.
    assert.deepEqual(jitsi.requests, []);

    // On a phone the dock is at the top of the room view, above the floor and the hand.
    const dock0 = await page.locator('#video-dock').boundingBox();
    const floor0 = await page.locator('#floor').boundingBox();
    assert.ok(dock0.y + dock0.height <= floor0.y, 'the video is above the room view');

    await page.click('#video-dock button:has-text("Rejoindre la vidéo")');
    await page.waitForSelector('#video-dock iframe');
    const plenary = await apiMeeting(server, citizen);
    const first = await frameOf(page);
    assert.equal(first.u.origin, base);
    assert.equal(first.room, plenary.meeting, "the iframe opens the plenary's opaque meeting");
    assert.match(first.room, /^cv[0-9a-f]{32}$/);
    const opts = { algorithms: ['HS256'], issuer: 'convene-page', audience: 'jitsi', subject: '127.0.0.1' };
    const { payload: p0 } = await jwtVerify(first.jwt, key(JITSI_SECRET), opts);
    assert.equal(p0.room, plenary.meeting);
    assert.deepEqual(p0.context.user, { id: citizen.participant, name: citizen.name, moderator: 'false' });
    // No pre-join screen, muted on entry in the plenary, no invitation to the mobile app.
    assert.deepEqual(first.config.prejoinConfig, { enabled: false });
    assert.equal(first.config.prejoinPageEnabled, false);
    assert.equal(first.config.startWithAudioMuted, true);
    assert.equal(first.config.disableDeepLinking, true);
    assert.ok(jitsi.requests.some((r) => r.url === '/external_api.js'), 'the IFrame API comes from the deployment');
    await waitFor(() => jitsi.requests.some((r) => r.url.startsWith(`/${plenary.meeting}?jwt=`)), 'the meeting page to be asked for with the token');
    // "Open in a new tab" goes to the same meeting, with the token.
    const tab0 = new URL(await page.getAttribute('#video-dock a:has-text("nouvel onglet")', 'href'));
    assert.equal(tab0.pathname, `/${plenary.meeting}`);
    assert.equal(tab0.searchParams.get('jwt').split('.').length, 3);

    // Raising one's hand stays within reach, the video above it (no scrolling).
    const hand = await page.locator('.hand button').boundingBox();
    const dock = await page.locator('#video-dock').boundingBox();
    assert.equal(await page.evaluate(() => window.scrollY), 0);
    assert.ok(dock.y + dock.height <= hand.y, 'the hand is below the video, not under it');
    assert.ok(hand.y + hand.height <= PHONE.height, `the raise-hand button is on the first screen (bottom at ${hand.y + hand.height}px)`);
    await axe(page, 'phone, room view with the Jitsi meeting');

    // Collapsed: a slim bar; the meeting keeps running (the same iframe), the chat comes up.
    const chatBefore = await page.locator('.chat-form input').boundingBox();
    await page.click('#video-dock button[aria-label="Réduire la vidéo"]');
    assert.equal(await page.getAttribute('#video-dock button[aria-controls=video-dock-body]', 'aria-expanded'), 'false');
    assert.equal(await page.isVisible('#video-dock iframe'), false);
    assert.equal(await page.locator('#video-dock iframe').count(), 1);
    const slim = await page.locator('#video-dock').boundingBox();
    assert.ok(slim.height < 80, `collapsed dock height ${slim.height}`);
    const chatAfter = await page.locator('.chat-form input').boundingBox();
    assert.ok(chatAfter.y < chatBefore.y - 100, 'the chat comes up by the height of the video');
    await page.click('#video-dock button[aria-label="Afficher la vidéo"]');
    assert.equal(await page.isVisible('#video-dock iframe'), true);

    // Moved to a breakout room: the page stays (same document), the meeting switches to the
    // room's own opaque meeting with a token for it, joined unmuted, without a pre-join.
    await moveTo(fac, citizen, 'r1');
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room === 'r1', citizen.participant);
    const r1 = await apiMeeting(server, citizen);
    await page.waitForFunction((m) => { const f = document.querySelector('#video-dock iframe'); return f && f.src.includes(`/${m}?`); }, r1.meeting);
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');
    assert.equal(await page.locator('#video-dock iframe').count(), 1, 'the plenary meeting was left');
    const second = await frameOf(page);
    assert.notEqual(second.room, first.room);
    const { payload: p1 } = await jwtVerify(second.jwt, key(JITSI_SECRET), opts);
    assert.equal(p1.room, r1.meeting);
    assert.equal(second.config.startWithAudioMuted, false);
    assert.deepEqual(second.config.prejoinConfig, { enabled: false });
    await page.waitForSelector('#video-dock [role=status]:has-text("Vidéo basculée vers : Salle 1")');
    const tab1 = new URL(await page.getAttribute('#video-dock a:has-text("nouvel onglet")', 'href'));
    assert.equal(tab1.pathname, `/${r1.meeting}`, '"open in a new tab" follows too');

    // The meeting stays on the other tabs, and comes back to the plenary with the person.
    await page.click('nav [data-tab=polls]');
    assert.equal(await page.locator('#video-dock iframe').count(), 1);
    await moveTo(fac, citizen, 'plenary');
    await page.waitForFunction((m) => { const f = document.querySelector('#video-dock iframe'); return f && f.src.includes(`/${m}?`); }, plenary.meeting);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
    assert.equal((await frameOf(page)).config.startWithAudioMuted, true);
    assert.deepEqual(page.errors, []);
    await page.context().close();
    await fac.context().close();
  } finally {
    await server.stop();
    server.cleanup();
    await jitsi.close();
  }
});

test('LiveKit: the SDK connects to the opaque room with the token, and switches on a move without reload', { timeout: 180000 }, async () => {
  const lk = await standIn();
  const server = await startServer({ extra: ['--video', 'livekit', '--livekit-url', `ws://127.0.0.1:${lk.port}`, '--livekit-api-key', LK_KEY, '--livekit-api-secret', LK_SECRET, '--livekit-floor-mic'] });
  try {
    const citizen = server.role('citizen');
    const page = await openAs(browser, server, citizen, { viewport: LAPTOP, query: 'from=test' });
    const fac = await openAs(browser, server, server.role('facilitator'));
    const sockets = [];
    page.on('websocket', (ws) => {
      if (ws.url().startsWith(`ws://127.0.0.1:${lk.port}/`)) sockets.push(ws.url());
    });
    await page.evaluate(() => { window.__sameDocument = true; });
    await page.click('#video-dock button:has-text("Rejoindre la vidéo")');
    const plenary = await apiMeeting(server, citizen);
    await page.waitForFunction(() => document.querySelector('#video-dock .lk'));
    const opts = { algorithms: ['HS256'], issuer: LK_KEY, subject: citizen.participant };
    // The SDK's signalling WebSocket: /rtc..., with the person's token for the plenary.
    const url0 = new URL(await waitFor(() => sockets[0], 'the SDK to connect'));
    assert.match(url0.pathname, /^\/rtc(\/v1)?$/);
    const { payload: p0 } = await jwtVerify(url0.searchParams.get('access_token'), key(LK_SECRET), opts);
    assert.equal(p0.video.room, plenary.meeting);
    assert.equal(p0.name, citizen.name);
    assert.deepEqual(p0.video.canPublishSources, ['camera'], 'the plenary: no microphone without the floor');
    // Nothing answers here: the page says so, and offers to try again.
    await page.waitForSelector('#video-dock :text("Connexion au serveur vidéo impossible.")', { timeout: 30000 });
    await page.waitForSelector('#video-dock .lk-controls >> text=le micro est réservé');
    await axe(page, 'laptop, LiveKit meeting that cannot connect');

    // Moved: the SDK connects to the breakout room's meeting, with a token for it.
    const n = sockets.length;
    await moveTo(fac, citizen, 'r1');
    await waitState(page, (c, id) => c.snap.participants.find((p) => p.id === id).room === 'r1', citizen.participant);
    const r1 = await apiMeeting(server, citizen);
    const url1 = new URL(await waitFor(() => sockets.slice(n).find((s) => s.includes('access_token')), 'the SDK to connect again'));
    const { payload: p1 } = await jwtVerify(url1.searchParams.get('access_token'), key(LK_SECRET), opts);
    assert.equal(p1.video.room, r1.meeting);
    assert.notEqual(r1.meeting, plenary.meeting);
    assert.equal(p1.video.canPublishSources, undefined, 'everyone speaks in a breakout room');
    assert.equal(await page.evaluate(() => window.__sameDocument), true, 'no page reload');
    assert.equal(await page.locator('#video-dock .lk').count(), 1);
    await page.waitForSelector('#video-dock [role=status]:has-text("Vidéo basculée vers : Salle 1")');
    assert.deepEqual(page.errors, []);
    await page.context().close();
    await fac.context().close();
  } finally {
    await server.stop();
    server.cleanup();
    await lk.close();
  }
});

test('a link template: the page offers the room\'s link, which follows a move', { timeout: 120000 }, async () => {
  const server = await startServer({ extra: ['--video', 'link', '--video-link', 'https://visio.example.org/convene/{room}'] });
  try {
    const citizen = server.role('citizen');
    const page = await openAs(browser, server, citizen, { viewport: PHONE, query: 'from=test' });
    const fac = await openAs(browser, server, server.role('facilitator'));
    const plenary = await apiMeeting(server, citizen);
    const link = '#video-dock a:has-text("Ouvrir la réunion vidéo")';
    await page.waitForSelector(link);
    assert.equal(await page.getAttribute(link, 'href'), `https://visio.example.org/convene/${plenary.meeting}`);
    assert.equal(await page.getAttribute(link, 'target'), '_blank');
    assert.equal(await page.locator('iframe').count(), 0, 'a link is not embedded');
    await moveTo(fac, citizen, 'r1');
    const r1 = await apiMeeting(server, citizen);
    assert.notEqual(r1.meeting, plenary.meeting);
    await page.waitForSelector(`${link}[href="https://visio.example.org/convene/${r1.meeting}"]`);
    await axe(page, 'phone, video by link');
    await page.context().close();
    await fac.context().close();
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test('off by default: no public service embedded, and the page says how to configure the video (to facilitators)', { timeout: 120000 }, async () => {
  const server = await startServer();
  try {
    const page = await openAs(browser, server, server.role('citizen'), { viewport: PHONE, query: 'from=test' });
    const elsewhere = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(server.base)) elsewhere.push(r.url());
    });
    await page.waitForSelector('#video :text("La vidéo n’est pas configurée sur ce serveur")');
    assert.equal(await page.locator('#video-dock').count(), 0);
    // A citizen is not shown the server's flags; a facilitator, who passes them on, is.
    assert.equal(await page.locator('#video summary').count(), 0, 'a citizen is shown how to start the server');
    assert.doesNotMatch(await page.textContent('#video'), /--video/);
    await axe(page, 'phone, video not configured');
    const fac = await openAs(browser, server, server.role('facilitator'), { viewport: PHONE, query: 'from=test' });
    await fac.click('nav [data-tab=room]');
    await fac.click('#video summary');
    await fac.waitForSelector('#video :text("--video jitsi")');
    await fac.context().close();
    assert.deepEqual(elsewhere, []);
    assert.equal(await page.locator('iframe').count(), 0);
    await page.context().close();
  } finally {
    await server.stop();
    server.cleanup();
  }
});

async function waitFor(fn, what, timeout = 15000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
