#!/usr/bin/env node
// Builds the optional C++ addon during `npm install`. A failed build never fails the install:
// fqt then runs on the reference backend and says so once at start-up (see src/backend/index.ts).
//
// Built once: the addon is rebuilt only when its inputs changed (native/binding.gyp, native/src/*, the Node ABI,
// node-addon-api), recorded in native/build/fqt-build.json. This matters beyond speed: `npx fqt …` in a fresh clone
// installs the project itself into npm's npx cache (npm ≥ 10 "self-execution of a local bin"), which re-runs
// the install and prepare scripts without showing their output; with the stamp that costs a second, not a rebuild.
// FQT_REBUILD_NATIVE=1 forces a rebuild; FQT_SKIP_NATIVE=1 skips the addon.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ADDON = 'native/build/Release/fqt_native.node';
const STAMP = 'native/build/fqt-build.json';

if (process.env.FQT_SKIP_NATIVE === '1') {
  console.log('fqt: FQT_SKIP_NATIVE=1, not building the native addon (reference backend only).');
  process.exit(0);
}
if (!existsSync('native/binding.gyp')) {
  console.log('fqt: no native/binding.gyp, skipping the native addon.');
  process.exit(0);
}

/** Hash of everything the addon is built from. */
function inputsHash() {
  const h = createHash('sha256');
  const files = ['native/binding.gyp', ...readdirSync('native/src').sort().map((f) => path.join('native/src', f))];
  for (const f of files) h.update(f).update(readFileSync(f));
  let addonApi = 'none';
  try { addonApi = JSON.parse(readFileSync('node_modules/node-addon-api/package.json', 'utf8')).version; } catch { /* not installed yet */ }
  h.update(`${process.versions.modules} ${process.platform} ${process.arch} ${addonApi}`);
  return h.digest('hex');
}

const hash = inputsHash();
const stamp = existsSync(STAMP) ? (() => { try { return JSON.parse(readFileSync(STAMP, 'utf8')).inputs; } catch { return null; } })() : null;
if (process.env.FQT_REBUILD_NATIVE !== '1' && stamp === hash && existsSync(ADDON)) {
  console.log(`fqt: native addon up to date (${ADDON}); set FQT_REBUILD_NATIVE=1 to rebuild.`);
  process.exit(0);
}
const r = spawnSync('node-gyp', ['rebuild', '--directory=native', '-j', 'max'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  rmSync(ADDON, { force: true });
  rmSync(STAMP, { force: true });
  const why = r.error ? ` (${r.error.code === 'ENOENT' ? 'node-gyp not found: run this through npm install / npm rebuild, which provide it' : r.error.message})` : '';
  console.warn(`fqt: the native addon did not build${why}; fqt will use the reference backend (pure TypeScript, slower).`);
} else {
  writeFileSync(STAMP, `${JSON.stringify({ inputs: hash, node: process.version, builtAt: new Date().toISOString() }, null, 1)}\n`);
}
process.exit(0);
