/**
 * Stats: the plug-in surface.
 *
 * Every process (main and each worker) owns one store. Names are full Envoy names
 * (`cluster.backend.upstream_cx_total`); a scope only prepends its prefix. Handles are
 * created once at config time and kept: `inc()` on the data plane is a field increment,
 * never a map lookup. Main merges the workers' snapshots: counters and gauges are summed
 * (Envoy's "Accumulate" gauges), histograms merged bucket by bucket.
 */

export interface Counter {
  readonly name: string;
  inc(n?: number): void;
  readonly value: number;
}

export interface Gauge {
  readonly name: string;
  set(v: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

/** Unit of a histogram, as Envoy names them (milliseconds for *_ms and *_time). */
export type HistogramUnit = 'unspecified' | 'bytes' | 'microseconds' | 'milliseconds' | 'percent';

export interface Histogram {
  readonly name: string;
  readonly unit: HistogramUnit;
  record(value: number): void;
}

export interface StatsScope {
  /** Full prefix of this scope, with its trailing dot (empty for the root). */
  readonly prefix: string;
  counter(name: string): Counter;
  gauge(name: string): Gauge;
  histogram(name: string, unit?: HistogramUnit): Histogram;
  /** A child scope; `scope('tcp.ingress')` makes names `tcp.ingress.<name>`. */
  scope(prefix: string): StatsScope;
}

/** Bucket upper bounds Envoy uses by default (stats_config.histogram_bucket_settings absent). */
export const DEFAULT_HISTOGRAM_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
];

/** A histogram's state as plain data: per-bucket counts (one more than bounds: +Inf), count, sum. */
export interface HistogramSnapshot {
  unit: HistogramUnit;
  buckets: number[];
  count: number;
  sum: number;
  /** Smallest and largest value recorded (absent while empty): quantile estimates stay inside. */
  min?: number;
  max?: number;
}

/** What a store reports; plain data so it crosses the process boundary as JSON. */
export interface StatsSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  histograms: Record<string, HistogramSnapshot>;
  /** Names that were touched at least once (Envoy's "used" flag, for ?usedonly). */
  used: string[];
}
