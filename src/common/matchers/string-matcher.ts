/**
 * Envoy's type.matcher.v3.StringMatcher (source/common/common/matchers.h StringMatcherImpl),
 * protocol-neutral: used by Dubbo method matching and header matchers, later by the HTTP
 * router.
 *
 * Two steps, because config is checked on the main process and matchers run on workers:
 * `parseStringMatcher` turns the checked proto value (see src/config/proto-json.ts) into plain,
 * JSON-serialisable `StringMatcherConfig`, reporting problems by field path;
 * `compileStringMatcher` builds the matcher from that data on a worker.
 *
 * Semantics as in Envoy: ignore_case folds ASCII letters only (absl::EqualsIgnoreCase);
 * safe_regex must match the whole value (RE2 FullMatch); ignore_case with safe_regex is an
 * error. Regexes are RE2 (./re2.ts): RE2 syntax, what RE2 refuses (look-around,
 * back-references) refused with the field's path, Envoy's program size limit, and matching
 * in linear time, so a hostile value cannot stall a worker.
 */
import type { ProblemSink } from '../../api/network-filter.js';
import { obj, rejectUnsupported } from '../../config/plain-reader.js';
import { checkRe2, compileRe2, RE2_DEFAULT_MAX_PROGRAM_SIZE, type Re2Regex } from './re2.js';

/** Plain (JSON-serialisable) form of a StringMatcher. */
export type StringMatcherConfig =
  | { kind: 'exact' | 'prefix' | 'suffix' | 'contains'; value: string; ignoreCase: boolean }
  /** `regex` is the RE2 pattern as configured; it must match the whole value. */
  | { kind: 'regex'; regex: string };

export interface StringMatcher {
  match(value: string): boolean;
}

/**
 * Wraps `sink` so that the caller can tell whether anything was reported through it (or
 * through sinks derived from it with `at`).
 */
export function trackProblems(sink: ProblemSink): { sink: ProblemSink; readonly count: number } {
  const state = { count: 0 };
  const wrap = (inner: ProblemSink): ProblemSink => ({
    add(relPath, message) {
      state.count++;
      inner.add(relPath, message);
    },
    at(relPath) {
      return wrap(inner.at(relPath));
    },
  });
  return {
    sink: wrap(sink),
    get count() {
      return state.count;
    },
  };
}

const PATTERN_FIELDS = ['exact', 'prefix', 'suffix', 'safe_regex', 'contains'] as const;
const STRING_MATCHER_FIELDS = [...PATTERN_FIELDS, 'ignore_case'];

/**
 * Parses a checked envoy.type.matcher.v3.StringMatcher. Returns undefined if any problem was
 * reported. Unsupported members (`custom`) are refused by name.
 */
export function parseStringMatcher(proto: unknown, sink: ProblemSink): StringMatcherConfig | undefined {
  const tracked = trackProblems(sink);
  const config = parseStringMatcherInner(proto, tracked.sink);
  return tracked.count === 0 ? config : undefined;
}

function parseStringMatcherInner(proto: unknown, problems: ProblemSink): StringMatcherConfig | undefined {
  const m = obj(proto);
  if (!m) {
    problems.add('', 'a StringMatcher is required');
    return undefined;
  }
  rejectUnsupported(m, STRING_MATCHER_FIELDS, 'StringMatcher', problems);
  const set = PATTERN_FIELDS.filter((f) => m[f] !== undefined);
  if (set.length === 0) {
    if (m['custom'] === undefined) problems.add('', `one of ${PATTERN_FIELDS.join(', ')} is required in StringMatcher`);
    return undefined;
  }
  if (set.length > 1) {
    problems.add(set[1]!, `"${set[1]}" and "${set[0]}" are both set; only one match pattern is allowed`);
    return undefined;
  }
  const kind = set[0]!;
  const ignoreCase = m['ignore_case'] === true;
  if (kind === 'safe_regex') {
    if (ignoreCase) {
      problems.add('ignore_case', 'ignore_case has no effect for safe_regex (Envoy refuses it)');
      return undefined;
    }
    const regex = parseRegexMatcher(m['safe_regex'], problems.at('safe_regex'));
    return regex === undefined ? undefined : { kind: 'regex', regex };
  }
  const value = m[kind];
  if (typeof value !== 'string') {
    problems.add(kind, 'expected a string');
    return undefined;
  }
  if (kind !== 'exact' && value === '') {
    problems.add(kind, 'must not be empty');
    return undefined;
  }
  return { kind, value, ignoreCase };
}

/**
 * Parses a checked envoy.type.matcher.v3.RegexMatcher {google_re2, regex} and checks the pattern
 * as Envoy does (RE2 accepts it; its program size is within google_re2.max_program_size if
 * set, else Envoy's default error level of 100); returns the RE2 pattern, or undefined if any
 * problem was reported.
 */
export function parseRegexMatcher(proto: unknown, sink: ProblemSink): string | undefined {
  const tracked = trackProblems(sink);
  const regex = parseRegexMatcherInner(proto, tracked.sink);
  return tracked.count === 0 ? regex : undefined;
}

function parseRegexMatcherInner(proto: unknown, problems: ProblemSink): string | undefined {
  const r = obj(proto);
  if (!r) {
    problems.add('', 'a RegexMatcher is required');
    return undefined;
  }
  rejectUnsupported(r, ['google_re2', 'regex'], 'RegexMatcher', problems);
  const re2 = obj(r['google_re2']);
  if (re2) rejectUnsupported(re2, ['max_program_size'], 'RegexMatcher.GoogleRE2', problems.at('google_re2'));
  // The deprecated per-regex limit replaces the runtime's, as in Envoy.
  const configuredMax = re2?.['max_program_size'];
  const maxProgramSize = typeof configuredMax === 'number' ? configuredMax : RE2_DEFAULT_MAX_PROGRAM_SIZE;
  const regex = r['regex'];
  if (typeof regex !== 'string' || regex === '') {
    problems.add('regex', 'a non-empty regex is required');
    return undefined;
  }
  const checked = checkRe2(regex, maxProgramSize);
  if ('error' in checked) {
    problems.add('regex', `invalid regex "${regex}": ${checked.error}`);
    return undefined;
  }
  return regex;
}

/** Parses and compiles in one step (for callers that run where the config is checked). */
export function stringMatcherFrom(proto: unknown, problems: ProblemSink): StringMatcher | undefined {
  const c = parseStringMatcher(proto, problems);
  return c && compileStringMatcher(c);
}

// ---------------------------------------------------------------------------------------------
// Compiled matchers. No allocation per match (ASCII case folding is done char by char).

function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** True if value[at, at + lowered.length) equals `lowered` with ASCII letters folded. */
function regionEqualsIgnoreCase(value: string, at: number, lowered: string): boolean {
  for (let i = 0; i < lowered.length; i++) {
    let c = value.charCodeAt(at + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== lowered.charCodeAt(i)) return false;
  }
  return true;
}

class ExactMatcher implements StringMatcher {
  constructor(private readonly value: string) {}
  match(v: string): boolean {
    return v === this.value;
  }
}
class PrefixMatcher implements StringMatcher {
  constructor(private readonly value: string) {}
  match(v: string): boolean {
    return v.startsWith(this.value);
  }
}
class SuffixMatcher implements StringMatcher {
  constructor(private readonly value: string) {}
  match(v: string): boolean {
    return v.endsWith(this.value);
  }
}
class ContainsMatcher implements StringMatcher {
  constructor(private readonly value: string) {}
  match(v: string): boolean {
    return v.includes(this.value);
  }
}
class ExactIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly lowered: string) {}
  match(v: string): boolean {
    return v.length === this.lowered.length && regionEqualsIgnoreCase(v, 0, this.lowered);
  }
}
class PrefixIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly lowered: string) {}
  match(v: string): boolean {
    return v.length >= this.lowered.length && regionEqualsIgnoreCase(v, 0, this.lowered);
  }
}
class SuffixIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly lowered: string) {}
  match(v: string): boolean {
    const at = v.length - this.lowered.length;
    return at >= 0 && regionEqualsIgnoreCase(v, at, this.lowered);
  }
}
class ContainsIgnoreCaseMatcher implements StringMatcher {
  constructor(private readonly lowered: string) {}
  match(v: string): boolean {
    const last = v.length - this.lowered.length;
    for (let at = 0; at <= last; at++) if (regionEqualsIgnoreCase(v, at, this.lowered)) return true;
    return false;
  }
}
class RegexFullMatcher implements StringMatcher {
  constructor(private readonly re: Re2Regex) {}
  match(v: string): boolean {
    return this.re.fullMatch(v);
  }
}

/** Builds the matcher. Throws only for a config that `parseStringMatcher` would have refused. */
export function compileStringMatcher(config: StringMatcherConfig): StringMatcher {
  if (config.kind === 'regex') return new RegexFullMatcher(compileRe2(config.regex));
  const { value, ignoreCase } = config;
  // Case folding changes nothing for a value without ASCII letters.
  if (ignoreCase && /[A-Za-z]/.test(value)) {
    const lowered = lowerAscii(value);
    switch (config.kind) {
      case 'exact':
        return new ExactIgnoreCaseMatcher(lowered);
      case 'prefix':
        return new PrefixIgnoreCaseMatcher(lowered);
      case 'suffix':
        return new SuffixIgnoreCaseMatcher(lowered);
      case 'contains':
        return new ContainsIgnoreCaseMatcher(lowered);
    }
  }
  switch (config.kind) {
    case 'exact':
      return new ExactMatcher(value);
    case 'prefix':
      return new PrefixMatcher(value);
    case 'suffix':
      return new SuffixMatcher(value);
    case 'contains':
      return new ContainsMatcher(value);
  }
}
