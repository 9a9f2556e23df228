/**
 * The statsd line format and DogStatsD datagram packing, read by a real UDP socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { UdpStatsdSink } from '../../src/common/stats/statsd-sink.js';
import { StatsSinks } from '../../src/common/stats/stats-sinks.js';
import { StatsStore } from '../../src/common/stats/stats-store.js';
import { TagProducer } from '../../src/common/stats/tag-extractor.js';
import { DEFAULT_STATS_CONFIG } from '../../src/config/stats-config.js';
import { eventually } from '../support/courier-harness.js';

async function receiver(): Promise<{ port: number; datagrams: string[]; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  const datagrams: string[] = [];
  socket.on('message', (m) => datagrams.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, datagrams, close: () => socket.close() };
}

test('dog_statsd: lines packed up to max_bytes_per_datagram; a line at the limit goes alone', async () => {
  const r = await receiver();
  const sink = new UdpStatsdSink({ kind: 'dog_statsd', host: '127.0.0.1', port: r.port, prefix: 'envoy', maxBytesPerDatagram: 100 }, new TagProducer());
  try {
    const long = `cluster.c.${'x'.repeat(100)}`;
    sink.flush({
      counters: [
        { name: 'cluster.c.upstream_cx_total', delta: 3 },
        { name: long, delta: 1 },
        { name: 'cluster.d.upstream_cx_total', delta: 0 },
      ],
      gauges: [{ name: 't.upstream_flush_active', value: 2 }],
    });
    sink.histogramSample('http.ingress.downstream_rq_time', 'milliseconds', 0.1 + 0.2);
    await eventually(() => r.datagrams.length === 4, 'four datagrams');
    assert.deepEqual(r.datagrams, [
      // A line as long as the limit is written at once, past the buffered first line ...
      `envoy.cluster.${'x'.repeat(100)}:1|c|#envoy.cluster_name:c`,
      // ... which leaves alone when the third arrives (57 + 1 + 57 bytes exceed 100).
      'envoy.cluster.upstream_cx_total:3|c|#envoy.cluster_name:c',
      // Two short lines share a datagram.
      'envoy.cluster.upstream_cx_total:0|c|#envoy.cluster_name:d\nenvoy.t.upstream_flush_active:2|g',
      'envoy.http.downstream_rq_time:0.3|ms|#envoy.http_conn_manager_prefix:ingress',
    ]);
    assert.ok(r.datagrams.every((d) => d.includes('\n') ? Buffer.byteLength(d) <= 100 : true));
  } finally {
    sink.close();
    r.close();
  }
});

test('sinks: counters as increases since the previous flush, only used stats; histograms per value', async () => {
  const r = await receiver();
  const sinks = new StatsSinks({ ...DEFAULT_STATS_CONFIG, sinks: [{ kind: 'statsd', host: '127.0.0.1', port: r.port, prefix: 'envoy', maxBytesPerDatagram: 0 }] });
  const store = new StatsStore();
  sinks.attach(store);
  try {
    const c = store.counter('cluster.a.upstream_cx_total');
    store.counter('cluster.a.upstream_cx_none'); // never used: never sent
    store.gauge('cluster.a.upstream_cx_active').set(1);
    c.inc(5);
    sinks.flush(store.snapshot());
    c.inc(2);
    sinks.flush(store.snapshot());
    store.resetCounters();
    c.inc(1);
    sinks.flush(store.snapshot());
    store.histogram('cluster.a.upstream_cx_connect_ms', 'milliseconds').record(1.23456);
    await eventually(() => r.datagrams.length === 7, 'seven datagrams');
    assert.deepEqual(r.datagrams, [
      'envoy.cluster.a.upstream_cx_total:5|c',
      'envoy.cluster.a.upstream_cx_active:1|g',
      'envoy.cluster.a.upstream_cx_total:2|c',
      'envoy.cluster.a.upstream_cx_active:1|g',
      'envoy.cluster.a.upstream_cx_total:1|c', // after /reset_counters
      'envoy.cluster.a.upstream_cx_active:1|g',
      'envoy.cluster.a.upstream_cx_connect_ms:1.235|ms',
    ]);
  } finally {
    sinks.close();
    r.close();
  }
});
