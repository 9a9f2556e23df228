// A complete MetaProtocol codec for "toy", a small length-prefixed RPC protocol: the worked
// example of docs/meta-protocol-codec.md. Courier loads it with
//
//   protocol: { name: toy, codec: { name: toy, module: ./toy-codec/toy-codec.mjs } }
//
// (a module path is relative to the config file naming it: examples/meta-protocol-toy.yaml)
// and gives toy routing on metadata, load balancing, multiplexing, timeouts, retries,
// mirroring, rate limits, mutation, stats and access logs. The codec only cuts, describes and
// writes frames.
//
// Wire format (integers big-endian):
//
//   0        4      5          9           11                 11+m
//   | length | type | id (u32) | meta (u16) | meta: "k=v\n"... | body |
//
//   length  bytes after the length field itself (at most 1 MiB)
//   type    0 request, 1 response, 2 one-way, 3 heartbeat, 4 error (body = message),
//           5 stream open, 6 stream data, 7 stream half-close, 8 stream close; for stream
//           frames the id is the stream's id
//   meta    UTF-8 lines "key=value"; routing reads them (keys in lower case)

/** @typedef {import('../../dist/src/api/meta-protocol-codec.js').MetaCodec} MetaCodec */
/** @typedef {import('../../dist/src/api/meta-protocol-codec.js').MetaMessage} MetaMessage */

const HEADER = 11;
const MAX_LENGTH = 1024 * 1024;
const TYPES = [
  'request', 'response', 'oneway', 'heartbeat', 'error',
  'stream_init', 'stream_data', 'stream_close_one_way', 'stream_close_two_way',
];

/** Encodes a toy frame; exported for the example client and server. */
export function encodeToyFrame(type, id, meta, body) {
  const metaText = Buffer.from([...meta].map(([k, v]) => `${k}=${v}\n`).join(''), 'utf8');
  const bodyBytes = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '', 'utf8');
  const frame = Buffer.allocUnsafe(HEADER + metaText.length + bodyBytes.length);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = TYPES.indexOf(type);
  frame.writeUInt32BE(id, 5);
  frame.writeUInt16BE(metaText.length, 9);
  metaText.copy(frame, HEADER);
  bodyBytes.copy(frame, HEADER + metaText.length);
  return frame;
}

/** Decodes a whole toy frame into { type, id, meta: Map, body: Buffer }. */
export function decodeToyFrame(frame) {
  const type = TYPES[frame[4]];
  if (type === undefined) throw new Error(`toy: unknown frame type ${frame[4]}`);
  const metaLength = frame.readUInt16BE(9);
  if (HEADER + metaLength > frame.length) throw new Error('toy: metadata runs past the frame');
  const meta = new Map();
  for (const line of frame.toString('utf8', HEADER, HEADER + metaLength).split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`toy: bad metadata line "${line}"`);
    meta.set(line.slice(0, eq).toLowerCase(), line.slice(eq + 1));
  }
  return { type, id: frame.readUInt32BE(5), meta, body: frame.subarray(HEADER + metaLength) };
}

/** @implements {MetaCodec} */
class ToyCodec {
  frameLength(buffer) {
    if (buffer.length < 4) return 0;
    const length = buffer.readUInt32BE(0);
    if (length < HEADER - 4 || length > MAX_LENGTH) throw new Error(`toy: bad frame length ${length}`);
    // Known from the header: Courier gathers the rest of the frame.
    return 4 + length;
  }

  /** @returns {MetaMessage} */
  decode(frame) {
    const { type, id, meta } = decodeToyFrame(frame);
    const streamId = type.startsWith('stream_') ? id : undefined;
    return { type, requestId: id, streamId, metadata: meta, codecData: meta };
  }

  encode(message, frame, mutation) {
    if (mutation.size === 0) return frame;
    // Rewrite the metadata section with the mutation applied; the body is copied as is.
    const { type, id, meta, body } = decodeToyFrame(frame);
    for (const [k, v] of mutation) meta.set(k.toLowerCase(), v);
    return encodeToyFrame(type, id, meta, body);
  }

  onError(request, error) {
    return encodeToyFrame('error', Number(request.requestId), new Map([['error-type', error.type]]), error.message);
  }

  heartbeatResponse(heartbeat) {
    return encodeToyFrame('heartbeat', Number(heartbeat.requestId), new Map(), '');
  }

  setRequestId(frame, _message, id) {
    frame.writeUInt32BE(Number(id), 5);
    return frame;
  }
}

export default {
  name: 'toy',
  configure(config) {
    const unknown = Object.keys(config);
    if (unknown.length > 0) throw new Error(`toy takes no settings (got ${unknown.join(', ')})`);
  },
  // The codec keeps no per-connection state, so every connection can share one.
  createCodec: () => sharedCodec,
};

const sharedCodec = new ToyCodec();
