/**
 * The compiled, immutable HTTP route table, built on a worker from route-config.ts's plain
 * data. Protocol-neutral: it sees a request as authority, path (with query), method and a
 * header lookup; it never touches sockets.
 *
 * Semantics are Envoy's (source/common/router/config_impl.cc):
 *
 * Virtual host selection (RouteMatcher::findVirtualHost). The authority is lower-cased
 * (ASCII), then looked up: exact domains first, then suffix wildcards ("*.example.com",
 * "*-bar.example.com"; longest literal first, and the literal must be shorter than the host),
 * then prefix wildcards ("example.*", longest first, same rule), then the "*" virtual host.
 * With ignore_port_in_host_matching the port is stripped before the lookup; otherwise the port
 * is part of the host, as in Envoy (the HCM's strip_*_host_port options strip it earlier).
 * `portFallback: true` is an opt-in convenience: when nothing but "*" matches an authority that
 * carries a port, the three tables are tried again without it.
 *
 * Route selection (VirtualHostImpl::getRouteFromEntries). Routes are tried in configuration
 * order and the first whose path, gRPC, header and query-parameter conditions all hold wins.
 * Paths are matched without query and fragment (and without ";params" when
 * ignore_path_parameters_in_path_matching is set): prefix = starts with, path = equals
 * (both ASCII case-insensitive when case_sensitive is false), path_separated_prefix = equals
 * or starts with the prefix followed by '/', safe_regex = the RE2 pattern matches the whole
 * path (case_sensitive does not apply). Pseudo-headers :path, :method and :authority in
 * header matchers read the request's fields; every other name goes to `header()`. Query
 * parameters are read raw (not percent-decoded) from the first '?', first value of a name.
 *
 * ALGORITHM (per virtual host). A linear scan costs O(routes) per request; instead every
 * route is filed, at build time, in exactly one of these indexes, each holding route indices
 * in ascending order:
 *   - exact:        Map path → indices of case-sensitive `path` routes;
 *   - exactFolded:  Map lower-cased path → indices of case-insensitive `path` routes;
 *   - trie:         a radix tree (compressed character trie) of the literal prefixes of
 *                   case-sensitive `prefix` and `path_separated_prefix` routes, and of
 *                   `safe_regex` routes whose pattern starts with a literal (no top-level
 *                   alternation; "^/api/v[0-9]+/.*" is filed under "/api/v"): each node lists
 *                   the routes whose prefix ends there;
 *   - trieFolded:   the same for case-insensitive routes, keyed by lower-cased prefixes;
 *   - fallback:     everything else (regexes without a literal prefix).
 * A route can match a path only if it is in the exact bucket of that path, or on a trie node
 * along that path (its literal prefix is a prefix of the path), or in the fallback list. A
 * lookup therefore gathers those few sorted lists (one Map lookup per exact map, one walk down
 * each trie, at most path-length steps) and merges them by ascending index, evaluating each
 * candidate fully (path again, gRPC, headers, query parameters) and stopping at the first that
 * matches. Evaluating the candidates in ascending index order makes the result identical to
 * Envoy's first-match scan; routes that cannot match the path are never looked at, so 10,000
 * routes cost about what 10 do. Header conditions do not affect where a route is filed.
 *
 * Everything is compiled in the constructor and never changes after, except a bounded memo
 * of authority → virtual host (recent Host values; same answers, fewer lookups). A lookup
 * allocates only the path without its query (when there is one) and, for cluster_header
 * routes, the result object; results of other routes are created once and shared, frozen.
 */
import { Buffer } from 'node:buffer';
import { compileStringMatcher, type StringMatcher } from '../matchers/string-matcher.js';
import { compileRe2, type Re2Regex } from '../matchers/re2.js';
import { compileHeaderMatcher, type HeaderMatcher } from '../matchers/header-matcher.js';
import { compileFormat, foldParts, type FormatPart } from '../access-log/substitution-format.js';
import type { RuntimeLoader } from '../../api/runtime.js';
import { NULL_RUNTIME_LOADER } from '../runtime/runtime-snapshot.js';
import { runtimeFractionMatches, type RuntimeFractionConfig } from '../runtime/runtime-fraction.js';
import {
  DEFAULT_RETRY_BASE_INTERVAL_MS,
  type HeaderAppendAction,
  type HeaderMutationsConfig,
  type RetryOnCondition,
  type RetryPolicyConfig,
  type RouteActionConfig,
  type RouteConfig,
  type RouteEntryConfig,
  type VirtualHostConfig,
} from './route-config.js';

// ---------------------------------------------------------------------------------------------
// Public types.

/** What the table needs to know about a request. */
export interface RouteRequest {
  /** :authority (Host), possibly with a port. */
  readonly authority: string;
  /** :path, including the query string. */
  readonly path: string;
  readonly method: string;
  /**
   * A request header by lower-case name; several values joined with "," (as header matchers
   * expect); undefined when absent.
   */
  header(name: string): string | undefined;
  /**
   * Optional: the first value only. cluster_header uses it (Envoy reads the first value);
   * without it `header()` is used.
   */
  firstHeader?(name: string): string | undefined;
}

export interface HeaderToAdd {
  /** Lower-case. */
  readonly name: string;
  /** As configured (substitution-format text). */
  readonly format: string;
  /** The value when `format` has no operators; undefined when it must be expanded. */
  readonly literal: string | undefined;
  /**
   * `format` compiled by the access log formatter (operators that never have a value folded
   * to ''), once per table; undefined for literals. Expand with formatParts(parts, info, '').
   */
  readonly parts: readonly FormatPart[] | undefined;
  readonly appendAction: HeaderAppendAction;
  readonly keepEmptyValue: boolean;
}

/** One level's headers_to_add / headers_to_remove (Envoy's HeaderParser). */
export interface HeaderMutations {
  readonly add: readonly HeaderToAdd[];
  /** Lower-case. */
  readonly remove: readonly string[];
}

export interface RetryPolicy {
  /** Empty = no retries (unless the request asks for them with x-envoy-retry-on). */
  readonly retryOn: ReadonlySet<RetryOnCondition>;
  readonly numRetries: number;
  /** 0 = none. */
  readonly perTryTimeoutMs: number;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
}

/** The policy of a route without retry_policy (route or virtual host): Envoy's defaults. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  retryOn: new Set<RetryOnCondition>(),
  numRetries: 1,
  perTryTimeoutMs: 0,
  baseIntervalMs: DEFAULT_RETRY_BASE_INTERVAL_MS,
  maxIntervalMs: DEFAULT_RETRY_BASE_INTERVAL_MS * 10,
  retriableStatusCodes: new Set<number>(),
});

export interface WeightedCluster {
  readonly name: string;
  readonly weight: number;
  readonly hostRewriteLiteral: string | undefined;
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
}

export interface ForwardAction {
  readonly kind: 'route';
  readonly clusterSpecifier: 'cluster' | 'cluster_header' | 'weighted';
  /** For 'cluster'. */
  readonly cluster: string | undefined;
  /** For 'cluster_header': the lower-case header naming the cluster. */
  readonly clusterHeader: string | undefined;
  /** For 'weighted'. */
  readonly weightedClusters: readonly WeightedCluster[];
  readonly totalWeight: number;
  readonly clusterNotFoundResponseCode: number;
  /** 0 = no timeout. */
  readonly timeoutMs: number;
  /** The route's, else the virtual host's, else DEFAULT_RETRY_POLICY. */
  readonly retryPolicy: RetryPolicy;
  readonly prefixRewrite: string | undefined;
  readonly hostRewriteLiteral: string | undefined;
  /** RouteAction.upgrade_configs: lower-case upgrade type → enabled (overrides the HCM's). */
  readonly upgrades: ReadonlyMap<string, boolean>;
  /** RouteAction.idle_timeout in ms (0 disables); undefined: the HCM's stream_idle_timeout. */
  readonly idleTimeoutMs: number | undefined;
}

export interface DirectResponseAction {
  readonly kind: 'direct_response';
  readonly status: number;
  /** Shared between requests: do not modify. */
  readonly body: Buffer | undefined;
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly responseCode: number;
  readonly schemeRedirect: string | undefined;
  readonly hostRedirect: string | undefined;
  readonly portRedirect: number;
  readonly pathRedirect: string | undefined;
  readonly prefixRewrite: string | undefined;
  readonly stripQuery: boolean;
}

export type RouteAction = ForwardAction | DirectResponseAction | RedirectAction;

/** The result of a lookup. */
export interface RouteMatch {
  readonly virtualHost: VirtualHost;
  readonly route: RouteEntry;
  /** Same as route.action. */
  readonly action: RouteAction;
  /**
   * The cluster to forward to: the configured one, the weighted pick, or the cluster_header
   * value ('' when that header is absent: answer with clusterNotFoundResponseCode). '' for
   * direct responses and redirects.
   */
  readonly cluster: string;
  readonly weightedCluster: WeightedCluster | undefined;
  /**
   * The Host to send upstream, or undefined to keep it: the route's host_rewrite_literal,
   * else the weighted cluster's (Envoy applies the cluster's first, then the route's).
   */
  readonly hostRewrite: string | undefined;
  /**
   * Request header mutations in Envoy's order, for applyHeaderMutations: the weighted
   * cluster's, then route, virtual host, route configuration (or configuration, virtual host,
   * route with most_specific_header_mutations_wins). Later ones win.
   */
  readonly requestHeaderMutations: readonly HeaderMutations[];
  /** Response header mutations, same order. */
  readonly responseHeaderMutations: readonly HeaderMutations[];
}

export interface RouteTableOptions {
  /**
   * When the authority carries a port and no domain but "*" matches it, retry without the
   * port. Default false: Envoy's behaviour (use the HCM's strip_*_host_port).
   */
  portFallback?: boolean;
  /** Index the routes (default true). False scans every route in order (tests, benchmarks). */
  index?: boolean;
  /** Where runtime_fraction reads its keys (default: no values, every default applies). */
  runtime?: RuntimeLoader;
}

/** What every route of a table shares. */
interface SharedTableParts {
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
  readonly mostSpecificWins: boolean;
  readonly runtime: RuntimeLoader;
}

/** The request's random value in [0, 1) becomes an integer below 2^32 for runtime fractions. */
const RANDOM_RANGE = 0x1_0000_0000;

// ---------------------------------------------------------------------------------------------
// Small helpers.

const EMPTY_MUTATIONS: HeaderMutations = Object.freeze({ add: Object.freeze([]), remove: Object.freeze([]) });

function compileMutations(c: HeaderMutationsConfig): HeaderMutations {
  if (c.add.length === 0 && c.remove.length === 0) return EMPTY_MUTATIONS;
  return Object.freeze({
    add: Object.freeze(
      c.add.map((a) =>
        Object.freeze({
          ...a,
          // Checked on main (route-config.ts); Envoy's header formatter omits empty values.
          parts: a.literal === undefined ? Object.freeze(foldParts(compileFormat(a.format), '')) : undefined,
        }),
      ),
    ),
    remove: Object.freeze([...c.remove]),
  });
}

const NO_UPGRADES: ReadonlyMap<string, boolean> = new Map();

function isEmptyMutations(m: HeaderMutations): boolean {
  return m.add.length === 0 && m.remove.length === 0;
}

function compileRetryPolicy(c: RetryPolicyConfig): RetryPolicy {
  return Object.freeze({
    retryOn: new Set(c.retryOn),
    numRetries: c.numRetries,
    perTryTimeoutMs: c.perTryTimeoutMs,
    baseIntervalMs: c.baseIntervalMs,
    maxIntervalMs: c.maxIntervalMs,
    retriableStatusCodes: new Set(c.retriableStatusCodes),
  });
}

/** ASCII lower-casing; returns `s` itself when it has no upper-case letter (the usual case). */
function lowerAscii(s: string): string {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c > 127) return upper || /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 32)) : s;
  }
  // All ASCII: the native lower-casing folds exactly A-Z.
  return upper ? s.toLowerCase() : s;
}

/** True if value[0, lowered.length) equals `lowered` with ASCII letters folded. */
function startsWithFolded(value: string, lowered: string): boolean {
  const n = lowered.length;
  if (value.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowered.charCodeAt(i)) return false;
  }
  return true;
}

/** Envoy's HeaderUtility::getPortStart: index of the port's ':' or -1 (IPv6 literals bracketed). */
export function portStart(host: string): number {
  const colon = host.lastIndexOf(':');
  if (colon < 0) return -1;
  const v6End = host.lastIndexOf(']');
  return v6End < 0 || v6End < colon ? colon : -1;
}

/** The part of :path that path matchers see: without query and fragment (and ";params"). */
function pathForMatching(path: string, stripParams: boolean): string {
  let end = path.indexOf('?');
  if (end < 0) end = path.length;
  const hash = path.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  if (stripParams) {
    const semi = path.indexOf(';');
    if (semi >= 0 && semi < end) end = semi;
  }
  return end === path.length ? path : path.slice(0, end);
}

/** Length of :path without query and fragment (Envoy's PathUtil::removeQueryAndFragment). */
function pathLengthWithoutQuery(path: string): number {
  let end = path.indexOf('?');
  if (end < 0) end = path.length;
  const hash = path.indexOf('#');
  return hash >= 0 && hash < end ? hash : end;
}

/**
 * The first value of query parameter `name` in `path`, raw (Envoy's
 * QueryParamsMulti::parseQueryString + getFirstValue): from the first '?', '&'-separated,
 * "name" alone has the value "".
 */
export function firstQueryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const n = path.length;
  const len = name.length;
  let i = q + 1;
  while (i < n) {
    let end = path.indexOf('&', i);
    if (end < 0) end = n;
    let eq = -1;
    for (let j = i; j < end; j++) {
      if (path.charCodeAt(j) === 61 /* = */) {
        eq = j;
        break;
      }
    }
    const nameEnd = eq < 0 ? end : eq;
    if (nameEnd - i === len && path.startsWith(name, i)) return eq < 0 ? '' : path.slice(eq + 1, end);
    i = end + 1;
  }
  return undefined;
}

/** Envoy's Grpc::Common::hasGrpcContentType. */
function isGrpcContentType(ct: string | undefined): boolean {
  return ct !== undefined && ct.startsWith('application/grpc') && (ct.length === 16 || ct.charCodeAt(16) === 43 /* + */);
}

const SAFE_LITERAL = /^[A-Za-z0-9/_~%=&;:,@!'"<>#\- ]$/;

/**
 * The literal text every whole-string match of an RE2 `pattern` starts with, or '' when that
 * is not certain. Conservative: stops at the first character with a meaning in RE2 (escapes
 * included), drops the last literal when a quantifier follows it, and gives '' for a pattern
 * with a top-level '|'.
 */
export function re2LiteralPrefix(pattern: string): string {
  if (hasTopLevelAlternation(pattern)) return '';
  let i = pattern.startsWith('^') ? 1 : 0;
  let out = '';
  while (i < pattern.length && SAFE_LITERAL.test(pattern[i]!)) out += pattern[i++];
  if (i < pattern.length && '?*{'.includes(pattern[i]!)) out = out.slice(0, -1);
  return out;
}

function hasTopLevelAlternation(p: string): boolean {
  let depth = 0;
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === '\\') {
      if (p[i + 1] === 'Q') {
        const end = p.indexOf('\\E', i + 2);
        i = end < 0 ? p.length : end + 2;
      } else {
        i += 2;
      }
      continue;
    }
    if (c === '[') {
      // Skip the class: a ']' right after '[' or '[^' is literal; [:name:] nests.
      i++;
      if (p[i] === '^') i++;
      if (p[i] === ']') i++;
      while (i < p.length && p[i] !== ']') {
        if (p[i] === '\\') i += 2;
        else if (p.startsWith('[:', i)) {
          const end = p.indexOf(':]', i + 2);
          if (end < 0) return true;
          i = end + 2;
        } else i++;
      }
      if (i >= p.length) return true;
      i++;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
    i++;
  }
  return depth !== 0;
}

// ---------------------------------------------------------------------------------------------
// Radix tree of route prefixes.

class RadixNode {
  children: Map<number, RadixNode> | undefined = undefined;
  /** Indices of the routes whose prefix ends at this node, ascending. */
  routes: number[] | undefined = undefined;
  constructor(public label: string) {}
}

class PrefixTrie {
  private readonly root = new RadixNode('');
  size = 0;

  /** `fold`: keys are lower-case and lookups fold ASCII letters. */
  constructor(private readonly fold: boolean) {}

  insert(key: string, route: number): void {
    let node = this.root;
    let i = 0;
    while (i < key.length) {
      const c = key.charCodeAt(i);
      const children = (node.children ??= new Map());
      let child = children.get(c);
      if (!child) {
        child = new RadixNode(key.slice(i));
        children.set(c, child);
        node = child;
        i = key.length;
        break;
      }
      const label = child.label;
      let j = 1;
      while (j < label.length && i + j < key.length && label.charCodeAt(j) === key.charCodeAt(i + j)) j++;
      if (j < label.length) {
        // Split the edge at j.
        const mid = new RadixNode(label.slice(0, j));
        child.label = label.slice(j);
        mid.children = new Map([[child.label.charCodeAt(0), child]]);
        children.set(c, mid);
        child = mid;
      }
      node = child;
      i += j;
    }
    (node.routes ??= []).push(route);
    this.size++;
  }

  /** Appends the route lists of every node whose key is a prefix of `path`; returns the new count. */
  collect(path: string, out: number[][], count: number): number {
    const fold = this.fold;
    const end = path.length;
    let node = this.root;
    let i = 0;
    for (;;) {
      if (node.routes !== undefined) out[count++] = node.routes;
      if (i >= end || node.children === undefined) return count;
      let c = path.charCodeAt(i);
      if (fold && c >= 65 && c <= 90) c += 32;
      const child = node.children.get(c);
      if (child === undefined) return count;
      const label = child.label;
      const n = label.length;
      if (i + n > end) return count;
      for (let j = 1; j < n; j++) {
        let d = path.charCodeAt(i + j);
        if (fold && d >= 65 && d <= 90) d += 32;
        if (d !== label.charCodeAt(j)) return count;
      }
      i += n;
      node = child;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Routes.

const enum PathKind {
  Prefix,
  Exact,
  SeparatedPrefix,
  Regex,
}

const enum Pseudo {
  None,
  Path,
  Method,
  Authority,
}

interface CompiledHeaderMatcher {
  readonly matcher: HeaderMatcher;
  readonly pseudo: Pseudo;
}

interface CompiledQueryMatcher {
  readonly name: string;
  readonly matcher: StringMatcher | undefined;
}

class RouteMatchImpl implements RouteMatch {
  constructor(
    readonly virtualHost: VirtualHost,
    readonly route: RouteEntry,
    readonly action: RouteAction,
    readonly cluster: string,
    readonly weightedCluster: WeightedCluster | undefined,
    readonly hostRewrite: string | undefined,
    readonly requestHeaderMutations: readonly HeaderMutations[],
    readonly responseHeaderMutations: readonly HeaderMutations[],
  ) {}
}

/** One compiled route. */
export class RouteEntry {
  readonly name: string;
  /** Position in the virtual host's route list. */
  readonly index: number;
  readonly action: RouteAction;
  /** The route's own header mutations (RouteMatch has them combined with the other levels). */
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;

  private readonly pathKind: PathKind;
  /** The prefix or path (lower-case when !caseSensitive); '' for regexes. */
  private readonly pathValue: string;
  private readonly caseSensitive: boolean;
  private readonly regex: Re2Regex | undefined;
  private readonly regexPattern: string;
  private readonly grpc: boolean;
  private readonly headers: CompiledHeaderMatcher[];
  private readonly query: CompiledQueryMatcher[];
  private readonly runtimeFraction: RuntimeFractionConfig | undefined;
  private readonly runtime: RuntimeLoader;
  /** weighted_clusters.runtime_key_prefix: `<prefix>.<cluster>` per weighted cluster, else undefined. */
  private readonly weightKeys: readonly string[] | undefined;
  /** Results built once: one per weighted cluster, or one (cluster_header: the template). */
  private readonly results: RouteMatchImpl[];
  private readonly cumulative: number[];

  /** @internal Built by RouteTable. */
  constructor(
    readonly virtualHost: VirtualHost,
    config: RouteEntryConfig,
    index: number,
    vhConfig: VirtualHostConfig,
    table: SharedTableParts,
  ) {
    this.name = config.name;
    this.index = index;
    this.runtimeFraction = config.match.runtimeFraction;
    this.runtime = table.runtime;
    const spec = config.action.kind === 'route' ? config.action.cluster : undefined;
    this.weightKeys = spec?.kind === 'weighted' && spec.runtimeKeyPrefix !== undefined ? spec.clusters.map((c) => `${spec.runtimeKeyPrefix}.${c.name}`) : undefined;
    const m = config.match;
    this.caseSensitive = m.caseSensitive || m.path.kind === 'regex';
    switch (m.path.kind) {
      case 'prefix':
        this.pathKind = PathKind.Prefix;
        break;
      case 'path':
        this.pathKind = PathKind.Exact;
        break;
      case 'path_separated_prefix':
        this.pathKind = PathKind.SeparatedPrefix;
        break;
      case 'regex':
        this.pathKind = PathKind.Regex;
        break;
    }
    this.pathValue = m.path.kind === 'regex' ? '' : this.caseSensitive ? m.path.value : lowerAscii(m.path.value);
    this.regex = m.path.kind === 'regex' ? compileRe2(m.path.regex) : undefined;
    this.regexPattern = m.path.kind === 'regex' ? m.path.regex : '';
    this.grpc = m.grpc;
    this.headers = m.headers.map((h) => ({
      matcher: compileHeaderMatcher(h),
      pseudo: h.name === ':path' ? Pseudo.Path : h.name === ':method' ? Pseudo.Method : h.name === ':authority' ? Pseudo.Authority : Pseudo.None,
    }));
    this.query = m.queryParameters.map((q) => ({ name: q.name, matcher: q.matcher && compileStringMatcher(q.matcher) }));
    this.requestHeaders = compileMutations(config.requestHeaders);
    this.responseHeaders = compileMutations(config.responseHeaders);
    this.action = compileAction(config.action, vhConfig);

    const vh = this.virtualHost;
    const order = (wc: HeaderMutations, route: HeaderMutations, vhost: HeaderMutations, cfg: HeaderMutations): readonly HeaderMutations[] =>
      Object.freeze([wc, ...(table.mostSpecificWins ? [cfg, vhost, route] : [route, vhost, cfg])].filter((x) => !isEmptyMutations(x)));
    const build = (cluster: string, wc: WeightedCluster | undefined): RouteMatchImpl => {
      const action = this.action;
      const routeHost = action.kind === 'route' ? action.hostRewriteLiteral : undefined;
      return Object.freeze(
        new RouteMatchImpl(
          vh,
          this,
          action,
          cluster,
          wc,
          routeHost ?? wc?.hostRewriteLiteral,
          order(wc?.requestHeaders ?? EMPTY_MUTATIONS, this.requestHeaders, vh.requestHeaders, table.requestHeaders),
          order(wc?.responseHeaders ?? EMPTY_MUTATIONS, this.responseHeaders, vh.responseHeaders, table.responseHeaders),
        ),
      );
    };
    const a = this.action;
    if (a.kind === 'route' && a.clusterSpecifier === 'weighted') {
      this.results = a.weightedClusters.map((wc) => build(wc.name, wc));
      let sum = 0;
      this.cumulative = a.weightedClusters.map((wc) => (sum += wc.weight));
    } else {
      this.results = [build(a.kind === 'route' && a.cluster !== undefined ? a.cluster : '', undefined)];
      this.cumulative = [1];
    }
  }

  /** @internal The literal key this route is indexed under, and in which index. */
  indexKey(): { where: 'exact' | 'trie' | 'fallback'; key: string; folded: boolean } {
    switch (this.pathKind) {
      case PathKind.Exact:
        return { where: 'exact', key: this.pathValue, folded: !this.caseSensitive };
      case PathKind.Prefix:
      case PathKind.SeparatedPrefix:
        return { where: 'trie', key: this.pathValue, folded: !this.caseSensitive };
      case PathKind.Regex: {
        const prefix = re2LiteralPrefix(this.regexPattern);
        return prefix === '' ? { where: 'fallback', key: '', folded: false } : { where: 'trie', key: prefix, folded: false };
      }
    }
  }

  /**
   * @internal Full match test: `path` is the request path as matchers see it; `random` the
   * request's random value in [0, 1), shared by every route it is tried against (Envoy's
   * stream id), so a route at 30% is taken for the same requests as one at 60% and more.
   */
  matches(req: RouteRequest, path: string, random: number): boolean {
    const rf = this.runtimeFraction;
    if (rf !== undefined && !runtimeFractionMatches(rf, this.runtime.snapshot(), Math.floor(random * RANDOM_RANGE))) return false;
    const v = this.pathValue;
    switch (this.pathKind) {
      case PathKind.Prefix:
        if (this.caseSensitive ? !path.startsWith(v) : !startsWithFolded(path, v)) return false;
        break;
      case PathKind.Exact:
        if (this.caseSensitive ? path !== v : path.length !== v.length || !startsWithFolded(path, v)) return false;
        break;
      case PathKind.SeparatedPrefix:
        if (this.caseSensitive ? !path.startsWith(v) : !startsWithFolded(path, v)) return false;
        if (path.length > v.length && path.charCodeAt(v.length) !== 47 /* / */) return false;
        break;
      case PathKind.Regex:
        if (!this.regex!.fullMatch(path)) return false;
        break;
    }
    if (this.grpc && !isGrpcContentType(req.header('content-type'))) return false;
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i]!;
      let value: string | undefined;
      switch (h.pseudo) {
        case Pseudo.None:
          value = req.header(h.matcher.name);
          break;
        case Pseudo.Path:
          value = req.path;
          break;
        case Pseudo.Method:
          value = req.method;
          break;
        case Pseudo.Authority:
          value = req.authority;
          break;
      }
      if (!h.matcher.matchValue(value)) return false;
    }
    const query = this.query;
    for (let i = 0; i < query.length; i++) {
      const q = query[i]!;
      const value = firstQueryValue(req.path, q.name);
      if (value === undefined) return false;
      if (q.matcher !== undefined && !q.matcher.match(value)) return false;
    }
    return true;
  }

  /** @internal The result for a request that matched. */
  result(req: RouteRequest, random: number): RouteMatch {
    const results = this.results;
    const a = this.action;
    if (a.kind === 'route' && a.clusterSpecifier === 'cluster_header') {
      const t = results[0]!;
      const name = a.clusterHeader!;
      const cluster = (req.firstHeader ? req.firstHeader(name) : req.header(name)) ?? '';
      return new RouteMatchImpl(t.virtualHost, this, a, cluster, undefined, t.hostRewrite, t.requestHeaderMutations, t.responseHeaderMutations);
    }
    if (results.length === 1) return results[0]!;
    if (this.weightKeys !== undefined) {
      const picked = this.runtimeWeighted(random);
      if (picked !== undefined) return picked;
    }
    const cumulative = this.cumulative;
    const total = cumulative[cumulative.length - 1]!;
    let selected = Math.floor(random * total);
    if (!(selected >= 0)) selected = 0;
    for (let i = 0; i < cumulative.length; i++) if (selected < cumulative[i]!) return results[i]!;
    return results[results.length - 1]!;
  }

  /**
   * weighted_clusters with runtime_key_prefix: this request's weights from the runtime (each
   * key's integer, else the configured weight). Undefined when they add up to 0 (the
   * configured weights apply then).
   */
  private runtimeWeighted(random: number): RouteMatchImpl | undefined {
    const keys = this.weightKeys!;
    const a = this.action as ForwardAction;
    const snapshot = this.runtime.snapshot();
    const weights = keys.map((k, i) => snapshot.getInteger(k, a.weightedClusters[i]!.weight));
    const total = weights.reduce((s, w) => s + w, 0);
    if (total <= 0) return undefined;
    let selected = Math.floor(random * total);
    for (let i = 0; i < weights.length; i++) if ((selected -= weights[i]!) < 0) return this.results[i]!;
    return this.results[this.results.length - 1]!;
  }

  /** Length of the part of `path` that prefix_rewrite replaces (Envoy's "matched path"). */
  private matchedLength(path: string): number {
    return this.pathKind === PathKind.Regex ? pathLengthWithoutQuery(path) : this.pathValue.length;
  }

  /**
   * The :path to send upstream after prefix_rewrite, or undefined when the route does not
   * rewrite it. Query and fragment are kept.
   */
  rewritePath(path: string): string | undefined {
    const a = this.action;
    if (a.kind !== 'route' || a.prefixRewrite === undefined || a.prefixRewrite === '') return undefined;
    return a.prefixRewrite + path.slice(this.matchedLength(path));
  }

  /**
   * The Location of a redirect (Envoy's Http::Utility::newUri): for redirect routes, and for
   * direct responses with status 201 or 3xx (which get the request's own URL). `scheme` is
   * the request's x-forwarded-proto.
   */
  redirectUrl(authority: string, path: string, scheme: string): string {
    const a = this.action;
    const r = a.kind === 'redirect' ? a : undefined;
    if (r?.prefixRewrite !== undefined) path = r.prefixRewrite + path.slice(this.matchedLength(path));
    const finalScheme = r?.schemeRedirect ?? scheme;
    const finalPort = r !== undefined && r.portRedirect !== 0 ? `:${r.portRedirect}` : '';
    const finalHost = r?.hostRedirect ?? processRequestHost(authority, scheme, finalScheme, finalPort);
    let finalPath: string;
    const pathRedirectHasQuery = r?.pathRedirect !== undefined && r.pathRedirect.includes('?');
    if (r?.pathRedirect !== undefined) {
      if (pathRedirectHasQuery) {
        finalPath = r.pathRedirect;
      } else {
        const q = path.indexOf('?');
        finalPath = q >= 0 ? r.pathRedirect + path.slice(q) : r.pathRedirect;
      }
    } else {
      finalPath = path;
    }
    if (!finalPath.startsWith('/')) finalPath = `/${finalPath}`;
    if (r !== undefined && !pathRedirectHasQuery && r.stripQuery) {
      const q = finalPath.indexOf('?');
      if (q >= 0) finalPath = finalPath.slice(0, q);
    }
    return `${finalScheme}://${finalHost}${finalPort}${finalPath}`;
  }
}

/**
 * Envoy's Http::Utility::processRequestHost: the request's host for a redirect, without its
 * port when the redirect sets one, or when the scheme changes and the port is the old scheme's
 * default.
 */
function processRequestHost(authority: string, requestScheme: string, newScheme: string, newPort: string): string {
  if (authority === '') return authority;
  let hostEnd: number;
  if (authority.charCodeAt(0) === 91 /* [ */) {
    hostEnd = authority.lastIndexOf(']:');
    if (hostEnd >= 0) hostEnd += 1;
  } else {
    hostEnd = authority.lastIndexOf(':');
  }
  if (hostEnd >= 0) {
    const requestPort = authority.slice(hostEnd);
    let removePort = newPort !== '';
    if (newScheme !== requestScheme) {
      removePort ||= requestScheme === 'https' && requestPort === ':443';
      removePort ||= requestScheme === 'http' && requestPort === ':80';
    }
    if (removePort) return authority.slice(0, hostEnd);
  }
  return authority;
}

function compileAction(c: RouteActionConfig, vh: VirtualHostConfig): RouteAction {
  switch (c.kind) {
    case 'route': {
      const spec = c.cluster;
      const policy = c.retryPolicy ?? vh.retryPolicy;
      const weighted =
        spec.kind === 'weighted'
          ? spec.clusters.map((w) =>
              Object.freeze({
                name: w.name,
                weight: w.weight,
                hostRewriteLiteral: w.hostRewriteLiteral,
                requestHeaders: compileMutations(w.requestHeaders),
                responseHeaders: compileMutations(w.responseHeaders),
              }),
            )
          : [];
      return Object.freeze({
        kind: 'route',
        clusterSpecifier: spec.kind,
        cluster: spec.kind === 'cluster' ? spec.name : undefined,
        clusterHeader: spec.kind === 'cluster_header' ? spec.header : undefined,
        weightedClusters: Object.freeze(weighted),
        totalWeight: spec.kind === 'weighted' ? spec.totalWeight : 0,
        clusterNotFoundResponseCode: c.clusterNotFoundResponseCode,
        timeoutMs: c.timeoutMs,
        retryPolicy: policy ? compileRetryPolicy(policy) : DEFAULT_RETRY_POLICY,
        prefixRewrite: c.prefixRewrite,
        hostRewriteLiteral: c.hostRewriteLiteral,
        upgrades: c.upgrades.length === 0 ? NO_UPGRADES : new Map(c.upgrades.map((u) => [u.type, u.enabled])),
        idleTimeoutMs: c.idleTimeoutMs,
      });
    }
    case 'direct_response':
      return Object.freeze({
        kind: 'direct_response',
        status: c.status,
        body: c.bodyBase64 === undefined ? undefined : Buffer.from(c.bodyBase64, 'base64'),
      });
    case 'redirect':
      return Object.freeze({ ...c });
  }
}

// ---------------------------------------------------------------------------------------------
// Virtual hosts.

/** One compiled virtual host with its route index. */
export class VirtualHost {
  readonly name: string;
  /** Position in the configuration's virtual host list. */
  readonly index: number;
  /** Lower-case, as configured. */
  readonly domains: readonly string[];
  readonly routes: readonly RouteEntry[];
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
  /** include_request_attempt_count: x-envoy-attempt-count on every upstream try. */
  readonly includeAttemptCountInRequest: boolean;
  /** include_attempt_count_in_response: x-envoy-attempt-count on the response. */
  readonly includeAttemptCountInResponse: boolean;

  private readonly exact = new Map<string, number[]>();
  private readonly exactFolded = new Map<string, number[]>();
  private readonly trie = new PrefixTrie(false);
  private readonly trieFolded = new PrefixTrie(true);
  private readonly fallback: number[] = [];
  /** Scratch space for one lookup (lookups are synchronous, so one set per host suffices). */
  private readonly lists: number[][] = [];
  private readonly positions: number[] = [];

  /** @internal Built by RouteTable. */
  constructor(
    config: VirtualHostConfig,
    index: number,
    table: SharedTableParts,
    useIndex: boolean,
  ) {
    this.name = config.name;
    this.index = index;
    this.domains = Object.freeze([...config.domains]);
    this.requestHeaders = compileMutations(config.requestHeaders);
    this.responseHeaders = compileMutations(config.responseHeaders);
    this.includeAttemptCountInRequest = config.includeRequestAttemptCount;
    this.includeAttemptCountInResponse = config.includeAttemptCountInResponse;
    const routes = config.routes.map((r, i) => new RouteEntry(this, r, i, config, table));
    this.routes = Object.freeze(routes);
    for (const route of routes) {
      const k = useIndex ? route.indexKey() : { where: 'fallback' as const, key: '', folded: false };
      if (k.where === 'exact') {
        const map = k.folded ? this.exactFolded : this.exact;
        const bucket = map.get(k.key);
        if (bucket) bucket.push(route.index);
        else map.set(k.key, [route.index]);
      } else if (k.where === 'trie') {
        (k.folded ? this.trieFolded : this.trie).insert(k.key, route.index);
      } else {
        this.fallback.push(route.index);
      }
    }
  }

  /**
   * The first route that matches, as Envoy's in-order scan would find it. `path` is the
   * request path as path matchers see it (RouteTable.match computes it).
   */
  match(req: RouteRequest, path: string, random: number): RouteMatch | undefined {
    const lists = this.lists;
    let k = 0;
    if (this.exact.size > 0) {
      const b = this.exact.get(path);
      if (b !== undefined) lists[k++] = b;
    }
    if (this.exactFolded.size > 0) {
      const b = this.exactFolded.get(lowerAscii(path));
      if (b !== undefined) lists[k++] = b;
    }
    if (this.trie.size > 0) k = this.trie.collect(path, lists, k);
    if (this.trieFolded.size > 0) k = this.trieFolded.collect(path, lists, k);
    if (this.fallback.length > 0) lists[k++] = this.fallback;
    const routes = this.routes;
    if (k === 1) {
      const only = lists[0]!;
      for (let i = 0; i < only.length; i++) {
        const r = routes[only[i]!]!;
        if (r.matches(req, path, random)) return r.result(req, random);
      }
      return undefined;
    }
    // k-way merge by ascending route index; k is small (the path's trie depth + 3).
    const pos = this.positions;
    for (let i = 0; i < k; i++) pos[i] = 0;
    for (;;) {
      let best = -1;
      let bestRoute = Number.MAX_SAFE_INTEGER;
      for (let i = 0; i < k; i++) {
        const l = lists[i]!;
        const p = pos[i]!;
        if (p < l.length && l[p]! < bestRoute) {
          bestRoute = l[p]!;
          best = i;
        }
      }
      if (best < 0) return undefined;
      pos[best]!++;
      const r = routes[bestRoute]!;
      if (r.matches(req, path, random)) return r.result(req, random);
    }
  }
}

interface WildcardTable {
  /** Length of the literal part. */
  readonly length: number;
  readonly hosts: Map<string, VirtualHost>;
}

// ---------------------------------------------------------------------------------------------
// The table.

export class RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  /** Config-level mutations (also folded into every RouteMatch). */
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
  /** Lower-case; the connection manager removes them from external requests. */
  readonly internalOnlyHeaders: readonly string[];
  /** As configured (undefined = unset). */
  readonly validateClusters: boolean | undefined;

  private readonly exactHosts = new Map<string, VirtualHost>();
  /** Longest literal first. */
  private readonly suffixHosts: WildcardTable[];
  private readonly prefixHosts: WildcardTable[];
  private readonly defaultHost: VirtualHost | undefined;
  private readonly onlyDefault: boolean;
  private readonly ignorePort: boolean;
  private readonly portFallback: boolean;
  private readonly stripPathParameters: boolean;
  /**
   * Authority → virtual host (null: none), for authorities seen recently: most requests carry
   * one of a few Host values. Bounded: cleared when full, and long authorities not kept.
   */
  private readonly hostCache = new Map<string, VirtualHost | null>();

  /** `config` is plain data from route-config.ts (parsed without problems). */
  constructor(config: RouteConfig, options: RouteTableOptions = {}) {
    this.name = config.name;
    this.requestHeaders = compileMutations(config.requestHeaders);
    this.responseHeaders = compileMutations(config.responseHeaders);
    this.internalOnlyHeaders = Object.freeze([...config.internalOnlyHeaders]);
    this.validateClusters = config.validateClusters;
    this.ignorePort = config.ignorePortInHostMatching;
    this.portFallback = options.portFallback ?? false;
    this.stripPathParameters = config.ignorePathParametersInPathMatching;
    const shared: SharedTableParts = {
      requestHeaders: this.requestHeaders,
      responseHeaders: this.responseHeaders,
      mostSpecificWins: config.mostSpecificHeaderMutationsWins,
      runtime: options.runtime ?? NULL_RUNTIME_LOADER,
    };
    const useIndex = options.index ?? true;
    this.virtualHosts = Object.freeze(config.virtualHosts.map((vh, i) => new VirtualHost(vh, i, shared, useIndex)));

    const suffixes = new Map<number, Map<string, VirtualHost>>();
    const prefixes = new Map<number, Map<string, VirtualHost>>();
    let defaultHost: VirtualHost | undefined;
    for (const vh of this.virtualHosts) {
      for (const domain of vh.domains) {
        // route-config.ts refuses duplicates; the first entry wins should one slip through.
        if (domain === '*') {
          defaultHost ??= vh;
        } else if (domain.startsWith('*')) {
          addWildcard(suffixes, domain.slice(1), vh);
        } else if (domain.endsWith('*')) {
          addWildcard(prefixes, domain.slice(0, -1), vh);
        } else if (!this.exactHosts.has(domain)) {
          this.exactHosts.set(domain, vh);
        }
      }
    }
    const sorted = (m: Map<number, Map<string, VirtualHost>>): WildcardTable[] =>
      [...m.entries()].sort((a, b) => b[0] - a[0]).map(([length, hosts]) => ({ length, hosts }));
    this.suffixHosts = sorted(suffixes);
    this.prefixHosts = sorted(prefixes);
    this.defaultHost = defaultHost;
    this.onlyDefault = this.exactHosts.size === 0 && this.suffixHosts.length === 0 && this.prefixHosts.length === 0;
  }

  /** The virtual host for an authority (Host header), or undefined. */
  findVirtualHost(authority: string): VirtualHost | undefined {
    if (this.onlyDefault) return this.defaultHost;
    const cached = this.hostCache.get(authority);
    if (cached !== undefined) return cached ?? undefined;
    const vh = this.lookupVirtualHost(authority);
    if (authority.length <= HOST_CACHE_MAX_KEY) {
      if (this.hostCache.size >= HOST_CACHE_SIZE) this.hostCache.clear();
      this.hostCache.set(authority, vh ?? null);
    }
    return vh;
  }

  private lookupVirtualHost(authority: string): VirtualHost | undefined {
    let host = lowerAscii(authority);
    if (this.ignorePort) {
      const p = portStart(host);
      if (p >= 0) host = host.slice(0, p);
    }
    const found = this.findNonDefault(host);
    if (found !== undefined) return found;
    if (this.portFallback && !this.ignorePort) {
      const p = portStart(host);
      if (p >= 0) {
        const stripped = this.findNonDefault(host.slice(0, p));
        if (stripped !== undefined) return stripped;
      }
    }
    return this.defaultHost;
  }

  /** The route for a request, or undefined (no virtual host, or no route in it matched). */
  match(req: RouteRequest, random: number): RouteMatch | undefined {
    const vh = this.findVirtualHost(req.authority);
    if (vh === undefined) return undefined;
    return vh.match(req, pathForMatching(req.path, this.stripPathParameters), random);
  }

  private findNonDefault(host: string): VirtualHost | undefined {
    const exact = this.exactHosts.get(host);
    if (exact !== undefined) return exact;
    for (const t of this.suffixHosts) {
      // ">=": "*.foo.com" does not match ".foo.com".
      if (t.length >= host.length) continue;
      const vh = t.hosts.get(host.slice(host.length - t.length));
      if (vh !== undefined) return vh;
    }
    for (const t of this.prefixHosts) {
      if (t.length >= host.length) continue;
      const vh = t.hosts.get(host.slice(0, t.length));
      if (vh !== undefined) return vh;
    }
    return undefined;
  }
}

const HOST_CACHE_SIZE = 1024;
const HOST_CACHE_MAX_KEY = 255;

function addWildcard(tables: Map<number, Map<string, VirtualHost>>, literal: string, vh: VirtualHost): void {
  let hosts = tables.get(literal.length);
  if (!hosts) tables.set(literal.length, (hosts = new Map()));
  if (!hosts.has(literal)) hosts.set(literal, vh);
}

// ---------------------------------------------------------------------------------------------
// Applying header mutations.

/** The header operations applyHeaderMutations needs (names are lower-case). */
export interface MutableHeaders {
  has(name: string): boolean;
  /** Replaces every value of `name` with `value`. */
  set(name: string, value: string): void;
  /** Adds one more value of `name`. */
  append(name: string, value: string): void;
  remove(name: string): void;
}

/**
 * Applies header mutations in order, each level as Envoy's HeaderParser::evaluateHeaders does:
 * removals first; then every value is computed (`expand(header, ctx)` turns a format with
 * operators into its value; without it the format is used as written), against the headers
 * as they are after the removals; then OVERWRITE_* values are set, then APPEND/ADD_IF_ABSENT
 * values added. Empty values are skipped unless keep_empty_value. `expand` is a plain
 * function and `ctx` its argument (the stream), so callers need no closure per request.
 */
export function applyHeaderMutations<C>(
  mutations: readonly HeaderMutations[],
  headers: MutableHeaders,
  expand?: (header: HeaderToAdd, ctx: C) => string,
  ctx?: C,
): void {
  for (const m of mutations) {
    for (const name of m.remove) headers.remove(name);
    if (m.add.length === 0) continue;
    const toSet: Array<[string, string]> = [];
    const toAdd: Array<[string, string]> = [];
    for (const h of m.add) {
      const value = h.literal ?? (expand ? expand(h, ctx as C) : h.format);
      if (value === '' && !h.keepEmptyValue) continue;
      switch (h.appendAction) {
        case 'APPEND_IF_EXISTS_OR_ADD':
          toAdd.push([h.name, value]);
          break;
        case 'ADD_IF_ABSENT':
          if (!headers.has(h.name)) toAdd.push([h.name, value]);
          break;
        case 'OVERWRITE_IF_EXISTS':
          if (headers.has(h.name)) toSet.push([h.name, value]);
          break;
        case 'OVERWRITE_IF_EXISTS_OR_ADD':
          toSet.push([h.name, value]);
          break;
      }
    }
    for (const [name, value] of toSet) headers.set(name, value);
    for (const [name, value] of toAdd) headers.append(name, value);
  }
}
