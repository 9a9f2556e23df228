/**
 * The worker's narrow view of upstream clusters (Envoy's ThreadLocalCluster): pick a host,
 * get a connection from that host's pool. Worker-only; built from the cluster slot.
 */
import type { Connection } from './connection.js';
import type { HostDescription, LoadBalancerContext } from './load-balancer.js';
import type { Counter, Gauge, Histogram } from './stats.js';

export const PoolFailureReason = {
  /** Circuit breaker max_connections / max_pending_requests reached. */
  Overflow: 'overflow',
  /** The connect failed (refused, reset, unreachable). */
  ConnectionFailure: 'connection_failure',
  /** connect_timeout elapsed. */
  Timeout: 'timeout',
} as const;
export type PoolFailureReason = (typeof PoolFailureReason)[keyof typeof PoolFailureReason];

export interface TcpPoolCallbacks {
  /** The connection is open and now owned by the caller, who must close it. */
  onPoolReady(connection: Connection, host: HostDescription): void;
  onPoolFailure(reason: PoolFailureReason, host: HostDescription, details: string): void;
}

/** Cancels a pending connect; the pool closes the socket if it is not needed. */
export interface Cancellable {
  cancel(): void;
}

/** Per-host request counters shown by /clusters (Envoy's HostStats rq_*). */
export interface HostRequestCounters {
  rq_total: number;
  rq_active: number;
  rq_success: number;
  rq_error: number;
  rq_timeout: number;
}

export interface NewConnectionOptions {
  /**
   * Whether the connection is itself one request stream (tcp_proxy: yes, the default) or a
   * carrier of requests the caller counts itself (RPC proxies: no).
   */
  readonly asStream?: boolean;
}

export interface TcpConnPool {
  readonly host: HostDescription;
  /** The host's request counters on this worker. */
  readonly hostStats: HostRequestCounters;
  /**
   * Starts a connection. Calls exactly one of the callbacks later (never synchronously),
   * unless cancelled first.
   */
  newConnection(callbacks: TcpPoolCallbacks, options?: NewConnectionOptions): Cancellable;
}

/** cluster.<name>.* handles, shared by every user of the cluster on this worker. */
export interface ClusterTrafficStats {
  readonly upstream_cx_total: Counter;
  readonly upstream_cx_active: Gauge;
  readonly upstream_cx_connect_fail: Counter;
  readonly upstream_cx_connect_timeout: Counter;
  readonly upstream_cx_connect_attempts_exceeded: Counter;
  readonly upstream_cx_overflow: Counter;
  readonly upstream_cx_none_healthy: Counter;
  readonly upstream_cx_connect_ms: Histogram;
  readonly upstream_cx_length_ms: Histogram;
  readonly upstream_cx_rx_bytes_total: Counter;
  readonly upstream_cx_tx_bytes_total: Counter;
  readonly upstream_cx_rx_bytes_buffered: Gauge;
  readonly upstream_cx_tx_bytes_buffered: Gauge;
  readonly upstream_cx_destroy: Counter;
  readonly upstream_cx_destroy_local: Counter;
  readonly upstream_cx_destroy_remote: Counter;
  readonly upstream_cx_destroy_with_active_rq: Counter;
  readonly upstream_cx_destroy_local_with_active_rq: Counter;
  readonly upstream_cx_destroy_remote_with_active_rq: Counter;
  readonly upstream_flow_control_paused_reading_total: Counter;
  readonly upstream_flow_control_resumed_reading_total: Counter;
  readonly upstream_flow_control_backed_up_total: Counter;
  readonly upstream_flow_control_drained_total: Counter;
  readonly upstream_rq_total: Counter;
  readonly upstream_rq_active: Gauge;
  /** Attempts after the first (RPC connect-failure retries; the HTTP router's retries). */
  readonly upstream_rq_retry: Counter;
  readonly upstream_rq_timeout: Counter;
  readonly upstream_rq_pending_overflow: Counter;
}

/** One circuit-breaker budget (e.g. max_requests) on this worker. */
export interface ResourceBudget {
  canCreate(): boolean;
  inc(): void;
  dec(): void;
}

export interface ThreadLocalCluster {
  readonly name: string;
  /** typed_extension_protocol_options as parsed by each filter, keyed by filter name. */
  readonly protocolOptions: Readonly<Record<string, unknown>>;
  readonly stats: ClusterTrafficStats;
  /** circuit_breakers max_requests: requests in flight on this cluster (RPC and HTTP proxies). */
  readonly requestBudget: ResourceBudget;
  /** circuit_breakers max_retries: retries outstanding on this cluster (the HTTP router's retries). */
  readonly retryBudget: ResourceBudget;
  /** Picks a host with the cluster's load balancer; undefined when none is healthy. */
  chooseHost(context: LoadBalancerContext | undefined): HostDescription | undefined;
  /** The pool for a host this cluster returned. */
  tcpConnPool(host: HostDescription): TcpConnPool;
}

export interface ThreadLocalClusterManager {
  /** The cluster as of the latest slot value, or undefined if no such cluster exists. */
  getThreadLocalCluster(name: string): ThreadLocalCluster | undefined;
}
