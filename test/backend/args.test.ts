/**
 * Kernel argument checking (issue 18): the signature tables of TypeScript and the native addon agree, the reference
 * backend rejects bad calls with an FqtError naming the argument, and a child process that calls every binding and
 * every backend() kernel with wrong arguments exits normally (no segfault, no abort).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { nativeAddon } from '../../src/backend/native.js';
import { refBackend } from '../../src/backend/index.js';
import { parseSignature } from '../../src/backend/args.js';
import { ADDON_SIGNATURES, KERNEL_SIGNATURES } from '../../src/backend/signatures.js';
import { assertFqtError } from '../helpers/errors.js';

const addon = nativeAddon();

test('every signature parses, with unique argument names', () => {
  for (const [name, sig] of Object.entries({ ...KERNEL_SIGNATURES, ...ADDON_SIGNATURES })) {
    const names = parseSignature(sig).args.map((a) => a.name);
    assert.equal(new Set(names).size, names.length, `${name}: duplicate argument names`);
  }
});

test('the native signature table equals the TypeScript one for every binding', { skip: addon === null && 'native addon not built' }, () => {
  const native = addon!.info().signatures;
  const raw = addon!.createBackend() as unknown as Record<string, unknown>;
  for (const name of Object.keys(raw).filter((k) => typeof raw[k] === 'function' && k !== 'supports')) {
    assert.equal(native[name], KERNEL_SIGNATURES[name as keyof typeof KERNEL_SIGNATURES], `kernel ${name}`);
  }
  for (const [name, sig] of Object.entries(ADDON_SIGNATURES)) assert.equal(native[name], sig, `addon function ${name}`);
});

test('the reference backend rejects bad calls with an error naming the kernel, the argument and the rule', () => {
  const f = (n: number) => new Float32Array(n);
  assertFqtError(() => refBackend.sgemm(2, 2, 2, [1, 2, 3, 4] as unknown as Float32Array, f(4), f(4)), 'sgemm: argument 4 (a) must be a Float32Array, got a plain array');
  assertFqtError(() => refBackend.sgemm(2, 2, 2, f(3), f(4), f(4)), 'sgemm: a has 3 elements, needs at least 4 (m*k)');
  assertFqtError(() => refBackend.sgemm(-1, 2, 2, f(4), f(4), f(4)), 'argument 1 (m) must be an integer in [0, 2147483647], got number -1');
  assertFqtError(() => refBackend.sgemm(2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1, f(4), f(4), f(4)), 'sgemm: the sizes overflow');
  assertFqtError(() => (refBackend.sgemm as unknown as () => void)(), 'sgemm: expected 6 arguments (m, n, k, a, b, c), got 0');
  assertFqtError(() => refBackend.maxPoolBackward(f(1), Int32Array.of(7), 1, 1, 1, 1, 1, f(1)), 'maxPoolBackward: argmax[0] = 7 is outside [0, 1)');
  assertFqtError(() => refBackend.unary('bogus' as 'neg', f(1), f(1), 0, 0), 'unary: argument 1 (op) must be one of neg, exp');
  assertFqtError(() => refBackend.binary('add', f(2), Int32Array.of(1), f(3), Int32Array.of(1), Int32Array.of(3), f(3)), 'binary: a is read at indices 0..2, outside its 2 elements');
  assertFqtError(() => refBackend.im2col(f(16), 1, 1, 4, 4, 3, 3, 1, 0, 3, 2, f(64)), 'im2col: oh==(h+2*pad-kh)/stride+1 does not hold (3 vs 2)');
  assertFqtError(() => refBackend.blockHouseholder(f(4), 2, 2, Int32Array.of(0, 1), Int32Array.of(1), f(2), 0, f(4)), 'blockHouseholder: sum(groupSizes)==n does not hold (1 vs 2)');
});

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hostile-calls.js');
for (const be of ['native', 'ref']) {
  test(`a child process calling every binding and every backend() kernel (${be}) with wrong arguments exits normally`, () => {
    // One thread: ~16,000 tiny kernel calls should not each wait for pool workers competing with the parent's.
    const env = { ...process.env, FQT_HOSTILE_CHILD: '1', FQT_BACKEND: be === 'ref' ? 'ref' : '', FQT_QUIET: '1', FQT_THREADS: '1' };
    const r = spawnSync(process.execPath, [child], { encoding: 'utf8', timeout: 60_000, env });
    assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
    assert.equal(r.status, 0, r.stderr);
    const counts = JSON.parse(r.stdout) as { calls: number; threw: number };
    assert.ok(counts.calls > 1000 && counts.threw > 0.8 * counts.calls, r.stdout);
  });
}
