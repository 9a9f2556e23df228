/**
 * Transports: how a connection's first bytes tell framed from unframed from THeader (and binary
 * from compact), and the length of a length-prefixed frame.
 *
 *     unframed binary   80 01 00 tt ...             (old style: i32 name length, name, tt ...)
 *     unframed compact  82 (tt << 5 | 1) ...
 *     framed            i32 length | a binary or compact message of `length` bytes
 *     THeader           i32 length | 0F FF | flags ... (constants.ts)
 *
 * A length is at most MAX_FRAME_BYTES (16 MiB), so a frame's first byte is 0x00 or 0x01 and can
 * never be mistaken for 0x80 or 0x82. Detection runs once per connection, on its first frame.
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';
import {
  BINARY_FIRST_BYTE,
  BINARY_SECOND_BYTE,
  COMPACT_PROTOCOL_ID,
  COMPACT_VERSION,
  COMPACT_VERSION_MASK,
  HEADER_MAGIC,
  MAX_FRAME_BYTES,
  MAX_NAME_BYTES,
} from './constants.js';
import type { ThriftProtocol, ThriftTransport } from './message-header.js';

export type TransportOption = ThriftTransport | 'auto';
export type ProtocolOption = ThriftProtocol | 'auto';

/**
 * A connection's detected wire format. For THeader, `protocol` is the one the configuration
 * allows ('auto' if either): each frame names its own.
 */
export interface Framing {
  readonly transport: ThriftTransport;
  readonly protocol: ProtocolOption;
}

/**
 * Detects the wire format from the start of a connection's first frame: undefined if more bytes
 * are needed, or throws if the bytes are not Thrift in a format the options allow.
 */
export function detectFraming(buf: Buffer, transport: TransportOption, protocol: ProtocolOption): Framing | undefined {
  const unframed = transport === 'auto' || transport === 'unframed';
  const framed = transport === 'auto' || transport === 'framed';
  const header = transport === 'auto' || transport === 'header';
  const binary = protocol === 'auto' || protocol === 'binary';
  const compact = protocol === 'auto' || protocol === 'compact';
  if (buf.length < 2) return undefined;
  if (unframed && binary && buf[0] === BINARY_FIRST_BYTE && buf[1] === BINARY_SECOND_BYTE) {
    return { transport: 'unframed', protocol: 'binary' };
  }
  if (unframed && compact && isCompactStart(buf, 0)) return { transport: 'unframed', protocol: 'compact' };
  if (buf.length < 4) return undefined;
  const length = buf.readInt32BE(0);
  if ((framed || header) && length > 0 && length <= MAX_FRAME_BYTES) {
    if (buf.length < 6) return undefined;
    if (header && buf.readUInt16BE(4) === HEADER_MAGIC) return { transport: 'header', protocol };
    if (framed && binary && buf[4] === BINARY_FIRST_BYTE && buf[5] === BINARY_SECOND_BYTE) {
      return { transport: 'framed', protocol: 'binary' };
    }
    if (framed && compact && isCompactStart(buf, 4)) return { transport: 'framed', protocol: 'compact' };
    if (framed && binary) {
      const found = oldStyleBinaryAt(buf, 4, length);
      if (found === undefined) return undefined;
      if (found) return { transport: 'framed', protocol: 'binary' };
    }
  }
  if (unframed && binary) {
    const found = oldStyleBinaryAt(buf, 0, MAX_FRAME_BYTES);
    if (found === undefined) return undefined;
    if (found) return { transport: 'unframed', protocol: 'binary' };
  }
  throw new MetaCodecError(
    `thrift: the connection's first bytes (${hex(buf, 8)}) are not a ${describe(transport, protocol)} message`,
  );
}

/**
 * The length of the length-prefixed frame at the start of `buf` (4 + its length) as soon as the
 * prefix is in, or 0 before. Throws on a length that is not positive or exceeds MAX_FRAME_BYTES.
 */
export function framedLength(buf: Buffer): number {
  if (buf.length < 4) return 0;
  const length = buf.readInt32BE(0);
  if (length <= 0 || length > MAX_FRAME_BYTES) {
    throw new MetaCodecError(`thrift: bad frame length ${length} (1 to ${MAX_FRAME_BYTES} bytes)`);
  }
  return 4 + length;
}

function isCompactStart(buf: Buffer, offset: number): boolean {
  return buf[offset] === COMPACT_PROTOCOL_ID && (buf[offset + 1]! & COMPACT_VERSION_MASK) === COMPACT_VERSION;
}

/**
 * Whether an old-style binary header (i32 name length, name, i8 message type) starts at
 * `offset`, within `room` bytes: undefined if more bytes are needed to tell. Old-style headers
 * have no magic, so this is a heuristic: a plausible length, a printable first name byte and a
 * valid message type after the name.
 */
function oldStyleBinaryAt(buf: Buffer, offset: number, room: number): boolean | undefined {
  if (buf.length < offset + 4) return undefined;
  const nameLength = buf.readInt32BE(offset);
  // name, type, seqid and at least the STOP byte of the body must fit in `room`
  if (nameLength <= 0 || nameLength > MAX_NAME_BYTES || nameLength + 10 > room) return false;
  if (buf.length < offset + 5) return undefined;
  const first = buf[offset + 4]!;
  if (first < 0x21 || first > 0x7e) return false; // a method name starts with a printable character
  const typeAt = offset + 4 + nameLength;
  if (buf.length <= typeAt) return undefined;
  const type = buf[typeAt]!;
  return type >= 1 && type <= 4;
}

function describe(transport: TransportOption, protocol: ProtocolOption): string {
  const t = transport === 'auto' ? 'framed, unframed or THeader' : transport === 'header' ? 'THeader' : transport;
  const p = protocol === 'auto' ? 'binary or compact' : protocol;
  return `Thrift ${t} ${p}`;
}

function hex(buf: Buffer, max: number): string {
  return buf.subarray(0, max).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}
