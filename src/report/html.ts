/**
 * Self-contained HTML reports: tables plus charts drawn by Chart.js, whose UMD build is embedded
 * into the file, so a report opens offline with nothing beside it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface ReportTable {
  columns: string[];
  rows: (string | number | null)[][];
}

/** A Chart.js configuration (type, data, options) as plain JSON. */
export type ChartConfig = Record<string, unknown>;

export interface ReportSection {
  heading: string;
  text?: string;
  table?: ReportTable;
  charts?: ChartConfig[];
}

export interface Report {
  title: string;
  subtitle?: string;
  sections: ReportSection[];
}

let chartJsSource: string | null = null;

function chartJs(): string {
  if (chartJsSource === null) {
    // The package's exports hide dist/chart.umd.js; it sits beside the CommonJS entry (dist/chart.cjs).
    const entry = createRequire(import.meta.url).resolve('chart.js');
    chartJsSource = readFileSync(path.join(path.dirname(entry), 'chart.umd.js'), 'utf8');
  }
  return chartJsSource;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmtCell(v: string | number | null): string {
  if (v === null) return '–';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    return Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : String(Math.round(v * 1e4) / 1e4);
  }
  return escapeHtml(v);
}

function tableHtml(t: ReportTable): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows.map((r) => `<tr>${r.map((v) => `<td>${fmtCell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** JSON for a <script> block: '<' escaped so no string can close the script element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c');
}

export function renderReport(r: Report): string {
  const charts: ChartConfig[] = [];
  const sections = r.sections.map((s) => {
    const canvases = (s.charts ?? []).map((c) => {
      charts.push(c);
      return `<div class="chart"><canvas id="chart-${charts.length - 1}" data-chart></canvas></div>`;
    }).join('\n');
    return `<section><h2>${escapeHtml(s.heading)}</h2>${s.text ? `<p>${escapeHtml(s.text)}</p>` : ''}` +
      `${s.table ? tableHtml(s.table) : ''}<div class="charts">${canvases}</div></section>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:1em 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{width:520px;height:320px;position:relative}
</style></head><body>
<h1>${escapeHtml(r.title)}</h1>${r.subtitle ? `<p class="sub">${escapeHtml(r.subtitle)}</p>` : ''}
${sections}
<script>${chartJs()}</script>
<script>
const configs = ${scriptJson(charts)};
window.fqtChartsRendered = 0;
configs.forEach((cfg, i) => {
  cfg.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, cfg.options || {});
  new Chart(document.getElementById('chart-' + i), cfg);
  window.fqtChartsRendered++;
});
</script>
</body></html>
`;
}
