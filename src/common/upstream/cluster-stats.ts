/**
 * cluster.<name>.* handles for one cluster on one process, built once per cluster.
 * Names are Envoy's (docs: configuration/upstream/cluster_manager/cluster_stats).
 */
import type { ClusterTrafficStats } from '../../api/cluster.js';
import type { StatsScope } from '../../api/stats.js';

const COUNTERS = [
  'upstream_cx_connect_attempts_exceeded', 'upstream_cx_connect_fail', 'upstream_cx_connect_timeout',
  'upstream_cx_destroy', 'upstream_cx_destroy_local', 'upstream_cx_destroy_local_with_active_rq',
  'upstream_cx_destroy_remote', 'upstream_cx_destroy_remote_with_active_rq', 'upstream_cx_destroy_with_active_rq',
  'upstream_cx_none_healthy', 'upstream_cx_overflow', 'upstream_cx_rx_bytes_total', 'upstream_cx_total',
  'upstream_cx_tx_bytes_total', 'upstream_flow_control_backed_up_total', 'upstream_flow_control_drained_total',
  'upstream_flow_control_paused_reading_total', 'upstream_flow_control_resumed_reading_total', 'upstream_rq_pending_overflow', 'upstream_rq_retry', 'upstream_rq_timeout', 'upstream_rq_total',
] as const;
const GAUGES = ['upstream_cx_active', 'upstream_cx_rx_bytes_buffered', 'upstream_cx_tx_bytes_buffered', 'upstream_rq_active'] as const;
const HISTOGRAMS = ['upstream_cx_connect_ms', 'upstream_cx_length_ms'] as const;

export function createClusterTrafficStats(scope: StatsScope): ClusterTrafficStats {
  const out: Record<string, unknown> = {};
  for (const n of COUNTERS) out[n] = scope.counter(n);
  for (const n of GAUGES) out[n] = scope.gauge(n);
  for (const n of HISTOGRAMS) out[n] = scope.histogram(n, 'milliseconds');
  return out as unknown as ClusterTrafficStats;
}

/** Membership gauges, set by the main process which owns membership. */
export const MEMBERSHIP_GAUGES = ['membership_healthy', 'membership_total'] as const;
