/**
 * Upgrades through the HTTP connection manager end to end: a real `ws` WebSocket server
 * behind Courier and a real `ws` client in front of it, plus a raw TCP backend that answers
 * upgrades itself (101 then echo, 200 instead of 101, a slow reader, silence) for what a
 * WebSocket library hides: bytes pipelined after the request, half-close both ways,
 * backpressure and the idle timeout. Two listeners: "ws" enables websocket in its
 * upgrade_configs, "plain" does not (one of its routes does). Stats are read as deltas.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { startCourier, eventually, sleep, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { closedPort, listen, type Peer } from '../support/peers.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';

const LOG_FORMAT = '%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %UPSTREAM_CLUSTER%\n';

/** One listener with an HCM; `hcmExtra` and `routes` are YAML indented for their places. */
function hcmListenerYaml(name: string, logPath: string, hcmExtra: string, routes: string): string {
  return `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          codec_type: AUTO${hcmExtra}
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: ${logPath}
              log_format: { text_format_source: { inline_string: ${JSON.stringify(LOG_FORMAT)} } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
          route_config:
            name: ${name}_routes
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
${routes}`;
}

function yaml(wsPort: number, rawPort: number, dead: number, logPath: string): string {
  return `${ADMIN_YAML}
static_resources:
  listeners:
${hcmListenerYaml(
  'ws',
  logPath,
  `
          upgrade_configs: [{ upgrade_type: WebSocket }]`,
  `              - match: { prefix: "/nows" }
                route: { cluster: ws, upgrade_configs: [{ upgrade_type: websocket, enabled: false }] }
              - match: { prefix: "/idle" }
                route: { cluster: raw, idle_timeout: 0.3s }
              - match: { prefix: "/raw" }
                route: { cluster: raw }
                response_headers_to_add: [{ header: { key: x-upstream, value: "%UPSTREAM_REMOTE_ADDRESS%" } }]
              - match: { prefix: "/dead" }
                route: { cluster: dead }
              - match: { prefix: "/" }
                route: { cluster: ws }`,
)}
${hcmListenerYaml(
  'plain',
  logPath,
  '',
  `              - match: { prefix: "/enabled" }
                route: { cluster: ws, upgrade_configs: [{ upgrade_type: websocket }] }
              - match: { prefix: "/" }
                route: { cluster: ws }`,
)}
  clusters:
${staticClusterYaml('ws', [wsPort])}
${staticClusterYaml('raw', [rawPort])}
${staticClusterYaml('dead', [dead])}
`;
}

interface RawBackend extends Peer {
  /** Bytes a /raw/slow connection has read so far, and their sha256 once it ended. */
  slow: { bytes: number; sha: string | undefined };
  /** Lets /raw/slow connections read. */
  release(): void;
  /** What /raw/first connections received after they half-closed. */
  late: string[];
}

const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n';

/**
 * A TCP server that reads one request head, then by path: /raw/echo answers 101 and echoes
 * (on the client's FIN it sends "bye" and ends); /raw/first answers 101, sends "srv" and
 * half-closes at once, then records what still arrives; /raw/200 answers 200 "hello";
 * /raw/slow answers 101 and reads nothing until release(); /idle answers 101 and stays silent.
 */
async function rawBackend(): Promise<RawBackend> {
  const slow = { bytes: 0, sha: undefined as string | undefined };
  const late: string[] = [];
  let released = false;
  const waiting: net.Socket[] = [];
  const peer = await listen((s) => {
    let head = Buffer.alloc(0);
    const onHead = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      s.removeListener('data', onHead);
      const reqLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const rest = head.subarray(end + 4);
      const p = reqLine.split(' ')[1] ?? '';
      if (p.startsWith('/raw/200')) {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello');
        return;
      }
      s.write(SWITCHING);
      if (p.startsWith('/raw/echo')) {
        if (rest.length > 0) s.write(rest);
        s.on('data', (x: Buffer) => s.write(x));
        s.on('end', () => s.end('bye'));
      } else if (p.startsWith('/raw/first')) {
        s.end('srv');
        let got = rest.toString('latin1');
        s.on('data', (x: Buffer) => (got += x.toString('latin1')));
        s.on('end', () => late.push(got));
      } else if (p.startsWith('/raw/slow')) {
        const hash = createHash('sha256').update(rest);
        slow.bytes = rest.length;
        s.on('data', (x: Buffer) => {
          hash.update(x);
          slow.bytes += x.length;
        });
        s.on('end', () => {
          slow.sha = hash.digest('hex');
          s.end();
        });
        if (!released) {
          s.pause();
          waiting.push(s);
        }
      }
      // /idle: silence.
    };
    s.on('data', onHead);
  });
  return Object.assign(peer, {
    slow,
    late,
    release: () => {
      released = true;
      for (const w of waiting) w.resume();
    },
  });
}

let courier: CourierHandle;
let wsPort: number;
let plainPort: number;
let wss: WebSocketServer;
let raw: RawBackend;
let logPath: string;
/** Close frames the WebSocket server received, and the last upgrade request's headers. */
const serverCloses: Array<{ code: number; reason: string }> = [];
let lastUpgrade: http.IncomingHttpHeaders | undefined;

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (ws, req) => {
    lastUpgrade = req.headers;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary && data.toString() === 'close-me') ws.close(4001, 'server bye');
      else ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code: number, reason: Buffer) => serverCloses.push({ code, reason: reason.toString() }));
  });
  raw = await rawBackend();
  logPath = path.join(tmpDir(), 'access.log');
  courier = await startCourier(yaml((wss.address() as net.AddressInfo).port, raw.port, await closedPort(), logPath));
  wsPort = await courier.listenerPort('ws');
  plainPort = await courier.listenerPort('plain');
});

after(async () => {
  await courier.stop();
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
  await raw.close();
});

async function delta(names: string[], fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = await courier.stats();
  await fn();
  await sleep(30);
  const after = await courier.stats();
  return Object.fromEntries(names.map((n) => [n, (after.get(n) ?? 0) - (before.get(n) ?? 0)]));
}

async function logLine(re: RegExp): Promise<string> {
  return eventually(() => readFileSync(logPath, 'utf8').split('\n').find((l) => re.test(l)) ?? '', `access log line ${re}`);
}

async function gaugeBackToZero(listener: string): Promise<void> {
  await eventually(async () => (await courier.stat(`http.${listener}.downstream_cx_upgrades_active`)) === 0, 'upgrades_active back to 0');
}

/** A WebSocket handshake Courier answers with something else than 101: status and body. */
function refused(url: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', reject);
    ws.on('open', () => reject(new Error('upgraded')));
    ws.on('unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      // Read at once: the connection closes right after a body-less reply.
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      const done = (): void => {
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      };
      res.on('end', done);
      res.on('close', done);
    });
  });
}

/**
 * Raw socket: sends `data` and collects what comes back. Like an ordinary client it closes
 * its side when the peer does, unless `halfOpen` (to keep sending after the peer's FIN).
 */
function rawExchange(port: number, data: string, halfOpen = false): { socket: net.Socket; text: () => string; ended: Promise<void>; closed: Promise<void> } {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen });
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => {});
  const ended = new Promise<void>((r) => {
    socket.on('end', () => r());
    socket.on('close', () => r());
  });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.write(data);
  return { socket, text: () => text, ended, closed };
}

const upgradeHead = (p: string): string => `GET ${p} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n`;

test('ws: text and a 1 MiB binary message echo through Courier; the access log is written at the end', async () => {
  const d = await delta(['http.ws.downstream_cx_upgrades_total', 'http.ws.downstream_rq_1xx', 'cluster.ws.upstream_cx_total'], async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/chat`);
    await once(ws, 'open');
    ws.send('hello');
    const [text, textIsBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.equal(text.toString(), 'hello');
    assert.equal(textIsBinary, false);
    const big = randomBytes(1 << 20);
    ws.send(big);
    const [echo, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    assert.ok(isBinary);
    assert.equal(echo.length, big.length);
    assert.ok(echo.equals(big));
    assert.equal(await courier.stat('http.ws.downstream_cx_upgrades_active'), 1);
    ws.close(1000, 'done');
    const [code] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 1000);
  });
  assert.deepEqual(d, { 'http.ws.downstream_cx_upgrades_total': 1, 'http.ws.downstream_rq_1xx': 1, 'cluster.ws.upstream_cx_total': 1 });
  await gaugeBackToZero('ws');
  // Connection and Upgrade reach the backend; the usual forwarding fields too.
  assert.equal(lastUpgrade?.['upgrade'], 'websocket');
  assert.match(String(lastUpgrade?.['connection']), /upgrade/i);
  // use_remote_address is unset: x-forwarded-for is not added (Envoy's default); the scheme is.
  assert.equal(lastUpgrade?.['x-forwarded-for'], undefined);
  assert.equal(lastUpgrade?.['x-forwarded-proto'], 'http');
  const line = await logLine(/^\/chat /);
  const m = /^\/chat 101 - (\d+) (\d+) ws$/.exec(line);
  assert.ok(m, line);
  assert.ok(Number(m[1]) > 1 << 20 && Number(m[2]) > 1 << 20, line);
});

test('ws: close handshakes propagate both ways, with their codes and reasons', async () => {
  // Client first.
  const a = new WebSocket(`ws://127.0.0.1:${wsPort}/close-client`);
  await once(a, 'open');
  a.close(4000, 'client bye');
  const [codeA] = (await once(a, 'close')) as [number, Buffer];
  assert.equal(codeA, 4000);
  await eventually(() => serverCloses.some((c) => c.code === 4000 && c.reason === 'client bye'), 'server saw 4000');
  // Server first.
  const b = new WebSocket(`ws://127.0.0.1:${wsPort}/close-server`);
  await once(b, 'open');
  b.send('close-me');
  const [codeB, reasonB] = (await once(b, 'close')) as [number, Buffer];
  assert.equal(codeB, 4001);
  assert.equal(reasonB.toString(), 'server bye');
  await gaugeBackToZero('ws');
  assert.match(await logLine(/^\/close-server /), /^\/close-server 101 - \d+ \d+ ws$/);
});

test('an HCM without upgrade_configs refuses websocket: 403, downstream_rq_ws_on_non_ws_route, close', async () => {
  const d = await delta(['http.plain.downstream_rq_ws_on_non_ws_route', 'http.plain.downstream_cx_upgrades_total', 'cluster.ws.upstream_rq_total'], async () => {
    const r = await refused(`ws://127.0.0.1:${plainPort}/chat`);
    assert.equal(r.status, 403);
    assert.equal(r.body, '');
  });
  assert.deepEqual(d, { 'http.plain.downstream_rq_ws_on_non_ws_route': 1, 'http.plain.downstream_cx_upgrades_total': 0, 'cluster.ws.upstream_rq_total': 0 });
  // The bytes after a refused upgrade are not HTTP: the connection closes after the 403.
  const x = rawExchange(plainPort, upgradeHead('/chat') + 'GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n');
  await x.closed;
  assert.match(x.text(), /^HTTP\/1.1 403 Forbidden\r\n/);
  assert.match(x.text(), /connection: close\r\n/);
  assert.equal((x.text().match(/HTTP\/1.1/g) ?? []).length, 1);
});

test('route upgrade_configs: enabled: false refuses on an HCM that allows; enabled: true allows on one that does not', async () => {
  const r = await refused(`ws://127.0.0.1:${wsPort}/nows`);
  assert.equal(r.status, 403);
  assert.match(await logLine(/^\/nows /), /^\/nows 403 - 0 0 -$/);
  const ws = new WebSocket(`ws://127.0.0.1:${plainPort}/enabled`);
  await once(ws, 'open');
  ws.send('via route');
  const [m] = (await once(ws, 'message')) as [Buffer];
  assert.equal(m.toString(), 'via route');
  ws.close();
  await once(ws, 'close');
  await gaugeBackToZero('plain');
});

test('a backend that answers 200 instead of 101: the response is forwarded, not upgraded, then the connection closes', async () => {
  const r = await refused(`ws://127.0.0.1:${wsPort}/raw/200`);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'hello');
  const x = rawExchange(wsPort, upgradeHead('/raw/200') + 'payload the backend never asked for');
  await x.closed;
  assert.match(x.text(), /^HTTP\/1.1 200 OK\r\n/);
  assert.match(x.text(), /connection: close\r\n/);
  assert.ok(x.text().endsWith('\r\n\r\nhello'), x.text());
  await gaugeBackToZero('ws');
});

test('a backend that refuses the connection → 503 UF (connection failure), gauge back to 0', async () => {
  const d = await delta(['http.ws.downstream_cx_upgrades_total', 'http.ws.downstream_rq_5xx'], async () => {
    const r = await refused(`ws://127.0.0.1:${wsPort}/dead`);
    assert.equal(r.status, 503);
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
  });
  assert.deepEqual(d, { 'http.ws.downstream_cx_upgrades_total': 1, 'http.ws.downstream_rq_5xx': 1 });
  assert.match(await logLine(/^\/dead /), /^\/dead 503 UF 0 \d+ dead$/);
  await gaugeBackToZero('ws');
});

test('raw tunnel: bytes pipelined after the request are the tunnel\'s; the client\'s FIN reaches the backend, and its FIN comes back', async () => {
  const x = rawExchange(wsPort, upgradeHead('/raw/echo') + 'early-bytes|', true);
  await eventually(() => x.text().includes('early-bytes|'), 'echo of the pipelined bytes');
  assert.match(x.text(), /^HTTP\/1.1 101 Switching Protocols\r\n/);
  assert.match(x.text(), /\r\nupgrade: websocket\r\n/);
  assert.match(x.text(), /\r\nx-upstream: 127\.0\.0\.1:\d+\r\n/);
  assert.doesNotMatch(x.text(), /content-length|transfer-encoding/);
  x.socket.write('more|');
  await eventually(() => x.text().includes('more|'), 'echo');
  x.socket.end(); // half-close: the backend answers "bye" and ends
  await x.ended;
  assert.ok(x.text().endsWith('\r\n\r\nearly-bytes|more|bye'), x.text());
  await x.closed;
  assert.match(await logLine(/^\/raw\/echo /), /^\/raw\/echo 101 - 17 20 raw$/);
  await gaugeBackToZero('ws');
});

test('raw tunnel: the backend half-closes first; the client can still send, and the backend gets it', async () => {
  const x = rawExchange(wsPort, upgradeHead('/raw/first'), true);
  await x.ended; // the backend's FIN, passed on
  assert.ok(x.text().endsWith('\r\n\r\nsrv'), x.text());
  x.socket.end('late bytes');
  await eventually(() => raw.late.includes('late bytes'), 'backend received the late bytes');
  await x.closed;
  await gaugeBackToZero('ws');
});

test('raw tunnel backpressure: a backend that does not read stops Courier reading the client', async () => {
  const total = 64 << 20;
  const payload = randomBytes(total);
  const sha = createHash('sha256').update(payload).digest('hex');
  const rx = 'http.ws.downstream_cx_rx_bytes_total';
  const before = await courier.stat(rx);
  const x = rawExchange(wsPort, upgradeHead('/raw/slow'));
  await eventually(() => x.text().includes('\r\n\r\n'), '101');
  const flushed = new Promise<void>((r) => x.socket.write(payload, () => r()));
  x.socket.end();
  await sleep(600);
  const read = (await courier.stat(rx)) - before;
  assert.equal(raw.slow.bytes, 0);
  assert.ok(read < 40 << 20, `Courier read ${read} bytes while the backend read none`);
  assert.ok(x.socket.writableLength > 0, 'the client is held back too');
  raw.release();
  await flushed;
  await eventually(() => raw.slow.sha !== undefined, 'backend read everything', 20_000);
  assert.equal(raw.slow.bytes, total);
  assert.equal(raw.slow.sha, sha);
  await x.closed;
  await gaugeBackToZero('ws');
});

test('route idle_timeout closes a silent tunnel: SI, downstream_rq_idle_timeout', async () => {
  const d = await delta(['http.ws.downstream_rq_idle_timeout'], async () => {
    const started = Date.now();
    const x = rawExchange(wsPort, upgradeHead('/idle'));
    await x.closed;
    const took = Date.now() - started;
    assert.match(x.text(), /^HTTP\/1.1 101 /);
    assert.ok(took >= 250 && took < 3000, `closed after ${took} ms`);
  });
  assert.deepEqual(d, { 'http.ws.downstream_rq_idle_timeout': 1 });
  assert.match(await logLine(/^\/idle /), /^\/idle 101 SI 0 0 raw$/);
  await gaugeBackToZero('ws');
});
