#!/usr/bin/env node
/**
 * Browser check of an HTML report (not part of `npm test`): opens the file offline in headless
 * Chromium, waits until every chart is drawn (html.ts counts them in window.fqtChartsRendered), checks
 * that each canvas has non-blank pixels and that the page logged no console errors, and saves a
 * full-page screenshot.
 *
 *   npm run test:browser [-- REPORT.html]     (without a path: a 1-epoch LeNet compare is generated first)
 *   CHROMIUM=/path/to/chromium                (default /usr/bin/chromium)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

function fail(message) {
  console.error(`test:browser: FAIL: ${message}`);
  process.exit(1);
}

if (!existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (install the Debian package 'chromium' or set CHROMIUM=/path/to/chromium)`);
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  fail("playwright-core is not installed (run 'npm install' in the package folder; it is a devDependency)");
}

let report = process.argv[2];
if (!report) {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-browser-'));
  console.log(`test:browser: generating a report in ${out} (1-epoch LeNet compare, 2 recipes × 2 seeds, with --variance)`);
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'fqt.js'), 'compare', '--model', 'lenet', '--recipes', 'fp32,psq4',
    '--seeds', '1,2', '--epochs', '1', '--train-limit', '512', '--test-limit', '256', '--variance', '--quiet', '--out', out], { stdio: 'inherit' });
  if (r.status !== 0) fail(`fqt compare exited with ${r.status}`);
  report = path.join(out, 'report.html');
}
if (!existsSync(report)) fail(`${report} does not exist`);

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, offline: true });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (req) => errors.push(`request failed: ${req.url()}`));
  await page.goto(pathToFileURL(path.resolve(report)).href, { waitUntil: 'load' });
  const canvases = await page.locator('canvas[data-chart]').count();
  await page.waitForFunction((n) => window.fqtChartsRendered === n, canvases, { timeout: 10_000 })
    .catch(() => problems.push('not every chart was rendered (window.fqtChartsRendered never reached the canvas count)'));
  const rendered = await page.evaluate(() => window.fqtChartsRendered);
  // A canvas counts as drawn when some pixel is not fully transparent.
  const painted = await page.evaluate(() => [...document.querySelectorAll('canvas[data-chart]')].map((c) => {
    const { width, height } = c;
    if (!width || !height) return 0;
    const px = c.getContext('2d').getImageData(0, 0, width, height).data;
    let n = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) n++;
    return n;
  }));
  painted.forEach((n, i) => { if (n === 0) problems.push(`chart ${i} is blank`); });
  if (canvases === 0) problems.push('the report has no charts');
  for (const e of errors) problems.push(`console: ${e}`);
  const shot = path.join(path.dirname(path.resolve(report)), 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`test:browser: ${rendered}/${canvases} charts rendered, painted pixels per chart: ${painted.join(', ')}`);
  console.log(`test:browser: screenshot ${shot}`);
} finally {
  await browser.close();
}
if (problems.length) fail(problems.join('\n  '));
console.log('test:browser: OK');
