/**
 * path-normalizer.ts against the cases of Envoy's own path_utility_test.cc (normalize_path,
 * merge_slashes, escaped slashes), plus the order of the three steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalizePath, mergeSlashes, normalizeRequestPath } from '../../src/common/http/path-normalizer.js';

test("canonicalizePath: Envoy's valid paths", () => {
  const cases: Array<[string, string]> = [
    ['/a/b/../c', '/a/c'],
    ['/a/b/./c', '/a/b/c'],
    ['a/b/../c', '/a/c'],
    ['/a/b/../../../../c', '/c'],
    ['/a/..\\c', '/c'],
    ['/%c0%af', '/%c0%af'],
    ['/%5c%25', '/%5c%25'],
    ['/a/b/%2E%2E/c', '/a/c'],
    ['/a/b/%2E./c', '/a/c'],
    ['/a/b/%2E/c', '/a/b/c'],
    ['..', '/'],
    ['/../a/b', '/a/b'],
    ['/./a/b', '/a/b'],
    ['/A/B/C', '/A/B/C'],
    ['/a/b/%2e%2e/c', '/a/c'],
    ['/a/%2F%2f/c', '/a/%2F%2f/c'],
    ['/%41%7e%2d', '/A~-'],
    ['/a"b<c>`', '/a%22b%3Cc%3E%60'],
  ];
  for (const [input, expected] of cases) assert.equal(canonicalizePath(input), expected, input);
});

test("canonicalizePath: Envoy's invalid paths (an encoded NUL)", () => {
  for (const input of ['/xyz/.%00../abc', '/xyz/%00.%00./abc', '/xyz/AAAAA%%0000/abc']) assert.equal(canonicalizePath(input), undefined, input);
});

test('mergeSlashes', () => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['/', '/'],
    ['//', '/'],
    ['/a//b', '/a/b'],
    ['//a///b//', '/a/b/'],
    ['a//b', 'a/b'],
    ['/a/b', '/a/b'],
  ];
  for (const [input, expected] of cases) assert.equal(mergeSlashes(input), expected, input);
});

test('normalizeRequestPath: escaped slashes first, then dot segments, then slashes; the query untouched', () => {
  const all = { normalizePath: true, mergeSlashes: true, escapedSlashesAction: 'UNESCAPE_AND_FORWARD' } as const;
  assert.deepEqual(normalizeRequestPath('/a%2F%2F..%2Fb?x=%2F/../', all), { action: 'continue', path: '/a/b?x=%2F/../' });
  assert.deepEqual(normalizeRequestPath('/a%2fb', { ...all, escapedSlashesAction: 'UNESCAPE_AND_REDIRECT' }), { action: 'redirect', path: '/a/b' });
  assert.deepEqual(normalizeRequestPath('/a/b', { ...all, escapedSlashesAction: 'UNESCAPE_AND_REDIRECT' }), { action: 'continue', path: '/a/b' });
  assert.deepEqual(normalizeRequestPath('/a%5Cb', { ...all, escapedSlashesAction: 'REJECT_REQUEST' }), { action: 'reject' });
  assert.deepEqual(normalizeRequestPath('/a%2Fb', { ...all, escapedSlashesAction: 'KEEP_UNCHANGED' }), { action: 'continue', path: '/a%2Fb' });
  assert.deepEqual(normalizeRequestPath('*', all), { action: 'continue', path: '*' });
  const none = { normalizePath: false, mergeSlashes: false, escapedSlashesAction: 'KEEP_UNCHANGED' } as const;
  assert.deepEqual(normalizeRequestPath('/a#b', none), { action: 'reject' });
});
