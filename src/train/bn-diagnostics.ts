/**
 * BatchNorm diagnostics during training (`fqt train --bn-diagnostics`, METHODS §4.1): every K steps,
 *  - γ/σ per BN layer from the batch statistics of that step (mean, max, fraction with (γ/σ)² > 1);
 *  - the noise-to-signal ratio of the FQT gradient at each BN output (dy) and input (dz), by the §1.7
 *    procedure with one draw: before the step, a reference pass on the same batch and weights with the
 *    recipe's exact-backward twin (qatOf: same forward, fp32 backward GEMMs) gives g_QAT; the step's own
 *    backward is the FQT draw; noise = g_FQT − g_QAT. Epoch values pool the sampled steps (Σ noise / Σ signal);
 *  - explosion checks: gradient RMS growth across layers (stats/bn-noise.ts layerWarnings) and across steps
 *    (a layer's input-gradient RMS above `growthLimit` × its smallest value so far).
 * Cost: one extra forward + backward (the reference) every K steps; nothing on the other steps (the probes are
 * attached only for sampled steps). The reference pass restores BN running statistics and the GEMMs and draws
 * no random numbers from the training streams, so a run with diagnostics follows the same trajectory as one
 * without (the built-in models have no dropout; a model with dropout would see different masks in the two passes).
 * Recipes without gradient quantization (fp32, QAT) get γ/σ and growth checks but no NSR.
 * Limitation: the sampled records of an epoch live in memory, so after `--resume` inside an epoch that epoch's
 * bn_* metrics cover only the steps run since the resume (the training itself resumes exactly).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { grad } from '../autograd/graph.js';
import type { Module } from '../nn/module.js';
import { applyRecipe, isGemmLayer, type GemmLayerLike, type ResolvedRecipe } from '../quant/apply.js';
import { qatOf, type Recipe } from '../quant/recipe.js';
import { addChannelEnergy, BnGradProbe, gammaSigmaStats, type GammaSigmaStats } from '../stats/bn-probe.js';
import { DEFAULT_GROWTH_LIMIT, layerWarnings, type BnWarning } from '../stats/bn-noise.js';
import { quantizesGradients } from './bn-rectify.js';
import type { TrainHook } from './hooks.js';

export interface BnLayerStep {
  layer: string;
  gammaSigma: GammaSigmaStats;
  /** RMS of the FQT gradient at the BN output / input */
  rmsOut: number;
  rmsIn: number;
  nsrOut: number | null;
  nsrIn: number | null;
}

export interface BnStepRecord {
  epoch: number;
  step: number;
  layers: BnLayerStep[];
  /** max over layers of the input-gradient RMS relative to the BN layer nearest the loss */
  growth: number;
  warnings: BnWarning[];
}

export interface BnEpochSummary {
  line: string;
  metrics: Record<string, number>;
  warnings: string[];
}

interface Pool { noiseOut: number; sigOut: number; noiseIn: number; sigIn: number }

const sumSq = (a: Float32Array): number => { let s = 0; for (const v of a) s += v * v; return s; };

export class BnMonitor {
  private readonly probe: BnGradProbe;
  private readonly gemmLayers: (Module & GemmLayerLike)[];
  private readonly qatGemms: GemmLayerLike['gemm'][] | null;
  private phase: 'ref' | 'fqt' = 'fqt';
  private refs: ({ dy: Float32Array; dz: Float32Array } | undefined)[] = [];
  private step: ({ e: BnLayerStep; pool: Pool } | undefined)[] = [];
  private readonly minRms: number[];
  private pools: Pool[] = [];
  private records: BnStepRecord[] = [];
  private readonly warned = new Set<string>();

  /** `resolved`: the recipe the trainer applied (null for fp32); `every`: sample one step in K. */
  constructor(private readonly model: Module, recipe: Recipe | null, resolved: ResolvedRecipe | null,
    readonly every: number, readonly growthLimit = DEFAULT_GROWTH_LIMIT) {
    check(Number.isInteger(every) && every >= 1, () => `--bn-diagnostics-every must be a positive integer, got ${every}`);
    this.probe = new BnGradProbe(model, (e) => {
      if (this.phase === 'ref') { this.refs[e.layer] = { dy: new Float32Array(e.dy), dz: new Float32Array(e.dz) }; return; }
      const ref = this.refs[e.layer];
      const numel = e.dy.length;
      const pool: Pool = { noiseOut: 0, sigOut: 0, noiseIn: 0, sigIn: 0 };
      const outE = new Float64Array(e.c), inE = new Float64Array(e.c);
      if (ref && ref.dy.length === numel) {
        addChannelEnergy(e.dy, ref.dy, e.n, e.c, e.hw, outE);
        addChannelEnergy(e.dz, ref.dz, e.n, e.c, e.hw, inE);
        for (let c = 0; c < e.c; c++) { pool.noiseOut += outE[c]; pool.noiseIn += inE[c]; }
        pool.sigOut = sumSq(ref.dy);
        pool.sigIn = sumSq(ref.dz);
      }
      const fqtOut = sumSq(e.dy), fqtIn = sumSq(e.dz);
      this.step[e.layer] = {
        e: {
          layer: e.name, gammaSigma: gammaSigmaStats(e.gamma, e.variance, e.eps),
          rmsOut: Math.sqrt(fqtOut / numel), rmsIn: Math.sqrt(fqtIn / numel),
          nsrOut: ref && pool.sigOut > 0 ? pool.noiseOut / pool.sigOut : null,
          nsrIn: ref && pool.sigIn > 0 ? pool.noiseIn / pool.sigIn : null,
        },
        pool: ref ? pool : { noiseOut: 0, sigOut: 0, noiseIn: 0, sigIn: 0 },
      };
    });
    this.minRms = this.probe.layers.map(() => Infinity);
    this.gemmLayers = model.namedModules().map(([, m]) => m).filter((m): m is Module & GemmLayerLike => isGemmLayer(m));
    if (recipe && quantizesGradients(resolved)) {
      const fqt = this.gemmLayers.map((l) => l.gemm);
      applyRecipe(model, qatOf(recipe), { seed: 0 });
      this.qatGemms = this.gemmLayers.map((l) => l.gemm);
      this.gemmLayers.forEach((l, i) => { l.gemm = fqt[i]; });
    } else {
      this.qatGemms = null;
    }
  }

  /** Number of BN layers watched (0: nothing to do). */
  get layerCount(): number { return this.probe.layers.length; }

  due(globalStep: number): boolean { return this.layerCount > 0 && globalStep % this.every === 0; }

  /**
   * Start a sampled step. `lossOf` runs the step's forward and returns its total loss; it is called once
   * more here, with exact backward GEMMs, for the reference gradient (skipped without gradient quantization).
   */
  begin(lossOf: () => Tensor): void {
    this.refs = [];
    this.step = [];
    this.probe.attach();
    if (!this.qatGemms) { this.phase = 'fqt'; return; }
    const buffers = this.model.namedBuffers().map(([, b]) => [b, new Float32Array(b.data)] as const);
    const fqt = this.gemmLayers.map((l) => l.gemm);
    this.phase = 'ref';
    try {
      this.gemmLayers.forEach((l, i) => { l.gemm = this.qatGemms![i]; });
      grad(lossOf());
    } finally {
      this.gemmLayers.forEach((l, i) => { l.gemm = fqt[i]; });
      for (const [b, d] of buffers) b.data.set(d);
      this.phase = 'fqt';
    }
  }

  /** End a sampled step (after the trainer's backward): returns the step's record. */
  finish(epoch: number, globalStep: number): BnStepRecord {
    this.probe.detach();
    const order = this.probe.forwardOrder.filter((li) => this.step[li] !== undefined);
    const layers = order.map((li) => this.step[li]!.e);
    const warnings = layerWarnings(layers.map((l) => ({ layer: l.layer, rms: l.rmsIn, nsr: l.nsrIn })), this.growthLimit);
    for (const li of order) {
      const { e, pool } = this.step[li]!;
      if (Number.isFinite(e.rmsIn) && e.rmsIn > this.growthLimit * this.minRms[li]) {
        warnings.push({ kind: 'step-growth', layer: e.layer, value: e.rmsIn / this.minRms[li],
          message: `gradient explosion across steps: the gradient RMS at the input of BN '${e.layer}' is ${(e.rmsIn / this.minRms[li]).toFixed(1)}× ` +
            `its smallest value so far (step ${globalStep + 1}, limit ${this.growthLimit}×)` });
      }
      if (Number.isFinite(e.rmsIn) && e.rmsIn > 0) this.minRms[li] = Math.min(this.minRms[li], e.rmsIn);
      const p = (this.pools[li] ??= { noiseOut: 0, sigOut: 0, noiseIn: 0, sigIn: 0 });
      p.noiseOut += pool.noiseOut; p.sigOut += pool.sigOut; p.noiseIn += pool.noiseIn; p.sigIn += pool.sigIn;
    }
    const last = layers[layers.length - 1];
    const growth = last && last.rmsIn > 0 ? Math.max(1, ...layers.map((l) => l.rmsIn / last.rmsIn)) : NaN;
    const rec: BnStepRecord = { epoch, step: globalStep, layers, growth, warnings };
    this.records.push(rec);
    return rec;
  }

  /** The epoch's summary line, metric fields and (new) warnings; resets the epoch pools. */
  epochSummary(): BnEpochSummary | null {
    const recs = this.records;
    if (recs.length === 0) return null;
    const latest = recs[recs.length - 1].layers;
    let ch = 0, sum = 0, amp = 0, max = 0, maxAt = '';
    for (const l of latest) { // channel-weighted over all BN layers, from the epoch's last sampled step
      const c = l.gammaSigma;
      const channels = this.probe.layers.find(([name]) => name === l.layer)?.[1].channels ?? 1;
      ch += channels; sum += c.mean * channels; amp += c.amplifying * channels;
      if (c.max > max) { max = c.max; maxAt = l.layer; }
    }
    const order = this.probe.forwardOrder;
    const nsr = order.map((li) => this.pools[li]).filter((p): p is Pool => p !== undefined && p.sigOut > 0 && p.sigIn > 0);
    const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
    const nsrOut = mean(nsr.map((p) => p.noiseOut / p.sigOut)), nsrIn = mean(nsr.map((p) => p.noiseIn / p.sigIn));
    let worstGain = NaN, worstAt = '';
    const gains = order.flatMap((li) => {
      const p = this.pools[li];
      if (!p || !(p.sigOut > 0 && p.sigIn > 0 && p.noiseOut > 0)) return [];
      const g = (p.noiseIn / p.sigIn) / (p.noiseOut / p.sigOut);
      if (!(g <= worstGain)) { worstGain = g; worstAt = this.probe.layers[li][0]; }
      return [g];
    });
    const growth = Math.max(...recs.map((r) => (Number.isFinite(r.growth) ? r.growth : 1)));
    const warnings: string[] = [];
    for (const r of recs) {
      for (const w of r.warnings) {
        const key = `${w.kind}:${w.layer}`;
        if (this.warned.has(key)) continue;
        this.warned.add(key);
        warnings.push(w.message);
      }
    }
    const warningCount = recs.reduce((a, r) => a + r.warnings.length, 0);
    const metrics: Record<string, number> = {
      bn_gamma_sigma_mean: sum / Math.max(1, ch), bn_gamma_sigma_max: max, bn_amplifying_frac: amp / Math.max(1, ch),
      bn_grad_growth: growth, bn_warnings: warningCount, bn_samples: recs.length,
    };
    if (nsr.length) Object.assign(metrics, { bn_nsr_out: nsrOut, bn_nsr_in: nsrIn, bn_nsr_gain: mean(gains) });
    const f = (v: number, d = 3): string => (Number.isFinite(v) ? (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(d)) : '–');
    const line = `bn-diag (${recs.length} sampled steps, every ${this.every}): |γ|/σ mean ${f(metrics.bn_gamma_sigma_mean)} max ${f(max)} (${maxAt}), ` +
      `(γ/σ)²>1 in ${(100 * metrics.bn_amplifying_frac).toFixed(0)}% of channels; ` +
      (nsr.length ? `NSR after→before BN ${f(nsrOut)}→${f(nsrIn)} (×${f(mean(gains), 2)} mean over layers, worst ×${f(worstGain, 2)} at ${worstAt}); ` : 'no NSR (no gradient quantization); ') +
      `grad RMS growth across layers ≤ ×${f(growth, 1)}${warningCount ? `; ${warningCount} warning(s)` : ''}`;
    this.records = [];
    this.pools = [];
    return { line, metrics, warnings };
  }

  detach(): void {
    this.probe.detach();
  }
}

/** `--bn-diagnostics` as a trainer hook: samples one step in `every`, appends its record to OUT/bn-diagnostics.jsonl. */
export function bnDiagnosticsHook(model: Module, recipe: Recipe | null, resolved: ResolvedRecipe | null, every: number,
  out: string | null, log: (line: string) => void): TrainHook {
  const monitor = new BnMonitor(model, recipe, resolved, every);
  if (monitor.layerCount === 0) log('fqt: --bn-diagnostics: the model has no BatchNorm layers; nothing to report');
  let sampled = false;
  return {
    key: 'bnDiagnostics',
    beforeStep: (step, lossOf) => {
      sampled = monitor.due(step.globalStep);
      if (sampled) monitor.begin(lossOf);
    },
    afterStep: (step) => {
      if (!sampled) return;
      sampled = false;
      const rec = monitor.finish(step.epoch + 1, step.globalStep);
      if (out) appendFileSync(path.join(out, 'bn-diagnostics.jsonl'), `${JSON.stringify(rec)}\n`);
    },
    onEpochEnd: () => {
      const diag = monitor.epochSummary();
      return diag && { metrics: diag.metrics, lines: [`  ${diag.line}`, ...diag.warnings.map((w) => `  bn-diag warning: ${w}`)] };
    },
    detach: () => monitor.detach(),
  };
}
