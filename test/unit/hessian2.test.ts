import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { Hessian2Reader } from '../../src/extensions/codecs/hessian2/reader.js';
import { skipValue } from '../../src/extensions/codecs/hessian2/skipper.js';
import { isScalarTag, readStringMap, readValueAsString } from '../../src/extensions/codecs/hessian2/string-map.js';
import { Hessian2Writer } from '../../src/extensions/codecs/hessian2/writer.js';
import { MAX_DEPTH } from '../../src/extensions/codecs/hessian2/constants.js';

// hessian.js and js-to-java ship no types; these are the parts the tests use.
interface HessianEncoder {
  write(value: unknown): HessianEncoder;
  writeString(value: string): HessianEncoder;
  writeInt(value: number): HessianEncoder;
  writeLong(value: number | string): HessianEncoder;
  writeDouble(value: number): HessianEncoder;
  writeBool(value: boolean): HessianEncoder;
  writeNull(): HessianEncoder;
  writeDate(value: Date | number): HessianEncoder;
  writeBytes(value: Buffer): HessianEncoder;
  get(): Buffer;
}
interface HessianJs {
  EncoderV2: new (options?: { size?: number }) => HessianEncoder;
  DecoderV2: new (buf: Buffer) => { read(withType?: boolean): unknown };
}
type JavaWrap = (className: string, value: unknown) => unknown;
interface JsToJava extends JavaWrap {
  combine: JavaWrap;
  array: ((type: string, values: unknown[]) => unknown) & { int(values: number[]): unknown };
  List(values: unknown[]): unknown;
  Set(values: unknown[]): unknown;
  Map(value: Record<string, unknown>): unknown;
  long(value: number | string): unknown;
  int(value: number): unknown;
  String(value: string): unknown;
  Boolean(value: boolean): unknown;
  Double(value: number): unknown;
}

const require = createRequire(import.meta.url);
const hessian = require('hessian.js') as HessianJs;
const java = require('js-to-java') as JsToJava;

const TRAILER = 'after';

/** Encodes `write` with a fresh hessian.js encoder, then the trailer string; returns bytes and the value length. */
function encodeWithTrailer(write: (enc: HessianEncoder) => void): { bytes: Buffer; valueLength: number } {
  const enc = new hessian.EncoderV2({ size: 1024 });
  write(enc);
  const valueLength = enc.get().length;
  enc.writeString(TRAILER);
  return { bytes: enc.get(), valueLength };
}

/** Skips `values` values, checks the cursor stops at `valueLength`, then reads the trailer. */
function assertSkips(name: string, bytes: Buffer, valueLength: number, trailer: string, values = 1): void {
  const r = new Hessian2Reader(bytes);
  for (let i = 0; i < values; i++) {
    assert.equal(skipValue(r), true, `${name}: skip value ${i}: ${r.error?.toString()}`);
  }
  assert.equal(r.pos, valueLength, `${name}: skipped ${r.pos} bytes, encoded ${valueLength}`);
  assert.equal(r.readString(), trailer, `${name}: trailer`);
  assert.equal(r.ok, true, name);
  assert.equal(r.atEnd, true, name);
}

function alphabet(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(0x61 + (i % 26));
  return s;
}

// --------------------------------------------------------------------------------------------
// Corpus encoded by hessian.js

interface Case {
  name: string;
  write: (enc: HessianEncoder) => void;
  /** Values written (default 1). */
  values?: number;
  /** What readValueAsString returns for the (single) value; omitted for non-scalars. */
  asString?: string | null;
}

const user = (id: number, name: string): unknown =>
  java.combine('com.example.User', {
    id: java.long(id),
    name,
    age: java.int(30),
    score: 99.5,
    tags: java.List(['a', 'b']),
    created: new Date(1700000000123),
    extra: { k: 'v', n: 1 },
    avatar: Buffer.from([1, 2, 3]),
  });

const cases: Case[] = [];
const addScalar = (name: string, write: (enc: HessianEncoder) => void, asString: string | null): void => {
  cases.push({ name, write, asString });
};

for (const s of ['', 'a', alphabet(31), alphabet(32), alphabet(1023), alphabet(1024), alphabet(32768), alphabet(32769), alphabet(70000)]) {
  addScalar(`string ${s.length} ascii`, (e) => e.writeString(s), s);
}
const unicodeStrings = [
  'héllo wörld',
  '日本語テキスト',
  '😀 ok 🎉',
  '\u0000nul',
  '\u07ff\u0800\uffff',
  '\ud7ff\ue000',
  alphabet(32767) + '😀' + alphabet(5), // a surrogate pair straddles the 0x8000 chunk boundary
  '😀é日'.repeat(20000),
];
for (const s of unicodeStrings) addScalar(`string unicode (${s.length} units)`, (e) => e.writeString(s), s);
const oneMegabyte = alphabet(1024 * 1024);
addScalar('string 1 MiB ascii', (e) => e.writeString(oneMegabyte), oneMegabyte);
const oneMegabyteUnicode = 'Ünïcødé 😀 '.repeat(100000);
addScalar('string ~1.1M units unicode', (e) => e.writeString(oneMegabyteUnicode), oneMegabyteUnicode);

const intBoundaries = [0, 1, -1, -16, -17, 47, 48, -2048, -2049, 2047, 2048, -262144, -262145, 262143, 262144, -0x80000000, 0x7fffffff];
for (const v of intBoundaries) addScalar(`int ${v}`, (e) => e.writeInt(v), String(v));
const longBoundaries = [0, -8, -9, 15, 16, -2048, -2049, 2047, 2048, -262144, -262145, 262143, 262144, -0x80000000, 0x7fffffff, -0x80000001, 0x80000000, Number.MAX_SAFE_INTEGER];
for (const v of longBoundaries) addScalar(`long ${v}`, (e) => e.writeLong(v), String(v));
for (const v of ['9223372036854775807', '-9223372036854775808', '9007199254740993']) {
  addScalar(`long ${v}`, (e) => e.writeLong(v), v);
}
const doubles = [0, 1, -1, 127, -128, 128, -129, 32767, -32768, 32768, 0.5, 1.25, -0.001, 12.345, 3.141592653589793, 1e300, -1e-300];
for (const v of doubles) addScalar(`double ${v}`, (e) => e.writeDouble(v), String(v));
addScalar('null', (e) => e.writeNull(), null);
addScalar('true', (e) => e.writeBool(true), 'true');
addScalar('false', (e) => e.writeBool(false), 'false');

cases.push(
  { name: 'date, minute form', write: (e) => e.writeDate(new Date(1699999980000)) },
  { name: 'date, millisecond form', write: (e) => e.writeDate(new Date(1700000000123)) },
  { name: 'date, negative', write: (e) => e.writeDate(new Date(-123456789)) },
);
for (const n of [0, 1, 15, 16, 1023, 1024, 4093, 4094, 5000, 70000]) {
  const data = Buffer.alloc(n, 7);
  cases.push({ name: `binary ${n}`, write: (e) => e.writeBytes(data) });
}
cases.push(
  { name: 'untyped fixed list, compact', write: (e) => e.write([1, 'two', 3.5, null, true]) },
  { name: 'untyped fixed list, long', write: (e) => e.write(Array.from({ length: 300 }, (_, i) => i)) },
  { name: 'empty list', write: (e) => e.write([]) },
  { name: 'typed list int[]', write: (e) => e.write(java.array.int([1, 2, 3, 100000])) },
  { name: 'typed list java.util.List', write: (e) => e.write(java.List(['x', 'y'])) },
  { name: 'typed list, long', write: (e) => e.write(java.array('java.lang.String', Array.from({ length: 20 }, (_, i) => `s${i}`))) },
  { name: 'typed list of typed lists (type refs)', write: (e) => e.write(java.List([java.List([1]), java.List([2]), java.Set(['3'])])) },
  { name: 'untyped map', write: (e) => e.write({ a: 1, b: 'two', c: [1, 2], d: null, e: { nested: true } }) },
  { name: 'empty map', write: (e) => e.write({}) },
  { name: 'ES6 Map with non-string keys', write: (e) => e.write(new Map<unknown, unknown>([[1, 'one'], ['k', 2], [true, [1]]])) },
  { name: 'typed map java.util.HashMap', write: (e) => e.write(java('java.util.HashMap', { k: 'v', n: 5 })) },
  { name: 'typed map custom', write: (e) => e.write(java('com.example.Props', { k: 'v' })) },
  { name: 'object with nested values', write: (e) => e.write(user(1, 'alice')) },
  {
    name: 'objects of 20 classes (O with int index)',
    write: (e) => e.write(Array.from({ length: 20 }, (_, i) => java.combine(`com.example.K${i}`, { v: i, s: `k${i}` }))),
  },
  {
    name: 'nested objects',
    write: (e) =>
      e.write(
        java.combine('com.example.Order', {
          id: java.long(123456789012),
          buyer: user(2, 'bob'),
          lines: java.List([java.combine('com.example.Line', { sku: 'x', qty: 2 }), java.combine('com.example.Line', { sku: 'y', qty: 3 })]),
        }),
      ),
  },
);

// Repeated objects: hessian.js writes a back-reference ('Q') for the second occurrence.
{
  const shared = user(3, 'carol');
  const list = [1, 2];
  cases.push({ name: 'list repeating an object (refs)', write: (e) => e.write([shared, list, shared, list, shared]) });
}
{
  const shared = user(4, 'dave');
  cases.push({
    name: 'stream: object, string, the same object again (ref across values)',
    values: 3,
    write: (e) => e.write(shared).writeString('between').write(shared),
  });
  cases.push({
    name: 'stream: class defined in the first value, reused in the second',
    values: 2,
    write: (e) => e.write(user(5, 'erin')).write(user(6, 'frank')),
  });
}

test('hessian.js corpus: the skipper consumes exactly each encoded value, then the next string reads', () => {
  for (const c of cases) {
    const { bytes, valueLength } = encodeWithTrailer(c.write);
    assertSkips(c.name, bytes, valueLength, TRAILER, c.values ?? 1);
  }
});

test('hessian.js corpus: scalars read back as hessian.js decodes them and as strings', () => {
  for (const c of cases) {
    if (c.asString === undefined) continue;
    const { bytes, valueLength } = encodeWithTrailer(c.write);
    const r = new Hessian2Reader(bytes, 0, valueLength);
    assert.equal(readValueAsString(r), c.asString, c.name);
    assert.equal(r.pos, valueLength, c.name);
    assert.equal(isScalarTag(bytes[0]!), true, c.name);
  }
  // Typed reads agree with hessian.js's decoder.
  for (const s of ['', 'x', '😀 ok 🎉', alphabet(40000), oneMegabyteUnicode]) {
    const { bytes } = encodeWithTrailer((e) => e.writeString(s));
    const r = new Hessian2Reader(bytes);
    assert.equal(r.readString(), s);
    assert.equal(new hessian.DecoderV2(bytes).read(), s);
  }
  for (const v of intBoundaries) {
    const { bytes } = encodeWithTrailer((e) => e.writeInt(v));
    assert.equal(new Hessian2Reader(bytes).readInt(), v);
  }
  for (const v of longBoundaries) {
    const { bytes } = encodeWithTrailer((e) => e.writeLong(v));
    assert.equal(new Hessian2Reader(bytes).readLong(), BigInt(v));
    assert.equal(new Hessian2Reader(bytes).readCompactLong(), v);
  }
  for (const v of doubles) {
    const { bytes } = encodeWithTrailer((e) => e.writeDouble(v));
    assert.equal(new Hessian2Reader(bytes).readDouble(), new hessian.DecoderV2(bytes).read());
  }
  for (const ms of [0, 1699999980000, 1700000000123, -123456789]) {
    const { bytes } = encodeWithTrailer((e) => e.writeDate(new Date(ms)));
    assert.equal(new Hessian2Reader(bytes).readDate(), ms);
  }
  const t = encodeWithTrailer((e) => e.writeBool(true)).bytes;
  assert.equal(new Hessian2Reader(t).readBoolean(), true);
  const n = new Hessian2Reader(encodeWithTrailer((e) => e.writeNull()).bytes);
  assert.equal(n.readNull(), true);
  assert.equal(n.readString(), TRAILER);
});

test('hessian.js corpus: non-scalars read as undefined and are skipped exactly', () => {
  for (const c of cases) {
    if (c.asString !== undefined || (c.values ?? 1) !== 1) continue;
    const { bytes, valueLength } = encodeWithTrailer(c.write);
    const r = new Hessian2Reader(bytes);
    assert.equal(readValueAsString(r), undefined, c.name);
    assert.equal(r.ok, true, `${c.name}: ${r.error?.toString()}`);
    assert.equal(r.pos, valueLength, c.name);
  }
});

test('skipping allocates no per-value objects: the reader only records class field counts and refs', () => {
  const shared = user(7, 'gina');
  const { bytes, valueLength } = encodeWithTrailer((e) =>
    e.write([shared, shared, java.combine('com.example.Point', { x: 1, y: 2 })]),
  );
  const r = new Hessian2Reader(bytes);
  assert.equal(skipValue(r), true);
  assert.equal(r.pos, valueLength);
  // Classes: User, Point. Refs: the outer list, User, its tags list, its extra map, Point.
  assert.deepEqual(r.classFields, [8, 2]);
  assert.equal(r.refCount, 5);
});

// --------------------------------------------------------------------------------------------
// Java vectors (Caucho Hessian2Output, generated by test/fixtures/hessian-java/Gen.java)

interface JavaVector {
  name: string;
  values: number;
  valueLength: number;
  base64: string;
  expect?: { type: string; value?: string | null; length?: number; sha256?: string };
}

const javaVectors = (
  JSON.parse(
    readFileSync(new URL('../../../test/fixtures/hessian-java/vectors.json', import.meta.url), 'utf8'),
  ) as { vectors: JavaVector[] }
).vectors;

test('Java vectors: the skipper consumes exactly the values Java wrote, then reads the trailer', () => {
  assert.ok(javaVectors.length > 100, 'vectors.json is present and complete');
  for (const v of javaVectors) {
    assertSkips(v.name, Buffer.from(v.base64, 'base64'), v.valueLength, 'END', v.values);
  }
});

test('Java vectors: scalars read back as Java decodes them', () => {
  let checked = 0;
  for (const v of javaVectors) {
    if (v.expect === undefined) continue;
    const bytes = Buffer.from(v.base64, 'base64');
    const r = new Hessian2Reader(bytes, 0, v.valueLength);
    const e = v.expect;
    switch (e.type) {
      case 'null':
        assert.equal(r.readNull(), true, v.name);
        break;
      case 'boolean':
        assert.equal(String(r.readBoolean()), e.value, v.name);
        break;
      case 'int':
        assert.equal(String(r.readInt()), e.value, v.name);
        break;
      case 'long':
        assert.equal(r.readLong().toString(), e.value, v.name);
        break;
      case 'double': {
        const got = r.readDouble();
        const want = Number(e.value); // Java's Double.toString forms: "1.0E300", "NaN", "-Infinity", ...
        assert.ok(Object.is(got, want), `${v.name}: got ${got}, want ${e.value}`);
        break;
      }
      case 'string':
        assert.equal(r.readString(), e.value, v.name);
        break;
      case 'string-digest': {
        const s = r.readString()!;
        assert.equal(s.length, e.length, v.name);
        assert.equal(createHash('sha256').update(s, 'utf8').digest('hex'), e.sha256, v.name);
        break;
      }
      case 'date':
        assert.equal(String(r.readDate()), e.value, v.name);
        break;
      default:
        assert.fail(`unknown expectation ${e.type}`);
    }
    assert.equal(r.ok, true, `${v.name}: ${r.error?.toString()}`);
    assert.equal(r.pos, v.valueLength, v.name);
    checked++;
  }
  assert.ok(checked > 80);
});

test('Java vectors: the writer produces the same bytes as Java for strings, ints, longs and null', () => {
  const w = new Hessian2Writer(16);
  let compared = 0;
  for (const v of javaVectors) {
    const e = v.expect;
    if (e === undefined) continue;
    const bytes = Buffer.from(v.base64, 'base64').subarray(0, v.valueLength);
    w.reset();
    if (e.type === 'int') w.writeInt(Number(e.value));
    else if (e.type === 'long') w.writeLong(BigInt(e.value!));
    else if (e.type === 'null') w.writeNull();
    else if (e.type === 'string' && !v.name.includes('writeObject')) w.writeString(e.value!);
    else if (e.type === 'string-digest') w.writeString(new Hessian2Reader(bytes).readString()!);
    else continue;
    assert.deepEqual(w.view(), bytes, v.name);
    compared++;
  }
  assert.ok(compared > 50);
});

test('Java vectors: a Dubbo request body yields its attachments after skipping the arguments', () => {
  const v = javaVectors.find((x) => x.name === 'dubbo request body')!;
  const r = new Hessian2Reader(Buffer.from(v.base64, 'base64'), 0, v.valueLength);
  assert.deepEqual(
    [r.readString(), r.readString(), r.readString(), r.readString(), r.readString()],
    ['2.0.2', 'org.apache.dubbo.demo.UserService', '1.0.0', 'save', 'Lorg/apache/dubbo/demo/User;JLjava/lang/String;'],
  );
  for (let i = 0; i < 3; i++) assert.equal(skipValue(r), true, r.error?.toString());
  const map = readStringMap(r);
  assert.equal(r.error, null);
  assert.deepEqual(
    Object.fromEntries([...map!].sort()),
    {
      flag: 'true',
      group: 'blue',
      interface: 'org.apache.dubbo.demo.UserService',
      path: 'org.apache.dubbo.demo.UserService',
      timeout: '3000',
      version: '1.0.0',
    },
    'the Point-valued "owner" entry (class defined in the arguments) is skipped, not converted',
  );
  assert.equal(r.pos, v.valueLength);
});

// --------------------------------------------------------------------------------------------
// Failures are results, never exceptions

test('every truncation of a value is a truncated error, never a throw', () => {
  const samples = [
    encodeWithTrailer((e) => e.write(user(8, 'hank'))),
    encodeWithTrailer((e) => e.write([user(9, 'ian'), { a: [1, 2, 'x'] }, Buffer.alloc(5000, 1), '😀 ok', 1.5, 123456789012])),
    encodeWithTrailer((e) => e.writeString(alphabet(40000))),
  ];
  for (const { bytes, valueLength } of samples) {
    for (let cut = 0; cut < valueLength; cut++) {
      const r = new Hessian2Reader(bytes, 0, cut);
      assert.equal(skipValue(r), false, `cut at ${cut}`);
      assert.equal(r.error?.code, 'truncated', `cut at ${cut}: ${r.error?.toString()}`);
      assert.equal(r.pos, cut, 'the cursor moves to the end after a failure');
    }
  }
});

test('malformed input gives the matching error code', () => {
  const fail = (bytes: number[], run: (r: Hessian2Reader) => unknown): string | undefined => {
    const r = new Hessian2Reader(Buffer.from(bytes));
    run(r);
    return r.error?.code;
  };
  for (const reserved of [0x40, 0x45, 0x47, 0x50, 0x5a]) {
    assert.equal(fail([reserved], skipValue), 'unexpected-tag', `tag 0x${reserved.toString(16)}`);
  }
  assert.equal(fail([0x91], (r) => r.readString()), 'unexpected-tag');
  assert.equal(fail([0x01], (r) => r.readInt()), 'unexpected-tag');
  assert.equal(fail([0x02, 0x80, 0x41], (r) => r.readString()), 'bad-utf8');
  assert.equal(fail([0x01, 0xf8], skipValue), 'bad-utf8');
  assert.equal(fail([0x60], skipValue), 'unknown-class', 'object before any class definition');
  assert.equal(fail([0x4f, 0x93], skipValue), 'unknown-class');
  assert.equal(fail([0x58, 0x8f], skipValue), 'bad-length', 'negative list length');
  assert.equal(fail([0x58, 0x49, 0x7f, 0xff, 0xff, 0xff], skipValue), 'truncated', 'list longer than the input');
  assert.equal(fail([0x43, 0x01, 0x41, 0x8f], skipValue), 'bad-length', 'class with negative field count');
  assert.equal(fail([0x55, 0x4e, 0x5a], skipValue), 'unexpected-tag', 'null is not a type');
  assert.equal(fail([0x4c, 0x00, 0x20, 0, 0, 0, 0, 0, 1], (r) => r.readCompactLong()), 'bad-length', 'unsafe long as number');
  const deep = [...Array(MAX_DEPTH + 1).fill(0x57), ...Array(MAX_DEPTH + 1).fill(0x5a)];
  assert.equal(fail(deep, skipValue), 'too-deep');
  const shallow = [...Array(MAX_DEPTH - 1).fill(0x57), ...Array(MAX_DEPTH - 1).fill(0x5a)];
  assert.equal(fail(shallow, skipValue), undefined);
});

test('errors are sticky: later reads return neutral values and keep the first error', () => {
  const r = new Hessian2Reader(Buffer.from([0x91, 0x05, 0x68]));
  assert.equal(r.readString(), '');
  const first = r.error;
  assert.equal(first?.code, 'unexpected-tag');
  assert.equal(first?.offset, 0);
  assert.equal(r.readInt(), 0);
  assert.equal(r.readLong(), 0n);
  assert.equal(r.readDouble(), 0);
  assert.equal(r.readBoolean(), false);
  assert.equal(skipValue(r), false);
  assert.equal(r.error, first);
  r.reset(Buffer.from([0x91]));
  assert.equal(r.readInt(), 1);
  assert.equal(r.ok, true);
});

test('random bytes never make the reader or skipper throw', () => {
  let seed = 0x12345678;
  const random = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const valid = encodeWithTrailer((e) => e.write([user(10, 'jo'), { k: 'v' }, 'x'.repeat(100), [1, 2.5, null]])).bytes;
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.from(valid);
    // Mutate a few bytes of a valid stream, or use pure noise.
    if (i % 3 === 0) {
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    } else {
      for (let j = 0; j < 1 + (i % 4); j++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    }
    const r = new Hessian2Reader(bytes);
    skipValue(r);
    r.reset(bytes);
    readStringMap(r);
    r.reset(bytes);
    readValueAsString(r);
    r.reset(bytes);
    r.readString();
    assert.ok(r.pos <= r.end);
  }
});

// --------------------------------------------------------------------------------------------
// Writer

test('writer: output decodes in hessian.js and in the reader', () => {
  const w = new Hessian2Writer(4);
  const strings = ['', 'plain', 'héllo', '😀', alphabet(32768), alphabet(32767) + '😀' + 'tail', '日本'.repeat(30000)];
  for (const s of strings) {
    w.reset().writeString(s);
    const bytes = w.toBuffer();
    assert.equal(new hessian.DecoderV2(bytes).read(), s, `hessian.js reads ${s.length} units`);
    const r = new Hessian2Reader(bytes);
    assert.equal(r.readString(), s);
    assert.equal(r.atEnd, true);
  }
  for (const v of [...intBoundaries]) {
    w.reset().writeInt(v);
    assert.equal(new hessian.DecoderV2(w.toBuffer()).read(), v);
    assert.equal(new Hessian2Reader(w.toBuffer()).readInt(), v);
  }
  for (const v of [0n, -8n, 15n, 16n, -2049n, 262144n, 0x7fffffffn, 0x80000000n, -0x8000000000000000n, 0x7fffffffffffffffn]) {
    w.reset().writeLong(v);
    assert.equal(new Hessian2Reader(w.toBuffer()).readLong(), v);
  }
  w.reset().writeLong(Number.MAX_SAFE_INTEGER);
  assert.equal(new Hessian2Reader(w.toBuffer()).readCompactLong(), Number.MAX_SAFE_INTEGER);

  w.reset().writeStringMap(new Map([['group', 'blue'], ['timeout', '3000'], ['ünï', '😀']]));
  const map = w.toBuffer();
  assert.deepEqual(new hessian.DecoderV2(map).read(), { group: 'blue', timeout: '3000', ünï: '😀' });
  assert.deepEqual([...readStringMap(new Hessian2Reader(map))!], [['group', 'blue'], ['timeout', '3000'], ['ünï', '😀']]);

  w.reset().writeNull().writeBoolean(true).writeBoolean(false);
  assert.deepEqual(w.toBuffer(), Buffer.from([0x4e, 0x54, 0x46]));
  assert.throws(() => w.writeInt(1.5), RangeError);
  assert.throws(() => w.writeLong(2 ** 60), RangeError);
});

test('readStringMap: typed maps, null, non-string keys and non-scalar values', () => {
  const { bytes } = encodeWithTrailer((e) =>
    e.write(new Map<unknown, unknown>([['a', 'x'], [1, 'int key'], ['n', 42], ['l', [1, 2]], ['o', user(11, 'kim')], ['z', null], ['d', 2.5]])),
  );
  const spans: number[] = [];
  const r = new Hessian2Reader(bytes);
  const map = readStringMap(r, new Map(), spans);
  assert.deepEqual(Object.fromEntries(map!), { a: 'x', n: '42', d: '2.5' });
  assert.equal(spans.length, 7 * 3, 'a span for every entry, kept or skipped');
  assert.equal(r.readString(), TRAILER);

  const typed = encodeWithTrailer((e) => e.write(java('java.util.HashMap', { k: 'v' }))).bytes;
  assert.deepEqual(Object.fromEntries(readStringMap(new Hessian2Reader(typed))!), { k: 'v' });
  assert.deepEqual(readStringMap(new Hessian2Reader(Buffer.from([0x4e])))!.size, 0);
  const notMap = new Hessian2Reader(Buffer.from([0x91]));
  assert.equal(readStringMap(notMap), null);
  assert.equal(notMap.error?.code, 'unexpected-tag');
});
