// Refresh docs/screenshots: run the screenshots test with its output in docs/screenshots
// instead of the ignored tests/web/out/screenshots (which a plain test run writes). Build the
// server first (cargo build -p convene --bin convene), then: node tests/web/refresh-screenshots.mjs

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';

const out = join(ROOT, 'docs', 'screenshots');
const run = spawnSync(process.execPath, ['--test', join(ROOT, 'tests', 'web', 'screenshots.test.mjs')], {
  stdio: 'inherit',
  env: { ...process.env, CONVENE_SCREENSHOTS: out },
});
if (run.status !== 0) {
  console.error('the screenshots test failed: docs/screenshots may be partly refreshed');
  process.exit(run.status || 1);
}
console.log(`docs/screenshots refreshed (${out})`);
