#!/usr/bin/env node
/**
 * RDS propagation benchmark (not a test): how long from the moment the management server
 * pushes a new RouteConfiguration until every Courier worker routes by it, for route tables of
 * 10 and 10,000 routes.
 *
 * The real parts: `courier xds-server`'s server (in this process), the real `courier` command
 * with --concurrency 2 (main + 2 worker processes) subscribed over ADS, a node:http backend.
 * Each round pushes a table whose LAST route is new (`/new-<round>`, before a catch-all 404);
 * the clock stops when 8 requests in a row on fresh connections (spread over both workers by
 * the primary's round robin) get 200 from that route. The time includes the gRPC push, main's
 * decode and validation of the whole table, the ACK, the post to each worker, each worker's
 * compile of its route table, and the probe's own latency (~1 ms a request on loopback).
 *
 * Usage: npm run build && node bench/http/rds-propagation.mjs [--rounds 5] [--sizes 10,10000]
 * Prints a markdown table; writes bench/results/rds-propagation-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startXdsServer } from '../../dist/src/xds/server/xds-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', '5'));
const SIZES = arg('sizes', '10,10000').split(',').map(Number);

function routeTable(size, round) {
  const routes = [];
  for (let i = 0; i < size - 1; i++) {
    routes.push({ match: i % 2 === 0 ? { prefix: `/svc${i}/` } : { path: `/api/v1/item${i}` }, route: { cluster: 'backend' } });
  }
  routes.push({ match: { path: `/new-${round}` }, route: { cluster: 'backend' } });
  routes.push({ match: { prefix: '/' }, direct_response: { status: 404 } });
  return { '@type': RDS, name: 'bench_routes', virtual_hosts: [{ name: 'all', domains: ['*'], routes }] };
}

function get(port, p) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until(check, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
  }
  throw new Error('timed out');
}

async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const backend = http.createServer((req, res) => {
  req.resume();
  res.end('ok');
});
await new Promise((r) => backend.listen(0, '127.0.0.1', r));
const xds = await startXdsServer({ port: 0, resources: [routeTable(10, 0)] });
const listenPort = await freePort();
const dir = mkdtempSync(path.join(os.tmpdir(), 'courier-rds-bench-'));
const config = path.join(dir, 'courier.yaml');
const cluster = (name, port) => `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${name}
      endpoints: [ { lb_endpoints: [ { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } } } ] } ]`;
writeFileSync(
  config,
  `node: { id: rds-bench, cluster: bench }
static_resources:
  listeners:
  - name: http
    address: { socket_address: { address: 127.0.0.1, port_value: ${listenPort} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          rds:
            route_config_name: bench_routes
            config_source: { resource_api_version: V3, ads: {} }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:${cluster('backend', backend.address().port)}${cluster('xds_cluster', xds.port)}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [ { envoy_grpc: { cluster_name: xds_cluster } } ]
`,
);
const courier = spawn(process.execPath, [path.join(ROOT, 'bin', 'courier.js'), '-c', config, '--concurrency', '2', '-l', 'warning'], { stdio: ['ignore', 'inherit', 'inherit'] });
try {
  await until(async () => (await get(listenPort, '/new-0')) === 200);
  const results = [];
  let round = 0;
  for (const size of SIZES) {
    const times = [];
    for (let r = 0; r < ROUNDS; r++) {
      round++;
      const resource = routeTable(size, round);
      const t0 = performance.now();
      xds.setResources(RDS, [resource]);
      let streak = 0;
      await until(async () => {
        streak = (await get(listenPort, `/new-${round}`)) === 200 ? streak + 1 : 0;
        return streak >= 8;
      });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    results.push({ routes: size, rounds: ROUNDS, medianMs: times[Math.floor(times.length / 2)], maxMs: times.at(-1), allMs: times });
  }
  const load = os.loadavg()[0];
  console.log(`\nRDS propagation to 2 worker processes (load average ${load.toFixed(2)}):\n`);
  console.log('| routes | rounds | median ms | max ms |');
  console.log('|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.routes} | ${r.rounds} | ${r.medianMs.toFixed(1)} | ${r.maxMs.toFixed(1)} |`);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const id = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  writeFileSync(path.join(resultsDir, `rds-propagation-${id}.json`), JSON.stringify({ id, load, results }, null, 2));
  console.log(`\nrun ${id}`);
} finally {
  courier.kill('SIGTERM');
  await new Promise((r) => courier.once('exit', r));
  await xds.stop();
  backend.close();
}
