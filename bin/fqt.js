#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli/main.ts into dist/ by `npm install` (prepare script).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    console.error('fqt: the compiled CLI is missing; run `npm install` (or `npm run build`) in the package folder first.');
  } else {
    console.error(`fqt: ${err && err.message ? err.message : err}`);
  }
  process.exit(1);
});
