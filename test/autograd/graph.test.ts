/** The tape: accumulation of gradients, noGrad, seeds and errors, deep graphs. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grad, record } from '../../src/autograd/graph.js';
import { isGradEnabled, noGrad } from '../../src/autograd/mode.js';
import { add, addScalar, mul, relu, scale } from '../../src/ops/elementwise.js';
import { sum } from '../../src/ops/reduce.js';
import { reshape } from '../../src/ops/movement.js';
import { linear } from '../../src/ops/matmul.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, randn, T } from '../helpers/tensors.js';

describe('gradient accumulation', () => {
  it('x·x: both uses of x contribute (d/dx = 2x)', () => {
    const x = leaf(T([1, -2, 3], [3]));
    assertValues(grad(sum(mul(x, x))).get(x)!, [2, -4, 6]);
  });

  it('residual add: y = f(x) + x gets the gradient of both branches', () => {
    const x = leaf(T([1, -2, 3], [3]));
    // y = relu(2x) + x  ⇒  dy/dx = 2·[x > 0] + 1
    assertValues(grad(sum(add(relu(scale(x, 2)), x))).get(x)!, [3, 1, 3]);
  });

  it('a tensor used three times, through different paths, and a parameter shared by two layers', () => {
    const x = leaf(T([2], [1]));
    // y = x·x·x + 4x  ⇒ 3x² + 4 = 16
    assertValues(grad(sum(add(mul(mul(x, x), x), scale(x, 4)))).get(x)!, [16]);
    const w = leaf(T([1, 2, 3, 4], [2, 2]));
    const inp = T([1, 1], [1, 2]);
    // h = inp·Wᵀ = [3, 7]; out = h·Wᵀ = [17, 37]; d Σ out / dW = 1ᵀ·h (second use) + (1ᵀW)ᵀ·inp (first use)
    const out = sum(linear(linear(inp, w), w));
    assertValues(grad(out).get(w)!, [3 + 4, 7 + 4, 3 + 6, 7 + 6]);
  });

  it('an accumulated gradient passed through add to two inputs is not corrupted by later accumulation', () => {
    // t = a + b is used twice, so its gradient G is accumulated; add's backward then gives G to both a
    // and b, and a receives a further contribution. Regression: that contribution was added into G in
    // place, changing b's gradient too. Both graph orders are checked (the tape order differs).
    const cases: [string, (a: Tensor, b: Tensor) => Tensor, number, number][] = [
      ['a² + 2(a+b)', (a, b) => { const t = add(a, b); return sum(add(mul(a, a), add(t, t))); }, 6, 2],
      ['2(a+b) + a²', (a, b) => { const t = add(a, b); return sum(add(add(t, t), mul(a, a))); }, 6, 2],
      ['2(a+b) + 3a', (a, b) => { const t = add(a, b); return sum(add(add(t, t), mul(a, 3))); }, 5, 2],
      ['3a + 2(a+b)', (a, b) => { const t = add(a, b); return sum(add(mul(a, 3), add(t, t))); }, 5, 2],
    ];
    for (const [label, f, da, db] of cases) {
      const a = leaf(T([2], [1])), b = leaf(T([5], [1]));
      const g = grad(f(a, b));
      assertValues(g.get(a)!, [da], `${label}: d/da`);
      assertValues(g.get(b)!, [db], `${label}: d/db`);
    }
  });

  it('pre-activation style: a block output used by the next block and by its skip connection', () => {
    // x → out1 = f(x) + x → out2 = g(out1) + out1: out1's gradient is accumulated, then split by add.
    const x = leaf(T([0.5, -1.5, 2], [3])), w = leaf(T([0.3, -0.7, 1.1], [3]));
    const block = (h: Tensor): Tensor => add(mul(relu(h), w), h);
    const y = sum(mul(block(block(x)), block(x)));
    const gx = grad(y).get(x)!;
    // Reference by central differences in float64 arithmetic on the same formula.
    const f = (v: number[]): number => {
      const blk = (h: number[]): number[] => h.map((hi, i) => Math.max(hi, 0) * w.data[i] + hi);
      const b1 = blk(v);
      return blk(b1).reduce((acc, vi, i) => acc + vi * b1[i], 0);
    };
    const base = Array.from(x.data);
    const num = base.map((_, i) => {
      const p = [...base], m = [...base];
      p[i] += 1e-6; m[i] -= 1e-6;
      return (f(p) - f(m)) / 2e-6;
    });
    assertClose(gx, num, { rtol: 1e-5, atol: 1e-6 });
  });

  it('gradients returned for two leaves are independent tensors (no aliasing)', () => {
    const a = leaf(T([1, 2], [2])), b = leaf(T([3, 4], [2]));
    const g = grad(add(a, b), T([1, 1], [2]));
    const ga = g.get(a)!, gb = g.get(b)!;
    ga.data[0] = 100; // a consumer (e.g. clipping) that edits one gradient in place
    assert.equal(gb.data[0], 1, 'editing the gradient of a changed the gradient of b');
  });

  it('the seed tensor is not modified and not returned as a leaf gradient', () => {
    const x = leaf(T([1, 2], [2]));
    const seed = T([5, 6], [2]);
    const gx = grad(add(x, x), seed).get(x)!;
    assertValues(gx, [10, 12]);
    assertValues(seed, [5, 6]);
    assert.notEqual(gx, seed);
  });

  it('grad() can run twice on the same graph with the same result', () => {
    const x = leaf(randn([4], 1));
    const y = sum(mul(x, relu(x)));
    const g1 = grad(y).get(x)!.toArray();
    const g2 = grad(y).get(x)!.toArray();
    assert.deepEqual(g2, g1);
  });

  it('leaves that do not require a gradient get none; only reachable leaves appear', () => {
    const x = leaf(T([1, 2], [2])), c = T([3, 4], [2]), unused = leaf(T([1], [1]));
    const g = grad(sum(mul(x, c)));
    assert.equal(g.has(c), false);
    assert.equal(g.has(unused), false);
    assert.equal(g.size, 1);
  });
});

describe('noGrad', () => {
  it('records nothing inside and restores the mode afterwards, also after an exception', () => {
    const x = leaf(T([1, 2], [2]));
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      return mul(x, x);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
    assert.equal(isGradEnabled(), true);
    assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
    assert.equal(isGradEnabled(), true);
    assert.ok(mul(x, x).node, 'recording resumes after noGrad');
  });

  it('nests', () => {
    noGrad(() => {
      noGrad(() => assert.equal(isGradEnabled(), false));
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);
  });

  it('a value computed under noGrad is a constant for later ops', () => {
    const x = leaf(T([3], [1]));
    const c = noGrad(() => mul(x, x)); // 9, constant
    assertValues(grad(sum(mul(c, x))).get(x)!, [9]);
  });
});

describe('grad() errors', () => {
  it('a non-scalar output without a seed', () => {
    const x = leaf(T([1, 2, 3], [3]));
    assertFqtError(() => grad(mul(x, x)), 'grad()', 'one element', '[3]', 'seed');
  });

  it('a seed of the wrong shape', () => {
    const x = leaf(T([1, 2, 3], [3]));
    assertFqtError(() => grad(mul(x, x), T([1, 1], [2])), 'grad()', '[2]', '[3]');
  });

  it('an output that does not depend on anything requiring a gradient', () => {
    assertFqtError(() => grad(sum(T([1, 2], [2]))), 'grad()', 'does not depend');
  });

  it('a backward rule returning the wrong shape is reported as an internal error naming the op', () => {
    const x = leaf(T([1, 2], [2]));
    const bad = record(new Tensor(new Float32Array(2), [2]), 'badOp', [x], () => [T([1, 2, 3], [3])]);
    assertFqtError(() => grad(bad, T([1, 1], [2])), 'badOp', '[3]', '[2]');
  });

  it('a one-element non-rank-0 output is accepted without a seed', () => {
    const x = leaf(T([2], [1]));
    assertValues(grad(mul(x, x)).get(x)!, [4]);
  });
});

describe('deep graphs', () => {
  it('a chain of 1000 ops (and of 20000) does not overflow the stack', () => {
    for (const depth of [1000, 20000]) {
      const x = leaf(T([0.5, -1], [2]));
      let h: Tensor = x;
      for (let i = 0; i < depth; i++) h = i % 2 === 0 ? addScalar(h, 0.001) : scale(h, 1.0001);
      const g = grad(sum(h)).get(x)!;
      const expected = Math.pow(1.0001, depth / 2);
      assertClose(g, [expected, expected], { rtol: 1e-4 }, `depth ${depth}`);
    }
  });

  it('a long chain of reshapes sharing one buffer', () => {
    const x = leaf(randn([2, 3], 2));
    let h: Tensor = x;
    for (let i = 0; i < 2000; i++) h = reshape(h, i % 2 === 0 ? [3, 2] : [2, 3]);
    assertValues(grad(sum(h)).get(x)!, [1, 1, 1, 1, 1, 1]);
  });

  it('a wide graph: one leaf feeding 500 branches', () => {
    const x = leaf(T([1, 2], [2]));
    let acc: Tensor = scale(x, 0);
    for (let i = 1; i <= 500; i++) acc = add(acc, scale(x, i));
    assertValues(grad(sum(acc)).get(x)!, [125250, 125250]);
  });
});
