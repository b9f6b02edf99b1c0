// Builds the web client: web/src -> web/dist (committed, embedded by the server).
//
//   node web/build.mjs          build into web/dist
//   node web/build.mjs --check  build into a temporary folder and fail if it differs from
//                               the committed web/dist (byte for byte, same file list)
//
// The output is deterministic: esbuild is pinned (package-lock.json), file names carry a
// hash of their content, there is no timestamp, and index.html is written from a template.
// Before building, every key the sources pass to t('…') must exist in both languages.

import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const src = join(web, 'src');
const dist = join(web, 'dist');
const check = process.argv.includes('--check');

function walk(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * Every literal t('key') of the sources exists, in French and English, and is not empty. The
 * shared dictionary is src/i18n.js's `DICT`; a lazily loaded chunk's folder may hold its own
 * (src/<folder>/i18n.js, registered with `addDict` when the chunk loads), whose keys only the
 * files of that folder may use: the other pages never load them.
 */
async function checkTranslations() {
  const { DICT: shared } = await import(new URL('./src/i18n.js', import.meta.url));
  const chunks = new Map();
  for (const file of walk(src).filter((f) => f.endsWith('/i18n.js') && dirname(f) !== src)) {
    const { DICT: own } = await import(new URL(`file://${file}`));
    chunks.set(dirname(file), own);
  }
  const problems = [];
  const all = { ...shared };
  for (const [dir, own] of chunks) {
    for (const k of Object.keys(own)) {
      if (k in all) problems.push(`${relative(web, dir)}/i18n.js: ${k} is defined twice`);
      all[k] = own[k];
    }
    const registers = walk(dir).some((f) => /\.(jsx?|mjs)$/.test(f) && /\baddDict\(/.test(readFileSync(f, 'utf8')));
    if (!registers) problems.push(`${relative(web, dir)}/i18n.js: no file of its folder registers it with addDict`);
  }
  const DICT = all;
  for (const [k, v] of Object.entries(DICT)) {
    if (!Array.isArray(v) || v.length !== 2 || !v[0] || !v[1]) problems.push(`${k}: needs a French and an English text`);
  }
  for (const file of walk(src).filter((f) => /\.(jsx?|mjs)$/.test(f))) {
    const text = readFileSync(file, 'utf8');
    const own = [...chunks].find(([dir]) => file.startsWith(`${dir}/`));
    for (const m of text.matchAll(/\bt\('([^'$]+)'/g)) {
      if (!shared[m[1]] && !(own && own[1][m[1]])) problems.push(`${relative(web, file)}: t('${m[1]}') has no translation${DICT[m[1]] ? ' in the dictionaries this file can reach' : ''}`);
    }
  }
  // Keys built at run time from a known list.
  const dynamic = {
    'role.': ['citizen', 'facilitator', 'rapporteur', 'guarantor', 'expert'],
    'poll.kind.': ['single', 'multiple', 'scale', 'ranking', 'text', 'position'],
    'poll.status.': ['draft', 'open', 'closed', 'published'],
    'stance.': ['for', 'against', 'for_with_reservations', 'abstain'],
    'tab.': ['room', 'polls', 'opinion', 'rotation', 'console', 'observe', 'hearing'],
    'hearing.hstatus.': ['planned', 'open', 'closed'],
    'err.': ['bad_message', 'unknown_type', 'forbidden', 'invalid', 'not_found', 'conflict', 'rate_limited', 'unauthorized', 'unsupported_version', 'unavailable', 'internal'],
    'fatal.': ['unknown_token', 'revoked', 'unsupported_version', 'too_many_connections', 'damaged'],
    'reason.': ['timer', 'facilitator', 'yielded', 'taken', 'moved'],
    'org.pb.': ['name_empty', 'name_too_long', 'no_role', 'guarantor_alone', 'attribute_name_empty', 'attribute_name_too_long', 'attribute_too_long', 'unknown_role'],
  };
  for (const [prefix, names] of Object.entries(dynamic)) {
    for (const n of names) if (!DICT[prefix + n]) problems.push(`missing ${prefix}${n}`);
  }
  if (problems.length) {
    console.error(`translations:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}

async function build(outdir) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: web,
    entryPoints: ['src/main.jsx'],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    sourcemap: false,
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: 'app-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: 'asset-[hash]',
    legalComments: 'eof',
    charset: 'utf8',
    metafile: true,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  // The entry's JS and CSS, by the metafile.
  let js = null;
  let css = null;
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.entryPoint === 'src/main.jsx') {
      js = relative(outdir, join(web, file));
      if (meta.cssBundle) css = relative(outdir, join(web, meta.cssBundle));
    }
  }
  if (!js || !css) throw new Error('build: no entry output');
  const config = JSON.parse(readFileSync(join(web, 'config.json'), 'utf8'));
  const html = readFileSync(join(src, 'index.html'), 'utf8')
    .replace('__JS__', js)
    .replace('__CSS__', css)
    // JSON in a script element: `<` escaped so that no "</script>" can end it.
    .replace('__CONFIG__', JSON.stringify(config).replace(/</g, '\\u003c'));
  writeFileSync(join(outdir, 'index.html'), html);
}

function digest(dir) {
  const m = new Map();
  for (const f of walk(dir)) m.set(relative(dir, f), createHash('sha256').update(readFileSync(f)).digest('hex'));
  return m;
}

await checkTranslations();
if (check) {
  const tmp = mkdtempSync(join(tmpdir(), 'convene-web-'));
  try {
    await build(tmp);
    const want = digest(tmp);
    const have = digest(dist);
    const diffs = [];
    for (const [f, h] of want) {
      if (!have.has(f)) diffs.push(`missing from web/dist: ${f}`);
      else if (have.get(f) !== h) diffs.push(`differs: ${f}`);
    }
    for (const f of have.keys()) if (!want.has(f)) diffs.push(`not built from the sources: web/dist/${f}`);
    if (diffs.length) {
      console.error(`web/dist is not what web/src builds:\n  ${diffs.join('\n  ')}\nRun: node web/build.mjs`);
      process.exit(1);
    }
    console.log(`web/dist is up to date (${want.size} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  await build(dist);
  const files = walk(dist).map((f) => `${relative(web, f)} ${statSync(f).size}`);
  console.log(files.join('\n'));
}
