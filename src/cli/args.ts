/**
 * A small declarative flag parser: every command lists its flags with a type and a default, and any
 * unknown flag, missing value or badly typed value is an error naming the flag.
 */
import { FqtError } from '../tensor/errors.js';

export type FlagType = 'string' | 'int' | 'number' | 'bool';

export interface FlagSpec {
  type: FlagType;
  help: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  /** For ints/numbers: inclusive minimum. */
  min?: number;
}

export type FlagSpecs = Record<string, FlagSpec>;

type ValueOf<S extends FlagSpec> = S['type'] extends 'bool' ? boolean : S['type'] extends 'string' ? string : number;
export type Parsed<T extends FlagSpecs> = { [K in keyof T]: ValueOf<T[K]> | undefined } & { _: string[] };

export function parseFlags<T extends FlagSpecs>(command: string, specs: T, argv: readonly string[]): Parsed<T> {
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      (out._ as string[]).push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    const spec = specs[name];
    if (!spec) {
      throw new FqtError(`unknown flag --${name} for 'fqt ${command}' (valid: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`);
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else if (spec.type === 'bool') raw = 'true';
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new FqtError(`flag --${name} needs a value (${spec.help})`);
      raw = argv[++i];
    }
    out[name] = convert(name, spec, raw);
  }
  return out as Parsed<T>;
}

function convert(name: string, spec: FlagSpec, raw: string): string | number | boolean {
  switch (spec.type) {
    case 'bool':
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new FqtError(`flag --${name} takes true or false, got '${raw}'`);
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new FqtError(`flag --${name}: '${raw}' is not one of ${spec.choices.join(', ')}`);
      }
      return raw;
    case 'int':
    case 'number': {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v) || (spec.type === 'int' && !Number.isInteger(v))) {
        throw new FqtError(`flag --${name} takes ${spec.type === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
      }
      if (spec.min !== undefined && v < spec.min) throw new FqtError(`flag --${name} must be at least ${spec.min}, got ${v}`);
      return v;
    }
  }
}

export function usage(command: string, summary: string, specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const def = s.default === undefined ? '' : ` (default: ${s.default})`;
    const choices = s.choices ? ` [${s.choices.join('|')}]` : '';
    return `  --${name.padEnd(16)} ${s.help}${choices}${def}`;
  });
  return `fqt ${command}: ${summary}\n\n${rows.join('\n')}\n`;
}
