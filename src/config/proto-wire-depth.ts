/**
 * How deep protobuf bytes nest, found before protobufjs decodes them. MAIN process.
 *
 * protobufjs decodes a message recursively (one generated function per type calling the next),
 * so bytes nesting messages thousands deep overflow the stack. This scan walks the wire format
 * with an explicit stack and the descriptors: a length-delimited field whose type is a message
 * (a map entry, an Any's value of the type its type_url names) is entered, anything else
 * skipped. Malformed bytes end the scan quietly: the decoder then reports them in its words.
 *
 * The scan runs on every resource received, so it allocates nothing per field: the frame
 * stack is a few parallel arrays and what a field holds is cached per descriptor. Only when
 * the limit is crossed does a second scan track the field path (with list indices) to name.
 */
import protobuf from 'protobufjs';
import { fieldPath, indexPath } from './config-error.js';
import { MAX_PROTO_MESSAGE_DEPTH } from './input-limits.js';
import { lookupTypeUrl } from './proto-registry.js';

const enum Kind {
  Message,
  MapEntry,
  Any,
  /** A group, or a message of unknown type: counted, not looked into. */
  Opaque,
}

/** What a length-delimited field holds when that is a message. */
interface Child {
  readonly kind: Kind.Message | Kind.MapEntry;
  /** The message (for a map entry: the value's message type, if any). */
  readonly type: protobuf.Type | undefined;
  readonly name: string;
  readonly repeated: boolean;
}

const NO_CHILD = null;
/** Per descriptor, by field number: what the field holds (null: no message), filled lazily. */
type ChildTable = Array<Child | null | undefined>;
const childTables = new WeakMap<protobuf.Type, ChildTable>();

function childTableOf(type: protobuf.Type): ChildTable {
  let table = childTables.get(type);
  if (!table) childTables.set(type, (table = []));
  return table;
}

function childOf(type: protobuf.Type, table: ChildTable, fieldNo: number): Child | null {
  const cached = table[fieldNo];
  if (cached !== undefined) return cached;
  let child: Child | null = NO_CHILD;
  const field = type.fieldsById[fieldNo];
  if (field) {
    field.resolve();
    const rt = field.resolvedType;
    const message = rt instanceof protobuf.Type ? rt : undefined;
    if (field.map) child = { kind: Kind.MapEntry, type: message, name: field.name, repeated: false };
    else if (message) child = { kind: Kind.Message, type: message, name: field.name, repeated: field.repeated };
  }
  // Field numbers are small in Envoy's protos; a huge unknown one is just not cached.
  if (fieldNo < 1 << 16) table[fieldNo] = child;
  return child;
}

/** The path (from `basePath`) of the first message nested deeper than `limit`, or undefined. */
export function findTooDeepProto(type: protobuf.Type, bytes: Uint8Array, basePath = '', limit = MAX_PROTO_MESSAGE_DEPTH): string | undefined {
  return scan(type, bytes, limit, false) ? pathOfTooDeep(type, bytes, basePath, limit) : undefined;
}

interface PathTracker {
  /** Per open frame: its path segment and how many of each repeated field it has seen. */
  segments: string[];
  counts: Array<Map<number, number> | undefined>;
  found?: string;
}

/** True when the bytes nest deeper than `limit` (with `tracker`, records the path there). */
function scan(root: protobuf.Type, bytes: Uint8Array, limit: number, tracking: false): boolean;
function scan(root: protobuf.Type, bytes: Uint8Array, limit: number, tracking: PathTracker): boolean;
function scan(root: protobuf.Type, bytes: Uint8Array, limit: number, tracking: PathTracker | false): boolean {
  const ends: number[] = [bytes.length];
  const kinds: Kind[] = [Kind.Message];
  /** Per frame: its message type; for a map entry or an Any, the type of its field 2. */
  const types: Array<protobuf.Type | undefined> = [root];
  const groups: boolean[] = [false];
  const tables: Array<ChildTable | undefined> = [childTableOf(root)];
  let pos = 0;
  let value = 0;
  /** Reads a varint at `pos` into `value`; false when malformed. */
  const varint = (end: number): boolean => {
    if (pos < end && bytes[pos]! < 0x80) {
      value = bytes[pos++]!;
      return true;
    }
    value = 0;
    for (let shift = 0; shift < 70 && pos < end; shift += 7) {
      const b = bytes[pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return true;
    }
    return false;
  };
  const push = (kind: Kind, type: protobuf.Type | undefined, end: number, group: boolean, segment: string): boolean => {
    if (ends.length >= limit) {
      if (tracking) tracking.found = [...tracking.segments, segment].join('');
      return false;
    }
    ends.push(end);
    kinds.push(kind);
    types.push(type);
    groups.push(group);
    tables.push(type && kind === Kind.Message ? childTableOf(type) : undefined);
    if (tracking) {
      tracking.segments.push(segment);
      tracking.counts.push(undefined);
    }
    return true;
  };
  const pop = (): void => {
    ends.pop();
    kinds.pop();
    types.pop();
    groups.pop();
    tables.pop();
    if (tracking) {
      tracking.segments.pop();
      tracking.counts.pop();
    }
  };
  while (ends.length > 0) {
    const top = ends.length - 1;
    const end = ends[top]!;
    if (pos >= end && !groups[top]) {
      pop();
      continue;
    }
    if (!varint(end)) return false;
    const fieldNo = Math.floor(value / 8);
    switch (value % 8) {
      case 0:
        if (!varint(end)) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        if (!varint(end) || pos + value > end) return false;
        const childEnd = pos + value;
        const kind = kinds[top]!;
        const type = types[top];
        let child: Child | null = NO_CHILD;
        /** The declared message type of the field's value. */
        let declared: protobuf.Type | undefined;
        let childKind = Kind.Message;
        if (kind === Kind.Message && type) {
          child = childOf(type, tables[top]!, fieldNo);
          if (child?.kind === Kind.MapEntry) childKind = Kind.MapEntry;
          declared = child?.type;
        } else if ((kind === Kind.MapEntry || kind === Kind.Any) && fieldNo === 2) {
          // A map entry's value, an Any's value: `types` holds their message type.
          declared = type;
        }
        if (!child && !declared) {
          pos = childEnd;
          break;
        }
        let childType = declared;
        if (childKind !== Kind.MapEntry && declared?.fullName === '.google.protobuf.Any') {
          childKind = Kind.Any;
          childType = anyTarget(bytes, pos, childEnd);
        }
        // A map entry is not a level of its own in the path; an Any's value neither.
        let segment = '';
        if (tracking && child) {
          segment = `.${child.name}`;
          if (child.repeated) {
            const counts = (tracking.counts[top] ??= new Map());
            const i = counts.get(fieldNo) ?? 0;
            counts.set(fieldNo, i + 1);
            segment += `[${i}]`;
          }
        }
        if (!push(childKind, childType, childEnd, false, segment)) return true;
        break;
      }
      case 3:
        if (!push(Kind.Opaque, undefined, end, true, `.${fieldNo}`)) return true;
        break;
      case 4:
        if (!groups[top]) return false;
        pop();
        break;
      default:
        return false;
    }
    if (pos > end) return false;
  }
  return false;
}

function pathOfTooDeep(type: protobuf.Type, bytes: Uint8Array, basePath: string, limit: number): string {
  const tracker: PathTracker = { segments: [], counts: [undefined] };
  scan(type, bytes, limit, tracker);
  const rel = (tracker.found ?? '').replace(/^\./, '');
  if (rel === '') return basePath;
  // Re-join through fieldPath/indexPath so the path reads as every other problem's.
  let path = basePath;
  for (const m of rel.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) path = m[2] !== undefined ? indexPath(path, Number(m[2])) : fieldPath(path, m[1]!);
  return path;
}

/** An Any's type_url (field 1) in its bytes [start, end), as a message type. */
function anyTarget(bytes: Uint8Array, start: number, end: number): protobuf.Type | undefined {
  let pos = start;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 70 && pos < end; shift += 7) {
      const b = bytes[pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (pos < end) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wireType = tag % 8;
    if (wireType === 0) {
      if (varint() === undefined) return undefined;
    } else if (wireType === 1) pos += 8;
    else if (wireType === 5) pos += 4;
    else if (wireType === 2) {
      const len = varint();
      if (len === undefined || pos + len > end) return undefined;
      if (Math.floor(tag / 8) === 1) return lookupTypeUrl(Buffer.from(bytes.buffer, bytes.byteOffset + pos, len).toString('utf8'));
      pos += len;
    } else return undefined;
  }
  return undefined;
}
