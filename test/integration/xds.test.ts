/**
 * xDS client and management server on real gRPC over loopback (port 0): per-type RDS and ADS
 * subscriptions against the in-process server, ACK/NACK exactly as the protocol says,
 * reconnection with backoff, identical resends, initial_fetch_timeout, the watched file, and
 * the `courier xds-server` command as a process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { StatsStore } from '../../src/common/stats/stats-store.js';
import { ProblemCollector } from '../../src/config/config-error.js';
import { parseConfigSource, type XdsConfigSource, type XdsGrpcServer } from '../../src/xds/config-source.js';
import { encodeAny } from '../../src/config/proto-binary.js';
import { decodeAnyResources } from '../../src/xds/resource-decoder.js';
import { CLUSTER, RESOURCE_WRAPPER_TYPE_URL, ROUTE_CONFIGURATION } from '../../src/xds/resource-type.js';
import { startXdsServer, type XdsServerHandle } from '../../src/xds/server/xds-server.js';
import { XdsSubscriptionFactory } from '../../src/xds/subscription-factory.js';
import type { ConfigUpdateFailureReason, DecodedResource, UpdateVerdict, XdsSubscription } from '../../src/xds/subscription.js';
import { COURIER_BIN, eventually, REPO_ROOT } from '../support/courier-harness.js';

const RDS = ROUTE_CONFIGURATION.typeUrl;
const CDS = CLUSTER.typeUrl;
const NODE = { id: 'test-node', cluster: 'test-cluster' };
const FAST_BACKOFF = { baseMs: 50, maxMs: 200 };

function routeConfig(name: string, cluster: string, timeout = '1.5s'): Record<string, unknown> {
  return {
    '@type': RDS,
    name,
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout } }] }],
  };
}

function staticCluster(name: string): Record<string, unknown> {
  return { '@type': CDS, name, type: 'STATIC', connect_timeout: '0.25s' };
}

function grpcServer(port: number): XdsGrpcServer {
  return { clusterName: 'xds_cluster', host: '127.0.0.1', port, target: `127.0.0.1:${port}` };
}

interface Update {
  resources: DecodedResource[];
  version: string;
}

/** Callbacks that record everything and let a test await the next update or failure. */
class Recorder {
  readonly updates: Update[] = [];
  readonly failures: Array<{ reason: ConfigUpdateFailureReason; error?: string | undefined }> = [];
  /** Accepted state: what a caller would be serving. */
  current: Update | undefined;
  verdict: (u: Update) => UpdateVerdict = () => 'accept';
  #waiters: Array<() => void> = [];

  readonly callbacks = {
    onConfigUpdate: (resources: DecodedResource[], version: string): UpdateVerdict => {
      const u = { resources, version };
      this.updates.push(u);
      const v = this.verdict(u);
      if (v === 'accept') this.current = u;
      this.#wake();
      return v;
    },
    onConfigUpdateFailed: (reason: ConfigUpdateFailureReason, error?: string): void => {
      this.failures.push({ reason, error });
      this.#wake();
    },
  };

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `check` holds (checked now and after every callback). */
  async until<T>(check: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; updates=${JSON.stringify(this.updates.map((u) => u.version))} failures=${JSON.stringify(this.failures)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  updateWithVersion(version: string): Promise<Update> {
    return this.until(() => this.updates.find((u) => u.version === version), `an update with version ${version}`);
  }
}

function subscribe(
  factory: XdsSubscriptionFactory,
  source: XdsConfigSource,
  typeUrl: string,
  names: string[],
  stats: StatsStore,
  scope: string,
): { sub: XdsSubscription; rec: Recorder } {
  const rec = new Recorder();
  const sub = factory.subscriptionFromConfigSource(source, typeUrl, rec.callbacks, stats.scope(scope));
  sub.start(names);
  return { sub, rec };
}

test('RDS over RouteDiscoveryService.StreamRoutes: decoded plain values, ACK with version and nonce, node identity', async () => {
  const server = await startXdsServer({ port: 0, resources: [routeConfig('local_route', 'backend')] });
  const stats = new StatsStore();
  const factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, backoff: FAST_BACKOFF });
  try {
    const source: XdsConfigSource = { kind: 'grpc', server: grpcServer(server.port), initialFetchTimeoutMs: 0 };
    const { rec } = subscribe(factory, source, RDS, ['local_route'], stats, 'http.ingress.rds.local_route');
    const version = server.version(RDS);
    const update = await rec.updateWithVersion(version);
    assert.equal(update.resources.length, 1);
    const r = update.resources[0]!;
    assert.equal(r.name, 'local_route');
    assert.equal(r.version, version);
    assert.match(r.hash, /^[0-9a-f]{16}$/);
    // Plain values, as decodeMessage gives for YAML: the Duration is in milliseconds.
    const vh = (r.resource['virtual_hosts'] as Array<Record<string, unknown>>)[0]!;
    const route = (vh['routes'] as Array<Record<string, Record<string, unknown>>>)[0]!;
    assert.deepEqual(route['route'], { cluster: 'backend', timeout: 1500 });

    const response = await server.waitFor('response', (e) => e.typeUrl === RDS);
    const ack = await server.waitFor('ack', (e) => e.typeUrl === RDS);
    assert.equal(ack.versionInfo, version);
    assert.equal(ack.responseNonce, response.nonce);
    assert.deepEqual(ack.resourceNames, ['local_route']);
    assert.equal(ack.nodeId, 'test-node');
    const first = await server.waitFor('request', (e) => e.typeUrl === RDS);
    assert.equal(first.versionInfo, '');
    assert.equal(first.responseNonce, '');

    const snap = stats.snapshot();
    assert.equal(snap.counters['http.ingress.rds.local_route.update_success'], 1);
    assert.equal(snap.counters['http.ingress.rds.local_route.update_attempt'], 1);
    assert.ok(snap.gauges['http.ingress.rds.local_route.version']! > 0);
    // A per-type stream keeps its control_plane stats in the subscription's scope.
    assert.equal(snap.gauges['http.ingress.rds.local_route.control_plane.connected_state'], 1);
  } finally {
    factory.shutdown();
    await server.stop();
  }
});

test('ADS: two types on one stream; NACK = previous version + nonce + error_detail, last good kept; identical resend has the same hash', async () => {
  const server = await startXdsServer({ port: 0, resources: [routeConfig('local_route', 'backend'), staticCluster('backend')] });
  const stats = new StatsStore();
  const factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, ads: grpcServer(server.port), backoff: FAST_BACKOFF });
  try {
    const ads: XdsConfigSource = { kind: 'ads', initialFetchTimeoutMs: 0 };
    const rds = subscribe(factory, ads, RDS, ['local_route'], stats, 'http.ingress.rds.local_route');
    const cds = subscribe(factory, ads, CDS, [], stats, 'cluster_manager.cds');
    const v1 = server.version(RDS);
    const good = await rds.rec.updateWithVersion(v1);
    const clusters = await cds.rec.updateWithVersion(server.version(CDS));
    assert.deepEqual(clusters.resources.map((r) => r.name), ['backend']);
    assert.equal(clusters.resources[0]!.resource['connect_timeout'], 250);
    await server.waitFor('ack', (e) => e.typeUrl === RDS && e.versionInfo === v1);
    await server.waitFor('ack', (e) => e.typeUrl === CDS);
    assert.equal(new Set(server.responses.map((r) => r.streamId)).size, 1, 'both types travel on one ADS stream');
    assert.equal(stats.snapshot().gauges['control_plane.connected_state'], 1);

    // The caller refuses an update: NACK with the previous version, the nonce and its message.
    rds.rec.verdict = (u) =>
      (u.resources[0]!.resource['virtual_hosts'] as Array<{ routes: Array<{ route: { cluster: string } }> }>)[0]!.routes[0]!.route.cluster === 'nowhere'
        ? { reject: "route table refused: unknown cluster 'nowhere'" }
        : 'accept';
    const v2 = server.setResources(RDS, [routeConfig('local_route', 'nowhere')]);
    const nack = await server.waitFor('nack', (e) => e.typeUrl === RDS);
    const sent = server.responses.find((r) => r.typeUrl === RDS && r.versionInfo === v2)!;
    assert.equal(nack.versionInfo, v1);
    assert.equal(nack.responseNonce, sent.nonce);
    assert.deepEqual(nack.errorDetail, { code: 3, message: "route table refused: unknown cluster 'nowhere'" });
    assert.equal(rds.rec.current, good, 'the last good config is kept');
    await rds.rec.until(() => rds.rec.failures.find((f) => f.reason === 'rejected'), 'a rejected failure');

    // A resource that fails Envoy's checks is refused by the subscription itself, with its path.
    server.setResources(RDS, [{ ...routeConfig('local_route', 'backend'), virtual_hosts: [{ name: 'vh', domains: [] }] }]);
    const nack2 = await server.waitFor('nack', (e) => e.typeUrl === RDS && e.responseNonce !== nack.responseNonce);
    assert.equal(nack2.versionInfo, v1);
    assert.match(nack2.errorDetail!.message, /RDS resource "local_route": resources\[0\]\.virtual_hosts\[0\]\.domains: /);
    assert.equal(rds.rec.current, good);

    // Back to a good config: ACKed with its version. Then an identical resend under a new version: same hash.
    const v3 = server.setResources(RDS, [routeConfig('local_route', 'backend', '2s')]);
    const u3 = await rds.rec.updateWithVersion(v3);
    await server.waitFor('ack', (e) => e.typeUrl === RDS && e.versionInfo === v3);
    server.setResources(RDS, [routeConfig('local_route', 'backend', '2s')], 'resend-1');
    const u4 = await rds.rec.updateWithVersion('resend-1');
    assert.equal(u4.resources[0]!.hash, u3.resources[0]!.hash);
    assert.notEqual(u3.resources[0]!.hash, good.resources[0]!.hash);

    const snap = stats.snapshot();
    assert.equal(snap.counters['http.ingress.rds.local_route.update_rejected'], 2);
    assert.equal(snap.counters['http.ingress.rds.local_route.update_success'], 3);
  } finally {
    factory.shutdown();
    await server.stop();
  }
});

test('the server killed and restarted on the same port: the client reconnects with backoff and resyncs from its last version', async () => {
  let server: XdsServerHandle = await startXdsServer({ port: 0, resources: [routeConfig('local_route', 'backend')] });
  const port = server.port;
  const stats = new StatsStore();
  const factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, ads: grpcServer(port), backoff: FAST_BACKOFF });
  try {
    const { rec } = subscribe(factory, { kind: 'ads', initialFetchTimeoutMs: 0 }, RDS, ['local_route'], stats, 'rds.local_route');
    const v1 = server.version(RDS);
    await rec.updateWithVersion(v1);
    await server.waitFor('ack', (e) => e.versionInfo === v1);

    await server.stop();
    await rec.until(() => rec.failures.find((f) => f.reason === 'connection'), 'a connection failure');
    assert.equal(stats.snapshot().gauges['control_plane.connected_state'], 0);

    server = await startXdsServer({ port, resources: [routeConfig('local_route', 'backend', '3s')] });
    const first = await server.waitFor('request', (e) => e.typeUrl === RDS, 5000);
    assert.equal(first.versionInfo, v1, 'the new stream resubscribes with the last accepted version');
    assert.equal(first.nodeId, 'test-node', 'node identity again on the first request of the new stream');
    const v2 = server.version(RDS);
    const u = await rec.updateWithVersion(v2);
    assert.equal((u.resources[0]!.resource['virtual_hosts'] as Array<{ routes: Array<{ route: { timeout: number } }> }>)[0]!.routes[0]!.route.timeout, 3000);
    await server.waitFor('ack', (e) => e.versionInfo === v2);
    assert.equal(stats.snapshot().gauges['control_plane.connected_state'], 1);
    assert.ok(stats.snapshot().counters['rds.local_route.update_failure']! >= 1);
  } finally {
    factory.shutdown();
    await server.stop();
  }
});

test('initial_fetch_timeout fires once when the server never answers', async () => {
  const server = await startXdsServer({ port: 0 });
  const stats = new StatsStore();
  const factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, backoff: FAST_BACKOFF });
  try {
    const source: XdsConfigSource = { kind: 'grpc', server: grpcServer(server.port), initialFetchTimeoutMs: 200 };
    const { rec } = subscribe(factory, source, RDS, ['missing_route'], stats, 'rds.missing_route');
    await server.waitFor('request', (e) => e.typeUrl === RDS);
    await rec.until(() => rec.failures.find((f) => f.reason === 'fetch_timeout'), 'the initial fetch timeout', 2000);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(rec.failures.filter((f) => f.reason === 'fetch_timeout').length, 1);
    assert.equal(rec.updates.length, 0);
    assert.equal(stats.snapshot().counters['rds.missing_route.init_fetch_timeout'], 1);
  } finally {
    factory.shutdown();
    await server.stop();
  }
});

function discoveryYaml(version: string, cluster: string, domains = '["*"]'): string {
  return `version_info: "${version}"
resources:
- "@type": ${RDS}
  name: local_route
  virtual_hosts:
  - name: all
    domains: ${domains}
    routes:
    - match: { prefix: "/" }
      route: { cluster: ${cluster} }
`;
}

/** Writes `text` to `file` by atomic rename, as the protocol notes say writers must. */
function atomicWrite(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

test('watched file: initial load, atomic-rename update, an invalid file rejected with its line and the last good kept', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'courier-xds-file-'));
  const file = path.join(dir, 'rds.yaml');
  atomicWrite(file, discoveryYaml('1', 'backend_a'));
  const stats = new StatsStore();
  const factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, fileDebounceMs: 20 });
  try {
    const { rec } = subscribe(factory, { kind: 'path', path: file, initialFetchTimeoutMs: 0 }, RDS, ['local_route'], stats, 'rds.local_route');
    const u1 = await rec.updateWithVersion('1');
    assert.equal(u1.resources[0]!.name, 'local_route');

    atomicWrite(file, discoveryYaml('2', 'backend_b'));
    const u2 = await rec.updateWithVersion('2');
    assert.notEqual(u2.resources[0]!.hash, u1.resources[0]!.hash);

    atomicWrite(file, discoveryYaml('3', 'backend_c', '[]'));
    const rejected = await rec.until(() => rec.failures.find((f) => f.reason === 'rejected'), 'the bad file rejected');
    assert.match(rejected.error!, /resources\[0\]\.virtual_hosts\[0\]\.domains \(line 7\)/);
    assert.equal(rec.current, u2, 'the last good config is kept');
    assert.equal(rec.updates.length, 2);
    const snap = stats.snapshot();
    assert.equal(snap.counters['rds.local_route.update_rejected'], 1);
    assert.equal(snap.counters['rds.local_route.update_success'], 2);
  } finally {
    factory.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('resources wrapped in envoy.service.discovery.v3.Resource decode with their own name and version; a wrong type is refused', () => {
  const wrapped = encodeAny({ '@type': RESOURCE_WRAPPER_TYPE_URL, name: 'local_route', version: '7', resource: routeConfig('local_route', 'backend') });
  const ok = decodeAnyResources(ROUTE_CONFIGURATION, [wrapped], 'v1');
  assert.ok(ok.ok);
  assert.equal(ok.resources[0]!.name, 'local_route');
  assert.equal(ok.resources[0]!.version, '7');
  const wrong = decodeAnyResources(ROUTE_CONFIGURATION, [encodeAny(staticCluster('backend'))], 'v1');
  assert.ok(!wrong.ok);
  assert.match(wrong.problems[0]!.message, /does not match the subscribed type/);
});

test('ConfigSource parsing: api_config_source to a bootstrap cluster, ads, path; DELTA_GRPC and unknown clusters refused', () => {
  const clusters = [{ name: 'xds_cluster', type: 'STATIC' as const, endpoints: [{ address: '127.0.0.1', port: 18000, weight: 1 }] }];
  const ok = new ProblemCollector();
  const grpc = parseConfigSource(
    {
      api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds_cluster' } }] },
      initial_fetch_timeout: 2000,
    },
    ok,
    { clusters },
  );
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(grpc, {
    kind: 'grpc',
    server: { clusterName: 'xds_cluster', host: '127.0.0.1', port: 18000, target: '127.0.0.1:18000' },
    initialFetchTimeoutMs: 2000,
  });
  assert.deepEqual(parseConfigSource({ ads: {}, resource_api_version: 'V3' }, ok, { clusters, adsConfigured: true }), { kind: 'ads', initialFetchTimeoutMs: 15000 });
  assert.deepEqual(parseConfigSource({ path_config_source: { path: '/etc/rds.yaml', watched_directory: { path: '/etc' } } }, ok, { clusters }), {
    kind: 'path',
    path: '/etc/rds.yaml',
    watchedDirectory: '/etc',
    initialFetchTimeoutMs: 15000,
  });
  assert.deepEqual(ok.problems, []);

  const bad = new ProblemCollector('rds.config_source');
  parseConfigSource({ api_config_source: { api_type: 'DELTA_GRPC', transport_api_version: 'V3' } }, bad, { clusters });
  parseConfigSource({ api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'nope' } }] } }, bad, { clusters });
  parseConfigSource({ ads: {} }, bad, { clusters, adsConfigured: false });
  assert.deepEqual(
    bad.problems.map((p) => p.path),
    ['rds.config_source.api_config_source.api_type', 'rds.config_source.api_config_source.grpc_services[0].envoy_grpc.cluster_name', 'rds.config_source.ads'],
  );
  assert.match(bad.problems[0]!.message, /DELTA_GRPC is not supported by Courier yet/);
});

test('ConfigSource parsing: envoy_grpc.retry_policy.retry_back_off sets the stream backoff (max defaults to 10 × base); other retry fields refused', () => {
  const clusters = [{ name: 'xds_cluster', type: 'STATIC' as const, endpoints: [{ address: '127.0.0.1', port: 18000, weight: 1 }] }];
  const source = (retry_policy: unknown): Record<string, unknown> => ({
    api_config_source: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds_cluster', retry_policy } }] },
  });
  const ok = new ProblemCollector();
  const backoffOf = (s: ReturnType<typeof parseConfigSource>): unknown => (s?.kind === 'grpc' ? s.server.backoff : 'not grpc');
  assert.deepEqual(backoffOf(parseConfigSource(source({ retry_back_off: { base_interval: 100, max_interval: 400 } }), ok, { clusters })), { baseMs: 100, maxMs: 400 });
  assert.deepEqual(backoffOf(parseConfigSource(source({ retry_back_off: { base_interval: 250 } }), ok, { clusters })), { baseMs: 250, maxMs: 2500 });
  assert.deepEqual(ok.problems, []);

  const bad = new ProblemCollector('ads_config');
  parseConfigSource(source({ retry_back_off: { base_interval: 500, max_interval: 100 } }), bad, { clusters });
  parseConfigSource(source({ num_retries: 3 }), bad, { clusters });
  assert.deepEqual(
    bad.problems.map((p) => p.path),
    [
      'ads_config.api_config_source.grpc_services[0].envoy_grpc.retry_policy.retry_back_off.max_interval',
      'ads_config.api_config_source.grpc_services[0].envoy_grpc.retry_policy.num_retries',
    ],
  );
});

test('`courier xds-server --dir D --port 0` serves the directory and pushes a changed file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'courier-xds-dir-'));
  atomicWrite(path.join(dir, 'routes.yaml'), `- ${JSON.stringify(routeConfig('local_route', 'backend_a'))}\n`);
  writeFileSync(path.join(dir, 'clusters.yaml'), `resources:\n- ${JSON.stringify(staticCluster('backend_a'))}\n`);
  const child = spawn(process.execPath, [COURIER_BIN, 'xds-server', '--dir', dir, '--port', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const stats = new StatsStore();
  let factory: XdsSubscriptionFactory | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`xds-server did not say where it listens; stderr:\n${stderr}`)), 5000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const m = /^xds-server listening on 127\.0\.0\.1:(\d+)$/.exec(line);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', (code) => reject(new Error(`xds-server exited (${code}):\n${stderr}`)));
    });
    factory = new XdsSubscriptionFactory({ node: NODE, rootStats: stats, ads: grpcServer(port), backoff: FAST_BACKOFF });
    const { rec } = subscribe(factory, { kind: 'ads', initialFetchTimeoutMs: 0 }, RDS, ['local_route'], stats, 'rds.local_route');
    const clusterOf = (u: Update): string =>
      (u.resources[0]!.resource['virtual_hosts'] as Array<{ routes: Array<{ route: { cluster: string } }> }>)[0]!.routes[0]!.route.cluster;
    await rec.until(() => rec.updates.find((u) => clusterOf(u) === 'backend_a'), 'the first route config');

    atomicWrite(path.join(dir, 'routes.yaml'), `- ${JSON.stringify(routeConfig('local_route', 'backend_b'))}\n`);
    const pushed = await rec.until(() => rec.updates.find((u) => clusterOf(u) === 'backend_b'), 'the pushed route config');
    await eventually(() => stderr.includes(`RDS ACK version="${pushed.version}"`), 'the ACK logged on stderr');
    assert.match(stderr, /node=test-node RDS REQUEST version="" nonce="" names=\[local_route\]/);
  } finally {
    factory?.shutdown();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
