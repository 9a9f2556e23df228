/**
 * Apache Thrift wire constants: message types, the two protocols' type ids, THeader's layout and
 * TApplicationException's types, plus the limits the codec enforces. Sources: Thrift's
 * doc/specs (thrift-binary-protocol.md, thrift-compact-protocol.md, HeaderFormat.md) and
 * lib/nodejs/lib/thrift/thrift.js.
 */

/** TMessageType: the type in a message header. */
export const MessageType = {
  CALL: 1,
  REPLY: 2,
  EXCEPTION: 3,
  ONEWAY: 4,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** TType: the binary protocol's type ids (field headers, container element types). */
export const BinaryType = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
  UUID: 16,
} as const;

/** The compact protocol's type ids (a field header's low nibble, container element types). */
export const CompactType = {
  STOP: 0,
  BOOLEAN_TRUE: 1,
  BOOLEAN_FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
  UUID: 13,
} as const;

/** Strict binary message header: i32 `0x8001 0000 | type`, so the first two bytes are 0x80 0x01. */
export const BINARY_VERSION_1 = 0x80010000;
export const BINARY_VERSION_MASK = 0xffff0000;
export const BINARY_FIRST_BYTE = 0x80;
export const BINARY_SECOND_BYTE = 0x01;

/** Compact message header: protocol id byte 0x82, then `(type << 5) | version` with version 1. */
export const COMPACT_PROTOCOL_ID = 0x82;
export const COMPACT_VERSION = 1;
export const COMPACT_VERSION_MASK = 0x1f;
export const COMPACT_TYPE_SHIFT = 5;

/**
 * THeader (HeaderFormat.md). Offsets from the start of the frame:
 *
 *     0      4        6      8       12          14                14 + 4*headerWords
 *     | len  | 0x0FFF | flags | seqid | headerWords | protocol id, transforms, infos, padding | payload |
 *
 * `len` counts every byte after itself. The header area holds varints: the protocol id of the
 * payload (0 binary, 2 compact), the transform count and ids, then info blocks (1: key/values,
 * 2: persistent key/values, each a varint count and varint-length strings); zero bytes pad it to
 * a multiple of 4.
 */
export const HEADER_MAGIC = 0x0fff;
export const HEADER_MAGIC_OFFSET = 4;
export const HEADER_FLAGS_OFFSET = 6;
export const HEADER_SEQID_OFFSET = 8;
export const HEADER_WORDS_OFFSET = 12;
export const HEADER_START = 14;
export const HeaderProtocolId = { BINARY: 0, JSON: 1, COMPACT: 2 } as const;
export const HeaderInfoType = { PADDING: 0, KEY_VALUE: 1, PERSISTENT_KEY_VALUE: 2 } as const;

/** TApplicationException.type (Apache Thrift's list; fbthrift adds 11-13, unused here). */
export const ApplicationExceptionType = {
  UNKNOWN: 0,
  UNKNOWN_METHOD: 1,
  INVALID_MESSAGE_TYPE: 2,
  WRONG_METHOD_NAME: 3,
  BAD_SEQUENCE_ID: 4,
  MISSING_RESULT: 5,
  INTERNAL_ERROR: 6,
  PROTOCOL_ERROR: 7,
  INVALID_TRANSFORM: 8,
  INVALID_PROTOCOL: 9,
  UNSUPPORTED_CLIENT_TYPE: 10,
} as const;
export type ApplicationExceptionType = (typeof ApplicationExceptionType)[keyof typeof ApplicationExceptionType];

/**
 * Largest frame (framed, THeader) or message (unframed) accepted: 16 MiB, Envoy's thrift_proxy
 * limit (npm thrift's framed default is 16,384,000).
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Deepest nesting of structs and containers the skipper walks (the message struct is level 1). */
export const MAX_DEPTH = 64;
/** Longest method name accepted. Names are identifiers; this bounds the wait on garbage. */
export const MAX_NAME_BYTES = 64 * 1024;
