/**
 * A small Hessian 2.0 writer: enough to re-encode Dubbo attachments and write error/heartbeat
 * bodies. Strings, ints, longs, booleans, null, untyped maps, and raw bytes copied from another
 * buffer (to carry entries through unchanged).
 *
 * Output matches Java's Hessian2Output byte for byte for these values: the most compact int/long
 * form, strings chunked at 0x8000 code units (never ending a chunk on a high surrogate), and
 * CESU-8 for characters outside the BMP (each surrogate as its own 3-byte sequence; Java's
 * Hessian2Input rejects 4-byte UTF-8).
 *
 * The writer owns a growable buffer and is meant to be reused: reset(), write, then copy the
 * result out with toBuffer() (or borrow view() until the next write). It only throws for
 * programmer errors (a non-integer passed as an int).
 */

import {
  BC_END,
  BC_FALSE,
  BC_INT,
  BC_LONG,
  BC_LONG_INT,
  BC_MAP_UNTYPED,
  BC_NULL,
  BC_STRING,
  BC_STRING_CHUNK,
  BC_STRING_SHORT,
  BC_TRUE,
  STRING_CHUNK_MAX,
  STRING_DIRECT_MAX,
  STRING_SHORT_MAX,
} from './constants.js';

export class Hessian2Writer {
  #buf: Buffer;
  #pos = 0;

  constructor(initialSize = 256) {
    this.#buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.#pos;
  }

  reset(): this {
    this.#pos = 0;
    return this;
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  view(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos));
  }

  /** Copies the written bytes into `target` at `offset`; returns the offset after them. */
  copyTo(target: Buffer, offset: number): number {
    return offset + this.#buf.copy(target, offset, 0, this.#pos);
  }

  writeNull(): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = BC_NULL;
    return this;
  }

  writeBoolean(value: boolean): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = value ? BC_TRUE : BC_FALSE;
    return this;
  }

  /** Writes a 32-bit int in its most compact form. */
  writeInt(value: number): this {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      throw new RangeError(`hessian2 writeInt: ${value} is not a 32-bit integer`);
    }
    this.#ensure(5);
    const b = this.#buf;
    let p = this.#pos;
    if (value >= -0x10 && value <= 0x2f) {
      b[p++] = value + 0x90;
    } else if (value >= -0x800 && value <= 0x7ff) {
      b[p++] = 0xc8 + (value >> 8);
      b[p++] = value & 0xff;
    } else if (value >= -0x40000 && value <= 0x3ffff) {
      b[p++] = 0xd4 + (value >> 16);
      b[p++] = (value >> 8) & 0xff;
      b[p++] = value & 0xff;
    } else {
      b[p++] = BC_INT;
      b.writeInt32BE(value, p);
      p += 4;
    }
    this.#pos = p;
    return this;
  }

  /** Writes a 64-bit long in its most compact form. Numbers must be safe integers. */
  writeLong(value: number | bigint): this {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new RangeError(`hessian2 writeLong: ${value} is not a safe integer; pass a bigint`);
    }
    if (typeof value === 'bigint') {
      if (value < -0x8000000000000000n || value > 0x7fffffffffffffffn) {
        throw new RangeError(`hessian2 writeLong: ${value} does not fit 64 bits`);
      }
      if (value < -0x80000000n || value > 0x7fffffffn) {
        this.#ensure(9);
        this.#buf[this.#pos] = BC_LONG;
        this.#buf.writeBigInt64BE(value, this.#pos + 1);
        this.#pos += 9;
        return this;
      }
      value = Number(value);
    }
    this.#ensure(9);
    const b = this.#buf;
    let p = this.#pos;
    if (value >= -8 && value <= 15) {
      b[p++] = 0xe0 + value;
    } else if (value >= -0x800 && value <= 0x7ff) {
      b[p++] = 0xf8 + (value >> 8);
      b[p++] = value & 0xff;
    } else if (value >= -0x40000 && value <= 0x3ffff) {
      b[p++] = 0x3c + (value >> 16);
      b[p++] = (value >> 8) & 0xff;
      b[p++] = value & 0xff;
    } else if (value >= -0x80000000 && value <= 0x7fffffff) {
      b[p++] = BC_LONG_INT;
      b.writeInt32BE(value, p);
      p += 4;
    } else {
      b[p++] = BC_LONG;
      b.writeBigInt64BE(BigInt(value), p);
      p += 8;
    }
    this.#pos = p;
    return this;
  }

  /** Writes a string (null writes 'N'), chunked like Java for more than 0x8000 code units. */
  writeString(value: string | null): this {
    if (value === null) return this.writeNull();
    const length = value.length;
    let offset = 0;
    while (length - offset > STRING_CHUNK_MAX) {
      let chunk = STRING_CHUNK_MAX;
      const tail = value.charCodeAt(offset + chunk - 1);
      if (tail >= 0xd800 && tail <= 0xdbff) chunk--; // a chunk may not end inside a surrogate pair
      this.#ensure(3);
      this.#buf[this.#pos] = BC_STRING_CHUNK;
      this.#buf[this.#pos + 1] = chunk >> 8;
      this.#buf[this.#pos + 2] = chunk & 0xff;
      this.#pos += 3;
      this.#writeUtf8(value, offset, offset + chunk);
      offset += chunk;
    }
    const rest = length - offset;
    this.#ensure(3);
    const b = this.#buf;
    if (rest <= STRING_DIRECT_MAX) {
      b[this.#pos++] = rest;
    } else if (rest <= STRING_SHORT_MAX) {
      b[this.#pos++] = BC_STRING_SHORT + (rest >> 8);
      b[this.#pos++] = rest & 0xff;
    } else {
      b[this.#pos++] = BC_STRING;
      b[this.#pos++] = rest >> 8;
      b[this.#pos++] = rest & 0xff;
    }
    this.#writeUtf8(value, offset, length);
    return this;
  }

  /** Starts an untyped map ('H'); follow with key/value pairs and writeMapEnd(). */
  writeMapStart(): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = BC_MAP_UNTYPED;
    return this;
  }

  /** Ends a map or variable-length list ('Z'). */
  writeMapEnd(): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = BC_END;
    return this;
  }

  /** Writes an untyped map of string keys to string values, in iteration order. */
  writeStringMap(entries: Iterable<readonly [string, string]>): this {
    this.writeMapStart();
    for (const [key, value] of entries) this.writeString(key).writeString(value);
    return this.writeMapEnd();
  }

  /** Copies bytes [start, end) of `source` verbatim (already-encoded Hessian). */
  writeRaw(source: Uint8Array, start = 0, end = source.length): this {
    const n = end - start;
    this.#ensure(n);
    this.#buf.set(source.subarray(start, end), this.#pos);
    this.#pos += n;
    return this;
  }

  /** Encodes code units [from, to) of `s`, each on its own (CESU-8). */
  #writeUtf8(s: string, from: number, to: number): void {
    this.#ensure((to - from) * 3);
    const b = this.#buf;
    let p = this.#pos;
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x80) {
        b[p++] = c;
      } else if (c < 0x800) {
        b[p++] = 0xc0 | (c >> 6);
        b[p++] = 0x80 | (c & 0x3f);
      } else {
        b[p++] = 0xe0 | (c >> 12);
        b[p++] = 0x80 | ((c >> 6) & 0x3f);
        b[p++] = 0x80 | (c & 0x3f);
      }
    }
    this.#pos = p;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(needed, this.#buf.length * 2));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }
}
