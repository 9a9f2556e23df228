/**
 * The HTTP connection manager end to end: node:http backends and clients (Node's agent with
 * keep-alive, curl, raw sockets for pipelining and smuggling) on loopback around one
 * in-process Courier with a static route table. Stats are read as deltas, so the cases share
 * one Courier.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startCourier, eventually, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { closedPort } from '../support/peers.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';

interface Backend {
  port: number;
  /** The last request seen, by name given in x-test-id. */
  seen: Map<string, { url: string; headers: http.IncomingHttpHeaders }>;
  close(): Promise<void>;
}

/** A backend that reports what it received: x-backend names it, /mirror streams the body back. */
async function backend(name: string): Promise<Backend> {
  const seen = new Map<string, { url: string; headers: http.IncomingHttpHeaders }>();
  const server = http.createServer((req, res) => {
    const id = req.headers['x-test-id'];
    if (typeof id === 'string') seen.set(id, { url: req.url ?? '', headers: req.headers });
    res.setHeader('x-backend', name);
    if (req.url?.startsWith('/hang')) return; // never answers
    if (req.url?.startsWith('/mirror')) {
      res.setHeader('content-type', 'application/octet-stream');
      req.pipe(res); // chunked, streamed
      return;
    }
    const hash = createHash('sha256');
    let len = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      len += d.length;
    });
    req.on('end', () => {
      const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ backend: name, url: req.url, len, sha: hash.digest('hex') }));
      }, delay);
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

function yaml(a: number, b: number, dead: number, logPath: string): string {
  const cluster = (name: string, port: number) => `\n${staticClusterYaml(name, [port])}`;
  return `${hcmHeadYaml('ingress', logPath, '%REQ(:METHOD)% %REQ(:PATH)% %PROTOCOL% %RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %REQ(X-TEST-ID)% %RESP(X-BACKEND)%\n')}
            name: routes
            validate_clusters: false
            virtual_hosts:
            - name: other
              domains: ["nomatch.example"]
              routes:
              - match: { path: "/only" }
                route: { cluster: a }
            - name: main
              domains: ["*"]
              routes:
              - match: { path: "/exact" }
                route: { cluster: b }
              - match:
                  prefix: "/"
                  headers: [{ name: x-pick, string_match: { exact: b } }]
                route: { cluster: b }
              - match: { prefix: "/weighted" }
                route:
                  weighted_clusters:
                    clusters: [{ name: a, weight: 50 }, { name: b, weight: 50 }]
              - match: { prefix: "/rewrite/" }
                route: { cluster: a, prefix_rewrite: "/rewritten/", host_rewrite_literal: rewritten.example }
                request_headers_to_add: [{ header: { key: x-added, value: yes } }]
              - match: { path: "/direct" }
                direct_response: { status: 202, body: { inline_string: "hello direct" } }
              - match: { path: "/redirect" }
                redirect: { host_redirect: "example.com", path_redirect: "/new", response_code: FOUND }
              - match: { prefix: "/nocluster" }
                route: { cluster: missing }
              - match: { prefix: "/dead" }
                route: { cluster: dead }
              - match: { prefix: "/hang" }
                route: { cluster: a, timeout: 0.3s }
              - match: { prefix: "/" }
                route: { cluster: a }
                response_headers_to_add: [{ header: { key: x-route, value: main } }]
  clusters:${cluster('a', a)}${cluster('b', b)}${cluster('dead', dead)}
`;
}

let courier: CourierHandle;
let port: number;
let A: Backend;
let B: Backend;
let logPath: string;

before(async () => {
  A = await backend('A');
  B = await backend('B');
  logPath = path.join(tmpDir(), 'access.log');
  courier = await startCourier(yaml(A.port, B.port, await closedPort(), logPath));
  port = await courier.listenerPort('http');
});

after(async () => {
  await courier.stop();
  await A.close();
  await B.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  p: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean; agent?: http.Agent | false } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (opts.body && !opts.chunked) headers['content-length'] = opts.body.length;
    const req = http.request({ host: '127.0.0.1', port, path: p, method: opts.method ?? 'GET', headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      // Several writes without content-length: Node sends them chunked.
      const half = opts.body.length >> 1;
      req.write(opts.body.subarray(0, half));
      req.end(opts.body.subarray(half));
    } else {
      req.end(opts.body);
    }
  });
}

/** Raw bytes in, everything the server sends until it closes (or `untilBytes` arrives). */
function raw(data: string, until?: (s: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve({ text, closed });
    };
    s.on('data', (d) => {
      text += d.toString('latin1');
      if (until?.(text)) finish(false);
    });
    s.on('close', () => finish(true));
    s.on('error', reject);
    s.write(data);
  });
}

async function delta(names: string[], fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = await courier.stats();
  await fn();
  // Stats are read from the worker; give the last response's accounting a moment.
  await new Promise((r) => setTimeout(r, 30));
  const after = await courier.stats();
  return Object.fromEntries(names.map((n) => [n, (after.get(n) ?? 0) - (before.get(n) ?? 0)]));
}

test('GET is proxied with forwarding headers, server and date; stats count it', async () => {
  // use_remote_address is unset (Envoy's default): x-forwarded-for is passed on as it came, and
  // its one internal address makes the request internal (x-envoy-internal), as in Envoy.
  const d = await delta(
    ['http.ingress.downstream_rq_total', 'http.ingress.downstream_rq_2xx', 'http.ingress.downstream_rq_completed', 'cluster.a.upstream_rq_total', 'cluster.a.upstream_rq_200', 'cluster.a.upstream_rq_2xx'],
    async () => {
      const r = await request('/hello?x=1', { headers: { 'x-test-id': 'get1', 'x-forwarded-for': '10.0.0.1' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['server'], 'courier');
      assert.ok(r.headers['date']);
      assert.equal(r.headers['x-route'], 'main');
      assert.equal(JSON.parse(r.body.toString()).url, '/hello?x=1');
    },
  );
  const seen = A.seen.get('get1')!;
  assert.equal(seen.headers['x-forwarded-for'], '10.0.0.1');
  assert.equal(seen.headers['x-envoy-internal'], 'true');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.match(String(seen.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.deepEqual(d, {
    'http.ingress.downstream_rq_total': 1,
    'http.ingress.downstream_rq_2xx': 1,
    'http.ingress.downstream_rq_completed': 1,
    'cluster.a.upstream_rq_total': 1,
    'cluster.a.upstream_rq_200': 1,
    'cluster.a.upstream_rq_2xx': 1,
  });
  assert.equal(await courier.stat('http.ingress.downstream_rq_active'), 0);
});

test('an existing x-request-id is kept', async () => {
  await request('/keep', { headers: { 'x-test-id': 'rid', 'x-request-id': 'my-id' } });
  assert.equal(A.seen.get('rid')!.headers['x-request-id'], 'my-id');
});

test('keep-alive: 10 sequential requests reuse one downstream and one upstream connection', async () => {
  // Fresh pools: first close idle upstream connections left by earlier cases is not needed;
  // count new upstream connections instead.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const d = await delta(['cluster.a.upstream_cx_total', 'http.ingress.downstream_cx_total', 'http.ingress.downstream_rq_total'], async () => {
      for (let i = 0; i < 10; i++) {
        const r = await request(`/ka/${i}`, { agent });
        assert.equal(r.status, 200);
      }
    });
    assert.equal(d['http.ingress.downstream_cx_total'], 1);
    assert.equal(d['http.ingress.downstream_rq_total'], 10);
    assert.ok(d['cluster.a.upstream_cx_total']! <= 1, `upstream connections: ${d['cluster.a.upstream_cx_total']}`);
  } finally {
    agent.destroy();
  }
});

test('1 MB bodies with content-length and chunked pass intact both ways', async () => {
  const body = randomBytes(1024 * 1024);
  const sha = createHash('sha256').update(body).digest('hex');
  for (const chunked of [false, true]) {
    const r = await request('/upload', { method: 'POST', body, chunked });
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body.toString()) as { len: number; sha: string };
    assert.equal(j.len, body.length);
    assert.equal(j.sha, sha);
    // Streamed back (chunked from the backend).
    const m = await request('/mirror', { method: 'POST', body, chunked });
    assert.equal(m.status, 200);
    assert.equal(m.headers['transfer-encoding'], 'chunked');
    assert.equal(createHash('sha256').update(m.body).digest('hex'), sha);
  }
});

test('curl: GET, POST of a file with Expect: 100-continue, HEAD', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'body.bin');
  const body = randomBytes(300_000);
  writeFileSync(file, body);
  const curl = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn('curl', ['-s', '-S', '-i', ...args]);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      c.on('close', (code) => resolve({ code, out }));
    });
  const get = await curl([`http://127.0.0.1:${port}/curl-get`]);
  assert.equal(get.code, 0, get.out);
  assert.match(get.out, /^HTTP\/1.1 200 OK/);
  assert.match(get.out, /server: courier/);
  const post = await curl(['-H', 'Expect: 100-continue', '--data-binary', `@${file}`, `http://127.0.0.1:${port}/curl-post`]);
  assert.equal(post.code, 0, post.out);
  assert.match(post.out, /HTTP\/1.1 100 Continue/);
  assert.ok(post.out.includes(createHash('sha256').update(body).digest('hex')), post.out);
  const head = await curl(['-I', `http://127.0.0.1:${port}/curl-head`]);
  assert.equal(head.code, 0, head.out);
  assert.match(head.out, /^HTTP\/1.1 200 OK/);
});

test('pipelined requests are answered in order', async () => {
  // The first is slowest: its answer must still come first.
  const reqs = ['/p1?delay=150', '/p2?delay=50', '/p3'].map((p) => `GET ${p} HTTP/1.1\r\nhost: x\r\n\r\n`).join('');
  const { text } = await raw(reqs + 'GET /p4 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  const urls = [...text.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(urls, ['/p1?delay=150', '/p2?delay=50', '/p3', '/p4']);
  assert.equal((text.match(/HTTP\/1.1 200 OK/g) ?? []).length, 4);
  assert.match(text, /connection: close/);
});

test('routing by path, header and prefix; weighted clusters use both', async () => {
  assert.equal((await request('/exact')).headers['x-backend'], 'B');
  assert.equal((await request('/exact/more')).headers['x-backend'], 'A');
  assert.equal((await request('/anything', { headers: { 'x-pick': 'b' } })).headers['x-backend'], 'B');
  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(String((await request('/weighted')).headers['x-backend']));
  assert.deepEqual([...seen].sort(), ['A', 'B']);
});

test('prefix_rewrite, host_rewrite_literal and request_headers_to_add reach the backend', async () => {
  const r = await request('/rewrite/x/y?q=1', { headers: { 'x-test-id': 'rw' } });
  assert.equal(r.status, 200);
  const seen = A.seen.get('rw')!;
  assert.equal(seen.url, '/rewritten/x/y?q=1');
  assert.equal(seen.headers['host'], 'rewritten.example');
  assert.equal(seen.headers['x-added'], 'yes');
});

test('direct_response and redirect are answered by Courier', async () => {
  const d = await delta(['http.ingress.rq_direct_response', 'http.ingress.rq_redirect', 'http.ingress.downstream_rq_3xx'], async () => {
    const direct = await request('/direct');
    assert.equal(direct.status, 202);
    assert.equal(direct.body.toString(), 'hello direct');
    assert.equal(direct.headers['server'], 'courier');
    const redirect = await request('/redirect', { headers: { host: 'front.example' } });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers['location'], 'http://example.com/new');
  });
  assert.deepEqual(d, { 'http.ingress.rq_direct_response': 1, 'http.ingress.rq_redirect': 1, 'http.ingress.downstream_rq_3xx': 1 });
});

test('no route → 404 NR; unknown cluster → 503 NC; connect failure → 503 UF', async () => {
  const d = await delta(['http.ingress.no_route', 'http.ingress.no_cluster', 'http.ingress.downstream_rq_4xx', 'http.ingress.downstream_rq_5xx'], async () => {
    const nr = await request('/elsewhere', { headers: { host: 'nomatch.example', 'x-test-id': 'nr' } });
    assert.equal(nr.status, 404);
    const nc = await request('/nocluster', { headers: { 'x-test-id': 'nc' } });
    assert.equal(nc.status, 503);
    const uf = await request('/dead', { headers: { 'x-test-id': 'uf' } });
    assert.equal(uf.status, 503);
    assert.equal(uf.body.toString(), 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  });
  assert.deepEqual(d, { 'http.ingress.no_route': 1, 'http.ingress.no_cluster': 1, 'http.ingress.downstream_rq_4xx': 1, 'http.ingress.downstream_rq_5xx': 2 });
  const log = await eventually(() => {
    const text = readFileSync(logPath, 'utf8');
    return text.includes(' uf ') ? text : '';
  }, 'access log lines');
  assert.match(log, /GET \/elsewhere HTTP\/1.1 404 NR - nr -/);
  assert.match(log, /GET \/nocluster HTTP\/1.1 503 NC missing nc -/);
  assert.match(log, /GET \/dead HTTP\/1.1 503 UF dead uf -/);
  assert.match(log, /GET \/hello\?x=1 HTTP\/1.1 200 - a get1 A/);
});

test('a hanging backend → 504 upstream request timeout (UT) after the route timeout', async () => {
  const d = await delta(['cluster.a.upstream_rq_timeout'], async () => {
    const started = Date.now();
    const r = await request('/hang');
    assert.equal(r.status, 504);
    assert.equal(r.body.toString(), 'upstream request timeout');
    assert.ok(Date.now() - started >= 250);
  });
  assert.equal(d['cluster.a.upstream_rq_timeout'], 1);
});

test('smuggling: Transfer-Encoding with Content-Length → 400, connection: close, closed', async () => {
  const before = await courier.stat('http.ingress.downstream_cx_protocol_error');
  const { text, closed } = await raw('POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.match(text, /^HTTP\/1.1 400 Bad Request\r\n/);
  assert.match(text, /connection: close/);
  assert.ok(closed);
  assert.equal(await courier.stat('http.ingress.downstream_cx_protocol_error'), before + 1);
});

test('oversize headers → 431 and close', async () => {
  const { text, closed } = await raw(`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  assert.match(text, /^HTTP\/1.1 431 Request Header Fields Too Large\r\n/);
  assert.ok(closed);
});

test('Connection: close closes after the response; HTTP/1.0 → 426 and no Host → 400, as Envoy', async () => {
  const r = await raw('GET /c HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
  assert.ok(r.closed);
  assert.match(r.text, /^HTTP\/1.1 200 OK/);
  assert.match(r.text, /connection: close/);
  // Envoy's codec error without accept_http_10: an HTTP/1.1 status line, "Upgrade Required".
  const before = await courier.stat('http.ingress.downstream_cx_protocol_error');
  const r10 = await raw('GET /old HTTP/1.0\r\n\r\n');
  assert.match(r10.text, /^HTTP\/1.1 426 Upgrade Required\r\n/);
  assert.match(r10.text, /connection: close\r\n/);
  assert.ok(r10.text.endsWith('\r\n\r\nUpgrade Required'), r10.text);
  assert.ok(r10.closed);
  assert.equal(await courier.stat('http.ingress.downstream_cx_protocol_error'), before + 1);
  const noHost = await raw('GET /x HTTP/1.1\r\n\r\n');
  assert.match(noHost.text, /^HTTP\/1.1 400 Bad Request/);
  assert.ok(noHost.closed);
});

test('config: rds over ADS without ads_config, other http filters, CONNECT upgrades and unknown fields are refused by name', async () => {
  const { spawnSync } = await import('node:child_process');
  const { COURIER_BIN } = await import('../support/courier-harness.js');
  const dir = tmpDir();
  const base = readFileSync(path.join(path.dirname(COURIER_BIN), '..', 'examples', 'http-proxy.yaml'), 'utf8');
  const cases: Array<[string, RegExp]> = [
    [base.slice(0, base.indexOf('          route_config:')) + '          rds: { route_config_name: r, config_source: { ads: {} } }\n' + base.slice(base.indexOf('          http_filters:')), /ads: \{\} needs dynamic_resources\.ads_config/],
    [base.replace('- name: envoy.filters.http.router', '- name: envoy.filters.http.cors\n            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }\n          - name: envoy.filters.http.router'), /envoy.filters.http.cors/],
    [base.replace('codec_type: AUTO', 'codec_type: AUTO\n          add_user_agent: true'), /add_user_agent/],
    [base.replace('codec_type: AUTO', 'codec_type: AUTO\n          upgrade_configs: [{ upgrade_type: CONNECT }]'), /upgrade_configs\[0\]\.upgrade_type.*CONNECT is not supported/],
    [base.replace('codec_type: AUTO', 'codec_type: AUTO\n          http_protocol_options: { accept_http_10: true, allow_absolute_url: true }'), /Http1ProtocolOptions\.allow_absolute_url is not supported/],
  ];
  for (const [text, expected] of cases) {
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', '-c', file], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, text);
    assert.match(r.stderr + r.stdout, expected);
  }
  // An unknown cluster is a warning in validate mode: CDS may bring it before the listener loads.
  const file = path.join(dir, 'unknown-cluster.yaml');
  writeFileSync(file, base.replace('route: { cluster: web_backend }', 'route: { cluster: nowhere }'));
  const validated = spawnSync(process.execPath, [COURIER_BIN, '--mode', 'validate', '-c', file], { encoding: 'utf8' });
  assert.equal(validated.status, 0, validated.stderr);
  assert.match(validated.stderr, /warning: .*route\.cluster \(line 36\): no cluster named 'nowhere'/);
});
