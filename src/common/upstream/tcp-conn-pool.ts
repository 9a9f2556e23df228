/**
 * A worker's TCP connection pool for one upstream host (Envoy's Tcp::ConnectionPool).
 *
 * Each newConnection() opens a fresh socket: tcp_proxy closes the upstream connection with
 * the downstream one, so there is nothing to reuse. The pool owns what a pool owns in Envoy:
 * connect_timeout, the max_connections circuit breaker (an immediate Overflow failure, UO),
 * and the cluster's connection stats for the connection's whole life, after hand-over too.
 *
 * Per connection attempt: connecting → ready (handed over) | failed | cancelled.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  PoolFailureReason,
  type Cancellable,
  type NewConnectionOptions,
  type ClusterTrafficStats,
  type TcpConnPool,
  type TcpPoolCallbacks,
} from '../../api/cluster.js';
import { ConnectionEvent } from '../../api/connection.js';
import type { HostDescription } from '../../api/load-balancer.js';
import { newStreamInfo } from '../../api/stream-info.js';
import { ConnectionImpl } from '../network/connection-impl.js';
import type { HostStats } from './host-stats.js';
import type { ResourceManager } from './resource-manager.js';

export interface PoolClusterInfo {
  readonly connectTimeoutMs: number;
  readonly bufferLimitBytes: number;
  readonly stats: ClusterTrafficStats;
  readonly resources: ResourceManager;
}

type AttemptState = 'connecting' | 'ready' | 'failed' | 'cancelled';

class ConnectAttempt implements Cancellable {
  state: AttemptState = 'connecting';
  constructor(
    readonly socket: net.Socket,
    readonly timer: NodeJS.Timeout | undefined,
    readonly onCancel: (a: ConnectAttempt) => void,
  ) {}
  cancel(): void {
    if (this.state !== 'connecting') return;
    this.state = 'cancelled';
    this.onCancel(this);
  }
}

/** Every upstream socket this process has open, so that a stopping worker can close them all. */
const openUpstreamSockets = new Set<net.Socket>();

/**
 * Closes every upstream connection of this process (worker shutdown, after downstream
 * connections are closed): pooled RPC and HTTP connections have no downstream owner to close
 * them, and a single-process server must not leave them open after it stops.
 */
export function destroyUpstreamConnections(): void {
  for (const socket of openUpstreamSockets) socket.destroy();
  openUpstreamSockets.clear();
}

export class TcpConnPoolImpl implements TcpConnPool {
  /** Changes only through retarget() (a LOGICAL_DNS host's new address). */
  host: HostDescription;
  readonly hostStats: HostStats;
  #cluster: PoolClusterInfo;

  constructor(host: HostDescription, cluster: PoolClusterInfo, hostStats: HostStats) {
    this.host = host;
    this.#cluster = cluster;
    this.hostStats = hostStats;
  }

  /**
   * LOGICAL_DNS: new connections go to `host` (the logical host's latest address), under
   * `cluster` (the rebuilt cluster's timeouts, limits and stats); the ones made before keep
   * their peer.
   */
  retarget(host: HostDescription, cluster: PoolClusterInfo): void {
    this.host = host;
    this.#cluster = cluster;
  }

  newConnection(callbacks: TcpPoolCallbacks, connectionOptions?: NewConnectionOptions): Cancellable {
    const asStream = connectionOptions?.asStream ?? true;
    // Read once: a LOGICAL_DNS retarget() must not change where this attempt goes or what it reports.
    const host = this.host;
    const cluster = this.#cluster;
    const stats = cluster.stats;
    const resources = cluster.resources;
    if (!resources.connections.canCreate()) {
      stats.upstream_cx_overflow.inc();
      const failed = new ConnectAttempt(null as unknown as net.Socket, undefined, () => {});
      setImmediate(() => {
        if (failed.state !== 'connecting') return;
        failed.state = 'failed';
        callbacks.onPoolFailure(PoolFailureReason.Overflow, host, 'too many connections');
      });
      return failed;
    }
    resources.connections.inc();
    stats.upstream_cx_total.inc();
    stats.upstream_cx_active.inc();
    this.hostStats.cx_total++;
    this.hostStats.cx_active++;
    const started = performance.now();
    // writableHighWaterMark reaches the Duplex constructor (the typings omit it): it makes
    // write() report the buffer limit as Envoy's high watermark.
    const options = {
      host: host.host,
      port: host.port,
      allowHalfOpen: true,
      noDelay: true,
      writableHighWaterMark: cluster.bufferLimitBytes,
    };
    const socket = net.connect(options as net.NetConnectOpts);
    openUpstreamSockets.add(socket);
    socket.once('close', () => openUpstreamSockets.delete(socket));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      resources.connections.dec();
      stats.upstream_cx_active.dec();
      this.hostStats.cx_active--;
    };
    const fail = (reason: PoolFailureReason, details: string): void => {
      if (attempt.state !== 'connecting') return;
      attempt.state = 'failed';
      if (attempt.timer) clearTimeout(attempt.timer);
      stats.upstream_cx_connect_fail.inc();
      this.hostStats.cx_connect_fail++;
      stats.upstream_cx_destroy.inc();
      socket.destroy();
      release();
      callbacks.onPoolFailure(reason, host, details);
    };
    const timer =
      cluster.connectTimeoutMs > 0
        ? setTimeout(() => {
            stats.upstream_cx_connect_timeout.inc();
            fail(PoolFailureReason.Timeout, 'connect timeout');
          }, cluster.connectTimeoutMs)
        : undefined;
    const attempt = new ConnectAttempt(socket, timer, () => {
      if (timer) clearTimeout(timer);
      stats.upstream_cx_destroy.inc();
      stats.upstream_cx_destroy_local.inc();
      socket.destroy();
      release();
    });
    const onConnectError = (err: Error): void => fail(PoolFailureReason.ConnectionFailure, err.message);
    socket.once('error', onConnectError);
    socket.once('connect', () => {
      socket.removeListener('error', onConnectError);
      if (attempt.state !== 'connecting') return;
      attempt.state = 'ready';
      if (timer) clearTimeout(timer);
      const connectedAt = performance.now();
      stats.upstream_cx_connect_ms.record(connectedAt - started);
      const conn = new ConnectionImpl(socket, cluster.bufferLimitBytes, newStreamInfo('', ''));
      conn.setByteCounters(stats.upstream_cx_rx_bytes_total, stats.upstream_cx_tx_bytes_total);
      // Each handed-over connection is one "request" of the pool, as Envoy's TCP pool counts
      // streams; LEAST_REQUEST balances on it.
      if (asStream) {
        this.hostStats.rq_total++;
        this.hostStats.rq_active++;
        stats.upstream_rq_total.inc();
        stats.upstream_rq_active.inc();
      }
      conn.addCallbacks({
        onEvent: (event) => {
          if (event === ConnectionEvent.Connected) return;
          stats.upstream_cx_destroy.inc();
          if (event === ConnectionEvent.LocalClose) stats.upstream_cx_destroy_local.inc();
          else stats.upstream_cx_destroy_remote.inc();
          stats.upstream_cx_length_ms.record(performance.now() - connectedAt);
          if (asStream) {
            this.hostStats.rq_active--;
            stats.upstream_rq_active.dec();
          }
          release();
        },
      });
      callbacks.onPoolReady(conn, host);
    });
    return attempt;
  }
}
