/**
 * Envoy-style configs through the real `courier` command (issue 10, "Config as Envoy reads
 * it"): what Envoy's loader accepts starts and validates, what Courier does not run is refused
 * by name, and `--mode validate` lists every problem and warning with its path and line.
 * The per-point details are in test/unit/config-envoy-loader.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { COURIER_BIN, REPO_ROOT, sleep, tmpDir } from '../support/courier-harness.js';
import { connect, echoServer, readAll } from '../support/peers.js';

const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function validate(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20000 });
  assert.equal(r.signal, null, `courier was killed (${r.signal}): ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(name: string, text: string): string {
  const file = path.join(tmpDir(), name);
  writeFileSync(file, text);
  return file;
}

function lineOf(text: string, needle: string): number {
  const found = text.split('\n').flatMap((l, i) => (l.includes(needle) ? [i + 1] : []));
  assert.equal(found.length, 1, `"${needle}" should appear once`);
  return found[0]!;
}

/**
 * Written as Envoy's own examples are: single values for lists, lower-case enums, an
 * `!ignore` block of anchors, wrapper values in Anys, no transport_api_version.
 */
function envoyStyleBootstrap(echoPort: number): string {
  return `!ignore defs:
  backend_address: &backend_address { socket_address: { address: 127.0.0.1, port_value: ${echoPort} } }
static_resources:
  listeners:
    name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    metadata:
      typed_filter_metadata:
        team: { "@type": type.googleapis.com/google.protobuf.StringValue, value: edge }
    filter_chains:
      filters:
        name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": ${TCP_PROXY}
          stat_prefix: tcp
          cluster: backend
  clusters:
    name: backend
    connect_timeout: 1s
    type: static
    lb_policy: round_robin
    load_assignment:
      cluster_name: backend
      endpoints:
        lb_endpoints:
          endpoint: { address: *backend_address }
`;
}

test('1, 2, 4, 6, 11: an Envoy-style bootstrap with --config-yaml merged over it starts and proxies through both listeners', async () => {
  const echo = await echoServer();
  const dir = tmpDir();
  const file = path.join(dir, 'envoy.yaml');
  writeFileSync(file, envoyStyleBootstrap(echo.port));
  const addressPath = path.join(dir, 'admin-address');
  // The overlay appends a listener and sets admin and node (scalars and messages merge).
  const overlay = `admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
node: { id: from-overlay }
static_resources:
  listeners:
    name: second
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains: { filters: { name: tcp, typed_config: { "@type": ${TCP_PROXY}, stat_prefix: second, cluster: backend } } }`;
  const child = spawn(process.execPath, [COURIER_BIN, '-c', file, '--config-yaml', overlay, '--concurrency', '1', '--admin-address-path', addressPath, '-l', 'warning'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    const deadline = Date.now() + 15000;
    while (!existsSync(addressPath) || readFileSync(addressPath, 'utf8').trim() === '') {
      assert.ok(child.exitCode === null && Date.now() < deadline, `courier did not start:\n${output}`);
      await sleep(50);
    }
    const adminPort = Number(readFileSync(addressPath, 'utf8').trim().split(':').pop());
    const get = (p: string): Promise<string> =>
      new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: adminPort, path: p }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
    // Admin answers (and its address file is written) before the listeners bind: wait for LIVE.
    while ((await get('/ready')).trim() !== 'LIVE') {
      assert.ok(child.exitCode === null && Date.now() < deadline, `courier did not become LIVE:\n${output}`);
      await sleep(50);
    }
    const listeners = JSON.parse(await get('/listeners?format=json')) as { listener_statuses: Array<{ name: string; local_address: { socket_address: { port_value: number } } }> };
    assert.deepEqual(listeners.listener_statuses.map((l) => l.name).sort(), ['second', 'tcp']);
    for (const l of listeners.listener_statuses) {
      const s = await connect(l.local_address.socket_address.port_value);
      const got = readAll(s);
      s.end(`hello through ${l.name}`);
      assert.equal((await got).toString(), `hello through ${l.name}`);
    }
    // The config as loaded, in proto3 JSON: lists for the single values, enum names as Envoy spells them.
    const dump = await get('/config_dump');
    assert.match(dump, /from-overlay/);
    assert.match(dump, /"clusters":\s*\[/);
    assert.match(dump, /"type":\s*"STATIC"/);
    assert.match(dump, /"lb_policy":\s*"ROUND_ROBIN"/);
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    echo.close();
  }
  assert.doesNotMatch(output, /warning/i, output);
});

test('1: --mode validate reads an LDS file that gives its one resource without a list', () => {
  const dir = tmpDir();
  const lds = path.join(dir, 'lds.yaml');
  writeFileSync(
    lds,
    `resources:
  "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: from-file
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains: { filters: { name: tcp, typed_config: { "@type": ${TCP_PROXY}, stat_prefix: f, cluster: backend } } }
`,
  );
  const bootstrap = writeConfig('b.yaml', `${envoyStyleBootstrap(9)}dynamic_resources:\n  lds_config: { path_config_source: { path: ${lds} } }\n`);
  const r = validate(['-c', bootstrap]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`xDS file '${lds.replace(/[.]/g, '\\.')}' OK`));
});

test('3: a duplicate key validates with a warning naming its lines', () => {
  const text = envoyStyleBootstrap(9).replace('    lb_policy: round_robin', '    lb_policy: round_robin\n    lb_policy: ROUND_ROBIN');
  const file = writeConfig('dup.yaml', text);
  const r = validate(['-c', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(
    // The path as written: this file gives its one cluster without a list.
    r.stderr.includes(`warning: ${file}: static_resources.clusters.lb_policy (line ${lineOf(text, 'ROUND_ROBIN')}): key "lb_policy" appears more than once in this map (also on line ${lineOf(text, 'round_robin')}); the last one is used`),
    r.stderr,
  );
});

test('5: ADS without transport_api_version validates; an explicit V2 is refused by name', () => {
  const bootstrap = (tav: string): string => `dynamic_resources:
  ads_config: { api_type: GRPC, ${tav}grpc_services: { envoy_grpc: { cluster_name: xds } } }
  cds_config: { ads: {} }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    load_assignment: { cluster_name: xds, endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } } } } }
`;
  const ok = validate(['--config-yaml', bootstrap('')]);
  assert.equal(ok.status, 0, ok.stderr);
  const v2 = validate(['--config-yaml', bootstrap('transport_api_version: V2, ')]);
  assert.equal(v2.status, 1);
  assert.match(v2.stderr, /dynamic_resources\.ads_config\.transport_api_version \(line 2\): the V2 xDS transport protocol is not supported/);
});

test('7, 8: UDP and internal listeners are refused by name, listed with a decode error of the same file', () => {
  const text = `static_resources:
  listeners:
  - name: dns
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: 0 } }
    listener_filters: [ { name: envoy.filters.udp_listener.dns_filter } ]
  - name: internal
    internal_listener: {}
  clusters:
  - name: backend
    conect_timeout: 1s
`;
  const file = writeConfig('kinds.yaml', text);
  const r = validate(['-c', file]);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    `${file}: static_resources.clusters[0].conect_timeout (line ${lineOf(text, 'conect_timeout')}): unknown field "conect_timeout" in envoy.config.cluster.v3.Cluster (did you mean connect_timeout?)`,
    `${file}: static_resources.listeners[0].address.socket_address.protocol (line ${lineOf(text, 'protocol: UDP')}): UDP listeners are not supported by Courier yet (TCP only)`,
    `${file}: static_resources.listeners[1].internal_listener (line ${lineOf(text, 'internal_listener')}): internal listeners (internal_listener) are not supported by Courier yet`,
  ]);
});

test('8: an LDS file with a decode error and an unsupported listener kind lists both', () => {
  const dir = tmpDir();
  const lds = path.join(dir, 'lds.yaml');
  const ldsText = `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: one
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
  filter_chains: [ { filters: [ { name: tcp, typed_config: { "@type": ${TCP_PROXY}, stat_prefix: f, cluster: backend, idle_timeout: soon } } ] } ]
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: two
  api_listener: { api_listener: { "@type": ${HCM}, stat_prefix: a, route_config: {}, http_filters: [ { name: r, typed_config: { "@type": ${ROUTER} } } ] } }
`;
  writeFileSync(lds, ldsText);
  const bootstrap = writeConfig('b.yaml', `${envoyStyleBootstrap(9)}dynamic_resources:\n  lds_config: { path_config_source: { path: ${lds} } }\n`);
  const r = validate(['-c', bootstrap]);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`LDS resource "one": resources\\[0\\]\\.filter_chains\\[0\\]\\.filters\\[0\\]\\.typed_config\\.idle_timeout \\(line ${lineOf(ldsText, 'soon')}\\): invalid duration "soon"`));
  assert.match(r.stderr, new RegExp(`LDS resource "two": resources\\[1\\]\\.api_listener \\(line ${lineOf(ldsText, 'api_listener:')}\\): API listeners .* are not supported by Courier yet`));
});

test('9: a filter type whose package cannot load does not change the message for the next, unrelated one', () => {
  const text = `static_resources:
  listeners:
  - name: a
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains: [ { filters: [ { name: t, typed_config: { "@type": type.googleapis.com/envoy.service.trace.v3.StreamTracesMessage } } ] } ]
  - name: b
    address: { socket_address: { address: 127.0.0.1, port_value: 1 } }
    filter_chains: [ { filters: [ { name: m, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy, stat_prefix: m } } ] } ]
`;
  const r = validate(['-c', writeConfig('trace.yaml', text)]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.@type \(line 5\): unknown or unsupported type "type\.googleapis\.com\/envoy\.service\.trace\.v3\.StreamTracesMessage"/);
  assert.match(r.stderr, /listeners\[1\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.@type \(line 8\): network filter type envoy\.extensions\.filters\.network\.mongo_proxy\.v3\.MongoProxy is not supported by Courier/);
});

test('10: a YAML syntax error quotes its line; a JSON one names its line', () => {
  const yaml = writeConfig('syntax.yaml', 'static_resources:\n  clusters:\n  - name: a\n    type: STATIC: x\n');
  const y = validate(['-c', yaml]);
  assert.equal(y.status, 1);
  assert.match(y.stderr, /syntax\.yaml: <root> \(line 4\): invalid YAML: .*: "    type: STATIC: x"/);
  const json = writeConfig('syntax.json', '{\n  "static_resources": {\n    "clusters": [ { "name": "a", } ]\n  }\n}\n');
  const j = validate(['-c', json]);
  assert.equal(j.status, 1);
  assert.match(j.stderr, /syntax\.json: <root> \(line 3\): invalid JSON: .*"    \\"clusters\\": \[ \{ \\"name\\": \\"a\\", \} \]"/);
});

test('10: an empty config and routes or tcp_proxy naming unknown clusters are warnings in --mode validate, with the route\'s line', () => {
  const empty = validate(['-c', writeConfig('empty.yaml', '# to be written\n')]);
  assert.equal(empty.status, 0, empty.stderr);
  assert.match(empty.stderr, /^warning: .*empty\.yaml: <root>: the config is empty/);

  const text = `static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": ${HCM}
          stat_prefix: http
          http_filters: [ { name: router, typed_config: { "@type": ${ROUTER} } } ]
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: /a }
                route: { cluster: missing_http }
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains: [ { filters: [ { name: t, typed_config: { "@type": ${TCP_PROXY}, stat_prefix: t, cluster: missing_tcp } } ] } ]
`;
  const file = writeConfig('clusters.yaml', text);
  const r = validate(['-c', file]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /OK/);
  assert.ok(r.stderr.includes(`${file}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].route.cluster (line ${lineOf(text, 'missing_http')}): no cluster named 'missing_http' is configured`), r.stderr);
  assert.ok(r.stderr.includes(`${file}: static_resources.listeners[1].filter_chains[0].filters[0].typed_config.cluster (line ${lineOf(text, 'missing_tcp')}): no cluster named 'missing_tcp' is configured`), r.stderr);
});

test('10: a codec module path is relative to the config file; its load error names the field and line', () => {
  const dir = tmpDir();
  mkdirSync(path.join(dir, 'codecs'));
  writeFileSync(path.join(dir, 'codecs', 'toy.mjs'), readFileSync(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-codec.mjs')));
  const config = (module: string): string => `static_resources:
  listeners:
  - name: meta
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: courier.meta_protocol_proxy
        typed_config:
          "@type": type.googleapis.com/courier.meta_protocol_proxy.v1.MetaProtocolProxy
          stat_prefix: meta
          protocol:
            name: toy
            codec: { name: toy, module: ${module} }
          route_config: { name: r, routes: [ { route: { cluster: blue } } ] }
  clusters:
  - name: blue
    type: STATIC
    load_assignment: { cluster_name: blue, endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 9 } } } } ] } ] }
`;
  // The working directory is the repository root, not the config's directory.
  const good = path.join(dir, 'good.yaml');
  writeFileSync(good, config('./codecs/toy.mjs'));
  const ok = validate(['-c', good]);
  assert.equal(ok.status, 0, ok.stderr);
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, config('./codecs/missing.mjs'));
  const r = validate(['-c', bad]);
  assert.equal(r.status, 1);
  assert.ok(
    r.stderr.startsWith(`${bad}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.protocol.codec.module (line 13): codec module "${path.join(dir, 'codecs', 'missing.mjs')}" cannot be loaded`),
    r.stderr,
  );
});

test('11: a problem in --config-yaml names --config-yaml and its own line', () => {
  const file = writeConfig('base.yaml', envoyStyleBootstrap(9));
  const r = validate(['-c', file, '--config-yaml', 'node:\n  id: x\n  clustr: y\n']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^--config-yaml: node\.clustr \(line 3\): unknown field "clustr" in envoy\.config\.core\.v3\.Node \(did you mean cluster\?\)/);
});
