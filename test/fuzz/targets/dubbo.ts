/**
 * Dubbo + Hessian2: the streaming DubboDecoder (src/extensions/codecs/dubbo/decoder.ts) as
 * dubbo_proxy uses it, every lazy accessor of the decoded request (attachments, arguments,
 * attachment layout and rewrite) and response, then the same bytes through the Dubbo
 * MetaProtocol codec via the MetaProtocol adapter. Documented failure: a DubboDecodeError
 * result (never thrown); the MetaProtocol codec's refusals are plain Errors (meta-driver.ts).
 *
 * An input is a stream of frames from one side; the side is the request flag of each frame
 * (both are tried through the MetaProtocol codec). fixup() rewrites each frame's body length
 * to what follows, so mutants get past the header into the Hessian2 body.
 */
import { DubboDecoder, type DubboFrame } from '../../../src/extensions/codecs/dubbo/decoder.js';
import { rewriteAttachments } from '../../../src/extensions/codecs/dubbo/encoder.js';
import { dubboMetaCodecFactory } from '../../../src/extensions/codecs/dubbo/meta-codec.js';
import type { GrowthProbe } from '../engine.js';
import { FuzzCheckFailure, type FuzzTarget } from '../target.js';
import { driveMetaCodec } from './meta-driver.js';

const HEADER = 16;
const MAX_FRAMES = 64;

const DICTIONARY = [
  [0xda, 0xbb, 0xc2, 0x00], [0xda, 0xbb, 0x02, 0x14], [0xda, 0xbb, 0xe2, 0x00], [0x4e], [0x48], [0x5a], [0x4d],
  [0x43], [0x4f], [0x60], [0x51, 0x90], [0x52, 0x00, 0x01], [0x53, 0xff, 0xff], [0x55], [0x56], [0x57], [0x58],
  [0x70], [0x78], [0x41], [0x42], [0x49, 0x7f, 0xff, 0xff, 0xff], [0x4c], [0x44], [0x4a], [0x30, 0x00],
  [0x05, 0x32, 0x2e, 0x30, 0x2e, 0x32], [0x07, 0x74, 0x69, 0x6d, 0x65, 0x6f, 0x75, 0x74], [0x01, 0xed, 0xa0, 0x80],
  [0x02, 0xf0, 0x9f, 0x98, 0x80], [0x01, 0xc3, 0xa9],
].map((b) => Buffer.from(b));

function runDecoder(chunks: readonly Buffer[]): string {
  const decoder = new DubboDecoder();
  let fed = 0;
  let framed = 0;
  let frames = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    fed += chunk.length;
    for (;;) {
      const next = decoder.next();
      if (next === null) break;
      if (!next.ok) return `error:${next.code}`;
      if (next.bytes.length !== HEADER + next.header.bodyLength) {
        throw new FuzzCheckFailure('frame-length', `frame of ${next.bytes.length} bytes, header says ${HEADER}+${next.header.bodyLength}`);
      }
      framed += next.bytes.length;
      frames++;
      exerciseFrame(next);
    }
  }
  if (framed + decoder.buffered !== fed) {
    throw new FuzzCheckFailure('bytes-not-conserved', `fed ${fed}, framed ${framed}, buffered ${decoder.buffered}`);
  }
  return frames === 0 ? 'need-more' : 'frames';
}

/** Every lazy accessor, as routes, filters and mutation would call them. */
function exerciseFrame(frame: DubboFrame): void {
  const request = frame.request;
  if (request) {
    request.attachments();
    request.attachment('Tenant');
    request.attachmentLayout();
    void request.group;
    const n = Math.min(request.argumentCount, 8);
    for (let i = n; i >= 0; i--) request.argumentAsString(i);
    const out = rewriteAttachments(frame, new Map<string, string | null>([['x-fuzz', 'v'], ['timeout', null]]));
    if (!(out instanceof Buffer)) return;
    // A rewritten frame is a frame: it decodes again, with the change in place.
    const again = new DubboDecoder();
    again.push(out);
    const re = again.next();
    if (re === null || !re.ok) throw new FuzzCheckFailure('rewrite-undecodable', `rewritten frame does not decode: ${re === null ? 'incomplete' : re.message}`);
    if (re.request?.attachment('x-fuzz') !== 'v') throw new FuzzCheckFailure('rewrite-lost', 'rewritten attachment not found after decoding');
  }
  const response = frame.response;
  if (response) {
    response.errorMessage();
    void response.isBusinessException;
  }
  frame.detach();
}

/** Sets each frame's body length to the bytes up to the next magic (or the end). */
function fixup(input: Buffer): Buffer {
  const out = Buffer.from(input);
  let at = 0;
  for (let n = 0; n < MAX_FRAMES && at + HEADER <= out.length; n++) {
    if (out[at] !== 0xda || out[at + 1] !== 0xbb) return out;
    let next = out.indexOf(Buffer.from([0xda, 0xbb]), at + HEADER);
    if (next < 0) next = out.length;
    out.writeInt32BE(Math.max(1, next - at - HEADER), at + 12);
    at = next;
  }
  return out;
}

/** A request whose attachments hold many short non-ASCII strings (issue 9, point 4). */
function nonAsciiAttachments(n: number): Buffer {
  const strings: Buffer[] = [];
  const str = (s: string): Buffer => {
    const utf8 = Buffer.from(s, 'utf8');
    // Hessian2 short strings: the length in characters in the tag (x00-x1f, or x30-x33 + a byte).
    const tag = s.length < 32 ? Buffer.from([s.length]) : Buffer.from([0x30 + (s.length >> 8), s.length & 0xff]);
    return Buffer.concat([tag, utf8]);
  };
  for (const s of ['2.0.2', 'org.apache.dubbo.demo.DemoService', '1.0.0', 'sayHello', 'Ljava/lang/String;', 'world']) strings.push(str(s));
  strings.push(Buffer.from([0x48]));
  let length = strings.reduce((a, b) => a + b.length, 0);
  for (let i = 0; length < n; i++) {
    const key = str(`k${i % 1000}`);
    const value = str('ünïcødé-välüé');
    strings.push(key, value);
    length += key.length + value.length;
  }
  strings.push(Buffer.from([0x5a]));
  const body = Buffer.concat(strings);
  const header = Buffer.alloc(HEADER);
  header.writeUInt16BE(0xdabb, 0);
  header[2] = 0xc2;
  header.writeBigInt64BE(1n, 4);
  header.writeInt32BE(body.length, 12);
  return Buffer.concat([header, body]);
}

/** The decoder and the attachments only: the path dubbo_proxy takes for every routed request. */
function decodeAttachments(chunks: readonly Buffer[]): string {
  const decoder = new DubboDecoder();
  for (const chunk of chunks) decoder.push(chunk);
  const frame = decoder.next();
  if (frame === null || !frame.ok) return frame === null ? 'need-more' : `error:${frame.code}`;
  return frame.request?.attachments() ? 'frames' : 'error:bad-body';
}

export const PROBES: readonly GrowthProbe[] = [
  { name: 'non-ascii-attachments', build: nonAsciiAttachments, sizes: [64 * 1024, 512 * 1024], run: decodeAttachments },
];

export const dubboTarget: FuzzTarget = {
  name: 'dubbo',
  description: 'DubboDecoder + Hessian2 lazy accessors and attachment rewrite (src/extensions/codecs/dubbo, hessian2), and the Dubbo MetaProtocol codec',
  maxInputBytes: 64 * 1024,
  // Each case decodes a request several times over (accessors, rewrite, the MetaProtocol
  // pass): random growth probes stay small so a slow path cannot stall the run.
  probeSizes: [8 * 1024, 64 * 1024],
  dictionary: DICTIONARY,
  fixup,
  run(chunks) {
    const outcome = runDecoder(chunks);
    const codec = (): ReturnType<typeof dubboMetaCodecFactory.createCodec> => dubboMetaCodecFactory.createCodec({});
    const first = chunks[0];
    const side = first && first.length > 2 && (first[2]! & 0x80) === 0 ? 'upstream' : 'downstream';
    driveMetaCodec('dubbo', codec, side, chunks, { roundTrip: true, setRequestId: true });
    return outcome;
  },
};
