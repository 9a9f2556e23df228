/**
 * TBinaryProtocol: the message header (read and write), the seqid's place, and a skipper that
 * finds the end of a message without building anything. Big-endian throughout.
 *
 *     strict:      i32 0x8001_00tt | i32 name length | name | i32 seqid | struct
 *     old style:   i32 name length | name | i8 type | i32 seqid | struct
 *     struct:      (i8 field type | i16 field id | value)* | i8 0 (STOP)
 *     values:      bool/byte 1, i16 2, i32 4, i64/double 8, uuid 16 bytes;
 *                  string/binary i32 length + bytes; list/set i8 element type + i32 count;
 *                  map i8 key type + i8 value type + i32 count
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';
import { BINARY_VERSION_1, BINARY_VERSION_MASK, BinaryType, MAX_FRAME_BYTES, MAX_NAME_BYTES, type MessageType } from './constants.js';
import type { MessageHeader } from './message-header.js';
import { LEVEL_LIST, LEVEL_STRUCT, type SkipState } from './skip-state.js';

/** Width of each fixed-size value type; 0 for strings, structs and containers; -1 if not a type. */
const WIDTH = buildWidths();

function buildWidths(): Int8Array {
  const w = new Int8Array(256).fill(-1);
  w[BinaryType.BOOL] = 1;
  w[BinaryType.BYTE] = 1;
  w[BinaryType.DOUBLE] = 8;
  w[BinaryType.I16] = 2;
  w[BinaryType.I32] = 4;
  w[BinaryType.I64] = 8;
  w[BinaryType.UUID] = 16;
  w[BinaryType.STRING] = 0;
  w[BinaryType.STRUCT] = 0;
  w[BinaryType.MAP] = 0;
  w[BinaryType.SET] = 0;
  w[BinaryType.LIST] = 0;
  return w;
}

/**
 * Reads the message header at `buf[offset .. end)`: undefined if it does not fit yet. Accepts
 * strict and old-style headers. Throws on a bad version, an unknown message type or a name
 * longer than MAX_NAME_BYTES.
 */
export function readBinaryMessageHeader(buf: Buffer, offset: number, end: number): MessageHeader | undefined {
  if (end - offset < 4) return undefined;
  const first = buf.readInt32BE(offset);
  if (first < 0) {
    if ((first & BINARY_VERSION_MASK) !== (BINARY_VERSION_1 | 0)) {
      throw new MetaCodecError(`thrift: bad binary protocol version 0x${(first >>> 0).toString(16).padStart(8, '0')}`);
    }
    const type = checkMessageType(first & 0xff);
    if (end - offset < 8) return undefined;
    const nameStart = offset + 8;
    const nameEnd = nameStart + checkNameLength(buf.readInt32BE(offset + 4));
    if (end < nameEnd + 4) return undefined;
    return {
      type,
      seqid: buf.readInt32BE(nameEnd),
      nameStart,
      nameEnd,
      bodyOffset: nameEnd + 4,
      strict: true,
    };
  }
  const nameStart = offset + 4;
  const nameEnd = nameStart + checkNameLength(first);
  if (end < nameEnd + 5) return undefined;
  return {
    type: checkMessageType(buf[nameEnd]!),
    seqid: buf.readInt32BE(nameEnd + 1),
    nameStart,
    nameEnd,
    bodyOffset: nameEnd + 5,
    strict: false,
  };
}

/** Offset of the i32 seqid of the (complete) message header at `offset`. */
export function binarySeqidOffset(buf: Buffer, offset: number): number {
  const first = buf.readInt32BE(offset);
  return first < 0 ? offset + 8 + buf.readInt32BE(offset + 4) : offset + 4 + first + 1;
}

export function binaryMessageHeaderLength(nameBytes: number, strict: boolean): number {
  return strict ? 12 + nameBytes : 9 + nameBytes;
}

/** Writes a message header (`nameBytes` is the name's UTF-8 length); returns the offset after it. */
export function writeBinaryMessageHeader(
  buf: Buffer,
  offset: number,
  name: string,
  nameBytes: number,
  type: MessageType,
  seqid: number,
  strict: boolean,
): number {
  let p = offset;
  if (strict) {
    p = buf.writeInt32BE((BINARY_VERSION_1 | type) | 0, p);
    p = buf.writeInt32BE(nameBytes, p);
    p += buf.write(name, p, 'utf8');
  } else {
    p = buf.writeInt32BE(nameBytes, p);
    p += buf.write(name, p, 'utf8');
    buf[p++] = type;
  }
  return buf.writeInt32BE(seqid | 0, p);
}

/**
 * Whether the result struct at `bodyOffset` starts with a declared exception: its first field
 * has id 1 or more. A result struct holds one field: `success` (id 0), or one exception, or
 * nothing for a void method's success.
 */
export function binaryReplyHasException(buf: Buffer, bodyOffset: number, end: number): boolean {
  if (bodyOffset >= end) throw new MetaCodecError('thrift: reply ends before its result struct');
  if (buf[bodyOffset] === BinaryType.STOP) return false;
  if (bodyOffset + 3 > end) throw new MetaCodecError('thrift: reply ends inside its first field header');
  return buf.readInt16BE(bodyOffset + 1) >= 1;
}

/**
 * Walks the message body from `state` over `buf` (which starts at the message). Returns true
 * when the body struct is closed (`state.pos` is then the message's length), false when more
 * bytes are needed (`state` is a checkpoint). Throws on an unknown type, a negative or
 * impossible size, nesting deeper than MAX_DEPTH or a message over MAX_FRAME_BYTES.
 */
export function skipBinary(buf: Buffer, state: SkipState): boolean {
  const end = buf.length;
  const { kind, elementType, valueType, remaining } = state;
  let pos = state.pos;
  walk: while (state.depth > 0) {
    const top = state.depth - 1;
    let p = pos;
    let type: number;
    if (kind[top] === LEVEL_STRUCT) {
      if (p >= end) break;
      type = buf[p]!;
      if (type === BinaryType.STOP) {
        pos = p + 1;
        state.depth--;
        continue;
      }
      p += 3;
      if (WIDTH[type]! < 0) throw invalidType(type);
    } else {
      const left = remaining[top]!;
      if (left === 0) {
        state.depth--;
        continue;
      }
      if (kind[top] === LEVEL_LIST) {
        type = elementType[top]!;
        const width = WIDTH[type]!;
        if (width > 0) {
          // A run of fixed-width elements: take as many whole ones as the buffer holds.
          const n = Math.min(left, Math.floor((end - p) / width));
          pos = p + n * width;
          remaining[top] = left - n;
          state.checkLimit(pos);
          if (n < left) break;
          continue;
        }
      } else {
        type = (left & 1) === 0 ? elementType[top]! : valueType[top]!;
      }
    }
    // The value of `type` starts at p; the step commits (pos = p, one element less) once whole.
    const width = WIDTH[type]!;
    if (width > 0) {
      p += width;
      if (p > end) break;
    } else {
      switch (type) {
        case BinaryType.STRING: {
          if (p + 4 > end) break walk;
          const length = buf.readInt32BE(p);
          if (length < 0 || length > MAX_FRAME_BYTES) throw new MetaCodecError(`thrift: bad string length ${length}`);
          p += 4 + length;
          state.checkLimit(p);
          if (p > end) break walk;
          break;
        }
        case BinaryType.STRUCT:
          if (p > end) break walk;
          break;
        case BinaryType.LIST:
        case BinaryType.SET:
          if (p + 5 > end) break walk;
          break;
        case BinaryType.MAP:
          if (p + 6 > end) break walk;
          break;
      }
    }
    if (kind[top] !== LEVEL_STRUCT) remaining[top]!--;
    pos = p;
    switch (type) {
      case BinaryType.STRUCT:
        state.pushStruct();
        break;
      case BinaryType.LIST:
      case BinaryType.SET: {
        const element = buf[p]!;
        if (WIDTH[element]! < 0) throw invalidType(element);
        state.pushList(element, buf.readInt32BE(p + 1));
        pos = p + 5;
        break;
      }
      case BinaryType.MAP: {
        const key = buf[p]!;
        const value = buf[p + 1]!;
        if (WIDTH[key]! < 0) throw invalidType(key);
        if (WIDTH[value]! < 0) throw invalidType(value);
        state.pushMap(key, value, buf.readInt32BE(p + 2));
        pos = p + 6;
        break;
      }
    }
    state.checkLimit(pos);
  }
  state.pos = pos;
  return state.depth === 0;
}

function checkNameLength(length: number): number {
  if (length < 0 || length > MAX_NAME_BYTES) {
    throw new MetaCodecError(`thrift: bad method name length ${length} (limit ${MAX_NAME_BYTES})`);
  }
  return length;
}

export function checkMessageType(type: number): MessageType {
  if (type < 1 || type > 4) throw new MetaCodecError(`thrift: invalid message type ${type}`);
  return type as MessageType;
}

function invalidType(type: number): MetaCodecError {
  return new MetaCodecError(`thrift: invalid binary field type ${type}`);
}
