/**
 * RE2 regexes, as Envoy's google_re2 engine runs them: RE2 syntax, RE2's refusals and linear
 * matching time whatever the pattern and the input.
 *
 * Every regex that comes from config (safe_regex in routes, header, query-parameter and string
 * matchers, Dubbo and MetaProtocol routes) or from an admin query (`/stats?filter=`) is compiled
 * here, once, when the config or the query arrives; a request only runs `fullMatch` or `test`.
 * The engine is `re2js`, a pure-JS port of RE2/J: it simulates the automaton (DFA, falling back
 * to a Pike VM) instead of backtracking, so a pattern like `/re/([a-z]+)*[0-9]` costs the same
 * few hundred nanoseconds on a hostile 30-byte path as on a friendly one, where V8's
 * backtracking RegExp took seconds. docs/benchmarks.md ("Regex engines") has the measurements
 * that chose it over V8's experimental linear engine and re2-wasm.
 *
 * Program size: Envoy refuses a regex whose RE2 program is larger than the runtime's
 * `re2.max_program_size.error_level` (default 100), or than the deprecated
 * `google_re2.max_program_size` when that is set. Courier applies the same limits to re2js's
 * program size. RE2/J compiles to a program over code points where C++ RE2 compiles to one over
 * UTF-8 bytes, so the two counts agree for ASCII patterns to within a few instructions
 * (`/api/v[0-9]+/users/[0-9]+`: 19 here, 21 in RE2) but are far apart for large Unicode classes
 * (`\pL+`: 4 here, 1198 in RE2). The limit is a guard against huge programs, not a promise that
 * both proxies draw the line at the same pattern.
 */
import { RE2JS } from 're2js';

/** Envoy's default for the runtime key re2.max_program_size.error_level. */
export const RE2_DEFAULT_MAX_PROGRAM_SIZE = 100;

/** A compiled RE2 regex. Stateless: one instance serves every request. */
export class Re2Regex {
  /** @internal Use compileRe2. */
  constructor(
    private readonly re: RE2JS,
    /** The pattern as configured. */
    readonly pattern: string,
  ) {}

  /** RE2::FullMatch: the whole of `value` matches (what every Envoy safe_regex matcher does). */
  fullMatch(value: string): boolean {
    return this.re.testExact(value);
  }

  /** RE2::PartialMatch: some part of `value` matches (RegExp.test's meaning; `/stats?filter=`). */
  test(value: string): boolean {
    return this.re.test(value);
  }

  /**
   * RE2::PartialMatch with captures: the [start, end) of groups 1..`groups` of the leftmost
   * match (undefined for a group that took no part), or undefined when nothing matches.
   */
  searchGroups(value: string, groups: number): Array<[number, number] | undefined> | undefined {
    const m = this.re.matcher(value);
    if (!m.find()) return undefined;
    const out: Array<[number, number] | undefined> = [];
    const n = Math.min(groups, m.groupCount());
    for (let g = 1; g <= n; g++) {
      const start = m.start(g);
      out.push(start < 0 ? undefined : [start, m.end(g)]);
    }
    return out;
  }

  /** Number of capturing groups in the pattern. */
  groupCount(): number {
    return this.re.groupCount();
  }

  /** RE2/J's program size (see the module comment for how it relates to C++ RE2's). */
  programSize(): number {
    return this.re.programSize();
  }
}

/** Thrown by compileRe2 for a pattern that checkRe2 would refuse. */
export class Re2SyntaxError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid regex "${pattern}": ${reason}`);
    this.name = 'Re2SyntaxError';
  }
}

/**
 * Compiles an RE2 pattern (no program size check: the config was checked on main with
 * checkRe2, and admin queries are not subject to it, as in Envoy). Throws Re2SyntaxError.
 */
export function compileRe2(pattern: string): Re2Regex {
  try {
    return new Re2Regex(RE2JS.compile(pattern), pattern);
  } catch (e) {
    throw new Re2SyntaxError(pattern, explainRe2Error(pattern, e));
  }
}

/**
 * Checks a config regex the way Envoy's CompiledGoogleReMatcher does: RE2 must accept it, and
 * its program size must not exceed `maxProgramSize`. Returns the program size or the reason.
 */
export function checkRe2(pattern: string, maxProgramSize = RE2_DEFAULT_MAX_PROGRAM_SIZE): { programSize: number } | { error: string } {
  let re: Re2Regex;
  try {
    re = compileRe2(pattern);
  } catch (e) {
    return { error: (e as Re2SyntaxError).reason };
  }
  const programSize = re.programSize();
  if (programSize > maxProgramSize) {
    return {
      error:
        `RE2 program size of ${programSize} > max program size of ${maxProgramSize}` +
        ' (simplify the regex, or raise google_re2.max_program_size)',
    };
  }
  return { programSize };
}

const LOOK_AROUND = /\(\?<?[=!]/;
const BACK_REFERENCE = /invalid escape sequence: `\\[1-9]/;

/** RE2's own message, with the reason spelled out for the two refusals people trip over. */
function explainRe2Error(pattern: string, e: unknown): string {
  const message = (e instanceof Error ? e.message : String(e)).replace(/^error parsing regexp: /, '');
  if (LOOK_AROUND.test(pattern) && /Perl syntax|named capture/.test(message)) {
    return `look-around assertions ((?=, (?!, (?<=, (?<!) are not supported by RE2 (${message})`;
  }
  if (BACK_REFERENCE.test(message)) return `back-references are not supported by RE2 (${message})`;
  return message;
}
