/**
 * Connection-level bounds of the HTTP connection manager, on real sockets: request_headers_timeout
 * (a slowloris client sending its head one byte per 200 ms), common_http_protocol_options
 * idle_timeout (a connection that never sends anything), max_connection_duration and
 * max_requests_per_connection (the last response says `connection: close`, then the connection
 * closes), stream_idle_timeout bounding a head when request_headers_timeout is off (Envoy's
 * stream and its idle timer start at the head's first byte), max_stream_duration (408 "downstream
 * duration timeout" for a response not started in time), and a node:http keep-alive client
 * in between that none of this disturbs. Two in-process Couriers with different settings share
 * one node:http upstream; times are asserted as ratios of the configured timeouts only.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startCourier, eventually, sleep, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { connect, readAll } from '../support/peers.js';
import { hcmHeadYaml, staticClusterYaml, catchAllVirtualHostYaml } from '../support/configs.js';

const HEAD_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1000;
const MAX_DURATION_MS = 1500;
const STREAM_IDLE_MS = 1200;

function yaml(upstreamPort: number, hcmFields: string): string {
  return `${hcmHeadYaml('ingress', path.join(tmpDir(), 'access.log'), '%RESPONSE_CODE% %RESPONSE_FLAGS%\n', { hcm: hcmFields })}
            name: routes
${catchAllVirtualHostYaml('backend')}
  clusters:
${staticClusterYaml('backend', [upstreamPort])}
`;
}

let upstream: http.Server;
/** request_headers_timeout and idle_timeout. */
let a: CourierHandle;
let aPort: number;
/** max_connection_duration, max_requests_per_connection, stream_idle_timeout with no request_headers_timeout. */
let b: CourierHandle;
let bPort: number;

before(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
    req.on('end', () => setTimeout(() => res.end(`ok:${req.url}`), delay));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as net.AddressInfo).port;
  a = await startCourier(
    yaml(
      up,
      `          request_headers_timeout: ${HEAD_TIMEOUT_MS / 1000}s
          common_http_protocol_options:
            idle_timeout: ${IDLE_TIMEOUT_MS / 1000}s`,
    ),
  );
  aPort = await a.listenerPort('http');
  b = await startCourier(
    yaml(
      up,
      `          request_headers_timeout: 0s
          stream_idle_timeout: ${STREAM_IDLE_MS / 1000}s
          common_http_protocol_options:
            idle_timeout: 0s
            max_connection_duration: ${MAX_DURATION_MS / 1000}s
            max_requests_per_connection: 4`,
    ),
  );
  bPort = await b.listenerPort('http');
});

after(async () => {
  await a?.stop();
  await b?.stop();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

/** Sends `text` one byte every `everyMs` until the socket closes; resolves with what it received and when. */
async function slowloris(port: number, text: string, everyMs: number): Promise<{ reply: string; ms: number; sent: number }> {
  const s = await connect(port);
  const started = performance.now();
  const received = readAll(s);
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < text.length && !s.destroyed) s.write(text[sent++]!);
  }, everyMs);
  const reply = (await received).toString('latin1');
  clearInterval(timer);
  s.destroy();
  return { reply, ms: performance.now() - started, sent };
}

const SLOW_HEAD = 'GET /slow HTTP/1.1\r\nHost: example.com\r\nUser-Agent: slowloris/1.0 (one byte at a time)\r\n\r\n';

/** One request on a keep-alive agent: status, body, `connection` header and the local port used. */
function get(port: number, agent: http.Agent, p: string): Promise<{ status: number; body: string; connection: string | undefined; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      const localPort = res.socket.localPort ?? 0; // the socket goes back to the agent at the end
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection, localPort }));
    });
    req.on('error', reject);
  });
}

test('a slowloris head gets 408 at request_headers_timeout while a keep-alive client goes on; a silent connection closes at idle_timeout', async () => {
  const before = await a.stats();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const loris = slowloris(aPort, SLOW_HEAD, 200);
  const silent = connect(aPort).then(async (s) => {
    const started = performance.now();
    const got = await readAll(s);
    s.destroy();
    return { got: got.length, ms: performance.now() - started };
  });
  // A well-behaved keep-alive client meanwhile: requests 150 ms apart (less than idle_timeout)
  // on one connection, for longer than both timeouts.
  const ports = new Set<number>();
  for (let i = 0; i < 12; i++) {
    const r = await get(aPort, agent, `/k${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, `ok:/k${i}`);
    ports.add(r.localPort);
    await sleep(150);
  }
  assert.equal(ports.size, 1, 'the keep-alive client kept its one connection');

  const l = await loris;
  assert.match(l.reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(l.reply, /\r\nconnection: close\r\n/i);
  assert.match(l.reply, /request header timeout$/);
  assert.ok(l.sent < SLOW_HEAD.length, 'closed before the head was complete');
  assert.ok(l.ms >= HEAD_TIMEOUT_MS * 0.9, `not before the timeout (${l.ms} ms)`);
  assert.ok(l.ms < HEAD_TIMEOUT_MS * 6, `closed soon after the timeout (${l.ms} ms)`);

  const s = await silent;
  assert.equal(s.got, 0, 'a connection that sent nothing is closed without a reply');
  assert.ok(s.ms >= IDLE_TIMEOUT_MS * 0.9 && s.ms < IDLE_TIMEOUT_MS * 6, `silent connection closed at idle_timeout (${s.ms} ms)`);

  // The keep-alive client's connection, idle now, is closed by idle_timeout too.
  await eventually(async () => (await a.stat('http.ingress.downstream_cx_active')) === 0, 'idle connections closed', IDLE_TIMEOUT_MS * 6);
  agent.destroy();
  const after = await a.stats();
  const delta = (n: string) => (after.get(`http.ingress.${n}`) ?? 0) - (before.get(`http.ingress.${n}`) ?? 0);
  assert.equal(delta('downstream_rq_header_timeout'), 1);
  assert.equal(delta('downstream_cx_idle_timeout'), 2, 'the silent connection and the keep-alive one, once idle');
  assert.equal(delta('downstream_rq_4xx'), 1);
  assert.equal(delta('downstream_rq_2xx'), 12);
  for (const g of ['http.ingress.downstream_cx_active', 'http.ingress.downstream_rq_active', 'cluster.backend.upstream_rq_active']) assert.equal(after.get(g), 0, g);
});

test('max_connection_duration: the response in flight says connection: close, then the connection closes', async () => {
  const before = await b.stats();
  const s = await connect(bPort);
  const all = readAll(s);
  const started = performance.now();
  // Two quick requests, then one whose answer takes long enough to be in flight when
  // max_connection_duration is reached (fewer than max_requests_per_connection in all).
  const delays = [0, 0, MAX_DURATION_MS / 2];
  for (let i = 0; i < delays.length && !s.destroyed && !s.readableEnded; i++) {
    s.write(`GET /d${i}?delay=${delays[i]} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await sleep(MAX_DURATION_MS / 2.5);
  }
  const text = (await all).toString('latin1');
  const ms = performance.now() - started;
  s.destroy();
  const responses = text.split('HTTP/1.1 ').slice(1);
  assert.equal(responses.length, 3, text);
  assert.ok(responses.every((r) => r.startsWith('200 ')), text);
  assert.match(responses.at(-1)!, /\r\nconnection: close\r\n/i, 'the last response announces the close');
  assert.ok(!responses.slice(0, -1).some((r) => /connection: close/i.test(r)), 'earlier ones do not');
  assert.ok(ms >= MAX_DURATION_MS * 0.9, `not before max_connection_duration (${ms} ms)`);
  const after = await b.stats();
  assert.equal((after.get('http.ingress.downstream_cx_max_duration_reached') ?? 0) - (before.get('http.ingress.downstream_cx_max_duration_reached') ?? 0), 1);
  await eventually(async () => (await b.stat('http.ingress.downstream_cx_active')) === 0, 'connection closed');
});

test('max_connection_duration closes a connection with no stream at once', async () => {
  const s = await connect(bPort);
  const started = performance.now();
  const got = await readAll(s);
  const ms = performance.now() - started;
  s.destroy();
  assert.equal(got.length, 0);
  assert.ok(ms >= MAX_DURATION_MS * 0.9 && ms < MAX_DURATION_MS * 6, `${ms} ms`);
});

test('max_requests_per_connection: the 4th response says connection: close; a node:http client just reconnects', async () => {
  const before = await b.stats();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const results = [];
  for (let i = 0; i < 8; i++) results.push(await get(bPort, agent, `/m${i}`));
  agent.destroy();
  assert.deepEqual(
    results.map((r) => [r.status, r.body]),
    results.map((_, i) => [200, `ok:/m${i}`]),
  );
  assert.deepEqual(
    results.map((r) => r.connection === 'close'),
    [false, false, false, true, false, false, false, true],
  );
  assert.equal(new Set(results.map((r) => r.localPort)).size, 2, `two connections of four requests each: ${JSON.stringify(results)}`);
  const after = await b.stats();
  assert.equal((after.get('http.ingress.downstream_cx_max_requests_reached') ?? 0) - (before.get('http.ingress.downstream_cx_max_requests_reached') ?? 0), 2);
});

test('with request_headers_timeout off, stream_idle_timeout still bounds a slow head (from its first byte, as Envoy)', async () => {
  const before = await b.stat('http.ingress.downstream_rq_idle_timeout');
  const l = await slowloris(bPort, SLOW_HEAD, 200);
  assert.match(l.reply, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(l.reply, /stream timeout$/);
  assert.ok(l.ms >= STREAM_IDLE_MS * 0.9 && l.ms < STREAM_IDLE_MS * 6, `${l.ms} ms`);
  assert.equal((await b.stat('http.ingress.downstream_rq_idle_timeout')) - before, 1);
  await eventually(async () => {
    const st = await b.stats();
    return ['http.ingress.downstream_cx_active', 'http.ingress.downstream_rq_active', 'cluster.backend.upstream_rq_active'].every((g) => st.get(g) === 0);
  }, 'gauges back to 0');
});

test('max_stream_duration: a response not started at the limit is a 408 "downstream duration timeout"; a quick request is not disturbed', async () => {
  const up = (upstream.address() as net.AddressInfo).port;
  const c = await startCourier(yaml(up, `          common_http_protocol_options:\n            max_stream_duration: 1s`));
  try {
    const port = await c.listenerPort('http');
    const agent = new http.Agent({ keepAlive: false });
    assert.equal((await get(port, agent, '/quick')).status, 200);
    const started = performance.now();
    const slow = await get(port, agent, '/slow?delay=8000');
    const ms = performance.now() - started;
    assert.equal(slow.status, 408);
    assert.equal(slow.body, 'downstream duration timeout');
    assert.ok(ms >= 900 && ms < 6000, `answered after ${ms} ms (max_stream_duration 1s)`);
    assert.equal(await c.stat('http.ingress.downstream_rq_max_duration_reached'), 1);
  } finally {
    await c.stop();
  }
});
