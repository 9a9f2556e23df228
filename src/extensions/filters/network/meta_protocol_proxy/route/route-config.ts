/**
 * MetaProtocol route configuration, parsed on MAIN into plain data (it crosses to workers as
 * JSON), from either of its two wire forms:
 * - Courier's courier.meta_protocol_proxy.config.route.v1.RouteConfiguration (inline routes);
 * - MetaRDS: an envoy.config.route.v3.RouteConfiguration with exactly one virtual host, as
 *   aeraki's control plane sends it over the ordinary RDS service: headers matchers are
 *   metadata matchers, request/response_headers_to_add are the mutations, hash_policy
 *   header names are the hash keys, request_mirror_policies the mirrors, and timeout and
 *   retry_policy (connect-failure) carry over. Path matchers are ignored (aeraki sends "/").
 */
import type { ProblemSink } from '../../../../../api/network-filter.js';
import { parseHeaderMatcher, type HeaderMatcherConfig } from '../../../../../common/matchers/header-matcher.js';
import { durationMs, list, num, obj, rejectUnsupported, str, type Obj } from '../../../../../config/plain-reader.js';
import { parseRuntimeFraction, type RuntimeFractionConfig } from '../../../../../common/runtime/runtime-fraction.js';

export interface MetaMirrorConfig {
  cluster: string;
  /** runtime_fraction: the share of requests mirrored (default_value, or its runtime_key's value); undefined = all. */
  fraction?: RuntimeFractionConfig | undefined;
}

export interface MetaRouteEntryConfig {
  name: string;
  match: HeaderMatcherConfig[];
  /** One entry (weight 1) for `cluster`; several for weighted_clusters. */
  clusters: Array<{ name: string; weight: number }>;
  hashKeys: string[];
  mirrors: MetaMirrorConfig[];
  /** 0 = none. */
  timeoutMs: number;
  connectRetries: number;
  requestMutation: Array<[string, string]>;
  responseMutation: Array<[string, string]>;
}

export interface MetaRouteConfig {
  name: string;
  routes: MetaRouteEntryConfig[];
}

/** Courier's own RouteConfiguration (checked proto as plain data). */
export function parseMetaRouteConfiguration(proto: Obj, problems: ProblemSink): MetaRouteConfig {
  rejectUnsupported(proto, ['name', 'routes'], 'RouteConfiguration', problems);
  const routes: MetaRouteEntryConfig[] = [];
  list(proto['routes']).forEach((r, i) => {
    const p = problems.at(`routes[${i}]`);
    const route = obj(r) ?? {};
    rejectUnsupported(route, ['name', 'match', 'route', 'request_mutation', 'response_mutation'], 'Route', p);
    const match = obj(route['match']) ?? {};
    rejectUnsupported(match, ['metadata'], 'RouteMatch', p.at('match'));
    const action = obj(route['route']) ?? {};
    rejectUnsupported(action, ['cluster', 'weighted_clusters', 'hash_policy', 'request_mirror_policies', 'timeout', 'retry_policy'], 'RouteAction', p.at('route'));
    const entry = parseAction(action, p.at('route'), {
      name: str(route, 'name'),
      match: parseMatchers(list(match['metadata']), p.at('match.metadata')),
      hashKeys: list(action['hash_policy']).map(String),
      mirrors: parseMirrors(list(action['request_mirror_policies']), p.at('route.request_mirror_policies')),
      requestMutation: keyValues(route['request_mutation']),
      responseMutation: keyValues(route['response_mutation']),
      retry: obj(action['retry_policy']),
    });
    if (entry) routes.push(entry);
  });
  return { name: str(proto, 'name'), routes };
}

/** MetaRDS: the envoy.config.route.v3.RouteConfiguration form (see the file comment). */
export function parseMetaRouteConfigurationFromRds(proto: Obj, problems: ProblemSink): MetaRouteConfig {
  const hosts = list(proto['virtual_hosts']);
  if (hosts.length !== 1) {
    problems.add('virtual_hosts', `a MetaProtocol route configuration has exactly one virtual host (got ${hosts.length})`);
    return { name: str(proto, 'name'), routes: [] };
  }
  const routes: MetaRouteEntryConfig[] = [];
  list(obj(hosts[0])?.['routes']).forEach((r, i) => {
    const p = problems.at(`virtual_hosts[0].routes[${i}]`);
    const route = obj(r) ?? {};
    const match = obj(route['match']) ?? {};
    const action = obj(route['route']);
    if (!action) {
      p.add('route', 'a MetaProtocol route needs a route action (cluster or weighted_clusters)');
      return;
    }
    const entry = parseAction(action, p.at('route'), {
      name: str(route, 'name'),
      match: parseMatchers(list(match['headers']), p.at('match.headers')),
      hashKeys: list(action['hash_policy']).flatMap((h) => {
        const header = obj(obj(h)?.['header']);
        return header ? [str(header, 'header_name').toLowerCase()] : [];
      }),
      mirrors: parseMirrors(list(action['request_mirror_policies']), p.at('route.request_mirror_policies')),
      requestMutation: headerValues(route['request_headers_to_add']),
      responseMutation: headerValues(route['response_headers_to_add']),
      retry: obj(action['retry_policy']),
    });
    if (entry) routes.push(entry);
  });
  return { name: str(proto, 'name'), routes };
}

/** Clusters a route configuration sends to (for validation and admin output). */
export function metaRouteClusters(config: MetaRouteConfig): string[] {
  const names = new Set<string>();
  for (const r of config.routes) {
    for (const c of r.clusters) names.add(c.name);
    for (const m of r.mirrors) names.add(m.cluster);
  }
  return [...names];
}

interface RouteParts {
  name: string;
  match: HeaderMatcherConfig[] | undefined;
  hashKeys: string[];
  mirrors: MetaMirrorConfig[];
  requestMutation: Array<[string, string]>;
  responseMutation: Array<[string, string]>;
  retry: Obj | undefined;
}

function parseAction(action: Obj, problems: ProblemSink, parts: RouteParts): MetaRouteEntryConfig | undefined {
  let clusters: Array<{ name: string; weight: number }> = [];
  const cluster = action['cluster'];
  if (typeof cluster === 'string' && cluster !== '') clusters = [{ name: cluster, weight: 1 }];
  else if (action['weighted_clusters'] !== undefined) {
    const wp = problems.at('weighted_clusters');
    list(obj(action['weighted_clusters'])?.['clusters']).forEach((c, i) => {
      const entry = obj(c) ?? {};
      rejectUnsupported(entry, ['name', 'weight'], 'ClusterWeight (MetaProtocol uses name and weight only)', wp.at(`clusters[${i}]`));
      const weight = num(entry, 'weight', 0);
      if (weight > 0) clusters.push({ name: str(entry, 'name'), weight });
    });
    if (clusters.length === 0) wp.add('clusters', 'at least one cluster with a weight above 0 is required');
  } else problems.add('', 'one of "cluster" or "weighted_clusters" is required');
  const retry = parts.retry;
  let connectRetries = 0;
  if (retry) {
    const on = str(retry, 'retry_on').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const other = on.filter((c) => c !== 'connect-failure');
    if (other.length > 0) problems.at('retry_policy').add('retry_on', `MetaProtocol routes retry only on connect-failure (got ${other.join(', ')})`);
    const n = obj(retry['num_retries']) ? num(obj(retry['num_retries'])!, 'value', 1) : num(retry, 'num_retries', 1);
    connectRetries = on.includes('connect-failure') ? n : 0;
  }
  if (!parts.match || clusters.length === 0) return undefined;
  return {
    name: parts.name,
    match: parts.match,
    clusters,
    hashKeys: parts.hashKeys.map((k) => k.toLowerCase()),
    mirrors: parts.mirrors,
    timeoutMs: durationMs(action, 'timeout', 0),
    connectRetries,
    requestMutation: parts.requestMutation,
    responseMutation: parts.responseMutation,
  };
}

function parseMatchers(protos: unknown[], problems: ProblemSink): HeaderMatcherConfig[] | undefined {
  const out: HeaderMatcherConfig[] = [];
  let ok = true;
  protos.forEach((m, i) => {
    const parsed = parseHeaderMatcher(m, problems.at(`[${i}]`));
    if (parsed) out.push(parsed);
    else ok = false;
  });
  return ok ? out : undefined;
}

function parseMirrors(protos: unknown[], problems: ProblemSink): MetaMirrorConfig[] {
  return protos.flatMap((m, i) => {
    const mirror = obj(m) ?? {};
    const p = problems.at(`[${i}]`);
    const cluster = str(mirror, 'cluster');
    if (cluster === '') {
      p.add('cluster', 'a mirror cluster is required');
      return [];
    }
    const rf = obj(mirror['runtime_fraction']);
    if (!rf) return [{ cluster }];
    const fraction = parseRuntimeFraction(rf, p.at('runtime_fraction'));
    return fraction ? [{ cluster, fraction }] : [];
  });
}

function keyValues(v: unknown): Array<[string, string]> {
  return list(v).map((kv) => {
    const o = obj(kv) ?? {};
    return [str(o, 'key'), str(o, 'value')];
  });
}

function headerValues(v: unknown): Array<[string, string]> {
  return list(v).flatMap((hv) => {
    const header = obj(obj(hv)?.['header']);
    return header ? [[str(header, 'key'), str(header, 'value')] as [string, string]] : [];
  });
}
