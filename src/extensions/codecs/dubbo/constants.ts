/**
 * Dubbo (dubbo:// protocol, ExchangeCodec) constants. The frame layout is drawn in decoder.ts.
 */

export const MAGIC = 0xdabb;
export const MAGIC_HIGH = 0xda;
export const MAGIC_LOW = 0xbb;
export const HEADER_SIZE = 16;

/** Flag byte (offset 2) bits. */
export const FLAG_REQUEST = 0x80;
export const FLAG_TWO_WAY = 0x40;
export const FLAG_EVENT = 0x20;
export const SERIALIZATION_MASK = 0x1f;

/** Serialization id of Hessian2 (`Hessian2Serialization.getContentTypeId()`), the only one decoded. */
export const SERIALIZATION_HESSIAN2 = 2;

/** Largest body accepted, as in Envoy (Dubbo's own default payload limit is 8 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Response status byte (offset 3); requests carry 0 there. */
export const ResponseStatus = {
  OK: 20,
  CLIENT_TIMEOUT: 30,
  SERVER_TIMEOUT: 31,
  BAD_REQUEST: 40,
  BAD_RESPONSE: 50,
  SERVICE_NOT_FOUND: 60,
  SERVICE_ERROR: 70,
  SERVER_ERROR: 80,
  CLIENT_ERROR: 90,
  SERVER_THREADPOOL_EXHAUSTED_ERROR: 100,
} as const;
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus];

/** First value (a Hessian int) of an OK response body (`DubboCodec.RESPONSE_*`). */
export const RpcResponseType = {
  EXCEPTION: 0,
  VALUE: 1,
  NULL_VALUE: 2,
  EXCEPTION_WITH_ATTACHMENTS: 3,
  VALUE_WITH_ATTACHMENTS: 4,
  NULL_VALUE_WITH_ATTACHMENTS: 5,
} as const;
export type RpcResponseType = (typeof RpcResponseType)[keyof typeof RpcResponseType];
