/** Learning-rate schedules: values at chosen iterations, warm-up composition, validation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FqtError } from '../../src/tensor/errors.js';
import { createSchedule } from '../../src/optim/index.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('constant', () => {
  const s = createSchedule({ kind: 'constant', lr: 0.05 });
  assert.equal(s.lrAt(0, 10), 0.05);
  assert.equal(s.lrAt(12345, 10), 0.05);
  assert.equal(s.label, 'constant 0.05');
});

test('step with milestones (in epochs) changes at the first iteration of the milestone epoch', () => {
  const s = createSchedule({ kind: 'step', lr: 0.1, milestones: [2, 5], gamma: 0.1 });
  close(s.lrAt(0, 100), 0.1, 'it 0');
  close(s.lrAt(199, 100), 0.1, 'it 199');
  close(s.lrAt(200, 100), 0.01, 'it 200');
  close(s.lrAt(499, 100), 0.01, 'it 499');
  close(s.lrAt(500, 100), 0.001, 'it 500');
  close(s.lrAt(10_000, 100), 0.001, 'it 10000');
});

test('step with stepSize, in epochs and in iterations', () => {
  const e = createSchedule({ kind: 'step', lr: 1, stepSize: 3, gamma: 0.5 });
  assert.deepEqual([0, 29, 30, 59, 60, 95].map((i) => e.lrAt(i, 10)), [1, 1, 0.5, 0.5, 0.25, 0.125]);
  const i = createSchedule({ kind: 'step', lr: 1, stepSize: 4, unit: 'iteration' });
  close(i.lrAt(3, 1000), 1, 'it 3');
  close(i.lrAt(4, 1000), 0.1, 'it 4 (default gamma 0.1)');
});

test('cosine decays from lr to minLr over total and stays there', () => {
  const s = createSchedule({ kind: 'cosine', lr: 0.1, minLr: 0.001, total: 10 });
  const ipe = 50;
  close(s.lrAt(0, ipe), 0.1, 'start');
  close(s.lrAt(250, ipe), 0.001 + 0.099 * 0.5, 'half way');
  close(s.lrAt(125, ipe), 0.001 + 0.099 * 0.5 * (1 + Math.cos(Math.PI / 4)), 'quarter');
  close(s.lrAt(500, ipe), 0.001, 'end');
  close(s.lrAt(900, ipe), 0.001, 'after the end');
  // Evaluated per iteration, not per epoch: consecutive iterations differ.
  assert.ok(s.lrAt(101, ipe) < s.lrAt(100, ipe));
});

test('linear warm-up multiplies any schedule without shifting it', () => {
  const ipe = 10;
  const cos = createSchedule({ kind: 'cosine', lr: 1, total: 10, warmup: { length: 2, startFactor: 0 } });
  const plain = createSchedule({ kind: 'cosine', lr: 1, total: 10 });
  close(cos.lrAt(0, ipe), 0, 'warm-up start');
  close(cos.lrAt(5, ipe), plain.lrAt(5, ipe) * 0.25, 'warm-up quarter');
  close(cos.lrAt(20, ipe), plain.lrAt(20, ipe), 'warm-up end');
  const step = createSchedule({ kind: 'step', lr: 0.4, milestones: [1], warmup: { length: 20 }, unit: 'iteration' });
  close(step.lrAt(0, ipe), 0.04, 'default startFactor 0.1');
  close(step.lrAt(10, ipe), 0.4 * 0.1 * (0.1 + 0.9 * 0.5), 'milestone inside the warm-up');
  const constant = createSchedule({ kind: 'constant', lr: 2, warmup: { length: 0.5, startFactor: 0.5 } });
  close(constant.lrAt(0, 4), 1, 'fractional warm-up start');
  close(constant.lrAt(1, 4), 1.5, 'fractional warm-up middle');
  close(constant.lrAt(2, 4), 2, 'fractional warm-up end');
  assert.equal(constant.label, 'constant 2, warmup 0.5');
});

test('lrAt is a pure function of the iteration (resume is exact)', () => {
  const spec = { kind: 'cosine', lr: 0.1, total: 3, warmup: { length: 1 } } as const;
  const a = createSchedule(spec), b = createSchedule(JSON.parse(JSON.stringify(spec)));
  const seq = Array.from({ length: 40 }, (_, i) => a.lrAt(i, 13));
  assert.deepEqual(Array.from({ length: 40 }, (_, i) => b.lrAt(39 - i, 13)).reverse(), seq);
});

test('invalid specs are rejected naming the key', () => {
  const bad = (spec: unknown, re: RegExp) => assert.throws(() => createSchedule(spec), (e: unknown) => e instanceof FqtError && re.test(e.message));
  bad({ kind: 'exp', lr: 1 }, /unknown kind "exp" \(valid: constant, step, cosine\)/);
  bad({ kind: 'constant' }, /'lr' must be/);
  bad({ kind: 'constant', lr: 1, total: 5 }, /unknown key 'total'/);
  bad({ kind: 'step', lr: 1 }, /exactly one of 'milestones' and 'stepSize'/);
  bad({ kind: 'step', lr: 1, milestones: [5, 2] }, /strictly increasing/);
  bad({ kind: 'step', lr: 1, stepSize: 0 }, /'stepSize' must be a positive number/);
  bad({ kind: 'step', lr: 1, stepSize: 2, gamma: 2 }, /'gamma' must be in \[0, 1\]/);
  bad({ kind: 'cosine', lr: 1 }, /'total' must be a positive number/);
  bad({ kind: 'cosine', lr: 1, total: 5, minLr: 2 }, /'minLr' \(2\) is above 'lr'/);
  bad({ kind: 'constant', lr: 1, unit: 'batch' }, /'unit' must be 'epoch' or 'iteration'/);
  bad({ kind: 'constant', lr: 1, warmup: { epochs: 5 } }, /warmup: unknown key 'epochs'/);
  bad({ kind: 'constant', lr: 1, warmup: { length: 1, startFactor: 2 } }, /'warmup.startFactor' must be in \[0, 1\]/);
  bad(null, /expected an object/);
  const s = createSchedule({ kind: 'constant', lr: 1 });
  assert.throws(() => s.lrAt(-1, 10), /iteration must be an integer ≥ 0/);
  assert.throws(() => s.lrAt(0, 0), /itersPerEpoch must be a positive integer/);
});
