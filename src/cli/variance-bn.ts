/**
 * The BatchNorm part of `fqt variance` (METHODS §4.1 measured with §1.7): per BN layer γ/σ statistics, the
 * noise-to-signal ratio of the FQT gradient after (output) and before (input) the layer, the measured noise
 * gain against the white-noise prediction (γ/σ)²(1 − 2/m), and explosion warnings. Table and HTML sections.
 */
import type { BnNoiseReport } from '../stats/bn-noise.js';
import type { ReportSection } from '../report/html.js';
import { textTable } from '../report/results.js';
import { BN_RECTIFY_NAME } from '../quant/addons/bn-rectify.js';

const num = (v: number | null, digits = 3): string => (v === null ? '–' : Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toFixed(digits));

export function formatBnTable(reports: readonly BnNoiseReport[]): string {
  const header = ['recipe', 'BN layer', 'C', '|γ|/σ mean', 'max', '(γ/σ)²>1', 'NSR out', 'NSR in', 'NSR ×', 'noise gain', 'predicted', 'grad RMS in'];
  const rows = reports.flatMap((r) => r.layers.map((l) => [
    r.recipe, l.layer, String(l.channels), num(l.gammaSigma.mean), num(l.gammaSigma.max), `${(100 * l.gammaSigma.amplifying).toFixed(0)}%`,
    num(l.nsrOut), num(l.nsrIn), num(l.nsrGain, 2), num(l.noiseGain), num(l.predictedNoiseGain), l.fqtRmsIn.toExponential(2),
  ]));
  return textTable(header, rows, 2) +
    '\n(NSR = E‖g_FQT − g_QAT‖² / ‖g_QAT‖² at the BN output (out) and input (in); NSR × = in/out; noise gain = E‖n_in‖²/E‖n_out‖², ' +
    'predicted for white noise: Σ_c (γ/σ)²(1 − 2/m)·N_c / Σ_c N_c)\n';
}

export function bnWarningLines(reports: readonly BnNoiseReport[]): string[] {
  return reports.flatMap((r) => r.warnings.map((w) => `${r.recipe}: ${w.message}`));
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function bnHtmlSections(reports: readonly BnNoiseReport[]): ReportSection[] {
  return reports.map((r, ri) => ({
    heading: `BatchNorm noise amplification: ${r.recipe}`,
    text: `Per BN layer (forward order; the last is nearest the loss): |γ|/σ, and the noise-to-signal ratio of the FQT gradient after the layer ` +
      `(its output gradient) and before it (its input gradient), from ${r.draws} FQT draws against ${r.qatRecipe} (METHODS §4.1, §1.7). ` +
      `The ${BN_RECTIFY_NAME} add-on penalizes (γ/σ)². ` +
      (r.warnings.length ? `Warnings: ${r.warnings.map((w) => w.message).join(' | ')}` : 'No explosion warnings.'),
    charts: [{
      type: 'bar',
      data: {
        labels: r.layers.map((l) => l.layer),
        datasets: [
          { label: 'NSR after BN (output gradient)', data: r.layers.map((l) => l.nsrOut), backgroundColor: '#999' },
          { label: 'NSR before BN (input gradient)', data: r.layers.map((l) => l.nsrIn), backgroundColor: COLORS[ri % COLORS.length] },
        ],
      },
      options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'noise / signal' } } } },
    }, {
      type: 'line',
      data: {
        labels: r.layers.map((l) => l.layer),
        datasets: [
          { label: 'mean |γ|/σ', data: r.layers.map((l) => l.gammaSigma.mean), borderColor: COLORS[0], fill: false },
          { label: 'max |γ|/σ', data: r.layers.map((l) => l.gammaSigma.max), borderColor: COLORS[1], fill: false },
          { label: 'noise gain (measured)', data: r.layers.map((l) => l.noiseGain), borderColor: COLORS[2], fill: false },
          { label: 'noise gain (white-noise prediction)', data: r.layers.map((l) => l.predictedNoiseGain), borderColor: COLORS[2], borderDash: [4, 4], fill: false },
        ],
      },
      options: { scales: { y: { type: 'logarithmic' } } },
    }],
    table: {
      columns: ['BN layer', 'C', 'mean |γ|/σ', 'max |γ|/σ', '(γ/σ)²>1', 'NSR out', 'NSR in', 'NSR ×', 'noise gain', 'predicted', 'grad RMS in'],
      rows: r.layers.map((l) => [l.layer, l.channels, l.gammaSigma.mean, l.gammaSigma.max, l.gammaSigma.amplifying, l.nsrOut, l.nsrIn, l.nsrGain, l.noiseGain, l.predictedNoiseGain, l.fqtRmsIn]),
    },
  }));
}
