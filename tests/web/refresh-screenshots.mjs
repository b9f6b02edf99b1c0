// Refresh docs/screenshots: run the screenshots tests with their output in docs/screenshots
// instead of the ignored tests/web/out/screenshots (which a plain test run writes). Build the
// server first (cargo build -p convene --bin convene), then:
//   node tests/web/refresh-screenshots.mjs              every test whose screenshots are kept
//   node tests/web/refresh-screenshots.mjs public-poll  only tests/web/public-poll.test.mjs

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const out = join(ROOT, 'docs', 'screenshots');
// The tests whose screenshots docs/screenshots keeps (README.md there lists them).
const KEPT = ['screenshots', 'public', 'public-poll'];
const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !KEPT.includes(n));
if (unknown.length) {
  console.error(`not a test whose screenshots are kept: ${unknown.join(', ')} (one of ${KEPT.join(', ')})`);
  process.exit(2);
}
const tests = (asked.length ? asked : KEPT).map((n) => join(ROOT, 'tests', 'web', `${n}.test.mjs`));
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...tests], {
  stdio: 'inherit',
  env: { ...process.env, CONVENE_SCREENSHOTS: out },
});
if (run.status !== 0) {
  console.error('the screenshots test failed: docs/screenshots may be partly refreshed');
  process.exit(run.status || 1);
}
console.log(`docs/screenshots refreshed (${out})`);
