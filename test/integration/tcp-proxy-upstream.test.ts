/**
 * Upstream selection through the TCP proxy: load-balancing policies, hash_policy source_ip,
 * weighted_clusters, and a STRICT_DNS cluster resolved by the main process.
 */
import { test } from 'node:test';
import type net from 'node:net';
import assert from 'node:assert/strict';
import { eventually, startCourier } from '../support/courier-harness.js';
import { tcpProxyYaml } from '../support/configs.js';
import { closed, connect, listen, readAll, type Peer } from '../support/peers.js';

/** A backend that answers every connection with its own name. */
function namedBackend(name: string): Promise<Peer> {
  return listen((s) => {
    s.on('data', () => {});
    s.end(name);
  });
}

async function askWho(port: number): Promise<string> {
  const c = await connect(port);
  const all = readAll(c);
  c.end();
  return (await all).toString();
}

async function tally(port: number, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await askWho(port);
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

test('ROUND_ROBIN visits every host in turn', async () => {
  const backends = await Promise.all(['a', 'b', 'c'].map(namedBackend));
  const courier = await startCourier(tcpProxyYaml({ ports: backends.map((b) => b.port), clusterExtra: '    lb_policy: ROUND_ROBIN' }));
  try {
    const counts = await tally(await courier.listenerPort('tcp'), 30);
    assert.deepEqual([...counts.entries()].sort(), [['a', 10], ['b', 10], ['c', 10]]);
  } finally {
    await courier.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
});

for (const policy of ['RING_HASH', 'MAGLEV']) {
  test(`${policy} with hash_policy source_ip sends one client address to one host`, async () => {
    const backends = await Promise.all(['a', 'b', 'c', 'd'].map(namedBackend));
    const courier = await startCourier(
      tcpProxyYaml({
        ports: backends.map((b) => b.port),
        clusterExtra: `    lb_policy: ${policy}`,
        tcpProxyExtra: '          hash_policy: [ { source_ip: {} } ]',
      }),
    );
    try {
      const counts = await tally(await courier.listenerPort('tcp'), 12);
      assert.equal(counts.size, 1, `all from 127.0.0.1 to one host, got ${JSON.stringify([...counts])}`);
    } finally {
      await courier.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  });
}

test('RING_HASH without a hash policy spreads connections (random pick)', async () => {
  const backends = await Promise.all(['a', 'b', 'c', 'd'].map(namedBackend));
  const courier = await startCourier(tcpProxyYaml({ ports: backends.map((b) => b.port), clusterExtra: '    lb_policy: RING_HASH' }));
  try {
    const counts = await tally(await courier.listenerPort('tcp'), 40);
    assert.ok(counts.size >= 3, `spread over ${counts.size} hosts`);
  } finally {
    await courier.stop();
    await Promise.all(backends.map((b) => b.close()));
  }
});

test('LEAST_REQUEST prefers the host without open connections', async () => {
  const busy = await listen(() => {}); // holds connections open, never answers
  const idle = await namedBackend('idle');
  const courier = await startCourier(tcpProxyYaml({ ports: [busy.port, idle.port], clusterExtra: '    lb_policy: LEAST_REQUEST' }));
  try {
    const port = await courier.listenerPort('tcp');
    // Open connections until one is parked on the busy host (those reaching the idle host
    // are answered and closed at once).
    const parked: net.Socket[] = [];
    const active = async (p: number): Promise<number> =>
      Number(new RegExp(`backend::127\\.0\\.0\\.1:${p}::rq_active::(\\d+)`).exec((await courier.admin('/clusters')).body)?.[1] ?? 0);
    while ((await active(busy.port)) === 0) {
      const p = await connect(port);
      void closed(p);
      parked.push(p);
      await new Promise((r) => setTimeout(r, 30));
    }
    await eventually(async () => (await active(idle.port)) === 0, 'nothing open on the idle host');
    // With the busy host holding one connection and the idle one none, new picks go to idle.
    const counts = await tally(port, 10);
    assert.equal(counts.get('idle'), 10);
    for (const p of parked) p.destroy();
  } finally {
    await courier.stop();
    await busy.close();
    await idle.close();
  }
});

test('weighted_clusters split connections by weight', async () => {
  const a = await namedBackend('a');
  const b = await namedBackend('b');
  const yaml = tcpProxyYaml({ ports: [a.port], clusterName: 'cluster_a' })
    .replace(
      'cluster: cluster_a',
      'weighted_clusters: { clusters: [ { name: cluster_a, weight: 1 }, { name: cluster_b, weight: 3 } ] }',
    )
    .concat(`  - name: cluster_b
    type: STATIC
    load_assignment:
      cluster_name: cluster_b
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${b.port} } } }
`);
  const courier = await startCourier(yaml);
  try {
    const counts = await tally(await courier.listenerPort('tcp'), 200);
    const share = (counts.get('b') ?? 0) / 200;
    assert.ok(share > 0.62 && share < 0.88, `cluster_b got ${share * 100}% (expected 75%)`);
  } finally {
    await courier.stop();
    await a.close();
    await b.close();
  }
});

test('STRICT_DNS resolves endpoint hostnames on the main process (localhost, V4_ONLY)', async () => {
  const backend = await namedBackend('dns-backend');
  const yaml = tcpProxyYaml({ ports: [backend.port] })
    .replace('type: STATIC', 'type: STRICT_DNS\n    dns_lookup_family: V4_ONLY\n    dns_refresh_rate: 0.2s')
    .replace('address: 127.0.0.1, port_value: ' + backend.port, 'address: localhost, port_value: ' + backend.port);
  const courier = await startCourier(yaml);
  try {
    assert.equal(await askWho(await courier.listenerPort('tcp')), 'dns-backend');
    const clusters = await courier.admin('/clusters');
    assert.match(clusters.body, new RegExp(`backend::127\\.0\\.0\\.1:${backend.port}::hostname::localhost`));
    await new Promise((r) => setTimeout(r, 500));
    assert.ok((await courier.stat('cluster.backend.update_success')) >= 2, 're-resolved every dns_refresh_rate');
  } finally {
    await courier.stop();
    await backend.close();
  }
});
