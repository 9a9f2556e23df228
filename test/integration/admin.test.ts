/**
 * The admin endpoints as an operator reads them (Envoy's names and shapes), with real traffic
 * through a TCP proxy in front of an echo backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCourier, eventually, type CourierHandle, type StartOptions } from '../support/courier-harness.js';
import { tcpProxyYaml } from '../support/configs.js';
import { connect, echoServer, readAll, type Peer } from '../support/peers.js';

/** Sends `text` through the proxy to the echo backend and checks it comes back; closes. */
async function echoOnce(port: number, text = 'ping'): Promise<void> {
  const c = await connect(port);
  const all = readAll(c);
  c.end(text);
  assert.equal((await all).toString(), text);
}

/** Courier in front of an echo backend, with `connections` round trips done. */
async function withCourier(
  connections: number,
  body: (courier: CourierHandle, ctx: { port: number; upstream: Peer }) => Promise<void>,
  opts: StartOptions = {},
): Promise<void> {
  const upstream = await echoServer();
  const courier = await startCourier(tcpProxyYaml({ ports: [upstream.port] }), opts);
  try {
    const port = await courier.listenerPort('tcp');
    for (let i = 0; i < connections; i++) await echoOnce(port);
    // Closed on both sides: the counters are final.
    if (connections > 0) await eventually(async () => (await courier.stat('cluster.backend.upstream_cx_destroy')) === connections, 'upstream closes');
    await body(courier, { port, upstream });
  } finally {
    await courier.stop();
    await upstream.close();
  }
}

test('GET /stats: one `name: value` line per stat, Envoy names', async () => {
  await withCourier(2, async (courier) => {
    const { status, body } = await courier.admin('/stats');
    assert.equal(status, 200);
    assert.match(body, /^tcp\.tcp_stats\.downstream_cx_total: 2$/m);
    assert.match(body, /^tcp\.tcp_stats\.downstream_cx_tx_bytes_total: 8$/m);
    assert.match(body, /^cluster\.backend\.upstream_cx_total: 2$/m);
    assert.match(body, /^listener\.127\.0\.0\.1_0\.downstream_cx_total: 2$/m);
    assert.match(body, /^server\.live: 1$/m);
    // Histograms after counters and gauges, with Envoy's quantile summary.
    assert.match(body, /^cluster\.backend\.upstream_cx_connect_ms: P0\(nan,[\d.]+\) P25\(/m);
    const names = body.split('\n').filter((l) => /^\S+: -?\d+$/.test(l)).map((l) => l.split(':')[0]!);
    assert.deepEqual(names, [...names].sort(), 'counters and gauges sorted by name');
  });
});

test('GET /stats?filter= selects by regex; a bad regex is a 400', async () => {
  await withCourier(1, async (courier) => {
    const { status, body } = await courier.admin(`/stats?filter=${encodeURIComponent('^tcp\\.tcp_stats\\.downstream_cx_(total|rx)')}`);
    assert.equal(status, 200);
    assert.deepEqual(body.trim().split('\n'), ['tcp.tcp_stats.downstream_cx_rx_bytes_buffered: 0', 'tcp.tcp_stats.downstream_cx_rx_bytes_total: 4', 'tcp.tcp_stats.downstream_cx_total: 1']);
    // A search, not a full match, as in Envoy.
    const some = await courier.admin('/stats?filter=upstream_cx_total');
    assert.deepEqual(some.body.trim().split('\n'), ['cluster.backend.upstream_cx_total: 1']);
    const bad = await courier.admin(`/stats?filter=${encodeURIComponent('(unclosed')}`);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /regex/i);
  });
});

test('GET /stats?usedonly hides stats that were never touched', async () => {
  await withCourier(1, async (courier) => {
    const all = (await courier.admin('/stats')).body;
    const used = (await courier.admin('/stats?usedonly')).body;
    assert.match(all, /^tcp\.tcp_stats\.idle_timeout: 0$/m);
    assert.doesNotMatch(used, /^tcp\.tcp_stats\.idle_timeout:/m);
    assert.doesNotMatch(used, /^cluster\.backend\.upstream_cx_connect_fail:/m);
    assert.match(used, /^tcp\.tcp_stats\.downstream_cx_total: 1$/m);
    assert.match(used, /^cluster\.backend\.upstream_cx_total: 1$/m);
    assert.ok(used.split('\n').length < all.split('\n').length);
    // Combines with filter.
    const both = (await courier.admin('/stats?usedonly&filter=tcp_stats')).body;
    assert.deepEqual(both.trim().split('\n').map((l) => l.split(':')[0]), [
      'tcp.tcp_stats.downstream_cx_rx_bytes_total',
      'tcp.tcp_stats.downstream_cx_total',
      'tcp.tcp_stats.downstream_cx_tx_bytes_total',
    ]);
  });
});

test('GET /stats?format=json: Envoy\'s shape, with histograms last', async () => {
  await withCourier(1, async (courier) => {
    const { status, body } = await courier.admin('/stats?format=json');
    assert.equal(status, 200);
    const parsed = JSON.parse(body) as {
      stats: Array<{ name?: string; value?: number; histograms?: { supported_quantiles: number[]; computed_quantiles: Array<{ name: string; values: unknown[] }> } }>;
    };
    assert.ok(Array.isArray(parsed.stats));
    assert.deepEqual(parsed.stats.find((s) => s.name === 'tcp.tcp_stats.downstream_cx_total'), { name: 'tcp.tcp_stats.downstream_cx_total', value: 1 });
    const last = parsed.stats.at(-1)!;
    assert.ok(last.histograms, 'the last entry holds the histograms');
    assert.deepEqual(last.histograms.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
    const connect = last.histograms.computed_quantiles.find((h) => h.name === 'cluster.backend.upstream_cx_connect_ms');
    assert.ok(connect);
    assert.equal(connect.values.length, 10);
    for (const s of parsed.stats.slice(0, -1)) assert.equal(typeof s.value, 'number', JSON.stringify(s));
    const unknownFormat = await courier.admin('/stats?format=xml');
    assert.equal(unknownFormat.status, 400);
  });
});

test('GET /stats/prometheus: tags pulled out of names, # TYPE lines', async () => {
  await withCourier(3, async (courier) => {
    const { status, body } = await courier.admin('/stats/prometheus');
    assert.equal(status, 200);
    assert.match(body, /^envoy_cluster_upstream_cx_total\{envoy_cluster_name="backend"\} 3$/m);
    assert.match(body, /^envoy_tcp_downstream_cx_total\{envoy_tcp_prefix="tcp_stats"\} 3$/m);
    assert.match(body, /^envoy_listener_downstream_cx_total\{envoy_listener_address="127\.0\.0\.1_0"\} 3$/m);
    assert.match(body, /^# TYPE envoy_cluster_upstream_cx_total counter$/m);
    assert.match(body, /^# TYPE envoy_cluster_upstream_cx_active gauge$/m);
    assert.match(body, /^# TYPE envoy_cluster_upstream_cx_connect_ms histogram$/m);
    assert.match(body, /^envoy_cluster_upstream_cx_connect_ms_count\{envoy_cluster_name="backend"\} 3$/m);
    assert.match(body, /^envoy_cluster_upstream_cx_connect_ms_bucket\{envoy_cluster_name="backend",le="\+Inf"\} 3$/m);
    // Every sample line belongs to a family announced by a # TYPE line before it.
    const typed = new Set<string>();
    for (const line of body.split('\n')) {
      const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (t) typed.add(t[1]!);
      else if (line && !line.startsWith('#')) {
        const family = line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, '');
        assert.ok(typed.has(family) || typed.has(line.split(/[{ ]/)[0]!), `no # TYPE before: ${line}`);
      }
    }
    // Same as /stats?format=prometheus.
    const viaStats = await courier.admin('/stats?format=prometheus&filter=tcp_stats');
    assert.match(viaStats.body, /^envoy_tcp_downstream_cx_total\{envoy_tcp_prefix="tcp_stats"\} 3$/m);
    assert.doesNotMatch(viaStats.body, /envoy_cluster_/);
  });
});

test('GET /clusters: per-host counters as `cluster::host::stat::value`, and ?format=json', async () => {
  await withCourier(2, async (courier, { upstream }) => {
    const { status, body } = await courier.admin('/clusters');
    assert.equal(status, 200);
    const host = `backend::127.0.0.1:${upstream.port}::`;
    assert.ok(body.split('\n').includes(`${host}cx_total::2`), body);
    assert.ok(body.split('\n').includes(`${host}rq_total::2`), body);
    assert.ok(body.split('\n').includes(`${host}cx_active::0`), body);
    assert.ok(body.split('\n').includes(`${host}health_flags::healthy`), body);
    assert.ok(body.split('\n').includes('backend::default_priority::max_connections::1024'), body);

    const json = JSON.parse((await courier.admin('/clusters?format=json')).body) as {
      cluster_statuses: Array<{
        name: string;
        host_statuses: Array<{ address: { socket_address: { address: string; port_value: number } }; stats: Array<{ name: string; value: string }> }>;
      }>;
    };
    assert.equal(json.cluster_statuses.length, 1);
    const backend = json.cluster_statuses[0]!;
    assert.equal(backend.name, 'backend');
    assert.equal(backend.host_statuses.length, 1);
    const hs = backend.host_statuses[0]!;
    assert.deepEqual(hs.address, { socket_address: { address: '127.0.0.1', port_value: upstream.port } });
    assert.equal(hs.stats.find((s) => s.name === 'cx_total')?.value, '2');
  });
});

test('GET /listeners shows the port bound for a port-0 listener', async () => {
  await withCourier(0, async (courier, { port }) => {
    assert.notEqual(port, 0);
    const { status, body } = await courier.admin('/listeners');
    assert.equal(status, 200);
    assert.equal(body, `tcp::127.0.0.1:${port}\n`);
    const json = JSON.parse((await courier.admin('/listeners?format=json')).body) as unknown;
    assert.deepEqual(json, { listener_statuses: [{ name: 'tcp', local_address: { socket_address: { address: '127.0.0.1', port_value: port } } }] });
    await echoOnce(port, 'the listed port is the one that works');
  });
});

test('GET /config_dump: the bootstrap, static clusters, static listeners and (empty) routes', async () => {
  await withCourier(0, async (courier, { upstream }) => {
    const { status, body } = await courier.admin('/config_dump');
    assert.equal(status, 200);
    const dump = JSON.parse(body) as { configs: Array<Record<string, unknown> & { '@type': string }> };
    const byType = new Map(dump.configs.map((c) => [c['@type'].split('.').pop(), c]));
    assert.deepEqual([...byType.keys()], ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump']);
    assert.deepEqual(byType.get('RoutesConfigDump'), {
      '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
      static_route_configs: [],
      dynamic_route_configs: [],
    });
    const bootstrap = byType.get('BootstrapConfigDump')!['bootstrap'] as { static_resources: { clusters: Array<{ name: string }> } };
    assert.equal(bootstrap.static_resources.clusters[0]!.name, 'backend');
    const clusters = byType.get('ClustersConfigDump')!['static_clusters'] as Array<{ cluster: { name: string; load_assignment: unknown }; last_updated: string }>;
    assert.equal(clusters.length, 1);
    assert.equal(clusters[0]!.cluster.name, 'backend');
    assert.match(JSON.stringify(clusters[0]!.cluster.load_assignment), new RegExp(`"port_value":${upstream.port}`));
    assert.ok(!Number.isNaN(Date.parse(clusters[0]!.last_updated)));
    const listeners = byType.get('ListenersConfigDump')!['static_listeners'] as Array<{ listener: { name: string } }>;
    assert.deepEqual(listeners.map((l) => l.listener.name), ['tcp']);
  });
});

test('/ready is 200 LIVE; /healthcheck/fail makes it 503 and server.live 0; /healthcheck/ok restores', async () => {
  await withCourier(0, async (courier, { port }) => {
    assert.deepEqual(await courier.admin('/ready'), { status: 200, body: 'LIVE\n' });
    assert.equal(await courier.stat('server.live'), 1);

    assert.equal((await courier.admin('/healthcheck/fail', 'POST')).status, 200);
    assert.deepEqual(await courier.admin('/ready'), { status: 503, body: 'DRAINING\n' });
    assert.equal(await courier.stat('server.live'), 0);
    assert.equal(await courier.stat('server.state'), 1);
    // Failing health checks does not stop traffic.
    await echoOnce(port);

    assert.equal((await courier.admin('/healthcheck/ok', 'POST')).status, 200);
    assert.deepEqual(await courier.admin('/ready'), { status: 200, body: 'LIVE\n' });
    assert.equal(await courier.stat('server.live'), 1);
    assert.equal(await courier.stat('server.state'), 0);
  });
});

test('mutating endpoints refuse GET with 405 and do nothing', async () => {
  await withCourier(1, async (courier, { port }) => {
    for (const p of ['/quitquitquit', '/healthcheck/fail', '/drain_listeners', '/reset_counters']) {
      const r = await courier.admin(p);
      assert.equal(r.status, 405, p);
      assert.match(r.body, /POST required/, p);
    }
    // Still running, still LIVE, counters kept, listener still accepting.
    assert.deepEqual(await courier.admin('/ready'), { status: 200, body: 'LIVE\n' });
    assert.equal(await courier.stat('tcp.tcp_stats.downstream_cx_total'), 1);
    await echoOnce(port);
    assert.equal(await courier.stat('tcp.tcp_stats.downstream_cx_total'), 2);
  });
});

test('POST /reset_counters zeroes counters, keeps gauges, and counting goes on', async () => {
  await withCourier(2, async (courier, { port }) => {
    assert.equal(await courier.stat('tcp.tcp_stats.downstream_cx_total'), 2);
    assert.equal((await courier.admin('/reset_counters', 'POST')).status, 200);
    const stats = await courier.stats();
    assert.equal(stats.get('tcp.tcp_stats.downstream_cx_total'), 0);
    assert.equal(stats.get('cluster.backend.upstream_cx_total'), 0);
    assert.equal(stats.get('listener.127.0.0.1_0.downstream_cx_total'), 0);
    assert.equal(stats.get('cluster.backend.membership_total'), 1, 'gauges are not counters');
    assert.equal(stats.get('server.live'), 1);
    await echoOnce(port);
    assert.equal(await courier.stat('tcp.tcp_stats.downstream_cx_total'), 1);
  });
});

test('GET /server_info: state and command line options', async () => {
  await withCourier(0, async (courier) => {
    const info = JSON.parse((await courier.admin('/server_info')).body) as Record<string, unknown>;
    assert.equal(info['state'], 'LIVE');
    assert.match(String(info['version']), /^courier\/\d+\.\d+\.\d+/);
    assert.equal(typeof info['command_line_options'], 'object');
    assert.match(String(info['uptime_current_epoch']), /^\d+s$/);
    await courier.admin('/healthcheck/fail', 'POST');
    const failed = JSON.parse((await courier.admin('/server_info')).body) as Record<string, unknown>;
    assert.equal(failed['state'], 'DRAINING');
  });
});

test('GET /help lists every endpoint; an unknown path is 404', async () => {
  await withCourier(0, async (courier) => {
    const help = await courier.admin('/help');
    assert.equal(help.status, 200);
    for (const p of [
      '/stats', '/stats/prometheus', '/clusters', '/listeners', '/config_dump', '/ready', '/server_info',
      '/quitquitquit', '/healthcheck/fail', '/healthcheck/ok', '/drain_listeners', '/reset_counters',
    ]) {
      assert.match(help.body, new RegExp(`^  ${p.replace(/\//g, '\\/')}( \\(POST\\))?: \\S`, 'm'), p);
    }
    const missing = await courier.admin('/no/such/thing');
    assert.equal(missing.status, 404);
    assert.match(missing.body, /invalid path/);
  });
});

test('POST /drain_listeners: new connections are refused, an open one keeps working', async () => {
  await withCourier(0, async (courier, { port }) => {
    const open = await connect(port);
    const received: Buffer[] = [];
    open.on('data', (d: Buffer) => received.push(d));
    open.write('before ');
    await eventually(() => Buffer.concat(received).toString() === 'before ', 'echo before drain');

    assert.equal((await courier.admin('/drain_listeners', 'POST')).status, 200);
    await eventually(
      () => connect(port).then((s) => (s.destroy(), false), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED'),
      'listener closed',
    );
    open.write('after');
    await eventually(() => Buffer.concat(received).toString() === 'before after', 'echo after drain');
    const done = readAll(open);
    open.end();
    await done;
    assert.equal(await courier.stat('listener.127.0.0.1_0.downstream_cx_total'), 1);
  });
});

test('with 2 worker processes, stats are the sum over workers', async () => {
  await withCourier(
    0,
    async (courier, { port }) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => echoOnce(port, `connection ${i}`)));
      const stats = await courier.stats();
      assert.equal(stats.get('server.concurrency'), 2);
      assert.equal(stats.get('tcp.tcp_stats.downstream_cx_total'), 20);
      assert.equal(stats.get('listener.127.0.0.1_0.downstream_cx_total'), 20);
      assert.equal(stats.get('cluster.backend.upstream_cx_total'), 20);
      const w0 = stats.get('listener.127.0.0.1_0.worker_0.downstream_cx_total');
      const w1 = stats.get('listener.127.0.0.1_0.worker_1.downstream_cx_total');
      assert.ok(w0 !== undefined && w1 !== undefined, 'a per-worker count for each worker');
      assert.equal(w0 + w1, 20);
      assert.ok(w0 > 0 && w1 > 0, `both workers accepted (worker_0 ${w0}, worker_1 ${w1})`);
      const prom = (await courier.admin('/stats/prometheus')).body;
      assert.match(prom, /^envoy_tcp_downstream_cx_total\{envoy_tcp_prefix="tcp_stats"\} 20$/m);
      const hostLine = (await courier.admin('/clusters')).body.split('\n').find((l) => l.endsWith('::cx_total::20'));
      assert.ok(hostLine, 'host counters are summed too');
      const info = JSON.parse((await courier.admin('/server_info')).body) as { command_line_options: Record<string, unknown> };
      assert.equal(info.command_line_options['concurrency'], 2);
    },
    { processes: 2 },
  );
});
