/**
 * envoy.filters.network.http_connection_manager: config factory. Main parses
 * HttpConnectionManager v3 into plain data: a static inline route_config (parsed by
 * src/common/router/route-config.ts; each worker compiles its RouteTable once per snapshot),
 * or `rds`, which main registers with the bootstrap (one RDS provider per (config_source,
 * route_config_name), src/server/route-config-provider-manager.ts) and which the worker reads
 * from its `routes` slot once per request (src/worker/route-tables.ts). scoped_routes and
 * every HTTP filter but the router are refused by name until Courier implements them.
 */
import { NO_OVERLOAD } from '../../../../api/overload.js';
import type { AccessLogConfig } from '../../../../common/access-log/access-log-config.js';
import type { MainConfigContext, NetworkFilterConfigFactory, ProblemSink, WorkerFilterContext } from '../../../../api/network-filter.js';
import { HttpConnectionManager, type HcmShared } from '../../../../common/http/connection-manager.js';
import {
  createHcmStats,
  createHttp1CodecStats,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_HEADERS_TIMEOUT_MS,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  type HcmConfig,
  type HcmUpgradeConfig,
} from '../../../../common/http/hcm-config.js';
import { UpstreamHttpPools } from '../../../../common/http/upstream-http-pool.js';
import { parseRouteConfiguration, parseUpgradeConfigs, type UpgradeConfigsLevel } from '../../../../common/router/route-config.js';
import { reportUnknownClusters, routeClusterReferences } from '../../../../config/cluster-references.js';
import { RouteTable } from '../../../../common/router/route-table.js';
import { HEADERS_WITH_UNDERSCORES_ACTIONS, type HeadersWithUnderscoresAction } from '../../../../common/http/underscore-headers.js';
import { DEFAULT_MAX_HEADER_COUNT } from '../../../../common/http/http1-parser.js';
import { ForwardedHeaders } from '../../../../common/http/forwarded-headers.js';
import { bool, durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';
import { parseRequestOptions, REQUEST_OPTION_FIELDS } from './request-options.js';

export const HCM_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
const ROUTER_FILTER = 'envoy.filters.http.router';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';

const SUPPORTED = [
  'stat_prefix',
  'codec_type',
  'route_config',
  'rds',
  'http_filters',
  'access_log',
  'upgrade_configs',
  'http_protocol_options',
  'stream_idle_timeout',
  'request_headers_timeout',
  'common_http_protocol_options',
  ...REQUEST_OPTION_FIELDS,
];
/** The HttpProtocolOptions fields an HCM honours (the rest are refused by name). */
const COMMON_HTTP_OPTIONS = ['idle_timeout', 'max_connection_duration', 'max_requests_per_connection', 'max_headers_count', 'headers_with_underscores_action', 'max_stream_duration'];
const NOT_YET: Record<string, string> = {
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
  const statPrefix = str(p, 'stat_prefix');
  const upgrades = parseHcmUpgradeConfigs(p, problems);
  const h1 = obj(p['http_protocol_options']) ?? {};
  rejectUnsupported(
    h1,
    ['accept_http_10', 'default_host_for_http_10', 'enable_trailers', 'allow_custom_methods'],
    'Http1ProtocolOptions',
    problems.at('http_protocol_options'),
  );
  const acceptHttp10 = bool(h1, 'accept_http_10', false);
  const enableTrailers = bool(h1, 'enable_trailers', false);
  const allowCustomMethods = bool(h1, 'allow_custom_methods', false);
  const defaultHostForHttp10 = str(h1, 'default_host_for_http_10');
  if (/[\0\r\n]/.test(defaultHostForHttp10)) problems.add('http_protocol_options.default_host_for_http_10', 'must not contain NUL, CR or LF');
  const base = {
    statPrefix,
    request: parseRequestOptions(p, problems),
    upgrades,
    acceptHttp10,
    defaultHostForHttp10,
    enableTrailers,
    allowCustomMethods,
    streamIdleTimeoutMs: durationMs(p, 'stream_idle_timeout', DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    requestHeadersTimeoutMs: durationMs(p, 'request_headers_timeout', DEFAULT_REQUEST_HEADERS_TIMEOUT_MS),
    ...parseCommonHttpProtocolOptions(p, problems),
  };
  const accessLogs: AccessLogConfig[] = [];
  list(p['access_log']).forEach((a, i) => {
    const parsed = ctx.parseAccessLog(obj(a) ?? {}, problems.at(`access_log[${i}]`)) as AccessLogConfig | undefined;
    if (parsed) accessLogs.push(parsed);
  });
  const rds = obj(p['rds']);
  if (rds) {
    const rp = problems.at('rds');
    rejectUnsupported(rds, ['config_source', 'route_config_name'], 'Rds', rp);
    const name = str(rds, 'route_config_name');
    const source = obj(rds['config_source']);
    if (!source) {
      rp.add('config_source', 'config_source is required');
      return undefined;
    }
    const key = ctx.registerRds(source, name, statPrefix, rp.at('config_source'));
    return key === undefined ? undefined : { ...base, routes: { kind: 'rds', key, name }, accessLogs };
  }
  const rawRoutes = obj(p['route_config']);
  if (!rawRoutes) {
    if (p['scoped_routes'] === undefined) problems.add('route_config', 'route_config or rds is required');
    return undefined;
  }
  const rp = problems.at('route_config');
  const routeConfig = parseRouteConfiguration(rawRoutes, rp);
  if (!routeConfig) return undefined;
  // validate_clusters defaults to true for a static route_config, as in Envoy.
  if (routeConfig.validateClusters !== false) {
    reportUnknownClusters(routeClusterReferences(rawRoutes), ctx, rp, true, ' (set validate_clusters: false to allow it)');
  }
  return { ...base, routes: { kind: 'static', config: routeConfig }, accessLogs };
}

/**
 * common_http_protocol_options (core.v3.HttpProtocolOptions) for downstream connections:
 * idle_timeout (Envoy's default 1 hour; 0s disables it), max_connection_duration (none by
 * default), max_requests_per_connection (none by default), max_stream_duration (none by
 * default), max_headers_count (100; more fields
 * get 431), headers_with_underscores_action (ALLOW).
 */
function parseCommonHttpProtocolOptions(
  p: Obj,
  problems: ProblemSink,
): Pick<HcmConfig, 'idleTimeoutMs' | 'maxConnectionDurationMs' | 'maxRequestsPerConnection' | 'maxStreamDurationMs' | 'maxHeadersCount' | 'headersWithUnderscoresAction'> {
  const o = obj(p['common_http_protocol_options']) ?? {};
  const op = problems.at('common_http_protocol_options');
  rejectUnsupported(o, COMMON_HTTP_OPTIONS, 'HttpProtocolOptions', op);
  const maxHeadersCount = num(o, 'max_headers_count', DEFAULT_MAX_HEADER_COUNT);
  if (!Number.isInteger(maxHeadersCount) || maxHeadersCount < 1) op.add('max_headers_count', `must be at least 1, got ${maxHeadersCount}`);
  const underscores = str(o, 'headers_with_underscores_action', 'ALLOW');
  if (!(HEADERS_WITH_UNDERSCORES_ACTIONS as readonly string[]).includes(underscores)) {
    op.add('headers_with_underscores_action', `unknown headers_with_underscores_action ${underscores} (one of ${HEADERS_WITH_UNDERSCORES_ACTIONS.join(', ')})`);
  }
  return {
    maxStreamDurationMs: durationMs(o, 'max_stream_duration', 0),
    maxHeadersCount,
    headersWithUnderscoresAction: underscores as HeadersWithUnderscoresAction,
    idleTimeoutMs: durationMs(o, 'idle_timeout', DEFAULT_IDLE_TIMEOUT_MS),
    maxConnectionDurationMs: durationMs(o, 'max_connection_duration', 0),
    maxRequestsPerConnection: num(o, 'max_requests_per_connection', 0),
  };
}

const HCM_UPGRADES: UpgradeConfigsLevel = {
  what: 'UpgradeConfig',
  extraFields: ['filters'],
  duplicate: (raw) => `Error: multiple upgrade configs with the same name: '${raw}'`,
};

/**
 * upgrade_configs (HttpConnectionManager.UpgradeConfig). Custom upgrade filter chains are
 * refused until Courier implements them.
 */
function parseHcmUpgradeConfigs(p: Obj, problems: ProblemSink): HcmUpgradeConfig[] {
  return parseUpgradeConfigs(p['upgrade_configs'], problems, HCM_UPGRADES).map(({ type, enabled, entry, problems: up }) => {
    if (list(entry['filters']).length > 0) {
      up.add('filters', 'UpgradeConfig.filters is not supported by Courier yet (upgrades use the HCM filter chain, the router)');
    }
    return { type, enabled };
  });
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
    let routeTable: () => RouteTable;
    if (config.routes.kind === 'static') {
      const table = new RouteTable(config.routes.config, { runtime: ctx.runtime });
      routeTable = () => table;
    } else {
      // The worker rebuilds its tables once per `routes` slot update; a request reads the
      // current one once (connection-manager.ts) and keeps it. Before the first accepted
      // update the table is empty: every request gets 404 NR, as in Envoy.
      const key = config.routes.key;
      const routes = ctx.routeTables;
      routeTable = () => routes.get(key) as RouteTable;
    }
    const shared: HcmShared = {
      options: {
        upgrades: new Map(config.upgrades.map((u) => [u.type, u.enabled])),
        acceptHttp10: config.acceptHttp10,
        defaultHostForHttp10: config.defaultHostForHttp10,
        enableTrailers: config.enableTrailers,
        allowCustomMethods: config.allowCustomMethods,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs,
        requestHeadersTimeoutMs: config.requestHeadersTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        maxConnectionDurationMs: config.maxConnectionDurationMs,
        maxRequestsPerConnection: config.maxRequestsPerConnection,
        maxHeadersCount: config.maxHeadersCount,
        maxRequestHeaderBytes: config.request.maxRequestHeaderBytes,
        headersWithUnderscoresAction: config.headersWithUnderscoresAction,
        forwarding: new ForwardedHeaders(config.request.forwarding),
        requestId: config.request.requestId,
        serverHeader: config.request.serverHeader,
        pathNormalization: config.request.pathNormalization,
        requestTimeoutMs: config.request.requestTimeoutMs,
        maxStreamDurationMs: config.maxStreamDurationMs,
      },
      stats: createHcmStats(ctx.stats.scope(`http.${config.statPrefix}`)),
      codecStats: createHttp1CodecStats(ctx.stats),
      routeTable,
      clusterManager: ctx.clusterManager,
      pools: poolsFor(ctx.stats),
      accessLoggers: config.accessLogs.map((a) => ctx.createAccessLogger(a)),
      overload: ctx.overload ?? NO_OVERLOAD,
    };
    return (manager) => manager.addReadFilter(new HttpConnectionManager(shared));
  },
};
