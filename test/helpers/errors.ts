/** Assert that bad input fails with a user-facing FqtError (never a TypeError from deep inside a kernel). */
import assert from 'node:assert/strict';
import { FqtError } from '../../src/tensor/errors.js';

/**
 * `fn` must throw an FqtError whose message contains every string in `parts` (e.g. the op name and the
 * offending shapes as printed by fmtShape, "[2, 3]").
 */
export function assertFqtError(fn: () => unknown, ...parts: (string | RegExp)[]): FqtError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected an FqtError mentioning ${parts.map(String).join(', ')}, but nothing was thrown`);
  assert.ok(caught instanceof FqtError, `expected an FqtError, got ${(caught as Error)?.name}: ${(caught as Error)?.message}`);
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `error message "${caught.message}" does not mention "${p}"`);
    else assert.match(caught.message, p);
  }
  return caught;
}
