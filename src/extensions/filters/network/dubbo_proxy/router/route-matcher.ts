/**
 * Dubbo route matching on a worker, with Envoy's semantics
 * (source/extensions/filters/network/dubbo_proxy/router/route_matcher.cc):
 *
 * - route configurations are tried in order; the first that yields a route wins;
 * - a configuration applies if the interface matches (exact; "*" = any non-empty name;
 *   "*suffix" / "prefix*" = longer than the literal part and ending / starting with it), and
 *   group / version equal the request's when configured non-empty;
 * - its routes are tried in order; a route matches if all header matchers match over the
 *   attachments, the method name is non-empty and matches, and every params_match index
 *   exists, converts to a string and matches (exact "" = anything; range = base-10 int64 in
 *   [start, end));
 * - weighted clusters are picked by cumulative weight (Envoy's
 *   WeightedClusterUtil::pickCluster, with `random` in [0, 1) in place of random % total).
 *
 * Everything is compiled in the constructor; `route()` allocates nothing: results are
 * created once per route (per weighted cluster) and shared, frozen.
 */
import type { DubboRequestView } from './request-view.js';
import type { DubboRouteConfiguration, DubboRouteEntryConfig } from './route-config.js';
import { compileStringMatcher, type StringMatcher } from '../../../../../common/matchers/string-matcher.js';
import {
  compileHeaderMatcher,
  compileInt64Range,
  type HeaderMatcher,
  type Int64RangeMatcher,
} from '../../../../../common/matchers/header-matcher.js';

export interface DubboRouteResult {
  readonly cluster: string;
  /** RouteConfiguration.name of the configuration that matched. */
  readonly routeConfigName: string;
}

const enum InterfaceKind {
  Exact,
  Any,
  Suffix,
  Prefix,
}

class InterfaceMatcher {
  private readonly kind: InterfaceKind;
  private readonly literal: string;

  constructor(pattern: string) {
    if (pattern === '*') {
      this.kind = InterfaceKind.Any;
      this.literal = '';
    } else if (pattern.startsWith('*')) {
      this.kind = InterfaceKind.Suffix;
      this.literal = pattern.slice(1);
    } else if (pattern.endsWith('*')) {
      this.kind = InterfaceKind.Prefix;
      this.literal = pattern.slice(0, -1);
    } else {
      this.kind = InterfaceKind.Exact;
      this.literal = pattern;
    }
  }

  match(name: string): boolean {
    switch (this.kind) {
      case InterfaceKind.Exact:
        return name === this.literal;
      case InterfaceKind.Any:
        return name.length > 0;
      case InterfaceKind.Suffix:
        return name.length > this.literal.length && name.endsWith(this.literal);
      case InterfaceKind.Prefix:
        return name.length > this.literal.length && name.startsWith(this.literal);
    }
  }
}

interface CompiledParam {
  readonly index: number;
  /** Set for exact matches; '' matches any value. */
  readonly exact: string;
  readonly range: Int64RangeMatcher | undefined;
}

class CompiledRoute {
  private readonly headers: HeaderMatcher[];
  private readonly method: StringMatcher;
  private readonly params: CompiledParam[];
  /** One result per cluster; `cumulative[i]` is the sum of weights 0..i. */
  private readonly results: DubboRouteResult[];
  private readonly cumulative: number[];
  private readonly totalWeight: number;

  constructor(config: DubboRouteEntryConfig, routeConfigName: string) {
    this.headers = config.headers.map(compileHeaderMatcher);
    this.method = compileStringMatcher(config.method);
    this.params = config.params.map((p) =>
      'range' in p
        ? { index: p.index, exact: '', range: compileInt64Range(p.range) }
        : { index: p.index, exact: p.exact, range: undefined },
    );
    const action = config.action;
    const entries = action.kind === 'cluster' ? [{ name: action.cluster, weight: 1 }] : action.clusters;
    this.results = entries.map((e) => Object.freeze({ cluster: e.name, routeConfigName }));
    let sum = 0;
    this.cumulative = entries.map((e) => (sum += e.weight));
    this.totalWeight = sum;
  }

  match(request: DubboRequestView, random: number): DubboRouteResult | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      if (!h.matchValue(request.attachment(h.name))) return undefined;
    }
    const method = request.methodName;
    if (method === '' || !this.method.match(method)) return undefined;
    const params = this.params;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      const arg = request.argumentAsString(p.index);
      if (arg === undefined) return undefined;
      if (p.range !== undefined ? !p.range.match(arg) : p.exact !== '' && arg !== p.exact) return undefined;
    }
    return this.pick(random);
  }

  private pick(random: number): DubboRouteResult {
    const results = this.results;
    if (results.length === 1) return results[0]!;
    let selected = Math.floor(random * this.totalWeight);
    if (!(selected >= 0)) selected = 0;
    const cumulative = this.cumulative;
    for (let i = 0; i < cumulative.length; i++) if (selected < cumulative[i]!) return results[i]!;
    return results[results.length - 1]!;
  }
}

class CompiledRouteConfig {
  private readonly iface: InterfaceMatcher;
  private readonly group: string;
  private readonly version: string;
  private readonly routes: CompiledRoute[];

  constructor(config: DubboRouteConfiguration) {
    this.iface = new InterfaceMatcher(config.interface);
    this.group = config.group;
    this.version = config.version;
    this.routes = config.routes.map((r) => new CompiledRoute(r, config.name));
  }

  route(request: DubboRequestView, random: number): DubboRouteResult | undefined {
    if (!this.iface.match(request.serviceName)) return undefined;
    if (this.version !== '' && request.serviceVersion !== this.version) return undefined;
    if (this.group !== '' && request.serviceGroup !== this.group) return undefined;
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i]!.match(request, random);
      if (r !== undefined) return r;
    }
    return undefined;
  }
}

export class DubboRouteMatcher {
  private readonly configs: CompiledRouteConfig[];

  /** `configs` is plain data from route-config.ts (e.g. `DubboRouteTable.routeConfigs`). */
  constructor(configs: readonly DubboRouteConfiguration[]) {
    this.configs = configs.map((c) => new CompiledRouteConfig(c));
  }

  /** The route for `request`, or undefined. `random` is uniform in [0, 1) (weighted clusters). */
  route(request: DubboRequestView, random: number): DubboRouteResult | undefined {
    const configs = this.configs;
    for (let i = 0; i < configs.length; i++) {
      const r = configs[i]!.route(request, random);
      if (r !== undefined) return r;
    }
    return undefined;
  }
}
