/**
 * The strict flag parser (cli/args.ts), walked over every flag of every command's --help: each boolean in all its
 * forms (--f, --no-f, --f=true|false, --f true|false) and its bad values, each choice, each number with its type
 * and minimum, each string with both value forms; plus the errors every command shares (unknown flag, single
 * dash, stray positional, missing value, negative number without '=').
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, usage, type FlagSpec } from '../../src/cli/args.js';
import { COMMANDS } from '../../src/cli/main.js';
import { FqtError } from '../../src/tensor/errors.js';

function rejects(fn: () => unknown, pattern: RegExp, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FqtError, `${what}: expected an FqtError, got ${String(e)}`);
    assert.match(e.message, pattern, what);
    assert.ok(!e.message.includes('\n'), `${what}: one line: ${e.message}`);
    return true;
  });
}

/** A valid value of a non-boolean flag, as typed on the command line and as parsed. */
function sample(s: FlagSpec): [string, string | number] {
  if (s.choices) return [s.choices[s.choices.length - 1], s.choices[s.choices.length - 1]];
  if (s.type === 'string') return ['some value', 'some value'];
  const v = (s.min ?? 0) + (s.type === 'int' ? 3 : 0.25);
  return [String(v), v];
}

for (const [command, c] of Object.entries(COMMANDS)) {
  const pos = c.args?.names.map((n) => `pos-${n}`) ?? [];
  const parse = (argv: string[]) => parseFlags(command, c.flags, [...pos, ...argv], c.args) as Record<string, unknown>;
  const helpText = usage(command, c.summary, c.flags, c.args);

  describe(`fqt ${command}: every flag of --help`, () => {
    it('--help lists exactly the declared flags', () => {
      const listed = [...helpText.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
      assert.deepEqual(listed, Object.keys(c.flags));
      assert.equal(parse(['--help']).help, true);
      assert.deepEqual(parseFlags(command, c.flags, ['--help'], c.args)._, [], '--help needs no positional arguments');
    });

    it('defaults apply when no flag is given', () => {
      const f = parse([]);
      for (const [name, s] of Object.entries(c.flags)) assert.equal(f[name], s.default, `--${name}`);
      assert.deepEqual(f._, pos);
    });

    for (const [name, s] of Object.entries(c.flags)) {
      if (s.type === 'bool') {
        it(`--${name}: --${name}, --no-${name}, --${name}=true|false|1|0, --${name} true|false; other values are errors`, () => {
          const cases: [string[], boolean][] = [
            [[`--${name}`], true], [[`--no-${name}`], false], [[`--${name}=false`], false], [[`--${name}=true`], true],
            [[`--${name}=0`], false], [[`--${name}=1`], true], [[`--${name}`, 'false'], false], [[`--${name}`, 'true'], true],
            [[`--no-${name}`, `--${name}`], true], [[`--${name}`, 'false', `--${name}`], true],
          ];
          for (const [argv, want] of cases) {
            const f = parse(argv);
            assert.equal(f[name], want, argv.join(' '));
            assert.deepEqual(f._, pos, `${argv.join(' ')}: no stray positional`);
          }
          rejects(() => parse([`--${name}=maybe`]), new RegExp(`--${name} takes true or false, got 'maybe'`), `--${name}=maybe`);
          if (pos.length === 0) rejects(() => parse([`--${name}`, 'maybe']), new RegExp(`--${name} takes true or false, got 'maybe'`), `--${name} maybe`);
          rejects(() => parse([`--no-${name}=true`]), /unknown flag|does not take|takes true or false/, `--no-${name}=true`);
          rejects(() => parse([`-${name}`]), /two dashes/, `-${name}`);
        });
        continue;
      }
      it(`--${name} (${s.type}${s.choices ? ', choices' : ''}${s.min !== undefined ? `, min ${s.min}` : ''}): both value forms, bad values rejected`, () => {
        const [raw, value] = sample(s);
        assert.equal(parse([`--${name}`, raw])[name], value, `--${name} ${raw}`);
        assert.equal(parse([`--${name}=${raw}`])[name], value, `--${name}=${raw}`);
        rejects(() => parse([`--${name}`]), new RegExp(`--${name} needs a value`), `--${name} without a value`);
        rejects(() => parse([`--no-${name}`]), /unknown flag/, `--no-${name}`);
        rejects(() => parse([`-${name}`, raw]), /two dashes/, `-${name}`);
        for (const choice of s.choices ?? []) assert.equal(parse([`--${name}`, choice])[name], choice);
        if (s.choices) rejects(() => parse([`--${name}`, 'no-such-choice']), new RegExp(`--${name}: 'no-such-choice' is not one of`), 'bad choice');
        if (s.type === 'int') {
          rejects(() => parse([`--${name}`, '2.5']), new RegExp(`--${name} takes an integer, got '2.5'`), 'fraction');
          rejects(() => parse([`--${name}`, 'x']), new RegExp(`--${name} takes an integer`), 'word');
        }
        if (s.type === 'number') rejects(() => parse([`--${name}`, 'abc']), new RegExp(`--${name} takes a number, got 'abc'`), 'word');
        if (s.min !== undefined) { const below = s.min - 1; rejects(() => parse([`--${name}=${below}`]), new RegExp(`--${name} must be at least ${s.min}`), 'below min'); }
      });
    }

    it('unknown flags, single dashes, stray positionals and unlabelled negative numbers are one-line errors', () => {
      rejects(() => parse(['--no-such-flag']), new RegExp(`unknown flag --no-such-flag for 'fqt ${command}' \\(valid: --`), 'unknown flag');
      rejects(() => parse(['-x']), /two dashes/, 'single dash');
      rejects(() => parse(['stray', 'extra']), /takes (no positional arguments|one directory|an input and an output file)/, 'stray positionals');
      const numeric = Object.entries(c.flags).find(([, s]) => s.type === 'number' || s.type === 'int');
      if (numeric) rejects(() => parse([`--${numeric[0]}`, '-1']), /looks like a negative value: give it with '='/, 'negative value');
    });
  });
}

describe('the README cases', () => {
  const train = COMMANDS.train;
  const parse = (...argv: string[]) => parseFlags('train', train.flags, argv) as Record<string, unknown>;
  it('--nesterov false records false; --augment false --epochs 2 keeps parsing after the value', () => {
    assert.equal(parse('--nesterov', 'false').nesterov, false);
    const f = parse('--augment', 'false', '--epochs', '2');
    assert.deepEqual([f.augment, f.epochs, f._], [false, 2, []]);
  });
  it('the last of repeated flags wins; -- ends the flags', () => {
    assert.equal(parse('--epochs', '2', '--epochs', '3').epochs, 3);
    rejects(() => parse('--', '--epochs'), /takes no positional arguments/, 'after --');
  });
});
