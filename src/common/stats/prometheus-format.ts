/**
 * GET /stats/prometheus (and /stats?format=prometheus): text exposition format 0.0.4, written
 * as Envoy's PrometheusStatsFormatter writes it (source/server/admin/prometheus_stats.cc):
 *   - metric name: `envoy_` + the tag-extracted name with every character outside
 *     [a-zA-Z0-9_] turned into `_`; labels are the tags (names sanitised the same way, values
 *     escaped: backslash, double quote, newline);
 *   - counters, then gauges, then histograms; within each, families sorted by name, one
 *     `# TYPE` line per family (Envoy prints no `# HELP`), series sorted by stat name, `{}`
 *     printed even without labels;
 *   - histograms: cumulative `_bucket{le="..."}` for each bound, `le="+Inf"`, `_sum`, `_count`.
 * A family name already written with another type is skipped: one TYPE per name.
 */
import { DEFAULT_HISTOGRAM_BUCKETS, type StatsSnapshot } from '../../api/stats.js';
import { TagProducer, type Tag } from './tag-extractor.js';
import { byName, selector, withoutFloatNoise, type StatsFormatOptions } from './stats-select.js';

export interface PrometheusMetricName {
  /** `envoy_` + the tag-extracted name, sanitised to [a-zA-Z0-9_]. */
  name: string;
  /** Label name/value pairs, in extraction order (label names already sanitised). */
  labels: Array<[string, string]>;
}

let defaultTags: TagProducer | undefined;

function producer(options: StatsFormatOptions): TagProducer {
  return options.tags ?? (defaultTags ??= new TagProducer());
}

function sanitizeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * The Prometheus metric name and labels of a stat, e.g. `cluster.backend.upstream_cx_total`
 * -> `envoy_cluster_upstream_cx_total` with `envoy_cluster_name="backend"`.
 */
export function prometheusMetricName(statName: string, tags: TagProducer = producer({})): PrometheusMetricName {
  const extracted = tags.produce(statName);
  return {
    name: `envoy_${sanitizeName(extracted.name)}`,
    labels: extracted.tags.map(([k, v]: Tag): [string, string] => [sanitizeName(k), v]),
  };
}

/** A sample value. */
function promNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(withoutFloatNoise(v));
}

interface PromSeries {
  statName: string;
  labels: string;
}

function formatLabels(labels: Array<[string, string]>): string {
  return labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

/** Groups selected names by metric family, families sorted by name, series by stat name. */
function families(names: string[], tags: TagProducer): Array<[string, PromSeries[]]> {
  const groups = new Map<string, PromSeries[]>();
  for (const statName of names) {
    const { name, labels } = prometheusMetricName(statName, tags);
    let group = groups.get(name);
    if (group === undefined) groups.set(name, (group = []));
    group.push({ statName, labels: formatLabels(labels) });
  }
  const sorted = [...groups.entries()].sort((a, b) => byName(a[0], b[0]));
  for (const [, series] of sorted) series.sort((a, b) => byName(a.statName, b.statName));
  return sorted;
}

export function formatStatsPrometheus(snapshot: StatsSnapshot, options: StatsFormatOptions = {}): string {
  const show = selector(snapshot, options);
  const tags = producer(options);
  const emitted = new Set<string>();
  let out = '';

  const numeric = (values: Record<string, number>, type: 'counter' | 'gauge'): void => {
    for (const [family, series] of families(Object.keys(values).filter(show), tags)) {
      if (emitted.has(family)) continue;
      emitted.add(family);
      out += `# TYPE ${family} ${type}\n`;
      for (const s of series) out += `${family}{${s.labels}} ${promNumber(values[s.statName]!)}\n`;
    }
  };
  numeric(snapshot.counters, 'counter');
  numeric(snapshot.gauges, 'gauge');

  const bounds = DEFAULT_HISTOGRAM_BUCKETS;
  for (const [family, series] of families(Object.keys(snapshot.histograms).filter(show), tags)) {
    if (emitted.has(family)) continue;
    emitted.add(family);
    out += `# TYPE ${family} histogram\n`;
    for (const s of series) {
      const h = snapshot.histograms[s.statName]!;
      const bucketLabels = s.labels === '' ? '' : `${s.labels},`;
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) {
        cumulative += h.buckets[i] ?? 0;
        out += `${family}_bucket{${bucketLabels}le="${bounds[i]}"} ${cumulative}\n`;
      }
      out += `${family}_bucket{${bucketLabels}le="+Inf"} ${h.count}\n`;
      out += `${family}_sum{${s.labels}} ${promNumber(h.sum)}\n`;
      out += `${family}_count{${s.labels}} ${h.count}\n`;
    }
  }
  return out;
}
