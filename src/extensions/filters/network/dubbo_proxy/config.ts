/**
 * envoy.filters.network.dubbo_proxy: config factory. Main parses DubboProxy v3 (and the
 * cluster's DubboProtocolOptions); each worker builds the route matcher, the stats and the
 * upstream pools once, and installs one RPC connection manager per connection. The engine is
 * protocol-neutral (src/common/rpc/); Dubbo brings its codec and its route matcher.
 */
import type { ThreadLocalCluster } from '../../../../api/cluster.js';
import type { MainConfigContext, NetworkFilterConfigFactory, ProblemSink } from '../../../../api/network-filter.js';
import { RpcConnectionManager } from '../../../../common/rpc/connection-manager.js';
import { RpcRouterFilter } from '../../../../common/rpc/rpc-router.js';
import { createRpcProxyStats } from '../../../../common/rpc/rpc-stats.js';
import { DEFAULT_RPC_UPSTREAM_OPTIONS, RpcUpstreamPools, type RpcUpstreamOptions } from '../../../../common/rpc/upstream-registry.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';
import { dubboProtocol, type DubboRpcFrame } from './dubbo-protocol.js';
import { parseDubboRouteTable, type DubboRouteTable } from './router/route-config.js';
import { DubboRouteMatcher } from './router/route-matcher.js';

export const DUBBO_PROXY_FILTER_NAME = 'envoy.filters.network.dubbo_proxy';
const ROUTER_FILTER = 'envoy.filters.dubbo.router';

export interface DubboProxyConfig {
  statPrefix: string;
  /** Inline routes, or the drds provider key (routes read per request on the worker). */
  routes: { kind: 'static'; table: DubboRouteTable } | { kind: 'drds'; key: string };
}

const SUPPORTED = ['stat_prefix', 'protocol_type', 'serialization_type', 'route_config', 'multiple_route_config', 'dubbo_filters', 'drds'];

function parseConfig(p: Obj, problems: ProblemSink, ctx: MainConfigContext): DubboProxyConfig | undefined {
  rejectUnsupported(p, SUPPORTED, 'DubboProxy', problems);
  const protocol = (p['protocol_type'] as string | undefined) ?? 'Dubbo';
  if (protocol !== 'Dubbo') problems.add('protocol_type', `protocol_type ${protocol} is not supported (Dubbo)`);
  const serialization = (p['serialization_type'] as string | undefined) ?? 'Hessian2';
  if (serialization !== 'Hessian2') problems.add('serialization_type', `serialization_type ${serialization} is not supported (Hessian2)`);
  list(p['dubbo_filters']).forEach((f, i) => {
    const filter = obj(f) ?? {};
    const fp = problems.at(`dubbo_filters[${i}]`);
    rejectUnsupported(filter, ['name', 'config'], 'DubboFilter', fp);
    const name = str(filter, 'name');
    if (name !== ROUTER_FILTER) fp.add('name', `dubbo filter "${name}" is not supported by Courier (${ROUTER_FILTER})`);
  });
  const statPrefix = str(p, 'stat_prefix');
  const drds = obj(p['drds']);
  if (drds) {
    if (p['route_config'] !== undefined || p['multiple_route_config'] !== undefined) {
      problems.add('drds', 'drds and route_config/multiple_route_config are both set; use only one');
    }
    const dp = problems.at('drds');
    const key = ctx.registerRds(obj(drds['config_source']) ?? {}, str(drds, 'route_config_name'), statPrefix, dp.at('config_source'), 'dubbo');
    return key ? { statPrefix, routes: { kind: 'drds', key } } : undefined;
  }
  return { statPrefix, routes: { kind: 'static', table: parseDubboRouteTable(p, problems) } };
}

const MODES = ['EXCLUSIVE', 'MULTIPLEXED'] as const;

function parseProtocolOptions(o: Obj, problems: ProblemSink): RpcUpstreamOptions {
  rejectUnsupported(o, ['upstream_mode', 'request_timeout', 'connections_per_host'], 'DubboProtocolOptions', problems);
  const mode = (o['upstream_mode'] as string | undefined) ?? 'EXCLUSIVE';
  if (!(MODES as readonly string[]).includes(mode)) problems.add('upstream_mode', `unknown upstream_mode ${mode}`);
  return {
    mode: mode as RpcUpstreamOptions['mode'],
    requestTimeoutMs: durationMs(o, 'request_timeout', 0),
    connectionsPerHost: num(o, 'connections_per_host', 1),
  };
}

function upstreamOptions(cluster: ThreadLocalCluster): RpcUpstreamOptions {
  return (cluster.protocolOptions[DUBBO_PROXY_FILTER_NAME] as RpcUpstreamOptions | undefined) ?? DEFAULT_RPC_UPSTREAM_OPTIONS;
}

export const dubboProxyConfigFactory: NetworkFilterConfigFactory<DubboProxyConfig> = {
  name: DUBBO_PROXY_FILTER_NAME,
  configType: 'envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy',
  protocolOptionsType: 'courier.extensions.filters.network.dubbo_proxy.v1.DubboProtocolOptions',
  parseConfig,
  parseProtocolOptions,
  createFilterFactory(config, ctx) {
    const stats = createRpcProxyStats(ctx.stats.scope(`dubbo.${config.statPrefix}`));
    const routes = config.routes;
    const staticMatcher = routes.kind === 'static' ? new DubboRouteMatcher(routes.table.routeConfigs) : undefined;
    const emptyMatcher = new DubboRouteMatcher([]);
    const matcher = (): DubboRouteMatcher => {
      if (staticMatcher) return staticMatcher;
      const m = ctx.routeTables.get((routes as { key: string }).key);
      return m instanceof DubboRouteMatcher ? m : emptyMatcher;
    };
    const pools = new RpcUpstreamPools(dubboProtocol, upstreamOptions, stats.response_decoding_error);
    const router = new RpcRouterFilter<DubboRpcFrame>({
      protocol: dubboProtocol,
      clusterManager: ctx.clusterManager,
      pools,
      route: (request) => matcher().route(request, Math.random()),
      describe: (request) => request.describe(),
    });
    const filters = [router];
    const managerConfig = { protocol: dubboProtocol, stats, createFilters: () => filters, accessLoggers: [] };
    return (manager) => manager.addReadFilter(new RpcConnectionManager<DubboRpcFrame>(managerConfig));
  },
};
