/**
 * Config regexes are RE2 (src/common/matchers/re2.ts): RE2's syntax and semantics, RE2's
 * refusals, Envoy's program size limit, and matching time linear in the input.
 *
 * The accepted and refused tables were also run through C++ RE2 (Debian's libre2 2022-06-01,
 * RE2(pattern).ok() and RE2::FullMatch) when they were written, with the same results except
 * where a row says otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkRe2, compileRe2, Re2SyntaxError, RE2_DEFAULT_MAX_PROGRAM_SIZE } from '../../src/common/matchers/re2.js';
import { compileStringMatcher, parseStringMatcher } from '../../src/common/matchers/string-matcher.js';
import { ProblemCollector } from '../../src/config/config-error.js';

/** [pattern, input, FullMatch result, why the row is here]. */
const ACCEPTED: ReadonlyArray<readonly [string, string, boolean, string]> = [
  ['(?i)abc', 'ABC', true, 'leading flags'],
  ['a(?i)bc', 'aBC', true, 'flags mid-pattern'],
  ['a(?i)bc', 'ABC', false, 'flags apply from where they stand'],
  ['(?i:b)c', 'Bc', true, 'flag groups'],
  ['(?U)a+', 'aaa', true, 'ungreedy flag (FullMatch still takes all)'],
  ['(?s)a.b', 'a\nb', true, '(?s)'],
  ['a.b', 'a\nb', false, '. excludes \\n'],
  ['a.b', 'a\rb', true, 'but not \\r'],
  ['.', '😀', true, '. is one code point, not one UTF-16 unit'],
  ['(?P<year>\\d{4})-\\d\\d', '2024-01', true, '(?P<name>)'],
  ['(?<year>\\d{4})', '2024', true, '(?<name>) (RE2 since 2023; the 2022 libre2 refuses it)'],
  ['\\Aabc\\z', 'abc', true, '\\A and \\z'],
  ['a$', 'a\n', false, '$ is the end of the text without (?m)'],
  ['(?m)^a$\\nb', 'a\nb', true, '(?m) line anchors'],
  ['\\Qa.b*\\E+', 'a.b*a.b*', false, '\\Q…\\E quotes; + applies to the last char only'],
  ['\\Qa.b\\E', 'a.b', true, '\\Q…\\E'],
  ['\\Qa.b\\E', 'axb', false, '\\Q…\\E is literal'],
  ['[[:alpha:]]+[[:digit:]]', 'abc1', true, 'POSIX classes'],
  ['[[:^alpha:]]+', '123', true, 'negated POSIX classes'],
  ['\\pL+', 'héllo', true, '\\pL'],
  ['\\p{Greek}+', 'αβγ', true, 'script names'],
  ['\\PL', '1', true, '\\PL'],
  ['\\x{263a}', '☺', true, '\\x{...}'],
  ['\\x41', 'A', true, '\\xHH'],
  ['\\101', 'A', true, 'octal'],
  ['a\\-b\\:c\\_d', 'a-b:c_d', true, 'escaped punctuation'],
  ['a{,2}', 'a{,2}', true, 'a brace that is no repeat is literal'],
  ['[]a]+', ']a]', true, '] first in a class is literal'],
  ['\\s', '\u00a0', false, '\\s is ASCII'],
  ['\\s', '\t', true, '\\s'],
  ['\\w+', 'é', false, '\\w is ASCII'],
  ['a|ab', 'ab', true, 'FullMatch tries every alternative'],
  ['x{1000}', 'x'.repeat(1000), true, 'a repeat count of 1000 is allowed (program size aside)'],
];

/** [pattern, what the reason must say]. */
const REFUSED: ReadonlyArray<readonly [string, RegExp]> = [
  ['(?=a)a', /^look-around/],
  ['(?!a)b', /^look-around/],
  ['(?<=a)b', /^look-around/],
  ['(?<!a)b', /^look-around/],
  ['(a)\\1', /^back-references are not supported/],
  ['(?P<n>a)(?P=n)', /invalid named capture|Perl/],
  ['(a', /missing closing \)/],
  ['a)', /unexpected \)|missing/],
  ['a**', /nested repetition/],
  ['a++', /nested repetition/],
  ['*a', /missing argument to repetition operator/],
  ['a{1001}', /invalid repeat count/],
  ['a{2,1}', /invalid repeat count/],
  ['[z-a]', /invalid character class range/],
  ['[a', /missing closing \]/],
  ['[[:foo:]]', /invalid character class range/],
  ['\\i', /invalid escape/],
  ['\\Z', /invalid escape/],
  ['\\8', /invalid escape/],
  ['\\pX', /invalid character class range/],
  ['\\C', /invalid escape/], // C++ RE2 accepts \C (any byte); RE2/J and Courier refuse it.
  ['x\\', /trailing backslash/],
];

test('RE2 syntax is accepted with RE2 semantics', () => {
  for (const [pattern, input, expected, why] of ACCEPTED) {
    assert.equal(compileRe2(pattern).fullMatch(input), expected, `${pattern} on ${JSON.stringify(input)}: ${why}`);
  }
});

test('what RE2 refuses is refused, with the reason', () => {
  for (const [pattern, reason] of REFUSED) {
    const checked = checkRe2(pattern);
    assert.ok('error' in checked, `${pattern} should be refused`);
    assert.match(checked.error, reason, pattern);
    assert.throws(() => compileRe2(pattern), (e: unknown) => e instanceof Re2SyntaxError && e.message.startsWith(`invalid regex "${pattern}": `));
  }
});

test('full and partial match', () => {
  const re = compileRe2('foo[0-9]');
  assert.equal(re.fullMatch('foo1'), true);
  assert.equal(re.fullMatch('xfoo1y'), false);
  assert.equal(re.test('xfoo1y'), true, 'test() searches, as RegExp.test does');
  assert.equal(re.test('foo'), false);
});

test("Envoy's program size limit: 100 unless google_re2.max_program_size says otherwise", () => {
  assert.equal(RE2_DEFAULT_MAX_PROGRAM_SIZE, 100);
  const ok = checkRe2('/api/v[0-9]+/users/[0-9]+');
  assert.ok('programSize' in ok && ok.programSize < 100);
  const big = checkRe2('[a-z]{1,100}');
  assert.ok('error' in big);
  assert.match(big.error, /^RE2 program size of \d+ > max program size of 100/);
  assert.ok('programSize' in checkRe2('[a-z]{1,100}', 1000));
});

/**
 * Time per match of `match` on `input`: repeats until 20 ms have passed, best of 3 (so one
 * slow round on a busy machine does not count). A backtracking engine needs one call only.
 */
function nsPerMatch(match: (s: string) => boolean, input: string): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < 20e6) {
      match(input);
      calls++;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    best = Math.min(best, elapsed / calls);
  }
  return best;
}

function safeRegexMatcher(regex: string): (s: string) => boolean {
  const problems = new ProblemCollector('m');
  const config = parseStringMatcher({ safe_regex: { google_re2: {}, regex } }, problems);
  assert.deepEqual(problems.problems, []);
  const m = compileStringMatcher(JSON.parse(JSON.stringify(config)));
  return (s) => m.match(s);
}

test('matching time grows linearly with the input, even for patterns that make backtracking explode', () => {
  // Each adds ~6 characters to the input at the small size: x64 for a backtracking engine
  // (one more letter doubles its work), x1.3 for a linear one. Then a x8 step at large sizes.
  const patterns: ReadonlyArray<readonly [string, (n: number) => string]> = [
    ['/re/([a-z]+)*[0-9]', (n) => `/re/${'a'.repeat(n)}!`],
    ['(a|aa)+b', (n) => 'a'.repeat(n)],
    ['(x+x+)+y', (n) => 'x'.repeat(n)],
    ['(.*a){12}', (n) => `${'a'.repeat(n)}b`],
  ];
  for (const [regex, input] of patterns) {
    const match = safeRegexMatcher(regex);
    assert.equal(match(input(18)), false);
    const small = nsPerMatch(match, input(18));
    const bigger = nsPerMatch(match, input(24));
    assert.ok(bigger / small < 8, `${regex}: 18 → 24 characters cost x${(bigger / small).toFixed(1)} (linear: ~x1.3)`);
    const large = nsPerMatch(match, input(2000));
    const larger = nsPerMatch(match, input(16000));
    assert.ok(larger / large < 24, `${regex}: 2,000 → 16,000 characters cost x${(larger / large).toFixed(1)} (linear: ~x8)`);
  }
});
