/**
 * The main process: loads the bootstrap, starts workers and posts them snapshots, runs the
 * cluster and listener managers (static resources, CDS with EDS, LDS) and the RDS
 * providers, serves admin, aggregates stats, drains on shutdown.
 *
 * Start-up follows Envoy's initialization order: static clusters (warmed: DNS answered, EDS
 * assigned or timed out) → CDS's first update and the warming of its clusters → LDS's first
 * update → the routes of every listener (RDS) → listeners posted to the workers → LIVE.
 * Each step is bounded by its initial_fetch_timeout.
 *
 * Server states (server.state gauge, /ready, /server_info):
 *   INITIALIZING → LIVE → DRAINING → (stopped)
 * A health check failure (/healthcheck/fail) reads as DRAINING, as in Envoy.
 */
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import { Logger, type LogLevel } from '../common/logger.js';
import { mergeSnapshots } from '../common/stats/stats-merge.js';
import { StatsStore } from '../common/stats/stats-store.js';
import { loadBootstrapFile, loadBootstrapText, type LoadedBootstrap } from '../config/bootstrap.js';
import { formatAddress } from '../config/address.js';
import { parseCluster } from '../config/cluster-config.js';
import type { ConfigSourceContext } from '../xds/config-source.js';
import { networkFilterRegistry } from '../extensions/all.js';
import type { AdminContext, ServerState } from './admin/admin-context.js';
import { AdminServer } from './admin/admin-server.js';
import { CdsApi } from './cds-api.js';
import { ClusterManager } from './cluster-manager.js';
import { LdsApi } from './lds-api.js';
import { ListenerManager } from './listener-manager.js';
import { WorkerPool } from './worker-pool.js';
import { RouteConfigProviderManager } from './route-config-provider-manager.js';
import { XdsSubscriptionFactory } from '../xds/subscription-factory.js';

export interface ServerOptions {
  /** Bootstrap file (YAML or JSON) ... */
  configPath?: string;
  /** ... or its text (tests, embedding); `configName` names it in errors. */
  configText?: string;
  configName?: string;
  concurrency: number;
  /** Main and one worker in this process (tests, embedding): same code paths, no fork. */
  inProcess?: boolean;
  drainTimeS: number;
  logLevel?: LogLevel;
  commandLine?: Record<string, unknown>;
}

const STATE_GAUGE: Record<ServerState, number> = { LIVE: 0, DRAINING: 1, PRE_INITIALIZING: 2, INITIALIZING: 3 };

export class Server {
  readonly stats = new StatsStore();
  readonly log: Logger;
  readonly bootstrap: LoadedBootstrap;
  readonly workers: WorkerPool;
  readonly #opts: ServerOptions;
  readonly #clusters: ClusterManager;
  readonly #listeners: ListenerManager;
  readonly #cds: CdsApi | undefined;
  readonly #lds: LdsApi | undefined;
  /** The one xDS subscription factory (node identity from the bootstrap; the ADS stream). */
  readonly #xds: XdsSubscriptionFactory;
  readonly #routeProviders: RouteConfigProviderManager;
  /** RDS provider keys the bootstrap and the latest LDS update name. */
  #liveRdsKeys: ReadonlySet<string> = new Set();
  readonly #startedAt = Date.now();
  #admin: AdminServer | undefined;
  #adminPort: number | undefined;
  #state: ServerState = 'INITIALIZING';
  #healthCheckFailed = false;
  #flushTimer: NodeJS.Timeout | undefined;
  /** Bind failures of static listeners (fatal at start-up; a dynamic listener's is not). */
  readonly #staticListenErrors: string[] = [];
  #shutdown: Promise<void> | undefined;
  #stoppedResolve!: () => void;
  /** Resolves when the server has drained and stopped. */
  readonly stopped: Promise<void>;

  private constructor(opts: ServerOptions, bootstrap: LoadedBootstrap, filters: Registry<NetworkFilterConfigFactory>) {
    this.#opts = opts;
    this.bootstrap = bootstrap;
    this.log = new Logger(opts.logLevel ?? 'info', 'main');
    this.stopped = new Promise((r) => (this.#stoppedResolve = r));
    this.workers = new WorkerPool({
      concurrency: opts.concurrency,
      inProcess: opts.inProcess ?? false,
      filters,
      drainTimeMs: opts.drainTimeS * 1000,
      log: (level, msg) => this.log.log(level === 'warn' ? 'warning' : level, msg),
    });
    this.workers.on('worker-restart', () => this.stats.counter('server.worker_restarts').inc());
    const config = bootstrap.config;
    const log = (level: 'info' | 'warning' | 'debug', msg: string): void => this.log.log(level, msg);
    this.#xds = new XdsSubscriptionFactory({
      node: { id: config.node.id, cluster: config.node.cluster },
      rootStats: this.stats,
      ads: config.ads,
      log: this.log,
    });
    this.#clusters = new ClusterManager({
      stats: this.stats,
      factory: this.#xds,
      publishClusters: (clusters) => this.workers.publish('clusters', clusters),
      publishMembership: (membership) => this.workers.publish('membership', membership),
      log,
    });
    this.#listeners = new ListenerManager({
      stats: this.stats,
      publish: (listeners) => this.workers.publish('listeners', listeners),
      drainTimeMs: opts.drainTimeS * 1000,
      log,
    });
    // The same context the bootstrap's own config sources were parsed with.
    const sources: ConfigSourceContext = {
      clusters: config.clusters.filter((c) => c.type !== 'EDS'),
      adsConfigured: config.ads !== undefined,
    };
    if (config.cds) {
      this.#cds = new CdsApi({
        source: config.cds,
        factory: this.#xds,
        stats: this.stats,
        clusterManager: this.#clusters,
        parse: (resource, problems) => parseCluster(resource, problems, filters, sources),
        log,
      });
    }
    this.#routeProviders = new RouteConfigProviderManager({
      factory: this.#xds,
      stats: this.stats,
      // Live: CDS clusters count for validate_clusters as soon as they are known.
      clusterNames: this.#clusters.names,
      publish: (routes) => this.workers.publish('routes', routes),
      log: (level, msg) => this.log.log(level, msg),
    });
    if (config.lds) {
      this.#lds = new LdsApi({
        source: config.lds,
        factory: this.#xds,
        stats: this.stats,
        listenerManager: this.#listeners,
        filters,
        sources,
        clusterNames: this.#clusters.names,
        startRds: (configs) => {
          this.#routeProviders.start(configs);
          // An LDS update lists every dynamic listener: providers that neither it nor the
          // bootstrap names go, once the listeners that used them have drained.
          // The latest update's set is read when the timer fires: a key re-added meanwhile stays.
          this.#liveRdsKeys = new Set([...config.rds, ...configs].map((c) => c.key));
          setTimeout(() => this.#routeProviders.retainOnly(this.#liveRdsKeys), opts.drainTimeS * 1000).unref();
          return this.#routeProviders.initialFetchDone();
        },
        log,
      });
    }
    this.workers.on('listening', () => this.#listeners.onListening());
    this.workers.on('listen-error', (m: { listener: string; message: string }) => {
      if (this.#listeners.onListenError(m.listener, m.message)) return;
      const address = this.bootstrap.config.listeners.find((l) => l.name === m.listener)?.address;
      this.#staticListenErrors.push(`listener '${m.listener}'${address ? ` cannot listen on ${formatAddress(address.host, address.port)}` : ''}: ${m.message}`);
    });
  }

  /** Loads and checks the config; throws ConfigError naming every problem. */
  static load(opts: ServerOptions): LoadedBootstrap {
    const filters = networkFilterRegistry();
    if (opts.configText !== undefined) return loadBootstrapText(opts.configText, opts.configName ?? '<inline>', filters);
    if (!opts.configPath) throw new Error('no config given: use -c/--config-path FILE');
    return loadBootstrapFile(opts.configPath, filters);
  }

  /**
   * Runs the async checks parsing cannot do (filters' `prepare`: importing user codec
   * modules) for the bootstrap's listeners; rejects with the first failure's message.
   */
  static async prepare(bootstrap: LoadedBootstrap): Promise<void> {
    const filters = networkFilterRegistry();
    const chains = bootstrap.config.listeners.flatMap((l) => l.filterChains);
    await Promise.all(chains.flatMap((chain) => chain.filters.map((f) => filters.get(f.factory)?.prepare?.(f.config))));
  }

  static async start(opts: ServerOptions): Promise<Server> {
    const bootstrap = Server.load(opts);
    await Server.prepare(bootstrap);
    const server = new Server(opts, bootstrap, networkFilterRegistry());
    await server.#start();
    return server;
  }

  get adminPort(): number | undefined {
    return this.#adminPort;
  }

  /** The port a listener is bound to (useful with port 0). */
  listenerPort(name: string): number | undefined {
    return this.workers.bindings.get(name)?.port;
  }

  get state(): ServerState {
    return this.#healthCheckFailed && this.#state === 'LIVE' ? 'DRAINING' : this.#state;
  }

  async #start(): Promise<void> {
    const config = this.bootstrap.config;
    this.#setState('INITIALIZING');
    this.stats.gauge('server.concurrency').set(this.#opts.inProcess ? 1 : this.#opts.concurrency);
    this.stats.counter('server.worker_restarts');
    this.workers.start();
    await this.#clusters.addStatic(config.clusters);
    // CDS, then the warming of what it added (EDS), before any listener, as Envoy does.
    if (this.#cds) {
      this.#cds.start();
      await this.#cds.initialFetchDone;
      await this.#clusters.warmingDone();
    }
    // RDS before listeners, as Envoy's listener warming: hold the listeners until each route
    // config's first update or its initial_fetch_timeout, never longer. A control plane that
    // is down or refuses does not stop startup; such an HCM answers 404 NR until routes come.
    this.workers.publish('routes', {});
    this.#listeners.addStatic(config.listeners);
    this.#routeProviders.start(config.rds);
    if (this.#lds) {
      this.#lds.start();
      await this.#lds.initialized();
    }
    await this.#routeProviders.initialFetchDone();
    const version = this.#listeners.enablePublishing();
    await this.workers.waitApplied('listeners', version);
    if (this.#staticListenErrors.length > 0) {
      const errors = [...this.#staticListenErrors];
      await this.workers.shutdown(0);
      this.#stopXds();
      throw new Error([...new Set(errors)].join('\n'));
    }
    if (config.admin) {
      this.#admin = new AdminServer(this.#adminContext());
      this.#adminPort = await this.#admin.listen(config.admin.address.host, config.admin.address.port);
    }
    this.#setState('LIVE');
    this.#flushTimer = setInterval(() => void this.workers.collectStats(), config.statsFlushIntervalMs).unref();
    this.log.info(
      `courier started: ${this.#listeners.activeConfigs().length} listener(s), ${this.#clusters.activeClusters().length} cluster(s), ` +
        `${this.#opts.inProcess ? 'in-process worker' : `${this.#opts.concurrency} worker(s)`}` +
        `${this.#adminPort !== undefined ? `, admin on ${config.admin!.address.host}:${this.#adminPort}` : ''}`,
    );
  }

  #stopXds(): void {
    this.#lds?.stop();
    this.#cds?.stop();
    this.#routeProviders.stop();
    this.#clusters.stop();
    this.#listeners.stop();
    this.#xds.shutdown();
  }

  #setState(state: ServerState): void {
    this.#state = state;
    this.#updateServerGauges();
  }

  #updateServerGauges(): void {
    const state = this.state;
    this.stats.gauge('server.state').set(STATE_GAUGE[state]);
    this.stats.gauge('server.live').set(state === 'LIVE' ? 1 : 0);
    this.stats.gauge('server.uptime').set(Math.floor((Date.now() - this.#startedAt) / 1000));
    const mem = process.memoryUsage();
    this.stats.gauge('server.memory_allocated').set(mem.heapUsed);
    this.stats.gauge('server.memory_heap_size').set(mem.heapTotal);
    this.stats.gauge('server.memory_physical_size').set(mem.rss);
  }

  async collectStats(): ReturnType<AdminContext['collectStats']> {
    this.#updateServerGauges();
    const { snapshot, hosts } = await this.workers.collectStats();
    return { snapshot: mergeSnapshots([snapshot, this.stats.snapshot()]), hosts };
  }

  #adminContext(): AdminContext {
    return {
      config: this.bootstrap.config,
      rawBootstrap: this.bootstrap.raw,
      startedAtMs: this.#startedAt,
      commandLine: this.#opts.commandLine ?? {},
      state: () => this.state,
      healthCheckFailed: () => this.#healthCheckFailed,
      setHealthCheckFailed: (fail) => {
        this.#healthCheckFailed = fail;
        this.#updateServerGauges();
      },
      collectStats: () => this.collectStats(),
      resetCounters: () => {
        this.stats.resetCounters();
        this.workers.broadcast({ t: 'reset_counters' });
      },
      listenerBindings: () => [...this.workers.bindings.values()],
      clusters: () => this.#clusters.activeClusters(),
      warmingClusters: () => this.#clusters.warmingClusters(),
      cdsVersion: () => this.#cds?.versionInfo,
      edsAssignments: () => this.#clusters.edsAssignments(),
      staticListeners: () => this.#listeners.staticListeners(),
      dynamicListeners: () => [
        ...this.#listeners.dynamicActive().map((entry) => ({ entry, warming: false })),
        ...this.#listeners.dynamicWarming().map((entry) => ({ entry, warming: true })),
      ],
      activeListeners: () => this.#listeners.activeConfigs(),
      ldsVersion: () => this.#lds?.versionInfo,
      dynamicRouteConfigs: () => this.#routeProviders.dynamicRouteConfigs(),
      drainListeners: (graceful) => {
        const stop = (): void => this.workers.broadcast({ t: 'stop_listeners' });
        this.#setState('DRAINING');
        // As Envoy: the drain sequence starts now (connections are told); with ?graceful the
        // listeners keep accepting for the drain time first.
        this.workers.broadcast({ t: 'drain_connections' });
        if (graceful) setTimeout(stop, this.#opts.drainTimeS * 1000).unref();
        else stop();
      },
      quit: () => void this.shutdown(),
    };
  }

  /**
   * Drain and stop: stop accepting, give open connections up to --drain-time-s to finish,
   * close what is left, stop admin. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.log.info(`draining (up to ${this.#opts.drainTimeS}s)`);
      this.#setState('DRAINING');
      if (this.#flushTimer) clearInterval(this.#flushTimer);
      this.#stopXds();
      await this.workers.shutdown(this.#opts.drainTimeS * 1000);
      await this.#admin?.close();
      this.log.info('stopped');
      this.#stoppedResolve();
    })();
    return this.#shutdown;
  }
}
