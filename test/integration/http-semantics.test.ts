/**
 * HTTP semantics that put upstreams at risk (issue 9, points 8 to 11), end to end through one
 * in-process Courier: raw net.Socket clients (Node's client would not send these requests) and
 * a raw net upstream that records the exact bytes it receives (node:http would normalise them:
 * merge duplicate fields, hide trailers' order, refuse some heads before a test could see them).
 *
 * Two HTTP listeners: "http" with Envoy's defaults (trailers dropped, Envoy's method list),
 * and "trailers" with http_protocol_options { enable_trailers, allow_custom_methods }.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startCourier, eventually, type CourierHandle } from '../support/courier-harness.js';
import { ADMIN_YAML, listenerHeadYaml, staticClusterYaml } from '../support/configs.js';
import { listen, type Peer } from '../support/peers.js';

/** Every request the upstream received, raw (latin1), by its request-target. */
const received = new Map<string, string>();

/** What the upstream answers, by request-target prefix; otherwise a 2-byte body. */
function answerFor(target: string): string {
  if (target.startsWith('/hop-response')) {
    return 'HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop-Resp\r\nX-Hop-Resp: secret\r\nX-Plain: p\r\nContent-Length: 2\r\n\r\nok';
  }
  if (target.startsWith('/ws')) {
    return 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade, X-Hop-Ws\r\nUpgrade: websocket\r\nX-Hop-Ws: 1\r\nX-Ws: w\r\n\r\n';
  }
  if (target.startsWith('/trailers-response')) {
    return (
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum\r\n\r\n' +
      '2\r\nok\r\n0\r\nX-Sum: 42\r\nHost: evil.example\r\nContent-Length: 99\r\nSet-Cookie: s=1\r\n\r\n'
    );
  }
  return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
}

/**
 * Whether `text` holds a whole request: a head, then its body by Content-Length or chunked
 * (ends with the last chunk and the trailer section's empty line). Deliberately naive: it
 * only has to frame what Courier forwards, and must not hide what Courier forwarded.
 */
function requestLength(text: string): number {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return -1;
  const head = text.slice(0, headEnd).toLowerCase();
  const bodyStart = headEnd + 4;
  if (head.includes('\r\ntransfer-encoding: chunked')) {
    const m = /(?:^|\r\n)0\r\n(?:[^\r\n]+\r\n)*\r\n/.exec(text.slice(bodyStart));
    return m ? bodyStart + m.index + m[0].length : -1;
  }
  const cl = /\r\ncontent-length: *(\d+)/.exec(head);
  const len = cl ? Number(cl[1]) : 0;
  return text.length >= bodyStart + len ? bodyStart + len : -1;
}

function rawUpstream(): Promise<Peer> {
  return listen((s) => {
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      for (let n = requestLength(text); n > 0; n = requestLength(text)) {
        const request = text.slice(0, n);
        text = text.slice(n);
        const target = request.slice(request.indexOf(' ') + 1, request.indexOf(' ', request.indexOf(' ') + 1));
        received.set(target, request);
        s.write(answerFor(target));
      }
    });
  });
}

function hcmListenerYaml(name: string, protocolOptions: string): string {
  return `${listenerHeadYaml(name)}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          codec_type: HTTP1
          upgrade_configs: [{ upgrade_type: websocket }]${protocolOptions ? `\n          http_protocol_options: ${protocolOptions}` : ''}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          route_config:
            name: routes
            virtual_hosts:
            - name: main
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: up }`;
}

let courier: CourierHandle;
let upstream: Peer;
let port: number;
let trailersPort: number;

before(async () => {
  upstream = await rawUpstream();
  courier = await startCourier(`${ADMIN_YAML}
static_resources:
  listeners:
${hcmListenerYaml('http', '')}
${hcmListenerYaml('trailers', '{ enable_trailers: true, allow_custom_methods: true }')}
  clusters:
${staticClusterYaml('up', [upstream.port])}
`);
  port = await courier.listenerPort('http');
  trailersPort = await courier.listenerPort('trailers');
});

after(async () => {
  await courier.stop();
  await upstream.close();
});

/**
 * Sends raw bytes on a new connection; resolves with the first whole response (or what came
 * before the close) and whether Courier then closed the connection (waited for only when the
 * response says `connection: close`).
 */
async function exchange(to: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect(to, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  socket.write(Buffer.from(bytes, 'latin1'));
  try {
    await eventually(() => closed || wholeResponse(text), `a reply to ${JSON.stringify(bytes.slice(0, 40))}`);
    if (/\r\nconnection: close\r\n/i.test(text)) await eventually(() => closed, 'the close after connection: close');
  } finally {
    socket.destroy();
  }
  return { text, closed };
}

/** A complete response with a Content-Length body, or a chunked one with its last chunk. */
function wholeResponse(t: string): boolean {
  const headEnd = t.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  if (/\r\ntransfer-encoding: chunked/i.test(t.slice(0, headEnd))) return /\r\n0\r\n(?:[^\r\n]+\r\n)*\r\n$/.test(t);
  const cl = /\r\ncontent-length: *(\d+)/i.exec(t.slice(0, headEnd));
  return t.length >= headEnd + 4 + Number(cl?.[1] ?? 0);
}

const statusOf = (text: string): number => Number(text.slice(9, 12));

/** The trailer section of a chunked message: what follows the last chunk's "0\r\n". */
function trailerSection(raw: string): string {
  const m = /\r\n0\r\n((?:[^\r\n]+\r\n)*)\r\n$/.exec(raw);
  assert.ok(m, `a chunked message with its last chunk: ${JSON.stringify(raw)}`);
  return m[1]!;
}

const POISONED_TRAILERS =
  '3\r\nabc\r\n0\r\nX-Sum: 1\r\nHost: evil.example\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nAuthorization: x\r\n\r\n';

test('8: request trailers are dropped by default (Envoy: enable_trailers false); the body still arrives whole', async () => {
  const reply = await exchange(
    port,
    `POST /t-default HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${POISONED_TRAILERS}`,
  );
  assert.equal(statusOf(reply.text), 200, reply.text);
  const raw = received.get('/t-default')!;
  assert.ok(raw.endsWith('\r\n3\r\nabc\r\n0\r\n\r\n'), `no trailer section upstream: ${JSON.stringify(raw)}`);
  assert.equal(raw.includes('evil.example'), false);
});

test('8: with enable_trailers, trailers go upstream without framing, routing or authentication fields', async () => {
  const reply = await exchange(
    trailersPort,
    `POST /t-enabled HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${POISONED_TRAILERS}`,
  );
  assert.equal(statusOf(reply.text), 200, reply.text);
  assert.equal(trailerSection(received.get('/t-enabled')!), 'x-sum: 1\r\n');
});

test('8: response trailers reach the client only with enable_trailers, and sanitised', async () => {
  const plain = await exchange(port, 'GET /trailers-response HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(statusOf(plain.text), 200);
  assert.equal(trailerSection(plain.text), '', plain.text);
  const enabled = await exchange(trailersPort, 'GET /trailers-response-2 HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(trailerSection(enabled.text), 'x-sum: 42\r\n', enabled.text);
});

test('9: a repeated equal Content-Length (two fields or "3, 3") is refused with 400 as Envoy does; unequal ones too', async () => {
  for (const [i, fields] of ['Content-Length: 3\r\nContent-Length: 3', 'Content-Length: 3, 3', 'Content-Length: 3\r\nContent-Length: 4'].entries()) {
    const reply = await exchange(port, `POST /cl-${i} HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\nabc`);
    assert.equal(statusOf(reply.text), 400, `${fields}: ${reply.text}`);
    assert.equal(reply.closed, true);
    assert.equal(received.has(`/cl-${i}`), false, `${fields} never reaches the upstream`);
  }
  // A single Content-Length is forwarded once.
  const ok = await exchange(port, 'POST /cl-ok HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc');
  assert.equal(statusOf(ok.text), 200);
  assert.equal(received.get('/cl-ok')!.match(/content-length/gi)?.length, 1);
});

test('10: two Host fields are answered 400 and the connection closed; nothing reaches the upstream', async () => {
  for (const [i, hosts] of ['Host: a\r\nHost: b', 'Host: a\r\nhost: a'].entries()) {
    const reply = await exchange(port, `GET /two-hosts-${i} HTTP/1.1\r\n${hosts}\r\n\r\n`);
    assert.equal(statusOf(reply.text), 400, reply.text);
    assert.equal(reply.closed, true);
    assert.equal(received.has(`/two-hosts-${i}`), false);
  }
});

test('11: fields named in Connection are not forwarded, to the upstream nor to the client', async () => {
  const reply = await exchange(
    port,
    'GET /hop-response HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nX-Kept: k\r\n\r\n',
  );
  assert.equal(statusOf(reply.text), 200);
  const raw = received.get('/hop-response')!.toLowerCase();
  assert.equal(raw.includes('x-secret'), false, raw);
  assert.equal(raw.includes('\r\nconnection:'), false, raw);
  assert.ok(raw.includes('\r\nx-kept: k\r\n'));
  const head = reply.text.toLowerCase();
  assert.equal(head.includes('x-hop-resp'), false, head);
  assert.ok(head.includes('\r\nx-plain: p\r\n'));
});

test('11: a Connection header nominating x-forwarded-for, or ten tokens, is refused (400, Envoy http1.connection_header_rejected)', async () => {
  for (const [i, value] of ['close, X-Forwarded-For', 'a,b,c,d,e,f,g,h,i,j'].entries()) {
    const reply = await exchange(port, `GET /conn-${i} HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: ${value}\r\n\r\n`);
    assert.equal(statusOf(reply.text), 400, reply.text);
    assert.equal(received.has(`/conn-${i}`), false);
  }
});

test('11: obs-text in the request-target is refused with 400, as Envoy refuses it', async () => {
  const reply = await exchange(port, 'GET /caf\xe9?q=\xff HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(statusOf(reply.text), 400, reply.text);
  assert.equal(reply.closed, true);
  assert.equal([...received.keys()].some((k) => k.startsWith('/caf')), false);
});

test("11: methods outside Envoy's list are refused with 400 unless allow_custom_methods", async () => {
  for (const method of ['FOO', 'G@T', 'get']) {
    const reply = await exchange(port, `${method} /method-${method.charCodeAt(1)} HTTP/1.1\r\nHost: a\r\n\r\n`);
    assert.equal(statusOf(reply.text), 400, `${method}: ${reply.text}`);
    assert.equal(received.has(`/method-${method.charCodeAt(1)}`), false);
  }
  const webdav = await exchange(port, 'PROPFIND /method-propfind HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(statusOf(webdav.text), 200);
  const custom = await exchange(trailersPort, 'FOO /method-custom HTTP/1.1\r\nHost: a\r\n\r\n');
  assert.equal(statusOf(custom.text), 200);
  assert.ok(received.get('/method-custom')!.startsWith('FOO /method-custom HTTP/1.1\r\n'));
});

test('11: HTTP/1.2 and HTTP/2.0 on an HTTP/1 connection are handled as HTTP/1.0: 426 without accept_http_10', async () => {
  for (const version of ['HTTP/1.2', 'HTTP/2.0']) {
    const reply = await exchange(port, `GET /version-${version} ${version}\r\nHost: a\r\n\r\n`);
    assert.ok(reply.text.startsWith('HTTP/1.1 426 Upgrade Required\r\n'), `${version}: ${reply.text}`);
    assert.equal(reply.closed, true);
    assert.equal(received.has(`/version-${version}`), false);
  }
});

test('11: a WebSocket upgrade still works; fields its Connection header nominates are removed both ways', async () => {
  const reply = await exchange(
    port,
    'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Foo\r\nUpgrade: websocket\r\nX-Foo: f\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  assert.ok(reply.text.startsWith('HTTP/1.1 101 '), reply.text);
  const head = reply.text.toLowerCase();
  assert.ok(head.includes('\r\nupgrade: websocket\r\n') && head.includes('\r\nconnection: upgrade\r\n'), head);
  assert.ok(head.includes('\r\nx-ws: w\r\n'));
  assert.equal(head.includes('x-hop-ws'), false, head);
  const raw = received.get('/ws')!.toLowerCase();
  assert.ok(raw.includes('\r\nconnection: upgrade\r\n') && raw.includes('\r\nupgrade: websocket\r\n'), raw);
  assert.equal(raw.includes('x-foo'), false, raw);
});
