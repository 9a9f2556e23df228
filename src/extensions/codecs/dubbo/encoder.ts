/**
 * Dubbo frame encoders for a proxy: replies it makes itself (heartbeat, error), a heartbeat
 * request for upstream keep-alive, and the two rewrites of a frame it forwards (attachments,
 * request id). Frame layout: decoder.ts.
 */

import { BC_MAP, BC_MAP_UNTYPED, BC_NULL } from '../hessian2/constants.js';
import { Hessian2Reader } from '../hessian2/reader.js';
import { isScalarTag } from '../hessian2/string-map.js';
import { Hessian2Writer } from '../hessian2/writer.js';
import {
  FLAG_EVENT,
  FLAG_REQUEST,
  FLAG_TWO_WAY,
  HEADER_SIZE,
  ResponseStatus,
  SERIALIZATION_HESSIAN2,
} from './constants.js';
import { DubboDecodeError } from './decode-error.js';
import type { DubboFrame } from './decoder.js';
import { writeFrameHeader } from './frame-header.js';

/** Reused for every encode; JS is single-threaded and the encoders do not re-enter. */
const writer = new Hessian2Writer(1024);
const keyReader = new Hessian2Reader();

/**
 * The proxy's answer to a heartbeat request: response + event flags (0x22), status OK, the same
 * request id, body Hessian null. 17 bytes, as Java's HeaderExchangeHandler sends.
 */
export function encodeHeartbeatResponse(requestId: bigint): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 1);
  writeFrameHeader(out, 0, FLAG_EVENT | SERIALIZATION_HESSIAN2, ResponseStatus.OK, requestId, 1);
  out[HEADER_SIZE] = BC_NULL;
  return out;
}

/** A heartbeat request (flags 0xe2, body Hessian null), for keeping idle upstream connections alive. */
export function encodeHeartbeatRequest(requestId: bigint): Buffer {
  const out = Buffer.allocUnsafe(HEADER_SIZE + 1);
  writeFrameHeader(out, 0, FLAG_REQUEST | FLAG_TWO_WAY | FLAG_EVENT | SERIALIZATION_HESSIAN2, 0, requestId, 1);
  out[HEADER_SIZE] = BC_NULL;
  return out;
}

/**
 * A local error reply: flags 0x02 (response, Hessian2), the given status (e.g. 60
 * SERVICE_NOT_FOUND for no route, 80 SERVER_ERROR for no cluster / no healthy upstream), the
 * request's id, and the message as the Hessian string body, which is how Dubbo's ExchangeCodec
 * carries the error message of a non-OK response. Throws only for a status of OK (programmer error:
 * an OK body must start with a response type).
 */
export function encodeErrorResponse(requestId: bigint, status: number, message: string): Buffer {
  if (status === ResponseStatus.OK) throw new RangeError('encodeErrorResponse: status must not be OK (20)');
  writer.reset().writeString(message);
  const out = Buffer.allocUnsafe(HEADER_SIZE + writer.length);
  writeFrameHeader(out, 0, SERIALIZATION_HESSIAN2, status, requestId, writer.length);
  writer.copyTo(out, HEADER_SIZE);
  return out;
}

/** Overwrites the request id (offset 4) of a complete frame in place, e.g. for multiplexing. */
export function writeRequestId(frame: Buffer, requestId: bigint): void {
  frame.writeBigInt64BE(BigInt.asIntN(64, requestId), 4);
}

/**
 * Returns a request frame with its attachments changed: `changes` maps a key to its new value,
 * or to null to remove it. Everything before the attachments (header, leading strings, the
 * arguments) is copied byte for byte; only the attachments map is re-encoded and the body length
 * patched. Untouched entries are copied verbatim in their original order (whatever their value
 * types), changed entries are rewritten in place, new keys are appended. An original 'M' typed
 * map keeps its type; a null or missing map becomes an untyped one.
 *
 * With no changes, returns `frame.bytes` itself. Returns a DubboDecodeError when the frame is
 * not a request, its body is malformed, or a change touches an entry whose value is not a scalar
 * (list/map/object/binary/date: replacing it could shift the reference or class numbering that
 * later entries rely on).
 */
export function rewriteAttachments(
  frame: DubboFrame,
  changes: ReadonlyMap<string, string | null>,
): Buffer | DubboDecodeError {
  const request = frame.request;
  if (request === null) {
    return new DubboDecodeError('bad-body', 'attachments can only be rewritten on a request', frame.header);
  }
  if (changes.size === 0) return frame.bytes;
  const layout = request.attachmentLayout();
  if (layout === null) return request.error!;
  const bytes = frame.bytes;
  const tag = layout.start < layout.end ? bytes[layout.start]! : -1;

  writer.reset();
  if (tag === BC_MAP_UNTYPED || tag === BC_MAP) writer.writeRaw(bytes, layout.start, layout.entriesStart);
  else writer.writeMapStart();

  const spans = layout.spans;
  let applied: Set<string> | null = null;
  for (let i = 0; i < spans.length; i += 3) {
    const keyStart = spans[i]!;
    const valueStart = spans[i + 1]!;
    const valueEnd = spans[i + 2]!;
    const key = Hessian2Reader.isStringTag(bytes[keyStart]!)
      ? keyReader.reset(bytes, keyStart, valueStart).readString()
      : null;
    if (key === null || !changes.has(key)) {
      writer.writeRaw(bytes, keyStart, valueEnd);
      continue;
    }
    if (!isScalarTag(bytes[valueStart]!)) {
      keyReader.release();
      return new DubboDecodeError(
        'bad-body',
        `attachment "${key}" holds a list, map or object and cannot be replaced`,
        frame.header,
      );
    }
    applied ??= new Set();
    if (applied.has(key)) continue; // a duplicate key on the wire: keep only the first, changed
    applied.add(key);
    const value = changes.get(key)!;
    if (value !== null) writer.writeRaw(bytes, keyStart, valueStart).writeString(value);
  }
  for (const [key, value] of changes) {
    if (value !== null && !applied?.has(key)) writer.writeString(key).writeString(value);
  }
  writer.writeMapEnd();
  keyReader.release();

  const out = Buffer.allocUnsafe(layout.start + writer.length);
  bytes.copy(out, 0, 0, layout.start);
  writer.copyTo(out, layout.start);
  out.writeInt32BE(out.length - HEADER_SIZE, 12);
  return out;
}
