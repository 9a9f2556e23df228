/**
 * `--config-yaml` over `-c`: Envoy merges the two bootstraps with protobuf's MergeFrom, and so
 * does this, on the proto3 JSON of both before decoding (so /config_dump shows the merged file
 * as JSON): a scalar, enum or well-known value (Duration, Any, wrappers...) in the overlay
 * replaces the base's, a message merges field by field, a repeated field appends, a map
 * merges by key (the overlay's entry wins), and setting one member of a oneof clears the others.
 * Field names may be snake_case or lowerCamel on either side.
 */
import protobuf from 'protobufjs';
import { fieldOfJsonKey } from './proto-json.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Message types merged field by field; every other google.protobuf type is replaced whole. */
const MERGED_WKT = new Set(['google.protobuf.Struct']);

export function mergeProtoJson(type: protobuf.Type, base: unknown, overlay: unknown): unknown {
  if (!isObject(base) || !isObject(overlay)) return overlay === undefined || overlay === null ? base : overlay;
  const out: Json = { ...base };
  // Base keys by proto field name, whatever their spelling.
  const baseKey = new Map<string, string>();
  for (const key of Object.keys(base)) {
    const f = fieldOfJsonKey(type, key);
    if (f) baseKey.set(f.name, key);
  }
  for (const [key, value] of Object.entries(overlay)) {
    const field = fieldOfJsonKey(type, key);
    if (!field) {
      out[key] = value; // decoding names it as unknown
      continue;
    }
    if (value === null) continue;
    if (field.partOf) {
      for (const member of field.partOf.fieldsArray) {
        const k = baseKey.get(member.name);
        if (member !== field && k !== undefined) delete out[k];
      }
    }
    const existingKey = baseKey.get(field.name);
    const existing = existingKey === undefined ? undefined : out[existingKey];
    if (existingKey !== undefined && existingKey !== key) delete out[existingKey];
    out[key] = existing === undefined ? value : mergeField(field, existing, value);
  }
  return out;
}

function mergeField(field: protobuf.Field, base: unknown, overlay: unknown): unknown {
  if (field.map) return isObject(base) && isObject(overlay) ? { ...base, ...overlay } : overlay;
  if (field.repeated) return [...(Array.isArray(base) ? base : [base]), ...(Array.isArray(overlay) ? overlay : [overlay])];
  const rt = field.resolvedType;
  if (!(rt instanceof protobuf.Type)) return overlay;
  const full = rt.fullName.replace(/^\./, '');
  if (full.startsWith('google.protobuf.')) return MERGED_WKT.has(full) && isObject(base) && isObject(overlay) ? { ...base, ...overlay } : overlay;
  return mergeProtoJson(rt, base, overlay);
}
