import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import {
  FLAG_EVENT,
  FLAG_REQUEST,
  FLAG_TWO_WAY,
  ResponseStatus,
  RpcResponseType,
  SERIALIZATION_HESSIAN2,
} from '../../src/extensions/codecs/dubbo/constants.js';
import { DubboDecodeError } from '../../src/extensions/codecs/dubbo/decode-error.js';
import { DubboDecoder, DubboFrame } from '../../src/extensions/codecs/dubbo/decoder.js';
import {
  encodeErrorResponse,
  encodeHeartbeatRequest,
  encodeHeartbeatResponse,
  rewriteAttachments,
  writeRequestId,
} from '../../src/extensions/codecs/dubbo/encoder.js';
import { parseFrameHeader, readRequestId, writeFrameHeader } from '../../src/extensions/codecs/dubbo/frame-header.js';
import { countParameters } from '../../src/extensions/codecs/dubbo/request-info.js';

interface HessianEncoder {
  write(value: unknown): HessianEncoder;
  writeString(value: string): HessianEncoder;
  writeInt(value: number): HessianEncoder;
  get(): Buffer;
}
interface HessianJs {
  EncoderV2: new (options?: { size?: number }) => HessianEncoder;
  DecoderV2: new (buf: Buffer) => { read(withType?: boolean): unknown };
}
type JavaWrap = (className: string, value: unknown) => unknown;
interface JsToJava extends JavaWrap {
  combine: JavaWrap;
  List(values: unknown[]): unknown;
  long(value: number | string): unknown;
  int(value: number): unknown;
  String(value: string): unknown;
  Boolean(value: boolean): unknown;
  Double(value: number): unknown;
}

const require = createRequire(import.meta.url);
const hessian = require('hessian.js') as HessianJs;
const java = require('js-to-java') as JsToJava;

// --------------------------------------------------------------------------------------------
// Frame builders

const REQUEST_TWO_WAY = FLAG_REQUEST | FLAG_TWO_WAY | SERIALIZATION_HESSIAN2; // 0xc2

function frameOf(flags: number, status: number, id: bigint, body: Buffer): Buffer {
  const out = Buffer.alloc(16 + body.length);
  writeFrameHeader(out, 0, flags, status, id, body.length);
  body.copy(out, 16);
  return out;
}

interface Call {
  dubboVersion?: string;
  path?: string;
  version?: string;
  method?: string;
  paramTypes?: string;
  args?: unknown[];
  attachments?: Record<string, unknown> | null;
}

/** A request body as the Node consumer (apache-dubbo-consumer) writes it: one hessian.js stream. */
function requestBody(call: Call): Buffer {
  const enc = new hessian.EncoderV2({ size: 1024 });
  enc.writeString(call.dubboVersion ?? '2.0.2');
  enc.writeString(call.path ?? 'org.apache.dubbo.demo.DemoProvider');
  enc.writeString(call.version ?? '1.0.0');
  enc.writeString(call.method ?? 'sayHello');
  enc.writeString(call.paramTypes ?? 'Ljava/lang/String;');
  for (const arg of call.args ?? [java.String('world')]) enc.write(arg);
  if (call.attachments !== null) enc.write(call.attachments ?? { path: call.path ?? 'org.apache.dubbo.demo.DemoProvider' });
  return enc.get();
}

function requestFrame(id: bigint, call: Call = {}, flags = REQUEST_TWO_WAY): Buffer {
  return frameOf(flags, 0, id, requestBody(call));
}

/** Decodes a request body with hessian.js: the five strings, `argCount` arguments, then the attachments. */
function decodeBodyWithHessianJs(frame: Buffer, argCount: number): { head: unknown[]; args: unknown[]; attachments: unknown } {
  const d = new hessian.DecoderV2(frame.subarray(16));
  const head = [d.read(), d.read(), d.read(), d.read(), d.read()];
  const args: unknown[] = [];
  for (let i = 0; i < argCount; i++) args.push(d.read());
  return { head, args, attachments: d.read() };
}

/**
 * The request the Node consumer sent in the notes' capture (233 bytes), rebuilt byte for byte from
 * the recorded layout. The capture lists the attachment keys but not the application name: an
 * 8-character stand-in keeps every length as recorded.
 */
function capturedRequest(): Buffer {
  const str = (s: string): number[] =>
    s.length < 32 ? [s.length, ...Buffer.from(s)] : [0x30 | (s.length >> 8), s.length & 0xff, ...Buffer.from(s)];
  const body = Buffer.from([
    ...str('2.0.2'),
    ...str('org.apache.dubbo.demo.DemoProvider'),
    ...str('1.0.0'),
    ...str('sayHello'),
    ...str('Ljava/lang/String;'),
    ...str('world'),
    0x48,
    ...str('application'),
    ...str('consumer'),
    ...str('interface'),
    ...str('org.apache.dubbo.demo.DemoProvider'),
    ...str('path'),
    ...str('org.apache.dubbo.demo.DemoProvider'),
    ...str('timeout'),
    0xd4,
    0x0b,
    0xb8,
    ...str('version'),
    ...str('1.0.0'),
    0x5a,
  ]);
  return frameOf(0xc2, 0, 1n, body);
}

/** The provider's answer in the capture (43 bytes). */
function capturedResponse(): Buffer {
  return Buffer.from('dabb02140000000000000001' + '0000001b' + '940b48656c6c6f20776f726c6448056475626' + '26f05322e302e325a', 'hex');
}

/** Decodes all of `input` in one push and returns the frames (asserting no error). */
function decodeAll(input: Buffer, decoder = new DubboDecoder()): DubboFrame[] {
  decoder.push(input);
  const frames: DubboFrame[] = [];
  for (;;) {
    const r = decoder.next();
    if (r === null) return frames;
    if (!r.ok) assert.fail(`unexpected decode error: ${r.toString()}`);
    frames.push(r);
  }
}

function decodeOne(input: Buffer): DubboFrame {
  const frames = decodeAll(input);
  assert.equal(frames.length, 1);
  return frames[0]!;
}

function decodeError(input: Buffer | Buffer[], decoder = new DubboDecoder()): DubboDecodeError {
  for (const chunk of Array.isArray(input) ? input : [input]) decoder.push(chunk);
  for (;;) {
    const r = decoder.next();
    if (r === null) assert.fail('expected a decode error, got "need more data"');
    if (!r.ok) return r;
  }
}

// --------------------------------------------------------------------------------------------

test('captured consumer request: header, leading fields, argument and attachments', () => {
  const bytes = capturedRequest();
  assert.equal(bytes.length, 233);
  assert.equal(bytes.readInt32BE(12), 0xd9);
  const frame = decodeOne(bytes);
  assert.deepEqual(
    { ...frame.header },
    {
      flags: 0xc2,
      isRequest: true,
      twoWay: true,
      event: false,
      serializationId: 2,
      status: 0,
      requestId: 1n,
      bodyLength: 0xd9,
    },
  );
  assert.equal(frame.bytes.buffer, bytes.buffer, 'a frame inside one chunk is a view, not a copy');
  assert.equal(frame.isHeartbeat, false);
  assert.equal(frame.response, null);
  const req = frame.request!;
  assert.equal(req.dubboVersion, '2.0.2');
  assert.equal(req.path, 'org.apache.dubbo.demo.DemoProvider');
  assert.equal(req.interface, 'org.apache.dubbo.demo.DemoProvider');
  assert.equal(req.version, '1.0.0');
  assert.equal(req.method, 'sayHello');
  assert.equal(req.paramTypes, 'Ljava/lang/String;');
  assert.equal(req.argumentCount, 1);
  assert.equal(req.argumentAsString(0), 'world');
  assert.equal(req.argumentAsString(1), undefined);
  assert.deepEqual(Object.fromEntries(req.attachments()!), {
    application: 'consumer',
    interface: 'org.apache.dubbo.demo.DemoProvider',
    path: 'org.apache.dubbo.demo.DemoProvider',
    timeout: '3000',
    version: '1.0.0',
  });
  assert.equal(req.group, undefined);
  assert.equal(req.error, null);
});

test('captured provider response: OK, value with attachments', () => {
  const frame = decodeOne(capturedResponse());
  assert.equal(frame.header.isRequest, false);
  assert.equal(frame.header.flags, 0x02);
  assert.equal(frame.requestId, 1n);
  const res = frame.response!;
  assert.equal(res.status, ResponseStatus.OK);
  assert.equal(res.isOk, true);
  assert.equal(res.responseType, RpcResponseType.VALUE_WITH_ATTACHMENTS);
  assert.equal(res.isBusinessException, false);
  assert.equal(res.hasAttachments, true);
  assert.equal(res.errorMessage(), null);
  assert.equal(frame.request, null);
});

test('requests encoded by hessian.js: arguments by index, attachments, group', () => {
  const pojo = java.combine('org.apache.dubbo.demo.User', { id: java.long(42), name: 'ann', tags: java.List(['x']) });
  const shared = java.combine('org.apache.dubbo.demo.Point', { x: 1, y: 2 });
  const args = [pojo, java.long('9223372036854775807'), java.int(-7), 'plain', 2.5, true, null, [1, 2], shared, shared, 'last'];
  const bytes = requestFrame(77n, {
    method: 'save',
    paramTypes: 'Lorg/apache/dubbo/demo/User;JILjava/lang/String;DZLjava/lang/Object;[ILorg/apache/dubbo/demo/Point;Ljava/lang/Object;Ljava/lang/String;',
    args,
    attachments: { group: 'blue', version: '1.0.0', timeout: 3000, 'x-user': 'ann' },
  });
  const req = decodeOne(bytes).request!;
  assert.equal(req.method, 'save');
  assert.equal(req.argumentCount, 11);
  // Ask out of order: later arguments first, then earlier ones from the recorded offsets.
  assert.equal(req.argumentAsString(10), 'last');
  assert.equal(req.argumentAsString(1), '9223372036854775807');
  assert.deepEqual(
    Array.from({ length: 12 }, (_, i) => req.argumentAsString(i)),
    [undefined, '9223372036854775807', '-7', 'plain', '2.5', 'true', undefined, undefined, undefined, undefined, 'last', undefined],
  );
  assert.equal(req.argumentAsString(-1), undefined);
  assert.equal(req.group, 'blue');
  assert.deepEqual(Object.fromEntries(req.attachments()!), { group: 'blue', version: '1.0.0', timeout: '3000', 'x-user': 'ann' });
  assert.equal(req.error, null);
});

test('parameter descriptors count like Dubbo', () => {
  assert.equal(countParameters(''), 0);
  assert.equal(countParameters('Ljava/lang/String;'), 1);
  assert.equal(countParameters('[I[[Ljava/lang/String;JZ'), 4);
  assert.equal(countParameters('VZBCDFIJS'), 9);
  assert.equal(countParameters('Ljava/lang/String'), -1);
  assert.equal(countParameters('Q'), -1);
  const req = decodeOne(requestFrame(1n, { paramTypes: 'Ljava/lang/String' })).request!;
  assert.equal(req.attachments(), null);
  assert.equal(req.error?.code, 'bad-body');
});

test('a frame split across reads at every byte boundary decodes the same', () => {
  const stream = Buffer.concat([
    capturedRequest(),
    encodeHeartbeatRequest(2n),
    requestFrame(3n, { args: [java.String('😀 split')], attachments: { group: 'g' } }),
    capturedResponse(),
  ]);
  const whole = decodeAll(stream);
  assert.equal(whole.length, 4);
  const summary = (frames: DubboFrame[]): unknown =>
    frames.map((f) => [f.requestId, f.bytes.toString('hex'), f.request?.method, f.request?.attachments()?.get('group')]);
  for (let cut = 1; cut < stream.length; cut++) {
    const decoder = new DubboDecoder();
    const frames: DubboFrame[] = [];
    for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
      decoder.push(part);
      for (let r = decoder.next(); r !== null; r = decoder.next()) {
        assert.ok(r.ok, `cut at ${cut}`);
        frames.push(r);
      }
    }
    assert.deepEqual(summary(frames), summary(whole), `cut at ${cut}`);
    assert.equal(decoder.buffered, 0);
  }
  // One byte per read.
  const decoder = new DubboDecoder();
  const frames: DubboFrame[] = [];
  for (let i = 0; i < stream.length; i++) {
    decoder.push(stream.subarray(i, i + 1));
    for (let r = decoder.next(); r !== null; r = decoder.next()) {
      assert.ok(r.ok);
      frames.push(r);
    }
  }
  assert.deepEqual(summary(frames), summary(whole));
});

test('many frames in one read: all decoded, each a view of the read', () => {
  const parts: Buffer[] = [];
  for (let i = 0; i < 200; i++) parts.push(requestFrame(BigInt(i), { method: `m${i}`, attachments: { n: i } }));
  const read = Buffer.concat(parts);
  const frames = decodeAll(read);
  assert.equal(frames.length, 200);
  frames.forEach((f, i) => {
    assert.equal(f.requestId, BigInt(i));
    assert.equal(f.request!.method, `m${i}`);
    assert.equal(f.request!.attachments()!.get('n'), String(i));
    assert.equal(f.bytes.buffer, read.buffer);
  });
});

test('detach copies the frame; lazy parsing keeps working on the copy', () => {
  const read = Buffer.concat([requestFrame(1n, { attachments: { group: 'a' } }), requestFrame(2n, { attachments: { group: 'b' } })]);
  const [first, second] = decodeAll(read);
  assert.equal(first!.request!.argumentAsString(0), 'world'); // walker created before the copy
  first!.detach();
  second!.detach();
  read.fill(0); // the original read buffer is gone
  assert.notEqual(first!.bytes.buffer, read.buffer);
  assert.equal(first!.request!.group, 'a');
  assert.equal(second!.request!.group, 'b');
  assert.equal(second!.request!.argumentAsString(0), 'world');
});

test('bad magic, bad lengths and other serializations are decode errors, sticky', () => {
  const early = new DubboDecoder();
  early.push(Buffer.from('G'));
  const e1 = early.next();
  assert.ok(e1 !== null && !e1.ok);
  assert.equal(e1.code, 'bad-magic', 'detected from the first byte');
  early.push(capturedRequest());
  assert.equal(early.next(), e1, 'the error is sticky');

  const good = capturedRequest();
  const badMagic = Buffer.from(good);
  badMagic[1] = 0xbc;
  assert.equal(decodeError(badMagic).code, 'bad-magic');

  // Oversize is refused from the header alone, before the body arrives.
  const oversize = Buffer.from(good.subarray(0, 16));
  oversize.writeInt32BE(16 * 1024 * 1024 + 1, 12);
  const e2 = decodeError(oversize);
  assert.equal(e2.code, 'body-too-large');
  assert.equal(e2.header?.requestId, 1n);
  const limited = new DubboDecoder({ maxBodyBytes: 100 });
  assert.equal(decodeError(good, limited).code, 'body-too-large');
  const exactly = Buffer.from(good.subarray(0, 16));
  exactly.writeInt32BE(16 * 1024 * 1024, 12);
  const pending = new DubboDecoder();
  pending.push(exactly);
  assert.equal(pending.next(), null, '16 MiB exactly is allowed: waits for the body');

  const zero = Buffer.from(good.subarray(0, 16));
  zero.writeInt32BE(0, 12);
  assert.equal(decodeError(zero).code, 'bad-body-length');
  const negative = Buffer.from(good.subarray(0, 16));
  negative.writeInt32BE(-5, 12);
  assert.equal(decodeError(negative).code, 'bad-body-length');

  const kryo = Buffer.from(good);
  kryo[2] = FLAG_REQUEST | FLAG_TWO_WAY | 8;
  assert.equal(decodeError(kryo).code, 'unsupported-serialization');

  // A good frame before the bad one is still returned first.
  const decoder = new DubboDecoder();
  decoder.push(Buffer.concat([good, badMagic]));
  assert.ok(decoder.next()?.ok);
  assert.equal((decoder.next() as DubboDecodeError).code, 'bad-magic');
});

test('truncated Hessian inside a complete frame is a decode error carrying the header', () => {
  const good = capturedRequest();
  // Body ends in the middle of the path string.
  const body = good.subarray(16, 16 + 20);
  const e = decodeError(frameOf(0xc2, 0, 9n, body));
  assert.equal(e.code, 'bad-body');
  assert.equal(e.hessian?.code, 'truncated');
  assert.equal(e.header?.requestId, 9n, 'the proxy can still answer request 9');

  // Every cut of the five leading strings (76 bytes) fails the same way, and never throws.
  for (let len = 1; len < 76; len++) {
    const err = decodeError(frameOf(0xc2, 0, 1n, good.subarray(16, 16 + len)));
    assert.equal(err.code, 'bad-body', `body cut to ${len}`);
  }

  // Cut inside the argument (76..81) or the attachments (83..216): the frame decodes, the lazy
  // accessors report the error.
  for (let len = 76; len < 217; len++) {
    const frame = decodeOne(frameOf(0xc2, 0, 1n, good.subarray(16, 16 + len)));
    const req = frame.request!;
    if (len !== 82) {
      assert.equal(req.attachments(), null, `body cut to ${len}`);
      assert.equal(req.error?.code, 'bad-body');
      assert.equal(req.error?.hessian?.code, 'truncated');
      assert.equal(req.group, undefined);
      assert.equal(req.argumentAsString(0), undefined);
    } else {
      assert.deepEqual(req.attachments()!.size, 0, 'a body that ends after the arguments has no attachments');
    }
  }

  // Garbage in an argument.
  const bad = Buffer.from(good);
  bad[16 + 76] = 0x40; // the argument's tag becomes a reserved code
  const req = decodeOne(bad).request!;
  assert.equal(req.attachments(), null);
  assert.equal(req.error?.hessian?.code, 'unexpected-tag');
});

test('attachment rewrite: only the attachments are re-encoded, the length is patched', () => {
  const pojo = java.combine('org.apache.dubbo.demo.User', { id: java.long(42), name: 'ann' });
  const args = [pojo, 'second', pojo];
  const original = requestFrame(5n, {
    paramTypes: 'Lorg/apache/dubbo/demo/User;Ljava/lang/String;Lorg/apache/dubbo/demo/User;',
    args,
    attachments: { group: 'blue', timeout: 3000, keep: 'me', drop: 'x' },
  });
  const copy = Buffer.from(original);
  const frame = decodeOne(original);
  const layout = frame.request!.attachmentLayout()!;

  const rewritten = rewriteAttachments(
    frame,
    new Map<string, string | null>([
      ['group', 'green'],
      ['drop', null],
      ['x-courier', 'yes'],
      ['absent', null],
    ]),
  );
  assert.ok(Buffer.isBuffer(rewritten));
  assert.deepEqual(original, copy, 'the original frame is untouched');
  assert.deepEqual(rewritten.subarray(0, 12), original.subarray(0, 12), 'magic, flags, status, id unchanged');
  assert.deepEqual(rewritten.subarray(16, layout.start), original.subarray(16, layout.start), 'strings and args copied byte for byte');
  assert.equal(rewritten.readInt32BE(12), rewritten.length - 16, 'body length patched');

  const decoded = decodeBodyWithHessianJs(rewritten, 3);
  assert.deepEqual(decoded.attachments, { group: 'green', timeout: 3000, keep: 'me', 'x-courier': 'yes' });
  assert.deepEqual(decoded.args, decodeBodyWithHessianJs(original, 3).args);
  assert.deepEqual(decoded.head, ['2.0.2', 'org.apache.dubbo.demo.DemoProvider', '1.0.0', 'sayHello', 'Lorg/apache/dubbo/demo/User;Ljava/lang/String;Lorg/apache/dubbo/demo/User;']);

  const again = decodeOne(rewritten).request!;
  assert.deepEqual(Object.fromEntries(again.attachments()!), { group: 'green', timeout: '3000', keep: 'me', 'x-courier': 'yes' });
  assert.equal(again.argumentAsString(1), 'second');

  assert.equal(rewriteAttachments(frame, new Map()), frame.bytes, 'no changes: the same bytes');
});

test('attachment rewrite: missing or null attachments get a fresh map; non-scalar values are protected', () => {
  const none = decodeOne(requestFrame(1n, { attachments: null }));
  assert.equal(none.request!.attachments()!.size, 0);
  const added = rewriteAttachments(none, new Map([['group', 'g']])) as Buffer;
  assert.deepEqual(decodeBodyWithHessianJs(added, 1).attachments, { group: 'g' });

  const nullMap = Buffer.concat([requestFrame(1n, { attachments: null }).subarray(16), Buffer.from([0x4e])]);
  const withNull = decodeOne(frameOf(0xc2, 0, 1n, nullMap));
  const fromNull = rewriteAttachments(withNull, new Map([['group', 'g']])) as Buffer;
  assert.deepEqual(decodeBodyWithHessianJs(fromNull, 1).attachments, { group: 'g' });

  const complex = decodeOne(requestFrame(1n, { attachments: { group: 'a', list: [1, 2], obj: { k: 'v' } } }));
  assert.deepEqual(Object.fromEntries(complex.request!.attachments()!), { group: 'a' });
  const kept = rewriteAttachments(complex, new Map([['group', 'b']])) as Buffer;
  assert.deepEqual(decodeBodyWithHessianJs(kept, 1).attachments, { group: 'b', list: [1, 2], obj: { k: 'v' } });
  const refused = rewriteAttachments(complex, new Map([['list', 'x']]));
  assert.ok(refused instanceof DubboDecodeError);
  assert.equal(refused.code, 'bad-body');

  const response = decodeOne(capturedResponse());
  assert.ok(rewriteAttachments(response, new Map([['a', 'b']])) instanceof DubboDecodeError);
});

const javaDubboBody = (() => {
  const vectors = (
    JSON.parse(readFileSync(new URL('../../../test/fixtures/hessian-java/vectors.json', import.meta.url), 'utf8')) as {
      vectors: { name: string; valueLength: number; base64: string }[];
    }
  ).vectors;
  const v = vectors.find((x) => x.name === 'dubbo request body')!;
  return Buffer.from(v.base64, 'base64').subarray(0, v.valueLength);
})();

test('a request body written by Java Hessian2Output: arguments, attachments, rewrite keeping an object value', () => {
  const frame = decodeOne(frameOf(0xc2, 0, 11n, javaDubboBody));
  const req = frame.request!;
  assert.equal(req.path, 'org.apache.dubbo.demo.UserService');
  assert.equal(req.method, 'save');
  assert.equal(req.argumentCount, 3);
  assert.deepEqual([0, 1, 2].map((i) => req.argumentAsString(i)), [undefined, '9000000000', 'third']);
  assert.equal(req.group, 'blue');
  assert.equal(req.attachments()!.get('timeout'), '3000');
  assert.equal(req.attachments()!.get('flag'), 'true');
  assert.equal(req.attachments()!.has('owner'), false, 'an object value is not a string');

  // The 'owner' value is an object whose class was defined in the arguments: copied verbatim, it
  // still decodes, because everything before the attachments is unchanged.
  const rewritten = rewriteAttachments(frame, new Map<string, string | null>([['group', 'green'], ['flag', null]])) as Buffer;
  const again = decodeOne(rewritten).request!;
  assert.deepEqual(Object.fromEntries([...again.attachments()!].sort()), {
    group: 'green',
    interface: 'org.apache.dubbo.demo.UserService',
    path: 'org.apache.dubbo.demo.UserService',
    timeout: '3000',
    version: '1.0.0',
  });
  const att = decodeBodyWithHessianJs(rewritten, 3).attachments as Record<string, unknown>;
  assert.deepEqual(att.owner, { x: 5, y: 6 });
  assert.equal(att.group, 'green');
  assert.equal('flag' in att, false);
  assert.ok(rewriteAttachments(frame, new Map([['owner', 'x']])) instanceof DubboDecodeError);
});

test('request id rewrite in place, for multiplexing', () => {
  const bytes = capturedRequest();
  const frame = decodeOne(bytes);
  writeRequestId(frame.bytes, 0x0102030405060708n);
  assert.equal(readRequestId(bytes), 0x0102030405060708n, 'written into the same memory');
  assert.equal(bytes.subarray(4, 12).toString('hex'), '0102030405060708');
  writeRequestId(frame.bytes, -1n);
  assert.equal(readRequestId(bytes), -1n);
  writeRequestId(frame.bytes, 2n ** 64n - 2n); // wraps like Java's long
  assert.equal(readRequestId(bytes), -2n);
  assert.deepEqual(bytes.subarray(12), capturedRequest().subarray(12), 'nothing else changes');
});

test('heartbeats: request decodes as an event; the response bytes are exact', () => {
  const hb = decodeOne(encodeHeartbeatRequest(7n));
  assert.equal(hb.isHeartbeat, true);
  assert.equal(hb.header.isRequest, true);
  assert.equal(hb.header.twoWay, true);
  assert.equal(hb.header.flags, 0xe2);
  assert.equal(hb.request, null, 'heartbeats are not routed');

  const reply = encodeHeartbeatResponse(hb.requestId);
  assert.equal(reply.toString('hex'), 'dabb2214' + '0000000000000007' + '00000001' + '4e');
  const decoded = decodeOne(reply);
  assert.equal(decoded.isHeartbeat, true);
  assert.equal(decoded.header.isRequest, false);
  assert.equal(decoded.header.status, ResponseStatus.OK);
  assert.equal(decoded.response, null);
  assert.equal(new hessian.DecoderV2(decoded.body()).read(), null);
  assert.equal(FLAG_EVENT, 0x20);
});

test('error responses decode: status and message string', () => {
  const bytes = encodeErrorResponse(12n, ResponseStatus.SERVER_ERROR, 'unknown cluster "x" ✗');
  const header = parseFrameHeader(bytes);
  assert.ok(!(header instanceof DubboDecodeError));
  assert.equal(header.flags, 0x02);
  assert.equal(header.status, 80);
  const frame = decodeOne(bytes);
  const res = frame.response!;
  assert.equal(res.status, 80);
  assert.equal(res.isOk, false);
  assert.equal(res.responseType, null);
  assert.equal(res.isBusinessException, false);
  assert.equal(res.errorMessage(), 'unknown cluster "x" ✗');
  assert.equal(new hessian.DecoderV2(frame.body()).read(), 'unknown cluster "x" ✗');

  const notFound = decodeOne(encodeErrorResponse(13n, ResponseStatus.SERVICE_NOT_FOUND, 'no route'));
  assert.equal(notFound.response!.status, 60);
  assert.equal(notFound.requestId, 13n);
  assert.equal(notFound.response!.errorMessage(), 'no route');
  assert.throws(() => encodeErrorResponse(1n, ResponseStatus.OK, 'x'), RangeError);
});

test('OK responses: every response type; business exceptions; bad bodies', () => {
  const response = (id: bigint, write: (e: HessianEncoder) => void, status: number = ResponseStatus.OK): Buffer => {
    const enc = new hessian.EncoderV2();
    write(enc);
    return frameOf(SERIALIZATION_HESSIAN2, status, id, enc.get());
  };
  const exception = java.combine('java.lang.RuntimeException', { detailMessage: 'boom', stackTrace: [], suppressedExceptions: [] });
  const cases: [number, (e: HessianEncoder) => void, boolean][] = [
    [0, (e) => e.writeInt(0).write(exception), true],
    [1, (e) => e.writeInt(1).write('value'), false],
    [2, (e) => e.writeInt(2), false],
    [3, (e) => e.writeInt(3).write(exception).write({ a: 'b' }), true],
    [4, (e) => e.writeInt(4).write('value').write({ dubbo: '2.0.2' }), false],
    [5, (e) => e.writeInt(5).write({}), false],
  ];
  for (const [type, write, business] of cases) {
    const res = decodeOne(response(BigInt(type), write)).response!;
    assert.equal(res.responseType, type);
    assert.equal(res.isBusinessException, business, `type ${type}`);
    assert.equal(res.hasAttachments, type >= 3);
  }
  assert.equal(decodeError(response(1n, (e) => e.writeInt(6))).code, 'bad-body');
  assert.equal(decodeError(response(1n, (e) => e.writeString('not a type'))).code, 'bad-body');
  // Unknown statuses pass through (MetaProtocol rejected 80, its own error status).
  const odd = decodeOne(response(1n, (e) => e.writeString('odd'), 99)).response!;
  assert.equal(odd.status, 99);
  assert.equal(odd.errorMessage(), 'odd');
  const nullMessage = decodeOne(response(1n, (e) => e.write(null), 80)).response!;
  assert.equal(nullMessage.errorMessage(), null);
});

test('one-way requests and DubboFrame.from on a whole buffer', () => {
  const bytes = requestFrame(3n, {}, FLAG_REQUEST | SERIALIZATION_HESSIAN2);
  const header = parseFrameHeader(bytes);
  assert.ok(!(header instanceof DubboDecodeError));
  assert.equal(header.twoWay, false);
  const frame = DubboFrame.from(header, bytes);
  assert.ok(frame.ok);
  assert.equal(frame.request!.method, 'sayHello');
});

test('corrupted streams never make the decoder or the lazy accessors throw', () => {
  let seed = 0x9e3779b9;
  const random = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const valid = Buffer.concat([
    capturedRequest(),
    frameOf(0xc2, 0, 2n, javaDubboBody),
    requestFrame(3n, { args: [java.combine('a.B', { x: [1, 'y'] })], paramTypes: 'La/B;', attachments: { group: 'g' } }),
    capturedResponse(),
  ]);
  let frames = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(valid);
    // Keep the first header intact half the time, so bodies (not just magic) get corrupted.
    const from = i % 2 === 0 ? 16 : 0;
    for (let j = 0; j < 1 + (i % 5); j++) {
      bytes[from + Math.floor(random() * (bytes.length - from))] = Math.floor(random() * 256);
    }
    const decoder = new DubboDecoder();
    decoder.push(bytes);
    for (let r = decoder.next(); r !== null && r.ok; r = decoder.next()) {
      frames++;
      const req = r.request;
      if (req !== null) {
        req.attachments();
        req.argumentAsString(0);
        req.argumentAsString(2);
        rewriteAttachments(r, new Map([['group', 'x']]));
      }
      r.response?.errorMessage();
    }
  }
  assert.ok(frames > 0);
});
