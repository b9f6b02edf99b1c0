// The video access tokens the real convene server mints, checked with an independent JWT
// library (jose; the server signs with Rust's jsonwebtoken): Jitsi's claims (aud, iss = app id,
// sub = domain or tenant, room = the meeting's opaque name, context.user), LiveKit's grants
// per role, expiry and signature; refusal of another room's meeting; and, with the floor
// controlling the microphone, the calls Convene makes to LiveKit's server API when the floor
// changes (a local HTTP listener stands in for LiveKit: no media server runs here).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { jwtVerify, decodeJwt, errors } from 'jose';
import { startServer, launchBrowser, openAs, command, waitState } from './harness.mjs';

const JITSI_SECRET = 'jitsi-app-secret-de-test';
const LK_KEY = 'APIconvenetest';
const LK_SECRET = 'livekit-api-secret-de-test-0123456789';
const key = (s) => new TextEncoder().encode(s);

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  if (browser) await browser.close();
});

/** GET /api/conventions/demo/video as `invite` (optionally ?room=). */
async function ask(server, invite, room) {
  const q = room ? `?room=${encodeURIComponent(room)}` : '';
  const r = await fetch(`${server.base}/api/conventions/demo/video${q}`, { headers: { Authorization: `Bearer ${server.token(invite)}` } });
  return { status: r.status, body: await r.json() };
}

async function meeting(server, invite) {
  const { status, body } = await ask(server, invite);
  assert.equal(status, 200, JSON.stringify(body));
  return body;
}

/** Move `who` to a new breakout room, as the facilitator's page does. */
async function moveToRoom(fac, who) {
  assert.deepEqual(await command(fac, { type: 'create_rooms', count: 1 }), { ok: true });
  assert.deepEqual(await command(fac, { type: 'move_participant', participant: who.participant, room: 'r1' }), { ok: true });
}

test('Jitsi tokens: claims, signature, expiry, and never for another room', { timeout: 120000 }, async () => {
  const server = await startServer({ extra: ['--video', 'jitsi', '--jitsi-url', 'https://meet.example.org/Convention/', '--jitsi-app-id', 'convene-test', '--jitsi-app-secret', JITSI_SECRET, '--video-token-ttl-secs', '120'] });
  try {
    const facInvite = server.role('facilitator');
    const citizen = server.role('citizen');
    const before = Math.floor(Date.now() / 1000);
    const f = await meeting(server, facInvite);
    const c = await meeting(server, citizen);
    assert.equal(f.provider, 'jitsi');
    assert.equal(f.url, 'https://meet.example.org/Convention');
    assert.match(f.meeting, /^cv[0-9a-f]{32}$/);
    assert.equal(c.meeting, f.meeting, 'the same plenary meeting for everyone in it');
    assert.equal(c.start_muted, true, 'the plenary is joined muted');

    // Verified with the app secret: issuer = app id, audience, subject = the tenant (lowercase).
    const opts = { algorithms: ['HS256'], issuer: 'convene-test', audience: 'jitsi', subject: 'convention' };
    const { payload: pf, protectedHeader } = await jwtVerify(f.token, key(JITSI_SECRET), opts);
    assert.equal(protectedHeader.alg, 'HS256');
    assert.equal(pf.room, f.meeting);
    assert.deepEqual(pf.context.user, { id: facInvite.participant, name: facInvite.name, moderator: 'true' });
    const { payload: pc } = await jwtVerify(c.token, key(JITSI_SECRET), opts);
    assert.deepEqual(pc.context.user, { id: citizen.participant, name: citizen.name, moderator: 'false' });
    // Short-lived: exactly the configured lifetime, starting now.
    assert.equal(pc.exp - pc.iat, 120);
    assert.ok(pc.iat >= before && pc.iat <= Math.floor(Date.now() / 1000) + 1);
    assert.ok(pc.nbf <= pc.iat);
    assert.equal(c.expires_at, pc.exp * 1000);

    // Expired a second after its end, not valid before nbf.
    await assert.rejects(jwtVerify(c.token, key(JITSI_SECRET), { ...opts, currentDate: new Date((pc.exp + 1) * 1000) }), errors.JWTExpired);
    await assert.rejects(jwtVerify(c.token, key(JITSI_SECRET), { ...opts, currentDate: new Date((pc.nbf - 2) * 1000) }), errors.JWTClaimValidationFailed);
    // Another secret, or a claim changed after signing: refused.
    await assert.rejects(jwtVerify(c.token, key('another-secret'), opts), errors.JWSSignatureVerificationFailed);
    const [h, , s] = c.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...pc, room: '*' })).toString('base64url');
    await assert.rejects(jwtVerify(`${h}.${forged}.${s}`, key(JITSI_SECRET), opts), errors.JWSSignatureVerificationFailed);

    // Another room: refused to the citizen while in the plenary; theirs once moved there.
    const fac = await openAs(browser, server, facInvite);
    assert.deepEqual(await command(fac, { type: 'create_rooms', count: 1 }), { ok: true });
    const refused = await ask(server, citizen, 'r1');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'forbidden');
    assert.equal(refused.body.token, undefined);
    assert.deepEqual(await command(fac, { type: 'move_participant', participant: citizen.participant, room: 'r1' }), { ok: true });
    const r1 = await meeting(server, citizen);
    assert.equal(r1.room, 'r1');
    assert.notEqual(r1.meeting, f.meeting);
    assert.equal(r1.start_muted, false);
    const { payload: p1 } = await jwtVerify(r1.token, key(JITSI_SECRET), opts);
    assert.equal(p1.room, r1.meeting, "the token names the breakout room's meeting only");
    assert.equal((await ask(server, citizen, 'plenary')).status, 403);
    await fac.context().close();
  } finally {
    await server.stop();
    server.cleanup();
  }
});

/** A local HTTP listener standing in for LiveKit's server API: records every request. */
async function fakeLiveKit() {
  const requests = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  // Browsers' signalling WebSockets (the page test): no media server here.
  srv.on('upgrade', (req, socket) => socket.destroy());
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, requests, port: srv.address().port, close: () => new Promise((ok) => srv.close(ok)) };
}

async function waitFor(fn, what, timeout = 10000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('LiveKit tokens per role, and the floor controls the microphone through the server API', { timeout: 120000 }, async () => {
  const lk = await fakeLiveKit();
  const server = await startServer({ extra: ['--video', 'livekit', '--livekit-url', `ws://127.0.0.1:${lk.port}`, '--livekit-api-key', LK_KEY, '--livekit-api-secret', LK_SECRET, '--livekit-floor-mic'] });
  try {
    const opts = { algorithms: ['HS256'], issuer: LK_KEY };
    const facInvite = server.role('facilitator');
    const citizen = server.role('citizen');
    const guarantor = server.role('guarantor');
    const c = await meeting(server, citizen);
    assert.equal(c.provider, 'livekit');
    assert.equal(c.url, `ws://127.0.0.1:${lk.port}`);
    assert.equal(c.may_speak, false, 'in the plenary a citizen without the floor may not publish audio');
    const { payload: pc } = await jwtVerify(c.token, key(LK_SECRET), { ...opts, subject: citizen.participant });
    assert.equal(pc.name, citizen.name);
    assert.deepEqual(pc.video, { room: c.meeting, roomJoin: true, canSubscribe: true, canPublish: true, canPublishData: true, canPublishSources: ['camera'] });
    assert.equal(pc.exp - pc.nbf, 600, 'the default lifetime: 10 minutes');

    const f = await meeting(server, facInvite);
    assert.equal(f.may_speak, true);
    const { payload: pf } = await jwtVerify(f.token, key(LK_SECRET), { ...opts, subject: facInvite.participant });
    assert.deepEqual(pf.video, { room: c.meeting, roomJoin: true, canSubscribe: true, canPublish: true, canPublishData: true });

    const g = await meeting(server, guarantor);
    const { payload: pg } = await jwtVerify(g.token, key(LK_SECRET), { ...opts, subject: guarantor.participant });
    assert.deepEqual(pg.video, { room: c.meeting, roomJoin: true, canSubscribe: true, canPublish: false, canPublishData: false, hidden: true });
    await assert.rejects(jwtVerify(c.token, key('not-the-secret'), opts), errors.JWSSignatureVerificationFailed);

    // The floor goes to the citizen: LiveKit is told they may publish audio.
    const fac = await openAs(browser, server, facInvite);
    assert.equal(lk.requests.length, 0);
    assert.deepEqual(await command(fac, { type: 'give_floor', room: 'plenary', participant: citizen.participant }), { ok: true });
    const granted = await waitFor(() => lk.requests[0], 'the UpdateParticipant call');
    assert.equal(granted.method, 'POST');
    assert.equal(granted.url, '/twirp/livekit.RoomService/UpdateParticipant');
    assert.match(granted.type, /^application\/json/);
    const bearer = granted.auth.replace(/^Bearer /, '');
    const { payload: admin } = await jwtVerify(bearer, key(LK_SECRET), opts);
    assert.deepEqual(admin.video, { room: c.meeting, roomAdmin: true }, 'a roomAdmin grant for the plenary only');
    assert.ok(admin.exp - admin.nbf <= 60);
    assert.deepEqual(JSON.parse(granted.body), {
      room: c.meeting,
      identity: citizen.participant,
      permission: { canSubscribe: true, canPublish: true, canPublishData: true, canPublishSources: ['CAMERA', 'MICROPHONE', 'SCREEN_SHARE', 'SCREEN_SHARE_AUDIO'] },
    });
    // A token asked for now carries the permission too.
    const now = await meeting(server, citizen);
    assert.equal(now.may_speak, true);
    assert.equal(decodeJwt(now.token).video.canPublishSources, undefined);

    // The floor goes to another citizen: the first loses the microphone, the second gets it,
    // in that order.
    const other = server.role('citizen', 1);
    assert.deepEqual(await command(fac, { type: 'give_floor', room: 'plenary', participant: other.participant }), { ok: true });
    await waitFor(() => lk.requests.length >= 3, 'two more calls');
    const [lost, got] = lk.requests.slice(1, 3).map((r) => JSON.parse(r.body));
    assert.deepEqual([lost.identity, lost.permission.canPublishSources], [citizen.participant, ['CAMERA']]);
    assert.deepEqual([got.identity, got.permission.canPublishSources], [other.participant, ['CAMERA', 'MICROPHONE', 'SCREEN_SHARE', 'SCREEN_SHARE_AUDIO']]);
    assert.equal(lost.room, c.meeting);

    // The facilitator ends the turn: back to the camera only.
    assert.deepEqual(await command(fac, { type: 'end_floor', room: 'plenary' }), { ok: true });
    await waitFor(() => lk.requests.length >= 4, 'the end of the turn');
    const ended = JSON.parse(lk.requests[3].body);
    assert.deepEqual([ended.identity, ended.permission.canPublishSources], [other.participant, ['CAMERA']]);

    // A breakout room's floor does not touch anyone's microphone: everyone speaks there.
    await moveToRoom(fac, citizen);
    await waitState(fac, (cl, id) => cl.snap.participants.find((p) => p.id === id).room === 'r1', citizen.participant);
    assert.deepEqual(await command(fac, { type: 'give_floor', room: 'r1', participant: citizen.participant }), { ok: true });
    const r1 = await meeting(server, citizen);
    assert.equal(r1.may_speak, null);
    assert.equal(decodeJwt(r1.token).video.canPublishSources, undefined);
    assert.notEqual(r1.meeting, c.meeting);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(lk.requests.length, 4, 'no call for a breakout room');
    await fac.context().close();
  } finally {
    await server.stop();
    server.cleanup();
    await lk.close();
  }
});
