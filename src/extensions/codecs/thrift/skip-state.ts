/**
 * The state of a walk over one message body, kept between calls so that an unframed message
 * arriving in many chunks is scanned once, not from its start on every chunk.
 *
 * The walk is a loop over an explicit stack instead of recursion: each level is the struct or
 * container being skipped, with its element types and how many elements are left. The stack is
 * preallocated typed arrays (MAX_DEPTH levels), so walking allocates nothing. The protocol
 * skippers (binary-protocol.ts, compact-protocol.ts) move `pos` and the stack only after a whole
 * step (a field header with its scalar value, a container header, a string) is in the buffer,
 * so when bytes run out the state is a checkpoint to resume from.
 */

import { MetaCodecError } from '../../../api/meta-protocol-codec.js';
import { MAX_DEPTH, MAX_FRAME_BYTES } from './constants.js';

export const LEVEL_STRUCT = 0;
export const LEVEL_LIST = 1;
export const LEVEL_MAP = 2;

export class SkipState {
  /** Offset of the next byte to read. */
  pos = 0;
  /** Levels on the stack; 0 once the message struct is closed. */
  depth = 0;
  /** Offset the message may not pass (its start + MAX_FRAME_BYTES). */
  limit = 0;
  readonly kind = new Uint8Array(MAX_DEPTH);
  /** Element type of a list or set; key type of a map. */
  readonly elementType = new Uint8Array(MAX_DEPTH);
  /** Value type of a map. */
  readonly valueType = new Uint8Array(MAX_DEPTH);
  /** Elements left: a list's elements, or a map's keys plus values (even: a key is next). */
  readonly remaining = new Int32Array(MAX_DEPTH);

  /** Starts a walk of the struct at `bodyOffset`, for a message that starts at `messageStart`. */
  start(messageStart: number, bodyOffset: number): void {
    this.pos = bodyOffset;
    this.depth = 0;
    this.limit = messageStart + MAX_FRAME_BYTES;
    this.pushStruct();
  }

  pushStruct(): void {
    const level = this.#push();
    this.kind[level] = LEVEL_STRUCT;
  }

  pushList(elementType: number, count: number): void {
    checkCount(count);
    const level = this.#push();
    this.kind[level] = LEVEL_LIST;
    this.elementType[level] = elementType;
    this.remaining[level] = count;
  }

  pushMap(keyType: number, valueType: number, count: number): void {
    checkCount(count);
    const level = this.#push();
    this.kind[level] = LEVEL_MAP;
    this.elementType[level] = keyType;
    this.valueType[level] = valueType;
    this.remaining[level] = count * 2;
  }

  /** Checks that the walk has not gone past the message size limit. */
  checkLimit(pos: number): void {
    if (pos > this.limit) {
      throw new MetaCodecError(`thrift: unframed message is larger than ${MAX_FRAME_BYTES} bytes`);
    }
  }

  #push(): number {
    if (this.depth >= MAX_DEPTH) {
      throw new MetaCodecError(`thrift: structs and containers nested deeper than ${MAX_DEPTH} levels`);
    }
    return this.depth++;
  }
}

/** Every element takes at least one byte, so a count above the size limit cannot be honest. */
function checkCount(count: number): void {
  if (count < 0) throw new MetaCodecError(`thrift: negative container size ${count}`);
  if (count > MAX_FRAME_BYTES) {
    throw new MetaCodecError(`thrift: container size ${count} exceeds the ${MAX_FRAME_BYTES}-byte message limit`);
  }
}
