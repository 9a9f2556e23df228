/**
 * The admin output formats of Envoy's /stats, rendered from a (merged) StatsSnapshot:
 *   - text        GET /stats
 *   - json        GET /stats?format=json
 *   - prometheus  GET /stats/prometheus (text exposition format 0.0.4)
 * Options mirror the query parameters: `filter` (Envoy's ?filter=, a regex searched anywhere in
 * the full stat name) and `usedOnly` (?usedonly).
 */

import { DEFAULT_HISTOGRAM_BUCKETS, type HistogramSnapshot, type StatsSnapshot } from '../../api/stats.js';
import { SUPPORTED_QUANTILE_PERCENTS, computeQuantiles } from './histogram-quantiles.js';

/** A regex searched in a stat name: an RE2 regex (admin input) or a RegExp (code). */
export interface StatNameFilter {
  test(name: string): boolean;
}

export interface StatsFormatOptions {
  /** Only stats whose full name matches (search, not full match). */
  filter?: StatNameFilter;
  /** Only stats that were touched at least once. */
  usedOnly?: boolean;
}

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
// Selection

type NamePredicate = (name: string) => boolean;

function selector(snapshot: StatsSnapshot, options: StatsFormatOptions): NamePredicate {
  const used = options.usedOnly ? new Set(snapshot.used) : undefined;
  let re = options.filter;
  // A /g or /y RegExp keeps state between test() calls; use a stateless copy.
  if (re instanceof RegExp && (re.global || re.sticky)) re = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  return (name) => (used === undefined || used.has(name)) && (re === undefined || re.test(name));
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counters and gauges together, sorted by name. */
function selectedNumericStats(snapshot: StatsSnapshot, show: NamePredicate): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const name of Object.keys(snapshot.counters)) if (show(name)) out.push([name, snapshot.counters[name]!]);
  for (const name of Object.keys(snapshot.gauges)) if (show(name)) out.push([name, snapshot.gauges[name]!]);
  out.sort((a, b) => byName(a[0], b[0]));
  return out;
}

function selectedHistograms(snapshot: StatsSnapshot, show: NamePredicate): Array<[string, HistogramSnapshot]> {
  const out: Array<[string, HistogramSnapshot]> = [];
  for (const name of Object.keys(snapshot.histograms)) if (show(name)) out.push([name, snapshot.histograms[name]!]);
  out.sort((a, b) => byName(a[0], b[0]));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Number formatting

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

/** A sample value for the Prometheus text format. */
function promNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
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

// ---------------------------------------------------------------------------------------------
// prometheus: tag extraction (Envoy's well_known_names, for the prefixes Courier uses)

export interface PrometheusMetricName {
  /** `envoy_` + the tag-extracted name, sanitised to [a-zA-Z0-9_]. */
  name: string;
  /** Label name/value pairs, in extraction order (label names already sanitised). */
  labels: Array<[string, string]>;
}

interface Extraction {
  tags: Array<[string, string]>;
  /** [start, end) ranges of the stat name removed from the tag-extracted name. */
  removals: Array<[number, number]>;
}

/** First-token prefixes whose second token is the tag value (Envoy's `<prefix>.$.**`). The
 *  dubbo and meta_protocol tags are Courier's own: Envoy has no well-known tag for them. */
const SINGLE_TOKEN_TAGS: ReadonlyMap<string, string> = new Map([
  ['tcp', 'envoy.tcp_prefix'],
  ['udp', 'envoy.udp_prefix'],
  ['thrift', 'envoy.thrift_prefix'],
  ['redis', 'envoy.redis_prefix'],
  ['dubbo', 'envoy.dubbo_prefix'],
  ['meta_protocol', 'envoy.meta_protocol_prefix'],
]);

/** An IPv4 or bracketed IPv6 address plus `_port`, as in listener stat names. Envoy's stat
 *  names turn ':' into '_' (`[__1]_80`); a raw `[::1]_80` is accepted as well. */
const ADDRESS = String.raw`(?:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[[a-fA-F\d_:]+\])_\d+`;
const TAG_VALUE = String.raw`[^.]+`;

const RESPONSE_CODE_RE = /_rq(_(\d{3}))$/;
const RESPONSE_CODE_CLASS_RE = /_rq_(\d)xx$/;
const HTTP_PREFIX_RE = /^http\.([^.]+)\.(?=.)/;
const RDS_RE = /^http\.[^.]+\.rds\.([\w\-.]+)\.\w+$/;  // route config names may contain dots
const LISTENER_HTTP_RE = /^listener\..*?\.http\.([^.]+)\.(?=.)/;
const LISTENER_WORKER_RE = new RegExp(String.raw`^listener\.(?:${ADDRESS}|${TAG_VALUE})\.worker_(\d+)\.(?=.)`);
const SERVER_WORKER_RE = /^(?:server|listener_manager)\.worker_(\d+)\.(?=.)/;
const LISTENER_ADDRESS_RE = new RegExp(String.raw`^listener\.(${ADDRESS}|${TAG_VALUE})\.(?=.)`);

/**
 * What a cluster's stat name (the part after `cluster.<cluster_name>.`) may look like. Envoy
 * takes the cluster name to be one dot-free token; cluster names here can contain dots
 * (`outbound|80||svc.ns.svc.cluster.local`), so the cluster name is instead everything before
 * the LONGEST suffix that matches one of these known cluster stat shapes (all segments
 * [a-z0-9_], first one starting with a known root: upstream_, membership_, lb_, update_,
 * circuit_breakers.<priority>., outlier_detection., health_check., ...). When no suffix
 * matches, Envoy's rule (first token) applies.
 */
const CLUSTER_STAT_RE = new RegExp(
  '^(?:' +
    [
      String.raw`(?:(?:internal|external|canary)\.)?(?:upstream_|membership_|lb_|update_)[a-z0-9_]*`,
      'max_host_weight',
      'version(?:_text)?',
      'bind_errors',
      'assignment_[a-z0-9_]+',
      'original_dst_[a-z0-9_]+',
      'retry_or_shadow_abandoned',
      'init_fetch_timeout',
      String.raw`circuit_breakers\.[a-z0-9_]+\.[a-z0-9_]+`,
      String.raw`outlier_detection\.[a-z0-9_]+`,
      String.raw`health_check\.[a-z0-9_]+`,
      String.raw`default\.total_match_count`,
      String.raw`(?:ssl|http1|http2|http3)\.[a-z0-9_]+`,
    ].join('|') +
    ')$',
);

/** Start/end (exclusive) of the cluster name within `name` (which starts with "cluster."). */
function clusterNameSpan(name: string): [number, number] | undefined {
  const start = 'cluster.'.length;
  const rest = name.slice(start);
  // Longest suffix first: candidate split points are the dots of `rest`, left to right.
  for (let dot = rest.indexOf('.'); dot > 0; dot = rest.indexOf('.', dot + 1)) {
    if (CLUSTER_STAT_RE.test(rest.slice(dot + 1))) return [start, start + dot];
  }
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot === rest.length - 1) return undefined;
  return [start, start + dot];
}

/** Tag `tagName` = group 1 of `m` and remove group 1 plus the dot that follows it. */
function tagGroupAndDot(ex: Extraction, tagName: string, m: RegExpExecArray, groupStart: number): void {
  const value = m[1]!;
  ex.tags.push([tagName, value]);
  ex.removals.push([groupStart, groupStart + value.length + 1]);
}

function lastSegmentLength(name: string): number {
  return name.length - name.lastIndexOf('.') - 1;
}

function extractTags(name: string): Extraction {
  const ex: Extraction = { tags: [], removals: [] };

  // Extractors without a prefix token (they apply to any stat name).
  let m = RESPONSE_CODE_RE.exec(name);
  if (m) {
    // upstream_rq_200 -> upstream_rq {envoy_response_code="200"}
    ex.tags.push(['envoy.response_code', m[2]!]);
    ex.removals.push([m.index + 3, m.index + 3 + m[1]!.length]);
  }
  m = RESPONSE_CODE_CLASS_RE.exec(name);
  if (m) {
    // upstream_rq_2xx -> upstream_rq_xx {envoy_response_code_class="2"}
    ex.tags.push(['envoy.response_code_class', m[1]!]);
    ex.removals.push([m.index + 4, m.index + 5]);
  }

  const firstDot = name.indexOf('.');
  const first = firstDot < 0 ? name : name.slice(0, firstDot);
  switch (first) {
    case 'cluster': {
      const span = clusterNameSpan(name);
      if (span) {
        ex.tags.push(['envoy.cluster_name', name.slice(span[0], span[1])]);
        ex.removals.push([span[0], span[1] + 1]);
      }
      break;
    }
    case 'http': {
      m = HTTP_PREFIX_RE.exec(name);
      if (m) tagGroupAndDot(ex, 'envoy.http_conn_manager_prefix', m, 'http.'.length);
      m = RDS_RE.exec(name);
      // The route config name runs up to the last dot: its start is right after "http.<prefix>.rds.".
      if (m) tagGroupAndDot(ex, 'envoy.rds_route_config', m, name.length - m[1]!.length - 1 - lastSegmentLength(name));
      break;
    }
    case 'listener': {
      m = LISTENER_HTTP_RE.exec(name);
      if (m) tagGroupAndDot(ex, 'envoy.http_conn_manager_prefix', m, m[0].length - m[1]!.length - 1);
      m = LISTENER_WORKER_RE.exec(name);
      if (m) tagGroupAndDot(ex, 'envoy.worker_id', m, m[0].length - m[1]!.length - 1);
      m = LISTENER_ADDRESS_RE.exec(name);
      if (m && m[1] !== 'admin') tagGroupAndDot(ex, 'envoy.listener_address', m, 'listener.'.length);
      break;
    }
    case 'server':
    case 'listener_manager': {
      m = SERVER_WORKER_RE.exec(name);
      if (m) tagGroupAndDot(ex, 'envoy.worker_id', m, m[0].length - m[1]!.length - 1);
      break;
    }
    default: {
      const tagName = SINGLE_TOKEN_TAGS.get(first);
      if (tagName !== undefined && firstDot > 0) {
        const secondDot = name.indexOf('.', firstDot + 1);
        if (secondDot > firstDot + 1 && secondDot < name.length - 1) {
          ex.tags.push([tagName, name.slice(firstDot + 1, secondDot)]);
          ex.removals.push([firstDot + 1, secondDot + 1]);
        }
      }
    }
  }
  return ex;
}

function applyRemovals(name: string, removals: Array<[number, number]>): string {
  if (removals.length === 0) return name;
  const sorted = removals.slice().sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  for (const [start, end] of sorted) {
    if (start > pos) out += name.slice(pos, start);
    if (end > pos) pos = end;
  }
  return out + name.slice(pos);
}

function sanitizePromName(s: string): string {
  return s.replace(/[^a-zA-Z0-9_]/g, '_');
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The Prometheus metric name and labels of an Envoy stat name, e.g.
 * `cluster.backend.upstream_cx_total` -> `envoy_cluster_upstream_cx_total`
 * with `envoy_cluster_name="backend"`.
 */
export function prometheusMetricName(statName: string): PrometheusMetricName {
  const ex = extractTags(statName);
  return {
    name: `envoy_${sanitizePromName(applyRemovals(statName, ex.removals))}`,
    labels: ex.tags.map(([k, v]) => [sanitizePromName(k), v]),
  };
}

// ---------------------------------------------------------------------------------------------
// prometheus: exposition

interface PromSeries {
  statName: string;
  labels: string;
}

function formatLabels(labels: Array<[string, string]>): string {
  return labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
}

/** Groups selected names by metric family, families sorted by name, series by stat name. */
function families(names: string[]): Array<[string, PromSeries[]]> {
  const groups = new Map<string, PromSeries[]>();
  for (const statName of names) {
    const { name, labels } = prometheusMetricName(statName);
    let group = groups.get(name);
    if (group === undefined) groups.set(name, (group = []));
    group.push({ statName, labels: formatLabels(labels) });
  }
  const sorted = [...groups.entries()].sort((a, b) => byName(a[0], b[0]));
  for (const [, series] of sorted) series.sort((a, b) => byName(a.statName, b.statName));
  return sorted;
}

/**
 * Text exposition format 0.0.4 as Envoy writes it: counters, then gauges, then histograms;
 * one `# TYPE` line per family followed by its series (`name{labels} value`, with `{}` when
 * there are no labels, as Envoy prints) and a blank line. Histograms: cumulative
 * `_bucket{le="..."}` lines for DEFAULT_HISTOGRAM_BUCKETS then `le="+Inf"`, `_sum`, `_count`.
 * A family name already emitted with another type is skipped (one TYPE per name).
 */
export function formatStatsPrometheus(snapshot: StatsSnapshot, options: StatsFormatOptions = {}): string {
  const show = selector(snapshot, options);
  const emitted = new Set<string>();
  let out = '';

  const numeric = (values: Record<string, number>, type: 'counter' | 'gauge'): void => {
    for (const [family, series] of families(Object.keys(values).filter(show))) {
      if (emitted.has(family)) continue;
      emitted.add(family);
      out += `# TYPE ${family} ${type}\n`;
      for (const s of series) out += `${family}{${s.labels}} ${promNumber(values[s.statName]!)}\n`;
      out += '\n';
    }
  };
  numeric(snapshot.counters, 'counter');
  numeric(snapshot.gauges, 'gauge');

  const bounds = DEFAULT_HISTOGRAM_BUCKETS;
  for (const [family, series] of families(Object.keys(snapshot.histograms).filter(show))) {
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
    out += '\n';
  }
  return out;
}
