/**
 * envoy.filters.network.tcp_proxy: config factory. Main parses TcpProxy v3 into plain data;
 * each worker builds the shared part once and installs one TcpProxyFilter per connection.
 * The engine lives in src/common/tcp-proxy/ (as Envoy keeps it in source/common/tcp_proxy).
 */
import type { AccessLogConfig } from '../../../../common/access-log/access-log-config.js';
import type { NetworkFilterConfigFactory, ProblemSink, MainConfigContext } from '../../../../api/network-filter.js';
import { createTcpProxyStats, type TcpProxyConfig } from '../../../../common/tcp-proxy/tcp-proxy-config.js';
import { TcpProxyFilter, type TcpProxySharedConfig } from '../../../../common/tcp-proxy/tcp-proxy-filter.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../config/plain-reader.js';
import { reportUnknownClusters } from '../../../../config/cluster-references.js';

const SUPPORTED = [
  'stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout', 'max_connect_attempts', 'backoff_options',
  'hash_policy', 'max_downstream_connection_duration', 'access_log',
];
const ONE_HOUR_MS = 3600_000;

function parseConfig(p: Obj, problems: ProblemSink, ctx: MainConfigContext): TcpProxyConfig | undefined {
  rejectUnsupported(p, SUPPORTED, 'TcpProxy', problems);
  const config: TcpProxyConfig = {
    statPrefix: str(p, 'stat_prefix'),
    idleTimeoutMs: durationMs(p, 'idle_timeout', ONE_HOUR_MS),
    maxConnectAttempts: num(p, 'max_connect_attempts', 1),
    hashSourceIp: false,
    accessLogs: [],
  };
  if (typeof p['cluster'] === 'string') config.cluster = p['cluster'];
  const wc = obj(p['weighted_clusters']);
  if (wc) {
    const wp = problems.at('weighted_clusters');
    rejectUnsupported(wc, ['clusters'], 'WeightedCluster', wp);
    config.weightedClusters = list(wc['clusters']).map((e, i) => {
      const entry = obj(e) ?? {};
      rejectUnsupported(entry, ['name', 'weight'], 'ClusterWeight', wp.at(`clusters[${i}]`));
      return { name: str(entry, 'name'), weight: num(entry, 'weight', 0) };
    });
    if (config.weightedClusters.length === 0) wp.add('clusters', 'at least one cluster is required');
  }
  const refs = [
    ...(config.cluster !== undefined ? [{ path: 'cluster', name: config.cluster }] : []),
    ...(config.weightedClusters ?? []).map((w, i) => ({ path: `weighted_clusters.clusters[${i}].name`, name: w.name })),
  ];
  reportUnknownClusters(refs, ctx, problems, false);
  const backoff = obj(p['backoff_options']);
  if (backoff) {
    const bp = problems.at('backoff_options');
    rejectUnsupported(backoff, ['base_interval', 'max_interval'], 'BackoffStrategy', bp);
    const base = durationMs(backoff, 'base_interval', undefined);
    if (base === undefined || base < 1) bp.add('base_interval', 'base_interval of at least 1ms is required');
    const max = durationMs(backoff, 'max_interval', (base ?? 0) * 10);
    if (base !== undefined && max < base) bp.add('max_interval', 'max_interval must not be less than base_interval');
    config.backoff = { baseIntervalMs: base ?? 1, maxIntervalMs: max };
  }
  list(p['hash_policy']).forEach((h, i) => {
    const policy = obj(h) ?? {};
    const hp = problems.at(`hash_policy[${i}]`);
    if (obj(policy['source_ip'])) config.hashSourceIp = true;
    else hp.add(Object.keys(policy)[0] ?? '', 'only the source_ip hash policy is supported by Courier yet');
  });
  const maxDuration = durationMs(p, 'max_downstream_connection_duration', undefined);
  if (maxDuration !== undefined) config.maxDownstreamConnectionDurationMs = maxDuration;
  list(p['access_log']).forEach((a, i) => {
    const parsed = ctx.parseAccessLog(obj(a) ?? {}, problems.at(`access_log[${i}]`)) as AccessLogConfig | undefined;
    if (parsed) config.accessLogs.push(parsed);
  });
  return config;
}

export const tcpProxyConfigFactory: NetworkFilterConfigFactory<TcpProxyConfig> = {
  name: 'envoy.filters.network.tcp_proxy',
  configType: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  parseConfig,
  createFilterFactory(config, ctx) {
    const shared: TcpProxySharedConfig = {
      config,
      stats: createTcpProxyStats(ctx.stats.scope(`tcp.${config.statPrefix}`)),
      clusterManager: ctx.clusterManager,
      accessLoggers: config.accessLogs.map((a) => ctx.createAccessLogger(a)),
      totalWeight: (config.weightedClusters ?? []).reduce((s, e) => s + e.weight, 0),
    };
    return (manager) => manager.addReadFilter(new TcpProxyFilter(shared));
  },
};
