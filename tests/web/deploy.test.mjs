// deploy/convene.service, the systemd unit of README.md ("Put it online"): systemd's own
// checker finds nothing to say about it, and the real server started with its command line
// and environment (the listening address and data folder moved to the test's own) serves,
// keeps its files private, builds links on the public address of the environment file the
// unit's comment writes, and stops cleanly on the unit's stop signal within its time limit.
// systemd itself does not run on these machines: its sandboxing options are not exercised.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort } from './harness.mjs';

const UNIT = readFileSync(join(ROOT, 'deploy', 'convene.service'), 'utf8');
const BIN = process.env.CONVENE_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug', 'convene');

/** The values of a key of the unit's [Service] section, in order. */
function service(key) {
  const body = UNIT.split(/^\[Service\]$/m)[1].split(/^\[/m)[0];
  return body.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

test('systemd-analyze verify finds nothing to say about deploy/convene.service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convene-unit-'));
  try {
    // The checker wants the binary to exist: the unit, with this build's binary.
    const [exec] = service('ExecStart');
    assert.match(exec, /^\/usr\/local\/bin\/convene serve$/);
    writeFileSync(join(dir, 'convene.service'), UNIT.replace('ExecStart=/usr/local/bin/convene', `ExecStart=${BIN}`));
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'convene.service')], { encoding: 'utf8' });
    assert.equal(r.error, undefined, 'systemd-analyze is missing (Debian package systemd)');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the server runs with the unit's command line and environment, and stops within its time limit", { timeout: 60000 }, async () => {
  const data = mkdtempSync(join(tmpdir(), 'convene-unit-data-'));
  try {
    const env = { PATH: process.env.PATH, CONVENE_LOG: 'warn' };
    for (const line of service('Environment')) {
      const [k, ...v] = line.split('=');
      env[k] = v.join('=');
    }
    assert.equal(env.CONVENE_LISTEN, '127.0.0.1:8080');
    assert.equal(env.CONVENE_DATA, '/var/lib/convene');
    assert.deepEqual(service('StateDirectory'), ['convene'], 'the data folder is the state directory');
    // The environment file, as the unit's comment writes it.
    const file = UNIT.match(/^# {3}printf '([^']*)' > \/etc\/convene\/convene\.env$/m);
    assert.ok(file, 'the comment shows how to write the environment file');
    for (const line of file[1].split('\\n').filter(Boolean)) {
      const [k, ...v] = line.split('=');
      env[k] = v.join('=');
    }
    assert.equal(env.CONVENE_PUBLIC_URL, 'https://convene.example.org');
    // On this machine: the test's own port and folder, under the same variables.
    const port = await freePort();
    env.CONVENE_LISTEN = `127.0.0.1:${port}`;
    env.CONVENE_DATA = data;

    const [exec] = service('ExecStart');
    const args = exec.split(' ').slice(1);
    const proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const end = Date.now() + 30000;
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
      if (r && r.status === 200) break;
      assert.ok(Date.now() < end && proc.exitCode === null, `convene did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Its files are private, and the organizer token is where the unit's comment says.
    const token = readFileSync(join(data, 'organizer-token'), 'utf8').trim();
    assert.equal(statSync(data).mode & 0o777, 0o700);
    assert.equal(statSync(join(data, 'organizer-token')).mode & 0o777, 0o600);
    // Links are built on the public address.
    const api = (method, path, body) => fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body && JSON.stringify(body),
    });
    assert.equal((await api('POST', '/api/conventions', { id: 'nantes', name: 'Convention de Nantes' })).status, 201);
    assert.equal((await api('POST', '/api/conventions/nantes/roster', [{ name: 'Claire Moreau', roles: ['facilitator'] }])).status, 201);
    const invites = await (await api('POST', '/api/conventions/nantes/invites', {})).json();
    assert.equal(invites.length, 1);
    assert.ok(invites[0].url.startsWith('https://convene.example.org/#token='), invites[0].url);

    // systemd's stop: the unit's signal, then a kill after its time limit.
    const [signal] = service('KillSignal');
    const [limit] = service('TimeoutStopSec');
    const exited = new Promise((r) => proc.once('exit', (code, sig) => r({ code, sig })));
    proc.kill(signal);
    let timer;
    const late = new Promise((r) => { timer = setTimeout(() => r('timeout'), Number(limit) * 1000); });
    const how = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (how === 'timeout') proc.kill('SIGKILL');
    assert.deepEqual(how, { code: 0, sig: null }, out);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
