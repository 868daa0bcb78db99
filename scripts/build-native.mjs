#!/usr/bin/env node
// Builds the optional C++ addons during `npm install`. A failed build never fails the install:
//   - native/ (fqt_native.node, the kernels): without it fqt runs on the reference backend and says so once;
//   - native/distributed/ (fqt_dist.node, gloo for data-parallel training): built only when gloo's headers and library
//     are found (Debian: libgloo-dev); without it `fqt train --workers` fails with a line naming the package, and
//     everything else works. It is a separate addon so that the kernels never depend on libgloo.
//
// Built once: an addon is rebuilt only when its inputs changed (its binding.gyp and sources, the Node ABI,
// node-addon-api; for gloo also its config.h), recorded in <dir>/build/fqt-build.json. This matters beyond speed:
// `npx fqt …` in a fresh clone installs the project itself into npm's npx cache (npm ≥ 10 "self-execution of a local
// bin"), which re-runs the install and prepare scripts without showing their output; with the stamp that costs a
// second, not a rebuild. FQT_REBUILD_NATIVE=1 forces a rebuild; FQT_SKIP_NATIVE=1 skips both addons.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

if (process.env.FQT_SKIP_NATIVE === '1') {
  console.log('fqt: FQT_SKIP_NATIVE=1, not building the native addons (reference backend only, no data-parallel training).');
  process.exit(0);
}
if (!existsSync('native/binding.gyp')) {
  console.log('fqt: no native/binding.gyp, skipping the native addons.');
  process.exit(0);
}

/** Hash of everything an addon is built from. */
function inputsHash(files) {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update(readFileSync(f));
  let addonApi = 'none';
  try { addonApi = JSON.parse(readFileSync('node_modules/node-addon-api/package.json', 'utf8')).version; } catch { /* not installed yet */ }
  h.update(`${process.versions.modules} ${process.platform} ${process.arch} ${addonApi}`);
  return h.digest('hex');
}

/** node-gyp in `dir` unless the stamp says the addon is current; returns whether the addon exists afterwards. */
function build({ dir, addon, inputs, what, fallback }) {
  const file = path.join(dir, 'build', 'Release', addon), stampFile = path.join(dir, 'build', 'fqt-build.json');
  const hash = inputsHash(inputs);
  const stamp = existsSync(stampFile) ? (() => { try { return JSON.parse(readFileSync(stampFile, 'utf8')).inputs; } catch { return null; } })() : null;
  if (process.env.FQT_REBUILD_NATIVE !== '1' && stamp === hash && existsSync(file)) {
    console.log(`fqt: ${what} up to date (${file}); set FQT_REBUILD_NATIVE=1 to rebuild.`);
    return true;
  }
  const r = spawnSync('node-gyp', ['rebuild', `--directory=${dir}`, '-j', 'max'], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) {
    rmSync(file, { force: true });
    rmSync(stampFile, { force: true });
    const why = r.error ? ` (${r.error.code === 'ENOENT' ? 'node-gyp not found: run this through npm install / npm rebuild, which provide it' : r.error.message})` : '';
    console.warn(`fqt: the ${what} did not build${why}; ${fallback}.`);
    return false;
  }
  writeFileSync(stampFile, `${JSON.stringify({ inputs: hash, node: process.version, builtAt: new Date().toISOString() }, null, 1)}\n`);
  return true;
}

/** gloo's config.h when its TCP transport and library are installed (GLOO_HOME, else the system paths), or null. */
function findGloo() {
  const roots = [process.env.GLOO_HOME, '/usr', '/usr/local'].filter(Boolean);
  for (const root of roots) {
    const config = path.join(root, 'include', 'gloo', 'config.h');
    const libs = [path.join(root, 'lib'), path.join(root, 'lib', `${process.arch === 'x64' ? 'x86_64' : process.arch}-linux-gnu`)];
    if (existsSync(config) && /GLOO_HAVE_TRANSPORT_TCP 1/.test(readFileSync(config, 'utf8')) && libs.some((l) => existsSync(path.join(l, 'libgloo.so')))) return config;
  }
  return null;
}

build({
  dir: 'native', addon: 'fqt_native.node', what: 'native addon',
  inputs: ['native/binding.gyp', ...readdirSync('native/src').sort().map((f) => path.join('native/src', f))],
  fallback: 'fqt will use the reference backend (pure TypeScript, slower)',
});

const gloo = existsSync('native/distributed/binding.gyp') ? findGloo() : null;
if (gloo === null) {
  rmSync('native/distributed/build', { recursive: true, force: true });
  console.log('fqt: gloo not found (Debian/Ubuntu: apt-get install libgloo-dev), so data-parallel training (fqt train --workers) is unavailable; everything else works.');
} else {
  build({
    dir: 'native/distributed', addon: 'fqt_dist.node', what: 'gloo addon (data-parallel training)',
    inputs: ['native/distributed/binding.gyp', 'native/distributed/distributed.cc', gloo],
    fallback: 'data-parallel training (fqt train --workers) is unavailable; everything else works',
  });
}
process.exit(0);
