import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadBootstrapText } from '../../src/config/bootstrap.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';
import { TagProducer } from '../../src/common/stats/tag-extractor.js';
import { StatsNameMatcher } from '../../src/common/stats/stats-matcher.js';
import { StatsStore } from '../../src/common/stats/stats-store.js';

const load = (yaml: string) => loadBootstrapText(yaml, 'stats.yaml', networkFilterRegistry()).config;
const refused = (yaml: string, message: RegExp): void => assert.throws(() => load(yaml), message);

const sink = (typed: string, name = 'envoy.stat_sinks.statsd'): string => `
stats_sinks:
- name: ${name}
  typed_config:
${typed}`;

test('stats_sinks: statsd and dog_statsd read with Envoy defaults', () => {
  const c = load(`${sink(`    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address: { socket_address: { address: 127.0.0.1, port_value: 8125, protocol: UDP } }`)}
- name: envoy.stat_sinks.dog_statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.DogStatsdSink
    address: { socket_address: { address: "::1", port_value: 8126 } }
    prefix: mesh
    max_bytes_per_datagram: 1400
`);
  assert.deepEqual(c.stats.sinks, [
    { kind: 'statsd', host: '127.0.0.1', port: 8125, prefix: 'envoy', maxBytesPerDatagram: 0 },
    { kind: 'dog_statsd', host: '::1', port: 8126, prefix: 'mesh', maxBytesPerDatagram: 1400 },
  ]);
  assert.deepEqual(c.stats.tags, { useAllDefaultTags: true, specifiers: [] });
  assert.equal(c.stats.matcher, undefined);
});

test('stats_sinks: tcp_cluster_name, other sink types, hostnames and a missing address are refused by name', () => {
  refused(sink(`    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    tcp_cluster_name: statsd`), /stats_sinks\[0\]\.typed_config\.tcp_cluster_name.*statsd over TCP through a cluster\) is not supported by Courier yet; use address \(UDP\)/);
  refused(sink(`    "@type": type.googleapis.com/envoy.config.metrics.v3.HystrixSink`, 'envoy.stat_sinks.hystrix'),
    /stats sink envoy\.stat_sinks\.hystrix \(envoy\.config\.metrics\.v3\.HystrixSink\) is not supported by Courier yet/);
  refused(sink(`    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address: { socket_address: { address: statsd.local, port_value: 8125 } }`), /malformed IP address: statsd\.local/);
  refused(sink(`    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    prefix: x`), /stats_sinks\[0\]\.typed_config .*one of "address", "tcp_cluster_name" is required/);
  refused(`
stats_sinks:
- name: envoy.stat_sinks.statsd`, /typed_config is required \(stats sink envoy\.stat_sinks\.statsd\)/);
});

test('stats_config: tag specifiers checked as Envoy does, regexes as RE2', () => {
  refused(`
stats_config:
  stats_tags:
  - tag_name: envoy.cluster_name
    regex: "^cluster\\\\.((.+?)\\\\.)"`, /stats_config\.stats_tags\[0\]\.tag_name.*Tag name 'envoy\.cluster_name' specified twice\./);
  refused(`
stats_config:
  use_all_default_tags: false
  stats_tags:
  - tag_name: mine`, /No regex specified for tag specifier and no default regex for name: 'mine'/);
  refused(`
stats_config:
  stats_tags:
  - tag_name: a
    regex: "^(?=x)(a)"`, /stats_config\.stats_tags\[0\]\.regex.*look-around assertions/);
  refused(`
stats_config:
  histogram_bucket_settings: [{ match: { prefix: x }, buckets: [1] }]`, /StatsConfig\.histogram_bucket_settings is not supported by Courier yet/);
  refused(`
stats_config:
  stats_matcher:
    inclusion_list: { patterns: [ { safe_regex: { regex: "(" } } ] }`, /stats_matcher\.inclusion_list\.patterns\[0\]\.safe_regex\.regex/);
  const ok = load(`
stats_config:
  use_all_default_tags: false
  stats_tags:
  - tag_name: envoy.cluster_name
  - tag_name: zone
    fixed_value: eu
  stats_matcher: { reject_all: false }`);
  assert.deepEqual(ok.stats.tags.specifiers, [{ name: 'envoy.cluster_name' }, { name: 'zone', fixedValue: 'eu' }]);
  assert.equal(ok.stats.matcher, undefined); // reject_all: false keeps everything
});

test('tag extraction: Envoy defaults, in Envoy order, on the names Courier makes', () => {
  const tags = new TagProducer();
  const cases: Array<[string, string, Array<[string, string]>]> = [
    ['cluster.backend.upstream_rq_503', 'cluster.upstream_rq', [['envoy.response_code', '503'], ['envoy.cluster_name', 'backend']]],
    ['http.ingress.downstream_rq_5xx', 'http.downstream_rq_xx', [['envoy.response_code_class', '5'], ['envoy.http_conn_manager_prefix', 'ingress']]],
    ['listener.0.0.0.0_80.http.ingress.downstream_rq_2xx', 'listener.http.downstream_rq_xx', [
      ['envoy.response_code_class', '2'], ['envoy.http_conn_manager_prefix', 'ingress'], ['envoy.listener_address', '0.0.0.0_80'],
    ]],
    ['listener.[__1]_443.worker_3.downstream_cx_total', 'listener.worker_downstream_cx_total', [['envoy.worker_id', '3'], ['envoy.listener_address', '[__1]_443']]],
    ['listener.admin.downstream_cx_total', 'listener.admin.downstream_cx_total', []],
    ['http.ingress.rds.my.routes.update_success', 'http.rds.update_success', [['envoy.rds_route_config', 'my.routes'], ['envoy.http_conn_manager_prefix', 'ingress']]],
    ['tcp.tcp_stats.upstream_flush_active', 'tcp.upstream_flush_active', [['envoy.tcp_prefix', 'tcp_stats']]],
    ['thrift.t.request', 'thrift.request', [['envoy.thrift_prefix', 't']]],
    ['dubbo.d.request_time_ms', 'dubbo.request_time_ms', [['envoy.dubbo_prefix', 'd']]],
    ['cluster.c.grpc.svc.m.success', 'cluster.grpc.success', [['envoy.grpc_bridge_method', 'm'], ['envoy.grpc_bridge_service', 'svc'], ['envoy.cluster_name', 'c']]],
    // `tcp.$.**` needs a token after the prefix; a name that ends at it keeps its prefix.
    ['tcp.only', 'tcp.only', []],
    ['server.live', 'server.live', []],
  ];
  for (const [stat, name, expected] of cases) {
    assert.deepEqual(tags.produce(stat), { name, tags: expected }, stat);
  }
});

test('tag extraction: custom regexes (group 1 cut, group 2 or else group 1 the value) and fixed values', () => {
  const tags = new TagProducer({
    useAllDefaultTags: false,
    specifiers: [
      { name: 'team', fixedValue: 'core' },
      { name: 'shard', regex: String.raw`\.((shard_\d+)\.)` },
      { name: 'kind', regex: String.raw`_(hits)$` },
    ],
  });
  assert.deepEqual(tags.produce('cache.shard_7.hits'), { name: 'cache.hits', tags: [['team', 'core'], ['shard', 'shard_7']] });
  assert.deepEqual(tags.produce('cache.miss_hits'), { name: 'cache.miss_', tags: [['team', 'core'], ['kind', 'hits']] });
  assert.deepEqual(tags.produce('cache.hits'), { name: 'cache.hits', tags: [['team', 'core']] });
  assert.throws(() => new TagProducer({ useAllDefaultTags: true, specifiers: [{ name: 'envoy.tcp_prefix' }] }), /specified twice/);
});

test('stats_matcher: inclusion, exclusion and reject_all apply to full names', () => {
  const store = new StatsStore();
  store.counter('cluster.a.upstream_cx_total').inc();
  store.counter('http.ingress.downstream_rq_total').inc();
  store.gauge('server.live').set(1);
  const snap = store.snapshot();
  const only = new StatsNameMatcher({ kind: 'inclusion_list', patterns: [{ kind: 'prefix', value: 'cluster.', ignoreCase: false }] }).filter(snap);
  assert.deepEqual(Object.keys(only.counters), ['cluster.a.upstream_cx_total']);
  assert.deepEqual(only.gauges, {});
  assert.deepEqual(only.used, ['cluster.a.upstream_cx_total']);
  const without = new StatsNameMatcher({ kind: 'exclusion_list', patterns: [{ kind: 'regex', regex: String.raw`http\..*` }] }).filter(snap);
  assert.deepEqual(Object.keys(without.counters), ['cluster.a.upstream_cx_total']);
  assert.deepEqual(Object.keys(without.gauges), ['server.live']);
  const none = new StatsNameMatcher({ kind: 'reject_all' }).filter(snap);
  assert.deepEqual(none, { counters: {}, gauges: {}, histograms: {}, used: [] });
});
