// Test glue for the web client's end-to-end tests: the real convene server (its demo
// convention), Debian's headless Chromium driven by playwright-core, axe-core, screenshots.

import { spawn } from 'node:child_process';
import { createServer, connect as tcpConnect } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/**
 * Where screenshots go: an ignored folder, so that a test run never rewrites tracked files.
 * `node tests/web/refresh-screenshots.mjs` sets CONVENE_SCREENSHOTS to docs/screenshots.
 */
export const SCREENSHOTS = process.env.CONVENE_SCREENSHOTS ? resolve(process.env.CONVENE_SCREENSHOTS) : join(ROOT, 'tests', 'web', 'out', 'screenshots');
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const LAPTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

/** The convene binary: $CONVENE_BIN, or the debug build of this repository. */
function binary() {
  if (process.env.CONVENE_BIN) return process.env.CONVENE_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
  return join(target, 'debug', 'convene');
}

/**
 * The real server with its demo convention, on an ephemeral port (or `port`, to restart on
 * the same address after a kill), with `extra` flags (e.g. cluster mode). Returns helpers to
 * reach each participant. The demo's day is blank (`demoDay: 'none'`): each test builds its
 * own scene; `'prepared'` gives the day a newcomer gets (the run sheet ready to run).
 */
export async function startServer({ dataDir, port = 0, extra = [], demoDay = 'none' } = {}) {
  const data = dataDir || mkdtempSync(join(tmpdir(), 'convene-web-test-'));
  const invitesFile = join(data, 'invites.json');
  const proc = spawn(binary(), ['serve', '--demo', '--demo-day', demoDay, '--data', data, '--listen', `127.0.0.1:${port}`, '--invites-out', invitesFile, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CONVENE_LOG: process.env.CONVENE_LOG || 'warn' },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
  });
  const addr = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`convene did not start in time:\n${out}\n${stderr}`)), 30000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/convene listening on http:\/\/(\S+)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`convene exited (${code}) before listening:\n${out}\n${stderr}`));
    });
  });
  proc.stdout.resume();
  const invites = JSON.parse(readFileSync(invitesFile, 'utf8'));
  const base = `http://${addr}`;
  const server = {
    proc,
    data,
    addr,
    base,
    invites,
    port: Number(addr.split(':').pop()),
    /** The invitation of the first person with these roles (and not `not`), or by name. */
    who(pred) {
      const i = typeof pred === 'function' ? invites.find(pred) : invites.find((x) => x.participant === pred || x.name === pred);
      assert.ok(i, `no such participant: ${pred}`);
      return i;
    },
    role(role, n = 0) {
      const list = invites.filter((x) => x.roles.length === 1 && x.roles[0] === role);
      assert.ok(list[n], `no ${role} #${n}`);
      return list[n];
    },
    /** The page of an invitation: the token from the invite's link, on the server's real address. */
    url(invite, query = 'video=off') {
      const token = new URL(invite.url).hash.replace(/^#/, '');
      return `${base}/?${query}#${token}`;
    },
    token(invite) {
      return new URLSearchParams(new URL(invite.url).hash.slice(1)).get('token');
    },
    stderr: () => stderr,
    async stop() {
      if (proc.exitCode !== null) return;
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
    /** SIGSTOP: the process is there but answers nothing (a silently dead network). */
    freeze() {
      proc.kill('SIGSTOP');
    },
    thaw() {
      proc.kill('SIGCONT');
    },
    /** kill -9: nothing acknowledged may be lost. */
    async kill9() {
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await done;
    },
    cleanup() {
      rmSync(data, { recursive: true, force: true });
    },
  };
  return server;
}

/** The server and the browser of a test file (each file runs in a process of its own, so
 * these bindings are the file's): set before its first test by `useServerAndBrowser`. */
export let server;
export let browser;

/** Start a server and a browser before the file's tests, and stop them after. */
export function useServerAndBrowser(options) {
  before(async () => {
    server = await startServer(options);
    browser = await launchBrowser();
  });
  after(async () => {
    if (browser) await browser.close();
    if (server) {
      await server.stop();
      server.cleanup();
    }
  });
}

/** Start the file's server again on the same address and data (after `kill9`): the
 * `server` binding then names the new process, which `after` stops. */
export async function restartServer() {
  server = await startServer({ dataDir: server.data, port: server.port });
  return server;
}

/** The organizer token of a server the tests started (its data directory's file). */
export function organizerToken(srv = server) {
  return readFileSync(join(srv.data, 'organizer-token'), 'utf8').trim();
}

/** A fresh browser context on the organizer console (/organisation), every request's URL
 * recorded (`page.urls`). */
export async function openConsole(viewport, extra = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'fr-FR', ...extra });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.urls = [];
  context.on('request', (r) => page.urls.push(r.url()));
  await page.goto(`${server.base}/organisation`);
  await page.waitForSelector('#org-token');
  return page;
}

/** Sign in to the console with `token`. */
export async function signInConsole(page, token) {
  await page.fill('#org-token', token);
  await page.click('button[type=submit]:has-text("Se connecter")');
}

/** A call of the organizer HTTP API with the server's organizer token: its status and JSON
 * body (null for 204). */
export async function organizerApi(srv, method, path, body) {
  const token = organizerToken(srv);
  const r = await fetch(`${srv.base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: r.status === 204 ? null : await r.json() };
}

/** A GET of the organizer API with the server's organizer token, which must answer 200: the
 * response (the export as the organizer gets it). */
export async function asOrganizer(path, srv = server) {
  const r = await fetch(`${srv.base}${path}`, { headers: { authorization: `Bearer ${organizerToken(srv)}` } });
  assert.equal(r.status, 200, `${path} as the organizer`);
  return r;
}

/** Click `target` (a selector or a locator) of `page` and return the download it starts: its
 * suggested name, bytes and text. */
export async function download(page, target) {
  const click = typeof target === 'string' ? page.click(target) : target.click();
  const [dl] = await Promise.all([page.waitForEvent('download'), click]);
  const bytes = readFileSync(await dl.path());
  return { name: dl.suggestedFilename(), bytes, text: bytes.toString('utf8') };
}

/** A command sent from the page that must be accepted. */
export async function commandOk(page, cmd) {
  assert.deepEqual(await command(page, cmd), { ok: true }, JSON.stringify(cmd));
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** A person's own browser (a fresh context), on their invitation link, once welcomed. */
export async function openAs(browser, server, invite, { viewport = LAPTOP, query, lang, base } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: lang === 'en' ? 'en-GB' : 'fr-FR' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  // `base`: the same server through another address (a proxy standing for the network).
  const url = server.url(invite, query);
  await page.goto(base ? url.replace(server.base, base) : url);
  await waitOpen(page);
  return page;
}

export async function waitOpen(page, timeout = 20000) {
  await page.waitForFunction(() => window.__convene && window.__convene.status === 'open' && window.__convene.snap, null, { timeout });
}

/** Wait until the page's state satisfies `fn(client, arg)` (runs in the page). */
export async function waitState(page, fn, arg, timeout = 15000) {
  await page.waitForFunction(new Function('arg', `const c = window.__convene; return (${fn})(c, arg);`), arg, { timeout });
}

/** The tabs a person has, in order. */
export async function tabsOf(page) {
  return page.$$eval('nav [data-tab]', (els) => els.map((e) => e.dataset.tab));
}

export async function tab(page, name) {
  await page.click(`nav [data-tab=${name}]`);
  await page.waitForSelector(`main[data-view=${name}]`);
}

/** Run axe-core on the page; fail on any serious or critical violation. */
export async function axe(page, label) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.filter((v) => !(v.impact === 'serious' || v.impact === 'critical'));
  if (minor.length && process.env.AXE_VERBOSE) console.log(`axe ${label}: minor: ${JSON.stringify(minor)}`);
  assert.deepEqual(bad, [], `axe-core, ${label}: serious or critical violations`);
  return result;
}

/** The whole page (`fullPage`), or what the screen shows (what stays in view). */
export async function screenshot(page, name, { fullPage = true, element = null } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.evaluate(() => document.fonts && document.fonts.ready);
  const path = join(SCREENSHOTS, `${name}.png`);
  // `element`: a locator of the page, shot alone.
  if (element) await element.screenshot({ path });
  else await page.screenshot({ path, fullPage });
}

/** Send a command through the page's own client, as the UI does (for setting up scenes). */
export async function command(page, cmd) {
  return page.evaluate((c) => window.__convene.request(c).then(() => ({ ok: true }), (e) => ({ ok: false, code: e.code })), cmd);
}

/** A TCP port free on the loopback now (to start a server on an address known in advance). */
export async function freePort() {
  const srv = createServer();
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  await new Promise((ok) => srv.close(ok));
  return port;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fresh snapshot the server gives the page's person now (a second connection with the
 * same token, closed at once). */
export function freshSnapshot(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const c = window.__convene;
    const ws = new WebSocket(c.url);
    const timer = setTimeout(() => reject(new Error('no welcome')), 10000);
    // The page's protocol (version 2: PROTOCOL.md section 25).
    const protocol = c.snap && c.snap.presence ? 2 : 1;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', protocol, token: c.token }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'welcome') {
        clearTimeout(timer);
        ws.close(1000);
        resolve(msg.snapshot);
      }
    };
  }));
}

/**
 * The page's state, folded from events, equals a fresh snapshot the server gives the same
 * person now (a second connection with the same token): the client applies every event as
 * the server does.
 */
export async function assertMatchesServer(page, label = '', attempt = 0) {
  const fresh = await freshSnapshot(page);
  const mine = await page.evaluate(() => JSON.parse(JSON.stringify(window.__convene.snap)));
  const norm = (s) => ({
    seq: s.seq,
    // Version 2: where the people of the view are, and every room's members, as the presence
    // view says (the page's `participants` are made of it and of the roster).
    participants: s.presence
      ? [...s.presence.people].sort((a, b) => a.participant.localeCompare(b.participant))
        .map((p) => ({ id: p.participant, room: p.room, assigned: p.assigned || null }))
      : s.participants.map((p) => ({ id: p.id, room: p.room, assigned: p.assigned, roles: p.roles })),
    members: s.presence ? s.presence.rooms.map((r) => [r.room, r.members]) : null,
    rooms: s.rooms.map((r) => ({
      id: r.id,
      name: r.name,
      observers: r.observers,
      inside: r.inside ? {
        chat: r.inside.chat.map((l) => [l.seq, l.from, l.text]),
        queue: r.inside.queue,
        queue_in_order: r.inside.queue_in_order,
        order: r.inside.order,
        limit_ms: r.inside.limit_ms,
        floor: r.inside.floor,
      } : null,
    })),
    breakouts: s.breakouts,
    floor_time: s.floor_time ? Object.fromEntries(s.floor_time.filter((f) => f.spoken_ms).map((f) => [f.participant, f.spoken_ms])) : null,
    calls: s.calls,
    polls: (s.polls || []).map((p) => ({ id: p.id, spec: p.spec, status: p.status, opened_at: p.opened_at, ends_at: p.ends_at, revealed: p.revealed, eligible: p.eligible, you_voted: p.you_voted, your_ballot: p.your_ballot,
      // A draft has no results: the snapshot gives staff zeros, the event none (PROTOCOL.md).
      tally: p.status === 'draft' ? null : p.tally })).sort((a, b) => a.id.localeCompare(b.id)),
    rotation: s.rotation,
    documents: s.documents,
    writing_groups: s.writing_groups,
  });
  // The seqs may differ (a snapshot is at the convention's seq; the page is at the last event
  // it could see), and events may arrive in between: compare the rest, a few times.
  const a = norm(mine);
  const b = norm(fresh);
  delete a.seq;
  delete b.seq;
  if (attempt < 5 && !isDeepStrictEqual(a, b)) {
    await sleep(400);
    return assertMatchesServer(page, label, attempt + 1);
  }
  assert.deepEqual(a, b, `client state vs server snapshot ${label}`);
}

/**
 * A TCP proxy standing for a phone's network between one browser and the real server.
 * `stall()` makes it silently dead: nothing goes through either way, nothing is closed (no
 * FIN, no RST, no offline event), new connections hang; `heal()` ends the stalled
 * connections (as a network that comes back finds its old ones gone) and lets the waiting
 * ones through.
 */
export async function stallableProxy(targetPort) {
  const links = new Set();
  const waiting = [];
  let stalled = false;
  const link = (client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const l = { client, upstream, dead: false };
    links.add(l);
    client.on('data', (d) => { if (!l.dead) upstream.write(d); });
    upstream.on('data', (d) => { if (!l.dead) client.write(d); });
    // A dead link carries nothing, closes included: the silence is total.
    client.on('close', () => { if (!l.dead) upstream.destroy(); links.delete(l); });
    upstream.on('close', () => { if (!l.dead) client.destroy(); });
    client.on('error', () => {});
    upstream.on('error', () => {});
  };
  const srv = createServer((client) => {
    client.on('error', () => {});
    if (stalled) {
      client.pause();
      waiting.push(client);
    } else {
      link(client);
    }
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  const { port } = srv.address();
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    stall() {
      stalled = true;
      for (const l of links) l.dead = true;
    },
    heal() {
      stalled = false;
      for (const l of links) {
        if (l.dead) {
          l.client.destroy();
          l.upstream.destroy();
          links.delete(l);
        }
      }
      for (const c of waiting.splice(0)) {
        link(c);
        c.resume();
      }
    },
    async close() {
      for (const l of links) {
        l.client.destroy();
        l.upstream.destroy();
      }
      for (const c of waiting) c.destroy();
      await new Promise((ok) => srv.close(ok));
    },
  };
}

/**
 * Answer the dialog that asks for a vote or announces results (web/src/ui/asked.jsx) with
 * `button` ("Plus tard", "Voir les sondages", "Fermer"), once it is there for `poll` (any
 * poll if none is given).
 */
export async function answerAsked(page, button = 'Plus tard', poll = null) {
  const sel = `[data-testid=ask-dialog][open]${poll ? `[data-poll=${poll}]` : ''}`;
  await page.waitForSelector(sel);
  const which = await page.getAttribute(sel, 'data-poll');
  const kind = await page.getAttribute(sel, 'data-kind');
  await page.click(`${sel} button:has-text("${button}")`);
  await page.waitForFunction(([p, k]) => !document.querySelector(`[data-testid=ask-dialog][open][data-poll="${p}"][data-kind="${k}"]`), [which, kind]);
}
