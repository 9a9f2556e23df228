/**
 * HTTP route tables (envoy.config.route.v3.RouteConfiguration): checked proto values
 * (src/config/proto-json.ts) → plain internal data. Runs on the main process; the result is
 * JSON-serialisable and crosses to the workers, where route-table.ts compiles it.
 *
 * Semantics follow Envoy's source/common/router/config_impl.cc and header_parser.cc:
 * - domains are lower-cased (ASCII); "*" is the default virtual host (one per config);
 *   a leading '*' makes a suffix wildcard, a trailing '*' a prefix wildcard; a domain given
 *   twice (in one virtual host or across several) is an error;
 * - RouteAction.timeout defaults to 15 s (0 disables it); a route's retry_policy replaces the
 *   virtual host's entirely; num_retries defaults to 1; retry_back_off defaults to 25 ms base
 *   and 10 × base max; durations are truncated to whole milliseconds as Envoy does;
 * - weighted clusters need a weight on every entry and a sum in (0, 2^32); the deprecated
 *   total_weight is accepted only when it equals that sum (old Envoys required it, new ones
 *   ignore it, so such a config behaves the same in both);
 * - HeaderValueOption: `append` (deprecated BoolValue, default true) maps to
 *   APPEND_IF_EXISTS_OR_ADD / OVERWRITE_IF_EXISTS_OR_ADD; `append` with a non-default
 *   append_action is an error; ':'-prefixed and host headers may be neither added nor removed;
 *   header names are lower-cased. Values keep their substitution-format text (`%%` escapes,
 *   `%OPERATOR%` commands): it is checked here against the access log formatter's operators
 *   and compiled once per worker by route-table.ts;
 * - direct_response bodies (inline_string, inline_bytes, filename, environment_variable) are
 *   read here and limited to max_direct_response_body_size_bytes (default 4096).
 *
 * Fields Courier does not implement are refused by name (never silently ignored). A few that
 * are harmless at their default value (auto_host_rewrite: false, require_tls: NONE, …) are
 * accepted when they hold it. query_parameters' `present_match: false` is refused: Envoy
 * treats it as `true` (its QueryParameterMatcher ignores the value), which is never what the
 * author meant.
 *
 * The returned data is meaningful only when no problem was reported.
 */
import { readFileSync } from 'node:fs';
import type { ProblemSink } from '../../api/network-filter.js';
import { list, obj, rejectUnsupported, type Obj } from '../../config/plain-reader.js';
import { parseRegexMatcher, parseStringMatcher, trackProblems, type StringMatcherConfig } from '../matchers/string-matcher.js';
import { parseHeaderMatcher, type HeaderMatcherConfig } from '../matchers/header-matcher.js';
import { AccessLogFormatError, compileFormat } from '../access-log/substitution-format.js';
import { parseRuntimeFraction, type RuntimeFractionConfig } from '../runtime/runtime-fraction.js';

// ---------------------------------------------------------------------------------------------
// Plain data.

export type HeaderAppendAction =
  | 'APPEND_IF_EXISTS_OR_ADD'
  | 'ADD_IF_ABSENT'
  | 'OVERWRITE_IF_EXISTS_OR_ADD'
  | 'OVERWRITE_IF_EXISTS';

/** One HeaderValueOption. */
export interface HeaderValueOptionConfig {
  /** Lower-cased. */
  name: string;
  /** The value as configured: substitution-format text (`%%` is a literal '%'). */
  format: string;
  /** The value when `format` has no `%OPERATOR%`; undefined when the caller must expand it. */
  literal: string | undefined;
  appendAction: HeaderAppendAction;
  /** Add the header even when the value (after expansion) is empty. */
  keepEmptyValue: boolean;
}

/** The headers_to_add / headers_to_remove pair of one level (Envoy's HeaderParser). */
export interface HeaderMutationsConfig {
  add: HeaderValueOptionConfig[];
  /** Lower-cased. */
  remove: string[];
}

export const RETRY_ON_CONDITIONS = [
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'retriable-status-codes',
  'refused-stream',
] as const;
export type RetryOnCondition = (typeof RETRY_ON_CONDITIONS)[number];

/** Envoy's retry_on names that Courier does not implement yet (refused by name). */
const KNOWN_UNSUPPORTED_RETRY_ON = new Set([
  'envoy-ratelimited',
  'retriable-4xx',
  'retriable-headers',
  'reset-before-request',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

export interface RetryPolicyConfig {
  /** In configured order, without duplicates. */
  retryOn: RetryOnCondition[];
  numRetries: number;
  /** 0 = no per-try timeout (the route timeout applies). */
  perTryTimeoutMs: number;
  baseIntervalMs: number;
  maxIntervalMs: number;
  retriableStatusCodes: number[];
}

/** Envoy's back-off when retry_back_off is not configured (upstream.base_retry_backoff_ms). */
export const DEFAULT_RETRY_BASE_INTERVAL_MS = 25;
/** RouteAction.timeout when unset. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
/** RouteConfiguration.max_direct_response_body_size_bytes when unset. */
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES = 4096;

export type PathMatchConfig =
  | { kind: 'prefix' | 'path' | 'path_separated_prefix'; value: string }
  /** An RE2 pattern that must match the whole path (without query and fragment). */
  | { kind: 'regex'; regex: string };

export interface QueryParameterMatcherConfig {
  name: string;
  /** undefined = present match (the parameter must be present, with any value). */
  matcher: StringMatcherConfig | undefined;
}

export interface RouteMatchConfig {
  path: PathMatchConfig;
  /** Default true; does not apply to regex. */
  caseSensitive: boolean;
  headers: HeaderMatcherConfig[];
  queryParameters: QueryParameterMatcherConfig[];
  /** RouteMatch.grpc: content-type must be application/grpc or application/grpc+…. */
  grpc: boolean;
  /** RouteMatch.runtime_fraction: the share of requests this route may match. */
  runtimeFraction?: RuntimeFractionConfig | undefined;
}

export interface WeightedClusterConfig {
  name: string;
  weight: number;
  requestHeaders: HeaderMutationsConfig;
  responseHeaders: HeaderMutationsConfig;
  hostRewriteLiteral: string | undefined;
}

export type ClusterSpecifierConfig =
  | { kind: 'cluster'; name: string }
  /** The cluster is named by this (lower-cased) request header; absent header → no cluster. */
  | { kind: 'cluster_header'; header: string }
  | {
      kind: 'weighted';
      clusters: WeightedClusterConfig[];
      totalWeight: number;
      /** runtime_key_prefix: each cluster's weight is read from `<prefix>.<name>` (default: its weight). */
      runtimeKeyPrefix?: string | undefined;
    };

export interface ForwardActionConfig {
  kind: 'route';
  cluster: ClusterSpecifierConfig;
  /** 503 (SERVICE_UNAVAILABLE), 404 (NOT_FOUND) or 500 (INTERNAL_SERVER_ERROR). */
  clusterNotFoundResponseCode: number;
  /** 0 = no timeout. */
  timeoutMs: number;
  /** The route's own retry_policy; undefined = inherit the virtual host's. */
  retryPolicy: RetryPolicyConfig | undefined;
  prefixRewrite: string | undefined;
  hostRewriteLiteral: string | undefined;
  /**
   * RouteAction.upgrade_configs: upgrade type (lower-cased) → enabled. A type listed here
   * overrides the HCM's upgrade_configs for this route (false refuses it, true allows it even
   * when the HCM does not list it).
   */
  upgrades: Array<{ type: string; enabled: boolean }>;
  /** RouteAction.idle_timeout in ms, replacing the HCM's stream_idle_timeout (0 disables); undefined = unset. */
  idleTimeoutMs: number | undefined;
}

export interface DirectResponseActionConfig {
  kind: 'direct_response';
  status: number;
  /** The body's bytes in base64; undefined = no body. */
  bodyBase64: string | undefined;
}

export interface RedirectActionConfig {
  kind: 'redirect';
  /** 301, 302, 303, 307 or 308. */
  responseCode: number;
  /** From scheme_redirect, or "https" for https_redirect: true. */
  schemeRedirect: string | undefined;
  hostRedirect: string | undefined;
  /** 0 = keep. */
  portRedirect: number;
  pathRedirect: string | undefined;
  prefixRewrite: string | undefined;
  stripQuery: boolean;
}

export type RouteActionConfig = ForwardActionConfig | DirectResponseActionConfig | RedirectActionConfig;

export interface RouteEntryConfig {
  name: string;
  match: RouteMatchConfig;
  action: RouteActionConfig;
  requestHeaders: HeaderMutationsConfig;
  responseHeaders: HeaderMutationsConfig;
}

export interface VirtualHostConfig {
  name: string;
  /** Lower-cased, as configured otherwise. */
  domains: string[];
  routes: RouteEntryConfig[];
  requestHeaders: HeaderMutationsConfig;
  responseHeaders: HeaderMutationsConfig;
  retryPolicy: RetryPolicyConfig | undefined;
  /** include_request_attempt_count: x-envoy-attempt-count on each upstream try. */
  includeRequestAttemptCount: boolean;
  /** include_attempt_count_in_response: x-envoy-attempt-count on the downstream response. */
  includeAttemptCountInResponse: boolean;
}

export interface RouteConfig {
  name: string;
  virtualHosts: VirtualHostConfig[];
  requestHeaders: HeaderMutationsConfig;
  responseHeaders: HeaderMutationsConfig;
  /** Lower-cased; the connection manager strips them from external requests. */
  internalOnlyHeaders: string[];
  /** As configured; undefined = the caller's default (true for static configs, false for RDS). */
  validateClusters: boolean | undefined;
  mostSpecificHeaderMutationsWins: boolean;
  ignorePortInHostMatching: boolean;
  ignorePathParametersInPathMatching: boolean;
}

// ---------------------------------------------------------------------------------------------
// Parsing.

const ROUTE_CONFIGURATION_FIELDS = [
  'name',
  'virtual_hosts',
  'internal_only_headers',
  'request_headers_to_add',
  'request_headers_to_remove',
  'response_headers_to_add',
  'response_headers_to_remove',
  'validate_clusters',
  'most_specific_header_mutations_wins',
  'ignore_port_in_host_matching',
  'ignore_path_parameters_in_path_matching',
  'max_direct_response_body_size_bytes',
];

/**
 * Parses a checked envoy.config.route.v3.RouteConfiguration. Returns undefined if any problem
 * was reported (each with its field path, relative to `sink`).
 */
export function parseRouteConfiguration(proto: unknown, sink: ProblemSink): RouteConfig | undefined {
  const tracked = trackProblems(sink);
  const config = parseRouteConfigurationInner(proto, tracked.sink);
  return tracked.count === 0 ? config : undefined;
}

function parseRouteConfigurationInner(proto: unknown, problems: ProblemSink): RouteConfig | undefined {
  const rc = obj(proto);
  if (!rc) {
    problems.add('', 'a RouteConfiguration is required');
    return undefined;
  }
  rejectUnsupported(rc, ROUTE_CONFIGURATION_FIELDS, 'RouteConfiguration', problems);
  const name = str(rc, 'name');
  const maxBody = typeof rc['max_direct_response_body_size_bytes'] === 'number'
    ? (rc['max_direct_response_body_size_bytes'] as number)
    : DEFAULT_MAX_DIRECT_RESPONSE_BODY_SIZE_BYTES;
  const ctx: ParseContext = { maxDirectResponseBodyBytes: maxBody };

  const virtualHosts: VirtualHostConfig[] = [];
  list(rc['virtual_hosts']).forEach((vh, i) => {
    const parsed = parseVirtualHost(vh, problems.at(`virtual_hosts[${i}]`), ctx);
    if (parsed) virtualHosts.push(parsed);
  });
  checkDomains(rc, name, problems);

  const internalOnlyHeaders: string[] = [];
  list(rc['internal_only_headers']).forEach((h, i) => {
    if (typeof h !== 'string' || h === '') {
      problems.add(`internal_only_headers[${i}]`, 'a non-empty header name is required');
      return;
    }
    if (!validHeaderName(h, problems.at(`internal_only_headers[${i}]`))) return;
    internalOnlyHeaders.push(lowerAscii(h));
  });

  return {
    name,
    virtualHosts,
    requestHeaders: parseHeaderMutations(rc, 'request', problems),
    responseHeaders: parseHeaderMutations(rc, 'response', problems),
    internalOnlyHeaders,
    validateClusters: typeof rc['validate_clusters'] === 'boolean' ? (rc['validate_clusters'] as boolean) : undefined,
    mostSpecificHeaderMutationsWins: rc['most_specific_header_mutations_wins'] === true,
    ignorePortInHostMatching: rc['ignore_port_in_host_matching'] === true,
    ignorePathParametersInPathMatching: rc['ignore_path_parameters_in_path_matching'] === true,
  };
}

interface ParseContext {
  maxDirectResponseBodyBytes: number;
}

/** Envoy's RouteMatcher constructor: one "*", and every other domain unique (case-insensitive). */
function checkDomains(rc: Obj, configName: string, problems: ProblemSink): void {
  const seen = new Set<string>();
  let wildcardSeen = false;
  list(rc['virtual_hosts']).forEach((vh, i) => {
    list(obj(vh)?.['domains']).forEach((d, j) => {
      if (typeof d !== 'string') return;
      const domain = lowerAscii(d);
      const path = `virtual_hosts[${i}].domains[${j}]`;
      if (domain === '*') {
        if (wildcardSeen) problems.add(path, `only a single wildcard domain "*" is permitted in route ${JSON.stringify(configName)}`);
        wildcardSeen = true;
        return;
      }
      // Suffix, prefix and exact domains live in separate tables in Envoy: "*a" and "a*" do not clash.
      const key = domain.startsWith('*') ? `s${domain}` : domain.endsWith('*') ? `p${domain}` : `e${domain}`;
      if (seen.has(key)) {
        problems.add(path, `only unique values for domains are permitted; duplicate entry of domain ${domain} in route ${JSON.stringify(configName)}`);
      }
      seen.add(key);
    });
  });
}

const VIRTUAL_HOST_FIELDS = [
  'name',
  'domains',
  'routes',
  'request_headers_to_add',
  'request_headers_to_remove',
  'response_headers_to_add',
  'response_headers_to_remove',
  'retry_policy',
  'require_tls',
  'include_request_attempt_count',
  'include_attempt_count_in_response',
];

function parseVirtualHost(proto: unknown, problems: ProblemSink, ctx: ParseContext): VirtualHostConfig | undefined {
  const vh = obj(proto);
  if (!vh) {
    problems.add('', 'a VirtualHost is required');
    return undefined;
  }
  rejectUnsupported(vh, VIRTUAL_HOST_FIELDS, 'VirtualHost', problems);
  if (vh['require_tls'] !== undefined && vh['require_tls'] !== 'NONE') {
    problems.add('require_tls', `VirtualHost.require_tls ${String(vh['require_tls'])} is not supported by Courier yet (only NONE)`);
  }
  const name = str(vh, 'name');
  if (name === '') problems.add('name', 'a non-empty virtual host name is required');
  const domains: string[] = [];
  const rawDomains = list(vh['domains']);
  if (rawDomains.length === 0) problems.add('domains', 'at least one domain is required');
  rawDomains.forEach((d, i) => {
    if (typeof d !== 'string') {
      problems.add(`domains[${i}]`, 'expected a string');
      return;
    }
    if (!validHeaderValue(d, problems.at(`domains[${i}]`))) return;
    domains.push(lowerAscii(d));
  });
  const routes: RouteEntryConfig[] = [];
  list(vh['routes']).forEach((r, i) => {
    const parsed = parseRoute(r, problems.at(`routes[${i}]`), ctx);
    if (parsed) routes.push(parsed);
  });
  const retryPolicy = vh['retry_policy'] !== undefined ? parseRetryPolicy(vh['retry_policy'], problems.at('retry_policy')) : undefined;
  return {
    name,
    domains,
    routes,
    requestHeaders: parseHeaderMutations(vh, 'request', problems),
    responseHeaders: parseHeaderMutations(vh, 'response', problems),
    retryPolicy,
    includeRequestAttemptCount: vh['include_request_attempt_count'] === true,
    includeAttemptCountInResponse: vh['include_attempt_count_in_response'] === true,
  };
}

const ROUTE_FIELDS = [
  'name',
  'match',
  'route',
  'redirect',
  'direct_response',
  'request_headers_to_add',
  'request_headers_to_remove',
  'response_headers_to_add',
  'response_headers_to_remove',
];

function parseRoute(proto: unknown, problems: ProblemSink, ctx: ParseContext): RouteEntryConfig | undefined {
  const r = obj(proto);
  if (!r) {
    problems.add('', 'a Route is required');
    return undefined;
  }
  rejectUnsupported(r, ROUTE_FIELDS, 'Route', problems);
  const match = obj(r['match']);
  if (!match) problems.add('match', 'match is required');
  const m = match ? parseRouteMatch(match, problems.at('match')) : undefined;

  const actions = (['route', 'redirect', 'direct_response'] as const).filter((k) => r[k] !== undefined);
  let action: RouteActionConfig | undefined;
  if (actions.length === 0) {
    const other = ['filter_action', 'non_forwarding_action'].some((k) => r[k] !== undefined);
    if (!other) problems.add('', 'one of "route", "redirect", "direct_response" is required in Route');
  } else if (actions.length > 1) {
    problems.add(actions[1]!, `"${actions[1]}" and "${actions[0]}" are both set; only one action is allowed`);
  } else if (actions[0] === 'route') {
    action = parseRouteAction(obj(r['route']) ?? {}, problems.at('route'));
  } else if (actions[0] === 'redirect') {
    action = parseRedirectAction(obj(r['redirect']) ?? {}, problems.at('redirect'));
  } else {
    action = parseDirectResponse(obj(r['direct_response']) ?? {}, problems.at('direct_response'), ctx);
  }
  const requestHeaders = parseHeaderMutations(r, 'request', problems);
  const responseHeaders = parseHeaderMutations(r, 'response', problems);
  if (!m || !action) return undefined;
  return { name: str(r, 'name'), match: m, action, requestHeaders, responseHeaders };
}

const ROUTE_MATCH_FIELDS = [
  'prefix',
  'path',
  'safe_regex',
  'path_separated_prefix',
  'case_sensitive',
  'headers',
  'query_parameters',
  'grpc',
  'runtime_fraction',
];
const PATH_SPECIFIERS = ['prefix', 'path', 'safe_regex', 'path_separated_prefix'] as const;
const PATH_SEPARATED_PREFIX = /^[^?#]+[^?#/]$/;

function parseRouteMatch(m: Obj, problems: ProblemSink): RouteMatchConfig | undefined {
  rejectUnsupported(m, ROUTE_MATCH_FIELDS, 'RouteMatch', problems);
  const set = PATH_SPECIFIERS.filter((k) => m[k] !== undefined);
  let path: PathMatchConfig | undefined;
  if (set.length === 0) {
    const other = ['connect_matcher', 'path_match_policy'].some((k) => m[k] !== undefined);
    if (!other) problems.add('', `one of ${PATH_SPECIFIERS.map((s) => `"${s}"`).join(', ')} is required in RouteMatch`);
  } else if (set.length > 1) {
    problems.add(set[1]!, `"${set[1]}" and "${set[0]}" are both set; only one path specifier is allowed`);
  } else {
    const kind = set[0]!;
    if (kind === 'safe_regex') {
      const regex = parseRegexMatcher(m['safe_regex'], problems.at('safe_regex'));
      if (regex !== undefined) path = { kind: 'regex', regex };
    } else {
      const value = m[kind];
      if (typeof value !== 'string') {
        problems.add(kind, 'expected a string');
      } else if (kind === 'path_separated_prefix' && !PATH_SEPARATED_PREFIX.test(value)) {
        problems.add(kind, `"${value}" must be non-empty, contain no '?' or '#', and not end with '/'`);
      } else {
        path = { kind, value };
      }
    }
  }
  let ok = true;
  const headers: HeaderMatcherConfig[] = [];
  list(m['headers']).forEach((h, i) => {
    const parsed = parseHeaderMatcher(h, problems.at(`headers[${i}]`));
    if (parsed) headers.push(parsed);
    else ok = false;
  });
  const queryParameters: QueryParameterMatcherConfig[] = [];
  list(m['query_parameters']).forEach((q, i) => {
    const parsed = parseQueryParameterMatcher(q, problems.at(`query_parameters[${i}]`));
    if (parsed) queryParameters.push(parsed);
    else ok = false;
  });
  const grpc = obj(m['grpc']);
  if (grpc) rejectUnsupported(grpc, [], 'RouteMatch.GrpcRouteMatchOptions', problems.at('grpc'));
  const rf = obj(m['runtime_fraction']);
  const runtimeFraction = rf && parseRuntimeFraction(rf, problems.at('runtime_fraction'));
  if (!path || !ok || (rf && !runtimeFraction)) return undefined;
  return {
    path,
    caseSensitive: m['case_sensitive'] !== false,
    headers,
    queryParameters,
    grpc: grpc !== undefined,
    ...(runtimeFraction ? { runtimeFraction } : {}),
  };
}

function parseQueryParameterMatcher(proto: unknown, problems: ProblemSink): QueryParameterMatcherConfig | undefined {
  const q = obj(proto);
  if (!q) {
    problems.add('', 'a QueryParameterMatcher is required');
    return undefined;
  }
  rejectUnsupported(q, ['name', 'string_match', 'present_match'], 'QueryParameterMatcher', problems);
  const name = q['name'];
  if (typeof name !== 'string' || name === '') {
    problems.add('name', 'a non-empty query parameter name is required');
    return undefined;
  }
  if (q['string_match'] !== undefined && q['present_match'] !== undefined) {
    problems.add('present_match', '"present_match" and "string_match" are both set; only one is allowed');
    return undefined;
  }
  if (q['present_match'] === false) {
    problems.add('present_match', 'present_match: false is not supported: Envoy treats it as present_match: true; remove the matcher instead');
    return undefined;
  }
  if (q['string_match'] !== undefined) {
    const matcher = parseStringMatcher(q['string_match'], problems.at('string_match'));
    return matcher && { name, matcher };
  }
  return { name, matcher: undefined };
}

const ROUTE_ACTION_FIELDS = [
  'cluster',
  'cluster_header',
  'weighted_clusters',
  'cluster_not_found_response_code',
  'prefix_rewrite',
  'host_rewrite_literal',
  'timeout',
  'retry_policy',
  'upgrade_configs',
  'idle_timeout',
];

const CLUSTER_NOT_FOUND_CODES: Record<string, number> = {
  SERVICE_UNAVAILABLE: 503,
  NOT_FOUND: 404,
  INTERNAL_SERVER_ERROR: 500,
};

function parseRouteAction(a: Obj, problems: ProblemSink): ForwardActionConfig | undefined {
  // Accepted at their default values, which is what Courier does.
  const defaults: Record<string, unknown> = { auto_host_rewrite: false, append_x_forwarded_host: false, priority: 'DEFAULT' };
  const checked: Obj = {};
  for (const [k, v] of Object.entries(a)) if (!(k in defaults) || v !== defaults[k]) checked[k] = v;
  if (checked['auto_host_rewrite'] !== undefined) {
    delete checked['auto_host_rewrite'];
    problems.add('auto_host_rewrite', 'RouteAction.auto_host_rewrite is not supported by Courier yet; use host_rewrite_literal');
  }
  rejectUnsupported(checked, ROUTE_ACTION_FIELDS, 'RouteAction', problems);

  const specifiers = (['cluster', 'cluster_header', 'weighted_clusters'] as const).filter((k) => a[k] !== undefined);
  let cluster: ClusterSpecifierConfig | undefined;
  if (specifiers.length === 0) {
    const other = ['cluster_specifier_plugin', 'inline_cluster_specifier_plugin'].some((k) => a[k] !== undefined);
    if (!other) problems.add('', 'one of "cluster", "cluster_header", "weighted_clusters" is required in RouteAction');
  } else if (specifiers.length > 1) {
    problems.add(specifiers[1]!, `"${specifiers[1]}" and "${specifiers[0]}" are both set; only one cluster specifier is allowed`);
  } else if (specifiers[0] === 'cluster') {
    const name = a['cluster'];
    if (typeof name !== 'string' || name === '') problems.add('cluster', 'cluster must not be empty');
    else cluster = { kind: 'cluster', name };
  } else if (specifiers[0] === 'cluster_header') {
    const header = a['cluster_header'];
    if (typeof header !== 'string' || header === '') problems.add('cluster_header', 'cluster_header must not be empty');
    else if (validHeaderName(header, problems.at('cluster_header'))) cluster = { kind: 'cluster_header', header: lowerAscii(header) };
  } else {
    cluster = parseWeightedClusters(a['weighted_clusters'], problems.at('weighted_clusters'));
  }

  const code = a['cluster_not_found_response_code'];
  const clusterNotFoundResponseCode = code === undefined ? 503 : CLUSTER_NOT_FOUND_CODES[String(code)];
  if (clusterNotFoundResponseCode === undefined) problems.add('cluster_not_found_response_code', `unknown value ${JSON.stringify(code)}`);

  const timeoutMs = durationField(a, 'timeout', DEFAULT_ROUTE_TIMEOUT_MS, problems);
  const retryPolicy = a['retry_policy'] !== undefined ? parseRetryPolicy(a['retry_policy'], problems.at('retry_policy')) : undefined;

  const prefixRewrite = optionalHeaderValue(a, 'prefix_rewrite', problems);
  const hostRewriteLiteral = optionalHeaderValue(a, 'host_rewrite_literal', problems);
  const upgrades = parseRouteUpgradeConfigs(a, problems);
  const idleTimeoutMs = a['idle_timeout'] === undefined ? undefined : durationField(a, 'idle_timeout', 0, problems);
  if (!cluster || clusterNotFoundResponseCode === undefined || timeoutMs === undefined) return undefined;
  if (a['retry_policy'] !== undefined && !retryPolicy) return undefined;
  return {
    kind: 'route',
    cluster,
    clusterNotFoundResponseCode,
    timeoutMs,
    retryPolicy,
    prefixRewrite,
    hostRewriteLiteral,
    upgrades,
    idleTimeoutMs,
  };
}

/** Where an upgrade_configs list sits: the HCM's or a route's (their messages differ, as in Envoy). */
export interface UpgradeConfigsLevel {
  /** Message name for refused fields. */
  readonly what: string;
  /** Fields accepted besides upgrade_type and enabled. */
  readonly extraFields: readonly string[];
  /** Envoy's message for a type given twice. */
  duplicate(raw: string): string;
}

/**
 * An upgrade_configs list (HttpConnectionManager.UpgradeConfig or RouteAction.UpgradeConfig):
 * upgrade types matched without case, each at most once; CONNECT refused until Courier has it.
 */
export function parseUpgradeConfigs(
  listValue: unknown,
  problems: ProblemSink,
  level: UpgradeConfigsLevel,
): Array<{ type: string; enabled: boolean; entry: Obj; problems: ProblemSink }> {
  const out: Array<{ type: string; enabled: boolean; entry: Obj; problems: ProblemSink }> = [];
  list(listValue).forEach((u, i) => {
    const up = problems.at(`upgrade_configs[${i}]`);
    const o = obj(u) ?? {};
    rejectUnsupported(o, ['upgrade_type', 'enabled', ...level.extraFields], level.what, up);
    const raw = typeof o['upgrade_type'] === 'string' ? o['upgrade_type'] : '';
    const type = raw.toLowerCase();
    if (type === '') {
      up.add('upgrade_type', 'a non-empty upgrade_type is required');
      return;
    }
    if (type === 'connect') {
      up.add('upgrade_type', 'CONNECT is not supported by Courier yet (only Upgrade-header upgrades such as websocket)');
      return;
    }
    if (out.some((x) => x.type === type)) {
      up.add('upgrade_type', level.duplicate(raw));
      return;
    }
    out.push({ type, enabled: o['enabled'] !== false, entry: o, problems: up });
  });
  return out;
}

const ROUTE_UPGRADES: UpgradeConfigsLevel = { what: 'RouteAction.UpgradeConfig', extraFields: [], duplicate: (raw) => `Duplicate upgrade ${raw}` };

/** RouteAction.upgrade_configs (connect_config, CONNECT termination, is refused). */
function parseRouteUpgradeConfigs(a: Obj, problems: ProblemSink): Array<{ type: string; enabled: boolean }> {
  return parseUpgradeConfigs(a['upgrade_configs'], problems, ROUTE_UPGRADES).map(({ type, enabled }) => ({ type, enabled }));
}

const UINT32_MAX = 0xffffffff;

function parseWeightedClusters(proto: unknown, problems: ProblemSink): ClusterSpecifierConfig | undefined {
  const wc = obj(proto);
  if (!wc) {
    problems.add('', 'a WeightedCluster is required');
    return undefined;
  }
  rejectUnsupported(wc, ['clusters', 'total_weight', 'runtime_key_prefix'], 'WeightedCluster', problems);
  const entries = list(wc['clusters']);
  if (entries.length === 0) {
    problems.add('clusters', 'at least one cluster is required');
    return undefined;
  }
  let ok = true;
  const clusters: WeightedClusterConfig[] = [];
  entries.forEach((e, i) => {
    const cp = problems.at(`clusters[${i}]`);
    const entry = obj(e) ?? {};
    rejectUnsupported(
      entry,
      [
        'name',
        'weight',
        'request_headers_to_add',
        'request_headers_to_remove',
        'response_headers_to_add',
        'response_headers_to_remove',
        'host_rewrite_literal',
      ],
      'ClusterWeight',
      cp,
    );
    const tracked = trackProblems(cp);
    const name = entry['name'];
    const weight = entry['weight'];
    if (typeof name !== 'string' || name === '') {
      tracked.sink.add('name', 'a cluster name is required');
    }
    if (weight === undefined) {
      // Envoy: PROTOBUF_GET_WRAPPED_REQUIRED(cluster, weight).
      tracked.sink.add('weight', 'weight is required');
    } else if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > UINT32_MAX) {
      tracked.sink.add('weight', `weight must be a uint32, got ${JSON.stringify(weight)}`);
    }
    const requestHeaders = parseHeaderMutations(entry, 'request', tracked.sink);
    const responseHeaders = parseHeaderMutations(entry, 'response', tracked.sink);
    const hostRewriteLiteral = optionalHeaderValue(entry, 'host_rewrite_literal', tracked.sink);
    if (tracked.count > 0) {
      ok = false;
      return;
    }
    clusters.push({ name: name as string, weight: weight as number, requestHeaders, responseHeaders, hostRewriteLiteral });
  });
  if (!ok) return undefined;
  const sum = clusters.reduce((s, c) => s + c.weight, 0);
  if (sum === 0) {
    problems.add('clusters', 'sum of weights in the weighted_cluster must be greater than 0');
    return undefined;
  }
  if (sum > UINT32_MAX) {
    problems.add('clusters', `the sum of weights of all weighted clusters exceeds ${UINT32_MAX}`);
    return undefined;
  }
  const total = wc['total_weight'];
  if (total !== undefined && total !== sum) {
    problems.add('total_weight', `total_weight (deprecated) is ${JSON.stringify(total)} but the weights add up to ${sum}; remove it or make it equal`);
    return undefined;
  }
  const prefix = typeof wc['runtime_key_prefix'] === 'string' && wc['runtime_key_prefix'] !== '' ? wc['runtime_key_prefix'] : undefined;
  return { kind: 'weighted', clusters, totalWeight: sum, ...(prefix ? { runtimeKeyPrefix: prefix } : {}) };
}

const RETRY_POLICY_FIELDS = ['retry_on', 'num_retries', 'per_try_timeout', 'retry_back_off', 'retriable_status_codes'];

/** Parses a checked envoy.config.route.v3.RetryPolicy; undefined if a problem was reported. */
export function parseRetryPolicy(proto: unknown, sink: ProblemSink): RetryPolicyConfig | undefined {
  const tracked = trackProblems(sink);
  const policy = parseRetryPolicyInner(proto, tracked.sink);
  return tracked.count === 0 ? policy : undefined;
}

function parseRetryPolicyInner(proto: unknown, problems: ProblemSink): RetryPolicyConfig | undefined {
  const p = obj(proto);
  if (!p) {
    problems.add('', 'a RetryPolicy is required');
    return undefined;
  }
  rejectUnsupported(p, RETRY_POLICY_FIELDS, 'RetryPolicy', problems);
  const retryOn: RetryOnCondition[] = [];
  const text = str(p, 'retry_on');
  // Envoy: comma-separated, whitespace around each name trimmed, empty names skipped.
  for (const raw of text.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    if ((RETRY_ON_CONDITIONS as readonly string[]).includes(name)) {
      if (!retryOn.includes(name as RetryOnCondition)) retryOn.push(name as RetryOnCondition);
    } else if (KNOWN_UNSUPPORTED_RETRY_ON.has(name)) {
      problems.add('retry_on', `retry_on "${name}" is not supported by Courier yet (supported: ${RETRY_ON_CONDITIONS.join(', ')})`);
    } else {
      problems.add('retry_on', `unknown retry_on condition "${name}" (supported: ${RETRY_ON_CONDITIONS.join(', ')})`);
    }
  }
  const numRetries = p['num_retries'] === undefined ? 1 : p['num_retries'];
  if (typeof numRetries !== 'number' || !Number.isInteger(numRetries) || numRetries < 0) {
    problems.add('num_retries', `expected a uint32, got ${JSON.stringify(numRetries)}`);
  }
  const perTryTimeoutMs = durationField(p, 'per_try_timeout', 0, problems);
  let baseIntervalMs = DEFAULT_RETRY_BASE_INTERVAL_MS;
  let maxIntervalMs = DEFAULT_RETRY_BASE_INTERVAL_MS * 10;
  const backOff = obj(p['retry_back_off']);
  if (p['retry_back_off'] !== undefined) {
    const bp = problems.at('retry_back_off');
    if (!backOff) {
      bp.add('', 'expected a RetryBackOff');
    } else {
      rejectUnsupported(backOff, ['base_interval', 'max_interval'], 'RetryBackOff', bp);
      const base = backOff['base_interval'];
      if (typeof base !== 'number' || !(base > 0)) {
        bp.add('base_interval', 'base_interval is required and must be greater than 0');
      } else {
        // Envoy truncates to milliseconds and rounds sub-millisecond values up to 1 ms.
        baseIntervalMs = Math.max(1, Math.floor(base));
        maxIntervalMs = baseIntervalMs * 10;
        const max = backOff['max_interval'];
        if (max !== undefined) {
          if (typeof max !== 'number' || !(max > 0)) {
            bp.add('max_interval', 'max_interval must be greater than 0');
          } else {
            maxIntervalMs = Math.max(1, Math.floor(max));
            if (maxIntervalMs < baseIntervalMs) bp.add('max_interval', 'max_interval must be greater than or equal to the base_interval');
          }
        }
      }
    }
  }
  const retriableStatusCodes: number[] = [];
  list(p['retriable_status_codes']).forEach((c, i) => {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 0) {
      problems.add(`retriable_status_codes[${i}]`, `expected a uint32, got ${JSON.stringify(c)}`);
      return;
    }
    retriableStatusCodes.push(c);
  });
  if (perTryTimeoutMs === undefined) return undefined;
  return {
    retryOn,
    numRetries: numRetries as number,
    perTryTimeoutMs,
    baseIntervalMs,
    maxIntervalMs,
    retriableStatusCodes,
  };
}

const REDIRECT_FIELDS = [
  'https_redirect',
  'scheme_redirect',
  'host_redirect',
  'port_redirect',
  'path_redirect',
  'prefix_rewrite',
  'response_code',
  'strip_query',
];

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function parseRedirectAction(r: Obj, problems: ProblemSink): RedirectActionConfig | undefined {
  rejectUnsupported(r, REDIRECT_FIELDS, 'RedirectAction', problems);
  const tracked = trackProblems(problems);
  const p = tracked.sink;
  if (r['https_redirect'] !== undefined && r['scheme_redirect'] !== undefined) {
    p.add('scheme_redirect', '"scheme_redirect" and "https_redirect" are both set; only one is allowed');
  }
  if (r['path_redirect'] !== undefined && r['prefix_rewrite'] !== undefined) {
    p.add('prefix_rewrite', '"prefix_rewrite" and "path_redirect" are both set; only one is allowed');
  }
  let schemeRedirect = optionalHeaderValue(r, 'scheme_redirect', p);
  if (schemeRedirect === '') schemeRedirect = undefined;
  if (schemeRedirect === undefined && r['https_redirect'] === true) schemeRedirect = 'https';
  const hostRedirect = nonEmpty(optionalHeaderValue(r, 'host_redirect', p));
  const pathRedirect = nonEmpty(optionalHeaderValue(r, 'path_redirect', p));
  const prefixRewrite = nonEmpty(optionalHeaderValue(r, 'prefix_rewrite', p));
  const port = r['port_redirect'] ?? 0;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > UINT32_MAX) {
    p.add('port_redirect', `expected a uint32, got ${JSON.stringify(port)}`);
  }
  const code = r['response_code'] === undefined ? 301 : REDIRECT_CODES[String(r['response_code'])];
  if (code === undefined) p.add('response_code', `unknown value ${JSON.stringify(r['response_code'])}`);
  if (tracked.count > 0) return undefined;
  return {
    kind: 'redirect',
    responseCode: code!,
    schemeRedirect,
    hostRedirect,
    portRedirect: port as number,
    pathRedirect,
    prefixRewrite,
    stripQuery: r['strip_query'] === true,
  };
}

function parseDirectResponse(d: Obj, problems: ProblemSink, ctx: ParseContext): DirectResponseActionConfig | undefined {
  rejectUnsupported(d, ['status', 'body'], 'DirectResponseAction', problems);
  const status = d['status'];
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status >= 600) {
    problems.add('status', `status must be an HTTP status in [200, 600), got ${JSON.stringify(status)}`);
    return undefined;
  }
  if (d['body'] === undefined) return { kind: 'direct_response', status, bodyBase64: undefined };
  const body = readDataSource(d['body'], problems.at('body'), ctx.maxDirectResponseBodyBytes);
  if (body === undefined) return undefined;
  return { kind: 'direct_response', status, bodyBase64: body.toString('base64') };
}

/** Reads a core.v3.DataSource now, as Envoy does at config load. */
function readDataSource(proto: unknown, problems: ProblemSink, maxBytes: number): Buffer | undefined {
  const ds = obj(proto);
  if (!ds) {
    problems.add('', 'a DataSource is required');
    return undefined;
  }
  rejectUnsupported(ds, ['filename', 'inline_bytes', 'inline_string', 'environment_variable'], 'DataSource', problems);
  let bytes: Buffer | undefined;
  if (typeof ds['filename'] === 'string') {
    const filename = ds['filename'];
    try {
      bytes = readFileSync(filename);
    } catch (e) {
      problems.add('filename', `response body file ${filename} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return undefined;
    }
    if (bytes.length > maxBytes) {
      problems.add('filename', `response body file ${filename} size is ${bytes.length} bytes; maximum is ${maxBytes}`);
      return undefined;
    }
    return bytes;
  }
  if (typeof ds['inline_bytes'] === 'string') {
    bytes = Buffer.from(ds['inline_bytes'], 'base64');
  } else if (typeof ds['inline_string'] === 'string') {
    bytes = Buffer.from(ds['inline_string'], 'utf8');
  } else if (typeof ds['environment_variable'] === 'string') {
    const name = ds['environment_variable'];
    const value = process.env[name];
    if (value === undefined) {
      problems.add('environment_variable', `environment variable ${name} is not set`);
      return undefined;
    }
    bytes = Buffer.from(value, 'utf8');
  } else {
    problems.add('', 'one of "filename", "inline_bytes", "inline_string", "environment_variable" is required in DataSource');
    return undefined;
  }
  if (bytes.length > maxBytes) {
    problems.add('', `response body size is ${bytes.length} bytes; maximum is ${maxBytes}`);
    return undefined;
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Header mutations.

/** Reads `<dir>_headers_to_add` and `<dir>_headers_to_remove` of a message. */
function parseHeaderMutations(o: Obj, dir: 'request' | 'response', problems: ProblemSink): HeaderMutationsConfig {
  const add: HeaderValueOptionConfig[] = [];
  list(o[`${dir}_headers_to_add`]).forEach((h, i) => {
    const parsed = parseHeaderValueOption(h, problems.at(`${dir}_headers_to_add[${i}]`));
    if (parsed) add.push(parsed);
  });
  const remove: string[] = [];
  list(o[`${dir}_headers_to_remove`]).forEach((h, i) => {
    const p = problems.at(`${dir}_headers_to_remove[${i}]`);
    if (typeof h !== 'string' || h === '') {
      p.add('', 'a non-empty header name is required');
      return;
    }
    if (!validHeaderName(h, p)) return;
    const name = lowerAscii(h);
    if (!modifiableHeader(name)) {
      p.add('', `${JSON.stringify(h)}: ':'-prefixed or host headers may not be removed`);
      return;
    }
    remove.push(name);
  });
  return { add, remove };
}

const APPEND_ACTIONS: readonly HeaderAppendAction[] = [
  'APPEND_IF_EXISTS_OR_ADD',
  'ADD_IF_ABSENT',
  'OVERWRITE_IF_EXISTS_OR_ADD',
  'OVERWRITE_IF_EXISTS',
];

/** Parses a checked envoy.config.core.v3.HeaderValueOption; undefined if a problem was reported. */
export function parseHeaderValueOption(proto: unknown, sink: ProblemSink): HeaderValueOptionConfig | undefined {
  const tracked = trackProblems(sink);
  const option = parseHeaderValueOptionInner(proto, tracked.sink);
  return tracked.count === 0 ? option : undefined;
}

function parseHeaderValueOptionInner(proto: unknown, problems: ProblemSink): HeaderValueOptionConfig | undefined {
  const o = obj(proto);
  if (!o) {
    problems.add('', 'a HeaderValueOption is required');
    return undefined;
  }
  rejectUnsupported(o, ['header', 'append', 'append_action', 'keep_empty_value'], 'HeaderValueOption', problems);
  const header = obj(o['header']);
  if (!header) {
    problems.add('header', 'header is required');
    return undefined;
  }
  rejectUnsupported(header, ['key', 'value'], 'HeaderValue', problems.at('header'));
  const key = header['key'];
  if (typeof key !== 'string' || key === '') {
    problems.add('header.key', 'a non-empty header name is required');
    return undefined;
  }
  if (!validHeaderName(key, problems.at('header.key'))) return undefined;
  const name = lowerAscii(key);
  if (!modifiableHeader(name)) {
    problems.add('header.key', `${JSON.stringify(key)}: ':'-prefixed or host headers may not be modified`);
    return undefined;
  }
  const value = typeof header['value'] === 'string' ? header['value'] : '';
  if (!validHeaderValue(value, problems.at('header.value'))) return undefined;
  const parsedFormat = parseHeaderFormat(value);
  if ('error' in parsedFormat) {
    problems.add('header.value', parsedFormat.error);
    return undefined;
  }
  if (parsedFormat.operators.length > 0) {
    // The worker expands values with the access log formatter (route-table.ts compiles them
    // once); an operator it does not know is refused here, at config time.
    try {
      compileFormat(value);
    } catch (e) {
      problems.add('header.value', `invalid header value format ${JSON.stringify(value)}: ${e instanceof AccessLogFormatError ? e.detail : String(e)}`);
      return undefined;
    }
  }
  let appendAction: HeaderAppendAction = 'APPEND_IF_EXISTS_OR_ADD';
  const action = o['append_action'];
  if (action !== undefined) {
    if (!APPEND_ACTIONS.includes(action as HeaderAppendAction)) {
      problems.add('append_action', `unknown value ${JSON.stringify(action)}`);
      return undefined;
    }
    appendAction = action as HeaderAppendAction;
  }
  if (typeof o['append'] === 'boolean') {
    if (appendAction !== 'APPEND_IF_EXISTS_OR_ADD') {
      problems.add('append', 'both append and append_action are set and it is not allowed');
      return undefined;
    }
    appendAction = o['append'] ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD';
  }
  return {
    name,
    format: value,
    literal: parsedFormat.operators.length === 0 ? parsedFormat.literal : undefined,
    appendAction,
    keepEmptyValue: o['keep_empty_value'] === true,
  };
}

const COMMAND = /%([A-Z0-9_]+)(\([^)]*\))?(:[0-9]+)?%/y;

/**
 * Checks a header value's substitution-format syntax as Envoy's formatter parser does: '%%'
 * is a literal '%'; any other '%' must open a `%COMMAND%`, `%COMMAND(args)%` or
 * `%COMMAND(args):N%`. Returns the operator names and, for values without operators, the
 * literal text. Whether an operator is known is for the caller that expands it to decide.
 */
export function parseHeaderFormat(format: string): { literal: string; operators: string[] } | { error: string } {
  const operators: string[] = [];
  let literal = '';
  let i = 0;
  while (i < format.length) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      literal += format.slice(i);
      break;
    }
    literal += format.slice(i, pct);
    if (format[pct + 1] === '%') {
      literal += '%';
      i = pct + 2;
      continue;
    }
    COMMAND.lastIndex = pct;
    const m = COMMAND.exec(format);
    if (!m) return { error: `invalid header value format: no valid command at position ${pct} in ${JSON.stringify(format)} (write %% for a literal %)` };
    operators.push(m[2] ? `${m[1]}${m[2]}` : m[1]!);
    i = COMMAND.lastIndex;
  }
  return { literal, operators };
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/** Names of the clusters a config routes to by name (for validate_clusters). */
export function referencedClusters(config: RouteConfig): string[] {
  const names = new Set<string>();
  for (const vh of config.virtualHosts) {
    for (const r of vh.routes) {
      if (r.action.kind !== 'route') continue;
      const c = r.action.cluster;
      if (c.kind === 'cluster') names.add(c.name);
      else if (c.kind === 'weighted') for (const w of c.clusters) names.add(w.name);
    }
  }
  return [...names];
}

function lowerAscii(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : s;
}

function str(o: Obj, key: string): string {
  const v = o[key];
  return typeof v === 'string' ? v : '';
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === '' ? undefined : s;
}

/** Envoy's isModifiableHeader / isRemovableHeader, for a lower-cased name. */
function modifiableHeader(name: string): boolean {
  return !name.startsWith(':') && name !== 'host';
}

/** HTTP_HEADER_NAME with strict: false: no NUL, CR or LF. */
function validHeaderName(name: string, problems: ProblemSink): boolean {
  if (/[\0\r\n]/.test(name)) {
    problems.add('', `header name ${JSON.stringify(name)} must not contain NUL, CR or LF`);
    return false;
  }
  return true;
}

/** HTTP_HEADER_VALUE with strict: false: no NUL, CR or LF. */
function validHeaderValue(value: string, problems: ProblemSink): boolean {
  if (/[\0\r\n]/.test(value)) {
    problems.add('', `value ${JSON.stringify(value)} must not contain NUL, CR or LF`);
    return false;
  }
  return true;
}

function optionalHeaderValue(o: Obj, key: string, problems: ProblemSink): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') {
    problems.add(key, 'expected a string');
    return undefined;
  }
  return validHeaderValue(v, problems.at(key)) ? v : undefined;
}

/** A Duration field as whole milliseconds (Envoy truncates), `dflt` when unset. */
function durationField(o: Obj, key: string, dflt: number, problems: ProblemSink): number | undefined {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    problems.add(key, `expected a non-negative duration, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return Math.floor(v);
}
