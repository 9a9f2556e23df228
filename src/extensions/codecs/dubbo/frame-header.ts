/**
 * The 16-byte Dubbo frame header: parse (with validation) and write. Layout in decoder.ts.
 */

import {
  DEFAULT_MAX_BODY_BYTES,
  FLAG_EVENT,
  FLAG_REQUEST,
  FLAG_TWO_WAY,
  MAGIC_HIGH,
  MAGIC_LOW,
  SERIALIZATION_HESSIAN2,
  SERIALIZATION_MASK,
} from './constants.js';
import { DubboDecodeError } from './decode-error.js';

export interface FrameHeader {
  /** The raw flag byte (offset 2). */
  readonly flags: number;
  /** 0x80 set: a request (or a heartbeat request); clear: a response. */
  readonly isRequest: boolean;
  /** 0x40 set: the caller waits for a response. Only meaningful on requests. */
  readonly twoWay: boolean;
  /** 0x20 set: an event, i.e. a heartbeat (body: Hessian null) or a read-only notice (body "R"). */
  readonly event: boolean;
  /** Low 5 bits of the flag byte; always 2 (Hessian2) on a parsed header. */
  readonly serializationId: number;
  /** Status byte (offset 3): ResponseStatus on responses, 0 on requests. */
  readonly status: number;
  /** Request id (offset 4, signed 64-bit big-endian); a response carries its request's id. */
  readonly requestId: bigint;
  /** Body length (offset 12, int32 big-endian), 1..maxBodyBytes. */
  readonly bodyLength: number;
}

/**
 * Parses and validates the header at `buf[offset .. offset + 16)` (the caller guarantees 16
 * bytes). Returns a DubboDecodeError for bad magic, a serialization other than Hessian2, or a
 * body length outside 1..maxBodyBytes. Response status values are not checked: unknown ones pass
 * through to the client as they are.
 */
export function parseFrameHeader(
  buf: Buffer,
  offset = 0,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
): FrameHeader | DubboDecodeError {
  if (buf[offset] !== MAGIC_HIGH || buf[offset + 1] !== MAGIC_LOW) {
    const got = buf.readUInt16BE(offset).toString(16).padStart(4, '0');
    return new DubboDecodeError('bad-magic', `expected magic 0xdabb, got 0x${got}`);
  }
  const flags = buf[offset + 2]!;
  const header: FrameHeader = {
    flags,
    isRequest: (flags & FLAG_REQUEST) !== 0,
    twoWay: (flags & FLAG_TWO_WAY) !== 0,
    event: (flags & FLAG_EVENT) !== 0,
    serializationId: flags & SERIALIZATION_MASK,
    status: buf[offset + 3]!,
    requestId: buf.readBigInt64BE(offset + 4),
    bodyLength: buf.readInt32BE(offset + 12),
  };
  if (header.serializationId !== SERIALIZATION_HESSIAN2) {
    return new DubboDecodeError(
      'unsupported-serialization',
      `serialization id ${header.serializationId} is not Hessian2 (2)`,
      header,
    );
  }
  if (header.bodyLength <= 0) {
    return new DubboDecodeError('bad-body-length', `body length ${header.bodyLength}`, header);
  }
  if (header.bodyLength > maxBodyBytes) {
    return new DubboDecodeError(
      'body-too-large',
      `body length ${header.bodyLength} exceeds the limit of ${maxBodyBytes} bytes`,
      header,
    );
  }
  return header;
}

/** Writes a header into `target` at `offset`. */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  flags: number,
  status: number,
  requestId: bigint,
  bodyLength: number,
): void {
  target[offset] = MAGIC_HIGH;
  target[offset + 1] = MAGIC_LOW;
  target[offset + 2] = flags;
  target[offset + 3] = status;
  target.writeBigInt64BE(BigInt.asIntN(64, requestId), offset + 4);
  target.writeInt32BE(bodyLength, offset + 12);
}

/** Reads the request id of a complete frame. */
export function readRequestId(frame: Buffer): bigint {
  return frame.readBigInt64BE(4);
}
