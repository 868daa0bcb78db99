/** Optimizer steps against PyTorch 1.13 (fixtures from tools/golden/optim_gen.py), with param groups and skipped params. */
import { test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GradStore } from '../../src/autograd/graph.js';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { createOptimizer, type OptimizerName, type OptimizerOptions, type ParamGroup } from '../../src/optim/index.js';
import { assertClose } from '../helpers/approx.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Case {
  name: string;
  kind: OptimizerName;
  opts: OptimizerOptions;
  groups: { name: string; lrScale: number; weightDecay?: number; params: [string, number[]][] }[];
  init: Record<string, number[]>;
  steps: { lr: number; grads: Record<string, number[] | null>; after: Record<string, number[]> }[];
}

const golden = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/optim/fixtures/optim.json'), 'utf8')) as { cases: Case[] };

for (const c of golden.cases) {
  test(`${c.name} matches PyTorch over ${c.steps.length} steps`, () => {
    const params = new Map<string, Tensor>();
    const groups: ParamGroup[] = c.groups.map((g) => ({
      name: g.name,
      lrScale: g.lrScale,
      weightDecay: g.weightDecay,
      params: g.params.map(([n, shape]) => {
        const p = parameter(Float32Array.from(c.init[n]), shape, n);
        params.set(n, p);
        return [n, p] as [string, Tensor];
      }),
    }));
    const opt = createOptimizer(c.kind, groups, c.opts);
    c.steps.forEach((s, i) => {
      opt.setLr(s.lr);
      const grads = new GradStore();
      for (const [n, g] of Object.entries(s.grads)) {
        if (g !== null) grads.set(params.get(n)!, new Tensor(Float32Array.from(g), params.get(n)!.shape));
      }
      opt.step(grads);
      for (const [n, expected] of Object.entries(s.after)) {
        // The reference kernel computes in float64 then rounds; PyTorch computes in float32.
        assertClose(params.get(n)!.data, expected, { atol: 1e-6, rtol: 1e-5 }, `${c.name} step ${i + 1} '${n}'`);
      }
    });
  });
}
