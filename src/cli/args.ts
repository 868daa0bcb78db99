/**
 * Declarative, strict flag parsing on Node's `util.parseArgs` (strict mode): every command lists its flags
 * here-style (type, help, default, choices, min) and gets typed values back. Rules:
 *   --flag, --no-flag, --flag=true|false, --flag true|false       booleans (also =1 / =0)
 *   --name value, --name=value                                       strings and numbers (a value that starts
 *                                                                    with '-' needs the '=' form: --lr=-1)
 * Errors, each one line naming the flag: an unknown flag (with the valid ones), a single-dash flag (-epochs),
 * a missing or badly typed value, a boolean given anything but true/false (--nesterov maybe), a value outside
 * the choices or below the minimum, and a positional argument the command does not take.
 */
import { parseArgs } from 'node:util';
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

type ValueOf<S extends FlagSpec> = S['type'] extends 'bool' ? boolean
  : S['type'] extends 'string' ? (S extends { choices: readonly (infer C)[] } ? C : string) : number;
/** Flags with a default always have a value; the others may be undefined. `_` holds the positional arguments. */
export type Parsed<T extends FlagSpecs> = { [K in keyof T]: T[K] extends { default: unknown } ? ValueOf<T[K]> : ValueOf<T[K]> | undefined } & { _: string[] };

/** Positional arguments a command takes (default: none), named in errors and help. */
export interface Positionals {
  names: readonly string[];
  /** What they are, for errors: 'one directory (…)'. */
  what?: string;
}

const BOOL_WORDS: Record<string, boolean> = { true: true, false: false, 1: true, 0: false };

function fail(command: string, message: string): never {
  throw new FqtError(`${message} (see 'fqt ${command} --help')`);
}

/** `--b=v` for a boolean b becomes `--b` / `--no-b` (util.parseArgs takes booleans without values). */
function normalizeBooleans(command: string, specs: FlagSpecs, argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') return [...out, ...argv.slice(i)];
    if (/^-[^-]/.test(arg)) {
      if (/^-\d|^-\.\d/.test(arg)) fail(command, `'${arg}' looks like a negative value: give it with '=', e.g. --lr=${arg}`);
      fail(command, `unknown option '${arg}': flags start with two dashes (--${arg.slice(1).split('=')[0]})`);
    }
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (!m || specs[m[1]]?.type !== 'bool') { out.push(arg); continue; }
    const v = BOOL_WORDS[m[2]];
    if (v === undefined) fail(command, `flag --${m[1]} takes true or false, got '${m[2]}'`);
    out.push(v ? `--${m[1]}` : `--no-${m[1]}`);
  }
  return out;
}

function convert(command: string, name: string, spec: FlagSpec, raw: string): string | number {
  if (spec.type === 'string') {
    if (spec.choices && !spec.choices.includes(raw)) fail(command, `flag --${name}: '${raw}' is not one of ${spec.choices.join(', ')}`);
    return raw;
  }
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (spec.type === 'int' && !Number.isInteger(v))) {
    fail(command, `flag --${name} takes ${spec.type === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  if (spec.min !== undefined && v < spec.min) fail(command, `flag --${name} must be at least ${spec.min}, got ${v}`);
  return v;
}

/** util.parseArgs' errors span several lines; keep the first sentence and name the valid flags. */
function parseError(command: string, specs: FlagSpecs, err: unknown): never {
  const first = ((err as Error).message ?? String(err)).split('\n')[0];
  const unknown = /^Unknown option '([^']*)'/.exec(first);
  const missing = /^Option '(--[^ ']*) <value>' argument missing/.exec(first);
  if (missing) fail(command, `flag ${missing[1]} needs a value`);
  if (unknown) throw new FqtError(`unknown flag ${unknown[1]} for 'fqt ${command}' (valid: ${Object.keys(specs).map((k) => `--${k}`).join(', ')})`);
  if (/argument is ambiguous/.test(first)) fail(command, `${first.replace(/\.$/, '')}: it needs a value (use --name=VALUE for a value starting with '-')`);
  throw new FqtError(`${first} (see 'fqt ${command} --help')`);
}

export function parseFlags<T extends FlagSpecs>(command: string, specs: T, argv: readonly string[], positionals: Positionals = { names: [] }): Parsed<T> {
  const options = Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, { type: s.type === 'bool' ? 'boolean' as const : 'string' as const }]));
  const args = normalizeBooleans(command, specs, argv);
  let tokens;
  try {
    ({ tokens } = parseArgs({ args, options, strict: true, allowPositionals: true, allowNegative: true, tokens: true }));
  } catch (err) {
    parseError(command, specs, err);
  }
  const out: Record<string, unknown> = { _: [] as string[] };
  for (const [name, spec] of Object.entries(specs)) out[name] = spec.default;
  let lastBool: { name: string; index: number } | null = null;
  for (const t of tokens) {
    if (t.kind === 'option') {
      const spec = specs[t.name];
      lastBool = spec.type === 'bool' && !t.rawName.startsWith('--no-') ? { name: t.name, index: t.index } : null;
      out[t.name] = spec.type === 'bool' ? !t.rawName.startsWith('--no-') : convert(command, t.name, spec, t.value ?? '');
    } else if (t.kind === 'positional') {
      // `--flag false`: a true/false word right after a boolean flag is its value.
      if (lastBool && t.index === lastBool.index + 1 && (t.value === 'true' || t.value === 'false')) {
        out[lastBool.name] = t.value === 'true';
      } else if (lastBool && t.index === lastBool.index + 1 && positionals.names.length === 0) {
        fail(command, `flag --${lastBool.name} takes true or false, got '${t.value}'`);
      } else {
        (out._ as string[]).push(t.value);
      }
      lastBool = null;
    }
  }
  if (out.help !== true) checkPositionals(command, out._ as string[], positionals);
  return out as Parsed<T>;
}

/** parseFlags for a command with a --help flag: null once --help has printed the usage (the command exits 0). */
export function parseCommand<T extends FlagSpecs>(command: string, summary: string, specs: T, argv: readonly string[], positionals?: Positionals): Parsed<T> | null {
  const f = parseFlags(command, specs, argv, positionals);
  if (f.help !== true) return f;
  process.stdout.write(usage(command, summary, specs, positionals));
  return null;
}

function checkPositionals(command: string, given: string[], p: Positionals): void {
  if (given.length === p.names.length) return;
  const what = p.what ?? p.names.join(' ');
  if (p.names.length === 0) fail(command, `unexpected argument ${given.map((s) => `'${s}'`).join(' ')}: fqt ${command} takes no positional arguments`);
  fail(command, `fqt ${command} takes ${what}, got ${given.length ? given.map((s) => `'${s}'`).join(' ') : 'none'}`);
}

export function usage(command: string, summary: string, specs: FlagSpecs, positionals: Positionals = { names: [] }): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const def = s.default === undefined ? '' : ` (default: ${s.default})`;
    const choices = s.choices ? ` [${s.choices.join('|')}]` : '';
    const flag = s.type === 'bool' ? `--${name}, --no-${name}` : `--${name} ${s.type === 'string' ? 'S' : s.type === 'int' ? 'N' : 'X'}`;
    return `  ${flag.padEnd(30)} ${s.help}${choices}${def}`;
  });
  const args = positionals.names.length ? ` ${positionals.names.join(' ')}` : '';
  return `fqt ${command}${args} [flags]: ${summary}\n\nBooleans: --flag, --no-flag, --flag=false or --flag false.\n\n${rows.join('\n')}\n`;
}
