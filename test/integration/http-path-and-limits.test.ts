/**
 * What the HTTP connection manager does to a request before routing, on real sockets (curl,
 * node:http and raw sockets against in-process Couriers and a node:http upstream that answers
 * with the path and headers it got), with Envoy's semantics:
 *
 * - normalize_path (RFC 3986 dot segments, unreserved escapes decoded, "\" as "/"),
 *   merge_slashes and path_with_escaped_slashes_action (KEEP_UNCHANGED, REJECT_REQUEST,
 *   UNESCAPE_AND_REDIRECT, UNESCAPE_AND_FORWARD) apply before route matching, and the upstream
 *   gets the normalised path; a route that only a normalised path reaches proves the order;
 * - common_http_protocol_options max_headers_count (431) and headers_with_underscores_action
 *   (DROP_HEADER, REJECT_REQUEST, with Envoy's http1.* counters), max_request_headers_kb (431),
 *   request_timeout (408, downstream_rq_timeout).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { connect, readAll } from '../support/peers.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';

const run = promisify(execFile);

let upstream: http.Server;
let upstreamPort: number;
const couriers = new Map<string, { handle: CourierHandle; port: number }>();

async function startVariant(name: string, hcmFields: string): Promise<void> {
  const handle = await startCourier(`${hcmHeadYaml(name, path.join(tmpDir(), `${name}.log`), '%REQ(:PATH)% %RESPONSE_CODE%\n', { hcm: hcmFields })}
            name: routes
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/secret" }
                direct_response: { status: 403, body: { inline_string: "secret" } }
              - match: { prefix: "/" }
                route: { cluster: backend }
  clusters:
${staticClusterYaml('backend', [upstreamPort])}
`);
  couriers.set(name, { handle, port: await handle.listenerPort('http') });
}

const port = (name: string): number => couriers.get(name)!.port;
const stat = (name: string, s: string): Promise<number> => couriers.get(name)!.handle.stat(s);

before(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  await startVariant(
    'redirect',
    `          normalize_path: true
          merge_slashes: true
          path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`,
  );
  await startVariant(
    'forward',
    `          normalize_path: true
          path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`,
  );
  await startVariant(
    'reject',
    `          path_with_escaped_slashes_action: REJECT_REQUEST
          common_http_protocol_options:
            headers_with_underscores_action: REJECT_REQUEST`,
  );
  // Default path handling (KEEP_UNCHANGED, no normalisation) and the limits.
  await startVariant(
    'limits',
    `          request_timeout: 1s
          max_request_headers_kb: 2
          common_http_protocol_options:
            max_headers_count: 6
            headers_with_underscores_action: DROP_HEADER`,
  );
});

after(async () => {
  for (const { handle } of couriers.values()) await handle.stop();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(name: string, p: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: port(name), path: p, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** The path the upstream received. */
async function forwardedPath(name: string, p: string): Promise<string> {
  const r = await get(name, p);
  assert.equal(r.status, 200, `${p}: ${r.body}`);
  return (JSON.parse(r.body) as { url: string }).url;
}

/** One raw request on a fresh connection: everything the server sent until it closed. */
async function raw(name: string, text: string): Promise<string> {
  const s = await connect(port(name));
  const all = readAll(s);
  s.write(text);
  s.end();
  return (await all).toString('latin1');
}

test('normalize_path applies before routing: curl --path-as-is reaches the /secret route only through the normalised path', async () => {
  const { stdout } = await run('curl', ['-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port('redirect')}/public/../secret/x`]);
  assert.equal(stdout, '403');
  // Without normalisation the same path is forwarded as sent.
  assert.equal(await forwardedPath('limits', '/public/../secret/x'), '/public/../secret/x');
});

test('normalize_path + merge_slashes: dot segments, unreserved escapes, backslashes and repeated slashes; the query is untouched', async () => {
  const cases: Array<[string, string]> = [
    ['/a/b/../c', '/a/c'],
    ['/a/./b/.', '/a/b/'],
    ['/../../a', '/a'],
    ['/a/b/%2E%2e/c', '/a/c'],
    ['/%7Euser/%41%62c', '/~user/Abc'],
    ['/a/%3F%2a', '/a/%3F%2a'],
    ['/a\\b', '/a/b'],
    ['//a///b//?q=//x/../y', '/a/b/?q=//x/../y'],
  ];
  for (const [sent, expected] of cases) assert.equal(await forwardedPath('redirect', sent), expected, sent);
  // An encoded NUL is not a path: 400, counted.
  const before = await stat('redirect', 'http.redirect.downstream_rq_failed_path_normalization');
  assert.equal((await get('redirect', '/a/%00/b')).status, 400);
  assert.equal(await stat('redirect', 'http.redirect.downstream_rq_failed_path_normalization'), before + 1);
});

test('path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT answers 307 with the normalised path (400 for gRPC)', async () => {
  const r = await get('redirect', '/a%2Fb/..%5Cc?x=%2F');
  assert.equal(r.status, 307);
  assert.equal(r.headers['location'], '/a/c?x=%2F');
  assert.equal(await stat('redirect', 'http.redirect.downstream_rq_redirected_with_normalized_path'), 1);
  const grpc = await get('redirect', '/svc%2FMethod', { 'content-type': 'application/grpc' });
  assert.equal(grpc.status, 400);
  // No escaped slash: no redirect.
  assert.equal(await forwardedPath('redirect', '/a/b?x=%2F'), '/a/b?x=%2F');
});

test('path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD routes and forwards the unescaped path; REJECT_REQUEST refuses it; KEEP_UNCHANGED passes it', async () => {
  assert.equal(await forwardedPath('forward', '/a%2Fb%5cc'), '/a/b/c');
  assert.equal((await get('forward', '/x%2F..%2Fsecret')).status, 403, 'unescaped, normalised, then routed');
  const before = await stat('reject', 'http.reject.downstream_rq_failed_path_normalization');
  assert.equal((await get('reject', '/a%2fb')).status, 400);
  assert.equal(await stat('reject', 'http.reject.downstream_rq_failed_path_normalization'), before + 1);
  assert.equal(await forwardedPath('reject', '/a/b?x=%2f'), '/a/b?x=%2f', 'the query is not looked at');
  assert.equal(await forwardedPath('limits', '/a%2Fb'), '/a%2Fb');
});

test('headers_with_underscores_action: DROP_HEADER drops and counts; ALLOW passes; REJECT_REQUEST answers 400 and closes', async () => {
  const dropped = await stat('limits', 'http1.dropped_headers_with_underscores');
  const r = await get('limits', '/u', { x_user_id: '1', 'x-user-id': '2', x_other: '3' });
  const seen = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
  assert.equal(seen['x_user_id'], undefined);
  assert.equal(seen['x_other'], undefined);
  assert.equal(seen['x-user-id'], '2');
  assert.equal(await stat('limits', 'http1.dropped_headers_with_underscores'), dropped + 2);
  // ALLOW, the default, passes them.
  const allowed = await get('redirect', '/u', { x_user_id: '1' });
  assert.equal((JSON.parse(allowed.body) as { headers: Record<string, string> }).headers['x_user_id'], '1');
  const reply = await raw('reject', 'GET /u HTTP/1.1\r\nHost: a\r\nx_user_id: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.match(reply, /connection: close/i);
  assert.equal(reply.match(/HTTP\/1\.1/g)?.length, 1, 'the pipelined request after it is not answered');
  assert.equal(await stat('reject', 'http1.requests_rejected_with_underscores_in_headers'), 1);
  assert.equal(await stat('reject', 'http.reject.downstream_cx_protocol_error'), 1);
});

test('a fragment in the request-target is refused (400) whatever the path settings, as Envoy', async () => {
  const before = await stat('limits', 'http.limits.downstream_rq_failed_path_normalization');
  assert.match(await raw('limits', 'GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await raw('limits', 'GET /a?q=1#frag HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.equal(await stat('limits', 'http.limits.downstream_rq_failed_path_normalization'), before + 2);
});

test('max_headers_count and max_request_headers_kb: 431', async () => {
  const fields = (n: number): string => Array.from({ length: n }, (_, i) => `x-f${i}: v\r\n`).join('');
  // Every field counts (Host and Connection too): six pass, seven are too many.
  assert.match(await raw('limits', `GET /ok HTTP/1.1\r\nHost: a\r\n${fields(4)}connection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
  assert.match(await raw('limits', `GET /many HTTP/1.1\r\nHost: a\r\n${fields(5)}connection: close\r\n\r\n`), /^HTTP\/1\.1 431 /);
  assert.match(await raw('limits', `GET /big HTTP/1.1\r\nHost: a\r\nx-big: ${'b'.repeat(2100)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
});

test('request_timeout: a request body that stops coming gets 408 and downstream_rq_timeout', async () => {
  const before = await stat('limits', 'http.limits.downstream_rq_timeout');
  const s = await connect(port('limits'));
  const all = readAll(s);
  const started = performance.now();
  s.write('POST /slow HTTP/1.1\r\nHost: a\r\ncontent-length: 100\r\n\r\nonly part');
  const reply = (await all).toString('latin1');
  const ms = performance.now() - started;
  s.destroy();
  assert.match(reply, /^HTTP\/1\.1 408 /);
  assert.match(reply, /request timeout$/);
  assert.ok(ms >= 900 && ms < 5000, `answered after ${ms} ms (request_timeout 1s)`);
  assert.equal(await stat('limits', 'http.limits.downstream_rq_timeout'), before + 1);
  // A request that completes in time is not affected.
  assert.equal((await get('limits', '/fast')).status, 200);
});

test('config: unknown enum values and a zero max_headers_count are refused with their field paths', async () => {
  const cases: Array<[string, RegExp]> = [
    ['          common_http_protocol_options:\n            max_headers_count: 0', /max_headers_count/],
    ['          path_with_escaped_slashes_action: SOMETIMES', /path_with_escaped_slashes_action/],
    ['          server_header_transformation: REPLACE', /server_header_transformation/],
  ];
  for (const [fields, expected] of cases) {
    await assert.rejects(startCourier(`${hcmHeadYaml('bad', path.join(tmpDir(), 'bad.log'), 'x\n', { hcm: fields })}
            name: r
            virtual_hosts: []
  clusters: []
`), expected, fields);
  }
});
