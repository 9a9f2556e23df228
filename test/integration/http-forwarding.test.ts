/**
 * Who the client is, and what the HTTP connection manager tells the upstream and the client
 * about it, on real sockets: a node:http client, four in-process Couriers with different
 * HttpConnectionManager settings, and a node:http upstream that answers with the request
 * headers it received (and `server: upstream-srv`). Envoy's semantics throughout
 * (conn_manager_utility.cc, "HTTP header manipulation"):
 *
 * - use_remote_address unset: x-forwarded-for passes unchanged; one internal address in it
 *   makes the request internal (x-envoy-internal; x-envoy-* router headers and
 *   internal_only_headers kept), anything else external (stripped);
 * - use_remote_address: the peer is appended to XFF (a loopback peer as this host's address),
 *   x-forwarded-proto is overwritten, an external peer gets x-envoy-external-address and a new
 *   x-request-id; xff_num_trusted_hops takes the client from XFF; skip_xff_append;
 *   internal_address_config's cidr_ranges replace the private ranges;
 * - generate_request_id, preserve_external_request_id, always_set_request_id_in_response and
 *   %REQ(X-REQUEST-ID)% in the access log; server_name and server_header_transformation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startCourier, eventually, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { hcmHeadYaml, staticClusterYaml } from '../support/configs.js';

/** This host's address as Envoy writes it into XFF for a loopback peer (its local_info address). */
function hostAddress(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let upstream: http.Server;
let upstreamPort: number;
const couriers: CourierHandle[] = [];
const logs = new Map<string, string>();
const ports = new Map<string, number>();

async function startVariant(name: string, hcmFields: string): Promise<void> {
  const logPath = path.join(tmpDir(), `${name}.log`);
  logs.set(name, logPath);
  const c = await startCourier(`${hcmHeadYaml(name, logPath, '%REQ(:PATH)% rid=%REQ(X-REQUEST-ID)% remote=%DOWNSTREAM_REMOTE_ADDRESS% direct=%DOWNSTREAM_DIRECT_REMOTE_ADDRESS%\n', { hcm: hcmFields })}
            name: routes
            internal_only_headers: [x-secret]
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/up" }
                route: { cluster: backend }
  clusters:
${staticClusterYaml('backend', [upstreamPort])}
`);
  couriers.push(c);
  ports.set(name, await c.listenerPort('http'));
}

before(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('server', 'upstream-srv');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  await startVariant('dflt', '');
  await startVariant(
    'edge',
    `          use_remote_address: true
          internal_address_config:
            cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]
          always_set_request_id_in_response: true
          server_name: envoy`,
  );
  await startVariant(
    'trusted',
    `          use_remote_address: true
          xff_num_trusted_hops: 1
          skip_xff_append: true
          internal_address_config:
            cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 8 }]
          preserve_external_request_id: true
          server_header_transformation: APPEND_IF_ABSENT`,
  );
  await startVariant(
    'bare',
    `          generate_request_id: false
          server_header_transformation: PASS_THROUGH`,
  );
});

after(async () => {
  for (const c of couriers) await c.stop();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** What the upstream received (for a proxied request). */
  seen: Record<string, string>;
}

function get(variant: string, p: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: ports.get(variant), path: p, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        let seen: Record<string, string> = {};
        if (res.headers['content-type'] === 'application/json') seen = JSON.parse(body) as Record<string, string>;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, seen });
      });
    });
    req.on('error', reject);
  });
}

async function logLine(variant: string, p: string): Promise<string> {
  return eventually(() => readFileSync(logs.get(variant)!, 'utf8').split('\n').find((l) => l.startsWith(`${p} `)) ?? '', `access log line for ${p}`);
}

test('use_remote_address unset: XFF passes unchanged, x-forwarded-proto is set only when absent, no XFF means external', async () => {
  const r = await get('dflt', '/up/plain', { 'x-envoy-internal': 'true', 'x-envoy-retry-on': '5xx', 'x-secret': 's', 'x-envoy-external-address': '1.2.3.4' });
  assert.equal(r.status, 200);
  assert.equal(r.seen['x-forwarded-for'], undefined, 'no XFF is added without use_remote_address');
  assert.equal(r.seen['x-forwarded-proto'], 'http');
  // External (no XFF to decide on): a forged x-envoy-internal, the router headers and the
  // route table's internal_only_headers are removed; x-envoy-external-address is a trusted
  // front proxy's business and passes.
  assert.equal(r.seen['x-envoy-internal'], undefined);
  assert.equal(r.seen['x-envoy-retry-on'], undefined);
  assert.equal(r.seen['x-secret'], undefined);
  assert.equal(r.seen['x-envoy-external-address'], '1.2.3.4');
  assert.match(r.seen['x-request-id']!, UUID);
  assert.equal(r.headers['x-request-id'], undefined, 'only always_set_request_id_in_response echoes it');
  assert.equal(r.headers['server'], 'courier', "Courier's default server_name overwrites the upstream's");
  // %REQ(X-REQUEST-ID)% logs the id the upstream got.
  // Without a usable XFF the client is the peer: the same address both ways.
  const line = await logLine('dflt', '/up/plain');
  assert.match(line, new RegExp(`^/up/plain rid=${r.seen['x-request-id']} remote=127\\.0\\.0\\.1:(\\d+) direct=127\\.0\\.0\\.1:\\1$`));
});

test('use_remote_address unset: one internal address in XFF makes the request internal; its client address is logged', async () => {
  const r = await get('dflt', '/up/internal', { 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https', 'x-secret': 's', 'x-request-id': 'client-id', 'x-envoy-force-trace': '1' });
  assert.equal(r.seen['x-forwarded-for'], '10.1.2.3');
  assert.equal(r.seen['x-forwarded-proto'], 'https', 'kept: only set when absent');
  assert.equal(r.seen['x-envoy-internal'], 'true');
  assert.equal(r.seen['x-secret'], 's', 'internal_only_headers reach the upstream from internal clients');
  assert.equal(r.seen['x-request-id'], 'client-id', 'not an edge request: the id is trusted');
  assert.equal(r.headers['x-request-id'], 'client-id', 'x-envoy-force-trace from an internal client echoes the id');
  const line = await logLine('dflt', '/up/internal');
  assert.match(line, /^\/up\/internal rid=client-id remote=10\.1\.2\.3:0 direct=127\.0\.0\.1:\d+$/);
  // Two addresses, or a public one: external.
  for (const xff of ['10.1.2.3, 10.4.5.6', '203.0.113.9', 'not-an-ip']) {
    const e = await get('dflt', '/up/ext', { 'x-forwarded-for': xff, 'x-secret': 's' });
    assert.equal(e.seen['x-envoy-internal'], undefined, xff);
    assert.equal(e.seen['x-secret'], undefined, xff);
    assert.equal(e.seen['x-forwarded-for'], xff, xff);
  }
});

test('use_remote_address: the loopback peer goes into XFF as this host, x-forwarded-proto is overwritten; an external peer is an edge request', async () => {
  const local = hostAddress();
  // 127.0.0.1 is not in this HCM's cidr_ranges (10.0.0.0/8): the request is external and edge.
  const r = await get('edge', '/up/a', { 'x-forwarded-proto': 'https', 'x-request-id': 'forged', 'x-envoy-internal': 'true', 'x-envoy-downstream-service-cluster': 'x' });
  assert.equal(r.seen['x-forwarded-for'], local);
  assert.equal(r.seen['x-forwarded-proto'], 'http', 'an untrusted peer cannot claim https');
  assert.equal(r.seen['x-envoy-external-address'], '127.0.0.1');
  assert.equal(r.seen['x-envoy-internal'], undefined);
  assert.equal(r.seen['x-envoy-downstream-service-cluster'], undefined, 'stripped from edge requests');
  assert.match(r.seen['x-request-id']!, UUID, 'an edge request cannot choose its id');
  assert.notEqual(r.seen['x-request-id'], 'forged');
  assert.equal(r.headers['x-request-id'], r.seen['x-request-id'], 'always_set_request_id_in_response');
  assert.equal(r.headers['server'], 'envoy', 'server_name');
  // With an incoming XFF, the peer is appended with "," (Envoy's delimiter).
  const x = await get('edge', '/up/b', { 'x-forwarded-for': '10.9.9.9' });
  assert.equal(x.seen['x-forwarded-for'], `10.9.9.9,${local}`);
  assert.equal(x.seen['x-envoy-external-address'], '127.0.0.1');
  // Local replies carry the id and the server name too.
  const nr = await get('edge', '/nowhere');
  assert.equal(nr.status, 404);
  assert.match(String(nr.headers['x-request-id']), UUID);
  assert.equal(nr.headers['server'], 'envoy');
});

test('xff_num_trusted_hops: 1 takes the client from XFF; skip_xff_append; preserve_external_request_id; APPEND_IF_ABSENT', async () => {
  const r = await get('trusted', '/up/t', { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-request-id': 'client-id' });
  assert.equal(r.seen['x-forwarded-for'], '203.0.113.9', 'skip_xff_append');
  assert.equal(r.seen['x-forwarded-proto'], 'https', "a trusted hop's scheme is kept");
  assert.equal(r.seen['x-envoy-external-address'], '203.0.113.9');
  assert.equal(r.seen['x-request-id'], 'client-id', 'preserve_external_request_id');
  assert.equal(r.headers['server'], 'upstream-srv', 'APPEND_IF_ABSENT keeps the upstream server header');
  assert.match(await logLine('trusted', '/up/t'), /^\/up\/t rid=client-id remote=203\.0\.113\.9:0 direct=127\.0\.0\.1:\d+$/);
  // The trusted hop's client is internal (and XFF had one address, but use_remote_address
  // needs no XFF at all for "internal"): external, as in Envoy.
  const i = await get('trusted', '/up/i', { 'x-forwarded-for': '10.0.0.7' });
  assert.equal(i.seen['x-envoy-internal'], undefined);
  assert.equal(i.seen['x-envoy-external-address'], '10.0.0.7');
  // No XFF: the peer is the client; x-forwarded-proto is set when absent.
  const n = await get('trusted', '/up/n');
  assert.equal(n.seen['x-forwarded-for'], undefined);
  assert.equal(n.seen['x-forwarded-proto'], 'http');
  assert.equal(n.seen['x-envoy-external-address'], '127.0.0.1');
  // A local reply has no upstream server header: APPEND_IF_ABSENT adds the server name.
  assert.equal((await get('trusted', '/nowhere')).headers['server'], 'courier');
});

test('generate_request_id: false adds none; PASS_THROUGH leaves the server header alone (a local reply has none)', async () => {
  const r = await get('bare', '/up/x');
  assert.equal(r.seen['x-request-id'], undefined);
  assert.equal(r.headers['server'], 'upstream-srv');
  assert.match(await logLine('bare', '/up/x'), /^\/up\/x rid=- /);
  const kept = await get('bare', '/up/y', { 'x-request-id': 'mine' });
  assert.equal(kept.seen['x-request-id'], 'mine');
  const nr = await get('bare', '/nowhere');
  assert.equal(nr.status, 404);
  assert.equal(nr.headers['server'], undefined);
});

test('config: bad forwarding and server settings are refused with their field paths', async () => {
  const cases: Array<[string, RegExp]> = [
    ['          internal_address_config:\n            cidr_ranges: [{ address_prefix: nope, prefix_len: 8 }]', /internal_address_config\.cidr_ranges\[0\]\.address_prefix.*not an IP address/],
    ['          internal_address_config:\n            cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 33 }]', /cidr_ranges\[0\]\.prefix_len.*out of range/],
    ['          server_name: "a\\nb"', /server_name/],
    ['          max_request_headers_kb: 9000', /max_request_headers_kb/],
  ];
  for (const [fields, expected] of cases) {
    await assert.rejects(startCourier(`${hcmHeadYaml('bad', path.join(tmpDir(), 'bad.log'), 'x\n', { hcm: fields })}
            name: r
            virtual_hosts: []
  clusters: []
`), expected, fields);
  }
});
