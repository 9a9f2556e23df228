/**
 * Hessian 2.0 serialization byte codes (http://hessian.caucho.com/doc/hessian-serialization.html,
 * checked against Caucho's Hessian2Input/Hessian2Output 4.0.38 and hessian.js 2.11).
 *
 * Every value starts with one tag byte; the table below is the whole grammar this package reads.
 *
 * ```
 * x00 - x1f   string, 0-31 chars, UTF-8 data follows          (len = tag)
 * x20 - x2f   binary, 0-15 bytes                               (len = tag - x20)
 * x30 - x33   string, 0-1023 chars: tag b0                     (len = (tag - x30) << 8 | b0)
 * x34 - x37   binary, 0-1023 bytes: tag b0                     (len = (tag - x34) << 8 | b0)
 * x38 - x3f   long, 3 octets: tag b1 b0                        (((tag - x3c) << 16) + (b1 << 8) + b0)
 * x40         reserved
 * x41 'A'     binary, non-final chunk: b1 b0 <bytes>, then any binary form
 * x42 'B'     binary, final chunk: b1 b0 <bytes>
 * x43 'C'     class definition: string(type name) int(field count) string*(field names);
 *             not a value by itself: an object instance follows it
 * x44 'D'     double, 64-bit IEEE
 * x45         reserved
 * x46 'F'     boolean false
 * x47         reserved
 * x48 'H'     untyped map: (key value)* 'Z'
 * x49 'I'     int, 32-bit
 * x4a         date, 64-bit milliseconds since the epoch (UTC)
 * x4b         date, 32-bit minutes since the epoch (UTC)
 * x4c 'L'     long, 64-bit
 * x4d 'M'     typed map: type (key value)* 'Z'
 * x4e 'N'     null
 * x4f 'O'     object instance: int(class-def index) value*(one per field)
 * x50         reserved
 * x51 'Q'     reference to an earlier map/list/object: int(index)
 * x52 'R'     string, non-final chunk: b1 b0 <utf8>, then any string form
 * x53 'S'     string, final chunk: b1 b0 <utf8>                (len 0-65535 chars)
 * x54 'T'     boolean true
 * x55 'U'     variable-length typed list: type value* 'Z'
 * x56 'V'     fixed-length typed list: type int(length) value*
 * x57 'W'     variable-length untyped list: value* 'Z'
 * x58 'X'     fixed-length untyped list: int(length) value*
 * x59 'Y'     long stored as 32-bit int
 * x5a 'Z'     list/map terminator
 * x5b         double 0.0
 * x5c         double 1.0
 * x5d         double from a signed byte: b0
 * x5e         double from a signed short: b1 b0
 * x5f         double from a 32-bit int of thousandths ("mills"): value = int * 0.001.
 *             The spec text calls this "float"; both reference implementations use mills.
 * x60 - x6f   object instance of class-def index (tag - x60), fields follow
 * x70 - x77   fixed-length typed list, length (tag - x70): type value*
 * x78 - x7f   fixed-length untyped list, length (tag - x78): value*
 * x80 - xbf   int, 1 octet                                     (tag - x90)
 * xc0 - xcf   int, 2 octets: tag b0                            (((tag - xc8) << 8) + b0)
 * xd0 - xd7   int, 3 octets: tag b1 b0                         (((tag - xd4) << 16) + (b1 << 8) + b0)
 * xd8 - xef   long, 1 octet                                    (tag - xe0)
 * xf0 - xff   long, 2 octets: tag b0                           (((tag - xf8) << 8) + b0)
 * ```
 *
 * Notes that matter when reading Hessian written by other peers:
 * - String lengths count UTF-16 code units, not bytes. Java (and hessian.js) encode each code unit
 *   on its own, so a character outside the BMP is a surrogate pair written as two 3-byte sequences
 *   (CESU-8). Some non-Java encoders write 4-byte UTF-8 instead; a 4-byte sequence counts as two
 *   units. Java's decoder rejects 4-byte sequences, so the writer here always emits CESU-8.
 * - A "type" (lists, typed maps) is a string the first time and afterwards may be an int index
 *   into the type table.
 * - Every list, map and object instance takes the next reference index when it starts (before
 *   its children); 'Q' refers back by that index. Strings, binary, dates and numbers never do.
 * - Class definitions are numbered in the order they appear in the whole stream (a Dubbo body is
 *   one stream), so skipping must record each definition's field count.
 */

export const BC_BINARY_DIRECT = 0x20; // x20-x2f
export const BINARY_DIRECT_MAX = 0x0f;
export const BC_STRING_SHORT = 0x30; // x30-x33
export const BC_BINARY_SHORT = 0x34; // x34-x37
export const BC_LONG_SHORT_ZERO = 0x3c; // x38-x3f
export const BC_BINARY_CHUNK = 0x41; // 'A'
export const BC_BINARY = 0x42; // 'B'
export const BC_CLASS_DEF = 0x43; // 'C'
export const BC_DOUBLE = 0x44; // 'D'
export const BC_FALSE = 0x46; // 'F'
export const BC_MAP_UNTYPED = 0x48; // 'H'
export const BC_INT = 0x49; // 'I'
export const BC_DATE = 0x4a;
export const BC_DATE_MINUTE = 0x4b;
export const BC_LONG = 0x4c; // 'L'
export const BC_MAP = 0x4d; // 'M'
export const BC_NULL = 0x4e; // 'N'
export const BC_OBJECT = 0x4f; // 'O'
export const BC_REF = 0x51; // 'Q'
export const BC_STRING_CHUNK = 0x52; // 'R'
export const BC_STRING = 0x53; // 'S'
export const BC_TRUE = 0x54; // 'T'
export const BC_LIST_VARIABLE = 0x55; // 'U'
export const BC_LIST_FIXED = 0x56; // 'V'
export const BC_LIST_VARIABLE_UNTYPED = 0x57; // 'W'
export const BC_LIST_FIXED_UNTYPED = 0x58; // 'X'
export const BC_LONG_INT = 0x59; // 'Y'
export const BC_END = 0x5a; // 'Z'
export const BC_DOUBLE_ZERO = 0x5b;
export const BC_DOUBLE_ONE = 0x5c;
export const BC_DOUBLE_BYTE = 0x5d;
export const BC_DOUBLE_SHORT = 0x5e;
export const BC_DOUBLE_MILL = 0x5f;
export const BC_OBJECT_DIRECT = 0x60; // x60-x6f
export const OBJECT_DIRECT_MAX = 0x0f;
export const BC_LIST_DIRECT = 0x70; // x70-x77
export const BC_LIST_DIRECT_UNTYPED = 0x78; // x78-x7f
export const LIST_DIRECT_MAX = 0x07;
export const BC_INT_ZERO = 0x90; // x80-xbf
export const BC_INT_BYTE_ZERO = 0xc8; // xc0-xcf
export const BC_INT_SHORT_ZERO = 0xd4; // xd0-xd7
export const BC_LONG_ZERO = 0xe0; // xd8-xef
export const BC_LONG_BYTE_ZERO = 0xf8; // xf0-xff

/** Largest string length in the one-octet form (x00-x1f). */
export const STRING_DIRECT_MAX = 0x1f;
/** Largest string length in the two-octet form (x30-x33). */
export const STRING_SHORT_MAX = 0x3ff;
/** Largest chunk length ('R'/'S' carry a 16-bit length); writers chunk at 0x8000 like Java. */
export const STRING_CHUNK_MAX = 0x8000;

/** Nesting limit for lists, maps and objects; deeper input is refused rather than overflowing the stack. */
export const MAX_DEPTH = 256;
