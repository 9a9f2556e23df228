/**
 * THeader (Thrift's HeaderFormat.md, npm thrift's header_transport.js): a framed transport whose
 * frame starts with a header area of out-of-band string key/values. The layout is drawn in
 * constants.ts. This is the one transport that can carry a mutation: encode() rewrites the
 * key/values. Transforms (zlib, snappy) are refused: the payload could not be read.
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';
import {
  HEADER_FLAGS_OFFSET,
  HEADER_MAGIC,
  HEADER_MAGIC_OFFSET,
  HEADER_SEQID_OFFSET,
  HEADER_START,
  HEADER_WORDS_OFFSET,
  HeaderInfoType,
  HeaderProtocolId,
} from './constants.js';
import type { ThriftProtocol } from './message-header.js';
import { MAX_VARINT32_BYTES, readVarint32, varint32Length, varintSize, writeVarint32 } from './varint.js';

/** The fixed fields of a THeader frame and where its payload (the Thrift message) starts. */
export interface HeaderFrame {
  readonly protocol: ThriftProtocol;
  readonly flags: number;
  /** The header's own seqid (signed); peers usually copy the message's seqid into it. */
  readonly seqid: number;
  /** End of the header area (its varints and padding): where the message starts. */
  readonly payloadOffset: number;
  /** Where the info blocks start in the header area. */
  readonly infoOffset: number;
}

/** One header key/value. `persistent`: from an INFO_PKEYVALUE block (kept for the connection). */
export interface HeaderInfo {
  readonly key: string;
  readonly value: string;
  readonly persistent: boolean;
}

/** Parses the fixed part and the protocol/transform varints of the complete THeader `frame`. */
export function parseHeaderFrame(frame: Buffer): HeaderFrame {
  if (frame.length < HEADER_START) throw new MetaCodecError(`thrift: THeader frame of ${frame.length} bytes is too short`);
  const magic = frame.readUInt16BE(HEADER_MAGIC_OFFSET);
  if (magic !== HEADER_MAGIC) {
    throw new MetaCodecError(`thrift: expected THeader magic 0x0fff, got 0x${magic.toString(16).padStart(4, '0')}`);
  }
  const payloadOffset = HEADER_START + frame.readUInt16BE(HEADER_WORDS_OFFSET) * 4;
  if (payloadOffset > frame.length) {
    throw new MetaCodecError(`thrift: THeader header area ends at ${payloadOffset}, past the frame (${frame.length} bytes)`);
  }
  let p = HEADER_START;
  const protocolSize = varintSize(frame, p, payloadOffset, MAX_VARINT32_BYTES);
  if (protocolSize === 0) throw new MetaCodecError('thrift: THeader header area ends inside its protocol id');
  const protocolId = readVarint32(frame, p);
  p += protocolSize;
  let protocol: ThriftProtocol;
  if (protocolId === HeaderProtocolId.BINARY) protocol = 'binary';
  else if (protocolId === HeaderProtocolId.COMPACT) protocol = 'compact';
  else if (protocolId === HeaderProtocolId.JSON) throw new MetaCodecError('thrift: THeader with the JSON protocol is not supported');
  else throw new MetaCodecError(`thrift: unknown THeader protocol id ${protocolId}`);
  const transformsSize = varintSize(frame, p, payloadOffset, MAX_VARINT32_BYTES);
  if (transformsSize === 0) throw new MetaCodecError('thrift: THeader header area ends inside its transform count');
  const transforms = readVarint32(frame, p);
  if (transforms !== 0) {
    throw new MetaCodecError(`thrift: THeader transforms (zlib, snappy) are not supported (${transforms} in this frame)`);
  }
  return {
    protocol,
    flags: frame.readUInt16BE(HEADER_FLAGS_OFFSET),
    seqid: frame.readInt32BE(HEADER_SEQID_OFFSET),
    payloadOffset,
    infoOffset: p + transformsSize,
  };
}

/**
 * Calls `each` for every key/value of the info blocks, in order. Reading stops at padding or at
 * an info type it does not know, as Thrift's C++ THeaderTransport does.
 */
export function forEachHeaderInfo(
  frame: Buffer,
  header: HeaderFrame,
  each: (key: string, value: string, persistent: boolean) => void,
): void {
  const end = header.payloadOffset;
  let p = header.infoOffset;
  while (p < end) {
    const typeSize = varintSize(frame, p, end, MAX_VARINT32_BYTES);
    if (typeSize === 0) throw truncatedInfo();
    const type = readVarint32(frame, p);
    if (type !== HeaderInfoType.KEY_VALUE && type !== HeaderInfoType.PERSISTENT_KEY_VALUE) return;
    p += typeSize;
    const countSize = varintSize(frame, p, end, MAX_VARINT32_BYTES);
    if (countSize === 0) throw truncatedInfo();
    const count = readVarint32(frame, p);
    p += countSize;
    for (let i = 0; i < count; i++) {
      const keyStart = stringStart(frame, p, end);
      const keyEnd = keyStart + readVarint32(frame, p);
      const valueStart = stringStart(frame, keyEnd, end);
      const valueEnd = valueStart + readVarint32(frame, keyEnd);
      if (valueEnd > end) throw truncatedInfo();
      each(
        frame.toString('utf8', keyStart, keyEnd),
        frame.toString('utf8', valueStart, valueEnd),
        type === HeaderInfoType.PERSISTENT_KEY_VALUE,
      );
      p = valueEnd;
    }
  }
}

/** Every key/value of the frame's info blocks. */
export function readHeaderInfo(frame: Buffer, header: HeaderFrame): HeaderInfo[] {
  const out: HeaderInfo[] = [];
  forEachHeaderInfo(frame, header, (key, value, persistent) => out.push({ key, value, persistent }));
  return out;
}

export interface HeaderFrameFields {
  readonly protocol: ThriftProtocol;
  readonly flags: number;
  readonly seqid: number;
  readonly info: readonly HeaderInfo[];
}

/**
 * Writes a THeader frame around a payload of `payloadLength` bytes: returns the new buffer with
 * the header written and the offset where the caller writes the payload.
 */
export function allocHeaderFrame(fields: HeaderFrameFields, payloadLength: number): { frame: Buffer; payloadOffset: number } {
  const plain = fields.info.filter((i) => !i.persistent);
  const persistent = fields.info.filter((i) => i.persistent);
  let areaLength = 2; // protocol id and transform count: one byte each
  areaLength += infoBlockLength(plain) + infoBlockLength(persistent);
  const padded = (areaLength + 3) & ~3;
  if (padded / 4 > 0xffff) throw new MetaCodecError(`thrift: THeader header area of ${padded} bytes is too large`);
  const payloadOffset = HEADER_START + padded;
  const frame = Buffer.alloc(payloadOffset + payloadLength); // zeroed: the padding
  frame.writeInt32BE(frame.length - 4, 0);
  frame.writeUInt16BE(HEADER_MAGIC, HEADER_MAGIC_OFFSET);
  frame.writeUInt16BE(fields.flags, HEADER_FLAGS_OFFSET);
  frame.writeInt32BE(fields.seqid | 0, HEADER_SEQID_OFFSET);
  frame.writeUInt16BE(padded / 4, HEADER_WORDS_OFFSET);
  let p = HEADER_START;
  frame[p++] = fields.protocol === 'binary' ? HeaderProtocolId.BINARY : HeaderProtocolId.COMPACT;
  frame[p++] = 0; // no transforms
  p = writeInfoBlock(frame, p, HeaderInfoType.KEY_VALUE, plain);
  writeInfoBlock(frame, p, HeaderInfoType.PERSISTENT_KEY_VALUE, persistent);
  return { frame, payloadOffset };
}

/**
 * A copy of the THeader `frame` with `mutation` applied to its key/values: a key already present
 * (compared case-insensitively) gets the new value in place, a new key is appended. Persistent
 * key/values stay as they were unless the mutation names them.
 */
export function rewriteHeaderInfo(frame: Buffer, mutation: ReadonlyMap<string, string>): Buffer {
  const header = parseHeaderFrame(frame);
  const info = readHeaderInfo(frame, header);
  const pending = new Map<string, [string, string]>();
  for (const [key, value] of mutation) pending.set(key.toLowerCase(), [key, value]);
  const merged: HeaderInfo[] = info.map((entry) => {
    const lower = entry.key.toLowerCase();
    const next = pending.get(lower);
    if (next === undefined) return entry;
    pending.delete(lower);
    return { key: entry.key, value: next[1], persistent: entry.persistent };
  });
  for (const [key, value] of pending.values()) merged.push({ key, value, persistent: false });
  const payloadLength = frame.length - header.payloadOffset;
  const out = allocHeaderFrame({ protocol: header.protocol, flags: header.flags, seqid: header.seqid, info: merged }, payloadLength);
  frame.copy(out.frame, out.payloadOffset, header.payloadOffset);
  return out.frame;
}

function infoBlockLength(entries: readonly HeaderInfo[]): number {
  if (entries.length === 0) return 0;
  let n = 1 + varint32Length(entries.length);
  for (const { key, value } of entries) {
    const k = Buffer.byteLength(key, 'utf8');
    const v = Buffer.byteLength(value, 'utf8');
    n += varint32Length(k) + k + varint32Length(v) + v;
  }
  return n;
}

function writeInfoBlock(frame: Buffer, offset: number, type: number, entries: readonly HeaderInfo[]): number {
  if (entries.length === 0) return offset;
  let p = writeVarint32(frame, offset, type);
  p = writeVarint32(frame, p, entries.length);
  for (const { key, value } of entries) {
    p = writeVarint32(frame, p, Buffer.byteLength(key, 'utf8'));
    p += frame.write(key, p, 'utf8');
    p = writeVarint32(frame, p, Buffer.byteLength(value, 'utf8'));
    p += frame.write(value, p, 'utf8');
  }
  return p;
}

/** Checks the varint length prefix at `p` and returns where its string starts. */
function stringStart(frame: Buffer, p: number, end: number): number {
  const size = varintSize(frame, p, end, MAX_VARINT32_BYTES);
  if (size === 0) throw truncatedInfo();
  return p + size;
}

function truncatedInfo(): MetaCodecError {
  return new MetaCodecError('thrift: THeader key/value runs past the header area');
}
