/**
 * The RDS flow end to end: HCMs with `rds` over ADS (real gRPC on loopback against the
 * in-process management server) and over a watched file, node:http backends, the route
 * config provider manager on main, the `routes` slot on workers, /config_dump and the stats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer, type XdsServerHandle } from '../../src/xds/server/xds-server.js';
import { REPO_ROOT, eventually, httpRequest, sleep, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';

const RDS = ROUTE_CONFIGURATION.typeUrl;

interface Backend {
  readonly port: number;
  close(): Promise<void>;
}

/** A backend that answers its own name. */
async function backend(name: string): Promise<Backend> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end(name));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A RouteConfiguration sending everything to `cluster`, tagging responses with x-rev. */
function routes(name: string, cluster: string, rev: string | number = 0, extraRoutes: unknown[] = []): Record<string, unknown> {
  return {
    '@type': RDS,
    name,
    response_headers_to_add: [{ header: { key: 'x-rev', value: String(rev) } }],
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [...extraRoutes, { match: { prefix: '/' }, route: { cluster } }] }],
  };
}

function hcm(listener: string, statPrefix: string, rds: string): string {
  return `
  - name: ${listener}
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${statPrefix}
          rds:
${rds}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }`;
}

function cluster(name: string, port: number): string {
  return `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }`;
}

const ADS_RDS = (name: string, initialFetch = '5s'): string => `            route_config_name: ${name}
            config_source: { resource_api_version: V3, ads: {}, initial_fetch_timeout: ${initialFetch} }`;

function adsYaml(xdsPort: number, backends: Record<string, number>, listeners: string[]): string {
  return `
node: { id: rds-test, cluster: tests }
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:${listeners.join('')}
  clusters:${Object.entries(backends).map(([n, p]) => cluster(n, p)).join('')}${cluster('xds_cluster', xdsPort)}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ]
`;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

function get(port: number, p = '/', agent: http.Agent | false = keepAlive): Promise<{ status: number; body: string; rev: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, rev: res.headers['x-rev'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sets the routes and measures how long until a request sees revision `rev`. */
async function pushAndMeasure(server: XdsServerHandle, port: number, resource: Record<string, unknown>, rev: string): Promise<number> {
  const t0 = performance.now();
  server.setResources(RDS, [resource]);
  await eventually(async () => (await get(port)).rev === rev, `rev ${rev} visible`, 5000);
  return performance.now() - t0;
}

async function withSetup(
  fn: (ctx: { server: XdsServerHandle; courier: CourierHandle; a: Backend; b: Backend }) => Promise<void>,
  listeners: (xdsPort: number) => string[] = () => [hcm('http', 'ingress', ADS_RDS('local_route'))],
  processes?: number,
): Promise<void> {
  const a = await backend('a');
  const b = await backend('b');
  const server = await startXdsServer({ port: 0, resources: [routes('local_route', 'a', 1)], log: process.env['XDS_LOG'] ? (l) => console.log(l) : undefined });
  let courier: CourierHandle | undefined;
  try {
    courier = await startCourier(adsYaml(server.port, { a: a.port, b: b.port }, listeners(server.port)), { processes });
    await fn({ server, courier, a, b });
  } finally {
    await courier?.stop();
    await server.stop();
    await a.close();
    await b.close();
  }
}

test('rds over ADS: routes arrive, an update reroutes, identical resend does not reload, NACK keeps the old routes, config_dump and stats', async () => {
  await withSetup(async ({ server, courier }) => {
    const port = await courier.listenerPort('http');
    // Startup waits for the first update (within initial_fetch_timeout): routes are there at once.
    const first = await get(port);
    assert.deepEqual([first.status, first.body, first.rev], [200, 'a', '1']);
    const ack = await server.waitFor('ack', (e) => e.typeUrl === RDS);
    assert.equal(ack.nodeId, 'rds-test');
    assert.deepEqual(ack.resourceNames, ['local_route']);

    const ms = await pushAndMeasure(server, port, routes('local_route', 'b', 2), '2');
    console.log(`# rds update visible after ${ms.toFixed(1)} ms`);
    const v2 = server.version(RDS);
    assert.equal((await get(port)).body, 'b');
    assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 2);
    assert.ok((await courier.stat('http.ingress.rds.local_route.config_reload_time_ms')) > Date.now() - 60_000);

    // The same content under a new version: ACKed, but no reload.
    const v3 = server.setResources(RDS, [routes('local_route', 'b', 2)], 'same-content');
    await server.waitFor('ack', (e) => e.typeUrl === RDS && e.versionInfo === v3);
    assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 2);
    assert.equal(await courier.stat('http.ingress.rds.local_route.update_success'), 3);

    // An invalid regex: NACKed with the path, the previous version; old routes kept.
    const bad = routes('local_route', 'a', 'bad', [{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'a' } }]);
    server.setResources(RDS, [bad], 'bad-regex');
    const nack = await server.waitFor('nack', (e) => e.typeUrl === RDS);
    assert.equal(nack.versionInfo, v3);
    assert.match(nack.errorDetail!.message, /RDS resource "local_route": resources\[0\]\.virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex/);
    // A route without a cluster: refused by the proto checks.
    server.setResources(RDS, [routes('local_route', 'a', 'bad2', [{ match: { prefix: '/x' }, route: {} }])], 'no-cluster');
    await server.waitFor('nack', (e) => e.typeUrl === RDS && e.responseNonce !== nack.responseNonce);
    // (Envoy's "Unexpected RDS resource length" / "expecting X" refusals need a server that
    // sends names the client did not ask for; the in-process server filters by name.)
    await server.waitFor('nack', (e) => e.typeUrl === RDS && e.versionInfo === v3 && server.nacks.length >= 2);
    const still = await get(port);
    assert.deepEqual([still.body, still.rev], ['b', '2']);
    assert.equal(await courier.stat('http.ingress.rds.local_route.update_rejected'), 2);
    assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 2);

    const dump = JSON.parse((await courier.admin('/config_dump')).body) as { configs: Array<Record<string, unknown>> };
    const rdsDump = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump')!;
    const dyn = rdsDump['dynamic_route_configs'] as Array<{ version_info: string; route_config: { name: string; response_headers_to_add: unknown[] }; last_updated: string }>;
    assert.equal(dyn.length, 1);
    // As Envoy's onRdsUpdate: an identical resend changes nothing (not even version_info), and
    // a NACKed version never shows.
    assert.equal(dyn[0]!.version_info, v2);
    assert.equal(dyn[0]!.route_config.name, 'local_route');
    assert.ok(!Number.isNaN(Date.parse(dyn[0]!.last_updated)));
    assert.deepEqual(rdsDump['static_route_configs'], []);
  });
});

test('two HCMs with the same rds source share one provider: the stream names the resource once', async () => {
  await withSetup(
    async ({ server, courier }) => {
      const p1 = await courier.listenerPort('one');
      const p2 = await courier.listenerPort('two');
      assert.equal((await get(p1)).body, 'a');
      assert.equal((await get(p2)).body, 'a');
      const rdsRequests = server.acks.concat().filter((e) => e.typeUrl === RDS);
      assert.ok(rdsRequests.every((e) => e.resourceNames.length === 1 && e.resourceNames[0] === 'local_route'), JSON.stringify(rdsRequests));
      assert.equal(new Set(server.responses.map((r) => r.streamId)).size, 1, 'one ADS stream');
      await pushAndMeasure(server, p1, routes('local_route', 'b', 2), '2');
      await eventually(async () => (await get(p2)).body === 'b', 'second HCM rerouted');
      // Stats go to the first HCM's stat_prefix, as in Envoy.
      assert.equal(await courier.stat('http.one.rds.local_route.config_reload'), 2);
    },
    () => [hcm('one', 'one', ADS_RDS('local_route')), hcm('two', 'two', ADS_RDS('local_route'))],
  );
});

test('the management server killed and restarted: Courier reconnects and the new routes apply', async () => {
  const a = await backend('a');
  const b = await backend('b');
  let server = await startXdsServer({ port: 0, resources: [routes('local_route', 'a', 1)] });
  const xdsPort = server.port;
  const courier = await startCourier(adsYaml(xdsPort, { a: a.port, b: b.port }, [hcm('http', 'ingress', ADS_RDS('local_route'))]));
  try {
    const port = await courier.listenerPort('http');
    assert.equal((await get(port)).body, 'a');
    await server.stop();
    await eventually(async () => (await courier.stat('control_plane.connected_state')) === 0, 'disconnected');
    // Routes keep working while the control plane is down.
    assert.equal((await get(port)).body, 'a');
    server = await startXdsServer({ port: xdsPort, resources: [routes('local_route', 'b', 2)] });
    const t0 = performance.now();
    await eventually(async () => (await get(port)).body === 'b', 'new routes after reconnect', 10_000);
    console.log(`# resync after restart in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(await courier.stat('control_plane.connected_state'), 1);
  } finally {
    await courier.stop();
    await server.stop();
    await a.close();
    await b.close();
  }
});

test('routes changed 100 times under steady keep-alive load: 0 failed requests, max propagation measured', async () => {
  await withSetup(async ({ server, courier }) => {
    const port = await courier.listenerPort('http');
    assert.equal((await get(port)).rev, '1');
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const loadAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await get(port, '/load', loadAgent);
          if (r.status === 200 && (r.body === 'a' || r.body === 'b')) ok++;
          else failures.push(`${r.status} ${r.body}`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    const times: number[] = [];
    for (let i = 2; i <= 101; i++) {
      times.push(await pushAndMeasure(server, port, routes('local_route', i % 2 ? 'a' : 'b', i), String(i)));
    }
    stop = true;
    await Promise.all(loops);
    loadAgent.destroy();
    const sorted = [...times].sort((x, y) => x - y);
    const max = sorted[sorted.length - 1]!;
    console.log(
      `# 100 RDS updates under load: ${ok} requests ok, ${failures.length} failed; propagation ` +
        `median ${sorted[50]!.toFixed(1)} ms, p99 ${sorted[98]!.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    assert.deepEqual(failures, []);
    assert.ok(ok > 100, `load ran (${ok})`);
    assert.ok(max < 2000, `max propagation ${max} ms`);
    assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 101);
  });
});

test('--concurrency 2 (worker processes): both workers receive route updates', async () => {
  await withSetup(
    async ({ server, courier }) => {
      const port = await courier.listenerPort('http');
      await eventually(async () => (await get(port, '/', false)).body === 'a', 'first routes');
      const t0 = performance.now();
      server.setResources(RDS, [routes('local_route', 'b', 2)]);
      // New connections are spread over both workers: all must see the update.
      await eventually(async () => {
        const rs = await Promise.all(Array.from({ length: 10 }, () => get(port, '/', false)));
        return rs.every((r) => r.body === 'b' && r.rev === '2');
      }, 'every worker rerouted');
      console.log(`# 2 worker processes: update everywhere within ${(performance.now() - t0).toFixed(0)} ms`);
      for (let i = 0; i < 20; i++) assert.equal((await get(port, '/', false)).body, 'b');
      assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 2);
    },
    undefined,
    2,
  );
});

test('no management server: listeners start after initial_fetch_timeout and answer 404 NR', async () => {
  const a = await backend('a');
  const dead = await startXdsServer({ port: 0 });
  const deadPort = dead.port;
  await dead.stop();
  const t0 = Date.now();
  const courier = await startCourier(adsYaml(deadPort, { a: a.port }, [hcm('http', 'ingress', ADS_RDS('local_route', '0.3s'))]));
  try {
    assert.ok(Date.now() - t0 < 5000);
    const port = await courier.listenerPort('http');
    const r = await httpRequest(port, '/');
    assert.equal(r.status, 404);
    assert.equal(await courier.stat('http.ingress.no_route'), 1);
    assert.equal(await courier.stat('http.ingress.rds.local_route.init_fetch_timeout'), 1);
  } finally {
    await courier.stop();
    await a.close();
  }
});

test('rds over a watched file (the reference rds-file-example.yaml): routes load and a replaced file reloads', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'rds.yaml');
  copyFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'reference', 'rds-file-example.yaml'), file);
  const a = await backend('a');
  const b = await backend('b');
  const yaml = `
admin: { address: { socket_address: { address: 127.0.0.1, port_value: 0 } } }
static_resources:
  listeners:${hcm('http', 'ingress_http', `            route_config_name: local_route
            config_source:
              resource_api_version: V3
              path_config_source: { path: ${file} }`)}
  clusters:${cluster('backend_tcp', a.port)}${cluster('b', b.port)}
`;
  const courier = await startCourier(yaml);
  try {
    const port = await courier.listenerPort('http');
    assert.equal((await get(port)).body, 'a');
    const { writeFileSync, renameSync } = await import('node:fs');
    const next = readFileSync(file, 'utf8').replace('version_info: "1"', 'version_info: "2"').replace('cluster: backend_tcp', 'cluster: b');
    writeFileSync(`${file}.tmp`, next);
    renameSync(`${file}.tmp`, file);
    await eventually(async () => (await get(port)).body === 'b', 'file update applied');
    const dump = JSON.parse((await courier.admin('/config_dump')).body) as { configs: Array<Record<string, unknown>> };
    const rdsDump = dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump')!;
    assert.equal((rdsDump['dynamic_route_configs'] as Array<{ version_info: string }>)[0]!.version_info, '2');
    await sleep(10);
  } finally {
    await courier.stop();
    await a.close();
    await b.close();
  }
});
