/**
 * Property-based fuzzing of the file and JSON parsers (issue 18), with fast-check. `npm test` runs a few hundred
 * inputs per parser (seconds); `npm run fuzz` runs FQT_FUZZ_RUNS (default there: 10,000) per parser. Each input
 * must give a result or an FqtError (a one-line user error) — any other exception counts as a crash — within 2 s
 * (else a hang), without growing ArrayBuffer memory by more than a bound proportional to the input (else an
 * over-allocation: a size declared larger than the file must never be allocated). The counts are printed.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FqtError } from '../../src/tensor/errors.js';

export const RUNS = Number(process.env.FQT_FUZZ_RUNS ?? 300);
const HANG_MS = 2000;

export interface FuzzCounts { parser: string; inputs: number; accepted: number; rejected: number; crashes: number; hangs: number; overAllocations: number }

/**
 * Runs `parse` on RUNS inputs drawn from `arb` (seed fixed: reproducible); `allowed(input)` bytes of ArrayBuffer
 * growth per input. Asserts zero crashes, hangs and over-allocations, and returns the counts.
 */
export function fuzz<T>(parser: string, arb: fc.Arbitrary<T>, parse: (input: T) => unknown, allowed: (input: T) => number, seed = 18): FuzzCounts {
  const counts: FuzzCounts = { parser, inputs: 0, accepted: 0, rejected: 0, crashes: 0, hangs: 0, overAllocations: 0 };
  const first: string[] = [];
  for (const input of fc.sample(arb, { numRuns: RUNS, seed })) {
    counts.inputs++;
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    try {
      parse(input);
      counts.accepted++;
    } catch (err) {
      if (err instanceof FqtError && !err.message.includes('\n')) counts.rejected++;
      else {
        counts.crashes++;
        if (first.length < 3) first.push(`${(err as Error)?.name}: ${(err as Error)?.message}`);
      }
    }
    if (performance.now() - t0 > HANG_MS) counts.hangs++;
    if (process.memoryUsage().arrayBuffers - before > allowed(input)) counts.overAllocations++;
  }
  process.stdout.write(`fuzz ${JSON.stringify(counts)}\n`);
  assert.deepEqual([counts.crashes, counts.hangs, counts.overAllocations], [0, 0, 0], `${parser}: ${JSON.stringify(counts)} ${first.join(' | ')}`);
  return counts;
}

/** Interesting 32-bit values for header fields (sizes, counts). */
export const edgeU32 = fc.constantFrom(0, 1, 2, 3, 255, 256, 0x7fffffff, 0x80000000, 0xffffffff, 60000, 784);

/**
 * Mutations of a valid byte string: flip bytes, overwrite 4-byte words with edge values (sizes in headers),
 * truncate, append, or replace it entirely by random bytes.
 */
export function mutatedBytes(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({ k: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ k: fc.constant('word' as const), at: fc.nat(), v: edgeU32, le: fc.boolean() }),
    fc.record({ k: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ k: fc.constant('add' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  );
  const mutated = fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([base, edits]) => {
    let b = Uint8Array.from(base);
    for (const e of edits) {
      if (e.k === 'flip' && b.length > 0) b[e.at % b.length] = e.v;
      else if (e.k === 'word' && b.length >= 4) new DataView(b.buffer).setUint32(e.at % (b.length - 3), e.v, e.le);
      else if (e.k === 'cut') b = b.subarray(0, e.at % (b.length + 1));
      else if (e.k === 'add') b = Uint8Array.from([...b, ...e.bytes]);
    }
    return b;
  });
  return fc.oneof({ arbitrary: mutated, weight: 9 }, { arbitrary: fc.uint8Array({ maxLength: 256 }), weight: 1 });
}
