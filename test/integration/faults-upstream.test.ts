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
import { ADMIN_YAML, hcmHeadYaml, listenerHeadYaml, metaProxyListenerYaml, staticClusterYaml } from '../support/configs.js';
import { dubboYaml } from '../support/dubbo-configs.js';
import { DEMO_SERVICE, java, startProvider } from '../support/dubbo-peers.js';
import { DubboRawClient, encodeResponse, FrameParser, ResponseStatus } from '../support/dubbo-raw-client.js';
import { createThriftClient, startThriftServer, type ThriftClient } from '../support/thrift-peers.js';
import { ask } from '../support/xds-resources.js';
import { eventually, startCourier, tmpDir } from '../support/courier-harness.js';
import { beside, garbageUpstream, resettingUpstream, silentUpstream } from '../support/faults.js';
import { closedPort, connect, echoServer, readAll, type Peer } from '../support/peers.js';

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

// ---------------------------------------------------------------------------------------------
// dubbo_proxy

test('dubbo_proxy: a silent, a garbage, a resetting and a refusing provider leave the good route and every gauge and fd untouched', { timeout: 40_000 }, async () => {
  const provider = await startProvider({ name: 'good' });
  const bad = await faultyUpstreams('HTTP/1.1 400 Bad Request\r\n\r\n', (request) => encodeResponse(new FrameParser().push(request)[0]!.id, { value: 'x'.repeat(1000) }).subarray(0, 40));
  const routeConfig = `          - name: all
            interface: "*"
            routes:
${FAULT_CLUSTERS.map((c) => `            - match: { method: { name: { exact: ${c} } } }\n              route: { cluster: ${c} }`).join('\n')}
            - match: { method: { name: { safe_regex: { regex: ".*" } } } }
              route: { cluster: good }`;
  const yaml = dubboYaml({
    clusters: { good: [provider.port], silent: [bad.silent.port], garbage: [bad.garbage.port], resetter: [bad.resetter.port], refused: [bad.refusedPort] },
    routeConfig,
    requestTimeout: '0.3s',
  });
  const courier = await startCourier(yaml, { processes: 1 });
  let goodClient: DubboRawClient | undefined;
  try {
    const port = await courier.listenerPort('dubbo');
    goodClient = await DubboRawClient.connect(port, { timeoutMs: 5000 });
    const client = goodClient;
    const gauges = ['server.total_connections', 'dubbo.dubbo_stats.request_active', ...clusterGauges(['good', ...FAULT_CLUSTERS])];
    let n = 0;
    const goodCall = async (): Promise<void> => {
      const text = `call-${n++}`;
      const r = await client.request({ service: DEMO_SERVICE, method: 'echo', args: [java.String(text)] });
      assert.equal(r.value, text);
    };
    const expected: Record<(typeof FAULT_CLUSTERS)[number], number> = {
      silent: ResponseStatus.SERVER_TIMEOUT,
      garbage: ResponseStatus.SERVER_ERROR,
      resetter: ResponseStatus.SERVER_ERROR,
      refused: ResponseStatus.SERVER_ERROR,
    };
    for (const fault of FAULT_CLUSTERS) {
      await beside(courier, {
        gauges,
        pooled: ['good'],
        good: goodCall,
        faulty: async () => {
          const raw = await DubboRawClient.connect(port, { timeoutMs: 5000 });
          try {
            const r = await raw.request({ service: DEMO_SERVICE, method: fault, args: [] });
            assert.equal(r.status, expected[fault], `${fault}: status ${r.status} ${r.errorMessage ?? ''}`);
          } finally {
            await raw.close();
          }
        },
      });
    }
    assert.equal(await courier.stat('cluster.silent.upstream_rq_timeout'), 4);
  } finally {
    await goodClient?.close();
    await courier.stop();
    await Promise.all([provider.stop(), bad.close()]);
  }
});

// ---------------------------------------------------------------------------------------------
// meta_protocol_proxy with Thrift

test('meta_protocol_proxy (thrift): a silent, a garbage, a resetting and a refusing server leave the good route and every gauge and fd untouched', { timeout: 40_000 }, async () => {
  const server = await startThriftServer({ name: 'good', transport: 'framed', protocol: 'binary' });
  // A frame of 4 bytes that is no Thrift message; the start of a 256-byte frame, then a reset.
  const bad = await faultyUpstreams(Buffer.from('00000004deadbeef', 'hex'), () => Buffer.from('00000100800100020000', 'hex'));
  // The client calls whoami, add, ping and sleep to reach the faulty clusters.
  const methodOf = { silent: 'sleep', garbage: 'whoami', resetter: 'add', refused: 'ping' } as const;
  const protocol = '{ name: thrift, codec: { name: courier.meta_protocol.codec.thrift }, multiplexing: true }';
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${metaProxyListenerYaml('thrift', 'thrift_in', protocol)}
          route_config:
            name: thrift_routes
            routes:
${FAULT_CLUSTERS.map((c) => `            - match: { metadata: [ { name: method, string_match: { exact: ${methodOf[c]} } } ] }\n              route: { cluster: ${c}${c === 'silent' ? ', timeout: 0.3s' : ''} }`).join('\n')}
            - match: { metadata: [ { name: method, string_match: { exact: echo } } ] }
              route: { cluster: good }
  clusters:
${staticClusterYaml('good', [server.port])}
${staticClusterYaml('silent', [bad.silent.port])}
${staticClusterYaml('garbage', [bad.garbage.port])}
${staticClusterYaml('resetter', [bad.resetter.port])}
${staticClusterYaml('refused', [bad.refusedPort])}
`;
  const courier = await startCourier(yaml, { processes: 1 });
  const peer = { transport: 'framed', protocol: 'binary' } as const;
  let goodClient: ThriftClient | undefined;
  try {
    const port = await courier.listenerPort('thrift');
    goodClient = await createThriftClient(port, { ...peer, timeoutMs: 5000 });
    const client = goodClient;
    const gauges = ['server.total_connections', 'meta_protocol.thrift_in.request_active', ...clusterGauges(['good', ...FAULT_CLUSTERS])];
    let n = 0;
    const goodCall = async (): Promise<void> => {
      const text = `call-${n++}`;
      assert.equal(await client.echo(text), text);
    };
    const call: Record<(typeof FAULT_CLUSTERS)[number], (c: ThriftClient) => Promise<unknown>> = {
      silent: (c) => c.sleep(10),
      garbage: (c) => c.whoami(),
      resetter: (c) => c.add(1, 2),
      refused: (c) => c.ping(),
    };
    for (const fault of FAULT_CLUSTERS) {
      await beside(courier, {
        gauges,
        // Multiplexed upstreams: a request's timeout leaves the shared connection open.
        pooled: ['good', 'silent'],
        good: goodCall,
        faulty: async () => {
          const c = await createThriftClient(port, { ...peer, timeoutMs: 5000 });
          try {
            // A TApplicationException from Courier, carrying the call's seqid, never the client's own timeout.
            await assert.rejects(call[fault](c), (e: { type?: number; message?: string }) => typeof e.type === 'number' && !/timed out after/.test(e.message ?? ''));
          } finally {
            c.close();
          }
        },
      });
    }
  } finally {
    goodClient?.close();
    await courier.stop();
    await Promise.all([server.stop(), bad.close()]);
  }
});

// ---------------------------------------------------------------------------------------------
// tcp_proxy

test('tcp_proxy: a silent (idle_timeout), a resetting and a refusing upstream leave the good listener and every gauge and fd untouched', { timeout: 40_000 }, async () => {
  const echo = await echoServer();
  const bad = await faultyUpstreams('', (request) => request);
  const listener = (name: string, cluster: string, extra = ''): string => `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: ${name}
          cluster: ${cluster}${extra}`;
  const yaml = `${ADMIN_YAML}
static_resources:
  listeners:
${listener('good', 'good')}
${listener('silent', 'silent', '\n          idle_timeout: 0.3s')}
${listener('resetter', 'resetter')}
${listener('refused', 'refused')}
  clusters:
${staticClusterYaml('good', [echo.port])}
${staticClusterYaml('silent', [bad.silent.port])}
${staticClusterYaml('resetter', [bad.resetter.port])}
${staticClusterYaml('refused', [bad.refusedPort])}
`;
  const courier = await startCourier(yaml, { processes: 1 });
  try {
    const goodPort = await courier.listenerPort('good');
    const gauges = ['server.total_connections', ...clusterGauges(['good', 'silent', 'resetter', 'refused'])];
    const goodCall = async (): Promise<void> => assert.equal(await ask(goodPort), 'hi');
    // What the client of each faulty listener reads before Courier closes its connection.
    const expected = { silent: '', resetter: 'hi', refused: '' } as const;
    for (const fault of ['silent', 'resetter', 'refused'] as const) {
      const port = await courier.listenerPort(fault);
      await beside(courier, {
        gauges,
        pooled: [],
        good: goodCall,
        faulty: async () => {
          const s = await connect(port);
          const received = readAll(s);
          // An ordinary client: it closes its side once Courier has closed (half-close is propagated).
          s.on('end', () => s.end());
          const gone = new Promise((r) => s.on('close', r));
          s.write('hi');
          assert.equal((await received).toString(), expected[fault]);
          await gone;
        },
      });
    }
    assert.equal(await courier.stat('tcp.silent.idle_timeout'), 4);
    assert.equal(await courier.stat('tcp.refused.upstream_flush_active'), 0);
  } finally {
    await courier.stop();
    await Promise.all([echo.close(), bad.close()]);
  }
});
