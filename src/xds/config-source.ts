/**
 * envoy.config.core.v3.ConfigSource (and the bootstrap's ads_config ApiConfigSource) →
 * Courier's plain XdsConfigSource. MAIN process, at config time; problems go to a ProblemSink
 * with field paths, like every other translator. Input is decodeMessage() output (Durations in
 * ms, enums by name).
 *
 * Supported: `ads {}`; `api_config_source {api_type: GRPC, transport_api_version: V3 (or unset: AUTO is V3),
 * grpc_services: [{envoy_grpc: {cluster_name}}]}` where the cluster is a static cluster of the
 * bootstrap (STATIC, STRICT_DNS or LOGICAL_DNS; its first endpoint is the server's address);
 * `path_config_source {path, watched_directory}`; the deprecated `path`;
 * `initial_fetch_timeout` (default 15 s, 0 disables); `resource_api_version` (V3 or AUTO);
 * `envoy_grpc.retry_policy.retry_back_off` (the stream's reconnect backoff).
 * Refused by name: DELTA_GRPC (not yet), REST, google_grpc, `self`, `authorities`.
 */
import type { ProblemSink } from '../api/network-filter.js';
import { formatAddress } from '../config/address.js';
import { durationMs, list, obj, rejectUnsupported, str, type Obj } from '../config/plain-reader.js';
import type { ClusterConfig } from '../config/server-config.js';
import { canonicalJson } from './stable-hash.js';

/** Envoy's default initial_fetch_timeout. */
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;

/** A gRPC management server, from an ApiConfigSource. */
export interface XdsGrpcServer {
  /** The bootstrap cluster named by envoy_grpc.cluster_name. */
  readonly clusterName: string;
  /** Host (IP or DNS name) and port of that cluster's first endpoint. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 in brackets), as grpc-js takes it. */
  readonly target: string;
  /** Stream retry backoff from envoy_grpc.retry_policy.retry_back_off (else base 500 ms, max 30 s). */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number } | undefined;
}

export type XdsConfigSource =
  /** Over the bootstrap's ADS stream (dynamic_resources.ads_config). */
  | { readonly kind: 'ads'; readonly initialFetchTimeoutMs: number }
  /** A per-type SotW stream of its own (RouteDiscoveryService.StreamRoutes...). */
  | { readonly kind: 'grpc'; readonly server: XdsGrpcServer; readonly initialFetchTimeoutMs: number }
  /** A watched file holding a DiscoveryResponse. */
  | {
      readonly kind: 'path';
      readonly path: string;
      readonly watchedDirectory?: string | undefined;
      readonly initialFetchTimeoutMs: number;
    };

/** What parsing needs from the bootstrap. */
export interface ConfigSourceContext {
  /** The bootstrap's static clusters. */
  readonly clusters: ReadonlyArray<Pick<ClusterConfig, 'name' | 'type' | 'endpoints'>>;
  /** Whether dynamic_resources.ads_config is set; undefined skips the check. */
  readonly adsConfigured?: boolean | undefined;
}

const CONFIG_SOURCE_FIELDS = [
  'ads',
  'api_config_source',
  'path_config_source',
  'path',
  'initial_fetch_timeout',
  'resource_api_version',
];
const API_CONFIG_SOURCE_FIELDS = ['api_type', 'transport_api_version', 'grpc_services', 'set_node_on_first_message_only'];

/** Parses a ConfigSource (HCM rds.config_source, eds_config, lds_config...). */
export function parseConfigSource(cs: Obj, problems: ProblemSink, ctx: ConfigSourceContext): XdsConfigSource | undefined {
  for (const key of ['self', 'authorities']) {
    if (cs[key] !== undefined) problems.add(key, `ConfigSource.${key} is not supported by Courier yet`);
  }
  rejectUnsupported(
    Object.fromEntries(Object.entries(cs).filter(([k]) => k !== 'self' && k !== 'authorities')),
    CONFIG_SOURCE_FIELDS,
    'ConfigSource',
    problems,
  );
  const rav = str(cs, 'resource_api_version', 'AUTO');
  if (rav !== 'AUTO' && rav !== 'V3') problems.add('resource_api_version', `resource_api_version ${rav} is not supported: set V3 or leave it unset (AUTO means V3)`);
  const initialFetchTimeoutMs = durationMs(cs, 'initial_fetch_timeout', DEFAULT_INITIAL_FETCH_TIMEOUT_MS);
  if (obj(cs['ads'])) {
    rejectUnsupported(obj(cs['ads'])!, [], 'AggregatedConfigSource', problems.at('ads'));
    if (ctx.adsConfigured === false) {
      problems.add('ads', 'ads: {} needs dynamic_resources.ads_config in the bootstrap');
      return undefined;
    }
    return { kind: 'ads', initialFetchTimeoutMs };
  }
  const acs = obj(cs['api_config_source']);
  if (acs) {
    const server = parseApiConfigSource(acs, problems.at('api_config_source'), ctx, false);
    return server ? { kind: 'grpc', server, initialFetchTimeoutMs } : undefined;
  }
  const pcs = obj(cs['path_config_source']);
  if (pcs) {
    const p = problems.at('path_config_source');
    rejectUnsupported(pcs, ['path', 'watched_directory'], 'PathConfigSource', p);
    const file = str(pcs, 'path');
    if (file === '') {
      p.add('path', 'path is required');
      return undefined;
    }
    const wd = obj(pcs['watched_directory']);
    let watchedDirectory: string | undefined;
    if (wd) {
      rejectUnsupported(wd, ['path'], 'WatchedDirectory', p.at('watched_directory'));
      watchedDirectory = str(wd, 'path') || undefined;
    }
    return { kind: 'path', path: file, watchedDirectory, initialFetchTimeoutMs };
  }
  if (typeof cs['path'] === 'string' && cs['path'] !== '') {
    return { kind: 'path', path: cs['path'], initialFetchTimeoutMs };
  }
  problems.add('', 'ConfigSource needs one of ads, api_config_source, path_config_source or path');
  return undefined;
}

/**
 * Parses an ApiConfigSource: a ConfigSource's api_config_source (`forAds` false: api_type
 * GRPC) or the bootstrap's dynamic_resources.ads_config (`forAds` true: GRPC or
 * AGGREGATED_GRPC).
 */
export function parseApiConfigSource(acs: Obj, problems: ProblemSink, ctx: ConfigSourceContext, forAds: boolean): XdsGrpcServer | undefined {
  rejectUnsupported(acs, API_CONFIG_SOURCE_FIELDS, 'ApiConfigSource', problems);
  const apiType = str(acs, 'api_type', 'GRPC');
  const grpcTypes = forAds ? ['GRPC', 'AGGREGATED_GRPC'] : ['GRPC'];
  if (!grpcTypes.includes(apiType)) {
    if (apiType === 'DELTA_GRPC' || apiType === 'AGGREGATED_DELTA_GRPC') {
      problems.add('api_type', `api_type ${apiType} is not supported by Courier yet (incremental xDS); use GRPC`);
    } else if (apiType === 'AGGREGATED_GRPC') {
      problems.add('api_type', 'api_type AGGREGATED_GRPC is only valid in dynamic_resources.ads_config; use ads: {} to share the ADS stream');
    } else {
      problems.add('api_type', `api_type ${apiType} is not supported by Courier yet; use GRPC`);
    }
    return undefined;
  }
  // Unset (AUTO) means V3, as in current Envoy; only an explicit V2 names a dead protocol.
  const tav = str(acs, 'transport_api_version', 'AUTO');
  if (tav !== 'V3' && tav !== 'AUTO') {
    problems.add('transport_api_version', `the ${tav} xDS transport protocol is not supported (Envoy dropped it too): set transport_api_version: V3 or leave it unset`);
  }
  const services = list(acs['grpc_services']);
  if (services.length !== 1) {
    problems.add('grpc_services', `${apiType} must have a single gRPC service specified (got ${services.length})`);
    return undefined;
  }
  const gs = obj(services[0]) ?? {};
  const sp = problems.at('grpc_services[0]');
  if (gs['google_grpc'] !== undefined) {
    sp.add('google_grpc', 'google_grpc is not supported by Courier yet; use envoy_grpc with a bootstrap cluster');
    return undefined;
  }
  rejectUnsupported(gs, ['envoy_grpc'], 'GrpcService', sp);
  const eg = obj(gs['envoy_grpc']);
  if (!eg) {
    sp.add('envoy_grpc', 'envoy_grpc is required');
    return undefined;
  }
  rejectUnsupported(eg, ['cluster_name', 'retry_policy'], 'EnvoyGrpc', sp.at('envoy_grpc'));
  const backoff = parseStreamBackoff(obj(eg['retry_policy']), sp.at('envoy_grpc').at('retry_policy'));
  const clusterName = str(eg, 'cluster_name');
  const cluster = ctx.clusters.find((c) => c.name === clusterName);
  if (!cluster || cluster.type === 'EDS') {
    sp.at('envoy_grpc').add(
      'cluster_name',
      `envoy_grpc must name a statically defined non-EDS cluster: '${clusterName}' does not exist, was added via api, or is an EDS cluster`,
    );
    return undefined;
  }
  const endpoint = cluster.endpoints[0];
  if (!endpoint) {
    sp.at('envoy_grpc').add('cluster_name', `cluster '${clusterName}' has no endpoint to reach the management server at`);
    return undefined;
  }
  return { clusterName, host: endpoint.address, port: endpoint.port, target: formatAddress(endpoint.address, endpoint.port), ...(backoff ? { backoff } : {}) };
}

/**
 * envoy_grpc.retry_policy: Envoy reads only its retry_back_off for xDS streams (base_interval
 * required, max_interval default 10 × base and not below it); the per-request retry fields
 * mean nothing to a stream and are refused by name.
 */
function parseStreamBackoff(rp: Obj | undefined, problems: ProblemSink): XdsGrpcServer['backoff'] {
  if (!rp) return undefined;
  rejectUnsupported(rp, ['retry_back_off'], 'RetryPolicy (of an xDS gRPC stream)', problems);
  const rb = obj(rp['retry_back_off']);
  if (!rb) return undefined;
  const baseMs = durationMs(rb, 'base_interval', undefined);
  if (baseMs === undefined || baseMs <= 0) {
    problems.at('retry_back_off').add('base_interval', 'base_interval is required and must be greater than zero');
    return undefined;
  }
  const maxMs = durationMs(rb, 'max_interval', baseMs * 10);
  if (maxMs < baseMs) {
    problems.at('retry_back_off').add('max_interval', 'max_interval must be greater than or equal to the base_interval');
    return undefined;
  }
  return { baseMs, maxMs };
}

/**
 * A stable key for a source: equal keys may share one subscription (Envoy hashes the Rds
 * proto; RDS providers keyed by (source key, route_config_name) share their subscription).
 */
export function configSourceKey(source: XdsConfigSource): string {
  return canonicalJson(source);
}
