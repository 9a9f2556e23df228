import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

import {
  CONTINUE_100,
  CRLF,
  LAST_CHUNK,
  encodeChunk,
  encodeChunkHeader,
  encodeLastChunk,
  encodeLocalReply,
  encodeRequestHead,
  encodeResponseHead,
} from '../../src/common/http/http1-encoder.js';
import {
  Http1Parser,
  type Http1Head,
  type Http1RequestHead,
  type Http1ResponseHead,
} from '../../src/common/http/http1-parser.js';
import {
  downstreamRqClassStat,
  isInterimStatus,
  reasonPhrase,
  statusClass,
  statusHasNoBody,
  upstreamRqClassStat,
} from '../../src/common/http/http-status.js';

const text = (b: Buffer): string => b.toString('latin1');

interface Parsed<H extends Http1Head> {
  heads: H[];
  bodies: string[];
  trailers: (string[] | undefined)[];
}

/** Parses `chunks` whole; returns heads, per-message bodies and trailers, or throws on error. */
function parseAll<H extends Http1Head>(parser: (cb: ReturnType<typeof collector<H>>['cb']) => Http1Parser<H>, chunks: Buffer[]): Parsed<H> {
  const c = collector<H>();
  const p = parser(c.cb);
  for (const b of chunks) {
    const r = p.execute(b);
    if (!r.ok) throw new Error(r.toString());
  }
  return c.out;
}

function collector<H extends Http1Head>() {
  const out: Parsed<H> = { heads: [], bodies: [], trailers: [] };
  let body = '';
  return {
    out,
    cb: {
      onHead: (h: H) => {
        out.heads.push(h);
        body = '';
      },
      onBody: (chunk: Buffer) => void (body += text(chunk)),
      onMessageComplete: (t?: string[]) => {
        out.bodies.push(body);
        out.trailers.push(t);
      },
    },
  };
}

const parseRequests = (chunks: Buffer[]) => parseAll<Http1RequestHead>((cb) => Http1Parser.forRequests(cb), chunks);
const parseResponses = (chunks: Buffer[], methods: string[] = []) =>
  parseAll<Http1ResponseHead>((cb) => {
    const p = Http1Parser.forResponses(cb);
    for (const m of methods) p.expectResponse(m);
    return p;
  }, chunks);

// --------------------------------------------------------------------------------------------
// Heads

test('request head: one line per field, in order, names as given', () => {
  const b = encodeRequestHead('GET', '/a?b=c', ['host', 'example.com', 'x-forwarded-for', '10.0.0.1', 'x-empty', '']);
  assert.equal(text(b), 'GET /a?b=c HTTP/1.1\r\nhost: example.com\r\nx-forwarded-for: 10.0.0.1\r\nx-empty: \r\n\r\n');
  assert.equal(text(encodeRequestHead('GET', '/', [], 0)), 'GET / HTTP/1.0\r\n\r\n');
});

test("response head: Envoy's reason phrase by default, or the one given", () => {
  assert.equal(text(encodeResponseHead(200, ['content-length', '0'])), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  assert.equal(text(encodeResponseHead(503, [])), 'HTTP/1.1 503 Service Unavailable\r\n\r\n');
  assert.equal(text(encodeResponseHead(299, [])), 'HTTP/1.1 299 Unknown\r\n\r\n');
  assert.equal(text(encodeResponseHead(200, [], 'Fine', 0)), 'HTTP/1.0 200 Fine\r\n\r\n');
});

test('latin1 values go out byte for byte as the parser read them', () => {
  const raw = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nx-v: '), Buffer.from([0xe9, 0x80, 0xff]), Buffer.from('\r\n\r\n')]);
  const { heads } = parseRequests([raw]);
  const h = heads[0]!;
  assert.deepEqual(encodeRequestHead(h.method, h.path, h.headers), raw);
});

// --------------------------------------------------------------------------------------------
// Chunked framing

test('chunk helpers', () => {
  assert.equal(text(encodeChunkHeader(255)), 'ff\r\n');
  assert.equal(text(encodeChunkHeader(1)), '1\r\n');
  assert.equal(text(CRLF), '\r\n');
  assert.equal(text(encodeChunk(Buffer.from('hello world!!!!!'))), '10\r\nhello world!!!!!\r\n');
  assert.equal(encodeChunk(Buffer.alloc(0)).length, 0, 'an empty chunk would end the body');
  assert.equal(text(LAST_CHUNK), '0\r\n\r\n');
  assert.equal(encodeLastChunk(), LAST_CHUNK);
  assert.equal(encodeLastChunk([]), LAST_CHUNK);
  assert.equal(text(encodeLastChunk(['grpc-status', '0', 'grpc-message', 'ok'])), '0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n');
  assert.equal(text(CONTINUE_100), 'HTTP/1.1 100 Continue\r\n\r\n');
});

// --------------------------------------------------------------------------------------------
// Local replies

test("local reply laid out as Envoy's", () => {
  const b = encodeLocalReply({
    statusCode: 503,
    body: 'no healthy upstream',
    headers: ['date', 'Thu, 01 Jan 2026 00:00:00 GMT', 'server', 'envoy'],
  });
  assert.equal(
    text(b),
    'HTTP/1.1 503 Service Unavailable\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n' +
      'date: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: envoy\r\n\r\nno healthy upstream',
  );
});

test('local reply: no body, close, HEAD, UTF-8 body, Buffer body, content type', () => {
  assert.equal(
    text(encodeLocalReply({ statusCode: 400, close: true })),
    'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
  );
  assert.equal(
    text(encodeLocalReply({ statusCode: 404, body: 'nope', headRequest: true })),
    'HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\ncontent-type: text/plain\r\n\r\n',
  );
  const utf8 = encodeLocalReply({ statusCode: 200, body: 'héllo ✓', contentType: 'text/plain; charset=utf-8' });
  const { heads, bodies } = parseResponses([utf8]);
  assert.equal(heads[0]!.contentLength, Buffer.byteLength('héllo ✓'));
  assert.equal(Buffer.from(bodies[0]!, 'latin1').toString('utf8'), 'héllo ✓');
  assert.deepEqual(heads[0]!.headers.slice(2, 4), ['content-type', 'text/plain; charset=utf-8']);
  const buf = encodeLocalReply({ statusCode: 200, body: Buffer.from([1, 2, 3]), contentType: 'application/octet-stream' });
  assert.deepEqual(buf.subarray(buf.length - 3), Buffer.from([1, 2, 3]));
});

// --------------------------------------------------------------------------------------------
// Round trips

test('round trip: parse → encode → parse gives the same messages, at every split', () => {
  const original =
    'POST /submit?x=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nX-Trace: abc\r\n\r\nhello' +
    'PUT /stream HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 9\r\n\r\n' +
    'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
  const first = parseRequests([Buffer.from(original, 'latin1')]);

  // Re-encode: heads as parsed, chunked bodies re-framed without the extensions.
  const out: Buffer[] = [];
  first.heads.forEach((h, i) => {
    out.push(encodeRequestHead(h.method, h.path, h.headers, h.versionMinor));
    const body = Buffer.from(first.bodies[i]!, 'latin1');
    if (h.bodyKind === 'chunked') {
      out.push(encodeChunk(body), encodeLastChunk(first.trailers[i]));
    } else {
      out.push(body);
    }
  });
  const encoded = Buffer.concat(out);
  const again = parseRequests([encoded]);
  assert.deepEqual(again, first);
  for (let i = 1; i < encoded.length; i++) {
    assert.deepEqual(parseRequests([encoded.subarray(0, i), encoded.subarray(i)]), first, `split at ${i}`);
  }
});

test('round trip of responses, HEAD and interim included', () => {
  const msgs = Buffer.concat([
    CONTINUE_100,
    encodeResponseHead(200, ['content-length', '2', 'server', 'courier']),
    Buffer.from('ok'),
    encodeResponseHead(200, ['content-length', '10']), // to HEAD: no body follows
    encodeResponseHead(200, ['transfer-encoding', 'chunked']),
    encodeChunkHeader(4),
    Buffer.from('data'),
    CRLF,
    encodeLastChunk(['x-t', 'v']),
    encodeLocalReply({ statusCode: 503, body: 'upstream connect error', close: true }),
  ]);
  const r = parseResponses([msgs], ['POST', 'HEAD', 'GET', 'GET']);
  assert.deepEqual(
    r.heads.map((h) => [h.statusCode, h.reason, h.bodyKind]),
    [
      [100, 'Continue', 'none'],
      [200, 'OK', 'length'],
      [200, 'OK', 'none'],
      [200, 'OK', 'chunked'],
      [503, 'Service Unavailable', 'length'],
    ],
  );
  assert.deepEqual(r.bodies, ['', 'ok', '', 'data', 'upstream connect error']);
  assert.deepEqual(r.trailers[3], ['x-t', 'v']);
  assert.equal(r.heads[4]!.keepAlive, false);
});

// --------------------------------------------------------------------------------------------
// Status helpers

test('reason phrases and status classes', () => {
  assert.equal(reasonPhrase(200), 'OK');
  assert.equal(reasonPhrase(431), 'Request Header Fields Too Large');
  assert.equal(reasonPhrase(504), 'Gateway Timeout');
  assert.equal(reasonPhrase(799), 'Unknown');
  assert.equal(statusClass(101), '1xx');
  assert.equal(statusClass(599), '5xx');
  assert.equal(statusClass(99), null);
  assert.equal(statusClass(600), null);
  assert.equal(downstreamRqClassStat(204), 'downstream_rq_2xx');
  assert.equal(downstreamRqClassStat(503), 'downstream_rq_5xx');
  assert.equal(downstreamRqClassStat(1000), null);
  assert.equal(upstreamRqClassStat(404), 'upstream_rq_4xx');
  assert.equal(isInterimStatus(100), true);
  assert.equal(isInterimStatus(101), false);
  assert.equal(statusHasNoBody(304), true);
  assert.equal(statusHasNoBody(200), false);
});

// --------------------------------------------------------------------------------------------
// Node's http as the peer

const portOf = (s: net.Server | http.Server): number => (s.address() as net.AddressInfo).port;

function listenHttp(server: http.Server): Promise<void> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r()));
}

test('a node:http server accepts encoder requests (pipelined, chunked with trailers, HTTP/1.0)', async () => {
  const received: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body, trailers: req.trailers });
      res.setHeader('x-seen', String(received.length));
      res.end(`${req.method} ${req.url} ${body.length}`);
    });
  });
  await listenHttp(server);
  const events = collector<Http1ResponseHead>();
  const parser = Http1Parser.forResponses(events.cb);
  try {
    const wire = Buffer.concat([
      encodeRequestHead('POST', '/one?q=1', ['host', 'localhost', 'content-length', '5', 'x-custom', 'a b  c']),
      Buffer.from('hello'),
      encodeRequestHead('PUT', '/two', ['host', 'localhost', 'transfer-encoding', 'chunked', 'trailer', 'x-sum']),
      encodeChunk(Buffer.from('chunk-one/')),
      encodeChunkHeader(9),
      Buffer.from('chunk-two'),
      CRLF,
      encodeLastChunk(['x-sum', '19']),
      encodeRequestHead('GET', '/three', ['host', 'localhost'], 0),
    ]);
    for (const m of ['POST', 'PUT', 'GET']) parser.expectResponse(m);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(portOf(server), '127.0.0.1', () => socket.write(wire));
      socket.on('data', (d) => {
        const r = parser.execute(d);
        if (!r.ok) reject(new Error(r.toString()));
      });
      socket.on('end', () => {
        const r = parser.finish();
        if (r.ok) resolve();
        else reject(new Error(r.toString()));
      });
      socket.on('error', reject);
    });
    assert.equal(received.length, 3);
    assert.deepEqual(
      received.map((r) => [r.method, r.url, r.body]),
      [
        ['POST', '/one?q=1', 'hello'],
        ['PUT', '/two', 'chunk-one/chunk-two'],
        ['GET', '/three', ''],
      ],
    );
    assert.equal(received[0]!.headers['x-custom'], 'a b  c');
    assert.equal(received[1]!.trailers['x-sum'], '19');
    // Node answered the HTTP/1.0 request with Connection: close and closed: three responses.
    assert.deepEqual(
      events.out.heads.map((h) => [h.statusCode, h.keepAlive]),
      [
        [200, true],
        [200, true],
        [200, false],
      ],
    );
    assert.deepEqual(events.out.bodies, ['POST /one?q=1 5', 'PUT /two 19', 'GET /three 0']);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

test('WebSocket-style upgrade through a node:http server: 101, then tunnel bytes', async () => {
  const server = http.createServer((_req, res) => res.end('not upgraded'));
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
    assert.equal(req.headers.upgrade, 'echo');
  });
  await listenHttp(server);
  let tunnel = '';
  let head: Http1ResponseHead | null = null;
  let completed = false;
  const parser = Http1Parser.forResponses({
    onHead: (h) => void (head = h),
    onBody: (c) => void (tunnel += text(c)),
    onMessageComplete: () => void (completed = true),
  });
  parser.expectResponse('GET');
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(portOf(server), '127.0.0.1', () => {
        socket.write(
          Buffer.concat([
            encodeRequestHead('GET', '/ws', ['host', 'localhost', 'upgrade', 'echo', 'connection', 'upgrade']),
            Buffer.from('early '),
          ]),
        );
        setTimeout(() => socket.end('late'), 20);
      });
      socket.on('data', (d) => {
        const r = parser.execute(d);
        if (!r.ok) reject(new Error(r.toString()));
      });
      socket.on('end', () => {
        parser.finish();
        resolve();
      });
      socket.on('error', reject);
    });
    assert.ok(head);
    const h = head as Http1ResponseHead;
    assert.equal(h.statusCode, 101);
    assert.equal(h.bodyKind, 'tunnel');
    assert.equal(tunnel, 'early late');
    assert.equal(completed, true);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

test('a node:http client upgrades through our parser and encoder', async () => {
  let requestHead: Http1RequestHead | null = null;
  const server = net.createServer((socket) => {
    const parser = Http1Parser.forRequests({
      onHead(h) {
        requestHead = h;
        socket.write(encodeResponseHead(101, ['upgrade', 'echo', 'connection', 'Upgrade']));
      },
      // Tunnel bytes come raw: echo them upper-cased.
      onBody: (c) => void socket.write(text(c).toUpperCase()),
      onMessageComplete: () => void socket.end(),
    });
    socket.on('data', (d) => parser.execute(d));
    socket.on('end', () => parser.finish());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const echoed = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: portOf(server),
        path: '/up',
        headers: { Connection: 'Upgrade', Upgrade: 'echo' },
      });
      req.on('upgrade', (res, socket: net.Socket, head: Buffer) => {
        assert.equal(res.statusCode, 101);
        let got = head.toString();
        socket.on('data', (d) => (got += d.toString()));
        socket.on('end', () => resolve(got));
        socket.end('ping over the tunnel');
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(echoed, 'PING OVER THE TUNNEL');
    const h = requestHead as Http1RequestHead | null;
    assert.equal(h?.upgrade, true);
    assert.equal(h?.bodyKind, 'tunnel');
  } finally {
    server.close();
  }
});
