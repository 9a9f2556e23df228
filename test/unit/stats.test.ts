import { test } from 'node:test';
import assert from 'node:assert/strict';

import { StatsStore } from '../../src/common/stats/stats-store.js';
import { mergeSnapshots } from '../../src/common/stats/stats-merge.js';
import { computeQuantiles, histogramQuantile } from '../../src/common/stats/histogram-quantiles.js';
import { formatDouble, formatStatsJson, formatStatsText } from '../../src/common/stats/stats-format.js';
import { formatStatsPrometheus, prometheusMetricName } from '../../src/common/stats/prometheus-format.js';
import { DEFAULT_HISTOGRAM_BUCKETS } from '../../src/api/stats.js';

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

test('store: handles are cached by full name; scopes prepend their prefix', () => {
  const store = new StatsStore();
  const a = store.counter('tcp.ingress.downstream_cx_total');
  const b = store.scope('tcp').scope('ingress').counter('downstream_cx_total');
  const c = store.scope('tcp.ingress.').counter('downstream_cx_total');
  assert.equal(a, b);
  assert.equal(a, c);
  assert.equal(store.scope('tcp.ingress').prefix, 'tcp.ingress.');
  assert.equal(store.prefix, '');
  b.inc();
  c.inc(2);
  assert.equal(a.value, 3);
  assert.equal(a.name, 'tcp.ingress.downstream_cx_total');
  assert.equal(store.histogram('h', 'milliseconds'), store.histogram('h'));
});

test('store: a name used as another kind throws', () => {
  const store = new StatsStore();
  store.counter('x.y');
  assert.throws(() => store.gauge('x.y'), /already exists as a counter/);
  assert.throws(() => store.histogram('x.y'), /already exists as a counter/);
  store.gauge('g');
  assert.throws(() => store.scope('').counter('g'), /already exists as a gauge/);
});

test('store: gauge set/inc/dec and histogram buckets in the snapshot', () => {
  const store = new StatsStore();
  const g = store.gauge('cluster.b.upstream_cx_active');
  g.set(5);
  g.inc();
  g.dec(3);
  assert.equal(g.value, 3);
  const h = store.histogram('cluster.b.upstream_cx_connect_ms', 'milliseconds');
  h.record(0.5); // (0, 0.5]
  h.record(3); // (1, 5]
  h.record(5); // (1, 5]
  h.record(4000000); // +Inf
  const snap = store.snapshot();
  const hs = snap.histograms['cluster.b.upstream_cx_connect_ms']!;
  assert.equal(hs.unit, 'milliseconds');
  assert.equal(hs.buckets.length, DEFAULT_HISTOGRAM_BUCKETS.length + 1);
  assert.equal(hs.buckets[0], 1);
  assert.equal(hs.buckets[2], 2);
  assert.equal(hs.buckets[DEFAULT_HISTOGRAM_BUCKETS.length], 1);
  assert.equal(hs.count, 4);
  assert.equal(hs.sum, 4000008.5);
  assert.equal(snap.gauges['cluster.b.upstream_cx_active'], 3);
  // Plain data: survives the trip through JSON unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
});

test('text: sorted "name: value" lines, counters and gauges together, then histograms', () => {
  const store = new StatsStore();
  store.counter('tcp.ingress.downstream_cx_total').inc(7);
  store.gauge('cluster.backend.upstream_cx_active').set(2);
  store.counter('cluster.backend.upstream_cx_total').inc(4);
  store.counter('server.watchdog_miss');
  store.histogram('cluster.backend.upstream_cx_length_ms', 'milliseconds');
  const h = store.histogram('cluster.backend.upstream_cx_connect_ms', 'milliseconds');
  h.record(2);
  h.record(4);
  assert.deepEqual(lines(formatStatsText(store.snapshot())), [
    'cluster.backend.upstream_cx_active: 2',
    'cluster.backend.upstream_cx_total: 4',
    'server.watchdog_miss: 0',
    'tcp.ingress.downstream_cx_total: 7',
    // Bucket (1, 5] holds both samples; estimates stay between the smallest and largest value.
    'cluster.backend.upstream_cx_connect_ms: P0(nan,2) P25(nan,2) P50(nan,3) P75(nan,4) P90(nan,4) ' +
      'P95(nan,4) P99(nan,4) P99.5(nan,4) P99.9(nan,4) P100(nan,4)',
    'cluster.backend.upstream_cx_length_ms: No recorded values',
  ]);
});

test('text: ?usedonly hides untouched stats; filter is a regex searched in the name', () => {
  const store = new StatsStore();
  store.counter('cluster.a.upstream_cx_total').inc();
  store.counter('cluster.a.upstream_cx_none');
  store.gauge('cluster.a.upstream_cx_active').set(0); // set to 0 still counts as used
  store.gauge('server.live');
  store.histogram('cluster.a.upstream_cx_length_ms');
  store.counter('tcp.t.downstream_cx_total').inc();
  const snap = store.snapshot();

  assert.deepEqual(lines(formatStatsText(snap, { usedOnly: true })), [
    'cluster.a.upstream_cx_active: 0',
    'cluster.a.upstream_cx_total: 1',
    'tcp.t.downstream_cx_total: 1',
  ]);
  assert.deepEqual(lines(formatStatsText(snap, { filter: /^cluster\.a\.upstream_cx_(total|length)/ })), [
    'cluster.a.upstream_cx_total: 1',
    'cluster.a.upstream_cx_length_ms: No recorded values',
  ]);
  const g = /cx_total/g; // a stateful /g regex must not skip matches
  assert.deepEqual(lines(formatStatsText(snap, { filter: g, usedOnly: true })), [
    'cluster.a.upstream_cx_total: 1',
    'tcp.t.downstream_cx_total: 1',
  ]);
});

test('json: Envoy shape with stats then a histograms element', () => {
  const store = new StatsStore();
  store.counter('cluster.b.upstream_cx_total').inc(3);
  store.gauge('server.live').set(1);
  store.histogram('cluster.b.upstream_cx_connect_ms').record(3);
  store.histogram('cluster.b.upstream_cx_length_ms');
  const doc = JSON.parse(formatStatsJson(store.snapshot()));
  assert.deepEqual(doc.stats.slice(0, 2), [
    { name: 'cluster.b.upstream_cx_total', value: 3 },
    { name: 'server.live', value: 1 },
  ]);
  assert.equal(doc.stats.length, 3);
  const hist = doc.stats[2].histograms;
  assert.deepEqual(hist.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
  assert.deepEqual(
    hist.computed_quantiles.map((q: { name: string }) => q.name),
    ['cluster.b.upstream_cx_connect_ms', 'cluster.b.upstream_cx_length_ms'],
  );
  const connect = hist.computed_quantiles[0].values;
  assert.equal(connect.length, 10);
  // One sample: every quantile is that sample (no spread invented across its bucket (1, 5]).
  assert.deepEqual(connect.map((v: { cumulative: number }) => v.cumulative), [3, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
  assert.deepEqual(hist.computed_quantiles[1].values[5], { interval: null, cumulative: null });

  // No histogram selected: no histograms element.
  const onlyCounters = JSON.parse(formatStatsJson(store.snapshot(), { filter: /upstream_cx_total/ }));
  assert.deepEqual(onlyCounters, { stats: [{ name: 'cluster.b.upstream_cx_total', value: 3 }] });
});

test('prometheus: cluster counter, tcp counter, listener gauge', () => {
  const store = new StatsStore();
  store.counter('cluster.backend.upstream_cx_total').inc(5);
  store.counter('cluster.other.upstream_cx_total').inc(1);
  store.counter('tcp.ingress_tcp.downstream_cx_total').inc(2);
  store.gauge('listener.127.0.0.1_10000.downstream_cx_active').set(3);
  store.gauge('listener.[::1]_10000.downstream_cx_active').set(1);
  store.counter('server.watchdog_mega_miss');
  store.gauge('cluster_manager.active_clusters').set(2);
  const out = formatStatsPrometheus(store.snapshot());
  const l = lines(out);
  const family = (name: string) => l.filter((x) => x === `# TYPE ${name}` || x.startsWith(name.split(' ')[0]!));

  assert.deepEqual(family('envoy_cluster_upstream_cx_total counter'), [
    '# TYPE envoy_cluster_upstream_cx_total counter',
    'envoy_cluster_upstream_cx_total{envoy_cluster_name="backend"} 5',
    'envoy_cluster_upstream_cx_total{envoy_cluster_name="other"} 1',
  ]);
  assert.deepEqual(family('envoy_tcp_downstream_cx_total counter'), [
    '# TYPE envoy_tcp_downstream_cx_total counter',
    'envoy_tcp_downstream_cx_total{envoy_tcp_prefix="ingress_tcp"} 2',
  ]);
  assert.deepEqual(family('envoy_listener_downstream_cx_active gauge'), [
    '# TYPE envoy_listener_downstream_cx_active gauge',
    'envoy_listener_downstream_cx_active{envoy_listener_address="127.0.0.1_10000"} 3',
    'envoy_listener_downstream_cx_active{envoy_listener_address="[::1]_10000"} 1',
  ]);
  assert.ok(l.includes('envoy_server_watchdog_mega_miss{} 0'));
  assert.ok(l.includes('envoy_cluster_manager_active_clusters{} 2'));
  // Counters first, then gauges; one TYPE line per family.
  const types = l.filter((x) => x.startsWith('# TYPE'));
  assert.equal(new Set(types).size, types.length);
  assert.ok(out.indexOf('counter\n') < out.indexOf('gauge\n'));
  assert.ok(out.endsWith('\n'));
});

test('prometheus: histogram buckets are cumulative, then _sum and _count', () => {
  const store = new StatsStore();
  const h = store.histogram('cluster.backend.upstream_cx_connect_ms', 'milliseconds');
  h.record(0.2);
  h.record(3);
  h.record(7);
  h.record(7000000);
  const l = lines(formatStatsPrometheus(store.snapshot()));
  const n = 'envoy_cluster_upstream_cx_connect_ms';
  const tag = 'envoy_cluster_name="backend"';
  assert.equal(l[0], `# TYPE ${n} histogram`);
  assert.deepEqual(l.slice(1, 6), [
    `${n}_bucket{${tag},le="0.5"} 1`,
    `${n}_bucket{${tag},le="1"} 1`,
    `${n}_bucket{${tag},le="5"} 2`,
    `${n}_bucket{${tag},le="10"} 3`,
    `${n}_bucket{${tag},le="25"} 3`,
  ]);
  assert.deepEqual(l.slice(-4), [
    `${n}_bucket{${tag},le="3600000"} 3`,
    `${n}_bucket{${tag},le="+Inf"} 4`,
    `${n}_sum{${tag}} 7000010.2`,
    `${n}_count{${tag}} 4`,
  ]);
  assert.equal(l.length, 1 + DEFAULT_HISTOGRAM_BUCKETS.length + 3);

  // Without tags: le is the only label.
  const s2 = new StatsStore();
  s2.histogram('server.initialization_time_ms').record(30);
  const l2 = lines(formatStatsPrometheus(s2.snapshot()));
  assert.equal(l2[1], 'envoy_server_initialization_time_ms_bucket{le="0.5"} 0');
  assert.equal(l2.at(-2), 'envoy_server_initialization_time_ms_sum{} 30');
});

test('prometheus: dotted cluster names, label escaping, Envoy well-known tags', () => {
  const store = new StatsStore();
  // Envoy's cluster_name extractor (`cluster.$.**`) takes one token: a dotted cluster name is
  // cut at its first dot, as in Envoy (Istio configures its own stats_tags for this).
  store.counter('cluster.outbound|80||svc.ns.svc.cluster.local.upstream_cx_total').inc(9);
  store.gauge('cluster.backend.circuit_breakers.default.cx_open').set(1);
  store.counter('cluster.a"b\\c.upstream_cx_total').inc();
  const l = lines(formatStatsPrometheus(store.snapshot()));
  assert.ok(l.includes('envoy_cluster_ns_svc_cluster_local_upstream_cx_total{envoy_cluster_name="outbound|80||svc"} 9'));
  assert.ok(l.includes('envoy_cluster_upstream_cx_total{envoy_cluster_name="a\\"b\\\\c"} 1'));
  assert.ok(l.includes('envoy_cluster_circuit_breakers_default_cx_open{envoy_cluster_name="backend"} 1'));

  const cases: Array<[string, string, Array<[string, string]>]> = [
    ['cluster.backend.outlier_detection.ejections_active', 'envoy_cluster_outlier_detection_ejections_active', [['envoy_cluster_name', 'backend']]],
    ['cluster.svc.upstream_rq_2xx', 'envoy_cluster_upstream_rq_xx', [['envoy_response_code_class', '2'], ['envoy_cluster_name', 'svc']]],
    ['cluster.backend.upstream_rq_503', 'envoy_cluster_upstream_rq', [['envoy_response_code', '503'], ['envoy_cluster_name', 'backend']]],
    ['cluster.backend.custom_thing', 'envoy_cluster_custom_thing', [['envoy_cluster_name', 'backend']]],
    ['http.ingress.downstream_cx_total', 'envoy_http_downstream_cx_total', [['envoy_http_conn_manager_prefix', 'ingress']]],
    ['http.ingress.rds.local_route.v2.config_reload', 'envoy_http_rds_config_reload', [['envoy_rds_route_config', 'local_route.v2'], ['envoy_http_conn_manager_prefix', 'ingress']]],
    ['dubbo.d1.request', 'envoy_dubbo_request', [['envoy_dubbo_prefix', 'd1']]],
    ['meta_protocol.mp.request_total', 'envoy_meta_protocol_request_total', [['envoy_meta_protocol_prefix', 'mp']]],
    ['listener.admin.downstream_cx_total', 'envoy_listener_admin_downstream_cx_total', []],
    ['listener.0.0.0.0_80.worker_1.downstream_cx_active', 'envoy_listener_worker_downstream_cx_active', [['envoy_worker_id', '1'], ['envoy_listener_address', '0.0.0.0_80']]],
    ['listener_manager.listener_added', 'envoy_listener_manager_listener_added', []],
    ['control_plane.connected_state', 'envoy_control_plane_connected_state', []],
    ['server.memory-allocated', 'envoy_server_memory_allocated', []],
  ];
  for (const [stat, name, labels] of cases) {
    assert.deepEqual(prometheusMetricName(stat), { name, labels }, stat);
  }
});

test('prometheus: usedonly and filter apply to the full stat name', () => {
  const store = new StatsStore();
  store.counter('cluster.a.upstream_cx_total').inc();
  store.counter('cluster.b.upstream_cx_total');
  store.counter('tcp.t.downstream_cx_total').inc();
  const l = lines(formatStatsPrometheus(store.snapshot(), { usedOnly: true, filter: /^cluster\./ }));
  assert.deepEqual(l, [
    '# TYPE envoy_cluster_upstream_cx_total counter',
    'envoy_cluster_upstream_cx_total{envoy_cluster_name="a"} 1',
  ]);
});

test('merge: worker snapshots are summed; histograms merged; used is the union', () => {
  const w1 = new StatsStore();
  const w2 = new StatsStore();
  for (const w of [w1, w2]) {
    w.counter('cluster.b.upstream_cx_total');
    w.gauge('cluster.b.upstream_cx_active');
    w.histogram('cluster.b.upstream_cx_connect_ms');
  }
  w1.counter('cluster.b.upstream_cx_total').inc(3);
  w2.counter('cluster.b.upstream_cx_total').inc(4);
  w1.gauge('cluster.b.upstream_cx_active').set(2);
  w2.gauge('cluster.b.upstream_cx_active').set(5);
  w2.counter('tcp.t.only_on_worker_2').inc();
  w1.histogram('cluster.b.upstream_cx_connect_ms').record(3);
  w2.histogram('cluster.b.upstream_cx_connect_ms').record(4);
  w2.histogram('cluster.b.upstream_cx_connect_ms').record(20);
  const s1 = w1.snapshot();
  const s1Copy = JSON.parse(JSON.stringify(s1));
  const merged = mergeSnapshots([s1, w2.snapshot()]);

  assert.deepEqual(s1, s1Copy); // inputs untouched
  assert.equal(merged.counters['cluster.b.upstream_cx_total'], 7);
  assert.equal(merged.counters['tcp.t.only_on_worker_2'], 1);
  assert.equal(merged.gauges['cluster.b.upstream_cx_active'], 7);
  const h = merged.histograms['cluster.b.upstream_cx_connect_ms']!;
  assert.equal(h.count, 3);
  assert.equal(h.sum, 27);
  assert.equal(h.buckets[2], 2);
  assert.equal(h.buckets[4], 1);
  assert.deepEqual(merged.used, [
    'cluster.b.upstream_cx_active',
    'cluster.b.upstream_cx_connect_ms',
    'cluster.b.upstream_cx_total',
    'tcp.t.only_on_worker_2',
  ]);
  assert.ok(lines(formatStatsText(merged)).includes('cluster.b.upstream_cx_total: 7'));
  assert.deepEqual(mergeSnapshots([]), { counters: {}, gauges: {}, histograms: {}, used: [] });
});

test('reset_counters: counters to 0, histograms emptied, gauges kept, still "used"', () => {
  const store = new StatsStore();
  const c = store.counter('cluster.b.upstream_cx_total');
  const g = store.gauge('cluster.b.upstream_cx_active');
  const h = store.histogram('cluster.b.upstream_cx_connect_ms');
  c.inc(10);
  g.set(4);
  h.record(12);
  store.resetCounters();
  assert.equal(c.value, 0);
  assert.equal(g.value, 4);
  assert.deepEqual(lines(formatStatsText(store.snapshot(), { usedOnly: true })), [
    'cluster.b.upstream_cx_active: 4',
    'cluster.b.upstream_cx_total: 0',
    'cluster.b.upstream_cx_connect_ms: No recorded values',
  ]);
  const hs = store.snapshot().histograms['cluster.b.upstream_cx_connect_ms']!;
  assert.equal(hs.count, 0);
  assert.equal(hs.sum, 0);
  assert.ok(hs.buckets.every((b) => b === 0));
  c.inc(); // the same handle keeps working
  assert.equal(store.snapshot().counters['cluster.b.upstream_cx_total'], 1);
});

test('quantiles: linear interpolation inside buckets', () => {
  const buckets = new Array(DEFAULT_HISTOGRAM_BUCKETS.length + 1).fill(0);
  buckets[3] = 10; // (5, 10]
  buckets[4] = 10; // (10, 25]
  const h = { buckets, sum: 1000, count: 20 };
  assert.equal(histogramQuantile(h, 0), 5);
  assert.equal(histogramQuantile(h, 0.25), 7.5);
  assert.equal(histogramQuantile(h, 0.5), 10);
  assert.equal(histogramQuantile(h, 0.75), 17.5);
  assert.equal(histogramQuantile(h, 1), 25);
  assert.equal(computeQuantiles(h).length, 10);
  assert.ok(Number.isNaN(histogramQuantile({ buckets: buckets.map(() => 0), sum: 0 }, 0.5)));
  // All-zero values: capped at the sum.
  const zeros = buckets.map(() => 0);
  zeros[0] = 5;
  assert.equal(histogramQuantile({ buckets: zeros, sum: 0 }, 0.5), 0);
  // +Inf bucket reports the last finite bound.
  const inf = buckets.map(() => 0);
  inf[DEFAULT_HISTOGRAM_BUCKETS.length] = 1;
  assert.equal(histogramQuantile({ buckets: inf, sum: 9e6 }, 0.99), 3600000);
});

test('formatDouble prints like fmt {}', () => {
  assert.equal(formatDouble(NaN), 'nan');
  assert.equal(formatDouble(1), '1');
  assert.equal(formatDouble(4.996), '4.996');
  assert.equal(formatDouble(3600000), '3600000');
  assert.equal(formatDouble(1e16), '1e+16');
  assert.equal(formatDouble(0.00001), '1e-05');
  assert.equal(formatDouble(0.0001), '0.0001');
});

test('histograms: one sample prints that sample for every quantile, without float noise', () => {
  const store = new StatsStore();
  store.histogram('cluster.b.upstream_cx_connect_ms', 'milliseconds').record(12);
  const noisy = store.histogram('cluster.b.upstream_cx_length_ms', 'milliseconds');
  noisy.record(0.1);
  noisy.record(0.2);
  const text = lines(formatStatsText(store.snapshot()));
  assert.deepEqual(text, [
    'cluster.b.upstream_cx_connect_ms: P0(nan,12) P25(nan,12) P50(nan,12) P75(nan,12) P90(nan,12) ' +
      'P95(nan,12) P99(nan,12) P99.5(nan,12) P99.9(nan,12) P100(nan,12)',
    // Both in bucket (0, 0.5]: the estimates stay in [0.1, 0.2]; the sum 0.1 + 0.2 is 0.3, not 0.30000000000000004.
    'cluster.b.upstream_cx_length_ms: P0(nan,0.1) P25(nan,0.125) P50(nan,0.2) P75(nan,0.2) P90(nan,0.2) ' +
      'P95(nan,0.2) P99(nan,0.2) P99.5(nan,0.2) P99.9(nan,0.2) P100(nan,0.2)',
  ]);
  const prom = lines(formatStatsPrometheus(store.snapshot()));
  assert.ok(prom.includes('envoy_cluster_upstream_cx_length_ms_sum{envoy_cluster_name="b"} 0.3'), prom.join('\n'));
  for (const l of [...text, ...prom, formatStatsJson(store.snapshot())]) assert.doesNotMatch(l, /\d{12,}/);

  // Merged across workers, min and max still bound the estimates.
  const w2 = new StatsStore();
  w2.histogram('cluster.b.upstream_cx_connect_ms', 'milliseconds').record(14);
  const merged = mergeSnapshots([store.snapshot(), w2.snapshot()]);
  const q = computeQuantiles(merged.histograms['cluster.b.upstream_cx_connect_ms']!);
  assert.equal(q[0], 12);
  assert.equal(q.at(-1), 14);
});
