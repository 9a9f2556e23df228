/**
 * DubboProxy route tables (envoy/extensions/filters/network/dubbo_proxy/v3/route.proto):
 * checked proto values (src/config/proto-json.ts) → plain internal data. Runs on the main
 * process; the result is JSON-serialisable and crosses to the workers, where
 * route-matcher.ts compiles it.
 *
 * Accepts the deprecated `route_config[]` list and `multiple_route_config {name,
 * route_config[]}` (refusing both at once, as Envoy does). Every problem is reported with its
 * field path. Unsupported fields (RouteAction.metadata_match, ClusterWeight extras, …) are
 * refused by name.
 *
 * The returned data is meaningful only when no problem was reported.
 */
import type { ProblemSink } from '../../../../../api/network-filter.js';
import { list, obj, rejectUnsupported, type Obj } from '../../../../../config/plain-reader.js';
import { parseStringMatcher, type StringMatcherConfig } from '../../../../../common/matchers/string-matcher.js';
import {
  parseHeaderMatcher,
  parseInt64Range,
  type HeaderMatcherConfig,
  type Int64RangeConfig,
} from '../../../../../common/matchers/header-matcher.js';

/** One params_match entry; `exact: ""` matches any argument that converts to a string. */
export type DubboParamMatchConfig = { index: number; exact: string } | { index: number; range: Int64RangeConfig };

export type DubboRouteActionConfig =
  | { kind: 'cluster'; cluster: string }
  | { kind: 'weighted'; clusters: Array<{ name: string; weight: number }> };

export interface DubboRouteEntryConfig {
  /** Matched over the request's attachments; all must match. */
  headers: HeaderMatcherConfig[];
  method: StringMatcherConfig;
  /** Sorted by argument index. */
  params: DubboParamMatchConfig[];
  action: DubboRouteActionConfig;
}

export interface DubboRouteConfiguration {
  name: string;
  /** Exact, "*", "*suffix" or "prefix*"; never empty. */
  interface: string;
  /** '' = any group. */
  group: string;
  /** '' = any version. */
  version: string;
  routes: DubboRouteEntryConfig[];
}

/** A MultipleRouteConfiguration; `name` is '' for the deprecated `route_config[]` form. */
export interface DubboRouteTable {
  name: string;
  routeConfigs: DubboRouteConfiguration[];
}

const UINT32_MAX = 0xffffffff;

/**
 * Reads the route table of a checked DubboProxy: `route_config[]` or `multiple_route_config`.
 * (`drds` is the filter factory's business; neither form present gives an empty table.)
 */
export function parseDubboRouteTable(proxy: Obj, problems: ProblemSink): DubboRouteTable {
  const legacy = proxy['route_config'];
  const multiple = proxy['multiple_route_config'];
  if (multiple !== undefined) {
    if (list(legacy).length > 0) {
      problems.add('multiple_route_config', 'multiple_route_config and route_config are both set; use only one (Envoy refuses both)');
    }
    return parseMultipleRouteConfiguration(multiple, problems.at('multiple_route_config'));
  }
  return { name: '', routeConfigs: parseRouteConfigurationList(legacy, problems, 'route_config') };
}

/** A checked dubbo_proxy.v3.MultipleRouteConfiguration (also the DRDS resource type). */
export function parseMultipleRouteConfiguration(proto: unknown, problems: ProblemSink): DubboRouteTable {
  const m = obj(proto) ?? {};
  rejectUnsupported(m, ['name', 'route_config'], 'MultipleRouteConfiguration', problems);
  const name = typeof m['name'] === 'string' ? m['name'] : '';
  return { name, routeConfigs: parseRouteConfigurationList(m['route_config'], problems, 'route_config') };
}

function parseRouteConfigurationList(raw: unknown, problems: ProblemSink, field: string): DubboRouteConfiguration[] {
  const out: DubboRouteConfiguration[] = [];
  list(raw).forEach((rc, i) => {
    const parsed = parseDubboRouteConfiguration(rc, problems.at(`${field}[${i}]`));
    if (parsed) out.push(parsed);
  });
  return out;
}

/** A checked dubbo_proxy.v3.RouteConfiguration. An empty `routes` list is allowed. */
export function parseDubboRouteConfiguration(proto: unknown, problems: ProblemSink): DubboRouteConfiguration | undefined {
  const rc = obj(proto);
  if (!rc) {
    problems.add('', 'a RouteConfiguration is required');
    return undefined;
  }
  rejectUnsupported(rc, ['name', 'interface', 'group', 'version', 'routes'], 'RouteConfiguration', problems);
  const iface = str(rc, 'interface');
  if (iface === '') {
    problems.add('interface', 'interface must not be empty; use "*" to match any interface');
  }
  const routes: DubboRouteEntryConfig[] = [];
  list(rc['routes']).forEach((r, i) => {
    const parsed = parseRoute(r, problems.at(`routes[${i}]`));
    if (parsed) routes.push(parsed);
  });
  return { name: str(rc, 'name'), interface: iface, group: str(rc, 'group'), version: str(rc, 'version'), routes };
}

function str(o: Obj, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

function parseRoute(proto: unknown, problems: ProblemSink): DubboRouteEntryConfig | undefined {
  const r = obj(proto);
  if (!r) {
    problems.add('', 'a Route is required');
    return undefined;
  }
  rejectUnsupported(r, ['match', 'route'], 'Route', problems);
  const match = obj(r['match']);
  const route = obj(r['route']);
  if (!match) problems.add('match', 'match is required');
  if (!route) problems.add('route', 'route is required');
  const m = match ? parseRouteMatch(match, problems.at('match')) : undefined;
  const action = route ? parseRouteAction(route, problems.at('route')) : undefined;
  return m && action ? { ...m, action } : undefined;
}

function parseRouteMatch(
  match: Obj,
  problems: ProblemSink,
): { headers: HeaderMatcherConfig[]; method: StringMatcherConfig; params: DubboParamMatchConfig[] } | undefined {
  rejectUnsupported(match, ['method', 'headers'], 'RouteMatch', problems);
  let ok = true;
  const headers: HeaderMatcherConfig[] = [];
  list(match['headers']).forEach((h, i) => {
    const parsed = parseHeaderMatcher(h, problems.at(`headers[${i}]`));
    if (parsed) headers.push(parsed);
    else ok = false;
  });
  const method = obj(match['method']);
  if (!method || method['name'] === undefined) {
    // Envoy accepts this and then fails on the first request that reaches the route.
    problems.add(method ? 'method.name' : 'method', 'a method name matcher (method.name) is required');
    return undefined;
  }
  const mp = problems.at('method');
  rejectUnsupported(method, ['name', 'params_match'], 'MethodMatch', mp);
  const name = parseStringMatcher(method['name'], mp.at('name'));
  const params = parseParamsMatch(method['params_match'], mp);
  return ok && name && params ? { headers, method: name, params } : undefined;
}

function parseParamsMatch(raw: unknown, problems: ProblemSink): DubboParamMatchConfig[] | undefined {
  if (raw === undefined) return [];
  const map = obj(raw);
  if (!map) {
    problems.add('params_match', 'expected a map of argument index to ParameterMatchSpecifier');
    return undefined;
  }
  let ok = true;
  const out: DubboParamMatchConfig[] = [];
  for (const [key, value] of Object.entries(map)) {
    const p = problems.at(`params_match["${key}"]`);
    const index = /^\d+$/.test(key) ? Number(key) : NaN;
    if (!(index <= UINT32_MAX)) {
      p.add('', `argument index "${key}" is not a uint32`);
      ok = false;
      continue;
    }
    const spec = obj(value);
    if (!spec) {
      p.add('', 'expected a ParameterMatchSpecifier');
      ok = false;
      continue;
    }
    rejectUnsupported(spec, ['exact_match', 'range_match'], 'ParameterMatchSpecifier', p);
    if (spec['exact_match'] !== undefined && spec['range_match'] !== undefined) {
      p.add('range_match', '"range_match" and "exact_match" are both set; only one is allowed');
      ok = false;
      continue;
    }
    if (spec['range_match'] !== undefined) {
      const range = parseInt64Range(spec['range_match'], p.at('range_match'));
      if (range) out.push({ index, range });
      else ok = false;
      continue;
    }
    // Neither set: Envoy treats it as an exact match on "" (any value).
    const exact = spec['exact_match'] ?? '';
    if (typeof exact !== 'string') {
      p.add('exact_match', 'expected a string');
      ok = false;
      continue;
    }
    out.push({ index, exact });
  }
  out.sort((a, b) => a.index - b.index);
  return ok ? out : undefined;
}

function parseRouteAction(route: Obj, problems: ProblemSink): DubboRouteActionConfig | undefined {
  rejectUnsupported(route, ['cluster', 'weighted_clusters'], 'RouteAction', problems);
  const cluster = route['cluster'];
  const weighted = route['weighted_clusters'];
  if (cluster !== undefined && weighted !== undefined) {
    problems.add('weighted_clusters', '"weighted_clusters" and "cluster" are both set; only one is allowed');
    return undefined;
  }
  if (cluster !== undefined) {
    if (typeof cluster !== 'string' || cluster === '') {
      problems.add('cluster', 'cluster must not be empty');
      return undefined;
    }
    return { kind: 'cluster', cluster };
  }
  const wc = obj(weighted);
  if (!wc) {
    problems.add('', 'one of "cluster", "weighted_clusters" is required in RouteAction');
    return undefined;
  }
  const wp = problems.at('weighted_clusters');
  rejectUnsupported(wc, ['clusters'], 'WeightedCluster', wp);
  const entries = list(wc['clusters']);
  if (entries.length === 0) {
    wp.add('clusters', 'at least one cluster is required');
    return undefined;
  }
  let ok = true;
  const clusters: Array<{ name: string; weight: number }> = [];
  entries.forEach((e, i) => {
    const cp = wp.at(`clusters[${i}]`);
    const entry = obj(e) ?? {};
    rejectUnsupported(entry, ['name', 'weight'], 'ClusterWeight', cp);
    const name = entry['name'];
    const weight = entry['weight'];
    if (typeof name !== 'string' || name === '') {
      cp.add('name', 'a cluster name is required');
      ok = false;
    }
    if (weight === undefined) {
      // Envoy: PROTOBUF_GET_WRAPPED_REQUIRED(cluster, weight) throws.
      cp.add('weight', 'weight is required');
      ok = false;
    } else if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > UINT32_MAX) {
      // 0 is allowed, as in Envoy: a canary split of 100/0 keeps its entry and never picks it.
      cp.add('weight', `weight must be a non-negative integer, got ${JSON.stringify(weight)}`);
      ok = false;
    }
    if (ok) clusters.push({ name: name as string, weight: weight as number });
  });
  if (ok && clusters.reduce((sum, c) => sum + c.weight, 0) === 0) {
    wp.add('clusters', 'the weights add up to 0: no cluster could ever be picked');
    return undefined;
  }
  return ok ? { kind: 'weighted', clusters } : undefined;
}

/** The clusters a route table sends to (drds validation, admin output). */
export function dubboRouteClusters(table: DubboRouteTable): string[] {
  const names = new Set<string>();
  for (const rc of table.routeConfigs) {
    for (const r of rc.routes) {
      if (r.action.kind === 'cluster') names.add(r.action.cluster);
      else for (const c of r.action.clusters) names.add(c.name);
    }
  }
  return [...names];
}
