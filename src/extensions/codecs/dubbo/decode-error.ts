/**
 * A Dubbo decode failure, returned (never thrown) by the decoder and the lazy request accessors.
 * It has `ok: false` so `DubboFrame | DubboDecodeError` narrows on `ok`.
 */

import type { HessianError } from '../hessian2/error.js';
import type { FrameHeader } from './frame-header.js';

export type DubboDecodeErrorCode =
  /** The first two bytes are not 0xdabb: not Dubbo, or the stream lost its framing. */
  | 'bad-magic'
  /** The flag byte names a serialization other than Hessian2 (2). */
  | 'unsupported-serialization'
  /** Body length 0 or negative. */
  | 'bad-body-length'
  /** Body length over the decoder's limit (16 MiB by default). */
  | 'body-too-large'
  /** The body is not the Hessian2 the header promises (see `hessian`), or a field has the wrong shape. */
  | 'bad-body';

export class DubboDecodeError {
  readonly ok = false as const;

  constructor(
    readonly code: DubboDecodeErrorCode,
    readonly message: string,
    /** The frame's header when it could be parsed (e.g. to answer with the same request id). */
    readonly header: FrameHeader | null = null,
    /** The underlying Hessian failure for 'bad-body', with its offset in the body. */
    readonly hessian: HessianError | null = null,
  ) {}

  toString(): string {
    return `dubbo ${this.code}: ${this.message}`;
  }
}
