// Convene behind nginx with TLS, as README.md ("Put it online") deploys it: deploy/nginx.conf
// itself (its names, ports and certificate paths replaced) in front of the real server, with a
// self-signed certificate. Through it: the invitation links, the web client over wss, the
// opinion's editor over the y-websocket endpoint, the public page, a roster import larger than
// nginx's default body limit and convene's own typed answer past its limit, the redirection
// from http, and /metrics kept for the loopback.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServer, launchBrowser, waitOpen, commandOk, freePort, sleep, tab, LAPTOP, PHONE } from './harness.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';

let server;
let browser;
let nginx;
let dir;
let cert;
let tls; // the port nginx serves HTTPS on
let plain; // its port for http, which redirects

/** deploy/nginx.conf with this machine's ports, upstream and certificate: every replaced line
 * must be in the file, so that the test fails if the file no longer says what it tests. */
function render(conf, { upstream, certFile, keyFile }) {
  const swaps = [
    ['    listen 80;\n', `    listen 127.0.0.1:${plain};\n`],
    ['    listen [::]:80;\n', ''],
    ['    listen 443 ssl;\n', `    listen 127.0.0.1:${tls} ssl;\n`],
    ['    listen [::]:443 ssl;\n', ''],
    ['    server 127.0.0.1:8080;\n', `    server ${upstream};\n`],
    ['/etc/letsencrypt/live/convene.example.org/fullchain.pem', certFile],
    ['/etc/letsencrypt/live/convene.example.org/privkey.pem', keyFile],
  ];
  for (const [from, to] of swaps) {
    assert.ok(conf.includes(from), `deploy/nginx.conf no longer has ${JSON.stringify(from)}`);
    conf = conf.split(from).join(to);
  }
  return conf;
}

async function listening(port, timeout = 10000) {
  const end = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = tcpConnect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(100);
  }
}

/** A request to nginx over HTTPS, trusting the test's certificate only. */
function viaProxy(method, path, { headers = {}, body, localAddress } = {}) {
  return new Promise((ok, fail) => {
    const req = httpsRequest({ host: '127.0.0.1', port: tls, method, path, headers, ca: cert, localAddress }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', fail);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function organizerToken() {
  return readFileSync(join(server.data, 'organizer-token'), 'utf8').trim();
}

function organizer(method, path, body, type = 'application/json') {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return viaProxy(method, path, { headers: { Authorization: `Bearer ${organizerToken()}`, 'Content-Type': type }, body: payload });
}

/** A browser context that trusts nothing more than any browser would, except this test's
 * self-signed certificate. */
async function contextFor(viewport = LAPTOP) {
  return browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'fr-FR', ignoreHTTPSErrors: true });
}

/** A person's page opened from the link convene printed for them (which must point at nginx). */
async function open(invite, viewport = LAPTOP) {
  const page = await (await contextFor(viewport)).newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(invite.url.replace('/#', '/?video=off#'));
  await waitOpen(page);
  return page;
}

before(async () => {
  assert.ok(existsSync(NGINX), `${NGINX} is missing: scripts/test.sh installs Debian's nginx`);
  dir = mkdtempSync(join(tmpdir(), 'convene-proxy-test-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  cert = readFileSync(certFile);
  tls = await freePort();
  plain = await freePort();
  server = await startServer({ extra: ['--public-url', `https://127.0.0.1:${tls}`] });

  const site = render(readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8'), { upstream: server.addr, certFile, keyFile });
  // The rest of a main nginx.conf, kept in the test's folder.
  const main = [
    process.getuid && process.getuid() === 0 ? 'user root;' : '',
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(dir, 'body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    site,
    '}',
  ].join('\n');
  writeFileSync(join(dir, 'nginx.conf'), main);
  nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  nginx.stderr.on('data', (d) => { err += d; });
  nginx.on('exit', (code) => { if (code) err += `\nnginx exited ${code}`; });
  await listening(tls).catch((e) => { throw new Error(`${e.message}\n${err}\n${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`); });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (nginx && nginx.exitCode === null) {
    const done = new Promise((r) => nginx.once('exit', r));
    nginx.kill('SIGQUIT');
    await Promise.race([done, sleep(5000)]);
    if (nginx.exitCode === null) nginx.kill('SIGKILL');
  }
  if (server) {
    await server.stop();
    server.cleanup();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('through nginx and TLS: the links, the live client over wss, the editor and the public page', { timeout: 150000 }, async () => {
  // The links convene prints point at nginx, not at convene's own address.
  for (const invite of server.invites) assert.ok(invite.url.startsWith(`https://127.0.0.1:${tls}/#token=`), invite.url);

  const facInvite = server.role('facilitator');
  const citizen = server.role('citizen', 0);
  const fac = await open(facInvite);
  const cit = await open(citizen, PHONE);
  assert.equal(await cit.evaluate(() => window.__convene.url.split(':')[0]), 'wss');

  // A live exchange both ways through the proxy: an announcement out, a raised hand back.
  await commandOk(fac, { type: 'broadcast', text: 'Bienvenue à la convention, par le proxy' });
  await cit.waitForSelector(':text("Bienvenue à la convention, par le proxy")');
  await cit.click('button:has-text("Lever la main")');
  await cit.waitForSelector('.hand-place:has-text("vous êtes en tête de la file")');
  await tab(fac, 'console');
  await fac.waitForSelector(`#speaking .queue-list li:has-text("${citizen.name}")`);

  // The opinion's editor over the y-websocket endpoint: one rapporteur types, the other sees it.
  const lucie = await open(server.who('Lucie Rapporteuse'));
  const antoine = await open(server.who('Antoine Rapporteur'), PHONE);
  for (const p of [lucie, antoine]) {
    await p.waitForSelector('.doc-editor');
    await p.waitForSelector('.editor-status .badge:has-text("À jour")', { timeout: 20000 });
  }
  await lucie.click('.doc-editor');
  await lucie.keyboard.type('Écrit derrière le proxy');
  await antoine.waitForSelector('.doc-editor :text("Écrit derrière le proxy")');

  // The public page, from the link the organizer API gives.
  const made = await organizer('POST', `/api/conventions/${citizen.convention}/public-link`, {});
  assert.equal(made.status, 201, made.body);
  const link = JSON.parse(made.body).url;
  assert.ok(link.startsWith(`https://127.0.0.1:${tls}/public#link=`), link);
  const viewer = await (await contextFor(PHONE)).newPage();
  await viewer.goto(link);
  await viewer.waitForSelector('[data-testid=public-viewers][data-count="1"]');
  await commandOk(fac, { type: 'broadcast', text: 'Pause de dix minutes' });
  await viewer.waitForSelector('[data-testid=public-announcements] li:has-text("Pause de dix minutes")');

  for (const p of [fac, cit, lucie, antoine, viewer]) assert.deepEqual(p.errors || [], []);
});

test('through nginx: a roster over 1 MiB is imported, past 4 MiB convene answers, /metrics stays local, http redirects', { timeout: 120000 }, async () => {
  const made = await organizer('POST', '/api/conventions', { id: 'grande', name: 'Grande convention' });
  assert.equal(made.status, 201, made.body);

  // 10,000 people (the most one import takes), about 1.5 MiB of CSV: nginx's default limit
  // (1 MiB) would refuse it with a page of its own.
  const rows = ['name,roles,commune,quartier'];
  for (let i = 0; i < 10000; i++) rows.push(`Personne ${String(i).padStart(5, '0')} Tirée Au Sort,citizen,Saint-Sébastien-sur-Loire,Quartier numéro ${i % 40} de la métropole nantaise`);
  const csv = rows.join('\n') + '\n';
  assert.ok(Buffer.byteLength(csv) > 1024 * 1024, `${Buffer.byteLength(csv)} bytes`);
  const added = await organizer('POST', '/api/conventions/grande/roster', csv, 'text/csv');
  assert.equal(added.status, 201, added.body.slice(0, 500));
  assert.equal(JSON.parse(added.body).added.length, 10000);
  const summary = JSON.parse((await organizer('GET', '/api/conventions/grande')).body);
  assert.equal(summary.participants, 10000);

  // Past convene's own limit (4 MiB) the answer is convene's typed error, not nginx's page.
  const huge = 'name,roles\n' + 'x'.repeat(4 * 1024 * 1024 + 10) + ',citizen\n';
  const refused = await organizer('POST', '/api/conventions/grande/roster', huge, 'text/csv');
  assert.equal(refused.status, 413, refused.body.slice(0, 300));
  assert.equal(JSON.parse(refused.body).code, 'invalid', refused.body.slice(0, 300));
  assert.equal((JSON.parse((await organizer('GET', '/api/conventions/grande')).body)).participants, 10000, 'nothing more imported');

  // /metrics: for the machine's own monitoring (loopback), refused to anyone else.
  const local = await viaProxy('GET', '/metrics');
  assert.equal(local.status, 200);
  assert.match(local.body, /convene_/);
  const remote = await viaProxy('GET', '/metrics', { localAddress: '127.0.0.2' });
  assert.equal(remote.status, 403);

  // Plain http sends browsers to https.
  const redirect = await new Promise((ok, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port: plain, path: '/public?link=1', method: 'GET' }, (res) => { res.resume(); ok(res); });
    req.on('error', fail);
    req.end();
  });
  assert.equal(redirect.statusCode, 301);
  assert.equal(redirect.headers.location, 'https://127.0.0.1/public?link=1');
});
