/** `fqt info`: version, backend (and why native is not active), threads. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import { backend, backendNotice } from '../backend/index.js';
import { parseFlags, usage, type FlagSpecs } from './args.js';

const INFO_FLAGS = {
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

export function packageVersion(): string {
  const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'package.json');
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

export function infoCommand(argv: string[]): number {
  const f = parseFlags('info', INFO_FLAGS, argv);
  if (f.help) {
    process.stdout.write(usage('info', 'show the version, backend and threads', INFO_FLAGS));
    return 0;
  }
  const notice = backendNotice();
  const b = backend();
  const lines = [
    `fqt ${packageVersion()} (node ${process.version}, ${os.cpus().length} cores)`,
    `backend: ${b.name} — ${b.description}`,
  ];
  if (notice) lines.push(`note: ${notice.replace(/^fqt: /, '')}`);
  lines.push(`threads: ${process.env.FQT_THREADS ?? (b.name === 'ref' ? '1 (reference backend is single-threaded)' : `${os.cpus().length} (default: all cores)`)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
