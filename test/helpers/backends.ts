/**
 * Tests written once and run on every backend (DESIGN "Testing ladder"): `forEachBackend(name, body)` registers one
 * test whose subtests run `body` on the reference backend, then on the native backend (as production uses it:
 * `withFallback(native)`) at every ISA tier of this machine. A tier is switched with the addon's `setIsa`, the
 * backend with `setBackend`; both are restored after each subtest, even when it fails.
 *
 * `{ tiers: 'default' }` runs native at its default tier only (the best one, or FQT_ISA's): for the slow
 * statistical and training tests (Monte Carlo z-tests, NaN runs of every preset) — the tiers compute the same bits,
 * which the conformance suites check kernel by kernel. FQT_ISA restricts the tiers as in test/conformance/;
 * FQT_BACKEND=ref leaves only the reference. Without a built addon the native subtest is skipped with the reason.
 */
import { test, type TestContext } from 'node:test';
import { backend, refBackend, setBackend, withFallback, type Backend } from '../../src/backend/index.js';
import type { IsaTier, NativeAddon } from '../../src/backend/native.js';
import { nativeUnderTest } from '../conformance/helpers.js';

export interface BackendCase {
  /** 'ref' or 'native avx2' (the tier it runs at). */
  label: string;
  backend: Backend;
  /** The native ISA tier, null for the reference. */
  tier: IsaTier | null;
}

export interface BackendOptions {
  /** Native ISA tiers to run: every tier of the machine (default) or the default tier only. */
  tiers?: 'all' | 'default';
}

interface Native {
  addon: NativeAddon;
  backend: Backend;
  tiers: IsaTier[];
  defaultTier: IsaTier;
}

let native: Native | string | null = null;

function nativeCases(): Native | string {
  if (native !== null) return native;
  if (process.env.FQT_BACKEND === 'ref') return (native = 'FQT_BACKEND=ref');
  const nut = nativeUnderTest();
  native = typeof nut === 'string'
    ? nut
    : { addon: nut.addon, backend: withFallback(nut.backend), tiers: nut.tiers, defaultTier: nut.addon.info().active };
  return native;
}

/** The backends a test runs on, and why native is absent (null when it is present). */
export function backendCases(opts: BackendOptions = {}): { cases: BackendCase[]; skipped: string | null } {
  const cases: BackendCase[] = [{ label: 'ref', backend: refBackend, tier: null }];
  const n = nativeCases();
  if (typeof n === 'string') return { cases, skipped: n };
  const tiers = opts.tiers === 'default' ? n.tiers.filter((t) => t === n.defaultTier) : n.tiers;
  for (const tier of tiers) cases.push({ label: `native ${tier}`, backend: n.backend, tier });
  return { cases, skipped: null };
}

/** Runs `body` with `c` as the active backend (and ISA tier), then restores the previous ones. */
export async function withBackend<T>(c: BackendCase, body: () => T | Promise<T>): Promise<T> {
  const saved = backend();
  const n = nativeCases();
  const savedTier = typeof n === 'string' ? null : n.addon.info().active;
  try {
    if (c.tier !== null && typeof n !== 'string') n.addon.setIsa(c.tier);
    setBackend(c.backend);
    return await body();
  } finally {
    setBackend(saved);
    if (savedTier !== null && typeof n !== 'string') n.addon.setIsa(savedTier);
  }
}

type Body = (t: TestContext, c: BackendCase) => void | Promise<void>;

/**
 * One test named `name` with a subtest per backend case, each running `body` on that backend; options come second,
 * as in node:test's `test(name, options, fn)`.
 */
export function forEachBackend(name: string, body: Body): void;
export function forEachBackend(name: string, opts: BackendOptions, body: Body): void;
export function forEachBackend(name: string, a: BackendOptions | Body, b?: Body): void {
  const [opts, body] = typeof a === 'function' ? [{}, a] : [a, b!];
  test(name, async (t) => {
    const { cases, skipped } = backendCases(opts);
    for (const c of cases) await t.test(c.label, (st) => withBackend(c, () => body(st, c)));
    if (skipped !== null) await t.test('native', { skip: skipped }, () => {});
  });
}
