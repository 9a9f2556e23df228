/**
 * Runtime values → RuntimeEntry, as Envoy's SnapshotImpl::createEntry reads them. MAIN only
 * (it loads YAML).
 *
 * - A number: its double; an integral one below 2^31 is also a boolean (0 = false); one ≥ 0
 *   is also an integer, floored ("3.7" reads as 3).
 * - A boolean: itself (raw "true"/"false").
 * - A struct (only `numerator`, `denominator` fields): a FractionalPercent, denominator
 *   HUNDRED unless TEN_THOUSAND or MILLION is named; any other field makes it no fraction.
 * - A string: a number when it parses as one, and, as Envoy still does for old YAML, a
 *   boolean for "true"/"false" (any case) and a fraction when it mentions `numerator: N`.
 * Text from the admin layer (/runtime_modify) and from files of a disk layer is loaded as a
 * YAML scalar or map first (Envoy's ValueUtil::loadFromYaml): `5` is a number, `true` (and
 * yaml-cpp's yes/on/y) a boolean, `{numerator: 5}` a struct, and the raw string stays the
 * text as given.
 */
import { parse as parseYaml } from 'yaml';
import type { FractionalPercent } from '../../api/runtime.js';
import type { RuntimeEntry } from './runtime-snapshot.js';

const DENOMINATORS: Record<string, FractionalPercent['denominator']> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
const INT_MAX = 2 ** 31 - 1;

function numberEntry(raw: string, value: number): RuntimeEntry {
  const out: { raw: string; double: number; bool?: boolean; uint?: number } = { raw, double: value };
  if (value < INT_MAX && Number.isInteger(value)) out.bool = value !== 0;
  if (value >= 0 && Number.isFinite(value)) out.uint = Math.floor(value);
  return out;
}

/** Envoy's parseFractionValue: a struct of numerator and denominator, nothing else. */
function structFraction(s: Record<string, unknown>): FractionalPercent | undefined {
  let numerator = 0;
  let denominator: FractionalPercent['denominator'] = 100;
  for (const [k, v] of Object.entries(s)) {
    if (k === 'numerator') {
      if (typeof v === 'number') numerator = Math.max(0, Math.min(0xffff_ffff, Math.trunc(v)));
    } else if (k === 'denominator' && typeof v === 'string') {
      const d = DENOMINATORS[v];
      if (d === undefined) return undefined;
      denominator = d;
    } else {
      return undefined;
    }
  }
  return { numerator, denominator };
}

/** absl::SimpleAtod on a decimal: surrounding whitespace allowed, nothing else. */
const DECIMAL = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;
const NUMERATOR = /numerator\D+(\d+)\D*$/s;

function stringEntry(raw: string): RuntimeEntry {
  const out: { raw: string; double?: number; bool?: boolean; uint?: number; fraction?: FractionalPercent } = { raw };
  if (DECIMAL.test(raw)) Object.assign(out, numberEntry(raw, Number(raw)));
  const trimmed = raw.trim().toLowerCase();
  if (trimmed === 'true' || trimmed === 'false') out.bool = trimmed === 'true';
  if (raw.includes('numerator')) {
    const m = NUMERATOR.exec(raw);
    const numerator = m ? Number(m[1]) : NaN;
    if (Number.isInteger(numerator) && numerator <= 0xffff_ffff) {
      const denominator = !raw.includes('denominator') ? 100 : raw.includes('MILLION') ? 1_000_000 : raw.includes('TEN_THOUSAND') ? 10_000 : 100;
      out.fraction = { numerator, denominator };
    }
  }
  return out;
}

/**
 * A google.protobuf.Value (as JSON) → entry. `raw` is the text it came from, if any
 * (admin, disk); otherwise the raw string is made from the value. Lists and nulls are not
 * runtime values: the caller refuses them (static layer) or keeps them as plain strings.
 */
export function entryFromValue(value: unknown, raw?: string): RuntimeEntry {
  if (typeof value === 'number') return numberEntry(raw ?? String(value), value);
  if (typeof value === 'boolean') return { raw: raw ?? String(value), bool: value };
  if (typeof value === 'string') return stringEntry(raw ?? value);
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const fraction = structFraction(value as Record<string, unknown>);
    const text = raw ?? JSON.stringify(value);
    return fraction ? { raw: text, fraction } : { raw: text };
  }
  return { raw: raw ?? '' };
}

/** yaml-cpp's booleans (YAML::convert<bool>): y/yes/true/on and their opposites, in three casings. */
const YAML_BOOLEANS = new Map<string, boolean>();
for (const [t, f] of [['y', 'n'], ['yes', 'no'], ['true', 'false'], ['on', 'off']] as const) {
  for (const [word, v] of [[t, true], [f, false]] as const) {
    for (const form of [word, word.toUpperCase(), word[0]!.toUpperCase() + word.slice(1)]) YAML_BOOLEANS.set(form, v);
  }
}

/** Text as Envoy's ValueUtil::loadFromYaml reads it, then as an entry with that text as raw. */
export function entryFromText(text: string): RuntimeEntry {
  const t = text.trim();
  const b = YAML_BOOLEANS.get(t);
  if (b !== undefined) return { raw: text, bool: b };
  if (DECIMAL.test(t)) return numberEntry(text, Number(t));
  if (t.startsWith('{') || /^[\w.-]+\s*:/m.test(t)) {
    try {
      const parsed: unknown = parseYaml(t);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return entryFromValue(parsed, text);
    } catch {
      /* not YAML: a plain string */
    }
  }
  const unquoted = /^(['"])(.*)\1$/s.exec(t);
  return { ...stringEntry(unquoted ? unquoted[2]! : text), raw: text };
}
