/**
 * Per-subscription stats, Envoy's names (`<scope>update_attempt` ...), declared once as a
 * list. The scope is the caller's: RDS passes `http.<stat_prefix>.rds.<route_config_name>.`.
 */
import type { Counter, Gauge, StatsScope } from '../api/stats.js';
import { versionGaugeValue } from './stable-hash.js';

export const SUBSCRIPTION_COUNTERS = [
  'init_fetch_timeout',
  'update_attempt',
  'update_empty',
  'update_failure',
  'update_rejected',
  'update_success',
] as const;
export const SUBSCRIPTION_GAUGES = ['update_time', 'version'] as const;

export type SubscriptionStats = Record<(typeof SUBSCRIPTION_COUNTERS)[number], Counter> &
  Record<(typeof SUBSCRIPTION_GAUGES)[number], Gauge>;

export function subscriptionStats(scope: StatsScope): SubscriptionStats {
  const out = {} as Record<string, Counter | Gauge>;
  for (const name of SUBSCRIPTION_COUNTERS) out[name] = scope.counter(name);
  for (const name of SUBSCRIPTION_GAUGES) out[name] = scope.gauge(name);
  return out as SubscriptionStats;
}

/** Records an accepted update: success, attempt, version (hash of version_info) and update_time (epoch ms). */
export function recordAccepted(stats: SubscriptionStats, versionInfo: string, empty: boolean): void {
  stats.update_attempt.inc();
  stats.update_success.inc();
  if (empty) stats.update_empty.inc();
  stats.version.set(versionGaugeValue(versionInfo));
  stats.update_time.set(Date.now());
}

/** Records a refused update (decode problems or the caller's reject). */
export function recordRejected(stats: SubscriptionStats): void {
  stats.update_attempt.inc();
  stats.update_rejected.inc();
}

/** Records a stream or read failure. */
export function recordFailure(stats: SubscriptionStats): void {
  stats.update_attempt.inc();
  stats.update_failure.inc();
}

/**
 * Envoy's initial_fetch_timeout: if no update arrived within `timeoutMs` (0: never), count
 * init_fetch_timeout and report 'fetch_timeout' once, so start-up is not held by a silent
 * control plane. `stillWaiting` is checked when the timer fires.
 */
export function armInitialFetchTimeout(
  timeoutMs: number,
  stats: SubscriptionStats,
  stillWaiting: () => boolean,
  onTimeout: () => void,
): NodeJS.Timeout | undefined {
  if (timeoutMs <= 0) return undefined;
  return setTimeout(() => {
    if (!stillWaiting()) return;
    stats.init_fetch_timeout.inc();
    onTimeout();
  }, timeoutMs);
}
