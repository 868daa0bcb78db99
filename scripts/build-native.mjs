#!/usr/bin/env node
// Builds the optional C++ addon during `npm install`. A failed build never fails the install:
// fqt then runs on the reference backend and says so once at start-up (see src/backend/index.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

if (process.env.FQT_SKIP_NATIVE === '1') {
  console.log('fqt: FQT_SKIP_NATIVE=1, not building the native addon (reference backend only).');
  process.exit(0);
}
if (!existsSync('native/binding.gyp')) {
  console.log('fqt: no native/binding.gyp, skipping the native addon.');
  process.exit(0);
}
const r = spawnSync('node-gyp', ['rebuild', '--directory=native', '-j', 'max'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  rmSync('native/build/Release/fqt_native.node', { force: true });
  console.warn('fqt: the native addon did not build; fqt will use the reference backend (pure TypeScript, slower).');
}
process.exit(0);
