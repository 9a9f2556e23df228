/**
 * The HTTP router's retries (route retry_policy and the x-envoy-* request headers) end to end:
 * a node:http backend that fails the first tries of each request (told apart by x-test-id)
 * in the ways retry_on names, around one in-process Courier. Stats are read as deltas.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { startCourier, eventually, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { closedPort } from '../support/peers.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';

interface Backend {
  port: number;
  /** Tries seen per x-test-id. */
  tries: Map<string, number>;
  /** The headers of the last try per x-test-id. */
  headers: Map<string, http.IncomingHttpHeaders>;
  /** x-envoy-attempt-count of every try per x-test-id. */
  attempts: Map<string, Array<string | undefined>>;
  close(): Promise<void>;
}

/**
 * Path decides how the first tries fail: /reset (connection destroyed), /fail503 (503),
 * /hang (no answer), /always503, /codes (409); ?n=K fails the first K tries (default 1).
 * Success answers the body's length and sha256 with the try number.
 */
async function backend(): Promise<Backend> {
  const tries = new Map<string, number>();
  const headers = new Map<string, http.IncomingHttpHeaders>();
  const attempts = new Map<string, Array<string | undefined>>();
  const server = http.createServer((req, res) => {
    const id = String(req.headers['x-test-id'] ?? '');
    const n = (tries.get(id) ?? 0) + 1;
    tries.set(id, n);
    headers.set(id, req.headers);
    const attempt = req.headers['x-envoy-attempt-count'];
    attempts.set(id, [...(attempts.get(id) ?? []), typeof attempt === 'string' ? attempt : undefined]);
    const url = new URL(req.url ?? '/', 'http://x');
    const failFirst = Number(url.searchParams.get('n') ?? 1);
    const hash = createHash('sha256');
    let len = 0;
    req.on('data', (d: Buffer) => {
      hash.update(d);
      len += d.length;
    });
    req.on('end', () => {
      const failing = url.pathname.includes('always503') || n <= failFirst;
      if (failing) {
        if (url.pathname.includes('reset')) {
          req.socket.destroy();
          return;
        }
        if (url.pathname.includes('hang')) return;
        const code = url.pathname.includes('codes') ? 409 : 503;
        res.writeHead(code, { 'content-type': 'text/plain', 'x-try': String(n) });
        res.end(`failed try ${n}`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-try': String(n) });
      res.end(JSON.stringify({ try: n, len, sha: hash.digest('hex') }));
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    tries,
    headers,
    attempts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const BACK_OFF = 'retry_back_off: { base_interval: 0.005s, max_interval: 0.02s }';

function yaml(svc: number, dead: number, logPath: string): string {
  return `${hcmHeadYaml('retry', logPath, '%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(X-TEST-ID)%\n')}
            name: routes
            virtual_hosts:
            - name: attempts
              domains: ["attempts.example"]
              include_request_attempt_count: true
              include_attempt_count_in_response: true
              routes:
              - match: { prefix: "/fail503" }
                route: { cluster: svc, retry_policy: { retry_on: 5xx, num_retries: 3, ${BACK_OFF} } }
              - match: { prefix: "/hang" }
                route: { cluster: svc, timeout: 5s, retry_policy: { retry_on: gateway-error, num_retries: 1, per_try_timeout: 0.2s, ${BACK_OFF} } }
              - match: { prefix: "/" }
                route: { cluster: svc }
            - name: main
              domains: ["*"]
              routes:
              - match: { prefix: "/reset" }
                route: { cluster: svc, retry_policy: { retry_on: reset, num_retries: 2, ${BACK_OFF} } }
              - match: { prefix: "/fail503" }
                route: { cluster: svc, retry_policy: { retry_on: 5xx, num_retries: 3, ${BACK_OFF} } }
              - match: { prefix: "/hang" }
                route: { cluster: svc, timeout: 5s, retry_policy: { retry_on: gateway-error, num_retries: 1, per_try_timeout: 0.2s, ${BACK_OFF} } }
              - match: { prefix: "/always503" }
                route: { cluster: svc, retry_policy: { retry_on: 5xx, num_retries: 2, ${BACK_OFF} } }
              - match: { prefix: "/codes" }
                route: { cluster: svc, retry_policy: { retry_on: retriable-status-codes, retriable_status_codes: [409], num_retries: 1, ${BACK_OFF} } }
              - match: { prefix: "/mixed" }
                route: { cluster: mixed, retry_policy: { retry_on: connect-failure, num_retries: 2, ${BACK_OFF} } }
              - match: { prefix: "/overflow503" }
                route: { cluster: nobudget, retry_policy: { retry_on: 5xx, num_retries: 2, ${BACK_OFF} } }
              - match: { prefix: "/" }
                route: { cluster: svc }
  clusters:
${staticClusterYaml('svc', [svc])}
${staticClusterYaml('mixed', [dead, svc])}
${staticClusterYaml('nobudget', [svc], '    circuit_breakers:\n      thresholds:\n      - max_retries: 0')}
`;
}

let courier: CourierHandle;
let port: number;
let S: Backend;
let logPath: string;

before(async () => {
  S = await backend();
  logPath = path.join(tmpDir(), 'access.log');
  courier = await startCourier(yaml(S.port, await closedPort(), logPath));
  port = await courier.listenerPort('http');
});

after(async () => {
  await courier.stop();
  await S.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(p: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer; chunked?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...(opts.headers ?? {}) };
    if (opts.body && !opts.chunked) headers['content-length'] = opts.body.length;
    const req = http.request({ host: '127.0.0.1', port, path: p, method: opts.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      const half = opts.body.length >> 1;
      req.write(opts.body.subarray(0, half));
      req.end(opts.body.subarray(half));
    } else {
      req.end(opts.body);
    }
  });
}

async function delta(names: string[], fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = await courier.stats();
  await fn();
  await new Promise((r) => setTimeout(r, 30));
  const after = await courier.stats();
  return Object.fromEntries(names.map((n) => [n, (after.get(n) ?? 0) - (before.get(n) ?? 0)]));
}

const RETRY = 'cluster.svc.upstream_rq_retry';
const SUCCESS = 'cluster.svc.upstream_rq_retry_success';

async function logLine(id: string): Promise<string> {
  return eventually(() => {
    const line = readFileSync(logPath, 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${id}`));
    return line ?? '';
  }, `access log line of ${id}`);
}

test('reset before response headers is retried (retry_on reset)', async () => {
  const d = await delta([RETRY, SUCCESS], async () => {
    const r = await request('/reset', { headers: { 'x-test-id': 'reset1' } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body.toString()).try, 2);
  });
  assert.deepEqual(d, { [RETRY]: 1, [SUCCESS]: 1 });
  assert.match(await logLine('reset1'), /^GET \/reset 200 - reset1$/);
});

test('503 twice then 200 (retry_on 5xx); the 503 bodies are discarded', async () => {
  const d = await delta([RETRY, SUCCESS, 'cluster.svc.upstream_rq_503'], async () => {
    const r = await request('/fail503?n=2', { headers: { 'x-test-id': 'f503' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-try'], '3');
    assert.equal(JSON.parse(r.body.toString()).try, 3);
  });
  assert.deepEqual(d, { [RETRY]: 2, [SUCCESS]: 1, 'cluster.svc.upstream_rq_503': 2 });
});

test('per_try_timeout: a hanging first try is retried (counts as 504 for gateway-error)', async () => {
  const d = await delta([RETRY, 'cluster.svc.upstream_rq_per_try_timeout', 'cluster.svc.upstream_rq_timeout'], async () => {
    const started = Date.now();
    const r = await request('/hang', { headers: { 'x-test-id': 'hang1' } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body.toString()).try, 2);
    const took = Date.now() - started;
    assert.ok(took >= 180 && took < 3000, `took ${took} ms`);
  });
  assert.deepEqual(d, { [RETRY]: 1, 'cluster.svc.upstream_rq_per_try_timeout': 1, 'cluster.svc.upstream_rq_timeout': 0 });
});

test('per_try_timeout with retries exhausted → 504 UT', async () => {
  const r = await request('/hang?n=5', { headers: { 'x-test-id': 'hang2' } });
  assert.equal(r.status, 504);
  assert.equal(r.body.toString(), 'upstream request timeout');
  assert.equal(S.tries.get('hang2'), 2);
  assert.match(await logLine('hang2'), /^GET \/hang\?n=5 504 UT,URX hang2$|^GET \/hang\?n=5 504 URX,UT hang2$/);
});

test('always 503: the client gets the last 503, URX is logged, upstream_rq_retry == num_retries', async () => {
  const d = await delta([RETRY, SUCCESS, 'cluster.svc.upstream_rq_retry_limit_exceeded'], async () => {
    const r = await request('/always503', { headers: { 'x-test-id': 'all503' } });
    assert.equal(r.status, 503);
    assert.equal(r.body.toString(), 'failed try 3');
  });
  assert.deepEqual(d, { [RETRY]: 2, [SUCCESS]: 0, 'cluster.svc.upstream_rq_retry_limit_exceeded': 1 });
  assert.equal(S.tries.get('all503'), 3);
  assert.match(await logLine('all503'), /^GET \/always503 503 URX all503$/);
});

test('retriable-status-codes: 409 is retried', async () => {
  const r = await request('/codes', { headers: { 'x-test-id': 'codes1' } });
  assert.equal(r.status, 200);
  assert.equal(S.tries.get('codes1'), 2);
});

test('connect failure to a dead endpoint is retried on the live one (round robin)', async () => {
  const d = await delta(['cluster.mixed.upstream_rq_retry', 'cluster.mixed.upstream_cx_connect_fail'], async () => {
    for (let i = 0; i < 4; i++) {
      const r = await request('/mixed?n=0', { headers: { 'x-test-id': `mixed${i}` } });
      assert.equal(r.status, 200, `request ${i}`);
    }
  });
  assert.ok(d['cluster.mixed.upstream_rq_retry']! >= 1, JSON.stringify(d));
  assert.equal(d['cluster.mixed.upstream_rq_retry'], d['cluster.mixed.upstream_cx_connect_fail']);
});

test('a POST body (content-length and chunked) is replayed intact on retry', async () => {
  for (const chunked of [false, true]) {
    const body = randomBytes(40_000);
    const id = `post-${chunked}`;
    const r = await request('/fail503', { method: 'POST', body, chunked, headers: { 'x-test-id': id } });
    assert.equal(r.status, 200);
    const got = JSON.parse(r.body.toString());
    assert.equal(got.try, 2);
    assert.equal(got.len, body.length);
    assert.equal(got.sha, createHash('sha256').update(body).digest('hex'));
  }
});

test('a body larger than the replay buffer is not retried', async () => {
  const d = await delta([RETRY], async () => {
    const r = await request('/fail503', { method: 'POST', body: randomBytes(200_000), headers: { 'x-test-id': 'big' } });
    assert.equal(r.status, 503);
  });
  assert.deepEqual(d, { [RETRY]: 0 });
});

/**
 * Envoy honours the x-envoy-* router headers from internal requests only: with
 * use_remote_address unset, a request whose x-forwarded-for is one internal address.
 */
const INTERNAL = { 'x-forwarded-for': '10.0.0.1' };

test('x-envoy-retry-on and x-envoy-max-retries from an internal client are honoured and not forwarded', async () => {
  const d = await delta([RETRY], async () => {
    const r = await request('/plain503?n=1', { headers: { ...INTERNAL, 'x-test-id': 'hdr1', 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '1' } });
    assert.equal(r.status, 200);
  });
  assert.deepEqual(d, { [RETRY]: 1 });
  const h = S.headers.get('hdr1')!;
  assert.equal(h['x-envoy-retry-on'], undefined);
  assert.equal(h['x-envoy-max-retries'], undefined);
  // Without the headers, the default route does not retry.
  const r = await request('/plain503?n=1', { headers: { 'x-test-id': 'hdr2' } });
  assert.equal(r.status, 503);
  // x-envoy-max-retries: 0 disables the route's retries.
  const z = await request('/always503', { headers: { ...INTERNAL, 'x-test-id': 'hdr3', 'x-envoy-max-retries': '0' } });
  assert.equal(z.status, 503);
  assert.equal(S.tries.get('hdr3'), 1);
});

test('x-envoy-upstream-rq-timeout-ms bounds the whole request', async () => {
  const started = Date.now();
  const r = await request('/plainhang', { headers: { ...INTERNAL, 'x-test-id': 'rqt', 'x-envoy-upstream-rq-timeout-ms': '150' } });
  assert.equal(r.status, 504);
  assert.ok(Date.now() - started < 2000);
  assert.equal(S.headers.get('rqt')!['x-envoy-upstream-rq-timeout-ms'], undefined);
});

test('an external client (no x-forwarded-for, or a public address in it) cannot steer retries: the x-envoy-* headers are stripped', async () => {
  for (const [id, extra] of [['ext1', {}], ['ext2', { 'x-forwarded-for': '203.0.113.7' }], ['ext3', { 'x-forwarded-for': '10.0.0.1, 10.0.0.2' }]] as const) {
    const d = await delta([RETRY], async () => {
      const r = await request('/plain503?n=1', { headers: { ...extra, 'x-test-id': id, 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '1' } });
      assert.equal(r.status, 503, id);
    });
    assert.deepEqual(d, { [RETRY]: 0 }, id);
    assert.equal(S.headers.get(id)!['x-envoy-retry-on'], undefined, id);
    assert.equal(S.headers.get(id)!['x-envoy-internal'], undefined, id);
  }
});

test('circuit breaker max_retries: 0 → no retry, upstream_rq_retry_overflow counted', async () => {
  const d = await delta(['cluster.nobudget.upstream_rq_retry', 'cluster.nobudget.upstream_rq_retry_overflow'], async () => {
    const r = await request('/overflow503', { headers: { 'x-test-id': 'ovf' } });
    assert.equal(r.status, 503);
  });
  assert.deepEqual(d, { 'cluster.nobudget.upstream_rq_retry': 0, 'cluster.nobudget.upstream_rq_retry_overflow': 1 });
  assert.equal(S.tries.get('ovf'), 1);
});

test('include_request_attempt_count / include_attempt_count_in_response: x-envoy-attempt-count per try and on the response', async () => {
  const host = 'attempts.example';
  // Two 503s then 200: the tries carry 1, 2, 3; the response says 3.
  const r = await request('/fail503?n=2', { headers: { host, 'x-test-id': 'att1', 'x-envoy-attempt-count': '99' } });
  assert.equal(r.status, 200);
  assert.deepEqual(S.attempts.get('att1'), ['1', '2', '3']);
  assert.equal(r.headers['x-envoy-attempt-count'], '3');
  // No retry: 1 both ways.
  const one = await request('/plain', { headers: { host, 'x-test-id': 'att2' } });
  assert.deepEqual(S.attempts.get('att2'), ['1']);
  assert.equal(one.headers['x-envoy-attempt-count'], '1');
  // A router reply after the tries ran out (per-try timeouts, then 504) carries the count too.
  const timeout = await request('/hang?n=5', { headers: { host, 'x-test-id': 'att3' } });
  assert.equal(timeout.status, 504);
  assert.equal(timeout.headers['x-envoy-attempt-count'], '2');
  // Off on the other virtual host: nothing added either way.
  const off = await request('/fail503', { headers: { 'x-test-id': 'att4' } });
  assert.equal(off.status, 200);
  assert.deepEqual(S.attempts.get('att4'), [undefined, undefined]);
  assert.equal(off.headers['x-envoy-attempt-count'], undefined);
});
