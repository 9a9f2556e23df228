/**
 * The MetaProtocol pieces below the proxy: framing a codec's frames out of arbitrary reads,
 * the route table (first match, weights, hash keys, mirror fractions), and the MetaRDS
 * translation's refusals. The codec here is the example toy codec.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { MetaCodec, MetaCodecFactory } from '../../src/api/meta-protocol-codec.js';
import { RpcMessageType } from '../../src/api/rpc-protocol.js';
import { ProblemCollector } from '../../src/config/config-error.js';
import { metaProtocol, type MetaFrame } from '../../src/extensions/filters/network/meta_protocol_proxy/meta-protocol.js';
import {
  parseMetaRouteConfiguration,
  parseMetaRouteConfigurationFromRds,
} from '../../src/extensions/filters/network/meta_protocol_proxy/route/route-config.js';
import { MetaRouteTable } from '../../src/extensions/filters/network/meta_protocol_proxy/route/route-table.js';
import { REPO_ROOT } from '../support/courier-harness.js';

type Encode = (type: string, id: number, meta: Map<string, string>, body: string | Buffer) => Buffer;
let encodeToyFrame: Encode;
let toyFactory: MetaCodecFactory;

before(async () => {
  const mod = (await import(pathToFileURL(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-codec.mjs')).href)) as {
    default: MetaCodecFactory;
    encodeToyFrame: Encode;
  };
  toyFactory = mod.default;
  encodeToyFrame = mod.encodeToyFrame;
});

function decodeAll(chunks: Buffer[], codec?: MetaCodec): { frames: MetaFrame[]; error?: string } {
  const protocol = metaProtocol('toy', () => codec ?? toyFactory.createCodec({}));
  const decoder = protocol.newRequestDecoder();
  const frames: MetaFrame[] = [];
  for (const c of chunks) {
    const r = decoder.feed(c, (f) => frames.push(f));
    if (!r.ok) return { frames, error: r.error };
  }
  return { frames };
}

test('frames come out whole and in order for any slicing of the stream', () => {
  const big = 'x'.repeat(200_000);
  const stream = Buffer.concat([
    encodeToyFrame('request', 1, new Map([['method', 'a']]), 'one'),
    encodeToyFrame('oneway', 2, new Map(), big),
    encodeToyFrame('heartbeat', 3, new Map(), ''),
    encodeToyFrame('request', 4, new Map([['method', 'b']]), 'four'),
  ]);
  for (const size of [1, 3, 7, 4096, 65536, stream.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
    const { frames, error } = decodeAll(chunks);
    assert.equal(error, undefined);
    assert.deepEqual(frames.map((f) => [f.type, f.requestId]), [
      [RpcMessageType.Request, 1n],
      [RpcMessageType.Oneway, 2n],
      [RpcMessageType.Heartbeat, 3n],
      [RpcMessageType.Request, 4n],
    ]);
    assert.equal(frames[1]!.bytes.length, stream.length - frames[0]!.bytes.length - frames[2]!.bytes.length - frames[3]!.bytes.length);
    assert.equal(frames[3]!.message.metadata.get('method'), 'b');
  }
});

test('a codec that throws, or answers nonsense, fails the stream with its message', () => {
  const bad = Buffer.from([0xff, 0xff, 0xff, 0xff, 0]);
  assert.match(decodeAll([bad]).error ?? '', /toy: bad frame length/);
  const liar: MetaCodec = { ...toyFactory.createCodec({}), frameLength: () => -5 } as MetaCodec;
  assert.match(decodeAll([Buffer.from('abc')], liar).error ?? '', /frameLength returned -5/);
  const unsupported: MetaCodec = {
    frameLength: (b) => b.length,
    decode: () => ({ type: 'bogus' as never, requestId: 1, metadata: new Map() }),
    encode: (_m, f) => f,
    onError: () => Buffer.alloc(0),
  };
  assert.match(decodeAll([Buffer.from('abc')], unsupported).error ?? '', /unknown message type "bogus"/);
});

test('a codec that never finds a frame end is stopped at 16 MiB', () => {
  const endless: MetaCodec = { frameLength: () => 0, decode: () => assert.fail(), encode: (_m, f) => f, onError: () => Buffer.alloc(0) };
  const chunk = Buffer.alloc(1024 * 1024);
  const { error } = decodeAll(Array.from({ length: 17 }, () => chunk), endless);
  assert.match(error ?? '', /no frame end within 16777216 bytes/);
});

function table(routes: unknown[]): MetaRouteTable {
  const problems = new ProblemCollector('route_config');
  const config = parseMetaRouteConfiguration({ name: 't', routes }, problems);
  assert.deepEqual(problems.problems, []);
  return new MetaRouteTable(config);
}

test('route table: first match wins, all matchers must match, weights follow the draw', () => {
  const t = table([
    { match: { metadata: [{ name: 'method', string_match: { exact: 'a' } }, { name: 'tenant', present_match: true }] }, route: { cluster: 'a-tenant' } },
    { match: { metadata: [{ name: 'method', string_match: { prefix: 'a' } }] }, route: { cluster: 'a-any' } },
    { route: { weighted_clusters: { clusters: [{ name: 'x', weight: 1 }, { name: 'y', weight: 3 }] } } },
  ]);
  assert.equal(t.route(new Map([['method', 'a'], ['tenant', 't']]))?.cluster, 'a-tenant');
  assert.equal(t.route(new Map([['method', 'a']]))?.cluster, 'a-any');
  assert.equal(t.route(new Map([['method', 'abc']]))?.cluster, 'a-any');
  assert.equal(t.route(new Map(), () => 0.2)?.cluster, 'x');
  assert.equal(t.route(new Map(), () => 0.3)?.cluster, 'y');
  assert.equal(table([{ match: { metadata: [{ name: 'm', string_match: { exact: 'z' } }] }, route: { cluster: 'c' } }]).route(new Map()), undefined);
});

test('route table: metadata safe_regex is RE2, linear on a value that explodes a backtracking engine', () => {
  // Before RE2 this lookup did not return for hours (V8's RegExp backtracks on 40 letters).
  const t = table([{ match: { metadata: [{ name: 'method', string_match: { safe_regex: { regex: '([a-z]+)*[0-9]' } } }] }, route: { cluster: 'c' } }]);
  assert.equal(t.route(new Map([['method', `${'a'.repeat(40)}!`]])), undefined);
  assert.equal(t.route(new Map([['method', 'get2']]))?.cluster, 'c');
});

test('route table: hash keys give a stable key per value set; mirrors follow their fraction', () => {
  const t = table([
    {
      route: {
        cluster: 'c',
        hash_policy: ['user', 'shard'],
        request_mirror_policies: [{ cluster: 'all' }, { cluster: 'half', runtime_fraction: { default_value: { numerator: 50 } } }],
      },
    },
  ]);
  const k1 = t.route(new Map([['user', 'u1'], ['shard', 's']]))!.hashKey;
  assert.equal(t.route(new Map([['user', 'u1'], ['shard', 's']]))!.hashKey, k1);
  assert.notEqual(t.route(new Map([['user', 'u2'], ['shard', 's']]))!.hashKey, k1);
  assert.deepEqual(t.route(new Map(), () => 0.4)!.mirrorClusters, ['all', 'half']);
  assert.deepEqual(t.route(new Map(), () => 0.6)!.mirrorClusters, ['all']);
});

test('MetaRDS: one virtual host, connect-failure retries only; the problems name the field', () => {
  const problems = new ProblemCollector('resources[0]');
  parseMetaRouteConfigurationFromRds({ name: 'r', virtual_hosts: [{ name: 'a', routes: [] }, { name: 'b', routes: [] }] }, problems);
  assert.match(problems.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /resources\[0\]\.virtual_hosts: .*exactly one virtual host \(got 2\)/);

  const p2 = new ProblemCollector('resources[0]');
  const config = parseMetaRouteConfigurationFromRds(
    {
      name: 'r',
      virtual_hosts: [
        {
          name: 'dummy',
          routes: [
            {
              match: { prefix: '/', headers: [{ name: 'method', string_match: { exact: 'x' } }] },
              route: { cluster: 'c', timeout: 2000, retry_policy: { retry_on: '5xx,connect-failure', num_retries: 2 } },
              request_headers_to_add: [{ header: { key: 'k', value: 'v' } }],
            },
          ],
        },
      ],
    },
    p2,
  );
  assert.match(p2.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /routes\[0\]\.route\.retry_policy\.retry_on: .*only on connect-failure \(got 5xx\)/);
  assert.equal(config.routes[0]?.timeoutMs, 2000);
  assert.deepEqual(config.routes[0]?.requestMutation, [['k', 'v']]);
});
