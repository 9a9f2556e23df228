/**
 * The runtime's pieces: how values parse (Envoy's createEntry), how a snapshot answers
 * (featureEnabled with fractions and integers), how layers flatten (static Struct, disk
 * directory), the bootstrap's layered_runtime errors, and the readers: a MetaProtocol mirror's
 * runtime_key and access log filters. End to end: test/integration/runtime.test.ts and
 * access-log-filter.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RuntimeLoader } from '../../src/api/runtime.js';
import { StreamInfoImpl } from '../../src/api/stream-info.js';
import { compileAccessLogFilter } from '../../src/common/access-log/access-log-filter.js';
import { entryFromText, entryFromValue } from '../../src/common/runtime/runtime-entry.js';
import { directoryLayerValues, structLayerValues } from '../../src/common/runtime/runtime-layers.js';
import { EMPTY_RUNTIME_SNAPSHOT, RuntimeSnapshotImpl, type RuntimeEntry } from '../../src/common/runtime/runtime-snapshot.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';
import { loadBootstrapText } from '../../src/config/bootstrap.js';
import { ConfigError, ProblemCollector } from '../../src/config/config-error.js';
import { parseAccessLogFilter } from '../../src/config/access-log-filter-config.js';
import { parseMetaRouteConfiguration } from '../../src/extensions/filters/network/meta_protocol_proxy/route/route-config.js';
import { MetaRouteTable } from '../../src/extensions/filters/network/meta_protocol_proxy/route/route-table.js';
import { tmpDir } from '../support/courier-harness.js';

function snapshotOf(values: Record<string, string>): RuntimeSnapshotImpl {
  return new RuntimeSnapshotImpl(new Map(Object.entries(values).map(([k, v]) => [k, entryFromText(v)] as [string, RuntimeEntry])));
}

function loaderOf(values: Record<string, string>): RuntimeLoader {
  const s = snapshotOf(values);
  return { snapshot: () => s };
}

test('values parse as Envoy reads them: integers, doubles, booleans, fractions, strings', () => {
  assert.deepEqual(entryFromText('100'), { raw: '100', double: 100, bool: true, uint: 100 });
  assert.deepEqual(entryFromText('0'), { raw: '0', double: 0, bool: false, uint: 0 });
  assert.deepEqual(entryFromText('3.7'), { raw: '3.7', double: 3.7, uint: 3 }, 'a double floors to its integer');
  assert.deepEqual(entryFromText('-2'), { raw: '-2', double: -2, bool: true }, 'a negative number is no integer');
  assert.deepEqual(entryFromText('true'), { raw: 'true', bool: true });
  assert.deepEqual(entryFromText('Off'), { raw: 'Off', bool: false }, "yaml-cpp's booleans");
  assert.deepEqual(entryFromText('{numerator: 5, denominator: MILLION}').fraction, { numerator: 5, denominator: 1_000_000 });
  assert.deepEqual(entryFromText('numerator: 20\ndenominator: TEN_THOUSAND').fraction, { numerator: 20, denominator: 10_000 });
  assert.deepEqual(entryFromText('{numerator: 5, extra: 1}'), { raw: '{numerator: 5, extra: 1}' }, 'another field: no fraction');
  assert.deepEqual(entryFromText('hello'), { raw: 'hello' });
  assert.deepEqual(entryFromValue(5), { raw: '5', double: 5, bool: true, uint: 5 });
  assert.deepEqual(entryFromValue(false), { raw: 'false', bool: false });
  assert.deepEqual(entryFromValue({ numerator: 7 }).fraction, { numerator: 7, denominator: 100 });
  assert.equal(entryFromValue('42').uint, 42, 'a numeric string is a number too');
});

test('a snapshot answers with the key or the default; fractions read integers as percentages', () => {
  const s = snapshotOf({ n: '42', big: '250', f: '{numerator: 20, denominator: TEN_THOUSAND}', word: 'abc', yes: 'true' });
  assert.equal(s.getInteger('n', 1), 42);
  assert.equal(s.getInteger('word', 1), 1);
  assert.equal(s.getInteger('absent', 9), 9);
  assert.equal(s.getBoolean('yes', false), true);
  assert.equal(s.getBoolean('n', false), true);
  assert.equal(s.get('word'), 'abc');
  const tenPercent = { numerator: 10, denominator: 100 } as const;
  // n = 42%: random % 100 < 42.
  assert.equal(s.fractionEnabled('n', tenPercent, 41), true);
  assert.equal(s.fractionEnabled('n', tenPercent, 42), false);
  assert.equal(s.fractionEnabled('n', tenPercent, 141), true, 'the random value is taken modulo the denominator');
  assert.equal(s.fractionEnabled('big', tenPercent, 99), true, 'an integer above 100 always matches');
  assert.equal(s.fractionEnabled('f', tenPercent, 19), true);
  assert.equal(s.fractionEnabled('f', tenPercent, 20), false);
  assert.equal(s.fractionEnabled('word', tenPercent, 9), true, 'not a number: the default (10%) applies');
  assert.equal(s.fractionEnabled('word', tenPercent, 10), false);
  assert.equal(EMPTY_RUNTIME_SNAPSHOT.fractionEnabled('', { numerator: 0, denominator: 100 }, 0), false);
  assert.equal(s.featureEnabled('n', 0, 41, 100), true);
  assert.equal(s.featureEnabled('n', 0, 42, 100), false);
  assert.equal(s.featureEnabled('absent', 5, 4, 10), true);
});

test('a static layer flattens nested keys with dots; a fraction struct stays one value; lists are refused', () => {
  const values = structLayerValues({ a: { b: { c: 1 } }, 'x.y': 'z', f: { numerator: 3 }, empty: {} });
  assert.deepEqual([...values.keys()].sort(), ['a.b.c', 'empty', 'f', 'x.y']);
  assert.equal(values.get('a.b.c')?.uint, 1);
  assert.deepEqual(values.get('f')?.fraction, { numerator: 3, denominator: 100 });
  assert.throws(() => structLayerValues({ a: { b: [1] } }), /Invalid runtime entry value for a\.b/);
  assert.throws(() => structLayerValues({ a: null }), /Invalid runtime entry value for a/);
});

test('a disk layer maps directories to dotted keys; # lines are comments; the last line is right-trimmed', () => {
  const root = tmpDir();
  mkdirSync(path.join(root, 'health_check'), { recursive: true });
  writeFileSync(path.join(root, 'health_check', 'min_interval'), '# placeholder comment\n5  \n');
  writeFileSync(path.join(root, 'top'), 'numerator: 1\ndenominator: MILLION\n');
  writeFileSync(path.join(root, 'only_comment'), '# nothing yet\n');
  const values = directoryLayerValues(root);
  assert.deepEqual(values.get('health_check.min_interval'), { raw: '5', double: 5, bool: true, uint: 5 });
  assert.deepEqual(values.get('top')?.fraction, { numerator: 1, denominator: 1_000_000 });
  assert.equal(values.get('only_comment')?.raw, '');
});

function bootstrapProblems(layered: string): string {
  try {
    loadBootstrapText(`layered_runtime:\n${layered}\n`, 'b.yaml', networkFilterRegistry());
    return '';
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
}

test('layered_runtime errors name the layer and the field', () => {
  assert.match(bootstrapProblems('  layers:\n  - { name: a, admin_layer: {} }\n  - { name: a, static_layer: {} }'), /layered_runtime\.layers\[1\]\.name \(line 4\): Duplicate layer name: a/);
  assert.match(bootstrapProblems('  layers:\n  - { name: a, admin_layer: {} }\n  - { name: b, admin_layer: {} }'), /layers\[1\]\.admin_layer.*Too many admin layers/);
  assert.match(bootstrapProblems('  layers:\n  - name: s\n    static_layer: { k: { v: [1, 2] } }'), /layers\[0\]\.static_layer\.k\.v.*Invalid runtime entry value for k\.v/);
  assert.match(bootstrapProblems('  layers:\n  - { name: d, disk_layer: { subdirectory: x } }'), /layers\[0\]\.disk_layer\.symlink_root.*required/);
  assert.match(bootstrapProblems('  layers:\n  - { name: r, rtds_layer: { name: x, rtds_config: { ads: {} } } }'), /layers\[0\]\.rtds_layer\.rtds_config/);
  assert.equal(bootstrapProblems('  layers:\n  - { name: s, static_layer: { a: 1 } }\n  - { name: adm, admin_layer: {} }'), '');
});

test('a MetaProtocol mirror reads its runtime_key: 0% by default, all once the key says 100', () => {
  const problems = new ProblemCollector('route_config');
  const config = parseMetaRouteConfiguration(
    { name: 't', routes: [{ route: { cluster: 'c', request_mirror_policies: [{ cluster: 'shadow', runtime_fraction: { default_value: { numerator: 0 }, runtime_key: 'mirror.shadow' } }] } }] },
    problems,
  );
  assert.deepEqual(problems.problems, []);
  const off = new MetaRouteTable(config, loaderOf({}));
  const on = new MetaRouteTable(config, loaderOf({ 'mirror.shadow': '100' }));
  for (const r of [0, 0.3, 0.99]) {
    assert.equal(off.route(new Map(), () => r)?.mirrorClusters, undefined);
    assert.deepEqual(on.route(new Map(), () => r)?.mirrorClusters, ['shadow']);
  }
  const bad = new ProblemCollector('route_config');
  parseMetaRouteConfiguration({ name: 't', routes: [{ route: { cluster: 'c', request_mirror_policies: [{ cluster: 's', runtime_fraction: { runtime_key: 'k' } }] } }] }, bad);
  assert.match(bad.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /request_mirror_policies\[0\]\.runtime_fraction\.default_value: default_value is required/);
});

function info(opts: { code?: number; flags?: string[]; durationMs?: number; headers?: Record<string, string> }): StreamInfoImpl {
  const i = new StreamInfoImpl('127.0.0.1:1', '127.0.0.1:2');
  i.endMonoMs = i.startMonoMs + (opts.durationMs ?? 0);
  if (opts.code !== undefined) (i as { responseCode?: number }).responseCode = opts.code;
  for (const f of opts.flags ?? []) i.responseFlags.add(f as never);
  const headers = opts.headers ?? {};
  (i as { requestHeader?: (n: string) => string | undefined }).requestHeader = (n) => headers[n];
  return i;
}

function filterOf(proto: Record<string, unknown>) {
  const problems = new ProblemCollector('filter');
  const parsed = parseAccessLogFilter(proto, problems);
  assert.deepEqual(problems.problems, []);
  return compileAccessLogFilter(JSON.parse(JSON.stringify(parsed)));
}

test('access log filters decide as Envoy: comparisons, flags, headers, runtime sampling, and/or', () => {
  const none = EMPTY_RUNTIME_SNAPSHOT;
  const ge500 = filterOf({ status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } });
  assert.equal(ge500(info({ code: 503 }), none), true);
  assert.equal(ge500(info({ code: 200 }), none), false);
  assert.equal(ge500(info({}), none), false, 'no response code compares as 0');
  assert.equal(ge500(info({ code: 404 }), snapshotOf({ k: '400' })), true, 'the runtime key replaces the default');
  const eq0 = filterOf({ status_code_filter: { comparison: { value: { default_value: 0, runtime_key: 'k' } } } });
  assert.equal(eq0(info({}), none), true, 'op defaults to EQ');
  const slow = filterOf({ duration_filter: { comparison: { op: 'GE', value: { default_value: 100, runtime_key: 'd' } } } });
  assert.equal(slow(info({ durationMs: 150 }), none), true);
  assert.equal(slow(info({ durationMs: 50 }), none), false);
  const anyFlag = filterOf({ response_flag_filter: {} });
  assert.equal(anyFlag(info({ flags: ['NR'] }), none), true);
  assert.equal(anyFlag(info({}), none), false);
  const uf = filterOf({ response_flag_filter: { flags: ['UF', 'UO'] } });
  assert.equal(uf(info({ flags: ['UO'] }), none), true);
  assert.equal(uf(info({ flags: ['NR'] }), none), false);
  const hdr = filterOf({ header_filter: { header: { name: 'x-debug', present_match: true } } });
  assert.equal(hdr(info({ headers: { 'x-debug': '1' } }), none), true);
  assert.equal(hdr(info({}), none), false);
  // runtime_filter: with a request id, its first 8 hex digits decide (0x00000031 = 49).
  const sampled = filterOf({ runtime_filter: { runtime_key: 's', percent_sampled: { numerator: 50 } } });
  assert.equal(sampled(info({ headers: { 'x-request-id': '00000031-aaaa-4bbb-8ccc-dddddddddddd' } }), none), true);
  assert.equal(sampled(info({ headers: { 'x-request-id': '00000032-aaaa-4bbb-8ccc-dddddddddddd' } }), none), false);
  assert.equal(sampled(info({ headers: { 'x-request-id': '00000032-aaaa-4bbb-8ccc-dddddddddddd' } }), snapshotOf({ s: '100' })), true);
  const both = filterOf({ and_filter: { filters: [{ not_health_check_filter: {} }, { status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } } }] } });
  assert.equal(both(info({ code: 500 }), none), true);
  assert.equal(both(info({ code: 200 }), none), false);
  const either = filterOf({ or_filter: { filters: [{ response_flag_filter: { flags: ['UH'] } }, { duration_filter: { comparison: { op: 'GE', value: { default_value: 1000, runtime_key: 'd' } } } }] } });
  assert.equal(either(info({ flags: ['UH'] }), none), true);
  assert.equal(either(info({ durationMs: 5 }), none), false);
});

test('access log filter errors: unknown flags, one filter in and_filter, filters Courier does not implement', () => {
  const problemsOf = (proto: Record<string, unknown>): string => {
    const problems = new ProblemCollector('filter');
    assert.equal(parseAccessLogFilter(proto, problems), undefined);
    return problems.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  };
  assert.match(problemsOf({ response_flag_filter: { flags: ['UF', 'XX'] } }), /filter\.response_flag_filter\.flags\[1\]: unknown response flag "XX"/);
  assert.match(problemsOf({ and_filter: { filters: [{ not_health_check_filter: {} }] } }), /filter\.and_filter\.filters: at least 2 filters/);
  assert.match(problemsOf({ traceable_filter: {} }), /filter\.traceable_filter: traceable_filter is not supported by Courier/);
  assert.match(problemsOf({ grpc_status_filter: { statuses: ['OK'] } }), /filter\.grpc_status_filter: grpc_status_filter is not supported/);
  assert.match(problemsOf({ or_filter: { filters: [{ not_health_check_filter: {} }, { metadata_filter: {} }] } }), /filter\.or_filter\.filters\[1\]\.metadata_filter: metadata_filter is not supported/);
  assert.match(problemsOf({ status_code_filter: { comparison: { op: 'NE', value: { default_value: 1, runtime_key: 'k' } } } }), /op must be one of EQ, GE, LE/);
});
