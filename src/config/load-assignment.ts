/**
 * envoy.config.endpoint.v3.ClusterLoadAssignment → EndpointConfig[]. MAIN process. One
 * translator for a cluster's inline `load_assignment` (STATIC, STRICT_DNS) and for the
 * assignments EDS delivers, so both accept and refuse the same fields with the same paths.
 *
 * Read: endpoints[].{priority, locality, load_balancing_weight (accepted; locality-weighted
 * balancing needs common_lb_config, which Courier refuses, so Envoy ignores it too)},
 * lb_endpoints[].{endpoint.{address, hostname}, health_status, load_balancing_weight,
 * metadata}. Refused by name: `policy` fields, named_endpoints, endpoint_name,
 * health_check_config, additional_addresses, LEDS.
 */
import { isIP } from 'node:net';
import type { ProblemSink } from '../api/network-filter.js';
import { parseSocketAddress } from './address.js';
import { list, num, obj, rejectUnsupported, str, type Obj } from './plain-reader.js';
import type { EndpointConfig, HostHealth } from './server-config.js';

/**
 * `requireIp`: refuse hostnames (STATIC and EDS: Envoy wants resolved addresses there;
 * STRICT_DNS resolves them). Problems go to `problems` relative to the assignment.
 */
export function parseLoadAssignment(la: Obj | undefined, requireIp: boolean, problems: ProblemSink): EndpointConfig[] {
  if (!la) return [];
  rejectUnsupported(la, ['cluster_name', 'endpoints', 'policy'], 'ClusterLoadAssignment', problems);
  const policy = obj(la['policy']);
  if (policy) rejectUnsupported(policy, [], 'ClusterLoadAssignment.Policy', problems.at('policy'));
  const out: EndpointConfig[] = [];
  list(la['endpoints']).forEach((le, i) => {
    const locality = obj(le) ?? {};
    const lp = problems.at(`endpoints[${i}]`);
    rejectUnsupported(locality, ['lb_endpoints', 'locality', 'load_balancing_weight', 'priority'], 'LocalityLbEndpoints', lp);
    const priority = num(locality, 'priority', 0);
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
      const config: EndpointConfig = { address: addr.host, port: addr.port, weight: num(lbe, 'load_balancing_weight', 1) };
      // Defaults stay absent, so a config's JSON (and hash) does not change with this reader.
      if (priority !== 0) config.priority = priority;
      const health = str(lbe, 'health_status', 'UNKNOWN') as HostHealth;
      if (health !== 'UNKNOWN') config.health = health;
      const hostname = str(endpoint, 'hostname');
      if (hostname !== '') config.hostname = hostname;
      out.push(config);
    });
  });
  return out;
}

/** Envoy uses hosts whose EDS health is HEALTHY or UNKNOWN; DEGRADED, UNHEALTHY, DRAINING, TIMEOUT are not balanced over. */
export function isUsableHealth(health: HostHealth | undefined): boolean {
  return health === undefined || health === 'UNKNOWN' || health === 'HEALTHY';
}
