/**
 * Fault suite, control plane: the management server `courier xds-server` runs (serving a
 * directory; in this process, as starting a second node process costs seconds on a loaded
 * machine) cut off at once, every stream and the port, while Courier serves a listener and a
 * cluster it got over ADS. Courier keeps serving its last good
 * config (control_plane.connected_state goes to 0), reconnects with backoff once the server
 * is back on the same port, takes the update made meanwhile, and the listener never stops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_YAML, staticClusterYaml } from '../support/configs.js';
import { eventually, sleep, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { SteadyLoad } from '../support/faults.js';
import { listen, type Peer } from '../support/peers.js';
import { startXdsServer, type XdsServerHandle } from '../../src/xds/server/xds-server.js';
import { ask, atomicWrite, staticCluster, tcpListener } from '../support/xds-resources.js';

/** Answers every chunk with its name and closes when the client does, as an ordinary server. */
const backend = (name: string): Promise<Peer> =>
  listen((s) => {
    s.on('data', () => s.write(name));
    s.on('end', () => s.end());
  });

const yamlList = (resources: readonly unknown[]): string => resources.map((r) => `- ${JSON.stringify(r)}`).join('\n') + '\n';

test('the xDS server killed and restarted: the last good config keeps serving, connected_state 0 then 1, the update made meanwhile arrives', { timeout: 40_000 }, async () => {
  const [a, b] = await Promise.all(['a', 'b'].map((n) => backend(n)));
  const dir = tmpDir();
  const xdsDir = path.join(dir, 'xds');
  mkdirSync(xdsDir);
  atomicWrite(path.join(xdsDir, 'listeners.yaml'), yamlList([tcpListener('dyn', 'backend')]));
  atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([staticCluster('backend', [a.port])]));
  let xds: XdsServerHandle | undefined;
  let courier: CourierHandle | undefined;
  let load: SteadyLoad | undefined;
  try {
    const log: string[] = [];
    xds = await startXdsServer({ dir: xdsDir, port: 0, log: (line) => log.push(line) });
    const xdsPort = xds.port;
    courier = await startCourier(`node: { id: faults, cluster: tests }
${ADMIN_YAML}
static_resources:
  clusters:
${staticClusterYaml('xds_cluster', [xdsPort])}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services:
    - envoy_grpc:
        cluster_name: xds_cluster
        # Envoy's default backoff (500 ms doubling to 30 s) is kept short for the test.
        retry_policy: { retry_back_off: { base_interval: 0.1s, max_interval: 0.4s } }
  lds_config: { resource_api_version: V3, ads: {} }
  cds_config: { resource_api_version: V3, ads: {} }
`);
    const c = courier;
    const port = await eventually(() => c.listenerPort('dyn').catch(() => 0), 'the listener from LDS');
    assert.equal(await ask(port), 'a');
    assert.equal(await c.stat('control_plane.connected_state'), 1);

    const answers = new Set<string>();
    load = new SteadyLoad(2, async () => {
      const r = await ask(port);
      if (r !== 'a' && r !== 'b') throw new Error(`answer "${r}"`);
      answers.add(r);
    });
    await xds.stop();
    await eventually(async () => (await c.stat('control_plane.connected_state')) === 0, 'connected_state 0');
    // Disconnected for a while: the last good listener and cluster keep serving.
    const okAtDisconnect = load.ok;
    await sleep(300);
    assert.ok(load.ok > okAtDisconnect, 'served while the control plane is gone');
    assert.deepEqual([...answers], ['a']);

    // The cluster moves to b while the server is down; it comes back on the same port.
    atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([staticCluster('backend', [b.port])]));
    xds = await startXdsServer({ dir: xdsDir, port: xdsPort, log: (line) => log.push(line) });
    const t1 = Date.now();
    await eventually(async () => (await c.stat('control_plane.connected_state')) === 1, 'reconnected', 15_000);
    console.log(`# Courier reconnected ${Date.now() - t1} ms after the server came back`);
    await eventually(async () => (await ask(port)) === 'b', 'the update made while disconnected', 5000);
    await load.stop();
    assert.deepEqual(load.failures, [], 'the listener never stopped');
    assert.equal(await c.listenerPort('dyn'), port);
    assert.equal(await c.stat('listener_manager.listener_removed'), 0);
    assert.equal(await c.stat('listener_manager.total_listeners_active'), 1);
    assert.ok((await c.stat('cluster_manager.cds.update_success')) >= 2);
    assert.ok((await c.stat('cluster_manager.cds.update_failure')) >= 1, 'the lost stream is counted as an update failure');
    assert.ok(log.some((l) => /node=faults CDS ACK/.test(l)), 'Courier ACKed the new server');
    await eventually(async () => (await c.stat('cluster.backend.upstream_cx_active')) === 0 && (await c.stat('server.total_connections')) === 0, 'no connection left');
  } finally {
    await load?.stop();
    await courier?.stop();
    await xds?.stop();
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});
