/** `npm run bench -- qconv [--stage S] [--repeats N] [--tier T]`: the fused integer convs alone (bench/qconv.ts). */
import { nativeAddon, nativeLoadError, type IsaTier } from '../src/backend/native.js';
import { qconvBenches } from './qconv.js';
import { emit, option, round } from './util.js';

export function main(args: string[]): void {
  const addon = nativeAddon();
  if (addon === null) throw new Error(`the native addon is not available: ${nativeLoadError()}`);
  const tier = option(args, 'tier', addon.info().active) as IsaTier;
  addon.setIsa(tier);
  const base = { tier, threads: addon.info().threads };
  const peak = addon.peak('int8', tier, 0.5);
  emit({ ...base, kernel: 'peak', kind: 'int8', gops: round(peak / 1e9) });
  const stage = option(args, 'stage', '');
  qconvBenches(addon.createBackend(), base, peak, Number(option(args, 'repeats', '5')), stage ? [Number(stage)] : [1, 2, 3],
    () => addon.peak('int8', tier, 0.1));
}
