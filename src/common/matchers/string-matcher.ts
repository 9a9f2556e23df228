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
 * error. Regexes use RE2 syntax and are translated to an anchored JS RegExp (`translateRe2`);
 * what RE2 refuses (look-around, back-references) is refused here too, so a config that
 * loads in Courier also loads in Envoy. Note that JS RegExp backtracks where RE2 does not:
 * a pathological pattern can be slow on hostile input.
 */
import type { ProblemSink } from '../../api/network-filter.js';
import { obj, rejectUnsupported, type Obj } from '../../config/plain-reader.js';

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
 * Parses a checked envoy.type.matcher.v3.RegexMatcher {google_re2, regex} and checks that the
 * pattern compiles; returns the RE2 pattern, or undefined if any problem was reported.
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
  if (re2) rejectUnsupported(re2, [], 'RegexMatcher.GoogleRE2', problems.at('google_re2'));
  const regex = r['regex'];
  if (typeof regex !== 'string' || regex === '') {
    problems.add('regex', 'a non-empty regex is required');
    return undefined;
  }
  const t = translateRe2(regex);
  if ('error' in t) {
    problems.add('regex', `invalid regex "${regex}": ${t.error}`);
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
  constructor(private readonly re: RegExp) {}
  match(v: string): boolean {
    return this.re.test(v);
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

// ---------------------------------------------------------------------------------------------
// RE2 → JS RegExp.

/** Compiles an RE2 pattern to a JS RegExp that matches whole strings only. Throws on error. */
export function compileRe2(pattern: string): RegExp {
  const t = translateRe2(pattern);
  if ('error' in t) throw new Error(`invalid regex "${pattern}": ${t.error}`);
  return new RegExp(t.source, t.flags);
}

/** JS class contents for RE2's ASCII classes ([[:alpha:]] …). */
const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

/** Characters that must stay escaped in a JS `u` RegExp (outside a class; `-` too inside one). */
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
/** RE2's \s is ASCII only, unlike JS's. */
const RE2_SPACE = '\\t\\n\\f\\r ';

/** RE2 flag groups such as (?i) or (?s-m), read at the start of a pattern. */
const FLAG_GROUP = /\(\?([A-Za-z]*)(?:-([A-Za-z]*))?\)/y;

function isPunct(c: string): boolean {
  const code = c.charCodeAt(0);
  return code < 0x80 && code > 0x20 && !/[0-9A-Za-z]/.test(c);
}

function escapeLiteral(c: string, inClass: boolean): string {
  if (JS_SYNTAX.has(c) || (inClass && c === '-')) return `\\${c}`;
  const code = c.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  return c;
}

function unicodeProperty(name: string, negated: boolean): string | undefined {
  const letter = negated ? 'P' : 'p';
  for (const candidate of name === 'Any' ? ['Any'] : [name, `Script=${name}`]) {
    const text = `\\${letter}{${candidate}}`;
    try {
      new RegExp(text, 'u');
      return text;
    } catch {
      // try the next spelling
    }
  }
  return undefined;
}

/**
 * Translates RE2 syntax to a JS RegExp (flag `u`) that must match the whole input, as Envoy's
 * RE2 FullMatch does. Handles RE2's leading flag group `(?ims)`, `(?P<name>`, `\A` `\z`,
 * `\Q…\E`, `\x{…}`, `\pL` and `\p{Greek}`, POSIX classes, octal escapes, escaped punctuation,
 * literal braces and brackets, RE2's `.` (everything but `\n`) and ASCII `\s`. Refuses what RE2
 * refuses: look-around, back-references, mid-pattern flags, repeat counts over 1000.
 */
export function translateRe2(pattern: string): { source: string; flags: string } | { error: string } {
  let i = 0;
  const n = pattern.length;
  let dotAll = false;
  let multiLine = false;
  let ignoreCase = false;
  // Leading flag groups apply to the whole pattern.
  for (;;) {
    FLAG_GROUP.lastIndex = i;
    const m = FLAG_GROUP.exec(pattern);
    if (!m || m[0] === '(?)') break;
    const on = m[1]!;
    const off = m[2] ?? '';
    for (const f of on + off) {
      if (!'ims'.includes(f)) return { error: `flag "${f}" is not supported` };
    }
    if (on.includes('i')) ignoreCase = true;
    if (on.includes('m')) multiLine = true;
    if (on.includes('s')) dotAll = true;
    if (off.includes('i')) ignoreCase = false;
    if (off.includes('m')) multiLine = false;
    if (off.includes('s')) dotAll = false;
    i = FLAG_GROUP.lastIndex;
  }
  let out = '';
  let inClass = false;
  const startAnchor = multiLine ? '(?<![\\s\\S])' : '^';
  const endAnchor = multiLine ? '(?![\\s\\S])' : '$';
  while (i < n) {
    const c = pattern[i]!;
    if (c === '\\') {
      if (i + 1 >= n) return { error: 'trailing backslash' };
      const d = pattern[i + 1]!;
      i += 2;
      if (d >= '0' && d <= '7' && (d === '0' || (pattern[i]! >= '0' && pattern[i]! <= '7'))) {
        // Octal: \0, \012, \12 (a lone \1-\7 is a back-reference).
        let digits = d;
        while (digits.length < 3 && i < n && pattern[i]! >= '0' && pattern[i]! <= '7') digits += pattern[i++];
        out += `\\u{${parseInt(digits, 8).toString(16)}}`;
      } else if (d >= '1' && d <= '9') {
        return { error: 'back-references are not supported (RE2)' };
      } else if (d === 'A' || d === 'z') {
        if (inClass) return { error: `\\${d} is not allowed in a character class` };
        out += d === 'A' ? startAnchor : endAnchor;
      } else if (d === 'Q') {
        const end = pattern.indexOf('\\E', i);
        const literal = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        for (const ch of literal) out += escapeLiteral(ch, inClass);
        i = end < 0 ? n : end + 2;
      } else if (d === 'E') {
        // A stray \E is ignored by RE2.
      } else if (d === 'x') {
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          const hex = end < 0 ? '' : pattern.slice(i + 1, end);
          if (!/^[0-9A-Fa-f]{1,6}$/.test(hex) || parseInt(hex, 16) > 0x10ffff) return { error: 'invalid \\x{...} escape' };
          out += `\\u{${hex}}`;
          i = end + 1;
        } else {
          const hex = pattern.slice(i, i + 2);
          if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: 'invalid \\x escape' };
          out += `\\x${hex}`;
          i += 2;
        }
      } else if (d === 'p' || d === 'P') {
        let name: string;
        if (pattern[i] === '{') {
          const end = pattern.indexOf('}', i);
          if (end < 0) return { error: 'unterminated \\p{...}' };
          name = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          if (i >= n) return { error: `trailing \\${d}` };
          name = pattern[i++]!;
        }
        let negated = d === 'P';
        if (name.startsWith('^')) {
          negated = !negated;
          name = name.slice(1);
        }
        const prop = unicodeProperty(name, negated);
        if (!prop) return { error: `unknown Unicode class "${name}"` };
        out += prop;
      } else if (d === 's') {
        out += inClass ? RE2_SPACE : `[${RE2_SPACE}]`;
      } else if (d === 'S') {
        if (inClass) return { error: '\\S inside a character class is not supported by Courier' };
        out += `[^${RE2_SPACE}]`;
      } else if (d === 'a') {
        out += '\\x07';
      } else if ('dDwWbBftnrv'.includes(d)) {
        if (inClass && (d === 'b' || d === 'B')) return { error: `\\${d} is not allowed in a character class` };
        out += `\\${d}`;
      } else if (isPunct(d)) {
        out += escapeLiteral(d, inClass);
      } else {
        return { error: `invalid escape \\${d}` };
      }
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        out += ']';
        i++;
      } else if (c === '[' && pattern[i + 1] === ':') {
        const end = pattern.indexOf(':]', i + 2);
        if (end < 0) {
          out += '\\[';
          i++;
          continue;
        }
        const name = pattern.slice(i + 2, end);
        if (name.startsWith('^')) return { error: `negated class [:${name}:] is not supported by Courier` };
        const ranges = POSIX_CLASSES[name];
        if (ranges === undefined) return { error: `unknown class [:${name}:]` };
        out += ranges;
        i = end + 2;
      } else {
        out += c === '[' ? '\\[' : c;
        i++;
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += '[';
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      // A ']' first in a class is literal in RE2 (JS would read "[]" as an empty class).
      if (pattern[i] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(') {
      if (pattern[i + 1] !== '?') {
        out += '(';
        i++;
      } else if (pattern.startsWith('(?:', i)) {
        out += '(?:';
        i += 3;
      } else if (pattern.startsWith('(?P<', i)) {
        out += '(?<';
        i += 4;
      } else if (/^\(\?<[A-Za-z_]/.test(pattern.slice(i, i + 4))) {
        out += '(?<';
        i += 3;
      } else if (/^\(\?(=|!|<=|<!)/.test(pattern.slice(i, i + 4))) {
        return { error: 'look-around assertions are not supported (RE2)' };
      } else if (/^\(\?[A-Za-z-]*[:)]/.test(pattern.slice(i))) {
        return { error: 'flags are supported only at the start of the pattern, like (?i)' };
      } else {
        return { error: 'invalid group' };
      }
      continue;
    }
    if (c === '{') {
      const rep = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i, i + 24));
      if (rep) {
        if (Number(rep[1]) > 1000 || (rep[3] && Number(rep[3]) > 1000)) return { error: 'repeat count over 1000 (RE2 limit)' };
        if (rep[3] && Number(rep[3]) < Number(rep[1])) return { error: 'invalid repeat count' };
        out += rep[0];
        i += rep[0].length;
      } else {
        out += '\\{';
        i++;
      }
      continue;
    }
    if (c === '}' || c === ']') {
      out += `\\${c}`;
      i++;
      continue;
    }
    if (c === '.') {
      out += dotAll ? '[\\s\\S]' : '[^\\n]';
      i++;
      continue;
    }
    if (c === '^' || c === '$') {
      // Without (?m) these are the text's ends in RE2 as in JS; with it, line ends.
      out += c;
      i++;
      continue;
    }
    out += c;
    i++;
  }
  if (inClass) return { error: 'missing closing ]' };
  const flags = `u${ignoreCase ? 'i' : ''}${multiLine ? 'm' : ''}`;
  const source = `${startAnchor}(?:${out})${endAnchor}`;
  try {
    new RegExp(source, flags);
  } catch (e) {
    return { error: (e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '') };
  }
  return { source, flags };
}
