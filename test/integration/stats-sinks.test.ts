/**
 * stats_sinks: a real `courier` with two worker processes sends statsd and DogStatsD lines to
 * UDP sockets this test reads, after TCP traffic through the proxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { startCourier, eventually } from '../support/courier-harness.js';
import { tcpProxyYaml } from '../support/configs.js';
import { closed, connect, echoServer, readAll } from '../support/peers.js';

interface UdpCollector {
  port: number;
  datagrams: string[];
  lines(): string[];
  close(): void;
}

async function udpCollector(): Promise<UdpCollector> {
  const socket = dgram.createSocket('udp4');
  const datagrams: string[] = [];
  socket.on('message', (m) => datagrams.push(m.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    datagrams,
    lines: () => datagrams.flatMap((d) => d.split('\n')),
    close: () => socket.close(),
  };
}

/** Sum of the `|c` values of `name` (increases since each previous flush). */
function counterTotal(lines: string[], head: string, tail = ''): number {
  let total = 0;
  for (const l of lines) {
    const m = l.startsWith(head) ? /^:(\d+)\|c(.*)$/.exec(l.slice(head.length)) : null;
    if (m && m[2] === tail) total += Number(m[1]);
  }
  return total;
}

test('statsd and dog_statsd sinks: counters as deltas, gauges as values, a timer per histogram value', async () => {
  const echo = await echoServer();
  const statsd = await udpCollector();
  const dog = await udpCollector();
  const yaml = `${tcpProxyYaml({ ports: [echo.port] })}
stats_flush_interval: 0.2s
stats_config:
  stats_tags:
  - tag_name: deployment
    fixed_value: test
  # Only what the test reads: a few dozen lines per flush, far from filling the UDP receive buffer.
  stats_matcher:
    inclusion_list:
      patterns:
      - prefix: "tcp.tcp_stats.downstream_cx_"
      - prefix: "cluster.backend.upstream_cx_"
      - prefix: "listener.127.0.0.1_0.downstream_cx_length_ms"
      - exact: "server.concurrency"
stats_sinks:
- name: envoy.stat_sinks.statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address: { socket_address: { address: 127.0.0.1, port_value: ${statsd.port}, protocol: UDP } }
    prefix: courier
- name: envoy.stat_sinks.dog_statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink
    address: { socket_address: { address: 127.0.0.1, port_value: ${dog.port} } }
    max_bytes_per_datagram: 512
`;
  const courier = await startCourier(yaml, { processes: 2 });
  try {
    const port = await courier.listenerPort('tcp');
    const CONNECTIONS = 6;
    for (let i = 0; i < CONNECTIONS; i++) {
      const s = await connect(port);
      const got = readAll(s);
      s.end(`hello ${i}`);
      assert.equal((await got).toString(), `hello ${i}`);
      await closed(s);
    }

    // statsd: full names, no tags; the increases add up to the connections made.
    await eventually(() => counterTotal(statsd.lines(), 'courier.tcp.tcp_stats.downstream_cx_total') === CONNECTIONS, 'statsd downstream_cx_total deltas');
    assert.equal(counterTotal(statsd.lines(), 'courier.cluster.backend.upstream_cx_total'), CONNECTIONS);
    // A used counter is sent on every flush, 0 once nothing changes.
    const seen = statsd.lines().length;
    await eventually(() => statsd.lines().slice(seen).includes('courier.tcp.tcp_stats.downstream_cx_total:0|c'), 'a later flush with delta 0');
    // Gauges as values: main's server.concurrency.
    assert.ok(statsd.lines().includes('courier.server.concurrency:2|g'), statsd.lines().join('\n'));
    // One timer per recorded value, sent by the worker that recorded it.
    await eventually(
      () => statsd.lines().filter((l) => /^courier\.cluster\.backend\.upstream_cx_connect_ms:\d+(\.\d{1,3})?\|ms$/.test(l)).length === CONNECTIONS,
      'one upstream_cx_connect_ms timer per connection',
    );
    // (A listener's stats are named after its configured address: port 0 here, as in Envoy.)
    const listenerLength = /^courier\.listener\.127\.0\.0\.1_0\.downstream_cx_length_ms:[\d.]+\|ms$/;
    await eventually(() => statsd.lines().filter((l) => listenerLength.test(l)).length === CONNECTIONS, 'one downstream_cx_length_ms timer per connection');
    // The plain statsd sink sends one line per datagram.
    assert.ok(statsd.datagrams.every((d) => !d.includes('\n')));
    // stats_matcher: stats outside the inclusion list are sent nowhere and shown nowhere.
    assert.ok(!statsd.lines().some((l) => l.startsWith('courier.listener_manager.') || l.startsWith('courier.server.live')));
    const shown = [...(await courier.stats()).keys()];
    assert.ok(shown.includes('server.concurrency') && !shown.some((n) => n.startsWith('listener_manager.')), shown.join(' '));

    // DogStatsD: tag-extracted names, the fixed tag first, then the extracted ones.
    const tcpTags = '|#deployment:test,envoy.tcp_prefix:tcp_stats';
    await eventually(() => counterTotal(dog.lines(), 'envoy.tcp.downstream_cx_total', tcpTags) === CONNECTIONS, 'dog_statsd downstream_cx_total deltas');
    assert.equal(counterTotal(dog.lines(), 'envoy.cluster.upstream_cx_total', '|#deployment:test,envoy.cluster_name:backend'), CONNECTIONS);
    await eventually(
      () => dog.lines().filter((l) => /^envoy\.cluster\.upstream_cx_connect_ms:[\d.]+\|ms\|#deployment:test,envoy\.cluster_name:backend$/.test(l)).length === CONNECTIONS,
      'dog_statsd timers with tags',
    );
    const dogLength = '|ms|#deployment:test,envoy.listener_address:127.0.0.1_0';
    assert.ok(dog.lines().some((l) => l.startsWith('envoy.listener.downstream_cx_length_ms:') && l.endsWith(dogLength)), dog.lines().join('\n'));
    // Lines packed into datagrams of at most max_bytes_per_datagram.
    assert.ok(dog.datagrams.every((d) => Buffer.byteLength(d) <= 512), 'datagrams within 512 bytes');
    assert.ok(dog.datagrams.some((d) => d.split('\n').length > 1), 'several lines per datagram');
  } finally {
    await courier.stop();
    statsd.close();
    dog.close();
    await echo.close();
  }
});
