#!/usr/bin/env node
/**
 * Micro benchmark of Courier's whole HTTP proxy path in JavaScript (not a test): requests per
 * CPU-second through the real HttpConnectionManager, route table, UpstreamHttpPools, Http1Parser,
 * encoder and ConnectionImpl, with the sockets replaced by in-memory fakes. What it leaves out is
 * the kernel and Node's net/stream internals, which a real run (bench/http/profile.sh) adds; what
 * it keeps is everything Courier's own code decides, measured without the noise of a shared
 * machine (process.cpuUsage, like parser-bench.mjs).
 *
 * Each request is its own macrotask (setImmediate), as a socket read is, so the connection's
 * write coalescing (process.nextTick) runs as it does for real: request read → head written
 * upstream; next macrotask: response read → head and body written downstream.
 *
 *   npx tsc -p . && node bench/http/hcm-bench.mjs [--seconds 2] [--connections 50] [--courier-dir DIR]
 *
 * The request is wrk's (GET /bench/hello, Host only); the response nginx's `return 200 "hello
 * world\n"`. Reports requests per CPU-second, best and median of 5 rounds, and the garbage
 * collections (minor, major, ms) per 1000 requests during them: allocation per request, and any
 * objects kept alive too long, show up there.
 */
import { EventEmitter } from 'node:events';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '50' },
    'courier-dir': { type: 'string', default: REPO },
  },
});
const SECONDS = Number(opts.seconds);
const CONNECTIONS = Number(opts.connections);
const dist = (p) => import(pathToFileURL(path.join(opts['courier-dir'], 'dist', 'src', p)).href);

const { HttpConnectionManager } = await dist('common/http/connection-manager.js');
const { createHcmStats, createHttp1CodecStats } = await dist('common/http/hcm-config.js');
// Absent in builds before issue 10 (--courier-dir to an older tree): those ignore the options.
const forwarding = await dist('common/http/forwarded-headers.js').catch(() => undefined);
const { UpstreamHttpPools } = await dist('common/http/upstream-http-pool.js');
const { ConnectionImpl } = await dist('common/network/connection-impl.js');
const { FilterManagerImpl } = await dist('common/network/filter-manager-impl.js');
const { StatsStore } = await dist('common/stats/stats-store.js');
const { createClusterTrafficStats } = await dist('common/upstream/cluster-stats.js');
const { newStreamInfo } = await dist('api/stream-info.js');
const { decodeMessage } = await dist('config/proto-json.js');
const { protoRoot } = await dist('config/proto-registry.js');
const { ProblemCollector } = await dist('config/config-error.js');
const { parseRouteConfiguration } = await dist('common/router/route-config.js');
const { RouteTable } = await dist('common/router/route-table.js');

// --- the route table: gen-courier-config.mjs's, 10 unmatched prefixes then /bench/ ----------
function routeTable(n) {
  const routes = [];
  for (let i = 0; i < n; i++) routes.push({ match: { prefix: `/r${i}/` }, route: { cluster: 'backend' } });
  routes.push({ match: { prefix: '/bench/' }, route: { cluster: 'backend' } });
  const json = { name: 'bench_routes', virtual_hosts: [{ name: 'bench', domains: ['*'], routes }] };
  const { value, problems } = decodeMessage(protoRoot().lookupType('envoy.config.route.v3.RouteConfiguration'), json);
  if (problems.length) throw new Error(JSON.stringify(problems));
  const collector = new ProblemCollector();
  const config = parseRouteConfiguration(value, collector);
  if (!config) throw new Error(JSON.stringify(collector.problems));
  return new RouteTable(JSON.parse(JSON.stringify(config)));
}

// --- fake sockets ------------------------------------------------------------------------------
/**
 * What ConnectionImpl uses of a net.Socket. Each "send" (a write, or what was written while
 * corked, at uncork) goes to `onSend` as an array of Buffers, as one write or writev would.
 */
class FakeSocket extends EventEmitter {
  remoteAddress = '127.0.0.1';
  localAddress = '127.0.0.1';
  writableLength = 0;
  writableFinished = false;
  destroyed = false;
  corked = 0;
  pending = [];
  constructor(remotePort, localPort, onSend) {
    super();
    this.remotePort = remotePort;
    this.localPort = localPort;
    this.onSend = onSend;
  }
  write(data) {
    if (this.corked > 0) this.pending.push(data);
    else this.onSend([data]);
    return true;
  }
  cork() {
    this.corked++;
  }
  uncork() {
    if (this.corked > 0 && --this.corked === 0 && this.pending.length > 0) {
      const sent = this.pending;
      this.pending = [];
      this.onSend(sent);
    }
  }
  pause() {}
  resume() {}
  setNoDelay() {}
  end(cb) {
    cb?.();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

const REQUEST = Buffer.from('GET /bench/hello HTTP/1.1\r\nHost: 127.0.0.1:25411\r\n\r\n', 'latin1');
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 25 Nov 2026 20:08:49 GMT\r\n' +
    'Content-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nhello world\n',
  'latin1',
);

const store = new StatsStore();
const host = { address: '127.0.0.1:25401', host: '127.0.0.1', port: 25401, weight: 1, hostname: '127.0.0.1' };
const budget = { canCreate: () => true, inc() {}, dec() {} };
/** Upstream connections waiting for their response, in request order. */
const awaitingResponse = [];
let upstreamPort = 40000;
const tcpPool = {
  host,
  hostStats: { rq_total: 0, rq_active: 0, rq_success: 0, rq_error: 0, rq_timeout: 0 },
  newConnection(callbacks) {
    const socket = new FakeSocket(25401, upstreamPort++, () => awaitingResponse.push(socket));
    const conn = new ConnectionImpl(socket, 1 << 20, newStreamInfo('127.0.0.1:25401', `127.0.0.1:${socket.localPort}`));
    setImmediate(() => callbacks.onPoolReady(conn, host));
    return { cancel() {} };
  },
};
const cluster = {
  name: 'backend',
  protocolOptions: {},
  stats: createClusterTrafficStats(store.scope('cluster.backend')),
  requestBudget: budget,
  retryBudget: budget,
  chooseHost: () => host,
  tcpConnPool: () => tcpPool,
};
const table = routeTable(10);
const shared = {
  options: {
    upgrades: new Map(),
    acceptHttp10: false,
    defaultHostForHttp10: '',
    enableTrailers: false,
    allowCustomMethods: false,
    // The defaults a config without these fields gets (hcm-config.ts).
    streamIdleTimeoutMs: 300_000,
    requestHeadersTimeoutMs: 60_000,
    idleTimeoutMs: 3_600_000,
    maxConnectionDurationMs: 0,
    maxRequestsPerConnection: 0,
    maxHeadersCount: 100,
    maxRequestHeaderBytes: 60 * 1024,
    headersWithUnderscoresAction: 'ALLOW',
    forwarding:
      forwarding &&
      new forwarding.ForwardedHeaders({ useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, internalAddress: { unixSockets: false, cidrRanges: [] } }),
    requestId: { generate: true, preserveExternal: false, alwaysSetInResponse: false },
    serverHeader: { serverName: 'courier', transformation: 'OVERWRITE' },
    pathNormalization: { normalizePath: false, mergeSlashes: false, escapedSlashesAction: 'KEEP_UNCHANGED' },
    requestTimeoutMs: 0,
    maxStreamDurationMs: 0,
  },
  stats: createHcmStats(store.scope('http.bench_http')),
  codecStats: createHttp1CodecStats?.(store),
  routeTable: () => table,
  clusterManager: { getThreadLocalCluster: (name) => (name === 'backend' ? cluster : undefined) },
  pools: new UpstreamHttpPools(store),
  accessLoggers: [],
};

// --- downstream connections ----------------------------------------------------------------------
let responses = 0;
let badResponses = 0;
const downstream = [];
for (let i = 0; i < CONNECTIONS; i++) {
  const socket = new FakeSocket(50000 + i, 25411, (sent) => {
    // One send per response (head and body coalesced): "HTTP/1.1 200 ...", ending with the body.
    const head = sent[0];
    const last = sent[sent.length - 1];
    const ok = head[9] === 0x32 && head[10] === 0x30 && head[11] === 0x30 && last[last.length - 1] === 0x0a && last[last.length - 2] === 0x64;
    if (ok) responses++;
    else badResponses++;
  });
  const conn = new ConnectionImpl(socket, 1 << 20, newStreamInfo(`127.0.0.1:${50000 + i}`, '127.0.0.1:25411'));
  const fm = new FilterManagerImpl(conn);
  fm.addReadFilter(new HttpConnectionManager(shared));
  fm.initialize();
  downstream.push(socket);
}

/** One step: a request on the next connection (round robin), then, next macrotask, its response. */
let next = 0;
function request() {
  downstream[next].emit('data', REQUEST);
  next = (next + 1) % CONNECTIONS;
}
function respond() {
  const s = awaitingResponse.shift();
  if (s) s.emit('data', RESPONSE);
}
const tick = () => new Promise((r) => setImmediate(r));

/** n requests, each answered: request macrotask, response macrotask. */
async function run(n) {
  for (let i = 0; i < n; i++) {
    request();
    await tick();
    while (awaitingResponse.length === 0) await tick(); // first use: the pool connects
    respond();
    await tick();
  }
}

async function rate() {
  const start = process.cpuUsage();
  const before = responses;
  let used = 0;
  do {
    await run(2000);
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  } while (used < (SECONDS / 5) * 1e6);
  return (responses - before) / (used / 1e6);
}

// Garbage collections during the measured rounds: allocation per request shows up here.
let measuring = false;
const gc = { minor: 0, major: 0, ms: 0 };
new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const e of list.getEntries()) {
    if (e.detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
    else gc.major++;
    gc.ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });

await run(20000); // warm-up, and every pooled connection made
if (badResponses > 0 || responses !== 20000) throw new Error(`warm-up: ${responses} good, ${badResponses} bad responses`);
const rates = [];
measuring = true;
const measuredFrom = responses;
for (let r = 0; r < 5; r++) rates.push(await rate());
await tick(); // the last gc entries
measuring = false;
const per1k = 1000 / (responses - measuredFrom);
rates.sort((a, b) => a - b);
const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log(
  `hcm-bench (${path.basename(opts['courier-dir'])}, node ${process.version}, ${CONNECTIONS} connections): ` +
    `best ${fmt(rates[4])} req/CPU-s (${(1e6 / rates[4]).toFixed(2)} µs), median ${fmt(rates[2])}; ` +
    `per 1000 requests: ${(gc.minor * per1k).toFixed(2)} minor + ${(gc.major * per1k).toFixed(2)} major GCs, ${(gc.ms * per1k).toFixed(2)} ms in GC`,
);
if (badResponses > 0) throw new Error(`${badResponses} bad responses`);
process.exit(0);
