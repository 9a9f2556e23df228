#!/usr/bin/env node
/**
 * Regex engine comparison (not a test): nanoseconds per whole-string match of route-like RE2
 * patterns on request-like inputs, for
 *   - RegExp      V8's backtracking engine (what Courier used before, anchored, flag u)
 *   - v8-linear   V8's experimental linear engine (flag l), enabled here at run time with
 *                 v8.setFlagsFromString; Node refuses the flag in NODE_OPTIONS
 *   - re2js       the engine Courier uses (RE2JS#testExact)
 *   - re2-wasm    Google's RE2 built to WebAssembly (installed as a dependency of
 *                 @grpc/grpc-js-xds; its column is skipped if it is not there)
 * and the growth of each linear engine on a pattern that is exponential for RegExp.
 * Each figure is the best of 3 rounds. docs/benchmarks.md ("Regex engines") has the results.
 *
 * Usage: node bench/regex/engines.mjs
 */
import v8 from 'node:v8';
import { createRequire } from 'node:module';
import { RE2JS } from 're2js';

v8.setFlagsFromString('--enable-experimental-regexp-engine');
const require = createRequire(import.meta.url);
let RE2Wasm;
try {
  RE2Wasm = require('re2-wasm').RE2;
} catch {
  console.log('(re2-wasm not installed: its column is skipped)');
}

const CASES = [
  ['/api/v[0-9]+/users/[0-9]+', '/api/v1/users/42', true],
  ['/api/v[0-9]+/users/[0-9]+', '/api/v1/orders/42/items', false],
  ['.*\\.(jpg|png|css)', '/static/assets/img/logo.png', true],
  ['/svc[0-9]+/.*', '/svc9998/users/42?x=1', true],
  ['Bearer [A-Za-z0-9._-]+', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc', true],
  ['/re/([a-z]+)*[0-9]', `/re/${'a'.repeat(22)}!`, false],
];

function nsPerCall(fn, input) {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < 50e6) {
      for (let i = 0; i < 100; i++) fn(input);
      calls += 100;
      elapsed = Number(process.hrtime.bigint() - start);
    }
    best = Math.min(best, elapsed / calls);
  }
  return Math.round(best);
}

function engines(pattern) {
  const anchored = `^(?:${pattern})$`;
  // Compiled once, outside the timed calls.
  const js = new RegExp(anchored, 'u');
  const linear = new RegExp(anchored, 'l');
  const re2 = RE2JS.compile(pattern);
  const out = {
    RegExp: (s) => js.test(s),
    'v8-linear': (s) => linear.test(s),
    re2js: (s) => re2.testExact(s),
  };
  if (RE2Wasm) {
    const w = new RE2Wasm(anchored, 'u');
    out['re2-wasm'] = (s) => w.test(s);
  }
  return out;
}

console.log('ns per whole-string match (best of 3)');
for (const [pattern, input, expected] of CASES) {
  const row = { pattern, inputLength: input.length };
  for (const [name, fn] of Object.entries(engines(pattern))) {
    if (fn(input) !== expected) throw new Error(`${name} is wrong on ${pattern}`);
    // RegExp on the pathological case: one call, it takes milliseconds.
    if (name === 'RegExp' && pattern.startsWith('/re/')) {
      const start = process.hrtime.bigint();
      fn(input);
      row[name] = Number(process.hrtime.bigint() - start);
    } else row[name] = nsPerCall(fn, input);
  }
  console.log(JSON.stringify(row));
}

console.log('growth on /re/([a-z]+)*[0-9] (ns per match; linear means x8 per x8 input)');
const fns = engines('/re/([a-z]+)*[0-9]');
delete fns.RegExp;
for (const n of [100, 800, 6400]) {
  const input = `/re/${'a'.repeat(n)}!`;
  const row = { letters: n };
  for (const [name, fn] of Object.entries(fns)) row[name] = nsPerCall(fn, input);
  console.log(JSON.stringify(row));
}
