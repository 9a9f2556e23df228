/**
 * The TCP proxy's internal config (plain data, built on main) and its stats list.
 */
import type { AccessLogConfig } from '../access-log/access-log-config.js';
import type { Counter, Gauge, StatsScope } from '../../api/stats.js';

export interface WeightedClusterEntry {
  name: string;
  weight: number;
}

export interface TcpProxyConfig {
  statPrefix: string;
  /** Exactly one of cluster and weightedClusters is set. */
  cluster?: string;
  weightedClusters?: WeightedClusterEntry[];
  /** 0 disables; Envoy's default is one hour. */
  idleTimeoutMs: number;
  maxConnectAttempts: number;
  /** Jittered exponential backoff between connect attempts; none means retry at once. */
  backoff?: { baseIntervalMs: number; maxIntervalMs: number };
  maxDownstreamConnectionDurationMs?: number;
  /** Hash for RING_HASH/MAGLEV: only source_ip is supported. */
  hashSourceIp: boolean;
  accessLogs: AccessLogConfig[];
}

/** tcp.<stat_prefix>.* (Envoy's ALL_TCP_PROXY_STATS, the parts Courier implements). */
const COUNTERS = [
  'downstream_cx_no_route', 'downstream_cx_rx_bytes_total', 'downstream_cx_total', 'downstream_cx_tx_bytes_total',
  'downstream_flow_control_paused_reading_total', 'downstream_flow_control_resumed_reading_total', 'idle_timeout',
  'max_downstream_connection_duration', 'upstream_flush_total',
] as const;
const GAUGES = ['downstream_cx_rx_bytes_buffered', 'downstream_cx_tx_bytes_buffered', 'upstream_flush_active'] as const;

export type TcpProxyStats = { readonly [K in (typeof COUNTERS)[number]]: Counter } & {
  readonly [K in (typeof GAUGES)[number]]: Gauge;
};

export function createTcpProxyStats(scope: StatsScope): TcpProxyStats {
  const out: Record<string, Counter | Gauge> = {};
  for (const n of COUNTERS) out[n] = scope.counter(n);
  for (const n of GAUGES) out[n] = scope.gauge(n);
  return out as TcpProxyStats;
}
