/**
 * Merge of per-process snapshots (main + workers) into the one view the admin shows:
 * counters and gauges are summed (Envoy's "Accumulate" gauges), histograms merged bucket by
 * bucket (count and sum added, min and max kept), "used" is the union.
 */

import type { HistogramSnapshot, StatsSnapshot } from '../../api/stats.js';

function addInto(target: Record<string, number>, source: Record<string, number>): void {
  for (const name of Object.keys(source)) {
    target[name] = (target[name] ?? 0) + source[name]!;
  }
}

function cloneHistogram(h: HistogramSnapshot): HistogramSnapshot {
  const out: HistogramSnapshot = { unit: h.unit, buckets: h.buckets.slice(), count: h.count, sum: h.sum };
  if (h.min !== undefined) out.min = h.min;
  if (h.max !== undefined) out.max = h.max;
  return out;
}

function mergeHistogramInto(target: HistogramSnapshot, source: HistogramSnapshot): void {
  const n = Math.max(target.buckets.length, source.buckets.length);
  for (let i = 0; i < n; i++) {
    target.buckets[i] = (target.buckets[i] ?? 0) + (source.buckets[i] ?? 0);
  }
  target.count += source.count;
  target.sum += source.sum;
  if (source.min !== undefined) target.min = target.min === undefined ? source.min : Math.min(target.min, source.min);
  if (source.max !== undefined) target.max = target.max === undefined ? source.max : Math.max(target.max, source.max);
}

/** Returns a new snapshot; the inputs are not modified. */
export function mergeSnapshots(snapshots: StatsSnapshot[]): StatsSnapshot {
  const counters: Record<string, number> = {};
  const gauges: Record<string, number> = {};
  const histograms: Record<string, HistogramSnapshot> = {};
  const used = new Set<string>();
  for (const s of snapshots) {
    addInto(counters, s.counters);
    addInto(gauges, s.gauges);
    for (const name of Object.keys(s.histograms)) {
      const h = s.histograms[name]!;
      const existing = histograms[name];
      if (existing === undefined) histograms[name] = cloneHistogram(h);
      else mergeHistogramInto(existing, h);
    }
    for (const name of s.used) used.add(name);
  }
  return { counters, gauges, histograms, used: [...used].sort() };
}
