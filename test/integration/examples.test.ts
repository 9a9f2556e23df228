/**
 * Every bundled example config is valid (`courier --mode validate`), so examples/ cannot rot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { COURIER_BIN, REPO_ROOT } from '../support/courier-harness.js';

const examples = readdirSync(path.join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.yaml'));

test('there is one example per implemented flow', () => {
  assert.ok(examples.includes('tcp-proxy.yaml'));
  assert.ok(examples.includes('dubbo-proxy.yaml'));
  assert.ok(examples.includes('http-proxy.yaml'));
  assert.ok(examples.includes('meta-protocol-toy.yaml'));
});

for (const file of examples) {
  test(`examples/${file} passes --mode validate`, () => {
    const r = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', '-c', path.join(REPO_ROOT, 'examples', file)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /OK/);
  });
}
