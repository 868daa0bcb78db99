/**
 * METHODS §8.5 (and §4.1): BN backward is dz = (γ/σ)·P·dy with P = I − (𝟙𝟙ᵀ + ẑẑᵀ)/m, an orthogonal projection
 * of rank m − 2, so white noise of variance s² in dy reaches dz with per-element variance (γ/σ)²(1 − 2/m)s².
 * Checked by Monte Carlo on the library's batchNorm op (fixed seeds, bounds from the χ² standard error), and
 * P's algebra in float64.
 */
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { grad } from '../../src/autograd/graph.js';
import { batchNorm } from '../../src/ops/norm.js';
import { normals } from '../quant/helpers.js';
import { forEachBackend } from '../helpers/backends.js';

/** z: [n, c, 1, 1] with channel c ~ N(1, scale_c²); returns z, and the BN op's dz for a given dy. */
function bnSetup(n: number, gammas: number[], scales: number[], seed: number) {
  const c = gammas.length;
  const z = normals(seed, n * c);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) z[i * c + ch] = 1 + scales[ch] * z[i * c + ch];
  const eps = 1e-5;
  const x = new Tensor(z, [n, c, 1, 1], true);
  const gamma = new Tensor(Float32Array.from(gammas), [c], true);
  const beta = new Tensor(new Float32Array(c), [c], true);
  const state = { runningMean: new Float32Array(c), runningVar: new Float32Array(c).fill(1), momentum: 0.1, eps };
  let variance: Float32Array = new Float32Array(c);
  const y = batchNorm(x, gamma, beta, state, true, (s) => { variance = s.variance; });
  const dzOf = (dy: Float32Array): Float32Array => grad(y, new Tensor(dy, y.shape)).get(x)!.data;
  const gain = gammas.map((g, ch) => (g * g) / (variance[ch] + eps));
  return { z, x, y, dzOf, gain, variance, eps };
}

forEachBackend('§8.5.1 white noise in dy: per-element variance of dz is (γ/σ)²(1 − 2/m)·s² per channel (Monte Carlo)', { tiers: 'default' }, (t) => {
  // m = 8 values per channel makes the (1 − 2/m) = 0.75 factor large; three channels whose gains (γ/σ)² span 0.1 … 60.
  const m = 8, gammas = [3, 0.5, -2], scales = [0.5, 2, 1], s = 0.7, R = 4000;
  const { dzOf, gain } = bnSetup(m, gammas, scales, 11);
  const c = gammas.length;
  const sum = new Float64Array(c);
  for (let r = 0; r < R; r++) {
    const e = normals(1000 + r, m * c, s);
    const dz = dzOf(e);
    for (let i = 0; i < m * c; i++) sum[i % c] += dz[i] * dz[i];
  }
  for (let ch = 0; ch < c; ch++) {
    const measured = sum[ch] / (R * m);
    const predicted = gain[ch] * (1 - 2 / m) * s * s;
    // Σ_i dz_i² = (γ/σ)²s²·χ²_{m−2} per draw: relative standard error of the mean √(2(m−2))/(m−2)/√R.
    const se = (predicted * Math.sqrt(2 * (m - 2))) / (m - 2) / Math.sqrt(R);
    t.diagnostic(`channel ${ch}: gain (γ/σ)² ${gain[ch].toFixed(3)}, measured ${measured.toExponential(4)}, predicted ${predicted.toExponential(4)} (se ${se.toExponential(2)})`);
    assert.ok(Math.abs(measured - predicted) < 5 * se, `channel ${ch}: ${measured} vs ${predicted} ± ${se}`);
    // and the naive (γ/σ)²·s² (no projection) is rejected
    assert.ok(Math.abs(measured - gain[ch] * s * s) > 10 * se, `channel ${ch}: the 1 − 2/m factor is visible`);
  }
});

forEachBackend('§8.5.1 at METHODS scale (m = 512, γ = 3, σ ≈ 0.5): gain ≈ 36·(1 − 2/512)', { tiers: 'default' }, () => {
  const m = 512, R = 60, s = 1;
  const { dzOf, gain } = bnSetup(m, [3], [0.5], 5);
  let sum = 0;
  for (let r = 0; r < R; r++) { const dz = dzOf(normals(50 + r, m, s)); for (const v of dz) sum += v * v; }
  const measured = sum / (R * m), predicted = gain[0] * (1 - 2 / m);
  const se = (predicted * Math.sqrt(2 / (m - 2))) / Math.sqrt(R);
  assert.ok(gain[0] > 30 && gain[0] < 44, `σ ≈ 0.5: gain ${gain[0]}`);
  assert.ok(Math.abs(measured - predicted) < 5 * se, `${measured} vs ${predicted} ± ${se}`);
});

forEachBackend('§8.5.2 P = I − (𝟙𝟙ᵀ + ẑẑᵀ)/m is idempotent, symmetric, of rank m − 2, kills 𝟙 and ẑ, and BN backward is (γ/σ)·P', () => {
  const m = 24, gamma = 1.7;
  const { z, dzOf, variance, eps } = bnSetup(m, [gamma], [0.8], 3);
  // ẑ in float64 with ε → 0 (exact normalisation: Σẑ = 0, ‖ẑ‖² = m).
  let mu = 0;
  for (const v of z) mu += v / m;
  let v2 = 0;
  for (const v of z) v2 += (v - mu) ** 2 / m;
  const zh = Array.from(z, (v) => (v - mu) / Math.sqrt(v2));
  const P = Array.from({ length: m }, (_, i) => Array.from({ length: m }, (_, j) => (i === j ? 1 : 0) - (1 + zh[i] * zh[j]) / m));
  let idem = 0, sym = 0, trace = 0, kill1 = 0, killZ = 0;
  for (let i = 0; i < m; i++) {
    trace += P[i][i];
    let p1 = 0, pz = 0;
    for (let j = 0; j < m; j++) {
      let pp = 0;
      for (let k = 0; k < m; k++) pp += P[i][k] * P[k][j];
      idem = Math.max(idem, Math.abs(pp - P[i][j]));
      sym = Math.max(sym, Math.abs(P[i][j] - P[j][i]));
      p1 += P[i][j];
      pz += P[i][j] * zh[j];
    }
    kill1 = Math.max(kill1, Math.abs(p1));
    killZ = Math.max(killZ, Math.abs(pz));
  }
  assert.ok(idem < 1e-12 && sym < 1e-15, `P² = P (${idem}), Pᵀ = P (${sym})`);
  // A symmetric idempotent matrix is an orthogonal projection whose rank equals its trace.
  assert.ok(Math.abs(trace - (m - 2)) < 1e-12, `rank = trace = ${trace}`);
  assert.ok(kill1 < 1e-12 && killZ < 1e-12, `P𝟙 = 0 (${kill1}), Pẑ = 0 (${killZ})`);

  // The library's BN backward (float32) equals (γ/σ)·P·dy and annihilates 𝟙 and ẑ to float32 precision.
  const scale = gamma / Math.sqrt(variance[0] + eps);
  const dy = normals(77, m);
  const dz = dzOf(dy);
  let err = 0, norm = 0;
  for (let i = 0; i < m; i++) {
    let pdy = 0;
    for (let j = 0; j < m; j++) pdy += P[i][j] * dy[j];
    err = Math.max(err, Math.abs(dz[i] - scale * pdy));
    norm = Math.max(norm, Math.abs(scale * pdy));
  }
  assert.ok(err < 1e-5 * norm, `dz = (γ/σ)·P·dy: max error ${err} (scale ${norm})`);
  const d1 = dzOf(new Float32Array(m).fill(1)), dZ = dzOf(Float32Array.from(zh));
  assert.ok(Math.max(...d1.map(Math.abs)) < 1e-6 * scale, `BN backward of 𝟙: ${Math.max(...d1.map(Math.abs))}`);
  assert.ok(Math.max(...dZ.map(Math.abs)) < 1e-5 * scale * Math.sqrt(m), `BN backward of ẑ: ${Math.max(...dZ.map(Math.abs))}`);
});
