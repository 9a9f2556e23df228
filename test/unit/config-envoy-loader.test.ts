/**
 * Config read as Envoy's loader (MessageUtil::loadFromYaml/loadFromJson) reads it: the lenient
 * forms Envoy accepts are accepted, the kinds of listener Courier does not run are refused by
 * name, and one run lists every problem with a message that helps (issue 10, points 1-11).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBootstrapText, type BootstrapLoadOptions, type LoadedBootstrap } from '../../src/config/bootstrap.js';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfigText } from '../../src/config/config-source-file.js';
import { mergeProtoJson } from '../../src/config/proto-merge.js';
import { protoRoot } from '../../src/config/proto-registry.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';
import { resourceTypeFor } from '../../src/xds/resource-type.js';
import { parseDiscoveryFile } from '../../src/xds/subscription-file.js';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

function load(text: string, options: BootstrapLoadOptions = {}, source = 'x.yaml'): LoadedBootstrap {
  return loadBootstrapText(text, source, networkFilterRegistry(), options);
}

function refused(text: string, options: BootstrapLoadOptions = {}, source = 'x.yaml'): ConfigError {
  try {
    load(text, options, source);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('the config loaded, but it should have been refused');
}

function lineOf(text: string, needle: string): number {
  const found = text.split('\n').flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  assert.equal(found.length, 1, `"${needle}" should appear once in the config`);
  return found[0]!;
}

/** A TCP proxy bootstrap; `listener` replaces the listener entry, `cluster` adds Cluster fields (4 spaces in). */
function tcpBootstrap(parts: { listener?: string; cluster?: string; tail?: string } = {}): string {
  const listener =
    parts.listener ??
    `  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: tcp
          cluster: backend`;
  return `static_resources:
  listeners:
${listener}
  clusters:
  - name: backend
    connect_timeout: 1s
    type: STATIC
${parts.cluster ? `${parts.cluster}\n` : ''}    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9000 } } }
${parts.tail ?? ''}`;
}

// 1. A single value where a repeated field is expected.

test('1: a single value for a repeated field is a list of one (listeners, filter_chains, filters, endpoints), as Envoy reads it', () => {
  const text = `static_resources:
  listeners:
    name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
      filters:
        name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: tcp
          weighted_clusters:
            clusters: { name: backend, weight: 1 }
  clusters:
    name: backend
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: backend
      endpoints:
        lb_endpoints:
          endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9000 } } }
`;
  const { config } = load(text);
  assert.equal(config.listeners.length, 1);
  assert.equal(config.listeners[0]!.filterChains[0]!.filters[0]!.name, 'envoy.filters.network.tcp_proxy');
  // Inside the Any-typed filter config too.
  assert.deepEqual((config.listeners[0]!.filterChains[0]!.filters[0]!.config as { weightedClusters: unknown }).weightedClusters, [{ name: 'backend', weight: 1 }]);
  assert.deepEqual(config.clusters[0]!.endpoints, [{ address: '127.0.0.1', port: 9000, weight: 1 }]);
});

test('1: a problem inside a single-value list names the line of the value', () => {
  const text = tcpBootstrap({
    listener: `    name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
      filters:
        name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: tcp
          cluster: backend
          idle_timeout: soon`,
  });
  const err = refused(text);
  const p = err.problems.find((q) => q.path === 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.idle_timeout');
  assert.ok(p, err.message);
  assert.equal(p.line, lineOf(text, 'idle_timeout: soon'));
});

test('1: an xDS file may give one resource, and single values inside it, without a list', () => {
  const text = `version_info: "1"
resources:
  "@type": ${RDS}
  name: routes
  virtual_hosts:
    name: all
    domains: "*"
    routes: { match: { prefix: / }, route: { cluster: backend } }
`;
  const parsed = parseDiscoveryFile(text, 'routes.yaml', resourceTypeFor(RDS)!);
  assert.ok(!('error' in parsed), 'error' in parsed ? parsed.error : '');
  assert.equal(parsed.resources.length, 1);
  const vh = (parsed.resources[0]!.resource['virtual_hosts'] as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual(vh['domains'], ['*']);
  assert.equal((vh['routes'] as unknown[]).length, 1);
});

// 2. Enum names in any case.

test('2: enum names are case-insensitive (strict_dns, round_robin), as Envoy parses them', () => {
  const { config } = load(tcpBootstrap({ cluster: '    lb_policy: round_robin' }).replace('type: STATIC', 'type: strict_dns'));
  assert.equal(config.clusters[0]!.type, 'STRICT_DNS');
});

test('2: an unknown enum name is refused listing the valid names', () => {
  const text = tcpBootstrap().replace('type: STATIC', 'type: STATICK');
  const p = refused(text).problems.find((q) => q.path === 'static_resources.clusters[0].type');
  assert.ok(p);
  assert.match(p.message, /unknown value "STATICK" for enum envoy\.config\.cluster\.v3\.Cluster\.DiscoveryType \(valid names: STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST\)/);
  assert.equal(p.line, lineOf(text, 'STATICK'));
});

// 3. Duplicate keys: the last wins (see also config.test.ts).

test('3: a duplicate key inside a list item keeps the last value and warns with its line', () => {
  const text = tcpBootstrap({ cluster: '    connect_timeout: 2s' });
  const loaded = load(text);
  assert.equal(loaded.config.clusters[0]!.connectTimeoutMs, 2000);
  assert.equal(loaded.warnings.length, 1);
  assert.match(loaded.warnings[0]!, new RegExp(`static_resources\\.clusters\\[0\\]\\.connect_timeout \\(line ${lineOf(text, 'connect_timeout: 2s')}\\): key "connect_timeout" appears more than once in this map \\(also on line ${lineOf(text, 'connect_timeout: 1s')}\\); the last one is used`));
});

// 4. !ignore.

test('4: keys tagged !ignore are dropped, and their anchors serve aliases elsewhere', () => {
  const text = `!ignore endpoints: &backend_address { socket_address: { address: 127.0.0.1, port_value: 9000 } }
${tcpBootstrap().replace('{ address: { socket_address: { address: 127.0.0.1, port_value: 9000 } } }', '{ address: *backend_address }')}`;
  const loaded = load(text);
  assert.deepEqual(loaded.config.clusters[0]!.endpoints, [{ address: '127.0.0.1', port: 9000, weight: 1 }]);
  assert.equal((loaded.raw as Record<string, unknown>)['endpoints'], undefined);
  assert.deepEqual(loaded.warnings, []);
});

test('4: an !ignore key inside a message is dropped too (not an unknown field)', () => {
  const { config } = load(tcpBootstrap({ cluster: '    !ignore notes: { owner: team-a }' }));
  assert.equal(config.clusters[0]!.name, 'backend');
});

// 5. transport_api_version.

function adsBootstrap(apiConfigSource: string): string {
  return `dynamic_resources:
  ads_config: { api_type: GRPC, ${apiConfigSource}grpc_services: [ { envoy_grpc: { cluster_name: xds } } ] }
  cds_config: { ads: {} }
static_resources:
  clusters:
  - name: xds
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: xds
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } }
`;
}

test('5: transport_api_version unset (AUTO) means V3; V3 loads; only an explicit V2 is refused', () => {
  assert.ok(load(adsBootstrap('')).config.ads);
  assert.ok(load(adsBootstrap('transport_api_version: AUTO, ')).config.ads);
  assert.ok(load(adsBootstrap('transport_api_version: V3, ')).config.ads);
  const err = refused(adsBootstrap('transport_api_version: V2, '));
  assert.equal(err.problems.length, 1, err.message);
  assert.equal(err.problems[0]!.path, 'dynamic_resources.ads_config.transport_api_version');
  assert.match(err.problems[0]!.message, /the V2 xDS transport protocol is not supported/);
});

// 6. Well-known types in an Any.

test('6: an Any holding a wrapper, Struct, Duration, Value or Empty in proto3 JSON form is accepted', () => {
  const text = tcpBootstrap({
    cluster: `    metadata:
      typed_filter_metadata:
        a: { "@type": type.googleapis.com/google.protobuf.StringValue, value: x }
        b: { "@type": type.googleapis.com/google.protobuf.UInt32Value, value: 7 }
        c: { "@type": type.googleapis.com/google.protobuf.BoolValue, value: true }
        d: { "@type": type.googleapis.com/google.protobuf.Struct, value: { k: [1, "two"] } }
        e: { "@type": type.googleapis.com/google.protobuf.Duration, value: 1.5s }
        f: { "@type": type.googleapis.com/google.protobuf.Value, value: null }
        g: { "@type": type.googleapis.com/google.protobuf.Empty }
        h: { "@type": type.googleapis.com/google.protobuf.Timestamp, value: "2024-01-01T00:00:00Z" }`,
  });
  assert.equal(load(text).config.clusters[0]!.name, 'backend');
});

test('6: a wrapper in an Any with the wrong JSON type is refused at its value', () => {
  const text = tcpBootstrap({
    cluster: `    metadata:
      typed_filter_metadata:
        a: { "@type": type.googleapis.com/google.protobuf.UInt32Value, value: seven }`,
  });
  const err = refused(text);
  assert.equal(err.problems[0]!.path, 'static_resources.clusters[0].metadata.typed_filter_metadata["a"].value', err.message);
  assert.match(err.problems[0]!.message, /expected an integer/);
});

// 7. Listener kinds refused by name.

const LISTENER_KINDS: Array<{ what: string; listener: string; path: string; message: RegExp }> = [
  {
    what: 'a UDP socket address',
    listener: `  - name: udp
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: 0 } }`,
    path: 'static_resources.listeners[0].address.socket_address.protocol',
    message: /^UDP listeners are not supported by Courier yet/,
  },
  {
    what: 'udp_listener_config (QUIC)',
    listener: `  - name: quic
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    udp_listener_config: { quic_options: {} }`,
    path: 'static_resources.listeners[0].udp_listener_config',
    message: /^UDP listeners \(udp_listener_config\) are not supported by Courier yet/,
  },
  {
    what: 'an internal listener',
    listener: `  - name: internal
    internal_listener: {}`,
    path: 'static_resources.listeners[0].internal_listener',
    message: /^internal listeners \(internal_listener\) are not supported by Courier yet/,
  },
  {
    what: 'an envoy_internal_address',
    listener: `  - name: internal
    address: { envoy_internal_address: { server_listener_name: x } }`,
    path: 'static_resources.listeners[0].address.envoy_internal_address',
    message: /^internal listeners \(an envoy_internal_address\) are not supported by Courier yet/,
  },
  {
    what: 'an API listener',
    listener: `  - name: api
    api_listener:
      api_listener:
        "@type": ${HCM}
        stat_prefix: api
        route_config: { name: r }
        http_filters: [ { name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ]`,
    path: 'static_resources.listeners[0].api_listener',
    message: /^API listeners \(api_listener, an in-process HTTP connection manager\) are not supported by Courier yet/,
  },
  {
    what: 'a pipe address',
    listener: `  - name: uds
    address: { pipe: { path: /tmp/courier.sock } }`,
    path: 'static_resources.listeners[0].address.pipe',
    message: /^Unix domain socket listeners \(address\.pipe\) are not supported by Courier yet/,
  },
];

for (const kind of LISTENER_KINDS) {
  test(`7: ${kind.what} is refused by name, with no message about addresses or filter chains`, () => {
    const text = tcpBootstrap({ listener: kind.listener });
    const err = refused(text);
    assert.equal(err.problems.length, 1, err.message);
    assert.equal(err.problems[0]!.path, kind.path);
    assert.match(err.problems[0]!.message, kind.message);
    assert.doesNotMatch(err.message, /filter chain|address is required/);
  });
}

// 8. Every problem in one run.

test('8: decode errors and unsupported features of one file are listed together', () => {
  const text = tcpBootstrap({
    cluster: '    conect_timeout: 1s',
    tail: `  secrets:
  - name: s`,
  }).replace(
    `  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }`,
    `  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0, protocol: UDP }`,
  );
  const err = refused(text);
  const paths = err.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'static_resources.clusters[0].conect_timeout',
    'static_resources.listeners[0].address.socket_address.protocol',
    'static_resources.secrets',
  ], err.message);
});

test('8: a translator\'s echo of a decode error (the same listener) is not listed', () => {
  const text = tcpBootstrap().replace('stat_prefix: tcp', 'stat_prefix: tcp\n          idle_timeout: never');
  const err = refused(text);
  assert.deepEqual(err.problems.map((p) => p.path), ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.idle_timeout'], err.message);
});

// 10. Messages.

test('10: an unknown field suggests the nearest known one', () => {
  const err = refused(tcpBootstrap({ cluster: '    conect_timeout: 1s' }));
  assert.match(err.message, /unknown field "conect_timeout" in envoy\.config\.cluster\.v3\.Cluster \(did you mean connect_timeout\?\)/);
  const far = refused(tcpBootstrap({ cluster: '    zzzzzz: 1' }));
  assert.doesNotMatch(far.message, /did you mean/);
  // lowerCamel typos are compared in snake_case.
  assert.match(refused(tcpBootstrap({ cluster: '    connectTimeot: 1s' })).message, /did you mean connect_timeout\?/);
});

test('10: a YAML syntax error quotes the offending line', () => {
  const text = tcpBootstrap().replace('    type: STATIC', '    type: STATIC: oops');
  const err = refused(text);
  assert.equal(err.problems[0]!.line, lineOf(text, 'STATIC: oops'));
  assert.match(err.problems[0]!.message, /^invalid YAML: .*\(column \d+\): "    type: STATIC: oops"$/);
});

test('10: a JSON syntax error names its line and quotes it; JSON problems name lines', () => {
  const text = '{\n  "static_resources": {\n    "clusters": [ { "name": "a" "type": "STATIC" } ]\n  }\n}\n';
  const err = refused(text, {}, 'x.json');
  assert.equal(err.problems[0]!.line, 3);
  assert.match(err.problems[0]!.message, /^invalid JSON: .*"    \\"clusters\\": \[ \{ \\"name\\": \\"a\\" \\"type\\": \\"STATIC\\" \} \]"$/);
  const bad = JSON.stringify({ static_resources: { clusters: [{ name: 'a', connect_timeout: 'soon' }] } }, null, 2);
  const p = refused(bad, {}, 'x.json').problems.find((q) => q.path === 'static_resources.clusters[0].connect_timeout');
  assert.equal(p?.line, lineOf(bad, '"soon"'));
});

test('10: an empty config loads with a warning', () => {
  for (const text of ['', '# nothing here\n', '{}']) {
    const loaded = load(text);
    assert.deepEqual(loaded.config.listeners, []);
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /the config is empty/);
  }
});

function hcmBootstrap(routes: string, validateClusters = ''): string {
  return tcpBootstrap({
    listener: `  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": ${HCM}
          stat_prefix: http
          http_filters: [ { name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } } ]
          route_config:
            name: local${validateClusters}
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes}`,
  });
}

test('10: a route naming an unknown cluster is an error when serving, with the route\'s line; a warning under --mode validate', () => {
  const text = hcmBootstrap(`              - match: { prefix: /a }
                route: { cluster: backend }
              - match: { prefix: /b }
                route: { cluster: nowhere }
              - match: { prefix: /c }
                route: { weighted_clusters: { clusters: [ { name: backend, weight: 1 }, { name: elsewhere, weight: 1 } ] } }`);
  const err = refused(text);
  assert.deepEqual(
    err.problems.map((p) => [p.path, p.line]),
    [
      ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster', lineOf(text, 'cluster: nowhere')],
      ['static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[2].route.weighted_clusters.clusters[1].name', lineOf(text, 'elsewhere')],
    ],
    err.message,
  );
  const validated = load(text, { validateOnly: true });
  assert.equal(validated.warnings.length, 2);
  assert.match(validated.warnings[0]!, new RegExp(`routes\\[1\\]\\.route\\.cluster \\(line ${lineOf(text, 'cluster: nowhere')}\\): no cluster named 'nowhere' is configured`));
  // validate_clusters: false: nothing to say.
  assert.deepEqual(load(text.replace('name: local', 'name: local\n            validate_clusters: false')).warnings, []);
});

test('10: tcp_proxy naming an unknown cluster loads (as Envoy), with a warning under --mode validate only', () => {
  const text = tcpBootstrap().replace('cluster: backend', 'cluster: nowhere');
  assert.deepEqual(load(text).warnings, []);
  const w = load(text, { validateOnly: true }).warnings;
  assert.equal(w.length, 1);
  assert.match(w[0]!, new RegExp(`typed_config\\.cluster \\(line ${lineOf(text, 'cluster: nowhere')}\\): no cluster named 'nowhere' is configured`));
});

// 11. --config-yaml over -c.

test('11: the overlay merges as protobuf MergeFrom: scalars replace, messages merge, lists append, a oneof member replaces the other', () => {
  const type = protoRoot().lookupType('envoy.config.bootstrap.v3.Bootstrap');
  const base = {
    node: { id: 'a', cluster: 'c' },
    static_resources: { clusters: [{ name: 'one', type: 'STATIC' }] },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 9901 } } },
  };
  const overlay = {
    node: { id: 'b' },
    staticResources: { clusters: { name: 'two' } },
    admin: { address: { pipe: { path: '/tmp/a' } } },
  };
  assert.deepEqual(mergeProtoJson(type, base, overlay), {
    node: { id: 'b', cluster: 'c' },
    staticResources: { clusters: [{ name: 'one', type: 'STATIC' }, { name: 'two' }] },
    admin: { address: { pipe: { path: '/tmp/a' } } },
  });
});

test('11: a problem in the overlay names --config-yaml and its line', () => {
  const err = refused(tcpBootstrap(), { overlayYaml: 'node:\n  id: x\n  clustr: y\n' });
  assert.equal(err.problems.length, 1);
  assert.match(err.message, /^--config-yaml: node\.clustr \(line 3\): unknown field "clustr" in envoy\.config\.core\.v3\.Node \(did you mean cluster\?\)/);
});

test('JSON line numbers are computed only when a problem needs one (the JSON hot path stays JSON.parse)', () => {
  const doc = parseConfigText('{"a": {"b": 1}}', 'x.json');
  assert.deepEqual(doc.value, { a: { b: 1 } });
  assert.equal(doc.lineOf('a.b'), 1);
});
