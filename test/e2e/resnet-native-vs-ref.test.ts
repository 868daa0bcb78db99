/**
 * End to end, native against the reference (issue 19; DESIGN "Testing ladder" 6): three SGD steps of a quantized
 * ResNet-20 (BN, shortcuts; 1×8×8 inputs so the reference stays at a few seconds) give bit-identical losses and
 * parameters on the reference backend and on native at every ISA tier, for psq4, luq4 and qat8.
 *
 * On the native side every kernel is native except the few whose accuracy contract is a tolerance rather than bit
 * equality (native/README.md "Accuracy contract": float32 accumulation or libm): those run the reference's code in
 * both runs. They must, not by taste: the first layer is an fp32 conv, and a 1-ulp difference in its output moves
 * the per-tensor range of the next layer's X quantizer, which moves many codes (measured: psq4's first loss is
 * 2.88549 with the reference conv, 2.88902 with native's). Everything else — the integer and fused quantized GEMMs,
 * every quantizer (nearest, stochastic and LUQ rounding), im2col, transposes, BN forward, pooling, ReLU, the SGD
 * update — is native and must match the reference bit for bit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { refBackend, withFallback, type Backend, type KernelName } from '../../src/backend/index.js';
import type { UnaryOp } from '../../src/backend/backend.js';
import { backendCases, withBackend } from '../helpers/backends.js';
import { assertSameSteps, trainSteps, type StepsResult, type StepsSpec } from '../helpers/train-steps.js';

/** Kernels whose native results are within a stated tolerance of the reference, not equal (native/README.md). */
const TOLERANCE_KERNELS = new Set<KernelName>(['sgemm', 'sgemmT', 'conv2dForward', 'conv2dBackward', 'channelMoments',
  'batchNormBackward', 'adamUpdate']);
const TOLERANCE_UNARY = new Set<UnaryOp>(['exp', 'log', 'powScalar']);

/** The native backend with the tolerance-based kernels (and unary ops) taken from the reference. */
function exactNative(native: Backend): Backend {
  const exact = withFallback(Object.create(native, {
    supports: { value: (k: KernelName) => !TOLERANCE_KERNELS.has(k) && native.supports(k) },
  }) as Backend);
  return { ...exact, unary: (op, x, out, p0, p1) => (TOLERANCE_UNARY.has(op) ? refBackend : exact).unary(op, x, out, p0, p1) };
}

const STEPS: Omit<StepsSpec, 'recipe'> = { model: 'resnet20', inputSize: 8, batch: 8, steps: 3 };
const { cases, skipped } = backendCases();
const [ref, ...natives] = cases;

describe('ResNet-20, 3 SGD steps: native equals the reference bit for bit', { skip: skipped ?? false }, () => {
  for (const recipe of ['psq4', 'luq4', 'qat8'] as const) {
    it(recipe, async (t) => {
      const expected: StepsResult = await withBackend(ref, () => trainSteps({ ...STEPS, recipe }));
      assert.ok(expected.losses.every(Number.isFinite), `${recipe}: finite losses`);
      assert.ok(expected.losses[2] < expected.losses[0], `${recipe}: the loss falls (${Array.from(expected.losses).join(' → ')})`);
      t.diagnostic(`${recipe} losses ${Array.from(expected.losses, (l) => l.toFixed(5)).join(' → ')}`);
      for (const c of natives) {
        const got = await withBackend({ ...c, backend: exactNative(c.backend) }, () => trainSteps({ ...STEPS, recipe }));
        assertSameSteps(got, expected, `${recipe} on ${c.label}`);
      }
    });
  }
});
