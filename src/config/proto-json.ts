/**
 * Proto3 JSON → plain, checked values, walking Envoy's descriptors.
 *
 * Accepts what Envoy's loader (MessageUtil::loadFromJson/loadFromYaml) accepts: field names in
 * snake_case or lowerCamel, durations as "1.5s", wrapper types as plain values, `"@type"` on
 * Any (a well-known type in an Any in its `"value"` form), enums by name in any case or by
 * number, int64 as number or string, and a single value where a repeated field is expected
 * (a one-element list: protobuf's legacy JSON behaviour, which Envoy keeps). It reports
 * everything else with its field path: unknown fields (with the nearest known name), wrong types,
 * two members of one oneof, unknown @type, and the protoc-gen-validate rules written in the
 * .proto files (min_len, gte, required, ...).
 *
 * The output is plain data: field names as in the .proto, Duration as milliseconds
 * (number), wrappers unwrapped, Struct as a JSON object, Any as its unpacked message plus
 * "@type". Missing fields stay missing (no defaults), so translators can tell "unset" from
 * zero, as Envoy does with has_xxx().
 */
import protobuf from 'protobufjs';
import { indexPath, fieldPath } from './config-error.js';
import { lookupTypeUrl } from './proto-registry.js';
import { DEPTH_LIMIT_MESSAGE, findTooDeep, MAX_CONFIG_DEPTH } from './input-limits.js';

export type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };
export type PlainObject = { [k: string]: Plain };

export interface DecodeProblem {
  path: string;
  message: string;
}

const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

const DURATION_RE = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** Parses a proto3 JSON duration ("3600s", "0.25s") to milliseconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_RE.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[2]);
  const nanos = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  const ms = seconds * 1000 + nanos / 1e6;
  return m[1] ? -ms : ms;
}

function jsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Per-descriptor facts computed once: a large xDS update decodes the same few message types
 * thousands of times (a 10k-route RouteConfiguration), so names, rules and field maps are
 * cached on the descriptor objects, which live as long as the registry.
 */
interface TypeFacts {
  fullName: string;
  byName: Map<string, protobuf.Field>;
}
const typeFacts = new WeakMap<protobuf.Type, TypeFacts>();
function factsOf(type: protobuf.Type): TypeFacts {
  let facts = typeFacts.get(type);
  if (!facts) {
    const byName = new Map<string, protobuf.Field>();
    for (const f of type.fieldsArray) {
      byName.set(f.name, f);
      byName.set(jsonName(f.name), f);
    }
    facts = { fullName: type.fullName.replace(/^\./, ''), byName };
    typeFacts.set(type, facts);
  }
  return facts;
}

/** The field a JSON key names (its proto name or lowerCamel JSON name), if any. */
export function fieldOfJsonKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return factsOf(type).byName.get(key);
}

const NO_RULES = new Map<string, unknown>();
const fieldRules = new WeakMap<protobuf.Field, Map<string, unknown>>();
function rulesOf(field: protobuf.Field): Map<string, unknown> | undefined {
  let rules = fieldRules.get(field);
  if (!rules) {
    rules = validateRules(field.options as Record<string, unknown> | undefined) ?? NO_RULES;
    fieldRules.set(field, rules);
  }
  return rules === NO_RULES ? undefined : rules;
}

/** Flattens `(validate.rules)` options of a field into "string.min_len" → value. */
function validateRules(options: Record<string, unknown> | undefined): Map<string, unknown> | undefined {
  if (!options) return undefined;
  let rules: Map<string, unknown> | undefined;
  const put = (key: string, value: unknown): void => {
    if (isObject(value)) {
      for (const [k, v] of Object.entries(value)) put(`${key}.${k}`, v);
    } else {
      (rules ??= new Map()).set(key, value);
    }
  };
  for (const [k, v] of Object.entries(options)) {
    if (k === '(validate.rules)') put('', v);
    else if (k.startsWith('(validate.rules).')) put(k.slice('(validate.rules).'.length), v);
  }
  if (!rules) return undefined;
  // put('', ...) leaves a leading dot.
  const clean = new Map<string, unknown>();
  for (const [k, v] of rules) clean.set(k.startsWith('.') ? k.slice(1) : k, v);
  return clean;
}

function ruleDurationMs(rules: Map<string, unknown>, op: string): number | undefined {
  const s = rules.get(`duration.${op}.seconds`);
  const n = rules.get(`duration.${op}.nanos`);
  if (s === undefined && n === undefined) return undefined;
  return Number(s ?? 0) * 1000 + Number(n ?? 0) / 1e6;
}

export class ProtoJsonDecoder {
  readonly problems: DecodeProblem[] = [];

  private fail(path: string, message: string): undefined {
    this.problems.push({ path, message });
    return undefined;
  }

  /**
   * Decodes a message of `type` from JSON; returns undefined (and records why) on error.
   * `level` is the nesting level of `json` (1 for the root object): past MAX_CONFIG_DEPTH the
   * decoder stops there with a problem, so no input can take it deeper than the limit.
   */
  message(type: protobuf.Type, json: unknown, path: string, level = 1): PlainObject | undefined {
    if (level > MAX_CONFIG_DEPTH && typeof json === 'object' && json !== null) return this.fail(path, DEPTH_LIMIT_MESSAGE);
    const { fullName: full, byName } = factsOf(type);
    const wkt = this.wellKnown(full, json, path, level);
    if (wkt !== NOT_WKT) return wkt as PlainObject | undefined;
    if (!isObject(json)) return this.fail(path, `expected an object for ${full}, got ${describe(json)}`);
    const out: PlainObject = {};
    const oneofSeen = new Map<string, string>();
    for (const [key, raw] of Object.entries(json)) {
      const childPath = fieldPath(path, key);
      const field = byName.get(key);
      if (!field) {
        this.fail(childPath, unknownFieldMessage(key, full, type));
        continue;
      }
      if (out[field.name] !== undefined) {
        this.fail(childPath, `field "${field.name}" given twice`);
        continue;
      }
      if (raw === null && !(field.resolvedType && field.resolvedType.fullName === '.google.protobuf.Value')) continue;
      if (field.partOf) {
        const other = oneofSeen.get(field.partOf.name);
        if (other !== undefined) {
          this.fail(childPath, `"${field.name}" and "${other}" are both set; they are members of oneof "${field.partOf.name}"`);
          continue;
        }
        oneofSeen.set(field.partOf.name, field.name);
      }
      const value = this.field(field, raw, childPath, level + 1);
      if (value !== undefined) out[field.name] = value;
      // A single value given for a list is written back as the list it stands for, so the
      // config as loaded (/config_dump) is proto3 JSON. Rare: only then is the input touched.
      if (field.repeated && !field.map && !Array.isArray(raw) && raw !== null && raw !== undefined) json[key] = [raw];
      // Likewise an enum written in lower case or by number becomes its name (a decoded string
      // differs from its input only for enums).
      else if (typeof value === 'string' && value !== raw) json[key] = value;
    }
    // Required oneofs and required message fields.
    for (const oneof of type.oneofsArray) {
      const opts = oneof.options as Record<string, unknown> | undefined;
      if (opts && opts['(validate.required)'] === true && !oneofSeen.has(oneof.name)) {
        this.fail(path, `one of ${oneof.oneof.map((n) => `"${n}"`).join(', ')} is required in ${full}`);
      }
    }
    for (const f of type.fieldsArray) {
      // Rules on a oneof member apply only when that member is the one set.
      if (f.partOf) continue;
      const rules = rulesOf(f);
      if (!rules) continue;
      const present = out[f.name] !== undefined;
      if (!present && (rules.get('message.required') === true || rules.get('duration.required') === true)) {
        this.fail(fieldPath(path, f.name), `field "${f.name}" is required in ${full}`);
      }
      if (!present && (f.repeated || f.map) && Number(rules.get('repeated.min_items') ?? 0) > 0) {
        this.fail(fieldPath(path, f.name), `at least ${rules.get('repeated.min_items')} item(s) required`);
      }
      if (!present && f.type === 'string' && Number(rules.get('string.min_len') ?? rules.get('string.min_bytes') ?? 0) > 0) {
        this.fail(fieldPath(path, f.name), `field "${f.name}" must not be empty`);
      }
    }
    return out;
  }

  /** `level`: the nesting level of `raw`. */
  private field(field: protobuf.Field, raw: unknown, path: string, level: number): Plain | undefined {
    const rules = rulesOf(field);
    if (field.map) {
      if (!isObject(raw)) return this.fail(path, `expected an object (map), got ${describe(raw)}`);
      const out: PlainObject = {};
      for (const [k, v] of Object.entries(raw)) {
        const decoded = this.single(field, v, indexPath(path, k), rules, false, level + 1);
        if (decoded !== undefined) out[k] = decoded;
      }
      return out;
    }
    if (field.repeated) {
      // A single value is a list of one, as in Envoy (`filters: {name: ...}`).
      if (!Array.isArray(raw)) raw = [raw];
      if (rules) {
        const min = rules.get('repeated.min_items');
        const max = rules.get('repeated.max_items');
        const n = (raw as unknown[]).length;
        if (min !== undefined && n < Number(min)) this.fail(path, `at least ${min} item(s) required, got ${n}`);
        if (max !== undefined && n > Number(max)) this.fail(path, `at most ${max} item(s) allowed, got ${n}`);
      }
      const out: Plain[] = [];
      let complete = true;
      (raw as unknown[]).forEach((v, i) => {
        const decoded = this.single(field, v, indexPath(path, i), rules, true, level + 1);
        if (decoded !== undefined) out.push(decoded);
        else complete = false;
      });
      // A list with an item missing would shift the indices of a partial value's paths.
      return complete ? out : undefined;
    }
    return this.single(field, raw, path, rules, false, level);
  }

  private single(
    field: protobuf.Field,
    raw: unknown,
    path: string,
    rules: Map<string, unknown> | undefined,
    inRepeated: boolean,
    level: number,
  ): Plain | undefined {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) return this.enumValue(rt, raw, path, rules);
    if (rt instanceof protobuf.Type) {
      const full = factsOf(rt).fullName;
      const wrapped = WRAPPERS[full];
      if (wrapped) {
        const v = this.scalar(wrapped, raw, path);
        if (v !== undefined && rules && !inRepeated) this.checkScalarRules(wrapped, v, path, rules);
        return v;
      }
      const v = this.message(rt, raw, path, level);
      if (v !== undefined && full === 'google.protobuf.Duration' && rules) this.checkDurationRules(v as unknown as number, path, rules);
      return v;
    }
    const v = this.scalar(field.type, raw, path);
    if (v !== undefined && rules && !inRepeated) this.checkScalarRules(field.type, v, path, rules);
    return v;
  }

  private enumValue(e: protobuf.Enum, raw: unknown, path: string, rules: Map<string, unknown> | undefined): Plain | undefined {
    const enumName = e.fullName.replace(/^\./, '');
    if (typeof raw === 'string') {
      if (e.values[raw] !== undefined) return raw;
      // Envoy parses enum names case-insensitively (`round_robin`, `strict_dns`); Envoy's
      // names are all upper case, so the upper-cased name is the one to find.
      const upper = raw.toUpperCase();
      if (e.values[upper] !== undefined) return upper;
      return this.fail(path, `unknown value "${raw}" for enum ${enumName} (valid names: ${Object.keys(e.values).join(', ')})`);
    }
    if (typeof raw === 'number' && Number.isInteger(raw)) {
      const name = e.valuesById[raw];
      if (name === undefined) {
        if (rules?.get('enum.defined_only') === true) return this.fail(path, `value ${raw} is not defined in enum ${enumName}`);
        return raw;
      }
      return name;
    }
    return this.fail(path, `expected an enum name for ${enumName}, got ${describe(raw)}`);
  }

  private scalar(type: string, raw: unknown, path: string): Plain | undefined {
    switch (type) {
      case 'string':
        if (typeof raw !== 'string') return this.fail(path, `expected a string, got ${describe(raw)}`);
        return raw;
      case 'bool':
        if (typeof raw !== 'boolean') return this.fail(path, `expected true or false, got ${describe(raw)}`);
        return raw;
      case 'bytes':
        if (typeof raw !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(raw)) return this.fail(path, `expected base64 bytes, got ${describe(raw)}`);
        return raw;
      case 'double':
      case 'float': {
        if (typeof raw === 'number') return raw;
        if (raw === 'NaN' || raw === 'Infinity' || raw === '-Infinity') return Number(raw);
        if (typeof raw === 'string' && raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
        return this.fail(path, `expected a number, got ${describe(raw)}`);
      }
      case 'int32':
      case 'sint32':
      case 'sfixed32':
      case 'uint32':
      case 'fixed32':
      case 'int64':
      case 'sint64':
      case 'sfixed64':
      case 'uint64':
      case 'fixed64': {
        let n: number;
        if (typeof raw === 'number') n = raw;
        else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) n = Number(raw);
        else return this.fail(path, `expected an integer, got ${describe(raw)}`);
        if (!Number.isInteger(n)) return this.fail(path, `expected an integer, got ${raw}`);
        const unsigned = type.startsWith('u') || type.startsWith('fixed');
        const bits32 = type.endsWith('32');
        if (unsigned && n < 0) return this.fail(path, `expected a non-negative integer, got ${n}`);
        if (bits32 && (unsigned ? n > 0xffffffff : n > 0x7fffffff || n < -0x80000000)) {
          return this.fail(path, `integer ${n} out of range for ${type}`);
        }
        if (!bits32 && !Number.isSafeInteger(n)) return typeof raw === 'string' ? raw : String(raw);
        return n;
      }
      default:
        return this.fail(path, `unsupported scalar type ${type}`);
    }
  }

  private checkScalarRules(type: string, v: Plain, path: string, rules: Map<string, unknown>): void {
    if (typeof v === 'string') {
      const min = rules.get('string.min_len') ?? rules.get('string.min_bytes');
      const max = rules.get('string.max_len') ?? rules.get('string.max_bytes');
      if (min !== undefined && v.length < Number(min)) this.fail(path, Number(min) === 1 ? 'must not be empty' : `must be at least ${min} characters`);
      if (max !== undefined && v.length > Number(max)) this.fail(path, `must be at most ${max} characters`);
      return;
    }
    if (typeof v !== 'number') return;
    const kind = type === 'float' ? 'float' : type;
    const gt = rules.get(`${kind}.gt`);
    const gte = rules.get(`${kind}.gte`);
    const lt = rules.get(`${kind}.lt`);
    const lte = rules.get(`${kind}.lte`);
    if (gt !== undefined && !(v > Number(gt))) this.fail(path, `must be greater than ${gt}, got ${v}`);
    if (gte !== undefined && !(v >= Number(gte))) this.fail(path, `must be at least ${gte}, got ${v}`);
    if (lt !== undefined && !(v < Number(lt))) this.fail(path, `must be less than ${lt}, got ${v}`);
    if (lte !== undefined && !(v <= Number(lte))) this.fail(path, `must be at most ${lte}, got ${v}`);
  }

  private checkDurationRules(ms: number, path: string, rules: Map<string, unknown>): void {
    const gt = ruleDurationMs(rules, 'gt');
    const gte = ruleDurationMs(rules, 'gte');
    const lt = ruleDurationMs(rules, 'lt');
    const lte = ruleDurationMs(rules, 'lte');
    if (gt !== undefined && !(ms > gt)) this.fail(path, `duration must be greater than ${gt / 1000}s`);
    if (gte !== undefined && !(ms >= gte)) this.fail(path, `duration must be at least ${gte / 1000}s`);
    if (lt !== undefined && !(ms < lt)) this.fail(path, `duration must be less than ${lt / 1000}s`);
    if (lte !== undefined && !(ms <= lte)) this.fail(path, `duration must be at most ${lte / 1000}s`);
  }

  /** Proto3 JSON forms of well-known types. Returns NOT_WKT for ordinary messages. */
  private wellKnown(full: string, json: unknown, path: string, level: number): Plain | undefined | typeof NOT_WKT {
    switch (full) {
      case 'google.protobuf.Duration': {
        if (typeof json !== 'string') return this.fail(path, `expected a duration string like "1.5s", got ${describe(json)}`);
        const ms = parseDuration(json);
        if (ms === undefined) return this.fail(path, `invalid duration "${json}" (expected seconds with an "s" suffix, like "30s" or "0.25s")`);
        return ms;
      }
      case 'google.protobuf.Timestamp':
        if (typeof json !== 'string' || Number.isNaN(Date.parse(json))) return this.fail(path, `expected an RFC 3339 timestamp, got ${describe(json)}`);
        return json;
      case 'google.protobuf.Struct':
        if (!isObject(json)) return this.fail(path, `expected an object, got ${describe(json)}`);
        return this.boundedJson(json, path, level) as PlainObject | undefined;
      case 'google.protobuf.Value':
        return this.boundedJson(json, path, level);
      case 'google.protobuf.ListValue':
        if (!Array.isArray(json)) return this.fail(path, `expected a list, got ${describe(json)}`);
        return this.boundedJson(json, path, level) as Plain[] | undefined;
      case 'google.protobuf.Empty':
        if (!isObject(json) || Object.keys(json).length > 0) return this.fail(path, 'expected {}');
        return {};
      case 'google.protobuf.FieldMask':
        if (typeof json !== 'string') return this.fail(path, `expected a field mask string, got ${describe(json)}`);
        return json;
      case 'google.protobuf.Any':
        return this.any(json, path, level);
      default: {
        // A wrapper decoded as a message: the `"value"` of an Any holding one.
        const wrapped = WRAPPERS[full];
        return wrapped ? this.scalar(wrapped, json, path) : NOT_WKT;
      }
    }
  }

  /** Free-form JSON (Struct, Value, ListValue) is kept as is, once its depth is checked. */
  private boundedJson(json: unknown, path: string, level: number): Plain | undefined {
    const deep = findTooDeep(json, path, MAX_CONFIG_DEPTH, level);
    return deep === undefined ? (json as Plain) : this.fail(deep, DEPTH_LIMIT_MESSAGE);
  }

  private any(json: unknown, path: string, level: number): Plain | undefined {
    if (!isObject(json)) return this.fail(path, `expected an object with "@type", got ${describe(json)}`);
    const typeUrl = json['@type'];
    if (typeof typeUrl !== 'string' || typeUrl === '') return this.fail(fieldPath(path, '@type'), '"@type" is required in an Any');
    const type = lookupTypeUrl(typeUrl);
    if (!type) return this.fail(fieldPath(path, '@type'), `unknown or unsupported type "${typeUrl}"`);
    const { ['@type']: _omit, ...rest } = json;
    const isWkt = SPECIAL_JSON_TYPES.has(factsOf(type).fullName);
    const inner = isWkt ? this.message(type, rest['value'], fieldPath(path, 'value'), level + 1) : this.message(type, rest, path, level);
    // Lists the decoder wrote back into the copy (see message()) go to the input too.
    if (!isWkt) for (const k in rest) if (rest[k] !== json[k]) json[k] = rest[k];
    if (inner === undefined) return undefined;
    if (isWkt) return { '@type': typeUrl, value: inner as Plain };
    return { '@type': typeUrl, ...inner };
  }
}

const NOT_WKT = Symbol('not a well-known type');

/**
 * Types whose proto3 JSON form is not an object of fields: inside an Any they are written as
 * `{"@type": ..., "value": <their JSON form>}`. Empty is an ordinary message (`{"@type": ...}`).
 */
const SPECIAL_JSON_TYPES = new Set([
  ...Object.keys(WRAPPERS),
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.Any',
]);

/** "unknown field" with the nearest known field name, when one is close (error path only). */
function unknownFieldMessage(key: string, full: string, type: protobuf.Type): string {
  const near = nearestName(key, type.fieldsArray.map((f) => f.name));
  return `unknown field "${key}" in ${full}${near ? ` (did you mean ${near}?)` : ''}`;
}

/**
 * The candidate closest to `name` by edit distance (compared in snake_case, lower case), if
 * it is close enough to be a likely typo: at most a third of the name's length, and 3.
 */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  const want = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(want.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(want, c.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, or any value ≥ `cap` once it is known to reach `cap`. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_v, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    prev = row;
  }
  return prev[b.length]!;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${String(v)}`;
}

/** Decodes `json` as the message `typeName`; problems carry paths under `basePath`. */
export function decodeMessage(
  type: protobuf.Type,
  json: unknown,
  basePath = '',
): { value: PlainObject | undefined; problems: DecodeProblem[] } {
  const d = new ProtoJsonDecoder();
  const value = d.message(type, json, basePath);
  return { value: d.problems.length ? undefined : value, problems: d.problems };
}

/**
 * As decodeMessage, but with problems the value is what did decode (a field that failed is
 * absent; a list with an item that failed is absent as a whole, so every path stays right),
 * for translators to find more problems in one run (see config-check.ts). Undefined only
 * when `json` is no object at all.
 */
export function decodeMessagePartial(
  type: protobuf.Type,
  json: unknown,
  basePath = '',
): { value: PlainObject | undefined; problems: DecodeProblem[] } {
  const d = new ProtoJsonDecoder();
  const value = d.message(type, json, basePath);
  return { value, problems: d.problems };
}
