/**
 * The admin output formats of Envoy's /stats, rendered from a (merged) StatsSnapshot:
 *   - text        GET /stats
 *   - json        GET /stats?format=json
 *   - prometheus  GET /stats/prometheus (text exposition format 0.0.4)
 * Options mirror the query parameters: `filter` (Envoy's ?filter=, a regex searched anywhere in
 * the full stat name) and `usedOnly` (?usedonly). Prometheus lives in prometheus-format.ts.
 */

import type { HistogramSnapshot, StatsSnapshot } from '../../api/stats.js';
import { SUPPORTED_QUANTILE_PERCENTS, computeQuantiles } from './histogram-quantiles.js';
import { formatStatsPrometheus } from './prometheus-format.js';
import { formatDouble, selectedHistograms, selectedNumericStats, selector, type StatsFormatOptions } from './stats-select.js';

export type { StatNameFilter, StatsFormatOptions } from './stats-select.js';
export { formatDouble } from './stats-select.js';

export type StatsFormat = 'text' | 'json' | 'prometheus';

export function formatStats(snapshot: StatsSnapshot, format: StatsFormat, options: StatsFormatOptions = {}): string {
  switch (format) {
    case 'text':
      return formatStatsText(snapshot, options);
    case 'json':
      return formatStatsJson(snapshot, options);
    case 'prometheus':
      return formatStatsPrometheus(snapshot, options);
  }
}

// ---------------------------------------------------------------------------------------------
// text

/**
 * `name: value` lines for counters and gauges (sorted together by name), then histograms
 * (sorted): `name: P0(nan,1) P25(nan,2.5) ...` — the interval value is always `nan` since only
 * cumulative data exists — or `name: No recorded values` when the histogram is empty.
 */
export function formatStatsText(snapshot: StatsSnapshot, options: StatsFormatOptions = {}): string {
  const show = selector(snapshot, options);
  let out = '';
  for (const [name, value] of selectedNumericStats(snapshot, show)) out += `${name}: ${value}\n`;
  for (const [name, h] of selectedHistograms(snapshot, show)) {
    out += `${name}: ${histogramSummary(h)}\n`;
  }
  return out;
}

/** Envoy's ParentHistogram::quantileSummary(), with interval values unknown ("nan"). */
export function histogramSummary(h: HistogramSnapshot): string {
  if (!(h.count > 0)) return 'No recorded values';
  const values = computeQuantiles(h);
  return SUPPORTED_QUANTILE_PERCENTS.map((p, i) => `P${p}(nan,${formatDouble(values[i]!)})`).join(' ');
}

// ---------------------------------------------------------------------------------------------
// json

export interface StatsJsonQuantileValue {
  interval: number | null;
  cumulative: number | null;
}

export interface StatsJsonHistograms {
  histograms: {
    supported_quantiles: number[];
    computed_quantiles: Array<{ name: string; values: StatsJsonQuantileValue[] }>;
  };
}

export interface StatsJson {
  stats: Array<{ name: string; value: number } | StatsJsonHistograms>;
}

/**
 * Envoy's /stats?format=json document: `{"stats":[{"name","value"}..., {"histograms":{...}}]}`.
 * The histograms element is present only when at least one histogram is selected; quantiles
 * of an empty histogram (and every interval value) are null.
 */
export function statsJson(snapshot: StatsSnapshot, options: StatsFormatOptions = {}): StatsJson {
  const show = selector(snapshot, options);
  const stats: StatsJson['stats'] = selectedNumericStats(snapshot, show).map(([name, value]) => ({ name, value }));
  const histograms = selectedHistograms(snapshot, show);
  if (histograms.length > 0) {
    stats.push({
      histograms: {
        supported_quantiles: [...SUPPORTED_QUANTILE_PERCENTS],
        computed_quantiles: histograms.map(([name, h]) => ({
          name,
          values: computeQuantiles(h).map((v) => ({
            interval: null,
            cumulative: Number.isFinite(v) ? v : null,
          })),
        })),
      },
    });
  }
  return { stats };
}

export function formatStatsJson(snapshot: StatsSnapshot, options: StatsFormatOptions = {}): string {
  return JSON.stringify(statsJson(snapshot, options));
}
