/**
 * courier.meta_protocol_proxy: the generic layer-7 RPC proxy (aeraki's MetaProtocol) whose
 * protocols are codec plug-ins. Config type courier.meta_protocol_proxy.v1.MetaProtocolProxy
 * (proto/courier/meta_protocol_proxy/); docs/meta-protocol.md.
 *
 * MAIN parses the config into plain data, checks built-in codecs' configs at once and user
 * codec modules in `prepare` (an import, so async). Each WORKER builds, once per snapshot, the
 * codec-backed RpcProtocol, the stats, the upstream pools, the filters and the route source
 * (an inline table, or MetaRDS read per request), then installs one RPC connection manager per
 * connection: the same engine as dubbo_proxy.
 */
import path from 'node:path';
import type { MainConfigContext, NetworkFilterConfigFactory, ProblemSink } from '../../../../api/network-filter.js';
import { RpcConnectionManager, type RpcDownstream } from '../../../../common/rpc/connection-manager.js';
import { FRAME_LIMIT_FIELDS, parseFrameLimits, type RpcFrameLimits } from '../../../../common/rpc/frame-limits.js';
import type { RpcDecoderFilter } from '../../../../common/rpc/rpc-filter.js';
import { RpcRouterFilter, type RpcRoute } from '../../../../common/rpc/rpc-router.js';
import { createRpcProxyStats } from '../../../../common/rpc/rpc-stats.js';
import { RpcUpstreamPools, type RpcUpstreamOptions } from '../../../../common/rpc/upstream-registry.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';
import { builtInCodec, checkCodecFactory, codecFactoryOf, prepareCodec, type CodecRef } from './codec-loader.js';
import { LOCAL_RATELIMIT_FILTER, LOCAL_RATELIMIT_TYPE, LocalRateLimitFilter, parseLocalRateLimit, type LocalRateLimitConfig } from './filters/local-ratelimit.js';
import { metaProtocol, type MetaFrame } from './meta-protocol.js';
import { MetaStreamFilter, MetaStreams } from './meta-streams.js';
import { parseMetaRouteConfiguration, type MetaRouteConfig } from './route/route-config.js';
import { EMPTY_META_ROUTE_TABLE, MetaRouteTable } from './route/route-table.js';

export const META_PROTOCOL_PROXY_FILTER_NAME = 'courier.meta_protocol_proxy';
const ROUTER_FILTER = 'courier.meta_protocol.filters.router';
const ROUTER_TYPE = 'courier.meta_protocol_proxy.filters.router.v1.Router';
/** aeraki's filter names, accepted so its configs read unchanged. */
const FILTER_ALIASES: Record<string, string> = {
  'aeraki.meta_protocol.filters.router': ROUTER_FILTER,
  'aeraki.meta_protocol.filters.local_ratelimit': LOCAL_RATELIMIT_FILTER,
};

export interface MetaProtocolProxyConfig {
  statPrefix: string;
  protocolName: string;
  codec: CodecRef;
  multiplexing: boolean;
  connectionsPerHost: number;
  /** Inline routes, or the MetaRDS provider key. */
  routes: { kind: 'static'; config: MetaRouteConfig } | { kind: 'rds'; key: string };
  rateLimits: LocalRateLimitConfig[];
  accessLogs: unknown[];
  idleTimeoutMs: number;
  frameLimits: RpcFrameLimits;
}

const SUPPORTED = ['stat_prefix', 'protocol', 'route_config', 'rds', 'meta_protocol_filters', 'access_log', 'idle_timeout', ...FRAME_LIMIT_FIELDS];

function parseCodec(protocol: Obj, multiplexing: boolean, problems: ProblemSink, configDir: string | undefined): CodecRef | undefined {
  const codec = obj(protocol['codec']) ?? {};
  const cp = problems.at('codec');
  rejectUnsupported(codec, ['name', 'config', 'module'], 'Codec', cp);
  const ref: CodecRef = { name: str(codec, 'name'), config: obj(codec['config']) ?? {} };
  const module = str(codec, 'module');
  if (module !== '') {
    // A path is relative to the config file that names it (a package name is left as is).
    ref.module = module.startsWith('.') && configDir !== undefined ? path.resolve(configDir, module) : module;
    return ref;
  }
  const builtIn = builtInCodec(ref.name);
  if (!builtIn) {
    cp.add('name', `unknown codec "${ref.name}": not built in (courier.meta_protocol.codec.dubbo, courier.meta_protocol.codec.thrift); name a user codec with "module"`);
    return undefined;
  }
  try {
    checkCodecFactory(builtIn, `codec ${ref.name}`, ref.config, multiplexing);
  } catch (e) {
    cp.add('config', (e as Error).message);
    return undefined;
  }
  return ref;
}

function parseConfig(p: Obj, problems: ProblemSink, ctx: MainConfigContext): MetaProtocolProxyConfig | undefined {
  rejectUnsupported(p, SUPPORTED, 'MetaProtocolProxy', problems);
  const statPrefix = str(p, 'stat_prefix');
  const protocol = obj(p['protocol']) ?? {};
  const pp = problems.at('protocol');
  rejectUnsupported(protocol, ['name', 'codec', 'multiplexing', 'connections_per_host'], 'ApplicationProtocol', pp);
  const multiplexing = protocol['multiplexing'] === true;
  const codec = parseCodec(protocol, multiplexing, pp, ctx.configDir);

  let routes: MetaProtocolProxyConfig['routes'] | undefined;
  const inline = obj(p['route_config']);
  const rds = obj(p['rds']);
  if (inline) routes = { kind: 'static', config: parseMetaRouteConfiguration(inline, problems.at('route_config')) };
  else if (rds) {
    const rp = problems.at('rds');
    const key = ctx.registerRds(obj(rds['config_source']) ?? {}, str(rds, 'route_config_name'), statPrefix, rp.at('config_source'), 'meta_protocol');
    if (key) routes = { kind: 'rds', key };
  }

  const rateLimits: LocalRateLimitConfig[] = [];
  const filters = list(p['meta_protocol_filters']);
  filters.forEach((f, i) => {
    const fp = problems.at(`meta_protocol_filters[${i}]`);
    const filter = obj(f) ?? {};
    const raw = str(filter, 'name');
    const name = FILTER_ALIASES[raw] ?? raw;
    const config = obj(filter['config']) ?? {};
    const type = String(config['@type'] ?? '').split('/').pop();
    const last = i === filters.length - 1;
    if (name === ROUTER_FILTER) {
      if (!last) fp.add('name', 'the router must be the last MetaProtocol filter');
      if (type && type !== ROUTER_TYPE) fp.add('config', `the router takes a ${ROUTER_TYPE}, not ${type}`);
    } else if (name === LOCAL_RATELIMIT_FILTER) {
      if (type !== LOCAL_RATELIMIT_TYPE) fp.add('config', `${LOCAL_RATELIMIT_FILTER} needs a config of type ${LOCAL_RATELIMIT_TYPE}`);
      else {
        const { ['@type']: _t, ...body } = config;
        rateLimits.push(parseLocalRateLimit(body, fp.at('config')));
      }
      if (last) fp.add('name', 'the last MetaProtocol filter must be the router');
    } else fp.add('name', `unknown MetaProtocol filter "${raw}" (${ROUTER_FILTER}, ${LOCAL_RATELIMIT_FILTER})`);
  });

  const accessLogs = list(p['access_log']).map((a, i) => ctx.parseAccessLog(obj(a) ?? {}, problems.at(`access_log[${i}]`)));
  if (!codec || !routes) return undefined;
  return {
    statPrefix,
    protocolName: str(protocol, 'name'),
    codec,
    multiplexing,
    connectionsPerHost: Math.max(1, num(protocol, 'connections_per_host', 1)),
    routes,
    rateLimits,
    accessLogs,
    idleTimeoutMs: durationMs(p, 'idle_timeout', 0),
    frameLimits: parseFrameLimits(p),
  };
}

export const metaProtocolProxyConfigFactory: NetworkFilterConfigFactory<MetaProtocolProxyConfig> = {
  name: META_PROTOCOL_PROXY_FILTER_NAME,
  configType: 'courier.meta_protocol_proxy.v1.MetaProtocolProxy',
  parseConfig,
  prepare: (config) => prepareCodec(config.codec, config.multiplexing),
  createFilterFactory(config, ctx) {
    const factory = codecFactoryOf(config.codec);
    const codecConfig = config.codec.config;
    const protocol = metaProtocol(config.protocolName, () => factory.createCodec(codecConfig));
    const scope = ctx.stats.scope(`meta_protocol.${config.statPrefix}`);
    const stats = createRpcProxyStats(scope);
    const options: RpcUpstreamOptions = {
      mode: config.multiplexing ? 'MULTIPLEXED' : 'EXCLUSIVE',
      requestTimeoutMs: 0,
      connectionsPerHost: config.connectionsPerHost,
    };
    const pools = new RpcUpstreamPools(protocol, () => options, stats.response_decoding_error);
    const routes = config.routes;
    const staticTable = routes.kind === 'static' ? new MetaRouteTable(routes.config, ctx.runtime) : undefined;
    const table = (): MetaRouteTable => {
      if (staticTable) return staticTable;
      const t = ctx.routeTables.get((routes as { key: string }).key);
      return t instanceof MetaRouteTable ? t : EMPTY_META_ROUTE_TABLE;
    };
    const route = (request: MetaFrame): RpcRoute | undefined => table().route(request.message.metadata);
    const router = new RpcRouterFilter<MetaFrame>({
      protocol,
      clusterManager: ctx.clusterManager,
      pools,
      route,
      describe: (request) => request.describe(),
    });
    const filters: RpcDecoderFilter<MetaFrame>[] = [
      ...config.rateLimits.map((rl) => new LocalRateLimitFilter(rl, scope, ctx.workerCount)),
      new MetaStreamFilter(route, ctx.clusterManager, scope.counter('request_stream')),
      router,
    ];
    const managerConfig = {
      protocol,
      stats,
      createFilters: () => filters,
      accessLoggers: config.accessLogs.map((a) => ctx.createAccessLogger(a)),
      idleTimeoutMs: config.idleTimeoutMs,
      idleTimeouts: scope.counter('idle_timeout'),
      frameLimits: config.frameLimits,
      createStreams: (downstream: RpcDownstream) => new MetaStreams(protocol, downstream),
    };
    return (manager) => manager.addReadFilter(new RpcConnectionManager<MetaFrame>(managerConfig));
  },
};
