/**
 * Whatever a control plane sends, decodeAnyResources answers with resources or problems (a
 * NACK), never an exception: grpc-mux calls it from the stream's data handler on main. The
 * inputs are the fuzzer's regression seeds (test/fuzz/corpus/xds/regress-*), replayed the way
 * the xds fuzz target frames them: a type byte, then the resource's wire bytes.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { encodeAny } from '../../src/config/proto-binary.js';
import { decodeAnyResources } from '../../src/xds/resource-decoder.js';
import { allResourceTypes, resourceTypeFor } from '../../src/xds/resource-type.js';
import { REPO_ROOT } from '../support/courier-harness.js';

const CORPUS = path.join(REPO_ROOT, 'test', 'fuzz', 'corpus', 'xds');
const RDS_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

test('a resource with empty or left-out sub-messages is decoded or refused, never thrown (found by fuzzing)', () => {
  const seeds = readdirSync(CORPUS).filter((f) => f.startsWith('regress-null-'));
  assert.ok(seeds.length >= 4, 'the regression seeds are committed');
  const types = allResourceTypes();
  for (const seed of seeds) {
    const input = readFileSync(path.join(CORPUS, seed));
    const type = types[(input[0]! & 0x7f) % types.length]!;
    const result = decodeAnyResources(type, [{ type_url: type.typeUrl, value: input.subarray(1) }], '1');
    if (!result.ok) for (const p of result.problems) assert.equal(typeof p.message, 'string', seed);
  }
});

test('a resource of another type than the subscribed one is refused by its type URL', () => {
  const rds = resourceTypeFor(RDS_TYPE_URL)!;
  const result = decodeAnyResources(rds, [{ type_url: 'type.googleapis.com/made.up.v3.Thing', value: new Uint8Array(0) }], '1');
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.problems[0]!.message : '', /does not match the subscribed type/);
});

test('thousands of distinct made-up type URLs inside one resource are each named in the NACK', () => {
  const rds = resourceTypeFor(RDS_TYPE_URL)!;
  const perFilter: Record<string, unknown> = {};
  for (let i = 0; i < 2000; i++) perFilter[`f${i}`] = { '@type': 'type.googleapis.com/google.protobuf.Empty', value: {} };
  const any = encodeAny({
    '@type': RDS_TYPE_URL,
    name: 'r',
    virtual_hosts: [{ name: 'v', domains: ['*'], typed_per_filter_config: perFilter }],
  });
  // Rewrite each Empty's type URL to a distinct name no proto file declares (same length, so
  // the encoded lengths stay valid).
  const bytes = Buffer.from(any.value);
  const from = Buffer.from('google.protobuf.Empty');
  let n = 0;
  for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + from.length)) {
    Buffer.from(`envoy.x${String(n++).padStart(4, '0')}.v3.Madeup`).copy(bytes, at);
  }
  assert.equal(n, 2000);
  const result = decodeAnyResources(rds, [{ type_url: RDS_TYPE_URL, value: bytes }], '1');
  assert.equal(result.ok, false);
  const text = !result.ok ? result.problems.map((p) => `${p.path}: ${p.message}`).join('\n') : '';
  assert.match(text, /envoy\.x0000\.v3\.Madeup/);
});
