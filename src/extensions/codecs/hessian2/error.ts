/**
 * Hessian decode failures. Readers never throw these through the caller: the first failure is
 * recorded on the reader (`Hessian2Reader.error`) and every later read returns a neutral value
 * (see reader.ts). Construction only happens on the failure path, so it may allocate.
 */

export type HessianErrorCode =
  /** The value runs past the end of the input (in a complete frame this means a corrupt body). */
  | 'truncated'
  /** A tag byte that is reserved, or not valid where it appears (e.g. an int where a string is required). */
  | 'unexpected-tag'
  /** A UTF-8 lead byte that cannot start a character. */
  | 'bad-utf8'
  /** An object instance refers to a class definition that has not been seen. */
  | 'unknown-class'
  /** A negative or impossible length or count. */
  | 'bad-length'
  /** Lists/maps/objects nested deeper than MAX_DEPTH. */
  | 'too-deep';

export class HessianError {
  constructor(
    readonly code: HessianErrorCode,
    /** Byte offset in the reader's buffer where the failing value (or byte) starts. */
    readonly offset: number,
    readonly message: string,
  ) {}

  toString(): string {
    return `hessian2 ${this.code} at offset ${this.offset}: ${this.message}`;
  }
}
