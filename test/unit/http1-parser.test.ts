import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

import {
  HTTP1_ERROR_CODES,
  Http1ParseError,
  Http1Parser,
  isToken,
  isValidHeaderValue,
  type Http1ErrorCode,
  type Http1Head,
  type Http1ParserOptions,
  type Http1RequestHead,
  type Http1ResponseHead,
} from '../../src/common/http/http1-parser.js';
import { encodeLastChunk, encodeChunk, encodeResponseHead } from '../../src/common/http/http1-encoder.js';

// --------------------------------------------------------------------------------------------
// Event recording

type Event =
  | { e: 'begin' }
  | { e: 'head'; head: Http1Head }
  | { e: 'body'; data: string }
  | { e: 'complete'; trailers: string[] | undefined }
  | { e: 'error'; code: Http1ErrorCode; status: number; details: string };

interface RunOptions extends Http1ParserOptions {
  /** Response parser: request methods to expect, in order. */
  expect?: string[];
  /** Call finish() after the input. */
  finish?: boolean;
}

/** Error codes the tests below produced; the last test checks that every code was. */
const seenCodes = new Set<Http1ErrorCode>();

function record(events: Event[]) {
  return {
    onMessageBegin: () => void events.push({ e: 'begin' }),
    onHead: (head: Http1Head) => void events.push({ e: 'head', head }),
    onBody: (chunk: Buffer) => {
      // Adjacent body events are merged: how a body is sliced depends on how input was.
      const last = events[events.length - 1];
      if (last?.e === 'body') last.data += chunk.toString('latin1');
      else events.push({ e: 'body', data: chunk.toString('latin1') });
    },
    onMessageComplete: (trailers?: string[]) => void events.push({ e: 'complete', trailers }),
  };
}

function pushError(events: Event[], err: Http1ParseError): void {
  seenCodes.add(err.code);
  events.push({ e: 'error', code: err.code, status: err.status, details: err.details });
}

function run(kind: 'request' | 'response', chunks: readonly Buffer[], options: RunOptions = {}): Event[] {
  const events: Event[] = [];
  const cb = record(events);
  const parser = kind === 'request' ? Http1Parser.forRequests(cb, options) : Http1Parser.forResponses(cb, options);
  for (const m of options.expect ?? []) parser.expectResponse(m);
  for (const c of chunks) {
    const r = parser.execute(c);
    if (!r.ok) {
      pushError(events, r);
      return events;
    }
  }
  if (options.finish === true) {
    const r = parser.finish();
    if (!r.ok) pushError(events, r);
  }
  return events;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

function byteByByte(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i++) out.push(b.subarray(i, i + 1));
  return out;
}

/** Parses `input` whole, split at every byte boundary, and byte by byte: the events must agree. */
function parseEverySplit(kind: 'request' | 'response', input: string | Buffer, options: RunOptions = {}): Event[] {
  const b = typeof input === 'string' ? bytes(input) : input;
  const whole = run(kind, [b], options);
  for (let i = 1; i < b.length; i++) {
    assert.deepEqual(run(kind, [b.subarray(0, i), b.subarray(i)], options), whole, `split at byte ${i}`);
  }
  assert.deepEqual(run(kind, byteByByte(b), options), whole, 'byte by byte');
  return whole;
}

function heads(events: Event[]): Http1Head[] {
  return events.flatMap((ev) => (ev.e === 'head' ? [ev.head] : []));
}

function firstHead<H extends Http1Head>(events: Event[]): H {
  const h = heads(events)[0];
  assert.ok(h, 'a head was reported');
  return h as H;
}

function lastEvent(events: Event[]): Event {
  return events[events.length - 1]!;
}

function assertError(events: Event[], code: Http1ErrorCode, status?: number): void {
  const last = lastEvent(events);
  assert.equal(last.e, 'error', `expected ${code}, got ${JSON.stringify(events)}`);
  if (last.e !== 'error') return;
  assert.equal(last.code, code);
  if (status !== undefined) assert.equal(last.status, status);
}

// --------------------------------------------------------------------------------------------
// Requests

const GET =
  'GET /index.html?q=1 HTTP/1.1\r\n' +
  'Host: example.com\r\n' +
  'User-Agent: curl/8.0\r\n' +
  'Accept: */*\r\n' +
  'X-Custom-Header:   spaced value \t \r\n' +
  'X-Empty:\r\n' +
  '\r\n';

test('a GET: head fields, lower-cased names, trimmed values, same events at every split', () => {
  const events = parseEverySplit('request', GET);
  assert.deepEqual(events, [
    { e: 'begin' },
    {
      e: 'head',
      head: {
        method: 'GET',
        path: '/index.html?q=1',
        versionMinor: 1,
        headers: [
          'host',
          'example.com',
          'user-agent',
          'curl/8.0',
          'accept',
          '*/*',
          'x-custom-header',
          'spaced value',
          'x-empty',
          '',
        ],
        keepAlive: true,
        upgrade: false,
        expectContinue: false,
        bodyKind: 'none',
        contentLength: null,
      },
    },
    { e: 'complete', trailers: undefined },
  ]);
});

test('obs-text bytes in values survive as latin1; odd-case names are lower-cased', () => {
  const raw = Buffer.concat([bytes('GET / HTTP/1.1\r\nX-MiXeD-CaSe: caf'), Buffer.from([0xe9, 0xff]), bytes('\r\n\r\n')]);
  const head = firstHead<Http1RequestHead>(parseEverySplit('request', raw));
  assert.deepEqual(head.headers, ['x-mixed-case', 'caf\u00e9\u00ff']);
  assert.deepEqual(Buffer.from(head.headers[1]!, 'latin1'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xff]));
});

test('content-length body: split-invariant, and chunks are views of the input (zero copy)', () => {
  const msg = 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world';
  const events = parseEverySplit('request', msg);
  const head = firstHead<Http1RequestHead>(events);
  assert.equal(head.bodyKind, 'length');
  assert.equal(head.contentLength, 11);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'hello world' },
    { e: 'complete', trailers: undefined },
  ]);

  const input = bytes(msg);
  const chunks: Buffer[] = [];
  const parser = Http1Parser.forRequests({ onHead() {}, onBody: (c) => void chunks.push(c), onMessageComplete() {} });
  assert.equal(parser.execute(input).ok, true);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.buffer, input.buffer, 'same memory');
  assert.equal(chunks[0]!.byteOffset, input.byteOffset + input.length - 11);

  // A head split across reads is gathered in a scratch buffer; the body still is not copied.
  chunks.length = 0;
  // Unpooled copies, so that "same memory" cannot hold by accident of Buffer's shared pool.
  const first = Buffer.allocUnsafeSlow(20);
  input.copy(first, 0, 0, 20);
  const second = Buffer.allocUnsafeSlow(input.length - 20);
  input.copy(second, 0, 20);
  assert.equal(parser.execute(first).ok, true);
  assert.equal(parser.execute(second).ok, true);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.buffer, second.buffer);
  assert.equal(chunks[0]!.byteOffset, second.length - 11);
  assert.equal(chunks[0]!.toString(), 'hello world');
});

test('Content-Length: 0 is a body-less message', () => {
  const head = firstHead<Http1RequestHead>(run('request', [bytes('POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n')]));
  assert.equal(head.bodyKind, 'none');
  assert.equal(head.contentLength, 0);
});

test('repeated identical Content-Length values are refused, as Envoy refuses them (400 http1.codec_error)', () => {
  for (const fields of ['Content-Length: 3\r\nContent-Length: 3\r\n', 'Content-Length: 3, 3\r\n', 'Content-Length:3 ,3\r\n']) {
    for (const kind of ['request', 'response'] as const) {
      const head = kind === 'request' ? 'POST / HTTP/1.1\r\nHost: a\r\n' : 'HTTP/1.1 200 OK\r\n';
      const events = parseEverySplit(kind, `${head}${fields}\r\nabc`, { expect: ['POST'] });
      assertError(events, 'multiple_content_length', 400);
      assert.equal(heads(events).length, 0, `${kind} ${fields}: no head reported`);
      const last = lastEvent(events);
      assert.equal(last.e === 'error' && last.details, 'http1.codec_error');
    }
  }
});

const CHUNKED =
  'POST /chunks HTTP/1.1\r\n' +
  'Host: a\r\n' +
  'Transfer-Encoding: chunked\r\n' +
  'Trailer: x-checksum\r\n' +
  '\r\n' +
  '5;name=value\r\nhello\r\n' +
  '1 ; a ; b = c\r\n \r\n' +
  'A;q="quoted \\"string\\" ok";flag\r\n0123456789\r\n' +
  '00000003\r\nxyz\r\n' +
  '0;last=1\r\n' +
  'X-Checksum: abc123\r\n' +
  'X-Other:  v \r\n' +
  '\r\n';

test('chunked with extensions and trailers: split-invariant', () => {
  const events = parseEverySplit('request', CHUNKED);
  const head = firstHead<Http1RequestHead>(events);
  assert.equal(head.bodyKind, 'chunked');
  assert.equal(head.contentLength, null);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'hello 0123456789xyz' },
    { e: 'complete', trailers: ['x-checksum', 'abc123', 'x-other', 'v'] },
  ]);
});

test('chunked without trailers; Transfer-Encoding value is case-insensitive', () => {
  const events = parseEverySplit('request', 'PUT /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'abc' },
    { e: 'complete', trailers: undefined },
  ]);
});

test('pipelined requests in one buffer are reported in order, with empty lines between skipped', () => {
  const three =
    'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n' +
    'POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
    '\r\n' + // a stray CRLF after a body, as old clients send
    'PUT /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n';
  const events = parseEverySplit('request', three);
  assert.deepEqual(
    heads(events).map((h) => [(h as Http1RequestHead).method, (h as Http1RequestHead).path]),
    [
      ['GET', '/1'],
      ['POST', '/2'],
      ['PUT', '/3'],
    ],
  );
  assert.deepEqual(
    events.map((e) => e.e),
    ['begin', 'head', 'complete', 'begin', 'head', 'body', 'complete', 'begin', 'head', 'body', 'complete'],
  );
});

test('pause between pipelined messages holds the rest until resume (and execute meanwhile queues)', () => {
  const events: Event[] = [];
  const rec = record(events);
  const parser = Http1Parser.forRequests({
    ...rec,
    onMessageComplete: (t?: string[]) => {
      rec.onMessageComplete(t);
      parser.pause(); // a response is owed: stop until it is done
    },
  });
  const a = 'GET /1 HTTP/1.1\r\n\r\n';
  const b = 'POST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nok';
  const c = 'GET /3 HTTP/1.1\r\n\r\n';
  const first = bytes(a + b);
  assert.equal(parser.execute(first).ok, true);
  assert.equal(heads(events).length, 1);
  assert.equal(parser.paused, true);
  assert.equal(parser.bufferedBytes, b.length);

  assert.equal(parser.execute(bytes(c)).ok, true, 'queued while paused');
  assert.equal(heads(events).length, 1);
  assert.equal(parser.bufferedBytes, b.length + c.length);

  assert.equal(parser.resume().ok, true);
  assert.equal(heads(events).length, 2, 'resume parses exactly one more message, then the callback pauses again');
  assert.equal((heads(events)[1] as Http1RequestHead).path, '/2');
  assert.equal(parser.resume().ok, true);
  assert.equal(heads(events).length, 3);
  assert.equal((heads(events)[2] as Http1RequestHead).path, '/3');
  assert.equal(parser.bufferedBytes, 0);
  assert.deepEqual(
    events.filter((e) => e.e === 'body'),
    [{ e: 'body', data: 'ok' }],
  );
});

test('held input keeps body chunks zero-copy', () => {
  const chunks: Buffer[] = [];
  let pauseNext = true;
  const parser = Http1Parser.forRequests({
    onHead() {},
    onBody: (c) => void chunks.push(c),
    onMessageComplete() {
      if (pauseNext) parser.pause();
      pauseNext = false;
    },
  });
  const input = bytes('GET / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody');
  parser.execute(input);
  assert.equal(chunks.length, 0);
  parser.resume();
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.buffer, input.buffer);
});

test('resume() from inside a callback just continues', () => {
  let completes = 0;
  const parser = Http1Parser.forRequests({
    onHead() {},
    onBody() {},
    onMessageComplete() {
      completes++;
      parser.pause();
      parser.resume();
    },
  });
  assert.equal(parser.execute(bytes('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n')).ok, true);
  assert.equal(completes, 2);
});

test('execute() called from a callback queues its input after the current buffer', () => {
  const paths: string[] = [];
  let fed = false;
  const parser = Http1Parser.forRequests({
    onHead(h) {
      paths.push(h.path);
      if (!fed) {
        fed = true;
        parser.execute(bytes('GET /c HTTP/1.1\r\n\r\n'));
      }
    },
    onBody() {},
    onMessageComplete() {},
  });
  parser.execute(bytes('GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n'));
  assert.deepEqual(paths, ['/a', '/b', '/c']);
});

test('Expect: 100-continue on HTTP/1.1 (ignored for HTTP/1.0)', () => {
  const h11 = firstHead<Http1RequestHead>(
    run('request', [bytes('POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n')]),
  );
  assert.equal(h11.expectContinue, true);
  const h10 = firstHead<Http1RequestHead>(
    run('request', [bytes('POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n')]),
  );
  assert.equal(h10.expectContinue, false);
});

test('HTTP/1.0 without keep-alive closes: later bytes are not parsed', () => {
  const events = parseEverySplit('request', 'GET /a HTTP/1.0\r\nHost: a\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n');
  assert.equal(heads(events).length, 1);
  const head = firstHead<Http1RequestHead>(events);
  assert.equal(head.versionMinor, 0);
  assert.equal(head.keepAlive, false);
});

test('HTTP/1.0 with Connection: keep-alive stays open; HTTP/1.1 with Connection: close does not', () => {
  const ka = run('request', [bytes('GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n')]);
  assert.deepEqual(
    heads(ka).map((h) => h.keepAlive),
    [true, false],
  );
  const close = run('request', [bytes('GET /a HTTP/1.1\r\nConnection: foo, close\r\n\r\nGET /b HTTP/1.1\r\n\r\n')]);
  assert.deepEqual(
    heads(close).map((h) => h.keepAlive),
    [false],
  );
});

test('absolute-form, asterisk-form and authority-form targets', () => {
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes('GET http://a.b/c HTTP/1.1\r\n\r\n')])).path, 'http://a.b/c');
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes('OPTIONS * HTTP/1.1\r\n\r\n')])).path, '*');
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes('CONNECT a.b:443 HTTP/1.1\r\n\r\n')])).path, 'a.b:443');
});

test('custom methods are kept as sent', () => {
  const head = firstHead<Http1RequestHead>(run('request', [bytes('PROPFIND /dav HTTP/1.1\r\n\r\n')]));
  assert.equal(head.method, 'PROPFIND');
});

// --------------------------------------------------------------------------------------------
// Upgrade and CONNECT

test('WebSocket upgrade: the head, then every later byte raw until finish()', () => {
  const msg =
    'GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' +
    '\x81\x05hello GET /not-http HTTP/1.1\r\n\r\n';
  const events = parseEverySplit('request', msg, { finish: true });
  const head = firstHead<Http1RequestHead>(events);
  assert.equal(head.upgrade, true);
  assert.equal(head.bodyKind, 'tunnel');
  assert.equal(head.keepAlive, false);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: '\x81\x05hello GET /not-http HTTP/1.1\r\n\r\n' },
    { e: 'complete', trailers: undefined },
  ]);
});

test('Upgrade without "upgrade" in Connection, or Upgrade: h2c, is an ordinary request', () => {
  const a = firstHead<Http1RequestHead>(run('request', [bytes('GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n')]));
  assert.equal(a.upgrade, false);
  assert.equal(a.bodyKind, 'none');
  const b = firstHead<Http1RequestHead>(
    run('request', [bytes('GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\n')]),
  );
  assert.equal(b.upgrade, false);
});

test('An empty Upgrade with Connection: upgrade is an ordinary request, and the next request on the connection is parsed (found by fuzzing)', () => {
  const events = run('request', [
    bytes('GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade:\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n'),
  ]);
  const heads = events.filter((e) => e.e === 'head').map((e) => (e as unknown as { head: Http1RequestHead }).head);
  assert.deepEqual(heads.map((h) => [h.path, h.upgrade, h.bodyKind]), [
    ['/a', false, 'none'],
    ['/b', false, 'none'],
  ]);
});

test('CONNECT: tunnel after the head; with a body it is rejected as Envoy does', () => {
  const events = parseEverySplit('request', 'CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x00\x01raw', {
    finish: true,
  });
  const head = firstHead<Http1RequestHead>(events);
  assert.equal(head.bodyKind, 'tunnel');
  assert.equal(head.upgrade, true);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: '\x00\x01raw' },
    { e: 'complete', trailers: undefined },
  ]);
  const zero = run('request', [bytes('CONNECT db:5432 HTTP/1.1\r\nContent-Length: 0\r\n\r\n')]);
  assert.equal(firstHead<Http1RequestHead>(zero).bodyKind, 'tunnel');
  assertError(
    run('request', [bytes('CONNECT db:5432 HTTP/1.1\r\nContent-Length: 5\r\n\r\n')]),
    'content_length_not_allowed',
    400,
  );
  assertError(
    run('request', [bytes('CONNECT db:5432 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')]),
    'transfer_encoding_not_allowed',
    400,
  );
});

// --------------------------------------------------------------------------------------------
// Responses

test('response with content-length: split-invariant', () => {
  const events = parseEverySplit('response', 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello', {
    expect: ['GET'],
  });
  const head = firstHead<Http1ResponseHead>(events);
  assert.equal(head.statusCode, 200);
  assert.equal(head.reason, 'OK');
  assert.equal(head.bodyKind, 'length');
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'hello' },
    { e: 'complete', trailers: undefined },
  ]);
});

test('response status line without a reason, and with an empty one', () => {
  for (const line of ['HTTP/1.1 404\r\n', 'HTTP/1.1 404 \r\n']) {
    const head = firstHead<Http1ResponseHead>(run('response', [bytes(line + 'Content-Length: 0\r\n\r\n')]));
    assert.equal(head.statusCode, 404);
    assert.equal(head.reason, '');
  }
});

test('chunked response with trailers', () => {
  const events = parseEverySplit(
    'response',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\ngrpc-status: 0\r\n\r\n',
  );
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'abcd' },
    { e: 'complete', trailers: ['grpc-status', '0'] },
  ]);
});

test('response without framing is read until close', () => {
  const events = parseEverySplit('response', 'HTTP/1.1 200 OK\r\nServer: x\r\n\r\nall of this', { finish: true });
  const head = firstHead<Http1ResponseHead>(events);
  assert.equal(head.bodyKind, 'until-close');
  assert.equal(head.keepAlive, false);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'all of this' },
    { e: 'complete', trailers: undefined },
  ]);
});

test('HEAD response: content-length reported, no body read; the next response follows', () => {
  const events = parseEverySplit(
    'response',
    'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi',
    { expect: ['HEAD', 'GET'] },
  );
  const [h1, h2] = heads(events) as Http1ResponseHead[];
  assert.equal(h1!.bodyKind, 'none');
  assert.equal(h1!.contentLength, 1000);
  assert.equal(h2!.bodyKind, 'length');
  assert.deepEqual(
    events.map((e) => e.e),
    ['begin', 'head', 'complete', 'begin', 'head', 'body', 'complete'],
  );
});

test('204 and 304 have no body; 304 may carry the content-length of the resource', () => {
  const events = parseEverySplit(
    'response',
    'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: "x"\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n',
    { expect: ['DELETE', 'GET', 'GET'] },
  );
  assert.deepEqual(
    heads(events).map((h) => [(h as Http1ResponseHead).statusCode, h.bodyKind, h.contentLength]),
    [
      [204, 'none', null],
      [304, 'none', 99],
      [204, 'none', 0],
    ],
  );
  assert.equal(events.filter((e) => e.e === 'complete').length, 3);
});

test('204 with a body length or Transfer-Encoding is rejected, as Envoy does', () => {
  assertError(run('response', [bytes('HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc')]), 'content_length_not_allowed');
  assertError(
    run('response', [bytes('HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n')]),
    'transfer_encoding_not_allowed',
  );
  assertError(
    run('response', [bytes('HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n')]),
    'transfer_encoding_not_allowed',
  );
});

test('100 Continue then the final response, both for the same (HEAD) request', () => {
  const events = parseEverySplit(
    'response',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
    { expect: ['HEAD'] },
  );
  assert.deepEqual(
    heads(events).map((h) => [(h as Http1ResponseHead).statusCode, h.bodyKind]),
    [
      [100, 'none'],
      [103, 'none'],
      [200, 'none'],
    ],
  );
  assert.equal(events.filter((e) => e.e === 'complete').length, 3);
});

test('101 Switching Protocols: tunnel bytes after the head', () => {
  const events = parseEverySplit(
    'response',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi',
    { finish: true, expect: ['GET'] },
  );
  const head = firstHead<Http1ResponseHead>(events);
  assert.equal(head.upgrade, true);
  assert.equal(head.bodyKind, 'tunnel');
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: '\x81\x02hi' },
    { e: 'complete', trailers: undefined },
  ]);
});

test('2xx to CONNECT is a tunnel; a non-2xx is an ordinary response', () => {
  const ok = run('response', [bytes('HTTP/1.1 200 Connection Established\r\n\r\nraw bytes')], { expect: ['CONNECT'] });
  assert.equal(firstHead<Http1ResponseHead>(ok).bodyKind, 'tunnel');
  assert.deepEqual(ok.slice(2), [{ e: 'body', data: 'raw bytes' }]);
  const denied = run('response', [bytes('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno')], { expect: ['CONNECT'] });
  assert.equal(firstHead<Http1ResponseHead>(denied).bodyKind, 'length');
});

test('HTTP/1.0 response: keep-alive only when asked', () => {
  const a = firstHead<Http1ResponseHead>(run('response', [bytes('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]));
  assert.equal(a.versionMinor, 0);
  assert.equal(a.keepAlive, false);
  const b = firstHead<Http1ResponseHead>(
    run('response', [bytes('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')]),
  );
  assert.equal(b.keepAlive, true);
});

// --------------------------------------------------------------------------------------------
// Request smuggling defences and malformed input

interface BadCase {
  name: string;
  input: string;
  code: Http1ErrorCode;
  status?: number;
  kind?: 'request' | 'response';
  options?: RunOptions;
}

const BAD: BadCase[] = [
  // Transfer-Encoding / Content-Length (CL.TE, TE.CL, TE.TE)
  {
    name: 'Transfer-Encoding with Content-Length',
    input: 'POST / HTTP/1.1\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX',
    code: 'content_length_and_chunked',
    status: 400,
  },
  {
    name: 'Content-Length after Transfer-Encoding',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    code: 'content_length_and_chunked',
  },
  {
    name: 'Transfer-Encoding: gzip, chunked',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
    code: 'invalid_transfer_encoding',
    status: 501,
  },
  { name: 'Transfer-Encoding: identity', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n', code: 'invalid_transfer_encoding' },
  { name: 'Transfer-Encoding: xchunked', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n', code: 'invalid_transfer_encoding' },
  {
    name: 'Transfer-Encoding: chunked, chunked',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n',
    code: 'invalid_transfer_encoding',
  },
  {
    name: 'two Transfer-Encoding fields',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
    code: 'invalid_transfer_encoding',
  },
  {
    name: 'Transfer-Encoding in HTTP/1.0',
    input: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n',
    code: 'invalid_transfer_encoding',
    status: 400,
  },
  {
    name: 'response Transfer-Encoding with Content-Length',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n',
    code: 'content_length_and_chunked',
    kind: 'response',
  },
  {
    name: 'different Content-Length fields',
    input: 'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
    code: 'conflicting_content_length',
  },
  { name: 'different Content-Length list', input: 'POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n', code: 'conflicting_content_length' },
  { name: 'Content-Length +5', input: 'POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n', code: 'invalid_content_length' },
  { name: 'Content-Length -1', input: 'POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n', code: 'invalid_content_length' },
  { name: 'Content-Length 5a', input: 'POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\n', code: 'invalid_content_length' },
  { name: 'Content-Length 0x10', input: 'POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n', code: 'invalid_content_length' },
  { name: 'Content-Length "5 5"', input: 'POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n', code: 'invalid_content_length' },
  { name: 'empty Content-Length', input: 'POST / HTTP/1.1\r\nContent-Length:\r\n\r\n', code: 'invalid_content_length' },
  { name: 'Content-Length "5,"', input: 'POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n', code: 'invalid_content_length' },
  {
    name: 'Content-Length beyond 2^53',
    input: 'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n',
    code: 'invalid_content_length',
  },
  // Chunk framing
  { name: 'chunk size not hex', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n', code: 'invalid_chunk_size' },
  { name: 'empty chunk size', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n', code: 'invalid_chunk_size' },
  { name: 'negative chunk size', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n', code: 'invalid_chunk_size' },
  { name: 'chunk size 0x prefix', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n', code: 'invalid_chunk_size' },
  {
    name: 'whitespace after chunk size without extension',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n',
    code: 'invalid_chunk_size',
  },
  {
    name: 'chunk size overflow',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n',
    code: 'invalid_chunk_size',
  },
  {
    name: 'bare LF after chunk size',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n',
    code: 'invalid_chunk_size',
  },
  {
    name: 'CR without LF after chunk size',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\rXhello\r\n',
    code: 'invalid_line_ending',
  },
  { name: 'empty chunk extension', input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\n', code: 'invalid_chunk_extension' },
  {
    name: 'chunk extension without value',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\r\n',
    code: 'invalid_chunk_extension',
  },
  {
    name: 'chunk extension junk after name',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\n',
    code: 'invalid_chunk_extension',
  },
  {
    name: 'chunk extension with a control byte',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\x01\r\n',
    code: 'invalid_chunk_extension',
  },
  {
    name: 'unterminated quoted chunk extension',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a="abc\r\nhello\r\n',
    code: 'invalid_chunk_extension',
  },
  {
    name: 'bare LF inside a chunk extension',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\nhello\r\n',
    code: 'invalid_chunk_extension',
  },
  {
    name: 'chunk data longer than its size',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n',
    code: 'invalid_chunk_terminator',
  },
  {
    name: 'chunk data followed by bare LF',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n',
    code: 'invalid_chunk_terminator',
  },
  {
    name: 'chunk line too long',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;' + 'a'.repeat(100) + '\r\nhello\r\n',
    code: 'chunk_line_too_long',
    options: { maxChunkLineBytes: 64 },
  },
  // Field syntax
  { name: 'space before colon', input: 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', code: 'whitespace_before_colon' },
  { name: 'tab before colon', input: 'GET / HTTP/1.1\r\nContent-Length\t: 0\r\n\r\n', code: 'whitespace_before_colon' },
  { name: 'obs-fold', input: 'GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n', code: 'obs_fold' },
  { name: 'obs-fold with tab', input: 'GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n', code: 'obs_fold' },
  { name: 'whitespace before the first field', input: 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', code: 'obs_fold' },
  { name: 'empty field name', input: 'GET / HTTP/1.1\r\n: a\r\n\r\n', code: 'invalid_header_name' },
  { name: 'non-token byte in a name', input: 'GET / HTTP/1.1\r\nX(A): a\r\n\r\n', code: 'invalid_header_name' },
  { name: 'non-ASCII byte in a name', input: 'GET / HTTP/1.1\r\nX\xe9: a\r\n\r\n', code: 'invalid_header_name' },
  { name: 'field line without colon', input: 'GET / HTTP/1.1\r\nNoColon\r\n\r\n', code: 'invalid_header_name' },
  { name: 'NUL in a value', input: 'GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n', code: 'invalid_header_value' },
  { name: 'CTL in a value', input: 'GET / HTTP/1.1\r\nX-A: a\x1bb\r\n\r\n', code: 'invalid_header_value' },
  { name: 'DEL in a value', input: 'GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n', code: 'invalid_header_value' },
  { name: 'CTL starting a value', input: 'GET / HTTP/1.1\r\nX-A: \x01\r\n\r\n', code: 'invalid_header_value' },
  { name: 'bare CR in a value', input: 'GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n', code: 'invalid_line_ending' },
  { name: 'bare LF in a value', input: 'GET / HTTP/1.1\r\nX-A: a\nb\r\n\r\n', code: 'invalid_line_ending' },
  { name: 'bare LF line endings', input: 'GET / HTTP/1.1\nHost: a\n\n', code: 'invalid_line_ending' },
  { name: 'bare LF ending the head', input: 'GET / HTTP/1.1\r\nHost: a\r\n\n', code: 'invalid_line_ending' },
  { name: 'CR without LF ending the head', input: 'GET / HTTP/1.1\r\nHost: a\r\n\rX', code: 'invalid_line_ending' },
  { name: 'bare LF before the start line', input: '\nGET / HTTP/1.1\r\n\r\n', code: 'invalid_line_ending' },
  { name: 'TLS on a plaintext port', input: '\x16\x03\x01\x02\x00\x01', code: 'invalid_method' },
  { name: 'CR without LF before the start line', input: '\rGET / HTTP/1.1\r\n\r\n', code: 'invalid_line_ending' },
  // Request line
  { name: 'non-token byte in the method', input: 'G(T / HTTP/1.1\r\n\r\n', code: 'invalid_method' },
  { name: 'NUL in the method', input: 'G\x00T / HTTP/1.1\r\n\r\n', code: 'invalid_method' },
  { name: 'empty method', input: ' / HTTP/1.1\r\n\r\n', code: 'invalid_method' },
  { name: 'double space before the target', input: 'GET  / HTTP/1.1\r\n\r\n', code: 'invalid_url' },
  { name: 'control byte in the target', input: 'GET /a\x01b HTTP/1.1\r\n\r\n', code: 'invalid_url' },
  { name: 'DEL in the target', input: 'GET /a\x7f HTTP/1.1\r\n\r\n', code: 'invalid_url' },
  { name: 'relative target', input: 'GET index.html HTTP/1.1\r\n\r\n', code: 'invalid_url' },
  { name: 'origin-form CONNECT', input: 'CONNECT /x HTTP/1.1\r\n\r\n', code: 'invalid_url' },
  { name: 'HTTP/0.9 request line', input: 'GET /\r\n\r\n', code: 'invalid_version' },
  { name: 'lower-case version', input: 'GET / http/1.1\r\n\r\n', code: 'invalid_version' },
  { name: 'long version', input: 'GET / HTTP/1.10\r\n\r\n', code: 'invalid_version' },
  { name: 'extra token after version', input: 'GET / HTTP/1.1 x\r\n\r\n', code: 'invalid_version' },
  { name: 'obs-text in the target', input: 'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', code: 'invalid_target_character', status: 400 },
  { name: 'obs-text in the query', input: 'GET /?q=\x80 HTTP/1.1\r\nHost: a\r\n\r\n', code: 'invalid_target_character' },
  { name: 'an unknown method', input: 'FOO / HTTP/1.1\r\nHost: a\r\n\r\n', code: 'unknown_method', status: 400 },
  { name: 'a lower-case method', input: 'get / HTTP/1.1\r\nHost: a\r\n\r\n', code: 'unknown_method' },
  { name: 'the HTTP/2 preface', input: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', code: 'unknown_method' },
  { name: 'a method with odd characters', input: 'G@T / HTTP/1.1\r\nHost: a\r\n\r\n', code: 'invalid_method' },
  { name: "a token method with odd characters, custom methods allowed", input: 'GE{T / HTTP/1.1\r\n\r\n', code: 'invalid_method', options: { allowCustomMethods: true } },
  // Fields with request semantics
  { name: 'two Host fields', input: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', code: 'multiple_host', status: 400 },
  { name: 'two equal Host fields', input: 'GET / HTTP/1.1\r\nhost: a\r\nHOST: a\r\n\r\n', code: 'multiple_host' },
  { name: 'Connection with ten tokens', input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: a,b,c,d,e,f,g,h,i,j\r\n\r\n', code: 'connection_header_rejected', status: 400 },
  { name: 'Connection nominating x-forwarded-for', input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Forwarded-For\r\n\r\n', code: 'connection_header_rejected' },
  { name: 'Connection nominating a pseudo-header', input: 'GET / HTTP/1.1\r\nHost: a\r\nConnection: :authority\r\n\r\n', code: 'connection_header_rejected' },
  // Status line
  { name: 'two-digit status', input: 'HTTP/1.1 20 OK\r\n\r\n', code: 'invalid_status', kind: 'response' },
  { name: 'four-digit status', input: 'HTTP/1.1 2000 OK\r\n\r\n', code: 'invalid_status', kind: 'response' },
  { name: 'status below 100', input: 'HTTP/1.1 099 Low\r\n\r\n', code: 'invalid_status', kind: 'response' },
  { name: 'CTL in the reason', input: 'HTTP/1.1 200 O\x01K\r\n\r\n', code: 'invalid_status', kind: 'response' },
  { name: 'no status code', input: 'HTTP/1.1\r\n\r\n', code: 'invalid_status', kind: 'response' },
  { name: 'not HTTP', input: 'SSH-2.0-OpenSSH\r\n\r\n', code: 'invalid_version', kind: 'response' },
  { name: 'bare LF after the status line', input: 'HTTP/1.1 200 OK\n\r\n', code: 'invalid_line_ending', kind: 'response' },
  // Trailers
  {
    name: 'obs-fold in trailers',
    input: 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: a\r\n b\r\n\r\n',
    code: 'obs_fold',
  },
];

for (const c of BAD) {
  test(`rejects ${c.name} → ${c.code}, at every split`, () => {
    const events = parseEverySplit(c.kind ?? 'request', c.input, c.options);
    assertError(events, c.code, c.status);
    // A bad head never reaches the application; errors in a chunked body come after its head.
    const inBody = c.input.includes('chunked\r\n\r\n') && !c.code.includes('transfer_encoding') && c.code !== 'content_length_and_chunked';
    assert.equal(heads(events).length, inBody ? 1 : 0);
  });
}

test('errors are sticky: later input is ignored and returns the same error', () => {
  const events: Event[] = [];
  const parser = Http1Parser.forRequests(record(events));
  const first = parser.execute(bytes('GET / HTTP/1.1\r\nHost : a\r\n\r\n'));
  assert.equal(first.ok, false);
  const again = parser.execute(bytes('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(again, first);
  assert.equal(parser.state, 'error');
  assert.equal(heads(events).length, 0);
  assert.equal(parser.finish(), first);
});

test('every error carries Envoy response code details and a status', () => {
  for (const code of HTTP1_ERROR_CODES) {
    const e = new Http1ParseError(code, 'x');
    // http1.* codec details; a refused Host is Envoy's shared http.invalid_authority.
    assert.match(e.details, /^http1?\.[a-z_]+$/, code);
    assert.ok(e.status >= 400 && e.status < 600, code);
  }
  const e = new Http1ParseError('content_length_and_chunked', 'x');
  assert.equal(e.details, 'http1.content_length_and_chunked_not_allowed');
  assert.equal(new Http1ParseError('invalid_transfer_encoding', 'x').details, 'http1.invalid_transfer_encoding');
  assert.equal(new Http1ParseError('headers_too_large', 'x').status, 431);
  assert.equal(new Http1ParseError('multiple_host', 'x').details, 'http.invalid_authority');
  assert.equal(new Http1ParseError('connection_header_rejected', 'x').details, 'http1.connection_header_rejected');
});

// --------------------------------------------------------------------------------------------
// Limits

test('head larger than 60 KiB by default → headers_too_large (431), also when trickled', () => {
  const big = 'GET / HTTP/1.1\r\nX-Big: ' + 'a'.repeat(61 * 1024) + '\r\n\r\n';
  assertError(run('request', [bytes(big)]), 'headers_too_large', 431);

  // Trickled one byte at a time, the error comes as soon as the limit is crossed.
  const events: Event[] = [];
  const parser = Http1Parser.forRequests(record(events));
  const b = bytes(big);
  let failedAt = -1;
  for (let i = 0; i < b.length; i++) {
    const r = parser.execute(b.subarray(i, i + 1));
    if (!r.ok) {
      seenCodes.add(r.code);
      failedAt = i;
      break;
    }
  }
  assert.equal(failedAt, 60 * 1024, 'fails on the first byte beyond the limit');

  // Exactly at the limit is fine.
  const prefix = 'GET / HTTP/1.1\r\nX-Big: ';
  const exact = prefix + 'a'.repeat(60 * 1024 - prefix.length - 4) + '\r\n\r\n';
  assert.equal(exact.length, 60 * 1024);
  assert.equal(heads(run('request', [bytes(exact)])).length, 1);
});

test('maxHeaderBytes is configurable and applies to trailers too', () => {
  assertError(run('request', [bytes('GET / HTTP/1.1\r\nX-A: ' + 'b'.repeat(100) + '\r\n\r\n')], { maxHeaderBytes: 64 }), 'headers_too_large');
  const trailers = 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ' + 'c'.repeat(100) + '\r\n\r\n';
  assertError(run('request', [bytes(trailers)], { maxHeaderBytes: 80 }), 'headers_too_large');
});

test('more than 100 fields → too_many_headers; 100 is fine', () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes(`GET / HTTP/1.1\r\n${fields(100)}\r\n`)])).headers.length, 200);
  assertError(run('request', [bytes(`GET / HTTP/1.1\r\n${fields(101)}\r\n`)]), 'too_many_headers', 431);
  assertError(run('request', [bytes(`GET / HTTP/1.1\r\n${fields(11)}\r\n`)], { maxHeaderCount: 10 }), 'too_many_headers');
});

test('request-target longer than maxUriBytes → uri_too_long (414)', () => {
  const path = (n: number) => '/' + 'p'.repeat(n - 1);
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes(`GET ${path(100)} HTTP/1.1\r\n\r\n`)], { maxUriBytes: 100 })).path.length, 100);
  const events = parseEverySplit('request', `GET ${path(101)} HTTP/1.1\r\n\r\n`, { maxUriBytes: 100 });
  assertError(events, 'uri_too_long', 414);
  // Reported before the rest of the line arrives.
  assertError(run('request', [bytes(`GET ${path(200)}`)], { maxUriBytes: 100 }), 'uri_too_long');
});

// --------------------------------------------------------------------------------------------
// End of input

test('finish(): between messages is clean, inside one is premature_eof', () => {
  assert.deepEqual(run('request', [bytes('GET / HTTP/1.1\r\n\r\n')], { finish: true }).at(-1), {
    e: 'complete',
    trailers: undefined,
  });
  assertError(run('request', [bytes('GET / HTTP/1.1\r\nHost')], { finish: true }), 'premature_eof');
  assertError(run('request', [bytes('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab')], { finish: true }), 'premature_eof');
  assertError(
    run('request', [bytes('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab')], { finish: true }),
    'premature_eof',
  );
  assertError(run('response', [bytes('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab')], { finish: true }), 'premature_eof');
});

test('finish() while paused takes effect on resume, after the held bytes', () => {
  const events: Event[] = [];
  const rec = record(events);
  const parser = Http1Parser.forResponses({
    ...rec,
    onHead: (h) => {
      rec.onHead(h);
      parser.pause();
    },
  });
  parser.execute(bytes('HTTP/1.1 200 OK\r\n\r\nbody'));
  assert.equal(parser.finish().ok, true);
  assert.deepEqual(
    events.map((e) => e.e),
    ['begin', 'head'],
  );
  assert.equal(parser.resume().ok, true);
  assert.deepEqual(events.slice(2), [
    { e: 'body', data: 'body' },
    { e: 'complete', trailers: undefined },
  ]);
  assert.equal(parser.state, 'closed');
});

test('idle is true only between messages', () => {
  const parser = Http1Parser.forRequests({ onHead() {}, onBody() {}, onMessageComplete() {} });
  assert.equal(parser.idle, true);
  parser.execute(bytes('GET / HT'));
  assert.equal(parser.idle, false);
  assert.equal(parser.bufferedBytes, 8);
  parser.execute(bytes('TP/1.1\r\n\r\n'));
  assert.equal(parser.idle, true);
  assert.equal(parser.bufferedBytes, 0);
});

test('isToken and isValidHeaderValue', () => {
  assert.equal(isToken('x-request-id'), true);
  assert.equal(isToken(''), false);
  assert.equal(isToken('a b'), false);
  assert.equal(isToken('a:b'), false);
  assert.equal(isValidHeaderValue('text/plain; charset=utf-8'), true);
  assert.equal(isValidHeaderValue('a\r\nInjected: 1'), false);
  assert.equal(isValidHeaderValue('\u0100'), false);
});

// --------------------------------------------------------------------------------------------
// Node's http as the peer

function listenRaw(onSocket: (s: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer(onSocket);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const portOf = (s: net.Server | http.Server): number => (s.address() as net.AddressInfo).port;

test('parses what a node:http client sends, and node:http accepts encoder replies', async () => {
  const seen: { head: Http1RequestHead; body: string; trailers: string[] | undefined }[] = [];
  const server = await listenRaw((socket) => {
    let body: Buffer[] = [];
    let current: Http1RequestHead | null = null;
    const parser = Http1Parser.forRequests({
      onHead(head) {
        current = head;
        body = [];
        if (head.expectContinue) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
      },
      onBody: (c) => void body.push(Buffer.from(c)),
      onMessageComplete(trailers) {
        const text = Buffer.concat(body).toString();
        seen.push({ head: current!, body: text, trailers });
        const reply = `echo:${current!.method}:${text}`;
        if (current!.method === 'HEAD') {
          socket.write(encodeResponseHead(200, ['content-length', '12345', 'x-head', '1']));
        } else if (current!.path === '/chunked') {
          socket.write(encodeResponseHead(200, ['transfer-encoding', 'chunked', 'trailer', 'x-sum']));
          socket.write(encodeChunk(Buffer.from(reply)));
          socket.write(encodeLastChunk(['x-sum', '42']));
        } else {
          socket.write(encodeResponseHead(201, ['content-length', String(Buffer.byteLength(reply)), 'x-reply', 'yes']));
          socket.write(reply);
        }
      },
    });
    socket.on('data', (d) => {
      const r = parser.execute(d);
      if (!r.ok) socket.destroy(new Error(r.toString()));
    });
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (options: http.RequestOptions, send?: (req: http.ClientRequest) => void) =>
    new Promise<{ res: http.IncomingMessage; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: portOf(server), agent, ...options }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ res, body }));
      });
      req.on('error', reject);
      if (send) send(req);
      else req.end();
    });
  try {
    const a = await request({ method: 'POST', path: '/a?x=1', headers: { 'X-Test': 'one', 'Content-Type': 'text/plain' } }, (req) =>
      req.end('hello'),
    );
    assert.equal(a.res.statusCode, 201);
    assert.equal(a.res.statusMessage, 'Created');
    assert.equal(a.res.headers['x-reply'], 'yes');
    assert.equal(a.body, 'echo:POST:hello');

    const b = await request({ method: 'PUT', path: '/chunked' }, (req) => {
      req.write('part1-');
      req.addTrailers({ 'X-Client-Trailer': 't' });
      req.end('part2');
    });
    assert.equal(b.body, 'echo:PUT:part1-part2');
    assert.equal(b.res.trailers['x-sum'], '42');

    const c = await request({ method: 'HEAD', path: '/h' });
    assert.equal(c.res.headers['content-length'], '12345');
    assert.equal(c.body, '');

    const d = await request({ method: 'POST', path: '/expect', headers: { Expect: '100-continue', 'Content-Length': '3' } }, (req) =>
      req.on('continue', () => req.end('abc')),
    );
    assert.equal(d.body, 'echo:POST:abc');

    assert.equal(seen.length, 4);
    const [sa, sb, sc, sd] = seen;
    assert.equal(sa!.head.path, '/a?x=1');
    assert.equal(sa!.head.bodyKind, 'length');
    assert.equal(sa!.head.keepAlive, true);
    assert.ok(sa!.head.headers.includes('x-test'));
    assert.equal(sb!.head.bodyKind, 'chunked');
    assert.deepEqual(sb!.trailers, ['x-client-trailer', 't']);
    assert.equal(sc!.head.method, 'HEAD');
    assert.equal(sd!.head.expectContinue, true);
    assert.equal(sd!.body, 'abc');
  } finally {
    agent.destroy();
    server.close();
  }
});

test('parses what a node:http server sends: pipelined keep-alive, chunked, trailers, HEAD, 204', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/chunked') {
      res.setHeader('Trailer', 'X-Done');
      res.write('one-');
      res.write('two');
      res.addTrailers({ 'X-Done': 'yes' });
      res.end();
    } else if (req.url === '/empty') {
      res.statusCode = 204;
      res.end();
    } else {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`${req.method} ${req.url}`);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const events: Event[] = [];
  const parser = Http1Parser.forResponses(record(events));
  const requests = [
    ['GET', '/plain'],
    ['GET', '/chunked'],
    ['HEAD', '/plain'],
    ['DELETE', '/empty'],
    ['GET', '/last'],
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(portOf(server), '127.0.0.1', () => {
        // All five pipelined in one write.
        let out = '';
        for (const [m, p] of requests) {
          parser.expectResponse(m!);
          out += `${m} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
        }
        socket.write(out);
      });
      socket.on('data', (d) => {
        const r = parser.execute(d);
        if (!r.ok) reject(new Error(r.toString()));
        if (events.filter((e) => e.e === 'complete').length === requests.length) {
          socket.end();
          resolve();
        }
      });
      socket.on('error', reject);
    });
    const hs = heads(events) as Http1ResponseHead[];
    assert.deepEqual(
      hs.map((h) => [h.statusCode, h.bodyKind]),
      [
        [200, 'length'],
        [200, 'chunked'],
        [200, 'none'],
        [204, 'none'],
        [200, 'length'],
      ],
    );
    assert.ok(hs[0]!.headers.includes('date'));
    const bodies = events.flatMap((e) => (e.e === 'body' ? [e.data] : []));
    assert.deepEqual(bodies, ['GET /plain', 'one-two', 'GET /last']);
    const completes = events.flatMap((e) => (e.e === 'complete' ? [e.trailers] : []));
    assert.deepEqual(completes[1], ['x-done', 'yes']);
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

// --------------------------------------------------------------------------------------------

test('every documented error code is produced by some test above', () => {
  const missing = HTTP1_ERROR_CODES.filter((c) => !seenCodes.has(c));
  assert.deepEqual(missing, []);
});

// --------------------------------------------------------------------------------------------
// Request semantics decided as Envoy's codec decides them (issue 9, points 10 and 11)

test('a version other than exactly HTTP/1.1 is handled as HTTP/1.0, as in Envoy (HTTP/1.2, HTTP/2.0)', () => {
  for (const v of ['HTTP/1.2', 'HTTP/2.0', 'HTTP/1.9']) {
    const head = firstHead<Http1RequestHead>(parseEverySplit('request', `GET / ${v}\r\nHost: a\r\n\r\n`));
    assert.equal(head.versionMinor, 0, v);
    assert.equal(head.keepAlive, false, `${v}: no persistence assumed`);
    const res = firstHead<Http1ResponseHead>(run('response', [bytes(`${v} 200 OK\r\nContent-Length: 0\r\n\r\n`)]));
    assert.equal(res.versionMinor, 0, `${v} response`);
  }
  assert.equal(firstHead<Http1RequestHead>(run('request', [bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n')])).versionMinor, 1);
});

test("methods on Envoy's list pass; any token passes with allowCustomMethods", () => {
  for (const m of ['PROPFIND', 'MKCOL', 'PURGE', 'MSEARCH', 'UNSUBSCRIBE', 'GET', 'DELETE']) {
    assert.equal(firstHead<Http1RequestHead>(run('request', [bytes(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`)])).method, m);
  }
  for (const m of ['FOO', 'get', "M'$!~"]) {
    const head = firstHead<Http1RequestHead>(run('request', [bytes(`${m} / HTTP/1.1\r\nHost: a\r\n\r\n`)], { allowCustomMethods: true }));
    assert.equal(head.method, m);
  }
});

test('fields a Connection header nominates are removed from requests and responses; framing fields stay', () => {
  const req = firstHead<Http1RequestHead>(
    parseEverySplit(
      'request',
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret,  x-other\r\nX-Secret: s\r\nX-Keep: k\r\nX-Other: o\r\nx-secret: t\r\n\r\n',
    ),
  );
  assert.deepEqual(req.headers, ['host', 'a', 'connection', 'keep-alive', 'x-keep', 'k']);
  assert.equal(req.keepAlive, true);
  // Nominating only fields: the Connection field goes too. Content-Length is never removed.
  const post = firstHead<Http1RequestHead>(
    run('request', [bytes('POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, X-A\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok')]),
  );
  assert.deepEqual(post.headers, ['host', 'a', 'connection', 'content-length', 'content-length', '2']);
  assert.equal(post.contentLength, 2);
  // An upgrade keeps its Upgrade field and token.
  const ws = firstHead<Http1RequestHead>(
    run('request', [bytes('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-A\r\nUpgrade: websocket\r\nX-A: 1\r\n\r\n')]),
  );
  assert.equal(ws.upgrade, true);
  assert.deepEqual(ws.headers, ['host', 'a', 'connection', 'upgrade', 'upgrade', 'websocket']);
  // Responses: stripped, never refused (even nominating x-forwarded-for).
  const res = firstHead<Http1ResponseHead>(
    run('response', [bytes('HTTP/1.1 200 OK\r\nConnection: X-Forwarded-For, x-r\r\nX-R: 1\r\nx-forwarded-for: f\r\nContent-Length: 0\r\n\r\n')]),
  );
  assert.deepEqual(res.headers, ['content-length', '0']);
  // Nine tokens are allowed.
  const nine = firstHead<Http1RequestHead>(run('request', [bytes('GET / HTTP/1.1\r\nHost: a\r\nConnection: a,b,c,d,e,f,g,h,i\r\nA: 1\r\nJ: 2\r\n\r\n')]));
  assert.deepEqual(nine.headers, ['host', 'a', 'j', '2']);
});
