/**
 * The TCP proxy filter: one per downstream connection (Envoy's TcpProxy::Filter).
 *
 *   onNewConnection → pick cluster → choose host → pool.newConnection ──ready──→ forwarding
 *                          │ NC          │ UH           │ UO / UF (retry with backoff, then URX)
 *                          └─────────────┴──────────────┴────→ close downstream, access log
 *
 * While connecting, what the client sends is buffered up to the listener's buffer limit (then
 * reading pauses), so a client that resets meanwhile is noticed and its connect cancelled,
 * and bytes and a half-close sent early are delivered once connected. Once both
 * sides are up, bytes pass through unchanged; each side's write buffer above its limit
 * stops the other side reading (watermarks). A half-close passes through; a full close of
 * one side closes the other after flushing (remote close) or at once (local close).
 * The access log is written once both connections are gone.
 */
import { performance } from 'node:perf_hooks';
import type { ThreadLocalCluster, ThreadLocalClusterManager, Cancellable, TcpPoolCallbacks } from '../../api/cluster.js';
import { PoolFailureReason } from '../../api/cluster.js';
import { CloseType, ConnectionEvent, type Connection } from '../../api/connection.js';
import type { HostDescription } from '../../api/load-balancer.js';
import { FilterStatus, type ReadFilter, type ReadFilterCallbacks } from '../../api/network-filter.js';
import { ResponseFlag } from '../../api/stream-info.js';
import type { AccessLogger } from '../../api/access-logger.js';
import type { ConnectionImpl } from '../network/connection-impl.js';
import { hashString } from '../upstream/hash.js';
import type { TcpProxyConfig, TcpProxyStats } from './tcp-proxy-config.js';

/** Shared by every connection of one filter chain on one worker. */
export interface TcpProxySharedConfig {
  readonly config: TcpProxyConfig;
  readonly stats: TcpProxyStats;
  readonly clusterManager: ThreadLocalClusterManager;
  readonly accessLoggers: readonly AccessLogger[];
  readonly totalWeight: number;
}

type State = 'init' | 'connecting' | 'connected' | 'closed';

export class TcpProxyFilter implements ReadFilter, TcpPoolCallbacks {
  readonly #shared: TcpProxySharedConfig;
  #downstream!: ConnectionImpl;
  #upstream: ConnectionImpl | undefined;
  #cluster: ThreadLocalCluster | undefined;
  #state: State = 'init';
  #connectAttempts = 0;
  #pending: Cancellable | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #durationTimer: NodeJS.Timeout | undefined;
  #lastActivity = 0;
  #downstreamClosed = false;
  #upstreamClosed = true;
  #flushing = false;
  #logged = false;
  /** Bytes (and a half-close) received before the upstream connected. */
  #early: Buffer[] = [];
  #earlyBytes = 0;
  #earlyEnd = false;
  #earlyPaused = false;

  constructor(shared: TcpProxySharedConfig) {
    this.#shared = shared;
  }

  initializeReadFilterCallbacks(cb: ReadFilterCallbacks): void {
    this.#downstream = cb.connection as ConnectionImpl;
  }

  onNewConnection(): FilterStatus {
    const { stats, config } = this.#shared;
    const down = this.#downstream;
    stats.downstream_cx_total.inc();
    down.setByteCounters(stats.downstream_cx_rx_bytes_total, stats.downstream_cx_tx_bytes_total);
    down.addCallbacks({
      onEvent: this.#onDownstreamEvent,
      onAboveWriteBufferHighWatermark: this.#onDownstreamAboveHigh,
      onBelowWriteBufferLowWatermark: this.#onDownstreamBelowLow,
      onBytesSent: this.#touch,
    });
    if (config.idleTimeoutMs > 0) {
      this.#lastActivity = performance.now();
      this.#idleTimer = setTimeout(this.#onIdleTimer, config.idleTimeoutMs);
    }
    if (config.maxDownstreamConnectionDurationMs !== undefined) {
      this.#durationTimer = setTimeout(this.#onMaxDuration, config.maxDownstreamConnectionDurationMs);
    }
    const clusterName = this.#pickCluster();
    down.streamInfo.upstreamCluster = clusterName;
    const cluster = this.#shared.clusterManager.getThreadLocalCluster(clusterName);
    if (!cluster) {
      down.streamInfo.responseFlags.add(ResponseFlag.NoClusterFound);
      stats.downstream_cx_no_route.inc();
      this.#closeDownstream(CloseType.NoFlush, 'cluster_not_found');
      return FilterStatus.StopIteration;
    }
    this.#cluster = cluster;
    this.#state = 'connecting';
    this.#connect();
    return FilterStatus.StopIteration;
  }

  onData(data: Buffer, endStream: boolean): FilterStatus {
    this.#lastActivity = performance.now();
    const up = this.#upstream;
    if (up) {
      up.write(data, endStream);
    } else if (this.#state === 'connecting') {
      if (data.length > 0) this.#early.push(data);
      this.#earlyBytes += data.length;
      this.#earlyEnd ||= endStream;
      if (this.#earlyBytes >= this.#downstream.bufferLimit && !this.#earlyPaused) {
        this.#earlyPaused = true;
        this.#downstream.readDisable(true);
      }
    }
    return FilterStatus.StopIteration;
  }

  #pickCluster(): string {
    const { config, totalWeight } = this.#shared;
    if (config.cluster !== undefined) return config.cluster;
    const entries = config.weightedClusters!;
    let r = Math.random() * totalWeight;
    for (const e of entries) {
      r -= e.weight;
      if (r < 0) return e.name;
    }
    return entries[entries.length - 1]!.name;
  }

  #connect(): void {
    const cluster = this.#cluster!;
    const down = this.#downstream;
    this.#connectAttempts++;
    const hashKey = this.#shared.config.hashSourceIp ? hashString(down.socket.remoteAddress ?? '') : undefined;
    const host = cluster.chooseHost(hashKey === undefined ? undefined : { hashKey });
    if (!host) {
      down.streamInfo.responseFlags.add(ResponseFlag.NoHealthyUpstream);
      cluster.stats.upstream_cx_none_healthy.inc();
      this.#closeDownstream(CloseType.NoFlush, 'no_healthy_upstream');
      return;
    }
    down.streamInfo.upstreamHost = host.address;
    this.#pending = cluster.tcpConnPool(host).newConnection(this);
  }

  onPoolReady(connection: Connection, host: HostDescription): void {
    this.#pending = undefined;
    const up = connection as ConnectionImpl;
    if (this.#state !== 'connecting') {
      up.close(CloseType.NoFlush);
      return;
    }
    this.#state = 'connected';
    this.#upstream = up;
    this.#upstreamClosed = false;
    up.refreshAddresses();
    const info = this.#downstream.streamInfo;
    info.upstreamHost = host.address;
    info.upstreamLocalAddress = up.localAddress;
    up.setReadHandler(this.#onUpstreamData);
    up.addCallbacks({
      onEvent: this.#onUpstreamEvent,
      onAboveWriteBufferHighWatermark: this.#onUpstreamAboveHigh,
      onBelowWriteBufferLowWatermark: this.#onUpstreamBelowLow,
      onBytesSent: this.#touch,
    });
    this.#touch();
    const early = this.#early;
    this.#early = [];
    for (let i = 0; i < early.length; i++) up.write(early[i]!, this.#earlyEnd && i === early.length - 1);
    if (this.#earlyEnd && early.length === 0) up.write(Buffer.alloc(0), true);
    if (this.#earlyPaused) {
      this.#earlyPaused = false;
      this.#downstream.readDisable(false);
    }
  }

  onPoolFailure(reason: PoolFailureReason, host: HostDescription, details: string): void {
    this.#pending = undefined;
    if (this.#state !== 'connecting') return;
    const info = this.#downstream.streamInfo;
    info.upstreamHost = host.address;
    if (reason === PoolFailureReason.Overflow) {
      info.responseFlags.add(ResponseFlag.UpstreamOverflow);
      this.#closeDownstream(CloseType.NoFlush, 'upstream_overflow');
      return;
    }
    info.responseFlags.add(ResponseFlag.UpstreamConnectionFailure);
    const { config } = this.#shared;
    if (this.#connectAttempts >= config.maxConnectAttempts) {
      info.responseFlags.add(ResponseFlag.UpstreamRetryLimitExceeded);
      this.#cluster!.stats.upstream_cx_connect_attempts_exceeded.inc();
      this.#closeDownstream(CloseType.NoFlush, `upstream_connect_failed: ${details}`);
      return;
    }
    const delay = config.backoff ? this.#backoffDelay(config.backoff) : 0;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#state === 'connecting') this.#connect();
    }, delay);
  }

  /** Envoy's jittered exponential backoff: random in [0, min(base·2^(n-1), max)). */
  #backoffDelay(b: { baseIntervalMs: number; maxIntervalMs: number }): number {
    const ceiling = Math.min(b.baseIntervalMs * 2 ** (this.#connectAttempts - 1), b.maxIntervalMs);
    return Math.random() * ceiling;
  }

  #onUpstreamData = (data: Buffer, endStream: boolean): void => {
    this.#lastActivity = performance.now();
    this.#downstream.write(data, endStream);
  };

  #touch = (): void => {
    this.#lastActivity = performance.now();
  };

  // Downstream write buffer full: stop reading the upstream.
  #onDownstreamAboveHigh = (): void => {
    const up = this.#upstream;
    if (!up) return;
    up.readDisable(true);
    this.#cluster!.stats.upstream_flow_control_paused_reading_total.inc();
  };

  #onDownstreamBelowLow = (): void => {
    const up = this.#upstream;
    if (!up) return;
    up.readDisable(false);
    this.#cluster!.stats.upstream_flow_control_resumed_reading_total.inc();
  };

  // Upstream write buffer full: stop reading the downstream.
  #onUpstreamAboveHigh = (): void => {
    this.#downstream.readDisable(true);
    this.#shared.stats.downstream_flow_control_paused_reading_total.inc();
    this.#cluster!.stats.upstream_flow_control_backed_up_total.inc();
  };

  #onUpstreamBelowLow = (): void => {
    this.#downstream.readDisable(false);
    this.#shared.stats.downstream_flow_control_resumed_reading_total.inc();
    this.#cluster!.stats.upstream_flow_control_drained_total.inc();
  };

  #onDownstreamEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    this.#downstreamClosed = true;
    if (this.#state === 'connecting') {
      // The client left before the upstream connected: cancel the connect.
      this.#pending?.cancel();
      this.#pending = undefined;
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      this.#downstream.streamInfo.responseFlags.add(ResponseFlag.DownstreamConnectionTermination);
    }
    this.#state = 'closed';
    const up = this.#upstream;
    if (up && !up.closed) {
      if (event === ConnectionEvent.RemoteClose) {
        // Keep the upstream until what the client sent is delivered.
        if (up.writeBufferedBytes > 0) {
          this.#flushing = true;
          this.#shared.stats.upstream_flush_total.inc();
          this.#shared.stats.upstream_flush_active.inc();
        }
        up.close(CloseType.FlushWrite);
      } else {
        up.close(CloseType.NoFlush);
      }
    }
    this.#maybeFinish();
  };

  #onUpstreamEvent = (event: ConnectionEvent): void => {
    if (event === ConnectionEvent.Connected) return;
    this.#upstreamClosed = true;
    if (this.#flushing) {
      this.#flushing = false;
      this.#shared.stats.upstream_flush_active.dec();
    }
    const down = this.#downstream;
    if (!down.closed) {
      if (event === ConnectionEvent.RemoteClose) {
        const stats = this.#cluster!.stats;
        stats.upstream_cx_destroy_with_active_rq.inc();
        stats.upstream_cx_destroy_remote_with_active_rq.inc();
        if (this.#upstream?.error) down.streamInfo.responseFlags.add(ResponseFlag.UpstreamConnectionTermination);
        this.#closeDownstream(CloseType.FlushWrite, 'upstream_closed');
      } else {
        this.#closeDownstream(CloseType.NoFlush, undefined);
      }
    }
    this.#maybeFinish();
  };

  #onIdleTimer = (): void => {
    const idle = this.#shared.config.idleTimeoutMs;
    const elapsed = performance.now() - this.#lastActivity;
    if (elapsed < idle) {
      this.#idleTimer = setTimeout(this.#onIdleTimer, idle - elapsed);
      return;
    }
    this.#idleTimer = undefined;
    this.#shared.stats.idle_timeout.inc();
    this.#closeBoth('idle_timeout');
  };

  #onMaxDuration = (): void => {
    this.#durationTimer = undefined;
    this.#shared.stats.max_downstream_connection_duration.inc();
    this.#closeBoth('max_downstream_connection_duration_reached');
  };

  #closeBoth(details: string): void {
    this.#upstream?.close(CloseType.NoFlush, details);
    this.#closeDownstream(CloseType.NoFlush, details);
  }

  #closeDownstream(type: CloseType, details: string | undefined): void {
    if (this.#state === 'connecting') {
      this.#pending?.cancel();
      this.#pending = undefined;
    }
    this.#state = 'closed';
    this.#downstream.close(type, details);
  }

  /** Once both connections are gone: timers off, access log written. */
  #maybeFinish(): void {
    if (!this.#downstreamClosed || !this.#upstreamClosed || this.#logged) return;
    this.#logged = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    if (this.#durationTimer) clearTimeout(this.#durationTimer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    const down = this.#downstream;
    const info = down.streamInfo;
    info.endMonoMs = performance.now();
    info.bytesReceived = down.bytesRead;
    info.bytesSent = down.bytesWritten;
    for (const logger of this.#shared.accessLoggers) logger.log(info);
  }
}
