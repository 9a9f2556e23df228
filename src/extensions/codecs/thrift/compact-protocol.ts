/**
 * TCompactProtocol: the message header (read and write), the seqid's place, and a skipper that
 * finds the end of a message without building anything.
 *
 *     message:  0x82 | (type << 5) | 1 | varint seqid | varint name length | name | struct
 *     field:    (id delta << 4) | type, or type alone then a zigzag-varint i16 id (delta 0);
 *               a boolean field's value is its type (1 true, 2 false); 0x00 ends the struct
 *     values:   byte 1, double 8 (little-endian), uuid 16; i16/i32/i64 zigzag varints;
 *               binary varint length + bytes; list/set (size << 4) | element type, size 15
 *               meaning a varint size follows; map varint size, then (key << 4) | value type
 *               unless the size is 0; booleans in containers 1 byte each
 *
 * The seqid is a plain (not zigzag) varint of its unsigned 32-bit value, so its width varies:
 * rewriting it may change the message length (see meta-codec.ts setRequestId).
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';
import {
  COMPACT_PROTOCOL_ID,
  COMPACT_TYPE_SHIFT,
  COMPACT_VERSION,
  COMPACT_VERSION_MASK,
  CompactType,
  MAX_FRAME_BYTES,
  MAX_NAME_BYTES,
  type MessageType,
} from './constants.js';
import { checkMessageType } from './binary-protocol.js';
import type { MessageHeader } from './message-header.js';
import { LEVEL_LIST, LEVEL_STRUCT, type SkipState } from './skip-state.js';
import {
  MAX_VARINT32_BYTES,
  MAX_VARINT64_BYTES,
  readVarint32,
  varint32Length,
  varintSize,
  writeVarint32,
  zigzagToInt32,
} from './varint.js';

/** Width of each fixed-size element type; 0 for varints, binary, structs, containers; -1 if not a type. */
const WIDTH = buildWidths();

function buildWidths(): Int8Array {
  const w = new Int8Array(256).fill(-1);
  w[CompactType.BOOLEAN_TRUE] = 1;
  w[CompactType.BOOLEAN_FALSE] = 1;
  w[CompactType.BYTE] = 1;
  w[CompactType.DOUBLE] = 8;
  w[CompactType.UUID] = 16;
  for (const t of [
    CompactType.I16,
    CompactType.I32,
    CompactType.I64,
    CompactType.BINARY,
    CompactType.LIST,
    CompactType.SET,
    CompactType.MAP,
    CompactType.STRUCT,
  ]) {
    w[t] = 0;
  }
  return w;
}

/**
 * Reads the message header at `buf[offset .. end)`: undefined if it does not fit yet. Throws on
 * a bad protocol id or version, an unknown message type or a name longer than MAX_NAME_BYTES.
 */
export function readCompactMessageHeader(buf: Buffer, offset: number, end: number): MessageHeader | undefined {
  if (end - offset < 2) return undefined;
  if (buf[offset] !== COMPACT_PROTOCOL_ID) {
    throw new MetaCodecError(`thrift: bad compact protocol id 0x${buf[offset]!.toString(16).padStart(2, '0')}`);
  }
  const versionAndType = buf[offset + 1]!;
  if ((versionAndType & COMPACT_VERSION_MASK) !== COMPACT_VERSION) {
    throw new MetaCodecError(`thrift: bad compact protocol version ${versionAndType & COMPACT_VERSION_MASK}`);
  }
  const type = checkMessageType(versionAndType >> COMPACT_TYPE_SHIFT);
  let p = offset + 2;
  const seqidSize = varintSize(buf, p, end, MAX_VARINT32_BYTES);
  if (seqidSize === 0) return undefined;
  const seqid = readVarint32(buf, p) | 0;
  p += seqidSize;
  const nameSize = varintSize(buf, p, end, MAX_VARINT32_BYTES);
  if (nameSize === 0) return undefined;
  const nameLength = readVarint32(buf, p);
  if (nameLength > MAX_NAME_BYTES) {
    throw new MetaCodecError(`thrift: bad method name length ${nameLength} (limit ${MAX_NAME_BYTES})`);
  }
  const nameStart = p + nameSize;
  const nameEnd = nameStart + nameLength;
  if (nameEnd > end) return undefined;
  return { type, seqid, nameStart, nameEnd, bodyOffset: nameEnd, strict: true };
}

/** Offset of the seqid varint of the message header at `offset` (always 2 bytes in). */
export function compactSeqidOffset(offset: number): number {
  return offset + 2;
}

export function compactMessageHeaderLength(nameBytes: number, seqid: number): number {
  return 2 + varint32Length(seqid) + varint32Length(nameBytes) + nameBytes;
}

/** Writes a message header (`nameBytes` is the name's UTF-8 length); returns the offset after it. */
export function writeCompactMessageHeader(
  buf: Buffer,
  offset: number,
  name: string,
  nameBytes: number,
  type: MessageType,
  seqid: number,
): number {
  buf[offset] = COMPACT_PROTOCOL_ID;
  buf[offset + 1] = (type << COMPACT_TYPE_SHIFT) | COMPACT_VERSION;
  let p = writeVarint32(buf, offset + 2, seqid);
  p = writeVarint32(buf, p, nameBytes);
  return p + buf.write(name, p, 'utf8');
}

/**
 * Whether the result struct at `bodyOffset` starts with a declared exception (first field id
 * 1 or more); see binaryReplyHasException.
 */
export function compactReplyHasException(buf: Buffer, bodyOffset: number, end: number): boolean {
  if (bodyOffset >= end) throw new MetaCodecError('thrift: reply ends before its result struct');
  const header = buf[bodyOffset]!;
  if (header === CompactType.STOP) return false;
  if (header >> 4 !== 0) return true; // a delta from id 0
  const size = varintSize(buf, bodyOffset + 1, end, MAX_VARINT32_BYTES);
  if (size === 0) throw new MetaCodecError('thrift: reply ends inside its first field header');
  return zigzagToInt32(readVarint32(buf, bodyOffset + 1)) >= 1;
}

/**
 * Walks the message body from `state` over `buf` (which starts at the message). Same contract
 * as skipBinary: true when the body struct is closed (`state.pos` is then the message length),
 * false when more bytes are needed; throws on malformed input.
 */
export function skipCompact(buf: Buffer, state: SkipState): boolean {
  const end = buf.length;
  const { kind, elementType, valueType, remaining } = state;
  let pos = state.pos;
  walk: while (state.depth > 0) {
    const top = state.depth - 1;
    let p = pos;
    let type: number;
    if (kind[top] === LEVEL_STRUCT) {
      if (p >= end) break;
      const header = buf[p]!;
      if (header === CompactType.STOP) {
        pos = p + 1;
        state.depth--;
        continue;
      }
      type = header & 0x0f;
      p++;
      if (header >> 4 === 0) {
        const size = varintSize(buf, p, end, MAX_VARINT32_BYTES);
        if (size === 0) break;
        p += size;
      }
      if (type === CompactType.BOOLEAN_TRUE || type === CompactType.BOOLEAN_FALSE) {
        pos = p; // a boolean field's value is in its header
        continue;
      }
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
    // The value of `type` starts at p. Container headers are parsed into these before the
    // step commits.
    let count = 0;
    let keyOrElement = 0;
    let valueOfMap = 0;
    const width = WIDTH[type]!;
    if (width > 0) {
      p += width;
      if (p > end) break;
    } else {
      switch (type) {
        case CompactType.I16:
        case CompactType.I32: {
          const size = varintSize(buf, p, end, MAX_VARINT32_BYTES);
          if (size === 0) break walk;
          p += size;
          break;
        }
        case CompactType.I64: {
          const size = varintSize(buf, p, end, MAX_VARINT64_BYTES);
          if (size === 0) break walk;
          p += size;
          break;
        }
        case CompactType.BINARY: {
          const size = varintSize(buf, p, end, MAX_VARINT32_BYTES);
          if (size === 0) break walk;
          const length = readVarint32(buf, p);
          if (length > MAX_FRAME_BYTES) throw new MetaCodecError(`thrift: bad binary length ${length}`);
          p += size + length;
          state.checkLimit(p);
          if (p > end) break walk;
          break;
        }
        case CompactType.STRUCT:
          break;
        case CompactType.LIST:
        case CompactType.SET: {
          if (p >= end) break walk;
          const header = buf[p]!;
          keyOrElement = header & 0x0f;
          count = header >> 4;
          p++;
          if (count === 15) {
            const size = varintSize(buf, p, end, MAX_VARINT32_BYTES);
            if (size === 0) break walk;
            count = readVarint32(buf, p);
            p += size;
          }
          if (WIDTH[keyOrElement]! < 0) throw invalidType(keyOrElement);
          break;
        }
        case CompactType.MAP: {
          const size = varintSize(buf, p, end, MAX_VARINT32_BYTES);
          if (size === 0) break walk;
          count = readVarint32(buf, p);
          p += size;
          if (count !== 0) {
            if (p >= end) break walk;
            keyOrElement = buf[p]! >> 4;
            valueOfMap = buf[p]! & 0x0f;
            p++;
            if (WIDTH[keyOrElement]! < 0) throw invalidType(keyOrElement);
            if (WIDTH[valueOfMap]! < 0) throw invalidType(valueOfMap);
          }
          break;
        }
      }
    }
    if (kind[top] !== LEVEL_STRUCT) remaining[top]!--;
    pos = p;
    switch (type) {
      case CompactType.STRUCT:
        state.pushStruct();
        break;
      case CompactType.LIST:
      case CompactType.SET:
        state.pushList(keyOrElement, count);
        break;
      case CompactType.MAP:
        if (count !== 0) state.pushMap(keyOrElement, valueOfMap, count);
        break;
    }
    state.checkLimit(pos);
  }
  state.pos = pos;
  return state.depth === 0;
}

function invalidType(type: number): MetaCodecError {
  return new MetaCodecError(`thrift: invalid compact field type ${type}`);
}
