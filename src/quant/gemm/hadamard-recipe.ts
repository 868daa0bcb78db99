/**
 * The recipe key `hadamard` (gemm/hadamard.ts): parsing and the slot rule it imposes. Imports nothing from
 * recipe.ts (which imports this file); the recipe's part it checks is typed structurally.
 */
import { expectObject, checkKeys, fail, show } from '../validate.js';

const GEMMS = ['forward', 'gradInput', 'gradWeight'] as const;

/** Block size of each GEMM's random Hadamard transform (absent: none). */
export type HadamardBlocks = Partial<Record<(typeof GEMMS)[number], number>>;

/** Block sizes a recipe may name. */
export const HADAMARD_BLOCKS: readonly number[] = [16, 32, 64, 128];

/** What checkHadamardSlots reads of a Recipe. */
interface BackwardSlots {
  gradInput?: object;
  gradWeight?: object;
}

export function parseHadamard(raw: unknown, path: string): HadamardBlocks {
  const o = expectObject(raw, path);
  checkKeys(o, GEMMS, path);
  const out: HadamardBlocks = {};
  for (const g of GEMMS) {
    if (o[g] === undefined) continue;
    if (!HADAMARD_BLOCKS.includes(o[g] as number)) fail(`${path}.${g}`, `must be a block size, one of ${HADAMARD_BLOCKS.join(', ')}, got ${show(o[g])}`);
    out[g] = o[g] as number;
  }
  return out;
}

/**
 * A backward GEMM with its own rotation cannot reuse the forward codes (rotated along `in`, not along its K): its W
 * (grad-input) or X (grad-weight) slot must be a quantizer or 'fp32', in the recipe and in every override.
 */
export function checkHadamardSlots(r: BackwardSlots & { hadamard?: HadamardBlocks; overrides: readonly BackwardSlots[] }, path: string): void {
  const rules = [['gradInput', 'w'], ['gradWeight', 'x']] as const;
  for (const [gemm, operand] of rules) {
    if (!r.hadamard?.[gemm]) continue;
    const slots = [[`${path}.${gemm}.${operand}`, (r[gemm] as Record<string, unknown>)[operand]],
      ...r.overrides.map((ov, i) => [`${path}.overrides[${i}].${gemm}.${operand}`, (ov[gemm] as Record<string, unknown> | undefined)?.[operand]])];
    for (const [where, slot] of slots) {
      if (slot === 'forward') {
        fail(where as string, `'forward' reuses the forward codes, but recipe.hadamard.${gemm} rotates this GEMM along another axis: give a quantizer or 'fp32'`);
      }
    }
  }
}
