/**
 * One listener on one worker: accepts connections, runs the filter chain's factories on
 * each, tracks the connections for listener.* stats and for drain.
 *
 * States: binding → listening → stopped (no longer accepting; connections carry on).
 *
 * `update()` (an LDS change to a listener whose address stays, as Envoy requires) swaps the
 * config and filter chain for the connections accepted from then on, on the same socket (a
 * node:cluster worker cannot bind one address twice); the connections accepted before keep
 * their filters and are handed back to be drained.
 *
 * Overload (src/worker/overload-state.ts), checked on each accepted socket in Envoy's order:
 * reject_incoming_connections closes a scaled share at once (downstream_cx_overload_reject);
 * stop_accepting_connections, while saturated, holds new sockets unread until it clears, as a
 * disabled Envoy listener leaves them in the kernel's backlog; the global connection limit
 * closes a connection over max_active_downstream_connections at once
 * (downstream_global_cx_overflow).
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConnectionEvent, CloseType } from '../api/connection.js';
import type { NetworkFilterFactoryCb } from '../api/network-filter.js';
import type { Counter, Gauge, Histogram, StatsScope } from '../api/stats.js';
import { newStreamInfo } from '../api/stream-info.js';
import type { ListenerConfig } from '../config/server-config.js';
import { formatAddress } from '../config/address.js';
import { ConnectionImpl } from '../common/network/connection-impl.js';
import { FilterManagerImpl } from '../common/network/filter-manager-impl.js';
import { OverloadActionName } from '../config/overload-config.js';
import type { WorkerOverloadState } from './overload-state.js';

interface ListenerStats {
  downstream_cx_total: Counter;
  downstream_cx_destroy: Counter;
  downstream_cx_active: Gauge;
  downstream_cx_length_ms: Histogram;
  no_filter_chain_match: Counter;
  downstream_cx_overload_reject: Counter;
  downstream_global_cx_overflow: Counter;
  worker_cx_total: Counter;
  worker_cx_active: Gauge;
  server_total_connections: Gauge;
}

type ListenerState = 'binding' | 'listening' | 'stopped';

/** Sockets held while stop_accepting_connections is saturated, at most (Node's default listen backlog). */
const MAX_HELD_SOCKETS = 511;

export class ActiveTcpListener {
  config: ListenerConfig;
  /** Connections accepted under the current config (a new set after each update()). */
  connections = new Set<ConnectionImpl>();
  state: ListenerState = 'binding';
  readonly #server: net.Server;
  readonly #root: StatsScope;
  readonly #workerId: number;
  #factories: NetworkFilterFactoryCb[];
  #stats: ListenerStats;
  readonly #overload: WorkerOverloadState;
  /** Sockets accepted while stop_accepting_connections is saturated, not yet read. */
  readonly #held: net.Socket[] = [];
  readonly #unsubscribe: () => void;

  constructor(config: ListenerConfig, factories: NetworkFilterFactoryCb[], root: StatsScope, workerId: number, overload: WorkerOverloadState) {
    this.config = config;
    this.#overload = overload;
    this.#unsubscribe = overload.onChange(() => this.#releaseHeld());
    this.#factories = factories;
    this.#root = root;
    this.#workerId = workerId;
    this.#stats = listenerStats(config, root, workerId);
    this.#server = net.createServer({
      allowHalfOpen: true,
      noDelay: true,
      // Envoy's per_connection_buffer_limit_bytes is the write buffer's high watermark.
      highWaterMark: config.bufferLimitBytes,
    } as net.ServerOpts);
    this.#server.on('connection', this.#onConnection);
  }

  /** Binds; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ host: this.config.address.host, port: this.config.address.port }, () => {
        this.#server.removeListener('error', onError);
        this.#server.on('error', () => {});
        this.state = 'listening';
        const addr = this.#server.address() as net.AddressInfo;
        resolve(addr.port);
      });
    });
  }

  /**
   * A new config and filter chain for the connections accepted from now on (same address:
   * the socket is kept). Returns the connections accepted before; they keep their filters.
   */
  update(config: ListenerConfig, factories: NetworkFilterFactoryCb[]): Set<ConnectionImpl> {
    const before = this.connections;
    this.config = config;
    this.#factories = factories;
    this.#stats = listenerStats(config, this.#root, this.#workerId);
    this.connections = new Set();
    return before;
  }

  /** Stops accepting; open connections are untouched. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.#unsubscribe();
    for (const s of this.#held.splice(0)) s.destroy();
    this.#server.close();
  }

  /** Closes every open connection of the current config at once (end of drain). */
  closeConnections(): void {
    for (const c of this.connections) c.close(CloseType.NoFlush, 'drain_timeout');
  }

  #onConnection = (socket: net.Socket): void => {
    if (this.state !== 'listening') {
      socket.destroy();
      return;
    }
    socket.on('error', () => {});
    const overload = this.#overload;
    if (overload.shouldShed(OverloadActionName.RejectIncomingConnections)) {
      this.#stats.downstream_cx_overload_reject.inc();
      socket.destroy();
      return;
    }
    if (overload.value(OverloadActionName.StopAcceptingConnections) >= 1) {
      if (this.#held.length >= MAX_HELD_SOCKETS) socket.destroy();
      else this.#held.push(socket);
      return;
    }
    overload.admit((ok) => {
      if (!ok) {
        this.#stats.downstream_global_cx_overflow.inc();
        socket.destroy();
      } else if (socket.destroyed || this.state !== 'listening') {
        overload.release();
        socket.destroy();
      } else {
        this.#accept(socket);
      }
    });
  };

  /** stop_accepting_connections cleared: the held sockets are taken now, in order. */
  #releaseHeld(): void {
    if (this.#overload.value(OverloadActionName.StopAcceptingConnections) >= 1) return;
    for (const s of this.#held.splice(0)) {
      if (s.destroyed) continue;
      s.removeAllListeners('error');
      this.#onConnection(s);
    }
  }

  #accept(socket: net.Socket): void {
    // Read once: an update() later must not change what this connection counts in or runs.
    const stats = this.#stats;
    const connections = this.connections;
    const factories = this.#factories;
    const remote = socket.remoteAddress ? formatAddress(socket.remoteAddress, socket.remotePort ?? 0) : '';
    const local = socket.localAddress ? formatAddress(socket.localAddress, socket.localPort ?? 0) : '';
    const conn = new ConnectionImpl(socket, this.config.bufferLimitBytes, newStreamInfo(remote, local));
    const started = performance.now();
    stats.downstream_cx_total.inc();
    stats.downstream_cx_active.inc();
    stats.worker_cx_total.inc();
    stats.worker_cx_active.inc();
    stats.server_total_connections.inc();
    connections.add(conn);
    conn.addCallbacks({
      onEvent: (event) => {
        if (event === ConnectionEvent.Connected) return;
        connections.delete(conn);
        this.#overload.release();
        stats.downstream_cx_destroy.inc();
        stats.downstream_cx_active.dec();
        stats.worker_cx_active.dec();
        stats.server_total_connections.dec();
        stats.downstream_cx_length_ms.record(performance.now() - started);
      },
    });
    const manager = new FilterManagerImpl(conn);
    for (const factory of factories) factory(manager, conn);
    if (!manager.initialize()) {
      stats.no_filter_chain_match.inc();
      conn.close(CloseType.NoFlush, 'no_filter_chain');
    }
  }
}

function listenerStats(config: ListenerConfig, root: StatsScope, workerId: number): ListenerStats {
  const scope = root.scope(config.statPrefix.slice(0, -1));
  return {
    downstream_cx_total: scope.counter('downstream_cx_total'),
    downstream_cx_destroy: scope.counter('downstream_cx_destroy'),
    downstream_cx_active: scope.gauge('downstream_cx_active'),
    downstream_cx_length_ms: scope.histogram('downstream_cx_length_ms', 'milliseconds'),
    no_filter_chain_match: scope.counter('no_filter_chain_match'),
    downstream_cx_overload_reject: scope.counter('downstream_cx_overload_reject'),
    downstream_global_cx_overflow: scope.counter('downstream_global_cx_overflow'),
    worker_cx_total: scope.counter(`worker_${workerId}.downstream_cx_total`),
    worker_cx_active: scope.gauge(`worker_${workerId}.downstream_cx_active`),
    server_total_connections: root.gauge('server.total_connections'),
  };
}
