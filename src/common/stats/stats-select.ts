/**
 * What the admin's /stats formats share: the choice of stats by the query (`?filter=`,
 * `?usedonly`, plus stats_config's matcher already applied upstream), their order, and how
 * numbers print.
 */
import type { HistogramSnapshot, StatsSnapshot } from '../../api/stats.js';
import type { TagProducer } from './tag-extractor.js';

/** A regex searched in a stat name: an RE2 regex (admin input) or a RegExp (code). */
export interface StatNameFilter {
  test(name: string): boolean;
}

export interface StatsFormatOptions {
  /** Only stats whose full name matches (search, not full match). */
  filter?: StatNameFilter;
  /** Only stats that were touched at least once. */
  usedOnly?: boolean;
  /** Prometheus: the tag extraction of stats_config (default: Envoy's default tags). */
  tags?: TagProducer;
}

export type NamePredicate = (name: string) => boolean;

export function selector(snapshot: StatsSnapshot, options: StatsFormatOptions): NamePredicate {
  const used = options.usedOnly ? new Set(snapshot.used) : undefined;
  let re = options.filter;
  // A /g or /y RegExp keeps state between test() calls; use a stateless copy.
  if (re instanceof RegExp && (re.global || re.sticky)) re = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  return (name) => (used === undefined || used.has(name)) && (re === undefined || re.test(name));
}

export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counters and gauges together, sorted by name. */
export function selectedNumericStats(snapshot: StatsSnapshot, show: NamePredicate): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const name of Object.keys(snapshot.counters)) if (show(name)) out.push([name, snapshot.counters[name]!]);
  for (const name of Object.keys(snapshot.gauges)) if (show(name)) out.push([name, snapshot.gauges[name]!]);
  out.sort((a, b) => byName(a[0], b[0]));
  return out;
}

export function selectedHistograms(snapshot: StatsSnapshot, show: NamePredicate): Array<[string, HistogramSnapshot]> {
  const out: Array<[string, HistogramSnapshot]> = [];
  for (const name of Object.keys(snapshot.histograms)) if (show(name)) out.push([name, snapshot.histograms[name]!]);
  out.sort((a, b) => byName(a[0], b[0]));
  return out;
}

/**
 * `v` without the last-digit noise of binary floating point (0.1 + 0.2 is 0.30000000000000004):
 * 15 significant digits is what a double holds exactly, so rounding there only drops noise.
 */
export function withoutFloatNoise(v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(15)) : v;
}

/**
 * A double as fmt's `{}` prints it (what Envoy uses in histogram summaries): shortest
 * round-trip digits, fixed notation for exponents in [-4, 16), else `1.5e+16` / `1e-05`;
 * NaN is `nan`.
 */
export function formatDouble(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(v);
}
