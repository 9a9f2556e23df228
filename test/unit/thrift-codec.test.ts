/**
 * The Thrift MetaProtocol codec against bytes written and read by npm `thrift` itself
 * (TBinaryProtocol, TCompactProtocol, TFramedTransport, TBufferedTransport, THeaderProtocol).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { MetaMessage } from '../../src/api/meta-protocol-codec.js';
import { MAX_DEPTH, MAX_FRAME_BYTES } from '../../src/extensions/codecs/thrift/constants.js';
import {
  THRIFT_CODEC_NAME,
  thriftCodecFactory,
  type ThriftCodec,
  type ThriftCodecData,
} from '../../src/extensions/codecs/thrift/meta-codec.js';
import { echoTypes, toPayload, type Payload } from '../support/thrift-peers.js';
import { COMBOS, M, npm, npmRead, npmWrite, T, type NpmProtocol, type Protocol, type Transport } from '../support/thrift-wire.js';


/** A struct {1: Payload p} written as the message body, as Echo.bulk's arguments. */
function bulkArgs(p: Payload, uuid = false): (proto: NpmProtocol) => void {
  return (proto) => {
    proto.writeStructBegin('bulk_args');
    proto.writeFieldBegin('p', T.STRUCT!, 1);
    (toPayload(p) as unknown as { write(o: NpmProtocol): void }).write(proto);
    proto.writeFieldEnd();
    if (uuid) {
      proto.writeFieldBegin('u', T.UUID!, 2);
      proto.writeUuid('00112233-4455-6677-8899-aabbccddeeff');
      proto.writeFieldEnd();
    }
    proto.writeFieldStop();
    proto.writeStructEnd();
  };
}

function message(name: string, type: number, seqid: number, body: (p: NpmProtocol) => void): (p: NpmProtocol) => void {
  return (proto) => {
    proto.writeMessageBegin(name, type, seqid);
    body(proto);
    proto.writeMessageEnd();
  };
}

const emptyStruct = (proto: NpmProtocol): void => {
  proto.writeStructBegin('s');
  proto.writeFieldStop();
  proto.writeStructEnd();
};

/** A result struct with one field `id` holding a string. */
const resultField =
  (id: number, value: string) =>
  (proto: NpmProtocol): void => {
    proto.writeStructBegin('result');
    proto.writeFieldBegin('f', T.STRING!, id);
    proto.writeString(value);
    proto.writeFieldEnd();
    proto.writeFieldStop();
    proto.writeStructEnd();
  };

const BIG_PAYLOAD: Payload = {
  name: 'top ✓',
  count: -7,
  big: 2 ** 40 + 3,
  ratio: Math.PI,
  blob: Buffer.from([0, 1, 2, 0x80, 0xff]),
  flag: true,
  small: -3,
  medium: 30000,
  tags: ['a', '', 'ccc', 'd'.repeat(300)],
  weights: { one: 1, minus: -1, large: 2 ** 35 },
  codes: [1, -2, 300],
  children: [
    { name: 'kid1', flag: false, ratio: -0.5, children: [{ name: 'grandkid', codes: [], tags: [] }] },
    { name: 'kid2', series: { s: [1.5, 2.5], empty: [] }, weights: {} },
  ],
  series: { x: [0.1, 0.2, 0.3] },
};

function codec(config: Record<string, unknown> = {}): ThriftCodec {
  return thriftCodecFactory.createCodec(config) as ThriftCodec;
}

function dataOf(m: MetaMessage): ThriftCodecData {
  return m.codecData as ThriftCodecData;
}

/**
 * frameLength for every prefix, on a fresh codec each time and on one codec as bytes grow: 0
 * before `answerFrom` bytes, the whole length from there. Length-prefixed frames are answered
 * once the format is detected (6 bytes: the length and 2 bytes of what follows); unframed ones
 * only when complete.
 */
function checkEveryPrefix(bytes: Buffer, config: Record<string, unknown> = {}, label = '', answerFrom = bytes.length): void {
  const growing = codec(config);
  for (let n = 0; n < bytes.length; n++) {
    const prefix = bytes.subarray(0, n);
    const expected = n >= answerFrom ? bytes.length : 0;
    assert.equal(codec(config).frameLength(prefix), expected, `${label} fresh codec, prefix ${n}/${bytes.length}`);
    assert.equal(growing.frameLength(prefix), expected, `${label} growing, prefix ${n}/${bytes.length}`);
  }
  assert.equal(growing.frameLength(bytes), bytes.length, `${label} growing, whole`);
  assert.equal(codec(config).frameLength(bytes), bytes.length, `${label} fresh, whole`);
  // followed by the start of another message: still this one's length
  const two = Buffer.concat([bytes, bytes.subarray(0, 7)]);
  assert.equal(codec(config).frameLength(two), bytes.length, `${label} with trailing bytes`);
}

// --------------------------------------------------------------------------------------------
// config

test('factory name and config: defaults, unknown keys and values refused clearly', () => {
  assert.equal(thriftCodecFactory.name, 'courier.meta_protocol.codec.thrift');
  assert.equal(THRIFT_CODEC_NAME, thriftCodecFactory.name);
  thriftCodecFactory.configure!({});
  thriftCodecFactory.configure!({ transport: 'header', protocol: 'compact' });
  for (const transport of ['auto', 'framed', 'unframed', 'header']) thriftCodecFactory.configure!({ transport });
  assert.throws(() => thriftCodecFactory.configure!({ transprot: 'framed' }), /unknown key "transprot" \(known: transport, protocol\)/);
  assert.throws(
    () => thriftCodecFactory.configure!({ transport: 'buffered' }),
    /transport must be one of auto, framed, unframed, header \(got "buffered"\)/,
  );
  assert.throws(() => thriftCodecFactory.configure!({ protocol: 'json' }), /protocol must be one of auto, binary, compact \(got "json"\)/);
  assert.throws(() => thriftCodecFactory.configure!({ protocol: 2 }), /got 2/);
  assert.throws(() => thriftCodecFactory.createCodec({ protocol: null }), /got null/);
});

// --------------------------------------------------------------------------------------------
// framing and decode, every transport and protocol

for (const [transport, protocol] of COMBOS) {
  test(`${transport} ${protocol}: frameLength at every prefix, auto-detected, and decode`, () => {
    const bytes = npmWrite(transport, protocol, message('bulk', M.CALL!, 42, bulkArgs(BIG_PAYLOAD, true)), {
      headers: { 'X-Trace': 'abc', tenant: 't1', method: 'not-the-method' },
    });
    const answerFrom = transport === 'unframed' ? bytes.length : 6;
    checkEveryPrefix(bytes, {}, `${transport}/${protocol}`, answerFrom);
    checkEveryPrefix(bytes, { transport, protocol }, `${transport}/${protocol} configured`, answerFrom);

    const c = codec();
    assert.equal(c.frameLength(bytes), bytes.length);
    assert.deepEqual(c.framing, { transport, protocol: transport === 'header' ? 'auto' : protocol });
    if (transport !== 'unframed') assert.equal(c.frameLength(bytes.subarray(0, 4)), bytes.length, 'detected: 4 bytes will do');
    const m = c.decode(bytes, 'downstream');
    assert.equal(m.type, 'request');
    assert.equal(m.requestId, 42);
    assert.equal(m.metadata.get('method'), 'bulk');
    const metadata = m.metadata as ReadonlyMap<string, string>;
    if (transport === 'header') {
      assert.equal(metadata.get('x-trace'), 'abc');
      assert.equal(metadata.get('tenant'), 't1');
      assert.equal(metadata.size, 3);
    } else {
      assert.equal(metadata.size, 1);
    }
    assert.equal(m.businessException, undefined);
    const data = dataOf(m);
    assert.equal(data.transport, transport);
    assert.equal(data.protocol, protocol);
    assert.equal(data.name, 'bulk');
    assert.equal(data.seqid, 42);

    // The same codec keeps going: several messages back to back, split at odd places.
    const second = npmWrite(transport, protocol, message('echo', M.ONEWAY!, 43, emptyStruct));
    let stream = Buffer.concat([bytes, second, bytes]);
    const seen: MetaMessage[] = [];
    let buffered = Buffer.alloc(0);
    const c2 = codec();
    while (stream.length > 0) {
      buffered = Buffer.concat([buffered, stream.subarray(0, 5)]);
      stream = stream.subarray(5);
      // as Courier does: once a length is known, wait until that many bytes are in
      for (let n = c2.frameLength(buffered); n > 0 && buffered.length >= n; n = c2.frameLength(buffered)) {
        seen.push(c2.decode(buffered.subarray(0, n), 'downstream'));
        buffered = buffered.subarray(n);
      }
    }
    assert.equal(buffered.length, 0);
    assert.deepEqual(
      seen.map((s) => [s.type, s.requestId, s.metadata.get('method')]),
      [
        ['request', 42, 'bulk'],
        ['oneway', 43, 'echo'],
        ['request', 42, 'bulk'],
      ],
    );
  });

  test(`${transport} ${protocol}: replies: success, void, declared exception, EXCEPTION`, () => {
    const c = codec({ transport, protocol });
    const decode = (type: number, body: (p: NpmProtocol) => void): MetaMessage => {
      const bytes = npmWrite(transport, protocol, message('fail', type, 9, body));
      assert.equal(c.frameLength(bytes), bytes.length);
      return c.decode(bytes, 'upstream');
    };
    const ok = decode(M.REPLY!, resultField(0, 'fine'));
    assert.equal(ok.type, 'response');
    assert.equal(ok.requestId, 9);
    assert.equal(ok.businessException, false);
    assert.equal(decode(M.REPLY!, emptyStruct).businessException, false, 'void success');
    const declared = decode(M.REPLY!, resultWithError);
    assert.equal(declared.type, 'response');
    assert.equal(declared.businessException, true);
    assert.equal(decode(M.REPLY!, resultField(20, 'x')).businessException, true, 'field id above 15 (compact long form)');
    const exception = decode(M.EXCEPTION!, (p) => {
      const x = new npm.Thrift.TApplicationException() as unknown as { type: number; message: string; write(p: NpmProtocol): void };
      x.type = 6;
      x.message = 'boom';
      x.write(p);
    });
    assert.equal(exception.type, 'error');
    assert.equal(exception.businessException, undefined);
    // A CALL on the upstream side, or a REPLY on the downstream side, is refused.
    const call = npmWrite(transport, protocol, message('echo', M.CALL!, 1, emptyStruct));
    assert.throws(() => c.decode(call, 'upstream'), /CALL message "echo" from upstream \(expected REPLY or EXCEPTION\)/);
    const reply = npmWrite(transport, protocol, message('echo', M.REPLY!, 1, emptyStruct));
    assert.throws(() => codec().decode(reply, 'downstream'), /REPLY message "echo" from downstream/);
  });

  test(`${transport} ${protocol}: onError is a TApplicationException npm thrift reads back`, () => {
    const request = codec().decode(npmWrite(transport, protocol, message('add', M.CALL!, -5, emptyStruct)), 'downstream');
    assert.equal(request.requestId, 2 ** 32 - 5, 'requestId is the seqid as unsigned');
    assert.equal(dataOf(request).seqid, -5);
    const cases: [Parameters<ThriftCodec['onError']>[1], number][] = [
      [{ type: 'route_not_found', message: 'no route for method add' }, 1],
      [{ type: 'timeout', message: 'upstream request timeout ✗' }, 6],
      [{ type: 'no_healthy_upstream', message: '' }, 6],
    ];
    for (const [error, expectedType] of cases) {
      const out = codec().onError(request, error);
      assert.equal(codec({ transport, protocol }).frameLength(out), out.length, 'frame length of the reply');
      const reply = codec().decode(out, 'upstream');
      assert.equal(reply.type, 'error');
      assert.equal(reply.requestId, 2 ** 32 - 5);
      const p = npmRead(transport, protocol, out);
      const begin = p.readMessageBegin();
      // npm's compact reader returns the seqid varint unsigned
      assert.deepEqual({ ...begin, rseqid: begin.rseqid | 0 }, { fname: 'add', mtype: M.EXCEPTION, rseqid: -5 });
      const x = new npm.Thrift.TApplicationException();
      x.read(p);
      assert.equal(x.type, expectedType);
      assert.equal(x.message, error.message);
    }
  });

  test(`${transport} ${protocol}: setRequestId, read back by npm thrift`, () => {
    for (const [from, to] of [
      [5, 6],
      [5, 300],
      [300, 5],
      [-1, 7],
      [7, 2 ** 32 - 1],
      [2 ** 20, 0],
    ] as const) {
      const bytes = npmWrite(transport, protocol, message('bulk', M.CALL!, from, bulkArgs(BIG_PAYLOAD)));
      const c = codec();
      const m = c.decode(bytes, 'downstream');
      const out = c.setRequestId(bytes, m, to);
      if (protocol === 'binary') assert.equal(out, bytes, 'binary: rewritten in place');
      assert.equal(codec().frameLength(out), out.length, `frame length after ${from} -> ${to}`);
      assert.equal(codec().decode(out, 'downstream').requestId, to);
      const p = npmRead(transport, protocol, out);
      assert.equal(p.readMessageBegin().rseqid | 0, to | 0);
      // The body is intact: npm reads the whole Payload back.
      p.readStructBegin();
      assert.equal(p.readFieldBegin().fid, 1);
      const payload = new echoTypes.Payload();
      (payload as unknown as { read(p: NpmProtocol): void }).read(p);
      assert.equal(payload.name, BIG_PAYLOAD.name);
      assert.equal(payload.children![0]!.children![0]!.name, 'grandkid');
      assert.deepEqual(payload.series, { x: [0.1, 0.2, 0.3] });
      if (transport === 'header') assert.equal(out.readInt32BE(8), to | 0, "the header's seqid follows");
    }
  });
}

function resultWithError(p: NpmProtocol): void {
  p.writeStructBegin('fail_result');
  p.writeFieldBegin('err', T.STRUCT!, 1);
  (new echoTypes.EchoError({ code: 3, message: 'bad', server: 's' }) as unknown as { write(p: NpmProtocol): void }).write(p);
  p.writeFieldEnd();
  p.writeFieldStop();
  p.writeStructEnd();
}

// --------------------------------------------------------------------------------------------
// binary specifics

test('old-style (non-strict) binary, framed and unframed: detected, decoded, answered in kind', () => {
  for (const transport of ['framed', 'unframed'] as const) {
    const bytes = npmWrite(transport, 'binary', message('bulk', M.CALL!, 77, bulkArgs(BIG_PAYLOAD)), { oldStyle: true });
    assert.equal(bytes.readInt32BE(transport === 'framed' ? 4 : 0), 4, 'starts with the name length');
    // framed: detected once the type byte after the name is in (4 + 4 + 4 + 1 bytes)
    checkEveryPrefix(bytes, {}, `old-style ${transport}`, transport === 'framed' ? 13 : bytes.length);
    const c = codec();
    assert.equal(c.frameLength(bytes), bytes.length);
    assert.deepEqual(c.framing, { transport, protocol: 'binary' });
    const m = c.decode(bytes, 'downstream');
    assert.equal(m.metadata.get('method'), 'bulk');
    assert.equal(m.requestId, 77);
    assert.equal(dataOf(m).strict, false);
    const out = c.setRequestId(bytes, m, 1234);
    const p = npmRead(transport, 'binary', out);
    assert.equal(p.readMessageBegin().rseqid, 1234);
    const err = npmRead(transport, 'binary', c.onError(m, { type: 'timeout', message: 'late' }));
    const begin = err.readMessageBegin();
    // npm's old-style reader returns the name as a Buffer
    assert.deepEqual({ ...begin, fname: String(begin.fname) }, { fname: 'bulk', mtype: M.EXCEPTION, rseqid: 77 });
  }
});

test('compact: a seqid rewrite that changes the varint width makes a new buffer with the frame length fixed', () => {
  for (const transport of ['framed', 'unframed', 'header'] as const) {
    const bytes = npmWrite(transport, 'compact', message('echo', M.CALL!, 5, resultField(1, 'hello')));
    const c = codec();
    const m = c.decode(bytes, 'downstream');
    const same = c.setRequestId(bytes, m, 100);
    assert.equal(same, bytes, 'same width: in place');
    const wider = c.setRequestId(bytes, m, 2 ** 31 - 1);
    assert.notEqual(wider, bytes);
    assert.equal(wider.length, bytes.length + 4);
    if (transport !== 'unframed') assert.equal(wider.readInt32BE(0), wider.length - 4);
    assert.equal(codec().decode(wider, 'downstream').requestId, 2 ** 31 - 1);
    // Back to the original id, from the rewritten frame.
    const back = c.setRequestId(wider, m, 5);
    assert.equal(back.length, bytes.length);
    assert.equal(codec().decode(back, 'downstream').requestId, 5);
  }
});

// --------------------------------------------------------------------------------------------
// THeader

test('THeader: a mutation is written as info headers npm thrift reads; other transports pass the frame', () => {
  const bytes = npmWrite('header', 'compact', message('bulk', M.CALL!, 3, bulkArgs(BIG_PAYLOAD)), {
    headers: { 'X-Trace': 'abc', keep: 'me' },
  });
  const c = codec();
  const m = c.decode(bytes, 'downstream');
  assert.equal(c.encode(m, bytes, new Map()), bytes, 'empty mutation: the frame itself');
  const out = c.encode(
    m,
    bytes,
    new Map([
      ['x-trace', 'replaced ✓'],
      ['x-courier-cluster', 'c1'],
    ]),
  );
  assert.notEqual(out, bytes);
  assert.equal(codec().frameLength(out), out.length);
  const again = codec().decode(out, 'downstream');
  assert.deepEqual(
    [...(again.metadata as ReadonlyMap<string, string>)],
    [
      ['x-trace', 'replaced ✓'],
      ['keep', 'me'],
      ['x-courier-cluster', 'c1'],
      ['method', 'bulk'],
    ],
  );
  assert.equal(again.requestId, 3);
  const p = npmRead('header', 'compact', out);
  assert.equal(p.readMessageBegin().fname, 'bulk');
  assert.deepEqual(p.trans.getReadHeaders(), { 'X-Trace': 'replaced ✓', keep: 'me', 'x-courier-cluster': 'c1' });
  p.readStructBegin();
  p.readFieldBegin();
  const payload = new echoTypes.Payload();
  (payload as unknown as { read(p: NpmProtocol): void }).read(p);
  assert.equal(payload.tags![3], 'd'.repeat(300));

  // Framed and unframed binary/compact cannot carry it: the frame passes unchanged.
  for (const [transport, protocol] of COMBOS.filter(([t]) => t !== 'header')) {
    const frame = npmWrite(transport, protocol, message('echo', M.CALL!, 1, emptyStruct));
    const fc = codec();
    const fm = fc.decode(frame, 'downstream');
    assert.equal(fc.encode(fm, frame, new Map([['k', 'v']])), frame);
  }
});

test("THeader: the header's seqid is rewritten only when it carried the message's", () => {
  const bytes = npmWrite('header', 'binary', message('echo', M.CALL!, 8, emptyStruct), { headerSeqid: 0 });
  const c = codec();
  const m = c.decode(bytes, 'downstream');
  assert.equal(dataOf(m).headerSeqid, 0);
  const out = c.setRequestId(bytes, m, 99);
  assert.equal(out.readInt32BE(8), 0);
  assert.equal(codec().decode(out, 'downstream').requestId, 99);
  // An error reply copies the request's header seqid.
  assert.equal(c.onError(m, { type: 'timeout', message: 't' }).readInt32BE(8), 0);
});

test('THeader: transforms, JSON and a configured protocol mismatch are refused', () => {
  const bytes = npmWrite('header', 'binary', message('echo', M.CALL!, 1, emptyStruct));
  const transformed = Buffer.from(bytes);
  transformed[15] = 1; // transform count
  assert.throws(() => codec().decode(transformed, 'downstream'), /THeader transforms \(zlib, snappy\) are not supported/);
  const json = Buffer.from(bytes);
  json[14] = 1;
  assert.throws(() => codec().decode(json, 'downstream'), /JSON protocol is not supported/);
  assert.throws(() => codec({ protocol: 'compact' }).decode(bytes, 'downstream'), /binary protocol \(configured: compact\)/);
  const badWords = Buffer.from(bytes);
  badWords.writeUInt16BE(0x7fff, 12);
  assert.throws(() => codec().decode(badWords, 'downstream'), /header area ends at .* past the frame/);
});

// --------------------------------------------------------------------------------------------
// detection and malformed input

test('configured transport or protocol: other formats are refused on the first bytes', () => {
  const framedBinary = npmWrite('framed', 'binary', message('echo', M.CALL!, 1, emptyStruct));
  const unframedCompact = npmWrite('unframed', 'compact', message('echo', M.CALL!, 1, emptyStruct));
  assert.throws(() => codec({ transport: 'unframed' }).frameLength(framedBinary), /not a Thrift unframed binary or compact message/);
  assert.throws(() => codec({ protocol: 'compact' }).frameLength(framedBinary), /00 00 00 .* not a Thrift framed, unframed or THeader compact message/);
  assert.throws(() => codec({ transport: 'header' }).frameLength(framedBinary), /not a Thrift THeader/);
  assert.throws(() => codec({ transport: 'framed' }).frameLength(unframedCompact), /not a Thrift framed/);
  // Once detected, the connection's frames must keep to it.
  const c = codec();
  assert.equal(c.frameLength(framedBinary), framedBinary.length);
  assert.throws(() => c.decode(Buffer.concat([Buffer.from([0, 0, 0, 4]), Buffer.from([0x82, 0x21, 1, 0])]), 'downstream'), /bad binary protocol version/);
});

test('malformed: bad versions, bad lengths, garbage, truncation', () => {
  assert.throws(() => codec().frameLength(Buffer.from('80020001000000046563686f', 'hex')), /not a Thrift/);
  assert.throws(() => codec({ transport: 'unframed', protocol: 'binary' }).frameLength(Buffer.from('80020001000000046563686f', 'hex')), /not a Thrift/);
  assert.throws(() => codec().decode(Buffer.from('0000000880020001000000046563686f', 'hex'), 'downstream'), /not a Thrift/);
  assert.throws(() => codec().frameLength(Buffer.from('8203000000', 'hex')), /not a Thrift/);
  assert.throws(() => codec().frameLength(Buffer.from('GET / HTTP/1.1\r\n')), /first bytes \(47 45 54 20 2f 20 48 54\) are not a Thrift/);
  // framed: negative and huge lengths once the connection is known to be framed
  const c = codec({ transport: 'framed' });
  const ok = npmWrite('framed', 'binary', message('echo', M.CALL!, 1, emptyStruct));
  assert.equal(c.frameLength(ok), ok.length);
  assert.throws(() => c.frameLength(Buffer.from('ffffffff8001', 'hex')), /bad frame length -1/);
  assert.throws(() => c.frameLength(Buffer.from([1, 0, 0, 1, 0x80, 1])), new RegExp(`bad frame length ${MAX_FRAME_BYTES + 1}`));
  assert.throws(() => c.frameLength(Buffer.from([0, 0, 0, 0])), /bad frame length 0/);
  assert.throws(() => codec({ transport: 'framed' }).frameLength(Buffer.from('800000008001', 'hex')), /not a Thrift framed/);
  // a frame too short for its message header
  assert.throws(() => codec().decode(Buffer.from('0000000480010001', 'hex'), 'downstream'), /frame ends inside its message header/);
  // a reply cut before its result struct
  const reply = npmWrite('framed', 'binary', message('echo', M.REPLY!, 1, emptyStruct));
  const cut = Buffer.from(reply.subarray(0, reply.length - 1));
  cut.writeInt32BE(cut.length - 4, 0);
  assert.throws(() => codec().decode(cut, 'upstream'), /reply ends before its result struct/);
  // unknown message type, over-long name
  assert.throws(() => codec().frameLength(Buffer.from('80010009000000046563686f', 'hex')), /invalid message type 9/);
  assert.throws(() => codec().frameLength(Buffer.from('800100017fffffff', 'hex')), /bad method name length 2147483647/);
});

/** An unframed binary CALL whose body nests `levels` structs (1 = the body alone). */
function nestedBinary(levels: number, container: 'struct' | 'list'): Buffer {
  const head = Buffer.from('80010001000000046563686f00000001', 'hex');
  const parts: Buffer[] = [head];
  if (container === 'struct') {
    for (let i = 1; i < levels; i++) parts.push(Buffer.from([12, 0, 1])); // field 1: struct
    parts.push(Buffer.alloc(levels, 0)); // the STOPs
  } else {
    parts.push(Buffer.from([15, 0, 1])); // field 1: list
    for (let i = 2; i < levels; i++) parts.push(Buffer.from([15, 0, 0, 0, 1])); // list<list...> of 1
    parts.push(Buffer.from([8, 0, 0, 0, 1, 0, 0, 0, 7])); // innermost list<i32> [7]
    parts.push(Buffer.from([0])); // STOP of the body
  }
  return Buffer.concat(parts);
}

test(`nesting deeper than ${MAX_DEPTH} levels is refused; ${MAX_DEPTH} is fine`, () => {
  for (const container of ['struct', 'list'] as const) {
    const ok = nestedBinary(MAX_DEPTH, container);
    assert.equal(codec().frameLength(ok), ok.length, `${container}: ${MAX_DEPTH} levels`);
    const deep = nestedBinary(MAX_DEPTH + 1, container);
    assert.throws(() => codec().frameLength(deep), /nested deeper than 64 levels/, container);
  }
  // compact: garbage of nested list headers (0x19 = list of 1 list, repeated)
  const compactHead = Buffer.from('822101046563686f', 'hex');
  const garbage = Buffer.concat([compactHead, Buffer.from([0x19]), Buffer.alloc(200, 0x19)]);
  assert.throws(() => codec().frameLength(garbage), /nested deeper than 64 levels/);
  // nested struct fields (0x1c = field 1, a struct), repeated
  assert.throws(() => codec().frameLength(Buffer.concat([compactHead, Buffer.alloc(100, 0x1c)])), /nested deeper/);
});

test('malformed bodies in unframed messages: bad types and sizes', () => {
  const head = '80010001000000046563686f00000001';
  const bad: [string, RegExp][] = [
    [head + '07' + '0001', /invalid binary field type 7/],
    [head + '0f' + '0001' + '08' + 'ffffffff', /negative container size -1/],
    [head + '0f' + '0001' + '08' + '7fffffff', /container size 2147483647 exceeds/],
    [head + '0d' + '0001' + '0b05' + '00000001', /invalid binary field type 5/],
    [head + '0b' + '0001' + '80000000', /bad string length -2147483648/],
  ];
  for (const [hex, error] of bad) assert.throws(() => codec().frameLength(Buffer.from(hex, 'hex')), error, hex);
  const compactHead = '822101046563686f';
  assert.throws(() => codec().frameLength(Buffer.from(compactHead + '1e', 'hex')), /invalid compact field type 14/);
  assert.throws(() => codec().frameLength(Buffer.from(compactHead + '15ffffffffffff', 'hex')), /varint .* longer than 5 bytes/);
  assert.throws(() => codec().frameLength(Buffer.from(compactHead + '19f0ffffffff0f', 'hex')), /invalid compact field type 0/);
  assert.throws(() => codec().frameLength(Buffer.from(compactHead + '19f5ffffffff0f', 'hex')), /container size 4294967295 exceeds/);
});

test('unframed: a partial scan resumes; a different message at the same place restarts it', () => {
  const a = npmWrite('unframed', 'binary', message('bulk', M.CALL!, 1, bulkArgs(BIG_PAYLOAD)));
  const b = npmWrite('unframed', 'binary', message('bulk', M.CALL!, 2, bulkArgs({ ...BIG_PAYLOAD, tags: ['x'] })));
  assert.notEqual(a.length, b.length);
  const c = codec();
  assert.equal(c.frameLength(a.subarray(0, a.length - 10)), 0);
  assert.equal(c.frameLength(b), b.length, 'not confused by the half-scanned other message');
  assert.equal(c.frameLength(a.subarray(0, 100)), 0);
  assert.equal(c.frameLength(a.subarray(0, 50)), 0, 'a shorter buffer restarts');
  assert.equal(c.frameLength(a), a.length);
  // A large message in 1-byte steps: linear, and right.
  const big = npmWrite(
    'unframed',
    'compact',
    message('bulk', M.CALL!, 3, bulkArgs({ ...BIG_PAYLOAD, tags: Array.from({ length: 2000 }, (_, i) => `t${i}`) })),
  );
  const g = codec();
  for (let n = 1; n < big.length; n++) assert.equal(g.frameLength(big.subarray(0, n)), 0);
  assert.equal(g.frameLength(big), big.length);
});
