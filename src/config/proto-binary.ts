/**
 * Protobuf binary ⇄ canonical proto3 JSON, walking Envoy's descriptors (proto-registry.ts).
 * MAIN process only (workers never load the protos).
 *
 * Binary → JSON (`messageToProto3Json`, `binaryToProto3Json`) is how xDS resources reach the
 * same checks as YAML config: the JSON it produces is what `decodeMessage()` (proto-json.ts)
 * takes, so a resource received over gRPC gets exactly the errors and field paths a YAML file
 * would. The output is canonical proto3 JSON, as Envoy's own JSON printer writes it:
 * - field names as in the .proto (snake_case; Envoy's loader accepts both spellings);
 * - fields without presence (proto3 scalars and enums outside a oneof) omitted when they hold
 *   their default, empty lists and maps omitted; message fields and oneof members kept when set;
 * - Duration "1.500s", Timestamp RFC 3339, wrappers as their plain value, enums by name
 *   (a number when the value is not in the enum), int64 as decimal strings, bytes base64,
 *   NaN and ±Infinity as strings, Struct / Value / ListValue as JSON, FieldMask as a string,
 *   Any as `{"@type": url, ...fields}` (or `{"@type": url, "value": <json>}` for a well-known
 *   type), recursively. An Any whose type is unknown becomes `{"@type": url}`, which
 *   `decodeMessage()` then reports with its path.
 *
 * JSON → binary (`proto3JsonToMessage`, `encodeProto3Json`, `encodeAny`) is the inverse, used
 * by the management server and by tests to build resources from YAML. It reports structural
 * errors (unknown field, wrong JSON type, unknown enum name, unknown @type) with the field path;
 * it does not check protoc-gen-validate rules (decodeMessage does).
 */
import protobuf from 'protobufjs';
import { fieldPath, indexPath } from './config-error.js';
import { lookupTypeUrl, TYPE_URL_PREFIX } from './proto-registry.js';
import { MAX_PROTO_MESSAGE_DEPTH } from './input-limits.js';
import { findTooDeepProto } from './proto-wire-depth.js';

/** A structural problem while converting, with the field path where it was found. */
export class ProtoBinaryError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'ProtoBinaryError';
  }
}

/** Proto3 JSON values (what YAML config parses to). */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

const WRAPPER_TYPES = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/** Full name without the leading dot (cached: protobufjs computes `fullName` by walking parents). */
function fullNameOf(t: protobuf.ReflectionObject): string {
  let n = fullNames.get(t);
  if (n === undefined) {
    n = t.fullName.replace(/^\./, '');
    fullNames.set(t, n);
  }
  return n;
}

const fieldsByName = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** A type's fields by proto name and by lowerCamel JSON name (cached per type). */
function fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
  let byName = fieldsByName.get(type);
  if (!byName) {
    byName = new Map();
    for (const f of type.fieldsArray) {
      byName.set(f.name, f);
      byName.set(jsonName(f.name), f);
    }
    fieldsByName.set(type, byName);
  }
  return byName;
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** A field tracks presence: message-typed, a oneof member (proto3 `optional` included). */
function hasPresence(field: protobuf.Field): boolean {
  if (field.repeated || field.map) return false;
  return field.partOf !== null && field.partOf !== undefined ? true : field.resolvedType instanceof protobuf.Type;
}

// ---------------------------------------------------------------------------------------------
// Binary → JSON

/**
 * Decodes `bytes` as `type` and converts it to canonical proto3 JSON. Throws ProtoBinaryError,
 * also for bytes nesting messages deeper than MAX_PROTO_MESSAGE_DEPTH (checked first: the
 * decoder and this converter recurse), Anys inside included.
 */
export function binaryToProto3Json(type: protobuf.Type, bytes: Uint8Array, path = ''): Json {
  checkProtoDepth(type, bytes, path);
  let message: protobuf.Message;
  try {
    message = type.decode(bytes);
  } catch (e) {
    throw new ProtoBinaryError(path, `cannot decode ${fullNameOf(type)}: ${(e as Error).message}`);
  }
  return messageToProto3Json(type, message, path);
}

/**
 * A decoded protobufjs message of `type` → canonical proto3 JSON. Well-known types give
 * their JSON form (a Duration gives a string). Throws ProtoBinaryError for an Any whose
 * bytes do not decode.
 */
export function messageToProto3Json(type: protobuf.Type, message: object | null, path = ''): Json {
  // protobufjs gives null for a map entry or oneof whose message value was sent empty or left
  // out: on the wire that is the default message, in proto3 JSON `{}` (found by fuzzing).
  message ??= EMPTY_MESSAGE;
  const full = fullNameOf(type);
  const wkt = wellKnownToJson(full, type, message as Record<string, unknown>, path);
  if (wkt !== NOT_WKT) return wkt;
  const m = message as Record<string, unknown>;
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const name = field.name;
    const v = m[name];
    if (v === undefined || v === null) continue;
    const p = fieldPath(path, name);
    if (field.map) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) continue;
      const obj: JsonObject = {};
      const keyType = (field as unknown as protobuf.MapField).keyType;
      const keyIsLong = LONG_TYPES.has(keyType);
      for (const [k, item] of entries) {
        const key = keyIsLong && k.length === 8 && !/^-?\d+$/.test(k) ? longHashToString(k, keyType) : k;
        obj[key] = valueToJson(field, item, indexPath(p, key));
      }
      out[name] = obj;
      continue;
    }
    if (field.repeated) {
      const list = v as unknown[];
      if (list.length === 0) continue;
      out[name] = list.map((item, i) => valueToJson(field, item, indexPath(p, i)));
      continue;
    }
    // Unset fields live on the prototype (protobufjs puts defaults there).
    if (!hasOwn(m, name)) continue;
    if (!hasPresence(field) && isDefaultScalar(field, v)) continue;
    out[name] = valueToJson(field, v, p);
  }
  return out;
}

function isDefaultScalar(field: protobuf.Field, v: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Enum) return v === 0 || v === firstEnumName(field.resolvedType);
  if (typeof v === 'number') return v === 0 && !Object.is(v, -0);
  if (typeof v === 'string') return v === '';
  if (typeof v === 'boolean') return v === false;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isLong(v)) return v.low === 0 && v.high === 0;
  return false;
}

function firstEnumName(e: protobuf.Enum): string | undefined {
  return e.valuesById[0];
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toString(): string;
}

function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && typeof (v as LongLike).low === 'number' && typeof (v as LongLike).high === 'number';
}

function longHashToString(hash: string, keyType: string): string {
  const bits = protobuf.util.LongBits.fromHash(hash);
  const unsigned = keyType === 'uint64' || keyType === 'fixed64';
  return protobuf.util.Long ? bits.toLong(unsigned).toString() : String(bits.toNumber(unsigned));
}

function valueToJson(field: protobuf.Field, v: unknown, path: string): Json {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) return enumToJson(rt, v);
  if (rt instanceof protobuf.Type) return messageToProto3Json(rt, v as object, path);
  return scalarToJson(field.type, v);
}

function enumToJson(e: protobuf.Enum, v: unknown): Json {
  if (typeof v === 'string') return v;
  const n = Number(v);
  return e.valuesById[n] ?? n;
}

function scalarToJson(type: string, v: unknown): Json {
  switch (type) {
    case 'double':
    case 'float': {
      const n = Number(v);
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return type === 'float' ? shortestFloat32(n) : n;
    }
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return isLong(v) ? v.toString() : String(v);
    case 'bytes':
      return Buffer.from(v as Uint8Array).toString('base64');
    case 'bool':
      return Boolean(v);
    case 'string':
      return String(v);
    default:
      return Number(v);
  }
}

/** The shortest decimal that reads back as the same float32 (0.1f, not 0.10000000149011612). */
function shortestFloat32(n: number): number {
  const f = Math.fround(n);
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(f.toPrecision(digits));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

const NOT_WKT = Symbol('not a well-known type');

/** What an absent sub-message reads as: every field at its default. */
const EMPTY_MESSAGE: Readonly<Record<string, unknown>> = Object.freeze({});

function field(msg: Record<string, unknown>, name: string): unknown {
  const v = msg[name];
  return v === null ? undefined : v;
}

function wellKnownToJson(full: string, type: protobuf.Type, msg: Record<string, unknown>, path: string): Json | typeof NOT_WKT {
  if (!full.startsWith('google.protobuf.')) return NOT_WKT;
  if (WRAPPER_TYPES.has(full)) {
    const f = type.fields['value']!;
    const v = field(msg, 'value') ?? defaultOf(f);
    return scalarToJson(f.type, v);
  }
  switch (full) {
    case 'google.protobuf.Duration':
      return formatDuration(longToBigInt(field(msg, 'seconds') ?? 0), Number(field(msg, 'nanos') ?? 0));
    case 'google.protobuf.Timestamp':
      return formatTimestamp(longToBigInt(field(msg, 'seconds') ?? 0), Number(field(msg, 'nanos') ?? 0));
    case 'google.protobuf.Struct':
      return structToJson(type, msg, path);
    case 'google.protobuf.Value':
      return valueMessageToJson(type, msg, path);
    case 'google.protobuf.ListValue':
      return ((field(msg, 'values') as Record<string, unknown>[] | undefined) ?? []).map((v, i) =>
        valueMessageToJson(valueTypeOf(type), v, indexPath(path, i)),
      );
    case 'google.protobuf.Empty':
      return {};
    case 'google.protobuf.FieldMask':
      return ((field(msg, 'paths') as string[] | undefined) ?? [])
        .map((p) => p.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()))
        .join(',');
    case 'google.protobuf.Any': {
      const typeUrl = String(field(msg, 'type_url') ?? '');
      return nestedAnyToJson(typeUrl, (field(msg, 'value') as Uint8Array | undefined) ?? new Uint8Array(0), path, anyType(typeUrl));
    }
    default:
      return NOT_WKT;
  }
}

function defaultOf(f: protobuf.Field): unknown {
  switch (f.type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'bytes':
      return new Uint8Array(0);
    default:
      return 0;
  }
}

function longToBigInt(v: unknown): bigint {
  if (isLong(v)) return BigInt(v.toString());
  if (typeof v === 'string') return BigInt(v);
  return BigInt(Math.trunc(Number(v)));
}

/** Proto3 JSON duration: "1s", "1.500s", "0.000001s", "-1.500s" (0, 3, 6 or 9 fraction digits). */
export function formatDuration(seconds: bigint, nanos: number): string {
  const negative = seconds < 0n || nanos < 0;
  const s = seconds < 0n ? -seconds : seconds;
  const n = Math.abs(nanos);
  return `${negative ? '-' : ''}${s}${fraction(n)}s`;
}

function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const nine = String(nanos).padStart(9, '0');
  if (nine.endsWith('000000')) return `.${nine.slice(0, 3)}`;
  if (nine.endsWith('000')) return `.${nine.slice(0, 6)}`;
  return `.${nine}`;
}

function formatTimestamp(seconds: bigint, nanos: number): string {
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

/**
 * The name a field really has: protobufjs's built-in google/protobuf/struct.proto spells
 * Value's members in lowerCamel (numberValue), Envoy's files in snake_case.
 */
function realName(type: protobuf.Type, snake: string): string {
  return type.fields[snake] ? snake : jsonName(snake);
}

/** google.protobuf.Value, reached from Struct, ListValue or itself. */
function valueTypeOf(type: protobuf.Type): protobuf.Type {
  const full = fullNameOf(type);
  if (full === 'google.protobuf.Value') return type;
  return type.fieldsArray[0]!.resolvedType as protobuf.Type; // Struct.fields (map) / ListValue.values
}

function structToJson(structType: protobuf.Type, msg: Record<string, unknown> | null, path: string): JsonObject {
  msg ??= EMPTY_MESSAGE;
  const vt = valueTypeOf(structType);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries((field(msg, 'fields') as Record<string, Record<string, unknown>> | undefined) ?? {})) {
    out[k] = valueMessageToJson(vt, v, fieldPath(path, k));
  }
  return out;
}

function valueMessageToJson(vt: protobuf.Type, v: Record<string, unknown> | null, path: string): Json {
  const value = v ?? EMPTY_MESSAGE;
  const get = (snake: string): unknown => {
    const name = realName(vt, snake);
    return hasOwn(value, name) ? field(value, name) : undefined;
  };
  const struct = get('struct_value');
  if (struct !== undefined) return structToJson(vt.fields[realName(vt, 'struct_value')]!.resolvedType as protobuf.Type, struct as Record<string, unknown>, path);
  const list = get('list_value');
  if (list !== undefined) {
    const values = (field(list as Record<string, unknown>, 'values') as Record<string, unknown>[] | undefined) ?? [];
    return values.map((item, i) => valueMessageToJson(vt, item, indexPath(path, i)));
  }
  const str = get('string_value');
  if (str !== undefined) return String(str);
  const b = get('bool_value');
  if (b !== undefined) return Boolean(b);
  const n = get('number_value');
  if (n !== undefined) {
    const num = Number(n);
    return Number.isFinite(num) ? num : String(num);
  }
  return null;
}

/** An Any's bytes → `{"@type": url, ...}` (depth checked as in binaryToProto3Json). */
export function anyToJson(typeUrl: string, bytes: Uint8Array, path = ''): JsonObject {
  const type = anyType(typeUrl);
  if (type) checkProtoDepth(type, bytes, path);
  return nestedAnyToJson(typeUrl, bytes, path, type);
}

function anyType(typeUrl: string): protobuf.Type | undefined {
  return typeUrl === '' ? undefined : lookupTypeUrl(typeUrl);
}

function checkProtoDepth(type: protobuf.Type, bytes: Uint8Array, path: string): void {
  const deep = findTooDeepProto(type, bytes, path);
  if (deep !== undefined) {
    throw new ProtoBinaryError(deep, `protobuf messages nested deeper than ${MAX_PROTO_MESSAGE_DEPTH} levels (the limit for protobuf input)`);
  }
}

/** An Any inside bytes already checked by checkProtoDepth; recursion goes through `messageToProto3Json`. */
function nestedAnyToJson(typeUrl: string, bytes: Uint8Array, path: string, type: protobuf.Type | undefined): JsonObject {
  if (!type) return { '@type': typeUrl };
  let inner: protobuf.Message;
  try {
    inner = type.decode(bytes);
  } catch (e) {
    throw new ProtoBinaryError(path, `cannot decode Any of type ${typeUrl}: ${(e as Error).message}`);
  }
  const json = messageToProto3Json(type, inner, path);
  if (fullNameOf(type).startsWith('google.protobuf.')) return { '@type': typeUrl, value: json };
  return { '@type': typeUrl, ...(json as JsonObject) };
}

// ---------------------------------------------------------------------------------------------
// JSON → binary

function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Proto3 JSON of `type` → a protobufjs message ready for `type.encode()`. Throws ProtoBinaryError. */
export function proto3JsonToMessage(type: protobuf.Type, json: unknown, path = ''): protobuf.Message {
  return type.fromObject(toObjectForm(type, json, path) as Record<string, unknown>);
}

/** Proto3 JSON of `type` → wire bytes. Throws ProtoBinaryError. */
export function encodeProto3Json(type: protobuf.Type, json: unknown, path = ''): Uint8Array {
  return type.encode(proto3JsonToMessage(type, json, path)).finish();
}

/** `{"@type": url, ...fields}` → the Any's type URL and wire bytes. Throws ProtoBinaryError. */
export function encodeAny(json: unknown, path = ''): { type_url: string; value: Uint8Array } {
  const o = toAnyObjectForm(json, path);
  return { type_url: o.type_url, value: o.value };
}

/** protobufjs "object form" (what `fromObject` takes) of a message, from proto3 JSON. */
function toObjectForm(type: protobuf.Type, json: unknown, path: string): unknown {
  const full = fullNameOf(type);
  const wkt = wellKnownFromJson(full, type, json, path);
  if (wkt !== NOT_WKT) return wkt;
  if (!isPlainObject(json)) throw new ProtoBinaryError(path, `expected an object for ${full}, got ${describe(json)}`);
  const byName = fieldsOf(type);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(json)) {
    const p = fieldPath(path, key);
    const f = byName.get(key);
    if (!f) throw new ProtoBinaryError(p, `unknown field "${key}" in ${full}`);
    if (raw === null && !(f.resolvedType && fullNameOf(f.resolvedType) === 'google.protobuf.Value')) continue;
    if (f.map) {
      if (!isPlainObject(raw)) throw new ProtoBinaryError(p, `expected an object (map), got ${describe(raw)}`);
      const m: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw)) m[k] = fieldValueFromJson(f, v, indexPath(p, k));
      out[f.name] = m;
    } else if (f.repeated) {
      if (!Array.isArray(raw)) throw new ProtoBinaryError(p, `expected a list, got ${describe(raw)}`);
      out[f.name] = raw.map((v, i) => fieldValueFromJson(f, v, indexPath(p, i)));
    } else {
      out[f.name] = fieldValueFromJson(f, raw, p);
    }
  }
  return out;
}

function fieldValueFromJson(f: protobuf.Field, raw: unknown, path: string): unknown {
  const rt = f.resolvedType;
  if (rt instanceof protobuf.Enum) {
    if (typeof raw === 'string') {
      const n = rt.values[raw];
      if (n === undefined) throw new ProtoBinaryError(path, `unknown value "${raw}" for enum ${fullNameOf(rt)}`);
      return n;
    }
    if (typeof raw === 'number' && Number.isInteger(raw)) return raw;
    throw new ProtoBinaryError(path, `expected an enum name for ${fullNameOf(rt)}, got ${describe(raw)}`);
  }
  if (rt instanceof protobuf.Type) return toObjectForm(rt, raw, path);
  return scalarFromJson(f.type, raw, path);
}

function scalarFromJson(type: string, raw: unknown, path: string): unknown {
  switch (type) {
    case 'string':
      if (typeof raw !== 'string') throw new ProtoBinaryError(path, `expected a string, got ${describe(raw)}`);
      return raw;
    case 'bool':
      if (typeof raw !== 'boolean') throw new ProtoBinaryError(path, `expected true or false, got ${describe(raw)}`);
      return raw;
    case 'bytes':
      if (typeof raw !== 'string') throw new ProtoBinaryError(path, `expected base64 bytes, got ${describe(raw)}`);
      return Buffer.from(raw, 'base64');
    case 'double':
    case 'float':
      if (typeof raw === 'number') return raw;
      if (typeof raw === 'string' && raw.trim() !== '' && !Number.isNaN(Number(raw))) return Number(raw);
      if (raw === 'NaN') return NaN;
      throw new ProtoBinaryError(path, `expected a number, got ${describe(raw)}`);
    default: {
      // Integers; 64-bit ones go to fromObject as decimal strings (it makes a Long).
      if (typeof raw === 'number' && Number.isInteger(raw)) return LONG_TYPES.has(type) ? String(raw) : raw;
      if (typeof raw === 'string' && /^-?\d+$/.test(raw)) return LONG_TYPES.has(type) ? raw : Number(raw);
      throw new ProtoBinaryError(path, `expected an integer, got ${describe(raw)}`);
    }
  }
}

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
const TIMESTAMP_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

function wellKnownFromJson(full: string, type: protobuf.Type, json: unknown, path: string): unknown {
  if (!full.startsWith('google.protobuf.')) return NOT_WKT;
  if (WRAPPER_TYPES.has(full)) return { value: scalarFromJson(type.fields['value']!.type, json, path) };
  switch (full) {
    case 'google.protobuf.Duration': {
      const m = typeof json === 'string' ? DURATION_RE.exec(json) : null;
      if (!m) throw new ProtoBinaryError(path, `expected a duration string like "1.5s", got ${describe(json)}`);
      const sign = m[1] ? -1 : 1;
      const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
      return { seconds: `${m[1] ?? ''}${m[2]}`, nanos: sign * nanos };
    }
    case 'google.protobuf.Timestamp': {
      const m = typeof json === 'string' ? TIMESTAMP_RE.exec(json) : null;
      const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
      if (!m || Number.isNaN(ms)) throw new ProtoBinaryError(path, `expected an RFC 3339 timestamp, got ${describe(json)}`);
      return { seconds: String(Math.floor(ms / 1000)), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
    }
    case 'google.protobuf.Struct':
      if (!isPlainObject(json)) throw new ProtoBinaryError(path, `expected an object, got ${describe(json)}`);
      return structFromJson(valueTypeOf(type), json, path);
    case 'google.protobuf.Value':
      return valueFromJson(type, json, path);
    case 'google.protobuf.ListValue':
      if (!Array.isArray(json)) throw new ProtoBinaryError(path, `expected a list, got ${describe(json)}`);
      return { values: json.map((v, i) => valueFromJson(valueTypeOf(type), v, indexPath(path, i))) };
    case 'google.protobuf.Empty':
      if (!isPlainObject(json)) throw new ProtoBinaryError(path, 'expected {}');
      return {};
    case 'google.protobuf.FieldMask':
      if (typeof json !== 'string') throw new ProtoBinaryError(path, `expected a field mask string, got ${describe(json)}`);
      return { paths: json === '' ? [] : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
    case 'google.protobuf.Any':
      return toAnyObjectForm(json, path);
    default:
      return NOT_WKT;
  }
}

function structFromJson(vt: protobuf.Type, o: Record<string, unknown>, path: string): unknown {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = valueFromJson(vt, v, fieldPath(path, k));
  return { fields };
}

function valueFromJson(vt: protobuf.Type, v: unknown, path: string): unknown {
  const kind = (snake: string, value: unknown): unknown => ({ [realName(vt, snake)]: value });
  if (v === null || v === undefined) return kind('null_value', 0);
  if (typeof v === 'number') return kind('number_value', v);
  if (typeof v === 'string') return kind('string_value', v);
  if (typeof v === 'boolean') return kind('bool_value', v);
  if (Array.isArray(v)) return kind('list_value', { values: v.map((item, i) => valueFromJson(vt, item, indexPath(path, i))) });
  if (isPlainObject(v)) return kind('struct_value', structFromJson(vt, v, path));
  throw new ProtoBinaryError(path, `cannot represent ${describe(v)} as a google.protobuf.Value`);
}

function toAnyObjectForm(json: unknown, path: string): { type_url: string; value: Uint8Array } {
  if (!isPlainObject(json)) throw new ProtoBinaryError(path, `expected an object with "@type", got ${describe(json)}`);
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string' || typeUrl === '') throw new ProtoBinaryError(fieldPath(path, '@type'), '"@type" is required in an Any');
  const type = lookupTypeUrl(typeUrl);
  if (!type) throw new ProtoBinaryError(fieldPath(path, '@type'), `unknown or unsupported type "${typeUrl}"`);
  const { ['@type']: _omit, ...rest } = json;
  const isWkt = fullNameOf(type).startsWith('google.protobuf.');
  const inner = isWkt ? toObjectForm(type, rest['value'], fieldPath(path, 'value')) : toObjectForm(type, rest, path);
  const value = type.encode(type.fromObject(inner as Record<string, unknown>)).finish();
  return { type_url: typeUrl, value };
}

/** `type.googleapis.com/<full name>` of a message type. */
export function typeUrlOf(type: protobuf.Type): string {
  return `${TYPE_URL_PREFIX}${fullNameOf(type)}`;
}
