/**
 * Admin and logs as an operator meets them, on the real `courier` command with two worker
 * processes:
 *
 * - admin answers from the first moment: while start-up waits for xDS, /ready is 503 and
 *   /server_info says INITIALIZING, and an info line says what it waits for, from where, and
 *   for how long;
 * - info lines: xDS connected, updates accepted with their versions (per type), reconnected
 *   after the control plane restarts; one line per listener added or modified (address,
 *   filter, target cluster);
 * - /logging changes levels at run time, in main and in every worker (a restarted one too);
 * - /config_dump honours ?resource=, ?mask= and ?include_eds, with Envoy's errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { eventually, startCourier, tmpDir } from '../support/courier-harness.js';
import { ADMIN_YAML, staticClusterYaml, tcpProxyYaml } from '../support/configs.js';
import { closedPort, echoServer } from '../support/peers.js';
import { ask, atomicWrite, cla, edsCluster, namedBackend, startXdsServerProcess, tcpListener, type XdsServerProcess } from '../support/xds-resources.js';
import { workerPids } from '../support/processes.js';

function adsBootstrap(xdsPort: number, fetchTimeout = '15s'): string {
  return `node: { id: ops-test, cluster: tests }
${ADMIN_YAML}
static_resources:
  clusters:
${staticClusterYaml('xds_cluster', [xdsPort])}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ]
  cds_config: { ads: {}, initial_fetch_timeout: ${fetchTimeout} }
  lds_config: { ads: {}, initial_fetch_timeout: ${fetchTimeout} }
`;
}

function yamlList(resources: readonly unknown[]): string {
  return resources.map((r) => `- ${JSON.stringify(r)}`).join('\n') + '\n';
}

test('admin answers while start-up waits for xDS: /ready 503, /server_info INITIALIZING, a line saying what it waits for; then LIVE', async () => {
  // The control plane is down: nothing listens on its port.
  const xdsPort = await closedPort();
  const courier = await startCourier(adsBootstrap(xdsPort, '3s'), { processes: 2, logLevel: 'info', waitLive: false });
  try {
    const ready = await courier.admin('/ready');
    assert.equal(ready.status, 503);
    assert.match(ready.body, /^(PRE_INITIALIZING|INITIALIZING)\n$/);
    await eventually(async () => JSON.parse((await courier.admin('/server_info')).body).state === 'INITIALIZING', '/server_info state INITIALIZING');
    assert.equal((await courier.admin('/stats?filter=^server\\.state$')).body, 'server.state: 3\n');
    await eventually(
      () => courier.output().includes(`waiting for the initial CDS update (listeners start after it) from ADS via xds_cluster (127.0.0.1:${xdsPort}), up to 3s (initial_fetch_timeout)`),
      'the CDS wait line',
    );
    // After CDS's initial_fetch_timeout, LDS's turn, then LIVE with no listener.
    await eventually(
      () => courier.output().includes(`waiting for the initial LDS update from ADS via xds_cluster (127.0.0.1:${xdsPort}), up to 3s (initial_fetch_timeout)`),
      'the LDS wait line',
      10_000,
    );
    await eventually(async () => (await courier.admin('/ready')).status === 200, 'LIVE after the initial fetch timeouts', 15_000);
    assert.equal(JSON.parse((await courier.admin('/server_info')).body).state, 'LIVE');
  } finally {
    await courier.stop();
  }
});

test('SIGTERM while start-up waits for xDS drains what has started and exits 0', async () => {
  const courier = await startCourier(adsBootstrap(await closedPort(), '60s'), { processes: 2, logLevel: 'info', waitLive: false });
  await eventually(async () => JSON.parse((await courier.admin('/server_info')).body).state === 'INITIALIZING', '/server_info state INITIALIZING');
  // stop(): SIGTERM, and the harness checks the exit code is 0.
  await courier.stop();
  assert.match(courier.output(), /caught SIGTERM: draining/);
  assert.doesNotMatch(courier.output(), /courier started/);
});

test('info lines: xDS connected, updates accepted with versions per type, listener added/modified (address, filter, cluster), reconnected; /config_dump?include_eds&resource=', async () => {
  const dir = tmpDir();
  const xdsDir = path.join(dir, 'xds');
  mkdirSync(xdsDir);
  const [a, b] = await Promise.all([namedBackend('a'), namedBackend('b')]);
  atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([edsCluster('backend')]));
  atomicWrite(path.join(xdsDir, 'endpoints.yaml'), yamlList([cla('backend', [{ port: a.port }])]));
  atomicWrite(path.join(xdsDir, 'listeners.yaml'), yamlList([tcpListener('edge', 'backend')]));
  let xds: XdsServerProcess = await startXdsServerProcess(xdsDir);
  const courier = await startCourier(adsBootstrap(xds.port), { processes: 2, logLevel: 'info' });
  try {
    const port = await courier.listenerPort('edge');
    assert.equal(await ask(port), 'a');
    const startLines = [
      new RegExp(`\\[main\\]\\[info\\] xds ads@127\\.0\\.0\\.1:${xds.port}: connected to 127\\.0\\.0\\.1:${xds.port}`),
      /CDS update accepted: version "[^"]+", 1 resource\(s\)/,
      /EDS update accepted: version "[^"]+", 1 resource\(s\)/,
      /LDS update accepted: version "[^"]+", 1 resource\(s\)/,
      /listener added: 'edge' on 127\.0\.0\.1:0 \(port chosen by the OS: see \/listeners\): envoy\.filters\.network\.tcp_proxy \(cluster\(s\): backend\)/,
    ];
    await eventually(() => startLines.every((re) => re.test(courier.output())), `the start-up lines ${startLines.join(', ')}`);

    // The listener changes (another cluster): one "modified" line naming the new target.
    atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([edsCluster('backend'), edsCluster('other')]));
    atomicWrite(path.join(xdsDir, 'endpoints.yaml'), yamlList([cla('backend', [{ port: a.port }]), cla('other', [{ port: b.port }])]));
    await eventually(() => courier.output().includes('CDS update accepted') && /CDS update accepted[^\n]*2 resource\(s\)/.test(courier.output()), 'the second CDS update');
    atomicWrite(path.join(xdsDir, 'listeners.yaml'), yamlList([tcpListener('edge', 'other')]));
    await eventually(() => /listener modified: 'edge' on [^\n]*envoy\.filters\.network\.tcp_proxy \(cluster\(s\): other\)/.test(courier.output()), 'the listener modified line');
    await eventually(async () => (await ask(port)) === 'b', 'the modified listener to route to other');

    // /config_dump: the EDS assignments as elements, masked through their Any.
    const eds = await courier.admin('/config_dump?include_eds&resource=dynamic_endpoint_configs&mask=endpoint_config.cluster_name');
    assert.equal(eds.status, 200, eds.body);
    const edsConfigs = (JSON.parse(eds.body) as { configs: Array<Record<string, unknown>> }).configs;
    assert.deepEqual(
      edsConfigs.map((c) => c['endpoint_config']).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      [
        { '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: 'backend' },
        { '@type': 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', cluster_name: 'other' },
      ],
    );
    assert.ok(edsConfigs.every((c) => c['@type'] === 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig'));
    // Without include_eds there is no endpoint dump to take the field from.
    assert.deepEqual(await courier.admin('/config_dump?resource=dynamic_endpoint_configs'), {
      status: 404,
      body: 'dynamic_endpoint_configs not found in config dump\n',
    });
    const clusters = await courier.admin('/config_dump?resource=dynamic_active_clusters&mask=cluster.name');
    assert.deepEqual(
      (JSON.parse(clusters.body) as { configs: Array<{ cluster: { name: string } }> }).configs.map((c) => c.cluster.name).sort(),
      ['backend', 'other'],
    );

    // The control plane restarts on the same port: the stream comes back and says so.
    const xdsPort = xds.port;
    await xds.stop();
    await eventually(() => /xds ads@[^:]+:\d+: stream closed/.test(courier.output()), 'the stream closed line');
    xds = await startXdsServerProcess(xdsDir, xdsPort);
    await eventually(() => courier.output().includes(`xds ads@127.0.0.1:${xdsPort}: reconnected to 127.0.0.1:${xdsPort}`), 'the reconnected line', 15_000);
  } finally {
    await courier.stop();
    await xds.stop();
    await Promise.all([a.close(), b.close()]);
  }
});

test('/logging: POST lists and sets levels (all, one, paths) in main and every worker, a restarted worker included; bad requests are 400 and change nothing', async () => {
  const backend = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [backend.port] }), { processes: 2, logLevel: 'info' });
  let stopped = false;
  try {
    const list = await courier.admin('/logging', 'POST');
    assert.deepEqual(list, { status: 200, body: 'active loggers:\n  admin: info\n  config: info\n  connection: info\n  main: info\n\n' });
    assert.equal((await courier.admin('/logging')).status, 405, 'GET is refused, as for every admin path that changes the server');

    const all = await courier.admin('/logging?level=debug', 'POST');
    assert.equal(all.status, 200);
    assert.match(all.body, /^active loggers:\n {2}admin: debug\n {2}config: debug\n {2}connection: debug\n {2}main: debug\n\n$/);
    // (stderr reaches the test on its own pipe, maybe after the admin answer.)
    await eventually(() => /\[main\]\[info\] change all log levels: level='debug'/.test(courier.output()), 'the change line');

    const one = await courier.admin('/logging?config=warning', 'POST');
    assert.match(one.body, / {2}config: warning\n/);
    const paths = await courier.admin('/logging?paths=admin:error,main:trace', 'POST');
    assert.match(paths.body, / {2}admin: error\n {2}config: warning\n {2}connection: debug\n {2}main: trace\n/);

    for (const [query, reason] of [
      ['bogus=debug', 'unknown logger name'],
      ['level=loud', 'unknown logger level'],
      ['level=warn', 'unknown logger level'],
      ['paths=admin:debug,bogus:info', 'unknown logger name'],
      ['paths=admin:', 'empty logger name or empty logger level'],
      ['level=debug&main=info', 'invalid number of parameters'],
    ] as const) {
      const bad = await courier.admin(`/logging?${query}`, 'POST');
      assert.equal(bad.status, 400, query);
      assert.ok(bad.body.startsWith(`error: ${reason}\n\nusage: /logging?<name>=<level>`), `${query}: ${bad.body}`);
      // Nothing changed, not even the valid half of a request.
      assert.match(bad.body, /active loggers:\n {2}admin: error\n {2}config: warning\n {2}connection: debug\n {2}main: trace\n/, query);
    }

    // A worker that restarts logs at the levels /logging set (main sends them at init).
    const [first] = workerPids(courier.child!.pid!);
    process.kill(first!, 'SIGKILL');
    await eventually(async () => (await courier.stat('server.worker_restarts')) === 1, 'the worker restart', 10_000);
    await eventually(async () => (await courier.admin('/ready')).status === 200 && workerPids(courier.child!.pid!).length === 2, 'two workers again', 10_000);
    stopped = true;
    await courier.stop();
  } finally {
    if (!stopped) await courier.stop().catch(() => {});
    await backend.close();
  }
  // Draining with no connection left is a debug line of the `connection` logger, on each
  // worker: there only because both workers (one of them restarted) took the new level.
  const drained = courier.output().match(/\[worker (\d)\]\[debug\] drained: no connection left open/g) ?? [];
  assert.deepEqual(drained.map((l) => /worker (\d)/.exec(l)![1]).sort(), ['0', '1'], courier.output());
});

test('/config_dump: ?resource= answers the elements with their own types, ?mask= trims them or the whole dumps; Envoy\'s 400 and 404', async () => {
  const backend = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [backend.port] }), { processes: 2 });
  try {
    const dump = async (query: string): Promise<Array<Record<string, unknown>>> => {
      const r = await courier.admin(`/config_dump?${query}`);
      assert.equal(r.status, 200, `${query}: ${r.body}`);
      return (JSON.parse(r.body) as { configs: Array<Record<string, unknown>> }).configs;
    };
    const staticClusters = await dump('resource=static_clusters');
    assert.equal(staticClusters.length, 1);
    assert.equal(staticClusters[0]!['@type'], 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster');
    assert.equal((staticClusters[0]!['cluster'] as Record<string, unknown>)['name'], 'backend');
    assert.ok(typeof staticClusters[0]!['last_updated'] === 'string');

    assert.deepEqual(await dump('resource=static_listeners&mask=listener.name,listener.address'), [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump.StaticListener',
        listener: {
          '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
          name: 'tcp',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
        },
      },
    ]);
    assert.deepEqual(await dump('resource=static_clusters&mask=last_updated'), [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.StaticCluster', last_updated: staticClusters[0]!['last_updated'] },
    ]);
    // A mask without resource applies to whole dumps; those it does not fit are left out.
    assert.deepEqual(await dump('mask=static_clusters'), [
      { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', static_clusters: [{ cluster: staticClusters[0]!['cluster'], last_updated: staticClusters[0]!['last_updated'] }] },
    ]);
    assert.deepEqual(
      (await dump('mask=version_info')).map((c) => c['@type']),
      ['type.googleapis.com/envoy.admin.v3.ClustersConfigDump', 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump'],
    );

    assert.deepEqual(await courier.admin('/config_dump?resource=nothing_like_this'), { status: 404, body: 'nothing_like_this not found in config dump\n' });
    assert.deepEqual(await courier.admin('/config_dump?resource=version_info'), {
      status: 400,
      body: 'version_info is not a repeated field. Use ?mask=version_info to get only this field\n',
    });
    assert.deepEqual(await courier.admin('/config_dump?resource=static_clusters&mask=cluster.no_such_field'), {
      status: 400,
      body: 'FieldMask paths: "cluster.no_such_field" could not be successfully used.\n',
    });
    // A repeated field can only end a path.
    assert.equal((await courier.admin('/config_dump?mask=static_clusters.cluster')).status, 400);
    assert.deepEqual(await courier.admin('/config_dump?mask=no_such_field'), {
      status: 400,
      body: 'FieldMask no_such_field could not be successfully applied to any configs.\n',
    });
  } finally {
    await courier.stop();
    await backend.close();
  }
});
