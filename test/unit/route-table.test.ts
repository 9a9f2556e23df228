/**
 * HTTP route tables: RouteConfiguration YAML decoded by Courier's proto decoder (as a
 * bootstrap or RDS response would be), parsed to plain data, sent through JSON (as to a
 * worker) and compiled. Expectations follow Envoy's config_impl.cc and its route tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';

import { decodeMessage } from '../../src/config/proto-json.js';
import { protoRoot } from '../../src/config/proto-registry.js';
import { ProblemCollector, type ConfigProblem } from '../../src/config/config-error.js';
import {
  parseHeaderFormat,
  parseRouteConfiguration,
  referencedClusters,
  type RouteConfig,
} from '../../src/common/router/route-config.js';
import {
  DEFAULT_RETRY_POLICY,
  RouteTable,
  applyHeaderMutations,
  firstQueryValue,
  re2LiteralPrefix,
  type ForwardAction,
  type MutableHeaders,
  type RouteMatch,
  type RouteRequest,
  type RouteTableOptions,
} from '../../src/common/router/route-table.js';

import type { RuntimeLoader } from '../../src/api/runtime.js';
import { entryFromText } from '../../src/common/runtime/runtime-entry.js';
import { RuntimeSnapshotImpl, type RuntimeEntry } from '../../src/common/runtime/runtime-snapshot.js';

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';

function decode(yaml: string): unknown {
  const type = protoRoot().lookupType(ROUTE_CONFIGURATION);
  const { value, problems } = decodeMessage(type, parseYaml(yaml));
  assert.deepEqual(problems, [], 'the test config should decode');
  return value;
}

/** YAML → plain data, through JSON as a worker receives it. */
function routeConfig(yaml: string): RouteConfig {
  const problems = new ProblemCollector('route_config');
  const parsed = parseRouteConfiguration(decode(yaml), problems);
  assert.deepEqual(problems.problems, []);
  assert.ok(parsed);
  return JSON.parse(JSON.stringify(parsed)) as RouteConfig;
}

function tableFor(yaml: string, options?: RouteTableOptions): RouteTable {
  return new RouteTable(routeConfig(yaml), options);
}

/** Decoder problems if any, else the parser's, with paths under "route_config". */
function problemsOf(yaml: string): ConfigProblem[] {
  const type = protoRoot().lookupType(ROUTE_CONFIGURATION);
  const { value, problems } = decodeMessage(type, parseYaml(yaml), 'route_config');
  if (problems.length > 0) return problems;
  const collector = new ProblemCollector('route_config');
  const parsed = parseRouteConfiguration(value, collector);
  if (collector.problems.length === 0) assert.ok(parsed);
  else assert.equal(parsed, undefined);
  return collector.problems;
}

function assertProblem(yaml: string, path: string, pattern: RegExp): void {
  const problems = problemsOf(yaml);
  assert.ok(
    problems.some((p) => p.path === path && pattern.test(p.message)),
    `expected a problem at ${path} matching ${pattern}, got ${JSON.stringify(problems, null, 1)}`,
  );
}

class Req implements RouteRequest {
  constructor(
    readonly authority: string,
    readonly path: string,
    readonly headers: Record<string, string | string[]> = {},
    readonly method = 'GET',
  ) {}
  header(name: string): string | undefined {
    const v = this.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  }
  firstHeader(name: string): string | undefined {
    const v = this.headers[name];
    return Array.isArray(v) ? v[0] : v;
  }
}

function req(path: string, headers: Record<string, string | string[]> = {}, authority = 'example.com', method = 'GET'): Req {
  return new Req(authority, path, headers, method);
}

/** The route name matched for a request (vhost/route), or undefined. */
function routeName(t: RouteTable, r: RouteRequest, random = 0): string | undefined {
  const m = t.match(r, random);
  return m && `${m.virtualHost.name}/${m.route.name}`;
}

function clusterOf(t: RouteTable, r: RouteRequest, random = 0): string | undefined {
  return t.match(r, random)?.cluster;
}

/** A one-vhost config ("*") with the given routes (YAML list items, indented 6). */
function routes(items: string, extra = ''): string {
  return `
name: test
virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
${items}
${extra}`;
}

// --- virtual hosts ----------------------------------------------------------------------------

const DOMAINS = `
name: domains
virtual_hosts:
  - name: exact
    domains: ["www.lyft.com", "w.lyft.com", "example.com:8080"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: exact } }]
  - name: suffix
    domains: ["*.lyft.com"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: suffix } }]
  - name: long-suffix
    domains: ["*-bar.baz.com"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: long-suffix } }]
  - name: short-suffix
    domains: ["*.baz.com"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: short-suffix } }]
  - name: prefix
    domains: ["api.*", "api.lyft.*"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: prefix } }]
  - name: default
    domains: ["*"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: default } }]
  - name: upper
    domains: ["Example.COM"]
    routes: [{ name: r, match: { prefix: "/" }, route: { cluster: upper } }]
`;

/** A runtime whose values are fixed (what a worker's `runtime` slot would hold). */
function runtimeOf(values: Record<string, string>): RuntimeLoader {
  const s = new RuntimeSnapshotImpl(new Map(Object.entries(values).map(([k, v]) => [k, entryFromText(v)] as [string, RuntimeEntry])));
  return { snapshot: () => s };
}

test('runtime_fraction: the route matches for the share of requests its key (or default) gives; the rest fall through', () => {
  const yaml = `
virtual_hosts:
- name: v
  domains: ["*"]
  routes:
  - match: { prefix: /, runtime_fraction: { default_value: { numerator: 25 }, runtime_key: shift } }
    route: { cluster: canary }
  - match: { prefix: / }
    route: { cluster: stable }`;
  const count = (table: RouteTable): number => {
    let canary = 0;
    // The request's random value becomes the integer i (Envoy's stream id), taken modulo the denominator.
    for (let i = 0; i < 1000; i++) if (table.match(req('/x'), i / 0x1_0000_0000)?.cluster === 'canary') canary++;
    return canary;
  };
  // 1000 consecutive integers: 25% of them fall under the default's numerator.
  assert.equal(count(tableFor(yaml)), 250);
  assert.equal(count(tableFor(yaml, { runtime: runtimeOf({ shift: '0' }) })), 0);
  assert.equal(count(tableFor(yaml, { runtime: runtimeOf({ shift: '100' }) })), 1000);
  assert.equal(count(tableFor(yaml, { runtime: runtimeOf({ shift: '{numerator: 500, denominator: TEN_THOUSAND}' }) })), 500);
  assert.equal(count(tableFor(yaml, { runtime: runtimeOf({ shift: 'not a number' }) })), 250, 'an unusable value: the default');
});

test('weighted_clusters.runtime_key_prefix: each weight is read from <prefix>.<cluster>, else the configured one', () => {
  const yaml = `
virtual_hosts:
- name: v
  domains: ["*"]
  routes:
  - match: { prefix: / }
    route: { weighted_clusters: { runtime_key_prefix: w, clusters: [{ name: a, weight: 1 }, { name: b, weight: 3 }] } }`;
  const share = (table: RouteTable): Record<string, number> => {
    const out: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const c = table.match(req('/'), i / 100)!.cluster;
      out[c] = (out[c] ?? 0) + 1;
    }
    return out;
  };
  assert.deepEqual(share(tableFor(yaml)), { a: 25, b: 75 });
  assert.deepEqual(share(tableFor(yaml, { runtime: runtimeOf({ 'w.a': '3', 'w.b': '1' }) })), { a: 75, b: 25 });
  assert.deepEqual(share(tableFor(yaml, { runtime: runtimeOf({ 'w.b': '0' }) })), { a: 100 });
  assert.deepEqual(share(tableFor(yaml, { runtime: runtimeOf({ 'w.a': '0', 'w.b': '0' }) })), { a: 25, b: 75 }, 'all zero: the configured weights');
});

test('virtual hosts: exact, suffix, prefix and default domains, in Envoy precedence', () => {
  const t = tableFor(DOMAINS);
  const vh = (authority: string): string | undefined => t.findVirtualHost(authority)?.name;
  assert.equal(vh('www.lyft.com'), 'exact');
  assert.equal(vh('foo.lyft.com'), 'suffix');
  assert.equal(vh('.lyft.com'), 'default', 'a wildcard needs at least one more character');
  assert.equal(vh('foo-bar.baz.com'), 'long-suffix', 'longest suffix first');
  assert.equal(vh('foo.baz.com'), 'short-suffix');
  assert.equal(vh('api.example.org'), 'prefix');
  assert.equal(vh('api.lyft.com'), 'suffix', 'suffix wildcards before prefix wildcards');
  assert.equal(vh('api.'), 'default');
  assert.equal(vh('unknown.org'), 'default');
  assert.equal(vh('WWW.Lyft.COM'), 'exact', 'host compared case-insensitively');
  assert.equal(vh('example.com'), 'upper', 'domains lower-cased');
});

test('virtual hosts: ports', () => {
  const t = tableFor(DOMAINS, { portFallback: true });
  const vh = (authority: string): string | undefined => t.findVirtualHost(authority)?.name;
  assert.equal(vh('www.lyft.com:80'), 'exact', 'with portFallback, the port is stripped when nothing matches with it');
  assert.equal(vh('foo.lyft.com:443'), 'suffix');
  assert.equal(vh('example.com:8080'), 'exact', 'a domain with the port wins');
  assert.equal(vh('example.com:9090'), 'upper');
  assert.equal(vh('[::1]'), 'default', 'an IPv6 literal has no port');
  // Envoy's exact behaviour (the default): the port is part of the host.
  const strict = tableFor(DOMAINS);
  assert.equal(strict.findVirtualHost('www.lyft.com:80')?.name, 'default');
  assert.equal(strict.findVirtualHost('example.com:8080')?.name, 'exact');
  // ignore_port_in_host_matching strips it first.
  const ignoring = tableFor(`${DOMAINS}\nignore_port_in_host_matching: true\n`);
  assert.equal(ignoring.findVirtualHost('www.lyft.com:80')?.name, 'exact');
  assert.equal(ignoring.findVirtualHost('example.com:8080')?.name, 'upper');
  const v6 = tableFor(`
virtual_hosts:
  - name: v6
    domains: ["[::1]"]
    routes: [{ match: { prefix: "/" }, route: { cluster: c } }]
`, { portFallback: true });
  assert.equal(v6.findVirtualHost('[::1]:10000')?.name, 'v6');
  assert.equal(v6.findVirtualHost('[::2]:10000'), undefined, 'no default virtual host');
  assert.equal(v6.match(req('/', {}, 'other'), 0), undefined);
});

test('virtual hosts: repeated and many distinct authorities (the host memo) give the same answers', () => {
  const t = tableFor(DOMAINS);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 3000; i++) {
      assert.equal(t.findVirtualHost(`h${i}.lyft.com`)?.name, 'suffix');
      assert.equal(t.findVirtualHost(`h${i}.example.org`)?.name, 'default');
    }
    assert.equal(t.findVirtualHost('WWW.lyft.com')?.name, 'exact');
    assert.equal(t.findVirtualHost('WWW.lyft.com:1')?.name, 'default', 'the port is part of the host');
    assert.equal(t.findVirtualHost(`${'x'.repeat(300)}.lyft.com`)?.name, 'suffix');
  }
});

test('virtual hosts: only a default one matches everything', () => {
  const t = tableFor(routes('      - { name: r, match: { prefix: "/" }, route: { cluster: c } }'));
  assert.equal(clusterOf(t, req('/', {}, 'anything:1')), 'c');
  assert.equal(clusterOf(t, req('/', {}, '')), 'c');
});

// --- path matching ----------------------------------------------------------------------------

test('prefix, path, safe_regex and path_separated_prefix', () => {
  const t = tableFor(
    routes(`
      - { name: exact, match: { path: "/exact" }, route: { cluster: c } }
      - { name: regex, match: { safe_regex: { regex: "/re/[0-9]+" } }, route: { cluster: c } }
      - { name: sep, match: { path_separated_prefix: "/api" }, route: { cluster: c } }
      - { name: prefix, match: { prefix: "/pre" }, route: { cluster: c } }
`),
  );
  const name = (path: string): string | undefined => routeName(t, req(path));
  assert.equal(name('/exact'), 'vh/exact');
  assert.equal(name('/exact?x=1'), 'vh/exact', 'query ignored');
  assert.equal(name('/exact#frag'), 'vh/exact', 'fragment ignored');
  assert.equal(name('/exact/'), undefined);
  assert.equal(name('/Exact'), undefined, 'case-sensitive by default');
  assert.equal(name('/re/123'), 'vh/regex');
  assert.equal(name('/re/123?a=b'), 'vh/regex');
  assert.equal(name('/re/123x'), undefined, 'the regex must match the whole path');
  assert.equal(name('/x/re/1'), undefined);
  assert.equal(name('/api'), 'vh/sep');
  assert.equal(name('/api/'), 'vh/sep');
  assert.equal(name('/api/v1'), 'vh/sep');
  assert.equal(name('/api?x'), 'vh/sep');
  assert.equal(name('/apix'), undefined, 'path_separated_prefix needs a "/" boundary');
  assert.equal(name('/pre'), 'vh/prefix');
  assert.equal(name('/prefix/more'), 'vh/prefix');
  assert.equal(name('/pr'), undefined);
  assert.equal(name('/x?/pre'), undefined, 'the query is not part of the path');
});

test('case_sensitive: false folds ASCII case for prefix, path and path_separated_prefix, not regex', () => {
  const t = tableFor(
    routes(`
      - { name: exact, match: { path: "/Exact", case_sensitive: false }, route: { cluster: c } }
      - { name: sep, match: { path_separated_prefix: "/API", case_sensitive: false }, route: { cluster: c } }
      - { name: prefix, match: { prefix: "/Pre", case_sensitive: false }, route: { cluster: c } }
      - { name: regex, match: { safe_regex: { regex: "/re" }, case_sensitive: false }, route: { cluster: c } }
`),
  );
  const name = (path: string): string | undefined => routeName(t, req(path));
  assert.equal(name('/exact'), 'vh/exact');
  assert.equal(name('/EXACT?q'), 'vh/exact');
  assert.equal(name('/api/X'), 'vh/sep');
  assert.equal(name('/Api'), 'vh/sep');
  assert.equal(name('/apiX'), undefined);
  assert.equal(name('/PRE/x'), 'vh/prefix');
  assert.equal(name('/pRe'), 'vh/prefix');
  assert.equal(name('/re'), 'vh/regex');
  assert.equal(name('/RE'), undefined, 'case_sensitive does not apply to safe_regex');
  assert.equal(name('/ſtuff'), undefined, 'non-ASCII is not folded');
});

test('ignore_path_parameters_in_path_matching', () => {
  const yaml = routes(`
      - { name: exact, match: { path: "/a/b" }, route: { cluster: c } }
`);
  assert.equal(routeName(tableFor(yaml), req('/a/b;v=1')), undefined);
  const t = tableFor(`${yaml}\nignore_path_parameters_in_path_matching: true\n`);
  assert.equal(routeName(t, req('/a/b;v=1')), 'vh/exact');
  assert.equal(routeName(t, req('/a/b;v=1?x=2')), 'vh/exact');
});

// --- headers, query parameters, gRPC ----------------------------------------------------------

test('header matchers, including :method and invert', () => {
  const t = tableFor(
    routes(`
      - name: post-json
        match:
          prefix: "/"
          headers:
            - { name: ":method", string_match: { exact: POST } }
            - { name: Content-Type, string_match: { prefix: "application/json" } }
        route: { cluster: c }
      - name: debug
        match:
          prefix: "/"
          headers: [{ name: x-debug, present_match: true }]
        route: { cluster: c }
      - name: not-canary
        match:
          prefix: "/"
          headers: [{ name: x-canary, string_match: { exact: "1" }, invert_match: true }]
        route: { cluster: c }
      - { name: rest, match: { prefix: "/" }, route: { cluster: c } }
`),
  );
  assert.equal(routeName(t, req('/', { 'content-type': 'application/json; charset=utf-8' }, 'h', 'POST')), 'vh/post-json');
  assert.equal(routeName(t, req('/', { 'content-type': 'application/json' }, 'h', 'GET')), 'vh/rest', 'an inverted match on a missing header fails (Envoy)');
  assert.equal(routeName(t, req('/', { 'x-debug': '' })), 'vh/debug');
  assert.equal(routeName(t, req('/', { 'x-canary': '1' })), 'vh/rest');
  assert.equal(routeName(t, req('/', { 'x-canary': '2' })), 'vh/not-canary');
});

test('query parameter matchers: string_match, present, first value, raw', () => {
  const t = tableFor(
    routes(`
      - name: debug
        match:
          prefix: "/"
          query_parameters:
            - { name: debug, string_match: { exact: "1" } }
            - { name: user, present_match: true }
        route: { cluster: c }
      - name: any-flag
        match:
          prefix: "/"
          query_parameters: [{ name: flag }]
        route: { cluster: c }
      - name: encoded
        match:
          prefix: "/"
          query_parameters: [{ name: q, string_match: { exact: "a%20b" } }]
        route: { cluster: c }
`),
  );
  const name = (path: string): string | undefined => routeName(t, req(path));
  assert.equal(name('/?debug=1&user=x'), 'vh/debug');
  assert.equal(name('/?user&debug=1'), 'vh/debug', '"user" without a value is present');
  assert.equal(name('/?debug=1'), undefined);
  assert.equal(name('/?debug=2&user=x'), undefined);
  assert.equal(name('/?debug=1&debug=2&user'), 'vh/debug', 'first value');
  assert.equal(name('/?debug=2&debug=1&user'), undefined, 'first value');
  assert.equal(name('/x?flag'), 'vh/any-flag');
  assert.equal(name('/x?flag=anything'), 'vh/any-flag');
  assert.equal(name('/x?flags=1'), undefined);
  assert.equal(name('/?q=a%20b'), 'vh/encoded', 'not percent-decoded');
  assert.equal(name('/?q=a b'), undefined);
  assert.equal(firstQueryValue('/p?a=1&b=2=3&c', 'b'), '2=3');
  assert.equal(firstQueryValue('/p?a=1&b=2=3&c', 'c'), '');
  assert.equal(firstQueryValue('/p', 'c'), undefined);
});

test('grpc route match', () => {
  const t = tableFor(
    routes(`
      - { name: grpc, match: { prefix: "/", grpc: {} }, route: { cluster: c } }
      - { name: rest, match: { prefix: "/" }, route: { cluster: c } }
`),
  );
  assert.equal(routeName(t, req('/', { 'content-type': 'application/grpc' })), 'vh/grpc');
  assert.equal(routeName(t, req('/', { 'content-type': 'application/grpc+proto' })), 'vh/grpc');
  assert.equal(routeName(t, req('/', { 'content-type': 'application/grpc-web' })), 'vh/rest');
  assert.equal(routeName(t, req('/')), 'vh/rest');
});

// --- first-match order ------------------------------------------------------------------------

test('first match wins across indexes: an earlier prefix beats a later exact path, and vice versa', () => {
  const t = tableFor(
    routes(`
      - { name: prefix-first, match: { prefix: "/a" }, route: { cluster: c } }
      - { name: exact-later, match: { path: "/a/b" }, route: { cluster: c } }
      - { name: exact-first, match: { path: "/x/y" }, route: { cluster: c } }
      - { name: prefix-later, match: { prefix: "/x" }, route: { cluster: c } }
      - name: header-exact
        match: { path: "/h", headers: [{ name: x-h, present_match: true }] }
        route: { cluster: c }
      - { name: regex, match: { safe_regex: { regex: "/(h|z)" } }, route: { cluster: c } }
      - { name: folded, match: { prefix: "/H", case_sensitive: false }, route: { cluster: c } }
      - { name: catch-all, match: { prefix: "" }, route: { cluster: c } }
`),
  );
  const name = (path: string, headers = {}): string | undefined => routeName(t, req(path, headers));
  assert.equal(name('/a/b'), 'vh/prefix-first');
  assert.equal(name('/x/y'), 'vh/exact-first');
  assert.equal(name('/x/z'), 'vh/prefix-later');
  assert.equal(name('/h', { 'x-h': '1' }), 'vh/header-exact');
  assert.equal(name('/h'), 'vh/regex', 'headers failed: the next candidate in order');
  assert.equal(name('/H'), 'vh/folded');
  assert.equal(name('/nothing'), 'vh/catch-all');
});

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('the indexed lookup finds exactly what an in-order scan finds (randomised)', () => {
  const rnd = prng(42);
  const segs = ['a', 'b', 'ab', 'B', 'c1', ''];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const randomPath = (): string => {
    let p = '';
    const n = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < n; i++) p += `/${pick(segs)}`;
    return p;
  };
  const items: string[] = [];
  for (let i = 0; i < 300; i++) {
    const kind = pick(['prefix', 'path', 'path_separated_prefix', 'regex', 'prefix-partial']);
    const cs = rnd() < 0.3 ? ', case_sensitive: false' : '';
    const headers = rnd() < 0.2 ? ', headers: [{ name: x-h, present_match: true }]' : '';
    let match: string;
    let p = randomPath();
    if (kind === 'regex') match = `safe_regex: { regex: ${JSON.stringify(`${p}(/.*)?`)} }`;
    else if (kind === 'prefix-partial') match = `prefix: ${JSON.stringify(p.slice(0, Math.max(1, p.length - 1)))}`;
    else {
      if (kind === 'path_separated_prefix' && p.endsWith('/')) p = `${p}x`;
      match = `${kind}: ${JSON.stringify(p)}`;
    }
    items.push(`      - { name: r${i}, match: { ${match}${cs}${headers} }, route: { cluster: c${i} } }`);
  }
  const yaml = routes(items.join('\n'));
  const indexed = tableFor(yaml);
  const linear = tableFor(yaml, { index: false });
  for (let i = 0; i < 5000; i++) {
    const path = `${randomPath()}${rnd() < 0.2 ? '/' : ''}${rnd() < 0.2 ? '?q=1' : ''}`;
    const headers: Record<string, string> = rnd() < 0.5 ? { 'x-h': '1' } : {};
    const r = req(rnd() < 0.3 ? path.toUpperCase() : path, headers);
    assert.equal(routeName(indexed, r), routeName(linear, r), `path ${r.path}`);
  }
});

test('literal prefixes of regexes (used for indexing) are conservative', () => {
  assert.equal(re2LiteralPrefix('/api/v[0-9]+/.*'), '/api/v');
  assert.equal(re2LiteralPrefix('^/api/.*'), '/api/');
  assert.equal(re2LiteralPrefix('/ab?c'), '/a');
  assert.equal(re2LiteralPrefix('/ab*'), '/a');
  assert.equal(re2LiteralPrefix('/ab{0,2}'), '/a');
  assert.equal(re2LiteralPrefix('/ab+'), '/ab');
  assert.equal(re2LiteralPrefix('/a|/b'), '');
  assert.equal(re2LiteralPrefix('/x(a|b)'), '/x');
  assert.equal(re2LiteralPrefix('/x[|]|/y'), '');
  assert.equal(re2LiteralPrefix('/x[|]'), '/x');
  assert.equal(re2LiteralPrefix('(?i)/abc'), '');
  assert.equal(re2LiteralPrefix('/a.b'), '/a');
  assert.equal(re2LiteralPrefix('/a\\.b'), '/a');
  assert.equal(re2LiteralPrefix('/\\Q|\\E'), '/');
});

// --- actions ----------------------------------------------------------------------------------

test('weighted clusters: picks within 3% of the weights over 10000 picks', () => {
  const t = tableFor(
    routes(`
      - match: { prefix: "/" }
        route:
          weighted_clusters:
            clusters:
              - { name: a, weight: 70 }
              - { name: b, weight: 20 }
              - { name: c, weight: 10 }
              - { name: never, weight: 0 }
`),
  );
  const rnd = prng(7);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 10000; i++) {
    const m = t.match(req('/'), rnd())!;
    counts[m.cluster] = (counts[m.cluster] ?? 0) + 1;
    assert.equal(m.weightedCluster?.name, m.cluster);
  }
  assert.ok(Math.abs(counts['a']! / 10000 - 0.7) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts['b']! / 10000 - 0.2) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts['c']! / 10000 - 0.1) < 0.03, JSON.stringify(counts));
  assert.equal(counts['never'], undefined);
  // Boundaries: random in [0, 1) maps onto [0, total).
  assert.equal(clusterOf(t, req('/'), 0), 'a');
  assert.equal(clusterOf(t, req('/'), 0.6999), 'a');
  assert.equal(clusterOf(t, req('/'), 0.7), 'b');
  assert.equal(clusterOf(t, req('/'), 0.99999), 'c');
  assert.equal(t.match(req('/'), 0), t.match(req('/'), 0), 'results are shared');
});

test('cluster_header: first value, absent → empty cluster', () => {
  const t = tableFor(
    routes(`
      - match: { prefix: "/" }
        route: { cluster_header: X-Cluster, cluster_not_found_response_code: NOT_FOUND }
`),
  );
  assert.equal(clusterOf(t, req('/', { 'x-cluster': 'blue' })), 'blue');
  assert.equal(clusterOf(t, req('/', { 'x-cluster': ['green', 'blue'] })), 'green');
  const m = t.match(req('/'), 0)!;
  assert.equal(m.cluster, '');
  assert.equal((m.action as ForwardAction).clusterNotFoundResponseCode, 404);
  assert.equal((m.action as ForwardAction).clusterHeader, 'x-cluster');
});

test('direct_response', () => {
  const t = tableFor(
    routes(`
      - { name: body, match: { path: "/health" }, direct_response: { status: 200, body: { inline_string: "ok\\n" } } }
      - { name: bytes, match: { path: "/bytes" }, direct_response: { status: 418, body: { inline_bytes: "AAEC" } } }
      - { name: empty, match: { path: "/gone" }, direct_response: { status: 410 } }
      - { name: moved, match: { path: "/moved" }, direct_response: { status: 301 } }
`),
  );
  const m = t.match(req('/health'), 0)!;
  assert.equal(m.cluster, '');
  assert.deepEqual(m.action.kind === 'direct_response' && [m.action.status, m.action.body?.toString()], [200, 'ok\n']);
  const b = t.match(req('/bytes'), 0)!.action;
  assert.ok(b.kind === 'direct_response');
  assert.deepEqual([...b.body!], [0, 1, 2]);
  const e = t.match(req('/gone'), 0)!.action;
  assert.ok(e.kind === 'direct_response' && e.status === 410 && e.body === undefined);
  // Envoy adds Location (the request's own URL) to a direct response with 201 or 3xx.
  assert.equal(t.match(req('/moved?x'), 0)!.route.redirectUrl('example.com', '/moved?x', 'http'), 'http://example.com/moved?x');
});

test('redirects: every field', () => {
  const t = tableFor(
    routes(`
      - { name: https, match: { prefix: "/https" }, redirect: { https_redirect: true } }
      - { name: scheme, match: { prefix: "/scheme" }, redirect: { scheme_redirect: "ws", response_code: FOUND } }
      - { name: host, match: { prefix: "/host" }, redirect: { host_redirect: "new.example.org", response_code: SEE_OTHER } }
      - { name: port, match: { prefix: "/port" }, redirect: { port_redirect: 8443, response_code: TEMPORARY_REDIRECT } }
      - { name: path, match: { prefix: "/path" }, redirect: { path_redirect: "/new", response_code: PERMANENT_REDIRECT } }
      - { name: pathq, match: { prefix: "/pq" }, redirect: { path_redirect: "/new?a=1", strip_query: true } }
      - { name: prefix, match: { prefix: "/old/" }, redirect: { prefix_rewrite: "/v2/" } }
      - { name: strip, match: { prefix: "/strip" }, redirect: { strip_query: true, host_redirect: "h" } }
      - { name: all, match: { prefix: "/all" }, redirect: { https_redirect: true, host_redirect: "a.b", port_redirect: 9, path_redirect: "x", strip_query: true } }
`),
  );
  const loc = (path: string, authority = 'example.com', scheme = 'http'): [number, string] => {
    const m = t.match(req(path, {}, authority), 0)!;
    assert.ok(m.action.kind === 'redirect');
    return [m.action.responseCode, m.route.redirectUrl(authority, path, scheme)];
  };
  assert.deepEqual(loc('/https/x?q=1'), [301, 'https://example.com/https/x?q=1']);
  assert.deepEqual(loc('/https', 'example.com:80'), [301, 'https://example.com/https'], 'the old default port is dropped');
  assert.deepEqual(loc('/https', 'example.com:8080'), [301, 'https://example.com:8080/https']);
  assert.deepEqual(loc('/https', 'example.com:443', 'https'), [301, 'https://example.com:443/https'], 'same scheme: port kept');
  assert.deepEqual(loc('/https', '[::1]:80'), [301, 'https://[::1]/https']);
  assert.deepEqual(loc('/scheme'), [302, 'ws://example.com/scheme']);
  assert.deepEqual(loc('/host/a?b', 'example.com:8080'), [303, 'http://new.example.org/host/a?b']);
  assert.deepEqual(loc('/port', 'example.com:8080'), [307, 'http://example.com:8443/port']);
  assert.deepEqual(loc('/path/x?q=1'), [308, 'http://example.com/new?q=1'], 'the request query is kept');
  assert.deepEqual(loc('/pq?q=1'), [301, 'http://example.com/new?a=1'], 'path_redirect query wins, never stripped');
  assert.deepEqual(loc('/old/thing?z'), [301, 'http://example.com/v2/thing?z']);
  assert.deepEqual(loc('/strip/x?q=1'), [301, 'http://h/strip/x']);
  assert.deepEqual(loc('/all?q'), [301, 'https://a.b:9/x']);
  const r = t.match(req('/https'), 0)!.action;
  assert.ok(r.kind === 'redirect' && r.schemeRedirect === 'https' && r.portRedirect === 0);
});

test('rewrites: prefix_rewrite for prefix, path and regex routes; host_rewrite_literal', () => {
  const t = tableFor(
    routes(`
      - { name: p, match: { prefix: "/api/" }, route: { cluster: c, prefix_rewrite: "/", host_rewrite_literal: "up.internal" } }
      - { name: ci, match: { prefix: "/CI/", case_sensitive: false }, route: { cluster: c, prefix_rewrite: "/ci/" } }
      - { name: e, match: { path: "/exact" }, route: { cluster: c, prefix_rewrite: "/other" } }
      - { name: r, match: { safe_regex: { regex: "/re/.*" } }, route: { cluster: c, prefix_rewrite: "/whole" } }
      - { name: none, match: { prefix: "/" }, route: { cluster: c } }
`),
  );
  const rewrite = (path: string): string | undefined => t.match(req(path), 0)!.route.rewritePath(path);
  assert.equal(rewrite('/api/users?id=1'), '/users?id=1');
  assert.equal(rewrite('/ci/X'), '/ci/X');
  assert.equal(rewrite('/Ci/X'), '/ci/X');
  assert.equal(rewrite('/exact?q'), '/other?q');
  assert.equal(rewrite('/re/a/b?q=1'), '/whole?q=1');
  assert.equal(rewrite('/plain'), undefined);
  assert.equal(t.match(req('/api/x'), 0)!.hostRewrite, 'up.internal');
  assert.equal(t.match(req('/plain'), 0)!.hostRewrite, undefined);
});

test('weighted cluster host rewrite, unless the route sets one', () => {
  const t = tableFor(
    routes(`
      - match: { prefix: "/a" }
        route:
          weighted_clusters:
            clusters: [{ name: x, weight: 1, host_rewrite_literal: x.internal }]
      - match: { prefix: "/b" }
        route:
          host_rewrite_literal: route.internal
          weighted_clusters:
            clusters: [{ name: x, weight: 1, host_rewrite_literal: x.internal }]
`),
  );
  assert.equal(t.match(req('/a'), 0)!.hostRewrite, 'x.internal');
  assert.equal(t.match(req('/b'), 0)!.hostRewrite, 'route.internal');
});

// --- header mutations -------------------------------------------------------------------------

class Headers implements MutableHeaders {
  readonly list: Array<[string, string]> = [];
  constructor(init: Array<[string, string]> = []) {
    this.list.push(...init);
  }
  has(name: string): boolean {
    return this.list.some(([n]) => n === name);
  }
  set(name: string, value: string): void {
    const i = this.list.findIndex(([n]) => n === name);
    this.remove(name);
    this.list.splice(i < 0 ? this.list.length : i, 0, [name, value]);
  }
  append(name: string, value: string): void {
    this.list.push([name, value]);
  }
  remove(name: string): void {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i]![0] === name) this.list.splice(i, 1);
  }
  values(name: string): string[] {
    return this.list.filter(([n]) => n === name).map(([, v]) => v);
  }
}

const MUTATIONS = `
name: mutations
request_headers_to_add:
  - { header: { key: x-level, value: config }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
  - { header: { key: x-config, value: "1" } }
response_headers_to_add:
  - { header: { key: x-resp, value: config }, append: false }
response_headers_to_remove: [x-secret]
virtual_hosts:
  - name: vh
    domains: ["*"]
    request_headers_to_add:
      - { header: { key: x-level, value: vhost }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
    response_headers_to_add:
      - { header: { key: x-resp, value: vhost }, append: false }
    routes:
      - match: { prefix: "/w" }
        request_headers_to_add:
          - { header: { key: x-level, value: route }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
        route:
          weighted_clusters:
            clusters:
              - name: w
                weight: 1
                request_headers_to_add:
                  - { header: { key: x-level, value: cluster }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
                request_headers_to_remove: [x-drop]
      - match: { prefix: "/" }
        request_headers_to_add:
          - { header: { key: X-Level, value: route }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
          - { header: { key: x-route, value: "a" } }
          - { header: { key: x-route, value: "b" } }
          - { header: { key: x-absent, value: "new" }, append_action: ADD_IF_ABSENT }
          - { header: { key: x-present, value: "new" }, append_action: ADD_IF_ABSENT }
          - { header: { key: x-only-if, value: "new" }, append_action: OVERWRITE_IF_EXISTS }
          - { header: { key: x-only-if-2, value: "new" }, append_action: OVERWRITE_IF_EXISTS }
          - { header: { key: x-empty, value: "" } }
          - { header: { key: x-kept-empty, value: "" }, keep_empty_value: true }
          - { header: { key: x-percent, value: "100%%" } }
          - { header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS%" } }
        request_headers_to_remove: [x-present-removed, X-Secret]
        route: { cluster: c }
`;

test('header mutations: route, virtual host, configuration (later wins), weighted cluster first', () => {
  const t = tableFor(MUTATIONS);
  const m = t.match(req('/'), 0)!;
  const h = new Headers([
    ['x-present', 'old'],
    ['x-only-if-2', 'old'],
    ['x-present-removed', 'old'],
    ['x-secret', 's'],
  ]);
  applyHeaderMutations(m.requestHeaderMutations, h, (x) => (x.format === '%DOWNSTREAM_REMOTE_ADDRESS%' ? '10.0.0.1:5000' : 'unknown'));
  assert.deepEqual(h.values('x-level'), ['config'], 'configuration level evaluated last');
  assert.deepEqual(h.values('x-route'), ['a', 'b'], 'appended');
  assert.deepEqual(h.values('x-absent'), ['new']);
  assert.deepEqual(h.values('x-present'), ['old']);
  assert.deepEqual(h.values('x-only-if'), []);
  assert.deepEqual(h.values('x-only-if-2'), ['new']);
  assert.deepEqual(h.values('x-empty'), [], 'empty values are skipped');
  assert.deepEqual(h.values('x-kept-empty'), ['']);
  assert.deepEqual(h.values('x-percent'), ['100%']);
  assert.deepEqual(h.values('x-client'), ['10.0.0.1:5000']);
  assert.deepEqual(h.values('x-present-removed'), []);
  assert.deepEqual(h.values('x-secret'), []);
  assert.deepEqual(h.values('x-config'), ['1']);

  const resp = new Headers([['x-secret', 's']]);
  applyHeaderMutations(m.responseHeaderMutations, resp);
  assert.deepEqual(resp.values('x-resp'), ['config']);
  assert.deepEqual(resp.values('x-secret'), []);

  const w = t.match(req('/w'), 0)!;
  assert.equal(w.requestHeaderMutations.length, 4, 'cluster, route, vhost, config');
  const wh = new Headers([['x-drop', '1']]);
  const order: string[] = [];
  applyHeaderMutations(w.requestHeaderMutations, {
    has: (n) => wh.has(n),
    set: (n, v) => {
      if (n === 'x-level') order.push(v);
      wh.set(n, v);
    },
    append: (n, v) => wh.append(n, v),
    remove: (n) => wh.remove(n),
  });
  assert.deepEqual(order, ['cluster', 'route', 'vhost', 'config']);
  assert.deepEqual(wh.values('x-drop'), []);
});

test('most_specific_header_mutations_wins reverses the levels', () => {
  const t = tableFor(`${MUTATIONS}\nmost_specific_header_mutations_wins: true\n`);
  const h = new Headers();
  applyHeaderMutations(t.match(req('/'), 0)!.requestHeaderMutations, h);
  assert.deepEqual(h.values('x-level'), ['route']);
  const order: string[] = [];
  const w = new Headers();
  applyHeaderMutations(t.match(req('/w'), 0)!.requestHeaderMutations, {
    has: (n) => w.has(n),
    set: (n, v) => {
      if (n === 'x-level') order.push(v);
      w.set(n, v);
    },
    append: (n, v) => w.append(n, v),
    remove: (n) => w.remove(n),
  });
  assert.deepEqual(order, ['cluster', 'config', 'vhost', 'route']);
});

test('header value formats', () => {
  assert.deepEqual(parseHeaderFormat('plain'), { literal: 'plain', operators: [] });
  assert.deepEqual(parseHeaderFormat('a%%b'), { literal: 'a%b', operators: [] });
  assert.deepEqual(parseHeaderFormat('%REQ(x-a)%-%START_TIME(s):3%'), { literal: '-', operators: ['REQ(x-a)', 'START_TIME(s)'] });
  assert.ok('error' in parseHeaderFormat('50%'));
  assert.ok('error' in parseHeaderFormat('%lower%'));
});

// --- timeouts and retries ---------------------------------------------------------------------

test('timeout and retry policy defaults, inheritance and values', () => {
  const t = tableFor(`
virtual_hosts:
  - name: plain
    domains: ["plain"]
    routes:
      - { match: { prefix: "/" }, route: { cluster: c } }
  - name: vh-retry
    domains: ["retry"]
    retry_policy: { retry_on: "5xx", num_retries: 3 }
    routes:
      - { match: { prefix: "/inherit" }, route: { cluster: c, timeout: 2.5s } }
      - match: { prefix: "/own" }
        route:
          cluster: c
          timeout: 0s
          retry_policy:
            retry_on: " connect-failure , reset,retriable-status-codes,gateway-error,refused-stream,5xx,reset"
            per_try_timeout: 0.25s
            retry_back_off: { base_interval: 0.1s }
            retriable_status_codes: [503, 429]
      - match: { prefix: "/backoff" }
        route:
          cluster: c
          retry_policy: { retry_on: "", retry_back_off: { base_interval: 0.0005s, max_interval: 2s } }
`);
  const action = (authority: string, path: string): ForwardAction => {
    const a = t.match(req(path, {}, authority), 0)!.action;
    assert.equal(a.kind, 'route');
    return a as ForwardAction;
  };
  const plain = action('plain', '/');
  assert.equal(plain.timeoutMs, 15000);
  assert.equal(plain.retryPolicy, DEFAULT_RETRY_POLICY);
  assert.equal(plain.retryPolicy.retryOn.size, 0);
  assert.equal(plain.retryPolicy.numRetries, 1);
  assert.deepEqual([plain.retryPolicy.baseIntervalMs, plain.retryPolicy.maxIntervalMs], [25, 250]);

  const inherit = action('retry', '/inherit');
  assert.equal(inherit.timeoutMs, 2500);
  assert.deepEqual([...inherit.retryPolicy.retryOn], ['5xx']);
  assert.equal(inherit.retryPolicy.numRetries, 3);
  assert.equal(inherit.retryPolicy.perTryTimeoutMs, 0);

  const own = action('retry', '/own');
  assert.equal(own.timeoutMs, 0, '0 disables the timeout');
  assert.deepEqual([...own.retryPolicy.retryOn], ['connect-failure', 'reset', 'retriable-status-codes', 'gateway-error', 'refused-stream', '5xx']);
  assert.equal(own.retryPolicy.numRetries, 1, 'not inherited: the route policy replaces the virtual host one');
  assert.equal(own.retryPolicy.perTryTimeoutMs, 250);
  assert.deepEqual([own.retryPolicy.baseIntervalMs, own.retryPolicy.maxIntervalMs], [100, 1000]);
  assert.deepEqual([...own.retryPolicy.retriableStatusCodes], [503, 429]);

  const backoff = action('retry', '/backoff');
  assert.deepEqual([backoff.retryPolicy.baseIntervalMs, backoff.retryPolicy.maxIntervalMs], [1, 2000]);
  assert.equal(backoff.retryPolicy.retryOn.size, 0);
});

// --- configuration ----------------------------------------------------------------------------

test('config-level fields are kept', () => {
  const c = routeConfig(`
name: rc
validate_clusters: false
internal_only_headers: [X-Internal]
virtual_hosts:
  - name: vh
    domains: ["*"]
    routes:
      - { match: { prefix: "/a" }, route: { cluster: one } }
      - { match: { prefix: "/b" }, route: { weighted_clusters: { clusters: [{ name: two, weight: 1 }, { name: one, weight: 1 }] } } }
`);
  assert.equal(c.name, 'rc');
  assert.equal(c.validateClusters, false);
  assert.deepEqual(c.internalOnlyHeaders, ['x-internal']);
  assert.deepEqual(referencedClusters(c).sort(), ['one', 'two']);
  const t = new RouteTable(c);
  assert.equal(t.validateClusters, false);
  assert.deepEqual(t.internalOnlyHeaders, ['x-internal']);
  assert.equal(routeConfig('virtual_hosts: []').validateClusters, undefined);
});

test('config errors carry their field paths', () => {
  const vh = (body: string, domains = '["*"]'): string => `
name: rc
virtual_hosts:
  - name: vh
    domains: ${domains}
    routes:
${body}`;
  // Domains.
  assertProblem(
    `
name: rc
virtual_hosts:
  - { name: a, domains: ["a.com", "*"], routes: [] }
  - { name: b, domains: ["A.com"], routes: [] }
  - { name: c, domains: ["*"], routes: [] }
`,
    'route_config.virtual_hosts[1].domains[0]',
    /duplicate entry of domain a\.com/,
  );
  assertProblem(
    `
virtual_hosts:
  - { name: a, domains: ["*"], routes: [] }
  - { name: c, domains: ["*"], routes: [] }
`,
    'route_config.virtual_hosts[1].domains[0]',
    /only a single wildcard domain/,
  );
  assert.deepEqual(problemsOf(`
virtual_hosts:
  - { name: a, domains: ["*.a.com", "a.com*", "a.com"], routes: [] }
`), [], 'suffix, prefix and exact tables are separate');
  // Unsupported fields, by name.
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, auto_host_rewrite: true } }'), 'route_config.virtual_hosts[0].routes[0].route.auto_host_rewrite', /not supported/);
  assert.deepEqual(problemsOf(vh('      - { match: { prefix: "/" }, route: { cluster: c, auto_host_rewrite: false } }')), []);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, max_grpc_timeout: 1s } }'), 'route_config.virtual_hosts[0].routes[0].route.max_grpc_timeout', /RouteAction\.max_grpc_timeout is not supported/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, upgrade_configs: [{ upgrade_type: CONNECT }] } }'), 'route_config.virtual_hosts[0].routes[0].route.upgrade_configs[0].upgrade_type', /CONNECT is not supported/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, upgrade_configs: [{ upgrade_type: websocket }, { upgrade_type: WebSocket }] } }'), 'route_config.virtual_hosts[0].routes[0].route.upgrade_configs[1].upgrade_type', /Duplicate upgrade WebSocket/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c }, response_headers_to_add: [{ header: { key: x-a, value: "%NOPE%" } }] }'), 'route_config.virtual_hosts[0].routes[0].response_headers_to_add[0].header.value', /unknown access log operator %NOPE%/);
  assertProblem(vh('      - { match: { prefix: "/", runtime_fraction: { runtime_key: k } }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.runtime_fraction.default_value', /required/);
  assertProblem(vh('      - { match: { connect_matcher: {} }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.connect_matcher', /not supported/);
  assertProblem(vh('      - { match: { prefix: "/" }, redirect: { regex_rewrite: { pattern: { regex: "a" }, substitution: b } } }'), 'route_config.virtual_hosts[0].routes[0].redirect.regex_rewrite', /not supported/);
  assertProblem(`virtual_hosts: [{ name: a, domains: ["*"], require_tls: ALL }]`, 'route_config.virtual_hosts[0].require_tls', /not supported/);
  assertProblem(`vhds: { config_source: { ads: {} } }`, 'route_config.vhds', /not supported/);
  // Values.
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, retry_policy: { retry_on: "5xx,retriable-4xx" } } }'), 'route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_on', /"retriable-4xx" is not supported/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, retry_policy: { retry_on: "5xx,bogus" } } }'), 'route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_on', /unknown retry_on condition "bogus"/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c, retry_policy: { retry_back_off: { base_interval: 2s, max_interval: 1s } } } }'), 'route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_back_off.max_interval', /greater than or equal to the base_interval/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: b, weight: 2 }], total_weight: 100 } } }'), 'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.total_weight', /add up to 3/);
  assert.deepEqual(problemsOf(vh('      - { match: { prefix: "/" }, route: { weighted_clusters: { clusters: [{ name: a, weight: 1 }, { name: b, weight: 2 }], total_weight: 3 } } }')), []);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { weighted_clusters: { clusters: [{ name: a, weight: 0 }] } } }'), 'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters', /greater than 0/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { weighted_clusters: { clusters: [{ name: a }] } } }'), 'route_config.virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].weight', /required/);
  assertProblem(vh('      - { match: { path_separated_prefix: "/api/" }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.path_separated_prefix', /not end with/);
  assertProblem(vh('      - { match: { prefix: "/", query_parameters: [{ name: a, present_match: false }] }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.query_parameters[0].present_match', /Envoy treats it as present_match: true/);
  assertProblem(vh('      - { match: { safe_regex: { regex: "(?=x)" } }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.safe_regex.regex', /look-around/);
  assertProblem(vh('      - { match: { prefix: "/", headers: [{ name: x, prefix_match: "" }] }, route: { cluster: c } }'), 'route_config.virtual_hosts[0].routes[0].match.headers[0].prefix_match', /empty/);
  assertProblem(vh('      - { match: { prefix: "/" }, direct_response: { body: { inline_string: x } } }'), 'route_config.virtual_hosts[0].routes[0].direct_response.status', /\[200, 600\)/);
  assertProblem(`max_direct_response_body_size_bytes: 4\n${vh('      - { match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "12345" } } }')}`, 'route_config.virtual_hosts[0].routes[0].direct_response.body', /5 bytes; maximum is 4/);
  assertProblem(vh('      - { match: { prefix: "/" }, direct_response: { status: 200, body: { filename: /nonexistent/courier-body } } }'), 'route_config.virtual_hosts[0].routes[0].direct_response.body.filename', /cannot be read/);
  // Header mutations.
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c }, request_headers_to_add: [{ header: { key: ":path", value: x } }] }'), 'route_config.virtual_hosts[0].routes[0].request_headers_to_add[0].header.key', /may not be modified/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c }, request_headers_to_add: [{ header: { key: Host, value: x } }] }'), 'route_config.virtual_hosts[0].routes[0].request_headers_to_add[0].header.key', /may not be modified/);
  assertProblem(`request_headers_to_remove: [":authority"]`, 'route_config.request_headers_to_remove[0]', /may not be removed/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c }, response_headers_to_add: [{ header: { key: a, value: x }, append: true, append_action: ADD_IF_ABSENT }] }'), 'route_config.virtual_hosts[0].routes[0].response_headers_to_add[0].append', /both append and append_action/);
  assertProblem(vh('      - { match: { prefix: "/" }, route: { cluster: c }, response_headers_to_add: [{ header: { key: a, value: "50%" } }] }'), 'route_config.virtual_hosts[0].routes[0].response_headers_to_add[0].header.value', /no valid command/);
  assertProblem(`virtual_hosts: [{ name: a, domains: ["*"], retry_policy: { retry_on: "5xx", retry_priority: { name: x } } }]`, 'route_config.virtual_hosts[0].retry_policy.retry_priority', /not supported/);
  // The decoder's own checks keep their paths too.
  assertProblem(vh('      - { match: { prefix: "/" } }'), 'route_config.virtual_hosts[0].routes[0]', /one of .* is required/);
});
