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

/** One series of a band chart: a mean line and a shaded [lo, hi] band (e.g. min–max over seeds). */
export interface BandSeries {
  label: string;
  color: string;
  points: { x: number; mean: number; lo: number; hi: number }[];
}

export interface BandChartOptions {
  xTitle: string;
  yTitle: string;
  title?: string;
  logY?: boolean;
  /** Tick spacing on x (e.g. 1 for whole epochs). */
  xStep?: number;
}

/** '#1f77b4' → 'rgba(31,119,180,a)'. */
function withAlpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/**
 * A line chart on a linear x axis with one mean line per series and its band filled between two
 * invisible boundary datasets (Chart.js 'fill: "-1"' fills to the previous dataset). Boundary
 * datasets carry `fqtHideInLegend`, which the page's legend filter honours.
 */
export function bandChart(series: readonly BandSeries[], o: BandChartOptions): ChartConfig {
  const datasets = series.flatMap((s) => {
    const pts = (k: 'mean' | 'lo' | 'hi') => s.points.map((p) => ({ x: p.x, y: p[k] }));
    const edge = { borderWidth: 0, pointRadius: 0, pointHitRadius: 0, fqtHideInLegend: true };
    return [
      { label: s.label, data: pts('mean'), borderColor: s.color, backgroundColor: s.color, fill: false, pointRadius: s.points.length > 30 ? 0 : 3, borderWidth: 2 },
      { label: `${s.label} low`, data: pts('lo'), fill: false, ...edge },
      { label: `${s.label} high`, data: pts('hi'), fill: '-1', backgroundColor: withAlpha(s.color, 0.18), ...edge },
    ];
  });
  return {
    type: 'line',
    data: { datasets },
    options: {
      plugins: { title: o.title ? { display: true, text: o.title } : { display: false } },
      scales: {
        x: { type: 'linear', title: { display: true, text: o.xTitle }, ...(o.xStep ? { ticks: { stepSize: o.xStep } } : {}) },
        y: { type: o.logY ? 'logarithmic' : 'linear', title: { display: true, text: o.yTitle } },
      },
    },
  };
}

export interface Report {
  title: string;
  subtitle?: string;
  /** Where the numbers were measured (train/environment.ts environmentLine): every report says it. */
  environment: string[];
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
.env{color:#666;font-size:.9em}.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{width:520px;height:320px;position:relative}
</style></head><body>
<h1>${escapeHtml(r.title)}</h1>${r.subtitle ? `<p class="sub">${escapeHtml(r.subtitle)}</p>` : ''}
<p class="env">${r.environment.map((l) => escapeHtml(`Environment: ${l}`)).join('<br>')}</p>
${sections}
<script>${chartJs()}</script>
<script>
const configs = ${scriptJson(charts)};
window.fqtChartsRendered = 0;
configs.forEach((cfg, i) => {
  cfg.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, cfg.options || {});
  // Datasets marked fqtHideInLegend (band edges) stay out of the legend.
  const plugins = cfg.options.plugins = cfg.options.plugins || {};
  const legend = plugins.legend = plugins.legend || {};
  const labels = legend.labels = legend.labels || {};
  labels.filter = (item, data) => !data.datasets[item.datasetIndex].fqtHideInLegend;
  new Chart(document.getElementById('chart-' + i), cfg);
  window.fqtChartsRendered++;
});
</script>
</body></html>
`;
}
