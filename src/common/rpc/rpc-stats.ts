/**
 * Stats of an RPC proxy connection manager, under `<protocol>.<stat_prefix>.` (Envoy's
 * ALL_DUBBO_FILTER_STATS names; MetaProtocol uses the same names under meta_protocol.*).
 */
import type { Counter, Gauge, Histogram, StatsScope } from '../../api/stats.js';

const COUNTERS = [
  'cx_destroy_local_with_active_rq', 'cx_destroy_remote_with_active_rq', 'downstream_cx_first_frame_timeout',
  'downstream_cx_frame_timeout', 'downstream_cx_partial_frame_overflow', 'downstream_flow_control_paused_reading_total',
  'downstream_flow_control_resumed_reading_total', 'local_response_business_exception', 'local_response_error',
  'local_response_success', 'request', 'request_decoding_error', 'request_decoding_success', 'request_event',
  'request_oneway', 'request_twoway', 'response', 'response_business_exception', 'response_decoding_error',
  'response_decoding_success', 'response_error', 'response_error_caused_connection_close', 'response_success',
] as const;
const GAUGES = ['downstream_partial_frame_bytes', 'request_active'] as const;
const HISTOGRAMS = ['request_time_ms'] as const;

export type RpcProxyStats = { readonly [K in (typeof COUNTERS)[number]]: Counter } & {
  readonly [K in (typeof GAUGES)[number]]: Gauge;
} & { readonly [K in (typeof HISTOGRAMS)[number]]: Histogram };

export function createRpcProxyStats(scope: StatsScope): RpcProxyStats {
  const out: Record<string, Counter | Gauge | Histogram> = {};
  for (const n of COUNTERS) out[n] = scope.counter(n);
  for (const n of GAUGES) out[n] = scope.gauge(n);
  for (const n of HISTOGRAMS) out[n] = scope.histogram(n, 'milliseconds');
  return out as RpcProxyStats;
}
