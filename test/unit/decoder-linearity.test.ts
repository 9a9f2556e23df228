/**
 * Decoding cost must grow linearly with the input: a hostile frame may be large, but it must not
 * cost more per byte the larger it is. Each RPC decoder path (dubbo_proxy's Dubbo decoder, the
 * MetaProtocol adapter with the Dubbo and Thrift codecs in every transport and protocol, and a
 * user codec, the toy example, through the same adapter) is timed on pathological inputs of
 * sizes n, 2n, 4n and 8n, fed in 4 KiB reads as a socket would deliver them. Linear growth makes
 * each doubling cost about 2× the time; quadratic growth makes it about 4×. Only the median
 * of those ratios is asserted (MAX_DOUBLING), never an absolute time: each size is timed in CPU
 * time (not wall time), as the minimum of several interleaved rounds, so a noisy shared machine
 * does not decide the result. COURIER_TEST_VERBOSE=1 prints every ratio.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import type { MetaCodecFactory } from '../../src/api/meta-protocol-codec.js';
import type { RpcFrame, RpcProtocol } from '../../src/api/rpc-protocol.js';
import { FLAG_REQUEST, FLAG_TWO_WAY, SERIALIZATION_HESSIAN2 } from '../../src/extensions/codecs/dubbo/constants.js';
import { writeFrameHeader } from '../../src/extensions/codecs/dubbo/frame-header.js';
import { dubboMetaCodecFactory } from '../../src/extensions/codecs/dubbo/meta-codec.js';
import { Hessian2Writer } from '../../src/extensions/codecs/hessian2/writer.js';
import { thriftCodecFactory } from '../../src/extensions/codecs/thrift/meta-codec.js';
import { dubboProtocol, type DubboRpcFrame } from '../../src/extensions/filters/network/dubbo_proxy/dubbo-protocol.js';
import { metaProtocol, type MetaFrame } from '../../src/extensions/filters/network/meta_protocol_proxy/meta-protocol.js';
import { REPO_ROOT } from '../support/courier-harness.js';
import { COMBOS, npmWrite, T, M, type NpmProtocol, type Protocol, type Transport } from '../support/thrift-wire.js';

const READ_BYTES = 4096;
const SCALES = [1, 2, 4, 8] as const;
const ROUNDS = 3;
const ATTEMPTS = 3;
/**
 * Each doubling of the input multiplies the time by about 2 when decoding is linear and by about
 * 4 when it is quadratic (issue 9's defects: 3.8-4.1). The median of the three doublings is
 * asserted, so one step of a linear decoder out of the CPU caches, or into costlier garbage
 * collection (seen here: ×4 from 4.8 to 9.5 MB of framed Thrift, ×2 at every other doubling),
 * does not read as growth, while a quadratic decoder shows it at every doubling.
 */
const MAX_DOUBLING = Number(process.env["COURIER_TEST_MAX_DOUBLING"] ?? 3);
/** Short timings are mostly noise: repeat runs until a timing at n takes this long. */
const MIN_TIMING_MS = 15;

/** `input` cut into 4 KiB reads, each its own Buffer, as a socket delivers them. */
function reads(input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < input.length; at += READ_BYTES) out.push(Buffer.from(input.subarray(at, at + READ_BYTES)));
  return out;
}

/** Feeds the reads to a fresh decoder; `touch` reads what a route would read. Returns the frame count. */
function decodeAll<F extends RpcFrame>(protocol: RpcProtocol<F>, input: readonly Buffer[], touch: (frame: F) => void): number {
  const decoder = protocol.newRequestDecoder();
  let frames = 0;
  const onFrame = (frame: F): void => {
    touch(frame);
    frames++;
  };
  for (const read of input) {
    const result = decoder.feed(read, onFrame);
    assert.ok(result.ok, `decode failed: ${result.ok ? '' : result.error}`);
  }
  assert.equal(decoder.bufferedBytes, 0, 'the input ends on a frame boundary');
  return frames;
}

/** CPU time of this process in ms: unlike wall time, it leaves out the time other processes had the core. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** One timing of `iterations` runs, in CPU ms per run. */
function timeMs(run: () => void, iterations: number): number {
  const start = cpuMs();
  for (let k = 0; k < iterations; k++) run();
  return (cpuMs() - start) / iterations;
}

/**
 * Times `run` on inputs built at each scale (cut into reads beforehand) and fails if
 * the median time ratio of its doublings is MAX_DOUBLING or more. The scales are timed in interleaved rounds and each keeps
 * its best, so a burst of load on the machine cannot land on one size only.
 */
function assertLinear(label: string, build: (scale: number) => Buffer, run: (input: readonly Buffer[]) => void): void {
  const inputs = SCALES.map((scale) => {
    const input = build(scale);
    return { bytes: input.length, chunks: reads(input), best: Infinity };
  });
  const first = inputs[0]!;
  // Warm up the JIT, and the allocator: largest first, so that buffers of every size come from
  // memory already mapped (a fresh mapping costs page faults that would time the allocator).
  for (let i = inputs.length - 1; i >= 0; i--) run(inputs[i]!.chunks);
  // Runs per timing, so that one timing at n takes about MIN_TIMING_MS of CPU.
  let iterations = 1;
  while (timeMs(() => run(first.chunks), iterations) * iterations < MIN_TIMING_MS) iterations *= 2;
  // A burst of load or a GC can still spoil one measurement; quadratic growth fails every one.
  let ratio = Infinity;
  let detail = '';
  for (let attempt = 0; attempt < ATTEMPTS && ratio >= MAX_DOUBLING; attempt++) {
    for (const input of inputs) input.best = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      for (const input of inputs) input.best = Math.min(input.best, timeMs(() => run(input.chunks), iterations));
    }
    const doublings = inputs.slice(1).map((t, i) => t.best / inputs[i]!.best).sort((a, b) => a - b);
    ratio = doublings[Math.floor(doublings.length / 2)]!;
    detail = inputs.map((t) => `${t.bytes} B: ${t.best.toFixed(2)} ms`).join(', ');
    if (process.env['COURIER_TEST_VERBOSE']) console.log(`${label}: ×${ratio.toFixed(2)} per doubling (${detail})`);
  }
  assert.ok(ratio < MAX_DOUBLING, `${label}: time grew ×${ratio.toFixed(2)} per doubling (median) in each of ${ATTEMPTS} attempts (last: ${detail})`);
}

// --------------------------------------------------------------------------------------------
// Dubbo: requests built with Courier's Hessian2 writer

/** Non-ASCII text (2- and 3-byte UTF-8) of the kind that used to cost a scan to the frame's end. */
const WIDE = 'Grüße 東京 ✓';
const BC_LIST_VARIABLE_UNTYPED = 0x57;
const BC_END = 0x5a;

type DubboShape = 'non-ascii attachments' | 'many small arguments' | 'deep nesting';

/** One Dubbo request whose body grows with `units`, in the given pathological shape. */
function dubboRequest(shape: DubboShape, units: number): Buffer {
  const w = new Hessian2Writer(1 << 16);
  w.writeString('2.0.2').writeString('org.example.Svc').writeString('1.0.0').writeString('call');
  w.writeString('Ljava/lang/Object;');
  const raw = Buffer.alloc(1);
  const tag = (t: number): void => {
    raw[0] = t;
    w.writeRaw(raw);
  };
  if (shape === 'many small arguments') {
    tag(BC_LIST_VARIABLE_UNTYPED);
    for (let i = 0; i < units * 16; i++) w.writeInt(i & 0xfff).writeString(i % 2 ? 'x' : 'é');
    tag(BC_END);
  } else if (shape === 'deep nesting') {
    tag(BC_LIST_VARIABLE_UNTYPED);
    for (let i = 0; i < units; i++) {
      for (let d = 0; d < 200; d++) tag(BC_LIST_VARIABLE_UNTYPED);
      w.writeString(WIDE);
      for (let d = 0; d < 200; d++) tag(BC_END);
    }
    tag(BC_END);
  } else {
    w.writeString('arg');
  }
  const attachments: [string, string][] = [['path', 'org.example.Svc']];
  if (shape === 'non-ascii attachments') {
    for (let i = 0; i < units * 8; i++) attachments.push([`k${i}`, `${WIDE} ${i}`]);
  }
  w.writeStringMap(attachments);
  const body = w.view();
  const frame = Buffer.alloc(16 + body.length);
  writeFrameHeader(frame, 0, FLAG_REQUEST | FLAG_TWO_WAY | SERIALIZATION_HESSIAN2, 0, 1n, body.length);
  body.copy(frame, 16);
  return frame;
}

/** `frames` requests back to back, each of `units`. */
function dubboStream(shape: DubboShape, frames: number, units: number): Buffer {
  const one = dubboRequest(shape, units);
  return Buffer.concat(Array.from({ length: frames }, () => one));
}

const DUBBO_SHAPES: readonly DubboShape[] = ['non-ascii attachments', 'many small arguments', 'deep nesting'];
/** Units per shape at n: 100-250 KiB of body. */
const DUBBO_UNITS: Record<DubboShape, number> = { 'non-ascii attachments': 1024, 'many small arguments': 2048, 'deep nesting': 256 };

test('dubbo_proxy: decoding one large request costs time linear in its size', () => {
  for (const shape of DUBBO_SHAPES) {
    assertLinear(
      `dubbo_proxy, one request, ${shape}`,
      (scale) => dubboRequest(shape, DUBBO_UNITS[shape] * scale),
      (input) => {
        const n = decodeAll<DubboRpcFrame>(dubboProtocol, input, (f) => {
          assert.equal(f.attachment('path'), 'org.example.Svc');
        });
        assert.equal(n, 1);
      },
    );
  }
});

test('dubbo_proxy: decoding many small requests costs time linear in their number', () => {
  assertLinear(
    'dubbo_proxy, many requests',
    (scale) => dubboStream('non-ascii attachments', 512 * scale, 4),
    (input) => void decodeAll<DubboRpcFrame>(dubboProtocol, input, (f) => void f.attachment('k3')),
  );
});

test('MetaProtocol Dubbo codec: decoding costs time linear in the frame size', () => {
  const protocol = metaProtocol('dubbo', () => dubboMetaCodecFactory.createCodec({}));
  for (const shape of DUBBO_SHAPES) {
    assertLinear(
      `meta dubbo, one request, ${shape}`,
      (scale) => dubboRequest(shape, DUBBO_UNITS[shape] * scale),
      (input) => {
        decodeAll<MetaFrame>(protocol, input, (f) => assert.equal(f.message.metadata.get('path'), 'org.example.Svc'));
      },
    );
  }
});

// --------------------------------------------------------------------------------------------
// Thrift: messages written by npm thrift, in every transport and protocol

type ThriftShape = 'non-ascii strings and small fields' | 'deep nesting';

/** A CALL whose argument struct grows with `units`. */
function thriftCall(transport: Transport, protocol: Protocol, shape: ThriftShape, units: number): Buffer {
  return npmWrite(transport, protocol, (p: NpmProtocol) => {
    p.writeMessageBegin('call', M.CALL!, 7);
    p.writeStructBegin('args');
    p.writeFieldBegin('items', T.LIST!, 1);
    p.writeListBegin(T.STRUCT!, units);
    for (let i = 0; i < units; i++) {
      const depth = shape === 'deep nesting' ? 60 : 1;
      for (let d = 0; d < depth; d++) {
        p.writeStructBegin('item');
        p.writeFieldBegin('n', T.I32!, 1);
        p.writeI32(i);
        p.writeFieldEnd();
        p.writeFieldBegin('s', T.STRING!, 2);
        p.writeString(shape === 'deep nesting' ? 'é' : `${WIDE} ${i}`);
        p.writeFieldEnd();
        if (d + 1 < depth) p.writeFieldBegin('next', T.STRUCT!, 3);
      }
      for (let d = depth - 1; d >= 0; d--) {
        p.writeFieldStop();
        p.writeStructEnd();
        if (d > 0) p.writeFieldEnd();
      }
    }
    p.writeListEnd();
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeMessageEnd();
  });
}

const THRIFT_UNITS: Record<ThriftShape, number> = { 'non-ascii strings and small fields': 4096, 'deep nesting': 128 };

test('MetaProtocol Thrift codec: an unframed message is found in time linear in its size, in 4 KiB reads', () => {
  for (const [transport, protocolName] of COMBOS.filter(([t]) => t === 'unframed')) {
    const protocol = metaProtocol('thrift', () => thriftCodecFactory.createCodec({}));
    for (const shape of Object.keys(THRIFT_UNITS) as ThriftShape[]) {
      assertLinear(
        `thrift ${transport} ${protocolName}, one message, ${shape}`,
        (scale) => thriftCall(transport, protocolName, shape, THRIFT_UNITS[shape] * scale),
        (input) => assert.equal(decodeAll<MetaFrame>(protocol, input, () => {}), 1),
      );
    }
  }
});

// Framed and THeader frames are gathered by length, without walking the body: one large frame
// costs a copy whose speed per byte depends on the caches, too noisy to time here. Streams of
// many messages time the per-message work instead, in every transport and protocol.
test('MetaProtocol Thrift codec: every transport and protocol decodes a stream in time linear in its length', () => {
  for (const [transport, protocolName] of COMBOS) {
    const protocol = metaProtocol('thrift', () => thriftCodecFactory.createCodec({}));
    // One shape: framed and THeader cut by length whatever the body; unframed nesting is above.
    for (const shape of ['non-ascii strings and small fields'] as const) {
      const one = thriftCall(transport, protocolName, shape, THRIFT_UNITS[shape] / 64);
      assertLinear(
        `thrift ${transport} ${protocolName}, many messages, ${shape}`,
        // 512 messages (about 1 MB) at n: smaller streams stay in the CPU caches at n only,
        // and the step out of them read as a ratio of 20-28 for a linear decoder.
        (scale) => Buffer.concat(Array.from({ length: 512 * scale }, () => one)),
        (input) => assert.ok(decodeAll<MetaFrame>(protocol, input, () => {}) >= 512),
      );
    }
  }
});

// --------------------------------------------------------------------------------------------
// A user codec (examples/toy-codec) through the MetaProtocol adapter

test('MetaProtocol user codec adapter (toy): decoding costs time linear in the input size', async () => {
  const mod = (await import(pathToFileURL(path.join(REPO_ROOT, 'examples', 'toy-codec', 'toy-codec.mjs')).href)) as {
    default: MetaCodecFactory;
    encodeToyFrame(type: string, id: number, meta: Map<string, string>, body: Buffer | string): Buffer;
  };
  const protocol = metaProtocol('toy', () => mod.default.createCodec({}));
  const meta = new Map([['service', WIDE], ['method', 'call']]);
  assertLinear(
    'toy, many small frames',
    (scale) => Buffer.concat(Array.from({ length: 2048 * scale }, (_, i) => mod.encodeToyFrame('request', i, meta, WIDE))),
    (input) => void decodeAll<MetaFrame>(protocol, input, (f) => void f.message.metadata.get('method')),
  );
});
