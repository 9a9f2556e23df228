/**
 * Finds where an unframed message ends: the message header, then the body struct walked by the
 * protocol's skipper. One scanner per connection; it remembers how far it got, so a message that
 * arrives in many chunks costs one pass over its bytes, not one per chunk.
 *
 * Resuming relies on MetaCodec.frameLength's contract: after it returns 0, the next call is for
 * the same frame with more bytes after it. As a guard, a saved prefix of the message (its first
 * bytes, seqid included) must match, and the buffer must not have shrunk; otherwise the scan
 * restarts from the beginning.
 */

import { readBinaryMessageHeader, skipBinary } from './binary-protocol.js';
import { readCompactMessageHeader, skipCompact } from './compact-protocol.js';
import type { ThriftProtocol } from './message-header.js';
import { SkipState } from './skip-state.js';

const FINGERPRINT_BYTES = 32;

export class UnframedScanner {
  readonly #state = new SkipState();
  readonly #fingerprint = Buffer.alloc(FINGERPRINT_BYTES);
  #fingerprintLength = 0;
  /** A scan is in progress (the last call returned 0 after reading the message header). */
  #active = false;

  /** The length of the message at the start of `buf`, or 0 if it is not all there yet. */
  frameLength(buf: Buffer, protocol: ThriftProtocol): number {
    const state = this.#state;
    if (!this.#active || !this.#resumes(buf)) {
      const header =
        protocol === 'binary' ? readBinaryMessageHeader(buf, 0, buf.length) : readCompactMessageHeader(buf, 0, buf.length);
      if (header === undefined) return 0;
      state.start(0, header.bodyOffset);
      this.#fingerprintLength = Math.min(FINGERPRINT_BYTES, header.bodyOffset);
      buf.copy(this.#fingerprint, 0, 0, this.#fingerprintLength);
      this.#active = true;
    }
    let done: boolean;
    try {
      done = protocol === 'binary' ? skipBinary(buf, state) : skipCompact(buf, state);
    } catch (err) {
      this.#active = false;
      throw err;
    }
    if (!done) return 0;
    this.#active = false;
    return state.pos;
  }

  #resumes(buf: Buffer): boolean {
    const n = this.#fingerprintLength;
    return buf.length >= this.#state.pos && buf.compare(this.#fingerprint, 0, n, 0, n) === 0;
  }
}
