/**
 * The per-process stats store (main and each worker own one).
 *
 * Handles are created once (config time) and cached by full name; the data plane keeps the
 * handle and calls `inc()`, which is a plain field increment (no lookup, no allocation).
 * `snapshot()` turns everything into plain JSON-able data for the admin handler / the merge
 * across workers.
 */

import {
  DEFAULT_HISTOGRAM_BUCKETS,
  type Counter,
  type Gauge,
  type Histogram,
  type HistogramSnapshot,
  type HistogramUnit,
  type StatsScope,
  type StatsSnapshot,
} from '../../api/stats.js';

/**
 * Called with every value a histogram of the store records (the statsd sinks send histograms
 * per sample, as Envoy's do). Set once at start-up; absent, recording costs one field check.
 */
export type HistogramSampleListener = (histogram: Histogram, value: number) => void;

interface StoreHooks {
  histogramSample?: HistogramSampleListener;
}

/** Upper bounds of the finite buckets; bucket `i` counts values in (bounds[i-1], bounds[i]]. */
const BOUNDS: readonly number[] = DEFAULT_HISTOGRAM_BUCKETS;
const NUM_BOUNDS = BOUNDS.length;

class CounterImpl implements Counter {
  value = 0;
  /** Envoy's "used" flag: set by the first inc(), never cleared (not even by reset_counters). */
  used = false;
  constructor(readonly name: string) {}
  inc(n = 1): void {
    this.value += n;
    this.used = true;
  }
}

class GaugeImpl implements Gauge {
  value = 0;
  used = false;
  constructor(readonly name: string) {}
  set(v: number): void {
    this.value = v;
    this.used = true;
  }
  inc(n = 1): void {
    this.value += n;
    this.used = true;
  }
  dec(n = 1): void {
    this.value -= n;
    this.used = true;
  }
}

class HistogramImpl implements Histogram {
  /** Per-bucket counts, one per bound plus the +Inf bucket last. */
  readonly buckets: Float64Array = new Float64Array(NUM_BOUNDS + 1);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  used = false;
  constructor(
    readonly name: string,
    readonly unit: HistogramUnit,
    private readonly hooks: StoreHooks,
  ) {}

  /** NaN is ignored; negative values are recorded as 0 (Envoy histograms are unsigned). */
  record(value: number): void {
    if (value !== value) return;
    if (value < 0) value = 0;
    let i = 0;
    while (i < NUM_BOUNDS && value > BOUNDS[i]) i++;
    this.buckets[i]++;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.used = true;
    const sample = this.hooks.histogramSample;
    if (sample !== undefined) sample(this, value);
  }

  clear(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  toSnapshot(): HistogramSnapshot {
    const out: HistogramSnapshot = { unit: this.unit, buckets: Array.from(this.buckets), count: this.count, sum: this.sum };
    if (this.count > 0) {
      out.min = this.min;
      out.max = this.max;
    }
    return out;
  }
}

type StatImpl = CounterImpl | GaugeImpl | HistogramImpl;

function kindOf(stat: StatImpl): string {
  if (stat instanceof CounterImpl) return 'counter';
  if (stat instanceof GaugeImpl) return 'gauge';
  return 'histogram';
}

/** Normalises a child-scope prefix to "a.b." form (a trailing dot given by the caller is fine). */
function joinPrefix(parent: string, child: string): string {
  if (child === '') return parent;
  const trimmed = child.endsWith('.') ? child.slice(0, -1) : child;
  if (trimmed === '') return parent;
  return `${parent}${trimmed}.`;
}

class ChildScope implements StatsScope {
  constructor(
    private readonly store: StatsStore,
    readonly prefix: string,
  ) {}
  counter(name: string): Counter {
    return this.store.counter(this.prefix + name);
  }
  gauge(name: string): Gauge {
    return this.store.gauge(this.prefix + name);
  }
  histogram(name: string, unit?: HistogramUnit): Histogram {
    return this.store.histogram(this.prefix + name, unit);
  }
  scope(prefix: string): StatsScope {
    return new ChildScope(this.store, joinPrefix(this.prefix, prefix));
  }
}

/** Root scope (prefix ''). Asking twice for a name returns the same handle; asking for a name
 *  that already exists as another kind (counter/gauge/histogram) throws. */
export class StatsStore implements StatsScope {
  readonly prefix = '';
  private readonly stats = new Map<string, StatImpl>();
  private readonly hooks: StoreHooks = {};

  /** Every value recorded from now on by any histogram of this store goes to `listener`. */
  onHistogramSample(listener: HistogramSampleListener | undefined): void {
    this.hooks.histogramSample = listener;
  }

  counter(name: string): Counter {
    const existing = this.lookup(name, 'counter');
    if (existing) return existing as CounterImpl;
    const c = new CounterImpl(name);
    this.stats.set(name, c);
    return c;
  }

  gauge(name: string): Gauge {
    const existing = this.lookup(name, 'gauge');
    if (existing) return existing as GaugeImpl;
    const g = new GaugeImpl(name);
    this.stats.set(name, g);
    return g;
  }

  /** The unit is fixed by the first call; later calls get the existing handle whatever unit. */
  histogram(name: string, unit: HistogramUnit = 'unspecified'): Histogram {
    const existing = this.lookup(name, 'histogram');
    if (existing) return existing as HistogramImpl;
    const h = new HistogramImpl(name, unit, this.hooks);
    this.stats.set(name, h);
    return h;
  }

  scope(prefix: string): StatsScope {
    return new ChildScope(this, joinPrefix('', prefix));
  }

  /** Plain-data copy of every stat, with the names of the used ones (sorted). */
  snapshot(): StatsSnapshot {
    const counters: Record<string, number> = {};
    const gauges: Record<string, number> = {};
    const histograms: Record<string, HistogramSnapshot> = {};
    const used: string[] = [];
    for (const [name, stat] of this.stats) {
      if (stat instanceof CounterImpl) counters[name] = stat.value;
      else if (stat instanceof GaugeImpl) gauges[name] = stat.value;
      else histograms[name] = stat.toSnapshot();
      if (stat.used) used.push(name);
    }
    used.sort();
    return { counters, gauges, histograms, used };
  }

  /** Envoy's POST /reset_counters: counters to 0, histograms emptied, gauges untouched.
   *  "Used" flags are kept (as Envoy does): a reset stat still shows under ?usedonly. */
  resetCounters(): void {
    for (const stat of this.stats.values()) {
      if (stat instanceof CounterImpl) stat.value = 0;
      else if (stat instanceof HistogramImpl) stat.clear();
    }
  }

  private lookup(name: string, kind: string): StatImpl | undefined {
    if (name === '') throw new Error(`stats: empty ${kind} name`);
    const existing = this.stats.get(name);
    if (existing === undefined) return undefined;
    const existingKind = kindOf(existing);
    if (existingKind !== kind) {
      throw new Error(`stats: '${name}' already exists as a ${existingKind}, cannot use it as a ${kind}`);
    }
    return existing;
  }
}
