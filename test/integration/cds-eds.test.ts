/**
 * CDS and EDS end to end: the in-process management server over real gRPC (ADS), Courier
 * with an in-process worker, TCP backends that answer their own name. Clusters are added,
 * changed and removed by CDS; endpoints come from EDS with health and priorities; invalid
 * updates are NACKed with their field paths and the last good state is kept; warming holds
 * a cluster until its first assignment or initial_fetch_timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startXdsServer, type XdsServerHandle } from '../../src/xds/server/xds-server.js';
import { eventually, sleep, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import type { Peer } from '../support/peers.js';
import { ask, atomicWrite, CDS, cla, discoveryFile, EDS, edsCluster, namedBackend, staticCluster } from '../support/xds-resources.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';

/** A bootstrap: one static tcp_proxy listener per [name, cluster], ADS to `xdsPort`, optional CDS and static clusters. */
function bootstrap(xdsPort: number, listeners: Array<[string, string]>, opts: { cds?: boolean; staticClusters?: string } = {}): string {
  return `node: { id: cds-test, cluster: tests }
${ADMIN_YAML}
static_resources:
  listeners:
${listeners
  .map(
    ([name, cluster]) => `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${cluster}`,
  )
  .join('\n')}
  clusters:
${staticClusterYaml('xds_cluster', [xdsPort])}
${opts.staticClusters ?? ''}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ]
${opts.cds ? '  cds_config: { resource_api_version: V3, ads: {} }' : ''}
`;
}

/** `n` answers from a listener, as a sorted set of backend names. */
async function answers(port: number, n = 12): Promise<string[]> {
  const out = new Set<string>();
  for (let i = 0; i < n; i++) out.add(await ask(port));
  return [...out].sort();
}

interface Setup {
  server: XdsServerHandle;
  courier: CourierHandle;
  backends: Peer[];
}

async function withSetup(
  backendNames: string[],
  resources: (ports: number[]) => unknown[],
  yaml: (xdsPort: number) => string,
  fn: (s: Setup) => Promise<void>,
): Promise<void> {
  const backends = await Promise.all(backendNames.map((n) => namedBackend(n)));
  const server = await startXdsServer({ port: 0, resources: resources(backends.map((b) => b.port)), log: process.env['XDS_LOG'] ? (l) => console.log(l) : undefined });
  let courier: CourierHandle | undefined;
  try {
    courier = await startCourier(yaml(server.port));
    await fn({ server, courier, backends });
  } finally {
    await courier?.stop();
    await server.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
}

test('EDS over ADS: a static EDS cluster gets its hosts; only HEALTHY/UNKNOWN are used; updates, priorities, a NACK with the path', async () => {
  await withSetup(
    ['a', 'b', 'c'],
    ([a, b, c]) => [cla('backend', [{ port: a!, health: 'HEALTHY' }, { port: b!, health: 'UNHEALTHY' }, { port: c! }])],
    (xdsPort) =>
      bootstrap(xdsPort, [['tcp', 'backend']], {
        staticClusters: `  - name: backend
    type: EDS
    connect_timeout: 1s
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: V3 } }`,
      }),
    async ({ server, courier, backends: [a, b, c] }) => {
      const port = await courier.listenerPort('tcp');
      // Start-up waited for the assignment (warming): the hosts are there at once.
      assert.deepEqual(await answers(port), ['a', 'c']);
      const ack = await server.waitFor('ack', (e) => e.typeUrl === EDS);
      assert.deepEqual(ack.resourceNames, ['backend']);
      assert.equal(await courier.stat('cluster.backend.update_success'), 1);
      assert.equal(await courier.stat('cluster.backend.membership_total'), 3);
      assert.equal(await courier.stat('cluster.backend.membership_healthy'), 2);

      // b becomes healthy, c drains: the update applies to new connections.
      server.setResources(EDS, [cla('backend', [{ port: a!.port }, { port: b!.port, health: 'HEALTHY' }, { port: c!.port, health: 'DRAINING' }])]);
      await eventually(async () => (await answers(port)).join() === 'a,b', 'b in, c out');

      // Priority 0 all unhealthy: traffic moves to priority 1.
      server.setResources(EDS, [cla('backend', [{ port: a!.port, health: 'UNHEALTHY' }, { port: b!.port, health: 'TIMEOUT' }], [{ port: c!.port }])]);
      await eventually(async () => (await answers(port)).join() === 'c', 'priority 1 used');
      const good = server.version(EDS);

      // A hostname is not an address EDS may carry: NACKed with the field path; c still serves.
      server.setResources(EDS, [cla('backend', [{ port: a!.port, address: 'backend.example.com' }])], 'bad-host');
      const nack = await server.waitFor('nack', (e) => e.typeUrl === EDS);
      assert.equal(nack.versionInfo, good);
      assert.match(nack.errorDetail!.message, /EDS resource "backend": resources\[0\]\.endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.address: malformed IP address: backend\.example\.com/);
      assert.deepEqual(await answers(port, 4), ['c']);
      assert.equal(await courier.stat('cluster.backend.update_rejected'), 1);

      // An identical resend is ACKed and changes nothing.
      const changes = await courier.stat('cluster.backend.membership_change');
      server.setResources(EDS, [cla('backend', [{ port: a!.port, health: 'UNHEALTHY' }, { port: b!.port, health: 'TIMEOUT' }], [{ port: c!.port }])], 'same');
      await server.waitFor('ack', (e) => e.typeUrl === EDS && e.versionInfo === 'same');
      assert.equal(await courier.stat('cluster.backend.membership_change'), changes);

      const text = (await courier.admin('/clusters')).body;
      assert.match(text, new RegExp(`backend::127\\.0\\.0\\.1:${a!.port}::health_flags::/failed_eds_health`));
      assert.match(text, new RegExp(`backend::127\\.0\\.0\\.1:${c!.port}::priority::1`));
      const dump = JSON.parse((await courier.admin('/config_dump?include_eds')).body) as { configs: Array<Record<string, unknown>> };
      const eds = dump.configs.find((x) => x['@type'] === 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump')!;
      const dyn = eds['dynamic_endpoint_configs'] as Array<{ version_info: string; endpoint_config: { cluster_name: string } }>;
      assert.deepEqual(dyn.map((d) => [d.version_info, d.endpoint_config.cluster_name]), [[good, 'backend']]);
    },
  );
});

test('EDS warming: a cluster with no assignment waits initial_fetch_timeout, then serves empty until one comes', async () => {
  await withSetup(
    ['a'],
    () => [],
    (xdsPort) =>
      bootstrap(xdsPort, [['tcp', 'backend']], {
        staticClusters: `  - name: backend
    type: EDS
    connect_timeout: 1s
    eds_cluster_config: { service_name: backend_svc, eds_config: { ads: {}, initial_fetch_timeout: 0.3s } }`,
      }),
    async ({ server, courier, backends: [a] }) => {
      const port = await courier.listenerPort('tcp');
      assert.equal(await courier.stat('cluster.backend.init_fetch_timeout'), 1);
      assert.equal(await courier.stat('cluster_manager.warming_clusters'), 0);
      assert.equal(await courier.stat('cluster_manager.active_clusters'), 2);
      // Used empty: no healthy upstream, the connection is closed.
      assert.equal(await ask(port), '');
      assert.equal(await courier.stat('cluster.backend.upstream_cx_none_healthy'), 1);
      server.setResources(EDS, [cla('backend_svc', [{ port: a!.port }])]);
      await eventually(async () => (await ask(port)) === 'a', 'the late assignment applies');
    },
  );
});

test('CDS over ADS: clusters added, changed (by hash), removed; an invalid one NACKs the whole update; config_dump and /clusters', async () => {
  await withSetup(
    ['a', 'b', 'c'],
    ([a, b]) => [edsCluster('dyn'), cla('dyn', [{ port: a! }]), staticCluster('other', [b!])],
    (xdsPort) => bootstrap(xdsPort, [['tcp', 'dyn'], ['tcp2', 'other'], ['tcp3', 'later']], { cds: true }),
    async ({ server, courier, backends: [a, b, c] }) => {
      const [p1, p2, p3] = [await courier.listenerPort('tcp'), await courier.listenerPort('tcp2'), await courier.listenerPort('tcp3')];
      // CDS, then EDS for its clusters, before the listeners: traffic flows from the start.
      assert.equal(await ask(p1), 'a');
      assert.equal(await ask(p2), 'b');
      assert.equal(await ask(p3), '', 'an unknown cluster: the connection is closed (NC)');
      assert.equal(await courier.stat('tcp.tcp3.downstream_cx_no_route'), 1);
      const cdsAck = await server.waitFor('ack', (e) => e.typeUrl === CDS);
      assert.deepEqual(cdsAck.resourceNames, [], 'CDS is a wildcard subscription');
      assert.equal(await courier.stat('cluster_manager.cds.update_success'), 1);
      assert.equal(await courier.stat('cluster_manager.cluster_added'), 3);
      assert.equal(await courier.stat('cluster_manager.active_clusters'), 3);
      const v1 = server.version(CDS);

      // Add `later`, change `other` (new endpoint), keep `dyn` as it was.
      server.setResources(CDS, [edsCluster('dyn'), staticCluster('other', [c!.port]), staticCluster('later', [a!.port])]);
      await eventually(async () => (await ask(p2)) === 'c' && (await ask(p3)) === 'a', 'the CDS update applied');
      assert.equal(await courier.stat('cluster_manager.cluster_added'), 4);
      assert.equal(await courier.stat('cluster_manager.cluster_modified'), 1);
      assert.equal(await ask(p1), 'a', 'the unchanged EDS cluster kept its hosts');
      assert.equal(await courier.stat('cluster.dyn.update_success'), 1, 'and its subscription');
      const v2 = server.version(CDS);

      // An invalid cluster refuses the whole update, with its path; nothing changes.
      server.setResources(CDS, [edsCluster('dyn'), staticCluster('other', [b!.port]), { ...staticCluster('later', [a!.port]), lb_policy: 'CLUSTER_PROVIDED' }], 'bad');
      const nack = await server.waitFor('nack', (e) => e.typeUrl === CDS);
      assert.equal(nack.versionInfo, v2);
      assert.match(nack.errorDetail!.message, /CDS resource "later": resources\[2\]\.lb_policy: lb_policy CLUSTER_PROVIDED is not supported by Courier yet/);
      assert.equal(await ask(p2), 'c');
      assert.equal(await courier.stat('cluster_manager.cds.update_rejected'), 1);

      const dump = JSON.parse((await courier.admin('/config_dump')).body) as { configs: Array<Record<string, unknown>> };
      const clusters = dump.configs.find((x) => x['@type'] === 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump')!;
      assert.equal(clusters['version_info'], v2);
      const active = clusters['dynamic_active_clusters'] as Array<{ version_info: string; cluster: { name: string }; last_updated: string }>;
      assert.deepEqual(active.map((d) => [d.cluster.name, d.version_info]).sort(), [['dyn', v1], ['later', v2], ['other', v2]]);
      assert.ok(active.every((d) => !Number.isNaN(Date.parse(d.last_updated))));
      assert.deepEqual((clusters['static_clusters'] as Array<{ cluster: { name: string } }>).map((s) => s.cluster.name), ['xds_cluster']);
      const json = JSON.parse((await courier.admin('/clusters?format=json')).body) as { cluster_statuses: Array<{ name: string; added_via_api: boolean }> };
      assert.deepEqual(json.cluster_statuses.map((s) => [s.name, s.added_via_api]).sort(), [['dyn', true], ['later', true], ['other', true], ['xds_cluster', false]]);
      assert.match((await courier.admin('/clusters')).body, /^later::added_via_api::true$/m);

      // Removal: `later` and `dyn` go (connections to them get NC); a resource named like
      // the static xds_cluster is ignored, as Envoy does.
      server.setResources(CDS, [staticCluster('other', [c!.port]), staticCluster('xds_cluster', [1])]);
      await eventually(async () => (await ask(p3)) === '' && (await ask(p1)) === '', 'removed clusters gone');
      assert.equal(await courier.stat('cluster_manager.cluster_removed'), 2);
      assert.equal(await courier.stat('cluster_manager.active_clusters'), 2);
      assert.equal(await courier.stat('control_plane.connected_state'), 1, 'xds_cluster untouched');
      // The removed EDS cluster's name leaves the EDS subscription.
      await server.waitFor('ack', (e) => e.typeUrl === EDS && e.resourceNames.length === 0);
    },
  );
});

test('CDS: a changed EDS cluster warms beside the old one; the mux gives it the cached assignment', async () => {
  await withSetup(
    ['a'],
    ([a]) => [edsCluster('dyn'), cla('dyn', [{ port: a! }])],
    (xdsPort) => bootstrap(xdsPort, [['tcp', 'dyn']], { cds: true }),
    async ({ server, courier }) => {
      const port = await courier.listenerPort('tcp');
      assert.equal(await ask(port), 'a');
      // Only connect_timeout changes: the EDS resource is the same, so the server does not resend it.
      server.setResources(CDS, [edsCluster('dyn', { connect_timeout: '2s' })]);
      await eventually(async () => (await courier.stat('cluster_manager.cluster_modified')) === 1, 'modified');
      await eventually(async () => (await courier.stat('cluster_manager.warming_clusters')) === 0, 'warmed from the cache');
      assert.equal(await courier.stat('cluster.dyn.init_fetch_timeout'), 0);
      assert.equal(server.responses.filter((r) => r.typeUrl === EDS).length, 1, 'the server sent the assignment once');
      assert.equal(await ask(port), 'a');
      await sleep(10);
    },
  );
});

test('EDS over a per-type gRPC stream (EndpointDiscoveryService) and over a watched file', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'eds.yaml');
  await withSetup(
    ['a', 'b'],
    ([a, b]) => {
      atomicWrite(file, discoveryFile('1', [cla('by_file', [{ port: b! }])]));
      return [cla('by_grpc', [{ port: a! }])];
    },
    (xdsPort) =>
      bootstrap(xdsPort, [['g', 'by_grpc'], ['f', 'by_file']], {
        staticClusters: `  - name: by_grpc
    type: EDS
    eds_cluster_config:
      eds_config:
        api_config_source: { api_type: GRPC, transport_api_version: V3, grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ] }
  - name: by_file
    type: EDS
    eds_cluster_config: { eds_config: { path_config_source: { path: ${file} } } }`,
      }),
    async ({ server, courier, backends: [a] }) => {
      assert.equal(await ask(await courier.listenerPort('g')), 'a');
      const f = await courier.listenerPort('f');
      assert.equal(await ask(f), 'b');
      // Its own stream: the per-type service, with control_plane stats in the cluster's scope.
      assert.ok(server.responses.some((r) => r.typeUrl === EDS));
      assert.equal(await courier.stat('cluster.by_grpc.control_plane.connected_state'), 1);
      atomicWrite(file, discoveryFile('2', [cla('by_file', [{ port: a!.port }])]));
      await eventually(async () => (await ask(f)) === 'a', 'the file update applied');
      atomicWrite(file, discoveryFile('3', [cla('by_file', [{ port: a!.port, address: '::ffff:not-ip' }])]));
      await eventually(async () => (await courier.stat('cluster.by_file.update_rejected')) === 1, 'the bad file refused');
      assert.equal(await ask(f), 'a');
    },
  );
});
