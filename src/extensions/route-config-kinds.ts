/**
 * The kinds of dynamic route configuration, one provider machinery (Envoy's generic Rds):
 * - `http`: the HCM's RDS, envoy.config.route.v3.RouteConfiguration;
 * - `meta_protocol`: MetaRDS, the same resource type (so any xDS server can serve it) read as
 *   MetaProtocol routes;
 * - `dubbo`: dubbo_proxy's drds, a dubbo_proxy.v3.MultipleRouteConfiguration.
 * MAIN parses and validates (`parse`, `clusters`); each WORKER compiles the accepted plain
 * config (`compile`). Provider keys of kinds other than `http` start with `<kind>:`.
 */
import type { ProblemSink, RouteTableLike } from '../api/network-filter.js';
import type { RuntimeLoader } from '../api/runtime.js';
import { parseRouteConfiguration, referencedClusters, type RouteConfig } from '../common/router/route-config.js';
import { RouteTable } from '../common/router/route-table.js';
import type { RouteConfigKindName } from '../config/server-config.js';
import { DUBBO_MULTIPLE_ROUTE_CONFIGURATION, ROUTE_CONFIGURATION } from '../xds/resource-type.js';
import { dubboRouteClusters, parseMultipleRouteConfiguration, type DubboRouteTable } from './filters/network/dubbo_proxy/router/route-config.js';
import { DubboRouteMatcher } from './filters/network/dubbo_proxy/router/route-matcher.js';
import {
  metaRouteClusters,
  parseMetaRouteConfigurationFromRds,
  type MetaRouteConfig,
} from './filters/network/meta_protocol_proxy/route/route-config.js';
import { EMPTY_META_ROUTE_TABLE, MetaRouteTable } from './filters/network/meta_protocol_proxy/route/route-table.js';

export interface RouteConfigKind {
  /** The resource type subscribed to. */
  readonly typeUrl: string;
  /** Provider stats: `<statRoot>.<stat_prefix>.<statSegment>.<name>.` (http.x.rds.y, dubbo.x.drds.y). */
  readonly statRoot: string;
  readonly statSegment: string;
  /** MAIN: the checked resource → plain config, or undefined after reporting problems. */
  parse(resource: Record<string, unknown>, problems: ProblemSink): unknown;
  /** MAIN: clusters named (for validate_clusters); `strict` says whether they must exist. */
  clusters(config: unknown): { names: string[]; strict: boolean };
  /** WORKER: the table requests read; `runtime` is the worker's (runtime_fraction reads it). */
  compile(config: unknown, runtime: RuntimeLoader): RouteTableLike;
  /** WORKER: the table before the first update. */
  empty(): RouteTableLike;
}

/** Envoy's empty route table before the first RDS update: every request gets 404 NR. */
const EMPTY_HTTP_ROUTE_CONFIG: RouteConfig = {
  name: '',
  virtualHosts: [],
  requestHeaders: { add: [], remove: [] },
  responseHeaders: { add: [], remove: [] },
  internalOnlyHeaders: [],
  validateClusters: false,
  mostSpecificHeaderMutationsWins: false,
  ignorePortInHostMatching: false,
  ignorePathParametersInPathMatching: false,
};
let emptyHttp: RouteTable | undefined;
let emptyDubbo: DubboRouteMatcher | undefined;

export const ROUTE_CONFIG_KINDS: Readonly<Record<RouteConfigKindName, RouteConfigKind>> = {
  http: {
    typeUrl: ROUTE_CONFIGURATION.typeUrl,
    statRoot: 'http',
    statSegment: 'rds',
    parse: (resource, problems) => parseRouteConfiguration(resource, problems),
    // validate_clusters defaults to false for RDS (Envoy): unknown clusters give 503 NC later.
    clusters: (config) => ({ names: referencedClusters(config as RouteConfig), strict: (config as RouteConfig).validateClusters === true }),
    compile: (config, runtime) => new RouteTable(config as RouteConfig, { runtime }),
    empty: () => (emptyHttp ??= new RouteTable(EMPTY_HTTP_ROUTE_CONFIG)),
  },
  meta_protocol: {
    typeUrl: ROUTE_CONFIGURATION.typeUrl,
    statRoot: 'meta_protocol',
    statSegment: 'rds',
    parse: (resource, problems) => parseMetaRouteConfigurationFromRds(resource, problems),
    clusters: (config) => ({ names: metaRouteClusters(config as MetaRouteConfig), strict: false }),
    compile: (config, runtime) => new MetaRouteTable(config as MetaRouteConfig, runtime),
    empty: () => EMPTY_META_ROUTE_TABLE,
  },
  dubbo: {
    typeUrl: DUBBO_MULTIPLE_ROUTE_CONFIGURATION.typeUrl,
    statRoot: 'dubbo',
    statSegment: 'drds',
    parse: (resource, problems) => parseMultipleRouteConfiguration(resource, problems),
    clusters: (config) => ({ names: dubboRouteClusters(config as DubboRouteTable), strict: false }),
    compile: (config) => new DubboRouteMatcher((config as DubboRouteTable).routeConfigs),
    empty: () => (emptyDubbo ??= new DubboRouteMatcher([])),
  },
};

/**
 * A route-config provider's key: equal (kind, config source, name) triples share a provider.
 * HTTP keys carry no kind prefix; the others start with `<kind>:` (routeConfigKindOfKey).
 */
export function routeConfigProviderKey(kind: RouteConfigKindName, routeConfigName: string, sourceHash: string): string {
  return `${kind === 'http' ? '' : `${kind}:`}${routeConfigName}@${sourceHash}`;
}

/** The kind a provider key belongs to (see routeConfigProviderKey). */
export function routeConfigKindOfKey(key: string): RouteConfigKind {
  if (key.startsWith('meta_protocol:')) return ROUTE_CONFIG_KINDS.meta_protocol;
  if (key.startsWith('dubbo:')) return ROUTE_CONFIG_KINDS.dubbo;
  return ROUTE_CONFIG_KINDS.http;
}
