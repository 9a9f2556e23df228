/**
 * What stats_config and stats_sinks make of a process's stats. Main and every worker build one
 * from the same StatsConfig:
 *   - every process: histogram values go to the statsd sinks as they are recorded
 *     (`attach(store)`), unless the matcher rejects the histogram;
 *   - main: `filter` drops rejected stats from the merged snapshot the admin serves, and
 *     `flush` (every stats_flush_interval) sends counters as increases since the last flush
 *     and gauges as values, for the stats ever used, as Envoy's flush does.
 * `tags` is the tag extraction the Prometheus output and DogStatsD share.
 */
import type { StatsSnapshot } from '../../api/stats.js';
import type { StatsConfig } from '../../config/stats-config.js';
import { StatsNameMatcher } from './stats-matcher.js';
import type { StatsStore } from './stats-store.js';
import { UdpStatsdSink, type SinkSnapshot } from './statsd-sink.js';
import { TagProducer } from './tag-extractor.js';

export class StatsSinks {
  readonly tags: TagProducer;
  readonly #matcher: StatsNameMatcher | undefined;
  readonly #sinks: UdpStatsdSink[];
  /** Counter values at the previous flush (merged over every process). */
  readonly #flushed = new Map<string, number>();

  constructor(config: StatsConfig) {
    this.tags = new TagProducer(config.tags);
    this.#matcher = config.matcher && new StatsNameMatcher(config.matcher);
    this.#sinks = config.sinks.map((s) => new UdpStatsdSink(s, this.tags));
  }

  get hasSinks(): boolean {
    return this.#sinks.length > 0;
  }

  /** Sends every value `store`'s histograms record to the sinks (nothing when there are none). */
  attach(store: StatsStore): void {
    if (this.#sinks.length === 0) return;
    const matcher = this.#matcher;
    store.onHistogramSample((h, value) => {
      if (matcher && !matcher.accepts(h.name)) return;
      for (const sink of this.#sinks) sink.histogramSample(h.name, h.unit, value);
    });
  }

  /** The snapshot without the stats stats_matcher rejects. */
  filter(snapshot: StatsSnapshot): StatsSnapshot {
    return this.#matcher ? this.#matcher.filter(snapshot) : snapshot;
  }

  /**
   * One flush of a merged (and filtered) snapshot. A counter that went down since the last
   * flush was reset (POST /reset_counters): its whole value is the increase.
   */
  flush(snapshot: StatsSnapshot): void {
    const used = new Set(snapshot.used);
    const counters: Array<{ name: string; delta: number }> = [];
    for (const [name, value] of Object.entries(snapshot.counters)) {
      const before = this.#flushed.get(name) ?? 0;
      this.#flushed.set(name, value);
      if (used.has(name)) counters.push({ name, delta: value >= before ? value - before : value });
    }
    const gauges: Array<{ name: string; value: number }> = [];
    for (const [name, value] of Object.entries(snapshot.gauges)) if (used.has(name)) gauges.push({ name, value });
    const out: SinkSnapshot = { counters, gauges };
    for (const sink of this.#sinks) sink.flush(out);
  }

  close(): void {
    for (const sink of this.#sinks) sink.close();
  }
}
