/**
 * The info line an operator reads for each listener, at start and whenever it changes:
 *
 *   listener 'ingress' added on 0.0.0.0:10000: envoy.filters.network.http_connection_manager
 *     (routes to cluster(s): backend, api)
 *   listener 'db' modified on 127.0.0.1:5432: envoy.filters.network.tcp_proxy (cluster: pg)
 *   listener 'rpc' added on 127.0.0.1:20880: envoy.filters.network.dubbo_proxy (RDS route config 'dubbo_routes')
 *
 * Filter configs are the filters' own internal shapes, so the targets are found by shape,
 * not per filter: a `routes` of kind `rds` (HCM, MetaRDS, drds), a `cluster` string (tcp_proxy),
 * `weightedClusters`, and the clusters route actions name (`{ kind: 'cluster', name }`,
 * weighted entries).
 */
import { formatAddress } from '../config/address.js';
import type { ListenerConfig, NetworkFilterConfig } from '../config/server-config.js';

const MAX_NAMED = 8;

function clustersIn(value: unknown, into: Set<string>, depth = 0): void {
  if (depth > 16 || into.size > MAX_NAMED || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) clustersIn(v, into, depth + 1);
    return;
  }
  const o = value as Record<string, unknown>;
  if (o['kind'] === 'cluster' && typeof o['name'] === 'string') into.add(o['name']);
  if (typeof o['cluster'] === 'string') into.add(o['cluster']);
  if (o['kind'] === 'weighted' && Array.isArray(o['clusters'])) {
    for (const c of o['clusters'] as Array<Record<string, unknown>>) if (typeof c['name'] === 'string') into.add(c['name']);
  }
  for (const [k, v] of Object.entries(o)) if (k !== 'cluster' || typeof v === 'object') clustersIn(v, into, depth + 1);
}

/** Where a filter sends traffic, in words ('' when its config says nothing recognisable). */
export function filterTarget(filter: NetworkFilterConfig): string {
  const config = filter.config as Record<string, unknown> | undefined;
  const routes = config?.['routes'] as Record<string, unknown> | undefined;
  if (routes?.['kind'] === 'rds' || routes?.['kind'] === 'drds') {
    // A provider key is `[kind:]name@sourceHash` (src/extensions/route-config-kinds.ts).
    const key = String(routes['key'] ?? '');
    const name = typeof routes['name'] === 'string' ? routes['name'] : key.slice(0, key.lastIndexOf('@')).replace(/^(meta_protocol|dubbo):/, '');
    return `RDS route config '${name}'`;
  }
  const clusters = new Set<string>();
  if (Array.isArray(config?.['weightedClusters'])) {
    for (const c of config['weightedClusters'] as Array<Record<string, unknown>>) if (typeof c['name'] === 'string') clusters.add(c['name']);
  }
  clustersIn(config, clusters);
  if (clusters.size === 0) return '';
  const names = [...clusters].slice(0, MAX_NAMED).join(', ') + (clusters.size > MAX_NAMED ? ', ...' : '');
  return routes ? `routes to cluster(s): ${names}` : `cluster(s): ${names}`;
}

export function describeListener(config: ListenerConfig): string {
  const port = config.address.port === 0 ? `${formatAddress(config.address.host, 0)} (port chosen by the OS: see /listeners)` : formatAddress(config.address.host, config.address.port);
  const filters = (config.filterChains[0]?.filters ?? []).map((f) => {
    const target = filterTarget(f);
    return target ? `${f.name} (${target})` : f.name;
  });
  return `'${config.name}' on ${port}: ${filters.join(', ') || 'no filters'}`;
}
