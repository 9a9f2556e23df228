/**
 * The reference bootstrap (test/fixtures/reference/bootstrap-example.yaml) end to end, as a
 * user would run it: a copy with its ports and paths pointed at temporary ones, the real
 * `courier` command with two worker processes, the real `courier xds-server` serving a
 * directory over ADS. A tcp_proxy listener comes from LDS (a watched file), its cluster from
 * CDS over ADS, the cluster's endpoints from EDS over ADS. Then, under steady load on the
 * unchanged listener: a new endpoint (EDS), a new and a removed listener (LDS file), a
 * refused CDS update (the xds-server logs the NACK; the old cluster keeps serving).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, eventually, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import {
  ask,
  atomicWrite,
  cla,
  discoveryFile,
  edsCluster,
  namedBackend,
  startXdsServerProcess,
  tcpListener,
  type XdsServerProcess,
} from '../support/xds-resources.js';

/** Copies of ../shared/reference's example configs, kept in the repo so a clean clone has them. */
const REFERENCE = path.join(REPO_ROOT, 'test', 'fixtures', 'reference');

function yamlList(resources: readonly unknown[]): string {
  return resources.map((r) => `- ${JSON.stringify(r)}`).join('\n') + '\n';
}

async function listenerNames(courier: CourierHandle): Promise<string[]> {
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

test('the reference bootstrap with `courier xds-server`, --concurrency 2: LDS file + CDS/EDS over ADS; changes under load with no failed connection', async () => {
  const dir = tmpDir();
  const xdsDir = path.join(dir, 'xds');
  mkdirSync(xdsDir);
  const [a, b] = await Promise.all(['a', 'b'].map((n) => namedBackend(n)));
  const canary = await namedBackend('canary');
  const rdsFile = path.join(dir, 'rds.yaml');
  const ldsFile = path.join(dir, 'lds.yaml');
  copyFileSync(`${REFERENCE}/rds-file-example.yaml`, rdsFile);
  atomicWrite(ldsFile, discoveryFile('1', [tcpListener('lds_stable', 'cds_backend'), tcpListener('lds_old', 'cds_backend')]));
  atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([edsCluster('cds_backend')]));
  atomicWrite(path.join(xdsDir, 'endpoints.yaml'), yamlList([cla('cds_backend', [{ port: a.port }]), cla('dubbo_canary', [{ port: canary.port }])]));
  let xds: XdsServerProcess | undefined;
  let courier: CourierHandle | undefined;
  try {
    xds = await startXdsServerProcess(xdsDir);
    const bootstrap = readFileSync(`${REFERENCE}/bootstrap-example.yaml`, 'utf8')
      .replaceAll('address: 0.0.0.0', 'address: 127.0.0.1')
      .replace(/port_value: (9901|10000|20881|8080) /g, 'port_value: 0 ')
      .replace('port_value: 18000 ', `port_value: ${xds.port} `)
      .replace('/etc/proxy/rds.yaml', rdsFile)
      .replace('/etc/proxy/lds.yaml', ldsFile)
      .replace('path: /dev/stdout', `path: ${path.join(dir, 'access.log')}`);
    assert.ok(bootstrap.includes(`port_value: ${xds.port}`) && !/port_value: (9901|10000|8080) /.test(bootstrap), bootstrap);
    courier = await startCourier(bootstrap, { processes: 2, drainTimeS: 1 });

    assert.deepEqual(await listenerNames(courier), ['dubbo_listener', 'http_listener', 'lds_old', 'lds_stable', 'tcp_listener']);
    const stable = await courier.listenerPort('lds_stable');
    const old = await courier.listenerPort('lds_old');
    assert.equal(await ask(stable), 'a');
    assert.equal(await courier.stat('cluster_manager.cds.update_success'), 1);
    assert.equal(await courier.stat('cluster.cds_backend.membership_healthy'), 1);
    // (Resent when cds_backend joined the EDS names: same content, no membership change.)
    assert.ok((await courier.stat('cluster.dubbo_canary.update_success')) >= 1);
    assert.equal(await courier.stat('cluster.dubbo_canary.membership_change'), 1);
    assert.equal(await courier.stat('listener_manager.lds.update_success'), 1);
    assert.match(xds.log(), /node=node-1 CDS ACK/);
    assert.match(xds.log(), /node=node-1 EDS ACK .*names=\[cds_backend,dubbo_canary\]/);

    // Steady load on the listener no change touches: every connection must be answered.
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const load = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await ask(stable);
          if (r === 'a' || r === 'b') ok++;
          else failures.push(`answer "${r}"`);
        } catch (e) {
          failures.push(String(e));
        }
      }
    };
    const loops = [load(), load()];

    // EDS: a second endpoint; every worker balances over both.
    atomicWrite(path.join(xdsDir, 'endpoints.yaml'), yamlList([cla('cds_backend', [{ port: a.port }, { port: b.port }]), cla('dubbo_canary', [{ port: canary.port }])]));
    await eventually(async () => {
      const seen = new Set(await Promise.all(Array.from({ length: 12 }, () => ask(stable))));
      return seen.has('a') && seen.has('b');
    }, 'the new endpoint in use', 10_000);

    // LDS: lds_new added, lds_old removed (the file is replaced by rename).
    atomicWrite(ldsFile, discoveryFile('2', [tcpListener('lds_stable', 'cds_backend'), tcpListener('lds_new', 'cds_backend')]));
    await eventually(async () => (await listenerNames(courier!)).includes('lds_new') && (await refused(old)), 'lds_new up, lds_old gone', 10_000);
    assert.ok(['a', 'b'].includes(await ask(await courier.listenerPort('lds_new'))));

    // CDS: a cluster Courier refuses NACKs the update; the xds-server logs it; cds_backend stays.
    atomicWrite(path.join(xdsDir, 'clusters.yaml'), yamlList([edsCluster('cds_backend'), { ...edsCluster('cds_bad'), lb_policy: 'CLUSTER_PROVIDED' }]));
    await eventually(() => /CDS NACK .*error_detail=.*resources\[1\]\.lb_policy: lb_policy CLUSTER_PROVIDED is not supported by Courier yet/.test(xds!.log()), 'the NACK on the server', 10_000);
    assert.equal(await courier.stat('cluster_manager.cds.update_rejected'), 1);

    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    console.log(`# ${ok} connections on the unchanged listener during the changes, ${failures.length} failed`);
    assert.deepEqual(failures, []);
    assert.ok(ok > 20, `load ran (${ok})`);
    assert.ok(['a', 'b'].includes(await ask(stable)), 'the old cluster still serves');
    assert.equal(await courier.stat('listener_manager.listener_removed'), 1);
    assert.equal(await courier.stat('listener_manager.lds.update_success'), 2);
  } finally {
    await courier?.stop();
    await xds?.stop();
    await Promise.all([a, b, canary].map((p) => p.close()));
    rmSync(dir, { recursive: true, force: true });
  }
});
