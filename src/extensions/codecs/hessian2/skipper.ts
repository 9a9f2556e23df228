/**
 * Skips Hessian 2.0 values without building them: the cursor of a Hessian2Reader moves past one
 * complete value, allocating nothing (no strings, no arrays, no objects). This is how the Dubbo
 * codec reaches the attachments map behind the call arguments.
 *
 * Skipping still keeps the stream state right, because later values depend on it:
 * - each class definition ('C') is recorded in `reader.classFields` (its field count), so a later
 *   object instance ('O' n / x60-x6f) can be skipped field by field;
 * - each list, map and object instance bumps `reader.refCount`, the index a later 'Q' would use.
 *   References are not checked against the count: writers differ on corner cases (e.g. Java's
 *   writeReplace) and the proxy only forwards bytes; the upstream peer is the authority.
 *
 * Failures follow the reader's sticky-error style: the functions return false and leave the
 * error in `reader.error`.
 */

import {
  BC_BINARY,
  BC_BINARY_CHUNK,
  BC_BINARY_DIRECT,
  BC_BINARY_SHORT,
  BC_CLASS_DEF,
  BC_END,
  BC_INT,
  BC_LIST_DIRECT,
  BC_LIST_DIRECT_UNTYPED,
  BC_LIST_FIXED,
  BC_LIST_FIXED_UNTYPED,
  BC_LIST_VARIABLE,
  BC_LIST_VARIABLE_UNTYPED,
  BC_MAP,
  BC_MAP_UNTYPED,
  BC_OBJECT,
  BC_OBJECT_DIRECT,
  BC_REF,
  MAX_DEPTH,
} from './constants.js';
import { Hessian2Reader } from './reader.js';

/**
 * Byte size of every value whose size the tag alone decides (numbers, booleans, null, dates,
 * binary of 0-15 bytes); 0 for tags that need more parsing or are not values.
 */
const FIXED_SIZE = buildFixedSizes();

function buildFixedSizes(): Uint8Array {
  const t = new Uint8Array(256);
  for (let tag = 0x20; tag <= 0x2f; tag++) t[tag] = 1 + tag - BC_BINARY_DIRECT; // short binary
  for (let tag = 0x38; tag <= 0x3f; tag++) t[tag] = 3; // 3-octet long
  t[0x44] = 9; // double
  t[0x46] = 1; // false
  t[0x49] = 5; // int
  t[0x4a] = 9; // date, ms
  t[0x4b] = 5; // date, minutes
  t[0x4c] = 9; // long
  t[0x4e] = 1; // null
  t[0x54] = 1; // true
  t[0x59] = 5; // long as int
  t[0x5b] = 1; // 0.0
  t[0x5c] = 1; // 1.0
  t[0x5d] = 2; // double byte
  t[0x5e] = 3; // double short
  t[0x5f] = 5; // double mills
  for (let tag = 0x80; tag <= 0xbf; tag++) t[tag] = 1; // 1-octet int
  for (let tag = 0xc0; tag <= 0xcf; tag++) t[tag] = 2; // 2-octet int
  for (let tag = 0xd0; tag <= 0xd7; tag++) t[tag] = 3; // 3-octet int
  for (let tag = 0xd8; tag <= 0xef; tag++) t[tag] = 1; // 1-octet long
  for (let tag = 0xf0; tag <= 0xff; tag++) t[tag] = 2; // 2-octet long
  return t;
}

/** Skips one complete value at the cursor (a class definition before an object counts as part of it). */
export function skipValue(r: Hessian2Reader): boolean {
  return skipAt(r, 0);
}

/** Skips a list/map type: a string (new type) or an int (index into the type table). */
export function skipType(r: Hessian2Reader): boolean {
  const p = r.pos;
  if (p >= r.end) return r.failExpected('a type', p);
  const tag = r.buf[p]!;
  if (Hessian2Reader.isStringTag(tag)) return r.skipString();
  if ((tag >= 0x80 && tag <= 0xd7) || tag === BC_INT) {
    r.readInt();
    return r.error === null;
  }
  return r.failExpected('a type (string or int)', p);
}

function skipAt(r: Hessian2Reader, depth: number): boolean {
  for (;;) {
    const buf = r.buf;
    const p = r.pos;
    if (p >= r.end) return r.failExpected('a value', p);
    const tag = buf[p]!;
    const fixed = FIXED_SIZE[tag]!;
    if (fixed !== 0) {
      if (p + fixed > r.end) return r.fail('truncated', `value with tag 0x${tag.toString(16)} runs past the end`, p);
      r.pos = p + fixed;
      return true;
    }
    if (Hessian2Reader.isStringTag(tag)) return r.skipString();
    if (tag === BC_CLASS_DEF) {
      // A definition is followed by the instance (or, rarely, another definition): keep going.
      if (!r.readClassDef()) return false;
      continue;
    }
    if (tag >= BC_OBJECT_DIRECT && tag <= 0x6f) {
      r.pos = p + 1;
      return skipObject(r, tag - BC_OBJECT_DIRECT, p, depth);
    }
    if (tag >= BC_LIST_DIRECT_UNTYPED && tag <= 0x7f) {
      r.pos = p + 1;
      return skipList(r, tag - BC_LIST_DIRECT_UNTYPED, p, depth);
    }
    if (tag >= BC_LIST_DIRECT && tag <= 0x77) {
      r.pos = p + 1;
      if (!skipType(r)) return false;
      return skipList(r, tag - BC_LIST_DIRECT, p, depth);
    }
    switch (tag) {
      case BC_BINARY_CHUNK:
      case BC_BINARY:
      case 0x34:
      case 0x35:
      case 0x36:
      case 0x37:
        return skipBinary(r);
      case BC_OBJECT: {
        r.pos = p + 1;
        const index = r.readInt();
        if (r.error !== null) return false;
        return skipObject(r, index, p, depth);
      }
      case BC_REF:
        r.pos = p + 1;
        r.readInt();
        return r.error === null;
      case BC_MAP_UNTYPED:
        r.pos = p + 1;
        return skipUntilEnd(r, 2, p, depth);
      case BC_MAP:
        r.pos = p + 1;
        if (!skipType(r)) return false;
        return skipUntilEnd(r, 2, p, depth);
      case BC_LIST_VARIABLE:
        r.pos = p + 1;
        if (!skipType(r)) return false;
        return skipUntilEnd(r, 1, p, depth);
      case BC_LIST_VARIABLE_UNTYPED:
        r.pos = p + 1;
        return skipUntilEnd(r, 1, p, depth);
      case BC_LIST_FIXED: {
        r.pos = p + 1;
        if (!skipType(r)) return false;
        const length = r.readInt();
        if (r.error !== null) return false;
        return skipList(r, length, p, depth);
      }
      case BC_LIST_FIXED_UNTYPED: {
        r.pos = p + 1;
        const length = r.readInt();
        if (r.error !== null) return false;
        return skipList(r, length, p, depth);
      }
      default:
        // Reserved tags (x40, x45, x47, x50) and 'Z' outside a list or map.
        return r.fail('unexpected-tag', `tag 0x${tag.toString(16)} cannot start a value`, p);
    }
  }
}

/** Skips `length` values of a fixed-length list whose header (at `start`) is consumed. */
function skipList(r: Hessian2Reader, length: number, start: number, depth: number): boolean {
  if (depth >= MAX_DEPTH) return r.fail('too-deep', `nesting deeper than ${MAX_DEPTH}`, start);
  if (length < 0) return r.fail('bad-length', `list of length ${length}`, start);
  // Every element takes at least one byte; this also bounds the loop on hostile lengths.
  if (length > r.end - r.pos) return r.fail('truncated', `list of length ${length} runs past the end`, start);
  r.refCount++;
  for (let i = 0; i < length; i++) {
    if (!skipAt(r, depth + 1)) return false;
  }
  return true;
}

/** Skips values (in groups of `perEntry`: 1 for lists, 2 for maps) up to and including 'Z'. */
function skipUntilEnd(r: Hessian2Reader, perEntry: number, start: number, depth: number): boolean {
  if (depth >= MAX_DEPTH) return r.fail('too-deep', `nesting deeper than ${MAX_DEPTH}`, start);
  r.refCount++;
  for (;;) {
    if (r.pos >= r.end) return r.fail('truncated', 'list or map without its end (Z)', start);
    if (r.buf[r.pos] === BC_END) {
      r.pos++;
      return true;
    }
    for (let i = 0; i < perEntry; i++) {
      if (!skipAt(r, depth + 1)) return false;
    }
  }
}

function skipObject(r: Hessian2Reader, classIndex: number, start: number, depth: number): boolean {
  if (depth >= MAX_DEPTH) return r.fail('too-deep', `nesting deeper than ${MAX_DEPTH}`, start);
  const fields = r.classFields[classIndex];
  if (fields === undefined) {
    return r.fail('unknown-class', `object of class definition ${classIndex}, ${r.classFields.length} defined`, start);
  }
  r.refCount++;
  for (let i = 0; i < fields; i++) {
    if (!skipAt(r, depth + 1)) return false;
  }
  return true;
}

/** Skips binary data in any form, including 'A' chunks followed by any binary form. */
function skipBinary(r: Hessian2Reader): boolean {
  const buf = r.buf;
  const end = r.end;
  let p = r.pos;
  for (;;) {
    if (p >= end) return r.failExpected('binary data', p);
    const tag = buf[p]!;
    let next: number;
    let final = true;
    if (tag >= BC_BINARY_DIRECT && tag <= 0x2f) {
      next = p + 1 + (tag - BC_BINARY_DIRECT);
    } else if (tag >= BC_BINARY_SHORT && tag <= 0x37) {
      if (p + 2 > end) return r.fail('truncated', 'binary length runs past the end', p);
      next = p + 2 + (((tag - BC_BINARY_SHORT) << 8) | buf[p + 1]!);
    } else if (tag === BC_BINARY || tag === BC_BINARY_CHUNK) {
      if (p + 3 > end) return r.fail('truncated', 'binary chunk length runs past the end', p);
      next = p + 3 + ((buf[p + 1]! << 8) | buf[p + 2]!);
      final = tag === BC_BINARY;
    } else {
      return r.failExpected('binary data', p);
    }
    if (next > end) return r.fail('truncated', 'binary data runs past the end', p);
    p = next;
    if (final) {
      r.pos = p;
      return true;
    }
  }
}
