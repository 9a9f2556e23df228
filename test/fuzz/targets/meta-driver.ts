/**
 * Drives a MetaProtocol codec the way Courier does: through the adapter of
 * src/extensions/filters/network/meta_protocol_proxy/meta-protocol.ts (metaProtocol(): the
 * frame reassembly, the per-connection codec, mutation, local replies, request id rewrite),
 * which is also the entry point user codecs plug into.
 *
 * The adapter turns any exception from a codec's frameLength/decode into a decode error, as
 * the codec contract says. To still see codec bugs, the codec is wrapped: an exception that
 * is a JavaScript engine error (TypeError, RangeError, ReferenceError: an index past a buffer,
 * a property of undefined) is remembered and reported as a finding; a plain Error or
 * MetaCodecError is a deliberate refusal of the bytes. The checks per case:
 * - nothing escapes feed() and the adapter's other entry points;
 * - bytes are conserved: frames handed out plus bytes buffered equal the bytes fed;
 * - what encode() (with a mutation), setRequestId() and onError() write is again one whole
 *   frame the codec can decode, of the expected kind.
 */
import type { MetaCodec, MetaCodecSide } from '../../../src/api/meta-protocol-codec.js';
import { LocalReplyKind } from '../../../src/api/rpc-protocol.js';
import { metaProtocol, type MetaFrame } from '../../../src/extensions/filters/network/meta_protocol_proxy/meta-protocol.js';
import { FuzzCheckFailure } from '../target.js';

export interface MetaDriverOptions {
  /** Re-encode decoded frames and check the output decodes (built-in and example codecs). */
  readonly roundTrip: boolean;
  /** Whether the codec rewrites request ids (multiplexing). */
  readonly setRequestId: boolean;
}

const MUTATION: ReadonlyMap<string, string> = new Map([
  ['x-fuzz', 'v'],
  ['tenant', 'ünï'],
]);

function isEngineError(e: unknown): e is Error {
  return e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError;
}

/** Wraps frameLength/decode so an engine error inside them is kept for the report. */
function guarded(codec: MetaCodec, caught: { error?: Error }): MetaCodec {
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => R) =>
    (...a: A): R => {
      try {
        return fn.apply(codec, a);
      } catch (e) {
        if (isEngineError(e)) caught.error ??= e;
        throw e;
      }
    };
  return {
    frameLength: wrap(codec.frameLength),
    decode: wrap(codec.decode),
    encode: codec.encode.bind(codec),
    onError: codec.onError.bind(codec),
    ...(codec.heartbeatResponse ? { heartbeatResponse: codec.heartbeatResponse.bind(codec) } : {}),
    ...(codec.setRequestId ? { setRequestId: codec.setRequestId.bind(codec) } : {}),
  };
}

/** Feeds `chunks` from `side`; returns an outcome label. Throws findings. */
export function driveMetaCodec(
  name: string,
  createCodec: () => MetaCodec,
  side: MetaCodecSide,
  chunks: readonly Buffer[],
  opts: MetaDriverOptions,
): string {
  const caught: { error?: Error } = {};
  const protocol = metaProtocol(name, () => guarded(createCodec(), caught));
  const decoder = side === 'downstream' ? protocol.newRequestDecoder() : protocol.newResponseDecoder();
  const frames: MetaFrame[] = [];
  let fed = 0;
  let error: string | undefined;
  for (const chunk of chunks) {
    fed += chunk.length;
    const r = decoder.feed(chunk, (f) => frames.push(f));
    if (caught.error) throw caught.error;
    if (!r.ok) {
      error = r.error;
      break;
    }
  }
  const framed = frames.reduce((n, f) => n + f.bytes.length, 0);
  if (error === undefined && framed + decoder.bufferedBytes !== fed) {
    throw new FuzzCheckFailure('bytes-not-conserved', `fed ${fed} bytes; frames hold ${framed}, ${decoder.bufferedBytes} buffered`);
  }
  // Codecs keep per-connection state (Thrift detects its format from a connection's first
  // frame), so re-encoded frames are checked by a codec that has seen the same first frame.
  const first = frames.length > 0 ? Buffer.from(frames[0]!.bytes) : undefined;
  for (const [i, frame] of frames.entries()) {
    frame.describe();
    if (!opts.roundTrip) continue;
    const type = frame.message.type;
    if (type === 'heartbeat') {
      if (side === 'downstream') protocol.heartbeatResponse(frame);
      continue;
    }
    const original = Buffer.from(frame.bytes);
    protocol.applyMutation!(frame, MUTATION);
    const prime = i === 0 ? undefined : first;
    expectOneFrame(createCodec, side, frame.bytes, type, 'encode() with a mutation', prime);
    if (opts.setRequestId) {
      protocol.setRequestId!(frame, 7n);
      expectOneFrame(createCodec, side, frame.bytes, type, 'setRequestId()', prime);
    }
    // A local reply is checked as the first frame of the reply direction: for the first request.
    if (i === 0 && side === 'downstream' && (type === 'request' || type === 'stream_init')) {
      const copy = protocol.copyFrame!(frame);
      copy.bytes = original;
      const reply = protocol.localReply(copy, LocalReplyKind.NoRoute, 'no route for fuzz');
      expectOneFrame(createCodec, 'upstream', reply, undefined, 'onError()');
    }
  }
  if (error !== undefined) return `error:${error.replace(/\d+/g, 'N').slice(0, 48)}`;
  return frames.length === 0 ? 'need-more' : frames.length === 1 ? 'frame' : 'frames';
}

/**
 * `bytes` must be exactly one frame that a new codec decodes (as `type`, when given), after it
 * has decoded `prime` (the connection's first frame) when given.
 */
function expectOneFrame(
  createCodec: () => MetaCodec,
  side: MetaCodecSide,
  bytes: Buffer,
  type: string | undefined,
  what: string,
  prime?: Buffer,
): void {
  const codec = createCodec();
  if (prime) {
    codec.frameLength(prime);
    codec.decode(prime, side);
  }
  let length: number;
  let decoded: string;
  try {
    length = codec.frameLength(bytes);
    if (length !== bytes.length) throw new FuzzCheckFailure('re-encoded-frame-length', `${what} wrote ${bytes.length} bytes, frameLength says ${length}`);
    decoded = codec.decode(bytes, side).type;
  } catch (e) {
    if (e instanceof FuzzCheckFailure || isEngineError(e)) throw e;
    throw new FuzzCheckFailure('re-encoded-frame-refused', `${what} wrote a frame its own codec refuses: ${(e as Error).message}`);
  }
  if (type !== undefined && decoded !== type) {
    throw new FuzzCheckFailure('re-encoded-frame-type', `${what} turned a ${type} into a ${decoded}`);
  }
}
