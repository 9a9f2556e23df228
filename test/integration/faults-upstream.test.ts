/**
 * Fault suite, upstream faults: an upstream that never answers, answers garbage, resets in
 * the middle of its answer, or refuses connections, for HTTP, dubbo_proxy, MetaProtocol with
 * Thrift and tcp_proxy. What each fault gives the faulty client is covered by each proxy's
 * own tests (http-retry, dubbo-proxy, meta-protocol*, tcp-proxy*); here every fault runs
 * beside a well-behaved client on a good route, which must not see a single failure, and
 * afterwards every gauge and the proxy processes' fd counts must be back to their baseline.
 *
 * Courier runs as the real command with one worker, so /proc/<pid>/fd of main and the worker
 * are the proxy's own. The misbehaving upstreams are raw sockets (test/support/faults.ts):
 * no real server misbehaves on purpose.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';
import { eventually, startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { backToBaseline, baseline, garbageUpstream, resettingUpstream, silentUpstream, SteadyLoad, workerPids } from '../support/faults.js';
import { closedPort, type Peer } from '../support/peers.js';

/** The faulty upstreams every family uses, by cluster name. */
interface FaultyUpstreams {
  silent: Peer;
  garbage: Peer;
  resetter: Peer;
  refusedPort: number;
  close(): Promise<void>;
}

async function faultyUpstreams(garbage: string | Buffer, prefix: (request: Buffer) => Buffer): Promise<FaultyUpstreams> {
  const [silent, garbagePeer, resetter, refusedPort] = await Promise.all([silentUpstream(), garbageUpstream(garbage), resettingUpstream(prefix), closedPort()]);
  return {
    silent,
    garbage: garbagePeer,
    resetter,
    refusedPort,
    close: async () => void (await Promise.all([silent.close(), garbagePeer.close(), resetter.close()])),
  };
}

const FAULT_CLUSTERS = ['silent', 'garbage', 'resetter', 'refused'] as const;

function clusterGauges(clusters: readonly string[]): string[] {
  return clusters.flatMap((c) => [`cluster.${c}.upstream_rq_active`, `cluster.${c}.upstream_cx_active`]);
}

/**
 * Runs `faulty` `times` at once while two loops call `good` without pause; then checks that no
 * good call failed and that gauges and fds are back where they were before.
 */
async function beside(
  courier: CourierHandle,
  opts: { gauges: string[]; pooled: string[]; good: () => Promise<void>; faulty: () => Promise<void>; times?: number },
): Promise<void> {
  const pids = [courier.child!.pid!, ...(await workerPids(courier, 1))];
  // Warm the good route at the concurrency it will see, so its pool is at its size.
  await Promise.all([opts.good(), opts.good()]);
  const base = await baseline(courier, opts.gauges, pids);
  const load = new SteadyLoad(2, () => opts.good());
  try {
    await Promise.all(Array.from({ length: opts.times ?? 4 }, () => opts.faulty()));
  } finally {
    await load.stop();
  }
  assert.deepEqual(load.failures, [], 'every well-behaved call succeeded');
  assert.ok(load.ok > 0, 'the good route was exercised');
  await backToBaseline(courier, base, opts.pooled);
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface HttpReply {
  status: number;
  body: string;
  /** The response was cut off (the connection ended before its end). */
  aborted: boolean;
}

function get(port: number, p: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, aborted: false }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, aborted: true }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${p} in 5 s`)));
    req.on('error', reject);
  });
}

async function goodHttpServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('good'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

test('HTTP: a silent, a garbage, a resetting and a refusing upstream leave the good route and every gauge and fd untouched', { timeout: 40_000 }, async () => {
  const good = await goodHttpServer();
  const bad = await faultyUpstreams('HTTP/1.1 xyz nonsense\r\n\r\n', () => Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial'));
  const logPath = path.join(tmpDir(), 'access.log');
  const yaml = `${hcmHeadYaml('faults', logPath, '%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n')}
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/silent" }
                route: { cluster: silent, timeout: 0.3s }
              - match: { prefix: "/garbage" }
                route: { cluster: garbage }
              - match: { prefix: "/resetter" }
                route: { cluster: resetter }
              - match: { prefix: "/refused" }
                route: { cluster: refused }
              - match: { prefix: "/" }
                route: { cluster: good }
  clusters:
${staticClusterYaml('good', [good.port])}
${staticClusterYaml('silent', [bad.silent.port])}
${staticClusterYaml('garbage', [bad.garbage.port])}
${staticClusterYaml('resetter', [bad.resetter.port])}
${staticClusterYaml('refused', [bad.refusedPort])}
`;
  const courier = await startCourier(yaml, { processes: 1 });
  try {
    const port = await courier.listenerPort('http');
    const gauges = ['http.faults.downstream_cx_active', 'http.faults.downstream_rq_active', ...clusterGauges(['good', ...FAULT_CLUSTERS])];
    const goodCall = async (): Promise<void> => assert.deepEqual(await get(port, '/good'), { status: 200, body: 'good', aborted: false });
    const expect: Record<(typeof FAULT_CLUSTERS)[number], (r: HttpReply) => void> = {
      silent: (r) => assert.equal(r.status, 504),
      garbage: (r) => assert.equal(r.status, 502),
      resetter: (r) => assert.ok(r.aborted && r.status === 200, `reset mid-response → ${JSON.stringify(r)}`),
      refused: (r) => assert.equal(r.status, 503),
    };
    for (const fault of FAULT_CLUSTERS) {
      await beside(courier, { gauges, pooled: ['good'], good: goodCall, faulty: async () => expect[fault](await get(port, `/${fault}`)) });
    }
    const flags = await eventually(() => {
      const lines = readFileSync(logPath, 'utf8').split('\n').filter((l) => !l.startsWith('/good') && l !== '');
      return lines.length === 16 ? lines : undefined;
    }, '16 faulty requests logged');
    // Envoy's codes and flags (an invalid response: 502 UPE since Envoy 1.18).
    assert.deepEqual([...new Set(flags)].sort(), ['/garbage 502 UPE', '/refused 503 UF', '/resetter 200 UC', '/silent 504 UT']);
    assert.equal(await courier.stat('cluster.silent.upstream_rq_timeout'), 4);
  } finally {
    await courier.stop();
    await Promise.all([good.close(), bad.close()]);
  }
});
