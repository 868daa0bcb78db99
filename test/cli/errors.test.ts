/** Bad input gives one line naming the problem and exit code 1, never a stack trace. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFqt } from './run-cli.js';

function assertOneLineError(args: string[], pattern: RegExp): void {
  const r = runFqt(args);
  assert.equal(r.status, 1, `exit code for ${args.join(' ')}: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one error line, got:\n${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('unknown command, flag, model, data set, optimizer', () => {
  assertOneLineError(['trian'], /unknown command 'trian'/);
  assertOneLineError(['train', '--epoch', '2'], /unknown flag --epoch/);
  assertOneLineError(['train', '--model', 'resnet99'], /--model: 'resnet99' is not one of/);
  assertOneLineError(['train', '--dataset', 'imagenet'], /--dataset: 'imagenet' is not one of/);
  assertOneLineError(['train', '--optimizer', 'lion'], /--optimizer: 'lion' is not one of/);
  assertOneLineError(['train', '--epochs', 'two'], /--epochs takes an integer, got 'two'/);
  assertOneLineError(['train', '--lr'], /--lr needs a value/);
});

test('missing and truncated data files name the file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-data-'));
  assertOneLineError(['train', '--dataset', 'fashion-mnist', '--data', dir, '--out', path.join(dir, 'run')], /train-images-idx3-ubyte/);
  const real = '/usr/share/datasets/fashion-mnist';
  let files: string[] = [];
  try { files = readdirSync(real); } catch { /* data set not installed: the truncation case is covered by test/data */ }
  if (files.length === 4) {
    for (const f of files) copyFileSync(path.join(real, f), path.join(dir, f));
    // Keep a valid gzip header but cut the stream: the reader must name the file.
    writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]));
    assertOneLineError(['train', '--dataset', 'fashion-mnist', '--data', dir, '--out', path.join(dir, 'run')], /t10k-labels-idx1-ubyte/);
  }
});

test('a bad --out and a --resume of a missing run fail with one line before the data loads (issue 18)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-cli-out-'));
  const file = path.join(dir, 'file');
  writeFileSync(file, 'x');
  const base = ['train', '--dataset', 'mnist', '--data', path.join(dir, 'no-such-data'), '--epochs', '1'];
  for (const [args, msg] of [
    [['--out', file], `run directory (--out) ${file}: is a file, not a directory`],
    [['--out', path.join(file, 'sub')], `${file} is a file, not a directory`],
    [['--out', path.join(dir, 'typo'), '--resume'], `--resume: there is no run directory ${path.join(dir, 'typo')}`],
  ] as [string[], string][]) {
    const r = runFqt([...base, ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(msg), r.stderr);
  }
});
