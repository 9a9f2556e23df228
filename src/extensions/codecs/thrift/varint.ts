/**
 * Unsigned LEB128 varints, as the compact protocol and THeader's header area write them (7 bits
 * a byte, low group first, high bit = more). Sizes and reads are separate calls so nothing
 * returns a pair: a caller asks `varintSize` first (which also bounds the width), then reads.
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';

/** Widest varint of a 32-bit value (5 bytes) and of a 64-bit value (10 bytes). */
export const MAX_VARINT32_BYTES = 5;
export const MAX_VARINT64_BYTES = 10;

/**
 * Bytes taken by the varint at `buf[offset]`: 0 if it does not end before `end` (more bytes
 * needed). Throws if it is wider than `maxBytes`.
 */
export function varintSize(buf: Buffer, offset: number, end: number, maxBytes: number): number {
  const limit = Math.min(end, offset + maxBytes);
  for (let p = offset; p < limit; p++) {
    if ((buf[p]! & 0x80) === 0) return p - offset + 1;
  }
  if (end - offset >= maxBytes) {
    throw new MetaCodecError(`thrift: varint at offset ${offset} is longer than ${maxBytes} bytes`);
  }
  return 0;
}

/** The varint at `buf[offset]` as an unsigned 32-bit number; the caller checked its size. */
export function readVarint32(buf: Buffer, offset: number): number {
  let value = 0;
  let shift = 0;
  for (let p = offset; ; p++) {
    const b = buf[p]!;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return value >>> 0;
    shift += 7;
  }
}

/** Zigzag-decodes a 32-bit varint value (compact i16/i32 and field ids). */
export function zigzagToInt32(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}

export function int32ToZigzag(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** Bytes needed to write `value` (taken as unsigned 32-bit) as a varint. */
export function varint32Length(value: number): number {
  let v = value >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Writes `value` (taken as unsigned 32-bit) at `buf[offset]`; returns the offset after it. */
export function writeVarint32(buf: Buffer, offset: number, value: number): number {
  let v = value >>> 0;
  let p = offset;
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}
