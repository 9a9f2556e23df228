/**
 * LDS end to end on real sockets: listeners from a watched file and over ADS (the
 * in-process management server), added (workers listen), changed (new connections get the
 * new filter chain, open ones keep theirs and are closed after --drain-time-s), removed
 * (no longer accepting, open connections drained); invalid updates NACKed with the field
 * path; a port that cannot be bound; an HCM listener warming until its RDS routes arrive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer } from '../../src/xds/server/xds-server.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';
import { eventually, httpRequest, startCourier, tmpDir } from '../support/courier-harness.js';
import { ask, atomicWrite, discoveryFile, hold, LDS, namedBackend, tcpListener } from '../support/xds-resources.js';

function tcpProxyListenerYaml(name: string, cluster: string): string {
  return `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${cluster}`;
}

interface ListenerDump {
  version_info: string;
  dynamic_listeners: Array<{ name: string; active_state?: { version_info: string; listener: { name: string } }; warming_state?: unknown }>;
}

async function listenersDump(courier: { admin(p: string): Promise<{ body: string }> }): Promise<ListenerDump> {
  const dump = JSON.parse((await courier.admin('/config_dump')).body) as { configs: Array<Record<string, unknown>> };
  return dump.configs.find((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump') as unknown as ListenerDump;
}

async function listenerNames(courier: { admin(p: string): Promise<{ body: string }> }): Promise<string[]> {
  const { body } = await courier.admin('/listeners?format=json');
  return (JSON.parse(body) as { listener_statuses: Array<{ name: string }> }).listener_statuses.map((l) => l.name).sort();
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

test('LDS from a watched file: listeners added, changed (open connections keep their chain, then drain), removed; a bad file is refused', async () => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => namedBackend(n)));
  const dir = tmpDir();
  const file = path.join(dir, 'lds.yaml');
  atomicWrite(file, discoveryFile('1', [tcpListener('l1', 'ca'), tcpListener('l2', 'cb')]));
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${tcpProxyListenerYaml('static_l', 'ca')}
  clusters:
${staticClusterYaml('ca', [a.port])}
${staticClusterYaml('cb', [b.port])}
${staticClusterYaml('cc', [c.port])}
dynamic_resources:
  lds_config: { path_config_source: { path: ${file} } }
`;
  const courier = await startCourier(yaml, { drainTimeS: 1 });
  try {
    assert.deepEqual(await listenerNames(courier), ['l1', 'l2', 'static_l']);
    const p1 = await courier.listenerPort('l1');
    const p2 = await courier.listenerPort('l2');
    assert.equal(await ask(p1), 'a');
    assert.equal(await ask(p2), 'b');
    assert.equal(await courier.stat('listener_manager.lds.update_success'), 1);
    assert.equal(await courier.stat('listener_manager.listener_added'), 3);
    assert.equal(await courier.stat('listener_manager.total_listeners_active'), 3);

    const held = await hold(p1);
    assert.equal(await held.ask(), 'a');
    const heldOnRemoved = await hold(p2);
    const t0 = Date.now();
    atomicWrite(file, discoveryFile('2', [tcpListener('l1', 'cb'), tcpListener('l3', 'cc')]));
    await eventually(async () => (await ask(p1)) === 'b', 'l1 changed for new connections');
    assert.equal(await held.ask(), 'a', 'an open connection keeps the filter chain it was accepted with');
    await eventually(() => refused(p2), 'l2 no longer accepts');
    assert.equal(await heldOnRemoved.ask(), 'b', 'an open connection of a removed listener carries on while it drains');
    assert.equal(await ask(await courier.listenerPort('l3')), 'c');
    assert.deepEqual(await listenerNames(courier), ['l1', 'l3', 'static_l']);
    assert.equal(await courier.stat('listener_manager.total_listeners_draining'), 2);
    await Promise.all([held.closed, heldOnRemoved.closed]);
    const drained = Date.now() - t0;
    assert.ok(drained >= 900 && drained < 4000, `drained after --drain-time-s (${drained} ms)`);
    assert.equal(await courier.stat('listener_manager.listener_modified'), 1);
    assert.equal(await courier.stat('listener_manager.listener_removed'), 1);
    assert.equal(await courier.stat('listener_manager.listener_added'), 4);

    // A listener without a filter chain: the whole file is refused, l1 and l3 stay.
    atomicWrite(file, discoveryFile('3', [tcpListener('l1', 'ca'), { ...tcpListener('l3', 'cc'), filter_chains: [] }]));
    await eventually(async () => (await courier.stat('listener_manager.lds.update_rejected')) === 1, 'the bad file refused');
    assert.equal(await ask(p1), 'b');
    const dump = await listenersDump(courier);
    assert.equal(dump.version_info, '2');
    assert.deepEqual(dump.dynamic_listeners.map((d) => [d.name, d.active_state?.version_info]).sort(), [['l1', '2'], ['l3', '2']]);
  } finally {
    await courier.stop();
    await Promise.all([a, b, c].map((p) => p.close()));
  }
});

test('LDS over ADS: NACKs with field paths (unsupported field, address clash, address change), a port in use fails that listener only', async () => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => namedBackend(n)));
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const taken = (squatter.address() as AddressInfo).port;
  const fixed = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const server = await startXdsServer({ port: 0, resources: [tcpListener('l1', 'ca'), tcpListener('busy', 'ca', taken)] });
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${tcpProxyListenerYaml('static_l', 'ca').replace('port_value: 0', `port_value: ${fixed}`)}
  clusters:
${staticClusterYaml('ca', [a.port])}
${staticClusterYaml('cb', [b.port])}
${staticClusterYaml('xds_cluster', [server.port])}
dynamic_resources:
  ads_config: { api_type: GRPC, transport_api_version: V3, grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ] }
  lds_config: { resource_api_version: V3, ads: {} }
`;
  const courier = await startCourier(yaml, { drainTimeS: 1 });
  try {
    // The listener whose port is taken is dropped and counted; the others serve.
    assert.equal(await courier.stat('listener_manager.listener_create_failure'), 1);
    assert.deepEqual(await listenerNames(courier), ['l1', 'static_l']);
    const p1 = await courier.listenerPort('l1');
    assert.equal(await ask(p1), 'a');
    const v1 = server.version(LDS);
    await server.waitFor('ack', (e) => e.typeUrl === LDS && e.versionInfo === v1);

    server.setResources(LDS, [tcpListener('l1', 'cb'), { ...tcpListener('l2', 'cb'), listener_filters: [{ name: 'envoy.filters.listener.tls_inspector' }] }], 'bad-1');
    const nack1 = await server.waitFor('nack', (e) => e.typeUrl === LDS);
    assert.equal(nack1.versionInfo, v1);
    assert.match(nack1.errorDetail!.message, /LDS resource "l2": resources\[1\]\.listener_filters: Listener\.listener_filters is not supported by Courier yet/);

    server.setResources(LDS, [tcpListener('l1', 'cb'), tcpListener('l2', 'cb', fixed)], 'bad-2');
    const nack2 = await server.waitFor('nack', (e) => e.typeUrl === LDS && e.responseNonce !== nack1.responseNonce);
    assert.match(nack2.errorDetail!.message, new RegExp(`LDS resource "l2": resources\\[1\\]\\.address: error adding listener: 'l2' has duplicate address '127\\.0\\.0\\.1:${fixed}' as existing listener 'static_l'`));

    server.setResources(LDS, [tcpListener('l1', 'cb', fixed + 1)], 'bad-3');
    const nack3 = await server.waitFor('nack', (e) => e.typeUrl === LDS && e.versionInfo === v1 && ![nack1.responseNonce, nack2.responseNonce].includes(e.responseNonce));
    assert.match(nack3.errorDetail!.message, /resources\[0\]\.address: error updating listener: 'l1' has a different address/);
    assert.equal(await ask(p1), 'a', 'the last good listeners serve');
    assert.equal(await courier.stat('listener_manager.lds.update_rejected'), 3);

    // A good update after the NACKs applies.
    server.setResources(LDS, [tcpListener('l1', 'cb')], 'good');
    await eventually(async () => (await ask(p1)) === 'b', 'l1 → cb');
    await server.waitFor('ack', (e) => e.typeUrl === LDS && e.versionInfo === 'good');
  } finally {
    await courier.stop();
    await server.stop();
    await new Promise<void>((r) => squatter.close(() => r()));
    await Promise.all([a, b].map((p) => p.close()));
  }
});

test('an LDS listener with an HCM on RDS warms until its routes arrive; the RDS provider starts with it', async () => {
  const backend = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('routed'));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as AddressInfo).port;
  const server = await startXdsServer({ port: 0, resources: [tcpListener('tcp', 'web')] });
  const yaml = `${ADMIN_YAML}
static_resources:
  clusters:
${staticClusterYaml('web', [backendPort])}
${staticClusterYaml('xds_cluster', [server.port])}
dynamic_resources:
  ads_config: { api_type: GRPC, transport_api_version: V3, grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ] }
  lds_config: { ads: {} }
`;
  const courier = await startCourier(yaml);
  try {
    const hcm = {
      '@type': LDS,
      name: 'http',
      address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
      filter_chains: [
        {
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                stat_prefix: 'ingress',
                rds: { route_config_name: 'local_route', config_source: { ads: {}, initial_fetch_timeout: '5s' } },
                http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
              },
            },
          ],
        },
      ],
    };
    server.setResources(LDS, [tcpListener('tcp', 'web'), hcm]);
    // The routes come only after the listener asked for them: until then it is warming.
    await server.waitFor('request', (e) => e.typeUrl === ROUTE_CONFIGURATION.typeUrl);
    assert.equal(await courier.stat('listener_manager.total_listeners_warming'), 1);
    assert.deepEqual(await listenerNames(courier), ['tcp']);
    server.setResources(ROUTE_CONFIGURATION.typeUrl, [
      { name: 'local_route', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] }] },
    ]);
    await eventually(async () => (await listenerNames(courier)).includes('http'), 'the listener active once its routes came');
    const r = await httpRequest(await courier.listenerPort('http'), '/');
    assert.deepEqual([r.status, r.body], [200, 'routed']);
    assert.equal(await courier.stat('http.ingress.rds.local_route.config_reload'), 1);
    // The listener goes: once it has drained, its route subscription goes too.
    server.setResources(LDS, [tcpListener('tcp', 'web')]);
    // (The unsubscribe carries the last nonce, so the server files it as an ACK.)
    await server.waitFor('ack', (e) => e.typeUrl === ROUTE_CONFIGURATION.typeUrl && e.resourceNames.length === 0, 10000);
    await eventually(async () => (await listenerNames(courier)).length === 1, 'the HCM listener removed');
  } finally {
    await courier.stop();
    await server.stop();
    await new Promise<void>((r) => backend.close(() => r()));
  }
});
