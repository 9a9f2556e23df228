/**
 * What a proxy needs from a (non-event) Dubbo response: the status, and for OK responses the
 * RpcResponseType, the first value of the body, so business exceptions can be counted.
 *
 * Response body (Hessian2; DubboCodec.encodeResponseData / ExchangeCodec.encodeResponse):
 *   status == OK: int RpcResponseType, then the value or exception unless the type is a null
 *                 type, then the attachments map for types 3..5.
 *   status != OK: string error message.
 */

import { Hessian2Reader } from '../hessian2/reader.js';
import { HEADER_SIZE, ResponseStatus, RpcResponseType } from './constants.js';
import { DubboDecodeError } from './decode-error.js';
import type { FrameHeader } from './frame-header.js';
import type { FrameBytes } from './request-info.js';

const scratch = new Hessian2Reader();

export class ResponseInfo {
  readonly status: number;
  /** RpcResponseType (0..5) of an OK response; null when the status is not OK. */
  readonly responseType: RpcResponseType | null;
  readonly #frame: FrameBytes;
  readonly #bodyLength: number;

  private constructor(frame: FrameBytes, header: FrameHeader, responseType: RpcResponseType | null) {
    this.#frame = frame;
    this.#bodyLength = header.bodyLength;
    this.status = header.status;
    this.responseType = responseType;
  }

  /**
   * Reads the response type of an OK response. A body that does not start with an int in 0..5
   * is a 'bad-body' error (Envoy counts it as response_decoding_error). Non-OK bodies are not
   * read here (see errorMessage).
   */
  static parse(frame: FrameBytes, header: FrameHeader): ResponseInfo | DubboDecodeError {
    if (header.status !== ResponseStatus.OK) return new ResponseInfo(frame, header, null);
    const r = scratch.reset(frame.bytes, HEADER_SIZE, HEADER_SIZE + header.bodyLength);
    const type = r.readInt();
    r.release();
    if (r.error !== null) {
      return new DubboDecodeError('bad-body', `response type: ${r.error.toString()}`, header, r.error);
    }
    if (type < RpcResponseType.EXCEPTION || type > RpcResponseType.NULL_VALUE_WITH_ATTACHMENTS) {
      return new DubboDecodeError('bad-body', `unknown response type ${type}`, header);
    }
    return new ResponseInfo(frame, header, type as RpcResponseType);
  }

  /** Status is OK (20); the call may still have thrown (see isBusinessException). */
  get isOk(): boolean {
    return this.status === ResponseStatus.OK;
  }

  /** An OK response carrying an exception thrown by the service (types 0 and 3). */
  get isBusinessException(): boolean {
    return (
      this.responseType === RpcResponseType.EXCEPTION ||
      this.responseType === RpcResponseType.EXCEPTION_WITH_ATTACHMENTS
    );
  }

  /** An OK response whose body ends with an attachments map (types 3..5). */
  get hasAttachments(): boolean {
    return this.responseType !== null && this.responseType >= RpcResponseType.EXCEPTION_WITH_ATTACHMENTS;
  }

  /**
   * The error message of a non-OK response, read on call. Null for OK responses, and when the
   * body is not a Hessian string (malformed, or a null message).
   */
  errorMessage(): string | null {
    if (this.responseType !== null) return null;
    const r = scratch.reset(this.#frame.bytes, HEADER_SIZE, HEADER_SIZE + this.#bodyLength);
    const message = r.readString();
    r.release();
    return r.error === null ? message : null;
  }
}
