/**
 * A MetaCodec (the public plug-in contract, src/api/meta-protocol-codec.ts) seen as an
 * RpcProtocol, so the protocol-neutral RPC core (src/common/rpc/) proxies it: the connection
 * manager, filters, router, both upstream modes and their stats come for free.
 *
 * Framing is done here, not by codecs: a codec says how long the next frame is, and this
 * decoder gathers exactly that many bytes (one copy for a frame split across reads, none for a
 * frame inside one read) before asking the codec to decode it. A codec that cannot know the
 * length before the end (unframed Thrift) is asked again as bytes arrive, up to
 * MAX_UNKNOWN_LENGTH_BYTES, with the bytes so far in one buffer that grows by doubling (a codec
 * that resumes its scan, as Thrift's does, then costs time linear in the frame).
 *
 * Heartbeats from upstream are dropped, as MetaProtocol does; those from downstream are
 * answered with the codec's heartbeatResponse. A stream's first frame (stream_init) is a
 * request; its later frames are StreamFrames, which meta-streams.ts passes through.
 */
import type { MetaCodec, MetaCodecSide, MetaErrorType, MetaMessage } from '../../../../api/meta-protocol-codec.js';
import {
  LocalReplyKind,
  RpcMessageType,
  RpcResponseStatus,
  type DecodeResult,
  type RpcFrame,
  type RpcFrameDecoder,
  type RpcProtocol,
} from '../../../../api/rpc-protocol.js';

/** A frame of a length the codec cannot tell before its end may not grow past this. */
export const MAX_UNKNOWN_LENGTH_BYTES = 16 * 1024 * 1024;

/** One decoded frame: the codec's description, its bytes, and the codec that decoded it. */
export class MetaFrame implements RpcFrame {
  readonly type: RpcMessageType;
  readonly requestId: bigint;
  /** For stream frames: the stream's id. */
  readonly streamId: bigint | undefined;
  readonly responseStatus: RpcResponseStatus | undefined;
  readonly message: MetaMessage;
  readonly codec: MetaCodec;
  bytes: Buffer;

  constructor(message: MetaMessage, bytes: Buffer, codec: MetaCodec, side: MetaCodecSide) {
    this.message = message;
    this.bytes = bytes;
    this.codec = codec;
    const id = message.requestId;
    this.requestId = typeof id === 'bigint' ? id : BigInt(id);
    const sid = message.streamId;
    this.streamId = sid === undefined ? undefined : typeof sid === 'bigint' ? sid : BigInt(sid);
    this.type = rpcType(message, side);
    this.responseStatus =
      message.type === 'error'
        ? RpcResponseStatus.Error
        : message.type !== 'response'
          ? undefined
          : message.businessException === true
            ? RpcResponseStatus.BusinessException
            : RpcResponseStatus.Success;
  }

  detach(): void {
    this.bytes = Buffer.from(this.bytes);
  }

  /** For error messages: the codec's `method` (or `interface`/`method`) when it gives one. */
  describe(): string {
    const m = this.message.metadata;
    const method = m.get('method');
    const service = m.get('interface') ?? m.get('service');
    if (service && method) return `'${service}/${method}'`;
    return method ? `method '${method}'` : `request ${this.requestId}`;
  }
}

function rpcType(message: MetaMessage, side: MetaCodecSide): RpcMessageType {
  switch (message.type) {
    case 'request':
    case 'stream_init':
      return RpcMessageType.Request;
    case 'oneway':
      return RpcMessageType.Oneway;
    case 'response':
    case 'error':
      return RpcMessageType.Response;
    case 'heartbeat':
      return side === 'downstream' ? RpcMessageType.Heartbeat : RpcMessageType.HeartbeatResponse;
    case 'stream_data':
    case 'stream_close_one_way':
    case 'stream_close_two_way':
      return RpcMessageType.StreamFrame;
    default:
      throw new Error(`unknown message type "${String(message.type)}"`);
  }
}

class MetaFrameDecoder implements RpcFrameDecoder<MetaFrame> {
  readonly #codec: MetaCodec;
  readonly #side: MetaCodecSide;
  /**
   * A frame whose length the codec did not know yet: its first `#pendingLength` bytes start
   * `#pending`. Any room after them is a buffer of ours, so appending a read copies just that
   * read, and the buffer doubles when full: n bytes in small reads cost O(n) copying in all
   * (concatenating everything on each read was quadratic). A view of a read that has no room
   * after it (`#pending.length === #pendingLength`) is never written into.
   */
  #pending: Buffer = EMPTY;
  #pendingLength = 0;
  /** Parts of a frame of known length `#need`, `#partsLength` bytes so far. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  #need = 0;
  #failed: string | undefined;

  constructor(codec: MetaCodec, side: MetaCodecSide) {
    this.#codec = codec;
    this.#side = side;
  }

  get bufferedBytes(): number {
    return this.#pendingLength + this.#partsLength;
  }

  feed(data: Buffer, onFrame: (frame: MetaFrame) => void): DecodeResult {
    if (this.#failed) return { ok: false, error: this.#failed };
    let buf: Buffer;
    /** `buf` is the start of a buffer of ours (its room may be reused for a partial frame). */
    let owned: Buffer | undefined;
    if (this.#need > 0) {
      this.#parts.push(data);
      this.#partsLength += data.length;
      if (this.#partsLength < this.#need) return OK;
      buf = Buffer.concat(this.#parts, this.#partsLength);
      this.#parts = [];
      this.#partsLength = 0;
      this.#need = 0;
    } else if (this.#pendingLength > 0) {
      owned = this.#append(data);
      buf = owned.subarray(0, this.#pendingLength);
      this.#pending = EMPTY;
      this.#pendingLength = 0;
    } else buf = data;
    try {
      const rest = this.#cut(buf, onFrame);
      if (rest < buf.length) {
        this.#pending = (owned ?? buf).subarray(rest);
        this.#pendingLength = buf.length - rest;
      }
      return OK;
    } catch (e) {
      this.#failed = e instanceof Error ? e.message : String(e);
      this.#pending = EMPTY;
      this.#pendingLength = 0;
      this.#parts = [];
      this.#partsLength = 0;
      return { ok: false, error: this.#failed };
    }
  }

  /** Appends `data` to the pending bytes, growing their buffer by doubling; returns the buffer. */
  #append(data: Buffer): Buffer {
    const length = this.#pendingLength;
    const need = length + data.length;
    let target = this.#pending;
    if (need > target.length) {
      const doubled = Math.min(Math.max(2 * target.length, 4096), MAX_UNKNOWN_LENGTH_BYTES + 65536);
      target = Buffer.allocUnsafe(Math.max(need, doubled));
      this.#pending.copy(target, 0, 0, length);
    }
    data.copy(target, length);
    this.#pendingLength = need;
    return target;
  }

  /**
   * Decodes the complete frames at the start of `buf`. Returns the offset of a trailing frame
   * whose length the codec does not know yet (`buf.length` if there is none); a trailing frame
   * of known length is kept in `#parts`.
   */
  #cut(buf: Buffer, onFrame: (frame: MetaFrame) => void): number {
    const codec = this.#codec;
    let offset = 0;
    while (offset < buf.length) {
      const view = offset === 0 ? buf : buf.subarray(offset);
      const length = codec.frameLength(view);
      if (!Number.isInteger(length) || length < 0) throw new Error(`codec frameLength returned ${length}`);
      if (length === 0) {
        if (view.length > MAX_UNKNOWN_LENGTH_BYTES) throw new Error(`no frame end within ${MAX_UNKNOWN_LENGTH_BYTES} bytes`);
        return offset;
      }
      if (length > view.length) {
        this.#need = length;
        this.#parts = [view];
        this.#partsLength = view.length;
        return buf.length;
      }
      const bytes = length === view.length ? view : view.subarray(0, length);
      offset += length;
      onFrame(new MetaFrame(codec.decode(bytes, this.#side), bytes, codec, this.#side));
    }
    return buf.length;
  }
}

const OK: DecodeResult = { ok: true };
const EMPTY = Buffer.alloc(0);

const ERROR_TYPE: Record<LocalReplyKind, MetaErrorType> = {
  [LocalReplyKind.NoRoute]: 'route_not_found',
  [LocalReplyKind.UnknownCluster]: 'cluster_not_found',
  [LocalReplyKind.NoHealthyUpstream]: 'no_healthy_upstream',
  [LocalReplyKind.Overflow]: 'over_limit',
  [LocalReplyKind.OverLimit]: 'over_limit',
  [LocalReplyKind.ConnectionFailure]: 'connection_failure',
  [LocalReplyKind.Timeout]: 'timeout',
  [LocalReplyKind.UpstreamReset]: 'upstream_reset',
  [LocalReplyKind.BadResponse]: 'bad_response',
};

const MAX_SAFE_ID = BigInt(Number.MAX_SAFE_INTEGER);

/** Ids travel to codecs as numbers when they fit, as the contract promises. */
function idForCodec(id: bigint): number | bigint {
  return id <= MAX_SAFE_ID ? Number(id) : id;
}

/** The RpcProtocol for one configured codec: `createCodec` makes a codec per connection. */
export function metaProtocol(name: string, createCodec: () => MetaCodec): RpcProtocol<MetaFrame, MetaFrame> {
  return {
    name,
    newRequestDecoder: () => new MetaFrameDecoder(createCodec(), 'downstream'),
    newResponseDecoder: () => new MetaFrameDecoder(createCodec(), 'upstream'),
    heartbeatResponse: (heartbeat) => heartbeat.codec.heartbeatResponse?.(heartbeat.message) ?? EMPTY,
    localReply: (request, kind, message) => request.codec.onError(request.message, { type: ERROR_TYPE[kind], message }),
    setRequestId(frame, id) {
      const meta = frame as MetaFrame;
      meta.bytes = meta.codec.setRequestId!(meta.bytes, meta.message, idForCodec(id));
    },
    applyMutation(frame, mutation) {
      frame.bytes = frame.codec.encode(frame.message, frame.bytes, mutation);
    },
    copyFrame(frame) {
      const copy = new MetaFrame(frame.message, Buffer.from(frame.bytes), frame.codec, 'downstream');
      return copy;
    },
    metadata: (frame, key) => frame.message.metadata.get(key),
  };
}
