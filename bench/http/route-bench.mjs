#!/usr/bin/env node
/**
 * Route lookup micro benchmark (not a test): lookups per second through RouteTable.match with
 * 10 and 10,000 routes in one virtual host, half `prefix` routes ("/svc<i>/") and half exact
 * `path` routes ("/api/v1/item<i>"), interleaved, and the matching route near the end of the
 * list. The configs go through the real path: proto JSON → decodeMessage → parse → JSON (as
 * to a worker) → RouteTable. For reference it also times a plain in-order scan
 * (`{ index: false }`), which is what a naive router would do.
 *
 * A third table has 10 `safe_regex` routes (the regex engine's cost per lookup: 5 with a
 * literal prefix, indexed in the trie, and 5 without, tried in order), with requests that match
 * the last indexed one, the last unindexed one, and none.
 *
 * Each size is measured in 3 interleaved rounds of --seconds each; the best round is reported.
 *
 * Usage: npx tsc -p . && node bench/http/route-bench.mjs [--seconds 1] [--regex-only]
 */
import { decodeMessage } from '../../dist/src/config/proto-json.js';
import { protoRoot } from '../../dist/src/config/proto-registry.js';
import { ProblemCollector } from '../../dist/src/config/config-error.js';
import { parseRouteConfiguration } from '../../dist/src/common/router/route-config.js';
import { RouteTable } from '../../dist/src/common/router/route-table.js';

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1;
const REGEX_ONLY = process.argv.includes('--regex-only');

function routeConfigJson(n) {
  const routes = [];
  for (let i = 0; i < n; i++) {
    const match = i % 2 === 0 ? { prefix: `/svc${i}/` } : { path: `/api/v1/item${i}` };
    routes.push({ name: `r${i}`, match, route: { cluster: `cluster_${i % 50}`, timeout: '5s' } });
  }
  // A catch-all last, as real configs have.
  routes.push({ name: 'default', match: { prefix: '/' }, direct_response: { status: 404 } });
  return {
    name: `bench_${n}`,
    virtual_hosts: [
      { name: 'other', domains: ['other.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'x' } }] },
      { name: 'bench', domains: ['bench.example.com', '*.bench.example.com'], routes },
      { name: 'fallback', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'y' } }] },
    ],
  };
}

/** Regex routes as people write them: versioned APIs, ids, file suffixes, a catch-all last. */
function regexRouteConfigJson() {
  const re = (regex) => ({ safe_regex: { google_re2: {}, regex } });
  const patterns = [
    '/api/v[0-9]+/users/[0-9]+',
    '/api/v[0-9]+/orders/[0-9]+/items(/[0-9]+)?',
    '/svc[0-9]+/.*',
    '/static/[a-z0-9/_-]+\\.(css|js|png)',
    '/re/([a-z]+)*[0-9]',
    '.*/health(z)?',
    '[^/]*/tenants/[a-z]+/.*',
    '(?i)/LEGACY/.*',
    '/(en|fr|de)/docs/.*',
    '.*\\.(jpg|jpeg|gif)',
  ];
  const routes = patterns.map((regex, i) => ({ name: `x${i}`, match: re(regex), route: { cluster: `cluster_${i}`, timeout: '5s' } }));
  routes.push({ name: 'default', match: { prefix: '/' }, direct_response: { status: 404 } });
  return { name: 'bench_regex', virtual_hosts: [{ name: 'bench', domains: ['*'], routes }] };
}

function build(n, options, json = routeConfigJson(n)) {
  const type = protoRoot().lookupType('envoy.config.route.v3.RouteConfiguration');
  const t0 = process.hrtime.bigint();
  const { value, problems } = decodeMessage(type, json);
  if (problems.length) throw new Error(JSON.stringify(problems));
  const collector = new ProblemCollector();
  const config = parseRouteConfiguration(value, collector);
  if (!config) throw new Error(JSON.stringify(collector.problems));
  const wire = JSON.stringify(config);
  const t1 = process.hrtime.bigint();
  const table = new RouteTable(JSON.parse(wire), options);
  const t2 = process.hrtime.bigint();
  return { table, parseMs: Number(t1 - t0) / 1e6, compileMs: Number(t2 - t1) / 1e6 };
}

function request(path) {
  return {
    authority: 'Bench.example.com',
    path,
    method: 'GET',
    header: (name) => (name === 'user-agent' ? 'bench' : undefined),
  };
}

function measure(table, requests, expected) {
  // Check, then warm up, then time.
  for (let i = 0; i < requests.length; i++) {
    const m = table.match(requests[i], 0.5);
    if (m?.route.name !== expected[i]) throw new Error(`${requests[i].path}: got ${m?.route.name}, want ${expected[i]}`);
  }
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += table.match(requests[i % requests.length], 0.5) ? 1 : 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(SECONDS * 1e9));
  let count = 0;
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 10_000; i++) sink += table.match(requests[i % requests.length], 0.5) ? 1 : 0;
    count += 10_000;
    now = process.hrtime.bigint();
  }
  if (sink === 0) throw new Error('unreachable');
  return count / (Number(now - start) / 1e9);
}

function scenario(n) {
  // Near the end: the last prefix route and the last path route, and the catch-all.
  const lastPrefix = n % 2 === 0 ? n - 2 : n - 1;
  const lastPath = n % 2 === 0 ? n - 1 : n - 2;
  return {
    requests: [request(`/svc${lastPrefix}/users/42?x=1`), request(`/api/v1/item${lastPath}`), request('/nothing/here')],
    expected: [`r${lastPrefix}`, `r${lastPath}`, 'default'],
  };
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const ROUNDS = 3;
const setups = (REGEX_ONLY ? [] : [10, 10_000]).map((n) => {
  const { requests, expected } = scenario(n);
  return { n, requests, expected, indexed: build(n), linear: build(n, { index: false }), best: 0, bestLinear: 0 };
});
// Interleaved rounds, best of each, so JIT warm-up and machine noise do not favour one size.
for (let round = 0; round < ROUNDS; round++) {
  for (const s of setups) {
    s.best = Math.max(s.best, measure(s.indexed.table, s.requests, s.expected));
    s.bestLinear = Math.max(s.bestLinear, measure(s.linear.table, s.requests, s.expected));
  }
}
// Regex routes: the last prefixed regex (indexed under "/re/"), the last unprefixed one, none.
const regexSetup = {
  table: build(0, undefined, regexRouteConfigJson()).table,
  requests: [request('/re/abc7'), request('/photos/2024/summer/beach.jpg'), request('/nothing/here/at/all')],
  expected: ['x4', 'x9', 'default'],
  best: 0,
};
for (let round = 0; round < ROUNDS; round++) regexSetup.best = Math.max(regexSetup.best, measure(regexSetup.table, regexSetup.requests, regexSetup.expected));

const results = setups.map((s) => ({
  routes: s.n,
  lookupsPerSecond: Math.round(s.best),
  linearScanLookupsPerSecond: Math.round(s.bestLinear),
  parseMs: Number(s.indexed.parseMs.toFixed(1)),
  compileMs: Number(s.indexed.compileMs.toFixed(1)),
}));
for (const r of results) {
  console.log(
    `${String(r.routes).padStart(6)} routes: ${fmt(r.lookupsPerSecond).padStart(11)} lookups/s indexed` +
      `   (in-order scan: ${fmt(r.linearScanLookupsPerSecond).padStart(11)} lookups/s; decode+parse ${r.parseMs} ms, compile ${r.compileMs} ms)`,
  );
}
const regexResult = { lookupsPerSecond: Math.round(regexSetup.best), nsPerLookup: Math.round(1e9 / regexSetup.best) };
console.log(`    10 regex routes: ${fmt(regexResult.lookupsPerSecond).padStart(11)} lookups/s (${regexResult.nsPerLookup} ns per lookup)`);
const [small, large] = results;
if (small && large) console.log(`10k/10 throughput ratio (indexed): ${(large.lookupsPerSecond / small.lookupsPerSecond).toFixed(2)}`);
console.log(JSON.stringify({ node: process.version, seconds: SECONDS, rounds: ROUNDS, results, regex: regexResult }));
