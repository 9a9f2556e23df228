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
 *   PRE_INITIALIZING → INITIALIZING → LIVE → DRAINING → (stopped)
 * Admin listens from PRE_INITIALIZING on, so /ready (503) and /server_info answer while
 * start-up waits for xDS. A health check failure (/healthcheck/fail) reads as DRAINING, as
 * in Envoy.
 */
import type { NetworkFilterConfigFactory } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { Logger, LogLevel } from '../common/logger.js';
import { logger, logLevels, setAllLogLevels } from '../common/log-registry.js';
import { mergeSnapshots } from '../common/stats/stats-merge.js';
import { StatsStore } from '../common/stats/stats-store.js';
import { StatsSinks } from '../common/stats/stats-sinks.js';
import { loadBootstrapFile, loadBootstrapText, type LoadedBootstrap } from '../config/bootstrap.js';
import { ConfigError } from '../config/config-error.js';
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
import { attachOverloadManager } from './overload/attach-overload-manager.js';
import type { OverloadManager } from './overload/overload-manager.js';
import { initWaitMessage } from './init-wait-log.js';
import { RouteConfigProviderManager } from './route-config-provider-manager.js';
import { XdsSubscriptionFactory } from '../xds/subscription-factory.js';
import { LayeredRuntime } from '../common/runtime/runtime-loader.js';

export interface ServerOptions {
  /** Bootstrap file (YAML or JSON) ... */
  configPath?: string;
  /** ... or its text (tests, embedding); `configName` names it in errors. */
  configText?: string;
  configName?: string;
  /** `--config-yaml` with `-c`: merged over the file, as Envoy does. */
  configOverlayYaml?: string;
  /** `--mode validate`: load to check only (some refusals become warnings). */
  validateOnly?: boolean;
  concurrency: number;
  /** Main and one worker in this process (tests, embedding): same code paths, no fork. */
  inProcess?: boolean;
  drainTimeS: number;
  logLevel?: LogLevel;
  commandLine?: Record<string, unknown>;
  /** Called once admin listens (before start-up waits for xDS): --admin-address-path. */
  onAdminListening?: (host: string, port: number) => void;
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
  readonly #overload: OverloadManager | undefined;
  /** layered_runtime: main's snapshot, posted to the workers' `runtime` slot on each change. */
  readonly #runtime: LayeredRuntime;
  /** RDS provider keys the bootstrap and the latest LDS update name. */
  #liveRdsKeys: ReadonlySet<string> = new Set();
  readonly #startedAt = Date.now();
  #admin: AdminServer | undefined;
  #adminPort: number | undefined;
  #state: ServerState = 'PRE_INITIALIZING';
  #healthCheckFailed = false;
  #flushTimer: NodeJS.Timeout | undefined;
  /** stats_config and stats_sinks: tags, matcher, statsd sinks. */
  readonly #statsSinks: StatsSinks;
  #flushing = false;
  /** Bind failures of static listeners (fatal at start-up; a dynamic listener's is not). */
  readonly #staticListenErrors: string[] = [];
  #shutdown: Promise<void> | undefined;
  #stoppedResolve!: () => void;
  /** Resolves when the server has drained and stopped. */
  readonly stopped: Promise<void>;

  private constructor(opts: ServerOptions, bootstrap: LoadedBootstrap, filters: Registry<NetworkFilterConfigFactory>) {
    this.#opts = opts;
    this.bootstrap = bootstrap;
    setAllLogLevels(opts.logLevel ?? 'info');
    this.log = logger('main');
    this.stopped = new Promise((r) => (this.#stoppedResolve = r));
    this.#statsSinks = new StatsSinks(bootstrap.config.stats);
    this.#statsSinks.attach(this.stats);
    this.workers = new WorkerPool({
      stats: bootstrap.config.stats,
      concurrency: opts.concurrency,
      inProcess: opts.inProcess ?? false,
      filters,
      drainTimeMs: opts.drainTimeS * 1000,
      log: (level, msg) => this.log.log(level === 'warn' ? 'warning' : level, msg),
    });
    this.workers.on('worker-restart', () => this.stats.counter('server.worker_restarts').inc());
    const config = bootstrap.config;
    const configLog = logger('config');
    const log = (level: 'info' | 'warning' | 'debug', msg: string): void => configLog.log(level, msg);
    if (config.overload) this.#overload = attachOverloadManager(config.overload, this.stats, this.workers, opts.inProcess ? 1 : opts.concurrency, log);
    this.#xds = new XdsSubscriptionFactory({
      node: { id: config.node.id, cluster: config.node.cluster },
      rootStats: this.stats,
      ads: config.ads,
      log: configLog,
    });
    this.#runtime = new LayeredRuntime({
      config: config.runtime,
      serviceCluster: config.node.cluster,
      stats: this.stats,
      publish: (value) => this.workers.waitApplied('runtime', this.workers.publish('runtime', value)),
      log,
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
      log: (level, msg) => configLog.log(level, msg),
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
    const options = { overlayYaml: opts.configOverlayYaml, validateOnly: opts.validateOnly };
    if (opts.configText !== undefined) return loadBootstrapText(opts.configText, opts.configName ?? '<inline>', filters, options);
    if (!opts.configPath) throw new Error('no config given: use -c/--config-path FILE');
    return loadBootstrapFile(opts.configPath, filters, options);
  }

  /**
   * Runs the async checks parsing cannot do (filters' `prepare`: importing user codec
   * modules) for the bootstrap's listeners; rejects with the first failure's message.
   */
  static async prepare(bootstrap: LoadedBootstrap): Promise<void> {
    const filters = networkFilterRegistry();
    await Promise.all(
      bootstrap.config.listeners.flatMap((l, i) =>
        l.filterChains.flatMap((chain, j) =>
          chain.filters.map((f, k) => prepareProblem(bootstrap, `static_resources.listeners[${i}].filter_chains[${j}].filters[${k}].typed_config`, filters.get(f.factory)?.prepare?.(f.config))),
        ),
      ),
    );
  }

  static async start(opts: ServerOptions): Promise<Server> {
    const server = await Server.create(opts);
    await server.run();
    return server;
  }

  /** Loads and checks the config; the server does nothing until run(). */
  static async create(opts: ServerOptions): Promise<Server> {
    const bootstrap = Server.load(opts);
    await Server.prepare(bootstrap);
    return new Server(opts, bootstrap, networkFilterRegistry());
  }

  /**
   * Starts admin, then the initialization sequence; resolves once LIVE (or at once if
   * shutdown() was called meanwhile). Rejects when a static listener cannot bind.
   */
  async run(): Promise<void> {
    await this.#startAdmin();
    try {
      await this.#start();
    } catch (e) {
      await this.#admin?.close();
      throw e;
    }
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

  /** Admin first, so that it answers (503, INITIALIZING) while start-up waits for xDS. */
  async #startAdmin(): Promise<void> {
    const admin = this.bootstrap.config.admin;
    if (!admin) return;
    this.#admin = new AdminServer(this.#adminContext());
    this.#adminPort = await this.#admin.listen(admin.address.host, admin.address.port);
    this.log.info(`admin listening on ${admin.address.host}:${this.#adminPort}`);
    this.#opts.onAdminListening?.(admin.address.host, this.#adminPort);
  }

  async #start(): Promise<void> {
    const config = this.bootstrap.config;
    for (const w of this.bootstrap.warnings) this.log.log('warning', `config: ${w}`);
    this.#setState('INITIALIZING');
    this.stats.gauge('server.concurrency').set(this.#opts.inProcess ? 1 : this.#opts.concurrency);
    this.stats.counter('server.worker_restarts');
    this.workers.start();
    this.#runtime.start(this.#xds);
    for (const c of config.clusters) {
      if (c.eds) this.log.info(initWaitMessage(`the initial EDS update of cluster '${c.name}' (service '${c.eds.serviceName}')`, c.eds.source, config.ads));
    }
    await this.#clusters.addStatic(config.clusters);
    // RTDS layers after the static clusters, before CDS, as Envoy's init order has it.
    await this.#runtime.initialFetchDone;
    // CDS, then the warming of what it added (EDS), before any listener, as Envoy does.
    if (this.#cds) {
      this.log.info(initWaitMessage('the initial CDS update (listeners start after it)', config.cds!, config.ads));
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
    for (const rds of config.rds) this.log.info(initWaitMessage(`the initial RDS update of route config '${rds.routeConfigName}'`, rds.source, config.ads));
    if (this.#lds) {
      this.log.info(initWaitMessage('the initial LDS update', config.lds!, config.ads));
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
    // Stopped (SIGTERM, /quitquitquit) while it waited: shutdown() is under way.
    if (this.#shutdown) return;
    this.#setState('LIVE');
    this.#flushTimer = setInterval(() => void this.#flushStats(), config.statsFlushIntervalMs).unref();
    this.log.info(
      `courier started: ${this.#listeners.activeConfigs().length} listener(s), ${this.#clusters.activeClusters().length} cluster(s), ` +
        `${this.#opts.inProcess ? 'in-process worker' : `${this.#opts.concurrency} worker(s)`}` +
        `${this.#adminPort !== undefined ? `, admin on ${config.admin!.address.host}:${this.#adminPort}` : ''}`,
    );
  }

  #stopXds(): void {
    this.#runtime.stop();
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
    return { snapshot: this.#statsSinks.filter(mergeSnapshots([snapshot, this.stats.snapshot()])), hosts };
  }

  /**
   * Every stats_flush_interval: the merged stats of all processes to the sinks. A flush still
   * waiting for a slow worker is not overlapped (increases must be computed in order).
   */
  async #flushStats(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      const { snapshot } = await this.collectStats();
      if (this.#statsSinks.hasSinks && this.#shutdown === undefined) this.#statsSinks.flush(snapshot);
    } finally {
      this.#flushing = false;
    }
  }

  #adminContext(): AdminContext {
    return {
      config: this.bootstrap.config,
      rawBootstrap: this.bootstrap.raw,
      startedAtMs: this.#startedAt,
      commandLine: this.#opts.commandLine ?? {},
      state: () => this.state,
      healthCheckFailed: () => this.#healthCheckFailed,
      draining: () => this.#state === 'DRAINING',
      setHealthCheckFailed: (fail) => {
        this.#healthCheckFailed = fail;
        this.#updateServerGauges();
      },
      collectStats: () => this.collectStats(),
      statsTags: this.#statsSinks.tags,
      logLevelsChanged: () => this.workers.broadcast({ t: 'log_levels', levels: logLevels() }),
      reopenAccessLogs: () => this.reopenAccessLogs(),
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
        const count = this.#listeners.drainAll();
        if (count === 0) logger('admin').info('/drain_listeners: no listener left to drain');
        else {
          logger('admin').info(
            `draining ${count} listener(s) (/drain_listeners): ` +
              (graceful ? `they keep accepting for the drain time (${this.#opts.drainTimeS}s), then stop` : 'they stop accepting now') +
              '; open connections are told to close',
          );
        }
        this.#setState('DRAINING');
        // As Envoy: the drain sequence starts now (connections are told); with ?graceful the
        // listeners keep accepting for the drain time first.
        this.workers.broadcast({ t: 'drain_connections' });
        if (graceful) setTimeout(stop, this.#opts.drainTimeS * 1000).unref();
        else stop();
      },
      quit: () => void this.shutdown(),
      runtime: () => this.#runtime,
    };
  }

  /** SIGUSR1, POST /reopen_logs: every worker reopens its access log files (log rotation). */
  reopenAccessLogs(): void {
    this.workers.broadcast({ t: 'reopen_logs' });
  }

  /** Connections open on the listeners now (every worker), for the drain log line. */
  async #openConnections(): Promise<number> {
    const { snapshot } = await this.workers.collectStats();
    let n = 0;
    for (const [name, value] of Object.entries(snapshot.gauges)) {
      if (name.startsWith('listener.') && name.endsWith('.downstream_cx_active') && !name.includes('.worker_')) n += value;
    }
    return n;
  }

  /**
   * Drain and stop: stop accepting, give open connections up to --drain-time-s to finish,
   * close what is left, stop admin. Idempotent.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= (async () => {
      this.#setState('DRAINING');
      const open = await this.#openConnections().catch(() => undefined);
      const deadline = new Date(Date.now() + this.#opts.drainTimeS * 1000).toISOString();
      this.log.info(
        `draining: listeners stop accepting; ${open ?? 'the'} open connection(s) have until ${deadline} ` +
          `(--drain-time-s ${this.#opts.drainTimeS}) to finish, then are closed`,
      );
      if (this.#flushTimer) clearInterval(this.#flushTimer);
      this.#overload?.stop();
      this.#stopXds();
      await this.workers.shutdown(this.#opts.drainTimeS * 1000);
      await this.#admin?.close();
      this.#statsSinks.close();
      this.log.info('stopped');
      this.#stoppedResolve();
    })();
    return this.#shutdown;
  }
}

/** A filter's `prepare` failure as a ConfigError naming the field and its line in the bootstrap. */
async function prepareProblem(bootstrap: LoadedBootstrap, filterPath: string, prepared: Promise<void> | undefined): Promise<void> {
  try {
    await prepared;
  } catch (e) {
    const field = (e as { configField?: unknown }).configField;
    const path = typeof field === 'string' ? `${filterPath}.${field}` : filterPath;
    throw new ConfigError([{ path, message: (e as Error).message, line: bootstrap.lineOf(path) }], bootstrap.source);
  }
}
