/**
 * Dubbo route matching, ported from Envoy's test/extensions/filters/network/dubbo_proxy/
 * route_matcher_test.cc. Configs are YAML, decoded by Courier's proto decoder exactly as a
 * bootstrap would be, parsed into plain data, sent through JSON (as to a worker) and compiled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';

import { decodeMessage, type PlainObject } from '../../src/config/proto-json.js';
import { lookupMessage } from '../../src/config/proto-registry.js';
import { ProblemCollector, type ConfigProblem } from '../../src/config/config-error.js';
import type { DubboRequestView } from '../../src/extensions/filters/network/dubbo_proxy/router/request-view.js';
import {
  parseDubboRouteConfiguration,
  parseDubboRouteTable,
  type DubboRouteConfiguration,
} from '../../src/extensions/filters/network/dubbo_proxy/router/route-config.js';
import { DubboRouteMatcher } from '../../src/extensions/filters/network/dubbo_proxy/router/route-matcher.js';

const ROUTE_CONFIGURATION = 'envoy.extensions.filters.network.dubbo_proxy.v3.RouteConfiguration';
const DUBBO_PROXY = 'envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy';

function decode(typeName: string, yaml: string): PlainObject {
  const type = lookupMessage(typeName);
  assert.ok(type, typeName);
  const { value, problems } = decodeMessage(type, parseYaml(yaml));
  assert.deepEqual(problems, [], 'the test config should decode');
  return value!;
}

/** YAML RouteConfiguration → plain data, as a worker receives it. */
function routeConfig(yaml: string): DubboRouteConfiguration {
  const problems = new ProblemCollector();
  const parsed = parseDubboRouteConfiguration(decode(ROUTE_CONFIGURATION, yaml), problems);
  assert.deepEqual(problems.problems, []);
  return JSON.parse(JSON.stringify(parsed)) as DubboRouteConfiguration;
}

function matcherFor(yaml: string): DubboRouteMatcher {
  return new DubboRouteMatcher([routeConfig(yaml)]);
}

/** Problems of a DubboProxy config (decoder problems, then route table problems). */
function proxyProblems(yaml: string): ConfigProblem[] {
  const { value, problems } = decodeMessage(lookupMessage(DUBBO_PROXY)!, parseYaml(yaml));
  if (problems.length > 0) return problems;
  const collector = new ProblemCollector('dubbo');
  parseDubboRouteTable(value!, collector);
  return collector.problems;
}

class Request implements DubboRequestView {
  serviceName = '';
  serviceVersion = '';
  serviceGroup: string | undefined = undefined;
  methodName = '';
  args: unknown[] = [];
  attachments = new Map<string, string>();

  argumentAsString(index: number): string | undefined {
    const v = this.args[index];
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
    return undefined;
  }

  /** Envoy lower-cases attachment keys; the matcher asks with lower-case names. */
  attachment(key: string): string | undefined {
    for (const [k, v] of this.attachments) if (k.toLowerCase() === key) return v;
    return undefined;
  }
}

function request(fields: Partial<Request> = {}): Request {
  return Object.assign(new Request(), fields);
}

function clusterOf(m: DubboRouteMatcher, r: DubboRequestView, random = 0): string | undefined {
  return m.route(r, random)?.cluster;
}

const DEMO = 'org.apache.dubbo.demo.DemoService';

function methodRoute(nameMatcher: string, extra = ''): string {
  return `
name: local_route
interface: ${DEMO}
routes:
  - match:
      method:
        name:
          ${nameMatcher}
${extra}
    route:
      cluster: user_service_dubbo_server
`;
}

// --- interface --------------------------------------------------------------------------------

test('interface "*" matches any non-empty interface', () => {
  const m = matcherFor(`
name: local_route
interface: "*"
routes:
  - match: { method: { name: { exact: add } } }
    route: { cluster: user_service_dubbo_server }
`);
  const r = request({ methodName: 'add' });
  assert.equal(m.route(r, 0), undefined, 'empty service name');
  for (const name of ['unknown', 'random', 'fake_service']) {
    r.serviceName = name;
    assert.equal(clusterOf(m, r), 'user_service_dubbo_server', name);
  }
});

test('interface "*suffix" needs more than the literal part', () => {
  const m = matcherFor(`
name: local_route
interface: "*.test.com"
routes:
  - match: { method: { name: { exact: add } } }
    route: { cluster: user_service_dubbo_server }
`);
  const r = request({ methodName: 'add' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceName = '.test.com';
  assert.equal(m.route(r, 0), undefined, 'only the literal part');
  r.serviceName = 'code.test.com';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceName = 'fake.test.com';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceName = 'fake_service';
  assert.equal(m.route(r, 0), undefined);
});

test('interface "prefix*" needs more than the literal part', () => {
  const m = matcherFor(`
name: local_route
interface: "com.test.*"
routes:
  - match: { method: { name: { exact: add } } }
    route: { cluster: user_service_dubbo_server }
`);
  const r = request({ methodName: 'add' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceName = 'com.test.';
  assert.equal(m.route(r, 0), undefined, 'only the literal part');
  r.serviceName = 'com.test.code';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceName = 'com.test.fake';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceName = 'fake_service';
  assert.equal(m.route(r, 0), undefined);
});

test('exact interface', () => {
  const m = matcherFor(methodRoute('exact: add'));
  assert.equal(clusterOf(m, request({ serviceName: DEMO, methodName: 'add' })), 'user_service_dubbo_server');
  assert.equal(m.route(request({ serviceName: `${DEMO}2`, methodName: 'add' }), 0), undefined);
  assert.equal(m.route(request({ serviceName: 'org.apache.dubbo.demo', methodName: 'add' }), 0), undefined);
});

// --- group and version ------------------------------------------------------------------------

const ANY_METHOD = `safe_regex:
            google_re2: {}
            regex: "(.*?)"`;

test('group and version are ignored when not configured', () => {
  const m = matcherFor(methodRoute(ANY_METHOD));
  const r = request({ methodName: 'test' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceName = 'unknown';
  assert.equal(m.route(r, 0), undefined);
  r.serviceGroup = 'test';
  r.serviceVersion = '1.0.0';
  assert.equal(m.route(r, 0), undefined);
  r.serviceName = DEMO;
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceVersion = '1.0.1';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceGroup = 'test_one';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('group and version must both match when configured', () => {
  const m = matcherFor(methodRoute(ANY_METHOD).replace('routes:', 'version: 1.0.0\ngroup: test\nroutes:'));
  const r = request({ serviceName: DEMO, methodName: 'test' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceGroup = 'test';
  assert.equal(m.route(r, 0), undefined, 'version missing');
  r.serviceVersion = '1.0.0';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceGroup = undefined;
  assert.equal(m.route(r, 0), undefined, 'group missing');
});

test('version only', () => {
  const m = matcherFor(methodRoute(ANY_METHOD).replace('routes:', 'version: 1.0.0\nroutes:'));
  const r = request({ serviceName: DEMO, methodName: 'test' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceGroup = 'test';
  assert.equal(m.route(r, 0), undefined);
  r.serviceVersion = '1.0.0';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.serviceGroup = 'test_1';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server', 'group is not configured');
});

test('group only', () => {
  const m = matcherFor(methodRoute(ANY_METHOD).replace('routes:', 'group: HSF\nroutes:'));
  const r = request({ serviceName: DEMO, methodName: 'test' });
  assert.equal(m.route(r, 0), undefined);
  r.serviceGroup = 'test';
  assert.equal(m.route(r, 0), undefined);
  r.serviceVersion = '1.0.0';
  assert.equal(m.route(r, 0), undefined);
  r.serviceGroup = 'HSF';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

// --- method -----------------------------------------------------------------------------------

test('method exact', () => {
  const m = matcherFor(methodRoute('exact: add'));
  const r = request({ serviceName: DEMO });
  assert.equal(m.route(r, 0), undefined, 'no method name');
  r.methodName = 'sub';
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'add';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.methodName = 'Add';
  assert.equal(m.route(r, 0), undefined, 'case-sensitive');
});

test('an empty method name never matches, even a matcher that accepts ""', () => {
  assert.equal(matcherFor(methodRoute(ANY_METHOD)).route(request({ serviceName: DEMO }), 0), undefined);
  assert.equal(matcherFor(methodRoute('exact: ""')).route(request({ serviceName: DEMO }), 0), undefined);
});

test('method suffix', () => {
  const m = matcherFor(methodRoute('suffix: test'));
  const r = request({ serviceName: DEMO });
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'sub';
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'add123test';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('method prefix', () => {
  const m = matcherFor(methodRoute('prefix: test'));
  const r = request({ serviceName: DEMO });
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'ab12test';
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'test12d2test';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.methodName = 'testme';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('method safe_regex is a full match', () => {
  const m = matcherFor(methodRoute(`safe_regex:
            google_re2: {}
            regex: "\\\\d{3}test"`));
  const r = request({ serviceName: DEMO });
  assert.equal(m.route(r, 0), undefined);
  r.methodName = '12test';
  assert.equal(m.route(r, 0), undefined);
  r.methodName = '456test';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.methodName = '4567test';
  assert.equal(m.route(r, 0), undefined);
});

test('method safe_regex is RE2: a pattern that explodes a backtracking engine answers at once', () => {
  // Before RE2 this call did not return for hours (V8's RegExp backtracks on 40 letters).
  const m = matcherFor(methodRoute(`safe_regex:
            regex: "([a-z]+)*[0-9]"`));
  const r = request({ serviceName: DEMO, methodName: `${'a'.repeat(40)}!` });
  assert.equal(m.route(r, 0), undefined);
  r.methodName = 'sayhello2';
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('method safe_regex that RE2 refuses is refused with its path', () => {
  const problems = new ProblemCollector('rc');
  parseDubboRouteConfiguration(decode(ROUTE_CONFIGURATION, methodRoute(`safe_regex:
            regex: "(?!x)y"`)), problems);
  assert.deepEqual(problems.problems.map((p) => p.path), ['rc.routes[0].match.method.name.safe_regex.regex']);
  assert.match(problems.problems[0]!.message, /look-around/);
});

test('method contains', () => {
  const m = matcherFor(methodRoute('contains: User'));
  assert.equal(clusterOf(m, request({ serviceName: DEMO, methodName: 'getUserById' })), 'user_service_dubbo_server');
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'getuserById' }), 0), undefined);
});

test('method ignore_case', () => {
  const exact = matcherFor(methodRoute('exact: sayHello\n          ignore_case: true'));
  for (const name of ['sayHello', 'SAYHELLO', 'sayhello']) {
    assert.equal(clusterOf(exact, request({ serviceName: DEMO, methodName: name })), 'user_service_dubbo_server', name);
  }
  assert.equal(exact.route(request({ serviceName: DEMO, methodName: 'sayHello2' }), 0), undefined);
  const prefix = matcherFor(methodRoute('prefix: GET\n          ignore_case: true'));
  assert.equal(clusterOf(prefix, request({ serviceName: DEMO, methodName: 'getUser' })), 'user_service_dubbo_server');
  const suffix = matcherFor(methodRoute('suffix: byid\n          ignore_case: true'));
  assert.equal(clusterOf(suffix, request({ serviceName: DEMO, methodName: 'getUserById' })), 'user_service_dubbo_server');
  const contains = matcherFor(methodRoute('contains: USER\n          ignore_case: true'));
  assert.equal(clusterOf(contains, request({ serviceName: DEMO, methodName: 'getUserById' })), 'user_service_dubbo_server');
  assert.equal(contains.route(request({ serviceName: DEMO, methodName: 'getById' }), 0), undefined);
});

// --- params_match -----------------------------------------------------------------------------

const RANGE_0 = `        params_match:
          0:
            range_match:
              start: 100
              end: 200`;

test('params_match with no arguments does not match', () => {
  const m = matcherFor(methodRoute('exact: add', RANGE_0));
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add' }), 0), undefined);
});

test('params_match on a missing index does not match', () => {
  const m = matcherFor(methodRoute('exact: add', RANGE_0.replace('0:', '3:')));
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add', args: ['150'] }), 0), undefined);
});

test('params_match on an argument that is not a string does not match', () => {
  const m = matcherFor(methodRoute('exact: add', RANGE_0));
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add', args: [null] }), 0), undefined);
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add', args: [{ a: 1 }] }), 0), undefined);
});

test('params_match range is [start, end) over base-10 int64', () => {
  const m = matcherFor(methodRoute('exact: add', RANGE_0));
  const at = (arg: unknown): string | undefined => clusterOf(m, request({ serviceName: DEMO, methodName: 'add', args: [arg] }));
  assert.equal(at('150'), 'user_service_dubbo_server');
  assert.equal(at(150), 'user_service_dubbo_server', 'a number argument');
  assert.equal(at('100'), 'user_service_dubbo_server', 'start is included');
  assert.equal(at('199'), 'user_service_dubbo_server');
  assert.equal(at('200'), undefined, 'end is excluded');
  assert.equal(at('99'), undefined);
  assert.equal(at('300'), undefined);
  assert.equal(at('+150'), 'user_service_dubbo_server', 'explicit sign');
  assert.equal(at(' 150 '), 'user_service_dubbo_server', 'surrounding whitespace (absl::SimpleAtoi)');
  for (const bad of ['abc', '', '150abc', '1.5e2', '150.0', '0x96', '-', ' ']) assert.equal(at(bad), undefined, JSON.stringify(bad));
});

test('params_match range with negative and int64 bounds', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `        params_match:
          0:
            range_match: { start: "-10", end: "0" }
          1:
            range_match: { start: "9007199254740993", end: "9223372036854775807" }`,
    ),
  );
  const at = (a: string, b: string): string | undefined => clusterOf(m, request({ serviceName: DEMO, methodName: 'add', args: [a, b] }));
  assert.equal(at('-1', '9007199254740993'), 'user_service_dubbo_server');
  assert.equal(at('-10', '9223372036854775806'), 'user_service_dubbo_server');
  assert.equal(at('0', '9007199254740993'), undefined, '0 is not in [-10, 0)');
  assert.equal(at('-1', '9007199254740992'), undefined, 'below a start beyond 2^53');
  assert.equal(at('-1', '9223372036854775807'), undefined, 'end is excluded');
  assert.equal(at('-1', '9223372036854775808'), undefined, 'int64 overflow');
  assert.equal(at('-1', '00000000000000000000009007199254740993'), 'user_service_dubbo_server', 'leading zeros');
});

test('params_match exact', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `        params_match:
          1:
            exact_match: "user_id:94562"`,
    ),
  );
  const r = request({ serviceName: DEMO, methodName: 'add' });
  assert.equal(m.route(r, 0), undefined, 'no arguments');
  r.args = [undefined, ''];
  assert.equal(m.route(r, 0), undefined, 'empty argument');
  r.args = [undefined, 'user_id:562'];
  assert.equal(m.route(r, 0), undefined, 'other value');
  r.args = [undefined, 'user_id:94562'];
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('params_match exact "" matches any argument that converts to a string', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `        params_match:
          0: { exact_match: "" }`,
    ),
  );
  assert.equal(clusterOf(m, request({ serviceName: DEMO, methodName: 'add', args: ['anything'] })), 'user_service_dubbo_server');
  assert.equal(clusterOf(m, request({ serviceName: DEMO, methodName: 'add', args: [42] })), 'user_service_dubbo_server');
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add', args: [null] }), 0), undefined);
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add', args: [] }), 0), undefined);
});

// --- headers (attachments) --------------------------------------------------------------------

test('headers: exact and inverted exact over attachments', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `      headers:
      - name: custom
        exact_match: "123"
      - name: custom1
        exact_match: "123"
        invert_match: true`,
    ),
  );
  const r = request({ serviceName: DEMO, methodName: 'add' });
  r.attachments.set('custom', '123');
  r.attachments.set('custom1', '123');
  assert.equal(m.route(r, 0), undefined);
  r.attachments.set('custom1', '456');
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.attachments.set('custom1', '123');
  assert.equal(m.route(r, 0), undefined);
  r.attachments.delete('custom1');
  assert.equal(m.route(r, 0), undefined, 'an absent header never matches an inverted value match');
});

test('headers: names are case-insensitive', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `      headers:
      - name: X-Tenant
        exact_match: blue`,
    ),
  );
  const r = request({ serviceName: DEMO, methodName: 'add' });
  r.attachments.set('x-TENANT', 'blue');
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
});

test('headers: regex, present and inverted present', () => {
  const m = matcherFor(
    methodRoute(
      'exact: add',
      `      headers:
      - name: env
        safe_regex_match: { regex: "gray|canary-\\\\d+" }
      - name: trace
        present_match: true
      - name: debug
        present_match: true
        invert_match: true`,
    ),
  );
  const r = request({ serviceName: DEMO, methodName: 'add' });
  r.attachments.set('env', 'canary-7');
  r.attachments.set('trace', '');
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.attachments.set('env', 'canary-7x');
  assert.equal(m.route(r, 0), undefined, 'regex is a full match');
  r.attachments.set('env', 'gray');
  assert.equal(clusterOf(m, r), 'user_service_dubbo_server');
  r.attachments.set('debug', '1');
  assert.equal(m.route(r, 0), undefined, 'inverted present');
  r.attachments.delete('debug');
  r.attachments.delete('trace');
  assert.equal(m.route(r, 0), undefined, 'present');
});

test('headers are checked before the method (route order still applies)', () => {
  const m = matcherFor(`
name: local_route
interface: ${DEMO}
routes:
  - match:
      method: { name: { exact: add } }
      headers: [{ name: lane, exact_match: gray }]
    route: { cluster: gray }
  - match:
      method: { name: { exact: add } }
    route: { cluster: stable }
`);
  const r = request({ serviceName: DEMO, methodName: 'add' });
  assert.equal(clusterOf(m, r), 'stable');
  r.attachments.set('lane', 'gray');
  assert.equal(clusterOf(m, r), 'gray');
});

// --- multiple route configurations ------------------------------------------------------------

const THREE_CONFIGS = `
  - name: test1
    interface: org.apache.dubbo.demo.DemoService
    routes:
      - match:
          method:
            name: { exact: add }
            params_match:
              1: { exact_match: user_id }
        route: { cluster: user_service_dubbo_server }
  - name: test2
    interface: org.apache.dubbo.demo.FormatService
    routes:
      - match: { method: { name: { exact: format } } }
        route: { cluster: format_service }
  - name: test3
    interface: "*"
    routes:
      - match: { method: { name: { prefix: "a" } } }
        route: { cluster: fallback }
`;

test('multiple route configurations: in order, first match wins (route_config and multiple_route_config)', () => {
  const configs = THREE_CONFIGS;
  for (const yaml of [
    `stat_prefix: dubbo\nroute_config:${configs}`,
    `stat_prefix: dubbo\nmultiple_route_config:\n  name: table\n  route_config:${configs.replace(/\n/g, '\n  ')}`,
  ]) {
    const collector = new ProblemCollector();
    const table = parseDubboRouteTable(decode(DUBBO_PROXY, yaml), collector);
    assert.deepEqual(collector.problems, []);
    const m = new DubboRouteMatcher(JSON.parse(JSON.stringify(table.routeConfigs)));
    const r = request({ serviceName: DEMO, methodName: 'add', args: [undefined, 'user_id'] });
    assert.deepEqual(m.route(r, 0), { cluster: 'user_service_dubbo_server', routeConfigName: 'test1' });
    r.args = [undefined, 'other'];
    assert.deepEqual(m.route(r, 0), { cluster: 'fallback', routeConfigName: 'test3' }, 'falls through to the next configuration');
    assert.deepEqual(m.route(request({ serviceName: 'org.apache.dubbo.demo.FormatService', methodName: 'format' }), 0), {
      cluster: 'format_service',
      routeConfigName: 'test2',
    });
    assert.equal(m.route(request({ serviceName: 'org.apache.dubbo.demo.FormatService', methodName: 'parse' }), 0), undefined);
  }
  assert.equal(new DubboRouteMatcher([]).route(request({ serviceName: DEMO, methodName: 'add' }), 0), undefined);
});

test('a route configuration without routes is allowed and matches nothing', () => {
  const m = matcherFor(`name: empty\ninterface: "*"`);
  assert.equal(m.route(request({ serviceName: DEMO, methodName: 'add' }), 0), undefined);
});

test('results are cached per route', () => {
  const m = matcherFor(methodRoute('exact: add'));
  const r = request({ serviceName: DEMO, methodName: 'add' });
  const first = m.route(r, 0);
  assert.ok(first);
  assert.equal(m.route(r, 0.5), first);
  assert.ok(Object.isFrozen(first));
});

// --- weighted clusters ------------------------------------------------------------------------

const WEIGHTED = `
name: local_route
interface: ${DEMO}
routes:
  - match: { method: { name: { exact: method1 } } }
    route:
      weighted_clusters:
        clusters:
          - { name: cluster1, weight: 30 }
          - { name: cluster2, weight: 30 }
          - { name: cluster3, weight: 40 }
  - match: { method: { name: { exact: method2 } } }
    route:
      weighted_clusters:
        clusters:
          - { name: cluster1, weight: 2000 }
          - { name: cluster2, weight: 3000 }
          - { name: cluster3, weight: 5000 }
`;

test('weighted clusters are picked by cumulative weight', () => {
  const m = matcherFor(WEIGHTED);
  const r = request({ serviceName: DEMO, methodName: 'method1' });
  const at = (v: number, total: number): string | undefined => clusterOf(m, r, v / total);
  assert.equal(at(0, 100), 'cluster1');
  assert.equal(at(29, 100), 'cluster1');
  assert.equal(at(30, 100), 'cluster2');
  assert.equal(at(59, 100), 'cluster2');
  assert.equal(at(60, 100), 'cluster3');
  assert.equal(at(99, 100), 'cluster3');
  assert.equal(clusterOf(m, r, 0.999999999), 'cluster3');
  r.methodName = 'method2';
  assert.equal(at(0, 10000), 'cluster1');
  assert.equal(at(1999, 10000), 'cluster1');
  assert.equal(at(2000, 10000), 'cluster2');
  assert.equal(at(4999, 10000), 'cluster2');
  assert.equal(at(5000, 10000), 'cluster3');
  assert.equal(at(9999, 10000), 'cluster3');
  assert.deepEqual(m.route(r, 0), { cluster: 'cluster1', routeConfigName: 'local_route' });
});

test('weighted split within 3% over 10000 picks', () => {
  const m = matcherFor(WEIGHTED);
  const r = request({ serviceName: DEMO, methodName: 'method1' });
  const counts = new Map<string, number>();
  const N = 10000;
  for (let i = 0; i < N; i++) {
    const c = clusterOf(m, r, Math.random())!;
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  for (const [name, share] of [['cluster1', 0.3], ['cluster2', 0.3], ['cluster3', 0.4]] as const) {
    const got = (counts.get(name) ?? 0) / N;
    assert.ok(Math.abs(got - share) < 0.03, `${name}: ${got} vs ${share}`);
  }
});

// --- config errors ----------------------------------------------------------------------------

test('weighted clusters whose weights add up to 0 are refused', () => {
  const problems = proxyProblems(`
stat_prefix: dubbo
route_config:
  - name: zero
    interface: "*"
    routes:
      - match: { method: { name: { exact: add } } }
        route: { weighted_clusters: { clusters: [ { name: a, weight: 0 }, { name: b, weight: 0 } ] } }
`);
  assert.deepEqual(
    problems.map((p) => p.path),
    ['dubbo.route_config[0].routes[0].route.weighted_clusters.clusters'],
  );
  assert.match(problems[0]!.message, /add up to 0/);
});

test('config errors name their field paths', () => {
  const problems = proxyProblems(`
stat_prefix: dubbo
route_config:
  - name: no_interface
    routes:
      - match: { method: { name: { exact: add } } }
        route:
          weighted_clusters:
            clusters:
              - { name: a, weight: 0 }
              - { name: b }
              - { name: c, weight: 1, metadata_match: { filter_metadata: { envoy.lb: { v: 1 } } } }
  - name: bad
    interface: "*"
    routes:
      - match:
          method:
            name: { safe_regex: { regex: "(?=look)ahead" } }
            params_match:
              x: { exact_match: a }
              2: { range_match: { start: 1, end: 2 } }
          headers:
            - { name: h, safe_regex_match: { regex: "(a" } }
        route: { cluster: c, metadata_match: { filter_metadata: {} } }
      - match: { method: { name: { exact: add, ignore_case: false } } }
        route: { cluster: "" }
      - match: { method: { name: { safe_regex: { regex: "a" }, ignore_case: true } } }
        route: { cluster: c }
      - match: { headers: [] }
        route: { cluster: c }
`);
  const paths = problems.map((p) => p.path);
  const expect = (path: string, pattern: RegExp): void => {
    const found = problems.filter((p) => p.path === path);
    assert.equal(found.length, 1, `one problem at ${path}; got:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`);
    assert.match(found[0]!.message, pattern);
  };
  expect('dubbo.route_config[0].interface', /must not be empty/);
  // weight 0 is allowed, as in Envoy (a 100/0 canary split).
  assert.equal(paths.includes('dubbo.route_config[0].routes[0].route.weighted_clusters.clusters[0].weight'), false);
  expect('dubbo.route_config[0].routes[0].route.weighted_clusters.clusters[1].weight', /required/);
  expect('dubbo.route_config[0].routes[0].route.weighted_clusters.clusters[2].metadata_match', /not supported/);
  expect('dubbo.route_config[1].routes[0].match.method.name.safe_regex.regex', /look-around/);
  expect('dubbo.route_config[1].routes[0].match.method.params_match["x"]', /uint32/);
  expect('dubbo.route_config[1].routes[0].match.headers[0].safe_regex_match.regex', /invalid regex/);
  expect('dubbo.route_config[1].routes[0].route.metadata_match', /RouteAction\.metadata_match is not supported/);
  expect('dubbo.route_config[1].routes[1].route.cluster', /must not be empty/);
  expect('dubbo.route_config[1].routes[2].match.method.name.ignore_case', /ignore_case has no effect for safe_regex/);
  expect('dubbo.route_config[1].routes[3].match.method', /method name matcher/);
  assert.equal(paths.length, 10, paths.join('\n'));
});

test('route_config and multiple_route_config together are refused', () => {
  const problems = proxyProblems(`
stat_prefix: dubbo
route_config:
  - { name: a, interface: "*" }
multiple_route_config:
  name: m
  route_config:
    - { name: b, interface: "*" }
`);
  assert.deepEqual(
    problems.map((p) => p.path),
    ['dubbo.multiple_route_config'],
  );
});

test('multiple_route_config problems carry its path', () => {
  const problems = proxyProblems(`
stat_prefix: dubbo
multiple_route_config:
  name: m
  route_config:
    - name: b
      interface: ""
`);
  assert.deepEqual(
    problems.map((p) => p.path),
    ['dubbo.multiple_route_config.route_config[0].interface'],
  );
});
