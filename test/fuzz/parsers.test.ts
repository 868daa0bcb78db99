/**
 * Fuzzed parsers (issue 18): safetensors, IDX (raw and gzip), CIFAR batches, recipe JSON files, checkpoint JSON
 * (state.json with its hash recomputed or not, latest.json). See harness.ts for what counts as a crash, a hang or
 * an over-allocation. FQT_FUZZ_RUNS sets the inputs per parser (npm run fuzz: 10,000).
 */
import '../helpers/backend.js';
import { test } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { fuzz, mutatedBytes, RUNS } from './harness.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/train/safetensors.js';
import { encodeIdx, readIdxImages, readIdxLabels } from '../../src/data/idx.js';
import { readCifarBatch } from '../../src/data/cifar.js';
import { loadRecipeFile, preset, presetNames } from '../../src/quant/presets.js';
import { recipeToJSON } from '../../src/quant/recipe.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { validateRunState } from '../../src/train/state-check.js';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-fuzz-'));
const timeout = Math.max(60_000, RUNS * 20);
const concat = (chunks: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(chunks));
const MB = 1 << 20;

test('safetensors reader', { timeout }, () => {
  const f = (n: number) => Float32Array.from({ length: n }, (_, i) => i / 7);
  const valid = [
    concat(encodeSafetensors([['w', { shape: [2, 3], data: f(6) }], ['b', { shape: [3], data: f(3) }]], { producer: 'fqt' })),
    concat(encodeSafetensors([['scalar', { shape: [], data: f(1) }], ['empty', { shape: [0, 4], data: f(0) }]])),
  ];
  fuzz('safetensors', mutatedBytes(valid), (b) => decodeSafetensors(b, 'fuzz.safetensors'), (b) => 16 * b.length + MB);
});

/** A file for one input: raw, gzipped, or gzipped then mutated (the gzip stream itself corrupted). */
const asFile = (bytes: Uint8Array, how: number, flip: number): string => {
  const p = path.join(dir, 'input');
  let out = how === 0 ? bytes : gzipSync(bytes);
  if (how === 2 && out.length > 10) { out = Uint8Array.from(out); out[10 + (flip % (out.length - 10))] ^= 0x5a; }
  fs.writeFileSync(p, out);
  return p;
};
const fileInput = (valid: Uint8Array[]) => fc.tuple(mutatedBytes(valid), fc.integer({ min: 0, max: 2 }), fc.nat());
/** Decompressed data is bounded by 1032 × the file (deflate's limit); pixels become 4-byte floats. */
const fileAllowed = ([b]: [Uint8Array, number, number]) => 6 * 1032 * (b.length + 64) + MB;

test('IDX reader (raw and gzip)', { timeout }, () => {
  const images = encodeIdx([3, 4, 5], Uint8Array.from({ length: 60 }, (_, i) => i * 4));
  const labels = encodeIdx([7], Uint8Array.of(0, 1, 2, 3, 4, 5, 9));
  fuzz('idx', fileInput([images, labels]), ([b, how, flip]) => {
    const p = asFile(b, how, flip);
    return b[3] === 1 ? readIdxLabels(p, 10) : readIdxImages(p);
  }, fileAllowed);
});

test('CIFAR batch reader (raw and gzip)', { timeout }, () => {
  const record = (label: number, bytes: number) => Uint8Array.from({ length: bytes }, (_, i) => (i === bytes - 3073 ? label : (i * 31) % 256));
  const c10 = concat([record(3, 3073), record(9, 3073)]);
  const c100 = concat([Uint8Array.of(5), record(42, 3073)]);
  fuzz('cifar', fileInput([c10, c100]), ([b, how, flip]) => readCifarBatch(asFile(b, how, flip), b.length % 3074 === 0 ? 'cifar100' : 'cifar10'), fileAllowed);
});

/** Paths of every value inside a JSON value (objects and arrays), for value-level mutations. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [at];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return [at, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...at, k]))];
}

/** A JSON document with one or two values replaced by arbitrary JSON (or deleted), or a raw text edit. */
function mutatedJson(valid: unknown[]): fc.Arbitrary<string> {
  const edit = fc.record({ pick: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }), del: fc.boolean() });
  const structural = fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 2 })).map(([base, edits]) => {
    const doc = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
    for (const e of edits) {
      const all = paths(doc).filter((p) => p.length > 0);
      if (all.length === 0) break;
      const p = all[e.pick % all.length];
      let parent: Record<string | number, unknown> = doc;
      for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      if (e.del && !Array.isArray(parent)) delete parent[p[p.length - 1]];
      else parent[p[p.length - 1]] = e.value;
    }
    return JSON.stringify(doc);
  });
  const textual = fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.string({ maxLength: 8 })).map(([base, at, s]) => {
    const t = JSON.stringify(base);
    const i = at % (t.length + 1);
    return t.slice(0, i) + s + t.slice(i + s.length);
  });
  return fc.oneof({ arbitrary: structural, weight: 6 }, { arbitrary: textual, weight: 3 }, { arbitrary: fc.json(), weight: 1 });
}

test('recipe JSON parser', { timeout }, () => {
  const valid = presetNames().map((n) => JSON.parse(recipeToJSON(preset(n))) as unknown);
  valid.push({ version: 1, extends: 'psq4', layers: { first: 'fp32' } });
  const file = path.join(dir, 'recipe.json');
  fuzz('recipe', mutatedJson(valid), (text) => { fs.writeFileSync(file, text); return loadRecipeFile(file); }, (t) => 64 * t.length + MB);
});

test('checkpoint JSON (state.json, latest.json)', { timeout }, () => {
  const out = path.join(dir, 'run');
  const cfg: TrainConfig = { ...DEFAULT_CONFIG, model: 'mlp', dataset: 'synthetic', epochs: 2, batchSize: 32, trainLimit: 64, testLimit: 32 };
  train(cfg, { out, quiet: true });
  const ckpts = path.join(out, 'checkpoints');
  const pointerFile = path.join(ckpts, 'latest.json');
  const pointer = fs.readFileSync(pointerFile, 'utf8');
  const stateFile = path.join(ckpts, JSON.parse(pointer).latest as string, 'state.json');
  const state = fs.readFileSync(stateFile, 'utf8');
  const shape = { stepsPerEpoch: 2, batchSize: 32, trainSamples: 64 };
  // rehash: the content hash recomputed, so the validation is reached; direct: the newest checkpoint directory
  // itself is loaded (no fallback to the previous one, so a bad state is an error).
  const input = fc.tuple(mutatedJson([JSON.parse(state), JSON.parse(pointer)]), fc.boolean(), fc.boolean());
  fuzz('checkpoint', input, ([text, rehash, direct]) => {
    let doc = text;
    const isPointer = text.includes('fqt-checkpoint-pointer');
    if (rehash && !isPointer) {
      try {
        const { sha256: _h, ...content } = JSON.parse(text) as Record<string, unknown>;
        doc = JSON.stringify({ ...content, sha256: createHash('sha256').update(JSON.stringify(content), 'utf8').digest('hex') });
      } catch { /* not JSON: write as it is */ }
    }
    fs.writeFileSync(isPointer ? pointerFile : stateFile, doc);
    try {
      return loadCheckpoint(direct && !isPointer ? path.dirname(stateFile) : ckpts, { warn: () => {}, validate: (s, d) => validateRunState(s, d, shape) });
    } finally {
      fs.writeFileSync(pointerFile, pointer);
      fs.writeFileSync(stateFile, state);
    }
  }, (t) => 64 * t[0].length + 4 * MB);
});
