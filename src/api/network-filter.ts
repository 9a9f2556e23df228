/**
 * Network (L4) filters: the plug-in surface. Modelled on Envoy's envoy/network/filter.h.
 *
 * Life of a filter: the config factory's `parseConfig` runs once on the MAIN process with the
 * checked typed_config and returns plain data (it crosses to workers as JSON). Each WORKER
 * calls `createFilterFactory` once per snapshot; the returned callback runs once per accepted
 * connection and adds filters to it. Filters run in config order.
 */
import type { OverloadView } from './overload.js';
import type { Connection } from './connection.js';
import type { StatsScope } from './stats.js';
import type { ThreadLocalClusterManager } from './cluster.js';
import type { AccessLogger } from './access-logger.js';
import type { RuntimeLoader } from './runtime.js';

/**
 * A compiled route table as the API sees it: opaque here (src/api does not import the router);
 * the HTTP connection manager knows it is a src/common/router/route-table.ts RouteTable.
 */
export type RouteTableLike = object;

export const FilterStatus = {
  /** Pass the data (or event) on to the next filter. */
  Continue: 'continue',
  /** Stop here; the filter calls continueReading() later, or consumes the data itself. */
  StopIteration: 'stop',
} as const;
export type FilterStatus = (typeof FilterStatus)[keyof typeof FilterStatus];

export interface ReadFilterCallbacks {
  readonly connection: Connection;
  /** Resumes iteration after StopIteration from onNewConnection. */
  continueReading(): void;
}

export interface ReadFilter {
  /** Called once, before any other method; the filter keeps `cb`. */
  initializeReadFilterCallbacks(cb: ReadFilterCallbacks): void;
  /** Called once when the connection is accepted. Must not write synchronously. */
  onNewConnection(): FilterStatus;
  /**
   * Bytes read from the connection. `data` belongs to the filter after the call returns
   * Continue/StopIteration only if it keeps it on purpose: it is the socket's own chunk,
   * not a copy. endStream is true once, when the peer half-closed.
   */
  onData(data: Buffer, endStream: boolean): FilterStatus;
}

/** Installs filters on one new connection. */
export interface FilterManager {
  addReadFilter(filter: ReadFilter): void;
}

export type NetworkFilterFactoryCb = (manager: FilterManager, connection: Connection) => void;

/** Reporting config problems by field path (implemented by src/config/config-error.ts). */
export interface ProblemSink {
  add(relPath: string, message: string): void;
  /** Something that loads but deserves a word (shown by `--mode validate`, logged at start). */
  warn?(relPath: string, message: string): void;
  at(relPath: string): ProblemSink;
}

/** What a config factory may ask of the main process while parsing. */
export interface MainConfigContext {
  /** Names of statically known clusters (for early warnings; tcp_proxy allows unknown ones). */
  readonly clusterNames: ReadonlySet<string>;
  /**
   * True under `--mode validate`: a cluster name no cluster has is a warning there (clusters
   * CDS would deliver are not fetched), never an error; see config/cluster-references.ts.
   */
  readonly validateOnly?: boolean | undefined;
  /** Directory of the config file, for relative paths in it (a codec module); cwd when unset. */
  readonly configDir?: string | undefined;
  /** Parses an access_log list entry into plain data, reporting problems. */
  parseAccessLog(proto: Record<string, unknown>, problems: ProblemSink): unknown;
  /**
   * Registers a dynamic route config need (an HCM's `rds`): parses `configSource` (a checked
   * envoy.config.core.v3.ConfigSource) and returns the provider key the worker reads its
   * routes under, or undefined after reporting problems. Equal (config source, name) pairs
   * get the same key, so they share one provider and one subscription on main.
   * `statPrefix` scopes the provider's stats (`http.<statPrefix>.rds.<name>.`); the first
   * registration of a key wins, as in Envoy. `kind` says what is subscribed to and how it is
   * read: `http` (the default, an HCM's RouteConfiguration), `meta_protocol` (MetaRDS: the
   * same resource read as MetaProtocol routes, stats under `meta_protocol.<statPrefix>.rds.`)
   * or `dubbo` (drds: a MultipleRouteConfiguration, stats under `dubbo.<statPrefix>.drds.`).
   */
  registerRds(
    configSource: Record<string, unknown>,
    routeConfigName: string,
    statPrefix: string,
    problems: ProblemSink,
    kind?: 'http' | 'meta_protocol' | 'dubbo',
  ): string | undefined;
}

/** What a filter factory gets on a worker. */
export interface WorkerFilterContext {
  readonly clusterManager: ThreadLocalClusterManager;
  /**
   * The worker's dynamic route tables (RDS), by provider key. `get` is cheap (a map read) and
   * always returns a table: an empty one until the key's first update arrives.
   */
  readonly routeTables: { get(key: string): RouteTableLike };
  readonly stats: StatsScope;
  /** The layered runtime's current values (read `snapshot()` per request: it changes). */
  readonly runtime: RuntimeLoader;
  /** A sink for one parsed access_log entry, behind its `filter` when it has one. */
  createAccessLogger(config: unknown): AccessLogger;
  /** How many workers share the load (per-worker shares of limits and token buckets). */
  readonly workerCount: number;
  /** The overload manager's action states on this worker (absent: nothing is shed). */
  readonly overload?: OverloadView;
}

export interface NetworkFilterConfigFactory<Config = unknown> {
  /** Envoy's filter name, e.g. `envoy.filters.network.tcp_proxy`. */
  readonly name: string;
  /** Full proto name of typed_config, e.g. `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`. */
  readonly configType: string;
  /** MAIN: checked proto (plain data) → internal config, or undefined after reporting problems. */
  parseConfig(proto: Record<string, unknown>, problems: ProblemSink, ctx: MainConfigContext): Config | undefined;
  /** WORKER: once per snapshot. */
  createFilterFactory(config: Config, ctx: WorkerFilterContext): NetworkFilterFactoryCb;
  /**
   * MAIN, optional: the filter's per-cluster upstream options, given in
   * Cluster.typed_extension_protocol_options under the filter's name, as Envoy does.
   * `protocolOptionsType` is the full proto name expected in "@type".
   */
  readonly protocolOptionsType?: string;
  parseProtocolOptions?(proto: Record<string, unknown>, problems: ProblemSink): unknown;
  /**
   * MAIN and WORKER, optional: async work a parsed config needs before use (importing a
   * user's codec module). Main awaits it for the bootstrap's listeners before starting (a
   * rejection stops start-up with its message); a worker awaits it before
   * createFilterFactory.
   */
  prepare?(config: Config): Promise<void>;
}
