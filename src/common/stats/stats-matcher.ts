/**
 * stats_config.stats_matcher (Envoy's StatsMatcherImpl): which stat names exist. Envoy does not
 * create a rejected stat, so it shows nowhere (admin, Prometheus, sinks). Courier's handles are
 * created by code that does not know the config, so the matcher applies where stats leave the
 * process instead: the merged snapshot main serves and flushes, and per-sample histogram lines.
 * Names are matched in full (`cluster.backend.upstream_cx_total`); results are cached per name.
 */
import type { StatsSnapshot } from '../../api/stats.js';
import type { StatsMatcherConfig } from '../../config/stats-config.js';
import { compileStringMatcher, type StringMatcher } from '../matchers/string-matcher.js';

export class StatsNameMatcher {
  readonly #kind: StatsMatcherConfig['kind'];
  readonly #patterns: StringMatcher[];
  readonly #cache = new Map<string, boolean>();

  constructor(config: StatsMatcherConfig) {
    this.#kind = config.kind;
    this.#patterns = config.kind === 'reject_all' ? [] : config.patterns.map(compileStringMatcher);
  }

  /** Whether the stat is kept. */
  accepts(name: string): boolean {
    let kept = this.#cache.get(name);
    if (kept === undefined) {
      const listed = this.#patterns.some((p) => p.match(name));
      kept = this.#kind === 'inclusion_list' ? listed : this.#kind === 'exclusion_list' ? !listed : false;
      this.#cache.set(name, kept);
    }
    return kept;
  }

  /** A copy of `snapshot` without the rejected stats. */
  filter(snapshot: StatsSnapshot): StatsSnapshot {
    const keep = <T>(record: Record<string, T>): Record<string, T> => {
      const out: Record<string, T> = {};
      for (const name of Object.keys(record)) if (this.accepts(name)) out[name] = record[name]!;
      return out;
    };
    return {
      counters: keep(snapshot.counters),
      gauges: keep(snapshot.gauges),
      histograms: keep(snapshot.histograms),
      used: snapshot.used.filter((n) => this.accepts(n)),
    };
  }
}
