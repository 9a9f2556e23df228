/**
 * Config errors as a user meets them: every problem names the field path (proto field names)
 * and the YAML line, unsupported features are refused by name, and what Envoy accepts
 * (lowerCamel names, wrappers as plain numbers, JSON) is accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/courier-harness.js';
import { loadBootstrapText, type LoadedBootstrap } from '../../src/config/bootstrap.js';
import { ConfigError, type ConfigProblem } from '../../src/config/config-error.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';

const REFERENCE_BOOTSTRAP = path.join(REPO_ROOT, 'test', 'fixtures', 'reference', 'bootstrap-example.yaml');
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const TCP_FILTER = 'static_resources.listeners[0].filter_chains[0].filters[0]';

function load(text: string, source = 'x.yaml'): LoadedBootstrap {
  return loadBootstrapText(text, source, networkFilterRegistry());
}

/** Loads `text`, which must fail with a ConfigError; returns it. */
function configError(text: string): ConfigError {
  try {
    load(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw new Error(`expected a ConfigError, got: ${String(e)}`);
  }
  assert.fail('the config loaded, but it should have been refused');
}

/** The 1-based line of the only line of `text` containing `needle`. */
function lineOf(text: string, needle: string): number {
  const lines = text.split('\n');
  const found = lines.flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  assert.equal(found.length, 1, `"${needle}" should appear exactly once in the test config`);
  return found[0]!;
}

/** The one problem at `path`; fails listing all problems when there is none. */
function problemAt(err: ConfigError, path: string): ConfigProblem {
  const found = err.problems.filter((p) => p.path === path);
  assert.equal(found.length, 1, `expected one problem at ${path}, got:\n${err.message}`);
  return found[0]!;
}

/**
 * A valid TCP proxy bootstrap; `tcp` replaces the TcpProxy body (lines indented 10 spaces),
 * `listenerExtra` and `clusterExtra` add fields (indented 4 spaces).
 */
function bootstrap(
  parts: { tcp?: string; listenerExtra?: string; clusterExtra?: string; clusterType?: string; endpoint?: string; clusters?: string } = {},
): string {
  const tcp = parts.tcp ?? '          stat_prefix: tcp_stats\n          cluster: backend';
  const cluster =
    parts.clusters ??
    `  - name: backend
    connect_timeout: 1s
    type: ${parts.clusterType ?? 'STATIC'}
${parts.clusterExtra ? `${parts.clusterExtra}\n` : ''}    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: { address: ${parts.endpoint ?? '127.0.0.1'}, port_value: 9000 }`;
  return `admin:
  address:
    socket_address: { address: 127.0.0.1, port_value: 0 }
static_resources:
  listeners:
  - name: tcp
    address:
      socket_address: { address: 127.0.0.1, port_value: 0 }
${parts.listenerExtra ? `${parts.listenerExtra}\n` : ''}    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
${tcp}
  clusters:
${cluster}
`;
}

test('the base config of these tests loads (so every refusal below is caused by its one change)', () => {
  const { config } = load(bootstrap());
  assert.equal(config.listeners.length, 1);
  assert.equal(config.listeners[0]!.name, 'tcp');
  assert.equal(config.clusters[0]!.name, 'backend');
  assert.deepEqual(config.clusters[0]!.endpoints, [{ address: '127.0.0.1', port: 9000, weight: 1 }]);
});

test('an unknown field in a listener names its path and line', () => {
  const text = bootstrap({ listenerExtra: '    foo: 1' });
  const err = configError(text);
  const p = problemAt(err, 'static_resources.listeners[0].foo');
  assert.equal(p.line, lineOf(text, 'foo: 1'));
  assert.match(p.message, /unknown field "foo"/);
  assert.match(p.message, /envoy\.config\.listener\.v3\.Listener/);
  // .message is the formatted text a user reads: `source: path (line N): message`.
  assert.match(err.message, new RegExp(`^x\\.yaml: static_resources\\.listeners\\[0\\]\\.foo \\(line ${p.line}\\): unknown field "foo"`, 'm'));
});

test('a misspelled field inside the tcp_proxy typed_config is named with its full path', () => {
  const text = bootstrap({ tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          idle_timeuot: 10s' });
  const err = configError(text);
  const p = problemAt(err, `${TCP_FILTER}.typed_config.idle_timeuot`);
  assert.equal(p.line, lineOf(text, 'idle_timeuot'));
  assert.match(p.message, /unknown field "idle_timeuot" in envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxy/);
});

test('an invalid duration is refused with the expected form', () => {
  const text = bootstrap({ tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          idle_timeout: abc' });
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.idle_timeout`);
  assert.equal(p.line, lineOf(text, 'idle_timeout: abc'));
  assert.match(p.message, /invalid duration "abc"/);
  assert.match(p.message, /"30s"/);
});

test('an unknown "@type" is refused at the @type', () => {
  const text = bootstrap().replace(TCP_PROXY, `${TCP_PROXY}Typo`);
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.@type`);
  assert.equal(p.line, lineOf(text, 'TcpProxyTypo'));
  assert.match(p.message, /unknown or unsupported type "type\.googleapis\.com\/envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxyTypo"/);
});

test('an Envoy network filter Courier does not implement is refused by name, listing the supported ones', () => {
  const redis = 'envoy.extensions.filters.network.redis_proxy.v3.RedisProxy';
  const text = bootstrap({ tcp: '          stat_prefix: redis\n          settings: { op_timeout: 5s }' }).replace(TCP_PROXY, `type.googleapis.com/${redis}`);
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.@type`);
  assert.equal(p.line, lineOf(text, 'RedisProxy'));
  assert.match(p.message, new RegExp(`network filter type ${redis.replace(/\./g, '\\.')} is not supported by Courier`));
  assert.match(p.message, /supported: envoy\.extensions\.filters\.network\.tcp_proxy\.v3\.TcpProxy/);
});

test('an empty stat_prefix breaks the proto rule min_len 1', () => {
  const text = bootstrap({ tcp: '          stat_prefix: ""\n          cluster: backend' });
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.stat_prefix`);
  assert.equal(p.line, lineOf(text, 'stat_prefix: ""'));
  assert.match(p.message, /must not be empty/);
});

test('a tcp_proxy without cluster or weighted_clusters: the required oneof is named', () => {
  const text = bootstrap({ tcp: '          stat_prefix: tcp_stats' });
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config`);
  assert.equal(p.line, lineOf(text, 'typed_config:'));
  assert.match(p.message, /one of "cluster", "weighted_clusters"/);
  assert.match(p.message, /is required/);
});

test('cluster and weighted_clusters both set: two members of one oneof', () => {
  const text = bootstrap({
    tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          weighted_clusters: { clusters: [ { name: backend, weight: 1 } ] }',
  });
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.weighted_clusters`);
  assert.equal(p.line, lineOf(text, 'weighted_clusters:'));
  assert.match(p.message, /"weighted_clusters" and "cluster" are both set/);
  assert.match(p.message, /oneof "cluster_specifier"/);
});

test('max_connect_attempts 0 breaks the proto rule gte 1', () => {
  const text = bootstrap({ tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          max_connect_attempts: 0' });
  const p = problemAt(configError(text), `${TCP_FILTER}.typed_config.max_connect_attempts`);
  assert.equal(p.line, lineOf(text, 'max_connect_attempts'));
  assert.match(p.message, /must be at least 1, got 0/);
});

test('lb_policy CLUSTER_PROVIDED is refused by name, listing the supported policies', () => {
  const text = bootstrap({ clusterExtra: '    lb_policy: CLUSTER_PROVIDED' });
  const err = configError(text);
  const p = problemAt(err, 'static_resources.clusters[0].lb_policy');
  assert.equal(p.line, lineOf(text, 'CLUSTER_PROVIDED'));
  assert.match(p.message, /lb_policy CLUSTER_PROVIDED is not supported by Courier yet/);
  assert.match(p.message, /ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV/);
  assert.equal(err.problems.length, 1);
});

test('an EDS cluster needs eds_cluster_config and takes no load_assignment; ads: {} needs ads_config', () => {
  const text = bootstrap({ clusterType: 'EDS' });
  const err = configError(text);
  assert.match(problemAt(err, 'static_resources.clusters[0].eds_cluster_config').message, /an EDS cluster needs eds_cluster_config\.eds_config/);
  const la = problemAt(err, 'static_resources.clusters[0].load_assignment');
  assert.equal(la.line, lineOf(text, 'load_assignment:'));
  assert.match(la.message, /takes its endpoints from EDS/);

  const eds = bootstrap({
    clusters: `  - name: backend
    type: EDS
    eds_cluster_config: { service_name: backend_svc, eds_config: { ads: {} } }`,
  });
  const p = problemAt(configError(eds), 'static_resources.clusters[0].eds_cluster_config.eds_config.ads');
  assert.match(p.message, /needs dynamic_resources\.ads_config/);
  const ok = load(eds.replace('eds_config: { ads: {} }', 'eds_config: { path_config_source: { path: /tmp/eds.yaml }, initial_fetch_timeout: 2s }'));
  assert.deepEqual(ok.config.clusters[0]!.eds, {
    serviceName: 'backend_svc',
    source: { kind: 'path', path: '/tmp/eds.yaml', watchedDirectory: undefined, initialFetchTimeoutMs: 2000 },
  });
  const other = problemAt(configError(bootstrap({ clusterExtra: '    eds_cluster_config: { eds_config: { ads: {} } }' })), 'static_resources.clusters[0].eds_cluster_config');
  assert.match(other.message, /only used by type: EDS/);
});

test('LOGICAL_DNS: the DNS settings are read; more than one endpoint is refused with Envoy\'s message', () => {
  const resolver = `    typed_dns_resolver_config:
      name: envoy.network.dns_resolver.cares
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig
        resolvers: [{ socket_address: { address: 127.0.0.1, port_value: 5353 } }]
    dns_refresh_rate: 2s
    respect_dns_ttl: true
    dns_lookup_family: V4_ONLY
    dns_failure_refresh_rate: { base_interval: 1s }`;
  const { config } = load(bootstrap({ clusterType: 'LOGICAL_DNS', endpoint: 'backend.example.com', clusterExtra: resolver }));
  assert.equal(config.clusters[0]!.type, 'LOGICAL_DNS');
  assert.deepEqual(config.clusters[0]!.dns, {
    refreshRateMs: 2000,
    lookupFamily: 'V4_ONLY',
    respectTtl: true,
    resolvers: [{ host: '127.0.0.1', port: 5353 }],
    failureRefreshRate: { baseMs: 1000, maxMs: 10000 },
  });
  // The deprecated dns_resolvers.
  const old = load(bootstrap({ clusterType: 'STRICT_DNS', clusterExtra: '    dns_resolvers: [{ socket_address: { address: 127.0.0.9, port_value: 53 } }]' }));
  assert.deepEqual(old.config.clusters[0]!.dns.resolvers, [{ host: '127.0.0.9', port: 53 }]);

  const two = bootstrap({ clusterType: 'LOGICAL_DNS' }).replace(
    '              socket_address: { address: 127.0.0.1, port_value: 9000 }',
    '              socket_address: { address: 127.0.0.1, port_value: 9000 }\n        - endpoint: { address: { socket_address: { address: 127.0.0.2, port_value: 9000 } } }',
  );
  const p = problemAt(configError(two), 'static_resources.clusters[0].load_assignment');
  assert.match(p.message, /LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint/);
});

test('DNS settings: bad resolver type, bad failure refresh rate and DNS fields on a STATIC cluster are refused', () => {
  const other = bootstrap({
    clusterType: 'LOGICAL_DNS',
    clusterExtra: `    typed_dns_resolver_config:
      name: envoy.network.dns_resolver.getaddrinfo
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.network.dns_resolver.getaddrinfo.v3.GetAddrInfoDnsResolverConfig`,
  });
  assert.match(problemAt(configError(other), 'static_resources.clusters[0].typed_dns_resolver_config.typed_config').message, /GetAddrInfoDnsResolverConfig is not supported by Courier yet/);
  const backwards = bootstrap({ clusterType: 'STRICT_DNS', clusterExtra: '    dns_failure_refresh_rate: { base_interval: 5s, max_interval: 2s }' });
  assert.match(
    problemAt(configError(backwards), 'static_resources.clusters[0].dns_failure_refresh_rate.max_interval').message,
    /max_interval greater than or equal to the base_interval/,
  );
  const hostnameResolver = bootstrap({ clusterType: 'STRICT_DNS', clusterExtra: '    dns_resolvers: [{ socket_address: { address: dns.example.com, port_value: 53 } }]' });
  assert.match(problemAt(configError(hostnameResolver), 'static_resources.clusters[0].dns_resolvers[0].socket_address.address').message, /malformed IP address/);
  const onStatic = bootstrap({ clusterExtra: '    dns_resolvers: [{ socket_address: { address: 127.0.0.9, port_value: 53 } }]' });
  assert.match(problemAt(configError(onStatic), 'static_resources.clusters[0].dns_resolvers').message, /only used by STRICT_DNS and LOGICAL_DNS clusters/);
});

test('load_assignment: priorities, health_status and hostname are read; policy fields are refused by name', () => {
  const text = bootstrap({
    clusters: `  - name: backend
    type: STATIC
    load_assignment:
      cluster_name: backend
      policy: { overprovisioning_factor: 140 }
      endpoints:
      - lb_endpoints:
        - { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } }, hostname: one }, health_status: HEALTHY }
        - { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 2 } } }, health_status: DRAINING, load_balancing_weight: 3 }
      - priority: 1
        lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 3 } } }`,
  });
  const p = problemAt(configError(text), 'static_resources.clusters[0].load_assignment.policy.overprovisioning_factor');
  assert.equal(p.line, lineOf(text, 'overprovisioning_factor'));
  assert.match(p.message, /ClusterLoadAssignment\.Policy\.overprovisioning_factor is not supported by Courier yet/);
  const { config } = load(text.replace('      policy: { overprovisioning_factor: 140 }\n', ''));
  assert.deepEqual(config.clusters[0]!.endpoints, [
    { address: '127.0.0.1', port: 1, weight: 1, health: 'HEALTHY', hostname: 'one' },
    { address: '127.0.0.1', port: 2, weight: 3, health: 'DRAINING' },
    { address: '127.0.0.1', port: 3, weight: 1, priority: 1 },
  ]);
});

test('typed_extension_protocol_options: HttpProtocolOptions with explicit HTTP/2 only; other fields refused by name', () => {
  const key = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
  const opts = (body: string): string =>
    bootstrap({ clusterExtra: `    typed_extension_protocol_options:\n      ${key}:\n        "@type": type.googleapis.com/${key}\n${body}` });
  const { config } = load(opts('        explicit_http_config: { http2_protocol_options: {} }'));
  assert.deepEqual(config.clusters[0]!.protocolOptions[key], { explicitProtocol: 'http2' });
  const base = `static_resources.clusters[0].typed_extension_protocol_options["${key}"]`;
  const err = configError(opts('        explicit_http_config: { http_protocol_options: {} }\n        common_http_protocol_options: { idle_timeout: 1s }'));
  assert.match(problemAt(err, `${base}.explicit_http_config.http_protocol_options`).message, /ExplicitHttpConfig\.http_protocol_options is not supported/);
  assert.match(problemAt(err, `${base}.common_http_protocol_options`).message, /HttpProtocolOptions\.common_http_protocol_options is not supported/);
  const h2 = configError(opts('        explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 10 } }'));
  assert.match(problemAt(h2, `${base}.explicit_http_config.http2_protocol_options.max_concurrent_streams`).message, /not supported/);
});

test('a STATIC cluster endpoint with a hostname is a malformed IP address (STRICT_DNS takes it)', () => {
  const text = bootstrap({ endpoint: 'backend.example.com' });
  const path = 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address';
  const p = problemAt(configError(text), path);
  assert.equal(p.line, lineOf(text, 'backend.example.com'));
  assert.match(p.message, /malformed IP address: backend\.example\.com/);
  const dns = load(bootstrap({ endpoint: 'backend.example.com', clusterType: 'STRICT_DNS' }));
  assert.equal(dns.config.clusters[0]!.endpoints[0]!.address, 'backend.example.com');
});

test('two clusters with one name: the second is refused', () => {
  const clusters = `  - name: backend
    connect_timeout: 1s
  - name: other
    connect_timeout: 1s
  - name: backend
    connect_timeout: 2s`;
  const text = bootstrap({ clusters });
  const err = configError(text);
  const p = problemAt(err, 'static_resources.clusters[2].name');
  assert.equal(p.line, text.split('\n').lastIndexOf('  - name: backend') + 1);
  assert.match(p.message, /duplicate cluster 'backend'/);
  assert.equal(err.problems.length, 1);
});

test('a maglev table_size that is not prime is refused', () => {
  const text = bootstrap({ clusterExtra: '    lb_policy: MAGLEV\n    maglev_lb_config: { table_size: 65536 }' });
  const p = problemAt(configError(text), 'static_resources.clusters[0].maglev_lb_config.table_size');
  assert.equal(p.line, lineOf(text, 'table_size'));
  assert.match(p.message, /table_size 65536 must be a prime number/);
  // and a prime one loads
  assert.equal(load(text.replace('65536', '65537')).config.clusters[0]!.lb.tableSize, 65537);
});

test('an unknown access log operator is refused at the format, naming the operator', () => {
  const tcp = `          stat_prefix: tcp_stats
          cluster: backend
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: /dev/null
              log_format:
                text_format_source:
                  inline_string: "%FOO% %BYTES_SENT%"`;
  const text = bootstrap({ tcp });
  const err = configError(text);
  assert.equal(err.problems.length, 1, err.message);
  const p = err.problems[0]!;
  // The path is where the user wrote the format, not the deprecated `format` field.
  assert.equal(p.path, `${TCP_FILTER}.typed_config.access_log[0].typed_config.log_format.text_format_source.inline_string`);
  assert.equal(p.line, lineOf(text, '%FOO%'));
  assert.match(p.message, /unknown access log operator %FOO%/);

  // In a JSON format, the path goes down to the key holding the bad operator.
  const json = bootstrap({ tcp: tcp.replace(/text_format_source:\n\s+inline_string: .*/, 'json_format:\n                  bytes: "%BYTES_SENT%"\n                  who: "%FOO%"') });
  const j = configError(json).problems;
  assert.deepEqual(
    j.map((x) => [x.path, x.line]),
    [[`${TCP_FILTER}.typed_config.access_log[0].typed_config.log_format.json_format.who`, lineOf(json, '%FOO%')]],
  );
});

test('several problems in one file are reported together, each with its own path and line', () => {
  const text = bootstrap({
    tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          idle_timeout: soon\n          max_connect_attempts: 0',
    listenerExtra: '    bar: true',
  });
  const err = configError(text);
  const paths = err.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'static_resources.listeners[0].bar',
    `${TCP_FILTER}.typed_config.idle_timeout`,
    `${TCP_FILTER}.typed_config.max_connect_attempts`,
  ].sort());
  for (const p of err.problems) assert.ok(p.line, `${p.path} has a line`);
  assert.equal(err.message.split('\n').length, 3);
  assert.match(err.message, new RegExp(`\\(line ${lineOf(text, 'idle_timeout: soon')}\\): invalid duration "soon"`));
  assert.match(err.message, new RegExp(`\\(line ${lineOf(text, 'bar: true')}\\): unknown field "bar"`));
});

test('lowerCamel field names are accepted, as in Envoy\'s JSON', () => {
  const text = bootstrap({
    tcp: `          statPrefix: camel
          cluster: backend
          idleTimeout: 7s
          maxConnectAttempts: 2`,
    listenerExtra: '    perConnectionBufferLimitBytes: 65536',
    clusterExtra: '    lbPolicy: LEAST_REQUEST\n    leastRequestLbConfig: { choiceCount: 3 }',
  }).replace('connect_timeout: 1s', 'connectTimeout: 2.5s');
  const { config } = load(text);
  const l = config.listeners[0]!;
  assert.equal(l.bufferLimitBytes, 65536);
  const tcp = l.filterChains[0]!.filters[0]!.config as { statPrefix: string; idleTimeoutMs: number; maxConnectAttempts: number };
  assert.equal(tcp.statPrefix, 'camel');
  assert.equal(tcp.idleTimeoutMs, 7000);
  assert.equal(tcp.maxConnectAttempts, 2);
  const c = config.clusters[0]!;
  assert.equal(c.connectTimeoutMs, 2500);
  assert.equal(c.lb.policy, 'LEAST_REQUEST');
  assert.equal(c.lb.choiceCount, 3);
});

test('with lowerCamel names, a refused value still names the right line', () => {
  const text = bootstrap({ clusterExtra: '    lbPolicy: CLUSTER_PROVIDED' });
  const err = configError(text);
  assert.equal(err.problems.length, 1, err.message);
  assert.match(err.problems[0]!.message, /lb_policy CLUSTER_PROVIDED is not supported/);
  assert.equal(err.problems[0]!.line, lineOf(text, 'lbPolicy: CLUSTER_PROVIDED'));
});

test('a JSON bootstrap loads; its errors have paths and lines', () => {
  const json = {
    static_resources: {
      listeners: [
        {
          name: 'tcp',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [{ filters: [{ name: 'tcp', typed_config: { '@type': TCP_PROXY, stat_prefix: 'j', cluster: 'backend', idle_timeout: '0.5s' } }] }],
        },
      ],
      clusters: [{ name: 'backend', connect_timeout: '1s' }],
    },
  };
  const { config } = load(JSON.stringify(json), 'x.json');
  assert.equal(config.listeners[0]!.name, 'tcp');
  assert.equal((config.listeners[0]!.filterChains[0]!.filters[0]!.config as { idleTimeoutMs: number }).idleTimeoutMs, 500);
  assert.equal(config.clusters[0]!.connectTimeoutMs, 1000);

  json.static_resources.clusters[0]!.connect_timeout = 'forever';
  let err: unknown;
  try {
    load(JSON.stringify(json, null, 2), 'x.json');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, String(err));
  const p = problemAt(err, 'static_resources.clusters[0].connect_timeout');
  const text = JSON.stringify(json, null, 2);
  assert.equal(p.line, lineOf(text, '"forever"'));
  assert.equal(err.message, `x.json: static_resources.clusters[0].connect_timeout (line ${p.line}): ${p.message}`);
});

test('wrapper fields take plain numbers', () => {
  const text = bootstrap({
    tcp: '          stat_prefix: tcp_stats\n          cluster: backend\n          max_connect_attempts: 3',
    listenerExtra: '    per_connection_buffer_limit_bytes: 32768',
    clusterExtra: `    per_connection_buffer_limit_bytes: 16384
    circuit_breakers: { thresholds: [ { max_connections: 7, max_pending_requests: 8 } ] }`,
  });
  const { config } = load(text);
  assert.equal((config.listeners[0]!.filterChains[0]!.filters[0]!.config as { maxConnectAttempts: number }).maxConnectAttempts, 3);
  assert.equal(config.listeners[0]!.bufferLimitBytes, 32768);
  assert.equal(config.clusters[0]!.bufferLimitBytes, 16384);
  assert.equal(config.clusters[0]!.circuitBreakers.maxConnections, 7);
  assert.equal(config.clusters[0]!.circuitBreakers.maxPendingRequests, 8);
  // A wrapper given a non-number is refused like its scalar.
  const bad = text.replace('max_connect_attempts: 3', 'max_connect_attempts: three');
  const p = problemAt(configError(bad), `${TCP_FILTER}.typed_config.max_connect_attempts`);
  assert.match(p.message, /expected an integer/);
});

test('the reference bootstrap loads: EDS over ADS, CDS over ADS, LDS from a file, the xDS cluster\'s HTTP/2 options', () => {
  const { config } = load(readFileSync(REFERENCE_BOOTSTRAP, 'utf8'));
  assert.deepEqual(config.clusters.map((c) => [c.name, c.type]), [
    ['backend_tcp', 'STATIC'],
    ['dubbo_v1', 'STRICT_DNS'],
    ['dubbo_canary', 'EDS'],
    ['xds_cluster', 'STATIC'],
  ]);
  assert.deepEqual(config.clusters[2]!.eds, { serviceName: 'dubbo_canary', source: { kind: 'ads', initialFetchTimeoutMs: 15000 } });
  assert.deepEqual(config.ads, { clusterName: 'xds_cluster', host: '127.0.0.1', port: 18000, target: '127.0.0.1:18000' });
  assert.deepEqual(config.cds, { kind: 'ads', initialFetchTimeoutMs: 15000 });
  assert.deepEqual(config.lds, { kind: 'path', path: '/etc/proxy/lds.yaml', watchedDirectory: undefined, initialFetchTimeoutMs: 15000 });
});

test('dynamic_resources: lds_config / cds_config need ads_config for ads: {}, name a static cluster for api_config_source; locators refused', () => {
  const text = `${bootstrap()}
dynamic_resources:
  lds_config: { ads: {} }
  cds_config:
    api_config_source: { api_type: GRPC, transport_api_version: V3, grpc_services: [ { envoy_grpc: { cluster_name: nowhere } } ] }
  cds_resources_locator: xdstp://example/envoy.config.cluster.v3.Cluster/*
`;
  const err = configError(text);
  assert.match(problemAt(err, 'dynamic_resources.lds_config.ads').message, /needs dynamic_resources\.ads_config/);
  const cds = problemAt(err, 'dynamic_resources.cds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name');
  assert.equal(cds.line, lineOf(text, 'cluster_name: nowhere'));
  assert.match(problemAt(err, 'dynamic_resources.cds_resources_locator').message, /xdstp.*not supported by Courier yet; use cds_config/);
  assert.equal(err.problems.length, 3, err.message);
  const ok = load(text.replace('nowhere', 'backend').replace(/\n  cds_resources_locator.*\n/, '\n').replace('lds_config: { ads: {} }', 'lds_config: { path: /tmp/lds.yaml }'));
  assert.equal(ok.config.cds?.kind, 'grpc');
  assert.deepEqual(ok.config.lds, { kind: 'path', path: '/tmp/lds.yaml', initialFetchTimeoutMs: 15000 });
});

test('a YAML syntax error names its line', () => {
  const text = bootstrap().replace('    filter_chains:', '    filter_chains: [ {\n    oops');
  const err = configError(text);
  assert.ok(err.problems.length >= 1);
  const p = err.problems[0]!;
  assert.match(p.message, /invalid YAML/);
  assert.ok(p.line !== undefined && p.line >= lineOf(text, 'filter_chains: [ {'), err.message);
  assert.match(err.message, /^x\.yaml: <root> \(line \d+\): invalid YAML/);
});

test('a duplicate YAML key: the last one wins, with a warning naming both lines (as Envoy loads YAML)', () => {
  const text = bootstrap({ tcp: '          stat_prefix: tcp_stats\n          cluster: other\n          cluster: backend' });
  const loaded = load(text);
  assert.equal((loaded.config.listeners[0]!.filterChains[0]!.filters[0]!.config as { cluster: string }).cluster, 'backend');
  assert.deepEqual(loaded.warnings, [
    `x.yaml: ${TCP_FILTER}.typed_config.cluster (line ${lineOf(text, 'cluster: backend')}): key "cluster" appears more than once in this map (also on line ${lineOf(text, 'cluster: other')}); the last one is used`,
  ]);
});

test('meta_protocol_proxy: bad codecs, filters, matchers and rate limits are refused with their field paths', () => {
  const text = `static_resources:
  listeners:
  - name: meta
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: courier.meta_protocol_proxy
        typed_config:
          "@type": type.googleapis.com/courier.meta_protocol_proxy.v1.MetaProtocolProxy
          stat_prefix: meta
          protocol: { name: x, codec: { name: courier.meta_protocol.codec.thrift, config: { transport: carrier-pigeon } } }
          route_config:
            name: r
            routes:
            - match: { metadata: [ { name: method, string_match: { safe_regex: { regex: "(" } } } ] }
              route: { cluster: backend, retry_policy: { retry_on: 5xx } }
          meta_protocol_filters:
          - name: courier.meta_protocol.filters.router
          - name: courier.meta_protocol.filters.local_ratelimit
            config:
              "@type": type.googleapis.com/courier.meta_protocol_proxy.filters.local_ratelimit.v1.LocalRateLimit
              stat_prefix: rl
              token_bucket: { max_tokens: 1, fill_interval: 0.01s }
          - name: aeraki.meta_protocol.filters.global_ratelimit
  clusters:
  - name: backend
    connect_timeout: 1s
    type: STATIC
    load_assignment: { cluster_name: backend, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } } ] } ] }
`;
  const err = configError(text);
  const base = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
  assert.match(problemAt(err, `${base}.protocol.codec.config`).message, /carrier-pigeon/);
  assert.match(problemAt(err, `${base}.route_config.routes[0].match.metadata[0].string_match.safe_regex.regex`).message, /./);
  assert.match(problemAt(err, `${base}.route_config.routes[0].route.retry_policy.retry_on`).message, /only on connect-failure/);
  assert.match(problemAt(err, `${base}.meta_protocol_filters[0].name`).message, /router must be the last/);
  assert.match(problemAt(err, `${base}.meta_protocol_filters[1].config.token_bucket.fill_interval`).message, /at least 50ms/);
  assert.match(problemAt(err, `${base}.meta_protocol_filters[2].name`).message, /unknown MetaProtocol filter "aeraki.meta_protocol.filters.global_ratelimit"/);
  assert.equal(problemAt(err, `${base}.protocol.codec.config`).line, lineOf(text, 'carrier-pigeon'));
});
