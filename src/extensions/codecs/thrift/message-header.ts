/**
 * What both protocols' message-header readers return, and the names of the wire formats.
 */

import type { MessageType } from './constants.js';

/** How messages are delimited on the connection. */
export type ThriftTransport = 'framed' | 'unframed' | 'header';
/** How a message is serialized. */
export type ThriftProtocol = 'binary' | 'compact';

/**
 * A parsed message header (the message begin: type, name, seqid). Offsets are absolute in the
 * buffer the header was read from.
 */
export interface MessageHeader {
  readonly type: MessageType;
  /** The seqid as written: a signed 32-bit integer. */
  readonly seqid: number;
  readonly nameStart: number;
  readonly nameEnd: number;
  /** Where the body (the arguments or result struct) starts. */
  readonly bodyOffset: number;
  /**
   * Binary only: false for the old header that starts with the name's length (TBinaryProtocol
   * with strictWrite off). Compact headers are always strict.
   */
  readonly strict: boolean;
}

/** The TMessageType names, for error messages. */
export function messageTypeName(type: number): string {
  switch (type) {
    case 1:
      return 'CALL';
    case 2:
      return 'REPLY';
    case 3:
      return 'EXCEPTION';
    case 4:
      return 'ONEWAY';
    default:
      return `type ${type}`;
  }
}
