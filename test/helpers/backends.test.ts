/** forEachBackend runs its body on each backend and ISA tier, and restores the previous ones (even on failure). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend, refBackend } from '../../src/backend/index.js';
import { nativeAddon } from '../../src/backend/native.js';
import { backendCases, forEachBackend, withBackend } from './backends.js';

const before = backend();
const tierBefore = nativeAddon()?.info().active ?? null;
const seen: string[] = [];

forEachBackend('the body runs with the case as the active backend and tier', (_t, c) => {
  assert.equal(backend(), c.backend);
  if (c.tier !== null) assert.equal(nativeAddon()!.info().active, c.tier);
  seen.push(c.label);
});

test('every case ran, reference first, and the previous backend and tier are back (also after a failure)', async () => {
  const { cases } = backendCases();
  assert.deepEqual(seen, cases.map((c) => c.label));
  assert.equal(cases[0].backend, refBackend);
  await assert.rejects(withBackend(cases[cases.length - 1], () => { throw new Error('boom'); }), /boom/);
  assert.equal(backend(), before);
  assert.equal(nativeAddon()?.info().active ?? null, tierBefore);
});
