/**
 * The `fqt` command. Every user error (FqtError) prints one line naming the problem and exits 1;
 * anything else prints one line too, with the stack only under FQT_DEBUG=1.
 */
import { FqtError } from '../tensor/errors.js';
import { resumeCommand, TrainingInterrupted } from '../train/signals.js';
import type { FlagSpecs, Positionals } from './args.js';
import { INFO_FLAGS, infoCommand } from './info.js';
import { TRAIN_FLAGS, trainCommand } from './train.js';
import { VARIANCE_COMMAND_FLAGS, varianceCommand } from './variance.js';
import { COMPARE_FLAGS, compareCommand } from './compare.js';
import { REPORT_ARGS, REPORT_FLAGS, reportCommand } from './report.js';
import { CONVERT_ARGS, CONVERT_FLAGS, convertCommand } from './convert.js';
import { SAMPLE_FLAGS, sampleCommand } from './sample.js';

export interface Command {
  /** The exit code; a Promise for commands that wait on other processes (fqt train --workers). */
  run: (argv: string[]) => number | Promise<number>;
  summary: string;
  /** The command's flag declarations (the parser tests walk them all). */
  flags: FlagSpecs;
  args?: Positionals;
}

export const COMMANDS: Record<string, Command> = {
  train: { run: trainCommand, summary: 'train a model (fp32 or with a quantization recipe)', flags: TRAIN_FLAGS },
  compare: { run: compareCommand, summary: 'train several recipes × seeds and write a comparison report (HTML, JSON, CSV)', flags: COMPARE_FLAGS },
  report: { run: reportCommand, summary: 'rebuild the comparison report of saved runs without training', flags: REPORT_FLAGS, args: REPORT_ARGS },
  variance: { run: varianceCommand, summary: 'per-layer bias, quantization and sampling variance of FQT gradients', flags: VARIANCE_COMMAND_FLAGS },
  convert: { run: convertCommand, summary: 'convert a safetensors weights file between PyTorch and fqt names and dtypes', flags: CONVERT_FLAGS, args: CONVERT_ARGS },
  sample: { run: sampleCommand, summary: 'generate text from a language-model checkpoint (gpt-tiny)', flags: SAMPLE_FLAGS },
  info: { run: infoCommand, summary: 'show the version, backend and threads', flags: INFO_FLAGS },
};

function help(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  fqt ${name.padEnd(10)} ${c.summary}`);
  return `fqt: fully quantized training for Node.js\n\n${rows.join('\n')}\n\nRun 'fqt COMMAND --help' for the flags of a command.\n`;
}

export function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(help());
    return;
  }
  const c = COMMANDS[command];
  if (!c) {
    process.stderr.write(`fqt: unknown command '${command}' (valid: ${Object.keys(COMMANDS).join(', ')})\n`);
    process.exitCode = 1;
    return;
  }
  try {
    const code = c.run(rest);
    if (typeof code === 'number') process.exitCode = code;
    else code.then((n) => { process.exitCode = n; }, (err) => fail(command, rest, err));
  } catch (err) {
    fail(command, rest, err);
  }
}

function fail(command: string, rest: string[], err: unknown): void {
  // On a terminal the progress bar may own the current line; start the error on a fresh one.
  const lead = process.stderr.isTTY ? '\n' : '';
  if (err instanceof TrainingInterrupted) {
    process.stderr.write(`${lead}fqt ${command}: ${err.message}\nresume with: ${resumeCommand(command, rest)}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  if (err instanceof FqtError) {
    process.stderr.write(`${lead}fqt ${command}: ${err.message}\n`);
  } else {
    const e = err as Error;
    process.stderr.write(`${lead}fqt ${command}: internal error: ${e?.message ?? String(err)}${process.env.FQT_DEBUG === '1' ? `\n${e?.stack ?? ''}` : ' (set FQT_DEBUG=1 for the stack)'}\n`);
  }
  process.exitCode = 1;
}
