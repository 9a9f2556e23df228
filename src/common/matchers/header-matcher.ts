/**
 * Envoy's config.route.v3.HeaderMatcher (source/common/http/header_utility.cc), protocol-
 * neutral: Dubbo routes match it over request attachments, the HTTP router over headers.
 *
 * As with StringMatcher, `parseHeaderMatcher` (main process) produces plain JSON-serialisable
 * data and `compileHeaderMatcher` (worker) builds the matcher.
 *
 * Envoy semantics kept here:
 * - the header name is lower-cased (Envoy's LowerCaseString); the lookup the caller provides
 *   gets that lower-case name and must find the value case-insensitively (HTTP headers are
 *   lower-case already; Envoy lower-cases Dubbo attachment keys). Several values of one
 *   header are the caller's to join with ",", as Envoy does.
 * - a missing header (and treat_missing_header_as_empty false) matches only
 *   `present_match: false`, or `present_match: true` with invert_match; otherwise the missing
 *   header is taken as "" and the match runs, then invert_match applies.
 * - the deprecated `exact_match: ""` matches any value (unlike string_match exact "").
 * - range_match parses the value as absl::SimpleAtoi does (base 10, optional sign,
 *   surrounding ASCII whitespace allowed, int64) and matches [start, end).
 * - no match specifier means "present".
 */
import type { ProblemSink } from '../../api/network-filter.js';
import { obj, rejectUnsupported } from '../../config/plain-reader.js';
import {
  compileStringMatcher,
  parseRegexMatcher,
  parseStringMatcher,
  trackProblems,
  type StringMatcher,
  type StringMatcherConfig,
} from './string-matcher.js';

/** An int64 [start, end) range; bounds as base-10 strings so that they survive JSON. */
export interface Int64RangeConfig {
  start: string;
  end: string;
}

export type HeaderMatchConfig =
  /** Deprecated exact_match: an empty value matches any value. */
  | { kind: 'exact'; value: string }
  | { kind: 'string'; matcher: StringMatcherConfig }
  | { kind: 'range'; range: Int64RangeConfig }
  | { kind: 'present'; present: boolean };

/** Plain (JSON-serialisable) form of a HeaderMatcher. */
export interface HeaderMatcherConfig {
  /** Lower-cased. */
  name: string;
  match: HeaderMatchConfig;
  invert: boolean;
  treatMissingAsEmpty: boolean;
}

export interface HeaderMatcher {
  /** The lower-cased header name the matcher looks up. */
  readonly name: string;
  /** Matches using `get` to look up `name` (undefined = absent). */
  match(get: (name: string) => string | undefined): boolean;
  /**
   * Matches the value the caller looked up for `name` (undefined = absent). Lets hot paths
   * avoid creating a lookup closure per request.
   */
  matchValue(value: string | undefined): boolean;
}

const SPECIFIERS = [
  'exact_match', 'safe_regex_match', 'range_match', 'present_match', 'prefix_match', 'suffix_match', 'contains_match',
  'string_match',
] as const;
const HEADER_MATCHER_FIELDS = ['name', ...SPECIFIERS, 'invert_match', 'treat_missing_header_as_empty'];

/** Parses a checked envoy.config.route.v3.HeaderMatcher; undefined if any problem was reported. */
export function parseHeaderMatcher(proto: unknown, sink: ProblemSink): HeaderMatcherConfig | undefined {
  const tracked = trackProblems(sink);
  const config = parseHeaderMatcherInner(proto, tracked.sink);
  return tracked.count === 0 ? config : undefined;
}

function parseHeaderMatcherInner(proto: unknown, problems: ProblemSink): HeaderMatcherConfig | undefined {
  const h = obj(proto);
  if (!h) {
    problems.add('', 'a HeaderMatcher is required');
    return undefined;
  }
  rejectUnsupported(h, HEADER_MATCHER_FIELDS, 'HeaderMatcher', problems);
  const name = h['name'];
  let ok = true;
  if (typeof name !== 'string' || name === '') {
    problems.add('name', 'a non-empty header name is required');
    ok = false;
  }
  const set = SPECIFIERS.filter((f) => h[f] !== undefined);
  if (set.length > 1) {
    problems.add(set[1]!, `"${set[1]}" and "${set[0]}" are both set; only one match specifier is allowed`);
    return undefined;
  }
  const match = parseSpecifier(h, set[0], problems);
  if (!ok || !match) return undefined;
  return {
    name: (name as string).replace(/[A-Z]/g, (ch) => ch.toLowerCase()),
    match,
    invert: h['invert_match'] === true,
    treatMissingAsEmpty: h['treat_missing_header_as_empty'] === true,
  };
}

function parseSpecifier(
  h: Record<string, unknown>,
  which: (typeof SPECIFIERS)[number] | undefined,
  problems: ProblemSink,
): HeaderMatchConfig | undefined {
  const nonEmpty = (key: string): string | undefined => {
    const v = h[key];
    if (typeof v !== 'string' || v === '') {
      problems.add(key, 'must not be empty (use present_match to match any value)');
      return undefined;
    }
    return v;
  };
  switch (which) {
    case undefined:
      return { kind: 'present', present: true };
    case 'exact_match': {
      const v = h['exact_match'];
      if (typeof v !== 'string') {
        problems.add('exact_match', 'expected a string');
        return undefined;
      }
      return { kind: 'exact', value: v };
    }
    case 'safe_regex_match': {
      const regex = parseRegexMatcher(h['safe_regex_match'], problems.at('safe_regex_match'));
      return regex === undefined ? undefined : { kind: 'string', matcher: { kind: 'regex', regex } };
    }
    case 'range_match': {
      const range = parseInt64Range(h['range_match'], problems.at('range_match'));
      return range && { kind: 'range', range };
    }
    case 'present_match':
      return { kind: 'present', present: h['present_match'] === true };
    case 'prefix_match':
    case 'suffix_match':
    case 'contains_match': {
      const v = nonEmpty(which);
      if (v === undefined) return undefined;
      const kind = which === 'prefix_match' ? 'prefix' : which === 'suffix_match' ? 'suffix' : 'contains';
      return { kind: 'string', matcher: { kind, value: v, ignoreCase: false } };
    }
    case 'string_match': {
      const matcher = parseStringMatcher(h['string_match'], problems.at('string_match'));
      return matcher && { kind: 'string', matcher };
    }
  }
}

/** Parses a checked envoy.type.v3.Int64Range (int64 fields arrive as numbers or strings). */
export function parseInt64Range(proto: unknown, sink: ProblemSink): Int64RangeConfig | undefined {
  const tracked = trackProblems(sink);
  const range = parseInt64RangeInner(proto, tracked.sink);
  return tracked.count === 0 ? range : undefined;
}

function parseInt64RangeInner(proto: unknown, problems: ProblemSink): Int64RangeConfig | undefined {
  const r = obj(proto);
  if (!r) {
    problems.add('', 'an Int64Range is required');
    return undefined;
  }
  rejectUnsupported(r, ['start', 'end'], 'Int64Range', problems);
  const bound = (key: string): string | undefined => {
    const v = r[key];
    if (v === undefined) return '0';
    const text = typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' ? v : '';
    if (!/^-?\d+$/.test(text) || BigInt(text) < INT64_MIN || BigInt(text) > INT64_MAX) {
      problems.add(key, `expected an int64, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return BigInt(text).toString();
  };
  const start = bound('start');
  const end = bound('end');
  return start === undefined || end === undefined ? undefined : { start, end };
}

// ---------------------------------------------------------------------------------------------
// Int64 ranges.

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export interface Int64RangeMatcher {
  /** True if `value` parses as a base-10 int64 (absl::SimpleAtoi) in [start, end). */
  match(value: string): boolean;
}

function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

class Int64RangeMatcherImpl implements Int64RangeMatcher {
  private readonly startNum: number;
  private readonly endNum: number;
  private readonly startBig: bigint;
  private readonly endBig: bigint;

  constructor(range: Int64RangeConfig) {
    this.startBig = BigInt(range.start);
    this.endBig = BigInt(range.end);
    this.startNum = Number(range.start);
    this.endNum = Number(range.end);
  }

  match(value: string): boolean {
    let i = 0;
    let j = value.length;
    while (i < j && isAsciiSpace(value.charCodeAt(i))) i++;
    while (j > i && isAsciiSpace(value.charCodeAt(j - 1))) j--;
    let negative = false;
    const sign = value.charCodeAt(i);
    if (sign === 45 /* - */ || sign === 43 /* + */) {
      negative = sign === 45;
      i++;
    }
    if (i >= j) return false;
    // Leading zeros do not count towards the precision limit.
    let first = i;
    let n = 0;
    for (let k = i; k < j; k++) {
      const d = value.charCodeAt(k) - 48;
      if (d < 0 || d > 9) return false;
      if (n === 0 && d === 0) first = k + 1;
      n = n * 10 + d;
    }
    if (j - first <= 15) {
      // Exact as a double, and far enough from any bound beyond 2^53 that rounding of the
      // bounds cannot change the comparison.
      const v = negative ? -n : n;
      return v >= this.startNum && v < this.endNum;
    }
    if (j - first > 19) return false;
    const big = negative ? -BigInt(value.slice(first, j)) : BigInt(value.slice(first, j));
    if (big < INT64_MIN || big > INT64_MAX) return false;
    return big >= this.startBig && big < this.endBig;
  }
}

export function compileInt64Range(range: Int64RangeConfig): Int64RangeMatcher {
  return new Int64RangeMatcherImpl(range);
}

// ---------------------------------------------------------------------------------------------
// Compiled header matchers.

abstract class HeaderMatcherBase implements HeaderMatcher {
  constructor(
    readonly name: string,
    private readonly invert: boolean,
    private readonly treatMissingAsEmpty: boolean,
    /** The result for an absent header when it is not treated as empty. */
    private readonly whenMissing: boolean,
  ) {}

  match(get: (name: string) => string | undefined): boolean {
    return this.matchValue(get(this.name));
  }

  matchValue(value: string | undefined): boolean {
    if (value === undefined) {
      if (!this.treatMissingAsEmpty) return this.whenMissing;
      value = '';
    }
    return this.test(value) !== this.invert;
  }

  protected abstract test(value: string): boolean;
}

class ExactValueHeaderMatcher extends HeaderMatcherBase {
  constructor(name: string, invert: boolean, treatMissing: boolean, private readonly value: string) {
    super(name, invert, treatMissing, false);
  }
  protected test(v: string): boolean {
    return this.value === '' || v === this.value;
  }
}

class StringHeaderMatcher extends HeaderMatcherBase {
  constructor(name: string, invert: boolean, treatMissing: boolean, private readonly matcher: StringMatcher) {
    super(name, invert, treatMissing, false);
  }
  protected test(v: string): boolean {
    return this.matcher.match(v);
  }
}

class RangeHeaderMatcher extends HeaderMatcherBase {
  constructor(name: string, invert: boolean, treatMissing: boolean, private readonly range: Int64RangeMatcher) {
    super(name, invert, treatMissing, false);
  }
  protected test(v: string): boolean {
    return this.range.match(v);
  }
}

class PresentHeaderMatcher extends HeaderMatcherBase {
  constructor(name: string, invert: boolean, treatMissing: boolean, private readonly present: boolean) {
    // Envoy: an absent header matches present_match false, or present_match true inverted.
    super(name, invert, treatMissing, invert ? present : !present);
  }
  protected test(): boolean {
    return this.present;
  }
}

export function compileHeaderMatcher(c: HeaderMatcherConfig): HeaderMatcher {
  const m = c.match;
  switch (m.kind) {
    case 'exact':
      return new ExactValueHeaderMatcher(c.name, c.invert, c.treatMissingAsEmpty, m.value);
    case 'string':
      return new StringHeaderMatcher(c.name, c.invert, c.treatMissingAsEmpty, compileStringMatcher(m.matcher));
    case 'range':
      return new RangeHeaderMatcher(c.name, c.invert, c.treatMissingAsEmpty, compileInt64Range(m.range));
    case 'present':
      return new PresentHeaderMatcher(c.name, c.invert, c.treatMissingAsEmpty, m.present);
  }
}

/** True if every matcher matches (Envoy's HeaderUtility::matchHeaders); true for none. */
export function matchAllHeaders(matchers: readonly HeaderMatcher[], get: (name: string) => string | undefined): boolean {
  for (let i = 0; i < matchers.length; i++) if (!matchers[i]!.matchValue(get(matchers[i]!.name))) return false;
  return true;
}
