/**
 * The protocol-neutral matchers: Envoy's StringMatcher (source/common/common/matchers.h) and
 * HeaderMatcher (source/common/http/header_utility.cc), from checked proto values through
 * plain data (JSON round trip, as to a worker) to compiled matchers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ProblemCollector, type ConfigProblem } from '../../src/config/config-error.js';
import { compileStringMatcher, parseStringMatcher, stringMatcherFrom, type StringMatcher } from '../../src/common/matchers/string-matcher.js';
import {
  compileHeaderMatcher,
  compileInt64Range,
  matchAllHeaders,
  parseHeaderMatcher,
  type HeaderMatcher,
} from '../../src/common/matchers/header-matcher.js';

function roundTrip<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function sm(proto: Record<string, unknown>): StringMatcher {
  const problems = new ProblemCollector('m');
  const config = parseStringMatcher(proto, problems);
  assert.deepEqual(problems.problems, []);
  assert.ok(config);
  return compileStringMatcher(roundTrip(config));
}

function smProblems(proto: unknown): ConfigProblem[] {
  const problems = new ProblemCollector('m');
  const config = parseStringMatcher(proto, problems);
  assert.equal(config, undefined, 'a refused matcher yields no config');
  return problems.problems;
}

function hm(proto: Record<string, unknown>): HeaderMatcher {
  const problems = new ProblemCollector('h');
  const config = parseHeaderMatcher(proto, problems);
  assert.deepEqual(problems.problems, []);
  assert.ok(config);
  return compileHeaderMatcher(roundTrip(config));
}

function hmProblems(proto: unknown): ConfigProblem[] {
  const problems = new ProblemCollector('h');
  assert.equal(parseHeaderMatcher(proto, problems), undefined);
  return problems.problems;
}

function headers(map: Record<string, string>): (name: string) => string | undefined {
  return (name) => map[name];
}

// --- StringMatcher ----------------------------------------------------------------------------

test('StringMatcher exact, prefix, suffix, contains', () => {
  const exact = sm({ exact: 'abc' });
  assert.equal(exact.match('abc'), true);
  assert.equal(exact.match('ABC'), false);
  assert.equal(exact.match('abcd'), false);
  const empty = sm({ exact: '' });
  assert.equal(empty.match(''), true);
  assert.equal(empty.match('x'), false, 'exact "" matches only the empty string');
  const prefix = sm({ prefix: 'abc' });
  assert.equal(prefix.match('abcd'), true);
  assert.equal(prefix.match('abc'), true);
  assert.equal(prefix.match('xabc'), false);
  const suffix = sm({ suffix: 'abc' });
  assert.equal(suffix.match('xabc'), true);
  assert.equal(suffix.match('abcx'), false);
  const contains = sm({ contains: 'contained-str' });
  assert.equal(contains.match('abc-contained-str-def'), true);
  assert.equal(contains.match('abc-cOnTaInEd-str-def'), false);
});

test('StringMatcher ignore_case folds ASCII letters only', () => {
  assert.equal(sm({ exact: 'exact', ignore_case: true }).match('EXACT'), true);
  assert.equal(sm({ exact: 'exact', ignore_case: true }).match('exacz'), false);
  assert.equal(sm({ exact: 'exact', ignore_case: true }).match('EXACTLY'), false);
  assert.equal(sm({ prefix: 'Pre', ignore_case: true }).match('pREfix'), true);
  assert.equal(sm({ prefix: 'Pre', ignore_case: true }).match('pr'), false);
  assert.equal(sm({ suffix: 'FIX', ignore_case: true }).match('suffix'), true);
  assert.equal(sm({ suffix: 'FIX', ignore_case: true }).match('ix'), false);
  const contains = sm({ contains: 'contained-STR', ignore_case: true });
  assert.equal(contains.match('abc-cOnTaInEd-str-def'), true);
  assert.equal(contains.match('abc-ContAineR-str-def'), false);
  assert.equal(contains.match('other'), false);
  // absl::EqualsIgnoreCase is ASCII-only: non-ASCII letters must be equal.
  assert.equal(sm({ exact: 'straße', ignore_case: true }).match('STRAßE'), true);
  assert.equal(sm({ exact: 'é', ignore_case: true }).match('É'), false);
  assert.equal(sm({ exact: '123', ignore_case: true }).match('123'), true);
});

test('StringMatcher safe_regex is a full match', () => {
  const m = sm({ safe_regex: { google_re2: {}, regex: 'foo.*' } });
  assert.equal(m.match('foo'), true);
  assert.equal(m.match('foobar'), true);
  assert.equal(m.match('bar'), false);
  assert.equal(m.match('xfoo'), false);
  const alt = sm({ safe_regex: { regex: 'a|ab' } });
  assert.equal(alt.match('ab'), true, 'full match tries every alternative');
  assert.equal(alt.match('abc'), false);
  const digits = sm({ safe_regex: { regex: '\\d{3}test' } });
  assert.equal(digits.match('456test'), true);
  assert.equal(digits.match('4567test'), false);
});

test('a regex RE2 refuses is reported at its field path', () => {
  const problems = smProblems({ safe_regex: { regex: '(?=x)' } });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['m.safe_regex.regex'],
  );
  assert.match(problems[0]!.message, /^invalid regex "\(\?=x\)": look-around/);
});

test('StringMatcher config errors', () => {
  assert.deepEqual(
    smProblems({ safe_regex: { regex: 'a' }, ignore_case: true }).map((p) => [p.path, p.message]),
    [['m.ignore_case', 'ignore_case has no effect for safe_regex (Envoy refuses it)']],
  );
  const custom = smProblems({ custom: { name: 'x', typed_config: {} } });
  assert.deepEqual(custom.map((p) => p.path), ['m.custom']);
  assert.match(custom[0]!.message, /StringMatcher\.custom is not supported/);
  assert.deepEqual(smProblems({}).map((p) => p.path), ['m']);
  assert.deepEqual(smProblems({ prefix: '' }).map((p) => p.path), ['m.prefix']);
  assert.deepEqual(smProblems({ exact: 'a', prefix: 'b' }).map((p) => p.path), ['m.prefix']);
  // google_re2.max_program_size (deprecated) replaces Envoy's default limit of 100.
  assert.deepEqual(smProblems({ safe_regex: { regex: 'abcdef', google_re2: { max_program_size: 4 } } }).map((p) => p.path), [
    'm.safe_regex.regex',
  ]);
  assert.equal(sm({ safe_regex: { regex: 'x{150}', google_re2: { max_program_size: 200 } } }).match('x'.repeat(150)), true);
  const big = smProblems({ safe_regex: { regex: 'x{150}' } });
  assert.deepEqual(big.map((p) => p.path), ['m.safe_regex.regex']);
  assert.match(big[0]!.message, /program size of \d+ > max program size of 100/);
  assert.deepEqual(smProblems(undefined).map((p) => p.path), ['m']);
});

test('stringMatcherFrom parses and compiles', () => {
  const problems = new ProblemCollector();
  assert.equal(stringMatcherFrom({ suffix: '.svc' }, problems)?.match('a.svc'), true);
  assert.equal(stringMatcherFrom({ suffix: '' }, problems), undefined);
  assert.equal(problems.problems.length, 1);
});

// --- HeaderMatcher ----------------------------------------------------------------------------

test('HeaderMatcher exact_match (deprecated): empty value matches any present header', () => {
  const m = hm({ name: 'x', exact_match: 'v' });
  assert.equal(m.match(headers({ x: 'v' })), true);
  assert.equal(m.match(headers({ x: 'w' })), false);
  assert.equal(m.match(headers({})), false);
  const any = hm({ name: 'x', exact_match: '' });
  assert.equal(any.match(headers({ x: 'w' })), true);
  assert.equal(any.match(headers({})), false);
  // string_match exact "" is strict.
  const strict = hm({ name: 'x', string_match: { exact: '' } });
  assert.equal(strict.match(headers({ x: 'w' })), false);
  assert.equal(strict.match(headers({ x: '' })), true);
});

test('HeaderMatcher name is lower-cased for the lookup', () => {
  const m = hm({ name: 'X-Request-Id', present_match: true });
  assert.equal(m.name, 'x-request-id');
  assert.equal(m.match(headers({ 'x-request-id': '1' })), true);
});

test('HeaderMatcher regex, prefix, suffix, contains, string_match', () => {
  const regex = hm({ name: 'x', safe_regex_match: { google_re2: {}, regex: '\\d{3}' } });
  assert.equal(regex.match(headers({ x: '123' })), true);
  assert.equal(regex.match(headers({ x: '1234' })), false);
  assert.equal(hm({ name: 'x', safe_regex_match: { regex: '\\d{3}' }, invert_match: true }).match(headers({ x: '1234' })), true);
  assert.equal(hm({ name: 'x', prefix_match: 'ab' }).match(headers({ x: 'abc' })), true);
  assert.equal(hm({ name: 'x', prefix_match: 'ab' }).match(headers({ x: 'cab' })), false);
  assert.equal(hm({ name: 'x', suffix_match: 'bc' }).match(headers({ x: 'abc' })), true);
  assert.equal(hm({ name: 'x', contains_match: 'b' }).match(headers({ x: 'abc' })), true);
  assert.equal(hm({ name: 'x', contains_match: 'B' }).match(headers({ x: 'abc' })), false);
  assert.equal(hm({ name: 'x', string_match: { contains: 'B', ignore_case: true } }).match(headers({ x: 'abc' })), true);
});

test('HeaderMatcher range_match', () => {
  const m = hm({ name: 'x', range_match: { start: -10, end: 0 } });
  assert.equal(m.match(headers({ x: '-1' })), true);
  assert.equal(m.match(headers({ x: '-10' })), true);
  for (const v of ['0', 'somestring', '10.9', '-1somestring', '', '-']) assert.equal(m.match(headers({ x: v })), false, v);
  assert.equal(hm({ name: 'x', range_match: { start: -10, end: 0 }, invert_match: true }).match(headers({ x: '-1' })), false);
  // int64 bounds arrive as strings when they are beyond 2^53.
  const big = hm({ name: 'x', range_match: { start: '-9223372036854775808', end: '9223372036854775807' } });
  assert.equal(big.match(headers({ x: '-9223372036854775808' })), true);
  assert.equal(big.match(headers({ x: '9223372036854775806' })), true);
  assert.equal(big.match(headers({ x: '9223372036854775807' })), false);
  assert.equal(big.match(headers({ x: '-9223372036854775809' })), false, 'overflow');
  const r = compileInt64Range({ start: '0', end: '10' });
  assert.equal(r.match('\t5\n'), true);
  assert.equal(r.match('+5'), true);
  assert.equal(r.match('5 5'), false);
});

test('HeaderMatcher present_match, absent headers, invert_match', () => {
  const present = hm({ name: 'x', present_match: true });
  assert.equal(present.match(headers({ x: '' })), true);
  assert.equal(present.match(headers({})), false);
  const absent = hm({ name: 'x', present_match: false });
  assert.equal(absent.match(headers({})), true);
  assert.equal(absent.match(headers({ x: 'v' })), false);
  const notPresent = hm({ name: 'x', present_match: true, invert_match: true });
  assert.equal(notPresent.match(headers({})), true);
  assert.equal(notPresent.match(headers({ x: 'v' })), false);
  const notAbsent = hm({ name: 'x', present_match: false, invert_match: true });
  assert.equal(notAbsent.match(headers({})), false);
  assert.equal(notAbsent.match(headers({ x: 'v' })), true);
  // No specifier: present.
  assert.equal(hm({ name: 'x' }).match(headers({ x: '' })), true);
  assert.equal(hm({ name: 'x' }).match(headers({})), false);
  // An absent header fails any value match, inverted or not.
  assert.equal(hm({ name: 'x', exact_match: 'v', invert_match: true }).match(headers({})), false);
  assert.equal(hm({ name: 'x', range_match: { start: 0, end: 10 }, invert_match: true }).match(headers({})), false);
});

test('HeaderMatcher treat_missing_header_as_empty', () => {
  // From the proto docs: header1 range [0,10) inverted with treat_missing: matches.
  assert.equal(
    hm({ name: 'header1', range_match: { start: 0, end: 10 }, invert_match: true, treat_missing_header_as_empty: true }).match(
      headers({}),
    ),
    true,
  );
  assert.equal(
    hm({ name: 'header3', string_match: { safe_regex: { regex: '^$' } }, treat_missing_header_as_empty: true }).match(headers({})),
    true,
  );
  assert.equal(hm({ name: 'header4', string_match: { safe_regex: { regex: '^$' } } }).match(headers({})), false);
  assert.equal(hm({ name: 'x', present_match: true, treat_missing_header_as_empty: true }).match(headers({})), true);
});

test('matchAllHeaders and matchValue', () => {
  const ms = [hm({ name: 'a', exact_match: '1' }), hm({ name: 'b', present_match: false })];
  assert.equal(matchAllHeaders(ms, headers({ a: '1' })), true);
  assert.equal(matchAllHeaders(ms, headers({ a: '1', b: '' })), false);
  assert.equal(matchAllHeaders([], headers({})), true);
  assert.equal(ms[0]!.matchValue('1'), true);
  assert.equal(ms[0]!.matchValue(undefined), false);
});

test('HeaderMatcher config errors', () => {
  assert.deepEqual(hmProblems({ exact_match: 'v' }).map((p) => p.path), ['h.name']);
  assert.deepEqual(hmProblems({ name: 'x', exact_match: 'a', prefix_match: 'b' }).map((p) => p.path), ['h.prefix_match']);
  assert.deepEqual(hmProblems({ name: 'x', prefix_match: '' }).map((p) => p.path), ['h.prefix_match']);
  assert.deepEqual(hmProblems({ name: 'x', safe_regex_match: { regex: '(?<=a)b' } }).map((p) => p.path), [
    'h.safe_regex_match.regex',
  ]);
  assert.deepEqual(hmProblems({ name: 'x', string_match: { custom: {} } }).map((p) => p.path), ['h.string_match.custom']);
  assert.deepEqual(hmProblems({ name: 'x', range_match: { start: 'abc' } }).map((p) => p.path), ['h.range_match.start']);
  const unknown = hmProblems({ name: 'x', ignore_case: true, exact_match: 'a', string_match: { exact: 'a' } });
  assert.deepEqual(unknown.map((p) => p.path), ['h.ignore_case', 'h.string_match']);
  assert.match(unknown[0]!.message, /HeaderMatcher\.ignore_case is not supported/);
});
