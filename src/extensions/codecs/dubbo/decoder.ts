/**
 * Streaming Dubbo decoder: fed the Buffers a connection reads, it yields complete frames, each
 * with its header parsed and its body decoded only as far as a proxy needs up front (the five
 * leading request strings, or the response type). Everything else is lazy (RequestInfo).
 *
 * Wire format (dubbo:// ExchangeCodec; all integers big-endian):
 *
 * ```
 *  0      1      2      3      4                            12            16
 * +------+------+------+------+----------------------------+-------------+------------------+
 * | 0xda | 0xbb | flag |status|  request id (int64)        | body length | body (Hessian2)  |
 * +------+------+------+------+----------------------------+-------------+------------------+
 *                  |      |                                   (int32, 1..16 MiB)
 *                  |      +-- responses: 20 OK, 30/31 timeouts, 40 bad request, 50 bad response,
 *                  |          60 service not found, 70 service error, 80 server error,
 *                  |          90 client error, 100 thread pool exhausted; requests: 0
 *                  +-- 0x80 request | 0x40 two-way | 0x20 event (heartbeat) | 0x1f serialization
 *                      id (2 = Hessian2). Java sends 0xc2 for a two-way request, 0x02 for a
 *                      response, 0xe2 / 0x22 for a heartbeat request / response.
 *
 * request body:  dubboVersion, path, version, method, paramTypes (strings), args..., attachments map
 * OK response:   int RpcResponseType (0 exception, 1 value, 2 null, 3..5 the same + attachments),
 *                value or exception (absent for null types), attachments map for 3..5
 * error response (status != 20): string message
 * event body:    Hessian null ('N') for heartbeats
 * ```
 *
 * Results, not exceptions: next() returns a DubboFrame (ok: true), null when more bytes are
 * needed, or a DubboDecodeError (ok: false) for bad magic, a serialization other than Hessian2,
 * a body length outside 1..maxBodyBytes, or a body whose leading fields are not valid Hessian2.
 * Errors are sticky, as in Envoy: after one, the stream is not parsed further (the connection
 * should be closed; `error.header`, when set, still gives the request id for a reply).
 *
 * Memory and copies:
 * - A frame that lies inside one pushed chunk is a zero-copy view (`subarray`) of it; a frame
 *   split across chunks is copied once into a new Buffer when its last byte arrives (partial
 *   frames are kept as the list of chunks, never re-concatenated per read).
 * - push() takes ownership: the caller must not modify or reuse a chunk after pushing it. Node's
 *   socket 'data' Buffers are never reused, so they qualify as they are.
 * - A view keeps its whole chunk (up to ~64 KiB per socket read) alive for as long as the frame
 *   is referenced. Forwarding a frame in the same tick (socket.write(frame.bytes)) needs no copy.
 *   A frame kept longer (queued while an upstream connects, parked in a multiplexing table,
 *   kept for retry or mirroring) should be detach()ed first: one copy of just that frame.
 * - Decoding must not await, and nothing here keeps references to chunks once their frames are
 *   taken, other than the frames' own views.
 *
 * Runs on worker processes: one decoder per connection and direction (downstream requests,
 * upstream responses), driven from that connection's 'data' handler. Not shared between
 * connections; the module-level scratch readers and writer it uses are never held across calls.
 */

import { FLAG_EVENT, HEADER_SIZE, MAGIC_HIGH, MAGIC_LOW, DEFAULT_MAX_BODY_BYTES } from './constants.js';
import { DubboDecodeError } from './decode-error.js';
import { parseFrameHeader, type FrameHeader } from './frame-header.js';
import { RequestInfo, type FrameBytes } from './request-info.js';
import { ResponseInfo } from './response-info.js';

const EMPTY = Buffer.alloc(0);

/** One complete frame: header plus body bytes, with the request or response view decoded. */
export class DubboFrame implements FrameBytes {
  readonly ok = true as const;
  readonly header: FrameHeader;
  #bytes: Buffer;
  #request: RequestInfo | null = null;
  #response: ResponseInfo | null = null;

  private constructor(header: FrameHeader, bytes: Buffer) {
    this.header = header;
    this.#bytes = bytes;
  }

  /**
   * Builds a frame from a parsed header and exactly `16 + header.bodyLength` bytes (header
   * included), decoding the request's leading fields or the response type. Events (heartbeats)
   * get neither view.
   */
  static from(header: FrameHeader, bytes: Buffer): DubboFrame | DubboDecodeError {
    const frame = new DubboFrame(header, bytes);
    if ((header.flags & FLAG_EVENT) !== 0) return frame;
    if (header.isRequest) {
      const request = RequestInfo.parse(frame, header);
      if (request instanceof DubboDecodeError) return request;
      frame.#request = request;
    } else {
      const response = ResponseInfo.parse(frame, header);
      if (response instanceof DubboDecodeError) return response;
      frame.#response = response;
    }
    return frame;
  }

  /** The whole frame, header included: what goes upstream untouched when nothing is rewritten. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  get requestId(): bigint {
    return this.header.requestId;
  }

  /** An event frame: a heartbeat (or a read-only notice); never routed. */
  get isHeartbeat(): boolean {
    return this.header.event;
  }

  /** The request view for non-event requests, else null. */
  get request(): RequestInfo | null {
    return this.#request;
  }

  /** The response view for non-event responses, else null. */
  get response(): ResponseInfo | null {
    return this.#response;
  }

  /** The body bytes (a view). */
  body(): Buffer {
    return this.#bytes.subarray(HEADER_SIZE);
  }

  /**
   * Replaces `bytes` with a private copy so the frame no longer pins the read chunk it came in.
   * Lazy request parsing keeps working (it reads `bytes` on each access). Idempotent in effect;
   * each call copies, so call it once, when deciding to keep the frame.
   */
  detach(): this {
    const copy = Buffer.allocUnsafeSlow(this.#bytes.length);
    this.#bytes.copy(copy);
    this.#bytes = copy;
    return this;
  }
}

export interface DubboDecoderOptions {
  /** Largest body accepted; default 16 MiB. */
  maxBodyBytes?: number;
}

export class DubboDecoder {
  readonly #maxBodyBytes: number;
  /** Unconsumed input: chunks[head] from `offset` on, then the following chunks whole. */
  #chunks: Buffer[] = [];
  #head = 0;
  #offset = 0;
  #buffered = 0;
  /** Header of the frame whose body is still arriving. */
  #header: FrameHeader | null = null;
  #error: DubboDecodeError | null = null;
  readonly #headerScratch = Buffer.alloc(HEADER_SIZE);

  constructor(options: DubboDecoderOptions = {}) {
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** Bytes pushed but not yet returned in a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** The sticky error, once one has been returned. */
  get error(): DubboDecodeError | null {
    return this.#error;
  }

  /** Appends bytes read from the connection. Takes ownership of `chunk` (see the file comment). */
  push(chunk: Buffer): void {
    if (chunk.length === 0 || this.#error !== null) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next complete frame; null when more bytes are needed; or the (sticky) decode error.
   * Call in a loop after each push() until it returns null or an error.
   */
  next(): DubboFrame | DubboDecodeError | null {
    if (this.#error !== null) return this.#error;
    let header = this.#header;
    if (header === null) {
      if (this.#buffered < HEADER_SIZE) return this.#checkMagicPrefix();
      const parsed = this.#parseHeader();
      if (parsed instanceof DubboDecodeError) return this.#fail(parsed);
      header = this.#header = parsed;
    }
    const total = HEADER_SIZE + header.bodyLength;
    if (this.#buffered < total) return null;
    this.#header = null;
    const frame = DubboFrame.from(header, this.#take(total));
    return frame instanceof DubboDecodeError ? this.#fail(frame) : frame;
  }

  #fail(error: DubboDecodeError): DubboDecodeError {
    this.#error = error;
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#buffered = 0;
    return error;
  }

  /** Fails early on a stream whose first bytes already cannot be Dubbo. */
  #checkMagicPrefix(): DubboDecodeError | null {
    for (let i = 0; i < 2 && i < this.#buffered; i++) {
      const byte = this.#byteAt(i);
      if (byte !== (i === 0 ? MAGIC_HIGH : MAGIC_LOW)) {
        const message = `expected magic 0xdabb, byte ${i} is 0x${byte.toString(16)}`;
        return this.#fail(new DubboDecodeError('bad-magic', message));
      }
    }
    return null;
  }

  #byteAt(index: number): number {
    let i = this.#offset + index;
    for (let c = this.#head; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c]!;
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    return -1;
  }

  #parseHeader(): FrameHeader | DubboDecodeError {
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= HEADER_SIZE) {
      return parseFrameHeader(first, this.#offset, this.#maxBodyBytes);
    }
    // The header itself is split across reads: gather its 16 bytes without consuming them.
    const scratch = this.#headerScratch;
    let written = 0;
    let offset = this.#offset;
    for (let c = this.#head; written < HEADER_SIZE; c++) {
      const chunk = this.#chunks[c]!;
      written += chunk.copy(scratch, written, offset, Math.min(chunk.length, offset + HEADER_SIZE - written));
      offset = 0;
    }
    return parseFrameHeader(scratch, 0, this.#maxBodyBytes);
  }

  /** Consumes `n` buffered bytes: a view when they lie in one chunk, else one copy. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[this.#head]!;
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) this.#dropHead();
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[this.#head]!;
      const count = Math.min(chunk.length - this.#offset, n - written);
      chunk.copy(out, written, this.#offset, this.#offset + count);
      written += count;
      this.#offset += count;
      if (this.#offset === chunk.length) this.#dropHead();
    }
    return out;
  }

  #dropHead(): void {
    this.#chunks[this.#head] = EMPTY; // release the chunk now, not at the next compaction
    this.#head++;
    this.#offset = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head >= 64 && this.#head * 2 >= this.#chunks.length) {
      // Compact only when the dropped slots are at least half the list: linear in all.
      this.#chunks.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
