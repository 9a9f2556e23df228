/**
 * String views of Hessian values, for routing: a scalar value read as its string form, and a map
 * read as Map<string, string> (Dubbo attachments, e.g. `group`, `version`, `timeout`).
 *
 * Conversions: strings as they are; ints and longs in base 10; doubles with JS `String()` (so
 * 1.0 is "1", where Java would print "1.0"); booleans as "true"/"false". Everything else (null,
 * dates, binary, lists, maps, objects, refs) has no string form here: it is skipped, not built.
 */

import {
  BC_END,
  BC_FALSE,
  BC_INT,
  BC_LONG,
  BC_LONG_INT,
  BC_MAP,
  BC_MAP_UNTYPED,
  BC_NULL,
  BC_TRUE,
} from './constants.js';
import { Hessian2Reader } from './reader.js';
import { skipType, skipValue } from './skipper.js';

/**
 * True when `tag` starts a value that readValueAsString converts (or a null): a string, int,
 * long, double or boolean. Such values never define classes or take reference indexes, so they
 * can be read, dropped or replaced without disturbing the rest of the stream.
 */
export function isScalarTag(tag: number): boolean {
  return (
    Hessian2Reader.isStringTag(tag) ||
    tag >= 0x80 || // ints x80-xd7, longs xd8-xff
    (tag >= 0x38 && tag <= 0x3f) ||
    (tag >= 0x5b && tag <= 0x5f) ||
    tag === 0x44 ||
    tag === BC_INT ||
    tag === BC_LONG ||
    tag === BC_LONG_INT ||
    tag === BC_TRUE ||
    tag === BC_FALSE ||
    tag === BC_NULL
  );
}

/**
 * Reads the value at the cursor as a string. Returns the string for a scalar, null for a Hessian
 * null, and undefined for any other value (which is skipped) or after a failure (see `r.error`).
 */
export function readValueAsString(r: Hessian2Reader): string | null | undefined {
  const p = r.pos;
  if (p >= r.end) {
    r.failExpected('a value', p);
    return undefined;
  }
  const tag = r.buf[p]!;
  let text: string | null | undefined;
  if (Hessian2Reader.isStringTag(tag)) {
    text = r.readString();
  } else if (tag === BC_NULL) {
    r.pos = p + 1;
    return null;
  } else if ((tag >= 0x80 && tag <= 0xd7) || tag === BC_INT) {
    text = String(r.readInt());
  } else if (tag === BC_LONG) {
    text = r.readLong().toString();
  } else if (tag >= 0xd8 || (tag >= 0x38 && tag <= 0x3f) || tag === BC_LONG_INT) {
    text = String(r.readCompactLong());
  } else if (tag === 0x44 || (tag >= 0x5b && tag <= 0x5f)) {
    text = String(r.readDouble());
  } else if (tag === BC_TRUE || tag === BC_FALSE) {
    r.pos = p + 1;
    return tag === BC_TRUE ? 'true' : 'false';
  } else {
    skipValue(r);
    return undefined;
  }
  return r.error === null ? text : undefined;
}

/**
 * Reads a map ('H' untyped, 'M' typed) or a null (an empty result) at the cursor into `into`
 * (a new Map by default): entries with a string key and a scalar value, converted as above.
 * Other entries are skipped but keep the reference/class state right. Returns the map, or null
 * on failure (see `r.error`).
 *
 * If `spans` is given, it receives three offsets per entry, in wire order and for every entry
 * (kept or skipped): key start, value start, value end. That lets an encoder copy untouched
 * entries byte for byte.
 */
export function readStringMap(
  r: Hessian2Reader,
  into: Map<string, string> = new Map(),
  spans?: number[],
): Map<string, string> | null {
  const start = r.pos;
  const tag = start < r.end ? r.buf[start]! : -1;
  if (tag === BC_NULL) {
    r.pos = start + 1;
    return into;
  }
  if (tag !== BC_MAP_UNTYPED && tag !== BC_MAP) {
    r.failExpected('a map', start);
    return null;
  }
  r.pos = start + 1;
  r.refCount++;
  if (tag === BC_MAP && !skipType(r)) return null;
  for (;;) {
    if (r.pos >= r.end) {
      r.fail('truncated', 'map without its end (Z)', start);
      return null;
    }
    if (r.buf[r.pos] === BC_END) {
      r.pos++;
      return into;
    }
    const keyStart = r.pos;
    let key: string | null = null;
    if (Hessian2Reader.isStringTag(r.buf[keyStart]!)) key = r.readString();
    else skipValue(r);
    const valueStart = r.pos;
    if (key === null) {
      skipValue(r);
    } else {
      const value = readValueAsString(r);
      if (typeof value === 'string') into.set(key, value);
    }
    if (r.error !== null) return null;
    if (spans !== undefined) spans.push(keyStart, valueStart, r.pos);
  }
}
