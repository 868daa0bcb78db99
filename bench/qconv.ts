/**
 * Fused integer conv kernels (backend/qconv-kernels.ts) on the ResNet-20 conv shapes at batch 128 (1×28×28
 * inputs): each pass's GOP/s (2 ops per multiply-add of the equivalent GEMM) and its ratio to the machine's int8
 * peak measured in the same run, next to the fp32 fused conv (conv2dForward / conv2dBackward) on the same shape.
 * Operands as in psq4 inside the network: X 8-bit asymmetric codes per tensor of a ReLU output (min 0, so offset 0),
 * W 8-bit zero-aligned per tensor, dY 4-bit per sample (grad-input) and per (channel, pixel) (grad-weight). `npm run bench -- qconv [--stage 1] [--repeats N]`, or as
 * part of `npm run bench -- kernels`.
 */
import type { Backend } from '../src/backend/backend.js';
import { Rng } from '../src/tensor/random.js';
import { emit, medianSeconds, round } from './util.js';

export const RESNET20_CONVS: { stage: number; c: number; hw: number }[] = [
  { stage: 1, c: 16, hw: 28 }, { stage: 2, c: 32, hw: 14 }, { stage: 3, c: 64, hw: 7 },
];

function codes(r: Rng, n: number, max: number): Uint8Array {
  const u = new Float32Array(n);
  r.fillUniform(u);
  return Uint8Array.from(u, (v) => Math.floor(v * (max + 1)));
}

const f32 = (...v: number[]) => Float32Array.from(v), NO_I32 = new Int32Array(0);

/**
 * `peakNow` (a short run of the int8 peak loop) is measured again right before each of `repeats` rounds of each pass:
 * `peakRatioAdjacent` is the median over rounds of the pass's throughput over the peak measured next to it, which the
 * load of other tenants of a VM does not shift the way it shifts a ratio to the one peak taken at the start of the run.
 */
export function qconvBenches(be: Backend, base: Record<string, unknown>, int8Peak: number, repeats: number, stages: number[],
  peakNow: () => number): void {
  const r = new Rng(4);
  for (const { stage, c, hw } of RESNET20_CONVS.filter((s) => stages.includes(s.stage))) {
    const n = 128, oc = c, k = 3, P = hw * hw, K = c * k * k;
    const geo = Int32Array.of(n, c, hw, hw, oc, k, k, 1, 1, hw, hw);
    const x = codes(r, n * c * P, 255), w = codes(r, oc * K, 255), dyS = codes(r, n * P * oc, 15), dyF = codes(r, n * P * oc, 15);
    const xf = new Float32Array(x.length).map((_, i) => x[i] / 255), wf = new Float32Array(w.length).map((_, i) => (w[i] - 128) / 255);
    const dyf = new Float32Array(dyS.length).map((_, i) => dyS[i] / 15 - 0.5);
    const y = new Float32Array(n * oc * P), dx = new Float32Array(n * c * P), dw = new Float32Array(oc * K);
    const perSample = { off: new Float32Array(n).fill(-0.3), scale: new Float32Array(n).fill(0.01), zero: new Int32Array(n) };
    const perFeature = { off: new Float32Array(oc * P).fill(-0.2), scale: new Float32Array(oc * P).fill(0.02), zero: new Int32Array(oc * P) };
    const macs = n * oc * P * K;
    const passes: [string, () => void, () => void][] = [
      ['forward',
        () => be.qconvForward(geo, x, f32(0), f32(0.004), Int32Array.of(0), w, f32(0), f32(0.003), Int32Array.of(128), y),
        () => be.conv2dForward(xf, n, c, hw, hw, wf, oc, k, k, 1, 1, hw, hw, y)],
      ['grad-input',
        () => be.qconvGradInput(geo, dyS, perSample.off, perSample.scale, perSample.zero, w, f32(0), f32(0.003), Int32Array.of(128), dx, NO_I32, NO_I32, f32()),
        () => be.conv2dBackward(new Float32Array(0), n, c, hw, hw, wf, oc, k, k, 1, 1, hw, hw, dyf, dx, new Float32Array(0))],
      ['grad-weight',
        () => be.qconvGradWeight(geo, dyF, perFeature.off, perFeature.scale, perFeature.zero, x, f32(0), f32(0.004), Int32Array.of(0), dw),
        () => be.conv2dBackward(xf, n, c, hw, hw, new Float32Array(0), oc, k, k, 1, 1, hw, hw, dyf, new Float32Array(0), dw)],
    ];
    for (const [pass, int8, fp32] of passes) {
      const paired: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const peak = peakNow();
        paired.push((2 * macs) / medianSeconds(int8, 3) / peak);
      }
      const s = medianSeconds(int8, repeats), sf = medianSeconds(fp32, repeats);
      const gops = (2 * macs) / s;
      emit({ ...base, kernel: `qconv ${pass}`, shape: [n, c, hw, hw, oc, k], stage, ms: round(s * 1e3), gops: round(gops / 1e9),
        peakRatio: round(gops / int8Peak), peakRatioAdjacent: round(paired.sort((a, b) => a - b)[paired.length >> 1]),
        fp32Ms: round(sf * 1e3), vsFp32: round(sf / s) });
    }
  }
}
