/**
 * A Hessian 2.0 reader over one complete, in-memory byte range (a Dubbo body). It reads the
 * scalar values a proxy needs (strings in every form, ints, longs, doubles, booleans, dates,
 * null) and holds the stream state that later values depend on: the class-definition table and
 * the reference count. Skipping lists/maps/objects lives in skipper.ts, reading values as strings
 * and attachment maps in string-map.ts; both work on this reader's public cursor.
 *
 * Error style: nothing here throws for bad input. The first failure is stored in `error` (a
 * HessianError), the cursor jumps to `end`, and that read and every later one returns a neutral
 * value ('' / 0 / 0n / false) without touching the input. Callers do a run of reads and check
 * `ok` (or `error`) once at the end, like a sticky stream error. There is no "need more data":
 * the codec only parses complete frames, so running out of bytes is `truncated`, a corrupt body.
 *
 * The reader keeps `buf` by reference (no copy) and never allocates on the read paths except
 * for the strings it returns: short ASCII strings come from a small intern cache when they repeat
 * (the usual case for versions, interfaces, methods and attachment keys), other ASCII strings are
 * made straight from the bytes, non-ASCII goes through Node's UTF-8 decoder, or a small CESU-8
 * decoder when the string carries surrogates. A reader is cheap to keep and reuse (reset()); one
 * that outlives its input should release() it.
 */

import {
  BC_CLASS_DEF,
  BC_DATE,
  BC_DATE_MINUTE,
  BC_DOUBLE,
  BC_DOUBLE_BYTE,
  BC_DOUBLE_MILL,
  BC_DOUBLE_ONE,
  BC_DOUBLE_SHORT,
  BC_DOUBLE_ZERO,
  BC_FALSE,
  BC_INT,
  BC_INT_BYTE_ZERO,
  BC_INT_SHORT_ZERO,
  BC_INT_ZERO,
  BC_LONG,
  BC_LONG_BYTE_ZERO,
  BC_LONG_INT,
  BC_LONG_SHORT_ZERO,
  BC_LONG_ZERO,
  BC_NULL,
  BC_STRING,
  BC_STRING_CHUNK,
  BC_STRING_SHORT,
  BC_TRUE,
} from './constants.js';
import { HessianError, type HessianErrorCode } from './error.js';

const EMPTY = Buffer.alloc(0);
const TRUNCATED = -1;
const BAD_UTF8 = -2;

export class Hessian2Reader {
  /** The input. Held by reference; the caller must not change bytes in [start, end) while reading. */
  buf: Buffer = EMPTY;
  /** Offset of the next tag byte. The skipper and string-map helpers move it directly. */
  pos = 0;
  /** Exclusive end of the readable range. */
  end = 0;
  /** First failure, or null. Sticky until reset(). */
  error: HessianError | null = null;
  /** Lists, maps and objects started so far: the index the next one takes, for 'Q' references. */
  refCount = 0;
  /** Field count of each class definition ('C'), by definition index. */
  readonly classFields: number[] = [];

  constructor(buf?: Buffer, start?: number, end?: number) {
    if (buf !== undefined) this.reset(buf, start, end);
  }

  /** Points the reader at [start, end) of `buf` and clears the error, refs and class table. */
  reset(buf: Buffer, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = Math.min(end, buf.length);
    this.error = null;
    this.refCount = 0;
    if (this.classFields.length !== 0) this.classFields.length = 0;
    return this;
  }

  /**
   * Drops the reference to the input so a long-lived (or shared) reader does not keep a read
   * chunk alive. Cursor, error and stream state stay; assign `buf` again before the next read.
   */
  release(): void {
    this.buf = EMPTY;
  }

  get ok(): boolean {
    return this.error === null;
  }

  /** True when every byte of the range has been consumed. */
  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** The next tag byte without consuming it, or -1 at the end. */
  peek(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  /**
   * Records the first failure and moves the cursor to the end. Returns false so callers can
   * `return r.fail(...)`.
   */
  fail(code: HessianErrorCode, message: string, offset = this.pos): false {
    if (this.error === null) this.error = new HessianError(code, offset, message);
    this.pos = this.end;
    return false;
  }

  /** Fails as truncated or as an unexpected tag, depending on whether a tag was there at all. */
  failExpected(what: string, offset = this.pos): false {
    if (offset >= this.end) return this.fail('truncated', `expected ${what}, found end of input`, offset);
    const tag = this.buf[offset]!;
    return this.fail('unexpected-tag', `expected ${what}, found tag 0x${tag.toString(16)}`, offset);
  }

  /**
   * Reads a string in any form (x00-x1f, x30-x33, 'S', 'R' chunks ending in any form) or null
   * ('N', returned as null). Returns '' after a failure.
   */
  readString(): string | null {
    if (this.pos < this.end && this.buf[this.pos] === BC_NULL) {
      this.pos++;
      return null;
    }
    return this.#walkString(true);
  }

  /** Skips one string (not null). Returns false on failure. Allocates nothing. */
  skipString(): boolean {
    this.#walkString(false);
    return this.error === null;
  }

  /** True when `tag` starts a string (any form, including a non-final chunk). */
  static isStringTag(tag: number): boolean {
    return tag <= 0x1f || (tag >= BC_STRING_SHORT && tag <= 0x33) || tag === BC_STRING || tag === BC_STRING_CHUNK;
  }

  #walkString(decode: boolean): string {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    let result = '';
    for (;;) {
      if (p >= end) {
        this.failExpected('a string', p);
        return '';
      }
      const tag = buf[p]!;
      let units: number;
      let final = true;
      if (tag <= 0x1f) {
        units = tag;
        p += 1;
      } else if (tag >= BC_STRING_SHORT && tag <= 0x33) {
        if (p + 2 > end) return this.#truncated('a string length', p);
        units = ((tag - BC_STRING_SHORT) << 8) | buf[p + 1]!;
        p += 2;
      } else if (tag === BC_STRING || tag === BC_STRING_CHUNK) {
        if (p + 3 > end) return this.#truncated('a string chunk length', p);
        units = (buf[p + 1]! << 8) | buf[p + 2]!;
        p += 3;
        final = tag === BC_STRING;
      } else {
        this.failExpected('a string', p);
        return '';
      }
      const stop = scanUtf8(buf, p, end, units);
      if (stop < 0) {
        if (stop === TRUNCATED) return this.#truncated(`${units} string characters`, p);
        this.fail('bad-utf8', 'invalid UTF-8 in a string', p);
        return '';
      }
      if (decode && stop > p) {
        const part = decodeUtf8(buf, p, stop, units);
        result = result.length === 0 ? part : result + part;
      }
      p = stop;
      if (final) break;
    }
    this.pos = p;
    return result;
  }

  /** Reads an int in any int form (x80-xbf, xc0-xcf, xd0-xd7, 'I'). Returns 0 after a failure. */
  readInt(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p >= this.end) return this.#failNumber('an int', p);
    const tag = buf[p]!;
    if (tag >= 0x80 && tag <= 0xbf) {
      this.pos = p + 1;
      return tag - BC_INT_ZERO;
    }
    if (tag >= 0xc0 && tag <= 0xcf) {
      if (p + 2 > this.end) return this.#truncatedNumber('an int', p);
      this.pos = p + 2;
      return ((tag - BC_INT_BYTE_ZERO) << 8) + buf[p + 1]!;
    }
    if (tag >= 0xd0 && tag <= 0xd7) {
      if (p + 3 > this.end) return this.#truncatedNumber('an int', p);
      this.pos = p + 3;
      return ((tag - BC_INT_SHORT_ZERO) << 16) + (buf[p + 1]! << 8) + buf[p + 2]!;
    }
    if (tag === BC_INT) {
      if (p + 5 > this.end) return this.#truncatedNumber('an int', p);
      this.pos = p + 5;
      return buf.readInt32BE(p + 1);
    }
    return this.#failNumber('an int', p);
  }

  /**
   * Reads a long in any long form (xd8-xef, xf0-xff, x38-x3f, 'Y', 'L') as an exact bigint.
   * Returns 0n after a failure.
   */
  readLong(): bigint {
    const p = this.pos;
    if (p < this.end && this.buf[p] === BC_LONG) {
      if (p + 9 > this.end) return this.#truncatedBig('a long', p);
      this.pos = p + 9;
      return this.buf.readBigInt64BE(p + 1);
    }
    return BigInt(this.readCompactLong());
  }

  /**
   * Reads a long in any form that fits a JS number exactly: every compact form and 'Y', plus
   * 'L' values within ±2^53. Other 'L' values fail as 'bad-length'. Returns 0 after a failure.
   */
  readCompactLong(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p >= this.end) return this.#failNumber('a long', p);
    const tag = buf[p]!;
    if (tag >= 0xd8 && tag <= 0xef) {
      this.pos = p + 1;
      return tag - BC_LONG_ZERO;
    }
    if (tag >= 0xf0) {
      if (p + 2 > this.end) return this.#truncatedNumber('a long', p);
      this.pos = p + 2;
      return ((tag - BC_LONG_BYTE_ZERO) << 8) + buf[p + 1]!;
    }
    if (tag >= 0x38 && tag <= 0x3f) {
      if (p + 3 > this.end) return this.#truncatedNumber('a long', p);
      this.pos = p + 3;
      return ((tag - BC_LONG_SHORT_ZERO) << 16) + (buf[p + 1]! << 8) + buf[p + 2]!;
    }
    if (tag === BC_LONG_INT) {
      if (p + 5 > this.end) return this.#truncatedNumber('a long', p);
      this.pos = p + 5;
      return buf.readInt32BE(p + 1);
    }
    if (tag === BC_LONG) {
      if (p + 9 > this.end) return this.#truncatedNumber('a long', p);
      const value = buf.readInt32BE(p + 1) * 4294967296 + buf.readUInt32BE(p + 5);
      if (!Number.isSafeInteger(value)) {
        this.fail('bad-length', 'long does not fit a JS number exactly; use readLong()', p);
        return 0;
      }
      this.pos = p + 9;
      return value;
    }
    return this.#failNumber('a long', p);
  }

  /** Reads a double in any form ('D', x5b-x5f). Returns 0 after a failure. */
  readDouble(): number {
    const buf = this.buf;
    const p = this.pos;
    if (p >= this.end) return this.#failNumber('a double', p);
    switch (buf[p]!) {
      case BC_DOUBLE_ZERO:
        this.pos = p + 1;
        return 0;
      case BC_DOUBLE_ONE:
        this.pos = p + 1;
        return 1;
      case BC_DOUBLE_BYTE:
        if (p + 2 > this.end) break;
        this.pos = p + 2;
        return buf.readInt8(p + 1);
      case BC_DOUBLE_SHORT:
        if (p + 3 > this.end) break;
        this.pos = p + 3;
        return buf.readInt16BE(p + 1);
      case BC_DOUBLE_MILL:
        if (p + 5 > this.end) break;
        this.pos = p + 5;
        return buf.readInt32BE(p + 1) * 0.001;
      case BC_DOUBLE:
        if (p + 9 > this.end) break;
        this.pos = p + 9;
        return buf.readDoubleBE(p + 1);
      default:
        return this.#failNumber('a double', p);
    }
    return this.#truncatedNumber('a double', p);
  }

  /** Reads 'T' or 'F'. Returns false after a failure. */
  readBoolean(): boolean {
    const p = this.pos;
    const tag = p < this.end ? this.buf[p]! : -1;
    if (tag === BC_TRUE || tag === BC_FALSE) {
      this.pos = p + 1;
      return tag === BC_TRUE;
    }
    this.failExpected('a boolean', p);
    return false;
  }

  /** Reads a date (x4a milliseconds, x4b minutes) as milliseconds since the epoch. 0 after a failure. */
  readDate(): number {
    const buf = this.buf;
    const p = this.pos;
    const tag = p < this.end ? buf[p]! : -1;
    if (tag === BC_DATE) {
      if (p + 9 > this.end) return this.#truncatedNumber('a date', p);
      this.pos = p + 9;
      return buf.readInt32BE(p + 1) * 4294967296 + buf.readUInt32BE(p + 5);
    }
    if (tag === BC_DATE_MINUTE) {
      if (p + 5 > this.end) return this.#truncatedNumber('a date', p);
      this.pos = p + 5;
      return buf.readInt32BE(p + 1) * 60000;
    }
    this.failExpected('a date', p);
    return 0;
  }

  /** Consumes a null ('N') if it is next. Never fails. */
  readNull(): boolean {
    if (this.pos < this.end && this.buf[this.pos] === BC_NULL) {
      this.pos++;
      return true;
    }
    return false;
  }

  /**
   * Reads a class definition ('C' type-name field-count field-name*) at the cursor and appends
   * its field count to `classFields`. Names are skipped, not built. Returns false on failure.
   */
  readClassDef(): boolean {
    const start = this.pos;
    if (start >= this.end || this.buf[start] !== BC_CLASS_DEF) return this.failExpected('a class definition', start);
    this.pos = start + 1;
    if (!this.skipString()) return false;
    const countAt = this.pos;
    const count = this.readInt();
    if (this.error !== null) return false;
    if (count < 0) return this.fail('bad-length', `class definition with ${count} fields`, countAt);
    // Each field name takes at least one byte, which also bounds the loop on hostile input.
    if (count > this.end - this.pos) {
      return this.fail('truncated', `class definition with ${count} fields runs past the end`, countAt);
    }
    for (let i = 0; i < count; i++) {
      if (!this.skipString()) return false;
    }
    this.classFields.push(count);
    return true;
  }

  #truncated(what: string, offset: number): string {
    this.fail('truncated', `${what} runs past the end of input`, offset);
    return '';
  }

  #truncatedNumber(what: string, offset: number): number {
    this.fail('truncated', `${what} runs past the end of input`, offset);
    return 0;
  }

  #truncatedBig(what: string, offset: number): bigint {
    this.fail('truncated', `${what} runs past the end of input`, offset);
    return 0n;
  }

  #failNumber(what: string, offset: number): number {
    this.failExpected(what, offset);
    return 0;
  }
}

/**
 * Set by scanUtf8: whether the range it scanned holds a surrogate encoded on its own (CESU-8's
 * ED A0-BF xx), which Node's UTF-8 decoder would replace. Read right after the call.
 */
let scannedSurrogate = false;

/**
 * Returns the offset just past `units` UTF-16 code units of UTF-8/CESU-8 starting at `p`, or
 * TRUNCATED / BAD_UTF8, and sets `scannedSurrogate`. Only lead bytes are inspected (as Java's
 * Hessian2Input does), plus the byte after an ED lead; a 4-byte sequence counts as two units.
 * The cost is the string's own bytes, never more (the surrogate check used to search from the
 * string to the end of the frame, quadratic over a body of many non-ASCII strings).
 */
function scanUtf8(buf: Buffer, p: number, end: number, units: number): number {
  scannedSurrogate = false;
  let remaining = units;
  while (remaining > 0) {
    if (p >= end) return TRUNCATED;
    const b = buf[p]!;
    if (b < 0x80) {
      p += 1;
      remaining -= 1;
    } else if (b < 0xc0) {
      return BAD_UTF8;
    } else if (b < 0xe0) {
      p += 2;
      remaining -= 1;
    } else if (b < 0xf0) {
      if (b === 0xed && p + 1 < end && buf[p + 1]! >= 0xa0) scannedSurrogate = true;
      p += 3;
      remaining -= 1;
    } else if (b < 0xf8) {
      p += 4;
      remaining -= 2;
    } else {
      return BAD_UTF8;
    }
  }
  if (p > end) return TRUNCATED;
  if (remaining < 0) return BAD_UTF8; // a 4-byte character split across the declared length
  return p;
}

/**
 * Short ASCII strings repeat endlessly in RPC traffic (versions, interface and method names,
 * descriptors, attachment keys and common values). A direct-mapped cache of recent ones lets a
 * repeat cost a hash and a compare instead of a new string: no allocation, no GC. A miss (or a
 * collision) just replaces the slot. Strings are immutable, so sharing them is safe.
 */
const INTERN_MAX_BYTES = 64;
const INTERN_SLOTS = 1024; // power of two
const internCache: string[] = new Array<string>(INTERN_SLOTS).fill('');

function internAscii(buf: Buffer, start: number, stop: number): string {
  const length = stop - start;
  let h = length;
  for (let i = start; i < stop; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  const slot = (h ^ (h >>> 15)) & (INTERN_SLOTS - 1);
  const cached = internCache[slot]!;
  if (cached.length === length) {
    let i = 0;
    while (i < length && cached.charCodeAt(i) === buf[start + i]) i++;
    if (i === length) return cached;
  }
  const fresh = buf.toString('latin1', start, stop);
  internCache[slot] = fresh;
  return fresh;
}

/** Decodes [start, stop), which the scanUtf8 call just before found to hold `units` code units. */
function decodeUtf8(buf: Buffer, start: number, stop: number, units: number): string {
  if (stop - start === units) {
    // All ASCII.
    return units <= INTERN_MAX_BYTES ? internAscii(buf, start, stop) : buf.toString('latin1', start, stop);
  }
  if (!scannedSurrogate) return buf.toString('utf8', start, stop);
  return decodeCesu8(buf, start, stop, units);
}

let scratch = new Uint16Array(256);

/** Decodes CESU-8 (and plain UTF-8) code unit by code unit. Rare path: strings with non-BMP characters from Java. */
function decodeCesu8(buf: Buffer, start: number, stop: number, units: number): string {
  if (scratch.length < units) scratch = new Uint16Array(Math.max(units, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let p = start;
  while (p < stop) {
    const b = buf[p]!;
    if (b < 0x80) {
      out[n++] = b;
      p += 1;
    } else if (b < 0xe0) {
      out[n++] = ((b & 0x1f) << 6) | (buf[p + 1]! & 0x3f);
      p += 2;
    } else if (b < 0xf0) {
      out[n++] = ((b & 0x0f) << 12) | ((buf[p + 1]! & 0x3f) << 6) | (buf[p + 2]! & 0x3f);
      p += 3;
    } else {
      const cp =
        (((b & 0x07) << 18) | ((buf[p + 1]! & 0x3f) << 12) | ((buf[p + 2]! & 0x3f) << 6) | (buf[p + 3]! & 0x3f)) -
        0x10000;
      out[n++] = 0xd800 + (cp >> 10);
      out[n++] = 0xdc00 + (cp & 0x3ff);
      p += 4;
    }
  }
  let s = '';
  for (let i = 0; i < n; i += 4096) {
    s += String.fromCharCode.apply(null, out.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  }
  return s;
}
