/**
 * envoy.filters.network.http_connection_manager: config factory. Main parses
 * HttpConnectionManager v3 with a static inline route_config into plain data (the route table
 * is parsed by src/common/router/route-config.ts); each worker compiles the RouteTable once and
 * installs one HttpConnectionManager per connection. Dynamic routes (rds, scoped_routes) and
 * every HTTP filter but the router are refused by name until Courier implements them.
 */
import type { AccessLogConfig } from '../../../../common/access-log/access-log-config.js';
import type { MainConfigContext, NetworkFilterConfigFactory, ProblemSink, WorkerFilterContext } from '../../../../api/network-filter.js';
import { HttpConnectionManager, type HcmShared } from '../../../../common/http/connection-manager.js';
import { createHcmStats, type HcmConfig } from '../../../../common/http/hcm-config.js';
import { UpstreamHttpPools } from '../../../../common/http/upstream-http-pool.js';
import { parseRouteConfiguration, referencedClusters } from '../../../../common/router/route-config.js';
import { RouteTable } from '../../../../common/router/route-table.js';
import { list, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';

export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
const ROUTER_FILTER = 'envoy.filters.http.router';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';

const SUPPORTED = ['stat_prefix', 'codec_type', 'route_config', 'http_filters', 'access_log'];
const NOT_YET: Record<string, string> = {
  rds: 'rds is not supported by Courier yet; use an inline route_config',
  scoped_routes: 'scoped_routes is not supported by Courier yet; use an inline route_config',
};
const CODECS = ['AUTO', 'HTTP1'];

/**
 * One set of upstream HTTP pools per worker (keyed by the worker's stats store, which is one
 * per worker), so every HCM and every snapshot on a worker reuses the same idle connections.
 */
const workerPools = new WeakMap<object, UpstreamHttpPools>();

function parseConfig(p: Obj, problems: ProblemSink, ctx: MainConfigContext): HcmConfig | undefined {
  for (const [field, message] of Object.entries(NOT_YET)) if (p[field] !== undefined) problems.add(field, message);
  rejectUnsupported(p, [...SUPPORTED, ...Object.keys(NOT_YET)], 'HttpConnectionManager', problems);
  const codec = (p['codec_type'] as string | undefined) ?? 'AUTO';
  // AUTO would also sniff HTTP/2; Courier speaks HTTP/1.1 only, so AUTO means HTTP/1.1 here.
  if (!CODECS.includes(codec)) problems.add('codec_type', `codec_type ${codec} is not supported by Courier yet (AUTO, HTTP1)`);
  list(p['http_filters']).forEach((f, i) => {
    const filter = obj(f) ?? {};
    const fp = problems.at(`http_filters[${i}]`);
    rejectUnsupported(filter, ['name', 'typed_config'], 'HttpFilter', fp);
    const name = str(filter, 'name');
    const type = String(obj(filter['typed_config'])?.['@type'] ?? '');
    const routerByType = type.endsWith(ROUTER_TYPE);
    if (name !== ROUTER_FILTER && !routerByType) {
      fp.add('name', `http filter "${name}" is not supported by Courier yet (only ${ROUTER_FILTER})`);
    } else if (i !== list(p['http_filters']).length - 1) {
      fp.add('name', `${ROUTER_FILTER} must be the last http filter`);
    }
  });
  const rawRoutes = obj(p['route_config']);
  if (!rawRoutes) {
    if (p['rds'] === undefined && p['scoped_routes'] === undefined) problems.add('route_config', 'route_config is required (Courier supports static routes only)');
    return undefined;
  }
  const rp = problems.at('route_config');
  const routeConfig = parseRouteConfiguration(rawRoutes, rp);
  if (!routeConfig) return undefined;
  // validate_clusters defaults to true for a static route_config, as in Envoy.
  if (routeConfig.validateClusters !== false) {
    for (const name of referencedClusters(routeConfig)) {
      if (!ctx.clusterNames.has(name)) rp.add('virtual_hosts', `route references unknown cluster '${name}' (set validate_clusters: false to allow it)`);
    }
  }
  const config: HcmConfig = { statPrefix: str(p, 'stat_prefix'), routeConfig, accessLogs: [] };
  list(p['access_log']).forEach((a, i) => {
    const parsed = ctx.parseAccessLog(obj(a) ?? {}, problems.at(`access_log[${i}]`)) as AccessLogConfig | undefined;
    if (parsed) config.accessLogs.push(parsed);
  });
  return config;
}

function poolsFor(stats: WorkerFilterContext['stats']): UpstreamHttpPools {
  let pools = workerPools.get(stats);
  if (!pools) workerPools.set(stats, (pools = new UpstreamHttpPools(stats)));
  return pools;
}

export const httpConnectionManagerConfigFactory: NetworkFilterConfigFactory<HcmConfig> = {
  name: HCM_FILTER_NAME,
  configType: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  parseConfig,
  createFilterFactory(config, ctx) {
    const table = new RouteTable(config.routeConfig);
    const shared: HcmShared = {
      stats: createHcmStats(ctx.stats.scope(`http.${config.statPrefix}`)),
      routeTable: () => table,
      clusterManager: ctx.clusterManager,
      pools: poolsFor(ctx.stats),
      accessLoggers: config.accessLogs.map((a) => ctx.createAccessLogger(a)),
    };
    return (manager) => manager.addReadFilter(new HttpConnectionManager(shared));
  },
};
