/**
 * A worker: owns listeners, connections, upstream pools and its own stats store. It knows
 * the world only through slots posted by main (listeners, clusters, membership, routes) and
 * answers main's requests (stats, stop, shutdown). Runs in a cluster worker process, or
 * beside main in single-process mode; the code is the same.
 */
import type { AccessLogger } from '../api/access-logger.js';
import type { NetworkFilterConfigFactory, NetworkFilterFactoryCb, WorkerFilterContext } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import { createAccessLogger, type AccessLogConfig } from '../common/access-log/access-log-config.js';
import { logger, setLogLevels } from '../common/log-registry.js';
import { StatsStore } from '../common/stats/stats-store.js';
import { StatsSinks } from '../common/stats/stats-sinks.js';
import { destroyUpstreamConnections } from '../common/upstream/tcp-conn-pool.js';
import { ThreadLocalClusterManagerImpl } from '../common/upstream/thread-local-cluster-manager.js';
import type { ListenerConfig } from '../config/server-config.js';
import type { Channel, MainToWorker, WorkerToMain } from '../server/worker-protocol.js';
import { CloseType } from '../api/connection.js';
import type { ConnectionImpl } from '../common/network/connection-impl.js';
import { bindFailureReason } from '../common/network/bind-failure.js';
import { ActiveTcpListener } from './active-tcp-listener.js';
import { WorkerRouteTables } from './route-tables.js';
import { WorkerOverloadState } from './overload-state.js';
import { WorkerRuntime } from '../common/runtime/runtime-snapshot.js';
import { createFilteredAccessLogger } from '../common/access-log/access-log-filter.js';

type WorkerState = 'starting' | 'running' | 'draining' | 'stopped';

export class Worker {
  readonly stats = new StatsStore();
  readonly #channel: Channel<MainToWorker, WorkerToMain>;
  readonly #filters: Registry<NetworkFilterConfigFactory>;
  readonly #onStopped: () => void;
  readonly #overload: WorkerOverloadState;
  #workerId = 0;
  #workerCount = 1;
  #clusterManager: ThreadLocalClusterManagerImpl | undefined;
  /** The runtime's current snapshot (the `runtime` slot). */
  readonly #runtime = new WorkerRuntime();
  /** RDS tables, shared by every HCM on this worker (read per request by provider key). */
  readonly #routeTables = new WorkerRouteTables(this.#runtime);
  #listeners = new Map<string, { json: string; listener: ActiveTcpListener }>();
  /**
   * Connections of listeners removed or changed by LDS: they keep their filters and are
   * closed after the drain time (--drain-time-s), as Envoy drains a replaced listener.
   */
  #draining = new Set<Set<ConnectionImpl>>();
  #drainTimers = new Set<NodeJS.Timeout>();
  #drainTimeMs = 0;
  #accessLoggers: AccessLogger[] = [];
  #statsSinks: StatsSinks | undefined;
  #state: WorkerState = 'starting';
  #versions: Record<string, number> = {};
  /** Slot updates are applied one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();

  constructor(channel: Channel<MainToWorker, WorkerToMain>, filters: Registry<NetworkFilterConfigFactory>, onStopped: () => void) {
    this.#channel = channel;
    this.#filters = filters;
    this.#onStopped = onStopped;
    this.#overload = new WorkerOverloadState((m) => channel.send(m));
    channel.onMessage((m) => this.#onMessage(m));
    channel.send({ t: 'hello' });
  }

  #onMessage(m: MainToWorker): void {
    switch (m.t) {
      case 'init':
        this.#workerId = m.workerId;
        this.#drainTimeMs = m.drainTimeMs;
        this.#workerCount = m.workerCount;
        this.#clusterManager = new ThreadLocalClusterManagerImpl(this.stats, m.workerCount);
        // Histogram values go to the statsd sinks from here, as Envoy's workers send them.
        if (m.stats && m.stats.sinks.length > 0) (this.#statsSinks = new StatsSinks(m.stats)).attach(this.stats);
        setLogLevels(m.logLevels);
        this.#state = 'running';
        return;
      case 'log_levels':
        setLogLevels(m.levels);
        return;
      case 'reopen_logs':
        this.reopenAccessLogs();
        return;
      case 'slot':
        this.#queue = this.#queue.then(() => this.#applySlot(m)).catch((e) => console.error('courier worker: slot update failed:', e));
        return;
      case 'stats':
        this.#channel.send({ t: 'stats', id: m.id, snapshot: this.stats.snapshot(), hosts: this.#clusterManager?.hostStats() ?? {} });
        return;
      case 'reset_counters':
        this.stats.resetCounters();
        return;
      case 'stop_listeners':
        for (const { listener } of this.#listeners.values()) listener.stop();
        return;
      case 'drain_connections':
        for (const { listener } of this.#listeners.values()) for (const c of listener.connections) c.startDraining();
        return;
      case 'shutdown':
        void this.#shutdown(m.graceMs);
        return;
      case 'cx_grant':
        this.#overload.onGrant(m.seq, m.ok);
        return;
    }
  }

  async #applySlot(m: Extract<MainToWorker, { t: 'slot' }>): Promise<void> {
    const cm = this.#clusterManager!;
    switch (m.name) {
      case 'clusters':
        cm.setClusters(m.value);
        break;
      case 'membership':
        cm.setMembership(m.value);
        break;
      case 'routes':
        this.#routeTables.apply(m.value);
        break;
      case 'overload':
        this.#overload.apply(m.value);
        break;
      case 'runtime':
        this.#runtime.apply(m.value);
        break;
      case 'listeners':
        if (this.#state === 'running') await this.#setListeners(m.value);
        break;
    }
    this.#versions[m.name] = m.version;
    this.#channel.send({ t: 'applied', versions: { ...this.#versions } });
  }

  /**
   * A new `listeners` slot: unchanged listeners are kept; a changed one on the same address
   * gets the new filter chain in place (its socket stays, so no connection is refused) and
   * its existing connections drain; one on another address, and a removed one, stop
   * accepting and drain.
   */
  async #setListeners(configs: readonly ListenerConfig[]): Promise<void> {
    const next = new Map<string, { json: string; listener: ActiveTcpListener }>();
    const binds: Array<Promise<void>> = [];
    // Async set-up a filter config needs (a user codec module) before its factory is built.
    await Promise.all(configs.flatMap((c) => c.filterChains.flatMap((chain) => chain.filters.map((f) => this.#filters.get(f.factory)?.prepare?.(f.config)))));
    for (const config of configs) {
      const json = JSON.stringify(config);
      const current = this.#listeners.get(config.name);
      if (current && current.json === json) {
        next.set(config.name, current);
        continue;
      }
      if (current && current.listener.state === 'listening' && sameAddress(current.listener.config, config)) {
        this.#drain(current.listener.update(config, this.#buildFactories(config)));
        next.set(config.name, { json, listener: current.listener });
        continue;
      }
      if (current) this.#retire(current.listener);
      const listener = new ActiveTcpListener(config, this.#buildFactories(config), this.stats, this.#workerId, this.#overload);
      next.set(config.name, { json, listener });
      binds.push(
        listener.listen().then(
          (port) => this.#channel.send({ t: 'listening', listener: config.name, host: config.address.host, port }),
          (err: Error) =>
            this.#channel.send({ t: 'listen_error', listener: config.name, message: bindFailureReason(err, config.address.host, config.address.port) }),
        ),
      );
    }
    for (const [name, { listener }] of this.#listeners) if (!next.has(name)) this.#retire(listener);
    this.#listeners = next;
    await Promise.all(binds);
  }

  #retire(listener: ActiveTcpListener): void {
    listener.stop();
    this.#drain(listener.connections);
  }

  /** Closes `connections` after the drain time, unless they end first. */
  #drain(connections: Set<ConnectionImpl>): void {
    if (connections.size === 0) return;
    for (const c of connections) c.startDraining();
    this.#draining.add(connections);
    const timer = setTimeout(() => {
      this.#drainTimers.delete(timer);
      this.#draining.delete(connections);
      if (connections.size > 0) logger('connection').info(`drain deadline of a replaced or removed listener: closing ${connections.size} connection(s) still open`);
      for (const c of connections) c.close(CloseType.NoFlush, 'drain_timeout');
    }, this.#drainTimeMs);
    timer.unref();
    this.#drainTimers.add(timer);
  }

  /** Log rotation: every file access log reopens its path before its next write. */
  reopenAccessLogs(): void {
    logger('main').info('reopening access log files');
    for (const l of this.#accessLoggers) l.reopen?.();
  }

  #buildFactories(config: ListenerConfig): NetworkFilterFactoryCb[] {
    const ctx: WorkerFilterContext = {
      clusterManager: this.#clusterManager!,
      routeTables: this.#routeTables,
      stats: this.stats,
      workerCount: this.#workerCount,
      overload: this.#overload,
      runtime: this.#runtime,
      createAccessLogger: (cfg) => {
        const logger = createAccessLogger(cfg as AccessLogConfig);
        this.#accessLoggers.push(logger);
        // The filter (AccessLog.filter) decides per stream; the sink is closed on drain.
        return createFilteredAccessLogger(logger, (cfg as AccessLogConfig).filter, this.#runtime);
      },
    };
    const chain = config.filterChains[0];
    if (!chain) return [];
    return chain.filters.map((f) => {
      const factory = this.#filters.get(f.factory);
      if (!factory) throw new Error(`no network filter factory for ${f.factory}`);
      return factory.createFilterFactory(f.config, ctx);
    });
  }

  #openConnections(): number {
    let n = 0;
    for (const { listener } of this.#listeners.values()) n += listener.connections.size;
    for (const set of this.#draining) n += set.size;
    return n;
  }

  /** Drain: stop accepting, wait for connections to finish up to graceMs, close the rest. */
  async #shutdown(graceMs: number): Promise<void> {
    if (this.#state === 'draining' || this.#state === 'stopped') return;
    this.#state = 'draining';
    const all = [...this.#listeners.values()].map((e) => e.listener);
    for (const l of all) l.stop();
    for (const l of all) for (const c of l.connections) c.startDraining();
    const deadline = Date.now() + graceMs;
    while (this.#openConnections() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
    const left = this.#openConnections();
    if (left > 0) logger('connection').info(`drain deadline reached: closing ${left} connection(s) still open`);
    else logger('connection').debug(`drained: no connection left open`);
    for (const l of all) l.closeConnections();
    destroyUpstreamConnections();
    this.#overload.stop();
    for (const t of this.#drainTimers) clearTimeout(t);
    for (const set of this.#draining) for (const c of set) c.close(CloseType.NoFlush, 'drain_timeout');
    this.#draining.clear();
    // Close events come on later turns of the event loop, and access logs are written from
    // them (a proxied connection's once both its sides are closed): wait for every
    // connection to be gone, then a few turns more for their upstream sides, before the logs
    // are flushed and closed. Turns, not time: a loaded machine delays both alike.
    const settle = Date.now() + 2000;
    while (this.#openConnections() > 0 && Date.now() < settle) await new Promise((r) => setTimeout(r, 5));
    for (let turn = 0; turn < 5; turn++) await new Promise((r) => setImmediate(r));
    await Promise.all(this.#accessLoggers.map((l) => l.close().catch(() => {})));
    this.#state = 'stopped';
    this.#statsSinks?.close();
    this.#channel.send({ t: 'stopped' });
    this.#onStopped();
  }
}

function sameAddress(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.address.host === b.address.host && a.address.port === b.address.port;
}
