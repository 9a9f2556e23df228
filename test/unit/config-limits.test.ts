/**
 * The depth, size and alias limits of src/config/input-limits.ts at every decoder: YAML and
 * JSON text, the proto3 JSON checker, protobuf bytes, the xDS resource decoder and the
 * management server's resource directory. Each limit is exact (100 levels pass, 101 do not)
 * and the checks survive inputs far deeper than any stack.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/config/config-error.js';
import { parseConfigText } from '../../src/config/config-source-file.js';
import { findTooDeep, findTooDeepJson, MAX_CONFIG_BYTES, readConfigText } from '../../src/config/input-limits.js';
import { binaryToProto3Json, ProtoBinaryError } from '../../src/config/proto-binary.js';
import { decodeMessage } from '../../src/config/proto-json.js';
import { lookupMessage } from '../../src/config/proto-registry.js';
import { decodeAnyResources, formatResourceProblems } from '../../src/xds/resource-decoder.js';
import { ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { loadResourceDir } from '../../src/xds/server/resource-dir.js';
import { tmpDir } from '../support/courier-harness.js';

const LIMIT = 'nested deeper than 100 levels of objects and lists (the config nesting limit)';

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail('expected a ConfigError');
}

/** `k:` under node.metadata holds `levels` nested objects: the deepest sits at level 3 + levels. */
const flowYaml = (levels: number): string => `node:\n  id: n\n  metadata:\n    k: ${'{a: '.repeat(levels)}x${'}'.repeat(levels)}\n`;
const blockYaml = (levels: number): string => {
  let text = 'node:\n  metadata:\n    k:\n';
  for (let i = 0; i < levels - 1; i++) text += `${' '.repeat(6 + 2 * i)}a:\n`;
  return `${text}${' '.repeat(6 + 2 * (levels - 1))}a: x\n`;
};
const seqYaml = (levels: number): string => `node:\n  metadata:\n    k:\n      ${'- '.repeat(levels)}x\n`;
const json = (levels: number): string => `{"node": {"metadata": {"k": ${'{"a": '.repeat(levels)}"x"${'}'.repeat(levels)}}}}`;
const aPath = (n: number): string => `node.metadata.k${'.a'.repeat(n)}`;

test('YAML and JSON: 100 levels pass, 101 are refused with the limit, the path of the level-101 value and its line', () => {
  for (const [name, text] of [['flow.yaml', flowYaml], ['block.yaml', blockYaml], ['seq.yaml', seqYaml], ['x.json', json]] as const) {
    assert.doesNotThrow(() => parseConfigText(text(97), name), name);
    const e = configError(() => parseConfigText(text(98), name));
    assert.equal(e.problems.length, 1, name);
    assert.equal(e.problems[0]!.message, LIMIT, name);
    const expected = name === 'seq.yaml' ? `node.metadata.k${'[0]'.repeat(97)}` : aPath(97);
    assert.equal(e.problems[0]!.path, expected, name);
    assert.equal(e.problems[0]!.line, name === 'block.yaml' ? 101 : name === 'x.json' ? 1 : 4, name);
  }
});

test('far deeper input (a million levels) is refused as fast as it is read, without a stack overflow', () => {
  const deep = 1_000_000;
  const t0 = performance.now();
  assert.equal(configError(() => parseConfigText(`a: ${'['.repeat(deep)}`, 'x.yaml')).problems[0]!.message, LIMIT);
  assert.equal(configError(() => parseConfigText('['.repeat(deep) + ']'.repeat(deep), 'x.json')).problems[0]!.path, '[0]'.repeat(100));
  // The YAML parse stops at level 101: it does not read the rest of the text.
  assert.ok(performance.now() - t0 < 10_000);
  let v: unknown = 'x';
  for (let i = 0; i < deep; i++) v = [v];
  assert.equal(findTooDeep(v, 'root'), `root${'[0]'.repeat(100)}`);
  assert.equal(findTooDeepJson('['.repeat(deep))!.offset, 100);
});

test('YAML aliases: a billion laughs, an alias inside its anchor, an alias to nothing and an expansion too deep are refused with path and line; ordinary aliases and merges work', () => {
  const names = 'abcdefghi';
  const lines = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 9; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
  const bomb = configError(() => parseConfigText(`${lines.join('\n')}\n`, 'bomb.yaml'));
  assert.match(bomb.problems[0]!.message, /^YAML aliases expand to more than 100000 nodes here/);
  assert.match(bomb.problems[0]!.path, /^[f-i]\[\d\]$/);
  assert.ok(bomb.problems[0]!.line! >= 6);

  const self = configError(() => parseConfigText('a: &x\n  b: [*x]\n', 'self.yaml')).problems[0]!;
  assert.deepEqual(self, { path: 'a.b[0]', message: 'alias *x is inside its own anchor &x', line: 2 });
  const none = configError(() => parseConfigText('a: 1\nb: *nope\n', 'none.yaml')).problems[0]!;
  assert.deepEqual(none, { path: 'b', message: 'alias *nope refers to no anchor defined before it', line: 2 });

  // An anchor 60 deep used 60 deep: each fine alone, 120 once expanded.
  const deepAnchor = `a: &deep ${'{a: '.repeat(59)}x${'}'.repeat(59)}\nb: ${'{b: '.repeat(59)}*deep${'}'.repeat(59)}\n`;
  const expanded = configError(() => parseConfigText(deepAnchor, 'deep-alias.yaml')).problems[0]!;
  assert.equal(expanded.path, `b${'.b'.repeat(59)}`);
  assert.equal(expanded.message, `alias *deep expands to a value ${LIMIT}`);
  assert.equal(expanded.line, 2);

  const ok = parseConfigText('base: &base { connect_timeout: 1s, type: STATIC }\nc1: { <<: *base, name: one }\nc2: *base\n', 'ok.yaml');
  assert.deepEqual(ok.value, {
    base: { connect_timeout: '1s', type: 'STATIC' },
    c1: { connect_timeout: '1s', type: 'STATIC', name: 'one' },
    c2: { connect_timeout: '1s', type: 'STATIC' },
  });
  assert.equal(ok.lineOf('c2'), 3);
});

test('the proto3 JSON checker stops at the limit by itself, in messages and in Struct values', () => {
  const bootstrap = lookupMessage('envoy.config.bootstrap.v3.Bootstrap')!;
  let metadata: Record<string, unknown> = { x: 1 };
  for (let i = 0; i < 5000; i++) metadata = { a: metadata };
  const struct = decodeMessage(bootstrap, { node: { metadata } });
  assert.equal(struct.value, undefined);
  assert.deepEqual(struct.problems, [{ path: `node.metadata${'.a'.repeat(98)}`, message: LIMIT }]);

  // Messages: a matcher tree (5 levels of objects and lists per step) given directly.
  const vh = lookupMessage('envoy.config.route.v3.VirtualHost')!;
  let matcher: Record<string, unknown> = { on_no_match: { action: { name: 'a', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: {} } } } };
  for (let i = 0; i < 2000; i++) matcher = { matcher_list: { matchers: [{ predicate: { single_predicate: { input: { name: 'h', typed_config: { '@type': 'type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput', header_name: 'x' } }, value_match: { exact: 'y' } } }, on_match: { matcher } }] } };
  const messages = decodeMessage(vh, { name: 'v', domains: ['*'], matcher });
  // (The messages around the one cut off then miss a required field too: those are listed as well.)
  const cut = messages.problems.filter((p) => p.message === LIMIT).map((p) => p.path);
  const deepest = `matcher${'.matcher_list.matchers[0].on_match.matcher'.repeat(19)}.matcher_list.matchers[0]`;
  assert.deepEqual(cut, [`${deepest}.predicate`, `${deepest}.on_match`]);
});

/** protobuf bytes of a google.protobuf.Struct `{a: {a: ... "x"}}`, `levels` Structs deep. */
function deepStructBytes(levels: number): Uint8Array {
  const ld = (field: number, body: Buffer): Buffer => {
    const len: number[] = [];
    let n = body.length;
    while (n >= 0x80) {
      len.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    len.push(n);
    return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), body]);
  };
  let value: Buffer = ld(3, Buffer.from('x')); // Value.string_value
  let struct: Buffer = Buffer.alloc(0);
  for (let i = 0; i < levels; i++) {
    struct = ld(1, Buffer.concat([ld(1, Buffer.from('a')), ld(2, value)])); // Struct.fields entry {key, value}
    value = ld(5, struct); // Value.struct_value
  }
  return struct;
}

test('protobuf bytes nested deeper than 100 messages: a ProtoBinaryError with the path, before protobufjs decodes; malformed bytes still decode-fail in its words', () => {
  const structType = lookupMessage('google.protobuf.Struct')!;
  // Struct → map entry → Value → Struct: three messages a level. 33 levels = 99 messages.
  assert.deepEqual(binaryToProto3Json(structType, deepStructBytes(33), 'r'), JSON.parse(`${'{"a":'.repeat(33)}"x"${'}'.repeat(33)}`));
  for (const levels of [34, 100_000]) {
    assert.throws(
      () => binaryToProto3Json(structType, deepStructBytes(levels), 'r'),
      // The path is the protobuf one (Struct's map, Value's struct_value as protobufjs names it).
      (e: unknown) => e instanceof ProtoBinaryError && e.path === `r${'.fields.structValue'.repeat(33)}.fields` && e.detail === 'protobuf messages nested deeper than 100 levels (the limit for protobuf input)',
    );
  }
  assert.throws(() => binaryToProto3Json(structType, Uint8Array.from([0x0a, 0x05, 0x0a])), (e: unknown) => e instanceof ProtoBinaryError && /cannot decode/.test(e.detail));
});

test('xDS resources: too deep or too large is a problem of that resource (a NACK), listed with the rest', () => {
  // RouteConfiguration{name, virtual_hosts[0]{name, domains, typed_per_filter_config{"f": Any(Struct 500 deep)}}}.
  const url = Buffer.from('type.googleapis.com/google.protobuf.Struct');
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    return out;
  };
  const ld = (field: number, body: Uint8Array): Buffer => Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(body.length)]), body]);
  const any = ld(2, Buffer.concat([ld(1, url), ld(2, deepStructBytes(500))]));
  const vh = Buffer.concat([ld(1, Buffer.from('vh')), ld(2, Buffer.from('*')), ld(15, Buffer.concat([ld(1, Buffer.from('f')), any]))]);
  const bytes = Buffer.concat([ld(1, Buffer.from('local_route')), ld(2, vh)]);
  const huge = { type_url: ROUTE_CONFIGURATION.typeUrl, value: new Uint8Array(MAX_CONFIG_BYTES / 2 + 1) };
  const result = decodeAnyResources(ROUTE_CONFIGURATION, [{ type_url: ROUTE_CONFIGURATION.typeUrl, value: bytes }, huge], '1');
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.equal(
    formatResourceProblems(ROUTE_CONFIGURATION, result.problems),
    [
      `resources[0].virtual_hosts[0].typed_per_filter_config${'.fields.structValue'.repeat(32)}: protobuf messages nested deeper than 100 levels (the limit for protobuf input)`,
      'resources[1]: the resource is 33554433 bytes, over the 32 MiB limit',
    ].join('\n'),
  );
});

test('files over 64 MiB are refused before they are read; `courier xds-server --dir` files get the same limits', () => {
  const dir = tmpDir();
  const big = path.join(dir, 'big.yaml');
  const fd = openSync(big, 'w');
  ftruncateSync(fd, MAX_CONFIG_BYTES + 1); // sparse: nothing is written
  closeSync(fd);
  assert.throws(() => readConfigText(big), { message: 'the file is 67108865 bytes, over the 64 MiB limit' });

  const served = tmpDir();
  writeFileSync(path.join(served, 'routes.yaml'), `- "@type": ${ROUTE_CONFIGURATION.typeUrl}\n  name: r\n  virtual_hosts:\n  - name: vh\n    domains: ["*"]\n    typed_per_filter_config:\n      f: ${'{a: '.repeat(200)}x${'}'.repeat(200)}\n`);
  assert.throws(() => loadResourceDir(served), (e: Error) => /routes\.yaml: \[0\]\.virtual_hosts\[0\]\.typed_per_filter_config\.f(\.a)+ \(line 7\): nested deeper than 100 levels/.test(e.message));
});
