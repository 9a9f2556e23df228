/**
 * envoy.config.cluster.v3.Cluster → ClusterConfig. STATIC and STRICT_DNS, the load
 * balancing policies of src/common/upstream/load-balancer*.ts, circuit breakers.
 */
import { isIP } from 'node:net';
import type { NetworkFilterConfigFactory, ProblemSink } from '../api/network-filter.js';
import type { Registry } from '../api/registry.js';
import type { LbPolicyConfig, LbPolicyName } from '../api/load-balancer.js';
import type { ClusterConfig, DnsLookupFamily, EndpointConfig } from './server-config.js';
import { parseSocketAddress } from './address.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import { isPrime } from '../common/upstream/load-balancer-maglev.js';

const SUPPORTED_CLUSTER_FIELDS = [
  'name', 'alt_stat_name', 'type', 'connect_timeout', 'lb_policy', 'load_assignment', 'dns_refresh_rate',
  'dns_lookup_family', 'respect_dns_ttl', 'circuit_breakers', 'per_connection_buffer_limit_bytes',
  'ring_hash_lb_config', 'maglev_lb_config', 'least_request_lb_config', 'metadata', 'typed_extension_protocol_options',
];
const LB_POLICIES: readonly LbPolicyName[] = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV'];
/** Envoy's defaults for a threshold that is not configured. */
const DEFAULT_THRESHOLDS = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

export function parseCluster(c: Obj, problems: ProblemSink, filters: Registry<NetworkFilterConfigFactory>): ClusterConfig | undefined {
  rejectUnsupported(c, SUPPORTED_CLUSTER_FIELDS, 'Cluster', problems);
  const name = str(c, 'name');
  if (name === '') problems.add('name', 'cluster name is required');
  const type = (c['type'] as string | undefined) ?? 'STATIC';
  if (type !== 'STATIC' && type !== 'STRICT_DNS') {
    problems.add('type', `cluster type ${type} is not supported by Courier yet (STATIC, STRICT_DNS)`);
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
  const endpoints = parseLoadAssignment(obj(c['load_assignment']), type === 'STATIC', problems.at('load_assignment'));
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
  return {
    name,
    statName: str(c, 'alt_stat_name') || name,
    type: type === 'STRICT_DNS' ? 'STRICT_DNS' : 'STATIC',
    connectTimeoutMs: durationMs(c, 'connect_timeout', 5000),
    lb,
    endpoints,
    dnsRefreshRateMs: durationMs(c, 'dns_refresh_rate', 5000),
    dnsLookupFamily: ((c['dns_lookup_family'] as string | undefined) ?? 'AUTO') as DnsLookupFamily,
    circuitBreakers: breakers,
    bufferLimitBytes: num(c, 'per_connection_buffer_limit_bytes', 1024 * 1024),
    protocolOptions: parseProtocolOptions(obj(c['typed_extension_protocol_options']), problems.at('typed_extension_protocol_options'), filters),
  };
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

function parseLoadAssignment(la: Obj | undefined, requireIp: boolean, problems: ProblemSink): EndpointConfig[] {
  if (!la) return [];
  rejectUnsupported(la, ['cluster_name', 'endpoints', 'policy'], 'ClusterLoadAssignment', problems);
  const out: EndpointConfig[] = [];
  list(la['endpoints']).forEach((le, i) => {
    const locality = obj(le) ?? {};
    const lp = problems.at(`endpoints[${i}]`);
    rejectUnsupported(locality, ['lb_endpoints', 'locality', 'load_balancing_weight', 'priority'], 'LocalityLbEndpoints', lp);
    if (num(locality, 'priority', 0) !== 0) lp.add('priority', 'endpoint priorities other than 0 are not supported by Courier yet');
    list(locality['lb_endpoints']).forEach((e, j) => {
      const lbe = obj(e) ?? {};
      const ep = lp.at(`lb_endpoints[${j}]`);
      rejectUnsupported(lbe, ['endpoint', 'load_balancing_weight', 'health_status', 'metadata'], 'LbEndpoint', ep);
      const endpoint = obj(lbe['endpoint']);
      if (!endpoint) {
        ep.add('endpoint', 'endpoint is required');
        return;
      }
      rejectUnsupported(endpoint, ['address', 'hostname'], 'Endpoint', ep.at('endpoint'));
      const addr = parseSocketAddress(obj(endpoint['address']), ep.at('endpoint.address'), requireIp);
      if (!addr) return;
      if (!requireIp && isIP(addr.host) === 0 && addr.port === 0) ep.at('endpoint.address.socket_address').add('port_value', 'a port is required');
      out.push({ address: addr.host, port: addr.port, weight: num(lbe, 'load_balancing_weight', 1) });
    });
  });
  return out;
}

