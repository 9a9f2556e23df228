/**
 * envoy.config.cluster.v3.Cluster → ClusterConfig. MAIN process; used for the bootstrap's
 * static clusters and for every CDS resource. STATIC, STRICT_DNS, LOGICAL_DNS and EDS, the load
 * balancing policies of src/common/upstream/load-balancer*.ts, circuit breakers.
 */
import type { NetworkFilterConfigFactory, ProblemSink } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { LbPolicyConfig, LbPolicyName } from '../api/load-balancer.js';
import type { ClusterConfig } from './server-config.js';
import { DNS_CLUSTER_FIELDS, parseDnsSettings } from './dns-cluster-config.js';
import { parseLoadAssignment } from './load-assignment.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import { isPrime } from '../common/upstream/load-balancer-maglev.js';
import { parseConfigSource, type ConfigSourceContext } from '../xds/config-source.js';

const SUPPORTED_CLUSTER_FIELDS = [
  'name', 'alt_stat_name', 'type', 'connect_timeout', 'lb_policy', 'load_assignment', ...DNS_CLUSTER_FIELDS, 'circuit_breakers', 'per_connection_buffer_limit_bytes',
  'ring_hash_lb_config', 'maglev_lb_config', 'least_request_lb_config', 'metadata', 'typed_extension_protocol_options',
  'eds_cluster_config',
];
const CLUSTER_TYPES = ['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS'] as const;
/** Envoy's upstream HTTP options; Courier takes only the HTTP/2 choice an xDS server's cluster makes. */
export const HTTP_PROTOCOL_OPTIONS_TYPE = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const LB_POLICIES: readonly LbPolicyName[] = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'];
/** Envoy's defaults for a threshold that is not configured. */
const DEFAULT_THRESHOLDS = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

/**
 * `sources` resolves an EDS cluster's eds_config (the bootstrap's static non-EDS clusters,
 * whether ads_config exists).
 */
export function parseCluster(
  c: Obj,
  problems: ProblemSink,
  filters: Registry<NetworkFilterConfigFactory>,
  sources: ConfigSourceContext,
): ClusterConfig | undefined {
  rejectUnsupported(c, SUPPORTED_CLUSTER_FIELDS, 'Cluster', problems);
  const name = str(c, 'name');
  if (name === '') problems.add('name', 'cluster name is required');
  const type = (c['type'] as string | undefined) ?? 'STATIC';
  if (!(CLUSTER_TYPES as readonly string[]).includes(type)) {
    problems.add('type', `cluster type ${type} is not supported by Courier yet (${CLUSTER_TYPES.join(', ')})`);
  }
  let eds: ClusterConfig['eds'];
  const ecc = obj(c['eds_cluster_config']);
  if (type === 'EDS') {
    const ep = problems.at('eds_cluster_config');
    if (c['load_assignment'] !== undefined) problems.add('load_assignment', 'an EDS cluster takes its endpoints from EDS, not load_assignment');
    if (!ecc || obj(ecc['eds_config']) === undefined) {
      problems.add(ecc ? 'eds_cluster_config.eds_config' : 'eds_cluster_config', 'an EDS cluster needs eds_cluster_config.eds_config');
    } else {
      rejectUnsupported(ecc, ['eds_config', 'service_name'], 'EdsClusterConfig', ep);
      const source = parseConfigSource(obj(ecc['eds_config'])!, ep.at('eds_config'), sources);
      if (source) eds = { source, serviceName: str(ecc, 'service_name') || name };
    }
  } else if (ecc) {
    problems.add('eds_cluster_config', `eds_cluster_config is only used by type: EDS (this cluster is ${type})`);
  }
  const policy = ((c['lb_policy'] as string | undefined) ?? 'ROUND_ROBIN') as LbPolicyName;
  if (!LB_POLICIES.includes(policy)) problems.add('lb_policy', `lb_policy ${policy} is not supported by Courier yet (${LB_POLICIES.join(', ')})`);
  const lb: LbPolicyConfig = { policy };
  const ring = obj(c['ring_hash_lb_config']);
  if (ring) {
    const p = problems.at('ring_hash_lb_config');
    rejectUnsupported(ring, ['minimum_ring_size', 'maximum_ring_size', 'hash_function'], 'RingHashLbConfig', p);
    lb.minimumRingSize = num(ring, 'minimum_ring_size', 1024);
    lb.maximumRingSize = num(ring, 'maximum_ring_size', 8388608);
    if (lb.minimumRingSize > lb.maximumRingSize) p.add('minimum_ring_size', 'minimum_ring_size must not exceed maximum_ring_size');
  }
  const maglev = obj(c['maglev_lb_config']);
  if (maglev) {
    rejectUnsupported(maglev, ['table_size'], 'MaglevLbConfig', problems.at('maglev_lb_config'));
    lb.tableSize = num(maglev, 'table_size', 65537);
    if (!isPrime(lb.tableSize)) problems.at('maglev_lb_config').add('table_size', `table_size ${lb.tableSize} must be a prime number`);
  }
  const lr = obj(c['least_request_lb_config']);
  if (lr) {
    rejectUnsupported(lr, ['choice_count'], 'LeastRequestLbConfig', problems.at('least_request_lb_config'));
    lb.choiceCount = num(lr, 'choice_count', 2);
  }
  const endpoints = type === 'EDS' ? [] : parseLoadAssignment(obj(c['load_assignment']), type === 'STATIC', problems.at('load_assignment'));
  if (type === 'LOGICAL_DNS' && !hasSingleEndpoint(obj(c['load_assignment']))) {
    // Envoy's words: one logical host, whose address is re-resolved.
    problems.add('load_assignment', 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint');
  }
  const breakers = { ...DEFAULT_THRESHOLDS };
  const cb = obj(c['circuit_breakers']);
  if (cb) {
    const p = problems.at('circuit_breakers');
    rejectUnsupported(cb, ['thresholds'], 'CircuitBreakers', p);
    list(cb['thresholds']).forEach((t, i) => {
      const th = obj(t) ?? {};
      const tp = p.at(`thresholds[${i}]`);
      rejectUnsupported(th, ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries', 'track_remaining'], 'Thresholds', tp);
      if ((th['priority'] ?? 'DEFAULT') !== 'DEFAULT') {
        tp.add('priority', 'only the DEFAULT routing priority is supported by Courier yet');
        return;
      }
      breakers.maxConnections = num(th, 'max_connections', breakers.maxConnections);
      breakers.maxPendingRequests = num(th, 'max_pending_requests', breakers.maxPendingRequests);
      breakers.maxRequests = num(th, 'max_requests', breakers.maxRequests);
      breakers.maxRetries = num(th, 'max_retries', breakers.maxRetries);
    });
  }
  const config: ClusterConfig = {
    name,
    statName: str(c, 'alt_stat_name') || name,
    type: type === 'STRICT_DNS' || type === 'LOGICAL_DNS' || type === 'EDS' ? type : 'STATIC',
    connectTimeoutMs: durationMs(c, 'connect_timeout', 5000),
    lb,
    endpoints,
    dns: parseDnsSettings(c, type === 'STRICT_DNS' || type === 'LOGICAL_DNS', problems),
    circuitBreakers: breakers,
    bufferLimitBytes: num(c, 'per_connection_buffer_limit_bytes', 1024 * 1024),
    protocolOptions: parseProtocolOptions(obj(c['typed_extension_protocol_options']), problems.at('typed_extension_protocol_options'), filters),
  };
  if (eds) config.eds = eds;
  return config;
}

function hasSingleEndpoint(la: Obj | undefined): boolean {
  const localities = list(la?.['endpoints']);
  return localities.length === 1 && list(obj(localities[0])?.['lb_endpoints']).length === 1;
}

/** Each entry is keyed by a filter name and parsed by that filter's factory. */
function parseProtocolOptions(
  options: Obj | undefined,
  problems: ProblemSink,
  filters: Registry<NetworkFilterConfigFactory>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options ?? {})) {
    const typed = obj(value) ?? {};
    const typeUrl = str(typed, '@type');
    const typeName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    if (key === HTTP_PROTOCOL_OPTIONS_TYPE) {
      if (typeName !== HTTP_PROTOCOL_OPTIONS_TYPE) problems.add(`["${key}"].@type`, `expected ${HTTP_PROTOCOL_OPTIONS_TYPE} for "${key}", got ${typeName}`);
      else out[key] = parseHttpProtocolOptions(typed, problems.at(`["${key}"]`));
      continue;
    }
    const factory = filters.values().find((f) => f.name === key && f.protocolOptionsType !== undefined);
    if (!factory || !factory.parseProtocolOptions) {
      problems.add(`["${key}"]`, `protocol options for "${key}" (${typeName}) are not supported by Courier yet`);
      continue;
    }
    if (typeName !== factory.protocolOptionsType) {
      problems.add(`["${key}"].@type`, `expected ${factory.protocolOptionsType} for "${key}", got ${typeName}`);
      continue;
    }
    out[key] = factory.parseProtocolOptions(typed, problems.at(`["${key}"]`));
  }
  return out;
}

/**
 * HttpProtocolOptions: only `explicit_http_config: {http2_protocol_options: {}}`, which an
 * xDS server's cluster carries (Courier's gRPC client speaks HTTP/2 whatever the cluster
 * says). Any other field is refused by name.
 */
function parseHttpProtocolOptions(o: Obj, problems: ProblemSink): { explicitProtocol: 'http2' } | undefined {
  rejectUnsupported(o, ['explicit_http_config'], 'HttpProtocolOptions', problems);
  const explicit = obj(o['explicit_http_config']);
  if (!explicit) {
    if (o['explicit_http_config'] === undefined) problems.add('', 'HttpProtocolOptions needs explicit_http_config with http2_protocol_options (the only form Courier supports yet)');
    return undefined;
  }
  const ep = problems.at('explicit_http_config');
  rejectUnsupported(explicit, ['http2_protocol_options'], 'HttpProtocolOptions.ExplicitHttpConfig', ep);
  const h2 = obj(explicit['http2_protocol_options']);
  if (!h2) return undefined;
  rejectUnsupported(h2, [], 'Http2ProtocolOptions', ep.at('http2_protocol_options'));
  return { explicitProtocol: 'http2' };
}
