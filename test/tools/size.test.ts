/** tools/size.ts: function spans and names, and the one-line messages naming what is over budget. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureFunctions, overBudget } from '../../tools/size.js';

const SOURCE = `/** doc comment: not counted */
export function outer(a: number): number {
  const inner = (b: number) => {
    return b + 1;
  };
  return inner(a);
}

class Box {
  constructor(readonly v: number) {}
  get double(): number { return 2 * this.v; }
  scale(k: number): number {
    return k * this.v;
  }
}
declare function bodiless(x: number): number;
`;

test('every function with a body is measured in physical lines, from its first token to its closing brace', () => {
  const fns = measureFunctions('x.ts', SOURCE).map((f) => `${f.name}@${f.line}:${f.lines}`);
  assert.deepEqual(fns, ['outer@2:6', 'inner@3:3', 'Box.constructor@10:1', 'Box.double@11:1', 'Box.scale@12:3']);
});

test('over budget: the total, each file and each function are named in one line', () => {
  const files = [
    { path: 'src/a.ts', lines: 30, functions: [{ name: 'big', line: 3, lines: 12 }] },
    { path: 'src/b.ts', lines: 8, functions: [] },
  ];
  assert.deepEqual(overBudget(files, { total: 100, perFile: 400, perFunction: 80 }), []);
  assert.deepEqual(overBudget(files, { total: 20, perFile: 10, perFunction: 10 }), [
    'total: 38 lines in 2 files, budget 20',
    'src/a.ts: 30 lines, budget 10 per file (split it)',
    'src/a.ts:3 big: 12 lines, budget 10 per function (split it)',
  ]);
});
