/**
 * The error reply Courier sends in place of an upstream's: an EXCEPTION message with the
 * request's name and seqid whose body is a TApplicationException, in the request's protocol and
 * transport, which every Thrift client raises as an application exception.
 *
 *     struct TApplicationException { 1: string message, 2: i32 type }
 *
 * The frame length of a framed or THeader reply counts every byte after the length itself
 * (MetaProtocol's PR #116 fixed a wrong size here).
 */

import { binaryMessageHeaderLength, writeBinaryMessageHeader } from './binary-protocol.js';
import { compactMessageHeaderLength, writeCompactMessageHeader } from './compact-protocol.js';
import { BinaryType, CompactType, MessageType, type ApplicationExceptionType } from './constants.js';
import { allocHeaderFrame } from './header-transport.js';
import type { ThriftProtocol, ThriftTransport } from './message-header.js';
import { int32ToZigzag, varint32Length, writeVarint32 } from './varint.js';

/** Where and how to answer: taken from the request. */
export interface ReplyTarget {
  readonly transport: ThriftTransport;
  readonly protocol: ThriftProtocol;
  /** Binary only: answer an old-style request with an old-style header. */
  readonly strict: boolean;
  readonly name: string;
  /** The request's seqid, signed, as it was on the wire. */
  readonly seqid: number;
  /** THeader only: the request's header seqid and flags, copied to the reply's header. */
  readonly headerSeqid: number;
  readonly headerFlags: number;
}

export function writeApplicationException(target: ReplyTarget, type: ApplicationExceptionType, message: string): Buffer {
  const nameBytes = Buffer.byteLength(target.name, 'utf8');
  const messageBytes = Buffer.byteLength(message, 'utf8');
  const binary = target.protocol === 'binary';
  const headerLength = binary
    ? binaryMessageHeaderLength(nameBytes, target.strict)
    : compactMessageHeaderLength(nameBytes, target.seqid);
  const bodyLength = binary
    ? 3 + 4 + messageBytes + 3 + 4 + 1
    : 1 + varint32Length(messageBytes) + messageBytes + 1 + varint32Length(int32ToZigzag(type)) + 1;
  const payloadLength = headerLength + bodyLength;

  let out: Buffer;
  let p: number;
  switch (target.transport) {
    case 'unframed':
      out = Buffer.allocUnsafe(payloadLength);
      p = 0;
      break;
    case 'framed':
      out = Buffer.allocUnsafe(4 + payloadLength);
      out.writeInt32BE(payloadLength, 0);
      p = 4;
      break;
    case 'header': {
      const frame = allocHeaderFrame(
        { protocol: target.protocol, flags: target.headerFlags, seqid: target.headerSeqid, info: [] },
        payloadLength,
      );
      out = frame.frame;
      p = frame.payloadOffset;
      break;
    }
  }

  if (binary) {
    p = writeBinaryMessageHeader(out, p, target.name, nameBytes, MessageType.EXCEPTION, target.seqid, target.strict);
    out[p++] = BinaryType.STRING;
    p = out.writeInt16BE(1, p);
    p = out.writeInt32BE(messageBytes, p);
    p += out.write(message, p, 'utf8');
    out[p++] = BinaryType.I32;
    p = out.writeInt16BE(2, p);
    p = out.writeInt32BE(type, p);
    out[p++] = BinaryType.STOP;
  } else {
    p = writeCompactMessageHeader(out, p, target.name, nameBytes, MessageType.EXCEPTION, target.seqid);
    out[p++] = (1 << 4) | CompactType.BINARY; // field 1, delta 1
    p = writeVarint32(out, p, messageBytes);
    p += out.write(message, p, 'utf8');
    out[p++] = (1 << 4) | CompactType.I32; // field 2, delta 1
    p = writeVarint32(out, p, int32ToZigzag(type));
    out[p++] = CompactType.STOP;
  }
  return out;
}
