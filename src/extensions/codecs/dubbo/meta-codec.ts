/**
 * The Dubbo codec as a MetaProtocol codec plug-in (courier.meta_protocol.codec.dubbo): the
 * same lazy decoder the dubbo_proxy filter uses, behind the public MetaCodec contract.
 *
 * Metadata (read lazily, keys case-insensitive): `interface`, `method`, `version`,
 * `dubbo_version`, and every request attachment (`group` among them), as MetaProtocol's Dubbo
 * codec gives them. Nothing past the leading strings is decoded unless a route asks for an
 * attachment.
 *
 * Mutation: requests get the pairs as attachments (the arguments are copied byte for byte);
 * responses too, which MetaProtocol's codec only learned late (PR #113) and its router never
 * asked for: a response with attachments gets the pairs appended to its map (a Java HashMap
 * keeps the last value of a repeated key, so the mutation wins), one without has its
 * RpcResponseType moved to the "with attachments" variant and a map appended.
 *
 * Errors: a full Dubbo error response (status and message), which MetaProtocol's HEAD writes
 * empty (its PR #113 regression); 60 SERVICE_NOT_FOUND for no route, 31 SERVER_TIMEOUT for a
 * timeout, 100 THREADPOOL_EXHAUSTED when rate limited, 80 SERVER_ERROR otherwise.
 */
import type { MetaCodec, MetaCodecFactory, MetaErrorType, MetaMessage, MetaMetadata } from '../../../api/meta-protocol-codec.js';
import { Hessian2Writer } from '../hessian2/writer.js';
import { FLAG_EVENT, HEADER_SIZE, ResponseStatus } from './constants.js';
import { DubboDecodeError } from './decode-error.js';
import { DubboFrame } from './decoder.js';
import { encodeErrorResponse, encodeHeartbeatResponse, rewriteAttachments, writeRequestId } from './encoder.js';
import { parseFrameHeader } from './frame-header.js';

export const DUBBO_META_CODEC_NAME = 'courier.meta_protocol.codec.dubbo';

/** Hessian compact ints 0..5 (0x90 + n): how Java writes the RpcResponseType. */
const COMPACT_INT_ZERO = 0x90;
const MAP_END = 0x5a; // 'Z'
const WITH_ATTACHMENTS = 3;

/** Lazy metadata over one decoded frame. */
class DubboMetadata implements MetaMetadata {
  readonly #frame: DubboFrame;

  constructor(frame: DubboFrame) {
    this.#frame = frame;
  }

  get(key: string): string | undefined {
    const request = this.#frame.request;
    if (!request) return undefined;
    switch (key) {
      case 'interface':
        return request.path;
      case 'method':
        return request.method;
      case 'version':
        return request.version;
      case 'dubbo_version':
        return request.dubboVersion;
    }
    return request.attachment(key);
  }
}

const NO_METADATA: MetaMetadata = { get: () => undefined };

function messageOf(frame: DubboFrame): MetaMessage {
  const h = frame.header;
  const requestId = h.requestId;
  if (h.event) return { type: 'heartbeat', requestId, metadata: NO_METADATA, codecData: frame };
  if (h.isRequest) return { type: h.twoWay ? 'request' : 'oneway', requestId, metadata: new DubboMetadata(frame), codecData: frame };
  if (h.status !== ResponseStatus.OK) return { type: 'error', requestId, metadata: NO_METADATA, codecData: frame };
  return { type: 'response', requestId, metadata: NO_METADATA, businessException: frame.response?.isBusinessException === true, codecData: frame };
}

const ERROR_STATUS: Record<MetaErrorType, number> = {
  route_not_found: ResponseStatus.SERVICE_NOT_FOUND,
  cluster_not_found: ResponseStatus.SERVER_ERROR,
  no_healthy_upstream: ResponseStatus.SERVER_ERROR,
  over_limit: ResponseStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR,
  connection_failure: ResponseStatus.SERVER_ERROR,
  timeout: ResponseStatus.SERVER_TIMEOUT,
  upstream_reset: ResponseStatus.SERVER_ERROR,
  bad_response: ResponseStatus.BAD_RESPONSE,
  unspecified: ResponseStatus.SERVER_ERROR,
};

const writer = new Hessian2Writer();

/** A response frame with `mutation` added to its attachments (see the file comment). */
function mutateResponse(frame: DubboFrame, mutation: ReadonlyMap<string, string>): Buffer {
  const response = frame.response;
  const bytes = frame.bytes;
  if (!response || response.responseType === null) return bytes;
  writer.reset();
  if (response.hasAttachments) {
    // The attachments map ends the body: insert the pairs before its end marker.
    if (bytes[bytes.length - 1] !== MAP_END) return bytes;
    for (const [k, v] of mutation) writer.writeString(k).writeString(v);
    const out = Buffer.allocUnsafe(bytes.length + writer.length);
    bytes.copy(out, 0, 0, bytes.length - 1);
    writer.copyTo(out, bytes.length - 1);
    out[out.length - 1] = MAP_END;
    out.writeInt32BE(out.length - HEADER_SIZE, 12);
    return out;
  }
  if (bytes[HEADER_SIZE] !== COMPACT_INT_ZERO + response.responseType) return bytes;
  writer.writeStringMap(mutation);
  const out = Buffer.allocUnsafe(bytes.length + writer.length);
  bytes.copy(out);
  out[HEADER_SIZE] = COMPACT_INT_ZERO + response.responseType + WITH_ATTACHMENTS;
  writer.copyTo(out, bytes.length);
  out.writeInt32BE(out.length - HEADER_SIZE, 12);
  return out;
}

class DubboMetaCodec implements MetaCodec {
  frameLength(buffer: Buffer): number {
    if (buffer.length < HEADER_SIZE) return 0;
    const header = parseFrameHeader(buffer);
    if (header instanceof DubboDecodeError) throw new Error(`dubbo: ${header.code}: ${header.message}`);
    return HEADER_SIZE + header.bodyLength;
  }

  decode(frame: Buffer): MetaMessage {
    const header = parseFrameHeader(frame);
    if (header instanceof DubboDecodeError) throw new Error(`dubbo: ${header.code}: ${header.message}`);
    const decoded = DubboFrame.from(header, frame);
    if (decoded instanceof DubboDecodeError) throw new Error(`dubbo: ${decoded.code}: ${decoded.message}`);
    return messageOf(decoded);
  }

  encode(message: MetaMessage, frame: Buffer, mutation: ReadonlyMap<string, string>): Buffer {
    if (mutation.size === 0) return frame;
    const dubbo = message.codecData as DubboFrame;
    if ((dubbo.header.flags & FLAG_EVENT) !== 0) return frame;
    if (dubbo.request) {
      const out = rewriteAttachments(dubbo, mutation);
      return out instanceof DubboDecodeError ? frame : out;
    }
    return mutateResponse(dubbo, mutation);
  }

  onError(request: MetaMessage, error: { type: MetaErrorType; message: string }): Buffer {
    return encodeErrorResponse(BigInt(request.requestId), ERROR_STATUS[error.type], error.message);
  }

  heartbeatResponse(heartbeat: MetaMessage): Buffer {
    return encodeHeartbeatResponse(BigInt(heartbeat.requestId));
  }

  setRequestId(frame: Buffer, _message: MetaMessage, id: number | bigint): Buffer {
    writeRequestId(frame, BigInt(id));
    return frame;
  }
}

const codec = new DubboMetaCodec();

export const dubboMetaCodecFactory: MetaCodecFactory = {
  name: DUBBO_META_CODEC_NAME,
  configure(config) {
    const keys = Object.keys(config);
    if (keys.length > 0) throw new Error(`the dubbo codec takes no config (got ${keys.join(', ')})`);
  },
  // Stateless: every connection can share one.
  createCodec: () => codec,
};
