/**
 * The HTTP connection manager's protocol options and header formatting end to end, on raw
 * sockets and Node's client around one in-process Courier: HTTP/1.0 with
 * http_protocol_options.accept_http_10 and default_host_for_http_10, stream_idle_timeout
 * (route idle_timeout) on ordinary requests, and %OPERATOR% values in
 * request_headers_to_add / response_headers_to_add.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startCourier, eventually, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';

interface Backend {
  port: number;
  /** What each request carried, by x-test-id (or by path when there is none). */
  seen: Map<string, { headers: http.IncomingHttpHeaders; httpVersion: string }>;
  close(): Promise<void>;
}

/** /len answers with a content-length, /chunked with a chunked body, /slow after 300 ms, /hang never. */
async function backend(): Promise<Backend> {
  const seen = new Map<string, { headers: http.IncomingHttpHeaders; httpVersion: string }>();
  const server = http.createServer((req, res) => {
    const id = String(req.headers['x-test-id'] ?? req.url);
    seen.set(id, { headers: req.headers, httpVersion: req.httpVersion });
    res.setHeader('x-backend', 'B');
    req.resume();
    if (req.url?.startsWith('/hang')) return;
    req.on('end', () => {
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.end('slow'), 300);
      } else if (req.url?.startsWith('/chunked')) {
        res.write('first,');
        setTimeout(() => res.end('second'), 20);
      } else {
        res.end(`len:${req.url}`);
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

function yaml(port: number, logPath: string): string {
  const head = hcmHeadYaml('proto', logPath, '%REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS%\n').replace(
    '          codec_type: HTTP1',
    `          codec_type: HTTP1
          stream_idle_timeout: 20s
          http_protocol_options: { accept_http_10: true, default_host_for_http_10: legacy.example }`,
  );
  return `${head}
            name: routes
            virtual_hosts:
            - name: main
              domains: ["*"]
              routes:
              - match: { prefix: "/hang" }
                route: { cluster: b, timeout: 0s, idle_timeout: 0.3s }
              - match: { prefix: "/fmt" }
                route: { cluster: b }
                request_headers_to_add:
                - header: { key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS%" }
                - header: { key: x-client-ip, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%" }
                - header: { key: x-proto, value: "%PROTOCOL%" }
                - header: { key: x-start, value: "%START_TIME(%s)%" }
                - header: { key: x-copy, value: "copy of %REQ(x-src)%, 100%%" }
                - header: { key: x-upstream-req, value: "%UPSTREAM_REMOTE_ADDRESS%" }
                - header: { key: x-kept, value: "%REQ(x-missing)%" }
                  keep_empty_value: true
                response_headers_to_add:
                - header: { key: x-upstream, value: "%UPSTREAM_REMOTE_ADDRESS%" }
                - header: { key: x-code, value: "%RESPONSE_CODE%" }
                - header: { key: x-resp-copy, value: "%RESP(x-backend)%" }
                - header: { key: x-start-iso, value: "%START_TIME%" }
                - header: { key: x-literal, value: "plain" }
              - match: { prefix: "/" }
                route: { cluster: b }
  clusters:
${staticClusterYaml('b', [port])}
`;
}

let courier: CourierHandle;
let port: number;
let B: Backend;
let logPath: string;

before(async () => {
  B = await backend();
  logPath = path.join(tmpDir(), 'access.log');
  courier = await startCourier(yaml(B.port, logPath));
  port = await courier.listenerPort('http');
});

after(async () => {
  await courier.stop();
  await B.close();
});

/** A raw connection: write requests, read replies; closes its side when Courier does. */
class RawClient {
  readonly socket: net.Socket;
  text = '';
  closed = false;
  constructor() {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => {});
  }
  send(s: string): void {
    this.socket.write(s);
  }
  /** Waits until `n` complete responses (by their ends: `until`) or the close. */
  async until(check: (text: string) => boolean, what: string): Promise<string> {
    await eventually(() => check(this.text) || this.closed, what);
    return this.text;
  }
}

test('HTTP/1.0 with accept_http_10: proxied upstream as HTTP/1.1 with the default host, answered on HTTP/1.0, closed', async () => {
  const c = new RawClient();
  c.send('GET /len?a HTTP/1.0\r\n\r\n');
  await c.until(() => false, 'close');
  assert.match(c.text, /^HTTP\/1.0 200 OK\r\n/);
  assert.match(c.text, /\r\nconnection: close\r\n/);
  assert.match(c.text, /\r\ncontent-length: 10\r\n/);
  assert.ok(c.text.endsWith('\r\n\r\nlen:/len?a'), c.text);
  const seen = B.seen.get('/len?a')!;
  assert.equal(seen.headers['host'], 'legacy.example');
  assert.equal(seen.httpVersion, '1.1');
  assert.match(
    await eventually(() => readFileSync(logPath, 'utf8').split('\n').find((l) => l.startsWith('/len?a ')) ?? '', 'log line'),
    /^\/len\?a HTTP\/1.0 200 -$/,
  );
});

test('HTTP/1.0 keep-alive: a response with a length keeps the connection (connection: keep-alive); one without closes it', async () => {
  const c = new RawClient();
  c.send('GET /len/1 HTTP/1.0\r\nhost: a.example\r\nconnection: keep-alive\r\n\r\n');
  await c.until((t) => t.endsWith('len:/len/1'), 'first response');
  assert.match(c.text, /^HTTP\/1.0 200 OK\r\n/);
  assert.match(c.text, /\r\nconnection: keep-alive\r\n/);
  assert.equal(B.seen.get('/len/1')!.headers['host'], 'a.example');
  assert.equal(c.closed, false);
  // Same connection: the backend's chunked body cannot be framed for HTTP/1.0, so it is sent
  // raw and the connection's end delimits it.
  c.send('GET /chunked HTTP/1.0\r\nconnection: keep-alive\r\n\r\n');
  await c.until(() => false, 'close');
  const second = c.text.slice(c.text.indexOf('HTTP/1.0', 10));
  assert.match(second, /^HTTP\/1.0 200 OK\r\n/);
  assert.doesNotMatch(second, /transfer-encoding/i);
  assert.match(second, /\r\nconnection: close\r\n/);
  assert.ok(second.endsWith('\r\n\r\nfirst,second'), second);
});

test('stream idle_timeout: a request fully read gets 504 "stream timeout" (SI); an unfinished body gets 408 and a close', async () => {
  const before = await courier.stat('http.proto.downstream_rq_idle_timeout');
  const started = Date.now();
  const c = new RawClient();
  c.send('GET /hang/a HTTP/1.1\r\nhost: x\r\n\r\n');
  await c.until((t) => t.includes('stream timeout'), '504');
  assert.match(c.text, /^HTTP\/1.1 504 Gateway Timeout\r\n/);
  assert.ok(Date.now() - started >= 250);
  assert.equal(c.closed, false);
  const d = new RawClient();
  d.send('POST /hang/b HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc');
  await d.until(() => false, 'close');
  assert.match(d.text, /^HTTP\/1.1 408 Request Timeout\r\n/);
  assert.match(d.text, /\r\nconnection: close\r\n/);
  assert.ok(d.text.endsWith('stream timeout'));
  c.socket.destroy();
  assert.equal(await courier.stat('http.proto.downstream_rq_idle_timeout'), before + 2);
  const log = await eventually(() => {
    const t = readFileSync(logPath, 'utf8');
    return t.includes('/hang/b ') ? t : '';
  }, 'log lines');
  assert.match(log, /^\/hang\/a HTTP\/1.1 504 SI$/m);
  assert.match(log, /^\/hang\/b HTTP\/1.1 408 SI$/m);
});

test('header values with %OPERATOR%s are expanded per request (Envoy: unavailable values are empty, the header omitted)', async () => {
  const res = await new Promise<http.IncomingMessage & { body: string }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/fmt/1', headers: { 'x-test-id': 'fmt', 'x-src': 'abc' }, agent: false },
      (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve(Object.assign(r, { body })));
      },
    );
    req.on('error', reject);
    req.end();
  });
  const h = B.seen.get('fmt')!.headers;
  const local = res.socket?.localPort;
  assert.match(String(h['x-client']), /^127\.0\.0\.1:\d+$/);
  if (local) assert.equal(h['x-client'], `127.0.0.1:${local}`);
  assert.equal(h['x-client-ip'], '127.0.0.1');
  assert.equal(h['x-proto'], 'HTTP/1.1');
  const start = Number(h['x-start']);
  assert.ok(Math.abs(start - Date.now() / 1000) < 10, String(h['x-start']));
  assert.equal(h['x-copy'], 'copy of abc, 100%');
  // No host is chosen when request headers are evaluated (as in Envoy): empty, so omitted.
  assert.equal(h['x-upstream-req'], undefined);
  assert.equal(h['x-kept'], '');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-upstream'], `127.0.0.1:${B.port}`);
  assert.equal(res.headers['x-code'], '200');
  assert.equal(res.headers['x-resp-copy'], 'B');
  assert.match(String(res.headers['x-start-iso']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(res.headers['x-literal'], 'plain');
});

test('draining (/drain_listeners): an idle keep-alive connection is closed, a busy one answers with connection: close, then closes', async () => {
  // Its own Courier: draining stops the listeners.
  const own = await startCourier(yaml(B.port, path.join(tmpDir(), 'drain.log')));
  const ownPort = await own.listenerPort('http');
  const idle = net.connect(ownPort, '127.0.0.1');
  const busy = net.connect(ownPort, '127.0.0.1');
  try {
    let idleText = '';
    let busyText = '';
    let idleClosed = false;
    let busyClosed = false;
    idle.on('data', (d: Buffer) => (idleText += d.toString('latin1')));
    busy.on('data', (d: Buffer) => (busyText += d.toString('latin1')));
    idle.on('close', () => (idleClosed = true));
    busy.on('close', () => (busyClosed = true));
    idle.write('GET /len?idle HTTP/1.1\r\nhost: x\r\n\r\n');
    await eventually(() => idleText.includes('len:/len?idle'), 'the idle connection answered once');
    assert.doesNotMatch(idleText, /connection: close/i);
    busy.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
    await eventually(async () => (await own.stat('http.proto.downstream_rq_active')) === 1, 'the slow request in flight');
    assert.equal((await own.admin('/drain_listeners', 'POST')).status, 200);
    await eventually(() => idleClosed, 'the idle keep-alive connection closed at once');
    await eventually(() => busyClosed, 'the busy connection closed after its response');
    assert.match(busyText, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(busyText, /\r\nconnection: close\r\n/i);
    assert.match(busyText, /slow$/);
    assert.equal(await own.stat('http.proto.downstream_cx_drain_close'), 2);
  } finally {
    idle.destroy();
    busy.destroy();
    await own.stop();
  }
});
