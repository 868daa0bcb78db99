/** Small helpers shared by the benchmarks: option parsing, timing, JSON-line output. */

export function option(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

export function flag(args: string[], name: string): boolean {
  return args.includes(`--${name}`);
}

/** Median wall time in seconds of `repeats` runs of `fn` (after one warm-up run). */
export function medianSeconds(fn: () => void, repeats: number): number {
  fn();
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

export function emit(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

export const round = (x: number, digits = 3): number => Number(x.toPrecision(digits + 1));
