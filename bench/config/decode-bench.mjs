#!/usr/bin/env node
/**
 * Config decode benchmark (not a test): the time main spends turning a 10,000-route
 * RouteConfiguration into checked values, from each source: gRPC (Any bytes), a watched JSON
 * file and a watched YAML file. Used to measure what the depth and size limits cost.
 *
 * Usage: npm run build && node bench/config/decode-bench.mjs [--rounds 15] [--routes 10000]
 * Prints the median milliseconds per decode for each source.
 */
import YAML from 'yaml';
import { encodeAny } from '../../dist/src/config/proto-binary.js';
import { decodeAnyResources } from '../../dist/src/xds/resource-decoder.js';
import { parseDiscoveryFile } from '../../dist/src/xds/subscription-file.js';
import { resourceTypeFor } from '../../dist/src/xds/resource-type.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', '15'));
const ROUTES = Number(arg('routes', '10000'));
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

const routes = [];
for (let i = 0; i < ROUTES; i++) {
  routes.push({
    match: i % 2 === 0 ? { prefix: `/svc${i}/`, headers: [{ name: 'x-tenant', string_match: { exact: `t${i % 7}` } }] } : { path: `/api/v1/item${i}` },
    route: { cluster: 'backend', timeout: '2s', retry_policy: { retry_on: '5xx', num_retries: 2 } },
  });
}
const resource = { '@type': RDS, name: 'bench_routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes }] };
const any = encodeAny(resource);
const json = JSON.stringify({ version_info: '1', resources: [resource] });
const yaml = YAML.stringify({ version_info: '1', resources: [resource] });
const type = resourceTypeFor(RDS);

function median(f) {
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint();
    const r = f();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.ok === false || r.error) throw new Error(JSON.stringify(r).slice(0, 500));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)].toFixed(1);
}

console.log(`${ROUTES} routes: Any ${(any.value.length / 1024).toFixed(0)} KiB, JSON ${(json.length / 1024).toFixed(0)} KiB, YAML ${(yaml.length / 1024).toFixed(0)} KiB; median of ${ROUNDS}`);
console.log(`gRPC Any bytes → checked  ${median(() => decodeAnyResources(type, [any], '1'))} ms`);
console.log(`watched JSON file         ${median(() => parseDiscoveryFile(json, 'routes.json', type))} ms`);
console.log(`watched YAML file         ${median(() => parseDiscoveryFile(yaml, 'routes.yaml', type))} ms`);
