/**
 * The proto registry loads Envoy packages on demand. A package that cannot load (the vendored
 * tree lacks an import: envoy.service.trace.v3 needs opencensus) must leave the registry as it
 * was: a later, unrelated look-up gives the same answer as in a fresh process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../support/courier-harness.js';
import { loadBootstrapText } from '../../src/config/bootstrap.js';
import { ConfigError } from '../../src/config/config-error.js';
import { lookupMessage, lookupTypeUrl } from '../../src/config/proto-registry.js';
import { networkFilterRegistry } from '../../src/extensions/all.js';

const MONGO = 'envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy';
const LUA = 'envoy.extensions.filters.http.lua.v3.Lua';

function mongoListenerProblem(): string {
  const text = `static_resources:
  listeners:
  - name: m
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains: [ { filters: [ { name: mongo, typed_config: { "@type": type.googleapis.com/${MONGO}, stat_prefix: m } } ] } ]
`;
  try {
    loadBootstrapText(text, 'x.yaml', networkFilterRegistry());
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  return 'loaded';
}

/** The same look-ups in a process whose registry never saw the broken package. */
function freshAnswers(): { fields: string[]; problem: string } {
  const script = `
    const { lookupMessage } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/config/proto-registry.js'))});
    const fields = Object.keys(lookupMessage(${JSON.stringify(MONGO)})?.fields ?? {}).sort();
    process.stdout.write(JSON.stringify({ fields }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  return { ...(JSON.parse(r.stdout) as { fields: string[] }), problem: '' };
}

test('a package that fails to load does not change the answer for an unrelated type looked up after it', () => {
  // The broken package: its look-up fails (unknown type), as it should.
  assert.equal(lookupMessage('envoy.service.trace.v3.StreamTracesMessage'), undefined);
  assert.equal(lookupTypeUrl('type.googleapis.com/envoy.service.metrics.v3.StreamMetricsMessage'), undefined);
  // Unrelated packages, loaded after it, load as in a fresh process.
  const mongo = lookupMessage(MONGO);
  assert.ok(mongo, 'MongoProxy is found after the failed package');
  assert.deepEqual(Object.keys(mongo.fields).sort(), freshAnswers().fields);
  assert.ok(lookupMessage(LUA), 'Lua is found after the failed package');
  // And a config naming one gets the message it gets anywhere: refused by name, not "unknown type".
  const problem = mongoListenerProblem();
  assert.match(problem, new RegExp(`network filter type ${MONGO.replace(/\./g, '\\.')} is not supported by Courier`));
  assert.doesNotMatch(problem, /unknown or unsupported type/);
});
