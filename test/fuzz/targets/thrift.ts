/**
 * Thrift: the MetaProtocol Thrift codec (src/extensions/codecs/thrift) through the MetaProtocol
 * adapter, in every transport (framed, unframed, THeader) and protocol (binary, compact),
 * configured or detected ('auto').
 *
 * Input layout: byte 0 chooses the configuration and the side, the rest is the stream:
 *   bit 7      0 downstream (requests), 1 upstream (responses)
 *   bits 2..3  transport: 0 auto, 1 framed, 2 unframed, 3 header
 *   bits 0..1  protocol: 0 auto, 1 binary, 2 compact (3 reads as auto)
 * Seeds (make-corpus.ts) are real Apache Thrift client and server streams with that byte in
 * front. Documented failure: MetaCodecError (or an Error) from frameLength/decode.
 */
import { thriftCodecFactory } from '../../../src/extensions/codecs/thrift/meta-codec.js';
import type { GrowthProbe } from '../engine.js';
import type { FuzzTarget } from '../target.js';
import { driveMetaCodec } from './meta-driver.js';

const TRANSPORTS = ['auto', 'framed', 'unframed', 'header'] as const;
const PROTOCOLS = ['auto', 'binary', 'compact', 'auto'] as const;

const DICTIONARY = [
  [0x80, 0x01, 0x00, 0x01], [0x80, 0x01, 0x00, 0x02], [0x82, 0x21], [0x82, 0x41], [0x0f, 0xff, 0x00, 0x00],
  [0x00], [0x0c], [0x0b], [0x0d], [0x0e], [0x0f], [0x08], [0x0a], [0x1c], [0x19], [0x1b], [0x7f, 0xff, 0xff, 0xff],
  [0xff, 0xff, 0xff, 0xff, 0x0f], [0x00, 0x00, 0x00, 0x00],
].map((b) => Buffer.from(b));

function configOf(b: number): { config: Record<string, unknown>; side: 'downstream' | 'upstream' } {
  return {
    side: (b & 0x80) !== 0 ? 'upstream' : 'downstream',
    config: { transport: TRANSPORTS[(b >> 2) & 3], protocol: PROTOCOLS[b & 3] },
  };
}

/** Framed and THeader: each frame's length prefix set to what follows it (one frame). */
function fixup(input: Buffer): Buffer {
  const transport = TRANSPORTS[((input[0] ?? 0) >> 2) & 3];
  if (input.length < 5 || transport === 'unframed') return input;
  const out = Buffer.from(input);
  if (out[1] === 0x80 || out[1] === 0x82) return out; // looks unframed: leave it
  out.writeInt32BE(out.length - 5, 1);
  return out;
}

/** One unframed binary CALL whose argument is a long binary string, read in 1 KiB reads (point 5). */
function unframedLongCall(n: number): Buffer {
  const name = Buffer.from('echo');
  const head = Buffer.alloc(4 + 4 + name.length + 4);
  head.writeUInt32BE(0x80010001, 0);
  head.writeUInt32BE(name.length, 4);
  name.copy(head, 8);
  head.writeUInt32BE(1, 8 + name.length);
  const field = Buffer.from([0x0b, 0x00, 0x01, 0, 0, 0, 0]);
  field.writeUInt32BE(n, 3);
  return Buffer.concat([Buffer.from([(2 << 2) | 1]), head, field, Buffer.alloc(n, 0x61), Buffer.from([0x00])]);
}

export const PROBES: readonly GrowthProbe[] = [
  { name: 'unframed-long-call', build: unframedLongCall, sizes: [128 * 1024, 1024 * 1024], readBytes: 1024 },
];

export const thriftTarget: FuzzTarget = {
  name: 'thrift',
  description: 'Thrift MetaProtocol codec (framed/unframed/THeader × binary/compact) via the MetaProtocol adapter',
  maxInputBytes: 64 * 1024,
  dictionary: DICTIONARY,
  fixup,
  run(chunks) {
    const input = chunks[0];
    if (!input || input.length === 0) return 'empty';
    const { config, side } = configOf(input[0]!);
    // The first byte is not stream data.
    const stream = [input.subarray(1), ...chunks.slice(1)].filter((c) => c.length > 0);
    return driveMetaCodec('thrift', () => thriftCodecFactory.createCodec(config), side, stream, { roundTrip: true, setRequestId: true });
  },
};
