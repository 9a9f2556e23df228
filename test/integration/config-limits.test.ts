/**
 * Config nested too deep, from each live source, is refused with the limit, the path and (for
 * files) the line, the last good routes keep serving and main keeps running: a watched RDS
 * file (the real `courier` command, because the failure was main dying in the file
 * subscription's timer) and RDS over gRPC from the repo's management server (a NACK with the
 * reason in error_detail), and a bootstrap through `courier --mode validate`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer } from '../../src/xds/server/xds-server.js';
import { ADMIN_YAML } from '../support/configs.js';
import { COURIER_BIN, eventually, httpRequest, startCourier, tmpDir } from '../support/courier-harness.js';
import { atomicWrite, discoveryFile } from '../support/xds-resources.js';

const RDS = ROUTE_CONFIGURATION.typeUrl;

/** `{a: {a: ... "x" ...}}`, `levels` objects deep. */
function nested(levels: number): Record<string, unknown> {
  let v: unknown = 'x';
  for (let i = 0; i < levels; i++) v = { a: v };
  return v as Record<string, unknown>;
}

/** Routes everything to `cluster`; `perFilter` becomes the virtual host's typed_per_filter_config. */
function routeConfig(version: string, cluster: string, perFilter?: unknown): Record<string, unknown> {
  return {
    '@type': RDS,
    name: 'local_route',
    response_headers_to_add: [{ header: { key: 'x-rev', value: version } }],
    virtual_hosts: [
      {
        name: 'vh',
        domains: ['*'],
        ...(perFilter ? { typed_per_filter_config: { 'envoy.filters.http.example': perFilter } } : {}),
        routes: [{ match: { prefix: '/' }, route: { cluster } }],
      },
    ],
  };
}

/** A Struct nested `levels` deep, as an Any. */
const deepStruct = (levels: number): Record<string, unknown> => ({ '@type': 'type.googleapis.com/google.protobuf.Struct', value: nested(levels) });

/**
 * `links` route FilterConfigs, each holding the next in its Any (one level of objects, two of
 * messages per link). Every Any encodes on its own, so the management server's encoder never
 * goes deep; before the limits, 600 links overflowed the stack on main.
 */
function filterConfigChain(links: number): Record<string, unknown> {
  let chain = deepStruct(1);
  for (let i = 0; i < links; i++) chain = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', config: chain };
  return chain;
}

async function backend(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function bootstrap(rdsSource: string, backendPort: number, extraClusters = ''): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          rds:
            route_config_name: local_route
            config_source: ${rdsSource}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${backendPort} } } } } ] } ]${extraClusters}
`;
}

async function rev(port: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? (res.headers['x-rev'] as string) : `status ${res.statusCode}`));
      })
      .on('error', reject);
  });
}

test('a watched RDS file replaced by a resource nested 600 deep (typed_per_filter_config) is rejected with the limit, path and line; old routes serve, main lives', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'rds.yaml');
  const { default: YAML } = await import('yaml');
  // Block style, as people write these files: each level on its own line.
  const write = (version: string, perFilter?: unknown): void => atomicWrite(file, YAML.stringify({ version_info: version, resources: [routeConfig(version, 'backend', perFilter)] }));
  write('1');
  const up = await backend();
  const courier = await startCourier(bootstrap(`{ resource_api_version: V3, path_config_source: { path: ${JSON.stringify(file)} } }`, up.port), { processes: 1 });
  try {
    const port = await courier.listenerPort('http');
    assert.equal(await rev(port), '1');
    write('2', filterConfigChain(600));
    await eventually(async () => (await courier.stat('http.ingress.rds.local_route.update_rejected')) === 1, 'the deep file rejected');
    assert.equal(courier.child!.exitCode, null, courier.output());
    // The reason names the file, the path into the resource, the line and the limit.
    assert.match(
      courier.output(),
      /rds\.yaml: resources\[0\]\.virtual_hosts\[0\]\.typed_per_filter_config\.envoy\.filters\.http\.example(\.config){94} \(line \d+\): nested deeper than 100 levels of objects and lists \(the config nesting limit\)/,
    );
    assert.equal(await rev(port), '1');
    assert.equal((await httpRequest(courier.adminPort, '/ready')).status, 200);
    // A good file after it still applies.
    write('3');
    await eventually(async () => (await rev(port)) === '3', 'the next good file applied');
  } finally {
    await courier.stop();
    await up.close();
  }
});

test('RDS over gRPC nested too deep: NACK with the limit and path in error_detail, last good routes kept', async () => {
  const up = await backend();
  const server = await startXdsServer({ port: 0, resources: [routeConfig('1', 'backend')] });
  const xdsCluster = `
  - name: xds_cluster
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: xds_cluster
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${server.port} } } } } ] } ]
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ]`;
  const courier = await startCourier(bootstrap('{ resource_api_version: V3, ads: {} }', up.port, xdsCluster));
  try {
    const port = await courier.listenerPort('http');
    assert.equal(await rev(port), '1');
    // 1,200 levels of messages.
    server.setResources(RDS, [routeConfig('2', 'backend', filterConfigChain(600))]);
    const nack = await server.waitFor('nack', (e) => e.typeUrl === RDS);
    assert.match(
      nack.errorDetail!.message,
      /^resources\[0\]\.virtual_hosts\[0\]\.typed_per_filter_config(\.config)+: protobuf messages nested deeper than 100 levels \(the limit for protobuf input\)$/,
    );
    // A resource nested past the JSON limit but not the protobuf one: a matcher tree 21 deep
    // (5 levels of objects and lists per step, 4 of messages: 109 and 89 in all).
    let matcher: Record<string, unknown> = { matcher_list: { matchers: [{ predicate: { single_predicate: { input: { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_name: 'x' } }, value_match: { exact: 'y' } } }, on_match: { action: { name: 'a', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: {} } } } }] } };
    for (let i = 0; i < 20; i++) {
      matcher = { matcher_list: { matchers: [{ predicate: { single_predicate: { input: { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_name: 'x' } }, value_match: { exact: 'y' } } }, on_match: { matcher } }] } };
    }
    const deepMatcher = routeConfig('3', 'backend');
    (deepMatcher['virtual_hosts'] as Array<Record<string, unknown>>)[0]!['matcher'] = matcher;
    server.setResources(RDS, [deepMatcher]);
    const nack2 = await server.waitFor('nack', (e) => e.typeUrl === RDS && e.responseNonce !== nack.responseNonce);
    assert.match(nack2.errorDetail!.message, /^RDS resource "local_route": resources\[0\]\.virtual_hosts\[0\]\.matcher(\.matcher_list\.matchers\[0\]\.on_match\.matcher)+[.\w[\]]*: nested deeper than 100 levels/);
    assert.equal(await courier.stat('http.ingress.rds.local_route.update_rejected'), 2);
    assert.equal(await rev(port), '1');
    // And the next good version applies.
    server.setResources(RDS, [routeConfig('4', 'backend')]);
    await eventually(async () => (await rev(port)) === '4', 'version 4 applied');
  } finally {
    await courier.stop();
    await server.stop();
    await up.close();
  }
});

test('courier --mode validate: a bootstrap nested 600 deep (YAML and JSON) or a YAML alias bomb is refused with the limit, path and line', () => {
  const dir = tmpDir();
  const validate = (name: string, text: string): { status: number | null; stderr: string } => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', '-c', file], { encoding: 'utf8', timeout: 30000 });
    return { status: r.status, stderr: r.stderr };
  };
  let flow = 'x';
  for (let i = 0; i < 600; i++) flow = `{a: ${flow}}`;
  const yaml = validate('deep.yaml', `node:\n  id: n\n  metadata:\n    k: ${flow}\n`);
  assert.equal(yaml.status, 1);
  assert.match(yaml.stderr, /^\S+deep\.yaml: node\.metadata\.k(\.a){97} \(line 4\): nested deeper than 100 levels of objects and lists \(the config nesting limit\)\n$/);

  const json = validate('deep.json', JSON.stringify({ node: { id: 'n', metadata: { k: nested(600) } } }, null, 1));
  assert.equal(json.status, 1);
  assert.match(json.stderr, /deep\.json: node\.metadata\.k(\.a){97} \(line \d+\): nested deeper than 100 levels/);

  // Nine levels of nine aliases each: 387,420,489 strings once expanded.
  const anchors = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) anchors.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
  const bomb = validate('bomb.yaml', `node:\n  id: n\n  metadata:\n${anchors.map((l) => `    ${l}`).join('\n')}\n`);
  assert.equal(bomb.status, 1);
  assert.match(bomb.stderr, /bomb\.yaml: node\.metadata\.\w\[\d\] \(line \d+\): YAML aliases expand to more than 100000 nodes/);
});
