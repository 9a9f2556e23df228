/**
 * The Thrift codec for `courier.meta_protocol_proxy` (MetaProtocol's thrift_codec.cc, with its
 * gaps closed): framed, unframed and THeader transports; binary (strict and old style) and
 * compact protocols; detected per connection from the first frame unless configured.
 *
 * - frameLength: framed and THeader answer from the i32 length as soon as it is in (the first
 *   frame of a connection needs 2 more bytes, to detect the format); unframed walks the whole
 *   message with an allocation-free, resumable skipper (unframed-scanner.ts) and answers 0 until
 *   it is complete.
 * - decode: CALL → request, ONEWAY → oneway, REPLY → response (businessException when the
 *   result struct's first field is a declared exception), EXCEPTION → error; requestId is the
 *   seqid as unsigned 32-bit; metadata holds `method` (the name as on the wire, `Service:method`
 *   under TMultiplexedProtocol) and, for THeader, every info key/value with its key lower-cased.
 * - encode: a mutation is written as THeader info key/values. Framed and unframed binary/compact
 *   messages have nowhere to carry out-of-band data, so there the frame passes unchanged (as
 *   MetaProtocol's encode always does).
 * - onError: an EXCEPTION message carrying a TApplicationException, in the request's protocol
 *   and transport. route_not_found → UNKNOWN_METHOD (1), as Envoy's thrift_proxy answers a
 *   method without a route; every other error → INTERNAL_ERROR (6) with the error's message
 *   (Apache Thrift has no timeout or overload type that every client knows).
 * - setRequestId: rewrites the seqid in place for binary; for compact, whose seqid is a varint,
 *   in place when the width is unchanged, else into a new buffer with the frame length fixed.
 *   A THeader's own seqid is rewritten too when it equals the message's.
 *
 * The proxy forwards bytes as they came, so both sides of a route must speak the same transport
 * and protocol (Envoy's thrift_proxy could translate; this codec does not).
 */

import {
  MetaCodecError,
  type MetaCodec,
  type MetaCodecFactory,
  type MetaCodecSide,
  type MetaError,
  type MetaMessage,
  type MetaMessageType,
} from '../../../api/meta-protocol-codec.js';
import { writeApplicationException, type ReplyTarget } from './application-exception.js';
import { binaryReplyHasException, binarySeqidOffset, readBinaryMessageHeader } from './binary-protocol.js';
import { compactReplyHasException, compactSeqidOffset, readCompactMessageHeader } from './compact-protocol.js';
import { parseThriftCodecConfig, type ThriftCodecConfig } from './config.js';
import {
  ApplicationExceptionType,
  HEADER_SEQID_OFFSET,
  HEADER_START,
  HEADER_WORDS_OFFSET,
  MessageType,
} from './constants.js';
import { forEachHeaderInfo, parseHeaderFrame, rewriteHeaderInfo } from './header-transport.js';
import { messageTypeName, type ThriftProtocol } from './message-header.js';
import { detectFraming, framedLength, type Framing } from './transport.js';
import { UnframedScanner } from './unframed-scanner.js';
import { MAX_VARINT32_BYTES, readVarint32, varint32Length, varintSize, writeVarint32 } from './varint.js';

export const THRIFT_CODEC_NAME = 'courier.meta_protocol.codec.thrift';

/** What decode() keeps in MetaMessage.codecData. */
export interface ThriftCodecData extends ReplyTarget {
  readonly messageType: MessageType;
}

export class ThriftCodec implements MetaCodec {
  readonly #config: ThriftCodecConfig;
  #framing: Framing | undefined;
  #scanner: UnframedScanner | undefined;

  constructor(config: ThriftCodecConfig) {
    this.#config = config;
  }

  /** The wire format detected on this connection, once its first frame has been seen. */
  get framing(): Framing | undefined {
    return this.#framing;
  }

  frameLength(buffer: Buffer): number {
    let framing = this.#framing;
    if (framing === undefined) {
      framing = detectFraming(buffer, this.#config.transport, this.#config.protocol);
      if (framing === undefined) return 0;
      this.#framing = framing;
    }
    if (framing.transport !== 'unframed') return framedLength(buffer);
    this.#scanner ??= new UnframedScanner();
    return this.#scanner.frameLength(buffer, framing.protocol as ThriftProtocol);
  }

  decode(frame: Buffer, side: MetaCodecSide): MetaMessage {
    let framing = this.#framing;
    if (framing === undefined) {
      framing = detectFraming(frame, this.#config.transport, this.#config.protocol);
      if (framing === undefined) throw new MetaCodecError('thrift: frame too short to be a Thrift message');
      this.#framing = framing;
    }
    let offset = 0;
    let protocol = framing.protocol as ThriftProtocol;
    let headerSeqid = 0;
    let headerFlags = 0;
    let metadata: Map<string, string>;
    if (framing.transport !== 'unframed' && (frame.length < 4 || frame.readInt32BE(0) !== frame.length - 4)) {
      throw new MetaCodecError(`thrift: frame of ${frame.length} bytes does not match its length prefix`);
    }
    if (framing.transport === 'header') {
      const header = parseHeaderFrame(frame);
      if (this.#config.protocol !== 'auto' && header.protocol !== this.#config.protocol) {
        throw new MetaCodecError(`thrift: THeader frame with the ${header.protocol} protocol (configured: ${this.#config.protocol})`);
      }
      protocol = header.protocol;
      offset = header.payloadOffset;
      headerSeqid = header.seqid;
      headerFlags = header.flags;
      metadata = new Map();
      forEachHeaderInfo(frame, header, (key, value) => metadata.set(key.toLowerCase(), value));
    } else {
      if (framing.transport === 'framed') offset = 4;
      metadata = new Map();
    }

    const end = frame.length;
    const message =
      protocol === 'binary' ? readBinaryMessageHeader(frame, offset, end) : readCompactMessageHeader(frame, offset, end);
    if (message === undefined) throw new MetaCodecError('thrift: frame ends inside its message header');
    const name = frame.toString('utf8', message.nameStart, message.nameEnd);
    metadata.set('method', name);

    let type: MetaMessageType;
    let businessException: boolean | undefined;
    if (side === 'downstream') {
      if (message.type === MessageType.CALL) type = 'request';
      else if (message.type === MessageType.ONEWAY) type = 'oneway';
      else throw wrongDirection(message.type, name, side);
    } else if (message.type === MessageType.REPLY) {
      type = 'response';
      businessException =
        protocol === 'binary'
          ? binaryReplyHasException(frame, message.bodyOffset, end)
          : compactReplyHasException(frame, message.bodyOffset, end);
    } else if (message.type === MessageType.EXCEPTION) {
      type = 'error';
    } else {
      throw wrongDirection(message.type, name, side);
    }

    const codecData: ThriftCodecData = {
      transport: framing.transport,
      protocol,
      strict: message.strict,
      name,
      seqid: message.seqid,
      headerSeqid,
      headerFlags,
      messageType: message.type,
    };
    return businessException === undefined
      ? { type, requestId: message.seqid >>> 0, metadata, codecData }
      : { type, requestId: message.seqid >>> 0, metadata, businessException, codecData };
  }

  encode(message: MetaMessage, frame: Buffer, mutation: ReadonlyMap<string, string>): Buffer {
    if (mutation.size === 0) return frame;
    // Binary and compact messages carry no out-of-band key/values: only THeader can.
    if (codecDataOf(message).transport !== 'header') return frame;
    return rewriteHeaderInfo(frame, mutation);
  }

  onError(request: MetaMessage, error: MetaError): Buffer {
    const type =
      error.type === 'route_not_found' ? ApplicationExceptionType.UNKNOWN_METHOD : ApplicationExceptionType.INTERNAL_ERROR;
    return writeApplicationException(codecDataOf(request), type, error.message);
  }

  setRequestId(frame: Buffer, message: MetaMessage, requestId: number | bigint): Buffer {
    const id = Number(requestId);
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new RangeError(`thrift: request id ${requestId} does not fit a 32-bit seqid`);
    }
    const data = codecDataOf(message);
    // Offsets are read from `frame` itself, which may have been rewritten since decode().
    const offset =
      data.transport === 'framed' ? 4 : data.transport === 'unframed' ? 0 : HEADER_START + frame.readUInt16BE(HEADER_WORDS_OFFSET) * 4;
    let out = frame;
    let old: number;
    if (data.protocol === 'binary') {
      const at = binarySeqidOffset(frame, offset);
      old = frame.readInt32BE(at);
      frame.writeInt32BE(id | 0, at);
    } else {
      const at = compactSeqidOffset(offset);
      const width = varintSize(frame, at, frame.length, MAX_VARINT32_BYTES);
      if (width === 0) throw new MetaCodecError('thrift: frame ends inside its seqid');
      old = readVarint32(frame, at) | 0;
      const newWidth = varint32Length(id);
      if (newWidth === width) {
        writeVarint32(frame, at, id);
      } else {
        out = Buffer.allocUnsafe(frame.length - width + newWidth);
        frame.copy(out, 0, 0, at);
        const p = writeVarint32(out, at, id);
        frame.copy(out, p, at + width);
        if (data.transport !== 'unframed') out.writeInt32BE(out.length - 4, 0);
      }
    }
    if (data.transport === 'header' && out.readInt32BE(HEADER_SEQID_OFFSET) === old) {
      out.writeInt32BE(id | 0, HEADER_SEQID_OFFSET);
    }
    return out;
  }
}

export const thriftCodecFactory: MetaCodecFactory = {
  name: THRIFT_CODEC_NAME,
  configure(config: Record<string, unknown>): void {
    parseThriftCodecConfig(config);
  },
  createCodec(config: Record<string, unknown>): ThriftCodec {
    return new ThriftCodec(parseThriftCodecConfig(config));
  },
};

export default thriftCodecFactory;

function codecDataOf(message: MetaMessage): ThriftCodecData {
  const data = message.codecData as ThriftCodecData | undefined;
  if (data === undefined || data === null || typeof data !== 'object' || typeof data.seqid !== 'number') {
    throw new Error('thrift: this message was not decoded by the thrift codec (no codecData)');
  }
  return data;
}

function wrongDirection(type: number, name: string, side: MetaCodecSide): MetaCodecError {
  const expected = side === 'downstream' ? 'CALL or ONEWAY' : 'REPLY or EXCEPTION';
  return new MetaCodecError(`thrift: ${messageTypeName(type)} message "${name}" from ${side} (expected ${expected})`);
}
