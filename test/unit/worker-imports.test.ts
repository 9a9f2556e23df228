/**
 * Workers run the data plane and must not load the config machinery: protobufjs, gRPC and the
 * YAML parser stay on main. Not only for memory: a worker that merely imported protobufjs (through
 * one constant) garbage-collected so much harder that the Dubbo proxy lost a third of its
 * throughput and its p99 went from ~2 ms to ~11 ms. This walks the static imports of the
 * compiled worker entry (and its literal dynamic imports), as Node would load them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../support/courier-harness.js';

const MAIN_ONLY_PACKAGES = ['protobufjs', '@grpc/grpc-js', '@grpc/proto-loader', '@grpc/grpc-js-xds', 'yaml'];

/** Every package a module statically imports, with the chain of files that leads to it. */
function packagesReachable(entry: string): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const seen = new Set<string>();
  const walk = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    // Compiled ESM: `import ... from '...'` and bare `import '...'`; `import type` is erased.
    // Also `await import('...')` with a literal: worker-main.ts loads its modules that way, after
    // installing its signal handlers.
    const specs = [
      ...source.matchAll(/^\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ];
    for (const m of specs) {
      const spec = m[1]!;
      const next = [...chain, path.relative(REPO_ROOT, file)];
      if (spec.startsWith('.')) walk(path.resolve(path.dirname(file), spec), next);
      else if (!spec.startsWith('node:')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (!found.has(pkg)) found.set(pkg, next);
      }
    }
  };
  walk(entry, []);
  return found;
}

test('a worker process loads no protobufjs, gRPC or YAML code', () => {
  const reachable = packagesReachable(path.join(REPO_ROOT, 'dist', 'src', 'worker', 'worker-main.js'));
  for (const pkg of MAIN_ONLY_PACKAGES) {
    const chain = reachable.get(pkg);
    assert.equal(chain, undefined, `the worker imports ${pkg} through ${chain?.join(' → ')}`);
  }
});

test('the main process does load them (the walk finds what it looks for)', () => {
  const reachable = packagesReachable(path.join(REPO_ROOT, 'dist', 'src', 'main.js'));
  assert.ok(reachable.has('protobufjs'));
  assert.ok(reachable.has('yaml'));
});

test('the walk follows the worker entry into the data plane (through its dynamic imports)', () => {
  const reachable = packagesReachable(path.join(REPO_ROOT, 'dist', 'src', 'worker', 'worker-main.js'));
  // re2js: the route matchers' regex engine, reached only through ../extensions/all.js.
  assert.ok(reachable.has('re2js'), [...reachable.keys()].join(', '));
});
